// Reliable ARQ: two sw_rel_t peers joined by a simulated line on a virtual clock. The line is a
// queue of wire messages with a delivery time each; it can lose, duplicate, delay and (when
// the peers are told how late a message may be) reorder them, and it can be paced like a
// serial line: each direction then carries a given number of bytes per second, and a message
// leaves only after everything handed over before it. Payloads carry the sender's
// session id and an index, so the receiver checks exactly-once, in-order, intact delivery.
#include "testutil.h"

#include "swarm/rel.h"

#include "../../src/host/xchunk.h"

#define WIRE_MAX 1200
#define QUEUE_MAX 2048
#define MAX_MSG 128
#define BIG_MAX 1024 // payloads of a big_uid session (sim.big_len bytes of blob)
#define IDLE_MS 100000u // the longest the clock jumps when nothing is pending

typedef struct line_cfg {
    uint32_t loss, dup;  // per mille
    uint32_t dmin, dmax; // delivery delay, ms
    bool fifo;           // keep order per direction (a serial line)
} line_cfg_t;

typedef struct wire {
    uint32_t at;
    uint64_t order;
    uint8_t to;
    uint16_t n;
    uint8_t b[WIRE_MAX];
} wire_t;

typedef struct sim sim_t;

typedef struct peer {
    sim_t *sim;
    int id;
    sw_rel_t rel;
    sw_rel_cfg_t cfg;
    uint8_t store[2 * SW_REL_MAX_WINDOW * 1024 + 1024 + 64];
    uint32_t next_poll;
    bool poll_now;
    // sending application: a session's payloads are numbered from 0
    uint32_t quota;    // payloads to send in each session
    uint32_t tx_uid;   // our current session id (0: not up)
    uint32_t tx_next;  // next index to send
    // receiving application
    uint32_t rx_uid;   // sender session seen in this session (0: none yet)
    uint32_t rx_next;  // next index expected
    uint32_t rx_last_uid;
    uint32_t ups, downs;
    // wire capture
    uint8_t last[WIRE_MAX];
    size_t last_n;
    uint32_t txs;
    bool mute; // drop everything this peer sends
    bool hold_after; // cb_rx holds delivery after each payload
    uint8_t got[WIRE_MAX]; // payloads taken by cb_capture, one after the other
    size_t got_n;
    // a server like the node's link: each payload received asks for one reply, and while a
    // reply waits for room in the window, delivery is held back
    bool server;
    uint32_t owed;     // replies not yet sent
    bool hello;        // a server that sends one message of its own when the link comes up
    // a client like swarm's transfer engine: at most xwin requests ahead of the replies (0: no
    // limit)
    uint32_t xwin;
    uint32_t refused;  // sends refused for pacing or a full window (tx_ahead_ms)
    // a client that runs a whole transfer (run_put): may it send payload tx_next now; called
    // before payload tx_next is built and after it was taken; each payload received
    bool (*gate)(struct peer *p);
    void (*pre)(struct peer *p);
    void (*post)(struct peer *p);
    void (*on_got)(struct peer *p, uint32_t idx);
} peer_t;

struct sim {
    uint32_t now;
    peer_t p[2];
    wire_t q[QUEUE_MAX];
    size_t nq;
    uint64_t order;
    uint32_t last_at[2];
    uint32_t uids;
    uint32_t stop; // the clock does not jump past this
    tu_rng_t rng;
    line_cfg_t line;
    uint32_t rate;       // pacing: bytes/s each way, 5 added per message (SerialPacker); 0 = none
    // pacing and counters, per destination
    uint64_t busy_us[2]; // when the transmitter towards [to] is idle, µs of virtual time
    uint64_t bytes[2];   // bytes put on the line (with the framer's 5)
    uint64_t idle_us[2]; // time the transmitter towards [to] had nothing to send
    uint32_t msgs[2], lost[2];
    uint32_t ber_e7;     // bit errors per 10^7 bits: a message of n bytes (+5) is lost with
                         // probability 1 - (1 - ber)^(8 (n + 5)), on top of line.loss
    uint32_t small_uid;  // payloads of this sender session are small (0..23 blob bytes)
    uint32_t big_uid;    // payloads of this sender session have big_len bytes of blob
    uint32_t big_len;
    // blob bytes of payload idx of session uid, or UINT32_MAX for the rules above (run_put)
    uint32_t (*len_of)(uint32_t uid, uint32_t idx);
};

static sim_t sim_;

//////////////////////////////////////////////////////////////////////////////////////////////
// Payloads: [uid, idx, bin(blob)], the blob a function of (uid, idx)

static uint32_t mix(uint32_t a, uint32_t b)
{
    uint64_t x = (uint64_t)a * 0x9E3779B97F4A7C15ull ^ (uint64_t)(b + 1) * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (uint32_t)x;
}

static size_t make_payload(uint32_t uid, uint32_t idx, uint8_t *out, size_t cap)
{
    uint8_t blob[BIG_MAX];
    uint32_t n = mix(uid, idx) % (uid && uid == sim_.small_uid ? 24 : MAX_MSG - 16);
    if (uid && uid == sim_.big_uid)
        n = sim_.big_len;
    uint32_t m = sim_.len_of ? sim_.len_of(uid, idx) : UINT32_MAX;
    if (m != UINT32_MAX)
        n = m;
    for (uint32_t k = 0; k < n; k++)
        blob[k] = (uint8_t)mix(uid ^ idx, k);
    sw_mpw_t w;
    sw_mpw_init(&w, out, cap);
    sw_mpw_array(&w, 3);
    sw_mpw_uint(&w, uid);
    sw_mpw_uint(&w, idx);
    sw_mpw_bin(&w, blob, n);
    assert_int_equal(w.err, 0);
    return w.len;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Callbacks

static void line_push(sim_t *s, int to, const uint8_t *p, size_t n)
{
    line_cfg_t *l = &s->line;
    uint32_t base = s->now; // when the message has left
    s->bytes[to] += n + 5;
    s->msgs[to]++;
    if (s->rate) {
        // No clock wrap in paced runs: absolute µs.
        uint64_t now_us = (uint64_t)s->now * 1000u;
        if (s->busy_us[to] < now_us) {
            s->idle_us[to] += now_us - s->busy_us[to];
            s->busy_us[to] = now_us;
        }
        s->busy_us[to] += (uint64_t)(n + 5) * 1000000u / s->rate;
        base = (uint32_t)((s->busy_us[to] + 999u) / 1000u);
    }
    for (int copy = 0; copy < 2; copy++) {
        if (copy && tu_below(&s->rng, 1000) >= l->dup)
            break;
        bool damaged = false;
        if (s->ber_e7) {
            double keep = 1.0;
            for (size_t bit = 0; bit < 8u * (n + 5); bit++)
                keep *= 1.0 - s->ber_e7 / 1e7;
            damaged = tu_below(&s->rng, 1000000000u) >= (uint32_t)(keep * 1e9);
        }
        if (tu_below(&s->rng, 1000) < l->loss || damaged) {
            s->lost[to]++;
            continue;
        }
        assert_true(s->nq < QUEUE_MAX);
        assert_true(n <= WIRE_MAX);
        wire_t *w = &s->q[s->nq++];
        uint32_t at = base + l->dmin + tu_below(&s->rng, l->dmax - l->dmin + 1);
        if (l->fifo) {
            if ((int32_t)(s->last_at[to] - s->now) > 0 && (int32_t)(at - s->last_at[to]) < 0)
                at = s->last_at[to];
            s->last_at[to] = at;
        }
        w->at = at;
        w->order = s->order++;
        w->to = (uint8_t)to;
        w->n = (uint16_t)n;
        memcpy(w->b, p, n);
    }
}

static int cb_tx(void *ctx, const uint8_t *p, size_t n)
{
    peer_t *me = ctx;
    assert_int_equal(sw_mp_check(p, n), 0);
    assert_true(n <= WIRE_MAX);
    memcpy(me->last, p, n);
    me->last_n = n;
    me->txs++;
    if (getenv("REL_TRACE_TX")) // debugging aid: every message handed to the line
        fprintf(stderr, "%10u %d-> %zu bytes\n", (unsigned)me->sim->now, me->id, n);
    if (!me->mute)
        line_push(me->sim, 1 - me->id, p, n);
    return 0;
}

static void app_send(sim_t *s, peer_t *p);

static void cb_rx(void *ctx, const uint8_t *p, size_t n)
{
    peer_t *me = ctx;
    sw_mpr_t r;
    uint32_t items;
    uint64_t uid = 0, idx = 0;
    sw_span_t blob;
    assert_int_equal(sw_mp_check(p, n), 0);
    sw_mpr_init(&r, p, n);
    assert_true(sw_mpr_array(&r, &items) && items == 3);
    assert_true(sw_mpr_uint(&r, &uid) && sw_mpr_uint(&r, &idx));
    assert_true(sw_mpr_bin(&r, &blob));
    // contents intact
    uint8_t want[BIG_MAX + 16];
    size_t m = make_payload((uint32_t)uid, (uint32_t)idx, want, sizeof want);
    assert_int_equal(m, n);
    assert_memory_equal(p, want, n);
    // exactly once and in order, and never a payload of an older session
    if (me->rx_uid == 0) {
        if (idx != 0 || uid <= me->rx_last_uid)
            fail_msg("peer %d: session starts with uid %u idx %u (last uid %u)", me->id, (unsigned)uid,
                     (unsigned)idx, (unsigned)me->rx_last_uid);
        me->rx_uid = (uint32_t)uid;
    } else if (uid != me->rx_uid || idx != me->rx_next) {
        fail_msg("peer %d: got uid %u idx %u, want uid %u idx %u", me->id, (unsigned)uid, (unsigned)idx,
                 (unsigned)me->rx_uid, (unsigned)me->rx_next);
    }
    me->rx_next++;
    if (me->on_got)
        me->on_got(me, (uint32_t)idx);
    if (me->server) {
        me->owed++;
        if (!sw_rel_can_send(&me->rel))
            sw_rel_hold(&me->rel, true); // no room for the reply: take no more requests
        else
            app_send(me->sim, me);
    }
    if (me->hold_after)
        sw_rel_hold(&me->rel, true);
}

// For hand-made payloads that are not of make_payload()'s shape: just log the bytes.
static void cb_capture(void *ctx, const uint8_t *p, size_t n)
{
    peer_t *me = ctx;
    assert_true(me->got_n + n <= WIRE_MAX);
    memcpy(me->got + me->got_n, p, n);
    me->got_n += n;
}

static void cb_state(void *ctx, bool up)
{
    peer_t *me = ctx;
    if (me->rx_uid)
        me->rx_last_uid = me->rx_uid;
    me->rx_uid = 0;
    me->rx_next = 0;
    me->tx_next = 0;
    me->tx_uid = up ? ++me->sim->uids : 0;
    if (up) {
        assert_true(sw_rel_is_up(&me->rel));
        me->ups++;
        if (me->hello)
            me->owed = 1; // (the node's link message)
    } else {
        assert_false(sw_rel_is_up(&me->rel));
        me->downs++;
    }
}

//////////////////////////////////////////////////////////////////////////////////////////////
// The simulation

static void peer_init(sim_t *s, int id, const sw_rel_cfg_t *cfg)
{
    peer_t *p = &s->p[id];
    memset(p, 0, sizeof *p);
    p->sim = s;
    p->id = id;
    p->cfg = *cfg;
    sw_rel_io_t io = {cb_tx, cb_rx, cb_state, p};
    assert_true(sw_rel_store_size(cfg) <= sizeof p->store);
    assert_int_equal(sw_rel_init(&p->rel, cfg, &io, p->store, sizeof p->store), 0);
    p->next_poll = s->now;
}

static void sim_init(sim_t *s, uint64_t seed, const line_cfg_t *line, const sw_rel_cfg_t *c0,
                     const sw_rel_cfg_t *c1, uint32_t t0)
{
    memset(s, 0, sizeof *s);
    s->rng.s = seed * 0x2545F4914F6CDD1Dull + 1;
    s->line = *line;
    s->now = t0;
    s->last_at[0] = s->last_at[1] = t0;
    peer_init(s, 0, c0);
    peer_init(s, 1, c1);
}

static void peer_poll(sim_t *s, peer_t *p)
{
    uint32_t wait = sw_rel_poll(&p->rel, s->now);
    p->next_poll = wait == UINT32_MAX ? s->now + IDLE_MS : s->now + wait;
    p->poll_now = false;
}

static void app_send(sim_t *s, peer_t *p)
{
    // (with tx_ahead_ms the layer is asked even when the window is full: it then knows that
    // payloads wait)
    while (p->tx_uid &&
           (p->gate ? p->gate(p)
                    : (p->tx_next < p->quota && (!p->xwin || p->tx_next < p->rx_next + p->xwin)) || p->owed) &&
           (p->rel.cfg.tx_ahead_ms || sw_rel_can_send(&p->rel))) {
        uint8_t buf[BIG_MAX + 16];
        if (p->pre)
            p->pre(p);
        size_t n = make_payload(p->tx_uid, p->tx_next, buf, sizeof buf);
        int rc = sw_rel_send(&p->rel, buf, n, s->now);
        if (rc == SW_EAGAIN && p->rel.cfg.tx_ahead_ms) {
            p->refused++;
            p->poll_now = true; // the poll says when to offer it again
            break;
        }
        assert_int_equal(rc, 0);
        assert_true(sw_rel_max_payload(&p->rel) >= n);
        if (p->owed)
            p->owed--;
        if (p->post)
            p->post(p);
        p->tx_next++;
        p->poll_now = true;
    }
    if (p->server && !p->owed && p->rel.rx_hold) {
        sw_rel_hold(&p->rel, false); // room again: the next poll delivers what waited
        p->poll_now = true;
    }
    // the window bound of the protocol
    assert_true((uint8_t)((p->rel.send_head + p->rel.window - p->rel.send_tail) % p->rel.window) <=
                p->rel.window / 2);
}

// Delivers every message due now, lets the applications send, runs due timers, then moves
// the clock to the next event.
static void sim_step(sim_t *s)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < s->nq; i++) {
            if ((int32_t)(s->q[i].at - s->now) > 0)
                continue;
            if (best == SIZE_MAX || (int32_t)(s->q[i].at - s->q[best].at) < 0 ||
                (s->q[i].at == s->q[best].at && s->q[i].order < s->q[best].order))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        wire_t w = s->q[best];
        s->q[best] = s->q[--s->nq];
        if (getenv("REL_TRACE")) { // debugging aid: REL_TRACE=1 t/test_rel
            fprintf(stderr, "%10u %d<-", (unsigned)s->now, w.to);
            for (size_t k = 0; k < w.n; k++)
                fprintf(stderr, " %02x", w.b[k]);
            fprintf(stderr, "\n");
        }
        peer_t *p = &s->p[w.to];
        sw_rel_input(&p->rel, w.b, w.n, s->now);
        p->poll_now = true;
    }
    for (int i = 0; i < 2; i++) {
        peer_t *p = &s->p[i];
        app_send(s, p);
        if (p->poll_now || (int32_t)(s->now - p->next_poll) >= 0) {
            peer_poll(s, p);
            app_send(s, p); // a quarantine or timer may have freed a slot
            if (p->poll_now)
                peer_poll(s, p);
        }
    }
    uint32_t next = s->now + IDLE_MS;
    for (size_t i = 0; i < s->nq; i++)
        if ((int32_t)(s->q[i].at - next) < 0)
            next = s->q[i].at;
    for (int i = 0; i < 2; i++)
        if ((int32_t)(s->p[i].next_poll - next) < 0)
            next = s->p[i].next_poll;
    if ((int32_t)(next - s->stop) > 0)
        next = s->stop;
    if ((int32_t)(next - s->now) <= 0)
        next = s->now + 1;
    s->now = next;
}

