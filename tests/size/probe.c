// Run-time probe of the size build (scripts/size, when qemu-system-arm is installed): the same
// firmware as the size image (tests/size/stub_port.c with the node), but this file replaces the
// stub port's hardware hooks so that QEMU (mps2-an385, semihosting) can run it. It plays the
// host end of the lossy serial link in the same program — SerialPacker + Reliable from the
// core — sends {"a":"ping","d":{"m":"size"},"i":1}, sys.mem, a ping of a float and (with Lua)
// sys.eval twice (the second after the node's clock jumped 25 days), checks
// the answers, and prints the heap the node held through the port's alloc() at each step, the
// allocations of 1 KB or more (seen by wrapping realloc: link with -Wl,--wrap=realloc) and the
// deepest stack use (the stack is painted before main), as one line scripts/size parses:
//   probe lua lua_heap=… lua_peak=…      (image c: the Lua VM's own heap, from sw_lua_t)
//   probe ok heap_create=… heap_start=… heap_ping=… heap_end=… heap_peak=… allocs=… stack=…
//            big=… ms=…
// Time is simulated (1 ms per loop pass), so the run is deterministic.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stub_port.h"
#if SW_SIZE_PROBE_LUA
#include "lua_int.h" // the Lua heap figures in sw_lua_t
#endif
#include "swarm/rel.h"
#include "swarm/sp.h"

#define MAX_MSG 1024    // the node's serial.max_msg default
#define LINE_CAP 8192   // bytes in flight on the simulated line, each direction
#define DEADLINE_MS 20000

static uint32_t now_ms;
static uint8_t to_node[LINE_CAP], to_host[LINE_CAP];
static size_t to_node_len, to_host_len;
static bool overflow;

static sw_sp_cfg_t spcfg;
static sw_sp_rx_t sprx;
static uint8_t sprx_buf[MAX_MSG + 64];
static sw_rel_t rel;
static uint8_t rel_store[2 * 8 * MAX_MSG + MAX_MSG + 64];
static int sent;                  // requests sent so far
static bool failed;
static size_t heap_create, heap_start, heap_ping;

// --- allocations of 1 KB or more, by phase ----------------------------------------------------

static char big[512] = "create:";
static size_t big_len = 7;

static void big_add(const char *s)
{
    size_t n = strlen(s);
    if (big_len + n < sizeof big)
        memcpy(big + big_len, s, n + 1), big_len += n;
}

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    if (!p && n >= 1024) {
        char num[16];
        snprintf(num, sizeof num, "%s%zu", big[big_len - 1] == ':' ? "" : ",", n);
        big_add(num);
    }
    return __real_realloc(p, n);
}

// --- stack high-water mark --------------------------------------------------------------------

// The stack grows down from __stack (picolibc.ld: the top of RAM). Below the 2 KB picolibc.ld
// reserves lies unused heap space on this 4 MB machine, so STACK_WATCH bytes below the top
// are painted and checked.
extern uint32_t __stack[];
#define STACK_WATCH (64u * 1024u)
#define PAINT 0x5AC3A55Cu

__attribute__((constructor)) static void paint_stack(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = __stack - STACK_WATCH / 4; (uintptr_t)p < sp - 128; p++)
        *p = PAINT;
}

static size_t stack_used(void)
{
    uint32_t *p = __stack - STACK_WATCH / 4;
    while (p < __stack && *p == PAINT)
        p++;
    return (size_t)((char *)__stack - (char *)p);
}

// time() from the simulated clock instead of the host's (semihosting): Lua seeds its string
// hashes with it, and the allocation count would otherwise vary from run to run.
time_t time(time_t *t)
{
    time_t v = (time_t)(now_ms / 1000);
    if (t)
        *t = v;
    return v;
}

// --- the stub port's hardware hooks ----------------------------------------------------------

static void put(uint8_t *q, size_t *len, const void *p, size_t n)
{
    if (*len + n > LINE_CAP) {
        overflow = true;
        return;
    }
    memcpy(q + *len, p, n);
    *len += n;
}

// The node's clock: the simulated one plus the jumps steps ask for (step_t.skip_ms).
static uint32_t skew;
uint32_t sw__size_now(void) { return now_ms + skew; }
void sw__size_tx(const uint8_t *p, size_t n) { put(to_host, &to_host_len, p, n); }

size_t sw__size_rx(uint8_t *buf, size_t cap)
{
    size_t k = to_node_len < cap ? to_node_len : cap;
    memcpy(buf, to_node, k);
    memmove(to_node, to_node + k, to_node_len - k);
    to_node_len -= k;
    return k;
}

void sw__size_log(int level, const char *line, size_t n)
{
    printf("node %d: %.*s\n", level, (int)n, line);
}

// --- the host end of the link -----------------------------------------------------------------

