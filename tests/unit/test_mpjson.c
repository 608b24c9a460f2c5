// MsgPack ↔ JSON (src/host/mpjson.c): the mapping table of mpjson.h as vectors both ways,
// error bounds, and round trips of random items through the cJSON tree (byte-exact) and
// through JSON text (equal values).
#include <math.h>

#include "testutil.h"

#include "mpjson.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Helpers

static uint8_t mp[1 << 16], mp2[1 << 16];

// Compact JSON text of the MsgPack given in hex (or "ERR <code>").
static void expect_json(const char *hex, const char *want)
{
    size_t n = tu_hex(hex, mp, sizeof mp);
    int err = 99;
    cJSON *j = sw_mp_to_json(mp, n, &err);
    if (!j)
        fail_msg("%s: error %s", hex, sw_errname(err));
    assert_int_equal(err, 0);
    char *s = cJSON_PrintUnformatted(j);
    if (strcmp(s, want))
        fail_msg("%s: got %s want %s", hex, s, want);
    cJSON_free(s);
    cJSON_Delete(j);
}

static void expect_mp_error(const char *hex, int want)
{
    size_t n = tu_hex(hex, mp, sizeof mp);
    int err = 0;
    assert_null(sw_mp_to_json(mp, n, &err));
    assert_int_equal(err, want);
}

// JSON text → MsgPack, compared with hex.
static void expect_mp(const char *json, const char *hex)
{
    cJSON *j = cJSON_Parse(json);
    if (!j)
        fail_msg("bad test JSON %s", json);
    sw_mpw_t w;
    sw_mpw_init(&w, mp, sizeof mp);
    int err = sw_json_to_mp(j, &w);
    if (err)
        fail_msg("%s: error %s", json, sw_errname(err));
    tu_assert_bytes(mp, w.len, hex);
    cJSON_Delete(j);
}

static void expect_json_error(const char *json, int want)
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    sw_mpw_t w;
    sw_mpw_init(&w, mp, sizeof mp);
    assert_int_equal(sw_json_to_mp(j, &w), want);
    assert_int_equal(w.err, want);
    cJSON_Delete(j);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Vectors

static void test_to_json_scalars(void **state)
{
    (void)state;
    expect_json("c0", "null");
    expect_json("c3", "true");
    expect_json("c2", "false");
    expect_json("00", "0");
    expect_json("ff", "-1");
    expect_json("ce 7f ff ff ff", "2147483647");
    expect_json("ce 80 00 00 00", "2147483648"); // Raw: exact
    expect_json("d2 80 00 00 00", "-2147483648");
    expect_json("cf 00 1f ff ff ff ff ff ff", "9007199254740991");
    expect_json("cf 00 20 00 00 00 00 00 01", "9007199254740993"); // not a double
    expect_json("cf ff ff ff ff ff ff ff ff", "18446744073709551615");
    expect_json("d3 80 00 00 00 00 00 00 00", "-9223372036854775808");
    expect_json("cb 3f b9 99 99 99 99 99 9a", "0.1");
    expect_json("cb 3f d3 33 33 33 33 33 34", "0.30000000000000004"); // cJSON would print 0.3
    expect_json("cb 3f f0 00 00 00 00 00 00", "1.0");
    expect_json("cb 80 00 00 00 00 00 00 00", "-0.0");
    expect_json("cb 7e 37 e4 3c 88 00 75 9c", "1e+300");
    expect_json("ca 3d cc cc cd", "0.1"); // float32 0.1: its own shortest text
    expect_json("ca 3f c0 00 00", "1.5");
    expect_json("cb 7f f8 00 00 00 00 00 00", "{\"$float\":\"nan\"}");
    expect_json("cb 7f f0 00 00 00 00 00 00", "{\"$float\":\"inf\"}");
    expect_json("ca ff 80 00 00", "{\"$float\":\"-inf\"}");
}

