"""`imuwalk stream` end to end, as a wearer runs it against a real serial port.

The "sensor" is the device emulator on a real pseudo-terminal (this test process streams the firmware
bytes; the command under test runs in a subprocess and opens the PTY with pyserial). The sessions are
real time (~10–13 s each), so they are started in two parallel batches by a module fixture:

1. a forward+backward walk with ``--record --json`` (automatic mount), a ``--calibrate`` session on a
   forward walk (stores the mount in a temporary IMUWALK_CONFIG), and a plain-output session stopped
   with SIGINT;
2. an all-backward walk (issue 3's treadmill scenario) with no mount option, once with the stored
   mount of the calibrated device and once with a fresh config (automatic mode).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("serial")
pytest.importorskip("h5py")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals need POSIX")

from imuwalk.core.rows import FLAG_AUTO_DIRECTION  # noqa: E402
from imuwalk.sinks.hdf5 import Recording, raw_log_path  # noqa: E402
from imuwalk.sinks.jsonout import jsonable  # noqa: E402
from imuwalk.sources.emulator import DeviceEmulator  # noqa: E402
from imuwalk.sources.gaitgen import generate_walk  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CMD = [sys.executable, "-m", "imuwalk"]
DEVICE_ID = DeviceEmulator([0.0, 0.01], np.zeros((2, 3)), np.zeros((2, 3))).meta.device_id  # META uid

FWD_BWD = [(1.0, "still"), (6.0, "forward"), (6.0, "backward")]
FORWARD = [(1.0, "still"), (9.0, "forward")]
BACKWARD = [(1.0, "still"), (9.0, "backward")]


def _env(config: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "IMUWALK_CONFIG": str(config), "COLUMNS": "120"}


def _sigint_default() -> None:  # a parent shell may have set SIGINT to "ignore"; a user's terminal does not
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Session:
    """One `imuwalk stream` subprocess reading an emulated walk on a fresh PTY."""

    def __init__(self, segments, seed: int, args: list[str], config: Path, sigint_after: float | None = None):
        self.walk = generate_walk(rate_hz=100.0, placement="shank", segments=segments, seed=seed)
        self.emu = DeviceEmulator.from_walk(self.walk)
        self.args = args
        self.config = config
        self.sigint_after = sigint_after
        self.result: tuple[int, str, str] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Session:
        self.thread.start()
        return self

    def _run(self) -> None:
        port = self.emu.open_pty()  # the reader opens it before the first byte is sent
        dur = float(self.walk.t[-1] - self.walk.t[0]) + 2.5
        p = subprocess.Popen([*CMD, "stream", "--port", port, "--duration", f"{dur:.2f}", *self.args],
                             env=_env(self.config), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_sigint_default)
        head = []
        try:
            while True:  # the command says "reading PORT" once the port is open
                line = p.stderr.readline()
                head.append(line)
                if not line or line.startswith("reading "):
                    break
            self.emu.run_pty()
            if self.sigint_after is not None:
                time.sleep(self.sigint_after)
                p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=dur + 40)
        finally:
            if p.poll() is None:
                p.kill()
            self.emu.stop()
        self.result = (p.returncode, out, "".join(head) + err)

    def wait(self) -> tuple[int, str, str]:
        self.thread.join(120)
        assert self.result is not None, "stream session did not finish"
        return self.result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    cfg_cal = d / "config-calibrated"
    cfg_fresh = d / "config-fresh"
    cfg_other = d / "config-other"
    r = {"dir": d, "cfg_cal": cfg_cal, "fwdbwd_h5": d / "fwdbwd.h5", "int_h5": d / "int.h5",
         "cal_h5": d / "cal.h5", "param_h5": d / "param.h5"}
    batch1 = {
        "fwdbwd": Session(FWD_BWD, 3, ["--record", str(r["fwdbwd_h5"]), "--json"], cfg_other),
        "calibrate": Session(FORWARD, 4, ["--calibrate", "--json", "--record", str(r["cal_h5"])], cfg_cal),
        "int": Session(FWD_BWD, 6, ["--record", str(r["int_h5"])], cfg_other, sigint_after=7.0),
    }
    for s in batch1.values():
        s.start()
    for name, s in batch1.items():
        r[name] = s
        r[name + "_out"] = s.wait()
    batch2 = {
        "stored": Session(BACKWARD, 5, ["--json"], cfg_cal),  # same device, no mount option
        "fresh": Session(BACKWARD, 5, ["--json"], cfg_fresh),
        # a detector parameter that no swing can pass: it must reach the live detector and the file
        "param": Session(FORWARD, 7, ["--json", "--record", str(d / "param.h5"), "--param", "max_swing_s=0.1"],
                         cfg_other),
    }
    for s in batch2.values():
        s.start()
    for name, s in batch2.items():
        r[name] = s
        r[name + "_out"] = s.wait()
    return r


def _doc(out: tuple[int, str, str]) -> dict:
    code, stdout, err = out
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(stdout)  # exactly one JSON document on stdout


def _truth_match(doc: dict, walk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(matched mask, detected directions, true directions of the nearest true strides)."""
    t_ic = np.array([x["t_ic"] for x in doc["strides"]])
    dirs = np.array([x["direction"] for x in doc["strides"]])
    true_ic = walk.ic - walk.t[0]
    near = np.abs(t_ic[:, None] - true_ic[None, :]).argmin(axis=1)
    matched = np.abs(t_ic - true_ic[near]) < 0.15
    return matched, dirs, walk.stride_direction[near]


