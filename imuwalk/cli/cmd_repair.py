"""`imuwalk repair FILE`: restore a recording left by a killed or crashed recorder."""

from __future__ import annotations

import argparse
import json

NAME = "repair"
HELP = "make a recording left by a killed process readable again (h5clear, salvage, or rebuild from .imuraw)"
DESCRIPTION = (
    "Restore an imuwalk HDF5 recording whose writer was killed (SIGKILL, power loss, unplugged laptop).\n"
    "Tries in order: nothing to do; clear the SWMR/consistency flags (h5clear -s) and cut the columns to a\n"
    "common length; copy every readable prefix out through an SWMR reader; rebuild from FILE.imuraw.\n"
    "A replaced original is kept as FILE.bak."
)
EPILOG = "examples:\n  imuwalk repair walk.h5\n  imuwalk repair walk.h5 --from-raw --json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="the .h5 recording")
    p.add_argument("--from-raw", action="store_true", help="rebuild from FILE.imuraw even if the file opens")
    p.add_argument("--no-h5clear", action="store_true", help="do not run the h5clear tool")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imuwalk.cli.main import CliError
    from imuwalk.sinks.hdf5 import repair

    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"cannot repair {path}: it is a folder, not a recording")
    if path.exists() and not path.is_file():
        raise CliError(f"cannot repair {path}: not a regular file (a device, pipe or socket), not a recording")
    rep = repair(args.file, from_raw=args.from_raw, use_h5clear=not args.no_h5clear)
    doc = {
        "path": str(rep.path),
        "method": rep.method,
        "n_samples": rep.n_samples,
        "n_strides": rep.n_strides,
        "backup": str(rep.backup) if rep.backup else None,
        "messages": rep.messages,
    }
    if args.json:
        print(json.dumps(doc))
    else:
        what = {"none": "nothing to repair", "trim": "trimmed unfinished file", "h5clear": "cleared flags",
                "copy": "salvaged readable data", "raw": "rebuilt from raw log",
                "skip": "removed samples with a NaN/inf time"}.get(rep.method, rep.method)
        print(f"{rep.path}: {what}: {rep.n_samples} samples, {rep.n_strides} strides"
              + (f" (original kept as {rep.backup})" if rep.backup else ""))
    return 0
