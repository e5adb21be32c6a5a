"""Session summary: steps, minutes and cadence per walking direction, bouts, daily backward goal.

Pure computation on stride rows (:data:`imuwalk.core.rows.STRIDE_DTYPE`); no I/O.

Rules (the same for :func:`summarize` on a whole recording and :class:`SummaryTracker` during streaming):

* **Steps.** A row is one stride of the *instrumented* leg. One stride contains two steps (one per
  leg), so ``steps = 2 × strides``. The other leg is not measured; this assumes it walks along.
* **Direction.** ``direction`` +1 forward, -1 backward, 0 other/unknown (sideways, turning, shuffling).
  Other strides are counted under ``*_other`` and never count towards the goal.
* **Bouts.** Strides are taken in time order. A new bout starts at the first stride, when the
  direction changes, after a pause: the instrumented foot stood still for more than ``pause_s``
  between the previous landing and this lift-off (``t_fc - previous t_ic > pause_s``), and at a stride the
  detector did not link to the previous one (flag ``FLAG_AFTER_GAP``: a gap in the samples, e.g. a link
  outage, or more than ``max_stride_s`` since the previous landing), whose interval is no stride time.
* **Walking time.** A bout lasts from its first lift-off (``t_fc`` of its first stride) to its last
  landing (``t_ic`` of its last stride). So the first stride of a bout counts its swing only, each
  later stride its full stride time (``t_ic - previous t_ic``). Minutes per direction are sums of
  bout durations. (A bout of one stride lasts one swing, ~0.4 s.)
* **Cadence** (steps/min) per direction = ``120 / mean stride time`` over the strides that have a
  previous stride in their bout (``2 × n / Σ(t_ic - previous t_ic) × 60``). NaN when there is none.
* **Goal.** ``goal_progress = min(1, backward_minutes / goal_minutes)``; ``goal_remaining_minutes =
  max(0, goal_minutes - backward_minutes)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from imuwalk.core.rows import FLAG_AFTER_GAP, FLAG_AUTO_DIRECTION

__all__ = ["Bout", "SessionSummary", "SummaryTracker", "summarize", "direction_name"]

_DIR_NAMES = {1: "forward", -1: "backward", 0: "other"}


def direction_name(direction: int) -> str:
    """'forward' (+1), 'backward' (-1) or 'other' (0)."""
    return _DIR_NAMES[int(direction)]


def _same(a: Any, b: Any) -> bool:
    """``a == b``, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _nan_to_none(x: float) -> float | None:
    return None if (x is None or not math.isfinite(x)) else float(x)


@dataclass(frozen=True)
class Bout:
    """One uninterrupted run of strides in one direction. Times in s on the detector's time base."""

    start_s: float
    end_s: float
    direction: int
    strides: int
    #: sum of stride times (t_ic - previous t_ic) inside the bout, s, and how many there were
    stride_time_sum_s: float = 0.0
    n_stride_times: int = 0

    @property
    def steps(self) -> int:
        return 2 * self.strides

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def cadence_spm(self) -> float:
        """Steps per minute inside the bout (NaN for a single-stride bout)."""
        if self.n_stride_times == 0 or self.stride_time_sum_s <= 0:
            return math.nan
        return 120.0 * self.n_stride_times / self.stride_time_sum_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": float(self.start_s),
            "end_s": float(self.end_s),
            "duration_s": float(self.duration_s),
            "direction": int(self.direction),
            "direction_name": direction_name(self.direction),
            "strides": int(self.strides),
            "steps": int(self.steps),
            "cadence_spm": _nan_to_none(self.cadence_spm),
        }


