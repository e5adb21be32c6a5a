"""Plain-Python reference of the stride kernel (:mod:`imuwalk.core.kernel`), VQF-style.

A second, readable implementation of the same algorithm, one sample at a time, with named state
(:class:`Lobe`, :class:`PendingStride`, ...) instead of the kernel's flat state vector. It is slow
(pure Python, ~100x slower than the kernel) and exists only to be tested against the Numba kernel:
both must produce the same stride rows (to ~1e-9 s, in practice bit-identical). It deliberately does
not call the kernel; floating-point operations are written in the kernel's order where it matters.

>>> det = ReferenceStrideDetector(DetectorParams.for_placement("shank"))
>>> rows = det.update(t, acc, gyr)      # (N,) s, (N, 3) m/s², (N, 3) rad/s
>>> rows = det.finish()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from imuwalk.core.detector import DetectorParams
from imuwalk.core.direction import DirectionDecider, Mount
from imuwalk.core.rows import FLAG_AFTER_GAP, FLAG_NAN_SKIPPED, FLAG_SATURATED, STRIDE_DTYPE, empty_rows

__all__ = ["ReferenceStrideDetector", "Lobe", "PendingStride", "reference_detect"]


@dataclass
class Lobe:
    """A run of one sign of the sagittal rate ``w`` (hysteresis ``hyst_rads``).

    sign ±1; t0 first sample s; t1 last sample with ``sign * w > 0`` s; peak max ``sign * w`` rad/s at
    t_peak s; area ∫ max(sign * w, 0) dt rad (the first sample contributes its value times its dt).
    """

    sign: float
    t0: float
    t1: float
    peak: float
    t_peak: float
    area: float
    t_act: float = float("nan")  # last sample with ``sign * w > hyst`` s

    def __post_init__(self):
        if self.t_act != self.t_act:
            self.t_act = self.t0


@dataclass
class BigLobe:
    """The previous lobe large enough to be a swing candidate (the pairwise comparison partner)."""

    sign: float
    t0: float
    t1: float
    peak: float
    width: float  # area / peak, s
    is_swing: bool = False  # it started a stride


@dataclass
class PendingStride:
    """A swing lobe that ended; waiting for the landing dip (or impact) to fix the initial contact."""

    sign: float
    t0: float
    t1: float
    peak: float
    t_peak: float
    area: float
    dip: float  # max of -sign * w since the swing ended, rad/s
    t_dip: float
    t_fc: float  # final contact, offset included, s
    axis: tuple[float, float, float]  # sign * e, sensor frame
    cue: float
    quality: float
    flags: int
    tentative: bool  # accepted without a lobe to compare with (first stride of a bout)
    acc_max: float  # max |acc| (|gyr| in gyro_impact mode) since the swing lobe was last positive
    t_acc_max: float


@dataclass
class Moments:
    """Power sums of w and d = dw/dt since the last swing end (the direction cue)."""

    n: float = 0.0
    w: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    d: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


def _skew(n: float, s1: float, s2: float, s3: float) -> float:
    """Sample skewness from power sums (0 when undefined)."""
    if n < 3.0:
        return 0.0
    m = s1 / n
    var = s2 / n - m * m
    if var <= 1e-12:
        return 0.0
    m3 = s3 / n - 3.0 * m * s2 / n + 2.0 * m * m * m
    return m3 / (var ** 1.5)


class ReferenceStrideDetector:
    """Readable per-sample stride detector, the reference of :func:`imuwalk.core.kernel.step_chunk`.

    params: :class:`DetectorParams` (e.g. ``DetectorParams.for_placement("foot")``). mount: as in
    :class:`~imuwalk.core.detector.StepDetector` (direction is decided by the same
    :class:`DirectionDecider`). Feed samples with :meth:`update_sample` (or :meth:`update` for arrays);
    rows (STRIDE_DTYPE) are returned when emitted and collected in ``events_``.
    """

    def __init__(self, params: DetectorParams, mount: Mount | None = None):
        if not isinstance(params, DetectorParams):
            raise ValueError(f"params: expected a DetectorParams, got {type(params).__name__}")
        params.validate()
        self.params = params
        self._dir = DirectionDecider(mount)
        # sagittal axis tracker
        self.axis = [1.0 / math.sqrt(3.0)] * 3
        self.moment2 = [0.0] * 6  # xx, yy, zz, xy, xz, yz
        self.gyr_lowpassed = [0.0, 0.0, 0.0]  # first-order low-pass of gyr for the axis tracker, rad/s
        self.n_gated = 0.0
        self.t_last: float | None = None  # last sample used (NaN samples are skipped)
        self.t_input_last: float | None = None  # last sample fed (the time of finish())
        # lobes
        self.lobe: Lobe | None = None
        self.adjacent: Lobe | None = None  # the previous lobe, any size
        self.big: BigLobe | None = None
        self.tail_acc_max = 0.0  # max |acc| since the current lobe was last positive
        self.t_tail_acc_max = 0.0
        # strides
        self.pending: PendingStride | None = None
        self.last_ic: float | None = None
        self.last_swing_end = float("-inf")  # end of the swing lobe of the last emitted stride, s
        self.last_swing_sign = 0.0  # sign of the last emitted swing lobe (kept, as the kernel does)
        self.stride_index = 0
        self.flags = FLAG_AFTER_GAP  # accumulated since the last stride started
        self.moments = Moments()
        self.w_prev: float | None = None
        # counters and output
        self.n_nan_skipped_ = 0
        self.n_gaps_ = 0
        self._rows: list[np.ndarray] = []

    # -- public --------------------------------------------------------------------------------
    @property
    def events_(self) -> np.ndarray:
        """All rows emitted so far (STRIDE_DTYPE)."""
        return np.concatenate(self._rows) if self._rows else empty_rows(0)

    def update(self, t, acc, gyr) -> np.ndarray:
        """Feed arrays: t (N,) s, acc (N, 3) m/s², gyr (N, 3) rad/s. Returns rows emitted now."""
        t = np.asarray(t, dtype=np.float64)
        acc = np.asarray(acc, dtype=np.float64)
        gyr = np.asarray(gyr, dtype=np.float64)
        out = []
        for i in range(t.shape[0]):
            r = self.update_sample(float(t[i]), acc[i], gyr[i])
            if r is not None:
                out.append(r)
        return np.concatenate(out) if out else empty_rows(0)

    def update_sample(self, t: float, acc3, gyr3) -> np.ndarray | None:
        """One sample: t s, acc3 (3,) m/s², gyr3 (3,) rad/s. Returns a 1-row array when a stride is
        emitted at this sample, else None."""
        p = self.params
        self.t_input_last = t
        gx, gy, gz = float(gyr3[0]), float(gyr3[1]), float(gyr3[2])
        ax, ay, az = float(acc3[0]), float(acc3[1]), float(acc3[2])
        g2 = gx * gx + gy * gy + gz * gz
        a2 = ax * ax + ay * ay + az * az
        # the impact is looked for in |gyr| (gyro_impact mode) or in |acc|
        acc_norm = math.sqrt(g2) if p.ic_mode == "gyro_impact" else math.sqrt(a2) if math.isfinite(a2) else 0.0
        # NaN/inf or physically absurd samples are skipped and counted
        if not (math.isfinite(g2) and math.isfinite(a2) and math.isfinite(t)) or g2 > 1e8 or a2 > 1e12:
            self.n_nan_skipped_ += 1
            self.flags |= FLAG_NAN_SKIPPED
            return None

        # time step; a pause longer than gap_s forgets the stride in progress
        if self.t_last is None:
            dt = 0.0
        else:
            dt = t - self.t_last
            if dt > p.gap_s:
                self.n_gaps_ += 1
                self._reset_stride_tracking()
                dt = 0.0
        self.t_last = t
        sat = p.saturation_rads
        if sat > 0.0 and (abs(gx) >= sat or abs(gy) >= sat or abs(gz) >= sat):
            self.flags |= FLAG_SATURATED

        self._update_axis(gx, gy, gz, dt)
        e = self.axis
        w = e[0] * gx + e[1] * gy + e[2] * gz
        self._update_moments(w, dt)

        row = None
        if self.pending is not None:
            row = self._track_pending(w, acc_norm, t)
        self._update_lobes(w, acc_norm, t, dt)
        if row is not None:
            self._dir.apply(row)
            self._rows.append(row)
        return row

    def finish(self) -> np.ndarray:
        """End of stream: emit the pending stride if its landing dip was seen (t_emit = last sample)."""
        p = self.params
        out = empty_rows(0)
        if self.pending is not None and self.pending.dip > p.hyst_rads:
            t_now = self.t_input_last if self.t_input_last is not None else 0.0
            out = self._emit(t_now)
            self._dir.apply(out)
            self._rows.append(out)
        self.pending = None
        return out

    # -- steps -----------------------------------------------------------------------------------
    def _reset_stride_tracking(self) -> None:
        self.lobe = None
        self.adjacent = None
        self.big = None
        self.last_ic = None
        self.last_swing_end = float("-inf")
        self.pending = None
        self.moments = Moments()
        self.w_prev = None
        self.flags |= FLAG_AFTER_GAP

    def _update_axis(self, gx: float, gy: float, gz: float, dt: float) -> None:
        """Gated exponentially weighted second moment of the low-passed gyro, one power-iteration step
        of its main axis (the low-pass keeps impact transients out of the axis)."""
        p = self.params
        if p.axis_lowpass_hz > 0.0:
            b = 1.0 - math.exp(-2.0 * math.pi * p.axis_lowpass_hz * dt) if dt > 0.0 else 1.0
            f = self.gyr_lowpassed
            f[0] += b * (gx - f[0])
            f[1] += b * (gy - f[1])
            f[2] += b * (gz - f[2])
            gx, gy, gz = f
        gate = p.axis_gate_rads
        if gx * gx + gy * gy + gz * gz <= gate * gate:
            return
        self.n_gated += 1.0
        a = 1.0 - math.exp(-dt / p.axis_tau_s) if dt > 0.0 else 0.0
        a = max(a, 1.0 / self.n_gated)  # plain running mean at the start
        M = self.moment2
        for k, prod in enumerate((gx * gx, gy * gy, gz * gz, gx * gy, gx * gz, gy * gz)):
            M[k] += a * (prod - M[k])
        e0, e1, e2 = self.axis
        v0 = M[0] * e0 + M[3] * e1 + M[4] * e2
        v1 = M[3] * e0 + M[1] * e1 + M[5] * e2
        v2 = M[4] * e0 + M[5] * e1 + M[2] * e2
        nv = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        if nv > 1e-12:
            self.axis = [v0 / nv, v1 / nv, v2 / nv]

    def _update_moments(self, w: float, dt: float) -> None:
        if self.w_prev is not None and dt > 0.0:
            d = (w - self.w_prev) / dt
            m = self.moments
            m.n += 1.0
            m.w[0] += w
            m.w[1] += w * w
            m.w[2] += w * w * w
            m.d[0] += d
            m.d[1] += d * d
            m.d[2] += d * d * d
        self.w_prev = w

    def _track_pending(self, w: float, acc_norm: float, t: float) -> np.ndarray | None:
        """Follow the landing dip after the swing; emit the stride when the dip is over."""
        p = self.params
        ps = self.pending
        v = -ps.sign * w
        in_window = t - ps.t1 < p.ic_search_s
        if in_window or not ps.tentative:
            if v > ps.dip:
                ps.dip = v
                ps.t_dip = t
            if acc_norm > ps.acc_max:
                ps.acc_max = acc_norm
                ps.t_acc_max = t
        done = not in_window
        if not done and p.ic_mode == "dip" and ps.dip > p.hyst_rads and v < 0.5 * ps.dip:
            done = True
        lobe_sign = self.lobe.sign if self.lobe is not None else 0.0
        lobe_peak = self.lobe.peak if self.lobe is not None else 0.0
        if done and ps.tentative and lobe_sign == -ps.sign and t - ps.t1 < p.tentative_wait_s \
                and not lobe_peak < p.tentative_peak_frac * ps.peak:
            # tentative: the opposite lobe after it is still going on; wait for it to end (if it
            # turns out to be a broader swing, it replaces the tentative one)
            done = False
        return self._emit(t) if done else None

    def _emit(self, t_now: float) -> np.ndarray:
        """Finalize the pending stride into one STRIDE_DTYPE row."""
        p = self.params
        ps = self.pending
        if p.ic_mode in ("impact", "gyro_impact") and ps.acc_max > 0.0:  # between swing end and impact peak
            t_ic = ps.t1 + p.ic_weight * (ps.t_acc_max - ps.t1) + p.ic_offset_s
        else:
            t_dip = ps.t_dip if ps.dip > p.hyst_rads else ps.t1  # no dip seen: land at the swing end
            t_ic = ps.t1 + p.ic_weight * (t_dip - ps.t1) + p.ic_offset_s
        t_ic = max(t_ic, ps.t1 + p.ic_min_lag_s)  # the foot cannot land before its swing ends
        if ps.dip < p.weak_dip_rads:  # weak dip: flat landing, no heel-first slap to anchor on
            t_ic = max(t_ic, ps.t1 + p.ic_min_lag_weak_s)
        flags = ps.flags
        row = np.zeros(1, dtype=STRIDE_DTYPE)[0]
        row["t_ic"] = t_ic
        row["t_fc"] = ps.t_fc
        row["t_emit"] = t_now
        row["t_mid_swing"] = ps.t_peak
        if self.last_ic is not None and t_ic - self.last_ic <= p.max_stride_s:
            row["t_prev_ic"] = self.last_ic
            row["stride_time_s"] = t_ic - self.last_ic
            row["stance_time_s"] = ps.t_fc - self.last_ic
        else:
            row["t_prev_ic"] = np.nan
            row["stride_time_s"] = np.nan
            row["stance_time_s"] = np.nan
            flags |= FLAG_AFTER_GAP
        row["swing_time_s"] = t_ic - ps.t_fc
        row["peak_swing_rate"] = ps.peak
        row["swing_angle"] = ps.area
        row["direction_cue"] = ps.cue
        row["swing_sign"] = int(ps.sign)
        row["quality"] = ps.quality
        row["stride_index"] = self.stride_index
        row["flags"] = flags
        row["swing_axis_x"], row["swing_axis_y"], row["swing_axis_z"] = ps.axis
        self.stride_index += 1
        self.last_ic = t_ic
        self.last_swing_end = ps.t1
        self.last_swing_sign = ps.sign
        self.pending = None
        out = np.zeros(1, dtype=STRIDE_DTYPE)
        out[0] = row
        return out

    def _update_lobes(self, w: float, acc_norm: float, t: float, dt: float) -> None:
        hyst = self.params.hyst_rads
        lobe = self.lobe
        if lobe is None:
            if abs(w) > hyst:
                self.lobe = Lobe(sign=1.0 if w > 0.0 else -1.0, t0=t, t1=t, peak=abs(w), t_peak=t, area=0.0)
            return
        v = lobe.sign * w
        if v < -hyst:  # crossed to the other side: the lobe is over
            self._end_lobe(lobe, w, t)
            self.lobe = Lobe(sign=-lobe.sign, t0=t, t1=t, peak=-v, t_peak=t, area=-v * dt)
            return
        if v > 0.0:
            lobe.t1 = t
            lobe.area += v * dt
            self.tail_acc_max = 0.0
        elif acc_norm > self.tail_acc_max:
            self.tail_acc_max = acc_norm
            self.t_tail_acc_max = t
        if v > hyst:
            lobe.t_act = t
        elif t - lobe.t_act >= self.params.ic_search_s:
            # the lobe faded out without an opposite lobe (end of a bout): end it quietly, as of
            # when it last exceeded the hysteresis (sensor bias keeps w near 0)
            lobe.t1 = min(lobe.t1, lobe.t_act)
            self._end_lobe(lobe, w, t)
            self.lobe = None
            return
        if v > lobe.peak:
            lobe.peak = v
            lobe.t_peak = t

    def _end_lobe(self, lobe: Lobe, w_now: float, t_now: float) -> None:
        """Classify the lobe that just ended; a swing lobe starts a pending stride."""
        p = self.params
        sg = lobe.sign
        dur = lobe.t1 - lobe.t0
        if lobe.area >= p.min_swing_angle_rad and lobe.peak >= p.min_swing_peak_rads:
            width = lobe.area / lobe.peak
            use_width = p.metric == "width"

            def lobe_metric(peak: float, w: float, dur: float) -> float:
                """peak rate, width (foot: the swing is broad; scaled by long_lobe_s / dur for a lobe
                lasting longer) or sharpness peak/width (shank)."""
                if p.metric == "peak":
                    return peak
                if p.metric == "width":
                    return w * p.long_lobe_s / dur if 0.0 < p.long_lobe_s < dur else w
                return peak / w if w > 0.0 else 0.0

            metric = lobe_metric(lobe.peak, width, dur)
            is_swing = False
            tentative = False
            ratio = 1.0
            big = self.big
            # metric of the last big lobe (compared with by the pairwise and the continuation rule)
            prev_metric = lobe_metric(big.peak, big.width, big.t1 - big.t0) if big is not None else 0.0
            if big is not None and big.sign != sg and lobe.t0 - big.t1 <= p.pair_max_gap_s:
                is_swing = metric > prev_metric
                ratio = metric / prev_metric if prev_metric > 0.0 else 2.0
                if (not is_swing and big.is_swing and p.reverse_frac > 0.0 and metric >= p.reverse_frac * prev_metric
                        and not (self.pending is not None and self.pending.tentative)):
                    # B was a swing and this opposite lobe is nearly as swing-like: the walker turned round
                    # (not when B is itself still tentative: only a better swing replaces a bout's first)
                    is_swing = True
                    tentative = True
                if p.pause_tentative_s > 0.0 and lobe.t0 - big.t1 > p.pause_tentative_s:
                    # a pause since the lobe it is compared with: the first lobe after it may be the
                    # lift-off before the real swing (a new bout, perhaps the other way round)
                    tentative = True
            elif use_width:
                # foot, first stride of a bout (nothing to compare with): the swing lobe is broad
                is_swing = width >= p.first_min_width_s
                tentative = True
                ratio = 1.5
            else:
                # shank, first stride of a bout: a clearly big lobe is the swing
                is_swing = lobe.peak >= p.first_min_peak() and lobe.area >= p.first_min_angle()
                tentative = True
                ratio = 1.5
            if (not is_swing and p.continue_frac > 0.0 and big is not None and big.sign == sg and big.is_swing
                    and lobe.t0 - big.t1 <= p.pair_max_gap_s):
                # the last big lobe was a swing of this sign and no big lobe came between (small stance
                # rotation: slow, short steps): a lobe about as swing-like as that swing is the next swing
                # (tentative: a better swing right after it still replaces it)
                is_swing = metric >= p.continue_frac * prev_metric
                tentative = True
                ratio = 1.5
            if dur < p.min_swing_s or dur > p.max_swing_s:
                is_swing = False
            if is_swing and self.last_ic is not None and lobe.t1 - self.last_ic < p.min_stride_s:
                is_swing = False
            if is_swing and self.last_ic is not None and lobe.t0 - self.last_swing_end < p.min_stance_s:
                is_swing = False  # starts where the last swing ended: its landing counter-rotation
            ps = self.pending
            if is_swing and ps is not None and ps.tentative and ps.sign == -sg:
                # the tentative swing was the lobe before the real swing (lift-off): replace it; the
                # replacement stays tentative, and keeps the flags gathered so far
                self.flags |= ps.flags
                self.pending = None
                tentative = True
            started = is_swing and self.pending is None
            if started:
                self._start_pending(lobe, w_now, t_now, ratio, tentative)
            self.big = BigLobe(sign=sg, t0=lobe.t0, t1=lobe.t1, peak=lobe.peak, width=width, is_swing=started)
        self.adjacent = lobe

    def _start_pending(self, lobe: Lobe, w_now: float, t_now: float, ratio: float, tentative: bool) -> None:
        p = self.params
        sg = lobe.sign
        t0 = lobe.t0
        # FC: between the opposite-sign extremum before the swing and the swing start
        t_ref = t0 - p.fc_search_s
        adj = self.adjacent
        if adj is not None and adj.sign == -sg and t_ref <= adj.t_peak <= t0:
            t_fc = adj.t_peak + p.fc_weight * (t0 - adj.t_peak)
        else:
            t_fc = t0
        m = self.moments
        cue = _skew(m.n, *m.w) * _skew(m.n, *m.d)
        self.moments = Moments()
        q_area = min(1.0, lobe.area / (2.0 * p.min_swing_angle_rad))
        q_ratio = min(1.0, max(0.0, ratio - 1.0) * 2.0 + 0.5)
        e = self.axis
        self.pending = PendingStride(
            sign=sg, t0=t0, t1=lobe.t1, peak=lobe.peak, t_peak=lobe.t_peak, area=lobe.area,
            dip=-sg * w_now, t_dip=t_now, t_fc=t_fc + p.fc_offset_s, axis=(sg * e[0], sg * e[1], sg * e[2]),
            cue=cue, quality=q_area * q_ratio, flags=self.flags, tentative=tentative,
            acc_max=self.tail_acc_max, t_acc_max=self.t_tail_acc_max,
        )
        self.flags = 0


def reference_detect(t, acc, gyr, placement: str = "shank", mount: Mount | None = None,
                     **params) -> np.ndarray:
    """The reference over a whole recording (slow): rows like ``detect_steps(...).events``."""
    det = ReferenceStrideDetector(DetectorParams.for_placement(placement, **params), mount=mount)
    det.update(t, acc, gyr)
    det.finish()
    return det.events_
