"""End to end over a real pseudo-terminal: DeviceEmulator → PTY → pyserial → FrameDecoder → StepDetector.

Unplug is emulated by closing the PTY (the reader gets the same SerialException as a USB unplug) and
creating a new one; a symlink kept pointing at the current PTY slave plays the udev /dev/serial/by-id path
that SerialSource reopens.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

pytest.importorskip("serial")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")

from imuwalk.core.detector import StepDetector, detect_steps  # noqa: E402
from imuwalk.evaluate import match_events  # noqa: E402
from imuwalk.sources.emulator import DeviceEmulator, Faults, default_walk  # noqa: E402
from imuwalk.sources.protocol import FrameDecoder, encode_meta  # noqa: E402
from imuwalk.sources.serial import SerialSource, run_stream  # noqa: E402


def _warm_up():
    """Load the Numba kernels before the clock starts."""
    FrameDecoder().feed(encode_meta(0, DeviceEmulator.demo(200, 4).meta))


def _f1(ref, det, tol=0.05):
    ri, _ = match_events(ref, det, tol)
    tp = len(ri)
    fp, fn = len(det) - tp, len(ref) - tp
    return 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0


def _session(rate_hz: float, duration_s: float, *, faults=None, speed=1.0, link=None, seed=0,
             drift_ppm=0.0, timeout_s=None, resolver=None) -> dict:
    walk = default_walk(rate_hz, duration_s, "shank", seed)
    emu = DeviceEmulator.from_walk(walk, faults=faults, speed=speed, drift_ppm=drift_ppm, offset_us=12_345)
    path = emu.open_pty(link=link)
    src = SerialSource(path, reconnect=True, port_resolver=None if resolver is None else resolver(emu))
    det = StepDetector(placement="shank")
    blocks = []
    done = threading.Event()
    n_expected = walk.t.shape[0]

    def on_block(b):
        blocks.append(b)

    src.start()
    t_wall0 = time.monotonic()
    emu.run_pty()
    timeout_s = timeout_s or duration_s / speed + 15.0

    def watch():
        emu.wait(timeout_s)  # the emulator has written everything; let the reader drain the PTY
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and src.stats["queued_blocks"]:
            time.sleep(0.05)
        time.sleep(0.3)
        done.set()

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    rows = run_stream(src, det, on_block=on_block, stop_event=done, duration=timeout_s + 10)
    wall = time.monotonic() - t_wall0
    stats = src.stats
    src.stop()
    emu.stop()
    return {"walk": walk, "emu": emu, "src": src, "stats": stats, "rows": rows, "blocks": blocks,
            "wall": wall, "n_expected": n_expected}


def _check_clean_realtime(r: dict, rate_hz: float) -> None:
    st, emu, walk, blocks = r["stats"], r["emu"], r["walk"], r["blocks"]
    # every frame the emulator sent arrived intact, in real time, none dropped anywhere
    assert emu.counts["tx_dropped"] == 0
    assert st["samples"] == r["n_expected"] == emu.counts["samples_sent"]
    assert st["frames_lost"] == 0 and st["rejected"] == 0 and st["queue_drops"] == 0
    assert st["metas"] == emu.counts["metas"]
    # paced at 1x speed (a reader that fell behind would show above as dropped frames, not as wall time)
    assert r["wall"] > walk.t[-1] - 1.0
    t = np.concatenate([b.t for b in blocks])
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(t, emu.detector_time(walk.t), atol=1.5e-6)
    acc = np.concatenate([b.acc for b in blocks])
    np.testing.assert_allclose(acc, walk.acc, atol=emu.meta.acc_scale_g_per_lsb * 9.81)
    _check_same_as_batch(r)
    # strides against the emulator's ground truth (device time base)
    ic = emu.detector_time(walk.ic)
    f1 = _f1(ic, r["rows"]["t_ic"])
    # the live path may not lose anything against the detector on the clean walk itself
    f1_batch = _f1(walk.ic, detect_steps(walk.t, walk.acc, walk.gyr, placement="shank").events["t_ic"])
    assert f1 >= f1_batch - 0.011, f"{rate_hz} Hz: F1 {f1:.3f} live vs {f1_batch:.3f} batch"
    return f1, f1_batch, len(r["rows"]), len(ic)


@pytest.mark.slow
def test_realtime_60s_at_200hz_and_1khz_no_frame_lost():
    """Both 60-s sessions run at the same time (two PTYs, two reader threads) to halve the wall time."""
    _warm_up()
    out: dict = {}
    errs: list = []

    def run(rate):
        try:
            out[rate] = _session(rate, 60.0, drift_ppm=40.0 if rate == 1000 else -25.0)
        except BaseException as e:  # pragma: no cover - reported below
            errs.append(e)

    th = [threading.Thread(target=run, args=(r,)) for r in (200.0, 1000.0)]
    for x in th:
        x.start()
    for x in th:
        x.join(120)
    assert not errs, errs
    res = {rate: _check_clean_realtime(out[rate], rate) for rate in (200.0, 1000.0)}
    # (live F1, batch F1, strides detected, true strides); the detector finds every stride of this walk
    assert all(v[0] >= 0.99 and v[1] >= 0.99 for v in res.values()), res


def test_faults_every_corrupt_frame_rejected_and_counted():
    _warm_up()
    faults = Faults(bit_flip=0.01, truncate=0.01, drop_byte=0.01, garbage=0.01, seed=11)
    r = _session(200.0, 20.0, faults=faults, speed=5.0)
    st, emu = r["stats"], r["emu"]
    fs = emu.fault_summary()
    assert fs["corrupted_frames"] > 80  # ~4 % of 4000 frames
    assert min(fs["bit_flip"], fs["truncate"], fs["drop_byte"], fs["garbage"]) > 5
    assert emu.counts["tx_dropped"] == 0
    # every corrupt frame rejected and counted, none accepted, nothing else lost
    assert st["rejected"] == fs["corrupted_frames"]
    assert st["frames_lost"] == fs["corrupted_frames"]
    assert st["samples"] == r["n_expected"] - fs["corrupted_frames"]
    # sync recovers within one frame: the missing sample seqs are exactly the corrupted ones
    got = np.concatenate([b.seq for b in r["blocks"]]).astype(np.int64)
    corrupted = np.array(sorted(e["seq"] for e in emu.log_ if "seq" in e and e["kind"] != "reset"))
    first, last = got[0], got[-1]
    all_sample_seqs = np.setdiff1d(np.arange(first, last + 1), _non_sample_seqs(emu, first, last))
    missing = np.setdiff1d(all_sample_seqs, got)
    np.testing.assert_array_equal(missing, corrupted[(corrupted >= first) & (corrupted <= last)])
    # the streamed strides are exactly those of the batch detector on the samples that arrived
    _check_same_as_batch(r)


def _check_same_as_batch(r: dict) -> None:
    t = np.concatenate([b.t for b in r["blocks"]])
    acc = np.concatenate([b.acc for b in r["blocks"]])
    gyr = np.concatenate([b.gyr for b in r["blocks"]])
    ref = detect_steps(t, acc, gyr, placement="shank").events
    assert len(ref) > 0
    np.testing.assert_array_equal(r["rows"]["t_ic"], ref["t_ic"])
    np.testing.assert_array_equal(r["rows"]["direction"], ref["direction"])


def _non_sample_seqs(emu: DeviceEmulator, first: int, last: int) -> np.ndarray:
    """Seqs of the META/STATUS frames (regenerated offline: the stream is deterministic)."""
    twin = DeviceEmulator(emu.t, emu.acc_counts.astype(float) / emu.acc_lsb * 9.80665,
                          emu.gyr_counts.astype(float) / emu.gyr_lsb * np.pi / 180)
    dec = FrameDecoder()
    seqs = []
    data = twin.to_bytes()
    # META and STATUS come in pairs, at 1-s steps; their seqs are the gaps between the sample seqs
    d = dec.feed(data)
    s = d.seq.astype(np.int64)
    allseq = np.arange(s[0] if s[0] < first else first, max(last, s[-1]) + 1)
    seqs = np.setdiff1d(allseq, s)
    return seqs[(seqs >= first) & (seqs <= last)]


def test_board_back_as_another_node_is_found_again():
    """`imuwalk stream` without --port: after an unplug the board may come back as another node (the kernel
    gives /dev/ttyACM1 while /dev/ttyACM0 is still held). The resolver finds it by its USB ids; here the
    "USB" listing is the emulator's current PTY, and an fd kept open on the first node forces a new one."""
    from imuwalk.cli.cmd_ports import same_board

    board = {"device": "", "vid": 0x2E8A, "pid": 0x000A, "serial_number": "E660C0D1C7"}
    held: list[int] = []

    def resolver(emu):
        board["device"] = emu.port
        held.append(os.open(emu.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))  # the stale node stays taken
        listing = [{"device": "/dev/ttyS0", "vid": None, "pid": None, "serial_number": None}]
        return same_board(dict(board), list_fn=lambda: [*listing, {**board, "device": emu.port}])

    _warm_up()
    try:
        r = _session(200.0, 9.0, faults=Faults(disconnect_at=[(3.0, 1.5)]), resolver=resolver)
    finally:
        for fd in held:
            os.close(fd)
    st, emu, src = r["stats"], r["emu"], r["src"]
    assert emu.counts["disconnects"] == 1 and st["reconnects"] == 1
    assert emu.port != board["device"] and src.stats["port"] == emu.port  # read on from the new node
    t = np.concatenate([b.t for b in r["blocks"]])
    assert t[-1] > 8.5 and np.any(r["rows"]["t_ic"] > 6.0)  # kept going to the end of the walk


