// Commands for many devices at once: `swarm fleet` (call, cfg, eval, fs, reboot on the devices a
// selection names: push's scan and selectors), `swarm reboot DEVICE…` and `swarm logs DEVICE…`.
// Each device's command runs as a child process of this same program (the one-device command,
// with --json), up to --parallel at once: every command works exactly as it does for one device,
// and one slow or failing device holds up nobody. The results come one line per device, in
// device order as they complete, then a summary; logs are streamed, each line prefixed by its
// device's name.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli_devs.h"
#include "cli_int.h"
#include "cli_opt.h"

#define OUT_MAX (256u << 10) // bytes of a child's stdout / stderr kept (collect mode)
#define ARGV_MAX 64          // arguments of one child command
#define PAR_DEFAULT 16

typedef struct job job_t;

typedef struct run {
    const sw_cli_t *c;
    const char *cmd;          // "fleet", "reboot", "logs": for messages
    uv_loop_t loop;
    uv_signal_t sig;
    job_t *jobs;
    size_t n, next, running, printed;
    unsigned parallel;
    bool stream;              // logs: lines as they come, prefixed; else one result per device
    bool interrupted;
    int name_w;               // width of the name column
    char exe[4096];
    const char *argv[ARGV_MAX]; // the child command; argv[link_at] is the device's link
    int argc, link_at;
    const char *result_key;   // human output: show this key of the child's JSON (eval: repr)
    const char *ok_text;      // human output when the child printed nothing (reboot: …)
    uint64_t t0;
} run_t;

typedef struct stream_buf {
    char *p;
    size_t n, cap;
    bool cut;                 // more came than OUT_MAX
} stream_buf_t;

struct job {
    run_t *r;
    char name[300];
    char uri[320];
    uv_process_t proc;
    uv_pipe_t out, err;
    stream_buf_t o, e;
    int open;                 // handles still to close (process, pipes)
    bool started, exited, done;
    int64_t status;           // exit status (or 128 + signal)
};

static void buf_add(stream_buf_t *b, const char *p, size_t n)
{
    if (b->n + n > OUT_MAX) {
        b->cut = true;
        n = OUT_MAX - b->n;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->cut = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Output

// Control characters from a device's answer do not reach the terminal as such.
static void put_clean(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        fputc(ch < 0x20 && ch != '\t' ? '?' : ch, f);
    }
}

// The child's error text: the "error" of its first JSON line on stderr, else its first line.
static void error_text(const job_t *j, char *out, size_t cap)
{
    out[0] = 0;
    if (!j->e.n) {
        snprintf(out, cap, "exit status %lld", (long long)j->status);
        return;
    }
    char *line = strndup(j->e.p, strcspn(j->e.p, "\n"));
    cJSON *o = line ? cJSON_Parse(line) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    snprintf(out, cap, "%s", cJSON_IsString(e) ? e->valuestring : line ? line : "");
    cJSON_Delete(o);
    free(line);
}

// The last line of the child's stdout: its one JSON line, or the summary that ends several
// (fs sync: one line per action, then the sum). *n is 0 when it printed nothing.
static const char *last_line(const job_t *j, size_t *n)
{
    size_t e = j->o.n;
    while (e && (j->o.p[e - 1] == '\n' || j->o.p[e - 1] == '\r'))
        e--;
    size_t b = e;
    while (b && j->o.p[b - 1] != '\n')
        b--;
    *n = e - b;
    return j->o.p ? j->o.p + b : "";
}

// The child's result as one line: its stdout (one JSON line), or one key of it (eval: repr).
static void result_text(const run_t *r, const job_t *j, char *out, size_t cap)
{
    size_t n;
    const char *p = last_line(j, &n);
    if (!n) {
        snprintf(out, cap, "%s", r->ok_text ? r->ok_text : "");
        return;
    }
    if (r->result_key) {
        cJSON *o = cJSON_ParseWithLength(p, n);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, r->result_key);
        const cJSON *printed = cJSON_GetObjectItemCaseSensitive(o, "out");
        if (cJSON_IsString(v)) {
            size_t at = 0;
            const cJSON *x;
            cJSON_ArrayForEach(x, printed) // what it printed, then its value
                if (cJSON_IsString(x) && at < cap)
                    at += (size_t)snprintf(out + at, cap - at, "%s | ", x->valuestring);
            if (at < cap)
                snprintf(out + at, cap - at, "%s", v->valuestring);
            cJSON_Delete(o);
            return;
        }
        cJSON_Delete(o);
    }
    snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), p);
}

