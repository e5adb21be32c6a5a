"""The Python wire codec against the shared golden vectors, round trips, resync, counters and wraps."""

from __future__ import annotations

import binascii
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from imuwalk.sources import protocol as P

VECTORS = Path(__file__).resolve().parent.parent / "firmware_bridge" / "vectors" / "golden_frames.json"
DOC = json.loads(VECTORS.read_text())
FRAMES = {f["name"]: f for f in DOC["frames"]}


def _crc_bitwise(data: bytes) -> int:
    """Independent textbook CRC-16/CCITT-FALSE (bit by bit) to cross-check binascii and the table kernel."""
    crc = 0xFFFF
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_check_value_and_params():
    assert DOC["crc"]["check"] == "0x29B1"
    assert P.crc16(b"123456789") == 0x29B1
    assert _crc_bitwise(b"123456789") == 0x29B1
    rng = np.random.default_rng(1)
    for n in (0, 1, 5, 20, 254):
        d = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert P.crc16(d) == _crc_bitwise(d)


def test_note_golden_vector_is_in_file():
    g = FRAMES["sample_golden"]
    assert g["packet_hex"] == "0100010040420f000000000000080100ffff00006211"
    assert g["wire_hex"] == "020102010440420f010101010103080103ffff0103621100"
    pkt = bytes.fromhex(g["packet_hex"])
    assert _crc_bitwise(pkt[:-2]) == 0x1162


@pytest.mark.parametrize("vec", DOC["cobs"], ids=lambda v: v["decoded_hex"][:12])
def test_cobs_vectors(vec):
    raw, enc = bytes.fromhex(vec["decoded_hex"]), bytes.fromhex(vec["encoded_hex"])
    assert P.cobs_encode(raw) == enc
    assert P.cobs_decode(enc) == raw
    assert 0 not in enc
    assert len(enc) <= len(raw) + len(raw) // 254 + 1


def test_cobs_wikipedia_examples():
    # independent published examples (Wikipedia "Consistent Overhead Byte Stuffing")
    assert P.cobs_encode(b"\x00") == b"\x01\x01"
    assert P.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert P.cobs_encode(b"\x11\x00\x00\x00") == b"\x02\x11\x01\x01\x01"


def test_cobs_decode_errors():
    with pytest.raises(ValueError, match="data"):
        P.cobs_decode(b"\x05\x11\x22")
    with pytest.raises(ValueError, match="0x00"):
        P.cobs_decode(b"\x03\x11\x00")


def _encode_from_fields(f):
    t, fl, seq, x = f["type"], f["flags"], f["seq"], f["fields"]
    if "extra_hex" in x:  # a longer body (future version): the normal body plus the extra bytes
        base = _encode_from_fields({**f, "fields": {k: v for k, v in x.items() if k != "extra_hex"}})
        body = P.cobs_decode(base[:-1])[P.HEADER_SIZE:-P.CRC_SIZE] + bytes.fromhex(x["extra_hex"])
        return P.encode_packet(t, seq, body, fl)
    if t == P.T_IMU_SAMPLE:
        return P.encode_sample(seq, x["t_us"], x["acc"], x["gyr"], fl)
    if t == P.T_META:
        m = P.DeviceMeta(x["proto_ver"], x["imu_model"], x["odr_mhz"] / 1000, x["acc_scale"], x["gyr_scale"],
                         x["acc_range_g"], x["gyr_range_dps"], int(x["uid"], 16), x["fw_ver"])
        return P.encode_meta(seq, m, fl)
    if t == P.T_STATUS:
        return P.encode_status(seq, x["t_us"], x["samples_total"], x["tx_dropped"], x["fifo_overruns"],
                               x["crc_rx_errors"], fl)
    if t == P.T_PONG:
        return P.encode_pong(seq, x["token"], x["t_us_rx"], fl)
    if t == P.T_LOG:
        return P.encode_log(seq, x["text"], fl)
    if t == P.CMD_SET_ODR:
        return P.encode_command("set_odr", x["odr_mhz"] / 1000, seq)
    if t == P.CMD_PING:
        return P.encode_command("ping", x["token"], seq)
    if t in (P.CMD_START, P.CMD_STOP):
        return P.encode_command(t, None, seq)
    return P.encode_packet(t, seq, bytes.fromhex(x["body_hex"]), fl)


