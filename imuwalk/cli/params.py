"""``--param NAME=VALUE``: detector parameter overrides on the command line (detect, report, stream, evaluate).

Each NAME is a :class:`imuwalk.core.detector.DetectorParams` field (seconds and physical units); the value
overrides the placement's default. Checked before any data is read: an unknown name or a bad value is a
usage error (exit 2) naming the option.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import fields

HELP = ("override a detector parameter (seconds and physical units; repeatable), e.g. --param "
        "first_min_peak_rads=1.5; names, meanings and defaults: docs/PARAMETERS.md")


def add_param_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", action="append", default=None, metavar="NAME=VALUE", help=HELP)


def parse_params(values: list[str] | None, placements: tuple[str, ...] = ("shank",)) -> dict[str, float | str]:
    """Overrides from ``--param`` values, checked against every placement's parameter set.

    Raises :class:`imuwalk.cli.main.UsageError` on a malformed item, an unknown name (with the closest
    known ones), a value that is not a number (a word for ``metric``/``ic_mode``), a name given twice, or a
    value the detector rejects (its message names the field).
    """
    from imuwalk.cli.main import UsageError
    from imuwalk.core.detector import DetectorParams

    kinds = {f.name: f.type for f in fields(DetectorParams)}
    out: dict[str, float | str] = {}
    for item in values or ():
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or not raw:
            raise UsageError(f"--param: expected NAME=VALUE, got {item!r}")
        if name not in kinds:
            near = difflib.get_close_matches(name, kinds, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(sorted(kinds))}"
            raise UsageError(f"--param {name}: not a detector parameter{hint}")
        if name in out:
            raise UsageError(f"--param {name}: given twice")
        if kinds[name] in (str, "str"):
            out[name] = raw
        else:
            try:
                if "_" in raw:
                    raise ValueError(raw)  # float() reads "1_5" as 15
                out[name] = float(raw)
            except ValueError:
                raise UsageError(f"--param {name}: expected a number, got {raw!r}") from None
    for placement in placements:
        try:
            DetectorParams.for_placement(placement, **out)
        except (ValueError, TypeError) as e:
            raise UsageError(f"--param {e}") from None
    return out
