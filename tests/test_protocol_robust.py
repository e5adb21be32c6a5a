"""FrameDecoder robustness (PROTOCOL.md §6.5-§6.9): the clock kept by STATUS/PONG, duplicates in the boot
second, unannounced resets, gaps beyond the 16-bit seq, CRC-valid corrupted frames (held, then confirmed or
dropped), falling STATUS samples_total, newer proto_ver, and chunk invariance of all of it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imuwalk.sources import protocol as P

A = (0, 0, 4096)
G = (0, 0, 0)
BOOT = P.FLAG_BOOT
SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def decode(data: bytes, chunk: int | None = None) -> tuple[P.DecodedSamples, P.FrameDecoder]:
    dec = P.FrameDecoder()
    if chunk is None:
        return dec.feed(data), dec
    return P.DecodedSamples.concat(dec.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)), dec


def decode_every_way(data: bytes) -> tuple[P.DecodedSamples, P.DecoderStats]:
    """Decode whole, byte by byte and in 7-byte chunks: the results must be identical (chunk invariance)."""
    out, dec = decode(data)
    for chunk in ((1, 7) if len(data) < 20_000 else (7, 4096)):
        o2, d2 = decode(data, chunk)
        for f in ("seq", "t_dev_us", "acc_raw", "gyr_raw", "flags"):
            np.testing.assert_array_equal(getattr(o2, f), getattr(out, f))
        assert d2.stats == dec.stats
    return out, dec.stats


def smp(seq, t, flags=0, acc=A):
    return P.encode_sample(seq & 0xFFFF, t % 2**32, acc, G, flags)


def run(seq0, t0, n, dt=5000, flags=0):
    return b"".join(smp(seq0 + k, t0 + k * dt, flags) for k in range(n))


# ---- #1: the device clock is unwrapped from STATUS (and PONG) too

@pytest.mark.parametrize("minutes", [40, 75, 150])
def test_status_keeps_the_clock_while_stopped(minutes):
    """STOP for longer than half (40 min) or a whole (75, 150 min) 32-bit µs period, STATUS every second:
    the first sample after START has its exact unwrapped time (was off by up to 71.6 min, or lost periods)."""
    t0 = 10_000_000
    parts = [P.encode_meta(0, P.DeviceMeta(odr_hz=200.0)), smp(1, t0)]
    seq = 2
    for k in range(1, minutes * 60 + 1):
        parts.append(P.encode_status(seq & 0xFFFF, (t0 + k * 1_000_000) % 2**32, 1, 0, 0, 0))
        seq += 1
    t_start = t0 + minutes * 60 * 1_000_000 + 5000
    parts += [smp(seq, t_start), smp(seq + 1, t_start + 5000)]
    out, st = decode_every_way(b"".join(parts))
    assert out.t_dev_us.tolist() == [t0, t_start, t_start + 5000]
    assert out.seq.tolist() == [1, seq, seq + 1]
    assert st.time_jumps == st.resets == st.seq_gaps == st.samples_missing == st.frames_implausible == 0


def test_pong_advances_the_clock_but_never_rebases_it():
    t0 = 2**32 - 1_500_000
    # stopped: only PONGs for 3 s, 1 s apart; their t_us_rx carries the clock across the 32-bit wrap
    data = smp(0, t0) + b"".join(P.encode_pong(k, k, (t0 + k * 1_000_000) % 2**32) for k in range(1, 4))
    data += smp(4, t0 + 3_005_000)
    out, st = decode_every_way(data)
    assert out.t_dev_us.tolist() == [t0, t0 + 3_005_000] and st.frames_ok == 5
    # a PONG whose PING arrived long before (or a made-up t_us_rx) is taken, is not a jump, and changes no time
    data = run(0, 9_000_000, 3) + P.encode_pong(3, 7, 12345) + run(4, 9_020_000, 2)
    out, dec = decode(data)
    assert len(dec.pongs) == 1 and not dec.held and dec.stats.frames_implausible == 0
    assert out.t_dev_us.tolist() == [9_000_000, 9_005_000, 9_010_000, 9_020_000, 9_025_000]


def test_status_may_trail_the_samples_within_one_second():
    """A STATUS built before samples still queued (FIFO read-out) carries an earlier t_us: no jump, no reset."""
    data = run(0, 5_000_000, 10) + P.encode_status(10, 5_000_000, 10, 0, 0, 0) + run(11, 5_050_000, 10)
    out, st = decode_every_way(data)
    assert len(out) == 20 and st.resets == st.time_jumps == st.frames_implausible == st.seq_gaps == 0
    assert np.all(np.diff(out.t_dev_us.astype(np.int64)) == 5000)


# ---- #4: a duplicate in the boot second is a duplicate

def test_duplicate_during_boot_is_a_duplicate_not_a_reset():
    data = smp(5, 25_000, BOOT) + smp(5, 25_000, BOOT) + smp(6, 30_000, BOOT)
    out, st = decode_every_way(data)
    assert out.seq.tolist() == [5, 6] and out.t_dev_us.tolist() == [25_000, 30_000]
    assert (st.duplicates, st.resets, st.seq_gaps, st.samples_missing) == (1, 0, 0, 0)


def test_boot_seq_restart_is_still_a_reset():
    """BOOT with seq < seq_prev (a second reset within the boot second) and BOOT after non-BOOT stay resets."""
    data = run(0, 0, 10, 1000, BOOT) + run(0, 0, 5, 1000, BOOT)
    out, st = decode_every_way(data)
    assert st.resets == 1 and st.duplicates == 0 and len(out) == 15
    assert int(out.t_dev_us[10]) == 9000 + 1 and out.seq[10] == 9 + 1
    data = run(100, 50_000_000, 5) + P.encode_meta(0, P.DeviceMeta(), BOOT) + run(1, 20_000, 5, flags=BOOT)
    out, st = decode_every_way(data)
    assert st.resets == 1 and st.samples_missing == 0 and len(out) == 10
    assert int(out.t_dev_us[5]) == 50_020_000 + 1 + 20_000 and out.seq[5] == 104 + 1 + 1


def test_boot_frame_with_an_implausible_time_waits_for_confirmation():
    """A BOOT-flagged frame is a reset at once only with t_us <= 8 s: a corrupted frame with a random time
    and the BOOT bit (half of all corrupted frames carry it) must not reset the clock."""
    bad = smp(0x4321, 0x7654_3210, BOOT, acc=(5, 5, 5))
    out, st = decode_every_way(run(0, 3_000_000, 5) + bad + run(5, 3_025_000, 5))
    assert out.seq.tolist() == list(range(10)) and st.resets == 0 and st.frames_implausible == 1
    assert np.all(np.diff(out.t_dev_us.astype(np.int64)) == 5000)
    # a real reset whose BOOT frames have a large t_us (the clock did not restart at 0) is confirmed
    data = run(0, 3_000_000, 5) + run(0, 0x7654_3210, 5, flags=BOOT)
    out, st = decode_every_way(data)
    assert st.resets == 1 and len(out) == 10 and int(out.t_dev_us[5]) == 3_020_000 + 1 + 0x7654_3210


# ---- #3: resets the host did not see, and gaps beyond 65535 frames

def test_unannounced_reset_is_a_reset():
    """The reviewer's repro_reset: the device reset while the host was away (native USB re-enumerates), the
    BOOT second was missed. Counted as a reset (and a time jump), 300 frames since boot missing, not 60835."""
    data = run(4990, 1_000_000 + 4990 * 5000, 10)
    data += P.encode_status(5000, 26_000_000, 5000, 0, 0, 0)
    data += run(300, 1_500_000, 5)
    data += P.encode_status(305, 1_525_000, 305, 0, 0, 0)
    out, st = decode_every_way(data)
    assert (st.resets, st.time_jumps, st.seq_gaps, st.samples_missing) == (1, 1, 1, 300)
    assert out.seq.tolist() == list(range(4990, 5000)) + list(range(5301, 5306))
    t = out.t_dev_us.astype(np.int64)
    assert t[10] == 26_000_000 + 1 + 1_500_000 and np.all(np.diff(t) > 0)


def _gap_stream(lost: int, odr: float = 1000.0, meta: bool = True, tail: int = 3) -> bytes:
    dt = round(1e6 / odr)
    data = P.encode_meta(9, P.DeviceMeta(odr_hz=odr)) if meta else b""
    data += run(10, 1_000_000, 5, dt)
    s = 15 + lost
    data += run(s, 1_000_000 + (5 + lost) * dt, tail, dt)
    return data


@pytest.mark.parametrize("lost", [3, 1000, 65536 + 3, 65537, 2 * 65536 + 500, 5 * 65536 + 17])
def test_gap_longer_than_the_seq_period_is_estimated_from_the_time(lost):
    """§6.5: a gap of more than 65535 frames (1 kHz, outages of 65.5 s and more) is counted in full from the
    time jump and the META rate (the reviewer's case 3 gave missing = 3 instead of 65539)."""
    out, st = decode_every_way(_gap_stream(lost))
    assert st.samples_missing == lost and st.seq_gaps == 1 and st.resets == 0 and st.time_jumps == 0
    assert out.seq.tolist() == [10, 11, 12, 13, 14, 15 + lost, 16 + lost, 17 + lost]
    assert int(out.t_dev_us[5]) == 1_000_000 + (5 + lost) * 1000


def test_gap_of_a_whole_seq_period_minus_one():
    """65535 frames lost: the next frame repeats the seq of the last one seen (d = 0) and is dropped as a
    duplicate; the time jump of the frame after it still counts the whole period (65535 + the dropped one)."""
    out, st = decode_every_way(_gap_stream(65535))
    assert st.duplicates == 1 and st.samples_missing == 65536 and st.seq_gaps == 1 and st.resets == 0
    assert out.seq.tolist() == [10, 11, 12, 13, 14, 65536 + 15, 65536 + 16]


def test_gap_estimate_needs_the_rate_and_a_running_stream():
    # no META: the rate is unknown, only the seq difference is counted
    _, st = decode_every_way(_gap_stream(65536 + 3, meta=False))
    assert st.samples_missing == 3
    # at 200 Hz, 70000 frames lost (5.8 min)
    _, st = decode_every_way(_gap_stream(70_000, odr=200.0))
    assert st.samples_missing == 70_000
    # stopped (no sample in the 2 s before the gap, only STATUS): the time says nothing about the seq
    data = P.encode_meta(0, P.DeviceMeta(odr_hz=1000.0)) + smp(1, 1_000_000)
    data += b"".join(P.encode_status(1 + k, 1_000_000 + k * 1_000_000, 1, 0, 0, 0) for k in range(1, 6))
    data += run(7 + 3, 100_000_000, 3, 1000)  # 3 frames lost during a 94 s silence
    _, st = decode_every_way(data)
    assert st.samples_missing == 3 and st.seq_gaps == 1


def test_falling_samples_total_after_a_forward_jump_is_a_reset():
    """A reset missed after more than 35.8 min of uptime: the restarted clock looks like a forward step; the
    next STATUS reports fewer samples than before, so the jump was a reset (missing: frames since boot)."""
    meta = P.encode_meta(20_000, P.DeviceMeta(odr_hz=200.0))
    tb = 2**32 - 400_000
    data = meta + run(20_001, tb, 10) + P.encode_status(20_011, tb + 46_000, 900_000, 0, 0, 0)
    data += run(500, 2_600_000, 10) + P.encode_status(510, 2_646_000, 480, 0, 0, 0) + run(511, 2_650_000, 3)
    out, st = decode_every_way(data)
    assert (st.resets, st.time_jumps, st.seq_gaps, st.samples_missing) == (1, 0, 1, 500)
    assert len(out) == 23 and np.all(np.diff(out.t_dev_us.astype(np.int64)) > 0)


def test_corrupted_samples_total_alone_is_not_a_reset():
    data = run(0, 1_000_000, 5) + P.encode_status(5, 1_021_000, 5000, 0, 0, 0) + run(6, 1_025_000, 5)
    data += P.encode_status(11, 1_051_000, 11, 0, 0, 0) + run(12, 1_055_000, 5)  # falls, but no jump before
    _, st = decode_every_way(data)
    assert st.resets == 0 and st.samples_missing == 0


# ---- #2: a corrupted frame that passed the CRC

def test_reviewer_repro_false():
    good = b"".join(smp(s, 1_000_000 + s * 5000) for s in range(100, 105))
    bad = P.encode_sample(0x9A3C, 0x89ABCDEF, (123, -5, 77), (9, 9, 9))
    rest = b"".join(smp(s, 1_000_000 + s * 5000) for s in range(105, 110))
    out, st = decode_every_way(good + bad + rest)
    assert out.seq.tolist() == list(range(100, 110))
    assert out.t_dev_us.tolist() == [1_000_000 + s * 5000 for s in range(100, 110)]
    assert (st.samples_missing, st.seq_gaps, st.time_jumps, st.resets, st.frames_implausible) == (0, 0, 0, 0, 1)
    assert st.frames_ok == 11  # the dropped frame had a valid CRC and length


@pytest.mark.parametrize("kind", ["seq_and_time", "time_back", "time_ahead", "seq_only", "status", "meta",
                                  "meta_boot", "log", "unknown_type", "short_sample", "pong"])
def test_one_corrupted_frame_changes_nothing_else(kind):
    """Whatever the type of the CRC-valid corrupted frame, it costs itself (and the frame it replaced) only."""
    t0 = 50_000_000
    frames = [smp(s, t0 + s * 5000) for s in range(40)]
    s, t = 20, t0 + 20 * 5000  # the corrupted frame replaces frame 20
    bad = {"seq_and_time": smp(s + 31000, t + 1_900_000_000),
           "time_back": smp(s, t - 600_000_000),
           "time_ahead": smp(s, t + 90_000_000),
           "seq_only": smp(s + 9000, t),
           "status": P.encode_status(s, (t - 3_000_000_000) % 2**32, 1, 2, 3, 4),
           "meta": P.encode_meta((s + 20000) & 0xFFFF, P.DeviceMeta()),
           "meta_boot": P.encode_meta(40_000, P.DeviceMeta(), BOOT),
           "log": P.encode_log((s + 777) & 0xFFFF, "x", BOOT),
           "unknown_type": P.encode_packet(0x33, (s + 4000) & 0xFFFF, b"abc"),
           "short_sample": P.encode_packet(P.T_IMU_SAMPLE, (s + 4000) & 0xFFFF, b"ab"),
           "pong": P.encode_pong((s + 4000) & 0xFFFF, 1, t + 9_000_000)}[kind]
    frames[s] = bad
    out, st = decode_every_way(b"".join(frames))
    keep = [k for k in range(40) if k != s]
    assert out.seq.tolist() == keep
    assert out.t_dev_us.tolist() == [t0 + k * 5000 for k in keep]
    assert (st.samples_missing, st.seq_gaps, st.time_jumps, st.resets, st.frames_implausible) == (1, 1, 0, 0, 1)


def test_held_frame_waits_across_feeds_and_is_confirmed():
    """A jump at the end of a feed() is held (not yet delivered) and released by the next device frame."""
    dec = P.FrameDecoder()
    a = dec.feed(run(0, 9_000_000, 3))
    b = dec.feed(smp(200, 1_000))  # the clock went backwards: a reset? a corrupted frame?
    assert len(a) == 3 and len(b) == 0 and dec.held
    assert len(dec.feed(b"\x00\x00" + P.encode_command("ping", 5) + b"\x11\x22\x00")) == 0
    assert dec.held and dec.stats.errors == 1  # empty frames, commands and invalid frames do not decide
    c = dec.feed(smp(201, 6_000))
    assert not dec.held and c.seq.tolist() == [2 + 1 + 200, 2 + 1 + 201]
    assert c.t_dev_us.tolist() == [9_010_000 + 1 + 1_000, 9_010_000 + 1 + 6_000]
    assert dec.stats.resets == 1 and dec.stats.time_jumps == 1 and dec.stats.samples_missing == 200


def test_duplicate_of_the_held_frame_does_not_decide():
    data = run(0, 9_000_000, 3) + smp(500, 2_000) + smp(500, 2_000) + smp(501, 7_000)
    out, st = decode_every_way(data)
    assert st.duplicates == 1 and st.resets == 1 and st.frames_implausible == 0 and len(out) == 5


def test_two_corrupted_frames_in_a_row():
    frames = [smp(s, 1_000_000 + s * 5000) for s in range(30)]
    frames[10] = smp(40_000, 3_000_000_000)
    frames[11] = smp(7, 2_900_000_000)
    out, st = decode_every_way(b"".join(frames))
    assert out.seq.tolist() == [k for k in range(30) if k not in (10, 11)]
    assert st.frames_implausible == 2 and st.samples_missing == 2 and st.resets == 0 and st.time_jumps == 0


# ---- #6 host: proto_ver

def test_newer_proto_ver_is_counted_and_warned_once():
    data = P.encode_meta(0, P.DeviceMeta(proto_ver=7)) + smp(1, 1000) + P.encode_meta(2, P.DeviceMeta(proto_ver=7))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dec = P.FrameDecoder()
        out = dec.feed(data)
        dec.feed(P.encode_meta(3, P.DeviceMeta(proto_ver=7)))
    msgs = [x for x in w if issubclass(x.category, RuntimeWarning) and "protocol version 7" in str(x.message)]
    assert len(msgs) == 1 and len(out) == 1 and dec.meta.proto_ver == 7
    assert dec.stats.proto_ver_newer == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dec = P.FrameDecoder()
        dec.feed(P.encode_meta(0, P.DeviceMeta()))  # the version implemented: silent
    assert dec.stats.proto_ver_newer == 0


# ---- #5: bit 7 of the type is the direction

def test_type_bit7_is_the_direction():
    """0x10 (reserved device->host) takes part in the sequence; 0x90 (reserved host->device) does not."""
    _, st = decode_every_way(smp(1, 1000) + P.encode_packet(0x10, 2, b"\x01") + smp(3, 6000))
    assert st.seq_gaps == 0 and st.unknown_type == 1
    _, st = decode_every_way(smp(1, 1000) + P.encode_packet(0x90, 2, b"\x01") + smp(3, 6000))
    assert st.seq_gaps == 1 and st.samples_missing == 1


# ---- chunk invariance and monotonicity over eventful streams

def _eventful(seed: int, events: list[tuple[str, int]]) -> bytes:
    """A device session at 200 Hz with the given events in order (each followed by normal samples)."""
    rng = np.random.default_rng(seed)
    seq, t = 0, int(rng.integers(0, 2**32))
    parts = [P.encode_meta(seq, P.DeviceMeta(odr_hz=200.0), BOOT)]
    seq += 1

    def samples(n, flags=0):
        nonlocal seq, t
        for _ in range(n):
            t += 5000
            parts.append(smp(seq, t, flags))
            seq += 1

    samples(5, BOOT)
    for kind, arg in events:
        if kind == "outage":  # frames lost on the link
            lost = [3, 150, 70_000][arg % 3]
            seq += lost
            t += lost * 5000
        elif kind == "stop":  # STOP, STATUS every second, START
            for _ in range(2 + arg % 4):
                t += 1_000_000
                parts.append(P.encode_status(seq & 0xFFFF, t % 2**32, 5, 0, 0, 0))
                seq += 1
        elif kind in ("reset", "silent_reset"):
            seq, t = 0, int(rng.integers(0, 3_000_000))
            if kind == "reset":
                parts.append(P.encode_meta(0, P.DeviceMeta(odr_hz=200.0), BOOT))
                seq = 1
                samples(3, BOOT)
            else:
                seq = 200 + arg
                t += 1_000_000
        elif kind == "corrupt":
            parts.append(P.encode_sample(int(rng.integers(0, 65536)), int(rng.integers(0, 2**32)), A, G,
                                         int(rng.integers(0, 256)) & ~BOOT))
        elif kind == "dup":
            parts.append(parts[-1])
        elif kind == "status":
            parts.append(P.encode_status(seq & 0xFFFF, (t - 1000) % 2**32, 9, 0, 0, 0))
            seq += 1
        elif kind == "pong":
            parts.append(P.encode_pong(seq & 0xFFFF, 1, (t - 20_000) % 2**32))
            seq += 1
        samples(3 + arg % 5)
    return b"".join(parts)


EVENTS = st.lists(st.tuples(st.sampled_from(["outage", "stop", "reset", "silent_reset", "corrupt", "dup",
                                             "status", "pong"]), st.integers(0, 50)), max_size=10)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), events=EVENTS, cuts=st.lists(st.integers(0, 10**6), max_size=10))
