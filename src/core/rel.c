// swarm Reliable: MoaT's selective-repeat ARQ (include/swarm/rel.h, docs/PROTOCOL.md, "Reliable").
//
// Sequence numbers run modulo the window in force (w); at most w/2 messages are in flight, so
// the receiver can tell new (offset < w/2 from its tail) from old (the other half) as long as
// the line keeps order. Payloads live in the caller's store: ceil(w/2) send slots, as many
// receive slots, then one scratch buffer in which every outgoing wire message is built. A
// payload is kept only while its seq is within w/2 of the tail (in flight, or received ahead
// of the tail), and seq % ceil(w/2) is distinct on any such run of seqs modulo w.
//
// With the line's rate known, every message handed to io.tx is taken to leave once the line
// has carried everything handed over before it: line_ms is when the transmitter is idle again.
// Retransmit deadlines count from that moment, so a window of large frames that takes longer to
// send than the timeout does not time out while it is still waiting to go.
#include <string.h>

#include "swarm/rel.h"

#define REL_OVERHEAD 64u           // wire bytes around one payload (map, keys, s, r, x list)
#define REL_TIMEOUT_MAX 600000u    // ms; also the clamp for a peer's "t"
#define REL_MOAT_FRAME 127u        // MoaT's frame limit: peers that do not send "l" accept
                                   // SerialPacker payloads (whole wire messages) up to this
#define REL_NO_TIMER UINT32_MAX
#define REL_TIMEOUT_UNKNOWN 1000u  // ms; the derived timeout on a line of unknown rate
#define REL_TIMEOUT_FLOOR 250u     // ms; the least derived timeout on a line of known rate
// ms; the least wait for an ack once our line is quiet: the peer's turnaround. A side that
// does not pace (the node) waits less: its frames are replies, and each try of one that is
// mostly lost costs this much idle line (a 300-byte sys.info reply arrives once in eleven
// tries at 1e-3); a spurious resend of a reply costs only a duplicate. The host keeps more:
// its resends count as damage for the adaptive chunk (xchunk.c), and on a loaded host 80 ms
// made it resend at a bit-error rate of 0.
#define REL_ACK_WAIT_FLOOR 120u
#define REL_ACK_WAIT_FLOOR_REPLY 80u
// Earlier resends (ack_wait, resend_at) cost about 300 B of code; the Cortex-M images have no
// such room (mcu-full is within a few hundred bytes of 256 KB, mcu-serial of 48 KB), so the MCU
// profiles (built with -DSW_PROFILE=..., src/node/profile.h) keep the plain session deadline.
#ifndef SW_REL_EARLY_RESEND
#ifdef SW_PROFILE
#define SW_REL_EARLY_RESEND 0
#else
#define SW_REL_EARLY_RESEND 1
#endif
#endif
// Pacing (cfg.tx_ahead_ms, set by the host) and the resends on an idle line (the host's, and
// a POSIX node's while it holds requests): kept out of the MCU images, which have no room.
#ifndef SW_REL_PACE
#define SW_REL_PACE SW_REL_EARLY_RESEND
#endif
#define REL_HS_MIN 1000u           // ms; handshake retries with a derived timeout
#define REL_HS_FIRST 300u          // ms; the first retry of a pacing side (SW_REL_PACE, the host)
#define REL_FRAME_OVERHEAD 5u      // SerialPacker: start, 2 length bytes, CRC
// A line model further ahead than this is stale (the clock wrapped while the layer was idle):
// no transmitter holds ten minutes of frames.
#define REL_LINE_AHEAD_MAX 600000u

//////////////////////////////////////////////////////////////////////////////////////////////
// Small helpers

static bool due(uint32_t now, uint32_t at) { return (int32_t)(now - at) >= 0; }

