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
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from imuwalk.core.rows import FLAG_AUTO_DIRECTION, FLAG_CUE_DISAGREES

_AXES = {"x": 0, "y": 1, "z": 2}
_AXIS_RE = re.compile(r"([+-]?)([xyz])")


def _parse_axis(spec) -> np.ndarray:
    if isinstance(spec, str):
        match = _AXIS_RE.fullmatch(spec.strip().lower())
        if match is None:
            raise ValueError(f"mount axis: expected one of +x,-x,+y,-y,+z,-z (sign optional) or a 3-vector, "
                             f"got {spec!r}")
        v = np.zeros(3)
        v[_AXES[match.group(2)]] = -1.0 if match.group(1) == "-" else 1.0
        return v
    try:
        v = np.asarray(spec, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"mount axis: expected one of +x,-x,+y,-y,+z,-z or a finite non-zero 3-vector, "
                         f"got {spec!r}") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) < 1e-9:
        raise ValueError(f"mount axis: expected a finite non-zero 3-vector, got {spec!r}")
    return v / np.linalg.norm(v)


@dataclass(eq=False)
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
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"Mount.source: expected a non-empty string such as 'given', 'calibration' or "
                             f"'auto', got {self.source!r}")
        if isinstance(self.n_strides, bool) or not isinstance(self.n_strides, (int, np.integer)) \
                or self.n_strides < 0:
            raise ValueError(f"Mount.n_strides: expected a non-negative integer, got {self.n_strides!r}")

    def __eq__(self, other: object) -> bool:
        """Same axis (as the normalized ``right_vec``), side, source and stride count."""
        if not isinstance(other, Mount):
            return NotImplemented
        return (np.array_equal(self.right_vec, other.right_vec) and self.side == other.side
                and self.source == other.source and self.n_strides == other.n_strides)

    __hash__ = None  # type: ignore[assignment]  # mutable, like every non-frozen dataclass with eq

    def to_dict(self) -> dict:
        return {"right": [float(x) for x in self.right_vec], "side": self.side, "source": self.source,
                "n_strides": int(self.n_strides)}

    @classmethod
    def from_dict(cls, d: dict) -> Mount:
        """The mount of a :meth:`to_dict` dict (``right`` required; ``side``, ``source``, ``n_strides``
        optional). Raises ValueError for anything else."""
        if not isinstance(d, Mapping):
            raise ValueError(f"Mount.from_dict: expected a dict with a 'right' key, got {type(d).__name__}")
        if "right" not in d:
            raise ValueError(f"Mount.from_dict: missing key 'right' (the sensor axis pointing to the wearer's "
                             f"right, e.g. '-y' or [0, -1, 0]); got keys {sorted(map(str, d))}")
        n = d.get("n_strides", 0)
        if isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating)) or not (
                math.isfinite(n) and n >= 0 and n == int(n)):
            raise ValueError(f"Mount.from_dict: n_strides must be a non-negative integer, got {n!r}")
        source = d.get("source", "given")
        if not isinstance(source, str):
            raise ValueError(f"Mount.from_dict: source must be a string, got {source!r}")
        return cls(right=d["right"], side=d.get("side", "unknown"), source=source, n_strides=int(n))