def test_eventful_streams_any_chunking_identical_and_monotonic(seed, events, cuts):
    data = _eventful(seed, events)
    whole, dw = decode(data)
    dec = P.FrameDecoder()
    bounds = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    parts = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        parts.append(dec.feed(data[a:b]))
        assert dec._tail.shape[0] <= P.MAX_ENCODED
    split = P.DecodedSamples.concat(parts)
    for f in ("seq", "t_dev_us", "acc_raw", "gyr_raw", "flags"):
        np.testing.assert_array_equal(getattr(split, f), getattr(whole, f))
    assert dec.stats == dw.stats and dec.held == dw.held
    if len(whole) > 1:
        assert np.all(np.diff(whole.t_dev_us.astype(np.int64)) > 0)
        assert np.all(np.diff(whole.seq.astype(np.int64)) > 0)
    st_ = dw.stats
    assert st_.errors == 0
    assert st_.resets >= sum(1 for k, _ in events if k == "reset")
    assert st_.frames_implausible <= sum(1 for k, _ in events if k == "corrupt")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), pos=st.integers(1, 38), seq_off=st.integers(300, 65236),
       t_off=st.integers(3_000_000, 2**32 - 3_000_000), ptype=st.sampled_from([1, 2, 3, 0x7F, 0x20]),
       flags=st.integers(0, 255), which=st.sampled_from(["both", "seq", "time"]))
