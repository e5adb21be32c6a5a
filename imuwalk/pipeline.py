"""Pipeline: source -> StepDetector -> sinks (recorder, callbacks). Used by stream, demo, detect (replay).

The source is any iterable of :class:`~imuwalk.sources.block.SampleBlock` (SerialSource, ReplaySource, ...).
Per block: the recorder gets the samples (non-blocking enqueue), the detector
``update(block.t, block.acc, block.gyr)`` runs, new stride rows go to the recorder and ``on_rows``.
At the end (source exhausted, ``duration_s`` of data time reached, ``stop_event`` set or Ctrl-C)
``detector.finish()`` is flushed through the same path and the recording is finalized.

Samples the detector rejects never end a run: a block whose timestamps are not finite or not strictly
increasing (also across blocks) loses only those samples (each sample must come after every sample
accepted before it); a block rejected for another reason is dropped whole. They are neither detected nor
recorded, so a replay of the recording gives the live strides. The count is ``stats["samples_rejected"]``
(``stats["rejected_reason"]``: the detector's message for the first one); :class:`DetectorGate`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imuwalk.core.kernel import check_time
from imuwalk.core.rows import STRIDE_DTYPE
from imuwalk.sources.block import increasing_mask


@dataclass
class PipelineResult:
    """``rows``: all stride rows (STRIDE_DTYPE); ``summary``: ``imuwalk.summarize(rows)`` or None;
    ``stats``: counters (blocks, samples, strides, data_s, wall_s, interrupted, recorder_error,
    samples_rejected, rejected_reason, ...)."""

    rows: np.ndarray
    summary: Any = None
    stats: dict = field(default_factory=dict)


class DetectorGate:
    """Feed SampleBlocks to a detector; samples it would reject are dropped and counted, never raised.

    :meth:`filter` keeps the samples with a finite time after every time accepted before (the detector's
    rule for ``t``; a compiled check, the common all-good case returns the block itself) and drops a block
    whose arrays do not have the shapes (N,), (N, 3), (N, 3).
    :meth:`detect` runs ``detector.update`` on an accepted block; a ``ValueError`` for any other reason
    drops that block (the detector checks its input before it changes any state). :meth:`update` does
    both. ``rejected``: samples dropped so far; ``reason``: why the first ones were.
    """

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.t_last = -np.inf
        self.rejected = 0
        self.reason: str | None = None

    def _drop(self, n: int, why: str) -> None:
        self.rejected += n
        if self.reason is None:
            self.reason = why

    def filter(self, block: Any) -> Any:
        """``block`` without the samples whose time is not finite or not after all earlier times; None
        when no sample is left."""
        n = len(block)
        if n == 0:
            return None
        acc, gyr = block.acc, block.gyr
        if not (getattr(acc, "shape", None) == (n, 3) and getattr(gyr, "shape", None) == (n, 3)
                and getattr(block.t, "shape", None) == (n,)):  # would also break the recorder's columns
            self._drop(n, f"block shapes t {np.shape(block.t)}, acc {np.shape(acc)}, gyr {np.shape(gyr)}; "
                          "expected (N,), (N, 3), (N, 3)")
            return None
        t = block.t
        if type(t) is np.ndarray and t.dtype == np.float64 and t.ndim == 1 and t.flags.c_contiguous:
            good = check_time(t, self.t_last) < 0  # compiled, well under a microsecond
        else:
            t = np.asarray(t, dtype=np.float64)
            good = bool(t[0] > self.t_last and np.isfinite(t[-1]) and np.all(t[1:] > t[:-1]))
        if good:
            self.t_last = float(t[-1])
            return block
        t = np.asarray(t, dtype=np.float64)
        keep = increasing_mask(t, self.t_last)
        k = int(keep.sum())
        if k == n:
            self.t_last = float(t[-1])
            return block
        bad = int(np.argmin(keep))
        if not np.isfinite(t[bad]):
            why = f"t: a NaN or inf timestamp ({float(t[bad])!r})"
        else:
            prev = max(self.t_last, float(np.max(t[:bad]))) if bad else self.t_last
            why = (f"t: timestamps must be strictly increasing; {'duplicate' if t[bad] == prev else 'decreasing'}"
                   f" {prev!r} -> {float(t[bad])!r}")
        self._drop(n - k, why)
        if k == 0:
            return None
        block = select_samples(block, keep)
        self.t_last = float(block.t[-1])
        return block

    def detect(self, block: Any) -> np.ndarray | None:
        """``detector.update`` on an accepted block; None (and the block counted) if it raises ValueError."""
        if block is None or len(block) == 0:
            return None
        try:
            return self.detector.update(block.t, block.acc, block.gyr)
        except ValueError as e:
            self._drop(len(block), str(e))
            return None

    def update(self, block: Any) -> tuple[np.ndarray | None, Any]:
        """``(rows, accepted block or None)``: :meth:`filter` then :meth:`detect`."""
        block = self.filter(block)
        rows = self.detect(block)
        return rows, block


def select_samples(block: Any, keep: np.ndarray) -> Any:
    """A copy of SampleBlock ``block`` holding the samples where ``keep`` is True (every per-sample field)."""
    from dataclasses import fields, replace

    changes = {}
    n = len(block)
    for f in fields(block):
        v = getattr(block, f.name)
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            changes[f.name] = v[keep]
    info = dict(getattr(block, "info", {}) or {})
    for k, v in list(info.items()):
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            info[k] = v[keep]
    changes["info"] = info
    return replace(block, **changes)


def _summarize(rows: np.ndarray) -> Any:
    try:
        from imuwalk.core.summary import summarize
    except ImportError:
        return None
    return summarize(rows)


class Pipeline:
    """Run ``source`` through ``detector`` into an optional ``recorder`` and callbacks.

    ``on_rows(rows)`` is called with each non-empty STRIDE_DTYPE array; ``on_tick(stats)`` about every
    ``tick_s`` s of wall-clock time (between blocks). The pipeline closes the recorder and the source.
    """

    def __init__(
        self,
        source: Iterable,
        detector: Any,
        *,
        recorder: Any = None,
        on_rows: Callable[[np.ndarray], Any] | None = None,
        on_tick: Callable[[dict], Any] | None = None,
        tick_s: float = 0.25,
    ) -> None:
        if not hasattr(source, "__iter__"):
            raise ValueError(f"source must be an iterable of SampleBlock, got {type(source).__name__}")
        if not (callable(getattr(detector, "update", None)) and callable(getattr(detector, "finish", None))):
            raise ValueError("detector must have update(t, acc, gyr) and finish() (an imuwalk.StepDetector)")
        if not (isinstance(tick_s, (int, float)) and tick_s > 0):
            raise ValueError(f"tick_s must be a positive number of seconds, got {tick_s!r}")
        self.source = source
        self.detector = detector
        self.recorder = recorder
        self.on_rows = on_rows
        self.on_tick = on_tick
        self.tick_s = float(tick_s)
        self.stats: dict[str, Any] = {}

    def _emit(self, rows: np.ndarray, out: list[np.ndarray]) -> None:
        rows = np.asarray(rows)
        if rows.size == 0:
            return
        if rows.dtype != STRIDE_DTYPE:
            rows = rows.astype(STRIDE_DTYPE)
        out.append(rows)
        self.stats["strides"] += rows.size
        if self.recorder is not None:
            self._record(self.recorder.write_strides, rows)
        if self.on_rows is not None:
            self.on_rows(rows)

    def _record(self, fn: Callable, arg: Any) -> None:
        """Call a recorder method; an I/O failure stops recording but not the detection."""
        try:
            fn(arg)
        except OSError as e:
            self.stats["recorder_error"] = str(e)
            self.recorder = None

    def run(
        self, stop_event: threading.Event | None = None, duration_s: float | None = None
    ) -> PipelineResult:
        """Process blocks until the source ends, ``duration_s`` s of data, ``stop_event`` or Ctrl-C."""
        if duration_s is not None and not (isinstance(duration_s, (int, float)) and duration_s > 0):
            raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
        out: list[np.ndarray] = []
        self.stats = {"blocks": 0, "samples": 0, "strides": 0, "data_s": 0.0, "wall_s": 0.0,
                      "interrupted": False, "stopped": False, "recorder_error": None,
                      "recording": str(getattr(self.recorder, "path", "")) or None,
                      "samples_rejected": 0, "rejected_reason": None}
        self._gate = DetectorGate(self.detector)
        self._recorder0 = self.recorder
        wall0 = time.monotonic()
        next_tick = wall0 + self.tick_s
        t_first = None
        watcher = None
        done = threading.Event()
        stopper = getattr(self.source, "stop", None)
        if stop_event is not None and callable(stopper):
            # a blocking source (serial) is told to stop, so the loop below wakes up
            def watch() -> None:
                while not done.is_set():
                    if stop_event.wait(0.1):
                        stopper()
                        return

            watcher = threading.Thread(target=watch, name="imuwalk-pipeline-stop", daemon=True)
            watcher.start()
        meta = getattr(self.source, "meta", None)
        if self.recorder is not None and meta is not None and hasattr(self.recorder, "set_meta"):
            self._record(self.recorder.set_meta, meta)
        params = getattr(self.detector, "params_", None)
        if self.recorder is not None and params is not None and hasattr(self.recorder, "set_params"):
            self.recorder.set_params(params, getattr(self.detector, "placement", None))
        raw_hook = getattr(self.source, "add_raw_listener", None)
        if self.recorder is not None and callable(raw_hook) and getattr(self.recorder, "raw_log_path", None):
            raw_hook(self._raw)
        try:
            idle = getattr(self.source, "iter_idle", None)  # a live source also wakes the loop while silent
            for block in (idle(self.tick_s) if callable(idle) else self.source):
                # samples the detector would reject are dropped (counted), neither recorded nor detected
                block = self._accept(block) if block is not None and len(block) else None
                if block is not None:
                    if t_first is None:
                        t_first = float(block.t[0])
                    self._detect(block, out)
                    self.stats["data_s"] = float(block.t[-1]) - t_first
                now = time.monotonic()
                if self.on_tick is not None and now >= next_tick:
                    self.stats["wall_s"] = now - wall0
                    self.on_tick(dict(self.stats))
                    next_tick = now + self.tick_s
                if stop_event is not None and stop_event.is_set():
                    self.stats["stopped"] = True
                    break
                if duration_s is not None and self.stats["data_s"] >= duration_s:
                    break
        except KeyboardInterrupt:
            self.stats["interrupted"] = True
        finally:
            done.set()
            if stop_event is not None and stop_event.is_set():
                self.stats["stopped"] = True
            try:
                self._drain_source(out)
                self._emit(self.detector.finish(), out)
            finally:
                self._close_source()
                rec = self._recorder0
                self.recorder = None
                if rec is not None:
                    try:
                        rec.close()
                    except OSError as e:
                        self.stats["recorder_error"] = str(e)
                    self.stats["recorder"] = dict(getattr(rec, "stats", {}))
        self.stats["wall_s"] = time.monotonic() - wall0
        rows = np.concatenate(out) if out else np.zeros(0, STRIDE_DTYPE)
        src_stats = getattr(self.source, "stats", None)
        if src_stats is not None:
            self.stats["source"] = src_stats() if callable(src_stats) else src_stats
        if self.on_tick is not None:
            self.on_tick(dict(self.stats))
        return PipelineResult(rows=rows, summary=_summarize(rows), stats=dict(self.stats))

    def _gate_stats(self) -> None:
        self.stats["samples_rejected"] = self._gate.rejected
        self.stats["rejected_reason"] = self._gate.reason

    def _accept(self, block: Any) -> Any:
        """The samples of ``block`` the detector can take (None if none), recorded."""
        block = self._gate.filter(block)
        if block is not None and self.recorder is not None:
            self._record(self.recorder.write_block, block)
        self._gate_stats()
        return block

    def _detect(self, block: Any, out: list[np.ndarray]) -> None:
        gate = self._gate
        n0 = gate.rejected
        rows = gate.detect(block)
        self._gate_stats()
        if gate.rejected == n0:
            self._emit(rows, out)
            self.stats["blocks"] += 1
            self.stats["samples"] += len(block)

    def _raw(self, data: bytes) -> None:
        rec = self.recorder
        if rec is not None:
            self._record(rec.write_raw, data)

    def _drain_source(self, out: list) -> None:
        """On a stop or Ctrl-C: blocks the source already received (queued, not yet processed) are still
        recorded and detected, so that a clean stop loses nothing the link delivered."""
        drain = getattr(self.source, "get_all", None)
        if not callable(drain):
            return
        stopper = getattr(self.source, "stop", None)
        if callable(stopper):
            stopper()  # no new blocks after this
        for block in drain() or []:
            if len(block) == 0:
                continue
            block = self._accept(block)
            if block is not None:
                self._detect(block, out)

    def _close_source(self) -> None:
        for name in ("close", "stop"):
            fn = getattr(self.source, name, None)
            if callable(fn):
                fn()
                return