def calibrate_mount(events: np.ndarray, *, min_strides: int = 3, side: str = "unknown") -> Mount:
    """A mount from strides known to be forward (e.g. the first strides of a session).

    events: stride rows (STRIDE_DTYPE) with the swing axis columns, a :class:`DetectionResult` (its
    ``.events``), or an (n, 3) array (or nested list) of swing axes. min_strides: an int >= 1.
    Raises ValueError when fewer than ``min_strides`` usable strides are given or when they
    do not agree on one axis.
    """
    if isinstance(min_strides, bool) or not isinstance(min_strides, (int, np.integer)) or min_strides < 1:
        raise ValueError(f"min_strides: expected an int >= 1, got {min_strides!r}")
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
    """(n, 3) unit swing axes of stride rows (or of a DetectionResult, or pass through an (n, 3) array);
    rows with a zero or non-finite axis are dropped. Raises ValueError for anything else."""
    if hasattr(events, "events") and not isinstance(events, np.ndarray):
        events = events.events  # a DetectionResult
    if events is None:
        raise ValueError("events: expected stride rows (STRIDE_DTYPE) or an (n, 3) array of swing axes, got None")
    names = getattr(getattr(events, "dtype", None), "names", None)
    if names is not None:
        missing = [k for k in ("swing_axis_x", "swing_axis_y", "swing_axis_z") if k not in names]
        if missing:
            raise ValueError(f"events: stride rows lack the swing axis field(s) {missing}")
        events = np.asarray(events).reshape(-1)
        ax = np.stack([events["swing_axis_x"], events["swing_axis_y"], events["swing_axis_z"]], axis=1)
        ax = ax.astype(np.float64)
    else:
        try:
            ax = np.asarray(events, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"events: expected stride rows (STRIDE_DTYPE) or an (n, 3) array of swing axes, "
                             f"got {type(events).__name__}") from None
        if ax.shape == (3,):
            ax = ax.reshape(1, 3)
        if ax.ndim != 2 or ax.shape[1] != 3:
            raise ValueError(f"events: expected stride rows (STRIDE_DTYPE) or an (n, 3) array of swing axes, "
                             f"got shape {ax.shape}")
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

    def _update_auto(self, ax, quality: float, weight: float = 1.0) -> None:
        """One vote of the automatic mode: the swing axes of the first confident strides, weighted (by
        peak swing rate: a hesitant first shuffle counts less than a real stride), signed to agree with
        the first, signed again by their weighted majority, averaged."""
        if len(self._votes) >= self.auto_votes or quality < self.min_quality:
            return
        self._votes.append((float(ax[0]), float(ax[1]), float(ax[2]), float(weight)))
        r0, r1, r2, _ = self._votes[0]
        signs = [1.0 if x * r0 + y * r1 + z * r2 >= 0.0 else -1.0 for x, y, z, _ in self._votes]
        if sum(sg * v[3] for sg, v in zip(signs, self._votes, strict=True)) < 0:
            signs = [-sg for sg in signs]  # the weighted majority disagrees with the first vote
        m = [sum(sg * v[3] * v[k] for sg, v in zip(signs, self._votes, strict=True)) for k in range(3)]
        nm = math.sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2])
        self._ref = np.array([m[0] / nm, m[1] / nm, m[2] / nm])

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Fill ``direction``, ``direction_confidence`` and flags of ``rows`` in place; returns rows.

        Rows are taken in order; while the automatic mode is still voting, one at a time (each
        vote can move the reference), then all at once. The arithmetic is per row (Numba), so the
        result does not depend on how rows are batched.
        """
        n = rows.shape[0]
        if n == 0:
            return rows
        if self.auto_:
            rows["flags"] |= FLAG_AUTO_DIRECTION
        i = 0
        while self.auto_ and len(self._votes) < self.auto_votes and i < n:
            x, y, z = float(rows["swing_axis_x"][i]), float(rows["swing_axis_y"][i]), float(rows["swing_axis_z"][i])
            nrm = math.sqrt(x * x + y * y + z * z)
            if nrm > 1e-9:
                self._update_auto((x / nrm, y / nrm, z / nrm), float(rows["quality"][i]),
                                  float(rows["peak_swing_rate"][i]))
            self._decide(rows, i, i + 1)
            i += 1
        if i < n:
            self._decide(rows, i, n)
        return rows

    def _decide(self, rows: np.ndarray, start: int, stop: int) -> None:
        ref = self._ref
        has_ref = ref is not None
        r = ref if has_ref else _ZERO3
        self.cue_warnings_ += int(_decide_rows(
            rows["swing_axis_x"], rows["swing_axis_y"], rows["swing_axis_z"], rows["quality"],
            rows["direction_cue"], rows["direction"], rows["direction_confidence"], rows["flags"],
            start, stop, float(r[0]), float(r[1]), float(r[2]), has_ref, float(self.min_cos),
            FLAG_CUE_DISAGREES))


_ZERO3 = np.zeros(3)


@njit(cache=True, nogil=True)
def _decide_rows(ax, ay, az, quality, cue, direction, confidence, flags, start, stop, r0, r1, r2, has_ref,
                 min_cos, flag_cue):
    """Per-row direction decision (rows start..stop) against the forward swing axis (r0, r1, r2).

    direction +1/-1 when |cos(swing axis, forward axis)| >= min_cos, else 0 (another rotation axis:
    sideways, turning). Returns the number of rows whose mounting-free cue disagrees (flagged).
    """
    n_disagree = 0
    for i in range(start, stop):
        x = ax[i]
        y = ay[i]
        z = az[i]
        nrm = np.sqrt(x * x + y * y + z * z)
        if not nrm > 1e-9 or not has_ref:
            direction[i] = 0
            confidence[i] = 0.0
            continue
        c = (x / nrm) * r0 + (y / nrm) * r1 + (z / nrm) * r2
        a = abs(c)
        if a < min_cos:
            direction[i] = 0
            confidence[i] = (1.0 - a / min_cos) * 0.5
            continue
        d = 1 if c > 0.0 else -1
        direction[i] = d
        conf = min(1.0, max(0.0, 0.5 + 0.5 * ((a - min_cos) / (1.0 - min_cos))))
        confidence[i] = conf * min(1.0, quality[i] + 0.3)
        # the mounting-free cue: skew(w) * skew(dw/dt) > 0 suggests backward
        q = cue[i]
        if abs(q) > 0.3 and (1 if q < 0.0 else -1) != d:
            flags[i] |= flag_cue
            n_disagree += 1
    return n_disagree


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
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"path: expected a file path (str or os.PathLike) or None, got {type(path).__name__}")
        self.path = Path(path) if path is not None else _config_dir() / "mounts.json"

    def __repr__(self) -> str:
        return f"MountStore({str(self.path)!r})"

    @staticmethod
    def _check_id(device_id: object, what: str) -> str:
        if not isinstance(device_id, str) or not device_id.strip():
            raise ValueError(f"MountStore.{what}: device_id must be a non-empty string, got {device_id!r}")
        return device_id

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
        """The stored mount of ``device_id`` or None. Raises ValueError for a malformed entry."""
        device_id = self._check_id(device_id, "get")
        data = self._read()
        if device_id not in data:
            return None
        try:
            return Mount.from_dict(data[device_id])
        except ValueError as e:
            raise ValueError(f"mount store {self.path}: malformed entry for device {device_id!r} ({e}); "
                             "calibrate again or delete the entry") from None

    def put(self, device_id: str, mount: Mount | dict) -> None:
        """Store (atomically replace) the mount of ``device_id`` (a :class:`Mount`, or its dict form)."""
        device_id = self._check_id(device_id, "put")
        if isinstance(mount, Mapping):
            mount = Mount.from_dict(mount)
        if not isinstance(mount, Mount):
            raise ValueError(f"MountStore.put: mount must be an imuwalk.Mount (or its dict form), "
                             f"got {type(mount).__name__}")
        data = self._read()
        data[device_id] = mount.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def devices(self) -> list[str]:
        return sorted(self._read())
