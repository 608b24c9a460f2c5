// Noise_NNpsk0_25519_ChaChaPoly_SHA256, written from the Noise specification (revision 34,
// sections 5 "Processing rules", 9 "Pre-shared symmetric keys", 12 "DH/cipher/hash functions")
// on mbedTLS 2.28 primitives: X25519 through the ecp module (Curve25519 is a Montgomery curve
// there: a point is its X coordinate, little-endian), ChaCha20-Poly1305 (RFC 8439) and
// SHA-256/HMAC. Plus the frame reassembly of swarm's authenticated links.
#include <string.h>

#ifndef SW_NOISE_HACL
#define SW_NOISE_HACL 0 // 1: X25519 from mbedTLS's 3rdparty/everest (the firmware), 0: its ecp module
#endif

#include <mbedtls/chachapoly.h>
#if SW_NOISE_HACL
// HACL*'s entry point (3rdparty/everest/include/everest/Hacl_Curve25519.h, whose kremlib headers
// do not compile under the project's warnings)
void Hacl_Curve25519_crypto_scalarmult(uint8_t *mypublic, uint8_t *secret, uint8_t *basepoint);
#else
#include <mbedtls/ecp.h>
#endif
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "swarm/noise.h"
#include "swarm/sw.h"

static const char proto_name[] = "Noise_NNpsk0_25519_ChaChaPoly_SHA256";

///////////////////////////////////////////////////////////////////////////////////////////////
// Primitives

// X25519(k, u) per RFC 7748 (k clamped by the caller); u NULL: the base point (a public key).
#if SW_NOISE_HACL
// The firmware's X25519: HACL*'s verified Curve25519 as mbedTLS 2.28 ships it
// (3rdparty/everest, the "legacy" 64-bit-limb code that needs no 128-bit integer type): a few
// KB instead of mbedTLS's bignum + ecp, and several times faster on a Cortex-M3
// (bench/RESULTS.md, "Authenticated mode"). It clamps k and ignores u's top bit itself. A
// low-order u gives an all-zero result, refused here as mbedTLS's ecp refuses such points.
static int x25519(uint8_t out[32], const uint8_t k[32], const uint8_t *u_or_null)
{
    static const uint8_t base[32] = {9};
    uint8_t kk[32], u[32], acc = 0;
    memcpy(kk, k, 32);
    memcpy(u, u_or_null ? u_or_null : base, 32);
    Hacl_Curve25519_crypto_scalarmult(out, kk, u);
    mbedtls_platform_zeroize(kk, sizeof kk);
    for (int i = 0; i < 32; i++)
        acc |= out[i];
    return acc ? 0 : SW_EAUTH;
}
#else
// mbedTLS refuses the low-order points (an all-zero shared secret), which Noise allows a DH
// function to do.
static int x25519(uint8_t out[32], const uint8_t k[32], const uint8_t *u_or_null)
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point P, R;
    mbedtls_mpi d;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&P);
    mbedtls_ecp_point_init(&R);
    mbedtls_mpi_init(&d);
    int rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519);
    if (!rc)
        rc = mbedtls_mpi_read_binary_le(&d, k, 32);
    if (!rc && u_or_null) {
        uint8_t u[32];
        memcpy(u, u_or_null, 32);
        u[31] &= 0x7f; // RFC 7748 §5: the top bit of u is ignored
        rc = mbedtls_mpi_read_binary_le(&P.X, u, 32);
        if (!rc)
            rc = mbedtls_mpi_lset(&P.Z, 1);
    } else if (!rc) {
        rc = mbedtls_ecp_copy(&P, &grp.G);
    }
    // No RNG: mbedTLS then blinds the ladder with its internal one, seeded from the secret.
    if (!rc)
        rc = mbedtls_ecp_mul(&grp, &R, &d, &P, NULL, NULL);
    if (!rc)
        rc = mbedtls_mpi_write_binary_le(&R.X, out, 32);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&R);
    mbedtls_ecp_point_free(&P);
    mbedtls_ecp_group_free(&grp);
    return rc == MBEDTLS_ERR_ECP_INVALID_KEY ? SW_EAUTH : rc ? SW_EIO : 0;
}
#endif

