"""Decoder throughput: target >= 1,000,000 IMU_SAMPLE frames/s (issue 4). Run: make bench."""

from __future__ import annotations

import numpy as np
import pytest

from imuwalk.sources import protocol as P

N_FRAMES = 200_000
TARGET_FPS = 1_000_000


def _stream(n: int = N_FRAMES) -> bytes:
    rng = np.random.default_rng(0)
    t = (np.arange(n, dtype=np.int64) * 1000) % 2**32
    return P.encode_samples(0, t, rng.integers(-3000, 3000, (n, 3)), rng.integers(-3000, 3000, (n, 3)))


@pytest.fixture(scope="module")
def stream() -> bytes:
    data = _stream()
    P.FrameDecoder().feed(data[:2400])  # compile / load the Numba cache outside the timing
    return data


def _fps(benchmark, n: int) -> float:
    return n / benchmark.stats.stats.median


def test_decoder_throughput_one_chunk(benchmark, stream):
    """Whole buffer in one feed() (replay / file decode)."""

    def run():
        return len(P.FrameDecoder().feed(stream))

    assert benchmark(run) == N_FRAMES
    fps = _fps(benchmark, N_FRAMES)
    benchmark.extra_info["frames_per_s"] = fps
    print(f"\ndecoder one chunk: {fps:,.0f} frames/s ({fps * P.SAMPLE_WIRE_SIZE / 1e6:.1f} MB/s)")
    assert fps >= TARGET_FPS


def test_decoder_throughput_4k_reads(benchmark, stream):
    """4096-byte chunks, as a serial reader thread delivers them (per-call overhead included)."""
    chunks = [stream[i:i + 4096] for i in range(0, len(stream), 4096)]

    def run():
        dec = P.FrameDecoder()
        return sum(len(dec.feed(c)) for c in chunks)

    assert benchmark(run) == N_FRAMES
    fps = _fps(benchmark, N_FRAMES)
    benchmark.extra_info["frames_per_s"] = fps
    print(f"\ndecoder 4 KiB reads: {fps:,.0f} frames/s")
    assert fps >= TARGET_FPS


def test_decoder_1khz_read_cost(benchmark):
    """One read of a live 1 kHz stream (SerialSource's default poll_interval of data): the decoder's share of
    the per-read cost (hot; bench_serial_path measures the whole path)."""
    from imuwalk.sources.serial import POLL_INTERVAL_S as poll
    frames = round(poll * 1000)
    data = _stream(frames)
    dec = P.FrameDecoder()
    dec.feed(data)

    def run():
        return len(dec.feed(data))

    assert benchmark(run) == frames
    per_read = benchmark.stats.stats.median
    benchmark.extra_info["cpu_share_1khz"] = per_read / poll
    print(f"\n1 kHz: {per_read * 1e6:.1f} us per {poll * 1e3:.0f} ms read -> {per_read / poll * 100:.3f} % of one core")


def test_encode_samples_throughput(benchmark):
    rng = np.random.default_rng(1)
    t = np.arange(N_FRAMES, dtype=np.int64) * 1000
    acc = rng.integers(-3000, 3000, (N_FRAMES, 3))
    gyr = rng.integers(-3000, 3000, (N_FRAMES, 3))
    P.encode_samples(0, t[:10], acc[:10], gyr[:10])
    out = benchmark(P.encode_samples, 0, t, acc, gyr)
    assert len(out) == N_FRAMES * P.SAMPLE_WIRE_SIZE
    fps = _fps(benchmark, N_FRAMES)
    print(f"\nencode_samples: {fps:,.0f} frames/s")
