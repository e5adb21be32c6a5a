"""Loaders of the public datasets into :class:`GaitRecording` (one function per manifest entry).

Each loader takes the dataset's folder (a copy of the files listed in ``manifest.json``) and returns the
recordings in imuwalk units: t s, acc m/s² incl. gravity, gyr rad/s. Ground-truth rules are documented in
``datasets/README.md`` and in each loader's docstring.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import posixpath
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np

from imuwalk._optional import require
from imuwalk.datasets._recording import GaitRecording

G0 = 9.80665
DEG = np.pi / 180.0


# --------------------------------------------------------------------------- helpers
#: at most this many samples out of order (a packet delivered late) are dropped; more is a clock or counter reset
MAX_OUT_OF_ORDER = 3


def _keep_increasing(t: np.ndarray, path, unit: str = "row", first: int = 0) -> np.ndarray:
    """Indices of the samples to keep: NaN times, exact repeats and up to MAX_OUT_OF_ORDER samples whose time is
    not after an earlier one (a late packet) are dropped.

    More samples behind an earlier time (a clock or counter reset: dropping them would silently cut the file)
    raise ValueError naming ``path``, the ``unit`` number of the first (``first`` = number of sample 0) and
    the two times."""
    t = np.asarray(t, dtype=np.float64)
    fin = np.flatnonzero(np.isfinite(t))
    tf = t[fin]
    if not len(fin):
        return fin
    prev_max = np.maximum.accumulate(np.r_[-np.inf, tf[:-1]])
    ok = tf > prev_max
    repeat = np.r_[False, tf[1:] == tf[:-1]]
    late = ~ok & ~repeat
    if np.count_nonzero(late) > MAX_OUT_OF_ORDER:
        j = int(np.flatnonzero(late)[0])
        raise ValueError(f"{path}: time goes backward at {unit} {first + int(fin[j])} ({prev_max[j]:.10g} -> "
                         f"{tf[j]:.10g}) and stays behind for {np.count_nonzero(late)} samples (a reset?); only "
                         f"exact repeats and up to {MAX_OUT_OF_ORDER} late samples are dropped")
    return fin[ok]


def _load_each(entry: dict, items, load_one, what: str) -> list[GaitRecording]:
    """``load_one(item)`` for every item, concatenated; a ValueError goes to :func:`_skip` (``what`` formatted
    with the item names it)."""
    out: list[GaitRecording] = []
    for item in items:
        try:
            out += load_one(item)
        except ValueError as exc:
            _skip(entry, exc, what.format(item))
    return out


def _skip(entry: dict, exc: ValueError, what: str) -> None:
    """A bad file of a dataset with several: raise ``exc`` when ``entry['strict']`` (the default when a loader is
    called directly), else warn naming the file and the problem, note it in ``entry['skipped']`` and go on."""
    if entry.get("strict", True):
        raise exc
    entry.setdefault("skipped", []).append(exc)
    warnings.warn(f"{exc}; {what} skipped", stacklevel=3)


def _need_rows(path, n: int) -> None:
    if n < 2:
        raise ValueError(f"{path}: no data rows (found {n}, need at least 2)")


#: errors of a file parse that get the file's name added (FileNotFoundError already names it)
_PARSE_ERRORS = (ValueError, KeyError, IndexError, TypeError, OSError, NotImplementedError)


def _load_txt(path: Path, **kw) -> np.ndarray:
    """``np.loadtxt`` of one data file as a 2-D array of ≥ 2 rows; any parse error is a ValueError naming it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below
            d = np.loadtxt(path, ndmin=2, **kw)
    except FileNotFoundError:
        raise
    except _PARSE_ERRORS as exc:
        raise ValueError(f"{path}: {exc}") from exc
    _need_rows(path, len(d))
    return d


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pairs(src, key: str, value, span=None, margin: float = 0.0, single: bool = False) -> np.ndarray:
    """Annotation ``value`` (a list of [start, end] pairs, or one pair with ``single``) as an (n, 2) array.

    Checked: finite numbers, start <= end and, given ``span`` (first, last data time, in the annotation's
    unit), inside span ± ``margin``. Raises ValueError naming ``src`` (the file), ``key`` and the bad entry."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{src}: {key} must hold numbers, got {_short(value)} ({exc})") from exc
    if single and a.ndim == 1:
        a = a[None]
    elif a.size == 0:
        a = a.reshape(0, 2)
    if a.ndim != 2 or a.shape[1] != 2 or (single and len(a) != 1):
        kind = "a [start, end] pair" if single else "a list of [start, end] pairs"
        raise ValueError(f"{src}: {key} must be {kind}, got {_short(value)}")
    for i, (s, e) in enumerate(a):
        entry = _short(value if single else value[i])
        if not (np.isfinite(s) and np.isfinite(e)):
            raise ValueError(f"{src}: {key} entry {entry} is not a pair of finite numbers")
        if s > e:
            raise ValueError(f"{src}: {key} entry {entry} has start > end")
        if span is not None and (s < span[0] - margin or e > span[1] + margin):
            raise ValueError(f"{src}: {key} entry {entry} lies outside the recorded data "
                             f"({span[0]:.10g} to {span[1]:.10g}, margin {margin:g})")
    return a


def _rec(name, dataset, t, acc, gyr, **kw) -> GaitRecording:
    t = np.ascontiguousarray(t, dtype=np.float64)
    acc = np.ascontiguousarray(acc, dtype=np.float64)
    gyr = np.ascontiguousarray(gyr, dtype=np.float64)
    if not (len(t) == len(acc) == len(gyr)) or acc.shape[1:] != (3,) or gyr.shape[1:] != (3,):
        raise ValueError(f"{name}: inconsistent shapes t{t.shape} acc{acc.shape} gyr{gyr.shape}")
    if len(t) > 1 and not np.all(np.diff(t) > 0):
        raise ValueError(f"{name}: time is not strictly increasing")
    for k in ("ic", "fc"):
        if kw.get(k) is not None:
            kw[k] = np.sort(np.asarray(kw[k], dtype=np.float64))
    return GaitRecording(name=name, dataset=dataset, t=t, acc=acc, gyr=gyr, **kw)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """User cache folder of imuwalk (``$IMUWALK_CACHE``, else pooch's OS cache, else ``~/.cache/imuwalk``)."""
    env = os.environ.get("IMUWALK_CACHE")
    if env:
        return Path(env).expanduser()
    try:
        import pooch

        return Path(pooch.os_cache("imuwalk"))
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "imuwalk"


SEGMENT_LABELS = ("forward", "backward", "sideways", "still", "transition")


def _segments_csv(path: Path) -> list[tuple[float, float, str]]:
    """Rows (start_s, end_s, label) of a segments table; ValueError naming the file on a bad or empty table."""
    try:
        with open(path, newline="") as f:
            rows = [(float(r["start_s"]), float(r["end_s"]), r["label"].strip()) for r in csv.DictReader(f)]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a segments table with columns start_s,end_s,label ({exc!r})") from exc
    if not rows:
        raise ValueError(f"{path}: no segments")
    for a, b, lab in rows:
        if not (np.isfinite(a) and np.isfinite(b) and a < b) or lab not in SEGMENT_LABELS:
            raise ValueError(f"{path}: bad segment {(a, b, lab)} (need start < end and a label in {SEGMENT_LABELS})")
    return rows


def _forward_all(t: np.ndarray) -> list[tuple[float, float, str]]:
    return [(float(t[0]), float(t[-1]), "forward")]


# --------------------------------------------------------------------------- ipol
#: |gyr_y| above this (rad/s) inside a long gap between annotated footsteps = possibly unannotated motion.
IPOL_GAP_GYR = 2.0


_TRIAL_RE = re.compile(r"(\d+)-(\d+)")  # IPOL trial name "<subject>-<trial>"


def _trial_key(stem: str) -> tuple:
    """Natural order of IPOL trial names "<subject>-<trial>" (2-1 before 10-1); other names after, by text."""
    m = _TRIAL_RE.fullmatch(stem)
    return (0, int(m.group(1)), int(m.group(2)), "") if m else (1, 0, 0, stem)


_IPOL_PARTS = (".json", "_lf.txt", "_rf.txt")


def ipol_trials(folder: Path, strict: bool = True) -> list[str]:
    """Trial names ("1-1", "13-2", ...) under ``folder/GaitData``: stems of ``<stem>.json``, ``<stem>_lf.txt``
    and ``<stem>_rf.txt`` (``_lb.txt``, the lower-back sensor, is ignored).

    The shared subset holds trial 1 of subjects 1–12; trials added from the full set (19 subjects, 110
    trials in the same repository and format) are found too. A stem with some but not all three files (or a
    broken link) raises ValueError naming the missing ones; with ``strict=False`` it is left out with a warning."""
    gd = Path(folder) / "GaitData"
    stems = {p.name[: -len(part)] for part in _IPOL_PARTS for p in gd.glob(f"*{part}")}
    incomplete = []
    for stem in sorted(stems, key=_trial_key):
        missing = [f"{stem}{part}" for part in _IPOL_PARTS if not (gd / f"{stem}{part}").is_file()]
        if missing:
            incomplete.append(f"{stem} lacks {', '.join(missing)}")
    if incomplete:
        msg = (f"{gd}: incomplete IPOL trial(s) ({'; '.join(incomplete)}); each trial needs <trial>.json, "
               "<trial>_lf.txt and <trial>_rf.txt")
        if strict:
            raise ValueError(msg)
        warnings.warn(f"{msg}; skipped", stacklevel=2)
        bad = {x.split(" lacks ")[0] for x in incomplete}
        stems = {x for x in stems if x not in bad}
    return sorted(stems, key=_trial_key)


def _unwrap_counter(c: np.ndarray, modulus: float = 65536.0) -> np.ndarray:
    """An Xsens 16-bit PacketCounter made monotonic: a drop by more than half the range is a wrap."""
    c = np.asarray(c, dtype=np.float64)
    if len(c) < 2:
        return c
    jumps = np.diff(c) < -modulus / 2
    return c + modulus * np.r_[0.0, np.cumsum(jumps)]


#: margin (packets = 1 s) around a foot file's PacketCounter span inside which its annotated events must lie
IPOL_EVENT_MARGIN = 100.0


def _ipol_json(path: Path) -> tuple[dict, dict, tuple, tuple | None]:
    """One trial's annotation JSON, its foot events (unchecked), TrialBoundaries and UTurnBoundaries (None when
    absent or []) as checked (start, end) packet pairs; ValueError naming the file when it is not valid."""
    try:
        js = json.loads(path.read_text())
        tb, ut = js["TrialBoundaries"], js.get("UTurnBoundaries")
        events = {key: js[key] for key in ("LeftFootEvents", "RightFootEvents")}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an IPOL annotation file ({exc!r})") from exc
    tb = tuple(float(x) for x in _pairs(path, "TrialBoundaries", tb, single=True)[0])
    if ut is not None and not (isinstance(ut, list) and not ut):
        ut = tuple(float(x) for x in _pairs(path, "UTurnBoundaries", ut, single=True)[0])
    return js, events, tb, ut or None


def _ipol_foot(path: Path) -> tuple[np.ndarray, int]:
    """One foot file (all 10 columns, so a truncated row is an error) with the counter unwrapped and repeated
    counters dropped, and the number dropped."""
    d = _load_txt(path, skiprows=2, usecols=range(10))
    d[:, 0] = _unwrap_counter(d[:, 0])
    keep = _keep_increasing(d[:, 0], path, "line", 3)
    return d[keep], len(d) - len(keep)


def load_ipol(folder: Path, entry: dict) -> list[GaitRecording]:
    """IPOL healthy gait (Voisard 2023), left and right foot of every trial in ``GaitData`` (:func:`ipol_trials`;
    the shared subset: trial 1 of subjects 1–12).

    Time base = PacketCounter / 100 (16-bit wraps unwrapped, repeated counters dropped, lost packets kept as
    gaps; a counter going backward is an error). GT footstep
    [start, end] packet indices = [toe-off (fc), heel strike (ic)], each within 1 s of that foot's PacketCounter
    span (else ValueError); a foot without events is skipped with a warning. Region = first..last annotated
    event of that foot ± 0.5 s. U-turn footsteps are annotated, so the U-turn stays in the region; but a gap
    between consecutive annotated footsteps longer than 1.3 × the median stride in which |gyr_y| exceeds
    ``IPOL_GAP_GYR`` (150 ms away from the neighbouring events) may hide an unannotated step: it goes to
    ``meta['exclude']`` (happens on 9-1 in the U-turn and 7-1 left after the trial end).
    """
    gd = folder / "GaitData"
    trials = ipol_trials(folder, strict=entry.get("strict", True))
    if not trials:
        raise FileNotFoundError(f"no IPOL trial (<s>-<t>.json with _lf.txt and _rf.txt) in {gd}")
    return _load_each(entry, trials, lambda trial: _ipol_trial(gd, trial), "trial {}")


def _ipol_trial(gd: Path, trial: str) -> list[GaitRecording]:
    """The (up to) two foot recordings of one IPOL trial (see :func:`load_ipol`); ValueError naming the file."""
    out = []
    js_path = gd / f"{trial}.json"
    js, events, tb, ut = _ipol_json(js_path)
    name_match = _TRIAL_RE.fullmatch(trial)
    subject = js.get("Subject", int(name_match.group(1)) if name_match else None)
    has_uturn = ut is not None
    for side, suffix, key in (("left", "lf", "LeftFootEvents"), ("right", "rf", "RightFootEvents")):
        d, n_dup = _ipol_foot(gd / f"{trial}_{suffix}.txt")
        t = d[:, 0] / 100.0
        span = (float(d[0, 0]), float(d[-1, 0]))
        ev = _pairs(js_path, key, events[key], span=span, margin=IPOL_EVENT_MARGIN) / 100.0
        if len(ev) == 0:
            warnings.warn(f"{js_path}: {key} is empty; ipol/{trial}/{side} skipped (nothing to score against)",
                          stacklevel=2)
            continue
        fc, ic = ev[:, 0], ev[:, 1]
        region = (float(ev.min()) - 0.5, float(ev.max()) + 0.5)
        exclude = []
        if len(ic) > 2:
            med = np.median(np.diff(ic))
            for a_end, b_start in zip(ic[:-1], fc[1:], strict=False):
                if b_start - a_end > 1.3 * med:
                    m = (t > a_end + 0.15) & (t < b_start - 0.15)
                    if m.any() and np.abs(d[m, 5]).max() > IPOL_GAP_GYR:
                        exclude.append((float(a_end + 0.05), float(b_start - 0.05)))
        gaps = int(np.sum(np.diff(d[:, 0]) > 1.5))
        if has_uturn:
            segs = [
                (tb[0] / 100.0, ut[0] / 100.0, "forward"),
                (ut[0] / 100.0, ut[1] / 100.0, "transition"),
                (ut[1] / 100.0, tb[1] / 100.0, "forward"),
            ]
        else:
            segs = [(tb[0] / 100.0, tb[1] / 100.0, "forward")]
        out.append(
            _rec(
                f"ipol/{trial}/{side}", "ipol", t, d[:, 1:4], d[:, 4:7], placement="foot", side=side,
                ic=ic, fc=fc, region=region, segments=segs,
                meta={
                    "rate_hz": 100.0, "subject": subject, "trial": trial, "age": js.get("Age"),
                    "gender": js.get("Gender"), "trial_bounds_s": (tb[0] / 100.0, tb[1] / 100.0),
                    "uturn_s": (ut[0] / 100.0, ut[1] / 100.0) if has_uturn else None,
                    "exclude": exclude,
                    "dropped_duplicates": n_dup, "packet_gaps": gaps, "sagittal_axis": 1,
                    "file": f"GaitData/{trial}_{suffix}.txt",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- gaitmap
#: margin (s) around the IMU data inside which the gaitmap mocap events must lie
GAITMAP_EVENT_MARGIN = 1.0


def _gaitmap_imu(path: Path, rate: float, side: str):
    pd = require("pandas", "the gaitmap example loader")

    try:
        df = pd.read_csv(path, header=[0, 1], index_col=0)
        sensor = f"{side}_sensor"
        acc = np.column_stack([df[(sensor, f"acc_{a}")].to_numpy(np.float64) for a in "xyz"])
        gyr = np.column_stack([df[(sensor, f"gyr_{a}")].to_numpy(np.float64) for a in "xyz"]) * DEG
        t = df.index.to_numpy(np.float64) / rate
    except FileNotFoundError:
        raise
    except _PARSE_ERRORS as exc:
        raise ValueError(f"{path}: {exc!r}") from exc
    _need_rows(path, len(t))
    keep = _keep_increasing(t * rate, path, "data row", 1)  # the index counts samples
    return t[keep], acc[keep], gyr[keep]


def _gaitmap_events(path: Path, side: str, cols: tuple[str, ...], t: np.ndarray, rate: float) -> dict:
    """Columns ``cols`` (sample numbers) of one foot's rows of a gaitmap event table, in s; ValueError naming
    the file when the foot has no row, a [start, end] pair is not ordered, or an event is not a finite sample
    number inside the IMU data (± ``GAITMAP_EVENT_MARGIN`` s)."""
    pd = require("pandas", "the gaitmap example loader")

    try:
        tab = pd.read_csv(path)
        e = tab[tab["foot"] == side]
        ev = {c: e[c].to_numpy(np.float64) for c in cols + ("start", "end")}
    except FileNotFoundError:
        raise
    except _PARSE_ERRORS as exc:
        raise ValueError(f"{path}: {exc!r}") from exc
    if len(e) == 0:
        raise ValueError(f"{path}: no event of the {side} foot (column 'foot')")
    _pairs(path, f"{side} [start, end]", np.column_stack([ev["start"], ev["end"]]).tolist())
    lo, hi = (t[0] - GAITMAP_EVENT_MARGIN) * rate, (t[-1] + GAITMAP_EVENT_MARGIN) * rate
    for c in cols:
        bad = np.flatnonzero(~(np.isfinite(ev[c]) & (ev[c] >= lo) & (ev[c] <= hi)))
        if len(bad):
            raise ValueError(f"{path}: {side} {c} = {ev[c][bad[0]]:g} is not a sample number inside the IMU data "
                             f"({t[0] * rate:g} to {t[-1] * rate:g}, margin {GAITMAP_EVENT_MARGIN:g} s)")
    return {c: ev[c] / rate for c in cols}


def _gaitmap_common(folder: Path, dataset: str, imu_file: str) -> list[GaitRecording]:
    rate = 204.8
    out = []
    for side in ("left", "right"):
        t, acc, gyr = _gaitmap_imu(folder / imu_file, rate, side)
        e = _gaitmap_events(folder / "stride_events_sample.csv", side, ("ic", "pre_ic", "tc"), t, rate)
        ic = np.unique(np.concatenate([e["ic"], e["pre_ic"]]))
        fc = np.unique(e["tc"])
        allev = np.concatenate([ic, fc])
        out.append(
            _rec(
                f"{dataset}/{side}", dataset, t, acc, gyr, placement="foot", side=side, ic=ic, fc=fc,
                region=(float(allev.min()) - 0.3, float(allev.max()) + 0.3), segments=_forward_all(t),
                meta={"rate_hz": rate, "file": imu_file, "gt": "mocap IC/TC (stride_events_sample.csv)",
                      "exclude": [], "sagittal_axis": 1 if dataset == "gaitmap" else None},
            )
        )
    return out


def load_gaitmap(folder: Path, entry: dict) -> list[GaitRecording]:
    """gaitmap example (204.8 Hz, lateral shoe sensors, gaitmap foot frame). GT: mocap ic + pre_ic, tc."""
    return _gaitmap_common(folder, "gaitmap", "imu_sample.csv")


def load_gaitmap_not_rotated(folder: Path, entry: dict) -> list[GaitRecording]:
    """Same recording and GT as ``gaitmap``, in the original (not rotated) sensor frames."""
    return _gaitmap_common(folder, "gaitmap_not_rotated", "imu_sample_not_rotated.csv")


#: scored margin around each burst of annotated ICs (less than half a stride: the unannotated neighbours stay out)
IC_STRIDE_MARGIN_S = 0.3


def load_gaitmap_ic_stride(folder: Path, entry: dict) -> list[GaitRecording]:
    """gaitmap 4×10 m example at 102.4 Hz; GT = mocap IC stride borders (ic only, fc None)."""
    rate = 102.4
    out = []
    for side in ("left", "right"):
        t, acc, gyr = _gaitmap_imu(folder / "imu_sample_ic_stride.csv", rate, side)
        e = _gaitmap_events(folder / "stride_borders_sample_ic_stride.csv", side, ("start", "end"), t, rate)
        ic = np.unique(np.concatenate([e["start"], e["end"]]))
        # the strides are annotated only inside the mocap volume: 2-3 per 10-m pass; the walking between
        # those bursts (rest of the pass, turns) has no reference and is not scored
        gap = 1.5 * float(np.median(np.diff(ic)))
        exclude = [(float(a) + IC_STRIDE_MARGIN_S, float(b) - IC_STRIDE_MARGIN_S)
                   for a, b in zip(ic[:-1], ic[1:], strict=True) if b - a > gap]
        out.append(
            _rec(
                f"gaitmap_ic_stride/{side}", "gaitmap_ic_stride", t, acc, gyr, placement="foot", side=side,
                ic=ic, fc=None, region=(float(ic.min()) - IC_STRIDE_MARGIN_S, float(ic.max()) + IC_STRIDE_MARGIN_S),
                segments=_forward_all(t),
                meta={"rate_hz": rate, "file": "imu_sample_ic_stride.csv", "exclude": exclude, "sagittal_axis": 1,
                      "gt": "mocap IC stride borders (stride_borders_sample_ic_stride.csv)"},
            )
        )
    return out


# --------------------------------------------------------------------------- marpino
MARPINO_SENSORS = {("right", "foot"): 1, ("right", "shank"): 2, ("left", "shank"): 5, ("left", "foot"): 6}
_MARPINO_PARSER_VERSION = 3


def _marpino_columns() -> list[str]:
    cols = []
    for k in sorted(set(MARPINO_SENSORS.values())):
        cols.append(f"Time_{k}")
        cols += [f"Acc_read_{a}_{k}" for a in "xyz"] + [f"Gyro_read_{a}_{k}" for a in "xyz"]
        if k in (1, 6):
            cols += [f"Ext1_{k}", f"Ext2_{k}"]
    return cols


_CELL = re.compile(
    rb'<c r="([A-Z]+)(\d+)"([^>]*?)(?:/>|>(?:<f>[^<]*</f>)?(?:<v>([^<]*)</v>)?'
    rb"(?:<is><t[^>]*>([^<]*)</t></is>)?</c>)"
)


def _attr(tag: str, name: str) -> str | None:
    """Value of attribute ``name`` (any namespace prefix) of an XML start tag, unescaped."""
    from xml.sax.saxutils import unescape

    m = re.search(r"\s(?:[\w.-]+:)?" + name + r'="([^"]*)"', tag)
    return unescape(m.group(1), {"&quot;": '"', "&apos;": "'"}) if m else None


def _xlsx_sheet_part(z: zipfile.ZipFile, sheet: str) -> str:
    """Zip member of worksheet ``sheet``: its r:id in xl/workbook.xml resolved through xl/_rels/workbook.xml.rels.
    KeyError when the sheet or its part is not found."""
    wb = z.read("xl/workbook.xml").decode()
    rid = next((_attr(tag, "id") for tag in re.findall(r"<sheet\s[^>]*>", wb) if _attr(tag, "name") == sheet), None)
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    for tag in re.findall(r"<Relationship\s[^>]*>", rels):
        if rid is not None and _attr(tag, "Id") == rid:
            target = _attr(tag, "Target") or ""
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            if part in z.namelist():
                return part
    raise KeyError(f"worksheet {sheet!r} not found")


def _xlsx_fast(path: Path, sheet: str, want: list[str]) -> np.ndarray:
    """Columns ``want`` (header names, stripped) of a plain xlsx sheet as a float array; row i = sheet row i + 2
    (blank cells NaN).

    A direct zip/XML scan, ~20x faster than openpyxl on these files. Raises KeyError/ValueError on a layout
    it does not understand (the caller then falls back to openpyxl).
    """
    from xml.sax.saxutils import unescape

    with zipfile.ZipFile(path) as z:
        xml = z.read(_xlsx_sheet_part(z, sheet))
        sst = []
        if "xl/sharedStrings.xml" in z.namelist():
            for si in re.findall(rb"<si>(.*?)</si>", z.read("xl/sharedStrings.xml"), flags=re.S):
                sst.append(unescape(re.sub(rb"<[^>]+>", b"", si).decode()))
    end1 = xml.find(b"</row>")
    header: dict[bytes, str] = {}
    for m in _CELL.finditer(xml[:end1]):
        if m.group(2) == b"1" and (m.group(4) is not None or m.group(5) is not None):
            text = m.group(5).decode() if m.group(5) is not None else m.group(4).decode()
            header[m.group(1)] = (sst[int(text)] if b't="s"' in m.group(3) else text).strip()
    by_name = {name: col for col, name in header.items()}
    missing = [c for c in want if c not in by_name]
    if missing:
        raise KeyError(f"columns {missing} not found")
    col_j = {by_name[name]: j for j, name in enumerate(want)}
    alt = b"|".join(re.escape(c) for c in col_j)
    pat = re.compile(
        rb'<c r="(' + alt + rb')(\d+)"([^>]*?)(?:/>|>(?:<f>[^<]*</f>)?(?:<v>([^<]*)</v>)?'
        rb"(?:<is><t[^>]*>([^<]*)</t></is>)?</c>)"
    )
    rows, cols, vals = [], [], []
    for m in pat.finditer(xml, end1):
        v, inline = m.group(4), m.group(5)
        if v is None and inline is None:
            continue
        text = inline.decode() if inline is not None else v.decode()
        if b't="s"' in m.group(3):
            text = sst[int(text)]
        rows.append(int(m.group(2)))
        cols.append(col_j[m.group(1)])
        vals.append(float(text.strip()))
    if not rows:
        raise ValueError("no data cells")
    r = np.asarray(rows) - 2
    out = np.full((int(r.max()) + 1, len(want)), np.nan)
    out[r, np.asarray(cols)] = vals
    return out


def _xlsx_openpyxl(path: Path, sheet: str, want: list[str]) -> np.ndarray:
    """Same as :func:`_xlsx_fast` through openpyxl (slow, general); trailing blank rows dropped."""
    load_workbook = require("openpyxl", "reading a Marpino sheet of another layout").load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb[sheet].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows)]
        missing = [c for c in want if c not in header]
        if missing:
            raise ValueError(f"{path.name}: columns {missing} not found in sheet {sheet!r}")
        idx = [header.index(c) for c in want]
        data = [[r[i] if i < len(r) else None for i in idx] for r in rows if r is not None]
    finally:
        wb.close()
    while data and all(v is None for v in data[-1]):
        data.pop()
    return np.array([[float(str(v).strip()) if v is not None else np.nan for v in row] for row in data])


def _marpino_table(path: Path) -> dict[str, np.ndarray]:
    """The needed columns of one xlsx as float arrays; parsed once, then cached as .npz by sha256."""
    digest = _sha256(path)
    cache = cache_dir() / "parsed" / f"marpino_{digest[:32]}_v{_MARPINO_PARSER_VERSION}.npz"
    if cache.exists():
        try:
            with np.load(cache) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            pass  # corrupt cache: parse again
    want = _marpino_columns()
    try:
        arr = _xlsx_fast(path, "sensor_all", want)
    except (KeyError, ValueError):
        arr = _xlsx_openpyxl(path, "sensor_all", want)
    arr = arr.reshape(-1, len(want))
    table = {c: arr[:, j] for j, c in enumerate(want)}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **table)
        os.replace(tmp, cache)
    except OSError:
        pass  # read-only cache: fine, just slower next time
    return table


def _crossings(x: np.ndarray, level: float, rising: bool) -> np.ndarray:
    """Fractional sample indices where x crosses ``level`` upward (or downward), linear interpolation."""
    if rising:
        i = np.flatnonzero((x[:-1] < level) & (x[1:] >= level))
    else:
        i = np.flatnonzero((x[:-1] >= level) & (x[1:] < level))
    frac = (level - x[i]) / (x[i + 1] - x[i])
    return i + frac


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of ``mask``."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


#: Contact rule of the Marpino pressure switches (see :func:`marpino_contacts`).
PRESSURE_FRAC, MIN_SWING_S, BRIDGE_S = 0.25, 0.25, 0.06


def marpino_contacts(t: np.ndarray, toe: np.ndarray, heel: np.ndarray, frac: float = PRESSURE_FRAC,
                     min_swing: float = MIN_SWING_S, bridge: float = BRIDGE_S):
    """Initial/final contacts (s) of one foot from its toe and heel pressure.

    Levels: ``frac`` of each channel's 1st–99th percentile range. A swing is a run of samples with the foot
    unloaded (toe and heel both below their levels) lasting ≥ ``min_swing`` s (dropouts < ``bridge`` s
    bridged); shorter unloaded blips (weight shifts, switch chatter) are no steps. Per swing:
    IC = first heel rise through its level after the swing (within 0.5 s of its end), FC = last toe fall
    through its level up to the swing start (within 0.3 s before it). So every contact has an unloaded
    foot in the second before it (the SOURCE.md rule) and switch chatter cannot double-count.
    Blank (NaN) cells are neither loaded nor unloaded and no level is crossed across them; a channel with no
    value at all yields no contacts. Returns (ic, fc), interpolated times in s.
    """
    toe = np.asarray(toe, dtype=np.float64)
    heel = np.asarray(heel, dtype=np.float64)
    if not (np.isfinite(toe).any() and np.isfinite(heel).any()):
        return np.empty(0), np.empty(0)

    def level(x):
        lo, hi = np.nanpercentile(x, [1, 99])
        return lo + frac * (hi - lo)

    lt, lh = level(toe), level(heel)
    unloaded = (toe < lt) & (heel < lh)
    ti = np.arange(len(t), dtype=np.float64)
    heel_up = np.interp(_crossings(heel, lh, rising=True), ti, t)
    toe_down = np.interp(_crossings(toe, lt, rising=False), ti, t)
    s, e = _runs(unloaded)
    # bridge short loaded dropouts between unloaded runs
    starts, ends = [], []
    for a, b in zip(s, e, strict=False):
        if starts and t[a] - t[ends[-1] - 1] <= bridge:
            ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
    ic, fc = [], []
    for a, b in zip(starts, ends, strict=False):
        t_a, t_b = t[a], t[b - 1]
        if t_b - t_a + (t[1] - t[0] if len(t) > 1 else 0) < min_swing:
            continue
        c = heel_up[(heel_up > t_a) & (heel_up <= t_b + 0.5)]
        if len(c):
            ic.append(c[0])
        c = toe_down[(toe_down <= t_a + 1e-9) & (toe_down >= t_a - 0.3)]
        if len(c):
            fc.append(c[-1])
    return np.asarray(ic, dtype=np.float64), np.asarray(fc, dtype=np.float64)


def marpino_walks(folder: Path, entry: dict) -> list[str]:
    """Walk sheets (paths relative to ``folder``): the manifest's, then every other ``*.xlsx`` below ``folder``
    (walks added from the repository's 20 young + 20 elderly), in name order; Office lock files skipped."""
    listed = [f["path"] for f in entry["files"] if f["path"].endswith(".xlsx")]
    found = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*.xlsx")
                   if not p.name.startswith("~$"))
    return [r for r in listed if (Path(folder) / r).exists()] + [r for r in found if r not in listed]


