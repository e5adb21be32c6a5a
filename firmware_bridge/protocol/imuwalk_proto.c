/* imuwalk wire protocol v1 -- see imuwalk_proto.h and PROTOCOL.md. Portable C99, no malloc. */
#include "imuwalk_proto.h"

#include <string.h>

uint16_t iw_crc16_update(uint16_t crc, uint8_t byte)
{
    uint8_t i;
    crc ^= (uint16_t)((uint16_t)byte << 8);
    for (i = 0; i < 8; i++) {
        if (crc & 0x8000u) {
            crc = (uint16_t)((uint16_t)(crc << 1) ^ 0x1021u);
        } else {
            crc = (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t iw_crc16(const uint8_t *data, size_t len)
{
    uint16_t crc = 0xFFFFu;
    size_t i;
    for (i = 0; i < len; i++) {
        crc = iw_crc16_update(crc, data[i]);
    }
    return crc;
}

size_t iw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
    /* every write is bounds-checked, so a buffer of exactly the encoded size is enough (a 254-byte packet
     * encodes to 255 bytes: IW_MAX_WIRE = 256 holds it with its delimiter) */
    size_t o = 1, code_idx = 0, i;
    uint8_t code = 1;
    if (dst == NULL || dst_cap < 1u || (len > 0 && src == NULL)) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (src[i] == 0) {
            dst[code_idx] = code;
            if (o >= dst_cap) {
                return 0;
            }
            code_idx = o++;
            code = 1;
        } else {
            if (o >= dst_cap) {
                return 0;
            }
            dst[o++] = src[i];
            code++;
            if (code == 0xFFu) {
                dst[code_idx] = code;
                if (i + 1 == len) {
                    return o; /* canonical: no empty block after a full one at the end */
                }
                if (o >= dst_cap) {
                    return 0;
                }
                code_idx = o++;
                code = 1;
            }
        }
    }
    dst[code_idx] = code;
    return o;
}

size_t iw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = src[i];
        size_t end, j;
        if (code == 0 || (size_t)code > len - i) {
            return IW_COBS_ERROR;
        }
        end = i + code;
        for (j = i + 1; j < end; j++) {
            if (src[j] == 0 || o >= dst_cap) {
                return IW_COBS_ERROR;
            }
            dst[o++] = src[j];
        }
        i = end;
        if (code < 0xFFu && i < len) {
            if (o >= dst_cap) {
                return IW_COBS_ERROR;
            }
            dst[o++] = 0;
        }
    }
    return o;
}

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    uint8_t i;
    for (i = 0; i < 8; i++) {
        p[i] = (uint8_t)((v >> (8u * i)) & 0xFFu);
    }
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u); /* IEEE-754 binary32 assumed (true on AVR, ARM, Xtensa, x86) */
    put_u32(p, u);
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | ((uint16_t)p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

size_t iw_pack_frame(uint8_t *out, size_t cap, uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *body,
                     size_t body_len)
{
    uint8_t pkt[IW_MAX_PACKET];
    size_t n, enc;
    uint16_t crc;
    if (out == NULL || body_len > IW_MAX_BODY || (body_len > 0 && body == NULL)) {
        return 0;
    }
    pkt[0] = type;
    pkt[1] = flags;
    put_u16(pkt + 2, seq);
    if (body_len > 0) {
        memcpy(pkt + IW_HEADER_SIZE, body, body_len);
    }
    n = IW_HEADER_SIZE + body_len;
    crc = iw_crc16(pkt, n);
    put_u16(pkt + n, crc);
    n += IW_CRC_SIZE;
    if (cap < 1) {
        return 0;
    }
    enc = iw_cobs_encode(pkt, n, out, cap - 1u);
    if (enc == 0) {
        return 0;
    }
    out[enc] = 0;
    return enc + 1u;
}

size_t iw_pack_sample(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, uint32_t t_us, const int16_t acc[3],
                      const int16_t gyr[3])
{
    uint8_t body[IW_SAMPLE_BODY];
    uint8_t i;
    if (acc == NULL || gyr == NULL) {
        return 0;
    }
    put_u32(body, t_us);
    for (i = 0; i < 3; i++) {
        put_u16(body + 4 + 2 * i, (uint16_t)acc[i]);
        put_u16(body + 10 + 2 * i, (uint16_t)gyr[i]);
    }
    return iw_pack_frame(out, cap, IW_T_IMU_SAMPLE, flags, seq, body, sizeof body);
}

size_t iw_pack_meta(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const iw_meta_t *m)
{
    uint8_t body[IW_META_BODY];
    if (m == NULL) {
        return 0;
    }
    body[0] = m->proto_ver;
    body[1] = m->imu_model;
    put_u32(body + 2, m->odr_mhz);
    put_f32(body + 6, m->acc_scale);
    put_f32(body + 10, m->gyr_scale);
    body[14] = m->acc_range_g;
    put_u16(body + 15, m->gyr_range_dps);
    put_u64(body + 17, m->uid);
    put_u16(body + 25, m->fw_ver);
    return iw_pack_frame(out, cap, IW_T_META, flags, seq, body, sizeof body);
}

size_t iw_pack_status(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const iw_status_t *st)
{
    uint8_t body[IW_STATUS_BODY];
    if (st == NULL) {
        return 0;
    }
    put_u32(body, st->t_us);
    put_u32(body + 4, st->samples_total);
    put_u32(body + 8, st->tx_dropped);
    put_u32(body + 12, st->fifo_overruns);
    put_u16(body + 16, st->crc_rx_errors);
    return iw_pack_frame(out, cap, IW_T_STATUS, flags, seq, body, sizeof body);
}

size_t iw_pack_pong(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, uint32_t token, uint32_t t_us_rx)
{
    uint8_t body[IW_PONG_BODY];
    put_u32(body, token);
    put_u32(body + 4, t_us_rx);
    return iw_pack_frame(out, cap, IW_T_PONG, flags, seq, body, sizeof body);
}

size_t iw_pack_log(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const char *text, size_t len)
{
    if (len > IW_MAX_BODY) {
        len = IW_MAX_BODY;
    }
    return iw_pack_frame(out, cap, IW_T_LOG, flags, seq, (const uint8_t *)text, len);
}

size_t iw_pack_command(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, uint32_t arg)
{
    uint8_t body[4];
    if (type == IW_CMD_START || type == IW_CMD_STOP) {
        return iw_pack_frame(out, cap, type, 0, seq, NULL, 0);
    }
    if (type == IW_CMD_SET_ODR || type == IW_CMD_PING) {
        put_u32(body, arg);
        return iw_pack_frame(out, cap, type, 0, seq, body, sizeof body);
    }
    return 0;
}

void iw_rx_init(iw_rx_t *rx)
{
    memset(rx, 0, sizeof *rx);
}

uint16_t iw_rx_errors(const iw_rx_t *rx)
{
    uint32_t s = (uint32_t)rx->crc_errors + rx->cobs_errors + rx->short_frames + rx->oversize;
    return (uint16_t)(s > 0xFFFFu ? 0xFFFFu : s);
}

static void bump(uint16_t *c)
{
    if (*c != 0xFFFFu) {
        (*c)++;
    }
}

int iw_rx_feed(iw_rx_t *rx, uint8_t byte, iw_cmd_t *cmd)
{
    uint8_t pkt[IW_MAX_PACKET];
    size_t n;
    uint8_t type;
    if (byte != 0) {
        if (rx->discarding) {
            return 0;
        }
        if (rx->len >= IW_MAX_ENCODED) {
            bump(&rx->oversize);
            rx->discarding = 1;
            rx->len = 0;
            return 0;
        }
        rx->buf[rx->len++] = byte;
        return 0;
    }
    /* delimiter: a frame ends */
    if (rx->discarding) {
        rx->discarding = 0;
        return 0;
    }
    if (rx->len == 0) {
        return 0;
    }
    n = iw_cobs_decode(rx->buf, rx->len, pkt, sizeof pkt);
    rx->len = 0;
    if (n == IW_COBS_ERROR) {
        bump(&rx->cobs_errors);
        return 0;
    }
    if (n < IW_HEADER_SIZE + IW_CRC_SIZE) {
        bump(&rx->short_frames);
        return 0;
    }
    if (iw_crc16(pkt, n - IW_CRC_SIZE) != get_u16(pkt + n - IW_CRC_SIZE)) {
        bump(&rx->crc_errors);
        return 0;
    }
    type = pkt[0];
    if (type != IW_CMD_START && type != IW_CMD_STOP && type != IW_CMD_SET_ODR && type != IW_CMD_PING) {
        bump(&rx->unknown);
        return 0;
    }
    if ((type == IW_CMD_SET_ODR || type == IW_CMD_PING) && n - IW_HEADER_SIZE - IW_CRC_SIZE < 4u) {
        bump(&rx->short_frames);
        return 0;
    }
    if (cmd != NULL) {
        cmd->type = type;
        cmd->flags = pkt[1];
        cmd->seq = get_u16(pkt + 2);
        cmd->arg = (type == IW_CMD_SET_ODR || type == IW_CMD_PING) ? get_u32(pkt + IW_HEADER_SIZE) : 0u;
    }
    bump(&rx->ok);
    return 1;
}
