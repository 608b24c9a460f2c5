// Fuzz target: the config tree. Input = [cap][doc length lo, hi][doc bytes][script]: the doc is
// loaded (if it is a valid map), then each script op (set/del/get/part/merge/typed/path parse)
// takes its operands from the bytes that follow. After every op the tree must be one valid map
// within cap; a failed edit must leave its bytes as they were; a successful set must read back;
// a successful delete must be gone; a part must be valid MsgPack.
#include <string.h>

#include "swarm/cfg.h"

#define MAXCAP 4096
static uint8_t mem_a[MAXCAP], mem_b[MAXCAP], before[MAXCAP], part[MAXCAP], tmp[MAXCAP];

static const char *const names[] = {"a", "b", "c", "wdt", "t", "s", "n", "apps", "x", "1"};
#define NNAMES (sizeof names / sizeof *names)

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static unsigned byte(in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

// A path of 0..4 elements: names, indices 0..7, or up to 3 raw input bytes as a key.
static void gen_path(in_t *in, sw_cfg_path_t *path)
{
    unsigned b = byte(in);
    path->len = (uint8_t)(b % 5);
    for (unsigned i = 0; i < path->len; i++) {
        unsigned e = byte(in);
        sw_cfg_key_t *k = &path->k[i];
        if (e & 0x80) {
            k->s = NULL;
            k->n = 0;
            k->idx = (e & 0x40) ? -1 : (int64_t)(e & 7);
        } else if (e & 0x40) {
            size_t n = 1 + (e & 3) % (in->n ? in->n : 1);
            if (n > in->n)
                n = in->n;
            k->s = (const char *)in->p;
            k->n = n;
            k->idx = 0;
            in->p += n;
            in->n -= n;
        } else {
            k->s = names[e % NNAMES];
            k->n = strlen(k->s);
            k->idx = 0;
        }
    }
}

// A dotted form of the same kind of path.
static const char *gen_dotted(in_t *in, char *buf, size_t cap)
{
    unsigned n = byte(in) % 5;
    size_t at = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *s = names[byte(in) % NNAMES];
        size_t m = strlen(s);
        if (at + m + 2 > cap)
            break;
        if (i)
            buf[at++] = '.';
        memcpy(buf + at, s, m);
        at += m;
        buf[at] = 0;
    }
    return buf;
}

// An encoded value: raw input bytes (maybe invalid), or a small valid item built from them.
static size_t gen_value(in_t *in, uint8_t *out, size_t cap)
{
    unsigned b = byte(in);
    sw_mpw_t w;
    sw_mpw_init(&w, out, cap);
    switch (b & 7) {
    case 0: case 1: {
        size_t n = byte(in);
        if (n > in->n)
            n = in->n;
        memcpy(out, in->p, n);
        in->p += n;
        in->n -= n;
        return n;
    }
    case 2: sw_mpw_int(&w, (int64_t)(int8_t)byte(in) * (int64_t)(byte(in) + 1) * 1000003); break;
    case 3: {
        size_t n = byte(in) % 64;
        char s[64];
        memset(s, 'v', sizeof s);
        sw_mpw_str(&w, s, n);
        break;
    }
    case 4: sw_mpw_map(&w, 0); break;
    case 5: sw_mpw_array(&w, 2); sw_mpw_nil(&w); sw_mpw_map(&w, 1); sw_mpw_cstr(&w, "k"); sw_mpw_bool(&w, 1); break;
    case 6: sw_mpw_map(&w, 1); sw_mpw_cstr(&w, names[byte(in) % NNAMES]); sw_mpw_int(&w, b); break;
    default: sw_mpw_nil(&w); break;
    }
    return w.len;
}

