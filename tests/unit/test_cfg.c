// Config tree: load/get/set/del/merge byte-exact, the part form, typed access, path parsing,
// atomicity of failed edits (the tree's bytes never change), and a property test of random
// set/del/merge sequences against a small reference model of the tree.
#include "testutil.h"

#include "swarm/cfg.h"

#define CAP 4096
static uint8_t mem_a[CAP], mem_b[CAP];

static sw_cfg_t cfg_new(size_t cap)
{
    sw_cfg_t c;
    assert_int_equal(sw_cfg_init(&c, mem_a, mem_b, cap), 0);
    return c;
}

static void load_hex(sw_cfg_t *c, const char *hex)
{
    uint8_t buf[CAP];
    size_t n = tu_hex(hex, buf, sizeof buf);
    assert_int_equal(sw_cfg_load(c, buf, n), 0);
}

static void doc_is(const sw_cfg_t *c, const char *hex)
{
    assert_int_equal(sw_mp_check(c->doc, c->len), 0);
    tu_assert_bytes(c->doc, c->len, hex);
}

static sw_cfg_path_t P(const char *dotted)
{
    sw_cfg_path_t p;
    assert_int_equal(sw_cfg_path_dotted(&p, dotted), 0);
    return p;
}

// A path with integer elements: "a", "#2", "b" → ["a", 2, "b"].
static sw_cfg_path_t PX(int n, ...)
{
    sw_cfg_path_t p = {.len = (uint8_t)n};
    va_list ap;
    va_start(ap, n);
    for (int k = 0; k < n; k++) {
        const char *s = va_arg(ap, const char *);
        if (s[0] == '#') {
            p.k[k].s = NULL;
            p.k[k].idx = atoll(s + 1);
        } else {
            p.k[k].s = s;
            p.k[k].n = strlen(s);
        }
    }
    va_end(ap);
    return p;
}

static int set_hex(sw_cfg_t *c, sw_cfg_path_t p, const char *hex)
{
    uint8_t buf[CAP];
    size_t n = tu_hex(hex, buf, sizeof buf);
    return sw_cfg_set(c, &p, buf, n);
}

static void get_is(const sw_cfg_t *c, sw_cfg_path_t p, const char *hex)
{
    sw_span_t v;
    assert_int_equal(sw_cfg_get(c, &p, &v), 0);
    tu_assert_bytes(v.p, v.n, hex);
}

static int get_rc(const sw_cfg_t *c, sw_cfg_path_t p)
{
    sw_span_t v;
    return sw_cfg_get(c, &p, &v);
}

// Snapshot of the tree, to prove a failed edit changed nothing.
typedef struct {
    uint8_t bytes[CAP];
    size_t len;
    uint32_t version;
    const uint8_t *doc;
} snap_t;

static void snap(const sw_cfg_t *c, snap_t *s)
{
    memcpy(s->bytes, c->doc, c->len);
    s->len = c->len;
    s->version = c->version;
    s->doc = c->doc;
}

static void unchanged(const sw_cfg_t *c, const snap_t *s)
{
    assert_int_equal(c->len, s->len);
    assert_int_equal(c->version, s->version);
    assert_ptr_equal(c->doc, s->doc);
    assert_memory_equal(c->doc, s->bytes, s->len);
}

// The v0-style example tree used by several tests.
#define DOC "85 a1 61 01 a1 62 81 a1 63 02 a1 64 94 01 81 a1 78 01 91 02 a1 73 " \
            "a1 65 a3 73 74 72 a1 6e c0"
// {"a":1,"b":{"c":2},"d":[1,{"x":1},[2],"s"],"e":"str","n":nil}

//////////////////////////////////////////////////////////////////////////////////////////////

static void test_init_load(void **state)
{
    (void)state;
    sw_cfg_t c;
    assert_int_equal(sw_cfg_init(&c, mem_a, mem_b, 0), SW_EINVAL);
    assert_int_equal(sw_cfg_init(&c, mem_a, mem_a, 10), SW_EINVAL);
    assert_int_equal(sw_cfg_init(&c, NULL, mem_b, 10), SW_EINVAL);
    c = cfg_new(1);
    doc_is(&c, "80");
    assert_int_equal(c.version, 0);

    c = cfg_new(CAP);
    load_hex(&c, DOC);
    doc_is(&c, DOC);
    assert_int_equal(c.version, 1);

    snap_t s;
    snap(&c, &s);
    uint8_t buf[64];
    size_t n = tu_hex("93 01 02 03", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&c, buf, n), SW_ETYPE); // not a map
    n = tu_hex("01", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&c, buf, n), SW_ETYPE);
    n = tu_hex("82 a1 61 01", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&c, buf, n), SW_EPROTO); // truncated
    n = tu_hex("80 80", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&c, buf, n), SW_EPROTO); // two items
    assert_int_equal(sw_cfg_load(&c, buf, 0), SW_EPROTO);
    assert_int_equal(sw_cfg_load(&c, NULL, 0), SW_EPROTO);
    n = tu_hex("c1", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&c, buf, n), SW_EPROTO);
    unchanged(&c, &s);

    // too big for cap
    sw_cfg_t small = cfg_new(3);
    n = tu_hex("81 a1 61 01", buf, sizeof buf);
    assert_int_equal(sw_cfg_load(&small, buf, n), SW_ETOOBIG);
    doc_is(&small, "80");
    small = cfg_new(4);
    assert_int_equal(sw_cfg_load(&small, buf, n), 0); // exactly cap
    doc_is(&small, "81 a1 61 01");

    // nesting beyond SW_MP_MAX_DEPTH
    c = cfg_new(CAP);
    uint8_t deep[SW_MP_MAX_DEPTH + 3]; // {"": [[[…1…]]]}: a map and SW_MP_MAX_DEPTH arrays
    deep[0] = 0x81;
    deep[1] = 0xa0;
    for (int k = 2; k < SW_MP_MAX_DEPTH + 2; k++)
        deep[k] = 0x91;
    deep[SW_MP_MAX_DEPTH + 2] = 0x01;
    assert_int_equal(sw_cfg_load(&c, deep, sizeof deep), SW_EDEPTH);
    doc_is(&c, "80");
}

