"""Recorder input checks, repair of a NaN time, /link/gaps vs the link counters, closed Recording,
non-HDF5 files, text byte logs, SerialSource lifecycle and the `recording` JSON key (QA pass 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")
serial = pytest.importorskip("serial")

from imuwalk.sinks.hdf5 import Recorder, Recording, RecordingError, raw_log_path, repair  # noqa: E402
from imuwalk.sources.block import SampleBlock  # noqa: E402
from imuwalk.sources.emulator import DeviceEmulator, Faults  # noqa: E402
from imuwalk.sources.replay import ReplaySource  # noqa: E402
from imuwalk.sources.serial import SerialSource  # noqa: E402
from imuwalk.units import G0  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _blk(t0: float, n: int = 200, rate: float = 100.0, **kw) -> SampleBlock:
    t = t0 + np.arange(n) / rate
    acc = np.tile([0.0, 0.0, 9.81], (n, 1))
    gyr = np.zeros((n, 3))
    gyr[:, 1] = np.sin(t)
    return SampleBlock(t, acc, gyr, **kw)


def _run_cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "imuwalk", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


# -- 1. write_block checks its input in the caller's thread ---------------------------------------------


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda b: setattr(b, "acc", b.acc[:, :2]), r"block\.acc: shape \(200, 2\), expected \(200, 3\)"),
        (lambda b: setattr(b, "gyr", b.gyr[:100]), r"block\.gyr: shape \(100, 3\)"),
        (lambda b: setattr(b, "t", b.t[:, None]), r"block\.t: shape \(200, 1\), expected \(N,\)"),
        (lambda b: b.t.__setitem__(50, np.nan), r"block\.t\[50\] is nan"),
        (lambda b: b.t.__setitem__(60, np.inf), r"block\.t\[60\] is inf"),
        (lambda b: b.t.__setitem__(70, b.t[69]), r"block\.t must be strictly increasing: t\[69\]"),
        (lambda b: setattr(b, "t", b.t - 3.0), r"block\.t\[0\] = -1\.0 s is not after the last sample"),
        (lambda b: setattr(b, "acc", b.acc.astype(str)), r"block\.acc: dtype <U\d+ is not real numbers"),
        (lambda b: setattr(b, "acc_raw", np.zeros((200, 3))), r"block\.acc_raw: dtype float64 is not integers"),
        (lambda b: setattr(b, "seq", np.arange(199)), r"block\.seq: shape \(199,\), expected \(200,\)"),
    ],
)
def test_write_block_rejects_bad_input_and_keeps_recording(tmp_path, mutate, match):
    p = tmp_path / "r.h5"
    with Recorder(p, raw_log=False, flush_interval_s=0.05) as rec:
        rec.write_block(_blk(0.0))
        rec.flush()
        bad = _blk(2.0)
        mutate(bad)
        with pytest.raises(ValueError, match=match):
            rec.write_block(bad)
        rec.write_block(_blk(2.0))  # the recorder is still usable, nothing recorded is lost
        rec.write_block(_blk(4.0))
    assert rec.error is None and rec.complete
    with Recording(p) as r:
        assert r.complete and len(r) == 600 and r.dropped_samples == 0
        np.testing.assert_array_equal(r.t, np.concatenate([_blk(x).t for x in (0.0, 2.0, 4.0)]))


def test_write_block_nan_time_is_refused_before_it_reaches_the_file(tmp_path):
    p = tmp_path / "e.h5"
    t = np.arange(1000) / 100.0
    t[500] = np.nan
    acc = np.tile([0.0, 0.0, 9.81], (1000, 1))
    gyr = np.zeros((1000, 3))
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(SampleBlock(t[:400], acc[:400], gyr[:400]))
        with pytest.raises(ValueError, match=r"block\.t\[100\] is nan"):
            rec.write_block(SampleBlock(t[400:], acc[400:], gyr[400:]))
    with Recording(p) as r:  # readable: the first block is all there
        assert len(r) == 400 and r.complete
    assert _run_cli("detect", str(p), "--json").returncode == 0


def test_write_block_accepts_lists(tmp_path):
    p = tmp_path / "l.h5"
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(SampleBlock([0.0, 0.1, 0.2], [[0, 0, 9.8]] * 3, [[0, 0, 0]] * 3))
    with Recording(p) as r:
        np.testing.assert_array_equal(r.t, [0.0, 0.1, 0.2])
        np.testing.assert_array_equal(r.acc[:, 2], 9.8)


# -- 1b. repair of a finalized file with a NaN time -------------------------------------------------------


def test_repair_removes_nan_times_of_a_finalized_file(tmp_path):
    p = tmp_path / "n.h5"
    with Recorder(p, raw_log=False) as rec:
        for k in range(5):
            rec.write_block(_blk(2.0 * k))
    with h5py.File(p, "a") as f:  # a file written by something else (or damaged): a NaN time
        f["imu/t"][500] = np.nan
    with Recording(p) as r, pytest.raises(RecordingError, match=r"imu/t\[500\]"):
        len(r)
    rep = repair(p)
    assert rep.method == "skip" and rep.n_samples == 999
    with Recording(p) as r:
        assert len(r) == 999 and np.all(np.diff(r.t) > 0) and r.attrs["repair_method"] == "skip"
    cp = _run_cli("detect", str(p), "--json")
    assert cp.returncode == 0, cp.stderr


def test_repair_cli_on_a_nan_time(tmp_path):
    p = tmp_path / "m.h5"
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(_blk(0.0, 1000))
    with h5py.File(p, "a") as f:
        f["imu/t"][10] = np.nan
    cp = _run_cli("repair", str(p), "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert doc["method"] == "skip" and doc["n_samples"] == 999


# -- 2. /link/gaps counts only frames that are really missing ------------------------------------------


def test_recorder_gaps_skip_sequence_numbers_of_other_frames(tmp_path):
    p = tmp_path / "g.h5"
    # samples 0..99 use seqs 0..99, a META took 100, samples go on at 101; 150..152 lost; STATUS took 200
    seq = np.concatenate([np.arange(100), np.arange(101, 150), np.arange(153, 200), np.arange(201, 205)])
    n = seq.size
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(_blk(0.0, 120, seq=seq[:120], info={"seq_other": [100]}))
        rec.write_block(_blk(1.2, n - 120, seq=seq[120:], info={"seq_other": [200]}))
    with Recording(p) as r:
        gaps = r.link["gaps"]
        assert r.attrs["n_gaps"] == 1
        assert gaps["n_missing"].tolist() == [3] and gaps["seq_before"].tolist() == [149]
        assert all("seq_other" not in json.dumps(e["data"]) for e in r.link["events"])


def _ramp(n=3000, rate=500.0):
    t = np.arange(n) / rate
    acc = np.zeros((n, 3))
    acc[:, 0] = G0
    gyr = np.zeros((n, 3))
    gyr[:, 1] = 3 * np.sin(2 * np.pi * t)
    return t, acc, gyr


def _record_emulator(tmp_path, faults=None):
    """Record an emulated device read over a real pseudo-terminal until every frame it sent was decoded."""
    t, acc, gyr = _ramp()
    # a TX buffer that holds the whole stream: the device never drops, so the only losses are the faults
    emu = DeviceEmulator(t, acc, gyr, speed=10.0, faults=faults, tx_buffer=1 << 20)
    port = emu.open_pty()  # the reader opens it before the first byte is sent
    p = tmp_path / "emu.h5"
    rec = Recorder(p, raw_log=False, flush_interval_s=0.1)

    def all_arrived(src) -> bool:  # every sample sent arrived, or was one of the corrupted frames
        if emu.running:
            return False
        return src.stats["samples"] >= emu.counts["samples_sent"] - emu.fault_summary()["corrupted_frames"]

    try:
        with SerialSource(port, reconnect=False) as src:
            emu.run_pty()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                b = src.get(timeout=0.1)
                if b is not None:
                    rec.write_block(b)
                elif all_arrived(src):
                    break
            for b in src.get_all():
                rec.write_block(b)
            st = src.stats
    finally:
        emu.stop()
        rec.close()
    assert emu.error_ is None and emu.counts["tx_dropped"] == 0
    assert st["queue_drops"] == 0 and st["samples"] == 3000 - emu.fault_summary()["corrupted_frames"], st
    return p, st


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_clean_emulator_link_gives_no_gaps(tmp_path):
    p, st = _record_emulator(tmp_path)
    assert st["frames_lost"] == 0 and st["samples"] == 3000
    with Recording(p) as r:
        assert np.any(np.diff(r.seq.astype(np.int64)) > 1)  # META/STATUS frames took sequence numbers
        assert r.attrs["n_gaps"] == 0 and r.link["gaps"].size == 0


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_lost_frames_in_the_file_equal_the_link_counter(tmp_path):
    p, st = _record_emulator(tmp_path, faults=Faults(bit_flip=0.01, seed=3))
    assert st["frames_lost"] > 0 and st["rejected"] > 0
    with Recording(p) as r:
        assert len(r) == st["samples"]
        assert int(r.link["gaps"]["n_missing"].sum()) == st["frames_lost"]


# -- 3. SerialSource lifecycle ---------------------------------------------------------------------------


def test_iterating_an_unstarted_source_starts_it_and_restart_is_refused():
    t, acc, gyr = _ramp(1000)
    emu = DeviceEmulator(t, acc, gyr, speed=20.0)
    src = SerialSource(emu.run_url(), reconnect=False)
    got = 0
    t0 = time.monotonic()
    for b in src:  # never started: iterating starts it
        got += len(b)
        if got >= 1000 or time.monotonic() - t0 > 10:
            break
    src.stop()
    emu.stop()
    assert got == 1000
    with pytest.raises(RuntimeError, match="stopped and cannot be restarted"):
        src.start()
    rest: list = []
    th = threading.Thread(target=lambda: rest.extend(src), daemon=True)
    th.start()  # a stopped source drains what is still queued and ends, it does not hang
    th.join(timeout=10)
    assert not th.is_alive(), "iterating a stopped source did not end"
    assert got + sum(len(b) for b in rest) <= 1000


# -- 4. the `recording` JSON key: tests/test_cli_stream.py (recording.complete, no gaps on a clean link)


# -- 5. a closed Recording ---------------------------------------------------------------------------------


def test_closed_recording_says_so(tmp_path):
    p = tmp_path / "c.h5"
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(_blk(0.0))
    r = Recording(p)
    assert len(r) == 200 and not r.closed
    r.close()
    assert r.closed and "closed" in repr(r)
    for get in (lambda: r.t, lambda: r.attrs, lambda: len(r), lambda: r.strides, lambda: r.link):
        with pytest.raises(ValueError, match=r"recording .*c\.h5 is closed"):
            get()


# -- 6. a text-format byte log cannot rebuild ---------------------------------------------------------------


def test_text_byte_log_rebuild_says_how_to_read_it(tmp_path):
    p = tmp_path / "txt.h5"
    with Recorder(p) as rec:
        rec.write_block(_blk(0.0))
        lines = "".join(f"{10 * i},0,0,16384,{131 * (i % 5)},0,0\r\n" for i in range(300)).encode()
        rec.write_raw(lines)
    assert raw_log_path(p).read_bytes() == lines
    with pytest.raises(RecordingError, match=r"text-line byte log.*imuwalk detect .*txt\.h5\.imuraw --format text"):
        repair(p, from_raw=True)
    with Recording(p) as r:  # the recording was left alone
        assert len(r) == 200
    cp = _run_cli("repair", str(p), "--from-raw")
    assert cp.returncode == 1 and "--format text" in cp.stderr and "Traceback" not in cp.stderr


# -- 7. not an HDF5 file -------------------------------------------------------------------------------------


def test_csv_is_not_an_hdf5_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("t,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "0.0,0,0,9.81,0,0,0\n" * 50)
    for opener in (Recording, ReplaySource):
        with pytest.raises(RecordingError, match="not an HDF5 file") as ei:
            opener(p)
        assert "repair" not in str(ei.value)


def test_import_and_rebuild_of_a_clean_byte_log_give_no_gaps(tmp_path):
    """A .imuraw log of a clean link (META every second, STATUS frames between the samples) imported or
    rebuilt into HDF5: the numbers of the other frames are no gaps (formats.read_imuraw passes them on)."""
    raw = tmp_path / "clean.imuraw"
    r = _run_cli("emulate", "--out", str(raw), "--duration", "5")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "imported.h5"
    r = _run_cli("import", str(raw), "-o", str(out))
    assert r.returncode == 0, r.stderr
    with Recording(out) as rec:
        assert len(rec) >= 450 and rec.attrs["n_gaps"] == 0 and rec.link["gaps"].size == 0
    rebuilt = tmp_path / "rebuilt.h5"
    rebuilt.with_name("rebuilt.h5.imuraw").write_bytes(raw.read_bytes())
    report = repair(rebuilt, from_raw=True)
    assert report.method == "raw", report  # rebuilt from the byte log
    with Recording(rebuilt) as rec:
        assert rec.complete and rec.attrs["n_gaps"] == 0


def test_check_blocks_false_is_the_live_path_and_records_the_same(tmp_path):
    """check_blocks=False (the live session: its gate already checked the blocks) records exactly what the
    checked path records; the checked path is the default."""
    blocks = [_blk(k * 2.0) for k in range(3)]
    for check in (True, False):
        with Recorder(tmp_path / f"c{check}.h5", raw_log=False, check_blocks=check) as rec:
            assert rec.check_blocks is check
            for b in blocks:
                rec.write_block(b)
    with Recording(tmp_path / "cTrue.h5") as a, Recording(tmp_path / "cFalse.h5") as b:
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.acc, b.acc)
    assert Recorder.__init__.__kwdefaults__["check_blocks"] is True