static bool both_up(sim_t *s) { return sw_rel_is_up(&s->p[0].rel) && sw_rel_is_up(&s->p[1].rel); }

static bool all_delivered(sim_t *s)
{
    return both_up(s) && s->p[0].rx_next == s->p[1].quota && s->p[1].rx_next == s->p[0].quota;
}

// Runs until done(s) holds; fails if that takes more than limit ms of virtual time.
static void sim_run(sim_t *s, bool (*done)(sim_t *), uint32_t limit)
{
    uint32_t start = s->now;
    s->stop = start + limit + 1;
    while (!done(s)) {
        if (s->now - start > limit)
            fail_msg("not done after %u ms (delivered %u/%u and %u/%u, states %d %d)", (unsigned)limit,
                     (unsigned)s->p[0].rx_next, (unsigned)s->p[1].quota, (unsigned)s->p[1].rx_next,
                     (unsigned)s->p[0].quota, s->p[0].rel.state, s->p[1].rel.state);
        sim_step(s);
    }
}

// Runs for ms of virtual time.
static void sim_for(sim_t *s, uint32_t ms)
{
    uint32_t end = s->now + ms;
    s->stop = end;
    while ((int32_t)(s->now - end) < 0)
        sim_step(s);
}

static sw_rel_cfg_t cfg_make(uint8_t window, uint32_t timeout, uint16_t max_msg)
{
    sw_rel_cfg_t c;
    sw_rel_cfg_default(&c);
    c.window = window;
    c.timeout_ms = timeout;
    c.max_msg = max_msg;
    return c;
}

static const line_cfg_t clean = {0, 0, 1, 1, true};

// Brings a clean pair up (A starts) and empties the line.
static void pair_up(sim_t *s, const sw_rel_cfg_t *c0, const sw_rel_cfg_t *c1)
{
    sim_init(s, 1, &clean, c0, c1, 1000);
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, both_up, 1000);
    sim_for(s, 5);
    assert_int_equal(s->nq, 0);
}

// Feeds hex bytes to a peer as one wire message.
static void feed_hex(sim_t *s, int id, const char *hex)
{
    uint8_t b[512];
    size_t n = tu_hex(hex, b, sizeof b);
    sw_rel_input(&s->p[id].rel, b, n, s->now);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Configuration and init

static void test_init_checks(void **state)
{
    (void)state;
    sw_rel_cfg_t c;
    sw_rel_cfg_default(&c);
    assert_int_equal(c.window, 8);
    assert_int_equal(c.timeout_ms, 0); // derived
    assert_int_equal(c.max_msg, 1024);
    assert_int_equal(c.retries, 5);
    assert_int_equal(c.max_delay_ms, 0);
    assert_int_equal(c.line_rate, 0);
    assert_int_equal(c.frame_overhead, 5);
    assert_int_equal(sw_rel_store_size(&c), 2 * 4 * 1024 + 1024 + 64); // w/2 slots each way

    static uint8_t store[20000];
    sw_rel_t rel;
    sw_rel_io_t io = {cb_tx, NULL, NULL, NULL};
    assert_int_equal(sw_rel_init(&rel, &c, &io, store, sizeof store), 0);
    assert_int_equal(rel.state, SW_REL_CLOSED);
    assert_int_equal(rel.timeout_ms, 1000); // a derived timeout on a line of unknown rate
    assert_int_equal(sw_rel_max_payload(&rel), 0);
    assert_false(sw_rel_can_send(&rel));
    assert_int_equal(sw_rel_poll(&rel, 5), UINT32_MAX);
    assert_int_equal(sw_rel_init(&rel, &c, &io, store, sw_rel_store_size(&c) - 1), SW_EFULL);
    sw_rel_io_t no_tx = {NULL, NULL, NULL, NULL};
    assert_int_equal(sw_rel_init(&rel, &c, &no_tx, store, sizeof store), SW_EINVAL);

    sw_rel_cfg_t bad = c;
    bad.window = 3;
    assert_int_equal(sw_rel_store_size(&bad), 0);
    assert_int_equal(sw_rel_init(&rel, &bad, &io, store, sizeof store), SW_EINVAL);
    bad.window = SW_REL_MAX_WINDOW + 1;
    assert_int_equal(sw_rel_init(&rel, &bad, &io, store, sizeof store), SW_EINVAL);
    bad = c;
    bad.timeout_ms = 600001;
    assert_int_equal(sw_rel_init(&rel, &bad, &io, store, sizeof store), SW_EINVAL);
    bad = c;
    bad.max_msg = 0;
    assert_int_equal(sw_rel_init(&rel, &bad, &io, store, sizeof store), SW_EINVAL);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Handshake

static void test_handshake_bytes(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, 1024);
    sim_init(s, 1, &clean, &c, &c, 1000);
    sw_rel_start(&s->p[0].rel, s->now);
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET1);
    // {"a":"r","n":1,"c":{"t":1000,"m":8,"l":1024}}
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 61 a1 72 a1 6e 01 a1 63 83 a1 74 cd 03 e8 a1 6d 08 a1 6c cd 04 00");
    sim_step(s); // the line takes 1 ms
    sim_step(s);
    assert_int_equal(s->p[1].rel.state, SW_REL_RESET2);
    tu_assert_bytes(s->p[1].last, s->p[1].last_n,
                    "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 cd 03 e8 a1 6d 08 a1 6c cd 04 00");
    sim_step(s);
    assert_int_equal(s->p[0].rel.state, SW_REL_UP);
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 61 a1 72 a1 6e 03 a1 63 83 a1 74 cd 03 e8 a1 6d 08 a1 6c cd 04 00");
    sim_step(s);
    assert_int_equal(s->p[1].rel.state, SW_REL_UP);
    assert_int_equal(s->p[0].ups, 1);
    assert_int_equal(s->p[1].ups, 1);
    assert_int_equal(s->p[0].rel.stats.resets, 1);
    assert_int_equal(s->p[1].rel.stats.resets, 1);
    assert_int_equal(s->p[0].downs + s->p[1].downs, 0);
}

// A starts first, B first, both at once, and B starting only while A is already retrying.
static void test_handshake_orders(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    for (int order = 0; order < 4; order++) {
        line_cfg_t line = {0, 0, 3, 3, true};
        sim_init(s, 7, &line, &c, &c, 5000);
        if (order == 0) {
            sw_rel_start(&s->p[0].rel, s->now);
        } else if (order == 1) {
            sw_rel_start(&s->p[1].rel, s->now);
        } else if (order == 2) {
            sw_rel_start(&s->p[0].rel, s->now);
            sw_rel_start(&s->p[1].rel, s->now);
        } else {
            s->p[0].mute = true; // A retries unheard until B starts
            sw_rel_start(&s->p[0].rel, s->now);
            sim_for(s, 250);
            s->p[0].mute = false;
            sw_rel_start(&s->p[1].rel, s->now);
        }
        sim_run(s, both_up, 1000);
        sim_for(s, 500); // nothing more happens: no second handshake, no flapping
        assert_true(both_up(s));
        assert_int_equal(s->p[0].ups, 1);
        assert_int_equal(s->p[1].ups, 1);
        assert_int_equal(s->p[0].downs + s->p[1].downs, 0);
        // and the link works
        s->p[0].quota = s->p[1].quota = 20;
        s->p[0].tx_next = s->p[1].tx_next = 0;
        sim_run(s, all_delivered, 2000);
    }
}

// Simultaneous starts on a lossy, duplicating line: the crossing handshakes must converge.
static void test_handshake_crossing_lossy(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 50, MAX_MSG);
    c.retries = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        line_cfg_t line = {300, 200, 1, 8, true};
        sim_init(s, seed, &line, &c, &c, (uint32_t)seed * 7919u);
        sw_rel_start(&s->p[0].rel, s->now);
        sw_rel_start(&s->p[1].rel, s->now + (uint32_t)(seed % 3));
        s->p[0].quota = s->p[1].quota = 30;
        sim_run(s, all_delivered, 60000);
    }
}