static void test_get(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    load_hex(&c, DOC);
    get_is(&c, P(""), DOC);
    get_is(&c, P("a"), "01");
    get_is(&c, P("b"), "81 a1 63 02");
    get_is(&c, P("b.c"), "02");
    get_is(&c, P("e"), "a3 73 74 72");
    get_is(&c, P("n"), "c0");
    get_is(&c, PX(2, "d", "#0"), "01");
    get_is(&c, PX(3, "d", "#1", "x"), "01");
    get_is(&c, PX(3, "d", "#2", "#0"), "02");
    get_is(&c, PX(2, "d", "#3"), "a1 73");
    assert_int_equal(get_rc(&c, P("z")), SW_ENOENT);
    assert_int_equal(get_rc(&c, P("b.z")), SW_ENOENT);
    assert_int_equal(get_rc(&c, PX(2, "d", "#4")), SW_ENOENT);
    assert_int_equal(get_rc(&c, PX(2, "d", "#-1")), SW_ENOENT);
    assert_int_equal(get_rc(&c, P("a.b")), SW_ETYPE);   // key on a scalar
    assert_int_equal(get_rc(&c, P("n.b")), SW_ETYPE);   // key on nil
    assert_int_equal(get_rc(&c, P("d.x")), SW_ETYPE);   // key on an array
    assert_int_equal(get_rc(&c, PX(2, "b", "#0")), SW_ETYPE); // index on a map
    assert_int_equal(get_rc(&c, PX(1, "#0")), SW_ETYPE);
    assert_int_equal(get_rc(&c, P("z.y")), SW_ENOENT);

    // keys of other types are skipped when matching; the first of duplicate keys wins
    // {1: "int", "1": "str", "k": 1, "k": 2, b"k": 3}
    load_hex(&c, "85 01 a3 69 6e 74 a1 31 a3 73 74 72 a1 6b 01 a1 6b 02 c4 01 6b 03");
    get_is(&c, P("1"), "a3 73 74 72");
    get_is(&c, P("k"), "01");
    // a key in a longer string encoding still matches
    load_hex(&c, "81 d9 01 6b 05");
    get_is(&c, P("k"), "05");
}

static void test_set(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    assert_int_equal(set_hex(&c, P("a"), "01"), 0);
    doc_is(&c, "81 a1 61 01");
    assert_int_equal(c.version, 1);
    // missing map levels are created
    assert_int_equal(set_hex(&c, P("b.c.d"), "a1 78"), 0);
    doc_is(&c, "82 a1 61 01 a1 62 81 a1 63 81 a1 64 a1 78");
    // replace in place: order kept
    assert_int_equal(set_hex(&c, P("a"), "c3"), 0);
    doc_is(&c, "82 a1 61 c3 a1 62 81 a1 63 81 a1 64 a1 78");
    // add to an inner map
    assert_int_equal(set_hex(&c, P("b.e"), "90"), 0);
    doc_is(&c, "82 a1 61 c3 a1 62 82 a1 63 81 a1 64 a1 78 a1 65 90");
    // a container replaces a scalar and vice versa
    assert_int_equal(set_hex(&c, P("a"), "81 a1 7a 00"), 0);
    assert_int_equal(set_hex(&c, P("b.c"), "07"), 0);
    doc_is(&c, "82 a1 61 81 a1 7a 00 a1 62 82 a1 63 07 a1 65 90");
    assert_int_equal(c.version, 6);

    // arrays: replace, append at len, nested paths through an array
    assert_int_equal(set_hex(&c, PX(2, "b", "e"), "92 01 02"), 0);
    assert_int_equal(set_hex(&c, PX(3, "b", "e", "#1"), "0a"), 0);
    get_is(&c, P("b.e"), "92 01 0a");
    assert_int_equal(set_hex(&c, PX(3, "b", "e", "#2"), "0b"), 0);
    get_is(&c, P("b.e"), "93 01 0a 0b");
    assert_int_equal(set_hex(&c, PX(3, "b", "e", "#5"), "0b"), SW_ERANGE);
    assert_int_equal(set_hex(&c, PX(3, "b", "e", "#-1"), "0b"), SW_ERANGE);
    // appending a level that does not exist yet: created as a map
    assert_int_equal(set_hex(&c, PX(4, "b", "e", "#3", "q"), "01"), 0);
    get_is(&c, P("b.e"), "94 01 0a 0b 81 a1 71 01");
    assert_int_equal(set_hex(&c, PX(4, "b", "e", "#3", "r"), "02"), 0);
    get_is(&c, P("b.e"), "94 01 0a 0b 82 a1 71 01 a1 72 02");
    // an array of 16+ items (array16 header) is rebuilt correctly
    for (int k = 4; k < 20; k++) {
        char idx[8];
        snprintf(idx, sizeof idx, "#%d", k);
        assert_int_equal(set_hex(&c, PX(3, "b", "e", idx), "c0"), 0);
    }
    sw_span_t v;
    sw_cfg_path_t be = P("b.e");
    assert_int_equal(sw_cfg_get(&c, &be, &v), 0);
    assert_int_equal(v.p[0], 0xdc);
    assert_int_equal(v.p[2], 20);
    get_is(&c, PX(3, "b", "e", "#19"), "c0");
    get_is(&c, PX(4, "b", "e", "#3", "r"), "02");

    // errors leave the tree as it was
    snap_t s;
    snap(&c, &s);
    assert_int_equal(set_hex(&c, P("a.w.y"), "01"), 0); // a is a map: fine
    get_is(&c, P("a"), "82 a1 7a 00 a1 77 81 a1 79 01");
    snap(&c, &s);
    assert_int_equal(set_hex(&c, P("a.z.y"), "01"), SW_ETYPE); // a.z is 0
    assert_int_equal(set_hex(&c, P("b.c.x"), "01"), SW_ETYPE); // key through a scalar
    assert_int_equal(set_hex(&c, P("b.e.x"), "01"), SW_ETYPE); // key through an array
    assert_int_equal(set_hex(&c, PX(2, "b", "#0"), "01"), SW_ETYPE); // index on a map
    assert_int_equal(set_hex(&c, PX(3, "b", "c", "#0"), "01"), SW_ETYPE); // index on a scalar
    assert_int_equal(set_hex(&c, PX(3, "new", "#0", "x"), "01"), SW_ENOENT); // no array there
    assert_int_equal(set_hex(&c, PX(2, "new", "#0"), "01"), SW_ENOENT);
    assert_int_equal(set_hex(&c, PX(4, "b", "e", "#20", "#0"), "01"), SW_ENOENT);
    assert_int_equal(set_hex(&c, PX(4, "b", "e", "#21", "x"), "01"), SW_ERANGE);
    assert_int_equal(set_hex(&c, P(""), "80"), SW_EINVAL); // the root: use load
    assert_int_equal(set_hex(&c, P("x"), "92 01"), SW_EPROTO); // not one item
    assert_int_equal(set_hex(&c, P("x"), "01 02"), SW_EPROTO);
    assert_int_equal(set_hex(&c, P("x"), ""), SW_EPROTO);
    sw_cfg_path_t px = P("x");
    assert_int_equal(sw_cfg_set(&c, &px, NULL, 0), SW_EPROTO);
    sw_cfg_path_t bad = {.len = SW_CFG_MAX_PATH + 1};
    assert_int_equal(sw_cfg_set(&c, &bad, "\x01", 1), SW_EINVAL);
    assert_int_equal(get_rc(&c, bad), SW_EINVAL);
    unchanged(&c, &s);
}

