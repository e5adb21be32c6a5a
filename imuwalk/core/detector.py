"""Two drivers, one kernel: :class:`StepDetector` (streaming) and :func:`detect_steps` (batch).

Both call :func:`imuwalk.core.kernel.step_chunk` with the same parameters and state, so any chunking
of the input (one sample at a time, random sizes, all at once) gives bit-identical stride rows,
``t_emit`` included.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields

import numpy as np
from numba import njit

from imuwalk.core import kernel as K
from imuwalk.core.direction import DirectionDecider, Mount
from imuwalk.core.rows import empty_rows

PLACEMENTS = {"shank": "shank", "ankle": "shank", "foot": "foot"}

_F8 = np.dtype(np.float64)
_ND = np.ndarray
_STRIDES_1D = (8,)
_STRIDES_2D = (24, 8)
#: returned by update()/finish() when no row is finalized (a fresh empty structured array costs ~2 µs); it has
#: no element to change, so it stays writable like every non-empty result
_EMPTY = empty_rows(0)
#: StepDetector warns when this many first sample intervals of a stream all exceed gap_s (t not in seconds?)
UNITS_CHECK_INTERVALS = 20


#: IC anchors, in the kernel's order (P_IC_MODE)
IC_MODES = ("dip", "impact", "gyro_impact", "dip_peak")
#: parameters that may be negative (offsets and lags in s)
_SIGNED = ("ic_offset_s", "fc_offset_s", "ic_min_lag_s", "ic_min_lag_weak_s")
#: parameters that may be None (derived from others, see their comments)
_OPTIONAL = ("first_min_peak_rads", "first_min_angle_rad")


@dataclass(frozen=True)
class DetectorParams:
    """Detector parameters, in seconds and physical units (never samples).

    Defaults depend on the placement (:meth:`for_placement`); every field can be overridden.
    Checked on construction (:meth:`validate`): a bad value raises ValueError naming the field.
    Pass one to :class:`StepDetector` / :func:`detect_steps` as ``params=``. Every field with its meaning
    and both placements' defaults: docs/PARAMETERS.md (the comments below say the same).
    """

    gap_s: float = 0.3  # a pause in the samples longer than this resets the stride in progress
    axis_tau_s: float = 4.0  # time constant of the sagittal-axis tracker
    axis_gate_rads: float = 0.5  # the axis tracker learns only while |gyr| exceeds this
    axis_lowpass_hz: float = 3.0  # low-pass of the gyro fed to the axis tracker (0: off)
    hyst_rads: float = 0.2  # hysteresis of the lobe segmentation
    min_swing_angle_rad: float = 0.35  # a swing lobe sweeps at least this angle
    min_swing_peak_rads: float = 1.0  # ... and peaks at least this high
    pair_max_gap_s: float = 3.0  # the lobe a swing is compared with ends at most this earlier
    metric: str = "sharpness"  # "sharpness" (shank), "width" (foot) or "peak": what makes the swing lobe stand out
    first_min_width_s: float = 0.17  # foot: a bout's first swing lobe is at least this broad (area/peak)
    #: shank: a bout's first swing lobe (nothing to compare it with yet) peaks at least this high and sweeps
    #: at least this angle (None: 2 x min_swing_peak_rads and 1.5 x min_swing_angle_rad, 2.0 and 0.525 by
    #: default). Slow backward walking with short steps (0.3 m/s) swings the shank at 1.7–2.4 rad/s through
    #: 0.4 rad, so a bout starts a few strides late; 1.5 and 0.35 find those first strides but also start
    #: bouts on leg movements while standing (one on the ankle log: 2.4 rad/s, 0.52 rad)
    first_min_peak_rads: float | None = None
    first_min_angle_rad: float | None = None
    tentative_wait_s: float = 0.5  # a bout's first swing waits at most this long for a better one
    #: ... but not once the IC search is over and the opposite lobe after it peaks below this share of
    #: the swing's peak (a better swing would already rise higher; 0: always wait)
    tentative_peak_frac: float = 0.0
    #: a lobe opposite to the last swing that reaches this share of its metric is a swing in the other
    #: direction (forward <-> backward without a pause; 0: off)
    reverse_frac: float = 0.7
    #: a big lobe of the same sign as the last swing, with no big lobe between them (the stance rotation
    #: stayed below the swing thresholds: slow walking with short steps), is the next swing when its metric
    #: reaches this share of that swing's (0: off; then it must pass as the first swing of a new bout)
    continue_frac: float = 0.5
    #: a swing whose reference lobe ended longer ago than this (the leg paused in between) is tentative:
    #: after a pause the first lobe may be the lift-off before the real swing (0: off)
    pause_tentative_s: float = 0.5
    #: width metric (foot): a lobe lasting longer than this is scaled by long_lobe_s / duration (0: off)
    long_lobe_s: float = 0.0
    ic_search_s: float = 0.12  # the landing dip is searched this long after the swing lobe
    ic_weight: float = 0.5  # IC between swing end (0) and dip extremum (1)
    ic_offset_s: float = 0.0
    ic_min_lag_s: float = -1.0  # the IC is at least this long after the swing lobe ends (s; may be negative)
    #: a landing dip peaking below weak_dip_rads (0: off) puts the IC at least ic_min_lag_weak_s after the
    #: swing lobe ends
    weak_dip_rads: float = 0.0
    ic_min_lag_weak_s: float = 0.0
    fc_weight: float = 0.3  # FC between the pre-swing extremum (0) and the swing start (1)
    fc_search_s: float = 0.3
    fc_offset_s: float = 0.0
    min_stride_s: float = 0.4  # refractory time between two initial contacts
    min_stance_s: float = 0.12  # a swing starts at least this long after the previous swing ended
    max_stride_s: float = 2.5  # longer strides are not linked to the previous one
    max_swing_s: float = 0.8
    min_swing_s: float = 0.08
    saturation_rads: float = 0.0  # flag strides where |gyr| reaches this (0: off)
    #: where the IC is anchored after the swing (see IC_MODES): "dip" the first peak of the landing dip,
    #: "dip_peak" its highest peak in the search window, "impact" the |acc| peak, "gyro_impact" the |gyr| peak
    ic_mode: str = "dip"

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def for_placement(cls, placement: str, **overrides) -> DetectorParams:
        """Defaults for ``"shank"``/``"ankle"`` or ``"foot"``, with keyword overrides."""
        kind = _placement(placement)
        if kind == "foot":
            # IC 30 ms before the highest peak of the landing dip (the foot's plantarflexion after heel
            # strike): the one anchor whose lag to the reference IC agrees across mocap (gaitmap),
            # hand-checked IMU events (IPOL) and heel pressure (Marpino); the swing end alone differs by
            # up to 90 ms between them, the |gyr| impact peak is bimodal on noisy sensors
            # long_lobe_s: a foot that rolls through stance into push-off (no flat-foot rest) makes one
            # lobe of stance + push-off, broader by area/peak than the swing but twice as long
            # (never earlier than 10 ms after the swing lobe ends: an early, low dip peak is the foot
            # slowing down before it lands, not the plantarflexion after it)
            # pause_tentative_s 0.8: in slow walking the foot rests flat for more than 0.5 s every stance
            # a weak dip (< 4 rad/s) is a flat landing with no heel-first slap: the reference ICs spread
            # 0-90 ms after the swing end there, so the IC goes no earlier than the middle, 45 ms
            base = {"metric": "width", "ic_mode": "dip_peak", "ic_weight": 1.0, "ic_offset_s": -0.03,
                    "ic_min_lag_s": 0.01, "tentative_wait_s": 0.7, "long_lobe_s": 0.4,
                    "min_swing_angle_rad": 0.3, "weak_dip_rads": 4.0, "ic_min_lag_weak_s": 0.045,
                    "pause_tentative_s": 0.8}
        else:
            # FC: toe-off lies between the pre-swing minimum (Aminian's TO) and the swing start; on the
            # leg set's foot-pressure contacts 0.3 of the way is 24 ms late, 0.2 13 ms (median)
            base = {"metric": "sharpness", "ic_offset_s": 0.02, "tentative_peak_frac": 0.6, "fc_weight": 0.2}
        base.update(overrides)
        names = {f.name for f in fields(cls)}
        unknown = set(base) - names
        if unknown:
            raise ValueError(f"unknown detector parameter(s): {sorted(unknown)}; known: {sorted(names)}")
        return cls(**base)  # validated in __post_init__

    def validate(self) -> None:
        """Raise ValueError (naming the field) unless every value is usable."""
        if not isinstance(self.ic_mode, str) or self.ic_mode not in IC_MODES:
            raise ValueError(f"ic_mode: expected one of {', '.join(map(repr, IC_MODES))}, got {self.ic_mode!r}")
        if not isinstance(self.metric, str) or self.metric not in ("peak", "width", "sharpness"):
            raise ValueError(f"metric: expected 'peak', 'width' or 'sharpness', got {self.metric!r}")
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("metric", "ic_mode") or (v is None and f.name in _OPTIONAL):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"{f.name}: expected a number, got {v!r}")
            if not math.isfinite(v) or v < 0 and f.name not in _SIGNED:
                raise ValueError(f"{f.name}: expected a finite non-negative value, got {v!r}")
        for name in ("axis_tau_s", "gap_s", "min_swing_angle_rad", "min_swing_peak_rads", "hyst_rads"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)!r}")

    def first_min_peak(self) -> float:
        """Bout-start peak threshold in use (rad/s): ``first_min_peak_rads`` or 2 x ``min_swing_peak_rads``."""
        v = self.first_min_peak_rads
        return 2.0 * self.min_swing_peak_rads if v is None else float(v)

    def first_min_angle(self) -> float:
        """Bout-start angle threshold in use (rad): ``first_min_angle_rad`` or 1.5 x ``min_swing_angle_rad``."""
        v = self.first_min_angle_rad
        return 1.5 * self.min_swing_angle_rad if v is None else float(v)

    def to_vector(self) -> np.ndarray:
        P = np.zeros(K.N_PARAMS)
        P[K.P_GAP_S] = self.gap_s
        P[K.P_AXIS_TAU_S] = self.axis_tau_s
        P[K.P_AXIS_GATE] = self.axis_gate_rads
        P[K.P_AXIS_LP_HZ] = self.axis_lowpass_hz
        P[K.P_FIRST_MIN_WIDTH_S] = self.first_min_width_s
        P[K.P_FIRST_MIN_PEAK] = self.first_min_peak()
        P[K.P_FIRST_MIN_AREA] = self.first_min_angle()
        P[K.P_TENT_WAIT_S] = self.tentative_wait_s
        P[K.P_MIN_STANCE_S] = self.min_stance_s
        P[K.P_TENT_PEAK_FRAC] = self.tentative_peak_frac
        P[K.P_REVERSE_FRAC] = self.reverse_frac
        P[K.P_CONTINUE_FRAC] = self.continue_frac
        P[K.P_PAUSE_TENT_S] = self.pause_tentative_s
        P[K.P_LONG_LOBE_S] = self.long_lobe_s
        P[K.P_IC_MIN_LAG_S] = self.ic_min_lag_s
        P[K.P_WEAK_DIP] = self.weak_dip_rads
        P[K.P_IC_MIN_LAG_WEAK_S] = self.ic_min_lag_weak_s
        P[K.P_HYST] = self.hyst_rads
        P[K.P_MIN_AREA] = self.min_swing_angle_rad
        P[K.P_MIN_PEAK] = self.min_swing_peak_rads
        P[K.P_PAIR_MAX_GAP_S] = self.pair_max_gap_s
        P[K.P_METRIC] = {"peak": 0.0, "width": 1.0, "sharpness": 2.0}[self.metric]
        P[K.P_IC_SEARCH_S] = self.ic_search_s
        P[K.P_IC_WEIGHT] = self.ic_weight
        P[K.P_IC_OFFSET_S] = self.ic_offset_s
        P[K.P_FC_WEIGHT] = self.fc_weight
        P[K.P_FC_SEARCH_S] = self.fc_search_s
        P[K.P_FC_OFFSET_S] = self.fc_offset_s
        P[K.P_MIN_STRIDE_S] = self.min_stride_s
        P[K.P_MAX_STRIDE_S] = self.max_stride_s
        P[K.P_MAX_SWING_S] = self.max_swing_s
        P[K.P_MIN_SWING_S] = self.min_swing_s
        P[K.P_SAT_RATE] = self.saturation_rads
        P[K.P_IC_MODE] = float(IC_MODES.index(self.ic_mode))
        return P

    def to_dict(self) -> dict:
        return asdict(self)


def _resolve_params(params: object, overrides: dict) -> dict:
    """The keyword overrides a driver uses: ``overrides`` as given, or every field of a :class:`DetectorParams`
    passed as ``params`` (not both). Raises ValueError."""
    if params is None:
        return overrides
    if not isinstance(params, DetectorParams):
        raise ValueError(f"params: expected an imuwalk.DetectorParams (or None), got {type(params).__name__}; "
                         "give single parameters as keyword arguments instead (e.g. gap_s=0.5)")
    if overrides:
        raise ValueError(f"params: give either a DetectorParams object or keyword overrides, not both "
                         f"(got params= and {sorted(overrides)}); use dataclasses.replace(params, ...) to "
                         "change fields of a DetectorParams")
    return params.to_dict()


def _placement(placement: str) -> str:
    if not isinstance(placement, str) or placement.lower() not in PLACEMENTS:
        raise ValueError(f"placement: expected 'shank', 'ankle' or 'foot', got {placement!r}")
    return PLACEMENTS[placement.lower()]


def _is_ready(a: object, ndim: int) -> bool:
    return (type(a) is np.ndarray and a.dtype == np.float64 and a.ndim == ndim  # type: ignore[union-attr]
            and a.flags.c_contiguous and a.flags.behaved)  # type: ignore[union-attr]


def _behaved(a: np.ndarray) -> np.ndarray:
    """``a`` itself when writable and aligned, else a copy: a read-only array (``np.frombuffer`` of a packet)
    or an unaligned view is another type for the compiled kernel, which would compile once more on the first
    such call, after :func:`imuwalk.warm_up` and in the middle of a live stream."""
    return a if a.flags.behaved else np.array(a, dtype=np.float64, order="C")


def map_axes(x: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``x @ R.T`` for x (N, 3), R (3, 3), summed per element in one fixed order: a matrix product's rounding
    depends on N (BLAS takes another path for one row), which would break chunk invariance."""
    return x[:, 0:1] * R[:, 0] + x[:, 1:2] * R[:, 1] + x[:, 2:3] * R[:, 2]


