"""Input formats other than the imuwalk wire protocol, and ``read_file`` that auto-detects them.

* :class:`TextLineDecoder`: text lines ``ax,ay,az,gx,gy,gz`` with an optional leading timestamp column
  (comma/tab/space/semicolon separated, extra trailing columns kept), configurable units and scales.
  Bad lines are counted, never raised.
* :class:`XimuDecoder`: the x-IMU (x-io Technologies, 2011-era) binary packet protocol: 7-bit encoded,
  each packet terminated by the one byte with MSB = 1, checksum = sum of the decoded bytes mod 256.
  Header 9 = calibrated inertial & magnetic data, 9 x int16 big-endian: gyro/16 °/s, acc/2048 g, mag/2048 G.
* :func:`read_file`: ``.BIN`` (x-IMU), ``.imuraw`` (imuwalk protocol byte log), ``.h5`` (imuwalk recording),
  headed CSV (``t``/``time`` + ``acc_x``.. + ``gyr_x``.. or vendor headers like ``Gyroscope X (deg/s)``) and
  header-less text logs (``[t,]ax,ay,az,gx,gy,gz[,extra...]``, e.g. the ankle MPU-6050 log with
  ``preset="mpu6050"``). Returns one :class:`~imuwalk.sources.block.SampleBlock` in s, m/s², rad/s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imuwalk.sources.block import SampleBlock
from imuwalk.units import DEG2RAD, G0

__all__ = [
    "TextLineDecoder",
    "TextSamples",
    "XimuDecoder",
    "XimuInertial",
    "PRESETS",
    "read_file",
    "read_text",
    "read_csv",
    "read_ximu",
    "read_imuraw",
    "sniff_format",
    "SUPPORTED_FORMATS",
]

#: One line naming the formats :func:`read_file` reads (for error messages).
SUPPORTED_FORMATS = ("imuwalk HDF5 (.h5), CSV with a header, text logs [t,]ax,ay,az,gx,gy,gz, "
                     "x-IMU .BIN, imuwalk .imuraw")

#: Named scale presets for text logs of raw sensor counts.
#: mpu6050: I2Cdev defaults ±2 g (16384 LSB/g) and ±250 °/s (131 LSB/(°/s)).
PRESETS: dict[str, dict] = {
    "mpu6050": {"acc_unit": "counts", "acc_lsb_per_g": 16384.0,
                "gyr_unit": "counts", "gyr_lsb_per_dps": 131.0},
}

_ACC_UNITS = {"g": "g", "m/s2": "m/s2", "m/s^2": "m/s2", "m/s²": "m/s2", "ms2": "m/s2", "mps2": "m/s2",
              "counts": "counts", "mg": "mg"}
_GYR_UNITS = {"dps": "dps", "deg/s": "dps", "°/s": "dps", "degps": "dps", "rad/s": "rad/s", "rads": "rad/s",
              "counts": "counts"}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def _norm_unit(value: str | None, table: dict, arg: str) -> str | None:
    if value is None:
        return None
    key = str(value).strip().lower().replace(" ", "")
    if key not in table:
        raise ValueError(f"{arg}: unknown unit {value!r}; expected one of {sorted(set(table.values()))}")
    return table[key]


def _acc_factor(unit: str, lsb_per_g: float | None) -> float:
    """Multiplier from ``unit`` to m/s²."""
    if unit == "g":
        return G0
    if unit == "mg":
        return G0 / 1000.0
    if unit == "m/s2":
        return 1.0
    if lsb_per_g is None or not lsb_per_g > 0:
        raise ValueError("acc_lsb_per_g: required (> 0) when acc_unit='counts', e.g. 16384 for ±2 g")
    return G0 / float(lsb_per_g)


def _gyr_factor(unit: str, lsb_per_dps: float | None) -> float:
    """Multiplier from ``unit`` to rad/s."""
    if unit == "dps":
        return DEG2RAD
    if unit == "rad/s":
        return 1.0
    if lsb_per_dps is None or not lsb_per_dps > 0:
        raise ValueError("gyr_lsb_per_dps: required (> 0) when gyr_unit='counts', e.g. 131 for ±250 °/s")
    return DEG2RAD / float(lsb_per_dps)


# --------------------------------------------------------------------------------------------------
# Text lines
# --------------------------------------------------------------------------------------------------


@dataclass
class TextSamples:
    """Samples decoded from text lines. ``t_col`` (N,) is the timestamp column in s (NaN when the
    lines carry none); ``acc`` (N, 3) m/s²; ``gyr`` (N, 3) rad/s; ``values`` (N, 6) the six numbers
    as written; ``extra`` list of per-line tuples of trailing columns (floats)."""

    t_col: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    values: np.ndarray
    extra: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.t_col.shape[0])


_SPLIT = re.compile(r"[,;\s]+")


class TextLineDecoder:
    """Incremental decoder of text sample lines ``[t,]ax,ay,az,gx,gy,gz[,extra...]``.

    Parameters
    ----------
    timestamp : "auto" | True | False
        "auto": 6 numbers → no timestamp; 7 or more → the first is the timestamp.
    time_unit : "s" | "ms" | "us" | "ns"
        Unit of the timestamp column.
    acc_unit : "g" | "mg" | "m/s2" | "counts";  acc_lsb_per_g : counts per g when ``counts``.
    gyr_unit : "dps" | "rad/s" | "counts";  gyr_lsb_per_dps : counts per °/s when ``counts``.
    preset : name in :data:`PRESETS` (e.g. "mpu6050"), sets the four options above (explicit ones win).
    max_line : longest accepted line in bytes; longer input without a newline is dropped and counted.

    Lines may be separated by LF or CRLF, fields by comma, tab, space or semicolon. Leading label
    tokens ending with ``:`` (e.g. ``a/g:`` of the MPU-6050 example sketch) are skipped. A line that
    does not parse, has fewer than 6 numbers or a non-finite number is counted in ``stats["lines_bad"]``
    and never raises.
    """

    def __init__(self, *, timestamp="auto", time_unit: str = "s", acc_unit: str | None = None,
                 acc_lsb_per_g: float | None = None, gyr_unit: str | None = None,
                 gyr_lsb_per_dps: float | None = None, preset: str | None = None, max_line: int = 512):
        opts = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ValueError(f"preset: unknown preset {preset!r}; known: {sorted(PRESETS)}")
            opts.update(PRESETS[preset])
        if acc_unit is not None:
            opts["acc_unit"] = acc_unit
        if acc_lsb_per_g is not None:
            opts["acc_lsb_per_g"] = acc_lsb_per_g
        if gyr_unit is not None:
            opts["gyr_unit"] = gyr_unit
        if gyr_lsb_per_dps is not None:
            opts["gyr_lsb_per_dps"] = gyr_lsb_per_dps
        if timestamp not in ("auto", True, False):
            raise ValueError(f"timestamp: expected 'auto', True or False, got {timestamp!r}")
        if time_unit not in _TIME_UNITS:
            raise ValueError(f"time_unit: expected one of {sorted(_TIME_UNITS)}, got {time_unit!r}")
        if not (isinstance(max_line, int) and max_line >= 16):
            raise ValueError(f"max_line: expected an int >= 16, got {max_line!r}")
        self.timestamp = timestamp
        self.time_unit = time_unit
        self.acc_unit = _norm_unit(opts.get("acc_unit", "g"), _ACC_UNITS, "acc_unit")
        self.gyr_unit = _norm_unit(opts.get("gyr_unit", "dps"), _GYR_UNITS, "gyr_unit")
        self.acc_lsb_per_g = opts.get("acc_lsb_per_g")
        self.gyr_lsb_per_dps = opts.get("gyr_lsb_per_dps")
        self._acc_k = _acc_factor(self.acc_unit, self.acc_lsb_per_g)
        self._gyr_k = _gyr_factor(self.gyr_unit, self.gyr_lsb_per_dps)
        self._t_k = _TIME_UNITS[time_unit]
        self.max_line = max_line
        self._buf = bytearray()
        self._overflow = False
        self.stats = {"bytes": 0, "lines_ok": 0, "lines_bad": 0, "lines_empty": 0, "overflows": 0}

    def _parse(self, line: bytes):
        try:
            s = line.decode("ascii").strip()
        except UnicodeDecodeError:
            return None
        if not s:
            return ()
        toks = [tok for tok in _SPLIT.split(s) if tok]
        while toks and toks[0].endswith(":"):
            toks = toks[1:]
        try:
            nums = [float(tok) for tok in toks]
        except ValueError:
            return None
        n = len(nums)
        if n < 6:
            return None
        has_t = (n >= 7) if self.timestamp == "auto" else bool(self.timestamp)
        if has_t and n < 7:
            return None
        if has_t:
            t, six, extra = nums[0], nums[1:7], nums[7:]
        else:
            t, six, extra = float("nan"), nums[:6], nums[6:]
        if not all(np.isfinite(six)) or (has_t and not np.isfinite(t)):
            return None
        return t, six, extra

    def feed(self, data: bytes, *, final: bool = False) -> TextSamples:
        """Decode the complete lines in ``data`` (plus what was buffered). ``final=True`` also decodes
        a last line without a newline."""
        self.stats["bytes"] += len(data)
        buf = self._buf
        buf += data
        lines = buf.split(b"\n")
        rest = lines.pop()
        if final and rest:
            lines.append(bytes(rest))
            rest = b""
        if self._overflow and lines:
            lines = lines[1:]  # the tail of an over-long line
            self._overflow = False
        if len(rest) > self.max_line:
            self.stats["overflows"] += 1
            self.stats["lines_bad"] += 1
            rest = b""
            self._overflow = True
        self._buf = bytearray(rest)
        ts, vals, extras = [], [], []
        for line in lines:
            if len(line) > self.max_line:
                self.stats["lines_bad"] += 1
                continue
            r = self._parse(line)
            if r is None:
                self.stats["lines_bad"] += 1
            elif r == ():
                self.stats["lines_empty"] += 1
            else:
                ts.append(r[0])
                vals.append(r[1])
                extras.append(tuple(r[2]))
        self.stats["lines_ok"] += len(vals)
        return self._samples(ts, vals, extras)

    def _samples(self, ts, vals, extras) -> TextSamples:
        v = np.asarray(vals, dtype=np.float64).reshape(-1, 6)
        t = np.asarray(ts, dtype=np.float64) * self._t_k
        return TextSamples(t_col=t, acc=v[:, :3] * self._acc_k, gyr=v[:, 3:] * self._gyr_k, values=v,
                           extra=extras)


def _spread_repeats(ts: np.ndarray) -> np.ndarray:
    """Make a non-decreasing coarse timestamp column strictly increasing.

    Samples sharing one timestamp (e.g. 1-s RTC resolution) are spread evenly over the resolution
    step that follows it; the first group is right-aligned to the next step, the last group uses the
    median sample spacing of the interior groups.
    """
    ts = np.asarray(ts, dtype=np.float64)
    if ts.size < 2 or np.all(np.diff(ts) > 0):
        return ts
    uniq, start, counts = np.unique(ts, return_index=True, return_counts=True)
    if uniq.size < 2:
        raise ValueError("timestamp column: all timestamps are equal; pass rate_hz instead")
    res = float(np.min(np.diff(uniq)))
    inner = counts[1:-1]
    dt = float(np.median(res / inner)) if inner.size else res / float(counts.max())
    out = np.empty_like(ts)
    last = uniq.size - 1
    for g, (u, s0, k) in enumerate(zip(uniq, start, counts, strict=True)):
        j = np.arange(k, dtype=np.float64)
        if g == 0 and k * dt <= res:
            out[s0:s0 + k] = u + res - (k - j) * dt
        elif g == last and k * dt <= res:
            out[s0:s0 + k] = u + j * dt
        else:
            out[s0:s0 + k] = u + j * (res / k)
    return out


def read_text(path, *, rate_hz: float | None = None, **opts) -> SampleBlock:
    """Read a header-less text log (see :class:`TextLineDecoder` for the options).

    Time: the timestamp column when present (coarse repeated stamps are spread, see
    ``info["time_source"]``), else ``index / rate_hz``. ``t`` starts at 0; ``info["t0"]`` keeps the
    first timestamp (in s). Trailing columns go to ``info["extra"]`` (N, k) float64.
    """
    p = Path(path)
    try:
        dec = TextLineDecoder(**opts)
    except TypeError as e:
        raise ValueError(f"opts: {e} (see TextLineDecoder for the text options)") from None
    s = dec.feed(p.read_bytes(), final=True)
    n = len(s)
    if n == 0:
        if dec.stats["lines_bad"] == 0:
            raise ValueError(f"path: {p} is empty (no sample lines)")
        raise ValueError(f"path: no finite samples in {p} ({dec.stats['lines_bad']} lines not numeric, "
                         "too short or not finite)")
    has_t = not np.isnan(s.t_col).all()
    info: dict = {"format": "text", "path": str(p), "stats": dict(dec.stats), "acc_unit": dec.acc_unit,
                  "gyr_unit": dec.gyr_unit, "time_column": bool(has_t)}
    if rate_hz is not None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz: expected > 0, got {rate_hz!r}")
        t = np.arange(n) / float(rate_hz)
        info["time_source"] = f"index / {rate_hz} Hz"
        info["t0"] = 0.0
    elif has_t:
        tc = s.t_col
        if np.isnan(tc).any():
            raise ValueError(f"path: {p} mixes lines with and without a timestamp column; pass timestamp=")
        if np.any(np.diff(tc) < 0):
            i = int(np.argmax(np.diff(tc) < 0)) + 1
            raise ValueError(f"path: timestamp column of {p} goes backwards at sample {i} "
                             "(pass rate_hz to use a fixed rate instead)")
        info["t0"] = float(tc[0])
        t = _spread_repeats(tc) - tc[0]
        info["time_source"] = ("timestamp column" if np.all(np.diff(tc) > 0)
                               else "timestamp column (repeated stamps spread evenly)")
    else:
        raise ValueError(f"rate_hz: {p} has no timestamp column; pass rate_hz (samples per second)")
    widths = {len(e) for e in s.extra}
    if widths and widths != {0}:
        k = max(widths)
        ex = np.full((n, k), np.nan)
        for i, e in enumerate(s.extra):
            ex[i, :len(e)] = e
        info["extra"] = ex
    if dec.acc_unit in ("g", "mg", "m/s2"):
        med = float(np.median(np.linalg.norm(s.acc, axis=1)))
        if not 2.0 < med < 50.0:
            info["warning"] = (f"median |acc| = {med:.3g} m/s² after acc_unit={dec.acc_unit!r}; raw counts? "
                               "pass acc_unit='counts' with acc_lsb_per_g or a preset like 'mpu6050'")
    return SampleBlock(t=t, acc=s.acc, gyr=s.gyr, info=info)


# --------------------------------------------------------------------------------------------------
# Headed CSV
# --------------------------------------------------------------------------------------------------

_UNIT_IN_NAME = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]*)\s*[\)\]]\s*$")
_ACC_COL = re.compile(r"^(?:acc|accel|accelerometer|acceleration|a)[\s_.\-]*([xyz])$")
_GYR_COL = re.compile(r"^(?:gyr|gyro|gyroscope|gyrometer|angular[\s_]*rate|omega|w|g)[\s_.\-]*([xyz])$")
_TIME_COL = re.compile(r"^(?:t|time|timestamp|time[\s_]*stamp|sec|seconds)(?:[\s_]*(s|ms|us|ns))?$")


def _split_header(name: str) -> tuple[str, str | None]:
    m = _UNIT_IN_NAME.match(name.strip())
    if m:
        return m.group(1).strip().lower(), m.group(2).strip()
    return name.strip().lower(), None


def read_csv(path, *, acc_unit: str | None = None, gyr_unit: str | None = None, time_unit: str | None = None,
             rate_hz: float | None = None, delimiter: str | None = None) -> SampleBlock:
    """Read a CSV with one header row naming the columns.

    Columns are found by name (case-insensitive): time ``t``/``time``/``timestamp`` (optional),
    accelerometer ``acc_x``/``ax``/``Accelerometer X``.., gyroscope ``gyr_x``/``gx``/``Gyroscope X``...
    Units come from the header (``(g)``, ``(m/s^2)``, ``(deg/s)``, ``(rad/s)``, ``(s)``, ``(ms)``), else
    from the options, else: acc is g when the median norm is < 2, otherwise m/s²; gyr is °/s when any
    |value| exceeds 50, otherwise rad/s (the guess is recorded in ``info``). Without a time column,
    ``rate_hz`` is required.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise ValueError(f"path: {p} is empty")
    delim = delimiter or ("\t" if lines[0].count("\t") > lines[0].count(",") else
                          ";" if lines[0].count(";") > lines[0].count(",") else ",")
    header = [h.strip() for h in lines[0].split(delim)]
    cols: dict[str, int] = {}
    units: dict[str, str | None] = {}
    for i, h in enumerate(header):
        base, unit = _split_header(h)
        base_c = base.replace("-", "_")
        if m := _ACC_COL.match(base_c):
            key = "acc_" + m.group(1)
        elif m := _GYR_COL.match(base_c):
            key = "gyr_" + m.group(1)
        elif m := _TIME_COL.match(base_c):
            key = "t"
            unit = unit or m.group(1)
        else:
            continue
        if key not in cols:
            cols[key] = i
            units[key] = unit
    need = [f"{s}_{a}" for s in ("acc", "gyr") for a in "xyz"]
    missing = [k for k in need if k not in cols]
    if missing:
        shown = ", ".join(repr(h[:24]) for h in header[:8]) + (", ..." if len(header) > 8 else "")
        raise ValueError(f"path: {p} header has no column for {missing}; header: [{shown[:200]}]")
    idx = [cols[k] for k in need] + ([cols["t"]] if "t" in cols else [])
    rows, bad = [], 0
    for line in lines[1:]:
        if not line.strip():
            continue
        parts = line.split(delim)
        try:
            rows.append([float(parts[i]) for i in idx])
        except (ValueError, IndexError):
            bad += 1
    if not rows:
        raise ValueError(f"path: {p} has a header but no numeric rows")
    a = np.asarray(rows, dtype=np.float64)
    ok = np.isfinite(a).all(axis=1)
    bad += int((~ok).sum())
    a = a[ok]
    if not len(a):
        raise ValueError(f"path: no finite samples in {p} ({bad} rows not numeric or with NaN/inf)")
    info: dict = {"format": "csv", "path": str(p), "rows_bad": bad,
                  "columns": {k: header[v] for k, v in cols.items()}, "time_column": "t" in cols}

    def unit_of(group: str, opt, table, arg):
        hdr = {units[f"{group}_{x}"] for x in "xyz"} - {None}
        if opt is not None:
            return _norm_unit(opt, table, arg), "option"
        if len(hdr) == 1:
            return _norm_unit(hdr.pop(), table, f"{arg} (from the header of {p.name})"), "header"
        return None, None

    au, asrc = unit_of("acc", acc_unit, _ACC_UNITS, "acc_unit")
    if au is None:
        au = "g" if np.median(np.linalg.norm(a[:, 0:3], axis=1)) < 2.0 else "m/s2"
        asrc = "guessed from the magnitude"
    gu, gsrc = unit_of("gyr", gyr_unit, _GYR_UNITS, "gyr_unit")
    if gu is None:
        gu = "dps" if np.abs(a[:, 3:6]).max() > 50.0 else "rad/s"
        gsrc = "guessed from the magnitude"
    if au == "counts" or gu == "counts":
        raise ValueError("acc_unit/gyr_unit: 'counts' is not supported for headed CSV; use read_text")
    info.update(acc_unit=au, acc_unit_source=asrc, gyr_unit=gu, gyr_unit_source=gsrc)
    acc = a[:, 0:3] * _acc_factor(au, None)
    gyr = a[:, 3:6] * _gyr_factor(gu, None)
    if rate_hz is not None:
        if not rate_hz > 0:
            raise ValueError(f"rate_hz: expected > 0, got {rate_hz!r}")
        t = np.arange(len(a)) / float(rate_hz)
        info["time_source"] = f"index / {rate_hz} Hz"
    elif "t" in cols:
        tu = time_unit or units["t"] or "s"
        if tu not in _TIME_UNITS:
            raise ValueError(f"time_unit: expected one of {sorted(_TIME_UNITS)}, got {tu!r}")
        tc = a[:, 6] * _TIME_UNITS[tu]
        if np.any(np.diff(tc) < 0):
            i = int(np.argmax(np.diff(tc) < 0)) + 1
            raise ValueError(f"path: time column of {p} goes backwards at row {i} "
                             "(pass rate_hz to use a fixed rate instead)")
        info["t0"] = float(tc[0])
        t = _spread_repeats(tc) - tc[0]
        info["time_source"] = f"column {header[cols['t']]!r} ({tu})"
    else:
        raise ValueError(f"rate_hz: {p} has no time column; pass rate_hz (samples per second)")
    return SampleBlock(t=t, acc=acc, gyr=gyr, info=info)