static void test_to_json_blobs(void **state)
{
    (void)state;
    expect_json("a4 70 69 6e 67", "\"ping\"");
    expect_json("a2 c3 a9", "\"\xc3\xa9\"");
    expect_json("a0", "\"\"");
    expect_json("a3 61 00 62", "{\"$str\":\"YQBi\"}"); // NUL inside
    expect_json("a1 ff", "{\"$str\":\"/w==\"}");       // not UTF-8
    expect_json("a2 c0 80", "{\"$str\":\"wIA=\"}");    // overlong NUL
    expect_json("a3 ed a0 80", "{\"$str\":\"7aCA\"}"); // surrogate
    expect_json("c4 03 01 02 03", "{\"$bin\":\"AQID\"}");
    expect_json("c4 00", "{\"$bin\":\"\"}");
    expect_json("c4 01 ff", "{\"$bin\":\"/w==\"}");
    expect_json("d4 04 2d", "{\"$proxy\":\"-\"}");
    expect_json("c7 03 04 61 62 63", "{\"$proxy\":\"abc\"}");
    expect_json("d4 04 ff", "{\"$data\":\"/w==\",\"$ext\":4}");
    expect_json("d5 05 01 02", "{\"$data\":\"AQI=\",\"$ext\":5}");
    expect_json("d4 ff 00", "{\"$data\":\"AA==\",\"$ext\":-1}");
}

static void test_to_json_containers(void **state)
{
    (void)state;
    expect_json("90", "[]");
    expect_json("80", "{}");
    expect_json("93 01 a1 78 c0", "[1,\"x\",null]");
    expect_json("82 a1 61 01 a1 62 91 02", "{\"a\":1,\"b\":[2]}");
    // keys that are not strings: their JSON text
    expect_json("81 01 02", "{\"1\":2}");
    expect_json("81 92 01 02 c0", "{\"[1,2]\":null}");
    expect_json("81 c3 01", "{\"true\":1}");
    expect_json("81 c4 01 00 01", "{\"{\\\"$bin\\\":\\\"AA==\\\"}\":1}");
    expect_json("81 81 a1 6b 01 02", "{\"{\\\"k\\\":1}\":2}");
    // maps shaped like tagged objects are written as pairs
    expect_json("81 a4 24 62 69 6e a1 78", "{\"$map\":[[\"$bin\",\"x\"]]}");
    expect_json("81 a4 24 6d 61 70 90", "{\"$map\":[[\"$map\",[]]]}");
    expect_json("82 a4 24 65 78 74 01 a5 24 64 61 74 61 a0",
                "{\"$map\":[[\"$ext\",1],[\"$data\",\"\"]]}");
    // ...but not when other keys make them plain
    expect_json("82 a4 24 62 69 6e a1 78 a1 79 01", "{\"$bin\":\"x\",\"y\":1}");
    expect_json("81 a4 24 65 78 74 01", "{\"$ext\":1}");
}

static void test_to_json_errors(void **state)
{
    (void)state;
    int err = 0;
    assert_null(sw_mp_to_json(NULL, 0, &err));
    assert_int_equal(err, SW_EPROTO);
    assert_null(sw_mp_to_json(NULL, 0, NULL)); // err is optional
    expect_mp_error("92 01", SW_EPROTO);       // truncated
    expect_mp_error("a3 61 62", SW_EPROTO);
    expect_mp_error("01 02", SW_EPROTO);       // trailing bytes
    expect_mp_error("c1", SW_EPROTO);
    expect_mp_error("81 01", SW_EPROTO);
    expect_mp_error("dd ff ff ff ff", SW_EPROTO); // count beyond the input
    char hex[200] = "";
    for (int i = 0; i < SW_MP_MAX_DEPTH + 1; i++)
        strcat(hex, "91 ");
    strcat(hex, "c0");
    expect_mp_error(hex, SW_EDEPTH);
    // exactly at the limit is fine
    hex[0] = 0;
    for (int i = 0; i < SW_MP_MAX_DEPTH; i++)
        strcat(hex, "91 ");
    strcat(hex, "c0");
    size_t n = tu_hex(hex, mp, sizeof mp);
    cJSON *j = sw_mp_to_json(mp, n, &err);
    assert_non_null(j);
    cJSON_Delete(j);
    // Keys that are maps whose keys are maps: each level escapes the one below again, so the
    // key text doubles per level. 30 levels of {{"a": 1}: 1} would be ~2^30 bytes of key text
    // (the fuzzer found it: 792 MB for a 105-byte input); the key bound stops it early.
    n = 0;
    for (int i = 0; i < 30; i++) {
        mp[n++] = 0x81; // {key: ...} — the key is the next map
    }
    mp[n++] = 0xa1, mp[n++] = '"', mp[n++] = 0x01; // innermost {"\"": 1}
    for (int i = 0; i < 30; i++)
        mp[n++] = 0x01; // each level's value
    err = 0;
    assert_null(sw_mp_to_json(mp, n, &err));
    assert_int_equal(err, SW_ETOOBIG);
    // a few levels stay well under the bound and convert: {{{"\"": 1}: 1}: 1}
    n = 0;
    mp[n++] = 0x81, mp[n++] = 0x81, mp[n++] = 0x81;
    mp[n++] = 0xa1, mp[n++] = '"', mp[n++] = 0x01, mp[n++] = 0x01, mp[n++] = 0x01;
    j = sw_mp_to_json(mp, n, &err);
    assert_non_null(j);
    char *text = cJSON_PrintUnformatted(j);
    assert_string_equal(text, "{\"{\\\"{\\\\\\\"\\\\\\\\\\\\\\\"\\\\\\\":1}\\\":1}\":1}");
    cJSON_free(text);
    cJSON_Delete(j);
}

