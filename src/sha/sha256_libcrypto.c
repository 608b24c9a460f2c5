// sw_sha256 (swarm/sha256.h) on OpenSSL's libcrypto, for the POSIX builds: its SHA-256 assembly
// picks the CPU's SHA extensions at start-up (OPENSSL_ia32cap), eight times mbedTLS's C here.
//
// The low-level SHA256_Init/Update/Final, not EVP: they are the same assembly, need no heap
// (the context lives in sw_sha256_t), and a static swarm-node links only them — about 23 KB,
// where EVP_Digest pulls libcrypto's providers in (3.9 MB of code in a static executable).
// OpenSSL 3.0 marks them deprecated, not removed; OPENSSL_SUPPRESS_DEPRECATED says we chose them.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "swarm/sha256.h"

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((sw_sha256_t *)0)->ctx), "sw_sha256_t too small for SHA256_CTX");
_Static_assert(_Alignof(SHA256_CTX) <= 8, "sw_sha256_t under-aligned for SHA256_CTX");

int sw_sha256_begin(sw_sha256_t *s)
{
    return SHA256_Init((SHA256_CTX *)s->ctx) == 1 ? 0 : SW_EIO;
}

int sw_sha256_update(sw_sha256_t *s, const void *data, size_t len)
{
    return SHA256_Update((SHA256_CTX *)s->ctx, data, len) == 1 ? 0 : SW_EIO;
}

int sw_sha256_end(sw_sha256_t *s, uint8_t digest[32])
{
    return SHA256_Final(digest, (SHA256_CTX *)s->ctx) == 1 ? 0 : SW_EIO;
}
