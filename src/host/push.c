// swarm push engine (push.h): the per-device state machine (one link, the node's push.*
// commands, the transfer engine for the files) and the scheduler that runs many devices at
// once with canaries and a failure limit.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "push.h"
#include "hlink.h"
#include "hsec.h"
#include "xfer.h"
#include "zpack.h"
#include "zstore.h"
#include "swarm/msg.h"

#define FILES_MAX 16 // files in flight per device, at most (the node's limits.files default)
// compressed files in flight per device: a node inflates at most 4 at once (SW_FS_ZMAX; more
// are refused with EMFILE, so --files above 4 failed every compressed push)
#define SW_PUSH_ZFILES_MAX 4u

// A file's zlib stream, made once per push for every device that inflates with the same
// window and ratio (zpack.h).
typedef struct zfile {
    uint8_t state;       // 0 not made yet, 1 compressed, 2 goes plain
    uint8_t zbits;
    uint32_t zratio;
    uint8_t *data;
    size_t len;
} zfile_t;

typedef struct local_tgt {
    char t[80];
    int err;             // 0, or why the tree could not be read
    char text[300];
    sw_manifest_t m;
    zfile_t *z;          // m.n entries once a device that inflates needs one, else NULL
} local_tgt_t;

typedef struct file_up {
    dev_run_t *r;
    sw_xfer_t *x;        // NULL: slot free
    int fd;
    uint64_t done;       // bytes acknowledged so far
    size_t idx;          // index into the wanted manifest
    bool z;              // it may go compressed: it holds one of the node's inflaters
} file_up_t;

struct dev_run {
    sw_push_t *p;
    sw_push_dev_t *d;
    sw_hlink_t *l;
    uv_timer_t timer;      // deadline of the answers due
    uint32_t due;          // control answers outstanding
    bool finished;         // result set; waiting for the timer to close
    bool probing;          // sys.info got no answer: the line is asked for a locked node
    const sw_manifest_t *want;
    sw_manifest_t have;
    sw_mf_diff_t diff;
    char stage[512];
    char **dirs;
    long n_dirs;
    size_t next_put;       // index into diff.put of the next file to start
    uint32_t files_active;
    uint32_t z_active;     // of those, compressed ones (at most SW_PUSH_ZFILES_MAX)
    uint64_t bytes_files;  // bytes of this device's finished files
    uint32_t dev_max_msg;  // from sys.info
    uint8_t zbits;         // sys.info "z": the device inflates, window 2^zbits (0: it cannot)
    uint32_t zratio;       // sys.info "zr"
    uint64_t have_n;       // files the device's manifest has (its first page says)
    char have_id[72];      // the id its first page gave
    file_up_t up[FILES_MAX];
};

struct sw_push {
    uv_loop_t *loop;
    sw_push_opts_t o;
    sw_push_dev_t *devs;
    size_t n;
    local_tgt_t **loc;     // one allocation each: a device's want points into its entry,
    size_t n_loc, cap_loc; // so growing this array must not move the entries
    size_t active;         // devices started and not finished
    size_t runs;           // dev_run structs not yet freed
    uint32_t canary_ok, canary_active, failures;
    bool stopped;
    char stop_why[200];
    bool in_schedule, again;
    bool more;             // sw_push_add may bring more devices
};

///////////////////////////////////////////////////////////////////////////////////////////////
// Names

const char *sw_push_res_name(sw_push_res_t r)
{
    switch (r) {
    case SW_PUSH_OK: return "ok";
    case SW_PUSH_UNCHANGED: return "unchanged";
    case SW_PUSH_DRY: return "dry-run";
    case SW_PUSH_FAILED: return "failed";
    case SW_PUSH_ROLLED_BACK: return "rolled-back";
    case SW_PUSH_OFFLINE: return "offline";
    case SW_PUSH_SKIPPED: return "skipped";
    case SW_PUSH_IGNORED: return "ignored";
    default: return "pending";
    }
}

