// `swarm repl`: an interactive Lua prompt on a device over any link (TCP, serial, a mux), like
// mpremote's repl. Line editing and history come from libedit; a chunk that is not complete yet
// (the host's Lua compiler ends it at <eof>) continues on the next line; each chunk runs as
// `swarm eval` runs it (sys.eval: what it printed, then its value). Ctrl-C at the prompt drops
// the line being typed; during a snippet it abandons the request, and the node stops the
// snippet (it runs on itself); Ctrl-D or ':q' ends.
#define _GNU_SOURCE
#include <editline/readline.h>
#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"

#define CHUNK_MAX (64u << 10) // bytes of one multi-line chunk
#define HISTORY_MAX 1000

static const char repl_usage[] = "usage: swarm repl [options] LINK\n";

static const char repl_about[] =
    "An interactive Lua prompt on the device at LINK, in the running app's environment (what\n"
    "swarm eval runs, one chunk at a time): what a chunk prints is shown, then its value.\n"
    "A chunk that is not complete yet ('for i = 1, 3 do') goes on at the '>>' prompt. Line\n"
    "editing and history (kept in $XDG_STATE_HOME/swarm/repl_history, default\n"
    "~/.local/state/swarm/repl_history). Ctrl-C drops the line being typed, or stops a\n"
    "running chunk on the device (the node runs on); Ctrl-D or :q ends. Works the same over\n"
    "TCP, serial lines (both modes) and a mux; input may come from a pipe too.\n";

static const char repl_after[] =
    "exit status: 0 ended, 2 usage, 3 the link failed\n"
    "\n"
    "examples:\n"
    "  swarm repl kitchen\n"
    "  swarm repl serial:///dev/ttyUSB0\n";

static volatile sig_atomic_t got_int;

static void on_int(int sig)
{
    (void)sig;
    got_int = 1;
}

// True when code does not compile only because it ends too early (Lua's "<eof>" message).
static bool incomplete(lua_State *L, const char *code, size_t n)
{
    char *ret = malloc(n + 8);
    if (!ret)
        return false;
    memcpy(ret, "return ", 7);
    memcpy(ret + 7, code, n);
    int rc = luaL_loadbufferx(L, ret, n + 7, "=repl", "t");
    free(ret);
    lua_settop(L, 0);
    if (rc == LUA_OK)
        return false;
    rc = luaL_loadbufferx(L, code, n, "=repl", "t");
    bool more = false;
    if (rc == LUA_ERRSYNTAX) {
        size_t len;
        const char *msg = lua_tolstring(L, -1, &len);
        more = msg && len >= 5 && !strcmp(msg + len - 5, "<eof>");
    }
    lua_settop(L, 0);
    return more;
}

typedef struct call_ctx {
    bool done;
    int err;
    uint8_t *res;
    size_t cap, len;
    char text[1024];
} call_ctx_t;

static void on_answer(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    call_ctx_t *x = u;
    if (x->done)
        return;
    x->done = true;
    if (!m) {
        x->err = err;
        return;
    }
    if (m->kind == SW_MSG_ERROR) {
        sw_mpr_t r;
        sw_mpr_init(&r, m->e.p, m->e.n);
        sw_span_t e;
        if (sw_mpr_str(&r, &e))
            snprintf(x->text, sizeof x->text, "%.*s", (int)(e.n > 1000 ? 1000 : e.n), (const char *)e.p);
        x->err = SW_EREMOTE;
        return;
    }
    size_t n = m->d.n < x->cap ? m->d.n : 0;
    memcpy(x->res, m->d.p, n);
    x->len = n;
}

