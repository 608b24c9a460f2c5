// mbedTLS 2.28 configuration of the size build (scripts/size): SHA-256 (f.hash), and the
// primitives of the authenticated mode (src/auth: X25519 on Curve25519, ChaCha20-Poly1305,
// HMAC-SHA-256; HMAC_DRBG is what ecp blinds its ladder with when given no RNG). Networking,
// timing and file I/O, which do not build bare-metal, are off.
#ifndef SW_SIZE_MBEDTLS_CONFIG_H
#define SW_SIZE_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
#define MBEDTLS_MD_C
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

#include "mbedtls/check_config.h"
#endif
