"""Synthetic leg-IMU gait with exact ground truth (forward / backward / sideways / still).

Leg frame (before the mount rotation): **x up** along the shank (foot: dorsal normal), **y right**
(medio-lateral), **z forward** (shank anterior; foot toward the toes); right-handed. At rest the sensor reads
acc ≈ (+9.81, 0, 0) m/s². The sagittal angular rate is gyr_y, positive when the distal end swings forward
(so the forward-walking swing lobe is positive).

Model, per stride (stride windows run mid-stance → mid-stance, so every stride holds one toe-off ``fc``
followed by one initial contact ``ic``):

* sagittal rate ω(φ) (φ = phase from IC): swing lobe (shank 3–6 rad/s walking, 8–10 jogging; foot ×1.6),
  a dip at toe-off, a dip right after IC (foot: a sharp "foot slap"), a slow stance lobe (shank) or a late
  heel-rise lobe (foot, flat ~0 in mid-stance) sized so that ∫ω = 0 over the stride (no pitch drift);
* pitch θ = ∫ω dt (cumulative), small roll/yaw = 10–20 % copies of it; the gyro is the body rate of that
  orientation and the accelerometer is the specific force Rᵀ(a + g), so acc and gyr are consistent;
* linear acceleration of the sensor: minimum-jerk forward displacement during swing plus a foot-clearance
  bump; a 2–5 g damped impact transient (~30 ms) along the leg at every IC;
* backward strides are forward strides played backward: ω_BW(u) = −ω_FW(1−u), θ_BW(u) = θ_FW(1−u),
  a_BW(u) = a_FW(1−u), slower (default 0.8 m/s) with the same cadence ±10 % and a smaller swing lobe; the
  impact is added afterwards at the landing, so it FOLLOWS the swing in both directions;
* sideways strides rotate mainly in the frontal plane (roll), with a small sagittal lobe of random sign;
* stride-to-stride variability ±3 % timing, ±10 % amplitude; gyro white noise + constant bias, acc noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

G = 9.80665
LABELS = ("forward", "backward", "sideways", "still")
PLACEMENTS = ("shank", "foot", "ankle")
DEFAULT_SPEED = {"forward": 1.3, "backward": 0.8, "sideways": 0.5, "still": 0.0}


@dataclass
class GeneratedWalk:
    """A synthetic recording and its exact ground truth.

    t (N,) s; acc (N, 3) m/s² incl. gravity; gyr (N, 3) rad/s (sensor frame = rotation @ leg frame).
    ic, fc, stride_direction: one entry per stride, sorted by ic (s, s, +1/−1/0); within a stride
    fc < ic. stride_bounds (n, 2) s. segments [(start_s, end_s, label)]. rotation (3, 3): leg → sensor.

    Convention: ``ic`` is where the swing's sagittal rate crosses zero, and the landing impact is placed
    there. Detectors that take IC from the dip after the swing do so by design: the shank literature
    (Aminian et al. 2002) and imuwalk, whose shank ICs fall 30 ms after ``ic`` when walking and 70 ms
    after it when running. Score generated gait with that in mind, or with a wider tolerance.
    """

    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    ic: np.ndarray
    fc: np.ndarray
    stride_direction: np.ndarray
    stride_bounds: np.ndarray
    segments: list[tuple[float, float, str]]
    placement: str
    side: str
    rotation: np.ndarray
    rate_hz: float
    meta: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- validation
def _check_rotation(rotation, rng) -> np.ndarray:
    if rotation is None:
        return np.eye(3)
    if isinstance(rotation, str):
        if rotation != "random":
            raise ValueError(f"rotation: expected None, 'random' or a 3x3 matrix, got {rotation!r}")
        from scipy.spatial.transform import Rotation

        return Rotation.random(random_state=rng.integers(2**31)).as_matrix()
    R = np.asarray(rotation, dtype=np.float64)
    if R.shape != (3, 3) or not np.all(np.isfinite(R)):
        raise ValueError(f"rotation: expected a finite 3x3 matrix, got shape {R.shape}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
        raise ValueError("rotation: not a proper rotation matrix (R @ R.T != I or det(R) != +1)")
    return R


def _parse_segments(segments, duration_s) -> list[tuple[float, str, float, float | None]]:
    if segments is None:
        d = 60.0 if duration_s is None else duration_s
        segments = [(d, "forward")]
    if not isinstance(segments, (list, tuple)) or len(segments) == 0:
        raise ValueError("segments: expected a non-empty list of (duration_s, label[, speed_mps[, cadence]])")
    out = []
    for i, seg in enumerate(segments):
        if not isinstance(seg, (list, tuple)) or not 2 <= len(seg) <= 4:
            raise ValueError(f"segments[{i}]: expected (duration_s, label[, speed_mps[, cadence_spm]])")
        dur, label = float(seg[0]), seg[1]
        if not np.isfinite(dur) or dur <= 0:
            raise ValueError(f"segments[{i}]: duration must be > 0 s, got {seg[0]!r}")
        if label not in LABELS:
            raise ValueError(f"segments[{i}]: label must be one of {LABELS}, got {label!r}")
        speed = float(seg[2]) if len(seg) > 2 and seg[2] is not None else DEFAULT_SPEED[label]
        if label != "still" and not (0.1 <= speed <= 6.0):
            raise ValueError(f"segments[{i}]: speed must be 0.1–6 m/s, got {speed!r}")
        cad = float(seg[3]) if len(seg) > 3 and seg[3] is not None else None
        if cad is not None and not (40.0 <= cad <= 240.0):
            raise ValueError(f"segments[{i}]: cadence must be 40–240 steps/min, got {cad!r}")
        out.append((dur, label, speed, cad))
    total = sum(s[0] for s in out)
    if duration_s is not None:
        if duration_s < total - 1e-9:
            raise ValueError(f"duration_s: {duration_s} s is shorter than the segments ({total} s)")
        if duration_s > total + 1e-9:
            out.append((duration_s - total, "still", 0.0, None))
    return out


# --------------------------------------------------------------------------- stride model
def _stride_params(label: str, speed: float, cadence: float | None, foot: bool, rng) -> dict:
    """Nominal parameters of one segment's strides."""
    v_fw = speed / 0.6 if label == "backward" else speed  # backward: cadence of a forward walk ~1.7x faster
    jog = label == "forward" and speed >= 2.0
    if cadence is not None:
        T = 120.0 / cadence
    elif jog:
        T = float(np.clip(0.78 - 0.03 * (speed - 2.0), 0.6, 0.8))
    else:
        T = float(np.clip(1.12 - 0.18 * (v_fw - 1.3), 0.9, 1.4))
    if label == "backward":
        T *= 1.0 + rng.uniform(-0.1, 0.1)
    sf = 0.6 if jog else 0.4  # swing fraction (jogging: shorter stance)
    if jog:
        peak = float(np.clip(8.0 + 0.8 * (speed - 2.0), 8.0, 10.0))
    else:
        peak = float(np.clip(1.6 + 2.6 * speed, 3.0, 6.5))
    if label == "backward":
        peak = float(np.clip(1.6 + 2.6 * v_fw, 3.0, 6.5)) * 0.65
    if label == "sideways":
        peak = 2.5
    if foot:
        peak *= 1.6
    stride_len = speed * T
    imp = (5.0 if jog else 3.5) * {"backward": 0.7, "sideways": 0.6}.get(label, 1.0)
    return {"T": T, "sf": sf, "peak": peak, "L": stride_len, "impact_g": imp, "jog": jog}


