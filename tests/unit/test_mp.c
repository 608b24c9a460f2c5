// MsgPack writer, reader and splitter: byte vectors for every type and width, sticky errors,
// bounds, and round-trip properties over random items (whole buffer and byte-at-a-time).
#include "testutil.h"

static uint8_t out[1 << 16];

static void test_write_scalars(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_mpw_nil(&w), "c0");
    WRITE_EXPECT(sw_mpw_bool(&w, true); sw_mpw_bool(&w, false), "c3 c2");
    WRITE_EXPECT(sw_mpw_int(&w, 0), "00");
    WRITE_EXPECT(sw_mpw_int(&w, 127), "7f");
    WRITE_EXPECT(sw_mpw_int(&w, 128), "cc 80");
    WRITE_EXPECT(sw_mpw_int(&w, 256), "cd 01 00");
    WRITE_EXPECT(sw_mpw_int(&w, 65536), "ce 00 01 00 00");
    WRITE_EXPECT(sw_mpw_uint(&w, 0x100000000ull), "cf 00 00 00 01 00 00 00 00");
    WRITE_EXPECT(sw_mpw_uint(&w, UINT64_MAX), "cf ff ff ff ff ff ff ff ff");
    WRITE_EXPECT(sw_mpw_int(&w, -1), "ff");
    WRITE_EXPECT(sw_mpw_int(&w, -32), "e0");
    WRITE_EXPECT(sw_mpw_int(&w, -33), "d0 df");
    WRITE_EXPECT(sw_mpw_int(&w, -128), "d0 80");
    // the values libmpack 1.0.5 gets wrong
    WRITE_EXPECT(sw_mpw_int(&w, -129), "d1 ff 7f");
    WRITE_EXPECT(sw_mpw_int(&w, -32769), "d2 ff ff 7f ff");
    WRITE_EXPECT(sw_mpw_int(&w, -4294967297ll), "d3 ff ff ff fe ff ff ff ff");
    WRITE_EXPECT(sw_mpw_int(&w, INT64_MIN), "d3 80 00 00 00 00 00 00 00");
    WRITE_EXPECT(sw_mpw_f32(&w, 1.5f), "ca 3f c0 00 00");
    WRITE_EXPECT(sw_mpw_f64(&w, 1.5), "cb 3f f8 00 00 00 00 00 00");
}

static void test_write_blobs(void **state)
{
    (void)state;
    char s[70000];
    memset(s, 'a', sizeof s);
    WRITE_EXPECT(sw_mpw_cstr(&w, "ping"), "a4 70 69 6e 67");
    WRITE_EXPECT(sw_mpw_str(&w, "", 0), "a0");
    {
        sw_mpw_t w;
        sw_mpw_init(&w, out, sizeof out);
        sw_mpw_str(&w, s, 32);
        assert_int_equal(w.len, 34);
        assert_int_equal(out[0], 0xd9);
        sw_mpw_init(&w, out, sizeof out);
        sw_mpw_str(&w, s, 256);
        assert_int_equal(out[0], 0xda);
        assert_int_equal(w.len, 259);
    }
    WRITE_EXPECT(sw_mpw_bin(&w, "\x01\x02", 2), "c4 02 01 02");
    WRITE_EXPECT(sw_mpw_ext(&w, 4, "-", 1), "d4 04 2d");
    WRITE_EXPECT(sw_mpw_ext(&w, 4, "p_1", 3), "c7 03 04 70 5f 31");
    WRITE_EXPECT(sw_mpw_ext(&w, -1, "abcdefgh", 8), "d7 ff 61 62 63 64 65 66 67 68");
    WRITE_EXPECT(sw_mpw_array(&w, 2); sw_mpw_int(&w, 1); sw_mpw_nil(&w), "92 01 c0");
    WRITE_EXPECT(sw_mpw_array(&w, 16), "dc 00 10");
    WRITE_EXPECT(sw_mpw_map(&w, 70000), "df 00 01 11 70");
}