static void check_tree(const sw_cfg_t *c)
{
    if (c->len > c->cap || c->len == 0 || sw_mp_check(c->doc, c->len) != 0)
        __builtin_trap();
    uint8_t b = c->doc[0];
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    size_t cap = 1 + byte(&in) * 16;
    if (cap > MAXCAP)
        cap = MAXCAP;
    sw_cfg_t c;
    if (sw_cfg_init(&c, mem_a, mem_b, cap))
        __builtin_trap();
    size_t dn = byte(&in);
    dn |= (size_t)byte(&in) << 8;
    if (dn > in.n)
        dn = in.n;
    (void)sw_cfg_load(&c, in.p, dn);
    in.p += dn;
    in.n -= dn;
    check_tree(&c);

    for (int ops = 0; in.n && ops < 200; ops++) {
        sw_cfg_path_t path;
        sw_span_t v;
        size_t blen = c.len;
        uint32_t ver = c.version;
        memcpy(before, c.doc, blen);
        int rc = 0;
        bool edit = false;
        unsigned op = byte(&in) % 9;
        switch (op) {
        case 0: { // set
            gen_path(&in, &path);
            size_t vn = gen_value(&in, tmp, sizeof tmp);
            rc = sw_cfg_set(&c, &path, tmp, vn);
            edit = true;
            if (rc == 0 && (sw_cfg_get(&c, &path, &v) || v.n != vn || memcmp(v.p, tmp, vn)))
                __builtin_trap();
            break;
        }
        case 1: // delete
            gen_path(&in, &path);
            rc = sw_cfg_del(&c, &path);
            edit = true;
            // a deleted key is gone (a deleted array item is replaced by the next one)
            if (rc == 0 && path.k[path.len - 1].s && sw_cfg_get(&c, &path, &v) != SW_ENOENT)
                __builtin_trap();
            break;
        case 2: { // copy a value of the tree to another place (val points into the tree)
            sw_cfg_path_t to;
            gen_path(&in, &path);
            gen_path(&in, &to);
            if (sw_cfg_get(&c, &path, &v) == 0) {
                rc = sw_cfg_set(&c, &to, v.p, v.n);
                edit = true;
            }
            break;
        }
        case 3: { // part form
            sw_mpw_t w;
            gen_path(&in, &path);
            sw_mpw_init(&w, part, 1 + byte(&in) * 16);
            rc = sw_cfg_write_part(&c, &path, &w);
            if (rc == 0 && sw_mp_check(part, w.len) != 0)
                __builtin_trap();
            if (rc == SW_ENOENT && w.len != 0)
                __builtin_trap();
            break;
        }
        case 4: { // merge a value (often not a map)
            size_t vn = gen_value(&in, tmp, sizeof tmp);
            rc = sw_cfg_merge(&c, tmp, vn);
            edit = true;
            break;
        }
        case 5: { // merge a part of the tree into the tree
            gen_path(&in, &path);
            if (sw_cfg_get(&c, &path, &v) == 0) {
                memcpy(tmp, v.p, v.n);
                rc = sw_cfg_merge(&c, tmp, v.n);
                edit = true;
            }
            break;
        }
        case 6: { // typed access
            char d[64];
            const char *dotted = gen_dotted(&in, d, sizeof d);
            sw_span_t s;
            unsigned k = byte(&in);
            (void)sw_cfg_int(&c, dotted, 0);
            (void)sw_cfg_bool(&c, dotted, false);
            (void)sw_cfg_str(&c, dotted, "x", &s);
            if (k % 3 == 0)
                rc = sw_cfg_set_int(&c, dotted, (int64_t)k << 40);
            else if (k % 3 == 1)
                rc = sw_cfg_set_bool(&c, dotted, k & 8);
            else
                rc = sw_cfg_set_str(&c, dotted, d, strlen(d));
            edit = true;
            if (rc == 0 && k % 3 == 0 && sw_cfg_int(&c, dotted, 1) != (int64_t)k << 40)
                __builtin_trap();
            break;
        }
        case 7: { // a path as MsgPack from the input
            size_t n = byte(&in) % 24;
            if (n > in.n)
                n = in.n;
            memcpy(tmp, in.p, n);
            in.p += n;
            in.n -= n;
            if (sw_cfg_path_mp(&path, tmp, n) == 0) {
                if (path.len > SW_CFG_MAX_PATH)
                    __builtin_trap();
                (void)sw_cfg_get(&c, &path, &v);
                rc = sw_cfg_del(&c, &path);
                edit = true;
            }
            break;
        }
        default: // reload the tree from its own bytes
            memcpy(tmp, c.doc, c.len);
            rc = sw_cfg_load(&c, tmp, c.len);
            if (rc)
                __builtin_trap();
            break;
        }
        check_tree(&c);
        if (edit && rc != 0) {
            if (c.len != blen || c.version != ver || memcmp(c.doc, before, blen) != 0)
                __builtin_trap();
        }
        if (edit && rc == 0 && c.version != ver + 1)
            __builtin_trap();
    }
    return 0;
}
