// libFuzzer target: flashfs mounting and working on arbitrary (corrupt) flash images. The
// first byte picks the geometry and how the rest makes the image:
//   bit 0 = 0: the rest is the raw image (padded with erased bytes);
//   bit 0 = 1: a valid image (a few directories and files) with the rest applied as patches,
//              3 bytes each (offset u16 little-endian, value); bit 2 = 1: the commit records
//              whose magic survived get their CRC recomputed, so their fields are explored too;
//   bit 1 picks the flash: 256-byte blocks programmed by the byte, or 512-byte blocks in
//   16-byte units.
// If the image mounts, every file is listed, stat'ed and read, then files are created, written,
// renamed and removed. Nothing may crash, trip a sanitizer, loop, or program bytes twice.
#include <stdio.h>
#include <stdlib.h>

#include "../unit/ffs_sim.h"
#include "../../src/flashfs/ffs_int.h"

#define IMG_MAX 8192

static ffs_sim_t sims[2];
static uint8_t *bases[2];

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_flashfs: %s\n", what);
        abort();
    }
}

static void put(sw_ffs_t *fs, const char *path, size_t n, uint8_t v)
{
    int h;
    uint8_t buf[700];
    memset(buf, v, sizeof buf);
    must(sw_ffs_open(fs, path, SW_O_WRITE | SW_O_CREATE, &h) == 0, "base open");
    for (size_t off = 0; off < n; off += sizeof buf)
        sw_ffs_write(fs, h, off, buf, n - off < sizeof buf ? n - off : sizeof buf);
    must(sw_ffs_close(fs, h) == 0, "base close");
}

static void init_geometry(int g)
{
    ffs_sim_t *s = &sims[g];
    if (g == 0)
        ffs_sim_init(s, 1, 1, 256, 24);
    else
        ffs_sim_init(s, 16, 16, 512, 16);
    static sw_ffs_t fs;
    must(sw_ffs_format(&fs, &s->bd) == 0 && sw_ffs_mount(&fs, &s->bd) == 0, "base format");
    sw_ffs_mkdir(&fs, "apps");
    sw_ffs_mkdir(&fs, "apps/app");
    put(&fs, "apps/app/main.lua", 900, 'm');
    put(&fs, "swarm.cfg", 120, 'c');
    sw_ffs_rename(&fs, "swarm.cfg", "swarm.cfg.old");
    put(&fs, "swarm.cfg", 90, 'd');
    put(&fs, "big", 1500, 'b');
    sw_ffs_unmount(&fs);
    size_t bytes = (size_t)s->bd.block_size * s->bd.block_count;
    bases[g] = malloc(bytes);
    memcpy(bases[g], s->mem, bytes);
}

static void walk(sw_ffs_t *fs, const char *dir, int depth);

typedef struct walk_ctx {
    sw_ffs_t *fs;
    const char *dir;
    int depth;
} walk_ctx_t;

static int each(void *u, const sw_dirent_t *e)
{
    walk_ctx_t *w = u;
    char path[SW_FFS_PATH_MAX + 1];
    int n = snprintf(path, sizeof path, "%s%s%s", w->dir, *w->dir ? "/" : "", e->name);
    if (n <= 0 || (size_t)n >= sizeof path)
        return 0;
    sw_stat_t st;
    sw_ffs_stat(w->fs, path, &st);
    if (e->type == SW_FT_DIR) {
        if (w->depth < 8)
            walk(w->fs, path, w->depth + 1);
        return 0;
    }
    int h;
    if (sw_ffs_open(w->fs, path, SW_O_READ, &h) == 0) {
        uint8_t buf[300];
        for (uint64_t off = 0; off < 64 * 1024; off += sizeof buf)
            if (sw_ffs_read(w->fs, h, off, buf, sizeof buf) <= 0)
                break;
        sw_ffs_close(w->fs, h);
    }
    return 0;
}

static void walk(sw_ffs_t *fs, const char *dir, int depth)
{
    walk_ctx_t w = {fs, dir, depth};
    sw_ffs_list(fs, dir, each, &w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!bases[0]) {
        init_geometry(0);
        init_geometry(1);
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    ffs_sim_t *s = &sims[mode >> 1 & 1];
    size_t bytes = (size_t)s->bd.block_size * s->bd.block_count;
    data++, size--;
    memset(s->progd, 1, bytes / s->bd.prog_size); // assume every byte programmed...
    s->violations = 0;
    if (!(mode & 1)) {
        memset(s->mem, 0xff, bytes);
        memcpy(s->mem, data, size < bytes ? size : bytes);
    } else {
        memcpy(s->mem, bases[mode >> 1 & 1], bytes);
        for (size_t i = 0; i + 3 <= size; i += 3)
            s->mem[(data[i] | data[i + 1] << 8) % bytes] = data[i + 2];
        if (mode & 4) {
            uint32_t rec = 36 + (s->bd.prog_size - 36 % s->bd.prog_size) % s->bd.prog_size;
            for (uint32_t b = 0; b < 2; b++)
                for (uint32_t at = 0; at + rec <= s->bd.block_size; at += rec) {
                    uint8_t *p = s->mem + b * s->bd.block_size + at;
                    if (ffs_ld32(p) == FFS_MAGIC)
                        ffs_st32(p + 32, sw__ffs_crc32(0, p, 32));
                }
        }
    }
    // ...except the units that read erased, which a real flash could not tell apart either
    for (size_t u = 0; u < bytes / s->bd.prog_size; u++) {
        const uint8_t *p = s->mem + u * s->bd.prog_size;
        size_t k = 0;
        while (k < s->bd.prog_size && p[k] == 0xff)
            k++;
        if (k == s->bd.prog_size)
            s->progd[u] = 0;
    }

    static sw_ffs_t fs;
    if (sw_ffs_mount(&fs, &s->bd) == 0) {
        walk(&fs, "", 0);
        int h;
        uint8_t buf[1500];
        memset(buf, 0x42, sizeof buf);
        if (sw_ffs_open(&fs, "apps/app/main.lua", SW_O_READ | SW_O_WRITE, &h) == 0) {
            sw_ffs_write(&fs, h, 10, buf, 100);
            sw_ffs_write(&fs, h, 5000, buf, 10);
            sw_ffs_sync(&fs, h);
            sw_ffs_write(&fs, h, 0, buf, sizeof buf);
            sw_ffs_close(&fs, h);
        }
        if (sw_ffs_open(&fs, "new.tmp", SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &h) == 0) {
            sw_ffs_write(&fs, h, 0, buf, sizeof buf);
            sw_ffs_close(&fs, h);
        }
        sw_ffs_rename(&fs, "new.tmp", "swarm.cfg");
        sw_ffs_rename(&fs, "apps/app", "apps/app2");
        sw_ffs_mkdir(&fs, "apps/app2/sub");
        sw_ffs_unlink(&fs, "big");
        sw_ffs_rmdir(&fs, "apps/app2/sub");
        uint32_t used, total;
        sw_ffs_usage(&fs, &used, &total);
        walk(&fs, "", 0);
        sw_ffs_unmount(&fs);
        // what it wrote mounts again
        if (sw_ffs_mount(&fs, &s->bd) == 0) {
            walk(&fs, "", 0);
            sw_ffs_unmount(&fs);
        }
    }
    must(s->violations == 0, "a flash rule was broken (program over programmed bytes?)");
    return 0;
}
