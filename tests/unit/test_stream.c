// Lossless stream: console encoding (0..127 as is, 128..255 as 0xCC xx), messages and console
// interleaved in both modes and fed whole, byte at a time and in random chunks, oversize
// messages skipped without losing step, other top-level integers, and sticky errors.
#include "rx_rec.h"

#include "swarm/stream.h"

static void on_msg(void *ctx, const uint8_t *p, size_t n)
{
    assert_int_equal(sw_mp_check(p, n), 0); // a message is always one complete item
    rec_add(ctx, 'm', 0, p, n);
}
static void on_con(void *ctx, const uint8_t *p, size_t n)
{
    assert_true(n > 0);
    rec_add(ctx, 'c', 0, p, n);
}
static void on_drop(void *ctx, int err) { rec_add(ctx, 'd', err, NULL, 0); }

static const sw_rx_sink_t sink = {on_msg, on_con, on_drop, &got};

//////////////////////////////////////////////////////////////////////////////////////////////
// Console encoding

static void test_encode_console(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t used;
    const uint8_t in[] = {'A', 0xC3, 0xA9, 0x00, 0x7F, 0x80, 0xFF};
    size_t k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, in, sizeof in, out, sizeof out, &used);
    assert_int_equal(used, sizeof in);
    tu_assert_bytes(out, k, "41 cc c3 cc a9 00 7f cc 80 cc ff");
    // only whole encodings are written
    k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, in, sizeof in, out, 2, &used);
    tu_assert_bytes(out, k, "41");
    assert_int_equal(used, 1);
    k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, in, sizeof in, out, 3, &used);
    tu_assert_bytes(out, k, "41 cc c3");
    assert_int_equal(used, 2);
    k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, in + 1, 2, out, 1, &used);
    assert_int_equal(k, 0);
    assert_int_equal(used, 0);
    k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, in, 0, out, sizeof out, &used);
    assert_int_equal(k, 0);
    assert_int_equal(used, 0);
    // prefix mode: as is
    k = sw_stream_encode_console(0xC1, in, sizeof in, out, sizeof out, &used);
    assert_int_equal(used, sizeof in);
    assert_memory_equal(out, in, sizeof in);
    k = sw_stream_encode_console(0x85, in, sizeof in, out, 4, &used);
    assert_int_equal(k, 4);
    assert_int_equal(used, 4);
    k = sw_stream_encode_console(0x85, in, sizeof in, NULL, 0, NULL);
    assert_int_equal(k, 0);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Building streams and their expected transcripts

enum { FEED_WHOLE, FEED_BYTES, FEED_CHUNKS };

static uint8_t wire[1 << 20];
static size_t wn;
static uint8_t store[4096];

static void put_console(int prefix, const uint8_t *p, size_t n)
{
    size_t used;
    size_t k = sw_stream_encode_console(prefix, p, n, wire + wn, sizeof wire - wn, &used);
    assert_int_equal(used, n);
    wn += k;
    rec_add(&want, 'c', 0, p, n);
}

static void put_msg(int prefix, const uint8_t *p, size_t n, size_t cap)
{
    assert_true(wn + n + 1 <= sizeof wire);
    if (prefix != SW_STREAM_NO_PREFIX)
        wire[wn++] = (uint8_t)prefix;
    memcpy(wire + wn, p, n);
    wn += n;
    if (n <= cap)
        rec_add(&want, 'm', 0, p, n);
    else
        rec_add(&want, 'd', SW_ETOOBIG, NULL, 0);
}

static int feed(sw_stream_rx_t *rx, int mode, tu_rng_t *r)
{
    if (mode == FEED_WHOLE)
        return sw_stream_rx_feed(rx, wire, wn, &sink);
    for (size_t i = 0; i < wn;) {
        size_t k = mode == FEED_BYTES ? 1 : 1 + tu_below(r, tu_below(r, 2) ? 8 : 300);
        if (k > wn - i)
            k = wn - i;
        int rc = sw_stream_rx_feed(rx, wire + i, k, &sink);
        if (rc)
            return rc;
        i += k;
    }
    return 0;
}

// Feeds the stream in all three ways and compares with the expected transcript.
static void check_all_ways(int prefix, size_t cap, tu_rng_t *r)
{
    for (int mode = FEED_WHOLE; mode <= FEED_CHUNKS; mode++) {
        sw_stream_rx_t rx;
        sw_stream_rx_init(&rx, prefix, store, cap);
        rec_reset(&got);
        assert_int_equal(feed(&rx, mode, r), 0);
        rec_same(&got, &want);
        size_t msgs = 0, con = 0, big = 0;
        for (size_t k = 0; k < want.nev; k++) {
            msgs += want.ev[k].kind == 'm';
            big += want.ev[k].kind == 'd';
            con += want.ev[k].kind == 'c' ? want.ev[k].n : 0;
        }
        assert_int_equal(rx.stats.msgs, msgs);
        assert_int_equal(rx.stats.console, con);
        assert_int_equal(rx.stats.toobig, big);
    }
}

