"""imuwalk.evaluate: one-to-one matching, region rule, metrics, pooling, report formats, Dask, CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json

import numpy as np
import pytest

from imuwalk.core.rows import STRIDE_DTYPE
from imuwalk.datasets._recording import GaitRecording
from imuwalk.evaluate import (
    EvalReport,
    Evaluation,
    evaluate,
    in_region,
    match_events,
    pool,
    score_events,
    score_recording,
)


def rows(t_ic, t_fc=None, t_emit=None, direction=None) -> np.ndarray:
    """Hand-made stride rows (only the fields evaluation reads are filled)."""
    t_ic = np.asarray(t_ic, float)
    r = np.zeros(t_ic.size, STRIDE_DTYPE)
    r["t_ic"] = t_ic
    r["t_fc"] = np.nan if t_fc is None else t_fc
    r["t_emit"] = t_ic + 0.1 if t_emit is None else t_emit
    r["direction"] = 0 if direction is None else direction
    return r


def recording(name="a/1", dataset="a", ic=None, fc=None, region=None, segments=(), n_ref=None, dur=20.0,
              events=None, meta=None) -> GaitRecording:
    t = np.arange(0, dur, 0.01)
    m = dict(meta or {})
    if events is not None:
        m["events"] = events
    return GaitRecording(
        name=name, dataset=dataset, t=t, acc=np.zeros((t.size, 3)), gyr=np.zeros((t.size, 3)),
        placement="foot", side="left", ic=None if ic is None else np.asarray(ic, float),
        fc=None if fc is None else np.asarray(fc, float), region=region, segments=list(segments),
        n_contacts_ref=n_ref, meta=m,
    )


def replay_detector(rec: GaitRecording, **kwargs) -> np.ndarray:
    """A 'detector' that returns the stride rows stored with the recording (module level: picklable)."""
    return rec.meta["events"]


# ------------------------------------------------------------------------------------------- matching
def test_one_to_one_two_detections_near_one_reference():
    mr, md = match_events([1.0], [0.99, 1.02], 0.05)
    assert mr.tolist() == [0] and md.tolist() == [0]  # the closer one wins, the other stays unpaired
    c = score_events([1.0], [0.99, 1.02], 0.05)
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)


def test_matching_maximises_pairs_before_minimising_error():
    # greedy by smallest |dt| could pair ref 0.0 with det 0.04 and leave ref 0.08 alone
    mr, md = match_events([0.0, 0.08], [0.04, -0.04], 0.05)
    assert sorted(zip(mr.tolist(), md.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_tolerance_edges_inclusive():
    assert match_events([1.0], [1.05], 0.05)[0].size == 1
    assert match_events([1.0], [0.95], 0.05)[0].size == 1
    assert match_events([1.0], [1.0501], 0.05)[0].size == 0
    # the same pair at 30/50/100 ms
    d = [1.04]
    assert [match_events([1.0], d, tol)[0].size for tol in (0.03, 0.05, 0.1)] == [0, 1, 1]


def _brute_force(ref, det, tol):
    """Best (max pairs, then min total |dt|) over all one-to-one assignments."""
    best = (0, 0.0)
    n, m = len(ref), len(det)
    for k in range(min(n, m), 0, -1):
        for rs in itertools.combinations(range(n), k):
            for ds in itertools.permutations(range(m), k):
                errs = [abs(ref[i] - det[j]) for i, j in zip(rs, ds, strict=True)]
                if max(errs) <= tol + 1e-9:
                    cost = sum(errs)
                    if best[0] < k or (best[0] == k and cost < best[1]):
                        best = (k, cost)
        if best[0] == k:
            return best
    return best


def test_matching_is_optimal_against_brute_force():
    rng = np.random.default_rng(7)
    for _ in range(150):
        ref = np.sort(rng.uniform(0, 0.5, rng.integers(0, 5)))
        det = np.sort(rng.uniform(0, 0.5, rng.integers(0, 5)))
        mr, md = match_events(ref, det, 0.05)
        assert len(set(mr.tolist())) == mr.size and len(set(md.tolist())) == md.size
        assert np.all(np.abs(ref[mr] - det[md]) <= 0.05 + 1e-9)
        k, cost = _brute_force(ref.tolist(), det.tolist(), 0.05)
        assert mr.size == k
        assert np.abs(ref[mr] - det[md]).sum() == pytest.approx(cost, abs=1e-12)


def test_nan_detections_never_match_and_bad_input_raises():
    mr, md = match_events([1.0, 2.0], [np.nan, 2.01], 0.05)
    assert mr.tolist() == [1] and md.tolist() == [1]
    with pytest.raises(ValueError, match="tol"):
        match_events([1.0], [1.0], 0.0)
    with pytest.raises(ValueError, match="ref"):
        match_events(np.zeros((2, 2)), [1.0], 0.05)
    with pytest.raises(ValueError, match="det"):
        match_events([1.0], [np.inf], 0.05)
    with pytest.raises(ValueError, match="region"):
        in_region(np.array([1.0]), (2.0, 1.0))


def test_region_rule():
    # region [0.5, 9.9]: ref 10.0 outside, det 9.6 inside unpaired,
    # det 10.02 outside (paired with the outside ref)
    c = score_events([1, 2, 3, 10], [1.01, 2.2, 3.0, 9.6, 10.02], 0.05, region=(0.5, 9.9))
    assert (c.tp, c.fp, c.fn) == (2, 2, 1)
    assert c.errors.tolist() == pytest.approx([0.01, 0.0])
    # a detection just outside the region still claims a reference just inside: TP, not FN
    c = score_events([5.0], [5.03], 0.05, region=(0.0, 5.01))
    assert (c.tp, c.fp, c.fn) == (1, 0, 0)
    # a detection inside paired with a reference outside counts neither way
    c = score_events([5.03], [5.0], 0.05, region=(0.0, 5.01))
    assert (c.tp, c.fp, c.fn) == (0, 0, 0)
    # excluded interval: nothing inside it is scored
    c = score_events([1, 2, 3], [1.0, 2.5, 3.0], 0.05, region=(0, 10), exclude=[(2.0, 2.6)])
    assert (c.tp, c.fp, c.fn) == (2, 0, 0)


# -------------------------------------------------------------------------------------------- metrics
def test_score_recording_metrics_by_hand():
    ic = np.arange(2.0, 12.0, 1.0)  # 10 references in region [1, 15]
    fc = ic - 0.4
    err = np.array([0.0, 0.01, -0.02, 0.04, 0.06, 0.09, 0.0, 0.0, -0.025, 0.0])
    det_ic = np.r_[ic + err, 13.3, 0.2]  # + 1 FP inside, 1 detection outside the region (ignored)
    det_fc = np.r_[fc + 0.02, 12.9, -0.2]
    emit = det_ic + 0.12
    rec = recording(ic=ic, fc=fc, region=(1.0, 15.0))
    s = score_recording(rec, rows(det_ic, det_fc, emit))
    m = s.metrics
    assert m["n_ref_ic"] == 10 and m["n_detected"] == 11
    # 30 ms: |err| <= 0.03 -> 7 TP; 50 ms: 8; 100 ms: 10
    assert (m["tp_30"], m["fp_30"], m["fn_30"]) == (7, 4, 3)
    assert (m["tp_50"], m["fp_50"], m["fn_50"]) == (8, 3, 2)
    assert (m["tp_100"], m["fp_100"], m["fn_100"]) == (10, 1, 0)
    assert m["precision_50"] == pytest.approx(8 / 11)
    assert m["recall_50"] == pytest.approx(8 / 10)
    assert m["f1_50"] == pytest.approx(2 * 8 / (2 * 8 + 3 + 2))
    assert m["f1_100"] == pytest.approx(20 / 21)
    assert m["ic_err_median_ms"] == pytest.approx(np.median(np.abs(err)) * 1e3)
    assert m["ic_err_p95_ms"] == pytest.approx(np.percentile(np.abs(err), 95) * 1e3)
    assert m["ic_bias_median_ms"] == pytest.approx(np.median(err) * 1e3)
    assert m["fc_err_median_ms"] == pytest.approx(20.0)
    assert m["latency_median_ms"] == pytest.approx(np.median(err + 0.12) * 1e3)
    assert m["latency_p95_ms"] == pytest.approx(np.percentile(err + 0.12, 95) * 1e3)
    assert m["n_contacts_ref"] is None and m["step_count_err"] is None
    # the events behind fn_50 / fp_50: refs 6 and 7 (60 and 90 ms off) and their detections, plus 13.3;
    # the detection at 0.2 s lies outside the region and is not listed
    assert m["missed_ic_s"] == [6.0, 7.0]
    assert m["false_ic_s"] == pytest.approx([6.06, 7.09, 13.3])
    assert len(m["missed_ic_s"]) == m["fn_50"] and len(m["false_ic_s"]) == m["fp_50"]


def test_misses_in_the_table_csv_and_json():
    good = recording(name="a/good", ic=[1.0, 2.0], region=(0, 5))
    bad = recording(name="a/bad", ic=[1.0, 2.0, 3.0], region=(0, 5))
    rep = evaluate([good, bad], detector=lambda rec: rows([1.0, 2.0] if rec.name == "a/good" else [1.0, 2.2, 3.0]))
    md = rep.to_markdown(per_recording=False, misses=True)
    assert "| a/bad | 2.000 | 2.200 |" in md and "a/good" not in md
    assert "Missed reference ICs" not in rep.to_markdown()  # only on request
    table = {r["name"]: r for r in csv.DictReader(io.StringIO(rep.to_csv()))}
    assert table["a/bad"]["missed_ic_s"] == "2.000" and table["a/bad"]["false_ic_s"] == "2.200"
    assert table["a/good"]["missed_ic_s"] == "" and table["overall"]["missed_ic_s"] == ""
    doc = json.loads(rep.to_json())
    assert doc["per_recording"][1]["missed_ic_s"] == [2.0] and doc["per_recording"][0]["false_ic_s"] == []
    assert doc["settings"]["miss_tolerance_ms"] == 50
    clean = evaluate([good], detector=lambda rec: rows([1.0, 2.0])).to_markdown(per_recording=False, misses=True)
    assert "| (none) | – | – |" in clean


def test_no_ground_truth_gives_none_and_step_count():
    rec = recording(ic=None, n_ref=20)
    m = score_recording(rec, rows(np.arange(1.0, 20.0, 1.0))).metrics  # 19 detections
    assert m["f1_50"] is None and m["ic_err_median_ms"] is None and m["latency_p95_ms"] is None
    assert m["missed_ic_s"] is None and m["false_ic_s"] is None
    assert m["n_contacts_ref"] == 20 and m["step_count_err"] == -1
    assert m["step_count_err_pct"] == pytest.approx(-5.0)
    json.dumps(m, allow_nan=False)


def test_direction_scoring_per_segment():
    segs = [(0, 5, "forward"), (5, 6, "transition"), (6, 10, "backward"), (10, 12, "sideways"),
            (12, 13, "still")]
    t_ic = np.array([1, 2, 3, 4, 5.5, 6.5, 7.5, 8.5, 10.5, 11.5, 12.5])
    d = np.array([1, 1, 1, -1, 1, -1, -1, 1, -1, 0, 1], np.int8)
    m = score_recording(recording(segments=segs), rows(t_ic, direction=d)).metrics
    assert (m["dir_n_forward"], m["dir_forward_acc"]) == (4, pytest.approx(0.75))
    assert (m["dir_n_backward"], m["dir_backward_acc"]) == (3, pytest.approx(2 / 3))
    assert (m["dir_n_sideways"], m["dir_sideways_acc"]) == (2, pytest.approx(0.5))
    m = score_recording(recording(segments=[(0, 5, "still")]), rows(t_ic, direction=d)).metrics
    assert m["dir_forward_acc"] is None and m["dir_n_forward"] == 0


def test_pool_is_micro_average():
    a = score_recording(recording(ic=[1, 2, 3, 4], region=(0, 10)), rows([1.0, 2.0, 3.2]))
    b = score_recording(recording(ic=[1, 2], region=(0, 10)), rows([1.01, 2.01, 5.0, 6.0]))
    p = pool([a, b])
    assert (p["tp_50"], p["fp_50"], p["fn_50"]) == (4, 3, 2)
    assert p["f1_50"] == pytest.approx(8 / 13)
    # timing pairs at 100 ms: 1.0, 2.0 (3.2 is 200 ms off) and 1.01, 2.01
    assert p["ic_err_median_ms"] == pytest.approx(5.0)
    assert p["n_recordings"] == 2 and p["n_ref_ic"] == 6 and p["n_detected"] == 7


# ---------------------------------------------------------------------------------- evaluate + report
def _hand_recordings() -> list[GaitRecording]:
    out = []
    rng = np.random.default_rng(3)
    for i in range(6):
        ic = np.arange(1.0, 19.0, 1.1)
        det = ic + rng.normal(0, 0.03, ic.size)
        det = np.sort(np.r_[det[rng.random(ic.size) > 0.1], rng.uniform(1, 19, 2)])
        segs = [(0, 10, "forward"), (10, 20, "backward")]
        d = np.where(det < 10, 1, -1).astype(np.int8)
        d[rng.random(d.size) < 0.2] *= -1
        ds = "ab"[i % 2]
        out.append(recording(name=f"{ds}/{i}", dataset=ds, ic=ic, fc=ic - 0.4, region=(0.5, 19.5),
                             segments=segs, events=rows(det, det - 0.38, det + 0.1, d)))
    return out


def test_evaluate_report_formats():
    recs = _hand_recordings()
    rep = evaluate(recs, detector=replay_detector)
    assert isinstance(rep, EvalReport)
    assert [r["name"] for r in rep.per_recording] == [r.name for r in recs]
    assert list(rep.pooled) == ["a", "b", "overall"]
    assert rep.pooled["overall"]["tp_50"] == sum(r["tp_50"] for r in rep.per_recording)
    doc = json.loads(rep.to_json())
    assert set(doc) >= {"settings", "pooled", "per_recording", "matching"}
    assert doc["pooled"]["overall"]["f1_50"] == pytest.approx(rep.pooled["overall"]["f1_50"])
    for key in ("f1_30", "f1_50", "f1_100", "precision_50", "recall_50", "ic_err_median_ms",
                "ic_err_p95_ms", "fc_err_median_ms", "latency_median_ms", "latency_p95_ms",
                "dir_forward_acc", "dir_backward_acc"):
        assert key in doc["per_recording"][0] and key in doc["pooled"]["overall"]
    table = list(csv.DictReader(io.StringIO(rep.to_csv())))
    assert len(table) == len(recs) + 3
    assert [r["scope"] for r in table].count("pooled") == 3
    assert float(table[0]["f1_50"]) == pytest.approx(rep.per_recording[0]["f1_50"])
    md = rep.to_markdown()
    assert "| **overall** |" in md and "F1@50" in md and recs[0].name in md


def test_report_json_records_detector_objects():
    """detector_kwargs may hold objects (DetectorParams, arrays): the JSON report records them, never fails."""
    from imuwalk.core.detector import DetectorParams

    recs = _hand_recordings()
    params = DetectorParams.for_placement("foot", min_stride_s=0.5)
    rep = evaluate(recs, detector=replay_detector,
                   detector_kwargs={"params": params, "axis_map": np.eye(3), "note": object()})
    doc = json.loads(rep.to_json())
    kw = doc["settings"]["detector_kwargs"]
    assert kw["params"]["type"] == "DetectorParams" and kw["params"]["min_stride_s"] == 0.5
    assert kw["axis_map"] == np.eye(3).tolist()
    assert kw["note"].startswith("<object object")


def test_evaluate_rejects_bad_arguments():
    recs = _hand_recordings()
    with pytest.raises(ValueError, match="placement"):
        evaluate(recs, detector_kwargs={"placement": "foot"}, detector=replay_detector)
    with pytest.raises(ValueError, match="workers"):
        evaluate(recs, workers=0, detector=replay_detector)
    with pytest.raises(ValueError, match="datasets"):
        evaluate([1, 2])
    with pytest.raises(ValueError, match="'t_ic'"):
        score_recording(recs[0], np.zeros(3))


def test_dask_local_cluster_threads_equals_single_process():
    pytest.importorskip("distributed")
    recs = _hand_recordings()
    single = evaluate(recs, detector=replay_detector)
    ev = Evaluation(detector=replay_detector, workers=2, processes=False).run(recs)
    assert ev.report_.per_recording == single.per_recording
    assert ev.report_.pooled == single.pooled
    assert ev.report_.to_json() == single.to_json()


# --------------------------------------------------------------------- real detector, real data, CLI
@pytest.fixture(scope="module")
def gaitmap_recordings():
    from conftest import require_data

    require_data("gaitmap_example_foot")
    from imuwalk.datasets import load

    return load("gaitmap")


def test_dask_local_cluster_processes_equals_single_process(gaitmap_recordings):
    pytest.importorskip("distributed")
    pytest.importorskip("imuwalk.core.detector")
    single = evaluate(gaitmap_recordings, progress=False)
    dist = evaluate(gaitmap_recordings, workers=2, progress=False)  # worker processes
    assert dist.per_recording == single.per_recording
    assert dist.to_json() == single.to_json()
    assert single.pooled["overall"]["n_ref_ic"] > 0 and single.pooled["overall"]["f1_50"] is not None


def test_cli_evaluate_json_shape(gaitmap_recordings, capsys):
    from imuwalk.cli.main import main

    assert main(["evaluate", "gaitmap", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["pooled"]) == {"gaitmap", "overall"}
    assert [r["name"] for r in doc["per_recording"]] == [r.name for r in gaitmap_recordings]
    for key in ("f1_30", "f1_50", "f1_100", "precision_50", "recall_50", "ic_err_median_ms", "ic_err_p95_ms",
                "fc_err_median_ms", "fc_err_p95_ms", "latency_median_ms", "latency_p95_ms"):
        assert isinstance(doc["pooled"]["overall"][key], float), key
    assert doc["settings"]["tolerances_ms"] == [30, 50, 100]


def test_every_key_of_the_json_document_is_described_in_the_module_docstring(gaitmap_recordings, capsys):
    import re

    from conftest import require_data

    import imuwalk.evaluate as ev
    from imuwalk.cli.main import main

    require_data("ankle_mpu6050_fsr_steplog")  # its step count adds the step-count keys
    assert main(["evaluate", "gaitmap", "ankle_log", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    keys = set(doc) | set(doc["settings"]) | set(doc["per_recording"][0]) | set(doc["pooled"]["overall"])
    text = ev.__doc__
    for k in sorted(keys):
        generic = re.sub(r"_(30|50|100)$", "_*", re.sub(r"^dir_n_\w+$", "dir_n_*", k))
        spelled = re.sub(r"_(30|50|100)$", "_30/50/100", k)
        assert any(f"``{x}``" in text or f"(+ ``{x}``)" in text for x in (k, generic, spelled)), k


def test_cli_evaluate_csv_and_unknown_dataset(gaitmap_recordings, tmp_path, capsys):
    from imuwalk.cli.main import main

    out = tmp_path / "r.csv"
    assert main(["evaluate", "gaitmap", "--csv", str(out), "--no-progress"]) == 0
    assert "| **overall** |" in capsys.readouterr().out
    table = list(csv.DictReader(out.open()))
    assert [r["scope"] for r in table] == ["recording", "recording", "pooled", "pooled"]
    assert main(["evaluate", "no_such_dataset"]) == 2  # a usage error
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["evaluate", "gaitmap", "--misses", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Missed reference ICs and false detections at 50 ms (s):" in out
    assert main(["evaluate", "gaitmap", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for r in doc["per_recording"]:
        listed = [line for line in out.splitlines() if line.startswith(f"| {r['name']} |")]
        assert len(listed) == (1 if r["missed_ic_s"] or r["false_ic_s"] else 0), r["name"]
        assert len(r["missed_ic_s"]) == r["fn_50"] and len(r["false_ic_s"]) == r["fp_50"]
