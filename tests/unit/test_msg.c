// swarm messages: the byte vectors of the running v0 original both ways, every malformed form
// the decoder must refuse, encoder argument errors, and round-trip properties over random
// messages of every kind (also re-ordered and padded with unknown keys).
#include "testutil.h"
#include "swarm/msg.h"

static uint8_t out[1 << 16];

static uint8_t in[4096];
static size_t in_n;

// Decodes the hex message into *m (input kept in `in`) and returns the decoder's result.
static int dec(sw_msg_t *m, const char *hex)
{
    in_n = tu_hex(hex, in, sizeof in);
    return sw_msg_decode(m, in, in_n);
}

static void assert_span(sw_span_t s, const char *hex)
{
    tu_assert_bytes(s.p, s.n, hex);
    // zero copy: the span points into the decoded buffer
    if (s.n)
        assert_true(s.p >= in && s.p + s.n <= in + in_n);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Vectors

#define PING "83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01"

static void test_ping_request(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_msg_request_begin(&w, "ping", 1, 0); sw_mpw_map(&w, 1); sw_mpw_cstr(&w, "m");
                 sw_mpw_cstr(&w, "x"); sw_msg_request_end(&w, 1, 0),
                 PING);
    sw_msg_t m;
    assert_int_equal(dec(&m, PING), 0);
    assert_int_equal(m.kind, SW_MSG_REQUEST);
    assert_int_equal(m.has, SW_MSG_HAS_A | SW_MSG_HAS_D | SW_MSG_HAS_I);
    assert_true(m.action_is_str);
    assert_int_equal(m.path_len, 1);
    assert_true(sw_span_eq(m.path[0], "ping"));
    assert_false(sw_span_eq(m.path[0], "pin"));
    assert_false(sw_span_eq(m.path[0], "pings"));
    assert_span(m.path[0], "70 69 6e 67");
    assert_span(m.a, "a4 70 69 6e 67");
    assert_span(m.d, "81 a1 6d a1 78");
    assert_int_equal(m.e.n, 0);
    assert_int_equal(m.i, 1);
    assert_int_equal(m.r, 0);

    // the same request re-written from what was decoded (raw action, raw data)
    WRITE_EXPECT(sw_msg_request_begin_raw(&w, m.a, m.i, 0); sw_mpw_raw(&w, m.d.p, m.d.n);
                 sw_msg_request_end(&w, m.i, 0),
                 PING);
}

static void test_ping_reply(void **state)
{
    (void)state;
    // as the running original sends it: d first
    WRITE_EXPECT(sw_msg_reply_begin(&w); sw_mpw_cstr(&w, "R:x"); sw_msg_reply_end(&w, 1),
                 "82 a1 64 a3 52 3a 78 a1 69 01");
    sw_msg_t m;
    assert_int_equal(dec(&m, "82 a1 64 a3 52 3a 78 a1 69 01"), 0);
    assert_int_equal(m.kind, SW_MSG_REPLY);
    assert_int_equal(m.has, SW_MSG_HAS_D | SW_MSG_HAS_I);
    assert_int_equal(m.i, 1);
    assert_span(m.d, "a3 52 3a 78");
    assert_int_equal(m.a.n, 0);
    assert_int_equal(m.path_len, 0);
    // as the original's source would send it: i first; same meaning
    assert_int_equal(dec(&m, "82 a1 69 01 a1 64 a3 52 3a 78"), 0);
    assert_int_equal(m.kind, SW_MSG_REPLY);
    assert_int_equal(m.i, 1);
    assert_span(m.d, "a3 52 3a 78");
    // the v0 reply to sys.is_up: a nil result is still a reply
    assert_int_equal(dec(&m, "82 a1 64 c0 a1 69 02"), 0);
    assert_int_equal(m.kind, SW_MSG_REPLY);
    assert_int_equal(m.i, 2);
    assert_span(m.d, "c0");
}

static void test_link(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_msg_write_link(&w, true), "82 a1 64 c3 a1 61 a4 6c 69 6e 6b");
    WRITE_EXPECT(sw_msg_write_link(&w, false), "82 a1 64 c2 a1 61 a4 6c 69 6e 6b");
    const char *forms[] = {"82 a1 64 c3 a1 61 a4 6c 69 6e 6b", "82 a1 64 c2 a1 61 a4 6c 69 6e 6b",
                           "82 a1 61 a4 6c 69 6e 6b a1 64 c3"}; // the last: the source's order
    for (int k = 0; k < 3; k++) {
        sw_msg_t m;
        assert_int_equal(dec(&m, forms[k]), 0);
        assert_int_equal(m.kind, SW_MSG_NOTIFY);
        assert_int_equal(m.has, SW_MSG_HAS_A | SW_MSG_HAS_D);
        assert_true(m.action_is_str);
        assert_int_equal(m.path_len, 1);
        assert_true(sw_span_eq(m.path[0], "link"));
        assert_span(m.d, k == 1 ? "c2" : "c3");
    }
}