static bool is_int_lead(uint8_t b) { return b < 0x80 || b >= 0xE0 || (b >= 0xCC && b <= 0xD3); }

// A random item that is not a top-level integer (those are console, never messages).
static size_t gen_msg(tu_rng_t *r, uint8_t *out, size_t cap)
{
    sw_mpw_t w;
    do {
        sw_mpw_init(&w, out, cap);
        tu_gen_item(r, &w, (int)tu_below(r, 4));
    } while (w.err || is_int_lead(out[0]));
    return w.len;
}

static size_t gen_console(tu_rng_t *r, int prefix, uint8_t *out)
{
    static const char *const text[] = {"hello\r\n", "grüß dich, café ", "€ 5,00", "😅", ">>> ", ""};
    size_t n;
    if (tu_below(r, 2)) {
        const char *s = text[tu_below(r, 6)];
        n = strlen(s);
        memcpy(out, s, n);
    } else {
        n = tu_below(r, 20);
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)tu_next(r);
    }
    if (prefix != SW_STREAM_NO_PREFIX) // in prefix mode the prefix byte cannot be console
        for (size_t i = 0; i < n; i++)
            if (out[i] == prefix)
                out[i] = '?';
    return n;
}

static void random_stream(int prefix, size_t cap, uint64_t seed, int rounds)
{
    tu_rng_t r = {seed};
    uint8_t item[1 << 14], con[64];
    size_t kinds[3] = {0, 0, 0}; // messages, console runs, oversize drops
    for (int round = 0; round < rounds; round++) {
        wn = 0;
        rec_reset(&want);
        int parts = 1 + (int)tu_below(&r, 40);
        for (int k = 0; k < parts; k++) {
            if (tu_below(&r, 2)) {
                size_t n = gen_console(&r, prefix, con);
                put_console(prefix, con, n);
            } else {
                size_t n = gen_msg(&r, item, sizeof item);
                put_msg(prefix, item, n, cap);
            }
        }
        check_all_ways(prefix, cap, &r);
        for (size_t k = 0; k < want.nev; k++)
            kinds[want.ev[k].kind == 'm' ? 0 : want.ev[k].kind == 'c' ? 1 : 2]++;
    }
    // the mix really has all three, oversize ones only when the buffer is small
    assert_true(kinds[0] > (size_t)rounds && kinds[1] > (size_t)rounds);
    assert_true(cap < 1000 ? kinds[2] > (size_t)rounds / 2 : kinds[2] < (size_t)rounds / 10);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// No prefix

static void test_plain_v0_ping(void **state)
{
    (void)state;
    uint8_t ping[32];
    size_t n = tu_hex("83a161a470696e67a16481a16da178a16901", ping, sizeof ping);
    wn = 0;
    rec_reset(&want);
    put_console(SW_STREAM_NO_PREFIX, (const uint8_t *)"ok\n", 3);
    put_msg(SW_STREAM_NO_PREFIX, ping, n, sizeof store);
    put_console(SW_STREAM_NO_PREFIX, (const uint8_t *)"Å\n", 3);
    put_msg(SW_STREAM_NO_PREFIX, ping, n, sizeof store);
    tu_assert_bytes(wire, wn, "6f 6b 0a 83a161a470696e67a16481a16da178a16901 cc c3 cc 85 0a "
                              "83a161a470696e67a16481a16da178a16901");
    tu_rng_t r = {1};
    check_all_ways(SW_STREAM_NO_PREFIX, sizeof store, &r);
}

static void test_plain_random(void **state)
{
    (void)state;
    random_stream(SW_STREAM_NO_PREFIX, sizeof store, 0x5eed0101, 300);
    random_stream(SW_STREAM_NO_PREFIX, 64, 0x5eed0102, 300); // many oversize messages
}

static void test_plain_oversize(void **state)
{
    (void)state;
    uint8_t big[200], small[8];
    sw_mpw_t w;
    // a map holding a long string and a nested array: bigger than the 64-byte store
    sw_mpw_init(&w, big, sizeof big);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    sw_mpw_str(&w, "0123456789012345678901234567890123456789012345678901234567890123456789", 70);
    sw_mpw_cstr(&w, "x");
    sw_mpw_array(&w, 2);
    sw_mpw_array(&w, 1);
    sw_mpw_int(&w, 300);
    sw_mpw_bin(&w, "\xc1\xc1", 2); // reserved bytes inside a blob are data, not errors
    assert_int_equal(w.err, 0);
    size_t bn = w.len;
    sw_mpw_init(&w, small, sizeof small);
    sw_mpw_array(&w, 1);
    sw_mpw_cstr(&w, "ok");
    size_t sn = w.len;
    wn = 0;
    rec_reset(&want);
    put_console(SW_STREAM_NO_PREFIX, (const uint8_t *)"a", 1);
    put_msg(SW_STREAM_NO_PREFIX, big, bn, 64);
    put_console(SW_STREAM_NO_PREFIX, (const uint8_t *)"é", 2);
    put_msg(SW_STREAM_NO_PREFIX, small, sn, 64);
    put_msg(SW_STREAM_NO_PREFIX, big, bn, 64);
    put_msg(SW_STREAM_NO_PREFIX, small, sn, 64);
    assert_int_equal(want.ev[1].kind, 'd');
    tu_rng_t r = {2};
    check_all_ways(SW_STREAM_NO_PREFIX, 64, &r);
}

// Top-level integers: any value 0..255 is a console byte whatever its width; other values
// are neither console nor message and are reported as dropped.
static void test_plain_integers(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = tu_hex("41 cd0042 d043 cc44 ff d1ffff cd0100 ce00000045 cf0000000000000046 "
                      "d3ffffffffffffffff 47",
                      in, sizeof in);
    sw_stream_rx_t rx;
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, store, sizeof store);
    rec_reset(&got);
    assert_int_equal(sw_stream_rx_feed(&rx, in, n, &sink), 0);
    assert_int_equal(got.nev, 7);
    assert_int_equal(got.ev[0].kind, 'c');
    assert_int_equal(got.ev[0].n, 4);
    assert_memory_equal(got.arena + got.ev[0].off, "ABCD", 4);
    for (int k = 1; k <= 3; k++) {
        assert_int_equal(got.ev[k].kind, 'd');
        assert_int_equal(got.ev[k].err, SW_EPROTO);
    }
    assert_int_equal(got.ev[4].kind, 'c');
    assert_memory_equal(got.arena + got.ev[4].off, "EF", 2);
    assert_int_equal(got.ev[5].kind, 'd');
    assert_int_equal(got.ev[6].kind, 'c');
    assert_memory_equal(got.arena + got.ev[6].off, "G", 1);
    assert_int_equal(rx.stats.msgs, 0);
    assert_int_equal(rx.stats.console, 7);
    rec_reset(&got);
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"\xc0", 1, &sink), 0);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm'); // nil is a message (the upper layer rejects it)
}

