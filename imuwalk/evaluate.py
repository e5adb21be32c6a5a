"""Evaluation of stride detection against ground truth: one-to-one matching, metrics, Dask scale-out.

Matching rule (the one every number of imuwalk is computed with)
-----------------------------------------------------------------
For one recording and one event kind (IC or FC) and a tolerance ``tol`` (s):

1. A detected time ``d`` and a reference time ``r`` may be paired when ``|d - r| <= tol`` (+1 ns for
   floating-point rounding).
2. Pairs are chosen **one-to-one** (each reference and each detection used at most once) by an optimal
   assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``): first the number of pairs is maximised,
   then, among maximal matchings, the sum of ``|d - r|`` is minimised. Events farther apart than ``tol``
   from every other event are never paired.
3. Scoring only inside the annotated region (``rec.region``, minus ``rec.meta['exclude']`` intervals):
   a pair whose **reference** lies inside is a true positive; an unpaired reference inside is a false
   negative; an unpaired detection inside is a false positive. Everything else is ignored: references
   outside the region, unpaired detections outside it, and a detection inside the region that is paired
   with a reference outside it (it found a real event that is not scored). Matching itself runs on all
   events, so a detection just outside the region can still claim a reference just inside.
   ``region=None`` means the whole recording.

Metrics per recording (keys of :attr:`EvalReport.per_recording` rows; times in ms):

- ``name``, ``dataset``, ``placement``, ``side``: the recording; ``n_samples``, ``duration_s``, ``rate_hz``
  (median); ``n_ref_ic``, ``n_ref_fc``: reference events inside the region; ``n_ic_pairs``, ``n_fc_pairs``:
  pairs the timing errors are taken over.
- ``precision_30/50/100``, ``recall_*``, ``f1_*``, ``tp_*``, ``fp_*``, ``fn_*``: IC detection at 30/50/100 ms.
- ``ic_err_median_ms``, ``ic_err_p95_ms``, ``ic_bias_median_ms``: absolute (and signed, detected − reference)
  IC timing error over the IC pairs matched at the timing tolerance (100 ms).
- ``fc_err_median_ms``, ``fc_err_p95_ms``, ``fc_bias_median_ms``: the same for FC (matched on their own).
- ``latency_median_ms``, ``latency_p95_ms``: emission latency ``t_emit - reference IC`` over the IC pairs.
- ``n_contacts_ref``, ``n_detected``, ``step_count_err``, ``step_count_err_pct``: detected strides with IC in
  the region versus the reference contact count (recordings that carry ``n_contacts_ref``).
- ``missed_ic_s``, ``false_ic_s``: the events behind ``fn_50`` and ``fp_50``: reference ICs inside the region
  left unpaired at 50 ms, and detected ICs inside it paired with nothing (lists of times, s; ``None``
  without IC ground truth). Per recording only; the table prints them with ``--misses``.
- ``dir_forward_acc``, ``dir_backward_acc``, ``dir_sideways_acc`` (+ ``dir_n_*``): per-stride direction
  accuracy by segment label. A detected stride is scored by the segment its ``t_ic`` falls in; expected
  ``direction``: forward → +1, backward → −1, sideways → −1 (:data:`DIRECTION_EXPECTED`);
  ``transition`` and ``still`` (and unknown labels) are not scored.

A metric that does not apply (no ground truth of that kind) is ``None`` (JSON ``null``).
Pooled metrics (per dataset and ``"overall"``) are micro-averages: counts are summed, timing errors are
the median/p95 over all pairs of all recordings; they add ``n_recordings`` and, where step counts apply,
``step_count_abs_err_pct_mean`` (mean of the recordings' absolute count errors, %). Results do not depend
on how the work is distributed.

The JSON document (:meth:`EvalReport.to_json`, ``imuwalk evaluate --json``): ``settings``
(``imuwalk_version``, ``detector``, ``detector_kwargs``, ``tolerances_ms``, ``timing_tolerance_ms``,
``miss_tolerance_ms``, ``direction_expected``), ``matching`` (this rule in one sentence), ``pooled``
(dataset name or ``"overall"`` → pooled metrics) and ``per_recording`` (the rows above).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imuwalk._optional import require

#: Tolerances (ms) at which IC precision/recall/F1 are reported.
TOLERANCES_MS: tuple[int, ...] = (30, 50, 100)
#: Tolerance (ms) of the pairs over which timing errors and latency are computed.
TIMING_TOLERANCE_MS: int = 100
#: Tolerance (ms) at which the missed and false ICs of a recording are listed (the headline F1's).
MISS_TOLERANCE_MS: int = 50
#: Expected ``direction`` value per segment label; other labels are not scored.
DIRECTION_EXPECTED: dict[str, int] = {"forward": 1, "backward": -1, "sideways": -1}
#: Slack added to the tolerance for floating-point rounding, s.
_EPS = 1e-9

#: Columns of the Markdown summary table: (key, header).
_MD_COLUMNS: list[tuple[str, str]] = [
    ("n_recordings", "rec"),
    ("n_ref_ic", "ref IC"),
    ("n_detected", "det"),
    ("f1_30", "F1@30"),
    ("f1_50", "F1@50"),
    ("f1_100", "F1@100"),
    ("precision_50", "P@50"),
    ("recall_50", "R@50"),
    ("ic_err_median_ms", "IC med ms"),
    ("ic_err_p95_ms", "IC p95 ms"),
    ("fc_err_median_ms", "FC med ms"),
    ("fc_err_p95_ms", "FC p95 ms"),
    ("latency_median_ms", "lat med ms"),
    ("latency_p95_ms", "lat p95 ms"),
    ("step_count_err_pct", "count err %"),
    ("dir_forward_acc", "fwd acc"),
    ("dir_backward_acc", "bwd acc"),
    ("dir_sideways_acc", "side acc"),
]


# --------------------------------------------------------------------------------------------- matching
def match_events(ref: np.ndarray, det: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected to reference event times (rule in the module docstring).

    ref: (R,) s; det: (D,) s (NaN entries never match); tol: s, > 0.
    Returns ``(ref_idx, det_idx)``: int arrays of equal length, the matched pairs, sorted by ``ref_idx``.
    """
    from scipy.optimize import linear_sum_assignment

    ref = _as_times(ref, "ref")
    det = _as_times(det, "det")
    if not (isinstance(tol, int | float | np.floating | np.integer) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number of seconds, got {tol!r}")
    ri = np.flatnonzero(np.isfinite(ref))
    di = np.flatnonzero(np.isfinite(det))
    if ri.size == 0 or di.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lim = tol + _EPS
    # Split into independent clusters: sorted union of all times, cut where neighbours are > tol apart.
    times = np.concatenate([ref[ri], det[di]])
    is_det = np.concatenate([np.zeros(ri.size, bool), np.ones(di.size, bool)])
    idx = np.concatenate([ri, di])
    order = np.argsort(times, kind="stable")
    times, is_det, idx = times[order], is_det[order], idx[order]
    cuts = np.flatnonzero(np.diff(times) > lim) + 1
    out_r: list[np.ndarray] = []
    out_d: list[np.ndarray] = []
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, times.size], strict=True):
        cd = is_det[a:b]
        if cd.all() or not cd.any():
            continue
        r_idx, d_idx = idx[a:b][~cd], idx[a:b][cd]
        diff = np.abs(ref[r_idx][:, None] - det[d_idx][None, :])
        ok = diff <= lim
        big = (min(r_idx.size, d_idx.size) + 1) * lim + 1.0
        rows, cols = linear_sum_assignment(np.where(ok, diff, big))
        keep = ok[rows, cols]
        out_r.append(r_idx[rows[keep]])
        out_d.append(d_idx[cols[keep]])
    if not out_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    mr, md = np.concatenate(out_r).astype(np.int64), np.concatenate(out_d).astype(np.int64)
    o = np.argsort(mr, kind="stable")
    return mr[o], md[o]


