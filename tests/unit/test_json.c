// JSON writer: separators and indentation, escaping and UTF-8 repair, numbers, bounds, and the
// MsgPack → JSON mapping (python's json module cross-checks it in tests/interop).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "f64.h" // src/core
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
    assert_string_equal(out, "[-9223372036854775808,18446744073709551615,0,3.0,-0.5,1e300,null]");
    // the built-in formatter (MCU images have no double printf) writes what %g would, at 9 digits
    sw_jw_init(&w, out, sizeof out, 0);
    sw_jw_arr_begin(&w);
    sw_jw_double(&w, 1.5), sw_jw_double(&w, 0.001), sw_jw_double(&w, 123456.789), sw_jw_double(&w, 2.5e-7);
    sw_jw_double(&w, 1.5e20), sw_jw_double(&w, -12345678.5), sw_jw_double(&w, 1.0 / 3.0);
    sw_jw_double(&w, 0.0), sw_jw_double(&w, -0.0), sw_jw_double(&w, 5e-324), sw_jw_double(&w, 9007199254740993.0);
    sw_jw_arr_end(&w);
    assert_string_equal(out, "[1.5,0.001,123456.789,2.5e-7,1.5e20,-12345678.5,0.333333333,0.0,-0.0,"
                             "4.94065646e-324,9.00719925e15]");
    sw_jw_init(&w, out, sizeof out, 0);
    w.fmt = g17;
    sw_jw_arr_begin(&w), sw_jw_double(&w, 0.1), sw_jw_double(&w, 2.5), sw_jw_arr_end(&w);
    assert_string_equal(out, "[0.10000000000000001,2.5]");
}

// The built-in formatter against the C library's "%.9g" (exponent written without '+' and
// leading zeros) on random bit patterns and random fractions, across the whole range
// (subnormals included). Exact ties (the 10th digit a 5 and nothing after it) may round up
// where the C library rounds to even: those are skipped.
static void test_double_vs_printf(void **state)
{
    (void)state;
    uint64_t seed = 88172645463325252ull;
    int checked = 0;
    for (int i = 0; i < 300000; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        double v;
        if (i % 3 == 0)
            v = (double)(int64_t)(seed % 2000000001) / (double)(1 + seed % 100000);
        else
            memcpy(&v, &seed, sizeof v);
        if (!isfinite(v) || (fabs(v) < 9007199254740992.0 && v == (double)(int64_t)v))
            continue;
        char ref[64], exact[64];
        snprintf(exact, sizeof exact, "%.30e", fabs(v)); // d.ddddddddd…: index 10 is digit 10
        if (exact[10] == '5' && strspn(exact + 11, "0") == strcspn(exact + 11, "e"))
            continue;
        snprintf(ref, sizeof ref, "%.9g", v);
        char *e = strchr(ref, 'e');
        if (e) { // e+07 → e7, e-07 → e-7
            char *p = e + 1, *q = e + 1;
            if (*p == '+')
                p++;
            if (*p == '-')
                *q++ = *p++;
            while (*p == '0' && p[1])
                p++;
            memmove(q, p, strlen(p) + 1);
        }
        sw_jw_t w;
        sw_jw_init(&w, out, sizeof out, 0);
        sw_jw_double(&w, v);
        out[w.len] = 0;
        if (strcmp(out, ref))
            fail_msg("%.17g: wrote %s, %%.9g gives %s", v, out, ref);
        checked++;
    }
    assert_true(checked > 100000);
}

// sw__f64_int (the core's integral-double test on the bits, used by sw_call_arg_int and the JSON
// writer) against the floating-point formula it replaces, on edge values and random patterns.
static bool f64_int_ref(double v, int64_t *iv)
{
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) || v != (double)(int64_t)v)
        return false;
    *iv = (int64_t)v;
    return true;
}

static void test_f64_int(void **state)
{
    (void)state;
    const double edge[] = {0.0, -0.0, 1.0, -1.0, 3.0, 0.5, -0.5, 1.5, 4503599627370495.5, 9007199254740993.0,
                           9223372036854775808.0, -9223372036854775808.0, 9223372036854774784.0, 1e308, 5e-324,
                           INFINITY, -INFINITY, NAN, 1e15 + 0.25};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000 + (int)(sizeof edge / sizeof edge[0]); i++) {
        double v;
        if (i < (int)(sizeof edge / sizeof edge[0])) {
            v = edge[i];
        } else {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            memcpy(&v, &seed, sizeof v);
            if (i % 2) // integral values of every size, and their neighbours
                v = ldexp((double)(seed >> 11), (int)(seed % 80) - 20);
        }
        int64_t a = 7, b = 7;
        bool ra = sw__f64_int(v, &a), rb = f64_int_ref(v, &b);
        if (ra != rb || (ra && a != b))
            fail_msg("%.17g: %d %lld, expected %d %lld", v, ra, (long long)a, rb, (long long)b);
    }
}

// sw__f64_of_f32 (msgpack float32 → double on the bits, src/core/mp_read.c) against the C
// conversion: edge values (zeros, subnormals, the largest float, Inf, NaN) and random patterns.
static void test_f64_of_f32(void **state)
{
    (void)state;
    const uint32_t edge[] = {0, 0x80000000u, 1, 0x80000001u, 0x007fffffu, 0x00400000u, 0x00800000u,
                             0x3f800000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                             0x7f800001u, 0xffc00001u};
    uint32_t seed = 0x9e3779b9u;
    for (int i = 0; i < 300000; i++) {
        uint32_t b;
        if (i < (int)(sizeof edge / sizeof edge[0])) {
            b = edge[i];
        } else {
            seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
            b = seed;
        }
        float f;
        memcpy(&f, &b, sizeof f);
        double want = f, got = sw__f64_of_f32(b);
        if (isnan(want) ? !isnan(got) || signbit(got) != signbit(want) : memcmp(&want, &got, sizeof got))
            fail_msg("float bits %08x: %a, expected %a", (unsigned)b, got, want);
    }
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
        cmocka_unit_test(test_f64_of_f32),
        cmocka_unit_test(test_double_vs_printf),
        cmocka_unit_test(test_f64_int),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_from_msgpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