static void test_plain_sticky(void **state)
{
    (void)state;
    sw_stream_rx_t rx;
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, store, sizeof store);
    rec_reset(&got);
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"hi\xc1more", 7, &sink), SW_EPROTO);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'c');
    assert_int_equal(got.ev[0].n, 2);
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"\x81\xa1x\x01", 4, &sink), SW_EPROTO);
    assert_int_equal(sw_stream_rx_feed(&rx, NULL, 0, &sink), SW_EPROTO);
    assert_int_equal(got.nev, 1);

    // nesting deeper than SW_MP_MAX_DEPTH
    uint8_t deep[SW_MP_MAX_DEPTH + 2];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x01;
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, store, sizeof store);
    int rc = 0;
    for (size_t i = 0; i < sizeof deep && !rc; i++)
        rc = sw_stream_rx_feed(&rx, deep + i, 1, &sink);
    assert_int_equal(rc, SW_EDEPTH);
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"a", 1, &sink), SW_EDEPTH);

    // exactly SW_MP_MAX_DEPTH is fine
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, store, sizeof store);
    rec_reset(&got);
    assert_int_equal(sw_stream_rx_feed(&rx, deep + 2, sizeof deep - 2, &sink), 0);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm');
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Prefix

static void test_prefix_basic(void **state)
{
    (void)state;
    wn = 0;
    rec_reset(&want);
    put_console(0x85, (const uint8_t *)"boot\xc3\xa9\n", 7);
    put_msg(0x85, (const uint8_t *)"\x81\xa1i\x01", 4, sizeof store);
    put_msg(0x85, (const uint8_t *)"\x05", 1, sizeof store); // after the prefix an int is a message
    put_console(0x85, (const uint8_t *)"\xff\x00", 2);
    put_msg(0x85, (const uint8_t *)"\xc0", 1, sizeof store);
    tu_assert_bytes(wire, wn, "62 6f 6f 74 c3 a9 0a 85 81 a1 69 01 85 05 ff 00 85 c0");
    tu_rng_t r = {3};
    check_all_ways(0x85, sizeof store, &r);
}

