// flashfs open files: a handle keeps its own view of the file (size and block tree) and writes
// copy-on-write; the view reaches the table (one commit) at sync and close. Appending at the end
// programs straight into the handle's "fresh" block (allocated since the last commit, so no
// commit reaches it) and keeps the last partial program unit in RAM; any other write copies the
// block it touches into a new one.
#include "ffs_int.h"

#define XFER_MAX ((size_t)1 << 30) // largest transfer of one call (the result is an int)
#define COPY_CHUNK 64              // bytes copied per step from an old block (stack)

static sw_ffs_file_t *handle(sw_ffs_t *fs, int fd)
{
    if (!fs->mounted || fd < 0 || fd >= SW_FFS_FILES || !fs->files[fd].open)
        return NULL;
    return &fs->files[fd];
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Leaves: data blocks a handle has written are first kept in its pending list and reach its
// tree SW_FFS_PEND at a time, so a file written from start to end copies each index block once
// per SW_FFS_PEND data blocks instead of once per data block.

static bool pending(const sw_ffs_file_t *f, uint32_t bi)
{
    return f->npend && bi >= f->pend_bi && bi - f->pend_bi < f->npend;
}

static int leaf_get(sw_ffs_t *fs, const sw_ffs_file_t *f, uint32_t bi, uint32_t *blk)
{
    if (pending(f, bi)) {
        *blk = f->pend[bi - f->pend_bi];
        return 0;
    }
    return sw__ffs_tree_get(fs, f->root, f->tree_n, bi, blk);
}

// Puts the pending leaves into the tree, which grows to at least n data blocks.
static int pend_flush(sw_ffs_t *fs, sw_ffs_file_t *f, uint32_t n)
{
    if (n < f->tree_n)
        n = f->tree_n;
    if (f->npend && f->pend_bi + f->npend > n)
        n = f->pend_bi + f->npend;
    if (!f->npend && n == f->tree_n)
        return 0;
    int err = sw__ffs_tree_set_many(fs, &f->root, f->tree_n, n, f->pend_bi, f->pend, f->npend);
    if (!err)
        f->tree_n = n, f->npend = 0;
    return err;
}

static int leaf_put(sw_ffs_t *fs, sw_ffs_file_t *f, uint32_t bi, uint32_t blk)
{
    if (pending(f, bi)) {
        f->pend[bi - f->pend_bi] = blk;
        return 0;
    }
    if (f->npend == SW_FFS_PEND || (f->npend && bi != f->pend_bi + f->npend)) {
        int err = pend_flush(fs, f, 0);
        if (err)
            return err;
    }
    if (!f->npend)
        f->pend_bi = bi;
    f->pend[f->npend++] = blk;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Writing into the fresh block

// Replaces a fresh block that failed a program by a copy of its programmed bytes.
static int relocate(sw_ffs_t *fs, sw_ffs_file_t *f)
{
    for (int tries = 0; tries < 8; tries++) {
        uint32_t nb;
        int err = sw__ffs_alloc(fs, &nb);
        if (err)
            return err;
        for (uint32_t c = 0; c < f->hw && !err; c += SW_FFS_CACHE) {
            uint32_t m = f->hw - c < SW_FFS_CACHE ? f->hw - c : SW_FFS_CACHE;
            if ((err = sw__ffs_read(fs, f->fresh, c, fs->pbuf, m)))
                return err;
            err = sw__ffs_prog(fs, nb, c, fs->pbuf, m);
        }
        if (!err) {
            f->fresh = nb;
            f->moved = 1;
            return 0;
        }
        sw__ffs_set_bad(fs, nb);
    }
    return SW_EIO;
}

// Programs n bytes (whole program units) at the fresh block's high-water mark.
static int prog_fresh(sw_ffs_t *fs, sw_ffs_file_t *f, const uint8_t *p, uint32_t n)
{
    for (int tries = 0; tries < 8; tries++) {
        if (!sw__ffs_prog(fs, f->fresh, f->hw, p, n)) {
            f->hw += n;
            return 0;
        }
        sw__ffs_set_bad(fs, f->fresh);
        int err = relocate(fs, f);
        if (err)
            return err;
    }
    return SW_EIO;
}

// Appends k bytes (NULL: zeros) to the fresh block.
static int put(sw_ffs_t *fs, sw_ffs_file_t *f, const uint8_t *src, uint32_t k)
{
    uint32_t ps = fs->bd->prog_size;
    uint8_t zero[SW_FFS_PROG_MAX];
    if (!src)
        memset(zero, 0, sizeof zero);
    while (k) {
        int err;
        if (f->tail_n == 0 && k >= ps) {
            uint32_t m = src ? k - k % ps : SW_FFS_PROG_MAX / ps * ps;
            if (m > k - k % ps)
                m = k - k % ps;
            if ((err = prog_fresh(fs, f, src ? src : zero, m)))
                return err;
            src = src ? src + m : NULL;
            k -= m;
            continue;
        }
        uint32_t c = ps - f->tail_n < k ? ps - f->tail_n : k;
        if (src)
            memcpy(f->tail + f->tail_n, src, c), src += c;
        else
            memset(f->tail + f->tail_n, 0, c);
        f->tail_n = (uint16_t)(f->tail_n + c);
        k -= c;
        if (f->tail_n == ps) {
            if ((err = prog_fresh(fs, f, f->tail, ps)))
                return err;
            f->tail_n = 0;
        }
    }
    return 0;
}

// Appends len bytes of block blk from offset from (blk none: zeros).
static int put_from(sw_ffs_t *fs, sw_ffs_file_t *f, uint32_t blk, uint32_t from, uint32_t len)
{
    uint8_t chunk[COPY_CHUNK];
    while (len) {
        uint32_t m = len < sizeof chunk ? len : sizeof chunk;
        int err = 0;
        if (blk == FFS_NONE)
            memset(chunk, 0, m);
        else
            err = sw__ffs_read(fs, blk, from, chunk, m);
        if (err || (err = put(fs, f, chunk, m)))
            return err;
        from += m, len -= m;
    }
    return 0;
}

// The tree follows a fresh block that was relocated.
static int settle(sw_ffs_t *fs, sw_ffs_file_t *f)
{
    if (!f->moved)
        return 0;
    f->moved = 0;
    return leaf_put(fs, f, f->fresh_bi, f->fresh);
}

// Programs the pending partial unit, padded with 0xff. The padding is not file data, so the next
// append to this block no longer meets the high-water mark and copies the block instead.
static int flush(sw_ffs_t *fs, sw_ffs_file_t *f)
{
    if (f->fresh == FFS_NONE)
        return 0;
    if (f->tail_n) {
        uint32_t ps = fs->bd->prog_size;
        memset(f->tail + f->tail_n, 0xff, ps - f->tail_n);
        int err = prog_fresh(fs, f, f->tail, ps);
        if (err)
            return err;
        f->tail_n = 0;
    }
    return settle(fs, f);
}

// Writes k bytes at off, all inside one block.
static int write_block(sw_ffs_t *fs, sw_ffs_file_t *f, uint32_t off, const uint8_t *src, uint32_t k)
{
    uint32_t B = fs->bd->block_size, bi = off / B, bo = off % B;
    if (f->fresh != FFS_NONE && f->fresh_bi == bi && off == f->size && bo == f->hw + f->tail_n) {
        int err = put(fs, f, src, k);
        return err ? err : settle(fs, f);
    }
    int err = flush(fs, f);
    if (err)
        return err;
    f->fresh = FFS_NONE;
    uint32_t old, nb;
    if ((err = leaf_get(fs, f, bi, &old)))
        return err;
    uint64_t start = (uint64_t)bi * B;
    uint32_t valid = f->size > start ? (f->size - start < B ? (uint32_t)(f->size - start) : B) : 0;
    if ((err = sw__ffs_alloc(fs, &nb)))
        return err;
    f->fresh = nb, f->fresh_bi = bi, f->hw = 0, f->tail_n = 0, f->moved = 0;
    err = put_from(fs, f, old, 0, bo < valid ? bo : valid);
    if (!err && bo > valid)
        err = put(fs, f, NULL, bo - valid);
    if (!err)
        err = put(fs, f, src, k);
    if (!err && bo + k < valid)
        err = put_from(fs, f, old, bo + k, valid - bo - k);
    f->moved = 0;
    if (!err)
        err = leaf_put(fs, f, bi, f->fresh);
    if (err)
        f->fresh = FFS_NONE;
    return err;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Port functions

int sw_ffs_open(sw_ffs_t *fs, const char *path, int flags, int *fdout)
{
    *fdout = -1;
    switch (flags & (SW_O_READ | SW_O_WRITE)) {
    case SW_O_READ: case SW_O_WRITE: case SW_O_READ | SW_O_WRITE: break;
    default: return SW_EINVAL;
    }
    if (flags & ~(SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC | SW_O_EXCL | SW_O_APPEND))
        return SW_EINVAL;
    if ((flags & (SW_O_TRUNC | SW_O_APPEND)) && !(flags & SW_O_WRITE))
        return SW_EINVAL;
    int err = sw__ffs_path_check(path);
    if (err)
        return err;
    if (!fs->mounted)
        return SW_ENOENT;
    int h = 0;
    while (h < SW_FFS_FILES && fs->files[h].open)
        h++;
    if (h >= SW_FFS_FILES)
        return SW_EFULL;
    uint32_t slot;
    ffs_ent_t e;
    sw__ffs_op_begin(fs);
    if ((err = sw__ffs_open_entry(fs, path, flags, &slot, &e)))
        return err;
    sw_ffs_file_t *f = &fs->files[h];
    memset(f, 0, sizeof *f);
    f->open = 1, f->flags = (uint8_t)flags, f->slot = (uint16_t)slot;
    f->size = e.size, f->root = e.root, f->fresh = FFS_NONE;
    f->tree_n = sw__ffs_nblocks(fs, e.size);
    *fdout = h;
    return 0;
}

int sw_ffs_read(sw_ffs_t *fs, int fd, uint64_t off, void *buf, size_t n)
{
    sw_ffs_file_t *f = handle(fs, fd);
    if (!f || !(f->flags & SW_O_READ))
        return SW_EINVAL;
    if (off >= f->size)
        return 0;
    if (n > XFER_MAX)
        n = XFER_MAX;
    if (n > f->size - off)
        n = (size_t)(f->size - off);
    uint32_t B = fs->bd->block_size, o = (uint32_t)off;
    uint8_t *out = buf;
    for (size_t done = 0; done < n;) {
        uint32_t bi = o / B, bo = o % B;
        uint32_t k = n - done < B - bo ? (uint32_t)(n - done) : B - bo;
        int err = 0;
        if (f->fresh != FFS_NONE && f->fresh_bi == bi) {
            // programmed part, then the unit pending in RAM
            uint32_t a = bo, z = bo + k;
            uint32_t fz = z < f->hw ? z : f->hw;
            if (a < fz && (err = sw__ffs_read(fs, f->fresh, a, out, fz - a)))
                return err;
            for (uint32_t i = a > f->hw ? a : f->hw; i < z; i++)
                out[i - a] = i < f->hw + f->tail_n ? f->tail[i - f->hw] : 0;
        } else {
            uint32_t blk;
            if ((err = leaf_get(fs, f, bi, &blk)))
                return err;
            if (blk == FFS_NONE)
                memset(out, 0, k);
            else if ((err = sw__ffs_read(fs, blk, bo, out, k)))
                return err;
        }
        out += k, o += k, done += k;
    }
    return (int)n;
}

int sw_ffs_write(sw_ffs_t *fs, int fd, uint64_t off, const void *buf, size_t n)
{
    sw_ffs_file_t *f = handle(fs, fd);
    if (!f || !(f->flags & SW_O_WRITE))
        return SW_EINVAL;
    if (n > XFER_MAX)
        return SW_ETOOBIG;
    if (f->flags & SW_O_APPEND)
        off = f->size;
    if (off > 0xffffffffu - n ||
        sw__ffs_nblocks(fs, (uint32_t)(off + n)) > fs->bd->block_count - 2)
        return SW_ETOOBIG; // sizes are 32 bits, and no file is larger than the disk
    if (n == 0)
        return 0;
    if (f->failed)
        return SW_EIO;
    uint32_t B = fs->bd->block_size, o = (uint32_t)off;
    const uint8_t *p = buf;
    int err = 0;
    if (o > f->size) { // the gap reads as zeros: fill it up to the end of the last block
        uint64_t end = (uint64_t)sw__ffs_nblocks(fs, f->size) * B;
        uint32_t z = end < o ? (uint32_t)end : o;
        while (!err && f->size < z) {
            uint32_t s = f->size, k = z - s < B - s % B ? z - s : B - s % B;
            sw__ffs_op_begin(fs);
            if (!(err = write_block(fs, f, s, NULL, k)))
                f->size = s + k;
        }
        f->dirty = 1;
    }
    size_t done = 0;
    while (!err && done < n) {
        uint32_t at = o + (uint32_t)done, k = B - at % B;
        if (k > n - done)
            k = (uint32_t)(n - done);
        sw__ffs_op_begin(fs); // everything allocated so far is in the handle's tree
        if (!(err = write_block(fs, f, at, p + done, k))) {
            done += k;
            if (at + k > f->size)
                f->size = at + k;
            f->dirty = 1;
        }
    }
    if (err) {
        // what was written unsynced may be unreadable now: the handle says so from here on
        f->failed = 1;
        return err;
    }
    return (int)n;
}

int sw_ffs_sync(sw_ffs_t *fs, int fd)
{
    sw_ffs_file_t *f = handle(fs, fd);
    if (!f)
        return SW_EINVAL;
    if (f->failed)
        return SW_EIO;
    if (!f->dirty)
        return 0;
    sw__ffs_op_begin(fs);
    int err = flush(fs, f);
    if (!err)
        err = pend_flush(fs, f, sw__ffs_nblocks(fs, f->size));
    sw__ffs_op_begin(fs); // what was allocated is in the handle's tree now
    if (err) {
        f->failed = 1;
        return err;
    }
    if (f->orphan) {
        f->dirty = 0;
        return 0;
    }
    if ((err = sw__ffs_sync_entry(fs, f->slot, f->size, f->root)))
        return err;
    f->dirty = 0;
    f->fresh = FFS_NONE; // committed: no longer ours to program
    sw__ffs_files_committed(fs, f->slot, f->size, f->root, f);
    return 0;
}

int sw_ffs_close(sw_ffs_t *fs, int fd)
{
    sw_ffs_file_t *f = handle(fs, fd);
    if (!f)
        return SW_EINVAL;
    int err = sw_ffs_sync(fs, fd);
    f->open = 0;
    return err;
}

int sw_ffs_unmount(sw_ffs_t *fs)
{
    int err = 0;
    for (int i = 0; i < SW_FFS_FILES && fs->mounted; i++) {
        if (fs->files[i].open) {
            int e = sw_ffs_close(fs, i);
            err = err ? err : e;
        }
    }
    fs->mounted = 0;
    fs->bd = NULL;
    return err;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Handles as seen by the rest

int sw__ffs_file_mark(sw_ffs_t *fs, int (*mark)(sw_ffs_t *, uint32_t root, uint32_t n))
{
    for (int i = 0; i < SW_FFS_FILES; i++) {
        sw_ffs_file_t *f = &fs->files[i];
        if (!f->open)
            continue;
        int err = mark(fs, f->root, f->tree_n);
        for (uint32_t k = 0; !err && k < f->npend; k++)
            err = mark(fs, f->pend[k], 1);
        if (!err && f->fresh != FFS_NONE)
            err = mark(fs, f->fresh, 1);
        if (err)
            return err;
    }
    return 0;
}

void sw__ffs_files_committed(sw_ffs_t *fs, uint32_t slot, uint32_t size, uint32_t root,
                             const sw_ffs_file_t *except)
{
    for (int i = 0; i < SW_FFS_FILES; i++) {
        sw_ffs_file_t *f = &fs->files[i];
        if (f->open && f != except && f->slot == slot && !f->orphan && !f->dirty) {
            f->size = size, f->root = root, f->fresh = FFS_NONE, f->tail_n = 0;
            f->tree_n = sw__ffs_nblocks(fs, size), f->npend = 0;
            f->failed = 0;
        }
    }
}

void sw__ffs_files_orphan(sw_ffs_t *fs, uint32_t slot)
{
    for (int i = 0; i < SW_FFS_FILES; i++)
        if (fs->files[i].open && fs->files[i].slot == slot)
            fs->files[i].orphan = 1;
}

uint32_t sw__ffs_open_size(const sw_ffs_t *fs, uint32_t slot, uint32_t size)
{
    for (int i = 0; i < SW_FFS_FILES; i++) {
        const sw_ffs_file_t *f = &fs->files[i];
        if (f->open && f->slot == slot && !f->orphan && f->dirty && f->size > size)
            size = f->size;
    }
    return size;
}
