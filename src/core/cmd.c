// Command tree: a pool of named directories and commands, resolved with MoaT v0 rules, and the
// argument helpers command handlers use.
#include <string.h>

#include "f64.h"
#include "text.h"
#include "swarm/cmd.h"

int sw_tree_init(sw_tree_t *t, sw_tnode_t *pool, size_t cap)
{
    if (!pool || cap < 1)
        return SW_EINVAL;
    t->nodes = pool;
    t->cap = cap > 0x7fff ? 0x7fff : (uint16_t)cap;
    memset(pool, 0, sizeof *pool * t->cap);
    pool[SW_TREE_ROOT].name = "";
    pool[SW_TREE_ROOT].parent = -1;
    pool[SW_TREE_ROOT].used = true;
    t->gen = 1;
    return 0;
}

static bool is_dir(const sw_tree_t *t, int id)
{
    return id >= 0 && id < t->cap && t->nodes[id].used && !t->nodes[id].def;
}

int sw_tree_child(const sw_tree_t *t, int dir, const char *name, size_t n)
{
    for (int k = 1; k < t->cap; k++) {
        const sw_tnode_t *e = &t->nodes[k];
        // (the first byte first: most entries differ there, and it spares a strlen)
        if (e->used && e->parent == dir && n && e->name[0] == name[0] && strlen(e->name) == n &&
            memcmp(e->name, name, n) == 0)
            return k;
    }
    return SW_ENOENT;
}

static void bump(sw_tree_t *t)
{
    if (++t->gen == 0)
        t->gen = 1;
}

static int add(sw_tree_t *t, int parent, const char *name, const char *doc, const sw_cmd_def_t *def)
{
    if (!is_dir(t, parent) || !name || !name[0] || strchr(name, '.'))
        return SW_EINVAL;
    if (sw_tree_child(t, parent, name, strlen(name)) >= 0)
        return SW_EEXIST;
    for (int k = 1; k < t->cap; k++) {
        sw_tnode_t *e = &t->nodes[k];
        if (!e->used) {
            e->name = name;
            e->doc = doc;
            e->def = def;
            e->parent = (int16_t)parent;
            e->used = true;
            bump(t);
            return k;
        }
    }
    return SW_EFULL;
}

int sw_tree_add_dir(sw_tree_t *t, int parent, const char *name, const char *doc)
{
    return add(t, parent, name, doc, NULL);
}

int sw_tree_add_cmd(sw_tree_t *t, int parent, const sw_cmd_def_t *def)
{
    if (!def || !def->fn)
        return SW_EINVAL;
    return add(t, parent, def->name, def->doc, def);
}

static bool below(const sw_tree_t *t, int id, int ancestor)
{
    for (int k = id; k >= 0; k = t->nodes[k].parent)
        if (k == ancestor)
            return true;
    return false;
}

int sw_tree_remove(sw_tree_t *t, int id)
{
    if (id <= SW_TREE_ROOT || id >= t->cap || !t->nodes[id].used)
        return SW_ENOENT;
    // Mark descendants first (their parent chain must still be intact while we look).
    for (int k = 1; k < t->cap; k++)
        if (k != id && t->nodes[k].used && below(t, k, id))
            t->nodes[k].parent = -2;
    for (int k = 1; k < t->cap; k++)
        if (t->nodes[k].parent == -2)
            t->nodes[k].used = false;
    t->nodes[id].used = false;
    bump(t);
    return 0;
}

int sw_tree_find(const sw_tree_t *t, const char *dotted)
{
    int at = SW_TREE_ROOT;
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (!is_dir(t, at))
            return SW_ENOENT;
        at = sw_tree_child(t, at, dotted, n);
        if (at < 0)
            return SW_ENOENT;
        dotted += n + (dot ? 1 : 0);
    }
    return at;
}

