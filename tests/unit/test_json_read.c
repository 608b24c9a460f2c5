// JSON pull reader: token streams, the strict grammar (every rejection has a case), depth and
// number bounds, string decoding, skipping; and properties: whatever the writer produces reads
// back to the same text, and mutated text never breaks the reader's invariants.
#include "testutil.h"
#include "swarm/json.h"

static const char *tok_name(int t)
{
    static const char *const names[] = {"END", "{", "}", "[", "]", "KEY", "STR", "NUM", "BOOL", "NULL"};
    return t >= 0 && t <= SW_JT_NULL ? names[t] : "?";
}

// The token stream of text as one line: "{ KEY:a NUM:1 } END", or "ERR:code" at the failure.
static void tokens(const char *text, size_t n, char *out, size_t cap)
{
    sw_jr_t r;
    sw_jv_t v;
    sw_jr_init(&r, text, n);
    size_t k = 0;
    out[0] = 0;
    for (int guard = 0; guard < 1000; guard++) {
        int rc = sw_jr_next(&r, &v);
        if (rc) {
            k += (size_t)snprintf(out + k, cap - k, "ERR:%s", sw_errname(rc));
            return;
        }
        char s[64];
        switch (v.type) {
        case SW_JT_KEY:
        case SW_JT_STR:
            assert_true(sw_jv_str(&v, s, sizeof s) >= 0);
            k += (size_t)snprintf(out + k, cap - k, "%s:%s ", tok_name(v.type), s);
            break;
        case SW_JT_NUM:
            if (v.is_int)
                k += (size_t)snprintf(out + k, cap - k, "INT:%lld ", (long long)v.i);
            else
                k += (size_t)snprintf(out + k, cap - k, "NUM:%.*s ", (int)v.n, v.p);
            break;
        case SW_JT_BOOL: k += (size_t)snprintf(out + k, cap - k, "%s ", v.b ? "true" : "false"); break;
        default: k += (size_t)snprintf(out + k, cap - k, "%s ", tok_name(v.type));
        }
        if (v.type == SW_JT_END)
            return;
    }
    fail_msg("the reader does not end on '%s'", text);
}

static void expect(const char *text, const char *want)
{
    char got[1024];
    tokens(text, strlen(text), got, sizeof got);
    if (strcmp(got, want))
        fail_msg("'%s':\n  got  %s\n  want %s", text, got, want);
}

static void test_tokens(void **state)
{
    (void)state;
    expect("{\"type\":\"query\",\"v\":1,\"id\":42}", "{ KEY:type STR:query KEY:v INT:1 KEY:id INT:42 } END ");
    expect(" \t\r\n[ true , false,null ,\"\", -0, 1.5e3, {} , [ ] ] \n",
           "[ true false NULL STR: INT:0 NUM:1.5e3 { } [ ] ] END ");
    expect("\"top\"", "STR:top END ");
    expect("7", "INT:7 END ");
    expect("{\"a\":{\"b\":[1,[2,{\"c\":null}]]}}", "{ KEY:a { KEY:b [ INT:1 [ INT:2 { KEY:c NULL } ] ] } } END ");
    expect("{\"\":0}", "{ KEY: INT:0 } END ");
}

static void test_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", " ", "{", "[", "}", "]", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "01", "-01", "1.", ".5",
        "-", "+1", "1e", "1e+", "0x10", "tru", "nul", "True", "NaN", "Infinity", "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"abc", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{\"a\"}", "{,}", "[,]", "1 2",
        "{} {}", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "[}", "{]", "{\"a\":1]",
        "[1}", "// c\n1", "/* c */ 1", "[1,,2]", "\"a\"\"b\"", "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char got[256];
        tokens(bad[i], strlen(bad[i]), got, sizeof got);
        if (!strstr(got, "ERR:EPROTO"))
            fail_msg("'%s' accepted: %s", bad[i], got);
    }
    // bytes that are not allowed inside strings: control characters, invalid UTF-8
    static const char *const bad_bytes[] = {
        "\"\x01\"", "\"a\nb\"", "\"\x7f\x80\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"", "\"\xc3\"",
    };
    for (size_t i = 0; i < sizeof bad_bytes / sizeof *bad_bytes; i++) {
        char got[256];
        tokens(bad_bytes[i], strlen(bad_bytes[i]), got, sizeof got);
        if (!strstr(got, "ERR:EPROTO"))
            fail_msg("bad string #%zu accepted: %s", i, got);
    }
    char got[256];
    tokens("[1,\0]", 5, got, sizeof got); // a NUL byte is not whitespace
    assert_non_null(strstr(got, "ERR:EPROTO"));
    // the error is sticky and the token is cleared
    sw_jr_t r;
    sw_jv_t v;
    sw_jr_init(&r, "[1,x]", 5);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(sw_jr_next(&r, &v), SW_EPROTO);
    assert_int_equal(v.type, SW_JT_END);
    assert_int_equal(sw_jr_next(&r, &v), SW_EPROTO);
    sw_jr_init(&r, NULL, 5); // no text at all: an empty document
    assert_int_equal(sw_jr_next(&r, &v), SW_EPROTO);
}

