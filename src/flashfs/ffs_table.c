// flashfs names: the table of entries (one fixed-size slot per file or directory, a slot's
// index is its id, a directory is the parent id of its entries), path resolution, and the
// operations on names: stat, mkdir, rmdir, unlink, rename, list. Every change of the table is
// one commit, so a rename that replaces its target is atomic.
#include "ffs_int.h"

static uint32_t per_block(const sw_ffs_t *fs)
{
    return fs->bd->block_size / FFS_ENT;
}

uint32_t sw__ffs_slots(const sw_ffs_t *fs)
{
    return fs->tn * per_block(fs);
}

static void ent_encode(const ffs_ent_t *e, uint8_t *p)
{
    memset(p, 0xff, FFS_ENT);
    if (!e)
        return;
    p[0] = e->type, p[1] = e->len;
    p[2] = (uint8_t)e->parent, p[3] = (uint8_t)(e->parent >> 8);
    ffs_st32(p + 4, e->size);
    ffs_st32(p + 8, e->root);
    ffs_st32(p + 12, e->mtime);
    memcpy(p + 16, e->name, e->len);
}

// Reads a slot of the committed table (type 0xff: unused). A malformed entry is SW_EIO.
int sw__ffs_ent_get(sw_ffs_t *fs, uint32_t slot, ffs_ent_t *e)
{
    uint8_t p[FFS_ENT];
    uint32_t blk;
    e->type = 0xff;
    if (slot >= sw__ffs_slots(fs))
        return 0;
    int err = sw__ffs_tree_get(fs, fs->troot, fs->tn, slot / per_block(fs), &blk);
    if (err || blk == FFS_NONE)
        return err;
    if ((err = sw__ffs_read(fs, blk, slot % per_block(fs) * FFS_ENT, p, FFS_ENT)))
        return err;
    if (p[0] == 0xff)
        return 0;
    e->type = p[0], e->len = p[1];
    e->parent = (uint16_t)(p[2] | p[3] << 8);
    e->size = ffs_ld32(p + 4), e->root = ffs_ld32(p + 8), e->mtime = ffs_ld32(p + 12);
    if ((e->type != FFS_T_FILE && e->type != FFS_T_DIR) || !e->len || e->len > SW_FFS_NAME_MAX ||
        (e->parent != FFS_ROOT && e->parent >= sw__ffs_slots(fs)) || e->parent == slot ||
        (e->type == FFS_T_DIR && (e->size || e->root != FFS_NONE)))
        return SW_EIO;
    memcpy(e->name, p + 16, e->len);
    e->name[e->len] = 0;
    if (memchr(e->name, '/', e->len) || memchr(e->name, 0, e->len))
        return SW_EIO;
    return 0;
}