static uint32_t until(uint32_t now, uint32_t at)
{
    int32_t d = (int32_t)(at - now);
    return d > 0 ? (uint32_t)d : 0;
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

// Distance from a forward to b on the ring of the window in force.
static uint8_t dist(const sw_rel_t *rel, uint8_t a, uint8_t b)
{
    return (uint8_t)((b + rel->window - a) % rel->window);
}

static uint8_t next(const sw_rel_t *rel, uint8_t a) { return (uint8_t)((a + 1u) % rel->window); }

// The reuse quarantine of a line that can reorder (0 on ordered lines).
static uint32_t hold_ms(const sw_rel_t *rel) { return 2u * rel->cfg.max_delay_ms; }

// Payload slots per direction for a window of w (the agreed window is at most our own).
static size_t slots(uint8_t w) { return ((size_t)w + 1u) / 2u; }

static uint8_t *tx_buf(sw_rel_t *rel, uint8_t seq)
{
    return rel->store + (seq % slots(rel->window)) * rel->cfg.max_msg;
}

static uint8_t *rx_buf(sw_rel_t *rel, uint8_t seq)
{
    return rel->store + (slots(rel->cfg.window) + seq % slots(rel->window)) * rel->cfg.max_msg;
}

static void scratch(sw_rel_t *rel, sw_mpw_t *w)
{
    size_t off = 2u * slots(rel->cfg.window) * rel->cfg.max_msg;
    sw_mpw_init(w, rel->store + off, (size_t)rel->cfg.max_msg + REL_OVERHEAD);
}

// The line model: n more bytes go on the line at now. Returns when the last of them has left.
static uint32_t line_take(sw_rel_t *rel, uint64_t n, uint32_t now)
{
    uint32_t rate = rel->cfg.line_rate;
    if (!rate)
        return now;
    uint32_t ahead = rel->line_ms - now;
    if ((int32_t)ahead < 0 || ahead > REL_LINE_AHEAD_MAX) { // idle: the bytes leave at once
        rel->line_ms = now;
        rel->line_frac = 0;
    }
    uint64_t t = rel->line_frac + n * 1000u;
    uint64_t ms = t / rate;
    // never more than REL_LINE_AHEAD_MAX ahead in all, or it would be taken for stale above
    if ((uint64_t)(rel->line_ms - now) + ms >= REL_LINE_AHEAD_MAX) {
        rel->line_ms = now + REL_LINE_AHEAD_MAX;
        rel->line_frac = 0;
    } else {
        rel->line_ms += (uint32_t)ms;
        rel->line_frac = (uint32_t)(t % rate);
    }
    return rel->line_ms;
}

// The line model: ms of our frames still to leave the line (0 when it is idle or unknown).
static uint32_t backlog(const sw_rel_t *rel, uint32_t now)
{
    uint32_t ahead = rel->line_ms - now;
    return rel->cfg.line_rate && (int32_t)ahead > 0 && ahead <= REL_LINE_AHEAD_MAX ? ahead : 0;
}

// Hands one wire message to the framer. Returns when it will have left (now if it was not
// taken: the timers treat that like a loss).
static uint32_t emit(sw_rel_t *rel, const sw_mpw_t *w, uint32_t now)
{
    // The scratch is sized for the largest message, so an error here is a bug, not input.
    if (w->err || rel->io.tx(rel->io.ctx, w->buf, w->len))
        return now;
    return line_take(rel, (uint64_t)w->len + rel->cfg.frame_overhead, now);
}

static void notify(sw_rel_t *rel, bool up)
{
    if (rel->io.state)
        rel->io.state(rel->io.ctx, up);
}

static void key(sw_mpw_t *w, char k) { sw_mpw_str(w, &k, 1); }

//////////////////////////////////////////////////////////////////////////////////////////////
// Configuration

void sw_rel_cfg_default(sw_rel_cfg_t *c)
{
    memset(c, 0, sizeof *c);
    c->window = 8;
    c->timeout_ms = 0;
    c->max_msg = 1024;
    c->retries = 5;
    c->max_delay_ms = 0;
    c->line_rate = 0;
    c->frame_overhead = REL_FRAME_OVERHEAD;
}

static bool cfg_ok(const sw_rel_cfg_t *c)
{
    return c && c->window >= 4 && c->window <= SW_REL_MAX_WINDOW && c->timeout_ms <= REL_TIMEOUT_MAX && c->max_msg >= 1;
}

size_t sw_rel_store_size(const sw_rel_cfg_t *cfg)
{
    if (!cfg_ok(cfg))
        return 0;
    return 2u * slots(cfg->window) * cfg->max_msg + cfg->max_msg + REL_OVERHEAD;
}

// The timeout we announce: the configured one, else the least a derived one can be.
static uint32_t own_timeout(const sw_rel_t *rel)
{
    if (rel->cfg.timeout_ms)
        return rel->cfg.timeout_ms;
    return rel->cfg.line_rate ? REL_TIMEOUT_FLOOR : REL_TIMEOUT_UNKNOWN;
}

// Handshake retries and close replies. With a derived timeout they wait at least a second: the
// peer's answer may queue behind frames it handed to its line before the handshake began. A
// pacing side (the host, which opens the line and starts the handshake) retries the first time
// sooner: at a bit-error rate of 1e-3 an n:1 or its n:2 is lost four times in ten, and a second
// that nothing else fills; a second n:1 is harmless (the peer answers n:2 again).
static uint32_t hs_timeout(const sw_rel_t *rel)
{
    uint32_t t = rel->timeout_ms;
    if (rel->cfg.timeout_ms || t >= REL_HS_MIN)
        return t;
    if (SW_REL_PACE && rel->cfg.tx_ahead_ms && rel->tries == 1 && rel->state != SW_REL_UP)
        return REL_HS_FIRST;
    return REL_HS_MIN;
}

// A derived timeout on a line of known rate, once the window and payload limit are agreed:
// an ack may wait behind window/2 of the peer's largest frames, twice that for safety.
static uint32_t line_floor(const sw_rel_t *rel)
{
    if (rel->cfg.timeout_ms || !rel->cfg.line_rate)
        return 0;
    uint64_t frame = (uint64_t)sw_rel_max_payload(rel) + REL_OVERHEAD + rel->cfg.frame_overhead;
    uint64_t t = 2u * (uint64_t)(rel->window / 2u) * frame * 1000u / rel->cfg.line_rate;
    if (t < REL_TIMEOUT_FLOOR)
        t = REL_TIMEOUT_FLOOR;
    return (uint32_t)(t < REL_TIMEOUT_MAX ? t : REL_TIMEOUT_MAX);
}

// How long after a message has left (and our queue behind it: see resend_at) its ack should
// be here, with a derived timeout: the peer's ack waits behind window/2 of the peer's own
// frames, sized by the largest it sent lately, twice that for safety; never above the
// session's timeout. A peer that asked for a longer timeout than ours gets the session's.
static uint32_t ack_wait(const sw_rel_t *rel)
{
    if (!SW_REL_EARLY_RESEND || rel->cfg.timeout_ms || !rel->cfg.line_rate || rel->peer_slow)
        return rel->timeout_ms;
    uint32_t big = rel->peer_big > rel->peer_big_prev ? rel->peer_big : rel->peer_big_prev;
    // A pacing side (the host) sizes it by the peer's last data instead: its peer answers
    // requests, and one large answer (a node's sys.info, 300 bytes) would otherwise stretch
    // the wait to 460 ms at 115200 for a second after it, just when an upload starts with
    // few requests out and a lost one leaves the line idle until then.
    if (SW_REL_PACE && rel->cfg.tx_ahead_ms && !rel->peer_fresh && rel->peer_last)
        big = rel->peer_last;
    uint64_t t = 2u * (uint64_t)(rel->window / 2u) * (big + rel->cfg.frame_overhead) * 1000u /
                 rel->cfg.line_rate;
    uint32_t floor = SW_REL_PACE && !rel->cfg.tx_ahead_ms ? REL_ACK_WAIT_FLOOR_REPLY : REL_ACK_WAIT_FLOOR;
    if (t < floor)
        t = floor;
    return t < rel->timeout_ms ? (uint32_t)t : rel->timeout_ms;
}

// Records the size of a wire message from the peer; the record covers the last one or two
// session timeouts (a burst of large frames is remembered that long after it ends).
static void peer_size(sw_rel_t *rel, size_t n, bool data, uint32_t now)
{
    if (rel->state != SW_REL_UP)
        return;
    if (data && SW_REL_PACE)
        rel->peer_last = (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX);
    if (data && rel->peer_fresh) {
        // The first data the peer sends: from now on what it sends counts, not the largest it
        // may send (which the session assumed until now). A peer that is up has answered our
        // requests so far, so its queue ahead of an ack holds frames like these.
        rel->peer_fresh = false;
        rel->peer_big = rel->peer_big_prev = 0;
        rel->peer_epoch_ms = now;
    }
    if (due(now, rel->peer_epoch_ms + rel->timeout_ms)) {
        rel->peer_big_prev = rel->peer_big;
        rel->peer_big = 0;
        rel->peer_epoch_ms = now;
    }
    if (n > rel->peer_big)
        rel->peer_big = (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX);
}

// When an unacknowledged message is sent again: at the session's deadline at the latest, or
// ack_wait after the later of its departure and our transmitter's idle time. Everything we
// queued after it carries acks the peer may need first (a peer whose window of replies is full
// holds our message unacknowledged until its replies are acknowledged).
static uint32_t resend_at(const sw_rel_t *rel, const sw_rel_slot_t *s, uint32_t now)
{
    uint32_t wait = ack_wait(rel);
    if (wait >= rel->timeout_ms)
        return s->due_ms;
    uint32_t from = s->due_ms - rel->timeout_ms; // departure
    uint32_t ahead = rel->line_ms - now;
    if ((int32_t)ahead > 0 && ahead <= REL_LINE_AHEAD_MAX && (int32_t)(rel->line_ms - from) > 0)
        from = rel->line_ms;
    uint32_t at = from + wait;
    return (int32_t)(at - s->due_ms) < 0 ? at : s->due_ms;
}

// The payload that fits a MoaT peer's 127-byte frame with the wrapper around it, worst case:
// map header, "s" seq, "d", "r" recv_tail, "x" with up to window/2 held seqs (each key 2 bytes,
// each seq a 1-byte fixint since the window is below 128).
static uint16_t moat_payload(uint8_t window)
{
    return (uint16_t)(REL_MOAT_FRAME - (1u + 2u + 1u + 2u + 2u + 1u + 2u + 1u + window / 2u));
}

// What the peer announced in "c"; absent keys keep our own values (and MoaT's frame for "l").
typedef struct peer_cfg {
    bool present; // "c" was there
    bool t_set, m_set, l_set;
    uint64_t t, m, l;
} peer_cfg_t;

// Both sides compute the same result from the two announcements, whatever order they arrive in.
// A handshake message without "c" keeps what an earlier one of the same handshake set.
static void merge(sw_rel_t *rel, const peer_cfg_t *pc)
{
    if (!pc->present)
        return;
    uint32_t t = own_timeout(rel);
    if (pc->t_set && pc->t > t)
        t = (uint32_t)(pc->t < REL_TIMEOUT_MAX ? pc->t : REL_TIMEOUT_MAX);
    rel->timeout_ms = t;
    if (SW_REL_EARLY_RESEND)
        rel->peer_slow = t > own_timeout(rel);
    uint8_t w = rel->cfg.window;
    if (pc->m_set && pc->m < w)
        w = (uint8_t)pc->m;
    rel->window = w < 4 ? 4 : w;
    rel->peer_max = (uint16_t)(!pc->l_set ? moat_payload(rel->window)
                               : pc->l > UINT16_MAX ? UINT16_MAX : pc->l);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Session state

// Forgets everything of the current session: sequence numbers restart at 0, payloads not yet
// acknowledged are dropped, held out-of-order payloads too.
static void clear_session(sw_rel_t *rel)
{
    if (rel->state != SW_REL_UP) {
        // a new handshake: our own values until the peer's are known
        rel->window = rel->cfg.window;
        rel->timeout_ms = own_timeout(rel);
        rel->peer_max = moat_payload(rel->window);
        if (SW_REL_EARLY_RESEND)
            rel->peer_slow = false;
    }
    rel->send_head = rel->send_tail = rel->recv_head = rel->recv_tail = 0;
    rel->ack_due = false;
    if (SW_REL_PACE)
        rel->paced = false;
    memset(rel->tx_slot, 0, sizeof rel->tx_slot);
    memset(rel->rx_slot, 0, sizeof rel->rx_slot);
}

int sw_rel_init(sw_rel_t *rel, const sw_rel_cfg_t *cfg, const sw_rel_io_t *io, void *store, size_t store_size)
{
    if (!rel || !cfg_ok(cfg) || !io || !io->tx || !store)
        return SW_EINVAL;
    if (store_size < sw_rel_store_size(cfg))
        return SW_EFULL;
    memset(rel, 0, sizeof *rel);
    rel->cfg = *cfg;
    rel->io = *io;
    rel->store = store;
    rel->store_size = store_size;
    rel->state = SW_REL_CLOSED;
    rel->window = cfg->window;
    rel->timeout_ms = own_timeout(rel);
    rel->peer_max = moat_payload(rel->window);
    return 0;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Writing wire messages

// {"a": "r", "n": n, "c": {...} [, "e": why]}; n:0 carries no config. Returns when it leaves.
static uint32_t send_ctl(sw_rel_t *rel, int n, const char *why, uint32_t now)
{
    sw_mpw_t w;
    scratch(rel, &w);
    size_t elen = 0;
    if (why) {
        // bounded: a close reason never outgrows the scratch
        while (why[elen] && elen < 40)
            elen++;
    }
    sw_mpw_map(&w, 2u + (n ? 1u : 0u) + (why ? 1u : 0u));
    key(&w, 'a');
    sw_mpw_str(&w, "r", 1);
    key(&w, 'n');
    sw_mpw_uint(&w, (uint64_t)n);
    if (n) {
        key(&w, 'c');
        sw_mpw_map(&w, 3);
        key(&w, 't');
        sw_mpw_uint(&w, own_timeout(rel));
        key(&w, 'm');
        sw_mpw_uint(&w, rel->cfg.window);
        key(&w, 'l');
        sw_mpw_uint(&w, rel->cfg.max_msg);
    }
    if (why) {
        key(&w, 'e');
        sw_mpw_str(&w, why, elen);
    }
    return emit(rel, &w, now);
}

// How many seqs strictly between recv_tail and recv_head we hold (the selective ack list).
static uint8_t held_count(const sw_rel_t *rel)
{
    uint8_t n = 0;
    if (rel->recv_tail == rel->recv_head)
        return 0;
    for (uint8_t q = next(rel, rel->recv_tail); q != rel->recv_head; q = next(rel, q))
        n += rel->rx_slot[q].len ? 1 : 0;
    return n;
}

// "r": recv_tail [, "x": [held seqs]] — the acknowledgement every message carries.
static void put_ack(sw_rel_t *rel, sw_mpw_t *w, uint8_t held)
{
    key(w, 'r');
    sw_mpw_uint(w, rel->recv_tail);
    if (!held)
        return;
    key(w, 'x');
    sw_mpw_array(w, held);
    for (uint8_t q = next(rel, rel->recv_tail); q != rel->recv_head; q = next(rel, q))
        if (rel->rx_slot[q].len)
            sw_mpw_uint(w, q);
}

// Any message we send acknowledges everything received so far, so a pending ack is settled.
// The retransmit deadline counts from when the message has left.
static void send_data(sw_rel_t *rel, uint8_t seq, uint32_t now)
{
    sw_rel_slot_t *slot = &rel->tx_slot[seq];
    uint8_t held = held_count(rel);
    sw_mpw_t w;
    scratch(rel, &w);
    sw_mpw_map(&w, held ? 4 : 3);
    key(&w, 's');
    sw_mpw_uint(&w, seq);
    key(&w, 'd');
    sw_mpw_raw(&w, tx_buf(rel, seq), slot->len);
    put_ack(rel, &w, held);
    rel->ack_due = false;
    slot->due_ms = emit(rel, &w, now) + rel->timeout_ms;
}

static void send_ack(sw_rel_t *rel, uint32_t now)
{
    uint8_t held = held_count(rel);
    sw_mpw_t w;
    scratch(rel, &w);
    sw_mpw_map(&w, held ? 3 : 2);
    key(&w, 's');
    sw_mpw_uint(&w, rel->send_head);
    put_ack(rel, &w, held);
    rel->ack_due = false;
    (void)emit(rel, &w, now);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// State transitions (callbacks are called last: they may call back into the layer)

static void enter_closed(sw_rel_t *rel, uint32_t now)
{
    rel->state = SW_REL_CLOSED;
    clear_session(rel);
    rel->tries = 0;
    rel->reset_ms = now + hs_timeout(rel); // earliest close reply to a talking peer
}

// Sends n:1 (with an error text for a protocol reset) and waits for n:2.
static void begin_reset(sw_rel_t *rel, uint32_t now, const char *why)
{
    rel->state = SW_REL_RESET1;
    clear_session(rel);
    rel->tries = 1;
    rel->ack_ms = now + hold_ms(rel); // n:2 accepted from then on (a late one may be stale)
    rel->reset_ms = send_ctl(rel, 1, why, now) + hs_timeout(rel);
}

// Answers a peer's n:1 with our n:2 and waits for n:3.
static void begin_answer(sw_rel_t *rel, const peer_cfg_t *pc, uint32_t now)
{
    bool fresh = rel->state != SW_REL_RESET2;
    if (fresh) {
        rel->state = SW_REL_RESET2;
        clear_session(rel);
        rel->tries = 1;
    }
    merge(rel, pc);
    uint32_t gone = send_ctl(rel, 2, NULL, now);
    if (fresh)
        rel->reset_ms = gone + hs_timeout(rel);
}

static void go_up(sw_rel_t *rel, uint32_t now)
{
    rel->state = SW_REL_UP;
    clear_session(rel);
    rel->tries = 0;
    uint32_t floor = line_floor(rel);
    if (rel->timeout_ms < floor)
        rel->timeout_ms = floor;
    // In UP, reset_ms ends the guard time in which a reordering line may still bring messages
    // of the previous session; the send slots count as last sent one quarantine ago.
    rel->reset_ms = now + hold_ms(rel);
    for (uint8_t k = 0; k < SW_REL_MAX_WINDOW; k++)
        rel->tx_slot[k].due_ms = now + rel->timeout_ms - hold_ms(rel);
    // Until the peer's first data is seen, assume the largest it may send (peer_size).
    if (SW_REL_EARLY_RESEND) {
        rel->peer_big = rel->peer_big_prev = (uint16_t)(sw_rel_max_payload(rel) + REL_OVERHEAD);
        rel->peer_epoch_ms = now;
        rel->peer_fresh = true;
    }
    rel->stats.resets++;
    notify(rel, true);
}

void sw_rel_start(sw_rel_t *rel, uint32_t now_ms)
{
    bool was_up = rel->state == SW_REL_UP;
    begin_reset(rel, now_ms, NULL);
    if (was_up)
        notify(rel, false);
}

void sw_rel_close(sw_rel_t *rel, const char *why, uint32_t now_ms)
{
    bool was_closed = rel->state == SW_REL_CLOSED;
    (void)send_ctl(rel, 0, why, now_ms);
    enter_closed(rel, now_ms);
    if (!was_closed)
        notify(rel, false);
}

bool sw_rel_can_send(const sw_rel_t *rel)
{
    return rel->state == SW_REL_UP && dist(rel, rel->send_tail, rel->send_head) < rel->window / 2;
}

size_t sw_rel_max_payload(const sw_rel_t *rel)
{
    if (rel->state != SW_REL_UP)
        return 0;
    return rel->cfg.max_msg < rel->peer_max ? rel->cfg.max_msg : rel->peer_max;
}

int sw_rel_send(sw_rel_t *rel, const void *p, size_t n, uint32_t now_ms)
{
    if (rel->state != SW_REL_UP)
        return SW_EAGAIN;
    if (n > sw_rel_max_payload(rel))
        return SW_ETOOBIG;
    if (!p || sw_mp_check(p, n))
        return SW_EINVAL;
    if (SW_REL_PACE && rel->cfg.tx_ahead_ms && rel->cfg.line_rate) {
        // The owner has more to send: see sw_rel_poll() for when to offer it again, and for
        // what a full window does with an idle line meanwhile.
        rel->paced = !sw_rel_can_send(rel) || backlog(rel, now_ms) > rel->cfg.tx_ahead_ms;
        if (rel->paced)
            return SW_EAGAIN;
    }
    if (!sw_rel_can_send(rel))
        return SW_EAGAIN;
    uint8_t seq = rel->send_head;
    memcpy(tx_buf(rel, seq), p, n);
    rel->tx_slot[seq].len = (uint16_t)n;
    rel->tx_slot[seq].acked = false;
    rel->send_head = next(rel, seq);
    rel->stats.sent++;
    send_data(rel, seq, now_ms);
    return 0;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Reading wire messages

enum { K_A = 1, K_N = 2, K_C = 4, K_S = 8, K_D = 16, K_R = 32, K_X = 64 };

typedef struct wire {
    unsigned have;
    sw_span_t a, n, c, s, d, r, x;
} wire_t;

// The single character of a one-character string key, or 0.
static char key_char(sw_span_t k)
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, k.p, k.n);
    if (sw_mpr_next(&r, &o) || o.type != SW_MP_STR || o.len != 1)
        return 0;
    return (char)o.v.p[0];
}

// Integer value of one item: 0 and *v set, or -1 for a non-integer. Integers beyond int64
// saturate (they are out of every range we check).
static int span_int(sw_span_t s, int64_t *v)
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, s.p, s.n);
    if (sw_mpr_next(&r, &o))
        return -1;
    if (o.type == SW_MP_INT) {
        *v = o.v.i;
        return 0;
    }
    if (o.type == SW_MP_UINT) {
        *v = o.v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)o.v.u;
        return 0;
    }
    return -1;
}