@pytest.mark.parametrize("vec", DOC["frames"], ids=lambda v: v["name"])
def test_golden_frames_encode(vec):
    wire = _encode_from_fields(vec)
    assert wire.hex() == vec["wire_hex"]
    pkt = bytes.fromhex(vec["packet_hex"])
    assert P.cobs_decode(wire[:-1]) == pkt
    assert _crc_bitwise(pkt[:-2]) == struct.unpack("<H", pkt[-2:])[0]
    assert wire.count(0) == 1 and wire[-1] == 0
    assert len(wire) <= P.MAX_WIRE


@pytest.mark.parametrize("vec", DOC["frames"], ids=lambda v: v["name"])
def test_golden_frames_decode(vec):
    dec = P.FrameDecoder()
    out = dec.feed(bytes.fromhex(vec["wire_hex"]))
    st = dec.stats
    assert st.crc_errors == st.cobs_errors == st.short_frames == 0
    x, t = vec["fields"], vec["type"]
    if t == P.T_IMU_SAMPLE:
        assert len(out) == 1
        assert out.seq[0] == vec["seq"] and out.t_dev_us[0] == x["t_us"] and out.flags[0] == vec["flags"]
        assert out.acc_raw[0].tolist() == x["acc"] and out.gyr_raw[0].tolist() == x["gyr"]
    else:
        assert len(out) == 0
    if t == P.T_META:
        m = dec.meta
        assert m is not None and m.device_id == x["uid"] and m.odr_hz * 1000 == x["odr_mhz"]
        assert struct.pack(">f", m.acc_scale_g_per_lsb).hex() == x["acc_scale_f32_hex"]
        assert (m.acc_range_g, m.gyr_range_dps, m.fw_ver, m.imu_model) == (
            x["acc_range_g"], x["gyr_range_dps"], x["fw_ver"], x["imu_model"])
    if t == P.T_STATUS:
        assert dec.status.tx_dropped == x["tx_dropped"] and dec.status.t_us == x["t_us"]
        assert (dec.status.samples_total, dec.status.fifo_overruns, dec.status.crc_rx_errors) == (
            x["samples_total"], x["fifo_overruns"], x["crc_rx_errors"])
        assert dec.stats.device_tx_dropped == x["tx_dropped"]
    if t == P.T_LOG:
        assert list(dec.logs) == [(vec["seq"], x["text"])]
    if t == P.T_PONG:
        assert dec.pongs[0].token == x["token"] and dec.pongs[0].t_us_rx == x["t_us_rx"]
    if t in P.COMMAND_TYPES:
        c = dec.commands[0]
        assert c.code == t and c.seq == vec["seq"]
        if t == P.CMD_PING:
            assert c.arg == x["token"]
        if t == P.CMD_SET_ODR:
            assert c.arg == x["odr_mhz"] / 1000
    if t == 0x10:
        assert st.unknown_type == 1 and st.frames_ok == 1
    else:
        assert st.unknown_type == 0 and st.frames_ok == 1


def test_golden_vectors_cover_the_spec():
    """Every frame type of PROTOCOL.md section 2, the limits and the wrap edges have a golden vector."""
    frames = DOC["frames"]
    types = {f["type"] for f in frames}
    assert {P.T_IMU_SAMPLE, P.T_META, P.T_STATUS, P.T_PONG, P.T_LOG, *P.COMMAND_TYPES} <= types
    assert any(0x05 <= t <= 0x7E for t in types)  # a reserved (unknown) type
    assert max(len(bytes.fromhex(f["packet_hex"])) for f in frames) == P.MAX_PACKET
    assert max(len(bytes.fromhex(f["wire_hex"])) for f in frames) == P.MAX_WIRE
    assert any(f["seq"] == 0xFFFF for f in frames) and any(f["fields"].get("t_us") == 2**32 - 1 for f in frames)
    assert any(f["flags"] & 0xF8 for f in frames)  # reserved flag bits
    extended = {f["type"] for f in frames if "extra_hex" in f["fields"]}
    assert {P.T_IMU_SAMPLE, P.T_META, P.T_STATUS, P.T_PONG} <= extended
    assert {"crc_errors", "cobs_errors", "short_frames", "oversize_dropped"} <= {v["counter"] for v in DOC["invalid"]}
    assert {"seq_and_time_wrap", "gap", "duplicate", "device_reset"} <= {s["name"] for s in DOC["streams"]}


