"""Synthetic gait generator: shapes/units, determinism, ground truth, physics consistency, reversal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imuwalk.sources.gaitgen import GeneratedWalk, generate_walk, reverse_time

G = 9.80665
MIXED = [(3, "still"), (15, "forward", 1.3), (15, "backward"), (8, "sideways"), (8, "forward", 2.6),
         (3, "still")]


@pytest.fixture(scope="module")
def mixed() -> GeneratedWalk:
    return generate_walk(segments=MIXED, placement="shank", seed=3)


def _in(w, lab):
    a, b = [(a, b) for a, b, l in w.segments if l == lab][0]
    return (w.t > a) & (w.t < b)


def test_shapes_units_and_time_grid(mixed):
    w = mixed
    n = len(w.t)
    assert w.acc.shape == (n, 3) and w.gyr.shape == (n, 3) and w.t.dtype == np.float64
    assert w.t[-1] == pytest.approx(sum(s[0] for s in MIXED))
    np.testing.assert_allclose(np.diff(w.t), 1 / 200.0)
    still = w.t < 2.9
    assert np.median(np.linalg.norm(w.acc[still], axis=1)) == pytest.approx(G, abs=0.05)
    assert np.abs(w.gyr[still]).max() < 0.1
    assert [s[2] for s in w.segments] == [s[1] for s in MIXED]
    assert w.segments[0][0] == 0.0 and w.segments[-1][1] == pytest.approx(w.t[-1])
    assert len(w.ic) == len(w.fc) == len(w.stride_direction) == len(w.stride_bounds)
    assert set(np.unique(w.stride_direction)) == {-1, 0, 1}


def test_default_duration_and_padding():
    w = generate_walk(rate_hz=100)
    assert w.t[-1] == pytest.approx(60.0)
    w2 = generate_walk(duration_s=20, segments=[(10, "forward")], rate_hz=100)
    assert w2.segments[-1][2] == "still" and w2.t[-1] == pytest.approx(20.0)
    assert np.all(w2.ic < 10.0)


def test_determinism_by_seed():
    a = generate_walk(duration_s=20, seed=7, rotation="random", gyro_bias_rads=0.02)
    b = generate_walk(duration_s=20, seed=7, rotation="random", gyro_bias_rads=0.02)
    c = generate_walk(duration_s=20, seed=8, rotation="random", gyro_bias_rads=0.02)
    np.testing.assert_array_equal(a.acc, b.acc)
    np.testing.assert_array_equal(a.gyr, b.gyr)
    np.testing.assert_array_equal(a.ic, b.ic)
    np.testing.assert_array_equal(a.rotation, b.rotation)
    assert not np.allclose(a.gyr, c.gyr) and not np.allclose(a.rotation, c.rotation)


def test_ground_truth_consistency(mixed):
    w = mixed
    lo, hi = w.stride_bounds[:, 0], w.stride_bounds[:, 1]
    assert np.all((lo < w.fc) & (w.fc < w.ic) & (w.ic < hi))
    assert np.all(np.diff(w.ic) > 0) and np.all(lo[1:] >= hi[:-1] - 1e-9)
    T = hi - lo
    fw = (w.stride_direction == 1) & (w.ic < 20)
    bw = w.stride_direction == -1
    assert 0.95 < np.median(T[fw]) < 1.25  # walking stride ~1.0–1.2 s
    assert np.median(T[bw]) == pytest.approx(np.median(T[fw]), rel=0.3)
    jog = (w.stride_direction == 1) & (w.ic > 42)
    assert np.median(T[jog]) < 0.85
    swing_walk = np.median((w.ic - w.fc)[fw] / T[fw])
    swing_jog = np.median((w.ic - w.fc)[jog] / T[jog])
    assert swing_walk == pytest.approx(0.4, abs=0.03) and swing_jog > 0.5
    cv = np.std(T[fw]) / np.mean(T[fw])
    assert 0.01 < cv < 0.06  # ±3 % timing variability
    # every stride lies inside the segment of its label
    for k, d in enumerate(w.stride_direction):
        lab = {1: "forward", -1: "backward", 0: "sideways"}[int(d)]
        assert any(a <= lo[k] and hi[k] <= b + 1e-9 and l == lab for a, b, l in w.segments)


def test_realistic_amplitudes(mixed):
    w = mixed
    g = w.gyr[:, 1]
    peaks = [g[(w.t > f) & (w.t < i)].max() for f, i, d in zip(w.fc, w.ic, w.stride_direction, strict=True)
             if d == 1 and i < 20]
    assert 3.0 < np.median(peaks) < 6.0
    jog = [g[(w.t > f) & (w.t < i)].max() for f, i in zip(w.fc, w.ic, strict=True) if i > 42]
    assert 7.5 < np.median(jog) < 10.5
    bw = [g[(w.t > f) & (w.t < i)].min() for f, i, d in zip(w.fc, w.ic, w.stride_direction, strict=True)
          if d == -1]
    assert -np.median(bw) < np.median(peaks)  # smaller swing lobe, opposite sign
    fwd = _in(w, "forward") & (w.t < 20)
    off = np.sqrt(np.mean(w.gyr[fwd][:, [0, 2]] ** 2, axis=0)) / np.sqrt(np.mean(g[fwd] ** 2))
    assert np.all((off > 0.08) & (off < 0.3))
    foot = generate_walk(duration_s=20, placement="foot", seed=1)
    fp = [foot.gyr[(foot.t > f) & (foot.t < i), 1].max() for f, i in zip(foot.fc, foot.ic, strict=True)]
    assert 5.0 < np.median(fp) < 10.0


def test_impact_follows_swing_in_both_directions(mixed):
    w = mixed
    anorm = np.linalg.norm(w.acc, axis=1)
    for f, i, d in zip(w.fc, w.ic, w.stride_direction, strict=True):
        if d == 0:
            continue
        m = (w.t >= i - 0.1) & (w.t <= i + 0.1)
        t_imp = w.t[m][np.argmax(anorm[m])]
        assert 0.0 <= t_imp - i <= 0.04
        assert 1.8 * G < anorm[m].max() < 6.5 * G
        sw = (w.t > f) & (w.t < i)
        g = w.gyr[sw, 1]
        k = np.argmax(np.abs(g))
        assert np.sign(g[k]) == d  # forward swing lobe positive, backward negative
        assert 0.05 < i - w.t[sw][k] < 0.4  # the landing comes after the swing peak


def test_backward_is_time_reversed_forward():
    """Noise-free: a backward stride is a forward stride played backward and negated (phase-normalised)."""
    kw = dict(rate_hz=400, noise_rads=0.0, acc_noise_ms2=0.0, seed=5)
    fw = generate_walk(segments=[(6, "forward", 1.3)], **kw)
    bw = generate_walk(segments=[(6, "backward", 0.8)], **kw)
    u = np.linspace(0.02, 0.98, 200)

    def shape(w, k):
        a, b = w.stride_bounds[k]
        x = np.interp(a + u * (b - a), w.t, w.gyr[:, 1])
        return x / np.abs(x).max()

    for k in range(min(len(fw.ic), len(bw.ic))):
        gf, gb = shape(fw, k), shape(bw, k)
        assert np.corrcoef(-gb[::-1], gf)[0, 1] > 0.97
        assert np.corrcoef(gb, gf)[0, 1] < 0.0
        # landing sits where the forward toe-off was, mirrored in the stride window
        a, b = fw.stride_bounds[k]
        c, d = bw.stride_bounds[k]
        assert (bw.ic[k] - c) / (d - c) == pytest.approx((b - fw.fc[k]) / (b - a), abs=1e-9)


def test_rotation_applied_and_norm_invariant():
    kw = dict(duration_s=15, seed=11, noise_rads=0.0, acc_noise_ms2=0.0)
    a = generate_walk(**kw)
    R = Rotation.from_euler("xyz", [30, -50, 120], degrees=True).as_matrix()
    b = generate_walk(rotation=R, **kw)
    np.testing.assert_allclose(np.linalg.norm(a.gyr, axis=1), np.linalg.norm(b.gyr, axis=1), atol=1e-9)
    np.testing.assert_allclose(b.acc, a.acc @ R.T, atol=1e-9)
    np.testing.assert_array_equal(a.ic, b.ic)
    r = generate_walk(rotation="random", **kw)
    assert np.allclose(r.rotation @ r.rotation.T, np.eye(3)) and np.linalg.det(r.rotation) == pytest.approx(1)
    np.testing.assert_allclose(np.linalg.norm(r.gyr, axis=1), np.linalg.norm(a.gyr, axis=1), atol=1e-9)


def test_gyro_bias_and_noise():
    kw = dict(segments=[(10, "still")], seed=2, acc_noise_ms2=0.0)
    w = generate_walk(gyro_bias_rads=[0.01, -0.02, 0.03], noise_rads=0.005, **kw)
    np.testing.assert_allclose(w.gyr.mean(axis=0), [0.01, -0.02, 0.03], atol=5e-4)
    assert np.std(w.gyr[:, 0]) == pytest.approx(0.005, rel=0.1)
    w2 = generate_walk(gyro_bias_rads=0.05, noise_rads=0.0, **kw)
    assert np.linalg.norm(w2.gyr.mean(axis=0)) == pytest.approx(0.05)


def test_acc_consistent_with_gyro_orientation():
    """Strapdown-integrating the (noise-free) gyro from the first sample keeps predicting the gravity
    direction the accelerometer sees during quiet foot-flat phases (a physics consistency check)."""
    w = generate_walk(segments=[(1, "still"), (8, "forward", 1.2), (1, "still")], placement="foot",
                      rotation="random", seed=4, noise_rads=0.0, acc_noise_ms2=0.0, rate_hz=200)
    up0 = w.acc[0] / np.linalg.norm(w.acc[0])
    rot = Rotation.identity()
    dt = 1 / w.rate_hz
    ups = np.empty((len(w.t), 3))
    ups[0] = up0
    inc = Rotation.from_rotvec(0.5 * (w.gyr[1:] + w.gyr[:-1]) * dt)
    for i in range(1, len(w.t)):
        rot = rot * inc[i - 1]
        ups[i] = rot.inv().apply(up0)
    quiet = (np.linalg.norm(w.gyr, axis=1) < 0.05) & (np.abs(np.linalg.norm(w.acc, axis=1) - G) < 0.05)
    assert quiet.sum() > 200
    acc_dir = w.acc[quiet] / np.linalg.norm(w.acc[quiet], axis=1)[:, None]
    ang = np.degrees(np.arccos(np.clip(np.sum(acc_dir * ups[quiet], axis=1), -1, 1)))
    assert np.max(ang) < 3.0
    # pitch returns to its start after every stride (no drift): end orientation = start orientation
    assert np.degrees(np.arccos(np.clip(ups[-1] @ up0, -1, 1))) < 3.0


def test_reverse_time(mixed):
    w = mixed
    r = reverse_time(w)
    T = w.t[0] + w.t[-1]
    np.testing.assert_array_equal(r.t, w.t)
    np.testing.assert_array_equal(r.acc, w.acc[::-1])
    np.testing.assert_array_equal(r.gyr, -w.gyr[::-1])
    np.testing.assert_allclose(np.sort(r.ic), np.sort(T - w.fc))
    np.testing.assert_allclose(np.sort(r.fc), np.sort(T - w.ic))
    assert np.all(r.fc < r.ic) and np.all(np.diff(r.ic) > 0)
    assert np.sum(r.stride_direction == -1) == np.sum(w.stride_direction == 1)
    assert [s[2] for s in r.segments] == ["still", "backward", "sideways", "forward", "backward", "still"]
    assert r.meta["reversed"] and not w.meta["reversed"]
    rr = reverse_time(r)
    np.testing.assert_array_equal(rr.gyr, w.gyr)
    np.testing.assert_allclose(rr.ic, w.ic)
    np.testing.assert_array_equal(rr.stride_direction, w.stride_direction)
    # reversed forward walk: the swing lobe before each landing is now negative (backward-like)
    g = r.gyr[:, 1]
    for f, i, d in zip(r.fc, r.ic, r.stride_direction, strict=True):
        if d == -1:
            sw = (r.t > f) & (r.t < i)
            assert g[sw][np.argmax(np.abs(g[sw]))] < 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rate_hz=0), "rate_hz"),
        (dict(placement="hand"), "placement"),
        (dict(side="middle"), "side"),
        (dict(duration_s=-1), "duration_s"),
        (dict(duration_s=5, segments=[(10, "forward")]), "duration_s"),
        (dict(segments=[]), "segments"),
        (dict(segments=[(5, "run")]), r"segments\[0\]"),
        (dict(segments=[(0, "forward")]), r"segments\[0\]"),
        (dict(segments=[(5, "forward", -1.0)]), "speed"),
        (dict(segments=[(5, "forward", 1.0, 500)]), "cadence"),
        (dict(segments=["forward"]), r"segments\[0\]"),
        (dict(rotation="upside"), "rotation"),
        (dict(rotation=np.ones((3, 3))), "rotation"),
        (dict(rotation=np.diag([1.0, 1.0, -1.0])), "rotation"),
        (dict(rotation=np.eye(2)), "rotation"),
        (dict(noise_rads=-0.1), "noise_rads"),
        (dict(gyro_bias_rads=[0.1, 0.2]), "gyro_bias_rads"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_walk(**kwargs)


@pytest.mark.parametrize("placement", ["shank", "foot"])
def test_no_steps_at_stride_window_borders(placement):
    """Each stride window is zero-mean, so neighbours meet at different stance levels (forward and
    backward stance rotate opposite ways); the generator cross-fades them: no jump between samples
    that the real leg could not make, and the pitch still returns to its start after each window."""
    w = generate_walk(segments=[(3, "still"), (8, "forward"), (8, "backward"), (3, "still")],
                      placement=placement, seed=2, noise_rads=0.0, acc_noise_ms2=0.0)
    step = np.abs(np.diff(w.gyr, axis=0)).max(axis=1)  # rad/s between neighbouring samples (5 ms)
    at = np.searchsorted(w.t, np.unique(w.stride_bounds))
    at = at[(at > 0) & (at < len(w.t))] - 1
    assert step[at].max() < 0.25, step[at].max()  # stance is slow; the generator used to jump ~2 rad/s here
    for a, b in w.stride_bounds:  # the sagittal rotation over each window still sums to zero
        i, j = np.searchsorted(w.t, [a, b])
        assert abs(np.trapezoid(w.gyr[i:j, 1], w.t[i:j])) < 0.05
