"""Session summary: rules on hand-built strides, incremental == batch over random chunkings, JSON doc."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imuwalk
from imuwalk.core.rows import FLAG_AUTO_DIRECTION, empty_rows
from imuwalk.core.summary import SummaryTracker, summarize
from imuwalk.sinks.jsonout import SCHEMA, dumps, result_document


def make_rows(segments, swing=0.4, t0=1.0):
    """Strides for segments [(direction, n_strides, stride_time_s, pause_before_s)].

    The foot lands every stride_time; lift-off is ``swing`` s before landing.
    """
    out = []
    t_ic_prev = None
    t = t0
    for d, n, T, pause in segments:
        t += pause
        for _ in range(n):
            t += T
            out.append((t, t - swing, d, t_ic_prev))
            t_ic_prev = t
    rows = empty_rows(len(out))
    for i, (ic, fc, d, p) in enumerate(out):
        rows[i]["t_ic"] = ic
        rows[i]["t_fc"] = fc
        rows[i]["t_emit"] = ic + 0.1
        rows[i]["t_prev_ic"] = np.nan if p is None else p
        rows[i]["stride_time_s"] = np.nan if p is None else ic - p
        rows[i]["swing_time_s"] = swing
        rows[i]["direction"] = d
        rows[i]["direction_confidence"] = 0.9
        rows[i]["stride_index"] = i
    return rows


def test_rules_on_known_session():
    # 30 forward strides at 1.0 s, 10 s rest, 60 backward strides at 1.2 s, then 5 forward (direction change)
    rows = make_rows([(1, 30, 1.0, 0.0), (-1, 60, 1.2, 10.0), (1, 5, 1.0, 0.0)])
    s = summarize(rows, goal_minutes=2.0)
    assert (s.strides_forward, s.strides_backward, s.strides_other) == (35, 60, 0)
    assert (s.steps_forward, s.steps_backward, s.steps) == (70, 120, 190)
    assert len(s.bouts) == 3
    assert [b.direction for b in s.bouts] == [1, -1, 1]
    assert [b.strides for b in s.bouts] == [30, 60, 5]
    # bout = first lift-off .. last landing: swing + (n-1) stride times
    assert s.bouts[0].duration_s == pytest.approx(0.4 + 29 * 1.0)
    assert s.bouts[1].duration_s == pytest.approx(0.4 + 59 * 1.2)
    assert s.backward_minutes == pytest.approx((0.4 + 59 * 1.2) / 60)
    assert s.forward_minutes == pytest.approx((0.4 + 29 + 0.4 + 4) / 60)
    # cadence = 120 / stride time
    assert s.cadence_forward_spm == pytest.approx(120.0)
    assert s.cadence_backward_spm == pytest.approx(100.0)
    assert s.current_direction == 1
    assert s.goal_progress == pytest.approx(min(1.0, s.backward_minutes / 2.0))
    assert s.goal_remaining_minutes == pytest.approx(2.0 - s.backward_minutes)
    assert not s.goal_reached


def test_pause_threshold_splits_bouts():
    # stance before the 2nd bout = pause + (stride_time - swing) = pause + 0.6 s
    just_under = make_rows([(-1, 5, 1.0, 0.0), (-1, 5, 1.0, 2.3)])
    just_over = make_rows([(-1, 5, 1.0, 0.0), (-1, 5, 1.0, 2.5)])
    assert len(summarize(just_under, pause_s=3.0).bouts) == 1
    assert len(summarize(just_over, pause_s=3.0).bouts) == 2
    assert len(summarize(just_over, pause_s=4.0).bouts) == 1


def test_goal_reached_and_other_direction():
    rows = make_rows([(-1, 200, 1.0, 0.0), (0, 4, 1.0, 0.0)])
    s = summarize(rows, goal_minutes=3.0)
    assert s.goal_reached and s.goal_progress == 1.0 and s.goal_remaining_minutes == 0.0
    assert s.strides_other == 4 and s.steps_other == 8
    assert s.backward_minutes == pytest.approx((0.4 + 199) / 60)


def test_empty_and_single_stride():
    s = summarize(empty_rows(0))
    assert s.strides == 0 and s.bouts == () and s.current_direction == 0
    assert math.isnan(s.cadence_forward_spm)
    d = s.to_dict()
    assert d["cadence_forward_spm"] is None and d["goal_progress"] == 0.0
    one = summarize(make_rows([(-1, 1, 1.0, 0.0)]))
    assert one.steps_backward == 2 and one.backward_minutes == pytest.approx(0.4 / 60)
    assert math.isnan(one.cadence_backward_spm)


def test_auto_direction_flag_reported():
    rows = make_rows([(1, 3, 1.0, 0.0)])
    assert not summarize(rows).direction_auto
    rows["flags"][1] |= FLAG_AUTO_DIRECTION
    assert summarize(rows).direction_auto


def test_bad_input_errors():
    with pytest.raises(ValueError, match="goal_minutes"):
        SummaryTracker(goal_minutes=0)
    with pytest.raises(ValueError, match="pause_s"):
        summarize(empty_rows(0), pause_s=-1)
    with pytest.raises(ValueError, match="events"):
        summarize(np.zeros(3))
    rows = make_rows([(1, 4, 1.0, 0.0)])
    with pytest.raises(ValueError, match="time order"):
        summarize(rows[::-1])
    tr = SummaryTracker().add(rows)
    with pytest.raises(ValueError, match="time order"):
        tr.add(rows[:1])
    bad = rows.copy()
    bad["direction"][0] = 3
    with pytest.raises(ValueError, match="direction"):
        summarize(bad)
    bad = rows.copy()
    bad["t_ic"][2] = np.nan
    with pytest.raises(ValueError, match="t_ic"):
        summarize(bad)


def test_public_names():
    assert imuwalk.summarize is summarize
    assert imuwalk.SummaryTracker is SummaryTracker


segment = st.tuples(
    st.sampled_from([1, -1, 0]),
    st.integers(1, 25),
    st.floats(0.7, 2.0),
    st.floats(0.0, 8.0),
)


@settings(max_examples=60, deadline=None)
@given(segs=st.lists(segment, min_size=0, max_size=8), cuts=st.lists(st.integers(0, 200), max_size=6),
       goal=st.floats(0.5, 20), pause=st.floats(0.5, 6))
def test_tracker_equals_batch_for_any_chunking(segs, cuts, goal, pause):
    rows = make_rows(segs)
    whole = summarize(rows, goal_minutes=goal, pause_s=pause)
    tr = SummaryTracker(goal_minutes=goal, pause_s=pause)
    edges = sorted({0, len(rows), *[c for c in cuts if c <= len(rows)]})
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        tr.add(rows[a:b])
        tr.summary()  # intermediate summaries must not disturb the state
    part = tr.summary()
    assert part == whole  # exact equality, floats included
    assert part.to_dict() == whole.to_dict()
    # invariants that hold for every session
    assert sum(b.strides for b in whole.bouts) == whole.strides == len(rows)
    assert whole.backward_minutes >= 0 and whole.forward_minutes >= 0
    for b1, b2 in zip(whole.bouts[:-1], whole.bouts[1:], strict=True):
        assert b1.end_s <= b2.start_s + 1e-9
        assert b1.direction != b2.direction or (b2.start_s - b1.end_s) > pause


def test_result_document_contract():
    rows = make_rows([(1, 10, 1.0, 0.0), (-1, 10, 1.1, 5.0)])
    rows["stance_time_s"][0] = np.nan
    doc = result_document(rows, extra={"link": {"rate_hz": np.float32(100.0), "crc_errors": np.int64(0)}})
    text = dumps(doc)  # strict: raises on NaN
    back = json.loads(text)
    assert back["schema"] == SCHEMA
    assert len(back["strides"]) == 20
    first = back["strides"][0]
    for key in ("t_ic", "t_fc", "direction", "direction_confidence", "stride_time_s", "swing_time_s"):
        assert key in first
    assert first["stride_time_s"] is None and first["stance_time_s"] is None
    assert back["strides"][15]["direction"] == -1
    for key in ("backward_minutes", "forward_minutes", "steps_forward", "steps_backward", "strides",
                "cadence_forward_spm", "cadence_backward_spm", "bouts", "goal_minutes", "goal_progress"):
        assert key in back["summary"], key
    assert back["summary"]["steps_backward"] == 20
    assert back["link"] == {"rate_hz": 100.0, "crc_errors": 0}
    with pytest.raises(ValueError, match="reserved"):
        result_document(rows, extra={"summary": {}})
    with pytest.raises(ValueError, match="rows"):
        result_document(np.zeros(3))


def test_summaries_compare_equal_with_nan_fields_on_every_python():
    empty = summarize(empty_rows(0), goal_minutes=10)
    assert math.isnan(empty.cadence_forward_spm) and math.isnan(empty.t_first_s)
    assert empty == summarize(empty_rows(0), goal_minutes=10)
    assert not (empty != summarize(empty_rows(0), goal_minutes=10))
    # a NaN that is a different object: equality must not rest on identity (Python 3.13's generated
    # dataclass __eq__ compares with ==, which would make these two summaries differ)
    fresh = dataclasses.replace(empty, cadence_forward_spm=float("nan"))
    assert fresh.cadence_forward_spm is not empty.cadence_forward_spm and fresh == empty
    assert empty != summarize(empty_rows(0), goal_minutes=5)  # one field differs
    assert empty != "not a summary"


def test_goal_is_never_shown_reached_before_it_is():
    """9.997 of 10 min once read "100 %, 0.00 min to go" with goal_reached False (review, session 9)."""
    import numpy as np

    from imuwalk import summarize
    from imuwalk.core.rows import STRIDE_DTYPE

    r = np.zeros(1, STRIDE_DTYPE)
    r["t_fc"], r["t_ic"], r["t_emit"], r["direction"], r["stride_time_s"] = 0.0, 599.8, 600.0, -1, np.nan
    s = summarize(r)
    assert not s.goal_reached and s.goal_percent_text == "99 %" and s.goal_remaining_text == "0.01 min to go"
    assert "(99 %, 0.01 min to go)" in s.text()
    r["t_ic"] = 600.0
    done = summarize(r)
    assert done.goal_reached and done.goal_percent_text == "100 %" and "reached" in done.text()


@pytest.mark.parametrize("kw", [{"pause_s": "x"}, {"pause_s": None}, {"pause_s": True}, {"goal_minutes": True},
                                {"goal_minutes": "ten"}, {"pause_s": 0}, {"goal_minutes": float("nan")}])
def test_summary_arguments_are_value_errors_naming_them(kw):
    from imuwalk.core.summary import SummaryTracker

    with pytest.raises(ValueError, match=rf"^{next(iter(kw))} must be a positive number"):
        SummaryTracker(**kw)


def test_a_stride_after_a_data_gap_starts_a_bout_and_gives_no_stride_time():
    """A 1.5 s link outage (or a stop longer than max_stride_s) once counted as walking and lowered the cadence:
    108 steps/min read as 98. The detector's FLAG_AFTER_GAP row now starts a bout (review, session 9)."""
    import numpy as np

    from imuwalk import summarize
    from imuwalk.core.rows import FLAG_AFTER_GAP, STRIDE_DTYPE

    ic = np.r_[np.arange(1.0, 11.0, 1.1), np.arange(13.0, 23.0, 1.1)]  # 1.1 s strides, a 2.9 s hole
    r = np.zeros(len(ic), STRIDE_DTYPE)
    r["t_ic"], r["t_fc"], r["t_emit"], r["direction"] = ic, ic - 0.4, ic + 0.1, 1
    first_after = int(np.searchsorted(ic, 13.0))
    r["flags"][[0, first_after]] = FLAG_AFTER_GAP
    s = summarize(r, pause_s=3.0)
    assert len(s.bouts) == 2
    assert s.cadence_forward_spm == pytest.approx(120 / 1.1)
    walked = (ic[first_after - 1] - (ic[0] - 0.4)) + (ic[-1] - (ic[first_after] - 0.4))
    assert s.forward_minutes == pytest.approx(walked / 60)
    r["flags"][first_after] = 0  # without the flag the pause rule alone joins them (2.5 s < 3 s)
    assert len(summarize(r, pause_s=3.0).bouts) == 1
