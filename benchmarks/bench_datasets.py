"""Dataset loaders (< 2 s each after the first cached parse) and gait-generator speed. Run: make bench."""

from __future__ import annotations

import pytest

from imuwalk import datasets as D
from imuwalk._paths import data_root

TARGET_LOAD_S = 2.0


@pytest.mark.parametrize("name", D.list_datasets())
def test_load_dataset(benchmark, name):
    """Median wall time of ``datasets.load(name)`` (marpino from its parsed-xlsx cache)."""
    if not (data_root() / D.manifest(name)["local_dir"]).exists():
        pytest.skip(f"{name}: real recordings not found under {data_root()} (set IMUWALK_DATA)")
    D.load(name)  # warm: parse + cache the xlsx once
    recs = benchmark.pedantic(D.load, args=(name,), rounds=3, iterations=1)
    assert recs
    med = benchmark.stats.stats.median
    benchmark.extra_info["seconds"] = med
    assert med < TARGET_LOAD_S, f"{name}: load took {med:.2f} s (target < {TARGET_LOAD_S} s)"


def test_generate_walk_10min(benchmark):
    """10 min of mixed forward/backward/still gait at 200 Hz (120,000 samples)."""
    from imuwalk.sources.gaitgen import generate_walk

    segs = [(40.0, "forward"), (15.0, "backward"), (5.0, "still")] * 10
    w = benchmark.pedantic(generate_walk, kwargs=dict(segments=segs, rotation="random"), rounds=3)
    assert len(w.t) == 120_001
    benchmark.extra_info["samples_per_s"] = len(w.t) / benchmark.stats.stats.median