# --------------------------------------------------------------------------------------------------
# x-IMU binary protocol
# --------------------------------------------------------------------------------------------------

#: x-IMU packet header of calibrated inertial & magnetic data and its decoded length.
XIMU_CAL_INERTIAL = 9
XIMU_CAL_INERTIAL_LEN = 20
#: Scales of the calibrated inertial packet: counts per °/s, per g, per gauss.
XIMU_GYR_LSB_PER_DPS = 16.0
XIMU_ACC_LSB_PER_G = 2048.0
XIMU_MAG_LSB_PER_GAUSS = 2048.0
#: Longest encoded packet accepted; longer runs without a terminator are dropped and counted.
XIMU_MAX_ENCODED = 64


@dataclass
class XimuInertial:
    """Calibrated inertial packets decoded by :class:`XimuDecoder`.

    packet_index (N,) int64: 0-based index among all packets of the stream (valid and invalid);
    gyr_counts, acc_counts, mag_counts (N, 3) int16 as sent (big-endian on the wire).
    """

    packet_index: np.ndarray
    gyr_counts: np.ndarray
    acc_counts: np.ndarray
    mag_counts: np.ndarray

    def __len__(self) -> int:
        return int(self.packet_index.shape[0])


def _decode7(enc: np.ndarray) -> np.ndarray:
    """7-bit decode of equal-length packets: (n, L) uint8 → (n, floor(7L/8)) uint8."""
    n, L = enc.shape
    bits = np.unpackbits(enc[:, :, None], axis=2)[:, :, 1:].reshape(n, 7 * L)
    m = (7 * L) // 8
    return np.packbits(bits[:, : 8 * m].reshape(n, m, 8), axis=2).reshape(n, m)


