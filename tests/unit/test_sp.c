// SerialPacker: CRC vectors and a bitwise cross-check, exact frame bytes, round trips for every
// length form and start-byte mode (whole, byte at a time, random chunks), console interleave
// incl. the UTF-8 guard, idle timeouts, bad lengths, and a noisy-channel property: no corrupted
// frame is ever delivered and the deframer always finds its way back.
#include "rx_rec.h"

#include "swarm/sp.h"

static void on_msg(void *ctx, const uint8_t *p, size_t n) { rec_add(ctx, 'm', 0, p, n); }
static void on_drop(void *ctx, int err) { rec_add(ctx, 'd', err, NULL, 0); }
static void on_con(void *ctx, const uint8_t *p, size_t n)
{
    rec_t *r = ctx;
    assert_true(n > 0); // never an empty run
    r->con_calls++;
    rec_add(r, 'c', 0, p, n);
}

static const sw_rx_sink_t sink = {on_msg, on_con, on_drop, &got};

//////////////////////////////////////////////////////////////////////////////////////////////
// CRC

static uint16_t crc_bitwise(uint16_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t nib[2] = {(uint8_t)(p[i] >> 4), (uint8_t)(p[i] & 15)};
        for (int h = 0; h < 2; h++) {
            crc ^= nib[h];
            for (int k = 0; k < 4; k++)
                crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xBAAD) : (uint16_t)(crc >> 1);
        }
    }
    return crc;
}

static void test_crc_vectors(void **state)
{
    (void)state;
    assert_int_equal(sw_crc16(0, "", 0), 0x0000);
    assert_int_equal(sw_crc16(0, "\x00", 1), 0x0000);
    assert_int_equal(sw_crc16(0, "\x01", 1), 0x64A8);
    assert_int_equal(sw_crc16(0, "123456789", 9), 0xDC07);
    // incremental: any split gives the same result
    static const char digits[] = "123456789";
    for (size_t k = 0; k <= 9; k++)
        assert_int_equal(sw_crc16(sw_crc16(0, digits, k), &digits[k], 9 - k), 0xDC07);
    assert_int_equal(crc_bitwise(0, (const uint8_t *)"123456789", 9), 0xDC07);
}

static void test_crc_bitwise(void **state)
{
    (void)state;
    tu_rng_t r = {0x5eed0001};
    uint8_t buf[512];
    for (unsigned b = 0; b < 256; b++) {
        uint8_t x = (uint8_t)b;
        uint16_t init = (uint16_t)tu_next(&r);
        assert_int_equal(sw_crc16(init, &x, 1), crc_bitwise(init, &x, 1));
    }
    for (int round = 0; round < 2000; round++) {
        size_t n = tu_below(&r, sizeof buf + 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_next(&r);
        uint16_t init = round & 1 ? (uint16_t)tu_next(&r) : 0;
        assert_int_equal(sw_crc16(init, buf, n), crc_bitwise(init, buf, n));
    }
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Encoding

static const char *ping_hex = "83a161a470696e67a16481a16da178a16901";

static sw_sp_cfg_t cfg_of(int start, uint16_t max, uint16_t idle)
{
    sw_sp_cfg_t c;
    sw_sp_cfg_default(&c);
    c.start = start;
    c.max_frame = max;
    c.idle_ms = idle;
    return c;
}

static void test_defaults(void **state)
{
    (void)state;
    sw_sp_cfg_t c;
    sw_sp_cfg_default(&c);
    assert_int_equal(c.start, 0xC1);
    assert_int_equal(c.max_frame, 127);
    assert_int_equal(c.idle_ms, 100);
}

static void check_ping(int start, const char *frame_hex)
{
    uint8_t ping[32], out[64], hdr[3], tr[2];
    size_t n = tu_hex(ping_hex, ping, sizeof ping);
    assert_int_equal(n, 18);
    sw_sp_cfg_t c = cfg_of(start, 127, 100);
    int k = sw_sp_encode(&c, ping, n, out, sizeof out);
    assert_true(k > 0);
    tu_assert_bytes(out, (size_t)k, frame_hex);
    // header + payload + trailer is the same frame
    size_t h = sw_sp_header(&c, n, hdr);
    sw_sp_trailer(ping, n, tr);
    assert_int_equal(h + n + 2, (size_t)k);
    assert_memory_equal(hdr, out, h);
    assert_memory_equal(tr, out + h + n, 2);
    // and it decodes to the payload
    uint8_t buf[127];
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, buf, sizeof buf);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, out, (size_t)k, 0, &sink);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm');
    assert_int_equal(got.ev[0].n, n);
    assert_memory_equal(got.arena, ping, n);
    assert_int_equal(rx.stats.frames, 1);
}