def _marpino_walk_name(rel: str) -> str:
    """Recording-name part of a walk: the file stem for the young group's folder (``20180621_6``), else the
    relative path without suffix (``Elderly/20190115_3``), so that walks of two groups never collide."""
    p = Path(rel)
    return p.stem if p.parent.as_posix() in (".", "Young") else p.with_suffix("").as_posix()


def _marpino_keep(tk: np.ndarray, path: Path, k: int) -> np.ndarray:
    """Rows of sensor ``k``: its own Time_k finite, exact repeats dropped, ≥ 2 rows; ValueError naming the file
    and the sheet row when Time_k goes backward."""
    keep = _keep_increasing(tk, f"{path} (Time_{k}, s)", "sheet row", 2)
    _need_rows(f"{path} (Time_{k})", len(keep))
    return keep


def load_marpino(folder: Path, entry: dict) -> list[GaitRecording]:
    """Marpino walking dataset: every walk sheet in the folder (:func:`marpino_walks`; the shared subset: 2
    young 5-m walks) × (left, right) × (foot, shank), 100 Hz.

    acc = raw / 10000 × 9.81 m/s²; gyr = raw / 100 °/s → rad/s; t = (Time_k − first Time_1) / 1000 s (the
    four recordings of a walk share one time base). Each sensor keeps the rows of its own Time_k: blank times
    and exact repeats (the repeated last row) are dropped, a time going backward is a ValueError. GT from the
    same side's foot pressure (:func:`marpino_contacts`); region = first GT contact − 0.5 s .. last + 0.5 s.
    """
    return _load_each(entry, marpino_walks(folder, entry), lambda rel: _marpino_walk(folder, rel), "walk {}")