// Splits one wire map into the values of the keys we know (first occurrence wins).
static int parse_wire(const uint8_t *p, size_t n, wire_t *m)
{
    sw_mpr_t r;
    uint32_t pairs;
    memset(m, 0, sizeof *m);
    sw_mpr_init(&r, p, n);
    if (sw_mpr_peek(&r) != SW_MP_MAP || !sw_mpr_map(&r, &pairs))
        return -1;
    for (uint32_t i = 0; i < pairs; i++) {
        sw_span_t k, v;
        if (sw_mpr_span(&r, &k) || sw_mpr_span(&r, &v))
            return -1;
        static const char names[] = "ancsdrx";
        static const unsigned bits[] = {K_A, K_N, K_C, K_S, K_D, K_R, K_X};
        sw_span_t *const slots[] = {&m->a, &m->n, &m->c, &m->s, &m->d, &m->r, &m->x};
        char c = key_char(k);
        const char *at = c ? strchr(names, c) : NULL;
        if (!at)
            continue;
        size_t j = (size_t)(at - names);
        if (!(m->have & bits[j])) {
            m->have |= bits[j];
            *slots[j] = v;
        }
    }
    return sw_mpr_done(&r) ? 0 : -1;
}

// "c": {"t": ms, "m": window, "l": max payload}; other keys are ignored.
static int parse_cfg(const wire_t *m, peer_cfg_t *pc)
{
    memset(pc, 0, sizeof *pc);
    if (!(m->have & K_C))
        return 0;
    pc->present = true;
    sw_mpr_t r;
    uint32_t pairs;
    sw_mpr_init(&r, m->c.p, m->c.n);
    if (sw_mpr_peek(&r) != SW_MP_MAP || !sw_mpr_map(&r, &pairs))
        return -1;
    for (uint32_t i = 0; i < pairs; i++) {
        sw_span_t k, v;
        int64_t x;
        if (sw_mpr_span(&r, &k) || sw_mpr_span(&r, &v))
            return -1;
        char c = key_char(k);
        if (c != 't' && c != 'm' && c != 'l')
            continue;
        if (span_int(v, &x) || x < 0)
            return -1;
        bool *set = c == 't' ? &pc->t_set : c == 'm' ? &pc->m_set : &pc->l_set;
        uint64_t *val = c == 't' ? &pc->t : c == 'm' ? &pc->m : &pc->l;
        if (!*set) {
            *set = true;
            *val = (uint64_t)x;
        }
    }
    return 0;
}

