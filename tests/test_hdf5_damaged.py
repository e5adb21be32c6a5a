"""Recordings with non-increasing times or hand-damaged contents: read with the bad samples skipped, or
refused with one clear error naming the file and what is wrong."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from imuwalk.cli.main import main  # noqa: E402
from imuwalk.core.detector import detect_steps  # noqa: E402
from imuwalk.sinks.hdf5 import Recorder, Recording, RecordingError, repair  # noqa: E402
from imuwalk.sources.block import SampleBlock  # noqa: E402
from imuwalk.sources.gaitgen import generate_walk  # noqa: E402


def _record(path: Path, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, per: int = 250) -> None:
    rec = Recorder(path, placement="shank", mount={"source": "auto"}, raw_log=False, flush_interval_s=0.05)
    for i in range(0, t.shape[0], per):
        rec.write_block(SampleBlock(t=t[i:i + per], acc=acc[i:i + per], gyr=gyr[i:i + per]))
    rec.close()


def _record_legacy(path: Path, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
    """A finalized file with times a recorder of imuwalk < 0.1.1 stored (repeated, backwards): today's
    Recorder refuses such blocks, so the times are written into the finished file afterwards."""
    _record(path, np.arange(t.shape[0]) / 100.0, acc, gyr)
    with h5py.File(path, "a") as f:
        f["imu/t"][:] = t


@pytest.fixture(scope="module")
def walk():
    return generate_walk(rate_hz=100.0, placement="shank", segments=[(1.0, "still"), (11.0, "forward")], seed=2)


@pytest.fixture()
def good(tmp_path, walk):
    p = tmp_path / "good.h5"
    _record(p, walk.t, walk.acc, walk.gyr)
    return p


def test_non_increasing_times_are_skipped_with_a_warning_and_detect_report_work(tmp_path, walk, caplog, capsys):
    # what `imuwalk stream --format text` recorded before the fix: repeated and backward times
    t = walk.t.copy()
    bad = np.zeros(t.shape[0], bool)
    t[300:305] = t[299]  # a stamp repeated 5 times
    bad[300:305] = True
    t[700:720] = t[700:720] - 0.5  # a clock step backwards
    bad[700:720] = t[700:720] <= t[699]
    p = tmp_path / "dup.h5"
    _record_legacy(p, t, walk.acc, walk.gyr)
    keep = ~bad
    with caplog.at_level(logging.WARNING, logger="imuwalk.hdf5"), Recording(p) as r:
        assert r.complete and len(r) == int(keep.sum()) and r.dropped_samples == int(bad.sum())
        assert np.array_equal(r.t, t[keep]) and np.array_equal(r.acc, walk.acc[keep])
        assert np.array_equal(r.gyr, walk.gyr[keep])
        blk = r.block(250, 800)
        assert np.array_equal(blk.t, t[keep][250:800]) and np.array_equal(blk.gyr, walk.gyr[keep][250:800])
        assert np.all(np.diff(np.concatenate([b.t for b in r.iter_blocks(97)])) > 0)
    assert str(p) in caplog.text and f"{int(bad.sum())} of {t.shape[0]} samples skipped" in caplog.text
    ref = detect_steps(t[keep], walk.acc[keep], walk.gyr[keep], placement="shank").events
    assert ref.size >= 8
    capsys.readouterr()
    assert main(["detect", str(p), "--json"]) == 0  # before the fix: "timestamps must be strictly increasing"
    import json

    doc = json.loads(capsys.readouterr().out)
    assert [s["t_ic"] for s in doc["strides"]] == pytest.approx(ref["t_ic"].tolist(), abs=1e-9)
    assert repair(p).method == "none"  # finalized: nothing to repair, and it reads
    if importlib.util.find_spec("matplotlib") is not None:
        assert main(["report", str(p), "-o", str(tmp_path / "dup.png")]) == 0
        assert (tmp_path / "dup.png").stat().st_size > 1000


def test_all_repeated_stamps_like_the_killed_text_stream(tmp_path, walk, capsys):
    # /tmp/qa/st8.h5: 10 samples of a 1-s clock, times 0,0,0,0,0,0,1,1,1,1
    t = np.r_[np.zeros(6), np.ones(4)]
    p = tmp_path / "st8.h5"
    _record_legacy(p, t, walk.acc[:10], walk.gyr[:10])
    with Recording(p) as r:
        assert len(r) == 2 and np.array_equal(r.t, [0.0, 1.0]) and r.dropped_samples == 8
    assert main(["detect", str(p)]) == 0


def _one_line_error(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_missing_acc_dataset_names_the_file(good, capsys):
    with h5py.File(good, "a") as f:
        del f["imu/acc"]
    with pytest.raises(RecordingError, match=r"good\.h5 is damaged: the dataset imu/acc is missing"):
        Recording(good)
    line = _one_line_error(capsys, ["detect", str(good)])
    assert str(good) in line and "imu/acc is missing" in line and "KeyError" not in line


def test_corrupt_mount_json_names_the_file_and_attribute(good, capsys):
    with h5py.File(good, "a") as f:
        f.attrs["mount_json"] = "{bad"
    with Recording(good) as r, pytest.raises(RecordingError, match=r"good\.h5 is damaged: attribute mount_json"):
        _ = r.mount
    line = _one_line_error(capsys, ["detect", str(good)])
    assert str(good) in line and "mount_json is not valid JSON" in line


def test_nan_time_names_the_file_and_the_right_sample(good, capsys):
    with h5py.File(good, "a") as f:
        f["imu/t"][500] = np.nan
    with Recording(good) as r, pytest.raises(RecordingError, match=r"good\.h5 is damaged: timestamp imu/t\[500\]"):
        len(r)
    line = _one_line_error(capsys, ["detect", str(good)])
    assert str(good) in line and "imu/t[500]" in line and "index 0" not in line


def test_wrong_shape_and_lengths(good, caplog):
    with h5py.File(good, "a") as f:
        t = f["imu/t"][()]
        del f["imu/t"]
        f.create_dataset("imu/t", data=t[:500])  # shorter than the other columns
    with caplog.at_level(logging.WARNING, logger="imuwalk.hdf5"), Recording(good) as r:
        assert len(r) == 500
    assert "different lengths" in caplog.text and str(good) in caplog.text
    with h5py.File(good, "a") as f:
        del f["imu/gyr"]
        f.create_dataset("imu/gyr", data=np.zeros((500, 2)))
    with pytest.raises(RecordingError, match=r"imu/gyr has shape \(500, 2\)"):
        Recording(good)
