"""`imuwalk stream`: read a sensor on a serial port, detect strides live, print the result at the end."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

NAME = "stream"
HELP = "read a sensor on a serial port until Ctrl-C, detect strides live, print them (or one JSON document)"
DESCRIPTION = """Open PORT (a device path or any pyserial URL), decode the imuwalk wire protocol (or text
lines with --format text), run the streaming stride detector and print each stride as it is found. Ctrl-C
(SIGINT) or SIGTERM ends the session cleanly (exit 0) and prints the summary; --duration ends it after S
seconds. Survives unplug/replug of the sensor (reconnects every 0.5 s). With --json nothing is printed
until the end, then one JSON document {"strides": [...], "summary": {...}, "link": {...}} on stdout."""
EPILOG = """examples:
  imuwalk stream --port /dev/ttyACM0
  imuwalk stream --port /dev/ttyUSB0 --baud 460800 --placement foot --json > session.json
  imuwalk stream --port /dev/pts/3 --duration 60          # e.g. the port printed by `imuwalk emulate --pty`
  imuwalk stream --port /dev/ttyACM0 --format text --preset mpu6050 --rate 100   # text-line sketches"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", required=True, metavar="PORT", help="serial port or pyserial URL")
    p.add_argument("--baud", type=int, default=921600, metavar="N", help="baud rate (default 921600)")
    p.add_argument("--placement", choices=("shank", "ankle", "foot"), default="shank",
                   help="where the sensor is worn (default shank)")
    p.add_argument("--json", action="store_true", help="print one JSON document at the end")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--format", choices=("imuwalk", "text"), default="imuwalk",
                   help="wire format: imuwalk protocol (default) or text lines [t,]ax,ay,az,gx,gy,gz")
    p.add_argument("--preset", choices=("mpu6050",), default=None, help="text format: raw-count scale preset")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="text format: sample rate when the lines carry no timestamp")
    p.add_argument("--no-reconnect", action="store_true", help="end the session when the port goes away")


def stride_line(r) -> str:
    """One human-readable line of a stride row."""
    d = {1: "forward ", -1: "backward", 0: "unknown "}.get(int(r["direction"]), "unknown ")
    st = float(r["stride_time_s"])
    st_txt = f"{st:5.2f} s" if st == st else "   -   "
    return (f"stride {int(r['stride_index']):4d}  t_ic {float(r['t_ic']):9.3f} s  {d}  "
            f"stride {st_txt}  swing {float(r['swing_time_s']):4.2f} s")


def run(args: argparse.Namespace) -> int:
    from imuwalk.core.detector import StepDetector
    from imuwalk.core.summary import summarize
    from imuwalk.sources.serial import SerialSource, run_stream

    if args.duration is not None and not args.duration > 0:
        raise ValueError(f"--duration: expected > 0 s, got {args.duration:g}")
    if not args.baud > 0:
        raise ValueError(f"--baud: expected > 0, got {args.baud}")
    text_opts: dict = {}
    if args.format == "text":
        if args.preset:
            text_opts["preset"] = args.preset
        if args.rate:
            text_opts["rate_hz"] = args.rate
    elif args.preset or args.rate:
        raise ValueError("--preset/--rate: only used with --format text")
    try:
        import serial  # noqa: F401
    except ImportError:
        from imuwalk.cli.main import CliError

        raise CliError("stream needs pyserial: pip install 'imuwalk[serial]'") from None
    det = StepDetector(placement=args.placement)
    src = SerialSource(args.port, args.baud, reconnect=not args.no_reconnect, format=args.format,
                       text_options=text_opts)
    stop = threading.Event()

    def on_signal(signum, frame):  # noqa: ARG001
        stop.set()

    def on_rows(rows):
        if not args.json:
            for r in rows:
                print(stride_line(r), flush=True)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        src.start()  # OSError with one clear line: unknown port, permission denied, busy
        print(f"reading {args.port} ({args.placement}); Ctrl-C to stop", file=sys.stderr, flush=True)
        rows = run_stream(src, det, on_rows=on_rows, duration=args.duration, stop_event=stop)
    finally:
        src.stop()
        for s, h in old.items():
            signal.signal(s, h)
    link = src.stats
    link["gaps"] = [{k: v for k, v in g.items()} for g in src.gaps_]
    summary = summarize(rows)
    if args.json:
        from imuwalk.sinks.jsonout import dumps, result_document

        meta = src.meta_.to_dict() if src.meta_ is not None and hasattr(src.meta_, "to_dict") else None
        doc = result_document(rows, summary, extra={
            "link": link, "source": {"port": args.port, "baud": args.baud, "format": args.format,
                                     "placement": args.placement, "device": meta}})
        print(dumps(doc))
    else:
        s = summary.to_dict()
        print(f"{len(rows)} strides: {s.get('strides_forward', 0)} forward, {s.get('strides_backward', 0)} "
              f"backward; walking {s.get('forward_minutes', 0.0):.2f} min forward, "
              f"{s.get('backward_minutes', 0.0):.2f} min backward")
        print(f"link: {link.get('samples', 0)} samples, {link.get('frames_lost', 0)} lost, "
              f"{link.get('rejected', 0)} rejected, {link.get('reconnects', 0)} reconnects",
              file=sys.stderr)
    if src.error_ is not None and not isinstance(src.error_, OSError):
        raise src.error_
    return 0