// Validates "x" (an array of integers) without using it yet.
static int check_x(const wire_t *m)
{
    if (!(m->have & K_X))
        return 0;
    sw_mpr_t r;
    uint32_t items;
    sw_mpr_init(&r, m->x.p, m->x.n);
    if (sw_mpr_peek(&r) != SW_MP_ARRAY || !sw_mpr_array(&r, &items))
        return -1;
    for (uint32_t i = 0; i < items; i++) {
        sw_span_t v;
        int64_t q;
        if (sw_mpr_span(&r, &v) || span_int(v, &q))
            return -1;
    }
    return 0;
}

// Data and acks arriving while CLOSED: tell the peer, but at most once per timeout.
static void closed_reply(sw_rel_t *rel, uint32_t now)
{
    if (due(now, rel->reset_ms)) {
        (void)send_ctl(rel, 0, NULL, now);
        rel->reset_ms = now + hs_timeout(rel);
    }
}

static void on_ctl(sw_rel_t *rel, const wire_t *m, uint32_t now)
{
    int64_t n;
    peer_cfg_t pc;
    if (!(m->have & K_N) || span_int(m->n, &n) || parse_cfg(m, &pc)) {
        rel->stats.bad++;
        return;
    }
    bool guarded = hold_ms(rel) && !due(now, rel->reset_ms); // UP only
    switch (n) {
    case 0: // close
        if (rel->state != SW_REL_CLOSED) {
            enter_closed(rel, now);
            notify(rel, false);
        }
        break;
    case 1: // the peer (re)starts
        if (rel->state == SW_REL_UP) {
            // A late copy of the n:1 that led to this session is no restart.
            if (guarded)
                break;
            begin_answer(rel, &pc, now);
            notify(rel, false);
        } else {
            // CLOSED: passive open. RESET1: both started at once; answering lets the two
            // handshakes meet. RESET2: our n:2 was lost or is late; say it again.
            begin_answer(rel, &pc, now);
        }
        break;
    case 2: // the answer to our n:1
        if (rel->state == SW_REL_CLOSED) {
            closed_reply(rel, now);
        } else if (rel->state == SW_REL_UP) {
            (void)send_ctl(rel, 3, NULL, now); // our n:3 was lost
        } else if (rel->state == SW_REL_RESET2 || due(now, rel->ack_ms)) {
            merge(rel, &pc);
            (void)send_ctl(rel, 3, NULL, now);
            go_up(rel, now);
        }
        break;
    case 3: // the end of a handshake the peer started
        if (rel->state == SW_REL_RESET2) {
            merge(rel, &pc);
            go_up(rel, now);
        } else if (rel->state == SW_REL_CLOSED) {
            closed_reply(rel, now);
        }
        break;
    default:
        break;
    }
}

