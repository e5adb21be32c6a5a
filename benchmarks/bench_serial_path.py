"""CPU share of the whole live path at 1 kHz: PTY → pyserial reader thread → FrameDecoder → SI blocks →
StepDetector (issue 4 target: < 5 % of one core). Run: make bench.

The device is `imuwalk emulate --pty --rate 1000` in a separate process (its CPU is not counted); this
process reads it exactly like `imuwalk stream` does. CPU share = process CPU time / wall time over a
10-s window after a warm-up; reported in ``extra_info["cpu_share"]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")

RATE_HZ = 1000
WINDOW_S = 10.0
TARGET_CPU_SHARE = 0.05
POLL_S = os.environ.get("IMUWALK_BENCH_POLL_S")  # None: SerialSource's default poll_interval
ROOT = Path(__file__).resolve().parent.parent


def _measure(tmp: Path) -> dict:
    from imuwalk.core.detector import StepDetector
    from imuwalk.sources.serial import SerialSource, run_stream

    det = StepDetector(placement="shank")
    t = np.arange(400) / RATE_HZ
    StepDetector(placement="shank").update(t, np.tile([9.8, 0, 0], (400, 1)), np.zeros((400, 3)))  # compile
    link = tmp / "imu-by-id"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "imuwalk.cli.main", "emulate", "--pty", "--rate", str(RATE_HZ),
           "--duration", str(WINDOW_S + 8), "--link", str(link)]
    emu = subprocess.Popen(cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        port = emu.stdout.readline().strip()
        src = SerialSource(port, **({} if POLL_S is None else {"poll_interval": float(POLL_S)})).start()
        stop = threading.Event()
        marks: dict = {}
        counts = {"samples": 0}

        def on_block(b):
            counts["samples"] += len(b)

        def timer():
            time.sleep(2.0)  # warm-up: META, decoder + detector kernels loaded
            marks["c0"], marks["w0"], marks["n0"] = time.process_time(), time.monotonic(), counts["samples"]
            marks["l0"], marks["r0"] = src.stats["frames_lost"], src.stats["reads"]
            time.sleep(WINDOW_S)
            marks["c1"], marks["w1"], marks["n1"] = time.process_time(), time.monotonic(), counts["samples"]
            marks["l1"], marks["r1"] = src.stats["frames_lost"], src.stats["reads"]
            stop.set()

        threading.Thread(target=timer, daemon=True).start()
        rows = run_stream(src, det, on_block=on_block, stop_event=stop, finish=False)
        st = src.stats
        src.stop()
    finally:
        emu.terminate()
        emu.wait(10)
    wall = marks["w1"] - marks["w0"]
    return {"cpu_share": (marks["c1"] - marks["c0"]) / wall, "rate_hz": (marks["n1"] - marks["n0"]) / wall,
            "frames_lost": marks["l1"] - marks["l0"], "rejected": st["rejected"], "strides": int(len(rows)),
            "reads_per_s": (marks["r1"] - marks["r0"]) / wall, "poll_interval_s": src.poll_interval}


def test_serial_path_cpu_share_at_1khz(benchmark, tmp_path):
    res = benchmark.pedantic(_measure, args=(tmp_path,), rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    print(f"\nserial→stride path at {RATE_HZ} Hz: CPU {100 * res['cpu_share']:.2f} % of one core, "
          f"{res['rate_hz']:.0f} samples/s, {res['reads_per_s']:.0f} reads/s, {res['frames_lost']} lost, "
          f"{res['strides']} strides")
    assert res["rate_hz"] > 0.95 * RATE_HZ
    assert res["frames_lost"] == 0
    assert res["cpu_share"] < TARGET_CPU_SHARE