static void print_result(run_t *r, job_t *j)
{
    const sw_cli_t *c = r->c;
    bool ok = j->started && j->status == 0;
    char text[4096];
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return;
        cJSON_AddStringToObject(o, "device", j->name);
        cJSON_AddStringToObject(o, "uri", j->uri);
        cJSON_AddBoolToObject(o, "ok", ok);
        cJSON_AddNumberToObject(o, "exit", (double)j->status);
        size_t n;
        const char *p = last_line(j, &n);
        cJSON *res = n ? cJSON_ParseWithLength(p, n) : NULL;
        if (!res && n) { // not JSON: the text
            char *t = strndup(p, n);
            res = t ? cJSON_CreateString(t) : NULL;
            free(t);
        }
        cJSON_AddItemToObject(o, "result", res ? res : cJSON_CreateNull());
        if (ok) {
            cJSON_AddNullToObject(o, "error");
        } else {
            error_text(j, text, sizeof text);
            cJSON_AddStringToObject(o, "error", text);
        }
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            printf("%s\n", t);
        cJSON_free(t);
        cJSON_Delete(o);
    } else {
        if (ok)
            result_text(r, j, text, sizeof text);
        else
            error_text(j, text, sizeof text);
        const char *word = ok ? "ok" : j->started ? "failed" : "skipped";
        printf("%-*s  %s%-7s%s  ", r->name_w, j->name,
               sw__cli_col(c, false, ok ? SW_COL_GREEN : SW_COL_RED), word,
               sw__cli_col(c, false, SW_COL_OFF));
        put_clean(stdout, text, strlen(text));
        fputc('\n', stdout);
    }
    fflush(stdout);
}

// Results in device order: each as soon as it and every one before it are done.
static void print_ready(run_t *r)
{
    while (r->printed < r->n && r->jobs[r->printed].done) {
        if (!r->stream)
            print_result(r, &r->jobs[r->printed]);
        r->printed++;
    }
}

// logs: each complete line of a child's output, prefixed by its device's name.
static void stream_lines(run_t *r, job_t *j, stream_buf_t *b, FILE *f, bool flush_all)
{
    if (!b->n)
        return;
    size_t at = 0;
    for (;;) {
        char *nl = memchr(b->p + at, '\n', b->n - at);
        if (!nl && !(flush_all && at < b->n))
            break;
        size_t len = nl ? (size_t)(nl - (b->p + at)) : b->n - at;
        fprintf(f, "%s%-*s%s | ", sw__cli_col(r->c, f == stderr, SW_COL_CYAN), r->name_w, j->name,
                sw__cli_col(r->c, f == stderr, SW_COL_OFF));
        put_clean(f, b->p + at, len);
        fputc('\n', f);
        at += len + (nl ? 1 : 0);
        if (!nl)
            break;
    }
    fflush(f);
    memmove(b->p, b->p + at, b->n - at);
    b->n -= at;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Children

static void start_next(run_t *r);

static void job_check_done(job_t *j)
{
    if (j->open || j->done)
        return;
    run_t *r = j->r;
    if (r->stream) {
        stream_lines(r, j, &j->o, stdout, true);
        stream_lines(r, j, &j->e, stderr, true);
    }
    j->done = true;
    r->running--;
    print_ready(r);
    start_next(r);
}

static void on_closed(uv_handle_t *h)
{
    job_t *j = h->data;
    j->open--;
    job_check_done(j);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    (void)h;
    static char chunk[65536]; // one read at a time in this single-threaded loop
    (void)want;
    *buf = uv_buf_init(chunk, sizeof chunk);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    job_t *j = s->data;
    bool is_out = s == (uv_stream_t *)&j->out;
    if (nread > 0) {
        stream_buf_t *b = is_out ? &j->o : &j->e;
        buf_add(b, buf->base, (size_t)nread);
        if (j->r->stream)
            stream_lines(j->r, j, b, is_out ? stdout : stderr, false);
        return;
    }
    if (nread < 0)
        uv_close((uv_handle_t *)s, on_closed);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    job_t *j = p->data;
    j->exited = true;
    j->status = term_signal ? 128 + term_signal : status;
    uv_close((uv_handle_t *)p, on_closed);
}

static void start_job(run_t *r, job_t *j)
{
    char *argv[ARGV_MAX + 1];
    for (int i = 0; i < r->argc; i++)
        argv[i] = (char *)r->argv[i];
    argv[r->link_at] = j->uri;
    argv[r->argc] = NULL;
    uv_pipe_init(&r->loop, &j->out, 0);
    uv_pipe_init(&r->loop, &j->err, 0);
    j->out.data = j->err.data = j->proc.data = j;
    uv_stdio_container_t io[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
    };
    uv_process_options_t po = {.exit_cb = on_exit_cb, .file = r->exe, .args = argv,
                               .stdio_count = 3, .stdio = io};
    j->open = 2;
    r->running++;
    int rc = uv_spawn(&r->loop, &j->proc, &po);
    if (rc) {
        j->status = SW_EXIT_LOCAL;
        char msg[sizeof r->exe + 200];
        snprintf(msg, sizeof msg, "{\"error\": \"cannot start %s: %s\"}\n", r->exe, uv_strerror(rc));
        buf_add(&j->e, msg, strlen(msg));
        j->started = true;
        uv_close((uv_handle_t *)&j->out, on_closed);
        uv_close((uv_handle_t *)&j->err, on_closed);
        return;
    }
    j->started = true;
    j->open = 3;
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_read);
}