def _marpino_walk(folder: Path, rel: str) -> list[GaitRecording]:
    """The (up to) four recordings of one Marpino walk sheet (see :func:`load_marpino`); ValueError naming it."""
    out = []
    path = folder / rel
    try:
        tab = _marpino_table(path)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a Marpino walk sheet ({exc})") from exc
    walk = _marpino_walk_name(rel)
    t1 = tab["Time_1"][np.isfinite(tab["Time_1"])]
    _need_rows(path, len(t1))
    t0 = t1[0]
    gt = {}
    for side, k in (("right", 1), ("left", 6)):
        tk = (tab[f"Time_{k}"] - t0) / 1000.0
        keep = _marpino_keep(tk, path, k)
        gt[side] = marpino_contacts(tk[keep], tab[f"Ext1_{k}"][keep], tab[f"Ext2_{k}"][keep])
        if not any(len(x) for x in gt[side]):
            warnings.warn(f"marpino/{walk}: no contact found in the {side} foot's pressure (Ext1_{k}/Ext2_{k}: "
                          f"a switch off or blank cells); {side}_foot and {side}_shank skipped", stacklevel=2)
    for (side, placement), k in MARPINO_SENSORS.items():
        tk = (tab[f"Time_{k}"] - t0) / 1000.0
        keep = _marpino_keep(tk, path, k)
        acc = np.column_stack([tab[f"Acc_read_{a}_{k}"] for a in "xyz"])[keep] / 10000.0 * 9.81
        gyr = np.column_stack([tab[f"Gyro_read_{a}_{k}"] for a in "xyz"])[keep] / 100.0 * DEG
        ic, fc = gt[side]
        allev = np.concatenate([ic, fc])
        if len(allev) == 0:
            continue  # no contact in this foot's pressure (warned above): nothing to score against
        region = (float(allev.min()) - 0.5, float(allev.max()) + 0.5)
        out.append(
            _rec(
                f"marpino/{walk}/{side}_{placement}", "marpino", tk[keep], acc, gyr, placement=placement,
                side=side, ic=ic, fc=fc, region=region, segments=_forward_all(tk[keep]),
                meta={"rate_hz": 100.0, "walk": walk, "sensor": k, "t0_ms": float(t0), "exclude": [],
                      "gt": "foot pressure: heel rising 25 % (ic), toe falling 25 % (fc)",
                      "dropped_duplicates": int(np.isfinite(tk).sum() - len(keep)), "file": rel},
            )
        )
    return out


