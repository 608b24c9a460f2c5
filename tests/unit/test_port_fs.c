// Files of the POSIX port (src/port/posix/fs_posix.c, compiled into this test): the
// file-system conformance suite (fs_conform.h, shared with flashfs), then what is the POSIX
// port's own: confinement to the root (symlinks anywhere are refused, never followed), FIFOs,
// close-on-exec, no root, read-only mode, errno mapping.
#include "../../src/port/posix/fs_posix.c" // first: it sets _GNU_SOURCE
#include "../../src/port/posix/fs_fault.c"  // its test-build hooks (inert here: no SW_TEST_FS_FAULT)

#include <ftw.h>
#include <sys/stat.h>

#include "fs_conform.h"

static sw_posix_t port; // only .fs is used
static char top[64], root[96], outside[96];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", top, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", top, rel);
    assert_int_equal(symlink(target, path), 0);
}

static bool exists(const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", top, rel);
    return lstat(path, &st) == 0;
}

// top/outside/secret, top/root/{a.txt, d/b.txt, d/e/}, and symlinks pointing out of the root.
static int setup(void **state)
{
    (void)state;
    snprintf(top, sizeof top, "/tmp/sw_fs_XXXXXX");
    assert_non_null(mkdtemp(top));
    snprintf(root, sizeof root, "%s/root", top);
    snprintf(outside, sizeof outside, "%s/outside", top);
    assert_int_equal(mkdir(root, 0777), 0);
    assert_int_equal(mkdir(outside, 0777), 0);
    char d[128];
    snprintf(d, sizeof d, "%s/d", root);
    assert_int_equal(mkdir(d, 0777), 0);
    snprintf(d, sizeof d, "%s/d/e", root);
    assert_int_equal(mkdir(d, 0777), 0);
    put("outside/secret", "top secret");
    put("root/a.txt", "alpha");
    put("root/d/b.txt", "bravo!");
    link_at("../outside", "root/lnk_dir");
    link_at("../outside/secret", "root/lnk_file");
    link_at("/etc", "root/d/etc");
    link_at("../outside/new", "root/dangling");
    assert_int_equal(sw__posix_fs_init(&port.fs, root, 4), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sw__posix_fs_close(&port.fs);
    nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int open_(const char *path, int flags)
{
    int h = -1;
    int r = sw__posix_fs_open(&port, path, flags, &h);
    if (r)
        assert_int_equal(h, -1);
    return r ? r : h;
}

static void test_fifo(void **state)
{
    (void)state;
    // a FIFO would block the loop on open: refused at once
    char path[256];
    snprintf(path, sizeof path, "%s/fifo", root);
    assert_int_equal(mkfifo(path, 0666), 0);
    assert_int_equal(open_("fifo", SW_O_READ), SW_EPERM);
    sw_stat_t st;
    assert_int_equal(sw__posix_fs_stat(&port, "fifo", &st), 0);
    assert_int_equal(st.type, SW_FT_OTHER);
    assert_int_equal(sw__posix_fs_unlink(&port, "fifo"), 0);
}

static void test_symlinks_confined(void **state)
{
    (void)state;
    sw_stat_t st;
    // the link itself is visible (as "other"), never what it points to
    assert_int_equal(sw__posix_fs_stat(&port, "lnk_file", &st), 0);
    assert_int_equal(st.type, SW_FT_OTHER);
    assert_int_equal(sw__posix_fs_stat(&port, "lnk_dir", &st), 0);
    assert_int_equal(st.type, SW_FT_OTHER);
    assert_int_equal(open_("lnk_file", SW_O_READ), SW_EPERM);
    assert_int_equal(open_("lnk_file", SW_O_WRITE | SW_O_TRUNC), SW_EPERM);
    assert_int_equal(open_("lnk_dir/secret", SW_O_READ), SW_EPERM);
    assert_int_equal(open_("d/etc/passwd", SW_O_READ), SW_EPERM);
    assert_int_equal(sw__posix_fs_stat(&port, "lnk_dir/secret", &st), SW_EPERM);
    assert_int_equal(sw__posix_fs_mkdir(&port, "lnk_dir/x"), SW_EPERM);
    assert_int_equal(sw__posix_fs_unlink(&port, "lnk_dir/secret"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rename(&port, "a.txt", "lnk_dir/stolen"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rename(&port, "lnk_dir/secret", "got"), SW_EPERM);
    // creating through a dangling link must not create its target outside
    assert_int_equal(open_("dangling", SW_O_WRITE | SW_O_CREATE), SW_EPERM);
    assert_false(exists("outside/new"));
    assert_int_equal(sw__posix_fs_list(&port, "lnk_dir", NULL, NULL), SW_EPERM);
    assert_int_equal(sw__posix_fs_list(&port, "d/etc", NULL, NULL), SW_EPERM);
    // a link is never moved or replaced by a rename; unlink removes the link, not its target
    assert_int_equal(sw__posix_fs_rename(&port, "lnk_file", "lnk_file2"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rename(&port, "a.txt", "lnk_file"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rename(&port, "a.txt", "d/etc"), SW_EPERM);
    assert_true(exists("root/a.txt"));
    assert_int_equal(sw__posix_fs_unlink(&port, "lnk_file"), 0);
    assert_true(exists("outside/secret"));
    assert_false(exists("root/lnk_file"));
    assert_int_equal(sw__posix_fs_rmdir(&port, "lnk_dir"), SW_ENOTDIR);
    assert_true(exists("outside/secret"));
    link_at("../outside/secret", "root/lnk_file"); // as setup() made it, for the other tests
}

// Handles are small integers over descriptors that do not leak into a re-exec.
static void test_cloexec(void **state)
{
    (void)state;
    int h = open_("a.txt", SW_O_READ);
    assert_int_equal(h, 0);
    assert_true(fcntl(port.fs.fds[h], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(sw__posix_fs_close_fd(&port, h), 0);
    assert_true(fcntl(port.fs.rootfd, F_GETFD) & FD_CLOEXEC);
}

// The root as setup() made it, symlinks included (as "other").
static void test_list_links(void **state)
{
    (void)state;
    fsc_seen_t s = {0};
    assert_int_equal(sw__posix_fs_list(&port, "", fsc_collect, &s), 0);
    assert_int_equal(s.n, 5); // a.txt d lnk_dir lnk_file dangling
    assert_int_equal(fsc_type_of(&s, "a.txt"), SW_FT_FILE);
    assert_int_equal(fsc_type_of(&s, "d"), SW_FT_DIR);
    assert_int_equal(fsc_type_of(&s, "lnk_dir"), SW_FT_OTHER);
    assert_int_equal(fsc_type_of(&s, "dangling"), SW_FT_OTHER);
    // listing the root again starts from the beginning (its own descriptor each time)
    fsc_seen_t s2 = {0};
    assert_int_equal(sw__posix_fs_list(&port, "", fsc_collect, &s2), 0);
    assert_int_equal(s2.n, 5);
    fsc_seen_t s3 = {.stop_at = 2};
    assert_int_equal(sw__posix_fs_list(&port, "", fsc_collect, &s3), 42);
    assert_int_equal(s3.n, 2);
    fsc_seen_t s4 = {0};
    assert_int_equal(sw__posix_fs_list(&port, "d", fsc_collect, &s4), 0);
    assert_int_equal(s4.n, 3);
    assert_int_equal(fsc_type_of(&s4, "e"), SW_FT_DIR);
    assert_int_equal(fsc_type_of(&s4, "etc"), SW_FT_OTHER);
    assert_int_equal(sw__posix_fs_list(&port, "a.txt", fsc_collect, &s4), SW_ENOTDIR);
    assert_int_equal(sw__posix_fs_list(&port, "nope", fsc_collect, &s4), SW_ENOENT);
}

static void test_no_root(void **state)
{
    (void)state;
    static sw_posix_t none;
    assert_int_equal(sw__posix_fs_init(&none.fs, NULL, 2), 0);
    int h;
    sw_stat_t st;
    assert_int_equal(sw__posix_fs_open(&none, "a", SW_O_READ, &h), SW_ENOENT);
    assert_int_equal(sw__posix_fs_stat(&none, "", &st), SW_ENOENT);
    assert_int_equal(sw__posix_fs_mkdir(&none, "a"), SW_EPERM);
    assert_int_equal(sw__posix_fs_unlink(&none, "a"), SW_EPERM);
    assert_int_equal(sw__posix_fs_list(&none, "", fsc_collect, NULL), SW_ENOENT);
    sw__posix_fs_close(&none.fs);
    char path[128];
    snprintf(path, sizeof path, "%s/missing", top);
    assert_int_equal(sw__posix_fs_init(&none.fs, path, 2), SW_ENOENT);
    snprintf(path, sizeof path, "%s/a.txt", root);
    assert_int_equal(sw__posix_fs_init(&none.fs, path, 2), SW_ENOTDIR);
}

static void test_read_only(void **state)
{
    (void)state;
    static sw_posix_t ro;
    assert_int_equal(sw__posix_fs_init(&ro.fs, root, 2), 0);
    ro.fs.read_only = true;
    int h;
    assert_int_equal(sw__posix_fs_open(&ro, "a.txt", SW_O_READ, &h), 0);
    char buf[8];
    assert_int_equal(sw__posix_fs_read(&ro, h, 0, buf, sizeof buf), 5);
    assert_int_equal(sw__posix_fs_close_fd(&ro, h), 0);
    sw_stat_t st;
    assert_int_equal(sw__posix_fs_stat(&ro, "d/b.txt", &st), 0);
    fsc_seen_t s = {0};
    assert_int_equal(sw__posix_fs_list(&ro, "", fsc_collect, &s), 0);
    assert_int_equal(sw__posix_fs_open(&ro, "a.txt", SW_O_WRITE, &h), SW_EPERM);
    assert_int_equal(sw__posix_fs_open(&ro, "a.txt", SW_O_READ | SW_O_WRITE, &h), SW_EPERM);
    assert_int_equal(sw__posix_fs_open(&ro, "new", SW_O_READ | SW_O_CREATE, &h), SW_EPERM);
    assert_int_equal(sw__posix_fs_mkdir(&ro, "nd"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rmdir(&ro, "d/e"), SW_EPERM);
    assert_int_equal(sw__posix_fs_unlink(&ro, "a.txt"), SW_EPERM);
    assert_int_equal(sw__posix_fs_rename(&ro, "a.txt", "b.txt"), SW_EPERM);
    assert_true(exists("root/a.txt") && exists("root/d/e") && !exists("root/nd"));
    assert_false(exists("root/new") || exists("root/b.txt"));
    sw__posix_fs_close(&ro.fs);
}

static void test_errno_map(void **state)
{
    (void)state;
    assert_int_equal(sw__posix_errno(ENOENT), SW_ENOENT);
    assert_int_equal(sw__posix_errno(EEXIST), SW_EEXIST);
    assert_int_equal(sw__posix_errno(ENOTDIR), SW_ENOTDIR);
    assert_int_equal(sw__posix_errno(EISDIR), SW_EISDIR);
    assert_int_equal(sw__posix_errno(ENOTEMPTY), SW_ENOTEMPTY);
    assert_int_equal(sw__posix_errno(EACCES), SW_EPERM);
    assert_int_equal(sw__posix_errno(EPERM), SW_EPERM);
    assert_int_equal(sw__posix_errno(ELOOP), SW_EPERM);
    assert_int_equal(sw__posix_errno(ENOSPC), SW_ENOSPC); // its own error, not EIO (issue 10)
    assert_int_equal(sw__posix_errno(EDQUOT), SW_ENOSPC);
    assert_int_equal(sw__posix_errno(EIO), SW_EIO);
    assert_int_equal(sw__posix_errno(EMFILE), SW_EFULL);
    assert_int_equal(sw__posix_errno(EFBIG), SW_ETOOBIG);
    assert_int_equal(sw__posix_errno(12345), SW_EIO);
}

static const sw_port_ops_t posix_files = {
    .fs_open = sw__posix_fs_open, .fs_read = sw__posix_fs_read, .fs_write = sw__posix_fs_write,
    .fs_sync = sw__posix_fs_sync, .fs_close = sw__posix_fs_close_fd, .fs_stat = sw__posix_fs_stat,
    .fs_mkdir = sw__posix_fs_mkdir, .fs_rmdir = sw__posix_fs_rmdir,
    .fs_unlink = sw__posix_fs_unlink, .fs_rename = sw__posix_fs_rename,
    .fs_move = sw__posix_fs_move, .fs_flush = sw__posix_fs_flush,
    .fs_list = sw__posix_fs_list,
};

int main(void)
{
    fsc = (fsc_fixture_t){.ops = &posix_files, .ctx = &port, .max_files = 4, .has_mtime = true};
    const struct CMUnitTest tests[] = {
        FSC_TESTS,
        cmocka_unit_test(test_fifo),          cmocka_unit_test(test_symlinks_confined),
        cmocka_unit_test(test_cloexec),       cmocka_unit_test(test_list_links),
        cmocka_unit_test(test_no_root),       cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_errno_map),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
