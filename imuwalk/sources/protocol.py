"""The imuwalk wire codec: the one Python definition of the frame format (mirror of
``firmware_bridge/PROTOCOL.md``, checked against ``firmware_bridge/vectors/golden_frames.json``).

Wire: ``COBS(packet) 0x00``; packet = ``type:u8 flags:u8 seq:u16 body crc:u16`` (little-endian),
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0, check 0x29B1) over type..body.

Encoders return wire bytes including the trailing 0x00. :class:`FrameDecoder` is a streaming decoder
(Numba kernel) turning arbitrary byte chunks into :class:`DecodedSamples`; :class:`ClockMapper` maps the
device µs clock to host seconds (lower-envelope fit); :func:`to_block` converts to a SI :class:`SampleBlock`.
"""

from __future__ import annotations

import binascii
import functools
import math
import struct
import warnings
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from imuwalk.sources.block import SampleBlock
from imuwalk.units import counts_to_si

# --------------------------------------------------------------------------------------------------
# constants

PROTO_VERSION = 1

T_IMU_SAMPLE = 0x01
T_META = 0x02
T_STATUS = 0x03
T_PONG = 0x04
T_LOG = 0x7F
CMD_START = 0x81
CMD_STOP = 0x82
CMD_SET_ODR = 0x83
CMD_PING = 0x84
COMMAND_TYPES = (CMD_START, CMD_STOP, CMD_SET_ODR, CMD_PING)
COMMAND_NAMES = {"start": CMD_START, "stop": CMD_STOP, "set_odr": CMD_SET_ODR, "ping": CMD_PING}

FLAG_OVERRUN = 0x01  #: IMU FIFO overflow or a missed data-ready since the last frame
FLAG_TX_DROPPED = 0x02  #: frames were dropped on the device because the TX buffer was full
FLAG_BOOT = 0x04  #: frame sent during the first second after a device reset

IMU_MODELS = {0: "unknown", 1: "synthetic", 2: "mpu6050", 3: "lsm6dso", 4: "bmi270", 5: "icm42688"}
IMU_MODELS_BY_NAME = {v: k for k, v in IMU_MODELS.items()}

HEADER_SIZE = 4  #: type, flags, seq
CRC_SIZE = 2
MIN_PACKET = HEADER_SIZE + CRC_SIZE  #: 6 bytes: a packet with an empty body
MAX_PACKET = 254  #: largest packet (type..crc); COBS encodes it in one block
MAX_ENCODED = MAX_PACKET + 1  #: largest COBS-encoded packet, without the delimiter
MAX_WIRE = MAX_ENCODED + 1  #: largest frame on the wire, delimiter included (256)
MAX_BODY = MAX_PACKET - MIN_PACKET  #: 248
MAX_LOG_BYTES = MAX_BODY

_SAMPLE_BODY = struct.Struct("<I3h3h")  # 16 B
_META_BODY = struct.Struct("<BBIffBHQH")  # 27 B
_STATUS_BODY = struct.Struct("<IIIIH")  # 18 B
_PONG_BODY = struct.Struct("<II")  # 8 B
_HEADER = struct.Struct("<BBH")

SAMPLE_BODY_SIZE = _SAMPLE_BODY.size
META_BODY_SIZE = _META_BODY.size
STATUS_BODY_SIZE = _STATUS_BODY.size
PONG_BODY_SIZE = _PONG_BODY.size
SAMPLE_PACKET_SIZE = HEADER_SIZE + SAMPLE_BODY_SIZE + CRC_SIZE  #: 22
SAMPLE_WIRE_SIZE = SAMPLE_PACKET_SIZE + 2  #: 24 bytes on the wire

# --------------------------------------------------------------------------------------------------
# CRC and COBS


def crc16(data: bytes, init: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (check value of b"123456789" is 0x29B1)."""
    return binascii.crc_hqx(bytes(data), init)


def _crc_table() -> np.ndarray:
    tab = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
            c &= 0xFFFF
        tab[i] = c
    return tab


_CRC_TABLE = _crc_table()


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter appended). Output has no 0x00 byte; len <= n + n//254 + 1."""
    data = bytes(data)
    out = bytearray([0])
    code_idx = 0
    code = 1
    last = len(data) - 1
    for i, b in enumerate(data):
        if b == 0:
            out[code_idx] = code
            code_idx = len(out)
            out.append(0)
            code = 1
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_idx] = code
                if i == last:  # canonical: no empty block after a full one at the end
                    return bytes(out)
                code_idx = len(out)
                out.append(0)
                code = 1
    out[code_idx] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS block (without the 0x00 delimiter).

    Raises ValueError on a 0x00 inside ``data`` or a code byte pointing past the end."""
    data = bytes(data)
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ValueError(f"data: 0x00 byte inside a COBS block at offset {i}")
        end = i + code
        if end > n:
            raise ValueError(f"data: COBS code {code} at offset {i} runs past the end ({n} bytes)")
        chunk = data[i + 1 : end]
        if 0 in chunk:
            raise ValueError(f"data: 0x00 byte inside a COBS block near offset {i}")
        out += chunk
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# encoders


def _u(name: str, value, bits: int) -> int:
    v = int(value)
    if v != value or not 0 <= v < (1 << bits):
        raise ValueError(f"{name}: must be an integer in [0, 2**{bits}), got {value!r}")
    return v


def encode_packet(ptype: int, seq: int, body: bytes = b"", flags: int = 0) -> bytes:
    """Wire bytes (COBS + trailing 0x00) of a packet ``type flags seq body crc``."""
    ptype = _u("ptype", ptype, 8)
    flags = _u("flags", flags, 8)
    seq = _u("seq", seq, 16)
    body = bytes(body)
    if len(body) > MAX_BODY:
        raise ValueError(f"body: {len(body)} bytes exceeds the maximum of {MAX_BODY}")
    pkt = _HEADER.pack(ptype, flags, seq) + body
    pkt += struct.pack("<H", crc16(pkt))
    return cobs_encode(pkt) + b"\x00"


def _i16x3(name: str, v) -> tuple[int, int, int]:
    a = np.asarray(v)
    if a.shape != (3,):
        raise ValueError(f"{name}: expected 3 values, got shape {a.shape}")
    out = tuple(int(x) for x in a)
    exact = all(x == y for x, y in zip(out, a.tolist(), strict=True))
    if not exact or any(not -32768 <= x <= 32767 for x in out):
        raise ValueError(f"{name}: values must be integers in the int16 range, got {a.tolist()}")
    return out  # type: ignore[return-value]


def encode_sample(seq: int, t_us: int, acc_counts, gyr_counts, flags: int = 0) -> bytes:
    """IMU_SAMPLE wire bytes. ``t_us`` device µs (u32), counts are 3 int16 each."""
    body = _SAMPLE_BODY.pack(_u("t_us", t_us, 32), *_i16x3("acc_counts", acc_counts),
                             *_i16x3("gyr_counts", gyr_counts))
    return encode_packet(T_IMU_SAMPLE, seq, body, flags)


@dataclass
class DeviceMeta:
    """Content of a META frame: what the host needs to interpret the raw counts.

    odr_hz: nominal output data rate (sent as integer mHz); scales in g/LSB and dps/LSB;
    uid: 64-bit device unique id; fw_ver: firmware version (major << 8 | minor)."""

    proto_ver: int = PROTO_VERSION
    imu_model: int = 0
    odr_hz: float = 200.0
    acc_scale_g_per_lsb: float = 1.0 / 2048.0
    gyr_scale_dps_per_lsb: float = 1.0 / 16.4
    acc_range_g: int = 16
    gyr_range_dps: int = 2000
    uid: int = 0
    fw_ver: int = 0x0100

    def __post_init__(self):
        # the wire carries the scales as float32: hold exactly those values, so that samples converted
        # with a locally made DeviceMeta (e.g. a default before the first META frame) equal those
        # converted with the decoded one, and replay reproduces a live run bit for bit
        for name in ("acc_scale_g_per_lsb", "gyr_scale_dps_per_lsb"):
            v = getattr(self, name)
            if isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)):
                setattr(self, name, float(np.float32(v)))
        # the ODR travels as integer mHz
        if isinstance(self.odr_hz, (int, float, np.floating, np.integer)) and math.isfinite(float(self.odr_hz)) \
                and 0 <= self.odr_hz < 4294967.296:
            self.odr_hz = round(float(self.odr_hz) * 1000.0) / 1000.0

    @property
    def device_id(self) -> str:
        """The device uid as a 16-digit lower-case hex string."""
        return f"{int(self.uid) & 0xFFFFFFFFFFFFFFFF:016x}"

    @property
    def imu_name(self) -> str:
        return IMU_MODELS.get(int(self.imu_model), f"model-{int(self.imu_model)}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["device_id"] = self.device_id
        return d

    def body(self) -> bytes:
        odr_mhz = round(float(self.odr_hz) * 1000.0)
        if not (math.isfinite(self.odr_hz) and 0 <= odr_mhz < 2**32):
            raise ValueError(f"odr_hz: must be finite and in [0, 4294967.295] Hz, got {self.odr_hz!r}")
        for name in ("acc_scale_g_per_lsb", "gyr_scale_dps_per_lsb"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive finite number, got {v!r}")
        return _META_BODY.pack(
            _u("proto_ver", self.proto_ver, 8), _u("imu_model", self.imu_model, 8), odr_mhz,
            float(self.acc_scale_g_per_lsb), float(self.gyr_scale_dps_per_lsb),
            _u("acc_range_g", self.acc_range_g, 8), _u("gyr_range_dps", self.gyr_range_dps, 16),
            _u("uid", self.uid, 64), _u("fw_ver", self.fw_ver, 16),
        )

    @classmethod
    def from_body(cls, body: bytes) -> DeviceMeta:
        """Parse a META body (longer bodies are accepted; the tail is ignored)."""
        if len(body) < META_BODY_SIZE:
            raise ValueError(f"body: META needs {META_BODY_SIZE} bytes, got {len(body)}")
        pv, model, odr_mhz, acc_s, gyr_s, acc_r, gyr_r, uid, fw = _META_BODY.unpack_from(body)
        return cls(pv, model, odr_mhz / 1000.0, acc_s, gyr_s, acc_r, gyr_r, uid, fw)


def encode_meta(seq: int, meta: DeviceMeta, flags: int = 0) -> bytes:
    """META wire bytes."""
    return encode_packet(T_META, seq, meta.body(), flags)


@dataclass
class DeviceStatus:
    """Content of a STATUS frame (device counters since its last reset)."""

    t_us: int
    samples_total: int
    tx_dropped: int
    fifo_overruns: int
    crc_rx_errors: int
    seq: int = 0  #: unwrapped seq of the frame (host side)
    flags: int = 0


def encode_status(seq: int, t_us: int, samples_total: int, tx_dropped: int, fifo_overruns: int,
                  crc_rx_errors: int, flags: int = 0) -> bytes:
    """STATUS wire bytes (counters u32 except crc_rx_errors u16)."""
    body = _STATUS_BODY.pack(_u("t_us", t_us, 32), _u("samples_total", samples_total, 32),
                             _u("tx_dropped", tx_dropped, 32), _u("fifo_overruns", fifo_overruns, 32),
                             _u("crc_rx_errors", crc_rx_errors, 16))
    return encode_packet(T_STATUS, seq, body, flags)


def encode_pong(seq: int, token: int, t_us_rx: int, flags: int = 0) -> bytes:
    """PONG wire bytes: the PING's token and the device µs time when the PING arrived."""
    return encode_packet(T_PONG, seq, _PONG_BODY.pack(_u("token", token, 32), _u("t_us_rx", t_us_rx, 32)),
                         flags)


