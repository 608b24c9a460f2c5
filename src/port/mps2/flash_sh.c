// The flash file system's block device on QEMU's mps2-an385: a host file through ARM semihosting
// (boot argument flash=PATH), because the board's "flash" is SSRAM that QEMU reloads from the
// ELF at every start (PORTING.md, "The block device"). Each program or erase is one write(2) on
// the host, so what the file system committed survives QEMU being killed or restarted. A new or
// short file is filled with 0xFF (erased flash) up to the device's size first.
#include <string.h>

#include "mps2_int.h"
#include "semihost.h"

// Geometry of the emulated part: 256 erase blocks of 4 KiB (1 MiB), NOR-like 4-byte programs.
#define BLOCK_SIZE 4096u
#define BLOCK_COUNT 256u
#define PROG_SIZE 4u

static int fh = SW_SH_NONE;

static int at(uint32_t block, uint32_t off)
{
    if (fh < 0 || block >= BLOCK_COUNT || off > BLOCK_SIZE)
        return SW_EIO;
    return sw_sh_seek(fh, block * BLOCK_SIZE + off) ? SW_EIO : 0;
}

static int bd_read(void *ctx, uint32_t block, uint32_t off, void *buf, uint32_t n)
{
    (void)ctx;
    if (n > BLOCK_SIZE - off || at(block, off))
        return SW_EIO;
    return sw_sh_read(fh, buf, n) ? SW_EIO : 0;
}

static int bd_prog(void *ctx, uint32_t block, uint32_t off, const void *buf, uint32_t n)
{
    (void)ctx;
    if (n > BLOCK_SIZE - off || at(block, off))
        return SW_EIO;
    return sw_sh_write(fh, buf, n) ? SW_EIO : 0;
}

// Writes 0xFF over [pos, end) of the file.
static int fill(uint32_t pos, uint32_t end)
{
    uint8_t ff[256];
    memset(ff, 0xFF, sizeof ff);
    if (pos < end && sw_sh_seek(fh, pos))
        return SW_EIO;
    for (uint32_t k; pos < end; pos += k) {
        k = end - pos < sizeof ff ? end - pos : (uint32_t)sizeof ff;
        if (sw_sh_write(fh, ff, k))
            return SW_EIO;
    }
    return 0;
}

static int bd_erase(void *ctx, uint32_t block)
{
    (void)ctx;
    if (fh < 0 || block >= BLOCK_COUNT)
        return SW_EIO;
    return fill(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE);
}

// The host's write(2) has put every byte in its page cache already; semihosting has no fsync.
static int bd_sync(void *ctx)
{
    (void)ctx;
    return fh < 0 ? SW_EIO : 0;
}

static int64_t bd_wall(void *ctx)
{
    (void)ctx;
    return 0; // the board has no wall clock
}

static const sw_ffs_bd_t bd = {
    .read = bd_read, .prog = bd_prog, .erase = bd_erase, .sync = bd_sync,
    .read_size = 1, .prog_size = PROG_SIZE, .block_size = BLOCK_SIZE, .block_count = BLOCK_COUNT,
    .wall_s = bd_wall,
};

int sw__mps2_flash_mount(sw_ffs_t *fs, const char *path, const char **what)
{
    *what = "cannot open the host file";
    fh = sw_sh_open(path, "r+b"); // an existing image, kept
    if (fh < 0)
        fh = sw_sh_open(path, "w+b"); // none yet: created
    if (fh < 0)
        return SW_EIO;
    long len = sw_sh_flen(fh);
    *what = "cannot size the host file";
    if (len < 0 || fill((uint32_t)len < BLOCK_SIZE * BLOCK_COUNT ? (uint32_t)len : BLOCK_SIZE * BLOCK_COUNT,
                        BLOCK_SIZE * BLOCK_COUNT))
        goto fail;
    *what = "mounted";
    int rc = sw_ffs_mount(fs, &bd);
    if (rc == SW_ENOENT) { // a blank device: an empty file system
        *what = "formatted";
        rc = sw_ffs_format(fs, &bd);
        if (!rc)
            rc = sw_ffs_mount(fs, &bd);
    }
    if (!rc)
        return 0;
    *what = rc == SW_ENOENT ? "no file system after formatting" : "corrupt or unreadable";
fail:
    sw_sh_close(fh);
    fh = SW_SH_NONE;
    return SW_EIO;
}