// The MoaT spec's example frame, and the same with our start byte and without one.
static void test_ping_frame(void **state)
{
    (void)state;
    check_ping(0x85, "85 12 83a161a470696e67a16481a16da178a16901 10 95");
    check_ping(0xC1, "c1 12 83a161a470696e67a16481a16da178a16901 10 95");
    check_ping(SW_SP_START_NONE, "12 83a161a470696e67a16481a16da178a16901 10 95");
}

static void test_length_forms(void **state)
{
    (void)state;
    uint8_t p[40000], out[40010], hdr[3];
    memset(p, 0x55, sizeof p);
    sw_sp_cfg_t c = cfg_of(0xC1, 300, 100);
    assert_int_equal(sw_sp_header(&c, 127, hdr), 2);
    tu_assert_bytes(hdr, 2, "c1 7f");
    assert_int_equal(sw_sp_header(&c, 128, hdr), 3);
    tu_assert_bytes(hdr, 3, "c1 80 01");
    assert_int_equal(sw_sp_header(&c, 300, hdr), 3);
    tu_assert_bytes(hdr, 3, "c1 ac 02");
    assert_int_equal(sw_sp_header(&c, 301, hdr), 0);
    assert_int_equal(sw_sp_header(&c, 0, hdr), 0);
    // max_frame <= 255: one length byte up to 255
    c = cfg_of(SW_SP_START_NONE, 255, 100);
    assert_int_equal(sw_sp_header(&c, 200, hdr), 1);
    tu_assert_bytes(hdr, 1, "c8");
    assert_int_equal(sw_sp_header(&c, 255, hdr), 1);
    tu_assert_bytes(hdr, 1, "ff");
    c = cfg_of(0x85, 32767, 100);
    assert_int_equal(sw_sp_header(&c, 32767, hdr), 3);
    tu_assert_bytes(hdr, 3, "85 ff ff");
    // a max_frame beyond what the length can say is clamped to 32767
    c = cfg_of(0x85, 40000, 100);
    assert_int_equal(sw_sp_header(&c, 32768, hdr), 0);
    assert_int_equal(sw_sp_encode(&c, p, 32768, out, sizeof out), SW_ETOOBIG);
    assert_int_equal(sw_sp_encode(&c, p, 32767, out, sizeof out), 32767 + 5);
}

