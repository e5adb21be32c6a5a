/*
 * imu_shim.h -- a tiny IMU backend behind one interface, chosen at compile time:
 *   IMUWALK_SYNTHETIC_IMU   gait-like signal from a micros() tick scheduler (no sensor; used under simavr)
 *   IMUWALK_IMU_LSM6DSO     ST LSM6DSO over I2C (Wire), INT1 = accelerometer data-ready
 *   (default)               InvenSense MPU-6050 over I2C (Wire), INT = data-ready
 * Not supported yet (imu_model codes exist in PROTOCOL.md, no driver here): IMUWALK_IMU_BMI270 and
 * IMUWALK_IMU_ICM42688 stop the build with #error; a BMI270 or ICM-42688 found on the bus instead of the
 * configured sensor is named in the boot LOG (imu_probe_other()). See firmware_bridge/README.md, "Supported sensors".
 * Data-ready: with IMUWALK_INT_PIN >= 0 an interrupt captures micros() at the data-ready edge; with -1 the
 * status register is polled over I2C and the time of detection is used.
 * Counts are raw int16 in the sensor's axes; scales (g/LSB, dps/LSB) go to the host in META.
 */
#ifndef IMUWALK_IMU_SHIM_H
#define IMUWALK_IMU_SHIM_H

#include <Arduino.h>

#include "imuwalk_proto.h"

#ifndef IMUWALK_INT_PIN
#define IMUWALK_INT_PIN 2
#endif

typedef struct {
    uint32_t t_us;  /* device micros() at the data-ready moment */
    int16_t acc[3];
    int16_t gyr[3];
} imu_sample_t;

#if defined(IMUWALK_IMU_BMI270)
#error "imuwalk_stream: the BMI270 is not supported yet (no driver; it needs its 8 KB config blob uploaded before it measures). See firmware_bridge/README.md, Supported sensors."
#endif
#if defined(IMUWALK_IMU_ICM42688)
#error "imuwalk_stream: the ICM-42688 is not supported yet (no driver). See firmware_bridge/README.md, Supported sensors."
#endif

/* ---- rate selection (PROTOCOL.md SET_ODR: "the device picks the nearest supported rate") -----------------------
 * Nearest by rate error |f - f_requested|, not by period: 1 kHz / div rounded in the period domain picked 1000 Hz
 * for a 700 Hz request, 500 Hz being nearer. A tie goes to the higher rate. Pure functions, static inline so an
 * unused one costs nothing; tests/test_firmware_c.py checks them against an exact reference over the whole range. */

/* MPU-6050 SMPLRT_DIV + 1: div in 1..256 for 1 kHz / div (DLPF on, 1 kHz internal rate) */
static inline uint16_t imu_mpu6050_div(uint32_t odr_mhz)
{
    uint32_t d, e0;
    if (odr_mhz >= 1000000u) {
        return 1u;
    }
    if (odr_mhz == 0u) {
        return 256u;
    }
    d = 1000000u / odr_mhz; /* 1000/d Hz >= f > 1000/(d+1) Hz, d >= 1 */
    if (d >= 256u) {
        return 256u;
    }
    /* rate errors: 1e6/d - f = e0/d and f - 1e6/(d+1) = (f - e0)/(d+1) with e0 = 1e6 - f*d < f; the
     * cross-multiplied products stay below 1e6 * 256 (no 64-bit arithmetic on AVR) */
    e0 = 1000000u - odr_mhz * d;
    return (uint16_t)(e0 * (d + 1u) <= (odr_mhz - e0) * d ? d : d + 1u);
}

/* LSM6DSO CTRL1_XL / CTRL2_G ODR code 1..8 (12.5, 26, 52, 104, 208, 416, 833, 1666 Hz) and its rate */
static inline uint32_t imu_lsm6dso_code_mhz(uint8_t code)
{
    static const uint16_t odrs[] = {13, 26, 52, 104, 208, 416, 833, 1666};
    return code <= 1u ? 12500u : (uint32_t)odrs[code - 1u] * 1000u;
}