static void test_depth(void **state)
{
    (void)state;
    // exactly SW_JSON_MAX_DEPTH levels read; one more is refused
    char deep[256];
    size_t n = 0;
    for (int i = 0; i < SW_JSON_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < SW_JSON_MAX_DEPTH; i++)
        deep[n++] = ']';
    sw_jr_t r;
    sw_jv_t v;
    sw_jr_init(&r, deep, n);
    int max = 0, rc;
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END)
        max = v.depth > max ? v.depth : max;
    assert_int_equal(rc, 0);
    assert_int_equal(max, SW_JSON_MAX_DEPTH);
    memmove(deep + 1, deep, n);
    deep[0] = '[';
    deep[n + 1] = ']';
    sw_jr_init(&r, deep, n + 2);
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END)
        ;
    assert_int_equal(rc, SW_EDEPTH);
    // objects and arrays alternating over all 32 levels: every close matches its open
    char mixed[512];
    n = 0;
    for (int i = 0; i < SW_JSON_MAX_DEPTH / 2; i++)
        n += (size_t)sprintf(mixed + n, "{\"k%d\":[", i);
    n += (size_t)sprintf(mixed + n, "true");
    for (int i = 0; i < SW_JSON_MAX_DEPTH / 2; i++)
        n += (size_t)sprintf(mixed + n, "]}");
    sw_jr_init(&r, mixed, n);
    int closes = 0;
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END)
        closes += v.type == SW_JT_OBJ_END || v.type == SW_JT_ARR_END;
    assert_int_equal(rc, 0);
    assert_int_equal(closes, SW_JSON_MAX_DEPTH);
    mixed[n - 1] = ']'; // an object closed with ']'
    sw_jr_init(&r, mixed, n);
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END)
        ;
    assert_int_equal(rc, SW_EPROTO);
    // 10 000 levels: refused at level 33, in constant stack
    static char huge[20000];
    memset(huge, '[', 10000);
    memset(huge + 10000, ']', 10000);
    sw_jr_init(&r, huge, sizeof huge);
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END)
        ;
    assert_int_equal(rc, SW_EDEPTH);
}

static void test_numbers(void **state)
{
    (void)state;
    expect("[9223372036854775807,-9223372036854775808,9223372036854775808,-9223372036854775809]",
           "[ INT:9223372036854775807 INT:-9223372036854775808 NUM:9223372036854775808 "
           "NUM:-9223372036854775809 ] END ");
    expect("[0,-0,12,1E2,1e-2,0.0,-1.25,99999999999999999999999]",
           "[ INT:0 INT:0 INT:12 NUM:1E2 NUM:1e-2 NUM:0.0 NUM:-1.25 NUM:99999999999999999999999 ] END ");
}

static void test_strings(void **state)
{
    (void)state;
    const char *text = "[\"a\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\", \"plain é\", \"\\u0000\"]";
    sw_jr_t r;
    sw_jv_t v;
    char buf[64];
    sw_jr_init(&r, text, strlen(text));
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(v.type, SW_JT_STR);
    assert_true(v.escaped);
    const char *want = "a\xc3\xa9\xf0\x9f\x98\x80\n\"\\/\b\f\r\t";
    assert_int_equal(sw_jv_str(&v, buf, sizeof buf), (int)strlen(want));
    assert_string_equal(buf, want);
    assert_true(sw_jv_streq(&v, want));
    assert_false(sw_jv_streq(&v, "a\xc3\xa9"));
    assert_false(sw_jv_streq(&v, "a\xc3\xa9\xf0\x9f\x98\x80\n\"\\/\b\f\r\tX"));
    assert_int_equal(sw_jv_str(&v, buf, 5), SW_EFULL); // never a split sequence
    assert_string_equal(buf, "a\xc3\xa9");
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_false(v.escaped);
    assert_true(sw_jv_streq(&v, "plain \xc3\xa9"));
    assert_false(sw_jv_streq(&v, "plain"));
    assert_int_equal(sw_jv_str(&v, buf, 1), SW_EFULL);
    assert_string_equal(buf, "");
    assert_int_equal(sw_jr_next(&r, &v), 0); // \u0000 decodes to a NUL byte; the length says so
    assert_int_equal(sw_jv_str(&v, buf, sizeof buf), 1);
    assert_int_equal(buf[0], 0);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(v.type, SW_JT_ARR_END);
    sw_jv_t num = {.type = SW_JT_NUM};
    assert_int_equal(sw_jv_str(&num, buf, sizeof buf), SW_ETYPE);
    assert_false(sw_jv_streq(&num, ""));
}

