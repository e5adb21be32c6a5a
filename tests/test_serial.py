"""SerialSource: decoding, META wait, bounded queue, reconnect, text lines, hooks, errors; stream/ports."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np
import pytest
from conftest import collect_blocks

serial = pytest.importorskip("serial")

from imuwalk.core.detector import StepDetector  # noqa: E402
from imuwalk.sources.emulator import DeviceEmulator, Faults  # noqa: E402
from imuwalk.sources.protocol import DeviceMeta, FrameDecoder, encode_meta, encode_samples  # noqa: E402
from imuwalk.sources.serial import SerialSource, open_port_error_message, run_stream  # noqa: E402
from imuwalk.units import DEG2RAD, G0  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
posix = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")


def _ramp(n=2000, rate=500.0):
    t = np.arange(n) / rate
    acc = np.zeros((n, 3))
    acc[:, 0] = G0
    acc[:, 2] = np.sin(t)
    gyr = np.zeros((n, 3))
    gyr[:, 1] = 3 * np.sin(2 * np.pi * t)
    return t, acc, gyr


def _wait_for(cond, timeout: float = 15.0, step: float = 0.05) -> bool:
    """Poll ``cond()`` until it is true (True) or ``timeout`` s passed (False)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True


def test_url_source_decodes_everything_in_order():
    t, acc, gyr = _ramp()
    emu = DeviceEmulator(t, acc, gyr, speed=50.0, offset_us=777)
    raw = []
    url = emu.run_url()
    with SerialSource(url, on_raw=lambda d, ns: raw.append(d)) as src:
        blocks = collect_blocks(src, 2000)
        st = src.stats
    emu.stop()
    bt = np.concatenate([b.t for b in blocks])
    assert len(bt) == 2000 and st["frames_lost"] == 0 and st["rejected"] == 0
    np.testing.assert_allclose(bt, t, atol=1e-6)  # device clock, from 0 at the first sample
    np.testing.assert_allclose(np.concatenate([b.acc for b in blocks]), acc, atol=G0 / 2048)
    np.testing.assert_allclose(np.concatenate([b.gyr for b in blocks]), gyr, atol=DEG2RAD / 16.4)
    b0 = blocks[0]
    assert b0.acc_raw.dtype == np.int16 and b0.t_dev_us[0] == 777 and b0.seq is not None
    assert b0.t_host_ns.dtype == np.int64 and b0.info["scales"] == "device"
    assert sum(len(d) for d in raw) == st["bytes"]  # the raw hook saw every byte
    assert src.meta_.odr_hz == 500.0 and st["metas"] == 4


@posix
def test_samples_before_meta_wait_then_convert_and_bound():
    m, s = pty.openpty()
    tty.setraw(s)
    name = os.ttyname(s)
    n = 300
    tus = np.arange(n) * 2000
    a = np.tile([0, 0, 2048], (n, 1))
    g = np.tile([164, 0, 0], (n, 1))
    try:
        with SerialSource(name, pre_meta_samples=200) as src:
            time.sleep(0.2)
            os.write(m, encode_samples(1, tus, a, g))
            time.sleep(0.4)
            assert src.get(timeout=0.2) is None  # no META yet: nothing can be converted
            meta = DeviceMeta(odr_hz=500.0, acc_scale_g_per_lsb=1 / 2048, gyr_scale_dps_per_lsb=1 / 16.4)
            os.write(m, encode_meta(n + 1, meta))
            blocks = collect_blocks(src, 200, timeout=3)
            st = src.stats
        got = np.concatenate([b.acc for b in blocks])
        assert st["pre_meta_dropped"] == 100  # the bounded buffer kept the newest 200 samples
        assert len(got) == 200
        np.testing.assert_allclose(got[:, 2], G0)
        np.testing.assert_allclose(np.concatenate([b.gyr for b in blocks])[:, 0], 10 * DEG2RAD)
    finally:
        os.close(m)
        os.close(s)


@posix
def test_default_meta_converts_at_once_and_flags_it():
    t, acc, gyr = _ramp(500)  # 1 s at 500 Hz: only the boot META
    emu = DeviceEmulator(t, acc, gyr)
    data = emu.to_bytes()
    cut = data.index(b"\x00", data.index(b"\x00") + 1) + 1  # drop the boot META + STATUS
    m, s = pty.openpty()  # a device whose META never comes: its frames straight into a real PTY
    tty.setraw(s)
    try:
        with SerialSource(os.ttyname(s), default_meta=emu.meta) as src:
            os.write(m, data[cut:])
            blocks = collect_blocks(src, 500, timeout=10)
            st = src.stats
        assert sum(len(b) for b in blocks) == 500 and st["metas"] == 0 and st["pre_meta_dropped"] == 0
        assert all(b.info["scales"] == "default" for b in blocks)
        np.testing.assert_allclose(np.concatenate([b.acc for b in blocks]), acc, atol=G0 / 2048)
        np.testing.assert_allclose(np.concatenate([b.t for b in blocks]), t, atol=1e-6)
    finally:
        os.close(m)
        os.close(s)