@pytest.mark.parametrize("stream", DOC["streams"], ids=lambda s: s["name"])
def test_golden_streams_decode(stream):
    wire = b"".join(bytes.fromhex(f["wire_hex"]) for f in stream["frames"])
    for f in stream["frames"]:
        assert _encode_from_fields(f).hex() == f["wire_hex"]
    exp = stream["expect"]
    for chunk in (1, len(wire)):
        dec = P.FrameDecoder()
        out = P.DecodedSamples.concat(dec.feed(wire[i:i + chunk]) for i in range(0, len(wire), chunk))
        assert out.seq.tolist() == exp["seq"] and out.t_dev_us.tolist() == exp["t_dev_us"]
        st = dec.stats.as_dict()
        assert {k: st[k] for k in exp["stats"]} == exp["stats"]
        assert dec.stats.errors == 0


@pytest.mark.parametrize("vec", DOC["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_rejected_and_counted(vec):
    dec = P.FrameDecoder()
    good = bytes.fromhex(FRAMES["sample_golden"]["wire_hex"])
    out = dec.feed(bytes.fromhex(vec["wire_hex"]) + good)
    st = dec.stats.as_dict()
    assert st[vec["counter"]] == 1
    assert dec.stats.errors == 1
    assert len(out) == 1 and out.seq[0] == 1  # resync on the very next frame


def test_meta_fields_and_device_id():
    m = P.DeviceMeta(uid=0xABCDEF)
    assert m.device_id == "0000000000abcdef"
    dec = P.FrameDecoder()
    dec.feed(P.encode_meta(0, P.DeviceMeta(imu_model=2, odr_hz=1000.0, uid=2**64 - 1)))
    assert dec.meta.device_id == "f" * 16 and dec.meta.odr_hz == 1000.0 and dec.meta.imu_name == "mpu6050"


def test_encoder_validation():
    with pytest.raises(ValueError, match="seq"):
        P.encode_sample(70000, 0, (0, 0, 0), (0, 0, 0))
    with pytest.raises(ValueError, match="t_us"):
        P.encode_sample(0, -1, (0, 0, 0), (0, 0, 0))
    with pytest.raises(ValueError, match="acc_counts"):
        P.encode_sample(0, 0, (0, 0, 40000), (0, 0, 0))
    with pytest.raises(ValueError, match="gyr_counts"):
        P.encode_sample(0, 0, (0, 0, 0), (0, 0))
    with pytest.raises(ValueError, match="acc_counts"):
        P.encode_sample(0, 0, (0, 0.5, 0), (0, 0, 0))
    with pytest.raises(ValueError, match="body"):
        P.encode_packet(1, 0, b"x" * (P.MAX_BODY + 1))
    with pytest.raises(ValueError, match="cmd"):
        P.encode_command("reboot")
    with pytest.raises(ValueError, match="arg"):
        P.encode_command("set_odr", -5)
    # SET_ODR carries u32 mHz: a rate that rounds to 0 mHz (ignored by the device) or to 2**32 is invalid
    for bad in (0.0004, 0.0005, 4294967.2955, 4294967.296):
        with pytest.raises(ValueError, match="arg"):
            P.encode_command("set_odr", bad)
    assert P.encode_command("set_odr", 0.001) == P.encode_packet(P.CMD_SET_ODR, 0, struct.pack("<I", 1))
    assert P.encode_command("set_odr", 4294967.295) == P.encode_packet(P.CMD_SET_ODR, 0, b"\xff" * 4)
    with pytest.raises(ValueError, match="acc_scale"):
        P.encode_meta(0, P.DeviceMeta(acc_scale_g_per_lsb=0.0))
    with pytest.raises(ValueError, match="text"):
        P.encode_log(0, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="t_us"):
        P.encode_samples(0, np.zeros((2, 2)), np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="gyr_counts"):
        P.encode_samples(0, np.zeros(2), np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(TypeError):
        P.FrameDecoder().feed("text is not bytes")  # type: ignore[arg-type]


def test_log_truncated_at_char_boundary():
    wire = P.encode_log(0, "\u00b5" * 200)  # 400 bytes of UTF-8
    dec = P.FrameDecoder()
    dec.feed(wire)
    text = dec.logs[0][1]
    assert text == "\u00b5" * (P.MAX_LOG_BYTES // 2) and len(wire) <= P.MAX_WIRE


def _stream(n, seq0=0, t0=0, dt=5000, flags=0, rng=None):
    rng = rng or np.random.default_rng(0)
    t = t0 + np.arange(n, dtype=np.int64) * dt
    acc = rng.integers(-32768, 32768, (n, 3))
    gyr = rng.integers(-32768, 32768, (n, 3))
    return P.encode_samples(seq0, t % 2**32, acc, gyr, flags), t, acc, gyr


def test_encode_samples_matches_single_encoder():
    b, t, acc, gyr = _stream(50, seq0=65530, t0=2**32 - 100_000)
    singles = b"".join(P.encode_sample((65530 + k) % 65536, int(t[k] % 2**32), acc[k], gyr[k])
                       for k in range(50))
    assert b == singles


@pytest.mark.parametrize("chunk", [1, 7, 24, 1000, None])
def test_round_trip_any_chunking(chunk):
    b, t, acc, gyr = _stream(3000)
    dec = P.FrameDecoder()
    if chunk is None:
        parts = [dec.feed(b)]
    else:
        parts = [dec.feed(b[i:i + chunk]) for i in range(0, len(b), chunk)]
    out = P.DecodedSamples.concat(parts)
    assert len(out) == 3000
    np.testing.assert_array_equal(out.seq, np.arange(3000))
    np.testing.assert_array_equal(out.t_dev_us, t)
    np.testing.assert_array_equal(out.acc_raw, acc)
    np.testing.assert_array_equal(out.gyr_raw, gyr)
    assert out.seq.dtype == np.uint64 and out.t_dev_us.dtype == np.uint64 and out.acc_raw.dtype == np.int16
    st = dec.stats
    assert st.frames_ok == 3000 and st.errors == 0 and st.seq_gaps == 0 and st.bytes_total == len(b)


def test_seq_and_time_wrap_unwrapped():
    # 70000 frames at 1 kHz starting just before both counters wrap
    n = 70000
    b, t, _, _ = _stream(n, seq0=65000, t0=2**32 - 3_000_000, dt=1000)
    dec = P.FrameDecoder()
    out = P.DecodedSamples.concat(dec.feed(b[i:i + 50_000]) for i in range(0, len(b), 50_000))
    np.testing.assert_array_equal(out.seq, 65000 + np.arange(n))
    np.testing.assert_array_equal(out.t_dev_us, t)
    assert out.t_dev_us[-1] > 2**32 and dec.stats.seq_gaps == 0 and dec.stats.time_jumps == 0


def test_gaps_counted_and_seq_unwrapped_across_gap():
    b, _, _, _ = _stream(100)
    frames = [b[i:i + 24] for i in range(0, len(b), 24)]
    kept = [f for k, f in enumerate(frames) if k not in (10, 11, 12, 50)]
    dec = P.FrameDecoder()
    out = dec.feed(b"".join(kept))
    assert dec.stats.seq_gaps == 2 and dec.stats.samples_missing == 4 and len(out) == 96
    assert 10 not in out.seq and out.seq[-1] == 99


def test_resync_after_garbage_within_one_frame():
    b, _, _, _ = _stream(20)
    frames = [b[i:i + 24] for i in range(0, len(b), 24)]
    rng = np.random.default_rng(5)
    garbage = rng.integers(1, 256, 40, dtype=np.uint8).tobytes()  # no 0x00: merges with the next frame
    stream = b"".join(frames[:5]) + garbage + b"".join(frames[5:])
    dec = P.FrameDecoder()
    out = dec.feed(stream)
    # the garbage swallows frame 5 (one frame lost), frame 6 onward decodes
    assert out.seq.tolist() == [0, 1, 2, 3, 4] + list(range(6, 20))
    assert dec.stats.errors == 1 and dec.stats.samples_missing == 1


def test_truncated_frame_and_lost_delimiter():
    b, _, _, _ = _stream(10)
    f = [b[i:i + 24] for i in range(0, len(b), 24)]
    # a truncated frame without its delimiter merges with the next one: both lost, one error
    stream = f[0] + f[1][:10] + f[2] + f[3][:-1] + f[4] + f[5]
    dec = P.FrameDecoder()
    out = dec.feed(stream)
    assert out.seq.tolist() == [0, 5]
    assert dec.stats.errors == 2 and dec.stats.samples_missing == 4 and dec.stats.seq_gaps == 1
    # truncated but delimited: only that frame is lost
    dec = P.FrameDecoder()
    out = dec.feed(f[0] + f[1][:10] + b"\x00" + f[2] + f[3])
    assert out.seq.tolist() == [0, 2, 3] and dec.stats.errors == 1 and dec.stats.samples_missing == 1


def test_bad_crc_never_accepted():
    b, _, _, _ = _stream(200)
    arr = bytearray(b)
    rng = np.random.default_rng(9)
    for k in range(0, 200, 3):  # flip one non-delimiter byte in every third frame (keep it non-zero)
        pos = k * 24 + int(rng.integers(0, 23))
        arr[pos] = arr[pos] ^ 0x01 if arr[pos] not in (0x01,) else 0x03
    dec = P.FrameDecoder()
    out = dec.feed(bytes(arr))
    bad = set(range(0, 200, 3))
    assert not bad & set(out.seq.tolist())
    assert len(out) == 200 - len(bad)
    assert dec.stats.errors == len(bad)


def test_oversize_garbage_is_capped():
    dec = P.FrameDecoder()
    for _ in range(100):
        dec.feed(b"\x55" * 10_000)
        assert dec._tail.shape[0] <= P.MAX_ENCODED
    assert dec.stats.oversize_dropped == 1
    b, _, _, _ = _stream(3)
    out = dec.feed(b"\x55" + b"\x00" + b)  # the 0x00 ends the oversize run; the next frames decode
    assert len(out) == 3 and dec.stats.oversize_dropped == 1


def test_device_reset_keeps_time_monotonic():
    b1, t1, _, _ = _stream(100, seq0=0, t0=10_000_000)
    boot = P.encode_meta(0, P.DeviceMeta(), P.FLAG_BOOT)
    b2 = P.encode_samples(1, 20_000 + np.arange(50) * 5000, np.zeros((50, 3)), np.zeros((50, 3)), P.FLAG_BOOT)
    b3 = P.encode_samples(51, 20_000 + np.arange(50, 80) * 5000, np.zeros((30, 3)), np.zeros((30, 3)))
    dec = P.FrameDecoder()
    out = dec.feed(b1 + boot + b2 + b3)
    assert dec.stats.resets == 1 and dec.stats.seq_gaps == 0 and len(out) == 180
    assert np.all(np.diff(out.t_dev_us.astype(np.int64)) > 0)
    assert np.all(np.diff(out.seq.astype(np.int64)) >= 1)
    # after the reset: t = t_last + 1 + t_us
    assert int(out.t_dev_us[100]) == int(t1[-1]) + 1 + 20_000
    assert np.all(np.diff(out.t_dev_us[100:].astype(np.int64)) == 5000)
    assert out.seq[100] == 99 + 1 + 1  # META (seq 0 after boot) took 100, first sample 101


def test_second_reset_during_boot_window_and_backward_clock():
    dec = P.FrameDecoder()
    a = P.encode_samples(0, np.arange(10) * 1000, np.zeros((10, 3)), np.zeros((10, 3)), P.FLAG_BOOT)
    b = P.encode_samples(0, np.arange(5) * 1000, np.zeros((5, 3)), np.zeros((5, 3)), P.FLAG_BOOT)
    out = dec.feed(a + b)
    assert dec.stats.resets == 1 and np.all(np.diff(out.t_dev_us.astype(np.int64)) > 0)
    # clock jumps back without BOOT (reset with lost boot frames): still monotonic, counted
    c = P.encode_samples(100, np.arange(5) * 1000, np.zeros((5, 3)), np.zeros((5, 3)))
    out2 = dec.feed(c)
    assert dec.stats.time_jumps == 1 and int(out2.t_dev_us[0]) > int(out.t_dev_us[-1])


def test_duplicates_dropped():
    b, _, _, _ = _stream(5)
    f = [b[i:i + 24] for i in range(0, len(b), 24)]
    dec = P.FrameDecoder()
    out = dec.feed(f[0] + f[1] + f[1] + f[2])
    assert out.seq.tolist() == [0, 1, 2] and dec.stats.duplicates == 1


def test_status_tx_dropped_accumulates_over_resets_and_flags():
    dec = P.FrameDecoder()
    dec.feed(P.encode_status(0, 1, 10, 5, 1, 0) + P.encode_status(1, 2, 20, 7, 1, 0))
    dec.feed(P.encode_status(0, 3, 5, 2, 0, 0, P.FLAG_BOOT))
    assert dec.stats.device_tx_dropped == 9 and dec.stats.device_fifo_overruns == 1
    dec.feed(P.encode_sample(1, 5, (0, 0, 0), (0, 0, 0), P.FLAG_TX_DROPPED | P.FLAG_OVERRUN))
    assert dec.stats.tx_dropped_flags == 1 and dec.stats.overrun_flags == 1


def test_decode_all_and_empty_frames():
    b, _, _, _ = _stream(4)
    out, dec = P.decode_all(b"\x00\x00" + b)
    assert len(out) == 4 and dec.stats.empty_frames == 2 and dec.stats.errors == 0
    assert len(dec.feed(b"")) == 0


def test_clock_mapper_recovers_drift_and_offset():
    rng = np.random.default_rng(3)
    n = 20_000  # 100 s at 200 Hz, one observation per sample
    t_dev = (np.arange(n) * 5000).astype(np.int64) + 123_456
    drift = 40e-6  # device clock slow by 40 ppm -> host advances faster
    true_host_ns = 5_000_000_000_000 + np.round(t_dev * 1000 * (1 + drift)).astype(np.int64)
    delay = rng.exponential(2e6, n).astype(np.int64) + 300_000  # 0.3 ms min + exp(2 ms)
    cm = P.ClockMapper(window_s=300, bucket_s=0.5)
    for i in range(0, n, 997):
        cm.update(t_dev[i:i + 997], true_host_ns[i:i + 997] + delay[i:i + 997])
    est = cm.map(t_dev)
    err = est - (true_host_ns * 1e-9 + 300e-6)
    assert np.max(np.abs(err)) < 0.5e-3  # within 0.5 ms of the minimum-delay line
    assert abs(cm.drift_ppm - 40.0) < 5.0
    # deterministic: the same observations give the same mapping
    cm2 = P.ClockMapper(window_s=300, bucket_s=0.5).update(t_dev, true_host_ns + delay)
    np.testing.assert_array_equal(cm2.map(t_dev), est)
    ns = cm.map_ns(t_dev[:3])
    assert ns.dtype == np.int64 and abs(int(ns[0]) - int(round(est[0] * 1e9))) < 2000


def test_clock_mapper_errors_and_single_point():
    cm = P.ClockMapper()
    with pytest.raises(ValueError, match="t_dev_us"):
        cm.map([0])
    with pytest.raises(ValueError, match="t_dev_us, t_host_ns"):
        cm.update([1, 2], [3])
    with pytest.raises(ValueError, match="window_s"):
        P.ClockMapper(window_s=0)
    cm.update(1_000_000, 2_000_000_000)
    assert float(cm.map(2_000_000)) == pytest.approx(3.0)


def test_to_block_si_units():
    meta = P.DeviceMeta(acc_scale_g_per_lsb=1 / 2048, gyr_scale_dps_per_lsb=1 / 16.4, uid=7)
    dec = P.FrameDecoder()
    dec.feed(P.encode_meta(0, meta))
    out = dec.feed(P.encode_sample(1, 1_000_000, (0, 0, 2048), (164, 0, 0))
                   + P.encode_sample(2, 1_005_000, (0, 0, -2048), (0, 0, 0)))
    blk = P.to_block(out, dec.meta, t0_us=1_000_000)
    assert blk.t.tolist() == [0.0, 0.005]
    assert blk.acc[0, 2] == pytest.approx(9.80665) and blk.acc[1, 2] == pytest.approx(-9.80665)
    f32 = float(np.float32(1 / 16.4))
    assert blk.gyr[0, 0] == pytest.approx(164 * f32 * np.pi / 180)
    assert blk.info["device_id"] == "0000000000000007" and blk.seq.tolist() == [1, 2]
    with pytest.raises(ValueError, match="meta"):
        P.to_block(out, None, 0)  # type: ignore[arg-type]


def test_crc_table_kernel_matches_binascii_on_random_packets():
    rng = np.random.default_rng(11)
    stream = bytearray()
    expect = []
    for k in range(300):
        body = rng.integers(0, 256, int(rng.integers(0, P.MAX_BODY + 1)), dtype=np.uint8).tobytes()
        stream += P.encode_packet(P.T_LOG, k, body)
        expect.append(body)
    dec = P.FrameDecoder(max_logs=1000)
    dec.feed(bytes(stream))
    assert dec.stats.frames_ok == 300 and dec.stats.errors == 0
    assert [t for _, t in dec.logs] == [b.decode("utf-8", errors="replace") for b in expect]
    assert binascii.crc_hqx(b"", 0xFFFF) == P.crc16(b"") == 0xFFFF
