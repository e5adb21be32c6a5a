"""Real-time path of the stride detector (issue 2 speed targets). Run: ``make bench``.

- batch ``detect_steps``: ≤ 0.1 µs per input sample on one core;
- ``StepDetector.update`` with chunks of 1, 10, 100 samples: ≤ 10 µs per call for 10-sample chunks;
- ratio of the batch cost to a trivial Numba pass over the same arrays (the memory-bound floor);
- ``import imuwalk`` + first call with a warm Numba cache, in a fresh interpreter: ≤ 1.5 s.
Each test stores its per-sample / per-call number in ``extra_info`` (shown by ``--benchmark-json``).
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from numba import njit

import imuwalk

TARGET_BATCH_US_PER_SAMPLE = 0.1
TARGET_UPDATE10_US_PER_CALL = 10.0
TARGET_IMPORT_FIRST_CALL_S = 1.5


@njit(cache=True, nogil=True)
def trivial_pass(t, acc, gyr):  # pragma: no cover - compiled
    """Reads every input value once with a loop-carried dependency: the memory-bound reference."""
    s = 0.0
    prev = t[0]
    for i in range(t.shape[0]):
        dt = t[i] - prev
        prev = t[i]
        s += dt * (acc[i, 0] + acc[i, 1] + acc[i, 2]) + gyr[i, 0] * gyr[i, 1] - gyr[i, 2]
    return s


def test_batch_detect_per_sample(benchmark, walk):
    t, acc, gyr = walk
    res = benchmark(imuwalk.detect_steps, t, acc, gyr, placement="shank")
    assert len(res.events) > 100  # a 10-minute walk has hundreds of strides
    us = benchmark.stats.stats.median / len(t) * 1e6
    benchmark.extra_info.update(us_per_sample=us, n_samples=len(t), target=TARGET_BATCH_US_PER_SAMPLE)
    assert us <= TARGET_BATCH_US_PER_SAMPLE, f"batch: {us:.3f} µs/sample"


def test_trivial_numba_pass_per_sample(benchmark, walk):
    t, acc, gyr = walk
    trivial_pass(t[:10], acc[:10], gyr[:10])
    benchmark(trivial_pass, t, acc, gyr)
    us = benchmark.stats.stats.median / len(t) * 1e6
    benchmark.extra_info.update(us_per_sample=us, n_samples=len(t))
    assert us > 0


def _chunks(walk, k: int, n: int):
    t, acc, gyr = walk
    n = min(n, len(t)) // k * k
    return [(t[i : i + k], acc[i : i + k], gyr[i : i + k]) for i in range(0, n, k)]


@pytest.mark.parametrize(("k", "n"), [(1, 20_000), (10, 60_000), (100, 120_000)])
def test_update_chunks_per_call(benchmark, walk, k, n):
    chunks = _chunks(walk, k, n)

    def setup():
        return (imuwalk.StepDetector(placement="shank"),), {}

    def feed(det):
        upd = det.update
        for c in chunks:
            upd(*c)
        return det

    det = benchmark.pedantic(feed, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    assert len(det.events_) > 10
    per_call = benchmark.stats.stats.median / len(chunks) * 1e6
    benchmark.extra_info.update(chunk=k, us_per_call=per_call, us_per_sample=per_call / k, calls=len(chunks))
    if k == 10:
        assert per_call <= TARGET_UPDATE10_US_PER_CALL, f"update(10) {per_call:.2f} µs/call"


def test_chunked_rows_equal_batch(walk):
    """Guard: the timed streaming path produces the batch rows (a benchmark of wrong code is worthless)."""
    t, acc, gyr = walk
    n = 60_000
    batch = imuwalk.detect_steps(t[:n], acc[:n], gyr[:n], placement="shank").events
    det = imuwalk.StepDetector(placement="shank")
    parts = [det.update(*c) for c in _chunks(walk, 10, n)] + [det.finish()]
    stream = np.concatenate(parts)
    assert stream.dtype == batch.dtype and len(stream) == len(batch)
    for name in batch.dtype.names:  # field-wise, so NaN == NaN (records compare NaN as unequal)
        np.testing.assert_array_equal(stream[name], batch[name], err_msg=name)


IMPORT_SNIPPET = (
    "import time; import numpy as np; import imuwalk; "
    "t = np.arange(2000) / 200.0; acc = np.zeros((2000, 3)); acc[:, 2] = 9.81; "
    "gyr = np.zeros((2000, 3)); gyr[:, 1] = 3.0 * np.sin(2 * np.pi * t); "
    "imuwalk.detect_steps(t, acc, gyr, placement='shank'); print(time.time(), flush=True)"
)


def import_first_call_s() -> tuple[float, float]:
    """(start of a fresh interpreter → first ``detect_steps`` result, s; process exit after it, s).

    The first figure is what a user waits for; the second is Numba/LLVM teardown at interpreter exit,
    reported apart (it delays nothing but the shell prompt)."""
    t0 = time.time()
    p = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET], check=True, capture_output=True, text=True)
    t_end = time.time()
    t_result = float(p.stdout.split()[-1])
    return t_result - t0, t_end - t_result


def test_import_and_first_call_warm_cache(benchmark):
    import_first_call_s()  # warm the Numba cache
    runs: list[tuple[float, float]] = []
    benchmark.pedantic(lambda: runs.append(import_first_call_s()), rounds=3, iterations=1)
    s = min(r[0] for r in runs)  # the rounds' own figures: no second set of interpreters
    benchmark.extra_info.update(seconds=s, exit_s=min(r[1] for r in runs), target_s=TARGET_IMPORT_FIRST_CALL_S)
    assert s <= TARGET_IMPORT_FIRST_CALL_S, f"import + first call {s:.2f} s (interpreter start included)"
