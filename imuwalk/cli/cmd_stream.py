"""`imuwalk stream`: a real sensor on a serial port — live dashboard, recording, mount, summary."""

from __future__ import annotations

import argparse
import math
import sys

from imuwalk._optional import require
from imuwalk.cli.cmd_detect import allow_negative_axes, mount_from_axis
from imuwalk.cli.params import add_param_argument, parse_params

NAME = "stream"
HELP = "a real sensor on a serial port: live dashboard, recording, walking direction, session summary"
DESCRIPTION = """Open PORT (a device path or any pyserial URL), decode the imuwalk wire protocol (or text
lines with --format text), detect strides and their walking direction live, and show the dashboard
(on a terminal; plain status and stride lines otherwise). --record FILE writes an HDF5 recording (plus
its raw byte log) while streaming. Ctrl-C (SIGINT) or SIGTERM ends the session cleanly (exit 0): the
recording is finalized and the summary printed; --duration ends it after S seconds. Survives unplug and
replug of the sensor (reconnects every 0.5 s) unless --no-reconnect.

Which way is forward:
  --mount AXIS   the sensor axis that points to the wearer's right (+x, -x, +y, -y, +z, -z);
  --calibrate    walk forward for the first strides (--calibrate-strides, default 5): the mount is
                 computed from them, stored for this device (its id comes from the device, or
                 --device NAME) in the user config (mounts.json in $IMUWALK_CONFIG or
                 ~/.config/imuwalk), and those strides are shown once it is done;
  neither        the stored mount of this device if there is one, else automatic: forward = the
                 dominant swing of the first strides (flagged in the summary and the JSON document) —
                 wrong for a session that is backward from the start (treadmill): calibrate once.

With --json nothing else is printed on stdout: one JSON document at the end,
{"strides": [...], "summary": {...}, "link": {...}, "recording": {...}, "mount": {...}, "source": {...}}."""
EPILOG = """examples:
  imuwalk stream --record walk.h5                       # the one USB serial port plugged in
  imuwalk stream --port /dev/ttyACM0 --record walk.h5
  imuwalk stream --port /dev/ttyACM0 --calibrate          # once per sensor: walk forward at the start
  imuwalk stream --port /dev/ttyACM0 --record treadmill.h5 --goal 15   # later: uses the stored mount
  imuwalk stream --port /dev/ttyUSB0 --mount -y --placement foot --json > session.json
  imuwalk stream --port /dev/pts/3 --duration 60          # e.g. the port printed by `imuwalk emulate --pty`
  imuwalk stream --port /dev/ttyACM0 --format text --preset mpu6050 --rate 100 --device left-shank"""

def add_arguments(p: argparse.ArgumentParser) -> None:
    allow_negative_axes(p)
    p.add_argument("--port", default="auto", metavar="PORT",
                   help="serial port or pyserial URL (see `imuwalk ports`); default 'auto': the one USB serial "
                        "port plugged in (or the one likely IMU board among several)")
    p.add_argument("--baud", type=int, default=921600, metavar="N", help="baud rate (default 921600)")
    p.add_argument("--placement", choices=("shank", "ankle", "foot"), default="shank",
                   help="where the sensor is worn (default shank)")
    p.add_argument("--record", default=None, metavar="FILE", help="record an HDF5 file (.h5) while streaming")
    p.add_argument("--force", action="store_true", help="overwrite the --record file if it exists")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--mount", default=None, metavar="AXIS",
                   help="sensor axis pointing to the wearer's right: +x, -x, +y, -y, +z or -z")
    g.add_argument("--calibrate", action="store_true",
                   help="take the first strides as forward walking, compute and store the mount")
    p.add_argument("--calibrate-strides", type=int, default=None, metavar="N",
                   help="strides used by --calibrate (3..200, default 5)")
    p.add_argument("--device", default=None, metavar="NAME",
                   help="name of this sensor for the mount store (default: the id the device sends)")
    p.add_argument("--goal", type=float, default=10.0, metavar="MIN",
                   help="daily backward-walking goal, minutes (default 10)")
    p.add_argument("--json", action="store_true", help="no dashboard; print one JSON document at the end")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--format", choices=("imuwalk", "text"), default="imuwalk",
                   help="wire format: imuwalk protocol (default) or text lines [t,]ax,ay,az,gx,gy,gz")
    p.add_argument("--preset", choices=("mpu6050",), default=None, help="text format: raw-count scale preset")
    p.add_argument("--rate", type=float, default=None, metavar="HZ",
                   help="text format: sample rate when the lines carry no timestamp")
    p.add_argument("--line-rate", type=float, default=None, metavar="HZ",
                   help="text format with a coarse timestamp column (e.g. a 1-s clock): the expected line rate, "
                        "used to spread repeated stamps until the rate has been measured (default 100)")
    p.add_argument("--no-reconnect", action="store_true", help="end the session when the port goes away")
    add_param_argument(p)


def stride_line(r) -> str:
    """One human-readable line of a stride row."""
    d = {1: "forward ", -1: "backward", 0: "unknown "}.get(int(r["direction"]), "unknown ")
    st = float(r["stride_time_s"])
    st_txt = f"{st:5.2f} s" if st == st else "   -   "
    return (f"stride {int(r['stride_index']):4d}  t_ic {float(r['t_ic']):9.3f} s  {d}  "
            f"stride {st_txt}  swing {float(r['swing_time_s']):4.2f} s")


