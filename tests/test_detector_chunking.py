"""Chunk invariance: any chunking of a recording through ``StepDetector.update`` gives bit-identical rows
(``t_emit`` included) to ``detect_steps`` over the whole recording; and ``finish()`` semantics."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import require_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuwalk import datasets as D
from imuwalk.core.detector import StepDetector, detect_steps
from imuwalk.core.direction import Mount
from imuwalk.core.rows import STRIDE_DTYPE
from imuwalk.sources.gaitgen import generate_walk

CHUNKS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def _load(name: str):
    return D.load(name)


def real_recording(name: str, idx: int, max_s: float | None = None):
    """(t, acc, gyr, placement) of recording ``idx`` of dataset ``name``; skips without the data."""
    require_data(D.manifest(name)["local_dir"])
    r = _load(name)[idx]
    m = slice(None) if max_s is None else r.t < r.t[0] + max_s
    return r.t[m], r.acc[m], r.gyr[m], r.placement


@cache
def generated():
    w = generate_walk(segments=[(15.0, "forward"), (1.5, "still"), (10.0, "backward"), (6.0, "forward", 2.4)],
                      rate_hz=150.0, placement="shank", rotation="random", seed=21, gyro_bias_rads=0.03)
    return w.t, w.acc, w.gyr, "shank"


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Bit-identical stride rows: every field, NaN in the same places."""
    assert a.dtype == STRIDE_DTYPE and b.dtype == STRIDE_DTYPE
    assert a.shape == b.shape, f"{a.shape[0]} rows vs {b.shape[0]} rows"
    for name in STRIDE_DTYPE.names:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), (
            f"field {name} differs: {a[name]} vs {b[name]}")


def feed(det: StepDetector, t, acc, gyr, sizes, one_by_one: tuple[int, int] | None = None):
    """Feed the recording in chunks of ``sizes`` (cycled); samples one_by_one=(start, stop) go one at a
    time. Returns the rows returned by update() and finish(), concatenated."""
    out = []
    i, k, n = 0, 0, len(t)
    while i < n:
        if one_by_one is not None and one_by_one[0] <= i < one_by_one[1]:
            j = i + 1
        else:
            j = min(n, i + sizes[k % len(sizes)])
            if one_by_one is not None and i < one_by_one[0] < j:
                j = one_by_one[0]
            k += 1
        rows = det.update(t[i:j], acc[i:j], gyr[i:j])
        assert rows.dtype == STRIDE_DTYPE
        inside = np.all(rows["t_emit"] <= t[j - 1]) and np.all(rows["t_emit"] >= t[i])
        assert inside, "row emitted outside its chunk"
        out.append(rows)
        i = j
    out.append(det.finish())
    return np.concatenate(out)


def check_chunking(rec, sizes, stretch, **kw):
    t, acc, gyr, placement = rec
    batch = detect_steps(t, acc, gyr, placement=placement, **kw)
    assert len(batch.events) >= 3, "recording too short for a meaningful check"
    det = StepDetector(placement, **kw)
    start = int(stretch * max(0, len(t) - 300))
    rows = feed(det, t, acc, gyr, sizes, one_by_one=(start, start + 300))
    assert_identical(rows, batch.events)
    assert_identical(det.events_, batch.events)
    assert det.n_samples_ == batch.n_samples == len(t)
    assert det.n_nan_skipped_ == batch.n_nan_skipped
    assert det.n_gaps_ == batch.n_gaps
    np.testing.assert_array_equal(det.forward_axis_, batch.forward_axis)


sizes_st = st.lists(st.integers(1, 700), min_size=1, max_size=12)
small_sizes_st = st.lists(st.integers(1, 40), min_size=1, max_size=12)
stretch_st = st.floats(0.0, 1.0)


@pytest.mark.realdata
@CHUNKS
@given(sizes=sizes_st, stretch=stretch_st)
def test_chunking_gaitmap_foot(sizes, stretch):
    check_chunking(real_recording("gaitmap", 0), sizes, stretch)


@pytest.mark.realdata
@CHUNKS
@given(sizes=sizes_st, stretch=stretch_st)
def test_chunking_ipol_foot_with_packet_gaps(sizes, stretch):
    check_chunking(real_recording("ipol", 1), sizes, stretch)


@pytest.mark.realdata
@CHUNKS
@given(sizes=small_sizes_st, stretch=stretch_st)
def test_chunking_marpino_shank_with_mount(sizes, stretch):
    check_chunking(real_recording("marpino", 1), sizes, stretch, mount=Mount(right="+z"))


