// Path normalisation: a table of inputs and their normal form or error, the error precedence,
// output-size edges, long segments, and a random property check against a simple stack model.
#include "testutil.h"

#include "swarm/ftp.h"
#include "swarm/path.h"
#include "swarm/port.h"

typedef struct {
    const char *in;
    int rc;          // expected length, or an error
    const char *out; // expected result when rc >= 0
} case_t;

static const case_t cases[] = {
    {"", 0, ""},
    {"/", 0, ""},
    {"//", 0, ""},
    {".", 0, ""},
    {"./", 0, ""},
    {"/./", 0, ""},
    {"./.", 0, ""},
    {"a", 1, "a"},
    {"/a", 1, "a"},
    {"a/", 1, "a"},
    {"/a/", 1, "a"},
    {"a//b", 3, "a/b"},
    {"a///b//", 3, "a/b"},
    {"//a", 1, "a"},
    {"./a", 1, "a"},
    {"a/./b", 3, "a/b"},
    {"a/b/", 3, "a/b"},
    {"a/b/.", 3, "a/b"},
    {"a/..", 0, ""},
    {"a/../", 0, ""},
    {"/a/..", 0, ""},
    {"a/b/..", 1, "a"},
    {"a/b/../c", 3, "a/c"},
    {"a/b/../../c", 1, "c"},
    {"a/./../b", 1, "b"},
    {"apps/x/main.lua", 15, "apps/x/main.lua"},
    {"/apps/x/../y/./main.lua", 15, "apps/y/main.lua"},
    {"...", 3, "..."},
    {"a/...", 5, "a/..."},
    {".../..", 0, ""},
    {"..a", 3, "..a"},
    {"a..", 3, "a.."},
    {".a/b.", 5, ".a/b."},
    {" / ", 3, " / "},
    {" /./ ", 3, " / "},
    {"a b/c", 5, "a b/c"},
    {"\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9"},
    {"..", SW_EPERM, NULL},
    {"/..", SW_EPERM, NULL},
    {"../a", SW_EPERM, NULL},
    {"a/../..", SW_EPERM, NULL},
    {"a/../../b", SW_EPERM, NULL},
    {"../a/..", SW_EPERM, NULL},
    {"a/b/../../..", SW_EPERM, NULL},
    {"./..", SW_EPERM, NULL},
    {"a/../b/../..", SW_EPERM, NULL},
    {"a\\b", SW_EINVAL, NULL},
    {"\\", SW_EINVAL, NULL},
    {"..\\a", SW_EINVAL, NULL}, // a bad byte outranks ".." above the root
    {"../a\\b", SW_EINVAL, NULL},
};

static void check(const char *in, size_t n, int rc, const char *want)
{
    char out[1024];
    memset(out, 'X', sizeof out);
    int got = sw_path_norm(in, n, out, sizeof out);
    if (got != rc)
        fail_msg("'%.*s': got %d (%s), want %d", (int)n, in, got, sw_errname(got), rc);
    if (rc >= 0) {
        if (strcmp(out, want) != 0)
            fail_msg("'%.*s': got '%s', want '%s'", (int)n, in, out, want);
        assert_int_equal(strlen(out), (size_t)rc);
    }
}

static void test_table(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        check(cases[k].in, strlen(cases[k].in), cases[k].rc, cases[k].out);
}

static void test_nul_and_length(void **state)
{
    (void)state;
    check("a\0b", 3, SW_EINVAL, NULL);
    check("\0", 1, SW_EINVAL, NULL);
    check("abc", 2, 2, "ab"); // n, not the NUL, bounds the input
    check(NULL, 0, 0, "");
    char out[4];
    assert_int_equal(sw_path_norm(NULL, 1, out, sizeof out), SW_EINVAL);
}

static void test_segment_length(void **state)
{
    (void)state;
    char in[600], want[600];
    memset(in, 'a', sizeof in);
    memcpy(want, in, SW_NAME_MAX);
    want[SW_NAME_MAX] = 0;
    check(in, SW_NAME_MAX, SW_NAME_MAX, want);
    check(in, SW_NAME_MAX + 1, SW_EINVAL, NULL);
    // a long segment is refused even when ".." would remove it
    memcpy(in + 256, "/..", 3);
    check(in, 259, SW_EINVAL, NULL);
    // 255 + "/" + 255 is fine
    in[255] = '/';
    memset(in + 256, 'b', 255);
    char out[600];
    assert_int_equal(sw_path_norm(in, 511, out, sizeof out), 511);
    assert_int_equal(out[255], '/');
    assert_int_equal(out[511], 0);
}

