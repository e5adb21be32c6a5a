"""The per-sample stride kernel (Numba). One kernel, two drivers (see detector.py).

Signal model
------------
The sagittal angular rate ``w = e · gyr`` is the projection of the gyroscope on ``e``, the principal
axis of the gyro second-moment matrix (exponentially weighted, gated on movement): the leg rotates
mostly about the medio-lateral axis, whatever the mounting. ``w`` is split into *lobes*: runs of one
sign, separated with a hysteresis of ``hyst`` rad/s. Every stride has exactly one *swing lobe* (the
foot/shank swinging through), which ends in the landing (initial contact, IC). Which lobe is the swing
is decided locally, pairwise, against the previous big lobe of opposite sign:

* shank: the swing lobe has the larger peak rate (the stance counter-rotation is slow);
* foot: the swing lobe is the *broader* one (area/peak): push-off and heel-strike rotations are sharp.

This pairwise rule does not depend on the sign, so a change of walking direction (which flips the
sign of the swing lobe) is segmented right from its first stride.

Events
------
* IC: between the end of the swing lobe (zero crossing) and the extremum of the opposite-sign dip
  that follows it (heel-strike slap / shank IC dip), plus a fixed offset (placement-specific, s).
* FC: between the extremum of the opposite-sign lobe before the swing (push-off / toe-off dip) and
  the start of the swing lobe.

State lives in preallocated float64 arrays; the per-sample path allocates nothing. Any chunking of
the input gives bit-identical output because all state is carried in ``S``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---- parameter vector layout (all in seconds and physical units) -------------------------------
P_GAP_S = 0
P_AXIS_TAU_S = 1
P_AXIS_GATE = 2
P_HYST = 3
P_MIN_AREA = 4
P_MIN_PEAK = 5
P_PAIR_MAX_GAP_S = 6
P_METRIC = 7  # 0 = peak, 1 = width (foot), 2 = sharpness peak/width (shank)
P_IC_SEARCH_S = 8
P_IC_WEIGHT = 9
P_IC_OFFSET_S = 10
P_FC_WEIGHT = 11
P_FC_SEARCH_S = 12
P_MIN_STRIDE_S = 13
P_MAX_STRIDE_S = 14
P_MAX_SWING_S = 15
P_MIN_SWING_S = 16
P_SAT_RATE = 17
P_FC_OFFSET_S = 18
P_IC_MODE = 19  # 0: gyro dip (first peak), 1: acceleration impact peak, 2: angular-rate impact peak,
#                 3: gyro dip (highest peak in the IC search window)
P_AXIS_LP_HZ = 20  # low-pass of the gyro fed to the axis tracker (0: off)
P_FIRST_MIN_WIDTH_S = 21  # foot: minimum lobe width (area/peak) of a bout's first swing
P_TENT_WAIT_S = 22  # longest wait after a tentative swing for a better one
P_MIN_STANCE_S = 23  # a swing starts at least this long after the previous swing ended
P_TENT_PEAK_FRAC = 24  # a tentative swing stops waiting once the opposite lobe stays below this share of its peak
P_REVERSE_FRAC = 25  # an opposite lobe reaching this share of the last swing's metric is a swing the other way
P_LONG_LOBE_S = 26  # width metric: a lobe lasting longer is scaled down by this / duration (0: off)
P_IC_MIN_LAG_S = 27  # the IC is at least this long after the swing lobe ends
P_WEAK_DIP = 28  # a landing dip peaking below this (rad/s) is weak (0: off) ...
P_IC_MIN_LAG_WEAK_S = 29  # ... and then the IC is at least this long after the swing lobe ends
P_CONTINUE_FRAC = 30  # a big lobe of the last swing's sign, no big lobe between: a swing at this share of its metric
P_PAUSE_TENT_S = 31  # a swing whose reference lobe ended longer ago than this (a pause) is tentative (0: off)
P_FIRST_MIN_PEAK = 32  # shank: a bout's first swing lobe peaks at least this high (rad/s) ...
P_FIRST_MIN_AREA = 33  # ... and sweeps at least this angle (rad)
N_PARAMS = 34

# ---- state vector layout ------------------------------------------------------------------------
S_E = 0  # 3: current axis estimate
S_M = 3  # 6: second-moment matrix xx, yy, zz, xy, xz, yz
S_T_LAST = 9
S_N_GATED = 10
S_HAVE_T = 11
# current lobe
S_L_SG = 12
S_L_T0 = 13
S_L_T1 = 14
S_L_PK = 15
S_L_TPK = 16
S_L_AREA = 17
# previous adjacent lobe (any size)
S_A_SG = 18
S_A_T1 = 19
S_A_PK = 20
S_A_TPK = 21
# previous big lobe
S_B_VALID = 22
S_B_SG = 23
S_B_T0 = 24
S_B_T1 = 25
S_B_PK = 26
S_B_WIDTH = 27
# stride bookkeeping
S_LAST_IC = 28
S_LAST_IC_VALID = 29
S_LAST_SWING_SG = 30
S_STRIDE_INDEX = 31
S_FLAGS = 32  # flags accumulated since the last emitted stride
S_NAN_TOTAL = 33
# pending stride (swing lobe seen, waiting for the IC dip)
S_P_ACTIVE = 34
S_P_SG = 35
S_P_T0 = 36
S_P_T1 = 37
S_P_PK = 38
S_P_TPK = 39
S_P_AREA = 40
S_P_DIP = 41
S_P_TDIP = 42
S_P_FC = 43
S_P_AX = 44  # 3: swing rotation axis (sg * e) in sensor frame
S_P_CUE = 47
S_P_QUAL = 48
S_P_FLAGS = 49
# moments since the last swing end (direction cue)
S_MOM_N = 50
S_MOM_W = 51  # 3: sums of w, w^2, w^3
S_MOM_D = 54  # 3: sums of d, d^2, d^3 (d = dw/dt)
S_W_PREV = 57
S_W_PREV_VALID = 58
S_GAPS_TOTAL = 59
S_TAIL_AMAX = 60  # max |acc| since the current lobe was last positive
S_TAIL_TAMAX = 61
S_P_AMAX = 62
S_P_TAMAX = 63
S_GF = 64  # 3: low-passed gyro for the axis tracker
S_P_TENT = 67  # pending stride was accepted without a lobe to compare with (tentative)
S_L_TACT = 68  # last time the current lobe exceeded the hysteresis
S_LAST_SW_T1 = 69  # end of the swing lobe of the last emitted stride
S_B_SWING = 70  # the comparison lobe B started a stride (it was a swing)
N_STATE = 71

# ---- output row layout ----------------------------------------------------------------------------
O_T_IC = 0
O_T_FC = 1
O_T_EMIT = 2
O_T_MID = 3
O_T_PREV_IC = 4
O_STRIDE_T = 5
O_SWING_T = 6
O_STANCE_T = 7
O_PEAK = 8
O_AREA = 9
O_CUE = 10
O_SWING_SG = 11
O_QUALITY = 12
O_INDEX = 13
O_FLAGS = 14
O_AX = 15  # 3
N_OUT = 18

#: samples beyond these squared norms are treated as corrupt (rad/s)^2 and (m/s^2)^2
MAX_RATE2 = 1e8
MAX_ACC2 = 1e12

FLAG_AFTER_GAP = 1
FLAG_SATURATED = 4
FLAG_NAN_SKIPPED = 8


def init_state() -> np.ndarray:
    """A fresh state vector (float64, shape (N_STATE,))."""
    S = np.zeros(N_STATE)
    S[S_E:S_E + 3] = 1.0 / np.sqrt(3.0)
    S[S_FLAGS] = FLAG_AFTER_GAP
    return S


@njit(cache=True, nogil=True)
def _skew(n, s1, s2, s3):
    if n < 3.0:
        return 0.0
    m = s1 / n
    var = s2 / n - m * m
    if var <= 1e-12:
        return 0.0
    m3 = s3 / n - 3.0 * m * s2 / n + 2.0 * m * m * m
    return m3 / (var ** 1.5)


@njit(cache=True, nogil=True)
def _metric(kind, pk, width, dur, long_s):
    """What makes a swing lobe stand out against its neighbour: peak rate (0), width = area/peak
    (1, foot: the swing is the broad lobe; a lobe longer than ``long_s`` s is scaled by long_s/dur,
    so that a foot rolling through stance into push-off does not outgrow its swing), or sharpness =
    peak/width (2, shank: the swing is high and short, the stance counter-rotation low and long;
    robust to a clipped gyro)."""
    if kind < 0.5:
        return pk
    if kind < 1.5:
        if long_s > 0.0 and dur > long_s:
            return width * long_s / dur
        return width
    return pk / width if width > 0.0 else 0.0


@njit(cache=True, nogil=True)
def _reset_stride_tracking(S):
    """Forget lobes and the stride in progress (after a gap)."""
    S[S_L_SG] = 0.0
    S[S_L_PK] = 0.0
    S[S_L_AREA] = 0.0
    S[S_A_SG] = 0.0
    S[S_B_VALID] = 0.0
    S[S_LAST_IC_VALID] = 0.0
    S[S_P_ACTIVE] = 0.0
    S[S_MOM_N] = 0.0
    for k in range(3):
        S[S_MOM_W + k] = 0.0
        S[S_MOM_D + k] = 0.0
    S[S_W_PREV_VALID] = 0.0
    S[S_FLAGS] = float(int(S[S_FLAGS]) | FLAG_AFTER_GAP)


@njit(cache=True, nogil=True)
def _emit(S, P, t_now, out, n_out):
    """Finalize the pending stride into out[n_out]."""
    sg = S[S_P_SG]
    t1 = S[S_P_T1]
    t_dip = S[S_P_TDIP] if S[S_P_DIP] > P[P_HYST] else t1
    if P[P_IC_MODE] > 0.5 and P[P_IC_MODE] < 2.5 and S[S_P_AMAX] > 0.0:
        t_ic = t1 + P[P_IC_WEIGHT] * (S[S_P_TAMAX] - t1) + P[P_IC_OFFSET_S]
    else:
        t_ic = t1 + P[P_IC_WEIGHT] * (t_dip - t1) + P[P_IC_OFFSET_S]
    if t_ic < t1 + P[P_IC_MIN_LAG_S]:
        t_ic = t1 + P[P_IC_MIN_LAG_S]  # the foot cannot land before its swing ends
    if S[S_P_DIP] < P[P_WEAK_DIP] and t_ic < t1 + P[P_IC_MIN_LAG_WEAK_S]:
        t_ic = t1 + P[P_IC_MIN_LAG_WEAK_S]  # weak dip: flat landing, no heel-first slap to anchor on
    t_fc = S[S_P_FC]
    flags = int(S[S_P_FLAGS])
    r = out[n_out]
    r[O_T_IC] = t_ic
    r[O_T_FC] = t_fc
    r[O_T_EMIT] = t_now
    r[O_T_MID] = S[S_P_TPK]
    if S[S_LAST_IC_VALID] > 0.0 and t_ic - S[S_LAST_IC] <= P[P_MAX_STRIDE_S]:
        r[O_T_PREV_IC] = S[S_LAST_IC]
        r[O_STRIDE_T] = t_ic - S[S_LAST_IC]
        r[O_STANCE_T] = t_fc - S[S_LAST_IC]
    else:
        r[O_T_PREV_IC] = np.nan
        r[O_STRIDE_T] = np.nan
        r[O_STANCE_T] = np.nan
        flags |= FLAG_AFTER_GAP
    r[O_SWING_T] = t_ic - t_fc
    r[O_PEAK] = S[S_P_PK]
    r[O_AREA] = S[S_P_AREA]
    r[O_CUE] = S[S_P_CUE]
    r[O_SWING_SG] = sg
    r[O_QUALITY] = S[S_P_QUAL]
    r[O_INDEX] = S[S_STRIDE_INDEX]
    r[O_FLAGS] = float(flags)
    for k in range(3):
        r[O_AX + k] = S[S_P_AX + k]
    S[S_STRIDE_INDEX] += 1.0
    S[S_LAST_IC] = t_ic
    S[S_LAST_SW_T1] = t1
    S[S_LAST_IC_VALID] = 1.0
    S[S_LAST_SWING_SG] = sg
    S[S_P_ACTIVE] = 0.0


@njit(cache=True, nogil=True)
def _end_lobe(S, P, w_now, t_now):
    """The current lobe just ended (w crossed -hyst): classify it, maybe start a pending stride."""
    sg = S[S_L_SG]
    t0 = S[S_L_T0]
    t1 = S[S_L_T1]
    pk = S[S_L_PK]
    area = S[S_L_AREA]
    dur = t1 - t0
    big = area >= P[P_MIN_AREA] and pk >= P[P_MIN_PEAK]
    if big:
        width = area / pk
        metric = _metric(P[P_METRIC], pk, width, dur, P[P_LONG_LOBE_S])
        is_swing = False
        tentative = False
        ratio = 1.0
        # metric of B, the last big lobe (compared with by the pairwise and the continuation rule)
        prev_metric = 0.0
        if S[S_B_VALID] > 0.0:
            prev_metric = _metric(P[P_METRIC], S[S_B_PK], S[S_B_WIDTH], S[S_B_T1] - S[S_B_T0], P[P_LONG_LOBE_S])
        if S[S_B_VALID] > 0.0 and S[S_B_SG] != sg and t0 - S[S_B_T1] <= P[P_PAIR_MAX_GAP_S]:
            is_swing = metric > prev_metric
            ratio = metric / prev_metric if prev_metric > 0.0 else 2.0
            if not is_swing and S[S_B_SWING] > 0.0 and P[P_REVERSE_FRAC] > 0.0 \
                    and metric >= P[P_REVERSE_FRAC] * prev_metric \
                    and not (S[S_P_ACTIVE] > 0.0 and S[S_P_TENT] > 0.0):
                # B was a swing, and this opposite lobe is nearly as swing-like: the walker turned
                # round (forward <-> backward); tentative, so a better swing right after replaces it.
                # Not when B is itself still tentative (a bout's first swing): only a better swing
                # replaces that one
                is_swing = True
                tentative = True
            if P[P_PAUSE_TENT_S] > 0.0 and t0 - S[S_B_T1] > P[P_PAUSE_TENT_S]:
                # the leg paused since the lobe it is compared with: the first lobe after a pause may be
                # the lift-off before the real swing (a new bout, perhaps the other way round)
                tentative = True
        elif P[P_METRIC] > 0.5 and P[P_METRIC] < 1.5:
            # foot, first stride of a bout (nothing to compare with): the swing lobe is broad,
            # push-off and heel-strike rotations are sharp
            is_swing = width >= P[P_FIRST_MIN_WIDTH_S]
            tentative = True
            ratio = 1.5
        else:
            # shank, first stride of a bout: a clearly big lobe is the swing
            is_swing = pk >= P[P_FIRST_MIN_PEAK] and area >= P[P_FIRST_MIN_AREA]
            tentative = True
            ratio = 1.5
        if not is_swing and P[P_CONTINUE_FRAC] > 0.0 and S[S_B_VALID] > 0.0 and S[S_B_SG] == sg \
                and S[S_B_SWING] > 0.0 and t0 - S[S_B_T1] <= P[P_PAIR_MAX_GAP_S]:
            # the last big lobe was a swing of this sign and no big lobe came between: the stance rotation
            # stayed small (slow, short steps); a lobe about as swing-like as that swing is the next swing
            # (tentative: a better swing right after it still replaces it)
            is_swing = metric >= P[P_CONTINUE_FRAC] * prev_metric
            tentative = True
            ratio = 1.5
        if dur < P[P_MIN_SWING_S] or dur > P[P_MAX_SWING_S]:
            is_swing = False
        if is_swing and S[S_LAST_IC_VALID] > 0.0 and t1 - S[S_LAST_IC] < P[P_MIN_STRIDE_S]:
            is_swing = False
        if is_swing and S[S_LAST_IC_VALID] > 0.0 and t0 - S[S_LAST_SW_T1] < P[P_MIN_STANCE_S]:
            # starts right where the last swing ended: its counter-rotation (landing), not a new swing
            is_swing = False
        if is_swing and S[S_P_ACTIVE] > 0.0 and S[S_P_TENT] > 0.0 and S[S_P_SG] == -sg:
            # the tentative swing was the lobe before the real swing (lift-off): replace it; the
            # replacement stays tentative until a lobe that is not a better swing follows it
            S[S_FLAGS] = float(int(S[S_FLAGS]) | int(S[S_P_FLAGS]))
            S[S_P_ACTIVE] = 0.0
            tentative = True
        started = is_swing and S[S_P_ACTIVE] == 0.0
        if started:
            # FC: between the opposite-sign extremum before the swing and the swing start
            t_ref = t0 - P[P_FC_SEARCH_S]
            if S[S_A_SG] == -sg and S[S_A_TPK] >= t_ref and S[S_A_TPK] <= t0:
                t_fc = S[S_A_TPK] + P[P_FC_WEIGHT] * (t0 - S[S_A_TPK])
            else:
                t_fc = t0
            S[S_P_ACTIVE] = 1.0
            S[S_P_SG] = sg
            S[S_P_T0] = t0
            S[S_P_T1] = t1
            S[S_P_PK] = pk
            S[S_P_TPK] = S[S_L_TPK]
            S[S_P_AREA] = area
            S[S_P_DIP] = -sg * w_now
            S[S_P_TDIP] = t_now
            S[S_P_FC] = t_fc + P[P_FC_OFFSET_S]
            S[S_P_TENT] = 1.0 if tentative else 0.0
            S[S_P_AMAX] = S[S_TAIL_AMAX]
            S[S_P_TAMAX] = S[S_TAIL_TAMAX]
            for k in range(3):
                S[S_P_AX + k] = sg * S[S_E + k]
            n = S[S_MOM_N]
            sw = _skew(n, S[S_MOM_W], S[S_MOM_W + 1], S[S_MOM_W + 2])
            sd = _skew(n, S[S_MOM_D], S[S_MOM_D + 1], S[S_MOM_D + 2])
            S[S_P_CUE] = sw * sd
            S[S_MOM_N] = 0.0
            for k in range(3):
                S[S_MOM_W + k] = 0.0
                S[S_MOM_D + k] = 0.0
            q_area = min(1.0, area / (2.0 * P[P_MIN_AREA]))
            q_ratio = min(1.0, max(0.0, ratio - 1.0) * 2.0 + 0.5)
            S[S_P_QUAL] = q_area * q_ratio
            S[S_P_FLAGS] = S[S_FLAGS]
            S[S_FLAGS] = 0.0
        # this big lobe becomes the reference for the next one
        S[S_B_VALID] = 1.0
        S[S_B_SG] = sg
        S[S_B_T0] = t0
        S[S_B_T1] = t1
        S[S_B_PK] = pk
        S[S_B_WIDTH] = width
        S[S_B_SWING] = 1.0 if started else 0.0
    # adjacent lobe memory
    S[S_A_SG] = sg
    S[S_A_T1] = t1
    S[S_A_PK] = pk
    S[S_A_TPK] = S[S_L_TPK]


@njit(cache=True, nogil=True)
def check_time(t, t_last):
    """Index of the first timestamp that is not finite or not after its predecessor (``t_last``
    before ``t[0]``), or -1 when ``t`` is valid."""
    prev = t_last
    for i in range(t.shape[0]):
        ti = t[i]
        if not np.isfinite(ti) or not ti > prev:
            return i
        prev = ti
    return -1


@njit(cache=True, nogil=True)
def step_chunk(t, acc, gyr, P, S, out, t_last=-np.inf):
    """Run the detector over one chunk of samples.

    t (N,) float64 s strictly increasing (also across chunks); acc (N, 3) m/s²; gyr (N, 3) rad/s;
    P (N_PARAMS,) parameters; S (N_STATE,) state, updated in place; out (K, N_OUT) rows buffer.
    Returns (rows written, samples skipped as NaN/corrupt, samples consumed, bad time index). The
    timestamps are checked first (finite, strictly increasing, after ``t_last``): on the first bad
    one nothing is processed and its index is returned (else -1). When ``out`` is full the call
    stops before the next sample; the caller drains ``out`` and calls again with the rest (all state
    is in ``S``, so this does not change the result).
    """
    bad = check_time(t, t_last)
    if bad >= 0:
        return 0, 0, 0, bad
    n_out = 0
    n_nan = 0
    n = t.shape[0]
    tau = P[P_AXIS_TAU_S]
    gate2 = P[P_AXIS_GATE] * P[P_AXIS_GATE]
    hyst = P[P_HYST]
    sat = P[P_SAT_RATE]
    ic_mode = int(P[P_IC_MODE])
    # the two smoothing coefficients depend on dt only: recomputed (two exp) only when dt changes, which a
    # regularly sampled stream never does (the same expression, so the values are bit-identical)
    lp_dt = -1.0
    lp_b = 1.0
    ax_dt = -1.0
    ax_a = 0.0
    for i in range(n):
        if n_out >= out.shape[0]:
            return n_out, n_nan, i, -1
        ti = t[i]
        gx = gyr[i, 0]
        gy = gyr[i, 1]
        gz = gyr[i, 2]
        ax = acc[i, 0]
        ay = acc[i, 1]
        az = acc[i, 2]
        g2s = gx * gx + gy * gy + gz * gz
        a2s = ax * ax + ay * ay + az * az
        # a sample is skipped (and counted) when anything is NaN/inf or physically absurd
        if not (np.isfinite(g2s) and np.isfinite(a2s) and np.isfinite(ti)) or g2s > MAX_RATE2 or a2s > MAX_ACC2:
            n_nan += 1
            S[S_NAN_TOTAL] += 1.0
            S[S_FLAGS] = float(int(S[S_FLAGS]) | FLAG_NAN_SKIPPED)
            continue
        if S[S_HAVE_T] > 0.0:
            dt = ti - S[S_T_LAST]
            if dt > P[P_GAP_S]:
                S[S_GAPS_TOTAL] += 1.0
                _reset_stride_tracking(S)
                dt = 0.0
        else:
            dt = 0.0
            S[S_HAVE_T] = 1.0
        S[S_T_LAST] = ti
        an = np.sqrt(g2s) if ic_mode == 2 else np.sqrt(a2s)
        if sat > 0.0 and (abs(gx) >= sat or abs(gy) >= sat or abs(gz) >= sat):
            S[S_FLAGS] = float(int(S[S_FLAGS]) | FLAG_SATURATED)
        # --- axis: gated exponentially weighted second moment of the low-passed gyro + one
        # power-iteration step (the low-pass keeps impact transients out of the axis)
        if P[P_AXIS_LP_HZ] > 0.0:
            if dt > 0.0:
                if dt != lp_dt:
                    lp_dt = dt
                    lp_b = 1.0 - np.exp(-2.0 * np.pi * P[P_AXIS_LP_HZ] * dt)
                b = lp_b
            else:
                b = 1.0
            S[S_GF] += b * (gx - S[S_GF])
            S[S_GF + 1] += b * (gy - S[S_GF + 1])
            S[S_GF + 2] += b * (gz - S[S_GF + 2])
            fx = S[S_GF]
            fy = S[S_GF + 1]
            fz = S[S_GF + 2]
        else:
            fx = gx
            fy = gy
            fz = gz
        g2 = fx * fx + fy * fy + fz * fz
        if g2 > gate2:
            S[S_N_GATED] += 1.0
            if dt > 0.0:
                if dt != ax_dt:
                    ax_dt = dt
                    ax_a = 1.0 - np.exp(-dt / tau)
                a = ax_a
            else:
                a = 0.0
            a0 = 1.0 / S[S_N_GATED]
            if a0 > a:
                a = a0
            S[S_M + 0] += a * (fx * fx - S[S_M + 0])
            S[S_M + 1] += a * (fy * fy - S[S_M + 1])
            S[S_M + 2] += a * (fz * fz - S[S_M + 2])
            S[S_M + 3] += a * (fx * fy - S[S_M + 3])
            S[S_M + 4] += a * (fx * fz - S[S_M + 4])
            S[S_M + 5] += a * (fy * fz - S[S_M + 5])
            e0 = S[S_E]
            e1 = S[S_E + 1]
            e2 = S[S_E + 2]
            v0 = S[S_M + 0] * e0 + S[S_M + 3] * e1 + S[S_M + 4] * e2
            v1 = S[S_M + 3] * e0 + S[S_M + 1] * e1 + S[S_M + 5] * e2
            v2 = S[S_M + 4] * e0 + S[S_M + 5] * e1 + S[S_M + 2] * e2
            nv = np.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
            if nv > 1e-12:
                S[S_E] = v0 / nv
                S[S_E + 1] = v1 / nv
                S[S_E + 2] = v2 / nv
        w = S[S_E] * gx + S[S_E + 1] * gy + S[S_E + 2] * gz
        # --- moments for the mounting-free direction cue
        if S[S_W_PREV_VALID] > 0.0 and dt > 0.0:
            d = (w - S[S_W_PREV]) / dt
            S[S_MOM_N] += 1.0
            S[S_MOM_W] += w
            S[S_MOM_W + 1] += w * w
            S[S_MOM_W + 2] += w * w * w
            S[S_MOM_D] += d
            S[S_MOM_D + 1] += d * d
            S[S_MOM_D + 2] += d * d * d
        S[S_W_PREV] = w
        S[S_W_PREV_VALID] = 1.0
        # --- pending stride: track the dip after the swing, emit when it is over
        if S[S_P_ACTIVE] > 0.0:
            v = -S[S_P_SG] * w
            in_window = ti - S[S_P_T1] < P[P_IC_SEARCH_S]
            if in_window or S[S_P_TENT] == 0.0:
                if v > S[S_P_DIP]:
                    S[S_P_DIP] = v
                    S[S_P_TDIP] = ti
                if an > S[S_P_AMAX]:
                    S[S_P_AMAX] = an
                    S[S_P_TAMAX] = ti
            done = not in_window
            if not done and P[P_IC_MODE] < 0.5 and S[S_P_DIP] > hyst and v < 0.5 * S[S_P_DIP]:
                done = True
            if done and S[S_P_TENT] > 0.0 and S[S_L_SG] == -S[S_P_SG] \
                    and ti - S[S_P_T1] < P[P_TENT_WAIT_S] \
                    and not S[S_L_PK] < P[P_TENT_PEAK_FRAC] * S[S_P_PK]:
                # tentative: the opposite lobe after it is still going on; wait for it to end (if
                # it turns out to be a broader swing, it replaces the tentative one)
                done = False
            if done:
                _emit(S, P, ti, out, n_out)
                n_out += 1
        # --- lobes
        sg = S[S_L_SG]
        if sg == 0.0:
            if abs(w) > hyst:
                S[S_L_SG] = 1.0 if w > 0.0 else -1.0
                S[S_L_T0] = ti
                S[S_L_T1] = ti
                S[S_L_TACT] = ti
                S[S_L_PK] = abs(w)
                S[S_L_TPK] = ti
                S[S_L_AREA] = 0.0
        else:
            v = sg * w
            if v < -hyst:
                _end_lobe(S, P, w, ti)
                S[S_L_SG] = -sg
                S[S_L_T0] = ti
                S[S_L_T1] = ti
                S[S_L_TACT] = ti
                S[S_L_PK] = -v
                S[S_L_TPK] = ti
                S[S_L_AREA] = -v * dt
            else:
                if v > 0.0:
                    S[S_L_T1] = ti
                    S[S_L_AREA] += v * dt
                    S[S_TAIL_AMAX] = 0.0
                elif an > S[S_TAIL_AMAX]:
                    S[S_TAIL_AMAX] = an
                    S[S_TAIL_TAMAX] = ti
                if v > hyst:
                    S[S_L_TACT] = ti
                elif ti - S[S_L_TACT] >= P[P_IC_SEARCH_S]:
                    # the lobe faded out without an opposite lobe (end of a bout): end it quietly;
                    # it ended when it last exceeded the hysteresis (sensor bias keeps w near 0)
                    if S[S_L_T1] > S[S_L_TACT]:
                        S[S_L_T1] = S[S_L_TACT]
                    _end_lobe(S, P, w, ti)
                    S[S_L_SG] = 0.0
                if v > S[S_L_PK]:
                    S[S_L_PK] = v
                    S[S_L_TPK] = ti
    return n_out, n_nan, n, -1


@njit(cache=True, nogil=True)
def flush_pending(S, P, t_now, out):
    """End of stream: emit the pending stride if its dip was seen. Returns rows written (0/1)."""
    if S[S_P_ACTIVE] > 0.0 and S[S_P_DIP] > P[P_HYST]:
        _emit(S, P, t_now, out, 0)
        return 1
    S[S_P_ACTIVE] = 0.0
    return 0
