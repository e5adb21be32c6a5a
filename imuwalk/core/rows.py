"""The stride row: the one place that defines what a detected stride looks like.

Every driver (batch, streaming, replay), every sink (JSON, HDF5, dashboard) and every
evaluation reads strides as a numpy structured array of :data:`STRIDE_DTYPE`.
Times are seconds on the input time base; rates rad/s; angles rad.
"""

from __future__ import annotations

import numpy as np

#: Fields of one stride of the instrumented leg. A stride runs from the final contact (lift-off)
#: that starts a swing to the initial contact (landing) that ends it, plus the stance before it.
STRIDE_FIELDS: list[tuple[str, str, str]] = [
    ("t_ic", "f8", "initial contact (landing that ends the swing), s"),
    ("t_fc", "f8", "final contact (lift-off that starts the swing), s"),
    ("t_emit", "f8", "timestamp of the input sample at which the streaming detector emitted the row, s"),
    ("t_mid_swing", "f8", "time of the peak sagittal angular rate of the swing, s"),
    ("t_prev_ic", "f8", "initial contact of the previous stride of this leg (NaN if none), s"),
    ("stride_time_s", "f8", "t_ic - t_prev_ic (NaN if no previous stride in this walking bout), s"),
    ("swing_time_s", "f8", "t_ic - t_fc, s"),
    ("stance_time_s", "f8", "t_fc - t_prev_ic (NaN if no previous stride in this bout), s"),
    ("peak_swing_rate", "f8", "absolute peak sagittal angular rate during the swing, rad/s"),
    ("swing_angle", "f8", "sagittal angle swept during the swing lobe, rad"),
    ("direction", "i1", "+1 forward, -1 backward, 0 unknown/other"),
    ("direction_confidence", "f8", "confidence of the direction, 0..1"),
    ("direction_cue", "f8", "mounting-free cue: skew(w) * skew(dw/dt) over the stride (>0 suggests backward)"),
    ("swing_sign", "i1", "sign of the swing lobe on the detector's tracked sagittal axis (+1 or -1)"),
    ("swing_axis_x", "f8", "unit rotation axis of the swing lobe, sensor frame, x component"),
    ("swing_axis_y", "f8", "unit rotation axis of the swing lobe, sensor frame, y component"),
    ("swing_axis_z", "f8", "unit rotation axis of the swing lobe, sensor frame, z component"),
    ("quality", "f8", "confidence that this is a real stride, 0..1"),
    ("stride_index", "i8", "running count of strides emitted by this detector, from 0"),
    ("flags", "u2", "bit field, see FLAG_* constants"),
]

STRIDE_DTYPE = np.dtype([(name, kind) for name, kind, _ in STRIDE_FIELDS])

#: First stride of a bout: no previous stride of this leg within ``max_stride_s`` (session start, a pause, or a
#: gap in the data), so its stride and stance times are NaN. The name is kept for compatibility.
FLAG_AFTER_GAP = 1
#: Direction was decided by the automatic mode (no mount given): forward = dominant swing sign.
FLAG_AUTO_DIRECTION = 2
#: Sensor was saturated during this stride.
FLAG_SATURATED = 4
#: NaN samples were skipped during this stride.
FLAG_NAN_SKIPPED = 8
#: The mounting-free cue disagrees with the direction given.
FLAG_CUE_DISAGREES = 16

FIELD_DOCS: dict[str, str] = {name: doc for name, _, doc in STRIDE_FIELDS}


def empty_rows(n: int = 0) -> np.ndarray:
    """Return a zero-filled stride array of length ``n``."""
    return np.zeros(n, dtype=STRIDE_DTYPE)


def rows_to_dicts(rows: np.ndarray) -> list[dict]:
    """Plain Python dicts (JSON-ready; NaN kept as float nan) of a stride array."""
    out = []
    for r in rows:
        d = {}
        for name in STRIDE_DTYPE.names:
            v = r[name]
            d[name] = int(v) if np.issubdtype(STRIDE_DTYPE[name], np.integer) else float(v)
        out.append(d)
    return out