static void test_to_mp(void **state)
{
    (void)state;
    expect_mp("null", "c0");
    expect_mp("[true,false]", "92 c3 c2");
    expect_mp("0", "00");
    expect_mp("-1", "ff");
    expect_mp("1000", "cd 03 e8");
    expect_mp("1e3", "cd 03 e8");     // integral → int
    expect_mp("1.0", "01");           // (cJSON gives no way to tell 1.0 from 1)
    expect_mp("1.5", "cb 3f f8 00 00 00 00 00 00");
    expect_mp("-2147483649", "d3 ff ff ff ff 7f ff ff ff");
    expect_mp("9223372036854775808", "cb 43 e0 00 00 00 00 00 00"); // beyond int64: float
    expect_mp("\"\xc3\xa9\"", "a2 c3 a9");
    expect_mp("{\"a\":{\"b\":[]}}", "81 a1 61 81 a1 62 90");
    expect_mp("{\"$bin\":\"AQID\"}", "c4 03 01 02 03");
    expect_mp("{\"$bin\":\"AQI\"}", "c4 02 01 02"); // padding optional
    expect_mp("{\"$bin\":\"\"}", "c4 00");
    expect_mp("{\"$str\":\"YQBi\"}", "a3 61 00 62");
    expect_mp("{\"$proxy\":\"-\"}", "d4 04 2d");
    expect_mp("{\"$ext\":5,\"$data\":\"AQI=\"}", "d5 05 01 02");
    expect_mp("{\"$data\":\"AQI=\",\"$ext\":-3}", "d5 fd 01 02");
    expect_mp("{\"$float\":\"-inf\"}", "cb ff f0 00 00 00 00 00 00");
    expect_mp("{\"$map\":[[1,2],[[3],null]]}", "82 01 02 91 03 c0");
    expect_mp("{\"$map\":[]}", "80");
    // not tagged: other keys around, or an unknown tag
    expect_mp("{\"$bin\":\"AQ==\",\"x\":1}", "82 a4 24 62 69 6e a4 41 51 3d 3d a1 78 01");
    expect_mp("{\"$nope\":1}", "81 a5 24 6e 6f 70 65 01");
    expect_mp("{\"$ext\":1}", "81 a4 24 65 78 74 01");
}