// Applies up to two slot changes in one commit: each table block changed is copied once with
// its new entries; a block left with no entry becomes a hole, trailing holes are dropped.
int sw__ffs_table_update(sw_ffs_t *fs, const ffs_change_t *ch, int nch)
{
    uint32_t root = fs->troot, n = fs->tn, pb = per_block(fs);
    uint8_t buf[2][FFS_ENT];
    if (nch > 2)
        return SW_EINVAL;
    for (int i = 0; i < nch; i++) {
        uint32_t k = ch[i].slot / pb;
        bool again = false;
        for (int j = 0; j < i; j++)
            again |= ch[j].slot / pb == k;
        if (again)
            continue;
        uint32_t off[2], len[2];
        const uint8_t *sub[2];
        int ns = 0;
        for (int j = i; j < nch; j++) {
            if (ch[j].slot / pb != k)
                continue;
            ent_encode(ch[j].ent, buf[ns]);
            off[ns] = ch[j].slot % pb * FFS_ENT, len[ns] = FFS_ENT, sub[ns] = buf[ns];
            ns++;
        }
        uint32_t old, nb;
        bool blank;
        int err = sw__ffs_tree_get(fs, root, n, k, &old);
        if (!err)
            err = sw__ffs_copy(fs, old, fs->bd->block_size, off, sub, len, ns, &nb, &blank);
        if (!err) {
            uint32_t n2 = k + 1 > n ? k + 1 : n;
            if (k >= n && blank) // nothing to add past the end
                continue;
            err = sw__ffs_tree_set(fs, &root, n, n2, k, blank ? FFS_NONE : nb);
            n = n2;
        }
        if (err)
            return err;
    }
    uint32_t n0 = n, last;
    while (n > 0) {
        int err = sw__ffs_tree_get(fs, root, n, n - 1, &last);
        if (err)
            return err;
        if (last != FFS_NONE)
            break;
        n--;
    }
    int err = sw__ffs_tree_shrink(fs, &root, n0, n);
    if (!err && (uint64_t)n * pb >= FFS_ROOT)
        err = SW_EIO; // the table is full: ids are 16 bits
    return err ? err : sw__ffs_commit(fs, n, root);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Paths

typedef struct ffs_path {
    uint32_t parent;  // directory holding the last component (FFS_ROOT)
    const char *name; // last component, not NUL-terminated ("" for the root itself)
    uint32_t len;
    uint32_t slot;    // its slot, FFS_NONE if missing, FFS_ROOT for the root
    ffs_ent_t ent;    // its entry when it exists (type FFS_T_DIR for the root)
} ffs_path_t;

// Checks a node path: relative, '/'-separated components of 1..SW_FFS_NAME_MAX bytes, none
// "." or ".."; "" is the root.
int sw__ffs_path_check(const char *path)
{
    if (!path)
        return SW_EINVAL;
    size_t n = 0;
    while (n <= SW_FFS_PATH_MAX && path[n])
        n++;
    if (n > SW_FFS_PATH_MAX)
        return SW_EINVAL;
    if (n == 0)
        return 0;
    for (const char *s = path;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len > SW_FFS_NAME_MAX || (len == 1 && s[0] == '.') ||
            (len == 2 && s[0] == '.' && s[1] == '.'))
            return SW_EINVAL;
        if (!e)
            return 0;
        s = e + 1;
    }
}

// Finds name in directory dir: *slot = FFS_NONE if absent.
static int lookup(sw_ffs_t *fs, uint32_t dir, const char *name, uint32_t len, uint32_t *slot,
                  ffs_ent_t *e)
{
    uint32_t slots = sw__ffs_slots(fs);
    *slot = FFS_NONE;
    for (uint32_t s = 0; s < slots; s++) {
        int err = sw__ffs_ent_get(fs, s, e);
        if (err)
            return err;
        if (e->type != 0xff && e->parent == dir && e->len == len && !memcmp(e->name, name, len)) {
            *slot = s;
            return 0;
        }
    }
    return 0;
}

static int resolve(sw_ffs_t *fs, const char *path, ffs_path_t *r)
{
    int err = sw__ffs_path_check(path);
    if (err)
        return err;
    if (!fs->mounted)
        return SW_ENOENT;
    r->parent = FFS_ROOT, r->name = path, r->len = 0, r->slot = FFS_ROOT;
    memset(&r->ent, 0, sizeof r->ent);
    r->ent.type = FFS_T_DIR, r->ent.root = FFS_NONE;
    if (!*path)
        return 0;
    uint32_t cur = FFS_ROOT;
    for (const char *s = path;;) {
        const char *e = strchr(s, '/');
        uint32_t len = (uint32_t)(e ? (size_t)(e - s) : strlen(s));
        if ((err = lookup(fs, cur, s, len, &r->slot, &r->ent)))
            return err;
        if (!e) {
            r->parent = cur, r->name = s, r->len = len;
            return 0;
        }
        if (r->slot == FFS_NONE)
            return SW_ENOENT;
        if (r->ent.type != FFS_T_DIR)
            return SW_ENOTDIR;
        cur = r->slot;
        s = e + 1;
    }
}

static uint32_t now(const sw_ffs_t *fs)
{
    int64_t t = fs->bd->wall_s ? fs->bd->wall_s(fs->bd->ctx) : 0;
    return t > 0 && t < 0xffffffff ? (uint32_t)t : 0;
}

