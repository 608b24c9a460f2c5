// JSON writer: separators and indentation, escaping and UTF-8 repair, numbers, bounds, and the
// MsgPack → JSON mapping (python's json module cross-checks it in tests/interop).
#include "testutil.h"
#include "swarm/json.h"

static char out[4096];

static void test_compact_and_pretty(void **state)
{
    (void)state;
    sw_jw_t w;
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "type", 4), sw_jw_cstr(&w, "beacon");
    sw_jw_key(&w, "ips", 3), sw_jw_arr_begin(&w), sw_jw_cstr(&w, "169.254.1.2"), sw_jw_int(&w, -5), sw_jw_arr_end(&w);
    sw_jw_key(&w, "e", 1), sw_jw_obj_begin(&w), sw_jw_obj_end(&w);
    sw_jw_key(&w, "a", 1), sw_jw_arr_begin(&w), sw_jw_arr_end(&w);
    sw_jw_key(&w, "ok", 2), sw_jw_bool(&w, true);
    sw_jw_key(&w, "n", 1), sw_jw_null(&w);
    sw_jw_obj_end(&w);
    assert_int_equal(w.err, 0);
    assert_string_equal(out, "{\"type\":\"beacon\",\"ips\":[\"169.254.1.2\",-5],\"e\":{},\"a\":[],\"ok\":true,\"n\":null}");
    sw_jw_init(&w, out, sizeof out, 2);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "a", 1), sw_jw_arr_begin(&w), sw_jw_int(&w, 1), sw_jw_int(&w, 2), sw_jw_arr_end(&w);
    sw_jw_key(&w, "b", 1), sw_jw_obj_begin(&w), sw_jw_obj_end(&w);
    sw_jw_obj_end(&w);
    assert_string_equal(out, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
}

static void test_strings(void **state)
{
    (void)state;
    sw_jw_t w;
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_str(&w, "q\"b\\n\n\t\x01\xc3\xa9\xff\xed\xa0\x80z", 15);
    assert_int_equal(w.err, 0);
    // é kept, 0xff and a UTF-16 surrogate encoded in UTF-8 replaced by U+FFFD each byte
    assert_string_equal(out, "\"q\\\"b\\\\n\\n\\t\\u0001\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\"");
}

static size_t g17(double v, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%.17g", v);
    return (size_t)k < cap ? (size_t)k : 0;
}

static void test_numbers(void **state)
{
    (void)state;
    sw_jw_t w;
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_arr_begin(&w);
    sw_jw_int(&w, INT64_MIN), sw_jw_uint(&w, UINT64_MAX), sw_jw_int(&w, 0);
    sw_jw_double(&w, 3.0), sw_jw_double(&w, -0.5), sw_jw_double(&w, 1e300), sw_jw_double(&w, 0.0 / 0.0);
    sw_jw_arr_end(&w);
    assert_string_equal(out, "[-9223372036854775808,18446744073709551615,0,3.0,-5.00000000e-1,1.00000000e300,null]");
    sw_jw_init(&w, out, sizeof out, 0);
    w.fmt = g17;
    sw_jw_arr_begin(&w), sw_jw_double(&w, 0.1), sw_jw_double(&w, 2.5), sw_jw_arr_end(&w);
    assert_string_equal(out, "[0.10000000000000001,2.5]");
}

static void test_bounds(void **state)
{
    (void)state;
    char small[8];
    sw_jw_t w;
    sw_jw_init(&w, small, sizeof small, 0);
    sw_jw_cstr(&w, "0123456789");
    assert_int_equal(w.err, SW_EFULL);
    assert_true(strlen(small) < sizeof small);
    sw_jw_init(&w, out, sizeof out, 0);
    for (int k = 0; k < SW_JSON_MAX_DEPTH + 1; k++)
        sw_jw_arr_begin(&w);
    assert_int_equal(w.err, SW_EDEPTH);
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_arr_end(&w);
    assert_int_equal(w.err, SW_EINVAL);
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_int(&w, 1), sw_jw_int(&w, 2); // two top-level values
    assert_int_equal(w.err, SW_EINVAL);
}

static void test_from_msgpack(void **state)
{
    (void)state;
    uint8_t in[128];
    size_t n = tu_hex("85 a1 61 92 c3 c0 a1 62 c4 03 01 02 03 01 a1 78 a1 70 d4 04 2d a1 65 d5 05 41 42", in, sizeof in);
    sw_jw_t w;
    sw_jw_init(&w, out, sizeof out, 0);
    assert_int_equal(sw_jw_mp(&w, in, n), 0);
    assert_string_equal(out, "{\"a\":[true,null],\"b\":{\"$bin\":\"AQID\"},\"1\":\"x\",\"p\":{\"$proxy\":\"-\"},"
                             "\"e\":{\"$ext\":5,\"$data\":\"QUI=\"}}");
    n = tu_hex("a2 ff fe", in, sizeof in); // a str that is not UTF-8
    sw_jw_init(&w, out, sizeof out, 0);
    assert_int_equal(sw_jw_mp(&w, in, n), 0);
    assert_string_equal(out, "{\"$bin\":\"//4=\"}");
    n = tu_hex("92 01", in, sizeof in); // truncated
    sw_jw_init(&w, out, sizeof out, 0);
    assert_int_equal(sw_jw_mp(&w, in, n), SW_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_and_pretty),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_from_msgpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
