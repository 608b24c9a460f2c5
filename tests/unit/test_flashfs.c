// flashfs (src/flashfs) on a simulated NOR flash (ffs_sim.h, which fails any program over
// programmed bytes): the file-system conformance suite (fs_conform.h, shared with the POSIX
// port), then format/mount, durability of synced data only, large files (two-level trees),
// open-file corner cases, bad blocks, a full disk giving all its space back, wear levelling
// under a rewrite-one-file workload, and the RAM the file system takes.
#include "fs_conform.h"
#include "ffs_sim.h"

static ffs_sim_t sim;
static sw_ffs_t fs;
static sw_port_ops_t ffs_ops;

static int64_t fake_wall(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

static void new_disk(uint32_t rs, uint32_t ps, uint32_t bs, uint32_t bc)
{
    if (sim.mem)
        ffs_sim_free(&sim);
    ffs_sim_init(&sim, rs, ps, bs, bc);
    sim.bd.wall_s = fake_wall;
    assert_int_equal(sw_ffs_format(&fs, &sim.bd), 0);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
}

static void remount(void)
{
    memset(&fs, 0x5a, sizeof fs); // forget everything in RAM, as a reset would
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
}

static int conform_setup(void **state)
{
    (void)state;
    new_disk(16, 16, 4096, 64);
    fsc = (fsc_fixture_t){.ops = &ffs_ops, .ctx = &fs, .max_files = SW_FFS_FILES,
                          .has_mtime = true};
    fsc_put("a.txt", "alpha");
    assert_int_equal(sw_ffs_mkdir(&fs, "d"), 0);
    assert_int_equal(sw_ffs_mkdir(&fs, "d/e"), 0);
    fsc_put("d/b.txt", "bravo!");
    return 0;
}

static int conform_teardown(void **state)
{
    (void)state;
    // what the suite left must read the same after a remount, and the flash rules held
    assert_int_equal(sw_ffs_unmount(&fs), 0);
    remount();
    fsc_expect("a.txt", "alpha");
    fsc_expect("d/b.txt", "bravo!");
    assert_int_equal(sim.violations, 0);
    return 0;
}

static int each_setup(void **state)
{
    (void)state;
    fsc = (fsc_fixture_t){.ops = &ffs_ops, .ctx = &fs, .max_files = SW_FFS_FILES};
    return 0;
}

static int each_teardown(void **state)
{
    (void)state;
    assert_int_equal(sim.violations, 0);
    return 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
    tu_rng_t r = {seed * 0x9e3779b97f4a7c15ull + 1};
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)tu_next(&r);
}

// Writes n pseudo-random bytes (seed) to path in chunks, then closes.
static int write_file(const char *path, size_t n, uint32_t seed, size_t chunk)
{
    static uint8_t buf[1 << 20];
    assert_true(n <= sizeof buf);
    fill(buf, n, seed);
    int h = fsc_open(path, SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC);
    if (h < 0)
        return h;
    for (size_t off = 0; off < n; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        int r = sw_ffs_write(&fs, h, off, buf + off, k);
        if (r != (int)k) {
            sw_ffs_close(&fs, h);
            return r < 0 ? r : SW_EIO;
        }
    }
    return sw_ffs_close(&fs, h);
}

static void check_file(const char *path, size_t n, uint32_t seed)
{
    static uint8_t want[1 << 20], got[1 << 20];
    fill(want, n, seed);
    int h = fsc_open(path, SW_O_READ);
    assert_true(h >= 0);
    assert_int_equal(sw_ffs_read(&fs, h, 0, got, sizeof got), (int)n);
    assert_memory_equal(got, want, n);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
}