static void test_set_keeps_foreign_keys_and_drops_duplicates(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    // {1: "int", "k": 1, "k": 2, "z": 0}
    load_hex(&c, "84 01 a3 69 6e 74 a1 6b 01 a1 6b 02 a1 7a 00");
    assert_int_equal(set_hex(&c, P("k"), "05"), 0);
    doc_is(&c, "83 01 a3 69 6e 74 a1 6b 05 a1 7a 00");
    load_hex(&c, "84 01 a3 69 6e 74 a1 6b 01 a1 6b 02 a1 7a 00");
    assert_int_equal(sw_cfg_del(&c, (sw_cfg_path_t[]){P("k")}), 0);
    doc_is(&c, "82 01 a3 69 6e 74 a1 7a 00");
    assert_int_equal(get_rc(&c, P("k")), SW_ENOENT);
    // a string key "1" is not the integer key 1
    assert_int_equal(set_hex(&c, P("1"), "c2"), 0);
    doc_is(&c, "83 01 a3 69 6e 74 a1 7a 00 a1 31 c2");
}

static void test_set_depth_limit(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    // a value nested SW_MP_MAX_DEPTH - 1 deep fits under one key, not under two
    uint8_t val[SW_MP_MAX_DEPTH];
    size_t n = 0;
    for (int k = 0; k < SW_MP_MAX_DEPTH - 1; k++)
        val[n++] = 0x91;
    val[n++] = 0x01;
    assert_int_equal(sw_cfg_set(&c, (sw_cfg_path_t[]){P("a")}, val, n), 0);
    snap_t s;
    snap(&c, &s);
    assert_int_equal(sw_cfg_set(&c, (sw_cfg_path_t[]){P("b.c")}, val, n), SW_EDEPTH);
    unchanged(&c, &s);
    assert_int_equal(sw_cfg_set(&c, (sw_cfg_path_t[]){P("b")}, val, n), 0);
}

static void test_del(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    load_hex(&c, DOC);
    uint32_t v0 = c.version;
    sw_cfg_path_t p = P("b.c");
    assert_int_equal(sw_cfg_del(&c, &p), 0);
    get_is(&c, P("b"), "80"); // the emptied map stays
    p = PX(2, "d", "#1");
    assert_int_equal(sw_cfg_del(&c, &p), 0);
    get_is(&c, P("d"), "93 01 91 02 a1 73");
    p = PX(3, "d", "#1", "#0");
    assert_int_equal(sw_cfg_del(&c, &p), 0);
    get_is(&c, P("d"), "93 01 90 a1 73");
    p = P("a");
    assert_int_equal(sw_cfg_del(&c, &p), 0);
    doc_is(&c, "84 a1 62 80 a1 64 93 01 90 a1 73 a1 65 a3 73 74 72 a1 6e c0");
    assert_int_equal(c.version, v0 + 4);

    snap_t s;
    snap(&c, &s);
    p = P("a");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ENOENT);
    p = P("b.c");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ENOENT);
    p = P("zz.c");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ENOENT);
    p = PX(2, "d", "#3");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ENOENT);
    p = PX(2, "d", "#-1");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ENOENT);
    p = P("e.x");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ETYPE);
    p = P("d.x");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ETYPE);
    p = PX(2, "b", "#0");
    assert_int_equal(sw_cfg_del(&c, &p), SW_ETYPE);
    p = P("");
    assert_int_equal(sw_cfg_del(&c, &p), SW_EINVAL);
    unchanged(&c, &s);
}

