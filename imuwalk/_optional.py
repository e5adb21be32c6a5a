"""Optional dependencies: which extra of ``pyproject.toml`` installs which module, and one clear error.

The core (``imuwalk.detect_steps``, ``StepDetector``, ``summarize``) needs only numpy, scipy and numba.
Everything else is an extra; when one is missing, the error names the feature, the package and the
``pip install`` line instead of a bare ``No module named 'h5py'``::

    h5py = require("h5py", "reading or writing HDF5 recordings")
    # without h5py: MissingOptionalDependency (an ImportError):
    # reading or writing HDF5 recordings needs h5py: pip install 'imuwalk[hdf5]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingOptionalDependency", "missing_hint", "require"]

#: top-level module -> (PyPI package, imuwalk extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "h5py": ("h5py", "hdf5"),
    "serial": ("pyserial", "serial"),
    "rich": ("rich", "cli"),
    "matplotlib": ("matplotlib", "plot"),
    "pooch": ("pooch", "data"),
    "openpyxl": ("openpyxl", "data"),
    "pandas": ("pandas", "data"),
    "dask": ("dask[distributed]", "dask"),
    "distributed": ("dask[distributed]", "dask"),
    "gaitmap": ("gaitmap", "bench"),
    "gaitmap_mad": ("gaitmap_mad", "bench"),
}


class MissingOptionalDependency(ImportError):
    """An optional dependency of the feature in use is not installed (the message says which and how)."""


def missing_hint(exc: BaseException, extra: str | None = None) -> str | None:
    """``"needs h5py: pip install 'imuwalk[hdf5]'"`` when ``exc`` is a missing optional module, else None.
    ``extra``: name this extra instead of the module's own (a command that needs several, e.g. ``cli``)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    known = EXTRAS.get(exc.name.split(".")[0])
    if known is None:
        return None
    package, own = known
    return f"needs {package}: pip install 'imuwalk[{extra or own}]'"


def require(module: str, what: str, extra: str | None = None) -> ModuleType:
    """Import ``module``; if it (an optional dependency) is missing, raise :class:`MissingOptionalDependency`
    saying that ``what`` needs it and which extra installs it (``extra``, else the module's own). Other import
    errors propagate unchanged."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        hint = missing_hint(exc, extra)
        if hint is None:
            raise
        raise MissingOptionalDependency(f"{what} {hint}", name=exc.name) from exc
