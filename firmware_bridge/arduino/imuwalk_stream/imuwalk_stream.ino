/*
 * imuwalk_stream -- streams a leg-worn IMU to the imuwalk host library (protocol: firmware_bridge/PROTOCOL.md).
 *
 * - IMU_SAMPLE per data-ready (device micros() at the data-ready moment), META at boot and every 1 s,
 *   STATUS every 1 s, BOOT flag on every frame of the first second after reset.
 * - Never blocks on TX: a frame that does not fit in the TX buffer (Serial.availableForWrite()) is dropped,
 *   counted (STATUS tx_dropped) and the next frame sent carries TX_DROPPED.
 * - Host->device commands START/STOP/SET_ODR/PING are parsed with iw_rx_feed (streaming on by default).
 *   Answers in LOG frames (text): a SET_ODR the sensor could not take ("SET_ODR 700 Hz failed: IMU not found;
 *   kept 200 Hz"), and frames of an unknown command type ("unknown command type 0x90 ignored (x3)", at most one
 *   such LOG per second).
 * - uid: IMUWALK_UID if given, else the chip's id (ESP32 eFuse MAC, RP2040 flash unique id, nRF52 FICR
 *   DEVICEID), else a default shared by every such build, announced by a LOG at boot.
 * The protocol code (imuwalk_proto.{h,c}) is staged into the sketch folder at build time from
 * firmware_bridge/protocol (see firmware_bridge/README.md); it is never copied by hand.
 *
 * Compile-time options (-D...):
 *   IMUWALK_SYNTHETIC_IMU   synthetic gait signal, no sensor        IMUWALK_IMU_LSM6DSO   LSM6DSO instead of MPU-6050
 *   IMUWALK_ODR_HZ (200)    sample rate                              IMUWALK_BAUD (115200) serial baud
 *   IMUWALK_INT_PIN (2)     data-ready pin, -1 = poll over I2C      IMUWALK_UID           64-bit device id (overrides the chip's)
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

/* chip unique ids (board_uid()); compiled only for these cores -- on the host they are syntax-checked against the
 * stub headers in arduino/host_sim/uid_stubs (tests/test_firmware_c.py) */
#if defined(ARDUINO_ARCH_MBED_RP2040) || (defined(ARDUINO_ARCH_MBED) && defined(TARGET_RP2040))
#define IW_UID_MBED_RP2040 1 /* Arduino Mbed OS RP2040 core: its pico-sdk subset has hardware_flash, no pico_unique_id */
#include <hardware/flash.h>
#elif defined(ARDUINO_ARCH_RP2040)
#define IW_UID_PICO 1 /* Earle Philhower's arduino-pico core (RP2040 and RP2350) */
#include <pico/unique_id.h>
#elif defined(ARDUINO_ARCH_NRF52) || defined(NRF52_SERIES) || defined(NRF52) || defined(NRF52840_XXAA) || \
    defined(NRF52833_XXAA) || defined(NRF52832_XXAA)
#define IW_UID_NRF52 1 /* Adafruit nRF52 core, Arduino Mbed OS Nano 33 BLE core, ... */
#include <nrf.h>
#endif

#ifndef IMUWALK_ODR_HZ
#define IMUWALK_ODR_HZ 200
#endif
#ifndef IMUWALK_BAUD
#define IMUWALK_BAUD 115200
#endif
#ifdef IMUWALK_UID
#define IW_UID_FROM_BUILD 1
#else
#define IW_UID_FROM_BUILD 0
#define IMUWALK_UID 0x1A2B3C4D5E6F0001ULL /* the same on every board built without -DIMUWALK_UID (LOG at boot) */
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
static uint8_t g_due = 0; /* frames waiting for TX room: META, STATUS (samples are dropped meanwhile), LOGs */
#define DUE_META 1u
#define DUE_STATUS 2u
#define DUE_LOG_UID 4u     /* boot: the uid is the shared default */
#define DUE_LOG_ODR 8u     /* a SET_ODR the sensor did not take */
#define DUE_LOG_UNKNOWN 16u /* frames of an unknown command type (at most one LOG per UNKNOWN_LOG_US) */
#define DUE_LOGS (DUE_LOG_UID | DUE_LOG_ODR | DUE_LOG_UNKNOWN)
#define UNKNOWN_LOG_US 1000000UL
#define LOG_WAIT_US 1000000UL /* a LOG waiting this long takes priority over samples, like META/STATUS */
static uint32_t g_log_since;      /* when the oldest due LOG became due */
static uint32_t g_last_sample_us; /* when imu_read() last gave a sample */

