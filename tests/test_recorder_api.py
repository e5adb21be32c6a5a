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


# -- 2. a recording's columns and values are kept exactly (review of session 9) -------------------------------

ACC_C, GYR_C = G0 / 2048.0, np.pi / 180.0 / 16.4


def _counts_blk(t0: float, n: int = 200, scale: float = 1.0) -> SampleBlock:
    """A block from a counts device: SI = counts × conversion (× ``scale``: another sensor range)."""
    b = _blk(t0, n)
    ar = np.round(b.acc / (ACC_C * scale)).astype(np.int16)
    gr = np.round(b.gyr / (GYR_C * scale)).astype(np.int16)
    return SampleBlock(b.t, ar * (ACC_C * scale), gr * (GYR_C * scale), acc_raw=ar, gyr_raw=gr)


def test_a_block_without_the_first_blocks_fields_is_refused_and_nothing_is_lost(tmp_path):
    """Mixing blocks with and without raw counts (or seq, ...) once lost the whole recording in the writer
    thread (a concatenate of None) or wrote zeros; now write_block names the field and the recorder goes on."""
    p = tmp_path / "mix.h5"
    first = _counts_blk(0.0)
    with Recorder(p) as rec:
        rec.write_block(first)
        rec.flush()
        plain = _blk(2.0)
        with pytest.raises(ValueError, match=r"^block\.acc_raw: missing \(None\), but the first block of this "
                                             r"recording had them"):
            rec.write_block(plain)
        with pytest.raises(ValueError, match=r"^block\.seq: given, but the first block of this recording had none"):
            rec.write_block(SampleBlock(**{**_counts_blk(2.0).__dict__, "seq": np.arange(200, dtype=np.uint64)}))
        rec.write_block(_counts_blk(2.0))
    with Recording(p) as r:
        assert r.complete and len(r) == 400 and r.data_kind == "counts"
        np.testing.assert_array_equal(r.acc[:200], first.acc)


def test_counts_file_keeps_nan_spikes_and_a_scale_change_exactly(tmp_path):
    """A "counts" file stores each block's own counts; samples whose SI values are not counts × conversion
    (NaN from the source, a spike beyond int16, a new sensor range) keep their exact SI values in
    /imu/si_override, so replay gives the detector what the live run gave it (once NaN became 0 m/s² and a
    400 m/s² spike wrapped around int16, silently)."""
    p = tmp_path / "exact.h5"
    a, b, c = _counts_blk(0.0), _counts_blk(2.0), _counts_blk(4.0, scale=2.0)  # c: a range twice as large
    b.acc[10:20] = np.nan
    b.acc[30] = [400.0, 0.0, 0.0]
    with Recorder(p) as rec:
        for blk in (a, b, c):
            rec.write_block(blk)
            rec.flush()
    want_acc = np.concatenate([a.acc, b.acc, c.acc])
    want_gyr = np.concatenate([a.gyr, b.gyr, c.gyr])
    with Recording(p) as r:
        assert r.data_kind == "counts"
        np.testing.assert_array_equal(r.acc, want_acc)  # NaN in the same places, every bit
        np.testing.assert_array_equal(r.gyr, want_gyr)
        np.testing.assert_array_equal(r.acc_raw, np.concatenate([a.acc_raw, b.acc_raw, c.acc_raw]))
        blk = r.block(150, 450)
        np.testing.assert_array_equal(blk.acc, want_acc[150:450])
        stats = r.attrs["recorder_stats"]
        assert stats["si_mismatch_samples"] == 11 + 200  # 10 NaN + 1 spike + the 200 samples of the new range
    with h5py.File(p) as f:
        assert f["imu/si_override"].shape == (211,)


def test_float32_first_block_does_not_round_later_float64_blocks(tmp_path):
    p = tmp_path / "f32.h5"
    a = _blk(0.0)
    a32 = SampleBlock(a.t, a.acc.astype(np.float32), a.gyr.astype(np.float32))
    b = _blk(2.0)
    b.gyr[:, 1] += 1e-9  # not representable in float32
    with Recorder(p) as rec:
        rec.write_block(a32)
        rec.write_block(b)
    with Recording(p) as r:
        assert r.data_kind == "si"
        np.testing.assert_array_equal(r.gyr[200:], b.gyr)
        np.testing.assert_array_equal(r.gyr[:200], a32.gyr.astype(np.float64))