static void test_format_mount(void **state)
{
    (void)state;
    ffs_sim_free(&sim);
    ffs_sim_init(&sim, 1, 1, 256, 16);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), SW_ENOENT); // blank flash
    sw_ffs_bd_t bad = sim.bd;
    bad.block_size = 200;
    assert_int_equal(sw_ffs_format(&fs, &bad), SW_EINVAL);
    bad = sim.bd, bad.block_count = 3;
    assert_int_equal(sw_ffs_mount(&fs, &bad), SW_EINVAL);
    bad = sim.bd, bad.prog_size = SW_FFS_PROG_MAX * 2;
    assert_int_equal(sw_ffs_mount(&fs, &bad), SW_EINVAL);
    bad = sim.bd, bad.block_count = SW_FFS_MAX_BLOCKS + 8;
    assert_int_equal(sw_ffs_format(&fs, &bad), SW_EINVAL);
    assert_int_equal(sw_ffs_format(&fs, &sim.bd), 0);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
    uint32_t used, total;
    assert_int_equal(sw_ffs_usage(&fs, &used, &total), 0);
    assert_int_equal(used, 2);
    assert_int_equal(total, 16);
    // another geometry does not mount it
    bad = sim.bd, bad.block_count = 8;
    assert_int_equal(sw_ffs_mount(&fs, &bad), SW_ENOENT);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
    assert_int_equal(write_file("x", 700, 1, 100), 0);
    assert_int_equal(sw_ffs_mkdir(&fs, "dir"), 0);
    // many commits: the records go round both superblock blocks several times
    for (int i = 0; i < 60; i++) {
        assert_int_equal(sw_ffs_rename(&fs, "x", "y"), 0);
        assert_int_equal(sw_ffs_rename(&fs, "y", "x"), 0);
    }
    assert_true(sim.erases[0] >= 3 && sim.erases[1] >= 3);
    remount();
    check_file("x", 700, 1);
    sw_stat_t st;
    assert_int_equal(sw_ffs_stat(&fs, "dir", &st), 0);
    assert_int_equal(st.type, SW_FT_DIR);
    // not mounted: nothing works
    assert_int_equal(sw_ffs_unmount(&fs), 0);
    int h;
    assert_int_equal(sw_ffs_open(&fs, "x", SW_O_READ, &h), SW_ENOENT);
    assert_int_equal(sw_ffs_stat(&fs, "x", &st), SW_ENOENT);
    assert_int_equal(sw_ffs_read(&fs, 0, 0, &h, 1), SW_EINVAL);
    // format wipes it
    assert_int_equal(sw_ffs_format(&fs, &sim.bd), 0);
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), 0);
    assert_int_equal(sw_ffs_stat(&fs, "x", &st), SW_ENOENT);
}

// Only what was synced survives a reset; the rest of the flash is not even looked at.
static void test_durability(void **state)
{
    (void)state;
    new_disk(16, 16, 512, 64);
    assert_int_equal(write_file("f", 3000, 7, 333), 0);
    int h = fsc_open("f", SW_O_READ | SW_O_WRITE);
    uint8_t junk[700];
    memset(junk, 0xab, sizeof junk);
    assert_int_equal(sw_ffs_write(&fs, h, 100, junk, sizeof junk), (int)sizeof junk);
    assert_int_equal(sw_ffs_write(&fs, h, 3000, junk, 10), 10);
    sw_stat_t st;
    assert_int_equal(sw_ffs_stat(&fs, "f", &st), 0);
    assert_int_equal(st.size, 3010); // stat sees the open handle
    int h2 = fsc_open("f", SW_O_READ); // a second handle sees the last commit
    uint8_t b[16];
    assert_int_equal(sw_ffs_read(&fs, h2, 2995, b, sizeof b), 5);
    remount(); // no sync, no close: a reset
    check_file("f", 3000, 7);
    // after a sync the new bytes are the file's
    h = fsc_open("f", SW_O_WRITE | SW_O_APPEND);
    assert_int_equal(sw_ffs_write(&fs, h, 0, junk, 100), 100);
    h2 = fsc_open("f", SW_O_READ);
    assert_int_equal(sw_ffs_sync(&fs, h), 0);
    assert_int_equal(sw_ffs_read(&fs, h2, 3000, b, sizeof b), 16); // others see the commit
    assert_int_equal(b[0], 0xab);
    remount();
    assert_int_equal(sw_ffs_stat(&fs, "f", &st), 0);
    assert_int_equal(st.size, 3100);
    uint32_t used, total;
    assert_int_equal(sw_ffs_unlink(&fs, "f"), 0);
    assert_int_equal(sw_ffs_usage(&fs, &used, &total), 0);
    assert_int_equal(used, 2); // nothing kept but the superblocks
}

