/* Host stub of pico-sdk's pico/unique_id.h (arduino-pico core), tests only: lets the sketch's RP2040 board_uid()
 * path compile and run natively (declarations as in pico-sdk; the id comes from uid_stubs.cpp). */
#ifndef IMUWALK_STUB_PICO_UNIQUE_ID_H
#define IMUWALK_STUB_PICO_UNIQUE_ID_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
#define PICO_UNIQUE_BOARD_ID_SIZE_BYTES 8
typedef struct {
    uint8_t id[PICO_UNIQUE_BOARD_ID_SIZE_BYTES];
} pico_unique_board_id_t;
void pico_get_unique_board_id(pico_unique_board_id_t *id_out);
#ifdef __cplusplus
}
#endif
#endif
