// Exhaustive power-cut testing of flashfs. Each workload (a script of port calls) runs once
// uncut; after every call, a copy of the flash is mounted and its durable state recorded (every
// path, type, size and CRC of the bytes, and the blocks in use). Then for every erase, program
// and sync call k of the workload, the workload runs again from the same start with the power
// cut right after call k, and, for programs and erases, in the middle of call k (half the bytes
// programmed, the next one half; half the block erased). Reads change nothing, so a cut after a
// read is the cut after the write before it. After each cut the flash is mounted again and must:
//   - mount;
//   - hold exactly the durable state before or after the port call that was cut (each port call
//     is atomic; writes are durable at sync/close, renames at once);
//   - use exactly the blocks that state uses (no space lost);
//   - take a new file, give it back, and never be asked to program programmed bytes (the
//     simulator fails those: half-written pages must be left alone).
// The counts of cut points are printed.
#include "ffs_sim.h"
#include "testutil.h"

#include "../../src/flashfs/ffs_int.h" // sw__ffs_crc32

enum { W_OPEN, W_WRITE, W_SYNC, W_CLOSE, W_MKDIR, W_RMDIR, W_UNLINK, W_RENAME };

typedef struct wop {
    int op;
    const char *a, *b; // paths
    int flags;         // W_OPEN
    int h;             // handle number in the script (0..3)
    uint32_t off, len, seed;
    bool may_fail;     // a full disk is expected
} wop_t;

typedef struct workload {
    const char *name;
    const wop_t *setup;
    size_t nsetup;
    const wop_t *ops;
    size_t nops;
} workload_t;

#define CREATE_T (SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC)
#define PUT(path, n, seed)                                                                      \
    {W_OPEN, path, NULL, CREATE_T, 3, 0, 0, 0, false}, {W_WRITE, NULL, NULL, 0, 3, 0, n, seed, false}, \
        {W_CLOSE, NULL, NULL, 0, 3, 0, 0, 0, false}

enum { MAXOPS = 128, DUMP = 4096 };

// Two flashes: 512-byte blocks programmed 16 bytes at a time (internal flash of an MCU), and
// 256-byte blocks programmed and read by the byte (SPI NOR).
typedef struct geom {
    uint32_t rs, ps, bs, bc;
} geom_t;
static const geom_t geoms[] = {{16, 16, 512, 40}, {1, 1, 256, 48}};

static ffs_sim_t sim, sim2;
static sw_ffs_t fs, fs2;
static int hs[4];
static unsigned nfailed; // ops that failed as allowed (a full disk)

