"""Stress the FrameDecoder with >= 1,000,000 frames and mutations (not run in CI).

    .venv/bin/python -m benchmarks.stress_decoder [--frames 1000000] [--seed 1]

Frame k carries t_us = k*1000 and counts derived from k, so every delivered sample can be checked against
what was sent. Mutations: single-bit flips, byte drops, garbage bursts, truncations, zeroed bytes, duplicates.
Prints the counters and checks: no exception, tail bounded, every delivered sample genuine (a multi-byte
corruption that still matches the CRC-16 is reported as a collision; expected rate ~1/65536 of such frames),
and delivered + samples_missing == frames spanned by the sequence (duplicates are extra frames, dropped).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from imuwalk.sources import protocol as P


def counts(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = k.astype(np.int64)
    acc = np.stack([k % 30011 - 15000, (k * 7) % 30013 - 15000, (k * 13) % 29989 - 15000], axis=1)
    gyr = np.stack([(k * 3) % 30011 - 15000, (k * 11) % 30013 - 15000, (k * 17) % 29989 - 15000], axis=1)
    return acc, gyr


def mutate(buf: bytes, rng: np.random.Generator, n_frames: int, rate: float) -> tuple[bytes, dict]:
    frames = [buf[i:i + P.SAMPLE_WIRE_SIZE] for i in range(0, len(buf), P.SAMPLE_WIRE_SIZE)]
    kinds = ["flip", "drop", "garbage", "trunc", "zero", "dup"]
    stats = dict.fromkeys(kinds, 0)
    idx = np.flatnonzero(rng.random(n_frames) < rate)
    for i in idx.tolist():
        f = bytearray(frames[i])
        kind = kinds[int(rng.integers(0, len(kinds)))]
        stats[kind] += 1
        p = int(rng.integers(0, len(f) - 1))
        if kind == "flip":
            f[p] ^= 1 << int(rng.integers(0, 8))
        elif kind == "drop":
            del f[p]
        elif kind == "garbage":
            f[p:p] = rng.integers(0, 256, int(rng.integers(1, 60)), dtype=np.uint8).tobytes()
        elif kind == "trunc":
            del f[p:-1]
        elif kind == "zero":
            f[p] = 0
        else:
            f = f + f
        frames[i] = bytes(f)
    return b"".join(frames), stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=0.02, help="fraction of frames mutated")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.frames > 4_000_000:
        ap.error("--frames: at most 4,000,000 (t_us = k*1000 must not wrap)")
    rng = np.random.default_rng(a.seed)
    dec = P.FrameDecoder()
    mut_total: dict[str, int] = {}
    delivered = genuine = collisions = 0
    first_seq = last_seq = None
    t0 = time.perf_counter()
    t_dec = 0.0
    for start in range(0, a.frames, a.batch):
        k = np.arange(start, min(start + a.batch, a.frames), dtype=np.int64)
        acc, gyr = counts(k)
        clean = P.encode_samples(int(k[0] % 65536), k * 1000, acc, gyr)
        data, ms = mutate(clean, rng, len(k), a.rate)
        for kk, v in ms.items():
            mut_total[kk] = mut_total.get(kk, 0) + v
        pos = 0
        while pos < len(data):
            n = int(rng.integers(1, 8192))
            t1 = time.perf_counter()
            out = dec.feed(data[pos:pos + n])
            t_dec += time.perf_counter() - t1
            pos += n
            assert dec._tail.shape[0] <= P.MAX_ENCODED
            if not len(out):
                continue
            kk = (out.t_dev_us.astype(np.int64) & 0xFFFFFFFF) // 1000
            ea, eg = counts(kk)
            t_ok = (out.t_dev_us.astype(np.int64) & 0xFFFFFFFF) % 1000 == 0
            seq_ok = (out.seq.astype(np.int64) & 0xFFFF) == kk % 65536
            ok = t_ok & seq_ok & np.all(out.acc_raw == ea, axis=1) & np.all(out.gyr_raw == eg, axis=1)
            delivered += len(out)
            genuine += int(ok.sum())
            collisions += int((~ok).sum())
            if first_seq is None:
                first_seq = int(out.seq[0])
            last_seq = int(out.seq[-1])
    wall = time.perf_counter() - t0
    st = dec.stats
    span = (last_seq - first_seq + 1) if first_seq is not None else 0
    print(f"frames sent       {a.frames:,}   mutated {sum(mut_total.values()):,} {mut_total}")
    print(f"delivered         {delivered:,}   genuine {genuine:,}   CRC collisions accepted {collisions}")
    print(f"decoder stats     {st.as_dict()}")
    print(f"accounting        delivered + samples_missing = {delivered + st.samples_missing:,}"
          f"  vs seq span {span:,}  (duplicates dropped: {st.duplicates:,})")
    print(f"time              decode {t_dec:.2f} s ({a.frames / t_dec:,.0f} frames/s incl. mutations), "
          f"wall {wall:.1f} s")
    assert genuine + collisions == delivered
    if collisions == 0:
        assert delivered + st.samples_missing == span, "a lost frame was not counted"
    print("OK" if collisions == 0 else f"WARNING: {collisions} CRC-16 collisions accepted")


if __name__ == "__main__":
    main()