def encode_log(seq: int, text: str, flags: int = 0) -> bytes:
    """LOG wire bytes; UTF-8 ``text`` is truncated to MAX_LOG_BYTES at a character boundary."""
    if not isinstance(text, str):
        raise ValueError(f"text: expected str, got {type(text).__name__}")
    raw = text.encode("utf-8")[:MAX_LOG_BYTES]
    raw = raw.decode("utf-8", errors="ignore").encode("utf-8")
    return encode_packet(T_LOG, seq, raw, flags)


def encode_command(cmd, arg: int | None = None, seq: int = 0) -> bytes:
    """Host→device command wire bytes. ``cmd``: "start", "stop", "set_odr" (arg = ODR in Hz, sent as
    u32 mHz) or "ping" (arg = u32 token), or the type code 0x81..0x84."""
    code = COMMAND_NAMES.get(cmd, cmd) if isinstance(cmd, str) else cmd
    if code not in COMMAND_TYPES:
        raise ValueError(f"cmd: unknown command {cmd!r} (expected one of {sorted(COMMAND_NAMES)})")
    if code in (CMD_START, CMD_STOP):
        if arg is not None:
            raise ValueError(f"arg: command {cmd!r} takes no argument")
        body = b""
    elif code == CMD_SET_ODR:
        # sent as u32 mHz: the rounded value must be 1 .. 2**32 - 1 (0 mHz would be ignored by the device)
        mhz = round(float(arg) * 1000) if arg is not None and math.isfinite(float(arg)) else -1
        if not 1 <= mhz < 2**32:
            raise ValueError(f"arg: set_odr needs an ODR in Hz in [0.001, 4294967.295], got {arg!r}")
        body = struct.pack("<I", mhz)
    else:
        body = struct.pack("<I", _u("arg", 0 if arg is None else arg, 32))
    return encode_packet(code, seq, body, 0)


@njit(cache=True, nogil=True)
def _encode_samples_kernel(seq0, t_us, acc, gyr, flags, table, out):  # pragma: no cover - numba
    pkt = np.zeros(SAMPLE_PACKET_SIZE, dtype=np.uint8)
    n = t_us.shape[0]
    o = 0
    for k in range(n):
        s = (seq0 + k) & 0xFFFF
        pkt[0] = T_IMU_SAMPLE
        pkt[1] = flags[k]
        pkt[2] = s & 0xFF
        pkt[3] = s >> 8
        t = t_us[k] & 0xFFFFFFFF
        for j in range(4):
            pkt[4 + j] = (t >> (8 * j)) & 0xFF
        for j in range(3):
            v = np.int64(acc[k, j]) & 0xFFFF
            pkt[8 + 2 * j] = v & 0xFF
            pkt[9 + 2 * j] = v >> 8
            w = np.int64(gyr[k, j]) & 0xFFFF
            pkt[14 + 2 * j] = w & 0xFF
            pkt[15 + 2 * j] = w >> 8
        crc = 0xFFFF
        for j in range(20):
            crc = ((crc << 8) & 0xFFFF) ^ np.int64(table[((crc >> 8) ^ pkt[j]) & 0xFF])
        pkt[20] = crc & 0xFF
        pkt[21] = crc >> 8
        # COBS (packet < 254 bytes: codes never reach 0xFF)
        code_idx = o
        o += 1
        code = 1
        for j in range(SAMPLE_PACKET_SIZE):
            b = pkt[j]
            if b == 0:
                out[code_idx] = code
                code_idx = o
                o += 1
                code = 1
            else:
                out[o] = b
                o += 1
                code += 1
        out[code_idx] = code
        out[o] = 0
        o += 1
    return o


