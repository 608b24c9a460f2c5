// Noise transport messages carried one per MQTT message (swarm/noise_msg.h): sealing a
// plaintext message into frames, and opening them all-or-nothing.
#include <string.h>

#include "swarm/noise_msg.h"
#include "swarm/sw.h"

int sw_noise_msg_seal(sw_noise_t *s, const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (!n || !sw_noise_ready(s))
        return SW_EINVAL;
    if (cap < sw_noise_msg_size(n))
        return SW_ETOOBIG;
    size_t o = 0;
    while (n) {
        size_t k = n < SW_NOISE_FRAME_PAYLOAD ? n : SW_NOISE_FRAME_PAYLOAD;
        sw_noise_hdr(k + SW_NOISE_TAG, out + o);
        int rc = sw_noise_encrypt(s, p, k, out + o + SW_NOISE_HDR);
        if (rc)
            return rc;
        o += SW_NOISE_HDR + k + SW_NOISE_TAG;
        p += k;
        n -= k;
    }
    *len = o;
    return 0;
}

int sw_noise_msg_open(sw_noise_t *s, const uint8_t *c, size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (!sw_noise_ready(s))
        return SW_EINVAL;
    // the receive cipher is all a decryption changes: keep it to undo a failed message
    sw_noise_cipher_t saved = s->rx;
    int state = s->state;
    size_t i = 0, o = 0;
    int rc = n ? 0 : SW_EPROTO;
    while (!rc && i < n) {
        if (n - i < SW_NOISE_HDR) {
            rc = SW_EPROTO;
            break;
        }
        size_t k = (size_t)c[i] << 8 | c[i + 1];
        i += SW_NOISE_HDR;
        if (k <= SW_NOISE_TAG || k > SW_NOISE_FRAME_MAX || k > n - i)
            rc = SW_EPROTO;
        else if (k - SW_NOISE_TAG > cap - o)
            rc = SW_ETOOBIG;
        else if (!(rc = sw_noise_decrypt(s, c + i, k, out + o)))
            o += k - SW_NOISE_TAG, i += k;
    }
    if (rc) {
        s->rx = saved;
        s->state = state;
        sw_noise_zero(out, o);
        sw_noise_zero(&saved, sizeof saved);
        return rc;
    }
    sw_noise_zero(&saved, sizeof saved);
    *len = o;
    return 0;
}
