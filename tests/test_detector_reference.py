"""The Numba stride kernel against its plain-Python reference (VQF-style), on real and generated gait.

Two independent implementations of the per-sample kernel (axis tracking, lobes, swing decision, contacts,
quality, swing axis and the direction cue) must give the same stride rows: same count, times within 1e-9 s,
every other field within 1e-9 (relative) or equal (integers, flags, NaN positions). The walking direction
of a finished row is decided afterwards by one shared Python class, ``DirectionDecider``, from the swing axis
and cue cross-checked here; so equal ``direction``/``direction_confidence`` fields follow from equal inputs,
and the direction rule itself is tested against ground truth elsewhere (test_direction*.py,
test_detector_gaits.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import require_data

from imuwalk import datasets as D
from imuwalk.core.detector import DetectorParams, StepDetector, detect_steps
from imuwalk.core.reference import ReferenceStrideDetector, reference_detect
from imuwalk.core.rows import FLAG_AFTER_GAP, FLAG_NAN_SKIPPED, FLAG_SATURATED, STRIDE_DTYPE
from imuwalk.sources.gaitgen import generate_walk

MAX_S = 30.0  # the reference is slow: at most this much of each recording


@cache
def _load(name: str):
    return D.load(name)


def real_recording(name: str, idx: int, start_s: float = 0.0, max_s: float = MAX_S):
    """(t, acc, gyr, placement) of recording ``idx`` of dataset ``name``, cropped; skips without data."""
    require_data(D.manifest(name)["local_dir"])
    r = _load(name)[idx]
    t0 = r.t[0] + start_s
    m = (r.t >= t0) & (r.t < t0 + max_s)
    return r.t[m], r.acc[m], r.gyr[m], r.placement


def assert_rows_match(a: np.ndarray, b: np.ndarray, atol: float = 1e-9) -> None:
    """Same length; float fields equal within atol (relative for large values), NaN at the same places;
    integer fields (direction, swing_sign, stride_index, flags) equal."""
    assert a.dtype == STRIDE_DTYPE and b.dtype == STRIDE_DTYPE
    assert a.shape == b.shape, f"{a.shape[0]} rows vs {b.shape[0]} rows"
    for name in STRIDE_DTYPE.names:
        x, y = a[name], b[name]
        if np.issubdtype(x.dtype, np.floating):
            nx, ny = np.isnan(x), np.isnan(y)
            assert np.array_equal(nx, ny), f"{name}: NaN at different rows {np.flatnonzero(nx ^ ny)}"
            tol = atol * np.maximum(1.0, np.abs(x[~nx]))
            err = np.abs(x[~nx] - y[~ny])
            assert np.all(err <= tol), f"{name}: max diff {err.max()} (rows {np.flatnonzero(err > tol)})"
        else:
            assert np.array_equal(x, y), f"{name}: {x} vs {y}"


def _compare(t, acc, gyr, placement, mount=None, min_rows=1, **params):
    res = detect_steps(t, acc, gyr, placement=placement, mount=mount, **params)
    ref = ReferenceStrideDetector(DetectorParams.for_placement(placement, **params), mount=mount)
    ref.update(t, acc, gyr)
    ref.finish()
    assert len(res.events) >= min_rows, "too few strides for a meaningful comparison"
    assert_rows_match(res.events, ref.events_)
    assert res.n_nan_skipped == ref.n_nan_skipped_
    assert res.n_gaps == ref.n_gaps_
    return res.events


REAL = [  # (dataset, recording, start s, minimum rows); MAX_S of each
    ("gaitmap", 0, 0.0, 8),
    ("gaitmap", 1, 5.0, 8),
    ("gaitmap_not_rotated", 0, 0.0, 8),
    ("marpino", 0, 0.0, 2),  # foot
    ("marpino", 1, 0.0, 2),  # shank
    ("marpino", 2, 0.0, 2),  # shank
    ("marpino", 3, 0.0, 2),  # foot
    ("ipol", 0, 0.0, 8),  # 100 Hz with lost packets (real gaps)
    ("ipol", 3, 0.0, 8),
    ("ankle_log", 0, 30.0, 5),  # ~27 Hz, irregular
    ("uci_backward", 0, 40.0, 8),  # 800 Hz, forward then backward walking
    ("xio_ngimu", 0, 0.0, 5),  # ~400 Hz
]


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "idx", "start_s", "min_rows"), REAL,
                         ids=[f"{n}[{i}]" for n, i, _, _ in REAL])
def test_kernel_matches_reference_on_real_recordings(name, idx, start_s, min_rows):
    t, acc, gyr, placement = real_recording(name, idx, start_s)
    _compare(t, acc, gyr, placement, min_rows=min_rows)


@pytest.mark.realdata
def test_kernel_matches_reference_with_other_parameters_on_real_data():
    """Branches off by default: impact IC mode, saturation flags, the other lobe metric."""
    t, acc, gyr, placement = real_recording("gaitmap", 0, max_s=20.0)
    ev = _compare(t, acc, gyr, placement, ic_mode="impact", saturation_rads=4.0)
    assert np.any(ev["flags"] & FLAG_SATURATED), "a 4 rad/s saturation level must flag some foot strides"
    _compare(t, acc, gyr, placement, metric="peak", ic_weight=0.8, fc_offset_s=-0.01)
    t, acc, gyr, placement = real_recording("marpino", 1)
    _compare(t, acc, gyr, placement, metric="width", ic_mode="impact", min_rows=1)
    _compare(t, acc, gyr, placement, ic_mode="gyro_impact", min_rows=1)
    # this session's rules switched off / swapped between placements
    _compare(t, acc, gyr, placement, reverse_frac=0.0, long_lobe_s=0.0, ic_min_lag_s=-1.0, min_rows=1)
    t, acc, gyr, placement = real_recording("marpino", 2)  # a shank
    assert placement == "shank"
    _compare(t, acc, gyr, placement, tentative_peak_frac=0.0, reverse_frac=0.0, min_rows=1)
    _compare(t, acc, gyr, placement, ic_mode="dip_peak", ic_min_lag_s=0.02, long_lobe_s=0.3, min_rows=1)
    # the weak-dip IC floor on the shank, where every dip counts as weak below 8 rad/s
    _compare(t, acc, gyr, placement, weak_dip_rads=8.0, ic_min_lag_weak_s=0.06, min_rows=1)


@pytest.mark.realdata
def test_kernel_matches_reference_with_nan_and_gaps_on_real_data():
    t, acc, gyr, placement = real_recording("ipol", 1, max_s=25.0)
    gyr = gyr.copy()
    acc = acc.copy()
    rng = np.random.default_rng(7)
    gyr[rng.choice(len(t), 40, replace=False), rng.integers(0, 3, 40)] = np.nan
    acc[rng.choice(len(t), 20, replace=False), 1] = np.inf
    gyr[-3:] = np.nan  # the stream ends on skipped samples: finish() still uses the last t
    t = t.copy()
    t[len(t) // 2:] += 2.0  # a 2 s pause in the middle
    ev = _compare(t, acc, gyr, placement, min_rows=6)
    assert np.any(ev["flags"] & FLAG_NAN_SKIPPED)
    after = ev[ev["t_ic"] > t[len(t) // 2]]
    assert after.size and np.isnan(after["stride_time_s"][0]) and after["flags"][0] & FLAG_AFTER_GAP


@pytest.mark.parametrize(
    ("placement", "rate_hz", "seed"),
    [("shank", 100.0, 1), ("foot", 200.0, 2), ("ankle", 50.0, 3), ("foot", 500.0, 4)],
)
def test_kernel_matches_reference_on_generated_gait(placement, rate_hz, seed):
    w = generate_walk(segments=[(12.0, "forward"), (2.0, "still"), (8.0, "backward"), (4.0, "sideways"),
                                (6.0, "forward", 2.5)],
                      rate_hz=rate_hz, placement=placement, rotation="random", seed=seed, gyro_bias_rads=0.02)
    ev = _compare(w.t, w.acc, w.gyr, placement, min_rows=15)
    _compare(w.t, w.acc, w.gyr, placement, min_rows=15, ic_mode=("impact", "gyro_impact")[seed % 2])
    # the comparison is only meaningful if the rows are real strides: about one per true stride
    n_true = int(np.sum(w.stride_direction != 0))
    assert 0.7 * n_true <= len(ev) <= 1.2 * len(w.ic)


@pytest.mark.parametrize("placement", ["shank", "foot"])
def test_kernel_matches_reference_on_slow_short_steps(placement):
    """Slow backward walking with short steps: the shank's stance rotation stays below the swing thresholds,
    so consecutive swings are continued by ``continue_frac``; then a pause and forward walking (the first
    swing after the pause is tentative, ``pause_tentative_s``). Both implementations agree, rules on and off."""
    w = generate_walk(segments=[(1.0, "still"), (12.0, "backward", 0.3, 90), (1.5, "still"),
                                (8.0, "forward", 0.5, 100)], rate_hz=100.0, placement=placement, seed=4)
    on = _compare(w.t, w.acc, w.gyr, placement, min_rows=10)
    off = _compare(w.t, w.acc, w.gyr, placement, continue_frac=0.0, min_rows=3)
    _compare(w.t, w.acc, w.gyr, placement, pause_tentative_s=0.0, min_rows=10)  # the pause rule off
    if placement == "shank":
        assert len(on) >= len(off) + 2  # the rule fires here, so the comparison covers it
        # lower bout-start thresholds (first_min_*): the first strides of a slow bout are found too
        w = generate_walk(segments=[(1.0, "still"), (12.0, "backward", 0.3, 110), (1.0, "still")],
                          rate_hz=100.0, placement=placement, seed=0)
        default = _compare(w.t, w.acc, w.gyr, placement, min_rows=3)
        low = _compare(w.t, w.acc, w.gyr, placement, first_min_peak_rads=1.5, first_min_angle_rad=0.35,
                       min_rows=10)
        assert len(low) > len(default)


def test_kernel_matches_reference_when_a_bout_starts_backward():
    """A forward foot walk played backward in time: its first swing is tentative and the push-off after it
    nearly as swing-like, where the change-of-direction rule must not replace a tentative swing."""
    from imuwalk.sources.gaitgen import reverse_time

    w = reverse_time(generate_walk(segments=[(1.0, "still"), (20.0, "forward", 0.875), (1.0, "still")],
                                   rate_hz=100.0, placement="foot", rotation="random", seed=37))
    ev = _compare(w.t, w.acc, w.gyr, "foot", min_rows=6)
    assert abs(ev["t_ic"][0] - w.ic[0]) < 0.05  # the first stride is the real one, not the push-off after it
    _compare(w.t, w.acc, w.gyr, "foot", reverse_frac=0.0, min_rows=6)


def test_reference_streaming_equals_reference_batch_and_driver():
    """The reference fed sample by sample returns each row at its t_emit, like the streaming driver."""
    w = generate_walk(segments=[(10.0, "forward")], rate_hz=100.0, placement="shank", seed=11)
    ref = ReferenceStrideDetector(DetectorParams.for_placement("shank"))
    det = StepDetector("shank")
    for i in range(len(w.t)):
        r = ref.update_sample(w.t[i], w.acc[i], w.gyr[i])
        k = det.update(w.t[i:i + 1], w.acc[i:i + 1], w.gyr[i:i + 1])
        assert (r is None) == (k.size == 0), f"sample {i}: emission differs"
        if r is not None:
            assert r["t_emit"][0] == w.t[i]
            assert_rows_match(r, k)
    assert_rows_match(ref.finish(), det.finish())
    assert_rows_match(ref.events_, reference_detect(w.t, w.acc, w.gyr, placement="shank"))
    assert len(ref.events_) >= 6


def test_reference_rejects_non_params():
    with pytest.raises(ValueError, match="params"):
        ReferenceStrideDetector({"gap_s": 0.3})