static void test_error_end_cancel_stream(void **state)
{
    (void)state;
    sw_msg_t m;
    WRITE_EXPECT(sw_msg_write_error(&w, 8, "fn"), "82 a1 65 a2 66 6e a1 69 08");
    assert_int_equal(dec(&m, "82 a1 65 a2 66 6e a1 69 08"), 0);
    assert_int_equal(m.kind, SW_MSG_ERROR);
    assert_int_equal(m.has, SW_MSG_HAS_E | SW_MSG_HAS_I);
    assert_int_equal(m.i, 8);
    assert_span(m.e, "a2 66 6e");
    assert_int_equal(m.d.n, 0);
    WRITE_EXPECT(sw_msg_write_error_n(&w, 8, "fnord", 2), "82 a1 65 a2 66 6e a1 69 08");
    WRITE_EXPECT(sw_msg_write_error(&w, 1, NULL), "82 a1 65 a0 a1 69 01");
    // the original's repr error text, and its "encode failure" key order (e, i) is ours anyway
    assert_int_equal(dec(&m, "82 a1 69 0c a1 65 a6 41 74 74 72 28 29"), 0);
    assert_int_equal(m.kind, SW_MSG_ERROR);
    assert_int_equal(m.i, 12);

    WRITE_EXPECT(sw_msg_stream_begin(&w, 3); sw_mpw_int(&w, 42); sw_msg_stream_end(&w, 1),
                 "83 a1 69 03 a1 64 2a a1 6e 01");
    assert_int_equal(dec(&m, "83 a1 69 03 a1 64 2a a1 6e 01"), 0);
    assert_int_equal(m.kind, SW_MSG_STREAM);
    assert_int_equal(m.has, SW_MSG_HAS_I | SW_MSG_HAS_D | SW_MSG_HAS_N);
    assert_int_equal(m.i, 3);
    assert_int_equal(m.n, 1);
    assert_span(m.d, "2a");

    WRITE_EXPECT(sw_msg_write_end(&w, 3), "82 a1 69 03 a1 72 c2");
    assert_int_equal(dec(&m, "82 a1 69 03 a1 72 c2"), 0);
    assert_int_equal(m.kind, SW_MSG_END);
    assert_int_equal(m.has, SW_MSG_HAS_I | SW_MSG_HAS_R);
    assert_int_equal(m.i, 3);
    assert_int_equal(m.r, SW_MSG_R_END);

    WRITE_EXPECT(sw_msg_write_cancel(&w, 3), "81 a1 69 03");
    assert_int_equal(dec(&m, "81 a1 69 03"), 0);
    assert_int_equal(m.kind, SW_MSG_CANCEL);
    assert_int_equal(m.has, SW_MSG_HAS_I);
    assert_int_equal(m.i, 3);
}

static void test_list_actions(void **state)
{
    (void)state;
    sw_msg_t m;
    // ["sys","is_up"] with d {} — what the CLI of the original sends
    const char *is_up = "83 a1 61 92 a3 73 79 73 a5 69 73 5f 75 70 a1 64 80 a1 69 02";
    WRITE_EXPECT(sw_msg_request_begin(&w, "sys.is_up", 2, 0); sw_mpw_map(&w, 0);
                 sw_msg_request_end(&w, 2, 0),
                 is_up);
    assert_int_equal(dec(&m, is_up), 0);
    assert_int_equal(m.kind, SW_MSG_REQUEST);
    assert_false(m.action_is_str);
    assert_int_equal(m.path_len, 2);
    assert_true(sw_span_eq(m.path[0], "sys"));
    assert_true(sw_span_eq(m.path[1], "is_up"));
    assert_span(m.a, "92 a3 73 79 73 a5 69 73 5f 75 70");
    assert_span(m.d, "80");
    assert_int_equal(m.i, 2);

    // a stream request: r (ms) after i
    const char *mem = "84 a1 61 92 a3 73 79 73 a3 6d 65 6d a1 64 80 a1 69 05 a1 72 cd 03 e8";
    WRITE_EXPECT(sw_msg_request_begin(&w, "sys.mem", 5, 1000); sw_mpw_map(&w, 0);
                 sw_msg_request_end(&w, 5, 1000),
                 mem);
    assert_int_equal(dec(&m, mem), 0);
    assert_int_equal(m.kind, SW_MSG_REQUEST);
    assert_int_equal(m.has, SW_MSG_HAS_A | SW_MSG_HAS_D | SW_MSG_HAS_I | SW_MSG_HAS_R);
    assert_int_equal(m.r, 1000);
    assert_int_equal(m.i, 5);
    assert_true(sw_span_eq(m.path[1], "mem"));

    // a notification (no i): the satellite's {"a":["mplex","cfg"],"d":{}}
    const char *cfg = "82 a1 61 92 a5 6d 70 6c 65 78 a3 63 66 67 a1 64 80";
    WRITE_EXPECT(sw_msg_request_begin(&w, "mplex.cfg", -1, 0); sw_mpw_map(&w, 0);
                 sw_msg_request_end(&w, -1, 0),
                 cfg);
    assert_int_equal(dec(&m, cfg), 0);
    assert_int_equal(m.kind, SW_MSG_NOTIFY);
    assert_int_equal(m.has, SW_MSG_HAS_A | SW_MSG_HAS_D);
    assert_int_equal(m.path_len, 2);

    // a request without d (v0 calls p(None)) and a notification without d
    assert_int_equal(dec(&m, "82 a1 61 a1 78 a1 69 07"), 0);
    assert_int_equal(m.kind, SW_MSG_REQUEST);
    assert_int_equal(m.has, SW_MSG_HAS_A | SW_MSG_HAS_I);
    assert_int_equal(m.d.n, 0);
    assert_int_equal(dec(&m, "81 a1 61 a1 78"), 0);
    assert_int_equal(m.kind, SW_MSG_NOTIFY);

    // exactly SW_MSG_MAX_PATH elements are fine; one more is too big
    for (int extra = 0; extra < 2; extra++) {
        sw_mpw_t w;
        sw_mpw_init(&w, in, sizeof in);
        int n = SW_MSG_MAX_PATH + extra;
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "a");
        sw_mpw_array(&w, (uint32_t)n);
        for (int k = 0; k < n; k++)
            sw_mpw_str(&w, &"abcdefghijklmnop"[k % 16], 1);
        sw_mpw_cstr(&w, "i");
        sw_mpw_int(&w, 1);
        in_n = w.len;
        assert_int_equal(sw_msg_decode(&m, in, in_n), extra ? SW_ETOOBIG : 0);
        if (!extra) {
            assert_int_equal(m.path_len, SW_MSG_MAX_PATH);
            assert_int_equal(m.path[SW_MSG_MAX_PATH - 1].n, 1);
            assert_int_equal(m.path[SW_MSG_MAX_PATH - 1].p[0], 'a' + (n - 1) % 16);
        } else {
            assert_int_equal(m.kind, SW_MSG_INVALID);
        }
    }
}

