/*
 * imuwalk_stream -- streams a leg-worn IMU to the imuwalk host library (protocol: firmware_bridge/PROTOCOL.md).
 *
 * - IMU_SAMPLE per data-ready (device micros() at the data-ready moment), META at boot and every 1 s,
 *   STATUS every 1 s, BOOT flag on every frame of the first second after reset.
 * - Never blocks on TX: a frame that does not fit in the TX buffer (Serial.availableForWrite()) is dropped,
 *   counted (STATUS tx_dropped) and the next frame sent carries TX_DROPPED.
 * - Host->device commands START/STOP/SET_ODR/PING are parsed with iw_rx_feed (streaming on by default).
 * The protocol code (imuwalk_proto.{h,c}) is staged into the sketch folder at build time from
 * firmware_bridge/protocol (see firmware_bridge/README.md); it is never copied by hand.
 *
 * Compile-time options (-D...):
 *   IMUWALK_SYNTHETIC_IMU   synthetic gait signal, no sensor        IMUWALK_IMU_LSM6DSO   LSM6DSO instead of MPU-6050
 *   IMUWALK_ODR_HZ (200)    sample rate                              IMUWALK_BAUD (115200) serial baud
 *   IMUWALK_INT_PIN (2)     data-ready pin, -1 = poll over I2C      IMUWALK_UID           64-bit device id
 *   IMUWALK_HEX_UART        test transport: each wire byte as hex text, lines "~<hex>" (simavr prints lines)
 *   IMUWALK_RUN_SECONDS     stop after N s (flush, sleep with interrupts off: simavr exits) -- tests only
 */
#include <Arduino.h>

#include "imuwalk_proto.h"
#include "imu_shim.h"

#if defined(IMUWALK_RUN_SECONDS) && defined(__AVR__)
#include <avr/interrupt.h>
#include <avr/sleep.h>
#endif

#ifndef IMUWALK_ODR_HZ
#define IMUWALK_ODR_HZ 200
#endif
#ifndef IMUWALK_BAUD
#define IMUWALK_BAUD 115200
#endif
#ifndef IMUWALK_UID
#define IMUWALK_UID 0x1A2B3C4D5E6F0001ULL
#endif
#define IMUWALK_FW_VER 0x0100u /* 1.0 */
#define META_PERIOD_US 1000000UL
#define BOOT_WINDOW_US 1000000UL

static iw_meta_t g_meta;
static iw_status_t g_st;
static iw_rx_t g_rx;
static uint16_t g_seq = 0;
static uint8_t g_pending = 0; /* TX_DROPPED / OVERRUN to report on the next frame that goes out */
static uint32_t g_boot_us, g_last_meta_us, g_last_status_us;
static bool g_streaming = true;
static bool g_booting = true; /* BOOT flag: latched off once 1 s has passed (micros() - g_boot_us wraps after
                                * 71.6 min, which must not bring BOOT -- a "device reset" to the host -- back) */
static bool g_imu_ok = false;
static uint8_t g_due = 0; /* periodic frames waiting for TX room: bit0 META, bit1 STATUS */
#define DUE_META 1u
#define DUE_STATUS 2u

static uint64_t board_uid(void)
{
#if defined(ESP32)
    return ESP.getEfuseMac();
#else
    return IMUWALK_UID;
#endif
}

static void update_boot(void)
{
    if (g_booting && (uint32_t)(micros() - g_boot_us) >= BOOT_WINDOW_US) {
        g_booting = false;
    }
}

/* flags of a frame built now: pending OVERRUN / TX_DROPPED, BOOT during the first second after reset */
static uint8_t frame_flags(void)
{
    return (uint8_t)(g_pending | (g_booting ? IW_FLAG_BOOT : 0u));
}

/* TX bytes a wire frame of n bytes needs */
static size_t tx_need(size_t n)
{
#if defined(IMUWALK_HEX_UART)
    return 2u * n + 2u * ((n + 31u) / 32u); /* "~" + hex + "\n" per 32-byte line */
#else
    return n;
#endif
}

static bool tx_room(size_t n)
{
    return (size_t)Serial.availableForWrite() >= tx_need(n);
}

static void count_drop(void)
{
    g_st.tx_dropped++;
    g_pending |= IW_FLAG_TX_DROPPED;
}

/* Non-blocking send of one wire frame; false (and counted) when the TX buffer lacks room. */
static bool send_wire(const uint8_t *buf, size_t n)
{
#if defined(IMUWALK_HEX_UART)
    static const char hx[] = "0123456789abcdef";
    size_t i;
    if (n == 0) {
        return false;
    }
    if (!tx_room(n)) {
        count_drop();
        return false;
    }
    for (i = 0; i < n; i++) {
        if (i % 32u == 0) {
            Serial.write('~');
        }
        Serial.write(hx[buf[i] >> 4]);
        Serial.write(hx[buf[i] & 15]);
        if (i % 32u == 31u || i + 1 == n) {
            Serial.write('\n');
        }
    }
#else
    if (n == 0) {
        return false;
    }
    if (!tx_room(n)) {
        count_drop();
        return false;
    }
    Serial.write(buf, n);
#endif
    g_pending = 0; /* the flags went out with this frame */
    return true;
}

