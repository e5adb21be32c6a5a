"""`imuwalk detect FILE`: strides, walking direction and the session summary of a recording."""

from __future__ import annotations

import argparse
import contextlib
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imuwalk.cli.params import add_param_argument, parse_params
from imuwalk.units import DEG2RAD, G0

NAME = "detect"
HELP = "strides + forward/backward summary of a recording (HDF5, CSV, text, x-IMU .BIN, .imuraw)"
DESCRIPTION = """Detect strides and their walking direction in a recorded file and print them with the
session summary (steps, minutes and cadence per direction, bouts, backward goal).

An imuwalk HDF5 recording is replayed through the same streaming path as a live session, so the
strides are those the live run saw. Other formats (CSV with a header, text lines
[t,]ax,ay,az,gx,gy,gz, x-IMU .BIN, imuwalk .imuraw byte logs) are read whole and detected in batch."""
EPILOG = """examples:
  imuwalk detect walk.h5                  # table of strides + summary
  imuwalk detect walk.h5 --json > out.json
  imuwalk detect log.csv --placement ankle --csv > strides.csv
  imuwalk detect ankle.txt --preset mpu6050 --goal 15
  imuwalk detect log.txt --rate 100 --acc-unit m/s2 --gyr-unit rad/s   # text log without time stamps
  imuwalk detect walk.h5 --param first_min_peak_rads=1.5 --param first_min_angle_rad=0.35

output: --json prints one document {"schema", "strides": [...], "summary": {...}, "source": {...}}
(see docs/CLI.md); --csv prints one row per stride with a header; the default is a table."""

PLACEMENTS = ("shank", "ankle", "foot")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="recording: .h5, .csv, text log, x-IMU .BIN or .imuraw")
    p.add_argument("--placement", choices=PLACEMENTS, default=None,
                   help="where the sensor is worn (default: from the recording, else shank)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON document (strides + summary)")
    out.add_argument("--csv", action="store_true", help="print the strides as CSV (summary on stderr)")
    add_session_arguments(p)
    add_param_argument(p)
    p.add_argument("--format", choices=("hdf5", "csv", "text", "ximu", "imuraw"), default=None,
                   help="file format (default: from the suffix/content)")
    add_reader_arguments(p)


def add_reader_arguments(p: argparse.ArgumentParser, rate_flag: str = "--rate") -> None:
    """--preset, --rate (import: --rate-hz), --acc-unit, --gyr-unit: how to read CSV/text/x-IMU files."""
    from imuwalk.sources.formats import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="scale preset for text logs of raw counts (mpu6050: ±2 g, ±250 °/s)")
    p.add_argument(rate_flag, type=_positive, default=None, metavar="HZ",
                   help="sample rate for files without time stamps, Hz (x-IMU .BIN: default 256)")
    p.add_argument("--acc-unit", type=_unit_arg("acc"), default=None, metavar="UNIT",
                   help="accelerometer unit when the file does not say: g, mg or m/s2 (default: text g, "
                        "CSV guessed)")
    p.add_argument("--gyr-unit", type=_unit_arg("gyr"), default=None, metavar="UNIT",
                   help="gyroscope unit when the file does not say: deg/s or rad/s (default: text deg/s, "
                        "CSV guessed)")


def _unit_arg(group: str):
    """argparse type: a unit name of the accelerometer ("acc") or gyroscope ("gyr"), normalized; not counts."""

    def conv(s: str) -> str:
        from imuwalk.sources.formats import _ACC_UNITS, _GYR_UNITS, _norm_unit

        table = _ACC_UNITS if group == "acc" else _GYR_UNITS
        try:
            unit = _norm_unit(s, table, group)
        except ValueError:
            unit = None
        if unit in (None, "counts"):
            known = "g, mg or m/s2" if group == "acc" else "deg/s or rad/s"
            raise argparse.ArgumentTypeError(f"unknown unit {s!r}; expected {known} "
                                             "(raw sensor counts: --preset mpu6050)")
        return unit

    conv.__name__ = f"{group}_unit"
    return conv


