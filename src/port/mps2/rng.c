// The port's random bytes (port op `random`: the ephemeral keys of the locked mode's handshakes,
// and anything else the node draws). A fast-key-erasure generator (D. J. Bernstein, 2017; the
// construction of OpenBSD's arc4random and Linux's getrandom) on mbedTLS's ChaCha20, which the
// locked mode links anyway: each request runs ChaCha20 under the current key, keeps the first
// 32 bytes of the stream as the next key and hands out the rest, so the key that made an
// output is gone once it is out. The key starts as SHA-256 of the board's entropy source
// (sw_board_entropy), the unit's id and the clock, and every request mixes in fresh bytes from
// that source and the timing of recent events (the loop's wake-ups: frames, UART bytes,
// timers). mbedTLS's HMAC_DRBG did the same job for 1.2 KB of flash, this one for about
// 0.3 KB (bench/RESULTS.md). Images without the locked mode keep port_mps2.c's xorshift32
// (nothing there needs secret randomness).
#include "mps2_int.h"
#if SW_FW_AUTH
#include <string.h>

#include <mbedtls/chacha20.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "board.h"

static uint8_t key[32];
static uint32_t events; // the clock's counter at recent events, folded
static uint32_t drawn;  // requests served (the nonce: never repeats under one key anyway)

void sw__mps2_rng_event(void)
{
    events = (events << 5 | events >> 27) ^ sw_board_clock_jitter();
}

// key = SHA-256(key, fresh entropy, id, events, clock). False if the board had no entropy.
static bool mix(const uint8_t *id, size_t n)
{
    uint8_t in[32 + 32 + 16];
    size_t got = sw_board_entropy(in + 32, 32);
    uint32_t t[2] = {events, sw_board_clock_jitter()};
    memcpy(in, key, 32);
    memset(in + 64, 0, 16);
    if (n)
        memcpy(in + 64, id, n < 8 ? n : 8);
    memcpy(in + 72, t, 8);
    mbedtls_sha256_ret(in, sizeof in, key, 0);
    mbedtls_platform_zeroize(in, sizeof in);
    return got == 32;
}

bool sw__mps2_rng_init(const uint8_t *id, size_t n) { return mix(id, n); }

void sw__mps2_random(void *buf, size_t n)
{
    uint8_t nonce[12] = {0};
    mix(NULL, 0);
    memcpy(nonce, &drawn, 4);
    drawn++;
    mbedtls_chacha20_context c;
    mbedtls_chacha20_init(&c);
    mbedtls_chacha20_setkey(&c, key);
    mbedtls_chacha20_starts(&c, nonce, 0);
    memset(key, 0, sizeof key); // the stream's first 32 bytes become the next key
    mbedtls_chacha20_update(&c, sizeof key, key, key);
    memset(buf, 0, n);
    mbedtls_chacha20_update(&c, n, buf, buf);
    mbedtls_chacha20_free(&c); // (zeroizes the context)
}
#endif