def _gauss(u, c, s):
    return np.exp(-0.5 * ((u - c) / s) ** 2)


def _omega_fw(phi, sf, peak, foot: bool):
    """Forward-walking sagittal rate (rad/s) at phase φ ∈ [0, 1) from IC; stride-integral zero."""
    to = 1.0 - sf
    sig_sw = np.where(sf < 0.5, 0.2, 0.15) * sf
    w = peak * _gauss(phi, to + 0.52 * sf, sig_sw)
    area = peak * sig_sw * np.sqrt(2 * np.pi)
    if foot:
        comps = [(-0.5 * peak, to - 0.02, 0.025), (-0.45 * peak, 0.04, 0.018)]
        # heel rise to toe-off: a fast push-off rotation (sharper than the swing, as in real foot
        # recordings, where its peak exceeds the swing peak); mid-stance flat
        bal_c, bal_s = to - 0.07, 0.045
    else:
        comps = [(-0.3 * peak, to - 0.015, 0.02), (-0.25 * peak, 0.025, 0.012)]
        bal_c, bal_s = 0.5 * to, 0.3 * to  # slow stance lobe
    for a, c, s in comps:
        w = w + a * _gauss(phi, c, s)
        area += a * s * np.sqrt(2 * np.pi)
    w = w - area / (bal_s * np.sqrt(2 * np.pi)) * _gauss(phi, bal_c, bal_s)
    return w