static void test_config_merge(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t a = cfg_make(8, 100, 120), b = cfg_make(6, 300, 50);
    pair_up(s, &a, &b);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s->p[i].rel.window, 6);
        assert_int_equal(s->p[i].rel.timeout_ms, 300);
        assert_int_equal(sw_rel_max_payload(&s->p[i].rel), 50);
    }
    assert_int_equal(s->p[0].rel.peer_max, 50);
    assert_int_equal(s->p[1].rel.peer_max, 120);

    // the other way round, with B starting
    sim_init(s, 1, &clean, &a, &b, 0);
    sw_rel_start(&s->p[1].rel, s->now);
    sim_run(s, both_up, 100);
    assert_int_equal(s->p[0].rel.window, 6);
    assert_int_equal(s->p[1].rel.timeout_ms, 300);

    // A MoaT peer: no "l" (so its 127-byte frames, wrapper included: 127 - (12 + 4/2) = 113
    // bytes of payload), a window below the minimum of 4, a shorter timeout.
    sw_rel_cfg_t big = cfg_make(16, 100, 1000);
    sim_init(s, 1, &clean, &big, &big, 0);
    s->p[0].mute = true;
    feed_hex(s, 0, "83 a1 61 a1 72 a1 6e 01 a1 63 82 a1 74 0a a1 6d 02"); // n:1 t:10 m:2
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET2);
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 64 a1 6d 10 a1 6c cd 03 e8");
    feed_hex(s, 0, "82 a1 61 a1 72 a1 6e 03"); // n:3 without config
    assert_int_equal(s->p[0].rel.state, SW_REL_UP);
    assert_int_equal(s->p[0].rel.window, 4);
    assert_int_equal(s->p[0].rel.timeout_ms, 100);
    assert_int_equal(s->p[0].rel.peer_max, 113);
    assert_int_equal(sw_rel_max_payload(&s->p[0].rel), 113);
    {
        // the largest payload leaves as a frame MoaT's deframer takes; one byte more is refused
        static uint8_t pl[114] = {0xc4, 111};
        assert_int_equal(sw_rel_send(&s->p[0].rel, pl, 113, s->now), 0);
        assert_true(s->p[0].last_n <= 127);
        static uint8_t pl2[114] = {0xc4, 112};
        assert_int_equal(sw_rel_send(&s->p[0].rel, pl2, 114, s->now), SW_ETOOBIG);
    }

    // A peer asking for a longer timeout and a huge window: max of timeouts, min of windows.
    sim_init(s, 1, &clean, &big, &big, 0);
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, 0);
    feed_hex(s, 0, "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 cd 07 d0 a1 6d cc c8 a1 6c cd 01 00");
    assert_int_equal(s->p[0].rel.state, SW_REL_UP);
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 61 a1 72 a1 6e 03 a1 63 83 a1 74 64 a1 6d 10 a1 6c cd 03 e8");
    assert_int_equal(s->p[0].rel.window, 16);
    assert_int_equal(s->p[0].rel.timeout_ms, 2000);
    assert_int_equal(sw_rel_max_payload(&s->p[0].rel), 256);
}

static void test_handshake_gives_up(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    c.retries = 5;
    sim_init(s, 1, &clean, &c, &c, 0xfffffff0u); // the clock wraps meanwhile
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_for(s, 499);
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET1);
    assert_int_equal(s->p[0].downs, 0);
    sim_for(s, 2);
    assert_int_equal(s->p[0].rel.state, SW_REL_CLOSED);
    assert_int_equal(s->p[0].txs, 5); // five n:1, one per timeout
    assert_int_equal(s->p[0].downs, 1);
    assert_int_equal(sw_rel_poll(&s->p[0].rel, s->now), UINT32_MAX);
    sim_for(s, 1000);
    assert_int_equal(s->p[0].txs, 5);

    // CLOSED still answers the peer's handshake: B starting later brings the link up.
    s->p[0].mute = false;
    sw_rel_start(&s->p[1].rel, s->now);
    sim_run(s, both_up, 100);
    assert_int_equal(s->p[0].ups, 1);

    // retries = 0: forever
    c.retries = 0;
    sim_init(s, 1, &clean, &c, &c, 0);
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_for(s, 100000);
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET1);
    assert_int_equal(s->p[0].txs, 1000);
}

// With a derived timeout handshake retries wait a second; a pacing side (the host) retries
// its first n:1 after 300 ms (a lost n:1 or n:2 is common at a bit-error rate of 1e-3), then
// every second as before.
static void test_handshake_first_retry(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(16, 0, 1024);
    c.line_rate = 11520;
    c.retries = 5;
    sw_rel_cfg_t a = c;
    a.tx_ahead_ms = 30;
    sim_init(s, 1, &clean, &a, &c, 1000);
    s->rate = 11520;
    s->p[0].mute = true; // the first n:1 is lost
    sw_rel_start(&s->p[0].rel, s->now);
    sim_for(s, 10);
    assert_int_equal(s->p[0].txs, 1);
    s->p[0].mute = false;
    sim_run(s, both_up, 400); // 1000 ms without the early retry
    assert_int_equal(s->p[0].txs, 3); // n:1 again, then n:3
    // later retries (and the time before it gives up) keep their second
    sim_init(s, 1, &clean, &a, &c, 1000);
    s->rate = 11520;
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_for(s, 1200);
    assert_int_equal(s->p[0].txs, 2);
    sim_for(s, 1000);
    assert_int_equal(s->p[0].txs, 3);
    // the node's side (no pacing) keeps a second from the start
    sim_init(s, 1, &clean, &c, &c, 1000);
    s->rate = 11520;
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_for(s, 990);
    assert_int_equal(s->p[0].txs, 1);
}

// The passive side resends n:2 until n:3 or data arrive.
static void test_lost_n3(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    // n:3 lost; A then sends data, which completes B's handshake (ordered line)
    sim_init(s, 1, &clean, &c, &c, 0);
    sw_rel_start(&s->p[0].rel, s->now);
    sim_step(s);
    sim_step(s); // B answered
    s->p[0].mute = true;
    sim_step(s); // A up, n:3 lost
    assert_true(sw_rel_is_up(&s->p[0].rel));
    assert_int_equal(s->p[1].rel.state, SW_REL_RESET2);
    s->p[0].mute = false;
    s->p[0].quota = 3;
    sim_run(s, both_up, 20);
    assert_true(s->now < 20); // long before the n:2 retry
    s->p[1].quota = 3;
    sim_run(s, all_delivered, 100);

    // nothing to send: B's n:2 retry makes A repeat n:3
    sim_init(s, 1, &clean, &c, &c, 0);
    sw_rel_start(&s->p[0].rel, s->now);
    sim_step(s);
    sim_step(s);
    s->p[0].mute = true;
    sim_step(s);
    s->p[0].mute = false;
    sim_run(s, both_up, 200);
    assert_true(s->now >= 100);
    assert_int_equal(s->p[0].ups, 1);
    assert_int_equal(s->p[1].ups, 1);
    assert_int_equal(s->p[0].downs, 0);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Wire shape

static void test_interop_bytes(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, MAX_MSG);
    pair_up(s, &c, &c);
    uint8_t ping[32];
    size_t n = tu_hex("83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01", ping, sizeof ping);
    assert_int_equal(n, 18);
    assert_int_equal(sw_rel_send(&s->p[0].rel, ping, n, s->now), 0);
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 73 00 a1 64 83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01 a1 72 00");
    assert_int_equal(s->p[0].rel.stats.sent, 1);

    // B delivers exactly the 18 bytes and acks with an ack-only message
    s->p[0].rel.io.rx = s->p[1].rel.io.rx = cb_capture;
    sim_step(s);
    sim_step(s);
    assert_int_equal(s->p[1].rel.stats.delivered, 1);
    tu_assert_bytes(s->p[1].got, s->p[1].got_n, "83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01");
    tu_assert_bytes(s->p[1].last, s->p[1].last_n, "82 a1 73 00 a1 72 01");
    sim_step(s);
    sim_step(s);
    assert_int_equal(s->p[0].rel.send_tail, 1);

    // data both ways: each carries the sender's receive tail
    assert_int_equal(sw_rel_send(&s->p[0].rel, "\xa3R:x", 4, s->now), 0); // A's seq 1
    tu_assert_bytes(s->p[0].last, s->p[0].last_n, "83 a1 73 01 a1 64 a3 52 3a 78 a1 72 00");
    assert_int_equal(sw_rel_send(&s->p[1].rel, "\xa3R:x", 4, s->now), 0); // B's seq 0, acking A's 0
    tu_assert_bytes(s->p[1].last, s->p[1].last_n, "83 a1 73 00 a1 64 a3 52 3a 78 a1 72 01");
    sim_step(s);
    sim_step(s);
    tu_assert_bytes(s->p[0].got, s->p[0].got_n, "a3 52 3a 78");
}

// Out-of-order arrival: the ack names the held message in "x"; in-order delivery follows.
static void test_selective_ack(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, MAX_MSG);
    pair_up(s, &c, &c);
    peer_t *b = &s->p[1];
    b->mute = true;
    b->rel.io.rx = cb_capture;
    feed_hex(s, 1, "83 a1 73 01 a1 64 a1 62 a1 72 00"); // seq 1 "b"
    tu_assert_bytes(b->last, b->last_n, "83 a1 73 00 a1 72 00 a1 78 91 01");
    assert_int_equal(b->rel.stats.out_of_order, 1);
    assert_int_equal(b->rel.stats.delivered, 0);
    feed_hex(s, 1, "83 a1 73 03 a1 64 a1 64 a1 72 00"); // seq 3 "d"
    tu_assert_bytes(b->last, b->last_n, "83 a1 73 00 a1 72 00 a1 78 92 01 03");
    // the gap forces an ack after the timeout even without traffic
    uint32_t txs = b->txs;
    assert_int_equal(sw_rel_poll(&b->rel, s->now), 1000);
    assert_int_equal(b->txs, txs);
    assert_int_equal(sw_rel_poll(&b->rel, s->now + 999), 1);
    sw_rel_poll(&b->rel, s->now + 1000);
    assert_int_equal(b->txs, txs + 1);
    tu_assert_bytes(b->last, b->last_n, "83 a1 73 00 a1 72 00 a1 78 92 01 03");
    feed_hex(s, 1, "83 a1 73 00 a1 64 a1 61 a1 72 00"); // seq 0 "a": 0 and 1 delivered
    assert_int_equal(b->rel.stats.delivered, 2);
    tu_assert_bytes(b->last, b->last_n, "83 a1 73 00 a1 72 02 a1 78 91 03");
    txs = b->txs;
    feed_hex(s, 1, "83 a1 73 01 a1 64 a1 62 a1 72 00"); // seq 1 again: re-acked
    assert_int_equal(b->txs, txs + 1);
    assert_int_equal(b->rel.stats.duplicates, 1);
    assert_int_equal(b->rel.stats.delivered, 2);
    tu_assert_bytes(b->last, b->last_n, "83 a1 73 00 a1 72 02 a1 78 91 03");
    feed_hex(s, 1, "83 a1 73 02 a1 64 a1 63 a1 72 00");
    assert_int_equal(b->rel.stats.delivered, 4);
    tu_assert_bytes(b->got, b->got_n, "a1 61 a1 62 a1 63 a1 64"); // a b c d, once each
    tu_assert_bytes(b->last, b->last_n, "82 a1 73 00 a1 72 04");
    // an ack-only message showing the peer sent more than we have opens a gap to report
    txs = b->txs;
    feed_hex(s, 1, "82 a1 73 06 a1 72 00");
    assert_int_equal(b->txs, txs); // acks are not acked
    assert_int_equal(b->rel.recv_head, 6);
    assert_int_equal(sw_rel_poll(&b->rel, s->now), 1000);
    sw_rel_poll(&b->rel, s->now + 1000);
    tu_assert_bytes(b->last, b->last_n, "82 a1 73 00 a1 72 04");
}

