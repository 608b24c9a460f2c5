// The file-system conformance suite: what the node expects of the file part of the port
// contract (swarm/port.h), run against every implementation through its function table. Each
// test program fills `fsc` and runs fsc_tests in a cmocka group: test_port_fs.c for the POSIX
// port, test_flashfs.c for flashfs. Every test starts from and leaves the standard tree:
//   a.txt = "alpha", d/b.txt = "bravo!", d/e/ (empty)
// plus whatever entries the implementation's own tests keep there (never listed here).
#ifndef SW_FS_CONFORM_H
#define SW_FS_CONFORM_H

#include "swarm/port.h"
#include "testutil.h"

typedef struct fsc_fixture {
    const sw_port_ops_t *ops;
    void *ctx;
    int max_files;  // size of the handle table
    bool has_mtime; // stat reports a wall-clock mtime
} fsc_fixture_t;

static fsc_fixture_t fsc;

#define FSC(call, ...) fsc.ops->fs_##call(fsc.ctx, __VA_ARGS__)

static int fsc_open(const char *path, int flags)
{
    int h = -1;
    int r = FSC(open, path, flags, &h);
    if (r)
        assert_int_equal(h, -1);
    return r ? r : h;
}

static void fsc_put(const char *path, const char *text)
{
    int h = fsc_open(path, SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC);
    assert_true(h >= 0);
    size_t n = strlen(text);
    assert_int_equal(FSC(write, h, 0, text, n), (int)n);
    assert_int_equal(FSC(close, h), 0);
}

static void fsc_expect(const char *path, const char *text)
{
    char buf[256];
    int h = fsc_open(path, SW_O_READ);
    assert_true(h >= 0);
    int n = FSC(read, h, 0, buf, sizeof buf);
    assert_int_equal(FSC(close, h), 0);
    assert_int_equal(n, (int)strlen(text));
    assert_memory_equal(buf, text, (size_t)n);
}

static void fsc_test_read_write(void **state)
{
    (void)state;
    int h = fsc_open("a.txt", SW_O_READ);
    assert_true(h >= 0);
    char buf[64];
    assert_int_equal(FSC(read, h, 0, buf, sizeof buf), 5);
    assert_memory_equal(buf, "alpha", 5);
    assert_int_equal(FSC(read, h, 2, buf, 2), 2);
    assert_memory_equal(buf, "ph", 2);
    assert_int_equal(FSC(read, h, 5, buf, sizeof buf), 0); // end of file
    assert_int_equal(FSC(read, h, 1000, buf, sizeof buf), 0);
    assert_int_equal(FSC(write, h, 0, "x", 1), SW_EINVAL); // read-only handle
    assert_int_equal(FSC(close, h), 0);
    assert_int_equal(FSC(close, h), SW_EINVAL);
    assert_int_equal(FSC(read, h, 0, buf, 1), SW_EINVAL);

    h = fsc_open("d/new.bin", SW_O_WRITE | SW_O_CREATE | SW_O_EXCL);
    assert_true(h >= 0);
    assert_int_equal(FSC(read, h, 0, buf, 1), SW_EINVAL); // write-only handle
    assert_int_equal(FSC(write, h, 3, "xyz", 3), 3);       // the gap reads as zeros
    assert_int_equal(FSC(sync, h), 0);
    assert_int_equal(FSC(close, h), 0);
    sw_stat_t st;
    assert_int_equal(FSC(stat, "d/new.bin", &st), 0);
    assert_int_equal(st.type, SW_FT_FILE);
    assert_int_equal(st.size, 6);
    if (fsc.has_mtime)
        assert_true(st.mtime > 1600000000);
    h = fsc_open("d/new.bin", SW_O_READ);
    assert_int_equal(FSC(read, h, 0, buf, sizeof buf), 6);
    assert_memory_equal(buf, "\0\0\0xyz", 6);
    assert_int_equal(FSC(close, h), 0);
    assert_int_equal(fsc_open("d/new.bin", SW_O_WRITE | SW_O_CREATE | SW_O_EXCL), SW_EEXIST);
    h = fsc_open("d/new.bin", SW_O_READ | SW_O_WRITE | SW_O_TRUNC);
    assert_true(h >= 0);
    assert_int_equal(FSC(read, h, 0, buf, sizeof buf), 0);
    assert_int_equal(FSC(close, h), 0);
    h = fsc_open("d/new.bin", SW_O_WRITE | SW_O_APPEND);
    assert_int_equal(FSC(write, h, 0, "ab", 2), 2);
    assert_int_equal(FSC(write, h, 0, "cd", 2), 2); // appends whatever the offset
    assert_int_equal(FSC(write, h, 0, "", 0), 0);
    assert_int_equal(FSC(close, h), 0);
    assert_int_equal(FSC(stat, "d/new.bin", &st), 0);
    assert_int_equal(st.size, 4);
    fsc_expect("d/new.bin", "abcd");
    assert_int_equal(FSC(unlink, "d/new.bin"), 0);
}

