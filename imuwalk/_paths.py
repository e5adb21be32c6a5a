"""Where the third-party recordings live: one setting, ``IMUWALK_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    """The folder holding the real recordings.

    ``$IMUWALK_DATA`` when set, else ``../shared/datasets`` relative to the repository root.
    The folder may not exist; callers check and skip/raise with a clear reason.
    """
    env = os.environ.get("IMUWALK_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "datasets").resolve()
