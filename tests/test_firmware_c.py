"""Build and run the portable C protocol test (golden vectors, sanitizers) and decode its byte stream."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imuwalk.sources import protocol as P

PROTO_DIR = Path(__file__).resolve().parent.parent / "firmware_bridge" / "protocol"
HOST_SIM = PROTO_DIR.parent / "arduino" / "host_sim"
VECTORS = json.loads((PROTO_DIR.parent / "vectors" / "golden_frames.json").read_text())
N = 2000


def expected_stream() -> bytes:
    """The same frames test_proto.c writes, built with the Python encoder."""
    meta = P.DeviceMeta(1, P.IMU_MODELS_BY_NAME["synthetic"], 200.0, 1 / 4096, 1 / 65.5, 8, 500,
                        0x1122334455667788, 0x0102)
    out = [P.encode_meta(0, meta, P.FLAG_BOOT), P.encode_log(1, "c stream", P.FLAG_BOOT)]
    seq = 2
    for k in range(N):
        t = (4294000000 + k * 5000) % 2**32
        flags = (P.FLAG_BOOT if k < 200 else 0) | (P.FLAG_OVERRUN if k % 500 == 499 else 0)
        acc = (k * 7 - 3000, -k * 3, 2048)
        gyr = (k * 11, -k * 5, (k * k) % 30000)
        out.append(P.encode_sample(seq, t, acc, gyr, flags))
        seq += 1
        if k % 400 == 399:
            out.append(P.encode_status(seq, t, k + 1, k // 400, (k + 1) // 500, 0))
            seq += 1
    out.append(P.encode_pong(seq, 0xCAFEBABE, 12345))
    return b"".join(out)


@pytest.fixture(scope="module")
def c_build(tmp_path_factory) -> Path:
    """The host build of the protocol test programs (warnings as errors, ASan/UBSan), after its test ran."""
    if shutil.which("cc") is None or shutil.which("make") is None:
        pytest.skip("no C compiler (cc) or make on PATH")
    build = tmp_path_factory.mktemp("c_build")
    res = subprocess.run(["make", "-C", str(PROTO_DIR), "test", f"BUILD={build}", f"PYTHON={sys.executable}"],
                         capture_output=True, text=True, timeout=120)
    print(res.stdout[-2000:], res.stderr[-2000:])
    assert res.returncode == 0, f"C protocol test failed:\n{res.stdout}\n{res.stderr}"
    assert "0 failures" in res.stdout
    # the C test checked every golden vector (the frames of the receiver streams are packed and parsed too)
    n_frames = len(VECTORS["frames"]) + sum(len(st["frames"]) for st in VECTORS["streams"])
    assert (f"{n_frames} frame vectors, {len(VECTORS['cobs'])} cobs vectors, "
            f"{len(VECTORS['invalid'])} invalid vectors") in res.stdout
    return build


@pytest.fixture(scope="module")
def c_stream(c_build) -> bytes:
    return (c_build / "c_stream.bin").read_bytes()


def test_host_build_keeps_warnings_and_sanitizers():
    """A CFLAGS from the environment (CI, distro build) must add to the flags, not silently replace the
    warnings and ASan/UBSan of the host test."""
    if shutil.which("make") is None:
        pytest.skip("no make on PATH")
    env = dict(os.environ, CFLAGS="-O2")
    res = subprocess.run(["make", "-n", "-B", "-C", str(PROTO_DIR), "all", "BUILD=/nonexistent"], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    cc_lines = [ln for ln in res.stdout.splitlines() if "imuwalk_proto.c" in ln and " -o " in ln]
    assert len(cc_lines) == 2, res.stdout
    for ln in cc_lines:
        for flag in ("-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined", "-O2"):
            assert flag in ln.split(), (flag, ln)


def _random_rx_streams(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    streams = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            k = rng.random()
            if k < 0.25:  # garbage, zero-heavy or not
                zero_p = rng.choice([0.0, 0.02, 0.3])
                parts.append(bytes(0 if rng.random() < zero_p else rng.randint(1, 255)
                                   for _ in range(rng.randint(0, 400))))
            elif k < 0.4:  # frames around the 255-byte limit
                parts.append(bytes(rng.randint(1, 255) for _ in range(rng.choice([254, 255, 256, 257, 600])))
                             + b"\x00")
            elif k < 0.75:  # commands, some with a bit flipped or truncated
                w = bytearray(rng.choice([P.encode_command("ping", rng.randint(0, 2**32 - 1), rng.randint(0, 65535)),
                                          P.encode_command("set_odr", rng.randint(1, 2000)),
                                          P.encode_command("start"), P.encode_command("stop"),
                                          P.encode_packet(P.CMD_PING, 1, bytes(rng.randint(0, 3)))]))
                if rng.random() < 0.3:
                    w[rng.randrange(len(w) - 1)] ^= 1 << rng.randrange(8)
                if rng.random() < 0.1:
                    w = w[:rng.randrange(len(w))]
                parts.append(bytes(w))
            elif k < 0.9:  # device frames, any type and body length
                parts.append(P.encode_packet(rng.randint(0, 0x7F), rng.randint(0, 65535),
                                             bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 248)))))
            else:
                parts.append(b"\x00" * rng.randint(0, 3))
        streams.append(b"".join(parts))
    return streams


def test_c_command_parser_agrees_with_python_decoder(c_build):
    """The device's parser (iw_rx_feed) and the host's FrameDecoder are the two receivers of PROTOCOL.md
    section 6: on the same random streams they must reject the same frames for the same reasons and accept
    the same commands."""
    streams = _random_rx_streams(7, 250)
    stdin = b"".join(struct.pack("<I", len(s)) + s for s in streams)
    res = subprocess.run([str(c_build / "rx_count")], input=stdin, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    rows = [list(map(int, ln.split())) for ln in res.stdout.decode().splitlines()]
    assert len(rows) == len(streams)
    for data, (n_cmd, crc, cobs, short, over, unknown, last_type, last_arg) in zip(streams, rows, strict=True):
        dec = P.FrameDecoder()
        for i in range(0, len(data), 61):
            dec.feed(data[i:i + 61])
        st = dec.stats
        assert (crc, cobs, over) == (st.crc_errors, st.cobs_errors, st.oversize_dropped), data.hex()
        cmds = list(dec.commands)
        assert n_cmd == len(cmds), data.hex()
        # short: the C parser counts short commands; device frames with a short body are "not a command"
        assert short + unknown == st.short_frames + st.frames_ok + st.duplicates - len(cmds), data.hex()
        if cmds:
            want_arg = round(cmds[-1].arg * 1000) if cmds[-1].code == P.CMD_SET_ODR else (cmds[-1].arg or 0)
            assert (last_type, last_arg) == (cmds[-1].code, want_arg)


def test_c_stream_byte_identical_to_python_encoder(c_stream):
    assert c_stream == expected_stream()


def test_c_stream_decodes(c_stream):
    dec = P.FrameDecoder()
    out = P.DecodedSamples.concat(dec.feed(c_stream[i:i + 997]) for i in range(0, len(c_stream), 997))
    st = dec.stats
    assert st.errors == 0 and st.seq_gaps == 0 and st.resets == 0 and st.unknown_type == 0
    assert len(out) == N and st.frames_ok == N + 2 + N // 400 + 1
    k = np.arange(N)
    np.testing.assert_array_equal(out.t_dev_us, 4294000000 + k * 5000)  # unwrapped past 2**32
    np.testing.assert_array_equal(out.acc_raw[:, 0], k * 7 - 3000)
    np.testing.assert_array_equal(out.gyr_raw[:, 2], (k * k) % 30000)
    assert dec.meta.device_id == "1122334455667788" and dec.meta.odr_hz == 200.0
    assert dec.meta.acc_scale_g_per_lsb == np.float32(1 / 4096)
    assert list(dec.logs) == [(1, "c stream")]
    assert dec.status.samples_total == 2000 and st.device_tx_dropped == 4 and st.overrun_flags == 4
    assert dec.pongs[-1].token == 0xCAFEBABE and dec.pongs[-1].t_us_rx == 12345


def test_mpu6050_dlpf_keeps_the_gyro_band_below_the_output_rate(tmp_path):
    """The sketch's MPU-6050 anti-alias choice, compiled from imu_shim.h as is: for every output rate
    (1 kHz / div) the DLPF's gyro bandwidth is at most the rate, and it is the widest that is."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc)")
    shim = (PROTO_DIR.parent / "arduino" / "imuwalk_stream" / "imu_shim.h").read_text()
    start = shim.index("static uint8_t mpu6050_dlpf_cfg(uint32_t div)")
    body = shim[start:shim.index("\n}\n", start) + 3]
    src = tmp_path / "dlpf.c"
    src.write_text("#include <stdint.h>\n#include <stdio.h>\n" + body +
                   "int main(void){for(uint32_t d=1;d<=256;d++)printf(\"%u %u\\n\",d,mpu6050_dlpf_cfg(d));return 0;}\n")
    exe = tmp_path / "dlpf"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-o", str(exe), str(src)], check=True, timeout=60)
    rows = [tuple(map(int, ln.split())) for ln in subprocess.run([str(exe)], capture_output=True, text=True,
                                                                 check=True).stdout.split("\n") if ln]
    gyro_bw = {1: 188, 2: 98, 3: 42, 4: 20, 5: 10, 6: 5}  # MPU-6050 register map, CONFIG (0x1A)
    for div, cfg in rows:
        rate = 1000.0 / div
        assert 1 <= cfg <= 6, (div, cfg)
        assert gyro_bw[cfg] <= rate or cfg == 6, f"{rate:.1f} Hz output: DLPF {gyro_bw[cfg]} Hz aliases"
        if cfg > 1:
            assert gyro_bw[cfg - 1] > rate, f"{rate:.1f} Hz output: DLPF {gyro_bw[cfg]} Hz is narrower than needed"
    got = dict(rows)
    assert (got[5], got[10], got[20], got[40]) == (1, 2, 3, 4)  # 200, 100, 50, 25 Hz