@posix
def test_full_queue_drops_the_oldest_and_counts():
    t, acc, gyr = _ramp(3000, 1000.0)
    # a TX buffer that holds the whole stream: the device never drops, so every loss is the queue's
    emu = DeviceEmulator(t, acc, gyr, speed=4.0, tx_buffer=1 << 20)
    port = emu.open_pty()
    try:
        with SerialSource(port, queue_blocks=3, poll_interval=0.002) as src:
            emu.run_pty()  # nobody calls get(): the queue overflows
            assert emu.wait(15) and emu.error_ is None
            assert _wait_for(lambda: src.stats["samples"] >= 3000), src.stats
            st = src.stats
            kept = src.get_all()
    finally:
        emu.stop()
    assert emu.counts["tx_dropped"] == 0 and emu.counts["samples_sent"] == 3000
    assert st["queue_drops"] > 0 and len(kept) == 3 and st["frames_lost"] == 0
    assert st["queue_dropped_samples"] + sum(len(b) for b in kept) == st["samples"] == 3000
    tt = np.concatenate([b.t for b in kept])
    assert np.all(np.diff(tt) > 0)
    assert kept[-1].t[-1] == pytest.approx(2.999, abs=1e-6)  # the newest blocks are kept


def test_url_unplug_reconnects_and_records_the_gap():
    t, acc, gyr = _ramp(3000, 500.0)
    emu = DeviceEmulator(t, acc, gyr, speed=2.0, faults=Faults(disconnect_at=[(2.0, 1.0)]))
    url = emu.run_url()
    with SerialSource(url, retry_interval=0.1) as src:
        blocks = []
        end = time.monotonic() + 10
        while emu.running and time.monotonic() < end:
            b = src.get(timeout=0.2)
            if b is not None:
                blocks.append(b)
        time.sleep(0.3)
        blocks += src.get_all()
        st = src.stats
        gaps = src.gaps_
    emu.stop()
    assert st["reconnects"] == 1 and len(gaps) == 1
    assert "disconnect" in gaps[0]["reason"]
    n = sum(len(b) for b in blocks)
    lost = 3000 - n  # sampled while unplugged, plus what was in flight when the link went away
    assert 0 < emu.counts["lost_unplugged"] <= lost < emu.counts["lost_unplugged"] + 40
    assert lost <= st["frames_lost"] <= lost + 4  # (+ the META/STATUS frames sent meanwhile)
    tt = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(tt) > 0) and tt[-1] == pytest.approx(t[-1], abs=1e-5)


@posix
def test_no_reconnect_ends_the_stream():
    t, acc, gyr = _ramp(2000, 500.0)
    # real time: 1 s of wall time for the reader to get samples before the unplug, even on a busy machine
    emu = DeviceEmulator(t, acc, gyr, speed=1.0, faults=Faults(disconnect_at=[(1.0, 5.0)]))
    port = emu.open_pty()
    src = SerialSource(port, reconnect=False).start()
    blocks: list = []
    th = threading.Thread(target=lambda: blocks.extend(src), daemon=True)  # ends when the PTY goes away
    th.start()
    try:
        emu.run_pty()
        th.join(timeout=15)
        assert not th.is_alive(), "the stream did not end when the device was unplugged"
        assert src.ended and not src.running  # ended by itself: stop() was not called yet
    finally:
        src.stop()
        emu.stop()
    assert emu.counts["disconnects"] == 1
    assert src.error_ is not None and src.stats["reconnects"] == 0
    assert len(src.gaps_) == 1 and "disconnect" in src.gaps_[0]["reason"]
    assert 0 < sum(len(b) for b in blocks) < 2000


@posix
def test_text_line_device():
    m, s = pty.openpty()
    tty.setraw(s)
    name = os.ttyname(s)
    lines = "".join(f"{10 * i},{0},{0},{16384},{131 * (i % 5)},0,0\r\n" for i in range(100)).encode()
    try:
        with SerialSource(name, format="text", text_options={"preset": "mpu6050", "time_unit": "ms"}) as src:
            time.sleep(0.2)
            os.write(m, b"garbage line\r\n" + lines)
            blocks = collect_blocks(src, 100, timeout=3)
            st = src.stats
        tt = np.concatenate([b.t for b in blocks])
        np.testing.assert_allclose(tt, np.arange(100) * 0.01)
        np.testing.assert_allclose(np.concatenate([b.acc for b in blocks])[:, 2], G0)
        np.testing.assert_allclose(np.concatenate([b.gyr for b in blocks])[:5, 0], np.arange(5) * DEG2RAD)
        assert st["lines_bad"] == 1 and st["lines_ok"] == 100
    finally:
        os.close(m)
        os.close(s)


