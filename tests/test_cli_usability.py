"""CLI usability defects found in QA: implausible units, --rate vs a time column, overwriting, all-NaN
and binary inputs, usage errors (exit 2) naming the option, CLI spellings in messages, log noise,
import output checks, format labels and the evaluate table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import require_data
from test_cli import assert_one_line_error, imuwalk

from imuwalk.cli.main import main
from imuwalk.units import DEG2RAD, G0

REPO = Path(__file__).resolve().parent.parent


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def walk():
    from imuwalk.sources.emulator import default_walk

    return default_walk(100.0, 30.0, "shank", 0)


def write_counts_log(path: Path, w, with_time: bool = True) -> Path:
    """MPU-6050 raw counts (16384 LSB/g, 131 LSB/(°/s)) as an unlabelled text log, like Steps21.txt."""
    acc = np.round(w.acc / G0 * 16384.0).astype(int)
    gyr = np.round(w.gyr / DEG2RAD * 131.0).astype(int)
    rows = []
    for i in range(len(w.t)):
        vals = ",".join(str(v) for v in (*acc[i], *gyr[i]))
        rows.append(f"{w.t[i]:.4f},{vals}" if with_time else vals)
    path.write_text("\n".join(rows) + "\n")
    return path


def write_csv(path: Path, w, time: bool = True, acc_scale: float = 1.0) -> Path:
    head = ("t," if time else "") + "acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z"
    rows = [",".join(f"{v:.6g}" for v in ((w.t[i],) if time else ()) + (*(w.acc[i] * acc_scale), *w.gyr[i]))
            for i in range(len(w.t))]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------ 1. raw counts are not read as g


def test_raw_counts_read_as_g_are_refused_with_the_fix(capsys, tmp_path, walk):
    log = write_counts_log(tmp_path / "ankle.txt", walk)
    for cmd in (["detect", log], ["report", log, "-o", tmp_path / "r.png"], ["import", log, "-o", tmp_path / "i.h5"]):
        code, out, err = cli(capsys, *cmd)
        assert code == 1, (cmd, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "ankle.txt" in err and "median |acc|" in err and "--preset mpu6050" in err, err
        assert out == ""
    assert not (tmp_path / "r.png").exists() and not (tmp_path / "i.h5").exists()
    code, out, err = cli(capsys, "detect", log, "--preset", "mpu6050", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert abs(len(doc["strides"]) - len(walk.ic)) <= 3, (len(doc["strides"]), len(walk.ic))


def test_milder_unit_doubt_is_a_warning_on_stderr_not_in_stdout(capsys, tmp_path, walk):
    csv = write_csv(tmp_path / "si.csv", walk)  # m/s² values ...
    code, out, err = cli(capsys, "detect", csv, "--acc-unit", "g", "--json")  # ... declared as g
    assert code == 0, err
    doc = json.loads(out)  # stdout stays one JSON document
    assert "warning" in err and "--acc-unit m/s2" in err, err
    assert any("median |acc|" in w for w in doc["source"]["warnings"])
    code, out, err = cli(capsys, "detect", csv, "--json")  # plausible: no warning, no key
    assert code == 0 and err == "" and "warnings" not in json.loads(out)["source"]


@pytest.mark.realdata
def test_real_mpu6050_log_without_preset_is_refused():
    p = require_data("ankle_mpu6050_fsr_steplog", "Steps21.txt")
    r = imuwalk("detect", str(p))
    assert_one_line_error(r, 1, "Steps21.txt", "median |acc|", "--preset mpu6050")
    r = imuwalk("detect", str(p), "--preset", "mpu6050", "--json")
    assert r.returncode == 0, r.stderr
    assert 17 <= len(json.loads(r.stdout)["strides"]) <= 24  # 21 foot contacts in the step log


# ------------------------------------------------------------------ 2. --rate vs a time column


def test_rate_for_a_file_with_time_column_is_a_usage_error(capsys, tmp_path, walk):
    csv = write_csv(tmp_path / "timed.csv", walk)
    code, out, err = cli(capsys, "detect", csv, "--rate", "50")
    assert code == 2 and "--rate" in err and "time column" in err, err
    code, out, err = cli(capsys, "import", csv, "-o", tmp_path / "x.h5", "--rate-hz", "50")
    assert code == 2 and "--rate-hz" in err and "time column" in err, err
    assert not (tmp_path / "x.h5").exists()
    # without a time column --rate is what sets the time base
    bare = write_csv(tmp_path / "bare.csv", walk, time=False)
    code, out, err = cli(capsys, "detect", bare, "--rate", "50", "--json")
    assert code == 0, err
    assert json.loads(out)["source"]["duration_s"] == pytest.approx((len(walk.t) - 1) / 50.0)


def test_rate_replaces_an_unusable_time_column_with_a_warning(capsys, tmp_path, walk):
    csv = write_csv(tmp_path / "back.csv", walk)
    lines = csv.read_text().splitlines()
    lines[100] = "0" + lines[100][lines[100].index(","):]  # the clock jumps back
    csv.write_text("\n".join(lines) + "\n")
    code, out, err = cli(capsys, "detect", csv)
    assert code == 1 and "goes backwards" in err and "--rate" in err, err
    code, out, err = cli(capsys, "detect", csv, "--rate", "100", "--json")
    assert code == 0 and "warning" in err and "using --rate 100" in err, err


# ------------------------------------------------------------------ 3. emulate --out refuses to overwrite


def test_emulate_out_refuses_to_overwrite_without_force(capsys, tmp_path):
    out = tmp_path / "e.imuraw"
    args = ["emulate", "--out", out, "--duration", "4", "--rate", "50"]
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    size = out.stat().st_size
    out.write_bytes(b"keep me")
    code, _, err = cli(capsys, *args)
    assert code == 1 and "already exists" in err and "--force" in err, err
    assert out.read_bytes() == b"keep me"
    code, _, err = cli(capsys, *args, "--force")
    assert code == 0, err
    assert out.stat().st_size == size


# ------------------------------------------------------------------ 4. all-NaN input


def test_all_nan_csv_is_one_clear_line_without_numpy_warnings(tmp_path):
    p = tmp_path / "allnan.csv"
    p.write_text("t,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "".join(f"{i / 100},nan,nan,nan,nan,nan,nan\n"
                                                                       for i in range(200)))
    for args in (["detect", str(p)], ["report", str(p), "-o", str(tmp_path / "r.png")],
                 ["import", str(p), "-o", str(tmp_path / "i.h5")]):
        r = imuwalk(*args)
        assert_one_line_error(r, 1, "allnan.csv", "no finite samples")
        assert "Warning" not in r.stderr and "zero-size" not in r.stderr


# ------------------------------------------------------------------ 5. usage errors exit 2 and name the option


@pytest.mark.parametrize("args, needle", [
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "-5"], "--duration"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--rate", "0"], "--rate"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--speed", "-1"], "--speed"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--faults", "foo=1"], "--faults"),
    (["evaluate", "--workers", "0"], "--workers"),
    (["import", "{tmp}/in.txt", "-o", "{tmp}/o.h5", "--rate-hz", "-27"], "--rate-hz"),
    (["import", "{tmp}/in.txt", "-o", "{tmp}/o.h5", "--acc-unit", "furlongs"], "--acc-unit"),
    (["import", "{tmp}/in.txt", "-o", "{tmp}/o.h5", "--preset", "foo"], "--preset"),
    (["detect", "{tmp}/in.txt", "--rate", "-5"], "--rate"),
    (["detect", "{tmp}/in.txt", "--rate", "0"], "--rate"),
    (["detect", "{tmp}/in.txt", "--rate", "inf"], "--rate"),
    (["detect", "{tmp}/in.txt", "--gyr-unit", "rpm"], "--gyr-unit"),
    (["detect", "{tmp}/in.csv", "--preset", "mpu6050"], "--preset"),
    # the preset sets the units: an explicit unit contradicts it (it was overridden, then the preset advised)
    (["detect", "{tmp}/in.txt", "--preset", "mpu6050", "--acc-unit", "m/s2"], "--acc-unit: not allowed with --preset"),
    (["import", "{tmp}/in.txt", "-o", "{tmp}/o.h5", "--preset", "mpu6050", "--gyr-unit", "rad/s"],
     "--gyr-unit: not allowed with --preset"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--seed", "-1"], "--seed"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--faults", "reset=-3"], "--faults"),
    (["emulate", "--out", "{tmp}/e.imuraw", "--duration", "10", "--link", "{tmp}/lnk"], "only with --pty"),
])
def test_bad_option_values_are_usage_errors_naming_the_option(capsys, tmp_path, walk, args, needle):
    write_counts_log(tmp_path / "in.txt", walk, with_time=False)
    write_csv(tmp_path / "in.csv", walk)
    code, out, err = cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2, (code, err)
    assert needle in err.strip().splitlines()[-1], err
    assert not (tmp_path / "e.imuraw").exists() and not (tmp_path / "o.h5").exists()


# ------------------------------------------------------------------ 6. CLI spellings in messages


def test_messages_name_cli_options_not_python_keywords(capsys, tmp_path, walk):
    bare = write_counts_log(tmp_path / "bare.txt", walk, with_time=False)
    code, _, err = cli(capsys, "detect", bare, "--preset", "mpu6050")
    assert code == 1 and "--rate" in err and "rate_hz" not in err, err
    code, _, err = cli(capsys, "import", bare, "-o", tmp_path / "o.h5", "--preset", "mpu6050")
    assert code == 1 and "--rate-hz" in err and "rate_hz" not in err, err
    code, _, err = cli(capsys, "import", bare, "-o", tmp_path / "o.h5", "--preset", "mpu6050", "--rate-hz", "100")
    assert code == 0, err
    code, _, err = cli(capsys, "import", bare, "-o", tmp_path / "o.h5", "--preset", "mpu6050", "--rate-hz", "100")
    assert code == 1 and "--force" in err and "overwrite=True" not in err, err


# ------------------------------------------------------------------ 7. binary files


def test_binary_file_is_named_as_such_in_one_short_line(tmp_path):
    rng = np.random.default_rng(0)
    xlsx = tmp_path / "book.xlsx"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + rng.bytes(5000))
    r = imuwalk("detect", str(xlsx))
    assert_one_line_error(r, 1, "book.xlsx", "ZIP archive", "CSV with a header")
    assert len(r.stderr) < 400 and "\\x" not in r.stderr, r.stderr
    blob = tmp_path / "blob.csv"
    blob.write_bytes(rng.bytes(5000))
    r = imuwalk("detect", str(blob))
    assert_one_line_error(r, 1, "blob.csv", "binary data")
    assert len(r.stderr) < 400


@pytest.mark.realdata
def test_real_xlsx_is_refused_as_not_a_supported_format():
    p = require_data("marpino_leg_imu_foot_pressure", "Young", "20180621_6.xlsx")
    r = imuwalk("detect", str(p))
    assert_one_line_error(r, 1, "20180621_6.xlsx", "Excel")
    assert len(r.stderr) < 400 and "\\x" not in r.stderr


# ------------------------------------------------------------------ 8. library INFO logs stay silent


_LOGGING_SCRIPT = """
import logging, sys
import imuwalk.cli.cmd_ports as cmd

