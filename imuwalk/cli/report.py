"""Report figure: signals with strides marked, direction bouts shaded, cadence over time, session summary.

matplotlib (optional extra ``plot``) is imported inside :func:`plot_report` with the Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from imuwalk._optional import require
from imuwalk.core.summary import SessionSummary

__all__ = ["plot_report", "FORWARD_COLOR", "BACKWARD_COLOR", "OTHER_COLOR"]

FORWARD_COLOR = "#2ca02c"
BACKWARD_COLOR = "#9b30d9"
OTHER_COLOR = "#ff9f1c"
_COLORS = {1: FORWARD_COLOR, -1: BACKWARD_COLOR, 0: OTHER_COLOR}
_MAX_POINTS = 60_000


def _decimate(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min/max envelope decimation so long recordings plot fast without hiding peaks."""
    n = len(t)
    if n <= _MAX_POINTS:
        return t, y
    k = int(math.ceil(n / (_MAX_POINTS / 2)))
    m = (n // k) * k
    tt = t[:m].reshape(-1, k)
    yy = y[:m].reshape(-1, k, *y.shape[1:])
    t2 = np.repeat(tt[:, 0], 2)
    y2 = np.empty((2 * yy.shape[0], *y.shape[1:]))
    y2[0::2] = yy.min(axis=1)
    y2[1::2] = yy.max(axis=1)
    return t2, y2


def plot_report(out: str | Path, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray, rows: np.ndarray,
                summary: SessionSummary, title: str = "imuwalk session", dpi: int = 110) -> Path:
    """Write the report figure to ``out`` (.png or .pdf; by extension). Returns the path.

    t : (N,) s; acc : (N, 3) m/s²; gyr : (N, 3) rad/s; rows : STRIDE_DTYPE strides on the same time base;
    summary : the session summary of ``rows``.
    """
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"out: unsupported report format {out.suffix or '(none)'!r}; use .png or .pdf")
    t = np.asarray(t, float)
    acc = np.asarray(acc, float)
    gyr = np.asarray(gyr, float)
    if t.ndim != 1 or acc.shape != (len(t), 3) or gyr.shape != (len(t), 3):
        raise ValueError(f"t/acc/gyr: expected shapes (N,), (N,3), (N,3); "
                         f"got {t.shape}, {acc.shape}, {gyr.shape}")
    if len(t) < 2:
        raise ValueError("t: the recording has fewer than 2 samples; nothing to plot")

    matplotlib = require("matplotlib", "the session report (imuwalk report)")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig = plt.figure(figsize=(12, 9.5), dpi=dpi)
    gs = fig.add_gridspec(4, 1, height_ratios=[3, 2, 2, 1.3], hspace=0.6)
    ax_g = fig.add_subplot(gs[0])
    ax_a = fig.add_subplot(gs[1], sharex=ax_g)
    ax_c = fig.add_subplot(gs[2], sharex=ax_g)
    ax_s = fig.add_subplot(gs[3])

    for ax in (ax_g, ax_a, ax_c):
        for b in summary.bouts:
            ax.axvspan(b.start_s, b.end_s, color=_COLORS[b.direction], alpha=0.13, lw=0)
        ax.grid(alpha=0.3)

    # gyroscope: all axes, the sagittal (largest-variance) one emphasized
    td, gd = _decimate(t, gyr)
    sag = int(np.argmax(np.nanvar(gyr, axis=0)))
    for i, name in enumerate("xyz"):
        ax_g.plot(td, gd[:, i], lw=1.2 if i == sag else 0.6, alpha=1.0 if i == sag else 0.45,
                  color=("C0", "C1", "C2")[i], label=f"gyr {name}" + (" (sagittal)" if i == sag else ""))
    if len(rows):
        g_at = np.interp(rows["t_ic"], t, gyr[:, sag])
        ax_g.scatter(rows["t_ic"], g_at, marker="v", s=22, zorder=5,
                     c=[_COLORS.get(int(d), OTHER_COLOR) for d in rows["direction"]], edgecolors="k",
                     linewidths=0.4, label="initial contact")
        fc = rows["t_fc"][np.isfinite(rows["t_fc"])]
        ax_g.scatter(fc, np.interp(fc, t, gyr[:, sag]), marker="^", s=14, zorder=5, c="none",
                     edgecolors="k", linewidths=0.6, label="final contact")
    ax_g.set_ylabel("angular rate (rad/s)")
    lo, hi = ax_g.get_ylim()
    ax_g.set_ylim(lo, hi + 0.35 * (hi - lo))  # room for the legend
    ax_g.set_title(title, loc="left", fontweight="bold")
    handles, labels = ax_g.get_legend_handles_labels()
    handles += [Patch(color=FORWARD_COLOR, alpha=0.3), Patch(color=BACKWARD_COLOR, alpha=0.3)]
    labels += ["forward bout", "backward bout"]
    ax_g.legend(handles, labels, loc="upper right", fontsize=7, ncol=4, framealpha=0.85)

    td, nd = _decimate(t, np.linalg.norm(acc, axis=1))
    ax_a.plot(td, nd, lw=0.7, color="0.25")
    ax_a.set_ylabel("|acc| (m/s²)")

    if len(rows):
        cad = _cadence_per_stride(rows, summary)
        ok = np.isfinite(cad)
        for d, name in ((1, "forward"), (-1, "backward"), (0, "other")):
            m = ok & (rows["direction"] == d)
            if m.any():
                ax_c.plot(rows["t_ic"][m], cad[m], "o", ms=3.5, color=_COLORS[d], label=name)
        if ok.any():
            ax_c.legend(loc="upper right", fontsize=7)
    else:
        ax_c.text(0.5, 0.5, "no strides detected", transform=ax_c.transAxes, ha="center", va="center")
    ax_c.set_ylabel("cadence (steps/min)")
    ax_c.set_xlabel("time (s)")
    ax_c.set_xlim(t[0], t[-1])

    # summary: backward minutes vs the daily goal + the numbers
    goal = summary.goal_minutes
    ax_s.barh([0], [goal], color="0.9", edgecolor="0.6", height=0.5)
    ax_s.barh([0], [min(summary.backward_minutes, goal)], color=BACKWARD_COLOR, height=0.5)
    ax_s.set_xlim(0, goal * 1.02)
    ax_s.set_yticks([])
    ax_s.set_xlabel("backward walking (min)")
    ax_s.set_title(
        f"Backward {summary.backward_minutes:.2f} of {goal:g} min goal "
        f"({summary.goal_percent_text})   |   "
        f"forward {summary.steps_forward} steps, {summary.forward_minutes:.2f} min, "
        f"{_fmt_cad(summary.cadence_forward_spm)}   |   backward {summary.steps_backward} steps, "
        f"{_fmt_cad(summary.cadence_backward_spm)}   |   {len(summary.bouts)} bouts",
        fontsize=9, loc="left",
    )
    fig.savefig(out, format=fmt, bbox_inches="tight")
    plt.close(fig)
    return out


def _cadence_per_stride(rows: np.ndarray, summary: SessionSummary) -> np.ndarray:
    """Steps/min of each stride = 120 / (t_ic - previous t_ic) inside its bout (NaN for a bout's first)."""
    t_ic = rows["t_ic"]
    cad = np.full(len(rows), np.nan)
    for b in summary.bouts:
        idx = np.flatnonzero((t_ic >= b.start_s) & (t_ic <= b.end_s))
        if len(idx) > 1:
            dt = np.diff(t_ic[idx])
            with np.errstate(divide="ignore"):
                cad[idx[1:]] = np.where(dt > 0, 120.0 / dt, np.nan)
    return cad


def _fmt_cad(x: float) -> str:
    return "cadence -" if not math.isfinite(x) else f"{x:.0f} steps/min"
