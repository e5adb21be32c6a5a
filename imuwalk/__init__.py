"""imuwalk: live strides and walking direction (forward/backward) from a leg-worn IMU.

Units everywhere: time s (float64), acceleration m/s² incl. gravity, angular rate rad/s, sensor frame.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "detect_steps": "imuwalk.core.detector",
    "StepDetector": "imuwalk.core.detector",
    "DetectionResult": "imuwalk.core.detector",
    "DetectorParams": "imuwalk.core.detector",
    "STRIDE_DTYPE": "imuwalk.core.rows",
    "Mount": "imuwalk.core.direction",
    "MountStore": "imuwalk.core.direction",
    "summarize": "imuwalk.core.summary",
    "SessionSummary": "imuwalk.core.summary",
    "SummaryTracker": "imuwalk.core.summary",
    "Recording": "imuwalk.sinks.hdf5",
    "Recorder": "imuwalk.sinks.hdf5",
    "SerialSource": "imuwalk.sources.serial",
    "ReplaySource": "imuwalk.sources.replay",
    "SampleBlock": "imuwalk.sources.block",
    "g_to_ms2": "imuwalk.units",
    "dps_to_rads": "imuwalk.units",
    "warm_up": "imuwalk.warmup",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'imuwalk' has no attribute {name!r}")
    value = getattr(import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from imuwalk.core.detector import DetectionResult, DetectorParams, StepDetector, detect_steps  # noqa: F401
    from imuwalk.core.direction import Mount, MountStore  # noqa: F401
    from imuwalk.core.rows import STRIDE_DTYPE  # noqa: F401
    from imuwalk.core.summary import SessionSummary, SummaryTracker, summarize  # noqa: F401
    from imuwalk.warmup import warm_up  # noqa: F401
