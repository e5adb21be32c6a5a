"""Shared fixtures: the real-data folder (IMUWALK_DATA) and skip helpers."""

from __future__ import annotations

import time

import pytest

from imuwalk._paths import data_root


def require_data(*parts: str):
    """Path below the real-data folder, or skip the test with a clear reason when absent."""
    root = data_root()
    p = root.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real recordings not found at {p} (set IMUWALK_DATA to the shared datasets folder)")
    return p


@pytest.fixture
def data_dir():
    return require_data()


@pytest.fixture(scope="session", autouse=True)
def _warm_numba_cache():
    """Compile (or load) the Numba kernels once, in this process, before any test.

    On a fresh clone the on-disk cache is empty; without this, the first subprocesses started by the
    CLI tests (several real-time demos at once) would each spend seconds compiling while the clock
    of their emulated device runs on."""
    import numpy as np

    import imuwalk
    from imuwalk.sources import protocol

    t = np.arange(400) / 100.0
    gyr = np.zeros((400, 3))
    gyr[:, 1] = 4.0 * np.sin(2 * np.pi * t)
    acc = np.zeros((400, 3))
    acc[:, 2] = 9.81
    imuwalk.detect_steps(t, acc, gyr, placement="shank")
    imuwalk.detect_steps(t, acc, gyr, placement="foot")
    det = imuwalk.StepDetector(placement="shank", mount=imuwalk.Mount(right="+y"))
    det.update(t, acc, gyr)
    det.finish()
    frames = protocol.encode_samples(0, np.arange(3) * 1000, np.zeros((3, 3), np.int16), np.zeros((3, 3), np.int16))
    protocol.FrameDecoder().feed(frames + protocol.encode_sample(3, 4000, (0, 0, 2048), (1, -1, 0)))
    yield


def collect_blocks(src, n: int, timeout: float = 20.0, poll: float = 0.5) -> list:
    """SampleBlocks from a started source (``get(timeout)``) until ``n`` samples arrived or ``timeout`` s passed."""
    out, got = [], 0
    end = time.monotonic() + timeout
    while got < n and time.monotonic() < end:
        b = src.get(timeout=poll)
        if b is not None:
            out.append(b)
            got += len(b)
    return out