def _as_array(a, name: str) -> np.ndarray:
    """``np.asarray(a)``; a ragged nested list is a ValueError naming the argument (numpy's names none)."""
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not a regular array ({exc})") from None


def _check_shapes(t, acc, gyr):
    """Validate shapes/dtypes and convert to contiguous float64 arrays. Raises ValueError."""
    if not (_is_ready(t, 1) and _is_ready(acc, 2) and _is_ready(gyr, 2)):
        t, acc, gyr = (_as_array(a, name) for a, name in ((t, "t"), (acc, "acc"), (gyr, "gyr")))
        for name, a in (("t", t), ("acc", acc), ("gyr", gyr)):
            if a.dtype.kind not in "fiu":
                raise ValueError(f"{name}: expected a numeric array, got dtype {a.dtype}")
        if t.ndim != 1:
            raise ValueError(f"t: expected shape (N,), got {t.shape}")
        t = _behaved(np.ascontiguousarray(t, dtype=np.float64))
        acc = _behaved(np.ascontiguousarray(acc, dtype=np.float64))
        gyr = _behaved(np.ascontiguousarray(gyr, dtype=np.float64))
    n = t.shape[0]
    for name, a in (("acc", acc), ("gyr", gyr)):
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"{name}: expected shape (N, 3), got {a.shape}")
        if a.shape[0] != n:
            raise ValueError(f"{name}: has {a.shape[0]} rows but t has {n} samples")
    return t, acc, gyr