def encode_samples(seq0: int, t_us, acc_counts, gyr_counts, flags=0) -> bytes:
    """Many IMU_SAMPLE frames at once (vectorised, Numba): frame k gets seq ``(seq0 + k) mod 2**16``.

    t_us: (n,) device µs (taken mod 2**32); acc_counts, gyr_counts: (n, 3) int16; flags: scalar or (n,)."""
    t = np.asarray(t_us)
    n = t.shape[0] if t.ndim == 1 else -1
    if n < 0:
        raise ValueError(f"t_us: expected a 1-D array, got shape {t.shape}")
    acc = np.asarray(acc_counts)
    gyr = np.asarray(gyr_counts)
    for name, a in (("acc_counts", acc), ("gyr_counts", gyr)):
        if a.shape != (n, 3):
            raise ValueError(f"{name}: expected shape ({n}, 3), got {a.shape}")
        if a.size and (a.min() < -32768 or a.max() > 32767):
            raise ValueError(f"{name}: values outside the int16 range")
    fl = np.broadcast_to(np.asarray(flags, dtype=np.int64), (n,))
    if n and (fl.min() < 0 or fl.max() > 255):
        raise ValueError("flags: values must be in [0, 255]")
    if t.size and (np.asarray(t).min() < 0):
        raise ValueError("t_us: values must be >= 0")
    seq0 = _u("seq0", seq0, 16)
    out = np.empty(n * SAMPLE_WIRE_SIZE, dtype=np.uint8)
    m = _encode_samples_kernel(int(seq0), t.astype(np.int64), acc.astype(np.int16), gyr.astype(np.int16),
                               np.ascontiguousarray(fl, dtype=np.uint8), _CRC_TABLE, out)
    return out[:m].tobytes()


# --------------------------------------------------------------------------------------------------
# decoder kernel

# stats vector layout
S_FRAMES_OK = 0
S_CRC = 1
S_COBS = 2
S_SHORT = 3
S_OVERSIZE = 4
S_UNKNOWN = 5
S_SEQ_GAPS = 6
S_MISSING = 7
S_RESETS = 8
S_EMPTY = 9
S_DUPLICATES = 10
S_TIME_JUMPS = 11
S_OVERRUN_FLAGS = 12
S_TXDROP_FLAGS = 13
S_SAMPLES = 14
S_IMPLAUSIBLE = 15
N_STATS = 16

# state vector layout
_ST_HAVE_SEQ = 0
_ST_SEQ16 = 1
_ST_SEQ = 2  # unwrapped seq of the last device frame
_ST_HAVE_T = 3  # a sample was delivered
_ST_T = 4  # unwrapped device time of the last sample
_ST_PREV_BOOT = 5
_ST_DISCARD = 6
_ST_T_RESET = 7  # a reset was seen: the next timed frame starts a new time base
_ST_T_BASE = 8
_ST_HAVE_REF = 9  # a timed frame (IMU_SAMPLE or STATUS) was applied
_ST_REF32 = 10  # t_us of the newest device time known ...
_ST_REF = 11  # ... and its unwrapped value (never decreases)
_ST_REF_SEQ = 12  # unwrapped seq of the last timed frame
_ST_ODR_MHZ = 13  # nominal rate from the last META (0: none yet)
_ST_TOTAL = 14  # STATUS samples_total of the last STATUS since the last reset (-1: none)
_ST_JUMP_MISSING = 15  # missing count of the largest confirmed forward jump since the last STATUS (-1: none)
_ST_JUMP_SEQ16 = 16  # seq of the frame after that jump
_ST_HELD = 17  # a frame is held until the next device frame confirms it (its packet is in `held`)
_ST_H_LEN = 18
_ST_H_SEQ16 = 19
_ST_H_BOOT = 20
_ST_H_TIMED = 21
_ST_H_T32 = 22
_ST_H_SAMPLE = 23
N_STATE = 24

_OTH_TYPE = 0
_OTH_START = 1
_OTH_LEN = 2
_OTH_SEQ = 3
_OTH_FLAGS = 4
_OTH_T = 5  # unwrapped device time of the latest sample when this frame arrived (-1: none yet)

# plausibility limits (PROTOCOL.md §6.8)
T_BACK_TOL_US = 1_000_000  #: a timed frame may trail the newest device time known by this much (STATUS, PONG)
T_JUMP_US = 2_000_000  #: a larger forward step of the device clock is a jump (needs confirmation)
BOOT_T_MAX_US = 8_000_000  #: a BOOT frame with t_us up to this is taken as a device reset at once
SEQ_SLACK = 64  #: frames a seq may skip beyond what the elapsed time allows
RATE_MAX_HZ = 40_000  #: frame-rate ceiling for the seq/time check before the first META
STREAM_WINDOW_US = 2_000_000  #: a sample this recent before a gap means the stream was on (seq by time)
_K_NORMAL = 0
_K_JUMP = 1


@njit(cache=True, nogil=True)
def _keep_other(oth_idx, oth_buf, pk, no, ob, ptype, n, seq, flags, state):
    """Index row ``no`` and bytes at ``oth_buf[ob:ob + n]`` of a non-sample frame (META, STATUS, LOG,
    command, ...), stamped with the current unwrapped device time (-1 before the first sample)."""
    oth_idx[no, _OTH_TYPE] = ptype
    oth_idx[no, _OTH_START] = ob
    oth_idx[no, _OTH_LEN] = n
    oth_idx[no, _OTH_SEQ] = seq
    oth_idx[no, _OTH_FLAGS] = flags
    oth_idx[no, _OTH_T] = state[_ST_T] if state[_ST_HAVE_T] != 0 else -1
    for j in range(n):
        oth_buf[ob + j] = pk[j]


@njit(cache=True, nogil=True)
def _u32(pk, o):
    return (np.int64(pk[o]) | (np.int64(pk[o + 1]) << 8) | (np.int64(pk[o + 2]) << 16)
            | (np.int64(pk[o + 3]) << 24))


@njit(cache=True, nogil=True)
def _put_sample(pk, seq, t, flags, ns, out_seq, out_t, out_acc, out_gyr, out_flags):
    """Row ``ns`` of the sample outputs from IMU_SAMPLE packet ``pk`` (int16 LE acc at 8, gyr at 14)."""
    out_seq[ns] = seq
    out_t[ns] = t
    for j in range(3):
        v = np.int64(pk[8 + 2 * j]) | (np.int64(pk[9 + 2 * j]) << 8)
        out_acc[ns, j] = v - 65536 if v >= 32768 else v
        w = np.int64(pk[14 + 2 * j]) | (np.int64(pk[15 + 2 * j]) << 8)
        out_gyr[ns, j] = w - 65536 if w >= 32768 else w
    out_flags[ns] = flags


@njit(cache=True, nogil=True)
def _sdiff32(a, b):
    """(a - b) mod 2**32 as a signed value in [-2**31, 2**31)."""
    d = (a - b) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


@njit(cache=True, nogil=True)
def _min_body(ptype):
    if ptype == CMD_SET_ODR or ptype == CMD_PING:
        return 4
    if ptype == T_META:
        return META_BODY_SIZE
    if ptype == T_STATUS:
        return STATUS_BODY_SIZE
    if ptype == T_PONG:
        return PONG_BODY_SIZE
    if ptype == T_IMU_SAMPLE:
        return SAMPLE_BODY_SIZE
    return 0


@njit(cache=True, nogil=True)
def _frame_time(pk, n):
    """(timed, t_us): the device time an IMU_SAMPLE or STATUS carries (when its body has it). A PONG's
    t_us_rx (the PING's arrival, possibly well before the PONG) only advances the clock, see _apply."""
    ptype = np.int64(pk[0])
    body_len = n - MIN_PACKET
    if ptype == T_IMU_SAMPLE and body_len >= SAMPLE_BODY_SIZE:
        return True, _u32(pk, 4)
    if ptype == T_STATUS and body_len >= STATUS_BODY_SIZE:
        return True, _u32(pk, 4)
    return False, np.int64(0)


@njit(cache=True, nogil=True)
def _rate_max(state):
    """Frame-rate ceiling (Hz) of the seq/time check: twice the META rate, or RATE_MAX_HZ before META."""
    if state[_ST_ODR_MHZ] > 0:
        return (2 * state[_ST_ODR_MHZ]) // 1000 + 4
    return np.int64(RATE_MAX_HZ)


