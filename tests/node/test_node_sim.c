// The whole node on a simulated port (sim_port.h): RPC over a link whose write queue is small
// (the node must never write more than the port has room for, and must not lose a reply),
// config persistence across a reset, the watchdog on the virtual clock, file commands, Lua apps.
#define _GNU_SOURCE // memmem
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node_int.h" // the kernel's timers, for the timer test
#include "sim_port.h"

// Builds a MsgPack map of n pairs from (key, kind, value) triples: 's' string, 'i' integer,
// 'b' bool, 'p' a dotted config path as a list.
static size_t args(uint8_t *buf, size_t cap, int n, ...)
{
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, (uint32_t)n);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        sw_mpw_cstr(&w, va_arg(ap, const char *));
        int kind = va_arg(ap, int);
        if (kind == 's') {
            sw_mpw_cstr(&w, va_arg(ap, const char *));
        } else if (kind == 'i') {
            sw_mpw_int(&w, va_arg(ap, int));
        } else if (kind == 'b') {
            sw_mpw_bool(&w, va_arg(ap, int));
        } else { // 'p'
            const char *d = va_arg(ap, const char *);
            uint32_t parts = 1;
            for (const char *q = d; *q; q++)
                parts += *q == '.';
            sw_mpw_array(&w, parts);
            for (const char *q = d;;) {
                const char *dot = strchr(q, '.');
                size_t len = dot ? (size_t)(dot - q) : strlen(q);
                sw_mpw_str(&w, q, len);
                if (!dot)
                    break;
                q = dot + 1;
            }
        }
    }
    va_end(ap);
    assert_int_equal(w.err, 0);
    return w.len;
}

static const char *answer_json(const sim_msg_t *m)
{
    if (m->m.kind == SW_MSG_ERROR)
        return sim_json(m->m.e);
    return sim_json(m->m.d);
}

// Calls and expects a reply (not an error); its value as JSON.
#define OK(s, dotted, ...)                                                                         \
    ({                                                                                             \
        uint8_t b_[512];                                                                           \
        size_t n_ = args(b_, sizeof b_, __VA_ARGS__);                                              \
        const sim_msg_t *m_ = sim_call(s, dotted, b_, n_);                                         \
        if (m_->m.kind != SW_MSG_REPLY)                                                            \
            fail_msg("%s: %s", dotted, answer_json(m_));                                           \
        answer_json(m_);                                                                           \
    })

#define CALL(s, dotted, ...)                                                                       \
    ({                                                                                             \
        uint8_t b_[512];                                                                           \
        size_t n_ = args(b_, sizeof b_, __VA_ARGS__);                                              \
        answer_json(sim_call(s, dotted, b_, n_));                                                  \
    })

static void test_ping_and_link(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    // what MoaT sends first on a new link
    assert_true(s->nmsgs >= 1);
    assert_int_equal(s->msgs[0].m.kind, SW_MSG_NOTIFY);
    assert_string_equal(sim_json(s->msgs[0].m.d), "true");
    assert_string_equal(CALL(s, "ping", 1, "m", 's', "hi"), "\"R:hi\"");
    assert_string_equal(CALL(s, "sys.info", 0), CALL(s, "sys.info", 0)); // answers, repeatably
    assert_non_null(strstr(CALL(s, "sys.info", 0), "\"platform\":\"sim\""));
    sim_free(s);
    free(s);
}

