/* Host stand-in for the Arduino Wire (I2C) library; the bus talks to the sensor models in sim_main.cpp. */
#ifndef IMUWALK_HOST_SIM_WIRE_H
#define IMUWALK_HOST_SIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

class TwoWire {
public:
    void begin(void) {}
    void setClock(uint32_t) {}
    void beginTransmission(uint8_t addr);
    size_t write(uint8_t b);
    uint8_t endTransmission(bool stop = true);
    uint8_t requestFrom(uint8_t addr, uint8_t n);
    int available(void);
    int read(void);
};
extern TwoWire Wire;

#endif