static void fsc_test_open_errors(void **state)
{
    (void)state;
    assert_int_equal(fsc_open("missing", SW_O_READ), SW_ENOENT);
    assert_int_equal(fsc_open("nodir/x", SW_O_WRITE | SW_O_CREATE), SW_ENOENT);
    assert_int_equal(fsc_open("d", SW_O_READ), SW_EISDIR);
    assert_int_equal(fsc_open("d", SW_O_WRITE), SW_EISDIR);
    assert_int_equal(fsc_open("d", SW_O_WRITE | SW_O_CREATE), SW_EISDIR);
    assert_int_equal(fsc_open("", SW_O_READ), SW_EISDIR);
    assert_int_equal(fsc_open("a.txt/x", SW_O_READ), SW_ENOTDIR);
    assert_int_equal(fsc_open("a.txt/x", SW_O_WRITE | SW_O_CREATE), SW_ENOTDIR);
    assert_int_equal(fsc_open("a.txt", 0), SW_EINVAL);
    assert_int_equal(fsc_open("a.txt", SW_O_READ | SW_O_TRUNC), SW_EINVAL);
    assert_int_equal(fsc_open("a.txt", SW_O_READ | SW_O_APPEND), SW_EINVAL);
    assert_int_equal(fsc_open("a.txt", SW_O_READ | 0x100), SW_EINVAL);
}

static void fsc_test_bad_paths(void **state)
{
    (void)state;
    static const char *const bad[] = {"/etc/passwd", "..", "../outside/secret", "d/../a.txt",
                                      "d//b.txt", "./a.txt", "d/.", "a.txt/", "/", "d/./b.txt"};
    sw_stat_t st;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(fsc_open(bad[i], SW_O_READ), SW_EINVAL);
        assert_int_equal(fsc_open(bad[i], SW_O_WRITE | SW_O_CREATE), SW_EINVAL);
        assert_int_equal(FSC(stat, bad[i], &st), SW_EINVAL);
        assert_int_equal(FSC(mkdir, bad[i]), SW_EINVAL);
        assert_int_equal(FSC(unlink, bad[i]), SW_EINVAL);
        assert_int_equal(FSC(rmdir, bad[i]), SW_EINVAL);
        assert_int_equal(FSC(rename, bad[i], "x"), SW_EINVAL);
        assert_int_equal(FSC(rename, "a.txt", bad[i]), SW_EINVAL);
    }
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(fsc_open(longname, SW_O_READ), SW_EINVAL);
    assert_int_equal(FSC(mkdir, longname), SW_EINVAL);
    char *huge = malloc(8000);
    for (int i = 0; i < 7998; i += 2)
        huge[i] = 'q', huge[i + 1] = '/';
    huge[7998] = 'q', huge[7999] = 0;
    assert_int_equal(FSC(stat, huge, &st), SW_EINVAL);
    free(huge);
    assert_int_equal(FSC(stat, NULL, &st), SW_EINVAL);
}

