"""`imuwalk import SRC -o FILE.h5`: a CSV / text / x-IMU / .imuraw recording into the imuwalk HDF5 layout."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "import"
HELP = "convert a CSV, text, x-IMU binary or .imuraw recording into an imuwalk .h5 file"
DESCRIPTION = (
    "Read SRC with imuwalk's file readers (CSV with a header, plain text columns, x-IMU binary, .imuraw\n"
    "byte logs) and write it in the imuwalk HDF5 layout (docs/HDF5_FORMAT.md): raw counts when the source\n"
    "has them, else float SI values. The result replays with `imuwalk detect FILE.h5`."
)
EPILOG = (
    "examples:\n"
    "  imuwalk import walk.csv -o walk.h5 --placement ankle\n"
    "  imuwalk import log.txt -o log.h5 --rate-hz 100 --acc-unit g --gyr-unit deg/s"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="SRC", help="input recording")
    p.add_argument("-o", "--output", required=True, metavar="FILE.h5", help="output HDF5 file")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--placement", choices=["shank", "ankle", "foot"], help="where the sensor was worn")
    p.add_argument(
        "--format", choices=["csv", "text", "ximu", "imuraw"], help="input format (default: guess)"
    )
    p.add_argument("--rate-hz", type=float, help="sample rate for inputs without a time column, Hz")
    p.add_argument("--acc-unit", help="accelerometer unit when the file does not say (g, m/s^2)")
    p.add_argument("--gyr-unit", help="gyroscope unit when the file does not say (deg/s, rad/s)")
    p.add_argument("--preset", help="text column preset (e.g. mpu6050)")


def import_file(src, out, *, placement=None, force=False, **opts) -> dict:
    """Convert ``src`` to the imuwalk layout at ``out``; returns {"n_samples", "duration_s", "data_kind"}."""
    from imuwalk.sinks.hdf5 import Recorder, Recording
    from imuwalk.sources.formats import read_file

    src = Path(src)
    out = Path(out)
    if src.resolve() == out.resolve():
        raise ValueError("output: must differ from the input file")
    try:
        block = read_file(src, **{k: v for k, v in opts.items() if v is not None})
    except TypeError as e:  # an option the reader of this format does not take
        raise ValueError(f"an option does not apply to the format of {src.name}: {e}") from e
    if len(block) == 0:
        raise ValueError(f"src: no samples in {src}")
    info = block.info or {}
    session = {"imported_from": src.name, "import_info": {k: v for k, v in info.items() if k != "meta"}}
    rec = Recorder(out, meta=info.get("meta"), placement=placement, session=session, swmr=False,
                   raw_log=False, overwrite=force)
    rec.write_block(block)
    rec.close()
    with Recording(out) as r:
        return {"n_samples": len(r), "duration_s": r.attrs.get("duration_s", 0.0), "data_kind": r.data_kind}


def run(args: argparse.Namespace) -> int:
    opts = {}
    if args.format:
        opts["format"] = args.format
    for key, val in (("rate_hz", args.rate_hz), ("acc_unit", args.acc_unit), ("gyr_unit", args.gyr_unit),
                     ("preset", args.preset)):
        if val is not None:
            opts[key] = val
    res = import_file(args.src, args.output, placement=args.placement, force=args.force, **opts)
    print(f"{args.output}: {res['n_samples']} samples, {res['duration_s']:.1f} s ({res['data_kind']})")
    return 0