// A tree close to cap: a set that would overflow is refused and changes nothing; one that fits
// exactly succeeds.
static void test_atomic_when_full(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(64);
    char big[64];
    memset(big, 'x', sizeof big);
    // {"s": "xxx…"}: 1 + 2 + 2 + 55 = 60 of 64 bytes
    assert_int_equal(sw_cfg_set_str(&c, "s", big, 55), 0);
    assert_int_equal(c.len, 60);
    snap_t s;
    snap(&c, &s);
    assert_int_equal(set_hex(&c, P("t"), "a4 61 62 63 64"), SW_ETOOBIG); // would be 67
    unchanged(&c, &s);
    assert_int_equal(sw_cfg_set_str(&c, "s", big, 60), SW_ETOOBIG); // would be 65
    unchanged(&c, &s);
    assert_int_equal(sw_cfg_set_int(&c, "t.u.v", 1), SW_ETOOBIG); // created levels count too
    unchanged(&c, &s);
    uint8_t m[16];
    size_t n = tu_hex("81 a1 73 a4 61 62 63 64", m, sizeof m); // would be 67 again
    assert_int_equal(sw_cfg_merge(&c, m, n), 0);                // replacing shrinks: fits
    n = tu_hex("81 a1 7a a1 7a", m, sizeof m);
    snap(&c, &s);
    assert_int_equal(set_hex(&c, P("s"), "d9 37"), SW_EPROTO);
    assert_int_equal(sw_cfg_set_str(&c, "s", big, 56), 0);
    assert_int_equal(c.len, 61);
    snap(&c, &s);
    assert_int_equal(sw_cfg_merge(&c, m, n), SW_ETOOBIG); // would be 65
    unchanged(&c, &s);
    assert_int_equal(set_hex(&c, P("t"), "01"), 0); // exactly 64
    assert_int_equal(c.len, 64);
    snap(&c, &s);
    assert_int_equal(set_hex(&c, P("u"), "c0"), SW_ETOOBIG);
    assert_int_equal(sw_cfg_set_bool(&c, "t", true), 0); // same size: fits
    assert_int_equal(sw_cfg_int(&c, "t", 0), 0);
    assert_true(sw_cfg_bool(&c, "t", false));
    sw_cfg_path_t p = P("s");
    assert_int_equal(sw_cfg_del(&c, &p), 0);
    doc_is(&c, "81 a1 74 c3");
}

static void test_atomic_every_cap(void **state)
{
    (void)state;
    // The same edits at every capacity: each either succeeds with the same bytes as with room to
    // spare, or fails with SW_ETOOBIG and leaves the tree byte for byte as it was.
    sw_cfg_t ref = cfg_new(CAP);
    load_hex(&ref, DOC);
    uint8_t base[CAP];
    size_t base_n = ref.len;
    memcpy(base, ref.doc, base_n);

    struct {
        sw_cfg_path_t p;
        const char *val; // NULL: delete
    } edits[] = {
        {PX(3, "b", "new", "deeper"), "a5 68 65 6c 6c 6f"},
        {PX(3, "d", "#4", "x"), "cd 01 00"},
        {PX(1, "e"), "db 00 00 00 03 61 62 63"},
        {PX(3, "d", "#1", "x"), NULL},
        {PX(1, "q"), "81 a1 61 81 a1 62 91 c0"},
    };
    uint8_t want[5][CAP];
    size_t want_n[5];
    for (size_t e = 0; e < 5; e++) {
        int rc = edits[e].val ? set_hex(&ref, edits[e].p, edits[e].val) : sw_cfg_del(&ref, &edits[e].p);
        assert_int_equal(rc, 0);
        memcpy(want[e], ref.doc, ref.len);
        want_n[e] = ref.len;
    }
    for (size_t cap = base_n; cap < want_n[4] + 8; cap++) {
        sw_cfg_t c = cfg_new(cap);
        assert_int_equal(sw_cfg_load(&c, base, base_n), 0);
        size_t done = 0;
        for (size_t e = 0; e < 5; e++) {
            snap_t s;
            snap(&c, &s);
            int rc = edits[e].val ? set_hex(&c, edits[e].p, edits[e].val) : sw_cfg_del(&c, &edits[e].p);
            if (rc == 0) {
                assert_true(want_n[e] <= cap);
                assert_int_equal(c.len, want_n[e]);
                assert_memory_equal(c.doc, want[e], want_n[e]);
                assert_int_equal(c.version, s.version + 1);
                done++;
            } else {
                assert_int_equal(rc, SW_ETOOBIG);
                assert_true(want_n[e] > cap);
                unchanged(&c, &s);
                break; // later edits assume this one
            }
        }
        bool room = true;
        for (size_t e = 0; e < 5; e++)
            room = room && want_n[e] <= cap;
        if (room)
            assert_int_equal(done, 5);
    }
}