def test_stream_records_and_prints_the_json_contract(runs):
    doc = _doc(runs["fwdbwd_out"])
    for key in ("schema", "strides", "summary", "link", "recording", "mount", "source"):
        assert key in doc, key
    for key in ("backward_minutes", "forward_minutes", "steps_forward", "steps_backward", "strides",
                "goal_minutes", "goal_progress", "bouts", "direction_auto"):
        assert key in doc["summary"], key
    walk = runs["fwdbwd"].walk
    n_true = len(walk.ic)
    assert abs(len(doc["strides"]) - n_true) <= 1, (len(doc["strides"]), n_true)
    matched, dirs, true_dirs = _truth_match(doc, walk)
    assert (~matched).sum() <= 1  # no frame lost (below): the live rows are the batch detector's
    # automatic mode, the walk starts forward: both directions come out right, and the result says "auto"
    assert (dirs[matched] != true_dirs[matched]).sum() <= 1
    assert doc["summary"]["strides_forward"] >= 3 and doc["summary"]["strides_backward"] >= 3
    assert doc["mount"]["source"] == "auto" and doc["summary"]["direction_auto"] is True
    assert all(s["flags"] & FLAG_AUTO_DIRECTION for s in doc["strides"])
    assert doc["link"]["frames_lost"] == 0 and doc["link"]["crc_errors"] == 0
    assert doc["source"]["device"]["device_id"] == DEVICE_ID
    assert doc["recording"]["path"] == str(runs["fwdbwd_h5"]) and doc["recording"]["error"] is None
    assert doc["recording"]["complete"] is True  # docs/CLI.md: path, samples, complete, error


def test_stream_recording_has_no_gaps_on_a_clean_link(runs):
    doc = _doc(runs["fwdbwd_out"])
    assert doc["link"]["frames_lost"] == 0
    with Recording(runs["fwdbwd_h5"]) as rec:
        assert np.any(np.diff(rec.seq.astype(np.int64)) > 1)  # META/STATUS frames took sequence numbers
        assert rec.attrs["n_gaps"] == 0 and rec.link["gaps"].size == 0