static void test_write_action(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_msg_write_action(&w, "ping"), "a4 70 69 6e 67");
    WRITE_EXPECT(sw_msg_write_action(&w, "sys.is_up"), "92 a3 73 79 73 a5 69 73 5f 75 70");
    WRITE_EXPECT(sw_msg_write_action(&w, "a.b.c"), "93 a1 61 a1 62 a1 63");
    WRITE_EXPECT(sw_msg_write_action(&w, "fdir"), "a4 66 64 69 72"); // v0 sub-dispatch form

    const char *bad[] = {"", ".", "..", ".a", "a.", "a..b", "sys..is_up", "a.b.", NULL};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        sw_mpw_t w;
        sw_mpw_init(&w, out, sizeof out);
        sw_msg_write_action(&w, bad[k]);
        assert_int_equal(w.err, SW_EINVAL);
        assert_int_equal(w.len, 0);
    }
    // too many segments for any decoder of ours
    char deep[4 * SW_MSG_MAX_PATH + 8] = "x";
    for (int k = 1; k <= SW_MSG_MAX_PATH; k++)
        strcat(deep, ".x");
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_write_action(&w, deep);
    assert_int_equal(w.err, SW_EINVAL);
    deep[strlen(deep) - 2] = 0; // exactly SW_MSG_MAX_PATH
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_write_action(&w, deep);
    assert_int_equal(w.err, 0);
    assert_int_equal(out[0], 0x90 | SW_MSG_MAX_PATH);

    // the first error sticks
    uint8_t small[3];
    sw_mpw_init(&w, small, sizeof small);
    sw_msg_write_action(&w, "ping");
    assert_int_equal(w.err, SW_EFULL);
    sw_msg_write_action(&w, "");
    assert_int_equal(w.err, SW_EFULL);
}

static void test_encoder_errors(void **state)
{
    (void)state;
    sw_mpw_t w;
    // a stream request needs a seq
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_request_begin(&w, "x", -1, 100);
    assert_int_equal(w.err, SW_EINVAL);
    assert_int_equal(w.len, 0);
    // a raw action must be something
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_request_begin_raw(&w, (sw_span_t){NULL, 0}, 1, 0);
    assert_int_equal(w.err, SW_EINVAL);
    // a bad dotted action spoils the whole request
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_request_begin(&w, "a..b", 1, 0);
    sw_mpw_nil(&w);
    sw_msg_request_end(&w, 1, 0);
    assert_int_equal(w.err, SW_EINVAL);
    // no room: EFULL, never past the buffer, and nothing after the failing item
    for (size_t cap = 0; cap < 18; cap++) {
        uint8_t small[18];
        memset(small, 0xee, sizeof small);
        sw_mpw_init(&w, small, cap);
        sw_msg_request_begin(&w, "ping", 1, 0);
        sw_mpw_map(&w, 1);
        sw_mpw_cstr(&w, "m");
        sw_mpw_cstr(&w, "x");
        sw_msg_request_end(&w, 1, 0);
        assert_int_equal(w.err, SW_EFULL);
        assert_true(w.len <= cap);
        for (size_t k = cap; k < sizeof small; k++)
            assert_int_equal(small[k], 0xee);
    }
    // proxies need a name
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_write_proxy(&w, NULL);
    assert_int_equal(w.err, SW_EINVAL);
}

static void test_large_and_negative_numbers(void **state)
{
    (void)state;
    sw_msg_t m;
    assert_int_equal(dec(&m, "81 a1 69 d3 80 00 00 00 00 00 00 00"), 0);
    assert_true(m.i == INT64_MIN);
    assert_int_equal(dec(&m, "81 a1 69 cf 7f ff ff ff ff ff ff ff"), 0);
    assert_true(m.i == INT64_MAX);
    assert_int_equal(dec(&m, "81 a1 69 d0 05"), 0); // a non-minimal signed form
    assert_int_equal(m.i, 5);
    assert_int_equal(dec(&m, "84 a1 61 a1 78 a1 64 c0 a1 69 00 a1 72 cf 7f ff ff ff ff ff ff ff"), 0);
    assert_true(m.r == INT64_MAX);
    assert_int_equal(dec(&m, "83 a1 69 ff a1 64 c0 a1 6e d3 80 00 00 00 00 00 00 00"), 0);
    assert_int_equal(m.kind, SW_MSG_STREAM);
    assert_int_equal(m.i, -1);
    assert_true(m.n == INT64_MIN);
    WRITE_EXPECT(sw_msg_write_cancel(&w, INT64_MIN), "81 a1 69 d3 80 00 00 00 00 00 00 00");
    WRITE_EXPECT(sw_msg_reply_begin(&w); sw_mpw_nil(&w); sw_msg_reply_end(&w, 65536),
                 "82 a1 64 c0 a1 69 ce 00 01 00 00");
}