// The v0 ping request of the MoaT spec, written field by field.
static void test_write_v0_ping(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_mpw_map(&w, 3); sw_mpw_cstr(&w, "a"); sw_mpw_cstr(&w, "ping");
                 sw_mpw_cstr(&w, "d"); sw_mpw_map(&w, 1); sw_mpw_cstr(&w, "m"); sw_mpw_cstr(&w, "x");
                 sw_mpw_cstr(&w, "i"); sw_mpw_int(&w, 1),
                 "83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01");
}

static void test_write_full_is_sticky(void **state)
{
    (void)state;
    uint8_t small[4];
    sw_mpw_t w;
    sw_mpw_init(&w, small, sizeof small);
    sw_mpw_int(&w, 1);
    sw_mpw_cstr(&w, "abcd"); // 5 bytes: does not fit, nothing of it is written
    assert_int_equal(w.err, SW_EFULL);
    assert_int_equal(w.len, 1);
    sw_mpw_nil(&w); // would fit, but the error sticks
    assert_int_equal(w.len, 1);
    sw_mpw_rewind(&w, 0);
    assert_int_equal(w.err, 0);
    sw_mpw_nil(&w);
    assert_int_equal(w.len, 1);
}

static void test_write_close_and_blob(void **state)
{
    (void)state;
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    size_t m = sw_mpw_mark(&w);
    for (int k = 0; k < 20; k++)
        sw_mpw_int(&w, k);
    sw_mpw_close_array(&w, m, 20);
    assert_int_equal(w.err, 0);
    assert_int_equal(out[0], 0xdc);
    assert_int_equal(out[2], 20);
    assert_int_equal(out[3], 0);
    assert_int_equal(out[22], 19);
    assert_int_equal(sw_mp_check(out, w.len), 0);

    sw_mpw_init(&w, out, sizeof out);
    m = sw_mpw_mark(&w);
    sw_mpw_close_map(&w, m, 0);
    tu_assert_bytes(out, w.len, "80");

    sw_mpw_init(&w, out, sizeof out);
    sw_mpw_nil(&w);
    uint8_t *p = sw_mpw_blob_begin(&w, 1000);
    assert_non_null(p);
    memcpy(p, "hello", 5);
    sw_mpw_blob_end(&w, SW_MP_BIN, 5);
    tu_assert_bytes(out, w.len, "c0 c4 05 68 65 6c 6c 6f");
}

static void test_read_all_types(void **state)
{
    (void)state;
    uint8_t in[128];
    size_t n = tu_hex("c0 c3 7f ff d0 7f d1 ff 7f cc 80 cf ff ff ff ff ff ff ff ff "
                      "ca 3f c0 00 00 cb 3f f8 00 00 00 00 00 00 a2 68 69 c4 01 00 "
                      "d4 04 2d c7 02 05 61 62 92 01 02 81 01 02", in, sizeof in);
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, in, n);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_NIL);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_BOOL); assert_true(o.v.b);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_UINT); assert_int_equal(o.v.u, 127);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_INT); assert_int_equal(o.v.i, -1);
    assert_int_equal(sw_mpr_peek(&r), SW_MP_UINT); // d0 7f: a signed form holding +127
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_UINT); assert_int_equal(o.v.u, 127);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_INT); assert_int_equal(o.v.i, -129);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.v.u, 128);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_true(o.v.u == UINT64_MAX);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_true(o.f32 && o.v.f == 1.5);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_true(!o.f32 && o.v.f == 1.5);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_true(sw_mp_obj_streq(&o, "hi"));
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_BIN); assert_int_equal(o.len, 1);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_EXT); assert_int_equal(o.ext, 4);
    assert_int_equal(o.len, 1); assert_int_equal(o.v.p[0], '-');
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.ext, 5); assert_int_equal(o.len, 2);
    assert_int_equal(sw_mpr_next(&r, &o), 0); assert_int_equal(o.type, SW_MP_ARRAY); assert_int_equal(r.depth, 1);
    assert_int_equal(sw_mpr_skip(&r), 0);
    assert_int_equal(sw_mpr_skip(&r), 0);
    assert_int_equal(r.depth, 0);
    sw_span_t sp;
    assert_int_equal(sw_mpr_span(&r, &sp), 0);
    assert_int_equal(sp.n, 3);
    assert_true(sw_mpr_done(&r));
    assert_int_equal(sw_mpr_next(&r, &o), SW_EPROTO); // reading past the end
}