static void start_next(run_t *r)
{
    while (!r->interrupted && r->running < r->parallel && r->next < r->n)
        start_job(r, &r->jobs[r->next++]);
    if (r->interrupted) // the ones not started end as skipped
        while (r->next < r->n) {
            job_t *j = &r->jobs[r->next++];
            j->done = true;
            j->status = SW_EXIT_INTERRUPT;
            buf_add(&j->e, "not started: interrupted", 24);
        }
    print_ready(r);
    if (r->printed == r->n && !uv_is_closing((uv_handle_t *)&r->sig))
        uv_close((uv_handle_t *)&r->sig, NULL);
}

static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    run_t *r = h->data;
    if (r->interrupted)
        return;
    r->interrupted = true;
    for (size_t i = 0; i < r->next; i++) // a Ctrl-C at the terminal reached them too
        if (r->jobs[i].started && !r->jobs[i].exited && !r->jobs[i].done)
            uv_process_kill(&r->jobs[i].proc, SIGINT);
    start_next(r);
}

// Runs the child command on every device; returns the exit status (0 all ok, 3 none could
// be reached, 5 some failed, 130 interrupted).
static int run_all(run_t *r, const sw_push_dev_t *devs, size_t n)
{
    size_t sz = sizeof r->exe;
    if (uv_exepath(r->exe, &sz) != 0)
        snprintf(r->exe, sizeof r->exe, "/proc/self/exe");
    r->jobs = calloc(n ? n : 1, sizeof *r->jobs);
    if (!r->jobs) {
        sw_cli_error(r->c, r->cmd, "out of memory");
        return SW_EXIT_LOCAL;
    }
    r->n = n;
    r->name_w = 6;
    for (size_t i = 0; i < n; i++) {
        job_t *j = &r->jobs[i];
        j->r = r;
        snprintf(j->name, sizeof j->name, "%s", devs[i].name[0] ? devs[i].name : devs[i].uri);
        snprintf(j->uri, sizeof j->uri, "%s", devs[i].uri);
        int w = (int)strlen(j->name);
        if (w > r->name_w)
            r->name_w = w > 40 ? 40 : w;
    }
    if (!r->parallel)
        r->parallel = PAR_DEFAULT;
    r->t0 = sw__cli_now_ms();
    uv_loop_init(&r->loop);
    uv_signal_init(&r->loop, &r->sig);
    r->sig.data = r;
    uv_signal_start(&r->sig, on_sigint, SIGINT);
    start_next(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);

    size_t ok = 0, link = 0;
    for (size_t i = 0; i < n; i++) {
        ok += r->jobs[i].status == 0;
        link += r->jobs[i].status == SW_EXIT_LINK;
    }
    double secs = (double)(sw__cli_now_ms() - r->t0) / 1000.0;
    if (r->c->json && !r->stream) {
        printf("{\"summary\":{\"devices\":%zu,\"ok\":%zu,\"failed\":%zu,\"seconds\":%.3f}}\n", n, ok,
               n - ok, secs);
        fflush(stdout);
    } else if (!r->c->quiet && !r->stream) {
        fprintf(stderr, "%zu device%s in %.2f s: %zu ok", n, n == 1 ? "" : "s", secs, ok);
        if (n - ok)
            fprintf(stderr, ", %s%zu failed%s", sw__cli_col(r->c, true, SW_COL_RED), n - ok,
                    sw__cli_col(r->c, true, SW_COL_OFF));
        fputc('\n', stderr);
    }
    for (size_t i = 0; i < n; i++) {
        free(r->jobs[i].o.p);
        free(r->jobs[i].e.p);
    }
    free(r->jobs);
    if (r->interrupted)
        return SW_EXIT_INTERRUPT;
    if (ok == n)
        return SW_EXIT_OK;
    return link == n ? SW_EXIT_LINK : SW_EXIT_PARTIAL;
}

