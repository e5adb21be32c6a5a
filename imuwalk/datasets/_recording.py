"""The common form of one public-dataset recording (see ``imuwalk.datasets``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class GaitRecording:
    """One IMU recording in imuwalk units, with whatever ground truth its dataset provides.

    Attributes
    ----------
    name : e.g. ``"ipol/1-1/left"``.
    dataset : manifest name, e.g. ``"ipol"``.
    t : (N,) float64 s, strictly increasing (real gaps kept, duplicate samples dropped).
    acc : (N, 3) m/s² incl. gravity (specific force, +g on an up-pointing axis at rest), sensor frame.
    gyr : (N, 3) rad/s, sensor frame.
    placement : ``"foot"`` | ``"shank"`` | ``"ankle"``.
    side : ``"left"`` | ``"right"`` | ``"unknown"``.
    ic : ground-truth initial contacts (heel strike / landing), s; None without timing ground truth.
    fc : ground-truth final contacts (toe-off / lift-off), s; None when not available.
    region : (start_s, end_s) inside which ``ic``/``fc`` are complete (score only there); None if no GT.
    segments : direction segments ``(start_s, end_s, label)``, label in forward/backward/sideways/still/
        transition; empty when unknown. Score direction only inside forward/backward/sideways segments.
    n_contacts_ref : reference contact count (e.g. FSR pulses) when timing is not scored, else None.
    meta : dataset-specific extras (``exclude``: list of (a, b) s intervals inside ``region`` not to score;
        ``rate_hz``: nominal rate; subject ids, file names, ...).
    """

    name: str
    dataset: str
    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    placement: str
    side: str
    ic: np.ndarray | None = None
    fc: np.ndarray | None = None
    region: tuple[float, float] | None = None
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    n_contacts_ref: int | None = None
    meta: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Recording length, s."""
        return float(self.t[-1] - self.t[0]) if len(self.t) else 0.0

    @property
    def rate_hz(self) -> float:
        """Median sampling rate, Hz."""
        return float(1.0 / np.median(np.diff(self.t))) if len(self.t) > 1 else float("nan")

    def __repr__(self) -> str:
        n_ic = "None" if self.ic is None else len(self.ic)
        return (
            f"GaitRecording({self.name!r}, N={len(self.t)}, {self.duration_s:.1f} s, "
            f"{self.placement}/{self.side}, ic={n_ic}, segments={len(self.segments)})"
        )