def run(args):  # like Dask: a library logger set to INFO
    log = logging.getLogger("distributed.scheduler")
    log.setLevel(logging.INFO)
    log.info("State start")
    log.warning("something real")
    return 0

cmd.run = run
from imuwalk.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("flags, info_shown", [([], False), (["-v"], True), (["--debug"], True), (["-q"], False)])
def test_library_info_logs_only_with_verbose_or_debug(flags, info_shown):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", _LOGGING_SCRIPT, *flags, "ports"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert ("State start" in r.stderr) == info_shown, r.stderr
    assert ("something real" in r.stderr) == (flags != ["-q"]), r.stderr


# ------------------------------------------------------------------ 9. import output checks


def test_import_refuses_non_hdf5_output_name_and_single_sample(capsys, tmp_path, walk):
    csv = write_csv(tmp_path / "w.csv", walk)
    code, _, err = cli(capsys, "import", csv, "-o", tmp_path / "w2.csv")
    assert code == 2 and "--output" in err and ".h5" in err, err
    assert not (tmp_path / "w2.csv").exists()
    one = tmp_path / "one.csv"
    one.write_text("ax,ay,az,gx,gy,gz\n0,0,1,0,0,0\n")
    code, _, err = cli(capsys, "import", one, "-o", tmp_path / "one.h5", "--rate-hz", "100")
    assert code == 1 and "one.csv" in err and "at least 2" in err, err
    assert not (tmp_path / "one.h5").exists()
    code, out, err = cli(capsys, "import", csv, "-o", tmp_path / "w.hdf5")
    assert code == 0 and f"{len(walk.t)} samples" in out, err