static void test_encode_errors(void **state)
{
    (void)state;
    uint8_t p[200], out[300];
    memset(p, 1, sizeof p);
    sw_sp_cfg_t c = cfg_of(0xC1, 127, 100);
    assert_int_equal(sw_sp_encode(&c, p, 0, out, sizeof out), SW_ETOOBIG);
    assert_int_equal(sw_sp_encode(&c, p, 128, out, sizeof out), SW_ETOOBIG);
    assert_int_equal(sw_sp_encode(&c, p, 127, out, 127 + 3), SW_EFULL);
    assert_int_equal(sw_sp_encode(&c, p, 127, out, 127 + 4), 127 + 4);
    assert_int_equal(sw_sp_encode(&c, p, 1, NULL, 0), SW_EFULL);
    c.start = SW_SP_START_NONE;
    assert_int_equal(sw_sp_encode(&c, p, 10, out, 12), SW_EFULL);
    assert_int_equal(sw_sp_encode(&c, p, 10, out, 13), 13);
    // a start value outside 0..255 means no start byte, on both sides
    c.start = 300;
    assert_int_equal(sw_sp_encode(&c, p, 10, out, 13), 13);
    assert_int_equal(out[0], 10);
    c = cfg_of(0xC1, 300, 100);
    assert_int_equal(sw_sp_encode(&c, p, 200, out, 200 + 4), SW_EFULL);
    assert_int_equal(sw_sp_encode(&c, p, 200, out, 200 + 5), 200 + 5);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Round trips

enum { FEED_WHOLE, FEED_BYTES, FEED_CHUNKS };

static uint8_t wire[1 << 21];
static uint8_t rxbuf[32768];

// Feeds s[0..n) in the given way; time advances by less than idle_ms between pieces.
static uint32_t feed(sw_sp_rx_t *rx, const uint8_t *s, size_t n, int mode, tu_rng_t *r, uint32_t t)
{
    uint32_t step = rx->cfg.idle_ms ? rx->cfg.idle_ms : 1000;
    if (mode == FEED_WHOLE) {
        sw_sp_rx_feed(rx, s, n, t, &sink);
        return t;
    }
    for (size_t i = 0; i < n;) {
        size_t k = mode == FEED_BYTES ? 1 : 1 + tu_below(r, 64);
        if (k > n - i)
            k = n - i;
        sw_sp_rx_feed(rx, s + i, k, t, &sink);
        i += k;
        t += tu_below(r, step);
    }
    return t;
}

static size_t append_frame(const sw_sp_cfg_t *c, uint8_t *w, size_t at, tu_rng_t *r, size_t len)
{
    uint8_t p[32767];
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)tu_next(r);
    int k = sw_sp_encode(c, p, len, w + at, sizeof wire - at);
    assert_int_equal(k, (int)(len + 2 + (c->start >= 0) + (c->max_frame > 255 && len > 127 ? 2 : 1)));
    rec_add(&want, 'm', 0, p, len);
    return at + (size_t)k;
}

static void roundtrip(int start, uint16_t max)
{
    tu_rng_t r = {0x77 + (uint64_t)max * 3 + (uint64_t)(start + 1)};
    sw_sp_cfg_t c = cfg_of(start, max, 100);
    size_t lens[2000], nl = 0;
    if (max < 1000) {
        for (size_t l = 1; l <= max; l++)
            lens[nl++] = l;
    } else {
        // all 1..600, the edges of the two length forms, and a spread of random sizes
        for (size_t l = 1; l <= 600; l++)
            lens[nl++] = l;
        static const size_t edge[] = {1023, 1024, 16383, 16384, 32766, 32767};
        for (size_t k = 0; k < sizeof edge / sizeof *edge; k++)
            lens[nl++] = edge[k];
        for (int k = 0; k < 20; k++)
            lens[nl++] = 1 + tu_below(&r, max);
    }
    // several streams, each within the wire buffer
    for (size_t from = 0; from < nl;) {
        size_t n = 0;
        rec_reset(&want);
        while (from < nl && n + lens[from] + 5 <= sizeof wire)
            n = append_frame(&c, wire, n, &r, lens[from++]);
        for (int mode = FEED_WHOLE; mode <= FEED_CHUNKS; mode++) {
            sw_sp_rx_t rx;
            sw_sp_rx_init(&rx, &c, rxbuf, sizeof rxbuf);
            rec_reset(&got);
            feed(&rx, wire, n, mode, &r, 1000);
            rec_same(&got, &want);
            assert_int_equal(rx.stats.frames, want.nev);
            assert_int_equal(rx.stats.err_crc + rx.stats.err_len + rx.stats.err_idle, 0);
            assert_int_equal(rx.stats.console, 0);
        }
    }
}

static void test_roundtrip_127(void **state)
{
    (void)state;
    roundtrip(0xC1, 127);
    roundtrip(0x85, 127);
    roundtrip(SW_SP_START_NONE, 127);
}