// The start of a child command line: this program, --json (collect mode), the timeout.
static void child_prefix(run_t *r, char *tbuf, size_t tcap)
{
    r->argc = 0;
    r->argv[r->argc++] = "swarm";
    if (!r->stream)
        r->argv[r->argc++] = "--json";
    snprintf(tbuf, tcap, "%lums", (unsigned long)r->c->timeout_ms);
    r->argv[r->argc++] = "--timeout";
    r->argv[r->argc++] = r->c->timeout_ms ? tbuf : "0";
    if (r->c->quiet)
        r->argv[r->argc++] = "-q";
}

// The run of one command on many devices (fleet, reboot, logs): its state reset and the
// child command begun with swarm's own options (child_prefix; tbuf holds the --timeout
// value). The run is static (large): one at a time.
static run_t *run_for(const sw_cli_t *c, const char *cmd, unsigned parallel, bool stream,
                      char *tbuf, size_t tcap)
{
    static run_t r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.cmd = cmd;
    r.parallel = parallel;
    r.stream = stream;
    child_prefix(&r, tbuf, tcap);
    return &r;
}

// What a reboot runs for each device: sys.boot with its code.
static void reboot_argv(run_t *r)
{
    r->argv[r->argc++] = "call";
    r->link_at = r->argc;
    r->argv[r->argc++] = "LINK";
    r->argv[r->argc++] = "sys.boot";
    r->argv[r->argc++] = "code=SysBooT";
    r->ok_text = "rebooting";
}

///////////////////////////////////////////////////////////////////////////////////////////////
// swarm fleet

static const char fleet_usage[] =
    "usage: swarm fleet [options] (--to SEL | --app APP | --board B | --host H | --link L | --all)\n"
    "                   COMMAND ARGS...\n";

static const char fleet_about[] =
    "Runs one command on many devices at once: the devices come from a scan of the LAN (or\n"
    "--host / --link), chosen as swarm push chooses them; the command is what you would run for\n"
    "one device, without its LINK:\n"
    "  call PATH [ARGS]        cfg get [PATH] | set PATH VALUE | del PATH | apply\n"
    "  eval CODE               fs put LOCAL REMOTE (and the other fs operations)\n"
    "  reboot                  (sys.boot: the device restarts)\n"
    "Up to --parallel devices at once; one result line per device, in name order, then a\n"
    "summary on stderr. --json: one JSON object per device ({device, uri, ok, exit, result,\n"
    "error}: result is the one-device command's --json output), then {\"summary\": …}.\n";

