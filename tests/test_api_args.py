"""Argument handling of the public Python API: clear ValueErrors naming the argument, DetectionResult
accepted wherever stride rows are, DetectorParams objects passed whole, concise reprs, offline fetch."""

from __future__ import annotations

import copy
import json
from functools import cache

import numpy as np
import pytest

from imuwalk import datasets as D
from imuwalk.core.detector import DetectionResult, DetectorParams, StepDetector, detect_steps
from imuwalk.core.direction import Mount, MountStore, calibrate_mount
from imuwalk.core.rows import STRIDE_DTYPE
from imuwalk.core.summary import SummaryTracker
from imuwalk.datasets._recording import GaitRecording
from imuwalk.evaluate import EvalReport, evaluate, score_recording
from imuwalk.sources.gaitgen import generate_walk


@cache
def _walk():
    return generate_walk(rate_hz=100.0, placement="shank", segments=[(1.0, "still"), (8.0, "forward")], seed=2)


@cache
def _result() -> DetectionResult:
    w = _walk()
    return detect_steps(w.t, w.acc, w.gyr, placement="shank", mount=Mount("+y"))


# ------------------------------------------------------------------------------------------ Mount
def test_mount_equality_compares_fields():
    assert Mount("-y") == Mount("-y")
    assert Mount("-y") == Mount([0, -2, 0])  # same axis, normalized
    assert Mount("-y") != Mount("+y")
    assert Mount("-y", side="left") != Mount("-y", side="right")
    assert Mount("+x", n_strides=3) != Mount("+x", n_strides=4)
    assert Mount("-y") != "-y"
    m = Mount("+z", side="left", source="calibration", n_strides=5)
    assert Mount.from_dict(m.to_dict()) == m


@pytest.mark.parametrize("spec", ["--y", "+-y", "-+x", "yy", "x y", "+", "", "right"])
def test_mount_rejects_malformed_axis_strings(spec):
    with pytest.raises(ValueError, match=r"mount axis.*\+x,-x,\+y,-y,\+z,-z"):
        Mount(spec)


@pytest.mark.parametrize("spec,vec", [("y", [0, 1, 0]), ("+Y ", [0, 1, 0]), ("-x", [-1, 0, 0]), (" -Z", [0, 0, -1])])
def test_mount_accepts_well_formed_axis_strings(spec, vec):
    np.testing.assert_array_equal(Mount(spec).right_vec, vec)


@pytest.mark.parametrize("d", [{}, {"side": "left"}, "x", None, [1, 2], {"right": "-y", "n_strides": "many"}])
def test_mount_from_dict_bad_input(d):
    with pytest.raises(ValueError, match="from_dict"):
        Mount.from_dict(d)


# ------------------------------------------------------------------------------------------ calibrate_mount
def test_calibrate_mount_accepts_list_and_detection_result():
    m = calibrate_mount([[0, 1, 0]] * 3)
    np.testing.assert_allclose(m.right_vec, [0, 1, 0])
    res = _result()
    assert len(res) >= 3
    assert calibrate_mount(res) == calibrate_mount(res.events)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_calibrate_mount_min_strides_checked(bad):
    with pytest.raises(ValueError, match="min_strides"):
        calibrate_mount(np.zeros((0, 3)), min_strides=bad)


@pytest.mark.parametrize("bad", [np.ones((4, 2)), None, "abc", np.zeros(4, [("t_ic", "f8")])])
def test_calibrate_mount_bad_events(bad):
    with pytest.raises(ValueError, match="events"):
        calibrate_mount(bad)


def test_calibrate_mount_no_usable_strides():
    with pytest.raises(ValueError, match="at least 1"):
        calibrate_mount(np.zeros((0, 3)), min_strides=1)
    with pytest.raises(ValueError, match="at least 3"):
        calibrate_mount(np.full((4, 3), np.nan))