static inline uint8_t imu_lsm6dso_odr_code(uint32_t odr_mhz)
{
    uint8_t code = 1;
    while (code < 8u) { /* the rates rise with the code: step up while the next one is at least as near */
        uint32_t lo = imu_lsm6dso_code_mhz(code), hi = imu_lsm6dso_code_mhz((uint8_t)(code + 1u));
        if (odr_mhz <= lo || (odr_mhz < hi && odr_mhz - lo < hi - odr_mhz)) {
            break;
        }
        code++;
    }
    return code;
}

/* synthetic IMU: a whole-microsecond period, 1 Hz .. 1 kHz (test builds only, so 64-bit arithmetic is fine) */
static inline uint32_t imu_synth_period_us(uint32_t odr_mhz)
{
    uint32_t p, e0;
    if (odr_mhz >= 1000000u) {
        return 1000u;
    }
    if (odr_mhz <= 1000u) {
        return 1000000u;
    }
    p = 1000000000u / odr_mhz; /* 1e9/p mHz >= f > 1e9/(p+1) mHz, 1000 <= p < 1e6 */
    e0 = 1000000000u - odr_mhz * p;
    return (uint64_t)e0 * (p + 1u) <= (uint64_t)(odr_mhz - e0) * p ? p : p + 1u;
}

/* ---------------------------------------------------------------------------------------------------------- */
#if defined(IMUWALK_SYNTHETIC_IMU)

static uint32_t imu_period_us = 5000;
static uint32_t imu_next_us = 0;
static uint32_t imu_count = 0;

/* 1/4096 g per LSB (+-8 g), 1/32.8 dps per LSB (+-1000 dps): the MPU-6050 settings below.
 * Supported rates: 1 Hz .. 1 kHz (like the MPU-6050) in whole microseconds, the nearest by rate error; a SET_ODR
 * outside is clamped (a huge rate must not give a period of 0 us, which would spin imu_read() forever). META gets
 * the real rate. */
static bool imu_begin(uint32_t odr_mhz, iw_meta_t *m)
{
    imu_period_us = imu_synth_period_us(odr_mhz);
    imu_next_us = micros() + imu_period_us;
    m->imu_model = IW_IMU_SYNTHETIC;
    m->odr_mhz = (1000000000u + imu_period_us / 2u) / imu_period_us; /* < 2^32: no overflow */
    m->acc_scale = 1.0f / 4096.0f;
    m->gyr_scale = 1.0f / 32.8f;
    m->acc_range_g = 8;
    m->gyr_range_dps = 1000;
    return true;
}

/* Shank-like gait at 0.9 strides/s: sagittal gyro (z) swing peak ~300 dps in 60-100 % of the cycle, a heel-strike
 * acceleration spike at 0 %, gravity on x.  A deterministic pseudo-random dither (LCG) adds sensor-like noise. */
static void imu_synth(uint32_t n, imu_sample_t *s)
{
    static uint16_t lcg = 12345;
    const float stride_s = 1.0f / 0.9f;
    float t = (float)n * (float)imu_period_us * 1e-6f;
    float ph = t / stride_s;
    float gz, ax, ay, spike;
    ph -= (float)(long)ph; /* 0..1 */
    if (ph > 0.6f) {
        gz = 300.0f * sinf((ph - 0.6f) * (3.14159265f / 0.4f)); /* swing */
    } else {
        gz = -40.0f * sinf(ph * (3.14159265f / 0.6f)); /* stance roll-over */
    }
    spike = ph < 0.04f ? 2.5f * (1.0f - ph / 0.04f) : 0.0f; /* heel strike, g */
    ax = 1.0f + 0.3f * sinf(ph * 6.2831853f) + spike;
    ay = 0.2f * sinf(ph * 6.2831853f + 1.0f) + 0.5f * spike;
    lcg = (uint16_t)(lcg * 25173u + 13849u);
    s->acc[0] = (int16_t)(ax * 4096.0f) + (int16_t)((lcg >> 12) & 7) - 3;
    s->acc[1] = (int16_t)(ay * 4096.0f) + (int16_t)((lcg >> 8) & 7) - 3;
    s->acc[2] = (int16_t)(0.1f * 4096.0f);
    s->gyr[0] = (int16_t)((lcg >> 4) & 3) - 1;
    s->gyr[1] = (int16_t)(lcg & 3) - 1;
    s->gyr[2] = (int16_t)(gz * 32.8f);
}