static int host_tx(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    static uint8_t frame[MAX_MSG + 64 + SW_SP_OVERHEAD]; // static: keeps the probe's stack small
    int k = sw_sp_encode(&spcfg, p, n, frame, sizeof frame);
    if (k < 0)
        return k;
    put(to_node, &to_node_len, frame, (size_t)k);
    return 0;
}

static bool str_is(sw_span_t s, const char *want)
{
    return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

// The requests, sent one after the other once the link is up; each answer is checked by its
// step's check(). With Lua (SW_SIZE_PROBE_LUA, image c) two more: a config entry holding a
// 64-bit integer is set (the stub port cannot save it, so an error answer is fine), then
// sys.eval reads it back through swarm.call — the MsgPack → Lua conversion of a LUA_32BITS VM
// must turn it into a float, not wrap it.
typedef struct step {
    const char *a1, *a2; // action: a1, or [a1, a2]
    void (*args)(sw_mpw_t *w);
    bool (*check)(sw_span_t d, bool is_error);
    const char *what;
    uint32_t skip_ms;    // the node's clock jumps this far before the request goes out
} step_t;

static void args_ping(sw_mpw_t *w) { sw_mpw_map(w, 1), sw_mpw_cstr(w, "m"), sw_mpw_cstr(w, "size"); }
static void args_none(sw_mpw_t *w) { sw_mpw_map(w, 0); }

static bool check_ping(sw_span_t d, bool is_error)
{
    sw_mpr_t r;
    sw_span_t s;
    sw_mpr_init(&r, d.p, d.n);
    heap_ping = sw__size_heap_now;
    return !is_error && sw_mpr_str(&r, &s) && str_is(s, "R:size");
}

// ping of a float: the answer is formatted by the core ("R:1.5"), not by printf — image (b) is
// linked with picolibc's integer-only printf, which would print "R:*" or nothing.
static void args_ping_float(sw_mpw_t *w) { sw_mpw_map(w, 1), sw_mpw_cstr(w, "m"), sw_mpw_f32(w, 1.5f); }

static bool check_ping_float(sw_span_t d, bool is_error)
{
    sw_mpr_t r;
    sw_span_t s;
    sw_mpr_init(&r, d.p, d.n);
    return !is_error && sw_mpr_str(&r, &s) && str_is(s, "R:1.5");
}

static bool check_mem(sw_span_t d, bool is_error)
{
    sw_span_t h;
    return !is_error && sw_mp_map_get(d.p, d.n, "heap", &h) == 0;
}

#if SW_SIZE_PROBE_LUA
#define BIG_NEG (-((int64_t)1 << 40))

static void args_cfg(sw_mpw_t *w)
{
    sw_mpw_map(w, 2);
    sw_mpw_cstr(w, "p"), sw_mpw_array(w, 1), sw_mpw_cstr(w, "probe");
    sw_mpw_cstr(w, "d"), sw_mpw_int(w, BIG_NEG);
}

static bool check_any(sw_span_t d, bool is_error)
{
    (void)d, (void)is_error;
    return true;
}

static void args_eval(sw_mpw_t *w)
{
    sw_mpw_map(w, 1);
    sw_mpw_cstr(w, "code"), sw_mpw_cstr(w, "return swarm.call('sys.cfg', {p = {'probe'}})");
}

static void args_now(sw_mpw_t *w)
{
    sw_mpw_map(w, 1);
    sw_mpw_cstr(w, "code"), sw_mpw_cstr(w, "return swarm.now()");
}

static bool check_now(sw_span_t d, bool is_error) // [value, repr]; value >= 0
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    uint32_t k;
    sw_mpr_init(&r, d.p, d.n);
    return !is_error && sw_mpr_array(&r, &k) && k >= 1 && !sw_mpr_next(&r, &o) && o.type == SW_MP_UINT;
}

static bool check_eval(sw_span_t d, bool is_error) // [value, repr]; value ~ -2^40
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    uint32_t k;
    sw_mpr_init(&r, d.p, d.n);
    if (is_error || !sw_mpr_array(&r, &k) || k < 1 || sw_mpr_next(&r, &o))
        return false;
    if (o.type == SW_MP_FLOAT)
        return o.v.f < 0.99 * (double)BIG_NEG && o.v.f > 1.01 * (double)BIG_NEG;
    return o.type == SW_MP_INT && o.v.i == BIG_NEG;
}
#endif

