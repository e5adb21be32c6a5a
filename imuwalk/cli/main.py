"""`imuwalk` command line: one dispatcher, one module per command (cli/cmd_<name>.py).

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Exit codes: 0 ok, 1 runtime failure, 2 usage error. Errors are one line on stderr; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Command modules, in the order `imuwalk --help` lists them.
COMMANDS = ["demo", "stream", "detect", "report", "emulate", "ports", "repair", "evaluate", "import"]


class CliError(Exception):
    """A runtime failure to report as one clear line (exit 1)."""


def _load(name: str):
    return importlib.import_module(f"imuwalk.cli.cmd_{name}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="imuwalk",
        description="Live strides and walking direction (forward/backward) from a leg-worn IMU.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = _load(name)
        except ModuleNotFoundError as e:
            if e.name == f"imuwalk.cli.cmd_{name}":
                continue
            raise
        sp = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument("--debug", action="store_true", help="show tracebacks on errors")
        mod.add_arguments(sp)
        sp.set_defaults(_module=mod)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (CliError, ValueError, OSError) as e:
        if args.debug:
            raise
        print(f"imuwalk {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