// Keys the decoder does not know are skipped, whatever their type.
static void test_unknown_keys(void **state)
{
    (void)state;
    sw_msg_t m;
    const char *ok[] = {
        "82 01 02 a1 69 03",                                     // {1: 2, "i": 3}
        "82 91 01 80 a1 69 03",                                  // {[1]: {}, "i": 3}
        "84 a2 61 61 01 a1 41 02 a1 78 92 01 02 a1 69 03",       // "aa", "A", "x"
        "83 a1 78 01 a1 78 02 a1 69 03",                         // unknown duplicates: ignored
        "82 c4 01 61 a1 78 a1 69 03",                            // bin "a" is no key
        "82 a0 c0 a1 69 03",                                     // "" is no key
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        assert_int_equal(dec(&m, ok[k]), 0);
        assert_int_equal(m.kind, SW_MSG_CANCEL);
        assert_int_equal(m.has, SW_MSG_HAS_I);
        assert_int_equal(m.i, 3);
    }
    assert_int_equal(dec(&m, "82 81 a1 61 a1 78 c0 a1 69 03"), 0); // {{"a":"x"}: nil, "i": 3}
    assert_int_equal(m.kind, SW_MSG_CANCEL);
    assert_int_equal(m.a.n, 0);
    // v2's x key next to a request
    assert_int_equal(dec(&m, "84 a1 61 91 a1 78 a1 64 80 a1 69 02 a1 78 90"), 0);
    assert_int_equal(m.kind, SW_MSG_REQUEST);
    // an error with arguments in d (v2 style, e a proxy)
    assert_int_equal(dec(&m, "83 a1 69 09 a1 65 c7 06 04 5f 4b 79 45 72 72 a1 64 91 a1 6b"), 0);
    assert_int_equal(m.kind, SW_MSG_ERROR);
    assert_int_equal(m.has, SW_MSG_HAS_E | SW_MSG_HAS_I | SW_MSG_HAS_D);
    assert_span(m.e, "c7 06 04 5f 4b 79 45 72 72");
    assert_span(m.d, "91 a1 6b");
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, m.e.p, m.e.n);
    assert_int_equal(sw_mpr_next(&r, &o), 0);
    assert_true(sw_msg_obj_is_proxy(&o, "_KyErr"));
    assert_true(sw_msg_obj_is_proxy(&o, NULL));
    assert_false(sw_msg_obj_is_proxy(&o, "_KyEr"));
    assert_false(sw_msg_obj_is_proxy(&o, "-"));
}

typedef struct bad_case {
    const char *hex;
    int rc;
    const char *why;
} bad_case_t;

