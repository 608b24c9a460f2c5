// CRC-16 of SerialPacker: reflected, constant 0xBAAD, init 0, no final xor. Computed a nibble at
// a time (high nibble first) with a 16-entry table, as MoaT's SerialPacker does, so 32 bytes of
// table suffice on a microcontroller.
#include "swarm/sp.h"

// T[i] = i run through four reflected shift steps with constant 0xBAAD.
static const uint16_t crc_tab[16] = {
    0x0000, 0x64A8, 0xC950, 0xADF8, 0xE7FB, 0x8353, 0x2EAB, 0x4A03,
    0xBAAD, 0xDE05, 0x73FD, 0x1755, 0x5D56, 0x39FE, 0x9406, 0xF0AE,
};

uint16_t sw_crc16(uint16_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        crc = (uint16_t)(crc_tab[((b[i] >> 4) ^ crc) & 0xF] ^ (crc >> 4));
        crc = (uint16_t)(crc_tab[(b[i] ^ crc) & 0xF] ^ (crc >> 4));
    }
    return crc;
}
