// The session around a Noise handshake on a byte stream: preamble, handshake frames, the reject
// frame, then transport frames in both directions (docs/PROTOCOL.md, "Authenticated links").
#include <string.h>

#include <mbedtls/platform_util.h>

#include "swarm/seclink.h"
#include "swarm/sw.h"

static int fail(sw_seclink_t *s, int err)
{
    if (!s->err)
        s->err = err;
    return s->err;
}

static int send_frame(sw_seclink_t *s, const uint8_t *body, size_t n)
{
    sw_noise_hdr(n, s->txbuf);
    memmove(s->txbuf + SW_NOISE_HDR, body, n);
    return s->io.send(s->io.ctx, s->txbuf, SW_NOISE_HDR + n);
}

int sw_seclink_start(sw_seclink_t *s, bool initiator, const uint8_t psk[SW_NOISE_KEY],
                     const uint8_t seed[SW_NOISE_KEY], const sw_seclink_io_t *io)
{
    memset(s, 0, offsetof(sw_seclink_t, rxbuf)); // the buffers are always written before read
    s->has_alt = false;
    s->io = *io;
    sw_noise_rx_init(&s->rx, s->rxbuf, sizeof s->rxbuf);
    int rc = sw_noise_init(&s->nz, initiator, psk, seed);
    if (rc || !initiator) {
        memcpy(s->seed, seed, SW_NOISE_KEY);
        return rc;
    }
    uint8_t m[SW_NOISE_PREAMBLE_LEN + SW_NOISE_HDR + SW_NOISE_HS_LEN];
    memcpy(m, SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN);
    sw_noise_hdr(SW_NOISE_HS_LEN, m + SW_NOISE_PREAMBLE_LEN);
    if ((rc = sw_noise_write_hs(&s->nz, m + SW_NOISE_PREAMBLE_LEN + SW_NOISE_HDR)))
        return fail(s, rc);
    return s->io.send(s->io.ctx, m, sizeof m);
}

// One whole frame from the peer.
static int on_frame(sw_seclink_t *s, const uint8_t *b, size_t n)
{
    int rc;
    switch (s->nz.state) {
    case SW_NOISE_HS_READ:
        if (s->nz.initiator && n == 1) { // the responder's reject frame
            s->reject = b[0];
            return fail(s, b[0] == SW_NOISE_REJECT_AUTH ? SW_EAUTH : SW_EPROTO);
        }
        rc = sw_noise_read_hs(&s->nz, b, n);
        if (rc == SW_EAUTH && !s->nz.initiator && s->has_alt) {
            // the other key of a rotation: the same ephemeral key, a fresh state
            sw_noise_init(&s->nz, false, s->alt, s->seed);
            rc = sw_noise_read_hs(&s->nz, b, n);
        }
        if (!s->nz.initiator) {
            mbedtls_platform_zeroize(s->seed, sizeof s->seed);
            mbedtls_platform_zeroize(s->alt, sizeof s->alt);
        }
        if (rc) {
            if (!s->nz.initiator) {
                uint8_t why = rc == SW_EAUTH ? SW_NOISE_REJECT_AUTH : SW_NOISE_REJECT_PROTO;
                send_frame(s, &why, 1);
            }
            return fail(s, rc);
        }
        if (!s->nz.initiator) { // our turn: message 2, and the session is up
            uint8_t m[SW_NOISE_HS_LEN];
            if ((rc = sw_noise_write_hs(&s->nz, m)) || (rc = send_frame(s, m, sizeof m)))
                return fail(s, rc);
        }
        if (s->io.up)
            s->io.up(s->io.ctx);
        return 0;
    case SW_NOISE_READY:
        // decrypted in place: the frame buffer is ours until the next feed
        if ((rc = sw_noise_decrypt(&s->nz, b, n, (uint8_t *)b)))
            return fail(s, rc);
        s->io.plain(s->io.ctx, b, n - SW_NOISE_TAG);
        return 0;
    default:
        return fail(s, SW_EPROTO); // the peer speaks out of turn
    }
}

