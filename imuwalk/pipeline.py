"""Pipeline: source -> StepDetector -> sinks (recorder, callbacks). Used by stream, demo, detect (replay).

The source is any iterable of :class:`~imuwalk.sources.block.SampleBlock` (SerialSource, ReplaySource, ...).
Per block: the recorder gets the samples (non-blocking enqueue), the detector
``update(block.t, block.acc, block.gyr)`` runs, new stride rows go to the recorder and ``on_rows``.
At the end (source exhausted, ``duration_s`` of data time reached, ``stop_event`` set or Ctrl-C)
``detector.finish()`` is flushed through the same path and the recording is finalized.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imuwalk.core.rows import STRIDE_DTYPE


@dataclass
class PipelineResult:
    """``rows``: all stride rows (STRIDE_DTYPE); ``summary``: ``imuwalk.summarize(rows)`` or None;
    ``stats``: counters (blocks, samples, strides, data_s, wall_s, interrupted, recorder_error, ...)."""

    rows: np.ndarray
    summary: Any = None
    stats: dict = field(default_factory=dict)


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
                      "recording": str(getattr(self.recorder, "path", "")) or None}
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
            for block in self.source:
                if len(block) == 0:
                    continue
                if t_first is None:
                    t_first = float(block.t[0])
                if self.recorder is not None:
                    self._record(self.recorder.write_block, block)
                self._emit(self.detector.update(block.t, block.acc, block.gyr), out)
                self.stats["blocks"] += 1
                self.stats["samples"] += len(block)
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
            if self.recorder is not None:
                self._record(self.recorder.write_block, block)
            try:
                self._emit(self.detector.update(block.t, block.acc, block.gyr), out)
            except ValueError:
                continue  # e.g. the block interrupted mid-update overlaps: recorded, not detected twice
            self.stats["blocks"] += 1
            self.stats["samples"] += len(block)

    def _close_source(self) -> None:
        for name in ("close", "stop"):
            fn = getattr(self.source, name, None)
            if callable(fn):
                fn()
                return