// Frees the cumulatively acknowledged slots at the tail. On a reordering line a slot is
// reused only once its last transmission is a quarantine old: until then a late copy of it
// could still arrive and be taken for the newer message using the same number.
static void advance_tail(sw_rel_t *rel, uint32_t now)
{
    uint32_t hold = hold_ms(rel);
    while (rel->send_tail != rel->send_head && rel->tx_slot[rel->send_tail].len == 0) {
        if (hold) {
            // age < 0: still queued for the line (an age far below that is a stale slot)
            int32_t age = (int32_t)(now - (rel->tx_slot[rel->send_tail].due_ms - rel->timeout_ms));
            if (age >= -(int32_t)REL_LINE_AHEAD_MAX && age < (int32_t)hold)
                break;
        }
        rel->tx_slot[rel->send_tail].acked = false;
        rel->send_tail = next(rel, rel->send_tail);
    }
}

// Applies the peer's acknowledgements (cumulative r, selective x) to our send ring.
static void on_acks(sw_rel_t *rel, uint8_t r, const wire_t *m, uint32_t now)
{
    uint8_t inflight = dist(rel, rel->send_tail, rel->send_head);
    // An r outside [tail, head] is a stale ack; it tells us nothing.
    if (dist(rel, rel->send_tail, r) <= inflight) {
        for (uint8_t k = rel->send_tail; k != r; k = next(rel, k)) {
            rel->tx_slot[k].len = 0;
            rel->tx_slot[k].acked = true;
        }
    }
    if (m->have & K_X) {
        sw_mpr_t rd;
        uint32_t items;
        sw_mpr_init(&rd, m->x.p, m->x.n);
        (void)sw_mpr_array(&rd, &items); // validated by check_x
        for (uint32_t i = 0; i < items; i++) {
            sw_span_t v;
            int64_t q;
            if (sw_mpr_span(&rd, &v) || span_int(v, &q))
                break;
            if (q >= 0 && q < rel->window && dist(rel, rel->send_tail, (uint8_t)q) < inflight &&
                rel->tx_slot[q].len)
                rel->tx_slot[q].acked = true;
        }
        // Fast retransmit, ordered lines only: a message sent before one the peer has was lost.
        if (!hold_ms(rel)) {
            bool later = false;
            uint32_t latest = 0; // due time of the latest-sent held message after this one
            for (uint8_t k = inflight; k-- > 0;) {
                uint8_t seq = (uint8_t)((rel->send_tail + k) % rel->window);
                sw_rel_slot_t *s = &rel->tx_slot[seq];
                if (!s->len)
                    continue;
                if (s->acked) {
                    if (!later || (int32_t)(s->due_ms - latest) > 0)
                        latest = s->due_ms;
                    later = true;
                } else if (later && (int32_t)(s->due_ms - latest) < 0) {
                    rel->stats.retransmits++;
                    send_data(rel, seq, now);
                }
            }
        }
    }
    advance_tail(rel, now);
}