@njit(cache=True, nogil=True)
def _continuous(seq16, boot, timed, t32, x_seq16, x_boot, x_timed, x_t32, lo, rate):
    """True if a frame (seq16, boot, t32) plausibly follows frame x: no reset between them (BOOT rule),
    seq advanced by d >= 1 with d - 1 <= SEQ_SLACK + (frames the elapsed time allows at ``rate`` Hz), and,
    if both carry time, the clock step lies in [lo, T_JUMP_US]."""
    if boot and (not x_boot or seq16 < x_seq16):
        return False
    d = (seq16 - x_seq16) & 0xFFFF
    if d == 0:
        return False
    allowed = np.int64(SEQ_SLACK)
    if timed and x_timed:
        dt = _sdiff32(t32, x_t32)
        if dt < lo or dt > T_JUMP_US:
            return False
        if dt > 0:
            allowed += dt * rate // 1_000_000
    return d - 1 <= allowed


@njit(cache=True, nogil=True)
def _apply(pk, n, kind, j_timed, j_t32, j_sample, state, stats, out_seq, out_t, out_acc, out_gyr, out_flags,
           oth_buf, oth_idx, ns, no, ob):  # pragma: no cover - numba
    """Account one accepted device frame (packet pk[:n]): sequence, resets, time; deliver it.

    kind _K_JUMP: the frame does not continue the previous one (a confirmed jump, or a BOOT reset): it is
    a reset if the BOOT rule says so or if the clock went backwards (judged on the time j_t32 of the frame,
    or of the frame that confirmed it when this one carries none), else a forward gap. Returns (ns, no, ob)."""
    ptype = np.int64(pk[0])
    flags = np.int64(pk[1])
    seq16 = np.int64(pk[2]) | (np.int64(pk[3]) << 8)
    body_len = n - MIN_PACKET
    boot = (flags & FLAG_BOOT) != 0
    d = np.int64(1)
    if state[_ST_HAVE_SEQ] == 0:
        state[_ST_HAVE_SEQ] = 1
        state[_ST_SEQ] = seq16
    else:
        d = (seq16 - state[_ST_SEQ16]) & 0xFFFF
        reset = False
        if kind == _K_JUMP:
            if boot and (state[_ST_PREV_BOOT] == 0 or seq16 < state[_ST_SEQ16]):
                reset = True
            elif j_timed and state[_ST_HAVE_REF] != 0 and state[_ST_T_RESET] == 0:
                dt = _sdiff32(j_t32, state[_ST_REF32])
                lo = np.int64(-T_BACK_TOL_US)
                if j_sample and state[_ST_HAVE_T] != 0:
                    lo = max(lo, state[_ST_T] - state[_ST_REF])
                if dt < lo:  # the clock went backwards without BOOT: an unannounced reset
                    reset = True
                    stats[S_TIME_JUMPS] += 1
        if reset:
            stats[S_RESETS] += 1
            state[_ST_SEQ] = state[_ST_SEQ] + 1 + seq16
            if seq16 > 0:
                stats[S_SEQ_GAPS] += 1
                stats[S_MISSING] += seq16
            if state[_ST_HAVE_REF] != 0 and state[_ST_T_RESET] == 0:
                state[_ST_T_RESET] = 1
                state[_ST_T_BASE] = state[_ST_REF] + 1
            state[_ST_TOTAL] = -1
            state[_ST_JUMP_MISSING] = -1
            d = 1
        else:
            if d > 1:
                stats[S_SEQ_GAPS] += 1
                stats[S_MISSING] += d - 1
                if kind == _K_JUMP and d - 1 > state[_ST_JUMP_MISSING]:
                    state[_ST_JUMP_MISSING] = d - 1
                    state[_ST_JUMP_SEQ16] = seq16
            state[_ST_SEQ] = state[_ST_SEQ] + d
    state[_ST_SEQ16] = seq16
    state[_ST_PREV_BOOT] = 1 if boot else 0
    if flags & FLAG_OVERRUN:
        stats[S_OVERRUN_FLAGS] += 1
    if flags & FLAG_TX_DROPPED:
        stats[S_TXDROP_FLAGS] += 1
    if body_len < _min_body(ptype):  # counted in the sequence (it was sent), dropped as short (counted already)
        return ns, no, ob
    timed, t32 = _frame_time(pk, n)
    t = np.int64(0)
    if timed:
        if state[_ST_T_RESET] != 0:
            t = state[_ST_T_BASE] + t32
            state[_ST_T_RESET] = 0
            state[_ST_REF] = t
            state[_ST_REF32] = t32
        elif state[_ST_HAVE_REF] == 0:
            t = t32
            state[_ST_HAVE_REF] = 1
            state[_ST_REF] = t
            state[_ST_REF32] = t32
        else:
            dt = _sdiff32(t32, state[_ST_REF32])
            t = state[_ST_REF] + dt
            if dt > T_JUMP_US and state[_ST_ODR_MHZ] > 0 and state[_ST_HAVE_T] != 0 \
                    and state[_ST_REF] - state[_ST_T] <= STREAM_WINDOW_US:
                # a long gap while streaming: the seq wrapped k times if the time says so (§6.5)
                frames = state[_ST_SEQ] - state[_ST_REF_SEQ]
                expect = dt * 1e-9 * (state[_ST_ODR_MHZ] + 2000)  # samples + META and STATUS
                k = np.int64(math.floor((expect - frames) / 65536.0 + 0.5))
                if k > 0:
                    if d <= 1:
                        stats[S_SEQ_GAPS] += 1
                    stats[S_MISSING] += k * 65536
                    state[_ST_SEQ] = state[_ST_SEQ] + k * 65536
                    m = k * 65536 + (d - 1 if d > 1 else 0)
                    if m > state[_ST_JUMP_MISSING]:
                        state[_ST_JUMP_MISSING] = m
                        state[_ST_JUMP_SEQ16] = seq16
            if dt > 0:
                state[_ST_REF] = t
                state[_ST_REF32] = t32
        state[_ST_REF_SEQ] = state[_ST_SEQ]
    if ptype == T_IMU_SAMPLE:
        state[_ST_T] = t
        state[_ST_HAVE_T] = 1
        _put_sample(pk, state[_ST_SEQ], t, flags, ns, out_seq, out_t, out_acc, out_gyr, out_flags)
        stats[S_SAMPLES] += 1
        return ns + 1, no, ob
    if ptype == T_META:
        state[_ST_ODR_MHZ] = _u32(pk, 6)
    elif ptype == T_PONG:  # t_us_rx: advances the clock by a plausible forward step, never re-bases it
        if state[_ST_HAVE_REF] != 0 and state[_ST_T_RESET] == 0:
            dt = _sdiff32(_u32(pk, 8), state[_ST_REF32])
            if 0 < dt <= T_JUMP_US:
                state[_ST_REF] = state[_ST_REF] + dt
                state[_ST_REF32] = _u32(pk, 8)
    elif ptype == T_STATUS:
        total = _u32(pk, 8)
        if state[_ST_TOTAL] >= 0 and not boot and _sdiff32(total, state[_ST_TOTAL]) < 0 \
                and state[_ST_JUMP_MISSING] >= 0:
            # samples_total fell and the seq jumped since the last STATUS: that jump was a device reset
            stats[S_RESETS] += 1
            stats[S_MISSING] += state[_ST_JUMP_SEQ16] - state[_ST_JUMP_MISSING]
            if state[_ST_JUMP_SEQ16] == 0:
                stats[S_SEQ_GAPS] -= 1
        state[_ST_TOTAL] = total
        state[_ST_JUMP_MISSING] = -1
    _keep_other(oth_idx, oth_buf, pk, no, ob, ptype, n, state[_ST_SEQ], flags, state)
    return ns, no + 1, ob + n


