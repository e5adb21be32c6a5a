/* Host stand-in for the Arduino core, just enough to compile imuwalk_stream.ino natively (tests only).
 * Time is simulated (sim_us); Serial and the I2C sensors are modelled in sim_main.cpp. */
#ifndef IMUWALK_HOST_SIM_ARDUINO_H
#define IMUWALK_HOST_SIM_ARDUINO_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define INPUT 0
#define RISING 3

extern uint32_t sim_us;
inline uint32_t micros(void) { return sim_us; }
inline uint32_t millis(void) { return sim_us / 1000u; }
void delay(unsigned long ms);
inline void pinMode(int, int) {}
inline int digitalPinToInterrupt(int pin) { return pin; }
void attachInterrupt(int irq, void (*isr)(void), int mode);
inline void noInterrupts(void) {}
inline void interrupts(void) {}

class SimSerial {
public:
    void begin(unsigned long baud);
    int available(void);
    int read(void);
    size_t write(uint8_t b);
    size_t write(const uint8_t *buf, size_t n);
    int availableForWrite(void);
    void flush(void) {}
};
extern SimSerial Serial;

#endif