// One chunk: sys.eval, waiting while watching for Ctrl-C. Returns false when the link is gone.
static bool run_chunk(const sw_cli_t *c, uv_loop_t *loop, sw_hlink_t *l, const char *code, size_t n)
{
    size_t acap = n + 64, rcap = sw_hlink_max_msg(l);
    uint8_t *args = malloc(acap);
    call_ctx_t x = {.res = malloc(rcap ? rcap : 1), .cap = rcap};
    if (!args || !x.res) {
        free(args);
        free(x.res);
        sw_cli_error(c, "repl", "out of memory");
        return true;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, args, acap);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "code");
    sw_mpw_str(&w, code, n);
    sw_eval_out_t eo;
    sw__cli_eval_mark(c, l, &eo);
    got_int = 0;
    int64_t seq = sw_hlink_call(l, "sys.eval", (sw_span_t){args, w.len}, 0, on_answer, &x);
    uint64_t t0 = sw__cli_now_ms();
    bool alive = true;
    if (seq < 0) {
        x.done = true;
        x.err = (int)seq;
    }
    while (!x.done && !got_int) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!x.done && !got_int)
            usleep(2000); // (a signal cuts the sleep short)
        if (c->timeout_ms && sw__cli_now_ms() - t0 > c->timeout_ms) {
            x.done = true;
            x.err = SW_ETIMEDOUT;
            sw_hlink_cancel(l, seq);
        }
    }
    if (!x.done) { // Ctrl-C
        sw_hlink_cancel(l, seq);
        fprintf(stderr, "(interrupted: the chunk is stopped on the device; the node runs on)\n");
    } else {
        sw__cli_eval_show(c, l, &eo, NULL);
        if (!x.err) {
            sw__cli_eval_print(c, x.res, x.len, NULL);
        } else if (x.err == SW_EREMOTE) {
            fprintf(stderr, "%s\n", x.text);
        } else if (x.err == SW_ETIMEDOUT && sw__cli_locked_line(c, "repl", l)) {
            alive = false; // a locked node will not answer the next chunk either
        } else {
            sw_cli_error(c, "repl", "%s", x.err == SW_ECLOSED ? sw_hlink_error(l) : sw_strerror(x.err));
            alive = x.err != SW_ECLOSED;
        }
    }
    free(args);
    free(x.res);
    return alive;
}

static void history_path(char *buf, size_t cap)
{
    const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    buf[0] = 0;
    if (st && st[0] == '/')
        snprintf(buf, cap, "%s/swarm/repl_history", st);
    else if (home && home[0])
        snprintf(buf, cap, "%s/.local/state/swarm/repl_history", home);
}

static void mkdirs_for(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        (void)!mkdir(tmp, 0700);
        *s = '/';
    }
}

int sw_cli_repl(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    const sw_opt_t opts[] = {SW_OPT_HELP_, SW_OPT_END_};
    static const char *const pos[] = {"LINK", NULL};
    sw_cli_spec_t spec = {.cmd = "repl", .usage = repl_usage, .about = repl_about, .opts = opts,
                          .globals = "--timeout: per chunk (0: wait until Ctrl-C)",
                          .after = repl_after, .pos = pos};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    uv_loop_t loop;
    uv_loop_init(&loop);
    sw_hlink_t *l;
    if ((rc = sw__cli_connect(&c, "repl", &loop, spec.arg[0], &l))) {
        sw__cli_finish(&loop, l);
        return rc;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        sw_cli_error(&c, "repl", "out of memory");
        sw__cli_finish(&loop, l);
        return SW_EXIT_LOCAL;
    }
    char hist[4096];
    history_path(hist, sizeof hist);
    using_history();
    stifle_history(HISTORY_MAX);
    if (hist[0])
        read_history(hist);
    struct sigaction sa = {.sa_handler = on_int}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    if (!c.quiet && isatty(0))
        fprintf(stderr, "Lua on %s (Ctrl-D or :q ends)\n", spec.arg[0]);
    char *chunk = malloc(CHUNK_MAX + 1);
    size_t len = 0;
    rc = SW_EXIT_OK;
    while (chunk) {
        got_int = 0;
        char *line = readline(len ? ">> " : "lua> ");
        if (got_int) { // Ctrl-C while typing: the chunk so far is dropped
            free(line);
            len = 0;
            fputc('\n', stderr);
            continue;
        }
        if (!line) // Ctrl-D / end of input
            break;
        if (!len && (!strcmp(line, ":q") || !strcmp(line, ":quit"))) {
            free(line);
            break;
        }
        size_t k = strlen(line);
        if (len + k + 1 > CHUNK_MAX) {
            sw_cli_error(&c, "repl", "chunk longer than %u bytes: dropped", CHUNK_MAX);
            free(line);
            len = 0;
            continue;
        }
        if (len)
            chunk[len++] = '\n';
        memcpy(chunk + len, line, k);
        len += k;
        chunk[len] = 0;
        free(line);
        if (!len)
            continue;
        if (incomplete(L, chunk, len))
            continue;
        add_history(chunk);
        if (!run_chunk(&c, &loop, l, chunk, len)) {
            rc = SW_EXIT_LINK;
            break;
        }
        len = 0;
    }
    sigaction(SIGINT, &old, NULL);
    if (hist[0]) {
        mkdirs_for(hist);
        write_history(hist);
    }
    free(chunk);
    lua_close(L);
    sw__cli_finish(&loop, l);
    return rc;
}
