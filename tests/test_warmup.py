"""imuwalk.warm_up: every Numba kernel of a live session is compiled/loaded before a port is opened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import imuwalk
from imuwalk.sources import protocol

REPO = Path(__file__).resolve().parent.parent
KERNEL_MODULES = ["imuwalk.core.kernel", "imuwalk.core.detector", "imuwalk.core.direction",
                  "imuwalk.sources.protocol"]


SNAPSHOT = """
import importlib, json
from numba.core.registry import CPUDispatcher
def snap():
    out = {}
    for name in %r:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == name:
                out[name + "." + attr] = [str(s) for s in obj.signatures]
    return out
"""


def test_no_kernel_compiles_after_warm_up_in_a_live_session(tmp_path):
    """In a fresh interpreter: warm_up(), then a whole demo (emulator -> PTY -> SerialSource -> decoder ->
    detector -> recorder) and a replay of its recording. No kernel may gain a signature after the warm-up:
    each new one would be a compile (seconds on a fresh install) in the middle of a live stream."""
    h5 = tmp_path / "w.h5"
    code = SNAPSHOT % (KERNEL_MODULES,) + f"""
import contextlib, io, imuwalk
from imuwalk.cli.main import main
imuwalk.warm_up()
before = snap()
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["demo", "--duration", "5", "--json", "--record", {str(h5)!r}]) == 0
    assert main(["detect", {str(h5)!r}, "--json"]) == 0
print(json.dumps([before, snap()]))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 0, p.stderr
    before, after = json.loads(p.stdout.strip().splitlines()[-1])
    assert len(before) >= 14, sorted(before)  # the package's kernels are seen
    assert any(before.values())
    grown = {k: sorted(set(after[k]) - set(before[k])) for k in after if set(after[k]) - set(before[k])}
    assert not grown, f"compiled after warm_up, during the live session: {grown}"


def test_warm_up_returns_its_time():
    took = imuwalk.warm_up()
    assert isinstance(took, float) and 0 <= took < 60


def test_decoder_kernel_has_one_signature_for_every_input_type():
    """bytes, bytearray, memoryview and a split frame's tail all reach the kernel as one array type, so the
    warm-up covers what a serial reader feeds (a second signature would compile on the first bytes)."""
    protocol.warm_up()
    acc = np.zeros((3, 3), dtype=np.int16)
    data = protocol.encode_samples(0, np.arange(3) * 1000, acc, acc)
    for chunk in (data, bytearray(data), memoryview(data), np.frombuffer(data, np.uint8).copy()):
        dec = protocol.FrameDecoder()
        got = dec.feed(chunk[:7])
        got = dec.feed(chunk[7:])
        assert len(dec.feed(b"")) == 0 and dec.stats.crc_errors == 0
        assert got.t_dev_us.shape[0] == 3  # all three complete in the 2nd chunk (the 1st is split at byte 7)
    assert len(protocol._decode_kernel.signatures) == 1, protocol._decode_kernel.signatures


def test_on_slow_is_told_only_when_it_takes_long(monkeypatch):
    calls = []
    imuwalk.warm_up(on_slow=lambda: calls.append(1), slow_after_s=30.0)  # warm: done long before
    assert calls == []
    import imuwalk.core.detector as det

    real = det.warm_up
    monkeypatch.setattr(det, "warm_up", lambda: (time.sleep(0.5), real()))
    imuwalk.warm_up(on_slow=lambda: calls.append(1), slow_after_s=0.05)
    assert calls == [1]
