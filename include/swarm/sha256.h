// SHA-256 over a stream of bytes: the hashes of file contents (the node's app hash and manifests,
// the commit of a push, f.hash; the host's manifests and file cache). One API, two
// implementations chosen at build time:
//   - SW_SHA256_LIBCRYPTO (the POSIX builds; cmake/layers.cmake defines it): OpenSSL's libcrypto
//     (src/sha/sha256_libcrypto.c), whose assembly uses the CPU's SHA extensions where it has
//     them (x86 SHA-NI, the ARMv8 crypto extension): 1.3 GB/s against mbedTLS's 0.15 GB/s on the
//     bench machine (bench/RESULTS.md, "Push");
//   - otherwise mbedTLS, inline below: the firmware gets no code beyond mbedTLS's own.
// Short hashes off the hot path (the Noise handshake, HKDF, the POSIX port's machine id) use
// mbedTLS directly.
// Every function returns 0 or SW_EIO. A context holds no resources: sw_sha256_end, or dropping
// it after a failure, is all the clean-up there is.
#ifndef SWARM_SHA256_H
#define SWARM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SW_SHA256_LIBCRYPTO) && SW_SHA256_LIBCRYPTO

// Big enough for libcrypto's SHA256_CTX (112 bytes; sha256_libcrypto.c checks it).
typedef struct sw_sha256 {
    _Alignas(8) unsigned char ctx[128];
} sw_sha256_t;

int sw_sha256_begin(sw_sha256_t *s);
int sw_sha256_update(sw_sha256_t *s, const void *data, size_t len);
int sw_sha256_end(sw_sha256_t *s, uint8_t digest[32]); // digest: 32 bytes

#else

#include <mbedtls/sha256.h>

typedef mbedtls_sha256_context sw_sha256_t;

// Always inlined: left to itself, the firmware's LTO kept them as functions, 240 B more flash
// than the mbedTLS calls they wrap (the mcu-full image has under 100 B to spare).

static inline __attribute__((always_inline)) int sw_sha256_begin(sw_sha256_t *s)
{
    mbedtls_sha256_init(s);
    return mbedtls_sha256_starts_ret(s, 0) ? SW_EIO : 0;
}

static inline __attribute__((always_inline)) int sw_sha256_update(sw_sha256_t *s, const void *data, size_t len)
{
    return mbedtls_sha256_update_ret(s, (const unsigned char *)data, len) ? SW_EIO : 0;
}

static inline __attribute__((always_inline)) int sw_sha256_end(sw_sha256_t *s, uint8_t digest[32])
{
    // no mbedtls_sha256_free: it only wipes the context, and file hashes hold no secret
    return mbedtls_sha256_finish_ret(s, digest) ? SW_EIO : 0;
}

#endif

#ifdef __cplusplus
}
#endif

#endif
