"""Direction accuracy on the UCI forward/backward/sideways foot recordings, three mount modes, plus the
mounting-free cue. Run: ``python -m benchmarks.direction_table`` (data from $IMUWALK_DATA).

Scored: strides whose IC falls in a forward/backward/sideways segment (transition/still not scored).
forward = share classified +1; backward = share classified -1; sideways = share classified -1.
Cue: skew(w)·skew(dw/dt) over the stride, > 0 suggests backward (gait-science notes); its share of
forward strides with cue < 0 and of backward strides with cue > 0.
"""

from __future__ import annotations

import numpy as np

import imuwalk
from imuwalk.core.direction import Mount, calibrate_mount
from imuwalk.datasets import load


def _segments(r, ev):
    out = {}
    for lab in ("forward", "backward", "sideways"):
        m = np.zeros(len(ev), bool)
        for a, b, lbl in r.segments:
            if lbl == lab:
                m |= (ev["t_ic"] >= a) & (ev["t_ic"] < b)
        out[lab] = ev[m]
    return out


def main() -> None:
    recs = load("uci_backward")
    by_subject: dict[str, list] = {}
    for r in recs:
        by_subject.setdefault(r.meta["subject"], []).append(r)
    modes = {"automatic (no mount)": {}, "explicit Mount(right='+y')": {}, "calibrated on the other recording": {}}
    for r in recs:
        modes["automatic (no mount)"][r.name] = None
        modes["explicit Mount(right='+y')"][r.name] = Mount(right="+y", side="left")
        other = [o for o in by_subject[r.meta["subject"]] if o is not r][0]
        ev = imuwalk.detect_steps(other.t, other.acc, other.gyr, placement="foot").events
        fwd0 = next(a for a, b, lbl in other.segments if lbl == "forward")
        modes["calibrated on the other recording"][r.name] = calibrate_mount(ev[ev["t_ic"] >= fwd0][:5])
    print("| mount mode | forward → +1 | backward → −1 | sideways → −1 | strides (fwd/bwd/side) |")
    print("|---|---:|---:|---:|---|")
    cue = {"forward": [], "backward": []}
    for mode, mounts in modes.items():
        pooled = {"forward": [], "backward": [], "sideways": []}
        for r in recs:
            ev = imuwalk.detect_steps(r.t, r.acc, r.gyr, placement="foot", mount=mounts[r.name]).events
            for lab, e in _segments(r, ev).items():
                pooled[lab].append(e)
                if mode.startswith("automatic") and lab in cue:
                    cue[lab].append(e["direction_cue"])
        p = {k: np.concatenate(v) for k, v in pooled.items()}
        print(f"| {mode} | {np.mean(p['forward']['direction'] == 1):.3f} | "
              f"{np.mean(p['backward']['direction'] == -1):.3f} | {np.mean(p['sideways']['direction'] == -1):.3f} | "
              f"{len(p['forward'])}/{len(p['backward'])}/{len(p['sideways'])} |")
    f = np.concatenate(cue["forward"])
    b = np.concatenate(cue["backward"])
    print()
    print(f"mounting-free cue skew(w)*skew(dw/dt): forward strides with cue < 0: {np.mean(f < 0):.3f}; "
          f"backward strides with cue > 0: {np.mean(b > 0):.3f}")


if __name__ == "__main__":
    main()
