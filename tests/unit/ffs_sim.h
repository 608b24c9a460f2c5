// A simulated NOR flash for the flashfs tests, fuzzer and bench. It enforces the flash rules:
// reads and programs aligned to their sizes, a program unit programmed only once between two
// erases (anything else is counted in `violations` and fails), erase by whole blocks. It can
// cut the power after any erase/program/sync call, or in the middle of one (half of a program
// lands, the next byte half-programmed; half of an erase happens), after which every call fails;
// and it can make blocks bad (their programs and erases fail). It counts what it is asked to do.
#ifndef SW_FFS_SIM_H
#define SW_FFS_SIM_H

#include <stdlib.h>
#include <string.h>

#include "swarm/flashfs.h"

typedef struct ffs_sim {
    sw_ffs_bd_t bd;
    uint8_t *mem;      // block_count * block_size bytes
    uint8_t *progd;    // per program unit: programmed since the last erase
    uint32_t *erases;  // per block
    uint8_t *badblk;   // per block: programs and erases fail
    uint64_t calls;    // erase + prog + sync calls so far
    uint64_t cut_at;   // power goes off after call number cut_at (0: never)
    int cut_inside;    // ... or during it, if it is a program or an erase
    int off;           // power is off
    uint64_t violations;
    uint64_t prog_bytes, nprog, nerase, nread, read_bytes;
    uint8_t *log;      // if set: kind of call i (0 sync, 1 prog, 2 erase) at log[i - 1]
    size_t log_cap;
} ffs_sim_t;

static inline int ffs_sim_step(ffs_sim_t *s, int kind) // kind: 0 sync, 1 prog, 2 erase
{
    if (s->off)
        return -1;
    uint64_t c = ++s->calls;
    if (s->log && c <= s->log_cap)
        s->log[c - 1] = (uint8_t)kind;
    if (s->cut_at && c == s->cut_at && s->cut_inside && kind)
        return 1; // the caller does half of it, then the power goes
    if (s->cut_at && c > s->cut_at) {
        s->off = 1;
        return -1;
    }
    return 0;
}

static int ffs_sim_read(void *ctx, uint32_t b, uint32_t off, void *buf, uint32_t n)
{
    ffs_sim_t *s = ctx;
    if (s->off)
        return SW_EIO;
    if (b >= s->bd.block_count || off % s->bd.read_size || n % s->bd.read_size ||
        off + (uint64_t)n > s->bd.block_size) {
        s->violations++;
        return SW_EIO;
    }
    s->nread++, s->read_bytes += n;
    memcpy(buf, s->mem + (size_t)b * s->bd.block_size + off, n);
    return 0;
}

static int ffs_sim_prog(void *ctx, uint32_t b, uint32_t off, const void *buf, uint32_t n)
{
    ffs_sim_t *s = ctx;
    uint32_t ps = s->bd.prog_size;
    if (!s->off && (b >= s->bd.block_count || off % ps || n % ps || n == 0 ||
                    off + (uint64_t)n > s->bd.block_size)) {
        s->violations++;
        return SW_EIO;
    }
    int st = ffs_sim_step(s, 1);
    if (st < 0)
        return SW_EIO;
    size_t u0 = ((size_t)b * s->bd.block_size + off) / ps;
    for (uint32_t u = 0; u < n / ps; u++)
        if (s->progd[u0 + u]) {
            s->violations++; // programming over programmed bytes
            return SW_EIO;
        }
    if (s->badblk[b])
        return SW_EIO;
    uint8_t *m = s->mem + (size_t)b * s->bd.block_size + off;
    const uint8_t *p = buf;
    uint32_t len = st ? n / 2 : n;
    for (uint32_t i = 0; i < len; i++)
        m[i] &= p[i];
    if (st) { // half a program: the next byte half-programmed, its unit dirty
        m[len] &= (uint8_t)(p[len] | 0xf0);
        for (uint32_t u = 0; u <= len / ps; u++)
            s->progd[u0 + u] = 1;
        s->off = 1;
        return SW_EIO;
    }
    for (uint32_t u = 0; u < n / ps; u++)
        s->progd[u0 + u] = 1;
    s->nprog++, s->prog_bytes += n;
    return 0;
}

static int ffs_sim_erase(void *ctx, uint32_t b)
{
    ffs_sim_t *s = ctx;
    if (!s->off && b >= s->bd.block_count) {
        s->violations++;
        return SW_EIO;
    }
    int st = ffs_sim_step(s, 2);
    if (st < 0)
        return SW_EIO;
    if (s->badblk[b])
        return SW_EIO;
    uint32_t bs = s->bd.block_size, units = bs / s->bd.prog_size;
    memset(s->mem + (size_t)b * bs, 0xff, st ? bs / 2 : bs);
    // half an erase: nothing in the block may be programmed again before a real erase
    memset(s->progd + (size_t)b * units, st ? 1 : 0, units);
    if (st) {
        s->off = 1;
        return SW_EIO;
    }
    s->erases[b]++, s->nerase++;
    return 0;
}

static int ffs_sim_sync(void *ctx)
{
    return ffs_sim_step(ctx, 0) < 0 ? SW_EIO : 0;
}

static inline void ffs_sim_init(ffs_sim_t *s, uint32_t rs, uint32_t ps, uint32_t bs, uint32_t bc)
{
    memset(s, 0, sizeof *s);
    s->bd = (sw_ffs_bd_t){.ctx = s, .read = ffs_sim_read, .prog = ffs_sim_prog,
                          .erase = ffs_sim_erase, .sync = ffs_sim_sync, .read_size = rs,
                          .prog_size = ps, .block_size = bs, .block_count = bc};
    s->mem = malloc((size_t)bs * bc);
    s->progd = calloc((size_t)bs * bc / ps, 1);
    s->erases = calloc(bc, sizeof *s->erases);
    s->badblk = calloc(bc, 1);
    memset(s->mem, 0xff, (size_t)bs * bc);
}

static inline void ffs_sim_free(ffs_sim_t *s)
{
    free(s->mem), free(s->progd), free(s->erases), free(s->badblk);
    s->mem = NULL;
}

// Copies the flash contents (and which units are programmed) of src into dst (same geometry).
static inline void ffs_sim_copy(ffs_sim_t *dst, const ffs_sim_t *src)
{
    size_t bytes = (size_t)src->bd.block_size * src->bd.block_count;
    memcpy(dst->mem, src->mem, bytes);
    memcpy(dst->progd, src->progd, bytes / src->bd.prog_size);
}

#endif
