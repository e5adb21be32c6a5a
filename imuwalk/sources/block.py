"""SampleBlock: what every source yields and every detector consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SampleBlock:
    """A block of consecutive IMU samples in SI units.

    t: (N,) float64 s, strictly increasing, on the detector's time base: for a live device or a recording
    the device clock since the first sample (docs/ARCHITECTURE.md "Time base"; host time is ``t_host_ns``),
    for other files their time column from 0; acc: (N, 3) m/s² incl. gravity; gyr: (N, 3) rad/s, sensor
    frame. Optional raw fields keep what a recorder stores losslessly. ``info["seq_other"]`` (serial
    source): sequence numbers of the non-sample frames (META, STATUS, LOG, ...) received since the previous
    block, so that a recorder counts as missing only the numbers no frame used.
    """

    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    #: raw int16 counts (N, 3) when the source has them
    acc_raw: np.ndarray | None = None
    gyr_raw: np.ndarray | None = None
    #: device clock in µs (unwrapped, uint64) and unwrapped sequence numbers (uint64)
    t_dev_us: np.ndarray | None = None
    seq: np.ndarray | None = None
    #: host monotonic time in ns at the read that delivered each sample
    t_host_ns: np.ndarray | None = None
    #: free-form link information (counters, device id, ...)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.t.shape[0])


def increasing_mask(t: np.ndarray, t_last: float = -np.inf) -> np.ndarray:
    """Boolean mask of the samples to keep so that ``t`` becomes strictly increasing: a finite time after
    ``t_last`` and after every earlier finite time (repeated, backward, NaN and inf times are dropped;
    a dropped time never raises the bar). t: (N,) s."""
    t = np.asarray(t, dtype=np.float64)
    fin = np.isfinite(t)
    if t.shape[0] == 0:
        return fin
    bar = np.maximum.accumulate(np.concatenate(([t_last], np.where(fin, t, -np.inf)[:-1])))
    return fin & (t > bar)
