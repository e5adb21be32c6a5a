"""Benchmark fixtures: long synthetic walks (run anywhere) and the real recordings (IMUWALK_DATA).

``bench_*.py`` files are collected as test modules here
(``make bench`` = ``python -m pytest benchmarks --benchmark-only``).
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks.baselines` importable however pytest was started
    sys.path.insert(0, str(ROOT))


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        patterns = parent.config.getini("python_files")
        explicit = parent.session.isinitpath(file_path)  # pytest collects files named on the command line
        if not explicit and not any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
            return pytest.Module.from_parent(parent, path=file_path)
    return None


#: Length and rate of the synthetic benchmark walk (10 min at 200 Hz = 120,000 samples).
WALK_S = 600.0
WALK_HZ = 200.0


def synthetic_walk(duration_s: float = WALK_S, rate_hz: float = WALK_HZ, placement: str = "shank"):
    """(t, acc, gyr) of a seeded synthetic walk with forward and backward segments."""
    from imuwalk.sources.gaitgen import generate_walk

    n = max(1, int(duration_s // 60))
    segs = [(40.0, "forward"), (15.0, "backward"), (5.0, "still")] * n
    w = generate_walk(duration_s=duration_s, rate_hz=rate_hz, placement=placement, segments=segs, seed=11)
    return (np.ascontiguousarray(w.t), np.ascontiguousarray(w.acc), np.ascontiguousarray(w.gyr))


@pytest.fixture(scope="session")
def walk():
    """A 10-minute 200 Hz shank walk (t s, acc m/s², gyr rad/s), detector compiled/loaded beforehand."""
    import imuwalk

    t, acc, gyr = synthetic_walk()
    imuwalk.detect_steps(t[:2000], acc[:2000], gyr[:2000], placement="shank")  # JIT / cache load
    return t, acc, gyr


def require_data(*parts: str) -> Path:
    """Path below the real-data folder, or skip with a clear reason."""
    from imuwalk._paths import data_root

    p = data_root().joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real recordings not found at {p} (set IMUWALK_DATA to the shared datasets folder)")
    return p