static void test_roundtrip_300(void **state)
{
    (void)state;
    roundtrip(0xC1, 300);
    roundtrip(0x85, 300);
    roundtrip(SW_SP_START_NONE, 300);
}

static void test_roundtrip_32767(void **state)
{
    (void)state;
    roundtrip(0xC1, 32767);
    roundtrip(0x85, 32767);
    roundtrip(SW_SP_START_NONE, 32767);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Console interleave

static size_t append_con(uint8_t *w, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(w + at, s, n);
    rec_add(&want, 'c', 0, (const uint8_t *)s, n);
    return at + n;
}

static void interleave(int start, const char *const *texts, size_t ntexts)
{
    tu_rng_t r = {0xc0ffee + (uint64_t)start};
    sw_sp_cfg_t c = cfg_of(start, 300, 100);
    size_t n = 0;
    rec_reset(&want);
    for (size_t k = 0; k < ntexts; k++) {
        n = append_con(wire, n, texts[k]);
        if (k + 1 < ntexts) {
            size_t frames = 1 + tu_below(&r, 3); // sometimes frames back to back
            for (size_t f = 0; f < frames; f++)
                n = append_frame(&c, wire, n, &r, 1 + tu_below(&r, 300));
        }
    }
    for (int mode = FEED_WHOLE; mode <= FEED_CHUNKS; mode++) {
        sw_sp_rx_t rx;
        sw_sp_rx_init(&rx, &c, rxbuf, sizeof rxbuf);
        rec_reset(&got);
        feed(&rx, wire, n, mode, &r, 5);
        rec_same(&got, &want);
        size_t con = 0;
        for (size_t k = 0; k < ntexts; k++)
            con += strlen(texts[k]);
        assert_int_equal(rx.stats.console, con);
        if (mode == FEED_WHOLE) // one run per gap between frames, not one call per byte
            assert_true(got.con_calls <= ntexts);
    }
}

static void test_console_interleave(void **state)
{
    (void)state;
    static const char *const ascii[] = {"boot: swarm-node 0.1\r\n", "between\n", "x", "",
                                        "tail after the last frame\n"};
    // 0x85 is a UTF-8 continuation byte: in "Å" (c3 85), "…"-like "\u2005" (e2 80 85) and
    // "😅" (f0 9f 98 85, the 3rd continuation byte, which MoaT's guard would miss)
    static const char *const utf8[] = {"Åsa sagt: grüß dich ", "\u2005 spaced \u2005",
                                       "smile \xf0\x9f\x98\x85!", "\xc3\x85", "end Å\n"};
    interleave(0xC1, ascii, 5);
    interleave(0x85, ascii, 5);
    interleave(0xC1, utf8, 5);
    interleave(0x85, utf8, 5);
}

// With start 0xA9, "é" (c3 a9) carries the start byte as its continuation byte: it stays
// console, and a real frame right after it is still found.
static void test_utf8_guard(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0xA9, 127, 100);
    tu_rng_t r = {42};
    rec_reset(&want);
    size_t n = append_con(wire, 0, "caf\xc3\xa9");
    n = append_frame(&c, wire, n, &r, 5);
    n = append_con(wire, n, "\xc3\xa9\xc3\xa9");
    n = append_frame(&c, wire, n, &r, 7);
    for (int mode = FEED_WHOLE; mode <= FEED_CHUNKS; mode++) {
        sw_sp_rx_t rx;
        sw_sp_rx_init(&rx, &c, rxbuf, 127);
        rec_reset(&got);
        feed(&rx, wire, n, mode, &r, 0);
        rec_same(&got, &want);
    }

    // A cut-off character (lead byte, then no continuation byte) does not hide a start byte
    // that is not a continuation byte.
    c = cfg_of(0xC1, 127, 100);
    rec_reset(&want);
    n = append_con(wire, 0, "\xe2\x82");
    n = append_frame(&c, wire, n, &r, 3);
    n = append_con(wire, n, "\xf0");
    n = append_frame(&c, wire, n, &r, 3);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    feed(&rx, wire, n, FEED_BYTES, &r, 0);
    rec_same(&got, &want);

    // Bytes 0xF8..0xFF lead no UTF-8 sequence: the start byte right after one counts.
    c = cfg_of(0x85, 127, 100);
    rec_reset(&want);
    n = append_con(wire, 0, "\xff");
    n = append_frame(&c, wire, n, &r, 3);
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    feed(&rx, wire, n, FEED_WHOLE, &r, 0);
    rec_same(&got, &want);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Timeouts and bad frames

static void test_idle_drop(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0xC1, 127, 100);
    uint8_t f[32];
    int k = sw_sp_encode(&c, "hello", 5, f, sizeof f);
    assert_int_equal(k, 9);
    sw_sp_rx_t rx;

    // a gap of 99 ms inside a frame is fine
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 1000, &sink);
    sw_sp_rx_feed(&rx, f + 4, 5, 1099, &sink);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm');

    // 100 ms drops the half frame; the byte after the gap is read as if the line were idle,
    // so a whole frame starting there arrives
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 2000, &sink);
    sw_sp_rx_feed(&rx, f, 9, 2100, &sink);
    assert_int_equal(got.nev, 2);
    assert_int_equal(got.ev[0].kind, 'd');
    assert_int_equal(got.ev[0].err, SW_ETIMEDOUT);
    assert_int_equal(got.ev[1].kind, 'm');
    assert_int_equal(rx.stats.err_idle, 1);
    assert_int_equal(rx.stats.frames, 2);

    // ... and the rest of a frame after a gap is console, not frame data
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 3000, &sink);
    sw_sp_rx_feed(&rx, f + 4, 5, 3200, &sink);
    assert_int_equal(got.nev, 2);
    assert_int_equal(got.ev[0].kind, 'd');
    assert_int_equal(got.ev[1].kind, 'c');
    assert_int_equal(got.ev[1].n, 5);

    // the clock wraps: differences are taken modulo 2^32
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 0xFFFFFFF0u, &sink);
    sw_sp_rx_feed(&rx, f + 4, 5, 0x00000010u, &sink);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm');
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 0xFFFFFFF0u, &sink);
    sw_sp_rx_feed(&rx, f + 4, 5, 0x00000060u, &sink);
    assert_int_equal(got.ev[0].kind, 'd');
    assert_int_equal(rx.stats.err_idle, 1);

    // a gap between frames is no error
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    sw_sp_rx_feed(&rx, f, 9, 0, &sink);
    sw_sp_rx_feed(&rx, f, 9, 100000, &sink);
    assert_int_equal(rx.stats.frames, 2);
    assert_int_equal(rx.stats.err_idle, 0);

    // idle_ms 0: no timeout at all
    c.idle_ms = 0;
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 4, 0, &sink);
    sw_sp_rx_feed(&rx, f + 4, 5, 1000000, &sink);
    assert_int_equal(rx.stats.frames, 1);
}

