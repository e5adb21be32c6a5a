"""Turn firmware_bridge/vectors/golden_frames.json (the ONE vectors file) into a C header for test_proto.c.

Usage: python gen_vectors_h.py golden_frames.json out/vectors.h   (run by the Makefile; stdlib only)
"""

from __future__ import annotations

import json
import sys


def cstr(b: bytes) -> str:
    return '"' + "".join(f"\\{c:03o}" for c in b) + '"'


def main(src: str, dst: str) -> None:
    doc = json.load(open(src, encoding="utf-8"))
    lines = ["/* generated from golden_frames.json by gen_vectors_h.py -- do not edit */",
             "#include <stdint.h>", "typedef struct {", " const char *name; unsigned type, flags, seq;",
             " const char *wire_hex; const char *packet_hex;",
             " uint32_t t_us; int16_t acc[3]; int16_t gyr[3]; const char *extra_hex;",
             " unsigned proto_ver, imu_model; uint32_t odr_mhz, acc_bits, gyr_bits;",
             " unsigned acc_range, gyr_range;",
             " uint64_t uid; unsigned fw_ver;",
             " uint32_t samples_total, tx_dropped, fifo_overruns; unsigned crc_rx_errors;",
             " uint32_t token, t_us_rx, odr_arg; const char *text; unsigned text_len; const char *body_hex;",
             "} vec_frame_t;", "static const vec_frame_t VEC_FRAMES[] = {"]
    # the frames of the receiver streams are packed and parsed like the single frames (their decoding is
    # checked by the Python tests)
    frames = list(doc["frames"])
    for st in doc.get("streams", []):
        frames += [dict(f, name=f"{st['name']}/{f['name']}") for f in st["frames"]]
    for f in frames:
        x = f["fields"]
        acc = x.get("acc", [0, 0, 0])
        gyr = x.get("gyr", [0, 0, 0])
        text = x.get("text", "").encode("utf-8")
        lines.append(
            " {" + ", ".join([
                f'"{f["name"]}"', str(f["type"]), str(f["flags"]), str(f["seq"]), f'"{f["wire_hex"]}"',
                f'"{f["packet_hex"]}"', f'{x.get("t_us", 0)}u', "{" + ", ".join(map(str, acc)) + "}",
                "{" + ", ".join(map(str, gyr)) + "}", f'"{x.get("extra_hex", "")}"',
                str(x.get("proto_ver", 0)), str(x.get("imu_model", 0)), f'{x.get("odr_mhz", 0)}u',
                f'0x{x.get("acc_scale_f32_hex", "0")}u', f'0x{x.get("gyr_scale_f32_hex", "0")}u',
                str(x.get("acc_range_g", 0)), str(x.get("gyr_range_dps", 0)), f'0x{x.get("uid", "0")}ull',
                str(x.get("fw_ver", 0)), f'{x.get("samples_total", 0)}u', f'{x.get("tx_dropped", 0)}u',
                f'{x.get("fifo_overruns", 0)}u', str(x.get("crc_rx_errors", 0)), f'{x.get("token", 0)}u',
                f'{x.get("t_us_rx", 0)}u', f'{x.get("odr_mhz", 0)}u', cstr(text), str(len(text)),
                f'"{x.get("body_hex", "")}"',
            ]) + "},")
    lines += ["};", "static const struct { const char *decoded_hex, *encoded_hex; } VEC_COBS[] = {"]
    lines += [f' {{"{c["decoded_hex"]}", "{c["encoded_hex"]}"}},' for c in doc["cobs"]]
    lines += ["};", "static const struct { const char *name, *wire_hex, *counter; } VEC_INVALID[] = {"]
    lines += [f' {{"{v["name"]}", "{v["wire_hex"]}", "{v["counter"]}"}},' for v in doc["invalid"]]
    lines += ["};", f'#define VEC_CRC_CHECK {doc["crc"]["check"]}u',
              f'#define VEC_MAX_WIRE {doc["limits"]["max_wire"]}u',
              "#define N_VEC_FRAMES (sizeof VEC_FRAMES / sizeof VEC_FRAMES[0])",
              "#define N_VEC_COBS (sizeof VEC_COBS / sizeof VEC_COBS[0])",
              "#define N_VEC_INVALID (sizeof VEC_INVALID / sizeof VEC_INVALID[0])", ""]
    with open(dst, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gen_vectors_h.py golden_frames.json vectors.h")
    main(sys.argv[1], sys.argv[2])
