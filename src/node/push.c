// The "push" directory (docs/PROTOCOL.md "Push"): manifest, begin, commit, abort, rollback.
// A commit is verified against the id the host asks for before anything changes, written down
// as a journal, applied step by step (push_journal.c), then the target's app is reloaded and
// watched for a grace period: if its init_* or a routine fails meanwhile, the backup goes back
// in place the same way. The answer is deferred until that is decided. One commit or rollback
// runs at a time on a node. push.switch makes another app the running one under the same
// watch (a push --app to a device that ran another app), going back to the previous app if
// the new one fails.
#include "profile.h"
#if SW_WITH_PUSH
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "push_int.h"
#include "push_part.h"

#define NCMDS 6
#define CACHE_SLOTS SW_PUSH_CACHE_SLOTS // profile.h: manifests kept between calls
#define GRACE_DEFAULT 3000            // ms
#define GRACE_MAX 600000              // ms
#define TEST_DELAY_MAX 10000          // push.test_apply_delay_ms, ms per step
#define MANIFEST_TAIL 128             // reply room kept for prev, state and the reply's end

enum { OP_IDLE = 0, OP_APPLY, OP_HEALTH };
// UNDO: the rollback after a failed health check; SWITCH: push.switch's watch of the new app
enum { WHAT_COMMIT = 1, WHAT_ROLLBACK, WHAT_UNDO, WHAT_SWITCH };

typedef struct cache_slot {
    char t[SW_PUSH_TARGET];
    sw_manifest_t mf;
    uint32_t used;
} cache_slot_t;

typedef struct sw_push {
    sw_node_t *n;
    cache_slot_t cache[CACHE_SLOTS];
    uint32_t clock;

    // the operation in progress
    uint8_t phase;         // OP_*
    uint8_t what;          // WHAT_*
    bool has_reply;
    sw_reply_to_t reply;
    sw_push_plan_t plan;
    uint32_t t0;           // when the request came (ms)
    uint32_t grace_ms;
    uint32_t delay_ms;     // test knob: pause between steps
    bool failed, ready;
    char app[64];          // the app reloaded: its events count
    char prev_app[64];     // push.switch: the app that ran before (board.app_name)
    char why[SW_PUSH_LAST_MAX / 2];
    char err[320];         // error texts of replies (sw_call_fail needs them to outlive the handler)
    sw_timer_t timer;
    char paths[SW_PUSH_BUFS][SW_PUSH_PATH]; // sw__push_buf(): push's paths, never on the stack
} sw_push_t;

typedef sw_push_t push_t;

char *sw__push_buf(sw_node_t *n, int which) { return n->push->paths[which]; }

static push_t *push_of(const sw_call_t *c)
{
    sw_node_t *n = c->ctx;
    return n->push;
}