static void test_idle_tick(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0x85, 127, 100);
    uint8_t f[32];
    int k = sw_sp_encode(&c, "hello", 5, f, sizeof f);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    sw_sp_rx_tick(&rx, 5, &sink); // nothing pending: nothing happens
    sw_sp_rx_feed(&rx, f, 3, 10, &sink);
    sw_sp_rx_tick(&rx, 109, &sink);
    assert_int_equal(got.nev, 0);
    sw_sp_rx_tick(&rx, 110, &sink);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].err, SW_ETIMEDOUT);
    assert_int_equal(rx.stats.err_idle, 1);
    sw_sp_rx_tick(&rx, 500, &sink); // dropped once only
    assert_int_equal(rx.stats.err_idle, 1);
    // later bytes, even soon after the tick, are console again
    sw_sp_rx_feed(&rx, (const uint8_t *)"ok", 2, 111, &sink);
    assert_int_equal(got.nev, 2);
    assert_int_equal(got.ev[1].kind, 'c');
    sw_sp_rx_feed(&rx, f, (size_t)k, 112, &sink);
    assert_int_equal(rx.stats.frames, 1);
}

// Without a start byte, idle gaps are the only delimiters: after a gap a length follows.
static void test_no_start(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(SW_SP_START_NONE, 127, 100);
    uint8_t f[32];
    int k = sw_sp_encode(&c, "hello", 5, f, sizeof f);
    assert_int_equal(k, 8);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, rxbuf, 127);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, f, 3, 0, &sink);             // half a frame
    sw_sp_rx_feed(&rx, f, (size_t)k, 100, &sink);   // gap: it is dropped, a new frame starts
    sw_sp_rx_feed(&rx, f, (size_t)k, 150, &sink);   // back to back is fine
    sw_sp_rx_feed(&rx, (const uint8_t *)"\x50garbage", 8, 160, &sink); // noise: length 80
    sw_sp_rx_tick(&rx, 260, &sink);
    sw_sp_rx_feed(&rx, f, (size_t)k, 300, &sink);
    assert_int_equal(rx.stats.frames, 3);
    assert_int_equal(rx.stats.err_idle, 2);
    assert_int_equal(rx.stats.console, 0);
    assert_int_equal(got.nev, 5);
    assert_int_equal(got.ev[0].kind, 'd');
    assert_int_equal(got.ev[1].kind, 'm');
    assert_int_equal(got.ev[2].kind, 'm');
    assert_int_equal(got.ev[3].kind, 'd');
    assert_int_equal(got.ev[4].kind, 'm');
}