def allow_negative_axes(p: argparse.ArgumentParser) -> None:
    """Let `--mount -y` through: argparse would take "-y" for an option (`--mount=-y` always works)."""
    matcher = getattr(p, "_negative_number_matcher", None)
    if matcher is not None:
        p._negative_number_matcher = re.compile(f"(?:{matcher.pattern})|^-[xyzXYZ]$")


def add_session_arguments(p: argparse.ArgumentParser) -> None:
    allow_negative_axes(p)
    p.add_argument("--mount", default=None, metavar="AXIS",
                   help="the sensor axis that pointed to the wearer's right (+x, -x, +y, -y, +z, -z): decides "
                        "forward/backward; overrides the mount stored in a recording and the automatic mode "
                        "(which takes the dominant swing as forward, wrong for a mostly backward session)")
    p.add_argument("--goal", type=_positive, default=10.0, metavar="MIN",
                   help="daily backward-walking goal, minutes (default 10)")
    p.add_argument("--pause", type=_positive, default=3.0, metavar="S",
                   help="standing still longer than this ends a bout, s (default 3)")


def _positive(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {s!r}")
    return v


@dataclass
class Detected:
    """Samples and strides of one file. t s, acc m/s², gyr rad/s, rows STRIDE_DTYPE."""

    path: Path
    fmt: str
    placement: str
    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    rows: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def source_dict(self) -> dict[str, Any]:
        dur = float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0
        d = {"path": str(self.path), "format": self.fmt, "samples": int(len(self.t)),
             "duration_s": dur, "placement": self.placement, **self.info}
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d


@contextlib.contextmanager
def progress(args: argparse.Namespace, total: int, description: str):
    """Yield ``advance(n)``; draws a rich progress bar on stderr if it is a terminal and not --quiet."""
    if getattr(args, "verbosity", 0) < 0 or not sys.stderr.isatty() or total <= 0:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task, n)


# ------------------------------------------------------------------------------ reading non-HDF5 files

#: CLI spelling of the reader keywords of imuwalk.sources.formats (import spells rate_hz --rate-hz).
CLI_NAMES = {"rate_hz": "--rate", "acc_unit": "--acc-unit", "gyr_unit": "--gyr-unit", "preset": "--preset"}
#: Reader keywords each format takes from the command line.
FORMAT_OPTIONS = {"csv": ("rate_hz", "acc_unit", "gyr_unit"), "text": ("rate_hz", "acc_unit", "gyr_unit", "preset"),
                  "ximu": ("rate_hz",), "imuraw": (), "hdf5": ()}
FORMAT_NAMES = {"csv": "CSV files", "text": "text logs", "ximu": "x-IMU .BIN files", "imuraw": ".imuraw byte logs",
                "hdf5": "HDF5 recordings"}
#: Plausibility limits of a body-worn IMU: a median |acc| above 100 g or a median |gyr| above
#: 2000 °/s (the widest usual gyroscope range) is not body motion but a wrong unit (raw counts).
ACC_MEDIAN_MAX = 100.0 * G0  # m/s²
GYR_MEDIAN_MAX = 2000.0 * DEG2RAD  # rad/s


def _guess_format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    from imuwalk.sources.formats import sniff_format

    try:
        return sniff_format(path)
    except OSError as e:
        from imuwalk.cli.main import CliError

        raise CliError(f"cannot read {path}: {e.strerror or e}") from e


def _not_used(option: str, fmt: str, path: Path) -> str:
    why = " (they carry time stamps and sensor scales)" if fmt in ("hdf5", "imuraw") else ""
    return f"{option}: not used for {FORMAT_NAMES.get(fmt, fmt + ' files')} like {path.name}{why}"


def check_path(path: Path) -> None:
    """The input file exists and is a file, else CliError (one line)."""
    from imuwalk.cli.main import CliError

    if not path.exists():
        raise CliError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise CliError(f"cannot read {path}: it is a folder, not a recording")
    if not path.is_file():
        raise CliError(f"cannot read {path}: not a regular file (a device, pipe or socket), not a recording")


