"""DeviceEmulator: the firmware's exact byte stream from generated gait or a recording, with fault injection.

The bytes come from :mod:`imuwalk.sources.protocol` (``encode_samples``/``encode_meta``/``encode_status``),
the same codec the C firmware is checked against, and follow the firmware rules: META at boot and every second
of device time, STATUS every second, BOOT flag on the frames of the first second after a (re)boot, one
``seq`` per frame of any type (mod 2**16), device µs clock (u32 on the wire) with configurable drift (ppm)
and offset, int16 counts for configurable ranges (saturating, counted). A frame that does not fit the TX
buffer is dropped and counted, and the next sample carries ``FLAG_TX_DROPPED`` (like the firmware).

Faults (:class:`Faults`, deterministic with ``seed``), applied to IMU_SAMPLE frames only, each logged in
:attr:`DeviceEmulator.log_` with the frame's seq so that tests can check counts exactly:

* ``bit_flip``: one bit of one non-delimiter byte flipped (never creating a 0x00): exactly one frame rejected.
* ``truncate``: the frame is cut short before its delimiter: exactly one frame rejected.
* ``drop_byte``: one non-delimiter byte removed: exactly one frame rejected.
* ``garbage``: a burst of zero-free random bytes (or a boot banner) before a frame; it glues to that frame,
  so exactly one frame is rejected and sync is back at the next frame.
* ``reset_at``: device reset at these times (s of stream time): seq and device clock restart at 0, META,
  BOOT flag for 1 s.
* ``disconnect_at``: ``[(t_s, duration_s), ...]`` the link goes away (PTY closed / URL channel unplugged);
  the device keeps sampling and those frames are lost (logged as ``lost_unplugged``).

Sinks: :meth:`to_bytes` (whole stream, as fast as possible), :meth:`write_file` (``.imuraw``), :meth:`run_pty`
(POSIX pseudo-terminal, real time; raw mode; the emulator keeps the slave open so readers may come and go;
when nobody reads, the master's buffer fills and frames are dropped as TX drops instead of blocking;
``link=`` keeps a stable symlink to the current slave, like a udev ``/dev/serial/by-id`` path, and is
re-pointed after an emulated unplug) and :meth:`run_url` (in-process pyserial URL ``imuemu://NAME``, works
on every OS).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import math
import numbers
import os
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imuwalk._optional import require
from imuwalk.units import DEG2RAD, G0

__all__ = ["DeviceEmulator", "Faults", "default_walk", "URL_SCHEME", "acc_lsb_per_g", "gyr_lsb_per_dps"]

URL_SCHEME = "imuemu"

_GYR_SENS = {125: 262.4, 250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4, 4000: 8.2}
BOOT_BANNER = b"ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"


def acc_lsb_per_g(range_g: int) -> float:
    """Counts per g of an accelerometer with full scale ±range_g (32768 / range)."""
    return 32768.0 / float(range_g)


def gyr_lsb_per_dps(range_dps: int) -> float:
    """Counts per °/s of a gyroscope with full scale ±range_dps (datasheet sensitivities for the usual
    ranges, e.g. 16.4 for ±2000 °/s; else 32768 / range)."""
    return _GYR_SENS.get(int(range_dps), 32768.0 / float(range_dps))


@dataclass
class Faults:
    """Fault injection plan. Rates are probabilities per IMU_SAMPLE frame (0..1); times are seconds of
    stream time (from the first sample). ``seed`` makes the plan reproducible."""

    bit_flip: float = 0.0
    truncate: float = 0.0
    drop_byte: float = 0.0
    garbage: float = 0.0
    garbage_len: tuple[int, int] = (8, 120)
    reset_at: list[float] = field(default_factory=list)
    reset_gap_s: float = 0.05
    disconnect_at: list[tuple[float, float]] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self):
        for name in ("bit_flip", "truncate", "drop_byte", "garbage"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name}: expected a probability in [0, 1], got {v!r}")
        if self.bit_flip + self.truncate + self.drop_byte + self.garbage > 1.0:
            raise ValueError("bit_flip + truncate + drop_byte + garbage: the fault rates must sum to <= 1")
        lo, hi = self.garbage_len
        if not (1 <= lo <= hi <= 200):
            raise ValueError(f"garbage_len: expected 1 <= lo <= hi <= 200, got {self.garbage_len!r}")
        for t in self.reset_at:
            if not (isinstance(t, numbers.Real) and 0.0 <= t < math.inf):
                raise ValueError(f"reset_at: expected times >= 0 s, got {t!r}")
        for item in self.disconnect_at:
            if (len(item) != 2 or not all(isinstance(x, numbers.Real) for x in item)
                    or not (0.0 <= item[0] < math.inf and 0.0 < item[1] < math.inf)):
                raise ValueError(f"disconnect_at: expected (t_s >= 0, duration_s > 0) pairs, got {item!r}")
        if not (isinstance(self.seed, numbers.Integral) and 0 <= self.seed < 2**32):
            raise ValueError(f"seed: expected an integer 0..4294967295, got {self.seed!r}")
        if not self.reset_gap_s >= 0:
            raise ValueError(f"reset_gap_s: expected >= 0, got {self.reset_gap_s!r}")

    @property
    def any_frame_faults(self) -> bool:
        return (self.bit_flip + self.truncate + self.drop_byte + self.garbage) > 0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """From a CLI string like ``"bit_flip=0.001,garbage=0.0005,reset=30,unplug=20:2,seed=1"``
        (``unplug=T:D``: at T s for D s; keys may repeat)."""
        kw: dict[str, Any] = {"reset_at": [], "disconnect_at": []}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if "=" not in part:
                raise ValueError(f"faults: expected key=value, got {part!r}")
            k, v = (s.strip() for s in part.split("=", 1))
            try:
                if k in ("bit_flip", "truncate", "drop_byte", "garbage"):
                    kw[k] = float(v)
                elif k == "seed":
                    kw["seed"] = int(v)
                    if not 0 <= kw["seed"] < 2**32:
                        raise ValueError(f"faults: seed: expected an integer 0..4294967295, got {part!r}")
                elif k == "reset":
                    t = float(v)
                    if not 0.0 <= t < math.inf:
                        raise ValueError(f"faults: reset=T: expected a time T >= 0 s, got {part!r}")
                    kw["reset_at"].append(t)
                elif k in ("unplug", "disconnect"):
                    t, sep, d = v.partition(":")
                    if not sep or not d.strip():
                        raise ValueError(f"faults: {k}=T:D: expected a time T and a duration D in s "
                                         f"(e.g. {k}=20:2), got {part!r}")
                    t0, dur = float(t), float(d)
                    if not (0.0 <= t0 < math.inf and 0.0 < dur < math.inf):
                        raise ValueError(f"faults: {k}=T:D: expected T >= 0 s and D > 0 s, got {part!r}")
                    kw["disconnect_at"].append((t0, dur))
                else:
                    raise ValueError(f"faults: unknown fault {k!r} (bit_flip, truncate, drop_byte, garbage, "
                                     "reset, unplug, seed)")
            except ValueError as e:
                if "faults:" in str(e):
                    raise
                raise ValueError(f"faults: bad value in {part!r}") from e
        return cls(**kw)


def default_walk(rate_hz: float = 200.0, duration_s: float = 60.0, placement: str = "shank", seed: int = 0):
    """The demo walk (a :class:`~imuwalk.sources.gaitgen.GeneratedWalk`): still 5 %, forward 40 %, still 5 %,
    backward 30 %, still 5 %, forward 15 % of ``duration_s``."""
    from imuwalk.sources.gaitgen import generate_walk

    if not (isinstance(duration_s, (int, float)) and duration_s >= 4.0):
        raise ValueError(f"duration_s: expected >= 4 s for the demo walk, got {duration_s!r}")
    d = float(duration_s)
    plan = [("still", 0.05), ("forward", 0.4), ("still", 0.05), ("backward", 0.3), ("still", 0.05),
            ("forward", 0.15)]
    return generate_walk(duration_s=d, rate_hz=rate_hz, placement=placement, seed=seed,
                         segments=[(frac * d, label) for label, frac in plan])


# ------------------------------------------------------------------------------------------------------
# in-process pyserial URL handler: imuemu://NAME


class _Channel:
    """A bounded byte pipe between an emulator (writer) and one pyserial reader."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.buf = bytearray()
        self.cond = threading.Condition()
        self.plugged = True
        self.closed = False
        self.opened = 0
        self.host_writes = bytearray()

    def write(self, data: bytes, block: bool, stop: threading.Event | None = None) -> bool:
        """Append ``data``; returns False if it did not fit (non-blocking) or the channel is unplugged."""
        with self.cond:
            while True:
                if not self.plugged or self.closed:
                    return False
                if len(self.buf) + len(data) <= self.capacity:
                    self.buf += data
                    self.cond.notify_all()
                    return True
                if not block or (stop is not None and stop.is_set()):
                    return False
                self.cond.wait(0.05)