static int failf(sw_call_t *c, push_t *p, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int failf(sw_call_t *c, push_t *p, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof p->err, fmt, ap);
    va_end(ap);
    return sw_call_fail(c, err, p->err);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Arguments

static int arg_target(sw_call_t *c, push_t *p, char t[SW_PUSH_TARGET])
{
    sw_span_t s;
    if (!sw_call_arg_str(c, "t", true, &s))
        return c->err ? c->err : SW_EINVAL;
    if (sw__push_target((const char *)s.p, s.n, t))
        return failf(c, p, SW_EINVAL, "EINVAL: bad target '%.*s' (apps/NAME, boards/NAME or NAME)",
                     (int)(s.n < 80 ? s.n : 80), (const char *)s.p);
    return 0;
}

static int arg_id(sw_call_t *c, push_t *p, char id[65])
{
    sw_span_t s;
    if (!sw_call_arg_str(c, "id", true, &s))
        return c->err ? c->err : SW_EINVAL;
    if (s.n == 64)
        for (size_t i = 0; i < 64; i++)
            id[i] = (char)(s.p[i] >= 'A' && s.p[i] <= 'F' ? s.p[i] + 32 : s.p[i]);
    id[s.n == 64 ? 64 : 0] = 0;
    if (!sw__push_hex_ok(id, strlen(id)))
        return failf(c, p, SW_EINVAL, "EINVAL: id must be 64 hex digits");
    return 0;
}

static int arg_grace(sw_call_t *c, push_t *p, uint32_t *out)
{
    int64_t v;
    if (!sw_call_arg_int(c, "grace_ms", GRACE_DEFAULT, &v))
        return c->err;
    if (v < 0 || v > GRACE_MAX)
        return failf(c, p, SW_ERANGE, "ERANGE: grace_ms must be 0 … %d", GRACE_MAX);
    *out = (uint32_t)v;
    return 0;
}

// A list of relative paths (absent or nil: empty, *given false) → sorted, unique entries of m.
static int arg_list(sw_call_t *c, push_t *p, const char *name, sw_manifest_t *m, bool *given)
{
    sw_span_t v;
    *given = false;
    if (sw_call_arg(c, name, &v) != 0 || sw_call_arg_is_none(c, name))
        return 0;
    *given = true;
    sw_mpr_t r;
    sw_mpr_init(&r, v.p, v.n);
    uint32_t k;
    if (!sw_mpr_array(&r, &k))
        return failf(c, p, SW_ETYPE, "BadArg: %s: expected a list of paths", name);
    if (k > SW_PUSH_LIST_MAX)
        return failf(c, p, SW_ETOOBIG, "ETOOBIG: %s: more than %d paths", name, SW_PUSH_LIST_MAX);
    // the paths with a NUL each take no more than the list's bytes (a header byte each)
    int rc = k ? sw__mf_reserve(p->n, m, k, v.n) : 0;
    if (rc)
        return failf(c, p, rc, "%s: %s: %s", sw_errname(rc), name, sw_strerror(rc));
    for (uint32_t i = 0; i < k; i++) {
        sw_span_t s;
        if (!sw_mpr_str(&r, &s))
            return failf(c, p, SW_ETYPE, "BadArg: %s: expected a list of paths", name);
        const char *rel = (const char *)s.p;
        if (!sw__push_rel_ok(p->n, rel, s.n))
            return failf(c, p, SW_EINVAL,
                         "EINVAL: %s: bad path '%.*s' (relative, normalised, no hidden names, at most %d bytes and %d levels)",
                         name, (int)(s.n < 60 ? s.n : 60), rel, SW_MF_PATH_MAX, SW_APP_HASH_DEPTH);
        rc = sw__mf_add(p->n, m, rel, s.n, 0, 0, NULL);
        if (rc)
            return failf(c, p, rc, "%s: %s", sw_errname(rc), sw_strerror(rc));
    }
    sw__mf_sort(m);
    for (uint32_t i = 1; i < m->count; i++)
        if (sw__mf_cmp(sw__mf_path(m, i - 1), m->ents[i - 1].len, sw__mf_path(m, i), m->ents[i].len) == 0)
            return failf(c, p, SW_EINVAL, "EINVAL: %s: '%.60s' is listed twice", name, sw__mf_path(m, i));
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Manifests with a cache (src/node/app_hash.c re-reads only files that may have changed)

static int current(push_t *p, const char *t, const sw_manifest_t **out)
{
    cache_slot_t *slot = NULL;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (!strcmp(p->cache[i].t, t))
            slot = &p->cache[i];
    if (!slot) { // the least recently used one
        slot = &p->cache[0];
        for (int i = 1; i < CACHE_SLOTS; i++)
            if (p->cache[i].used < slot->used)
                slot = &p->cache[i];
        sw__mf_clear(&slot->mf);
        slot->mf.gen = p->n->files_gen - 1; // nothing in it is trusted
        snprintf(slot->t, sizeof slot->t, "%s", t);
    }
    slot->used = ++p->clock;
    sw_manifest_t fresh = {0};
    int rc = sw__mf_build(p->n, t, &fresh, &slot->mf);
    if (rc) {
        sw__mf_release(p->n, &fresh);
        slot->t[0] = 0;
        sw__mf_clear(&slot->mf);
        return rc;
    }
    sw__mf_release(p->n, &slot->mf);
    slot->mf = fresh;
    *out = &slot->mf;
    return 0;
}

static int bounds_fail(sw_call_t *c, push_t *p, const char *what, int rc)
{
    if (rc == SW_ETOOBIG || rc == SW_EDEPTH)
        return failf(c, p, rc, "%s: %s beyond the bounds (%d files, %u bytes, %d levels, paths of %d bytes)",
                     sw_errname(rc), what, SW_APP_HASH_FILES, (unsigned)SW_APP_HASH_BYTES, SW_APP_HASH_DEPTH,
                     SW_MF_PATH_MAX);
    return failf(c, p, rc, "%s: %s: %s", sw_errname(rc), what, sw_strerror(rc));
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Verification: the files the target would hold — the current ones, without del, with put
// taken from src — and their id. Fills the plan's lists (only dels that exist; added = puts
// that are new). Nothing on disk changes.

typedef struct only_dels {
    push_t *p;
    char *path;          // the directory being looked at (a full path)
    size_t len, tl;      // its length; the target's
    const sw_manifest_t *del;
    int depth;
    bool ok;
} only_dels_t;

// True (x->ok stays) if everything below x->path is a directory or a file in del: the deletes
// and the pruning of emptied directories then remove it before a put takes its place.
static int only_dels_each(void *u, const sw_dirent_t *e)
{
    only_dels_t *x = u;
    size_t k = strlen(e->name), back = x->len;
    if (x->len + 1 + k >= SW_PUSH_PATH) {
        x->ok = false;
        return 1;
    }
    x->path[x->len] = '/';
    memcpy(x->path + x->len + 1, e->name, k + 1);
    x->len += 1 + k;
    if (e->type == SW_FT_DIR && x->depth < SW_APP_HASH_DEPTH) {
        x->depth++;
        sw_node_t *n = x->p->n;
        if (n->port.ops->fs_list(n->port.ctx, x->path, only_dels_each, x) < 0)
            x->ok = false;
        x->depth--;
    } else if (e->type != SW_FT_FILE || sw__mf_find(x->del, x->path + x->tl + 1, x->len - x->tl - 1) < 0) {
        x->ok = false;
    }
    x->len = back;
    x->path[back] = 0;
    return x->ok ? 0 : 1;
}

// Where put path rel goes in the target, nothing may be in the way but directories, files
// being deleted, and directories that the deletes empty.
static int check_put(push_t *p, const char *t, const char *rel, const sw_manifest_t *del, char *why, size_t cap)
{
    sw_node_t *n = p->n;
    char *path = sw__push_buf(n, SW_PUSH_BUF_CMD1);
    if (sw__push_join(path, t, rel))
        return SW_ETOOBIG;
    size_t tl = strlen(t);
    for (size_t i = tl + 1;; i++) {
        bool last = path[i] == 0;
        if (!last && path[i] != '/')
            continue;
        char keep = path[i];
        path[i] = 0;
        sw_stat_t st;
        int rc = n->port.ops->fs_stat(n->port.ctx, path, &st);
        path[i] = keep;
        const char *sub = path + tl + 1;
        size_t sl = i - tl - 1;
        if (rc == SW_ENOENT)
            return 0;
        if (rc) { // EPERM: a symbolic link on the way (never followed)
            snprintf(why, cap, "%s: %.*s: %s", sw_errname(rc), (int)(sl < 80 ? sl : 80), sub, sw_strerror(rc));
            return rc;
        }
        if (last && st.type == SW_FT_FILE)
            return 0;
        if (!last && st.type == SW_FT_DIR)
            continue;
        if (!last && st.type == SW_FT_FILE && sw__mf_find(del, sub, sl) >= 0)
            return 0; // deleted first
        if (last && st.type == SW_FT_DIR) {
            only_dels_t x = {p, path, i, tl, del, 0, true};
            if (n->port.ops->fs_list(n->port.ctx, path, only_dels_each, &x) >= 0 && x.ok)
                return 0; // emptied and removed first
        }
        snprintf(why, cap, "%.*s is %s", (int)(sl < 80 ? sl : 80), sub,
                 st.type == SW_FT_DIR ? "a directory" : st.type == SW_FT_FILE ? "a file" : "not a regular file");
        return SW_EEXIST;
    }
}

// The merge of a walk of the target (canonical order) with the sorted files to put: the
// records of the new version go into an id as they come, so neither the target's list nor the
// new version's is ever held (the MCU heap: app_hash.h).
typedef struct merge {
    push_t *p;
    sw_push_plan_t *plan;
    const sw_manifest_t *src, *del;
    uint32_t si;          // next entry of src
    sw_mf_id_t old, fin;  // ids of the target as it is, and as it would be
    uint32_t files;       // the new version's bounds
    uint64_t bytes;
    char *why;
    size_t cap;
    size_t last_len;      // the record before (a file "a" and a file "a/x" are neighbours)
    char last[SW_MF_PATH_MAX + 1];
} merge_t;

static int merge_emit(merge_t *x, const char *rel, size_t len, uint64_t size, const uint8_t sha[32])
{
    if (x->last_len && len > x->last_len && !memcmp(x->last, rel, x->last_len) && rel[x->last_len] == '/') {
        snprintf(x->why, x->cap, "%.80s would be both a file and a directory", x->last);
        return SW_EEXIST;
    }
    if (++x->files > SW_APP_HASH_FILES || size > SW_APP_HASH_BYTES - x->bytes)
        return SW_ETOOBIG;
    x->bytes += size;
    sw__mf_id_add(&x->fin, rel, len, size, sha);
    memcpy(x->last, rel, len);
    x->last[len] = 0;
    x->last_len = len;
    return 0;
}

// src entries up to (not including) rel go in: new files.
static int merge_src_before(merge_t *x, const char *rel, size_t len, bool all)
{
    const sw_manifest_t *s = x->src;
    for (; x->si < s->count; x->si++) {
        const char *sr = sw__mf_path(s, x->si);
        size_t sl = s->ents[x->si].len;
        if (!all && sw__mf_cmp(sr, sl, rel, len) >= 0)
            break;
        int rc = merge_emit(x, sr, sl, s->ents[x->si].size, s->ents[x->si].sha);
        if (!rc)
            rc = sw__mf_add(x->p->n, &x->plan->added, sr, sl, 0, 0, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int merge_cur(void *u, const char *rel, size_t len, uint64_t size, int64_t mtime, const uint8_t sha[32])
{
    (void)mtime;
    merge_t *x = u;
    sw__mf_id_add(&x->old, rel, len, size, sha);
    int rc = merge_src_before(x, rel, len, false);
    if (rc)
        return rc;
    const sw_manifest_t *s = x->src;
    bool deleted = sw__mf_find(x->del, rel, len) >= 0;
    if (deleted && (rc = sw__mf_add(x->p->n, &x->plan->del, rel, len, 0, 0, NULL)))
        return rc;
    if (x->si < s->count && sw__mf_cmp(sw__mf_path(s, x->si), s->ents[x->si].len, rel, len) == 0) {
        rc = merge_emit(x, rel, len, s->ents[x->si].size, s->ents[x->si].sha); // replaced
        x->si++;
        return rc;
    }
    return deleted ? 0 : merge_emit(x, rel, len, size, sha);
}

// Checks the new version — the target's files without del, with src's put in — and computes
// its id. On success the plan holds the dels that exist, the puts (src's list, moved: *src is
// left empty) and the puts that are new (added), and plan->old the target's id. Nothing on
// disk changes. 0, or an error with why.
static int verify(push_t *p, sw_push_plan_t *plan, sw_manifest_t *src, const sw_manifest_t *del_req,
                  char computed[65], char *why, size_t cap)
{
    sw_node_t *n = p->n;
    int rc = 0;
    for (uint32_t i = 0; !rc && i < src->count; i++) {
        const char *rel = sw__mf_path(src, i);
        if (!sw__push_rel_ok(n, rel, src->ents[i].len)) { // a name made outside the f app (the journal refuses it)
            snprintf(why, cap, "EINVAL: a file to put has a name a target cannot hold: %.80s", rel);
            return SW_EINVAL;
        }
        rc = check_put(p, plan->t, rel, del_req, why, cap);
    }
    if (!rc && del_req->count)
        rc = sw__mf_reserve(n, &plan->del, del_req->count, del_req->pool_len);
    if (!rc && src->count)
        rc = sw__mf_reserve(n, &plan->added, src->count, src->pool_len);
    merge_t *x = rc ? NULL : sw_node_alloc(n, sizeof *x);
    if (!rc && !x)
        rc = SW_EFULL;
    if (!rc) {
        *x = (merge_t){.p = p, .plan = plan, .src = src, .del = del_req, .why = why, .cap = cap};
        sw__mf_id_begin(&x->old);
        sw__mf_id_begin(&x->fin);
        const cache_slot_t *slot = NULL; // digests taken by push.manifest are not taken again
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!strcmp(p->cache[i].t, plan->t))
                slot = &p->cache[i];
        rc = sw__mf_walk(n, plan->t, slot ? &slot->mf : NULL, merge_cur, x);
        if (rc && !why[0] && rc != SW_ETOOBIG && rc != SW_EDEPTH)
            snprintf(why, cap, "%s: the target's files: %s", sw_errname(rc), sw_strerror(rc));
        if (!rc)
            rc = merge_src_before(x, NULL, 0, true);
        int orc = sw__mf_id_end(&x->old, plan->old), frc = sw__mf_id_end(&x->fin, computed);
        if (!rc)
            rc = orc ? orc : frc;
        sw_node_release(n, x, sizeof *x);
    }
    if (!rc) {
        sw__mf_release(n, &plan->put);
        plan->put = *src;
        memset(src, 0, sizeof *src);
    } else if (!why[0] && (rc == SW_ETOOBIG || rc == SW_EDEPTH)) {
        snprintf(why, cap, "%s: the new version is beyond the bounds (%d files, %u bytes, %d levels)", sw_errname(rc),
                 SW_APP_HASH_FILES, (unsigned)SW_APP_HASH_BYTES, SW_APP_HASH_DEPTH);
    } else if (!why[0]) {
        snprintf(why, cap, "%s: %s", sw_errname(rc), sw_strerror(rc));
    }
    return rc;
}

// The plan that restores the previous version of t from its backup. 0, or an error with why.
static int plan_rollback(push_t *p, const char *t, sw_push_plan_t *plan, char *why, size_t cap)
{
    sw_node_t *n = p->n;
    sw_push_state_t st;
    sw__push_state_read(n, t, &st);
    memset(plan, 0, sizeof *plan);
    plan->kind = SW_PUSH_ROLLBACK;
    snprintf(plan->t, sizeof plan->t, "%s", t);
    int rc = 0;
    if (!st.has_prev) {
        snprintf(why, cap, "ENOENT: no previous version of %s", t);
        rc = SW_ENOENT;
    }
    char *bak = sw__push_buf(n, SW_PUSH_BUF_CMD0);
    sw_manifest_t src = {0};
    if (!rc && (rc = sw__push_join(bak, SW_PUSH_BAK, t)) == 0 && (rc = sw__mf_build(n, bak, &src, NULL)))
        snprintf(why, cap, "%s: the backup of %s: %s", sw_errname(rc), t, sw_strerror(rc));
    char computed[65];
    if (!rc && (rc = verify(p, plan, &src, &st.added, computed, why, cap)) == 0 && strcmp(computed, st.prev)) {
        snprintf(why, cap, "EPROTO: cannot roll back %s: its files changed since the push", t);
        rc = SW_EPROTO;
    }
    if (!rc) {
        memcpy(plan->id, st.prev, sizeof plan->id);
        sw__mf_clear(&plan->added);
    } else if (!why[0]) {
        snprintf(why, cap, "%s: %s", sw_errname(rc), sw_strerror(rc));
    }
    sw__mf_release(n, &src);
    sw__push_state_release(n, &st);
    return rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Answers, state notes

static void answer_ok(push_t *p, bool reloaded)
{
    if (!p->has_reply)
        return;
    p->has_reply = false;
    if (!sw_node_reply_live(p->n, &p->reply))
        return;
    sw_mpw_t *w = sw_rpc_answer_begin(&p->reply);
    if (!w)
        return;
    sw_mpw_map(w, 4);
    sw_mpw_cstr(w, "id"), sw_mpw_cstr(w, p->plan.id);
    sw_mpw_cstr(w, "prev"), sw_mpw_cstr(w, p->plan.old);
    sw_mpw_cstr(w, "reloaded"), sw_mpw_bool(w, reloaded);
    sw_mpw_cstr(w, "ms"), sw_mpw_uint(w, sw_node_now(p->n) - p->t0);
    sw_rpc_answer_end(&p->reply);
}

static void answer_err(push_t *p, const char *text)
{
    if (!p->has_reply)
        return;
    p->has_reply = false;
    if (sw_node_reply_live(p->n, &p->reply))
        sw_rpc_answer_error(&p->reply, text);
}

// Records the outcome in the target's state file (push.manifest's "last").
static void note(push_t *p, const char *result)
{
    sw_push_state_t st;
    sw__push_state_read(p->n, p->plan.t, &st);
    sw__push_state_last(p->n, &st, result, p->plan.id, p->plan.old, sw_node_now(p->n) - p->t0);
    int rc = sw__push_state_write(p->n, p->plan.t, &st);
    if (rc)
        sw_log(p->n, SW_LOG_WARN, "push: %s: cannot write the state file: %s", p->plan.t, sw_strerror(rc));
    sw__push_state_release(p->n, &st);
}

static void op_end(push_t *p)
{
    sw_timer_stop(p->n, &p->timer);
    sw__push_plan_release(p->n, &p->plan);
    p->phase = OP_IDLE;
    p->what = 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Applying, reloading, the health check

// Starts applying p->plan (its journal is written) from the timer.
static void op_start(push_t *p, int what, const sw_call_t *c)
{
    p->phase = OP_APPLY;
    p->what = (uint8_t)what;
    p->failed = p->ready = false;
    if (c) {
        p->has_reply = true;
        p->reply = c->reply_to;
    }
    p->plan.step = 0;
    int64_t d = sw_cfg_int(&p->n->cfg, "push.test_apply_delay_ms", 0);
    p->delay_ms = d <= 0 ? 0 : d > TEST_DELAY_MAX ? TEST_DELAY_MAX : (uint32_t)d;
    sw_timer_start(p->n, &p->timer, p->delay_ms);
}

// True if target t is the running app or its board (a commit of it reloads and is checked).
static bool target_runs(const sw_node_t *n, const char *t)
{
    char app[SW_PUSH_TARGET + 8], board[SW_PUSH_TARGET + 8];
    snprintf(app, sizeof app, "apps/%s", n->app_name);
    snprintf(board, sizeof board, "boards/%s", n->hardware_name);
    return n->app_name[0] && (!strcmp(t, app) || !strcmp(t, board));
}

// The new version passed its health check: the target's state becomes "ok" and the pending
// mark goes (from here on a restart keeps it).
static void confirm(push_t *p)
{
    sw_push_state_t st;
    sw__push_state_read(p->n, p->plan.t, &st);
    if (!strcmp(st.state, "testing")) {
        snprintf(st.state, sizeof st.state, "ok");
        sw__push_state_write(p->n, p->plan.t, &st);
    }
    sw__push_state_release(p->n, &st);
    sw__push_testing_clear(p->n);
}

// Restarts the app if t is the running app or its board. Sets the phase to OP_HEALTH first:
// an init can fail inside the restart.
static bool reload(push_t *p)
{
    sw_node_t *n = p->n;
    if (!target_runs(n, p->plan.t))
        return false;
    p->phase = OP_HEALTH;
    p->failed = p->ready = false;
    snprintf(p->app, sizeof p->app, "%s", n->app_name);
    sw_log(n, SW_LOG_INFO, "push: %s is at %.12s…: reloading %s", p->plan.t, p->plan.id, n->app_name);
    sw_node_app_restart(n, "push");
    return true;
}

static void undo(push_t *p);

static const char *result_text(const push_t *p)
{
    return p->what == WHAT_UNDO ? p->why : p->what == WHAT_ROLLBACK ? "ok: back to the previous version" : "ok";
}

static void applied(push_t *p)
{
    sw_node_t *n = p->n;
    int rc = sw__push_finish(n, &p->plan, result_text(p), sw_node_now(n) - p->t0);
    if (rc)
        sw_log(n, SW_LOG_WARN, "push: cannot remove the journal: %s (the next start re-checks it)", sw_strerror(rc));
    bool reloaded = reload(p);
    if (p->what == WHAT_UNDO) {
        sw_log(n, SW_LOG_WARN, "push: %s: %s", p->plan.t, p->why);
        answer_err(p, p->why);
        op_end(p);
        return;
    }
    if (reloaded && p->grace_ms > 0) {
        sw_timer_start(n, &p->timer, p->failed ? 0 : p->grace_ms);
        return;
    }
    if (reloaded && p->failed) { // no grace period, but it failed at once
        sw_timer_start(n, &p->timer, 0);
        return;
    }
    sw_log(n, SW_LOG_INFO, "push: %s is at %.12s…%s", p->plan.t, p->plan.id, reloaded ? "" : " (not running: no reload)");
    if (p->plan.test)
        confirm(p); // no grace period asked for: the reload itself was the check
    answer_ok(p, reloaded);
    op_end(p);
}

static void apply_run(push_t *p)
{
    sw_node_t *n = p->n;
    bool done = false;
    int rc;
    do
        rc = sw__push_step(n, &p->plan, &done);
    while (!rc && !done && !p->delay_ms);
    if (rc) {
        // the journal stays: the next commit or the next start completes it
        snprintf(p->err, sizeof p->err, "%s: applying %s failed (%s); it completes at the next start",
                 sw_errname(rc), p->plan.t, sw_strerror(rc));
        sw_log(n, SW_LOG_ERROR, "push: %s", p->err);
        answer_err(p, p->err);
        op_end(p);
        return;
    }
    if (!done) {
        sw_timer_start(n, &p->timer, p->delay_ms);
        return;
    }
    applied(p);
}

static void switch_end(push_t *p);

static void health_end(push_t *p)
{
    sw_node_t *n = p->n;
    if (p->what == WHAT_SWITCH) {
        switch_end(p);
        return;
    }
    if (!p->failed) {
        sw_log(n, SW_LOG_INFO, "push: %s is at %.12s…: healthy%s", p->plan.t, p->plan.id,
               p->ready ? "" : " (init_* still running)");
        confirm(p);
        note(p, result_text(p));
        answer_ok(p, true);
        op_end(p);
        return;
    }
    if (p->what == WHAT_COMMIT) {
        undo(p);
        return;
    }
    char text[SW_PUSH_LAST_MAX / 2 + 64];
    snprintf(text, sizeof text, "EIO: rolled back, but the previous version fails too: %s", p->why);
    sw_log(n, SW_LOG_ERROR, "push: %s: %s", p->plan.t, text);
    note(p, text);
    answer_err(p, text);
    op_end(p);
}

// The new version failed its health check: back to the previous one, the same way.
static void undo(push_t *p)
{
    sw_node_t *n = p->n;
    char reason[sizeof p->why];
    snprintf(reason, sizeof reason, "%s", p->why);
    snprintf(p->why, sizeof p->why, "rolled back: %.*s", (int)(sizeof p->why - 14), reason);
    sw_log(n, SW_LOG_WARN, "push: %s at %.12s… failed its health check (%s): rolling back", p->plan.t, p->plan.id,
           reason);
    char t[SW_PUSH_TARGET];
    memcpy(t, p->plan.t, sizeof t);
    sw__push_plan_release(n, &p->plan);
    // the failed version stops now (the rollback's reload starts the old one): on an MCU the
    // memory it holds is what the rollback needs
    sw_node_app_stop(n);
    char why[200] = "";
    int rc = plan_rollback(p, t, &p->plan, why, sizeof why);
    if (!rc)
        rc = sw__push_journal_write(n, &p->plan);
    if (rc) {
        snprintf(p->err, sizeof p->err, "EIO: the new version failed (%.120s) and cannot be rolled back: %.120s", reason,
                 why[0] ? why : sw_strerror(rc));
        sw_log(n, SW_LOG_ERROR, "push: %s", p->err);
        note(p, p->err);
        answer_err(p, p->err);
        op_end(p);
        return;
    }
    uint32_t t0 = p->t0;
    op_start(p, WHAT_UNDO, NULL);
    p->t0 = t0;
}

static void op_timer(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    push_t *p = t->user;
    if (p->phase == OP_APPLY)
        apply_run(p);
    else if (p->phase == OP_HEALTH)
        health_end(p);
}

static void push_app_event(sw_node_t *n, int ev, const char *app, const char *detail)
{
    push_t *p = n->push;
    if (!p || p->phase != OP_HEALTH || !app || strcmp(app, p->app) != 0)
        return;
    if (ev == SW_APP_EV_READY) {
        p->ready = true;
    } else if (ev == SW_APP_EV_FAILED && !p->failed) {
        p->failed = true;
        snprintf(p->why, sizeof p->why, "%s", detail ? detail : "failed");
        sw_timer_start(n, &p->timer, 0); // never act inside the runtime's call
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Commands

static int busy(sw_call_t *c, push_t *p)
{
    return failf(c, p, SW_EBUSY, "EBUSY: a %s of %s is in progress",
                 p->what == WHAT_COMMIT ? "commit" : p->what == WHAT_SWITCH ? "switch to" : "rollback", p->plan.t);
}

// Completes an interrupted plan (a failed apply) before anything else touches a target.
static int recover(sw_call_t *c, push_t *p)
{
    bool found;
    int rc = sw__push_recover(p->n, &found);
    if (rc)
        return failf(c, p, rc, "%s: an interrupted push cannot be completed: %s", sw_errname(rc), sw_strerror(rc));
    return 0;
}

static int cmd_manifest(sw_call_t *c)
{
    push_t *p = push_of(c);
    char t[SW_PUSH_TARGET];
    int rc = arg_target(c, p, t);
    int64_t from;
    if (rc || !sw_call_arg_int(c, "o", 0, &from))
        return rc ? rc : c->err;
    const sw_manifest_t *m;
    if ((rc = current(p, t, &m)))
        return bounds_fail(c, p, t, rc);
    char id[65];
    if ((rc = sw__mf_id(m, id)))
        return failf(c, p, rc, "EIO: cannot hash %s", t);
    if (from < 0 || from > m->count)
        return failf(c, p, SW_ERANGE, "ERANGE: o must be 0 … %u", (unsigned)m->count);
    sw_push_state_t st;
    sw__push_state_read(p->n, t, &st);
    size_t last = from == 0 ? st.last_len : 1; // the first page only: later ones have the room
    sw_mpw_t *w = c->out;
    sw_mpw_map(w, 7);
    sw_mpw_cstr(w, "t"), sw_mpw_cstr(w, t);
    sw_mpw_cstr(w, "id"), sw_mpw_cstr(w, id);
    sw_mpw_cstr(w, "n"), sw_mpw_uint(w, m->count);
    sw_mpw_cstr(w, "files");
    // as many as fit; a host asks again with o = what it has (docs: "Push")
    size_t mark = sw_mpw_mark(w);
    uint32_t k = 0;
    for (uint32_t i = (uint32_t)from; i < m->count; i++, k++) {
        if (w->len + m->ents[i].len + 48 + MANIFEST_TAIL + last > w->cap)
            break;
        sw_mpw_array(w, 3);
        sw_mpw_str(w, sw__mf_path(m, i), m->ents[i].len);
        sw_mpw_uint(w, m->ents[i].size);
        sw_mpw_bin(w, m->ents[i].sha, 32);
    }
    sw_mpw_close_array(w, mark, k);
    sw_mpw_cstr(w, "prev"), sw_mpw_cstr(w, st.has_prev ? st.prev : NULL);
    sw_mpw_cstr(w, "state"), sw_mpw_cstr(w, st.state);
    sw_mpw_cstr(w, "last");
    if (from == 0 && st.last_len)
        sw_mpw_raw(w, st.last, st.last_len);
    else
        sw_mpw_nil(w);
    sw__push_state_release(p->n, &st);
    if (k == 0 && from < m->count) // never a page without progress
        return failf(c, p, SW_ETOOBIG, "ETOOBIG: a manifest entry does not fit in a reply (limits.msg)");
    return 0;
}

static int cmd_begin(sw_call_t *c)
{
    push_t *p = push_of(c);
    sw_node_t *n = p->n;
    char t[SW_PUSH_TARGET], id[65], *stage = sw__push_buf(n, SW_PUSH_BUF_CMD0);
    int rc = arg_target(c, p, t);
    if (!rc)
        rc = arg_id(c, p, id);
    if (rc)
        return rc;
    if (p->phase == OP_APPLY && !strcmp(p->plan.t, t))
        return busy(c, p);
    sw__push_join(stage, SW_PUSH_STAGE, t);
    if ((rc = sw__push_rmtree(n, stage)) || (rc = sw__push_mkparents(n, stage)) ||
        (rc = n->port.ops->fs_mkdir(n->port.ctx, stage)))
        return failf(c, p, rc, "%s: cannot prepare /%s: %s", sw_errname(rc), stage, sw_strerror(rc));
    sw_log(n, SW_LOG_INFO, "push: %s: staging for %.12s… in /%s", t, id, stage);
    sw_mpw_map(c->out, 1);
    sw_mpw_cstr(c->out, "stage"), sw_mpw_cstr(c->out, stage);
    return 0;
}

static int cmd_abort(sw_call_t *c)
{
    push_t *p = push_of(c);
    char t[SW_PUSH_TARGET], *stage = sw__push_buf(p->n, SW_PUSH_BUF_CMD0);
    int rc = arg_target(c, p, t);
    if (rc)
        return rc;
    if (p->phase == OP_APPLY && !strcmp(p->plan.t, t))
        return busy(c, p);
    sw__push_join(stage, SW_PUSH_STAGE, t);
    if ((rc = sw__push_rmdir_swarm(p->n, stage)))
        return failf(c, p, rc, "%s: cannot remove /%s: %s", sw_errname(rc), stage, sw_strerror(rc));
    sw_mpw_nil(c->out);
    return 0;
}

// The staged files named by put (all of them if put was not given), with their digests: put's
// own entries get them, and the list moves into src (*put is left empty).
static int staged(sw_call_t *c, push_t *p, const char *t, sw_manifest_t *put, bool given, sw_manifest_t *src)
{
    sw_node_t *n = p->n;
    char *stage = sw__push_buf(n, SW_PUSH_BUF_CMD0), *path = sw__push_buf(n, SW_PUSH_BUF_CMD1);
    sw__push_join(stage, SW_PUSH_STAGE, t);
    if (!given) {
        int rc = sw__mf_build(n, stage, src, NULL);
        return rc ? bounds_fail(c, p, "the staged files", rc) : 0;
    }
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < put->count; i++) {
        const char *rel = sw__mf_path(put, i);
        sw_stat_t st;
        int rc = sw__push_join(path, stage, rel);
        if (!rc)
            rc = n->port.ops->fs_stat(n->port.ctx, path, &st);
        // (EPERM, ENOTDIR: a symlink or a file on the way, which the port does not follow)
        if (rc == SW_ENOENT || rc == SW_EPERM || rc == SW_ENOTDIR || (!rc && st.type != SW_FT_FILE))
            return failf(c, p, SW_EPROTO, "EPROTO: staged file missing: %.200s", rel);
        uint8_t sha[32];
        uint64_t size;
        if (!rc)
            rc = sw__file_sha(n, path, sha, &size);
        if (!rc && size > SW_APP_HASH_BYTES - bytes)
            rc = SW_ETOOBIG;
        if (rc)
            return bounds_fail(c, p, "the staged files", rc);
        bytes += size;
        put->ents[i].size = size;
        put->ents[i].mtime = st.mtime;
        memcpy(put->ents[i].sha, sha, 32);
    }
    put->bytes = bytes;
    sw__mf_release(n, src);
    *src = *put;
    memset(put, 0, sizeof *put);
    return 0;
}

// Gives up the backup of t (state first, then files). Its own frame: the state is not on the
// stack while cmd_commit checks its arguments (MCU stack bound, profile.h).
__attribute__((noinline)) static int drop_backup(sw_node_t *n, const char *t)
{
    sw_push_state_t st;
    sw__push_state_read(n, t, &st);
    st.has_prev = false;
    sw__mf_clear(&st.added);
    char *bak = sw__push_buf(n, SW_PUSH_BUF_CMD0);
    sw__push_join(bak, SW_PUSH_BAK, t);
    int rc = sw__push_state_write(n, t, &st);
    sw__push_state_release(n, &st);
    if (!rc)
        rc = sw__push_rmdir_swarm(n, bak);
    return rc;
}

static int cmd_commit(sw_call_t *c)
{
    push_t *p = push_of(c);
    sw_node_t *n = p->n;
    if (p->phase != OP_IDLE)
        return busy(c, p);
    char t[SW_PUSH_TARGET], id[65];
    uint32_t grace = 0;
    int rc = arg_target(c, p, t);
    if (!rc)
        rc = arg_id(c, p, id);
    if (!rc)
        rc = arg_grace(c, p, &grace);
    sw_manifest_t put = {0}, del = {0}, src = {0};
    bool put_given = false, del_given;
    if (!rc)
        rc = arg_list(c, p, "put", &put, &put_given);
    if (!rc)
        rc = arg_list(c, p, "del", &del, &del_given);
    for (uint32_t i = 0; !rc && i < put.count; i++)
        if (sw__mf_find(&del, sw__mf_path(&put, i), put.ents[i].len) >= 0)
            rc = failf(c, p, SW_EINVAL, "EINVAL: '%.60s' is in put and in del", sw__mf_path(&put, i));
    if (!rc)
        rc = recover(c, p);
    if (!rc)
        rc = staged(c, p, t, &put, put_given, &src);
    sw_push_plan_t *plan = &p->plan;
    memset(plan, 0, sizeof *plan);
    plan->kind = SW_PUSH_COMMIT;
    memcpy(plan->t, t, sizeof plan->t);
    memcpy(plan->id, id, sizeof plan->id);
    char computed[65], why[200] = "";
    if (!rc && (rc = verify(p, plan, &src, &del, computed, why, sizeof why)))
        rc = failf(c, p, rc, "%s", why[0] ? why : sw_strerror(rc));
    if (!rc && strcmp(computed, id)) {
        rc = failf(c, p, SW_EPROTO, "EPROTO: staged files do not give id %s (they give %s)", id, computed);
        n->files_gen++; // perhaps a file changed unnoticed: the next manifest reads everything
    }
    sw__mf_release(n, &put);
    sw__mf_release(n, &del);
    sw__mf_release(n, &src);
    if (rc) {
        sw__push_plan_release(n, plan);
        return rc;
    }
    p->t0 = sw_node_now(n);
    if (!plan->put.count && !plan->del.count) { // already there
        sw_mpw_map(c->out, 4);
        sw_mpw_cstr(c->out, "id"), sw_mpw_cstr(c->out, id);
        sw_mpw_cstr(c->out, "prev"), sw_mpw_cstr(c->out, plan->old);
        sw_mpw_cstr(c->out, "reloaded"), sw_mpw_bool(c->out, false);
        sw_mpw_cstr(c->out, "ms"), sw_mpw_uint(c->out, 0);
        sw__push_plan_release(n, plan);
        return 0;
    }
    // The previous backup is given up first (state, then files), then the journal is written:
    // from that moment the new version is what the target becomes — on probation if it runs
    // (plan->test: a restart before its health check passes rolls it back).
    plan->test = target_runs(n, t);
    rc = drop_backup(n, t);
    if (!rc)
        rc = sw__push_journal_write(n, plan);
    if (rc) {
        sw__push_plan_release(n, plan);
        return failf(c, p, rc, "%s: cannot prepare the commit: %s (nothing changed)", sw_errname(rc), sw_strerror(rc));
    }
    sw_log(n, SW_LOG_INFO, "push: %s: %.12s… → %.12s…: %u to put, %u to delete", t, plan->old, plan->id,
           (unsigned)plan->put.count, (unsigned)plan->del.count);
    p->grace_ms = grace;
    op_start(p, WHAT_COMMIT, c);
    return SW_CALL_LATER;
}

static int cmd_rollback(sw_call_t *c)
{
    push_t *p = push_of(c);
    sw_node_t *n = p->n;
    if (p->phase != OP_IDLE)
        return busy(c, p);
    char t[SW_PUSH_TARGET];
    uint32_t grace = 0;
    int rc = arg_target(c, p, t);
    if (!rc)
        rc = arg_grace(c, p, &grace);
    if (!rc)
        rc = recover(c, p);
    if (rc)
        return rc;
    char why[200] = "";
    rc = plan_rollback(p, t, &p->plan, why, sizeof why);
    if (!rc && (rc = sw__push_journal_write(n, &p->plan)))
        snprintf(why, sizeof why, "%s: cannot write the journal: %s", sw_errname(rc), sw_strerror(rc));
    if (rc) {
        sw__push_plan_release(n, &p->plan);
        return failf(c, p, rc, "%s", why);
    }
    sw_log(n, SW_LOG_INFO, "push: %s: rolling back to %.12s…", t, p->plan.id);
    p->t0 = sw_node_now(n);
    p->grace_ms = grace;
    op_start(p, WHAT_ROLLBACK, c);
    return SW_CALL_LATER;
}

// board.app_name = app, saved, then applied (which stops the running app and starts app).
static int set_app(push_t *p, const char *app)
{
    sw_node_t *n = p->n;
    int rc = sw_cfg_set_str(&n->cfg, "board.app_name", app, strlen(app));
    if (!rc)
        rc = sw_node_cfg_save(n);
    if (!rc)
        sw_node_cfg_apply(n);
    return rc;
}

// The switch's probation mark, SW_PUSH_SWITCH: "APP\nPREV" while APP's health check is pending.
static int switch_mark(push_t *p)
{
    char buf[2 * 64 + 2];
    int k = snprintf(buf, sizeof buf, "%s\n%s", p->app, p->prev_app);
    return sw__push_write_atomic(p->n, SW_PUSH_SWITCH, buf, (size_t)k);
}

static void switch_unmark(push_t *p)
{
    sw__push_unlink_durable(p->n, SW_PUSH_SWITCH); // a mark that came back would undo the switch
}

static void switch_end(push_t *p)
{
    sw_node_t *n = p->n;
    char app[sizeof p->app];
    memcpy(app, p->app, sizeof app);
    if (!p->failed) {
        switch_unmark(p); // healthy: from here on a restart keeps APP
        sw_log(n, SW_LOG_INFO, "push: %s runs instead of %s: healthy%s", app, p->prev_app[0] ? p->prev_app : "(none)",
               p->ready ? "" : " (init_* still running)");
        if (p->has_reply && sw_node_reply_live(n, &p->reply)) {
            sw_mpw_t *w = sw_rpc_answer_begin(&p->reply);
            if (w) {
                sw_mpw_map(w, 3);
                sw_mpw_cstr(w, "app"), sw_mpw_cstr(w, app);
                sw_mpw_cstr(w, "prev"), sw_mpw_cstr(w, p->prev_app);
                sw_mpw_cstr(w, "ms"), sw_mpw_uint(w, sw_node_now(n) - p->t0);
                sw_rpc_answer_end(&p->reply);
            }
        }
        p->has_reply = false;
        op_end(p);
        return;
    }
    // the new app failed: the previous one runs again (its files were never touched)
    sw_log(n, SW_LOG_WARN, "push: %s failed its health check (%s): %s runs again", app, p->why,
           p->prev_app[0] ? p->prev_app : "no app");
    p->phase = OP_IDLE; // its events no longer count
    int rc = set_app(p, p->prev_app);
    if (!rc)
        switch_unmark(p); // (kept otherwise: the next start tries again)
    if (rc)
        snprintf(p->err, sizeof p->err, "EIO: %.63s failed (%.80s) and board.app_name cannot be set back to %.63s: %.40s",
                 app, p->why, p->prev_app, sw_strerror(rc));
    else
        snprintf(p->err, sizeof p->err, "rolled back: %.200s (%.63s runs again)", p->why,
                 p->prev_app[0] ? p->prev_app : "no app");
    answer_err(p, p->err);
    op_end(p);
}

// push.switch(app, grace_ms): apps/APP (in place already) becomes the app the node runs
// (board.app_name, saved), watched for grace_ms like a commit's reload; if it fails, the
// previous app is set back and runs again, and the answer is "rolled back: …".
static int cmd_switch(sw_call_t *c)
{
    push_t *p = push_of(c);
    sw_node_t *n = p->n;
    if (p->phase != OP_IDLE)
        return busy(c, p);
    sw_span_t s;
    char t[SW_PUSH_TARGET];
    uint32_t grace = 0;
    if (!sw_call_arg_str(c, "app", true, &s))
        return c->err ? c->err : SW_EINVAL;
    if (sw__push_target((const char *)s.p, s.n, t) || strncmp(t, "apps/", 5))
        return failf(c, p, SW_EINVAL, "EINVAL: bad app '%.*s' (NAME or apps/NAME)", (int)(s.n < 80 ? s.n : 80),
                     (const char *)s.p);
    int rc = arg_grace(c, p, &grace);
    if (rc)
        return rc;
    const char *app = t + 5;
    char mainlua[SW_PUSH_TARGET + 16];
    snprintf(mainlua, sizeof mainlua, "%s/main.lua", t);
    sw_stat_t st;
    if (n->port.ops->fs_stat(n->port.ctx, mainlua, &st) != 0 || st.type != SW_FT_FILE)
        return failf(c, p, SW_ENOENT, "ENOENT: no /%s on the node (push the app first)", mainlua);
    memset(&p->plan, 0, sizeof p->plan);
    memcpy(p->plan.t, t, sizeof p->plan.t);
    memcpy(p->prev_app, n->app_name, sizeof p->prev_app);
    p->what = WHAT_SWITCH;
    p->phase = OP_HEALTH; // set before the start: an init can fail inside it
    p->failed = p->ready = false;
    snprintf(p->app, sizeof p->app, "%.*s", (int)sizeof p->app - 1, app);
    p->t0 = sw_node_now(n);
    p->grace_ms = grace;
    sw_log(n, SW_LOG_INFO, "push: switching from %s to %s (watched for %u ms)", p->prev_app[0] ? p->prev_app : "no app",
           app, (unsigned)grace);
    if (!strcmp(app, n->app_name)) { // already the app: restart it, watched the same way
        sw_node_app_restart(n, "push");
    } else if ((rc = switch_mark(p)) || (rc = set_app(p, app))) {
        // the mark first: a node killed from here on until the health check passes comes
        // back with the previous app (boot_switch_back)
        switch_unmark(p);
        op_end(p);
        return failf(c, p, rc, "%s: cannot save board.app_name: %s (nothing changed)", sw_errname(rc), sw_strerror(rc));
    }
    p->has_reply = true;
    p->reply = c->reply_to;
    sw_timer_start(n, &p->timer, p->failed ? 0 : grace);
    return SW_CALL_LATER;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Module

static const sw_cmd_def_t push_cmds[NCMDS] = {
    {"manifest", "t,o", "files of target t with size and SHA-256, its id, prev, state, last result (o: from file o)",
     cmd_manifest, NULL},
    {"begin", "t,id", "an empty staging directory for a push of target t towards id", cmd_begin, NULL},
    {"commit", "t,id,put,del,grace_ms",
     "switch t to id: put staged files (all when put is absent), delete del; reload, health check, roll back on "
     "failure",
     cmd_commit, NULL},
    {"abort", "t", "remove the staging directory of t", cmd_abort, NULL},
    {"rollback", "t,grace_ms", "go back to the version before the last commit of t", cmd_rollback, NULL},
    {"switch", "app,grace_ms",
     "make app (in place already) the running app, watched for grace_ms; the previous app runs again if it fails",
     cmd_switch, NULL},
};

// A version whose health check never completed (the node hung or restarted during it) goes
// back to the previous one now, before any app starts: MCUboot's test/confirm model.
static void boot_rollback(push_t *p)
{
    sw_node_t *n = p->n;
    char t[SW_PUSH_TARGET];
    if (!sw__push_testing_read(n, t)) {
        sw__push_testing_clear(n);
        return;
    }
    sw_push_state_t st;
    sw__push_state_read(n, t, &st);
    char id[65];
    memcpy(id, st.prev, sizeof id);
    bool testing = !strcmp(st.state, "testing");
    sw__push_state_release(n, &st);
    if (!testing) {
        sw__push_testing_clear(n);
        return;
    }
    char why[200] = "";
    int rc = plan_rollback(p, t, &p->plan, why, sizeof why);
    if (!rc)
        rc = sw__push_journal_write(n, &p->plan);
    bool done = false;
    while (!rc && !done)
        rc = sw__push_step(n, &p->plan, &done);
    char result[200];
    snprintf(result, sizeof result, "EIO: rolled back at boot: the health check of %.12s… never completed (the "
             "node hung or restarted during it)", p->plan.old);
    if (!rc)
        rc = sw__push_finish(n, &p->plan, result, 0);
    if (rc)
        sw_log(n, SW_LOG_ERROR, "push: %s: the health check never completed and the rollback failed: %s", t,
               why[0] ? why : sw_strerror(rc));
    else
        sw_log(n, SW_LOG_WARN, "push: %s: %s; back at %.12s…", t, result, id);
    sw__push_plan_release(n, &p->plan);
    memset(&p->plan, 0, sizeof p->plan);
}

// A push.switch whose health check never completed (the node hung, lost power or was killed
// during the watch): the previous app runs again, set in the config before any app starts.
static void boot_switch_back(sw_node_t *n)
{
    const sw_port_t *port = &n->port;
    int fd;
    if (port->ops->fs_open(port->ctx, SW_PUSH_SWITCH, SW_O_READ, &fd) < 0)
        return;
    char buf[2 * 64 + 2];
    int got = port->ops->fs_read(port->ctx, fd, 0, buf, sizeof buf - 1);
    port->ops->fs_close(port->ctx, fd);
    buf[got > 0 ? got : 0] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) {
        *nl = 0;
        const char *app = buf, *prev = nl + 1;
        if (strlen(prev) < sizeof n->app_name && !strcmp(app, n->app_name)) {
            int rc = sw_cfg_set_str(&n->cfg, "board.app_name", prev, strlen(prev));
            if (!rc)
                rc = sw_node_cfg_save(n);
            if (rc) {
                sw_log(n, SW_LOG_ERROR, "push: cannot switch back from unchecked %s to %s: %s", app, prev,
                       sw_strerror(rc));
                return; // the mark stays: the next start tries again
            }
            snprintf(n->app_name, sizeof n->app_name, "%s", prev); // the app starts later
            char t[SW_PUSH_TARGET], result[200];
            snprintf(t, sizeof t, "apps/%.63s", app);
            // (at most 199 bytes: the node hung, lost power or was killed during the watch)
            snprintf(result, sizeof result, "EIO: switched back at boot: %.63s never passed its health check (%.63s "
                     "runs again)", app, prev[0] ? prev : "no app");
            sw_push_state_t st;
            sw__push_state_read(n, t, &st);
            sw__push_state_last(n, &st, result, "", "", 0);
            sw__push_state_write(n, t, &st);
            sw__push_state_release(n, &st);
            sw_log(n, SW_LOG_WARN, "push: %s", result);
        }
    }
    port->ops->fs_unlink(port->ctx, SW_PUSH_SWITCH);
}

int sw_push_init(sw_node_t *n)
{
    if (n->push)
        return SW_EEXIST;
    // the state first: recovery works in its path buffers (sw__push_buf)
    push_t *p = sw_node_alloc(n, sizeof *p);
    if (!p)
        return SW_EFULL;
    p->n = n;
    p->timer.fn = op_timer;
    p->timer.user = p;
    // the kernel adds directory "push" (sw_part_push.cmds)
    n->push = p;
    bool found;
    sw__push_recover(n, &found); // before any app starts; a failure is logged, the node runs on
    sw_stat_t st;
    if (n->port.ops->fs_stat(n->port.ctx, SW_PUSH_STAGE, &st) == 0) {
        int rc = sw__push_rmtree(n, SW_PUSH_STAGE);
        sw_log(n, rc ? SW_LOG_ERROR : SW_LOG_INFO, "push: stale staging removed%s%s", rc ? ": " : "",
               rc ? sw_strerror(rc) : "");
    }
    boot_switch_back(n);
    boot_rollback(p);
    return 0;
}

void sw_push_stop(sw_node_t *n)
{
    push_t *p = n->push;
    if (!p)
        return;
    if (p->phase == OP_APPLY)
        answer_err(p, "ECANCELED: the node stops; the push completes at its next start");
    else if (p->phase == OP_HEALTH)
        answer_err(p, "ECANCELED: the node stops during the health check; the previous version comes back at "
                      "the next start");
    op_end(p);
    for (int i = 0; i < CACHE_SLOTS; i++)
        sw__mf_release(n, &p->cache[i].mf);
    n->push = NULL;
    sw_node_release(n, p, sizeof *p);
}

static const sw_part_cmds_t push_group = {"push", "atomic updates of apps and board scripts", push_cmds, NCMDS};

const sw_part_t sw_part_push = {
    .name = "push",
    .init = sw_push_init,
    .stop = sw_push_stop,
    .app_event = push_app_event,
    .cmds = &push_group,
    .ncmds = 1,
};

#endif // SW_WITH_PUSH
