"""SerialSource: a pyserial reader thread → FrameDecoder → bounded queue of SampleBlocks.

Works with any pyserial URL (``/dev/ttyACM0``, ``COM3``, ``loop://``, ``socket://host:port``, ``spy://...``)
because ports are opened with ``serial.serial_for_url``. pyserial is imported lazily.

Threading model: one daemon reader thread owns the port. It reads whatever is buffered (one syscall), stamps
``time.monotonic_ns()``, calls the raw-bytes hook, decodes, converts and appends one SampleBlock per read
to a bounded queue. The consumer never blocks the reader: when the queue is full the **oldest** block is
dropped and counted (``stats["queue_drops"]``, ``stats["queue_dropped_samples"]``); a consumer that keeps
up never loses anything. After a read the thread sleeps ``poll_interval`` s (default 30 ms) so that bytes
accumulate: ~33 larger reads/s instead of one per frame. Per-read overhead dominates the cost of the whole
1 kHz serial→stride path: about 0.9 ms of CPU per read, most of it Python code running cold after the
sleep (benchmarks/bench_serial_path.py, 2-core AMD EPYC: 4.3 % of a core at 20 ms, 3.1 % at 30 ms, 2.3 % at
40 ms). It adds at most ``poll_interval`` to the latency.

Time base (docs/ARCHITECTURE.md): ``t = (t_dev_us - t_dev_us_first) / 1e6`` on the device clock, made
monotonic across 32-bit wraps and device resets by the decoder. ``t_host_ns`` is the monotonic time of the
read that delivered each sample; :attr:`SerialSource.clock_` (a ClockMapper) maps device to host time.

Text lines (``format="text"``): time comes from the timestamp column when the lines carry one, made usable
causally by :class:`TextClock` (see there): a stamp that repeats the previous one (a coarse clock, e.g. a 1-s
RTC with ~27 lines per second) is spread forward by the line rate estimated from the previous complete stamp
periods (before one is known: ``text_options["nominal_rate_hz"]``, default 100 Hz) and never reaches the next
possible stamp; a stamp that goes backwards is dropped and counted (``stats["lines_t_dropped"]``), and a clock
that restarted (device reset, or any earlier stamp right after a reconnect) continues the time base. Where the
line rate is steady this gives the times of the file reader (``formats.read_text``) from the third stamp
period on. Lines without a stamp in a stamped stream are dropped (counted in ``lines_t_dropped`` too).
``text_options["rate_hz"]`` (times ``index / rate_hz``) takes precedence; without stamps: the host clock.

Scales: counts are converted with the scales of the device's META frame. Until the first META arrives,
decoded samples wait in a bounded buffer (``pre_meta_samples``; the oldest are dropped and counted when it
overflows) and are converted once it arrives. ``default_meta=`` skips the wait: samples before the first
META use it and their blocks carry ``info["scales"] = "default"``.

Unplug/replug: a ``SerialException``/``OSError`` from the port closes it, records a gap
(:attr:`SerialSource.gaps_`), and — with ``reconnect=True`` — retries opening every ``retry_interval`` s
(0.5 s) until it succeeds or :meth:`stop` is called. ``port_resolver`` (a callable returning the current
port name) finds a device that comes back under another name. The decoder is kept across the gap so
sequence numbers and device time continue; the samples lost meanwhile are counted as missing frames.
A frame cut by the unplug is counted as a rejected frame.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from imuwalk._optional import require
from imuwalk.sources.block import SampleBlock

#: default ``poll_interval`` of :class:`SerialSource`, s (module doc: why 30 ms)
POLL_INTERVAL_S = 0.03

__all__ = ["SerialSource", "TextClock", "run_stream", "open_port_error_message"]


def open_port_error_message(port: str, exc: BaseException) -> str:
    """One clear line explaining why ``port`` could not be opened."""
    en = getattr(exc, "errno", None)
    text = str(exc)
    if en == errno.ENOENT or "No such file" in text or "could not open port" in text and "[Errno 2]" in text:
        return f"port {port!r} does not exist (see `imuwalk ports` for the ports present)"
    if en in (errno.EACCES, errno.EPERM) or "Permission denied" in text or "[Errno 13]" in text:
        return (f"permission denied opening {port!r} (on Linux add your user to the 'dialout' group "
                "and log in again)")
    if en == errno.EBUSY or "[Errno 16]" in text:
        return f"port {port!r} is busy (another program has it open)"
    return f"cannot open port {port!r}: {text}"


def check_port(port: str) -> None:
    """Fail early, without opening it, if the local device path ``port`` does not exist or this user may
    not read and write it: OSError with the line :func:`open_port_error_message` gives. pyserial URLs
    (``socket://``, ``rfc2217://``, ``loop://``, ...) and Windows names (``COM3``) pass unchecked: opening
    them tells."""
    if not port or "://" in port or os.name == "nt":
        return
    if not os.path.exists(port):
        raise OSError(open_port_error_message(port, FileNotFoundError(errno.ENOENT, "No such file", port)))
    if not os.access(port, os.R_OK | os.W_OK):
        raise OSError(open_port_error_message(port, PermissionError(errno.EACCES, "Permission denied", port)))


def _stamp_resolution_guess(stamp: float) -> float:
    """The coarsest decimal step (1 s .. 1 us) that ``stamp`` (s) is a multiple of: a guess of the clock
    resolution before two distinct stamps have been seen."""
    tol = 16 * float(np.spacing(abs(stamp))) + 1e-12
    for q in (1.0, 0.1, 0.01, 1e-3, 1e-4, 1e-5):
        if abs(stamp - round(stamp / q) * q) <= tol:
            return q
    return 1e-6


class TextClock:
    """Causal time base (s, from 0) for the timestamp column of a live text stream.

    ``map(stamps)`` takes the stamps (s) of consecutive lines and returns ``(t, keep)``: the times of the
    kept lines (strictly increasing, also across calls) and the boolean mask of the kept lines.

    * A stamp greater than the current one starts a new stamp period and keeps its value
      (``t = stamp - first stamp``).
    * A stamp equal to the current one (a coarse clock: several lines share one stamp) is spread forward:
      line ``j`` of a period gets ``stamp + j * dt`` with ``dt = resolution / lines per stamp``, the
      resolution being the smallest step between distinct stamps seen so far and the lines per stamp the
      largest count of the last ``window`` complete stamp periods (the first period is partial: the stream
      started in the middle of it). Before a complete period is known ``dt = 1 / nominal_rate_hz`` and the
      resolution is guessed from the decimals of the first stamp. A line that would come within ``dt / 2``
      of the next possible stamp (``stamp + resolution``) instead halves the remaining distance to it, so
      a period never reaches the next stamp. With a steady line rate this gives what the file reader
      gives (``formats.read_text``: ``stamp + j * resolution / lines``) from the third period on.
    * A stamp smaller than the current one is dropped and counted (``dropped``). ``reset_after``
      consecutive such lines, or one right after :meth:`reconnected`, mean that the device clock restarted:
      the time base then continues ``dt`` after the last time given.

    Counters: ``repeated`` (lines whose stamp repeated the previous one), ``dropped``, ``resets``.
    """

    def __init__(self, nominal_rate_hz: float = 100.0, *, window: int = 4, reset_after: int = 25):
        if not (isinstance(nominal_rate_hz, (int, float)) and 0 < nominal_rate_hz < 1e7):
            raise ValueError(f"nominal_rate_hz: expected a rate in Hz > 0, got {nominal_rate_hz!r}")
        self.nominal_dt = 1.0 / float(nominal_rate_hz)
        self.window = int(window)
        self.reset_after = int(reset_after)
        self.t0: float | None = None  # the stamp that maps to t = 0 (moves when the device clock restarts)
        self.u = 0.0  # stamp of the current period
        self.k = 0  # lines of the current period so far
        self.counts: deque[int] = deque(maxlen=self.window)  # lines of the last complete periods
        self.periods = 0  # periods closed so far
        self.res: float | None = None  # smallest step between distinct stamps
        self.res_guess = 1.0
        self.last_t = -np.inf
        self.behind = 0
        self.repeated = 0
        self.dropped = 0
        self.resets = 0
        self._reconnected = False

    @property
    def started(self) -> bool:
        return self.t0 is not None

    def reconnected(self) -> None:
        """The link was re-opened: an earlier stamp next means the device restarted (no drop)."""
        self._reconnected = True

    def dt(self) -> float:
        """Current estimate of the line interval, s."""
        if self.counts and self.res is not None:
            return self.res / max(self.counts)
        return self.nominal_dt

    def start(self, stamp: float, t_start: float = 0.0) -> None:
        """Map ``stamp`` to ``t_start`` (the first line; called by :meth:`map` when needed)."""
        self.t0 = float(stamp) - float(t_start)
        self.res_guess = _stamp_resolution_guess(float(stamp))

    def map(self, stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stamps = np.asarray(stamps, dtype=np.float64)
        n = stamps.shape[0]
        t = np.empty(n)
        keep = np.ones(n, dtype=bool)
        for i in range(n):
            s = float(stamps[i])
            if self.t0 is None:
                self.start(s, 0.0 if not np.isfinite(self.last_t) else self.last_t + self.nominal_dt)
                self.u, self.k = s, 1
                t[i] = self.last_t = s - self.t0
                continue
            if s > self.u:  # a new stamp period
                self.behind = 0
                self._reconnected = False
                step = s - self.u
                self.res = step if self.res is None else min(self.res, step)
                if self.periods >= 1:  # the first period is partial: not a rate estimate
                    self.counts.append(self.k)
                self.periods += 1
                self.u, self.k = s, 1
                rel = s - self.t0
                t[i] = rel if rel > self.last_t else self._squeeze(rel + self.res)
                self.last_t = t[i]
            elif s == self.u:  # repeated stamp: spread forward
                self.behind = 0
                self._reconnected = False
                self.repeated += 1
                dt = self.dt()
                res = self.res if self.res is not None else self.res_guess
                rel = self.u - self.t0
                cand = rel + self.k * dt
                cap = rel + res
                t[i] = cand if (cand > self.last_t and cand <= cap - 0.5 * dt) else self._squeeze(cap)
                self.k += 1
                self.last_t = t[i]
            else:  # an earlier stamp: dropped, unless the device clock restarted
                self.behind += 1
                if self._reconnected or self.behind >= self.reset_after:
                    self.resets += 1
                    self.behind = 0
                    self._reconnected = False
                    t_new = self.last_t + self.dt()
                    self.t0 = s - t_new
                    self.u, self.k = s, 1
                    self.periods = 0  # the period after a restart is partial again
                    t[i] = self.last_t = t_new
                else:
                    keep[i] = False
                    self.dropped += 1
        if not keep.all():
            t = t[keep]
        return t, keep

    def _squeeze(self, cap: float) -> float:
        """A time after the last one, half way to ``cap`` (tiny step if ``cap`` is not after it)."""
        if cap > self.last_t:
            return self.last_t + 0.5 * (cap - self.last_t)
        return self.last_t + 1e-6


class SerialSource:
    """Read an imuwalk device (or a text-line device) from a serial port in a background thread.

    Parameters
    ----------
    port : device path or pyserial URL.
    baud : baud rate (ignored by USB CDC devices and PTYs).
    reconnect : keep retrying after a disconnect (every ``retry_interval`` s) instead of ending.
    queue_blocks : queue capacity in blocks (one block per read, ~``poll_interval`` s of data; the
        default 1024 holds ~30 s).
    read_size : largest read in bytes.
    format : "imuwalk" (the wire protocol) or "text" (lines decoded by
        :class:`~imuwalk.sources.formats.TextLineDecoder`, options in ``text_options``; time from
        ``text_options["rate_hz"]`` when given, else the timestamp column through a :class:`TextClock`
        (repeated stamps spread, earlier stamps dropped; ``text_options["nominal_rate_hz"]`` is its line
        rate until one is measured, default 100 Hz), else the host clock).
    default_meta : DeviceMeta used until the device's first META (see module doc).
    pre_meta_samples : bound of the buffer of samples waiting for META.
    port_resolver : callable returning the port to (re)open; default: always ``port``.
    on_raw : ``on_raw(data: bytes, t_host_ns: int)`` called in the reader thread for every read (keep it
        fast: the recorder appends to its raw byte log here).
    poll_interval : sleep after each read so bytes accumulate, s.
    timeout : pyserial read timeout, s.
    serial_kwargs : extra keyword arguments for ``serial.serial_for_url`` (e.g. ``dsrdtr=True``).

    Use as a context manager or call :meth:`start`/:meth:`stop`. Iterate to get blocks until stopped (or
    until the link ends with ``reconnect=False``); or poll :meth:`get` / :meth:`get_all`.
    """

    def __init__(self, port: str, baud: int = 921600, *, reconnect: bool = True, queue_blocks: int = 1024,
                 read_size: int = 65536, format: str = "imuwalk", text_options: dict | None = None,
                 default_meta: Any = None, pre_meta_samples: int = 100_000,
                 port_resolver: Callable[[], str] | None = None,
                 on_raw: Callable[[bytes, int], None] | None = None, retry_interval: float = 0.5,
                 poll_interval: float = POLL_INTERVAL_S, timeout: float = 0.05, serial_kwargs: dict | None = None):
        if not isinstance(port, str) or not port:
            raise ValueError(f"port: expected a non-empty device path or pyserial URL, got {port!r}")
        if not (isinstance(baud, int) and baud > 0):
            raise ValueError(f"baud: expected a positive int, got {baud!r}")
        if not (isinstance(queue_blocks, int) and queue_blocks >= 1):
            raise ValueError(f"queue_blocks: expected an int >= 1, got {queue_blocks!r}")
        if not (isinstance(read_size, int) and read_size >= 1):
            raise ValueError(f"read_size: expected an int >= 1, got {read_size!r}")
        if format not in ("imuwalk", "text"):
            raise ValueError(f"format: expected 'imuwalk' or 'text', got {format!r}")
        if not (isinstance(pre_meta_samples, int) and pre_meta_samples >= 0):
            raise ValueError(f"pre_meta_samples: expected an int >= 0, got {pre_meta_samples!r}")
        for name, v in (("retry_interval", retry_interval), ("poll_interval", poll_interval),
                        ("timeout", timeout)):
            if not (isinstance(v, (int, float)) and 0 <= v <= 60):
                raise ValueError(f"{name}: expected seconds in [0, 60], got {v!r}")
        if port_resolver is not None and not callable(port_resolver):
            raise ValueError("port_resolver: expected a callable returning a port name")
        if on_raw is not None and not callable(on_raw):
            raise ValueError("on_raw: expected a callable on_raw(data, t_host_ns)")
        self.port = port
        self.baud = baud
        self.reconnect = reconnect
        self.queue_blocks = queue_blocks
        self.read_size = read_size
        self.format = format
        self.text_options = dict(text_options or {})
        self.default_meta = default_meta
        self.pre_meta_samples = pre_meta_samples
        self.port_resolver = port_resolver
        self.on_raw = on_raw
        self.retry_interval = float(retry_interval)
        self.poll_interval = float(poll_interval)
        self.timeout = float(timeout)
        self.serial_kwargs = dict(serial_kwargs or {})

        self._q: deque[SampleBlock] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ser = None
        self._finished = False
        #: exception that ended the reader (``reconnect=False`` or a failing hook), else None
        self.error_: BaseException | None = None
        #: disconnect gaps: dicts with t_host_ns_start/end, seq_before/after, t_dev_us_before/after, reason
        self.gaps_: list[dict] = []
        #: the device META in use (None until it arrives)
        self.meta_ = None
        self.clock_ = None
        self._c = {"reconnects": 0, "queue_drops": 0, "queue_dropped_samples": 0, "pre_meta_dropped": 0,
                   "blocks": 0, "samples": 0, "reads": 0, "bytes": 0, "cut_by_unplug": 0, "hook_errors": 0}
        self._rate_win: deque[tuple[int, int]] = deque()
        self._t0_us: int | None = None
        self._pending: deque = deque()
        self._pending_n = 0
        self._dec = None
        self._txt = None
        self._txt_n = 0
        self._txt_last_t: float | None = None  # last time given to a text sample
        self._txt_unstamped = 0  # text lines without a stamp once the stamps are the time base
        self._clock: TextClock | None = None
        if format == "text":
            nominal = self.text_options.get("nominal_rate_hz", 100.0)
            self._clock = TextClock(nominal)  # raises ValueError on a bad nominal_rate_hz
        self._txt_last_host: int | None = None
        self._connected = False
        self._current_port = port
        self._t_start_ns = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SerialSource:
        """Open the port (raises OSError with one clear line if it cannot) and start the reader thread.
        For the imuwalk wire format the decoder's kernels are compiled or loaded first (seconds on the first
        run after an install, milliseconds later), so the reader never leaves the port unread while compiling
        (text lines need no kernel). Calling it again
        while running does nothing; after :meth:`stop` it raises RuntimeError (a stopped
        source cannot be restarted: make a new SerialSource)."""
        if self._stop.is_set():
            raise RuntimeError(f"SerialSource({self.port!r}) was stopped and cannot be restarted; "
                               "create a new SerialSource")
        if self._thread is not None:
            return self
        from imuwalk.sources.protocol import ClockMapper, FrameDecoder, warm_up

        self.clock_ = ClockMapper()
        if self.format == "imuwalk":
            warm_up()  # the decoder's kernels, before the port is open: never compiled on the first bytes
            self._dec = FrameDecoder(keep_other_seqs=True)
        else:
            from imuwalk.sources.formats import TextLineDecoder

            opts = {k: v for k, v in self.text_options.items() if k not in ("rate_hz", "nominal_rate_hz")}
            self._txt = TextLineDecoder(**opts)
        require("serial", "imuwalk.SerialSource (reading a serial port)")
        port = self._resolve()
        try:
            self._ser = self._open(port)
        except Exception as e:  # pyserial raises SerialException (an OSError) or ValueError
            raise OSError(open_port_error_message(port, e)) from e
        self._connected = True
        self._current_port = port
        self._t_start_ns = time.monotonic_ns()
        self._thread = threading.Thread(target=self._run, name=f"imuwalk-serial-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the reader thread and close the port. Blocks already queued stay readable."""
        self._stop.set()
        ser = self._ser
        if ser is not None:
            try:
                ser.cancel_read()
            except Exception:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._cond:
            self._cond.notify_all()

    close = stop

    def __enter__(self) -> SerialSource:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def ended(self) -> bool:
        """True when the reader has ended (stopped or link lost with ``reconnect=False``) and the queue
        is drained."""
        return (self._finished or self._stop.is_set()) and not self._q

    @property
    def running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ consumer side
    def get(self, timeout: float | None = None) -> SampleBlock | None:
        """Next block, waiting up to ``timeout`` s (None: until one arrives or the reader ends).
        Returns None on timeout or when stopped and drained."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._q or self._finished or self._stop.is_set(), timeout)
            if ok and self._q:
                return self._q.popleft()
            return None

    def get_all(self) -> list[SampleBlock]:
        """All queued blocks without waiting."""
        with self._cond:
            out = list(self._q)
            self._q.clear()
            return out

    def __iter__(self) -> Iterator[SampleBlock]:
        """Blocks until the source is stopped or the link ends; starts a source that was never started
        (a stopped one raises RuntimeError, see :meth:`start`)."""
        return self.iter_idle(None)

    def iter_idle(self, idle_s: float | None) -> Iterator[SampleBlock | None]:
        """As iterating the source, but also yields None after every ``idle_s`` s without a block (None: never),
        so that a live display refreshes the link state (rate 0, disconnected, reconnects) while the port is
        silent or unplugged."""
        if self._thread is None:
            self.start()
        last = time.monotonic()
        while True:
            blk = self.get(timeout=0.2)
            if blk is not None:
                last = time.monotonic()
                yield blk
            elif self._finished or self._stop.is_set():
                rest = self.get_all()
                yield from rest
                return
            elif idle_s is not None and time.monotonic() - last >= idle_s:
                last = time.monotonic()
                yield None

    @property
    def stats(self) -> dict:
        """Link counters: rate_hz (last ~2 s), samples, frames_ok, frames_lost (missing seq), crc_errors,
        cobs_errors, short_frames, oversize_dropped, seq_gaps, resets, time_jumps, frames_implausible (CRC-valid
        frames whose seq/time jump the next frame did not confirm), proto_ver_newer, reconnects, queue_drops,
        queue_dropped_samples, pre_meta_dropped, cut_by_unplug, bytes, reads, connected, port; text format:
        lines_ok, lines_bad, lines_t_repeated, lines_t_dropped, clock_resets (see :class:`TextClock`)."""
        d: dict[str, Any] = dict(self._c)
        if self._dec is not None:
            s = self._dec.stats
            d.update(frames_ok=s.frames_ok, frames_lost=s.samples_missing, crc_errors=s.crc_errors,
                     cobs_errors=s.cobs_errors, short_frames=s.short_frames,
                     oversize_dropped=s.oversize_dropped, seq_gaps=s.seq_gaps, resets=s.resets,
                     unknown_type=s.unknown_type, device_tx_dropped=s.device_tx_dropped,
                     time_jumps=s.time_jumps, frames_implausible=s.frames_implausible,
                     proto_ver_newer=s.proto_ver_newer, rejected=s.errors, metas=self._dec.metas)
        if self._txt is not None:
            d.update(lines_ok=self._txt.stats["lines_ok"], lines_bad=self._txt.stats["lines_bad"])
            c = self._clock
            d.update(lines_t_repeated=c.repeated, lines_t_dropped=c.dropped + self._txt_unstamped,
                     clock_resets=c.resets)
        win = list(self._rate_win)
        if win and time.monotonic_ns() - win[-1][0] > 2_000_000_000:
            d["rate_hz"] = 0.0  # nothing for 2 s: the last window's rate would stay on the display
        elif len(win) >= 2 and win[-1][0] > win[0][0]:
            d["rate_hz"] = sum(n for _, n in win[1:]) / ((win[-1][0] - win[0][0]) * 1e-9)
        else:
            d["rate_hz"] = 0.0
        d["connected"] = self._connected
        d["port"] = self._current_port
        d["queued_blocks"] = len(self._q)
        return d

    # ------------------------------------------------------------------ reader thread
    def _resolve(self) -> str:
        if self.port_resolver is None:
            return self.port
        p = self.port_resolver()
        if not isinstance(p, str) or not p:
            raise OSError(f"port_resolver returned {p!r}, not a port name")
        return p

    def _open(self, port: str):
        import serial

        kw = {"baudrate": self.baud, "timeout": self.timeout}
        kw.update(self.serial_kwargs)
        return serial.serial_for_url(port, **kw)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if self._ser is None:
                    if not self.reconnect:
                        break
                    self._try_reopen()
                    continue
                try:
                    ser = self._ser
                    n = ser.in_waiting
                    data = ser.read(max(1, min(n, self.read_size)))
                except Exception as e:  # SerialException, OSError, TypeError from a closed fd
                    if self._stop.is_set():
                        break
                    self._disconnect(e)
                    if not self.reconnect:
                        self.error_ = e
                        break
                    continue
                if data:
                    self._handle(data)
                    if len(data) < self.read_size and self.poll_interval > 0:
                        self._stop.wait(self.poll_interval)
        except BaseException as e:  # a bug or a failing hook: end the stream, keep the reason
            self.error_ = e
        finally:
            ser, self._ser = self._ser, None
            if ser is not None:
                try:
                    ser.close()
                except Exception:
                    pass
            self._connected = False
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _disconnect(self, exc: BaseException) -> None:
        ser, self._ser = self._ser, None
        self._connected = False
        try:
            ser.close()
        except Exception:
            pass
        gap = {"t_host_ns_start": time.monotonic_ns(), "t_host_ns_end": None, "reason": f"disconnect: {exc}",
               "port": self._current_port, "seq_before": None, "seq_after": None,
               "t_dev_us_before": None, "t_dev_us_after": None}
        if self._dec is not None:
            gap["seq_before"] = self._dec.seq_last
            gap["t_dev_us_before"] = self._dec.t_last_us
            # the frame cut by the unplug: terminate it so it is rejected now, not glued to new bytes
            before = self._dec.stats.errors
            self._dec.feed(b"\x00")
            self._c["cut_by_unplug"] += self._dec.stats.errors - before
        elif self._txt is not None:
            self._txt.feed(b"\n")
        self.gaps_.append(gap)

    def _try_reopen(self) -> None:
        try:
            port = self._resolve()
            ser = self._open(port)
        except Exception:
            self._stop.wait(self.retry_interval)
            return
        self._ser = ser
        self._current_port = port
        self._connected = True
        self._c["reconnects"] += 1
        if self._clock is not None:
            self._clock.reconnected()
        if self.gaps_ and self.gaps_[-1]["t_host_ns_end"] is None:
            self.gaps_[-1]["t_host_ns_end"] = time.monotonic_ns()

    def _handle(self, data: bytes) -> None:
        t_ns = time.monotonic_ns()
        self._c["reads"] += 1
        self._c["bytes"] += len(data)
        if self.on_raw is not None:
            try:
                self.on_raw(data, t_ns)
            except Exception:
                self._c["hook_errors"] += 1
        if self._dec is not None:
            self._handle_frames(data, t_ns)
        else:
            self._handle_text(data, t_ns)

    def _handle_frames(self, data: bytes, t_ns: int) -> None:
        from imuwalk.sources.protocol import DecodedSamples, to_block

        dec = self._dec
        d = dec.feed(data)
        n = len(d)
        if n:
            self.clock_.update(d.t_dev_us[-1:].astype(np.int64), np.array([t_ns], dtype=np.int64))
            if self.gaps_:
                g = self.gaps_[-1]
                if g["seq_after"] is None and g["t_host_ns_end"] is not None:
                    g["seq_after"] = int(d.seq[0])
                    g["t_dev_us_after"] = int(d.t_dev_us[0])
        meta = dec.meta
        scales = "device"
        if meta is None:
            if self.default_meta is None:
                if n:
                    self._pending.append((d, t_ns))
                    self._pending_n += n
                    while self._pending_n > self.pre_meta_samples and self._pending:
                        old, tn = self._pending[0]
                        excess = self._pending_n - self.pre_meta_samples
                        k = min(excess, len(old))
                        if k == len(old):
                            self._pending.popleft()
                        else:  # drop exactly the oldest samples
                            self._pending[0] = (DecodedSamples(old.seq[k:], old.t_dev_us[k:], old.acc_raw[k:],
                                                               old.gyr_raw[k:], old.flags[k:]), tn)
                        self._pending_n -= k
                        self._c["pre_meta_dropped"] += k
                return
            meta = self.default_meta
            scales = "default"
        self.meta_ = meta
        parts = [(d, np.full(n, t_ns, dtype=np.int64))] if n else []
        if self._pending:
            old = [(p, np.full(len(p), tn, dtype=np.int64)) for p, tn in self._pending]
            parts = old + parts
            self._pending.clear()
            self._pending_n = 0
        if not parts:
            return
        if len(parts) == 1:
            dd, th = parts[0]
        else:
            dd = DecodedSamples.concat([p for p, _ in parts])
            th = np.concatenate([h for _, h in parts])
        if self._t0_us is None:
            self._t0_us = int(dd.t_dev_us[0])
        info = {"scales": scales, "reconnects": self._c["reconnects"], "flags": dd.flags,
                "port": self._current_port}
        if dec.other_seqs:
            info["seq_other"] = list(dec.other_seqs)
            dec.other_seqs.clear()
        blk = to_block(dd, meta, self._t0_us, t_host_ns=th, info=info)
        self._push(blk, t_ns)

    def _handle_text(self, data: bytes, t_ns: int) -> None:
        s = self._txt.feed(data)
        n = len(s)
        prev = self._txt_last_host
        self._txt_last_host = t_ns
        if n == 0:
            return
        rate = self.text_options.get("rate_hz")
        acc, gyr = s.acc, s.gyr
        stamped = ~np.isnan(s.t_col)
        if rate:
            t = (self._txt_n + np.arange(n)) / float(rate)
            src = "index/rate_hz"
        elif self._clock.started or stamped.any():
            clock = self._clock
            if not stamped.all():  # lines without a stamp cannot be placed on the stamps' time base
                self._txt_unstamped += int(n - stamped.sum())
                acc, gyr = acc[stamped], gyr[stamped]
            if not clock.started and self._txt_last_t is not None:
                clock.last_t = self._txt_last_t  # continue after the host-clock times given so far
            t, keep = clock.map(s.t_col[stamped])
            if not keep.all():
                acc, gyr = acc[keep], gyr[keep]
            # sticky, so that the recorder's info history does not change with every block
            src = "timestamp column (repeated stamps spread)" if clock.repeated else "timestamp column"
        else:
            start = prev if prev is not None else t_ns - int(n * 1e6)
            t = (start + (np.arange(1, n + 1) / n) * (t_ns - start) - self._t_start_ns) * 1e-9
            src = "host clock"
        self._txt_n += n
        n = len(t)
        if n == 0:
            return
        self._txt_last_t = float(t[-1])
        blk = SampleBlock(t=np.asarray(t, dtype=np.float64), acc=acc, gyr=gyr,
                          t_host_ns=np.full(n, t_ns, dtype=np.int64),
                          info={"format": "text", "time_source": src, "port": self._current_port,
                                "reconnects": self._c["reconnects"]})
        self._push(blk, t_ns)

    def _push(self, blk: SampleBlock, t_ns: int) -> None:
        n = len(blk)
        self._c["blocks"] += 1
        self._c["samples"] += n
        w = self._rate_win
        w.append((t_ns, n))
        while len(w) > 2 and t_ns - w[0][0] > 2_000_000_000:
            w.popleft()
        with self._cond:
            if len(self._q) >= self.queue_blocks:
                old = self._q.popleft()
                self._c["queue_drops"] += 1
                self._c["queue_dropped_samples"] += len(old)
                so = old.info.get("seq_other")
                if so and self._q:  # keep the frame numbers the dropped block accounted for
                    nxt = self._q[0].info
                    nxt["seq_other"] = list(so) + list(nxt.get("seq_other", []))
            self._q.append(blk)
            self._cond.notify()


def run_stream(source, detector, *, on_rows: Callable[[np.ndarray], None] | None = None,
               on_block: Callable[[SampleBlock], None] | None = None,
               on_tick: Callable[[], None] | None = None, tick_interval: float = 0.5,
               duration: float | None = None, stop_event: threading.Event | None = None,
               finish: bool = True, stats: dict | None = None) -> np.ndarray:
    """Drive ``detector`` (a StepDetector: ``update(t, acc, gyr)``, ``finish()``) from ``source``
    (anything with ``get(timeout)`` like :class:`SerialSource`, already started) until ``stop_event`` is
    set, ``duration`` s of wall time passed, or the source ends.

    ``on_rows(rows)`` gets every non-empty batch of stride rows, ``on_block(block)`` every block,
    ``on_tick()`` is called about every ``tick_interval`` s (dashboards). Blocks still queued when
    stopping are processed; ``finish=True`` then calls ``detector.finish()``. Returns all rows (STRIDE_DTYPE).
    Samples the detector rejects (e.g. a time not after the previous one) are dropped, not raised
    (:class:`imuwalk.pipeline.DetectorGate`); pass a dict as ``stats`` to get ``samples_rejected`` and
    ``rejected_reason``.
    """
    from imuwalk.core.rows import empty_rows
    from imuwalk.pipeline import DetectorGate

    gate = DetectorGate(detector)

    t_end = None if duration is None else time.monotonic() + float(duration)
    next_tick = time.monotonic() + tick_interval
    out: list[np.ndarray] = []

    def feed(blk: SampleBlock) -> None:
        if on_block is not None:
            on_block(blk)
        if len(blk):
            rows, _ = gate.update(blk)
            if stats is not None:
                stats["samples_rejected"] = gate.rejected
                stats["rejected_reason"] = gate.reason
            if rows is not None and len(rows):
                out.append(rows)
                if on_rows is not None:
                    on_rows(rows)

    while True:
        if stop_event is not None and stop_event.is_set():
            break
        now = time.monotonic()
        if t_end is not None and now >= t_end:
            break
        wait = min(0.1, tick_interval)
        if t_end is not None:
            wait = max(0.0, min(wait, t_end - now))
        blk = source.get(timeout=wait)
        if blk is not None:
            feed(blk)
        elif getattr(source, "ended", False):
            break
        if on_tick is not None and time.monotonic() >= next_tick:
            on_tick()
            next_tick = time.monotonic() + tick_interval
    if hasattr(source, "get_all"):
        for blk in source.get_all():
            feed(blk)
    if finish:
        rows = detector.finish()
        if rows is not None and len(rows):
            out.append(rows)
            if on_rows is not None:
                on_rows(rows)
    return np.concatenate(out) if out else empty_rows(0)