// Runs ops; returns the index of the op during which the power went off, or n.
static size_t run(sw_ffs_t *f, const wop_t *ops, size_t n, void (*after)(size_t))
{
    for (size_t i = 0; i < n; i++) {
        const wop_t *o = &ops[i];
        int r = 0;
        uint8_t buf[1024];
        switch (o->op) {
        case W_OPEN: r = sw_ffs_open(f, o->a, o->flags, &hs[o->h]); break;
        case W_WRITE:
            assert_true(o->len <= sizeof buf);
            for (uint32_t k = 0; k < o->len; k++)
                buf[k] = (uint8_t)(o->seed * 131 + k * 7 + (k >> 8));
            r = sw_ffs_write(f, hs[o->h], o->off, buf, o->len);
            if (r == (int)o->len)
                r = 0;
            break;
        case W_SYNC: r = sw_ffs_sync(f, hs[o->h]); break;
        case W_CLOSE: r = sw_ffs_close(f, hs[o->h]); break;
        case W_MKDIR: r = sw_ffs_mkdir(f, o->a); break;
        case W_RMDIR: r = sw_ffs_rmdir(f, o->a); break;
        case W_UNLINK: r = sw_ffs_unlink(f, o->a); break;
        case W_RENAME: r = sw_ffs_rename(f, o->a, o->b); break;
        }
        if (sim.off)
            return i;
        nfailed += r != 0;
        if (r && !o->may_fail)
            fail_msg("op %zu (%d %s) failed: %s", i, o->op, o->a ? o->a : "", sw_errname(r));
        if (after)
            after(i);
    }
    return n;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Durable state as text

typedef struct dump {
    char lines[64][340]; // a path of up to 299 bytes, its size and CRC
    int n;
} dump_t;

static int line_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void walk(sw_ffs_t *f, const char *dir, dump_t *d);

typedef struct walk_ctx {
    sw_ffs_t *f;
    const char *dir;
    dump_t *d;
} walk_ctx_t;

static int walk_each(void *u, const sw_dirent_t *e)
{
    walk_ctx_t *w = u;
    char path[300];
    snprintf(path, sizeof path, "%s%s%s", w->dir, *w->dir ? "/" : "", e->name);
    assert_true(w->d->n < 64);
    char *line = w->d->lines[w->d->n++];
    if (e->type == SW_FT_DIR) {
        snprintf(line, sizeof w->d->lines[0], "%s/", path);
        walk(w->f, path, w->d);
        return 0;
    }
    sw_stat_t st;
    assert_int_equal(sw_ffs_stat(w->f, path, &st), 0);
    int h;
    assert_int_equal(sw_ffs_open(w->f, path, SW_O_READ, &h), 0);
    uint8_t buf[512];
    uint32_t crc = 0;
    for (uint64_t off = 0;; off += sizeof buf) {
        int r = sw_ffs_read(w->f, h, off, buf, sizeof buf);
        assert_true(r >= 0);
        if (r == 0)
            break;
        crc = sw__ffs_crc32(crc, buf, (size_t)r);
    }
    assert_int_equal(sw_ffs_close(w->f, h), 0);
    snprintf(line, sizeof w->d->lines[0], "%s %llu %08x", path, (unsigned long long)st.size, crc);
    return 0;
}

static void walk(sw_ffs_t *f, const char *dir, dump_t *d)
{
    walk_ctx_t w = {f, dir, d};
    assert_int_equal(sw_ffs_list(f, dir, walk_each, &w), 0);
}

static void dump(sw_ffs_t *f, char *out)
{
    static dump_t d;
    d.n = 0;
    walk(f, "", &d);
    qsort(d.lines, (size_t)d.n, sizeof d.lines[0], line_cmp);
    uint32_t used, total;
    assert_int_equal(sw_ffs_usage(f, &used, &total), 0);
    int k = snprintf(out, DUMP, "used %u\n", used);
    for (int i = 0; i < d.n; i++) {
        assert_true(k >= 0 && k < DUMP - 1);
        k += snprintf(out + k, (size_t)(DUMP - k), "%s\n", d.lines[i]);
    }
    assert_true(k < DUMP - 1);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The runner

static char states[MAXOPS + 1][DUMP]; // states[i]: durable state after i ops

static void record(size_t i)
{
    ffs_sim_copy(&sim2, &sim);
    assert_int_equal(sw_ffs_mount(&fs2, &sim2.bd), 0);
    dump(&fs2, states[i + 1]);
}

static void check_writable(sw_ffs_t *f)
{
    int h;
    assert_int_equal(sw_ffs_open(f, "zz.probe", SW_O_WRITE | SW_O_CREATE | SW_O_EXCL, &h), 0);
    assert_int_equal(sw_ffs_write(f, h, 0, "probe bytes", 11), 11);
    assert_int_equal(sw_ffs_close(f, h), 0);
    char b[16];
    assert_int_equal(sw_ffs_open(f, "zz.probe", SW_O_READ, &h), 0);
    assert_int_equal(sw_ffs_read(f, h, 0, b, sizeof b), 11);
    assert_memory_equal(b, "probe bytes", 11);
    assert_int_equal(sw_ffs_close(f, h), 0);
    assert_int_equal(sw_ffs_unlink(f, "zz.probe"), 0);
}

static void cut_test_on(const workload_t *w, const geom_t *g)
{
    static uint8_t kinds[1 << 16];
    size_t bytes = (size_t)g->bs * g->bc, units = bytes / g->ps;
    uint8_t *start = malloc(bytes), *start_progd = malloc(units);
    ffs_sim_init(&sim, g->rs, g->ps, g->bs, g->bc);
    ffs_sim_init(&sim2, g->rs, g->ps, g->bs, g->bc);
    assert_int_equal(sw_ffs_format(&fs, &sim.bd), 0);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
    run(&fs, w->setup, w->nsetup, NULL);
    assert_int_equal(sw_ffs_unmount(&fs), 0);
    memcpy(start, sim.mem, bytes);
    memcpy(start_progd, sim.progd, units);

    // the uncut run: the durable state after each op
    assert_true(w->nops <= MAXOPS);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
    dump(&fs, states[0]);
    sim.calls = 0, sim.log = kinds, sim.log_cap = sizeof kinds;
    nfailed = 0;
    assert_int_equal(run(&fs, w->ops, w->nops, record), w->nops);
    if (!strcmp(w->name, "fill"))
        assert_true(nfailed > 0); // the disk did fill up
    uint64_t ncalls = sim.calls;
    assert_true(ncalls <= sizeof kinds);
    sim.log = NULL;
    assert_int_equal(sim.violations + sim2.violations, 0);
    for (int i = 0; i < 4; i++)
        sw_ffs_close(&fs, i);

    unsigned after = 0, inside = 0, states_seen = 0;
    char got[DUMP];
    for (uint64_t k = 1; k <= ncalls; k++) {
        for (int in = 0; in < 2; in++) {
            if (in && kinds[k - 1] == 0)
                continue; // a sync has no middle
            memcpy(sim.mem, start, bytes);
            memcpy(sim.progd, start_progd, units);
            sim.calls = 0, sim.off = 0, sim.cut_at = k, sim.cut_inside = in;
            assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
            size_t i = run(&fs, w->ops, w->nops, NULL);
            assert_true(sim.off || i == w->nops);
            sim.off = 0, sim.cut_at = 0;
            memset(&fs, 0x5a, sizeof fs); // the RAM is gone
            int r = sw_ffs_mount(&fs, &sim.bd);
            if (r)
                fail_msg("%s: cut %s call %llu: mount says %s", w->name, in ? "inside" : "after",
                         (unsigned long long)k, sw_errname(r));
            dump(&fs, got);
            bool before = !strcmp(got, states[i]);
            bool later = i < w->nops && !strcmp(got, states[i + 1]);
            if (!before && !later)
                fail_msg("%s: cut %s call %llu (op %zu): state\n%s\nis neither\n%s\nnor\n%s",
                         w->name, in ? "inside" : "after", (unsigned long long)k, i, got,
                         states[i], i < w->nops ? states[i + 1] : "-");
            states_seen += later;
            check_writable(&fs);
            dump(&fs, got);
            assert_string_equal(got, before ? states[i] : states[i + 1]);
            if (sim.violations)
                fail_msg("%s: cut %s call %llu: %llu flash rule violations", w->name,
                         in ? "inside" : "after", (unsigned long long)k,
                         (unsigned long long)sim.violations);
            *(in ? &inside : &after) += 1;
        }
    }
    print_message("%-9s %4u-byte blocks, %3zu ops, %4llu device calls: %4u cut points (%u after "
                  "a call, %u inside a program or erase), %u with the op done\n", w->name, g->bs,
                  w->nops, (unsigned long long)ncalls, after + inside, after, inside, states_seen);
    ffs_sim_free(&sim);
    ffs_sim_free(&sim2);
    free(start);
    free(start_progd);
}

static void cut_test(const workload_t *w)
{
    for (size_t i = 0; i < sizeof geoms / sizeof geoms[0]; i++)
        cut_test_on(w, &geoms[i]);
}

#define WL(name, setup, ops) \
    {name, setup, sizeof setup / sizeof setup[0], ops, sizeof ops / sizeof ops[0]}

static const wop_t none[] = {{W_MKDIR, "base", NULL, 0, 0, 0, 0, 0, false}};

static const wop_t create_ops[] = {
    {W_OPEN, "f", NULL, CREATE_T, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 0, 500, 1, false},
    {W_WRITE, NULL, NULL, 0, 0, 500, 500, 2, false},
    {W_WRITE, NULL, NULL, 0, 0, 1000, 300, 3, false},
    {W_SYNC, NULL, NULL, 0, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 1300, 400, 4, false},
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, false},
};

static const wop_t append_setup[] = {PUT("log", 700, 9)};
static const wop_t append_ops[] = {
    {W_OPEN, "log", NULL, SW_O_WRITE | SW_O_APPEND, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 0, 300, 5, false},
    {W_WRITE, NULL, NULL, 0, 0, 0, 900, 6, false},
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, false},
    {W_OPEN, "log", NULL, SW_O_WRITE | SW_O_APPEND, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 0, 33, 7, false},
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, false},
};

