// Command tree and RPC session: v0 dispatch rules byte-exact, _dir, errors, notifications,
// deferred answers, streams with cancel and end, the client role, malformed input.
#include "testutil.h"
#include "swarm/rpc.h"

// ---- a session wired to a capture buffer -------------------------------------------------

static uint8_t sent[64][2048];
static size_t sent_len[64];
static int nsent;

static int cap_send(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    assert_true(nsent < 64 && n <= sizeof sent[0]);
    memcpy(sent[nsent], p, n);
    sent_len[nsent++] = n;
    return 0;
}

static sw_tnode_t pool[32];
static sw_tree_t tree;
static uint8_t outbuf[1024];
static sw_rpc_stream_t streams[2];
static sw_rpc_pending_t pending[4];
static sw_rpc_t rpc;
static sw_reply_to_t saved;

static int cmd_ping(sw_call_t *c)
{
    sw_span_t m;
    char buf[64] = "R:";
    if (sw_call_arg(c, "m", &m) == 0 && !sw_call_arg_is_none(c, "m")) {
        sw_mpr_t r;
        sw_mpr_init(&r, m.p, m.n);
        sw_span_t s;
        if (sw_mpr_str(&r, &s) && s.n < 60)
            memcpy(buf + 2, s.p, s.n), buf[2 + s.n] = 0;
    } else {
        strcat(buf, "None");
    }
    sw_mpw_cstr(c->out, buf);
    return 0;
}

static int cmd_add(sw_call_t *c)
{
    int64_t a, b;
    if (!sw_call_arg_int(c, "a", 0, &a) || !sw_call_arg_int(c, "b", 0, &b))
        return c->err;
    sw_mpw_int(c->out, a + b);
    return 0;
}

static int cmd_fail(sw_call_t *c) { return sw_call_fail(c, SW_ENOENT, "fn"); }
static int cmd_big(sw_call_t *c)
{
    static uint8_t junk[4000];
    sw_mpw_bin(c->out, junk, sizeof junk);
    return 0;
}
static int cmd_later(sw_call_t *c)
{
    saved = c->reply_to;
    return SW_CALL_LATER;
}
static int cmd_count(sw_call_t *c)
{
    int64_t limit;
    sw_call_arg_int(c, "n", 3, &limit);
    if (c->stream && c->step > (uint32_t)limit)
        return SW_CALL_END;
    sw_mpw_uint(c->out, c->step);
    return 0;
}
static int cmd_is_up(sw_call_t *c)
{
    sw_rpc_link(c->rpc, true); // a notification sent while the reply is being built
    sw_mpw_nil(c->out);
    return 0;
}

static const sw_cmd_def_t d_ping = {"ping", "m", "echo m as \"R:\"+m", cmd_ping, NULL};
static const sw_cmd_def_t d_add = {"add", "a,b", "a + b", cmd_add, NULL};
static const sw_cmd_def_t d_fail = {"fail", NULL, NULL, cmd_fail, NULL};
static const sw_cmd_def_t d_big = {"big", NULL, NULL, cmd_big, NULL};
static const sw_cmd_def_t d_later = {"later", NULL, NULL, cmd_later, NULL};
static const sw_cmd_def_t d_count = {"count", "n", "1, 2, … n", cmd_count, NULL};
static const sw_cmd_def_t d_open = {"open", "p", NULL, cmd_ping, NULL};
static const sw_cmd_def_t d_is_up = {"is_up", NULL, "send link true", cmd_is_up, NULL};
static const sw_cmd_def_t d_fopen = {"fopen", NULL, NULL, cmd_add, NULL};