static void expect_drop(const sw_sp_cfg_t *c, size_t cap, const char *hex, int err)
{
    uint8_t in[64], f[16];
    size_t n = tu_hex(hex, in, sizeof in);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, c, rxbuf, cap);
    rec_reset(&got);
    sw_sp_rx_feed(&rx, in, n, 0, &sink);
    assert_true(got.nev >= 1);
    assert_int_equal(got.ev[0].kind, 'd');
    assert_int_equal(got.ev[0].err, err);
    assert_int_equal(rx.stats.frames, 0);
    assert_int_equal(err == SW_ECRC ? rx.stats.err_crc : rx.stats.err_len, 1);
    // a good frame afterwards still arrives
    int k = sw_sp_encode(c, "ok", 2, f, sizeof f);
    sw_sp_rx_feed(&rx, f, (size_t)k, 1, &sink);
    assert_int_equal(rx.stats.frames, 1);
    assert_int_equal(got.ev[got.nev - 1].kind, 'm');
}

static void test_bad_length(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0xC1, 127, 100);
    expect_drop(&c, 127, "c1 00", SW_EPROTO);
    expect_drop(&c, 127, "c1 80", SW_ETOOBIG);
    expect_drop(&c, 127, "c1 ff", SW_ETOOBIG);
    c.max_frame = 200; // 1-byte lengths up to 200
    expect_drop(&c, 200, "c1 c9", SW_ETOOBIG);
    c.max_frame = 300;
    expect_drop(&c, 300, "c1 ad 02", SW_ETOOBIG);            // 301
    expect_drop(&c, 300, "c1 85 00", SW_EPROTO);             // 5 in the 2-byte form
    expect_drop(&c, 300, "c1 80 00", SW_EPROTO);             // 0 in the 2-byte form
    c.start = SW_SP_START_NONE;
    expect_drop(&c, 300, "00", SW_EPROTO);
    // a buffer smaller than max_frame lowers max_frame
    c = cfg_of(0xC1, 127, 100);
    expect_drop(&c, 50, "c1 33", SW_ETOOBIG);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, rxbuf, 50);
    assert_int_equal(rx.cfg.max_frame, 50);
    sw_sp_rx_init(&rx, &c, NULL, 50);
    assert_int_equal(rx.cfg.max_frame, 0);
}