// The sender side: window bound, cumulative and selective acks, retransmission, fast retransmit.
static void test_sender(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, MAX_MSG);
    pair_up(s, &c, &c);
    peer_t *a = &s->p[0];
    a->mute = true;
    a->rel.io.rx = NULL;
    uint32_t t = s->now, txs = a->txs;
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t + k), 0); // seqs 0..3 at t..t+3
    assert_int_equal(a->txs, txs + 4);
    assert_false(sw_rel_can_send(&a->rel));
    assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t + 4), SW_EAGAIN); // window/2 in flight
    assert_int_equal(sw_rel_poll(&a->rel, t + 4), 996);

    // B holds seq 2 only: 0 and 1, sent before it, were lost and go again at once; 3 waits.
    s->now = t + 10;
    feed_hex(s, 0, "83 a1 73 00 a1 72 00 a1 78 91 02");
    assert_int_equal(a->rel.stats.retransmits, 2);
    assert_int_equal(a->txs, txs + 6);
    assert_int_equal(a->rel.send_tail, 0);
    assert_int_equal(sw_rel_poll(&a->rel, t + 10), 993); // seq 3, due at t+1003
    // the same ack again changes nothing (0 and 1 are newer than 2 now)
    feed_hex(s, 0, "83 a1 73 00 a1 72 00 a1 78 91 02");
    assert_int_equal(a->rel.stats.retransmits, 2);

    // cumulative ack up to 3
    s->now = t + 11;
    feed_hex(s, 0, "82 a1 73 00 a1 72 03");
    assert_int_equal(a->rel.send_tail, 3);
    assert_true(sw_rel_can_send(&a->rel));
    // stale (behind the tail) and bogus (beyond the head) acks are ignored
    feed_hex(s, 0, "82 a1 73 00 a1 72 01");
    assert_int_equal(a->rel.send_tail, 3);
    feed_hex(s, 0, "82 a1 73 00 a1 72 06");
    assert_int_equal(a->rel.send_tail, 3);
    assert_int_equal(a->rel.stats.bad, 0);

    // seq 3 times out and is sent again; not before its time
    txs = a->txs;
    assert_int_equal(sw_rel_poll(&a->rel, t + 1002), 1);
    assert_int_equal(a->txs, txs);
    assert_int_equal(sw_rel_poll(&a->rel, t + 1003), 1000);
    assert_int_equal(a->txs, txs + 1);
    assert_int_equal(a->rel.stats.retransmits, 3);
    tu_assert_bytes(a->last, a->last_n, "83 a1 73 03 a1 64 c0 a1 72 00");

    // seqs 4, 5, 6; 5 is acked selectively and never retransmitted; 3, 4 and 6 are
    s->now = t + 1010;
    for (int k = 0; k < 3; k++)
        assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, s->now), 0);
    feed_hex(s, 0, "83 a1 73 00 a1 72 03 a1 78 91 05"); // 3 is older than 5: fast retransmit
    assert_int_equal(a->rel.stats.retransmits, 4);
    txs = a->txs;
    sw_rel_poll(&a->rel, t + 2010);
    assert_int_equal(a->txs, txs + 3); // 3, 4, 6
    assert_int_equal(a->rel.stats.retransmits, 7);
    feed_hex(s, 0, "82 a1 73 00 a1 72 07");
    assert_int_equal(a->rel.send_tail, 7);
    assert_int_equal(a->rel.send_head, 7);
    assert_int_equal(sw_rel_poll(&a->rel, t + 2011), UINT32_MAX); // nothing pending
}

static void test_send_errors(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t a = cfg_make(8, 100, MAX_MSG), b = cfg_make(8, 100, 20);
    sim_init(s, 1, &clean, &a, &b, 0);
    assert_int_equal(sw_rel_send(&s->p[0].rel, "\xc0", 1, 0), SW_EAGAIN); // closed
    sw_rel_start(&s->p[0].rel, 0);
    assert_int_equal(sw_rel_send(&s->p[0].rel, "\xc0", 1, 0), SW_EAGAIN); // handshaking
    sim_run(s, both_up, 100);
    uint8_t big[MAX_MSG + 8];
    memset(big, 0, sizeof big);
    big[0] = 0xc4; // bin 8 of 19 bytes: 21 in all, the peer takes 20
    big[1] = 19;
    assert_int_equal(sw_rel_max_payload(&s->p[0].rel), 20);
    assert_int_equal(sw_rel_send(&s->p[0].rel, big, 21, s->now), SW_ETOOBIG);
    big[1] = 17;
    assert_int_equal(sw_rel_send(&s->p[0].rel, big, 20, s->now), SW_EINVAL); // trailing byte
    big[1] = 18;
    assert_int_equal(sw_rel_send(&s->p[0].rel, big, 20, s->now), 0);
    assert_int_equal(sw_rel_send(&s->p[0].rel, "\x92\x01", 2, s->now), SW_EINVAL); // incomplete
    assert_int_equal(sw_rel_send(&s->p[0].rel, "", 0, s->now), SW_EINVAL);
    assert_int_equal(sw_rel_send(&s->p[1].rel, big, 20, s->now), 0); // B sends up to its own max
    assert_int_equal(sw_rel_send(&s->p[1].rel, big, 21, s->now), SW_ETOOBIG);
    assert_int_equal(s->p[0].rel.stats.sent, 1);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Bad input

static void test_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                                               // nothing
        "c1",                                             // reserved byte
        "93 01 02 03",                                    // not a map
        "01",                                             // not a map
        "81 a1 73",                                       // truncated
        "82 a1 73 00 a1 72 00 00",                        // trailing byte
        "82 a1 73 a1 78 a1 72 00",                        // s is a string
        "82 a1 73 00 a1 72 ca 3f 80 00 00",               // r is a float
        "81 a1 73 00",                                    // no r
        "81 a1 72 00",                                    // no s
        "82 01 02 a1 73 00",                              // odd keys, still no r
        "83 a1 73 00 a1 72 00 a1 78 01",                  // x is no array
        "83 a1 73 00 a1 72 00 a1 78 91 a1 61",            // x holds a string
        "82 a1 61 a1 72 a1 6e a1 31",                     // n is a string
        "81 a1 61 a1 72",                                 // no n
        "83 a1 61 a1 72 a1 6e 01 a1 63 01",               // c is no map
        "83 a1 61 a1 72 a1 6e 01 a1 63 81 a1 74 a1 31",   // t is a string
        "83 a1 61 a1 72 a1 6e 01 a1 63 81 a1 6d ff",      // m is negative
    };
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, 16);
    pair_up(s, &c, &c);
    peer_t *b = &s->p[1];
    uint32_t txs = b->txs;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        feed_hex(s, 1, bad[i]);
        if (b->rel.stats.bad != i + 1)
            fail_msg("not counted as bad: %s", bad[i]);
        assert_int_equal(b->rel.state, SW_REL_UP);
    }
    // a payload over our max_msg
    uint8_t m[64];
    size_t n = tu_hex("83 a1 73 00 a1 64 c4 10", m, sizeof m);
    memset(m + n, 0x55, 16);
    n += 16;
    n += tu_hex("a1 72 00", m + n, sizeof m - n);
    sw_rel_input(&b->rel, m, n, s->now);
    assert_int_equal(b->rel.stats.bad, sizeof bad / sizeof *bad + 1);

    // ignored without complaint: other actions, unknown n, a close that is not ours
    uint32_t nbad = b->rel.stats.bad;
    feed_hex(s, 1, "82 a1 61 a1 78 a1 6e 00");       // "a":"x"
    feed_hex(s, 1, "82 a1 61 91 a1 72 a1 6e 00");    // "a":["r"]
    feed_hex(s, 1, "82 a1 61 a1 72 a1 6e 07");       // n:7
    feed_hex(s, 1, "82 a1 61 a1 72 a1 6e ff");       // n:-1
    assert_int_equal(b->rel.stats.bad, nbad);
    assert_int_equal(b->rel.state, SW_REL_UP);
    assert_int_equal(b->rel.stats.delivered, 0);
    assert_int_equal(b->txs, txs);

    // random bytes and random MsgPack items, in every state: no crash, nothing delivered
    tu_rng_t rng = {12345};
    for (int round = 0; round < 4000; round++) {
        uint8_t buf[600];
        size_t len;
        if (round % 2) {
            len = tu_below(&rng, 40);
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)tu_next(&rng);
        } else {
            sw_mpw_t w;
            sw_mpw_init(&w, buf, sizeof buf);
            tu_gen_item(&rng, &w, 3);
            len = w.err ? 0 : w.len;
        }
        sw_rel_input(&b->rel, buf, len, s->now);
        if (round % 500 == 0)
            sw_rel_start(&b->rel, s->now);
        (void)sw_rel_poll(&b->rel, s->now);
    }
    assert_int_equal(b->rel.stats.delivered, 0);
}

static void test_out_of_bounds(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    static const char *const oob[] = {"82 a1 73 08 a1 72 00", "82 a1 73 00 a1 72 ff",
                                      "83 a1 73 cf ff ff ff ff ff ff ff ff a1 64 c0 a1 72 00"};
    for (size_t i = 0; i < 3; i++) {
        pair_up(s, &c, &c);
        feed_hex(s, 1, oob[i]);
        assert_int_equal(s->p[1].rel.state, SW_REL_RESET1);
        assert_int_equal(s->p[1].downs, 1);
        tu_assert_bytes(s->p[1].last, s->p[1].last_n,
                        "84 a1 61 a1 72 a1 6e 01 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80"
                        " a1 65 b1 52 2f 53 20 6f 75 74 20 6f 66 20 62 6f 75 6e 64 73");
        // A takes that as a restart of B, and the two come up again
        sim_run(s, both_up, 100);
        assert_int_equal(s->p[0].downs, 1);
        assert_int_equal(s->p[0].ups, 2);
        assert_int_equal(s->p[1].ups, 2);
    }
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Close

static bool both_closed(sim_t *s)
{
    return s->p[0].rel.state == SW_REL_CLOSED && s->p[1].rel.state == SW_REL_CLOSED;
}

static void test_close(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    pair_up(s, &c, &c);
    sw_rel_close(&s->p[0].rel, "bye", s->now);
    tu_assert_bytes(s->p[0].last, s->p[0].last_n, "83 a1 61 a1 72 a1 6e 00 a1 65 a3 62 79 65");
    assert_int_equal(s->p[0].downs, 1);
    sim_run(s, both_closed, 10);
    assert_int_equal(s->p[1].downs, 1);
    assert_int_equal(sw_rel_send(&s->p[1].rel, "\xc0", 1, s->now), SW_EAGAIN);
    assert_int_equal(sw_rel_max_payload(&s->p[1].rel), 0);
    sw_rel_close(&s->p[1].rel, NULL, s->now); // closing twice: a close goes out, no second "down"
    tu_assert_bytes(s->p[1].last, s->p[1].last_n, "82 a1 61 a1 72 a1 6e 00");
    assert_int_equal(s->p[1].downs, 1);
    sim_for(s, 10);
    assert_int_equal(s->p[0].downs, 1); // a close while closed changes nothing
    assert_int_equal(s->nq, 0);

    // a peer that still talks to a closed layer hears a close, at most once per timeout
    peer_t *a = &s->p[0];
    a->mute = true;
    uint32_t txs = a->txs;
    for (int k = 0; k < 50; k++) {
        feed_hex(s, 0, "83 a1 73 00 a1 64 c0 a1 72 00");
        s->now += 10;
    }
    assert_true(a->txs - txs >= 4 && a->txs - txs <= 6);
    tu_assert_bytes(a->last, a->last_n, "82 a1 61 a1 72 a1 6e 00");
    assert_int_equal(a->rel.stats.delivered, 0);
    a->mute = false;

    // closed is not dead: either side starting brings both up again
    sw_rel_start(&s->p[1].rel, s->now);
    sim_run(s, both_up, 100);
    s->p[0].quota = s->p[1].quota = 10;
    sim_run(s, all_delivered, 1000);

    // a close during the handshake stops it, and reports the link down
    sim_init(s, 1, &clean, &c, &c, 0);
    s->p[0].mute = true;
    sw_rel_start(&s->p[0].rel, 0);
    sim_for(s, 150);
    feed_hex(s, 0, "81 a1 61 a1 72"); // not even n: bad, ignored
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET1);
    feed_hex(s, 0, "82 a1 61 a1 72 a1 6e 00");
    assert_int_equal(s->p[0].rel.state, SW_REL_CLOSED);
    assert_int_equal(s->p[0].downs, 1);
    assert_int_equal(s->p[0].ups, 0);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Property tests: everything arrives exactly once, in order, intact, in bounded time

typedef struct scenario {
    line_cfg_t line;
    uint8_t window;
    uint32_t timeout;
    uint16_t max_delay; // told to the peers; 0 on ordered lines
    uint32_t quota;     // payloads each way
    uint32_t limit;     // virtual ms allowed
} scenario_t;

static void run_scenario(const scenario_t *sc, uint64_t seed, uint32_t t0)
{
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(sc->window, sc->timeout, MAX_MSG);
    c.retries = 0;
    c.max_delay_ms = sc->max_delay;
    sim_init(s, seed, &sc->line, &c, &c, t0);
    s->p[0].quota = s->p[1].quota = sc->quota;
    sw_rel_start(&s->p[seed % 2].rel, s->now);
    if (seed % 3 == 0)
        sw_rel_start(&s->p[1 - seed % 2].rel, s->now);
    sim_run(s, all_delivered, sc->limit);
    if (getenv("REL_STATS"))
        fprintf(stderr, "loss %u dup %u fifo %d w %u: %u ms, retx %u %u dup %u %u ooo %u %u\n", sc->line.loss,
                sc->line.dup, sc->line.fifo, sc->window, (unsigned)(s->now - t0),
                (unsigned)s->p[0].rel.stats.retransmits, (unsigned)s->p[1].rel.stats.retransmits,
                (unsigned)s->p[0].rel.stats.duplicates, (unsigned)s->p[1].rel.stats.duplicates,
                (unsigned)s->p[0].rel.stats.out_of_order, (unsigned)s->p[1].rel.stats.out_of_order);
    sim_for(s, 4 * sc->timeout + 4 * sc->line.dmax); // let the last acks settle
    for (int i = 0; i < 2; i++) {
        sw_rel_stats_t *st = &s->p[i].rel.stats;
        assert_int_equal(s->p[i].ups, 1);
        assert_int_equal(s->p[i].downs, 0);
        assert_int_equal(st->sent, sc->quota);
        assert_int_equal(st->delivered, sc->quota);
        assert_int_equal(s->p[i].rel.send_tail, s->p[i].rel.send_head); // all acknowledged
        if (sc->line.loss == 0 && sc->line.dup == 0 && sc->line.fifo) {
            assert_int_equal(st->retransmits, 0);
            assert_int_equal(st->duplicates, 0);
            assert_int_equal(st->out_of_order, 0);
        }
        if (sc->line.loss >= 50)
            assert_true(st->retransmits > 0);
        if (sc->line.dup >= 100)
            assert_true(st->duplicates > 0);
        // plausible: the loss rate bounds how often a message must go again
        assert_true(st->retransmits <= 3 * sc->quota + 20);
    }
}

static const scenario_t ordered[] = {
    // loss dup  dmin dmax fifo   w   T    hold quota limit (about 3x what it takes)
    {{0, 0, 1, 1, true}, 8, 100, 0, 400, 1000},
    {{0, 0, 1, 20, true}, 8, 100, 0, 400, 9000},
    {{50, 0, 1, 20, true}, 8, 100, 0, 400, 12000},
    {{100, 100, 1, 20, true}, 4, 100, 0, 400, 25000},
    {{300, 0, 2, 10, true}, 8, 60, 0, 400, 25000},
    {{300, 200, 1, 20, true}, 16, 100, 0, 400, 20000},
    {{200, 300, 5, 5, true}, 5, 40, 0, 400, 15000},
    {{150, 100, 1, 30, true}, 12, 150, 0, 400, 25000},
};

static const scenario_t reordering[] = {
    // jitter reorders messages; the peers are told the longest delay
    {{0, 0, 1, 30, false}, 8, 100, 30, 400, 20000},
    {{0, 200, 1, 30, false}, 8, 100, 30, 400, 20000},
    {{100, 100, 1, 40, false}, 8, 200, 40, 400, 50000},
    {{300, 100, 1, 20, false}, 16, 100, 20, 400, 30000},
    {{300, 300, 5, 25, false}, 4, 100, 25, 400, 70000},
};

static void test_property_ordered(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ordered / sizeof *ordered; i++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            run_scenario(&ordered[i], seed * 1000 + i, (uint32_t)(seed * 104729u));
}

static void test_property_reordering(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof reordering / sizeof *reordering; i++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            run_scenario(&reordering[i], seed * 7000 + i, (uint32_t)(seed * 15485863u));
}

// The virtual clock wraps in the middle of the exchange.
static void test_property_clock_wrap(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        run_scenario(&ordered[4], seed, 0xffffffffu - 3000u * (uint32_t)seed);
        run_scenario(&reordering[2], seed, 0xffffffffu - 5000u * (uint32_t)seed);
    }
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Peer restart: one side re-inits mid-stream and starts the handshake

static void run_restart(uint64_t seed, const line_cfg_t *line, uint16_t max_delay, uint32_t when)
{
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    c.retries = 0;
    c.max_delay_ms = max_delay;
    sim_init(s, seed, line, &c, &c, 77);
    s->p[0].quota = s->p[1].quota = 300;
    sw_rel_start(&s->p[1].rel, s->now);
    sim_for(s, when);
    assert_true(both_up(s));
    assert_true(s->p[1].rx_next > 0); // mid-stream
    // A reboots: a fresh layer and application; what is on the line stays there
    uint32_t b_last_uid = s->p[1].rx_uid;
    peer_init(s, 0, &c);
    s->p[0].quota = 300;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, all_delivered, 300000);
    assert_int_equal(s->p[1].downs, 1); // B noticed the restart once
    assert_int_equal(s->p[1].ups, 2);
    assert_int_equal(s->p[0].ups, 1);
    assert_true(s->p[1].rx_last_uid == b_last_uid); // the new session is a fresh one
    assert_int_equal(s->p[0].rel.stats.delivered, 300);
}

