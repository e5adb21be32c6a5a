"""The reference audit (benchmarks/reference_audit.py): reference contacts checked against the foot's IMU."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.reference_audit import audit, landings, main
from imuwalk.sources.gaitgen import generate_walk
from tests.conftest import require_data


def _walk():
    return generate_walk(rate_hz=100.0, placement="foot", seed=1,
                         segments=[(1.0, "still"), (8.0, "forward"), (1.0, "still")])


def _rec(w, ic, region):
    return SimpleNamespace(name="generated", t=w.t, acc=w.acc, gyr=w.gyr, ic=np.sort(np.asarray(ic)),
                           region=region, meta={}, placement="foot")


def test_generated_walk_has_a_landing_per_contact_and_nothing_flagged():
    w = _walk()
    land = landings(w.t, w.acc, w.gyr)
    assert len(land) == len(w.ic)
    assert np.all(np.abs(land - w.ic) < 0.15)
    a = audit(_rec(w, w.ic, (0.5, 9.5)))
    assert a.at_rest == [] and a.unreferenced == []
    assert a.bound() == (len(w.ic), 0, 0)


def test_a_missing_and_a_misplaced_contact_are_found():
    w = _walk()
    ic = list(np.delete(w.ic, 3)) + [9.6]  # drop the 4th landing; add a contact while the foot stands still
    a = audit(_rec(w, ic, (0.5, 9.8)))
    assert a.at_rest == [9.6]
    assert len(a.unreferenced) == 1 and abs(a.unreferenced[0] - w.ic[3]) < 0.15
    tp, fp, fn = a.bound()
    assert (tp, fp, fn) == (len(w.ic) - 1, 1, 1)


@pytest.mark.realdata
def test_leg_set_reference_holes(capsys):
    """The two leg-set contacts no landing-reporting detector can match (issue 2's F1 bound 0.914)."""
    require_data("marpino_leg_imu_foot_pressure")
    from imuwalk.datasets import load

    by = {r.name: audit(r) for r in load("marpino") if r.placement == "foot"}
    a = by["marpino/20180621_6/right_foot"]
    assert a.at_rest == [pytest.approx(11.324, abs=0.01)]  # heel crosses 25 % while the foot stands
    assert a.landing_before == [pytest.approx(10.84, abs=0.03)]
    b = by["marpino/20180713_1/right_foot"]
    assert b.unreferenced == [pytest.approx(13.82, abs=0.03)]  # a 6 g landing; the heel never reaches 25 %
    others = [x for k, x in by.items() if k not in (a.name, b.name)]
    assert all(not x.at_rest and not x.unreferenced for x in others)
    assert main(["marpino"]) == 0
    assert "best F1 of a detector reporting every landing at its time: 0.914" in capsys.readouterr().out