static void test_out_size(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'X', sizeof out);
    // exactly fits: 3 chars + NUL
    assert_int_equal(sw_path_norm("a/b", 3, out, 4), 3);
    assert_string_equal(out, "a/b");
    assert_int_equal(sw_path_norm("a/b", 3, out, 3), SW_ETOOBIG);
    assert_int_equal(sw_path_norm("", 0, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(sw_path_norm("", 0, out, 0), SW_ETOOBIG);
    assert_int_equal(sw_path_norm("a", 1, NULL, 0), SW_ETOOBIG);
    // only the result must fit, not what ".." later removes
    const char *in = "verylongname/../x";
    assert_int_equal(sw_path_norm(in, strlen(in), out, 2), 1);
    assert_string_equal(out, "x");
    // errors outrank a small buffer
    assert_int_equal(sw_path_norm("../abcdef", 9, out, 2), SW_EPERM);
    // nothing written past cap on ETOOBIG
    memset(out, 'X', sizeof out);
    assert_int_equal(sw_path_norm("abcdefgh", 8, out, 4), SW_ETOOBIG);
    assert_int_equal(out[4], 'X');
}

static void test_long_input(void **state)
{
    (void)state;
    // 100k bytes of "./" and "a/..": normalises to the root without a big buffer
    static char in[100000];
    for (size_t k = 0; k + 5 <= sizeof in; k += 5)
        memcpy(in + k, "a/../", 5);
    char out[2];
    assert_int_equal(sw_path_norm(in, sizeof in, out, sizeof out), 0);
    assert_string_equal(out, "");
    // and a long legal result
    static char big[70000], res[70000];
    for (size_t k = 0; k + 2 <= sizeof big; k += 2)
        memcpy(big + k, "x/", 2);
    int rc = sw_path_norm(big, sizeof big, res, sizeof res);
    assert_int_equal(rc, (int)sizeof big - 1);
    assert_int_equal(res[rc - 1], 'x');
}

static void test_base(void **state)
{
    (void)state;
    assert_string_equal(sw_path_base("apps/x/main.lua"), "main.lua");
    assert_string_equal(sw_path_base("main.lua"), "main.lua");
    assert_string_equal(sw_path_base(""), "");
    assert_string_equal(sw_path_base("a/b"), "b");
    assert_string_equal(sw_path_base(NULL), "");
    const char *p = "x/yz";
    assert_ptr_equal(sw_path_base(p), p + 2);
}

// Model: split on '/', push names, pop on "..", refuse a pop at the root.
static int model(const char *in, size_t n, char *out)
{
    const char *seg[512];
    size_t len[512], depth = 0;
    size_t s = 0;
    for (size_t k = 0; k <= n; k++) {
        if (k < n && in[k] != '/')
            continue;
        size_t m = k - s;
        if (m == 2 && in[s] == '.' && in[s + 1] == '.') {
            if (depth == 0)
                return SW_EPERM;
            depth--;
        } else if (m && !(m == 1 && in[s] == '.')) {
            seg[depth] = in + s;
            len[depth++] = m;
        }
        s = k + 1;
    }
    size_t at = 0;
    for (size_t d = 0; d < depth; d++) {
        if (d)
            out[at++] = '/';
        memcpy(out + at, seg[d], len[d]);
        at += len[d];
    }
    out[at] = 0;
    return (int)at;
}

// The node's key file is nobody's to name, however the path is spelt (FTP's relative form too).
static void test_reserved_key(void **state)
{
    (void)state;
    static const char *const refused[] = {"swarm.key", "/swarm.key", "./swarm.key", "a/../swarm.key",
                                          "swarm.key/", "//swarm.key", "swarm.key.tmp", "swarm.key.old"};
    char out[64];
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        if (sw_path_norm(refused[k], strlen(refused[k]), out, sizeof out) != SW_EPERM)
            fail_msg("'%s' not refused", refused[k]);
        if (sw_ftp_path("", refused[k], strlen(refused[k]), out, sizeof out) != SW_EPERM)
            fail_msg("ftp '%s' not refused", refused[k]);
    }
    assert_int_equal(sw_ftp_path("apps", "../swarm.key", 12, out, sizeof out), SW_EPERM);
    // other names are plain files
    check("swarm.keys", 10, 10, "swarm.keys");
    check("apps/swarm.key", 14, 14, "apps/swarm.key");
    check("swarm.cfg", 9, 9, "swarm.cfg");
}

static void test_random_vs_model(void **state)
{
    (void)state;
    static const char *const parts[] = {"a", "bc", ".", "..", "", "...", ".x", "/"};
    tu_rng_t r = {0x9e3779b97f4a7c15ull};
    int ok = 0, perm = 0;
    for (int round = 0; round < 20000; round++) {
        char in[256];
        size_t n = 0;
        uint32_t k = tu_below(&r, 12);
        if (tu_below(&r, 3) == 0)
            in[n++] = '/';
        for (uint32_t j = 0; j < k; j++) {
            const char *p = parts[tu_below(&r, 8)];
            memcpy(in + n, p, strlen(p));
            n += strlen(p);
            if (tu_below(&r, 4))
                in[n++] = '/';
        }
        char want[256], got[256];
        int rw = model(in, n, want);
        int rg = sw_path_norm(in, n, got, sizeof got);
        if (rw != rg)
            fail_msg("'%.*s': got %d, model %d", (int)n, in, rg, rw);
        if (rw >= 0) {
            assert_string_equal(got, want);
            ok++;
            // idempotent
            char again[256];
            assert_int_equal(sw_path_norm(got, (size_t)rg, again, sizeof again), rg);
            assert_string_equal(again, got);
        } else {
            perm++;
        }
    }
    // the generator must exercise both outcomes
    assert_true(ok > 1000);
    assert_true(perm > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul_and_length),
        cmocka_unit_test(test_segment_length),
        cmocka_unit_test(test_out_size),
        cmocka_unit_test(test_long_input),
        cmocka_unit_test(test_base),
        cmocka_unit_test(test_random_vs_model),
        cmocka_unit_test(test_reserved_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
