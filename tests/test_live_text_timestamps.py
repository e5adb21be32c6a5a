"""Live text streams with coarse timestamps (e.g. a 1-s RTC, ~25 lines per stamp) over a real PTY.

The live path (SerialSource, format "text") must give strictly increasing times: repeated stamps spread
forward by the measured line rate (the file reader's times wherever the rate is steady), stamps that go
backwards dropped and counted, a restarted device clock continued; ``imuwalk stream`` must run such a
device to the end, print its summary/JSON and leave a recording that ``imuwalk detect`` replays.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np
import pytest
from conftest import collect_blocks

serial = pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")

from imuwalk.sources.formats import read_text  # noqa: E402
from imuwalk.sources.gaitgen import generate_walk  # noqa: E402
from imuwalk.sources.serial import SerialSource, TextClock  # noqa: E402
from imuwalk.units import G0  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
STAMP0 = 1_564_427_095  # unix seconds, like the ankle MPU-6050 step log


def walk_lines(seconds: float = 12.0, rate: float = 25.0, phase: float = 0.4, seed: int = 3):
    """MPU-6050 count lines ``unix_s,ax,ay,az,gx,gy,gz,fsr`` of a synthetic walk, stamped by a 1-s clock
    (``rate`` lines per stamp; the stream starts ``phase`` s into the first second). Returns (lines, walk)."""
    walk = generate_walk(rate_hz=rate, placement="shank", segments=[(1.0, "still"), (seconds - 1.0, "forward")],
                         seed=seed)
    n = walk.t.shape[0]
    stamps = STAMP0 + np.floor(phase + np.arange(n) / rate + 1e-9).astype(np.int64)
    a = np.clip(np.round(walk.acc / G0 * 16384), -32768, 32767).astype(int)
    g = np.clip(np.round(np.rad2deg(walk.gyr) * 131), -32768, 32767).astype(int)
    lines = [f"{s},{r[0]},{r[1]},{r[2]},{q[0]},{q[1]},{q[2]},0\n".encode()
             for s, r, q in zip(stamps, a, g, strict=True)]
    return lines, walk


def _pty():
    m, s = pty.openpty()
    tty.setraw(s)
    return m, s, os.ttyname(s)


def _collect(src, n):
    return collect_blocks(src, n, timeout=5.0, poll=0.2)


def test_repeated_stamps_are_spread_like_the_file_reader(tmp_path):
    lines, _ = walk_lines(seconds=8.0)
    logf = tmp_path / "log.txt"
    logf.write_bytes(b"".join(lines))
    ref = read_text(logf, preset="mpu6050")  # the file reader's spreading of the same lines
    m, s, name = _pty()
    try:
        with SerialSource(name, format="text", text_options={"preset": "mpu6050"}) as src:
            time.sleep(0.1)
            for i in range(0, len(lines), 7):  # arbitrary read boundaries
                os.write(m, b"".join(lines[i:i + 7]))
                time.sleep(0.002)
            blocks = _collect(src, len(lines))
            st = src.stats
    finally:
        os.close(m)
        os.close(s)
    t = np.concatenate([b.t for b in blocks])
    assert t.shape[0] == len(lines) and st["lines_t_dropped"] == 0
    assert np.all(np.diff(t) > 0)  # before the fix: ~25 equal times per stamp
    assert st["lines_t_repeated"] == len(lines) - 9  # 9 distinct stamps
    stamp = np.array([float(ln.split(b",")[0]) for ln in lines]) - STAMP0  # each line's stamp
    assert np.all((t >= stamp - 1e-9) & (t < stamp + 1.0))  # never reaches the next stamp
    # steady line rate: from the third stamp period on, the file reader's times (which it computes on
    # the absolute unix stamps, hence equal only to their float resolution, ~0.2 us)
    third = np.flatnonzero(stamp >= 2)[0]
    np.testing.assert_allclose(t[third:], ref.t[third:], rtol=0, atol=1e-6)
    assert np.abs(t[:third] - ref.t[:third]).max() > 0.1  # the first two periods cannot know the rate yet
    assert blocks[-1].info["time_source"] == "timestamp column (repeated stamps spread)"


def test_backward_stamps_are_dropped_and_a_restarted_clock_continues():
    m, s, name = _pty()
    body = ",0,0,16384,0,0,0\n"
    good = [f"{100 + i // 10}{body}" for i in range(40)]  # stamps 100..103, 10 lines each
    glitch = [f"{90}{body}", f"{99}{body}"]  # two lines from the past: dropped
    more = [f"{104 + i // 10}{body}" for i in range(20)]
    restart = [f"{i // 10}{body}" for i in range(40)]  # the device rebooted: its clock starts again at 0
    try:
        with SerialSource(name, format="text", text_options={"preset": "mpu6050"}) as src:
            time.sleep(0.1)
            os.write(m, "".join(good + glitch + more).encode())
            first = _collect(src, 60)
            os.write(m, "".join(restart).encode())
            second = _collect(src, 40 - 24)
            st = src.stats
    finally:
        os.close(m)
        os.close(s)
    t1 = np.concatenate([b.t for b in first])
    assert t1.shape[0] == 60 and np.all(np.diff(t1) > 0)
    np.testing.assert_allclose(t1[40:50], 4.0 + np.arange(10) / 10, atol=1e-9)  # after the glitch
    t2 = np.concatenate([b.t for b in second])
    # 24 earlier stamps are dropped, the 25th (the reset_after default) restarts the time base after
    # the last time given; the rest follows from there
    assert t2.shape[0] == 16 and t2[0] > t1[-1] and np.all(np.diff(t2) > 0)
    assert st["lines_t_dropped"] == 2 + 24 and st["clock_resets"] == 1 and st["lines_ok"] == 102


def test_text_clock_chunking_does_not_change_times():
    rng = np.random.default_rng(1)
    counts = rng.integers(24, 30, 20)
    stamps = np.repeat(np.arange(20, dtype=np.float64) + 5.0, counts)[7:]
    whole = TextClock().map(stamps)[0]
    clk = TextClock()
    parts, i = [], 0
    while i < stamps.shape[0]:
        k = int(rng.integers(1, 9))
        parts.append(clk.map(stamps[i:i + k])[0])
        i += k
    chunked = np.concatenate(parts)
    assert np.array_equal(whole, chunked) and np.all(np.diff(whole) > 0)
    rel = stamps - stamps[0]
    assert np.all((whole >= rel) & (whole < rel + 1.0))
    with pytest.raises(ValueError, match="nominal_rate_hz"):
        TextClock(0)


def test_stream_cli_runs_a_coarse_clock_device_to_the_end(tmp_path):
    lines, walk = walk_lines(seconds=14.0)
    rec = tmp_path / "coarse.h5"
    m, s, name = _pty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "IMUWALK_CONFIG": str(tmp_path / "cfg")}
    p = subprocess.Popen([sys.executable, "-m", "imuwalk", "stream", "--port", name, "--format", "text",
                          "--preset", "mpu6050", "--line-rate", "25", "--duration", "2.5", "--record", str(rec),
                          "--json"],
                         env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        head = []
        while True:  # "reading PORT" once the port is open (pyserial flushes what came before)
            line = p.stderr.readline()
            head.append(line)
            if not line or line.startswith("reading "):
                break

        def feed():
            for i in range(0, len(lines), 10):
                os.write(m, b"".join(lines[i:i + 10]))
                time.sleep(0.005)

        threading.Thread(target=feed, daemon=True).start()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(m)
        os.close(s)
    err = "".join(head) + err
    assert p.returncode == 0, err  # before the fix: exit 1, "timestamps must be strictly increasing"
    doc = json.loads(out)
    link = doc["link"]
    assert link["samples"] == len(lines) and link["samples_rejected"] == 0 and link["lines_t_dropped"] == 0
    assert link["lines_t_repeated"] > 0.9 * len(lines)
    n_true = int(np.sum((walk.ic > 2.0) & (walk.ic < walk.t[-1] - 1.0)))  # ground-truth strides
    assert n_true - 2 <= doc["summary"]["strides"] <= n_true + 2
    assert doc["recording"]["samples"] == len(lines)
    from imuwalk.sinks.hdf5 import Recording

    with Recording(rec) as r:  # --line-rate 25: the first (partial) stamp period is spread at 25 Hz too
        first = np.diff(r.t[:15])
    assert np.allclose(first, 1 / 25)
    det = subprocess.run([sys.executable, "-m", "imuwalk", "detect", str(rec), "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert det.returncode == 0, det.stderr
    replay = json.loads(det.stdout)
    assert [r["t_ic"] for r in replay["strides"]] == [r["t_ic"] for r in doc["strides"]]
