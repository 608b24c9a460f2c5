// `swarm call` (MoaT's `cmd`: one command, its reply printed; --every: a stream of values until
// Ctrl-C or --count) and `swarm eval` (Lua code run by sys.eval, its repr printed).
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "mpjson.h"

static const char call_usage[] = "usage: swarm call [options] LINK PATH [key=value ... | JSON]\n";

static const char call_about[] =
    "Calls the command PATH on the device at LINK and prints its reply: a string as it is,\n"
    "anything else as indented JSON; with --json, one line of JSON.\n"
    "\n"
    "PATH is dotted: ping, sys.info, f.ls; _dir prints every command as a tree with its help\n"
    "(sys._dir: those under sys; --json: the device's raw {c, d, h} reply of that level).\n"
    "The arguments are the command's data: key=value pairs make a map, each value read as\n"
    "JSON when it is valid JSON and taken as a string otherwise (m=hi n=3 on=true l=[1,2]\n"
    "s='\"42\"'); or a single bare JSON value is the whole data. No arguments send {}\n"
    "(ping without arguments sends m=pong: the device answers R:pong).\n";

static const char call_after[] =
    "LINK: tcp://HOST[:PORT], HOST[:PORT], unix:///PATH, serial:///DEV?baud=N&mode=lossy (man swarm)\n"
    "exit status: 0 ok, 1 the device answered with an error, 2 usage, 3 link, 4 timeout, 130 Ctrl-C\n"
    "\n"
    "examples:\n"
    "  swarm call tcp://192.168.1.20 sys.info\n"
    "  swarm call localhost ping m=hello\n"
    "  swarm call --json localhost sys.cfg '{\"p\": [\"wdt\"]}'\n"
    "  swarm call --every 1s --count 5 localhost sys.mem\n";

static const char eval_usage[] = "usage: swarm eval [options] LINK CODE\n";

static const char eval_about[] =
    "Runs the Lua CODE on the device (sys.eval) in the running app's environment and prints the\n"
    "result as Lua shows it (its repr). An expression is tried first, as in the Lua REPL, so\n"
    "'1 + 1' prints 2; statements work too ('x = 5'). CODE '-' is read from standard input.\n"
    "What the code prints (print, swarm.log) is shown first, like mpremote exec: the app's\n"
    "lines in the device's log while it ran (other tasks' prints meanwhile show too).\n"
    "A Lua error is printed on stderr with exit status 1.\n";

static const char eval_after[] =
    "examples:\n"
    "  swarm eval localhost '1 + 1'\n"
    "  swarm eval localhost 'swarm.config(\"wdt\")'\n"
    "  swarm eval localhost - < script.lua\n";

///////////////////////////////////////////////////////////////////////////////////////////////
// Streams (--every)

typedef struct stream_run {
    const sw_cli_t *cli;
    uv_loop_t *loop;
    sw_hlink_t *l;
    const char *path;
    int64_t seq;
    uint64_t count, got;
    uint32_t wait_ms;   // longest silence accepted between values
    uv_signal_t sig;
    uv_timer_t quiet;   // fires when no value came for wait_ms
    int status;         // exit status once done
    bool done;
} stream_run_t;

// Stops the stream (cancel {i} to the device), stops listening, and lets the loop wind down.
static void stream_done(stream_run_t *s, int status)
{
    if (s->done)
        return;
    s->done = true;
    s->status = status;
    if (s->seq > 0)
        sw_hlink_cancel(s->l, s->seq);
    uv_close((uv_handle_t *)&s->sig, NULL);
    uv_close((uv_handle_t *)&s->quiet, NULL);
    sw_hlink_close(s->l); // flushes the cancel before the connection closes
}