@dataclass(frozen=True)
class SessionSummary:
    """Result of :func:`summarize`. Minutes are minutes of walking; cadence in steps/min."""

    strides_forward: int
    strides_backward: int
    strides_other: int
    forward_minutes: float
    backward_minutes: float
    other_minutes: float
    cadence_forward_spm: float
    cadence_backward_spm: float
    cadence_other_spm: float
    bouts: tuple[Bout, ...]
    goal_minutes: float
    pause_s: float
    #: direction of the most recent stride (0 when there is none)
    current_direction: int = 0
    #: t_ic of the first and last stride, s (NaN when there are none)
    t_first_s: float = math.nan
    t_last_s: float = math.nan
    #: True when any stride's direction came from the automatic mode (forward = dominant swing sign)
    direction_auto: bool = False
    extra: dict = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        """Field by field, a NaN equal to a NaN (the cadences and times of a session without strides).

        Written out because the generated ``__eq__`` differs between Pythons: up to 3.12 it compares field
        tuples (where the same NaN object equals itself), from 3.13 field by field with ``==`` (NaN ≠ NaN).
        """
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    @property
    def strides(self) -> int:
        return self.strides_forward + self.strides_backward + self.strides_other

    @property
    def steps_forward(self) -> int:
        return 2 * self.strides_forward

    @property
    def steps_backward(self) -> int:
        return 2 * self.strides_backward

    @property
    def steps_other(self) -> int:
        return 2 * self.strides_other

    @property
    def steps(self) -> int:
        return 2 * self.strides

    @property
    def walking_minutes(self) -> float:
        return self.forward_minutes + self.backward_minutes + self.other_minutes

    @property
    def goal_progress(self) -> float:
        """Backward minutes / goal, clipped to 0..1."""
        return min(1.0, self.backward_minutes / self.goal_minutes)

    @property
    def goal_remaining_minutes(self) -> float:
        return max(0.0, self.goal_minutes - self.backward_minutes)

    @property
    def goal_reached(self) -> bool:
        return self.backward_minutes >= self.goal_minutes

    @property
    def goal_percent_text(self) -> str:
        """Progress for display, "99 %" until the goal is reached (rounding never shows 100 % early)."""
        pct = 100.0 * self.goal_progress
        return f"{pct:.0f} %" if self.goal_reached else f"{min(math.floor(pct), 99):d} %"

    @property
    def goal_remaining_text(self) -> str:
        """Minutes to go for display, rounded up to 0.01 (never "0.00 min to go" before the goal)."""
        return f"{math.ceil(self.goal_remaining_minutes * 100.0 - 1e-9) / 100.0:.2f} min to go"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable keys (NaN becomes None). See docs/CLI.md for units."""
        return {
            "strides": self.strides,
            "strides_forward": self.strides_forward,
            "strides_backward": self.strides_backward,
            "strides_other": self.strides_other,
            "steps": self.steps,
            "steps_forward": self.steps_forward,
            "steps_backward": self.steps_backward,
            "steps_other": self.steps_other,
            "forward_minutes": float(self.forward_minutes),
            "backward_minutes": float(self.backward_minutes),
            "other_minutes": float(self.other_minutes),
            "walking_minutes": float(self.walking_minutes),
            "cadence_forward_spm": _nan_to_none(self.cadence_forward_spm),
            "cadence_backward_spm": _nan_to_none(self.cadence_backward_spm),
            "cadence_other_spm": _nan_to_none(self.cadence_other_spm),
            "current_direction": int(self.current_direction),
            "direction_auto": bool(self.direction_auto),
            "t_first_s": _nan_to_none(self.t_first_s),
            "t_last_s": _nan_to_none(self.t_last_s),
            "n_bouts": len(self.bouts),
            "bouts": [b.to_dict() for b in self.bouts],
            "goal_minutes": float(self.goal_minutes),
            "goal_progress": float(self.goal_progress),
            "goal_remaining_minutes": float(self.goal_remaining_minutes),
            "goal_reached": bool(self.goal_reached),
            "pause_s": float(self.pause_s),
        }

    def text(self) -> str:
        """A few human-readable lines (used by the CLI)."""

        def cad(x: float) -> str:
            return "-" if not math.isfinite(x) else f"{x:.0f} steps/min"

        lines = [
            f"Forward : {self.steps_forward:5d} steps  {self.forward_minutes:6.2f} min  "
            f"cadence {cad(self.cadence_forward_spm)}",
            f"Backward: {self.steps_backward:5d} steps  {self.backward_minutes:6.2f} min  "
            f"cadence {cad(self.cadence_backward_spm)}",
        ]
        if self.strides_other:
            lines.append(f"Other   : {self.steps_other:5d} steps  {self.other_minutes:6.2f} min")
        lines.append(
            f"Bouts   : {len(self.bouts)}   Goal: {self.backward_minutes:.2f} / {self.goal_minutes:g} min "
            f"backward ({self.goal_percent_text}"
            + (", reached)" if self.goal_reached else f", {self.goal_remaining_text})")
        )
        if self.direction_auto:
            lines.append("Note    : direction set automatically (forward = dominant swing); "
                         "give a mount (--mount AXIS) to override")
        return "\n".join(lines)


def _positive(v: Any, name: str, unit: str) -> float:
    """``v`` as a positive finite float; ValueError naming ``name`` (bools and text are refused too)."""
    try:
        if isinstance(v, bool):
            raise TypeError
        x = float(v)
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a positive number of {unit}, got {v!r}")
    return x


class SummaryTracker:
    """Incremental session summary: ``add(rows)`` as strides arrive, ``summary()`` at any time.

    Gives exactly the same :class:`SessionSummary` as :func:`summarize` on all rows at once,
    whatever the chunking. Rows must arrive in time order (non-decreasing ``t_ic``).

    Parameters
    ----------
    goal_minutes : daily backward-walking goal, minutes (> 0).
    pause_s : a foot standing still longer than this (s, > 0) ends a bout.
    """

    def __init__(self, goal_minutes: float = 10.0, pause_s: float = 3.0) -> None:
        goal_minutes = _positive(goal_minutes, "goal_minutes", "minutes")
        pause_s = _positive(pause_s, "pause_s", "seconds")
        self.goal_minutes = goal_minutes
        self.pause_s = pause_s
        self.reset()

    def __repr__(self) -> str:
        n = self._strides
        n_bouts = len(self._bouts) + (self._open is not None)
        return (f"SummaryTracker(strides={n[1] + n[-1] + n[0]} (forward {n[1]}, backward {n[-1]}, other {n[0]}), "
                f"bouts={n_bouts}, goal_minutes={self.goal_minutes:g}, pause_s={self.pause_s:g})")

    def reset(self) -> SummaryTracker:
        """Forget all strides."""
        self._strides = {1: 0, -1: 0, 0: 0}
        self._closed_s = {1: 0.0, -1: 0.0, 0: 0.0}  # walking seconds of closed bouts
        self._st_sum = {1: 0.0, -1: 0.0, 0: 0.0}  # sum of stride times, s
        self._st_n = {1: 0, -1: 0, 0: 0}
        self._bouts: list[Bout] = []
        self._open: list | None = None  # [start, end, direction, strides, st_sum, st_n]
        self._last_ic = math.nan
        self._first_ic = math.nan
        self._auto = False
        return self

    def add(self, rows: Any) -> SummaryTracker:
        """Add stride rows (STRIDE_DTYPE array, or anything with ``.events``); returns self."""
        rows = _as_rows(rows)
        t_ic = rows["t_ic"]
        t_fc = rows["t_fc"]
        direc = rows["direction"]
        flags = rows["flags"] if "flags" in rows.dtype.names else np.zeros(len(rows), np.uint16)
        if len(rows) == 0:
            return self
        if not np.all(np.isfinite(t_ic)):
            raise ValueError("rows: t_ic must be finite for every stride")
        if not np.all(np.isin(direc, (-1, 0, 1))):
            raise ValueError("rows: direction must be -1, 0 or +1")
        prev = self._last_ic
        if math.isfinite(prev) and t_ic[0] < prev or np.any(np.diff(t_ic) < 0):
            raise ValueError("rows: strides must arrive in time order (non-decreasing t_ic)")
        for ic, fc, d, fl in zip(t_ic.tolist(), t_fc.tolist(), direc.tolist(), flags.tolist(), strict=True):
            self._add_one(ic, fc, int(d), int(fl))
        return self

    def _add_one(self, ic: float, fc: float, d: int, fl: int) -> None:
        start = fc if (math.isfinite(fc) and fc <= ic) else ic
        ob = self._open
        # a stride the detector did not link to a previous one (FLAG_AFTER_GAP: first stride, a gap in the
        # samples such as a link outage, or more than max_stride_s since the last landing) starts a bout: the
        # time before it is not walking and its interval is no stride time
        linked = not (fl & FLAG_AFTER_GAP)
        if ob is not None and linked and ob[2] == d and (start - self._last_ic) <= self.pause_s:
            st = ic - self._last_ic
            ob[1] = ic
            ob[3] += 1
            ob[4] += st
            ob[5] += 1
            self._st_sum[d] += st
            self._st_n[d] += 1
        else:
            if ob is not None:
                self._close()
            self._open = [start, ic, d, 1, 0.0, 0]
        self._strides[d] += 1
        if not math.isfinite(self._first_ic):
            self._first_ic = ic
        self._last_ic = ic
        if fl & FLAG_AUTO_DIRECTION:
            self._auto = True

    def _close(self) -> None:
        ob = self._open
        b = Bout(start_s=ob[0], end_s=ob[1], direction=ob[2], strides=ob[3], stride_time_sum_s=ob[4],
                 n_stride_times=ob[5])
        self._bouts.append(b)
        self._closed_s[b.direction] += b.duration_s
        self._open = None

    def summary(self) -> SessionSummary:
        """The summary of everything added so far (the open bout included)."""
        secs = dict(self._closed_s)
        bouts = list(self._bouts)
        if self._open is not None:
            ob = self._open
            b = Bout(start_s=ob[0], end_s=ob[1], direction=ob[2], strides=ob[3], stride_time_sum_s=ob[4],
                     n_stride_times=ob[5])
            bouts.append(b)
            secs[b.direction] += b.duration_s

        def cad(d: int) -> float:
            n, s = self._st_n[d], self._st_sum[d]
            return 120.0 * n / s if (n and s > 0) else math.nan

        return SessionSummary(
            strides_forward=self._strides[1],
            strides_backward=self._strides[-1],
            strides_other=self._strides[0],
            forward_minutes=secs[1] / 60.0,
            backward_minutes=secs[-1] / 60.0,
            other_minutes=secs[0] / 60.0,
            cadence_forward_spm=cad(1),
            cadence_backward_spm=cad(-1),
            cadence_other_spm=cad(0),
            bouts=tuple(bouts),
            goal_minutes=self.goal_minutes,
            pause_s=self.pause_s,
            current_direction=bouts[-1].direction if bouts else 0,
            t_first_s=self._first_ic,
            t_last_s=self._last_ic,
            direction_auto=self._auto,
        )


def _as_rows(rows: Any) -> np.ndarray:
    if hasattr(rows, "events") and not isinstance(rows, np.ndarray):
        rows = rows.events
    rows = np.asarray(rows)
    names = rows.dtype.names or ()
    missing = [n for n in ("t_ic", "t_fc", "direction") if n not in names]
    if missing:
        raise ValueError(f"events: expected stride rows (STRIDE_DTYPE) with fields t_ic, t_fc, direction; "
                         f"missing {missing}")
    return rows.reshape(-1)


def summarize(events: Any, goal_minutes: float = 10.0, pause_s: float = 3.0) -> SessionSummary:
    """Session summary of stride rows (see the module doc for every rule).

    events : STRIDE_DTYPE array (or a DetectionResult), in time order.
    goal_minutes : daily backward-walking goal, min. pause_s : standing still longer than this ends a bout, s.
    """
    return SummaryTracker(goal_minutes=goal_minutes, pause_s=pause_s).add(events).summary()
