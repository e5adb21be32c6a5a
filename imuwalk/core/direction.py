"""Walking direction per stride: the mount, its calibration and persistence, the decision.

Physics (see docs): backward walking is close to forward walking played backward in time, so the
swing lobe of the sagittal angular rate flips sign. The kernel reports, per stride, the *swing axis*:
the unit rotation axis of the swing lobe in sensor coordinates (``swing_sign * e``). Forward swing of
either leg rotates about the axis pointing to the wearer's **right** (right-hand rule, x forward,
z up). So, with the wearer's right axis ``r`` in sensor coordinates known (the :class:`Mount`),
``direction = sign(swing_axis · r)``; strides whose swing axis is far from ``±r`` (sideways stepping,
turning on the spot) get 0.

Three ways to know ``r``:
1. an explicit :class:`Mount`;
2. a calibration from a few forward strides (:func:`calibrate_mount`), persisted per device in a
   small JSON file (:class:`MountStore`);
3. automatic: with no mount, the dominant swing axis of the first confident strides is taken as
   forward; rows then carry ``FLAG_AUTO_DIRECTION``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imuwalk.core.rows import FLAG_AUTO_DIRECTION, FLAG_CUE_DISAGREES

_AXES = {"x": 0, "y": 1, "z": 2}


def _parse_axis(spec) -> np.ndarray:
    if isinstance(spec, str):
        s = spec.strip().lower()
        sign = -1.0 if s.startswith("-") else 1.0
        name = s.lstrip("+-")
        if name not in _AXES:
            raise ValueError(f"mount axis: expected one of +x,-x,+y,-y,+z,-z, got {spec!r}")
        v = np.zeros(3)
        v[_AXES[name]] = sign
        return v
    v = np.asarray(spec, dtype=np.float64).reshape(-1)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-9:
        raise ValueError(f"mount axis: expected a finite non-zero 3-vector, got {spec!r}")
    return v / np.linalg.norm(v)


@dataclass
class Mount:
    """How the sensor sits on the leg.

    right: the sensor-frame axis pointing to the wearer's right, as ``"+x"``/``"-y"``/... or a
    3-vector. side: ``"left"``/``"right"``/``"unknown"`` (metadata: the sagittal rule does not depend
    on the leg). source: how the mount was obtained (``"given"``, ``"calibration"``, ``"auto"``).
    """

    right: object = "-y"
    side: str = "unknown"
    source: str = "given"
    n_strides: int = 0
    right_vec: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        self.right_vec = _parse_axis(self.right)
        if self.side not in ("left", "right", "unknown"):
            raise ValueError(f"Mount.side: expected 'left', 'right' or 'unknown', got {self.side!r}")

    def to_dict(self) -> dict:
        return {"right": [float(x) for x in self.right_vec], "side": self.side, "source": self.source,
                "n_strides": int(self.n_strides)}

    @classmethod
    def from_dict(cls, d: dict) -> Mount:
        return cls(right=d["right"], side=d.get("side", "unknown"), source=d.get("source", "given"),
                   n_strides=int(d.get("n_strides", 0)))


def calibrate_mount(events: np.ndarray, *, min_strides: int = 3, side: str = "unknown") -> Mount:
    """A mount from strides known to be forward (e.g. the first strides of a session).

    events: stride rows (STRIDE_DTYPE) with the swing axis columns, or an (n, 3) array of swing
    axes. Raises ValueError when fewer than ``min_strides`` usable strides are given or when they
    do not agree on one axis.
    """
    ax = swing_axes(events)
    if ax.shape[0] < min_strides:
        raise ValueError(f"calibrate_mount: need at least {min_strides} forward strides, got {ax.shape[0]}")
    # the principal direction of the axes, signed by their majority
    ref = ax[0]
    signs = np.sign(ax @ ref)
    m = (ax * signs[:, None]).mean(axis=0)
    if signs.sum() < 0:
        m = -m
    agree = np.abs(ax @ (m / np.linalg.norm(m)))
    if np.median(agree) < 0.7:
        raise ValueError("calibrate_mount: the strides' swing axes do not agree (not straight forward walking?)")
    return Mount(right=m / np.linalg.norm(m), side=side, source="calibration", n_strides=int(ax.shape[0]))


def swing_axes(events: np.ndarray) -> np.ndarray:
    """(n, 3) unit swing axes of stride rows (or pass through an (n, 3) array)."""
    if events.dtype.names is not None:
        ax = np.stack([events["swing_axis_x"], events["swing_axis_y"], events["swing_axis_z"]], axis=1)
    else:
        ax = np.asarray(events, dtype=np.float64).reshape(-1, 3)
    nrm = np.linalg.norm(ax, axis=1)
    ok = nrm > 1e-9
    return ax[ok] / nrm[ok, None]


class DirectionDecider:
    """Assigns direction to stride rows in emission order (deterministic, so chunk-invariant).

    mount: a :class:`Mount` or None for the automatic mode. min_cos: |swing_axis · right| below this
    gives direction 0 (the swing rotates about another axis: sideways, turning). auto_votes: in the
    automatic mode, the first ``auto_votes`` confident strides vote on which swing axis is forward.
    """

    def __init__(self, mount: Mount | None = None, *, min_cos: float = 0.6, auto_votes: int = 5,
                 min_quality: float = 0.3):
        self.mount = mount
        self.min_cos = min_cos
        self.auto_votes = auto_votes
        self.min_quality = min_quality
        self._ref: np.ndarray | None = None if mount is None else mount.right_vec.copy()
        self._votes: list[np.ndarray] = []
        self.auto_ = mount is None
        self.cue_warnings_ = 0

    @property
    def reference_(self) -> np.ndarray | None:
        """Current forward swing axis (sensor frame) or None before any confident stride."""
        return self._ref

    def _update_auto(self, ax: np.ndarray, quality: float) -> None:
        if len(self._votes) >= self.auto_votes or quality < self.min_quality:
            return
        self._votes.append(ax.copy())
        v = np.array(self._votes)
        ref = v[0]
        s = np.sign(v @ ref)
        s[s == 0] = 1.0
        if s.sum() < 0:  # majority disagrees with the first: the first was the minority direction
            ref = -ref
            s = -s
        m = (v * s[:, None]).mean(axis=0)
        self._ref = m / np.linalg.norm(m)

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Fill ``direction``, ``direction_confidence`` and flags of ``rows`` in place; returns rows.

        Rows are taken in order; while the automatic mode is still voting, one at a time (each
        vote can move the reference), then all at once.
        """
        n = rows.shape[0]
        if n == 0:
            return rows
        ax = np.stack([rows["swing_axis_x"], rows["swing_axis_y"], rows["swing_axis_z"]], axis=1)
        # elementwise (not BLAS/reductions) so that results do not depend on how rows are batched
        nrm = np.sqrt(ax[:, 0] * ax[:, 0] + ax[:, 1] * ax[:, 1] + ax[:, 2] * ax[:, 2])
        valid = nrm > 1e-9
        ax[valid] /= nrm[valid, None]
        if self.auto_:
            rows["flags"] |= FLAG_AUTO_DIRECTION
        i = 0
        while self.auto_ and len(self._votes) < self.auto_votes and i < n:
            if valid[i]:
                self._update_auto(ax[i], float(rows["quality"][i]))
            self._decide(rows[i:i + 1], ax[i:i + 1], valid[i:i + 1])
            i += 1
        if i < n:
            self._decide(rows[i:], ax[i:], valid[i:])
        return rows

    def _decide(self, rows: np.ndarray, ax: np.ndarray, valid: np.ndarray) -> None:
        """Vectorized decision for rows with unit swing axes ``ax`` (rows where ``valid``)."""
        if self._ref is None:
            rows["direction"] = 0
            rows["direction_confidence"] = 0.0
            return
        r = self._ref
        c = ax[:, 0] * r[0] + ax[:, 1] * r[1] + ax[:, 2] * r[2]
        a = np.abs(c)
        side = a < self.min_cos
        d = np.where(side, 0, np.where(c > 0, 1, -1)).astype(np.int8)
        conf_other = (1.0 - a / self.min_cos) * 0.5
        conf = (a - self.min_cos) / (1.0 - self.min_cos)
        conf_dir = np.clip(0.5 + 0.5 * conf, 0.0, 1.0) * np.minimum(1.0, rows["quality"] + 0.3)
        d[~valid] = 0
        rows["direction"] = d
        rows["direction_confidence"] = np.where(valid, np.where(side, conf_other, conf_dir), 0.0)
        # the mounting-free cue: skew(w) * skew(dw/dt) > 0 suggests backward
        cue = rows["direction_cue"]
        disagree = valid & (d != 0) & (np.abs(cue) > 0.3) & (np.sign(-cue) != d)
        if disagree.any():
            rows["flags"][disagree] |= FLAG_CUE_DISAGREES
            self.cue_warnings_ += int(disagree.sum())


