"""The ``--json`` document: ``{"strides": [...], "summary": {...}, ...}`` — a public contract.

Printed by ``imuwalk demo|stream|detect --json`` (one document on stdout). Documented key by key,
with units, in docs/CLI.md. Extra top-level keys may be added later; existing keys never change
meaning. NaN/inf become ``null``; numpy scalars become plain numbers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from imuwalk.core.rows import STRIDE_DTYPE, rows_to_dicts

__all__ = ["SCHEMA", "result_document", "dumps", "jsonable"]

#: Identifies the document layout; bumped only if an existing key changes meaning (never planned).
SCHEMA = "imuwalk.result/1"

_RESERVED = ("schema", "strides", "summary")


def jsonable(obj: Any) -> Any:
    """Recursively convert to JSON-ready Python: NaN/inf → None, numpy → int/float/list, Path → str."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"cannot put a {type(obj).__name__} into the JSON document")


def result_document(rows: Any, summary: Any = None, extra: dict | None = None) -> dict:
    """Build the JSON document.

    rows : STRIDE_DTYPE array (one dict per stride, every field of :data:`STRIDE_DTYPE`).
    summary : a SessionSummary (or its dict); None → ``summarize(rows)`` with the defaults.
    extra : further top-level keys (e.g. "link", "recording", "mount", "source"); may not replace
        "schema", "strides" or "summary".
    Returns a dict that ``json.dumps(..., allow_nan=False)`` accepts.
    """
    if hasattr(rows, "events") and not isinstance(rows, np.ndarray):
        rows = rows.events
    rows = np.asarray(rows)
    if rows.dtype.names is None or any(n not in rows.dtype.names for n in STRIDE_DTYPE.names):
        raise ValueError("rows: expected a STRIDE_DTYPE structured array")
    rows = rows.astype(STRIDE_DTYPE, copy=False).reshape(-1)
    if summary is None:
        from imuwalk.core.summary import summarize

        summary = summarize(rows)
    sdict = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)
    doc: dict[str, Any] = {"schema": SCHEMA, "strides": jsonable(rows_to_dicts(rows)),
                           "summary": jsonable(sdict)}
    for k, v in (extra or {}).items():
        if k in _RESERVED:
            raise ValueError(f"extra: key {k!r} is reserved by the document")
        doc[str(k)] = jsonable(v)
    return doc


def dumps(doc: dict, indent: int | None = 2) -> str:
    """Serialize a document strictly (no NaN tokens)."""
    return json.dumps(doc, indent=indent, allow_nan=False)