// A port whose queue holds 2 KiB: the node sizes messages to it, handles a request only when a
// reply fits, keeps the requests that arrived meanwhile, and resumes on drained. 100 requests
// in one burst all get their answer, in order, and the port never had to refuse a write.
static void test_bounded_port(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 2048), 0);
    sim_read(s);
    size_t first = s->nmsgs;
    enum { N = 100 };
    static uint8_t burst[N * 300];
    size_t len = 0;
    char m[201];
    memset(m, 'x', 200);
    m[200] = 0;
    int64_t seq0 = 0;
    for (int k = 0; k < N; k++) {
        uint8_t a[300];
        size_t an = args(a, sizeof a, 1, "m", 's', m);
        sw_mpw_t w;
        sw_mpw_init(&w, burst + len, sizeof burst - len);
        int64_t seq = 10000 + k;
        if (!k)
            seq0 = seq;
        sw_msg_request_begin(&w, "ping", seq, 0);
        sw_mpw_raw(&w, a, an);
        sw_msg_request_end(&w, seq, 0);
        assert_int_equal(w.err, 0);
        len += w.len;
    }
    sim_send(s, burst, len); // one chunk, as a port would deliver it
    assert_int_equal(s->conn.refused, 0); // nothing written beyond the room the port offered
    assert_true(s->conn.out_len <= s->cap);
    assert_true(s->conn.paused); // the rest waits in the node; the port stops reading
    sim_settle(s);
    assert_int_equal(s->conn.refused, 0);
    assert_int_equal(s->nmsgs - first, N);
    for (int k = 0; k < N; k++) {
        const sw_msg_t *r = &s->msgs[first + (size_t)k].m;
        assert_int_equal(r->kind, SW_MSG_REPLY);
        assert_int_equal(r->i, seq0 + k);
    }
    assert_false(s->conn.paused);
    // a reply larger than the link's messages may be is an error reply, not a refused write
    const char *big = CALL(s, "sys.cfg", 0);
    assert_non_null(big);
    assert_int_equal(s->conn.refused, 0);
    sim_free(s);
    free(s);
}

static void test_config_survives_reset(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    OK(s, "sys.cfg", 2, "p", 'p', "test.answer", "d", 'i', 42);
    assert_non_null(sim_file(s, "swarm.cfg"));
    assert_string_equal(CALL(s, "sys.boot", 1, "code", 's', "SysBooT"), "true");
    assert_int_equal(s->reset_how, 0); // the reply first, then the reset
    sim_advance(s, 500);
    assert_int_equal(s->reset_how, SW_RESET_SOFT);
    sim_stop(s);
    assert_int_equal(sim_boot(s), 0);
    assert_string_equal(CALL(s, "sys.cfg", 1, "p", 'p', "test.answer"), "42");
    sim_free(s);
    free(s);
}

static void test_watchdog_on_virtual_clock(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    assert_string_equal(CALL(s, "sys.wdt", 1, "t", 'i', 2), "true");
    for (int k = 0; k < 5; k++) { // fed every 2.5 s: the 3 s expiry never comes
        sim_advance(s, 2500);
        assert_string_equal(CALL(s, "sys.wdt", 0), "true");
    }
    assert_int_equal(s->resets, 0);
    sim_advance(s, 2900);
    assert_int_equal(s->resets, 0);
    sim_advance(s, 400); // 3.3 s without a feed
    sim_advance(s, 500); // the reset sequence: reply time, link false, reset
    assert_int_equal(s->reset_how, SW_RESET_SOFT);
    assert_true(sim_logged(s, "watchdog: no sys.wdt"));
    sim_free(s);
    free(s);
}

static void test_file_commands(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    OK(s, "f.mkdir", 1, "p", 's', "d");
    OK(s, "f.new", 1, "p", 's', "d/a");
    assert_string_equal(CALL(s, "f.dir", 1, "p", 's', "d"), "[\"a\"]");
    assert_non_null(strstr(CALL(s, "f.stat", 1, "p", 's', "d/a"), "\"m\":\"f\""));
    OK(s, "f.mv", 2, "s", 's', "d/a", "d", 's', "d/b");
    assert_null(sim_file(s, "d/a"));
    assert_non_null(sim_file(s, "d/b"));
    uint8_t a[64];
    size_t an = args(a, sizeof a, 1, "p", 's', "d");
    assert_int_equal(sim_call(s, "f.rmdir", a, an)->m.kind, SW_MSG_ERROR); // not empty
    OK(s, "f.rm", 1, "p", 's', "d/b");
    OK(s, "f.rmdir", 1, "p", 's', "d");
    assert_null(sim_file(s, "d"));
    sim_free(s);
    free(s);
}