static void test_large_files(void **state)
{
    (void)state;
    // 4 KiB blocks: one index level; a 300 KiB file written in 512-byte pieces
    new_disk(16, 16, 4096, 128);
    assert_int_equal(write_file("big", 300 * 1024, 3, 512), 0);
    assert_int_equal(write_file("odd", 70001, 4, 999), 0);
    check_file("big", 300 * 1024, 3);
    uint64_t r0 = sim.read_bytes;
    remount();
    // a mount reads the commit slots, the table and the index blocks, never the 93 data blocks
    uint64_t mread = sim.read_bytes - r0;
    print_message("mount: %llu bytes read (superblocks 8192, table and 2 index blocks)\n",
                  (unsigned long long)mread);
    assert_true(mread <= 2 * 4096 + 3 * 4096);
    check_file("big", 300 * 1024, 3);
    check_file("odd", 70001, 4);
    uint32_t used, total;
    assert_int_equal(sw_ffs_usage(&fs, &used, &total), 0);
    // 75 + 18 data blocks, an index block each, a table block, the superblocks
    assert_int_equal(used, 75 + 18 + 2 + 1 + 2);
    // 256-byte blocks: 64 pointers per index block, so 100 KiB needs two levels
    new_disk(1, 1, 256, 600);
    assert_int_equal(write_file("two", 100 * 1024, 5, 100), 0);
    remount();
    check_file("two", 100 * 1024, 5);
    // a sparse write far out: the gap is holes and reads as zeros
    int h = fsc_open("two", SW_O_READ | SW_O_WRITE);
    assert_int_equal(sw_ffs_write(&fs, h, 130 * 1024, "end", 3), 3);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    remount();
    h = fsc_open("two", SW_O_READ);
    uint8_t b[300];
    assert_int_equal(sw_ffs_read(&fs, h, 120 * 1024, b, sizeof b), (int)sizeof b);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(sw_ffs_read(&fs, h, 130 * 1024, b, sizeof b), 3);
    assert_memory_equal(b, "end", 3);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    // written from block 3 on: the batches of new leaves straddle index blocks (64 leaves each)
    static uint8_t model[40000], back[40000];
    fill(model, sizeof model, 8);
    memset(model, 0, 3 * 256 + 5);
    h = fsc_open("straddle", SW_O_READ | SW_O_WRITE | SW_O_CREATE);
    for (size_t off = 3 * 256 + 5; off < sizeof model; off += 100) {
        size_t k = sizeof model - off < 100 ? sizeof model - off : 100;
        assert_int_equal(sw_ffs_write(&fs, h, off, model + off, k), (int)k);
        if (off % 7000 < 100) // reads in between see the pending blocks
            assert_int_equal(sw_ffs_read(&fs, h, 0, back, sizeof back), (int)(off + k));
    }
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    remount();
    h = fsc_open("straddle", SW_O_READ);
    assert_int_equal(sw_ffs_read(&fs, h, 0, back, sizeof back), (int)sizeof back);
    assert_memory_equal(back, model, sizeof model);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    assert_int_equal(sw_ffs_unlink(&fs, "straddle"), 0);
    // no file larger than the disk, holes or not
    h = fsc_open("sparse", SW_O_WRITE | SW_O_CREATE);
    assert_int_equal(sw_ffs_write(&fs, h, 598 * 256 - 1, "x", 1), 1);
    assert_int_equal(sw_ffs_write(&fs, h, 598 * 256, "x", 1), SW_ETOOBIG);
    assert_int_equal(sw_ffs_write(&fs, h, 0xfffffff0u, "x", 100), SW_ETOOBIG);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    assert_int_equal(sw_ffs_unlink(&fs, "sparse"), 0);
    // a file as large as the disk allows, then nothing more
    assert_int_equal(sw_ffs_unlink(&fs, "two"), 0);
    assert_int_equal(write_file("max", 500 * 256, 6, 4096), 0);
    assert_int_equal(write_file("more", 100 * 256, 6, 4096), SW_EIO);
    check_file("max", 500 * 256, 6);
}

// Handles on files that are unlinked or replaced while open keep their own bytes, and their
// sync never writes into the slot a new file may have taken.
static void test_open_and_removed(void **state)
{
    (void)state;
    new_disk(16, 16, 512, 64);
    fsc_put("a", "old a");
    int h = fsc_open("a", SW_O_READ | SW_O_WRITE);
    assert_int_equal(sw_ffs_unlink(&fs, "a"), 0);
    fsc_put("b", "new b"); // may reuse the slot of a
    assert_int_equal(sw_ffs_write(&fs, h, 0, "ORPHAN", 6), 6);
    char buf[16];
    assert_int_equal(sw_ffs_read(&fs, h, 0, buf, sizeof buf), 6);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    fsc_expect("b", "new b");
    sw_stat_t st;
    assert_int_equal(sw_ffs_stat(&fs, "a", &st), SW_ENOENT);
    // rename over a file open for reading: the reader keeps the old bytes
    fsc_put("t", "target");
    fsc_put("s", "source!");
    h = fsc_open("t", SW_O_READ);
    assert_int_equal(sw_ffs_rename(&fs, "s", "t"), 0);
    assert_int_equal(sw_ffs_read(&fs, h, 0, buf, sizeof buf), 6);
    assert_memory_equal(buf, "target", 6);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    fsc_expect("t", "source!");
    remount();
    fsc_expect("t", "source!");
    fsc_expect("b", "new b");
}

