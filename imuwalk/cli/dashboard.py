"""Live terminal dashboard for ``imuwalk demo`` / ``imuwalk stream`` (rich Live; plain lines off a TTY).

Usage (from a command's run loop)::

    with Dashboard(goal_minutes=10, title="imuwalk stream /dev/ttyACM0") as dash:
        for rows in ...:                       # stride rows as the detector emits them
            dash.update(rows, link_stats={"rate_hz": 99.8, "frames_lost": 0, "crc_errors": 0,
                                          "reconnects": 0, "port": "/dev/ttyACM0"},
                        recording_status={"path": "walk.h5", "state": "recording", "samples": 12000})
    print(dash.summary().text())

``update`` is cheap and thread-safe; rows may be None/empty to refresh only the link or recording
state. On a terminal the screen is redrawn ``refresh_per_second`` times a second by rich's own thread;
otherwise one plain status line is printed every ``plain_interval_s`` seconds (and one at stop).

Link stats keys (all optional): ``rate_hz`` (samples/s received), ``frames_lost``, ``crc_errors``,
``reconnects``, ``port``, ``connected`` (bool), ``samples``.
Recording status: None (not recording), a str (shown as is), or a dict with ``path``, ``state``
('recording' | 'finalized' | 'off' | 'error'), ``samples``.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import Any

from imuwalk.core.summary import SessionSummary, SummaryTracker

__all__ = ["Dashboard", "format_plain_line", "render_dashboard"]

_DIR_STYLE = {
    1: ("FORWARD", "bold green", "▲"),
    -1: ("BACKWARD", "bold magenta", "▼"),
    0: ("OTHER", "bold yellow", "◆"),
}


def _num(x: Any, fmt: str = "{:d}") -> str:
    if x is None:
        return "-"
    try:
        if isinstance(x, float) and not math.isfinite(x):
            return "-"
        return fmt.format(x)
    except (ValueError, TypeError):
        return str(x)


def _cad(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.0f}"


def _mmss(minutes: float) -> str:
    s = int(round(minutes * 60))
    return f"{s // 60:d}:{s % 60:02d}"


def _rec_text(rec: Any) -> tuple[str, str]:
    """(text, rich style) of a recording status."""
    if rec is None:
        return "off", "dim"
    if isinstance(rec, str):
        return rec, ""
    state = str(rec.get("state", "recording"))
    parts = [state]
    if rec.get("path"):
        parts.append(str(rec["path"]))
    if rec.get("samples") is not None:
        parts.append(f"{int(rec['samples']):,} samples")
    style = {"recording": "bold red", "finalized": "green", "error": "bold red"}.get(state, "")
    return "  ".join(parts), style


def _link_items(link: dict | None) -> list[tuple[str, str]]:
    link = link or {}
    items = [
        ("rate", _num(link.get("rate_hz"), "{:.1f} Hz")),
        ("frames lost", _num(link.get("frames_lost"))),
        ("CRC errors", _num(link.get("crc_errors"))),
        ("reconnects", _num(link.get("reconnects"))),
    ]
    if link.get("port"):
        items.append(("port", str(link["port"])))
    if link.get("connected") is False:
        items.append(("state", "DISCONNECTED"))
    return items


def format_plain_line(summary: SessionSummary, link: dict | None = None, rec: Any = None,
                      elapsed_s: float | None = None, current: int | None = None) -> str:
    """One status line (non-TTY mode)."""
    cur = summary.current_direction if current is None else current
    head = f"[{elapsed_s:7.1f} s] " if elapsed_s is not None else ""
    link_s = " ".join(f"{k.replace(' ', '_')}={v.replace(' ', '')}" for k, v in _link_items(link))
    return (
        f"{head}now={_DIR_STYLE[cur][0].lower() if summary.strides else 'waiting'} | "
        f"Forward {summary.steps_forward} steps {summary.forward_minutes:.2f} min "
        f"cadence {_cad(summary.cadence_forward_spm)} | "
        f"Backward {summary.steps_backward} steps {summary.backward_minutes:.2f} min "
        f"cadence {_cad(summary.cadence_backward_spm)} | "
        f"goal {summary.backward_minutes:.2f}/{summary.goal_minutes:g} min "
        f"({100 * summary.goal_progress:.0f}%) | "
        f"link {link_s} | rec {_rec_text(rec)[0]}"
    )


def render_dashboard(summary: SessionSummary, link: dict | None = None, rec: Any = None,
                     elapsed_s: float | None = None, current: int | None = None, title: str = "imuwalk",
                     recent: list[tuple[float, int, float]] | None = None):
    """The rich renderable of one dashboard frame (pure; used by :class:`Dashboard` and tests)."""
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    cur = summary.current_direction if current is None else current
    if summary.strides == 0:
        now = Text("waiting for strides…", style="dim")
    elif cur is None or cur not in _DIR_STYLE:
        now = Text("standing", style="dim")
    else:
        name, style, arrow = _DIR_STYLE[cur]
        now = Text(f"{arrow} {name}", style=style)
    head = Table.grid(expand=True)
    head.add_column(ratio=1)
    head.add_column(justify="right")
    head.add_row(Text.assemble(("Now walking: ", "bold"), now),
                 Text(f"elapsed {elapsed_s:6.1f} s" if elapsed_s is not None else ""))

    t = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    t.add_column("Direction")
    t.add_column("steps", justify="right")
    t.add_column("strides", justify="right")
    t.add_column("minutes", justify="right")
    t.add_column("cadence (steps/min)", justify="right")
    t.add_row(Text("Forward", style="green"), str(summary.steps_forward), str(summary.strides_forward),
              f"{summary.forward_minutes:.2f}", _cad(summary.cadence_forward_spm))
    t.add_row(Text("Backward", style="magenta"), str(summary.steps_backward), str(summary.strides_backward),
              f"{summary.backward_minutes:.2f}", _cad(summary.cadence_backward_spm))
    if summary.strides_other:
        t.add_row(Text("Other", style="yellow"), str(summary.steps_other), str(summary.strides_other),
                  f"{summary.other_minutes:.2f}", _cad(summary.cadence_other_spm))

    goal = Table.grid(expand=True, padding=(0, 1))
    goal.add_column(no_wrap=True)
    goal.add_column(ratio=1)
    goal.add_column(no_wrap=True, justify="right")
    goal.add_row(Text("Backward goal", style="bold"),
                 ProgressBar(total=summary.goal_minutes, completed=min(summary.backward_minutes,
                                                                        summary.goal_minutes),
                             complete_style="magenta", finished_style="bold green"),
                 Text(f"{_mmss(summary.backward_minutes)} / {summary.goal_minutes:g} min "
                      f"({summary.goal_percent_text})"
                      + ("  reached!" if summary.goal_reached else "")))

    link_t = Text.assemble(("Link  ", "bold"), *[x for k, v in _link_items(link) for x in
                                                 ((f"{k} ", "dim"), (f"{v}   ", ""))])
    rtext, rstyle = _rec_text(rec)
    rec_t = Text.assemble(("Recording  ", "bold"), ("● " if rstyle == "bold red" else "", "red"),
                          (rtext, rstyle))
    parts = [head, t, goal, link_t, rec_t]
    info = Text(f"bouts {len(summary.bouts)}", style="dim")
    if summary.direction_auto:
        info.append("   direction: automatic (forward = dominant swing; give --mount to override)",
                    style="yellow")
    parts.append(info)
    if recent:
        line = Text("last strides ", style="dim")
        for t_ic, d, conf in recent[-6:]:
            _, style, arrow = _DIR_STYLE.get(int(d), _DIR_STYLE[0])
            line.append(f"{arrow}", style=style)
            line.append(f"{t_ic:.1f}s({conf:.2f}) ", style="dim")
        parts.append(line)
    return Panel(Group(*parts), title=f"[bold]{title}[/]", subtitle="Ctrl-C to stop", border_style="cyan")


class Dashboard:
    """Live session dashboard; a context manager. See the module doc for the ``update`` arguments.

    goal_minutes : daily backward goal, min. pause_s : bout pause, s (both passed to SummaryTracker).
    live : True = rich Live screen, False = plain lines, None = Live iff the stream is a terminal.
    stream : where to draw (default sys.stdout). refresh_per_second : Live redraw rate, 1/s.
    plain_interval_s : seconds between plain lines.
    """

    def __init__(self, goal_minutes: float = 10.0, pause_s: float = 3.0, title: str = "imuwalk",
                 live: bool | None = None, stream=None, refresh_per_second: float = 4.0,
                 plain_interval_s: float = 5.0) -> None:
        if not refresh_per_second > 0:
            raise ValueError(f"refresh_per_second must be > 0, got {refresh_per_second!r}")
        if not plain_interval_s >= 0:
            raise ValueError(f"plain_interval_s must be >= 0, got {plain_interval_s!r}")
        self.title = title
        self.stream = stream if stream is not None else sys.stdout
        self.live = bool(live) if live is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.refresh_per_second = float(refresh_per_second)
        self.plain_interval_s = float(plain_interval_s)
        self.tracker = SummaryTracker(goal_minutes=goal_minutes, pause_s=pause_s)
        self.link_stats_: dict = {}
        self.recording_status_: Any = None
        self.recent_: list[tuple[float, int, float]] = []
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._last_plain = -math.inf
        self._live = None
        self._summary = self.tracker.summary()

    # -- state -------------------------------------------------------------------------------------
    def update(self, rows=None, link_stats: dict | None = None, recording_status: Any = None) -> Dashboard:
        """Add stride rows and/or new link/recording state; redraws (Live) or prints (plain) as due."""
        with self._lock:
            if rows is not None and len(rows):
                self.tracker.add(rows)
                self._summary = self.tracker.summary()
                for r in rows[-8:]:
                    self.recent_.append((float(r["t_ic"]), int(r["direction"]),
                                         float(r["direction_confidence"])
                                         if "direction_confidence" in rows.dtype.names else math.nan))
                self.recent_ = self.recent_[-8:]
            if link_stats is not None:
                self.link_stats_ = dict(link_stats)
            if recording_status is not None:
                self.recording_status_ = recording_status
        if not self.live and self._live_started:
            now = time.monotonic()
            if now - self._last_plain >= self.plain_interval_s:
                self._last_plain = now
                self._print_plain()
        return self

    def summary(self) -> SessionSummary:
        with self._lock:
            return self._summary

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._t0

    # -- drawing -----------------------------------------------------------------------------------
    def renderable(self):
        with self._lock:
            s, link, rec = self._summary, dict(self.link_stats_), self.recording_status_
            recent = list(self.recent_)
        return render_dashboard(s, link, rec, elapsed_s=self.elapsed_s, title=self.title, recent=recent)

    def plain_line(self) -> str:
        with self._lock:
            s, link, rec = self._summary, dict(self.link_stats_), self.recording_status_
        return format_plain_line(s, link, rec, elapsed_s=self.elapsed_s)

    def _print_plain(self) -> None:
        print(self.plain_line(), file=self.stream, flush=True)

    _live_started = False

    def start(self) -> Dashboard:
        self._t0 = time.monotonic()
        self._live_started = True
        if self.live:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, force_terminal=True)
            self._live = Live(get_renderable=self.renderable, console=console,
                              refresh_per_second=self.refresh_per_second, transient=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start(refresh=True)
        return self

    def stop(self) -> None:
        """Final redraw (Live) or final line (plain); idempotent."""
        if not self._live_started:
            return
        self._live_started = False
        if self._live is not None:
            try:
                self._live.refresh()
            finally:
                self._live.stop()
                self._live = None
        else:
            self._print_plain()

    def __enter__(self) -> Dashboard:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