static void test_read_errors(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n;
    sw_mpr_t r;
    sw_mp_obj_t o;
    // truncated int, truncated str, reserved byte, counts larger than the input
    const char *bad[] = {"cd 01", "a5 61 62", "c1", "dd 7f ff ff ff 00", "df 00 00 00 02 01 02 03"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        n = tu_hex(bad[k], in, sizeof in);
        sw_mpr_init(&r, in, n);
        assert_int_equal(sw_mpr_next(&r, &o), SW_EPROTO);
        assert_int_equal(o.type, SW_MP_NONE);
        assert_int_equal(sw_mpr_next(&r, &o), SW_EPROTO); // sticky
    }
    // type errors are sticky too
    n = tu_hex("a1 61 01", in, sizeof in);
    sw_mpr_init(&r, in, n);
    int64_t v;
    assert_false(sw_mpr_int(&r, &v));
    assert_int_equal(r.err, SW_ETYPE);
    assert_false(sw_mpr_int(&r, &v));
    // range
    n = tu_hex("cf ff ff ff ff ff ff ff ff", in, sizeof in);
    sw_mpr_init(&r, in, n);
    assert_false(sw_mpr_int(&r, &v));
    assert_int_equal(r.err, SW_ERANGE);
    // NULL input is an empty input
    sw_mpr_init(&r, NULL, 5);
    assert_int_equal(sw_mpr_next(&r, &o), SW_EPROTO);
    assert_int_equal(sw_mp_check(NULL, 0), SW_EPROTO);
}

static void test_depth_bound(void **state)
{
    (void)state;
    uint8_t in[SW_MP_MAX_DEPTH + 2];
    memset(in, 0x91, sizeof in); // [[[[...]]]]
    in[sizeof in - 1] = 0xc0;
    assert_int_equal(sw_mp_check(in, SW_MP_MAX_DEPTH + 1), SW_EPROTO); // truncated: innermost missing
    // exactly SW_MP_MAX_DEPTH levels are fine
    memset(in, 0x91, SW_MP_MAX_DEPTH);
    in[SW_MP_MAX_DEPTH] = 0xc0;
    assert_int_equal(sw_mp_check(in, SW_MP_MAX_DEPTH + 1), 0);
    in[SW_MP_MAX_DEPTH] = 0x91;
    in[SW_MP_MAX_DEPTH + 1] = 0xc0;
    assert_int_equal(sw_mp_check(in, SW_MP_MAX_DEPTH + 2), SW_EDEPTH);

    uint8_t store[64];
    sw_mps_t s;
    sw_mps_init(&s, store, sizeof store);
    size_t used;
    assert_int_equal(sw_mps_feed(&s, in, SW_MP_MAX_DEPTH + 2, &used), SW_EDEPTH);
    assert_int_equal(sw_mps_feed(&s, in, 1, &used), SW_EDEPTH); // sticky
    sw_mps_reset(&s);
    assert_int_equal(sw_mps_feed(&s, (const uint8_t *)"\x01", 1, &used), 1);
}

