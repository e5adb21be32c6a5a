"""Feed imuwalk from your own transport (BLE notifications, UDP, your own serial parser, ...).

Whatever brings the samples in, hand them to :class:`imuwalk.StepDetector` in whatever packets they come
in: strides come out as soon as they are decided, and any packetisation gives bit-identical rows.
Raw sensor counts are converted with :func:`imuwalk.units.counts_to_si` (here an MPU-6050 at ±8 g and
±1000 °/s: 4096 LSB/g, 32.8 LSB/(°/s)). Timestamps come from the device clock (µs, wrapping at 2**32),
unwrapped to seconds: use the device's time, not the arrival time, so radio jitter does not move strides.

    python examples/own_transport.py
"""

from __future__ import annotations

import numpy as np

import imuwalk
from imuwalk.units import G0, counts_to_si

ACC_G_PER_LSB = 1 / 4096.0  # MPU-6050, ±8 g
GYR_DPS_PER_LSB = 1 / 32.8  # MPU-6050, ±1000 °/s


def packets(seed: int = 2, rate_hz: float = 104.0):
    """Stand-in for a radio link: (t_dev_us uint32, acc counts (n, 3) int16, gyr counts (n, 3) int16) packets
    of 1-12 samples from a generated walk (replace with your BLE/UDP callback)."""
    from imuwalk.sources.gaitgen import generate_walk

    walk = generate_walk(rate_hz=rate_hz, placement="shank", seed=seed,
                         segments=[(1.0, "still"), (6.0, "backward"), (1.0, "still"), (6.0, "forward")])
    t_us = ((walk.t * 1e6).astype(np.int64) + 4_294_000_000) % 2**32  # a device clock about to wrap
    acc = np.clip(np.round(walk.acc / G0 / ACC_G_PER_LSB), -32768, 32767).astype(np.int16)
    gyr = np.clip(np.round(np.rad2deg(walk.gyr) / GYR_DPS_PER_LSB), -32768, 32767).astype(np.int16)
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(t_us):
        n = int(rng.integers(1, 13))
        yield t_us[i:i + n].astype(np.uint32), acc[i:i + n], gyr[i:i + n]
        i += n


class DeviceClock:
    """Unwrap a 32-bit µs device clock into seconds since the first sample."""

    def __init__(self) -> None:
        self.last: int | None = None
        self.offset = 0
        self.t0: int | None = None

    def __call__(self, t_us: np.ndarray) -> np.ndarray:
        t = t_us.astype(np.int64)
        out = np.empty(len(t), dtype=np.float64)
        for k, v in enumerate(t):
            if self.last is not None and v < self.last - 2**31:
                self.offset += 2**32  # the 32-bit counter wrapped
            self.last = int(v)
            u = int(v) + self.offset
            if self.t0 is None:
                self.t0 = u
            out[k] = (u - self.t0) * 1e-6
        return out


def main() -> int:
    # the mount says which sensor axis points to the wearer's right (here +y); without one the automatic
    # mode takes the dominant direction of the first confident strides as forward, which gets a session
    # that starts backward the wrong way round (try it: mount=None)
    det = imuwalk.StepDetector(placement="shank", mount=imuwalk.Mount(right="+y"))
    clock = DeviceClock()
    names = {1: "forward", -1: "backward", 0: "other"}
    all_rows = []
    for t_us, acc_counts, gyr_counts in packets():
        acc, gyr = counts_to_si(acc_counts, gyr_counts, ACC_G_PER_LSB, GYR_DPS_PER_LSB)
        rows = det.update(clock(t_us), acc, gyr)
        for r in rows:
            print(f"stride {int(r['stride_index']):2d}  landed {r['t_ic']:6.2f} s  emitted {r['t_emit']:6.2f} s  "
                  f"{names[int(r['direction'])]}")
        all_rows.append(rows)
    all_rows.append(det.finish())
    rows = np.concatenate(all_rows)
    s = imuwalk.summarize(rows)
    print(f"{len(rows)} strides: {s.strides_forward} forward, {s.strides_backward} backward; "
          f"{s.backward_minutes:.2f} min backward")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