// Blocks whose programs or erases fail are left behind; nothing is lost.
static void test_bad_blocks(void **state)
{
    (void)state;
    new_disk(16, 16, 512, 64);
    for (uint32_t b = 2; b < 64; b += 5)
        sim.badblk[b] = 1;
    assert_int_equal(write_file("f1", 5000, 11, 100), 0);
    assert_int_equal(sw_ffs_mkdir(&fs, "d"), 0);
    assert_int_equal(write_file("d/f2", 9000, 12, 512), 0);
    assert_int_equal(sw_ffs_rename(&fs, "f1", "d/f3"), 0);
    // a block going bad under a file being appended to
    int h = fsc_open("d/f2", SW_O_WRITE | SW_O_APPEND);
    uint8_t more[2000];
    fill(more, sizeof more, 13);
    assert_int_equal(sw_ffs_write(&fs, h, 0, more, 100), 100);
    uint32_t gone = fs.files[h].fresh;
    uint32_t gone_erases = sim.erases[gone];
    sim.badblk[gone] = 1;
    assert_int_equal(sw_ffs_write(&fs, h, 0, more + 100, sizeof more - 100),
                     (int)sizeof more - 100);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    remount();
    check_file("d/f3", 5000, 11);
    static uint8_t got[11000], want[11000];
    fill(want, 9000, 12);
    memcpy(want + 9000, more, sizeof more);
    h = fsc_open("d/f2", SW_O_READ);
    assert_int_equal(sw_ffs_read(&fs, h, 0, got, sizeof got), 11000);
    assert_memory_equal(got, want, 11000);
    assert_int_equal(sw_ffs_close(&fs, h), 0);
    uint64_t bad_erases = 0;
    for (uint32_t b = 0; b < 64; b++)
        bad_erases += sim.badblk[b] && b != gone ? sim.erases[b] : 0;
    assert_int_equal(bad_erases, 0); // no erase of a bad block ever succeeded
    assert_int_equal(sim.erases[gone], gone_erases);
}

// Filling the disk fails cleanly, and removing the file gives every block back.
static void test_fill_disk(void **state)
{
    (void)state;
    new_disk(16, 16, 512, 48);
    size_t got[3];
    for (int round = 0; round < 3; round++) {
        int h = fsc_open("fill", SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC);
        uint8_t buf[300];
        memset(buf, round + 1, sizeof buf);
        size_t n = 0;
        int r;
        while ((r = sw_ffs_write(&fs, h, n, buf, sizeof buf)) == (int)sizeof buf)
            n += sizeof buf;
        assert_int_equal(r, SW_EIO);
        assert_int_equal(sw_ffs_close(&fs, h), SW_EIO); // the failed handle says so
        got[round] = n;
        sw_stat_t st;
        assert_int_equal(sw_ffs_stat(&fs, "fill", &st), 0);
        assert_int_equal(st.size, 0); // never synced: as it was
        assert_int_equal(write_file("small", 100, 1, 100), 0);
        assert_int_equal(sw_ffs_unlink(&fs, "small"), 0);
        assert_int_equal(sw_ffs_unlink(&fs, "fill"), 0);
        uint32_t used, total;
        assert_int_equal(sw_ffs_usage(&fs, &used, &total), 0);
        assert_int_equal(used, 2);
        remount();
    }
    print_message("fill: %zu, %zu, %zu bytes before full (46 blocks of 512)\n", got[0], got[1],
                  got[2]);
    assert_true(got[0] > 40 * 512);
    assert_int_equal(got[1], got[0]);
    assert_int_equal(got[2], got[0]);
}

