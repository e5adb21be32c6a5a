"""`imuwalk demo`: see it work with no hardware (emulated sensor → PTY → the real serial path)."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from imuwalk._optional import require

NAME = "demo"
HELP = "no hardware needed: emulated sensor walking forward and backward, live dashboard, recording"
DESCRIPTION = """Start the built-in device emulator on a pseudo-terminal (a synthetic walk with forward and
backward bouts, shank-worn sensor), read it through the same serial path a real sensor uses
(SerialSource -> Pipeline -> StepDetector), show the live dashboard, record an HDF5 file and print
the session summary. Finishes by itself after --duration seconds; Ctrl-C or SIGTERM stops early and
cleanly (recording finalized, summary or --json document printed, exit 130)."""
EPILOG = """examples:
  imuwalk demo                          # 30 s, records imuwalk-demo-<date>-<time>.h5 here
  imuwalk demo --duration 60 --record walk.h5
  imuwalk demo --duration 10 --json > demo.json
  imuwalk detect walk.h5 && imuwalk report walk.h5 -o walk.png   # afterwards"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=30.0, metavar="S",
                   help="length of the emulated walk, s (5..3600, default 30)")
    p.add_argument("--record", default=None, metavar="FILE",
                   help="HDF5 file to record (default imuwalk-demo-<date>-<time>.h5 in the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite the --record file if it exists")
    p.add_argument("--json", action="store_true", help="no dashboard; print one JSON document at the end")
    p.add_argument("--rate", type=float, default=100.0, metavar="HZ",
                   help="emulated sample rate, Hz (50..1000, default 100)")
    p.add_argument("--goal", type=float, default=10.0, metavar="MIN",
                   help="daily backward-walking goal, minutes (default 10)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the emulated walk (default 1)")


def demo_segments(duration_s: float) -> list[tuple[float, str]]:
    """(duration s, label) plan of the demo walk: forward, a pause, backward, then forward again."""
    d = float(duration_s)
    if d < 20:
        a = d - 1.0
        return [(1.0, "still"), (0.4 * a, "forward"), (0.6 * a, "backward")]
    a = d - 5.0  # 1 s still at the start + a 4 s pause (longer than the 3 s bout pause)
    return [(1.0, "still"), (0.3 * a, "forward"), (4.0, "still"), (0.5 * a, "backward"), (0.2 * a, "forward")]


def _truth(emu: Any, walk: Any) -> dict:
    ic = walk.ic - walk.t[0]  # detector time = device clock since the first sample (no drift emulated)
    d = walk.stride_direction
    return {
        "duration_s": float(emu.duration_s),
        "rate_hz": float(emu.rate_hz),
        "placement": walk.placement,
        "strides_forward": int((d == 1).sum()),
        "strides_backward": int((d == -1).sum()),
        "strides_other": int((d == 0).sum()),
        "segments": [{"start_s": float(a), "end_s": float(b), "label": str(lab)}
                     for a, b, lab in walk.segments],
        "ic_s": [float(x) for x in ic],
        "direction": [int(x) for x in d],
    }