def _as_times(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x if x is not None else [], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be event times in s (numbers), got {type(x).__name__}: {e}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of event times in s, got shape {a.shape}")
    if np.isinf(a).any():
        raise ValueError(f"{name} contains infinite event times")
    return a


def in_region(times: np.ndarray, region: tuple[float, float] | None, exclude: Sequence = ()) -> np.ndarray:
    """Boolean mask of ``times`` inside ``region`` (inclusive; None = everywhere) and outside ``exclude``."""
    times = np.asarray(times, dtype=np.float64)
    mask = np.isfinite(times)
    if region is not None:
        r0, r1 = _interval(region, "region")
        mask &= (times >= r0) & (times <= r1)
    for ex in exclude or ():
        e0, e1 = _interval(ex, "exclude")
        mask &= ~((times >= e0) & (times <= e1))
    return mask


def _interval(x: Any, name: str) -> tuple[float, float]:
    """(start_s, end_s) of a region/exclude entry; ValueError naming ``name`` unless two numbers, start <= end."""
    try:
        a, b = (float(v) for v in x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (start_s, end_s) with start <= end, got {x!r}") from None
    if not b >= a:
        raise ValueError(f"{name} must be (start_s, end_s) with start <= end, got {x!r}")
    return a, b


@dataclass
class MatchCounts:
    """Result of :func:`score_events`: counts and the scored pairs (times in s)."""

    tp: int
    fp: int
    fn: int
    ref_idx: np.ndarray  # scored pairs (reference inside the region)
    det_idx: np.ndarray
    errors: np.ndarray  # signed det - ref of the scored pairs, s
    missed: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the FN: unpaired references inside, s
    false: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the FP: unpaired detections inside, s

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _f1(self.tp, self.fp, self.fn)


def score_events(
    ref: np.ndarray,
    det: np.ndarray,
    tol: float,
    region: tuple[float, float] | None = None,
    exclude: Sequence = (),
) -> MatchCounts:
    """Match ``det`` to ``ref`` (s) at tolerance ``tol`` (s) and count TP/FP/FN inside ``region``.

    Implements rule 3 of the module docstring. ``exclude``: list of (start_s, end_s) not scored.
    """
    ref = _as_times(ref, "ref")
    det = _as_times(det, "det")
    mr, md = match_events(ref, det, tol)
    ref_in = in_region(ref, region, exclude)
    det_in = in_region(det, region, exclude)
    scored = ref_in[mr]
    tp = int(scored.sum())
    fn = int(ref_in.sum()) - tp
    det_paired = np.zeros(det.size, bool)
    det_paired[md] = True
    fp = int((det_in & ~det_paired).sum())
    sr, sd = mr[scored], md[scored]
    ref_paired = np.zeros(ref.size, bool)
    ref_paired[mr] = True
    return MatchCounts(tp, fp, fn, sr, sd, det[sd] - ref[sr],
                       missed=np.sort(ref[ref_in & ~ref_paired]), false=np.sort(det[det_in & ~det_paired]))


def _ratio(a: float, b: float) -> float | None:
    return float(a) / float(b) if b > 0 else None


def _f1(tp: int, fp: int, fn: int) -> float | None:
    d = 2 * tp + fp + fn
    return 2.0 * tp / d if d > 0 else None


def _ms_stats(x: np.ndarray, prefix: str, out: dict, absolute: bool = True) -> None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        out[f"{prefix}_median_ms"] = None
        out[f"{prefix}_p95_ms"] = None
        return
    v = np.abs(x) if absolute else x
    out[f"{prefix}_median_ms"] = float(np.median(v) * 1e3)
    out[f"{prefix}_p95_ms"] = float(np.percentile(v, 95) * 1e3)


# --------------------------------------------------------------------------------- per-recording scoring
@dataclass
class RecordingScore:
    """Scores of one recording: the JSON-ready ``metrics`` row and the raw arrays needed for pooling."""

    metrics: dict[str, Any]
    counts: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # tol_ms -> (tp, fp, fn)
    ic_err: np.ndarray = field(default_factory=lambda: np.zeros(0))  # signed, s
    fc_err: np.ndarray = field(default_factory=lambda: np.zeros(0))
    latency: np.ndarray = field(default_factory=lambda: np.zeros(0))
    direction: dict[str, tuple[int, int]] = field(default_factory=dict)  # label -> (n, n_correct)
    step_count: tuple[int, int] | None = None  # (n_detected, n_ref)


def _field(events: np.ndarray, name: str) -> np.ndarray | None:
    names = getattr(getattr(events, "dtype", None), "names", None) or ()
    return np.asarray(events[name], dtype=np.float64) if name in names else None


_REC_FIELDS = ("name", "dataset", "t", "placement", "ic", "region")


def score_recording(rec: Any, events: np.ndarray) -> RecordingScore:
    """Score detected stride rows against the ground truth of one recording.

    rec: a ``GaitRecording`` (fields name, dataset, t, placement, side, ic, fc, region, segments,
    n_contacts_ref, meta). events: structured array with at least ``t_ic`` (s); ``t_fc``, ``t_emit``,
    ``direction`` are used when present (e.g. :data:`imuwalk.core.rows.STRIDE_DTYPE`), or a
    :class:`~imuwalk.core.detector.DetectionResult` (its ``.events``).
    """
    missing = [k for k in _REC_FIELDS if not hasattr(rec, k)]
    if rec is None or missing:
        raise ValueError(f"rec: expected a GaitRecording (with fields {', '.join(_REC_FIELDS)}), got "
                         f"{type(rec).__name__}" + (f" lacking {missing}" if rec is not None else ""))
    if hasattr(events, "events") and not isinstance(events, np.ndarray):
        events = events.events  # a DetectionResult
    t_ic = _field(events, "t_ic")
    if t_ic is None:
        raise ValueError("events must be a structured array with a 't_ic' field (s) or a DetectionResult")
    t_fc = _field(events, "t_fc")
    t_emit = _field(events, "t_emit")
    direction = events["direction"] if "direction" in (events.dtype.names or ()) else None
    meta = getattr(rec, "meta", None) or {}
    exclude = meta.get("exclude", ()) or ()
    region = rec.region
    t = np.asarray(rec.t, dtype=np.float64)
    det_in = in_region(t_ic, region, exclude)
    m: dict[str, Any] = {
        "name": str(rec.name),
        "dataset": str(rec.dataset),
        "placement": str(rec.placement),
        "side": str(getattr(rec, "side", "unknown")),
        "n_samples": int(t.size),
        "duration_s": float(t[-1] - t[0]) if t.size else 0.0,
        "rate_hz": float(1.0 / np.median(np.diff(t))) if t.size > 1 else None,
        "n_detected": int(det_in.sum()),
    }
    sc = RecordingScore(metrics=m)
    ref_ic = None if rec.ic is None else _as_times(rec.ic, "rec.ic")
    m["n_ref_ic"] = None if ref_ic is None else int(in_region(ref_ic, region, exclude).sum())
    m["missed_ic_s"] = m["false_ic_s"] = None
    for tol in TOLERANCES_MS:
        if ref_ic is None:
            for k in ("tp", "fp", "fn", "precision", "recall", "f1"):
                m[f"{k}_{tol}"] = None
            continue
        c = score_events(ref_ic, t_ic, tol / 1e3, region, exclude)
        sc.counts[tol] = (c.tp, c.fp, c.fn)
        if tol == MISS_TOLERANCE_MS:
            m["missed_ic_s"], m["false_ic_s"] = c.missed.tolist(), c.false.tolist()
        m[f"tp_{tol}"], m[f"fp_{tol}"], m[f"fn_{tol}"] = c.tp, c.fp, c.fn
        m[f"precision_{tol}"], m[f"recall_{tol}"], m[f"f1_{tol}"] = c.precision, c.recall, c.f1
        if tol == TIMING_TOLERANCE_MS:
            sc.ic_err = c.errors
            if t_emit is not None:
                sc.latency = t_emit[c.det_idx] - ref_ic[c.ref_idx]
    if ref_ic is not None and TIMING_TOLERANCE_MS not in TOLERANCES_MS:  # pragma: no cover - constant config
        sc.ic_err = score_events(ref_ic, t_ic, TIMING_TOLERANCE_MS / 1e3, region, exclude).errors
    if ref_ic is not None and MISS_TOLERANCE_MS not in TOLERANCES_MS:  # pragma: no cover - constant config
        c = score_events(ref_ic, t_ic, MISS_TOLERANCE_MS / 1e3, region, exclude)
        m["missed_ic_s"], m["false_ic_s"] = c.missed.tolist(), c.false.tolist()
    ref_fc = None if getattr(rec, "fc", None) is None else _as_times(rec.fc, "rec.fc")
    m["n_ref_fc"] = None if ref_fc is None else int(in_region(ref_fc, region, exclude).sum())
    if ref_fc is not None and t_fc is not None:
        sc.fc_err = score_events(ref_fc, t_fc, TIMING_TOLERANCE_MS / 1e3, region, exclude).errors
    _timing_metrics(m, sc.ic_err, sc.fc_err, sc.latency, ref_ic is not None, ref_fc is not None)
    n_ref = getattr(rec, "n_contacts_ref", None)
    if n_ref is not None:
        sc.step_count = (m["n_detected"], int(n_ref))
    _step_metrics(m, sc.step_count)
    sc.direction = _direction_counts(t_ic, direction, getattr(rec, "segments", None) or ())
    _direction_metrics(m, sc.direction)
    return sc


def _timing_metrics(m: dict, ic_err, fc_err, latency, has_ic: bool, has_fc: bool) -> None:
    _ms_stats(ic_err, "ic_err", m)
    m["ic_bias_median_ms"] = float(np.median(ic_err) * 1e3) if len(ic_err) else None
    _ms_stats(fc_err, "fc_err", m)
    m["fc_bias_median_ms"] = float(np.median(fc_err) * 1e3) if len(fc_err) else None
    _ms_stats(latency, "latency", m, absolute=False)
    m["n_ic_pairs"] = int(len(ic_err)) if has_ic else None
    m["n_fc_pairs"] = int(len(fc_err)) if has_fc else None


def _step_metrics(m: dict, step: tuple[int, int] | None) -> None:
    if step is None:
        m["n_contacts_ref"] = m["step_count_err"] = m["step_count_err_pct"] = None
        return
    n_det, n_ref = step
    m["n_contacts_ref"] = n_ref
    m["step_count_err"] = n_det - n_ref
    m["step_count_err_pct"] = 100.0 * (n_det - n_ref) / n_ref if n_ref > 0 else None


def _direction_counts(t_ic: np.ndarray, direction, segments: Iterable) -> dict[str, tuple[int, int]]:
    out = {lab: (0, 0) for lab in DIRECTION_EXPECTED}
    if direction is None:
        return out
    direction = np.asarray(direction)
    for seg in segments:
        a, b, label = float(seg[0]), float(seg[1]), str(seg[2])
        want = DIRECTION_EXPECTED.get(label)
        if want is None:
            continue
        sel = (t_ic >= a) & (t_ic < b)
        n, ok = out[label]
        out[label] = (n + int(sel.sum()), ok + int((direction[sel] == want).sum()))
    return out


def _direction_metrics(m: dict, d: dict[str, tuple[int, int]]) -> None:
    for lab in DIRECTION_EXPECTED:
        n, ok = d.get(lab, (0, 0))
        m[f"dir_n_{lab}"] = n
        m[f"dir_{lab}_acc"] = ok / n if n else None


def pool(scores: Sequence[RecordingScore]) -> dict[str, Any]:
    """Micro-averaged metrics over several recordings (counts summed, errors concatenated)."""
    m: dict[str, Any] = {"n_recordings": len(scores)}
    m["n_detected"] = int(sum(s.metrics["n_detected"] for s in scores))
    refs = [s.metrics["n_ref_ic"] for s in scores if s.metrics.get("n_ref_ic") is not None]
    m["n_ref_ic"] = int(sum(refs)) if refs else None
    for tol in TOLERANCES_MS:
        cs = [s.counts[tol] for s in scores if tol in s.counts]
        if not cs:
            for k in ("tp", "fp", "fn", "precision", "recall", "f1"):
                m[f"{k}_{tol}"] = None
            continue
        tp, fp, fn = (int(sum(c[i] for c in cs)) for i in range(3))
        m[f"tp_{tol}"], m[f"fp_{tol}"], m[f"fn_{tol}"] = tp, fp, fn
        m[f"precision_{tol}"], m[f"recall_{tol}"], m[f"f1_{tol}"] = (
            _ratio(tp, tp + fp),
            _ratio(tp, tp + fn),
            _f1(tp, fp, fn),
        )
    cat = lambda name: np.concatenate([getattr(s, name) for s in scores]) if scores else np.zeros(0)  # noqa: E731
    has_fc = any(s.metrics.get("n_ref_fc") is not None for s in scores)
    _timing_metrics(m, cat("ic_err"), cat("fc_err"), cat("latency"), bool(refs), has_fc)
    steps = [s.step_count for s in scores if s.step_count is not None]
    _step_metrics(m, (sum(a for a, _ in steps), sum(b for _, b in steps)) if steps else None)
    if steps:
        m["step_count_abs_err_pct_mean"] = float(
            np.mean([100.0 * abs(a - b) / b for a, b in steps if b > 0])
        ) if any(b > 0 for _, b in steps) else None
    d: dict[str, tuple[int, int]] = {}
    for lab in DIRECTION_EXPECTED:
        d[lab] = (sum(s.direction.get(lab, (0, 0))[0] for s in scores),
                  sum(s.direction.get(lab, (0, 0))[1] for s in scores))
    _direction_metrics(m, d)
    return m


# ------------------------------------------------------------------------------------------------ report
@dataclass
class EvalReport:
    """Evaluation results: ``per_recording`` rows and ``pooled`` (per dataset name and ``"overall"``)."""

    per_recording: list[dict[str, Any]]
    pooled: dict[str, dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    scores: list[RecordingScore] = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        datasets = [k for k in self.pooled if k != "overall"]
        overall = self.pooled.get("overall", {})
        f1 = ", ".join(f"F1@{tol}={_fmt(overall.get(f'f1_{tol}'))}" for tol in TOLERANCES_MS)
        return (f"EvalReport(datasets={datasets}, n_recordings={len(self.per_recording)}, pooled: {f1}, "
                f"n_ref_ic={overall.get('n_ref_ic')}, n_detected={overall.get('n_detected')})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready document: settings, pooled, per_recording (NaN as None)."""
        return _clean({
            "settings": self.settings,
            "matching": _MATCHING_SUMMARY,
            "pooled": self.pooled,
            "per_recording": self.per_recording,
        })

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` document as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, path: Any = None) -> str:
        """CSV text: one row per recording (scope ``recording``), per dataset and overall (``pooled``).

        Writes to ``path`` too when given. Empty cells = not applicable.
        """
        rows = []
        for r in self.per_recording:
            rows.append({"scope": "recording", **r})
        for key, p in self.pooled.items():
            rows.append({"scope": "pooled", "name": key, "dataset": key, **p})
        cols: list[str] = []
        for r in rows:
            cols.extend(k for k in r if k not in cols)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_cell(r.get(k)) for k in cols})
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        return text

    def to_markdown(self, per_recording: bool = True, misses: bool = False) -> str:
        """Markdown tables: pooled (per dataset + overall), then per recording; with ``misses`` a last
        table of the missed reference ICs and false detections (s, at 50 ms) of every recording that has any."""
        lines = ["| dataset | " + " | ".join(h for _, h in _MD_COLUMNS) + " |",
                 "|---|" + "---:|" * len(_MD_COLUMNS)]
        for key, p in self.pooled.items():
            name = f"**{key}**" if key == "overall" else key
            lines.append(f"| {name} | " + " | ".join(_fmt(p.get(k), k) for k, _ in _MD_COLUMNS) + " |")
        if per_recording and self.per_recording:
            cols = [c for c in _MD_COLUMNS if c[0] != "n_recordings"]
            lines += ["", "| recording | " + " | ".join(h for _, h in cols) + " |",
                      "|---|" + "---:|" * len(cols)]
            for r in self.per_recording:
                lines.append(f"| {r['name']} | " + " | ".join(_fmt(r.get(k), k) for k, _ in cols) + " |")
        if misses:
            lines += ["", f"Missed reference ICs and false detections at {MISS_TOLERANCE_MS} ms (s):", "",
                      "| recording | missed IC | false IC |", "|---|---|---|"]
            listed = [r for r in self.per_recording if r.get("missed_ic_s") or r.get("false_ic_s")]
            for r in listed:
                missed, false = (_times(r.get(k)) or "–" for k in ("missed_ic_s", "false_ic_s"))
                lines.append(f"| {r['name']} | {missed} | {false} |")
            if not listed:
                lines.append("| (none) | – | – |")
        return "\n".join(lines) + "\n"


_MATCHING_SUMMARY = (
    "one-to-one optimal assignment (max pairs, then min sum |dt|) of detected to reference times within the "
    "tolerance; TP = pair with reference inside the annotated region, FN = unpaired reference inside, "
    "FP = unpaired detection inside; timing errors/latency over IC/FC pairs at "
    f"{TIMING_TOLERANCE_MS} ms; pooled = micro-average"
)


def _fmt(v: Any, key: str = "") -> str:
    """One table cell, one format per column: ms and % with one decimal, other numbers (F1, fractions) three."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.1f}" if key.endswith(("_ms", "_pct")) else f"{v:.3f}"
    return str(v)


def _times(v: Any) -> str:
    """A list of times (s) as text at ms resolution, ``"5.830 13.980"`` (``""`` when empty or None)."""
    return " ".join(f"{x:.3f}" for x in v) if v else ""


def _csv_cell(v: Any) -> Any:
    """One CSV cell: None empty, a list of times space-separated (:func:`_times`)."""
    if v is None or isinstance(v, list | tuple):
        return _times(v)
    return v


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if x is None or isinstance(x, str | int | float | bool):
        return x
    if callable(getattr(x, "to_dict", None)):  # DetectorParams, Mount, ...
        return {"type": type(x).__name__, **_clean(x.to_dict())}
    return repr(x)  # anything else a user passed in detector_kwargs: recorded, never a JSON error


# ------------------------------------------------------------------------------------------- the runner
def _detect_and_score(rec: Any, detector_kwargs: dict, detector: Callable | None) -> RecordingScore:
    """Worker task: run the detector on one recording and score it (pure function of its inputs)."""
    if detector is None:
        from imuwalk.core.detector import detect_steps

        events = detect_steps(rec.t, rec.acc, rec.gyr, placement=rec.placement, **detector_kwargs).events
    else:
        events = detector(rec, **detector_kwargs)
        events = getattr(events, "events", events)
    return score_recording(rec, events)


def _load_recordings(datasets: Any) -> list[Any]:
    if isinstance(datasets, str):
        datasets = [datasets]
    if datasets is None:
        raise ValueError("datasets must be a dataset name, a list of names or of GaitRecording objects")
    recs: list[Any] = []
    for item in datasets:
        if isinstance(item, str):
            from imuwalk import datasets as ds

            recs.extend(ds.load(item))
        elif hasattr(item, "t") and hasattr(item, "ic"):
            recs.append(item)
        else:
            raise ValueError(
                f"datasets: expected dataset names or GaitRecording objects, got {type(item).__name__}"
            )
    if not recs:
        raise ValueError("datasets: no recordings to evaluate")
    return recs


class Evaluation:
    """Evaluate a stride detector on recordings (tpcp-style: params in ``__init__``, ``run`` sets results).

    detector_kwargs: passed to :func:`imuwalk.detect_steps` (``placement`` comes from each recording).
    detector: optional callable ``(rec, **detector_kwargs) -> stride array`` (or object with ``.events``)
    replacing imuwalk's detector (for baselines). Must be picklable for process-based Dask workers.
    workers: start a Dask ``LocalCluster`` with this many worker processes (extra ``imuwalk[dask]``).
    scheduler: address of an existing Dask scheduler (``tcp://host:8786``) or a ``distributed.Client``.
    progress: show a rich progress bar on stderr (None: when stderr is a terminal and rich is installed).
    Results: ``report_`` (:class:`EvalReport`).
    """

    def __init__(
        self,
        detector_kwargs: dict | None = None,
        detector: Callable | None = None,
        workers: int | None = None,
        scheduler: Any = None,
        progress: bool | None = None,
        processes: bool = True,
    ) -> None:
        self.detector_kwargs = detector_kwargs
        self.detector = detector
        self.workers = workers
        self.scheduler = scheduler
        self.progress = progress
        self.processes = processes

    def run(self, datasets: Any) -> Evaluation:
        """Evaluate ``datasets`` (name, list of names, or list of GaitRecording); sets ``report_``."""
        kwargs = dict(self.detector_kwargs or {})
        if "placement" in kwargs:
            raise ValueError("detector_kwargs must not contain 'placement' (it comes from each recording)")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise ValueError(f"workers must be a positive int, got {self.workers!r}")
        if self.workers is not None and self.scheduler is not None:
            raise ValueError("give either workers (local cluster) or scheduler (existing cluster), not both")
        recs = _load_recordings(datasets)
        if self.workers is None and self.scheduler is None:
            scores = self._run_local(recs, kwargs)
        else:
            scores = self._run_dask(recs, kwargs)
        per = [s.metrics for s in scores]
        pooled: dict[str, dict[str, Any]] = {}
        for name in dict.fromkeys(s.metrics["dataset"] for s in scores):
            pooled[name] = pool([s for s in scores if s.metrics["dataset"] == name])
        pooled["overall"] = pool(scores)
        import imuwalk

        settings = {
            "imuwalk_version": imuwalk.__version__,
            "detector": "imuwalk.detect_steps" if self.detector is None else _callable_name(self.detector),
            "detector_kwargs": kwargs,
            "tolerances_ms": list(TOLERANCES_MS),
            "timing_tolerance_ms": TIMING_TOLERANCE_MS,
            "miss_tolerance_ms": MISS_TOLERANCE_MS,
            "direction_expected": dict(DIRECTION_EXPECTED),
        }
        self.report_ = EvalReport(per_recording=per, pooled=pooled, settings=settings, scores=scores)
        return self

    def _progress(self, total: int):
        show = self.progress
        if show is None:
            show = sys.stderr.isatty() and total > 1
        if not show:
            return None
        try:
            from rich.console import Console
            from rich.progress import Progress
        except ImportError:
            return None
        return Progress(transient=True, console=Console(stderr=True))

    def _run_local(self, recs: list, kwargs: dict) -> list[RecordingScore]:
        prog = self._progress(len(recs))
        out = []
        if prog is None:
            return [_detect_and_score(r, kwargs, self.detector) for r in recs]
        with prog:
            task = prog.add_task("evaluating", total=len(recs))
            for r in recs:
                out.append(_detect_and_score(r, kwargs, self.detector))
                prog.advance(task)
        return out

    def _run_dask(self, recs: list, kwargs: dict) -> list[RecordingScore]:
        distributed = require("distributed", "Dask scale-out")
        Client, LocalCluster, as_completed = distributed.Client, distributed.LocalCluster, distributed.as_completed
        cluster = None
        own_client = True
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            client, own_client = self.scheduler, False
        elif self.scheduler is not None:
            client = Client(self.scheduler)
        else:
            cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=self.processes,
                dashboard_address=None,
            )
            client = Client(cluster)
        try:
            futs = [client.submit(_detect_and_score, r, kwargs, self.detector, pure=False) for r in recs]
            index = {f.key: i for i, f in enumerate(futs)}
            results: list[RecordingScore | None] = [None] * len(futs)
            prog = self._progress(len(recs))
            if prog is None:
                for i, res in enumerate(client.gather(futs)):
                    results[i] = res
            else:
                with prog:
                    task = prog.add_task("evaluating (dask)", total=len(recs))
                    for fut in as_completed(futs):
                        results[index[fut.key]] = fut.result()
                        prog.advance(task)
            return [r for r in results if r is not None]
        finally:
            if own_client:
                client.close()
            if cluster is not None:
                cluster.close()


def _callable_name(f: Callable) -> str:
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"


def evaluate(
    datasets: Any,
    detector_kwargs: dict | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    *,
    detector: Callable | None = None,
    progress: bool | None = None,
    processes: bool = True,
) -> EvalReport:
    """Evaluate the stride detector on datasets (names, e.g. ``"ipol"``) or ``GaitRecording`` objects.

    Returns an :class:`EvalReport`: ``.per_recording`` (list of metric dicts), ``.pooled`` (per dataset and
    ``"overall"``), ``.to_json()``, ``.to_csv()``, ``.to_markdown()``. ``workers=N`` runs on a local Dask
    cluster, ``scheduler=ADDRESS`` on an existing one; results equal the single-process run.
    See :class:`Evaluation` for the other arguments and the module docstring for the matching rule.
    """
    return Evaluation(
        detector_kwargs=detector_kwargs, detector=detector, workers=workers, scheduler=scheduler,
        progress=progress, processes=processes,
    ).run(datasets).report_