static bool span_is(sw_span_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

// v0 string dispatch at directory dir: exact name, "_dir", else first character = subdirectory.
static int resolve_str(const sw_tree_t *t, int dir, const char *s, size_t n)
{
    for (;;) {
        if (n == 0)
            return dir;
        if (n == 4 && memcmp(s, "_dir", 4) == 0)
            return dir;
        int id = sw_tree_child(t, dir, s, n);
        if (id >= 0)
            return id;
        if (n < 2)
            return SW_ENOENT;
        int sub = sw_tree_child(t, dir, s, 1);
        if (!is_dir(t, sub))
            return SW_ENOENT;
        dir = sub;
        s++;
        n--;
    }
}

int sw_tree_resolve(const sw_tree_t *t, const sw_msg_t *m)
{
    if (m->path_len == 0)
        return SW_ENOENT;
    if (m->action_is_str)
        return resolve_str(t, SW_TREE_ROOT, (const char *)m->path[0].p, m->path[0].n);
    int at = SW_TREE_ROOT;
    for (uint8_t k = 0; k < m->path_len; k++) {
        sw_span_t el = m->path[k];
        if (!is_dir(t, at))
            return SW_ENOENT; // a command in the middle of the path
        if (k + 1 == m->path_len && span_is(el, "_dir"))
            return at;
        at = sw_tree_child(t, at, (const char *)el.p, el.n);
        if (at < 0)
            return SW_ENOENT;
    }
    return at;
}

void sw_tree_path(const sw_tree_t *t, int id, char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = 0;
    if (id < 0 || id >= t->cap || !t->nodes[id].used)
        return;
    // Collect the chain root-first (depth is small: names cannot nest beyond the pool).
    int chain[32];
    int depth = 0;
    for (int k = id; k > SW_TREE_ROOT && depth < 32; k = t->nodes[k].parent)
        chain[depth++] = k;
    size_t len = 0;
    for (int d = depth - 1; d >= 0; d--) {
        const char *name = t->nodes[chain[d]].name;
        size_t nl = strlen(name);
        if (len && len + 1 < cap)
            buf[len++] = '.';
        if (nl > cap - 1 - len)
            nl = cap - 1 - len;
        memcpy(buf + len, name, nl);
        len += nl;
    }
    buf[len] = 0;
}

void sw_tree_write_dir(const sw_tree_t *t, int dir, sw_mpw_t *w)
{
    sw_mpw_map(w, 4);
    for (int pass = 0; pass < 2; pass++) { // commands, then directories
        sw_mpw_cstr(w, pass == 0 ? "c" : "d");
        size_t mark = sw_mpw_mark(w);
        uint32_t count = 0;
        for (int k = 1; k < t->cap; k++) {
            const sw_tnode_t *e = &t->nodes[k];
            if (e->used && e->parent == dir && (pass == 0) == (e->def != NULL)) {
                sw_mpw_cstr(w, e->name);
                count++;
            }
        }
        sw_mpw_close_array(w, mark, count);
    }
    sw_mpw_cstr(w, "j");
    sw_mpw_bool(w, false);
    sw_mpw_cstr(w, "h");
    size_t mark = sw_mpw_mark(w);
    uint32_t count = 0;
    for (int k = 1; k < t->cap; k++) {
        const sw_tnode_t *e = &t->nodes[k];
        if (e->used && e->parent == dir && e->doc) {
            sw_mpw_cstr(w, e->name);
            sw_mpw_cstr(w, e->doc);
            count++;
        }
    }
    sw_mpw_close_map(w, mark, count);
}

int sw_tree_invoke(const sw_tree_t *t, int id, sw_call_t *c)
{
    if (id < 0 || id >= t->cap || !t->nodes[id].used)
        return SW_ENOENT;
    if (!t->nodes[id].def) {
        sw_tree_write_dir(t, id, c->out);
        return 0;
    }
    c->def = t->nodes[id].def;
    return c->def->fn(c);
}

/////////////////////////////////////////////////////////////////////////////////////////////
// Arguments

// True if name is the first entry of the comma-separated params list.
static bool first_param(const char *params, const char *name)
{
    if (!params)
        return false;
    size_t n = strlen(name);
    return strncmp(params, name, n) == 0 && (params[n] == 0 || params[n] == ',');
}

// sw_call_arg for arguments other than a fixmap. Out of line, so the common case needs no
// reader on its stack.
static __attribute__((noinline)) int call_arg_other(const sw_call_t *c, const char *name, sw_span_t *val)
{
    sw_mpr_t r;
    sw_mpr_init(&r, c->args.p, c->args.n);
    if (sw_mpr_peek(&r) == SW_MP_MAP)
        return sw_mp_map_get(c->args.p, c->args.n, name, val) == 0 ? 0 : SW_ENOENT;
    if (c->def && first_param(c->def->params, name)) {
        *val = c->args;
        return 0;
    }
    return SW_ENOENT;
}

int sw_call_arg(const sw_call_t *c, const char *name, sw_span_t *val)
{
    val->p = NULL;
    val->n = 0;
    if (!c->args.n)
        return SW_ENOENT;
    if (c->args.p[0] >= 0x80 && c->args.p[0] <= 0x8f) // fixmap: the common case
        return sw_mp_map_get(c->args.p, c->args.n, name, val) == 0 ? 0 : SW_ENOENT;
    return call_arg_other(c, name, val);
}

int sw_call_fail(sw_call_t *c, int err, const char *text)
{
    c->err_text = text;
    return err < 0 ? err : SW_EINVAL;
}

int sw_call_fail2(sw_call_t *c, int err, const char *a, const char *b, size_t n)
{
    size_t len = sw__text_add(c->err_buf, 0, sizeof c->err_buf, a, strlen(a));
    if (b) // (b may be a peer's bytes: escaped, never cut at a NUL)
        sw__text_add_esc(c->err_buf, len, sizeof c->err_buf, b, n);
    return sw_call_fail(c, err, c->err_buf);
}

static bool bad_arg(sw_call_t *c, const char *name, const char *want)
{
    size_t len = sw__text_add(c->err_buf, 0, sizeof c->err_buf, "BadArg: ", 8);
    len = sw__text_add(c->err_buf, len, sizeof c->err_buf, name, strlen(name));
    len = sw__text_add(c->err_buf, len, sizeof c->err_buf, ": expected ", 11);
    sw__text_add(c->err_buf, len, sizeof c->err_buf, want, strlen(want));
    c->err_text = c->err_buf;
    if (!c->err)
        c->err = SW_ETYPE;
    return false;
}

// Reads the argument's single item; false when absent or nil (the default applies).
static bool arg_obj(sw_call_t *c, const char *name, sw_mp_obj_t *o)
{
    sw_span_t v;
    if (sw_call_arg(c, name, &v))
        return false;
    sw_mpr_t r;
    sw_mpr_init(&r, v.p, v.n);
    if (sw_mpr_next(&r, o) || o->type == SW_MP_NIL)
        return false;
    return true;
}

bool sw_call_arg_int(sw_call_t *c, const char *name, int64_t dflt, int64_t *out)
{
    sw_mp_obj_t o;
    *out = dflt;
    if (!arg_obj(c, name, &o))
        return !c->err;
    // 3.0 from a JSON client (read from the bits: no conversion outside int64's range, which
    // would be undefined behaviour, and no soft-float code in a firmware)
    if (o.type == SW_MP_FLOAT && sw__f64_int(o.v.f, out))
        return !c->err;
    if (!sw_mp_obj_i64(&o, out)) {
        *out = dflt;
        return bad_arg(c, name, "an integer");
    }
    return !c->err;
}

bool sw_call_arg_bool(sw_call_t *c, const char *name, bool dflt, bool *out)
{
    sw_mp_obj_t o;
    *out = dflt;
    if (!arg_obj(c, name, &o))
        return !c->err;
    if (o.type == SW_MP_BOOL)
        *out = o.v.b;
    else if (o.type == SW_MP_UINT || o.type == SW_MP_INT)
        *out = o.v.u != 0;
    else
        return bad_arg(c, name, "a boolean");
    return !c->err;
}

static bool arg_blob(sw_call_t *c, const char *name, bool required, sw_span_t *out, bool bin_ok)
{
    sw_mp_obj_t o;
    out->p = NULL;
    out->n = 0;
    if (!arg_obj(c, name, &o)) {
        if (required) {
            size_t len = sw__text_add(c->err_buf, 0, sizeof c->err_buf, "BadArg: missing ", 16);
            sw__text_add(c->err_buf, len, sizeof c->err_buf, name, strlen(name));
            c->err_text = c->err_buf;
            if (!c->err)
                c->err = SW_EINVAL;
            return false;
        }
        return !c->err;
    }
    if (o.type != SW_MP_STR && !(bin_ok && o.type == SW_MP_BIN))
        return bad_arg(c, name, bin_ok ? "bytes" : "a string");
    out->p = o.v.p;
    out->n = o.len;
    return !c->err;
}

bool sw_call_arg_str(sw_call_t *c, const char *name, bool required, sw_span_t *out)
{
    return arg_blob(c, name, required, out, false);
}

bool sw_call_arg_bin(sw_call_t *c, const char *name, bool required, sw_span_t *out)
{
    return arg_blob(c, name, required, out, true);
}

bool sw_call_arg_is_none(const sw_call_t *c, const char *name)
{
    sw_span_t v;
    if (sw_call_arg(c, name, &v))
        return false;
    return (v.n == 1 && v.p[0] == 0xc0) || sw_msg_is_nodata(v);
}
