/*
 * Host harness: runs the real imuwalk_stream.ino (with its imu_shim.h and the protocol sources) natively on
 * a simulated clock, with a simulated Serial port and register-level models of the MPU-6050 and LSM6DSO on
 * a fake I2C bus (data-ready ticks at the configured ODR, INT pulses or a latched INT line).  Tests only:
 * tests/test_firmware_c.py builds it with g++ -fsanitize=address,undefined and decodes the output with imuwalk.
 *
 *   sim OUT.bin EVENT...      events, in order:
 *     t0:US        device clock at reset (micros(); default 0)      warm  sensor already running, data pending
 *     setup        call setup()                                     room:N  Serial.availableForWrite() = N
 *     rx:HEX       queue bytes on the Serial RX line                run:US:STEP  call loop() every STEP us for US
 *     regs         print "reg ADDR REG VALUE" for the written sensor registers
 *     imu:off / imu:on            the configured sensor stops / starts answering on the bus
 *     chip:bmi270 / chip:icm42688 a BMI270 (CHIP_ID 0x24) / ICM-42688 (WHO_AM_I 0x47) answers at 0x68 instead
 *     i2cfail:N    the next N I2C transactions (endTransmission) fail with an address NACK
 * OUT.bin receives the raw wire bytes the firmware wrote to Serial.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>
#include <vector>

#include "Arduino.h"
#include "Wire.h"

uint32_t sim_us = 0;
static uint64_t sim_t = 0; /* 64-bit simulated time; sim_us = low 32 bits (micros() wraps like the MCU's) */
static void (*sim_isr)(void) = NULL;
static std::deque<uint8_t> sim_rx;
static std::vector<uint8_t> sim_tx;
static int sim_room = 4096;

SimSerial Serial;
TwoWire Wire;

void SimSerial::begin(unsigned long) {}
int SimSerial::available(void) { return (int)sim_rx.size(); }
/* next byte of a receive queue, -1 when it is empty (Serial.read / Wire.read semantics) */
static int pop_byte(std::deque<uint8_t> &q)
{
    int b;
    if (q.empty()) {
        return -1;
    }
    b = q.front();
    q.pop_front();
    return b;
}

int SimSerial::read(void) { return pop_byte(sim_rx); }
size_t SimSerial::write(uint8_t b)
{
    sim_tx.push_back(b);
    return 1;
}
size_t SimSerial::write(const uint8_t *buf, size_t n)
{
    sim_tx.insert(sim_tx.end(), buf, buf + n);
    return n;
}
int SimSerial::availableForWrite(void) { return sim_room; }
void attachInterrupt(int, void (*isr)(void), int) { sim_isr = isr; }

/* ---- sensor models ---- */
struct Sensor {
    uint8_t addr;
    uint8_t regs[256];
    uint8_t written[256];
    uint64_t period;    /* us, 0 = not sampling */
    uint64_t next_tick;
    uint32_t n;         /* samples produced */
    bool line;          /* LSM6DSO latched INT1 level */
};
static Sensor mpu, lsm, foreign; /* foreign: a sensor the firmware does not drive (chip:...), never ticks */
static bool sim_foreign = false;
static int sim_i2c_fail = 0;

static void sensor_reset(Sensor *s, uint8_t addr)
{
    memset(s, 0, sizeof *s);
    s->addr = addr;
    if (addr == 0x68) {
        s->regs[0x75] = 0x68; /* WHO_AM_I */
        s->regs[0x6B] = 0x40; /* PWR_MGMT_1: sleep */
    } else {
        s->regs[0x0F] = 0x6C; /* WHO_AM_I */
        s->regs[0x12] = 0x04; /* CTRL3_C: IF_INC */
    }
}

static uint64_t sensor_period(const Sensor *s)
{
    static const uint32_t lsm_mhz[] = {0, 12500, 26000, 52000, 104000, 208000, 416000, 833000, 1666000};
    if (s->addr == 0x68) {
        uint8_t cfg = s->regs[0x1A] & 7u;
        uint64_t base = (cfg == 0 || cfg == 7) ? 125u : 1000u;
        return (s->regs[0x6B] & 0x40u) ? 0 : base * (s->regs[0x19] + 1u);
    }
    uint8_t code = s->regs[0x10] >> 4;
    return (code >= 1 && code <= 8) ? (1000000000ull + lsm_mhz[code] / 2) / lsm_mhz[code] : 0;
}

static void put_be(uint8_t *p, int v) { p[0] = (uint8_t)((unsigned)v >> 8); p[1] = (uint8_t)v; }
static void put_le(uint8_t *p, int v) { p[0] = (uint8_t)v; p[1] = (uint8_t)((unsigned)v >> 8); }