static int setup(void **state)
{
    (void)state;
    nsent = 0;
    assert_int_equal(sw_tree_init(&tree, pool, 32), 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_ping) > 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_add) > 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_fail) > 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_big) > 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_later) > 0);
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_count) > 0);
    int f = sw_tree_add_dir(&tree, SW_TREE_ROOT, "f", "files");
    assert_true(f > 0);
    assert_true(sw_tree_add_cmd(&tree, f, &d_open) > 0);
    int sys = sw_tree_add_dir(&tree, SW_TREE_ROOT, "sys", "system");
    assert_true(sw_tree_add_cmd(&tree, sys, &d_is_up) > 0);
    sw_rpc_mem_t mem = {outbuf, sizeof outbuf, streams, 2, pending, 4};
    sw_rpc_hooks_t hooks = {cap_send, NULL, NULL, NULL};
    sw_rpc_init(&rpc, &mem, &hooks, &tree, NULL);
    return 0;
}

static void feed_hex(const char *hex, uint32_t now)
{
    uint8_t in[512];
    size_t n = tu_hex(hex, in, sizeof in);
    sw_rpc_input(&rpc, in, n, now);
}

// Encodes a request with sw_msg_* and feeds it.
static void feed_req(const char *action, const char *d_hex, int64_t seq, int64_t r)
{
    uint8_t buf[512], d[256];
    size_t dn = d_hex ? tu_hex(d_hex, d, sizeof d) : 0;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_msg_request_begin(&w, action, seq, r);
    if (dn)
        sw_mpw_raw(&w, d, dn);
    else
        sw_mpw_map(&w, 0);
    sw_msg_request_end(&w, seq, r);
    assert_int_equal(w.err, 0);
    sw_rpc_input(&rpc, buf, w.len, 0);
}

static sw_msg_t last_msg(void)
{
    sw_msg_t m;
    assert_true(nsent > 0);
    assert_int_equal(sw_msg_decode(&m, sent[nsent - 1], sent_len[nsent - 1]), 0);
    return m;
}

static void expect_error(const char *text)
{
    sw_msg_t m = last_msg();
    assert_int_equal(m.kind, SW_MSG_ERROR);
    sw_mpr_t r;
    sw_mpr_init(&r, m.e.p, m.e.n);
    sw_span_t s;
    assert_true(sw_mpr_str(&r, &s));
    if (s.n != strlen(text) || memcmp(s.p, text, s.n))
        fail_msg("error text '%.*s', want '%s'", (int)s.n, s.p, text);
}

// ---- tests ---------------------------------------------------------------------------------

static void test_v0_ping_bytes(void **state)
{
    (void)state;
    feed_hex("83 a1 61 a4 70 69 6e 67 a1 64 81 a1 6d a1 78 a1 69 01", 0);
    assert_int_equal(nsent, 1);
    tu_assert_bytes(sent[0], sent_len[0], "82 a1 64 a3 52 3a 78 a1 69 01");
    // d as a single value goes to the first parameter: {"a":"ping","d":"y","i":2} → "R:y"
    feed_hex("83 a1 61 a4 70 69 6e 67 a1 64 a1 79 a1 69 02", 0);
    tu_assert_bytes(sent[1], sent_len[1], "82 a1 64 a3 52 3a 79 a1 69 02");
    // d nil → m None
    feed_hex("83 a1 61 a4 70 69 6e 67 a1 64 c0 a1 69 03", 0);
    tu_assert_bytes(sent[2], sent_len[2], "82 a1 64 a6 52 3a 4e 6f 6e 65 a1 69 03");
}

