"""`imuwalk` command line: one dispatcher, one module per command (cli/cmd_<name>.py).

Each command module exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``
(optional ``DESCRIPTION`` and ``EPILOG`` with examples). Exit codes: 0 ok, 1 runtime failure,
2 usage error (argparse, or :class:`UsageError`), 130 interrupted. Errors are one line on stderr;
``--debug`` shows the traceback. ``args.verbosity`` is -1 (``--quiet``), 0, or 1 (``--verbose``);
commands print progress/info through :func:`info` (stderr, silenced by ``--quiet``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from imuwalk._optional import MissingOptionalDependency, missing_hint

#: Command modules, in the order `imuwalk --help` lists them.
COMMANDS = ["demo", "stream", "detect", "report", "emulate", "ports", "repair", "evaluate", "import"]

EPILOG = """examples:
  imuwalk demo                      # no hardware: emulated sensor, live dashboard, summary
  imuwalk stream --port /dev/ttyACM0 --record walk.h5
  imuwalk detect walk.h5 --json     # strides + session summary as one JSON document
  imuwalk report walk.h5 -o report.png

exit codes: 0 ok, 1 runtime failure, 2 usage error, 130 interrupted (Ctrl-C)"""


class CliError(Exception):
    """A runtime failure to report as one clear line (exit 1)."""


class UsageError(Exception):
    """A bad combination of arguments found after parsing (exit 2)."""


def check_output(out: Path, force: bool) -> None:
    """An output file the command may write: not a folder, not an existing file unless ``force``, in a
    folder that exists; else CliError (one line)."""
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a folder")
    if out.exists() and not force:
        raise CliError(f"{out} already exists (use --force to overwrite)")
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: folder {out.parent} does not exist")


def info(args: argparse.Namespace, msg: str, level: int = 0) -> None:
    """Print a progress/info line on stderr if ``args.verbosity >= level`` (``--quiet`` silences level 0)."""
    if getattr(args, "verbosity", 0) >= level:
        print(msg, file=sys.stderr, flush=True)


def _load(name: str):
    return importlib.import_module(f"imuwalk.cli.cmd_{name}")


class _Broken:
    """Stand-in for a command module that failed to import: the command exists and reports why."""

    def __init__(self, name: str, err: BaseException):
        self.NAME = name
        self.HELP = f"(unavailable: {type(err).__name__})"
        self._err = err

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def run(self, args) -> int:
        raise CliError(f"this command failed to load: {type(self._err).__name__}: {self._err}")


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line, like every other error of the CLI:
    ``imuwalk COMMAND: error: <message> (see imuwalk COMMAND --help)``, exit 2 (subparsers are of this class
    too: ``add_subparsers`` makes them of the parent's class)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._command_parsers: dict[str, argparse.ArgumentParser] = {}

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, but an unrecognized argument after a command is reported by that command's parser
        (``imuwalk detect: error: unrecognized arguments: ...``)."""
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            sp = self._command_parsers.get(getattr(ns, "command", None) or "", self)
            sp.error(f"unrecognized arguments: {' '.join(extra)}")
        return ns

    def error(self, message: str):  # type: ignore[override]
        msg = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {msg} (see {self.prog} --help)\n")


def _add_common(p: argparse.ArgumentParser, sub: bool) -> None:
    # On subparsers the defaults are SUPPRESSed so `imuwalk --debug CMD` is not reset by CMD's parser.
    kw = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors", **kw)
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="only results and errors", **kw)
    g.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr", **kw)


def build_parser() -> argparse.ArgumentParser:
    from imuwalk import __version__

    p = _Parser(
        prog="imuwalk",
        description="Live strides and walking direction (forward/backward) from a leg-worn IMU.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"imuwalk {__version__}")
    _add_common(p, sub=False)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = _load(name)
        except ModuleNotFoundError as e:
            if e.name == f"imuwalk.cli.cmd_{name}":
                continue
            mod = _Broken(name, e)
        except Exception as e:  # a half-written command must not take the whole CLI down
            mod = _Broken(name, e)
        sp = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(sp, sub=True)
        mod.add_arguments(sp)
        sp.set_defaults(_module=mod)
        p._command_parsers[mod.NAME] = sp  # type: ignore[attr-defined]
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with one error line on bad arguments
    args.verbosity = -1 if args.quiet else (1 if args.verbose else 0)
    _setup_logging(args)
    if not getattr(args, "_module", None):
        parser.print_help(sys.stderr)
        return 2
    prefix = f"imuwalk {args.command}: error:"
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"imuwalk {args.command}: interrupted", file=sys.stderr)
        return 130
    except UsageError as e:
        if args.debug:
            raise
        print(f"{prefix} {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1
    except MissingOptionalDependency as e:
        if args.debug:
            raise
        print(f"{prefix} {_one_line(e)}", file=sys.stderr)
        return 1
    except (CliError, ValueError, OSError) as e:
        if args.debug:
            raise
        print(f"{prefix} {_one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - last resort: still one line, traceback only with --debug
        if args.debug:
            raise
        hint = missing_hint(e)  # an optional module imported without require(): still say which extra
        if hint is not None:
            print(f"{prefix} {args.command} {hint}", file=sys.stderr)
            return 1
        print(f"{prefix} {type(e).__name__}: {_one_line(e)} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _setup_logging(args: argparse.Namespace) -> None:
    """Log records on stderr as ``imuwalk: LEVEL: message``: warnings and errors by default, errors only
    with --quiet, INFO too with --debug, everything with --verbose. The level is set on the handler as
    well as on the root logger, so libraries that set their own loggers to INFO (Dask's scheduler and
    workers) stay silent without -v/--debug. Leaves a root logger configured by someone else alone."""
    if args.verbose:
        level = logging.DEBUG
    elif args.quiet:
        level = logging.ERROR
    elif args.debug:
        level = logging.INFO
    else:
        level = logging.WARNING
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_imuwalk", False)), None)
    if handler is None:
        if root.handlers:
            return
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("imuwalk: %(levelname)s: %(message)s"))
        handler._imuwalk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    handler.setLevel(level)


def _one_line(e: BaseException) -> str:
    s = str(e).strip() or type(e).__name__
    return " ".join(s.split())


if __name__ == "__main__":
    # Re-import so command modules and this dispatcher share one CliError class.
    from imuwalk.cli.main import main as _main

    sys.exit(_main())