def _linear_fw(phi, T, sf, L, foot: bool):
    """Forward and upward sensor acceleration (m/s², world) at phase φ from IC (forward walking)."""
    to = 1.0 - sf
    Ts = sf * T
    tau = np.clip((phi - to) / sf, 0.0, 1.0)
    in_sw = (phi >= to) & (phi < 1.0)
    frac = 1.0 if foot else 0.7
    a_fwd = np.where(in_sw, frac * L * (60 * tau - 180 * tau**2 + 120 * tau**3) / Ts**2, 0.0)
    H = 0.08 if foot else 0.05
    a_up = np.where(in_sw, H * 2 * np.pi**2 / Ts**2 * np.cos(2 * np.pi * tau), 0.0)
    return a_fwd, a_up


# --------------------------------------------------------------------------- generator
def _blend_boundaries(t: np.ndarray, w: np.ndarray, bounds: np.ndarray, half_s: float) -> None:
    """Remove the steps of ``w`` (rad/s) at stride-window borders ``bounds`` (s), in place.

    Windows are mid-stance to mid-stance and each is made zero-mean, so two neighbours (or a stride
    and standing still, or a forward and a backward stride) meet at different stance levels. A
    linear cross-fade over ``half_s`` on each side meets at the mean of both levels; its two halves
    change the integral by opposite amounts, so the pitch after the border is unchanged."""
    n = len(t)
    # t is sorted: [b - half_s, b) and [b, b + half_s) are index ranges
    a_idx = np.searchsorted(t, bounds - half_s)
    b_idx = np.searchsorted(t, bounds)
    c_idx = np.searchsorted(t, bounds + half_s)
    for b, a, i, c in zip(bounds, a_idx, b_idx, c_idx, strict=True):
        if i <= 0 or i >= n:
            continue
        lo, hi = w[i - 1], w[i]
        mid = 0.5 * (lo + hi)
        w[a:i] += (mid - lo) * (t[a:i] - (b - half_s)) / half_s
        w[i:c] += (mid - hi) * (1.0 - (t[i:c] - b) / half_s)