static uint32_t g_odr_req_mhz;  /* DUE_LOG_ODR: the request, */
static uint32_t g_odr_kept_mhz; /* the rate restored (0: none), */
static uint8_t g_odr_was_on;    /* whether sampling ran before, */
static uint8_t g_odr_other;     /* imu_probe_other() */
static uint16_t g_unk_n;        /* unknown command frames since the last LOG about them */
static uint8_t g_unk_type;      /* type of the last one */
static uint8_t g_unk_logged;    /* a LOG about them went out at g_unk_log_us */
static uint32_t g_unk_log_us;
static uint8_t g_rx_pos;        /* bytes of the frame being received, and its first two (COBS) bytes */
static uint8_t g_rx_head[2];

/* ---- LOG text ------------------------------------------------------------------------------------------------
 * Fixed texts stay in flash on AVR (PSTR: a string literal would take RAM there). A LOG frame is at most 63 B on
 * the wire (55 B of text), so that it fits the 64-byte TX buffer of a stock Uno core; 53 B with the hex test
 * transport (which doubles the bytes) in the 128-byte one. Longer texts are cut. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define IW_TXT(s) PSTR(s)
#define IW_TXT_CHAR(p) ((char)pgm_read_byte(p))
#else
#define IW_TXT(s) (s)
#define IW_TXT_CHAR(p) (*(p))
#endif
#if defined(IMUWALK_HEX_UART)
#define LOG_TEXT_MAX 53u
#else
#define LOG_TEXT_MAX 55u
#endif

typedef struct {
    char s[LOG_TEXT_MAX];
    uint8_t n;
} logtext_t;

static void lt_char(logtext_t *t, char c)
{
    if (t->n < LOG_TEXT_MAX) {
        t->s[t->n++] = c;
    }
}

static void lt_txt(logtext_t *t, const char *p) /* p from IW_TXT() */
{
    char c;
    while ((c = IW_TXT_CHAR(p)) != 0) {
        lt_char(t, c);
        p++;
    }
}

