"""DeviceEmulator: exact firmware bytes, clock, scales, fault log, file/PTY sinks, the `emulate` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imuwalk.sources.emulator import DeviceEmulator, Faults, acc_lsb_per_g, gyr_lsb_per_dps
from imuwalk.sources.formats import read_file
from imuwalk.sources.protocol import FLAG_BOOT, SAMPLE_WIRE_SIZE, FrameDecoder, encode_sample
from imuwalk.units import DEG2RAD, G0

REPO = Path(__file__).resolve().parent.parent


def _ramp(n=1000, rate=200.0):
    t = 5.0 + np.arange(n) / rate  # does not start at 0 on purpose
    acc = np.zeros((n, 3))
    acc[:, 0] = G0
    acc[:, 1] = np.linspace(-3, 3, n)
    gyr = np.zeros((n, 3))
    gyr[:, 1] = np.linspace(-5, 5, n)
    return t, acc, gyr


def test_stream_is_the_firmware_byte_stream():
    t, acc, gyr = _ramp(1000, 200.0)
    emu = DeviceEmulator(t, acc, gyr, acc_range_g=8, gyr_range_dps=1000, offset_us=1000)
    data = emu.to_bytes()
    dec = FrameDecoder()
    d = dec.feed(data)
    st = dec.stats
    assert len(d) == 1000 and st.errors == 0 and st.samples_missing == 0
    # META + STATUS at boot and every second of device time (5 s of data)
    assert dec.metas == 5 and emu.counts["statuses"] == 5
    assert dec.meta.acc_range_g == 8 and dec.meta.gyr_range_dps == 1000 and dec.meta.odr_hz == 200.0
    assert dec.meta.acc_scale_g_per_lsb == pytest.approx(1 / acc_lsb_per_g(8))
    assert dec.meta.gyr_scale_dps_per_lsb == pytest.approx(1 / 32.8)
    # one seq per frame of any type: the sample seqs skip the META/STATUS pairs
    assert d.seq[0] == 2 and np.all(np.diff(d.seq.astype(np.int64)) >= 1)
    assert int(d.seq[-1]) - int(d.seq[0]) + 1 == 1000 + 2 * 4
    # BOOT flag exactly on the first second
    boot = (d.flags & FLAG_BOOT) != 0
    assert boot[:200].all() and not boot[200:].any()
    # counts are the rounded values; the k-th frame is byte-identical to encode_sample
    np.testing.assert_array_equal(d.acc_raw[:, 1], np.round(acc[:, 1] / G0 * 4096).astype(np.int16))
    np.testing.assert_array_equal(d.gyr_raw[:, 1], np.round(gyr[:, 1] / DEG2RAD * 32.8).astype(np.int16))
    k = 500
    frame = encode_sample(int(d.seq[k]), int(d.t_dev_us[k]), d.acc_raw[k], d.gyr_raw[k], int(d.flags[k]))
    assert len(frame) == SAMPLE_WIRE_SIZE and frame in data
    np.testing.assert_array_equal(d.t_dev_us.astype(np.int64), 1000 + np.arange(1000) * 5000)


def test_clock_drift_offset_and_wrap():
    t, acc, gyr = _ramp(2000, 1000.0)
    off = 2**32 - 700_000  # wraps after 0.7 s
    emu = DeviceEmulator(t, acc, gyr, drift_ppm=250.0, offset_us=off)
    d = FrameDecoder().feed(emu.to_bytes())
    dev = d.t_dev_us.astype(np.int64)
    assert np.all(np.diff(dev) > 0)
    expect = np.round((t - t[0]) * (1 + 250e-6) * 1e6).astype(np.int64)
    np.testing.assert_array_equal(dev - dev[0], expect)
    np.testing.assert_allclose(emu.detector_time(t, dev[0]), (dev - dev[0]) / 1e6, atol=1e-6)


def test_saturation_is_clipped_and_counted():
    t, acc, gyr = _ramp(400, 200.0)
    gyr[100:110, 1] = 40.0  # 2292 dps > ±2000
    emu = DeviceEmulator(t, acc, gyr)
    assert emu.saturated_samples == 10
    assert emu.gyr_counts[100:110, 1].max() == 32767
    assert gyr_lsb_per_dps(2000) == 16.4 and acc_lsb_per_g(16) == 2048


@pytest.mark.parametrize("kind", ["bit_flip", "truncate", "drop_byte", "garbage"])
def test_each_fault_rejects_exactly_one_frame(kind):
    t, acc, gyr = _ramp(4000, 200.0)
    emu = DeviceEmulator(t, acc, gyr, faults=Faults(**{kind: 0.02}, seed=5))
    dec = FrameDecoder()
    d = dec.feed(emu.to_bytes())
    n = emu.fault_summary()[kind]
    assert n > 40 and emu.fault_summary()["corrupted_frames"] == n
    assert len([e for e in emu.log_ if e["kind"] == kind]) == n
    st = dec.stats
    assert st.errors == n and st.samples_missing == n and len(d) == 4000 - n
    lost = set(e["seq"] for e in emu.log_)
    assert lost.isdisjoint(set(d.seq.tolist()))


def test_fault_plan_is_reproducible_and_parsed():
    t, acc, gyr = _ramp(2000, 200.0)
    spec = "bit_flip=0.01,garbage=0.01,seed=3,reset=4,unplug=2:0.5"
    f = Faults.parse(spec)
    assert f.reset_at == [4.0] and f.disconnect_at == [(2.0, 0.5)] and f.seed == 3
    a = DeviceEmulator(t, acc, gyr, faults=spec).to_bytes()
    b = DeviceEmulator(t, acc, gyr, faults=Faults.parse(spec)).to_bytes()
    assert a == b
    with pytest.raises(ValueError, match="faults"):
        Faults.parse("lightning=1")
    with pytest.raises(ValueError, match="bit_flip"):
        Faults(bit_flip=2.0)


@pytest.mark.parametrize("spec, needle", [
    ("reset=-3", "reset=T"),             # a reboot before the stream starts: was accepted, lost 10 samples
    ("reset=nan", "reset=T"),
    ("unplug=5", "unplug=T:D"),          # D was quietly 1 s
    ("unplug=5:", "unplug=T:D"),
    ("unplug=5:0", "D > 0"),
    ("unplug=-1:2", "T >= 0"),
    ("disconnect=3", "disconnect=T:D"),
    ("seed=-1", "seed"),
])
def test_fault_spec_refuses_bad_times_and_a_missing_unplug_duration(spec, needle):
    with pytest.raises(ValueError, match="faults") as e:
        Faults.parse(spec)
    assert needle in str(e.value) and spec in str(e.value), str(e.value)
    with pytest.raises(ValueError, match="reset_at"):
        Faults(reset_at=[-1.0])
    with pytest.raises(ValueError, match="disconnect_at"):
        Faults(disconnect_at=[(-2.0, 1.0)])
    assert Faults.parse("reset=0,unplug=0:0.5").disconnect_at == [(0.0, 0.5)]


@pytest.mark.parametrize("extra, needle", [
    (["--seed", "-1"], "--seed: expected an integer 0..4294967295, got -1"),
    (["--seed", "4294967296"], "--seed"),
    (["--faults", "reset=-3"], "--faults: reset=T"),
    (["--faults", "unplug=5"], "--faults: unplug=T:D"),
    (["--link", "LINK"], "--link: only with --pty"),
])
def test_emulate_out_bad_seed_faults_and_link_are_usage_errors(tmp_path, extra, needle):
    out = tmp_path / "e.imuraw"
    extra = [str(tmp_path / "lnk") if a == "LINK" else a for a in extra]
    p = subprocess.run([sys.executable, "-m", "imuwalk.cli.main", "emulate", "--out", str(out), "--duration", "10",
                        *extra], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("imuwalk emulate: error: ") and needle in lines[0], p.stderr
    assert not out.exists() and not (tmp_path / "lnk").exists()


def test_device_reset_restarts_seq_and_clock_with_boot():
    t, acc, gyr = _ramp(2000, 200.0)
    emu = DeviceEmulator(t, acc, gyr, faults=Faults(reset_at=[4.0], reset_gap_s=0.1))
    dec = FrameDecoder()
    d = dec.feed(emu.to_bytes())
    st = dec.stats
    assert st.resets == 1 and st.errors == 0
    skipped = emu.log_[0]["samples_skipped"]
    assert skipped == 20  # 0.1 s at 200 Hz never produced while rebooting
    assert len(d) == 2000 - skipped
    assert np.all(np.diff(d.t_dev_us.astype(np.int64)) > 0)  # decoder keeps time monotonic
    boot = (d.flags & FLAG_BOOT) != 0
    i = 800  # first sample after the reset (stream time 4.1 s): BOOT until 1 s after the reboot at 4.0 s
    assert boot[i:i + 180].all() and not boot[i + 180:].any() and not boot[200:i].any()
    assert dec.metas == 4 + 1 + 5  # 0, 1, 2, 3 s; at the reboot; 5, 6, 7, 8, 9 s (1-s steps from the boot)


def test_file_sink_roundtrip_through_read_file(tmp_path):
    t, acc, gyr = _ramp(1000, 200.0)
    emu = DeviceEmulator(t, acc, gyr)
    p = emu.write_file(tmp_path / "s.imuraw")
    b = read_file(p)
    assert len(b) == 1000
    np.testing.assert_allclose(b.t, np.arange(1000) / 200.0, atol=1e-9)
    np.testing.assert_allclose(b.acc, acc, atol=G0 / 2048)
    np.testing.assert_allclose(b.gyr, gyr, atol=DEG2RAD / 16.4)
    assert b.acc_raw.dtype == np.int16 and b.info["stats"]["crc_errors"] == 0


def test_bad_arguments_name_the_problem():
    t, acc, gyr = _ramp(100)
    with pytest.raises(ValueError, match="t:"):
        DeviceEmulator(t[::-1], acc, gyr)
    with pytest.raises(ValueError, match="acc, gyr"):
        DeviceEmulator(t, acc[:10], gyr)
    with pytest.raises(ValueError, match="uniformly"):
        DeviceEmulator(np.r_[t[:50], t[50:] + 0.5], acc, gyr)
    with pytest.raises(ValueError, match="speed"):
        DeviceEmulator(t, acc, gyr, speed=0)
    with pytest.raises(ValueError, match="n_samples"):
        DeviceEmulator(t, acc, gyr, loop=True).to_bytes()


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_pty_survives_a_reader_that_disconnects_and_reconnects():
    serial = pytest.importorskip("serial")
    t, acc, gyr = _ramp(400, 200.0)
    emu = DeviceEmulator(t, acc, gyr, loop=True, tx_buffer=1024)
    port = emu.run_pty()
    try:
        def read_samples(n_want: int) -> int:
            # until n_want samples are decoded (a deadline, not a throughput window: CI may be loaded)
            dec = FrameDecoder()
            n = 0
            with serial.serial_for_url(port, timeout=0.2) as s:
                end = time.monotonic() + 15.0
                while n < n_want and time.monotonic() < end:
                    n += len(dec.feed(s.read(max(1, s.in_waiting))))
            return n

        assert read_samples(50) >= 50
        time.sleep(2.5)  # nobody reads: the device keeps sending (dropping frames once the PTY is full)
        assert emu.running
        assert read_samples(50) >= 50  # fresh data flows again
        assert emu.error_ is None
    finally:
        emu.stop()
    assert not emu.running


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "imuwalk.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO), **kw)


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_emulate_command_prints_the_pty_first_and_stops_on_sigterm(tmp_path):
    pytest.importorskip("serial")
    link = tmp_path / "dev"
    p = _cli("emulate", "--pty", "--rate", "200", "--link", str(link))
    try:
        first = p.stdout.readline().strip()
        assert first == str(link) and os.path.islink(first)
        import serial

        with serial.serial_for_url(first, timeout=0.5) as s:
            dec = FrameDecoder()
            end = time.monotonic() + 1.5
            while time.monotonic() < end and dec.meta is None:
                dec.feed(s.read(max(1, s.in_waiting)))
        assert dec.meta is not None and dec.meta.odr_hz == 200.0
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert not os.path.lexists(link)


def test_emulate_command_writes_a_file(tmp_path):
    out = tmp_path / "w.imuraw"
    p = _cli("emulate", "--out", str(out), "--duration", "6", "--rate", "100")
    so, se = p.communicate(timeout=60)
    assert p.returncode == 0, se
    b = read_file(out)
    assert abs(len(b) - 600) <= 1 and f"{len(b)} samples" in se
    p = _cli("emulate", "--out", str(out))
    _, se = p.communicate(timeout=60)
    assert p.returncode == 2 and "--duration" in se  # a usage error, like every other option error
