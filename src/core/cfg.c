// swarm config tree: one MsgPack map in a caller buffer. Reads walk the encoded bytes; every
// edit (set, delete, merge) writes a complete new document into the scratch buffer and only
// then swaps the two buffers, so an edit that fails half-way leaves the tree exactly as it was.
//
// The walkers below never keep a reader across a recursive call: each step opens a short-lived
// reader on the bytes it needs, so the stack cost per nesting level stays a few dozen bytes
// (the reader itself carries SW_MP_MAX_DEPTH counters).
#include <string.h>

#include "swarm/cfg.h"

//////////////////////////////////////////////////////////////////////////////////////////////
// Walking encoded items

// Header of the item at node.p[off]: *o (containers: the header only) and its length in bytes.
static int head_at(sw_span_t node, size_t off, sw_mp_obj_t *o, size_t *hlen)
{
    sw_mpr_t r;
    *hlen = 0;
    if (off >= node.n)
        return SW_EPROTO;
    sw_mpr_init(&r, node.p + off, node.n - off);
    if (sw_mpr_next(&r, o))
        return r.err;
    *hlen = r.pos;
    return 0;
}

// The complete item at node.p[off].
static int item_at(sw_span_t node, size_t off, sw_span_t *out)
{
    sw_mpr_t r;
    if (off >= node.n)
        return SW_EPROTO;
    sw_mpr_init(&r, node.p + off, node.n - off);
    return sw_mpr_span(&r, out);
}

