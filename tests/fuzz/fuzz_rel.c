// Fuzz target: one sw_rel_t driven by a stream of operations decoded from the input — raw
// wire messages (length-prefixed chunks), well-formed handshake and data messages built from
// a few bytes (so every state is reached), sends, polls, clock steps, start/close — with the
// layer's invariants checked after every step: delivered payloads are complete MsgPack items
// within max_msg, what it transmits is one MsgPack map, at most window/2 messages unacked,
// slots outside the rings empty.
//
// Input: byte 0 = config (bits 0-2 window-4, bit 3 reordering line, bit 4 large max_msg,
// bits 5-6 retries, bit 7 derived timeout), byte 1 = starting state (bits 0-1: 0 closed,
// 1 started, 2 answered, 3 up) and the line model (bit 0 on, bit 2 no frame overhead, bit 3 a
// line of 1 byte/s, bit 4 fast line; bit 5: the rx callback holds delivery), then ops.
#include <string.h>

#include "swarm/rel.h"

#define MAX_MSG_BIG 200
#define STORE (2 * 11 * MAX_MSG_BIG + MAX_MSG_BIG + 64)

static uint8_t store[STORE];
static uint8_t last_tx[MAX_MSG_BIG + 64];
static size_t last_tx_n;
static sw_rel_t rel;
static sw_rel_cfg_t cfg;
static uint32_t now; // the virtual clock, also for sends from the rx callback
static bool hold_in_rx; // the rx callback holds delivery after each payload

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static int on_tx(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    check(n <= (size_t)cfg.max_msg + 64);
    check(sw_mp_check(p, n) == 0 && (p[0] & 0xf0) == 0x80); // one map (fixmap: few keys)
    memcpy(last_tx, p, n);
    last_tx_n = n;
    return (n & 7) == 7; // now and then the framer refuses
}

static void on_rx(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    check(n >= 1 && n <= cfg.max_msg);
    check(sw_mp_check(p, n) == 0);
    check(rel.state == SW_REL_UP);
    check(!rel.rx_hold); // nothing is delivered while the owner holds delivery back
    // the callback may send: a reply of the same bytes, if it fits
    (void)sw_rel_send(&rel, p, n, now);
    if (hold_in_rx)
        sw_rel_hold(&rel, true);
}

static void on_state(void *ctx, bool up)
{
    (void)ctx;
    check(up == (rel.state == SW_REL_UP));
}

static uint8_t ring(uint8_t a, uint8_t b) { return (uint8_t)((b + rel.window - a) % rel.window); }

static void invariants(void)
{
    check(rel.state <= SW_REL_UP);
    check(rel.window >= 4 && rel.window <= cfg.window);
    check(rel.send_head < rel.window && rel.send_tail < rel.window);
    check(rel.recv_head < rel.window && rel.recv_tail < rel.window);
    check(ring(rel.send_tail, rel.send_head) <= rel.window / 2);
    check(ring(rel.recv_tail, rel.recv_head) <= rel.window / 2);
    check(sw_rel_max_payload(&rel) <= cfg.max_msg);
    for (uint8_t k = 0; k < SW_REL_MAX_WINDOW; k++) {
        bool in_tx = k < rel.window && ring(rel.send_tail, k) < ring(rel.send_tail, rel.send_head);
        bool in_rx = k < rel.window && ring(rel.recv_tail, k) < ring(rel.recv_tail, rel.recv_head);
        if (!in_tx)
            check(rel.tx_slot[k].len == 0);
        if (!in_rx)
            check(rel.rx_slot[k].len == 0);
        check(rel.tx_slot[k].len <= cfg.max_msg && rel.rx_slot[k].len <= cfg.max_msg);
    }
    if (rel.state != SW_REL_UP)
        check(rel.send_head == 0 && rel.send_tail == 0 && rel.recv_head == 0 && rel.recv_tail == 0);
}

typedef struct in {
    const uint8_t *p;
    size_t n, at;
} in_t;

static uint8_t byte(in_t *in) { return in->at < in->n ? in->p[in->at++] : 0; }

static void put_key(sw_mpw_t *w, char k) { sw_mpw_str(w, &k, 1); }

// {"a":"r","n":n[,"c":{"t":..,"m":..[,"l":..]}]}
static size_t make_ctl(in_t *in, uint8_t op, uint8_t *buf, size_t cap)
{
    sw_mpw_t w;
    uint8_t n = (op >> 3) & 3, flags = byte(in);
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, (flags & 1) ? 3 : 2);
    put_key(&w, 'a');
    sw_mpw_cstr(&w, "r");
    put_key(&w, 'n');
    sw_mpw_uint(&w, n);
    if (flags & 1) {
        put_key(&w, 'c');
        sw_mpw_map(&w, (flags & 2) ? 3 : 2);
        put_key(&w, 't');
        sw_mpw_uint(&w, (uint64_t)byte(in) << (flags >> 4));
        put_key(&w, 'm');
        sw_mpw_uint(&w, byte(in) % 24);
        if (flags & 2) {
            put_key(&w, 'l');
            sw_mpw_uint(&w, (uint64_t)byte(in) << (flags & 4 ? 2 : 0));
        }
    }
    return w.err ? 0 : w.len;
}