static void fsc_test_handle_table(void **state)
{
    (void)state;
    int h[64];
    assert_true(fsc.max_files <= 64);
    for (int i = 0; i < fsc.max_files; i++) {
        h[i] = fsc_open("a.txt", SW_O_READ);
        assert_int_equal(h[i], i); // small integers from 0
    }
    assert_int_equal(fsc_open("a.txt", SW_O_READ), SW_EFULL);
    assert_int_equal(FSC(close, h[1]), 0);
    assert_int_equal(fsc_open("a.txt", SW_O_READ), 1);
    for (int i = 0; i < fsc.max_files; i++)
        assert_int_equal(FSC(close, h[i]), 0);
    char b[1];
    assert_int_equal(FSC(read, -1, 0, b, 1), SW_EINVAL);
    assert_int_equal(FSC(read, fsc.max_files, 0, b, 1), SW_EINVAL);
    assert_int_equal(FSC(write, fsc.max_files, 0, b, 1), SW_EINVAL);
    assert_int_equal(FSC(sync, 99), SW_EINVAL);
    assert_int_equal(FSC(close, 99), SW_EINVAL);
}

static void fsc_test_dirs(void **state)
{
    (void)state;
    sw_stat_t st;
    assert_int_equal(FSC(stat, "", &st), 0);
    assert_int_equal(st.type, SW_FT_DIR);
    assert_int_equal(FSC(stat, "nope", &st), SW_ENOENT);
    assert_int_equal(FSC(stat, "a.txt/x", &st), SW_ENOTDIR);
    assert_int_equal(FSC(mkdir, "m"), 0);
    assert_int_equal(FSC(stat, "m", &st), 0);
    assert_int_equal(st.type, SW_FT_DIR);
    assert_int_equal(FSC(mkdir, "m"), SW_EEXIST);
    assert_int_equal(FSC(mkdir, "a.txt"), SW_EEXIST);
    assert_int_equal(FSC(mkdir, ""), SW_EEXIST);
    assert_int_equal(FSC(mkdir, "m/n"), 0);
    assert_int_equal(FSC(mkdir, "x/y"), SW_ENOENT);
    assert_int_equal(FSC(mkdir, "a.txt/y"), SW_ENOTDIR);
    assert_int_equal(FSC(rmdir, "m"), SW_ENOTEMPTY);
    assert_int_equal(FSC(unlink, "m"), SW_EISDIR);
    assert_int_equal(FSC(rmdir, "a.txt"), SW_ENOTDIR);
    assert_int_equal(FSC(rmdir, ""), SW_EPERM);
    assert_int_equal(FSC(unlink, ""), SW_EPERM);
    assert_int_equal(FSC(unlink, "gone"), SW_ENOENT);
    assert_int_equal(FSC(rmdir, "gone"), SW_ENOENT);
    assert_int_equal(FSC(rmdir, "m/n"), 0);
    assert_int_equal(FSC(rmdir, "m"), 0);
    assert_int_equal(FSC(stat, "m", &st), SW_ENOENT);
}

static void fsc_test_rename(void **state)
{
    (void)state;
    fsc_put("tmp.1", "new!");
    // replaces an existing file, across directories
    assert_int_equal(FSC(rename, "tmp.1", "d/b.txt"), 0);
    fsc_expect("d/b.txt", "new!");
    sw_stat_t st;
    assert_int_equal(FSC(stat, "tmp.1", &st), SW_ENOENT);
    assert_int_equal(FSC(rename, "tmp.1", "x"), SW_ENOENT);
    assert_int_equal(FSC(rename, "a.txt", "nodir/x"), SW_ENOENT);
    assert_int_equal(FSC(rename, "d", "d/e/f"), SW_EINVAL); // into itself
    assert_int_equal(FSC(rename, "d", "d/f"), SW_EINVAL);
    assert_int_equal(FSC(rename, "", "z"), SW_EPERM);
    assert_int_equal(FSC(rename, "a.txt", ""), SW_EPERM);
    assert_int_equal(FSC(rename, "a.txt", "a.txt"), 0);
    assert_int_equal(FSC(rename, "a.txt", "d/e"), SW_EISDIR);  // file over a directory
    assert_int_equal(FSC(rename, "d/e", "a.txt"), SW_ENOTDIR); // directory over a file
    assert_int_equal(FSC(rename, "d/e", ""), SW_EPERM);
    assert_int_equal(FSC(mkdir, "m"), 0);
    assert_int_equal(FSC(rename, "m", "d"), SW_ENOTEMPTY);
    assert_int_equal(FSC(mkdir, "m/sub"), 0);
    fsc_put("m/sub/f", "deep");
    assert_int_equal(FSC(rename, "m", "d/e"), 0); // a directory replaces an empty one
    fsc_expect("d/e/sub/f", "deep");
    assert_int_equal(FSC(rename, "d/e", "m"), 0);
    assert_int_equal(FSC(mkdir, "d/e"), 0);
    assert_int_equal(FSC(unlink, "m/sub/f"), 0);
    assert_int_equal(FSC(rmdir, "m/sub"), 0);
    assert_int_equal(FSC(rmdir, "m"), 0);
    assert_int_equal(FSC(rename, "d/b.txt", "d/b2.txt"), 0);
    assert_int_equal(FSC(stat, "d/b.txt", &st), SW_ENOENT);
    assert_int_equal(FSC(rename, "d/b2.txt", "d/b.txt"), 0);
    fsc_put("d/b.txt", "bravo!");
    fsc_expect("a.txt", "alpha");
}

