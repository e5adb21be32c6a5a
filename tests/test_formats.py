"""Text lines, headed CSV, x-IMU binary (proven on the real x-io stream) and read_file dispatch."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import require_data

from imuwalk.sources.formats import (
    TextLineDecoder,
    XimuDecoder,
    _spread_repeats,
    read_csv,
    read_file,
    read_text,
)
from imuwalk.units import DEG2RAD, G0

# ---------------------------------------------------------------- text lines


def test_text_separators_timestamp_and_scales():
    dec = TextLineDecoder(time_unit="ms")
    data = (b"10,0,0,1,0,0,90\n"            # comma, with timestamp
            b"20\t0\t0\t1\t0\t0\t-90\r\n"  # tab + CRLF
            b"30 0 0 1 0 0 180\n"
            b"40;0;0;1;0;0;0\n")
    s = dec.feed(data)
    assert len(s) == 4
    np.testing.assert_allclose(s.t_col, [0.01, 0.02, 0.03, 0.04])
    np.testing.assert_allclose(s.acc[:, 2], G0)
    np.testing.assert_allclose(s.gyr[:, 2], np.array([90, -90, 180, 0]) * DEG2RAD)
    assert dec.stats["lines_ok"] == 4 and dec.stats["lines_bad"] == 0


def test_text_without_timestamp_units_and_extra_columns():
    dec = TextLineDecoder(acc_unit="m/s2", gyr_unit="rad/s")
    s = dec.feed(b"1,2,3,4,5,6\n")
    assert np.isnan(s.t_col).all()
    np.testing.assert_allclose(s.acc, [[1, 2, 3]])
    np.testing.assert_allclose(s.gyr, [[4, 5, 6]])
    dec = TextLineDecoder(preset="mpu6050")
    s = dec.feed(b"1564427095,16384,0,-16384,131,262,-131,900\n")
    np.testing.assert_allclose(s.t_col, [1564427095.0])
    np.testing.assert_allclose(s.acc, [[G0, 0, -G0]])
    np.testing.assert_allclose(s.gyr, [[DEG2RAD, 2 * DEG2RAD, -DEG2RAD]])
    assert s.extra == [(900.0,)]
    # the MPU-6050 example sketch's readable output: a label then tab-separated counts
    s = TextLineDecoder(preset="mpu6050", timestamp=False).feed(b"a/g:\t16384\t0\t0\t0\t0\t131\n")
    np.testing.assert_allclose(s.acc[0], [G0, 0, 0])
    np.testing.assert_allclose(s.gyr[0], [0, 0, DEG2RAD])


def test_text_bad_lines_counted_never_raise():
    dec = TextLineDecoder()
    junk = (b"ax,ay,az,gx,gy,gz\n"   # header
            b"1,2,3\n"               # too short
            b"1,2,x,4,5,6\n"         # not a number
            b"1,2,nan,4,5,6\n"       # non-finite
            b"\xff\xfe\x00garbage\n"  # binary
            b"\n"                    # empty, not bad
            b"0,0,1,0,0,0\n")
    s = dec.feed(junk)
    assert len(s) == 1
    assert dec.stats["lines_bad"] == 5
    assert dec.stats["lines_empty"] == 1


def test_text_chunking_invariant_and_overlong_line_dropped():
    lines = b"".join(f"{i},{i % 7},0,1,0,{i % 3},0\n".encode() for i in range(200))
    whole = TextLineDecoder().feed(lines)
    rng = np.random.default_rng(1)
    dec = TextLineDecoder()
    parts, pos = [], 0
    while pos < len(lines):
        n = int(rng.integers(1, 40))
        parts.append(dec.feed(lines[pos:pos + n]))
        pos += n
    got = np.concatenate([p.values for p in parts])
    np.testing.assert_array_equal(got, whole.values)
    dec = TextLineDecoder(max_line=64)
    s1 = dec.feed(b"9" * 100)             # no newline yet, already too long
    s2 = dec.feed(b"9" * 100 + b"\n1,0,0,1,0,0,0\n")
    assert len(s1) == 0 and len(s2) == 1
    assert dec.stats["overflows"] == 1 and dec.stats["lines_bad"] == 1


def test_text_decoder_bad_options_name_the_argument():
    with pytest.raises(ValueError, match="acc_unit"):
        TextLineDecoder(acc_unit="furlong")
    with pytest.raises(ValueError, match="acc_lsb_per_g"):
        TextLineDecoder(acc_unit="counts")
    with pytest.raises(ValueError, match="preset"):
        TextLineDecoder(preset="nope")
    with pytest.raises(ValueError, match="time_unit"):
        TextLineDecoder(time_unit="fortnight")


def test_spread_repeats_makes_coarse_stamps_increasing():
    ts = np.array([5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8], dtype=float)
    out = _spread_repeats(ts)
    assert np.all(np.diff(out) > 0)
    assert np.all(np.floor(out) == ts)          # every sample stays inside its own second
    np.testing.assert_allclose(out[2:6], [6, 6.25, 6.5, 6.75])


def test_read_text_and_csv_files(tmp_path):
    p = tmp_path / "log.txt"
    p.write_text("".join(f"{0.005 * i:.3f},0,0,1,0,0,{i}\n" for i in range(100)))
    b = read_file(p)
    assert len(b) == 100 and b.info["format"] == "text"
    np.testing.assert_allclose(b.t, 0.005 * np.arange(100), atol=1e-9)
    np.testing.assert_allclose(b.gyr[:, 2], np.arange(100) * DEG2RAD)
    q = tmp_path / "nots.txt"
    q.write_text("0,0,1,0,0,0\n" * 10)
    with pytest.raises(ValueError, match="rate_hz"):
        read_text(q)
    assert read_file(q, rate_hz=100).t[-1] == pytest.approx(0.09)

    c = tmp_path / "si.csv"
    c.write_text("time_ms,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n"
                 + "".join(f"{10 * i},0,0,9.81,0,0,{0.1 * i}\n" for i in range(50)))
    b = read_file(c)
    assert b.info["format"] == "csv" and b.info["acc_unit"] == "m/s2" and b.info["gyr_unit"] == "rad/s"
    np.testing.assert_allclose(b.t, 0.01 * np.arange(50))
    np.testing.assert_allclose(b.acc[:, 2], 9.81)
    b = read_csv(c, gyr_unit="dps")
    np.testing.assert_allclose(b.gyr[:, 2], 0.1 * np.arange(50) * DEG2RAD)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,acc_x,acc_y,acc_z\n0,0,0,1\n")
    with pytest.raises(ValueError, match="gyr_x"):
        read_file(bad)
    with pytest.raises(ValueError, match="format"):
        read_file(c, format="excel")
    with pytest.raises(ValueError, match="no such file"):
        read_file(tmp_path / "missing.csv")


# ---------------------------------------------------------------- x-IMU


def _ximu_encode(decoded: bytes) -> bytes:
    """Reference 7-bit encoder of one x-IMU packet (the inverse of the documented decoding)."""
    bits = "".join(f"{b:08b}" for b in decoded)
    n = -(-len(bits) // 7)
    bits = bits.ljust(7 * n, "0")
    out = bytearray(int(bits[7 * i:7 * i + 7], 2) for i in range(n))
    out[-1] |= 0x80
    return bytes(out)


def _ximu_packet(header: int, payload: bytes) -> bytes:
    body = bytes([header]) + payload
    return _ximu_encode(body + bytes([sum(body) & 0xFF]))


def test_ximu_synthetic_packets_checksum_and_resync():
    vals = np.array([16, -32, 160, 2048, -4096, 1024, 7, 8, 9], dtype=">i2").tobytes()
    good = _ximu_packet(9, vals)
    assert len(good) == 23
    corrupt = bytearray(good)
    corrupt[5] ^= 0x01
    other = _ximu_packet(10, bytes(8))
    stream = good + bytes(corrupt) + other + b"\x01\x02\x03" + good + good
    dec = XimuDecoder()
    got = [dec.feed(stream[i:i + 5]) for i in range(0, len(stream), 5)]
    idx = np.concatenate([g.packet_index for g in got])
    gyr = np.concatenate([g.gyr_counts for g in got])
    acc = np.concatenate([g.acc_counts for g in got])
    np.testing.assert_array_equal(idx, [0, 4])
    np.testing.assert_array_equal(gyr[0], [16, -32, 160])
    np.testing.assert_array_equal(acc[1], [2048, -4096, 1024])
    assert dec.stats["checksum_errors"] == 2  # the flipped packet and the garbage glued to the last one
    assert dec.stats["by_type"] == {9: 2, 10: 1}


def test_ximu_decoder_never_raises_on_random_bytes():
    rng = np.random.default_rng(7)
    dec = XimuDecoder()
    for _ in range(50):
        dec.feed(rng.integers(0, 256, int(rng.integers(0, 500)), dtype=np.uint8).tobytes())
    assert dec.stats["packets"] > 0


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["straightLine", "stairsAndCorridor"])
def test_ximu_matches_vendor_csv(name):
    binp = require_data("xio_ximu_foot_raw_binary", f"{name}.BIN")
    csvp = require_data("xio_ximu_foot_raw_binary", f"{name}_CalInertialAndMag.csv")
    b = read_file(binp)
    ref = np.loadtxt(csvp, delimiter=",", skiprows=1)
    assert b.info["stats"]["checksum_errors"] == 0
    np.testing.assert_array_equal(b.info["packet_index"], ref[:, 0].astype(np.int64))
    dec = np.hstack([b.gyr / DEG2RAD, b.acc / G0, b.info["mag"]])
    csv = ref[:, 1:]
    # the CSV prints 7 significant digits: every decoded value must round to the printed one
    mag = np.maximum(np.abs(dec), np.abs(csv))
    exp = np.floor(np.log10(np.where(mag > 0, mag, 1.0)))
    half_unit = 0.5 * 10.0 ** (exp - 6)
    err = np.abs(dec - csv)
    assert np.all(err <= half_unit * (1 + 1e-6) + 1e-12), float((err / half_unit).max())
    np.testing.assert_allclose(b.t[1] - b.t[0], 1 / 256)
    assert b.acc_raw.dtype == np.int16 and b.acc_raw.shape == (len(ref), 3)


@pytest.mark.realdata
def test_mpu6050_ankle_log():
    p = require_data("ankle_mpu6050_fsr_steplog", "Steps21.txt")
    b = read_file(p, preset="mpu6050")
    assert len(b) == 1664
    assert b.info["stats"]["lines_bad"] == 0
    assert np.all(np.diff(b.t) > 0)
    assert 60 < b.t[-1] < 64
    assert 0.9 * G0 < np.median(np.linalg.norm(b.acc, axis=1)) < 1.05 * G0
    fsr = b.info["extra"][:, 0]
    assert fsr.max() > 500 and np.median(fsr[:100]) < 5
    assert "warning" not in b.info
    # without the preset the counts are flagged, not silently taken as g
    assert "counts" in read_file(p).info["warning"]


@pytest.mark.realdata
def test_ngimu_vendor_csv_header_units():
    p = require_data("xio_ngimu_foot_walk", "short_walk.csv")
    b = read_file(p)
    assert b.info["acc_unit_source"] == "header" and b.info["gyr_unit"] == "dps"
    assert np.all(np.diff(b.t) > 0)
    assert 0.9 * G0 < np.median(np.linalg.norm(b.acc, axis=1)) < 1.1 * G0


# ---------------------------------------------------------------- dispatch edge cases


def test_read_file_all_nan_binary_and_sniffing(tmp_path):
    import warnings

    nan = tmp_path / "nan.csv"
    nan.write_text("t,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z\n" + "0,nan,nan,nan,nan,nan,nan\n" * 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError, match="no finite samples"):
            read_file(nan)
        with pytest.raises(ValueError, match="no finite samples"):
            read_file(tmp_path.joinpath("nan.txt").write_text("0,nan,1,0,0,0,0\n") and tmp_path / "nan.txt")
    book = tmp_path / "book.xlsx"
    book.write_bytes(b"PK\x03\x04\x14\x00" + bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="ZIP archive") as e:
        read_file(book)
    assert "\\x" not in str(e.value) and len(str(e.value)) < 300
    text_with_noise = tmp_path / "boot.txt"  # a little serial boot garbage is still a text log
    lines = [f"{0.01 * i:.2f},0,0,1,0,0,0\n".encode() for i in range(80)]
    text_with_noise.write_bytes(b"".join(lines[:40]) + b"\x00\xff\x13\x02garbage\n" + b"".join(lines[40:]))
    b = read_file(text_with_noise)
    assert len(b) == 80 and b.info["stats"]["lines_bad"] == 1
    from imuwalk.sources.formats import sniff_format

    h5 = tmp_path / "rec.dat"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    assert sniff_format(h5) == "hdf5"
    assert read_file(text_with_noise).info["time_column"] is True
    nots = tmp_path / "nots.txt"
    nots.write_text("0,0,1,0,0,0\n" * 10)
    assert read_file(nots, rate_hz=10).info["time_column"] is False


def test_boot_text_before_the_samples_is_not_a_csv_header(tmp_path):
    """A serial capture that starts with an ESP32's boot banner is a text log: the banner lines are skipped,
    the samples read; a real header (known names, or six names over a numeric row) still makes a CSV."""
    from imuwalk.sources.formats import read_file, sniff_format

    rows = "".join(f"{k * 0.01:.2f},0.0,0.0,1.0,{k % 7 - 3}.0,1.5,-2.0\n" for k in range(200))
    boot = ("ets Jun  8 2016 00:22:57\n\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\n"
            "configsip: 0, SPIWP:0xee\nmode:DIO, clock div:1\nload:0x3fff0018,len:4\nentry 0x400806b8\n")
    log = tmp_path / "capture.txt"
    log.write_text(boot + rows)
    assert sniff_format(log) == "text"
    blk = read_file(log)
    assert len(blk) == 200 and blk.info["format"] == "text" and blk.info["stats"]["lines_bad"] >= 5
    np.testing.assert_allclose(blk.acc[:, 2], 9.80665, rtol=1e-6)  # text logs: g by default
    named = tmp_path / "named.csv"
    named.write_text("time,ax,ay,az,gx,gy,gz\n" + rows)
    assert sniff_format(named) == "csv" and len(read_file(named)) == 200
    odd = tmp_path / "odd.csv"
    odd.write_text("stamp;Accel_X_raw;Accel_Y_raw;Accel_Z_raw;Gyro_X_raw;Gyro_Y_raw;Gyro_Z_raw\n"
                   + rows.replace(",", ";"))
    assert sniff_format(odd) == "csv"
    with pytest.raises(ValueError, match="header has no column for"):
        read_file(odd)


# ---------------------------------------------------------------- messages of files that are not what they seem


def test_read_file_names_what_a_wrong_file_is(tmp_path):
    """/dev/null is not a regular file (not "no such file"), an empty .h5 is empty, a random .bin gets a
    short summary (no dict of decoder stats), the byte log of a text stream is called text lines."""
    if os.path.exists("/dev/null"):
        with pytest.raises(ValueError, match="not a regular file"):
            read_file("/dev/null")
    with pytest.raises(ValueError, match="is a folder"):
        read_file(tmp_path)
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"is empty \(0 bytes\)"):
        read_file(empty)
    rnd = tmp_path / "rand.bin"
    rnd.write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(ValueError) as e:
        read_file(rnd)
    msg = str(e.value)
    assert "not an x-IMU binary log" in msg and "packets" in msg and "{" not in msg, msg
    text_log = tmp_path / "tx.h5.imuraw"
    text_log.write_text("".join(f"{k * 0.01:.2f},0.0,0.0,1.0,0.0,0.0,0.0\n" for k in range(100)))
    with pytest.raises(ValueError, match="text lines, not imuwalk frames"):
        read_file(text_log)
    assert len(read_file(text_log, format="text")) == 100
