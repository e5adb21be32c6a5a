"""Unit converters and axis maps. imuwalk works in s, m/s² (incl. gravity) and rad/s."""

from __future__ import annotations

import numpy as np

#: Standard gravity, m/s².
G0 = 9.80665
DEG2RAD = np.pi / 180.0


def g_to_ms2(acc_g: np.ndarray, g: float = G0) -> np.ndarray:
    """Acceleration from g to m/s² (float64)."""
    return np.asarray(acc_g, dtype=np.float64) * g


def ms2_to_g(acc: np.ndarray, g: float = G0) -> np.ndarray:
    """Acceleration from m/s² to g (float64)."""
    return np.asarray(acc, dtype=np.float64) / g


def dps_to_rads(gyr_dps: np.ndarray) -> np.ndarray:
    """Angular rate from deg/s to rad/s (float64)."""
    return np.asarray(gyr_dps, dtype=np.float64) * DEG2RAD


def rads_to_dps(gyr: np.ndarray) -> np.ndarray:
    """Angular rate from rad/s to deg/s (float64)."""
    return np.asarray(gyr, dtype=np.float64) / DEG2RAD


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
            sign = -1.0 if p.startswith("-") else 1.0
            name = p.lstrip("+-")
            if name not in ("x", "y", "z"):
                raise ValueError(f"axis_map: unknown axis {p!r} in {axis_map!r}")
            R[i, "xyz".index(name)] = sign
    else:
        R = np.asarray(axis_map, dtype=np.float64)
        if R.shape != (3, 3):
            raise ValueError(f"axis_map: expected a 3x3 matrix, got shape {R.shape}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-6):
        raise ValueError("axis_map: the matrix is not orthonormal")
    return R