/* true when a tick is due; *missed = ticks skipped because loop() was late (counted as OVERRUN) */
static bool imu_read(imu_sample_t *s, uint8_t *missed)
{
    uint32_t now = micros();
    *missed = 0;
    if ((int32_t)(now - imu_next_us) < 0) {
        return false;
    }
    s->t_us = now; /* like a data-ready ISR: the time we saw the tick */
    imu_next_us += imu_period_us;
    while ((int32_t)(now - imu_next_us) >= 0) { /* more than one period late: skip, count */
        imu_next_us += imu_period_us;
        imu_count++;
        if (*missed < 255) {
            (*missed)++;
        }
    }
    imu_synth(imu_count++, s);
    return true;
}

static uint8_t imu_probe_other(void)
{
    return IW_IMU_UNKNOWN;
}

/* ---------------------------------------------------------------------------------------------------------- */
#else /* real sensors over I2C */

#include <Wire.h>

static volatile uint32_t imu_drdy_us = 0;
static volatile uint8_t imu_drdy_count = 0;
static uint8_t imu_seen_count = 0;

/* ESP32 (and ESP8266): an interrupt handler must live in IRAM, or a flash-cache miss during an interrupt
 * crashes the chip */
#if defined(ARDUINO_ARCH_ESP32) || defined(ESP32) || defined(ARDUINO_ARCH_ESP8266)
#define IW_ISR_ATTR IRAM_ATTR
#else
#define IW_ISR_ATTR
#endif

static void IW_ISR_ATTR imu_drdy_isr(void)
{
    imu_drdy_us = micros();
    imu_drdy_count++;
}

static void imu_wr(uint8_t addr, uint8_t reg, uint8_t v)
{
    Wire.beginTransmission(addr);
    Wire.write(reg);
    Wire.write(v);
    Wire.endTransmission();
}

static uint8_t imu_rd(uint8_t addr, uint8_t reg, uint8_t *buf, uint8_t n)
{
    uint8_t i = 0;
    Wire.beginTransmission(addr);
    Wire.write(reg);
    if (Wire.endTransmission(false) != 0) {
        return 0;
    }
    Wire.requestFrom(addr, n);
    while (Wire.available() && i < n) {
        buf[i++] = (uint8_t)Wire.read();
    }
    return i;
}

/* Common data-ready logic: returns true with the timestamp of a new sample, *missed = lost DRDY edges. */
static bool imu_ready(uint8_t addr, uint8_t status_reg, uint8_t status_mask, uint32_t *t_us, uint8_t *missed)
{
    *missed = 0;
#if IMUWALK_INT_PIN >= 0
    uint8_t c;
    noInterrupts();
    c = imu_drdy_count;
    *t_us = imu_drdy_us;
    interrupts();
    if (c == imu_seen_count) {
        return false;
    }
    *missed = (uint8_t)(c - imu_seen_count - 1u);
    imu_seen_count = c;
    (void)addr;
    (void)status_reg;
    (void)status_mask;
    return true;
#else
    uint8_t st = 0;
    if (imu_rd(addr, status_reg, &st, 1) != 1 || (st & status_mask) == 0) {
        return false;
    }
    *t_us = micros();
    return true;
#endif
}

static void imu_attach_drdy(void)
{
#if IMUWALK_INT_PIN >= 0
    pinMode(IMUWALK_INT_PIN, INPUT);
    attachInterrupt(digitalPinToInterrupt(IMUWALK_INT_PIN), imu_drdy_isr, RISING);
#endif
}

/* After imu_begin() failed: is one of the sensors this firmware does not drive yet on the bus (at 0x68/0x69)?
 * IW_IMU_ICM42688 (WHO_AM_I 0x75 = 0x47), IW_IMU_BMI270 (CHIP_ID 0x00 = 0x24) or IW_IMU_UNKNOWN. Reads only.
 * The sketch names it in its LOG instead of a bare "IMU not found". */