static const wop_t overwrite_setup[] = {PUT("f", 1000, 8), {W_OPEN, "f", NULL, SW_O_WRITE, 3, 0, 0, 0, false},
                                        {W_WRITE, NULL, NULL, 0, 3, 1000, 1000, 9, false},
                                        {W_CLOSE, NULL, NULL, 0, 3, 0, 0, 0, false}};
static const wop_t overwrite_ops[] = {
    {W_OPEN, "f", NULL, SW_O_READ | SW_O_WRITE, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 600, 700, 10, false},
    {W_WRITE, NULL, NULL, 0, 0, 100, 10, 11, false},
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, false},
    {W_OPEN, "f", NULL, CREATE_T, 0, 0, 0, 0, false},
    {W_WRITE, NULL, NULL, 0, 0, 0, 100, 12, false},
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, false},
};

static const wop_t rename_setup[] = {PUT("swarm.cfg", 400, 13)};
static const wop_t rename_ops[] = {
    PUT("swarm.cfg.tmp", 450, 14),
    {W_RENAME, "swarm.cfg.tmp", "swarm.cfg", 0, 0, 0, 0, 0, false},
    PUT("swarm.cfg.tmp", 600, 15),
    {W_RENAME, "swarm.cfg.tmp", "swarm.cfg", 0, 0, 0, 0, 0, false},
};