static void test_to_mp_errors(void **state)
{
    (void)state;
    expect_json_error("{\"$bin\":5}", SW_EINVAL);
    expect_json_error("{\"$bin\":\"A!==\"}", SW_EINVAL);
    expect_json_error("{\"$bin\":\"A\"}", SW_EINVAL);    // 6 bits cannot be a byte
    expect_json_error("{\"$bin\":\"AB==\"}", SW_EINVAL); // non-zero leftover bits
    expect_json_error("{\"$bin\":\"AA===\"}", SW_EINVAL);
    expect_json_error("{\"$float\":\"big\"}", SW_EINVAL);
    expect_json_error("{\"$proxy\":[]}", SW_EINVAL);
    expect_json_error("{\"$ext\":300,\"$data\":\"\"}", SW_EINVAL);
    expect_json_error("{\"$ext\":1.5,\"$data\":\"\"}", SW_EINVAL);
    expect_json_error("{\"$ext\":1,\"$data\":7}", SW_EINVAL);
    expect_json_error("{\"$map\":[[1]]}", SW_EINVAL);
    expect_json_error("{\"$map\":{}}", SW_EINVAL);
    // depth: 32 levels fit, 33 do not
    char deep[200] = "";
    for (int i = 0; i < SW_MP_MAX_DEPTH + 1; i++)
        strcat(deep, "[");
    for (int i = 0; i < SW_MP_MAX_DEPTH + 1; i++)
        strcat(deep, "]");
    expect_json_error(deep, SW_EDEPTH);
    // in $map pairs too: the map is level 1, the pair's key 32 more
    char pairs[200] = "{\"$map\":[[";
    for (int i = 0; i < SW_MP_MAX_DEPTH; i++)
        strcat(pairs, "[");
    for (int i = 0; i < SW_MP_MAX_DEPTH; i++)
        strcat(pairs, "]");
    strcat(pairs, ",1]]}");
    expect_json_error(pairs, SW_EDEPTH);
    cJSON *j = cJSON_Parse(deep + 1);
    sw_mpw_t w;
    sw_mpw_init(&w, mp, sizeof mp);
    assert_int_equal(sw_json_to_mp(j, &w), 0);
    cJSON_Delete(j);
    // a full writer
    j = cJSON_Parse("[\"0123456789\"]");
    sw_mpw_init(&w, mp, 5);
    assert_int_equal(sw_json_to_mp(j, &w), SW_EFULL);
    cJSON_Delete(j);
    // Raw items must be numbers
    j = cJSON_CreateRaw("\"str\"");
    sw_mpw_init(&w, mp, sizeof mp);
    assert_int_equal(sw_json_to_mp(j, &w), SW_EINVAL);
    cJSON_Delete(j);
    j = cJSON_CreateRaw("nan");
    sw_mpw_init(&w, mp, sizeof mp);
    assert_int_equal(sw_json_to_mp(j, &w), SW_EINVAL);
    cJSON_Delete(j);
    sw_mpw_init(&w, mp, sizeof mp);
    assert_int_equal(sw_json_to_mp(NULL, &w), SW_EINVAL);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Round trips of random items

static const char *const tagged_keys[] = {"$bin", "$str", "$proxy", "$float", "$map", "$ext",
                                          "$data"};

// Random items with string keys (so JSON can hold them) of every type mpjson maps; floats
// are float64 (JSON has no width).
static void gen(tu_rng_t *r, sw_mpw_t *w, int depth)
{
    uint8_t blob[80];
    uint32_t kind = tu_below(r, depth > 0 ? 11 : 9);
    switch (kind) {
    case 0: sw_mpw_nil(w); break;
    case 1: sw_mpw_bool(w, tu_below(r, 2)); break;
    case 2: sw_mpw_int(w, (int64_t)tu_next(r) >> tu_below(r, 64)); break;
    case 3: {
        static const double sp[] = {0.0, -0.0, 0.1, 1.0, -1.5, 1e300, 5e-324, NAN, INFINITY,
                                    -INFINITY, 9007199254740993.0, 2147483648.0};
        if (tu_below(r, 2))
            sw_mpw_f64(w, sp[tu_below(r, sizeof sp / sizeof sp[0])]);
        else {
            uint64_t bits = tu_next(r);
            double d;
            memcpy(&d, &bits, sizeof d);
            sw_mpw_f64(w, isnan(d) ? NAN : d); // NaN payloads are not kept: one NaN
        }
        break;
    }
    case 4: case 5: case 6: case 7: {
        uint32_t n = tu_below(r, sizeof blob);
        uint32_t mode = tu_below(r, 4);
        for (uint32_t i = 0; i < n; i++)
            blob[i] = mode == 0 ? (uint8_t)tu_next(r) : mode == 1 ? (uint8_t)(' ' + tu_below(r, 95))
                    : (uint8_t)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "ab"[tu_below(r, 11)];
        if (kind == 4) sw_mpw_str(w, blob, n);
        else if (kind == 5) sw_mpw_bin(w, blob, n);
        else if (kind == 6) sw_mpw_ext(w, 4, blob, n); // proxies, named or not
        else sw_mpw_ext(w, (int8_t)tu_next(r), blob, n);
        break;
    }
    case 8: sw_mpw_uint(w, tu_next(r) >> tu_below(r, 64)); break;
    case 9: {
        uint32_t n = tu_below(r, 6);
        sw_mpw_array(w, n);
        for (uint32_t i = 0; i < n; i++)
            gen(r, w, depth - 1);
        break;
    }
    default: {
        uint32_t n = tu_below(r, 4);
        sw_mpw_map(w, n);
        for (uint32_t i = 0; i < n; i++) {
            if (tu_below(r, 3) == 0)
                sw_mpw_cstr(w, tagged_keys[tu_below(r, 7)]); // may collide: duplicates are fine
            else {
                char k[8];
                snprintf(k, sizeof k, "k%u", (unsigned)i);
                sw_mpw_cstr(w, k);
            }
            gen(r, w, depth - 1);
        }
        break;
    }
    }
}

static double num(const sw_mp_obj_t *o)
{
    return o->type == SW_MP_UINT ? (double)o->v.u : o->type == SW_MP_INT ? (double)o->v.i : o->v.f;
}

// Reads one item of a and one of b and checks they hold equal values, with JSON text's losses:
// integers may come back as floats beyond 2^53 and integral floats come back as integers.
static void same_value(sw_mpr_t *a, sw_mpr_t *b)
{
    sw_mp_obj_t x, y;
    assert_int_equal(sw_mpr_next(a, &x), 0);
    assert_int_equal(sw_mpr_next(b, &y), 0);
    bool xnum = x.type == SW_MP_UINT || x.type == SW_MP_INT || x.type == SW_MP_FLOAT;
    bool ynum = y.type == SW_MP_UINT || y.type == SW_MP_INT || y.type == SW_MP_FLOAT;
    if (xnum) {
        assert_true(ynum);
        double dx = num(&x), dy = num(&y);
        if (isnan(dx))
            assert_true(isnan(dy));
        else if (dx != dy)
            fail_msg("numbers differ: %.17g %.17g", dx, dy);
        if (x.type != SW_MP_FLOAT && fabs(dx) <= 9007199254740992.0) { // exact below 2^53
            assert_true(y.type != SW_MP_FLOAT);
            assert_true(x.v.u == y.v.u); // u and i share their bits
        }
        return;
    }
    assert_int_equal(x.type, y.type);
    switch (x.type) {
    case SW_MP_BOOL: assert_int_equal(x.v.b, y.v.b); break;
    case SW_MP_STR: case SW_MP_BIN: case SW_MP_EXT:
        assert_int_equal(x.ext, y.ext);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.v.p, y.v.p, x.len);
        break;
    case SW_MP_ARRAY:
        assert_int_equal(x.len, y.len);
        for (uint32_t i = 0; i < x.len; i++)
            same_value(a, b);
        break;
    case SW_MP_MAP:
        assert_int_equal(x.len, y.len);
        for (uint32_t i = 0; i < 2 * x.len; i++)
            same_value(a, b);
        break;
    default: break;
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    tu_rng_t r = {0x6a736f6e2d6d70ull};
    for (int round = 0; round < 3000; round++) {
        sw_mpw_t w;
        sw_mpw_init(&w, mp, sizeof mp);
        gen(&r, &w, (int)tu_below(&r, 5));
        assert_int_equal(w.err, 0);
        int err;
        cJSON *j = sw_mp_to_json(mp, w.len, &err);
        if (!j)
            fail_msg("round %d: %s", round, sw_errname(err));
        // 1. the tree converts back byte for byte
        sw_mpw_t w2;
        sw_mpw_init(&w2, mp2, sizeof mp2);
        assert_int_equal(sw_json_to_mp(j, &w2), 0);
        if (w2.len != w.len || memcmp(mp, mp2, w.len)) {
            char *s = cJSON_PrintUnformatted(j);
            fail_msg("round %d: tree round trip differs; JSON %s", round, s);
        }
        // 2. through text (pretty-printed, parsed by cJSON) the values stay equal
        char *text = cJSON_Print(j);
        cJSON *back = cJSON_Parse(text);
        if (!back)
            fail_msg("round %d: cJSON cannot parse its own output: %s", round, text);
        sw_mpw_init(&w2, mp2, sizeof mp2);
        assert_int_equal(sw_json_to_mp(back, &w2), 0);
        sw_mpr_t ra, rb;
        sw_mpr_init(&ra, mp, w.len);
        sw_mpr_init(&rb, mp2, w2.len);
        same_value(&ra, &rb);
        assert_true(sw_mpr_done(&ra) && sw_mpr_done(&rb));
        cJSON_free(text);
        cJSON_Delete(back);
        cJSON_Delete(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_json_scalars), cmocka_unit_test(test_to_json_blobs),
        cmocka_unit_test(test_to_json_containers), cmocka_unit_test(test_to_json_errors),
        cmocka_unit_test(test_to_mp),           cmocka_unit_test(test_to_mp_errors),
        cmocka_unit_test(test_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