def _plan(args: argparse.Namespace):
    """MountPlan from --mount/--calibrate/--device (UsageError on bad values)."""
    from imuwalk.cli.main import UsageError
    from imuwalk.cli.session import MountPlan

    if args.calibrate_strides is not None and not args.calibrate:
        raise UsageError("--calibrate-strides: only used with --calibrate")
    n = 5 if args.calibrate_strides is None else args.calibrate_strides
    if not 3 <= n <= 200:
        raise UsageError(f"--calibrate-strides: expected 3..200 strides, got {n}")
    if args.device is not None and not args.device.strip():
        raise UsageError("--device: expected a non-empty name")
    device = args.device.strip() if args.device else None
    if args.mount is not None:
        return MountPlan("given", mount=mount_from_axis(args.mount), device=device)
    return MountPlan("calibrate" if args.calibrate else "auto", n_strides=n, device=device)


def run(args: argparse.Namespace) -> int:
    from imuwalk.cli.main import CliError, UsageError, info

    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        raise UsageError(f"--duration: expected > 0 s, got {args.duration:g}")
    if not args.baud > 0:
        raise UsageError(f"--baud: expected > 0, got {args.baud}")
    if not (args.goal > 0 and math.isfinite(args.goal)):
        raise UsageError(f"--goal: expected a positive number of minutes, got {args.goal:g}")
    text_opts: dict = {}
    if args.format == "text":
        if args.preset:
            text_opts["preset"] = args.preset
        if args.rate:
            if not args.rate > 0:
                raise UsageError(f"--rate: expected > 0 Hz, got {args.rate:g}")
            text_opts["rate_hz"] = args.rate
        if args.line_rate is not None:
            if not (args.line_rate > 0 and math.isfinite(args.line_rate)):
                raise UsageError(f"--line-rate: expected > 0 Hz, got {args.line_rate:g}")
            text_opts["nominal_rate_hz"] = args.line_rate
    elif args.preset or args.rate or args.line_rate is not None:
        raise UsageError("--preset/--rate/--line-rate: only used with --format text")
    if args.record is not None and not args.record.lower().endswith((".h5", ".hdf5")):
        raise UsageError(f"--record: use a .h5 file name, got {args.record!r}")
    plan = _plan(args)
    overrides = parse_params(args.param, (args.placement,))
    params_info = {"detector_params": overrides} if overrides else {}  # for the JSON document's source
    require("serial", "stream", extra="cli")
    resolver = None
    if args.port == "auto":
        from imuwalk.cli.cmd_ports import list_ports, pick_port, same_board

        try:
            chosen = pick_port(list_ports(include_all=True))
        except ValueError as e:
            raise CliError(str(e)) from None
        args.port = chosen["device"]
        resolver = same_board(chosen)  # after an unplug: the same board, whatever node it comes back as
        info(args, f"using {args.port} ({chosen['description']}; --port chooses another)")
    if args.record is not None:
        require("h5py", "--record", extra="cli")

    from imuwalk.cli.session import LiveSession, describe_mount

    display = "none"
    if not args.json and args.verbosity >= 0:
        display = "auto"
        if sys.stdout.isatty():
            try:
                import rich  # noqa: F401
            except ImportError:
                display = "plain"
                info(args, "the live dashboard needs rich (pip install 'imuwalk[cli]'); plain lines instead")
    plain_lines = display == "plain" or (display == "auto" and not sys.stdout.isatty())

    def on_rows(rows) -> None:
        if plain_lines:
            for r in rows:
                print(stride_line(r), flush=True)

    sess = LiveSession(args.port, baud=args.baud, reconnect=not args.no_reconnect, format=args.format,
                       text_options=text_opts, placement=args.placement, plan=plan, record=args.record,
                       force=args.force, goal_minutes=args.goal, display=display,
                       title=f"imuwalk stream — {args.port}", plain_interval_s=10.0, on_rows=on_rows,
                       session_attrs={"kind": "stream", "port": args.port, "baud": args.baud,
                                      "format": args.format},
                       handle_signals=True, log=lambda msg, level=0: info(args, msg, level=level),
                       detector_params=overrides, port_resolver=resolver)
    sess.check()  # a missing port, an existing --record file, ...: one line, before the warm-up
    from imuwalk.warmup import SLOW_MESSAGE, warm_up

    warm_up(on_slow=lambda: info(args, SLOW_MESSAGE))  # every kernel, before the port is opened
    res = sess.run(timeout_s=args.duration)
    src = sess.source
    if src is not None and src.error_ is not None and not isinstance(src.error_, OSError):
        raise src.error_
    if res.link.get("samples", 0) == 0:
        info(args, f"no samples received from {args.port} (is the device streaming? the right --baud/--format?)",
             level=-1)
    meta = res.meta.to_dict() if res.meta is not None and hasattr(res.meta, "to_dict") else None
    if args.json:
        from imuwalk.sinks.jsonout import dumps

        print(dumps(res.document(full_link=True, extra={
            "source": {"port": args.port, "baud": args.baud, "format": args.format,
                       "placement": args.placement, "device": meta, "device_key": res.device_id,
                       **params_info}})))
    else:
        out = sys.stdout
        s, link = res.summary, res.link
        print(file=out)
        print("Session summary" + (" (stopped)" if res.signalled or res.interrupted else ""), file=out)
        print(s.text(), file=out)
        print(f"Mount   : {describe_mount(res.mount)}", file=out)
        print(f"Link    : {link.get('samples', 0)} samples, {link.get('frames_lost', 0)} frames lost, "
              f"{link.get('crc_errors', 0)} CRC errors, {link.get('reconnects', 0)} reconnects", file=out)
        if res.recording is not None:
            p = res.recording["path"]
            print(f"Recording: {p} ({res.recording['samples']} samples)", file=out)
            print(f"Next: imuwalk detect {p}   |   imuwalk report {p} -o report.png", file=out)
    if res.recorder_error:
        raise CliError(f"recording failed: {res.recorder_error}")
    return 0
