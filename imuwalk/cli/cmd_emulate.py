"""`imuwalk emulate`: the built-in device emulator on a pseudo-terminal (or into a byte-log file)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

NAME = "emulate"
HELP = "emulate an imuwalk sensor on a pseudo-terminal (forward + backward walking, optional faults)"
DESCRIPTION = """Stream the exact bytes of the imuwalk firmware from a synthetic walk (forward and backward
bouts with ground truth) to a new pseudo-terminal, in real time. The first line printed is the PTY path:
point `imuwalk stream --port` (or any serial program) at it. Readers may disconnect and reconnect; while
nobody reads, frames are dropped like a real device drops them. Streams until Ctrl-C / SIGTERM (exit 0),
or, with --duration, until the walk has been sent once. --out writes the stream to a .imuraw file instead."""
EPILOG = """examples:
  imuwalk emulate --pty                              # prints /dev/pts/N, streams 200 Hz until Ctrl-C
  imuwalk emulate --pty --rate 1000 --duration 60 --link /tmp/imuwalk-dev
  imuwalk emulate --pty --faults bit_flip=0.001,garbage=0.0005,reset=30,unplug=20:2,seed=1
  imuwalk emulate --out walk.imuraw --duration 60    # as fast as possible into a byte log
  imuwalk emulate --out walk.imuraw --duration 60 --force   # replace an existing walk.imuraw
  imuwalk stream --port /dev/pts/N --json            # in another terminal

faults: bit_flip/truncate/drop_byte/garbage = probability per sample frame; reset=T (device reboot at T s);
unplug=T:D (link gone at T s for D s; the PTY is re-created, --link follows it); seed=N."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sink = p.add_mutually_exclusive_group()
    sink.add_argument("--pty", action="store_true", help="stream to a new pseudo-terminal (default)")
    sink.add_argument("--out", metavar="FILE", default=None, help="write the byte stream to FILE (.imuraw)")
    p.add_argument("--force", action="store_true", help="overwrite the --out file if it exists")
    p.add_argument("--link", metavar="PATH", default=None,
                   help="also keep a symlink PATH -> current PTY (stable across emulated unplugs)")
    p.add_argument("--rate", type=float, default=200.0, metavar="HZ", help="sample rate, Hz (default 200)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="length of the walk, s (default: a 120 s walk repeated until stopped)")
    p.add_argument("--placement", choices=("shank", "ankle", "foot"), default="shank",
                   help="emulated sensor placement (default shank)")
    p.add_argument("--faults", default=None, metavar="SPEC",
                   help="fault injection, e.g. bit_flip=0.001,seed=1")
    p.add_argument("--speed", type=float, default=1.0, metavar="X", help="real-time factor (default 1)")
    p.add_argument("--drift-ppm", type=float, default=0.0, metavar="PPM", help="device clock drift, ppm")
    p.add_argument("--acc-range", type=int, default=16, choices=(2, 4, 8, 16), metavar="G",
                   help="accelerometer range ±G (2, 4, 8, 16; default 16)")
    p.add_argument("--gyr-range", type=int, default=2000, choices=(250, 500, 1000, 2000), metavar="DPS",
                   help="gyroscope range ±DPS (250, 500, 1000, 2000; default 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the walk (default 0)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imuwalk.cli.main import CliError, UsageError, check_output
    from imuwalk.sources.emulator import DeviceEmulator, Faults, default_walk

    if not 20 <= args.rate <= 5000:
        raise UsageError(f"--rate: expected 20..5000 Hz, got {args.rate:g}")
    if args.duration is not None and not 4 <= args.duration <= 24 * 3600:
        raise UsageError(f"--duration: expected 4..86400 s, got {args.duration:g}")
    if not 0 < args.speed < float("inf"):
        raise UsageError(f"--speed: expected a real-time factor > 0, got {args.speed:g}")
    if not abs(args.drift_ppm) < 1e5:
        raise UsageError(f"--drift-ppm: expected -100000..100000 ppm, got {args.drift_ppm:g}")
    if not 0 <= args.seed < 2**32:
        raise UsageError(f"--seed: expected an integer 0..4294967295, got {args.seed}")
    if args.out and args.link:
        raise UsageError("--link: only with --pty (--out writes a file, there is no port to link to)")
    try:
        faults = Faults.parse(args.faults) if args.faults else None
    except (ValueError, TypeError) as e:
        raise UsageError(f"--faults: {str(e).removeprefix('faults: ')}") from None
    loop = args.duration is None
    if args.out and loop:
        raise UsageError("--duration: required with --out (the file needs an end)")
    if args.out:
        check_output(Path(args.out), args.force)
    walk = default_walk(args.rate, 120.0 if loop else args.duration, args.placement, args.seed)
    emu = DeviceEmulator.from_walk(walk, faults=faults, loop=loop, speed=args.speed, drift_ppm=args.drift_ppm,
                                   acc_range_g=args.acc_range, gyr_range_dps=args.gyr_range)
    if args.out:
        path = emu.write_file(args.out)
        print(path, flush=True)
        print(f"{emu.counts['samples_sent']} samples, {emu.counts['bytes']} bytes", file=sys.stderr)
        return 0
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            port = emu.run_pty(link=args.link)
        except OSError as e:
            raise CliError(f"cannot create a pseudo-terminal: {e}") from e
        print(port, flush=True)
        where = emu.port + (f" (link {args.link})" if args.link else "")
        print(f"emulating {args.placement} sensor at {emu.rate_hz:g} Hz on {where}; Ctrl-C to stop",
              file=sys.stderr, flush=True)
        while not stop.wait(0.2):
            if not emu.running:
                break
    finally:
        emu.stop()
        for s, h in old.items():
            signal.signal(s, h)
    if emu.error_ is not None:
        raise CliError(f"emulator failed: {emu.error_}")
    print(f"sent {emu.counts['samples_sent']} samples ({emu.counts['tx_dropped']} dropped while nobody read)",
          file=sys.stderr)
    return 0
