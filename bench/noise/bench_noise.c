// Cost of the authenticated mode (src/auth): N complete NNpsk0 handshakes (both sides, as a
// host and a node do between them), or N transport frames of SIZE bytes encrypted by one side
// and decrypted by the other. Run under callgrind by bench/noise/instr (instruction counts do
// not depend on the machine's load).
// Usage: bench_noise hs N | bench_noise frame N SIZE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/noise.h"

static void handshake(sw_noise_t *i, sw_noise_t *r, unsigned k)
{
    uint8_t psk[32], si[32], sr[32], m[SW_NOISE_HS_LEN];
    memset(psk, 7, 32);
    memset(si, (int)(k & 0xff), 32);
    memset(sr, (int)((k >> 8) & 0xff) ^ 0x55, 32);
    sw_noise_init(i, true, psk, si);
    sw_noise_init(r, false, psk, sr);
    if (sw_noise_write_hs(i, m) || sw_noise_read_hs(r, m, sizeof m) || sw_noise_write_hs(r, m) ||
        sw_noise_read_hs(i, m, sizeof m))
        exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 1;
    unsigned n = (unsigned)strtoul(argv[2], NULL, 10);
    sw_noise_t i, r;
    if (!strcmp(argv[1], "hs")) {
        for (unsigned k = 0; k < n; k++)
            handshake(&i, &r, k);
        return 0;
    }
    size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 1024;
    if (size > SW_NOISE_FRAME_PAYLOAD)
        return 1;
    static uint8_t buf[SW_NOISE_FRAME_MAX];
    handshake(&i, &r, 1);
    for (unsigned k = 0; k < n; k++) {
        buf[0] = (uint8_t)k;
        if (sw_noise_encrypt(&i, buf, size, buf) || sw_noise_decrypt(&r, buf, size + SW_NOISE_TAG, buf))
            return 3;
    }
    printf("%u\n", buf[0]);
    return 0;
}