const char *sw_push_step_name(sw_push_step_t s)
{
    static const char *const names[] = {"waiting", "connect", "info", "manifest", "begin",
                                        "mkdir", "upload", "commit", "switch", "reboot", "done"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

uint64_t sw_push_now(const sw_push_t *p)
{
    return uv_now(p->loop);
}

// App and board names become local paths (PROJECT/apps/NAME): only the names a node takes for
// a target (letters, digits, '_', '-'; not starting with '-') are used.
static bool plain_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static const char *dev_label(const sw_push_dev_t *d)
{
    return d->name[0] ? d->name : d->uri;
}

bool sw_push_match(const char *sel, const sw_push_dev_t *d)
{
    static const struct { const char *key; size_t off; } keys[] = {
        {"app=", offsetof(sw_push_dev_t, app)},
        {"board=", offsetof(sw_push_dev_t, board)},
        {"uri=", offsetof(sw_push_dev_t, uri)},
        {"host=", offsetof(sw_push_dev_t, name)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t k = strlen(keys[i].key);
        if (!strncmp(sel, keys[i].key, k))
            return fnmatch(sel + k, (const char *)d + keys[i].off, 0) == 0;
    }
    return fnmatch(sel, dev_label(d), 0) == 0;
}

static bool selected(const sw_push_t *p, const sw_push_dev_t *d)
{
    if (!p->o.n_to)
        return true;
    for (size_t i = 0; i < p->o.n_to; i++)
        if (sw_push_match(p->o.to[i], d))
            return true;
    return false;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Local manifests

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const sw_manifest_t *sw_push_local(sw_push_t *p, const char *target, char *err, size_t errcap)
{
    for (size_t i = 0; i < p->n_loc; i++)
        if (!strcmp(p->loc[i]->t, target)) {
            if (p->loc[i]->err) {
                snprintf(err, errcap, "%s", p->loc[i]->text);
                return NULL;
            }
            return &p->loc[i]->m;
        }
    if (p->n_loc == p->cap_loc) {
        size_t cap = p->cap_loc ? p->cap_loc * 2 : 8;
        local_tgt_t **q = realloc(p->loc, cap * sizeof *q);
        if (!q) {
            snprintf(err, errcap, "out of memory");
            return NULL;
        }
        p->loc = q;
        p->cap_loc = cap;
    }
    local_tgt_t *lt = calloc(1, sizeof *lt);
    if (!lt) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->loc[p->n_loc++] = lt;
    snprintf(lt->t, sizeof lt->t, "%s", target);
    sw_manifest_init(&lt->m);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", p->o.project, target);
    char text[260];
    lt->err = sw_manifest_scan(dir, &lt->m, text, sizeof text);
    if (lt->err) {
        snprintf(lt->text, sizeof lt->text, "%s: %s", target, text);
        snprintf(err, errcap, "%s", lt->text);
        return NULL;
    }
    return &lt->m;
}

// The targets a device gets, from its app and board. false (with d->reason) when there is
// nothing in the project for it.
static bool plan_targets(sw_push_t *p, sw_push_dev_t *d)
{
    const char *app = p->o.app ? p->o.app : d->app;
    d->n_tgt = 0;
    if (!app[0]) {
        snprintf(d->reason, sizeof d->reason, "the device names no app (give --app)");
        return false;
    }
    if (!plain_name(app)) {
        snprintf(d->reason, sizeof d->reason, "app name '%.64s' is not a plain name", app);
        return false;
    }
    snprintf(d->push_app, sizeof d->push_app, "%s", app);
    char dir[4096];
    if (d->board[0] && plain_name(d->board)) {
        // board scripts are a main.lua (like an app's); a folder of anything else (a board's
        // C sources, as in swarm's own tree) is not for the device
        snprintf(dir, sizeof dir, "%s/boards/%s/main.lua", p->o.project, d->board);
        if (is_file(dir))
            snprintf(d->tgt[d->n_tgt++].t, sizeof d->tgt[0].t, "boards/%s", d->board);
    }
    snprintf(dir, sizeof dir, "%s/apps/%s", p->o.project, app);
    if (is_dir(dir))
        snprintf(d->tgt[d->n_tgt++].t, sizeof d->tgt[0].t, "apps/%s", app);
    else if (!d->n_tgt) {
        snprintf(d->reason, sizeof d->reason, "the project has no apps/%s", app);
        return false;
    }
    for (int i = 0; i < d->n_tgt; i++) {
        char err[300];
        const sw_manifest_t *m = sw_push_local(p, d->tgt[i].t, err, sizeof err);
        if (!m) {
            snprintf(d->reason, sizeof d->reason, "%s", err);
            d->res = SW_PUSH_FAILED;
            return false;
        }
        memcpy(d->tgt[i].id, m->hex, sizeof d->tgt[i].id);
    }
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Device results and the scheduler

static void schedule(sw_push_t *p);

static void event(sw_push_t *p, sw_push_dev_t *d)
{
    if (p->o.event)
        p->o.event(p->o.u, d);
}

static void set_step(dev_run_t *r, sw_push_step_t s)
{
    sw_push_step_t was = r->d->step;
    r->d->step = s;
    event(r->p, r->d);
    if (s == SW_PUSH_COMMIT && was != SW_PUSH_COMMIT)
        schedule(r->p); // a device in its health check frees its slot
}

// A result for a device that was never started.
static void settle(sw_push_t *p, sw_push_dev_t *d, sw_push_res_t res, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void settle(sw_push_t *p, sw_push_dev_t *d, sw_push_res_t res, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->reason, sizeof d->reason, fmt, ap);
        va_end(ap);
    }
    d->res = res;
    d->step = SW_PUSH_DONE;
    d->t_start = d->t_end = sw_push_now(p);
    event(p, d);
}

static void on_timer_closed(uv_handle_t *h)
{
    dev_run_t *r = h->data;
    sw_push_t *p = r->p;
    sw_manifest_free(&r->have);
    sw_mf_diff_free(&r->diff);
    for (long i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    free(r);
    p->runs--;
}

static bool is_failure(sw_push_res_t r)
{
    return r == SW_PUSH_FAILED || r == SW_PUSH_ROLLED_BACK;
}

static void stop_rollout(sw_push_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stop_rollout(sw_push_t *p, const char *fmt, ...)
{
    if (p->stopped)
        return;
    p->stopped = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->stop_why, sizeof p->stop_why, fmt, ap);
    va_end(ap);
}

// The device has its result: the link goes, the counters move, the next devices start.
static void finish(dev_run_t *r, sw_push_res_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(dev_run_t *r, sw_push_res_t res, const char *fmt, ...)
{
    if (r->finished)
        return;
    r->finished = true;
    sw_push_t *p = r->p;
    sw_push_dev_t *d = r->d;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->reason, sizeof d->reason, fmt, ap);
        va_end(ap);
    }
    // Transfers first (their done callbacks see finished and only close their files), then
    // the link (answers still due are cancelled; they see finished too).
    for (int i = 0; i < FILES_MAX; i++)
        if (r->up[i].x)
            sw_xfer_cancel(r->up[i].x);
    if (r->l)
        sw_hlink_close(r->l);
    r->l = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    d->run = NULL;
    d->res = res;
    d->step = SW_PUSH_DONE;
    d->t_end = sw_push_now(p);
    p->active--;
    if (d->canary) {
        p->canary_active--;
        if (res == SW_PUSH_OK || res == SW_PUSH_UNCHANGED || res == SW_PUSH_DRY)
            p->canary_ok++;
        else if (is_failure(res))
            stop_rollout(p, "canary %s failed", dev_label(d));
        else
            d->canary = false; // unreachable: it proves nothing; another device takes its turn
    }
    if (is_failure(res)) {
        p->failures++;
        if (p->o.max_failures && p->failures >= p->o.max_failures)
            stop_rollout(p, "%u failure%s (--max-failures %u)", p->failures,
                         p->failures == 1 ? "" : "s", p->o.max_failures);
    }
    event(p, d);
    schedule(p);
}

static void dev_start(sw_push_t *p, sw_push_dev_t *d);

// Devices that hold a slot of --parallel: started, not finished, and not merely waiting for
// the answer of their commit (the device's grace period, seconds of an idle link). With a
// failure limit they keep it: their outcome decides whether the rollout goes on.
static size_t busy(const sw_push_t *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        k += p->devs[i].run && (p->devs[i].step != SW_PUSH_COMMIT || p->o.max_failures);
    return k;
}

static void schedule(sw_push_t *p)
{
    if (p->in_schedule) {
        p->again = true; // a device finished while we were starting others
        return;
    }
    p->in_schedule = true;
    do {
        p->again = false;
        for (size_t i = 0; i < p->n; i++) {
            sw_push_dev_t *d = &p->devs[i];
            if (d->res != SW_PUSH_PENDING || d->step != SW_PUSH_WAIT)
                continue;
            if (p->stopped) {
                settle(p, d, SW_PUSH_SKIPPED, "not started: %s", p->stop_why);
                continue;
            }
            if (busy(p) >= p->o.parallel || p->active >= p->o.parallel + SW_PUSH_WAITING_MAX)
                break;
            if (p->o.canary && p->canary_ok < p->o.canary) {
                if (p->canary_ok + p->canary_active >= p->o.canary)
                    break; // the canaries must succeed first
                d->canary = true;
                p->canary_active++;
            }
            p->active++;
            dev_start(p, d);
        }
    } while (p->again);
    p->in_schedule = false;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Calls

// What a commit without an answer leaves: the device may have hung in the new version, which
// it rolls back when it restarts (docs/PROTOCOL.md, "Recovery").
#define COMMIT_LOST "the device has the old or the new version; a new version whose health check did " \
                    "not complete is rolled back when the device restarts (its push.manifest says which; " \
                    "the next push completes it)"

static void no_answer(dev_run_t *r)
{
    bool commit = r->d->step == SW_PUSH_COMMIT;
    finish(r, SW_PUSH_FAILED, "no answer within %.1f s (%s)%s%s", r->p->o.timeout_ms / 1000.0,
           sw_push_step_name(r->d->step), commit ? ": " : "", commit ? COMMIT_LOST : "");
}

// The answer of the probe for a locked node (on_deadline).
static void on_probe(void *u, sw_hlink_t *l, bool locked)
{
    (void)l;
    dev_run_t *r = u;
    if (r->finished || !r->probing)
        return;
    r->probing = false;
    if (!locked) {
        no_answer(r); // an open node, merely silent
        return;
    }
    // no session was ever set up: the device counts as not reached (the exit status of a
    // wrong key, and of the one-shot commands: 3)
    r->d->connected = false;
    finish(r, SW_PUSH_OFFLINE, SW_KEY_LOCKED_TEXT ": %s", sw_key_missing_hint());
}

static void on_probe_deadline(uv_timer_t *t)
{
    dev_run_t *r = t->data;
    r->probing = false;
    no_answer(r);
}

static void on_deadline(uv_timer_t *t)
{
    dev_run_t *r = t->data;
    // A plain lossless line that never answered the first call: a locked node reads nothing but
    // a handshake. Ask the line what is there before blaming the device (the one-shot commands
    // do the same with the blocking form, sw__cli_locked_line).
    if (r->d->step == SW_PUSH_INFO && !r->probing && sw_hlink_probe_locked(r->l, on_probe, r)) {
        r->probing = true;
        uv_timer_start(&r->timer, on_probe_deadline, SW_HLINK_PROBE_MS, 0);
        return;
    }
    no_answer(r);
}

static void arm(dev_run_t *r, uint64_t extra_ms)
{
    if (r->p->o.timeout_ms)
        uv_timer_start(&r->timer, on_deadline, r->p->o.timeout_ms + extra_ms, 0);
}

// A control call; its answer goes to fn (with the run as u) unless the run finished.
static bool call(dev_run_t *r, const char *cmd, const sw_mpw_t *w, sw_hlink_answer_fn fn,
                 uint64_t extra_ms)
{
    if (w->err) {
        finish(r, SW_PUSH_FAILED, "%s: the request does not fit in a message", cmd);
        return false;
    }
    size_t lim = sw_hlink_max_msg(r->l);
    if (r->dev_max_msg && r->dev_max_msg < lim)
        lim = r->dev_max_msg;
    if (lim && w->len + SW_XFER_MSG_OVERHEAD > lim) {
        finish(r, SW_PUSH_FAILED, "%s: %zu bytes of arguments, more than the link carries "
               "(%zu): push fewer files at once", cmd, w->len, lim);
        return false;
    }
    int64_t seq = sw_hlink_call(r->l, cmd, (sw_span_t){w->buf, w->len}, 0, fn, r);
    if (seq < 0) {
        finish(r, SW_PUSH_FAILED, "%s: %s", cmd,
               seq == SW_ECLOSED || seq == SW_EAUTH ? sw_hlink_error(r->l) : sw_strerror((int)seq));
        return false;
    }
    r->due++;
    arm(r, extra_ms);
    return true;
}

// Common handling of an answer: false when the caller should stop (run finished or failed).
static bool answered(dev_run_t *r, const sw_msg_t *m, int err, const char *what)
{
    if (r->finished)
        return false;
    r->probing = false; // (an answer after all: the probe's is not needed)
    if (r->due)
        r->due--;
    if (!r->due)
        uv_timer_stop(&r->timer);
    else
        arm(r, 0);
    if (m && (m->kind == SW_MSG_REPLY || m->kind == SW_MSG_ERROR))
        return true;
    if (m)
        finish(r, SW_PUSH_FAILED, "%s: unexpected answer", what);
    else if (err == SW_ECLOSED)
        finish(r, SW_PUSH_FAILED, "link lost during %s: %s", what,
               r->l ? sw_hlink_error(r->l) : "closed");
    else
        finish(r, SW_PUSH_FAILED, "%s: %s", what, sw_strerror(err));
    return false;
}

// The error text of an error answer, into buf.
static const char *err_text(const sw_msg_t *m, char *buf, size_t cap)
{
    sw_mpr_t rd;
    sw_mpr_init(&rd, m->e.p, m->e.n);
    sw_span_t s;
    if (sw_mpr_str(&rd, &s))
        snprintf(buf, cap, "%.*s", (int)(s.n > 380 ? 380 : s.n), (const char *)s.p);
    else
        snprintf(buf, cap, "(an error that is not a string)");
    return buf;
}

// A string value of a reply map into buf ("" when absent or not a string).
static void map_str(sw_span_t d, const char *key, char *buf, size_t cap)
{
    sw_span_t v;
    buf[0] = 0;
    if (sw_mp_map_get(d.p, d.n, key, &v))
        return;
    sw_mpr_t rd;
    sw_mpr_init(&rd, v.p, v.n);
    sw_span_t s;
    if (sw_mpr_str(&rd, &s) && s.n < cap && !memchr(s.p, 0, s.n)) {
        memcpy(buf, s.p, s.n);
        buf[s.n] = 0;
    }
}

static bool map_uint(sw_span_t d, const char *key, uint64_t *out)
{
    sw_span_t v;
    if (sw_mp_map_get(d.p, d.n, key, &v))
        return false;
    sw_mpr_t rd;
    sw_mpr_init(&rd, v.p, v.n);
    return sw_mpr_uint(&rd, out);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The steps of a device

static void next_target(dev_run_t *r);
static void start_uploads(dev_run_t *r);
static void after_targets(dev_run_t *r);
static void on_info(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

static void on_state(void *u, sw_hlink_t *l, bool up, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (r->finished)
        return;
    sw_push_dev_t *d = r->d;
    if (up) {
        if (d->step != SW_PUSH_CONNECT)
            return;
        d->connected = true;
        set_step(r, SW_PUSH_INFO);
        sw_mpw_t w;
        uint8_t buf[8];
        sw_mpw_init(&w, buf, sizeof buf);
        sw_mpw_map(&w, 0);
        call(r, "sys.info", &w, on_info, 0);
        return;
    }
    if (d->step == SW_PUSH_CONNECT)
        finish(r, SW_PUSH_OFFLINE, "%s", sw_hlink_error(r->l));
    else if (d->step == SW_PUSH_REBOOT)
        finish(r, SW_PUSH_OK, NULL); // the device went down to reboot
    else
        finish(r, SW_PUSH_FAILED, "link lost during %s: %s", sw_push_step_name(d->step),
               err ? sw_hlink_error(r->l) : "closed by the device");
}

static void dev_start(sw_push_t *p, sw_push_dev_t *d)
{
    dev_run_t *r = calloc(1, sizeof *r);
    d->t_start = sw_push_now(p);
    if (!r) {
        p->active--;
        if (d->canary) {
            p->canary_active--;
            d->canary = false;
        }
        settle(p, d, SW_PUSH_FAILED, "out of memory");
        return;
    }
    r->p = p;
    r->d = d;
    d->run = r;
    sw_manifest_init(&r->have);
    uv_timer_init(p->loop, &r->timer);
    r->timer.data = r;
    p->runs++;
    for (int i = 0; i < FILES_MAX; i++)
        r->up[i].fd = -1;
    set_step(r, SW_PUSH_CONNECT);
    sw_hlink_opts_t o;
    sw_hlink_opts_default(&o);
    o.connect_timeout_ms = p->o.connect_timeout_ms ? p->o.connect_timeout_ms : 5000;
    sw_hlink_cbs_t cbs = {on_state, NULL, NULL, r};
    char err[300];
    int rc = sw_hlink_open(p->loop, d->uri, &o, &cbs, &r->l, err, sizeof err);
    if (rc)
        finish(r, rc == SW_EINVAL ? SW_PUSH_FAILED : SW_PUSH_OFFLINE, "%s", err);
}

static void on_info(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (!answered(r, m, err, "sys.info"))
        return;
    sw_push_dev_t *d = r->d;
    sw_push_t *p = r->p;
    if (m->kind == SW_MSG_ERROR) {
        char t[400];
        err_text(m, t, sizeof t);
        // through a mux: the mux is there, the device is not
        finish(r, strncmp(t, "ECLOSED:", 8) ? SW_PUSH_FAILED : SW_PUSH_OFFLINE, "sys.info: %s", t);
        return;
    }
    char s[64];
    map_str(m->d, "host_name", s, sizeof s);
    if (s[0])
        memcpy(d->name, s, sizeof d->name);
    map_str(m->d, "app_name", d->app, sizeof d->app);
    map_str(m->d, "hardware_name", d->board, sizeof d->board);
    uint64_t mm;
    if (map_uint(m->d, "max_msg", &mm) && mm >= 256 && mm <= (1u << 24))
        r->dev_max_msg = (uint32_t)mm;
    uint64_t zb, zr;
    if (map_uint(m->d, "z", &zb) && zb >= 9 && zb <= 15 && map_uint(m->d, "zr", &zr) &&
        zr >= 1 && zr <= UINT32_MAX) {
        r->zbits = (uint8_t)zb;
        r->zratio = (uint32_t)zr;
    }
    if (!selected(p, d)) {
        finish(r, SW_PUSH_IGNORED, "not selected by --to");
        return;
    }
    if (!plan_targets(p, d)) {
        finish(r, d->res == SW_PUSH_FAILED ? SW_PUSH_FAILED : SW_PUSH_IGNORED, NULL);
        return;
    }
    d->cur_tgt = 0;
    next_target(r);
}

static void on_manifest(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);
static void on_begin(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);
static void on_mkdir(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);
static void on_commit(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

// push.manifest from file o on (a link with small messages gets the list in pages).
static void ask_manifest(dev_run_t *r, size_t o)
{
    uint8_t buf[128];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, o ? 2 : 1);
    sw_mpw_cstr(&w, "t"), sw_mpw_cstr(&w, r->d->tgt[r->d->cur_tgt].t);
    if (o)
        sw_mpw_cstr(&w, "o"), sw_mpw_uint(&w, o);
    call(r, "push.manifest", &w, on_manifest, 0);
}

static void next_target(dev_run_t *r)
{
    sw_push_dev_t *d = r->d;
    if (d->cur_tgt >= d->n_tgt) {
        after_targets(r);
        return;
    }
    set_step(r, SW_PUSH_MANIFEST);
    sw_manifest_free(&r->have);
    r->have_n = 0;
    r->have_id[0] = 0;
    ask_manifest(r, 0);
}

// A dry run reports what the real push would do: where the host would refuse to send cmd (a
// device that answered open although the host holds a key), the same failure as call()'s.
static bool dry_gate(dev_run_t *r, const char *cmd)
{
    int rc = sw_hlink_gate(r->l, cmd);
    if (!rc)
        return true;
    finish(r, SW_PUSH_FAILED, "%s: %s", cmd,
           rc == SW_ECLOSED || rc == SW_EAUTH ? sw_hlink_error(r->l) : sw_strerror(rc));
    return false;
}

// Records the changes of the current target (for --dry-run and reports).
static bool record_changes(dev_run_t *r, sw_push_tgt_t *t)
{
    size_t n = r->diff.n_put + r->diff.n_del;
    t->changes = n ? calloc(n, sizeof *t->changes) : NULL;
    if (n && !t->changes)
        return false;
    for (size_t i = 0; i < r->diff.n_put; i++) {
        const sw_mf_file_t *f = &r->want->files[r->diff.put[i]];
        sw_push_change_t *c = &t->changes[t->n_changes];
        c->op = sw_manifest_find(&r->have, f->path) ? '~' : '+';
        c->size = f->size;
        if (!(c->path = strdup(f->path)))
            return false;
        t->n_changes++;
    }
    for (size_t i = 0; i < r->diff.n_del; i++) {
        const sw_mf_file_t *f = &r->have.files[r->diff.del[i]];
        sw_push_change_t *c = &t->changes[t->n_changes];
        c->op = '-';
        c->size = f->size;
        if (!(c->path = strdup(f->path)))
            return false;
        t->n_changes++;
    }
    return true;
}

static void on_manifest(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (!answered(r, m, err, "push.manifest"))
        return;
    sw_push_dev_t *d = r->d;
    sw_push_tgt_t *t = &d->tgt[d->cur_tgt];
    char text[400];
    if (m->kind == SW_MSG_ERROR) {
        finish(r, SW_PUSH_FAILED, "push.manifest %s: %s", t->t, err_text(m, text, sizeof text));
        return;
    }
    char id[72];
    map_str(m->d, "id", id, sizeof id);
    uint64_t total = 0;
    size_t had = r->have.n;
    sw_span_t files;
    if (sw_mp_map_get(m->d.p, m->d.n, "files", &files) ||
        sw_manifest_add_mp(files.p, files.n, &r->have) || strlen(id) != 64) {
        finish(r, SW_PUSH_FAILED, "push.manifest %s: the answer is not a manifest", t->t);
        return;
    }
    if (!had) { // the first page says how many files there are, and the id
        if (!map_uint(m->d, "n", &total))
            total = r->have.n; // a node that sends the whole list at once
        r->have_n = total;
        memcpy(r->have_id, id, sizeof r->have_id);
    } else if (strcmp(id, r->have_id)) {
        finish(r, SW_PUSH_FAILED, "push.manifest %s: the target changed while it was read", t->t);
        return;
    }
    if (r->have.n < r->have_n) {
        if (r->have.n == had || r->have_n > SW_MF_MAX_FILES) {
            finish(r, SW_PUSH_FAILED, "push.manifest %s: %llu files announced, %zu sent", t->t,
                   (unsigned long long)r->have_n, r->have.n);
            return;
        }
        ask_manifest(r, r->have.n);
        return;
    }
    sw_manifest_finish(&r->have);
    if (strcmp(id, r->have.hex)) {
        // the id is the app hash of exactly these entries: if they disagree, one side hashes
        // differently, and a commit could never verify
        finish(r, SW_PUSH_FAILED, "push.manifest %s: the device's id %.16s… does not match "
               "its file list (%.16s…)", t->t, id, r->have.hex);
        return;
    }
    memcpy(t->old_id, id, sizeof t->old_id);
    char e[300];
    r->want = sw_push_local(r->p, t->t, e, sizeof e);
    if (!r->want) {
        finish(r, SW_PUSH_FAILED, "%s", e);
        return;
    }
    sw_mf_diff_free(&r->diff);
    if (sw_manifest_diff(r->want, &r->have, &r->diff) || !record_changes(r, t)) {
        finish(r, SW_PUSH_FAILED, "out of memory");
        return;
    }
    t->put = (uint32_t)r->diff.n_put;
    t->del = (uint32_t)r->diff.n_del;
    t->put_bytes = r->diff.put_bytes;
    if (!strcmp(t->old_id, t->id)) {
        t->unchanged = true;
        d->cur_tgt++;
        next_target(r);
        return;
    }
    d->bytes_total += r->diff.put_bytes;
    d->files_total += (uint32_t)r->diff.n_put;
    if (r->p->o.dry_run) {
        if (!dry_gate(r, "push.begin"))
            return;
        d->cur_tgt++;
        next_target(r);
        return;
    }
    set_step(r, SW_PUSH_BEGIN);
    uint8_t buf[256];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "t"), sw_mpw_cstr(&w, t->t);
    sw_mpw_cstr(&w, "id"), sw_mpw_cstr(&w, t->id);
    call(r, "push.begin", &w, on_begin, 0);
}

static bool mkdir_call(dev_run_t *r, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", r->stage, dir);
    uint8_t buf[1100];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "p"), sw_mpw_cstr(&w, path);
    return call(r, "f.mkdir", &w, on_mkdir, 0);
}

static void on_begin(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (!answered(r, m, err, "push.begin"))
        return;
    sw_push_dev_t *d = r->d;
    sw_push_tgt_t *t = &d->tgt[d->cur_tgt];
    char text[400];
    if (m->kind == SW_MSG_ERROR) {
        finish(r, SW_PUSH_FAILED, "push.begin %s: %s", t->t, err_text(m, text, sizeof text));
        return;
    }
    map_str(m->d, "stage", r->stage, sizeof r->stage);
    size_t sl = strlen(r->stage);
    while (sl > 1 && r->stage[sl - 1] == '/')
        r->stage[--sl] = 0;
    if (!r->stage[0]) {
        finish(r, SW_PUSH_FAILED, "push.begin %s: no staging directory in the answer", t->t);
        return;
    }
    for (long i = 0; i < r->n_dirs; i++)
        free(r->dirs[i]);
    free(r->dirs);
    r->dirs = NULL;
    r->n_dirs = sw_manifest_dirs(r->want, &r->diff, &r->dirs);
    if (r->n_dirs < 0) {
        r->n_dirs = 0;
        finish(r, SW_PUSH_FAILED, "out of memory");
        return;
    }
    if (!r->n_dirs) {
        start_uploads(r);
        return;
    }
    // All of them at once: the device handles a link's requests in order, so parents come
    // before their children.
    set_step(r, SW_PUSH_MKDIR);
    for (long i = 0; i < r->n_dirs; i++)
        if (!mkdir_call(r, r->dirs[i]))
            return;
}

static void on_mkdir(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (!answered(r, m, err, "f.mkdir"))
        return;
    char text[400];
    if (m->kind == SW_MSG_ERROR && strcmp(err_text(m, text, sizeof text), "fx")) {
        finish(r, SW_PUSH_FAILED, "f.mkdir in %s: %s", r->stage, text);
        return;
    }
    if (!r->due)
        start_uploads(r);
}

static void send_commit(dev_run_t *r);
static void start_files(dev_run_t *r);

static void file_progress(void *u, uint64_t done, uint64_t total)
{
    (void)total;
    file_up_t *f = u;
    dev_run_t *r = f->r;
    f->done = done;
    uint64_t sum = r->bytes_files;
    for (int i = 0; i < FILES_MAX; i++)
        if (r->up[i].x)
            sum += r->up[i].done;
    r->d->bytes_sent = sum;
}

static void file_done(void *u, const sw_xfer_result_t *res)
{
    file_up_t *f = u;
    dev_run_t *r = f->r;
    f->x = NULL;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    r->files_active--;
    r->z_active -= f->z;
    if (r->finished)
        return;
    const char *path = r->want->files[f->idx].path;
    if (res->err) {
        if (res->err == SW_ECLOSED)
            finish(r, SW_PUSH_FAILED, "link lost while sending %s: %s", path, res->text);
        else
            finish(r, SW_PUSH_FAILED, "sending %s (f.%s): %s", path, res->step, res->text);
        return;
    }
    if (res->dev_max_msg)
        r->dev_max_msg = res->dev_max_msg;
    r->bytes_files += res->bytes;
    r->d->bytes_wire += res->wire;
    r->d->files_z += res->compressed;
    r->d->bytes_sent = r->bytes_files;
    for (int i = 0; i < FILES_MAX; i++)
        if (r->up[i].x)
            r->d->bytes_sent += r->up[i].done;
    r->d->files_done++;
    start_files(r);
}

// What file idx of the wanted manifest sends to this device, made on first use (once per push,
// not once per device): its zlib stream, or its plain bytes when compression does not pay.
// Returns 1 with *data/*len (compressed), 2 with *data/*len (plain), or 0 (no cache: the
// transfer engine reads the file itself). The file is read once, here.
static int zcached(dev_run_t *r, size_t idx, const char *local, uint64_t size, const uint8_t **data,
                   size_t *len)
{
    sw_push_t *p = r->p;
    local_tgt_t *lt = NULL;
    for (size_t i = 0; i < p->n_loc && !lt; i++)
        if (&p->loc[i]->m == r->want)
            lt = p->loc[i];
    if (!lt || idx >= lt->m.n || size > (64u << 20))
        return 0;
    if (!lt->z && !(lt->z = calloc(lt->m.n, sizeof *lt->z)))
        return 0;
    zfile_t *z = &lt->z[idx];
    if (z->state && (z->zbits != r->zbits || z->zratio != r->zratio))
        return 0; // made for another kind of device: this one gets its own
    if (!z->state) {
        // kept from an earlier push (zstore.h): the stream of these very bytes (the manifest's
        // SHA-256), checked as it is read back
        const uint8_t *sha = lt->m.files[idx].sha256;
        uint8_t *c = NULL;
        size_t cn = 0;
        int kept = size >= 64 ? sw_zstore_get(sha, r->zbits, r->zratio, size, &c, &cn) : 0;
        uv_update_time(p->loop);
        if (kept == 1) {
            z->data = c;
            z->len = cn;
            z->state = 1;
            z->zbits = r->zbits;
            z->zratio = r->zratio;
            *data = z->data;
            *len = z->len;
            return 1;
        }
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
            return 0;
        int fd = open(local, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd < 0 ? -1 : pread(fd, buf, size, 0);
        uint8_t extra;
        bool same = got == (ssize_t)size && pread(fd, &extra, 1, (off_t)size) == 0;
        if (fd >= 0)
            close(fd);
        if (!same) {
            free(buf); // changed since the scan (or unreadable): let the engine say so
            return 0;
        }
        int rc = kept == 2 ? 1 : sw_zpack(buf, size, r->zbits, r->zratio, &c, &cn);
        uv_update_time(p->loop); // timeouts count from now, not from before the deflate
        if (rc < 0) {
            free(buf);
            return 0;
        }
        if (!kept && size >= 64)
            sw_zstore_put(sha, r->zbits, r->zratio, c, rc == 0 ? cn : 0);
        if (rc == 0) {
            free(buf);
            z->data = c;
            z->len = cn;
            z->state = 1;
        } else { // it goes plain: these bytes, to every device
            z->data = buf;
            z->len = size;
            z->state = 2;
        }
        z->zbits = r->zbits;
        z->zratio = r->zratio;
    }
    *data = z->data;
    *len = z->len;
    return z->state;
}

static void start_files(dev_run_t *r)
{
    sw_push_t *p = r->p;
    uint32_t max = p->o.files ? p->o.files : SW_PUSH_FILES_DEFAULT;
    if (max > FILES_MAX)
        max = FILES_MAX;
    while (!r->finished && r->files_active < max && r->next_put < r->diff.n_put) {
        int slot = -1;
        for (int i = 0; i < FILES_MAX && slot < 0; i++)
            if (!r->up[i].x && r->up[i].fd < 0)
                slot = i;
        if (slot < 0)
            break;
        file_up_t *f = &r->up[slot];
        size_t idx = r->diff.put[r->next_put++];
        const sw_mf_file_t *mf = &r->want->files[idx];
        const sw_push_tgt_t *t = &r->d->tgt[r->d->cur_tgt];
        char local[4096], remote[1024];
        snprintf(local, sizeof local, "%s/%s/%s", p->o.project, t->t, mf->path);
        snprintf(remote, sizeof remote, "%s/%s", r->stage, mf->path);
        // the manifest has the file's hash: the engine need not hash it again for each device;
        // f.cl goes with the last f.wr: push.commit checks every staged file against the id
        sw_xfer_opts_t xo = {p->o.window, 0, r->dev_max_msg, p->o.timeout_ms, true,
                             !p->o.no_compress, r->zbits, r->zratio, NULL, 0, mf->sha256, true,
                             NULL, 0};
        int zc = 0;
        if (xo.compress && r->zbits) {
            const uint8_t *d;
            size_t n;
            zc = zcached(r, idx, local, mf->size, &d, &n);
            if (zc == 1) {
                xo.zdata = d, xo.zlen = n;
            } else if (zc == 2) {
                xo.compress = false; // it does not pay: plain, without trying again
                xo.data = d, xo.len = n;
            }
        }
        f->z = xo.compress && r->zbits;
        if (f->z && r->z_active >= SW_PUSH_ZFILES_MAX) {
            // the node inflates only so many files at once: this one waits for a free inflater
            // (a plain file after it would not: keep the order simple, the stream is cached)
            r->next_put--;
            break;
        }
        // the bytes are in memory (made once for every device): no file to open per device
        int fd = zc ? -1 : open(local, O_RDONLY | O_CLOEXEC);
        if (!zc && fd < 0) {
            finish(r, SW_PUSH_FAILED, "cannot read %s: %s", local, strerror(errno));
            return;
        }
        f->r = r;
        f->fd = fd;
        f->idx = idx;
        f->done = 0;
        r->files_active++;
        r->z_active += f->z;
        sw_xfer_cbs_t cbs = {file_progress, file_done, f};
        sw_xfer_t *x = NULL;
        // the slot is taken before the call: done() may run inside it
        f->x = (sw_xfer_t *)1;
        int rc = sw_xfer_put(p->loop, r->l, fd, mf->size, remote, &xo, &cbs, &x);
        if (rc) {
            f->x = NULL;
            if (fd >= 0)
                close(fd);
            f->fd = -1;
            r->files_active--;
            r->z_active -= f->z;
            finish(r, SW_PUSH_FAILED, "sending %s: %s", mf->path,
                   rc == SW_ECLOSED || rc == SW_EAUTH ? sw_hlink_error(r->l) : sw_strerror(rc));
            return;
        }
        if (f->x) // not done yet
            f->x = x;
    }
    if (!r->finished && r->files_active == 0 && r->next_put >= r->diff.n_put)
        send_commit(r);
}

static void start_uploads(dev_run_t *r)
{
    r->next_put = 0;
    if (r->diff.n_put)
        set_step(r, SW_PUSH_UPLOAD);
    start_files(r);
}

static void send_commit(dev_run_t *r)
{
    sw_push_dev_t *d = r->d;
    if (d->step == SW_PUSH_COMMIT)
        return; // already sent (a transfer that ended inside its own start)
    sw_push_tgt_t *t = &d->tgt[d->cur_tgt];
    sw_push_t *p = r->p;
    set_step(r, SW_PUSH_COMMIT);
    size_t cap = 256 + strlen(t->t) + 64;
    for (size_t i = 0; i < r->diff.n_put; i++)
        cap += strlen(r->want->files[r->diff.put[i]].path) + 5;
    for (size_t i = 0; i < r->diff.n_del; i++)
        cap += strlen(r->have.files[r->diff.del[i]].path) + 5;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        finish(r, SW_PUSH_FAILED, "out of memory");
        return;
    }
    size_t lim = sw_hlink_max_msg(r->l);
    if (r->dev_max_msg && r->dev_max_msg < lim)
        lim = r->dev_max_msg;
    sw_mpw_t w;
    bool grace = p->o.grace_ms >= 0;
    // The list of puts is what the host uploaded since push.begin: when it does not fit in a
    // message (serial links), the node takes "every staged file" instead.
    for (int with_put = 1; with_put >= 0; with_put--) {
        sw_mpw_init(&w, buf, cap);
        sw_mpw_map(&w, 3u + (unsigned)with_put + (grace ? 1u : 0u));
        sw_mpw_cstr(&w, "t"), sw_mpw_cstr(&w, t->t);
        sw_mpw_cstr(&w, "id"), sw_mpw_cstr(&w, t->id);
        if (with_put) {
            sw_mpw_cstr(&w, "put"), sw_mpw_array(&w, (uint32_t)r->diff.n_put);
            for (size_t i = 0; i < r->diff.n_put; i++)
                sw_mpw_cstr(&w, r->want->files[r->diff.put[i]].path);
        }
        sw_mpw_cstr(&w, "del"), sw_mpw_array(&w, (uint32_t)r->diff.n_del);
        for (size_t i = 0; i < r->diff.n_del; i++)
            sw_mpw_cstr(&w, r->have.files[r->diff.del[i]].path);
        if (grace)
            sw_mpw_cstr(&w, "grace_ms"), sw_mpw_int(&w, p->o.grace_ms);
        if (!lim || w.len + SW_XFER_MSG_OVERHEAD <= lim)
            break;
    }
    // the answer comes after the device's grace period
    call(r, "push.commit", &w, on_commit,
         (uint64_t)(grace ? p->o.grace_ms : SW_PUSH_GRACE_DEFAULT) + 2000);
    free(buf);
}

static void on_commit(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    sw_push_dev_t *d = r->d;
    sw_push_tgt_t *t = &d->tgt[d->cur_tgt];
    if (!r->finished && !m && err == SW_ECLOSED) {
        finish(r, SW_PUSH_FAILED, "link lost during push.commit of %s: %s", t->t, COMMIT_LOST);
        return;
    }
    if (!answered(r, m, err, "push.commit"))
        return;
    char text[400];
    if (m->kind == SW_MSG_ERROR) {
        err_text(m, text, sizeof text);
        if (!strncmp(text, "rolled back", 11)) {
            const char *why = text + 11;
            while (*why == ':' || *why == ' ')
                why++;
            finish(r, SW_PUSH_ROLLED_BACK, "%s: %s", t->t, *why ? why : "health check failed");
        }
        else
            finish(r, SW_PUSH_FAILED, "push.commit %s: %s", t->t, text);
        return;
    }
    t->committed = true;
    map_str(m->d, "prev", t->prev, sizeof t->prev);
    uint64_t ms;
    if (map_uint(m->d, "ms", &ms))
        t->commit_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
    d->cur_tgt++;
    next_target(r);
}

static void on_switch(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);
static void on_reboot(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

static void reboot_or_done(dev_run_t *r)
{
    sw_push_dev_t *d = r->d;
    bool changed = d->switched;
    bool dry = false;
    for (int i = 0; i < d->n_tgt; i++) {
        changed |= d->tgt[i].committed;
        dry |= !d->tgt[i].unchanged;
    }
    if (r->p->o.dry_run) {
        finish(r, dry ? SW_PUSH_DRY : SW_PUSH_UNCHANGED, NULL);
        return;
    }
    if (!changed) {
        finish(r, SW_PUSH_UNCHANGED, NULL);
        return;
    }
    if (!r->p->o.reboot) {
        finish(r, SW_PUSH_OK, NULL);
        return;
    }
    set_step(r, SW_PUSH_REBOOT);
    uint8_t buf[32];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "code"), sw_mpw_cstr(&w, "SysBooT");
    call(r, "sys.boot", &w, on_reboot, 0);
}

static void after_targets(dev_run_t *r)
{
    sw_push_t *p = r->p;
    sw_push_dev_t *d = r->d;
    bool app_ok = false; // the app target exists and is in place on the device
    for (int i = 0; i < d->n_tgt; i++)
        if (!strncmp(d->tgt[i].t, "apps/", 5))
            app_ok = true;
    if (p->o.app && app_ok && strcmp(p->o.app, d->app) && !p->o.dry_run) {
        // --app X on a device that runs another app: X is in place; the device makes it the one
        // it runs and watches it for the grace period like a commit's reload, going back to the
        // previous app if it fails (the commit did not reload X: it was not running)
        set_step(r, SW_PUSH_SWITCH);
        bool grace = p->o.grace_ms >= 0;
        uint8_t buf[160];
        sw_mpw_t w;
        sw_mpw_init(&w, buf, sizeof buf);
        sw_mpw_map(&w, grace ? 2 : 1);
        sw_mpw_cstr(&w, "app"), sw_mpw_cstr(&w, p->o.app);
        if (grace)
            sw_mpw_cstr(&w, "grace_ms"), sw_mpw_int(&w, p->o.grace_ms);
        call(r, "push.switch", &w, on_switch, (uint64_t)(grace ? p->o.grace_ms : SW_PUSH_GRACE_DEFAULT) + 2000);
        return;
    }
    if (p->o.app && app_ok && strcmp(p->o.app, d->app) && !dry_gate(r, "push.switch"))
        return; // (a dry run: the real push would switch the app)
    reboot_or_done(r);
}

static void on_switch(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (!r->finished && !m && err == SW_ECLOSED) {
        finish(r, SW_PUSH_FAILED, "link lost during push.switch to %s: the device runs the old or the new app",
               r->p->o.app);
        return;
    }
    if (!answered(r, m, err, "push.switch"))
        return;
    char text[400];
    if (m->kind == SW_MSG_ERROR) {
        err_text(m, text, sizeof text);
        if (!strncmp(text, "rolled back", 11)) {
            const char *why = text + 11;
            while (*why == ':' || *why == ' ')
                why++;
            finish(r, SW_PUSH_ROLLED_BACK, "apps/%s: %s", r->p->o.app, *why ? why : "health check failed");
        }
        else
            finish(r, SW_PUSH_FAILED, "push.switch %s: %s", r->p->o.app, text);
        return;
    }
    r->d->switched = true;
    snprintf(r->d->app, sizeof r->d->app, "%s", r->p->o.app);
    reboot_or_done(r);
}

static void on_reboot(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    dev_run_t *r = u;
    if (r->finished)
        return;
    if (!m && err == SW_ECLOSED) { // it went down before its answer got through
        finish(r, SW_PUSH_OK, NULL);
        return;
    }
    if (!answered(r, m, err, "sys.boot"))
        return;
    char text[400];
    if (m->kind == SW_MSG_ERROR)
        finish(r, SW_PUSH_FAILED, "sys.boot: %s", err_text(m, text, sizeof text));
    else
        finish(r, SW_PUSH_OK, NULL);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The engine

static void init_devs(sw_push_dev_t *devs, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        sw_push_dev_t *d = &devs[i];
        if (d->res != SW_PUSH_PENDING) { // settled by the caller (e.g. IGNORED)
            d->step = SW_PUSH_DONE;
            continue;
        }
        d->step = SW_PUSH_WAIT;
        d->reason[0] = 0;
        d->n_tgt = 0;
        memset(d->tgt, 0, sizeof d->tgt);
        d->run = NULL;
    }
}

int sw_push_new(uv_loop_t *loop, const sw_push_opts_t *o, sw_push_dev_t *devs, size_t n,
                sw_push_t **out, char *err, size_t errcap)
{
    *out = NULL;
    if (!loop || !o || !o->project || (n && !devs)) {
        snprintf(err, errcap, "bad arguments");
        return SW_EINVAL;
    }
    if (o->app && !plain_name(o->app)) {
        snprintf(err, errcap, "--app '%s': not an app name (letters, digits, '_', '-')",
                 o->app);
        return SW_EINVAL;
    }
    sw_push_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    p->loop = loop;
    p->o = *o;
    if (!p->o.parallel)
        p->o.parallel = SW_PUSH_PARALLEL_DEFAULT;
    p->devs = devs;
    init_devs(devs, 0, n);
    p->n = n;
    *out = p;
    return 0;
}

// What can be settled without a connection: a device whose identity is known (scan) and that
// is not selected, has no app here, or has the project's app already (its beacon says so).
static void precheck(sw_push_t *p, sw_push_dev_t *d)
{
    if (!d->app[0])
        return; // known only after sys.info
    if (!selected(p, d)) {
        settle(p, d, SW_PUSH_IGNORED, "not selected by --to");
        return;
    }
    if (!plan_targets(p, d)) {
        settle(p, d, d->res == SW_PUSH_FAILED ? SW_PUSH_FAILED : SW_PUSH_IGNORED, NULL);
        if (d->res == SW_PUSH_FAILED)
            p->failures++;
        return;
    }
    if (p->o.no_quick || !d->beacon_hash[0] || d->n_tgt != 1 ||
        strncmp(d->tgt[0].t, "apps/", 5) || (p->o.app && strcmp(p->o.app, d->app)))
        return;
    if (!strcmp(d->beacon_hash, d->tgt[0].id)) {
        d->quick = true;
        d->tgt[0].unchanged = true;
        memcpy(d->tgt[0].old_id, d->tgt[0].id, sizeof d->tgt[0].old_id);
        settle(p, d, SW_PUSH_UNCHANGED, NULL);
    }
}

static void start_from(sw_push_t *p, size_t from)
{
    for (size_t i = from; i < p->n; i++)
        if (p->devs[i].res == SW_PUSH_PENDING)
            precheck(p, &p->devs[i]);
    if (p->o.max_failures && p->failures >= p->o.max_failures)
        stop_rollout(p, "%u failure%s (--max-failures %u)", p->failures,
                     p->failures == 1 ? "" : "s", p->o.max_failures);
    schedule(p);
}

void sw_push_start(sw_push_t *p)
{
    start_from(p, 0);
}

void sw_push_add(sw_push_t *p, size_t n)
{
    if (n <= p->n)
        return;
    size_t from = p->n;
    init_devs(p->devs, from, n);
    p->n = n;
    start_from(p, from);
}

void sw_push_more(sw_push_t *p, bool more)
{
    p->more = more;
}

bool sw_push_done(const sw_push_t *p)
{
    if (p->runs || p->active || p->more)
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (p->devs[i].res == SW_PUSH_PENDING)
            return false;
    return true;
}

void sw_push_stop(sw_push_t *p, const char *why, bool cancel)
{
    stop_rollout(p, "%s", why);
    if (cancel)
        for (size_t i = 0; i < p->n; i++) {
            sw_push_dev_t *d = &p->devs[i];
            if (!d->run)
                continue;
            // What is known: once a commit or a switch is asked for, the device goes on with
            // it alone (it runs the new version unless that fails its grace period)
            bool committed = false;
            for (int k = 0; k < d->n_tgt; k++)
                committed |= d->tgt[k].committed;
            if (d->step == SW_PUSH_COMMIT || d->step == SW_PUSH_SWITCH)
                finish(d->run, SW_PUSH_FAILED, "%s: switched, health unknown (the device watches the new "
                       "version and rolls it back by itself if it fails)", why);
            else if (committed || d->switched)
                finish(d->run, SW_PUSH_FAILED, "%s: switched (healthy), the rest of its push not done", why);
            else
                finish(d->run, SW_PUSH_FAILED, "%s: it keeps its old version", why);
        }
    schedule(p);
}

void sw_push_free(sw_push_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        for (int k = 0; k < SW_PUSH_MAX_TARGETS; k++) {
            sw_push_tgt_t *t = &p->devs[i].tgt[k];
            for (size_t j = 0; j < t->n_changes; j++)
                free(t->changes[j].path);
            free(t->changes);
            t->changes = NULL;
            t->n_changes = 0;
        }
    for (size_t i = 0; i < p->n_loc; i++) {
        if (p->loc[i]->z)
            for (size_t j = 0; j < p->loc[i]->m.n; j++)
                free(p->loc[i]->z[j].data);
        free(p->loc[i]->z);
        sw_manifest_free(&p->loc[i]->m);
        free(p->loc[i]);
    }
    free(p->loc);
    free(p);
}
