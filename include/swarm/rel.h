// swarm Reliable: the selective-repeat ARQ of MoaT that runs over SerialPacker frames on lossy
// lines (docs/PROTOCOL.md, "Reliable"). Sans-I/O: the caller passes time in, and hands wire
// messages between this layer and the framer.
//
// Wire messages (one MsgPack map each):
//   data   {"s": seq, "d": <message>, "r": recv_tail [, "x": [seqs received out of order]]}
//   ack    {"s": send_head, "r": recv_tail [, "x": [...]]}
//   reset  {"a": "r", "n": 1|2|3, "c": {"t": timeout_ms, "m": window, "l": max_msg}}
//   close  {"a": "r", "n": 0 [, "e": text]}
// seq numbers run modulo window; at most window/2 messages are unacknowledged. The handshake
// is n:1 → n:2 (with the peer's config) → n:3; both sides then use timeout = max of the two and
// window = max(4, min of the two). "l" is our extension: the largest payload a side accepts; a
// peer that does not send it is taken to accept 127-byte frames (MoaT's limit), wrapper
// included: its payloads are at most 127 - (12 + window/2) bytes (111 with window 8).
//
// The ring of sequence numbers is small, so the protocol relies on the line delivering in
// order (a serial line does; loss and back-to-back duplicates are fine). For a line that can
// reorder or deliver late duplicates, set cfg.max_delay_ms: the layer then holds sequence
// numbers back long enough that a late copy can never be taken for a newer message.
// A CLOSED layer still answers a peer's n:1, so the link comes up again when the peer
// (re)starts the handshake; data and acks arriving while CLOSED are answered with a close.
//
// The line model (cfg.line_rate): frames handed to the framer may wait behind earlier ones
// before they leave, for seconds on a slow line. Told the line's rate, the layer keeps track of
// when its transmitter will be idle again and counts a frame's retransmit deadline from the
// moment its last byte has left, not from when it was handed over.
#ifndef SWARM_REL_H
#define SWARM_REL_H

#include "swarm/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_rel_cfg {
    uint8_t window;      // 4..SW_REL_MAX_WINDOW, default 8
    // Retransmit / ack timer, ms, 0..600000. 0 (the default) = derived: 1000 on a line of
    // unknown rate (line_rate 0); else 250 is announced to the peer, and once up the layer uses
    // at least max(250, 2 * (w/2) * (p + 64 + frame_overhead) * 1000 / line_rate), with w the
    // window and p the largest payload in force: an ack may wait behind w/2 of the peer's
    // largest frames. Handshake retries wait at least 1000 ms with a derived timeout (the first
    // retry of a pacing side, tx_ahead_ms set: 300 ms).
    // That bound is the latest a message is sent again. Earlier, unless the peer announced a
    // longer timeout than ours: once the message has left and so has everything we queued
    // after it (our queue carries the acks the peer may be waiting for before it can take the
    // message), it is resent after max(f, 2 * (w/2) * (q + frame_overhead) * 1000 /
    // line_rate) ms, with q the largest wire message the peer sent in the last one or two
    // timeout periods: its ack waits behind the peer's own frames, not behind ours; f = 120,
    // or 80 on a side that does not pace (tx_ahead_ms 0: the node, whose frames are replies).
    uint32_t timeout_ms;
    uint16_t max_msg;    // largest payload (one inner message) sent or accepted, bytes; default 1024
    uint8_t retries;     // handshake attempts before reporting the link down; 0 = forever. Default 5
    // Longest a wire message (or a copy of it) may spend on the line, ms, on lines that can
    // reorder; 0 (the default) = the line keeps order. When set, a sequence number is reused
    // only 2 * max_delay_ms after its last transmission, the peer's data is ignored for that
    // long after each handshake, and a handshake is never completed implicitly by data.
    uint16_t max_delay_ms;
    // Bytes per second the line carries (8N1: baud / 10); 0 (the default) = unknown, and every
    // deadline counts from the moment its message is handed to io.tx.
    uint32_t line_rate;
    // Bytes the framer adds to each wire message on the line (for the line model). Default 5,
    // SerialPacker's largest (start byte, two length bytes, CRC).
    uint8_t frame_overhead;
    // Pacing, ms (with line_rate; 0, the default, = off): sw_rel_send() takes a new payload only
    // while the line model has at most this much of our frames still to leave, so our queue
    // stays short and the acks and resends we send next leave within about this long instead
    // of behind a window of queued frames. The owner keeps what waits (sw_rel_poll() returns
    // when to offer it again). Not compiled into the MCU profiles (SW_REL_PACE, rel.c).
    uint16_t tx_ahead_ms;
} sw_rel_cfg_t;