static uint8_t imu_probe_other(void)
{
    uint8_t a, v;
    for (a = 0x68; a <= 0x69; a++) {
        v = 0;
        if (imu_rd(a, 0x75, &v, 1) == 1) {
            if (v == 0x47) {
                return IW_IMU_ICM42688;
            }
            if ((v & 0x7E) == 0x68) { /* an MPU-6050 (register 0x00 is a trim value there, not a chip id) */
                continue;
            }
        }
        if (imu_rd(a, 0x00, &v, 1) == 1 && v == 0x24) {
            return IW_IMU_BMI270;
        }
    }
    return IW_IMU_UNKNOWN;
}

#if defined(IMUWALK_IMU_LSM6DSO)
#ifndef IMUWALK_LSM6DSO_ADDR
#define IMUWALK_LSM6DSO_ADDR 0x6A
#endif
static bool imu_begin(uint32_t odr_mhz, iw_meta_t *m)
{
    uint8_t who = 0, code = imu_lsm6dso_odr_code(odr_mhz); /* the nearest supported ODR (PROTOCOL.md, SET_ODR) */
    Wire.begin();
    Wire.setClock(400000);
    if (imu_rd(IMUWALK_LSM6DSO_ADDR, 0x0F, &who, 1) != 1 || who != 0x6C) {
        return false;
    }
    imu_wr(IMUWALK_LSM6DSO_ADDR, 0x12, 0x44);                        /* CTRL3_C: BDU, IF_INC */
    /* COUNTER_BDR_REG1: dataready_pulsed. The default latched data-ready stays high until the data is read,
     * so after an MCU reset (e.g. the DTR auto-reset when a host opens the port) with a sample pending from
     * the running sensor, the rising-edge interrupt would never fire again: no samples. 75 us pulses instead. */
    imu_wr(IMUWALK_LSM6DSO_ADDR, 0x0B, 0x80);
    /* both sensors' default digital filters (accelerometer LPF1, gyroscope LPF2) band-limit to ODR / 2 or
     * below at every ODR, so no extra anti-alias setting is needed (unlike the MPU-6050 below) */
    imu_wr(IMUWALK_LSM6DSO_ADDR, 0x10, (uint8_t)((code << 4) | 0x0C)); /* CTRL1_XL: ODR, +-8 g */
    imu_wr(IMUWALK_LSM6DSO_ADDR, 0x11, (uint8_t)((code << 4) | 0x08)); /* CTRL2_G: ODR, 1000 dps */
    imu_wr(IMUWALK_LSM6DSO_ADDR, 0x0D, 0x01);                        /* INT1_CTRL: DRDY_XL */
    imu_attach_drdy();
    {   /* read the outputs once: clears a data-ready still latched from before (belt and braces) */
        uint8_t b[12];
        (void)imu_rd(IMUWALK_LSM6DSO_ADDR, 0x22, b, 12);
    }
    m->imu_model = IW_IMU_LSM6DSO;
    m->odr_mhz = imu_lsm6dso_code_mhz(code);
    m->acc_scale = 0.000244f; /* g/LSB at +-8 g */
    m->gyr_scale = 0.035f;    /* dps/LSB at 1000 dps */
    m->acc_range_g = 8;
    m->gyr_range_dps = 1000;
    return true;
}

static bool imu_read(imu_sample_t *s, uint8_t *missed)
{
    uint8_t b[12], i;
    if (!imu_ready(IMUWALK_LSM6DSO_ADDR, 0x1E, 0x01, &s->t_us, missed)) {
        return false;
    }
    if (imu_rd(IMUWALK_LSM6DSO_ADDR, 0x22, b, 12) != 12) { /* OUTX_L_G .. OUTZ_H_A, little-endian */
        return false;
    }
    for (i = 0; i < 3; i++) {
        s->gyr[i] = (int16_t)(uint16_t)(b[2 * i] | ((uint16_t)b[2 * i + 1] << 8)); /* no signed shift: int is */
        s->acc[i] = (int16_t)(uint16_t)(b[6 + 2 * i] | ((uint16_t)b[7 + 2 * i] << 8)); /* 16 bit on AVR */
    }
    return true;
}

