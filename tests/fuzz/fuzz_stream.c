// Fuzz target: the lossless stream receiver in both modes on arbitrary bytes. Every delivered
// message must be exactly one valid MsgPack item within the buffer size (and, without a
// prefix, never a top-level integer); feeding whole, byte by byte and in input-derived chunks
// must give the same transcript and the same final result. The same holds in resynchronising
// mode (oversize items abandoned at once, as on serial lines), also with an idle gap
// (sw_stream_rx_resync) at the middle of the input, which every feeding mode cuts at.
//
// Input: [options] then the stream. options: bits 0-1 prefix (none, C1, 85, 00), bits 2-3
// buffer size (4096, 64, 16, 1), bits 4-7 seed of the chunk sizes.
#include <stdint.h>
#include <string.h>

#include "swarm/stream.h"

static const int prefixes[4] = {SW_STREAM_NO_PREFIX, 0xC1, 0x85, 0x00};
static const size_t caps[4] = {4096, 64, 16, 1};
static uint8_t store[4096];

typedef struct run {
    const sw_stream_rx_t *rx;
    uint64_t h;
    uint32_t console, msgs, toobig;
} run_t;

static void mix(run_t *r, uint8_t b) { r->h = (r->h ^ b) * 0x100000001b3ull; }

static bool int_lead(uint8_t b) { return b < 0x80 || b >= 0xE0 || (b >= 0xCC && b <= 0xD3); }

static void on_msg(void *ctx, const uint8_t *p, size_t n)
{
    run_t *r = ctx;
    if (n == 0 || n > r->rx->split.cap || sw_mp_check(p, n) != 0)
        __builtin_trap();
    if (r->rx->prefix == SW_STREAM_NO_PREFIX && int_lead(p[0]))
        __builtin_trap();
    r->msgs++;
    mix(r, 'm');
    for (size_t i = 0; i < n; i++)
        mix(r, p[i]);
}

static void on_con(void *ctx, const uint8_t *p, size_t n)
{
    run_t *r = ctx;
    if (n == 0)
        __builtin_trap();
    r->console += (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        mix(r, 'c');
        mix(r, p[i]);
    }
}

static void on_drop(void *ctx, int err)
{
    run_t *r = ctx;
    if (err == SW_ETOOBIG)
        r->toobig++;
    else if (err != SW_EPROTO || r->rx->prefix != SW_STREAM_NO_PREFIX)
        __builtin_trap(); // EPROTO drops are other top-level integers (no-prefix mode only)
    mix(r, 'd');
    mix(r, (uint8_t)-err);
}

// mode 0: whole; 1: byte by byte; 2: chunks of 1..32 from a PRNG seeded by the options.
// resync: resynchronising mode; gap: input position of an idle gap (SIZE_MAX: none).
static int run(int prefix, size_t cap, const uint8_t *p, size_t n, int mode, uint32_t seed, run_t *r,
               bool resync, size_t gap)
{
    sw_stream_rx_t rx;
    sw_stream_rx_init(&rx, prefix, store, cap);
    sw_stream_rx_set_resync(&rx, resync);
    uint32_t gaps = 0;
    memset(r, 0, sizeof *r);
    r->rx = &rx;
    r->h = 0xcbf29ce484222325ull;
    const sw_rx_sink_t sink = {on_msg, on_con, on_drop, r};
    int rc = 0;
    for (size_t i = 0; i < n && !rc;) {
        size_t k = n - i;
        if (mode == 1)
            k = 1;
        else if (mode == 2) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 32;
            if (k > n - i)
                k = n - i;
        }
        if (i < gap && k > gap - i)
            k = gap - i; // every mode cuts at the gap
        rc = sw_stream_rx_feed(&rx, p + i, k, &sink);
        i += k;
        if (i == gap && !rc && sw_stream_rx_resync(&rx)) {
            gaps++;
            mix(r, 'g');
        }
    }
    if (rx.stats.resync != gaps)
        __builtin_trap();
    if (rc != 0 && rc != SW_EPROTO && rc != SW_EDEPTH)
        __builtin_trap();
    if (rc && sw_stream_rx_feed(&rx, p, n, &sink) != rc) // sticky
        __builtin_trap();
    if (rx.stats.msgs != r->msgs || rx.stats.console != r->console || rx.stats.toobig != r->toobig)
        __builtin_trap();
    mix(r, (uint8_t)-rc);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    int prefix = prefixes[in[0] & 3];
    size_t cap = caps[(in[0] >> 2) & 3];
    uint32_t seed = in[0] >> 4;
    size_t gaps[2] = {SIZE_MAX, (size - 1) / 2};
    for (int resync = 0; resync < 2; resync++) {
        for (int g = 0; g < 1 + resync; g++) { // a gap matters in resynchronising mode only
            run_t a, b, c;
            int ra = run(prefix, cap, in + 1, size - 1, 0, seed, &a, resync, gaps[g]);
            int rb = run(prefix, cap, in + 1, size - 1, 1, seed, &b, resync, gaps[g]);
            int rc = run(prefix, cap, in + 1, size - 1, 2, seed, &c, resync, gaps[g]);
            if (ra != rb || ra != rc || a.h != b.h || a.h != c.h)
                __builtin_trap();
        }
    }
    return 0;
}