@pytest.mark.realdata
@CHUNKS
@given(sizes=small_sizes_st, stretch=stretch_st)
def test_chunking_ankle_log_irregular_27hz_with_axis_map(sizes, stretch):
    check_chunking(real_recording("ankle_log", 0), sizes, stretch, axis_map="-y,x,z")


@pytest.mark.realdata
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=sizes_st, stretch=stretch_st)
def test_chunking_uci_backward_800hz_impact_mode(sizes, stretch):
    t, acc, gyr, placement = real_recording("uci_backward", 0)
    m = (t > t[0] + 40.0) & (t < t[0] + 70.0)  # forward and backward walking
    check_chunking((t[m], acc[m], gyr[m], placement), [s * 4 for s in sizes], stretch, ic_mode="impact")


@CHUNKS
@given(sizes=sizes_st, stretch=stretch_st)
def test_chunking_generated_walk(sizes, stretch):
    check_chunking(generated(), sizes, stretch, saturation_rads=5.0)


@CHUNKS
@given(sizes=small_sizes_st, stretch=stretch_st, angles=st.tuples(*[st.floats(-180.0, 180.0)] * 3))
def test_chunking_with_a_rotation_axis_map(sizes, stretch, angles):
    """An axis map that is a general rotation (not a swap of axes) keeps 1-sample updates bit-identical to the
    batch: the map is applied per element in one fixed order (a matrix product rounds differently for one row)."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    check_chunking(generated(), sizes, stretch, axis_map=R)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cut=st.floats(0.0, 1.0))
def test_chunking_with_nan_samples_and_gaps(seed, cut):
    """Bad samples and pauses handled in the kernel are chunk-invariant too."""
    t, acc, gyr, placement = generated()
    rng = np.random.default_rng(seed)
    acc, gyr, t = acc.copy(), gyr.copy(), t.copy()
    gyr[rng.choice(len(t), 50, replace=False), rng.integers(0, 3, 50)] = np.nan
    acc[rng.choice(len(t), 20, replace=False), 0] = np.inf
    k = int(len(t) * (0.2 + 0.6 * cut))
    t[k:] += 1.5  # a pause
    sizes = list(rng.integers(1, 300, 8))
    check_chunking((t, acc, gyr, placement), sizes, float(rng.random()))


# ---- finish() semantics ---------------------------------------------------------------------------
def test_finish_flushes_a_seen_landing_at_the_last_sample_time():
    t, acc, gyr, placement = generated()
    batch = detect_steps(t, acc, gyr, placement=placement).events
    # stop the stream right after the dip of a stride's landing began, before it was emitted
    j = int(np.searchsorted(t, batch["t_ic"][5])) + 2
    assert t[j - 1] < batch["t_emit"][5], "the cut must come before the row's emission"
    det = StepDetector(placement)
    det.update(t[:j], acc[:j], gyr[:j])
    assert len(det.events_) == 5
    tail = det.finish()
    assert len(tail) == 1
    assert tail["t_emit"][0] == t[j - 1]
    assert tail["stride_index"][0] == 5
    assert abs(tail["t_ic"][0] - batch["t_ic"][5]) < 0.1
    assert len(det.events_) == 6
    # finish is idempotent; update after finish is an error; reset() starts over
    assert det.finish().size == 0
    with pytest.raises(ValueError, match="finish"):
        det.update(t[j:j + 5], acc[j:j + 5], gyr[j:j + 5])
    det.reset()
    assert det.events_.size == 0 and det.n_samples_ == 0
    det.update(t, acc, gyr)
    det.finish()
    assert_identical(det.events_, batch)


def test_finish_without_landing_emits_nothing():
    t, acc, gyr, placement = generated()
    batch = detect_steps(t, acc, gyr, placement=placement).events
    det = StepDetector(placement)
    assert det.finish().size == 0, "finish() on a fresh detector"
    det = StepDetector(placement)
    # cut in the middle of a swing lobe (at its peak): no pending stride yet, nothing to flush
    j = int(np.searchsorted(t, batch["t_mid_swing"][4])) + 1
    det.update(t[:j], acc[:j], gyr[:j])
    n = len(det.events_)
    assert det.finish().size == 0
    assert len(det.events_) == n == 4


def test_empty_updates_between_chunks_change_nothing():
    t, acc, gyr, placement = generated()
    batch = detect_steps(t, acc, gyr, placement=placement).events
    det = StepDetector(placement)
    e3 = np.zeros((0, 3))
    out = []
    for i in range(0, len(t), 500):
        out.append(det.update(t[i:i + 500], acc[i:i + 500], gyr[i:i + 500]))
        assert det.update(t[:0], e3, e3).size == 0
    out.append(det.finish())
    assert_identical(np.concatenate(out), batch)