# ------------------------------------------------------------------------------------------ MountStore
def test_mount_store_put_accepts_dict_and_checks_arguments(tmp_path):
    store = MountStore(tmp_path / "mounts.json")
    store.put("d", {"right": "+x"})
    assert store.get("d") == Mount("+x")
    for bad_id in (None, "", "  ", 3):
        with pytest.raises(ValueError, match="device_id"):
            store.put(bad_id, Mount("+x"))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="device_id"):
            store.get(bad_id)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mount"):
        store.put("e", "+x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from_dict"):
        store.put("e", {"side": "left"})
    assert store.devices() == ["d"]  # nothing stored by the failed calls
    with pytest.raises(ValueError, match="path"):
        MountStore(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("entry", ['"hello"', '{"right": "sideways"}', "{}", '{"right": [1, 2]}', "[1, 2, 3]"])
def test_mount_store_malformed_entry_names_file_and_device(tmp_path, entry):
    path = tmp_path / "mounts.json"
    path.write_text('{"dev": ' + entry + ', "ok": {"right": "-y"}}')
    store = MountStore(path)
    with pytest.raises(ValueError, match=r"mounts\.json.*'dev'"):
        store.get("dev")
    assert store.get("ok") == Mount("-y")
    assert store.get("missing") is None


# ------------------------------------------------------------------------------------------ DetectorParams
@pytest.mark.parametrize("kw,name", [({"gap_s": -1}, "gap_s"), ({"metric": "x"}, "metric"),
                                     ({"ic_mode": "nope"}, "ic_mode"), ({"hyst_rads": 0}, "hyst_rads"),
                                     ({"min_stride_s": float("nan")}, "min_stride_s"),
                                     ({"fc_weight": "0.2"}, "fc_weight"), ({"metric": 1}, "metric")])
def test_detector_params_validated_on_construction(kw, name):
    with pytest.raises(ValueError, match=name):
        DetectorParams(**kw)


def test_detector_params_for_placement_still_works():
    assert DetectorParams.for_placement("foot").metric == "width"
    assert DetectorParams.for_placement("shank", gap_s=0.5).gap_s == 0.5
    with pytest.raises(ValueError, match="gap_s"):
        DetectorParams.for_placement("shank", gap_s=-1)


def test_detector_params_object_passed_whole():
    w = _walk()
    base = _result()
    p = DetectorParams.for_placement("shank")
    res = detect_steps(w.t, w.acc, w.gyr, placement="shank", mount=Mount("+y"), params=p)
    assert res.params == p
    assert res.events.tobytes() == base.events.tobytes()
    # a DetectorParams object is used as it is, whatever the placement's defaults
    foot = DetectorParams.for_placement("foot")
    det = StepDetector("shank", params=foot)
    assert det.params_ == foot
    assert det.reset().params_ == foot
    # a different object gives its own result: the parameters are really used
    strict = DetectorParams.for_placement("shank", min_swing_peak_rads=50.0)
    assert len(detect_steps(w.t, w.acc, w.gyr, params=strict)) == 0
    # streaming equals batch with the object too
    s = StepDetector("shank", mount=Mount("+y"), params=p)
    s.update(w.t, w.acc, w.gyr)
    s.finish()
    assert s.events_.tobytes() == base.events.tobytes()


def test_detector_params_object_and_overrides_are_exclusive():
    w = _walk()
    with pytest.raises(ValueError, match="params.*not both"):
        StepDetector(params=DetectorParams(), gap_s=0.5)
    with pytest.raises(ValueError, match="params.*not both"):
        detect_steps(w.t, w.acc, w.gyr, params=DetectorParams(), gap_s=0.5)
    with pytest.raises(ValueError, match="params: expected an imuwalk.DetectorParams"):
        StepDetector(params={"gap_s": 0.5})  # type: ignore[arg-type]
    assert StepDetector(params=None, gap_s=0.5).params_.gap_s == 0.5  # keyword overrides unchanged


# ------------------------------------------------------------------------------------------ evaluate
def _rec_and_rows():
    w = _walk()
    res = _result()
    rec = GaitRecording(name="synthetic/1", dataset="synthetic", t=w.t, acc=w.acc, gyr=w.gyr, placement="shank",
                        side="left", ic=np.asarray(w.ic, float), fc=None, region=None, segments=[],
                        n_contacts_ref=None, meta={})
    return rec, res


def test_score_recording_accepts_detection_result():
    rec, res = _rec_and_rows()
    a = score_recording(rec, res)
    b = score_recording(rec, res.events)
    assert a.metrics == b.metrics
    assert a.metrics["n_detected"] == len(res)


@pytest.mark.parametrize("bad", [None, "rec", np.zeros(3), object()])
def test_score_recording_bad_rec(bad):
    with pytest.raises(ValueError, match="rec"):
        score_recording(bad, np.zeros(0, STRIDE_DTYPE))


# ------------------------------------------------------------------------------------------ reprs
def test_reprs_are_one_line_summaries():
    w = _walk()
    res = _result()
    r = repr(res)
    assert "\n" not in r and "array(" not in r and len(r) < 300, r
    for part in ("placement='shank'", f"n_strides={len(res)}", f"n_samples={res.n_samples}", "n_nan_skipped=0"):
        assert part in r, r

    det = StepDetector("foot")
    assert repr(det) == ("StepDetector(placement='foot', mount=auto, n_samples=0, n_strides=0, "
                         "n_nan_skipped=0)")
    det = StepDetector("shank", mount=Mount("+y"))
    det.update(w.t, w.acc, w.gyr)
    det.finish()
    r = repr(det)
    assert f"n_samples={w.t.size}" in r and f"n_strides={len(det.events_)}" in r and "finished" in r, r
    assert "mount=[0.0, 1.0, 0.0]" in r, r

    tr = SummaryTracker().add(res)
    r = repr(tr)
    assert r.startswith("SummaryTracker(") and f"strides={len(res)}" in r and "\n" not in r, r

    rec, _ = _rec_and_rows()
    rep = evaluate([rec])
    assert isinstance(rep, EvalReport)
    r = repr(rep)
    assert "\n" not in r and len(r) < 300 and "per_recording" not in r, r
    assert "datasets=['synthetic']" in r and "n_recordings=1" in r, r
    assert f"F1@50={rep.pooled['overall']['f1_50']:.3f}" in r, r


# ------------------------------------------------------------------------------------------ fetch offline
def test_fetch_offline_clear_error_and_no_empty_folder(tmp_path, monkeypatch):
    pytest.importorskip("pooch", reason="fetch() downloads with pooch (pip install 'imuwalk[data]')")
    name = "gaitmap"
    entry = copy.deepcopy(D._entry(name))
    urls = [f for f in entry["files"] if f.get("url")]
    assert urls
    for f in urls:
        f["url"] = f"http://127.0.0.1:9/{f['path']}"  # discard port: nothing listens, no network needed
    real_entry = D._entry
    monkeypatch.setattr(D, "_entry", lambda n: entry if n == name else real_entry(n))
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("IMUWALK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("IMUWALK_CACHE", str(tmp_path / "cache"))
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")

    with pytest.raises(OSError) as info:
        D.fetch(name)
    assert isinstance(info.value, ConnectionError)
    msg = str(info.value)
    assert "\n" not in msg
    for part in (repr(name), urls[0]["url"], "IMUWALK_DATA", entry["local_dir"]):
        assert part in msg, msg
    assert not (tmp_path / "cache").exists(), sorted(map(str, (tmp_path / "cache").rglob("*")))

    # an existing cache folder survives; only what this fetch created (and left empty) goes
    (tmp_path / "cache" / "data" / "other").mkdir(parents=True)
    (tmp_path / "cache" / "data" / "other" / "keep.txt").write_text("x")
    with pytest.raises(ConnectionError):
        D.fetch(name)
    assert sorted(p.name for p in (tmp_path / "cache" / "data").iterdir()) == ["other"]
    assert json.loads(json.dumps(D.list_datasets()))  # manifest untouched


@pytest.mark.parametrize(("kw", "field"), [({"source": ""}, "source"), ({"source": 3}, "source"),
                                           ({"n_strides": -3}, "n_strides"), ({"n_strides": 2.5}, "n_strides"),
                                           ({"n_strides": True}, "n_strides")])
def test_mount_source_and_n_strides_are_checked(kw, field):
    with pytest.raises(ValueError, match=rf"^Mount\.{field}: "):
        Mount("-y", **kw)
    assert Mount("-y", source="calibration", n_strides=np.int64(5)).n_strides == 5


def test_match_events_names_non_numeric_times():
    from imuwalk.evaluate import match_events

    with pytest.raises(ValueError, match=r"^ref must be event times in s \(numbers\)"):
        match_events(["a"], [1.0], 0.05)
    with pytest.raises(ValueError, match=r"^det must be event times"):
        match_events([1.0], [object()], 0.05)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: detect_steps([0.0, 0.01, 0.02], [[1, 2, 3], [1, 2], [1, 2, 3]], np.zeros((3, 3))),
     r"^acc: not a regular array"),
    (lambda: SummaryTracker(goal_minutes=None), r"^goal_minutes must be a positive number"),
    (lambda: __import__("imuwalk").summarize(np.zeros(0, STRIDE_DTYPE), goal_minutes="ten"), r"^goal_minutes"),
    (lambda: __import__("imuwalk.evaluate").evaluate.score_events(np.ones(1), np.ones(1), 0.1, region=(0,)),
     r"^region must be \(start_s, end_s\)"),
    (lambda: __import__("imuwalk.evaluate").evaluate.score_events(np.ones(1), np.ones(1), 0.1, exclude=[1.0]),
     r"^exclude must be \(start_s, end_s\)"),
    (lambda: __import__("imuwalk").warm_up(on_slow=5), r"^on_slow: expected a callable"),
    (lambda: __import__("imuwalk").warm_up(slow_after_s=-1), r"^slow_after_s"),
    (lambda: __import__("imuwalk.units").units.g_to_ms2(None), r"^acc_g: expected numbers"),
    (lambda: __import__("imuwalk.units").units.dps_to_rads("90"), r"^gyr_dps: expected numbers"),
    (lambda: __import__("imuwalk.units").units.axis_map_matrix("+-x,y,z"), r"'\+-x' .* is not an axis"),
    (lambda: __import__("imuwalk.units").units.axis_map_matrix("--x,y,z"), r"'--x' .* is not an axis"),
    (lambda: __import__("imuwalk.units").units.axis_map_matrix([[1, 0, 0], [0, 1]]), r"^axis_map: expected numbers"),
])
def test_small_api_mistakes_are_value_errors_naming_the_argument(call, match):
    """Mistakes that once gave a TypeError/IndexError, a traceback from a timer thread, a silent NaN or a
    malformed axis taken as another (review of session 9)."""
    with pytest.raises(ValueError, match=match):
        call()


def test_replay_source_takes_numpy_numbers(tmp_path):
    from imuwalk.sinks.hdf5 import Recorder
    from imuwalk.sources.block import SampleBlock
    from imuwalk.sources.replay import ReplaySource

    w = _walk()
    p = tmp_path / "w.h5"
    with Recorder(p, raw_log=False) as rec:
        rec.write_block(SampleBlock(w.t, w.acc, w.gyr))
    src = ReplaySource(p, block_s=np.float32(0.05), speed=np.int64(2))
    assert sum(len(b) for b in src) == len(w.t)
    with pytest.raises(ValueError, match="block_s must be in"):
        ReplaySource(p, block_s=True)
