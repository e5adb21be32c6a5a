"""Pipeline: emulator -> PTY -> SerialSource -> StepDetector + Recorder; replay reproduces the live strides."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

pytest.importorskip("h5py")
pytest.importorskip("serial")

from imuwalk.core.detector import StepDetector  # noqa: E402
from imuwalk.pipeline import Pipeline, PipelineResult  # noqa: E402
from imuwalk.sinks.hdf5 import Recorder, Recording, raw_log_path  # noqa: E402
from imuwalk.sources.emulator import DeviceEmulator, default_walk  # noqa: E402
from imuwalk.sources.replay import ReplaySource  # noqa: E402
from imuwalk.sources.serial import SerialSource  # noqa: E402


@pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")
def test_emulated_session_over_a_pty_replays_to_identical_strides(tmp_path):
    rate, dur, speed = 200.0, 20.0, 4.0
    walk = default_walk(rate, dur, "shank", 3)
    emu = DeviceEmulator.from_walk(walk, speed=speed)
    p = tmp_path / "session.h5"
    rec = Recorder(p, meta=emu.meta, placement="shank", flush_interval_s=0.25)
    port = emu.open_pty()
    src = SerialSource(port, reconnect=False, default_meta=emu.meta,
                       on_raw=lambda data, _t: rec.write_raw(data))
    ticks = []
    got_rows = []
    stop = threading.Event()
    watchdog = threading.Timer(dur / speed + 20.0, stop.set)
    pipe = Pipeline(src, StepDetector(placement="shank"), recorder=rec, on_rows=got_rows.append,
                    on_tick=ticks.append, tick_s=0.2)
    src.start()
    emu.run_pty()
    watchdog.start()
    try:
        live = pipe.run(stop_event=stop, duration_s=walk.t[-1] - walk.t[0] - 1e-9)
    finally:
        watchdog.cancel()
        emu.stop()
        src.stop()
    assert isinstance(live, PipelineResult)
    assert not stop.is_set(), "the link stalled (watchdog fired)"
    assert live.stats["samples"] == walk.t.shape[0]
    assert live.rows.size >= 10 and set(np.unique(live.rows["direction"])) >= {-1, 1}
    assert np.concatenate(got_rows).tobytes() == live.rows.tobytes()
    assert ticks and ticks[-1]["strides"] == live.rows.size
    assert live.stats["recorder_error"] is None and live.stats["recorder"]["samples"] == walk.t.shape[0]
    assert live.summary is not None
    with Recording(p) as r:
        assert r.complete and len(r) == walk.t.shape[0]
        assert r.strides.tobytes() == live.rows.tobytes()
        assert r.meta["device_id"] == emu.meta.device_id
        assert r.link["stats"]  # link counters from the serial source
    assert raw_log_path(p).stat().st_size >= 24 * walk.t.shape[0]  # every frame is in the raw log
    replay = Pipeline(ReplaySource(p), StepDetector(placement="shank")).run()
    assert replay.rows.tobytes() == live.rows.tobytes()
    # the raw byte log decodes to the same samples (the rebuild path of `imuwalk repair`)
    from imuwalk.sources.formats import read_imuraw

    blk = read_imuraw(raw_log_path(p))
    with Recording(p) as r:
        assert np.array_equal(blk.acc, r.acc) and np.array_equal(blk.t, r.t)


def _blocks(n_blocks=60, per=100, rate=200.0):
    walk = default_walk(rate, n_blocks * per / rate, "shank", 1)
    from imuwalk.sources.block import SampleBlock

    for i in range(n_blocks):
        s = slice(i * per, (i + 1) * per)
        yield SampleBlock(t=walk.t[s], acc=walk.acc[s], gyr=walk.gyr[s])


def test_ctrl_c_finalizes_recording_and_flushes_detector(tmp_path):
    def interrupted():
        for k, b in enumerate(_blocks()):
            if k == 40:
                raise KeyboardInterrupt
            yield b

    p = tmp_path / "i.h5"
    det = StepDetector(placement="shank")
    res = Pipeline(interrupted(), det, recorder=Recorder(p, raw_log=False)).run()
    assert res.stats["interrupted"] and res.stats["samples"] == 4000
    assert res.rows.size > 0 and res.rows.tobytes() == det.events_.tobytes()
    with Recording(p) as r:
        assert r.complete and len(r) == 4000 and r.strides.tobytes() == res.rows.tobytes()


def test_stop_event_and_duration(tmp_path):
    stop = threading.Event()
    res = Pipeline(_blocks(), StepDetector(placement="shank"), on_rows=lambda rows: stop.set()).run(
        stop_event=stop)
    assert res.stats["stopped"] and res.stats["samples"] < 6000
    res = Pipeline(_blocks(), StepDetector(placement="shank")).run(duration_s=10.0)
    assert 10.0 <= res.stats["data_s"] < 10.5


def test_pipeline_bad_arguments():
    det = StepDetector()
    with pytest.raises(ValueError, match="source"):
        Pipeline(42, det)
    with pytest.raises(ValueError, match="detector"):
        Pipeline([], object())
    with pytest.raises(ValueError, match="tick_s"):
        Pipeline([], det, tick_s=0)
    with pytest.raises(ValueError, match="duration_s"):
        Pipeline([], det).run(duration_s=-1)


def _bad_blocks():
    """The blocks of ``_blocks()`` with faults a live link can deliver, and the mask of the good samples.

    Block 5 repeats the last 10 samples of block 4 (an overlap), block 9 has a duplicate and a NaN time,
    block 12 lies entirely in the past, block 15 has an acc array of the wrong shape."""
    from imuwalk.sources.block import SampleBlock

    out, good = [], []
    prev = None
    for k, b in enumerate(_blocks()):
        if k == 5:
            over = SampleBlock(t=np.r_[prev.t[-10:], b.t], acc=np.r_[prev.acc[-10:], b.acc],
                               gyr=np.r_[prev.gyr[-10:], b.gyr])
            out.append(over)
            good.append(np.r_[np.zeros(10, bool), np.ones(len(b), bool)])
        elif k == 9:
            t = b.t.copy()
            t[20] = t[19]
            t[50] = np.nan
            out.append(SampleBlock(t=t, acc=b.acc, gyr=b.gyr))
            g = np.ones(len(b), bool)
            g[[20, 50]] = False
            good.append(g)
        elif k == 12:
            out.append(SampleBlock(t=b.t - 10.0, acc=b.acc, gyr=b.gyr))
            good.append(np.zeros(len(b), bool))
        elif k == 15:
            out.append(SampleBlock(t=b.t, acc=b.acc[:, :2], gyr=b.gyr))
            good.append(np.zeros(len(b), bool))
        else:
            out.append(b)
            good.append(np.ones(len(b), bool))
        prev = b
    return out, good


def test_samples_the_detector_rejects_are_dropped_and_the_run_goes_on(tmp_path):
    from imuwalk.core.detector import detect_steps

    blocks, good = _bad_blocks()
    p = tmp_path / "bad.h5"
    res = Pipeline(iter(blocks), StepDetector(placement="shank"), recorder=Recorder(p, raw_log=False)).run()
    n_bad = sum(int((~g).sum()) for g in good)
    assert res.stats["samples_rejected"] == n_bad == 10 + 2 + 100 + 100
    assert "strictly increasing" in res.stats["rejected_reason"]
    kept = [(b, g) for b, g in zip(blocks, good, strict=True) if g.any()]
    t = np.concatenate([b.t[g] for b, g in kept])
    acc = np.concatenate([b.acc[g] for b, g in kept])
    gyr = np.concatenate([b.gyr[g] for b, g in kept])
    assert res.stats["samples"] == t.shape[0] and res.stats["recorder_error"] is None
    assert res.rows.size > 10
    assert res.rows.tobytes() == detect_steps(t, acc, gyr, placement="shank").events.tobytes()
    with Recording(p) as r:  # only the accepted samples are recorded: the replay gives the live strides
        assert r.complete and np.array_equal(r.t, t) and np.array_equal(r.acc, acc)
        assert r.strides.tobytes() == res.rows.tobytes()
    replay = Pipeline(ReplaySource(p), StepDetector(placement="shank")).run()
    assert replay.rows.tobytes() == res.rows.tobytes() and replay.stats["samples_rejected"] == 0


def test_run_stream_drops_rejected_samples_instead_of_raising():
    from imuwalk.sources.serial import run_stream

    blocks, good = _bad_blocks()

    class ListSource:
        def __init__(self, items):
            self.items = list(items)

        def get(self, timeout=None):
            return self.items.pop(0) if self.items else None

        @property
        def ended(self):
            return not self.items

    stats: dict = {}
    rows = run_stream(ListSource(blocks), StepDetector(placement="shank"), stats=stats)
    assert stats["samples_rejected"] == sum(int((~g).sum()) for g in good)
    ref = Pipeline(iter(_bad_blocks()[0]), StepDetector(placement="shank")).run()
    assert rows.size > 10 and rows.tobytes() == ref.rows.tobytes()


def test_increasing_mask_is_the_one_rule_for_dropping_times():
    """The rule the pipeline gate, the HDF5 reader and the dataset loaders share: keep a finite time after
    t_last and after every earlier finite time; dropped times never raise the bar."""
    from imuwalk.sources.block import increasing_mask

    t = np.array([0.0, 1.0, 1.0, 0.5, 2.0, np.nan, 3.0, np.inf, 2.5, 4.0, -np.inf])
    assert increasing_mask(t).tolist() == [True, True, False, False, True, False, True, False, False, True, False]
    assert increasing_mask(t, 1.5).tolist() == [False] * 4 + [True, False, True, False, False, True, False]
    assert increasing_mask(np.zeros(0)).shape == (0,)


def test_a_silent_port_still_ticks_so_the_dashboard_shows_the_link_state():
    """A device that sends nothing (unplugged, not streaming): the pipeline used to wait inside the source's
    iterator, so the live display froze on its last rate and link state; now it ticks, and the rate decays to 0
    (review, session 9)."""
    import pty

    from imuwalk.sources.protocol import DeviceMeta

    master, slave = pty.openpty()
    ticks: list[dict] = []
    src = SerialSource(os.ttyname(slave), reconnect=False, default_meta=DeviceMeta())
    pipe = Pipeline(src, StepDetector(), on_tick=ticks.append, tick_s=0.1)
    stop = threading.Event()
    timer = threading.Timer(1.2, stop.set)
    timer.start()
    try:
        res = pipe.run(stop_event=stop)
    finally:
        timer.cancel()
        os.close(master)
        os.close(slave)
    assert res.stats["samples"] == 0 and res.stats["stopped"]
    assert len(ticks) >= 5, ticks
    assert src.stats["rate_hz"] == 0.0