static const wop_t dirs_ops[] = {
    {W_MKDIR, "a", NULL, 0, 0, 0, 0, 0, false},
    {W_MKDIR, "a/b", NULL, 0, 0, 0, 0, 0, false},
    PUT("a/b/f", 300, 16),
    {W_RENAME, "a/b", "base/b", 0, 0, 0, 0, 0, false},
    {W_UNLINK, "base/b/f", NULL, 0, 0, 0, 0, 0, false},
    {W_RMDIR, "base/b", NULL, 0, 0, 0, 0, 0, false},
    {W_RMDIR, "a", NULL, 0, 0, 0, 0, 0, false},
};

static const wop_t fill_setup[] = {PUT("keep", 1000, 17)};
#define W600(i) {W_WRITE, NULL, NULL, 0, 0, 600 * (i), 600, 20 + (i), true}
static const wop_t fill_ops[] = {
    {W_OPEN, "big", NULL, CREATE_T, 0, 0, 0, 0, false},
    W600(0), W600(1), W600(2), W600(3), W600(4), W600(5), W600(6), W600(7), W600(8), W600(9),
    {W_SYNC, NULL, NULL, 0, 0, 0, 0, 0, false},
    W600(10), W600(11), W600(12), W600(13), W600(14), W600(15), W600(16), W600(17), W600(18),
    W600(19), W600(20), W600(21), W600(22), W600(23), W600(24), W600(25), W600(26), W600(27),
    W600(28), W600(29), W600(30), W600(31), W600(32), W600(33), W600(34),
    {W_CLOSE, NULL, NULL, 0, 0, 0, 0, 0, true},
    PUT("after", 200, 18),
    {W_UNLINK, "big", NULL, 0, 0, 0, 0, 0, false},
};

// A push: stage the new app beside the old one, journal, switch with renames, clean up.
static const wop_t push_setup[] = {
    {W_MKDIR, "apps", NULL, 0, 0, 0, 0, 0, false}, {W_MKDIR, "apps/app", NULL, 0, 0, 0, 0, 0, false},
    PUT("apps/app/main.lua", 800, 30), PUT("apps/app/lib.lua", 300, 31)};
static const wop_t push_ops[] = {
    {W_MKDIR, ".swarm", NULL, 0, 0, 0, 0, 0, false},
    {W_MKDIR, ".swarm/stage", NULL, 0, 0, 0, 0, 0, false},
    {W_MKDIR, ".swarm/stage/app", NULL, 0, 0, 0, 0, 0, false},
    PUT(".swarm/stage/app/main.lua", 900, 32),
    PUT(".swarm/stage/app/util.lua", 200, 33),
    PUT(".swarm/journal.tmp", 120, 34),
    {W_RENAME, ".swarm/journal.tmp", ".swarm/journal", 0, 0, 0, 0, 0, false},
    {W_RENAME, "apps/app", ".swarm/bak", 0, 0, 0, 0, 0, false},
    {W_RENAME, ".swarm/stage/app", "apps/app", 0, 0, 0, 0, 0, false},
    {W_UNLINK, ".swarm/journal", NULL, 0, 0, 0, 0, 0, false},
    {W_UNLINK, ".swarm/bak/main.lua", NULL, 0, 0, 0, 0, 0, false},
    {W_UNLINK, ".swarm/bak/lib.lua", NULL, 0, 0, 0, 0, 0, false},
    {W_RMDIR, ".swarm/bak", NULL, 0, 0, 0, 0, 0, false},
};

static const workload_t workloads[] = {
    WL("create", none, create_ops),          WL("append", append_setup, append_ops),
    WL("overwrite", overwrite_setup, overwrite_ops), WL("rename", rename_setup, rename_ops),
    WL("dirs", none, dirs_ops),              WL("fill", fill_setup, fill_ops),
    WL("push", push_setup, push_ops),
};

static void test_create(void **s) { (void)s; cut_test(&workloads[0]); }
static void test_append(void **s) { (void)s; cut_test(&workloads[1]); }
static void test_overwrite(void **s) { (void)s; cut_test(&workloads[2]); }
static void test_rename_over(void **s) { (void)s; cut_test(&workloads[3]); }
static void test_mkdir_rmdir(void **s) { (void)s; cut_test(&workloads[4]); }
static void test_fill_disk(void **s) { (void)s; cut_test(&workloads[5]); }
static void test_push_switch(void **s) { (void)s; cut_test(&workloads[6]); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),      cmocka_unit_test(test_append),
        cmocka_unit_test(test_overwrite),   cmocka_unit_test(test_rename_over),
        cmocka_unit_test(test_mkdir_rmdir), cmocka_unit_test(test_fill_disk),
        cmocka_unit_test(test_push_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
