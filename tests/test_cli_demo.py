"""`imuwalk demo` end to end, as a user runs it: emulator → PTY → SerialSource → detector → dashboard/HDF5.

The demo runs are started together (they are real time, ~10 s each) and checked by the tests below:
plain output (not a TTY), --json, a real terminal through tmux, Ctrl-C, and SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
CMD = [sys.executable, "-m", "imuwalk.cli.main"]


def _sigint_default() -> None:  # a parent shell may have set SIGINT to "ignore"; a user's terminal does not
    signal.signal(signal.SIGINT, signal.SIG_DFL)
HAVE_TMUX = shutil.which("tmux") is not None


class Runs:
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo")
    r = Runs()
    r.dir = d
    r.plain_h5 = d / "plain.h5"
    r.json_h5 = d / "json.h5"
    r.tty_h5 = d / "tty.h5"
    r.int_h5 = d / "int.h5"
    r.term_h5 = d / "term.h5"
    r.tty_done = d / "tty.done"
    procs = {
        # default record path: in the current folder
        "plain": subprocess.Popen([*CMD, "demo", "--duration", "10"], cwd=d, env=ENV, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "json": subprocess.Popen([*CMD, "demo", "--duration", "10", "--json", "--record", str(r.json_h5)],
                                 cwd=d, env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        "int": subprocess.Popen([*CMD, "demo", "--duration", "60", "--record", str(r.int_h5)], cwd=d, env=ENV,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_sigint_default),
        # SIGTERM (a service manager, `kill`) with --json: still one JSON document and a finalized file
        "term": subprocess.Popen([*CMD, "demo", "--duration", "60", "--json", "--record", str(r.term_h5)], cwd=d,
                                 env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
    }
    session = None
    if HAVE_TMUX:
        session = f"imuwalk-demo-{uuid.uuid4().hex[:8]}"
        # 24 s: forward ~6 s, a pause, backward ~9 s, forward again ~4 s; each phase is on screen for
        # seconds, so a loaded CI machine that stalls the dashboard for a few seconds still shows both
        shell = (f"unset COLUMNS LINES; {sys.executable} -m imuwalk.cli.main demo --duration 24 "
                 f"--record {r.tty_h5}; "
                 f"echo $? > {r.tty_done}; sleep 60")
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                        "-e", f"PYTHONPATH={REPO}", shell], check=True)
    r.screens = []

    def watch_screen() -> None:
        t_end = time.monotonic() + 90
        while time.monotonic() < t_end and not r.tty_done.exists():
            time.sleep(0.5)
            r.screens.append(subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                            capture_output=True, text=True).stdout)

    watcher = threading.Thread(target=watch_screen, daemon=True)
    if session:
        watcher.start()
    # Ctrl-C / SIGTERM while the 60 s runs are streaming: once the first status line is out and both
    # recordings hold at least 6 s of samples (read live from the files, as another process would; a loaded
    # machine may take a while to get there). The walk stands still for its first 3 s, so by 6 s each run
    # has emitted its first strides (with 2 s, the SIGTERM run sometimes had none yet: a flaky test).
    first = procs["int"].stdout.readline()
    from imuwalk.sinks.hdf5 import Recording

    def n_recorded(p) -> int:
        try:
            with Recording(p) as rec:
                return len(rec)
        except (OSError, ValueError):
            return 0  # not created or not flushed yet

    t_end = time.monotonic() + 40.0
    while time.monotonic() < t_end:
        time.sleep(0.5)
        if min(n_recorded(r.int_h5), n_recorded(r.term_h5)) >= 600:
            break
    time.sleep(1.0)
    procs["int"].send_signal(signal.SIGINT)
    procs["term"].send_signal(signal.SIGTERM)
    if session:
        watcher.join()
        r.screens.append(subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                        capture_output=True, text=True).stdout)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    r.out = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=90)
        r.out[name] = (p.returncode, (first + out) if name == "int" else out, err)
    return r


def test_demo_plain_run(runs):
    code, out, err = runs.out["plain"]
    assert code == 0, err
    assert "Traceback" not in err
    assert "Session summary" in out and "Forward" in out and "Backward" in out and "Goal" in out
    files = list(runs.dir.glob("imuwalk-demo-*.h5"))
    assert len(files) == 1, files  # default name, in the current folder
    assert f"Recording: {files[0]}" in out
    # not a terminal: plain periodic status lines, no screen-control codes
    assert "now=" in out and "\x1b[" not in out
    from imuwalk.sinks.hdf5 import Recording

    with Recording(files[0]) as rec:
        assert rec.complete
        assert 900 <= len(rec) <= 1010  # 10 s at 100 Hz
        assert len(rec.strides) >= 5
        assert np.all(np.diff(rec.t) > 0)


def test_demo_json_contract_and_truth(runs):
    code, out, err = runs.out["json"]
    assert code == 0, err
    doc = json.loads(out)  # exactly one JSON document on stdout
    for key in ("schema", "strides", "summary", "link", "recording", "demo"):
        assert key in doc
    s = doc["summary"]
    for key in ("backward_minutes", "forward_minutes", "steps_forward", "steps_backward", "strides",
                "cadence_forward_spm", "cadence_backward_spm", "bouts", "goal_minutes", "goal_progress"):
        assert key in s
    truth = doc["demo"]
    # the emulated strides are found (within one) with their direction (the sensor mount is known);
    # detector accuracy itself is tested elsewhere
    t_ic = np.array([x["t_ic"] for x in doc["strides"]])
    dirs = np.array([x["direction"] for x in doc["strides"]])
    true_ic = np.array(truth["ic_s"])
    true_dir = np.array(truth["direction"])
    assert abs(len(t_ic) - len(true_ic)) <= 1, (t_ic, true_ic)
    near = np.abs(t_ic[:, None] - true_ic[None, :]).argmin(axis=1)
    matched = np.abs(t_ic - true_ic[near]) < 0.15
    # no frame is lost (asserted below), so the live rows are the batch detector's, which finds every one of
    # these strides: at most one may differ
    assert (~matched).sum() <= 1, (t_ic, true_ic)
    assert (dirs[matched] != true_dir[near[matched]]).sum() <= 1, (dirs, true_dir)
    assert s["strides_forward"] + s["strides_backward"] + s["strides_other"] == len(t_ic)
    assert s["backward_minutes"] > 0 and s["goal_progress"] == pytest.approx(s["backward_minutes"] / 10.0)
    assert doc["link"]["frames_lost"] == 0 and doc["link"]["crc_errors"] == 0
    assert doc["recording"]["path"] == str(runs.json_h5) and runs.json_h5.exists()


def test_detect_replays_demo_recording_exactly(runs):
    """The recording replayed through the streaming path gives the strides the live run saw."""
    _, out, _ = runs.out["json"]
    live = json.loads(out)
    p = subprocess.run([*CMD, "detect", str(runs.json_h5), "--json"], env=ENV, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    replay = json.loads(p.stdout)
    for i, (a, b) in enumerate(zip(replay["strides"], live["strides"], strict=False)):
        assert a == b, (i, {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    assert len(replay["strides"]) == len(live["strides"])
    assert replay["summary"] == live["summary"]
    assert replay["source"]["format"] == "hdf5" and replay["source"]["complete"] is True


def test_report_of_demo_recording(runs, tmp_path):
    import matplotlib.image as mpimg

    out = tmp_path / "demo.png"
    p = subprocess.run([*CMD, "report", str(runs.json_h5), "-o", str(out)], env=ENV, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    img = mpimg.imread(out)[..., :3]
    assert img.shape[0] > 800 and img.shape[1] > 1000
    assert img.std() > 0.05 and (img < 0.97).any(axis=2).mean() > 0.05


def test_ctrl_c_stops_cleanly(runs):
    code, out, err = runs.out["int"]
    assert code == 130, (code, err)
    assert "Traceback" not in err
    assert "Session summary (interrupted)" in out
    from imuwalk.sinks.hdf5 import Recording

    with Recording(runs.int_h5) as rec:
        assert rec.complete  # finalized despite Ctrl-C
        assert 200 <= len(rec) < 6000


def test_sigterm_stops_cleanly_with_json(runs):
    code, out, err = runs.out["term"]
    assert code == 130, (code, err)
    assert "Traceback" not in err
    doc = json.loads(out)  # the one JSON document, despite the signal
    assert doc["summary"]["strides"] >= 1 and doc["recording"]["path"] == str(runs.term_h5)
    from imuwalk.sinks.hdf5 import Recording

    with Recording(runs.term_h5) as rec:
        assert rec.complete
        assert 100 <= len(rec) < 6000


@pytest.mark.skipif(not HAVE_TMUX, reason="tmux not installed (CI installs it via .ci/run)")
def test_dashboard_in_real_terminal(runs):
    last = runs.screens[-1] if runs.screens else ""
    assert runs.tty_done.exists(), "demo in tmux did not finish:\n" + last
    assert runs.tty_done.read_text().strip() == "0"
    live = [s for s in runs.screens[:-1] if "Now walking" in s]
    assert live, "no live dashboard frame seen:\n" + "\n----\n".join(runs.screens)
    # frames once samples flow (a loaded machine may show the waiting screen for a while first)
    flowing = [s for s in live if re.search(r"rate\s+\d", s)]
    assert flowing, "no dashboard frame with link data:\n" + "\n----\n".join(live)
    mid = flowing[len(flowing) // 2]
    for text in ("Forward", "Backward", "cadence", "Backward goal", "rate", "frames lost", "CRC errors",
                 "reconnects", "Recording", "samples", "Ctrl-C"):
        assert text in mid, f"{text!r} not on screen:\n{mid}"
    timeline = [line.strip(" │") for s in live for line in s.splitlines() if "Now walking" in line]
    assert any("BACKWARD" in s for s in live) and any("FORWARD" in s for s in live), "\n".join(timeline)
    final = runs.screens[-1]
    assert "finalized" in final and "Session summary" in final


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_bad_seed_is_a_usage_error(seed, tmp_path):
    p = subprocess.run([*CMD, "demo", "--seed", seed, "--record", str(tmp_path / "x.h5")], env=ENV,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--seed" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.h5").exists()


def test_record_refuses_a_stale_byte_log_without_force(tmp_path):
    """X.h5 does not exist but X.h5.imuraw (an earlier session's byte log) does: appending to it would mix two
    sessions (and `repair --from-raw` would rebuild both), so --record refuses it like an existing .h5;
    --force replaces it."""
    rec, raw = tmp_path / "stale.h5", tmp_path / "stale.h5.imuraw"
    raw.write_bytes(b"keep\n")
    p = subprocess.run([*CMD, "demo", "--duration", "5", "--json", "--record", str(rec)], env=ENV, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(raw) in lines[0] and "--force" in lines[0], p.stderr
    assert p.stdout == "" and not rec.exists() and raw.read_bytes() == b"keep\n"
    p = subprocess.run([*CMD, "demo", "--duration", "5", "--json", "--record", str(rec), "--force"], env=ENV,
                       cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    assert rec.exists() and not raw.read_bytes().startswith(b"keep")
    r = subprocess.run([*CMD, "repair", str(rec), "--from-raw", "--json"], env=ENV, cwd=tmp_path,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    n = json.loads(p.stdout)["recording"]["samples"]
    assert json.loads(r.stdout)["n_samples"] <= n + 5  # one session in the log, not two