static void test_prefix_random(void **state)
{
    (void)state;
    random_stream(0xC1, sizeof store, 0x5eed0201, 200);
    random_stream(0x85, sizeof store, 0x5eed0202, 200);
    random_stream(0x00, 64, 0x5eed0203, 200);
}

static void test_prefix_sticky(void **state)
{
    (void)state;
    sw_stream_rx_t rx;
    sw_stream_rx_init(&rx, 0xC1, store, sizeof store);
    rec_reset(&got);
    // outside a message 0xC1 is the prefix; right after it, a reserved byte
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"x\xc1\xc1y", 4, &sink), SW_EPROTO);
    assert_int_equal(got.nev, 1);
    assert_int_equal(sw_stream_rx_feed(&rx, (const uint8_t *)"z", 1, &sink), SW_EPROTO);
    assert_int_equal(got.nev, 1);
    // an invalid prefix value means no prefix
    sw_stream_rx_init(&rx, 256, store, sizeof store);
    assert_int_equal(rx.prefix, SW_STREAM_NO_PREFIX);
}

// Noise that reads as a 4 GB string (db ff ff ff ff): in resynchronising mode the header is
// abandoned at once and the request after it is heard, whole or byte by byte; without it the
// receiver follows the string and hears nothing. An idle gap forgets a partial message.
static void test_resync(void **state)
{
    (void)state;
    static const uint8_t noise[] = {0xdb, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t ping[] = {0x82, 0xa1, 'a', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'i', 0x01};
    uint8_t in[sizeof noise + sizeof ping], buf[64];
    memcpy(in, noise, sizeof noise);
    memcpy(in + sizeof noise, ping, sizeof ping);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        for (int resync = 0; resync < 2; resync++) {
            sw_stream_rx_t rx;
            sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, buf, sizeof buf);
            sw_stream_rx_set_resync(&rx, resync);
            rec_reset(&got);
            for (size_t i = 0; i < sizeof in; i += bytewise ? 1 : sizeof in)
                assert_int_equal(sw_stream_rx_feed(&rx, in + i, bytewise ? 1 : sizeof in, &sink), 0);
            if (resync) {
                assert_int_equal(got.nev, 2);
                assert_int_equal(got.ev[0].kind, 'd');
                assert_int_equal(got.ev[0].err, SW_ETOOBIG);
                assert_int_equal(got.ev[1].kind, 'm');
                assert_memory_equal(got.arena + got.ev[1].off, ping, sizeof ping);
            } else {
                assert_int_equal(got.nev, 0); // deaf: inside a 4 GB string
            }
        }
    }
    // a gap inside a message: its first half is forgotten, the next message is heard
    sw_stream_rx_t rx;
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, buf, sizeof buf);
    rec_reset(&got);
    assert_int_equal(sw_stream_rx_feed(&rx, ping, 4, &sink), 0);
    assert_false(sw_stream_rx_resync(&rx) == false);
    assert_false(sw_stream_rx_resync(&rx)); // nothing pending any more
    assert_int_equal(sw_stream_rx_feed(&rx, ping, sizeof ping, &sink), 0);
    assert_int_equal(got.nev, 1);
    assert_int_equal(got.ev[0].kind, 'm');
    assert_int_equal(rx.stats.resync, 1);
}

static void test_null_sink(void **state)
{
    (void)state;
    sw_stream_rx_t rx;
    const uint8_t in[] = {'a', 0xCC, 0xE9, 0x81, 0xA1, 'i', 0x01, 0xFF, 0xDA, 0xFF, 0xFF};
    sw_stream_rx_init(&rx, SW_STREAM_NO_PREFIX, store, 16);
    assert_int_equal(sw_stream_rx_feed(&rx, in, sizeof in, NULL), 0);
    assert_int_equal(rx.stats.msgs, 1);
    assert_int_equal(rx.stats.console, 2);
    sw_stream_rx_init(&rx, 0x81, NULL, 0); // no buffer: every message is oversize
    assert_int_equal(sw_stream_rx_feed(&rx, in, sizeof in, NULL), 0);
    assert_int_equal(rx.stats.toobig, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_console),
        cmocka_unit_test(test_plain_v0_ping),
        cmocka_unit_test(test_plain_random),
        cmocka_unit_test(test_plain_oversize),
        cmocka_unit_test(test_plain_integers),
        cmocka_unit_test(test_plain_sticky),
        cmocka_unit_test(test_prefix_basic),
        cmocka_unit_test(test_prefix_random),
        cmocka_unit_test(test_prefix_sticky),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_null_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
