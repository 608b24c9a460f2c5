// What push keeps on disk (push_int.h): the journal of the plan being applied, its idempotent
// steps, boot recovery, the state file of each target, and the directory helpers they need.
// Everything goes through the port; every path is built from a validated target and validated
// relative paths, so nothing outside the root or the .swarm directory can be named.
//
// Why a crash at any moment leaves the old or the new version: the journal is written
// atomically after the new version has been verified and before the first file moves. Without
// a journal nothing has moved yet (old version); with it, boot recovery re-runs every step.
// Each step checks where its file is before moving it, so running a step again after it has
// been done changes nothing (new version).
//
// What is synced (docs/DESIGN.md, "What is synced"): the files moved are fs_move'd (atomic,
// not yet durable) and made durable in two fs_flush steps, not one directory sync per move;
// the names the journal refers to (the staged files, synced one by one as they were written)
// are flushed before the journal is written, and its removal is flushed at the end.
#include "profile.h"
#if SW_WITH_PUSH
#include <stdio.h>
#include <string.h>

#include "push_int.h"
#include "swarm/path.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Names

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

int sw__push_target(const char *in, size_t len, char out[SW_PUSH_TARGET])
{
    // normalised straight into out: a longer form cannot be a target anyway
    int k = sw_path_norm(in, len, out, SW_PUSH_TARGET);
    if (k <= 0)
        return SW_EINVAL;
    const char *slash = strchr(out, '/');
    if (!slash) {
        // A bare NAME is apps/NAME; a target written with a '/' must keep one after
        // normalising ("apps/" names no app: it is not the app "apps").
        if (memchr(in, '/', len) || !name_ok(out, (size_t)k))
            return SW_EINVAL;
        memmove(out + 5, out, (size_t)k + 1); // NAME is at most 63 bytes: "apps/" + NAME fits
        memcpy(out, "apps/", 5);
        return 0;
    }
    size_t dl = (size_t)(slash - out);
    bool dir_ok = (dl == 4 && !memcmp(out, "apps", 4)) || (dl == 6 && !memcmp(out, "boards", 6));
    if (!dir_ok || !name_ok(slash + 1, strlen(slash + 1)))
        return SW_EINVAL;
    return 0;
}

bool sw__push_rel_ok(sw_node_t *n, const char *rel, size_t len)
{
    if (len == 0 || len > SW_MF_PATH_MAX)
        return false;
    char *norm = sw__push_buf(n, SW_PUSH_BUF_LEAF);
    int k = sw_path_norm(rel, len, norm, SW_PUSH_PATH);
    if (k != (int)len || memcmp(norm, rel, len) != 0)
        return false;
    unsigned levels = 0;
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || rel[i - 1] == '/') && rel[i] == '.')
            return false; // hidden names are never part of a target
        levels += rel[i] == '/';
    }
    return levels <= SW_APP_HASH_DEPTH;
}

int sw__push_join3(char *out, const char *a, const char *b, const char *c)
{
    int k = snprintf(out, SW_PUSH_PATH, c ? "%s/%s/%s" : "%s/%s", a, b, c);
    return k < 0 || k >= SW_PUSH_PATH ? SW_ETOOBIG : 0;
}

