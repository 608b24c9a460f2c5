// `swarm push`: deploys a project (apps/{app}/…, boards/{board}/…) to the devices a scan finds
// or the command line names, through the push engine (push.c). This file is the user's side:
// options, finding the devices, progress on a terminal (a line per active device and a total
// line, redrawn at most ten times a second) or plain lines, the final table or JSON, and the
// exit status.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_devs.h"
#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "fcache.h"
#include "lua_check.h"
#include "push.h"
#include "scan.h"
#include "zstore.h"

#define MAX_ROWS 12    // active devices shown on a terminal at once

static const char push_usage[] = "usage: swarm push [PROJECT] [options]\n";

static const char push_about[] =
    "Deploys PROJECT (default: the current directory), laid out like micro-swarm's:\n"
    "apps/APP/... and optionally boards/BOARD/..., to the devices on the LAN (a scan) or to\n"
    "those named with --host / --link. Each device gets the app it runs (apps/APP, from its\n"
    "beacon or sys.info) and, if the project has them, the scripts of its board.\n"
    "\n"
    "Only what changed travels: the device's manifest (SHA-256 per file) is compared with the\n"
    "project's; changed and new files are sent, files the project no longer has are deleted.\n"
    "A device whose beacon already shows the project's app hash is not even connected to. The\n"
    "device stages the files, checks them against the new version's id and switches in one\n"
    "step, then restarts only that app (no reboot) and watches it: if an init_ function fails\n"
    "or a routine crashes within the grace period, it goes back to the old version and the\n"
    "push reports \"rolled-back\". A push cut at any moment leaves the old or the new version.\n"
    "\n"
    "Files hashed, Lua-checked or compressed by an earlier push are not read again while they\n"
    "are unchanged (~/.cache/swarm/files and z/, by file identity and content hash; deleting\n"
    "them is always safe).\n";

static const char push_after[] =
    "output: on a terminal, a line per device being pushed and a total line; otherwise one\n"
    "line per device as it finishes (stderr). Then a table (stdout): DEVICE APP FILES (sent +\n"
    "deleted) BYTES (file bytes sent) TIME RESULT: ok, unchanged, dry-run, failed,\n"
    "rolled-back, offline, skipped (the rollout stopped first); devices this push is not for\n"
    "(not selected, no such app in the project) are left out (-v lists them). --json prints\n"
    "one object instead: {\"devices\": [...], \"total\": {...}}.\n"
    "\n"
    "exit status: 0 every device ok or unchanged, 2 usage, 3 no device could be reached,\n"
    "5 some failed, rolled back, were offline or skipped, 6 local problem (no project),\n"
    "130 Ctrl-C\n"
    "\n"
    "examples:\n"
    "  swarm push                              # this project, every device on the LAN\n"
    "  swarm push ~/fleet --dry-run            # what would change where\n"
    "  swarm push --canary 2 --max-failures 3\n"
    "  swarm push --app blink --to 'lab-*' --to board=esp32\n"
    "  swarm push --host node-7 --host node-8\n"
    "  swarm push --link serial:///dev/ttyUSB0 --link unix:///run/swarm/mux.sock\n";

typedef struct ui {
    const sw_cli_t *c;
    sw_push_t *p;
    sw_push_dev_t *devs;
    size_t n;
    bool tty;              // progress lines on stderr
    bool plain;            // a line per finished device on stderr
    int drawn;             // lines of the block on screen now
    uint64_t t0;
    uv_timer_t timer;
    uv_signal_t sig;
    bool interrupted;
    struct stream *scan;   // the scan beside the push, if there is one
} ui_t;

static const char *label(const sw_push_dev_t *d)
{
    return d->name[0] ? d->name : d->uri;
}

static uint32_t files_of(const sw_push_dev_t *d)
{
    uint32_t k = 0;
    for (int i = 0; i < d->n_tgt; i++)
        if (!d->tgt[i].unchanged)
            k += d->tgt[i].put + d->tgt[i].del;
    return k;
}

static double secs_of(const sw_push_dev_t *d)
{
    return d->t_end >= d->t_start ? (double)(d->t_end - d->t_start) / 1000.0 : 0;
}