class XimuDecoder:
    """Incremental decoder of the x-IMU binary packet stream (vectorized with numpy).

    ``feed(bytes) -> XimuInertial`` returns the calibrated inertial packets completed by these bytes.
    ``stats``: packets (all terminated packets), ok, checksum_errors, too_long, by_type {header: count}.
    Never raises on any input.
    """

    def __init__(self):
        self._buf = b""
        self._index = 0
        self.stats = {"bytes": 0, "packets": 0, "ok": 0, "checksum_errors": 0, "too_long": 0, "by_type": {}}

    def feed(self, data: bytes) -> XimuInertial:
        """Decode all packets completed by ``data``."""
        self.stats["bytes"] += len(data)
        raw = np.frombuffer(self._buf + bytes(data), dtype=np.uint8)
        ends = np.flatnonzero(raw & 0x80)
        if ends.size:
            self._buf = raw[ends[-1] + 1:].tobytes()
        else:
            self._buf = raw.tobytes()
        if len(self._buf) > XIMU_MAX_ENCODED:
            self.stats["too_long"] += 1
            self._buf = b""
        empty = XimuInertial(np.zeros(0, np.int64), *(np.zeros((0, 3), np.int16) for _ in range(3)))
        if ends.size == 0:
            return empty
        starts = np.concatenate(([0], ends[:-1] + 1))
        lens = ends - starts + 1
        idx = self._index + np.arange(ends.size, dtype=np.int64)
        self._index += int(ends.size)
        self.stats["packets"] += int(ends.size)
        out_idx, out_vals = [], []
        for L in np.unique(lens):
            L = int(L)
            sel = np.flatnonzero(lens == L)
            if L > XIMU_MAX_ENCODED or L < 2:
                self.stats["too_long" if L > XIMU_MAX_ENCODED else "checksum_errors"] += int(sel.size)
                continue
            enc = raw[starts[sel][:, None] + np.arange(L)[None, :]] & 0x7F
            dec = _decode7(enc.astype(np.uint8))
            if dec.shape[1] < 2:
                self.stats["checksum_errors"] += int(sel.size)
                continue
            csum = (dec[:, :-1].sum(axis=1, dtype=np.int64) & 0xFF).astype(np.uint8)
            good = csum == dec[:, -1]
            self.stats["checksum_errors"] += int((~good).sum())
            self.stats["ok"] += int(good.sum())
            heads, cnt = np.unique(dec[good, 0], return_counts=True)
            for h, c in zip(heads.tolist(), cnt.tolist(), strict=True):
                self.stats["by_type"][h] = self.stats["by_type"].get(h, 0) + c
            if dec.shape[1] == XIMU_CAL_INERTIAL_LEN:
                keep = good & (dec[:, 0] == XIMU_CAL_INERTIAL)
                if keep.any():
                    vals = dec[keep, 1:19].copy().view(">i2").astype(np.int16)
                    out_idx.append(idx[sel[keep]])
                    out_vals.append(vals)
        if not out_idx:
            return empty
        pi = np.concatenate(out_idx)
        v = np.concatenate(out_vals)
        order = np.argsort(pi, kind="stable")
        pi, v = pi[order], v[order]
        return XimuInertial(pi, v[:, 0:3].copy(), v[:, 3:6].copy(), v[:, 6:9].copy())


