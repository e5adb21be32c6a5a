"""Embed imuwalk's live path in your own program: serial device -> stride detector -> HDF5 recording.

Every stride is printed as soon as the detector emits it (a fraction of a second after the foot lands),
with its walking direction and the running backward-walking minutes; the samples, the raw bytes and the
strides go to a crash-safe HDF5 file.

    python examples/live_serial.py --port /dev/ttyACM0 --record walk.h5   # a device (firmware_bridge/)
    python examples/live_serial.py                                        # no hardware: built-in emulator

Ctrl-C ends it; the recording is finalized either way. Needs the ``cli`` extra (pyserial, h5py).
"""

from __future__ import annotations

import argparse
import threading

import imuwalk


def emulated_port(speed: float) -> tuple[str, object]:
    """Start the device emulator on a pseudo-terminal: 20 s of walking forward, then backward."""
    from imuwalk.sources.emulator import DeviceEmulator
    from imuwalk.sources.gaitgen import generate_walk

    walk = generate_walk(rate_hz=100.0, placement="shank", seed=1,
                         segments=[(1.5, "still"), (8.0, "forward"), (2.0, "still"), (8.0, "backward"),
                                   (1.5, "still")])
    # a device buffer that holds the whole walk: faster than real time on a busy machine, the reader may fall
    # behind for a moment, and a real device's small buffer would then drop frames
    emu = DeviceEmulator(walk.t, walk.acc, walk.gyr, speed=speed, tx_buffer=1 << 20)
    return emu.open_pty(), emu


def stop_after_stream(emu, src, timeout_s: float = 5.0) -> None:
    """When the emulator has sent everything, let the source read the rest, then stop it."""
    import time

    emu.wait()
    deadline = time.monotonic() + timeout_s
    while src.stats["samples"] < emu.counts["samples_sent"] and time.monotonic() < deadline:
        time.sleep(0.02)
    src.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", help="serial port or pyserial URL (default: start the device emulator)")
    ap.add_argument("--record", default="live_serial.h5", help="HDF5 file to record (default %(default)s)")
    ap.add_argument("--placement", default="shank", choices=("shank", "ankle", "foot"))
    ap.add_argument("--mount", default=None, metavar="AXIS",
                    help="sensor axis pointing to the wearer's right, e.g. -y (default: automatic direction)")
    ap.add_argument("--speed", type=float, default=4.0, help="emulator only: real-time factor")
    a = ap.parse_args(argv)

    emu = None
    port = a.port
    if port is None:
        port, emu = emulated_port(a.speed)

    mount = imuwalk.Mount(right=a.mount) if a.mount else None
    det = imuwalk.StepDetector(placement=a.placement, mount=mount)
    tracker = imuwalk.SummaryTracker(goal_minutes=10.0)
    names = {1: "forward", -1: "backward", 0: "other"}

    rec = imuwalk.Recorder(a.record, placement=a.placement, params=det.params_, overwrite=True)
    # reconnect=True keeps a real device's session alive across unplugging; the emulator's session ends
    # when its stream does
    src = imuwalk.SerialSource(port, reconnect=emu is None, on_raw=lambda data, t_ns: rec.write_raw(data))

    def show(rows) -> None:
        if len(rows) == 0:
            return
        rec.write_strides(rows)
        tracker.add(rows)
        s = tracker.summary()
        for r in rows:
            stride_s = "  –  " if r["stride_time_s"] != r["stride_time_s"] else f"{r['stride_time_s']:.2f}"
            print(f"stride {int(r['stride_index']):3d}  landed at {r['t_ic']:7.2f} s  "
                  f"{names[int(r['direction'])]:8s}  stride {stride_s} s  "
                  f"backward {s.backward_minutes:.2f} min", flush=True)

    try:
        with src:
            if emu is not None:  # the reader is open: stream, and stop the source when the stream ends
                emu.run_pty()
                threading.Thread(target=stop_after_stream, args=(emu, src), daemon=True).start()
            for blk in src:  # SampleBlocks: t (N,) s, acc (N, 3) m/s², gyr (N, 3) rad/s, seq, raw counts
                rec.write_block(blk)
                show(det.update(blk.t, blk.acc, blk.gyr))
    except KeyboardInterrupt:
        pass
    finally:
        show(det.finish())
        rec.close()
        if emu is not None:
            emu.stop()

    s = tracker.summary()
    print(f"{s.steps_forward} forward and {s.steps_backward} backward steps, "
          f"{s.backward_minutes:.2f} min backward; link: {src.stats['samples']} samples, "
          f"{src.stats.get('frames_lost', 0)} frames lost; recorded {a.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