static void test_bad_crc(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0xC1, 127, 100);
    expect_drop(&c, 127, "c1 02 6f 6b 00 00", SW_ECRC);
    uint8_t f[16];
    int k = sw_sp_encode(&c, "ok", 2, f, sizeof f);
    for (int i = 2; i < k; i++) {
        for (int bit = 0; bit < 8; bit++) {
            f[i] ^= (uint8_t)(1 << bit);
            sw_sp_rx_t rx;
            sw_sp_rx_init(&rx, &c, rxbuf, 127);
            rec_reset(&got);
            sw_sp_rx_feed(&rx, f, (size_t)k, 0, &sink);
            assert_int_equal(rx.stats.frames, 0);
            assert_int_equal(rx.stats.err_crc, 1);
            f[i] ^= (uint8_t)(1 << bit);
        }
    }
}

static void test_null_sink(void **state)
{
    (void)state;
    sw_sp_cfg_t c = cfg_of(0xC1, 127, 100);
    uint8_t f[16];
    int k = sw_sp_encode(&c, "ok", 2, f, sizeof f);
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, NULL, rxbuf, 127); // NULL cfg: defaults
    assert_int_equal(rx.cfg.start, 0xC1);
    sw_sp_rx_feed(&rx, (const uint8_t *)"hi", 2, 0, NULL);
    sw_sp_rx_feed(&rx, f, (size_t)k, 0, NULL);
    sw_sp_rx_feed(&rx, f, 3, 0, NULL);
    sw_sp_rx_tick(&rx, 1000, NULL);
    const sw_rx_sink_t only_msg = {on_msg, NULL, NULL, &got};
    sw_sp_rx_feed(&rx, f, 3, 2000, &only_msg);
    sw_sp_rx_feed(&rx, f, (size_t)k, 3000, &only_msg);
    sw_sp_rx_feed(&rx, f, 0, 3000, &only_msg);
    assert_int_equal(rx.stats.frames, 2);
    assert_int_equal(rx.stats.console, 2);
    assert_int_equal(rx.stats.err_idle, 2);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Noisy channel property

#define SENT_SLOTS (1u << 15)
static uint64_t sent[SENT_SLOTS]; // open-addressing set of payload hashes (0 = empty)

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h | 1;
}

static void sent_add(uint64_t h)
{
    for (uint32_t i = (uint32_t)h & (SENT_SLOTS - 1);; i = (i + 1) & (SENT_SLOTS - 1))
        if (sent[i] == 0 || sent[i] == h) {
            sent[i] = h;
            return;
        }
}

static bool sent_has(uint64_t h)
{
    for (uint32_t i = (uint32_t)h & (SENT_SLOTS - 1); sent[i]; i = (i + 1) & (SENT_SLOTS - 1))
        if (sent[i] == h)
            return true;
    return false;
}

typedef struct noisy {
    size_t delivered, bogus;
} noisy_t;

static void noisy_msg(void *ctx, const uint8_t *p, size_t n)
{
    noisy_t *z = ctx;
    z->delivered++;
    if (!sent_has(hash(p, n)))
        z->bogus++;
}

typedef struct chan {
    tu_rng_t r;
    uint32_t flip, drop, dup; // 1 in N bytes (0 = never)
    uint32_t t;
} chan_t;

static void chan_send(chan_t *ch, sw_sp_rx_t *rx, const uint8_t *p, size_t n, const sw_rx_sink_t *s)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        ch->t += tu_below(&ch->r, 2); // ~1 ms a byte: well inside idle_ms
        if (ch->drop && tu_below(&ch->r, ch->drop) == 0)
            continue;
        if (ch->flip && tu_below(&ch->r, ch->flip) == 0)
            b ^= (uint8_t)(1u << tu_below(&ch->r, 8));
        sw_sp_rx_feed(rx, &b, 1, ch->t, s);
        if (ch->dup && tu_below(&ch->r, ch->dup) == 0)
            sw_sp_rx_feed(rx, &b, 1, ch->t, s);
    }
}

