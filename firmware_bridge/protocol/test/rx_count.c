/* Feed byte streams to the device-side command parser and print its counters, one line per stream:
 *   "<commands> <crc_errors> <cobs_errors> <short_frames> <oversize> <unknown> <last cmd type> <last cmd arg>"
 * stdin: records of u32 little-endian length + bytes.  tests/test_firmware_c.py compares the counters with
 * imuwalk's Python FrameDecoder on the same streams (the two receivers of PROTOCOL.md section 6). */
#include <stdio.h>

#include "imuwalk_proto.h"

int main(void)
{
    unsigned char len_le[4];
    while (fread(len_le, 1, 4, stdin) == 4) {
        unsigned long n = (unsigned long)len_le[0] | ((unsigned long)len_le[1] << 8) |
                          ((unsigned long)len_le[2] << 16) | ((unsigned long)len_le[3] << 24);
        iw_rx_t rx;
        iw_cmd_t cmd, last;
        int got = 0, c;
        last.type = 0;
        last.arg = 0;
        iw_rx_init(&rx);
        while (n-- > 0 && (c = getchar()) != EOF) {
            if (iw_rx_feed(&rx, (uint8_t)c, &cmd)) {
                got++;
                last = cmd;
            }
        }
        printf("%d %u %u %u %u %u %u %lu\n", got, rx.crc_errors, rx.cobs_errors, rx.short_frames, rx.oversize,
               rx.unknown, (unsigned)last.type, (unsigned long)last.arg);
    }
    return 0;
}