static void test_lua_app(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    memset(s, 0, sizeof *s);
    // the RAM fs is set up before the first boot: sim_init boots, so boot once, stop, add files
    assert_int_equal(sim_init(s, 65536), 0);
    sim_stop(s);
    sim_put(s, "apps/t1/main.lua",
            "local M = {}\n"
            "local n = 0\n"
            "function M.init_a() swarm.sleep(100); swarm.log('init a done') end\n"
            "function M.routine_b() while true do n = n + 1; swarm.log('tick ' .. n); swarm.sleep(1000) end end\n"
            "swarm.command('count', function() return n end, 'ticks so far')\n"
            "return M\n");
    s->opts.app = "t1";
    assert_int_equal(sim_boot(s), 0);
    assert_false(sim_logged(s, "tick 1")); // routines wait for every init_
    sim_advance(s, 150);
    sim_settle(s);
    assert_true(sim_logged(s, "init a done"));
    assert_true(sim_logged(s, "tick 1"));
    assert_true(strstr(s->log, "init a done") < strstr(s->log, "tick 1"));
    sim_advance(s, 2000);
    sim_settle(s);
    assert_true(sim_logged(s, "tick 3"));
    assert_string_equal(CALL(s, "t1.count", 0), "3");
    sim_stop(s);

    // an app whose routine raises: logged, and the node keeps answering
    sim_put(s, "apps/t2/main.lua",
            "local M = {}\n"
            "function M.routine_x() swarm.sleep(10); error('boom in routine') end\n"
            "return M\n");
    s->opts.app = "t2";
    assert_int_equal(sim_boot(s), 0);
    sim_advance(s, 50);
    sim_settle(s);
    assert_true(sim_logged(s, "boom in routine"));
    assert_string_equal(CALL(s, "ping", 1, "m", 's', "still"), "\"R:still\"");
    sim_free(s);
    free(s);
}

static int stream_values(const sim_t *s, int64_t seq)
{
    int n = 0;
    for (size_t i = 0; i < s->nmsgs; i++)
        n += s->msgs[i].m.kind == SW_MSG_STREAM && s->msgs[i].m.i == seq;
    return n;
}

// A stream on the virtual clock: a value every 100 ms, counted 1, 2, …; none after the cancel.
// On a link whose queue is full, the steps wait for the port instead of being written anyway.
static void test_stream(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    uint8_t buf[512], a[300];
    char m[201];
    memset(m, 't', 200);
    m[200] = 0;
    size_t an = args(a, sizeof a, 1, "m", 's', m);
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_msg_request_begin(&w, "ping", 77, 100);
    sw_mpw_raw(&w, a, an);
    sw_msg_request_end(&w, 77, 100);
    sim_send(s, buf, w.len);
    sim_settle(s);
    for (int k = 0; k < 10; k++) {
        sim_advance(s, 100);
        sim_settle(s);
    }
    int n = stream_values(s, 77);
    assert_in_range(n, 9, 11);
    const sw_msg_t *last = NULL;
    for (size_t i = 0; i < s->nmsgs; i++)
        if (s->msgs[i].m.kind == SW_MSG_STREAM)
            last = &s->msgs[i].m;
    assert_int_equal(last->n, n);
    assert_non_null(strstr(sim_json(last->d), "\"R:tttt"));

    // the peer stops reading: the queue fills up to the room the port offers, no step is
    // written beyond it, and the steps resume once the port has drained
    for (int k = 0; k < 3000; k++)
        sim_advance(s, 100); // no sim_read: nothing drains
    assert_int_equal(s->conn.refused, 0);
    assert_true(s->conn.out_len > s->cap / 2); // it did fill
    size_t stalled = s->conn.out_len;
    sim_advance(s, 1000);
    assert_int_equal(s->conn.out_len, stalled); // and then waited
    sim_settle(s);
    n = stream_values(s, 77);
    sim_advance(s, 100);
    sim_settle(s);
    assert_true(stream_values(s, 77) > n);

    sw_mpw_init(&w, buf, sizeof buf);
    sw_msg_write_cancel(&w, 77);
    sim_send(s, buf, w.len);
    sim_settle(s);
    n = stream_values(s, 77);
    sim_advance(s, 500);
    sim_settle(s);
    assert_int_equal(stream_values(s, 77), n);
    sim_free(s);
    free(s);
}

