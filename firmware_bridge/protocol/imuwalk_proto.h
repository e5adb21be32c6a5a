/*
 * imuwalk wire protocol v1 -- portable C99 encoder/decoder (no malloc, no Arduino headers).
 * Normative spec: firmware_bridge/PROTOCOL.md.  Golden vectors: firmware_bridge/vectors/golden_frames.json.
 *
 * wire   := COBS(packet) 0x00
 * packet := type:u8 flags:u8 seq:u16 body[...] crc:u16      (little-endian)
 * crc    := CRC-16/CCITT-FALSE over type..body (poly 0x1021, init 0xFFFF, no reflection, xorout 0;
 *           check("123456789") = 0x29B1)
 *
 * All iw_pack_* functions write the complete wire frame (COBS + trailing 0x00) into `out` and return its
 * length, or 0 when `cap` is too small or an argument is invalid.  Use IW_SAMPLE_WIRE / IW_MAX_WIRE sizes.
 */
#ifndef IMUWALK_PROTO_H
#define IMUWALK_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IW_PROTO_VERSION 1u

/* frame types */
#define IW_T_IMU_SAMPLE 0x01u
#define IW_T_META 0x02u
#define IW_T_STATUS 0x03u
#define IW_T_PONG 0x04u
#define IW_T_LOG 0x7Fu
#define IW_CMD_START 0x81u
#define IW_CMD_STOP 0x82u
#define IW_CMD_SET_ODR 0x83u
#define IW_CMD_PING 0x84u

/* flags */
#define IW_FLAG_OVERRUN 0x01u
#define IW_FLAG_TX_DROPPED 0x02u
#define IW_FLAG_BOOT 0x04u

/* IMU models (META imu_model) */
#define IW_IMU_UNKNOWN 0u
#define IW_IMU_SYNTHETIC 1u
#define IW_IMU_MPU6050 2u
#define IW_IMU_LSM6DSO 3u
#define IW_IMU_BMI270 4u
#define IW_IMU_ICM42688 5u

/* sizes */
#define IW_HEADER_SIZE 4u
#define IW_CRC_SIZE 2u
#define IW_MAX_PACKET 254u                      /* type..crc */
#define IW_MAX_ENCODED (IW_MAX_PACKET + 1u)     /* COBS of the largest packet */
#define IW_MAX_WIRE (IW_MAX_ENCODED + 1u)       /* + delimiter = 256 */
#define IW_MAX_BODY (IW_MAX_PACKET - IW_HEADER_SIZE - IW_CRC_SIZE) /* 248 */
#define IW_SAMPLE_BODY 16u
#define IW_META_BODY 27u
#define IW_STATUS_BODY 18u
#define IW_PONG_BODY 8u
#define IW_SAMPLE_WIRE 24u                      /* IMU_SAMPLE on the wire: 22 B packet + COBS byte + 0x00 */
#define IW_META_WIRE (IW_HEADER_SIZE + IW_META_BODY + IW_CRC_SIZE + 2u)     /* 35 */
#define IW_STATUS_WIRE (IW_HEADER_SIZE + IW_STATUS_BODY + IW_CRC_SIZE + 2u) /* 26 */
#define IW_PONG_WIRE (IW_HEADER_SIZE + IW_PONG_BODY + IW_CRC_SIZE + 2u)     /* 16 */

#define IW_COBS_ERROR ((size_t)-1)

/* CRC-16/CCITT-FALSE */
uint16_t iw_crc16_update(uint16_t crc, uint8_t byte);
uint16_t iw_crc16(const uint8_t *data, size_t len);

/* COBS block without delimiter.
 * encode: returns the encoded length (at most len + ceil(len/254); 1 for len 0), or 0 if dst_cap is smaller
 *         than the encoded length (a buffer of exactly the encoded length is enough: 254-byte packet -> 255 bytes).
 * decode: returns the decoded length, or IW_COBS_ERROR on a 0x00 inside src, a code running past the end, or
 *         dst overflow. */
size_t iw_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);
size_t iw_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);

/* Generic frame: header + body + CRC, COBS, 0x00.  body_len <= IW_MAX_BODY. */
size_t iw_pack_frame(uint8_t *out, size_t cap, uint8_t type, uint8_t flags, uint16_t seq, const uint8_t *body,
                     size_t body_len);

size_t iw_pack_sample(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, uint32_t t_us, const int16_t acc[3],
                      const int16_t gyr[3]);

typedef struct {
    uint8_t proto_ver;      /* IW_PROTO_VERSION */
    uint8_t imu_model;      /* IW_IMU_* */
    uint32_t odr_mhz;       /* nominal output data rate in mHz (200 Hz -> 200000) */
    float acc_scale;        /* g per LSB */
    float gyr_scale;        /* deg/s per LSB */
    uint8_t acc_range_g;    /* full scale, g */
    uint16_t gyr_range_dps; /* full scale, deg/s */
    uint64_t uid;           /* device unique id (host shows it as 16 hex digits) */
    uint16_t fw_ver;        /* major << 8 | minor */
} iw_meta_t;

size_t iw_pack_meta(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const iw_meta_t *meta);

typedef struct {
    uint32_t t_us;          /* device time when the frame was built */
    uint32_t samples_total; /* IMU samples produced since reset (sent or dropped) */
    uint32_t tx_dropped;    /* frames dropped because the TX buffer was full, since reset */
    uint32_t fifo_overruns; /* missed data-ready / FIFO overflows, since reset */
    uint16_t crc_rx_errors; /* host->device frames rejected (COBS/CRC/short), since reset */
} iw_status_t;

size_t iw_pack_status(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const iw_status_t *st);
size_t iw_pack_pong(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, uint32_t token, uint32_t t_us_rx);
/* text is UTF-8, truncated to IW_MAX_BODY bytes (the caller keeps it valid UTF-8) */
size_t iw_pack_log(uint8_t *out, size_t cap, uint8_t flags, uint16_t seq, const char *text, size_t len);
/* host->device command (START/STOP: arg ignored; SET_ODR: arg = odr_mhz; PING: arg = token) */
size_t iw_pack_command(uint8_t *out, size_t cap, uint8_t type, uint16_t seq, uint32_t arg);

/* ---- streaming host->device command parser (device side) ---- */
typedef struct {
    uint8_t type;  /* IW_CMD_* */
    uint8_t flags;
    uint16_t seq;
    uint32_t arg;  /* SET_ODR: odr_mhz, PING: token, else 0 */
} iw_cmd_t;

typedef struct {
    uint8_t buf[IW_MAX_ENCODED];
    uint16_t len;
    uint8_t discarding; /* an oversize frame is being skipped up to the next 0x00 */
    uint16_t crc_errors;
    uint16_t cobs_errors;
    uint16_t short_frames;
    uint16_t oversize;
    uint16_t unknown;   /* valid frames that are not commands (skipped) */
    uint16_t ok;
} iw_rx_t;

void iw_rx_init(iw_rx_t *rx);
/* Feed one received byte.  Returns 1 and fills *cmd when a valid command frame completed, else 0. */
int iw_rx_feed(iw_rx_t *rx, uint8_t byte, iw_cmd_t *cmd);
/* Sum of the rejection counters (what STATUS reports as crc_rx_errors). */
uint16_t iw_rx_errors(const iw_rx_t *rx);

#ifdef __cplusplus
}
#endif

#endif /* IMUWALK_PROTO_H */