def read_ximu(path, *, rate_hz: float = 256.0) -> SampleBlock:
    """Read an x-IMU ``.BIN`` log: its calibrated inertial packets as a SampleBlock.

    Time: ``t = k / rate_hz`` for the k-th inertial packet (0-based; the x-IMU sends inertial data at a
    fixed rate, 256 Hz in the x-io gait datasets, and the packets carry no timestamp).
    ``info``: packet_index (index among all packets, = the vendor CSV "Packet number"),
    mag (N, 3) gauss, decoder stats.
    """
    if not rate_hz > 0:
        raise ValueError(f"rate_hz: expected > 0, got {rate_hz!r}")
    p = Path(path)
    dec = XimuDecoder()
    pk = dec.feed(p.read_bytes())
    if len(pk) == 0:
        raise ValueError(f"path: {p} {_ximu_summary(dec.stats)}")
    acc = pk.acc_counts.astype(np.float64) * (G0 / XIMU_ACC_LSB_PER_G)
    gyr = pk.gyr_counts.astype(np.float64) * (DEG2RAD / XIMU_GYR_LSB_PER_DPS)
    info = {"format": "ximu", "path": str(p), "packet_index": pk.packet_index,
            "mag": pk.mag_counts.astype(np.float64) / XIMU_MAG_LSB_PER_GAUSS, "stats": dec.stats,
            "time_source": f"inertial packet index / {rate_hz} Hz", "time_column": False,
            "acc_lsb_per_g": XIMU_ACC_LSB_PER_G, "gyr_lsb_per_dps": XIMU_GYR_LSB_PER_DPS}
    return SampleBlock(t=np.arange(len(pk)) / float(rate_hz), acc=acc, gyr=gyr,
                       acc_raw=pk.acc_counts, gyr_raw=pk.gyr_counts, info=info)


