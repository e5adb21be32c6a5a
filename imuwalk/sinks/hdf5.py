"""Crash-safe HDF5 recording: :class:`Recorder` (writer thread), :class:`Recording` (reader), :func:`repair`.

Layout and units: docs/HDF5_FORMAT.md (format ``"imuwalk-hdf5"``, version ``"1.0"``). Samples are stored as
raw int16 counts with NWB-style ``unit``/``conversion`` attributes when the source delivers counts, else as
float SI values. ``t`` (s, detector time base = device clock) is always stored so that replay feeds the
detector exactly the times of the live run.

h5py is imported inside functions (optional dependency, ``pip install 'imuwalk[hdf5]'``; without it the
first call raises an ImportError saying so).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from imuwalk._optional import require
from imuwalk.core.kernel import check_time
from imuwalk.core.rows import STRIDE_DTYPE, STRIDE_FIELDS
from imuwalk.sources.block import SampleBlock, increasing_mask

_F64 = np.dtype(np.float64)

FORMAT = "imuwalk-hdf5"
FORMAT_VERSION = "1.0"
#: standard gravity used for the g -> m/s² documentation attributes
G0 = 9.80665

#: /link/gaps row: a jump in the device sequence numbers
GAP_DTYPE = np.dtype(
    [
        ("index", "i8"),
        ("seq_before", "u8"),
        ("seq_after", "u8"),
        ("n_missing", "u8"),
        ("t_before", "f8"),
        ("t_after", "f8"),
    ]
)
#: /link/events row: META/STATUS/info history, reconnects, notes (JSON text, fixed size for SWMR)
EVENT_JSON_BYTES = 2048
EVENT_DTYPE = np.dtype(
    [
        ("index", "i8"),
        ("t", "f8"),
        ("t_host_ns", "i8"),
        ("kind", "S16"),
        ("json", f"S{EVENT_JSON_BYTES}"),
    ]
)

_SAMPLE_COLS = ("t", "acc", "gyr", "acc_raw", "gyr_raw", "t_dev_us", "seq", "t_host_ns")
#: optional fields of a SampleBlock; the first block written fixes which of them a recording has
_OPTIONAL_FIELDS = ("acc_raw", "gyr_raw", "t_dev_us", "seq", "t_host_ns")
#: /imu/si_override row ("counts" files): a sample whose SI values are not its counts × conversion (a scale
#: change, a NaN), with its exact SI values
OVERRIDE_DTYPE = np.dtype([("index", "i8"), ("acc", "f8", (3,)), ("gyr", "f8", (3,))])

log = logging.getLogger("imuwalk.hdf5")


class RecorderError(OSError):
    """The recorder stopped writing (disk full, I/O error); what was flushed before stays readable."""


class RecordingError(ValueError):
    """A file is not a readable imuwalk recording (wrong format, newer version, damaged)."""


def raw_log_path(path: str | os.PathLike) -> Path:
    """The raw byte log beside a recording: ``<file>.imuraw`` (e.g. ``session.h5.imuraw``)."""
    p = Path(path)
    return p.with_name(p.name + ".imuraw")


def _utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _jsonable(obj: Any) -> Any:
    """Plain JSON-ready form of dataclasses, numpy values, paths, enums, bytes."""
    if hasattr(obj, "to_dict") and not isinstance(obj, type):
        try:
            return _jsonable(obj.to_dict())
        except Exception:  # noqa: BLE001 - best effort provenance
            pass
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist() if obj.size <= 64 else f"<array {obj.shape} {obj.dtype}>"
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, bytes):
        return obj.hex()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "value") and hasattr(obj, "name"):  # enums
        return _jsonable(obj.value)
    return str(obj)


def _h5py():
    """h5py, or an ImportError naming the extra that installs it."""
    return require("h5py", "reading or writing HDF5 recordings")


def _dumps(obj: Any) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True, allow_nan=True)


def _software() -> dict:
    h5py = _h5py()

    import imuwalk

    return {
        "imuwalk": imuwalk.__version__,
        "h5py": h5py.version.version,
        "hdf5": h5py.version.hdf5_version,
        "numpy": np.__version__,
    }


def _exact_conversion(raw: np.ndarray, si: np.ndarray) -> float | None:
    """The float64 ``c`` with ``raw.astype(f8) * c == si`` bit-exactly, or None if there is none."""
    rawf = np.asarray(raw, dtype=np.float64)
    si = np.asarray(si, dtype=np.float64)
    if rawf.shape != si.shape:
        return None
    nz = rawf != 0
    if not np.any(nz):
        return 1.0 if np.all(si == 0) else None
    ratios = si[nz] / rawf[nz]
    vals, counts = np.unique(ratios, return_counts=True)
    for c in vals[np.argsort(-counts)][:4]:
        if np.array_equal(rawf * c, si):
            return float(c)
    return None


def _meta_attrs(meta: Any) -> dict:
    """Scalar attributes of a device meta object (dataclass or dict)."""
    d = _jsonable(meta)
    if not isinstance(d, dict):
        return {"meta": str(d)}
    out = {}
    for k, v in d.items():
        if isinstance(v, (int, float, str, bool)) and not (isinstance(v, int) and abs(v) >= 2**63):
            out[k] = v
        elif isinstance(v, int):
            out[k] = str(v)
    return out


# ---------------------------------------------------------------------------------------------------------
# Recorder
# ---------------------------------------------------------------------------------------------------------


class Recorder:
    """Crash-safe HDF5 writer; appends from its own thread, flush + fsync every ``flush_interval_s``.

    ``write_block``/``write_strides``/``write_raw``/``write_event`` only enqueue (never block the caller).
    After a crash at most the last flush interval is lost (see ``benchmarks/stress_kill.py``).
    An I/O failure (e.g. disk full) stops writing cleanly: the file keeps what was flushed, ``.error`` holds a
    :class:`RecorderError`, and the next ``write_*``/``close`` call raises it.

    Parameters: ``path`` .h5 file; ``meta`` device metadata (protocol ``DeviceMeta`` or dict; else taken from
    ``block.info["meta"]``); ``placement`` "shank"/"ankle"/"foot"; ``mount`` mount description;
    ``params`` detector parameters (dataclass or dict, stored as JSON); ``session`` extra session attributes;
    ``flush_interval_s`` s; ``swmr`` live readers in other processes; ``raw_log`` keep ``<file>.imuraw``;
    ``overwrite`` replace an existing file; ``compression`` "gzip" or None; ``check_blocks`` check every
    block in :meth:`write_block` (default; turn it off only for blocks already checked, like the live
    pipeline's, whose gate drops bad samples before they reach the recorder: it saves ~0.3 % of a core at
    1 kHz, 50 blocks/s).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        meta: Any = None,
        placement: str | None = None,
        mount: Any = None,
        params: Any = None,
        session: dict | None = None,
        flush_interval_s: float = 1.0,
        swmr: bool = True,
        raw_log: bool = True,
        overwrite: bool = False,
        compression: str | None = "gzip",
        check_blocks: bool = True,
    ) -> None:
        h5py = _h5py()

        if not (isinstance(flush_interval_s, (int, float)) and 0.0 < float(flush_interval_s) <= 3600.0):
            raise ValueError(f"flush_interval_s must be in (0, 3600] s, got {flush_interval_s!r}")
        if compression not in (None, "gzip"):
            raise ValueError(f"compression must be 'gzip' or None, got {compression!r}")
        self.path = Path(path)
        self.check_blocks = bool(check_blocks)
        self.flush_interval_s = float(flush_interval_s)
        self.swmr = bool(swmr)
        self.compression = compression
        self.raw_log_path = raw_log_path(self.path) if raw_log else None
        self._meta = meta
        self._device_written = False
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"recording {self.path} already exists; choose another name or pass overwrite=True (--force)"
            )
        if self.raw_log_path is not None and self.raw_log_path.exists() and not overwrite:
            # appending would merge two sessions in one byte log (and `repair --from-raw` would rebuild both)
            raise FileExistsError(
                f"the byte log {self.raw_log_path} of an earlier recording already exists; choose another name "
                "or pass overwrite=True (--force)"
            )
        parent = self.path.parent
        if not parent.is_dir():
            raise FileNotFoundError(f"cannot record to {self.path}: folder {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise PermissionError(f"cannot record to {self.path}: folder {parent} is not writable")
        libver = ("v110", "v110") if self.swmr else None
        try:
            self._f = h5py.File(self.path, "w", libver=libver)
        except OSError as e:
            raise OSError(f"cannot create recording {self.path}: {e}") from e
        if self.raw_log_path is not None and overwrite and self.raw_log_path.exists():
            self.raw_log_path.unlink()
        self._raw_fh = None
        f = self._f
        try:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["created_utc"] = _utcnow()
            f.attrs["host_mono_anchor_ns"] = np.int64(time.monotonic_ns())
            f.attrs["utc_anchor_ns"] = np.int64(time.time_ns())
            f.attrs["software_json"] = _dumps(_software())
            f.attrs["complete"] = False
            f.attrs["swmr"] = self.swmr
            f.attrs["flush_interval_s"] = self.flush_interval_s
            f.attrs["raw_log"] = self.raw_log_path.name if self.raw_log_path else ""
            f.attrs["placement"] = placement or ""
            f.attrs["mount_json"] = _dumps(mount)
            f.attrs["detector_params_json"] = _dumps(params)
            f.attrs["session_json"] = _dumps(session or {})
            f.attrs["data_kind"] = "pending"
            f.create_group("device")
            f.create_group("imu")
            link = f.create_group("link")
            sg = f.create_group("strides")
            sg.attrs["placement"] = placement or ""
            sg.attrs["detector_params_json"] = _dumps(params)
            sg.attrs["software_version"] = _software()["imuwalk"]
            rows = sg.create_dataset(
                "rows", shape=(0,), maxshape=(None,), dtype=STRIDE_DTYPE, chunks=(256,), **self._comp()
            )
            rows.attrs["unit"] = "mixed; see field_units_json"
            rows.attrs["field_units_json"] = json.dumps({n: doc for n, _, doc in STRIDE_FIELDS})
            rows.attrs["time_base"] = "s on the detector's input time base (= /imu/t)"
            gaps = link.create_dataset(
                "gaps", shape=(0,), maxshape=(None,), dtype=GAP_DTYPE, chunks=(64,), **self._comp()
            )
            gaps.attrs["unit"] = "index: sample index after the gap; seq: frames; t: s"
            ev = link.create_dataset(
                "events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE, chunks=(16,), **self._comp()
            )
            ev.attrs["unit"] = "index: sample index; t: s; t_host_ns: ns; json: UTF-8 JSON"
            if meta is not None:
                self._write_device(meta)
            f.flush()
            os.fsync(f.id.get_vfd_handle())
        except Exception:
            f.close()
            raise
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()  # stop/sync: flush now instead of at the next interval
        self._late: dict[str, str] = {}  # file attributes known only during the session, written at close()
        self._error: RecorderError | None = None
        self._error_raised = False
        self._closed = False
        self._finalized = False
        self._created = False
        self._n = 0
        self._n_strides = 0
        self._n_durable = 0
        self._n_strides_durable = 0
        #: stop recording when less than this (plus the batch) is free on the disk, bytes
        self.space_margin_bytes = 4 * 1024 * 1024
        self._last_seq: int | None = None
        self._last_t: float | None = None
        self._t_last_queued = -np.inf  # last time accepted by write_block (caller thread)
        self._seq_other = np.zeros(0, np.int64)  # seqs of non-sample frames not yet passed by the samples
        self._last_info_json: str | None = None
        self._si_mismatch = 0
        self._conv: dict[str, float] = {}
        self._fields: tuple[bool, ...] | None = None  # optional fields present in the first block (caller thread)
        self._overrides: list[np.ndarray] = []  # OVERRIDE_DTYPE rows of the batch being written
        self._cols: list[str] = []
        self.stats: dict[str, Any] = {
            "flushes": 0,
            "samples": 0,
            "strides": 0,
            "raw_bytes": 0,
            "flush_ms_max": 0.0,
            "flush_ms_total": 0.0,
            "write_cpu_s": 0.0,
        }
        self._thread = threading.Thread(
            target=self._run, name=f"imuwalk-recorder:{self.path.name}", daemon=True
        )
        self._thread.start()

    # -- public API (caller thread) --------------------------------------------------------------------------
    @property
    def error(self) -> RecorderError | None:
        """The I/O failure that stopped the recorder, or None."""
        return self._error

    @property
    def complete(self) -> bool:
        """True once :meth:`close` finalized the file (``complete = True`` written)."""
        return self._finalized

    @property
    def n_samples(self) -> int:
        """Samples written to the file so far (flushed batches)."""
        return self._n

    def _check(self) -> None:
        if self._error is not None:
            self._error_raised = True
            raise self._error
        if self._closed:
            raise ValueError(f"recorder for {self.path} is closed")

    def set_meta(self, meta: Any) -> None:
        """Device metadata (protocol ``DeviceMeta`` or dict) for /device, if given before the first block;
        later it is stored as a "meta" event."""
        self._check()
        if meta is None:
            return
        if not self._created and self._meta is None:
            self._meta = meta
        else:
            self.write_event("meta", meta)

    def set_params(self, params: Any, placement: str | None = None) -> None:
        """Detector parameters (and placement) known only after construction; stored at ``close()``."""
        self._late["detector_params_json"] = _dumps(params)
        if placement:
            self._late["placement"] = str(placement)

    def set_mount(self, mount: Any) -> None:
        """The mount (``Mount.to_dict()`` or a dict) known only during the session (calibration);
        replaces the file's ``mount_json`` at ``close()`` so that replay uses it."""
        self._late["mount_json"] = _dumps(mount)

    def write_block(self, block: SampleBlock) -> None:
        """Enqueue a SampleBlock (non-blocking).

        The block is checked in the caller's thread before anything is queued: ``t`` (N,) finite real
        numbers, strictly increasing and after the last sample written; ``acc``/``gyr`` (N, 3) real numbers;
        ``acc_raw``/``gyr_raw`` (N, 3) integers, ``t_dev_us``/``seq``/``t_host_ns`` (N,) integers when
        given. A bad block raises ``ValueError`` naming the field and the problem; nothing of it is
        recorded and the recorder stays usable."""
        self._check()
        if not isinstance(block, SampleBlock):
            raise ValueError(f"block must be a SampleBlock, got {type(block).__name__}")
        if not self.check_blocks:
            if len(block):
                self._q.put(("block", block))
            return
        block = self._validated(block)
        if len(block):
            self._check_fields(block)
            self._q.put(("block", block))
            self._t_last_queued = float(block.t[-1])

    def _check_fields(self, block: SampleBlock) -> None:
        """The first block fixes the recording's columns; a later one must carry the same optional fields
        (a missing one cannot be stored, an extra one would be dropped). ValueError naming the field."""
        have = tuple(getattr(block, k) is not None for k in _OPTIONAL_FIELDS)
        if self._fields is None:
            self._fields = have
            return
        if have != self._fields:
            k = next(i for i, (a, b) in enumerate(zip(have, self._fields, strict=True)) if a != b)
            name = _OPTIONAL_FIELDS[k]
            was = "had them" if self._fields[k] else "had none"
            now = "missing (None)" if not have[k] else "given"
            raise ValueError(f"block.{name}: {now}, but the first block of this recording {was}; a recording's "
                             "columns are fixed by its first block")

    def _validated(self, block: SampleBlock) -> SampleBlock:
        """``block`` itself when it is already well formed (the live path: a few attribute checks and one
        compiled time check, ~2 µs), else a checked copy with numpy arrays (see :meth:`write_block`);
        ValueError if bad."""
        if self._well_formed(block):
            return block
        return self._checked_copy(block)

    def _well_formed(self, block: SampleBlock) -> bool:
        t, acc, gyr = block.t, block.acc, block.gyr
        if type(t) is not np.ndarray or type(acc) is not np.ndarray or type(gyr) is not np.ndarray:
            return False
        n = t.shape[0]
        if not (t.dtype == _F64 and t.ndim == 1 and t.flags.c_contiguous and acc.shape == (n, 3)
                and gyr.shape == (n, 3) and acc.dtype.kind == "f" and gyr.dtype.kind == "f"):
            return False
        for a in (block.acc_raw, block.gyr_raw):
            if a is not None and (type(a) is not np.ndarray or a.shape != (n, 3) or a.dtype.kind not in "iu"):
                return False
        for a in (block.t_dev_us, block.seq, block.t_host_ns):
            if a is not None and (type(a) is not np.ndarray or a.shape != (n,) or a.dtype.kind not in "iu"):
                return False
        return n == 0 or check_time(t, self._t_last_queued) < 0  # compiled: finite, increasing, after the last

    def _checked_copy(self, block: SampleBlock) -> SampleBlock:
        """A checked copy of ``block`` with numpy arrays (see :meth:`write_block`); ValueError if bad."""

        def arr(name: str, v: Any, integer: bool = False) -> np.ndarray:
            try:
                a = np.asarray(v)
            except (TypeError, ValueError) as e:
                raise ValueError(f"block.{name}: not an array of numbers ({e})") from None
            ok = np.issubdtype(a.dtype, np.integer) or (
                not integer and np.issubdtype(a.dtype, np.floating))
            if a.dtype == np.bool_ or not ok:
                want = "integers" if integer else "real numbers"
                raise ValueError(f"block.{name}: dtype {a.dtype} is not {want}")
            return a

        t = arr("t", block.t)
        if t.ndim != 1:
            raise ValueError(f"block.t: shape {t.shape}, expected (N,) (one time per sample)")
        n = t.shape[0]
        t = t.astype(np.float64, copy=True)
        out: dict[str, Any] = {"t": t}
        for name in ("acc", "gyr", "acc_raw", "gyr_raw"):
            v = getattr(block, name)
            if v is None:
                if name in ("acc", "gyr"):
                    raise ValueError(f"block.{name}: missing (None), expected shape ({n}, 3)")
                out[name] = None
                continue
            a = arr(name, v, integer=name.endswith("_raw"))
            if a.shape != (n, 3):
                raise ValueError(f"block.{name}: shape {a.shape}, expected ({n}, 3) like block.t ({n},)")
            out[name] = a
        for name in ("t_dev_us", "seq", "t_host_ns"):
            v = getattr(block, name)
            if v is None:
                out[name] = None
                continue
            a = arr(name, v, integer=True)
            if a.shape != (n,):
                raise ValueError(f"block.{name}: shape {a.shape}, expected ({n},) like block.t")
            out[name] = a
        j = check_time(t, self._t_last_queued)  # the fast path's rule: finite, increasing, after the last
        if j >= 0:
            fin = np.isfinite(t)
            if not fin.all():  # a non-finite time is named first, wherever it is
                j = int(np.argmin(fin))
                raise ValueError(f"block.t[{j}] is {float(t[j])!r}; every time must be a finite number of seconds")
            if j == 0:
                raise ValueError(f"block.t[0] = {float(t[0])!r} s is not after the last sample recorded "
                                 f"({self._t_last_queued!r} s); times must keep increasing across blocks")
            raise ValueError(f"block.t must be strictly increasing: t[{j - 1}] = {float(t[j - 1])!r}, "
                             f"t[{j}] = {float(t[j])!r}")
        info = block.info if isinstance(block.info, dict) else {}
        return SampleBlock(info=info, **out)

    def write_strides(self, rows: np.ndarray) -> None:
        """Enqueue stride rows (STRIDE_DTYPE array, non-blocking)."""
        self._check()
        rows = np.asarray(rows)
        if rows.dtype != STRIDE_DTYPE:
            raise ValueError(f"rows must have STRIDE_DTYPE, got dtype {rows.dtype}")
        if rows.size:
            self._q.put(("strides", rows.copy()))

    def write_raw(self, data: bytes) -> None:
        """Enqueue raw link bytes for ``<file>.imuraw`` (no-op when ``raw_log=False``)."""
        self._check()
        if self.raw_log_path is not None and data:
            self._q.put(("raw", bytes(data)))

    def write_event(self, kind: str, payload: Any = None, *, t: float = float("nan")) -> None:
        """Enqueue an event row (e.g. "reconnect", "note") for /link/events."""
        self._check()
        self._q.put(("event", (str(kind)[:16], _dumps(payload), float(t), time.monotonic_ns())))

    def flush(self, timeout: float = 10.0) -> None:
        """Write and fsync everything enqueued so far; waits up to ``timeout`` s."""
        self._check()
        done = threading.Event()
        self._q.put(("sync", done))
        self._wake.set()
        done.wait(timeout)
        self._check()

    def close(self) -> None:
        """Write everything, finalize summary attributes (``complete=True``) and close. Idempotent."""
        if not self._closed:
            self._closed = True
            self._q.put(("stop", None))
            self._wake.set()
            self._thread.join()
            if self._error is None:
                try:
                    self._finalize()
                except OSError as e:
                    self._error = RecorderError(f"recording {self.path}: finalize failed: {e}")
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise self._error

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            if not self._closed:
                self.close()
        except Exception:  # noqa: BLE001
            pass

    # -- writer thread ---------------------------------------------------------------------------------------
    def _comp(self) -> dict:
        return {"compression": "gzip", "compression_opts": 1, "shuffle": True} if self.compression else {}

    def _run(self) -> None:
        pend_blocks: list[SampleBlock] = []
        pend_strides: list[np.ndarray] = []
        pend_raw: list[bytes] = []
        pend_events: list[tuple] = []
        syncs: list[threading.Event] = []
        next_flush = time.monotonic() + self.flush_interval_s
        stop = False
        while not stop:
            # sleep until the flush is due (or a stop/sync asks for it now), then take everything
            # queued meanwhile: one wake-up per flush interval, not one per enqueued block
            self._wake.wait(max(0.0, next_flush - time.monotonic()))
            self._wake.clear()
            while True:
                try:
                    kind, item = self._q.get_nowait()
                except queue.Empty:
                    break
                if kind == "stop":
                    stop = True
                elif self._error is not None:
                    if kind == "sync":
                        item.set()
                    # failed: drop everything, keep the file as it is
                elif kind == "block":
                    pend_blocks.append(item)
                elif kind == "strides":
                    pend_strides.append(item)
                elif kind == "raw":
                    pend_raw.append(item)
                elif kind == "event":
                    pend_events.append(item)
                elif kind == "sync":
                    syncs.append(item)
            if self._error is not None:
                pend_blocks, pend_strides, pend_raw, pend_events = [], [], [], []
                for ev in syncs:
                    ev.set()
                syncs = []
                next_flush = time.monotonic() + self.flush_interval_s
                continue
            now = time.monotonic()
            if stop or syncs or now >= next_flush:
                if self._error is None and (pend_blocks or pend_strides or pend_raw or pend_events):
                    c0 = time.thread_time()
                    w0 = time.perf_counter()
                    try:
                        self._space_check(pend_blocks)
                    except OSError as e:  # nothing written yet: close properly, then report
                        self._stop_early(e)
                    else:
                        try:
                            self._write_batch(pend_blocks, pend_strides, pend_events)
                            self._write_raw_batch(pend_raw)
                        except Exception as e:  # noqa: BLE001 - any failure stops writing cleanly
                            self._fail(e)
                    ms = (time.perf_counter() - w0) * 1e3
                    self.stats["flushes"] += 1
                    self.stats["flush_ms_total"] += ms
                    self.stats["flush_ms_max"] = max(self.stats["flush_ms_max"], ms)
                    self.stats["write_cpu_s"] += time.thread_time() - c0
                pend_blocks, pend_strides, pend_raw, pend_events = [], [], [], []
                for ev in syncs:
                    ev.set()
                syncs = []
                next_flush = now + self.flush_interval_s

    def _stop_early(self, e: OSError) -> None:
        """Out of space before writing a batch: close the file normally (it stays fully readable)."""
        f = self._f
        try:
            f.close()
        except Exception:  # noqa: BLE001
            pass
        self._fail(e, detach=False)

    def _fail(self, e: BaseException, detach: bool = True) -> None:
        code = getattr(e, "errno", None)
        msg = str(e)
        if code == errno.ENOSPC or "No space left" in msg:
            why = "disk full (ENOSPC)"
        elif code == errno.EFBIG or "File too large" in msg:
            why = "file size limit reached (EFBIG)"
        else:
            why = f"{type(e).__name__}: {msg}"
        self._error = RecorderError(
            code or errno.EIO,
            f"recording to {self.path} stopped: {why}; the first {self._n_durable} samples and "
            f"{self._n_strides_durable} strides are on disk (run `imuwalk repair {self.path}` if it does not "
            "open)",
        )
        # HDF5 cannot close a file whose writes fail (HDF5 2.0 segfaults in H5Fclose after ENOSPC/EFBIG).
        # Point its descriptor at /dev/null: the file on disk stays exactly as last synced, and the
        # library can release its state without touching it.
        try:
            if not detach or not self._f.id.valid:
                raise ValueError("file already closed")
            vfd = self._f.id.get_vfd_handle()
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, vfd)
            os.close(null)
            self._f.close()
        except Exception:  # noqa: BLE001 - the file is abandoned either way
            pass
        for fh in (self._raw_fh,):
            try:
                if fh is not None:
                    fh.close()
            except OSError:
                pass
        self._raw_fh = None

    def _write_device(self, meta: Any) -> None:
        self._device_written = True
        dev = self._f["device"]
        for k, v in _meta_attrs(meta).items():
            dev.attrs[k] = v
        dev.attrs["meta_json"] = _dumps(meta)

    def _create_layout(self, blocks: list[SampleBlock]) -> None:
        """Create the /imu datasets from the first blocks, then switch to SWMR."""
        f = self._f
        b0 = blocks[0]
        meta = self._meta if self._meta is not None else b0.info.get("meta")
        if meta is not None and not self._device_written:
            self._write_device(meta)
        t = np.concatenate([b.t for b in blocks])
        dt = np.diff(t)
        dt = dt[dt > 0]
        rate = float(1.0 / np.median(dt)) if dt.size else 100.0
        chunk = int(np.clip(round(rate * self.flush_interval_s), 32, 65536))
        imu = f["imu"]
        imu.attrs["chunk_rows"] = chunk
        imu.attrs["rate_hz_initial"] = rate
        comp = self._comp()

        def mk(name, shape_tail, dtype, attrs):
            d = imu.create_dataset(
                name,
                shape=(0, *shape_tail),
                maxshape=(None, *shape_tail),
                dtype=dtype,
                chunks=(chunk, *shape_tail),
                fillvalue=np.nan if name == "t" else None,
                **comp,
            )
            for k, v in attrs.items():
                d.attrs[k] = v
            self._cols.append(name)

        raw_ok = b0.acc_raw is not None and b0.gyr_raw is not None
        conv_a = conv_g = None
        if raw_ok:
            conv_a = _exact_conversion(
                np.concatenate([b.acc_raw for b in blocks]), np.concatenate([b.acc for b in blocks])
            )
            conv_g = _exact_conversion(
                np.concatenate([b.gyr_raw for b in blocks]), np.concatenate([b.gyr for b in blocks])
            )
        counts = raw_ok and conv_a is not None and conv_g is not None
        mk(
            "t",
            (),
            "f8",
            {
                "unit": "s",
                "conversion": 1.0,
                "offset": 0.0,
                "description": "detector time base: device clock since the first sample",
            },
        )
        axes = np.array([b"x", b"y", b"z"])
        if counts:
            f.attrs["data_kind"] = "counts"
            self._conv = {"acc": conv_a, "gyr": conv_g}
            ov = imu.create_dataset("si_override", shape=(0,), maxshape=(None,), dtype=OVERRIDE_DTYPE, chunks=(64,),
                                    **comp)
            ov.attrs["unit"] = "index: sample row; acc: m/s^2; gyr: rad/s"
            ov.attrs["description"] = ("samples whose SI values are not their stored counts x conversion (a scale "
                                       "change, NaN values): their exact SI values, which readers use instead")
            mk(
                "acc",
                (3,),
                "i2",
                {
                    "unit": "m/s^2",
                    "conversion": conv_a,
                    "offset": 0.0,
                    "resolution": conv_a,
                    "sensor_unit": "g",
                    "sensor_conversion": conv_a / G0,
                    "axes": axes,
                },
            )
            mk(
                "gyr",
                (3,),
                "i2",
                {
                    "unit": "rad/s",
                    "conversion": conv_g,
                    "offset": 0.0,
                    "resolution": conv_g,
                    "sensor_unit": "deg/s",
                    "sensor_conversion": float(np.rad2deg(conv_g)),
                    "axes": axes,
                },
            )
        else:
            f.attrs["data_kind"] = "si"
            fdt = np.float64  # float32 input too: later float64 blocks must not be rounded (replay = live)
            mk("acc", (3,), fdt, {"unit": "m/s^2", "conversion": 1.0, "offset": 0.0, "axes": axes})
            mk("gyr", (3,), fdt, {"unit": "rad/s", "conversion": 1.0, "offset": 0.0, "axes": axes})
            if raw_ok:
                mk(
                    "acc_raw",
                    (3,),
                    "i2",
                    {
                        "unit": "count",
                        "conversion": 1.0,
                        "axes": axes,
                        "description": "raw counts; SI values in acc",
                    },
                )
                mk(
                    "gyr_raw",
                    (3,),
                    "i2",
                    {
                        "unit": "count",
                        "conversion": 1.0,
                        "axes": axes,
                        "description": "raw counts; SI values in gyr",
                    },
                )
        if b0.t_dev_us is not None:
            mk(
                "t_dev_us",
                (),
                "u8",
                {
                    "unit": "s",
                    "conversion": 1e-6,
                    "offset": 0.0,
                    "description": "device clock, unwrapped, us",
                },
            )
        if b0.seq is not None:
            mk(
                "seq",
                (),
                "u8",
                {"unit": "count", "conversion": 1.0, "description": "unwrapped frame sequence"},
            )
        if b0.t_host_ns is not None:
            mk(
                "t_host_ns",
                (),
                "i8",
                {
                    "unit": "s",
                    "conversion": 1e-9,
                    "offset": 0.0,
                    "description": "host time.monotonic_ns() at the read that delivered it",
                },
            )
        self._created = True
        if self.swmr:
            f.swmr_mode = True

    def _batch_arrays(self, blocks: list[SampleBlock]) -> dict[str, np.ndarray]:
        n = sum(len(b) for b in blocks)
        out: dict[str, np.ndarray] = {}
        counts = {name: self._counts(blocks, name) for name in ("acc", "gyr") if name in self._conv}
        for name in self._cols:
            if name in counts:
                out[name] = counts[name]
                continue
            parts = []
            for b in blocks:
                v = getattr(b, name)
                if v is None:  # only with check_blocks=False (write_block checks that the fields stay the same)
                    ds = self._f["imu"][name]
                    v = np.zeros((len(b), *ds.shape[1:]), ds.dtype)
                parts.append(np.asarray(v))
            out[name] = np.concatenate(parts) if parts else np.zeros(0)
            assert out[name].shape[0] == n
        if counts:
            self._collect_overrides(blocks)
        return out

    def _counts(self, blocks: list[SampleBlock], name: str) -> np.ndarray:
        """The int16 column of a "counts" file: each block's own counts (when a block has none, its SI values
        rounded to counts, clipped, NaN as 0: its exact values go to /imu/si_override)."""
        parts = []
        for b in blocks:
            raw = getattr(b, name + "_raw")
            if raw is None:
                si = np.asarray(getattr(b, name), np.float64) / self._conv[name]
                raw = np.clip(np.nan_to_num(np.round(si)), -32768, 32767)
            parts.append(np.asarray(raw).astype(np.int16, copy=False))
        return np.concatenate(parts)

    def _collect_overrides(self, blocks: list[SampleBlock]) -> None:
        """Rows for /imu/si_override: the samples of ``blocks`` whose SI values differ from counts × conversion
        in any bit (NaN included), so that readers get exactly what the detector was given."""
        i0 = self._n
        ca, cg = self._conv["acc"], self._conv["gyr"]
        for b in blocks:
            acc = np.asarray(b.acc, np.float64)
            gyr = np.asarray(b.gyr, np.float64)
            ra, rg = b.acc_raw, b.gyr_raw
            if ra is None or rg is None:
                bad = np.ones(len(b), bool)
            else:
                bad = ~(np.all(np.asarray(ra, np.float64) * ca == acc, axis=1)
                        & np.all(np.asarray(rg, np.float64) * cg == gyr, axis=1))
            if bad.any():
                j = np.flatnonzero(bad)
                rows = np.zeros(j.shape[0], OVERRIDE_DTYPE)
                rows["index"] = i0 + j
                rows["acc"] = acc[j]
                rows["gyr"] = gyr[j]
                self._overrides.append(rows)
                self._si_mismatch += int(j.shape[0])
            i0 += len(b)

    def _write_batch(self, blocks: list[SampleBlock], strides: list[np.ndarray], events: list[tuple]) -> None:
        f = self._f
        ev_rows = []
        gap_rows = []
        if blocks:
            if not self._created:
                self._create_layout(blocks)
            cols = self._batch_arrays(blocks)
            n0 = self._n
            k = cols["t"].shape[0]
            imu = f["imu"]
            if self._overrides:  # before the columns: a sample is readable only once all of it is written
                rows = np.concatenate(self._overrides)
                self._overrides = []
                d = imu["si_override"]
                m = d.shape[0]
                d.resize(m + rows.shape[0], axis=0)
                d[m:] = rows
            # "t" last: a NaN (fill value) or non-increasing t marks samples whose columns were not all
            # written (a write failure mid-batch); readers of unfinished files stop there
            for name in sorted(self._cols, key=lambda c: c == "t"):
                d = imu[name]
                d.resize(n0 + k, axis=0)
                d[n0 : n0 + k] = cols[name]
            # gaps from the sequence numbers: a jump counts only the numbers that no frame used (META,
            # STATUS, LOG frames take numbers too; a source lists theirs in info["seq_other"])
            if "seq" in cols:
                seq = cols["seq"].astype(np.int64)
                other = [self._seq_other]
                for b in blocks:
                    so = b.info.get("seq_other") if isinstance(b.info, dict) else None
                    if so is not None and len(so):
                        other.append(np.asarray(so, dtype=np.int64).ravel())
                other_seq = np.unique(np.concatenate(other))
                prev = np.concatenate(
                    [[self._last_seq if self._last_seq is not None else seq[0] - 1], seq[:-1]]
                )
                tprev = np.concatenate(
                    [[self._last_t if self._last_t is not None else np.nan], cols["t"][:-1]]
                )
                jump = np.nonzero(seq - prev != 1)[0]
                for j in jump:
                    used = int(np.searchsorted(other_seq, seq[j]) - np.searchsorted(other_seq, prev[j], "right"))
                    missing = int(seq[j] - prev[j] - 1) - used
                    if missing > 0:
                        gap_rows.append((n0 + j, prev[j], seq[j], missing, tprev[j], cols["t"][j]))
                self._last_seq = int(seq[-1])
                self._seq_other = other_seq[other_seq > self._last_seq]
            self._last_t = float(cols["t"][-1])
            # info history (META/STATUS/link counters): one row per flush when it changed
            info = {k: v for k, v in blocks[-1].info.items() if k != "seq_other"}
            if info:
                js = _dumps(info)
                if js != self._last_info_json:
                    self._last_info_json = js
                    th = int(cols["t_host_ns"][-1]) if "t_host_ns" in cols else time.monotonic_ns()
                    ev_rows.append(
                        (n0 + k - 1, float(cols["t"][-1]), th, b"info", js.encode()[:EVENT_JSON_BYTES])
                    )
            self._n = n0 + k
            self.stats["samples"] = self._n
        for kind, js, t, th in events:
            ev_rows.append((max(self._n - 1, 0), t, th, kind.encode(), js.encode()[:EVENT_JSON_BYTES]))
        for name, rows in (
            ("link/gaps", np.array(gap_rows, dtype=GAP_DTYPE)),
            ("link/events", np.array(ev_rows, dtype=EVENT_DTYPE)),
        ):
            if rows.size:
                d = f[name]
                m = d.shape[0]
                d.resize(m + rows.size, axis=0)
                d[m:] = rows
        if strides:
            rows = np.concatenate(strides)
            d = f["strides/rows"]
            m = d.shape[0]
            d.resize(m + rows.size, axis=0)
            d[m:] = rows
            self._n_strides = m + rows.size
            self.stats["strides"] = self._n_strides
        f.flush()
        os.fsync(f.id.get_vfd_handle())
        self._n_durable = self._n
        self._n_strides_durable = self._n_strides

    def _space_check(self, blocks: list[SampleBlock]) -> None:
        """Stop cleanly *before* the disk (or the file-size limit) is full, while HDF5 can still close."""
        need = sum(b.t.nbytes * 8 for b in blocks) + self.space_margin_bytes
        try:
            st = os.statvfs(self.path.parent)
            free = st.f_bavail * st.f_frsize
        except OSError:
            free = None
        if free is not None and free < need:
            raise OSError(errno.ENOSPC, f"No space left on device: {free} bytes free, need {need}")
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY:
            raw = self.raw_log_path
            size = max(self.path.stat().st_size, raw.stat().st_size if raw and raw.exists() else 0)
            if size + need > soft:
                raise OSError(errno.EFBIG, f"File too large: limit {soft} bytes, file {size} + {need} bytes")

    def _write_raw_batch(self, chunks: list[bytes]) -> None:
        if not chunks or self.raw_log_path is None:
            return
        if self._raw_fh is None:
            self._raw_fh = open(self.raw_log_path, "ab")  # noqa: SIM115 - kept open for the session
        data = b"".join(chunks)
        self._raw_fh.write(data)
        self._raw_fh.flush()
        os.fsync(self._raw_fh.fileno())
        self.stats["raw_bytes"] += len(data)

    def _finalize(self) -> None:
        h5py = _h5py()

        if self._raw_fh is not None:
            self._raw_fh.close()
            self._raw_fh = None
        self._f.close()
        with h5py.File(self.path, "a") as f:
            n = self._n
            f.attrs["n_samples"] = np.int64(n)
            f.attrs["n_strides"] = np.int64(self._n_strides)
            f.attrs["closed_utc"] = _utcnow()
            if n and "t" in f["imu"]:
                t = f["imu/t"]
                t0, t1 = float(t[0]), float(t[n - 1])
                f.attrs["duration_s"] = t1 - t0
                f["imu"].attrs["measured_rate_hz"] = (
                    (n - 1) / (t1 - t0) if t1 > t0 and n > 1 else float("nan")
                )
            f.attrs["n_gaps"] = np.int64(f["link/gaps"].shape[0])
            f.attrs["link_stats_json"] = self._last_info_json or "{}"
            st = dict(self.stats)
            st["si_mismatch_samples"] = self._si_mismatch
            f.attrs["recorder_stats_json"] = _dumps(st)
            for k, v in self._late.items():
                f.attrs[k] = v
                if k == "detector_params_json":
                    f["strides"].attrs[k] = v
            f.attrs["complete"] = True
            f.flush()
            os.fsync(f.id.get_vfd_handle())
        self._finalized = True


