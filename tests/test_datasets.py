"""Public-dataset loaders and manifest: real files under IMUWALK_DATA (skipped when absent)."""

from __future__ import annotations

import hashlib
import json
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
    # a "further" trial 13-2: 5-1's data, its counter shifted to wrap past 65535 halfway through
    (gd / "13-2.json").symlink_to(src / "5-1.json")
    for suffix in ("_lf.txt", "_rf.txt"):
        lines = (src / f"5-1{suffix}").read_text().splitlines(keepends=True)
        body = []
        for ln in lines[2:]:
            c, rest = ln.split("\t", 1)
            body.append(f"{(float(c) + 65536 - 1500) % 65536:.0f}\t{rest}")
        (gd / f"13-2{suffix}").write_text("".join(lines[:2] + body))
    (gd / "14-1.json").symlink_to(src / "1-1.json")  # no foot files: not a trial
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


def test_ipol_bad_annotation_file_is_named(tmp_path):
    src = require_data("ipol_healthy_gait_feet", "GaitData")
    gd = tmp_path / "ipol_healthy_gait_feet" / "GaitData"
    gd.mkdir(parents=True)
    for suffix in ("_lf.txt", "_rf.txt"):
        (gd / f"2-1{suffix}").symlink_to(src / f"2-1{suffix}")
    (gd / "2-1.json").write_text('{"Subject": 2}')
    with pytest.raises(ValueError, match=r"2-1\.json: not an IPOL annotation file"):
        D.load("ipol", root=tmp_path)


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
        D.load("marpino", root=tmp_path)


def test_marpino_blank_pressure_skips_only_that_foot_and_says_so(tmp_path, monkeypatch, capsys):
    """A walk whose left-foot pressure columns are blank loses its two left recordings with a warning naming
    them; the right foot and shank are still loaded."""
    src = require_data("marpino_leg_imu_foot_pressure", "Young")
    root = tmp_path / "marpino_leg_imu_foot_pressure" / "Young"
    root.mkdir(parents=True)
    (root / "20180621_6.xlsx").symlink_to(src / "20180621_6.xlsx")
    real = L._marpino_table

    def blank_left(path):
        tab = dict(real(path))
        tab["Ext1_6"] = np.full_like(tab["Ext1_6"], np.nan)
        tab["Ext2_6"] = np.full_like(tab["Ext2_6"], np.nan)
        return tab

    monkeypatch.setattr(L, "_marpino_table", blank_left)
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