static void test_peer_restart(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        line_cfg_t fifo = {(uint32_t)(seed % 4) * 80, (uint32_t)(seed % 3) * 100, 1, 15, true};
        run_restart(seed, &fifo, 0, 200 + (uint32_t)seed * 97);
        line_cfg_t jitter = {(uint32_t)(seed % 4) * 50, (uint32_t)(seed % 3) * 100, 1, 15, false};
        run_restart(seed + 100, &jitter, 15, 300 + (uint32_t)seed * 131);
    }
}

// The same through the eyes of B, byte by byte: n:1 while up means the peer restarted.
static void test_restart_seen_by_peer(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    pair_up(s, &c, &c);
    peer_t *b = &s->p[1];
    b->rel.io.rx = NULL;
    b->mute = true;
    feed_hex(s, 1, "83 a1 73 00 a1 64 c0 a1 72 00");
    assert_int_equal(sw_rel_send(&b->rel, "\xc0", 1, s->now), 0); // unacked when A restarts
    assert_int_equal(b->rel.stats.delivered, 1);
    feed_hex(s, 1, "83 a1 61 a1 72 a1 6e 01 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80");
    assert_int_equal(b->rel.state, SW_REL_RESET2);
    assert_int_equal(b->downs, 1);
    assert_int_equal(b->rel.send_head, 0); // the unacked payload is gone
    tu_assert_bytes(b->last, b->last_n, "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80");
    feed_hex(s, 1, "83 a1 61 a1 72 a1 6e 03 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80");
    assert_int_equal(b->rel.state, SW_REL_UP);
    assert_int_equal(b->ups, 2);
    // sequence numbers start again at 0: seq 0 is new data, not a duplicate
    feed_hex(s, 1, "83 a1 73 00 a1 64 c0 a1 72 00");
    assert_int_equal(b->rel.stats.delivered, 2);
    assert_int_equal(b->rel.stats.duplicates, 0);
    // n:2 while up (our n:3 was lost) is answered with n:3, nothing else changes
    feed_hex(s, 1, "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80");
    assert_int_equal(b->rel.state, SW_REL_UP);
    tu_assert_bytes(b->last, b->last_n, "83 a1 61 a1 72 a1 6e 03 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80");
    assert_int_equal(b->rel.recv_tail, 1);
}

// On a line that may hold messages back (max_delay_ms set), messages of the previous session
// can arrive after a new handshake. Built here by hand: each must be ignored.
static void test_reorder_guards(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 100, MAX_MSG);
    c.max_delay_ms = 50;
    c.retries = 0;

    // 1. A late data message of A's previous session reaches B just after the new handshake.
    pair_up(s, &c, &c);
    sim_for(s, 200); // past the guard time of this session
    s->p[0].quota = s->p[1].quota = 2;
    sim_run(s, all_delivered, 1000);
    sim_for(s, 300);
    uint8_t stale[WIRE_MAX];
    uint8_t buf[MAX_MSG + 16];
    size_t n = make_payload(s->p[0].tx_uid, 2, buf, sizeof buf);
    assert_int_equal(sw_rel_send(&s->p[0].rel, buf, n, s->now), 0); // seq 2 of the old session
    size_t stale_n = s->p[0].last_n;
    memcpy(stale, s->p[0].last, stale_n);
    sim_for(s, 10);
    s->nq = 0;
    s->p[0].tx_next = s->p[0].quota; // A's old application is done
    peer_init(s, 0, &c);             // A reboots
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, both_up, 1000); // n:2 is taken only after the guard time
    // stale seq 2 arrives; the new session's seq 2 is still to come
    sw_rel_input(&s->p[1].rel, stale, stale_n, s->now);
    s->p[0].quota = s->p[1].quota = 6;
    sim_run(s, all_delivered, 5000);
    assert_int_equal(s->p[1].ups, 2);

    // 2. A late n:2 of an old handshake reaches A while it restarts; B is up in the old session.
    pair_up(s, &c, &c);
    sim_for(s, 200);
    s->p[0].quota = s->p[1].quota = 3;
    sim_run(s, all_delivered, 1000);
    sim_for(s, 300);
    s->p[0].tx_next = s->p[0].quota;
    peer_init(s, 0, &c);
    s->p[0].quota = 6;
    s->p[0].mute = true; // A's n:1 is held back on the line...
    sw_rel_start(&s->p[0].rel, s->now);
    s->p[0].mute = false;
    feed_hex(s, 0, "83 a1 61 a1 72 a1 6e 02 a1 63 83 a1 74 64 a1 6d 08 a1 6c cc 80"); // ...a stale n:2 is not
    assert_int_equal(s->p[0].rel.state, SW_REL_RESET1);
    s->p[1].quota = 6;
    s->p[1].tx_next = 0;
    sim_run(s, all_delivered, 5000);
    assert_int_equal(s->p[0].ups, 1);
    assert_int_equal(s->p[1].ups, 2);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// The line model: deadlines count from when a message has left a line of known rate

// Exact timing on a 1000 bytes/s line: a one-byte payload is a 10-byte wire message, 15 ms with
// SerialPacker's 5 bytes.
static void test_line_model(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, MAX_MSG);
    c.line_rate = 1000;
    pair_up(s, &c, &c);
    peer_t *a = &s->p[0];
    a->mute = true;
    uint32_t t = s->now;
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t), 0);
    tu_assert_bytes(a->last, a->last_n, "83 a1 73 03 a1 64 c0 a1 72 00");
    assert_int_equal(a->rel.line_ms, t + 60);
    // seq 0 leaves at t+15 and is due a timeout later; the others 15 ms apart
    assert_int_equal(sw_rel_poll(&a->rel, t), 1015);
    uint32_t txs = a->txs;
    assert_int_equal(sw_rel_poll(&a->rel, t + 1014), 1);
    assert_int_equal(a->txs, txs);
    assert_int_equal(sw_rel_poll(&a->rel, t + 1015), 15); // seq 0 again; seq 1 is next
    assert_int_equal(a->txs, txs + 1);
    assert_int_equal(a->rel.line_ms, t + 1030); // the line was idle: it left at once
    sw_rel_poll(&a->rel, t + 1030);
    sw_rel_poll(&a->rel, t + 1045);
    sw_rel_poll(&a->rel, t + 1060);
    assert_int_equal(a->rel.stats.retransmits, 4);
    assert_int_equal(sw_rel_poll(&a->rel, t + 1060), 970); // seq 0 again at t+2030

    // Bytes written beside the layer (console output) hold back what comes after them.
    sw_rel_line_used(&a->rel, 200, t + 1100);
    assert_int_equal(a->rel.line_ms, t + 1300);
    feed_hex(s, 0, "82 a1 73 00 a1 72 04"); // everything acknowledged
    s->now = t + 1100;
    assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t + 1100), 0);
    assert_int_equal(sw_rel_poll(&a->rel, t + 1100), 200 + 15 + 1000);

    // Fractions of a millisecond add up: 1000 one-byte writes at 11520 bytes/s take 86.8 ms,
    // with a 15-byte message 88.1 ms.
    c.line_rate = 11520;
    pair_up(s, &c, &c);
    a = &s->p[0];
    a->mute = true;
    t = s->now;
    for (int k = 0; k < 1000; k++)
        sw_rel_line_used(&a->rel, 1, t);
    assert_int_equal(a->rel.line_ms, t + 86);
    assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t), 0);
    assert_int_equal(a->rel.line_ms, t + 88);
    assert_int_equal(sw_rel_poll(&a->rel, t + 10), 1078);
    // once idle, the line is free at once
    assert_int_equal(sw_rel_send(&a->rel, "\xc0", 1, t + 500), 0);
    assert_int_equal(a->rel.line_ms, t + 501);
    // a model that looks far ahead is stale (the clock wrapped while idle) and is reset
    a->rel.line_ms = t + 500 + 700000;
    sw_rel_line_used(&a->rel, 115, t + 500);
    assert_int_equal(a->rel.line_ms, t + 509);
}

