"""Unit converters and axis maps. imuwalk works in s, m/s² (incl. gravity) and rad/s."""

from __future__ import annotations

import re

import numpy as np

#: Standard gravity, m/s².
G0 = 9.80665
DEG2RAD = np.pi / 180.0


def _numbers(x, name: str) -> np.ndarray:
    """``x`` as a float64 array; ValueError naming ``name`` for None, text or ragged input (``np.asarray(None,
    float)`` would quietly give NaN)."""
    try:
        a = np.asarray(x)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"dtype {a.dtype}")
        return a.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numbers (an array or a number), got {type(x).__name__} ({exc})") from None


def g_to_ms2(acc_g: np.ndarray, g: float = G0) -> np.ndarray:
    """Acceleration from g to m/s² (float64)."""
    return _numbers(acc_g, "acc_g") * g


def ms2_to_g(acc: np.ndarray, g: float = G0) -> np.ndarray:
    """Acceleration from m/s² to g (float64)."""
    return _numbers(acc, "acc") / g


def dps_to_rads(gyr_dps: np.ndarray) -> np.ndarray:
    """Angular rate from deg/s to rad/s (float64)."""
    return _numbers(gyr_dps, "gyr_dps") * DEG2RAD


def rads_to_dps(gyr: np.ndarray) -> np.ndarray:
    """Angular rate from rad/s to deg/s (float64)."""
    return _numbers(gyr, "gyr") / DEG2RAD


def counts_to_si(acc_counts, gyr_counts, acc_g_per_lsb: float, gyr_dps_per_lsb: float):
    """Raw int16 sensor counts to (acc m/s², gyr rad/s), given the scale factors of the device."""
    acc = np.asarray(acc_counts, dtype=np.float64) * (acc_g_per_lsb * G0)
    gyr = np.asarray(gyr_counts, dtype=np.float64) * (gyr_dps_per_lsb * DEG2RAD)
    return acc, gyr


def apply_axis_map(x: np.ndarray, axis_map) -> np.ndarray:
    """Remap sensor axes. ``axis_map`` is a 3x3 matrix (rows = new axes in sensor coordinates)
    or a string like ``"-y,x,z"``. Returns x @ R.T, shape (N, 3)."""
    R = axis_map_matrix(axis_map)
    return np.asarray(x, dtype=np.float64) @ R.T


def axis_map_matrix(axis_map) -> np.ndarray:
    """3x3 rotation/permutation matrix of an axis map given as matrix or as ``"-y,x,z"``."""
    if isinstance(axis_map, str):
        parts = [p.strip().lower() for p in axis_map.split(",")]
        if len(parts) != 3:
            raise ValueError(f"axis_map: expected three comma-separated axes like '-y,x,z', got {axis_map!r}")
        R = np.zeros((3, 3))
        for i, p in enumerate(parts):
            m = re.fullmatch(r"([+-]?)([xyz])", p)
            if m is None:
                raise ValueError(f"axis_map: {p!r} in {axis_map!r} is not an axis (x, y or z with an optional sign)")
            R[i, "xyz".index(m.group(2))] = -1.0 if m.group(1) == "-" else 1.0
    else:
        R = _numbers(axis_map, "axis_map")
        if R.shape != (3, 3):
            raise ValueError(f"axis_map: expected a 3x3 matrix, got shape {R.shape}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        raise ValueError("axis_map: the matrix is not orthonormal")
    return R
