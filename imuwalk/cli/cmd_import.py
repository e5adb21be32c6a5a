"""`imuwalk import SRC -o FILE.h5`: a CSV / text / x-IMU / .imuraw recording into the imuwalk HDF5 layout."""

from __future__ import annotations

import argparse
from pathlib import Path

from imuwalk.cli.cmd_detect import add_reader_arguments

NAME = "import"
HELP = "convert a CSV, text, x-IMU binary or .imuraw recording into an imuwalk .h5 file"
DESCRIPTION = (
    "Read SRC with imuwalk's file readers (CSV with a header, plain text columns, x-IMU binary, .imuraw\n"
    "byte logs) and write it in the imuwalk HDF5 layout (docs/HDF5_FORMAT.md): an .imuraw log keeps the\n"
    "device's raw counts and scales, the other formats are stored as float SI values (m/s², rad/s). The\n"
    "result replays with `imuwalk detect FILE.h5`. Files whose\n"
    "magnitudes cannot be body motion in the units they are read with (raw counts read as g) are refused."
)
EPILOG = (
    "examples:\n"
    "  imuwalk import walk.csv -o walk.h5 --placement ankle\n"
    "  imuwalk import log.txt -o log.h5 --rate-hz 100 --acc-unit g --gyr-unit deg/s\n"
    "  imuwalk import Steps21.txt -o steps.h5 --preset mpu6050"
)

#: CLI spelling of the reader keywords for this command.
NAMES = {"rate_hz": "--rate-hz"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="SRC", help="input recording")
    p.add_argument("-o", "--output", required=True, metavar="FILE.h5", help="output HDF5 file (.h5 or .hdf5)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--placement", choices=["shank", "ankle", "foot"], help="where the sensor was worn")
    p.add_argument(
        "--format", choices=["csv", "text", "ximu", "imuraw"], help="input format (default: guess)"
    )
    add_reader_arguments(p, rate_flag="--rate-hz")


def import_file(src, out, *, placement=None, force=False, **opts) -> dict:
    """Convert ``src`` to the imuwalk layout at ``out``; returns {"n_samples", "duration_s", "data_kind"}."""
    from imuwalk.sources.formats import read_file

    src = Path(src)
    out = Path(out)
    if src.resolve() == out.resolve():
        raise ValueError("output: must differ from the input file")
    try:
        block = read_file(src, **{k: v for k, v in opts.items() if v is not None})
    except TypeError as e:  # an option the reader of this format does not take
        raise ValueError(f"an option does not apply to the format of {src.name}: {e}") from e
    if len(block) < 2:
        raise ValueError(f"src: {src} holds {len(block)} sample(s); at least 2 are needed")
    return write_block(block, src, out, placement=placement, force=force)


def write_block(block, src: Path, out: Path, *, placement=None, force=False) -> dict:
    """Write ``block`` (read from ``src``) as an imuwalk recording at ``out``."""
    from imuwalk.sinks.hdf5 import Recorder, Recording

    info = block.info or {}
    session = {"imported_from": src.name, "import_info": {k: v for k, v in info.items() if k != "meta"}}
    rec = Recorder(out, meta=info.get("meta"), placement=placement, session=session, swmr=False,
                   raw_log=False, overwrite=force)
    rec.write_block(block)
    rec.close()
    with Recording(out) as r:
        return {"n_samples": len(r), "duration_s": r.attrs.get("duration_s", 0.0), "data_kind": r.data_kind}


def run(args: argparse.Namespace) -> int:
    from imuwalk.cli.cmd_detect import check_path, print_warnings, read_samples, reader_options
    from imuwalk.cli.main import UsageError, check_output

    src, out = Path(args.src), Path(args.output)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"--output: use a .h5 or .hdf5 file name, got {str(out)!r}")
    check_path(src)
    if src.resolve() == out.resolve():
        raise UsageError("--output: must differ from SRC")
    check_output(out, args.force)
    block, _fmt, warnings = read_samples(args, src, args.format, reader_options(args, "rate_hz"), NAMES)
    print_warnings(args, src, warnings)
    res = write_block(block, src, out, placement=args.placement, force=args.force)
    print(f"{args.output}: {res['n_samples']} samples, {res['duration_s']:.1f} s ({res['data_kind']})")
    return 0
