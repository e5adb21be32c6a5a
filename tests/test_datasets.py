"""Public-dataset loaders and manifest: real files under IMUWALK_DATA (skipped when absent)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import require_data

from imuwalk import datasets as D
from imuwalk.cli.main import main
from imuwalk.datasets import _loaders as L

VALID_PLACEMENTS = {"foot", "shank", "ankle"}
VALID_SIDES = {"left", "right", "unknown"}
VALID_LABELS = {"forward", "backward", "sideways", "still", "transition"}


@pytest.fixture(scope="module")
def loaded():
    cache: dict[str, list] = {}

    def get(name):
        if name not in cache:
            require_data(D.manifest(name)["local_dir"])
            cache[name] = D.load(name)
        return cache[name]

    return get


# ------------------------------------------------------------------ manifest (no data needed)
def test_manifest_entries_complete():
    names = D.list_datasets()
    assert set(names) == set(L.LOADERS)
    for n in names:
        e = D.manifest(n)
        for key in ("description", "placement", "rate_hz", "licence", "source", "files", "local_dir"):
            assert key in e, (n, key)
        assert e["source"]["repo"].startswith("https://github.com/")
        assert len(e["source"]["commit"]) == 40
        for f in e["files"]:
            assert len(f["sha256"]) == 64 and f["size"] > 0
            if f["url"] is not None:
                assert f["url"].startswith("https://raw.githubusercontent.com/")
                assert e["source"]["commit"] in f["url"]


def test_unknown_name_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        D.load("nope")
    with pytest.raises(ValueError, match="name"):
        D.load(3)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="IMUWALK_DATA"):
        D.load("ipol", root=tmp_path)


def test_missing_data_env(tmp_path, monkeypatch):
    monkeypatch.setenv("IMUWALK_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("IMUWALK_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="IMUWALK_DATA"):
        D.load("gaitmap")


def test_manifest_hashes_match_local_copies():
    for n in D.list_datasets():
        e = D.manifest(n)
        folder = require_data(e["local_dir"])
        for f in e["files"]:
            p = folder / f["path"]
            assert p.stat().st_size == f["size"], p
            assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"], p


def test_fetch_prefers_local_copy():
    folder = require_data("gaitmap_example_foot")
    assert D.fetch("gaitmap") == folder


# ------------------------------------------------------------------ common form
@pytest.mark.parametrize("name", sorted(L.LOADERS))
def test_common_form(loaded, name):
    recs = loaded(name)
    assert recs
    names = [r.name for r in recs]
    assert len(set(names)) == len(names)
    for r in recs:
        assert r.dataset == name and r.name.startswith(name + "/")
        n = len(r.t)
        assert n > 100 and r.t.dtype == np.float64
        assert r.acc.shape == (n, 3) and r.gyr.shape == (n, 3)
        assert np.all(np.diff(r.t) > 0)
        assert np.isfinite(r.acc).all() and np.isfinite(r.gyr).all()
        assert r.placement in VALID_PLACEMENTS and r.side in VALID_SIDES
        # units: |acc| median ≈ 1 g (m/s², gravity included); gyro in rad/s (not deg/s)
        assert 8.0 < np.median(np.linalg.norm(r.acc, axis=1)) < 12.0, r.name
        p99 = np.percentile(np.abs(r.gyr), 99)
        assert 1.0 < p99 < 40.0, (r.name, p99)
        for a, b, lab in r.segments:
            assert a < b and lab in VALID_LABELS
        if r.ic is not None:
            assert r.region is not None and r.region[0] < r.region[1]
            assert np.all(np.diff(r.ic) > 0)
            assert np.all((r.ic >= r.region[0]) & (r.ic <= r.region[1]))
            assert r.t[0] - 1.0 <= r.region[0] and r.region[1] <= r.t[-1] + 1.0


@pytest.mark.parametrize("name", ["ipol", "gaitmap", "gaitmap_not_rotated", "marpino"])
def test_fc_precedes_ic_within_stride(loaded, name):
    """Each IC is preceded by a toe-off of the same foot 0.2–0.9 s earlier (the swing)."""
    for r in loaded(name):
        assert r.fc is not None
        swings = []
        for ic in r.ic:
            prev = r.fc[r.fc < ic]
            if len(prev):
                swings.append(ic - prev[-1])
        swings = np.asarray(swings)
        assert len(swings) >= len(r.ic) - 2, r.name
        assert np.median(swings) == pytest.approx(0.42, abs=0.15), r.name
        assert np.all(swings < 2.5), r.name


# ------------------------------------------------------------------ per dataset facts (from SOURCE.md)
SHARED_IPOL_TRIALS = {f"{s}-1" for s in range(1, 13)}  # the shared subset (further trials may sit beside it)
SHARED_MARPINO_WALKS = ("20180621_6", "20180713_1")


def test_ipol(loaded):
    recs = [r for r in loaded("ipol") if r.meta["trial"] in SHARED_IPOL_TRIALS]
    assert len(recs) == 24
    assert sum(len(r.ic) for r in recs if r.side == "left") == 210
    assert sum(len(r.ic) for r in recs if r.side == "right") == 209
    r = {x.name: x for x in recs}
    # 11-1 repeats counter 308 once: dropped; 7-1 left has packet gaps kept as real gaps
    dup = r["ipol/11-1/left"].meta["dropped_duplicates"] + r["ipol/11-1/right"].meta["dropped_duplicates"]
    assert dup >= 1
    t7 = r["ipol/7-1/left"].t
    assert t7[-1] == pytest.approx(38.82, abs=0.02) and len(t7) < 3500
    assert np.diff(t7).max() > 0.05
    # 1-1 GT from the JSON: first left footstep [527, 574] -> fc 5.27 s, ic 5.74 s
    a = r["ipol/1-1/left"]
    assert a.fc[0] == pytest.approx(5.27) and a.ic[0] == pytest.approx(5.74)
    assert a.region == pytest.approx((5.27 - 0.5, 24.17 + 0.5))
    # heel strike = impact: |acc| peak within 60 ms of most annotated ICs
    near = []
    for ic in a.ic:
        m = (a.t > ic - 0.1) & (a.t < ic + 0.1)
        k = np.argmax(np.linalg.norm(a.acc[m], axis=1))
        near.append(abs(a.t[m][k] - ic) < 0.06)
    assert np.mean(near) > 0.7


def test_ipol_exclusions_only_where_motion_unannotated(loaded):
    for r in loaded("ipol"):
        for a, b in r.meta["exclude"]:
            assert r.region[0] < a < b < r.region[1]
            m = (r.t > a) & (r.t < b)
            assert np.abs(r.gyr[m, 1]).max() > L.IPOL_GAP_GYR


def test_gaitmap_variants_consistent(loaded):
    rot = {r.side: r for r in loaded("gaitmap")}
    raw = {r.side: r for r in loaded("gaitmap_not_rotated")}
    for side in ("left", "right"):
        a, b = rot[side], raw[side]
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.ic, b.ic)
        # same signals in another frame: norms equal
        np.testing.assert_allclose(np.linalg.norm(a.acc, axis=1), np.linalg.norm(b.acc, axis=1), rtol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(a.gyr, axis=1), np.linalg.norm(b.gyr, axis=1), rtol=1e-9)
    assert len(rot["left"].fc) + len(rot["right"].fc) == 57
    assert 1 / np.median(np.diff(rot["left"].t)) == pytest.approx(204.8)
    ics = {r.side: r for r in loaded("gaitmap_ic_stride")}
    assert ics["left"].fc is None and len(ics["left"].ic) >= 5
    assert 1 / np.median(np.diff(ics["left"].t)) == pytest.approx(102.4)
    from imuwalk.evaluate import in_region

    for r in ics.values():  # annotated only inside the mocap volume: the walking between bursts is not scored
        ex = r.meta["exclude"]
        assert len(ex) == 3, ex  # 4 passes of 10 m
        assert in_region(r.ic, r.region, ex).all()
        bursts = np.split(r.ic, np.flatnonzero(np.diff(r.ic) > 1.5 * np.median(np.diff(r.ic))) + 1)
        assert len(bursts) == 4 and all(2 <= len(b) <= 4 for b in bursts)


def test_marpino(loaded):
    recs = [r for r in loaded("marpino") if r.meta["walk"] in SHARED_MARPINO_WALKS]
    assert len(recs) == 8
    by = {r.name: r for r in recs}
    for walk in ("20180621_6", "20180713_1"):
        for side in ("left", "right"):
            foot, shank = by[f"marpino/{walk}/{side}_foot"], by[f"marpino/{walk}/{side}_shank"]
            np.testing.assert_array_equal(foot.ic, shank.ic)  # shank uses the same side's foot pressure
            assert 3 <= len(foot.ic) <= 6
            assert abs(foot.t[0] - shank.t[0]) < 0.02
            assert foot.placement == "foot" and shank.placement == "shank"
            steps = np.diff(foot.ic)
            assert np.all((steps > 0.8) & (steps < 1.8)), (walk, side, steps)
    # left and right contacts alternate
    ic_r, ic_l = by["marpino/20180621_6/right_foot"].ic, by["marpino/20180621_6/left_foot"].ic
    both = np.sort(np.r_[ic_r, ic_l])
    assert np.all(np.diff(both) > 0.3)


def test_marpino_contact_rule_ignores_chatter():
    t = np.arange(0, 6, 0.01)
    toe = np.full_like(t, 800.0)
    heel = np.full_like(t, 900.0)
    # one swing 2.0–2.45 s: toe off at 2.0, heel down at 2.45; switch chatter at 4.0 (30 ms blip)
    toe[(t >= 2.0) & (t < 2.5)] = 0.0
    heel[(t >= 1.7) & (t < 2.45)] = 0.0
    toe[(t >= 4.0) & (t < 4.03)] = 0.0
    heel[(t >= 4.0) & (t < 4.03)] = 0.0
    ic, fc = L.marpino_contacts(t, toe, heel)
    assert len(ic) == 1 and ic[0] == pytest.approx(2.45, abs=0.011)
    assert len(fc) == 1 and fc[0] == pytest.approx(2.0, abs=0.011)


def test_marpino_contact_rule_tolerates_blank_cells():
    """A sheet whose pressure cells are blank (NaN) in places keeps its contacts (a NaN percentile once
    silently emptied them, and the loader then skipped the whole recording)."""
    t = np.arange(0, 6, 0.01)
    toe = np.full_like(t, 800.0)
    heel = np.full_like(t, 900.0)
    for t_off, t_on in ((1.0, 1.45), (3.0, 3.45)):
        toe[(t >= t_off) & (t < t_on + 0.05)] = 0.0
        heel[(t >= t_off - 0.3) & (t < t_on)] = 0.0
    ic0, fc0 = L.marpino_contacts(t, toe, heel)
    assert len(ic0) == 2 and len(fc0) == 2
    toe[-20:] = np.nan  # a shorter pressure column
    heel[-20:] = np.nan
    heel[250] = np.nan  # one blank cell mid-stance
    ic, fc = L.marpino_contacts(t, toe, heel)
    np.testing.assert_allclose(ic, ic0)
    np.testing.assert_allclose(fc, fc0)
    empty = L.marpino_contacts(t, np.full_like(t, np.nan), heel)
    assert empty[0].size == 0 and empty[1].size == 0


def test_ankle_log(loaded):
    (r,) = loaded("ankle_log")
    assert r.ic is None and r.placement == "ankle"
    fsr = r.meta["fsr_contacts"]
    assert r.n_contacts_ref == len(fsr) == 21
    assert 20.0 < fsr[0] and fsr[-1] < 60.0  # SOURCE: stepping at t ≈ 26–58 s
    assert 20 < r.rate_hz < 35


def test_ankle_log_time_reconstruction():
    sec = np.repeat([100, 101, 102, 103], [3, 4, 5, 2])
    t = L.ankle_log_times(sec)
    assert np.all(np.diff(t) > 0)
    np.testing.assert_allclose(t[3:7], 1 + np.arange(4) / 4)
    np.testing.assert_allclose(t[7:12], 2 + np.arange(5) / 5)
    assert t[2] == pytest.approx(1 - 1 / 4.5)  # partial first second ends at its end, median rate 4.5
    with pytest.raises(ValueError, match="unix_s"):
        L.ankle_log_times(np.array([3, 2]))


def test_fsr_pulse_rule():
    t = np.arange(0, 3, 0.01)
    x = np.zeros_like(t)
    x[(t > 0.5) & (t < 0.7)] = 800
    x[(t > 0.72) & (t < 0.76)] = 800  # bounce < min separation, still within contact
    x[(t > 1.5) & (t < 1.7)] = 250  # below ON: not a contact
    x[(t > 2.0) & (t < 2.3)] = 900
    c = L.fsr_contacts(t, x)
    np.testing.assert_allclose(c, [0.51, 2.01], atol=1e-9)


def test_uci_backward(loaded):
    recs = loaded("uci_backward")
    assert len(recs) == 4
    subj = {r.meta["exp"] + "@" + r.meta["date"]: r.meta["subject"] for r in recs}
    assert subj["exp200@2023_08_23"] == "II" and subj["exp100@2023_08_30"] == "III"
    for r in recs:
        assert r.placement == "foot" and r.side == "left" and r.ic is None
        assert r.rate_hz == pytest.approx(800.0, rel=1e-6)
        labels = [s[2] for s in r.segments]
        assert labels.index("forward") < labels.index("backward") < labels.index("sideways")
        # at rest: |acc| ≈ g and Z carries it with the recorded (VN-200, Z-down) sign
        still = r.segments[0]
        m = (r.t > still[0] + 1) & (r.t < still[1] - 1)
        assert np.median(r.acc[m, 2]) == pytest.approx(-9.8, abs=0.5)
        # SOURCE: forward swing peaks on gyr_y negative, backward positive
        for a, b, lab in r.segments:
            if lab in ("forward", "backward"):
                g = r.gyr[(r.t > a) & (r.t < b), 1]
                sk = np.mean((g - g.mean()) ** 3) / g.std() ** 3
                assert (sk < 0) if lab == "forward" else (sk > 0), (r.name, lab, sk)


def test_uci_segments_from_manifest_match_csv():
    folder = require_data("uci_foot_imu_backward_walking")
    segs = D.manifest("uci_backward")["segments"]
    for key, rows in segs.items():
        csv_rows = L._segments_csv(folder / f"{key}_segments.csv")
        assert [tuple(r) for r in rows] == csv_rows


def test_xio_loaders(loaded):
    (ng,) = loaded("xio_ngimu")
    assert ng.meta["dropped_duplicates"] == 205
    assert 380 < ng.rate_hz < 420
    xs = loaded("ximu_csv")
    assert [len(r.t) for r in xs] == [9963, 15153]
    assert all(r.rate_hz == pytest.approx(256.0) for r in xs)


def test_load_with_explicit_root_and_manifest_json_is_valid():
    require_data("ankle_mpu6050_fsr_steplog")
    from imuwalk._paths import data_root

    recs = D.load("ankle_log", root=data_root())
    assert recs[0].n_contacts_ref == 21
    json.loads(Path(D.__file__).with_name("manifest.json").read_text())


def test_marpino_xlsx_parse_is_cached(loaded):
    """After the first load the parsed xlsx sits in the cache as a sha256-keyed .npz; reloading from it
    gives the same recordings (a cold openpyxl parse takes seconds: only the fixture's first load pays it)."""
    recs = loaded("marpino")
    folder = require_data("marpino_leg_imu_foot_pressure")
    for f in ("20180621_6.xlsx", "20180713_1.xlsx"):
        path = folder / "Young" / f
        cached = list((L.cache_dir() / "parsed").glob(f"marpino_{L._sha256(path)[:32]}_*.npz"))
        if not cached:
            pytest.skip(f"cache folder {L.cache_dir()} not writable")
        tab = L._marpino_table(path)
        assert set(L._marpino_columns()) <= set(tab)
        assert tab["Time_1"][-1] == tab["Time_1"][-2]  # the repeated last row, dropped by the loader
    again = D.load("marpino")
    for a, b in zip(recs, again, strict=True):
        np.testing.assert_array_equal(a.acc, b.acc)
        np.testing.assert_array_equal(a.ic, b.ic)


def test_xlsx_fast_parser_matches_openpyxl(tmp_path):
    """The zip/XML xlsx scan used for the Marpino files gives what openpyxl gives (strings with spaces cast,
    header spaces stripped, other columns ignored, rows ordered)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "sensor_all"
    ws.append(["Time_1", "  Acc_read_x_1", "junk", " Ext1_1"])
    rng = np.random.default_rng(0)
    for i in range(50):
        ws.append([1000 + 10 * i, f" {rng.normal():.6f}", "x", int(rng.integers(0, 1900))])
    path = tmp_path / "mini.xlsx"
    wb.save(path)
    want = ["Time_1", "Acc_read_x_1", "Ext1_1"]
    fast = L._xlsx_fast(path, "sensor_all", want)
    slow = L._xlsx_openpyxl(path, "sensor_all", want)
    assert fast.shape == (50, 3)
    np.testing.assert_array_equal(fast, slow)
    with pytest.raises(KeyError):
        L._xlsx_fast(path, "sensor_all", ["Time_1", "Gyro_read_x_9"])


# ------------------------------------------------------------------ further subjects: loaders find what is there
def test_ipol_finds_further_trials_in_natural_order(tmp_path):
    """Trials added from the full IPOL set (other subjects / trials, same format) are loaded too; the 16-bit
    PacketCounter is unwrapped; a folder holding only such trials is a valid dataset folder."""
    src = require_data("ipol_healthy_gait_feet", "GaitData")
    gd = tmp_path / "ipol_healthy_gait_feet" / "GaitData"
    gd.mkdir(parents=True)
    for trial in ("10-1", "3-1"):
        for suffix in (".json", "_lf.txt", "_rf.txt"):
            (gd / f"{trial}{suffix}").symlink_to(src / f"{trial}{suffix}")
    # a "further" trial 13-2: 5-1's data, its counter shifted to wrap past 65535 halfway through (the
    # annotations, counting packets, shifted with it)
    js = json.loads((src / "5-1.json").read_text())
    shift = 65536 - 1500
    for key in ("LeftFootEvents", "RightFootEvents"):
        js[key] = [[a + shift, b + shift] for a, b in js[key]]
    for key in ("TrialBoundaries", "UTurnBoundaries"):
        js[key] = [a + shift for a in js[key]]
    (gd / "13-2.json").write_text(json.dumps(js))
    for suffix in ("_lf.txt", "_rf.txt"):
        lines = (src / f"5-1{suffix}").read_text().splitlines(keepends=True)
        body = []
        for ln in lines[2:]:
            c, rest = ln.split("\t", 1)
            body.append(f"{(float(c) + 65536 - 1500) % 65536:.0f}\t{rest}")
        (gd / f"13-2{suffix}").write_text("".join(lines[:2] + body))
    (gd / "3-1_lb.txt").write_text("lower-back sensor: not read\n")
    assert L.ipol_trials(gd.parent) == ["3-1", "10-1", "13-2"]
    recs = D.load("ipol", root=tmp_path)
    assert [r.name for r in recs] == ["ipol/3-1/left", "ipol/3-1/right", "ipol/10-1/left", "ipol/10-1/right",
                                      "ipol/13-2/left", "ipol/13-2/right"]
    ref = {r.name: r for r in D.load("ipol")}
    for side in ("left", "right"):
        new, old = recs[4 if side == "left" else 5], ref[f"ipol/5-1/{side}"]
        assert new.meta["subject"] == 5 and new.meta["trial"] == "13-2"
        np.testing.assert_allclose(np.diff(new.t), np.diff(old.t))  # same time base after the unwrap
        assert new.t[0] == pytest.approx(old.t[0] + (65536 - 1500) / 100.0)
        np.testing.assert_array_equal(new.gyr, old.gyr)
        np.testing.assert_allclose(new.ic, old.ic + (65536 - 1500) / 100.0)


def test_ipol_bad_annotation_file_is_named(tmp_path):
    src = require_data("ipol_healthy_gait_feet", "GaitData")
    gd = tmp_path / "ipol_healthy_gait_feet" / "GaitData"
    gd.mkdir(parents=True)
    for suffix in ("_lf.txt", "_rf.txt"):
        (gd / f"2-1{suffix}").symlink_to(src / f"2-1{suffix}")
    (gd / "2-1.json").write_text('{"Subject": 2}')
    with pytest.raises(ValueError, match=r"2-1\.json: not an IPOL annotation file"):
        D.load("ipol", root=tmp_path, strict=True)


def test_marpino_finds_further_walks(tmp_path):
    """Walk sheets added from the repository (another group's folder too) are loaded; names never collide."""
    src = require_data("marpino_leg_imu_foot_pressure", "Young")
    root = tmp_path / "marpino_leg_imu_foot_pressure"
    (root / "Young").mkdir(parents=True)
    (root / "Elderly").mkdir()
    (root / "Young" / "20180621_6.xlsx").symlink_to(src / "20180621_6.xlsx")
    (root / "Elderly" / "20180621_6.xlsx").symlink_to(src / "20180621_6.xlsx")
    (root / "Elderly" / "~$20180621_6.xlsx").write_bytes(b"office lock file")
    assert L.marpino_walks(root, D.manifest("marpino")) == ["Young/20180621_6.xlsx", "Elderly/20180621_6.xlsx"]
    recs = D.load("marpino", root=tmp_path)
    names = [r.name for r in recs]
    assert len(names) == len(set(names)) == 8
    by = {r.name: r for r in recs}
    for k in ("right_foot", "left_shank"):
        a, b = by[f"marpino/20180621_6/{k}"], by[f"marpino/Elderly/20180621_6/{k}"]
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.ic, b.ic)
    (root / "Elderly" / "broken.xlsx").write_text("not a spreadsheet")
    with pytest.raises(ValueError, match="broken.xlsx: not a Marpino walk sheet"):
        D.load("marpino", root=tmp_path, strict=True)
    # by default one broken walk does not stop the others: a warning names it
    said = r"broken\.xlsx: not a Marpino walk sheet .*; walk Elderly/broken\.xlsx skipped"
    with pytest.warns(UserWarning, match=said):
        assert len(D.load("marpino", root=tmp_path)) == 8


def _marpino_one_walk(tmp_path, monkeypatch, change) -> None:
    """A Marpino folder under tmp_path holding the real walk 20180621_6, whose parsed table ``change(tab)``
    edits in place (a copy of the cached parse) before the loader sees it."""
    src = require_data("marpino_leg_imu_foot_pressure", "Young")
    root = tmp_path / "marpino_leg_imu_foot_pressure" / "Young"
    root.mkdir(parents=True)
    (root / "20180621_6.xlsx").symlink_to(src / "20180621_6.xlsx")
    real = L._marpino_table

    def changed(path):
        tab = dict(real(path))
        change(tab)
        return tab

    monkeypatch.setattr(L, "_marpino_table", changed)


def test_marpino_blank_pressure_skips_only_that_foot_and_says_so(tmp_path, monkeypatch, capsys):
    """A walk whose left-foot pressure columns are blank loses its two left recordings with a warning naming
    them; the right foot and shank are still loaded."""
    def blank_left(tab):
        tab["Ext1_6"] = np.full_like(tab["Ext1_6"], np.nan)
        tab["Ext2_6"] = np.full_like(tab["Ext2_6"], np.nan)

    _marpino_one_walk(tmp_path, monkeypatch, blank_left)
    said = r"marpino/20180621_6: no contact found in the left foot's pressure \(Ext1_6/Ext2_6.*left_foot and left_shank"
    with pytest.warns(UserWarning, match=said):
        recs = D.load("marpino", root=tmp_path)
    assert sorted(r.name for r in recs) == ["marpino/20180621_6/right_foot", "marpino/20180621_6/right_shank"]
    # the CLI says it in one stderr line, and scores what is left
    monkeypatch.setenv("IMUWALK_DATA", str(tmp_path))
    assert main(["evaluate", "marpino", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["warning: marpino/20180621_6: no contact found in the left foot's pressure "
                                "(Ext1_6/Ext2_6: a switch off or blank cells); left_foot and left_shank skipped"]
    assert json.loads(out)["pooled"]["marpino"]["n_recordings"] == 2


# ------------------------------------------------------------------ robustness: bad files are named, never cut silently
def _ipol_copy(tmp_path, trials=("1-1",)):
    """An IPOL folder under tmp_path holding symlinks to the real files of ``trials``; returns GaitData."""
    src = require_data("ipol_healthy_gait_feet", "GaitData")
    gd = tmp_path / "ipol_healthy_gait_feet" / "GaitData"
    gd.mkdir(parents=True)
    for trial in trials:
        for suffix in (".json", "_lf.txt", "_rf.txt"):
            (gd / f"{trial}{suffix}").symlink_to(src / f"{trial}{suffix}")
    return gd


def _rewrite(path: Path, text: str) -> None:
    """Replace a symlink to a real file by a modified copy."""
    path.unlink()
    path.write_text(text)


def test_keep_increasing_drops_repeats_nan_and_a_late_packet_but_raises_on_a_reset():
    t = np.array([0.0, 1.0, 1.0, np.nan, 2.0, 3.0, 3.0])
    np.testing.assert_array_equal(L._keep_increasing(t, "f.txt"), [0, 1, 4, 5])
    # one packet delivered late (1.5 after 2.0) is dropped, as a receiver would
    np.testing.assert_array_equal(L._keep_increasing(np.array([0.0, 1.0, np.nan, 2.0, 1.5, 3.0]), "f.txt"),
                                  [0, 1, 3, 5])
    reset = np.r_[np.arange(10.0), np.arange(5.0, 20.0)]  # the clock restarts at 5 after 9
    with pytest.raises(ValueError, match=r"f\.txt: time goes backward at line 12 \(9 -> 5\) and stays behind "
                                         r"for 5 samples"):
        L._keep_increasing(reset, "f.txt", "line", 2)


def test_ipol_counter_reset_raises_instead_of_cutting_the_file(tmp_path):
    """A PacketCounter restarting at 0 mid-file once silently dropped the rest of the recording."""
    gd = _ipol_copy(tmp_path)
    lines = (gd / "1-1_lf.txt").read_text().splitlines(keepends=True)
    body = [f"{float(ln.split(chr(9), 1)[0]) - 1500:.1f}\t{ln.split(chr(9), 1)[1]}" if i >= 1500 else ln
            for i, ln in enumerate(lines[2:])]
    _rewrite(gd / "1-1_lf.txt", "".join(lines[:2] + body))
    with pytest.raises(ValueError, match=r"1-1_lf\.txt: time goes backward at line 1503 \(1499 -> 0\)"):
        D.load("ipol", root=tmp_path, strict=True)


def test_marpino_time_reset_raises(tmp_path, monkeypatch):
    def reset(tab):
        tab["Time_1"] = tab["Time_1"].copy()
        tab["Time_1"][598:] -= 10000.0

    _marpino_one_walk(tmp_path, monkeypatch, reset)
    with pytest.raises(ValueError, match=r"20180621_6\.xlsx \(Time_1, s\): time goes backward at sheet row 600"):
        D.load("marpino", root=tmp_path, strict=True)


def test_ipol_incomplete_trial_names_the_missing_files(tmp_path):
    gd = _ipol_copy(tmp_path, ("1-1", "2-1"))
    (gd / "1-1_lb.txt").write_text("lower-back sensor: ignored\n")
    assert L.ipol_trials(gd.parent) == ["1-1", "2-1"]
    (gd / "3-1.json").symlink_to(gd / "1-1.json")
    (gd / "3-1_lf.txt").symlink_to(gd / "1-1_lf.txt")
    (gd / "4-1.json").symlink_to(gd / "1-1.json")
    (gd / "4-1_lf.txt").symlink_to(gd / "1-1_lf.txt")
    (gd / "4-1_rf.txt").symlink_to(gd / "gone_rf.txt")  # a broken link
    with pytest.raises(ValueError, match=r"incomplete IPOL trial.*3-1 lacks 3-1_rf\.txt; 4-1 lacks 4-1_rf\.txt"):
        D.load("ipol", root=tmp_path, strict=True)
    # by default the complete trials load and the others are named in one warning
    with pytest.warns(UserWarning, match=r"3-1 lacks 3-1_rf\.txt; 4-1 lacks 4-1_rf\.txt.*; skipped"):
        recs = D.load("ipol", root=tmp_path)
    assert sorted({r.meta["trial"] for r in recs}) == ["1-1", "2-1"]
    for p in gd.glob("[34]-1*"):
        p.unlink()
    (gd / "5-1_rf.txt").symlink_to(gd / "1-1_rf.txt")
    with pytest.raises(ValueError, match=r"5-1 lacks 5-1\.json, 5-1_lf\.txt"):
        D.load("ipol", root=tmp_path, strict=True)


def test_ipol_foot_without_events_is_skipped_with_a_warning(tmp_path):
    gd = _ipol_copy(tmp_path)
    js = json.loads((gd / "1-1.json").read_text())
    js["LeftFootEvents"] = []
    _rewrite(gd / "1-1.json", json.dumps(js))
    with pytest.warns(UserWarning, match=r"1-1\.json: LeftFootEvents is empty; ipol/1-1/left skipped"):
        recs = D.load("ipol", root=tmp_path)
    assert [r.name for r in recs] == ["ipol/1-1/right"]


@pytest.mark.parametrize(("key", "value", "said"), [
    ("LeftFootEvents", "append [9000, 9050]", r"LeftFootEvents entry \[9000, 9050\] lies outside the recorded data"),
    ("LeftFootEvents", "shift 50000", r"LeftFootEvents entry \[50527, 50574\] lies outside"),
    ("RightFootEvents", [[507, 459]], r"RightFootEvents entry \[507, 459\] has start > end"),
    ("RightFootEvents", [[None, 904]], r"RightFootEvents entry \[None, 904\] is not a pair of finite numbers"),
    ("RightFootEvents", [[1, 2], [3]], r"RightFootEvents must hold numbers"),
    ("RightFootEvents", [[1, 2, 3]], r"RightFootEvents must be a list of \[start, end\] pairs"),
    ("UTurnBoundaries", [float("nan"), float("nan")], r"UTurnBoundaries entry \[nan, nan\] is not a pair of finite"),
    ("UTurnBoundaries", [1316], r"UTurnBoundaries must be a \[start, end\] pair"),
    ("TrialBoundaries", [2464, 459], r"TrialBoundaries entry \[2464, 459\] has start > end"),
])
def test_ipol_bad_annotations_are_named(tmp_path, key, value, said):
    gd = _ipol_copy(tmp_path)
    js = json.loads((gd / "1-1.json").read_text())
    if value == "append [9000, 9050]":
        js[key].append([9000, 9050])
    elif value == "shift 50000":
        js[key] = [[a + 50000, b + 50000] for a, b in js[key]]
    else:
        js[key] = value
    _rewrite(gd / "1-1.json", json.dumps(js))
    with pytest.raises(ValueError, match=r"1-1\.json: " + said):
        D.load("ipol", root=tmp_path, strict=True)


def test_ipol_events_beyond_the_row_count_but_within_the_counter_span_are_valid(loaded):
    """7-1 left lost packets: its last events lie beyond the row count, inside the PacketCounter span."""
    r = {x.name: x for x in loaded("ipol")}["ipol/7-1/left"]
    assert r.ic.max() * 100 > len(r.t) and r.ic.max() <= r.t[-1]


def _gaitmap_copy(tmp_path):
    src = require_data("gaitmap_example_foot")
    root = tmp_path / "gaitmap_example_foot"
    root.mkdir()
    for f in src.iterdir():
        (root / f.name).symlink_to(f)
    return root


@pytest.mark.parametrize(("edit", "said"), [
    (lambda ln: ln.replace(",657.0,586.0,", ",657.0,99999.0,"), r"left tc = 99999 is not a sample number inside"),
    (lambda ln: ln.replace(",657.0,586.0,", ",,586.0,"), r"left ic = nan is not a sample number inside"),
    (lambda ln: ln.replace("494.0,709.0,", "709.0,494.0,"), r"left \[start, end\] entry \[709\.0, 494\.0\] has start"),
])
def test_gaitmap_bad_events_are_named(tmp_path, edit, said):
    root = _gaitmap_copy(tmp_path)
    lines = (root / "stride_events_sample.csv").read_text().splitlines(keepends=True)
    _rewrite(root / "stride_events_sample.csv", "".join([lines[0], edit(lines[1])] + lines[2:]))
    with pytest.raises(ValueError, match=r"stride_events_sample\.csv: " + said):
        D.load("gaitmap", root=tmp_path, strict=True)


def test_header_only_short_or_truncated_files_are_named(tmp_path):
    gd = _ipol_copy(tmp_path)
    lines = (gd / "1-1_lf.txt").read_text().splitlines(keepends=True)
    for body, said in ((lines[:2], "no data rows"), (lines[:3], r"no data rows \(found 1"),
                       (lines[:-1] + ["\t".join(lines[-1].split("\t")[:7]) + "\n"], "column")):
        _rewrite(gd / "1-1_lf.txt", "".join(body))
        with pytest.raises(ValueError, match=r"1-1_lf\.txt: .*" + said):
            D.load("ipol", root=tmp_path, strict=True)
    root = _gaitmap_copy(tmp_path)
    head = (root / "imu_sample.csv").read_text().splitlines(keepends=True)[:2]
    _rewrite(root / "imu_sample.csv", "".join(head))
    with pytest.raises(ValueError, match=r"imu_sample\.csv: no data rows"):
        D.load("gaitmap", root=tmp_path, strict=True)
    _rewrite(root / "imu_sample.csv", "".join(head).replace("gyr_z", "gyr_w"))
    with pytest.raises(ValueError, match=r"imu_sample\.csv: KeyError"):
        D.load("gaitmap", root=tmp_path, strict=True)
    xio = tmp_path / "xio_ngimu_foot_walk"
    xio.mkdir()
    src = require_data("xio_ngimu_foot_walk", "short_walk.csv")
    (xio / "short_walk.csv").write_text(src.read_text().splitlines(keepends=True)[0])
    with pytest.raises(ValueError, match=r"short_walk\.csv: no data rows"):
        D.load("xio_ngimu", root=tmp_path, strict=True)
    (xio / "short_walk.csv").write_text("".join(src.read_text().splitlines(keepends=True)[:50]) + "1.0,2.0\n")
    with pytest.raises(ValueError, match=r"short_walk\.csv: .*columns"):
        D.load("xio_ngimu", root=tmp_path, strict=True)
    ankle = tmp_path / "ankle_mpu6050_fsr_steplog"
    ankle.mkdir()
    (ankle / "Steps21.txt").write_text("")
    with pytest.raises(ValueError, match=r"Steps21\.txt: no data rows"):
        D.load("ankle_log", root=tmp_path, strict=True)


def test_uci_bad_mat_and_segments_are_named(tmp_path):
    from scipy.io import savemat

    day = tmp_path / "uci_foot_imu_backward_walking" / "2023_09_01"
    day.mkdir(parents=True)
    t = np.arange(1000) / 800.0
    u = np.zeros((15, 1000))
    u[2], u[7] = -1.0, t
    savemat(day / "exp100_VN.mat", {"u": u.T})  # saved transposed
    with pytest.raises(ValueError, match=r"exp100_VN\.mat: u must be a channels x samples array"):
        D.load("uci_backward", root=tmp_path, strict=True)
    savemat(day / "exp100_VN.mat", {"v": u})
    with pytest.raises(ValueError, match=r"exp100_VN\.mat: KeyError"):
        D.load("uci_backward", root=tmp_path, strict=True)
    (day / "exp100_VN.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(ValueError, match=r"exp100_VN\.mat: "):
        D.load("uci_backward", root=tmp_path, strict=True)
    savemat(day / "exp100_VN.mat", {"u": u})
    head = "start_s,end_s,label\n"
    for body, said in ((head, "no segments"), (head + "0,1,backwards\n", "bad segment"),
                       (head + "1,0.5,forward\n", "bad segment"), ("start_s,end\n0,1\n", "not a segments")):
        (day / "exp100_segments.csv").write_text(body)
        with pytest.raises(ValueError, match=r"exp100_segments\.csv: " + said):
            D.load("uci_backward", root=tmp_path, strict=True)
    (day / "exp100_segments.csv").write_text("start_s,end_s,label\n0,1.2,still\n")
    (rec,) = D.load("uci_backward", root=tmp_path)
    assert rec.name == "uci_backward/2023_09_01/exp100" and rec.segments == [(0.0, 1.2, "still")]


def test_uci_finds_further_recordings(tmp_path):
    """A further <date>/<exp>_VN.mat is loaded after the manifest's (without segments: with a warning), and a
    folder holding only further recordings is a valid dataset folder."""
    src = require_data("uci_foot_imu_backward_walking")
    root = tmp_path / "uci_foot_imu_backward_walking"
    for rel in ("2023_08_30/exp100_VN.mat", "2023_08_30/exp100_segments.csv"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(src / rel)
    (root / "2023_09_01").mkdir()
    (root / "2023_09_01" / "exp100_VN.mat").symlink_to(src / "2023_08_23" / "exp200_VN.mat")
    (root / "2023_09_01" / "README_original.txt").write_text("not a recording")
    with pytest.warns(UserWarning, match=r"2023_09_01/exp100_VN\.mat: no exp100_segments\.csv"):
        recs = D.load("uci_backward", root=tmp_path)
    assert [r.name for r in recs] == ["uci_backward/2023_08_30/exp100", "uci_backward/2023_09_01/exp100"]
    assert recs[1].segments == [] and recs[1].meta["subject"] == "?" and len(recs[1].t) == 69160
    (root / "2023_08_30" / "exp100_VN.mat").unlink()
    with pytest.warns(UserWarning, match="no exp100_segments.csv"):
        assert [r.name for r in D.load("uci_backward", root=tmp_path)] == ["uci_backward/2023_09_01/exp100"]


def test_xlsx_fast_reads_the_named_sheet_through_the_workbook_relations(tmp_path):
    """The fast xlsx scan resolves the sheet's r:id (not 'the first sheet is sheet1.xml')."""
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    raw = wb.active
    raw.title = "sensor_all_raw"
    raw.append(["Time_1", "Acc_read_x_1"])
    for i in range(5):
        raw.append([10 * i, 0])
    ws = wb.create_sheet("sensor_all")
    ws.append(["Time_1", "Acc_read_x_1"])
    for i in range(5):
        ws.append([10 * i, i + 1])
    path = tmp_path / "two.xlsx"
    wb.save(path)
    want = ["Time_1", "Acc_read_x_1"]
    np.testing.assert_array_equal(L._xlsx_fast(path, "sensor_all", want)[:, 1], [1, 2, 3, 4, 5])
    # list sensor_all first in workbook.xml: its part is still sheet2.xml
    swapped = tmp_path / "swapped.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(swapped, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                text = data.decode()
                tags = re.findall(r"<sheet [^>]*/>", text)
                data = text.replace(tags[0] + tags[1], tags[1] + tags[0]).encode()
                assert data.decode().index('name="sensor_all"') < data.decode().index('name="sensor_all_raw"')
            zout.writestr(item, data)
    np.testing.assert_array_equal(L._xlsx_fast(swapped, "sensor_all", want)[:, 1], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(L._xlsx_fast(swapped, "sensor_all_raw", want)[:, 1], [0, 0, 0, 0, 0])
    with pytest.raises(KeyError):
        L._xlsx_fast(swapped, "nope", want)


def test_marpino_blank_time_cells_drop_only_that_sensors_rows(tmp_path, monkeypatch):
    """Rows are kept per sensor on its own Time_k: blank Time_1 cells (even the first) cost only sensor 1 rows."""
    src = require_data("marpino_leg_imu_foot_pressure", "Young")
    root = tmp_path / "marpino_leg_imu_foot_pressure" / "Young"
    root.mkdir(parents=True)
    (root / "20180621_6.xlsx").symlink_to(src / "20180621_6.xlsx")
    ref = {r.name: r for r in D.load("marpino", root=tmp_path)}
    real = L._marpino_table

    def blank_time1(path):
        tab = dict(real(path))
        tab["Time_1"] = tab["Time_1"].copy()
        tab["Time_1"][[0, *range(300, 320)]] = np.nan
        return tab

    monkeypatch.setattr(L, "_marpino_table", blank_time1)
    recs = {r.name: r for r in D.load("marpino", root=tmp_path)}
    t0_shift = (real(src / "20180621_6.xlsx")["Time_1"][1] - real(src / "20180621_6.xlsx")["Time_1"][0]) / 1000.0
    for k in ("right_shank", "left_shank", "left_foot"):
        a, b = recs[f"marpino/20180621_6/{k}"], ref[f"marpino/20180621_6/{k}"]
        assert len(a.t) == len(b.t)
        np.testing.assert_allclose(a.t, b.t - t0_shift)
        np.testing.assert_array_equal(a.acc, b.acc)
    assert len(recs["marpino/20180621_6/right_foot"].t) == len(ref["marpino/20180621_6/right_foot"].t) - 21


def test_one_bad_further_trial_does_not_stop_the_evaluation_of_the_others(tmp_path, monkeypatch, capsys):
    """Further recordings placed beside the shared ones (a grader's, a user's) may hold one odd file: by default
    it is skipped with one warning naming the file and the problem, and everything else is loaded and scored;
    strict=True raises instead."""
    gd = _ipol_copy(tmp_path, ("1-1", "2-1"))
    js = json.loads((gd / "2-1.json").read_text())
    js["LeftFootEvents"][0] = [js["LeftFootEvents"][0][0], 90000]  # far beyond the data
    _rewrite(gd / "2-1.json", json.dumps(js))
    with pytest.raises(ValueError, match=r"2-1\.json: LeftFootEvents entry .* lies outside the recorded data"):
        D.load("ipol", root=tmp_path, strict=True)
    with pytest.warns(UserWarning, match=r"2-1\.json: LeftFootEvents entry .*; trial 2-1 skipped"):
        recs = D.load("ipol", root=tmp_path)
    assert [r.name for r in recs] == ["ipol/1-1/left", "ipol/1-1/right"]
    monkeypatch.setenv("IMUWALK_DATA", str(tmp_path))
    assert main(["evaluate", "ipol", "--json"]) == 0
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("warning: ") and "trial 2-1 skipped" in err
    assert json.loads(out)["pooled"]["ipol"]["n_recordings"] == 2