// Stages a new main.lua for apps/t1 and commits it; returns the answer (after the grace time).
static const sim_msg_t *push_app(sim_t *s, const char *lua)
{
    static const char zero_id[] = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *st = OK(s, "push.begin", 2, "t", 's', "t1", "id", 's', zero_id);
    assert_non_null(strstr(st, ".swarm/stage/apps/t1"));
    sim_put(s, ".swarm/stage/apps/t1/main.lua", lua);
    // the id of the staged version, as the node computes it (the error names it)
    const char *e = CALL(s, "push.commit", 3, "t", 's', "t1", "id", 's', zero_id, "grace_ms", 'i', 500);
    const char *give = strstr(e, "they give ");
    assert_non_null(give);
    char id[65];
    memcpy(id, give + 10, 64);
    id[64] = 0;
    uint8_t a[256];
    size_t an = args(a, sizeof a, 3, "t", 's', "t1", "id", 's', id, "grace_ms", 'i', 500);
    int64_t seq = sim_request(s, "push.commit", a, an);
    sim_settle(s);
    for (int k = 0; k < 10 && !sim_answer(s, seq); k++) { // deferred until the grace time is over
        sim_advance(s, 100);
        sim_settle(s);
    }
    const sim_msg_t *m = sim_answer(s, seq);
    assert_non_null(m);
    return m;
}