static void test_merge(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    load_hex(&c, "84 a1 61 01 a1 62 82 a1 63 02 a1 64 03 a1 65 92 01 02 a1 66 81 a1 67 01");
    uint8_t buf[256];
    size_t n = tu_hex("84 a1 62 82 a1 64 04 a1 68 05 a1 65 91 03 a1 66 07 a1 69 81 a1 6a 01",
                      buf, sizeof buf);
    uint32_t v = c.version;
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    // maps merge key by key; arrays and scalars replace; new keys come last
    doc_is(&c, "85 a1 61 01 a1 62 83 a1 63 02 a1 64 04 a1 68 05 a1 65 91 03 a1 66 07 a1 69 81 a1 6a 01");
    assert_int_equal(c.version, v + 1);
    // merging the same map again changes nothing
    uint8_t before[CAP];
    size_t before_n = c.len;
    memcpy(before, c.doc, before_n);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    assert_memory_equal(c.doc, before, before_n);
    // a map replaces a scalar, a scalar replaces a map, {} merges to nothing
    n = tu_hex("83 a1 61 81 a1 7a 01 a1 62 c0 a1 69 80", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    doc_is(&c, "85 a1 61 81 a1 7a 01 a1 62 c0 a1 65 91 03 a1 66 07 a1 69 81 a1 6a 01");
    n = tu_hex("80", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    doc_is(&c, "85 a1 61 81 a1 7a 01 a1 62 c0 a1 65 91 03 a1 66 07 a1 69 81 a1 6a 01");

    // duplicates: the first of the new map wins, and is added once; foreign keys match by bytes
    load_hex(&c, "82 01 02 a1 6b 00");
    n = tu_hex("84 a1 6b 01 a1 6b 02 a1 71 03 a1 71 04", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    doc_is(&c, "83 01 02 a1 6b 01 a1 71 03");
    n = tu_hex("82 01 05 02 06", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    doc_is(&c, "84 01 05 a1 6b 01 a1 71 03 02 06");
    // duplicates in the tree: the first takes the new value, later ones go
    load_hex(&c, "83 a1 6b 00 a1 6b 01 a1 7a 00");
    n = tu_hex("81 a1 6b 09", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), 0);
    doc_is(&c, "82 a1 6b 09 a1 7a 00");

    // errors
    snap_t s;
    snap(&c, &s);
    n = tu_hex("91 01", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), SW_ETYPE);
    n = tu_hex("81 a1 61", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), SW_EPROTO);
    n = tu_hex("80 80", buf, sizeof buf);
    assert_int_equal(sw_cfg_merge(&c, buf, n), SW_EPROTO);
    assert_int_equal(sw_cfg_merge(&c, NULL, 0), SW_EPROTO);
    unchanged(&c, &s);

    sw_cfg_t small = cfg_new(16);
    load_hex(&small, "82 a1 61 01 a1 62 81 a1 63 02"); // 10 bytes
    snap(&small, &s);
    n = tu_hex("81 a1 62 81 a1 64 a5 68 65 6c 6c 6f", buf, sizeof buf); // +9 bytes
    assert_int_equal(sw_cfg_merge(&small, buf, n), SW_ETOOBIG);
    unchanged(&small, &s);
    n = tu_hex("81 a1 62 81 a1 64 a3 68 65 6c", buf, sizeof buf); // +6 bytes: exactly 16
    assert_int_equal(sw_cfg_merge(&small, buf, n), 0);
    doc_is(&small, "82 a1 61 01 a1 62 82 a1 63 02 a1 64 a3 68 65 6c");
}

static void part_is(const sw_cfg_t *c, sw_cfg_path_t p, const char *hex)
{
    uint8_t out[CAP];
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    assert_int_equal(sw_cfg_write_part(c, &p, &w), 0);
    tu_assert_bytes(out, w.len, hex);
}

static void test_part(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    load_hex(&c, DOC);
    // expected bytes are python-msgpack's packing of MoaT's enc_part results
    part_is(&c, P(""), "92 83 a1 61 01 a1 65 a3 73 74 72 a1 6e c0 92 a1 62 a1 64");
    part_is(&c, P("d"), "92 94 01 c0 c0 a1 73 92 01 02");
    part_is(&c, P("b"), "92 81 a1 63 02 90");
    part_is(&c, PX(2, "d", "#1"), "92 81 a1 78 01 90");
    part_is(&c, PX(2, "d", "#2"), "92 91 02 90");
    part_is(&c, P("a"), "01");
    part_is(&c, P("e"), "a3 73 74 72");
    part_is(&c, P("n"), "c0");
    load_hex(&c, "82 a1 6d 80 a1 6c 90");
    part_is(&c, P(""), "92 80 92 a1 6d a1 6c"); // empty containers count as containers
    part_is(&c, P("m"), "92 80 90");
    part_is(&c, P("l"), "92 90 90");

    // an array of 20 with containers at 0 and 17: 16-bit headers, indices as ints
    uint8_t doc[128];
    size_t n = 0;
    n += tu_hex("81 a1 6c dc 00 14 90", doc + n, sizeof doc - n);
    for (int k = 1; k < 20; k++)
        doc[n++] = k == 17 ? 0x80 : (uint8_t)k;
    assert_int_equal(sw_cfg_load(&c, doc, n), 0);
    part_is(&c, P("l"), "92 dc 00 14 c0 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 c0 12 13 "
                        "92 00 11");

    // errors: nothing written for a missing path; a full writer reports EFULL
    uint8_t out[8];
    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    sw_cfg_path_t p = P("zz");
    assert_int_equal(sw_cfg_write_part(&c, &p, &w), SW_ENOENT);
    assert_int_equal(w.len, 0);
    p = P("l");
    assert_int_equal(sw_cfg_write_part(&c, &p, &w), SW_EFULL);
}

static void test_typed(void **state)
{
    (void)state;
    sw_cfg_t c = cfg_new(CAP);
    // {"wdt": {"t": 10, "s": -3, "on": true}, "name": "node", "f": 1.5, "big": 2^64-1}
    load_hex(&c, "84 a3 77 64 74 83 a1 74 0a a1 73 fd a2 6f 6e c3 a4 6e 61 6d 65 a4 6e 6f 64 65 "
                 "a1 66 cb 3f f8 00 00 00 00 00 00 a3 62 69 67 cf ff ff ff ff ff ff ff ff");
    assert_int_equal(sw_cfg_int(&c, "wdt.t", 99), 10);
    assert_int_equal(sw_cfg_int(&c, "wdt.s", 99), -3);
    assert_int_equal(sw_cfg_int(&c, "wdt.n", 99), 99);   // absent
    assert_int_equal(sw_cfg_int(&c, "wdt.on", 99), 99);  // a bool is not an int
    assert_int_equal(sw_cfg_int(&c, "f", 99), 99);       // nor is a float
    assert_int_equal(sw_cfg_int(&c, "big", 99), 99);     // does not fit int64
    assert_int_equal(sw_cfg_int(&c, "wdt", 99), 99);     // a map
    assert_int_equal(sw_cfg_int(&c, "name.x", 99), 99);  // through a string
    assert_int_equal(sw_cfg_int(&c, "a..b", 99), 99);    // bad path
    assert_int_equal(sw_cfg_int(&c, NULL, 99), 99);
    assert_true(sw_cfg_bool(&c, "wdt.on", false));
    assert_false(sw_cfg_bool(&c, "wdt.off", false));
    assert_true(sw_cfg_bool(&c, "wdt.off", true));
    assert_true(sw_cfg_bool(&c, "wdt.t", true)); // an int is not a bool
    assert_false(sw_cfg_bool(&c, "wdt.t", false));
    sw_span_t s;
    assert_true(sw_cfg_str(&c, "name", "dflt", &s));
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.p, "node", 4);
    assert_true(s.p >= c.doc && s.p < c.doc + c.len); // points into the tree
    assert_false(sw_cfg_str(&c, "nom", "dflt", &s));
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.p, "dflt", 4);
    assert_false(sw_cfg_str(&c, "wdt.t", NULL, &s));
    assert_null(s.p);
    assert_int_equal(s.n, 0);

    assert_int_equal(sw_cfg_set_int(&c, "wdt.t", 300), 0);
    assert_int_equal(sw_cfg_int(&c, "wdt.t", 0), 300);
    get_is(&c, P("wdt.t"), "cd 01 2c");
    assert_int_equal(sw_cfg_set_int(&c, "x.y", INT64_MIN), 0);
    assert_int_equal(sw_cfg_int(&c, "x.y", 0), INT64_MIN);
    assert_int_equal(sw_cfg_set_bool(&c, "wdt.on", false), 0);
    get_is(&c, P("wdt.on"), "c2");
    assert_int_equal(sw_cfg_set_str(&c, "name", "swarm-7", 7), 0);
    get_is(&c, P("name"), "a7 73 77 61 72 6d 2d 37");
    assert_int_equal(sw_cfg_set_str(&c, "empty", NULL, 0), 0);
    get_is(&c, P("empty"), "a0");
    char long_s[300];
    memset(long_s, 'q', sizeof long_s);
    assert_int_equal(sw_cfg_set_str(&c, "long", long_s, sizeof long_s), 0);
    assert_true(sw_cfg_str(&c, "long", NULL, &s));
    assert_int_equal(s.n, sizeof long_s);
    assert_int_equal(sw_cfg_set_str(&c, "x", NULL, 3), SW_EINVAL);
    assert_int_equal(sw_cfg_set_int(&c, "name.x", 1), SW_ETYPE);
    assert_int_equal(sw_cfg_set_int(&c, "", 1), SW_EINVAL);
    assert_int_equal(sw_cfg_set_int(&c, "a.", 1), SW_EINVAL);
    assert_int_equal(sw_cfg_set_bool(&c, "1.2.3.4.5.6.7.8.9", true), SW_ETOOBIG);
    assert_int_equal(sw_mp_check(c.doc, c.len), 0);
}

