"""Regenerate the README/CLI images with the project's own commands.

    .venv/bin/python docs/img/make_images.py

1. runs ``imuwalk demo --duration 40 --record <tmp>.h5`` in a real terminal (tmux, 120x32), captures
   the screen (with colours) while the dashboard is live, and renders it to ``docs/img/dashboard.png``
   (monospace text drawn by matplotlib; no ImageMagick needed);
2. runs ``imuwalk report <tmp>.h5 -o docs/img/report.png`` on the demo's recording.
Needs tmux and the ``cli`` + ``plot`` extras.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def ansi_screen_to_png(ansi: str, out: Path, cols: int = 120, font_size: float = 11.0,
                       dpi: int = 100) -> Path:
    """Render a captured terminal screen (text with ANSI colour codes) to a PNG, dark background."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from rich.text import Text

    lines = ansi.rstrip("\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    rows = len(lines)
    cw, ch = 0.6 * font_size / 72.0, 1.25 * font_size / 72.0  # cell size, inch
    pad = 0.2
    fig = plt.figure(figsize=(cols * cw + 2 * pad, rows * ch + 2 * pad), dpi=dpi)
    fig.patch.set_facecolor("#1e1e2e")
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(-pad / cw, cols + pad / cw)
    ax.set_ylim(rows + pad / ch, -pad / ch)
    ax.axis("off")
    default = "#cdd6f4"
    for r, line in enumerate(lines):
        text = Text.from_ansi(line)
        plain = text.plain
        styles = [None] * len(plain)
        for span in text.spans:
            for i in range(span.start, min(span.end, len(plain))):
                styles[i] = span.style
        i = 0
        while i < len(plain):
            j = i
            while j < len(plain) and styles[j] == styles[i]:
                j += 1
            chunk = plain[i:j]
            if chunk.strip():
                st = styles[i]
                color, weight = default, "normal"
                if st is not None and not isinstance(st, str):
                    if st.color is not None and st.color.get_truecolor() is not None:
                        tc = st.color.get_truecolor()
                        color = f"#{tc.red:02x}{tc.green:02x}{tc.blue:02x}"
                    if st.bold:
                        weight = "bold"
                    if st.dim:
                        color = "#7f849c"
                for k, c in enumerate(chunk):  # one cell per character keeps the grid exact
                    if c != " ":
                        ax.text(i + k + 0.5, r + 0.5, c, color=color, family="DejaVu Sans Mono",
                                fontsize=font_size, fontweight=weight, ha="center", va="center")
            i = j
    fig.savefig(out, dpi=dpi, facecolor=fig.get_facecolor())
    plt.close(fig)
    return out


def main() -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "demo.h5"
        session = f"imuwalk-img-{os.getpid()}"
        cmd = f"{sys.executable} -m imuwalk.cli.main demo --duration 40 --record {rec}; sleep 30"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "32",
                        "-e", f"PYTHONPATH={env['PYTHONPATH']}", "-e", "COLORTERM=truecolor", cmd],
                       check=True)
        try:
            time.sleep(38)  # late in the walk: forward and backward bouts both on screen
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session], check=True,
                                    capture_output=True, text=True).stdout
            while not rec.exists() or subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout.count("Backward:") == 0:
                time.sleep(0.5)
            time.sleep(1.0)
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        ansi_screen_to_png(screen, HERE / "dashboard.png")
        subprocess.run([sys.executable, "-m", "imuwalk.cli.main", "report", str(rec), "-o",
                        str(HERE / "report.png"), "--force", "--goal", "10",
                        "--title", "imuwalk demo: emulated shank IMU, forward and backward walking"],
                       check=True, env=env)
    print("wrote", HERE / "dashboard.png", HERE / "report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