// Delivers the in-order prefix, unless the owner holds delivery back. The slot is released
// before the callback, which may send (or hold). Not re-entered from inside the callback.
static void deliver(sw_rel_t *rel)
{
    if (rel->in_rx)
        return;
    rel->in_rx = true;
    while (rel->state == SW_REL_UP && !rel->rx_hold && rel->recv_tail != rel->recv_head &&
           rel->rx_slot[rel->recv_tail].len) {
        uint8_t seq = rel->recv_tail;
        uint16_t len = rel->rx_slot[seq].len;
        rel->rx_slot[seq].len = 0;
        rel->recv_tail = next(rel, seq);
        rel->stats.delivered++;
        rel->ack_due = true;
        if (rel->io.rx)
            rel->io.rx(rel->io.ctx, rx_buf(rel, seq), len);
    }
    rel->in_rx = false;
}

static void on_data(sw_rel_t *rel, const wire_t *m, uint32_t now)
{
    int64_t s, r;
    if (!(m->have & K_S) || !(m->have & K_R) || span_int(m->s, &s) || span_int(m->r, &r) ||
        check_x(m) || ((m->have & K_D) && m->d.n > rel->cfg.max_msg)) {
        rel->stats.bad++;
        return;
    }
    bool bounded = s >= 0 && s < rel->window && r >= 0 && r < rel->window;
    switch (rel->state) {
    case SW_REL_CLOSED:
        closed_reply(rel, now);
        return;
    case SW_REL_RESET1:
        (void)send_ctl(rel, 1, NULL, now); // the peer is still in a session we left
        return;
    case SW_REL_RESET2:
        // The originator is up and talking: our n:3 was lost. Its first messages cannot ack
        // anything yet (r = 0). Not on reordering lines, where this may be a stale message.
        if (hold_ms(rel) || !bounded || r != 0 || (m->have & K_X))
            return;
        go_up(rel, now);
        if (rel->state != SW_REL_UP)
            return;
        break;
    case SW_REL_UP:
        if (!bounded) {
            begin_reset(rel, now, "R/S out of bounds");
            notify(rel, false);
            return;
        }
        if (hold_ms(rel) && !due(now, rel->reset_ms))
            return; // may be from the previous session
        break;
    }

    uint8_t half = rel->window / 2;
    bool gap_before = rel->recv_tail != rel->recv_head;
    if (m->have & K_D) {
        uint8_t seq = (uint8_t)s;
        uint8_t off = dist(rel, rel->recv_tail, seq);
        if (off < half && !rel->rx_slot[seq].len) {
            memcpy(rx_buf(rel, seq), m->d.p, m->d.n);
            rel->rx_slot[seq].len = (uint16_t)m->d.n;
            if (off >= dist(rel, rel->recv_tail, rel->recv_head))
                rel->recv_head = next(rel, seq);
            if (off)
                rel->stats.out_of_order++;
        } else {
            rel->stats.duplicates++; // old or already held: the ack was lost, so ack again
        }
        rel->ack_due = true;
    } else {
        // An ack tells us how far the peer has sent: what we lack becomes a gap to report.
        uint8_t off = dist(rel, rel->recv_tail, (uint8_t)s);
        if (off <= half && off > dist(rel, rel->recv_tail, rel->recv_head))
            rel->recv_head = (uint8_t)s;
    }

    on_acks(rel, (uint8_t)r, m, now);
    deliver(rel);
    if (rel->state != SW_REL_UP)
        return;
    if (rel->recv_tail != rel->recv_head && !gap_before)
        rel->ack_ms = now + rel->timeout_ms;
    if (rel->ack_due)
        send_ack(rel, now);
}

