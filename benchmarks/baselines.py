"""Baselines a researcher would use instead of imuwalk, as ``(rec, **kw) -> stride rows`` detectors.

- :func:`gaitmap_detector`: gaitmap 2.6's default foot pipeline, Barth DTW stride segmentation + Rampp event
  detection (both in the AGPL package ``gaitmap_mad``; ``pip install 'imuwalk[bench]'``), with gaitmap's own
  mounting alignment (gravity alignment → PCA heading alignment → forward-direction sign alignment) for
  recordings that are not already in gaitmap's foot sensor frame, then gaitmap's sensor → foot-body-frame
  conversion for the recording's side.
- :func:`scipy_peak_detector`: a plain scipy peak picker on the dominant gyro axis (mid-swing peaks; IC/FC =
  the nearest local minima after/before each peak), the classic shank-gyro method.

Both are offline (whole recording), so ``t_emit`` is NaN. Both return
:data:`imuwalk.core.rows.STRIDE_DTYPE` rows with ``t_ic``/``t_fc`` filled (NaN where an event is missing),
so :func:`imuwalk.evaluate.evaluate` scores them with exactly the rules it uses for imuwalk.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from imuwalk.core.rows import STRIDE_DTYPE

#: Datasets already in gaitmap's foot sensor frame (X to the toe, Y left, Z up): no alignment needed.
GAITMAP_FRAME_DATASETS = {"gaitmap", "gaitmap_ic_stride"}


class BaselineFailure(RuntimeError):
    """A baseline could not process a recording (reason in the message); scored as no detections."""


def gaitmap_available() -> tuple[bool, str]:
    """(True, "") when gaitmap + gaitmap_mad import, else (False, reason)."""
    try:
        import gaitmap  # noqa: F401
        import gaitmap_mad  # noqa: F401
    except ImportError as e:
        return False, f"gaitmap pipeline unavailable ({e}); pip install 'imuwalk[bench]'"
    return True, ""


def _rows(t_ic: np.ndarray, t_fc: np.ndarray) -> np.ndarray:
    r = np.zeros(len(t_ic), STRIDE_DTYPE)
    r["t_ic"] = t_ic
    r["t_fc"] = t_fc
    r["t_emit"] = np.nan
    r["t_prev_ic"] = np.nan
    order = np.argsort(r["t_ic"], kind="stable")
    r = r[order]
    r["stride_index"] = np.arange(len(r))
    return r


def uniform_grid(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, rate_hz: float | None = None):
    """Linear resampling onto a uniform grid (gaitmap and the peak picker assume a constant rate).

    Returns (t_uniform s, acc, gyr, rate_hz); rate defaults to the median rate of ``t``.
    """
    t = np.asarray(t, dtype=np.float64)
    fs = float(rate_hz) if rate_hz else float(1.0 / np.median(np.diff(t)))
    tu = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fs)) + 1) / fs
    acc_u = np.column_stack([np.interp(tu, t, acc[:, i]) for i in range(3)])
    gyr_u = np.column_stack([np.interp(tu, t, gyr[:, i]) for i in range(3)])
    return tu, acc_u, gyr_u, fs


# --------------------------------------------------------------------------------------- gaitmap pipeline
def gaitmap_detector(rec: Any, align: bool | str = "auto", info: dict | None = None, **_: Any) -> np.ndarray:
    """gaitmap's BarthDtw + RamppEventDetection on one recording; stride rows (t_ic, t_fc in s).

    align: "auto" (gaitmap's alignment unless the dataset is in gaitmap's frame), True or False.
    info: optional dict that receives diagnostics (alignment used, flip, failures).
    Raises :class:`BaselineFailure` when gaitmap cannot process the recording.
    """
    import pandas as pd
    from gaitmap.event_detection import RamppEventDetection
    from gaitmap.stride_segmentation import BarthDtw
    from gaitmap.utils.coordinate_conversion import convert_left_foot_to_fbf, convert_right_foot_to_fbf

    info = {} if info is None else info
    tu, acc, gyr, fs = uniform_grid(rec.t, rec.acc, rec.gyr)
    data = pd.DataFrame(
        np.column_stack([acc, np.rad2deg(gyr)]),
        columns=["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"],
    )
    do_align = (rec.dataset not in GAITMAP_FRAME_DATASETS) if align == "auto" else bool(align)
    info["aligned"] = do_align
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if do_align:
            try:
                data = _gaitmap_align(data, fs, info)
            except BaselineFailure as e:  # report it, then run gaitmap on the unaligned data
                info["alignment_failed"] = str(e)
                FAILURES.append(f"{rec.name}: {e} (ran unaligned)")
        side = getattr(rec, "side", "unknown")
        if side not in ("left", "right"):
            info["side_assumed"] = "left"
            side = "left"
        bf = convert_right_foot_to_fbf(data) if side == "right" else convert_left_foot_to_fbf(data)
        try:
            dtw = BarthDtw().segment(data=bf, sampling_rate_hz=fs)
            strides = dtw.stride_list_
            info["n_dtw_strides"] = len(strides)
            if len(strides) == 0:
                return _rows(np.zeros(0), np.zeros(0))
            ed = RamppEventDetection().detect(data=bf, stride_list=strides, sampling_rate_hz=fs)
        except Exception as e:  # gaitmap raises assorted errors on data it cannot handle
            raise BaselineFailure(f"{rec.name}: gaitmap failed: {type(e).__name__}: {e}") from e
    ev = ed.min_vel_event_list_
    n = len(tu)

    def to_t(x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        ok = np.isfinite(x) & (x >= 0) & (x <= n - 1)
        out = np.full(x.shape, np.nan)
        out[ok] = np.interp(x[ok], np.arange(n), tu)
        return out

    t_ic = to_t(ev["ic"].to_numpy())
    t_fc = to_t(ev["tc"].to_numpy())
    # the IC before each gait sequence's first stride (pre_ic) is an IC gaitmap found too
    pre = to_t(ev["pre_ic"].to_numpy())
    extra = pre[np.isfinite(pre) & ~np.isin(np.round(pre, 6), np.round(t_ic, 6))]
    extra = np.unique(extra)
    return _rows(np.r_[t_ic, extra], np.r_[t_fc, np.full(extra.size, np.nan)])


def _gaitmap_align(data, fs: float, info: dict):
    """gaitmap's own mounting alignment: gravity → PCA (ML axis = y) → forward sign (x)."""
    from gaitmap.preprocessing import align_dataset_to_gravity
    from gaitmap.preprocessing.sensor_alignment import PcaAlignment
    from gaitmap_mad.preprocessing.sensor_alignment import ForwardDirectionSignAlignment

    try:
        data = align_dataset_to_gravity(data, fs)
        data = PcaAlignment(target_axis="y", pca_plane_axis=("gyr_x", "gyr_y")).align(data).aligned_data_
        fwd = ForwardDirectionSignAlignment(forward_direction="x", rotation_axis="z").align(
            data, sampling_rate_hz=fs
        )
        info["flipped"] = bool(fwd.is_flipped_)
        return fwd.aligned_data_
    except Exception as e:
        raise BaselineFailure(f"gaitmap alignment failed: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------------------------------- scipy baseline
def scipy_peak_detector(
    rec: Any,
    lowpass_hz: float = 5.0,
    min_stride_s: float = 0.6,
    search_s: float = 0.4,
    **_: Any,
) -> np.ndarray:
    """Plain scipy peak picking on the dominant gyro axis (the textbook shank-gyro method).

    1. Resample to a uniform grid; sagittal axis = first principal axis of the gyro; sign such that the
       largest peaks are positive (mid-swing). 2. 4th-order Butterworth low-pass ``lowpass_hz`` (zero-phase).
    3. ``scipy.signal.find_peaks``: height ≥ 40 % of the 95th percentile, distance ≥ ``min_stride_s``.
    4. IC = deepest minimum of the unfiltered signal within ``search_s`` after each peak; FC = deepest one
       within ``search_s`` before it.
    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    tu, _, gyr, fs = uniform_grid(rec.t, rec.acc, rec.gyr)
    g = gyr - gyr.mean(axis=0)
    _, _, vt = np.linalg.svd(g[:: max(1, len(g) // 20000)], full_matrices=False)
    w = g @ vt[0]
    if np.percentile(w, 99.5) < -np.percentile(w, 0.5):
        w = -w
    wf = sosfiltfilt(butter(4, min(lowpass_hz, 0.45 * fs), fs=fs, output="sos"), w) if len(w) > 30 else w
    h = 0.4 * np.percentile(wf, 95)
    peaks, _ = find_peaks(wf, height=max(h, 1e-6), distance=max(1, int(min_stride_s * fs)))
    k = max(1, int(search_s * fs))
    ic, fc = [], []
    for p in peaks:
        a = w[p + 1 : p + 1 + k]
        b = w[max(0, p - k) : p]
        ic.append(tu[p + 1 + int(np.argmin(a))] if a.size else np.nan)
        fc.append(tu[max(0, p - k) + int(np.argmin(b))] if b.size else np.nan)
    return _rows(np.asarray(ic, float), np.asarray(fc, float))


def safe(detector):
    """Wrap a baseline so a :class:`BaselineFailure` counts as 'no detections' (failure noted in the rows)."""

    def run(rec: Any, **kw: Any) -> np.ndarray:
        try:
            return detector(rec, **kw)
        except BaselineFailure as e:
            FAILURES.append(str(e))
            return _rows(np.zeros(0), np.zeros(0))

    run.__name__ = run.__qualname__ = f"safe_{detector.__name__}"
    return run


#: Failures collected by :func:`safe` wrappers in this process (reported by make_table).
FAILURES: list[str] = []