def _ximu_summary(st: dict) -> str:
    """Why an x-IMU log gave no inertial packets, in words (from XimuDecoder.stats)."""
    n, ok = int(st.get("packets", 0)), int(st.get("ok", 0))
    if n == 0:
        return f"holds no x-IMU packets in its {int(st.get('bytes', 0))} bytes: not an x-IMU binary log"
    if 2 * ok < n:  # random bytes pass the 8-bit checksum now and then: mostly bad is not an x-IMU log
        bad = int(st.get("checksum_errors", 0))
        which = ("all with checksum errors" if bad == n else f"{bad} with checksum errors" if bad
                 else f"{n - ok} invalid")
        return f"holds {n} packet{'s' if n != 1 else ''}, {which}: not an x-IMU binary log"
    return (f"holds {ok} valid x-IMU packet{'s' if ok != 1 else ''} but no calibrated inertial data "
            "(was the inertial output enabled?)")


def looks_like_text_log(path) -> bool:
    """Whether a byte log holds text lines, not wire-protocol frames: the protocol ends every frame with
    0x00, so a log with bytes but no 0x00 in its first 4096 is a ``--format text`` stream's log."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    return bool(head) and b"\x00" not in head


# --------------------------------------------------------------------------------------------------
# imuwalk raw byte log and dispatch
# --------------------------------------------------------------------------------------------------


def read_imuraw(path) -> SampleBlock:
    """Decode an imuwalk raw byte log (``.imuraw``, the wire protocol stream) into one SampleBlock.

    Time on the device clock (docs/ARCHITECTURE.md "Time base"). Needs a META frame in the log for the
    scales (firmware sends one at boot and every second); samples before the first META are converted
    with it too. ``info["seq_other"]``: sequence numbers of the non-sample frames (see FrameDecoder).
    """
    from imuwalk.sources.protocol import FrameDecoder, to_block

    p = Path(path)
    dec = FrameDecoder(keep_other_seqs=True)
    decoded = dec.feed(p.read_bytes())
    meta = getattr(dec, "meta", None)
    if meta is None:
        if looks_like_text_log(p):
            raise ValueError(f"path: {p} holds text lines, not imuwalk frames (no 0x00 frame delimiter): the "
                             "byte log of a text stream? read it as a text log")
        raise ValueError(f"path: {p} holds no META frame, so the sensor scales are unknown")
    if len(decoded) == 0:
        st = dec.stats
        damaged = st.crc_errors + st.cobs_errors + st.short_frames + st.oversize_dropped
        raise ValueError(f"path: no sample frames decoded from {p} ({st.frames_ok} valid frames, "
                         f"{damaged} damaged)")
    t0 = int(np.asarray(decoded.t_dev_us)[0])
    blk = to_block(decoded, meta, t0)
    blk.info.setdefault("format", "imuraw")
    blk.info.setdefault("path", str(p))
    blk.info.setdefault("stats", dec.stats.as_dict())
    if dec.other_seqs:  # numbers used by META/STATUS/... frames: not lost samples (Recorder gaps)
        blk.info["seq_other"] = list(dec.other_seqs)
    return blk


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _names_a_column(tok: str) -> bool:
    base = _split_header(tok.strip("\"'"))[0].replace("-", "_")
    return bool(_ACC_COL.match(base) or _GYR_COL.match(base) or _TIME_COL.match(base))


def _sniff_text_has_header(p: Path) -> bool:
    """Whether the first line of ``p`` is a CSV header: it names at least two IMU columns (``t``, ``ax``,
    ``Gyroscope X (deg/s)``, ...), or it is a row of at least six names followed by a numeric row of as
    many fields (a header with unknown names: read_csv then says which columns it misses). A serial
    capture that starts with a device's boot text (``ets Jun  8 2016``, ``rst:0x1 (POWERON_RESET)``) is
    not a header: such a log is read as text, whose decoder skips the noise lines."""
    with open(p, "rb") as fh:
        head = fh.read(4096)
    lines = [ln.strip() for ln in head.decode("utf-8-sig", errors="replace").splitlines() if ln.strip()]
    if not lines:
        return False
    delim = max(",;\t", key=lines[0].count)
    fields = [f.strip() for f in lines[0].split(delim)] if lines[0].count(delim) else _SPLIT.split(lines[0])
    fields = [f for f in fields if f]
    if not any(any(c.isalpha() for c in f) and not _is_number(f) for f in fields):
        return False
    if sum(_names_a_column(f) for f in fields) >= 2:
        return True
    if len(fields) >= 6 and all(not _is_number(f) for f in fields) and len(lines) > 1:
        nxt = [f for f in (lines[1].split(delim) if lines[1].count(delim) else _SPLIT.split(lines[1])) if f]
        return len(nxt) == len(fields) and all(_is_number(f) for f in nxt)
    return False


#: Leading bytes of binary files that are not recordings (named in the error message).
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (e.g. an Excel .xlsx workbook)"),
    (b"\xd0\xcf\x11\xe0", "an OLE document (e.g. an old Excel .xls workbook)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"MATLAB", "a MATLAB .mat file"),
)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _binary_kind(head: bytes) -> str | None:
    """What a non-text file is ("a ZIP archive ...", "binary data"), or None when ``head`` looks like text.

    Text logs may hold a little line noise (a serial capture's boot garbage), so only a known magic
    number or more than 10 % control/undecodable characters counts as binary."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if not head:
        return None
    txt = head.decode("utf-8", errors="replace")
    bad = sum(1 for c in txt if c == "\ufffd" or (ord(c) < 32 and c not in "\t\n\r\f\v") or ord(c) == 127)
    return "binary data" if bad > 0.1 * len(txt) else None


def sniff_format(path) -> str:
    """The :func:`read_file` format of ``path`` ("ximu", "imuraw", "hdf5", "csv" or "text"): by suffix,
    then by content (the HDF5 signature; a first line with names → "csv")."""
    p = Path(path)
    suf = p.suffix.lower()
    if suf == ".bin":
        return "ximu"
    if suf == ".imuraw":
        return "imuraw"
    if suf in (".h5", ".hdf5"):
        return "hdf5"
    with open(p, "rb") as fh:
        if fh.read(8) == _HDF5_MAGIC:
            return "hdf5"
    return "csv" if _sniff_text_has_header(p) else "text"


def read_file(path, **opts) -> SampleBlock:
    """Read any supported recording into one SampleBlock (t s from 0, acc m/s², gyr rad/s).

    Dispatch by suffix: ``.bin`` → :func:`read_ximu`; ``.imuraw`` → :func:`read_imuraw`;
    ``.h5``/``.hdf5`` (or the HDF5 signature) → :class:`imuwalk.sinks.hdf5.Recording`; anything else is
    text: a first line with names → :func:`read_csv`, else :func:`read_text` (``preset="mpu6050"`` for the
    ankle MPU-6050 log ``unix_s,ax,ay,az,gx,gy,gz,fsr``). ``opts`` go to the reader; ``format=`` ("ximu",
    "imuraw", "hdf5", "csv", "text") overrides the detection. A binary file read as text (an Excel
    workbook, an image, ...) raises ValueError naming what it is. ``info["time_column"]`` (csv, text,
    ximu) says whether the file carried its own time stamps.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"path: {p} is a folder, not a recording")
    if p.exists() and not p.is_file():
        raise ValueError(f"path: {p} is not a regular file (a device, pipe or socket)")
    if not p.is_file():
        raise ValueError(f"path: no such file: {p}")
    fmt = opts.pop("format", None)
    if fmt is None:
        fmt = sniff_format(p)
    if fmt == "hdf5" and p.stat().st_size == 0:
        raise ValueError(f"path: {p} is empty (0 bytes), not an HDF5 recording")
    if fmt in ("csv", "text"):
        with open(p, "rb") as fh:
            kind = _binary_kind(fh.read(4096))
        if kind is not None:
            raise ValueError(f"path: {p} is {kind}, not a supported recording; supported: {SUPPORTED_FORMATS}")
    readers = {"ximu": read_ximu, "imuraw": read_imuraw, "hdf5": _read_hdf5, "csv": read_csv,
               "text": read_text}
    reader = readers.get(fmt)
    if reader is None:
        raise ValueError(f"format: unknown format {fmt!r}; expected ximu, imuraw, hdf5, csv or text")
    import inspect

    params = inspect.signature(reader).parameters
    if not any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values()):
        bad = sorted(k for k in opts if k not in params)
        if bad:
            raise ValueError(f"{bad[0]}: option not supported for {fmt} files (accepted: "
                             f"{sorted(k for k in params if k != 'path')})")
    return reader(p, **opts)


def _read_hdf5(path) -> SampleBlock:
    """An imuwalk HDF5 recording as one SampleBlock (via :class:`imuwalk.sinks.hdf5.Recording`)."""
    from imuwalk.sinks.hdf5 import Recording

    with Recording(path) as rec:
        return rec.to_block()