static bool is_container(sw_span_t item)
{
    // fixmap 0x80-0x8f, fixarray 0x90-0x9f, array16/32 0xdc/0xdd, map16/32 0xde/0xdf
    uint8_t b = item.n ? item.p[0] : 0xc0;
    return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

static bool is_map(sw_span_t item)
{
    uint8_t b = item.n ? item.p[0] : 0xc0;
    return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

// A whole config document handed in (load, merge): one well-formed MsgPack map.
static int check_doc(const void *p, size_t n)
{
    if (!p)
        return SW_EPROTO;
    int rc = sw_mp_check(p, n);
    if (rc)
        return rc;
    return is_map((sw_span_t){p, n}) ? 0 : SW_ETYPE;
}

// A map key equals a path element only if it is a string with the same bytes: keys of other
// types (possible in loaded data) never match.
static bool key_is(sw_span_t key, const sw_cfg_key_t *k)
{
    sw_mp_obj_t o;
    size_t hl;
    if (head_at(key, 0, &o, &hl) || o.type != SW_MP_STR || o.len != k->n)
        return false;
    return k->n == 0 || memcmp(o.v.p, k->s, k->n) == 0;
}

// Two encoded keys are the same key: strings by content (a short string may be encoded in more
// than one way), anything else by identical bytes.
static bool keys_equal(sw_span_t a, sw_span_t b)
{
    sw_mp_obj_t oa, ob;
    size_t hl;
    if (head_at(a, 0, &oa, &hl) || head_at(b, 0, &ob, &hl))
        return false;
    if (oa.type == SW_MP_STR || ob.type == SW_MP_STR)
        return oa.type == ob.type && oa.len == ob.len &&
               (oa.len == 0 || memcmp(oa.v.p, ob.v.p, oa.len) == 0);
    return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

// Iteration over a map's pairs: a cursor holding the offset of the next key.
typedef struct pairs {
    sw_span_t map;
    uint32_t n;  // pairs in the map
    uint32_t i;  // pairs consumed
    size_t off;  // offset of the next key
} pairs_t;

static int pairs_open(pairs_t *it, sw_span_t map)
{
    sw_mp_obj_t o;
    size_t hl;
    int rc = head_at(map, 0, &o, &hl);
    if (rc)
        return rc;
    if (o.type != SW_MP_MAP)
        return SW_ETYPE;
    it->map = map;
    it->n = o.len;
    it->i = 0;
    it->off = hl;
    return 0;
}

// 1 and the next pair, 0 at the end, or an error.
static int pairs_next(pairs_t *it, sw_span_t *key, sw_span_t *val)
{
    if (it->i >= it->n)
        return 0;
    int rc = item_at(it->map, it->off, key);
    if (!rc)
        rc = item_at(it->map, it->off + key->n, val);
    if (rc)
        return rc;
    it->off += key->n + val->n;
    it->i++;
    return 1;
}

// Finds the first pair of `map` (pairs [0, limit)) whose key equals `key`: 1 (and *val), 0, or
// an error.
static int find_key(sw_span_t map, sw_span_t key, uint32_t limit, sw_span_t *val)
{
    pairs_t it;
    sw_span_t k, v;
    int rc = pairs_open(&it, map);
    if (rc)
        return rc;
    while (it.i < limit && (rc = pairs_next(&it, &k, &v)) == 1) {
        if (keys_equal(k, key)) {
            if (val)
                *val = v;
            return 1;
        }
    }
    return rc < 0 ? rc : 0;
}

// The child of `node` at path element k.
static int child(sw_span_t node, const sw_cfg_key_t *k, sw_span_t *out)
{
    if (k->s) {
        pairs_t it;
        sw_span_t key, val;
        int rc = pairs_open(&it, node);
        if (rc)
            return rc;
        while ((rc = pairs_next(&it, &key, &val)) == 1) {
            if (key_is(key, k)) {
                *out = val;
                return 0;
            }
        }
        return rc ? rc : SW_ENOENT;
    }
    sw_mp_obj_t o;
    size_t off;
    int rc = head_at(node, 0, &o, &off);
    if (rc)
        return rc;
    if (o.type != SW_MP_ARRAY)
        return SW_ETYPE;
    if (k->idx < 0 || (uint64_t)k->idx >= o.len)
        return SW_ENOENT;
    for (int64_t j = 0;; j++) {
        if ((rc = item_at(node, off, out)) != 0)
            return rc;
        if (j == k->idx)
            return 0;
        off += out->n;
    }
}

static sw_span_t doc_span(const sw_cfg_t *c)
{
    sw_span_t s = {c->doc, c->len};
    return s;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Setup and reads

int sw_cfg_init(sw_cfg_t *c, void *doc, void *scratch, size_t cap)
{
    if (!c || !doc || !scratch || cap < 1 || doc == scratch)
        return SW_EINVAL;
    c->doc = doc;
    c->scratch = scratch;
    c->cap = cap;
    c->doc[0] = 0x80; // {}
    c->len = 1;
    c->version = 0;
    return 0;
}

int sw_cfg_load(sw_cfg_t *c, const void *p, size_t n)
{
    int rc = check_doc(p, n);
    if (rc)
        return rc;
    if (n > c->cap)
        return SW_ETOOBIG;
    // everything is checked: the copy cannot fail half-way (memmove: p may overlap doc)
    memmove(c->doc, p, n);
    c->len = n;
    c->version++;
    return 0;
}

int sw_cfg_get(const sw_cfg_t *c, const sw_cfg_path_t *path, sw_span_t *val)
{
    sw_span_t node = doc_span(c);
    if (path->len > SW_CFG_MAX_PATH)
        return SW_EINVAL;
    for (unsigned i = 0; i < path->len; i++) {
        int rc = child(node, &path->k[i], &node);
        if (rc)
            return rc;
    }
    *val = node;
    return 0;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Edits: rebuild the document into scratch, then swap

enum { OP_SET, OP_DEL };

typedef struct edit {
    const sw_cfg_path_t *path;
    int op;
    const uint8_t *raw; // SET: the encoded value …
    size_t rawn;
    const char *str;    // … or, when str is set, a string to encode
    size_t strn;
    sw_mpw_t w;         // writing into scratch
} edit_t;

static void put_value(edit_t *e)
{
    if (e->str)
        sw_mpw_str(&e->w, e->str, e->strn);
    else
        sw_mpw_raw(&e->w, e->raw, e->rawn);
}

// Writes a new value for path[i..] where nothing exists yet: a map level for every remaining
// key, then the value. An index into a level that does not exist has no array to refer to.
static int put_fresh(edit_t *e, unsigned i)
{
    for (; i < e->path->len; i++) {
        const sw_cfg_key_t *k = &e->path->k[i];
        if (!k->s)
            return SW_ENOENT;
        sw_mpw_map(&e->w, 1);
        sw_mpw_str(&e->w, k->s, k->n);
    }
    put_value(e);
    return 0;
}

// Writes the edited copy of `node`, the item found at path[0..i) in the old document.
static int rebuild(edit_t *e, sw_span_t node, unsigned i)
{
    if (i == e->path->len) { // only reached by SET: DEL drops the item in its parent
        put_value(e);
        return 0;
    }
    const sw_cfg_key_t *k = &e->path->k[i];
    bool last = i + 1 == e->path->len;
    int rc;

    if (k->s) {
        pairs_t it;
        sw_span_t key, val;
        if ((rc = pairs_open(&it, node)) != 0)
            return rc;
        size_t mark = sw_mpw_mark(&e->w);
        uint32_t out = 0;
        bool found = false;
        while ((rc = pairs_next(&it, &key, &val)) == 1) {
            if (key_is(key, k)) {
                // The first match is the one reads see; later duplicates (only possible in
                // loaded data) are dropped so the edit is what reads see afterwards.
                if (found)
                    continue;
                found = true;
                if (e->op == OP_DEL && last)
                    continue;
                sw_mpw_raw(&e->w, key.p, key.n);
                if ((rc = rebuild(e, val, i + 1)) != 0)
                    return rc;
            } else {
                sw_mpw_raw(&e->w, key.p, key.n);
                sw_mpw_raw(&e->w, val.p, val.n);
            }
            out++;
        }
        if (rc)
            return rc;
        if (!found) {
            if (e->op == OP_DEL)
                return SW_ENOENT;
            if (out == UINT32_MAX)
                return SW_ETOOBIG;
            sw_mpw_str(&e->w, k->s, k->n);
            if ((rc = put_fresh(e, i + 1)) != 0)
                return rc;
            out++;
        }
        sw_mpw_close_map(&e->w, mark, out);
        return 0;
    }

    sw_mp_obj_t o;
    size_t off;
    if ((rc = head_at(node, 0, &o, &off)) != 0)
        return rc;
    if (o.type != SW_MP_ARRAY)
        return SW_ETYPE;
    int64_t idx = k->idx;
    uint32_t items = o.len;
    if (e->op == OP_DEL) {
        if (idx < 0 || (uint64_t)idx >= o.len)
            return SW_ENOENT;
        if (last)
            items--;
    } else {
        if (idx < 0 || (uint64_t)idx > o.len)
            return SW_ERANGE;
        if ((uint64_t)idx == o.len) {
            if (items == UINT32_MAX)
                return SW_ETOOBIG;
            items++;
        }
    }
    sw_mpw_array(&e->w, items);
    for (int64_t j = 0; j < (int64_t)o.len; j++) {
        sw_span_t item;
        if ((rc = item_at(node, off, &item)) != 0)
            return rc;
        off += item.n;
        if (j != idx)
            sw_mpw_raw(&e->w, item.p, item.n);
        else if (!(e->op == OP_DEL && last) && (rc = rebuild(e, item, i + 1)) != 0)
            return rc;
    }
    if ((uint64_t)idx == o.len)
        return put_fresh(e, i + 1);
    return 0;
}

// Makes scratch[0..len) the tree.
static int commit(sw_cfg_t *c, const sw_mpw_t *w)
{
    if (w->err)
        return w->err == SW_EFULL ? SW_ETOOBIG : w->err;
    // Belt and braces, and the one real check: a value set deep in the tree can push the
    // nesting past SW_MP_MAX_DEPTH (SW_EDEPTH), which the tree must never hold.
    int rc = sw_mp_check(c->scratch, w->len);
    if (rc)
        return rc;
    uint8_t *t = c->doc;
    c->doc = c->scratch;
    c->scratch = t;
    c->len = w->len;
    c->version++;
    return 0;
}

static int edit_run(sw_cfg_t *c, edit_t *e)
{
    if (e->path->len == 0)
        return SW_EINVAL;
    if (e->path->len > SW_CFG_MAX_PATH)
        return SW_EINVAL;
    sw_mpw_init(&e->w, c->scratch, c->cap);
    int rc = rebuild(e, doc_span(c), 0);
    if (rc)
        return rc == SW_EFULL ? SW_ETOOBIG : rc;
    return commit(c, &e->w);
}

int sw_cfg_set(sw_cfg_t *c, const sw_cfg_path_t *path, const void *val, size_t n)
{
    if (!val || sw_mp_check(val, n))
        return SW_EPROTO;
    edit_t e = {.path = path, .op = OP_SET, .raw = val, .rawn = n};
    return edit_run(c, &e);
}

int sw_cfg_del(sw_cfg_t *c, const sw_cfg_path_t *path)
{
    edit_t e = {.path = path, .op = OP_DEL};
    return edit_run(c, &e);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Deep merge

// Writes the merge of the maps `old` and `neu`: old pairs in their order (a key also in `neu`
// takes its new value, merged when both are maps), then the pairs only `neu` has. The first of
// duplicate keys wins, as in reads.
static int merge_map(sw_mpw_t *w, sw_span_t old, sw_span_t neu)
{
    pairs_t it;
    sw_span_t k, v, nv;
    size_t mark = sw_mpw_mark(w);
    uint64_t out = 0;
    int rc;

    if ((rc = pairs_open(&it, old)) != 0)
        return rc;
    while ((rc = pairs_next(&it, &k, &v)) == 1) {
        int hit = find_key(neu, k, UINT32_MAX, &nv);
        if (hit < 0)
            return hit;
        if (hit) {
            int dup = find_key(old, k, it.i - 1, NULL);
            if (dup < 0)
                return dup;
            if (dup)
                continue; // an earlier pair of `old` took the new value
            sw_mpw_raw(w, k.p, k.n);
            if (is_map(v) && is_map(nv)) {
                if ((rc = merge_map(w, v, nv)) != 0)
                    return rc;
            } else {
                sw_mpw_raw(w, nv.p, nv.n);
            }
        } else {
            sw_mpw_raw(w, k.p, k.n);
            sw_mpw_raw(w, v.p, v.n);
        }
        out++;
        if (w->err)
            return w->err;
    }
    if (rc)
        return rc;

    if ((rc = pairs_open(&it, neu)) != 0)
        return rc;
    while ((rc = pairs_next(&it, &k, &v)) == 1) {
        int hit = find_key(old, k, UINT32_MAX, NULL);
        if (hit == 0)
            hit = find_key(neu, k, it.i - 1, NULL);
        if (hit < 0)
            return hit;
        if (hit)
            continue;
        sw_mpw_raw(w, k.p, k.n);
        sw_mpw_raw(w, v.p, v.n);
        out++;
        if (w->err)
            return w->err;
    }
    if (rc)
        return rc;
    if (out > UINT32_MAX)
        return SW_ETOOBIG;
    sw_mpw_close_map(w, mark, (uint32_t)out);
    return 0;
}

int sw_cfg_merge(sw_cfg_t *c, const void *p, size_t n)
{
    int rc = check_doc(p, n);
    if (rc)
        return rc;
    sw_span_t neu = {p, n};
    sw_mpw_t w;
    sw_mpw_init(&w, c->scratch, c->cap);
    rc = merge_map(&w, doc_span(c), neu);
    if (rc)
        return rc == SW_EFULL ? SW_ETOOBIG : rc;
    return commit(c, &w);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// MoaT "part" form

int sw_cfg_write_part(const sw_cfg_t *c, const sw_cfg_path_t *path, sw_mpw_t *w)
{
    sw_span_t v;
    int rc = sw_cfg_get(c, path, &v);
    if (rc)
        return rc;
    sw_mp_obj_t o;
    size_t off;
    if ((rc = head_at(v, 0, &o, &off)) != 0)
        return rc;

    if (o.type == SW_MP_MAP) {
        pairs_t it;
        sw_span_t k, x;
        uint32_t simple = 0, nested = 0;
        sw_mpw_array(w, 2);
        size_t mark = sw_mpw_mark(w);
        pairs_open(&it, v);
        while ((rc = pairs_next(&it, &k, &x)) == 1) {
            if (!is_container(x)) {
                sw_mpw_raw(w, k.p, k.n);
                sw_mpw_raw(w, x.p, x.n);
                simple++;
            }
        }
        if (rc)
            return rc;
        sw_mpw_close_map(w, mark, simple);
        mark = sw_mpw_mark(w);
        pairs_open(&it, v);
        while ((rc = pairs_next(&it, &k, &x)) == 1) {
            if (is_container(x)) {
                sw_mpw_raw(w, k.p, k.n);
                nested++;
            }
        }
        if (rc)
            return rc;
        sw_mpw_close_array(w, mark, nested);
    } else if (o.type == SW_MP_ARRAY) {
        sw_span_t x;
        uint32_t nested = 0;
        size_t at = off;
        sw_mpw_array(w, 2);
        sw_mpw_array(w, o.len);
        for (uint32_t j = 0; j < o.len; j++) {
            if ((rc = item_at(v, at, &x)) != 0)
                return rc;
            at += x.n;
            if (is_container(x))
                sw_mpw_nil(w);
            else
                sw_mpw_raw(w, x.p, x.n);
        }
        size_t mark = sw_mpw_mark(w);
        at = off;
        for (uint32_t j = 0; j < o.len; j++) {
            if ((rc = item_at(v, at, &x)) != 0)
                return rc;
            at += x.n;
            if (is_container(x)) {
                sw_mpw_uint(w, j);
                nested++;
            }
        }
        sw_mpw_close_array(w, mark, nested);
    } else {
        sw_mpw_raw(w, v.p, v.n);
    }
    return sw_mpw_error(w);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Paths

int sw_cfg_path_dotted(sw_cfg_path_t *path, const char *dotted)
{
    if (!path)
        return SW_EINVAL;
    path->len = 0;
    if (!dotted)
        return SW_EINVAL;
    if (!*dotted)
        return 0; // the root
    const char *s = dotted;
    for (;;) {
        const char *e = s;
        while (*e && *e != '.')
            e++;
        if (e == s) {
            path->len = 0;
            return SW_EINVAL;
        }
        if (path->len == SW_CFG_MAX_PATH) {
            path->len = 0;
            return SW_ETOOBIG;
        }
        sw_cfg_key_t *k = &path->k[path->len++];
        k->s = s;
        k->n = (size_t)(e - s);
        k->idx = 0;
        if (!*e)
            return 0;
        s = e + 1;
    }
}

static int path_mp(sw_cfg_path_t *path, const void *p, size_t n)
{
    sw_mpr_t r;
    uint32_t items;
    sw_mpr_init(&r, p, n);
    if (!sw_mpr_array(&r, &items))
        return r.err == SW_ETYPE ? SW_EINVAL : r.err;
    if (items > SW_CFG_MAX_PATH)
        return SW_ETOOBIG;
    for (uint32_t j = 0; j < items; j++) {
        sw_mp_obj_t o;
        sw_cfg_key_t *k = &path->k[j];
        if (sw_mpr_next(&r, &o))
            return r.err;
        if (o.type == SW_MP_STR) {
            if (o.len == 0)
                return SW_EINVAL;
            k->s = (const char *)o.v.p;
            k->n = o.len;
            k->idx = 0;
        } else if (sw_mp_obj_i64(&o, &k->idx) && k->idx >= 0) {
            k->s = NULL;
            k->n = 0;
        } else {
            return SW_EINVAL; // negative or huge index, or not a str/int
        }
    }
    if (!sw_mpr_done(&r))
        return SW_EPROTO; // bytes after the array
    path->len = (uint8_t)items;
    return 0;
}

int sw_cfg_path_mp(sw_cfg_path_t *path, const void *p, size_t n)
{
    if (!path)
        return SW_EINVAL;
    path->len = 0;
    if (!p)
        return SW_EPROTO;
    return path_mp(path, p, n);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Typed access by dotted path

static bool get_dotted(const sw_cfg_t *c, const char *dotted, sw_mp_obj_t *o)
{
    sw_cfg_path_t path;
    sw_span_t v;
    size_t hl;
    return sw_cfg_path_dotted(&path, dotted) == 0 && sw_cfg_get(c, &path, &v) == 0 &&
           head_at(v, 0, o, &hl) == 0;
}

int64_t sw_cfg_int(const sw_cfg_t *c, const char *dotted, int64_t dflt)
{
    sw_mp_obj_t o;
    int64_t v;
    return get_dotted(c, dotted, &o) && sw_mp_obj_i64(&o, &v) ? v : dflt;
}

bool sw_cfg_bool(const sw_cfg_t *c, const char *dotted, bool dflt)
{
    sw_mp_obj_t o;
    return get_dotted(c, dotted, &o) && o.type == SW_MP_BOOL ? o.v.b : dflt;
}

bool sw_cfg_str(const sw_cfg_t *c, const char *dotted, const char *dflt, sw_span_t *out)
{
    sw_mp_obj_t o;
    if (get_dotted(c, dotted, &o) && o.type == SW_MP_STR) {
        out->p = o.v.p;
        out->n = o.len;
        return true;
    }
    out->p = (const uint8_t *)dflt;
    out->n = dflt ? strlen(dflt) : 0;
    return false;
}

static int set_dotted(sw_cfg_t *c, const char *dotted, edit_t *e)
{
    sw_cfg_path_t path;
    int rc = sw_cfg_path_dotted(&path, dotted);
    if (rc)
        return rc;
    e->path = &path;
    e->op = OP_SET;
    return edit_run(c, e);
}

int sw_cfg_set_int(sw_cfg_t *c, const char *dotted, int64_t v)
{
    uint8_t buf[9];
    edit_t e = {0};
    sw_mpw_init(&e.w, buf, sizeof buf);
    sw_mpw_int(&e.w, v);
    e.raw = buf;
    e.rawn = e.w.len;
    return set_dotted(c, dotted, &e);
}

int sw_cfg_set_bool(sw_cfg_t *c, const char *dotted, bool v)
{
    uint8_t buf[1] = {v ? 0xc3 : 0xc2};
    edit_t e = {.raw = buf, .rawn = 1};
    return set_dotted(c, dotted, &e);
}

int sw_cfg_set_str(sw_cfg_t *c, const char *dotted, const char *s, size_t n)
{
    if (!s && n)
        return SW_EINVAL;
    if (n > UINT32_MAX)
        return SW_ETOOBIG;
    edit_t e = {.str = s ? s : "", .strn = n};
    return set_dotted(c, dotted, &e);
}