static void print_stream_value(const sw_cli_t *cli, const sw_msg_t *m)
{
    if (!cli->json) {
        sw_cli_print_value(cli, stdout, m->d.p, m->d.n);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *d = sw_mp_to_json(m->d.p, m->d.n, NULL);
    if (!o || !d) {
        cJSON_Delete(o);
        cJSON_Delete(d);
        printf("{\"n\": %lld, \"d\": null}\n", (long long)m->n);
        fflush(stdout);
        return;
    }
    cJSON_AddNumberToObject(o, "n", (double)m->n);
    cJSON_AddItemToObject(o, "d", d);
    char *t = cJSON_PrintUnformatted(o);
    if (t)
        printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
    fflush(stdout);
}

static void on_quiet(uv_timer_t *t)
{
    stream_run_t *s = t->data;
    char name[300];
    sw_uri_format(sw_hlink_uri(s->l), name, sizeof name);
    sw_cli_error(s->cli, "call", "%s: no value from %s for %.1f s", name, s->path,
                 s->wait_ms / 1000.0);
    stream_done(s, SW_EXIT_TIMEOUT);
}

static void on_value(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    stream_run_t *s = u;
    if (s->done)
        return;
    if (!m) {
        s->seq = 0;
        stream_done(s, sw__cli_call_failed(s->cli, "call", l, err, NULL));
        return;
    }
    switch (m->kind) {
    case SW_MSG_STREAM:
    case SW_MSG_REPLY: // a device that answers once instead of streaming
        print_stream_value(s->cli, m);
        s->got++;
        if (m->kind == SW_MSG_REPLY) {
            s->seq = 0;
            stream_done(s, SW_EXIT_OK);
        } else if (s->count && s->got >= s->count) {
            stream_done(s, SW_EXIT_OK);
        } else if (s->wait_ms) {
            uv_timer_again(&s->quiet);
        }
        break;
    case SW_MSG_ERROR: {
        char text[1024];
        sw_mpr_t r;
        sw_mpr_init(&r, m->e.p, m->e.n);
        sw_span_t e;
        if (sw_mpr_str(&r, &e))
            snprintf(text, sizeof text, "%.*s", (int)(e.n > 1000 ? 1000 : e.n), (const char *)e.p);
        else
            snprintf(text, sizeof text, "(error value not a string)");
        s->seq = 0;
        stream_done(s, sw__cli_call_failed(s->cli, "call", l, SW_EREMOTE, text));
        break;
    }
    case SW_MSG_END:
        s->seq = 0;
        stream_done(s, SW_EXIT_OK);
        break;
    default:
        break;
    }
}

static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    stream_run_t *s = h->data;
    if (!s->cli->quiet && s->cli->tty_err)
        fputc('\n', stderr);
    stream_done(s, SW_EXIT_INTERRUPT);
}