void sw_rel_cfg_default(sw_rel_cfg_t *c);

// The callbacks run inside sw_rel_send/input/poll/start/close. rx and state may call
// sw_rel_send(), sw_rel_can_send(), sw_rel_max_payload(), sw_rel_hold(), sw_rel_start() and
// sw_rel_close(); no callback may call sw_rel_input() or sw_rel_poll(), and tx must not call
// into the layer.
typedef struct sw_rel_io {
    // Hand one wire message (a complete MsgPack map) to the framer. Returning non-zero means
    // it was not sent; the retransmit timer covers that like a loss.
    int (*tx)(void *ctx, const uint8_t *p, size_t n);
    // One payload, delivered in order and exactly once. p is valid only during the call.
    void (*rx)(void *ctx, const uint8_t *p, size_t n);
    // The link came up (handshake done) or went down (closed, reset by the peer, or the
    // handshake gave up). Payloads not yet acknowledged when it goes down are dropped.
    // "Down" is also reported when the handshake gives up or a close arrives before the link
    // was ever up, so the owner learns that the layer stopped trying. rx and state may be NULL.
    void (*state)(void *ctx, bool up);
    void *ctx;
} sw_rel_io_t;

typedef enum sw_rel_state {
    SW_REL_CLOSED = 0,
    SW_REL_RESET1, // we sent n:1 and wait for n:2
    SW_REL_RESET2, // we answered n:2 and wait for n:3 (or data, which completes it)
    SW_REL_UP,
} sw_rel_state_t;

typedef struct sw_rel_stats {
    uint32_t sent, delivered;   // payloads
    uint32_t retransmits;       // data messages sent again (timer or fast retransmit)
    uint32_t idle_resends;      // …and sent again early on an idle line (tx_ahead_ms, not counted above)
    uint32_t duplicates;        // data messages received twice (dropped)
    uint32_t out_of_order;      // data messages held for a gap
    uint32_t resets;            // handshakes completed
    uint32_t bad;               // wire messages ignored as malformed
} sw_rel_stats_t;

typedef struct sw_rel_slot {
    uint16_t len;       // payload bytes held (0 = empty)
    bool acked;         // send ring: selectively acknowledged
    uint32_t due_ms;    // send ring: retransmit deadline
} sw_rel_slot_t;

typedef struct sw_rel {
    sw_rel_cfg_t cfg;   // own configuration
    sw_rel_io_t io;
    sw_rel_state_t state;
    uint8_t window;     // in force (after the handshake merge)
    uint32_t timeout_ms;// in force
    uint16_t peer_max;  // largest payload the peer accepts (MoaT peer: what fits 127-byte frames)
    uint8_t send_head, send_tail, recv_head, recv_tail;
    bool ack_due;       // an acknowledgement should be sent
    bool rx_hold;       // the owner takes no payloads now (sw_rel_hold)
    bool in_rx;         // delivering payloads
    uint32_t ack_ms;    // when a gap forces an ack
    uint32_t reset_ms;  // next handshake retry
    uint8_t tries;      // handshake attempts so far
    uint32_t line_ms;   // line model: when our transmitter is idle again…
    uint32_t line_frac; // …plus line_frac / line_rate ms
    // Derived timeout: the largest wire message the peer sent in this period and the last one
    // (bytes), when this period began (ms), and whether the peer asked for a longer timeout.
    uint16_t peer_big, peer_big_prev;
    uint32_t peer_epoch_ms;
    bool peer_slow;
    bool peer_fresh;    // no data from the peer yet in this session (peer_big assumed)
    bool paced;         // tx_ahead_ms: a send was refused for pacing or a full window
    uint16_t peer_last; // bytes of the peer's last data message (resends on an idle line)
    uint8_t *store;     // caller-owned: 2 * ceil(window / 2) * max_msg bytes of payload slots, then scratch
    size_t store_size;
    sw_rel_slot_t tx_slot[SW_REL_MAX_WINDOW];
    sw_rel_slot_t rx_slot[SW_REL_MAX_WINDOW];
    sw_rel_stats_t stats;
} sw_rel_t;