#else /* MPU-6050 */
#ifndef IMUWALK_MPU6050_ADDR
#define IMUWALK_MPU6050_ADDR 0x68
#endif
/* DLPF_CFG for an output rate of 1 kHz / div: the widest digital low-pass whose gyro bandwidth (188, 98, 42,
 * 20, 10, 5 Hz for CFG 1..6; the accelerometer's is within 4 %) is at most the output rate. Read slowly behind
 * a wide filter, the sensor folds the ~10 ms landing impacts into large spurious rotations (strides lost);
 * the DLPF is gentle (-3 dB at its bandwidth), so an edge at the output rate already damps the impact band
 * that folds hardest, while an edge at half the rate doubles the filter delay (ICs 20-50 ms late on real
 * recordings: benchmarks/rate_table.py). 200 Hz -> CFG 1 (188 Hz, 1.9 ms delay), 100 Hz -> 2 (98 Hz, 2.8 ms),
 * 50 Hz -> 3 (42 Hz, 4.8 ms), 25 Hz -> 4 (20 Hz, 8.3 ms). CFG 1..6 all run the 1 kHz internal rate. */
static uint8_t mpu6050_dlpf_cfg(uint32_t div)
{
    static const uint16_t bw_hz[] = {188, 98, 42, 20, 10};
    uint8_t k;
    for (k = 0; k < 5; k++) {
        if ((uint32_t)bw_hz[k] * div <= 1000u) {
            return (uint8_t)(k + 1u);
        }
    }
    return 6u;
}

static bool imu_begin(uint32_t odr_mhz, iw_meta_t *m)
{
    uint8_t who = 0;
    uint32_t div;
    Wire.begin();
    Wire.setClock(400000);
    if (imu_rd(IMUWALK_MPU6050_ADDR, 0x75, &who, 1) != 1 || (who & 0x7E) != 0x68) {
        return false;
    }
    imu_wr(IMUWALK_MPU6050_ADDR, 0x6B, 0x01); /* PWR_MGMT_1: wake, PLL with gyro X */
    delay(50);
    div = imu_mpu6050_div(odr_mhz); /* the nearest 1 kHz / div (PROTOCOL.md, SET_ODR) */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x1A, mpu6050_dlpf_cfg(div)); /* CONFIG: anti-alias DLPF, 1 kHz internal */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x19, (uint8_t)(div - 1u)); /* SMPLRT_DIV: 1 kHz / div */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x1B, 0x10);               /* GYRO_CONFIG: +-1000 dps */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x1C, 0x10);               /* ACCEL_CONFIG: +-8 g */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x37, 0x10);               /* INT_PIN_CFG: active high, clear on any read */
    imu_wr(IMUWALK_MPU6050_ADDR, 0x38, 0x01);               /* INT_ENABLE: DATA_RDY */
    imu_attach_drdy();
    m->imu_model = IW_IMU_MPU6050;
    m->odr_mhz = 1000000u / div;
    m->acc_scale = 1.0f / 4096.0f;
    m->gyr_scale = 1.0f / 32.8f;
    m->acc_range_g = 8;
    m->gyr_range_dps = 1000;
    return true;
}

static bool imu_read(imu_sample_t *s, uint8_t *missed)
{
    uint8_t b[14], i;
    if (!imu_ready(IMUWALK_MPU6050_ADDR, 0x3A, 0x01, &s->t_us, missed)) {
        return false;
    }
    if (imu_rd(IMUWALK_MPU6050_ADDR, 0x3B, b, 14) != 14) { /* ACCEL_XOUT_H .. GYRO_ZOUT_L, big-endian */
        return false;
    }
    for (i = 0; i < 3; i++) {
        s->acc[i] = (int16_t)(uint16_t)(((uint16_t)b[2 * i] << 8) | b[2 * i + 1]); /* no signed shift: int */
        s->gyr[i] = (int16_t)(uint16_t)(((uint16_t)b[8 + 2 * i] << 8) | b[9 + 2 * i]); /* is 16 bit on AVR */
    }
    return true;
}
#endif /* sensor choice */
#endif /* synthetic or real */

#endif /* IMUWALK_IMU_SHIM_H */