# --------------------------------------------------------------------------- ankle log
#: FSR pulse rule: a contact starts when fsr rises through ON after having been below OFF, ≥ MIN_SEP s apart.
FSR_ON, FSR_OFF, FSR_MIN_SEP = 300.0, 100.0, 0.25


def ankle_log_times(unix_s: np.ndarray) -> np.ndarray:
    """Sample times (s from the first RTC second) of a log with 1-s timestamps only.

    Lines of a full second are spread evenly across that second. The first and last seconds are partial
    (logging started/stopped inside them): their lines are spaced at the median rate of the full seconds,
    the first second's lines ending at its end, the last second's starting at its start.
    """
    sec = np.asarray(unix_s, dtype=np.int64)
    if len(sec) and np.any(np.diff(sec) < 0):
        raise ValueError("unix_s: RTC timestamps go backward")
    u, start, counts = np.unique(sec, return_index=True, return_counts=True)
    full = counts[1:-1] if len(counts) > 2 else counts
    rate = float(np.median(full))
    t = np.empty(len(sec), dtype=np.float64)
    for j, (s, i0, n) in enumerate(zip(u, start, counts, strict=False)):
        k = np.arange(n, dtype=np.float64)
        if j == 0 and len(u) > 2:
            t[i0:i0 + n] = (s + 1) - (n - k) / max(rate, n)
        elif j == len(u) - 1 and len(u) > 2:
            t[i0:i0 + n] = s + k / max(rate, n)
        else:
            t[i0:i0 + n] = s + k / n
    return t - sec[0]