static void test_dispatch_forms(void **state)
{
    (void)state;
    feed_req("sys.is_up", NULL, 7, 0); // list action; sends link true first, then the reply
    assert_int_equal(nsent, 2);
    tu_assert_bytes(sent[0], sent_len[0], "82 a1 64 c3 a1 61 a4 6c 69 6e 6b");
    tu_assert_bytes(sent[1], sent_len[1], "82 a1 64 c0 a1 69 07");
    feed_req("fopen", "81 a1 6d a1 71", 8, 0); // string: exact command "fopen" wins … (absent)
    sw_msg_t m = last_msg();
    assert_int_equal(m.kind, SW_MSG_REPLY); // … so f → open ran (echo of p)
    tu_assert_bytes(m.d.p, m.d.n, "a3 52 3a 71");
    assert_true(sw_tree_add_cmd(&tree, SW_TREE_ROOT, &d_fopen) > 0);
    feed_req("fopen", "81 a1 61 05", 9, 0); // now the exact name wins (add: a=5)
    m = last_msg();
    tu_assert_bytes(m.d.p, m.d.n, "05");
    feed_req("sys.nosuch", NULL, 10, 0);
    expect_error("NoPath: sys.nosuch");
    feed_req("zzz", NULL, 11, 0);
    expect_error("NoPath: zzz");
    feed_req("ping.x", NULL, 12, 0); // a command in the middle of a path
    expect_error("NoPath: ping.x");
}

static void test_dir(void **state)
{
    (void)state;
    feed_req("sys._dir", NULL, 1, 0);
    sw_msg_t m = last_msg();
    assert_int_equal(m.kind, SW_MSG_REPLY);
    sw_span_t v;
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "c", &v), 0);
    tu_assert_bytes(v.p, v.n, "91 a5 69 73 5f 75 70");
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "d", &v), 0);
    tu_assert_bytes(v.p, v.n, "90");
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "h", &v), 0);
    assert_int_equal(sw_mp_map_get(v.p, v.n, "is_up", &v), 0);
    feed_hex("82 a1 61 a4 5f 64 69 72 a1 69 02", 0); // "_dir" at the root
    m = last_msg();
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "d", &v), 0);
    tu_assert_bytes(v.p, v.n, "92 a1 66 a3 73 79 73");
    feed_req("f", NULL, 3, 0); // a directory called by name lists itself
    m = last_msg();
    assert_int_equal(sw_mp_map_get(m.d.p, m.d.n, "c", &v), 0);
    tu_assert_bytes(v.p, v.n, "91 a4 6f 70 65 6e");
}

static void test_errors_and_args(void **state)
{
    (void)state;
    feed_req("fail", NULL, 1, 0);
    expect_error("fn");
    feed_req("add", "82 a1 61 02 a1 62 03", 2, 0);
    tu_assert_bytes(last_msg().d.p, last_msg().d.n, "05");
    feed_req("add", "81 a1 61 a1 78", 3, 0);
    expect_error("BadArg: a: expected an integer");
    feed_req("big", NULL, 4, 0);
    expect_error("ETOOBIG: the reply exceeds the largest message size");
    int before = nsent;
    feed_hex("82 a1 61 a4 70 69 6e 67 a1 64 80", 0); // no i: a notification, never answered
    assert_int_equal(nsent, before);
    // malformed with a usable i → error reply; without → silently dropped
    feed_hex("83 a1 61 92 a1 78 01 a1 69 05 a1 64 80", 0); // int inside the action list
    expect_error("EPROTO: malformed message");
    before = nsent;
    feed_hex("c1", 0);
    feed_hex("93 01 02 03", 0);
    assert_int_equal(nsent, before);
    assert_true(rpc.stats.dropped >= 3);
}

static void test_deferred(void **state)
{
    (void)state;
    feed_req("later", NULL, 21, 0);
    assert_int_equal(nsent, 0);
    sw_reply_to_t first = saved;
    sw_mpw_t *w = sw_rpc_answer_begin(&first);
    assert_non_null(w);
    sw_mpw_cstr(w, "done");
    sw_rpc_answer_end(&first);
    tu_assert_bytes(sent[0], sent_len[0], "82 a1 64 a4 64 6f 6e 65 a1 69 15");
    feed_req("later", NULL, 22, 0);
    sw_reply_to_t second = saved;
    sw_rpc_reset(&rpc, SW_ECLOSED); // the link went away
    assert_null(sw_rpc_answer_begin(&second));
    sw_rpc_answer_error(&second, "too late");
    assert_int_equal(nsent, 1);
}