@njit(cache=True, nogil=True)
def _decode_kernel(buf, n_buf, state, stats, table, held, out_seq, out_t, out_acc, out_gyr, out_flags,
                   oth_buf, oth_idx):  # pragma: no cover - numba
    """Decode all complete frames in buf[:n_buf]. Returns (n_samples, n_other, tail_start).

    ``held`` (MAX_PACKET bytes, kept across calls) holds the packet of a frame waiting for confirmation."""
    scratch = np.zeros(MAX_WIRE, dtype=np.uint8)
    ns = 0
    no = 0
    ob = 0
    start = 0
    i = 0
    while i < n_buf:
        if buf[i] != 0:
            i += 1
            continue
        L = i - start
        fstart = start
        start = i + 1
        i += 1
        if state[_ST_DISCARD] != 0:  # remainder of an oversize frame (already counted)
            state[_ST_DISCARD] = 0
            continue
        if L == 0:
            stats[S_EMPTY] += 1
            continue
        if L > MAX_ENCODED:
            stats[S_OVERSIZE] += 1
            continue
        # COBS decode into scratch
        n = 0
        p = fstart
        end = fstart + L
        bad = False
        while p < end:
            code = np.int64(buf[p])
            nxt = p + code
            if nxt > end:
                bad = True
                break
            for q in range(p + 1, nxt):
                scratch[n] = buf[q]
                n += 1
            p = nxt
            if code < 0xFF and p < end:
                scratch[n] = 0
                n += 1
        if bad:
            stats[S_COBS] += 1
            continue
        if n < MIN_PACKET:
            stats[S_SHORT] += 1
            continue
        crc = 0xFFFF
        for j in range(n - 2):
            crc = ((crc << 8) & 0xFFFF) ^ np.int64(table[((crc >> 8) ^ np.int64(scratch[j])) & 0xFF])
        if crc != (np.int64(scratch[n - 2]) | (np.int64(scratch[n - 1]) << 8)):
            stats[S_CRC] += 1
            continue
        ptype = np.int64(scratch[0])
        flags = np.int64(scratch[1])
        seq16 = np.int64(scratch[2]) | (np.int64(scratch[3]) << 8)
        if ptype >= 0x80:  # host->device command: hand over, no device sequence
            if n - MIN_PACKET < _min_body(ptype):
                stats[S_SHORT] += 1
                continue
            stats[S_FRAMES_OK] += 1
            _keep_other(oth_idx, oth_buf, scratch, no, ob, ptype, n, seq16, flags, state)
            ob += n
            no += 1
            continue
        # device frame: sequence and time plausibility (PROTOCOL.md §6.5-§6.8). A frame that is not a
        # duplicate counts as received (frames_ok, or short_frames) whether it is applied now, held or dropped.
        if ptype == T_IMU_SAMPLE and n >= SAMPLE_PACKET_SIZE and state[_ST_HELD] == 0 and state[_ST_T_RESET] == 0 \
                and state[_ST_HAVE_REF] != 0 and ((seq16 - state[_ST_SEQ16]) & 0xFFFF) == 1 \
                and ((flags & FLAG_BOOT) == 0 or (state[_ST_PREV_BOOT] != 0 and seq16 != 0)):
            # fast path, the common case: the next sample, d = 1, its time within [lo, T_JUMP_US] (_continuous)
            t32 = (np.int64(scratch[4]) | (np.int64(scratch[5]) << 8) | (np.int64(scratch[6]) << 16)
                   | (np.int64(scratch[7]) << 24))
            dt = (t32 - state[_ST_REF32]) & 0xFFFFFFFF
            if dt >= 0x80000000:
                dt -= 0x100000000
            lo = -T_BACK_TOL_US
            if state[_ST_HAVE_T] != 0 and state[_ST_T] - state[_ST_REF] > lo:
                lo = state[_ST_T] - state[_ST_REF]
            if lo <= dt <= T_JUMP_US:
                t = state[_ST_REF] + dt
                if dt > 0:
                    state[_ST_REF] = t
                    state[_ST_REF32] = t32
                state[_ST_SEQ] += 1
                state[_ST_REF_SEQ] = state[_ST_SEQ]
                state[_ST_SEQ16] = seq16
                state[_ST_PREV_BOOT] = 1 if (flags & FLAG_BOOT) != 0 else 0
                if flags & FLAG_OVERRUN:
                    stats[S_OVERRUN_FLAGS] += 1
                if flags & FLAG_TX_DROPPED:
                    stats[S_TXDROP_FLAGS] += 1
                state[_ST_T] = t
                state[_ST_HAVE_T] = 1
                _put_sample(scratch, state[_ST_SEQ], t, flags, ns, out_seq, out_t, out_acc, out_gyr, out_flags)
                ns += 1
                stats[S_FRAMES_OK] += 1
                stats[S_SAMPLES] += 1
                continue
        short = n - MIN_PACKET < _min_body(ptype)
        if state[_ST_HAVE_SEQ] == 0:
            stats[S_SHORT if short else S_FRAMES_OK] += 1
            ns, no, ob = _apply(scratch, n, _K_NORMAL, False, 0, False, state, stats, out_seq, out_t, out_acc,
                                out_gyr, out_flags, oth_buf, oth_idx, ns, no, ob)
            continue
        boot = (flags & FLAG_BOOT) != 0
        timed, t32 = _frame_time(scratch, n)
        is_sample = ptype == T_IMU_SAMPLE and timed
        rate = _rate_max(state)
        seq_prev = state[_ST_SEQ16]
        prev_boot = state[_ST_PREV_BOOT] != 0
        x_timed = state[_ST_HAVE_REF] != 0 and state[_ST_T_RESET] == 0
        lo_ref = np.int64(-T_BACK_TOL_US)
        if is_sample and state[_ST_HAVE_T] != 0:
            lo_ref = max(lo_ref, state[_ST_T] - state[_ST_REF])
        if state[_ST_HELD] != 0:
            h_seq16 = state[_ST_H_SEQ16]
            h_boot = state[_ST_H_BOOT] != 0
            if seq16 == h_seq16 and (h_boot or not boot):  # the held frame again
                stats[S_DUPLICATES] += 1
                continue
            h_timed = state[_ST_H_TIMED] != 0
            lo = np.int64(0) if (is_sample and state[_ST_H_SAMPLE] != 0) else np.int64(-T_BACK_TOL_US)
            if (boot or not h_boot) \
                    and not _continuous(seq16, boot, timed, t32, seq_prev, prev_boot, x_timed, state[_ST_REF32],
                                        lo_ref, rate) \
                    and _continuous(seq16, boot, timed, t32, h_seq16, h_boot, h_timed, state[_ST_H_T32], lo, rate):
                # confirmed: the held frame's jump is real (a reset or a long gap); then this frame
                stats[S_SHORT if short else S_FRAMES_OK] += 1
                state[_ST_HELD] = 0
                if h_timed:
                    ns, no, ob = _apply(held, state[_ST_H_LEN], _K_JUMP, True, state[_ST_H_T32],
                                        state[_ST_H_SAMPLE] != 0, state, stats, out_seq, out_t, out_acc,
                                        out_gyr, out_flags, oth_buf, oth_idx, ns, no, ob)
                else:
                    ns, no, ob = _apply(held, state[_ST_H_LEN], _K_JUMP, timed, t32, is_sample, state, stats,
                                        out_seq, out_t, out_acc, out_gyr, out_flags, oth_buf, oth_idx, ns, no,
                                        ob)
                ns, no, ob = _apply(scratch, n, _K_NORMAL, False, 0, False, state, stats, out_seq, out_t,
                                    out_acc, out_gyr, out_flags, oth_buf, oth_idx, ns, no, ob)
                continue
            state[_ST_HELD] = 0  # not confirmed: the held frame was implausible (e.g. corrupted, CRC passed)
            stats[S_IMPLAUSIBLE] += 1
        if seq16 == seq_prev and (prev_boot or not boot):  # d = 0: a duplicate (also within the boot second)
            stats[S_DUPLICATES] += 1
            continue
        stats[S_SHORT if short else S_FRAMES_OK] += 1
        hold = False
        if boot and (not prev_boot or seq16 < seq_prev):  # BOOT rule: a device reset
            if timed and t32 <= BOOT_T_MAX_US:
                ns, no, ob = _apply(scratch, n, _K_JUMP, True, t32, is_sample, state, stats, out_seq, out_t,
                                    out_acc, out_gyr, out_flags, oth_buf, oth_idx, ns, no, ob)
            else:
                hold = True
        else:
            if _continuous(seq16, boot, timed, t32, seq_prev, prev_boot, x_timed, state[_ST_REF32], lo_ref, rate):
                ns, no, ob = _apply(scratch, n, _K_NORMAL, False, 0, False, state, stats, out_seq, out_t,
                                    out_acc, out_gyr, out_flags, oth_buf, oth_idx, ns, no, ob)
            else:
                hold = True
        if hold:  # a jump: wait for the next device frame to confirm it
            for j in range(n):
                held[j] = scratch[j]
            state[_ST_HELD] = 1
            state[_ST_H_LEN] = n
            state[_ST_H_SEQ16] = seq16
            state[_ST_H_BOOT] = 1 if boot else 0
            state[_ST_H_TIMED] = 1 if timed else 0
            state[_ST_H_T32] = t32
            state[_ST_H_SAMPLE] = 1 if is_sample else 0
    tail = n_buf - start
    if tail > MAX_ENCODED:  # garbage without a delimiter: drop it, and the rest of it up to the next 0x00
        if state[_ST_DISCARD] == 0:
            stats[S_OVERSIZE] += 1
        state[_ST_DISCARD] = 1
        start = n_buf
    return ns, no, start