def test_stream_recording_reads_back_with_the_printed_strides(runs):
    doc = _doc(runs["fwdbwd_out"])
    n_walk = runs["fwdbwd"].walk.t.shape[0]
    with Recording(runs["fwdbwd_h5"]) as rec:
        assert rec.complete
        assert len(rec) == doc["link"]["samples"] == doc["recording"]["samples"]
        assert n_walk - 5 <= len(rec) <= n_walk
        assert np.all(np.diff(rec.t) > 0)
        assert rec.placement == "shank"
        assert rec.mount["source"] == "auto"
        assert rec.meta["device_id"] == DEVICE_ID
        from imuwalk.core.rows import rows_to_dicts

        assert jsonable(rows_to_dicts(rec.strides)) == doc["strides"]
    raw = raw_log_path(runs["fwdbwd_h5"])
    assert raw.exists() and raw.stat().st_size > 20 * n_walk  # the byte log: every frame of the link


def test_detect_replays_the_stream_recording_exactly(runs):
    live = _doc(runs["fwdbwd_out"])
    p = subprocess.run([*CMD, "detect", str(runs["fwdbwd_h5"]), "--json"], env=_env(runs["dir"] / "cfg-x"),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    replay = json.loads(p.stdout)
    assert replay["strides"] == live["strides"]
    assert replay["summary"] == live["summary"]


def test_param_overrides_reach_the_live_detector_and_the_recording(runs):
    doc = _doc(runs["param_out"])
    assert doc["source"]["detector_params"] == {"max_swing_s": 0.1}
    assert doc["strides"] == [] and doc["link"]["samples"] > 900  # a 10 s walk, no swing passes 0.1 s
    with Recording(runs["param_h5"]) as rec:
        assert rec.params["max_swing_s"] == 0.1 and rec.params["min_swing_s"] == 0.08
        assert rec.session["detector_params"] == {"max_swing_s": 0.1}  # the overrides, for the replay
    env = _env(runs["dir"] / "cfg-x")
    replay = [json.loads(subprocess.run([*CMD, "detect", str(runs["param_h5"]), "--json", *extra], env=env,
                                        capture_output=True, text=True, timeout=120, check=True).stdout)
              for extra in ([], ["--param", "max_swing_s=0.8"])]
    # the replay applies the live run's overrides: what the live run saw
    assert replay[0]["strides"] == doc["strides"] == [] and replay[0]["source"]["detector_params"] == {
        "max_swing_s": 0.1}
    # a --param of detect replaces a stored one: the default value finds the walk's strides in the same file
    assert len(replay[1]["strides"]) >= 6 and replay[1]["source"]["detector_params"] == {"max_swing_s": 0.8}


def test_calibrate_stores_the_mount_of_the_device(runs):
    code, _, err = runs["calibrate_out"]
    doc = _doc(runs["calibrate_out"])
    assert "calibrating" in err and "calibration finished" in err and DEVICE_ID in err
    m = doc["mount"]
    assert m["source"] == "calibration" and m["stored"] is True and m["device_id"] == DEVICE_ID
    assert len(m["calibration_strides"]) == 5 and m["n_strides"] == 5
    store = json.loads((runs["cfg_cal"] / "mounts.json").read_text())
    assert store[DEVICE_ID]["source"] == "calibration"
    assert np.allclose(store[DEVICE_ID]["right"], m["right"])
    # gaitgen's leg frame: +y points to the wearer's right
    assert np.dot(store[DEVICE_ID]["right"], [0.0, 1.0, 0.0]) > 0.9
    dirs = np.array([s["direction"] for s in doc["strides"]])
    assert len(dirs) >= 7
    assert (dirs == 1).mean() >= 0.9  # the calibration strides are re-classified, the rest follow
    assert not any(s["flags"] & FLAG_AUTO_DIRECTION for s in doc["strides"])
    assert doc["summary"]["direction_auto"] is False
    # the recording holds the calibrated strides and says which mount decided them
    with Recording(runs["cal_h5"]) as rec:
        assert rec.complete
        assert [int(x) for x in rec.strides["direction"]] == [s["direction"] for s in doc["strides"]]
        ev = [e["data"] for e in rec.link["events"] if e["kind"] == "mount"]
        assert ev and ev[-1]["right"] == m["right"] and ev[-1]["device_id"] == DEVICE_ID


def test_stored_mount_classifies_an_all_backward_session(runs):
    """Issue 3's treadmill scenario: backward from the first stride, no mount option."""
    code, _, err = runs["stored_out"]
    doc = _doc(runs["stored_out"])
    assert f"stored for device {DEVICE_ID}" in err
    assert doc["mount"].get("from_store") is True and doc["mount"]["device_id"] == DEVICE_ID
    dirs = np.array([s["direction"] for s in doc["strides"]])
    assert len(dirs) >= 6
    assert (dirs == -1).mean() >= 0.9, dirs
    assert doc["summary"]["direction_auto"] is False and doc["summary"]["backward_minutes"] > 0


def test_without_a_stored_mount_the_backward_session_comes_out_forward(runs):
    """The same session in automatic mode: the dominant swing is taken as forward (and flagged)."""
    doc = _doc(runs["fresh_out"])
    assert doc["mount"]["source"] == "auto"
    dirs = np.array([s["direction"] for s in doc["strides"]])
    assert len(dirs) >= 6
    assert (dirs == 1).mean() >= 0.9, dirs
    assert doc["summary"]["direction_auto"] is True
    stored = _doc(runs["stored_out"])
    assert len(stored["strides"]) == len(doc["strides"])  # same data, only the mount differs


def test_sigint_finalizes_recording_and_prints_summary(runs):
    code, out, err = runs["int_out"]
    assert code == 0, err
    assert "Traceback" not in err
    assert "Session summary (stopped)" in out and "Forward" in out and "Mount" in out
    assert f"Recording: {runs['int_h5']}" in out
    assert "stride " in out and "now=" in out and "\x1b[" not in out  # plain lines off a terminal
    with Recording(runs["int_h5"]) as rec:
        assert rec.complete  # finalized despite the signal
        assert 300 <= len(rec) < runs["int"].walk.t.shape[0] - 200


# ---------------------------------------------------------------------------------------------- errors
def _cli(*args: str, config: Path, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *args], env=_env(config), capture_output=True, text=True, timeout=timeout, **kw)


