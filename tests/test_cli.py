"""The CLI as a user meets it: subprocesses, exit codes, one-line errors, help texts, documented contract."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imuwalk(*args: str, cwd=None, timeout=120, env_extra=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "imuwalk.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=env, timeout=timeout)


def assert_one_line_error(p: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip().splitlines()
    assert "Traceback" not in p.stderr
    assert len(err) == 1, p.stderr
    for n in needles:
        assert n in err[0], err[0]


def test_top_level_help_lists_commands():
    p = imuwalk("--help")
    assert p.returncode == 0
    for cmd in ("demo", "detect", "report"):
        assert re.search(rf"^\s+{cmd}\s", p.stdout, re.M), f"{cmd} missing from --help:\n{p.stdout}"
    assert "exit codes" in p.stdout


@pytest.mark.parametrize("cmd", ["demo", "detect", "report"])
def test_command_help_has_examples(cmd):
    p = imuwalk(cmd, "--help")
    assert p.returncode == 0, p.stderr
    assert "examples:" in p.stdout and f"imuwalk {cmd}" in p.stdout


def test_usage_errors_exit_2():
    assert imuwalk().returncode == 2
    p = imuwalk("detect")  # missing FILE: one line (docs/CLI.md conventions), not argparse's usage block
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.splitlines() == ["imuwalk detect: error: the following arguments are required: FILE "
                                     "(see imuwalk detect --help)"], p.stderr
    p = imuwalk("report", "x.h5")  # missing -o
    assert p.returncode == 2 and "-o" in p.stderr
    p = imuwalk("detect", "x.h5", "--json", "--csv")
    assert p.returncode == 2 and "not allowed with" in p.stderr
    p = imuwalk("detect", "x.h5", "--goal", "-3")
    assert p.returncode == 2 and "--goal" in p.stderr
    p = imuwalk("nosuchcommand")
    assert p.returncode == 2


def test_report_bad_output_suffix_is_usage_error(tmp_path):
    p = imuwalk("report", str(tmp_path / "x.h5"), "-o", str(tmp_path / "r.jpg"))
    assert_one_line_error(p, 2, "--output", ".png")


def test_unreadable_files_exit_1_with_one_line(tmp_path):
    p = imuwalk("detect", str(tmp_path / "missing.h5"))
    assert_one_line_error(p, 1, "missing.h5", "no such file")
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"this is not an HDF5 file at all" * 10)
    p = imuwalk("detect", str(bad))
    assert_one_line_error(p, 1, "imuwalk detect: error:", "broken.h5")
    p = imuwalk("report", str(bad), "-o", str(tmp_path / "r.png"))
    assert_one_line_error(p, 1, "imuwalk report: error:", "broken.h5")
    assert not (tmp_path / "r.png").exists()
    # --debug shows the traceback instead
    p = imuwalk("--debug", "detect", str(bad))
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_docs_cli_documents_every_json_key():
    from imuwalk.core.rows import STRIDE_DTYPE
    from imuwalk.core.summary import summarize

    sys.path.insert(0, str(Path(__file__).parent))
    from test_summary import make_rows

    doc = (REPO / "docs" / "CLI.md").read_text()
    for name in STRIDE_DTYPE.names:
        assert f"`{name}`" in doc, f"stride key {name} not documented in docs/CLI.md"
    s = summarize(make_rows([(1, 5, 1.0, 0.0), (-1, 5, 1.0, 0.0)])).to_dict()
    for key in s:
        assert f"`{key}`" in doc, f"summary key {key} not documented in docs/CLI.md"
    for key in s["bouts"][0]:
        assert f"`{key}`" in doc, f"bout key {key} not documented in docs/CLI.md"


def _ximu_file():
    from conftest import require_data

    return require_data("xio_ximu_foot_raw_binary", "straightLine.BIN")


def test_detect_real_ximu_file_json_csv_table(tmp_path):
    import json

    path = _ximu_file()
    p = imuwalk("detect", str(path), "--placement", "foot", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)  # stdout is exactly one JSON document
    assert doc["schema"] == "imuwalk.result/1"
    n = len(doc["strides"])
    assert 12 <= n <= 14, n  # a straight walk of ~25 s: 13 strides
    from imuwalk import detect_steps
    from imuwalk.sources.formats import read_file

    blk = read_file(path)  # the CLI gives exactly what the library gives on the same file
    want = detect_steps(blk.t, blk.acc, blk.gyr, placement="foot").events
    assert [s["t_ic"] for s in doc["strides"]] == list(want["t_ic"])
    sm = doc["summary"]
    assert sm["strides"] == n and sm["steps_forward"] + sm["steps_backward"] + sm["steps_other"] == 2 * n
    assert doc["source"]["format"] == "ximu" and doc["source"]["placement"] == "foot"
    assert all(s["t_ic"] > s["t_fc"] for s in doc["strides"])

    p = imuwalk("detect", str(path), "--placement", "foot", "--csv", "-q")
    assert p.returncode == 0 and p.stderr == ""
    lines = p.stdout.strip().splitlines()
    assert lines[0].startswith("t_ic,t_fc,") and len(lines) == n + 1

    p = imuwalk("detect", str(path), "--placement", "foot")
    assert p.returncode == 0
    assert "Forward" in p.stdout and "Backward" in p.stdout and "Goal" in p.stdout
    assert len([ln for ln in p.stdout.splitlines() if re.match(r"\s+\d+\s+\d+\.\d{3}", ln)]) == n


def test_report_real_ximu_file_png(tmp_path):
    import matplotlib.image as mpimg

    out = tmp_path / "x.png"
    p = imuwalk("report", str(_ximu_file()), "--placement", "foot", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "report written" in p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)[..., :3]
    assert img.shape[0] > 800 and img.shape[1] > 1000 and img.std() > 0.05
    p = imuwalk("report", str(_ximu_file()), "-o", str(out))
    assert_one_line_error(p, 1, "already exists", "--force")


def test_detect_and_report_take_mount_for_a_backward_only_session(tmp_path):
    """A mostly backward session recorded without a mount (a retro treadmill workout started without --mount,
    or a CSV): the automatic mode calls the dominant swing forward, so its backward minutes came out 0 and
    detect/report had no way to correct it. --mount overrides the stored/automatic mount (review, session 9)."""
    import json

    import numpy as np

    from imuwalk.sinks.hdf5 import Recorder
    from imuwalk.sources.block import SampleBlock
    from imuwalk.sources.gaitgen import generate_walk

    w = generate_walk(segments=[(1.0, "still"), (40.0, "backward"), (1.0, "still")], rate_hz=100.0,
                      placement="shank", seed=4)
    right = "+y"  # gaitgen's leg frame: y right; no mount rotation by default
    h5 = tmp_path / "retro.h5"
    with Recorder(h5, placement="shank", raw_log=False) as rec:  # no mount stored
        rec.write_block(SampleBlock(w.t, w.acc, w.gyr))
    csv = tmp_path / "retro.csv"
    np.savetxt(csv, np.column_stack([w.t, w.acc, w.gyr]), delimiter=",", header="t,ax,ay,az,gx,gy,gz", comments="")
    for f in (h5, csv):
        auto = json.loads(imuwalk("detect", str(f), "--json").stdout)["summary"]
        given = imuwalk("detect", str(f), "--json", "--mount", right)
        assert given.returncode == 0, given.stderr
        doc = json.loads(given.stdout)
        assert auto["backward_minutes"] < 0.1 < doc["summary"]["backward_minutes"]
        assert doc["summary"]["strides_backward"] >= 0.9 * len(w.ic)
        assert doc["source"]["mount"]["right"] == [0.0, 1.0, 0.0] and doc["source"]["mount"]["source"] == "given"
    p = imuwalk("report", str(h5), "-o", str(tmp_path / "r.png"), "--mount", right)
    assert p.returncode == 0 and (tmp_path / "r.png").stat().st_size > 0, p.stderr
    assert_one_line_error(imuwalk("detect", str(h5), "--mount", "up"), 2, "--mount: expected one of +x")