/* one data-ready: new data (acc = n, -n, 4096; gyr = 3n, 7, -7, mod 2^16), status bit, INT */
static void sensor_tick(Sensor *s)
{
    int v[6];
    int i;
    s->n++;
    v[0] = (int)(int16_t)(uint16_t)s->n;
    v[1] = (int)(int16_t)(uint16_t)(0u - s->n);
    v[2] = 4096;
    v[3] = (int)(int16_t)(uint16_t)(3u * s->n);
    v[4] = 7;
    v[5] = -7;
    if (s->addr == 0x68) {
        for (i = 0; i < 3; i++) {
            put_be(s->regs + 0x3B + 2 * i, v[i]);
            put_be(s->regs + 0x43 + 2 * i, v[3 + i]);
        }
        s->regs[0x3A] |= 1u;
        if ((s->regs[0x38] & 1u) && sim_isr) {
            sim_isr(); /* 50 us pulse: one rising edge per sample */
        }
        return;
    }
    for (i = 0; i < 3; i++) {
        put_le(s->regs + 0x22 + 2 * i, v[3 + i]);
        put_le(s->regs + 0x28 + 2 * i, v[i]);
    }
    s->regs[0x1E] |= 1u; /* XLDA */
    if (s->regs[0x0D] & 1u) {
        if (s->regs[0x0B] & 0x80u) { /* pulsed data-ready */
            if (sim_isr) {
                sim_isr();
            }
        } else if (!s->line) { /* latched (reset default): an edge only if the last data was read */
            s->line = true;
            if (sim_isr) {
                sim_isr();
            }
        }
    }
}

static void sensor_write(Sensor *s, uint8_t reg, uint8_t v)
{
    if (s->addr == 0x6A && reg == 0x12 && (v & 1u)) { /* CTRL3_C SW_RESET */
        sensor_reset(s, 0x6A);
        s->written[0x12] = 1;
        return;
    }
    s->regs[reg] = v;
    s->written[reg] = 1;
}

static uint8_t sensor_read(Sensor *s, uint8_t reg)
{
    uint8_t v = s->regs[reg];
    if (s->addr == 0x68 && reg == 0x3A) {
        s->regs[0x3A] &= (uint8_t)~1u;
    }
    if (s->addr == 0x6A && reg >= 0x28 && reg <= 0x2D) { /* reading accelerometer data clears XLDA / INT1 */
        s->regs[0x1E] &= (uint8_t)~1u;
        s->line = false;
    }
    return v;
}

static bool sim_imu_absent = false; /* events imu:off / imu:on: the sensor does not answer on the bus */

static Sensor *bus_find(uint8_t addr)
{
    if (sim_foreign && addr == foreign.addr) {
        return &foreign;
    }
    if (sim_imu_absent) {
        return NULL;
    }
#if defined(IMUWALK_IMU_LSM6DSO)
    return addr == 0x6A ? &lsm : NULL;
#elif defined(IMUWALK_SYNTHETIC_IMU)
    (void)addr;
    return NULL;
#else
    return addr == 0x68 ? &mpu : NULL;
#endif
}

static void sim_advance(uint64_t us)
{
    uint64_t target = sim_t + us;
    for (;;) {
        Sensor *next = NULL;
        Sensor *all[2] = {&mpu, &lsm};
        int i;
        for (i = 0; i < 2; i++) {
            if (bus_find(all[i]->addr) != all[i]) {
                continue;
            }
            uint64_t p = sensor_period(all[i]);
            if (p != all[i]->period) { /* (re)configured: first sample one period later */
                all[i]->period = p;
                all[i]->next_tick = sim_t + p;
            }
            if (p != 0 && all[i]->next_tick <= target && (next == NULL || all[i]->next_tick < next->next_tick)) {
                next = all[i];
            }
        }
        if (next == NULL) {
            break;
        }
        sim_t = next->next_tick;
        sim_us = (uint32_t)sim_t;
        next->next_tick += next->period;
        sensor_tick(next);
    }
    sim_t = target;
    sim_us = (uint32_t)sim_t;
}

void delay(unsigned long ms) { sim_advance((uint64_t)ms * 1000u); }

/* ---- I2C bus ---- */
static Sensor *bus_dev = NULL;
static uint8_t bus_ptr = 0;
static int bus_nw = 0;
static std::deque<uint8_t> bus_rx;