# ---------------------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------------------


def _is_flag_error(e: BaseException) -> bool:
    """The open failed only because a writer (alive or killed) still marks the file as open."""
    m = str(e).lower()
    return "already open for write" in m or "consistency flags" in m or "file locking" in m


def _open_h5(path: Path):
    """Open read-only; falls back to an SWMR reader for files still (or last) open for writing."""
    h5py = _h5py()

    if not path.exists():
        raise FileNotFoundError(f"recording {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        first = e
    if not _is_flag_error(first):
        try:
            not_h5 = _not_h5(path)
        except OSError:
            not_h5 = False
        if not_h5:
            raise RecordingError(
                f"{path} is not an HDF5 file (no HDF5 signature), so not an imuwalk recording; read other "
                f"files with `imuwalk detect {path}` or convert them with `imuwalk import {path} -o NEW.h5`"
            )
        # a damaged file: do not try the SWMR reader (it retries metadata reads for a very long time)
        raise RecordingError(
            f"cannot open {path} as HDF5 ({first}); run `imuwalk repair {path}` (rebuilds from "
            f"{raw_log_path(path).name} if present)"
        )
    try:
        return h5py.File(path, "r", swmr=True)
    except OSError as e:
        raise RecordingError(
            f"cannot open {path} as HDF5 ({first}); if a recording process was killed, run "
            f"`imuwalk repair {path}`"
        ) from e


def _not_h5(path: Path) -> bool:
    """No HDF5 superblock signature at offset 0, 512, 1024, 2048, ... (where HDF5 looks for it)."""
    sig = b"\x89HDF\r\n\x1a\n"
    size = path.stat().st_size
    with open(path, "rb") as fh:
        off = 0
        while off + 8 <= size:
            fh.seek(off)
            if fh.read(8) == sig:
                return False
            off = 512 if off == 0 else off * 2
    return True


def _check_format(f, path: Path) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise RecordingError(
            f"{path} is not an imuwalk recording (format attribute {fmt!r}, expected {FORMAT!r})"
        )
    ver = str(f.attrs.get("format_version", ""))
    try:
        major = int(ver.split(".")[0])
    except ValueError:
        raise RecordingError(f"{path}: unreadable format_version {ver!r}") from None
    if major > int(FORMAT_VERSION.split(".")[0]):
        raise RecordingError(
            f"{path} has format_version {ver}, newer than this imuwalk reads ({FORMAT_VERSION}); "
            "upgrade imuwalk"
        )


def _check_layout(f, path: Path) -> None:
    """Raise :class:`RecordingError` naming ``path`` when the sample datasets are missing or malformed."""
    if "imu" not in f:
        raise RecordingError(f"{path} is damaged: the group /imu is missing")
    imu = f["imu"]
    if not any(c in imu for c in _SAMPLE_COLS):
        return  # created, no sample written yet: an empty recording
    for name in ("t", "acc", "gyr"):
        if name not in imu:
            raise RecordingError(f"{path} is damaged: the dataset imu/{name} is missing "
                                 f"(imu holds {', '.join(sorted(imu))})")
    for name in _SAMPLE_COLS:
        if name not in imu:
            continue
        d = imu[name]
        if not hasattr(d, "shape"):
            raise RecordingError(f"{path} is damaged: imu/{name} is not a dataset")
        want = (3,) if name in ("acc", "gyr", "acc_raw", "gyr_raw") else ()
        if len(d.shape) < 1 or tuple(d.shape[1:]) != want:
            raise RecordingError(f"{path} is damaged: imu/{name} has shape {d.shape}, expected "
                                 f"(N{''.join(f', {w}' for w in want)})")
    for name in ("acc", "gyr"):
        conv = imu[name].attrs.get("conversion", 1.0)
        try:
            ok = np.isfinite(float(np.asarray(conv).reshape(())))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise RecordingError(f"{path} is damaged: imu/{name} has an unusable conversion attribute {conv!r}")


def _attr(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return [_attr(x) for x in v.tolist()]
    return v


class Recording:
    """Lazy reader of an imuwalk HDF5 recording (also while it is being written, via SWMR).

    ``t`` (N,) s, ``acc`` (N, 3) m/s², ``gyr`` (N, 3) rad/s are read on access; ``iter_blocks(n)`` walks the
    file in blocks so long recordings need not fit in memory. ``strides`` is the STRIDE_DTYPE array.

    Damaged files raise :class:`RecordingError` naming the file and what is wrong: a missing or misshapen
    /imu dataset (at open), an attribute that is not valid JSON (when read), a NaN/inf time in a finalized
    file (at the first access to the samples, with its sample number). Samples of a finalized file whose
    time is not after every earlier one (e.g. repeated stamps recorded by imuwalk 0.1.0's text streaming)
    are skipped: ``dropped_samples`` counts them and a warning on the ``imuwalk.hdf5`` logger names the
    file. Unfinished files end at their first NaN or non-increasing time (docs/HDF5_FORMAT.md).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._checked: tuple[int, int | None] = (0, None)
        #: finalized files only: file rows of the samples kept (None: all) and samples skipped because
        #: their time was not after every earlier one (a live run of imuwalk < 0.1.1 recorded such samples)
        self._idx: np.ndarray | None = None
        self._scanned = False
        self.dropped_samples = 0
        self._ov_cache: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None  # /imu/si_override, by length
        self._n_final: int | None = None  # len() of a finalized (complete) file, once known
        self._h = _open_h5(self.path)
        try:
            _check_format(self._h, self.path)
            _check_layout(self._h, self.path)
        except Exception:
            self._h.close()
            raise

    # -- housekeeping
    @property
    def _f(self):
        """The open h5py file; ValueError once :meth:`close` was called."""
        h = self._h
        if not h:  # a closed h5py.File is falsy
            raise ValueError(f"recording {self.path} is closed")
        return h

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self._h

    def close(self) -> None:
        self._h.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def refresh(self) -> None:
        """See new data appended by a live SWMR writer."""
        for grp in ("imu", "strides", "link"):
            if grp in self._f:
                for d in self._f[grp].values():
                    d.id.refresh()

    def __len__(self) -> int:
        if self._n_final is not None:  # a finalized file does not change: its length once (h5py lookups cost µs)
            self._f  # noqa: B018 - raises ValueError once the recording is closed
            return self._n_final
        imu = self._f["imu"] if "imu" in self._f else {}
        lens = [imu[c].shape[0] for c in _SAMPLE_COLS if c in imu]
        n = int(min(lens)) if lens else 0
        if n and "t" in imu:
            if not self.complete:
                n = self._valid_prefix(n)
            else:
                if not self._scanned:
                    self._scan(n, lens)
                if self._idx is not None:
                    n = int(self._idx.shape[0])
                self._n_final = n
        return n

    def _scan(self, n: int, lens: list[int]) -> None:
        """Finalized files, once: a non-finite time is an error; samples whose time is not after every
        earlier one are skipped (counted in ``dropped_samples``, a warning names the file)."""
        self._scanned = True
        if len(set(lens)) > 1:
            imu = self._f["imu"]
            sizes = ", ".join(f"{c} {imu[c].shape[0]}" for c in _SAMPLE_COLS if c in imu)
            log.warning("%s: the sample columns have different lengths (%s); reading the first %d samples",
                        self.path, sizes, n)
        d = self._f["imu/t"]
        step = 1 << 20
        tmax = -np.inf
        parts: list[np.ndarray] = []
        first = None
        for i in range(0, n, step):
            t = np.asarray(d[i:min(n, i + step)], dtype=np.float64)
            fin = np.isfinite(t)
            if not fin.all():
                j = int(np.argmin(fin))
                raise RecordingError(
                    f"{self.path} is damaged: timestamp imu/t[{i + j}] is {float(t[j])!r} (sample {i + j} of "
                    f"{n}); every time must be a finite number of seconds")
            keep = increasing_mask(t, tmax)
            if not keep.all() and first is None:
                j = int(np.argmin(keep))
                first = (i + j, float(max(tmax, t[:j].max(initial=-np.inf))), float(t[j]))
            parts.append(keep)
            if t.size:
                tmax = max(tmax, float(t.max()))
        if first is None:
            return
        keep = np.concatenate(parts)
        self._idx = np.flatnonzero(keep)
        self.dropped_samples = int(n - self._idx.shape[0])
        i, a, b = first
        log.warning("%s: %d of %d samples skipped: their time is not after an earlier sample's (first: "
                    "sample %d, %r s after %r s)", self.path, self.dropped_samples, n, i, b, a)

    def _rows(self, d, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (sample numbers, after skipped samples) of the per-sample dataset ``d``."""
        idx = self._idx
        if idx is None:
            return d[start:stop]
        sel = idx[start:stop]
        if sel.size == 0:
            return d[0:0]
        part = d[int(sel[0]) : int(sel[-1]) + 1]
        return part[sel - sel[0]]

    def _valid_prefix(self, n: int) -> int:
        """Unfinished files: samples up to the first unwritten one (t NaN fill or not increasing)."""
        start, bad = self._checked
        if bad is not None:
            return min(bad, n)
        if n > start:
            lo = max(start - 1, 0)
            t = self._f["imu/t"][lo:n]
            ok = np.isfinite(t)
            ok[1:] &= np.diff(t) > 0
            if lo == 0 and t.size:
                ok[0] = np.isfinite(t[0])
            idx = np.nonzero(~ok)[0]
            if idx.size:
                bad = lo + int(idx[0])
                self._checked = (n, bad)
                return bad
            self._checked = (n, None)
        return n

    def __repr__(self) -> str:
        if self.closed:
            return f"Recording({str(self.path)!r}, closed)"
        return f"Recording({str(self.path)!r}, n={len(self)}, strides={self._f['strides/rows'].shape[0]})"

    # -- metadata
    @property
    def attrs(self) -> dict:
        """Root attributes (session, software, summary), JSON attributes decoded."""
        out = {}
        for k, v in self._f.attrs.items():
            v = _attr(v)
            if k.endswith("_json") and isinstance(v, str):
                try:
                    out[k[:-5]] = json.loads(v)
                    continue
                except ValueError:
                    pass
            out[k] = v
        return out

    @property
    def format_version(self) -> str:
        return str(_attr(self._f.attrs["format_version"]))

    @property
    def complete(self) -> bool:
        """True when the recorder finalized the file (clean stop)."""
        return bool(self._f.attrs.get("complete", False))

    @property
    def data_kind(self) -> str:
        """ "counts" (int16 + conversion) or "si" (float)."""
        return str(_attr(self._f.attrs.get("data_kind", "si")))

    def _json(self, attrs: Any, name: str, default: str, where: str = "") -> Any:
        """Decoded JSON attribute; :class:`RecordingError` naming the file and attribute if unreadable."""
        raw = _attr(attrs.get(name, default))
        try:
            return json.loads(raw)
        except (TypeError, ValueError) as e:
            shown = raw if not isinstance(raw, str) or len(raw) <= 60 else raw[:57] + "..."
            raise RecordingError(
                f"{self.path} is damaged: attribute {where}{name} is not valid JSON ({e}; value {shown!r})"
            ) from None

    @property
    def meta(self) -> dict:
        """Device metadata (attributes of /device; ``meta`` = the full JSON form)."""
        dev = self._f["device"].attrs if "device" in self._f else {}
        out = {k: _attr(v) for k, v in dev.items() if k != "meta_json"}
        if "meta_json" in dev:
            out["meta"] = self._json(dev, "meta_json", "null", "/device ")
        return out

    @property
    def placement(self) -> str:
        return str(_attr(self._f.attrs.get("placement", "")))

    @property
    def params(self) -> Any:
        """Detector parameters stored at recording time (decoded JSON) or None."""
        return self._json(self._f.attrs, "detector_params_json", "null")

    @property
    def mount(self) -> Any:
        return self._json(self._f.attrs, "mount_json", "null")

    @property
    def session(self) -> dict:
        """Free session attributes given at recording time (``session_json``; e.g. the demo's seed, the
        ``detector_params`` overrides of ``imuwalk stream --param``); {} when none."""
        s = self._json(self._f.attrs, "session_json", "{}")
        return s if isinstance(s, dict) else {}

    @property
    def link(self) -> dict:
        """``gaps`` (GAP_DTYPE), ``events`` (list of dicts), ``stats`` (last link counters)."""
        gaps = self._f["link/gaps"][()] if "link/gaps" in self._f else np.zeros(0, GAP_DTYPE)
        events = []
        if "link/events" in self._f:
            for r in self._f["link/events"][()]:
                try:
                    payload = json.loads(r["json"].decode())
                except ValueError:
                    payload = r["json"].decode(errors="replace")
                events.append(
                    {
                        "index": int(r["index"]),
                        "t": float(r["t"]),
                        "t_host_ns": int(r["t_host_ns"]),
                        "kind": r["kind"].decode(),
                        "data": payload,
                    }
                )
        stats = self._json(self._f.attrs, "link_stats_json", "{}")
        if not stats and events:
            infos = [e["data"] for e in events if e["kind"] == "info"]
            stats = infos[-1] if infos else {}
        return {"gaps": gaps, "events": events, "stats": stats}

    # -- data
    def _read(self, name: str, start: int = 0, stop: int | None = None) -> np.ndarray | None:
        imu = self._f["imu"]
        if name not in imu:
            return None
        n = len(self)
        stop = n if stop is None else min(stop, n)
        d = imu[name]
        v = self._rows(d, start, stop)
        if name in ("acc", "gyr"):
            conv = float(d.attrs.get("conversion", 1.0))
            if np.issubdtype(v.dtype, np.integer):
                return self._overridden(name, v.astype(np.float64) * conv, start, stop)
            return v.astype(np.float64) if conv == 1.0 else v.astype(np.float64) * conv
        return v

    def _override_table(self) -> tuple[np.ndarray, np.ndarray] | None:
        """/imu/si_override as (file rows, rows) sorted by row, the last entry of a row winning; None if empty."""
        imu = self._f["imu"]
        if "si_override" not in imu or imu["si_override"].shape[0] == 0:
            return None
        d = imu["si_override"]
        cached = self._ov_cache
        if cached is not None and cached[0] == d.shape[0]:
            return cached[1]
        rows = np.asarray(d[()], dtype=OVERRIDE_DTYPE)
        idx = rows["index"]
        last = len(idx) - 1 - np.unique(idx[::-1], return_index=True)[1]  # last occurrence of each row
        table = (idx[last], rows[last])
        self._ov_cache = (d.shape[0], table)
        return table

    def _overridden(self, name: str, v: np.ndarray, start: int, stop: int) -> np.ndarray:
        """``v`` (SI rows ``start:stop`` of "acc"/"gyr" from counts) with the exact SI values of /imu/si_override."""
        table = self._override_table()
        if table is None or v.shape[0] == 0:
            return v
        idx, rows = table
        file_rows = np.arange(start, start + v.shape[0]) if self._idx is None else self._idx[start:start + v.shape[0]]
        lo, hi = np.searchsorted(idx, [file_rows[0], file_rows[-1] + 1])
        if lo == hi:
            return v
        j = np.searchsorted(file_rows, idx[lo:hi])
        hit = (j < file_rows.shape[0]) & (file_rows[np.minimum(j, file_rows.shape[0] - 1)] == idx[lo:hi])
        v[j[hit]] = rows[name][lo:hi][hit]
        return v

    @property
    def t(self) -> np.ndarray:
        """(N,) float64 s, detector time base (device clock since the first sample)."""
        v = self._read("t")
        return v if v is not None else np.zeros(0)

    @property
    def acc(self) -> np.ndarray:
        """(N, 3) float64 m/s² incl. gravity."""
        v = self._read("acc")
        return v if v is not None else np.zeros((0, 3))

    @property
    def gyr(self) -> np.ndarray:
        """(N, 3) float64 rad/s."""
        v = self._read("gyr")
        return v if v is not None else np.zeros((0, 3))

    @property
    def acc_raw(self) -> np.ndarray | None:
        """(N, 3) int16 counts, or None for float-SI recordings without counts."""
        name = "acc" if self.data_kind == "counts" else "acc_raw"
        return self._rows(self._f["imu"][name], 0, len(self)) if name in self._f["imu"] else None

    @property
    def gyr_raw(self) -> np.ndarray | None:
        name = "gyr" if self.data_kind == "counts" else "gyr_raw"
        return self._rows(self._f["imu"][name], 0, len(self)) if name in self._f["imu"] else None

    @property
    def t_dev_us(self) -> np.ndarray | None:
        return self._read("t_dev_us")

    @property
    def seq(self) -> np.ndarray | None:
        return self._read("seq")

    @property
    def t_host_ns(self) -> np.ndarray | None:
        return self._read("t_host_ns")

    @property
    def strides(self) -> np.ndarray:
        """Stored stride rows (STRIDE_DTYPE)."""
        if "strides/rows" not in self._f:
            return np.zeros(0, STRIDE_DTYPE)
        return np.asarray(self._f["strides/rows"][()], dtype=STRIDE_DTYPE)

    def block(self, start: int = 0, stop: int | None = None) -> SampleBlock:
        """Samples ``start:stop`` (default: all) as one SampleBlock (SI + raw fields as stored)."""
        n = len(self)
        if not (0 <= start <= n):
            raise ValueError(f"start must be in [0, {n}], got {start}")
        stop = n if stop is None else max(start, min(stop, n))
        raw_a = raw_g = None
        if self.data_kind == "counts":
            raw_a = self._rows(self._f["imu/acc"], start, stop)
            raw_g = self._rows(self._f["imu/gyr"], start, stop)
            acc = self._overridden("acc", raw_a.astype(np.float64) * float(self._f["imu/acc"].attrs["conversion"]),
                                   start, stop)
            gyr = self._overridden("gyr", raw_g.astype(np.float64) * float(self._f["imu/gyr"].attrs["conversion"]),
                                   start, stop)
        else:
            acc = self._read("acc", start, stop)
            gyr = self._read("gyr", start, stop)
            raw_a = self._read("acc_raw", start, stop)
            raw_g = self._read("gyr_raw", start, stop)
        return SampleBlock(
            t=self._read("t", start, stop),
            acc=acc,
            gyr=gyr,
            acc_raw=raw_a,
            gyr_raw=raw_g,
            t_dev_us=self._read("t_dev_us", start, stop),
            seq=self._read("seq", start, stop),
            t_host_ns=self._read("t_host_ns", start, stop),
            info={"source": "recording", "path": str(self.path), "start": start},
        )

    def to_block(self) -> SampleBlock:
        """All samples as one SampleBlock."""
        return self.block()

    def iter_blocks(self, n: int = 4096, start: int = 0, stop: int | None = None) -> Iterator[SampleBlock]:
        """Yield consecutive SampleBlocks of ``n`` samples (the last may be shorter)."""
        if not (isinstance(n, (int, np.integer)) and n >= 1):
            raise ValueError(f"n must be a positive number of samples, got {n!r}")
        end = len(self) if stop is None else min(stop, len(self))
        for i in range(start, end, int(n)):
            yield self.block(i, min(i + int(n), end))

    def to_pandas(self):
        """DataFrame indexed by ``t`` (s) with acc_x..z (m/s²), gyr_x..z (rad/s) and the clock columns."""
        pd = require("pandas", "Recording.to_pandas()")
        cols: dict[str, np.ndarray] = {}
        acc, gyr = self.acc, self.gyr
        for i, ax in enumerate("xyz"):
            cols[f"acc_{ax}"] = acc[:, i]
        for i, ax in enumerate("xyz"):
            cols[f"gyr_{ax}"] = gyr[:, i]
        for name in ("t_dev_us", "seq", "t_host_ns"):
            v = self._read(name)
            if v is not None:
                cols[name] = v
        return pd.DataFrame(cols, index=pd.Index(self.t, name="t"))


# ---------------------------------------------------------------------------------------------------------
# Repair
# ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RepairReport:
    """What :func:`repair` did. ``method``: "none", "h5clear", "copy", "raw"."""

    path: Path
    method: str
    n_samples: int
    n_strides: int
    backup: Path | None = None
    messages: list[str] = dataclasses.field(default_factory=list)


def _readable(path: Path) -> tuple[bool, str]:
    h5py = _h5py()

    try:
        with h5py.File(path, "r") as f:
            _check_format(f, path)
            for grp in ("imu", "strides", "link"):
                if grp in f:
                    for d in f[grp].values():
                        if d.shape and d.shape[0]:
                            d[-1:]  # touch the last chunk
        return True, ""
    except RecordingError:
        raise
    except (OSError, KeyError) as e:
        return False, str(e)


def _trim_and_mark(path: Path, method: str) -> tuple[int, int]:
    """Cut sample columns to their common length; record the repair in the root attributes."""
    h5py = _h5py()

    with h5py.File(path, "a") as f:
        imu = f["imu"]
        cols = [c for c in _SAMPLE_COLS if c in imu]
        n = min((imu[c].shape[0] for c in cols), default=0)
        if n and "t" in imu:  # cut at the first unwritten sample (t is NaN-filled and strictly increasing)
            t = imu["t"][:n]
            bad = ~np.isfinite(t)
            bad[1:] |= np.diff(t) <= 0
            idx = np.nonzero(bad)[0]
            n = int(idx[0]) if idx.size else n
        if "strides/rows" in f:
            rows = f["strides/rows"]
            si = rows["stride_index"][()] if rows.shape[0] else np.zeros(0, np.int64)
            if si.size > 1:
                brk = np.nonzero(np.diff(si) <= 0)[0]
                if brk.size:
                    rows.resize(int(brk[0]) + 1, axis=0)
        for c in cols:
            if imu[c].shape[0] != n:
                imu[c].resize(n, axis=0)
        f.attrs["n_samples"] = np.int64(n)
        ns = f["strides/rows"].shape[0] if "strides/rows" in f else 0
        f.attrs["n_strides"] = np.int64(ns)
        if n and "t" in imu:
            f.attrs["duration_s"] = float(imu["t"][n - 1] - imu["t"][0])
        if "link/gaps" in f:
            f.attrs["n_gaps"] = np.int64(f["link/gaps"].shape[0])
        f.attrs["repaired_utc"] = _utcnow()
        f.attrs["repair_method"] = method
        f.flush()
        os.fsync(f.id.get_vfd_handle())
    return n, ns


def _skip_bad_times(path: Path) -> int:
    """Finalized files: remove the samples whose ``t`` is NaN/inf from every sample column (in place).
    Returns how many were removed."""
    h5py = _h5py()

    with h5py.File(path, "a") as f:
        imu = f["imu"]
        cols = [c for c in _SAMPLE_COLS if c in imu]
        n = min((imu[c].shape[0] for c in cols), default=0)
        if not n or "t" not in imu:
            return 0
        keep = np.isfinite(imu["t"][:n])
        n_bad = int(n - keep.sum())
        if n_bad:
            for c in cols:
                v = imu[c][:n][keep]
                imu[c].resize(v.shape[0], axis=0)
                imu[c][:] = v
            if "si_override" in imu and imu["si_override"].shape[0]:  # follow the samples' new rows
                rows = imu["si_override"][()]
                rows = rows[(rows["index"] < n) & keep[np.clip(rows["index"], 0, n - 1)]]
                rows["index"] = (np.cumsum(keep) - 1)[rows["index"]]
                imu["si_override"].resize(rows.shape[0], axis=0)
                imu["si_override"][:] = rows
            f.flush()
    return n_bad


def _copy_out(src: Path, dst: Path) -> None:
    """Copy every readable dataset prefix and attribute from ``src`` (SWMR reader) into a new ``dst``."""
    h5py = _h5py()

    with h5py.File(src, "r", swmr=True) as fi, h5py.File(dst, "w", libver=("v110", "v110")) as fo:
        for k, v in fi.attrs.items():
            fo.attrs[k] = v

        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                g = fo.require_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
                return
            shape = obj.shape
            chunks = obj.chunks or None
            out = fo.create_dataset(
                name,
                shape=(0, *shape[1:]),
                maxshape=(None, *shape[1:]),
                dtype=obj.dtype,
                chunks=chunks or True,
                compression=obj.compression,
                compression_opts=obj.compression_opts,
                shuffle=obj.shuffle,
            )
            for k, v in obj.attrs.items():
                out.attrs[k] = v
            step = chunks[0] if chunks else max(1, shape[0])
            good = 0
            for i in range(0, shape[0], step):
                try:
                    part = obj[i : i + step]
                except OSError:
                    break  # first unreadable chunk: keep the prefix
                out.resize(i + part.shape[0], axis=0)
                out[i : i + part.shape[0]] = part
                good = i + part.shape[0]
            out.attrs["salvaged_rows"] = good

        fi.visititems(visit)


def _rebuild_from_raw(raw: Path, dst: Path, like: Path | None) -> None:
    """Decode the ``.imuraw`` byte log (protocol FrameDecoder via formats.read_file) into a new recording."""
    from imuwalk.sources.formats import read_file

    head = raw.read_bytes()[:4096]
    if head and b"\x00" not in head:
        # the wire protocol ends every frame with 0x00; a log without any is a --format text stream
        raise RecordingError(
            f"cannot rebuild from {raw}: it is a text-line byte log (a `--format text` stream), which "
            f"holds no device frames to rebuild from; read it directly with `imuwalk detect {raw} --format "
            "text` (plus the --preset/--rate options the stream used) or convert it with `imuwalk import "
            f"{raw} --format text -o NEW.h5`"
        )
    try:
        block = read_file(raw)
    except ValueError as e:
        raise RecordingError(f"cannot rebuild from {raw}: {e}") from None
    placement = params = mount = session = None
    if like is not None:
        try:
            with _open_h5(like) as f:
                placement = _attr(f.attrs.get("placement", "")) or None
                params = json.loads(_attr(f.attrs.get("detector_params_json", "null")))
                mount = json.loads(_attr(f.attrs.get("mount_json", "null")))
                session = json.loads(_attr(f.attrs.get("session_json", "null")))
        except (OSError, ValueError, KeyError):
            pass
    rec = Recorder(
        dst,
        placement=placement,
        params=params,
        mount=mount,
        session=session if isinstance(session, dict) else None,
        swmr=False,
        raw_log=False,
        meta=block.info.get("meta"),
        overwrite=True,
    )
    rec.write_block(block)
    rec.write_event("rebuilt", {"from": raw.name})
    rec.close()


def _backup_path(path: Path) -> Path:
    """``<file>.bak``, or ``<file>.bak.1``, ``.bak.2``, ... when taken: a second repair never replaces the
    original kept by the first."""
    bak = path.with_name(path.name + ".bak")
    k = 1
    while bak.exists() or bak.is_symlink():
        bak = path.with_name(f"{path.name}.bak.{k}")
        k += 1
    return bak


def repair(path: str | os.PathLike, *, from_raw: bool = False, use_h5clear: bool = True) -> RepairReport:
    """Make a recording left by a killed/crashed writer readable again.

    Steps (first that works): 1) nothing to do; 2) ``h5clear -s`` (clears the SWMR/consistency flags)
    then cut the columns to a common length; 3) copy every readable prefix out through an SWMR reader into a
    fresh file; 4) rebuild from ``<file>.imuraw``. The original is kept as ``<file>.bak`` when replaced
    (``<file>.bak.1``, ... when that exists); a repair that fails leaves the file as it was and no backup.
    A file without the HDF5 signature (empty, or another format) goes straight to 4. ``from_raw`` forces 4.
    Raises :class:`RecordingError` when nothing works.
    """
    path = Path(path)
    raw = raw_log_path(path)
    msgs: list[str] = []
    if not path.exists() and not raw.exists():
        raise FileNotFoundError(f"neither {path} nor its raw log {raw} exists")
    if path.exists() and not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file"
        raise RecordingError(f"cannot repair {path}: it is {what}, not a recording")
    has_raw = raw.is_file() and raw.stat().st_size > 0

    def done(method: str, backup: Path | None = None) -> RepairReport:
        n, ns = _trim_and_mark(path, method) if method != "none" else _counts(path)
        return RepairReport(path, method, n, ns, backup, msgs)

    if path.exists() and _not_h5(path):
        what = "empty" if path.stat().st_size == 0 else "not an HDF5 file (no HDF5 signature)"
        if not has_raw:
            raise RecordingError(f"cannot repair {path}: it is {what}, so not an imuwalk recording, and there is "
                                 f"no raw log {raw} to rebuild it from")
        msgs.append(f"{path.name} is {what}")
        from_raw = True
    if not from_raw and path.exists():
        ok, why = _readable(path)
        if ok:
            with Recording(path) as r:
                complete = r.complete
            if complete:
                try:
                    _counts(path)
                except RecordingError as e:  # e.g. a NaN time: skip the bad samples, keep the rest
                    n_bad = _skip_bad_times(path)
                    msgs.append(f"finalized, but {e}; {n_bad} samples with a NaN/inf time removed")
                    return done("skip")
                msgs.append("file opens normally and was finalized; nothing to do")
                return done("none")
            msgs.append("file opens normally but was not finalized; columns trimmed to a common length")
            return done("trim")
        msgs.append(f"normal open failed: {why}")
        h5clear = shutil.which("h5clear") if use_h5clear else None
        if h5clear:
            bak = _backup_path(path)
            shutil.copy2(path, bak)
            try:
                r = subprocess.run([h5clear, "-s", str(path)], capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                r = subprocess.CompletedProcess([h5clear], 124, "", "timed out")
            msgs.append(f"h5clear -s: exit {r.returncode} {r.stderr.strip()}".strip())
            if r.returncode == 0:
                ok, why = _readable(path)
                if ok:
                    return done("h5clear", bak)
                msgs.append(f"still unreadable after h5clear: {why}")
            os.replace(bak, path)  # undo: the original back, no backup left behind
        tmp = path.with_name(path.name + ".repair-tmp")
        try:
            if not _is_flag_error(OSError(why)):
                raise OSError("not a flag-only failure; the SWMR reader is not tried on damaged files")
            _copy_out(path, tmp)
            bak = _backup_path(path)
            os.replace(path, bak)
            os.replace(tmp, path)
            return done("copy", bak)
        except (OSError, KeyError, RecordingError) as e:
            msgs.append(f"copy through an SWMR reader failed: {e}")
            if tmp.exists():
                tmp.unlink()
    if has_raw:
        tmp = path.with_name(path.name + ".repair-tmp")
        like = path if path.exists() and not _not_h5(path) else None
        try:
            _rebuild_from_raw(raw, tmp, like)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        bak = None
        if path.exists():
            bak = _backup_path(path)
            os.replace(path, bak)
        os.replace(tmp, path)
        msgs.append(f"rebuilt from {raw.name}")
        return done("raw", bak)
    if from_raw and not msgs:
        raise RecordingError(f"cannot rebuild {path} from its raw log: {raw} does not exist or is empty")
    raise RecordingError(
        f"cannot repair {path}: {'; '.join(msgs) or 'unreadable'}; no raw log {raw} to rebuild from"
    )


def _counts(path: Path) -> tuple[int, int]:
    with Recording(path) as r:
        return len(r), int(r.strides.shape[0])