_CHANNELS: dict[str, _Channel] = {}
_CHANNEL_IDS = itertools.count(1)


def _make_url_module() -> types.ModuleType:
    from serial.serialutil import PortNotOpenError, SerialBase, SerialException

    class Serial(SerialBase):
        """pyserial port reading an in-process emulator channel (``imuemu://NAME``)."""

        def open(self):
            if self._port is None:
                raise SerialException("port must be configured before it can be used")
            name = str(self._port).split("://", 1)[-1].strip("/")
            ch = _CHANNELS.get(name)
            if ch is None or ch.closed:
                raise SerialException(f"could not open port {self._port}: [Errno 2] No such emulator")
            if not ch.plugged:
                raise SerialException(f"could not open port {self._port}: device unplugged")
            self._ch = ch
            ch.opened += 1
            self.is_open = True

        def close(self):
            self.is_open = False
            ch = getattr(self, "_ch", None)
            if ch is not None:
                with ch.cond:
                    ch.cond.notify_all()

        def _reconfigure_port(self):
            pass

        def _check(self):
            if not self.is_open:
                raise PortNotOpenError()
            ch = self._ch
            if not ch.plugged or ch.closed:
                raise SerialException("device reports readiness to read but returned no data "
                                      "(device disconnected or multiple access on port?)")
            return ch

        @property
        def in_waiting(self):
            return len(self._check().buf)

        def read(self, size=1):
            ch = self._check()
            deadline = None if self._timeout is None else time.monotonic() + self._timeout
            with ch.cond:
                self._cancel = False
                while not ch.buf:
                    if not ch.plugged or ch.closed:
                        raise SerialException("device reports readiness to read but returned no data "
                                              "(device disconnected or multiple access on port?)")
                    if getattr(self, "_cancel", False) or not self.is_open:
                        return b""
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return b""
                    ch.cond.wait(0.05 if left is None else min(left, 0.05))
                out = bytes(ch.buf[:size])
                del ch.buf[:size]
                ch.cond.notify_all()
                return out

        def cancel_read(self):
            self._cancel = True
            ch = getattr(self, "_ch", None)
            if ch is not None:
                with ch.cond:
                    ch.cond.notify_all()

        def write(self, data):
            ch = self._check()
            ch.host_writes += bytes(data)
            return len(data)

        def reset_input_buffer(self):
            ch = self._check()
            with ch.cond:
                ch.buf.clear()

        def reset_output_buffer(self):
            pass

    mod = types.ModuleType(f"imuwalk.sources.emulator.protocol_{URL_SCHEME}")
    mod.Serial = Serial
    return mod


