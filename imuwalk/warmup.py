"""Compile or load every Numba kernel of a live session before its clock starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: what the CLI tells a user when :func:`warm_up` is slow (a first run after an install compiles)
SLOW_MESSAGE = "preparing the detector (the first run after an install compiles it, about 20 s)"


def warm_up(on_slow: Callable[[], Any] | None = None, slow_after_s: float = 2.0) -> float:
    """Compile (first run after install) or load from the cache (later runs) the kernels a live session
    uses: the step detector's, the direction decision's and the wire protocol's (encoder, decoder, clock
    mapper). Call it before opening a port: on a fresh install compiling takes 10-30 s, which a reader
    would otherwise spend on its first bytes with the port unread.

    on_slow: called once (from a timer thread) if it is still running after ``slow_after_s`` s, e.g. to
    tell a user that the first run compiles. Returns the time it took, s (~0.1 s with a warm cache)."""
    from imuwalk.core.detector import warm_up as detector_warm_up
    from imuwalk.sources.protocol import warm_up as protocol_warm_up

    if on_slow is not None and not callable(on_slow):
        raise ValueError(f"on_slow: expected a callable or None, got {type(on_slow).__name__}")
    if not (isinstance(slow_after_s, (int, float)) and slow_after_s >= 0):
        raise ValueError(f"slow_after_s: expected a number of seconds >= 0, got {slow_after_s!r}")
    timer = None
    if on_slow is not None:
        timer = threading.Timer(slow_after_s, on_slow)
        timer.daemon = True
        timer.start()
    t0 = time.perf_counter()
    try:
        detector_warm_up()
        protocol_warm_up()
    finally:
        if timer is not None:
            timer.cancel()
    return time.perf_counter() - t0