// Derived timeouts: 250 ms announced, the floor from the window and payload limit in force.
static void test_timeout_derived(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 0, 1024);
    c.line_rate = 960; // 9600 baud
    sim_init(s, 1, &clean, &c, &c, 1000);
    sw_rel_start(&s->p[0].rel, s->now);
    // {"a":"r","n":1,"c":{"t":250,"m":8,"l":1024}}: 23 bytes + 5, 29.2 ms on the line
    tu_assert_bytes(s->p[0].last, s->p[0].last_n,
                    "83 a1 61 a1 72 a1 6e 01 a1 63 83 a1 74 cc fa a1 6d 08 a1 6c cd 04 00");
    assert_int_equal(s->p[0].rel.timeout_ms, 250);
    assert_int_equal(sw_rel_poll(&s->p[0].rel, s->now), 1029); // handshake retries: 1 s
    sim_run(s, both_up, 1000);
    // 2 * (8/2) * (1024 + 64 + 5) bytes at 960 bytes/s
    for (int i = 0; i < 2; i++)
        assert_int_equal(s->p[i].rel.timeout_ms, 9108);

    // the smaller payload limit of the two counts, and the smaller window
    sw_rel_cfg_t small = cfg_make(4, 0, 100);
    small.line_rate = 960;
    pair_up(s, &c, &small);
    for (int i = 0; i < 2; i++)
        assert_int_equal(s->p[i].rel.timeout_ms, 2 * 2 * (100 + 69) * 1000 / 960);

    // 115200 baud, window 16
    c.window = 16;
    c.line_rate = 11520;
    pair_up(s, &c, &c);
    assert_int_equal(s->p[0].rel.timeout_ms, 1518);
    // a fast line: the floor of 250 ms
    c.line_rate = 400000;
    pair_up(s, &c, &c);
    assert_int_equal(s->p[1].rel.timeout_ms, 250);
    // rate unknown: 1000 ms, as always
    c.line_rate = 0;
    pair_up(s, &c, &c);
    assert_int_equal(s->p[1].rel.timeout_ms, 1000);

    // An explicit timeout is announced and kept; the peer with a derived one adds its floor.
    sw_rel_cfg_t e = cfg_make(16, 300, 1024);
    e.line_rate = c.line_rate = 11520;
    pair_up(s, &e, &c);
    assert_int_equal(s->p[0].rel.timeout_ms, 300);
    assert_int_equal(s->p[1].rel.timeout_ms, 1518);
    // and with explicit values on both sides, the larger one, as before
    sw_rel_cfg_t e2 = cfg_make(16, 400, 1024);
    pair_up(s, &e, &e2);
    assert_int_equal(s->p[0].rel.timeout_ms, 400);
    assert_int_equal(s->p[1].rel.timeout_ms, 400);
}

typedef struct paced {
    line_cfg_t line;
    uint32_t rate;      // of the line, bytes/s
    uint8_t window;
    uint32_t timeout;   // 0 = derived
    bool model;         // the peers know the line's rate
    uint32_t quota[2];  // payloads A → B, B → A
} paced_t;

typedef struct paced_res {
    uint32_t ms;                 // from the first payload to the last delivery
    uint32_t retx[2], dups[2];
    double busy[2];              // of the line towards [to] over that time
    double goodput[2];           // payload bytes per second towards [to] / rate
} paced_res_t;

static void run_paced(const paced_t *pc, uint64_t seed, paced_res_t *res)
{
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(pc->window, pc->timeout, MAX_MSG);
    c.retries = 0;
    c.line_rate = pc->model ? pc->rate : 0;
    sim_init(s, seed, &pc->line, &c, &c, 1000);
    s->rate = pc->rate;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, both_up, 20000);
    sim_for(s, 500);
    uint32_t t0 = s->now;
    uint64_t bytes0[2] = {s->bytes[0], s->bytes[1]};
    s->p[0].quota = pc->quota[0];
    s->p[1].quota = pc->quota[1];
    sim_run(s, all_delivered, 3600000);
    memset(res, 0, sizeof *res);
    res->ms = s->now - t0;
    for (int to = 0; to < 2; to++) {
        res->retx[1 - to] = s->p[1 - to].rel.stats.retransmits;
        res->dups[to] = s->p[to].rel.stats.duplicates;
        res->busy[to] = (double)(s->bytes[to] - bytes0[to]) * 1000.0 / res->ms / pc->rate;
        uint64_t payload = 0;
        uint8_t buf[MAX_MSG + 16];
        for (uint32_t k = 0; k < pc->quota[1 - to]; k++)
            payload += make_payload(s->p[1 - to].tx_uid, k, buf, sizeof buf);
        res->goodput[to] = (double)payload * 1000.0 / res->ms / pc->rate;
    }
    if (getenv("REL_STATS"))
        fprintf(stderr, "paced %u B/s w %u T %u model %d loss %u: %u ms, retx %u %u dups %u %u, "
                "busy %.2f %.2f goodput %.2f %.2f\n", pc->rate, pc->window, pc->timeout,
                pc->model, pc->line.loss, res->ms, res->retx[0], res->retx[1], res->dups[0],
                res->dups[1], res->busy[1], res->busy[0], res->goodput[1], res->goodput[0]);
    sim_for(s, 30000); // the last acks
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s->p[i].ups, 1);
        assert_int_equal(s->p[i].downs, 0);
        assert_int_equal(s->p[i].rel.stats.delivered, pc->quota[1 - i]);
        assert_int_equal(s->p[i].rel.send_tail, s->p[i].rel.send_head);
    }
}

// A slow line with many frames queued: 9600 baud, a window of 16, so 8 frames of up to 130
// bytes (1.2 s) wait for the line at once, against a timeout of 300 ms.
static void test_paced_line(void **state)
{
    (void)state;
    paced_res_t r;
    // One direction: the receiver's acks come at once; the sender queues a window at a time.
    paced_t one = {{0, 0, 1, 1, true}, 960, 16, 300, true, {300, 0}};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_paced(&one, seed, &r);
        assert_int_equal(r.retx[0], 0); // no spurious retransmits
        assert_int_equal(r.dups[1], 0);
        assert_true(r.busy[1] > 0.97); // the line never idles
        assert_true(r.goodput[1] > 0.80); // the rest is the Reliable map and SerialPacker
    }
    // The same with deadlines from the handover (as before the line model): every frame goes
    // again while it still waits for the line, and goodput collapses.
    paced_t blind = one;
    blind.model = false;
    blind.quota[0] = 40; // the resends pile up on the line: keep the run short
    run_paced(&blind, 1, &r);
    assert_true(r.retx[0] > 40);
    assert_true(r.goodput[1] < 0.5);

    // Both directions at once, derived timeouts: acks wait behind the peer's frames too.
    paced_t both = {{0, 0, 1, 1, true}, 960, 16, 0, true, {200, 200}};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_paced(&both, seed, &r);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(r.retx[i], 0);
            assert_int_equal(r.dups[i], 0);
            assert_true(r.busy[i] > 0.95);
            assert_true(r.goodput[i] > 0.65); // ack messages share the line now
        }
    }
    // 115200 baud, window 16, a short explicit timeout, one direction
    paced_t fast = {{0, 0, 1, 1, true}, 11520, 16, 100, true, {600, 0}};
    run_paced(&fast, 4, &r);
    assert_int_equal(r.retx[0], 0);
    assert_true(r.busy[1] > 0.97);
}

// A paced line that loses messages: everything arrives; what is sent again was lost (or its
// acknowledgement was), not merely slow to leave.
static void test_paced_lossy(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    paced_res_t r;
    static const paced_t cases[] = {
        {{30, 0, 1, 1, true}, 960, 16, 0, true, {150, 150}},
        {{50, 0, 1, 3, true}, 11520, 8, 0, true, {300, 100}},
        {{100, 0, 1, 1, true}, 11520, 16, 200, true, {300, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            run_paced(&cases[i], seed * 31 + i, &r);
            for (int p = 0; p < 2; p++) {
                // a duplicate at the receiver: a retransmit whose original had arrived. Only a
                // lost ack (or a lost retransmit before it) can cause one here.
                assert_true(r.dups[1 - p] <= s->lost[p] + 2);
                assert_true(r.retx[p] <= s->lost[1 - p] + s->lost[p] + 2);
                if (cases[i].quota[p] >= 100)
                    assert_true(r.retx[p] > 0);
            }
        }
    }
}

// The owner holds delivery back: payloads wait in the receive slots unacknowledged, so the
// sender's window fills; our own acks are still taken; release and a poll deliver them.
static void test_hold(void **state)
{
    (void)state;
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(8, 1000, MAX_MSG);
    pair_up(s, &c, &c);
    peer_t *a = &s->p[0], *b = &s->p[1];
    sw_rel_hold(&b->rel, true);
    a->quota = 10;
    b->quota = 2; // B sends while holding: A's acks of those still count
    sim_for(s, 50);
    assert_int_equal(b->rx_next, 0);
    assert_int_equal(a->tx_next, 4); // window/2 sent, none acknowledged
    assert_false(sw_rel_can_send(&a->rel));
    assert_int_equal(a->rx_next, 2);
    assert_int_equal(b->rel.send_tail, b->rel.send_head); // B's own sends were acknowledged
    sim_for(s, 3000); // A's timers send them again: duplicates, still held
    assert_int_equal(b->rx_next, 0);
    assert_true(b->rel.stats.duplicates > 0);
    assert_int_equal(b->rel.stats.delivered, 0);
    // held from inside the rx callback: delivery stops after the current payload
    b->hold_after = true;
    sw_rel_hold(&b->rel, false);
    sw_rel_poll(&b->rel, s->now);
    assert_int_equal(b->rx_next, 1);
    b->hold_after = false;
    sw_rel_hold(&b->rel, false);
    sw_rel_poll(&b->rel, s->now);
    assert_int_equal(b->rx_next, 4);
    sim_run(s, all_delivered, 5000);
    assert_int_equal(b->rel.stats.delivered, 10);
    assert_int_equal(a->downs + b->downs, 0);
}

// An upload as swarm does it to a node: A sends requests of up to 128 bytes, B answers each
// with a small reply and holds requests back while a reply waits for room in its window, so a
// request B holds is acknowledged only after A's ack of B's replies, which queues behind A's
// own frames. The line is paced and has bit errors; timeouts derived.
typedef struct upload_res {
    uint32_t ms;      // from the first request to the last reply
    uint32_t retx;    // A's resends
    uint32_t lost;    // A's frames the line damaged
    double goodput;   // A's payload bytes per second / rate
} upload_res_t;

static bool upload_done(sim_t *s)
{
    return both_up(s) && s->p[1].rx_next == s->p[0].quota && s->p[0].rx_next == s->p[0].quota &&
           s->p[0].rel.send_tail == s->p[0].rel.send_head;
}

static void run_upload(uint32_t rate, uint8_t window, uint32_t ber_e7, uint32_t quota, uint64_t seed,
                       upload_res_t *res)
{
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(window, 0, MAX_MSG);
    c.retries = 0;
    c.line_rate = rate;
    sim_init(s, seed, &clean, &c, &c, 1000);
    s->rate = rate;
    s->p[1].server = true;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, both_up, 20000);
    s->small_uid = s->p[1].tx_uid;
    s->ber_e7 = ber_e7;
    uint32_t t0 = s->now, lost0 = s->lost[1];
    s->p[0].quota = quota;
    sim_run(s, upload_done, 3600000);
    res->ms = s->now - t0;
    res->retx = s->p[0].rel.stats.retransmits;
    res->lost = s->lost[1] - lost0;
    uint64_t payload = 0;
    uint8_t buf[MAX_MSG + 16];
    for (uint32_t k = 0; k < quota; k++)
        payload += make_payload(s->p[0].tx_uid, k, buf, sizeof buf);
    res->goodput = (double)payload * 1000.0 / res->ms / rate;
    if (getenv("REL_STATS"))
        fprintf(stderr, "upload %u B/s w %u ber %g seed %u: %u ms, retx %u lost %u (B: retx %u dups %u), "
                "goodput %.3f\n", rate, window, ber_e7 / 1e7, (unsigned)seed, res->ms, res->retx,
                res->lost, s->p[1].rel.stats.retransmits, s->p[1].rel.stats.duplicates, res->goodput);
    assert_int_equal(s->p[1].rel.stats.delivered, quota); // exactly once, in order (cb_rx)
    assert_int_equal(s->p[0].downs + s->p[1].downs, 0);
}