def test_a_stale_byte_log_is_not_appended_to(tmp_path):
    """X.h5 gone but X.h5.imuraw left from an earlier session: a new recording X.h5 once appended to that log,
    and `repair --from-raw` then rebuilt both sessions as one. Now it is refused; overwrite=True replaces it."""
    p = tmp_path / "again.h5"
    raw_log_path(p).write_bytes(b"an earlier session's bytes")
    with pytest.raises(FileExistsError, match=r"byte log .*again\.h5\.imuraw of an earlier recording already exists"):
        Recorder(p)
    assert not p.exists() and raw_log_path(p).read_bytes() == b"an earlier session's bytes"
    with Recorder(p, overwrite=True) as rec:
        rec.write_raw(b"new")
        rec.write_block(_blk(0.0))
    assert raw_log_path(p).read_bytes() == b"new"


def _wire_session(p: Path) -> None:
    """A recording made from wire bytes (META + samples), its byte log beside it."""
    from imuwalk.sources import protocol as proto
    from imuwalk.sources.formats import read_imuraw

    meta = proto.DeviceMeta(odr_hz=100.0, uid=7, imu_model=1)
    rng = np.random.default_rng(2)
    n = 600
    t_us = (np.arange(n) * 10_000).astype(np.int64)
    data = proto.encode_meta(0, meta) + proto.encode_samples(
        1, t_us, rng.integers(-3000, 3000, (n, 3)).astype(np.int16), rng.integers(-3000, 3000, (n, 3)).astype(np.int16))
    tmp = p.with_name("wire.imuraw")
    tmp.write_bytes(data)
    block = read_imuraw(tmp)
    with Recorder(p, meta=meta) as rec:
        rec.write_raw(data)
        rec.write_block(block)


def test_a_second_repair_keeps_the_first_backup(tmp_path):
    """The first repair keeps the original as X.bak; a second one once replaced that only copy."""
    p = tmp_path / "twice.h5"
    _wire_session(p)
    original = p.read_bytes()
    rep1 = repair(p, from_raw=True)
    rep2 = repair(p, from_raw=True)
    assert rep1.backup == tmp_path / "twice.h5.bak" and rep2.backup == tmp_path / "twice.h5.bak.1"
    assert rep1.backup.read_bytes() == original
    with Recording(p) as r:
        assert len(r) == 600


def test_a_file_that_is_not_hdf5_is_left_alone_or_rebuilt_from_its_log(tmp_path):
    """repair of a CSV (or an empty .h5) without a byte log: one clear error, the file untouched, no .bak
    (h5clear once wrote an 800-byte HDF5 file over an empty one). With a byte log: rebuilt, original kept."""
    csv = tmp_path / "s.csv"
    csv.write_text("t,ax\n0,1\n")
    with pytest.raises(RecordingError, match=r"cannot repair .*s\.csv: it is not an HDF5 file .*no raw log"):
        repair(csv)
    assert csv.read_text() == "t,ax\n0,1\n"
    empty = tmp_path / "e.h5"
    empty.touch()
    with pytest.raises(RecordingError, match=r"it is empty, so not an imuwalk recording"):
        repair(empty)
    assert empty.stat().st_size == 0 and not list(tmp_path.glob("*.bak*"))
    with pytest.raises(RecordingError, match=r"it is a folder, not a recording"):
        repair(tmp_path)
    p = tmp_path / "w.h5"
    _wire_session(p)
    p.write_bytes(b"")  # the HDF5 file lost, its byte log intact
    rep = repair(p)
    assert rep.method == "raw" and rep.backup is not None and rep.backup.stat().st_size == 0
    with Recording(p) as r:
        assert len(r) == 600


def test_from_raw_without_a_log_says_so(tmp_path):
    p = tmp_path / "nolog.h5"
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(_blk(0.0))
    with pytest.raises(RecordingError, match=r"cannot rebuild .*nolog\.h5 from its raw log: .*does not exist"):
        repair(p, from_raw=True)