# ------------------------------------------------------------------ 10. labels and table format


def test_headed_csv_is_labelled_csv(capsys, tmp_path, walk):
    csv = write_csv(tmp_path / "w.csv", walk)
    code, out, err = cli(capsys, "detect", csv, "-q")
    assert code == 0 and "(csv, " in out.splitlines()[0], out
    code, out, err = cli(capsys, "detect", csv, "--json")
    assert json.loads(out)["source"]["format"] == "csv"
    txt = tmp_path / "w.txt"
    txt.write_text("".join(f"{t:.3f},{a[0] / G0:.5f},{a[1] / G0:.5f},{a[2] / G0:.5f},{g[0] / DEG2RAD:.4f},"
                           f"{g[1] / DEG2RAD:.4f},{g[2] / DEG2RAD:.4f}\n"
                           for t, a, g in zip(walk.t, walk.acc, walk.gyr, strict=True)))
    code, out, err = cli(capsys, "detect", txt, "--json")
    assert code == 0 and json.loads(out)["source"]["format"] == "text", err


def test_evaluate_table_uses_one_format_per_column():
    from imuwalk.evaluate import EvalReport

    row = {"n_recordings": 3, "n_ref_ic": 40, "f1_30": 0.92849, "ic_err_median_ms": 9.99996,
           "ic_err_p95_ms": 30.0, "fc_err_median_ms": 4.25, "step_count_err_pct": 2.5}
    rep = SimpleNamespace(pooled={"ipol": row, "other": {**row, "ic_err_median_ms": 12.0}},
                          per_recording=[{"name": "r1", **row}])
    text = EvalReport.to_markdown(rep, per_recording=True)
    assert "10.000" not in text
    ipol = next(ln for ln in text.splitlines() if ln.startswith("| ipol "))
    cells = [c.strip() for c in ipol.strip("|").split("|")]
    assert "10.0" in cells and "4.2" in cells and "30.0" in cells and "2.5" in cells and "0.928" in cells
    assert "| r1 |" in text