// {"s":s[,"d":bin],"r":r[,"x":[...]]}, s and r mostly in range
static size_t make_data(in_t *in, uint8_t op, uint8_t *buf, size_t cap)
{
    sw_mpw_t w;
    uint8_t s = byte(in) % (rel.window + 1), r = byte(in) % (rel.window + 1), nx = (op >> 4) & 3;
    bool has_d = op & 8;
    uint8_t dl = byte(in) % 48;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, 2u + has_d + (nx ? 1u : 0u));
    put_key(&w, 's');
    sw_mpw_uint(&w, s);
    if (has_d) {
        uint8_t blob[48];
        for (uint8_t k = 0; k < dl; k++)
            blob[k] = byte(in);
        put_key(&w, 'd');
        sw_mpw_bin(&w, blob, dl);
    }
    put_key(&w, 'r');
    sw_mpw_uint(&w, r);
    if (nx) {
        put_key(&w, 'x');
        sw_mpw_array(&w, nx);
        for (uint8_t k = 0; k < nx; k++)
            sw_mpw_uint(&w, byte(in) % (rel.window + 1));
    }
    return w.err ? 0 : w.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size, 0};
    uint8_t c0 = byte(&in), c1 = byte(&in);
    sw_rel_cfg_default(&cfg);
    cfg.window = (uint8_t)(4 + (c0 & 7));
    cfg.max_delay_ms = (c0 & 8) ? 20 : 0;
    cfg.max_msg = (c0 & 16) ? MAX_MSG_BIG : 32;
    cfg.retries = (uint8_t)((c0 >> 5) & 3);
    cfg.timeout_ms = (c0 & 128) ? 0 : 100; // 0: derived from the line rate below
    cfg.line_rate = (c1 & 1) ? 960 : 0;     // the line model on a 9600 baud line…
    if (cfg.line_rate && (c1 & 8))
        cfg.line_rate = 1; // …or one so slow that every deadline hits its clamp…
    else if (cfg.line_rate && (c1 & 16))
        cfg.line_rate = 400000; // …or a fast one
    if (c1 & 4)
        cfg.frame_overhead = 0;
    hold_in_rx = c1 & 32;
    sw_rel_io_t io = {on_tx, on_rx, on_state, NULL};
    check(sw_rel_store_size(&cfg) <= sizeof store);
    check(sw_rel_init(&rel, &cfg, &io, store, sizeof store) == 0);
    last_tx_n = 0;

    now = 0xfffff000u + c1; // the clock wraps during longer runs
    uint8_t buf[MAX_MSG_BIG + 64];
    static const uint8_t n1[] = {0x82, 0xa1, 0x61, 0xa1, 0x72, 0xa1, 0x6e, 0x01};
    static const uint8_t n3[] = {0x82, 0xa1, 0x61, 0xa1, 0x72, 0xa1, 0x6e, 0x03};
    switch (c1 & 3) {
    case 1:
        sw_rel_start(&rel, now);
        break;
    case 2:
        sw_rel_input(&rel, n1, sizeof n1, now);
        break;
    case 3:
        sw_rel_input(&rel, n1, sizeof n1, now);
        sw_rel_input(&rel, n3, sizeof n3, now);
        break;
    default:
        break;
    }
    invariants();

    while (in.at < in.n) {
        uint8_t op = byte(&in);
        size_t n;
        switch (op & 7) {
        case 0: // a raw wire message: length, then bytes
            n = byte(&in);
            if (n > in.n - in.at)
                n = in.n - in.at;
            sw_rel_input(&rel, in.p + in.at, n, now);
            in.at += n;
            break;
        case 1:
            n = make_ctl(&in, op, buf, sizeof buf);
            sw_rel_input(&rel, buf, n, now);
            break;
        case 2:
            n = make_data(&in, op, buf, sizeof buf);
            sw_rel_input(&rel, buf, n, now);
            break;
        case 3: { // send a bin payload
            sw_mpw_t w;
            uint8_t blob[MAX_MSG_BIG];
            size_t len = (size_t)byte(&in) % MAX_MSG_BIG;
            memset(blob, op, len);
            sw_mpw_init(&w, buf, sizeof buf);
            sw_mpw_bin(&w, blob, len);
            bool could = sw_rel_can_send(&rel);
            size_t max = sw_rel_max_payload(&rel);
            int rc = sw_rel_send(&rel, buf, w.len, now);
            if (rel.state != SW_REL_UP)
                check(rc == SW_EAGAIN);
            else if (w.len > max)
                check(rc == SW_ETOOBIG);
            else
                check(rc == (could ? 0 : SW_EAGAIN));
            break;
        }
        case 4: {
            uint32_t wait = sw_rel_poll(&rel, now);
            // a timeout, from when the line model has the message leave (at most 10 min on)
            check(wait == UINT32_MAX || wait <= 2 * 600000u);
            break;
        }
        case 5: // time passes
            now += (uint32_t)byte(&in) << ((op >> 3) & 7);
            break;
        case 6:
            if (op & 8)
                sw_rel_close(&rel, (op & 16) ? "fuzz" : NULL, now);
            else if (!(op & 16))
                sw_rel_start(&rel, now);
            else if (op & 32) // the owner wrote bytes of its own to the line
                sw_rel_line_used(&rel, (size_t)byte(&in) << ((op >> 6) * 4), now);
            else
                sw_rel_hold(&rel, op & 64);
            break;
        default: // our own last message comes back (a looped line)
            if (last_tx_n) {
                uint8_t echo[sizeof last_tx];
                n = last_tx_n;
                memcpy(echo, last_tx, n);
                sw_rel_input(&rel, echo, n, now);
            }
            break;
        }
        invariants();
    }
    return 0;
}
