// Noise_NNpsk0_25519_ChaChaPoly_SHA256 (noiseprotocol.org, revision 34) and the framing swarm
// puts around it: the authenticated, encrypted mode of RPC links. Sans-I/O and heap-free in
// itself (the caller owns every buffer; mbedTLS's bignum code underneath allocates through its
// own platform hooks, a static pool on an MCU). Randomness comes from the caller.
//
//   -> psk, e          handshake message 1 (initiator): e.pub, then the tag of an empty payload
//   <- e, ee           handshake message 2 (responder): e.pub, then the tag of an empty payload
//
// On the wire (docs/PROTOCOL.md, "Authenticated links"): the initiator sends the 4-byte
// preamble SW_NOISE_PREAMBLE, then every message is a frame: a 2-byte big-endian length and
// that many bytes. A responder that cannot authenticate message 1 answers with a 1-byte frame
// (a SW_NOISE_REJECT_* reason) and closes. After the handshake each frame is one transport
// message: ciphertext + 16-byte tag, nonces counting from 0 in each direction, so a replayed,
// reordered, dropped, truncated or forged frame fails its tag and the link is closed.
#ifndef SW_NOISE_H
#define SW_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_NOISE_KEY 32  // pre-shared key, bytes
#define SW_NOISE_DH 32   // X25519 public key
#define SW_NOISE_TAG 16  // ChaCha20-Poly1305 tag
#define SW_NOISE_HASH 32
#define SW_NOISE_HS_LEN (SW_NOISE_DH + SW_NOISE_TAG) // both handshake messages (empty payloads)
// Largest plaintext of one transport frame (a protocol constant: receivers refuse more).
#define SW_NOISE_FRAME_PAYLOAD 2048
#define SW_NOISE_FRAME_MAX (SW_NOISE_FRAME_PAYLOAD + SW_NOISE_TAG) // largest frame body
#define SW_NOISE_HDR 2 // frame length prefix
// Sent once by the initiator before its first frame. 0xC1 is never valid MsgPack, so an open
// node (lossless stream) drops the connection at once instead of reading it as requests.
#define SW_NOISE_PREAMBLE "\xc1SN1"
#define SW_NOISE_PREAMBLE_LEN 4
// On a line (serial, stdio: no connection, so the host may find bytes of an earlier session
// waiting) the node marks where its answer to a preamble begins: SW_NOISE_LINE_LOCKED, then
// the handshake reply; an open node answers SW_NOISE_LINE_OPEN (then its link message, in
// plain). A host skips everything before either marker.
#define SW_NOISE_LINE_LOCKED "\xc1SN2"
#define SW_NOISE_LINE_OPEN "\xc1SN0"
#define SW_NOISE_LINE_MARK_LEN 4
#define SW_NOISE_PROLOGUE "swarm-noise/1" // mixed into the handshake hash (with the preamble)
enum { SW_NOISE_REJECT_AUTH = 1 /* message 1 did not authenticate: wrong key */,
       SW_NOISE_REJECT_PROTO = 2 /* not a handshake of ours */ };

// One direction's cipher: key and the next nonce.
typedef struct sw_noise_cipher {
    uint8_t k[SW_NOISE_KEY];
    uint64_t n;
    bool has_k;
} sw_noise_cipher_t;

enum { SW_NOISE_HS_WRITE = 1, SW_NOISE_HS_READ, SW_NOISE_READY, SW_NOISE_FAILED };

// A handshake, then the transport session it split into. About 300 bytes; wipe with
// sw_noise_wipe() when done.
typedef struct sw_noise {
    int state;         // SW_NOISE_HS_WRITE (our message is next), _HS_READ, _READY, _FAILED
    bool initiator;
    uint8_t ck[SW_NOISE_HASH], h[SW_NOISE_HASH];
    sw_noise_cipher_t hs;                // the handshake's cipher state
    uint8_t psk[SW_NOISE_KEY];
    uint8_t e[SW_NOISE_KEY];             // our ephemeral private key (clamped)
    uint8_t re[SW_NOISE_DH];             // the peer's ephemeral public key
    sw_noise_cipher_t tx, rx;            // after the handshake
} sw_noise_t;

// Starts a handshake. psk: the 32-byte key. seed: 32 random bytes, our ephemeral private key
// (from a CSPRNG: its secrecy is the session's forward secrecy). The prologue is
// SW_NOISE_PROLOGUE + SW_NOISE_PREAMBLE. 0 or SW_EIO (the curve code failed).
int sw_noise_init(sw_noise_t *s, bool initiator, const uint8_t psk[SW_NOISE_KEY],
                  const uint8_t seed[SW_NOISE_KEY]);
// Writes our handshake message (SW_NOISE_HS_LEN bytes) into out. 0, SW_EINVAL (not our turn),
// SW_EIO.
int sw_noise_write_hs(sw_noise_t *s, uint8_t out[SW_NOISE_HS_LEN]);
// Reads the peer's handshake message. 0; SW_EPROTO (wrong length, not our turn); SW_EAUTH
// (the tag did not verify: the peer holds another key; the state becomes FAILED).
int sw_noise_read_hs(sw_noise_t *s, const uint8_t *msg, size_t n);
bool sw_noise_ready(const sw_noise_t *s);
// The handshake hash (channel binding), valid once ready.
const uint8_t *sw_noise_hash(const sw_noise_t *s);

// Transport. Encrypts n <= SW_NOISE_FRAME_PAYLOAD bytes into out (n + SW_NOISE_TAG bytes; out
// may equal p). 0, SW_ETOOBIG, SW_EINVAL (not ready), SW_ERANGE (nonces used up).
int sw_noise_encrypt(sw_noise_t *s, const uint8_t *p, size_t n, uint8_t *out);
// Decrypts a frame body of n bytes (SW_NOISE_TAG < n <= SW_NOISE_FRAME_MAX; an empty payload
// is refused: nobody sends one) into out (n - SW_NOISE_TAG bytes; out may equal c). 0,
// SW_EPROTO (size), SW_EAUTH (tag: forged, replayed, reordered or cut; the state becomes
// FAILED and stays so), SW_EINVAL.
int sw_noise_decrypt(sw_noise_t *s, const uint8_t *c, size_t n, uint8_t *out);
void sw_noise_wipe(sw_noise_t *s);
// Zeroes n bytes in a way the compiler does not drop (key material going out of scope).
void sw_noise_zero(void *p, size_t n);

// Frame reassembly: 2-byte big-endian length, then the body, into a caller buffer of cap bytes.
typedef struct sw_noise_rx {
    uint8_t *buf;
    size_t cap;    // largest body accepted
    size_t have;   // bytes of the current frame received (header included)
    size_t len;    // body length once the header is in
} sw_noise_rx_t;

void sw_noise_rx_init(sw_noise_rx_t *r, uint8_t *buf, size_t cap);
// Takes bytes from p[0..n); *used says how many. Returns 1 with *body/*len when a whole frame
// is in (valid until the next call), 0 when more is needed (all n used), SW_ETOOBIG or
// SW_EPROTO (a length above cap or 0: the stream cannot be followed further).
int sw_noise_rx_feed(sw_noise_rx_t *r, const uint8_t *p, size_t n, size_t *used,
                     const uint8_t **body, size_t *len);
// Writes a frame header for a body of n bytes.
static inline void sw_noise_hdr(size_t n, uint8_t hdr[SW_NOISE_HDR])
{
    hdr[0] = (uint8_t)(n >> 8);
    hdr[1] = (uint8_t)n;
}

#endif