static void test_skip(void **state)
{
    (void)state;
    const char *text = "{\"a\":[1,{\"b\":[2,3]},\"x\"],\"c\":{\"d\":{}},\"e\":5}";
    sw_jr_t r;
    sw_jv_t v;
    sw_jr_init(&r, text, strlen(text));
    assert_int_equal(sw_jr_next(&r, &v), 0); // {
    assert_int_equal(sw_jr_next(&r, &v), 0); // a
    assert_int_equal(sw_jr_next(&r, &v), 0); // [
    assert_int_equal(sw_jr_skip(&r, &v), 0);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_true(v.type == SW_JT_KEY && sw_jv_streq(&v, "c"));
    assert_int_equal(sw_jr_next(&r, &v), 0); // {
    assert_int_equal(sw_jr_skip(&r, &v), 0);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_true(sw_jv_streq(&v, "e"));
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(sw_jr_skip(&r, &v), 0); // a scalar: nothing to skip
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(v.type, SW_JT_OBJ_END);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(v.type, SW_JT_END);
    assert_int_equal(sw_jr_next(&r, &v), 0); // END again
    assert_int_equal(v.type, SW_JT_END);
    // skipping a container that is cut off reports the error
    sw_jr_init(&r, "[[1,2", 5);
    assert_int_equal(sw_jr_next(&r, &v), 0);
    assert_int_equal(sw_jr_skip(&r, &v), SW_EPROTO);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Properties

static size_t g17(double d, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%.17g", d);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

// A random valid UTF-8 string with everything JSON must escape.
static size_t gen_string(tu_rng_t *r, char *s, size_t cap)
{
    static const uint32_t cps[] = {0, 1, 8, 9, 10, 13, 31, '"', '\\', '/', 'a', 0x7f, 0x80, 0xe9, 0x7ff,
                                   0x800, 0xfffd, 0xffff, 0x10000, 0x1f600, 0x10ffff};
    size_t n = 0, count = tu_below(r, 20);
    for (size_t k = 0; k < count && n + 4 < cap; k++) {
        uint32_t cp = tu_below(r, 3) ? cps[tu_below(r, sizeof cps / sizeof *cps)] : ' ' + tu_below(r, 95);
        if (cp < 0x80) {
            s[n++] = (char)cp;
        } else if (cp < 0x800) {
            s[n++] = (char)(0xc0 | cp >> 6), s[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            s[n++] = (char)(0xe0 | cp >> 12), s[n++] = (char)(0x80 | (cp >> 6 & 0x3f));
            s[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            s[n++] = (char)(0xf0 | cp >> 18), s[n++] = (char)(0x80 | (cp >> 12 & 0x3f));
            s[n++] = (char)(0x80 | (cp >> 6 & 0x3f)), s[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return n;
}

// Re-writes the token stream of r with the JSON writer. Returns the reader's result.
static int rewrite(sw_jr_t *r, sw_jw_t *w)
{
    sw_jv_t v;
    static char s[8192];
    int rc;
    while ((rc = sw_jr_next(r, &v)) == 0 && v.type != SW_JT_END) {
        switch (v.type) {
        case SW_JT_OBJ: sw_jw_obj_begin(w); break;
        case SW_JT_OBJ_END: sw_jw_obj_end(w); break;
        case SW_JT_ARR: sw_jw_arr_begin(w); break;
        case SW_JT_ARR_END: sw_jw_arr_end(w); break;
        case SW_JT_KEY:
        case SW_JT_STR: {
            int k = sw_jv_str(&v, s, sizeof s);
            assert_true(k >= 0);
            assert_true((size_t)k <= v.n);
            if (v.type == SW_JT_KEY)
                sw_jw_key(w, s, (size_t)k);
            else
                sw_jw_str(w, s, (size_t)k);
            break;
        }
        case SW_JT_NUM:
            if (v.is_int) {
                sw_jw_int(w, v.i);
            } else {
                char num[64];
                assert_true(v.n < sizeof num);
                memcpy(num, v.p, v.n);
                num[v.n] = 0;
                if (strspn(num, "0123456789") == v.n) // beyond int64: the writer's uint64
                    sw_jw_uint(w, strtoull(num, NULL, 10));
                else
                    sw_jw_double(w, strtod(num, NULL));
            }
            break;
        case SW_JT_BOOL: sw_jw_bool(w, v.b); break;
        default: sw_jw_null(w);
        }
    }
    return rc;
}

static void test_roundtrip_property(void **state)
{
    (void)state;
    tu_rng_t rng = {0x6a736f6e72656164ull};
    static uint8_t mp[1 << 16];
    static char j1[1 << 18], j2[1 << 18];
    for (int round = 0; round < 3000; round++) {
        sw_jw_t w1, w2;
        sw_jw_init(&w1, j1, sizeof j1, round % 3 == 0 ? 2 : 0);
        w1.fmt = g17;
        if (round & 1) { // a document with tricky strings
            char s[128];
            sw_jw_arr_begin(&w1);
            for (uint32_t k = tu_below(&rng, 8); k > 0; k--) {
                size_t n = gen_string(&rng, s, sizeof s);
                if (tu_below(&rng, 2)) {
                    sw_jw_obj_begin(&w1);
                    sw_jw_key(&w1, s, n);
                    sw_jw_str(&w1, s, n);
                    sw_jw_obj_end(&w1);
                } else {
                    sw_jw_str(&w1, s, n);
                }
            }
            sw_jw_arr_end(&w1);
        } else { // any MsgPack item, as the writer converts it
            sw_mpw_t mw;
            sw_mpw_init(&mw, mp, sizeof mp);
            tu_gen_item(&rng, &mw, 5);
            assert_int_equal(mw.err, 0);
            if (sw_jw_mp(&w1, mp, mw.len))
                continue; // deeper than the writer allows
        }
        assert_int_equal(w1.err, 0);
        sw_jr_t r;
        sw_jr_init(&r, j1, w1.len);
        sw_jw_init(&w2, j2, sizeof j2, w1.indent);
        w2.fmt = g17;
        int rc = rewrite(&r, &w2);
        if (rc)
            fail_msg("round %d: the writer's text does not read (%s):\n%s", round, sw_errname(rc), j1);
        assert_int_equal(w2.err, 0);
        if (w1.len != w2.len || memcmp(j1, j2, w1.len))
            fail_msg("round %d: text differs:\n%s\n%s", round, j1, j2);
    }
}

static void test_mutation_property(void **state)
{
    (void)state;
    tu_rng_t rng = {0x6d7574617465ull};
    static uint8_t mp[1 << 14];
    static char text[1 << 16];
    static const char alphabet[] = "{}[]\",:\\ 0123456789.eE+-tfnulrsa\x01\x80\xc3\xff";
    for (int round = 0; round < 20000; round++) {
        sw_mpw_t mw;
        sw_mpw_init(&mw, mp, sizeof mp);
        tu_gen_item(&rng, &mw, 4);
        sw_jw_t w;
        sw_jw_init(&w, text, sizeof text, 0);
        if (sw_jw_mp(&w, mp, mw.len) || w.len == 0)
            continue;
        size_t n = w.len;
        for (uint32_t k = 1 + tu_below(&rng, 4); k > 0; k--) {
            size_t at = tu_below(&rng, (uint32_t)n);
            switch (tu_below(&rng, 3)) {
            case 0: text[at] = alphabet[tu_below(&rng, sizeof alphabet - 1)]; break;
            case 1: n = at; break; // cut short
            default: // duplicate a slice
                if (n + 16 < sizeof text) {
                    memmove(text + at + 16, text + at, n - at);
                    n += 16;
                }
            }
        }
        sw_jr_t r;
        sw_jv_t v;
        sw_jr_init(&r, text, n);
        int rc, tokens_read = 0;
        int depth = 0;
        while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END) {
            assert_true(++tokens_read <= (int)n); // every token consumes input
            if (v.type == SW_JT_OBJ || v.type == SW_JT_ARR)
                depth++;
            if (v.type == SW_JT_OBJ_END || v.type == SW_JT_ARR_END)
                depth--;
            assert_int_equal(depth, r.depth);
            assert_true(r.depth <= SW_JSON_MAX_DEPTH);
            assert_true(r.pos <= n);
            if (v.type == SW_JT_STR || v.type == SW_JT_KEY || v.type == SW_JT_NUM)
                assert_true(v.p >= text && v.p + v.n <= text + n);
            if (v.type == SW_JT_STR) {
                char s[1 << 12];
                int k = sw_jv_str(&v, s, sizeof s);
                assert_true(k >= 0 || k == SW_EFULL);
            }
        }
        assert_true(rc == 0 || rc == SW_EPROTO || rc == SW_EDEPTH);
        if (rc == 0)
            assert_int_equal(depth, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_mutation_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