static void test_map_get(void **state)
{
    (void)state;
    uint8_t in[64];
    size_t n = tu_hex("84 01 02 a1 70 a3 61 62 63 a1 6e 92 01 02 a1 6d c0", in, sizeof in);
    sw_span_t v;
    assert_int_equal(sw_mp_map_get(in, n, "p", &v), 0);
    tu_assert_bytes(v.p, v.n, "a3 61 62 63");
    assert_int_equal(sw_mp_map_get(in, n, "n", &v), 0);
    tu_assert_bytes(v.p, v.n, "92 01 02");
    assert_int_equal(sw_mp_map_get(in, n, "m", &v), 0);
    tu_assert_bytes(v.p, v.n, "c0");
    assert_int_equal(sw_mp_map_get(in, n, "zz", &v), SW_ENOENT);
    assert_int_equal(sw_mp_map_get(in + 1, 1, "p", &v), SW_ETYPE);
    assert_int_equal(sw_mp_map_get(in, 5, "n", &v), SW_EPROTO);
}

// Random items: write, read back item by item, re-write from what was read: identical bytes.
static void test_roundtrip_property(void **state)
{
    (void)state;
    static uint8_t again[1 << 16];
    tu_rng_t rng = {0x5eed1234abcdull};
    for (int round = 0; round < 3000; round++) {
        sw_mpw_t w;
        sw_mpw_init(&w, out, sizeof out);
        int items = 1 + (int)tu_below(&rng, 4);
        for (int k = 0; k < items; k++)
            tu_gen_item(&rng, &w, 4);
        assert_int_equal(w.err, 0);

        sw_mpr_t r;
        sw_mpw_t w2;
        sw_mpr_init(&r, out, w.len);
        sw_mpw_init(&w2, again, sizeof again);
        while (!sw_mpr_done(&r)) {
            sw_mp_obj_t o;
            assert_int_equal(sw_mpr_next(&r, &o), 0);
            sw_mpw_obj(&w2, &o);
        }
        assert_int_equal(w2.err, 0);
        assert_int_equal(w2.len, w.len);
        assert_memory_equal(again, out, w.len);

        // the same bytes through the splitter, in pieces of random size (often 1 byte)
        static uint8_t store[1 << 16];
        sw_mps_t s;
        sw_mps_init(&s, store, sizeof store);
        sw_mpr_init(&r, out, w.len);
        size_t at = 0;
        int got = 0;
        while (at < w.len) {
            size_t piece = tu_below(&rng, 3) ? 1 : 1 + tu_below(&rng, 200);
            if (piece > w.len - at)
                piece = w.len - at;
            size_t used;
            int rc = sw_mps_feed(&s, out + at, piece, &used);
            assert_true(rc >= 0);
            at += used;
            if (rc == 1) {
                sw_span_t sp;
                assert_int_equal(sw_mpr_span(&r, &sp), 0);
                assert_int_equal(s.len, sp.n);
                assert_memory_equal(store, sp.p, sp.n);
                got++;
            }
        }
        assert_int_equal(got, items);
        assert_false(sw_mps_busy(&s));
    }
}

// The splitter skips an item larger than its buffer and stays in step with the stream.
static void test_split_oversize(void **state)
{
    (void)state;
    uint8_t store[16];
    sw_mps_t s;
    sw_mps_init(&s, store, sizeof store);
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    sw_mpw_array(&w, 3);
    sw_mpw_str(&w, "0123456789abcdefghij", 20);
    sw_mpw_int(&w, 5);
    sw_mpw_map(&w, 0);
    sw_mpw_int(&w, 7); // the next item must still be found
    size_t at = 0, used;
    int rc;
    do {
        rc = sw_mps_feed(&s, out + at, 1, &used);
        at += used;
    } while (rc == 0);
    assert_int_equal(rc, SW_ETOOBIG);
    rc = sw_mps_feed(&s, out + at, w.len - at, &used);
    assert_int_equal(rc, 1);
    tu_assert_bytes(store, s.len, "07");
    assert_int_equal(sw_mps_feed(&s, (const uint8_t *)"\xc1", 1, &used), SW_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_scalars),
        cmocka_unit_test(test_write_blobs),
        cmocka_unit_test(test_write_v0_ping),
        cmocka_unit_test(test_write_full_is_sticky),
        cmocka_unit_test(test_write_close_and_blob),
        cmocka_unit_test(test_read_all_types),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_map_get),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_split_oversize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