static bool has_children(sw_ffs_t *fs, uint32_t dir, int *err)
{
    uint32_t slots = sw__ffs_slots(fs);
    ffs_ent_t e;
    *err = 0;
    for (uint32_t s = 0; s < slots; s++) {
        if ((*err = sw__ffs_ent_get(fs, s, &e)))
            return true;
        if (e.type != 0xff && e.parent == dir)
            return true;
    }
    return false;
}

// Creates an entry for the missing last component of r.
static int create(sw_ffs_t *fs, const ffs_path_t *r, uint8_t type, uint32_t *slot)
{
    uint32_t slots = sw__ffs_slots(fs), s;
    ffs_ent_t e;
    for (s = 0; s < slots; s++) {
        int err = sw__ffs_ent_get(fs, s, &e);
        if (err)
            return err;
        if (e.type == 0xff)
            break;
    }
    memset(&e, 0, sizeof e);
    e.type = type, e.len = (uint8_t)r->len, e.parent = (uint16_t)r->parent;
    e.root = FFS_NONE, e.mtime = now(fs);
    memcpy(e.name, r->name, r->len);
    ffs_change_t c = {s, &e};
    *slot = s;
    sw__ffs_op_begin(fs);
    return sw__ffs_table_update(fs, &c, 1);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Operations on names (port.h semantics, POSIX port's error codes)

int sw__ffs_open_entry(sw_ffs_t *fs, const char *path, int flags, uint32_t *slot, ffs_ent_t *e)
{
    ffs_path_t r;
    int err = resolve(fs, path, &r);
    if (err)
        return err;
    if (r.slot == FFS_ROOT || (r.slot != FFS_NONE && r.ent.type == FFS_T_DIR))
        return SW_EISDIR;
    if (r.slot == FFS_NONE) {
        if (!(flags & SW_O_CREATE))
            return SW_ENOENT;
        if ((err = create(fs, &r, FFS_T_FILE, slot)))
            return err;
        return sw__ffs_ent_get(fs, *slot, e);
    }
    if ((flags & SW_O_CREATE) && (flags & SW_O_EXCL))
        return SW_EEXIST;
    *slot = r.slot;
    *e = r.ent;
    if ((flags & SW_O_TRUNC) && e->size) {
        e->size = 0, e->root = FFS_NONE, e->mtime = now(fs);
        ffs_change_t c = {r.slot, e};
        sw__ffs_op_begin(fs);
        if ((err = sw__ffs_table_update(fs, &c, 1)))
            return err;
        sw__ffs_files_committed(fs, r.slot, 0, FFS_NONE, NULL);
    }
    return 0;
}

int sw__ffs_sync_entry(sw_ffs_t *fs, uint32_t slot, uint32_t size, uint32_t root)
{
    ffs_ent_t e;
    int err = sw__ffs_ent_get(fs, slot, &e);
    if (err)
        return err;
    if (e.type != FFS_T_FILE)
        return SW_EIO;
    e.size = size, e.root = root, e.mtime = now(fs);
    ffs_change_t c = {slot, &e};
    return sw__ffs_table_update(fs, &c, 1);
}

int sw_ffs_stat(sw_ffs_t *fs, const char *path, sw_stat_t *st)
{
    ffs_path_t r;
    memset(st, 0, sizeof *st);
    int err = resolve(fs, path, &r);
    if (err)
        return err;
    if (r.slot == FFS_NONE)
        return SW_ENOENT;
    st->type = r.ent.type == FFS_T_DIR ? SW_FT_DIR : SW_FT_FILE;
    if (st->type == SW_FT_FILE)
        st->size = sw__ffs_open_size(fs, r.slot, r.ent.size);
    st->mtime = r.ent.mtime;
    return 0;
}

int sw_ffs_mkdir(sw_ffs_t *fs, const char *path)
{
    ffs_path_t r;
    uint32_t slot;
    int err = resolve(fs, path, &r);
    if (err)
        return err;
    if (r.slot != FFS_NONE)
        return SW_EEXIST;
    return create(fs, &r, FFS_T_DIR, &slot);
}

static int remove_entry(sw_ffs_t *fs, const char *path, bool dir)
{
    ffs_path_t r;
    int err = sw__ffs_path_check(path);
    if (err)
        return err;
    if (!*path)
        return SW_EPERM;
    if ((err = resolve(fs, path, &r)))
        return err;
    if (r.slot == FFS_NONE)
        return SW_ENOENT;
    if (dir && r.ent.type != FFS_T_DIR)
        return SW_ENOTDIR;
    if (!dir && r.ent.type == FFS_T_DIR)
        return SW_EISDIR;
    if (dir && has_children(fs, r.slot, &err))
        return err ? err : SW_ENOTEMPTY;
    ffs_change_t c = {r.slot, NULL};
    sw__ffs_op_begin(fs);
    if ((err = sw__ffs_table_update(fs, &c, 1)))
        return err;
    sw__ffs_files_orphan(fs, r.slot);
    return 0;
}

int sw_ffs_rmdir(sw_ffs_t *fs, const char *path)
{
    return remove_entry(fs, path, true);
}

int sw_ffs_unlink(sw_ffs_t *fs, const char *path)
{
    return remove_entry(fs, path, false);
}

int sw_ffs_rename(sw_ffs_t *fs, const char *from, const char *to)
{
    ffs_path_t a, b;
    int err;
    if ((err = sw__ffs_path_check(from)) || (err = sw__ffs_path_check(to)))
        return err;
    if (!*from || !*to)
        return SW_EPERM;
    if ((err = resolve(fs, from, &a)) || (err = resolve(fs, to, &b)))
        return err;
    if (a.slot == FFS_NONE)
        return SW_ENOENT;
    if (b.slot == a.slot)
        return 0;
    if (a.ent.type == FFS_T_DIR) { // not into itself: walk up from the new parent
        uint32_t p = b.parent, steps = sw__ffs_slots(fs) + 1;
        ffs_ent_t e;
        while (p != FFS_ROOT) {
            if (p == a.slot)
                return SW_EINVAL;
            if (!steps-- || (err = sw__ffs_ent_get(fs, p, &e)) || e.type != FFS_T_DIR)
                return err ? err : SW_EIO;
            p = e.parent;
        }
    }
    if (b.slot != FFS_NONE) {
        if (b.ent.type == FFS_T_DIR && a.ent.type != FFS_T_DIR)
            return SW_EISDIR;
        if (b.ent.type != FFS_T_DIR && a.ent.type == FFS_T_DIR)
            return SW_ENOTDIR;
        if (b.ent.type == FFS_T_DIR && has_children(fs, b.slot, &err))
            return err ? err : SW_ENOTEMPTY;
    }
    ffs_ent_t e = a.ent;
    e.parent = (uint16_t)b.parent, e.len = (uint8_t)b.len;
    memcpy(e.name, b.name, b.len);
    ffs_change_t c[2] = {{a.slot, &e}, {b.slot, NULL}};
    sw__ffs_op_begin(fs);
    if ((err = sw__ffs_table_update(fs, c, b.slot == FFS_NONE ? 1 : 2)))
        return err;
    if (b.slot != FFS_NONE)
        sw__ffs_files_orphan(fs, b.slot);
    return 0;
}

int sw_ffs_list(sw_ffs_t *fs, const char *path, int (*each)(void *u, const sw_dirent_t *e),
                void *u)
{
    ffs_path_t r;
    int err = resolve(fs, path, &r);
    if (err)
        return err;
    if (r.slot == FFS_NONE)
        return SW_ENOENT;
    if (r.ent.type != FFS_T_DIR)
        return SW_ENOTDIR;
    // the slot index is the only state kept between calls of each(), which may change the table
    for (uint32_t s = 0; s < sw__ffs_slots(fs); s++) {
        ffs_ent_t e;
        if ((err = sw__ffs_ent_get(fs, s, &e)))
            return err;
        if (e.type == 0xff || e.parent != r.slot)
            continue;
        sw_dirent_t d;
        memcpy(d.name, e.name, e.len + 1u);
        d.type = e.type == FFS_T_DIR ? SW_FT_DIR : SW_FT_FILE;
        if ((err = each(u, &d)))
            return err;
    }
    return 0;
}