# --------------------------------------------------------------------------------------------------
# the Arduino sketch itself, compiled natively against a simulated core (firmware_bridge/arduino/host_sim):
# simulated micros(), Serial and register-level MPU-6050 / LSM6DSO models on a fake I2C bus

SIM_MODELS = ("synthetic", "mpu6050", "lsm6dso")


@pytest.fixture(scope="module")
def sketch_sims(tmp_path_factory) -> dict[str, Path]:
    for tool in ("cc", "c++", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool} on PATH")
    build = tmp_path_factory.mktemp("sketch_sim")
    res = subprocess.run(["make", "-j3", "-C", str(HOST_SIM), f"BUILD={build}"], capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, f"host build of the sketch failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return {m: build / f"sim_{m}" for m in SIM_MODELS}


def run_sketch(sim: Path, *events: str, timeout: float = 30.0):
    """Run the sketch with the harness events; returns (samples, decoder, register dump lines)."""
    out = sim.parent / f"{sim.name}.bin"
    res = subprocess.run([str(sim), str(out), *events], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    wire = out.read_bytes()
    dec = P.FrameDecoder(keep_other_seqs=True)
    samples = P.DecodedSamples.concat(dec.feed(wire[i:i + 4096]) for i in range(0, len(wire), 4096))
    assert dec.stats.errors == 0 and dec.stats.unknown_type == 0
    return samples, dec, res.stdout.splitlines()


def rx(cmd, arg=None, seq=0) -> str:
    return "rx:" + P.encode_command(cmd, arg, seq).hex()


def regs(lines: list[str]) -> dict[tuple[int, int], int]:
    return {(int(a, 16), int(r, 16)): int(v, 16) for _, a, r, v in (ln.split() for ln in lines if ln.startswith("reg"))}


def test_sketch_boot_flag_not_repeated_when_the_uptime_wraps(sketch_sims):
    """BOOT marks the first second after reset. The sketch compared micros() - boot with 1 s, which is true
    again 2**32 us (71.6 min) after boot: for a second every 71.6 min all frames carried BOOT, and the host
    counted a device reset (unwrapped seq and time jumped). Also crosses the micros() wrap at 1.5 s."""
    # stopped for most of the 71.6 min (META/STATUS go on), restarted every ~24 min so that no gap between
    # samples reaches 2**31 us (a longer one is indistinguishable from a backward clock jump)
    pause = 1_430_000_000
    last = 2**32 - 500_000 - 3_000_000 - 2 * (pause + 500_000)
    samples, dec, _ = run_sketch(sketch_sims["synthetic"], f"t0:{2**32 - 1_500_000}", "setup", "run:3000000:50",
                                 rx("stop"), f"run:{pause}:1000", rx("start"), "run:500000:50",
                                 rx("stop"), f"run:{pause}:1000", rx("start"), "run:500000:50",
                                 rx("stop"), f"run:{last}:1000", rx("start"), "run:3000000:50", timeout=60)
    st = dec.stats
    assert st.resets == 0 and st.seq_gaps == 0 and st.time_jumps == 0, st
    boot = (samples.flags & P.FLAG_BOOT) != 0
    t_rel = (samples.t_dev_us - samples.t_dev_us[0]) / 1e6
    assert boot[0] and boot[t_rel < 0.99].all() and not boot[t_rel > 1.01].any()
    assert t_rel[-1] > 2**32 / 1e6 + 2  # the samples span the former BOOT window at 2**32 us after boot
    assert dec.metas > 4290  # META every second while stopped; none of them with BOOT after the first second
    dt = np.diff(samples.t_dev_us.astype(np.int64))
    assert set(dt[t_rel[1:] < 2.9].tolist()) == {5000}  # across the micros() wrap


def test_sketch_commands_ping_set_odr_stop_start(sketch_sims):
    samples, dec, _ = run_sketch(
        sketch_sims["synthetic"], "setup", "run:1500000", rx("ping", 0xDEADBEEF, 1), "run:100000",
        rx("set_odr", 100.0, 2), "run:1000000", rx("stop", seq=3), "run:1500000", rx("start", seq=4),
        "run:500000", "rx:0102030400" + "ff" * 300 + "00", "run:1100000")
    assert [(p.token, p.t_us_rx) for p in dec.pongs] == [(0xDEADBEEF, 1_500_000)]
    assert dec.meta.odr_hz == 100.0
    t = samples.t_dev_us.astype(np.int64)
    assert set(np.diff(t[t > 1_700_000]).tolist()) == {10_000, 1_510_000}  # 100 Hz, one STOP pause
    assert not ((t > 2_610_000) & (t < 4_100_000)).any()  # stopped: no samples ...
    other = np.array(dec.other_seqs)
    assert len(other) >= 6  # ... but META / STATUS / PONG went on
    assert dec.status.crc_rx_errors == 2  # the COBS-invalid frame and the oversize one
    assert dec.stats.seq_gaps == 0


@pytest.mark.parametrize("odr_hz, want_hz", [(4294967.0, 1000.0), (0.001, 1.0), (300.0, 300.03)])
def test_sketch_synthetic_set_odr_clamped_never_hangs(sketch_sims, odr_hz, want_hz):
    """SET_ODR 4294967 Hz gave a period of 0 us and the synthetic IMU's catch-up loop never ended: one host
    command hung the device. Rates are clamped to 1 Hz .. 1 kHz and META reports the rate really used."""
    samples, dec, _ = run_sketch(sketch_sims["synthetic"], "setup", "run:500000", rx("set_odr", odr_hz),
                                 "run:1000000", timeout=20)
    assert dec.meta.odr_hz == pytest.approx(want_hz, abs=0.001)
    assert len(samples) >= 99


@pytest.mark.parametrize("odr_hz, code, want_hz", [(110.0, 4, 104.0), (150.0, 4, 104.0), (160.0, 5, 208.0),
                                                   (200.0, 5, 208.0), (5000.0, 8, 1666.0), (1.0, 1, 12.5),
                                                   (19.0, 1, 12.5), (20.0, 2, 26.0)])
def test_sketch_lsm6dso_set_odr_picks_the_nearest_rate(sketch_sims, odr_hz, code, want_hz):
    """PROTOCOL.md: SET_ODR -> the device picks the *nearest* supported rate (the LSM6DSO build took the next
    higher one: 110 Hz -> 208 Hz) and sends META."""
    samples, dec, lines = run_sketch(sketch_sims["lsm6dso"], "setup", "run:300000", rx("set_odr", odr_hz),
                                     "run:2000000", "regs")
    r = regs(lines)
    assert r[(0x6A, 0x10)] >> 4 == code and r[(0x6A, 0x11)] >> 4 == code  # CTRL1_XL, CTRL2_G
    assert dec.meta.odr_hz == want_hz and dec.meta.imu_name == "lsm6dso"
    t = samples.t_dev_us.astype(np.int64)
    assert np.median(np.diff(t[t > 400_000])) == pytest.approx(1e6 / want_hz, abs=2)


def test_sketch_lsm6dso_streams_after_a_warm_mcu_reset(sketch_sims):
    """An MCU reset while the LSM6DSO keeps running (the Uno resets whenever a host opens the port) leaves a
    sample pending: the default *latched* data-ready line is already high, the rising-edge interrupt never
    fires again and the device streamed no samples at all. Pulsed data-ready (+ one clearing read) fixes it."""
    samples, dec, _ = run_sketch(sketch_sims["lsm6dso"], "warm", "setup", "run:2000000")
    assert abs(len(samples) - 2 * 208) <= 2 and dec.stats.seq_gaps == 0


@pytest.mark.parametrize("model", ["mpu6050", "lsm6dso"])
def test_sketch_sensor_byte_order_and_axes(sketch_sims, model):
    """The sensor models produce acc = (n, -n, 4096), gyr = (3n, 7, -7) counts for sample n (MPU-6050 registers
    big-endian acc then gyr, LSM6DSO little-endian gyr then acc): the frames must carry exactly these."""
    samples, dec, lines = run_sketch(sketch_sims[model], "setup", "run:1000000", "regs")
    n = len(samples)
    assert n >= 195
    k = np.arange(1, n + 1) + (int(samples.acc_raw[0, 0]) - 1)
    np.testing.assert_array_equal(samples.acc_raw, np.stack([k, -k, np.full(n, 4096)], 1).astype(np.int16))
    np.testing.assert_array_equal(samples.gyr_raw, np.stack([3 * k, np.full(n, 7), np.full(n, -7)], 1)
                                  .astype(np.int16))
    r = regs(lines)
    if model == "mpu6050":  # 200 Hz: SMPLRT_DIV 4, DLPF 188 Hz, +-1000 dps, +-8 g (the META scales)
        assert (r[(0x68, 0x19)], r[(0x68, 0x1A)], r[(0x68, 0x1B)], r[(0x68, 0x1C)]) == (4, 1, 0x10, 0x10)
    assert dec.meta.acc_range_g == 8 and dec.meta.gyr_range_dps == 1000


@pytest.mark.parametrize("odr_hz, div, dlpf", [(50.0, 20, 3), (25.0, 40, 4), (1000.0, 1, 1), (0.5, 256, 6)])
def test_sketch_mpu6050_set_odr_sets_rate_and_dlpf(sketch_sims, odr_hz, div, dlpf):
    """README: SET_ODR re-selects the MPU-6050 sample-rate divider and the anti-alias DLPF, and sends META."""
    samples, dec, lines = run_sketch(sketch_sims["mpu6050"], "setup", "run:300000", rx("set_odr", odr_hz),
                                     "run:3000000", "regs")
    r = regs(lines)
    assert (r[(0x68, 0x19)] + 1, r[(0x68, 0x1A)]) == (div, dlpf)
    assert dec.meta.odr_hz == round(1000.0 / div, 3)
    t = samples.t_dev_us.astype(np.int64)
    assert np.median(np.diff(t[t > 500_000])) == pytest.approx(1000 * div, abs=2)


@pytest.mark.parametrize("model", ["mpu6050", "lsm6dso"])
def test_sketch_starts_sampling_when_a_late_set_odr_finds_the_imu(sketch_sims, model):
    """An IMU that did not answer at boot (loose wire, powered late) is found by a later SET_ODR, which then
    starts the samples; before, the sketch kept its boot-time 'IMU not found' and sent META but no samples."""
    samples, dec, _ = run_sketch(sketch_sims[model], "imu:off", "setup", "run:1500000", "imu:on",
                                 rx("set_odr", 100.0, 1), "run:1500000")
    assert any("IMU not found" in text for _, text in dec.logs)
    assert len(samples) >= 100  # ~1.5 s at the sensor's rate nearest 100 Hz
    assert dec.meta.odr_hz > 0


# --------------------------------------------------------------------------------------------------
# SET_ODR rate choice, uid, command answers, unsupported sensors (review items #6 device side, #7, #8, #9)

RATE_CHECK = r"""
#include <stdio.h>
#include "imu_shim.h"
uint32_t sim_us;  /* the host Arduino.h's micros() clock (imu_begin is compiled, not run) */

/* |base/d - f| < |base/e - f| (in mHz, exact): compare |base - f d| / d with |base - f e| / e */
static int better(uint64_t base, uint64_t f, uint64_t d, uint64_t e)
{
    uint64_t a = base > f * d ? base - f * d : f * d - base, b = base > f * e ? base - f * e : f * e - base;
    return a * e < b * d;
}

int main(void)
{
    unsigned long checked = 0, bad = 0;
    uint32_t f;
    /* MPU-6050: every mHz up to 1.1 kHz, every candidate divider */
    for (f = 1; f <= 1100000u; f++) {
        uint32_t got = imu_mpu6050_div(f), d, best = 1;
        for (d = 2; d <= 256u; d++) {
            if (better(1000000u, f, d, best)) {
                best = d;  /* strictly better only: a tie keeps the smaller divider (higher rate) */
            }
        }
        checked++;
        if (got != best && bad++ < 10) {
            printf("mpu6050 %u mHz: div %u, want %u\n", f, got, best);
        }
    }
    /* LSM6DSO: every candidate code */
    for (f = 1; f <= 2000000u; f += 7u) {
        uint8_t got = imu_lsm6dso_odr_code(f), c, best = 1;
        for (c = 2; c <= 8u; c++) {
            uint32_t r = imu_lsm6dso_code_mhz(c), rb = imu_lsm6dso_code_mhz(best);
            uint32_t e = r > f ? r - f : f - r, eb = rb > f ? rb - f : f - rb;
            if (e <= eb) {
                best = c;  /* a tie goes to the higher rate */
            }
        }
        checked++;
        if (got != best && bad++ < 10) {
            printf("lsm6dso %u mHz: code %u, want %u\n", f, got, best);
        }
    }
    /* synthetic: whole-us periods 1000..1e6; the error is unimodal in the period, so the neighbours decide */
    for (f = 900; f <= 1100000u; f += 13u) {
        uint32_t p = imu_synth_period_us(f);
        checked++;
        if (p < 1000u || p > 1000000u || (p > 1000u && better(1000000000u, f, p - 1u, p)) ||
            (p < 1000000u && !better(1000000000u, f, p, p + 1u) && better(1000000000u, f, p + 1u, p))) {
            if (bad++ < 10) {
                printf("synthetic %u mHz: period %u us\n", f, p);
            }
        }
    }
    printf("checked %lu bad %lu\n", checked, bad);
    return bad != 0;
}
"""


def test_set_odr_picks_the_nearest_rate_by_rate_error(tmp_path):
    """PROTOCOL.md SET_ODR: the *nearest* supported rate. The MPU-6050 divider was rounded in the period domain
    (1e6 / f rounded): 667-749 Hz went to 1000 Hz though 500 Hz is nearer, also 401-416 Hz to 500 Hz, 286-291 Hz
    to 333 Hz, and so on; the synthetic IMU rounded its period the same way. imu_shim.h's selection functions,
    compiled as they are, against an exact brute-force reference (ties go to the higher rate)."""
    for tool in ("c++",):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool} on PATH")
    src = tmp_path / "rate_check.cpp"
    src.write_text(RATE_CHECK)
    exe = tmp_path / "rate_check"
    res = subprocess.run(["c++", "-std=gnu++11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
                          "-DIMUWALK_SYNTHETIC_IMU", f"-I{HOST_SIM}", f"-I{HOST_SIM.parent / 'imuwalk_stream'}",
                          f"-I{PROTO_DIR}", str(src), "-o", str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "bad 0" in res.stdout, res.stdout[-3000:]


@pytest.mark.parametrize("odr_hz, div", [(700.0, 2), (667.0, 2), (749.99, 2), (750.0, 1), (800.0, 1), (410.0, 3),
                                         (290.0, 4), (300.0, 3), (200.0, 5), (3.0, 256)])
def test_sketch_mpu6050_set_odr_nearest_by_rate(sketch_sims, odr_hz, div):
    """The MPU-6050 build on the register model: a 700 Hz request runs at 500 Hz (200 Hz off), not 1000 Hz."""
    samples, dec, lines = run_sketch(sketch_sims["mpu6050"], "setup", "run:300000", rx("set_odr", odr_hz),
                                     "run:1000000", "regs")
    assert regs(lines)[(0x68, 0x19)] + 1 == div
    assert dec.meta.odr_hz == round(1000.0 / div, 3)
    if div <= 5:
        t = samples.t_dev_us.astype(np.int64)
        assert np.median(np.diff(t[t > 500_000])) == pytest.approx(1000 * div, abs=2)


def test_sketch_set_odr_failure_is_answered_and_the_rate_restored(sketch_sims):
    """A SET_ODR whose sensor restart failed got no answer at all (META only on success) and stopped sampling.
    Now: a LOG names the failure; after a transient I2C error the previous rate is restored (and META sent); with
    the sensor gone sampling stops, META says odr 0, and the LOG says so; a later SET_ODR finds it again."""
    samples, dec, _ = run_sketch(sketch_sims["mpu6050"], "setup", "run:1000000", "i2cfail:1", rx("set_odr", 700.0),
                                 "run:1000000", "imu:off", rx("set_odr", 100.0, 1), "run:1500000")
    logs = [text for _, text in dec.logs]
    assert "SET_ODR 700 Hz failed: IMU not found; kept 200 Hz" in logs
    assert "SET_ODR 100 Hz failed: IMU not found; stopped" in logs
    t = samples.t_dev_us.astype(np.int64)
    assert np.median(np.diff(t[(t > 1_100_000) & (t < 2_000_000)])) == 5000  # 200 Hz kept
    assert t.max() < 2_060_000  # stopped with the IMU gone (at 2.05 s: the restore's 50 ms settling delay)
    assert dec.meta.odr_hz == 0.0
    assert dec.stats.seq_gaps == 0 and dec.stats.device_tx_dropped == 0
    set_odr_0 = "rx:" + P.encode_packet(P.CMD_SET_ODR, 0, struct.pack("<I", 0)).hex()  # the encoder refuses 0
    samples, dec, _ = run_sketch(sketch_sims["mpu6050"], "setup", "run:500000", set_odr_0,
                                 "run:500000", "imu:off", rx("set_odr", 50.0, 1), "run:500000", "imu:on",
                                 rx("set_odr", 50.0, 2), "run:1000000")
    logs = [text for _, text in dec.logs]
    assert "SET_ODR 0 Hz ignored" in logs and "SET_ODR 50 Hz failed: IMU not found; stopped" in logs
    assert dec.meta.odr_hz == 50.0 and (samples.t_dev_us > 1_600_000).sum() >= 40  # found again


def test_sketch_unknown_commands_are_logged_rate_limited(sketch_sims):
    """An unknown (e.g. newer) command type was only counted in iw_rx_t.unknown, which nothing reports: a host
    could not tell it was ignored. Now one LOG names the type; a flood costs at most one LOG per second and
    does not disturb the samples. Type 0x00 (COBS code byte 1) is named correctly too."""
    flood = "rx:" + b"".join(P.encode_packet(0x90, k, b"\x01\x02") for k in range(3000)).hex()
    samples, dec, _ = run_sketch(sketch_sims["synthetic"], "setup", "run:500000", flood, "run:300000",
                                 flood, "run:300000", "rx:" + P.encode_packet(0xA5, 1, b"").hex(), "run:1500000",
                                 "rx:" + P.encode_packet(0x00, 2, b"").hex(), "run:500000",
                                 rx("ping", 7, 3), "run:100000")
    unknown = [(seq, text) for seq, text in dec.logs if text.startswith("unknown command")]
    assert [text for _, text in unknown] == ["unknown command type 0x90 ignored (x3000)",
                                             "unknown command type 0xa5 ignored (x3001)",
                                             "unknown command type 0x00 ignored"]
    assert [p.token for p in dec.pongs] == [7]  # real commands still work
    st = dec.stats
    assert st.seq_gaps == 0 and st.device_tx_dropped == 0
    t = samples.t_dev_us.astype(np.int64)
    assert set(np.diff(t).tolist()) == {5000}  # 200 Hz throughout


def test_sketch_uid_from_the_chip_or_announced_as_shared(sketch_sims):
    """Every non-ESP32 board sent the same device id 1a2b3c4d5e6f0001: two shanks from one build were one device
    to the host. The sketch compiled as for the arduino-pico (pico_get_unique_board_id), Arduino Mbed OS RP2040
    (flash_get_unique_id) and nRF52 (NRF_FICR->DEVICEID) cores against stub headers now sends the chip's id;
    -DIMUWALK_UID overrides it; where there is no usable chip id, one LOG at boot says the uid is shared."""
    shared = "uid is the shared default: set IMUWALK_UID per unit"
    build = sketch_sims["synthetic"].parent
    for name, want in [("sim_uid_pico", "e66038b713907e33"), ("sim_uid_mbed_rp2040", "e66038b713907e33"),
                       ("sim_uid_nrf52", "e66038b713907e33"), ("sim_uid_build", "0123456789abcdef")]:
        samples, dec, _ = run_sketch(build / name, "setup", "run:1500000")
        assert dec.meta.device_id == want, name
        assert [text for _, text in dec.logs] == ["imuwalk_stream boot"], name
        assert len(samples) >= 299 and dec.stats.seq_gaps == 0
    samples, dec, _ = run_sketch(sketch_sims["synthetic"], "setup", "run:1500000")
    assert dec.meta.device_id == "1a2b3c4d5e6f0001"
    assert [text for _, text in dec.logs] == ["imuwalk_stream boot", shared]  # one LOG, not repeated
    assert set(np.diff(samples.t_dev_us.astype(np.int64)).tolist()) == {5000}  # the LOG did not delay a sample


@pytest.mark.parametrize("chip_uid", ["ffffffffffffffff", "0000000000000000"])
def test_sketch_unreadable_chip_uid_falls_back_to_the_announced_default(sketch_sims, chip_uid, monkeypatch):
    monkeypatch.setenv("SIM_CHIP_UID", chip_uid)
    _, dec, _ = run_sketch(sketch_sims["synthetic"].parent / "sim_uid_pico", "setup", "run:1200000")
    assert dec.meta.device_id == "1a2b3c4d5e6f0001"
    assert "uid is the shared default: set IMUWALK_UID per unit" in [text for _, text in dec.logs]


@pytest.mark.parametrize("model, chip, name", [("mpu6050", "bmi270", "BMI270"), ("mpu6050", "icm42688", "ICM-42688"),
                                               ("lsm6dso", "bmi270", None)])
def test_sketch_names_an_unsupported_sensor(sketch_sims, model, chip, name):
    """BMI270 / ICM-42688 have imu_model codes but no driver: a board with one logged a bare 'IMU not found'.
    The boot LOG (and a SET_ODR's failure LOG) now names the chip as not supported yet; no samples, META says
    imu_model 0. The LSM6DSO build with its own sensor present is not disturbed by a BMI270 at 0x68."""
    samples, dec, _ = run_sketch(sketch_sims[model], f"chip:{chip}", "setup", "run:1200000",
                                 rx("set_odr", 100.0), "run:300000")
    logs = [text for _, text in dec.logs]
    if name is None:
        assert logs[0] == "imuwalk_stream boot" and len(samples) > 200
        return
    assert logs[0] == f"imuwalk_stream: {name} not supported yet"
    assert f"SET_ODR 100 Hz failed: {name} not supported yet" in logs
    assert len(samples) == 0 and dec.meta.imu_model == 0


@pytest.mark.parametrize("flag, name", [("IMUWALK_IMU_BMI270", "BMI270"), ("IMUWALK_IMU_ICM42688", "ICM-42688")])
def test_unsupported_sensor_build_fails_loudly(flag, name):
    """Selecting a sensor without a driver must not build a firmware that streams nothing."""
    if shutil.which("c++") is None:
        pytest.skip("no c++ on PATH")
    res = subprocess.run(["c++", "-std=gnu++11", "-fsyntax-only", f"-D{flag}", f"-I{HOST_SIM}",
                          f"-I{HOST_SIM.parent / 'imuwalk_stream'}", f"-I{PROTO_DIR}", str(HOST_SIM / "sim_main.cpp")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and f"{name} is not supported yet" in res.stderr and "README" in res.stderr
