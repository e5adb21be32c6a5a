"""Side by side on the same real recordings: imuwalk vs gaitmap (BarthDtw + Rampp) vs a scipy peak picker.

Issue 7 target: imuwalk at least as accurate (IC F1@50) as gaitmap's pipeline on every foot dataset where
gaitmap applies, and at least 50× faster per sample. The benchmark times imuwalk; the baselines are timed
once each (gaitmap is slow) and stored with all accuracy numbers in ``extra_info``.
Skips with a reason without the data (``IMUWALK_DATA``) or without ``imuwalk[bench]`` (gaitmap).
The full table: ``make table``.
"""

from __future__ import annotations

import time

import pytest

from benchmarks.baselines import gaitmap_available, gaitmap_detector, safe, scipy_peak_detector
from benchmarks.conftest import require_data
from benchmarks.make_table import imuwalk_detector, run_group

#: Foot datasets where gaitmap applies: (dataset, data folder, placement filter).
FOOT_SETS = [
    ("ipol", "ipol_healthy_gait_feet", None),
    ("gaitmap", "gaitmap_example_foot", None),
    ("gaitmap_not_rotated", "gaitmap_example_foot", None),
    ("marpino", "marpino_leg_imu_foot_pressure", "foot"),
]
MIN_SPEEDUP = 50.0


def _load(ds: str, folder: str, placement: str | None):
    require_data(folder)
    from imuwalk.datasets import load

    return [r for r in load(ds) if placement is None or r.placement == placement]


@pytest.mark.parametrize(("ds", "folder", "placement"), FOOT_SETS, ids=[f[0] for f in FOOT_SETS])
def test_side_by_side(benchmark, ds, folder, placement):
    recs = _load(ds, folder, placement)
    n = sum(len(r.t) for r in recs)
    imuwalk_detector(recs[0])  # JIT / cache load outside the timing

    def run_all():
        return [imuwalk_detector(r) for r in recs]

    benchmark.pedantic(run_all, rounds=20, warmup_rounds=2, iterations=1)  # ~1 ms a round: 3 were noise
    imu_us = benchmark.stats.stats.median / n * 1e6
    imu, _, _ = run_group(recs, imuwalk_detector, 1)
    sp, sp_s, _ = run_group(recs, scipy_peak_detector, 1)
    info = {"samples": n, "imuwalk_us_per_sample": imu_us, "scipy_us_per_sample": sp_s / n * 1e6}
    for k in ("f1_30", "f1_50", "f1_100", "ic_err_median_ms", "fc_err_median_ms", "latency_p95_ms"):
        info[f"imuwalk_{k}"] = imu.get(k)
        info[f"scipy_{k}"] = sp.get(k)
    benchmark.extra_info.update(info)
    ok, why = gaitmap_available()
    if not ok:
        pytest.skip(why)
    gaitmap = safe(gaitmap_detector)
    gaitmap(recs[0])  # gaitmap's own Numba compilation outside the timing
    t0 = time.perf_counter()
    gm, _, _ = run_group(recs, gaitmap, 1)
    gm_us = (time.perf_counter() - t0) / n * 1e6
    benchmark.extra_info.update(gaitmap_us_per_sample=gm_us, speedup_vs_gaitmap=gm_us / imu_us,
                                **{f"gaitmap_{k}": gm.get(k) for k in ("f1_30", "f1_50", "f1_100",
                                                                        "ic_err_median_ms")})
    assert imu["f1_50"] >= gm["f1_50"], f"{ds}: imuwalk F1@50 {imu['f1_50']:.3f} < gaitmap {gm['f1_50']:.3f}"
    assert gm_us / imu_us >= MIN_SPEEDUP, f"{ds}: only {gm_us / imu_us:.0f}× faster than gaitmap"