def check_hdf5_file(path: Path) -> None:
    """A file about to be read as HDF5 carries the HDF5 signature, else CliError (one line) that says what
    it is instead: empty, binary data of a known kind, or text (then --format csv|text reads it)."""
    from imuwalk.cli.main import CliError
    from imuwalk.sources.formats import _HDF5_MAGIC, _binary_kind

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from e
    if head.startswith(_HDF5_MAGIC):
        return
    if not head:
        raise CliError(f"cannot read {path}: the file is empty (0 bytes), not an HDF5 recording")
    kind = _binary_kind(head)
    if kind is not None:
        raise CliError(f"cannot read {path}: it is {kind}, not an HDF5 recording (no HDF5 signature)")
    raise CliError(f"cannot read {path}: not an HDF5 file (no HDF5 signature) but text; if it holds sample "
                   "columns, pass --format csv (a header line names them) or --format text")


def _time_column_name(blk) -> str:
    cols = blk.info.get("columns") or {}
    return f"time column {cols['t']!r}" if "t" in cols else "the first column (time stamps)"


def _median_dt(t) -> float:
    t = np.asarray(t, dtype=np.float64)
    return float(np.median(np.diff(t))) if len(t) > 2 else 0.0


def _gap_s(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> float:
    """The detector's gap_s for this command's placement and --param overrides (import: the defaults)."""
    from imuwalk.core.detector import DetectorParams

    placement = getattr(args, "placement", None) or "shank"
    try:
        return float(DetectorParams.for_placement(placement, **(overrides or {})).gap_s)
    except (ValueError, TypeError, OverflowError):
        return float(DetectorParams.for_placement(placement).gap_s)


def cli_message(msg: str, path: Path, names: dict[str, str]) -> str:
    """A reader's ValueError text for the command line: no ``path:``/``rate_hz:`` prefix, the file
    called "the file" (the caller names it), Python keywords spelled as the CLI options."""
    msg = " ".join(str(msg).split())
    m = re.match(r"^([a-z_]+(?:/[a-z_]+)?): ", msg)
    if m and (m.group(1) == "path" or m.group(1) in msg[m.end():]):
        msg = msg[m.end():]
    msg = msg.replace(str(path), "the file").replace("; pass timestamp=", "")
    for py, cli in names.items():
        msg = re.sub(rf"(?<![\w-]){py}\b(?!=)", cli, msg)
    return msg


def read_samples(args: argparse.Namespace, path: Path, fmt: str | None, opts: dict[str, Any],
                 names: dict[str, str] | None = None, gap_s: float | None = None):
    """Read a non-HDF5 ``path`` with the reader options ``opts`` (formats keywords) given on the command
    line; returns ``(SampleBlock, format, warnings)``. Usage errors (an option the format does not take, --rate for
    a file with a time column) raise UsageError; unreadable files, fewer than 2 samples and physically
    implausible units (raw counts read as g) raise CliError; milder unit doubts are printed on stderr.
    ``gap_s``: the detector's gap (default: its default for ``args.placement``); a time column whose median
    interval is longer cannot be seconds and may be replaced by --rate."""
    from imuwalk.cli.main import CliError, UsageError
    from imuwalk.sources.formats import looks_like_text_log, read_file

    names = {**CLI_NAMES, **(names or {})}
    fmt = _guess_format(path, fmt)
    unused = [k for k in opts if k not in FORMAT_OPTIONS.get(fmt, ())]
    if unused:
        raise UsageError(_not_used(names.get(unused[0], unused[0]), fmt, path))
    if "preset" in opts:
        unit = next((k for k in ("acc_unit", "gyr_unit") if k in opts), None)
        if unit is not None:
            raise UsageError(f"{names[unit]}: not allowed with {names['preset']} (the preset {opts['preset']} "
                             "sets the units: raw counts at its scale); give one or the other")
    if fmt == "hdf5":
        check_hdf5_file(path)

    errors = (ValueError, OSError, UnicodeDecodeError)
    try:
        blk = read_file(path, format=fmt, **opts)
    except errors as e:
        msg = cli_message(e, path, names)
        if fmt == "imuraw" and not isinstance(e, OSError) and looks_like_text_log(path):
            msg += " (pass --format text)"
        raise CliError(f"cannot read {path}: {msg}") from e
    warnings = []
    if "rate_hz" in opts and blk.info.get("time_column"):
        rate = names["rate_hz"]
        try:
            stamped = read_file(path, format=fmt, **{k: v for k, v in opts.items() if k != "rate_hz"})
        except errors as e:  # the time column is unusable: the fixed rate replaces it
            why = re.sub(r"\s*\([^()]*fixed rate instead\)", "", cli_message(e, path, names))
            warnings.append(f"{why}; using {rate} {opts['rate_hz']:g} instead")
        else:
            gap = _gap_s(args) if gap_s is None else gap_s
            dt = _median_dt(stamped.t)
            if not dt > gap:
                raise UsageError(f"{rate}: {path.name} has a time column; {rate} is only for files without "
                                 "time stamps (or whose time column is unusable)")
            # a sample counter or milliseconds: not seconds, so the fixed rate replaces it
            warnings.append(f"{_time_column_name(stamped)} ignored: its median interval {dt:g} (read as s) is "
                            f"longer than gap_s = {gap:g} s (a sample counter? milliseconds?); using {rate} "
                            f"{opts['rate_hz']:g} instead")
    if len(blk) < 2:
        raise CliError(f"cannot read {path}: it holds {len(blk)} sample{'' if len(blk) == 1 else 's'}; "
                       "at least 2 are needed")
    warnings += check_units(path, blk, fmt, names)
    return blk, fmt, warnings


def check_units(path: Path, blk, fmt: str, names: dict[str, str] | None = None) -> list[str]:
    """Raise CliError when the magnitudes cannot be body motion in the units the file was read with
    (median |acc| > 100 g, median |gyr| > 2000 °/s: raw counts); return warnings for milder doubts."""
    from imuwalk.cli.main import CliError

    names = {**CLI_NAMES, **(names or {})}
    au, gu = names["acc_unit"], names["gyr_unit"]
    acc = np.linalg.norm(np.asarray(blk.acc, dtype=np.float64), axis=1)
    gyr = np.linalg.norm(np.asarray(blk.gyr, dtype=np.float64), axis=1)
    acc, gyr = acc[np.isfinite(acc)], gyr[np.isfinite(gyr)]
    if not len(acc) or not len(gyr):
        raise CliError(f"cannot read {path}: no finite samples")
    a, w = float(np.median(acc)), float(np.median(gyr))
    acc_as = f" read as {blk.info['acc_unit']}" if blk.info.get("acc_unit") else ""
    gyr_as = f" read as {blk.info['gyr_unit']}" if blk.info.get("gyr_unit") else ""
    counts_fix = (f"pass --preset mpu6050 (MPU-6050 counts) or {au}/{gu}" if fmt == "text"
                  else f"convert raw counts to g and deg/s, or pass {au}/{gu}")
    if a > ACC_MEDIAN_MAX:
        raise CliError(f"{path}: median |acc| = {a / G0:.3g} g ({a:.3g} m/s²){acc_as}, not body motion "
                       f"(about 1 g): raw sensor counts? {counts_fix}")
    if w > GYR_MEDIAN_MAX:
        raise CliError(f"{path}: median |gyr| = {np.degrees(w):.3g} °/s{gyr_as}, beyond any gyroscope "
                       f"range: raw sensor counts, or deg/s read as rad/s? {counts_fix}")
    out = []
    if a > 50.0:
        out.append(f"median |acc| = {a:.3g} m/s² ({a / G0:.3g} g), expected about 9.8 m/s² (1 g): "
                   f"values in m/s² read as g? pass {au} m/s2")
    elif a < 2.0:
        out.append(f"median |acc| = {a:.3g} m/s², expected about 9.8 m/s² (1 g) with gravity: values in g "
                   f"read as m/s²? pass {au} g")
    if w > np.radians(600.0):
        out.append(f"median |gyr| = {np.degrees(w):.3g} °/s is unusually high for walking: check {gu}")
    return out


def print_warnings(args: argparse.Namespace, path: Path, warnings: list[str]) -> None:
    from imuwalk.cli.main import info

    cmd = getattr(args, "command", None) or "imuwalk"
    for w in warnings:
        info(args, f"imuwalk {cmd}: warning: {path.name}: {w}")


def reader_options(args: argparse.Namespace, rate_attr: str = "rate") -> dict[str, Any]:
    """The formats keywords given on the command line (only those given)."""
    opts: dict[str, Any] = {}
    for key, attr in (("preset", "preset"), ("rate_hz", rate_attr), ("acc_unit", "acc_unit"),
                      ("gyr_unit", "gyr_unit")):
        val = getattr(args, attr, None)
        if val is not None:
            opts[key] = val
    return opts


def load_and_detect(args: argparse.Namespace, path: str | Path) -> Detected:
    """Read ``path`` and detect strides (HDF5: replay through the streaming detector; else batch)."""
    from imuwalk.cli.main import UsageError

    overrides = parse_params(getattr(args, "param", None), ("shank", "foot"))
    path = Path(path)
    check_path(path)
    fmt = _guess_format(path, getattr(args, "format", None))
    opts = reader_options(args)
    if fmt == "hdf5":
        if opts:
            raise UsageError(_not_used(CLI_NAMES[next(iter(opts))], fmt, path))
        check_hdf5_file(path)
        d = _detect_hdf5(args, path, overrides)
        print_warnings(args, path, d.warnings)
        return d
    placement = args.placement or "shank"
    mount = _mount_arg(args)
    gap = _gap_s(args, overrides)
    blk, fmt, warnings = read_samples(args, path, fmt, opts, gap_s=gap)
    print_warnings(args, path, warnings)
    if blk.info.get("time_column") and "rate_hz" not in opts and _median_dt(blk.t) > gap:
        from imuwalk.cli.main import CliError

        col = _time_column_name(blk)
        ms = ", or name a millisecond column t_ms" if blk.info.get("columns") else ""
        raise CliError(f"cannot read {path}: {col} has a median sample interval of {_median_dt(blk.t):g} (read "
                       f"as s), longer than gap_s = {gap:g} s: not a time in seconds (a sample counter? "
                       f"milliseconds?); pass --rate HZ to replace it by the sample rate{ms}")
    from imuwalk.core.detector import detect_steps

    res = detect_steps(blk.t, blk.acc, blk.gyr, placement=placement, mount=mount, **overrides)
    rows = np.asarray(res.events)
    fmt = str(blk.info.get("format") or fmt)
    info = {"detector_params": overrides} if overrides else {}
    if mount is not None:
        info["mount"] = mount.to_dict()
    return Detected(path, fmt, placement, blk.t, blk.acc, blk.gyr, rows, info, warnings=warnings)


def _detect_hdf5(args: argparse.Namespace, path: Path, overrides: dict[str, Any]) -> Detected:
    from imuwalk.cli.main import CliError
    from imuwalk.core.detector import DetectorParams, StepDetector
    from imuwalk.sinks.hdf5 import Recording, RecordingError
    from imuwalk.sources.replay import ReplaySource

    try:
        rec = Recording(path)
    except (ValueError, OSError) as e:
        raise CliError(f"cannot read {path}: {e}") from e
    with rec:
        placement = args.placement or rec.placement or "shank"
        info = {"complete": bool(rec.complete)}
        if not rec.complete:  # a stderr line only: the --json document already says "complete": false
            from imuwalk.cli.main import info as say

            cmd = getattr(args, "command", None) or "detect"
            say(args, f"imuwalk {cmd}: warning: {path.name}: the recording is unfinished (its recorder was "
                      f"killed, or is still writing); if the recorder is gone, run `imuwalk repair {path}`")
        n = len(rec)
        if n < 2:
            raise CliError(f"cannot read {path}: the recording holds no IMU samples")
        mount = _mount_arg(args) or _stored_mount(rec)
        if mount is not None:
            info["mount"] = mount.to_dict()
        # the live run's --param overrides (stored with the session), then this command's
        warnings: list[str] = []
        try:
            stored = rec.session.get("detector_params") or {}
        except RecordingError as e:
            stored = {}
            warnings.append(f"{e}; replayed with the default detector parameters")
        if not isinstance(stored, dict):
            raise CliError(f"cannot replay {path}: its stored detector_params are not a name -> value table "
                           f"({stored!r})")
        overrides = {**stored, **overrides}
        if overrides:
            info["detector_params"] = overrides
        try:
            params = DetectorParams.for_placement(placement, **overrides)
        except (ValueError, TypeError, OverflowError) as e:
            raise CliError(f"cannot replay {path}: its stored detector_params are not usable ({e})") from None
        det = StepDetector(placement=placement, mount=mount, params=params)
        parts, ts, accs, gyrs = [], [], [], []
        src = ReplaySource(rec, realtime=False, block_s=30.0)  # any chunking gives the same rows; big is fast
        with progress(args, n, f"detecting {path.name}") as advance:
            for blk in src:
                parts.append(det.update(blk.t, blk.acc, blk.gyr))
                ts.append(blk.t)
                accs.append(blk.acc)
                gyrs.append(blk.gyr)
                advance(len(blk))
        parts.append(det.finish())
    rows = np.concatenate(parts) if parts else np.zeros(0)
    return Detected(path, "hdf5", placement, np.concatenate(ts), np.concatenate(accs), np.concatenate(gyrs),
                    rows, info, warnings=warnings)


def _mount_arg(args: argparse.Namespace):
    """The Mount given with --mount, or None (see :func:`mount_from_axis`)."""
    axis = getattr(args, "mount", None)
    return None if axis is None else mount_from_axis(axis)


def mount_from_axis(axis: str):
    """The Mount (source "given") of a --mount AXIS value; UsageError on a bad axis."""
    from imuwalk.cli.main import UsageError
    from imuwalk.core.direction import Mount

    if not re.fullmatch(r"[+-]?[xyz]", axis.strip(), flags=re.IGNORECASE):
        raise UsageError(f"--mount: expected one of +x, -x, +y, -y, +z, -z (the axis pointing to the wearer's "
                         f"right), got {axis!r}")
    return Mount(right=axis.strip().lower(), source="given")


def _stored_mount(rec):
    """The Mount the recording was made with (so a replay decides directions as the live run did)."""
    from imuwalk.core.direction import Mount

    m = rec.mount
    if isinstance(m, dict) and "right" in m:
        try:
            return Mount.from_dict(m)
        except (ValueError, KeyError, TypeError):
            return None
    return None


def print_table(rows: np.ndarray, file=None) -> None:
    """Plain aligned table of strides."""
    file = file or sys.stdout
    names = {1: "forward", -1: "backward", 0: "other"}
    print(f"{'#':>5} {'t_ic s':>9} {'t_fc s':>9} {'stride s':>8} {'swing s':>7} {'direction':>9} {'conf':>5}",
          file=file)
    for r in rows:
        st = r["stride_time_s"]
        print(f"{int(r['stride_index']):5d} {r['t_ic']:9.3f} {r['t_fc']:9.3f} "
              f"{'-' if st != st else f'{st:.3f}':>8} {r['swing_time_s']:7.3f} "
              f"{names.get(int(r['direction']), '?'):>9} {r['direction_confidence']:5.2f}", file=file)


def write_csv(rows: np.ndarray, file=None) -> None:
    """All stride fields, one row per stride, header first; NaN as empty."""
    from imuwalk.core.rows import STRIDE_DTYPE

    file = file or sys.stdout
    w = csv.writer(file, lineterminator="\n")
    w.writerow(STRIDE_DTYPE.names)
    for r in rows:
        w.writerow(["" if isinstance(v, float) and v != v else v for v in r.tolist()])


def run(args: argparse.Namespace) -> int:
    from imuwalk.cli.main import info
    from imuwalk.core.summary import summarize

    d = load_and_detect(args, args.file)
    summary = summarize(d.rows, goal_minutes=args.goal, pause_s=args.pause)
    if args.json:
        from imuwalk.sinks.jsonout import dumps, result_document

        print(dumps(result_document(d.rows, summary, extra={"source": d.source_dict()})))
        return 0
    if args.csv:
        write_csv(d.rows)
        info(args, summary.text())
        return 0
    src = d.source_dict()
    print(f"{d.path}  ({d.fmt}, {src['samples']} samples, {src['duration_s']:.1f} s, "
          f"placement {d.placement})")
    if args.verbosity >= 0 or len(d.rows) <= 50:
        print_table(d.rows)
    print()
    print(summary.text())
    return 0
