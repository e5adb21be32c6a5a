"""Dashboard: frame content, plain-line fallback, and a real terminal (tmux) showing the live screen."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from imuwalk.cli.dashboard import Dashboard, format_plain_line, render_dashboard
from imuwalk.core.summary import summarize

sys.path.insert(0, str(Path(__file__).parent))
from test_summary import make_rows  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LINK = {"rate_hz": 99.7, "frames_lost": 3, "crc_errors": 2, "reconnects": 1, "port": "/dev/pts/9"}


def _text(renderable, width=110) -> str:
    from rich.console import Console

    c = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    c.print(renderable)
    return c.export_text()


def test_frame_shows_directions_goal_link_recording():
    rows = make_rows([(1, 30, 1.0, 0.0), (-1, 61, 1.2, 10.0)])
    s = summarize(rows, goal_minutes=2.0)
    txt = _text(render_dashboard(s, LINK, {"path": "walk.h5", "state": "recording", "samples": 12345},
                                 elapsed_s=42.0))
    assert "BACKWARD" in txt  # current direction = last stride
    assert "Forward" in txt and "Backward" in txt and "cadence" in txt
    # steps (2 per stride) and cadence (120 / stride time)
    fwd_line = next(ln for ln in txt.splitlines() if "Forward" in ln)
    bwd_line = next(ln for ln in txt.splitlines() if "Backward " in ln and "goal" not in ln)
    assert "60" in fwd_line.split() and "120" in fwd_line.split()
    assert "122" in bwd_line.split() and "100" in bwd_line.split()
    assert f"{100 * s.goal_progress:.0f} %" in txt
    assert "99.7 Hz" in txt and "frames lost 3" in txt and "CRC errors 2" in txt and "reconnects 1" in txt
    assert "walk.h5" in txt and "12,345 samples" in txt


def test_frame_before_any_stride_and_auto_direction_note():
    txt = _text(render_dashboard(summarize(make_rows([])), None, None))
    assert "waiting for strides" in txt and "off" in txt
    rows = make_rows([(1, 3, 1.0, 0.0)])
    rows["flags"] |= 2
    assert "automatic" in _text(render_dashboard(summarize(rows), None, None))


def test_plain_mode_prints_periodic_lines_and_final_line():
    buf = io.StringIO()  # not a TTY -> plain lines
    rows = make_rows([(-1, 20, 1.0, 0.0)])
    with Dashboard(goal_minutes=1.0, stream=buf, plain_interval_s=0.0) as dash:
        assert not dash.live
        dash.update(rows[:10], LINK, "recording x.h5")
        dash.update(rows[10:])
    lines = buf.getvalue().splitlines()
    assert len(lines) == 3  # two updates + the final line at stop
    assert "Backward 40 steps" in lines[-1] and "frames_lost=3" in lines[-1]
    assert "rec recording x.h5" in lines[-1]
    assert dash.summary() == summarize(rows, goal_minutes=1.0)
    assert lines[-1] == format_plain_line(dash.summary(), LINK, "recording x.h5",
                                          elapsed_s=float(lines[-1][1:8]))


def test_plain_mode_rate_limited():
    buf = io.StringIO()
    with Dashboard(stream=buf, plain_interval_s=60.0) as dash:
        for _ in range(50):
            dash.update(None, LINK)
    assert len(buf.getvalue().splitlines()) == 2  # first update + final


def test_bad_arguments():
    with pytest.raises(ValueError, match="refresh_per_second"):
        Dashboard(refresh_per_second=0)
    with pytest.raises(ValueError, match="goal_minutes"):
        Dashboard(goal_minutes=-1)


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (CI installs it via .ci/run)")
def test_live_dashboard_in_real_terminal(tmp_path):
    rows_py = (Path(__file__).parent / "test_summary.py").resolve()
    script = tmp_path / "live.py"
    done = tmp_path / "done"
    script.write_text(textwrap.dedent(f"""
        import sys, time, importlib.util
        spec = importlib.util.spec_from_file_location("ts", {str(rows_py)!r})
        ts = importlib.util.module_from_spec(spec); spec.loader.exec_module(ts)
        from imuwalk.cli.dashboard import Dashboard
        rows = ts.make_rows([(1, 10, 1.0, 0.0), (-1, 30, 1.1, 6.0)])
        link = {LINK!r}
        with Dashboard(goal_minutes=10, title="tmux test", refresh_per_second=10) as d:
            assert d.live, "stdout should be a terminal here"
            for i in range(0, len(rows), 5):
                d.update(rows[i:i + 5], link, {{"path": "t.h5", "state": "recording", "samples": 100 * i}})
                time.sleep(0.05)
            d.update(None, link, {{"path": "t.h5", "state": "finalized", "samples": 4000}})
            time.sleep(0.3)
        open({str(done)!r}, "w").write("ok")
        time.sleep(30)
    """))
    session = f"imuwalk-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color"}
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40",
          "-e", f"PYTHONPATH={env['PYTHONPATH']}", f"{sys.executable} {script}")
    try:
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        screen = _tmux("capture-pane", "-p", "-t", session)
        assert done.exists(), f"dashboard script did not finish; screen:\n{screen}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert "tmux test" in screen
    assert "BACKWARD" in screen and "Backward" in screen and "cadence" in screen
    bwd_line = next(ln for ln in screen.splitlines() if "Backward " in ln and "goal" not in ln)
    assert "60" in bwd_line.replace("│", " ").split(), bwd_line  # backward steps: 30 strides x 2
    assert "frames lost 3" in screen and "CRC errors 2" in screen and "99.7 Hz" in screen
    assert "finalized" in screen and "t.h5" in screen
    assert "━" in screen  # the goal progress bar is drawn