# --------------------------------------------------------------------------------------------------
# decoder objects


@dataclass
class DecodedSamples:
    """IMU samples decoded in one :meth:`FrameDecoder.feed` call (n rows, device order).

    seq: (n,) u64 unwrapped frame sequence; t_dev_us: (n,) u64 unwrapped device µs (monotonic across
    32-bit wraps and device resets); acc_raw, gyr_raw: (n, 3) int16 counts; flags: (n,) u8."""

    seq: np.ndarray
    t_dev_us: np.ndarray
    acc_raw: np.ndarray
    gyr_raw: np.ndarray
    flags: np.ndarray

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    @classmethod
    def empty(cls) -> DecodedSamples:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros((0, 3), np.int16),
                   np.zeros((0, 3), np.int16), np.zeros(0, np.uint8))

    @classmethod
    def concat(cls, parts) -> DecodedSamples:
        """Concatenate several results in order."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("seq", "t_dev_us", "acc_raw", "gyr_raw", "flags")))


@dataclass
class DecoderStats:
    """Link counters of a :class:`FrameDecoder` (cumulative)."""

    frames_ok: int = 0  #: frames with valid COBS + CRC + body length, all types
    crc_errors: int = 0
    cobs_errors: int = 0
    short_frames: int = 0  #: packet shorter than 6 bytes, or a body shorter than its type needs
    oversize_dropped: int = 0  #: frames / delimiter-less garbage longer than MAX_ENCODED bytes
    unknown_type: int = 0  #: valid frames of a type this decoder does not know (skipped)
    seq_gaps: int = 0  #: number of discontinuities in the device sequence
    samples_missing: int = 0  #: frames missing according to the sequence (any type)
    device_tx_dropped: int = 0  #: frames the device reported dropping (STATUS tx_dropped, summed over resets)
    resets: int = 0  #: device resets detected (BOOT flag)
    bytes_total: int = 0
    samples: int = 0  #: IMU samples delivered
    empty_frames: int = 0  #: consecutive 0x00 delimiters (not an error)
    duplicates: int = 0  #: frames repeating the previous seq (dropped)
    time_jumps: int = 0  #: device clock went backwards without BOOT: an unannounced reset (also in ``resets``)
    overrun_flags: int = 0  #: frames carrying the OVERRUN flag
    tx_dropped_flags: int = 0  #: frames carrying the TX_DROPPED flag
    device_fifo_overruns: int = 0  #: STATUS fifo_overruns, summed over resets
    frames_implausible: int = 0  #: CRC-valid device frames dropped: seq/time jump not confirmed by the next frame
    proto_ver_newer: int = 0  #: META frames announcing a proto_ver newer than this decoder's PROTO_VERSION

    @property
    def errors(self) -> int:
        """Rejected frames: CRC + COBS + short + oversize."""
        return self.crc_errors + self.cobs_errors + self.short_frames + self.oversize_dropped

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Pong:
    token: int
    t_us_rx: int
    seq: int = 0


@dataclass
class Command:
    """A host→device command seen by a decoder (used by device emulators)."""

    code: int
    name: str
    arg: float | int | None
    seq: int = 0


_KERNEL_STATS = {
    "frames_ok": S_FRAMES_OK, "crc_errors": S_CRC, "cobs_errors": S_COBS, "short_frames": S_SHORT,
    "oversize_dropped": S_OVERSIZE, "unknown_type": S_UNKNOWN, "seq_gaps": S_SEQ_GAPS,
    "samples_missing": S_MISSING, "resets": S_RESETS, "empty_frames": S_EMPTY, "duplicates": S_DUPLICATES,
    "time_jumps": S_TIME_JUMPS, "overrun_flags": S_OVERRUN_FLAGS, "tx_dropped_flags": S_TXDROP_FLAGS,
    "samples": S_SAMPLES, "frames_implausible": S_IMPLAUSIBLE,
}


class FrameDecoder:
    """Streaming decoder: feed arbitrary byte chunks, get the IMU samples completed by each chunk.

    Receiver rules (PROTOCOL.md §Receiver): frames are split at 0x00; a frame failing COBS, CRC or the
    minimum body length is dropped and counted; longer bodies are accepted (tail ignored); unknown types are
    skipped and counted; more than MAX_ENCODED bytes without 0x00 are discarded up to the next 0x00 (memory is
    bounded by the chunk size plus 255 bytes). Sequence numbers are unwrapped to u64 on every device frame.
    Device times are unwrapped across 32-bit wraps from every frame that carries one (IMU_SAMPLE, STATUS; a
    PONG only advances it), so a stopped stream keeps its clock through STATUS. At a device reset (BOOT flag on
    a frame after non-BOOT frames, or a seq restart ``seq < seq_prev`` during BOOT; or, confirmed, a clock that
    went backwards: ``time_jumps``) the time continues at ``T + 1 + t_us`` (``T``: the newest device time
    known), so the unwrapped sample time stays strictly monotonic, and the seq at ``seq_last + 1 + seq``. A gap
    of more than 65535 frames is estimated from the time and the META rate (PROTOCOL.md §6.5).

    Plausibility (§6.8): a device frame whose seq or time jumps (a reset, a long outage, or a corrupted frame
    whose CRC matched) is held until the next device frame: if that one continues from it, the jump is applied;
    otherwise the held frame is dropped (``stats.frames_implausible``), and the sequence and clock stay as they
    were. The limits are the module constants T_BACK_TOL_US, T_JUMP_US, BOOT_T_MAX_US, SEQ_SLACK, RATE_MAX_HZ.
    A frame still held when the stream ends is not delivered. A META announcing a ``proto_ver`` newer than
    PROTO_VERSION is counted (``stats.proto_ver_newer``) and warned about once (RuntimeWarning).

    feed() raises only TypeError for a non-bytes-like argument. Results: ``meta`` (latest DeviceMeta),
    ``metas`` (count), ``status`` (latest DeviceStatus), ``logs`` (last ``max_logs`` (seq, text)), ``pongs``,
    ``commands`` (host→device frames seen), ``stats`` (DecoderStats). With ``keep_other_seqs=True``,
    ``other_seqs`` collects the unwrapped sequence numbers of the device's non-sample frames (META, STATUS,
    PONG, LOG, unknown types; at most the newest 100,000) until the caller takes them: a recorder tells a
    lost frame from a number another frame type used (``SampleBlock.info["seq_other"]``).
    """

    def __init__(self, max_logs: int = 1000, keep_other_seqs: bool = False):
        self.max_logs = max_logs
        self.keep_other_seqs = bool(keep_other_seqs)
        self.other_seqs: list[int] = []
        self.meta: DeviceMeta | None = None
        self.meta_seq: int = -1
        self.metas = 0
        self.status: DeviceStatus | None = None
        self.logs: deque[tuple[int, str]] = deque(maxlen=max_logs)
        self.pongs: deque[Pong] = deque(maxlen=max_logs)
        self.commands: deque[Command] = deque(maxlen=max_logs)
        self._state = np.zeros(N_STATE, dtype=np.int64)
        self._state[_ST_TOTAL] = -1
        self._state[_ST_JUMP_MISSING] = -1
        self._stats = np.zeros(N_STATS, dtype=np.int64)
        self._held = np.zeros(MAX_PACKET, dtype=np.uint8)  # a frame waiting for confirmation (§6.8)
        self._proto_newer = 0
        self._tail = np.zeros(0, dtype=np.uint8)
        self._bytes_total = 0
        self._unknown = 0
        self._tx_base = 0
        self._ovr_base = 0
        self._last_tx = 0
        self._last_ovr = 0

    # ---- results
    @property
    def stats(self) -> DecoderStats:
        s = DecoderStats(**{k: int(self._stats[i]) for k, i in _KERNEL_STATS.items()})
        s.unknown_type += self._unknown
        s.proto_ver_newer = self._proto_newer
        s.bytes_total = self._bytes_total
        s.device_tx_dropped = self._tx_base + self._last_tx
        s.device_fifo_overruns = self._ovr_base + self._last_ovr
        return s

    @property
    def held(self) -> bool:
        """True while a frame waits for the next device frame to confirm its seq/time jump (§6.8)."""
        return bool(self._state[_ST_HELD])

    @property
    def t_last_us(self) -> int | None:
        """Unwrapped device time of the last decoded sample (None before the first)."""
        return int(self._state[_ST_T]) if self._state[_ST_HAVE_T] else None

    @property
    def seq_last(self) -> int | None:
        """Unwrapped seq of the last device frame (None before the first)."""
        return int(self._state[_ST_SEQ]) if self._state[_ST_HAVE_SEQ] else None

    def feed(self, data) -> DecodedSamples:
        """Decode ``data`` (bytes-like); returns the IMU samples whose frames completed in it."""
        arr = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        self._bytes_total += arr.shape[0]
        if arr.shape[0] == 0:
            return DecodedSamples.empty()
        buf = np.concatenate((self._tail, arr)) if self._tail.shape[0] else arr
        if buf.flags.writeable:  # one kernel signature (read-only uint8) for bytes, bytearray and the tail
            buf = buf.view()
            buf.flags.writeable = False
        nz = int(np.count_nonzero(buf == 0))
        # one row per delimiter, plus one for a held frame (§6.8) released by this call's first device frame
        out_seq = np.empty(nz + 1, dtype=np.uint64)
        out_t = np.empty(nz + 1, dtype=np.uint64)
        out_acc = np.empty((nz + 1, 3), dtype=np.int16)
        out_gyr = np.empty((nz + 1, 3), dtype=np.int16)
        out_flags = np.empty(nz + 1, dtype=np.uint8)
        oth_idx = np.empty((nz + 1, 6), dtype=np.int64)
        oth_buf = np.empty(min(buf.shape[0], nz * MAX_PACKET) + MAX_PACKET, dtype=np.uint8)
        ns, no, tail_start = _decode_kernel(buf, buf.shape[0], self._state, self._stats, _CRC_TABLE, self._held,
                                            out_seq, out_t, out_acc, out_gyr, out_flags, oth_buf, oth_idx)
        self._tail = buf[tail_start:].copy()
        if no:
            self._handle_other(oth_buf, oth_idx[:no])
        return DecodedSamples(out_seq[:ns], out_t[:ns], out_acc[:ns], out_gyr[:ns], out_flags[:ns])

    def _handle_other(self, oth_buf: np.ndarray, idx: np.ndarray) -> None:
        if self.keep_other_seqs:
            self.other_seqs.extend(int(row[3]) for row in idx.tolist() if row[0] < 0x80)  # commands: no seq
            if len(self.other_seqs) > 100_000:  # no samples for a long time: keep the newest
                del self.other_seqs[:-100_000]
        for ptype, start, n, seq, flags, _t in idx.tolist():
            body = oth_buf[start + HEADER_SIZE : start + n - CRC_SIZE].tobytes()
            if ptype == T_META:
                self.meta = DeviceMeta.from_body(body)
                self.meta_seq = seq
                self.metas += 1
                if self.meta.proto_ver > PROTO_VERSION:
                    self._proto_newer += 1
                    if self._proto_newer == 1:  # once per decoder (§8): the known frame types still decode
                        warnings.warn(f"device speaks imuwalk protocol version {self.meta.proto_ver}, newer than "
                                      f"the {PROTO_VERSION} this decoder implements: frames of unknown types are "
                                      "skipped, new fields ignored; update imuwalk", RuntimeWarning,
                                      stacklevel=3)
            elif ptype == T_STATUS:
                st = DeviceStatus(*_STATUS_BODY.unpack_from(body), seq=seq, flags=flags)
                if flags & FLAG_BOOT or st.tx_dropped < self._last_tx or st.fifo_overruns < self._last_ovr:
                    # counters restarted with the device: bank what was seen before
                    self._tx_base += self._last_tx
                    self._ovr_base += self._last_ovr
                    self._last_tx = 0
                    self._last_ovr = 0
                self._last_tx = st.tx_dropped
                self._last_ovr = st.fifo_overruns
                self.status = st
            elif ptype == T_PONG:
                tok, trx = _PONG_BODY.unpack_from(body)
                self.pongs.append(Pong(tok, trx, seq))
            elif ptype == T_LOG:
                self.logs.append((seq, body.decode("utf-8", errors="replace")))
            elif ptype in COMMAND_TYPES:
                self._handle_command(ptype, body, seq)
            else:
                self._unknown += 1

    def _handle_command(self, code: int, body: bytes, seq: int) -> None:
        name = {v: k for k, v in COMMAND_NAMES.items()}[code]
        arg: float | int | None = None
        if code in (CMD_SET_ODR, CMD_PING):
            (v,) = struct.unpack_from("<I", body)
            arg = v / 1000.0 if code == CMD_SET_ODR else v
        self.commands.append(Command(code, name, arg, seq))


def decode_all(data: bytes) -> tuple[DecodedSamples, FrameDecoder]:
    """Decode a whole byte string (e.g. a ``.imuraw`` log); returns (samples, the decoder for meta/stats)."""
    dec = FrameDecoder()
    return dec.feed(data), dec


# --------------------------------------------------------------------------------------------------
# clock mapping


@njit(cache=True, nogil=True)
def _lower_hull(x, y):  # pragma: no cover - numba
    """Indices of the lower convex hull of points sorted by x (monotone chain)."""
    n = x.shape[0]
    h = np.empty(n, dtype=np.int64)
    k = 0
    for i in range(n):
        while k >= 2:
            a = h[k - 2]
            b = h[k - 1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross <= 0.0:
                k -= 1
            else:
                break
        h[k] = i
        k += 1
    return h[:k]


class ClockMapper:
    """Maps the device µs clock to host seconds: ``t_host ≈ t_dev + a + b·(t_dev − ref)``.

    Transport latency only adds positive delay, so the host−device offset is fitted by its lower envelope:
    observations are reduced to the minimum offset per ``bucket_s`` of device time (bounded to ``max_buckets``
    most recent), and the fit is the supporting line of their lower convex hull at the mean device time of the
    last ``window_s`` seconds (the line below all points with the least mean distance to them). Deterministic:
    the same observations give the same mapping. Before any observation, ``map`` raises ValueError.
    """

    def __init__(self, window_s: float = 300.0, bucket_s: float = 0.5, max_buckets: int = 4096):
        if not (window_s > 0 and bucket_s > 0):
            raise ValueError(f"window_s, bucket_s: must be > 0, got {window_s!r}, {bucket_s!r}")
        if max_buckets < 2:
            raise ValueError(f"max_buckets: must be >= 2, got {max_buckets!r}")
        self.window_s = float(window_s)
        self.bucket_s = float(bucket_s)
        self.max_buckets = int(max_buckets)
        self._ref_dev: int | None = None
        self._ref_host: int | None = None
        self._buckets: dict[int, tuple[float, float]] = {}  # bucket -> (x s, min offset s)
        self._dirty = True
        self.offset_s_ = 0.0
        self.skew_ = 0.0
        self.n_obs_ = 0

    def update(self, t_dev_us, t_host_ns) -> ClockMapper:
        """Add observations: device µs (unwrapped) and the host monotonic ns when they were received."""
        d = np.atleast_1d(np.asarray(t_dev_us, dtype=np.int64))
        h = np.atleast_1d(np.asarray(t_host_ns, dtype=np.int64))
        if d.shape != h.shape or d.ndim != 1:
            raise ValueError(f"t_dev_us, t_host_ns: need equal 1-D shapes, got {d.shape} and {h.shape}")
        if d.size == 0:
            return self
        if self._ref_dev is None:
            self._ref_dev = int(d[0])
            self._ref_host = int(h[0])
        x = (d - self._ref_dev) * 1e-6
        off = (h - self._ref_host) * 1e-9 - x
        b = np.floor(x / self.bucket_s).astype(np.int64)
        order = np.lexsort((off, b))
        b, x, off = b[order], x[order], off[order]
        first = np.ones(b.shape[0], dtype=bool)
        first[1:] = b[1:] != b[:-1]
        for bi, xi, oi in zip(b[first].tolist(), x[first].tolist(), off[first].tolist(), strict=True):
            cur = self._buckets.get(bi)
            if cur is None or oi < cur[1]:
                self._buckets[bi] = (xi, oi)
        if len(self._buckets) > self.max_buckets:
            for k in sorted(self._buckets)[: len(self._buckets) - self.max_buckets]:
                del self._buckets[k]
        self.n_obs_ += int(d.size)
        self._dirty = True
        return self

    def _fit(self) -> None:
        if not self._dirty:
            return
        keys = sorted(self._buckets)
        pts = np.array([self._buckets[k] for k in keys], dtype=np.float64)
        x, y = pts[:, 0], pts[:, 1]
        sel = x >= x[-1] - self.window_s
        x, y = x[sel], y[sel]
        if x.shape[0] == 1:
            self.skew_, self.offset_s_ = 0.0, float(y[0])
        else:
            h = _lower_hull(x, y)
            xm = float(np.mean(x))
            hx, hy = x[h], y[h]
            j = int(np.searchsorted(hx, xm, side="right")) - 1
            j = min(max(j, 0), hx.shape[0] - 2)
            if hx.shape[0] == 1:
                self.skew_, self.offset_s_ = 0.0, float(hy[0])
            else:
                slope = (hy[j + 1] - hy[j]) / (hx[j + 1] - hx[j])
                self.skew_ = float(slope)
                self.offset_s_ = float(hy[j] - slope * hx[j])
        self._dirty = False

    @property
    def ready(self) -> bool:
        return bool(self._buckets)

    def map(self, t_dev_us) -> np.ndarray:
        """Host monotonic time in s (float64) of device times ``t_dev_us`` (µs, unwrapped)."""
        if not self._buckets:
            raise ValueError("t_dev_us: the ClockMapper has no observations yet (call update first)")
        self._fit()
        x = (np.asarray(t_dev_us, dtype=np.int64) - self._ref_dev) * 1e-6
        return self._ref_host * 1e-9 + x + self.offset_s_ + self.skew_ * x

    def map_ns(self, t_dev_us) -> np.ndarray:
        """Like :meth:`map` but in int64 host ns."""
        if not self._buckets:
            raise ValueError("t_dev_us: the ClockMapper has no observations yet (call update first)")
        self._fit()
        x = (np.asarray(t_dev_us, dtype=np.int64) - self._ref_dev) * 1e-6
        return self._ref_host + np.round((x + self.offset_s_ + self.skew_ * x) * 1e9).astype(np.int64)

    @property
    def drift_ppm(self) -> float:
        """Fitted device clock rate error in ppm (positive: the device clock runs slow)."""
        if self._buckets:
            self._fit()
        return self.skew_ * 1e6


@functools.cache
def warm_up() -> None:
    """Compile (first run) or load (later runs) the wire-protocol kernels now: the sample encoder, the
    frame decoder and the clock mapper's hull. A fresh install compiles them in seconds; a reader that
    did it on its first bytes would leave the port unread meanwhile. ~0.05 s with a warm cache. Runs once
    per process (imuwalk.warm_up, the emulator and SerialSource.start all call it; later calls return)."""
    n = 4
    acc = np.zeros((n, 3), dtype=np.int16)
    t_us = np.arange(n, dtype=np.int64) * 600_000  # 0.6 s apart: several clock buckets, a hull to fit
    data = encode_meta(0, DeviceMeta()) + encode_samples(1, t_us, acc, acc)
    dec = FrameDecoder()
    half = len(data) - SAMPLE_WIRE_SIZE // 2
    dec.feed(data[:half])  # bytes, then the rest of a split frame from a bytearray: the tail path
    dec.feed(bytearray(data[half:]))
    clock = ClockMapper()
    clock.update(t_us, t_us * 1000)
    clock.map(t_us[:1])


# --------------------------------------------------------------------------------------------------
# SI conversion


def to_block(decoded: DecodedSamples, meta: DeviceMeta, t0_us: int, t_host_ns=None,
             info: dict | None = None) -> SampleBlock:
    """SI :class:`SampleBlock` of decoded samples on the device clock: ``t = (t_dev_us − t0_us)/1e6`` s,
    acc m/s² and gyr rad/s from the META scales. ``t0_us``: the first sample of the session."""
    if meta is None:
        raise ValueError("meta: a DeviceMeta is required to convert counts (no META frame received yet?)")
    acc, gyr = counts_to_si(decoded.acc_raw, decoded.gyr_raw, meta.acc_scale_g_per_lsb,
                            meta.gyr_scale_dps_per_lsb)
    t = (decoded.t_dev_us.astype(np.int64) - np.int64(t0_us)) / 1e6
    inf = {"device_id": meta.device_id, "odr_hz": meta.odr_hz, "imu_model": meta.imu_name}
    if info:
        inf.update(info)
    return SampleBlock(t=t, acc=acc, gyr=gyr, acc_raw=decoded.acc_raw, gyr_raw=decoded.gyr_raw,
                       t_dev_us=decoded.t_dev_us, seq=decoded.seq,
                       t_host_ns=None if t_host_ns is None else np.asarray(t_host_ns, dtype=np.int64),
                       info=inf)


__all__ = [
    "PROTO_VERSION", "T_IMU_SAMPLE", "T_META", "T_STATUS", "T_PONG", "T_LOG", "CMD_START", "CMD_STOP",
    "CMD_SET_ODR", "CMD_PING", "FLAG_OVERRUN", "FLAG_TX_DROPPED", "FLAG_BOOT", "MAX_PACKET", "MAX_WIRE",
    "MAX_ENCODED", "SAMPLE_WIRE_SIZE", "crc16", "cobs_encode", "cobs_decode", "encode_packet",
    "encode_sample", "encode_samples", "encode_meta", "encode_status", "encode_pong", "encode_log",
    "encode_command", "DeviceMeta", "DeviceStatus", "Pong", "Command", "DecodedSamples", "DecoderStats",
    "FrameDecoder", "decode_all", "ClockMapper", "to_block", "warm_up",
]
