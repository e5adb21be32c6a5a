/* Definitions behind the stub headers in this folder (tests only). The chip id is SIM_CHIP_UID from the
 * environment (16 hex digits, the uid the host should show) or 0xe66038b713907e33. */
#include <stdint.h>
#include <stdlib.h>

#include "hardware/flash.h"
#include "nrf.h"
#include "pico/unique_id.h"

static uint64_t sim_chip_uid(void)
{
    const char *e = getenv("SIM_CHIP_UID");
    return e != NULL ? strtoull(e, NULL, 16) : 0xe66038b713907e33ull;
}

/* pico-sdk order: id[0] is the first byte of pico_get_unique_board_id_string() */
static void sim_uid_bytes(uint8_t *out)
{
    uint64_t v = sim_chip_uid();
    int i;
    for (i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

extern "C" void pico_get_unique_board_id(pico_unique_board_id_t *id_out) { sim_uid_bytes(id_out->id); }
extern "C" void flash_get_unique_id(uint8_t *id_out) { sim_uid_bytes(id_out); }

NRF_FICR_Type sim_nrf_ficr = {{0}, {(uint32_t)sim_chip_uid(), (uint32_t)(sim_chip_uid() >> 32)}};
