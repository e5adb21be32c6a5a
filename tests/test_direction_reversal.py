"""Issue 3 property: a forward walk played backward in time — acc(T−t), −gyr(T−t) — is reported as
backward with the mount learned from the forward walk (generated gait, any mounting, both placements)."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import imuwalk
from imuwalk.core.direction import calibrate_mount
from imuwalk.evaluate import match_events
from imuwalk.sources.gaitgen import generate_walk, reverse_time


def _assert_strides_found(ic_true, ev) -> None:
    """At least 90 % of the true strides found within 100 ms, and at most one extra stride."""
    ri, _ = match_events(ic_true, ev["t_ic"], 0.1)
    assert len(ri) >= 0.9 * len(ic_true), (len(ri), len(ic_true))
    assert len(ev) <= len(ic_true) + 1, (len(ev), len(ic_true))


@settings(max_examples=10, deadline=None, derandomize=True)  # a statistical threshold: fixed draws keep CI stable
@given(seed=st.integers(0, 10_000), placement=st.sampled_from(["shank", "foot"]),
       speed=st.floats(0.8, 1.6), rate=st.sampled_from([100.0, 200.0, 400.0]))
# found by this test in CI: the reversed walk's first (tentative) swing was replaced by the push-off after it,
# through the change-of-direction rule, so the first backward stride came out forward
@example(seed=9997, placement="foot", speed=0.875, rate=100.0)
def test_time_reversed_forward_walk_is_backward_with_the_learned_mount(seed, placement, speed, rate):
    walk = generate_walk(segments=[(1.0, "still"), (20.0, "forward", speed), (1.0, "still")], rate_hz=rate,
                         placement=placement, rotation="random", seed=seed)
    fwd = imuwalk.detect_steps(walk.t, walk.acc, walk.gyr, placement=placement).events
    _assert_strides_found(walk.ic, fwd)
    mount = calibrate_mount(fwd[1:6])
    # the learned mount classifies the forward walk forward ...
    again = imuwalk.detect_steps(walk.t, walk.acc, walk.gyr, placement=placement, mount=mount).events
    assert np.mean(again["direction"] == 1) >= 0.95
    # ... and its time reversal backward, stride by stride
    rev = reverse_time(walk)
    bw = imuwalk.detect_steps(rev.t, rev.acc, rev.gyr, placement=placement, mount=mount).events
    _assert_strides_found(rev.ic, bw)
    assert np.mean(bw["direction"] == -1) >= 0.95, np.mean(bw["direction"] == -1)
    # the reversal preserves the swing axis up to its sign: same axis, opposite direction
    ax_f = np.median(np.abs(np.stack([fwd["swing_axis_x"], fwd["swing_axis_y"], fwd["swing_axis_z"]], 1)), 0)
    ax_b = np.median(np.abs(np.stack([bw["swing_axis_x"], bw["swing_axis_y"], bw["swing_axis_z"]], 1)), 0)
    assert np.allclose(ax_f, ax_b, atol=0.1)