static void test_malformed(void **state)
{
    (void)state;
    static const bad_case_t bad[] = {
        {"90", SW_EPROTO, "array"},
        {"01", SW_EPROTO, "int"},
        {"c0", SW_EPROTO, "nil"},
        {"a1 69", SW_EPROTO, "str"},
        {"d4 04 2d", SW_EPROTO, "proxy"},
        {"81 a1 69 03 00", SW_EPROTO, "trailing byte"},
        {"81 a1 69 03 81 a1 69 03", SW_EPROTO, "two messages"},
        {"82 a1 69 03", SW_EPROTO, "truncated map"},
        {"81 a1 69", SW_EPROTO, "value missing"},
        {"81 a1", SW_EPROTO, "truncated key"},
        {"df ff ff ff ff a1 69 03", SW_EPROTO, "count beyond the input"},
        {"82 a1 64 c1 a1 69 01", SW_EPROTO, "reserved byte in d"},
        {"82 a1 64 92 01 a1 69 01", SW_EPROTO, "d swallows the rest"},
        {"80", SW_EPROTO, "empty map"},
        {"81 a1 78 01", SW_EPROTO, "only unknown keys"},
        {"81 01 02", SW_EPROTO, "only a non-string key"},
        // a
        {"82 a1 61 a0 a1 69 01", SW_EPROTO, "empty string action"},
        {"82 a1 61 90 a1 69 01", SW_EPROTO, "empty list action"},
        {"82 a1 61 01 a1 69 01", SW_EPROTO, "int action"},
        {"82 a1 61 c0 a1 69 01", SW_EPROTO, "nil action"},
        {"82 a1 61 80 a1 69 01", SW_EPROTO, "map action"},
        {"82 a1 61 c4 01 70 a1 69 01", SW_EPROTO, "bin action"},
        {"82 a1 61 d4 04 2d a1 69 01", SW_EPROTO, "proxy action"},
        {"82 a1 61 92 a3 73 79 73 01 a1 69 01", SW_EPROTO, "int in the action list"},
        {"82 a1 61 92 01 a1 78 a1 69 01", SW_EPROTO, "int first in the action list"},
        {"82 a1 61 92 a3 73 79 73 91 a1 78 a1 69 01", SW_EPROTO, "list in the action list"},
        {"82 a1 61 92 a3 73 79 73 a0 a1 69 01", SW_EPROTO, "empty element in the action list"},
        {"82 a1 61 92 a3 73 79 73 c0 a1 69 01", SW_EPROTO, "nil in the action list"},
        {"82 a1 61 92 a3 73 79 73 c4 01 78 a1 69 01", SW_EPROTO, "bin in the action list"},
        {"82 a1 61 92 a3 73 79 73 d4 04 2d a1 69 01", SW_EPROTO, "proxy in the action list"},
        {"82 a1 61 92 a3 73 79 73 c3 a1 69 01", SW_EPROTO, "bool in the action list"},
        {"82 a1 61 92 a3 73 79 73 a1 69 01", SW_EPROTO, "action list truncated"},
        // i
        {"81 a1 69 a1 31", SW_EPROTO, "string i"},
        {"81 a1 69 ca 3f 80 00 00", SW_EPROTO, "float i"},
        {"81 a1 69 c0", SW_EPROTO, "nil i"},
        {"81 a1 69 c3", SW_EPROTO, "bool i"},
        {"81 a1 69 90", SW_EPROTO, "list i"},
        {"81 a1 69 cf 80 00 00 00 00 00 00 00", SW_EPROTO, "i beyond int64"},
        // r
        {"82 a1 69 03 a1 72 c3", SW_EPROTO, "r true"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 00", SW_EPROTO, "r 0"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 ff", SW_EPROTO, "r negative"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 a1 31", SW_EPROTO, "r string"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 c0", SW_EPROTO, "r nil"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 ca 3f 80 00 00", SW_EPROTO, "r float"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 cf ff ff ff ff ff ff ff ff", SW_EPROTO, "r huge"},
        {"84 a1 61 a1 78 a1 64 80 a1 69 01 a1 72 c2", SW_EPROTO, "r false in a request"},
        {"83 a1 61 a1 78 a1 64 80 a1 72 01", SW_EPROTO, "stream request without i"},
        {"82 a1 69 03 a1 72 01", SW_EPROTO, "interval without a"},
        // n
        {"83 a1 69 03 a1 64 01 a1 6e a1 31", SW_EPROTO, "string n"},
        {"83 a1 69 03 a1 64 01 a1 6e c0", SW_EPROTO, "nil n"},
        {"82 a1 69 03 a1 6e 01", SW_EPROTO, "n without d"},
        {"82 a1 64 01 a1 6e 01", SW_EPROTO, "n without i"},
        // e
        {"81 a1 65 a2 66 6e", SW_EPROTO, "error without i"},
        {"82 a1 65 a2 66 6e a1 64 c0", SW_EPROTO, "error with d, without i"},
        {"83 a1 65 a2 66 6e a1 69 08 a1 72 c2", SW_EPROTO, "error with r"},
        {"83 a1 65 a2 66 6e a1 69 08 a1 6e 01", SW_EPROTO, "error with n"},
        // end
        {"81 a1 72 c2", SW_EPROTO, "end without i"},
        {"83 a1 69 03 a1 72 c2 a1 64 01", SW_EPROTO, "end with d"},
        {"83 a1 69 03 a1 72 c2 a1 6e 01", SW_EPROTO, "end with n"},
        // reply
        {"81 a1 64 01", SW_EPROTO, "reply without i"},
        // a with keys of other kinds
        {"83 a1 61 a1 78 a1 65 a1 78 a1 69 01", SW_EPROTO, "request with e"},
        {"83 a1 61 a1 78 a1 6e 01 a1 69 01", SW_EPROTO, "request with n"},
        {"82 a1 61 a1 78 a1 65 a1 78", SW_EPROTO, "notify with e"},
        // duplicates
        {"82 a1 69 03 a1 69 03", SW_EPROTO, "duplicate i"},
        {"82 a1 69 03 a1 69 04", SW_EPROTO, "duplicate i, other value"},
        {"83 a1 64 01 a1 64 01 a1 69 01", SW_EPROTO, "duplicate d"},
        {"82 a1 61 a1 78 a1 61 a1 78", SW_EPROTO, "duplicate a"},
        {"83 a1 65 a1 78 a1 65 a1 78 a1 69 01", SW_EPROTO, "duplicate e"},
        {"83 a1 69 01 a1 72 c2 a1 72 c2", SW_EPROTO, "duplicate r"},
        {"84 a1 69 01 a1 64 c0 a1 6e 01 a1 6e 02", SW_EPROTO, "duplicate n"},
        {"83 a1 64 01 d9 01 64 02 a1 69 01", SW_EPROTO, "duplicate d, str8 key"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        sw_msg_t m;
        memset(&m, 0x5a, sizeof m);
        int rc = dec(&m, bad[k].hex);
        if (rc != bad[k].rc)
            fail_msg("%s (%s): got %s, want %s", bad[k].why, bad[k].hex, sw_errname(rc),
                     sw_errname(bad[k].rc));
        assert_int_equal(m.kind, SW_MSG_INVALID);
        assert_int_equal(m.has, 0);
        assert_int_equal(m.path_len, 0);
    }
    sw_msg_t m;
    assert_int_equal(sw_msg_decode(&m, in, 0), SW_EPROTO);
    assert_int_equal(sw_msg_decode(&m, NULL, 0), SW_EPROTO);

    // d nested deeper than the reader allows (the message map is one level itself)
    sw_mpw_t w;
    sw_mpw_init(&w, in, sizeof in);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    for (int k = 0; k < SW_MP_MAX_DEPTH; k++)
        sw_mpw_array(&w, 1);
    sw_mpw_nil(&w);
    sw_mpw_cstr(&w, "i");
    sw_mpw_int(&w, 1);
    assert_int_equal(sw_msg_decode(&m, in, w.len), SW_EPROTO);
    // one level less is fine
    sw_mpw_init(&w, in, sizeof in);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    for (int k = 0; k < SW_MP_MAX_DEPTH - 1; k++)
        sw_mpw_array(&w, 1);
    sw_mpw_nil(&w);
    sw_mpw_cstr(&w, "i");
    sw_mpw_int(&w, 1);
    assert_int_equal(sw_msg_decode(&m, in, w.len), 0);
    assert_int_equal(m.kind, SW_MSG_REPLY);
    assert_int_equal(m.d.n, SW_MP_MAX_DEPTH);
}

static void test_proxies(void **state)
{
    (void)state;
    WRITE_EXPECT(sw_msg_write_proxy(&w, SW_PROXY_NODATA), "d4 04 2d");
    WRITE_EXPECT(sw_msg_write_proxy(&w, "p_1"), "c7 03 04 70 5f 31");
    WRITE_EXPECT(sw_msg_write_proxy(&w, ""), "c7 00 04");
    struct {
        const char *hex;
        bool nodata;
    } cases[] = {
        {"d4 04 2d", true},
        {"c7 01 04 2d", true},      // ext 8 form of the same item
        {"d4 05 2d", false},        // ext 5 (object)
        {"a1 2d", false},           // the string "-"
        {"d4 04 5f", false},        // "_" (v2's NotGiven)
        {"c7 02 04 2d 2d", false},  // "--"
        {"d5 04 2d 00", false},
        {"c7 00 04", false},
        {"d4 04 2d c0", false},     // trailing item
        {"d4 04", false},           // truncated
        {"c0", false},
        {"91 d4 04 2d", false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        uint8_t b[16];
        size_t n = tu_hex(cases[k].hex, b, sizeof b);
        if (sw_msg_is_nodata((sw_span_t){b, n}) != cases[k].nodata)
            fail_msg("is_nodata(%s) should be %d", cases[k].hex, cases[k].nodata);
    }
    assert_false(sw_msg_is_nodata((sw_span_t){NULL, 0}));

    // the config-delete form: a request whose d holds Proxy("-")
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    sw_msg_request_begin(&w, "sys.cfg", 4, 0);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "p");
    sw_mpw_array(&w, 1);
    sw_mpw_cstr(&w, "k");
    sw_mpw_cstr(&w, "d");
    sw_msg_write_proxy(&w, SW_PROXY_NODATA);
    sw_msg_request_end(&w, 4, 0);
    assert_int_equal(w.err, 0);
    sw_msg_t m;
    assert_int_equal(sw_msg_decode(&m, out, w.len), 0);
    sw_span_t v;
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "d", &v), 0);
    assert_true(sw_msg_is_nodata(v));
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "p", &v), 0);
    assert_false(sw_msg_is_nodata(v));

    sw_mp_obj_t o = {.type = SW_MP_STR, .len = 1, .v.p = (const uint8_t *)"-"};
    assert_false(sw_msg_obj_is_proxy(&o, NULL));
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Properties