def _check_time(t: np.ndarray, t_last: float) -> None:
    """Raise ValueError unless t is finite and strictly increasing (and after ``t_last``)."""
    k = int(K.check_time(t, t_last))
    if k < 0:
        return
    if not np.isfinite(t[k]):
        raise ValueError(f"t: contains a NaN or inf timestamp at index {k}")
    if k == 0:
        raise ValueError(f"t: timestamps must keep increasing across calls; got {float(t[0])!r} after "
                         f"{float(t_last)!r}")
    kind = "duplicate" if t[k] == t[k - 1] else "decreasing"
    raise ValueError(f"t: timestamps must be strictly increasing; {kind} at index {k} "
                     f"({float(t[k - 1])!r} -> {float(t[k])!r})")


def _check_inputs(t, acc, gyr):
    """Validate and convert inputs; returns contiguous float64 arrays. Raises ValueError."""
    t, acc, gyr = _check_shapes(t, acc, gyr)
    _check_time(t, -np.inf)
    return t, acc, gyr


def _rows_from_buffer(buf: np.ndarray, n: int) -> np.ndarray:
    rows = empty_rows(n)
    if n:
        _fill_rows(buf, n, rows)
    return rows


@njit(cache=True, nogil=True)
def _fill_rows(buf, n, rows):  # pragma: no cover - compiled; one call instead of 19 field copies
    """Copy the kernel's output rows ``buf[:n]`` (float64, kernel.O_* columns) into ``rows`` (STRIDE_DTYPE)."""
    for i in range(n):
        r = rows[i]
        b = buf[i]
        r.t_ic = b[K.O_T_IC]
        r.t_fc = b[K.O_T_FC]
        r.t_emit = b[K.O_T_EMIT]
        r.t_mid_swing = b[K.O_T_MID]
        r.t_prev_ic = b[K.O_T_PREV_IC]
        r.stride_time_s = b[K.O_STRIDE_T]
        r.swing_time_s = b[K.O_SWING_T]
        r.stance_time_s = b[K.O_STANCE_T]
        r.peak_swing_rate = b[K.O_PEAK]
        r.swing_angle = b[K.O_AREA]
        r.direction_cue = b[K.O_CUE]
        r.swing_sign = np.int8(b[K.O_SWING_SG])
        r.quality = b[K.O_QUALITY]
        r.stride_index = np.int64(b[K.O_INDEX])
        r.flags = np.uint16(b[K.O_FLAGS])
        r.swing_axis_x = b[K.O_AX]
        r.swing_axis_y = b[K.O_AX + 1]
        r.swing_axis_z = b[K.O_AX + 2]


