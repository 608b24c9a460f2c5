// Fuzz target: the authenticated session (src/auth/seclink.c, noise.c) on arbitrary input, as
// a node (responder) and as a host (initiator) sees it: before the handshake, and after a real
// handshake (fixed keys), so the frame decoder and the transport's tag checks get the bytes.
// Nothing may be delivered as plaintext that was not encrypted by the peer, and once the
// session has failed it must stay failed.
//
// Input: [mode] then bytes fed in chunks of [len][data...]. mode bit 0: responder/initiator;
// bit 1: complete a genuine handshake first; bit 2: feed genuine frames before the input;
// bit 3 (with bit 1): the genuine peer sends the input's pieces through corked writes instead.
#include <string.h>

#include "swarm/seclink.h"
#include "swarm/sw.h"

static sw_seclink_t me, peer;
static uint8_t peer_wire[1 << 14];
static size_t peer_wn, me_wn;
static size_t delivered;

static int to_peer(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (me_wn + n <= sizeof peer_wire) { // what we send: fed to the genuine peer
        memcpy(peer_wire + me_wn, p, n);
        me_wn += n;
    }
    return 0;
}
static uint8_t mine[1 << 14];
static int from_peer(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (peer_wn + n <= sizeof mine) {
        memcpy(mine + peer_wn, p, n);
        peer_wn += n;
    }
    return 0;
}
static uint8_t got[1 << 14]; // what was delivered (the first bytes of it)
static void plain(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    if (delivered < sizeof got)
        memcpy(got + delivered, p, n < sizeof got - delivered ? n : sizeof got - delivered);
    delivered += n;
}
static void nop_plain(void *ctx, const uint8_t *p, size_t n) { (void)ctx, (void)p, (void)n; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    bool initiator = mode & 1;
    uint8_t key[32], s1[32], s2[32];
    memset(key, 0x42, 32);
    memset(s1, 0x11, 32);
    memset(s2, 0x22, 32);
    me_wn = peer_wn = delivered = 0;
    sw_seclink_io_t io_me = {to_peer, plain, NULL, NULL}, io_peer = {from_peer, nop_plain, NULL, NULL};
    sw_seclink_start(&me, initiator, key, s1, &io_me);
    size_t genuine = 0;
    if (mode & 2) {
        sw_seclink_start(&peer, !initiator, key, s2, &io_peer);
        // run the handshake between the two
        for (int round = 0; round < 3; round++) {
            if (me_wn) {
                size_t n = me_wn;
                me_wn = 0;
                sw_seclink_input(&peer, peer_wire, n);
            }
            if (peer_wn) {
                size_t n = peer_wn;
                peer_wn = 0;
                sw_seclink_input(&me, mine, n);
            }
        }
        if (!sw_seclink_ready(&me) || !sw_seclink_ready(&peer))
            __builtin_trap();
        if (mode & 4) {
            static const uint8_t hello[] = "genuine";
            sw_seclink_write(&peer, hello, sizeof hello);
            size_t n = peer_wn;
            peer_wn = 0;
            if (sw_seclink_input(&me, mine, n) || delivered != sizeof hello)
                __builtin_trap();
            genuine = delivered;
        }
    }
#if SW_SECLINK_COALESCE
    if ((mode & 10) == 10) {
        // mode bit 3: the genuine peer writes the input's pieces corked (coalescing), flushing
        // where a piece's length byte is odd: what arrives must be the pieces, in order
        size_t base = delivered, sent = 0;
        static uint8_t want[1 << 14];
        sw_seclink_cork(&peer);
        while (size) {
            size_t n = data[0];
            bool flush = n & 1;
            data++, size--;
            if (n > size)
                n = size;
            if (base + sent + n > sizeof got)
                break;
            if (sw_seclink_write(&peer, data, n))
                __builtin_trap();
            memcpy(want + sent, data, n);
            sent += n;
            data += n;
            size -= n;
            if (flush) {
                if (sw_seclink_flush(&peer))
                    __builtin_trap();
                sw_seclink_cork(&peer);
            }
            if (peer_wn > sizeof mine - 3000) // feed what is out before the buffer fills
                break;
        }
        if (sw_seclink_flush(&peer) || sw_seclink_held(&peer))
            __builtin_trap();
        size_t n = peer_wn;
        peer_wn = 0;
        if (sw_seclink_input(&me, mine, n) || delivered - base != sent ||
            memcmp(got + base, want, sent) != 0)
            __builtin_trap();
        sw_seclink_wipe(&me);
        sw_seclink_wipe(&peer);
        return 0;
    }
#endif
    int first_err = 0;
    while (size) {
        size_t n = data[0];
        data++, size--;
        if (n > size)
            n = size;
        int rc = sw_seclink_input(&me, data, n);
        if (first_err && rc != first_err)
            __builtin_trap(); // a failed session stays failed
        if (rc && !first_err)
            first_err = rc;
        data += n;
        size -= n;
    }
    // Forging a frame takes the key: arbitrary input never authenticates (with overwhelming
    // probability; the fuzzer cannot compute Poly1305 tags), so nothing beyond the genuine bytes.
    if (delivered != genuine)
        __builtin_trap();
    sw_seclink_wipe(&me);
    sw_seclink_wipe(&peer);
    return 0;
}