def register_url_handler() -> None:
    """Make ``serial.serial_for_url("imuemu://NAME")`` open in-process emulator channels."""
    serial = require("serial", "the emulator's pyserial URL (imuemu://)")

    key = f"{__name__}.protocol_{URL_SCHEME}"
    if key not in sys.modules:
        sys.modules[key] = _make_url_module()
    if __name__ not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(__name__)


# ------------------------------------------------------------------------------------------------------
# the emulator


class DeviceEmulator:
    """Emulate an imuwalk device streaming ``t``/``acc``/``gyr`` (SI units) as firmware bytes.

    Parameters
    ----------
    t : (N,) s, uniformly sampled; acc : (N, 3) m/s²; gyr : (N, 3) rad/s.
    truth : optional ground truth kept for tests (e.g. the GeneratedWalk).
    acc_range_g, gyr_range_dps : full scales of the emulated IMU (counts = round(value / scale), saturating).
    drift_ppm : device clock rate error (+100: the device clock runs 100 ppm fast).
    offset_us : device clock value at the first sample (wraps at 2**32 on the wire).
    speed : real-time factor of the PTY/URL sinks (1 = real time, 10 = ten times faster).
    loop : repeat the recording forever (device clock and gait continue) instead of ending.
    faults : :class:`Faults` or a spec string for :meth:`Faults.parse`.
    tx_buffer : bytes the device may queue when the host is not reading before it drops frames.
    chunk_s : pacing step of the real-time sinks, s.
    uid, imu_model, fw_ver : META content.
    """

    def __init__(self, t, acc, gyr, *, truth: Any = None, acc_range_g: int = 16, gyr_range_dps: int = 2000,
                 drift_ppm: float = 0.0, offset_us: int = 0, speed: float = 1.0, loop: bool = False,
                 faults: Faults | str | None = None, tx_buffer: int = 4096, chunk_s: float = 0.002,
                 uid: int = 0x1A2B3C4D5E6F7081, imu_model: int = 1, fw_ver: int = 0x0100):
        t = np.asarray(t, dtype=np.float64)
        acc = np.asarray(acc, dtype=np.float64)
        gyr = np.asarray(gyr, dtype=np.float64)
        if t.ndim != 1 or t.shape[0] < 2:
            raise ValueError(f"t: expected a 1-D array of >= 2 times, got shape {t.shape}")
        n = t.shape[0]
        if acc.shape != (n, 3) or gyr.shape != (n, 3):
            raise ValueError(f"acc, gyr: expected shape ({n}, 3), got {acc.shape} and {gyr.shape}")
        dt = np.diff(t)
        if not np.all(dt > 0):
            raise ValueError("t: must be strictly increasing")
        period = float(np.median(dt))
        if np.max(np.abs(dt - period)) > 0.01 * period + 1e-9:
            raise ValueError("t: the emulator needs uniformly sampled data (resample first)")
        if not (isinstance(acc_range_g, int) and 1 <= acc_range_g <= 255):
            raise ValueError(f"acc_range_g: expected an int in [1, 255], got {acc_range_g!r}")
        if not (isinstance(gyr_range_dps, int) and 1 <= gyr_range_dps <= 65535):
            raise ValueError(f"gyr_range_dps: expected an int in [1, 65535], got {gyr_range_dps!r}")
        if not (isinstance(speed, (int, float)) and speed > 0):
            raise ValueError(f"speed: expected a factor > 0, got {speed!r}")
        if not (isinstance(drift_ppm, (int, float)) and abs(drift_ppm) < 1e5):
            raise ValueError(f"drift_ppm: expected |ppm| < 1e5, got {drift_ppm!r}")
        if not (isinstance(offset_us, int) and offset_us >= 0):
            raise ValueError(f"offset_us: expected an int >= 0, got {offset_us!r}")
        if not (isinstance(tx_buffer, int) and tx_buffer >= 64):
            raise ValueError(f"tx_buffer: expected an int >= 64 bytes, got {tx_buffer!r}")
        if not (isinstance(chunk_s, (int, float)) and 0 < chunk_s <= 1):
            raise ValueError(f"chunk_s: expected (0, 1] s, got {chunk_s!r}")
        if isinstance(faults, str):
            faults = Faults.parse(faults)
        self.faults = faults or Faults()
        from imuwalk.sources.protocol import DeviceMeta

        self.t = t - t[0]
        self._t_src0 = float(t[0])
        self.period = period
        self.rate_hz = 1.0 / period
        self.truth = truth
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.acc_lsb = acc_lsb_per_g(acc_range_g)
        self.gyr_lsb = gyr_lsb_per_dps(gyr_range_dps)
        a = np.round(acc / G0 * self.acc_lsb)
        g = np.round(gyr / DEG2RAD * self.gyr_lsb)
        self.saturated_samples = int(np.any((np.abs(a) > 32767) | (np.abs(g) > 32767), axis=1).sum())
        self.acc_counts = np.clip(a, -32768, 32767).astype(np.int16)
        self.gyr_counts = np.clip(g, -32768, 32767).astype(np.int16)
        self.drift_ppm = float(drift_ppm)
        self.offset_us = int(offset_us)
        self.speed = float(speed)
        self.loop = bool(loop)
        self.tx_buffer = tx_buffer
        self.chunk_s = float(chunk_s)
        self.meta = DeviceMeta(imu_model=imu_model, odr_hz=self.rate_hz,
                               acc_scale_g_per_lsb=1.0 / self.acc_lsb,
                               gyr_scale_dps_per_lsb=1.0 / self.gyr_lsb, acc_range_g=acc_range_g,
                               gyr_range_dps=gyr_range_dps, uid=uid, fw_ver=fw_ver)
        self._rng = np.random.default_rng(self.faults.seed)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        #: log of injected faults and link events: dicts with kind, seq, k (sample index), t (stream time s)
        self.log_: list[dict] = []
        self.port: str | None = None
        self.link: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._channel: _Channel | None = None
        self._channel_name: str | None = None
        self.error_: BaseException | None = None
        self._reset_state()

    # ---------------------------------------------------------------- construction helpers
    @classmethod
    def from_walk(cls, walk: Any, **kw) -> DeviceEmulator:
        """Emulate a :class:`~imuwalk.sources.gaitgen.GeneratedWalk` (t, acc, gyr + ground truth)."""
        return cls(walk.t, walk.acc, walk.gyr, truth=walk, **kw)

    @classmethod
    def from_block(cls, block: Any, **kw) -> DeviceEmulator:
        """Emulate a recording given as a SampleBlock (e.g. from ``read_file``)."""
        return cls(block.t, block.acc, block.gyr, truth=block, **kw)

    @classmethod
    def demo(cls, rate_hz: float = 200.0, duration_s: float = 60.0, placement: str = "shank", seed: int = 0,
             **kw) -> DeviceEmulator:
        """Emulator of :func:`default_walk` (forward and backward bouts)."""
        return cls.from_walk(default_walk(rate_hz, duration_s, placement, seed), **kw)

    # ---------------------------------------------------------------- time
    @property
    def n_samples(self) -> int:
        return int(self.t.shape[0])

    @property
    def duration_s(self) -> float:
        """Length of one pass of the recording, s."""
        return float(self.t[-1] + self.period)

    def stream_time(self, k) -> np.ndarray:
        """Stream time (s from the first sample) of sample index ``k`` (loops continue the timeline)."""
        k = np.asarray(k, dtype=np.int64)
        n = self.n_samples
        return self.t[k % n] + (k // n) * self.duration_s

    def device_us(self, stream_t) -> np.ndarray:
        """Device clock (µs, unwrapped, before any reset) at stream time ``stream_t`` s."""
        st = np.asarray(stream_t, dtype=np.float64)
        return self.offset_us + np.round(st * (1.0 + self.drift_ppm * 1e-6) * 1e6).astype(np.int64)

    def detector_time(self, t_truth, t_dev_us_first: int | None = None) -> np.ndarray:
        """Map times of the source (``truth``, same base as the ``t`` given) to the detector's time base of
        the live path, ``(t_dev_us - t_dev_us_first) / 1e6`` s, for a stream without device resets.
        ``t_dev_us_first``: device time of the first sample the reader received (default: the first sent)."""
        st = np.asarray(t_truth, dtype=np.float64) - self._t_src0
        first = self.offset_us if t_dev_us_first is None else int(t_dev_us_first)
        return (self.offset_us + st * (1.0 + self.drift_ppm * 1e-6) * 1e6 - first) / 1e6

    # ---------------------------------------------------------------- frame generation
    def _reset_state(self) -> None:
        self._k = 0                      # next sample index
        self._seq = 0                    # next seq (mod 2**16)
        self._boot_us = 0                # device clock value subtracted since the last reset
        self._boot_t = 0.0               # stream time of the last boot
        self._next_meta_t = 0.0          # stream time of the next META/STATUS
        self._samples_total = 0
        self._tx_dropped = 0
        self._pending_txdrop = False
        self._resets_done = 0
        self._disc_done = 0
        self._unplugged_until: float | None = None
        self.counts = {"frames": 0, "samples_sent": 0, "metas": 0, "statuses": 0, "tx_dropped": 0,
                       "lost_unplugged": 0, "bit_flip": 0, "truncate": 0, "drop_byte": 0, "garbage": 0,
                       "resets": 0, "disconnects": 0, "bytes": 0}

    def _next_seq(self) -> int:
        s = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        return s

    def _dev_now_us(self, st: float) -> int:
        return int(self.device_us(st)) - self._boot_us

    def _flags(self, st: float) -> int:
        from imuwalk.sources.protocol import FLAG_BOOT

        return FLAG_BOOT if st - self._boot_t < 1.0 else 0

    def _meta_status(self, st: float) -> bytes:
        from imuwalk.sources.protocol import encode_meta, encode_status

        fl = self._flags(st)
        t_us = self._dev_now_us(st) & 0xFFFFFFFF
        out = encode_meta(self._next_seq(), self.meta, fl)
        out += encode_status(self._next_seq(), t_us, self._samples_total & 0xFFFFFFFF,
                             self._tx_dropped & 0xFFFFFFFF, 0, 0, fl)
        self.counts["metas"] += 1
        self.counts["statuses"] += 1
        self.counts["frames"] += 2
        return out

    def _device_reset(self, st: float) -> None:
        self.counts["resets"] += 1
        self.log_.append({"kind": "reset", "t": st, "seq_before": (self._seq - 1) & 0xFFFF, "k": self._k})
        self._seq = 0
        self._boot_us = int(self.device_us(st))
        self._boot_t = st
        self._next_meta_t = st
        self._samples_total = 0
        self._tx_dropped = 0

    def frames(self, k_end: int) -> list[tuple[int, bytes]]:
        """Generate the device output for samples ``self._k .. k_end-1``: a list of
        (sample index or -1 for META/STATUS, wire bytes incl. injected faults). Advances the state."""
        from imuwalk.sources.protocol import (
            FLAG_BOOT,
            FLAG_TX_DROPPED,
            SAMPLE_WIRE_SIZE,
            encode_sample,
            encode_samples,
        )

        n = self.n_samples
        if not self.loop:
            k_end = min(k_end, n)
        out: list[tuple[int, bytes]] = []
        f = self.faults
        while self._k < k_end:
            k = self._k
            st = float(self.stream_time(k))
            if self._resets_done < len(f.reset_at) and st >= f.reset_at[self._resets_done]:
                self._resets_done += 1
                self._device_reset(st)
                # the reboot takes reset_gap_s: the samples meanwhile are never produced
                skip_to = int(np.searchsorted(self.stream_time(np.arange(k, k_end + 1)), st + f.reset_gap_s))
                self._k = k + skip_to
                self.log_[-1]["samples_skipped"] = skip_to
                continue
            if st >= self._next_meta_t:
                out.append((-1, self._meta_status(st)))
                self._next_meta_t = self._boot_t + (np.floor((st - self._boot_t) / 1.0) + 1.0) * 1.0
                continue
            # samples up to the next META time (or the chunk end) in one vectorised encode
            next_events = [self._next_meta_t]
            if self._resets_done < len(f.reset_at):
                next_events.append(f.reset_at[self._resets_done])
            t_stop = min(next_events)
            ks = np.arange(k, k_end)
            sts = self.stream_time(ks)
            m = int(np.searchsorted(sts, t_stop, side="left"))
            m = max(m, 1) if sts[0] < t_stop else 0
            if m == 0:
                continue
            ks = ks[:m]
            sts = sts[:m]
            dev = (self.device_us(sts) - self._boot_us) & 0xFFFFFFFF
            idx = ks % n
            flags = np.where(sts - self._boot_t < 1.0, FLAG_BOOT, 0).astype(np.int64)
            seq0 = self._seq
            wire = encode_samples(seq0, dev, self.acc_counts[idx], self.gyr_counts[idx], flags)
            self._seq = (self._seq + m) & 0xFFFF
            self._samples_total += m
            self._k = k + m
            if len(wire) == m * SAMPLE_WIRE_SIZE:
                frames = [wire[i * SAMPLE_WIRE_SIZE:(i + 1) * SAMPLE_WIRE_SIZE] for i in range(m)]
            else:  # COBS length varies only if a packet had >253 non-zero bytes: never for samples
                parts = wire.split(b"\x00")[:-1]
                frames = [p + b"\x00" for p in parts]
            if self._pending_txdrop and frames:
                frames[0] = encode_sample(seq0, int(dev[0]), self.acc_counts[idx[0]], self.gyr_counts[idx[0]],
                                          int(flags[0]) | FLAG_TX_DROPPED)
                self._pending_txdrop = False
            for i in range(m):
                fr = frames[i]
                if f.any_frame_faults:
                    fr = self._inject(fr, (seq0 + i) & 0xFFFF, int(ks[i]), float(sts[i]))
                out.append((int(ks[i]), fr))
            self.counts["frames"] += m
        return out

    def _inject(self, fr: bytes, seq: int, k: int, st: float) -> bytes:
        f = self.faults
        u = self._rng.random()
        rng = self._rng
        kind = None
        c = f.bit_flip
        if u < c:
            kind = "bit_flip"
        elif u < (c := c + f.truncate):
            kind = "truncate"
        elif u < (c := c + f.drop_byte):
            kind = "drop_byte"
        elif u < c + f.garbage:
            kind = "garbage"
        if kind is None:
            return fr
        body = bytearray(fr[:-1])
        rec: dict[str, Any] = {"kind": kind, "seq": seq, "k": k, "t": st}
        if kind == "bit_flip":
            while True:
                i = int(rng.integers(0, len(body)))
                b = int(rng.integers(0, 8))
                if body[i] ^ (1 << b):
                    break
            body[i] ^= 1 << b
            rec.update(byte=i, bit=b)
            out = bytes(body) + b"\x00"
        elif kind == "truncate":
            keep = int(rng.integers(1, len(body)))
            rec["kept"] = keep
            out = bytes(body[:keep]) + b"\x00"
        elif kind == "drop_byte":
            i = int(rng.integers(0, len(body)))
            del body[i]
            rec["byte"] = i
            out = bytes(body) + b"\x00"
        else:
            lo, hi = f.garbage_len
            if rng.random() < 0.2:
                junk = BOOT_BANNER[: int(rng.integers(lo, hi + 1))]
            else:
                junk = rng.integers(1, 256, int(rng.integers(lo, hi + 1)), dtype=np.uint8).tobytes()
            rec["len"] = len(junk)
            out = junk + fr
        self.counts[kind] += 1
        self.log_.append(rec)
        return out

    def fault_summary(self) -> dict:
        """Counts of injected corruptions (each = exactly one rejected frame), resets, unplugs, TX drops."""
        c = self.counts
        return {"corrupted_frames": c["bit_flip"] + c["truncate"] + c["drop_byte"] + c["garbage"],
                "bit_flip": c["bit_flip"], "truncate": c["truncate"], "drop_byte": c["drop_byte"],
                "garbage": c["garbage"], "resets": c["resets"], "disconnects": c["disconnects"],
                "lost_unplugged": c["lost_unplugged"], "tx_dropped": c["tx_dropped"]}

    # ---------------------------------------------------------------- offline sinks
    def to_bytes(self, n_samples: int | None = None) -> bytes:
        """The whole stream (from a fresh start) as bytes; ``n_samples`` limits the length (needed with
        ``loop=True``). Disconnects are not applied (there is no link)."""
        if n_samples is None:
            if self.loop:
                raise ValueError("n_samples: required when loop=True")
            n_samples = self.n_samples
        self._reset_state()
        self.log_.clear()
        self._rng = np.random.default_rng(self.faults.seed)
        fr = self.frames(n_samples)
        data = b"".join(b for _, b in fr)
        self.counts["bytes"] = len(data)
        self.counts["samples_sent"] = sum(1 for k, _ in fr if k >= 0)
        return data

    def write_file(self, path, n_samples: int | None = None) -> Path:
        """Write the stream to ``path`` (an ``.imuraw`` byte log)."""
        p = Path(path)
        p.write_bytes(self.to_bytes(n_samples))
        return p

    # ---------------------------------------------------------------- live sinks
    def run_pty(self, link: str | os.PathLike | None = None, *, block: bool = False) -> str:
        """Stream in real time (× ``speed``) to a new pseudo-terminal; returns the slave path (or ``link``,
        a symlink kept pointing at the current slave). ``block=True`` streams in this thread until the end
        or :meth:`stop`; otherwise a daemon thread streams and this returns at once. POSIX only."""
        if self._master is None:
            self.open_pty(link)
        self._start(self._write_pty, self._unplug_pty, self._replug_pty, block)
        return self.link or self.port  # type: ignore[return-value]

    def open_pty(self, link: str | os.PathLike | None = None) -> str:
        """Create the pseudo-terminal without streaming yet (a reader can open it first, so that it sees
        the stream from its first byte); :meth:`run_pty` then streams to it. Returns the path."""
        if os.name != "posix":
            raise OSError("run_pty: pseudo-terminals need a POSIX system; use run_url() instead")
        self.link = None if link is None else str(link)
        self._open_pty()
        return self.link or self.port  # type: ignore[return-value]

    def run_url(self, name: str | None = None, *, block: bool = False, capacity: int = 1 << 20,
                lossless: bool | None = None) -> str:
        """Stream to an in-process pyserial URL ``imuemu://NAME`` (returned). ``lossless`` (default: True
        when ``speed > 1``): wait for the reader when the channel is full instead of dropping frames."""
        register_url_handler()
        self._channel_name = name or f"emu{next(_CHANNEL_IDS)}"
        self._channel = _Channel(capacity)
        _CHANNELS[self._channel_name] = self._channel
        self._lossless = (self.speed > 1) if lossless is None else bool(lossless)
        self.port = f"{URL_SCHEME}://{self._channel_name}"
        self._start(self._write_url, self._unplug_url, self._replug_url, block)
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop streaming and close the sink."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._close_sink()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the stream ended (True) or ``timeout`` passed (False)."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> DeviceEmulator:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _close_sink(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link is not None:
            with contextlib.suppress(OSError):
                if os.path.islink(self.link):
                    os.unlink(self.link)
        if self._channel is not None:
            with self._channel.cond:
                self._channel.closed = True
                self._channel.cond.notify_all()
            _CHANNELS.pop(self._channel_name or "", None)

    # PTY
    def _open_pty(self) -> None:
        import pty
        import tty

        master, slave = pty.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        if self.link is not None:
            tmp = f"{self.link}.tmp{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.port, tmp)
            os.replace(tmp, self.link)

    def _write_pty(self, data: bytes) -> int:
        """Write what fits; returns bytes written (0 when the reader does not drain the buffer)."""
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0
        except OSError as e:
            if e.errno in (errno.EIO, errno.EAGAIN):
                return 0
            raise

    def _unplug_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def _replug_pty(self) -> None:
        self._open_pty()

    # URL
    def _write_url(self, data: bytes) -> int:
        ch = self._channel
        return len(data) if ch.write(data, block=self._lossless, stop=self._stop) else 0

    def _unplug_url(self) -> None:
        with self._channel.cond:
            self._channel.plugged = False
            self._channel.buf.clear()
            self._channel.cond.notify_all()

    def _replug_url(self) -> None:
        with self._channel.cond:
            self._channel.plugged = True
            self._channel.cond.notify_all()

    # streaming loop
    def _start(self, write, unplug, replug, block: bool) -> None:
        if self._thread is not None:
            raise RuntimeError("the emulator is already streaming")
        from imuwalk.sources.protocol import warm_up

        warm_up()  # the encoder kernel, before the emulated device clock starts (a first run compiles it)
        self._reset_state()
        self.log_.clear()
        self._rng = np.random.default_rng(self.faults.seed)
        self._stop.clear()
        args = (write, unplug, replug)
        if block:
            self._thread = threading.current_thread()
            self._stream(*args)
        else:
            self._thread = threading.Thread(target=self._stream, args=args, name="imuwalk-emulator",
                                            daemon=True)
            self._thread.start()
            self._started.wait(5.0)

    def _stream(self, write, unplug, replug) -> None:
        txq = bytearray()  # bytes of whole frames accepted by the device TX buffer, not yet written
        f = self.faults
        disc = sorted(f.disconnect_at)
        window = int(max(64, self.rate_hz * self.speed * 0.25))
        try:
            t0 = time.monotonic()
            self._started.set()
            while not self._stop.is_set():
                st_now = (time.monotonic() - t0) * self.speed
                # link events
                if (self._unplugged_until is None and self._disc_done < len(disc)
                        and st_now >= disc[self._disc_done][0]):
                    t_d, dur = disc[self._disc_done]
                    self._disc_done += 1
                    self._unplugged_until = t_d + dur
                    self.counts["disconnects"] += 1
                    self.log_.append({"kind": "disconnect", "t": st_now, "until": t_d + dur, "k": self._k})
                    unplug()
                    txq.clear()
                if self._unplugged_until is not None and st_now >= self._unplugged_until:
                    self._unplugged_until = None
                    replug()
                    self.log_.append({"kind": "reconnect", "t": st_now, "k": self._k, "port": self.port})
                k_end = self._k + int(np.searchsorted(self.stream_time(np.arange(self._k, self._k + window)),
                                                      st_now, side="right"))
                if not self.loop and self._k >= self.n_samples:
                    if txq:
                        n = write(bytes(txq))
                        del txq[:n]
                    if not txq:
                        break
                if k_end > self._k:
                    for k, fr in self.frames(k_end):
                        if self._unplugged_until is not None:
                            if k >= 0:
                                self.counts["lost_unplugged"] += 1
                            continue
                        if len(txq) + len(fr) > self.tx_buffer and txq:
                            n = write(bytes(txq))  # the link drains the TX buffer while sampling goes on
                            self.counts["bytes"] += n
                            del txq[:n]
                        if len(txq) + len(fr) > self.tx_buffer:
                            if k >= 0:
                                self.counts["tx_dropped"] += 1
                                self._tx_dropped += 1
                                self._pending_txdrop = True
                            continue
                        txq += fr
                        if k >= 0:
                            self.counts["samples_sent"] += 1
                if txq and self._unplugged_until is None:
                    n = write(bytes(txq))
                    self.counts["bytes"] += n
                    del txq[:n]
                self._stop.wait(self.chunk_s)
        except BaseException as e:  # keep the reason; the sink is closed below
            self.error_ = e
        finally:
            self._started.set()
