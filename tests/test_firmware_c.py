"""Build and run the portable C protocol test (golden vectors, sanitizers) and decode its byte stream."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imuwalk.sources import protocol as P

PROTO_DIR = Path(__file__).resolve().parent.parent / "firmware_bridge" / "protocol"
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
def c_stream(tmp_path_factory) -> bytes:
    if shutil.which("cc") is None or shutil.which("make") is None:
        pytest.skip("no C compiler (cc) or make on PATH")
    build = tmp_path_factory.mktemp("c_build")
    res = subprocess.run(["make", "-C", str(PROTO_DIR), "test", f"BUILD={build}", f"PYTHON={sys.executable}"],
                         capture_output=True, text=True, timeout=120)
    print(res.stdout[-2000:], res.stderr[-2000:])
    assert res.returncode == 0, f"C protocol test failed:\n{res.stdout}\n{res.stderr}"
    assert "0 failures" in res.stdout
    return (build / "c_stream.bin").read_bytes()


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
