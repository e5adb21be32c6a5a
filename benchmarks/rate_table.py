"""IC accuracy when the real recordings are taken down to lower output rates, with and without an anti-alias
low-pass. Run: ``python -m benchmarks.rate_table`` (data from $IMUWALK_DATA).

A device read at a low rate either low-passes first (a sensor's digital filter set to at most half the output
rate, like the MPU-6050 build of the firmware) or not (a sensor left at its wide default filter and polled
slowly). Three takes on each recording's sample grid, keeping every k-th sample after:
- "aliased": nothing;
- "sensor DLPF": a causal 2nd-order Butterworth low-pass at the bandwidth the firmware's MPU-6050 build picks
  for that rate (the widest of 188/98/42/20/10/5 Hz at most the rate); like the real filter it delays the
  signal (about 11 ms at 20 Hz), so ICs come late by about that much;
- "zero-phase": scipy's polyphase ``resample_poly(x, 1, k)`` (cut-off at the new Nyquist rate, no delay), the
  best a host can do when it resamples a recording itself.
Scored as in ``make table``: one-to-one IC matching inside the annotated region, pooled F1 at 50 / 100 ms.
The detector runs with its defaults at every rate (no retuning).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, resample_poly, sosfilt

import imuwalk
from imuwalk.datasets import load
from imuwalk.evaluate import in_region, match_events

SETS = {"ipol": "IPOL feet", "gaitmap": "gaitmap example", "marpino": "Marpino foot + shank"}
TARGETS_HZ = (50.0, 25.0)


MODES = ("aliased", "sensor DLPF", "zero-phase")
DLPF_BANDWIDTHS_HZ = (188.0, 98.0, 42.0, 20.0, 10.0, 5.0)  # MPU-6050 CONFIG.DLPF_CFG 1..6 (gyro)


def dlpf_bandwidth(rate_hz: float) -> float:
    """The firmware's MPU-6050 choice: the widest DLPF bandwidth (Hz) at most the output rate."""
    return next((b for b in DLPF_BANDWIDTHS_HZ if b <= rate_hz), DLPF_BANDWIDTHS_HZ[-1])


def _take_down(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, k: int, mode: str):
    if k == 1:
        return t, acc, gyr
    if mode == "aliased":
        return t[::k], acc[::k], gyr[::k]
    if mode == "sensor DLPF":
        fs = 1.0 / float(np.median(np.diff(t)))
        sos = butter(2, dlpf_bandwidth(fs / k), fs=fs, output="sos")
        a0 = acc[0]  # start the filter from the first sample, not from zero
        return t[::k], (sosfilt(sos, acc - a0, axis=0) + a0)[::k], sosfilt(sos, gyr - gyr[0], axis=0)[::k] + gyr[0]
    a = resample_poly(acc, 1, k, axis=0)
    g = resample_poly(gyr, 1, k, axis=0)
    tk = t[::k]
    n = min(len(tk), len(a))
    return tk[:n], a[:n], g[:n]


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def score(recs, k: int, mode: str) -> dict[float, tuple[int, int, int]]:
    """Pooled (TP, FP, FN) per tolerance (s) over recordings ``recs`` taken down by ``k``."""
    tot = {0.05: np.zeros(3, int), 0.1: np.zeros(3, int)}
    for r in recs:
        if r.ic is None or len(r.ic) == 0:
            continue
        t, acc, gyr = _take_down(r.t, r.acc, r.gyr, k, mode)
        ev = imuwalk.detect_steps(t, acc, gyr, placement=r.placement).events
        ex = r.meta.get("exclude", ())
        ref = r.ic[in_region(r.ic, r.region, ex)]
        det = ev["t_ic"][in_region(ev["t_ic"], r.region, ex)]
        for tol, acc_ in tot.items():
            tp = len(match_events(ref, det, tol)[0])
            acc_ += (tp, len(det) - tp, len(ref) - tp)
    return {tol: tuple(int(x) for x in v) for tol, v in tot.items()}


def table_lines() -> list[str]:
    """The Markdown table (one row per recording set and lower rate)."""
    out = ["| recordings | native | rate | " + " | ".join(MODES) + " |", "|---|---:|---:|" + "---:|" * len(MODES)]
    for key, label in SETS.items():
        recs = load(key)
        fs = float(np.median([1.0 / np.median(np.diff(r.t)) for r in recs]))
        base = score(recs, 1, "aliased")
        nat = f"{_f1(*base[0.05]):.3f} / {_f1(*base[0.1]):.3f} at {fs:.1f} Hz"
        for target in TARGETS_HZ:
            k = max(1, int(round(fs / target)))
            cells = []
            for mode in MODES:
                s = score(recs, k, mode)
                cells.append(f"{_f1(*s[0.05]):.3f} / {_f1(*s[0.1]):.3f}")
            out.append(f"| {label} | {nat} | {fs / k:.1f} Hz | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    print("IC F1 at 50 / 100 ms; defaults at every rate")
    print("\n".join(table_lines()))


if __name__ == "__main__":
    main()