static void test_path_dotted(void **state)
{
    (void)state;
    sw_cfg_path_t p;
    const char *d = "wdt.t";
    assert_int_equal(sw_cfg_path_dotted(&p, d), 0);
    assert_int_equal(p.len, 2);
    assert_ptr_equal(p.k[0].s, d);
    assert_int_equal(p.k[0].n, 3);
    assert_ptr_equal(p.k[1].s, d + 4);
    assert_int_equal(p.k[1].n, 1);
    assert_int_equal(sw_cfg_path_dotted(&p, ""), 0);
    assert_int_equal(p.len, 0);
    assert_int_equal(sw_cfg_path_dotted(&p, "0"), 0); // a string key, not an index
    assert_non_null(p.k[0].s);
    assert_int_equal(sw_cfg_path_dotted(&p, "a.b.c.d.e.f.g.h"), 0);
    assert_int_equal(p.len, SW_CFG_MAX_PATH);
    assert_int_equal(sw_cfg_path_dotted(&p, "a.b.c.d.e.f.g.h.i"), SW_ETOOBIG);
    assert_int_equal(p.len, 0);
    static const char *const bad[] = {".", "a.", ".a", "a..b", "..", "a.b."};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        p.len = 3;
        assert_int_equal(sw_cfg_path_dotted(&p, bad[k]), SW_EINVAL);
        assert_int_equal(p.len, 0);
    }
    assert_int_equal(sw_cfg_path_dotted(&p, NULL), SW_EINVAL);
    assert_int_equal(sw_cfg_path_dotted(NULL, "a"), SW_EINVAL);
}

static int path_hex(sw_cfg_path_t *p, const char *hex, uint8_t *buf)
{
    size_t n = tu_hex(hex, buf, 256);
    return sw_cfg_path_mp(p, buf, n);
}