static const char fleet_after[] =
    "exit status: 0 every device ok, 2 usage, 3 no device selected (or none reachable),\n"
    "5 some failed, 130 Ctrl-C (running commands are interrupted, the rest not started)\n"
    "\n"
    "examples:\n"
    "  swarm fleet --to 'lab-*' call sys.info\n"
    "  swarm fleet --app blink eval 'blinks'\n"
    "  swarm fleet --board esp32 cfg set wdt.t 10\n"
    "  swarm fleet --all fs put main.lua apps/blink/main.lua\n"
    "  swarm fleet --all fs sync --delete site www\n"
    "  swarm fleet --to 'lab-*' reboot\n";

static bool reads_stdin(const char *cmd, int argc, char **argv)
{
    return !strcmp(cmd, "eval") && argc >= 1 && !strcmp(argv[0], "-");
}

int sw_cli_fleet(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    static sw_cli_sel_t o; // large lists: not on the stack
    memset(&o, 0, sizeof o);
    const char *app = NULL, *board = NULL;
    bool all = false;
    unsigned parallel = PAR_DEFAULT;
    const sw_opt_t opts[] = {
        SW_OPT_SECTION_("devices:"),
        SW_CLI_SEL_DEVICES_(o),
        SW_OPT_STR_("app", NULL, "APP", &app, "only the devices that run APP (a glob; = --to app=APP)"),
        SW_OPT_STR_("board", NULL, "BOARD", &board, "only the devices of BOARD (a glob; = --to board=BOARD)"),
        SW_OPT_FLAG_("all", NULL, &all, "every device the scan finds (a selection is needed: this says all)"),
        SW_CLI_SEL_SCAN_(o),
        SW_OPT_SECTION_("running:"),
        {.kind = SW_OPT_UINT, .name = "parallel", .arg = "N", .dst = &parallel, .size = sizeof parallel,
         .min = 1, .max = 1024, .def = "16", .help = "devices at once"},
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const pos[] = {"COMMAND (call, cfg, eval, fs, reboot)", "ARGS...", NULL};
    sw_cli_spec_t spec = {.cmd = "fleet", .usage = fleet_usage, .about = fleet_about, .opts = opts,
                          .globals = "--timeout: per device, as for one; --json: see above",
                          .after = fleet_after, .pos = pos, .stop_at_pos = true};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    const char *cmd = spec.arg[0];
    static const char *const cmds[] = {"call", "cfg", "eval", "fs", "reboot"};
    bool known = false;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        known |= !strcmp(cmd, cmds[i]);
    if (!known) {
        const char *near = sw__cli_suggest(cmd, cmds, sizeof cmds / sizeof cmds[0]);
        sw_cli_error(&c, "fleet", "'%s' is not a command for many devices (call, cfg, eval, fs, reboot)",
                     cmd);
        if (near)
            sw__cli_did_you_mean(&c, NULL, near);
        sw__cli_see_help(&c, "fleet");
        return SW_EXIT_USAGE;
    }
    int nargs = spec.narg - 1;
    char **args = spec.arg + 1;
    if (!strcmp(cmd, "reboot") && nargs)
        return sw__cli_usage(&c, "fleet", "reboot takes no arguments here");
    if (strcmp(cmd, "reboot") && !nargs)
        return sw__cli_usage(&c, "fleet", "%s needs its arguments (swarm %s --help)", cmd, cmd);
    for (int i = 0; i < nargs && !strcmp(cmd, "fs"); i++)
        if (!strcmp(args[i], "--watch")) // (its results would come only after Ctrl-C)
            return sw__cli_usage(&c, "fleet", "fs sync --watch follows one device until Ctrl-C: run "
                                 "it for each device (swarm fs LINK sync --watch ...)");
    if (1 + 5 + nargs + 4 >= ARGV_MAX)
        return sw__cli_usage(&c, "fleet", "too many arguments for the command");
    // the selectors: push's --to, plus --app and --board as their shorthands
    static char app_sel[300], board_sel[300];
    if (app && o.n_to < SW_CLI_SEL_MAX) {
        snprintf(app_sel, sizeof app_sel, "app=%s", app);
        o.to[o.n_to++] = app_sel;
    }
    if (board && o.n_to < SW_CLI_SEL_MAX) {
        snprintf(board_sel, sizeof board_sel, "board=%s", board);
        o.to[o.n_to++] = board_sel;
    }
    if (!all && !o.n_to && !o.n_hosts && !o.n_links)
        return sw__cli_usage(&c, "fleet", "say which devices: --to, --app, --board, --host, --link, "
                             "or --all for every device the scan finds");
    char *code = NULL; // eval -: read once here, given to every device
    if (reads_stdin(cmd, nargs, args)) {
        size_t cap = 1 << 16, len = 0;
        code = malloc(cap + 1);
        size_t k;
        while (code && (k = fread(code + len, 1, cap - len, stdin)) > 0)
            if ((len += k) == cap)
                break;
        if (!code) {
            sw_cli_error(&c, "fleet", "out of memory");
            return SW_EXIT_LOCAL;
        }
        code[len] = 0;
    }

    sw_push_dev_t *devs = NULL;
    size_t n = 0, not_swarm = 0;
    rc = sw__cli_find_devices(&c, "fleet", &o, &devs, &n, &not_swarm);
    if (rc) {
        free(code);
        return rc;
    }
    // the selection: push's matcher on what the scan knows (a --link device is taken as given)
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool take = devs[i].res != SW_PUSH_IGNORED;
        if (take && o.n_to && !devs[i].listed) {
            take = false;
            for (size_t s = 0; s < o.n_to && !take; s++)
                take = sw_push_match(o.to[s], &devs[i]);
        } else if (take && o.n_to && devs[i].listed && devs[i].app[0]) {
            take = false;
            for (size_t s = 0; s < o.n_to && !take; s++)
                take = sw_push_match(o.to[s], &devs[i]);
        }
        if (take)
            devs[k++] = devs[i];
    }
    if (!k) {
        sw_cli_error(&c, "fleet", "no device %s (%zu found%s)", o.n_to ? "matches the selection" : "found",
                     n, not_swarm ? ", some no swarm nodes" : "");
        if (n && o.n_to) {
            char names[300] = "";
            size_t at = 0, shown;
            for (shown = 0; shown < n && at + 70 < sizeof names; shown++)
                at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", shown ? ", " : "",
                                       devs[shown].name[0] ? devs[shown].name : devs[shown].uri);
            sw__cli_hint(&c, "the scan found %s%s", names, shown < n ? ", …" : "");
        } else {
            sw__cli_hint(&c, "name them with --host NAME or --link URI, or allow a longer scan "
                             "(--scan-timeout 3s)");
        }
        free(devs);
        free(code);
        return SW_EXIT_LINK;
    }

    char tbuf[32];
    run_t *r = run_for(&c, "fleet", parallel, false, tbuf, sizeof tbuf);
    if (!strcmp(cmd, "reboot")) {
        reboot_argv(r);
    } else {
        r->argv[r->argc++] = cmd;
        r->link_at = r->argc;
        r->argv[r->argc++] = "LINK";
        for (int i = 0; i < nargs; i++)
            r->argv[r->argc++] = code && i == 0 ? code : args[i];
        if (!strcmp(cmd, "eval"))
            r->result_key = "repr";
        if (!strcmp(cmd, "cfg") || !strcmp(cmd, "fs"))
            r->ok_text = "done";
    }
    rc = run_all(r, devs, k);
    free(devs);
    free(code);
    return rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// swarm reboot, swarm logs

