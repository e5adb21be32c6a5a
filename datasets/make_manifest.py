"""Regenerate ``imuwalk/datasets/manifest.json`` from the local copies (sha256 + size of every file).

Run: ``.venv/bin/python datasets/make_manifest.py [DATA_ROOT]`` (default: ``imuwalk._paths.data_root()``).
The source repositories/commits/paths below are those given in each dataset's SOURCE.md.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from imuwalk._paths import data_root  # noqa: E402
from imuwalk.datasets._loaders import _sha256 as sha256  # noqa: E402


def raw_url(repo: str, commit: str, path: str) -> str:
    gh = repo.removeprefix("https://github.com/")
    return f"https://raw.githubusercontent.com/{gh}/{commit}/{quote(path)}"


IPOL_FILES = [f"GaitData/{s}-1{x}" for s in range(1, 13) for x in (".json", "_lf.txt", "_rf.txt")]
GM = "https://github.com/mad-lab-fau/gaitmap"
GM_C = "05ad9716161cdfeb4ba9fcb28eb796df0420e48d"
GM_SRC = {"repo": GM, "commit": GM_C, "path": "example_data/",
          "last_commit_touching_files": "6a6f941ae6a91e112d0f9d0cd072c4817d94640a"}
UCI = ("https://github.com/esangeni/Effect-of-Adding-Time-Correlation-to-SVM-based-Motion-Classification"
       "-in-Pedestrian-Navigation")
UCI_C = "5d3769b20495c8134b8780a4c32afaa7956da3c9"
UCI_EXPS = ["2023_08_23/exp200", "2023_08_23/exp300", "2023_08_30/exp100", "2023_08_30/exp200"]
XIMU = "https://github.com/xioTechnologies/Gait-Tracking-With-x-IMU"
XIMU_C = "f877838b4dba55a8f32442275e2c10f56035f3a2"

DATASETS = {
    "ipol": dict(
        local_dir="ipol_healthy_gait_feet",
        description="IPOL healthy gait (Voisard et al. 2023): 12 subjects, trial 1, Xsens MTw on both "
                    "feet (dorsum), 10 m walk + U-turn + 10 m back; "
                    "per-footstep toe-off/heel-strike, manually checked",
        placement="foot", rate_hz=100.0, licence="AGPL-3.0 (repository licence; keep the notice)",
        source={"repo": "https://github.com/CyrilVoisard/ipol_dataset_1",
                "commit": "b9f4bbb3758135b877acf1676da3e5bae527314b", "path": "GaitData/"},
        files=[(p, p) for p in IPOL_FILES],
        ground_truth="ic (heel strike), fc (toe-off) per foot", redistribute="keep AGPL notice",
        discover="GaitData/*.json",  # the loader also reads further trials of the full set placed beside these
    ),
    "gaitmap": dict(
        local_dir="gaitmap_example_foot",
        description="gaitmap example: one healthy subject, 2x20 m walk with a turn, lateral shoe IMUs, "
                    "gaitmap foot frame; mocap IC/TC",
        placement="foot", rate_hz=204.8, licence="MIT (Copyright (c) 2020 MaD-Lab Erlangen)", source=GM_SRC,
        files=[(p, f"example_data/{p}") for p in ("imu_sample.csv", "stride_events_sample.csv",
                                                   "stride_borders_sample.csv")],
        ground_truth="ic (+pre_ic), fc (tc) from motion capture", redistribute="MIT, keep copyright",
    ),
    "gaitmap_not_rotated": dict(
        local_dir="gaitmap_example_foot",
        description="the gaitmap example recording in the original (not rotated) sensor frames",
        placement="foot", rate_hz=204.8, licence="MIT (Copyright (c) 2020 MaD-Lab Erlangen)", source=GM_SRC,
        files=[(p, f"example_data/{p}") for p in ("imu_sample_not_rotated.csv", "stride_events_sample.csv")],
        ground_truth="same as gaitmap", redistribute="MIT, keep copyright",
    ),
    "gaitmap_ic_stride": dict(
        local_dir="gaitmap_example_foot",
        description="gaitmap example 2: healthy subject, 4x10 m gait test, IC-to-IC stride borders "
                    "from mocap",
        placement="foot", rate_hz=102.4, licence="MIT (Copyright (c) 2020 MaD-Lab Erlangen)", source=GM_SRC,
        files=[(p, f"example_data/{p}") for p in ("imu_sample_ic_stride.csv",
                                                   "stride_borders_sample_ic_stride.csv")],
        ground_truth="ic only (stride borders)", redistribute="MIT, keep copyright",
    ),
    "marpino": dict(
        local_dir="marpino_leg_imu_foot_pressure",
        description="Marpino walking dataset: 2 young 5 m walks, IMUs on feet and SHANKS of both legs, "
                    "toe/heel pressure switches",
        placement="foot+shank", rate_hz=100.0, licence="unclear (no licence): internal use only",
        source={"repo": "https://github.com/Marpino/Walking-dataset",
                "commit": "4458e4a9928c7e17a824de0727b822f02e095817", "path": "Dataset/Young/"},
        files=[(f"Young/{p}", f"Dataset/Young/{p}") for p in ("20180621_6.xlsx", "20180713_1.xlsx")],
        ground_truth="ic/fc from foot pressure (heel rise 25 %, toe fall 25 %)",
        redistribute="NO (no licence)",
        discover="**/*.xlsx",  # the loader also reads further walks of the repository placed beside these
    ),
    "ankle_log": dict(
        local_dir="ankle_mpu6050_fsr_steplog",
        description="ankle-worn MPU-6050 + FSR step log (Simple-Step-Tracking), ~27 Hz irregular, "
                    "1-s RTC stamps",
        placement="ankle", rate_hz=27.0, licence="unclear (no licence): internal use only",
        source={"repo": "https://github.com/ttruty/Simple-Step-Tracking",
                "commit": "fbbcd5477e0cb662190822c4fb1cc898b0a6f23c", "path": "SampleLogs/Steps21.txt"},
        files=[("Steps21.txt", "SampleLogs/Steps21.txt")],
        ground_truth="FSR pulse count (n_contacts_ref)", redistribute="NO (no licence)",
    ),
    "uci_backward": dict(
        local_dir="uci_foot_imu_backward_walking",
        description="UCI VN-200 on the left foot: forward (walk..sprint), BACKWARD and sideways walking, "
                    "2 subjects, 4 recordings; direction segments (ours) from the protocol order",
        placement="foot", rate_hz=800.0, licence="CC BY-NC-ND 4.0: non-commercial, no derivatives",
        source={"repo": UCI, "commit": UCI_C, "path": "Motion Classification/1_unlabeled_datasets/"},
        files=[(f"{e}_VN.mat", f"Motion Classification/1_unlabeled_datasets/{e}_VN.mat") for e in UCI_EXPS]
        + [(f"{e}_segments.csv", None) for e in UCI_EXPS],
        ground_truth="direction segments only", redistribute="NO modified copies; never in a package",
        discover="*/*_VN.mat",  # the loader also reads further recordings placed beside these
    ),
    "xio_ngimu": dict(
        local_dir="xio_ngimu_foot_walk",
        description="x-io NGIMU on a foot, ~25 m loop walk (short_walk.csv), 400 Hz nominal with jitter",
        placement="foot", rate_hz=400.0, licence="MIT (c) 2022 x-io Technologies",
        source={"repo": "https://github.com/xioTechnologies/Gait-Tracking",
                "commit": "ac0dbf6271d1ceb3d6ea90cec09976ec4bd9dc76", "path": "short_walk.csv"},
        files=[("short_walk.csv", "short_walk.csv")], ground_truth="none", redistribute="MIT, keep copyright",
    ),
    "ximu_csv": dict(
        local_dir="xio_ximu_foot_raw_binary",
        description="x-IMU on a foot: straight line and stairs+corridor, vendor-decoded CSV (256 Hz); "
                    "the raw .BIN streams are listed too (parser oracle)",
        placement="foot", rate_hz=256.0, licence="unclear (no licence): internal use only",
        source={"repo": XIMU, "commit": XIMU_C, "path": "Gait Tracking With x-IMU/Datasets/"},
        files=[(p, f"Gait Tracking With x-IMU/Datasets/{p}") for p in (
            "straightLine_CalInertialAndMag.csv", "stairsAndCorridor_CalInertialAndMag.csv",
            "straightLine.BIN", "stairsAndCorridor.BIN")],
        ground_truth="none", redistribute="NO (no licence)",
    ),
}


def build(root: Path) -> dict:
    out = {}
    for name, d in DATASETS.items():
        folder = root / d["local_dir"]
        files = []
        for local, remote in d["files"]:
            p = folder / local
            entry = {"path": local, "sha256": sha256(p), "size": p.stat().st_size,
                     "url": raw_url(d["source"]["repo"], d["source"]["commit"], remote) if remote else None}
            if remote is None:
                entry["note"] = "written for imuwalk (not in the source repo); also inlined under 'segments'"
            files.append(entry)
        e = {k: v for k, v in d.items() if k != "files"}
        e["files"] = files
        if name == "uci_backward":
            e["segments"] = {}
            for exp in UCI_EXPS:
                with open(folder / f"{exp}_segments.csv", newline="") as f:
                    e["segments"][exp] = [[float(r["start_s"]), float(r["end_s"]), r["label"]]
                                          for r in csv.DictReader(f)]
        out[name] = e
    return out


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else data_root()
    manifest = build(root)
    dest = REPO / "imuwalk" / "datasets" / "manifest.json"
    dest.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {dest} ({len(manifest)} datasets)")
