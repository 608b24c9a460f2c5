// `swarm console`: shows what a device prints. A serial line carries the device's console
// bytes next to the messages: they are shown as they come. Over TCP there is no console, so
// the node's log (sys.log) is polled instead. Through a mux the mux's copy of a serial console
// (mplex.console) is polled, or the node's log when the mux reaches its device over TCP.
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "mpjson.h"

#define POLL_MS 200
#define CHUNK 65536       // bytes asked for per poll (the device may give fewer)
#define FOLLOW_LINES 10   // history shown before following, unless --lines says otherwise
#define RETRY_MS 1000     // reconnect delay after a lost link (following only)

static const char console_usage[] = "usage: swarm console [options] LINK\n";

static const char console_about[] =
    "Shows what the device prints. On a serial link: the console bytes the device writes\n"
    "next to its messages, live. Over tcp://: the node's log (sys.log, polled every 200 ms).\n"
    "Through a multiplexer (unix://): the mux's copy of the device's serial console\n"
    "(mplex.console), or the node's log when the mux reaches the device over TCP.\n"
    "\n"
    "By default a terminal follows the output (the last 10 lines first, then new text until\n"
    "Ctrl-C); otherwise what the device still holds is printed once. Following survives a\n"
    "lost link: it reconnects and goes on. Typed lines are not sent (the node does not read\n"
    "console input; it says so once): for a Lua prompt use its telnet console (port 23, a\n"
    "full REPL) or swarm eval.\n";

static const char console_after[] =
    "examples:\n"
    "  swarm console serial:///dev/ttyUSB0\n"
    "  swarm console unix:///run/user/1000/kitchen.sock\n"
    "  swarm console --lines 50 tcp://192.168.1.20\n";

enum { SRC_SERIAL, SRC_LOG, SRC_MUX };

typedef struct con {
    sw_cli_t c;
    uv_loop_t loop;
    const char *uri;
    sw_hlink_t *l;
    int src;
    bool follow;
    bool is_mux;           // the link is a multiplexer (answers mplex.*)
    bool history_done;     // live serial bytes wait until the history is out
    uint8_t *held;         // …in here
    size_t held_n;
    bool console_in;       // the device takes console input (sys.info "console_in")
    bool told_no_input;
    uint64_t pos;          // next position to ask for (sys.log / mplex.console)
    bool polling;          // a poll is in flight
    bool down_told;        // "link down" said (once per outage)
    bool done;
    int status;
    uv_timer_t t_poll, t_retry;
    uv_signal_t sig;
    uv_tty_t tty;
    bool tty_on;
    bool raw;              // --raw: the device's bytes unescaped
    uint8_t part[4];       // the start of a UTF-8 character cut by a chunk boundary
    size_t part_n;
} con_t;

///////////////////////////////////////////////////////////////////////////////////////////////
// Output

// Where to cut p[0..n) so that a UTF-8 lead byte at its end without all its continuation
// bytes stays behind (n when nothing is cut).
static size_t utf8_cut(const uint8_t *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = p[n - back];
        if ((c & 0xc0) == 0x80)
            continue; // a continuation byte: look further back
        size_t need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
        return need > back && c >= 0xc2 ? n - back : n;
    }
    return n;
}

static void out(con_t *k, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    if (!k->c.json && k->raw) {
        fwrite(p, 1, n, stdout);
        fflush(stdout);
        return;
    }
    if (!k->c.json) {
        // The device's output is its word, not the terminal's commands: escape sequences and
        // other controls show as text (esc.h); a character split between two chunks waits.
        uint8_t buf[4];
        size_t bn = 0;
        if (k->part_n) {
            uint8_t c = k->part[0];
            size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            memcpy(buf, k->part, k->part_n);
            bn = k->part_n;
            k->part_n = 0;
            while (bn < need && n && (p[0] & 0xc0) == 0x80)
                buf[bn++] = *p++, n--;
            if (bn < need && !n) { // still incomplete: wait for more
                memcpy(k->part, buf, bn);
                k->part_n = bn;
                return;
            }
        }
        size_t cut = utf8_cut(p, n);
        sw__esc_write(stdout, buf, bn, SW_ESC_KEEP_TTY);
        sw__esc_write(stdout, p, cut, SW_ESC_KEEP_TTY);
        memcpy(k->part, p + cut, n - cut);
        k->part_n = n - cut;
        fflush(stdout);
        return;
    }
    char *s = malloc(n + 1);
    if (!s)
        return;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i]) // (a NUL cannot be in a cJSON string)
            s[j++] = (char)p[i];
    s[j] = 0;
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "d", s)) {
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            printf("%s\n", t);
        cJSON_free(t);
    }
    cJSON_Delete(o);
    free(s);
    fflush(stdout);
}