def fsr_contacts(t: np.ndarray, fsr: np.ndarray, on: float = FSR_ON, off: float = FSR_OFF,
                 min_sep: float = FSR_MIN_SEP) -> np.ndarray:
    """Contact onset times (s): fsr rising through ``on`` after being below ``off``, ≥ ``min_sep`` s apart."""
    out = []
    armed = True
    last = -np.inf
    for ti, v in zip(t, fsr, strict=False):
        if armed and v >= on:
            if ti - last >= min_sep:
                out.append(ti)
                last = ti
            armed = False
        elif not armed and v < off:
            armed = True
    return np.asarray(out, dtype=np.float64)


def load_ankle_log(folder: Path, entry: dict) -> list[GaitRecording]:
    """Ankle MPU-6050 + FSR log (Steps21.txt): acc counts/16384 g, gyro counts/131 °/s, ~27 Hz irregular.

    No timing GT (FSR pulses are coarse at 27 Hz): ``n_contacts_ref`` = number of FSR pulses
    (:func:`fsr_contacts`), their times in ``meta['fsr_contacts']``.
    """
    path = folder / "Steps21.txt"
    d = _load_txt(path, delimiter=",")
    try:
        t = ankle_log_times(d[:, 0])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    acc = d[:, 1:4] / 16384.0 * G0
    gyr = d[:, 4:7] / 131.0 * DEG
    fsr = d[:, 7]
    contacts = fsr_contacts(t, fsr)
    return [
        _rec(
            "ankle_log/Steps21", "ankle_log", t, acc, gyr, placement="ankle", side="unknown",
            n_contacts_ref=int(len(contacts)),
            meta={"rate_hz": float(1.0 / np.median(np.diff(t))), "fsr": fsr, "fsr_contacts": contacts,
                  "t0_unix": float(d[0, 0]),
                  "fsr_rule": {"on": FSR_ON, "off": FSR_OFF, "min_sep_s": FSR_MIN_SEP},
                  "file": "Steps21.txt"},
        )
    ]