// The retransmit timer with a derived timeout waits for the peer's frames (small replies here)
// and our own queue, not for half a window of the largest frames either side could send.
// Virtual time: the figures are exact for a seed.
static void test_upload_ber(void **state)
{
    (void)state;
    upload_res_t r;
    // Clean line: nothing is sent again, although B holds requests while its replies wait
    // for A's acks, and those wait behind A's queued requests.
    for (uint64_t seed = 1; seed <= 3; seed++) {
        run_upload(960, 8, 0, 200, seed, &r);
        assert_int_equal(r.retx, 0);
        run_upload(11520, 16, 0, 400, seed, &r);
        assert_int_equal(r.retx, 0);
    }
    // BER 1e-3 at 9600 baud: a lost request is sent again within the time of a few replies,
    // not after 2 * (w/2) frames of the largest size (1.6 s). The median of 5 seeds.
    double g[5];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        run_upload(960, 8, 10000, 300, seed, &r);
        assert_true(r.retx <= r.lost + 2); // what was damaged (or its ack), no more
        g[seed - 1] = r.goodput;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (g[j] < g[i]) {
                double t = g[i];
                g[i] = g[j];
                g[j] = t;
            }
    if (getenv("REL_STATS"))
        fprintf(stderr, "upload goodput at 1e-3, 9600: median %.3f (%.3f..%.3f)\n", g[2], g[0], g[4]);
    assert_true(g[2] > 0.15); // 0.095 (0.086..0.103) with the session timeout alone
}

// A bulk upload as `swarm fs put` does it over a lossy serial line: A (the host) sends requests
// that carry `chunk` bytes of file data plus 22 bytes standing for the f.wr request around them
// (the real overhead of such a frame, 44 bytes in all, with the Reliable map and SerialPacker),
// at most xwin of them ahead of B's replies; B (the node) answers each with a small reply and
// holds requests while a reply waits for room. tx_ahead: A's cfg.tx_ahead_ms (0 = off).
typedef struct bulk {
    uint32_t rate, ber_e7, chunk, count, xwin;
    uint8_t window;
    uint16_t tx_ahead;
    uint32_t delay; // ms each message spends beyond the line (drivers, scheduling)
} bulk_t;

typedef struct bulk_res {
    uint32_t ms, retx, idle, lost, b_retx, b_dups, a_dups, b_idle;
    double goodput; // file bytes per second / rate
} bulk_res_t;

static void run_bulk(const bulk_t *bk, uint64_t seed, bulk_res_t *res)
{
    sim_t *s = &sim_;
    sw_rel_cfg_t c = cfg_make(bk->window, 0, 1024);
    c.retries = 0;
    c.line_rate = bk->rate;
    sw_rel_cfg_t a = c;
    a.tx_ahead_ms = bk->tx_ahead;
    line_cfg_t line = {0, 0, 1 + bk->delay, 1 + bk->delay, true};
    sim_init(s, seed, &line, &a, &c, 1000);
    s->rate = bk->rate;
    s->p[1].server = true;
    s->p[0].xwin = bk->xwin;
    sw_rel_start(&s->p[0].rel, s->now);
    sim_run(s, both_up, 20000);
    s->small_uid = s->p[1].tx_uid;
    s->big_uid = s->p[0].tx_uid;
    s->big_len = bk->chunk + 22;
    s->ber_e7 = bk->ber_e7;
    uint32_t t0 = s->now, lost0 = s->lost[1];
    if (s->busy_us[1] < (uint64_t)t0 * 1000u)
        s->busy_us[1] = (uint64_t)t0 * 1000u;
    uint64_t idle0 = s->idle_us[1];
    s->p[0].quota = bk->count;
    sim_run(s, upload_done, 3600000);
    res->ms = s->now - t0;
    res->retx = s->p[0].rel.stats.retransmits;
    res->idle = s->p[0].rel.stats.idle_resends;
    res->lost = s->lost[1] - lost0;
    res->b_retx = s->p[1].rel.stats.retransmits;
    res->b_dups = s->p[1].rel.stats.duplicates;
    res->a_dups = s->p[0].rel.stats.duplicates;
    res->b_idle = s->p[1].rel.stats.idle_resends;
    res->goodput = (double)bk->count * bk->chunk * 1000.0 / res->ms / bk->rate;
    if (getenv("REL_STATS"))
        fprintf(stderr, "bulk %u B/s w %u xwin %u chunk %u ber %g ahead %u delay %u seed %u: %u ms, retx %u "
                "idle %u lost %u (B: retx %u idle %u dups %u; A dups %u), line idle %.2f, goodput %.3f\n", bk->rate,
                bk->window, bk->xwin, bk->chunk, bk->ber_e7 / 1e7, bk->tx_ahead, bk->delay, (unsigned)seed,
                res->ms, res->retx, res->idle, res->lost, res->b_retx, res->b_idle, res->b_dups, res->a_dups,
                (double)(s->idle_us[1] - idle0) / 1000.0 / res->ms, res->goodput);
    assert_int_equal(s->p[1].rel.stats.delivered, bk->count); // exactly once, in order (cb_rx)
    assert_int_equal(s->p[0].downs + s->p[1].downs, 0);
}

// Sorts n goodputs in place, lowest first (the medians below; n is a handful of seeds).
static void sort_up(double *g, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (g[j] < g[i]) {
                double t = g[i];
                g[i] = g[j];
                g[j] = t;
            }
}

static double bulk_median(const bulk_t *bk, int seeds)
{
    double g[9];
    bulk_res_t r;
    assert_true(seeds <= 9);
    for (int k = 0; k < seeds; k++) {
        run_bulk(bk, (uint64_t)k + 1, &r);
        g[k] = r.goodput;
    }
    sort_up(g, seeds);
    if (getenv("REL_STATS"))
        fprintf(stderr, "bulk median %.3f (%.3f..%.3f)\n", g[seeds / 2], g[0], g[seeds - 1]);
    return g[seeds / 2];
}

// Pacing (tx_ahead_ms) on the host's side of a bulk upload at 115200 baud: the host's acks
// and resends leave within tx_ahead_ms instead of behind a window of its queued frames, and a
// full window with an idle line carries the oldest unacknowledged frame again (the node's side
// too, while it holds requests for want of room for its replies). Chunks near the best for
// each bit-error rate (bench/serial/run prints the bound: 67.5 % at 1e-4, 25.2 % at 1e-3).
// Virtual time: the figures are exact for a seed; medians of 5 seeds.
static void test_bulk_paced(void **state)
{
    (void)state;
    bulk_res_t r;
    // A clean line: nothing is sent again, early or late, and the line never idles, at
    // 115200 and at 9600 (where one 1 KiB frame takes over a second).
    static const bulk_t clean_lines[] = {
        {11520, 0, 960, 52, 16, 16, 30, 0},
        {960, 0, 960, 10, 16, 16, 30, 0},
        {960, 0, 200, 40, 16, 8, 30, 0},
    };
    for (size_t i = 0; i < sizeof clean_lines / sizeof *clean_lines; i++) {
        for (uint64_t seed = 1; seed <= 2; seed++) {
            run_bulk(&clean_lines[i], seed, &r);
            assert_int_equal(r.retx + r.idle + r.b_retx + r.b_dups + r.a_dups, 0);
            assert_true(r.goodput > (clean_lines[i].chunk > 500 ? 0.94 : 0.75));
        }
    }
    // BER 1e-4, 214-byte chunks: 0.536 (0.490..0.593) without pacing
    bulk_t b4 = {11520, 1000, 214, 230, 16, 16, 30, 0};
    assert_true(bulk_median(&b4, 5) > 0.60);
    // the same with 15 ms more each way (tty drivers, a loaded host): 0.647 (0.621..0.656)
    b4.delay = 15;
    assert_true(bulk_median(&b4, 5) > 0.60);
    // BER 1e-3, 56-byte chunks: 0.064 (0.049..0.071) without pacing; more than half of all
    // frames are damaged, and the window stalls on a resend that is lost again
    bulk_t b3 = {11520, 10000, 56, 400, 16, 16, 30, 0};
    assert_true(bulk_median(&b3, 5) > 0.17);
}


// A whole `swarm fs put` over a lossy serial line at 115200, as xfer.c runs it, from the
// handshake to the answer of f.hash: A (the host, pacing) starts the link on a line that
// already has bit errors, asks sys.info (a reply of INFO_LEN bytes), f.open, then the file in
// f.wr requests whose chunk the estimator of the host (xchunk.h) picks round after round, with
// at most 16 out (4 while it ramps up), then f.cl and f.hash. B (the node) answers each
// request. Payload sizes are the real ones: a request is its blob plus 22 bytes (44 of
// overhead per frame in all, with the Reliable map and SerialPacker).
#define PUT_INFO_LEN 290u // blob bytes of B's sys.info reply (a POSIX node's is about 300 bytes)
#define PUT_MAX_REQ 2048u

typedef struct put {
    uint32_t size, off;   // file bytes, and those already in requests
    uint32_t fixed;       // a fixed chunk (--chunk), or 0: adaptive
    sw_xchunk_t est;
    uint32_t round;
    bool estimated;
    sw_rel_stats_t base;
    uint32_t data_end;    // index of the first request after the data (0: not known yet)
    uint32_t built, cut;  // requests already cut (built), and the file bytes in them
    uint32_t a_len[PUT_MAX_REQ];
    uint32_t chunk_min, chunk_max_seen;
} put_t;

static put_t put_;

static uint32_t put_len(uint32_t uid, uint32_t idx)
{
    put_t *u = &put_;
    if (uid && uid == sim_.p[0].tx_uid)
        return idx < PUT_MAX_REQ ? u->a_len[idx] : 8;
    if (uid && uid == sim_.p[1].tx_uid) // its link message, then the replies: sys.info, f.hash
        return idx == 0 ? 12 : idx == 1 ? PUT_INFO_LEN : u->data_end && idx == u->data_end + 2 ? 40 : 4;
    return UINT32_MAX;
}

static bool put_data(const put_t *u, uint32_t k) { return k >= 2 && (!u->data_end || k < u->data_end); }

// Answers A has (B's first message is its link message).
static uint32_t put_answers(const peer_t *p) { return p->rx_next ? p->rx_next - 1 : 0; }

// How xfer.c cuts requests: put_queue_ 0 (as it does): a request is cut when Reliable took the
// one before it, so at most one waits, cut at the chunk of the moment it was offered; 1 (as
// it did before): the whole window is cut as soon as the answers open it, and waits in hlink's
// queue at the chunk of that moment. put_ramp_: requests out while the chunk ramps up.
static int put_queue_;
static uint32_t put_ramp_ = SW_XCHUNK_FIRST;
// A put's round ends early after this many damaged frames (0: only after its answers).
static uint32_t put_early_ = SW_XCHUNK_EARLY;

// Cuts request k (once: a request that waits keeps its chunk).
static void put_cut(put_t *u, uint32_t k)
{
    if (k < u->built)
        return;
    u->built = k + 1;
    if (put_data(u, k) && u->cut < u->size) {
        uint32_t c = u->fixed ? u->fixed : u->est.chunk;
        if (c > u->size - u->cut)
            c = u->size - u->cut;
        u->a_len[k] = c + 22;
        u->cut += c;
    } else {
        if (put_data(u, k))
            u->data_end = k;
        u->a_len[k] = 20;
    }
}

static bool put_gate(peer_t *p)
{
    put_t *u = &put_;
    uint32_t k = p->tx_next, rx = put_answers(p);
    if (u->data_end && k > u->data_end + 1)
        return false; // all sent
    if (put_data(u, k) && (k < u->built || u->cut < u->size)) {
        uint32_t win = !u->fixed && u->est.ramp ? put_ramp_ : 16;
        if (!(rx >= 2 && k - rx < win))
            return false;
        if (put_queue_) // the whole window is cut now (before: xfer.c as it was)
            for (uint32_t j = k; j < rx + win && u->cut < u->size; j++)
                put_cut(u, j);
        return true;
    }
    return rx >= k; // a control request waits for every answer before it
}

static void put_round(peer_t *p);
static double put_bad(const put_t *u, const sw_rel_stats_t *st);