// Bytes of storage sw_rel_init() needs for cfg: the send and receive slots plus a scratch
// buffer for one wire message (2 * ceil(window / 2) * max_msg + max_msg + 64). 0 for an invalid cfg.
size_t sw_rel_store_size(const sw_rel_cfg_t *cfg);
// Valid cfg: window 4..SW_REL_MAX_WINDOW, timeout_ms 0..600000, max_msg >= 1; io->tx set.
// The layer starts CLOSED (answering a peer's handshake, see above).
// Returns 0, or SW_EINVAL (bad cfg), SW_EFULL (store smaller than sw_rel_store_size()).
int sw_rel_init(sw_rel_t *rel, const sw_rel_cfg_t *cfg, const sw_rel_io_t *io, void *store, size_t store_size);
// Starts (or restarts) the handshake.
void sw_rel_start(sw_rel_t *rel, uint32_t now_ms);
// Sends a close message and goes down.
void sw_rel_close(sw_rel_t *rel, const char *why, uint32_t now_ms);

static inline bool sw_rel_is_up(const sw_rel_t *rel) { return rel->state == SW_REL_UP; }
// True if sw_rel_send() would accept a payload now.
bool sw_rel_can_send(const sw_rel_t *rel);
// Largest payload that may be sent now (min of ours and the peer's); 0 when not up.
size_t sw_rel_max_payload(const sw_rel_t *rel);

// Queues one payload (copied) and transmits it. p must hold exactly one complete MsgPack item
// (it is embedded in the wire map as is). Returns 0, SW_EAGAIN (not up, window full, or paced
// by cfg.tx_ahead_ms: retry after the next input/poll), SW_ETOOBIG (larger than sw_rel_max_payload()), SW_EINVAL (p is
// not one MsgPack item).
int sw_rel_send(sw_rel_t *rel, const void *p, size_t n, uint32_t now_ms);
// Holds delivery back (hold = true) while the owner cannot take payloads, e.g. because it has
// no room for the replies they would cause. Payloads keep arriving into the receive slots but
// are neither delivered nor acknowledged as received in order, so the peer's window fills and
// it stops sending; acknowledgements of our own messages are still processed. After hold =
// false, the next sw_rel_poll() delivers what was held. May be called from the callbacks.
static inline void sw_rel_hold(sw_rel_t *rel, bool hold) { rel->rx_hold = hold; }
// One wire message from the framer.
void sw_rel_input(sw_rel_t *rel, const void *p, size_t n, uint32_t now_ms);
// Tells the line model about n bytes the owner wrote to the same line outside the layer (e.g.
// console output between frames): frames handed over later leave after them. No effect when
// cfg.line_rate is 0.
void sw_rel_line_used(sw_rel_t *rel, size_t n, uint32_t now_ms);
// Delivers payloads that were held back (sw_rel_hold) if no longer held, and runs the timers
// (retransmits, delayed acks, handshake retries). Returns the ms until the
// next timer is due (call again by then, and again after sw_rel_input() or sw_rel_send(),
// which may set new timers); UINT32_MAX if none is.
uint32_t sw_rel_poll(sw_rel_t *rel, uint32_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