static bool active(const sw_push_dev_t *d)
{
    return d->step > SW_PUSH_WAIT && d->step < SW_PUSH_DONE;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Progress

static void clear_block(ui_t *u)
{
    if (u->drawn) {
        fprintf(stderr, "\r\033[%dA\033[J", u->drawn);
        u->drawn = 0;
    } else {
        fputs("\r\033[J", stderr);
    }
}

static void draw_block(ui_t *u)
{
    int rows = 0, more = 0;
    size_t done = 0, failed = 0, act = 0, mine = 0;
    uint64_t sent = 0;
    for (size_t i = 0; i < u->n; i++) {
        const sw_push_dev_t *d = &u->devs[i];
        sent += d->bytes_sent;
        if (d->res == SW_PUSH_IGNORED) // not for this push (not selected, no app here)
            continue;
        mine++;
        if (d->res != SW_PUSH_PENDING)
            done++;
        if (d->res == SW_PUSH_FAILED || d->res == SW_PUSH_ROLLED_BACK || d->res == SW_PUSH_OFFLINE)
            failed++;
        if (!active(d))
            continue;
        act++;
        if (rows >= MAX_ROWS) {
            more++;
            continue;
        }
        char line[200];
        if (d->step == SW_PUSH_UPLOAD && d->bytes_total) {
            double share = 100.0 * (double)d->bytes_sent / (double)d->bytes_total;
            int pct = share < 100 ? (int)share : 100; // clamped before the conversion
            char bar[21], a[24], b[24];
            for (int k = 0; k < 20; k++)
                bar[k] = k < pct / 5 ? '#' : '.';
            bar[20] = 0;
            sw__cli_bytes(a, sizeof a, (double)d->bytes_sent);
            sw__cli_bytes(b, sizeof b, (double)d->bytes_total);
            snprintf(line, sizeof line, "[%s] %3d%% %s/%s  %u/%u files", bar, pct, a, b,
                     d->files_done, d->files_total);
        } else {
            snprintf(line, sizeof line, "%s", sw_push_step_name(d->step));
        }
        fprintf(stderr, "  %-20.20s %-12.12s %s%s\033[K\n", label(d),
                d->push_app[0] ? d->push_app : d->app, d->canary ? "(canary) " : "", line);
        rows++;
    }
    if (more) {
        fprintf(stderr, "  … and %d more\033[K\n", more);
        rows++;
    }
    char s[24];
    sw__cli_bytes(s, sizeof s, (double)sent);
    fprintf(stderr, "total: %zu/%zu done, %zu active, %zu failed, %s sent, %.1f s\033[K\n", done,
            mine, act, failed, s, (double)(sw_push_now(u->p) - u->t0) / 1000.0);
    rows++;
    u->drawn = rows;
    fflush(stderr);
}

static void result_line(ui_t *u, const sw_push_dev_t *d)
{
    char b[24];
    sw__cli_bytes(b, sizeof b, (double)d->bytes_sent);
    if (d->res == SW_PUSH_IGNORED && u->c->verbose < 1)
        return;
    const char *app = d->push_app[0] ? d->push_app : d->app;
    fprintf(stderr, "%s%s%s: %s", label(d), app[0] ? " " : "", app, sw_push_res_name(d->res));
    if (d->res == SW_PUSH_OK)
        fprintf(stderr, ", %u file%s, %s in %.2f s", files_of(d), files_of(d) == 1 ? "" : "s",
                b, secs_of(d));
    else if (d->res == SW_PUSH_UNCHANGED)
        fprintf(stderr, d->quick ? " (beacon)" : " (manifest)");
    if (d->reason[0]) {
        fputs(": ", stderr);
        sw__esc_write(stderr, (const uint8_t *)d->reason, strlen(d->reason), 0);
    }
    fputc('\n', stderr);
}

static void on_event(void *x, sw_push_dev_t *d)
{
    ui_t *u = x;
    if (d->res == SW_PUSH_PENDING)
        return; // steps show at the next redraw
    if (u->tty) {
        clear_block(u);
        result_line(u, d);
        draw_block(u);
    } else if (u->plain) {
        result_line(u, d);
        fflush(stderr);
    }
}

static void on_tick(uv_timer_t *t)
{
    ui_t *u = t->data;
    clear_block(u);
    draw_block(u);
}

// Why a push reached nobody: the selectors matched no device, or the devices run apps the
// project does not have.
static void lua_error(void *u, const char *msg)
{
    sw_cli_error(u, "push", "%s", msg);
}

// luac -p of what the push can send (apps/APP with --app, else every app, and the board
// scripts), before any device is touched. 0, or the exit status after listing every error.
static int lua_check(const sw_cli_t *c, const char *project, const char *app)
{
    int bad = 0;
    const char *parts[] = {"apps", "boards"};
    for (int k = 0; k < 2; k++) {
        char dir[4096], shown[300];
        if (app && k == 0) {
            snprintf(dir, sizeof dir, "%s/apps/%s", project, app);
            snprintf(shown, sizeof shown, "apps/%s", app);
        } else {
            snprintf(dir, sizeof dir, "%s/%s", project, parts[k]);
            snprintf(shown, sizeof shown, "%s", parts[k]);
        }
        int n = sw_lua_check_dir(dir, shown, lua_error, (void *)c);
        if (n < 0) {
            sw_cli_error(c, "push", "out of memory (Lua syntax check)");
            return SW_EXIT_LOCAL;
        }
        bad += n;
    }
    if (!bad)
        return 0;
    sw__cli_hint(c, "%d Lua file%s do%s not compile; nothing was pushed (--no-lua-check pushes "
                 "anyway)", bad, bad == 1 ? "" : "s", bad == 1 ? "es" : "");
    return SW_EXIT_LOCAL;
}

static void nothing_hint(const sw_cli_t *c, const char *const *to, size_t n_to,
                         const sw_push_dev_t *devs, size_t n, size_t not_swarm)
{
    size_t unsel = 0;
    for (size_t i = 0; i < n; i++)
        unsel += !strncmp(devs[i].reason, "not selected", 12);
    if (unsel == n && n_to) {
        char names[300] = "";
        size_t at = 0, k;
        for (k = 0; k < n && at + 70 < sizeof names; k++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", k ? ", " : "",
                                   devs[k].name[0] ? devs[k].name : devs[k].uri);
        sw__cli_hint(c, "no device matches --to %s%s: found %s%s", to[0], n_to > 1 ? " …" : "",
                     names, k < n ? ", …" : "");
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (!strncmp(devs[i].reason, "the project has no ", 19)) {
            sw__cli_hint(c, "%s runs %s, and %s; push another app to it with --app APP",
                         devs[i].name[0] ? devs[i].name : devs[i].uri, devs[i].app, devs[i].reason);
            return;
        }
    sw__cli_hint(c, "no device runs an app of this project%s", not_swarm ? " (or they are "
                 "no swarm nodes)" : "");
}

static void stream_cancel(struct stream *s);

static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    ui_t *u = h->data;
    if (u->interrupted)
        return;
    u->interrupted = true;
    if (u->scan)
        stream_cancel(u->scan); // no need to find more devices
    sw_push_stop(u->p, "interrupted", true);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The scan while the push runs: the scan (scan.c, which blocks) runs in a thread of its own and
// hands each device it finds to the loop's thread at once, so that a device's push starts as
// soon as its answer arrives, not after the scan has waited for the last one.

#define STREAM_MAX 4096 // devices one push takes from a LAN scan (more are reported, not pushed)

typedef struct stream {
    uv_async_t async;
    uv_mutex_t mu;
    uv_thread_t th;
    sw_scan_opts_t so;
    // under mu: found and not yet taken by the loop; the end of the scan
    sw_scan_rec_t *q;
    size_t nq, capq;
    bool ended;
    _Atomic bool cancel;  // set by the loop (Ctrl-C): the scan ends early
    int rc;               // the scan's result (its records in res when 0)
    char err[256];
    sw_scan_result_t res;
    // the loop's
    ui_t *u;
    sw_push_dev_t *devs;  // STREAM_MAX of them, allocated before the push starts
    size_t not_swarm, dropped;
    bool closed;
} stream_t;

static void on_found(void *arg, const sw_scan_rec_t *r)
{
    stream_t *s = arg;
    uv_mutex_lock(&s->mu);
    if (s->nq == s->capq) {
        size_t cap = s->capq ? 2 * s->capq : 64;
        sw_scan_rec_t *q = realloc(s->q, cap * sizeof *q);
        if (q) {
            s->q = q;
            s->capq = cap;
        }
    }
    if (s->nq < s->capq) {
        s->q[s->nq] = *r;
        s->q[s->nq].json = NULL; // the scan's, freed with its result
        s->q[s->nq].json_len = 0;
        s->nq++;
    }
    uv_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
}

static void scan_thread(void *arg)
{
    stream_t *s = arg;
    sw_scan_result_t res;
    char err[256] = "";
    int rc = sw_scan_run(&s->so, &res, err, sizeof err);
    if (rc == 0 && res.n == 0 && s->so.settle_ms) {
        // nobody answered within the settle time (busy devices?): listen a full second
        sw_scan_result_free(&res);
        s->so.settle_ms = 0;
        rc = sw_scan_run(&s->so, &res, err, sizeof err);
    }
    uv_mutex_lock(&s->mu);
    s->rc = rc;
    memcpy(s->err, err, sizeof s->err);
    if (rc == 0)
        s->res = res;
    s->ended = true; // after every on_found: the loop sees the last devices with the end
    uv_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
}

static void on_stream(uv_async_t *h)
{
    stream_t *s = h->data;
    ui_t *u = s->u;
    uv_mutex_lock(&s->mu);
    sw_scan_rec_t *q = s->q;
    size_t nq = s->nq;
    s->q = NULL;
    s->nq = s->capq = 0;
    bool ended = s->ended;
    uv_mutex_unlock(&s->mu);
    size_t n = u->n;
    for (size_t i = 0; i < nq; i++) {
        if (n == STREAM_MAX) {
            s->dropped++;
            continue;
        }
        s->not_swarm += sw__cli_dev_from_rec(&s->devs[n++], &q[i]);
    }
    free(q);
    if (n > u->n) {
        u->n = n;
        sw_push_add(u->p, n);
    }
    if (ended && !s->closed) {
        s->closed = true;
        uv_thread_join(&s->th);
        uv_close((uv_handle_t *)&s->async, NULL);
        sw_push_more(u->p, false);
        // when the scan ends, not after the push: devices found early may be done already
        if (u->c->verbose && s->rc == 0)
            fprintf(stderr, "swarm push: scan found %zu device%s in %u ms\n", s->res.n,
                    s->res.n == 1 ? "" : "s", (unsigned)s->res.elapsed_ms);
    }
}

static void stream_cancel(struct stream *s)
{
    atomic_store(&s->cancel, true);
}

// Starts the scan of the selection o; its devices go into s->devs. 0, or an exit status.
static int stream_start(stream_t *s, uv_loop_t *loop, const sw_cli_sel_t *o, ui_t *u)
{
    s->u = u;
    sw__cli_scan_opts(o, &s->so);
    s->so.found = on_found;
    s->so.u = s;
    s->so.cancel = &s->cancel;
    if (uv_mutex_init(&s->mu))
        return SW_EXIT_LOCAL;
    if (uv_async_init(loop, &s->async, on_stream)) {
        uv_mutex_destroy(&s->mu);
        return SW_EXIT_LOCAL;
    }
    s->async.data = s;
    if (uv_thread_create(&s->th, scan_thread, s)) {
        uv_close((uv_handle_t *)&s->async, NULL);
        uv_mutex_destroy(&s->mu);
        return SW_EXIT_LOCAL;
    }
    sw_push_more(u->p, true);
    u->scan = s;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Output

static void print_changes(const sw_push_dev_t *d)
{
    for (int i = 0; i < d->n_tgt; i++) {
        const sw_push_tgt_t *t = &d->tgt[i];
        if (t->unchanged)
            continue;
        char b[24];
        sw__cli_bytes(b, sizeof b, (double)t->put_bytes);
        printf("%s %s: %u to send (%s), %u to delete\n", label(d), t->t, t->put, b, t->del);
        for (size_t k = 0; k < t->n_changes; k++) {
            const sw_push_change_t *c = &t->changes[k];
            if (c->op == '-') {
                printf("  - %s\n", c->path);
            } else {
                sw__cli_bytes(b, sizeof b, (double)c->size);
                printf("  %c %s (%s)\n", c->op, c->path, b);
            }
        }
    }
}

static void print_table(const ui_t *u)
{
    int wd = 6, wa = 3;
    for (size_t i = 0; i < u->n; i++) {
        const sw_push_dev_t *d = &u->devs[i];
        if (d->res == SW_PUSH_IGNORED && u->c->verbose < 1)
            continue;
        int a = (int)strlen(label(d)), b = (int)strlen(d->push_app[0] ? d->push_app : d->app);
        wd = a > wd ? (a > 40 ? 40 : a) : wd;
        wa = b > wa ? b : wa;
    }
    printf("%-*s  %-*s  %5s  %10s  %7s  %s\n", wd, "DEVICE", wa, "APP", "FILES", "BYTES", "TIME",
           "RESULT");
    for (size_t i = 0; i < u->n; i++) {
        const sw_push_dev_t *d = &u->devs[i];
        if (d->res == SW_PUSH_IGNORED && u->c->verbose < 1)
            continue;
        char bytes[24], t[16];
        sw__cli_bytes(bytes, sizeof bytes, (double)(d->res == SW_PUSH_DRY ? d->bytes_total : d->bytes_sent));
        snprintf(t, sizeof t, "%.2fs", secs_of(d));
        const char *app = d->push_app[0] ? d->push_app : d->app;
        char why[sizeof d->reason * 2];
        sw_col_t col = d->res == SW_PUSH_OK || d->res == SW_PUSH_UNCHANGED ? SW_COL_GREEN
                     : d->res == SW_PUSH_DRY ? SW_COL_CYAN
                     : d->res == SW_PUSH_ROLLED_BACK || d->res == SW_PUSH_SKIPPED ? SW_COL_YELLOW
                     : d->res == SW_PUSH_IGNORED ? SW_COL_OFF : SW_COL_RED;
        printf("%-*s  %-*s  %5u  %10s  %7s  %s%s%s%s%s%s\n", wd, label(d), wa, app[0] ? app : "-",
               files_of(d), bytes, t, col ? sw__cli_col(u->c, false, col) : "", sw_push_res_name(d->res),
               col ? sw__cli_col(u->c, false, SW_COL_OFF) : "", d->canary ? " (canary)" : "",
               d->reason[0] ? ": " : "", sw__esc_str(why, sizeof why, d->reason));
    }
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
    if (v && v[0])
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void print_json(const ui_t *u, const char *project, double secs, uint32_t scan_ms)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return;
    cJSON_AddStringToObject(root, "project", project);
    cJSON *arr = cJSON_AddArrayToObject(root, "devices");
    size_t counts[SW_PUSH_IGNORED + 1] = {0};
    uint64_t bytes = 0, files = 0, wire = 0;
    size_t connected = 0;
    for (size_t i = 0; i < u->n; i++) {
        const sw_push_dev_t *d = &u->devs[i];
        counts[d->res]++;
        bytes += d->bytes_sent;
        wire += d->bytes_wire;
        files += files_of(d);
        connected += d->connected;
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        add_str_or_null(o, "device", d->name);
        cJSON_AddStringToObject(o, "uri", d->uri);
        add_str_or_null(o, "app", d->push_app[0] ? d->push_app : d->app);
        add_str_or_null(o, "board", d->board);
        cJSON_AddStringToObject(o, "result", sw_push_res_name(d->res));
        add_str_or_null(o, "reason", d->reason);
        cJSON_AddNumberToObject(o, "files", files_of(d));
        cJSON_AddNumberToObject(o, "bytes", (double)d->bytes_sent);
        cJSON_AddNumberToObject(o, "wire", (double)d->bytes_wire);
        cJSON_AddNumberToObject(o, "compressed", d->files_z);
        cJSON_AddNumberToObject(o, "bytes_total", (double)d->bytes_total);
        cJSON_AddNumberToObject(o, "ms", (double)(d->t_end - d->t_start));
        cJSON_AddBoolToObject(o, "connected", d->connected);
        cJSON_AddBoolToObject(o, "quick", d->quick);
        cJSON_AddBoolToObject(o, "canary", d->canary);
        if (d->switched)
            cJSON_AddBoolToObject(o, "switched", true);
        cJSON *ts = cJSON_AddArrayToObject(o, "targets");
        for (int k = 0; k < d->n_tgt; k++) {
            const sw_push_tgt_t *t = &d->tgt[k];
            cJSON *to = cJSON_CreateObject();
            if (!to)
                break;
            cJSON_AddStringToObject(to, "t", t->t);
            cJSON_AddStringToObject(to, "id", t->id);
            add_str_or_null(to, "old", t->old_id);
            add_str_or_null(to, "prev", t->prev);
            cJSON_AddBoolToObject(to, "unchanged", t->unchanged);
            cJSON_AddBoolToObject(to, "committed", t->committed);
            cJSON *put = cJSON_AddArrayToObject(to, "put");
            cJSON *del = cJSON_AddArrayToObject(to, "del");
            for (size_t j = 0; j < t->n_changes; j++)
                cJSON_AddItemToArray(t->changes[j].op == '-' ? del : put,
                                     cJSON_CreateString(t->changes[j].path));
            cJSON_AddNumberToObject(to, "put_bytes", (double)t->put_bytes);
            if (t->committed)
                cJSON_AddNumberToObject(to, "commit_ms", t->commit_ms);
            cJSON_AddItemToArray(ts, to);
        }
        cJSON_AddItemToArray(arr, o);
    }
    cJSON *tot = cJSON_AddObjectToObject(root, "total");
    cJSON_AddNumberToObject(tot, "devices", (double)u->n);
    for (int r = SW_PUSH_OK; r <= SW_PUSH_IGNORED; r++)
        cJSON_AddNumberToObject(tot, sw_push_res_name((sw_push_res_t)r), (double)counts[r]);
    cJSON_AddNumberToObject(tot, "connected", (double)connected);
    cJSON_AddNumberToObject(tot, "files", (double)files);
    cJSON_AddNumberToObject(tot, "bytes", (double)bytes);
    cJSON_AddNumberToObject(tot, "wire", (double)wire);
    cJSON_AddNumberToObject(tot, "seconds", secs);
    cJSON_AddNumberToObject(tot, "scan_ms", scan_ms);
    char *t = cJSON_PrintUnformatted(root);
    if (t)
        printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(root);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Devices

///////////////////////////////////////////////////////////////////////////////////////////////
// The command

int sw_cli_push(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    static sw_cli_sel_t o; // large lists: not on the stack
    memset(&o, 0, sizeof o);
    const char *project = NULL;
    bool no_lua_check = false;
    sw_push_opts_t po = {0};
    po.grace_ms = -1;
    const sw_opt_t opts[] = {
        SW_OPT_SECTION_("devices:"),
        SW_CLI_SEL_DEVICES_(o),
        SW_OPT_STR_("app", NULL, "APP", &po.app,
                    "push apps/APP to the selected devices instead of their own app; a device "
                    "that ran another app is switched to APP (board.app_name) and watches it for "
                    "the grace period: if it fails, the previous app runs again (rolled-back)"),
        SW_CLI_SEL_SCAN_(o),
        SW_OPT_SECTION_("rollout:"),
        {.kind = SW_OPT_UINT, .name = "parallel", .arg = "N", .dst = &po.parallel,
         .size = sizeof po.parallel, .min = 1, .max = 4096, .show_def = "16",
         .help = "devices at once (one waiting for its health check does not count, unless "
                 "--max-failures is given)"},
        SW_OPT_UINT_("canary", NULL, "N", &po.canary, 1, 1000000, NULL,
                     "push N devices first; stop if any of them fails"),
        SW_OPT_UINT_("max-failures", NULL, "K", &po.max_failures, 1, 1000000, NULL,
                     "start no new device after K failures"),
        SW_OPT_FLAG_("dry-run", "n", &po.dry_run,
                     "list what would change on each device; change nothing (a device the push "
                     "would be refused for fails as it would)"),
        SW_OPT_FLAG_("reboot", NULL, &po.reboot, "reset the device (sys.boot) after the "
                     "switch instead of relying on the hot reload"),
        {.kind = SW_OPT_DURATION, .name = "grace", .arg = "TIME", .dst = &po.grace_ms,
         .size = sizeof po.grace_ms, .max = 600000, .flags = SW_OPT_F_LEGACY_MS,
         .show_def = "the device's, 3s",
         .help = "how long the device watches the new version before it answers"},
        SW_OPT_FLAG_("no-lua-check", NULL, &no_lua_check,
                     "skip the host's Lua syntax check of the project's *.lua files (done before "
                     "any device is touched)"),
        SW_OPT_FLAG_("no-compress", NULL, &po.no_compress,
                     "send every file plain (by default files travel zlib-compressed to devices "
                     "that say they inflate, when that makes them smaller)"),
        SW_OPT_FLAG_("check", NULL, &po.no_quick,
                     "connect even to devices whose beacon says they are up to date"),
        {.kind = SW_OPT_UINT, .name = "window", .arg = "N", .dst = &po.window,
         .size = sizeof po.window, .min = 1, .max = 64, .show_def = "8; 16 on a lossy serial link",
         .flags = SW_OPT_F_RANGE, .help = "chunk requests in flight per file"},
        {.kind = SW_OPT_UINT, .name = "files", .arg = "N", .dst = &po.files,
         .size = sizeof po.files, .min = 1, .max = 16, .show_def = "4",
         .flags = SW_OPT_F_RANGE, .help = "files in flight per device"},
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const names[] = {"[PROJECT]", NULL};
    sw_cli_spec_t spec = {.cmd = "push", .usage = push_usage, .about = push_about,
                          .opts = opts, .globals = "--timeout: per answer",
                          .after = push_after, .pos = names, .too_many = "one PROJECT only"};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    project = spec.narg ? spec.arg[0] : NULL;
    if (!project)
        project = ".";
    char apps[4096], boards[4096];
    snprintf(apps, sizeof apps, "%s/apps", project);
    snprintf(boards, sizeof boards, "%s/boards", project);
    struct stat st;
    if (stat(project, &st) || !S_ISDIR(st.st_mode)) {
        sw_cli_error(&c, "push", "no project directory '%s'", project);
        return SW_EXIT_LOCAL;
    }
    if ((stat(apps, &st) || !S_ISDIR(st.st_mode)) && (stat(boards, &st) || !S_ISDIR(st.st_mode))) {
        sw_cli_error(&c, "push", "'%s' is not a project: it has no apps/ (or boards/) directory",
                     project);
        sw__cli_hint(&c, "a project holds apps/APP/main.lua for each app, as micro-swarm's does");
        return SW_EXIT_LOCAL;
    }

    // files hashed or checked by an earlier command and unchanged since are not read again
    sw_fcache_enable(NULL);
    if (!no_lua_check) {
        rc = lua_check(&c, project, po.app);
        (void)sw_fcache_save();
        if (rc)
            return rc;
    }

    uint64_t t_cmd = sw__cli_now_ms();
    sw_push_dev_t *devs = NULL;
    size_t n = 0, not_swarm = 0;
    // A plain LAN scan runs while the push does (stream_start), unless the rollout's order
    // matters (canaries, a failure limit: devices go in name order, so the scan comes first)
    o.lan_later = !po.canary && !po.max_failures;
    rc = sw__cli_find_devices(&c, "push", &o, &devs, &n, &not_swarm);
    if (rc)
        return rc;
    stream_t sc = {0};
    if (o.lan_scan && !(sc.devs = devs = calloc(STREAM_MAX, sizeof *devs))) {
        sw_cli_error(&c, "push", "out of memory");
        return SW_EXIT_LOCAL;
    }
    if (n == 0 && !o.lan_scan) {
        free(devs);
        sw_cli_error(&c, "push", "no devices found");
        sw__cli_hint(&c, "name them with --host NAME or --link URI, or allow a longer scan "
                         "(--scan-timeout 3s)");
        return SW_EXIT_LINK;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    ui_t u = {0};
    u.c = &c;
    u.devs = devs;
    u.n = n;
    u.tty = c.tty_err && !c.quiet;
    u.plain = !u.tty && !c.quiet;
    po.project = project;
    po.to = o.to;
    po.n_to = o.n_to;
    po.timeout_ms = c.timeout_ms;
    po.connect_timeout_ms = c.timeout_ms && c.timeout_ms < 5000 ? c.timeout_ms : 5000;
    po.event = on_event;
    po.u = &u;
    char err[300];
    sw_push_t *p = NULL;
    rc = sw_push_new(&loop, &po, devs, n, &p, err, sizeof err);
    if (rc) {
        sw_cli_error(&c, "push", "%s", err);
        free(devs);
        uv_loop_close(&loop);
        return rc == SW_EINVAL ? SW_EXIT_USAGE : SW_EXIT_LOCAL;
    }
    u.p = p;
    if (o.lan_scan && (rc = stream_start(&sc, &loop, &o, &u))) {
        sw_cli_error(&c, "push", "cannot start the scan");
        sw_push_free(p);
        free(devs);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
        return rc;
    }
    uv_update_time(&loop);
    u.t0 = sw_push_now(p);
    uv_signal_init(&loop, &u.sig);
    u.sig.data = &u;
    uv_signal_start(&u.sig, on_sigint, SIGINT);
    if (u.tty) {
        uv_timer_init(&loop, &u.timer);
        u.timer.data = &u;
        uv_timer_start(&u.timer, on_tick, 100, 100); // at most ten redraws a second
    }
    sw_push_start(p);
    while (!sw_push_done(p))
        uv_run(&loop, UV_RUN_ONCE);
    double secs = (double)(sw__cli_now_ms() - t_cmd) / 1000.0; // the scan included
    n = u.n;
    if (o.lan_scan) {
        not_swarm = sc.not_swarm;
        uv_mutex_destroy(&sc.mu);
        if (sc.rc == 0) {
            o.scan_ms = sc.res.elapsed_ms ? sc.res.elapsed_ms : 1;
            if (sc.res.n)
                (void)sw_scan_cache_store(&sc.res); // names found now serve later commands too
            sw_scan_result_free(&sc.res);
        }
        if (sc.dropped)
            fprintf(stderr, "swarm push: %zu more device%s found than one push takes (%d): not pushed\n",
                    sc.dropped, sc.dropped == 1 ? "" : "s", STREAM_MAX);
        sw__cli_sort_devs(devs, n); // the report in name order, as without the stream
    }
    if (u.tty) {
        uv_timer_stop(&u.timer);
        uv_close((uv_handle_t *)&u.timer, NULL);
        clear_block(&u);
        fflush(stderr);
    }
    uv_close((uv_handle_t *)&u.sig, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (o.lan_scan && n == 0) { // as sw__cli_find_devices says it
        sw_push_free(p);
        free(devs);
        if (sc.rc) {
            sw_cli_error(&c, "push", "scan: %s", sc.err);
            return SW_EXIT_LOCAL;
        }
        sw_cli_error(&c, "push", "no devices found");
        sw__cli_hint(&c, "name them with --host NAME or --link URI, or allow a longer scan "
                         "(--scan-timeout 3s)");
        return SW_EXIT_LINK;
    }

    size_t cnt[SW_PUSH_IGNORED + 1] = {0}, connected = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        cnt[devs[i].res]++;
        connected += devs[i].connected;
        bytes += devs[i].bytes_sent;
    }
    if (c.json) {
        print_json(&u, project, secs, o.scan_ms);
    } else {
        if (po.dry_run)
            for (size_t i = 0; i < n; i++)
                if (devs[i].res == SW_PUSH_DRY)
                    print_changes(&devs[i]);
        print_table(&u);
    }
    fflush(stdout);
    if (!c.quiet) {
        char b[24];
        sw__cli_bytes(b, sizeof b, (double)bytes);
        fprintf(stderr, "%s%zu device%s in %.2f s: %zu ok, %zu unchanged", po.dry_run ? "dry run: " : "",
                n - cnt[SW_PUSH_IGNORED], n - cnt[SW_PUSH_IGNORED] == 1 ? "" : "s", secs,
                cnt[SW_PUSH_OK], cnt[SW_PUSH_UNCHANGED]);
        if (cnt[SW_PUSH_DRY])
            fprintf(stderr, ", %zu would change", cnt[SW_PUSH_DRY]);
        const sw_push_res_t bad[] = {SW_PUSH_FAILED, SW_PUSH_ROLLED_BACK, SW_PUSH_OFFLINE,
                                     SW_PUSH_SKIPPED};
        for (size_t k = 0; k < 4; k++)
            if (cnt[bad[k]])
                fprintf(stderr, ", %zu %s", cnt[bad[k]], sw_push_res_name(bad[k]));
        fprintf(stderr, "; %s sent, %zu connection%s\n", b, connected, connected == 1 ? "" : "s");
        if (cnt[SW_PUSH_IGNORED] && c.verbose < 1)
            fprintf(stderr, "(%zu device%s not for this push: -v lists them)\n",
                    cnt[SW_PUSH_IGNORED], cnt[SW_PUSH_IGNORED] == 1 ? "" : "s");
    }
    size_t reached = 0, tried = 0;
    for (size_t i = 0; i < n; i++) {
        reached += devs[i].connected || devs[i].quick;
        tried += devs[i].res != SW_PUSH_IGNORED && devs[i].res != SW_PUSH_SKIPPED;
    }
    int status = SW_EXIT_OK;
    if (u.interrupted)
        status = SW_EXIT_INTERRUPT;
    else if (tried && !reached && cnt[SW_PUSH_OFFLINE])
        status = SW_EXIT_LINK;
    else if (cnt[SW_PUSH_FAILED] || cnt[SW_PUSH_ROLLED_BACK] || cnt[SW_PUSH_OFFLINE] ||
             cnt[SW_PUSH_SKIPPED])
        status = SW_EXIT_PARTIAL;
    if (n == cnt[SW_PUSH_IGNORED] && !u.interrupted) {
        // nothing to push to: none found, as the man page says (3), with the reason
        status = SW_EXIT_LINK;
        nothing_hint(&c, o.to, o.n_to, devs, n, not_swarm);
    }
    (void)sw_fcache_save(); // the hashes of the project's files
    if (c.verbose) {
        unsigned hits, misses, zhits, zbad;
        sw_fcache_stats(&hits, &misses);
        sw_zstore_stats(&zhits, &zbad);
        fprintf(stderr, "swarm push: %u file fact%s from the cache (unchanged files), %u computed; "
                "%u compressed stream%s from the cache%s\n", hits, hits == 1 ? "" : "s", misses,
                zhits, zhits == 1 ? "" : "s", zbad ? " (some damaged: made again)" : "");
    }
    sw_push_free(p);
    free(devs);
    return status;
}
