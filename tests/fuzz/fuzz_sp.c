// Fuzz target: the SerialPacker deframer on arbitrary bytes with timestamps derived from the
// input, under every option set. Every delivered frame must carry a CRC that matches its
// payload (checked against the raw input), respect the length bounds, and feeding in chunks
// must give exactly what feeding byte by byte gives.
//
// Input: [options] then chunks of [control][data...]. options: bits 0-1 start byte
// (C1, 85, none, A9), bits 2-4 max_frame, bits 5-6 idle_ms. control: low 6 bits = data bytes
// - 1; high 2 bits = what happens before the chunk: no time passes / idle_ms-1 / idle_ms /
// a tick half-way and at idle_ms, then idle_ms+1.
#include <string.h>

#include "swarm/sp.h"

static const int starts[4] = {0xC1, 0x85, SW_SP_START_NONE, 0xA9};
static const uint16_t maxes[8] = {127, 300, 32767, 255, 1, 128, 256, 2};
static const uint16_t idles[4] = {100, 0, 5, 1};

static uint8_t data[1 << 16];         // the line bytes, without control bytes
static uint32_t when[sizeof data];    // time of each chunk's bytes
static uint8_t tick_before[sizeof data];
static size_t chunk_at[sizeof data + 1];
static uint8_t rxbuf[32767];

typedef struct run {
    const sw_sp_rx_t *rx;
    size_t pos;      // byte mode: index in data[] of the byte being fed
    bool byte_mode;
    uint64_t h;      // transcript hash
    uint32_t console, msgs, drops;
} run_t;

static void mix(run_t *r, uint8_t b) { r->h = (r->h ^ b) * 0x100000001b3ull; }

static void on_msg(void *ctx, const uint8_t *p, size_t n)
{
    run_t *r = ctx;
    if (n == 0 || n > r->rx->cfg.max_frame)
        __builtin_trap();
    uint16_t crc = sw_crc16(0, p, n);
    if (r->byte_mode) {
        // the frame is the last bytes fed: payload, then the CRC high and low byte
        if (r->pos < n + 2 || memcmp(p, data + r->pos - 1 - n, n) != 0 ||
            crc != (uint16_t)(data[r->pos - 1] << 8 | data[r->pos]))
            __builtin_trap();
    } else if (crc != r->rx->crc_rx) {
        __builtin_trap();
    }
    r->msgs++;
    mix(r, 'm');
    mix(r, (uint8_t)n);
    mix(r, (uint8_t)(n >> 8));
    for (size_t i = 0; i < n; i++)
        mix(r, p[i]);
}

static void on_con(void *ctx, const uint8_t *p, size_t n)
{
    run_t *r = ctx;
    if (n == 0 || r->rx->cfg.start == SW_SP_START_NONE)
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
    if (err != SW_ECRC && err != SW_ETOOBIG && err != SW_EPROTO && err != SW_ETIMEDOUT)
        __builtin_trap();
    r->drops++;
    mix(r, 'd');
    mix(r, (uint8_t)-err);
}

static void run(const sw_sp_cfg_t *c, size_t chunks, bool byte_mode, run_t *r)
{
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, c, rxbuf, sizeof rxbuf);
    memset(r, 0, sizeof *r);
    r->rx = &rx;
    r->byte_mode = byte_mode;
    r->h = 0xcbf29ce484222325ull;
    const sw_rx_sink_t sink = {on_msg, on_con, on_drop, r};
    for (size_t k = 0; k < chunks; k++) {
        size_t from = chunk_at[k], to = chunk_at[k + 1];
        if (tick_before[k]) {
            sw_sp_rx_tick(&rx, when[k] - c->idle_ms / 2 - 1, &sink);
            sw_sp_rx_tick(&rx, when[k] - 1, &sink);
        }
        if (byte_mode) {
            for (r->pos = from; r->pos < to; r->pos++)
                sw_sp_rx_feed(&rx, data + r->pos, 1, when[k], &sink);
        } else {
            sw_sp_rx_feed(&rx, data + from, to - from, when[k], &sink);
        }
    }
    sw_sp_stats_t s = rx.stats;
    if (s.frames != r->msgs || s.console != r->console ||
        s.err_crc + s.err_len + s.err_idle != r->drops || s.console > chunk_at[chunks])
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    sw_sp_cfg_t c;
    sw_sp_cfg_default(&c);
    c.start = starts[in[0] & 3];
    c.max_frame = maxes[(in[0] >> 2) & 7];
    c.idle_ms = idles[(in[0] >> 5) & 3];

    // split the input into chunks with their arrival times; start close to the clock wrap
    uint32_t t = 0xFFFFFF00u;
    size_t chunks = 0, n = 0;
    for (size_t i = 1; i < size && n < sizeof data;) {
        uint8_t ctl = in[i++];
        size_t k = (size_t)(ctl & 0x3F) + 1;
        if (k > size - i)
            k = size - i;
        if (k > sizeof data - n)
            k = sizeof data - n;
        switch (ctl >> 6) {
        case 0: break;
        case 1: t += c.idle_ms ? c.idle_ms - 1u : 1u; break;
        case 2: t += c.idle_ms; break;
        default: t += c.idle_ms + 1u; break;
        }
        tick_before[chunks] = (ctl >> 6) == 3;
        when[chunks] = t;
        chunk_at[chunks++] = n;
        memcpy(data + n, in + i, k);
        n += k;
        i += k;
    }
    chunk_at[chunks] = n;

    run_t a, b;
    run(&c, chunks, false, &a);
    run(&c, chunks, true, &b);
    if (a.h != b.h)
        __builtin_trap();
    return 0;
}
