"""ReplaySource: a recording through the live streaming path.

Yields :class:`~imuwalk.sources.block.SampleBlock` exactly like the live source: the same ``t`` on the
device clock (stored in the recording), so a :class:`~imuwalk.StepDetector` gives the strides of the live run.
"""

from __future__ import annotations

import numbers
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from imuwalk.sources.block import SampleBlock


class ReplaySource:
    """Replay an HDF5 recording as a stream of SampleBlocks.

    ``path_or_recording``: .h5 path or an open :class:`~imuwalk.sinks.hdf5.Recording`;
    ``realtime``: pace blocks by their time stamps (``speed`` × real time), else as fast as possible;
    ``block_s``: block length in s of recording time (> 0).
    Iterate it (or use ``blocks()``); ``close()``/``stop()`` end the iteration early.
    """

    def __init__(
        self,
        path_or_recording: Any,
        realtime: bool = False,
        speed: float = 1.0,
        block_s: float = 0.05,
    ) -> None:
        from imuwalk.sinks.hdf5 import Recording

        if not (isinstance(speed, numbers.Real) and not isinstance(speed, bool)
                and speed > 0):
            raise ValueError(f"speed must be a positive factor, got {speed!r}")
        if not (isinstance(block_s, numbers.Real) and not isinstance(block_s, bool)
                and 0 < block_s <= 3600):
            raise ValueError(f"block_s must be in (0, 3600] s, got {block_s!r}")
        if isinstance(path_or_recording, Recording):
            self.recording = path_or_recording
            self._owns = False
        elif isinstance(path_or_recording, (str, os.PathLike)):
            self.recording = Recording(Path(path_or_recording))
            self._owns = True
        else:
            raise ValueError(
                f"path_or_recording must be a path or a Recording, got {type(path_or_recording).__name__}"
            )
        self.realtime = bool(realtime)
        self.speed = float(speed)
        self.block_s = float(block_s)
        self._stop = threading.Event()
        rate = None
        t = self.recording._f["imu/t"] if "t" in self.recording._f["imu"] else None
        n = len(self.recording)
        if t is not None and n > 1:
            k = min(n, 1001)
            span = float(t[k - 1] - t[0])
            rate = (k - 1) / span if span > 0 else 100.0
        self.rate_hz = float(rate or 100.0)
        self.samples_per_block = max(1, int(round(self.block_s * self.rate_hz)))
        self.meta = self.recording.meta
        self.placement = self.recording.placement
        self.n_blocks = 0

    def __iter__(self) -> Iterator[SampleBlock]:
        return self.blocks()

    def blocks(self) -> Iterator[SampleBlock]:
        """Yield the recording's samples in blocks of about ``block_s`` s."""
        wall0 = time.monotonic()
        t0 = None
        for blk in self.recording.iter_blocks(self.samples_per_block):
            if self._stop.is_set():
                return
            if self.realtime and len(blk):
                if t0 is None:
                    t0 = float(blk.t[0])
                due = wall0 + (float(blk.t[-1]) - t0) / self.speed
                while not self._stop.is_set():
                    delay = due - time.monotonic()
                    if delay <= 0:
                        break
                    self._stop.wait(min(delay, 0.1))
                if self._stop.is_set():
                    return
            blk.info["source"] = "replay"
            self.n_blocks += 1
            yield blk

    def stop(self) -> None:
        """End the iteration at the next block."""
        self._stop.set()

    def close(self) -> None:
        """Stop and close the recording if this source opened it."""
        self._stop.set()
        if self._owns:
            self.recording.close()

    def __enter__(self) -> ReplaySource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
