// A byte stream made authenticated and encrypted with swarm's Noise framing (swarm/noise.h):
// the preamble, the NNpsk0 handshake, then transport frames. Sans-I/O: the owner feeds it what
// the peer sent and gives it a function that writes to the peer. Used by both ends of RPC links
// (src/node/seclink_node.c, src/host/hsec.c); the RPC layer above sees plain bytes.
#ifndef SW_SECLINK_H
#define SW_SECLINK_H

#include "swarm/noise.h"

typedef struct sw_seclink_io {
    // Writes bytes to the peer (copied, or queued in order). 0 or an error.
    int (*send)(void *ctx, const uint8_t *p, size_t n);
    // Bytes the peer sent, decrypted and authenticated, in order.
    void (*plain)(void *ctx, const uint8_t *p, size_t n);
    // The handshake completed: from now on sw_seclink_write() works. May be NULL.
    void (*up)(void *ctx);
    void *ctx;
} sw_seclink_io_t;

// Coalescing (sw_seclink_cork / _flush): plaintext written while corked is gathered into one
// transport frame (up to SW_NOISE_FRAME_PAYLOAD), sealed at the flush, so the replies to one
// read's requests cost one AEAD operation and one 18-byte overhead instead of one each. The
// wire does not change: a stream's frames were never message boundaries. Off in the MCU
// profiles (SW_PROFILE), where flash is short: there cork and flush do nothing.
#ifndef SW_SECLINK_COALESCE
#if defined(SW_PROFILE_POSIX) && SW_PROFILE == SW_PROFILE_POSIX // the node's POSIX profile (profile.h)
#define SW_SECLINK_COALESCE 1
#elif defined(SW_PROFILE) // an MCU profile (-DSW_PROFILE=…)
#define SW_SECLINK_COALESCE 0
#else
#define SW_SECLINK_COALESCE 1
#endif
#endif

// About 4.5 KiB: a receive buffer and a send buffer of one frame each.
typedef struct sw_seclink {
    sw_noise_t nz;
    sw_noise_rx_t rx;
    sw_seclink_io_t io;
    uint8_t pre;     // responder: preamble bytes received so far
    int err;         // sticky: once set, all input is refused with it
    int reject;      // initiator: the reason byte of a responder's reject frame (0: none)
    bool has_alt;    // responder: a second key message 1 may be made with (key rotation)
    // (always here, so the layout does not depend on SW_SECLINK_COALESCE)
    bool corked;     // sw_seclink_cork: writes gather in txbuf until the flush
    uint16_t pend;   // plaintext bytes gathered in txbuf (after its header), not sealed yet
    uint8_t alt[SW_NOISE_KEY];
    uint8_t seed[SW_NOISE_KEY]; // responder: kept until message 1 is read (a retry reuses it)
    uint8_t rxbuf[SW_NOISE_FRAME_MAX];
    uint8_t txbuf[SW_NOISE_HDR + SW_NOISE_FRAME_MAX];
} sw_seclink_t;

// Starts the session. psk: the key; seed: 32 bytes from a CSPRNG. The initiator sends the
// preamble and handshake message 1 at once (through io.send). 0 or an error.
int sw_seclink_start(sw_seclink_t *s, bool initiator, const uint8_t psk[SW_NOISE_KEY],
                     const uint8_t seed[SW_NOISE_KEY], const sw_seclink_io_t *io);
// Responder: also accept handshakes made with this key (the old key during a rotation). Call
// after sw_seclink_start. Trying it costs a few hashes, no curve operation.
void sw_seclink_alt_key(sw_seclink_t *s, const uint8_t key[SW_NOISE_KEY]);
// Feeds bytes from the peer. 0, or an error after which the caller closes the connection:
//   SW_EAUTH   the handshake did not authenticate (a responder has sent its reject frame; an
//              initiator got one saying "wrong key"), or a transport frame failed its tag
//              (forged, replayed, reordered, cut)
//   SW_EPROTO  not our preamble / framing, a frame out of place, an impossible length
// Nothing the peer sent reaches io.plain unless it authenticated.
int sw_seclink_input(sw_seclink_t *s, const uint8_t *p, size_t n);
// Encrypts and sends bytes (as frames of up to SW_NOISE_FRAME_PAYLOAD). 0, SW_EINVAL before
// the handshake is done, or the send error.
int sw_seclink_write(sw_seclink_t *s, const uint8_t *p, size_t n);
bool sw_seclink_ready(const sw_seclink_t *s);
#if SW_SECLINK_COALESCE
// From now on sw_seclink_write gathers what it is given (a full frame still goes at once).
void sw_seclink_cork(sw_seclink_t *s);
// Seals and sends what was gathered, and ends the cork. 0 or the send / session error.
int sw_seclink_flush(sw_seclink_t *s);
// Bytes gathered and not sent yet, with the frame's header and tag (0: none).
static inline size_t sw_seclink_held(const sw_seclink_t *s)
{
    return s->pend ? s->pend + SW_NOISE_HDR + SW_NOISE_TAG : 0;
}
#else
static inline void sw_seclink_cork(sw_seclink_t *s) { (void)s; }
static inline int sw_seclink_flush(sw_seclink_t *s) { return (void)s, 0; }
static inline size_t sw_seclink_held(const sw_seclink_t *s) { return (void)s, 0; }
#endif
// Wipes the keys (call when the link closes).
void sw_seclink_wipe(sw_seclink_t *s);

#endif
