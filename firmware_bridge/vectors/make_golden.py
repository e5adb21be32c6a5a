"""Regenerate golden_frames.json from imuwalk's Python codec (run by hand after a *reviewed* protocol change).

The file is the single source of truth that both the C host test and the Python tests check; the first
sample vector is the independently computed one from the design notes and is asserted here too.
Usage: python firmware_bridge/vectors/make_golden.py
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from imuwalk.sources import protocol as P

OUT = Path(__file__).with_name("golden_frames.json")


def frame(name, ptype, flags, seq, fields, wire, note=""):
    pkt = P.cobs_decode(wire[:-1])
    d = {"name": name, "type": ptype, "flags": flags, "seq": seq, "fields": fields,
         "packet_hex": pkt.hex(), "wire_hex": wire.hex()}
    if note:
        d["note"] = note
    return d


def meta_fields(m: P.DeviceMeta, **extra) -> dict:
    acc_s, gyr_s = struct.unpack("<ff", m.body()[6:14])
    return {"proto_ver": m.proto_ver, "imu_model": m.imu_model, "odr_mhz": round(m.odr_hz * 1000),
            "acc_scale_f32_hex": struct.pack("<f", acc_s)[::-1].hex(),
            "gyr_scale_f32_hex": struct.pack("<f", gyr_s)[::-1].hex(), "acc_scale": acc_s, "gyr_scale": gyr_s,
            "acc_range_g": m.acc_range_g, "gyr_range_dps": m.gyr_range_dps, "uid": f"{m.uid:016x}",
            "fw_ver": m.fw_ver, **extra}


def main() -> None:
    frames = []
    s = [("sample_golden", 0, 1, 1000000, [0, 0, 2048], [1, -1, 0], "the design-note vector (crc 0x1162)"),
         ("sample_extremes", 7, 0xFFFF, 0xFFFFFFFF, [-32768, 32767, -1], [0, -32768, 32767], "all flags"),
         ("sample_zeros", 0, 0, 0, [0, 0, 0], [0, 0, 0], "0x00-heavy payload"),
         ("sample_boot", P.FLAG_BOOT, 0, 123, [100, -200, 300], [-400, 500, -600], "first frame after reset")]
    for name, fl, seq, t, a, g, note in s:
        frames.append(frame(name, P.T_IMU_SAMPLE, fl, seq, {"t_us": t, "acc": a, "gyr": g},
                            P.encode_sample(seq, t, a, g, fl), note))
    golden = frames[0]
    assert golden["wire_hex"] == "020102010440420f010101010103080103ffff01036211" "00".replace(" ", "")
    metas = [("meta_mpu6050", P.FLAG_BOOT, 2, P.DeviceMeta(1, 2, 200.0, 1 / 2048, 1 / 16.4, 16, 2000,
                                                           0x0123456789ABCDEF, 0x0102)),
             ("meta_synthetic", 0, 0x1234, P.DeviceMeta(1, 1, 100.0, 1 / 4096, 1 / 65.5, 8, 500, 0, 0x0100))]
    for name, fl, seq, m in metas:
        wire = P.encode_meta(seq, m, fl)
        acc_s, gyr_s = struct.unpack_from("<ff", P.cobs_decode(wire[:-1]), 10)
        fields = {"proto_ver": m.proto_ver, "imu_model": m.imu_model, "odr_mhz": round(m.odr_hz * 1000),
                  "acc_scale_f32_hex": struct.pack("<f", acc_s)[::-1].hex(),
                  "gyr_scale_f32_hex": struct.pack("<f", gyr_s)[::-1].hex(),
                  "acc_scale": acc_s, "gyr_scale": gyr_s, "acc_range_g": m.acc_range_g,
                  "gyr_range_dps": m.gyr_range_dps, "uid": f"{m.uid:016x}", "fw_ver": m.fw_ver}
        frames.append(frame(name, P.T_META, fl, seq, fields, wire,
                            "scales are IEEE-754 binary32, big-endian hex of the bit pattern given"))
    for name, seq, vals in [("status", 500, (5000000, 1000, 3, 1, 2)), ("status_zero", 3, (0, 0, 0, 0, 0))]:
        keys = ("t_us", "samples_total", "tx_dropped", "fifo_overruns", "crc_rx_errors")
        frames.append(frame(name, P.T_STATUS, 0, seq, dict(zip(keys, vals, strict=True)),
                            P.encode_status(seq, *vals)))
    frames.append(frame("pong", P.T_PONG, 0, 77, {"token": 0xDEADBEEF, "t_us_rx": 42},
                        P.encode_pong(77, 0xDEADBEEF, 42)))
    for name, fl, seq, text in [("log_boot", P.FLAG_BOOT, 1, "imuwalk fw 1.2 boot"), ("log_empty", 0, 9, ""),
                                ("log_utf8", 0, 10, "\u00b5s \u2713"),
                                ("log_max", P.FLAG_BOOT, 0x0101, "A" * P.MAX_LOG_BYTES)]:
        frames.append(frame(name, P.T_LOG, fl, seq, {"text": text}, P.encode_log(seq, text, fl),
                            "254-byte packet: one full 0xFF COBS block" if name == "log_max" else ""))
    for name, cmd, arg, seq in [("cmd_start", "start", None, 0), ("cmd_stop", "stop", None, 1),
                                ("cmd_set_odr", "set_odr", 200.0, 2), ("cmd_ping", "ping", 0x01020304, 3)]:
        code = P.COMMAND_NAMES[cmd]
        fields = {} if arg is None else ({"odr_mhz": 200000} if cmd == "set_odr" else {"token": arg})
        frames.append(frame(name, code, 0, seq, fields, P.encode_command(cmd, arg, seq)))
    frames.append(frame("unknown_type_0x10", 0x10, 0, 5, {"body_hex": b"future".hex()},
                        P.encode_packet(0x10, 5, b"future"), "receivers skip it and count unknown_type"))
    ext_body = struct.pack("<I3h3h", 2000, 1, 2, 3, 4, 5, 6) + b"\x01\x02\x03\x04"
    frames.append(frame("sample_extended_body", P.T_IMU_SAMPLE, 0, 2, {"t_us": 2000, "acc": [1, 2, 3],
                        "gyr": [4, 5, 6], "extra_hex": "01020304"}, P.encode_packet(1, 2, ext_body),
                        "a longer body (future version): decode the known fields, ignore the tail"))
    frames.append(frame("sample_reserved_flags", P.T_IMU_SAMPLE, 0xF9, 3, {"t_us": 5000, "acc": [0, 0, 4096],
                        "gyr": [0, 0, 0]}, P.encode_sample(3, 5000, [0, 0, 4096], [0, 0, 0], 0xF9),
                        "flag bits 3-7 are reserved: receivers ignore them (bit0 OVERRUN is set)"))
    # forward compatibility for every fixed-layout device frame: a longer body keeps the known fields
    m_ext = P.DeviceMeta(1, 2, 200.0, 1 / 4096, 1 / 32.8, 8, 1000, 0x1A2B3C4D5E6F0001, 0x0100)
    frames.append(frame("meta_extended_body", P.T_META, 0, 6, meta_fields(m_ext, extra_hex="a5a5"),
        P.encode_packet(P.T_META, 6, m_ext.body() + b"\xa5\xa5"), "a longer body: ignore the tail"))
    st_vals = (7000000, 1400, 0, 0, 1)
    frames.append(frame("status_extended_body", P.T_STATUS, 0, 7, dict(zip(
        ("t_us", "samples_total", "tx_dropped", "fifo_overruns", "crc_rx_errors"), st_vals, strict=True),
        extra_hex="0102"), P.encode_packet(P.T_STATUS, 7, struct.pack("<IIIIH", *st_vals) + b"\x01\x02"),
        "a longer body: ignore the tail"))
    frames.append(frame("pong_extended_body", P.T_PONG, 0, 8, {"token": 1, "t_us_rx": 2, "extra_hex": "ff"},
                        P.encode_packet(P.T_PONG, 8, struct.pack("<II", 1, 2) + b"\xff"),
                        "a longer body: ignore the tail"))

    # short streams: what a receiver makes of a sequence of frames (PROTOCOL.md section 6)
    def smp(seq, t, flags=0):
        return frame(f"s{seq}", P.T_IMU_SAMPLE, flags, seq, {"t_us": t, "acc": [1, 2, 3], "gyr": [4, 5, 6]},
                     P.encode_sample(seq, t, [1, 2, 3], [4, 5, 6], flags))

    def st(seq, t, total):
        vals = (t, total, 0, 0, 0)
        return frame(f"status{seq}", P.T_STATUS, 0, seq, dict(zip(
            ("t_us", "samples_total", "tx_dropped", "fifo_overruns", "crc_rx_errors"), vals, strict=True)),
            P.encode_status(seq, *vals))

    m_1k = P.DeviceMeta(1, 1, 1000.0, 1 / 4096, 1 / 32.8, 8, 1000, 0x1A2B3C4D5E6F0001, 0x0100)
    streams = [
        {"name": "seq_and_time_wrap", "note": "seq 0xFFFF -> 0 and t_us 2^32 -> 0 are unwrapped, no gap",
         "frames": [smp(65534, 2**32 - 7500), smp(65535, 2**32 - 2500), smp(0, 2500), smp(1, 7500)],
         "expect": {"seq": [65534, 65535, 65536, 65537], "t_dev_us": [2**32 - 7500, 2**32 - 2500, 2**32 + 2500,
                                                                       2**32 + 7500],
                    "stats": {"seq_gaps": 0, "samples_missing": 0, "resets": 0, "time_jumps": 0}}},
        {"name": "gap", "note": "a seq gap of d > 1 is d - 1 missing frames",
         "frames": [smp(10, 1000), smp(11, 6000), smp(15, 26000)],
         "expect": {"seq": [10, 11, 15], "t_dev_us": [1000, 6000, 26000],
                    "stats": {"seq_gaps": 1, "samples_missing": 3, "resets": 0}}},
        {"name": "duplicate", "note": "d = 0 is a duplicate: dropped and counted",
         "frames": [smp(20, 1000), smp(20, 1000), smp(21, 6000)],
         "expect": {"seq": [20, 21], "t_dev_us": [1000, 6000], "stats": {"duplicates": 1, "seq_gaps": 0}}},
        {"name": "device_reset", "note": "BOOT after non-BOOT: seq continues at seq_last + 1 + seq, time at "
         "t_dev_last + 1 + t_us (META seq 0 takes unwrapped seq 102)",
         "frames": [smp(100, 9000000), smp(101, 9005000),
                    frame("meta_boot", P.T_META, P.FLAG_BOOT, 0, meta_fields(m_ext),
                          P.encode_meta(0, m_ext, P.FLAG_BOOT)),
                    smp(1, 60000, P.FLAG_BOOT)],
         "expect": {"seq": [100, 101, 103], "t_dev_us": [9000000, 9005000, 9005000 + 1 + 60000],
                    "stats": {"resets": 1, "seq_gaps": 0, "samples_missing": 0}}},
        {"name": "duplicate_during_boot", "note": "BOOT with seq = seq_prev is a duplicate, not a reset (reset: "
         "BOOT after non-BOOT, or BOOT with seq < seq_prev)",
         "frames": [smp(5, 25000, P.FLAG_BOOT), smp(5, 25000, P.FLAG_BOOT), smp(6, 30000, P.FLAG_BOOT)],
         "expect": {"seq": [5, 6], "t_dev_us": [25000, 30000],
                    "stats": {"duplicates": 1, "resets": 0, "seq_gaps": 0, "samples_missing": 0}}},
        {"name": "unannounced_reset", "note": "the clock goes backwards without BOOT (the host missed the boot "
         "second), confirmed by the next frame: a reset; seq continues at seq_last + 1 + seq, time at "
         "t_dev_last + 1 + t_us",
         "frames": [smp(4998, 25990000), smp(4999, 25995000), smp(300, 1500000), smp(301, 1505000)],
         "expect": {"seq": [4998, 4999, 5300, 5301],
                    "t_dev_us": [25990000, 25995000, 25995000 + 1 + 1500000, 25995000 + 1 + 1505000],
                    "stats": {"resets": 1, "time_jumps": 1, "seq_gaps": 1, "samples_missing": 300,
                              "frames_implausible": 0}}},
        {"name": "implausible_frame", "note": "a corrupted frame whose CRC matched (seq and t_us both off) is "
         "not confirmed by the next frame: dropped and counted, seq and time go on unchanged",
         "frames": [smp(103, 1515000), smp(104, 1520000), smp(0x9A3C, 0x89ABCDEF), smp(105, 1525000),
                    smp(106, 1530000)],
         "expect": {"seq": [103, 104, 105, 106], "t_dev_us": [1515000, 1520000, 1525000, 1530000],
                    "stats": {"frames_implausible": 1, "seq_gaps": 0, "samples_missing": 0, "resets": 0,
                              "time_jumps": 0, "frames_ok": 5}}},
        {"name": "gap_beyond_seq_wrap", "note": "65539 frames lost at 1 kHz (seq d = 4): the time jump of "
         "65.54 s and the META rate give one more 2^16 seq period (65536 + 3 missing)",
         "frames": [frame("meta_1khz", P.T_META, 0, 9, meta_fields(m_1k), P.encode_meta(9, m_1k)),
                    smp(10, 1000000), smp(11, 1001000), smp(15, 66541000), smp(16, 66542000)],
         "expect": {"seq": [10, 11, 65551, 65552], "t_dev_us": [1000000, 1001000, 66541000, 66542000],
                    "stats": {"seq_gaps": 1, "samples_missing": 65539, "resets": 0, "time_jumps": 0}}},
        {"name": "reset_after_long_uptime", "note": "a reset missed by the host after 71.6 min of uptime looks "
         "like a forward clock step; the next STATUS's falling samples_total makes it a reset (missing: the "
         "400 frames since boot instead of the seq difference)",
         "frames": [frame("meta_200hz", P.T_META, 0, 19998, meta_fields(m_ext), P.encode_meta(19998, m_ext)),
                    smp(19999, 2**32 - 300000), st(20000, 2**32 - 299000, 858900), smp(20001, 2**32 - 295000),
                    smp(400, 1900000), smp(401, 1905000), st(402, 1906000, 381), smp(403, 1910000)],
         "expect": {"seq": [19999, 20001, 65936, 65937, 65939],
                    "t_dev_us": [2**32 - 300000, 2**32 - 295000, 2**32 + 1900000, 2**32 + 1905000,
                                 2**32 + 1910000],
                    "stats": {"resets": 1, "seq_gaps": 1, "samples_missing": 400, "time_jumps": 0}}},
    ]

    cobs = []
    for dec in ["00", "0000", "001100", "11220033", "11223344", "11000000", bytes(range(1, 255)).hex(),
                bytes(range(0, 255)).hex(), bytes(range(1, 256)).hex()]:
        raw = bytes.fromhex(dec)
        cobs.append({"decoded_hex": dec, "encoded_hex": P.cobs_encode(raw).hex()})

    gw = bytes.fromhex(golden["wire_hex"])
    gp = bytearray(P.cobs_decode(gw[:-1]))
    gp[-1] ^= 0x01
    trunc_pkt = bytes([1, 0, 0, 0]) + bytes(range(1, 11))
    trunc_pkt += struct.pack("<H", P.crc16(trunc_pkt))
    invalid = [
        {"name": "bad_crc", "wire_hex": (P.cobs_encode(bytes(gp)) + b"\x00").hex(), "counter": "crc_errors"},
        {"name": "bit_flip_in_body", "wire_hex": (gw[:6] + bytes([gw[6] ^ 0x10]) + gw[7:]).hex(),
         "counter": "crc_errors"},
        {"name": "cobs_overrun", "wire_hex": "0511220000", "counter": "cobs_errors",
         "note": "code 5 runs past the 0x00 delimiter"},
        {"name": "short_packet", "wire_hex": "0401020300", "counter": "short_frames"},
        {"name": "truncated_sample_body", "wire_hex": (P.cobs_encode(trunc_pkt) + b"\x00").hex(),
         "counter": "short_frames", "note": "valid CRC, IMU_SAMPLE body of 10 bytes"},
        {"name": "oversize", "wire_hex": ("11" * 300) + "00", "counter": "oversize_dropped",
         "note": "more than 255 bytes before the delimiter"},
        {"name": "oversize_256", "wire_hex": ("11" * 256) + "00", "counter": "oversize_dropped",
         "note": "256 bytes before the delimiter: one more than MAX_ENCODED"},
        {"name": "empty_packet", "wire_hex": "0100", "counter": "short_frames",
         "note": "valid COBS of a 0-byte packet"},
        {"name": "short_command_body", "wire_hex": P.encode_packet(P.CMD_PING, 4, b"\x01\x02").hex(),
         "counter": "short_frames", "note": "valid CRC, PING body of 2 bytes (needs 4)"},
    ]
    doc = {
        "format": "imuwalk-golden-frames",
        "proto_ver": P.PROTO_VERSION,
        "spec": "firmware_bridge/PROTOCOL.md",
        "crc": {"name": "CRC-16/CCITT-FALSE", "poly": "0x1021", "init": "0xFFFF", "refin": False,
                "refout": False, "xorout": "0x0000", "check_input_ascii": "123456789", "check": "0x29B1"},
        "limits": {"max_packet": P.MAX_PACKET, "max_encoded": P.MAX_ENCODED, "max_wire": P.MAX_WIRE},
        "frames": frames,
        "cobs": cobs,
        "invalid": invalid,
        "streams": streams,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({len(frames)} frames, {len(cobs)} cobs, {len(invalid)} invalid, {len(streams)} streams)")


if __name__ == "__main__":
    main()
