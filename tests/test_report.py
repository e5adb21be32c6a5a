"""Report figure: a real PNG/PDF whose pixels show the plot (size, not blank, bouts shaded in colour)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from imuwalk.cli.report import BACKWARD_COLOR, FORWARD_COLOR, plot_report
from imuwalk.core.summary import summarize

sys.path.insert(0, str(Path(__file__).parent))
from test_summary import make_rows  # noqa: E402


def _signals(rows, rate=100.0):
    t = np.arange(0.0, float(rows["t_ic"][-1]) + 2.0, 1.0 / rate)
    gyr = np.zeros((len(t), 3))
    acc = np.zeros((len(t), 3))
    acc[:, 2] = 9.81
    for r in rows:  # a swing lobe per stride, sign by direction
        m = (t >= r["t_fc"]) & (t <= r["t_ic"])
        gyr[m, 1] = 4.0 * r["direction"] * np.sin(np.pi * (t[m] - r["t_fc"]) / (r["t_ic"] - r["t_fc"]))
        acc[np.abs(t - r["t_ic"]) < 0.02, 2] += 15.0
    return t, acc, gyr


def _hex_rgb(h):
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0


def test_png_shows_plot_with_shaded_bouts(tmp_path):
    import matplotlib.image as mpimg

    rows = make_rows([(1, 20, 1.0, 0.0), (-1, 25, 1.1, 6.0)])
    t, acc, gyr = _signals(rows)
    s = summarize(rows, goal_minutes=1.0)
    out = plot_report(tmp_path / "r.png", t, acc, gyr, rows, s, title="synthetic session")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)[..., :3]
    h, w = img.shape[:2]
    assert w >= 1000 and h >= 800
    assert img.std() > 0.05  # not blank
    nonwhite = (img < 0.97).any(axis=2).mean()
    assert 0.05 < nonwhite < 0.9
    # shaded bouts: alpha-blended forward green and backward purple over white are present
    for col in (FORWARD_COLOR, BACKWARD_COLOR):
        rgb = _hex_rgb(col)
        shade = 1.0 - 0.13 * (1.0 - rgb)
        close = (np.abs(img - shade) < 0.03).all(axis=2).mean()
        assert close > 0.005, col
    # goal bar drawn in the backward colour (solid)
    solid = (np.abs(img - _hex_rgb(BACKWARD_COLOR)) < 0.05).all(axis=2).mean()
    assert solid > 0.001


def test_pdf_and_bad_arguments(tmp_path):
    rows = make_rows([(1, 5, 1.0, 0.0)])
    t, acc, gyr = _signals(rows)
    out = plot_report(tmp_path / "r.pdf", t, acc, gyr, rows, summarize(rows))
    assert out.read_bytes()[:5] == b"%PDF-" and out.stat().st_size > 5000
    with pytest.raises(ValueError, match="out"):
        plot_report(tmp_path / "r.txt", t, acc, gyr, rows, summarize(rows))
    with pytest.raises(ValueError, match="acc"):
        plot_report(tmp_path / "r.png", t, acc[:10], gyr, rows, summarize(rows))


def test_no_strides_still_draws(tmp_path):
    import matplotlib.image as mpimg

    t = np.arange(0, 10, 0.01)
    acc = np.tile([0, 0, 9.81], (len(t), 1))
    gyr = np.zeros((len(t), 3))
    rows = make_rows([])
    out = plot_report(tmp_path / "e.png", t, acc, gyr, rows, summarize(rows))
    assert mpimg.imread(out)[..., :3].std() > 0.05