static void noisy(int start, uint16_t max, uint32_t flip, uint32_t drop, uint32_t dup, int frames)
{
    memset(sent, 0, sizeof sent);
    sw_sp_cfg_t c = cfg_of(start, max, 100);
    chan_t ch = {{0xbad5eed ^ (uint64_t)max ^ ((uint64_t)flip << 20)}, flip, drop, dup, 0};
    tu_rng_t r = {0x1234567 + (uint64_t)start};
    noisy_t z = {0, 0};
    const sw_rx_sink_t s = {noisy_msg, NULL, NULL, &z};
    sw_sp_rx_t rx;
    sw_sp_rx_init(&rx, &c, rxbuf, max);
    uint8_t p[512], f[520];
    for (int k = 0; k < frames; k++) {
        size_t n = 1 + tu_below(&r, tu_below(&r, 4) ? 64 : max);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)tu_next(&r);
        sent_add(hash(p, n));
        if (start != SW_SP_START_NONE && tu_below(&r, 3) == 0)
            chan_send(&ch, &rx, (const uint8_t *)"log: tick\n", 10, &s);
        // now and then the sender pauses, which is what lets a start-less line resynchronise
        if (tu_below(&r, 4) == 0)
            ch.t += 100 + tu_below(&r, 50);
        int fl = sw_sp_encode(&c, p, n, f, sizeof f);
        assert_true(fl > 0);
        chan_send(&ch, &rx, f, (size_t)fl, &s);
    }
    size_t noisy_deliveries = z.delivered;
    assert_int_equal(z.bogus, 0);
    assert_int_equal(rx.stats.frames, z.delivered);
    assert_true(rx.stats.err_crc + rx.stats.err_len + rx.stats.err_idle > 0); // the noise did hit
    // a clean line after a pause: every frame arrives
    ch.flip = ch.drop = ch.dup = 0;
    ch.t += 100;
    for (int k = 0; k < 50; k++) {
        size_t n = 1 + tu_below(&r, max);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)tu_next(&r);
        sent_add(hash(p, n));
        int fl = sw_sp_encode(&c, p, n, f, sizeof f);
        chan_send(&ch, &rx, f, (size_t)fl, &s);
    }
    assert_int_equal(z.delivered - noisy_deliveries, 50);
    assert_int_equal(z.bogus, 0);
    // with a start byte most frames survive light noise
    if (start != SW_SP_START_NONE && flip >= 1000)
        assert_true(noisy_deliveries > (size_t)frames / 2);
    print_message("start %d max %u 1/%u/%u/%u: %zu of %d delivered, crc %u len %u idle %u\n", start,
                  max, flip, drop, dup, noisy_deliveries, frames, rx.stats.err_crc, rx.stats.err_len,
                  rx.stats.err_idle);
}

static void test_noisy_channel(void **state)
{
    (void)state;
    static const int starts[] = {0xC1, 0x85, SW_SP_START_NONE};
    for (size_t k = 0; k < 3; k++) {
        noisy(starts[k], 127, 2000, 5000, 5000, 4000); // light noise
        noisy(starts[k], 300, 300, 1000, 1000, 2000);  // heavy noise: many broken frames
        noisy(starts[k], 127, 40, 200, 200, 1000);     // very heavy: mostly garbage
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vectors),
        cmocka_unit_test(test_crc_bitwise),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ping_frame),
        cmocka_unit_test(test_length_forms),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_roundtrip_127),
        cmocka_unit_test(test_roundtrip_300),
        cmocka_unit_test(test_roundtrip_32767),
        cmocka_unit_test(test_console_interleave),
        cmocka_unit_test(test_utf8_guard),
        cmocka_unit_test(test_idle_drop),
        cmocka_unit_test(test_idle_tick),
        cmocka_unit_test(test_no_start),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_bad_crc),
        cmocka_unit_test(test_null_sink),
        cmocka_unit_test(test_noisy_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