static const int64_t seq_edges[] = {0, 1, 2, 31, 127, 128, 255, 256, 65535, 65536, 0xffffffffll,
                                    0x100000000ll, INT64_MAX, -1, -32, -33, -129, INT32_MIN,
                                    INT64_MIN};

static int64_t gen_int(tu_rng_t *rng)
{
    if (tu_below(rng, 2))
        return seq_edges[tu_below(rng, sizeof seq_edges / sizeof *seq_edges)];
    return (int64_t)tu_next(rng) >> tu_below(rng, 64);
}

static int64_t gen_seq(tu_rng_t *rng) // >= 0, as requests need
{
    int64_t v = gen_int(rng);
    return v < 0 ? (v == INT64_MIN ? 0 : -v) : v;
}

// What a generated message should decode to.
typedef struct want {
    sw_msg_kind_t kind;
    uint8_t has;
    bool is_str;
    int path_len;
    char path[SW_MSG_MAX_PATH][16];
    char str_action[64]; // a single-string action (may contain dots when written raw)
    size_t d_at, d_n;    // the d value's bytes in out[]
    char etext[400];
    size_t e_n;
    int64_t i, r, n;
} want_t;

static void gen_action(tu_rng_t *rng, sw_mpw_t *w, want_t *x, int64_t seq, int64_t r_ms)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz_0123456789!?";
    x->path_len = 1 + (int)tu_below(rng, SW_MSG_MAX_PATH);
    char dotted[SW_MSG_MAX_PATH * 17];
    size_t at = 0;
    for (int k = 0; k < x->path_len; k++) {
        int len = 1 + (int)tu_below(rng, 15);
        for (int c = 0; c < len; c++)
            x->path[k][c] = alpha[tu_below(rng, sizeof alpha - 1)];
        x->path[k][len] = 0;
        if (k)
            dotted[at++] = '.';
        memcpy(dotted + at, x->path[k], (size_t)len);
        at += (size_t)len;
    }
    dotted[at] = 0;
    x->is_str = x->path_len == 1;
    if (tu_below(rng, 4) == 0) {
        // a raw string action that holds dots: stays one element (v0 sub-dispatch form)
        x->is_str = true;
        x->path_len = 1;
        memcpy(x->str_action, dotted, at + 1 < sizeof x->str_action ? at + 1 : sizeof x->str_action);
        x->str_action[sizeof x->str_action - 1] = 0;
        uint8_t raw[80];
        sw_mpw_t rw;
        sw_mpw_init(&rw, raw, sizeof raw);
        sw_mpw_cstr(&rw, x->str_action);
        assert_int_equal(rw.err, 0);
        sw_msg_request_begin_raw(w, (sw_span_t){raw, rw.len}, seq, r_ms);
    } else {
        if (x->is_str)
            strcpy(x->str_action, x->path[0]);
        sw_msg_request_begin(w, dotted, seq, r_ms);
    }
}

static void gen_d(tu_rng_t *rng, sw_mpw_t *w, want_t *x)
{
    x->d_at = w->len;
    tu_gen_item(rng, w, 3);
    x->d_n = w->len - x->d_at;
}

