"""Shared fixtures: the real-data folder (IMUWALK_DATA) and skip helpers."""

from __future__ import annotations

import pytest

from imuwalk._paths import data_root


def require_data(*parts: str):
    """Path below the real-data folder, or skip the test with a clear reason when absent."""
    root = data_root()
    p = root.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real recordings not found at {p} (set IMUWALK_DATA to the shared datasets folder)")
    return p


@pytest.fixture
def data_dir():
    return require_data()