static bool file_has(const sim_t *s, const char *path, const char *text)
{
    const sim_file_t *f = sim_file(s, path);
    return f && memmem(f->data, f->len, text, strlen(text)) != NULL;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

// Push on the RAM fs: stage, commit (the running app reloads), roll back by command, and a
// version that fails its health check is rolled back by the node itself.
static void test_push(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    sim_stop(s);
    sim_put(s, "apps/t1/main.lua", "swarm.log('version 1 up')\nreturn {}\n");
    s->opts.app = "t1";
    assert_int_equal(sim_boot(s), 0);
    assert_int_equal(count(s->log, "version 1 up"), 1);

    // what a push takes from the node's pool beyond what it held (the peak): on the MCU
    // profile every list of a commit used to take its whole bound (5.6 KB), up to eight at once
    size_t before = s->heap[SW_POOL_NODE];
    s->heap_peak[SW_POOL_NODE] = before;
    const sim_msg_t *m = push_app(s, "swarm.log('version 2 up')\nreturn {}\n");
    size_t grew = s->heap_peak[SW_POOL_NODE] - before;
    printf("push of one file: node pool peak +%zu bytes\n", grew);
#if SW__MCU
    assert_true(grew < 6144);
#endif
    assert_int_equal(m->m.kind, SW_MSG_REPLY);
    assert_non_null(strstr(sim_json(m->m.d), "\"reloaded\":true"));
    assert_int_equal(count(s->log, "version 2 up"), 1);
    assert_true(file_has(s, "apps/t1/main.lua", "version 2"));
    assert_null(sim_file(s, ".swarm/journal"));

    // back to version 1 by command
    uint8_t a[64];
    size_t an = args(a, sizeof a, 2, "t", 's', "t1", "grace_ms", 'i', 200);
    int64_t seq = sim_request(s, "push.rollback", a, an);
    for (int k = 0; k < 10 && !sim_answer(s, seq); k++) {
        sim_advance(s, 100);
        sim_settle(s);
    }
    assert_non_null(sim_answer(s, seq));
    assert_int_equal(sim_answer(s, seq)->m.kind, SW_MSG_REPLY);
    assert_int_equal(count(s->log, "version 1 up"), 2);

    // a version whose init_ raises is rolled back within its grace time
    m = push_app(s, "local M = {}\nfunction M.init_x() error('no sensor') end\nreturn M\n");
    assert_int_equal(m->m.kind, SW_MSG_ERROR);
    assert_non_null(strstr(sim_json(m->m.e), "rolled back"));
    assert_non_null(strstr(sim_json(m->m.e), "no sensor"));
    assert_int_equal(count(s->log, "version 1 up"), 3);
    assert_true(file_has(s, "apps/t1/main.lua", "version 1"));
    sim_free(s);
    free(s);
}

// limits.lua_mem goes down to 16 KiB (an MCU's Lua pool): an app that needs more than that
// fails with Lua's memory error, and the node keeps answering.
static void test_lua_mem_16k(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    OK(s, "sys.cfg", 2, "p", 'p', "limits.lua_mem", "d", 'i', 16384);
    sim_stop(s);
    sim_put(s, "apps/big/main.lua",
            "local M = {}\n"
            "function M.routine_a() local t = string.rep('x', 10000); swarm.log('big ok ' .. #t) end\n"
            "return M\n");
    s->opts.app = "big";
    assert_int_equal(sim_boot(s), 0); // whatever Lua can do in 16 KiB, the node boots
    sim_advance(s, 100);
    sim_settle(s);
    assert_false(sim_logged(s, "big ok"));
    // a 64-bit host cannot even open the VM in 16 KiB (it is left out); a 32-bit MCU runs the
    // app until the string does not fit
    assert_true(sim_logged(s, "not enough memory") || sim_logged(s, "lua: not available"));
    assert_string_equal(CALL(s, "ping", 1, "m", 's', "up"), "\"R:up\"");
    sim_free(s);
    free(s);
}

// The pattern matcher recurses in C once per nested item: the MCU profiles stop it at
// SW_LUA_MATCH_DEPTH (64, 2 KiB of a firmware's stack) where POSIX allows 200.
static void test_pattern_depth(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    const char *r = CALL(s, "sys.eval", 1, "code", 's',
                         "return (string.find(string.rep('a', 100), string.rep('a?', 100)))");
#if SW__MCU
    assert_non_null(strstr(r, "pattern too complex"));
#else
    assert_non_null(strstr(r, "[1,"));
#endif
    assert_string_equal(CALL(s, "ping", 1, "m", 's', "up"), "\"R:up\"");
    sim_free(s);
    free(s);
}

// A timer callback that stops and frees another timer due in the same poll (a reset that stops
// the app while one of its tasks is due at the same millisecond): the other one must not run,
// and the kernel must not touch its memory again (ASan would report it).
static sw_timer_t *victim;
static int victim_runs;

static void victim_fn(sw_node_t *n, sw_timer_t *t)
{
    (void)n, (void)t;
    victim_runs++;
}

static void killer_fn(sw_node_t *n, sw_timer_t *t)
{
    (void)t;
    sw_timer_stop(n, victim);
    free(victim);
    victim = NULL;
}

static void test_timer_stopped_by_its_batch(void **state)
{
    (void)state;
    sim_t *s = malloc(sizeof *s);
    assert_int_equal(sim_init(s, 65536), 0);
    sw_timer_t *killer = calloc(1, sizeof *killer);
    victim = calloc(1, sizeof *victim);
    killer->fn = killer_fn;
    victim->fn = victim_fn;
    sw_timer_start(s->node, killer, 10);
    sw_timer_start(s->node, victim, 10); // same due time, after the killer
    sim_advance(s, 20);
    assert_null(victim);
    assert_int_equal(victim_runs, 0);
    free(killer);
    sim_free(s);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_and_link),
        cmocka_unit_test(test_timer_stopped_by_its_batch),
        cmocka_unit_test(test_bounded_port),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_config_survives_reset),
        cmocka_unit_test(test_watchdog_on_virtual_clock),
        cmocka_unit_test(test_file_commands),
        cmocka_unit_test(test_lua_app),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_lua_mem_16k),
        cmocka_unit_test(test_pattern_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
