"""Audit of reference initial contacts against the foot's own IMU, and the best F1 a detector can reach.

Run: ``python -m benchmarks.reference_audit [DATASET ...]`` (default: marpino ipol gaitmap; data from
$IMUWALK_DATA). Only the foot sensor is used (the shank recordings of the leg set share its contacts).

Two physical facts every landing obeys, checked from the foot IMU alone (no detector involved):

* **rest before contact**: a foot that lands was moving just before. A reference IC preceded by
  ``REST_BEFORE_S`` of rest (|gyr| < ``REST_GYR_RADS`` and ||acc| − g| < ``REST_ACC_MS2`` throughout) marks
  no landing: no IMU event lies at it, so no detector can match it (a miss for every detector).
* **landing without contact**: a swing (|gyr| above ``SWING_GYR_RADS`` for ``SWING_MIN_S``) that ends in
  an impact (|acc| ≥ ``IMPACT_MS2``) followed by rest is a landing. One with no reference IC within
  ``UNREF_S`` and inside the scored region is a real step every correct detector reports and the reference
  calls a false positive.

The bound: with every other contact matched, F1 ≤ 2·TP / (2·TP + FP + FN), TP = matchable contacts,
FN = unmatchable ones, FP = landings without contact (and one FP for each unmatchable contact whose
landing a detector also reports). Printed per recording and pooled.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from imuwalk.datasets import load
from imuwalk.datasets._loaders import _runs
from imuwalk.evaluate import _f1, in_region
from imuwalk.units import G0 as G

REST_BEFORE_S = 0.25
REST_GYR_RADS = 0.5
REST_ACC_MS2 = 0.6
SWING_GYR_RADS = 2.0
SWING_MIN_S = 0.1
IMPACT_MS2 = 2.0 * G
UNREF_S = 0.3


@dataclass
class Audit:
    name: str
    n_ref: int
    at_rest: list[float]  # reference ICs preceded by rest: no landing there
    unreferenced: list[float]  # IMU landings without a reference IC
    landing_before: list[float]  # for each at_rest IC, the IMU landing just before it (nan if none)

    def bound(self) -> tuple[int, int, int]:
        """(tp, fp, fn) of a detector that reports every IMU landing at its time."""
        fn = len(self.at_rest)
        fp = len(self.unreferenced) + int(np.count_nonzero(np.isfinite(self.landing_before)))
        return self.n_ref - fn, fp, fn


def _norms(acc: np.ndarray, gyr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|acc| (m/s²), |gyr| (rad/s) and the rest mask (both near their resting values), per sample."""
    a = np.linalg.norm(acc, axis=1)
    g = np.linalg.norm(gyr, axis=1)
    return a, g, (g < REST_GYR_RADS) & (np.abs(a - G) < REST_ACC_MS2)


def landings(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> np.ndarray:
    """Times (s) of IMU landings: the |acc| peak ≥ IMPACT_MS2 closing a swing, with rest within 0.5 s after it."""
    return _landings(t, *_norms(acc, gyr))


def _landings(t: np.ndarray, a: np.ndarray, g: np.ndarray, rest: np.ndarray) -> np.ndarray:
    starts, ends = _runs(g > SWING_GYR_RADS)
    out = []
    for s, e in zip(starts, ends, strict=True):
        if t[e - 1] - t[s] < SWING_MIN_S:
            continue
        nxt = np.flatnonzero(rest[e:] & (t[e:] <= t[e - 1] + 0.5))
        if not len(nxt):
            continue
        w = np.flatnonzero((t >= t[e - 1] - 0.15) & (t <= t[e + nxt[0]]))
        if len(w) and a[w].max() >= IMPACT_MS2:
            out.append(t[w[np.argmax(a[w])]])
    return np.unique(np.asarray(out, dtype=np.float64))


def audit(rec) -> Audit:
    t = rec.t
    a, g, rest = _norms(rec.acc, rec.gyr)
    ex = rec.meta.get("exclude", [])
    ref = rec.ic[in_region(rec.ic, rec.region, ex)]
    land = _landings(t, a, g, rest)
    land = land[in_region(land, rec.region, ex)]
    at_rest, before = [], []
    for ic in ref:
        m = (t >= ic - REST_BEFORE_S) & (t <= ic)
        if m.sum() >= 3 and rest[m].all():
            at_rest.append(float(ic))
            prev = land[(land < ic) & (land > ic - 1.0)]
            before.append(float(prev[-1]) if len(prev) else np.nan)
    unref = [float(x) for x in land if not np.any(np.abs(ref - x) <= UNREF_S)
             and not np.any(np.abs(np.asarray(before) - x) < 1e-9)]
    return Audit(rec.name, len(ref), at_rest, unref, before)


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or ["marpino", "ipol", "gaitmap"]
    for ds in names:
        tot = np.zeros(3, int)
        print(f"## {ds}")
        for rec in load(ds):
            if rec.placement != "foot":
                continue
            a = audit(rec)
            tp, fp, fn = a.bound()
            tot += (tp, fp, fn)
            if a.at_rest or a.unreferenced:
                print(f"- {a.name}: {a.n_ref} contacts; at rest before the contact: "
                      f"{[round(x, 3) for x in a.at_rest]} (IMU landing before it: "
                      f"{[round(x, 3) for x in a.landing_before]}); IMU landings without contact: "
                      f"{[round(x, 3) for x in a.unreferenced]}")
        tp, fp, fn = (int(x) for x in tot)
        f1 = _f1(tp, fp, fn)
        print(f"{ds}: {tp + fn} contacts; best F1 of a detector reporting every landing at its time: "
              f"{'–' if f1 is None else f'{f1:.3f}'} (tp {tp}, fp {fp}, fn {fn})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
