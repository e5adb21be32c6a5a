"""docs/PARAMETERS.md lists every detector parameter with both placements' defaults, as the code has them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from imuwalk.core.detector import DetectorParams

DOC = Path(__file__).resolve().parent.parent / "docs" / "PARAMETERS.md"


def _table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = (cells[1], cells[2])
    return rows


def _same(doc: str, value: object) -> bool:
    if value is None:  # derived from other parameters
        return doc == "auto"
    if isinstance(value, str):
        return doc == value
    return float(doc) == float(value)


def test_every_parameter_is_documented_with_its_defaults():
    table = _table()
    names = [f.name for f in fields(DetectorParams)]
    assert sorted(table) == sorted(names), set(table) ^ set(names)
    shank = DetectorParams.for_placement("shank").to_dict()
    foot = DetectorParams.for_placement("foot").to_dict()
    for name in names:
        doc_shank, doc_foot = table[name]
        assert _same(doc_shank, shank[name]), (name, doc_shank, shank[name])
        assert _same(doc_foot, foot[name]), (name, doc_foot, foot[name])