def test_any_single_corrupted_frame_costs_only_itself(seed, pos, seq_off, t_off, ptype, flags, which):
    """A CRC-valid corrupted version of frame ``pos`` (type, flags, seq and/or t_us off) in a clean 200 Hz
    stream: every other sample decodes with its exact seq and time, one frame missing, nothing else counted.
    (Excluded: the residual cases the rules cannot tell from a real event: a BOOT flag with t_us <= 8 s, a
    reset at once, ~2^-10 of such frames.)"""
    rng = np.random.default_rng(seed)
    t0 = int(rng.integers(10_000_000, 2**32))
    s0 = int(rng.integers(0, 65536))
    frames = [smp(s0 + k, t0 + k * 5000) for k in range(40)]
    s = s0 + pos
    t = t0 + pos * 5000
    bs = s + (seq_off if which != "time" else 0)
    bt = (t + (t_off if which != "seq" else 0)) % 2**32
    if flags & BOOT and (ptype not in (1, 3) or bt <= P.BOOT_T_MAX_US):
        flags &= ~BOOT
    body = {1: P._SAMPLE_BODY.pack(bt, 1, 2, 3, 4, 5, 6), 2: P.DeviceMeta().body(),
            3: P._STATUS_BODY.pack(bt, 1, 2, 3, 4), 0x7F: b"text", 0x20: b"\x01\x02"}[ptype]
    frames[pos] = P.encode_packet(ptype, bs & 0xFFFF, body, flags)
    out, dec = decode(b"".join(frames))
    keep = [k for k in range(40) if k != pos]
    assert out.seq.tolist() == [s0 + k for k in keep]
    assert out.t_dev_us.tolist() == [t0 + k * 5000 for k in keep]
    st_ = dec.stats
    if which == "time" and ptype not in (1, 3):  # seq right, no time: a frame of another type, taken
        assert (st_.samples_missing, st_.seq_gaps, st_.frames_implausible) == (0, 0, 0)
    else:
        assert (st_.samples_missing, st_.seq_gaps, st_.frames_implausible) == (1, 1, 1)
    assert st_.resets == st_.time_jumps == 0


def test_golden_vectors_cover_the_receiver_rules():
    """The shared vectors file carries a stream for each rule added here (test_protocol decodes them all)."""
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parent.parent / "firmware_bridge" / "vectors" /
                      "golden_frames.json").read_text())
    names = {s["name"] for s in doc["streams"]}
    assert {"duplicate_during_boot", "unannounced_reset", "implausible_frame", "gap_beyond_seq_wrap",
            "reset_after_long_uptime"} <= names