def test_same_board_resolver_choices():
    from imuwalk.cli.cmd_ports import same_board

    a = {"device": "/dev/ttyACM0", "vid": 0x2341, "pid": 0x43, "serial_number": "A1"}
    other = {"device": "/dev/ttyACM5", "vid": 0x2341, "pid": 0x43, "serial_number": "B2"}
    now: list = []
    res = same_board(a, list_fn=lambda: now)
    assert res() == "/dev/ttyACM0"  # absent: the old node (opening fails, the source retries)
    now[:] = [other, {**a, "device": "/dev/ttyACM1"}]
    assert res() == "/dev/ttyACM1"  # back under another node; the other board is not taken
    now[:] = [{**a, "device": "/dev/ttyACM1"}, a]
    assert res() == "/dev/ttyACM0"  # its old node when present

    def broken():
        raise OSError("udev busy")

    assert same_board(a, list_fn=broken)() == "/dev/ttyACM0"


def test_unplug_mid_stream_reconnects_and_keeps_going(tmp_path):
    _warm_up()
    link = tmp_path / "imuwalk-by-id"
    faults = Faults(disconnect_at=[(3.0, 1.5)])
    r = _session(200.0, 9.0, faults=faults, link=str(link))
    st, emu, src = r["stats"], r["emu"], r["src"]
    assert emu.counts["disconnects"] == 1
    assert st["reconnects"] == 1
    assert len(src.gaps_) == 1
    g = src.gaps_[0]
    assert g["t_host_ns_end"] > g["t_host_ns_start"]
    assert g["seq_after"] > g["seq_before"]
    # the frames lost while unplugged (and in the OS buffer at the unplug) show up as a sequence gap:
    # the lost samples plus the META+STATUS pairs sent meanwhile (one pair per second)
    lost_samples = r["n_expected"] - st["samples"]
    assert lost_samples <= st["frames_lost"] <= lost_samples + 6
    assert (st["frames_lost"] - lost_samples) % 2 == 0
    assert st["frames_lost"] >= emu.counts["lost_unplugged"] > 200
    assert st["rejected"] == st["cut_by_unplug"] <= 1
    t = np.concatenate([b.t for b in r["blocks"]])
    assert np.all(np.diff(t) > 0)
    assert t[-1] > 8.5  # kept going to the end of the walk
    # strides after the reconnect are still found
    assert np.any(r["rows"]["t_ic"] > 6.0)
