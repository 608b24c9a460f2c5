// The host's file cache (src/host/fcache.c): a fact is found again only for the very same
// identity (device, inode, size, both times to the nanosecond); a file that changed less than
// SW_FCACHE_SETTLE_MS before it was read is not recorded ("racily clean"); what was recorded
// survives a save and a new process (reset + enable); the Lua mark goes with another Lua release;
// a damaged cache file is an empty one.
#define _GNU_SOURCE
#include <fcntl.h>
#include <lua.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "fcache.h"
#include "swarm/sw.h"

static char dir[256], cache[300], file[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sw_test_fcache_XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(cache, sizeof cache, "%s/files", dir);
    snprintf(file, sizeof file, "%s/a.lua", dir);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "return 1\n", 9), 9);
    close(fd);
    sw_fcache_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sw_fcache_reset();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

// The moment the file last changed, in ms (the later of its two times), and its stat.
static int64_t changed_ms(struct stat *st)
{
    assert_int_equal(stat(file, st), 0);
    int64_t m = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    int64_t c = (int64_t)st->st_ctim.tv_sec * 1000 + st->st_ctim.tv_nsec / 1000000;
    return m > c ? m : c;
}

static void test_off_until_enabled(void **state)
{
    (void)state;
    struct stat st;
    int64_t t = changed_ms(&st);
    uint8_t sha[32] = {1};
    sw_fcache_put(&st, t + 5000, SW_FC_SHA, sha);
    assert_int_equal(sw_fcache_get(&st, 0, NULL), 0);
    assert_false(sw_fcache_enabled());
    assert_int_equal(sw_fcache_save(), 0);
    assert_int_equal(access(cache, F_OK), -1); // nothing written
}

static void test_settle_window(void **state)
{
    (void)state;
    sw_fcache_enable(cache);
    struct stat st;
    int64_t t = changed_ms(&st);
    uint8_t sha[32], got[32];
    memset(sha, 0xab, sizeof sha);
    // read within the window after its last change: it may change again in the same clock tick
    sw_fcache_put(&st, t + SW_FCACHE_SETTLE_MS - 1, SW_FC_SHA, sha);
    assert_int_equal(sw_fcache_get(&st, 0, got), 0);
    sw_fcache_put(&st, t, SW_FC_LUA_OK, NULL);
    assert_int_equal(sw_fcache_get(&st, 0, got), 0);
    // settled: recorded, and both facts add up
    sw_fcache_put(&st, t + SW_FCACHE_SETTLE_MS, SW_FC_SHA, sha);
    sw_fcache_put(&st, t + SW_FCACHE_SETTLE_MS, SW_FC_LUA_OK, NULL);
    memset(got, 0, sizeof got);
    assert_int_equal(sw_fcache_get(&st, 0, got), SW_FC_SHA | SW_FC_LUA_OK);
    assert_memory_equal(got, sha, 32);
}

static void test_identity(void **state)
{
    (void)state;
    sw_fcache_enable(cache);
    struct stat st;
    int64_t t = changed_ms(&st);
    uint8_t sha[32] = {7};
    sw_fcache_put(&st, t + 10000, SW_FC_SHA, sha);
    assert_int_equal(sw_fcache_get(&st, 0, NULL), SW_FC_SHA);
    // any part of the identity differs: nothing known
    struct stat x = st;
    x.st_mtim.tv_nsec ^= 1;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    x = st;
    x.st_ctim.tv_nsec ^= 1;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    x = st;
    x.st_ctim.tv_sec++;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    x = st;
    x.st_size++;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    x = st;
    x.st_ino++;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    x = st;
    x.st_dev++;
    assert_int_equal(sw_fcache_get(&x, 0, NULL), 0);
    // a new identity of the same inode replaces the old one
    x = st;
    x.st_mtim.tv_sec++;
    sw_fcache_put(&x, t + 20000, SW_FC_LUA_OK, NULL);
    assert_int_equal(sw_fcache_get(&x, 0, NULL), SW_FC_LUA_OK);
    assert_int_equal(sw_fcache_get(&st, 0, NULL), 0);
    // found, but without the fact asked for: a miss in the counts
    assert_int_equal(sw_fcache_get(&x, SW_FC_SHA, NULL), SW_FC_LUA_OK);
    unsigned hits, misses;
    sw_fcache_stats(&hits, &misses);
    assert_int_equal(hits, 2);
    assert_int_equal(misses, 8);
}

static void test_saved_for_the_next_process(void **state)
{
    (void)state;
    sw_fcache_enable(cache);
    struct stat st;
    int64_t t = changed_ms(&st);
    uint8_t sha[32], got[32];
    for (int i = 0; i < 32; i++)
        sha[i] = (uint8_t)(i * 37);
    sw_fcache_put(&st, t + 10000, SW_FC_SHA | SW_FC_LUA_OK, sha);
    assert_int_equal(sw_fcache_save(), 0);
    sw_fcache_reset(); // a new command
    sw_fcache_enable(cache);
    assert_int_equal(sw_fcache_get(&st, 0, got), SW_FC_SHA | SW_FC_LUA_OK);
    assert_memory_equal(got, sha, 32);
    // another Lua release compiled the files: only the hash is still known
    FILE *f = fopen(cache, "r");
    assert_non_null(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *nl = strchr(text, '\n');
    assert_non_null(nl);
    f = fopen(cache, "w");
    assert_non_null(f);
    fprintf(f, "swarm-files 1 %d%s", LUA_VERSION_RELEASE_NUM + 1, nl);
    fclose(f);
    sw_fcache_reset();
    sw_fcache_enable(cache);
    assert_int_equal(sw_fcache_get(&st, 0, got), SW_FC_SHA);
    assert_memory_equal(got, sha, 32);
}

static void test_damaged_cache_is_empty(void **state)
{
    (void)state;
    struct stat st;
    int64_t t = changed_ms(&st);
    const char *bad[] = {"", "not a cache\n", "swarm-files 1 x\n1 2 3\n",
                         "swarm-files 2 50404\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(cache, "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        sw_fcache_reset();
        sw_fcache_enable(cache);
        assert_int_equal(sw_fcache_get(&st, 0, NULL), 0);
    }
    // a line whose hash is not 64 hex digits is skipped, the others are read
    FILE *f = fopen(cache, "w");
    assert_non_null(f);
    fprintf(f, "swarm-files 1 %d\n", LUA_VERSION_RELEASE_NUM);
    fprintf(f, "%llx %llx %llx %lld %ld %lld %ld 1 zz\n", (unsigned long long)st.st_dev,
            (unsigned long long)st.st_ino, (unsigned long long)st.st_size,
            (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
            (long)st.st_ctim.tv_nsec);
    fclose(f);
    sw_fcache_reset();
    sw_fcache_enable(cache);
    assert_int_equal(sw_fcache_get(&st, 0, NULL), 0);
    sw_fcache_put(&st, t + 10000, SW_FC_LUA_OK, NULL);
    assert_int_equal(sw_fcache_save(), 0);
    sw_fcache_reset();
    sw_fcache_enable(cache);
    assert_int_equal(sw_fcache_get(&st, 0, NULL), SW_FC_LUA_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_off_until_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saved_for_the_next_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_cache_is_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