# --------------------------------------------------------------------------- UCI backward
UCI_G = 9.817269086191379
UCI_SUBJECTS = {"2023_08_23": "II", "2023_08_30": "III"}


def uci_recordings(folder: Path, entry: dict) -> list[str]:
    """The ``<date>/<exp>_VN.mat`` files (paths relative to ``folder``): the manifest's that exist, then every
    other one in the folder (further recordings of the repository), in name order."""
    listed = [f["path"] for f in entry["files"] if f["path"].endswith("_VN.mat")]
    found = sorted(p.relative_to(folder).as_posix() for p in Path(folder).glob("*/*_VN.mat"))
    return [r for r in listed if (Path(folder) / r).exists()] + [r for r in found if r not in listed]


def _uci_u(path: Path) -> np.ndarray:
    """The VN-200 array ``u`` (15 channels x N samples) of one .mat file; ValueError naming the file when it is
    unreadable or malformed (e.g. saved transposed)."""
    from scipy.io import loadmat

    try:
        u = np.asarray(loadmat(path, variable_names=["u"])["u"], dtype=np.float64)
    except FileNotFoundError:
        raise
    except _PARSE_ERRORS as exc:
        raise ValueError(f"{path}: {exc!r}") from exc
    _need_rows(path, u.shape[1] if u.ndim == 2 else 0)
    if u.ndim != 2 or not 8 <= u.shape[0] < u.shape[1]:
        raise ValueError(f"{path}: u must be a channels x samples array (15 x N), got shape {u.shape}")
    return u