// fs_move is fs_rename without the promise of durability before fs_flush: the same names.
static void fsc_test_move_flush(void **state)
{
    (void)state;
    assert_int_equal(FSC(mkdir, "mv"), 0);
    fsc_put("mv/s.1", "staged");
    fsc_put("d/b.txt", "old b");
    assert_int_equal(FSC(move, "d/b.txt", "mv/bak"), 0); // across directories
    assert_int_equal(FSC(move, "mv/s.1", "d/b.txt"), 0);
    fsc_put("mv/s.2", "two");
    assert_int_equal(FSC(move, "mv/s.2", "mv/bak"), 0); // replaces a file
    assert_int_equal(fsc.ops->fs_flush(fsc.ctx), 0);
    fsc_expect("d/b.txt", "staged");
    fsc_expect("mv/bak", "two");
    sw_stat_t st;
    assert_int_equal(FSC(stat, "mv/s.1", &st), SW_ENOENT);
    assert_int_equal(FSC(move, "mv/s.1", "x"), SW_ENOENT);
    assert_int_equal(FSC(move, "", "x"), SW_EPERM);
    assert_int_equal(FSC(move, "mv/bak", "d/e"), SW_EISDIR);
    assert_int_equal(FSC(unlink, "mv/bak"), 0);
    assert_int_equal(FSC(rmdir, "mv"), 0); // a directory removed before the flush
    assert_int_equal(fsc.ops->fs_flush(fsc.ctx), 0);
    assert_int_equal(fsc.ops->fs_flush(fsc.ctx), 0); // nothing left to flush
    assert_int_equal(FSC(stat, "mv", &st), SW_ENOENT);
    fsc_put("d/b.txt", "bravo!");
}

typedef struct fsc_seen {
    char names[16][SW_NAME_MAX + 1];
    uint8_t types[16];
    int n, stop_at;
} fsc_seen_t;

static int fsc_collect(void *u, const sw_dirent_t *e)
{
    fsc_seen_t *s = u;
    assert_true(strcmp(e->name, ".") && strcmp(e->name, ".."));
    if (s->n < 16) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", e->name);
        s->types[s->n] = e->type;
    }
    s->n++;
    return s->stop_at && s->n == s->stop_at ? 42 : 0;
}

static int fsc_type_of(const fsc_seen_t *s, const char *name)
{
    for (int i = 0; i < s->n && i < 16; i++)
        if (!strcmp(s->names[i], name))
            return s->types[i];
    return -1;
}

