"""The real firmware on an emulated MCU: build the sketch for Arduino Uno (ATmega328P) with arduino-mk,
report flash/RAM, run the synthetic-IMU build under simavr and decode its bytes with imuwalk's decoder.

Transport under simavr: simavr's command-line runner prints UART0 output as text lines, so the test builds use
IMUWALK_HEX_UART (each wire byte as two hex digits, lines "~<hex>"); the frames are the same bytes."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from imuwalk.sources import protocol as P

ARDUINO = Path(__file__).resolve().parent.parent / "firmware_bridge" / "arduino"
ODR = 200
RUN_S = 5
SYN = ["-DIMUWALK_SYNTHETIC_IMU", "-DIMUWALK_HEX_UART"]
BUILDS = {
    "mpu6050": [],  # the real-sensor default build, binary transport
    "lsm6dso": ["-DIMUWALK_IMU_LSM6DSO"],
    "synthetic": SYN + [f"-DIMUWALK_RUN_SECONDS={RUN_S}", "-DIMUWALK_BAUD=500000", f"-DIMUWALK_ODR_HZ={ODR}"],
    # a link too slow for the stream: exercises drop + count + TX_DROPPED (hex doubles the bytes)
    "saturated": SYN + ["-DIMUWALK_RUN_SECONDS=3", "-DIMUWALK_BAUD=57600", f"-DIMUWALK_ODR_HZ={ODR}"],
}

_missing = [t for t in ("avr-gcc", "avr-size", "simavr", "make") if shutil.which(t) is None]
if not Path("/usr/share/arduino/Arduino.mk").exists():
    _missing.append("arduino-mk (/usr/share/arduino/Arduino.mk)")
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"AVR toolchain not installed: {', '.join(_missing)} "
                                "(Debian: gcc-avr avr-libc arduino-core-avr arduino-mk simavr)")


def _build(out: Path, flags: list[str]) -> tuple[Path, str]:
    res = subprocess.run(["bash", str(ARDUINO / "build_avr.sh"), str(out), *flags], capture_output=True,
                         text=True, timeout=170)
    assert res.returncode == 0, f"AVR build failed ({flags}):\n{res.stdout}\n{res.stderr}"
    elf = out / "imuwalk_stream" / "build-uno" / "imuwalk_stream_.elf"
    assert elf.exists()
    return elf, res.stdout


@pytest.fixture(scope="module")
def elves(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    root = tmp_path_factory.mktemp("avr")
    with ThreadPoolExecutor(max_workers=4) as ex:
        futs = {k: ex.submit(_build, root / k, v) for k, v in BUILDS.items()}
        return {k: f.result() for k, f in futs.items()}


def _sizes(size_out: str) -> tuple[int, int]:
    prog = int(re.search(r"Program:\s+(\d+) bytes", size_out).group(1))
    data = int(re.search(r"Data:\s+(\d+) bytes", size_out).group(1))
    return prog, data


def run_simavr(elf: Path, timeout: float = 40.0) -> bytes:
    """Run the ELF on simavr (16 MHz ATmega328P) until the firmware halts; return the UART wire bytes."""
    res = subprocess.run(["simavr", "-m", "atmega328p", "-f", "16000000", str(elf)], capture_output=True,
                         text=True, timeout=timeout)
    text = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)
    hexes = [ln[1:].rstrip(".").strip() for ln in text.splitlines() if ln.startswith("~")]
    assert hexes, f"no UART output from simavr:\n{text[-2000:]}"
    return bytes.fromhex("".join(hexes))


def test_flash_and_ram_fit_uno(elves):
    for name, (_elf, out) in elves.items():
        prog, data = _sizes(out)
        print(f"\n[avr-size] {name:9s}: flash {prog} B of 32256 ({prog / 32256:.1%}), "
              f"RAM {data} B of 2048 ({data / 2048:.1%})")
        assert prog < 32256 and data < 1536  # leave >= 512 B of the 2 KiB SRAM for the stack


def test_synthetic_firmware_under_simavr(elves):
    wire = run_simavr(elves["synthetic"][0])
    dec = P.FrameDecoder()
    out = P.DecodedSamples.concat(dec.feed(wire[i:i + 500]) for i in range(0, len(wire), 500))
    st = dec.stats
    print(f"\n[simavr] {RUN_S} s simulated: {len(out)} samples, {st.frames_ok} frames, {len(wire)} bytes, "
          f"stats={st.as_dict()}")
    # every frame passes COBS + CRC, nothing missing, no drops at 500 kBd
    assert st.errors == 0 and st.unknown_type == 0
    assert st.seq_gaps == 0 and st.samples_missing == 0 and st.device_tx_dropped == 0
    n_exp = RUN_S * ODR
    assert abs(len(out) - n_exp) <= 2
    # META: at boot and every second; STATUS every second; BOOT log
    m = dec.meta
    assert m is not None and m.odr_hz == ODR and m.imu_name == "synthetic" and m.proto_ver == P.PROTO_VERSION
    assert m.device_id == "1a2b3c4d5e6f0001"
    assert dec.metas >= RUN_S and dec.status is not None and dec.status.samples_total >= n_exp - ODR
    assert dec.logs[0][1] == "imuwalk_stream boot"
    # sequence contiguous, device timestamps strictly increasing at the configured ODR
    assert np.all(np.diff(out.seq.astype(np.int64)) >= 1)
    dt = np.diff(out.t_dev_us.astype(np.int64))
    assert dt.min() > 0
    assert abs(dt.mean() - 1e6 / ODR) < 1e6 / ODR * 0.002, dt.mean()
    assert np.all(np.abs(dt - 1e6 / ODR) < 100), (dt.min(), dt.max())  # polling jitter < 100 us
    # BOOT on the first second only
    boot = (out.flags & P.FLAG_BOOT) != 0
    t_rel = (out.t_dev_us - out.t_dev_us[0]) / 1e6
    assert boot[0] and not boot[t_rel > 1.01].any()
    # a gait-like signal: sagittal swing peaks ~300 dps about 0.9 times per second, gravity ~1 g
    blk = P.to_block(out, m, t0_us=int(out.t_dev_us[0]))
    gz = np.degrees(blk.gyr[:, 2])
    assert 250 < gz.max() < 350
    up = np.flatnonzero((gz[1:] > 150) & (gz[:-1] <= 150))
    assert 3 <= len(up) <= 6
    assert 0.8 < np.median(np.linalg.norm(blk.acc, axis=1)) / 9.80665 < 1.4


def test_saturated_link_drops_and_counts(elves):
    """57.6 kBd cannot carry 200 Hz in hex: the firmware must drop (never block), count and flag."""
    wire = run_simavr(elves["saturated"][0])
    dec = P.FrameDecoder()
    out = dec.feed(wire)
    st = dec.stats
    print(f"\n[simavr saturated] {len(out)} samples delivered, {st.samples_missing} missing, "
          f"device tx_dropped={st.device_tx_dropped}, stats={st.as_dict()}")
    assert st.errors == 0
    assert st.samples_missing > 100 and st.tx_dropped_flags > 0
    # every frame missing before the last STATUS is one the device says it dropped
    assert dec.status is not None and dec.status.tx_dropped > 0
    seqs = [int.from_bytes(P.cobs_decode(f)[2:4], "little") for f in wire.split(b"\x00") if f]
    assert seqs == sorted(seqs) and seqs[-1] < 65536  # no wrap in 3 s: raw seq == unwrapped seq
    missing_before = int(dec.status.seq) - sum(1 for q in seqs if q < dec.status.seq)
    assert missing_before == dec.status.tx_dropped, (missing_before, dec.status.tx_dropped)
    # timestamps still strictly increasing, META still gets through
    assert np.all(np.diff(out.t_dev_us.astype(np.int64)) > 0) and dec.metas >= 2


def test_default_uid_is_announced_under_simavr(elves):
    """An AVR has no unique id: the build default uid is shared by every Uno built without -DIMUWALK_UID, so one
    LOG at boot says so (its text comes from flash, PSTR, on AVR) -- without delaying or dropping a sample."""
    wire = run_simavr(elves["synthetic"][0])
    dec = P.FrameDecoder()
    out = dec.feed(wire)
    assert dec.meta.device_id == "1a2b3c4d5e6f0001"
    assert [text for _, text in dec.logs] == ["imuwalk_stream boot",
                                              "uid is the shared default: set IMUWALK_UID per unit"]
    assert dec.stats.device_tx_dropped == 0 and dec.stats.seq_gaps == 0
    assert np.all(np.abs(np.diff(out.t_dev_us.astype(np.int64)) - 1e6 / ODR) < 100)