def load_uci_backward(folder: Path, entry: dict) -> list[GaitRecording]:
    """UCI VN-200 left-foot recordings (:func:`uci_recordings`): forward, BACKWARD and sideways walking (800 Hz).

    acc = u[0:3] × 9.817269086191379 m/s², kept with the recorded sign: the VN-200 body frame has +Z down
    and the sensor reports specific force in the usual convention, so a level sensor at rest reads −g on
    its down-pointing Z (= +g along the upward −Z), which is imuwalk's convention; no sign flip.
    gyr = u[3:6] °/s → rad/s; t = u[7]. Segments from ``<exp>_segments.csv`` (from the manifest when the
    csv is absent; none, with a warning, for a further recording without one). No step timing GT.
    """
    segs_manifest = entry.get("segments", {})
    out = []
    for rel in uci_recordings(folder, entry):
        path = folder / rel
        date = path.parent.name
        exp = path.name[: -len("_VN.mat")]
        seg_path = path.parent / f"{exp}_segments.csv"
        try:
            u = _uci_u(path)
            t = u[7]
            keep = _keep_increasing(t, path, "column of u (1-based)", 1)
            segs = _segments_csv(seg_path) if seg_path.exists() else None
        except ValueError as exc:
            _skip(entry, exc, f"uci_backward/{date}/{exp}")
            continue
        if segs is None and f"{date}/{exp}" in segs_manifest:
            segs = [tuple(s) for s in segs_manifest[f"{date}/{exp}"]]
        elif segs is None:
            segs = []
            warnings.warn(f"{path}: no {seg_path.name} beside it; uci_backward/{date}/{exp} is loaded without "
                          "direction segments", stacklevel=2)
        out.append(
            _rec(
                f"uci_backward/{date}/{exp}", "uci_backward", t[keep], u[0:3, keep].T * UCI_G,
                u[3:6, keep].T * DEG, placement="foot", side="left", segments=segs,
                meta={"rate_hz": 800.0, "subject": UCI_SUBJECTS.get(date, "?"), "date": date, "exp": exp,
                      "sagittal_axis": 1, "file": rel,
                      "acc_convention": "specific force as recorded (VN-200 +Z down: rest reads -g on Z)"},
            )
        )
    return out