# ------------------------------------------------------------------ 9. review of the CLI against its docs


@pytest.mark.parametrize("args", [
    ["detect", "x.h5", "--goal", "-1"],
    ["detect", "x.h5", "--placement", "knee"],
    ["detect", "x.h5", "--json", "--csv"],
    ["detect", "x.h5", "--bogus"],
    ["report", "x.h5"],
    ["emulate", "--acc-range", "3"],
    ["stream", "--mount", "-y", "--calibrate"],
    ["nosuchcommand"],
])
def test_argparse_errors_are_one_line_naming_help(args):
    r = imuwalk(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "usage:" not in r.stderr, r.stderr
    cmd = "imuwalk" if args[0] == "nosuchcommand" else f"imuwalk {args[0]}"
    assert lines[0].startswith(f"{cmd}: error: ") and lines[0].endswith(f"(see {cmd} --help)"), lines[0]


def test_evaluate_checks_csv_before_running(capsys, tmp_path):
    """An unusable --csv is refused at once (it was found only after the whole evaluation), an existing file
    only with --force, like every other output option."""
    code, out, err = cli(capsys, "evaluate", "marpino", "--csv", tmp_path / "nodir" / "x.csv", "--no-progress")
    assert code == 1 and out == "" and "folder" in err and "does not exist" in err and "Errno" not in err, err
    code, out, err = cli(capsys, "evaluate", "marpino", "--csv", tmp_path, "--no-progress")
    assert code == 1 and out == "" and "it is a folder" in err, err
    old = tmp_path / "old.csv"
    old.write_text("keep\n")
    code, out, err = cli(capsys, "evaluate", "marpino", "--csv", old, "--no-progress")
    assert code == 1 and out == "" and "already exists" in err and "--force" in err, err
    assert old.read_text() == "keep\n"


@pytest.mark.realdata
def test_evaluate_scores_a_dataset_named_twice_once(capsys, tmp_path):
    require_data("marpino_leg_imu_foot_pressure")
    code, out, err = cli(capsys, "evaluate", "marpino", "--json")
    assert code == 0, err
    once = json.loads(out)
    code, out, err = cli(capsys, "evaluate", "marpino", "marpino", "--json")
    assert code == 0, err
    twice = json.loads(out)
    names = [r["name"] for r in twice["per_recording"]]
    assert len(names) == len(set(names)) == len(once["per_recording"])
    assert twice["pooled"] == once["pooled"]
    old = tmp_path / "old.csv"
    old.write_text("keep\n")
    code, out, err = cli(capsys, "evaluate", "marpino", "--csv", old, "--force", "--no-progress")
    assert code == 0, err
    assert old.read_text().startswith("scope,")


def test_h5_that_is_not_hdf5_gets_a_way_out(capsys, tmp_path, walk):
    """detect/import of a .h5 without the HDF5 signature: empty -> "the file is empty"; text -> --format csv|text
    (not the same failing command again); binary -> what it is."""
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    for cmd in (["detect", empty], ["import", empty, "-o", tmp_path / "o.h5"]):
        code, out, err = cli(capsys, *cmd)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "the file is empty" in err and "`imuwalk" not in err, err
    named = write_csv(tmp_path / "named.h5", walk)  # a CSV saved under a .h5 name
    code, out, err = cli(capsys, "detect", named)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "no HDF5 signature" in err and "--format csv" in err and "`imuwalk" not in err, err
    code, out, err = cli(capsys, "detect", named, "--format", "csv", "--json")  # the advice works
    assert code == 0, err
    assert abs(len(json.loads(out)["strides"]) - len(walk.ic)) <= 3
    blob = tmp_path / "blob.h5"
    blob.write_bytes(np.random.default_rng(0).bytes(3000))
    code, out, err = cli(capsys, "detect", blob)
    assert code == 1 and "binary data" in err and "--format" not in err, err
    assert not (tmp_path / "o.h5").exists()


def _counter_log(path: Path, w) -> Path:
    """A text log whose first column is a sample counter 0, 1, 2, ... (like the IPOL PacketCounter), then
    acc in g and gyr in deg/s."""
    rows = [",".join([str(k), *(f"{v:.6g}" for v in w.acc[k] / G0), *(f"{v:.6g}" for v in w.gyr[k] / DEG2RAD)])
            for k in range(len(w.t))]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_rate_replaces_a_time_column_that_is_not_seconds(capsys, tmp_path, walk):
    """A first column 0, 1, 2, ... (median interval 1 s > gap_s): without --rate the one-line error names
    --rate HZ; with --rate it is replaced (warning naming the column), as docs/CLI.md says."""
    log = _counter_log(tmp_path / "counter.txt", walk)
    code, out, err = cli(capsys, "detect", log)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--rate HZ" in err and "gap_s" in err, err
    code, out, err = cli(capsys, "detect", log, "--rate", "100", "--json")
    assert code == 0, err
    assert "first column" in err and "ignored" in err and "using --rate 100" in err, err
    doc = json.loads(out)
    assert abs(len(doc["strides"]) - len(walk.ic)) <= 3, (len(doc["strides"]), len(walk.ic))
    assert any("using --rate 100" in w for w in doc["source"]["warnings"])
    code, out, err = cli(capsys, "import", log, "-o", tmp_path / "c.h5", "--rate-hz", "100")
    assert code == 0 and "using --rate-hz 100" in err, err
    # a CSV time column in milliseconds: the error also names the t_ms header
    ms = write_csv(tmp_path / "ms.csv", SimpleNamespace(t=walk.t * 1000.0, acc=walk.acc, gyr=walk.gyr))
    code, out, err = cli(capsys, "detect", ms)
    assert code == 1 and "time column 't'" in err and "--rate HZ" in err and "t_ms" in err, err
    code, out, err = cli(capsys, "detect", ms, "--rate", "100")
    assert code == 0 and "time column 't' ignored" in err, err
    ms.write_text(ms.read_text().replace("t,acc_x", "t_ms,acc_x", 1))
    code, out, err = cli(capsys, "detect", ms, "--json")
    assert code == 0 and err == "", err


def test_text_stream_byte_log_suggests_format_text(capsys, tmp_path, walk):
    log = write_counts_log(tmp_path / "tx.h5.imuraw", walk)  # what `stream --format text --record` logs
    code, out, err = cli(capsys, "detect", log)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "--format text" in err, err
    code, out, err = cli(capsys, "detect", log, "--format", "text", "--preset", "mpu6050", "--json")
    assert code == 0, err


def test_unfinished_recording_warns_and_suggests_repair(tmp_path):
    """A recording whose writer died (no clean close): detect reads it, one stderr line names `imuwalk repair`;
    the --json document is unchanged (it already says "complete": false)."""
    f = tmp_path / "killed.h5"
    script = ("import os, sys\n"
              "from imuwalk.sinks.hdf5 import Recorder\n"
              "from imuwalk.sources.block import SampleBlock\n"
              "from imuwalk.sources.emulator import default_walk\n"
              "w = default_walk(100.0, 20.0, 'shank', 0)\n"
              "rec = Recorder(sys.argv[1], placement='shank', raw_log=False)\n"
              "rec.write_block(SampleBlock(t=w.t, acc=w.acc, gyr=w.gyr))\n"
              "rec.flush()\n"
              "os._exit(0)  # like SIGKILL: the file is never finalized\n")
    subprocess.run([sys.executable, "-c", script, str(f)], check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    r = imuwalk("detect", str(f))
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "warning" in lines[0] and "unfinished" in lines[0], r.stderr
    assert f"imuwalk repair {f}" in lines[0]
    r = imuwalk("detect", str(f), "--json")
    assert r.returncode == 0 and "imuwalk repair" in r.stderr
    src = json.loads(r.stdout)["source"]
    assert src["complete"] is False and "warnings" not in src
    assert imuwalk("detect", str(f), "-q").stderr == ""


def test_paths_that_are_not_recordings_are_named_as_such(tmp_path):
    r = imuwalk("detect", os.devnull)
    assert_one_line_error(r, 1, "not a regular file")
    assert "no such file" not in r.stderr
    r = imuwalk("repair", str(tmp_path))
    assert_one_line_error(r, 1, "it is a folder, not a recording")
    assert "Errno" not in r.stderr
    r = imuwalk("repair", os.devnull)
    assert_one_line_error(r, 1, "not a regular file")
    rnd = tmp_path / "rand.bin"
    rnd.write_bytes(np.random.default_rng(3).bytes(5000))
    r = imuwalk("detect", str(rnd))
    assert_one_line_error(r, 1, "rand.bin", "not an x-IMU binary log")
    assert "{" not in r.stderr and "stats" not in r.stderr
    r = imuwalk("stream", "--port", str(tmp_path), "--duration", "1", env_extra={"IMUWALK_CONFIG": str(tmp_path)})
    assert_one_line_error(r, 1, "it is a folder, not a serial device")
    assert "Errno" not in r.stderr
    csv = tmp_path / "walk.csv"
    csv.write_text("t,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n0,0,0,9.8,0,0,0\n")
    r = imuwalk("stream", "--port", str(csv), "--duration", "1", env_extra={"IMUWALK_CONFIG": str(tmp_path)})
    assert_one_line_error(r, 1, "regular file, not a serial device", f"imuwalk detect {csv}")