bool sw__push_hex_ok(const char *s, size_t len)
{
    if (len != 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Files and directories

static int stat_type(sw_node_t *n, const char *path)
{
    sw_stat_t st;
    int rc = n->port.ops->fs_stat(n->port.ctx, path, &st);
    return rc ? rc : st.type;
}

typedef struct rm_ctx {
    char *path;
    size_t len;
    bool found;
} rm_ctx_t;

// Appends the first entry's name to the path and stops the listing.
static int rm_first(void *u, const sw_dirent_t *e)
{
    rm_ctx_t *x = u;
    size_t k = strlen(e->name);
    if (x->len + 1 + k >= SW_PUSH_PATH)
        return SW_ETOOBIG;
    x->path[x->len] = '/';
    memcpy(x->path + x->len + 1, e->name, k + 1);
    x->found = true;
    return 1;
}

static int rmtree_at(sw_node_t *n, char *path, size_t len, int depth)
{
    const sw_port_ops_t *o = n->port.ops;
    int type = stat_type(n, path);
    if (type == SW_ENOENT)
        return 0;
    if (type < 0)
        return type;
    if (type != SW_FT_DIR)
        return o->fs_unlink(n->port.ctx, path);
    if (depth >= SW_PUSH_TREE_DEPTH)
        return SW_EDEPTH;
    // remove the first entry until there is none: no listing is held while removing
    for (;;) {
        rm_ctx_t x = {path, len, false};
        int rc = o->fs_list(n->port.ctx, path, rm_first, &x);
        if (rc < 0)
            return rc;
        if (!x.found)
            break;
        rc = rmtree_at(n, path, len + 1 + strlen(path + len + 1), depth + 1);
        path[len] = 0;
        if (rc)
            return rc;
    }
    int rc = o->fs_rmdir(n->port.ctx, path);
    return rc == SW_ENOENT ? 0 : rc;
}

int sw__push_rmtree(sw_node_t *n, const char *path)
{
    char *buf = sw__push_buf(n, SW_PUSH_BUF_LEAF);
    size_t len = strlen(path);
    if (len == 0 || len >= SW_PUSH_PATH)
        return SW_EINVAL; // never the root
    memcpy(buf, path, len + 1);
    return rmtree_at(n, buf, len, 0);
}

int sw__push_mkparents(sw_node_t *n, const char *path)
{
    char *buf = sw__push_buf(n, SW_PUSH_BUF_LEAF);
    size_t len = strlen(path);
    if (len >= SW_PUSH_PATH)
        return SW_ETOOBIG;
    memcpy(buf, path, len + 1);
    // the usual case, a parent that is there already: one look, not one per ancestor
    char *last = strrchr(buf, '/');
    if (last) {
        *last = 0;
        if (stat_type(n, buf) == SW_FT_DIR)
            return 0;
        *last = '/';
    }
    for (size_t i = 1; i < len; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = 0;
        int type = stat_type(n, buf);
        if (type == SW_ENOENT) {
            int rc = n->port.ops->fs_mkdir(n->port.ctx, buf);
            if (rc && rc != SW_EEXIST)
                return rc;
        } else if (type < 0) {
            return type;
        } else if (type != SW_FT_DIR) {
            return SW_ENOTDIR;
        }
        buf[i] = '/';
    }
    return 0;
}

// Removes the now empty directories above path, up to (not including) top.
static void prune_parents(sw_node_t *n, const char *path, size_t top)
{
    char *buf = sw__push_buf(n, SW_PUSH_BUF_LEAF);
    size_t len = strlen(path);
    if (len >= SW_PUSH_PATH)
        return;
    memcpy(buf, path, len + 1);
    for (;;) {
        char *slash = strrchr(buf, '/');
        if (!slash || (size_t)(slash - buf) <= top)
            return;
        *slash = 0;
        if (n->port.ops->fs_rmdir(n->port.ctx, buf) != 0)
            return; // not empty (or gone): the levels above are not empty either
    }
}

int sw__push_rmdir_swarm(sw_node_t *n, const char *path)
{
    int rc = sw__push_rmtree(n, path);
    if (!rc)
        prune_parents(n, path, sizeof ".swarm" - 1);
    return rc;
}

int sw__push_write_atomic(sw_node_t *n, const char *path, const void *p, size_t len)
{
    int rc = sw__push_mkparents(n, path);
    return rc ? rc : sw_node_write_atomic(n, path, p, len);
}

// Reads a whole file (at most SW_PUSH_FILE_MAX bytes) into a buffer of *cap bytes the caller
// releases. 0 or an error (SW_ENOENT: no file).
static int read_all(sw_node_t *n, const char *path, uint8_t **out, size_t *len, size_t *cap)
{
    const sw_port_ops_t *o = n->port.ops;
    sw_stat_t st;
    int rc = o->fs_stat(n->port.ctx, path, &st);
    if (rc)
        return rc;
    if (st.type != SW_FT_FILE)
        return SW_EPROTO;
    if (st.size > SW_PUSH_FILE_MAX)
        return SW_ETOOBIG;
    size_t size = (size_t)st.size + 1;
    uint8_t *buf = sw_node_alloc_buf(n, size);
    if (!buf)
        return SW_EFULL;
    int fd;
    if ((rc = o->fs_open(n->port.ctx, path, SW_O_READ, &fd))) {
        sw_node_release(n, buf, size);
        return rc;
    }
    size_t at = 0;
    while (at < size) {
        rc = o->fs_read(n->port.ctx, fd, at, buf + at, size - at);
        if (rc <= 0)
            break;
        at += (size_t)rc;
    }
    o->fs_close(n->port.ctx, fd);
    if (rc < 0 || at == size) { // an error, or it grew meanwhile
        sw_node_release(n, buf, size);
        return rc < 0 ? rc : SW_ETOOBIG;
    }
    *out = buf;
    *len = at;
    *cap = size;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// MsgPack pieces of the journal and the state file

static void write_list(sw_mpw_t *w, const sw_manifest_t *m)
{
    sw_mpw_array(w, m->count);
    for (uint32_t i = 0; i < m->count; i++)
        sw_mpw_str(w, sw__mf_path(m, i), m->ents[i].len);
}

static size_t list_bytes(const sw_manifest_t *m)
{
    return 5 + m->pool_len + 3 * (size_t)m->count; // header + (string header + path) each
}

// Reads an array of valid relative paths into m (sorted, duplicates refused).
static int read_list(sw_node_t *n, sw_mpr_t *r, sw_manifest_t *m)
{
    uint32_t k;
    if (!sw_mpr_array(r, &k))
        return SW_EPROTO;
    if (k > SW_PUSH_LIST_MAX)
        return SW_ETOOBIG;
    // the paths with a NUL each take no more than the rest of the input (a header byte each)
    int rc = k ? sw__mf_reserve(n, m, k, r->n - r->pos) : 0;
    if (rc)
        return rc;
    for (uint32_t i = 0; i < k; i++) {
        sw_span_t s;
        if (!sw_mpr_str(r, &s) || !sw__push_rel_ok(n, (const char *)s.p, s.n))
            return SW_EPROTO;
        rc = sw__mf_add(n, m, (const char *)s.p, s.n, 0, 0, NULL);
        if (rc)
            return rc;
    }
    sw__mf_sort(m);
    for (uint32_t i = 1; i < m->count; i++)
        if (sw__mf_cmp(sw__mf_path(m, i - 1), m->ents[i - 1].len, sw__mf_path(m, i), m->ents[i].len) == 0)
            return SW_EPROTO;
    return 0;
}

// Copies a string item into a NUL-terminated buffer; false if it is not a string or too long.
static bool read_cstr(sw_mpr_t *r, char *out, size_t cap)
{
    sw_span_t s;
    if (!sw_mpr_str(r, &s) || s.n >= cap)
        return false;
    memcpy(out, s.p, s.n);
    out[s.n] = 0;
    return true;
}

static bool read_hex(sw_mpr_t *r, char out[65])
{
    return read_cstr(r, out, 65) && sw__push_hex_ok(out, strlen(out));
}

static bool key_is(const sw_mp_obj_t *k, const char *s)
{
    return sw_mp_obj_streq(k, s);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// State file

// The state file of t, in buffer STEP0 (the state is never read or written inside a step).
static const char *state_path(sw_node_t *n, const char *t)
{
    char *out = sw__push_buf(n, SW_PUSH_BUF_STEP0);
    return sw__push_join(out, SW_PUSH_STATE, t) ? NULL : out;
}

void sw__push_state_release(sw_node_t *n, sw_push_state_t *st)
{
    sw__mf_release(n, &st->added);
}

static int parse_state(sw_node_t *n, const uint8_t *p, size_t len, sw_push_state_t *st)
{
    sw_mpr_t r;
    sw_mpr_init(&r, p, len);
    uint32_t pairs;
    if (!sw_mpr_map(&r, &pairs))
        return SW_EPROTO;
    for (uint32_t i = 0; i < pairs; i++) {
        sw_mp_obj_t k;
        if (sw_mpr_next(&r, &k))
            return SW_EPROTO;
        int rc = 0;
        if (key_is(&k, "prev")) {
            if (sw_mpr_peek(&r) == SW_MP_NIL)
                sw_mpr_nil(&r);
            else if (!read_hex(&r, st->prev))
                return SW_EPROTO;
            else
                st->has_prev = true;
        } else if (key_is(&k, "added")) {
            rc = read_list(n, &r, &st->added);
        } else if (key_is(&k, "state")) {
            if (!read_cstr(&r, st->state, sizeof st->state))
                return SW_EPROTO;
        } else if (key_is(&k, "last")) {
            sw_span_t s;
            if (sw_mpr_span(&r, &s))
                return SW_EPROTO;
            if (s.n <= sizeof st->last && s.p[0] != 0xc0) {
                memcpy(st->last, s.p, s.n);
                st->last_len = s.n;
            }
        } else if (sw_mpr_skip(&r)) {
            return SW_EPROTO;
        }
        if (rc)
            return rc;
    }
    return sw_mpr_error(&r) ? SW_EPROTO : 0;
}

int sw__push_state_read(sw_node_t *n, const char *t, sw_push_state_t *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->state, sizeof st->state, "none");
    const char *path = state_path(n, t);
    int rc = path ? 0 : SW_ETOOBIG;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    if (!rc)
        rc = read_all(n, path, &buf, &len, &cap);
    if (rc == SW_ENOENT)
        return 0;
    if (!rc) {
        rc = parse_state(n, buf, len, st);
        sw_node_release(n, buf, cap);
    }
    if (rc) {
        sw_log(n, SW_LOG_WARN, "push: %s: unusable state file (%s): no previous version", t, sw_strerror(rc));
        sw__mf_release(n, &st->added);
        memset(st, 0, sizeof *st);
        snprintf(st->state, sizeof st->state, "none");
    }
    return 0;
}

int sw__push_state_write(sw_node_t *n, const char *t, const sw_push_state_t *st)
{
    const char *path = state_path(n, t);
    if (!path)
        return SW_ETOOBIG;
    size_t cap = 256 + list_bytes(&st->added) + st->last_len;
    uint8_t *buf = sw_node_alloc_buf(n, cap);
    if (!buf)
        return SW_EFULL;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, 4);
    sw_mpw_cstr(&w, "prev");
    sw_mpw_cstr(&w, st->has_prev ? st->prev : NULL);
    sw_mpw_cstr(&w, "added");
    write_list(&w, &st->added);
    sw_mpw_cstr(&w, "state");
    sw_mpw_cstr(&w, st->state);
    sw_mpw_cstr(&w, "last");
    if (st->last_len)
        sw_mpw_raw(&w, st->last, st->last_len);
    else
        sw_mpw_nil(&w);
    int rc = w.err ? w.err : sw__push_write_atomic(n, path, buf, w.len);
    sw_node_release(n, buf, cap);
    return rc;
}

void sw__push_state_last(sw_node_t *n, sw_push_state_t *st, const char *result, const char *id,
                         const char *prev, uint32_t ms)
{
    sw_mpw_t w;
    sw_mpw_init(&w, st->last, sizeof st->last);
    sw_mpw_map(&w, 5);
    size_t rl = 0;
    while (rl < 300 && result[rl]) // keeps the map within st->last
        rl++;
    sw_mpw_cstr(&w, "result");
    sw_mpw_str(&w, result, rl);
    sw_mpw_cstr(&w, "id"), sw_mpw_cstr(&w, id);
    sw_mpw_cstr(&w, "prev"), sw_mpw_cstr(&w, prev);
    sw_mpw_cstr(&w, "ms"), sw_mpw_uint(&w, ms);
    sw_mpw_cstr(&w, "at"), sw_mpw_int(&w, n->port.ops->wall_s(n->port.ctx));
    st->last_len = w.err ? 0 : w.len;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Journal

void sw__push_plan_release(sw_node_t *n, sw_push_plan_t *p)
{
    sw__mf_release(n, &p->put);
    sw__mf_release(n, &p->del);
    sw__mf_release(n, &p->added);
}

int sw__push_journal_write(sw_node_t *n, const sw_push_plan_t *p)
{
    // the files it names are where it says before it can exist: their names durable (their
    // contents were synced as they were written, or moved there by a flushed plan)
    int rc = n->port.ops->fs_flush(n->port.ctx);
    size_t cap = 512 + list_bytes(&p->put) + list_bytes(&p->del) + list_bytes(&p->added);
    uint8_t *buf = rc ? NULL : sw_node_alloc_buf(n, cap);
    if (!buf)
        return rc ? rc : SW_EFULL;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, p->test ? 8 : 7);
    sw_mpw_cstr(&w, "k"), sw_mpw_cstr(&w, p->kind == SW_PUSH_COMMIT ? "commit" : "rollback");
    if (p->test) // recorded before the switch: a boot after it knows the check is pending
        sw_mpw_cstr(&w, "test"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "t"), sw_mpw_cstr(&w, p->t);
    sw_mpw_cstr(&w, "id"), sw_mpw_cstr(&w, p->id);
    sw_mpw_cstr(&w, "old"), sw_mpw_cstr(&w, p->old);
    sw_mpw_cstr(&w, "del"), write_list(&w, &p->del);
    sw_mpw_cstr(&w, "put"), write_list(&w, &p->put);
    sw_mpw_cstr(&w, "added"), write_list(&w, &p->added);
    rc = w.err ? w.err : sw__push_write_atomic(n, SW_PUSH_JOURNAL, buf, w.len);
    sw_node_release(n, buf, cap);
    return rc;
}

static int parse_journal(sw_node_t *n, const uint8_t *b, size_t len, sw_push_plan_t *p)
{
    sw_mpr_t r;
    sw_mpr_init(&r, b, len);
    uint32_t pairs;
    if (!sw_mpr_map(&r, &pairs))
        return SW_EPROTO;
    unsigned seen = 0;
    for (uint32_t i = 0; i < pairs; i++) {
        sw_mp_obj_t k;
        if (sw_mpr_next(&r, &k))
            return SW_EPROTO;
        int rc = 0;
        if (key_is(&k, "k")) {
            char kind[16];
            if (!read_cstr(&r, kind, sizeof kind))
                return SW_EPROTO;
            p->kind = !strcmp(kind, "commit") ? SW_PUSH_COMMIT : !strcmp(kind, "rollback") ? SW_PUSH_ROLLBACK : 0;
            seen |= p->kind ? 1 : 0;
        } else if (key_is(&k, "t")) {
            char t[SW_PUSH_TARGET];
            if (!read_cstr(&r, t, sizeof t) || sw__push_target(t, strlen(t), p->t) || strcmp(t, p->t))
                return SW_EPROTO;
            seen |= 2;
        } else if (key_is(&k, "id")) {
            if (!read_hex(&r, p->id))
                return SW_EPROTO;
            seen |= 4;
        } else if (key_is(&k, "old")) {
            if (!read_hex(&r, p->old))
                return SW_EPROTO;
            seen |= 8;
        } else if (key_is(&k, "del")) {
            rc = read_list(n, &r, &p->del);
        } else if (key_is(&k, "put")) {
            rc = read_list(n, &r, &p->put);
        } else if (key_is(&k, "added")) {
            rc = read_list(n, &r, &p->added);
        } else if (key_is(&k, "test")) {
            if (!sw_mpr_bool(&r, &p->test))
                return SW_EPROTO;
        } else if (sw_mpr_skip(&r)) {
            return SW_EPROTO;
        }
        if (rc)
            return rc;
    }
    return sw_mpr_error(&r) || seen != 15 ? SW_EPROTO : 0;
}

int sw__push_journal_read(sw_node_t *n, sw_push_plan_t *p)
{
    memset(p, 0, sizeof *p);
    uint8_t *buf;
    size_t len, cap;
    int rc = read_all(n, SW_PUSH_JOURNAL, &buf, &len, &cap);
    if (rc)
        return rc == SW_ENOENT ? rc : SW_EPROTO;
    rc = parse_journal(n, buf, len, p);
    sw_node_release(n, buf, cap);
    if (rc) {
        sw__push_plan_release(n, p);
        return SW_EPROTO;
    }
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Steps, in this order. Where the files of a step can be after a crash, and what running the
// step again does:
//   del p:    target/p is a file → it moves to the backup (a rollback: it is removed); anything
//             else (gone, or a directory a later put made) → nothing to do. Then the emptied
//             directories above it go.
//   aside p:  (a commit's put p) src/p is there and target/p is a file → target/p moves to the
//             backup; else nothing to do.
//   flush     the backup complete and durable before any file of the new version replaces
//   put p:    src/p is there → it is moved over target/p; src/p is gone → the move happened.
//   flush     the new version durable before the journal goes (sw__push_finish)
// src/p disappears in the same atomic move that makes the new target/p, so "src/p exists"
// tells exactly whether the put still has to happen. A move that a power cut undid (it was not
// flushed yet) is a step not done yet: the journal is still there, and the start redoes it.

// The folder the plan's files come from (staging or backup), or with rel one file in it.
static int src_path(const sw_push_plan_t *p, const char *rel, char *out)
{
    return sw__push_join3(out, p->kind == SW_PUSH_COMMIT ? SW_PUSH_STAGE : SW_PUSH_BAK, p->t, rel);
}

// Moves target file `from` (relative path rel) into the backup, or removes it (rollback).
static int set_aside(sw_node_t *n, const sw_push_plan_t *p, const char *from, const char *rel)
{
    if (p->kind != SW_PUSH_COMMIT)
        return n->port.ops->fs_unlink(n->port.ctx, from);
    char *to = sw__push_buf(n, SW_PUSH_BUF_STEP2);
    int rc = sw__push_join3(to, SW_PUSH_BAK, p->t, rel);
    if (!rc)
        rc = sw__push_mkparents(n, to);
    return rc ? rc : n->port.ops->fs_move(n->port.ctx, from, to);
}

enum { STEP_DEL, STEP_ASIDE, STEP_PUT };

// The step `what` (STEP_*) for the relative path rel.
static int step_one(sw_node_t *n, const sw_push_plan_t *p, const char *rel, uint32_t what)
{
    char *tp = sw__push_buf(n, SW_PUSH_BUF_STEP0), *sp = sw__push_buf(n, SW_PUSH_BUF_STEP1);
    int rc = sw__push_join(tp, p->t, rel);
    if (!rc && what != STEP_DEL && !(rc = src_path(p, rel, sp)) && stat_type(n, sp) != SW_FT_FILE)
        return 0; // already moved
    if (rc)
        return rc;
    if (what == STEP_PUT)
        return (rc = sw__push_mkparents(n, tp)) ? rc : n->port.ops->fs_move(n->port.ctx, sp, tp);
    // a rollback's puts replace what is there: only its dels remove files
    if ((what == STEP_DEL || p->kind == SW_PUSH_COMMIT) && stat_type(n, tp) == SW_FT_FILE &&
        (rc = set_aside(n, p, tp, rel)))
        return rc;
    if (what == STEP_DEL)
        prune_parents(n, tp, strlen(p->t));
    return 0;
}

int sw__push_step(sw_node_t *n, sw_push_plan_t *p, bool *done)
{
    // del[0 …), then twice (aside, then put) put[0 …) and a flush
    uint32_t k = p->put.count, s = p->step++;
    *done = false;
    if (s < p->del.count)
        return step_one(n, p, sw__mf_path(&p->del, s), STEP_DEL);
    s -= p->del.count;
    uint32_t phase = s / (k + 1), i = s % (k + 1);
    if (phase < 2 && i < k)
        return step_one(n, p, sw__mf_path(&p->put, i), STEP_ASIDE + phase);
    if (phase < 2)
        return n->port.ops->fs_flush(n->port.ctx);
    p->step--;
    *done = true;
    return 0;
}

int sw__push_finish(sw_node_t *n, const sw_push_plan_t *p, const char *result, uint32_t ms)
{
    sw_push_state_t st;
    sw__push_state_read(n, p->t, &st);
    sw__mf_clear(&st.added);
    int rc = 0;
    if (p->kind == SW_PUSH_COMMIT) {
        st.has_prev = true;
        memcpy(st.prev, p->old, sizeof st.prev);
        if (p->added.count)
            rc = sw__mf_reserve(n, &st.added, p->added.count, p->added.pool_len);
        for (uint32_t i = 0; !rc && i < p->added.count; i++)
            rc = sw__mf_add(n, &st.added, sw__mf_path(&p->added, i), p->added.ents[i].len, 0, 0, NULL);
        snprintf(st.state, sizeof st.state, p->test ? "testing" : "ok");
    } else {
        st.has_prev = false;
        snprintf(st.state, sizeof st.state, "rolled-back");
    }
    if (p->kind == SW_PUSH_COMMIT && p->test) {
        // the mark outlives the journal: until the health check passes, a restart rolls back
        int mrc = sw__push_write_atomic(n, SW_PUSH_TESTING, p->t, strlen(p->t));
        if (mrc)
            sw_log(n, SW_LOG_WARN, "push: %s: cannot mark the health check as pending: %s", p->t, sw_strerror(mrc));
    } else {
        sw__push_testing_clear(n);
    }
    sw__push_state_last(n, &st, result, p->id, p->old, ms);
    if (!rc)
        rc = sw__push_state_write(n, p->t, &st);
    sw__push_state_release(n, &st);
    if (rc) // without the state the backup cannot be used; the target itself is complete
        sw_log(n, SW_LOG_ERROR, "push: %s: cannot write the state file: %s", p->t, sw_strerror(rc));
    char *sd = sw__push_buf(n, SW_PUSH_BUF_STEP0); // the state is written: STEP0 is free again
    if (!src_path(p, NULL, sd) && (rc = sw__push_rmdir_swarm(n, sd)))
        sw_log(n, SW_LOG_WARN, "push: cannot remove %s: %s", sd, sw_strerror(rc));
    n->files_gen++;
    // its removal durable before anyone is told: a journal a power cut brought back would be
    // finished again at the start, and its health mark would roll back a confirmed version
    return sw__push_unlink_durable(n, SW_PUSH_JOURNAL);
}

int sw__push_unlink_durable(sw_node_t *n, const char *path)
{
    // (a file that stays is done again: the journal is finished again at the next start)
    n->port.ops->fs_unlink(n->port.ctx, path);
    return n->port.ops->fs_flush(n->port.ctx);
}

void sw__push_testing_clear(sw_node_t *n)
{
    n->port.ops->fs_unlink(n->port.ctx, SW_PUSH_TESTING);
}

bool sw__push_testing_read(sw_node_t *n, char t[SW_PUSH_TARGET])
{
    const sw_port_t *port = &n->port;
    int fd;
    if (port->ops->fs_open(port->ctx, SW_PUSH_TESTING, SW_O_READ, &fd) < 0)
        return false;
    char buf[SW_PUSH_TARGET];
    int got = port->ops->fs_read(port->ctx, fd, 0, buf, sizeof buf - 1);
    port->ops->fs_close(port->ctx, fd);
    if (got <= 0)
        return false;
    buf[got] = 0;
    return sw__push_target(buf, (size_t)got, t) == 0 && !strcmp(buf, t);
}

int sw__push_recover(sw_node_t *n, bool *found)
{
    *found = false;
    n->port.ops->fs_unlink(n->port.ctx, SW_PUSH_JOURNAL ".tmp"); // a journal never completed
    sw_push_plan_t p;
    int rc = sw__push_journal_read(n, &p);
    if (rc == SW_ENOENT)
        return 0;
    *found = true;
    if (rc) {
        // cannot happen with an atomic write; keep it for a human, never apply garbage
        sw_log(n, SW_LOG_ERROR, "push: the journal is unusable; kept as %s.bad", SW_PUSH_JOURNAL);
        n->port.ops->fs_rename(n->port.ctx, SW_PUSH_JOURNAL, SW_PUSH_JOURNAL ".bad");
        return rc;
    }
    sw_log(n, SW_LOG_WARN, "push: completing an interrupted %s of %s (%u steps)",
           p.kind == SW_PUSH_COMMIT ? "commit" : "rollback", p.t, (unsigned)(p.del.count + p.put.count));
    bool done = false;
    while (!rc && !done)
        rc = sw__push_step(n, &p, &done);
    if (!rc)
        rc = sw__push_finish(n, &p,
                             p.kind == SW_PUSH_COMMIT ? "recovered: commit completed after a restart"
                                                      : "recovered: rollback completed after a restart",
                             0);
    if (rc)
        sw_log(n, SW_LOG_ERROR, "push: cannot complete the journal of %s: %s", p.t, sw_strerror(rc));
    else
        sw_log(n, SW_LOG_INFO, "push: %s is at %.12s…", p.t, p.id);
    sw__push_plan_release(n, &p);
    return rc;
}

#endif // SW_WITH_PUSH
