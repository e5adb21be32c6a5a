"""`imuwalk detect FILE`: strides, walking direction and the session summary of a recording."""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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
    p.add_argument("--format", choices=("hdf5", "csv", "text", "ximu", "imuraw"), default=None,
                   help="file format (default: from the suffix/content)")
    p.add_argument("--preset", choices=("mpu6050",), default=None,
                   help="scale preset for text logs of raw counts")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="sample rate for files without time stamps, Hz")


def add_session_arguments(p: argparse.ArgumentParser) -> None:
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

    def source_dict(self) -> dict[str, Any]:
        dur = float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0
        return {"path": str(self.path), "format": self.fmt, "samples": int(len(self.t)),
                "duration_s": dur, "placement": self.placement, **self.info}


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


def _guess_format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suf = path.suffix.lower()
    return {".h5": "hdf5", ".hdf5": "hdf5", ".bin": "ximu", ".imuraw": "imuraw"}.get(suf, "text/csv")


def load_and_detect(args: argparse.Namespace, path: str | Path) -> Detected:
    """Read ``path`` and detect strides (HDF5: replay through the streaming detector; else batch)."""
    from imuwalk.cli.main import CliError

    path = Path(path)
    if not path.exists():
        raise CliError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise CliError(f"cannot read {path}: it is a folder, not a recording")
    fmt = _guess_format(path, getattr(args, "format", None))
    if fmt == "hdf5":
        return _detect_hdf5(args, path)
    from imuwalk.sources.formats import read_file

    opts: dict[str, Any] = {}
    if getattr(args, "format", None):
        opts["format"] = args.format
    if getattr(args, "preset", None):
        opts["preset"] = args.preset
    if getattr(args, "rate", None):
        opts["rate_hz"] = args.rate
    try:
        blk = read_file(path, **opts)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise CliError(f"cannot read {path}: {e}") from e
    if len(blk) < 2:
        raise CliError(f"cannot read {path}: no IMU samples found")
    placement = args.placement or "shank"
    from imuwalk.core.detector import detect_steps

    res = detect_steps(blk.t, blk.acc, blk.gyr, placement=placement)
    rows = np.asarray(res.events)
    return Detected(path, fmt if fmt != "text/csv" else "text", placement, blk.t, blk.acc, blk.gyr, rows)


def _detect_hdf5(args: argparse.Namespace, path: Path) -> Detected:
    from imuwalk.cli.main import CliError
    from imuwalk.core.detector import StepDetector
    from imuwalk.sinks.hdf5 import Recording
    from imuwalk.sources.replay import ReplaySource

    try:
        rec = Recording(path)
    except (ValueError, OSError) as e:
        raise CliError(f"cannot read {path}: {e}") from e
    with rec:
        placement = args.placement or rec.placement or "shank"
        info = {"complete": bool(rec.complete)}
        n = len(rec)
        if n < 2:
            raise CliError(f"cannot read {path}: the recording holds no IMU samples")
        mount = _stored_mount(rec)
        if mount is not None:
            info["mount"] = mount.to_dict()
        det = StepDetector(placement=placement, mount=mount)
        parts, ts, accs, gyrs = [], [], [], []
        src = ReplaySource(rec, realtime=False, block_s=1.0)
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
                    rows, info)


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
