"""``--param NAME=VALUE``: detector parameter overrides on the command line (detect, report, evaluate;
stream in test_cli_stream.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_cli_usability import cli, walk, write_csv  # noqa: F401  (walk is a fixture)

import imuwalk
from imuwalk.cli.main import UsageError
from imuwalk.cli.params import parse_params
from imuwalk.sources.formats import read_file


def test_parse_params_converts_and_checks_against_the_detector():
    assert parse_params(None) == {}
    assert parse_params(["gap_s=0.5", " metric = width ", "first_min_peak_rads=1.5"], ("shank", "foot")) == {
        "gap_s": 0.5, "metric": "width", "first_min_peak_rads": 1.5}


@pytest.mark.parametrize(("values", "needle"), [
    (["gap_s"], "--param: expected NAME=VALUE, got 'gap_s'"),
    (["=1"], "expected NAME=VALUE"),
    (["gap_s="], "expected NAME=VALUE"),
    (["gap=0.5"], "--param gap: not a detector parameter; did you mean gap_s"),
    (["zzzz=1"], "known: "),
    (["gap_s=fast"], "--param gap_s: expected a number, got 'fast'"),
    (["gap_s=0_5"], "--param gap_s: expected a number, got '0_5'"),
    (["gap_s=0.5", "gap_s=0.6"], "--param gap_s: given twice"),
    (["gap_s=-1"], "--param gap_s: expected a finite non-negative value"),
    (["metric=round"], "--param metric: expected 'peak', 'width' or 'sharpness'"),
    (["hyst_rads=0"], "--param hyst_rads: must be > 0"),
])
def test_parse_params_refuses_bad_items_naming_them(values, needle):
    with pytest.raises(UsageError) as e:
        parse_params(values, ("shank", "foot"))
    assert needle in str(e.value)


def test_detect_csv_with_params_equals_the_api(capsys, tmp_path, walk):  # noqa: F811
    path = write_csv(tmp_path / "w.csv", walk)
    blk = read_file(path)
    params = {"ic_offset_s": 0.05, "first_min_peak_rads": 6.0}
    want = imuwalk.detect_steps(blk.t, blk.acc, blk.gyr, placement="shank", **params).events
    default = imuwalk.detect_steps(blk.t, blk.acc, blk.gyr, placement="shank").events
    assert len(want) != len(default) or not np.array_equal(want["t_ic"], default["t_ic"])  # the params matter
    code, out, err = cli(capsys, "detect", path, "--json", "--param", "ic_offset_s=0.05",
                         "--param", "first_min_peak_rads=6")
    assert code == 0, err
    doc = json.loads(out)
    assert [s["t_ic"] for s in doc["strides"]] == pytest.approx(list(want["t_ic"]), abs=1e-9)
    assert doc["source"]["detector_params"] == params
    code, out, _ = cli(capsys, "detect", path, "--json")
    assert "detector_params" not in json.loads(out)["source"]


def test_detect_report_evaluate_refuse_a_bad_param_before_reading(capsys, tmp_path):
    missing = tmp_path / "does-not-exist.csv"
    for args in (["detect", missing], ["report", missing, "-o", tmp_path / "r.png"], ["evaluate", "ipol"]):
        code, out, err = cli(capsys, *args, "--param", "max_swing=1")
        assert code == 2, (args, err)
        assert "--param max_swing: not a detector parameter; did you mean max_swing_s" in err
        assert out == ""


def _recording(path, session_json=None, session=None):
    """A finalized recording of a generated 8-s forward walk with the given session attributes (or a raw
    ``session_json`` string written over them)."""
    from imuwalk.sinks.hdf5 import Recorder
    from imuwalk.sources.block import SampleBlock
    from imuwalk.sources.gaitgen import generate_walk

    w = generate_walk(segments=[(1.0, "still"), (8.0, "forward")], rate_hz=100.0, placement="shank", seed=2)
    with Recorder(path, raw_log=False, placement="shank", session=session) as rec:
        rec.write_block(SampleBlock(w.t, w.acc, w.gyr))
    if session_json is not None:
        import h5py

        with h5py.File(path, "r+") as f:
            f.attrs["session_json"] = session_json
    return path


def test_detect_refuses_unusable_stored_params_in_one_line(capsys, tmp_path):
    pytest.importorskip("h5py")
    p = _recording(tmp_path / "bad.h5", session={"detector_params": {"gap_s": -1.0}})
    code, out, err = cli(capsys, "detect", p, "--json")
    assert code == 1 and out == ""
    assert f"cannot replay {p}: its stored detector_params are not usable (gap_s: " in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = cli(capsys, "detect", p, "--json", "--param", "gap_s=0.3")  # the option replaces it
    assert code == 0, err
    assert json.loads(out)["source"]["detector_params"] == {"gap_s": 0.3}


def test_detect_replays_with_defaults_and_a_warning_when_the_session_attribute_is_damaged(capsys, tmp_path):
    pytest.importorskip("h5py")
    p = _recording(tmp_path / "dmg.h5", session_json="{not json")
    code, out, err = cli(capsys, "detect", p, "--json")
    assert code == 0, err
    assert len(json.loads(out)["strides"]) >= 5
    assert "warning" in err and "session_json is not valid JSON" in err and "default detector parameters" in err


def test_detect_refuses_stored_params_that_are_no_detector_parameters(capsys, tmp_path):
    pytest.importorskip("h5py")
    p = _recording(tmp_path / "odd.h5", session={"detector_params": {"axis_map": "x,y,z"}})
    code, out, err = cli(capsys, "detect", p)
    assert code == 1 and out == ""
    assert "its stored detector_params are not usable (unknown detector parameter(s): ['axis_map']" in err
    p = _recording(tmp_path / "list.h5", session={"detector_params": [1, 2]})
    code, _, err = cli(capsys, "detect", p)
    assert code == 1 and "are not a name -> value table" in err


def test_live_session_checks_detector_params_before_the_port_is_opened(tmp_path):
    from imuwalk.cli.main import CliError
    from imuwalk.cli.session import LiveSession

    opened = []
    sess = LiveSession("/dev/does-not-exist", detector_params={"max_swing_s": -1.0},
                       on_open=lambda: opened.append(1), display="none")
    with pytest.raises(CliError, match=r"^detector_params: max_swing_s: expected a finite non-negative"):
        sess.run(timeout_s=1.0)
    assert opened == []


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_a_silent_device_gets_the_baud_hint(tmp_path):
    """A device that sends no imuwalk frame (here: garbage, as at a wrong baud rate) gets a hint naming
    the baud rate in use and the Arduino sketch's 115200."""
    pytest.importorskip("serial")
    import tty

    from imuwalk.cli.session import LiveSession

    m, s = os.openpty()
    tty.setraw(s)
    logs: list[str] = []
    try:
        os.write(m, bytes(range(1, 200)) * 5)  # no 0x00 delimiter: never a frame
        sess = LiveSession(os.ttyname(s), baud=921600, display="none", announce=False, meta_notice_s=0.2,
                           log=lambda msg, level=0: logs.append(msg))
        sess.run(timeout_s=1.5)
    finally:
        os.close(m)
        os.close(s)
    hint = [x for x in logs if "no META frame yet" in x]
    assert hint and "at 921600 baud" in hint[0] and "--baud 115200" in hint[0], logs
