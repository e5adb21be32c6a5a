"""`imuwalk evaluate [DATASET...]`: stride detection accuracy on public datasets (table, JSON, CSV)."""

from __future__ import annotations

import argparse
import sys
import warnings

from imuwalk.cli.params import add_param_argument, parse_params

NAME = "evaluate"
HELP = "score the stride detector on public datasets (F1, timing error, latency, direction, step count)"
DESCRIPTION = (
    "Run imuwalk's stride detector over the recordings of the named datasets (all when none is named)\n"
    "and score it against their ground truth: IC precision/recall/F1 at 30/50/100 ms (one-to-one matching\n"
    "inside the annotated region), IC/FC timing error, emission latency, step-count error and direction\n"
    "accuracy, per recording and pooled. Data come from $IMUWALK_DATA (or ../shared/datasets)."
)
EPILOG = (
    "examples:\n"
    "  imuwalk evaluate ipol --json\n"
    "  imuwalk evaluate ipol gaitmap marpino --csv results.csv\n"
    "  imuwalk evaluate marpino --misses       # which reference ICs were missed, which detections were false\n"
    "  imuwalk evaluate ankle_log marpino --param first_min_peak_rads=1.5   # a parameter override\n"
    "  imuwalk evaluate --workers 4            # local Dask cluster (pip install 'imuwalk[dask]')\n"
    "  imuwalk evaluate --scheduler tcp://host:8786"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("datasets", nargs="*", metavar="DATASET", help="dataset names (manifest; default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (pooled + per recording)")
    p.add_argument("--csv", metavar="FILE", help="also write one CSV row per recording and per pooled group")
    p.add_argument("--force", action="store_true", help="overwrite the --csv file if it exists")
    p.add_argument("--per-recording", action="store_true", help="table: also list every recording")
    p.add_argument("--misses", action="store_true",
                   help="table: also list, per recording, the reference ICs missed and the false detections "
                        "at 50 ms (s)")
    p.add_argument("--workers", type=int, metavar="N", help="run on a local Dask cluster of N processes")
    p.add_argument("--scheduler", metavar="ADDR", help="run on an existing Dask scheduler (tcp://host:port)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_param_argument(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imuwalk.cli.main import CliError, UsageError, check_output
    from imuwalk.evaluate import evaluate

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise UsageError("--workers: not allowed with --scheduler (the scheduler has its own workers)")
    overrides = parse_params(args.param, ("shank", "foot"))
    if args.csv:  # before any work: a wrong --csv path must not throw away minutes of evaluation
        check_output(Path(args.csv), args.force)
    names = list(dict.fromkeys(args.datasets))  # a dataset named twice is scored once
    if not names:
        from imuwalk.datasets import list_datasets

        names = list(list_datasets())
    else:
        from imuwalk.datasets import list_datasets

        known = list(list_datasets())
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UsageError(f"DATASET: unknown dataset(s) {', '.join(unknown)}; known: {', '.join(known)}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate(
            names,
            detector_kwargs=overrides or None,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=False if (args.no_progress or args.json) else None,
        )
    # a loader's doubts (a recording skipped, ...) as one stderr line each, not Python's file:line form
    for msg in dict.fromkeys(str(w.message) for w in caught):
        print(f"warning: {msg}", file=sys.stderr)
    if args.csv:
        try:
            report.to_csv(args.csv)
        except OSError as e:
            raise CliError(f"cannot write {args.csv}: {e.strerror or e}") from e
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        sys.stdout.write(report.to_markdown(per_recording=args.per_recording, misses=args.misses))
    return 0