# --------------------------------------------------------------------------- x-io
def load_xio_ngimu(folder: Path, entry: dict) -> list[GaitRecording]:
    """x-io NGIMU foot loop walk (short_walk.csv), ~400 Hz; duplicated timestamps dropped; no GT."""
    path = folder / "short_walk.csv"
    d = _load_txt(path, delimiter=",", skiprows=1)
    keep = _keep_increasing(d[:, 0], path, "line", 2)
    d2 = d[keep]
    return [
        _rec(
            "xio_ngimu/short_walk", "xio_ngimu", d2[:, 0], d2[:, 4:7] * G0, d2[:, 1:4] * DEG,
            placement="foot", side="unknown", segments=_forward_all(d2[:, 0]),
            meta={"rate_hz": 400.0, "dropped_duplicates": int(len(d) - len(keep)), "file": "short_walk.csv",
                  "sagittal_axis": 1},
        )
    ]


def load_ximu_csv(folder: Path, entry: dict) -> list[GaitRecording]:
    """x-IMU vendor CSVs (straightLine, stairsAndCorridor), 256 Hz: t = row / 256 (one row per inertial
    packet; ``Packet number`` counts all packet types, so it is not a time base); no GT."""
    out = []
    for f in entry["files"]:
        if not f["path"].endswith("_CalInertialAndMag.csv"):
            continue
        d = _load_txt(folder / f["path"], delimiter=",", skiprows=1)
        t = np.arange(len(d), dtype=np.float64) / 256.0
        stem = f["path"].split("_")[0]
        out.append(
            _rec(
                f"ximu_csv/{stem}", "ximu_csv", t, d[:, 4:7] * G0, d[:, 1:4] * DEG, placement="foot",
                side="unknown", segments=[],
                meta={"rate_hz": 256.0, "packet_number": d[:, 0].astype(np.int64), "file": f["path"]},
            )
        )
    return out


LOADERS = {
    "ipol": load_ipol,
    "gaitmap": load_gaitmap,
    "gaitmap_not_rotated": load_gaitmap_not_rotated,
    "gaitmap_ic_stride": load_gaitmap_ic_stride,
    "marpino": load_marpino,
    "ankle_log": load_ankle_log,
    "uci_backward": load_uci_backward,
    "xio_ngimu": load_xio_ngimu,
    "ximu_csv": load_ximu_csv,
}