static int run_stream(const sw_cli_t *c, uv_loop_t *loop, sw_hlink_t *l, const char *path,
                      sw_span_t d, uint64_t every, uint64_t count)
{
    stream_run_t s;
    memset(&s, 0, sizeof s);
    s.cli = c;
    s.loop = loop;
    s.l = l;
    s.path = path;
    s.count = count;
    uv_signal_init(loop, &s.sig);
    s.sig.data = &s;
    uv_signal_start(&s.sig, on_sigint, SIGINT);
    uv_timer_init(loop, &s.quiet);
    s.quiet.data = &s;
    if (c->timeout_ms) {
        uint64_t w = (uint64_t)c->timeout_ms + every;
        s.wait_ms = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
        uv_timer_start(&s.quiet, on_quiet, s.wait_ms, s.wait_ms);
    }
    int64_t seq = sw_hlink_call(l, path, d, (int64_t)every, on_value, &s);
    if (seq < 0) {
        s.seq = 0;
        sw_cli_error(c, "call", "cannot send %s: %s", path,
                     seq == SW_ECLOSED ? sw_hlink_error(l) : sw_strerror((int)seq));
        stream_done(&s, sw_cli_exit_for((int)seq));
    } else {
        s.seq = seq;
    }
    uv_run(loop, UV_RUN_DEFAULT); // until the link and our handles are closed
    uv_loop_close(loop);
    return s.status;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// _dir as a tree

#define DIR_DEPTH 8      // levels followed below the one asked for
#define DIR_ENTRIES 4096 // names printed at most (a device is not trusted to be small)

// The help text of name in a _dir reply's "h" map ("" if none).
static void dir_help(const uint8_t *p, size_t n, sw_span_t name, char *out, size_t cap)
{
    out[0] = 0;
    sw_span_t h;
    if (sw_mp_map_get(p, n, "h", &h))
        return;
    sw_mpr_t r;
    sw_mpr_init(&r, h.p, h.n);
    uint32_t pairs;
    if (!sw_mpr_map(&r, &pairs))
        return;
    for (uint32_t i = 0; i < pairs; i++) {
        sw_span_t k, v;
        if (!sw_mpr_str(&r, &k))
            return;
        if (k.n == name.n && !memcmp(k.p, name.p, k.n) && sw_mpr_str(&r, &v)) {
            snprintf(out, cap, "%.*s", (int)v.n, (const char *)v.p);
            return;
        }
        if (sw_mpr_span(&r, &v))
            return;
    }
}

// Control characters a device sends must not reach the terminal as such.
static void no_controls(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

// Prints the names of one _dir reply (commands, then directories with what is under them),
// indented by depth. Returns 0 or an exit status.
static int dir_tree(const sw_cli_t *c, sw_hlink_t *l, const char *prefix, int depth,
                    unsigned *left, bool paths)
{
    char path[600];
    snprintf(path, sizeof path, "%s%s_dir", prefix, prefix[0] ? "." : "");
    size_t cap = sw_hlink_max_msg(l);
    uint8_t *res = malloc(cap ? cap : 1);
    if (!res)
        return SW_EXIT_LOCAL;
    sw_mpw_t out;
    sw_mpw_init(&out, res, cap);
    char text[1024];
    uint8_t empty = 0x80;
    int e = sw_hlink_call_sync(l, path, (sw_span_t){&empty, 1}, c->timeout_ms, &out, text,
                               sizeof text);
    if (e) {
        free(res);
        return sw__cli_call_failed(c, "call", l, e, text);
    }
    int rc = 0;
    const char *keys[2] = {"c", "d"};
    for (int k = 0; k < 2 && !rc; k++) {
        sw_span_t list;
        if (sw_mp_map_get(res, out.len, keys[k], &list))
            continue;
        sw_mpr_t r;
        sw_mpr_init(&r, list.p, list.n);
        uint32_t items;
        if (!sw_mpr_array(&r, &items))
            continue;
        for (uint32_t i = 0; i < items && !rc; i++) {
            sw_span_t name;
            if (!sw_mpr_str(&r, &name) || !name.n || name.n > 64 || memchr(name.p, '.', name.n))
                break;
            if (!*left) {
                printf("%*s… (more than %u names: stopped)\n", depth * 2, "", DIR_ENTRIES);
                rc = -1;
                break;
            }
            (*left)--;
            char help[300], label[80];
            dir_help(res, out.len, name, help, sizeof help);
            snprintf(label, sizeof label, "%.*s%s", (int)name.n, (const char *)name.p, k ? "/" : "");
            no_controls(label);
            no_controls(help);
            int w = 20 - depth * 2;
            if (!paths) // the tree; or only the dotted paths of the commands (completion)
                printf("%*s%-*s %s\n", depth * 2, "", w < 1 ? 1 : w, label, help);
            else if (k == 0)
                printf("%s%s%s\n", prefix, prefix[0] ? "." : "", label);
            if (k == 1 && depth < DIR_DEPTH) {
                char sub[600];
                snprintf(sub, sizeof sub, "%s%s%.*s", prefix, prefix[0] ? "." : "", (int)name.n,
                         (const char *)name.p);
                rc = dir_tree(c, l, sub, depth + 1, left, paths);
            }
        }
    }
    free(res);
    return rc;
}

int sw__cli_dir_paths(const sw_cli_t *c, const char *link)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    sw_hlink_t *l;
    int rc = sw__cli_connect(c, "call", &loop, link, &l);
    unsigned left = DIR_ENTRIES;
    if (!rc)
        rc = dir_tree(c, l, "", 0, &left, true);
    fflush(stdout);
    sw__cli_finish(&loop, l);
    return rc < 0 ? 0 : rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// call

int sw_cli_call(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    uint64_t every = 0, count = 0;
    const sw_opt_t opts[] = {
        {.kind = SW_OPT_DURATION, .name = "every", .arg = "TIME", .dst = &every,
         .size = sizeof every, .min = 1, .max = 86400000, .flags = SW_OPT_F_LEGACY_MS,
         .help = "open a stream: the device sends a value every TIME (e.g. 500ms); each is "
                 "printed on its own line (--json: {\"n\": counter, \"d\": value}) until Ctrl-C, "
                 "which cancels the stream on the device (exit status 130)"},
        SW_OPT_UINT_("count", NULL, "N", &count, 1, UINT64_MAX, NULL,
                     "with --every: stop after N values (the stream is cancelled too)"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const pos[] = {"LINK", "PATH", "ARGS...", NULL};
    sw_cli_spec_t spec = {.cmd = "call", .usage = call_usage, .about = call_about,
                          .opts = opts, .globals = "--timeout: per reply",
                          .after = call_after, .pos = pos};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    char **pos_ = spec.arg;
    int npos = spec.narg;
    if (count && !every)
        return sw__cli_usage(&c, "call", "--count needs --every");
    const char *path = pos_[1];
    if (!*path || path[0] == '.' || path[strlen(path) - 1] == '.' || strstr(path, ".."))
        return sw__cli_usage(&c, "call", "bad PATH '%s' (dotted names, e.g. sys.info)", path);

    static uint8_t args[1 << 16];
    sw_mpw_t w;
    sw_mpw_init(&w, args, sizeof args);
    char err[512];
    if (sw_cli_parse_args(npos - 2, pos_ + 2, &w, err, sizeof err))
        return sw__cli_usage(&c, "call", "%s", err);
    if (npos == 2 && !strcmp(path, "ping")) {
        // the device echoes m as "R:" + str(m) (MoaT's rule): without one it would say
        // R:None, which reads like a failure; a bare ping is a liveness check: R:pong
        sw_mpw_init(&w, args, sizeof args);
        sw_mpw_map(&w, 1);
        sw_mpw_cstr(&w, "m"), sw_mpw_cstr(&w, "pong");
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    sw_hlink_t *l;
    rc = sw__cli_connect(&c, "call", &loop, pos_[0], &l);
    if (rc) {
        sw__cli_finish(&loop, l);
        return rc;
    }
    sw_span_t d = {args, w.len};
    if (every)
        return run_stream(&c, &loop, l, path, d, every, count);

    size_t plen = strlen(path);
    if (!c.json && npos == 2 && plen >= 4 && !strcmp(path + plen - 4, "_dir") &&
        (plen == 4 || path[plen - 5] == '.')) {
        // a readable tree of everything under PATH's directory (--json: the raw reply)
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%.*s", plen > 4 ? (int)(plen - 5) : 0, path);
        unsigned left = DIR_ENTRIES;
        rc = dir_tree(&c, l, prefix, 0, &left, false);
        fflush(stdout);
        sw__cli_finish(&loop, l);
        return rc < 0 ? 0 : rc;
    }
    size_t cap = sw_hlink_max_msg(l);
    uint8_t *res = malloc(cap ? cap : 1);
    sw_mpw_t out;
    sw_mpw_init(&out, res, cap);
    char text[1024];
    int e = res ? sw_hlink_call_sync(l, path, d, c.timeout_ms, &out, text, sizeof text) : SW_EFULL;
    if (e == 0)
        sw_cli_print_value(&c, stdout, res, out.len);
    else
        rc = sw__cli_call_failed(&c, "call", l, e, text);
    free(res);
    sw__cli_finish(&loop, l);
    return rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// eval

static char *read_stdin(size_t *n)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + len, 1, cap - len, stdin);
        len += k;
        if (k == 0)
            break;
        if (len == cap) {
            if (cap >= (1u << 20)) // larger than any message
                break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
    }
    *n = len;
    return buf;
}

// What the code prints: print() and swarm.log write log lines "<time> I <source>: text",
// the source being the running app (or "lua" without one). The node's log (sys.log) is read
// from where it ended before the eval (the mark) to where it ends after; lines of that source
// are the output, like mpremote exec's stdout (other tasks of the app printing meanwhile
// show too). A device without sys.log (micro-swarm) shows none.
typedef sw_eval_out_t eval_out_t;

#define EVAL_OUT_MAX (1u << 20) // bytes of output read back at most

static int small_call(const sw_cli_t *c, sw_hlink_t *l, const char *path, const uint8_t *arg,
                      size_t argn, uint8_t *res, size_t cap, size_t *n)
{
    sw_mpw_t out;
    sw_mpw_init(&out, res, cap);
    char text[300];
    int e = sw_hlink_call_sync(l, path, (sw_span_t){arg, argn}, c->timeout_ms, &out, text, sizeof text);
    *n = out.len;
    return e;
}

void sw__cli_eval_mark(const sw_cli_t *c, sw_hlink_t *l, eval_out_t *eo)
{
    memset(eo, 0, sizeof *eo);
    size_t cap = sw_hlink_max_msg(l), n;
    uint8_t *res = malloc(cap ? cap : 1);
    uint8_t none = 0x80, zero[] = {0x81, 0xa1, 'n', 0x00}; // {} and {"n": 0}
    if (!res)
        return;
    if (!small_call(c, l, "sys.info", &none, 1, res, cap, &n)) {
        sw_span_t v, s;
        sw_mpr_t r;
        if (!sw_mp_map_get(res, n, "app_name", &v)) {
            sw_mpr_init(&r, v.p, v.n);
            if (sw_mpr_str(&r, &s) && s.n < sizeof eo->app)
                snprintf(eo->app, sizeof eo->app, "%.*s", (int)s.n, (const char *)s.p);
        }
    }
    sw_span_t text;
    if (!small_call(c, l, "sys.log", zero, sizeof zero, res, cap, &n) && sw__cli_log_chunk(res, n, &text, &eo->mark))
        eo->on = true;
    free(res);
}

// Prints (or, with --json, collects into arr) the eval's output lines.
void sw__cli_eval_show(const sw_cli_t *c, sw_hlink_t *l, const eval_out_t *eo, cJSON *arr)
{
    if (!eo->on)
        return;
    size_t cap = sw_hlink_max_msg(l), n, len = 0;
    uint8_t *res = malloc(cap ? cap : 1);
    char *all = NULL;
    uint64_t pos = eo->mark;
    while (res && len < EVAL_OUT_MAX) {
        uint8_t arg[32];
        sw_mpw_t w;
        sw_mpw_init(&w, arg, sizeof arg);
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "p"), sw_mpw_uint(&w, pos);
        sw_mpw_cstr(&w, "n"), sw_mpw_uint(&w, cap / 2);
        sw_span_t text;
        uint64_t next;
        if (small_call(c, l, "sys.log", arg, w.len, res, cap, &n) || !sw__cli_log_chunk(res, n, &text, &next))
            break;
        if (text.n) {
            char *na = realloc(all, len + text.n + 1);
            if (!na)
                break;
            all = na;
            memcpy(all + len, text.p, text.n);
            len += text.n;
            all[len] = 0;
        }
        if (next == pos || !text.n)
            break;
        pos = next;
    }
    free(res);
    if (!all)
        return;
    // "   12.345 I src: text": the eval's source is the app, or "lua" when none runs
    for (char *line = all, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *p = line;
        while (*p == ' ')
            p++;
        while ((*p >= '0' && *p <= '9') || *p == '.')
            p++;
        if (p[0] != ' ' || !(p[1] == 'I' || p[1] == 'W') || p[2] != ' ')
            continue;
        p += 3;
        size_t src = strcspn(p, ":");
        bool ours = (eo->app[0] && src == strlen(eo->app) && !strncmp(p, eo->app, src)) ||
                    (src == 3 && !strncmp(p, "lua", 3));
        if (!ours || p[src] != ':' || p[src + 1] != ' ')
            continue;
        const char *out = p + src + 2;
        if (arr) {
            cJSON_AddItemToArray(arr, cJSON_CreateString(out));
        } else {
            for (const char *q = out; *q; q++) // a device's text: no control characters
                fputc((unsigned char)*q < 0x20 && *q != '\t' ? '?' : *q, stdout);
            fputc('\n', stdout);
        }
    }
    fflush(stdout);
    free(all);
}

void sw__cli_eval_print(const sw_cli_t *c, const uint8_t *p, size_t n, cJSON *out)
{
    // the reply is [value, repr]
    sw_mpr_t r;
    sw_mpr_init(&r, p, n);
    uint32_t items;
    sw_span_t value, repr = {NULL, 0}, rs;
    if (!sw_mpr_array(&r, &items) || items != 2 || sw_mpr_span(&r, &value) ||
        sw_mpr_span(&r, &repr)) {
        sw_cli_print_value(c, stdout, p, n); // not what we expected: show it as it is
        cJSON_Delete(out);
        return;
    }
    if (!c->json) {
        sw_mpr_t rr;
        sw_mpr_init(&rr, repr.p, repr.n);
        if (sw_mpr_str(&rr, &rs)) {
            sw__esc_write(stdout, rs.p, rs.n, SW_ESC_KEEP_NL);
            fputc('\n', stdout);
            fflush(stdout);
        } else {
            sw_cli_print_value(c, stdout, repr.p, repr.n);
        }
        cJSON_Delete(out);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *jv = sw_mp_to_json(value.p, value.n, NULL);
    cJSON *jr = sw_mp_to_json(repr.p, repr.n, NULL);
    if (o && jv && jr) {
        cJSON_AddItemToObject(o, "value", jv);
        cJSON_AddItemToObject(o, "repr", jr);
        if (out)
            cJSON_AddItemToObject(o, "out", out);
        out = NULL;
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            printf("%s\n", t);
        cJSON_free(t);
    } else {
        cJSON_Delete(jv);
        cJSON_Delete(jr);
    }
    cJSON_Delete(out);
    cJSON_Delete(o);
    fflush(stdout);
}

int sw_cli_eval(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    const sw_opt_t opts[] = {SW_OPT_HELP_, SW_OPT_END_};
    static const char *const names[] = {"LINK", "CODE", NULL};
    sw_cli_spec_t spec = {.cmd = "eval", .usage = eval_usage, .about = eval_about,
                          .opts = opts,
                          .globals = "--json prints {\"value\": <the value as JSON>, \"repr\": "
                                     "\"<repr>\", \"out\": [<printed lines>]}",
                          .after = eval_after, .pos = names,
                          .too_many = "quote the code: swarm eval LINK 'x = 1'"};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    const char *pos[2] = {spec.arg[0], spec.arg[1]};
    size_t n;
    char *code;
    if (!strcmp(pos[1], "-")) {
        code = read_stdin(&n);
        if (!code) {
            sw_cli_error(&c, "eval", "cannot read the code from standard input");
            return SW_EXIT_LOCAL;
        }
    } else {
        code = strdup(pos[1]);
        n = code ? strlen(code) : 0;
    }
    size_t cap = n + 64;
    uint8_t *args = malloc(cap);
    if (!code || !args) {
        free(code);
        free(args);
        sw_cli_error(&c, "eval", "out of memory");
        return SW_EXIT_LOCAL;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, args, cap);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "code");
    sw_mpw_str(&w, code, n);
    free(code);

    uv_loop_t loop;
    uv_loop_init(&loop);
    sw_hlink_t *l;
    rc = sw__cli_connect(&c, "eval", &loop, pos[0], &l);
    if (rc == 0) {
        size_t rcap = sw_hlink_max_msg(l);
        uint8_t *res = malloc(rcap ? rcap : 1);
        sw_mpw_t out;
        sw_mpw_init(&out, res, rcap);
        char text[1024];
        sw_span_t d = {args, w.len};
        eval_out_t eo;
        sw__cli_eval_mark(&c, l, &eo);
        int e = res ? sw_hlink_call_sync(l, "sys.eval", d, c.timeout_ms, &out, text, sizeof text)
                    : SW_EFULL;
        // what it printed comes first, then its value (also after a Lua error)
        cJSON *printed = c.json && eo.on ? cJSON_CreateArray() : NULL;
        sw__cli_eval_show(&c, l, &eo, printed);
        if (e == 0)
            sw__cli_eval_print(&c, res, out.len, printed);
        else {
            cJSON_Delete(printed);
            rc = sw__cli_call_failed(&c, "eval", l, e, text);
        }
        free(res);
    }
    free(args);
    sw__cli_finish(&loop, l);
    return rc;
}
