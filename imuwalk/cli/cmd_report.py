"""`imuwalk report FILE -o report.png`: a picture of a session."""

from __future__ import annotations

import argparse
from pathlib import Path

from imuwalk._optional import require
from imuwalk.cli.cmd_detect import PLACEMENTS, add_reader_arguments, add_session_arguments, load_and_detect
from imuwalk.cli.params import add_param_argument

NAME = "report"
HELP = "plot a recording: signals, strides, direction bouts, cadence, backward goal (PNG/PDF)"
DESCRIPTION = """Draw a session report: the angular rate with every detected stride marked (initial and final
contact), forward/backward bouts shaded, |acc|, cadence over time, and the session summary
(backward-walking minutes against the daily goal). Needs matplotlib: pip install 'imuwalk[plot]'."""
EPILOG = """examples:
  imuwalk report walk.h5 -o report.png
  imuwalk report walk.h5 -o report.pdf --goal 15 --title "Tuesday treadmill"
  imuwalk report log.csv --placement ankle -o log.png"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="recording: .h5, .csv, text log, x-IMU .BIN or .imuraw")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output image: .png or .pdf")
    p.add_argument("--placement", choices=PLACEMENTS, default=None,
                   help="where the sensor is worn (default: from the recording, else shank)")
    p.add_argument("--title", default=None, help="figure title (default: the file name)")
    p.add_argument("--dpi", type=int, default=110, help="PNG resolution, dots per inch (default 110)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    add_session_arguments(p)
    add_param_argument(p)
    p.add_argument("--format", choices=("hdf5", "csv", "text", "ximu", "imuraw"), default=None,
                   help="file format (default: from the suffix/content)")
    add_reader_arguments(p)


def run(args: argparse.Namespace) -> int:
    from imuwalk.cli.main import UsageError, check_output, info
    from imuwalk.core.summary import summarize

    out = Path(args.output)
    if out.suffix.lower() not in (".png", ".pdf"):
        raise UsageError(f"--output: use a .png or .pdf file name, got {str(out)!r}")
    if not 10 <= args.dpi <= 1200:
        raise UsageError(f"--dpi: expected 10..1200, got {args.dpi}")
    check_output(out, args.force)
    require("matplotlib", "report")  # before any data is read
    d = load_and_detect(args, args.file)
    summary = summarize(d.rows, goal_minutes=args.goal, pause_s=args.pause)
    from imuwalk.cli.report import plot_report

    info(args, f"drawing {out} ({len(d.rows)} strides) ...", level=1)
    plot_report(out, d.t, d.acc, d.gyr, d.rows, summary, title=args.title or d.path.name, dpi=args.dpi)
    info(args, summary.text())
    info(args, f"report written to {out}")
    return 0
