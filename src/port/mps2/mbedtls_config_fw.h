// mbedTLS 2.28 configuration of the firmware: SHA-256 (f.hash, push; the locked mode's hash and
// HMAC) and, in an image with the locked mode (SW_FW_AUTH), ChaCha20-Poly1305 (the Noise
// cipher; ChaCha20 is also the port's random generator, rng.c). X25519 comes from mbedTLS's
// 3rdparty/everest (HACL*), so no bignum or ecp; no md layer, no TLS.
#ifndef SW_FW_MBEDTLS_CONFIG_H
#define SW_FW_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
// The rolled loop: about 2 KB less flash than the unrolled rounds, at a speed push (hashing
// files as they arrive) does not notice next to the link.
#define MBEDTLS_SHA256_SMALLER

#if SW_FW_AUTH
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#endif

#include "mbedtls/check_config.h"
#endif
