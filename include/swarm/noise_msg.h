// Noise transport messages over a message-oriented carrier (MQTT: docs/PROTOCOL.md, "MQTT",
// "Authenticated RPC through the broker"). One carrier message holds exactly one plaintext
// message, cut into swarm Noise frames (2-byte length + ciphertext + tag, as on TCP), so the
// framing and nonces are those of swarm/noise.h. Unlike a byte stream, a carrier message that
// fails authentication is dropped whole and the session goes on: anyone who can publish to the
// topic can send one, and closing the session for it would hand them a cheap way to cut it.
#ifndef SW_NOISE_MSG_H
#define SW_NOISE_MSG_H

#include "swarm/noise.h"

// Bytes sealing n bytes of plaintext takes (the frames' headers and tags added).
static inline size_t sw_noise_msg_size(size_t n)
{
    size_t frames = n ? (n + SW_NOISE_FRAME_PAYLOAD - 1) / SW_NOISE_FRAME_PAYLOAD : 1;
    return n + frames * (SW_NOISE_HDR + SW_NOISE_TAG);
}

// Seals p[0..n) (n >= 1) into out (cap bytes, at least sw_noise_msg_size(n)); *len: bytes
// written. 0, SW_EINVAL (not ready, n 0), SW_ETOOBIG (cap), SW_ERANGE (nonces used up).
int sw_noise_msg_seal(sw_noise_t *s, const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *len);
// Opens a sealed carrier message c[0..n) into out (cap bytes); *len: plaintext bytes. 0;
// SW_EPROTO (not frames), SW_ETOOBIG (more than cap), SW_EAUTH (a tag failed: forged, altered,
// replayed, out of order). On any error the session is as before the call (the receive nonce
// not advanced) and out holds nothing to use.
int sw_noise_msg_open(sw_noise_t *s, const uint8_t *c, size_t n, uint8_t *out, size_t cap, size_t *len);

#endif