void sw_seclink_alt_key(sw_seclink_t *s, const uint8_t key[SW_NOISE_KEY])
{
    memcpy(s->alt, key, SW_NOISE_KEY);
    s->has_alt = true;
}

int sw_seclink_input(sw_seclink_t *s, const uint8_t *p, size_t n)
{
    if (s->err)
        return s->err;
    while (n && !s->nz.initiator && s->pre < SW_NOISE_PREAMBLE_LEN) {
        if (*p != (uint8_t)SW_NOISE_PREAMBLE[s->pre]) {
            uint8_t why = SW_NOISE_REJECT_PROTO;
            send_frame(s, &why, 1);
            return fail(s, SW_EPROTO);
        }
        s->pre++, p++, n--;
    }
    while (n) {
        size_t used;
        const uint8_t *b;
        size_t len;
        int rc = sw_noise_rx_feed(&s->rx, p, n, &used, &b, &len);
        p += used;
        n -= used;
        if (rc < 0)
            return fail(s, SW_EPROTO);
        if (rc == 1 && (rc = on_frame(s, b, len)))
            return rc;
        if (s->err) // a callback may have failed the session
            return s->err;
    }
    return 0;
}

#if SW_SECLINK_COALESCE
// Seals the k plaintext bytes at txbuf + SW_NOISE_HDR in place and sends the frame.
static int seal(sw_seclink_t *s, size_t k)
{
    int rc = sw_noise_encrypt(&s->nz, s->txbuf + SW_NOISE_HDR, k, s->txbuf + SW_NOISE_HDR);
    if (rc)
        return fail(s, rc);
    sw_noise_hdr(k + SW_NOISE_TAG, s->txbuf);
    return s->io.send(s->io.ctx, s->txbuf, SW_NOISE_HDR + k + SW_NOISE_TAG);
}

int sw_seclink_write(sw_seclink_t *s, const uint8_t *p, size_t n)
{
    if (s->err)
        return s->err;
    if (!sw_noise_ready(&s->nz))
        return SW_EINVAL;
    while (n) {
        size_t k = SW_NOISE_FRAME_PAYLOAD - s->pend;
        if (k > n)
            k = n;
        memcpy(s->txbuf + SW_NOISE_HDR + s->pend, p, k);
        s->pend = (uint16_t)(s->pend + k);
        p += k;
        n -= k;
        if (s->corked && s->pend < SW_NOISE_FRAME_PAYLOAD)
            continue;
        size_t all = s->pend;
        s->pend = 0;
        int rc = seal(s, all);
        if (rc)
            return rc;
    }
    return 0;
}

void sw_seclink_cork(sw_seclink_t *s) { s->corked = true; }

int sw_seclink_flush(sw_seclink_t *s)
{
    size_t all = s->pend;
    s->corked = false;
    s->pend = 0;
    if (s->err)
        return s->err;
    return all ? seal(s, all) : 0;
}
#else
int sw_seclink_write(sw_seclink_t *s, const uint8_t *p, size_t n)
{
    if (s->err)
        return s->err;
    if (!sw_noise_ready(&s->nz))
        return SW_EINVAL;
    while (n) {
        size_t k = n < SW_NOISE_FRAME_PAYLOAD ? n : SW_NOISE_FRAME_PAYLOAD;
        memcpy(s->txbuf + SW_NOISE_HDR, p, k);
        int rc = sw_noise_encrypt(&s->nz, s->txbuf + SW_NOISE_HDR, k, s->txbuf + SW_NOISE_HDR);
        if (rc)
            return fail(s, rc);
        sw_noise_hdr(k + SW_NOISE_TAG, s->txbuf);
        if ((rc = s->io.send(s->io.ctx, s->txbuf, SW_NOISE_HDR + k + SW_NOISE_TAG)))
            return rc;
        p += k;
        n -= k;
    }
    return 0;
}
#endif

bool sw_seclink_ready(const sw_seclink_t *s) { return !s->err && sw_noise_ready(&s->nz); }

void sw_seclink_wipe(sw_seclink_t *s) { mbedtls_platform_zeroize(s, sizeof *s); }
