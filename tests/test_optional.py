"""Optional dependencies: a missing extra gives one clear error naming the package and the pip line.

A module is made missing by putting None in ``sys.modules`` (what Python does for a blocked import:
``import h5py`` then raises ModuleNotFoundError with ``name='h5py'``), so the real code paths run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from imuwalk._optional import EXTRAS, MissingOptionalDependency, missing_hint, require

REPO = Path(__file__).resolve().parents[1]


def _cli(capsys, *args):
    from imuwalk.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    assert require("numpy", "x") is np
    monkeypatch.setitem(sys.modules, "h5py", None)
    msg = r"^reading HDF5 files needs h5py: pip install 'imuwalk\[hdf5\]'$"
    with pytest.raises(MissingOptionalDependency, match=msg):
        require("h5py", "reading HDF5 files")
    with pytest.raises(ImportError):  # still an ImportError for code that catches those
        require("h5py", "reading HDF5 files")
    # a module imuwalk does not know is not dressed up: the plain error
    with pytest.raises(ModuleNotFoundError) as exc:
        require("no_such_module_imuwalk_test", "x")
    assert not isinstance(exc.value, MissingOptionalDependency)
    assert missing_hint(exc.value) is None
    hint = missing_hint(ModuleNotFoundError("x", name="serial.tools"))
    assert hint == "needs pyserial: pip install 'imuwalk[serial]'"
    assert missing_hint(ValueError("h5py")) is None


def test_every_named_extra_exists_in_pyproject_and_installs_the_package():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for module, (package, extra) in EXTRAS.items():
        assert extra in extras, (module, extra)
        names = [re.split(r"[<>=\[ ]", req, maxsplit=1)[0].lower() for req in extras[extra]]
        assert package.split("[")[0].lower() in names, (module, package, extra, extras[extra])


def test_recording_and_recorder_without_h5py_say_which_extra(monkeypatch, tmp_path):
    pytest.importorskip("h5py")
    import imuwalk

    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"needs h5py: pip install 'imuwalk\[hdf5\]'"):
        imuwalk.Recorder(tmp_path / "a.h5")
    with pytest.raises(ImportError, match=r"needs h5py: pip install 'imuwalk\[hdf5\]'"):
        imuwalk.Recording(tmp_path / "a.h5")
    assert not (tmp_path / "a.h5").exists()


def test_cli_commands_name_the_missing_extra_in_one_line(monkeypatch, capsys, tmp_path):
    pytest.importorskip("h5py")
    from imuwalk.sinks.hdf5 import Recorder
    from imuwalk.sources.block import SampleBlock
    from imuwalk.sources.gaitgen import generate_walk

    w = generate_walk(segments=[(1.0, "still"), (6.0, "forward")], rate_hz=100.0, placement="shank", seed=1)
    path = tmp_path / "walk.h5"
    with Recorder(path, raw_log=False, placement="shank") as rec:
        rec.write_block(SampleBlock(w.t, w.acc, w.gyr))
    h5py = sys.modules["h5py"]  # imported by the Recorder; h5py cannot be imported twice in one process
    monkeypatch.setitem(sys.modules, "h5py", None)
    for args in (["detect", path], ["repair", path]):
        code, out, err = _cli(capsys, *args)
        assert code == 1 and out == "", (args, err)
        assert err.count("\n") == 1 and "needs h5py: pip install 'imuwalk[hdf5]'" in err, (args, err)
        assert err.startswith(f"imuwalk {args[0]}: error:"), err
    monkeypatch.setitem(sys.modules, "serial", None)
    monkeypatch.setitem(sys.modules, "serial.tools", None)
    monkeypatch.setitem(sys.modules, "serial.tools.list_ports", None)
    code, out, err = _cli(capsys, "ports")
    assert code == 1 and err == "imuwalk ports: error: ports needs pyserial: pip install 'imuwalk[serial]'\n"
    # the file itself is untouched by the failed commands
    monkeypatch.setitem(sys.modules, "h5py", h5py)
    import imuwalk

    with imuwalk.Recording(path) as r:
        assert len(r) == len(w.t)


def test_serial_source_without_pyserial_says_so(monkeypatch):
    from imuwalk.sources.serial import SerialSource

    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(ImportError, match=r"SerialSource .* needs pyserial: pip install 'imuwalk\[serial\]'"):
        SerialSource("/dev/ttyUSB9").start()


def test_command_prechecks_name_the_extra_before_any_work(monkeypatch, capsys, tmp_path):
    """demo, stream and report check their optional packages first (through require), with the command's
    extra: the same one-line error and exit 1 as before, and no file written."""
    monkeypatch.setitem(sys.modules, "serial", None)
    code, out, err = _cli(capsys, "stream", "--port", "/dev/ttyUSB9", "--record", tmp_path / "s.h5")
    assert (code, out) == (1, "")
    assert err == "imuwalk stream: error: stream needs pyserial: pip install 'imuwalk[cli]'\n"
    code, out, err = _cli(capsys, "demo", "--record", tmp_path / "d.h5", "--json")
    assert code == 1 and "demo needs " in err and "pip install 'imuwalk[cli]'" in err, err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = _cli(capsys, "report", tmp_path / "missing.csv", "-o", tmp_path / "r.png")
    assert code == 1 and err == "imuwalk report: error: report needs matplotlib: pip install 'imuwalk[plot]'\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MissingOptionalDependency, match=r"^x needs pyserial: pip install 'imuwalk\[cli\]'$"):
        require("serial", "x", extra="cli")