void TwoWire::beginTransmission(uint8_t addr)
{
    bus_dev = bus_find(addr);
    bus_nw = 0;
}
size_t TwoWire::write(uint8_t b)
{
    if (bus_dev == NULL) {
        return 0;
    }
    if (bus_nw++ == 0) {
        bus_ptr = b;
    } else {
        sensor_write(bus_dev, bus_ptr++, b);
    }
    return 1;
}
uint8_t TwoWire::endTransmission(bool)
{
    if (sim_i2c_fail > 0) {
        sim_i2c_fail--;
        bus_dev = NULL;
    }
    return bus_dev ? 0 : 2; /* 2: address NACK */
}
uint8_t TwoWire::requestFrom(uint8_t addr, uint8_t n)
{
    Sensor *s = bus_find(addr);
    uint8_t i;
    bus_rx.clear();
    if (s == NULL) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        bus_rx.push_back(sensor_read(s, bus_ptr++));
    }
    return n;
}
int TwoWire::available(void) { return (int)bus_rx.size(); }
int TwoWire::read(void) { return pop_byte(bus_rx); }

/* ---- the firmware under test ---- */
#include "imuwalk_stream.ino"

static void warm_start(void)
{
    /* the MCU resets (e.g. DTR auto-reset when the host opens the port) while the sensor keeps running from
     * the previous session with a sample pending: a latched data-ready line is already high */
#if defined(IMUWALK_IMU_LSM6DSO)
    sensor_write(&lsm, 0x12, 0x44);
    sensor_write(&lsm, 0x10, 0x5C);
    sensor_write(&lsm, 0x11, 0x58);
    sensor_write(&lsm, 0x0D, 0x01);
    lsm.regs[0x1E] |= 1u;
    lsm.line = true;
#elif !defined(IMUWALK_SYNTHETIC_IMU)
    sensor_write(&mpu, 0x6B, 0x01);
    sensor_write(&mpu, 0x1A, 0x01);
    sensor_write(&mpu, 0x19, 4);
    sensor_write(&mpu, 0x38, 0x01);
#endif
    memset(mpu.written, 0, sizeof mpu.written);
    memset(lsm.written, 0, sizeof lsm.written);
}

int main(int argc, char **argv)
{
    FILE *f;
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: sim OUT.bin EVENT...\n");
        return 2;
    }
    sensor_reset(&mpu, 0x68);
    sensor_reset(&lsm, 0x6A);
    for (i = 2; i < argc; i++) {
        const char *e = argv[i];
        if (strncmp(e, "t0:", 3) == 0) {
            sim_t = strtoull(e + 3, NULL, 0);
            sim_us = (uint32_t)sim_t;
        } else if (strcmp(e, "warm") == 0) {
            warm_start();
        } else if (strcmp(e, "imu:off") == 0 || strcmp(e, "imu:on") == 0) {
            sim_imu_absent = strcmp(e, "imu:off") == 0;
        } else if (strcmp(e, "chip:bmi270") == 0 || strcmp(e, "chip:icm42688") == 0) {
            memset(&foreign, 0, sizeof foreign);
            foreign.addr = 0x68;
            if (e[5] == 'b') {
                foreign.regs[0x00] = 0x24; /* BMI270 CHIP_ID */
            } else {
                foreign.regs[0x75] = 0x47; /* ICM-42688-P WHO_AM_I */
            }
            sim_foreign = true;
        } else if (strncmp(e, "i2cfail:", 8) == 0) {
            sim_i2c_fail = atoi(e + 8);
        } else if (strcmp(e, "setup") == 0) {
            setup();
        } else if (strncmp(e, "room:", 5) == 0) {
            sim_room = atoi(e + 5);
        } else if (strncmp(e, "rx:", 3) == 0) {
            const char *h = e + 3;
            while (h[0] && h[1]) {
                unsigned v;
                if (sscanf(h, "%2x", &v) != 1) {
                    return 2;
                }
                sim_rx.push_back((uint8_t)v);
                h += 2;
            }
        } else if (strncmp(e, "run:", 4) == 0) {
            char *p;
            uint64_t dur = strtoull(e + 4, &p, 0), step = (*p == ':') ? strtoull(p + 1, NULL, 0) : 20u;
            uint64_t end = sim_t + dur;
            if (step == 0) {
                return 2;
            }
            while (sim_t < end) {
                loop();
                sim_advance(step);
            }
        } else if (strcmp(e, "regs") == 0) {
            Sensor *all[2] = {&mpu, &lsm};
            int k, r;
            for (k = 0; k < 2; k++) {
                for (r = 0; r < 256; r++) {
                    if (all[k]->written[r]) {
                        printf("reg 0x%02x 0x%02x 0x%02x\n", all[k]->addr, r, all[k]->regs[r]);
                    }
                }
            }
        } else {
            fprintf(stderr, "unknown event %s\n", e);
            return 2;
        }
    }
    f = fopen(argv[1], "wb");
    if (f == NULL || fwrite(sim_tx.data(), 1, sim_tx.size(), f) != sim_tx.size() || fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