// HMAC-SHA-256 (RFC 2104) of a || b under a 32-byte key, on mbedTLS's SHA-256 directly: its
// md layer would allocate two contexts on the heap per call (outside the node's pools, in the
// middle of a handshake) and adds 0.7 KB to the firmware for these few lines.
static void hmac(const uint8_t key[32], const uint8_t *a, size_t an, const uint8_t *b, size_t bn,
                 uint8_t out[32])
{
    uint8_t pad[64], inner[32];
    for (int i = 0; i < 64; i++)
        pad[i] = (uint8_t)((i < 32 ? key[i] : 0) ^ 0x36);
    mbedtls_sha256_context sh;
    mbedtls_sha256_init(&sh);
    mbedtls_sha256_starts_ret(&sh, 0);
    mbedtls_sha256_update_ret(&sh, pad, sizeof pad);
    mbedtls_sha256_update_ret(&sh, a, an);
    if (bn)
        mbedtls_sha256_update_ret(&sh, b, bn);
    mbedtls_sha256_finish_ret(&sh, inner);
    for (int i = 0; i < 64; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    mbedtls_sha256_starts_ret(&sh, 0);
    mbedtls_sha256_update_ret(&sh, pad, sizeof pad);
    mbedtls_sha256_update_ret(&sh, inner, sizeof inner);
    mbedtls_sha256_finish_ret(&sh, out);
    mbedtls_sha256_free(&sh);
    mbedtls_platform_zeroize(pad, sizeof pad);
    mbedtls_platform_zeroize(inner, sizeof inner);
}

// HKDF(chaining_key, ikm) with two or three outputs (Noise §4.3): out3 may be NULL.
static void hkdf(const uint8_t ck[32], const uint8_t *ikm, size_t n, uint8_t o1[32], uint8_t o2[32],
                 uint8_t *o3)
{
    uint8_t tmp[32];
    static const uint8_t b1 = 1, b2 = 2, b3 = 3;
    hmac(ck, ikm, n, NULL, 0, tmp);
    hmac(tmp, &b1, 1, NULL, 0, o1);
    hmac(tmp, o1, 32, &b2, 1, o2);
    if (o3)
        hmac(tmp, o2, 32, &b3, 1, o3);
    mbedtls_platform_zeroize(tmp, sizeof tmp);
}

static void nonce12(uint64_t n, uint8_t iv[12])
{
    memset(iv, 0, 4); // 32 zero bits, then the counter little-endian (Noise §12.3)
    for (int i = 0; i < 8; i++)
        iv[4 + i] = (uint8_t)(n >> (8 * i));
}

static int aead(sw_noise_cipher_t *c, bool enc, const uint8_t *ad, size_t adn, const uint8_t *in,
                size_t n, uint8_t *out, uint8_t *tag)
{
    if (c->n == UINT64_MAX)
        return SW_ERANGE; // 2^64-1 is reserved; a link never gets near it
    uint8_t iv[12];
    nonce12(c->n, iv);
    mbedtls_chachapoly_context cp;
    mbedtls_chachapoly_init(&cp);
    int rc = mbedtls_chachapoly_setkey(&cp, c->k);
    if (!rc)
        rc = enc ? mbedtls_chachapoly_encrypt_and_tag(&cp, n, iv, ad, adn, in, out, tag)
                 : mbedtls_chachapoly_auth_decrypt(&cp, n, iv, ad, adn, tag, in, out);
    mbedtls_chachapoly_free(&cp);
    if (rc)
        return rc == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED ? SW_EAUTH : SW_EIO;
    c->n++;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Symmetric state (Noise §5.2)

static void mix_hash(sw_noise_t *s, const uint8_t *p, size_t n)
{
    mbedtls_sha256_context sh;
    mbedtls_sha256_init(&sh);
    mbedtls_sha256_starts_ret(&sh, 0);
    mbedtls_sha256_update_ret(&sh, s->h, 32);
    mbedtls_sha256_update_ret(&sh, p, n);
    mbedtls_sha256_finish_ret(&sh, s->h);
    mbedtls_sha256_free(&sh);
}

static void mix_key(sw_noise_t *s, const uint8_t *ikm, size_t n)
{
    hkdf(s->ck, ikm, n, s->ck, s->hs.k, NULL);
    s->hs.n = 0;
    s->hs.has_k = true;
}

static void mix_key_and_hash(sw_noise_t *s, const uint8_t *ikm, size_t n)
{
    uint8_t th[32];
    hkdf(s->ck, ikm, n, s->ck, th, s->hs.k);
    mix_hash(s, th, 32);
    s->hs.n = 0;
    s->hs.has_k = true;
}

// Both handshake messages carry an empty payload: only its tag.
static int encrypt_and_hash_empty(sw_noise_t *s, uint8_t tag[16])
{
    int rc = aead(&s->hs, true, s->h, 32, NULL, 0, NULL, tag);
    if (!rc)
        mix_hash(s, tag, 16);
    return rc;
}

static int decrypt_and_hash_empty(sw_noise_t *s, const uint8_t tag[16])
{
    int rc = aead(&s->hs, false, s->h, 32, NULL, 0, NULL, (uint8_t *)tag);
    if (!rc)
        mix_hash(s, tag, 16);
    return rc;
}

static void split(sw_noise_t *s)
{
    uint8_t k1[32], k2[32];
    hkdf(s->ck, NULL, 0, k1, k2, NULL);
    memcpy(s->initiator ? s->tx.k : s->rx.k, k1, 32);
    memcpy(s->initiator ? s->rx.k : s->tx.k, k2, 32);
    s->tx.n = s->rx.n = 0;
    s->tx.has_k = s->rx.has_k = true;
    mbedtls_platform_zeroize(k1, 32);
    mbedtls_platform_zeroize(k2, 32);
    // what only the handshake needed
    mbedtls_platform_zeroize(s->e, sizeof s->e);
    mbedtls_platform_zeroize(s->psk, sizeof s->psk);
    mbedtls_platform_zeroize(&s->hs, sizeof s->hs);
    mbedtls_platform_zeroize(s->ck, sizeof s->ck);
    s->state = SW_NOISE_READY;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Handshake (Noise §5.3, pattern NNpsk0: -> psk, e  <- e, ee)

int sw_noise_init(sw_noise_t *s, bool initiator, const uint8_t psk[SW_NOISE_KEY],
                  const uint8_t seed[SW_NOISE_KEY])
{
    memset(s, 0, sizeof *s);
    s->initiator = initiator;
    // The name is longer than HASHLEN: h = HASH(name)
    mbedtls_sha256_ret((const uint8_t *)proto_name, sizeof proto_name - 1, s->h, 0);
    memcpy(s->ck, s->h, 32);
    uint8_t prologue[sizeof SW_NOISE_PROLOGUE - 1 + SW_NOISE_PREAMBLE_LEN];
    memcpy(prologue, SW_NOISE_PROLOGUE, sizeof SW_NOISE_PROLOGUE - 1);
    memcpy(prologue + sizeof SW_NOISE_PROLOGUE - 1, SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN);
    mix_hash(s, prologue, sizeof prologue);
    memcpy(s->psk, psk, 32);
    memcpy(s->e, seed, 32);
    s->e[0] &= 248; // clamping (RFC 7748 §5): what X25519 does to k anyway, and what mbedTLS
    s->e[31] &= 127; // checks a Montgomery private key for
    s->e[31] |= 64;
    s->state = initiator ? SW_NOISE_HS_WRITE : SW_NOISE_HS_READ;
    return 0;
}

// The e token, sent or received, in a PSK handshake: MixHash(e.pub), MixKey(e.pub) (§9.2).
static void token_e(sw_noise_t *s, const uint8_t pub[32])
{
    mix_hash(s, pub, 32);
    mix_key(s, pub, 32);
}

static int token_ee(sw_noise_t *s)
{
    uint8_t dh[32];
    int rc = x25519(dh, s->e, s->re);
    if (!rc)
        mix_key(s, dh, 32);
    mbedtls_platform_zeroize(dh, sizeof dh);
    return rc;
}

int sw_noise_write_hs(sw_noise_t *s, uint8_t out[SW_NOISE_HS_LEN])
{
    if (s->state != SW_NOISE_HS_WRITE)
        return SW_EINVAL;
    if (s->initiator)
        mix_key_and_hash(s, s->psk, 32); // psk
    int rc = x25519(out, s->e, NULL);    // e
    if (!rc) {
        token_e(s, out);
        if (!s->initiator)
            rc = token_ee(s); // ee
    }
    if (!rc)
        rc = encrypt_and_hash_empty(s, out + 32);
    if (rc) {
        s->state = SW_NOISE_FAILED;
        return rc;
    }
    if (s->initiator)
        s->state = SW_NOISE_HS_READ;
    else
        split(s);
    return 0;
}

int sw_noise_read_hs(sw_noise_t *s, const uint8_t *msg, size_t n)
{
    if (s->state != SW_NOISE_HS_READ || n != SW_NOISE_HS_LEN)
        return SW_EPROTO;
    if (!s->initiator)
        mix_key_and_hash(s, s->psk, 32); // psk
    memcpy(s->re, msg, 32);              // e
    token_e(s, s->re);
    int rc = s->initiator ? token_ee(s) : 0; // ee
    if (!rc)
        rc = decrypt_and_hash_empty(s, msg + 32);
    if (rc) {
        s->state = SW_NOISE_FAILED;
        return rc == SW_EIO ? SW_EIO : SW_EAUTH;
    }
    if (s->initiator)
        split(s);
    else
        s->state = SW_NOISE_HS_WRITE;
    return 0;
}

bool sw_noise_ready(const sw_noise_t *s) { return s->state == SW_NOISE_READY; }
const uint8_t *sw_noise_hash(const sw_noise_t *s) { return s->h; }

///////////////////////////////////////////////////////////////////////////////////////////////
// Transport

int sw_noise_encrypt(sw_noise_t *s, const uint8_t *p, size_t n, uint8_t *out)
{
    if (s->state != SW_NOISE_READY)
        return SW_EINVAL;
    if (n > SW_NOISE_FRAME_PAYLOAD)
        return SW_ETOOBIG;
    // empty additional data: each frame's nonce already binds it to its place in the stream
    return aead(&s->tx, true, NULL, 0, p, n, out, out + n);
}

int sw_noise_decrypt(sw_noise_t *s, const uint8_t *c, size_t n, uint8_t *out)
{
    if (s->state != SW_NOISE_READY)
        return SW_EINVAL;
    if (n <= SW_NOISE_TAG || n > SW_NOISE_FRAME_MAX)
        return SW_EPROTO;
    int rc = aead(&s->rx, false, NULL, 0, c, n - SW_NOISE_TAG, out, (uint8_t *)c + n - SW_NOISE_TAG);
    if (rc) {
        // A failed frame ends the session: the next nonce can never be trusted again.
        s->state = SW_NOISE_FAILED;
        mbedtls_platform_zeroize(out, n - SW_NOISE_TAG);
    }
    return rc;
}

void sw_noise_wipe(sw_noise_t *s) { mbedtls_platform_zeroize(s, sizeof *s); }

void sw_noise_zero(void *p, size_t n) { mbedtls_platform_zeroize(p, n); }

///////////////////////////////////////////////////////////////////////////////////////////////
// Frames

void sw_noise_rx_init(sw_noise_rx_t *r, uint8_t *buf, size_t cap)
{
    r->buf = buf;
    r->cap = cap;
    r->have = 0;
    r->len = 0;
}

int sw_noise_rx_feed(sw_noise_rx_t *r, const uint8_t *p, size_t n, size_t *used,
                     const uint8_t **body, size_t *len)
{
    size_t at = 0;
    *used = 0;
    while (r->have < SW_NOISE_HDR && at < n) {
        r->len = r->len << 8 | p[at++];
        if (++r->have == SW_NOISE_HDR) {
            if (r->len == 0 || r->len > r->cap) {
                *used = at;
                return r->len ? SW_ETOOBIG : SW_EPROTO;
            }
        }
    }
    if (r->have >= SW_NOISE_HDR) {
        size_t got = r->have - SW_NOISE_HDR;
        size_t k = r->len - got < n - at ? r->len - got : n - at;
        memcpy(r->buf + got, p + at, k);
        at += k;
        r->have += k;
        if (r->have == SW_NOISE_HDR + r->len) {
            *used = at;
            *body = r->buf;
            *len = r->len;
            r->have = 0;
            r->len = 0;
            return 1;
        }
    }
    *used = at;
    return 0;
}