static void lt_u32(logtext_t *t, uint32_t v)
{
    char d[10];
    uint8_t k = 0;
    do {
        d[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (k > 0) {
        lt_char(t, d[--k]);
    }
}

static void lt_hz(logtext_t *t, uint32_t mhz) /* "12.5 Hz", "200 Hz" */
{
    uint32_t f = mhz % 1000u;
    lt_u32(t, mhz / 1000u);
    if (f != 0) {
        lt_char(t, '.');
        lt_char(t, (char)('0' + f / 100u));
        f %= 100u;
        if (f != 0) {
            lt_char(t, (char)('0' + f / 10u));
            if (f % 10u != 0) {
                lt_char(t, (char)('0' + f % 10u));
            }
        }
    }
    lt_txt(t, IW_TXT(" Hz"));
}

/* why the sensor did not start: what imu_probe_other() found instead */
static void lt_imu_fail(logtext_t *t, uint8_t other)
{
    if (other == IW_IMU_BMI270) {
        lt_txt(t, IW_TXT("BMI270 not supported yet"));
    } else if (other == IW_IMU_ICM42688) {
        lt_txt(t, IW_TXT("ICM-42688 not supported yet"));
    } else {
        lt_txt(t, IW_TXT("IMU not found"));
    }
}

/* ---- device id ---------------------------------------------------------------------------------------------- */
/* the chip's unique id, 0 when this board has none (AVR, ...) */
static uint64_t chip_uid(void)
{
#if defined(ESP32)
    return ESP.getEfuseMac();
#elif defined(IW_UID_MBED_RP2040) || defined(IW_UID_PICO)
    /* the RP2040 has no id of its own: the QSPI flash's 64-bit unique id, bytes in the order pico-sdk prints them */
    uint8_t b[8];
    uint64_t id = 0;
    uint8_t i;
#if defined(IW_UID_MBED_RP2040)
    noInterrupts(); /* the flash leaves XIP mode meanwhile: no interrupt handler may run from flash */
    flash_get_unique_id(b);
    interrupts();
#else
    pico_unique_board_id_t u; /* read before main() by pico-sdk; on the RP2350 the chip id from OTP */
    pico_get_unique_board_id(&u);
    memcpy(b, u.id, sizeof b);
#endif
    for (i = 0; i < 8; i++) {
        id = (id << 8) | b[i];
    }
    return id;
#elif defined(IW_UID_NRF52)
    return ((uint64_t)NRF_FICR->DEVICEID[1] << 32) | (uint64_t)NRF_FICR->DEVICEID[0];
#else
    return 0;
#endif
}

/* *shared = true: the build default, the same on every board built without IMUWALK_UID */
static uint64_t board_uid(bool *shared)
{
    uint64_t id;
    *shared = false;
    if (IW_UID_FROM_BUILD) {
        return IMUWALK_UID;
    }
    id = chip_uid();
    if (id == 0 || id == ~(uint64_t)0) { /* no chip id, or an unreadable one (erased/blank) */
        *shared = true;
        return IMUWALK_UID;
    }
    return id;
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

#define LOG_WIRE_MAX (IW_HEADER_SIZE + LOG_TEXT_MAX + IW_CRC_SIZE + 2u) /* + COBS byte + delimiter */

static bool send_log(const logtext_t *t)
{
    uint8_t buf[LOG_WIRE_MAX];
    return send_wire(buf, iw_pack_log(buf, sizeof buf, frame_flags(), g_seq++, t->s, t->n));
}

/* the text of one due LOG (the highest DUE_LOG_* bit set), 0 if none */
static uint8_t due_log_text(logtext_t *t)
{
    t->n = 0;
    if (g_due & DUE_LOG_UID) {
        lt_txt(t, IW_TXT("uid is the shared default: set IMUWALK_UID per unit"));
        return DUE_LOG_UID;
    }
    if (g_due & DUE_LOG_ODR) {
        lt_txt(t, IW_TXT("SET_ODR "));
        lt_hz(t, g_odr_req_mhz);
        if (g_odr_req_mhz == 0) {
            lt_txt(t, IW_TXT(" ignored"));
            return DUE_LOG_ODR;
        }
        lt_txt(t, IW_TXT(" failed: "));
        lt_imu_fail(t, g_odr_other);
        if (g_odr_kept_mhz != 0) {
            lt_txt(t, IW_TXT("; kept "));
            lt_hz(t, g_odr_kept_mhz);
        } else if (g_odr_was_on) {
            lt_txt(t, IW_TXT("; stopped"));
        }
        return DUE_LOG_ODR;
    }
    if (g_due & DUE_LOG_UNKNOWN) {
        uint8_t k;
        lt_txt(t, IW_TXT("unknown command type 0x"));
        for (k = 0; k < 2; k++) {
            uint8_t h = (uint8_t)((k == 0 ? g_unk_type >> 4 : g_unk_type) & 15u);
            lt_char(t, (char)(h < 10u ? '0' + h : 'a' + h - 10u));
        }
        lt_txt(t, IW_TXT(" ignored"));
        if (g_unk_n > 1u) {
            lt_txt(t, IW_TXT(" (x"));
            lt_u32(t, g_unk_n);
            lt_char(t, ')');
        }
        return DUE_LOG_UNKNOWN;
    }
    return 0;
}

static void log_due(uint8_t bit)
{
    if ((g_due & DUE_LOGS) == 0) {
        g_log_since = micros();
    }
    g_due |= bit;
}

static bool log_overdue(uint32_t now)
{
    return (g_due & DUE_LOGS) != 0 && now - g_log_since >= LOG_WAIT_US;
}

/* A due LOG is sent in the first half of a sample period, so that writing it never delays the poll of the next
 * sample (the synthetic IMU and IMUWALK_INT_PIN=-1 timestamp at the poll); at any time when no IMU runs or once
 * it is overdue. */
static bool log_window(uint32_t now)
{
    if (!g_imu_ok || g_meta.odr_mhz == 0 || log_overdue(now)) {
        return true;
    }
    return now - g_last_sample_us < 500000000UL / g_meta.odr_mhz; /* half the period in us */
}

/* SET_ODR: restart the sensor at the nearest supported rate and answer with META; one the sensor does not take
 * (IMU gone, wrong chip) is answered by a LOG as well, and the previous rate is restored if the IMU takes that. */
static void set_odr(uint32_t odr_mhz)
{
    iw_meta_t m = g_meta;
    bool was_on = g_imu_ok;
    uint32_t prev_mhz = g_meta.odr_mhz;
    if (odr_mhz == 0) {
        g_odr_req_mhz = 0;
        log_due(DUE_LOG_ODR);
        send_meta();
        return;
    }
    /* also retries an IMU that did not answer at boot (loose wire, sensor powered late): sampling starts once
     * it does */
    g_imu_ok = imu_begin(odr_mhz, &m);
    if (!g_imu_ok) {
        g_odr_req_mhz = odr_mhz;
        g_odr_was_on = was_on;
        g_odr_other = imu_probe_other();
        g_odr_kept_mhz = 0;
        m = g_meta;
        if (was_on && imu_begin(prev_mhz, &m)) { /* e.g. one I2C error: the sensor may still answer */
            g_imu_ok = true;
            g_odr_kept_mhz = m.odr_mhz;
        } else {
            m = g_meta;
            m.imu_model = IW_IMU_UNKNOWN; /* as at a boot without IMU: no sensor, no rate */
            m.odr_mhz = 0;
        }
        log_due(DUE_LOG_ODR);
    }
    g_meta = m;
    send_meta();
}

/* a valid frame that is not a command (iw_rx_t.unknown counted it): its type is the first packet byte, which a
 * COBS code byte of 1 turns into 0x00 */
static void note_unknown(void)
{
    g_unk_type = g_rx_head[0] == 1u ? 0u : g_rx_head[1];
    if (g_unk_n < 0xFFFFu) {
        g_unk_n++;
    }
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
        set_odr(c->arg);
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

static void rx_byte(uint8_t b)
{
    iw_cmd_t cmd;
    uint16_t unknown = g_rx.unknown;
    if (iw_rx_feed(&g_rx, b, &cmd)) {
        handle_command(&cmd, micros());
    } else if (g_rx.unknown != unknown) {
        note_unknown();
    }
    if (g_rx.unknown == 0xFFFFu) {
        g_rx.unknown = 0; /* saturating counter, reported nowhere else: keep it counting */
    }
    if (b == 0) {
        g_rx_pos = 0;
    } else {
        if (g_rx_pos < 2u) {
            g_rx_head[g_rx_pos] = b;
        }
        if (g_rx_pos < 255u) {
            g_rx_pos++;
        }
    }
}

void setup()
{
    Serial.begin(IMUWALK_BAUD);
#if defined(ESP32) && ARDUINO_USB_CDC_ON_BOOT
    Serial.setTxTimeoutMs(0); /* native USB CDC: never stall when no host reads */
#endif
    logtext_t t;
    bool shared_uid;
    iw_rx_init(&g_rx);
    memset(&g_st, 0, sizeof g_st);
    g_meta.proto_ver = IW_PROTO_VERSION;
    g_meta.uid = board_uid(&shared_uid);
    g_meta.fw_ver = IMUWALK_FW_VER;
    g_imu_ok = imu_begin((uint32_t)IMUWALK_ODR_HZ * 1000u, &g_meta);
    g_boot_us = micros();
    g_last_meta_us = g_boot_us;
    g_last_status_us = g_boot_us;
    send_meta();
    t.n = 0;
    if (g_imu_ok) {
        lt_txt(&t, IW_TXT("imuwalk_stream boot"));
    } else {
        lt_txt(&t, IW_TXT("imuwalk_stream: "));
        lt_imu_fail(&t, imu_probe_other());
    }
    send_log(&t);
    if (shared_uid) { /* two units from one such build (left and right leg) would be one device to the host */
        log_due(DUE_LOG_UID);
    }
}

void loop()
{
    imu_sample_t s;
    uint8_t missed = 0;
    uint32_t now;

    update_boot();
    while (Serial.available() > 0) {
        rx_byte((uint8_t)Serial.read());
    }
    if (g_imu_ok && imu_read(&s, &missed)) {
        g_last_sample_us = s.t_us;
        g_st.samples_total++;
        if (missed) {
            g_st.fifo_overruns += missed;
            g_pending |= IW_FLAG_OVERRUN;
        }
        if (g_streaming) {
            if ((g_due & (DUE_META | DUE_STATUS)) != 0 || log_overdue(micros())) {
                /* a saturated link keeps room for META/STATUS (and an overdue LOG): this sample is dropped */
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
    if (g_unk_n != 0 && !(g_due & DUE_LOG_UNKNOWN) && (!g_unk_logged || now - g_unk_log_us >= UNKNOWN_LOG_US)) {
        log_due(DUE_LOG_UNKNOWN); /* rate-limited: a flood of unknown frames costs one LOG per second */
    }
    if ((g_due & DUE_LOGS) && log_window(now)) {
        logtext_t t;
        uint8_t bit = due_log_text(&t);
        if (tx_room(LOG_WIRE_MAX - LOG_TEXT_MAX + t.n)) {
            send_log(&t);
            g_due &= (uint8_t)~bit;
            g_log_since = now; /* the next one waits afresh */
            if (bit == DUE_LOG_UNKNOWN) {
                g_unk_n = 0;
                g_unk_logged = 1;
                g_unk_log_us = now;
            }
        }
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