void sw_rel_input(sw_rel_t *rel, const void *p, size_t n, uint32_t now_ms)
{
    wire_t m;
    if (!p || sw_mp_check(p, n) || parse_wire(p, n, &m)) {
        rel->stats.bad++;
        return;
    }
    if (m.have & K_A) {
        sw_mpr_t r;
        sw_mp_obj_t o;
        sw_mpr_init(&r, m.a.p, m.a.n);
        if (!sw_mpr_next(&r, &o) && sw_mp_obj_streq(&o, "r"))
            on_ctl(rel, &m, now_ms);
        return; // other actions belong to other layers
    }
    if (SW_REL_EARLY_RESEND)
        peer_size(rel, n, (m.have & K_D) != 0, now_ms);
    on_data(rel, &m, now_ms);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Timers

// While the owner has payloads waiting (rel->paced: refused for pacing or a full window) or
// holds the peer's back for want of room for its own (rx_hold): returns when to offer them
// again. With the window full and the line idle, the line would carry nothing until an ack
// comes: it carries the oldest unacknowledged message again instead, one at a time (a resend
// that was lost, or one the peer still misses, is the likely reason the window is full). It
// costs the new payloads at most one frame's time, since they wait for the window anyway.
static uint32_t pace(sw_rel_t *rel, uint8_t inflight, uint32_t now)
{
    uint32_t left = backlog(rel, now);
    if (sw_rel_can_send(rel)) {
        if (!rel->paced)
            return REL_NO_TIMER;
        return left > rel->cfg.tx_ahead_ms ? left - rel->cfg.tx_ahead_ms : 0;
    }
    if (left)
        return left;
    sw_rel_slot_t *old = NULL;
    uint8_t seq = 0;
    for (uint8_t k = 0; k < inflight; k++) {
        uint8_t q = (uint8_t)((rel->send_tail + k) % rel->window);
        sw_rel_slot_t *s = &rel->tx_slot[q];
        if (s->len && !s->acked && (!old || (int32_t)(s->due_ms - old->due_ms) < 0)) {
            old = s;
            seq = q;
        }
    }
    // Only in the direction of the bulk. An owner with payloads waiting (an upload) resends
    // while the peer's data is no larger than ours: it answers with small replies, so its
    // acks do not queue long behind its own frames, and a frame still unacknowledged when our
    // line falls idle is likely lost; a peer that sends the bulk (a download) delays its acks
    // by up to half a window of its frames. An owner that holds the peer's payloads (a node
    // answering an upload) resends its replies while they are no larger than the peer's data.
    if (!old || (rel->paced ? rel->peer_last > old->len : old->len > rel->peer_last))
        return REL_NO_TIMER;
    rel->stats.idle_resends++;
    send_data(rel, seq, now);
    return backlog(rel, now);
}

uint32_t sw_rel_poll(sw_rel_t *rel, uint32_t now_ms)
{
    uint32_t now = now_ms;
    if (rel->state == SW_REL_CLOSED)
        return REL_NO_TIMER;
    if (rel->state != SW_REL_UP) {
        if (!due(now, rel->reset_ms))
            return until(now, rel->reset_ms);
        if (rel->cfg.retries && rel->tries >= rel->cfg.retries) {
            enter_closed(rel, now);
            notify(rel, false);
            return REL_NO_TIMER;
        }
        if (rel->tries < UINT8_MAX)
            rel->tries++;
        rel->reset_ms = send_ctl(rel, rel->state == SW_REL_RESET1 ? 1 : 2, NULL, now) + hs_timeout(rel);
        return until(now, rel->reset_ms);
    }

    deliver(rel); // what was held back, if the owner takes it now
    if (rel->state != SW_REL_UP)
        return REL_NO_TIMER;
    advance_tail(rel, now);
    uint32_t wait = REL_NO_TIMER;
    uint8_t inflight = dist(rel, rel->send_tail, rel->send_head);
    for (uint8_t k = 0; k < inflight; k++) {
        uint8_t seq = (uint8_t)((rel->send_tail + k) % rel->window);
        sw_rel_slot_t *s = &rel->tx_slot[seq];
        if (!s->len || s->acked)
            continue;
        if (due(now, resend_at(rel, s, now))) {
            rel->stats.retransmits++;
            send_data(rel, seq, now);
        }
        wait = min_u32(wait, until(now, resend_at(rel, s, now)));
    }
    // A quarantined tail slot frees itself when its time is up.
    if (inflight && !rel->tx_slot[rel->send_tail].len)
        wait = min_u32(wait, until(now, rel->tx_slot[rel->send_tail].due_ms - rel->timeout_ms + hold_ms(rel)));
    if (rel->recv_tail != rel->recv_head) {
        if (due(now, rel->ack_ms)) {
            rel->ack_due = true; // a gap: tell the sender what is missing
            rel->ack_ms = now + rel->timeout_ms;
        }
        wait = min_u32(wait, until(now, rel->ack_ms));
    }
    if (rel->ack_due)
        send_ack(rel, now);
    if (SW_REL_PACE && rel->cfg.line_rate && (rel->paced || rel->rx_hold))
        wait = min_u32(wait, pace(rel, inflight, now));
    return wait;
}

void sw_rel_line_used(sw_rel_t *rel, size_t n, uint32_t now_ms)
{
    if (n)
        (void)line_take(rel, n < REL_LINE_AHEAD_MAX ? n : REL_LINE_AHEAD_MAX, now_ms);
}