def generate_walk(
    duration_s: float | None = None,
    rate_hz: float = 200.0,
    placement: str = "shank",
    segments=None,
    rotation=None,
    noise_rads: float = 0.01,
    gyro_bias_rads=0.0,
    seed: int = 0,
    side: str = "left",
    acc_noise_ms2: float = 0.05,
) -> GeneratedWalk:
    """Synthetic leg-IMU walk with exact ground truth.

    duration_s : total length, s (default: sum of ``segments``, or 60 s); longer than the segments → padded
        with ``still``. segments : list of ``(duration_s, label[, speed_mps[, cadence_steps_per_min]])``,
        label in forward/backward/sideways/still (default one forward segment at 1.3 m/s; backward 0.8 m/s;
        forward ≥ 2 m/s is jogging). rotation : None, ``"random"`` (seeded) or a 3x3 leg→sensor rotation.
        noise_rads : gyro white-noise std, rad/s. gyro_bias_rads : constant gyro bias, rad/s (scalar =
        magnitude in a seeded random direction, or a 3-vector). acc_noise_ms2 : accelerometer noise std.
    Raises ValueError naming the bad argument.
    """
    if not np.isfinite(rate_hz) or not 20.0 <= rate_hz <= 5000.0:
        raise ValueError(f"rate_hz: expected 20–5000 Hz, got {rate_hz!r}")
    if placement not in PLACEMENTS:
        raise ValueError(f"placement: expected one of {PLACEMENTS}, got {placement!r}")
    if side not in ("left", "right"):
        raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
    if duration_s is not None and (not np.isfinite(duration_s) or duration_s <= 0):
        raise ValueError(f"duration_s: expected > 0 s, got {duration_s!r}")
    for nm, v in (("noise_rads", noise_rads), ("acc_noise_ms2", acc_noise_ms2)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{nm}: expected a finite value >= 0, got {v!r}")
    rng = np.random.default_rng(seed)
    segs = _parse_segments(segments, duration_s)
    # mount and bias use their own streams: the same seed gives the same walk whatever the mount/bias
    R_mount = _check_rotation(rotation, np.random.default_rng([seed, 1]))
    bias = np.asarray(gyro_bias_rads, dtype=np.float64)
    if bias.ndim == 0:
        d = np.random.default_rng([seed, 2]).normal(size=3)
        bias = float(bias) * d / np.linalg.norm(d)
    if bias.shape != (3,) or not np.all(np.isfinite(bias)):
        raise ValueError(f"gyro_bias_rads: expected a scalar or 3-vector, got shape {bias.shape}")
    foot = placement == "foot"

    # ---- stride table
    rows = []  # start, T, sf, peak, L, impact_g, kind(+1/-1/0), sagittal sign
    seg_out = []
    t0 = 0.0
    for dur, label, speed, cad in segs:
        seg_out.append((t0, t0 + dur, label))
        if label != "still":
            p = _stride_params(label, speed, cad, foot, rng)
            ts = t0
            while True:
                T = p["T"] * (1.0 + float(np.clip(rng.normal(0, 0.03), -0.06, 0.06)))
                if ts + T > t0 + dur + 1e-9:
                    break
                amp = 1.0 + float(np.clip(rng.normal(0, 0.1), -0.2, 0.2))
                kind = {"forward": 1, "backward": -1, "sideways": 0}[label]
                sgn = float(rng.choice([-1.0, 1.0])) if kind == 0 else 1.0
                rows.append((ts, T, p["sf"], p["peak"] * amp, p["L"], p["impact_g"] * rng.uniform(0.8, 1.2),
                             kind, sgn))
                ts += T
        t0 += dur
    total = t0
    n = int(np.floor(total * rate_hz + 1e-9)) + 1
    t = np.arange(n, dtype=np.float64) / rate_hz
    st = np.array(rows, dtype=np.float64).reshape(-1, 8)

    # ---- per-sample stride lookup and phase (stride window = mid-stance → mid-stance)
    k = np.searchsorted(st[:, 0], t, side="right") - 1 if len(st) else np.full(n, -1)
    valid = k >= 0
    if len(st):
        valid &= t < st[np.maximum(k, 0), 0] + st[np.maximum(k, 0), 1]
    kk = np.where(valid, k, 0)
    S = st[kk] if len(st) else np.tile([0.0, 1.0, 0.4, 0.0, 0.0, 0.0, 1.0, 1.0], (n, 1))
    S[~valid, 1:3] = (1.0, 0.4)  # placeholders outside strides (masked out below)
    u = np.where(valid, (t - S[:, 0]) / np.where(valid, S[:, 1], 1.0), 0.0)
    kind = S[:, 6]
    u_fw = np.where(kind < 0, 1.0 - u, u)  # backward: the forward stride played backward
    sf = S[:, 2]
    phi = np.mod(u_fw + 0.5 * (1.0 - sf), 1.0)  # u=0 at mid-stance
    w_main = np.where(valid, _omega_fw(phi, sf, S[:, 3], foot), 0.0)
    w_main = np.where(kind < 0, -w_main, w_main)
    a_fwd, a_up = _linear_fw(phi, S[:, 1], sf, S[:, 4], foot)
    a_fwd = np.where(valid, a_fwd, 0.0)
    a_up = np.where(valid, a_up, 0.0)
    sideways = valid & (kind == 0)
    w_sag = np.where(sideways, 0.3 * S[:, 7] * w_main, w_main)
    w_roll = np.where(sideways, w_main, 0.0)
    a_lat = np.where(sideways, a_fwd, 0.0)
    a_fwd = np.where(sideways, 0.0, a_fwd)
    # exact zero mean per stride on the sample grid (no pitch drift)
    if len(st):
        for arr in (w_sag, w_roll):
            sums = np.bincount(kk[valid], weights=arr[valid], minlength=len(st))
            cnt = np.maximum(np.bincount(kk[valid], minlength=len(st)), 1)
            arr[valid] -= (sums / cnt)[kk[valid]]
        for arr in (w_sag, w_roll):
            _blend_boundaries(t, arr, np.unique(np.concatenate([st[:, 0], st[:, 0] + st[:, 1]])), 0.08)
    dt = 1.0 / rate_hz
    theta = np.concatenate([[0.0], np.cumsum(0.5 * (w_sag[1:] + w_sag[:-1]) * dt)])
    roll_main = np.concatenate([[0.0], np.cumsum(0.5 * (w_roll[1:] + w_roll[:-1]) * dt)])

    # ---- small off-axis rotation: delayed scaled copies of the pitch (10–20 %)
    s_side = 1.0 if side == "left" else -1.0
    kr, ky = rng.uniform(0.1, 0.2, size=2)
    dr, dy = rng.uniform(0.02, 0.05, size=2)
    roll = roll_main + s_side * kr * np.interp(t - dr, t, theta)
    roll_rate = w_roll + s_side * kr * np.interp(t - dr, t, w_sag)
    yaw = s_side * ky * np.interp(t - dy, t, theta)
    yaw_rate = s_side * ky * np.interp(t - dy, t, w_sag)

    # orientation R = Rx(yaw about up) · Ry(pitch about right) · Rz(roll about forward), leg → world
    from scipy.spatial.transform import Rotation

    Rx = Rotation.from_euler("x", yaw[:, None])
    Ry = Rotation.from_euler("y", theta[:, None])
    Rz = Rotation.from_euler("z", roll[:, None])
    Rb = Rx * Ry * Rz
    zeros = np.zeros(n)
    gyr = (Rz.inv() * Ry.inv()).apply(np.column_stack([yaw_rate, zeros, zeros]))
    gyr += Rz.inv().apply(np.column_stack([zeros, w_sag, zeros]))
    gyr += np.column_stack([zeros, zeros, roll_rate])
    f_world = np.column_stack([a_up + G, a_lat * s_side, a_fwd])  # world axes: up, right, forward
    acc = Rb.inv().apply(f_world)

    # ---- ground truth and impacts
    if len(st):
        fc = st[:, 0] + 0.5 * (1.0 - st[:, 2]) * st[:, 1]
        ic = st[:, 0] + (0.5 + 0.5 * st[:, 2]) * st[:, 1]
        direction = st[:, 6].astype(np.int64)
        bounds = np.column_stack([st[:, 0], st[:, 0] + st[:, 1]])
        imp_dir = np.array([1.0, 0.0, -0.4]) / np.hypot(1.0, 0.4)
        f_ring, tau = 35.0, 0.009
        s_grid = np.arange(int(np.ceil(0.06 * rate_hz)) + 1) / rate_hz
        fine = np.linspace(0, 0.06, 600)
        norm = np.max(np.abs(np.sin(2 * np.pi * f_ring * fine) * np.exp(-fine / tau)))
        for c, amp_g in zip(ic, st[:, 5], strict=True):
            i0 = int(np.ceil(c * rate_hz - 1e-9))
            idx = i0 + np.arange(len(s_grid))
            idx = idx[idx < n]
            s = t[idx] - c
            pulse = np.sin(2 * np.pi * f_ring * s) * np.exp(-s / tau) / norm
            acc[idx] += np.outer(amp_g * G * pulse, imp_dir)
            gyr[idx, 1] += 0.15 * amp_g * pulse
    else:
        fc = ic = np.zeros(0)
        direction = np.zeros(0, dtype=np.int64)
        bounds = np.zeros((0, 2))

    # ---- mount, noise, bias
    acc = acc @ R_mount.T + rng.normal(0.0, acc_noise_ms2, size=(n, 3))
    gyr = gyr @ R_mount.T + bias + rng.normal(0.0, noise_rads, size=(n, 3))
    return GeneratedWalk(
        t=t, acc=acc, gyr=gyr, ic=ic, fc=fc, stride_direction=direction, stride_bounds=bounds,
        segments=seg_out, placement=placement, side=side, rotation=R_mount, rate_hz=float(rate_hz),
        meta={"seed": seed, "gyro_bias_rads": bias, "noise_rads": noise_rads, "acc_noise_ms2": acc_noise_ms2,
              "frame": "leg frame x up, y right, z forward; sensor = rotation @ leg",
              "pitch_rad": theta, "reversed": False},
    )


def reverse_time(walk: GeneratedWalk) -> GeneratedWalk:
    """The walk played backward: acc(T−t), −gyr(T−t) on the same time grid.

    Ground truth is remapped: every old toe-off becomes a landing and every old IC a lift-off
    (ic' = T − fc, fc' = T − ic), stride_direction is negated, segment labels forward↔backward swap.
    Note: impacts are not re-placed, so in the reversed walk the impact transient PRECEDES each lift-off
    (fc'); it is a kinematic time-reversal test signal, not a realistic backward walk (use
    ``generate_walk`` with backward segments for that). ``meta['reversed']`` flips.
    """
    T = walk.t[0] + walk.t[-1]
    swap = {"forward": "backward", "backward": "forward"}
    order = np.argsort(T - walk.fc)
    meta = dict(walk.meta)
    meta["reversed"] = not walk.meta.get("reversed", False)
    if "pitch_rad" in meta:
        meta["pitch_rad"] = np.asarray(meta["pitch_rad"])[::-1].copy()
    return replace(
        walk,
        acc=walk.acc[::-1].copy(),
        gyr=-walk.gyr[::-1].copy(),
        ic=(T - walk.fc)[order],
        fc=(T - walk.ic)[order],
        stride_direction=-walk.stride_direction[order],
        stride_bounds=np.column_stack([T - walk.stride_bounds[:, 1], T - walk.stride_bounds[:, 0]])[order],
        segments=[(T - b, T - a, swap.get(lab, lab)) for a, b, lab in reversed(walk.segments)],
        meta=meta,
    )