static void note(con_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(con_t *k, const char *fmt, ...)
{
    if (k->c.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("swarm console: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// The tail of p[0..n) that holds its last `lines` lines (a partial last line counts).
static size_t tail_start(const uint8_t *p, size_t n, uint64_t lines)
{
    if (!lines)
        return n;
    size_t i = n;
    if (i && p[i - 1] == '\n')
        i--;
    uint64_t seen = 0;
    while (i > 0) {
        if (p[i - 1] == '\n' && ++seen == lines)
            return i;
        i--;
    }
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Reading sys.log / mplex.console replies: {"d": str|bin, "p": next position}

bool sw__cli_log_chunk(const uint8_t *p, size_t n, sw_span_t *text, uint64_t *next)
{
    sw_span_t d, pv;
    if (sw_mp_map_get(p, n, "d", &d) || sw_mp_map_get(p, n, "p", &pv))
        return false;
    sw_mpr_t r;
    sw_mpr_init(&r, d.p, d.n);
    sw_mp_obj_t o;
    if (sw_mpr_next(&r, &o) || (o.type != SW_MP_STR && o.type != SW_MP_BIN))
        return false;
    text->p = o.v.p;
    text->n = o.len;
    sw_mpr_init(&r, pv.p, pv.n);
    return sw_mpr_uint(&r, next);
}

static void chunk_args(sw_mpw_t *w, int64_t pos, size_t n)
{
    sw_mpw_map(w, 2);
    sw_mpw_cstr(w, "p");
    if (pos < 0)
        sw_mpw_nil(w);
    else
        sw_mpw_int(w, pos);
    sw_mpw_cstr(w, "n");
    sw_mpw_uint(w, n);
}

static const char *poll_cmd(const con_t *k)
{
    return k->src == SRC_MUX ? "mplex.console" : "sys.log";
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifetime

static void finish(con_t *k, int status)
{
    if (k->done)
        return;
    k->done = true;
    k->status = status;
    uv_close((uv_handle_t *)&k->t_poll, NULL);
    uv_close((uv_handle_t *)&k->t_retry, NULL);
    uv_close((uv_handle_t *)&k->sig, NULL);
    if (k->tty_on)
        uv_close((uv_handle_t *)&k->tty, NULL);
    if (k->l)
        sw_hlink_close(k->l);
    k->l = NULL;
}

static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    con_t *k = h->data;
    if (!k->c.quiet && k->c.tty_err)
        fputc('\n', stderr);
    finish(k, SW_EXIT_INTERRUPT);
}

static void poll_now(con_t *k);

static void on_poll_answer(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    con_t *k = u;
    k->polling = false;
    if (k->done || (m && m->kind == SW_MSG_STREAM))
        return;
    if (!m) { // the link is gone: its state callback takes over
        (void)err;
        return;
    }
    if (m->kind == SW_MSG_ERROR) {
        sw_mpr_t r;
        sw_mpr_init(&r, m->e.p, m->e.n);
        sw_span_t e = {(const uint8_t *)"?", 1};
        sw_mpr_str(&r, &e);
        if (e.n >= 7 && !memcmp(e.p, "ECLOSED", 7)) { // through a mux: the device is away
            if (!k->down_told)
                note(k, "%.*s; waiting for it", (int)(e.n > 200 ? 200 : e.n), (const char *)e.p);
            k->down_told = true;
            return;
        }
        sw_cli_error(&k->c, "console", "node says: %.*s", (int)(e.n > 400 ? 400 : e.n),
                     (const char *)e.p);
        finish(k, SW_EXIT_REMOTE);
        return;
    }
    sw_span_t text;
    uint64_t next;
    if (m->kind != SW_MSG_REPLY || !sw__cli_log_chunk(m->d.p, m->d.n, &text, &next)) {
        sw_cli_error(&k->c, "console", "unexpected answer to %s", poll_cmd(k));
        finish(k, SW_EXIT_REMOTE);
        return;
    }
    if (k->down_told) {
        note(k, "the device is back");
        k->down_told = false;
    }
    if (next < k->pos && !text.n) { // the log is shorter than where we were: it restarted
        k->pos = 0;
        poll_now(k);
        return;
    }
    out(k, text.p, text.n);
    k->pos = next;
    if (text.n >= 4096) // (maybe) more waiting: ask again at once
        poll_now(k);
}

static void poll_now(con_t *k)
{
    if (k->done || k->polling || k->src == SRC_SERIAL || !k->l || !sw_hlink_is_up(k->l))
        return;
    uint8_t buf[32];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    chunk_args(&w, (int64_t)k->pos, CHUNK);
    sw_span_t d = {buf, w.len};
    if (sw_hlink_call(k->l, poll_cmd(k), d, 0, on_poll_answer, k) > 0)
        k->polling = true;
}

static void on_poll_timer(uv_timer_t *t)
{
    poll_now(t->data);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The link while following

static void on_live(void *u, sw_hlink_t *l, const uint8_t *p, size_t n)
{
    (void)l;
    con_t *k = u;
    if (k->done || k->src != SRC_SERIAL)
        return;
    if (k->history_done) {
        out(k, p, n);
        return;
    }
    uint8_t *b = realloc(k->held, k->held_n + n);
    if (!b)
        return;
    memcpy(b + k->held_n, p, n);
    k->held = b;
    k->held_n += n;
}

static void on_note(void *u, sw_hlink_t *l, const sw_msg_t *m)
{
    (void)l;
    con_t *k = u;
    if (k->done || !k->is_mux || !m->action_is_str || !sw_span_eq(m->path[0], "link"))
        return;
    sw_mpr_t r;
    sw_mpr_init(&r, m->d.p, m->d.n);
    bool up;
    if (!sw_mpr_bool(&r, &up))
        return;
    if (!up && !k->down_told) {
        note(k, "the mux lost its device; waiting for it");
        k->down_told = true;
    } else if (up && k->down_told) {
        note(k, "the device is back");
        k->down_told = false;
        poll_now(k);
    }
}

static void on_retry(uv_timer_t *t);

static void on_state(void *u, sw_hlink_t *l, bool up, int err)
{
    (void)err;
    con_t *k = u;
    if (k->done || l != k->l || !k->history_done) // (before: the blocking helpers report)
        return;
    if (up) {
        if (k->down_told)
            note(k, "reconnected to %s", k->uri);
        k->down_told = false;
        poll_now(k);
        return;
    }
    if (!k->down_told)
        note(k, "%s; reconnecting", sw_hlink_error(l));
    k->down_told = true;
    sw_hlink_close(l);
    k->l = NULL;
    k->polling = false;
    uv_timer_start(&k->t_retry, on_retry, RETRY_MS, 0);
}

static int open_link(con_t *k, char *err, size_t errcap)
{
    sw_hlink_opts_t o;
    sw_hlink_opts_default(&o);
    if (k->c.timeout_ms && k->c.timeout_ms < o.connect_timeout_ms)
        o.connect_timeout_ms = k->c.timeout_ms;
    sw_hlink_cbs_t cbs = {on_state, on_note, on_live, k};
    return sw_hlink_open(&k->loop, k->uri, &o, &cbs, &k->l, err, errcap);
}

static void reopen(con_t *k)
{
    if (k->done)
        return;
    char err[320];
    if (open_link(k, err, sizeof err)) {
        k->l = NULL;
        uv_timer_start(&k->t_retry, on_retry, RETRY_MS, 0);
    }
}

static void on_retry(uv_timer_t *t)
{
    reopen(t->data);
}

// Typed lines: sent as console input where the device takes it, otherwise said once.
static void on_tty_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)h;
    (void)hint;
    static char buf[4096];
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_tty_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    con_t *k = s->data;
    if (n < 0) {
        uv_read_stop(s);
        return;
    }
    if (n == 0 || k->done)
        return;
    if (k->console_in && k->src == SRC_SERIAL && k->l &&
        sw_hlink_write_console(k->l, (const uint8_t *)b->base, (size_t)n) == 0)
        return;
    if (!k->told_no_input)
        note(k, "the device takes no console input: typed lines are not sent");
    k->told_no_input = true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Start: find the source, print the history, then follow (or not)

// The last part of the device's log or console, as held now; pos = where it ends.
static int history(con_t *k, uint64_t lines, bool all)
{
    uint8_t args[32];
    sw_mpw_t w;
    sw_mpw_init(&w, args, sizeof args);
    chunk_args(&w, -1, CHUNK);
    size_t cap = CHUNK + 256;
    uint8_t *res = malloc(cap);
    if (!res)
        return SW_EXIT_LOCAL;
    sw_mpw_t r;
    sw_mpw_init(&r, res, cap);
    char text[1024];
    sw_span_t d = {args, w.len};
    const char *cmd = k->src == SRC_MUX ? "mplex.console" : "sys.log";
    int e = sw_hlink_call_sync(k->l, cmd, d, k->c.timeout_ms, &r, text, sizeof text);
    if (e) {
        int rc = SW_EXIT_OK;
        if (e == SW_EREMOTE && !strncmp(text, "ECLOSED", 7) && k->follow) {
            note(k, "%s; waiting for it", text);
            k->down_told = true;
        } else {
            rc = sw__cli_call_failed(&k->c, "console", k->l, e, text);
        }
        free(res);
        return rc;
    }
    sw_span_t t;
    uint64_t next;
    if (!sw__cli_log_chunk(res, r.len, &t, &next)) {
        free(res);
        sw_cli_error(&k->c, "console", "unexpected answer to %s", cmd);
        return SW_EXIT_REMOTE;
    }
    size_t from = 0;
    if (all) {
        // a chunk cut from a longer log starts inside a line: show whole lines only
        if (next > t.n)
            while (from < t.n && t.p[from++] != '\n')
                ;
    } else {
        from = tail_start(t.p, t.n, lines);
    }
    out(k, t.p + from, t.n - from);
    k->pos = next;
    free(res);
    return SW_EXIT_OK;
}

// Does the device take console input? (A flag in sys.info; no node sets it yet.)
static void ask_console_in(con_t *k)
{
    uint8_t res[4096];
    sw_mpw_t r;
    sw_mpw_init(&r, res, sizeof res);
    char text[256];
    sw_span_t none = {NULL, 0}, v;
    if (sw_hlink_call_sync(k->l, "sys.info", none, k->c.timeout_ms, &r, text, sizeof text) ||
        sw_mp_map_get(res, r.len, "console_in", &v))
        return;
    k->console_in = v.n == 1 && v.p[0] == 0xc3;
}

// Through a mux: which console it has (mplex.info "link": serial:// → its ring buffer).
static void ask_mux(con_t *k)
{
    uint8_t res[4096];
    sw_mpw_t r;
    sw_mpw_init(&r, res, sizeof res);
    char text[256];
    sw_span_t none = {NULL, 0}, v, s;
    if (sw_hlink_call_sync(k->l, "mplex.info", none, k->c.timeout_ms, &r, text, sizeof text) ||
        sw_mp_map_get(res, r.len, "link", &v))
        return; // not a mux (or an old one): the node's log it is
    k->is_mux = true;
    sw_mpr_t rd;
    sw_mpr_init(&rd, v.p, v.n);
    if (sw_mpr_str(&rd, &s) && s.n >= 9 && !memcmp(s.p, "serial://", 9))
        k->src = SRC_MUX;
}

int sw_cli_console(const sw_cli_t *cli, int argc, char **argv)
{
    con_t *k = calloc(1, sizeof *k);
    if (!k) {
        sw_cli_error(cli, "console", "out of memory");
        return SW_EXIT_LOCAL;
    }
    k->c = *cli;
    int follow = -1; // -1: by the terminal
    uint64_t lines = 0;
    bool lines_set = false;
    int rc;
    const sw_opt_t opts[] = {
        SW_OPT_SET_("follow", "f", &follow, 1,
                    "keep printing new output until Ctrl-C (exit status 130)"),
        SW_OPT_SET_("no-follow", NULL, &follow, 0, "print what is there and exit"),
        SW_OPT_FLAG_("raw", NULL, &k->raw,
                     "pass the device's bytes to the terminal as they are; by default control "
                     "bytes other than newline, tab, CR and backspace (ESC, so every escape "
                     "sequence) and bytes that are not UTF-8 show as \\xNN"),
        {.kind = SW_OPT_UINT, .name = "lines", .shorts = "n", .arg = "N", .dst = &lines,
         .size = sizeof lines, .max = 1000000000, .seen = &lines_set,
         .help = "start with the last N lines (without --follow: print them and exit)"},
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const names[] = {"LINK", NULL};
    sw_cli_spec_t spec = {.cmd = "console", .usage = console_usage, .about = console_about,
                          .opts = opts,
                          .globals = "--json prints each piece of output as {\"d\": \"text\"} "
                                     "on a line of its own",
                          .after = console_after, .pos = names};
    if (!sw__cli_parse(&k->c, &spec, argc, argv, &rc))
        goto out_free;
    k->uri = spec.arg[0];
    k->follow = follow == 1 || (follow < 0 && !lines_set && k->c.tty_out);
    if (!lines_set)
        lines = FOLLOW_LINES;

    sw_uri_t u;
    char err[320];
    if (sw_uri_parse(k->uri, &u, err, sizeof err)) {
        rc = sw__cli_usage(&k->c, "console", "bad link '%s': %s", k->uri, err);
        goto out_free;
    }
    k->src = u.kind == SW_URI_SERIAL ? SRC_SERIAL : SRC_LOG;
    uv_loop_init(&k->loop);
    uv_timer_init(&k->loop, &k->t_poll);
    uv_timer_init(&k->loop, &k->t_retry);
    k->t_poll.data = k->t_retry.data = k;
    uv_signal_init(&k->loop, &k->sig);
    k->sig.data = k;
    uv_signal_start(&k->sig, on_sigint, SIGINT);

    if (open_link(k, err, sizeof err)) {
        sw_cli_error(&k->c, "console", "%s", err);
        finish(k, SW_EXIT_LOCAL);
        goto out_loop;
    }
    if (sw_hlink_wait_up(k->l, k->c.timeout_ms)) {
        sw_cli_error(&k->c, "console", "%s", sw_hlink_error(k->l));
        if (u.kind == SW_URI_UNIX)
            sw__cli_hint(&k->c, "is a swarm mux serving %s?", u.path);
        finish(k, SW_EXIT_LINK);
        goto out_loop;
    }
    if (u.kind == SW_URI_UNIX)
        ask_mux(k);
    // history: the node's log (a serial line has none of its own), or the mux's ring buffer
    int hsrc = k->src;
    if (k->src == SRC_SERIAL)
        k->src = SRC_LOG;
    rc = history(k, lines, !k->follow && !lines_set);
    k->src = hsrc;
    if (rc || !k->follow) {
        finish(k, rc);
        goto out_loop;
    }
    k->history_done = true;
    out(k, k->held, k->held_n);
    free(k->held);
    k->held = NULL;
    if (k->src == SRC_SERIAL)
        ask_console_in(k);
    if (k->src != SRC_SERIAL)
        uv_timer_start(&k->t_poll, on_poll_timer, POLL_MS, POLL_MS);
    if (isatty(0) == 1 && uv_tty_init(&k->loop, &k->tty, 0, 1) == 0) {
        k->tty_on = true;
        k->tty.data = k;
        uv_read_start((uv_stream_t *)&k->tty, on_tty_alloc, on_tty_read);
    }
    if (!k->c.quiet && k->c.tty_err)
        note(k, "%s of %s; Ctrl-C ends", k->src == SRC_SERIAL ? "live console" :
             k->src == SRC_MUX ? "console (through the mux)" : "log", k->uri);
out_loop:
    uv_run(&k->loop, UV_RUN_DEFAULT);
    if (!k->done) // (the loop ran out by itself: nothing left to follow)
        finish(k, SW_EXIT_LINK), uv_run(&k->loop, UV_RUN_DEFAULT);
    uv_loop_close(&k->loop);
    rc = k->status;
out_free:
    free(k->held);
    free(k);
    return rc;
}