static void test_path_mp(void **state)
{
    (void)state;
    sw_cfg_path_t p;
    uint8_t buf[256];
    assert_int_equal(path_hex(&p, "93 a3 77 64 74 02 cd 01 00", buf), 0); // ["wdt", 2, 256]
    assert_int_equal(p.len, 3);
    assert_ptr_equal(p.k[0].s, buf + 2);
    assert_int_equal(p.k[0].n, 3);
    assert_null(p.k[1].s);
    assert_int_equal(p.k[1].idx, 2);
    assert_int_equal(p.k[2].idx, 256);
    assert_int_equal(path_hex(&p, "90", buf), 0);
    assert_int_equal(p.len, 0);
    assert_int_equal(path_hex(&p, "98 01 02 03 04 05 06 07 08", buf), 0);
    assert_int_equal(p.len, 8);
    assert_int_equal(path_hex(&p, "91 d0 05", buf), 0); // non-negative in a signed form
    assert_int_equal(p.k[0].idx, 5);
    assert_int_equal(path_hex(&p, "91 cf 7f ff ff ff ff ff ff ff", buf), 0);
    assert_int_equal(p.k[0].idx, INT64_MAX);

    assert_int_equal(path_hex(&p, "99 01 02 03 04 05 06 07 08 09", buf), SW_ETOOBIG);
    assert_int_equal(path_hex(&p, "dc 01 00", buf), SW_EPROTO); // 256 items, none there
    static const char *const einval[] = {
        "a1 61",          // a string, not an array
        "c0", "80", "01",
        "91 a0",          // empty key
        "91 ff",          // negative index
        "91 cf ff ff ff ff ff ff ff ff", // > INT64_MAX
        "91 c0", "91 c3", "91 cb 3f f8 00 00 00 00 00 00", "91 c4 01 61",
        "91 91 a1 61", "91 80", "91 d4 04 2d",
        "92 a1 61 c0",
    };
    for (size_t k = 0; k < sizeof einval / sizeof *einval; k++) {
        p.len = 5;
        if (path_hex(&p, einval[k], buf) != SW_EINVAL)
            fail_msg("%s: want EINVAL", einval[k]);
        assert_int_equal(p.len, 0);
    }
    static const char *const eproto[] = {"", "92 a1 61", "91 a2 61", "91 01 02", "90 90", "c1"};
    for (size_t k = 0; k < sizeof eproto / sizeof *eproto; k++) {
        p.len = 5;
        if (path_hex(&p, eproto[k], buf) != SW_EPROTO)
            fail_msg("'%s': want EPROTO", eproto[k]);
        assert_int_equal(p.len, 0);
    }
    assert_int_equal(sw_cfg_path_mp(&p, NULL, 0), SW_EPROTO);
    assert_int_equal(sw_cfg_path_mp(NULL, buf, 1), SW_EINVAL);

    // a parsed path works on the tree
    sw_cfg_t c = cfg_new(CAP);
    load_hex(&c, DOC);
    assert_int_equal(path_hex(&p, "93 a1 64 01 a1 78", buf), 0);
    sw_span_t v;
    assert_int_equal(sw_cfg_get(&c, &p, &v), 0);
    tu_assert_bytes(v.p, v.n, "01");
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Property test: random set/del/merge against a reference model
//
// Keys come from a small alphabet and paths are 1..3 deep, so edits collide often. The model
// holds every node of the tree: a path and either a scalar's bytes or "map". A set through a
// scalar is SW_ETYPE, a delete of something absent SW_ENOENT; any edit may be SW_ETOOBIG
// (the cap is small), which must change nothing.

#define NKEYS 4
static const char *const keys[NKEYS] = {"a", "b", "cc", "dd"};
#define MAXN 128

typedef struct {
    uint8_t k[3];
    uint8_t len;
    bool map;
    uint8_t v[48];
    size_t vn;
} node_t;

typedef struct {
    node_t n[MAXN];
    size_t count;
} model_t;

static node_t *find(model_t *m, const uint8_t *k, uint8_t len)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->n[i].len == len && memcmp(m->n[i].k, k, len) == 0)
            return &m->n[i];
    return NULL;
}

static void remove_subtree(model_t *m, const uint8_t *k, uint8_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < m->count; i++) {
        const node_t *x = &m->n[i];
        bool under = x->len >= len && memcmp(x->k, k, len) == 0;
        if (!under)
            m->n[o++] = *x;
    }
    m->count = o;
}

// What sw_cfg_set should return for path k (0: success, the model is updated).
static int model_set(model_t *m, const uint8_t *k, uint8_t len, bool map, const uint8_t *v, size_t vn,
                     bool apply)
{
    for (uint8_t l = 1; l < len; l++) {
        node_t *x = find(m, k, l);
        if (x && !x->map)
            return SW_ETYPE;
        if (!x)
            break; // created from here on
    }
    if (!apply)
        return 0;
    remove_subtree(m, k, len);
    for (uint8_t l = 1; l < len; l++) {
        if (!find(m, k, l)) {
            node_t *x = &m->n[m->count++];
            memset(x, 0, sizeof *x);
            memcpy(x->k, k, l);
            x->len = l;
            x->map = true;
        }
    }
    node_t *x = &m->n[m->count++];
    memset(x, 0, sizeof *x);
    memcpy(x->k, k, len);
    x->len = len;
    x->map = map;
    if (vn)
        memcpy(x->v, v, vn);
    x->vn = vn;
    return 0;
}

static int model_del(model_t *m, const uint8_t *k, uint8_t len, bool apply)
{
    for (uint8_t l = 1; l < len; l++) {
        node_t *x = find(m, k, l);
        if (!x)
            return SW_ENOENT;
        if (!x->map)
            return SW_ETYPE;
    }
    if (!find(m, k, len))
        return SW_ENOENT;
    if (apply)
        remove_subtree(m, k, len);
    return 0;
}

static size_t model_children(const model_t *m, const uint8_t *k, uint8_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < m->count; i++)
        if (m->n[i].len == len + 1 && memcmp(m->n[i].k, k, len) == 0)
            n++;
    return n;
}

static sw_cfg_path_t model_path(const uint8_t *k, uint8_t len)
{
    sw_cfg_path_t p = {.len = len};
    for (uint8_t l = 0; l < len; l++) {
        p.k[l].s = keys[k[l]];
        p.k[l].n = strlen(keys[k[l]]);
    }
    return p;
}

// Every model node reads back as it should, and the tree holds nothing else.
static size_t count_pairs(sw_span_t map)
{
    sw_mpr_t r;
    uint32_t pairs;
    size_t n = 0;
    sw_mpr_init(&r, map.p, map.n);
    assert_true(sw_mpr_map(&r, &pairs));
    for (uint32_t i = 0; i < pairs; i++) {
        sw_span_t k, v;
        assert_int_equal(sw_mpr_span(&r, &k), 0);
        assert_int_equal(sw_mpr_span(&r, &v), 0);
        n++;
        if ((v.p[0] & 0xf0) == 0x80 || v.p[0] == 0xde || v.p[0] == 0xdf)
            n += count_pairs(v);
    }
    return n;
}

static void model_check(const sw_cfg_t *c, model_t *m, size_t foreign)
{
    assert_int_equal(sw_mp_check(c->doc, c->len), 0);
    assert_true(c->len <= c->cap);
    for (size_t i = 0; i < m->count; i++) {
        const node_t *x = &m->n[i];
        sw_cfg_path_t p = model_path(x->k, x->len);
        sw_span_t v;
        assert_int_equal(sw_cfg_get(c, &p, &v), 0);
        if (x->map) {
            sw_mpr_t r;
            uint32_t pairs;
            sw_mpr_init(&r, v.p, v.n);
            assert_true(sw_mpr_map(&r, &pairs));
            assert_int_equal(pairs, model_children(m, x->k, x->len));
        } else {
            assert_int_equal(v.n, x->vn);
            assert_memory_equal(v.p, x->v, x->vn);
        }
    }
    sw_span_t root = {c->doc, c->len};
    assert_int_equal(count_pairs(root), m->count + foreign);
}