def _config_dir() -> Path:
    base = os.environ.get("IMUWALK_CONFIG") or os.environ.get("XDG_CONFIG_HOME")
    if os.environ.get("IMUWALK_CONFIG"):
        return Path(base).expanduser()
    return (Path(base).expanduser() if base else Path.home() / ".config") / "imuwalk"


class MountStore:
    """Mounts persisted per device id in a small JSON file.

    path: the file (default ``$IMUWALK_CONFIG/mounts.json`` or ``~/.config/imuwalk/mounts.json``).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else _config_dir() / "mounts.json"

    def _read(self) -> dict:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"mount store {self.path}: unreadable ({e})") from e
        if not isinstance(data, dict):
            raise ValueError(f"mount store {self.path}: expected a JSON object")
        return data

    def get(self, device_id: str) -> Mount | None:
        """The stored mount of ``device_id`` or None."""
        d = self._read().get(str(device_id))
        return Mount.from_dict(d) if d else None

    def put(self, device_id: str, mount: Mount) -> None:
        """Store (atomically replace) the mount of ``device_id``."""
        if not str(device_id):
            raise ValueError("MountStore.put: device_id must be a non-empty string")
        data = self._read()
        data[str(device_id)] = mount.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def devices(self) -> list[str]:
        return sorted(self._read())