static void fsc_test_list(void **state)
{
    (void)state;
    assert_int_equal(FSC(mkdir, "L"), 0);
    assert_int_equal(FSC(mkdir, "L/sub"), 0);
    fsc_put("L/f1", "1");
    fsc_put("L/f2", "22");
    fsc_seen_t s = {0};
    assert_int_equal(FSC(list, "L", fsc_collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(fsc_type_of(&s, "sub"), SW_FT_DIR);
    assert_int_equal(fsc_type_of(&s, "f1"), SW_FT_FILE);
    assert_int_equal(fsc_type_of(&s, "f2"), SW_FT_FILE);
    fsc_seen_t s2 = {.stop_at = 2};
    assert_int_equal(FSC(list, "L", fsc_collect, &s2), 42);
    assert_int_equal(s2.n, 2);
    fsc_seen_t s3 = {0};
    assert_int_equal(FSC(list, "L/sub", fsc_collect, &s3), 0);
    assert_int_equal(s3.n, 0);
    fsc_seen_t s4 = {0};
    assert_int_equal(FSC(list, "", fsc_collect, &s4), 0);
    assert_int_equal(fsc_type_of(&s4, "L"), SW_FT_DIR);
    assert_int_equal(fsc_type_of(&s4, "a.txt"), SW_FT_FILE);
    assert_int_equal(fsc_type_of(&s4, "d"), SW_FT_DIR);
    assert_int_equal(fsc_type_of(&s4, "f1"), -1);
    assert_int_equal(FSC(list, "a.txt", fsc_collect, &s4), SW_ENOTDIR);
    assert_int_equal(FSC(list, "nope", fsc_collect, &s4), SW_ENOENT);
    assert_int_equal(FSC(list, "L/f1/x", fsc_collect, &s4), SW_ENOTDIR);
    assert_int_equal(FSC(unlink, "L/f1"), 0);
    assert_int_equal(FSC(unlink, "L/f2"), 0);
    assert_int_equal(FSC(rmdir, "L/sub"), 0);
    assert_int_equal(FSC(rmdir, "L"), 0);
}

// Random writes and reads through one handle against a model of the file's bytes, then the
// same bytes read back through a new handle after close.
static void fsc_test_random_io(void **state)
{
    (void)state;
    enum { MODEL = 1 << 15, CHUNK = 1 << 11 };
    static uint8_t model[MODEL], buf[CHUNK];
    size_t size = 0;
    tu_rng_t r = {0x5eed1234abcdull};
    int h = fsc_open("rand.bin", SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC);
    assert_true(h >= 0);
    for (int round = 0; round < 1500; round++) {
        size_t off = tu_below(&r, MODEL - CHUNK);
        size_t n = tu_below(&r, CHUNK);
        if (round % 7 == 0 && size + 300 < MODEL) { // appends, as a file is usually written
            off = size, n = tu_below(&r, 300);
        }
        if (tu_below(&r, 2)) {
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)tu_next(&r);
            assert_int_equal(FSC(write, h, off, buf, n), (int)n);
            memcpy(model + off, buf, n);
            if (n && off + n > size) {
                if (off > size)
                    memset(model + size, 0, off - size);
                size = off + n;
            }
        } else {
            int got = FSC(read, h, off, buf, n);
            size_t want = off >= size ? 0 : size - off < n ? size - off : n;
            assert_int_equal(got, (int)want);
            assert_memory_equal(buf, model + off, want);
        }
        if (round % 200 == 199)
            assert_int_equal(FSC(sync, h), 0);
    }
    sw_stat_t st;
    assert_int_equal(FSC(stat, "rand.bin", &st), 0);
    assert_int_equal(st.size, size);
    assert_int_equal(FSC(close, h), 0);
    h = fsc_open("rand.bin", SW_O_READ);
    for (size_t off = 0; off < size; off += CHUNK) {
        size_t want = size - off < CHUNK ? size - off : CHUNK;
        assert_int_equal(FSC(read, h, off, buf, CHUNK), (int)want);
        assert_memory_equal(buf, model + off, want);
    }
    assert_int_equal(FSC(close, h), 0);
    assert_int_equal(FSC(unlink, "rand.bin"), 0);
}

#define FSC_TESTS                                                                              \
    cmocka_unit_test(fsc_test_read_write), cmocka_unit_test(fsc_test_open_errors),             \
        cmocka_unit_test(fsc_test_bad_paths), cmocka_unit_test(fsc_test_handle_table),         \
        cmocka_unit_test(fsc_test_dirs), cmocka_unit_test(fsc_test_rename),                    \
        cmocka_unit_test(fsc_test_move_flush),                                                 \
        cmocka_unit_test(fsc_test_list), cmocka_unit_test(fsc_test_random_io)

#endif
