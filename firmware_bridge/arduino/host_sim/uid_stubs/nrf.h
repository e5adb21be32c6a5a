/* Host stub of Nordic's nrf.h (nRF52 MDK), tests only: NRF_FICR with DEVICEID at its register offset 0x060,
 * read-only like the MDK's __IM members; the values come from uid_stubs.cpp. */
#ifndef IMUWALK_STUB_NRF_H
#define IMUWALK_STUB_NRF_H
#include <stdint.h>
typedef struct {
    volatile const uint32_t RESERVED0[24];
    volatile const uint32_t DEVICEID[2];
} NRF_FICR_Type;
extern NRF_FICR_Type sim_nrf_ficr;
#define NRF_FICR (&sim_nrf_ficr)
#endif