// Writes one random well-formed message of a random kind into out[] and says what it holds.
static size_t gen_msg(tu_rng_t *rng, want_t *x)
{
    memset(x, 0, sizeof *x);
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    x->kind = (sw_msg_kind_t)(SW_MSG_REQUEST + tu_below(rng, SW_MSG_CANCEL));
    switch (x->kind) {
    case SW_MSG_REQUEST:
    case SW_MSG_NOTIFY: {
        bool req = x->kind == SW_MSG_REQUEST;
        int64_t seq = req ? gen_seq(rng) : -1 - (int64_t)tu_below(rng, 5);
        int64_t r_ms = -(int64_t)tu_below(rng, 2); // 0 or -1: no r
        if (req && tu_below(rng, 2))
            r_ms = tu_below(rng, 2) ? 1 + tu_below(rng, 100000) : gen_seq(rng); // 0 possible
        gen_action(rng, &w, x, seq, r_ms);
        gen_d(rng, &w, x);
        sw_msg_request_end(&w, seq, r_ms);
        x->has = SW_MSG_HAS_A | SW_MSG_HAS_D | (req ? SW_MSG_HAS_I : 0) | (r_ms > 0 ? SW_MSG_HAS_R : 0);
        x->i = req ? seq : 0;
        x->r = r_ms > 0 ? r_ms : 0;
        break;
    }
    case SW_MSG_REPLY:
        x->i = gen_int(rng);
        sw_msg_reply_begin(&w);
        gen_d(rng, &w, x);
        sw_msg_reply_end(&w, x->i);
        x->has = SW_MSG_HAS_D | SW_MSG_HAS_I;
        break;
    case SW_MSG_ERROR: {
        x->i = gen_int(rng);
        x->e_n = tu_below(rng, 4) ? tu_below(rng, 40) : tu_below(rng, sizeof x->etext);
        for (size_t k = 0; k < x->e_n; k++)
            x->etext[k] = (char)(' ' + tu_below(rng, 95));
        if (tu_below(rng, 2) || memchr(x->etext, 0, x->e_n)) {
            sw_msg_write_error_n(&w, x->i, x->etext, x->e_n);
        } else {
            x->etext[x->e_n] = 0;
            sw_msg_write_error(&w, x->i, x->etext);
        }
        x->has = SW_MSG_HAS_E | SW_MSG_HAS_I;
        break;
    }
    case SW_MSG_STREAM:
        x->i = gen_int(rng);
        x->n = gen_int(rng);
        sw_msg_stream_begin(&w, x->i);
        gen_d(rng, &w, x);
        sw_msg_stream_end(&w, x->n);
        x->has = SW_MSG_HAS_I | SW_MSG_HAS_D | SW_MSG_HAS_N;
        break;
    case SW_MSG_END:
        x->i = gen_int(rng);
        x->r = SW_MSG_R_END;
        sw_msg_write_end(&w, x->i);
        x->has = SW_MSG_HAS_I | SW_MSG_HAS_R;
        break;
    default: // CANCEL
        x->i = gen_int(rng);
        sw_msg_write_cancel(&w, x->i);
        x->has = SW_MSG_HAS_I;
        break;
    }
    assert_int_equal(w.err, 0);
    return w.len;
}

static void check_msg(const sw_msg_t *m, const want_t *x, const uint8_t *dbytes)
{
    assert_int_equal(m->kind, x->kind);
    assert_int_equal(m->has, x->has);
    assert_true(m->i == x->i);
    assert_true(m->r == x->r);
    assert_true(m->n == x->n);
    if (x->has & SW_MSG_HAS_D) {
        assert_int_equal(m->d.n, x->d_n);
        assert_memory_equal(m->d.p, dbytes, x->d_n);
    } else {
        assert_int_equal(m->d.n, 0);
    }
    if (x->has & SW_MSG_HAS_A) {
        assert_int_equal(m->action_is_str, x->is_str);
        assert_int_equal(m->path_len, x->path_len);
        if (x->is_str)
            assert_true(sw_span_eq(m->path[0], x->str_action));
        else
            for (int k = 0; k < x->path_len; k++)
                assert_true(sw_span_eq(m->path[k], x->path[k]));
        assert_true(m->a.n > 0);
        assert_int_equal(sw_mp_check(m->a.p, m->a.n), 0);
    } else {
        assert_int_equal(m->path_len, 0);
        assert_int_equal(m->a.n, 0);
    }
    if (x->has & SW_MSG_HAS_E) {
        sw_mpr_t r;
        sw_span_t s;
        sw_mpr_init(&r, m->e.p, m->e.n);
        assert_true(sw_mpr_str(&r, &s));
        assert_true(sw_mpr_done(&r));
        assert_int_equal(s.n, x->e_n);
        assert_memory_equal(s.p, x->etext, x->e_n);
    } else {
        assert_int_equal(m->e.n, 0);
    }
}

// Encoders → decoder: every field and the raw d bytes come back.
static void test_roundtrip_property(void **state)
{
    (void)state;
    tu_rng_t rng = {0x6d73675f726e67ull};
    int seen[SW_MSG_CANCEL + 1] = {0};
    for (int round = 0; round < 20000; round++) {
        want_t x;
        size_t n = gen_msg(&rng, &x);
        sw_msg_t m;
        int rc = sw_msg_decode(&m, out, n);
        if (rc)
            fail_msg("round %d: kind %d does not decode: %s", round, x.kind, sw_errname(rc));
        check_msg(&m, &x, out + x.d_at);
        if (x.has & SW_MSG_HAS_D)
            assert_ptr_equal(m.d.p, out + x.d_at); // zero copy
        seen[m.kind]++;
    }
    for (int k = SW_MSG_REQUEST; k <= SW_MSG_CANCEL; k++)
        assert_true(seen[k] > 1000);
}