def test_open_errors_are_one_clear_line():
    with pytest.raises(OSError, match="does not exist"):
        SerialSource("/dev/definitely-not-a-port").start()
    with pytest.raises(OSError, match="does not exist"):
        SerialSource("imuemu://nobody").start()
    msg = open_port_error_message("/dev/ttyACM0", PermissionError(13, "Permission denied"))
    assert "permission denied" in msg and "dialout" in msg
    for kw, name in (({"baud": 0}, "baud"), ({"queue_blocks": 0}, "queue_blocks"),
                     ({"format": "x"}, "format"), ({"poll_interval": -1}, "poll_interval")):
        with pytest.raises(ValueError, match=name):
            SerialSource("loop://", **kw)
    with pytest.raises(ValueError, match="port"):
        SerialSource("")


def test_check_port_fails_early_without_opening(tmp_path):
    from imuwalk.sources.serial import check_port

    with pytest.raises(OSError, match="does not exist.*imuwalk ports"):
        check_port(str(tmp_path / "ttyNOPE"))
    dev = tmp_path / "ttyHERE"
    dev.write_bytes(b"")
    check_port(str(dev))  # present and read-write: passes
    for url in ("loop://", "socket://localhost:7", "imuemu://nobody", ""):
        check_port(url)  # URLs: opening them tells
    if os.geteuid() != 0:  # root may open any file (the CLI test drops its capabilities)
        dev.chmod(0)
        with pytest.raises(OSError, match="permission denied.*dialout"):
            check_port(str(dev))


def test_run_stream_drives_the_detector_like_batch():
    from imuwalk.sources.emulator import default_walk

    walk = default_walk(200.0, 20.0, "shank", 2)
    emu = DeviceEmulator.from_walk(walk, speed=20.0)
    url = emu.run_url()
    ticks = []
    seen = []
    with SerialSource(url) as src:
        stop = threading.Event()
        threading.Thread(target=lambda: (emu.wait(20), time.sleep(0.5), stop.set()), daemon=True).start()
        rows = run_stream(src, StepDetector(placement="shank"), on_rows=seen.append,
                          on_tick=lambda: ticks.append(1), tick_interval=0.1, stop_event=stop)
    emu.stop()
    from imuwalk.core.detector import detect_steps

    ref = detect_steps(walk.t - walk.t[0], walk.acc, walk.gyr, placement="shank").events
    assert len(rows) == len(ref) > 5
    np.testing.assert_allclose(rows["t_ic"], ref["t_ic"], atol=1e-6)
    assert sum(len(r) for r in seen) == len(rows) and len(ticks) >= 3


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "imuwalk.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO))


@posix
def test_stream_command_json_until_sigint():
    t, acc, gyr = _ramp(20000, 200.0)
    emu = DeviceEmulator(t, acc, gyr, loop=True)
    port = emu.open_pty()
    p = _cli("stream", "--port", port, "--json")
    try:
        line = p.stderr.readline()  # printed once the port is open and Ctrl-C is handled
        if line.startswith("preparing the detector"):  # a slow warm-up (first run, or a loaded machine) says so
            line = p.stderr.readline()
        assert line.startswith("reading"), line
        emu.run_pty()
        time.sleep(3.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        emu.stop()
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    doc = json.loads(out)
    assert set(doc) >= {"strides", "summary", "link", "source"}
    assert doc["link"]["samples"] > 200 and doc["link"]["rejected"] == 0
    assert doc["source"]["device"]["odr_hz"] == 200.0


def test_stream_command_unknown_port_and_ports_command():
    p = _cli("stream", "--port", "/dev/no-such-imu", "--json")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "does not exist" in err
    p = _cli("ports")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out.strip()
    p = _cli("ports", "--json", "--all")
    out, _ = p.communicate(timeout=30)
    ports = json.loads(out)
    assert isinstance(ports, list)
    keys = {"device", "description", "hwid", "vid", "pid", "serial_number", "manufacturer", "likely",
            "stream_default"}
    assert all(set(d) == keys for d in ports), ports
    from imuwalk.cli.cmd_ports import pick_port

    try:
        want = pick_port(ports)["device"]
    except ValueError:
        want = None
    assert [d["device"] for d in ports if d["stream_default"]] == ([want] if want else [])


def test_decoder_sees_what_the_reader_sees():
    """The raw-bytes hook is the ground truth: re-decoding it gives the same samples (recorder contract)."""
    t, acc, gyr = _ramp(1500, 500.0)
    emu = DeviceEmulator(t, acc, gyr, speed=30.0, faults="bit_flip=0.01,garbage=0.01,seed=2")
    raw = bytearray()
    url = emu.run_url()
    with SerialSource(url, on_raw=lambda d, ns: raw.extend(d)) as src:
        blocks = collect_blocks(src, 1500 - 40, timeout=10)
        emu.wait(5)
        time.sleep(0.2)
        blocks += src.get_all()
        st = src.stats
    emu.stop()
    d = FrameDecoder().feed(bytes(raw))
    np.testing.assert_array_equal(np.concatenate([b.seq for b in blocks]), d.seq)
    assert st["rejected"] == emu.fault_summary()["corrupted_frames"]
