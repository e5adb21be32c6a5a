"""`imuwalk ports`: list the serial ports a sensor could be on."""

from __future__ import annotations

import argparse
import json

NAME = "ports"
HELP = "list candidate serial ports (USB serial adapters, Arduino/ESP32 boards)"
DESCRIPTION = """List the serial ports present (via pyserial's serial.tools.list_ports) with their
description and USB ids. Likely IMU boards (USB CDC / common USB-serial chips) are listed first; the port
`imuwalk stream` reads without --port is marked (--json: "stream_default": true)."""
EPILOG = """examples:
  imuwalk ports
  imuwalk ports --json
  imuwalk stream --port /dev/ttyACM0      # then read one
  imuwalk stream                          # or let it pick the one USB serial port plugged in"""

#: USB vendor ids of boards and USB-serial chips an IMU logger typically uses.
LIKELY_VIDS = {0x2341: "Arduino", 0x2A03: "Arduino", 0x239A: "Adafruit", 0x303A: "Espressif",
               0x2E8A: "Raspberry Pi", 0x10C4: "Silicon Labs CP210x", 0x1A86: "WCH CH34x",
               0x0403: "FTDI", 0x1915: "Nordic", 0x16C0: "Teensy"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--all", action="store_true", help="include ports without USB ids (e.g. ttyS*)")


def list_ports(include_all: bool = False) -> list[dict]:
    """Serial ports as dicts (device, description, hwid, vid, pid, serial_number, manufacturer, likely)."""
    from serial.tools import list_ports

    out = []
    for p in list_ports.comports():
        if p.vid is None and not include_all:
            continue
        out.append({"device": p.device, "description": p.description, "hwid": p.hwid, "vid": p.vid,
                    "pid": p.pid, "serial_number": p.serial_number, "manufacturer": p.manufacturer,
                    "likely": LIKELY_VIDS.get(p.vid) if p.vid is not None else None})
    out.sort(key=lambda d: (d["likely"] is None, d["device"]))
    return out


def pick_port(ports: list[dict]) -> dict:
    """The port ``imuwalk stream`` reads when no ``--port`` is given (or ``--port auto``): the one port with
    a USB id, or else the one likely IMU board among several (see :data:`LIKELY_VIDS`). ``ports``: what
    :func:`list_ports` returns. Raises ValueError with one line naming the candidates when it cannot tell."""
    usb = [d for d in ports if d["vid"] is not None]
    if len(usb) == 1:
        return usb[0]
    likely = [d for d in usb if d["likely"]]
    if len(likely) == 1:
        return likely[0]
    if not usb:
        raise ValueError("no USB serial port found: plug the sensor in, or pass --port "
                         "(`imuwalk ports --all` lists every port)")
    names = ", ".join(d["device"] for d in (likely or usb))
    raise ValueError(f"several serial ports could be the sensor ({names}): choose one with --port")


def same_board(chosen: dict, list_fn=None):
    """A ``port_resolver`` for SerialSource: the device node of the board ``chosen`` (a :func:`list_ports`
    dict) as it is plugged in now: same USB vendor/product id and serial number, preferring its old node.
    A board unplugged and plugged back may come back as another node (/dev/ttyACM0 -> /dev/ttyACM1 while the
    old one is still held). Returns the old node when the board is absent (opening it then fails and the
    source retries). ``list_fn``: the port lister (default :func:`list_ports`)."""
    key = (chosen["vid"], chosen["pid"], chosen["serial_number"])
    lister = list_fn or list_ports

    def resolve() -> str:
        try:
            now = [d for d in lister() if (d["vid"], d["pid"], d["serial_number"]) == key]
        except Exception:  # enumeration failed (e.g. udev busy): try the old node
            return chosen["device"]
        if not now or any(d["device"] == chosen["device"] for d in now):
            return chosen["device"]
        return now[0]["device"] if len(now) == 1 else chosen["device"]  # two identical boards: keep the node

    return resolve


def run(args: argparse.Namespace) -> int:
    ports = list_ports(args.all)
    try:
        default = pick_port(ports)["device"]
    except ValueError:
        default = None
    for d in ports:
        d["stream_default"] = d["device"] == default  # what `imuwalk stream` without --port reads
    if args.json:
        print(json.dumps(ports, indent=2))
        return 0
    if not ports:
        print("no serial ports found" + ("" if args.all else " (use --all to include ports without USB ids)"))
        return 0
    for d in ports:
        ids = f"{d['vid']:04x}:{d['pid']:04x}" if d["vid"] is not None else "-"
        hint = f"  [{d['likely']}]" if d["likely"] else ""
        mark = "  <- `imuwalk stream` reads this one without --port" if d["stream_default"] else ""
        print(f"{d['device']}\t{ids}\t{d['description']}{hint}{mark}")
    return 0