class StepDetector:
    """Streaming stride detector.

    placement: ``"shank"`` (alias ``"ankle"``) or ``"foot"``. mount: a :class:`Mount` fixing which
    way is forward, or None for the automatic mode. axis_map: optional 3x3 matrix or ``"-y,x,z"``
    applied to acc and gyr before detection (never required: the sagittal axis is found by itself).
    params: a complete :class:`DetectorParams` (keyword only), or else keyword overrides of the
    placement's defaults (``gap_s=0.5``, ...), not both.

    ``update(t, acc, gyr)`` returns the rows finalized during the call; ``finish()`` the rest.
    All rows so far are in ``events_``; counters in ``n_samples_``, ``n_nan_skipped_``, ``n_gaps_``.
    """

    def __init__(self, placement: str = "shank", mount: Mount | None = None, axis_map=None, *,
                 params: DetectorParams | None = None, **overrides):
        self.placement = placement
        self.mount = mount
        self.axis_map = axis_map
        self.params = _resolve_params(params, overrides)  # keyword overrides of for_placement()
        self.reset()

    def __repr__(self) -> str:
        vec = getattr(self.mount, "right_vec", None)
        mount = "auto" if self.mount is None else repr(self.mount) if vec is None else str(vec.round(3).tolist())
        n_strides = sum(int(c.shape[0]) for c in getattr(self, "_chunks", ()))
        state = ", finished" if getattr(self, "finished_", False) else ""
        return (f"StepDetector(placement={self.placement!r}, mount={mount}, "
                f"n_samples={getattr(self, 'n_samples_', 0)}, n_strides={n_strides}, "
                f"n_nan_skipped={getattr(self, 'n_nan_skipped_', 0)}{state})")

    def reset(self) -> StepDetector:
        """Forget everything (state, rows, counters)."""
        self.params_ = DetectorParams.for_placement(self.placement, **self.params)
        self._P = self.params_.to_vector()
        self._S = K.init_state()
        self._buf = np.empty((64, K.N_OUT))
        self._R = None
        if self.axis_map is not None:
            from imuwalk.units import axis_map_matrix

            self._R = axis_map_matrix(self.axis_map)
        if self.mount is not None and not isinstance(self.mount, Mount):
            raise ValueError(f"mount: expected an imuwalk.Mount or None, got {type(self.mount).__name__}")
        self._dir = DirectionDecider(self.mount)
        self._chunks: list[np.ndarray] = []
        self._events_cache: np.ndarray | None = empty_rows(0)
        self._t_last = -np.inf
        self.n_samples_ = 0
        self.n_nan_skipped_ = 0
        self.finished_ = False
        self._n_dt_seen = 0  # first sample intervals looked at by _check_stream_units
        self._n_dt_long = 0
        return self

    # -- public -----------------------------------------------------------------------------------
    def update(self, t, acc, gyr) -> np.ndarray:
        """Feed samples: t (N,) s, acc (N, 3) m/s², gyr (N, 3) rad/s. Returns rows finalized now."""
        if self.finished_:
            raise ValueError("update: the detector was finished; call reset() to start a new stream")
        # fast path (a few hundred ns): native float64, C-contiguous (strides say so), right shapes;
        # anything else goes through the full check, which converts or raises a clear error
        if not (type(t) is _ND and type(acc) is _ND and type(gyr) is _ND
                and t.dtype is _F8 and acc.dtype is _F8 and gyr.dtype is _F8
                and t.strides == _STRIDES_1D and acc.strides == _STRIDES_2D and gyr.strides == _STRIDES_2D
                and acc.shape == gyr.shape == (t.shape[0], 3)
                and t.flags.behaved and acc.flags.behaved and gyr.flags.behaved):
            t, acc, gyr = _check_shapes(t, acc, gyr)
        n = t.shape[0]
        if n == 0:
            return _EMPTY
        if self._R is not None:
            acc = map_axes(acc, self._R)
            gyr = map_axes(gyr, self._R)
        if n // 2 + 3 > self._buf.shape[0]:
            self._buf = np.empty((self._rows_bound(t), K.N_OUT))
        n_out, n_nan, done, bad = K.step_chunk(t, acc, gyr, self._P, self._S, self._buf, self._t_last)
        if bad >= 0:
            _check_time(t, self._t_last)  # raises the clear error
        self.n_nan_skipped_ += n_nan
        rows = self._finalize_rows(n_out)
        if done < n:
            parts = [rows]
            start = done
            while start < n:  # the buffer was full: keep the rows, grow, continue
                self._buf = np.empty((2 * self._buf.shape[0], K.N_OUT))
                n_out, n_nan, done, _ = K.step_chunk(t[start:], acc[start:], gyr[start:], self._P, self._S,
                                                     self._buf, -np.inf)
                self.n_nan_skipped_ += n_nan
                parts.append(self._finalize_rows(n_out))
                start += done
            rows = np.concatenate(parts)
        if self._n_dt_seen < UNITS_CHECK_INTERVALS:
            self._check_stream_units(t)
        self._t_last = t.item(-1)
        self.n_samples_ += n
        return rows

    def finish(self) -> np.ndarray:
        """End of stream: rows that can still be finalized (the stride whose landing was seen)."""
        if self.finished_:
            return _EMPTY
        self.finished_ = True
        t_now = self._t_last if np.isfinite(self._t_last) else 0.0
        n_out = K.flush_pending(self._S, self._P, t_now, self._buf)
        return self._finalize_rows(n_out)

    @property
    def events_(self) -> np.ndarray:
        """All rows emitted so far (STRIDE_DTYPE)."""
        if self._events_cache is None:
            self._events_cache = np.concatenate(self._chunks) if self._chunks else empty_rows(0)
        return self._events_cache

    @property
    def n_gaps_(self) -> int:
        return int(self._S[K.S_GAPS_TOTAL])

    @property
    def axis_(self) -> np.ndarray:
        """Current sagittal axis estimate (unit vector, sensor frame, arbitrary sign)."""
        return self._S[K.S_E:K.S_E + 3].copy()

    @property
    def auto_direction_(self) -> bool:
        """True when forward was assumed from the dominant swing axis (no mount given)."""
        return self._dir.auto_

    @property
    def forward_axis_(self) -> np.ndarray | None:
        """The swing axis taken as forward (sensor frame), or None before any confident stride."""
        r = self._dir.reference_
        return None if r is None else r.copy()

    # -- internals --------------------------------------------------------------------------------
    def _check_stream_units(self, t: np.ndarray) -> None:
        """Warn once when the first UNITS_CHECK_INTERVALS sample intervals of the stream all exceed gap_s: every
        sample then resets the stride in progress and no stride can ever come out (t in ms or µs, most likely;
        detect_steps refuses such a recording outright, a live stream is warned about)."""
        k = UNITS_CHECK_INTERVALS
        head = np.r_[self._t_last, t[:k]] if np.isfinite(self._t_last) else t[: k + 1]
        dt = np.diff(head)[: UNITS_CHECK_INTERVALS - self._n_dt_seen]
        dt = dt[np.isfinite(dt)]
        self._n_dt_seen += dt.shape[0]
        self._n_dt_long += int(np.count_nonzero(dt > self.params_.gap_s))
        if self._n_dt_seen >= UNITS_CHECK_INTERVALS and self._n_dt_long == self._n_dt_seen:
            warnings.warn(f"StepDetector.update: the first {self._n_dt_seen} sample intervals all exceed gap_s "
                          f"({self.params_.gap_s:g} s), so every sample starts over and no stride can be found; "
                          "is t in seconds (not ms or µs)?", RuntimeWarning, stacklevel=3)

    def _rows_bound(self, t: np.ndarray) -> int:
        """Most rows one call over ``t`` can emit: initial contacts are min_stride_s apart."""
        n = t.shape[0]
        ms = self.params_.min_stride_s
        if ms <= 0.0:
            return n // 2 + 3
        return max(64, min(n // 2 + 3, int((float(t[-1]) - float(t[0])) / ms) + 4))

    def _finalize_rows(self, n_out: int) -> np.ndarray:
        if n_out == 0:
            return _EMPTY
        rows = _rows_from_buffer(self._buf, int(n_out))
        if rows.shape[0]:
            self._dir.apply(rows)
            self._chunks.append(rows)
            self._events_cache = None
        return rows


@dataclass
class DetectionResult:
    """Result of :func:`detect_steps`.

    events: STRIDE_DTYPE rows. auto_direction: forward was assumed (no mount). forward_axis: the
    forward swing axis used (sensor frame). n_nan_skipped, n_gaps: input problems handled.
    """

    events: np.ndarray
    placement: str
    params: DetectorParams
    auto_direction: bool
    forward_axis: np.ndarray | None
    n_samples: int
    n_nan_skipped: int
    n_gaps: int

    def __len__(self) -> int:
        return int(self.events.shape[0])

    def __repr__(self) -> str:
        fwd = "None" if self.forward_axis is None else str(np.round(self.forward_axis, 3).tolist())
        return (f"DetectionResult(placement={self.placement!r}, n_strides={len(self)}, n_samples={self.n_samples}, "
                f"n_nan_skipped={self.n_nan_skipped}, n_gaps={self.n_gaps}, auto_direction={self.auto_direction}, "
                f"forward_axis={fwd})")

    def to_pandas(self):
        """The events as a pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self.events)


def detect_steps(t, acc, gyr, placement: str = "shank", mount: Mount | None = None, axis_map=None, *,
                 params: DetectorParams | None = None, **overrides) -> DetectionResult:
    """Detect every stride of a whole recording (the batch driver of the streaming kernel).

    t (N,) float64 s strictly increasing (irregular spacing allowed); acc (N, 3) m/s² incl. gravity;
    gyr (N, 3) rad/s; sensor frame. Identical to feeding the same samples to :class:`StepDetector`.
    params: a complete :class:`DetectorParams`, or else keyword overrides (``gap_s=0.5``), not both.
    """
    det = StepDetector(placement=placement, mount=mount, axis_map=axis_map, params=params, **overrides)
    t, acc, gyr = _check_inputs(t, acc, gyr)
    if t.shape[0] == 0:
        raise ValueError("t: empty input (no samples)")
    _check_plausible(t, acc, gyr, det.params_.gap_s)
    det.update(t, acc, gyr)
    det.finish()
    if det.n_nan_skipped_ == t.shape[0]:
        warnings.warn(f"detect_steps: all {t.shape[0]} samples were skipped (NaN, inf or physically absurd "
                      "acc/gyr values), so there are no strides", RuntimeWarning, stacklevel=2)
    return DetectionResult(
        events=det.events_, placement=placement, params=det.params_, auto_direction=det.auto_direction_,
        forward_axis=det.forward_axis_, n_samples=det.n_samples_, n_nan_skipped=det.n_nan_skipped_,
        n_gaps=det.n_gaps_,
    )


#: Whole-recording plausibility limits of :func:`detect_steps` (units mistaken, not motion): the median
#: |acc| of any leg-worn recording is about 1 g, and gyroscopes end at 2000-4000 °/s (35-70 rad/s).
MAX_MEDIAN_ACC_MS2 = 100.0
MAX_P99_GYR_RADS = 60.0
PLAUSIBLE_CHECK_SAMPLES = 4096  # samples (evenly spread) the check looks at


@njit(cache=True, nogil=True)
def _implausible_counts(t, acc, gyr, step, gap_s, acc_max, gyr_max):  # pragma: no cover - compiled
    """Over every ``step``-th sample: (intervals > gap_s, |acc| > acc_max, |gyr| > gyr_max, finite samples,
    intervals). Counting instead of sorting keeps :func:`_check_plausible` at a few µs."""
    n_dt = 0
    big_dt = 0
    big_a = 0
    big_g = 0
    n_ok = 0
    a2 = acc_max * acc_max
    g2 = gyr_max * gyr_max
    for i in range(0, t.shape[0], step):
        if i + 1 < t.shape[0]:
            n_dt += 1
            if t[i + 1] - t[i] > gap_s:
                big_dt += 1
        sa = acc[i, 0] * acc[i, 0] + acc[i, 1] * acc[i, 1] + acc[i, 2] * acc[i, 2]
        sg = gyr[i, 0] * gyr[i, 0] + gyr[i, 1] * gyr[i, 1] + gyr[i, 2] * gyr[i, 2]
        if np.isfinite(sa) and np.isfinite(sg):
            n_ok += 1
            if sa > a2:
                big_a += 1
            if sg > g2:
                big_g += 1
    return big_dt, big_a, big_g, n_ok, n_dt


def _check_plausible(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, gap_s: float) -> None:
    """Raise ValueError for a whole recording whose units are evidently wrong (batch only: a live chunk is
    too short to judge). t in ms makes every sample interval a gap; raw counts or °/s give impossible
    magnitudes. Looks at an evenly spread subset of ``PLAUSIBLE_CHECK_SAMPLES`` samples (a compiled count,
    a few µs); non-finite samples are ignored here (they are skipped and counted by the kernel)."""
    n = t.shape[0]
    step = max(1, n // PLAUSIBLE_CHECK_SAMPLES)
    big_dt, big_a, big_g, n_ok, n_dt = _implausible_counts(t, acc, gyr, step, gap_s, MAX_MEDIAN_ACC_MS2,
                                                           MAX_P99_GYR_RADS)
    if n >= 3 and 2 * big_dt > n_dt:
        dt = float(np.median(np.diff(t[::step])))
        raise ValueError(f"t: the median sample interval is {dt:g} s, longer than gap_s = {gap_s:g} s, so every "
                         "sample would start a new bout; t must be in seconds (milliseconds? divide by 1000; a sample "
                         "counter? divide by the rate in Hz)")
    if n_ok and 2 * big_a > n_ok:
        a = np.linalg.norm(acc[::step], axis=1)
        raise ValueError(f"acc: median |acc| is {float(np.nanmedian(a)):.4g} m/s² (about 9.8 expected): not m/s² "
                         "(raw sensor counts?); convert it with imuwalk.units.counts_to_si")
    if n_ok and 100 * big_g > n_ok:
        g = np.linalg.norm(gyr[::step], axis=1)
        raise ValueError(f"gyr: 99th percentile of |gyr| is {float(np.nanpercentile(g, 99)):.4g} rad/s, beyond any "
                         "gyroscope's range: not rad/s (°/s or raw counts?); convert it with "
                         "imuwalk.units.dps_to_rads or counts_to_si")


def warm_up() -> None:
    """Compile (first run) or load (later runs) the Numba kernels now, so that a live session does
    not stall on its first samples. Takes seconds on a fresh install, ~0.1 s with a warm cache."""
    t = np.arange(300) / 100.0
    gyr = np.zeros((300, 3))
    gyr[:, 1] = 4.0 * np.sin(2.0 * np.pi * t)
    acc = np.zeros((300, 3))
    acc[:, 2] = 9.81
    for placement in ("shank", "foot"):
        detect_steps(t, acc, gyr, placement=placement)
        detect_steps(t, acc, gyr, placement=placement, mount=Mount(right="+y"))
