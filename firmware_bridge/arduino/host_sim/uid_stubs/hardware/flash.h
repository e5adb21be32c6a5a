/* Host stub of pico-sdk's hardware/flash.h (the part the Arduino Mbed OS RP2040 core provides), tests only. */
#ifndef IMUWALK_STUB_HARDWARE_FLASH_H
#define IMUWALK_STUB_HARDWARE_FLASH_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
#define FLASH_UNIQUE_ID_SIZE_BYTES 8
void flash_get_unique_id(uint8_t *id_out);
#ifdef __cplusplus
}
#endif
#endif
