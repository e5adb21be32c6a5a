"""The live session shared by ``imuwalk demo`` and ``imuwalk stream``.

One run: serial port → :class:`~imuwalk.sources.serial.SerialSource` → :class:`~imuwalk.pipeline.Pipeline`
→ stride detector, with an optional :class:`~imuwalk.sinks.hdf5.Recorder` (samples, strides, raw byte log)
and the :class:`~imuwalk.cli.dashboard.Dashboard` (rich screen on a terminal, plain periodic lines
otherwise). Ctrl-C (or, with ``handle_signals``, SIGINT/SIGTERM) ends the run cleanly: the detector is
flushed, the recording finalized, and :meth:`LiveSession.run` returns a :class:`SessionResult` from which
the command prints the summary or the ``--json`` document (:meth:`SessionResult.document`).

Which way is forward (issue 3) is a :class:`MountPlan`:

* ``given``: an explicit :class:`~imuwalk.core.direction.Mount`;
* ``calibrate``: the first ``n_strides`` confident strides are taken as forward
  (:class:`CalibratingDetector`); the mount is stored in the :class:`~imuwalk.core.direction.MountStore`
  under the device id;
* ``auto``: the stored mount of the device if there is one, else the automatic mode (rows flagged
  ``FLAG_AUTO_DIRECTION``, ``summary.direction_auto``).

The device id comes with the device's META frame. The wire protocol's samples cannot be converted before
the first META anyway (SerialSource holds them back until it arrives), so the session waits for
``SerialSource.meta_`` before it builds the detector and the recorder: nothing is lost meanwhile (blocks
stay queued; the raw bytes read meanwhile are buffered and written to the raw log first). With
``--format text`` there is no META; the id is the ``--device`` name.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imuwalk.core.rows import FLAG_AUTO_DIRECTION, FLAG_CUE_DISAGREES, STRIDE_DTYPE, empty_rows

__all__ = ["CalibratingDetector", "LiveSession", "MountPlan", "SessionResult", "device_key", "link_dict",
           "stable_mount"]

#: META uid of a device that has no unique id (its id says nothing about which sensor it is)
NO_DEVICE_ID = "0000000000000000"

#: link counters shown by the demo (and in the dashboard); ``samples_rejected``: samples the detector could
#: not take (e.g. a time not after the previous one), dropped by the pipeline, neither detected nor recorded
LINK_KEYS = ("rate_hz", "samples", "frames_ok", "frames_lost", "crc_errors", "cobs_errors", "reconnects",
             "queue_drops", "port", "connected", "samples_rejected")


def link_dict(stats: dict) -> dict:
    """The main link counters of ``SerialSource.stats``."""
    return {k: stats[k] for k in LINK_KEYS if k in stats}


def stable_mount(mount: Any) -> Any:
    """``mount`` as it reads back from its dict form (MountStore, the recording's ``mount_json``).

    Mount re-normalizes its axis on construction, which may move the last bit; using the round-tripped
    mount live makes a replay of the recording decide every stride bit-identically."""
    from imuwalk.core.direction import Mount

    for _ in range(5):
        again = Mount.from_dict(mount.to_dict())
        if np.array_equal(again.right_vec, mount.right_vec):
            return again
        mount = again
    return mount


def device_key(meta: Any, name: str | None) -> str | None:
    """The MountStore key: ``name`` (``--device``) when given, else the META device id, else None
    (no META, or a device without a unique id)."""
    if name:
        return str(name)
    dev = getattr(meta, "device_id", None)
    if dev and dev != NO_DEVICE_ID:
        return str(dev)
    return None


# ------------------------------------------------------------------------------------------------ mount
@dataclass
class MountPlan:
    """How the session decides which way is forward.

    mode: ``"given"`` (use ``mount``), ``"calibrate"`` (first ``n_strides`` confident strides are
    forward; store the result), ``"auto"`` (stored mount of the device if any, else automatic).
    device: the MountStore key to use instead of the META device id (``--device NAME``).
    store_path: MountStore file (default: ``$IMUWALK_CONFIG/mounts.json`` or ``~/.config/imuwalk``).
    """

    mode: str = "auto"
    mount: Any = None
    n_strides: int = 5
    device: str | None = None
    store_path: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("given", "calibrate", "auto"):
            raise ValueError(f"mode: expected 'given', 'calibrate' or 'auto', got {self.mode!r}")
        if self.mode == "given" and self.mount is None:
            raise ValueError("mount: required with mode='given'")
        if not (isinstance(self.n_strides, int) and 3 <= self.n_strides <= 200):
            raise ValueError(f"n_strides: expected an int in 3..200, got {self.n_strides!r}")

    def store(self):
        from imuwalk.core.direction import MountStore

        return MountStore(self.store_path)


class CalibratingDetector:
    """A StepDetector whose first ``n_strides`` confident strides are taken as forward walking.

    Until then the rows are held back (nothing is emitted: the direction is not known yet). When the
    ``n_strides``-th stride with ``quality >= min_quality`` arrives, :func:`calibrate_mount` fixes the
    mount from those strides, and every held and later row gets its direction from
    ``DirectionDecider(mount)`` — exactly what ``StepDetector(mount=mount)`` gives, so a replay of the
    recording with the calibrated mount reproduces the strides. ``on_done(mount, error)`` is called once:
    with the mount, or with None and the reason when the calibration fails (swing axes disagree) or
    the stream ends first; the rows then keep their automatic-mode direction.

    Deterministic and chunk-invariant (decisions follow emission order only).
    """

    def __init__(self, placement: str = "shank", n_strides: int = 5, *, min_quality: float = 0.3,
                 side: str = "unknown", on_done: Callable[[Any, str | None], Any] | None = None,
                 detector_params: dict | None = None) -> None:
        from imuwalk.core.detector import StepDetector

        if not (isinstance(n_strides, int) and n_strides >= 3):
            raise ValueError(f"n_strides: expected an int >= 3, got {n_strides!r}")
        if not (0.0 <= float(min_quality) <= 1.0):
            raise ValueError(f"min_quality: expected 0..1, got {min_quality!r}")
        self.inner = StepDetector(placement=placement, mount=None, **(detector_params or {}))
        self.params_ = self.inner.params_
        self.n_strides = n_strides
        self.min_quality = float(min_quality)
        self.side = side
        self.on_done = on_done
        #: "calibrating" | "calibrated" | "failed" | "incomplete"
        self.state_ = "calibrating"
        self.mount_ = None
        self.error_: str | None = None
        #: stride_index of the strides the mount was computed from
        self.calibration_strides_: list[int] = []
        self._held: list[np.ndarray] = []
        self._decider = None
        self._chunks: list[np.ndarray] = []

    @property
    def events_(self) -> np.ndarray:
        """All rows emitted so far (STRIDE_DTYPE)."""
        return np.concatenate(self._chunks) if self._chunks else empty_rows(0)

    @property
    def n_held_(self) -> int:
        return int(sum(len(h) for h in self._held))

    def update(self, t, acc, gyr) -> np.ndarray:
        return self._out(self._process(self.inner.update(t, acc, gyr)))

    def finish(self) -> np.ndarray:
        rows = self._process(self.inner.finish())
        if self.state_ == "calibrating":
            n = self._confident(np.concatenate(self._held)).sum() if self._held else 0
            self.state_ = "incomplete"
            self.error_ = f"the session ended after {int(n)} of {self.n_strides} confident strides"
            held = self._release()
            rows = np.concatenate([held, rows]) if rows.size else held
            self._notify()
        return self._out(rows)

    # -- internals
    def _out(self, rows: np.ndarray) -> np.ndarray:
        if rows.size:
            self._chunks.append(rows)
        return rows

    def _notify(self) -> None:
        if self.on_done is not None:
            self.on_done(self.mount_, self.error_)

    def _confident(self, rows: np.ndarray) -> np.ndarray:
        ax = np.stack([rows["swing_axis_x"], rows["swing_axis_y"], rows["swing_axis_z"]], axis=1)
        return (rows["quality"] >= self.min_quality) & (np.linalg.norm(ax, axis=1) > 1e-9)

    def _release(self) -> np.ndarray:
        rows = np.concatenate(self._held) if self._held else empty_rows(0)
        self._held = []
        return rows

    def _decide(self, rows: np.ndarray) -> np.ndarray:
        rows = np.array(rows, dtype=STRIDE_DTYPE, copy=True)
        rows["flags"] &= np.uint16(~(FLAG_AUTO_DIRECTION | FLAG_CUE_DISAGREES) & 0xFFFF)
        return self._decider.apply(rows)

    def _process(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        if rows.size == 0:
            return empty_rows(0)
        if self.state_ == "calibrated":
            return self._decide(rows)
        if self.state_ != "calibrating":
            return rows  # failed/incomplete: automatic mode
        self._held.append(rows)
        held = np.concatenate(self._held)
        conf = np.flatnonzero(self._confident(held))
        if conf.size < self.n_strides:
            return empty_rows(0)
        from imuwalk.core.direction import DirectionDecider, calibrate_mount

        use = held[conf[: self.n_strides]]
        self.calibration_strides_ = [int(i) for i in use["stride_index"]]
        try:
            mount = stable_mount(calibrate_mount(use, min_strides=self.n_strides, side=self.side))
        except ValueError as e:
            self.state_ = "failed"
            self.error_ = str(e)
            out = self._release()
            self._notify()
            return out
        self.mount_ = mount
        self._decider = DirectionDecider(mount)
        self.state_ = "calibrated"
        out = self._decide(self._release())
        self._notify()
        return out


# ------------------------------------------------------------------------------------------------ result
@dataclass
class SessionResult:
    """What a live session produced (see :meth:`LiveSession.run`)."""

    rows: np.ndarray
    summary: Any
    link: dict
    gaps: list
    meta: Any = None
    device_id: str | None = None
    mount: dict = field(default_factory=dict)
    recording: dict | None = None
    recorder_error: str | None = None
    #: Ctrl-C arrived as KeyboardInterrupt (demo); ``signalled``: SIGINT/SIGTERM caught (stream)
    interrupted: bool = False
    signalled: bool = False
    no_data: bool = False
    stats: dict = field(default_factory=dict)

    def document(self, extra: dict | None = None, *, full_link: bool = False) -> dict:
        """The ``--json`` document: strides, summary, link, recording, mount (+ ``extra`` keys)."""
        from imuwalk.sinks.jsonout import result_document

        link = dict(self.link) if full_link else link_dict(self.link)
        if full_link:
            link["gaps"] = [dict(g) for g in self.gaps]
        doc_extra = {"link": link, "recording": self.recording, "mount": self.mount}
        doc_extra.update(extra or {})
        return result_document(self.rows, self.summary, extra=doc_extra)


# ------------------------------------------------------------------------------------------------ session
class LiveSession:
    """Run one live session from a serial port (see the module doc).

    port, baud, reconnect, format, text_options, port_resolver: passed to SerialSource (``port_resolver``
    names the port to reopen after an unplug, e.g. a board that came back as another /dev node).
    meta: the DeviceMeta when it is known in advance (the demo's emulator; used as SerialSource
    ``default_meta`` and no META wait).
    placement: "shank"/"ankle"/"foot"; detector_params: keyword overrides of its detector parameters
    (``--param``). plan: :class:`MountPlan`. record: .h5 path or None; force:
    overwrite it. session_attrs: extra session attributes for the file (``detector_params`` is added to them
    when given). goal_minutes: daily backward goal.
    display: "auto" (Dashboard: rich screen on a terminal, plain lines otherwise) or "none" (--json,
    --quiet). title: dashboard title. plain_interval_s: seconds between plain status lines.
    on_rows: extra callback for every batch of emitted rows (e.g. per-stride lines).
    handle_signals: SIGINT/SIGTERM end the session (result.signalled) instead of KeyboardInterrupt.
    log: ``log(msg, level)`` for progress on stderr (level 0 normal, 1 verbose, -1 warnings).
    announce: log "reading PORT ...; Ctrl-C to stop" once the port is open. on_open: called once the port is
    open and its reader thread runs (so the reader sees every byte sent after it), e.g. to start an emulated
    device.
    """

    def __init__(self, port: str, *, baud: int = 921600, reconnect: bool = True, format: str = "imuwalk",
                 text_options: dict | None = None, meta: Any = None, placement: str = "shank",
                 plan: MountPlan | None = None, record: str | Path | None = None, force: bool = False,
                 session_attrs: dict | None = None, goal_minutes: float = 10.0, display: str = "auto",
                 title: str = "imuwalk", plain_interval_s: float = 5.0,
                 on_rows: Callable[[np.ndarray], Any] | None = None, handle_signals: bool = False,
                 log: Callable[[str, int], Any] | None = None, announce: bool = True,
                 meta_notice_s: float = 3.0, detector_params: dict | None = None,
                 on_open: Callable[[], Any] | None = None,
                 port_resolver: Callable[[], str] | None = None) -> None:
        if display not in ("auto", "live", "plain", "none"):
            raise ValueError(f"display: expected 'auto', 'live', 'plain' or 'none', got {display!r}")
        self.port = port
        self.port_resolver = port_resolver
        self.baud = baud
        self.reconnect = reconnect
        self.format = format
        self.text_options = dict(text_options or {})
        self.meta = meta
        self.placement = placement
        self.detector_params = dict(detector_params or {})
        self.on_open = on_open
        self.plan = plan or MountPlan()
        self.record = Path(record) if record is not None else None
        self.force = force
        self.session_attrs = dict(session_attrs or {})
        self.goal_minutes = goal_minutes
        self.display = display
        self.title = title
        self.plain_interval_s = plain_interval_s
        self.on_rows = on_rows
        self.handle_signals = handle_signals
        self.log = log or (lambda msg, level=0: print(msg, file=sys.stderr, flush=True))
        self.announce = announce
        self.meta_notice_s = meta_notice_s
        self.source = None
        #: the Recorder while it takes raw bytes (None before META and after the end)
        self.recorder = None
        self._rec = None
        self.detector = None
        self.mount_info: dict = {}
        self.device_id: str | None = None
        self._raw_lock = threading.Lock()
        self._raw_buf: list[bytes] | None = [] if self.record is not None else None
        self._signalled = False

    def _session_record(self) -> dict:
        """Session attributes for the recording: ``session_attrs`` plus the ``detector_params`` overrides
        (which ``imuwalk detect`` applies again when it replays the file)."""
        if not self.detector_params:
            return self.session_attrs
        return {**self.session_attrs, "detector_params": dict(self.detector_params)}

    # -- checks before anything starts ----------------------------------------------------------------
    def check(self) -> None:
        """Fail early, before the port is opened: unusable ``detector_params``, an existing recording
        (without ``force``), a missing or unwritable folder, an unreadable mount store (CliError, one line),
        a device path that does not exist or this user may not open (OSError, one line)."""
        import os

        from imuwalk.cli.main import CliError
        from imuwalk.core.detector import DetectorParams
        from imuwalk.sources.serial import check_port

        try:
            DetectorParams.for_placement(self.placement, **self.detector_params)
        except (ValueError, TypeError, OverflowError) as e:
            raise CliError(f"detector_params: {e}") from None

        if self.record is not None:
            p = self.record
            if p.exists() and not self.force:
                raise CliError(f"recording {p} already exists; choose another name or pass --force to "
                               "overwrite it")
            from imuwalk.sinks.hdf5 import raw_log_path

            raw = raw_log_path(p)  # appending to an earlier session's byte log would mix the two sessions
            if (raw.exists() or raw.is_symlink()) and not self.force:
                raise CliError(f"the byte log {raw} of an earlier recording already exists; choose another "
                               "name or pass --force to overwrite it")
            parent = p.parent if str(p.parent) else Path(".")
            if not parent.is_dir():
                raise CliError(f"cannot record to {p}: folder {parent} does not exist")
            if not os.access(parent, os.W_OK):
                raise CliError(f"cannot record to {p}: folder {parent} is not writable")
        if self.plan.mode in ("calibrate", "auto"):
            try:
                self.plan.store().devices()
            except ValueError as e:
                raise CliError(str(e)) from None
        port = str(self.port or "")
        local = bool(port) and "://" not in port and os.name != "nt"
        if local and os.path.isdir(port):
            raise CliError(f"cannot open port {port}: it is a folder, not a serial device")
        check_port(self.port)  # missing, or no permission (that message names the fix)
        if local and os.path.isfile(port):
            raise CliError(f"cannot open port {port}: it is a regular file, not a serial device (a recorded "
                           f"file is read with `imuwalk detect {port}`)")

    # -- mount resolution -----------------------------------------------------------------------------
    def _build_detector(self, meta: Any):
        """Detector + the JSON/file description of the mount, once the device (id) is known."""
        from imuwalk.cli.main import CliError
        from imuwalk.core.detector import StepDetector

        plan = self.plan
        self.device_id = device_key(meta, plan.device)
        if plan.mode == "given":
            self.mount_info = plan.mount.to_dict()
            return StepDetector(placement=self.placement, mount=plan.mount, **self.detector_params)
        store = plan.store()
        if plan.mode == "calibrate":
            self.mount_info = {"source": "calibration", "state": "calibrating", "n_strides": plan.n_strides,
                               "device_id": self.device_id, "store": str(store.path)}
            self.log(f"calibrating: walk FORWARD for the first {plan.n_strides} strides "
                     "(their directions are shown once the calibration is done)", 0)
            if self.device_id is None:
                self.log("calibration: the device sends no id; the mount is used for this session only "
                         "(give --device NAME to store it)", -1)
            return CalibratingDetector(self.placement, plan.n_strides, on_done=self._calibrated,
                                       detector_params=self.detector_params)
        try:
            stored = store.get(self.device_id) if self.device_id is not None else None
        except ValueError as e:
            raise CliError(str(e)) from None
        except (KeyError, TypeError) as e:
            raise CliError(f"mount store {store.path}: bad entry for device {self.device_id} ({e})") from None
        if stored is not None:
            stored = stable_mount(stored)
            self.mount_info = {**stored.to_dict(), "device_id": self.device_id, "store": str(store.path),
                               "from_store": True}
            self.log(f"mount: stored for device {self.device_id} ({_axis_text(stored.right_vec)} points to "
                     f"the wearer's right; {stored.source}, {stored.n_strides} strides) from {store.path}", 0)
            return StepDetector(placement=self.placement, mount=stored, **self.detector_params)
        self.mount_info = {"source": "auto", "device_id": self.device_id}
        who = f"device {self.device_id}" if self.device_id else "this device (no id; see --device)"
        self.log(f"mount: automatic — no stored mount for {who}; forward = the dominant swing of the first "
                 "strides (use --mount AXIS or --calibrate to fix it)", 0)
        return StepDetector(placement=self.placement, mount=None, **self.detector_params)

    def _calibrated(self, mount: Any, error: str | None) -> None:
        """CalibratingDetector callback: store the mount, tell the user and the recording."""
        plan = self.plan
        if mount is None:
            self.mount_info = {"source": "auto", "device_id": self.device_id,
                               "calibration": {"state": self.detector.state_, "error": error}}
            self.log(f"calibration failed: {error}; directions stay automatic, nothing stored", -1)
        else:
            store = plan.store()
            info = {**mount.to_dict(), "device_id": self.device_id, "store": str(store.path),
                    "stored": False, "calibration_strides": list(self.detector.calibration_strides_)}
            if self.device_id is not None:
                try:
                    store.put(self.device_id, mount)
                    info["stored"] = True
                except (OSError, ValueError) as e:
                    info["store_error"] = str(e)
                    self.log(f"calibration: could not store the mount: {e}", -1)
            self.mount_info = info
            where = f"; stored for device {self.device_id} in {store.path}" if info["stored"] else ""
            self.log(f"calibration finished: {_axis_text(mount.right_vec)} points to the wearer's right "
                     f"(from {mount.n_strides} forward strides){where}", 0)
        rec = self._rec
        if rec is not None:
            try:
                if callable(getattr(rec, "set_mount", None)):
                    rec.set_mount(dict(self.mount_info))
                rec.write_event("mount", dict(self.mount_info))
            except (OSError, ValueError):
                pass

    # -- raw bytes ------------------------------------------------------------------------------------
    def _on_raw(self, data: bytes, _t_ns: int) -> None:
        with self._raw_lock:
            if self.recorder is not None:
                self.recorder.write_raw(data)
            elif self._raw_buf is not None:
                self._raw_buf.append(bytes(data))

    def _attach_recorder(self, rec: Any) -> None:
        with self._raw_lock:
            for chunk in self._raw_buf or []:
                rec.write_raw(chunk)
            self._raw_buf = None
            self.recorder = rec
            self._rec = rec

    def _detach_recorder(self) -> None:
        with self._raw_lock:
            self.recorder = None
            self._raw_buf = None

    # -- the run --------------------------------------------------------------------------------------
    def _wait_meta(self, src: Any, stop: threading.Event) -> Any:
        """The device META (None if the run is stopped or the link ends before it arrives)."""
        if self.meta is not None or self.format != "imuwalk":
            return self.meta
        t0 = time.monotonic()
        told = False
        while src.meta_ is None and not stop.is_set():
            if not src.running and not src.reconnect:
                break
            if not told and time.monotonic() - t0 > self.meta_notice_s:
                self.log(f"waiting for the device on {self.port} (no META frame yet: is it an imuwalk device "
                         f"sending at {self.baud} baud? The Arduino sketch sends at 115200 unless built with "
                         "another IMUWALK_BAUD: --baud 115200; --format text for text-line sketches)", -1)
                told = True
            stop.wait(0.02)
        return src.meta_

    def run(self, duration_s: float | None = None, timeout_s: float | None = None) -> SessionResult:
        """Stream until ``duration_s`` s of data (device time), ``timeout_s`` s of wall time, the link ends
        (``reconnect=False``), Ctrl-C, or (``handle_signals``) SIGINT/SIGTERM. Raises OSError with one line
        if the port cannot be opened, CliError for recorder/store failures."""
        from imuwalk.cli.main import CliError
        from imuwalk.core.summary import summarize
        from imuwalk.pipeline import Pipeline
        from imuwalk.sources.serial import SerialSource

        self.check()
        src = SerialSource(self.port, self.baud, reconnect=self.reconnect, format=self.format,
                           text_options=self.text_options, default_meta=self.meta, on_raw=self._on_raw,
                           port_resolver=self.port_resolver)
        self.source = src
        stop = threading.Event()
        old_handlers: dict = {}
        if self.handle_signals:
            def on_signal(signum, frame):  # noqa: ARG001
                self._signalled = True
                stop.set()

            for s in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError):  # not the main thread
                    old_handlers[s] = signal.signal(s, on_signal)
        timer = None
        if timeout_s is not None:
            timer = threading.Timer(timeout_s, stop.set)
            timer.daemon = True
        dash = None
        rec_state: dict = {"path": str(self.record), "state": "recording", "samples": 0}
        res = None
        interrupted = False
        det = None
        try:
            src.start()  # OSError with one clear line: unknown port, permission denied, busy
            if self.on_open is not None:
                self.on_open()  # e.g. the demo's emulator starts sending now: the reader gets its first byte
            if timer is not None:
                timer.start()
            if self.announce:
                self.log(f"reading {src.port} ({self.placement}); Ctrl-C to stop", 0)
            meta = self._wait_meta(src, stop)
            det = self.detector = self._build_detector(meta)
            if self.record is not None:
                from imuwalk.sinks.hdf5 import Recorder

                try:
                    rec = Recorder(self.record, meta=meta, placement=self.placement, mount=dict(self.mount_info),
                                   params=getattr(det, "params_", None), session=self._session_record(),
                                   overwrite=self.force, check_blocks=False)  # the pipeline's gate checked them
                except (FileExistsError, FileNotFoundError, PermissionError) as e:
                    raise CliError(str(e)) from None
                self._attach_recorder(rec)
                self.log(f"recording to {self.record}", 1)

            def rec_status() -> dict | None:
                if self.record is None:
                    return None
                r = self._rec
                rec_state["samples"] = r.n_samples if r is not None else 0
                return dict(rec_state)

            if self.display != "none":
                from imuwalk.cli.dashboard import Dashboard

                live = {"auto": None, "live": True, "plain": False}[self.display]
                dash = Dashboard(goal_minutes=self.goal_minutes, title=self.title, live=live,
                                 plain_interval_s=self.plain_interval_s)

            def on_rows(rows) -> None:
                if self.on_rows is not None:
                    self.on_rows(rows)
                if dash is not None:
                    dash.update(rows, src.stats, rec_status())

            def on_tick(_stats: dict) -> None:
                if dash is not None:
                    dash.update(None, src.stats, rec_status())

            pipe = Pipeline(src, det, recorder=self.recorder, on_rows=on_rows, on_tick=on_tick, tick_s=0.25)
            if dash is not None:
                dash.start()
            res = pipe.run(stop_event=stop, duration_s=duration_s)
            interrupted = bool(res.stats.get("interrupted"))
        except KeyboardInterrupt:
            interrupted = True
            res = None
        finally:
            if timer is not None:
                timer.cancel()
            src.stop()
            rec = self.recorder
            self._detach_recorder()
            if rec is not None:
                with contextlib.suppress(OSError):
                    rec.close()
            if dash is not None:
                rec_state["state"] = "finalized"
                dash.update(None, src.stats, rec_status())
                dash.stop()
            for s, h in old_handlers.items():
                signal.signal(s, h)
        if res is not None:
            rows = res.rows
        elif det is not None:
            rows = det.events_
        else:
            rows = empty_rows(0)
        summary = summarize(rows, goal_minutes=self.goal_minutes)
        rec_err = res.stats.get("recorder_error") if res is not None else None
        recording = None
        rec = self._rec
        if self.record is not None:
            recording = {"path": str(self.record), "samples": int(rec.n_samples) if rec is not None else 0,
                         "error": rec_err, "complete": bool(getattr(rec, "complete", False))}
        mount = dict(self.mount_info) if self.mount_info else {"source": "auto"}
        if mount.get("source") == "auto" and det is not None and getattr(det, "forward_axis_", None) is not None:
            mount["forward_axis"] = [float(x) for x in det.forward_axis_]
        link = dict(src.stats)
        n_rej = int(res.stats.get("samples_rejected", 0)) if res is not None else 0
        link["samples_rejected"] = n_rej
        if n_rej:
            self.log(f"{n_rej} samples the detector could not take were dropped (first: "
                     f"{res.stats.get('rejected_reason')})", -1)
        return SessionResult(rows=rows, summary=summary, link=link, gaps=list(src.gaps_), meta=src.meta_,
                             device_id=self.device_id, mount=mount, recording=recording, recorder_error=rec_err,
                             interrupted=interrupted, signalled=self._signalled,
                             no_data=bool(res is None or res.stats.get("samples", 0) == 0),
                             stats=dict(res.stats) if res is not None else {})


def _axis_text(v) -> str:
    """'-y' for a signed unit axis, else the rounded vector."""
    v = np.asarray(v, dtype=np.float64)
    i = int(np.argmax(np.abs(v)))
    if abs(abs(v[i]) - 1.0) < 1e-6:
        return ("+" if v[i] > 0 else "-") + "xyz"[i]
    return "[" + ", ".join(f"{x:+.2f}" for x in v) + "]"


def describe_mount(mount: dict) -> str:
    """One line saying which mount decided the directions (for the text summary)."""
    src = mount.get("source")
    if src == "auto":
        cal = mount.get("calibration")
        why = f" (calibration {cal.get('state')}: {cal.get('error')})" if isinstance(cal, dict) else ""
        return ("automatic: forward = the dominant swing of the first strides" + why
                + "; use --mount AXIS or --calibrate to fix it")
    if src == "calibration" and mount.get("state") == "calibrating":
        return "calibration did not finish"
    axis = _axis_text(mount["right"]) if "right" in mount else "?"
    if mount.get("from_store"):
        return f"stored for device {mount.get('device_id')} ({axis} = wearer's right, from {mount.get('store')})"
    if src == "calibration":
        tail = f", stored for device {mount.get('device_id')}" if mount.get("stored") else ", not stored"
        return f"calibrated this session ({axis} = wearer's right, {mount.get('n_strides')} strides{tail})"
    return f"given ({axis} = wearer's right)"
