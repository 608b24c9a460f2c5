// flashfs block layer: cached reads, the allocator (free space is never stored: it is what the
// last commit and the open handles do not reach), copy-on-write block trees, the commit records
// in the superblock pair, format and mount. The format is specified in docs/FLASHFS.md.
#include "ffs_int.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Small helpers

uint32_t sw__ffs_crc32(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    crc = ~crc;
    while (n--) {
        crc ^= *b++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static bool bit(const uint8_t *map, uint32_t b)
{
    return map[b >> 3] >> (b & 7) & 1;
}

static void bit_set(uint8_t *map, uint32_t b)
{
    map[b >> 3] |= (uint8_t)(1u << (b & 7));
}

static uint32_t ptrs(const sw_ffs_t *fs)
{
    return fs->bd->block_size / 4;
}

uint32_t sw__ffs_nblocks(const sw_ffs_t *fs, uint32_t size)
{
    return (uint32_t)(((uint64_t)size + fs->bd->block_size - 1) / fs->bd->block_size);
}

// Levels of index blocks a tree of n data blocks needs (0: the root is the data block).
static int depth(const sw_ffs_t *fs, uint32_t n)
{
    int d = 0;
    for (uint64_t cap = 1; cap < n; cap *= ptrs(fs))
        d++;
    return d;
}

static uint32_t span_of(const sw_ffs_t *fs, int level) // data blocks under one entry at level
{
    uint32_t s = 1;
    while (--level > 0)
        s *= ptrs(fs);
    return s;
}

static bool blk_ok(const sw_ffs_t *fs, uint32_t b)
{
    return b >= 2 && b < fs->bd->block_count;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Device access

int sw__ffs_read(sw_ffs_t *fs, uint32_t blk, uint32_t off, void *buf, uint32_t n)
{
    const sw_ffs_bd_t *bd = fs->bd;
    uint8_t *out = buf;
    if (blk >= bd->block_count || off > bd->block_size || n > bd->block_size - off)
        return SW_EIO;
    while (n) {
        // whole read units straight into the caller's buffer, the rest through the cache
        if (off % bd->read_size == 0 && n >= SW_FFS_CACHE) {
            uint32_t m = n - n % bd->read_size;
            int err = bd->read(bd->ctx, blk, off, out, m);
            if (err)
                return SW_EIO;
            out += m, off += m, n -= m;
            continue;
        }
        uint32_t base = off - off % SW_FFS_CACHE;
        if (fs->rc_block != blk || fs->rc_off != base) {
            fs->rc_block = FFS_NONE;
            if (bd->read(bd->ctx, blk, base, fs->rcache, SW_FFS_CACHE))
                return SW_EIO;
            fs->rc_block = blk, fs->rc_off = base;
        }
        uint32_t m = SW_FFS_CACHE - (off - base);
        if (m > n)
            m = n;
        memcpy(out, fs->rcache + (off - base), m);
        out += m, off += m, n -= m;
    }
    return 0;
}

int sw__ffs_prog(sw_ffs_t *fs, uint32_t blk, uint32_t off, const void *buf, uint32_t n)
{
    if (fs->rc_block == blk)
        fs->rc_block = FFS_NONE;
    return fs->bd->prog(fs->bd->ctx, blk, off, buf, n) ? SW_EIO : 0;
}

void sw__ffs_set_bad(sw_ffs_t *fs, uint32_t blk)
{
    if (blk < fs->bd->block_count)
        bit_set(fs->bad, blk);
}

static int read32(sw_ffs_t *fs, uint32_t blk, uint32_t off, uint32_t *v)
{
    uint8_t b[4];
    int err = sw__ffs_read(fs, blk, off, b, 4);
    *v = ffs_ld32(b);
    return err;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Allocation. `used` is a superset of the blocks in use: bits are set when a block is handed
// out and cleared only by a reclaim, which recomputes them from what is reachable. A block the
// last commit reaches is therefore never handed out, which is what makes copy-on-write safe.

void sw__ffs_op_begin(sw_ffs_t *fs)
{
    fs->ninflight = 0;
    fs->nofree = 0;
}

// A walk marks each block once per tree that reaches it. In a sound file system only the open
// handles share blocks with the committed files, so more visits than this mean corruption (a
// block reached many times over), and the walk stops: its time stays bounded.
static uint32_t visits_max(const sw_ffs_t *fs)
{
    return fs->bd->block_count * (2 + SW_FFS_FILES) + 2 * SW_FFS_FILES * SW_FFS_PEND;
}

static int mark_level(sw_ffs_t *fs, uint32_t blk, int level, uint32_t n)
{
    if (!blk_ok(fs, blk) || ++fs->visits > visits_max(fs))
        return SW_EIO;
    bit_set(fs->used, blk);
    if (level == 0)
        return 0;
    uint32_t span = span_of(fs, level);
    uint32_t kids = (uint32_t)(((uint64_t)n + span - 1) / span);
    for (uint32_t i = 0; i < kids; i++) {
        uint32_t c;
        int err = read32(fs, blk, 4 * i, &c);
        if (err)
            return err;
        if (c == FFS_NONE)
            continue;
        uint32_t m = n - i * span < span ? n - i * span : span;
        if ((err = mark_level(fs, c, level - 1, m)))
            return err;
    }
    return 0;
}

static int mark_tree(sw_ffs_t *fs, uint32_t root, uint32_t n)
{
    if (n == 0 || root == FFS_NONE)
        return 0;
    if (n > fs->bd->block_count || depth(fs, n) > FFS_MAX_DEPTH)
        return SW_EIO;
    return mark_level(fs, root, depth(fs, n), n);
}

int sw__ffs_reclaim(sw_ffs_t *fs)
{
    if (fs->nofree)
        return SW_EIO;
    memcpy(fs->used, fs->bad, sizeof fs->used);
    fs->visits = 0;
    bit_set(fs->used, 0);
    bit_set(fs->used, 1);
    for (int i = 0; i < fs->ninflight; i++)
        bit_set(fs->used, fs->inflight[i]);
    int err = mark_tree(fs, fs->troot, fs->tn);
    uint32_t slots = sw__ffs_slots(fs);
    for (uint32_t s = 0; !err && s < slots; s++) {
        ffs_ent_t e;
        if (!(err = sw__ffs_ent_get(fs, s, &e)) && e.type == FFS_T_FILE)
            err = mark_tree(fs, e.root, sw__ffs_nblocks(fs, e.size));
    }
    if (!err)
        err = sw__ffs_file_mark(fs, mark_tree);
    if (err) // corrupt: nothing may be handed out
        memset(fs->used, 0xff, sizeof fs->used);
    return err;
}

// Hands out an erased block. Goes round from the cursor, so writes spread over the whole disk
// (wear levelling of the blocks that change); reclaims once when it has gone all the way round.
int sw__ffs_alloc(sw_ffs_t *fs, uint32_t *blk)
{
    const sw_ffs_bd_t *bd = fs->bd;
    uint32_t span = bd->block_count - 2;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 1; i <= span; i++) {
            uint32_t b = 2 + (fs->cursor - 2 + i) % span;
            if (bit(fs->used, b))
                continue;
            bit_set(fs->used, b);
            fs->cursor = b;
            if (bd->erase(bd->ctx, b)) {
                bit_set(fs->bad, b);
                continue;
            }
            if (fs->rc_block == b)
                fs->rc_block = FFS_NONE;
            if (fs->ninflight < sizeof fs->inflight / sizeof fs->inflight[0])
                fs->inflight[fs->ninflight++] = b;
            else
                fs->nofree = 1;
            *blk = b;
            return 0;
        }
        if (pass == 0 && sw__ffs_reclaim(fs))
            break;
    }
    return SW_EIO; // full (POSIX says ENOSPC, which the port maps to SW_EIO)
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Copy-on-write

// Writes a new block: the first len bytes of src (none: erased bytes) with the nsub
// substitutions laid over them. Units that stay erased are not programmed; *blank tells whether
// the whole block stayed erased. A block that fails a program is left for another.
int sw__ffs_copy(sw_ffs_t *fs, uint32_t src, uint32_t len, const uint32_t *sub_off,
                 const uint8_t *const *sub, const uint32_t *sub_len, int nsub, uint32_t *out,
                 bool *blank)
{
    const sw_ffs_bd_t *bd = fs->bd;
    uint32_t end = src == FFS_NONE ? 0 : len;
    for (int i = 0; i < nsub; i++)
        if (sub_off[i] + sub_len[i] > end)
            end = sub_off[i] + sub_len[i];
    end += (bd->prog_size - end % bd->prog_size) % bd->prog_size;
    if (end > bd->block_size)
        return SW_EIO;
    for (int tries = 0; tries < 8; tries++) {
        uint32_t dst;
        int err = sw__ffs_alloc(fs, &dst);
        if (err)
            return err;
        bool empty = true;
        for (uint32_t c = 0; c < end && !err; c += SW_FFS_CACHE) {
            uint32_t m = end - c < SW_FFS_CACHE ? end - c : SW_FFS_CACHE;
            memset(fs->pbuf, 0xff, m);
            if (src != FFS_NONE && c < len &&
                (err = sw__ffs_read(fs, src, c, fs->pbuf, len - c < m ? len - c : m)))
                return err;
            for (int i = 0; i < nsub; i++) {
                uint32_t a = sub_off[i] > c ? sub_off[i] : c;
                uint32_t z = sub_off[i] + sub_len[i] < c + m ? sub_off[i] + sub_len[i] : c + m;
                if (a < z)
                    memcpy(fs->pbuf + (a - c), sub[i] + (a - sub_off[i]), z - a);
            }
            bool ff = true;
            for (uint32_t k = 0; k < m && ff; k++)
                ff = fs->pbuf[k] == 0xff;
            if (!ff) {
                empty = false;
                err = sw__ffs_prog(fs, dst, c, fs->pbuf, m);
            }
        }
        if (!err) {
            *out = dst;
            if (blank)
                *blank = empty;
            return 0;
        }
        sw__ffs_set_bad(fs, dst);
    }
    return SW_EIO;
}

int sw__ffs_tree_get(sw_ffs_t *fs, uint32_t root, uint32_t n, uint32_t bi, uint32_t *blk)
{
    *blk = FFS_NONE;
    if (bi >= n || root == FFS_NONE)
        return 0;
    int d = depth(fs, n);
    if (d > FFS_MAX_DEPTH)
        return SW_EIO;
    uint32_t cur = root;
    for (int level = d; level > 0 && cur != FFS_NONE; level--) {
        uint32_t span = span_of(fs, level);
        if (!blk_ok(fs, cur))
            return SW_EIO;
        int err = read32(fs, cur, 4 * (bi / span), &cur);
        if (err)
            return err;
        bi %= span;
    }
    if (cur != FFS_NONE && !blk_ok(fs, cur))
        return SW_EIO;
    *blk = cur;
    return 0;
}

// Sets leaves bi..bi+cnt-1 (all under node, whose first leaf is lo) to blks, copying node and
// the index blocks below it that change: each index block once, whatever cnt.
static int set_many(sw_ffs_t *fs, uint32_t node, int level, uint32_t lo, uint32_t bi,
                    const uint32_t *blks, uint32_t cnt, uint32_t *out)
{
    if (level == 0) {
        *out = blks[0];
        return 0;
    }
    if (node != FFS_NONE && !blk_ok(fs, node))
        return SW_EIO;
    uint32_t span = span_of(fs, level), off[SW_FFS_PEND], len[SW_FFS_PEND];
    uint8_t val[SW_FFS_PEND][4];
    const uint8_t *sub[SW_FFS_PEND];
    int ns = 0;
    while (cnt) {
        uint32_t c = (bi - lo) / span, end = lo + (c + 1) * span;
        uint32_t k = end - bi < cnt ? end - bi : cnt, child = FFS_NONE, nc;
        int err;
        if (node != FFS_NONE && (err = read32(fs, node, 4 * c, &child)))
            return err;
        if ((err = set_many(fs, child, level - 1, lo + c * span, bi, blks, k, &nc)))
            return err;
        ffs_st32(val[ns], nc);
        off[ns] = 4 * c, len[ns] = 4, sub[ns] = val[ns];
        ns++;
        bi += k, blks += k, cnt -= k;
    }
    return sw__ffs_copy(fs, node, fs->bd->block_size, off, sub, len, ns, out, NULL);
}

// Makes leaves bi..bi+cnt-1 (cnt <= SW_FFS_PEND) of the tree, resized from n_old to n_new data
// blocks, the blocks blks (cnt 0: only resizes); *root becomes the new tree's root. Nothing of
// the old tree is modified.
int sw__ffs_tree_set_many(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new,
                          uint32_t bi, const uint32_t *blks, uint32_t cnt)
{
    uint32_t r = n_old ? *root : FFS_NONE;
    if (n_new < n_old)
        n_new = n_old;
    if (cnt > SW_FFS_PEND || (cnt && bi + cnt > n_new))
        return SW_EINVAL;
    int d = depth(fs, n_old), dn = depth(fs, n_new);
    if (dn > FFS_MAX_DEPTH)
        return SW_ETOOBIG;
    for (; d < dn; d++) { // grow: the old tree becomes entry 0 of a new root
        if (r == FFS_NONE)
            continue;
        uint8_t v[4];
        ffs_st32(v, r);
        const uint8_t *sub = v;
        uint32_t off = 0, len = 4;
        int err = sw__ffs_copy(fs, FFS_NONE, 0, &off, &sub, &len, 1, &r, NULL);
        if (err)
            return err;
    }
    if (!cnt) {
        *root = r;
        return 0;
    }
    return set_many(fs, r, dn, 0, bi, blks, cnt, root);
}

int sw__ffs_tree_set(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new, uint32_t bi,
                     uint32_t blk)
{
    return sw__ffs_tree_set_many(fs, root, n_old, n_new, bi, &blk, 1);
}

int sw__ffs_tree_shrink(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new)
{
    if (n_new == 0) {
        *root = FFS_NONE;
        return 0;
    }
    for (int d = depth(fs, n_old); d > depth(fs, n_new) && *root != FFS_NONE; d--) {
        if (!blk_ok(fs, *root))
            return SW_EIO;
        int err = read32(fs, *root, 0, root);
        if (err)
            return err;
    }
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Commit records: blocks 0 and 1, filled slot by slot; when the one in use is full the other
// is erased and continues. The newest record with a good CRC is the file system.

static void rec_encode(const sw_ffs_t *fs, uint8_t *p, uint32_t seq, uint32_t tn, uint32_t troot)
{
    memset(p, 0xff, fs->rec_size);
    ffs_st32(p, FFS_MAGIC);
    ffs_st32(p + 4, seq);
    ffs_st32(p + 8, FFS_VERSION | (uint32_t)FFS_ENT << 16);
    ffs_st32(p + 12, fs->bd->block_size);
    ffs_st32(p + 16, fs->bd->block_count);
    ffs_st32(p + 20, tn);
    ffs_st32(p + 24, troot);
    ffs_st32(p + 28, fs->cursor);
    ffs_st32(p + 32, sw__ffs_crc32(0, p, 32));
}

int sw__ffs_commit(sw_ffs_t *fs, uint32_t tn, uint32_t troot)
{
    const sw_ffs_bd_t *bd = fs->bd;
    // everything the record points to must be durable before the record is
    if (bd->sync(bd->ctx))
        return SW_EIO;
    for (int tries = 0; tries < 4; tries++) {
        if (fs->sb_next + fs->rec_size > bd->block_size) {
            uint32_t other = fs->sb_block ^ 1;
            // the records in `other` are all older than the newest in sb_block
            if (bd->erase(bd->ctx, other))
                return SW_EIO; // a worn-out superblock: the file system is read-only now
            if (fs->rc_block == other)
                fs->rc_block = FFS_NONE;
            fs->sb_block = other, fs->sb_next = 0;
        }
        rec_encode(fs, fs->pbuf, fs->seq + 1, tn, troot);
        uint32_t at = fs->sb_next;
        fs->sb_next += fs->rec_size; // a failed slot is never programmed again
        if (sw__ffs_prog(fs, fs->sb_block, at, fs->pbuf, fs->rec_size))
            continue;
        if (bd->sync(bd->ctx))
            return SW_EIO;
        fs->seq++, fs->tn = tn, fs->troot = troot;
        return 0;
    }
    return SW_EIO;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Format, mount

static int geometry(const sw_ffs_bd_t *bd)
{
    if (!bd || !bd->read || !bd->prog || !bd->erase || !bd->sync)
        return SW_EINVAL;
    if (!bd->read_size || !bd->prog_size || bd->prog_size > SW_FFS_PROG_MAX ||
        SW_FFS_CACHE % bd->read_size || SW_FFS_CACHE % bd->prog_size ||
        bd->block_size < 256 || bd->block_size % SW_FFS_CACHE || bd->block_count < 4 ||
        bd->block_count > SW_FFS_MAX_BLOCKS)
        return SW_EINVAL;
    return 0;
}

static void fs_reset(sw_ffs_t *fs, const sw_ffs_bd_t *bd)
{
    memset(fs, 0, sizeof *fs);
    fs->bd = bd;
    fs->rc_block = FFS_NONE;
    fs->rec_size = FFS_REC_LEN + (bd->prog_size - FFS_REC_LEN % bd->prog_size) % bd->prog_size;
}

int sw_ffs_format(sw_ffs_t *fs, const sw_ffs_bd_t *bd)
{
    int err = geometry(bd);
    if (err)
        return err;
    if (fs->mounted)
        sw_ffs_unmount(fs);
    fs_reset(fs, bd);
    if (bd->erase(bd->ctx, 0) || bd->erase(bd->ctx, 1))
        return SW_EIO;
    fs->cursor = 1; // the first block handed out is 2
    fs->troot = FFS_NONE;
    fs->sb_block = 0;
    err = sw__ffs_commit(fs, 0, FFS_NONE);
    fs->bd = NULL;
    return err;
}

int sw_ffs_mount(sw_ffs_t *fs, const sw_ffs_bd_t *bd)
{
    int err = geometry(bd);
    if (err)
        return err;
    fs_reset(fs, bd);
    bool found = false;
    uint8_t rec[FFS_REC_LEN];
    for (uint32_t b = 0; b < 2; b++) {
        uint32_t next = 0;
        for (uint32_t at = 0; at + fs->rec_size <= bd->block_size; at += fs->rec_size) {
            bool blank = true;
            for (uint32_t k = 0; k < fs->rec_size && blank; k += 4) {
                uint32_t v;
                if ((err = read32(fs, b, at + k, &v)))
                    return err;
                blank = v == FFS_NONE;
            }
            if (blank)
                continue;
            next = at + fs->rec_size; // a slot once written (even half) is never reused
            if ((err = sw__ffs_read(fs, b, at, rec, sizeof rec)))
                return err;
            uint32_t seq = ffs_ld32(rec + 4);
            if (ffs_ld32(rec) != FFS_MAGIC || ffs_ld32(rec + 32) != sw__ffs_crc32(0, rec, 32) ||
                ffs_ld32(rec + 8) != (FFS_VERSION | (uint32_t)FFS_ENT << 16) ||
                ffs_ld32(rec + 12) != bd->block_size || ffs_ld32(rec + 16) != bd->block_count)
                continue;
            if (found && (int32_t)(seq - fs->seq) <= 0)
                continue;
            found = true;
            fs->seq = seq, fs->sb_block = b;
            fs->tn = ffs_ld32(rec + 20), fs->troot = ffs_ld32(rec + 24);
            fs->cursor = ffs_ld32(rec + 28);
        }
        if (found && fs->sb_block == b)
            fs->sb_next = next;
    }
    if (!found)
        return SW_ENOENT;
    if (fs->cursor >= bd->block_count || fs->cursor < 1)
        fs->cursor = 1;
    if ((uint64_t)fs->tn * (bd->block_size / FFS_ENT) >= FFS_ROOT)
        return SW_EIO;
    fs->mounted = 1;
    sw__ffs_op_begin(fs);
    if ((err = sw__ffs_reclaim(fs))) {
        fs->mounted = 0;
        return err;
    }
    return 0;
}

int sw_ffs_usage(sw_ffs_t *fs, uint32_t *used, uint32_t *total)
{
    if (!fs->mounted)
        return SW_ENOENT;
    sw__ffs_op_begin(fs);
    int err = sw__ffs_reclaim(fs);
    if (err)
        return err;
    uint32_t n = 0;
    for (uint32_t b = 0; b < fs->bd->block_count; b++)
        n += bit(fs->used, b);
    *used = n;
    *total = fs->bd->block_count;
    return 0;
}
