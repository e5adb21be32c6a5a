"""Hypothesis fuzzing of FrameDecoder: random and mutated streams, differential against a plain-Python
reference of the receiver rules. No crash, bounded memory, no bad frame accepted, every error counted."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuwalk.sources import protocol as P

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MIN_BODY = {P.T_IMU_SAMPLE: 16, P.T_META: 27, P.T_STATUS: 18, P.T_PONG: 8, P.CMD_SET_ODR: 4, P.CMD_PING: 4}


def reference_decode(data: bytes) -> tuple[list[tuple[int, int, bytes]], dict]:
    """Plain-Python receiver rules (PROTOCOL.md §6) over a whole stream: accepted IMU samples as
    (seq16, flags, body) and the error counters."""
    c = {"crc_errors": 0, "cobs_errors": 0, "short_frames": 0, "oversize_dropped": 0, "empty_frames": 0,
         "duplicates": 0, "frames_ok": 0}
    samples = []
    segs = data.split(b"\x00")
    tail = segs.pop()  # bytes after the last delimiter: an incomplete frame
    if len(tail) > P.MAX_ENCODED:
        c["oversize_dropped"] += 1
    last = None
    prev_boot = False
    for seg in segs:
        if not seg:
            c["empty_frames"] += 1
            continue
        if len(seg) > P.MAX_ENCODED:
            c["oversize_dropped"] += 1
            continue
        try:
            pkt = P.cobs_decode(seg)
        except ValueError:
            c["cobs_errors"] += 1
            continue
        if len(pkt) < 6:
            c["short_frames"] += 1
            continue
        if P.crc16(pkt[:-2]) != struct.unpack("<H", pkt[-2:])[0]:
            c["crc_errors"] += 1
            continue
        ptype, flags, seq = struct.unpack_from("<BBH", pkt)
        body = pkt[4:-2]
        if ptype < 0x80:
            boot = bool(flags & P.FLAG_BOOT)
            reset = last is not None and boot and (not prev_boot or seq < last)  # BOOT, seq == last: duplicate
            if last is not None and not reset and seq == last:
                c["duplicates"] += 1
                continue
            last, prev_boot = seq, boot
        if len(body) < MIN_BODY.get(ptype, 0):
            c["short_frames"] += 1
            continue
        c["frames_ok"] += 1
        if ptype == P.T_IMU_SAMPLE:
            samples.append((seq, flags, body[:16]))
    return samples, c


def _frames(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    seq = 0
    for k in range(n):
        r = rng.random()
        if r < 0.8:
            out.append(P.encode_sample(seq, (k * 1000) % 2**32, rng.integers(-32768, 32768, 3),
                                       rng.integers(-32768, 32768, 3), int(rng.integers(0, 4))))
        elif r < 0.88:
            out.append(P.encode_meta(seq, P.DeviceMeta(uid=int(rng.integers(0, 2**63)))))
        elif r < 0.94:
            out.append(P.encode_status(seq, k, k, 0, 0, 0))
        else:
            out.append(P.encode_log(seq, "x" * int(rng.integers(0, 60))))
        seq = (seq + 1) & 0xFFFF
    return out


def _feed_chunked(data: bytes, cuts: list[int]) -> tuple[P.DecodedSamples, P.FrameDecoder]:
    dec = P.FrameDecoder()
    bounds = sorted({min(max(c, 0), len(data)) for c in cuts} | {0, len(data)})
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        parts.append(dec.feed(data[a:b]))
        assert dec._tail.shape[0] <= P.MAX_ENCODED  # bounded memory between calls
    return P.DecodedSamples.concat(parts), dec


def _check_against_reference(data: bytes, cuts: list[int]):
    out, dec = _feed_chunked(data, cuts)
    ref, rc = reference_decode(data)
    st_ = dec.stats.as_dict()
    for k, v in rc.items():
        assert st_[k] == v, (k, st_[k], v)
    assert len(out) == len(ref)
    for i, (seq, flags, body) in enumerate(ref):
        t, *vals = struct.unpack("<I3h3h", body)
        assert int(out.seq[i]) & 0xFFFF == seq and out.flags[i] == flags
        assert int(out.t_dev_us[i]) & 0xFFFFFFFF == t
        assert out.acc_raw[i].tolist() == vals[:3] and out.gyr_raw[i].tolist() == vals[3:]
    assert np.all(np.diff(out.t_dev_us.astype(np.int64)) > 0) if len(out) > 1 else True
    assert np.all(np.diff(out.seq.astype(np.int64)) > 0) if len(out) > 1 else True
    assert st_["bytes_total"] == len(data)
    return out, dec, ref


@FUZZ
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_random_bytes(data, cuts):
    _check_against_reference(data, cuts)


@FUZZ
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120),
       muts=st.lists(st.tuples(st.sampled_from(["flip", "drop", "insert", "zero", "trunc", "dup", "garbage"]),
                               st.integers(0, 10**6), st.integers(0, 255)), max_size=12),
       cuts=st.lists(st.integers(0, 4000), max_size=6))
def test_mutated_streams(seed, n, muts, cuts):
    frames = _frames(n, seed)
    originals = set()
    for f in frames:
        pkt = P.cobs_decode(f[:-1])
        if pkt[0] == P.T_IMU_SAMPLE:
            originals.add((struct.unpack_from("<H", pkt, 2)[0], pkt[1], pkt[4:20]))
    stream = bytearray(b"".join(frames))
    for kind, pos, val in muts:
        if not stream:
            break
        p = pos % len(stream)
        if kind == "flip":
            stream[p] ^= 1 << (val % 8)
        elif kind == "drop":
            del stream[p]
        elif kind == "insert":
            stream.insert(p, val)
        elif kind == "zero":
            stream[p] = 0
        elif kind == "trunc":
            del stream[p:p + 1 + val % 30]
        elif kind == "dup":
            stream[p:p] = stream[p:p + 24]
        else:
            stream[p:p] = bytes((val + i * 37) % 255 + 1 for i in range(val))
    out, dec, ref = _check_against_reference(bytes(stream), cuts)
    # no corrupted frame accepted: every delivered sample is one the device sent
    for seq, flags, body in ref:
        assert (seq, flags, body) in originals
    accepted = dec.stats.frames_ok + dec.stats.errors + dec.stats.duplicates
    assert accepted <= len(frames) + len(muts) * 2 + bytes(stream).count(0)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1))
def test_clean_stream_any_chunking_identical(seed):
    frames = _frames(200, seed)
    data = b"".join(frames)
    rng = np.random.default_rng(seed)
    cuts = sorted(rng.integers(0, len(data), 20).tolist())
    a, da = _feed_chunked(data, cuts)
    b, db = _feed_chunked(data, [])
    for f in ("seq", "t_dev_us", "acc_raw", "gyr_raw", "flags"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert da.stats == db.stats and da.stats.errors == 0 and da.stats.seq_gaps == 0