/* seq counts every frame sent; a dropped frame keeps its seq consumed so the host sees the gap too */
static void send_meta(void)
{
    uint8_t buf[IW_META_WIRE];
    send_wire(buf, iw_pack_meta(buf, sizeof buf, frame_flags(), g_seq++, &g_meta));
}

static void send_status(uint32_t now)
{
    uint8_t buf[IW_STATUS_WIRE];
    g_st.t_us = now;
    g_st.crc_rx_errors = iw_rx_errors(&g_rx);
    send_wire(buf, iw_pack_status(buf, sizeof buf, frame_flags(), g_seq++, &g_st));
}

static void send_log(const char *text)
{
    uint8_t buf[IW_MAX_WIRE];
    send_wire(buf, iw_pack_log(buf, sizeof buf, frame_flags(), g_seq++, text, strlen(text)));
}

static void handle_command(const iw_cmd_t *c, uint32_t now)
{
    switch (c->type) {
    case IW_CMD_START:
        g_streaming = true;
        break;
    case IW_CMD_STOP:
        g_streaming = false;
        break;
    case IW_CMD_SET_ODR:
        /* also retries an IMU that did not answer at boot (loose wire, sensor powered late): sampling starts
         * once it does; one that stops answering stops sampling */
        if (c->arg > 0u) {
            g_imu_ok = imu_begin(c->arg, &g_meta);
            if (g_imu_ok) {
                send_meta();
            }
        }
        break;
    case IW_CMD_PING: {
        uint8_t buf[IW_PONG_WIRE];
        send_wire(buf, iw_pack_pong(buf, sizeof buf, frame_flags(), g_seq++, c->arg, now));
        break;
    }
    default:
        break;
    }
}

void setup()
{
    Serial.begin(IMUWALK_BAUD);
#if defined(ESP32) && ARDUINO_USB_CDC_ON_BOOT
    Serial.setTxTimeoutMs(0); /* native USB CDC: never stall when no host reads */
#endif
    iw_rx_init(&g_rx);
    memset(&g_st, 0, sizeof g_st);
    g_meta.proto_ver = IW_PROTO_VERSION;
    g_meta.uid = board_uid();
    g_meta.fw_ver = IMUWALK_FW_VER;
    g_imu_ok = imu_begin((uint32_t)IMUWALK_ODR_HZ * 1000u, &g_meta);
    g_boot_us = micros();
    g_last_meta_us = g_boot_us;
    g_last_status_us = g_boot_us;
    send_meta();
    send_log(g_imu_ok ? "imuwalk_stream boot" : "imuwalk_stream: IMU not found");
}

void loop()
{
    imu_sample_t s;
    uint8_t missed = 0;
    iw_cmd_t cmd;
    uint32_t now;

    update_boot();
    while (Serial.available() > 0) {
        if (iw_rx_feed(&g_rx, (uint8_t)Serial.read(), &cmd)) {
            handle_command(&cmd, micros());
        }
    }
    if (g_imu_ok && imu_read(&s, &missed)) {
        g_st.samples_total++;
        if (missed) {
            g_st.fifo_overruns += missed;
            g_pending |= IW_FLAG_OVERRUN;
        }
        if (g_streaming) {
            if (g_due != 0) { /* a saturated link keeps room for META/STATUS: this sample is dropped */
                g_seq++;
                count_drop();
            } else {
                uint8_t buf[IW_SAMPLE_WIRE];
                send_wire(buf,
                          iw_pack_sample(buf, sizeof buf, frame_flags(), g_seq++, s.t_us, s.acc, s.gyr));
            }
        }
    }
    now = micros();
    if (now - g_last_meta_us >= META_PERIOD_US) {
        g_last_meta_us += META_PERIOD_US;
        g_due |= DUE_META;
    }
    if (now - g_last_status_us >= META_PERIOD_US) {
        g_last_status_us += META_PERIOD_US;
        g_due |= DUE_STATUS;
    }
    if ((g_due & DUE_META) && tx_room(IW_META_WIRE)) {
        send_meta();
        g_due &= (uint8_t)~DUE_META;
    }
    if ((g_due & DUE_STATUS) && tx_room(IW_STATUS_WIRE)) {
        send_status(now);
        g_due &= (uint8_t)~DUE_STATUS;
    }
#if defined(IMUWALK_RUN_SECONDS)
    if (now - g_boot_us >= (uint32_t)IMUWALK_RUN_SECONDS * 1000000UL) {
        Serial.flush();
#if defined(__AVR__)
        cli();
        sleep_enable();
        sleep_cpu(); /* simavr: "sleeping with interrupts off, quitting gracefully" */
#else
        for (;;) {
        }
#endif
    }
#endif
}