// Writes the pairs of m (as decoded) in a random order among unknown keys; it must decode to
// the same message: the decoder depends neither on key order nor on what it does not know.
static size_t reshuffle(tu_rng_t *rng, const sw_msg_t *m, uint8_t *buf, size_t cap)
{
    static const char *unknown[] = {"a1 78 01", "a2 61 61 c0", "a1 41 a1 61", "01 a1 69",
                                    "c0 c0", "91 a1 61 02", "80 80", "c4 01 64 01", "a0 a0",
                                    "d9 01 78 90"};
    static struct { uint8_t b[1 << 13]; size_t n; } pairs[6 + 4];
    size_t np = 0;
    const char letters[] = "adiern"; // in the order of the SW_MSG_HAS_* bits
    for (int k = 0; k < 6; k++) {
        if (!(m->has & (1 << k)))
            continue;
        sw_mpw_t w;
        sw_mpw_init(&w, pairs[np].b, sizeof pairs[np].b);
        char l = letters[k];
        if (tu_below(rng, 4) == 0) { // a non-minimal key form is still the key
            uint8_t key8[3] = {0xd9, 1, (uint8_t)l};
            sw_mpw_raw(&w, key8, 3);
        } else {
            sw_mpw_str(&w, &l, 1);
        }
        switch (l) {
        case 'a': sw_mpw_raw(&w, m->a.p, m->a.n); break;
        case 'd': sw_mpw_raw(&w, m->d.p, m->d.n); break;
        case 'e': sw_mpw_raw(&w, m->e.p, m->e.n); break;
        case 'i': sw_mpw_int(&w, m->i); break;
        case 'r': if (m->r == SW_MSG_R_END) sw_mpw_bool(&w, false); else sw_mpw_int(&w, m->r); break;
        default: sw_mpw_int(&w, m->n); break;
        }
        if (w.err)
            return 0; // a d too large for a pair slot: skip this round
        pairs[np++].n = w.len;
    }
    int extra = (int)tu_below(rng, 5);
    for (int k = 0; k < extra; k++) {
        const char *h = unknown[tu_below(rng, sizeof unknown / sizeof *unknown)];
        pairs[np].n = tu_hex(h, pairs[np].b, sizeof pairs[np].b);
        np++;
    }
    size_t order[6 + 4];
    for (size_t k = 0; k < np; k++)
        order[k] = k;
    for (size_t k = np; k > 1; k--) { // Fisher-Yates
        size_t j = tu_below(rng, (uint32_t)k), t = order[j];
        order[j] = order[k - 1];
        order[k - 1] = t;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, (uint32_t)np);
    for (size_t k = 0; k < np; k++)
        sw_mpw_raw(&w, pairs[order[k]].b, pairs[order[k]].n);
    assert_int_equal(w.err, 0);
    return w.len;
}

static void test_reorder_property(void **state)
{
    (void)state;
    static uint8_t buf[1 << 17];
    tu_rng_t rng = {0x0dd0c0ffee5ull};
    int checked = 0;
    for (int round = 0; round < 20000; round++) {
        want_t x;
        size_t n = gen_msg(&rng, &x);
        sw_msg_t m;
        assert_int_equal(sw_msg_decode(&m, out, n), 0);
        size_t n2 = reshuffle(&rng, &m, buf, sizeof buf);
        if (!n2)
            continue;
        sw_msg_t m2;
        int rc = sw_msg_decode(&m2, buf, n2);
        if (rc)
            fail_msg("round %d: reordered kind %d does not decode: %s", round, x.kind, sw_errname(rc));
        check_msg(&m2, &x, out + x.d_at);
        checked++;
    }
    assert_true(checked > 15000);
}

// Flipping, dropping or adding bytes of good messages never crashes the decoder, and whatever
// it accepts is consistent (spans inside the buffer, a kind that matches the keys).
static void test_mutation_property(void **state)
{
    (void)state;
    tu_rng_t rng = {0xbadc0de5ull};
    for (int round = 0; round < 20000; round++) {
        want_t x;
        size_t n = gen_msg(&rng, &x);
        int muts = 1 + (int)tu_below(&rng, 3);
        for (int k = 0; k < muts && n; k++) {
            size_t at = tu_below(&rng, (uint32_t)n);
            switch (tu_below(&rng, 3)) {
            case 0: out[at] = (uint8_t)tu_next(&rng); break;
            case 1: memmove(out + at, out + at + 1, n - at - 1); n--; break;
            default: n = at; break;
            }
        }
        sw_msg_t m;
        int rc = sw_msg_decode(&m, out, n);
        assert_true(rc == 0 || rc == SW_EPROTO || rc == SW_ETOOBIG);
        if (rc)
            continue;
        assert_true(m.kind >= SW_MSG_REQUEST && m.kind <= SW_MSG_CANCEL);
        assert_true(m.has & (SW_MSG_HAS_A | SW_MSG_HAS_I));
        sw_span_t spans[3] = {m.a, m.d, m.e};
        for (int k = 0; k < 3; k++)
            if (spans[k].n)
                assert_true(spans[k].p >= out && spans[k].p + spans[k].n <= out + n);
        assert_true(m.path_len <= SW_MSG_MAX_PATH);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_request),
        cmocka_unit_test(test_ping_reply),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_error_end_cancel_stream),
        cmocka_unit_test(test_list_actions),
        cmocka_unit_test(test_write_action),
        cmocka_unit_test(test_encoder_errors),
        cmocka_unit_test(test_large_and_negative_numbers),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_proxies),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_reorder_property),
        cmocka_unit_test(test_mutation_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
