"""The scripts in examples/ run as documented and do what they say (they are the embedding guide)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, str(REPO / "examples" / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(os.name != "posix", reason="the emulator's pseudo-terminal needs POSIX")
def test_live_serial_example_streams_the_emulator_into_a_recording(tmp_path):
    pytest.importorskip("serial")
    pytest.importorskip("h5py")
    rec = tmp_path / "walk.h5"
    p = _run("live_serial.py", "--record", str(rec), "--speed", "8", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("stride ")]
    dirs = [re.search(r"landed at\s+[\d.]+ s\s+(\w+)", ln).group(1) for ln in lines]
    assert len(lines) >= 12
    # 8 s forward, a pause, 8 s backward: every stride of each bout gets its direction
    assert dirs == ["forward"] * dirs.count("forward") + ["backward"] * dirs.count("backward"), dirs
    assert dirs.count("forward") >= 6 and dirs.count("backward") >= 6
    m = re.search(r"link: (\d+) samples, (\d+) frames lost; recorded", p.stdout)
    assert m and int(m.group(2)) == 0
    import imuwalk

    with imuwalk.Recording(rec) as r:
        assert r.complete and len(r) == int(m.group(1)) == 2101  # 21 s at 100 Hz, nothing lost at the end
        assert r.strides.shape[0] == len(lines)
        assert Path(str(rec) + ".imuraw").stat().st_size > 0
        # the strides printed live are the strides of the recording, replayed through the batch path
        again = imuwalk.detect_steps(r.t, r.acc, r.gyr, placement="shank").events
        assert np.array_equal(again["t_ic"], r.strides["t_ic"])


def test_own_transport_example_counts_both_directions(tmp_path):
    p = _run("own_transport.py", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1].startswith("10 strides: 5 forward, 5 backward")