// reboot, logs: their command line parsed (spec, the options of the command) and each
// DEVICE taken as given (a link or a name). NULL after --help or a usage error (*rc says which).
static sw_push_dev_t *devices_cmd(sw_cli_t *c, sw_cli_spec_t *spec, int argc, char **argv,
                                  int *rc)
{
    static const char *const pos[] = {"DEVICE", "DEVICE...", NULL};
    spec->pos = pos;
    if (!sw__cli_parse(c, spec, argc, argv, rc))
        return NULL;
    sw_push_dev_t *devs = calloc((size_t)spec->narg, sizeof *devs);
    if (!devs) {
        sw_cli_error(c, spec->cmd, "out of memory");
        *rc = SW_EXIT_LOCAL;
        return NULL;
    }
    for (int i = 0; i < spec->narg; i++) {
        const char *a = spec->arg[i];
        if (!a[0] || strlen(a) >= sizeof devs[i].uri) {
            free(devs);
            *rc = sw__cli_usage(c, spec->cmd, "bad DEVICE '%s'", a);
            return NULL;
        }
        snprintf(devs[i].name, sizeof devs[i].name, "%.*s", (int)sizeof devs[i].name - 1, a);
        snprintf(devs[i].uri, sizeof devs[i].uri, "%s", a);
    }
    return devs;
}

