// Push manifests (src/host/manifest.c): the id is exactly the app hash (a vector computed by
// the Python reference of tests/e2e/test_discovery.py), the walk order (depth-first, names in
// byte order, '.' names skipped), the bounds, the device's MsgPack form, and the diff (a
// property test: applying it to the device's manifest gives the local one).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "manifest.h"
#include "swarm/sw.h"

static char root[256];

static void put_file(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static void make_dir(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/sw_test_manifest_XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_empty(void **state)
{
    (void)state;
    sw_manifest_t m;
    sw_manifest_init(&m);
    char err[200];
    // no directory at all is the empty target, as is an empty one: SHA-256 of nothing
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none", root);
    assert_int_equal(sw_manifest_scan(missing, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 0);
    assert_string_equal(m.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    make_dir("empty");
    make_dir("empty/sub");
    put_file("empty/.hidden", "x");
    snprintf(missing, sizeof missing, "%s/empty", root);
    assert_int_equal(sw_manifest_scan(missing, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 0);
    assert_string_equal(m.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sw_manifest_free(&m);
}

static void test_vector(void **state)
{
    (void)state;
    make_dir("a");
    make_dir("z");
    make_dir("a/deep");
    put_file("a/b", "x");
    put_file("a.txt", "hello");
    put_file("main.lua", "local M={}\nreturn M\n");
    put_file(".hidden", "h");
    put_file("a/deep/q", "q");
    sw_manifest_t m;
    sw_manifest_init(&m);
    char err[200];
    assert_int_equal(sw_manifest_scan(root, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 4);
    // depth-first with names in byte order: "a" < "a.txt", so a/… comes before a.txt
    assert_string_equal(m.files[0].path, "a/b");
    assert_string_equal(m.files[1].path, "a/deep/q");
    assert_string_equal(m.files[2].path, "a.txt");
    assert_string_equal(m.files[3].path, "main.lua");
    assert_int_equal(m.files[2].size, 5);
    assert_int_equal(m.bytes, 1 + 1 + 5 + 20);
    assert_string_equal(m.hex, "67e9f95ff79a9c81cdf57990b6c869ccb23237eac75a2ab99d7a436589933050");
    uint8_t id[32];
    assert_true(sw_manifest_unhex(m.hex, 64, id));
    assert_memory_equal(id, m.id, 32);
    assert_non_null(sw_manifest_find(&m, "a/deep/q"));
    assert_null(sw_manifest_find(&m, ".hidden"));
    assert_null(sw_manifest_find(&m, "a"));

    // a symbolic link is followed: the device receives what it points to
    char target[300], link[300];
    snprintf(target, sizeof target, "%s/a.txt", root);
    snprintf(link, sizeof link, "%s/b.lnk", root);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(sw_manifest_scan(root, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 5);
    assert_string_equal(m.files[3].path, "b.lnk");
    assert_int_equal(m.files[3].size, 5);
    assert_memory_equal(m.files[3].sha256, m.files[2].sha256, 32);
    sw_manifest_free(&m);
}

static void test_bounds(void **state)
{
    (void)state;
    sw_manifest_t m;
    sw_manifest_init(&m);
    char err[200];
    // nine directory levels below the target: one too many
    char rel[200] = "d";
    make_dir(rel);
    for (int i = 1; i < 9; i++) {
        strcat(rel, "/d");
        make_dir(rel);
    }
    strcat(rel, "/f");
    put_file(rel, "x");
    assert_int_equal(sw_manifest_scan(root, &m, err, sizeof err), SW_EDEPTH);
    assert_non_null(strstr(err, "directory levels"));
    assert_int_equal(m.n, 0);
    // eight are fine
    char sub[300];
    snprintf(sub, sizeof sub, "%s/d", root);
    assert_int_equal(sw_manifest_scan(sub, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.files[0].path, "d/d/d/d/d/d/d/d/f");

    // 256 files are fine, 257 are not
    make_dir("many");
    for (int i = 0; i < SW_MF_MAX_FILES; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/f%03d", i);
        put_file(name, "");
    }
    snprintf(sub, sizeof sub, "%s/many", root);
    assert_int_equal(sw_manifest_scan(sub, &m, err, sizeof err), 0);
    assert_int_equal(m.n, SW_MF_MAX_FILES);
    put_file("many/g", "");
    assert_int_equal(sw_manifest_scan(sub, &m, err, sizeof err), SW_ETOOBIG);
    assert_non_null(strstr(err, "files"));
    assert_int_equal(m.n, 0);

    // sizes over the byte bound
    uint8_t sha[32] = {0};
    sw_manifest_t b;
    sw_manifest_init(&b);
    assert_int_equal(sw_manifest_add(&b, "x", SW_MF_MAX_BYTES, sha), 0);
    assert_int_equal(sw_manifest_add(&b, "y", 1, sha), SW_ETOOBIG);
    assert_int_equal(sw_manifest_add(&b, "", 1, sha), SW_ETOOBIG);
    sw_manifest_free(&b);
    sw_manifest_free(&m);
}

// The device's form: [[path, size, bin32], …]
static void write_mp(const sw_manifest_t *m, sw_mpw_t *w)
{
    sw_mpw_array(w, (uint32_t)m->n);
    for (size_t i = 0; i < m->n; i++) {
        sw_mpw_array(w, 3);
        sw_mpw_cstr(w, m->files[i].path);
        sw_mpw_uint(w, m->files[i].size);
        sw_mpw_bin(w, m->files[i].sha256, 32);
    }
}

static void test_from_mp(void **state)
{
    (void)state;
    sw_manifest_t m, d;
    sw_manifest_init(&m);
    sw_manifest_init(&d);
    uint8_t sha[32];
    for (int i = 0; i < 5; i++) {
        memset(sha, i, sizeof sha);
        char p[16];
        snprintf(p, sizeof p, "f%d", i);
        assert_int_equal(sw_manifest_add(&m, p, (uint64_t)i * 1000, sha), 0);
    }
    sw_manifest_finish(&m);
    static uint8_t buf[4096];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    write_mp(&m, &w);
    assert_int_equal(w.err, 0);
    assert_int_equal(sw_manifest_from_mp(buf, w.len, &d), 0);
    assert_int_equal(d.n, 5);
    assert_string_equal(d.hex, m.hex);
    assert_string_equal(d.files[3].path, "f3");
    assert_int_equal(d.files[3].size, 3000);

    // in pages, as a node sends it over a link with small messages
    sw_manifest_t pg;
    sw_manifest_init(&pg);
    for (size_t from = 0; from < m.n; from += 2) {
        sw_mpw_init(&w, buf, sizeof buf);
        size_t k = m.n - from < 2 ? m.n - from : 2;
        sw_mpw_array(&w, (uint32_t)k);
        for (size_t i = from; i < from + k; i++) {
            sw_mpw_array(&w, 3);
            sw_mpw_cstr(&w, m.files[i].path);
            sw_mpw_uint(&w, m.files[i].size);
            sw_mpw_bin(&w, m.files[i].sha256, 32);
        }
        assert_int_equal(sw_manifest_add_mp(buf, w.len, &pg), 0);
    }
    // a bad page changes nothing
    uint8_t bad_page[64];
    size_t bn = tu_hex("92 93 a1 7a 01 c4 20 0000000000000000000000000000000000000000000000000000000000000000 93 01",
                       bad_page, sizeof bad_page);
    assert_int_equal(sw_manifest_add_mp(bad_page, bn, &pg), SW_EPROTO);
    assert_int_equal(pg.n, 5);
    sw_manifest_finish(&pg);
    assert_string_equal(pg.hex, m.hex);
    assert_int_equal(pg.bytes, m.bytes);
    sw_manifest_free(&pg);

    // later versions may add fields to an entry
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_array(&w, 1);
    sw_mpw_array(&w, 4);
    sw_mpw_cstr(&w, "x"), sw_mpw_uint(&w, 1), sw_mpw_bin(&w, sha, 32), sw_mpw_cstr(&w, "extra");
    assert_int_equal(sw_manifest_from_mp(buf, w.len, &d), 0);
    assert_int_equal(d.n, 1);

    // malformed: short digest, wrong types, truncated, NUL in a path, empty path
    const char *bad[] = {
        "91 93 a1 78 01 c4 1f",                        // bin of 31 (truncated anyway)
        "91 93 01 01 c4 20",                           // number as path
        "91 92 a1 78 01",                              // two fields
        "92 93 a1 78 01",                              // truncated
        "81 a1 78 01",                                 // a map
        "91 93 a0 01 c4 20 00000000000000000000000000000000000000000000000000000000000000 00",
        "91 93 a2 7800 01 c4 20 0000000000000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[256];
        size_t n = tu_hex(bad[i], b, sizeof b);
        assert_int_equal(sw_manifest_from_mp(b, n, &d), SW_EPROTO);
        assert_int_equal(d.n, 0);
    }
    sw_manifest_free(&m);
    sw_manifest_free(&d);
}

static void random_manifest(tu_rng_t *r, sw_manifest_t *m, int names)
{
    sw_manifest_init(m);
    for (int i = 0; i < names; i++) {
        if (tu_below(r, 3) == 0)
            continue;
        char p[32];
        snprintf(p, sizeof p, "%s%d", tu_below(r, 2) ? "lib/" : "", i);
        uint8_t sha[32] = {0};
        sha[0] = (uint8_t)tu_below(r, 3);
        assert_int_equal(sw_manifest_add(m, p, tu_below(r, 3), sha), 0);
    }
    sw_manifest_finish(m);
}

static void test_diff_property(void **state)
{
    (void)state;
    tu_rng_t r = {0x5eed1234abcdull};
    for (int round = 0; round < 2000; round++) {
        sw_manifest_t want, have;
        random_manifest(&r, &want, 1 + (int)tu_below(&r, 12));
        random_manifest(&r, &have, 1 + (int)tu_below(&r, 12));
        sw_mf_diff_t d;
        assert_int_equal(sw_manifest_diff(&want, &have, &d), 0);
        // apply: have minus del, with put taken from want, must be want (as a set)
        size_t kept = 0;
        uint64_t bytes = 0;
        for (size_t i = 0; i < have.n; i++) {
            bool deleted = false;
            for (size_t k = 0; k < d.n_del; k++)
                deleted |= d.del[k] == i;
            const sw_mf_file_t *w = sw_manifest_find(&want, have.files[i].path);
            assert_true(deleted == (w == NULL));
            if (deleted)
                continue;
            bool replaced = false;
            for (size_t k = 0; k < d.n_put; k++)
                replaced |= !strcmp(want.files[d.put[k]].path, have.files[i].path);
            bool same = w->size == have.files[i].size &&
                        !memcmp(w->sha256, have.files[i].sha256, 32);
            assert_true(replaced == !same); // only what differs travels
            kept += !replaced;
        }
        for (size_t k = 0; k < d.n_put; k++)
            bytes += want.files[d.put[k]].size;
        assert_int_equal(kept + d.n_put, want.n);
        assert_int_equal(bytes, d.put_bytes);
        if (!strcmp(want.hex, have.hex))
            assert_int_equal(d.n_put + d.n_del, 0);
        // staging directories: parents first, each once, and every put file's parent is there
        char **dirs;
        long nd = sw_manifest_dirs(&want, &d, &dirs);
        assert_true(nd >= 0);
        for (size_t k = 0; k < d.n_put; k++) {
            const char *p = want.files[d.put[k]].path;
            bool nested = strchr(p, '/') != NULL;
            bool found = false;
            for (long j = 0; j < nd; j++)
                found |= !strncmp(dirs[j], p, strlen(dirs[j])) && p[strlen(dirs[j])] == '/';
            assert_true(found == nested);
        }
        for (long j = 0; j < nd; j++)
            free(dirs[j]);
        free(dirs);
        sw_mf_diff_free(&d);
        sw_manifest_free(&want);
        sw_manifest_free(&have);
    }
}

static void test_dirs_order(void **state)
{
    (void)state;
    sw_manifest_t m;
    sw_manifest_init(&m);
    uint8_t sha[32] = {0};
    const char *paths[] = {"a/b/c/f", "a/x", "top", "a/b/g", "d/e/f"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sw_manifest_add(&m, paths[i], 1, sha), 0);
    sw_manifest_finish(&m);
    sw_manifest_t none;
    sw_manifest_init(&none);
    sw_mf_diff_t d;
    assert_int_equal(sw_manifest_diff(&m, &none, &d), 0);
    char **dirs;
    long n = sw_manifest_dirs(&m, &d, &dirs);
    assert_int_equal(n, 5);
    const char *want[] = {"a", "a/b", "a/b/c", "d", "d/e"};
    for (long i = 0; i < n; i++) {
        assert_string_equal(dirs[i], want[i]);
        free(dirs[i]);
    }
    free(dirs);
    sw_mf_diff_free(&d);
    sw_manifest_free(&m);
}

static void test_unhex(void **state)
{
    (void)state;
    uint8_t b[32];
    assert_true(sw_manifest_unhex("00112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100", 64, b));
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[15], 0xff);
    assert_int_equal(b[16], 0xff);
    assert_false(sw_manifest_unhex("0011", 4, b));
    assert_false(sw_manifest_unhex("g0112233445566778899aabbccddeeffFFEEDDCCBBAA99887766554433221100", 64, b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test(test_from_mp),
        cmocka_unit_test(test_diff_property),
        cmocka_unit_test(test_dirs_order),
        cmocka_unit_test(test_unhex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