static const step_t steps[] = {
    {"ping", NULL, args_ping, check_ping, "ping", 0},
    {"sys", "mem", args_none, check_mem, "sys.mem", 0},
    {"ping", NULL, args_ping_float, check_ping_float, "ping of a float", 0},
#if SW_SIZE_PROBE_LUA
    {"sys", "cfg", args_cfg, check_any, "sys.cfg", 0},
    {"sys", "eval", args_eval, check_eval, "sys.eval", 0},
    // 25 days of uptime (past 2^31 ms): swarm.now() of a LUA_32BITS VM must not be negative
    {"sys", "eval", args_now, check_now, "swarm.now() after 25 days", 25u * 86400u * 1000u},
#endif
};
#define NSTEPS (int)(sizeof steps / sizeof steps[0])
static int answered; // steps answered so far

static void host_rx(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    sw_span_t v;
    int64_t seq = 0;
    if (sw_mp_map_get(p, n, "i", &v) == 0) {
        sw_mpr_t r;
        sw_mpr_init(&r, v.p, v.n);
        sw_mpr_int(&r, &seq);
    }
    if (seq < 1 || seq > NSTEPS || seq != sent || answered >= seq)
        return; // not an answer we wait for (e.g. the node's "link" notification)
    bool is_error = sw_mp_map_get(p, n, "e", &v) == 0;
    if (!is_error && sw_mp_map_get(p, n, "d", &v) != 0)
        return;
    answered = (int)seq;
    if (!steps[seq - 1].check(v, is_error)) {
        failed = true;
        printf("probe: bad answer to %s: %d bytes:", steps[seq - 1].what, (int)n);
        for (size_t i = 0; i < n; i++)
            printf(" %02x", p[i]);
        printf("\n");
    }
}

static void host_send(int seq)
{
    const step_t *s = &steps[seq - 1];
    uint8_t buf[128];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 3);
    sw_mpw_cstr(&w, "a");
    if (s->a2)
        sw_mpw_array(&w, 2), sw_mpw_cstr(&w, s->a1), sw_mpw_cstr(&w, s->a2);
    else
        sw_mpw_cstr(&w, s->a1);
    sw_mpw_cstr(&w, "d");
    s->args(&w);
    sw_mpw_cstr(&w, "i"), sw_mpw_int(&w, seq);
    skew += s->skip_ms;
    if (!w.err && sw_rel_send(&rel, buf, w.len, now_ms) == 0)
        sent = seq;
}

static void host_init(void)
{
    sw_sp_cfg_default(&spcfg);
    spcfg.max_frame = MAX_MSG + 64;
    sw_sp_rx_init(&sprx, &spcfg, sprx_buf, sizeof sprx_buf);
    sw_rel_cfg_t rc;
    sw_rel_cfg_default(&rc);
    rc.max_msg = MAX_MSG;
    sw_rel_io_t io = {host_tx, host_rx, NULL, NULL};
    if (sw_rel_init(&rel, &rc, &io, rel_store, sizeof rel_store))
        failed = true;
    sw_rel_start(&rel, now_ms);
}

static void rel_msg(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    sw_rel_input(&rel, p, n, now_ms);
}

bool sw__size_event(int what, sw_node_t *n)
{
    (void)n; // used with Lua only
    if (what == SW_SIZE_CREATED) {
        heap_create = sw__size_heap_now;
        big_add(";start:");
        host_init();
        return true;
    }
    if (what == SW_SIZE_STARTED) {
        heap_start = sw__size_heap_now;
        big_add(";run:");
        return true;
    }
    // one simulated millisecond per pass: deliver the node's bytes to the host end
    sw_rx_sink_t sink = {rel_msg, NULL, NULL, NULL};
    if (to_host_len) {
        sw_sp_rx_feed(&sprx, to_host, to_host_len, now_ms, &sink);
        to_host_len = 0;
    }
    sw_rel_poll(&rel, now_ms);
    if (sw_rel_is_up(&rel) && sent == answered && sent < NSTEPS)
        host_send(sent + 1);
    bool done = answered == NSTEPS;
    if (done || failed || overflow || now_ms >= DEADLINE_MS) {
        bool ok = done && !failed && !overflow;
#if SW_SIZE_PROBE_LUA
        if (ok && n->lua)
            printf("probe lua lua_heap=%zu lua_peak=%zu\n", n->lua->mem_used, n->lua->mem_peak);
#endif
        if (ok)
            printf("probe ok heap_create=%zu heap_start=%zu heap_ping=%zu heap_end=%zu heap_peak=%zu "
                   "allocs=%zu stack=%zu big=%s ms=%lu\n",
                   heap_create, heap_start, heap_ping, sw__size_heap_now, sw__size_heap_peak,
                   sw__size_allocs, stack_used(), big, (unsigned long)now_ms);
        else
            printf("probe failed: link %s, %d of %d answers%s%s after %lu ms\n",
                   sw_rel_is_up(&rel) ? "up" : "down", answered, NSTEPS,
                   failed ? ", a bad one" : "", overflow ? ", line overflow" : "",
                   (unsigned long)now_ms);
        exit(ok ? 0 : 1);
    }
    now_ms++;
    return true;
}
