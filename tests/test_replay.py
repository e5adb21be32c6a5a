"""ReplaySource: a recording through the streaming path gives the strides of the live run."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("h5py")

from imuwalk.core.detector import StepDetector  # noqa: E402
from imuwalk.pipeline import Pipeline  # noqa: E402
from imuwalk.sinks.hdf5 import Recorder, Recording  # noqa: E402
from imuwalk.sources.emulator import default_walk  # noqa: E402
from imuwalk.sources.protocol import DeviceMeta, FrameDecoder, encode_meta, encode_samples, to_block  # noqa: E402
from imuwalk.sources.replay import ReplaySource  # noqa: E402


def decoded_blocks(duration_s=24.0, rate=200.0, chunk=37, seed=2):
    """A walk through the real wire codec (encode -> FrameDecoder -> to_block), in uneven chunks."""
    walk = default_walk(rate, duration_s, "shank", seed)
    meta = DeviceMeta(odr_hz=rate, uid=0xABC, imu_model=1)
    acc = np.clip(np.round(walk.acc / (meta.acc_scale_g_per_lsb * 9.80665)), -32768, 32767).astype(np.int16)
    gyr = np.clip(np.round(np.rad2deg(walk.gyr) / meta.gyr_scale_dps_per_lsb), -32768, 32767).astype(np.int16)
    t_us = (123_456 + np.round(walk.t * 1e6)).astype(np.int64)
    wire = encode_meta(0, meta) + encode_samples(1, t_us, acc, gyr)
    dec = FrameDecoder()
    blocks, t0 = [], None
    for i in range(0, len(wire), chunk * 24):
        d = dec.feed(wire[i : i + chunk * 24])
        if len(d):
            t0 = int(d.t_dev_us[0]) if t0 is None else t0
            blocks.append(to_block(d, dec.meta, t0, t_host_ns=np.full(len(d), i, np.int64)))
    return blocks, meta, wire


def test_replay_gives_exactly_the_live_strides(tmp_path):
    blocks, meta, wire = decoded_blocks()
    p = tmp_path / "live.h5"
    rec = Recorder(p, meta=meta, placement="shank", flush_interval_s=0.2)
    rec.write_raw(wire)
    live = Pipeline(iter(blocks), StepDetector(placement="shank"), recorder=rec).run()
    assert live.rows.size >= 10  # the walk has strides both ways
    assert set(np.unique(live.rows["direction"])) >= {-1, 1}
    with Recording(p) as r:
        assert r.complete and r.data_kind == "counts"
        assert r.strides.tobytes() == live.rows.tobytes()
        assert r.params is not None and r.placement == "shank"
    for block_s in (0.05, 0.73):
        src = ReplaySource(p, block_s=block_s)
        got = Pipeline(src, StepDetector(placement="shank")).run()
        assert got.rows.tobytes() == live.rows.tobytes()  # bit-identical, NaNs included
        assert got.stats["samples"] == sum(len(b) for b in blocks)
    # the replayed blocks carry the live time base and values exactly
    with ReplaySource(p, block_s=0.1) as src:
        rb = list(src)
    assert abs(len(rb[0]) - 20) <= 1
    assert np.array_equal(np.concatenate([b.t for b in rb]), np.concatenate([b.t for b in blocks]))
    assert np.array_equal(np.concatenate([b.acc for b in rb]), np.concatenate([b.acc for b in blocks]))
    assert np.array_equal(np.concatenate([b.gyr for b in rb]), np.concatenate([b.gyr for b in blocks]))
    assert np.array_equal(np.concatenate([b.t_dev_us for b in rb]), np.concatenate([b.t_dev_us for b in blocks]))


def test_realtime_replay_is_paced_and_stoppable(tmp_path):
    blocks, meta, _ = decoded_blocks(duration_s=4.0)
    p = tmp_path / "rt.h5"
    with Recorder(p, meta=meta, raw_log=False) as rec:
        for b in blocks:
            rec.write_block(b)
    dur = float(blocks[-1].t[-1] - blocks[0].t[0])
    src = ReplaySource(p, realtime=True, speed=8.0, block_s=0.05)
    w0 = time.monotonic()
    n = sum(len(b) for b in src)
    wall = time.monotonic() - w0
    assert n == sum(len(b) for b in blocks)
    assert wall >= dur / 8.0 * 0.9
    src.close()
    src = ReplaySource(p, realtime=True, speed=1.0)
    it = iter(src)
    next(it)
    src.stop()
    assert list(it) == []
    src.close()


def test_replay_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(tmp_path / "x.h5", speed=0)
    with pytest.raises(ValueError, match="block_s"):
        ReplaySource(tmp_path / "x.h5", block_s=-1)
    with pytest.raises(ValueError, match="path_or_recording"):
        ReplaySource(42)
    with pytest.raises(FileNotFoundError):
        ReplaySource(tmp_path / "missing.h5")