// The node's pattern: rewrite a file through a temp file and a rename, thousands of times,
// with static files beside it. No block may be erased ten times more than the average: on a
// small disk (64 blocks, where the data blocks turn over fastest) and on the largest default
// one (1,024 blocks of 4 KiB: the superblock pair, erased once per 85 commits each, is then the
// most-erased pair of blocks).
static void wear_on(uint32_t blocks, int statics, int rounds)
{
    new_disk(16, 16, 4096, blocks);
    for (int i = 0; i < statics; i++) {
        char name[16];
        snprintf(name, sizeof name, "static%d", i);
        assert_int_equal(write_file(name, 4 * 4096, (uint32_t)i, 4096), 0);
    }
    for (int i = 0; i < rounds; i++) {
        assert_int_equal(write_file("swarm.cfg.tmp", 2500 + (size_t)(i % 7) * 100, (uint32_t)i, 512), 0);
        assert_int_equal(sw_ffs_rename(&fs, "swarm.cfg.tmp", "swarm.cfg"), 0);
        if (i % 500 == 0)
            remount(); // resets must not bring the allocator back to the same blocks
    }
    uint64_t sum = 0, max = 0;
    for (uint32_t b = 0; b < blocks; b++) {
        sum += sim.erases[b];
        if (sim.erases[b] > max)
            max = sim.erases[b];
    }
    double avg = (double)sum / blocks;
    print_message("wear: %d rewrites, %llu erases over %u blocks, average %.1f, max %llu (x%.2f), "
                  "superblocks %u/%u\n", rounds, (unsigned long long)sum, blocks, avg,
                  (unsigned long long)max, (double)max / avg, sim.erases[0], sim.erases[1]);
    assert_true((double)max <= 10 * avg);
    check_file("swarm.cfg", 2500 + (size_t)((rounds - 1) % 7) * 100, (uint32_t)(rounds - 1));
}

static void test_wear(void **state)
{
    (void)state;
    wear_on(64, 4, 2000);
    wear_on(1024, 64, 3000);
}

// A commit record that does not check out is passed over for the one before it; a table that
// does not check out stops the mount (SW_EIO) instead of handing out blocks it may reach.
static void test_corruption(void **state)
{
    (void)state;
    new_disk(16, 16, 512, 32);
    fsc_put("a", "first");
    fsc_put("b", "second");
    uint32_t rec = 48, sb = fs.sb_block, at = fs.sb_next - rec; // the newest record
    uint8_t *p = sim.mem + sb * 512 + at;
    p[20] ^= 1; // its table size
    remount();
    sw_stat_t st;
    assert_int_equal(sw_ffs_stat(&fs, "b", &st), 0); // b's data is committed, b's close is gone
    assert_int_equal(st.size, 0);
    fsc_expect("a", "first");
    fsc_put("c", "third"); // and it goes on after the bad slot
    remount();
    fsc_expect("c", "third");
    // a table entry that is its own parent
    uint8_t *t = sim.mem + (size_t)fs.troot * 512;
    assert_int_equal(t[0], 1);
    t[2] = 0, t[3] = 0;
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), SW_EIO);
    t[2] = 0xff, t[3] = 0xff;
    remount();
    // a file whose root is out of range
    t[8] = 0xee, t[9] = 0xee;
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), SW_EIO);
    t[8] = 0, t[9] = 0;
    assert_int_equal(sw_ffs_mount(&fs, &sim.bd), SW_EIO); // block 0 is not a data block
}

static void test_ram(void **state)
{
    (void)state;
    print_message("RAM: sizeof(sw_ffs_t) = %zu bytes (%d handles of %zu, %d blocks max, "
                  "%d-byte buffers)\n", sizeof(sw_ffs_t), SW_FFS_FILES, sizeof(sw_ffs_file_t),
                  SW_FFS_MAX_BLOCKS, SW_FFS_CACHE);
    assert_true(sizeof(sw_ffs_t) <= 4096 - 512); // leaves room for the stack of a call
}

int main(void)
{
    sw_ffs_port_files(&ffs_ops);
    const struct CMUnitTest conform[] = {FSC_TESTS};
    int fails = cmocka_run_group_tests_name("flashfs conformance", conform, conform_setup,
                                            conform_teardown);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format_mount, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_durability, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_large_files, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_open_and_removed, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_bad_blocks, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_fill_disk, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_wear, each_setup, each_teardown),
        cmocka_unit_test_setup_teardown(test_corruption, each_setup, each_teardown),
        cmocka_unit_test(test_ram),
    };
    fails += cmocka_run_group_tests_name("flashfs", tests, NULL, NULL);
    ffs_sim_free(&sim);
    return fails;
}