static void test_streams(void **state)
{
    (void)state;
    feed_req("count", "81 a1 6e 02", 30, 100); // 2 values then end
    assert_int_equal(nsent, 0);
    assert_int_equal(sw_rpc_poll(&rpc, 0), 100); // first value at once
    assert_int_equal(nsent, 1);
    tu_assert_bytes(sent[0], sent_len[0], "83 a1 69 1e a1 64 01 a1 6e 01");
    assert_int_equal(sw_rpc_poll(&rpc, 50), 50); // not yet
    assert_int_equal(nsent, 1);
    sw_rpc_poll(&rpc, 100);
    tu_assert_bytes(sent[1], sent_len[1], "83 a1 69 1e a1 64 02 a1 6e 02");
    assert_int_equal(sw_rpc_poll(&rpc, 200), UINT32_MAX); // ended
    tu_assert_bytes(sent[2], sent_len[2], "82 a1 69 1e a1 72 c2");

    feed_req("count", "81 a1 6e 64", 31, 10);
    feed_req("count", "81 a1 6e 64", 32, 10);
    feed_req("count", "81 a1 6e 64", 33, 10); // only two slots
    expect_error("EBUSY: too many streams on this link");
    sw_rpc_poll(&rpc, 1000);
    int before = nsent;
    feed_hex("81 a1 69 1f", 1000); // cancel 31
    sw_rpc_poll(&rpc, 1010);
    assert_int_equal(nsent, before + 1); // only 32 still streams
    sw_msg_t m = last_msg();
    assert_int_equal(m.i, 32);
    feed_req("ping", NULL, 34, 10); // ping cannot end a stream by itself: runs until cancelled
    feed_req("sys", NULL, 35, 10);
    expect_error("BadArg: a directory cannot be streamed");
}

static int answers;
static sw_msg_kind_t last_kind;
static int last_err;
static void on_answer(void *ctx, sw_rpc_t *r, const sw_msg_t *m, int err, void *user)
{
    (void)ctx, (void)r;
    answers++;
    last_kind = m ? m->kind : SW_MSG_INVALID;
    last_err = err;
    assert_ptr_equal(user, &answers);
}

static void test_client(void **state)
{
    (void)state;
    rpc.hooks.answer = on_answer;
    sw_span_t none = {NULL, 0};
    int64_t s1 = sw_rpc_request(&rpc, "ping", none, 0, &answers);
    assert_int_equal(s1, 1);
    tu_assert_bytes(sent[0], sent_len[0], "83 a1 61 a4 70 69 6e 67 a1 64 80 a1 69 01");
    int64_t s2 = sw_rpc_request(&rpc, "sys.info", none, 500, &answers);
    assert_int_equal(s2, 2);
    assert_int_equal(sw_rpc_pending_count(&rpc), 2);
    feed_hex("82 a1 64 a3 52 3a 78 a1 69 01", 0);
    assert_int_equal(answers, 1);
    assert_int_equal(last_kind, SW_MSG_REPLY);
    feed_hex("83 a1 69 02 a1 64 01 a1 6e 01", 0); // stream values keep it pending
    feed_hex("83 a1 69 02 a1 64 02 a1 6e 02", 0);
    assert_int_equal(answers, 3);
    assert_int_equal(last_kind, SW_MSG_STREAM);
    assert_int_equal(sw_rpc_pending_count(&rpc), 1);
    sw_rpc_cancel(&rpc, s2);
    tu_assert_bytes(sent[nsent - 1], sent_len[nsent - 1], "81 a1 69 02");
    feed_hex("83 a1 69 02 a1 64 03 a1 6e 03", 0); // late value after cancel: dropped
    assert_int_equal(answers, 3);
    for (int k = 0; k < 4; k++)
        assert_true(sw_rpc_request(&rpc, "ping", none, 0, &answers) > 0);
    assert_int_equal(sw_rpc_request(&rpc, "ping", none, 0, &answers), SW_EFULL);
    sw_rpc_reset(&rpc, SW_ECLOSED); // link lost: every pending request fails
    assert_int_equal(answers, 7);
    assert_int_equal(last_err, SW_ECLOSED);
    assert_int_equal(sw_rpc_pending_count(&rpc), 0);
}

