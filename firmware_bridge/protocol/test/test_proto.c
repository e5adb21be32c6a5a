/* Host test of imuwalk_proto.{h,c} against firmware_bridge/vectors/golden_frames.json (via vectors.h),
 * plus a byte stream written to argv[1] that tests/test_firmware_c.py decodes with imuwalk and compares.
 * Build/run: make -C firmware_bridge/protocol test */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imuwalk_proto.h"
#include "vectors.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        checks++;                                                                                            \
        if (!(cond)) {                                                                                       \
            failures++;                                                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                             \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
        }                                                                                                    \
    } while (0)

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2, i;
    if (n > cap) {
        fprintf(stderr, "hex too long\n");
        exit(2);
    }
    for (i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "bad hex\n");
            exit(2);
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

static int same(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

static float f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static size_t pack_base(const vec_frame_t *v, uint8_t *out, size_t cap);

/* the vector's wire frame built with the C API; a longer body (extra_hex, a future version's appended
 * fields) is the normal body plus the extra bytes */
static size_t pack_vector(const vec_frame_t *v, uint8_t *out, size_t cap)
{
    uint8_t tmp[IW_MAX_WIRE], pkt[IW_MAX_PACKET], body[IW_MAX_BODY];
    size_t m, n, blen;
    if (v->extra_hex[0] == '\0') {
        return pack_base(v, out, cap);
    }
    m = pack_base(v, tmp, sizeof tmp);
    n = m > 0 ? iw_cobs_decode(tmp, m - 1, pkt, sizeof pkt) : IW_COBS_ERROR;
    if (n == IW_COBS_ERROR || n < IW_HEADER_SIZE + IW_CRC_SIZE) {
        CHECK(0, "frame %s: base frame", v->name);
        return 0;
    }
    blen = n - IW_HEADER_SIZE - IW_CRC_SIZE;
    memcpy(body, pkt + IW_HEADER_SIZE, blen);
    blen += from_hex(v->extra_hex, body + blen, sizeof body - blen);
    return iw_pack_frame(out, cap, (uint8_t)v->type, (uint8_t)v->flags, (uint16_t)v->seq, body, blen);
}

static size_t pack_base(const vec_frame_t *v, uint8_t *out, size_t cap)
{
    uint8_t body[IW_MAX_BODY];
    size_t blen;
    switch (v->type) {
    case IW_T_IMU_SAMPLE:
        return iw_pack_sample(out, cap, (uint8_t)v->flags, (uint16_t)v->seq, v->t_us, v->acc, v->gyr);
    case IW_T_META: {
        iw_meta_t m;
        m.proto_ver = (uint8_t)v->proto_ver;
        m.imu_model = (uint8_t)v->imu_model;
        m.odr_mhz = v->odr_mhz;
        m.acc_scale = f32_from_bits(v->acc_bits);
        m.gyr_scale = f32_from_bits(v->gyr_bits);
        m.acc_range_g = (uint8_t)v->acc_range;
        m.gyr_range_dps = (uint16_t)v->gyr_range;
        m.uid = v->uid;
        m.fw_ver = (uint16_t)v->fw_ver;
        return iw_pack_meta(out, cap, (uint8_t)v->flags, (uint16_t)v->seq, &m);
    }
    case IW_T_STATUS: {
        iw_status_t s;
        s.t_us = v->t_us;
        s.samples_total = v->samples_total;
        s.tx_dropped = v->tx_dropped;
        s.fifo_overruns = v->fifo_overruns;
        s.crc_rx_errors = (uint16_t)v->crc_rx_errors;
        return iw_pack_status(out, cap, (uint8_t)v->flags, (uint16_t)v->seq, &s);
    }
    case IW_T_PONG:
        return iw_pack_pong(out, cap, (uint8_t)v->flags, (uint16_t)v->seq, v->token, v->t_us_rx);
    case IW_T_LOG:
        return iw_pack_log(out, cap, (uint8_t)v->flags, (uint16_t)v->seq, v->text, v->text_len);
    case IW_CMD_START:
    case IW_CMD_STOP:
        return iw_pack_command(out, cap, (uint8_t)v->type, (uint16_t)v->seq, 0);
    case IW_CMD_SET_ODR:
        return iw_pack_command(out, cap, (uint8_t)v->type, (uint16_t)v->seq, v->odr_arg);
    case IW_CMD_PING:
        return iw_pack_command(out, cap, (uint8_t)v->type, (uint16_t)v->seq, v->token);
    default:
        blen = from_hex(v->body_hex, body, sizeof body);
        return iw_pack_frame(out, cap, (uint8_t)v->type, (uint8_t)v->flags, (uint16_t)v->seq, body, blen);
    }
}

static void test_crc_and_cobs(void)
{
    size_t i;
    CHECK(iw_crc16((const uint8_t *)"123456789", 9) == VEC_CRC_CHECK, "crc check value");
    for (i = 0; i < N_VEC_COBS; i++) {
        uint8_t dec[400], enc[400], got[400];
        size_t nd = from_hex(VEC_COBS[i].decoded_hex, dec, sizeof dec);
        size_t ne = from_hex(VEC_COBS[i].encoded_hex, enc, sizeof enc);
        size_t n = iw_cobs_encode(dec, nd, got, sizeof got);
        CHECK(same(got, n, enc, ne), "cobs encode vector %u", (unsigned)i);
        n = iw_cobs_decode(enc, ne, got, sizeof got);
        CHECK(n != IW_COBS_ERROR && same(got, n, dec, nd), "cobs decode vector %u", (unsigned)i);
        CHECK(iw_cobs_encode(dec, nd, got, nd) == 0, "cobs encode must refuse a too-small buffer");
        CHECK(iw_cobs_encode(dec, nd, got, ne) == ne, "cobs encode into a buffer of exactly %u bytes", (unsigned)ne);
        CHECK(iw_cobs_encode(dec, nd, got, ne - 1) == 0, "cobs encode into %u bytes must fail", (unsigned)ne - 1);
    }
    {
        const uint8_t bad1[] = {0x05, 0x11, 0x22};
        const uint8_t bad2[] = {0x03, 0x11, 0x00};
        uint8_t out[8];
        CHECK(iw_cobs_decode(bad1, sizeof bad1, out, sizeof out) == IW_COBS_ERROR, "cobs overrun");
        CHECK(iw_cobs_decode(bad2, sizeof bad2, out, sizeof out) == IW_COBS_ERROR, "cobs zero inside");
    }
}

/* COBS on pseudo-random data of every length 0..600 and several zero densities: the encoder fits exactly,
 * writes nothing past the buffer (ASan, exact heap buffers), refuses one byte less, emits no 0x00, stays
 * within len + ceil(len/254), and decodes back; the decoder refuses a too-small output buffer. */
static void test_cobs_property(void)
{
    static uint8_t src[600], big[700], back[700];
    uint32_t lcg = 12345u;
    size_t len, i;
    unsigned density;
    for (density = 0; density < 4; density++) {
        for (len = 0; len <= sizeof src; len++) {
            size_t ne, nd;
            uint8_t *exact;
            for (i = 0; i < len; i++) {
                lcg = lcg * 1103515245u + 12345u;
                src[i] = (uint8_t)(lcg >> 16);
                if (density == 0 && src[i] == 0) {
                    src[i] = 1; /* no zeros: longest blocks */
                } else if (density == 2 && (lcg >> 8) % 4u == 0) {
                    src[i] = 0;
                } else if (density == 3) {
                    src[i] = (uint8_t)((lcg >> 8) % 3u == 0 ? 0 : src[i]);
                }
            }
            ne = iw_cobs_encode(src, len, big, sizeof big);
            CHECK(ne >= 1 && ne <= len + (len + 253u) / 254u + (len == 0), "cobs len %u -> %u", (unsigned)len,
                  (unsigned)ne);
            CHECK(memchr(big, 0, ne) == NULL, "cobs output of %u bytes contains 0x00", (unsigned)len);
            exact = (uint8_t *)malloc(ne);
            if (exact == NULL) {
                continue;
            }
            CHECK(iw_cobs_encode(src, len, exact, ne) == ne && memcmp(exact, big, ne) == 0, "cobs exact %u",
                  (unsigned)len);
            CHECK(iw_cobs_encode(src, len, exact, ne - 1) == 0, "cobs cap-1 %u", (unsigned)len);
            nd = iw_cobs_decode(exact, ne, back, sizeof back);
            CHECK(nd == len && memcmp(back, src, len) == 0, "cobs round trip %u", (unsigned)len);
            if (len > 0) {
                CHECK(iw_cobs_decode(exact, ne, back, len - 1) == IW_COBS_ERROR, "cobs decode cap-1 %u",
                      (unsigned)len);
            }
            free(exact);
        }
    }
}

static void test_frames(void)
{
    size_t i, j;
    for (i = 0; i < N_VEC_FRAMES; i++) {
        const vec_frame_t *v = &VEC_FRAMES[i];
        uint8_t want[IW_MAX_WIRE + 4], got[IW_MAX_WIRE + 4];
        size_t nw = from_hex(v->wire_hex, want, sizeof want);
        size_t ng = pack_vector(v, got, sizeof got);
        CHECK(same(got, ng, want, nw), "frame %s: packed bytes differ from the golden wire bytes", v->name);
        CHECK(ng <= VEC_MAX_WIRE, "frame %s exceeds max wire", v->name);
        CHECK(pack_vector(v, got, nw - 1) == 0, "frame %s: too-small buffer must return 0", v->name);
        { /* a heap buffer of exactly the frame's size (ASan sees any write past it) must be enough */
            uint8_t *exact = (uint8_t *)malloc(nw);
            size_t ne = exact != NULL ? pack_vector(v, exact, nw) : 0;
            CHECK(same(exact, ne, want, nw), "frame %s: packing into exactly %u bytes", v->name, (unsigned)nw);
            free(exact);
        }
        if (v->type >= 0x80u) { /* command parser */
            iw_rx_t rx;
            iw_cmd_t cmd;
            int got_cmd = 0;
            iw_rx_init(&rx);
            memset(&cmd, 0, sizeof cmd);
            for (j = 0; j < nw; j++) {
                got_cmd += iw_rx_feed(&rx, want[j], &cmd);
            }
            CHECK(got_cmd == 1 && cmd.type == v->type && cmd.seq == v->seq, "command %s parsed", v->name);
            if (v->type == IW_CMD_PING) {
                CHECK(cmd.arg == v->token, "ping token");
            }
            if (v->type == IW_CMD_SET_ODR) {
                CHECK(cmd.arg == v->odr_arg, "set_odr arg");
            }
        } else { /* device frames are not commands: the parser skips them */
            iw_rx_t rx;
            int got_cmd = 0;
            iw_rx_init(&rx);
            for (j = 0; j < nw; j++) {
                got_cmd += iw_rx_feed(&rx, want[j], NULL);
            }
            CHECK(got_cmd == 0 && rx.unknown == 1 && iw_rx_errors(&rx) == 0, "frame %s skipped", v->name);
        }
    }
}

/* invalid arguments: 0, never a crash or a write past `cap` */
static void test_bad_arguments(void)
{
    const int16_t v[3] = {1, 2, 3};
    uint8_t buf[IW_MAX_WIRE];
    uint8_t body[IW_MAX_BODY + 1];
    iw_meta_t m;
    memset(body, 0x55, sizeof body);
    memset(&m, 0, sizeof m);
    CHECK(iw_pack_sample(buf, sizeof buf, 0, 0, 0, NULL, v) == 0, "sample without acc");
    CHECK(iw_pack_sample(buf, sizeof buf, 0, 0, 0, v, NULL) == 0, "sample without gyr");
    CHECK(iw_pack_sample(NULL, 100, 0, 0, 0, v, v) == 0, "sample into NULL");
    CHECK(iw_pack_sample(buf, 0, 0, 0, 0, v, v) == 0, "sample into 0 bytes");
    CHECK(iw_pack_meta(buf, sizeof buf, 0, 0, NULL) == 0, "meta NULL");
    CHECK(iw_pack_meta(buf, IW_META_WIRE, 0, 0, &m) > 0, "meta fits IW_META_WIRE");
    CHECK(iw_pack_status(buf, sizeof buf, 0, 0, NULL) == 0, "status NULL");
    CHECK(iw_pack_log(buf, sizeof buf, 0, 0, NULL, 3) == 0, "log NULL text");
    CHECK(iw_pack_frame(buf, sizeof buf, 0x10, 0, 0, body, IW_MAX_BODY + 1) == 0, "body too long");
    CHECK(iw_pack_frame(buf, sizeof buf, 0x10, 0, 0, body, IW_MAX_BODY) == IW_MAX_WIRE, "max body fits IW_MAX_WIRE");
    CHECK(iw_pack_log(buf, sizeof buf, 0, 0, (const char *)body, sizeof body) == IW_MAX_WIRE, "log truncated to max");
    CHECK(iw_pack_command(buf, sizeof buf, 0x85, 0, 0) == 0, "reserved command type");
    CHECK(iw_cobs_encode(body, 10, NULL, 20) == 0 && iw_cobs_encode(NULL, 10, buf, 20) == 0, "cobs NULL");
}

static void test_invalid_and_resync(void)
{
    size_t i, j;
    uint8_t ping[32];
    size_t np = iw_pack_command(ping, sizeof ping, IW_CMD_PING, 7, 0xA5A5A5A5u);
    for (i = 0; i < N_VEC_INVALID; i++) {
        uint8_t w[400];
        size_t n = from_hex(VEC_INVALID[i].wire_hex, w, sizeof w);
        iw_rx_t rx;
        iw_cmd_t cmd;
        int got = 0;
        const char *c = VEC_INVALID[i].counter;
        iw_rx_init(&rx);
        for (j = 0; j < n; j++) {
            got += iw_rx_feed(&rx, w[j], &cmd);
        }
        /* a device frame with a short body has a valid CRC: the command parser skips it as not-a-command */
        CHECK(got == 0 && (iw_rx_errors(&rx) == 1 || (strcmp(c, "short_frames") == 0 && rx.unknown == 1)),
              "invalid %s rejected and counted", VEC_INVALID[i].name);
        if (strcmp(c, "crc_errors") == 0) {
            CHECK(rx.crc_errors == 1, "%s crc", VEC_INVALID[i].name);
        } else if (strcmp(c, "cobs_errors") == 0) {
            CHECK(rx.cobs_errors == 1, "%s cobs", VEC_INVALID[i].name);
        } else if (strcmp(c, "short_frames") == 0) {
            CHECK(rx.short_frames + rx.unknown == 1, "%s short", VEC_INVALID[i].name);
        } else if (strcmp(c, "oversize_dropped") == 0) {
            CHECK(rx.oversize == 1, "%s oversize", VEC_INVALID[i].name);
        }
        for (j = 0; j < np; j++) { /* resync at the very next frame */
            got += iw_rx_feed(&rx, ping[j], &cmd);
        }
        CHECK(got == 1 && cmd.type == IW_CMD_PING && cmd.arg == 0xA5A5A5A5u, "resync after %s",
              VEC_INVALID[i].name);
    }
    {   /* a PING with a 2-byte body is short */
        const uint8_t body[2] = {1, 2};
        uint8_t w[32];
        iw_rx_t rx;
        iw_cmd_t cmd;
        int got = 0;
        size_t n = iw_pack_frame(w, sizeof w, IW_CMD_PING, 0, 1, body, sizeof body);
        iw_rx_init(&rx);
        for (j = 0; j < n; j++) {
            got += iw_rx_feed(&rx, w[j], &cmd);
        }
        CHECK(got == 0 && rx.short_frames == 1, "short ping rejected");
    }
    {   /* garbage without delimiter is capped, then a command still parses */
        iw_rx_t rx;
        iw_cmd_t cmd;
        int got = 0;
        iw_rx_init(&rx);
        for (j = 0; j < 5000; j++) {
            got += iw_rx_feed(&rx, (uint8_t)(1 + j % 250), &cmd);
        }
        got += iw_rx_feed(&rx, 0, &cmd);
        for (j = 0; j < np; j++) {
            got += iw_rx_feed(&rx, ping[j], &cmd);
        }
        CHECK(got == 1 && rx.oversize == 1 && rx.len == 0, "oversize garbage capped");
    }
}

/* the stream mirrored in tests/test_firmware_c.py::expected_stream() */
#define STREAM_N 2000u
static int write_stream(const char *path)
{
    FILE *f = fopen(path, "wb");
    uint8_t buf[IW_MAX_WIRE];
    uint16_t seq = 0;
    uint32_t k;
    size_t n;
    iw_meta_t m;
    if (f == NULL) {
        perror(path);
        return 1;
    }
    m.proto_ver = IW_PROTO_VERSION;
    m.imu_model = IW_IMU_SYNTHETIC;
    m.odr_mhz = 200000u;
    m.acc_scale = 1.0f / 4096.0f;
    m.gyr_scale = 1.0f / 65.5f;
    m.acc_range_g = 8;
    m.gyr_range_dps = 500;
    m.uid = 0x1122334455667788ull;
    m.fw_ver = 0x0102;
    n = iw_pack_meta(buf, sizeof buf, IW_FLAG_BOOT, seq++, &m);
    fwrite(buf, 1, n, f);
    n = iw_pack_log(buf, sizeof buf, IW_FLAG_BOOT, seq++, "c stream", 8);
    fwrite(buf, 1, n, f);
    for (k = 0; k < STREAM_N; k++) {
        uint32_t t = 4294000000u + k * 5000u; /* wraps after 194 samples */
        int16_t acc[3], gyr[3];
        uint8_t flags = (uint8_t)((k < 200u ? IW_FLAG_BOOT : 0u) | (k % 500u == 499u ? IW_FLAG_OVERRUN : 0u));
        acc[0] = (int16_t)((int32_t)k * 7 - 3000);
        acc[1] = (int16_t)(-(int32_t)k * 3);
        acc[2] = 2048;
        gyr[0] = (int16_t)(k * 11u);
        gyr[1] = (int16_t)(-(int32_t)k * 5);
        gyr[2] = (int16_t)((k * k) % 30000u);
        n = iw_pack_sample(buf, sizeof buf, flags, seq++, t, acc, gyr);
        fwrite(buf, 1, n, f);
        if (k % 400u == 399u) {
            iw_status_t s;
            s.t_us = t;
            s.samples_total = k + 1u;
            s.tx_dropped = k / 400u;
            s.fifo_overruns = (k + 1u) / 500u;
            s.crc_rx_errors = 0;
            n = iw_pack_status(buf, sizeof buf, 0, seq++, &s);
            fwrite(buf, 1, n, f);
        }
    }
    n = iw_pack_pong(buf, sizeof buf, 0, seq++, 0xCAFEBABEu, 12345u);
    fwrite(buf, 1, n, f);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    test_crc_and_cobs();
    test_cobs_property();
    test_frames();
    test_bad_arguments();
    test_invalid_and_resync();
    if (argc > 1 && write_stream(argv[1]) != 0) {
        failures++;
    }
    printf("test_proto: %d checks, %d failures, %u frame vectors, %u cobs vectors, %u invalid vectors\n", checks,
           failures, (unsigned)N_VEC_FRAMES, (unsigned)N_VEC_COBS, (unsigned)N_VEC_INVALID);
    return failures == 0 ? 0 : 1;
}
