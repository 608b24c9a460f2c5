// swarm CLI conventions (cli.h): error lines and exit codes, command arguments (key=value /
// JSON) into MsgPack, printing values for people or scripts, the progress bar, and connecting
// a one-shot command's link with useful messages.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "hsec.h"
#include "mpjson.h"
#include "scan.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Errors and exit codes

// With --json, what goes to stderr is JSON too: one object per line, {key: text} (+ command).
static void json_line(const char *key, const char *cmd, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof text, fmt, ap);
    cJSON *o = cJSON_CreateObject();
    char *t = NULL;
    if (o && cJSON_AddStringToObject(o, key, text) && (!cmd || cJSON_AddStringToObject(o, "command", cmd)))
        t = cJSON_PrintUnformatted(o);
    if (t)
        fprintf(stderr, "%s\n", t);
    else
        fprintf(stderr, "{\"%s\": \"(out of memory)\"}\n", key);
    cJSON_free(t);
    cJSON_Delete(o);
}

static void json_linef(const char *key, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void json_linef(const char *key, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_line(key, cmd, fmt, ap);
    va_end(ap);
}

const char *sw__cli_col(const sw_cli_t *c, bool on_stderr, sw_col_t k)
{
    static const char *const sgr[] = {"\033[0m", "\033[1;31m", "\033[32m", "\033[33m", "\033[36m",
                                      "\033[1m"};
    if (!c || !(on_stderr ? c->color_err : c->color_out) || (unsigned)k >= sizeof sgr / sizeof sgr[0])
        return "";
    return sgr[k];
}

// The rest of a message line for people: it quotes what devices sent (names, error texts,
// config keys), so it is one line with control bytes escaped (docs/SECURITY.md, "Terminals").
static void esc_line(const char *fmt, va_list ap)
{
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    if (n >= 0)
        sw__esc_write(stderr, (const uint8_t *)msg, (size_t)n, 0);
    free(msg);
    fputc('\n', stderr);
}

static void esc_linef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void esc_linef(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    esc_line(fmt, ap);
    va_end(ap);
}

static void verror(const sw_cli_t *cli, const char *cmd, const char *fmt, va_list ap)
{
    const char *prog = cli && cli->prog ? cli->prog : "swarm";
    if (cli && cli->json) {
        json_line("error", cmd ? cmd : prog, fmt, ap);
        return;
    }
    if (cmd)
        fprintf(stderr, "%s%s %s:%s ", sw__cli_col(cli, true, SW_COL_RED), prog, cmd,
                sw__cli_col(cli, true, SW_COL_OFF));
    else
        fprintf(stderr, "%s%s:%s ", sw__cli_col(cli, true, SW_COL_RED), prog,
                sw__cli_col(cli, true, SW_COL_OFF));
    esc_line(fmt, ap);
}

void sw_cli_error(const sw_cli_t *cli, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(cli, cmd, fmt, ap);
    va_end(ap);
}

void sw__cli_hint(const sw_cli_t *c, const char *fmt, ...)
{
    if (c && c->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (c && c->json) {
        json_line("hint", NULL, fmt, ap);
    } else {
        fprintf(stderr, "%shint:%s ", sw__cli_col(c, true, SW_COL_CYAN), sw__cli_col(c, true, SW_COL_OFF));
        esc_line(fmt, ap);
    }
    va_end(ap);
}

void sw__cli_warn(const sw_cli_t *c, const char *cmd, const char *fmt, ...)
{
    if (c && c->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (c && c->json) {
        json_line("warning", cmd, fmt, ap);
    } else {
        fprintf(stderr, "%s %s: %swarning:%s ", c && c->prog ? c->prog : "swarm", cmd,
                sw__cli_col(c, true, SW_COL_YELLOW), sw__cli_col(c, true, SW_COL_OFF));
        esc_line(fmt, ap);
    }
    va_end(ap);
}

void sw__cli_did_you_mean(const sw_cli_t *c, const char *prefix, const char *name)
{
    if (c && c->json)
        json_linef("did_you_mean", NULL, "%s%s", prefix ? prefix : "", name);
    else
        esc_linef("did you mean '%s%s'?", prefix ? prefix : "", name); // (a device's name, maybe)
}

void sw__cli_see_help(const sw_cli_t *c, const char *cmd)
{
    const char *prog = c && c->prog ? c->prog : "swarm";
    if (c && c->json)
        json_linef("hint", NULL, "see '%s%s%s --help'", prog, cmd ? " " : "", cmd ? cmd : "");
    else
        fprintf(stderr, "see '%s%s%s --help'\n", prog, cmd ? " " : "", cmd ? cmd : "");
}

int sw__cli_usage(const sw_cli_t *c, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror(c, cmd, fmt, ap);
    va_end(ap);
    sw__cli_see_help(c, cmd);
    return SW_EXIT_USAGE;
}

int sw_cli_exit_for(int err)
{
    switch (err) {
    case SW_OK: return SW_EXIT_OK;
    case SW_EREMOTE: return SW_EXIT_REMOTE;
    case SW_EINVAL: return SW_EXIT_USAGE;
    case SW_ETIMEDOUT: return SW_EXIT_TIMEOUT;
    case SW_ECANCELED: return SW_EXIT_INTERRUPT;
    case SW_ECLOSED: case SW_EIO: case SW_EPROTO: case SW_ECRC: case SW_EBUSY: case SW_ENOTSUP:
    case SW_EAUTH:
        return SW_EXIT_LINK;
    default: // ENOENT, EPERM, EEXIST, EISDIR, ENOTDIR, ENOTEMPTY, EFULL, ETOOBIG, …
        return SW_EXIT_LOCAL;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Options (the parser itself: cli_opt.c)

bool sw__cli_is_opt(const char *a)
{
    if (a[0] != '-' || a[1] == 0)
        return false;
    if ((a[1] >= '0' && a[1] <= '9') || (a[1] == '.' && a[2] >= '0' && a[2] <= '9'))
        return false; // a negative number is a value
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Arguments

// An integer literal written exactly (cJSON would round it through a double).
static bool exact_int(const char *s, sw_mpw_t *w)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (!*d || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]))
        return false;
    errno = 0;
    if (s[0] == '-') {
        long long v = strtoll(s, NULL, 10);
        if (errno)
            return false;
        sw_mpw_int(w, v);
    } else {
        unsigned long long v = strtoull(s, NULL, 10);
        if (errno)
            return false;
        sw_mpw_uint(w, v);
    }
    return true;
}

int sw__cli_value(const char *s, sw_mpw_t *w)
{
    if (exact_int(s, w))
        return w->err;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(s, &end, true);
    if (!j) {
        sw_mpw_cstr(w, s);
        return w->err;
    }
    size_t mark = sw_mpw_mark(w);
    int rc = sw_json_to_mp(j, w);
    cJSON_Delete(j);
    if (rc == SW_EINVAL) { // JSON, but not a value we can send (e.g. a bad tagged object)
        sw_mpw_rewind(w, mark);
        sw_mpw_cstr(w, s);
        return w->err;
    }
    return rc;
}

// "key=value" with a key that looks like a name (so a bare JSON value is never taken apart).
static const char *kv_split(const char *a)
{
    const char *eq = strchr(a, '=');
    if (!eq || eq == a)
        return NULL;
    for (const char *p = a; p < eq; p++)
        if (!(*p == '_' || *p == '-' || *p == '.' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return NULL;
    return eq;
}

int sw_cli_parse_args(int argc, char **argv, sw_mpw_t *w, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    if (argc <= 0) {
        sw_mpw_map(w, 0);
        return w->err;
    }
    int kv = 0;
    for (int i = 0; i < argc; i++)
        kv += kv_split(argv[i]) != NULL;
    if (kv == 0) {
        if (argc > 1) {
            snprintf(err, errcap, "more than one bare value ('%s', '%s', …): give key=value "
                     "pairs or one JSON value", argv[0], argv[1]);
            return SW_EINVAL;
        }
        int rc = sw__cli_value(argv[0], w);
        if (rc)
            snprintf(err, errcap, "cannot encode '%s': %s", argv[0], sw_strerror(rc));
        return rc;
    }
    if (kv != argc) {
        for (int i = 0; i < argc; i++)
            if (!kv_split(argv[i]))
                snprintf(err, errcap, "'%s' is not key=value (a bare JSON value cannot be "
                         "mixed with key=value pairs)", argv[i]);
        return SW_EINVAL;
    }
    for (int i = 0; i < argc; i++)
        for (int k = 0; k < i; k++) {
            size_t a = (size_t)(kv_split(argv[i]) - argv[i]), b = (size_t)(kv_split(argv[k]) - argv[k]);
            if (a == b && !memcmp(argv[i], argv[k], a)) {
                snprintf(err, errcap, "key '%.*s' given twice", (int)a, argv[i]);
                return SW_EINVAL;
            }
        }
    sw_mpw_map(w, (uint32_t)argc);
    for (int i = 0; i < argc; i++) {
        const char *eq = kv_split(argv[i]);
        sw_mpw_str(w, argv[i], (size_t)(eq - argv[i]));
        int rc = sw__cli_value(eq + 1, w);
        if (rc) {
            snprintf(err, errcap, "cannot encode '%s': %s", argv[i], sw_strerror(rc));
            return rc;
        }
    }
    if (w->err)
        snprintf(err, errcap, "arguments too large");
    return w->err;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Printing

// Text of a JSON item on one line, with a space after ',' and ':' (people read this form).
static void flat(const cJSON *j, FILE *f)
{
    bool obj = cJSON_IsObject(j);
    if (!obj && !cJSON_IsArray(j)) {
        char *t = cJSON_PrintUnformatted(j);
        fputs(t ? t : "null", f);
        cJSON_free(t);
        return;
    }
    fputc(obj ? '{' : '[', f);
    for (const cJSON *c = j->child; c; c = c->next) {
        if (obj) {
            cJSON *key = cJSON_CreateString(c->string ? c->string : "");
            char *k = key ? cJSON_PrintUnformatted(key) : NULL;
            fprintf(f, "%s: ", k ? k : "\"\"");
            cJSON_free(k);
            cJSON_Delete(key);
        }
        flat(c, f);
        if (c->next)
            fputs(", ", f);
    }
    fputc(obj ? '}' : ']', f);
}

static size_t flat_len(const cJSON *j)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        return SIZE_MAX;
    flat(j, m);
    fclose(m);
    free(buf);
    return n;
}

// Indented JSON with two spaces; containers that fit on a line stay on one line.
static void pretty(FILE *f, const cJSON *j, int indent)
{
    bool obj = cJSON_IsObject(j);
    if ((!obj && !cJSON_IsArray(j)) || !j->child || flat_len(j) + (size_t)indent <= 78) {
        flat(j, f);
        return;
    }
    fputc(obj ? '{' : '[', f);
    for (const cJSON *c = j->child; c; c = c->next) {
        fprintf(f, "\n%*s", indent + 2, "");
        if (obj) {
            cJSON *key = cJSON_CreateString(c->string ? c->string : "");
            char *k = key ? cJSON_PrintUnformatted(key) : NULL;
            fprintf(f, "%s: ", k ? k : "\"\"");
            cJSON_free(k);
            cJSON_Delete(key);
        }
        pretty(f, c, indent + 2);
        if (c->next)
            fputc(',', f);
    }
    fprintf(f, "\n%*s%c", indent, "", obj ? '}' : ']');
}

void sw_cli_print_value(const sw_cli_t *cli, FILE *f, const uint8_t *p, size_t n)
{
    if (!cli->json) {
        sw_mpr_t r;
        sw_mpr_init(&r, p, n);
        sw_span_t s;
        if (sw_mpr_peek(&r) == SW_MP_STR && sw_mpr_str(&r, &s) && sw_mpr_done(&r)) {
            // a text answer as text, its lines kept, anything a terminal would obey escaped
            sw__esc_write(f, s.p, s.n, SW_ESC_KEEP_NL);
            if (!s.n || s.p[s.n - 1] != '\n')
                fputc('\n', f);
            fflush(f);
            return;
        }
    }
    int err = 0;
    cJSON *j = sw_mp_to_json(p, n, &err);
    if (!j) {
        fprintf(f, "(unreadable value: %s)\n", sw_strerror(err));
        fflush(f);
        return;
    }
    if (cli->json) {
        char *t = cJSON_PrintUnformatted(j);
        if (t)
            fprintf(f, "%s\n", t);
        cJSON_free(t);
    } else {
        pretty(f, j, 0);
        fputc('\n', f);
    }
    cJSON_Delete(j);
    fflush(f);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Progress

uint64_t sw__cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sw__cli_bytes(char *buf, size_t cap, double v)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void draw(sw_progress_t *p, uint64_t now, bool final)
{
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0.05 ? (double)p->done / secs : 0;
    char done[32], total[32], r[32], eta[32] = "";
    sw__cli_bytes(done, sizeof done, (double)p->done);
    sw__cli_bytes(total, sizeof total, (double)p->total);
    sw__cli_bytes(r, sizeof r, rate);
    double share = p->total ? 100.0 * (double)p->done / (double)p->total : 0;
    int pct = share < 100 ? (int)share : 100; // clamped before the conversion (no overflow)
    if (!final && rate > 0 && p->total > p->done) {
        double left = (double)(p->total - p->done) / rate;
        if (left < 360000)
            snprintf(eta, sizeof eta, " ETA %d:%02d", (int)left / 60, (int)left % 60);
    } else if (final) {
        snprintf(eta, sizeof eta, " in %.1f s", secs);
    }
    char bar[21];
    int fill = pct / 5;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    fprintf(stderr, "\r%s [%s] %3d%% %s/%s %s/s%s\033[K", p->label ? p->label : "", bar, pct,
            done, total, r, eta);
    fflush(stderr);
    p->shown = true;
}

void sw_progress_start(sw_progress_t *p, const sw_cli_t *cli, const char *label, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->cli = cli;
    p->label = label;
    p->total = total;
    p->start_ms = p->last_ms = sw__cli_now_ms();
}

static bool progress_on(const sw_progress_t *p)
{
    return p->cli && p->cli->tty_err && !p->cli->quiet;
}

void sw_progress_update(sw_progress_t *p, uint64_t done)
{
    p->done = done;
    if (!progress_on(p))
        return;
    uint64_t now = sw__cli_now_ms();
    if (now - p->last_ms < 100 && p->shown) // at most ~10 redraws a second
        return;
    if (!p->shown && now - p->start_ms < 300) // quick transfers show no bar at all
        return;
    p->last_ms = now;
    draw(p, now, false);
}

void sw_progress_end(sw_progress_t *p, bool ok)
{
    if (!progress_on(p) || !p->shown)
        return;
    if (ok) {
        draw(p, sw__cli_now_ms(), true);
        fputc('\n', stderr);
    } else {
        fputs("\r\033[K", stderr); // the error message that follows says what happened
    }
    fflush(stderr);
    p->shown = false;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Links of one-shot commands

static void on_console(void *u, sw_hlink_t *l, const uint8_t *p, size_t n)
{
    (void)l;
    const sw_cli_t *c = u;
    if (c->verbose) // the device's own output, never mixed with what we print on stdout
        sw__esc_write(stderr, p, n, SW_ESC_KEEP_TTY); // the device's bytes, shown not obeyed
}

static void link_hint(const sw_cli_t *c, const sw_uri_t *u, bool line_opened)
{
    switch (u->kind) {
    case SW_URI_TCP:
        sw__cli_hint(c, "is swarm-node running on %s? default port 27587", u->host);
        break;
    case SW_URI_UNIX:
        sw__cli_hint(c, "is a swarm mux serving %s?", u->path);
        break;
    default:
        if (!line_opened)
            break; // the device file itself failed (missing, locked, not a tty): said already
        if (u->lossy)
            sw__cli_hint(c, "is the device on %s running its link in lossy mode at %u baud "
                         "(swarm-node --serial DEV --lossy)?", u->path, u->baud);
        else
            sw__cli_hint(c, "is the device on %s running its link at %u baud? (lossy lines: "
                         "add ?mode=lossy)", u->path, u->baud);
    }
}

// A name nobody knows: say where it was looked for, what to do, and the closest known name.
static void not_found(const sw_cli_t *c, const char *cmd, const char *host)
{
    sw_cli_error(c, cmd, "'%s' not found (not in the scan cache; neither mDNS nor DNS knows it)",
                 host);
    char **names;
    size_t n;
    sw_scan_cache_names(&names, &n);
    const char *near = n ? sw__cli_suggest(host, (const char *const *)names, n) : NULL;
    if (near && !(c && c->quiet))
        sw__cli_did_you_mean(c, NULL, near);
    sw__cli_hint(c, "run 'swarm scan' to find the devices on the LAN (it remembers their names)%s",
                 n ? "" : "; the scan cache is empty");
    free(names);
}

int sw__cli_connect(const sw_cli_t *c, const char *cmd, uv_loop_t *loop, const char *uri,
                    sw_hlink_t **out)
{
    char err[320];
    sw_hlink_opts_t o;
    sw_hlink_opts_default(&o);
    if (c->timeout_ms && c->timeout_ms < o.connect_timeout_ms)
        o.connect_timeout_ms = c->timeout_ms;
    sw_hlink_cbs_t cbs = {NULL, NULL, on_console, (void *)c};
    *out = NULL;
    int rc = sw_hlink_open(loop, uri, &o, &cbs, out, err, sizeof err);
    if (rc) {
        if (rc == SW_EINVAL)
            return sw__cli_usage(c, cmd, "bad link '%s': %s", uri, err);
        sw_cli_error(c, cmd, "%s", err);
        return SW_EXIT_LOCAL;
    }
    rc = sw_hlink_wait_up(*out, c->timeout_ms);
    if (rc && sw_hlink_unresolved(*out)) {
        not_found(c, cmd, sw_hlink_uri(*out)->host);
        return SW_EXIT_LINK;
    }
    if (rc) {
        sw_cli_error(c, cmd, "%s", sw_hlink_error(*out));
        if (sw_hlink_secure(*out) && sw_hlink_error_code(*out) == SW_EPROTO)
            ; // an open node answered the handshake: the message says what to do
        else if (sw_hlink_error_code(*out) == SW_EAUTH && strstr(sw_hlink_error(*out), "answered in plain"))
            ; // a device known to be locked claims to be open: the message says what to check
        else if (sw_hlink_error_code(*out) == SW_EAUTH)
            sw__cli_hint(c, "the host's key is `swarm key path`; the device got its key from "
                         "`swarm key install`");
        else if (!sw_hlink_secure(*out) || sw_hlink_error_code(*out) != SW_ECLOSED)
            link_hint(c, sw_hlink_uri(*out), sw_hlink_line_opened(*out));
        return SW_EXIT_LINK;
    }
    if (c->verbose)
        fprintf(stderr, "%s %s: connected to %s\n", c->prog ? c->prog : "swarm", cmd, uri);
    return SW_EXIT_OK;
}

bool sw__cli_locked_line(const sw_cli_t *c, const char *cmd, sw_hlink_t *l)
{
    if (!l || !sw_hlink_line_locked(l, SW_HLINK_PROBE_MS))
        return false;
    char name[300];
    sw_uri_format(sw_hlink_uri(l), name, sizeof name);
    sw_cli_error(c, cmd, "%s: the device is locked and this host has no key for it: a locked node "
                 "reads nothing but the authenticated handshake, so nothing was run", name);
    sw__cli_hint(c, "%s", sw_key_missing_hint());
    return true;
}

int sw__cli_call_failed(const sw_cli_t *c, const char *cmd, sw_hlink_t *l, int err,
                        const char *text)
{
    switch (err) {
    case SW_EREMOTE:
        // Through a multiplexer, "the device is unreachable" (or locked, or refused by the
        // host's key) arrives as the mux's error reply: scripts must see the same exit status
        // as when calling the device directly.
        if (text && (!strncmp(text, "ECLOSED:", 8) || !strncmp(text, "EAUTH:", 6))) {
            sw_cli_error(c, cmd, "%s", text);
            return SW_EXIT_LINK;
        }
        sw_cli_error(c, cmd, "node says: %s", text);
        return SW_EXIT_REMOTE;
    case SW_ETIMEDOUT:
        if (sw__cli_locked_line(c, cmd, l)) // silence on a line: a locked node says nothing
            return SW_EXIT_LINK;
        sw_cli_error(c, cmd, "%s", text && *text ? text : "timed out");
        if (l && sw_hlink_uri(l)->kind == SW_URI_SERIAL && !sw_hlink_uri(l)->lossy)
            // a lossless line accepts anything: silence may be a wrong rate
            sw__cli_hint(c, "is the device on %s running its link at %u baud (?baud=N)?",
                         sw_hlink_uri(l)->path, sw_hlink_uri(l)->baud);
        if (c->timeout_ms)
            sw__cli_hint(c, "--timeout S allows more time (now %.1f s)", c->timeout_ms / 1000.0);
        return SW_EXIT_TIMEOUT;
    case SW_ECLOSED:
        sw_cli_error(c, cmd, "%s", text && *text ? text : sw_hlink_error(l));
        if (l && sw_hlink_uri(l)->kind == SW_URI_SERIAL && sw_hlink_uri(l)->lossy && sw_hlink_keyless(l))
            // (the node's reason, "authentication failed", stays inside the Reliable layer)
            sw__cli_hint(c, "a locked node closes the lossy link of a host without its key; if this "
                         "device is locked, copy the fleet key to `swarm key path` (or set "
                         "SWARM_KEY_FILE=FILE)");
        return SW_EXIT_LINK;
    default:
        sw_cli_error(c, cmd, "%s", text && *text ? text : sw_strerror(err));
        return sw_cli_exit_for(err);
    }
}

void sw__cli_finish(uv_loop_t *loop, sw_hlink_t *l)
{
    if (l)
        sw_hlink_close(l);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
}