def run(args: argparse.Namespace) -> int:
    from imuwalk.cli.main import CliError, UsageError, info

    if not (5.0 <= args.duration <= 3600.0):
        raise UsageError(f"--duration: expected 5..3600 s, got {args.duration:g}")
    if not (50.0 <= args.rate <= 1000.0):
        raise UsageError(f"--rate: expected 50..1000 Hz, got {args.rate:g}")
    if not (args.goal > 0 and math.isfinite(args.goal)):
        raise UsageError(f"--goal: expected a positive number of minutes, got {args.goal:g}")
    if not (0 <= args.seed < 2**32):
        raise UsageError(f"--seed: expected an integer 0..4294967295, got {args.seed}")
    require("h5py", "demo", extra="cli")
    require("serial", "demo", extra="cli")
    if not args.json:
        try:
            import rich  # noqa: F401
        except ImportError:
            raise CliError("the dashboard needs rich: pip install 'imuwalk[cli]' (or use --json)") from None

    path = Path(args.record) if args.record else Path.cwd() / time.strftime("imuwalk-demo-%Y%m%d-%H%M%S.h5")
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"--record: use a .h5 file name, got {str(path)!r}")

    from imuwalk.cli.session import LiveSession, MountPlan
    from imuwalk.core.direction import Mount
    from imuwalk.sources.emulator import DeviceEmulator
    from imuwalk.sources.gaitgen import generate_walk

    walk = generate_walk(duration_s=args.duration, rate_hz=args.rate, placement="shank",
                         segments=demo_segments(args.duration), seed=args.seed)
    # The emulated sensor sits in gaitgen's leg frame: +y points to the wearer's right.
    mount = Mount(right="+y", side=walk.side, source="given")
    emu = DeviceEmulator.from_walk(walk)
    show = not args.json and args.verbosity >= 0
    sess = LiveSession("", meta=emu.meta, reconnect=False, placement="shank",
                       plan=MountPlan("given", mount=mount), record=path, force=args.force,
                       session_attrs={"kind": "demo", "seed": args.seed, "duration_s": args.duration},
                       goal_minutes=args.goal, display="auto" if show else "none", plain_interval_s=5.0,
                       log=lambda msg, level=0: info(args, msg, level=level), announce=False)
    sess.check()  # an existing --record file etc.: one line, before anything starts
    from imuwalk.warmup import SLOW_MESSAGE, warm_up

    # every kernel (detector, decoder, the emulator's encoder), before the device starts its clock
    warm_up(on_slow=lambda: info(args, SLOW_MESSAGE))
    port = emu.open_pty()
    # the device starts sending once the session has opened the port, so the reader sees the first sample
    # (the detector's time base and the truth's start there, also on a machine too busy to open it at once)
    sess.on_open = emu.run_pty
    info(args, f"emulated device streaming on {port} ({emu.rate_hz:.0f} Hz, {args.duration:g} s)", level=1)
    sess.port = port
    sess.title = f"imuwalk demo — emulated sensor on {port}"
    old_term = _term_as_interrupt()
    try:
        # data time of the last sample = duration - 1/rate: stop when it has arrived;
        # timeout_s is the safety net that never lets a stalled link hang the demo
        res = sess.run(duration_s=max(0.5, emu.duration_s - 1.5 / emu.rate_hz), timeout_s=args.duration + 15.0)
    finally:
        emu.stop()
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    summary, link = res.summary, _link_dict(res.link)
    n_samples = res.recording["samples"] if res.recording else 0
    rec_err = res.recorder_error
    if args.json:
        from imuwalk.sinks.jsonout import dumps

        print(dumps(res.document(extra={"demo": _truth(emu, walk)})))
    else:
        out = sys.stdout
        print(file=out)
        print("Session summary" + (" (interrupted)" if res.interrupted else ""), file=out)
        print(summary.text(), file=out)
        t = _truth(emu, walk)
        print(f"Emulated walk: {t['strides_forward']} forward + {t['strides_backward']} backward strides; "
              f"detected {summary.strides_forward} + {summary.strides_backward}", file=out)
        print(f"Link: {link.get('samples', 0)} samples, {link.get('frames_lost', 0)} frames lost, "
              f"{link.get('crc_errors', 0)} CRC errors", file=out)
        print(f"Recording: {path} ({n_samples} samples)", file=out)
        print(f"Next: imuwalk detect {path}   |   imuwalk report {path} -o report.png", file=out)
    if rec_err:
        raise CliError(f"recording failed: {rec_err}")
    return 130 if res.interrupted else 0


def _term_as_interrupt():
    """SIGTERM ends the demo like Ctrl-C (recording finalized, summary or JSON printed, exit 130). Returns
    the previous handler (None when not on the main thread, where handlers cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_term(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, on_term)


def _link_dict(stats: dict) -> dict:
    from imuwalk.cli.session import link_dict

    return link_dict(stats)