static const char reboot_usage[] = "usage: swarm reboot [options] DEVICE...\n";

static const char reboot_about[] =
    "Restarts each DEVICE (a link: tcp://HOST, a name, serial:///dev/ttyX, unix:///PATH):\n"
    "sys.boot with its code, all at once, one line per device. The devices come back on their\n"
    "own; a push or call afterwards waits for them. For devices chosen by a selection:\n"
    "swarm fleet --to 'lab-*' reboot.\n";

static const char reboot_after[] =
    "exit status: 0 every device is restarting, 2 usage, 3 none could be reached, 5 some\n"
    "failed, 130 Ctrl-C\n"
    "\n"
    "examples:\n"
    "  swarm reboot kitchen\n"
    "  swarm reboot node1 node2 serial:///dev/ttyUSB0\n";

int sw_cli_reboot(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    unsigned parallel = PAR_DEFAULT;
    const sw_opt_t opts[] = {
        {.kind = SW_OPT_UINT, .name = "parallel", .arg = "N", .dst = &parallel, .size = sizeof parallel,
         .min = 1, .max = 1024, .def = "16", .help = "devices at once"},
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    sw_cli_spec_t spec = {.cmd = "reboot", .usage = reboot_usage, .about = reboot_about, .opts = opts,
                          .globals = "--json: one object per device, then a summary",
                          .after = reboot_after};
    int rc;
    sw_push_dev_t *devs = devices_cmd(&c, &spec, argc, argv, &rc);
    if (!devs)
        return rc;
    char tbuf[32];
    run_t *r = run_for(&c, "reboot", parallel, false, tbuf, sizeof tbuf);
    reboot_argv(r);
    rc = run_all(r, devs, (size_t)spec.narg);
    free(devs);
    return rc;
}

static const char logs_usage[] = "usage: swarm logs [options] DEVICE...\n";

static const char logs_about[] =
    "Follows the logs of several devices at once (what swarm console shows for one), each line\n"
    "prefixed by its device's name, until Ctrl-C. DEVICE is a link as for swarm console.\n";

static const char logs_after[] =
    "exit status: 0 done (--no-follow), 2 usage, 3 a device could not be reached, 130 Ctrl-C\n"
    "\n"
    "examples:\n"
    "  swarm logs node1 node2 node3\n"
    "  swarm logs --no-follow -n 20 kitchen serial:///dev/ttyUSB0\n";

int sw_cli_logs(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    int follow = 1;
    unsigned lines = 10;
    const sw_opt_t opts[] = {
        SW_OPT_SET_("follow", "f", &follow, 1, "follow new output until Ctrl-C (the default)"),
        SW_OPT_SET_("no-follow", NULL, &follow, 0, "print what each device holds and exit"),
        SW_OPT_UINT_("lines", "n", "N", &lines, 0, 100000, "10", "start with each device's last N lines"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    sw_cli_spec_t spec = {.cmd = "logs", .usage = logs_usage, .about = logs_about, .opts = opts,
                          .globals = "--timeout: as for swarm console", .after = logs_after};
    int rc;
    sw_push_dev_t *devs = devices_cmd(&c, &spec, argc, argv, &rc);
    if (!devs)
        return rc;
    char tbuf[32], nbuf[24];
    // all at once: they run until Ctrl-C
    run_t *r = run_for(&c, "logs", (unsigned)spec.narg, true, tbuf, sizeof tbuf);
    r->argv[r->argc++] = "console";
    r->argv[r->argc++] = follow ? "--follow" : "--no-follow";
    snprintf(nbuf, sizeof nbuf, "%u", lines);
    r->argv[r->argc++] = "--lines";
    r->argv[r->argc++] = nbuf;
    r->link_at = r->argc;
    r->argv[r->argc++] = "LINK";
    rc = run_all(r, devs, (size_t)spec.narg);
    free(devs);
    return rc;
}