static size_t gen_scalar(tu_rng_t *r, uint8_t *out, bool *map)
{
    sw_mpw_t w;
    sw_mpw_init(&w, out, 48);
    *map = false;
    switch (tu_below(r, 7)) {
    case 0: sw_mpw_int(&w, (int64_t)tu_next(r) >> tu_below(r, 64)); break;
    case 1: sw_mpw_bool(&w, tu_below(r, 2)); break;
    case 2: sw_mpw_nil(&w); break;
    case 3: {
        char s[40];
        uint32_t n = tu_below(r, sizeof s);
        for (uint32_t i = 0; i < n; i++)
            s[i] = (char)('a' + tu_below(r, 26));
        sw_mpw_str(&w, s, n);
        break;
    }
    case 4: sw_mpw_array(&w, 2); sw_mpw_int(&w, 1); sw_mpw_cstr(&w, "x"); break;
    case 5: sw_mpw_f64(&w, 1.25); break;
    default: sw_mpw_map(&w, 0); *map = true; break;
    }
    return w.len;
}

static uint8_t gen_path(tu_rng_t *r, uint8_t *k)
{
    uint8_t len = (uint8_t)(1 + tu_below(r, 3));
    for (uint8_t l = 0; l < len; l++)
        k[l] = (uint8_t)tu_below(r, NKEYS);
    return len;
}

// A random map to merge (depth <= 2 below `at`), encoded into w and applied to a copy of the
// model the way a deep merge should.
static void gen_merge(tu_rng_t *r, sw_mpw_t *w, model_t *m, uint8_t *at, uint8_t len)
{
    uint32_t n = tu_below(r, 3);
    bool used[NKEYS] = {false};
    sw_mpw_map(w, n);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key;
        do
            key = (uint8_t)tu_below(r, NKEYS);
        while (used[key]);
        used[key] = true;
        at[len] = key;
        sw_mpw_cstr(w, keys[key]);
        node_t *x = find(m, at, (uint8_t)(len + 1));
        if (len + 1 < 3 && tu_below(r, 3) == 0) {
            if (!x || !x->map) { // replaces: the new map arrives whole
                if (x)
                    remove_subtree(m, at, (uint8_t)(len + 1));
                model_set(m, at, (uint8_t)(len + 1), true, NULL, 0, true);
            }
            gen_merge(r, w, m, at, (uint8_t)(len + 1));
        } else {
            uint8_t v[48];
            bool map;
            size_t vn = gen_scalar(r, v, &map);
            sw_mpw_raw(w, v, vn);
            if (!(map && x && x->map)) // {} onto a map merges to nothing
                model_set(m, at, (uint8_t)(len + 1), map, v, vn, true);
        }
    }
}

static void test_property_vs_model(void **state)
{
    (void)state;
    static model_t m, trial;
    tu_rng_t r = {0x5eed1234abcdull};
    int counts[4] = {0}; // ok, ETYPE/ENOENT, ETOOBIG, merges
    for (int run = 0; run < 80; run++) {
        size_t cap = run % 2 ? 24 + tu_below(&r, 200) : CAP; // tight, or room to grow
        sw_cfg_t c = cfg_new(cap);
        // a foreign key (integer 7) that no edit may touch
        load_hex(&c, "81 07 a1 71");
        m.count = 0;
        for (int step = 0; step < 300; step++) {
            uint8_t k[3];
            uint8_t len = gen_path(&r, k);
            sw_cfg_path_t p = model_path(k, len);
            snap_t s;
            snap(&c, &s);
            uint32_t op = tu_below(&r, 10);
            int want, got;
            if (op < 6) {
                uint8_t v[48];
                bool map;
                size_t vn = gen_scalar(&r, v, &map);
                want = model_set(&m, k, len, map, v, vn, false);
                got = sw_cfg_set(&c, &p, v, vn);
                if (got == 0 && want == 0)
                    model_set(&m, k, len, map, v, vn, true);
            } else if (op < 9) {
                want = model_del(&m, k, len, false);
                got = sw_cfg_del(&c, &p);
                if (got == 0 && want == 0)
                    model_del(&m, k, len, true);
            } else {
                uint8_t buf[1024], at[4];
                sw_mpw_t w;
                sw_mpw_init(&w, buf, sizeof buf);
                trial = m;
                gen_merge(&r, &w, &trial, at, 0);
                assert_int_equal(w.err, 0);
                want = 0;
                got = sw_cfg_merge(&c, buf, w.len);
                if (got == 0)
                    m = trial;
                counts[3]++;
            }
            if (got == SW_ETOOBIG && want == 0) {
                unchanged(&c, &s);
                counts[2]++;
            } else {
                if (got != want)
                    fail_msg("run %d step %d op %u: got %s, model %s", run, step, op,
                             sw_errname(got), sw_errname(want));
                if (got) {
                    unchanged(&c, &s);
                    counts[1]++;
                } else {
                    assert_int_equal(c.version, s.version + 1);
                    counts[0]++;
                }
            }
            model_check(&c, &m, 1);
        }
    }
    print_message("ok %d, refused %d, too big %d, merges %d\n", counts[0], counts[1], counts[2], counts[3]);
    // the schedule exercised every outcome
    assert_true(counts[0] > 5000);
    assert_true(counts[1] > 2000);
    assert_true(counts[2] > 100);
    assert_true(counts[3] > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_load),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_set_keeps_foreign_keys_and_drops_duplicates),
        cmocka_unit_test(test_set_depth_limit),
        cmocka_unit_test(test_del),
        cmocka_unit_test(test_atomic_when_full),
        cmocka_unit_test(test_atomic_every_cap),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_part),
        cmocka_unit_test(test_typed),
        cmocka_unit_test(test_path_dotted),
        cmocka_unit_test(test_path_mp),
        cmocka_unit_test(test_property_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