static void put_pre(peer_t *p)
{
    put_t *u = &put_;
    uint32_t k = p->tx_next;
    assert_true(k < PUT_MAX_REQ);
    if (k == 1 && !u->fixed && u->built < 2) { // the answer to sys.info is in: the first chunk
        sw_rel_stats_t *st = &p->rel.stats;
        double bad = (double)st->retransmits + st->idle_resends + p->sim->lost[0];
        double frames = (double)st->sent + (p->sim->msgs[0] - p->sim->lost[0]) + bad;
        sw__xchunk_start(&u->est, 960, frames, bad);
        if (getenv("PUT_ORACLE") && p->sim->ber_e7) {
            // analysis only: start as if PUT_ORACLE frames of 252 bytes had shown the true BER
            double w = atof(getenv("PUT_ORACLE")), q = 1 - __builtin_exp(-8.0 * 252 * p->sim->ber_e7 / 1e7);
            u->est.frames = w;
            u->est.bad = w * q;
            u->est.bits = w * 8.0 * 252;
            u->est.ramp = false;
            u->est.chunk = 208;
        }
        u->base = *st;
    }
    // a round also ends once enough of its frames were damaged (xfer.c adapt_early)
    if (put_early_ && !u->fixed && k >= u->built && put_data(u, k) && u->cut < u->size && u->built > 2 &&
        k > put_answers(p) && put_bad(u, &p->rel.stats) >= put_early_)
        put_round(p);
    put_cut(u, k);
}

static void put_post(peer_t *p)
{
    put_t *u = &put_;
    uint32_t k = p->tx_next;
    if (put_data(u, k) && u->a_len[k] > 22) {
        u->off += u->a_len[k] - 22;
        uint32_t c = u->a_len[k] - 22;
        if (u->off < u->size) {
            u->chunk_min = u->chunk_min && u->chunk_min < c ? u->chunk_min : c;
            u->chunk_max_seen = u->chunk_max_seen > c ? u->chunk_max_seen : c;
        }
    }
}

// A data answer: a round of them ends with an estimate (xfer.c count_answer, adapt).
static void put_got(peer_t *p, uint32_t idx)
{
    put_t *u = &put_;
    if (u->fixed || !idx || !put_data(u, idx - 1))
        return;
    if (++u->round < (u->estimated ? SW_XCHUNK_ROUND : SW_XCHUNK_FIRST))
        return;
    put_round(p);
}

static double put_bad(const put_t *u, const sw_rel_stats_t *st)
{
    return (double)(st->retransmits - u->base.retransmits) + (st->idle_resends - u->base.idle_resends);
}

static void put_round(peer_t *p)
{
    put_t *u = &put_;
    u->round = 0;
    u->estimated = true;
    sw_rel_stats_t *st = &p->rel.stats;
    double bad = put_bad(u, st);
    double frames = (double)(st->sent - u->base.sent) + bad;
    u->base = *st;
    sw__xchunk_round(&u->est, frames, bad);
    if (getenv("PUT_ROUNDS")) // each round: damaged / frames, and the chunk it picked
        fprintf(stderr, "  t %u: %.0f/%.0f bad -> chunk %u\n", (unsigned)p->sim->now, bad, frames, u->est.chunk);
}

static bool put_done(sim_t *s) { return put_.data_end && put_answers(&s->p[0]) == put_.data_end + 2; }

typedef struct put_res {
    uint32_t ms, up_ms, data_ms; // all; until the link was up; until the first f.wr
    uint32_t chunk_lo, chunk_hi, retx, idle, b_retx;
    double goodput;
} put_res_t;

static uint32_t put_rate_ = 11520; // line bytes per second (115200 baud; 960: 9600 baud)

static void run_put(uint32_t ber_e7, uint32_t size, uint32_t fixed, uint64_t seed, put_res_t *res)
{
    sim_t *s = &sim_;
    put_t *u = &put_;
    memset(res, 0, sizeof *res);
    sw_rel_cfg_t c = cfg_make(16, 0, 1024);
    c.line_rate = put_rate_;
    sw_rel_cfg_t a = c;
    a.tx_ahead_ms = 30;
    a.retries = 0;
    line_cfg_t line = {0, 0, 2, 2, true};
    sim_init(s, seed, &line, &a, &c, 1000);
    memset(u, 0, sizeof *u);
    u->size = size;
    u->fixed = fixed;
    s->rate = put_rate_;
    s->ber_e7 = ber_e7;
    s->len_of = put_len;
    s->p[1].server = true;
    s->p[1].hello = true;
    peer_t *h = &s->p[0];
    h->gate = put_gate;
    h->pre = put_pre;
    h->post = put_post;
    h->on_got = put_got;
    uint32_t t0 = s->now;
    sw_rel_start(&h->rel, s->now);
    while (!put_done(s)) {
        if (!res->up_ms && both_up(s))
            res->up_ms = s->now - t0;
        if (s->now - t0 > 3600000)
            fail_msg("put not done after an hour of virtual time");
        if (!res->data_ms && h->tx_next > 2)
            res->data_ms = s->now - t0;
        sim_step(s);
    }
    res->ms = s->now - t0;
    res->chunk_lo = u->fixed ? u->fixed : u->chunk_min;
    res->chunk_hi = u->fixed ? u->fixed : u->chunk_max_seen;
    res->retx = h->rel.stats.retransmits;
    res->idle = h->rel.stats.idle_resends;
    res->b_retx = s->p[1].rel.stats.retransmits + s->p[1].rel.stats.idle_resends;
    res->goodput = (double)size * 1000.0 / res->ms / put_rate_;
    if (getenv("REL_STATS"))
        fprintf(stderr, "put rate %u ber %g size %u chunk %u seed %u: %u ms (up %u, first f.wr %u), "
                "chunks %u..%u (last %u), retx %u idle %u (lost to B %u of %u), B resent %u, goodput %.3f\n",
                (unsigned)put_rate_,
                ber_e7 / 1e7, size, fixed, (unsigned)seed, res->ms, res->up_ms, res->data_ms, res->chunk_lo,
                res->chunk_hi, u->est.chunk, res->retx, res->idle, s->lost[1], s->msgs[1], res->b_retx, res->goodput);
    assert_int_equal(s->p[1].rel.stats.delivered, u->data_end + 2); // exactly once, in order (cb_rx)
    assert_int_equal(h->rel.stats.delivered, u->data_end + 3);
    assert_int_equal(h->downs + s->p[1].downs, 0);
}

static double put_median(uint32_t ber_e7, uint32_t fixed, uint64_t seed0, int seeds, double *lo)
{
    double g[128], sum = 0;
    put_res_t r;
    assert_true(seeds <= 128);
    for (int k = 0; k < seeds; k++) {
        run_put(ber_e7, 49152, fixed, seed0 + (uint64_t)k, &r);
        g[k] = r.goodput;
        sum += r.goodput;
    }
    sort_up(g, seeds);
    if (getenv("REL_STATS"))
        fprintf(stderr, "put ber %g chunk %u seeds %u..%u: median %.3f (%.3f..%.3f), mean %.4f\n", ber_e7 / 1e7,
                fixed, (unsigned)seed0, (unsigned)(seed0 + seeds - 1), g[seeds / 2], g[0], g[seeds - 1],
                sum / seeds);
    if (lo)
        *lo = g[0];
    return g[seeds / 2];
}

// The whole put at 115200 (bench/serial/run's cases: 48 KiB; the bound is 67.5 % at 1e-4
// and 25.2 % at 1e-3 with 44 bytes of overhead per frame). Virtual time: exact for a seed.
// PUT_SWEEP=1 REL_STATS=1 t/test_rel prints the comparison runs (three seed sets each, and
// 8 KiB at 9600 baud) and runs nothing else;
// PUT_BER=10000 PUT_SEED=3 REL_TRACE_TX=1 t/test_rel follows one (PUT_ROUNDS=1: the chunk's
// rounds). Variants: PUT_N=100 (the three 1e-4 seed sets with 100 seeds each, and their mean;
// PUT_N_BER=10000 at 1e-3), PUT_QUEUE=1 (requests cut as xfer.c did before), PUT_EARLY=0 (no
// early end of a round), PUT_RAMP=8 (requests out while ramping), PUT_ORACLE=8 (analysis: a
// start that knows the BER).
static void test_put_lossy(void **state)
{
    (void)state;
    put_res_t r;
    // variants for the sweep: requests out while the chunk ramps up; the damaged frames that
    // end a round early (0: none, as before)
    if (getenv("PUT_RAMP"))
        put_ramp_ = (uint32_t)atoi(getenv("PUT_RAMP"));
    if (getenv("PUT_EARLY"))
        put_early_ = (uint32_t)atoi(getenv("PUT_EARLY"));
    if (getenv("PUT_QUEUE") && !getenv("PUT_N")) // the whole sweep as xfer.c cut before
        put_queue_ = 1;
    if (getenv("PUT_SEED")) {
        run_put((uint32_t)atoi(getenv("PUT_BER") ? getenv("PUT_BER") : "1000"), 49152, 0,
                (uint64_t)atoi(getenv("PUT_SEED")), &r);
        return;
    }
    // A clean line: nothing is sent again, and the ramp from half the largest chunk costs
    // little (the frames alone, 960 of 1004 bytes: 0.956).
    run_put(0, 49152, 0, 1, &r);
    assert_int_equal(r.retx + r.idle + r.b_retx, 0);
    assert_true(r.goodput > 0.92);
    if (getenv("PUT_SWEEP")) {
        put_median(1000, 0, 1, 15, NULL);
        put_median(1000, 0, 101, 15, NULL);
        put_median(1000, 0, 1001, 15, NULL);
        put_median(1000, 208, 1, 15, NULL);
        if (getenv("PUT_N")) { // PUT_N=100: the three seed sets with more seeds, and a mean
            int n = atoi(getenv("PUT_N"));
            n = n < 1 ? 1 : n > 128 ? 128 : n;
            // PUT_N_BER: bit errors per 10^7 bits (1000: 1e-4)
            uint32_t ber = getenv("PUT_N_BER") ? (uint32_t)atoi(getenv("PUT_N_BER")) : 1000;
            put_queue_ = getenv("PUT_QUEUE") ? 1 : 0; // 1: xfer.c before (the window cut at once)
            put_median(ber, 0, 1, n, NULL);
            put_median(ber, 0, 101, n, NULL);
            put_median(ber, 0, 1001, n, NULL);
            return;
        }
        put_median(10000, 0, 1, 9, NULL);
        put_median(10000, 0, 101, 9, NULL);
        put_median(10000, 0, 1001, 9, NULL);
        put_rate_ = 960; // 9600 baud, 8 KiB (bench/serial/run --baud 9600 --size 8192)
        run_put(0, 8192, 0, 1, &r);
        put_rate_ = 11520;
        return;
    }
    assert_true(put_median(1000, 0, 1, 15, NULL) > 0.61);
    // a frame lost among the first few at 1e-4 is sent again 120 ms after it left, not after
    // the 460 ms that the node's sys.info reply (300 bytes) implied (0.596 then); a round of
    // the chunk's estimate ends once two of its frames were damaged, not only after 8 answers
    // (0.611 and 0.612 then: after a lucky clean first round 960-byte chunks went on for a
    // round that took a second or more)
    assert_true(put_median(1000, 0, 101, 15, NULL) > 0.617);
    assert_true(put_median(1000, 0, 1001, 15, NULL) > 0.617);
    // at 1e-3 a sys.info reply of 300 bytes arrives once in eleven tries, each try 80 ms
    // after the line is quiet (0.174 with 120 ms)
    assert_true(put_median(10000, 0, 101, 9, NULL) > 0.185);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_checks),
        cmocka_unit_test(test_handshake_bytes),
        cmocka_unit_test(test_handshake_orders),
        cmocka_unit_test(test_handshake_crossing_lossy),
        cmocka_unit_test(test_config_merge),
        cmocka_unit_test(test_handshake_gives_up),
        cmocka_unit_test(test_handshake_first_retry),
        cmocka_unit_test(test_lost_n3),
        cmocka_unit_test(test_interop_bytes),
        cmocka_unit_test(test_selective_ack),
        cmocka_unit_test(test_sender),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_out_of_bounds),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_property_ordered),
        cmocka_unit_test(test_property_reordering),
        cmocka_unit_test(test_property_clock_wrap),
        cmocka_unit_test(test_peer_restart),
        cmocka_unit_test(test_restart_seen_by_peer),
        cmocka_unit_test(test_reorder_guards),
        cmocka_unit_test(test_line_model),
        cmocka_unit_test(test_timeout_derived),
        cmocka_unit_test(test_paced_line),
        cmocka_unit_test(test_paced_lossy),
        cmocka_unit_test(test_hold),
        cmocka_unit_test(test_upload_ber),
        cmocka_unit_test(test_bulk_paced),
        cmocka_unit_test(test_put_lossy),
    };
    if (getenv("PUT_SWEEP")) // the sweep only
        cmocka_set_test_filter("test_put_lossy");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