static void test_tree_ops(void **state)
{
    (void)state;
    int sys = sw_tree_find(&tree, "sys");
    assert_true(sys > 0);
    assert_int_equal(sw_tree_add_dir(&tree, sys, "is_up", NULL), SW_EEXIST);
    assert_int_equal(sw_tree_add_dir(&tree, sys, "a.b", NULL), SW_EINVAL);
    assert_int_equal(sw_tree_add_dir(&tree, sw_tree_find(&tree, "ping"), "x", NULL), SW_EINVAL);
    int app = sw_tree_add_dir(&tree, SW_TREE_ROOT, "app", NULL);
    int sub = sw_tree_add_dir(&tree, app, "sub", NULL);
    assert_true(sw_tree_add_cmd(&tree, sub, &d_ping) > 0);
    char path[64];
    sw_tree_path(&tree, sw_tree_find(&tree, "app.sub.ping"), path, sizeof path);
    assert_string_equal(path, "app.sub.ping");
    assert_int_equal(sw_tree_remove(&tree, app), 0);
    assert_int_equal(sw_tree_find(&tree, "app.sub.ping"), SW_ENOENT);
    assert_int_equal(sw_tree_find(&tree, "app"), SW_ENOENT);
    int k = 0;
    while (sw_tree_add_dir(&tree, SW_TREE_ROOT, (const char *[]){"d0","d1","d2","d3","d4","d5","d6","d7","d8","d9","da","db","dc","dd","de","df","dg","dh","di","dj","dk","dl","dm","dn"}[k], NULL) > 0)
        k++;
    assert_int_equal(sw_tree_add_dir(&tree, SW_TREE_ROOT, "full", NULL), SW_EFULL);
}

// The session remembers the last action it resolved: a change of the tree must not leave it
// dispatching to a removed command (or to whatever took that command's slot).
static void test_resolve_cache(void **state)
{
    (void)state;
    int app = sw_tree_add_dir(&tree, SW_TREE_ROOT, "app", NULL);
    assert_true(sw_tree_add_cmd(&tree, app, &d_ping) > 0);
    feed_req("app.ping", "81 a1 6d a1 78", 1, 0);
    feed_req("app.ping", "81 a1 6d a1 78", 2, 0); // (from the cache)
    tu_assert_bytes(sent[nsent - 1], sent_len[nsent - 1], "82 a1 64 a3 52 3a 78 a1 69 02");
    assert_int_equal(sw_tree_remove(&tree, app), 0);
    feed_req("app.ping", "81 a1 6d a1 78", 3, 0);
    expect_error("NoPath: app.ping");
    // a directory in the removed command's place: the listing, not the old command
    app = sw_tree_add_dir(&tree, SW_TREE_ROOT, "app", NULL);
    assert_true(sw_tree_add_dir(&tree, app, "ping", NULL) > 0);
    feed_req("app.ping", NULL, 4, 0);
    sw_msg_t m = last_msg();
    assert_int_equal(m.kind, SW_MSG_REPLY);
    assert_int_equal(m.d.p[0], 0x84); // {c, d, j, h}
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_v0_ping_bytes, setup),
        cmocka_unit_test_setup(test_dispatch_forms, setup),
        cmocka_unit_test_setup(test_dir, setup),
        cmocka_unit_test_setup(test_errors_and_args, setup),
        cmocka_unit_test_setup(test_deferred, setup),
        cmocka_unit_test_setup(test_streams, setup),
        cmocka_unit_test_setup(test_client, setup),
        cmocka_unit_test_setup(test_tree_ops, setup),
        cmocka_unit_test_setup(test_resolve_cache, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