def _one_line(p: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_existing_record_file_is_not_overwritten(tmp_path):
    f = tmp_path / "old.h5"
    f.write_bytes(b"precious")
    p = _cli("stream", "--port", str(tmp_path / "no-such-port"), "--record", str(f), config=tmp_path)
    _one_line(p, 1, "already exists", "--force")
    assert f.read_bytes() == b"precious"


def test_unknown_port_is_one_line(tmp_path):
    # `--mount -y` parses (a "-y" value is not taken for an option); the port error comes next
    p = _cli("stream", "--port", str(tmp_path / "ttyNOPE"), "--mount", "-y", config=tmp_path)
    _one_line(p, 1, "does not exist", "imuwalk ports")


def _port(device: str, vid: int | None, likely: str | None = None) -> dict:
    return {"device": device, "description": "USB serial" if vid else "n/a", "hwid": "n/a", "vid": vid,
            "pid": 0x43 if vid else None, "serial_number": None, "manufacturer": None, "likely": likely}


def test_pick_port_without_port_argument():
    from imuwalk.cli.cmd_ports import pick_port

    ttys = _port("/dev/ttyS0", None)
    acm = _port("/dev/ttyACM0", 0x2341, "Arduino")
    usb = _port("/dev/ttyUSB0", 0x067B)  # a USB-serial chip not on the likely list
    esp = _port("/dev/ttyACM1", 0x303A, "Espressif")
    assert pick_port([ttys, usb])["device"] == "/dev/ttyUSB0"  # the one USB port, likely or not
    assert pick_port([usb, acm, ttys])["device"] == "/dev/ttyACM0"  # the one likely board among several
    with pytest.raises(ValueError, match="no USB serial port found.*--port"):
        pick_port([ttys])
    with pytest.raises(ValueError, match="no USB serial port found"):
        pick_port([])
    with pytest.raises(ValueError, match=r"several serial ports .*/dev/ttyACM0, /dev/ttyACM1.*--port"):
        pick_port([acm, esp, usb])  # two likely boards: names those two
    with pytest.raises(ValueError, match=r"\(/dev/ttyUSB0, /dev/ttyUSB1\)"):
        pick_port([usb, _port("/dev/ttyUSB1", 0x067B)])


def test_ports_marks_what_stream_reads(monkeypatch, capsys):
    """The table and --json of `imuwalk ports` mark the port `stream` reads without --port (this machine has no
    USB port, so the listing is given)."""
    import imuwalk.cli.cmd_ports as cmd
    from imuwalk.cli.main import main

    listing = [_port("/dev/ttyACM0", 0x2341, "Arduino"), _port("/dev/ttyUSB0", 0x067B)]
    monkeypatch.setattr(cmd, "list_ports", lambda include_all=False: [dict(d) for d in listing])
    assert main(["ports"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "reads this one without --port" in lines[0] and "without --port" not in lines[1], lines
    assert main(["ports", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["stream_default"] for d in doc] == [True, False]
    listing.append(_port("/dev/ttyACM1", 0x303A, "Espressif"))  # two likely boards: stream cannot tell
    assert main(["ports", "--json"]) == 0
    assert not any(d["stream_default"] for d in json.loads(capsys.readouterr().out))


def test_stream_without_port_and_no_sensor_plugged_in_is_one_line(tmp_path):
    from imuwalk.cli.cmd_ports import list_ports

    if list_ports():
        pytest.skip("a USB serial port is present on this machine: stream would read it")
    f = tmp_path / "w.h5"
    p = _cli("stream", "--record", str(f), "--duration", "1", config=tmp_path)
    _one_line(p, 1, "no USB serial port found", "--port")
    assert not f.exists()
    p = _cli("stream", "--port", "auto", "--duration", "1", config=tmp_path)
    _one_line(p, 1, "no USB serial port found")


def test_unreadable_mount_store_is_one_line(tmp_path):
    (tmp_path / "mounts.json").write_text("{not json")
    p = _cli("stream", "--port", str(tmp_path / "ttyNOPE"), config=tmp_path)
    _one_line(p, 1, "mount store", "unreadable")


def test_usage_errors_exit_2(tmp_path):
    p = _cli("stream", "--port", "x", "--mount=-y", "--calibrate", config=tmp_path)
    assert p.returncode == 2 and "not allowed with" in p.stderr
    _one_line(_cli("stream", "--port", "x", "--mount=-w", config=tmp_path), 2, "--mount")
    _one_line(_cli("stream", "--port", "x", "--calibrate-strides", "4", config=tmp_path), 2,
              "--calibrate-strides")
    _one_line(_cli("stream", "--port", "x", "--record", str(tmp_path / "a.txt"), config=tmp_path), 2, "--record")
    _one_line(_cli("stream", "--port", "x", "--line-rate", "25", config=tmp_path), 2, "--line-rate")
    _one_line(_cli("stream", "--port", "x", "--format", "text", "--line-rate", "0", config=tmp_path), 2,
              "--line-rate")
    _one_line(_cli("stream", "--port", "x", "--param", "max_swing=1", config=tmp_path), 2,
              "--param max_swing: not a detector parameter; did you mean max_swing_s")


def test_permission_denied_names_the_fix(tmp_path):
    port = tmp_path / "ttyLOCKED"
    port.write_bytes(b"")
    port.chmod(0)
    args = ["stream", "--port", str(port), "--duration", "1"]
    if os.geteuid() != 0:
        p = _cli(*args, config=tmp_path)
    else:  # root ignores file modes: drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is not installed")
        caps = "-dac_override,-dac_read_search"
        p = subprocess.run(["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *CMD, *args],
                           env=_env(tmp_path), capture_output=True, text=True, timeout=60)
        if p.stderr.startswith("setpriv"):
            pytest.skip(f"cannot drop capabilities here: {p.stderr.strip()}")
    _one_line(p, 1, "permission denied", "dialout")


# ---------------------------------------------------------------------------------------- calibration
def _feed(det, walk, chunk: int):
    parts = [det.update(walk.t[i:i + chunk], walk.acc[i:i + chunk], walk.gyr[i:i + chunk])
             for i in range(0, walk.t.shape[0], chunk)]
    parts.append(det.finish())
    return np.concatenate(parts)


def test_calibrating_detector_is_chunk_invariant_and_replayable():
    """Live calibration gives, chunk for chunk, exactly what a replay with the calibrated mount gives."""
    from imuwalk.cli.session import CalibratingDetector
    from imuwalk.core.detector import StepDetector

    walk = generate_walk(rate_hz=100.0, placement="shank", segments=[(1.0, "still"), (8.0, "forward"),
                                                                     (8.0, "backward")], seed=7)
    done = []
    runs_ = []
    for chunk in (1, 7, 64, 100_000):
        det = CalibratingDetector("shank", 5, on_done=lambda m, e: done.append((m, e)))
        rows = _feed(det, walk, chunk)
        assert det.state_ == "calibrated" and det.events_.tobytes() == rows.tobytes()
        runs_.append((rows, det.mount_))
    rows0, mount0 = runs_[0]
    for rows, mount in runs_[1:]:
        assert rows.tobytes() == rows0.tobytes() and np.array_equal(mount.right_vec, mount0.right_vec)
    assert len(done) == 4 and all(e is None for _, e in done)
    replay = _feed(StepDetector(placement="shank", mount=mount0), walk, 50)
    assert replay.tobytes() == rows0.tobytes()
    d = rows0["direction"]
    truth = walk.stride_direction
    assert (d[:5] == 1).all() and (d == 1).sum() >= 0.9 * (truth == 1).sum()
    assert (d == -1).sum() >= 0.9 * (truth == -1).sum()


def test_calibration_that_cannot_finish_keeps_the_automatic_directions():
    from imuwalk.cli.session import CalibratingDetector
    from imuwalk.core.detector import StepDetector

    walk = generate_walk(rate_hz=100.0, placement="shank", segments=[(1.0, "still"), (4.0, "forward")], seed=2)
    done = []
    det = CalibratingDetector("shank", 8, on_done=lambda m, e: done.append((m, e)))
    rows = _feed(det, walk, 40)
    auto = _feed(StepDetector(placement="shank"), walk, 40)
    assert 1 <= len(rows) < 8 and rows.tobytes() == auto.tobytes()  # nothing held back or lost
    assert det.state_ == "incomplete" and det.mount_ is None
    assert len(done) == 1 and done[0][0] is None and "of 8" in done[0][1]
    with pytest.raises(ValueError, match="n_strides"):
        CalibratingDetector("shank", 2)


def test_detect_replays_a_calibrated_recording_exactly(runs):
    """The calibrated mount is written into the file at close, so replay decides like the live run."""
    live = _doc(runs["calibrate_out"])
    with Recording(runs["cal_h5"]) as rec:
        assert np.allclose(rec.mount["right"], live["mount"]["right"])
    p = subprocess.run([*CMD, "detect", str(runs["cal_h5"]), "--json"], env=_env(runs["dir"] / "cfg-y"),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    replay = json.loads(p.stdout)
    assert [s["t_ic"] for s in replay["strides"]] == [s["t_ic"] for s in live["strides"]]
    assert [s["direction"] for s in replay["strides"]] == [s["direction"] for s in live["strides"]]
