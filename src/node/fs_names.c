// The "f" app, commands on names: dir/ls (sorted, bounded by the reply), stat, hash (SHA-256
// of a byte range, swarm/sha256.h), mkdir, rm, rmdir, new, mv (with no-replace and swap).
#include "profile.h"
#if SW_WITH_FS
#include <stdio.h>
#include <string.h>

#include "fs_int.h"
#include "swarm/path.h"
#include "swarm/sha256.h"

#define FS_HASH_CHUNK SW_NODE_FILE_CHUNK // hash reads the file in pieces of this size (profile.h)

///////////////////////////////////////////////////////////////////////////////////////////////
// dir / ls: entries are gathered into a scratch buffer, sorted by name, then written. Records
// grow from the front: [type u8][size u64][mtime i64][len u16][name]; their offsets (u32) grow
// down from the back. The scratch is as large as the reply's room, and a record is never
// larger than its encoding, so running out of scratch means the listing cannot fit.

#define REC_HDR 19
#define REC_HIDDEN 0xff // one of our temp files: not listed; removed if stale

typedef struct fs_dir {
    sw_fs_app_t *fs;
    uint8_t *buf;
    size_t cap, used, top; // records in [0, used), offsets in [top, cap)
    bool x, full;
    uint32_t hidden;
    size_t plen;
    char *path; // the directory + "/" (full paths are built after it): fs->path[1]
} fs_dir_t;

static uint32_t rec_off(const fs_dir_t *d, size_t i)
{
    uint32_t o;
    memcpy(&o, d->buf + d->top + 4 * i, 4);
    return o;
}

static void rec_set(fs_dir_t *d, size_t i, uint32_t o)
{
    memcpy(d->buf + d->top + 4 * i, &o, 4);
}

static int rec_cmp(const fs_dir_t *d, uint32_t a, uint32_t b)
{
    uint16_t la, lb;
    memcpy(&la, d->buf + a + 17, 2);
    memcpy(&lb, d->buf + b + 17, 2);
    int r = memcmp(d->buf + a + REC_HDR, d->buf + b + REC_HDR, la < lb ? la : lb);
    return r ? r : (int)la - (int)lb;
}

// Builds the full path of entry name into d->path (after the directory). False if too long.
static bool dir_entry_path(fs_dir_t *d, const char *name, size_t len)
{
    if (d->plen + len + 1 > SW_FS_PATH_MAX)
        return false;
    memcpy(d->path + d->plen, name, len);
    d->path[d->plen + len] = 0;
    return true;
}

static int dir_each(void *u, const sw_dirent_t *e)
{
    fs_dir_t *d = u;
    if (!d->plen && sw_path_reserved(e->name))
        return 0; // the node's key: refused to f.* by name, so not listed either (SECURITY.md)
    const char *z = memchr(e->name, 0, sizeof e->name);
    size_t len = z ? (size_t)(z - e->name) : SW_NAME_MAX;
    uint8_t type = e->type;
    uint64_t size = 0;
    int64_t mtime = 0;
    if (sw__fs_is_tmp_name(e->name, len)) {
        type = REC_HIDDEN;
        d->hidden++;
    } else if (d->x && dir_entry_path(d, e->name, len)) {
        sw_stat_t st;
        if (d->fs->n->port.ops->fs_stat(d->fs->n->port.ctx, d->path, &st) == 0) {
            type = st.type;
            size = st.size;
            mtime = st.mtime;
        }
    }
    size_t need = REC_HDR + len + 4;
    if (d->top < d->used + need) {
        d->full = true;
        return 1;
    }
    uint8_t *r = d->buf + d->used;
    uint16_t l16 = (uint16_t)len;
    r[0] = type;
    memcpy(r + 1, &size, 8);
    memcpy(r + 9, &mtime, 8);
    memcpy(r + 17, &l16, 2);
    memcpy(r + REC_HDR, e->name, len);
    d->top -= 4;
    uint32_t o = (uint32_t)d->used;
    memcpy(d->buf + d->top, &o, 4);
    d->used += REC_HDR + len;
    return 0;
}

// Shell sort of the offsets by name (no recursion, no extra memory).
static void dir_sort(fs_dir_t *d, size_t cnt)
{
    for (size_t gap = cnt / 2; gap > 0; gap = gap == 2 ? 1 : gap * 5 / 11) {
        for (size_t i = gap; i < cnt; i++) {
            uint32_t v = rec_off(d, i);
            size_t j = i;
            for (; j >= gap && rec_cmp(d, rec_off(d, j - gap), v) > 0; j -= gap)
                rec_set(d, j, rec_off(d, j - gap));
            rec_set(d, j, v);
        }
    }
}

static void dir_write(const fs_dir_t *d, size_t cnt, sw_mpw_t *w)
{
    sw_mpw_array(w, (uint32_t)(cnt - d->hidden));
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *r = d->buf + rec_off(d, i);
        uint64_t size;
        int64_t mtime;
        uint16_t len;
        memcpy(&size, r + 1, 8);
        memcpy(&mtime, r + 9, 8);
        memcpy(&len, r + 17, 2);
        if (r[0] == REC_HIDDEN)
            continue;
        if (!d->x) {
            sw_mpw_str(w, r + REC_HDR, len);
            continue;
        }
        sw_mpw_map(w, r[0] == SW_FT_FILE ? 4 : 3);
        sw_mpw_cstr(w, "n");
        sw_mpw_str(w, r + REC_HDR, len);
        sw_mpw_cstr(w, "m");
        sw_mpw_cstr(w, r[0] == SW_FT_FILE ? "f" : r[0] == SW_FT_DIR ? "d" : "?");
        if (r[0] == SW_FT_FILE) {
            sw_mpw_cstr(w, "s");
            sw_mpw_uint(w, size);
        }
        sw_mpw_cstr(w, "t");
        sw_mpw_int(w, mtime);
    }
}

// Removes temp files of atomic writes nobody has open any more (a node killed mid-write).
static void dir_sweep(fs_dir_t *d, size_t cnt)
{
    sw_node_t *n = d->fs->n;
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *r = d->buf + rec_off(d, i);
        uint16_t len;
        memcpy(&len, r + 17, 2);
        if (r[0] != REC_HIDDEN || !dir_entry_path(d, (const char *)r + REC_HDR, len))
            continue;
        bool open = false;
        for (const sw_fs_file_t *f = d->fs->files; f && !open; f = f->next)
            open = f->tmp && !strcmp(f->tmp, d->path);
        if (!open && n->port.ops->fs_unlink(n->port.ctx, d->path) == 0)
            sw_log(n, SW_LOG_INFO, "f: removed stale temp file /%s", d->path);
    }
}

int sw__fs_cmd_dir(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_node_t *n = fs->n;
    fs_dir_t d;
    memset(&d, 0, sizeof d);
    d.fs = fs;
    d.path = fs->path[1];
    int len = sw__fs_arg_path(c, "p", false, d.path);
    if (len < 0)
        return len;
    if (!sw_call_arg_bool(c, "x", false, &d.x))
        return sw__fs_arg_err(c);
    size_t room = c->out->cap - c->out->len;
    d.cap = room < n->lim.max_msg ? room : n->lim.max_msg;
    if (d.cap < 64)
        d.cap = 64;
    d.top = d.cap;
    d.buf = sw_node_alloc_buf(n, d.cap);
    if (!d.buf)
        return sw__fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    char *dir = fs->path[0];
    memcpy(dir, d.path, (size_t)len + 1);
    if (len > 0 && (size_t)len + 1 < SW_FS_PATH_MAX)
        d.path[len++] = '/';
    d.plen = (size_t)len;
    int err = n->port.ops->fs_list(n->port.ctx, dir, dir_each, &d);
    size_t cnt = (d.cap - d.top) / 4;
    if (err < 0)
        err = sw__fs_err(c, err, dir);
    else if (d.full)
        err = sw__fs_failf(c, SW_ETOOBIG, "ETOOBIG: the listing of /%.40s does not fit in a reply",
                       dir);
    else {
        dir_sort(&d, cnt);
        size_t mark = sw_mpw_mark(c->out);
        dir_write(&d, cnt, c->out);
        if (c->out->err) {
            sw_mpw_rewind(c->out, mark);
            err = sw__fs_failf(c, SW_ETOOBIG,
                           "ETOOBIG: the listing of /%.40s does not fit in a reply", dir);
        }
        if (d.hidden)
            dir_sweep(&d, cnt);
    }
    sw_node_release(n, d.buf, d.cap);
    return err < 0 ? err : 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// stat hash

int sw__fs_cmd_stat(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_node_t *n = fs->n;
    char *path = fs->path[0];
    int len = sw__fs_arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    sw_stat_t st;
    int err = n->port.ops->fs_stat(n->port.ctx, path, &st);
    if (err < 0)
        return sw__fs_err(c, err, path);
    sw_mpw_map(c->out, st.type == SW_FT_FILE ? 4 : 3);
    sw_mpw_cstr(c->out, "m");
    sw_mpw_cstr(c->out, st.type == SW_FT_FILE ? "f" : st.type == SW_FT_DIR ? "d" : "?");
    if (st.type == SW_FT_FILE) {
        sw_mpw_cstr(c->out, "s");
        sw_mpw_uint(c->out, st.size);
    }
    sw_mpw_cstr(c->out, "t");
    sw_mpw_int(c->out, st.mtime);
    // MoaT v0's "d": the os.stat() 10-tuple [mode, ino, dev, nlink, uid, gid, size, atime,
    // mtime, ctime] as MicroPython's littlefs/FAT file systems fill it (type bits only in mode,
    // the ids 0, one time for all three); its host builds os.stat_result from it.
    sw_mpw_cstr(c->out, "d");
    sw_mpw_array(c->out, 10);
    sw_mpw_uint(c->out, st.type == SW_FT_FILE ? 0x8000u : st.type == SW_FT_DIR ? 0x4000u : 0);
    for (int k = 0; k < 5; k++)
        sw_mpw_uint(c->out, 0);
    sw_mpw_uint(c->out, st.type == SW_FT_FILE ? st.size : 0);
    for (int k = 0; k < 3; k++)
        sw_mpw_int(c->out, st.mtime);
    return 0;
}

int sw__fs_cmd_hash(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    char *path = fs->path[0];
    int len = sw__fs_arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    int64_t off, count, dlen;
    bool whole = !sw__fs_arg_present(c, "n");
    if (!sw__fs_arg_count(c, "off", "o", 0, &off) || !sw__fs_arg_count(c, "n", NULL, 0, &count) ||
        !sw__fs_arg_count(c, "l", NULL, 32, &dlen))
        return sw__fs_arg_err(c);
    if (dlen < 1 || dlen > 32)
        return sw__fs_failf(c, SW_ERANGE, "ERANGE: l must be within 1..32");
    sw_stat_t st;
    int err = ops->fs_stat(n->port.ctx, path, &st);
    if (err < 0)
        return sw__fs_err(c, err, path);
    if (st.type == SW_FT_DIR)
        return sw__fs_failf(c, SW_EISDIR, "EISDIR: is a directory: /%s", path);
    if (st.type != SW_FT_FILE)
        return sw__fs_failf(c, SW_EPERM, "EPERM: not a regular file: /%s", path);
    int fd;
    err = ops->fs_open(n->port.ctx, path, SW_O_READ, &fd);
    if (err < 0)
        return sw__fs_err(c, err, path);
    uint8_t *buf = sw_node_alloc_buf(n, FS_HASH_CHUNK);
    if (!buf) {
        ops->fs_close(n->port.ctx, fd);
        return sw__fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    }
    sw_sha256_t sha;
    err = sw_sha256_begin(&sha);
    uint64_t pos = (uint64_t)off, left = (uint64_t)count;
    while (!err && (whole || left > 0)) {
        size_t want = FS_HASH_CHUNK;
        if (!whole && left < want)
            want = (size_t)left;
        int r = ops->fs_read(n->port.ctx, fd, pos, buf, want);
        if (r <= 0) {
            err = r;
            break;
        }
        err = sw_sha256_update(&sha, buf, (size_t)r);
        pos += (uint64_t)r;
        left -= whole ? 0 : (uint64_t)r;
    }
    uint8_t digest[32];
    if (!err)
        err = sw_sha256_end(&sha, digest);
    sw_node_release(n, buf, FS_HASH_CHUNK);
    ops->fs_close(n->port.ctx, fd);
    if (err < 0)
        return sw__fs_err(c, err, path);
    sw_mpw_bin(c->out, digest, (size_t)dlen);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// mkdir rm rmdir new mv

// The common part of the one-path commands: p → path; the root is refused with root_err.
static int one_path(sw_call_t *c, char *path, int root_err)
{
    int len = sw__fs_arg_path(c, "p", true, path);
    if (len == 0) {
        if (root_err == SW_EEXIST)
            return sw__fs_err(c, root_err, NULL);
        return sw__fs_failf(c, root_err, "%s: not allowed on the root", sw_errname(root_err));
    }
    return len;
}

static int reply_nil(sw_call_t *c, int err, const char *path)
{
    if (err < 0)
        return sw__fs_err(c, err, path);
    sw_mpw_nil(c->out);
    return 0;
}

int sw__fs_cmd_mkdir(sw_call_t *c)
{
    sw_node_t *n = sw__fs_of(c)->n;
    char *path = sw__fs_of(c)->path[0];
    int len = one_path(c, path, SW_EEXIST);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_mkdir(n->port.ctx, path), path);
}

int sw__fs_cmd_rm(sw_call_t *c)
{
    sw_node_t *n = sw__fs_of(c)->n;
    char *path = sw__fs_of(c)->path[0];
    int len = one_path(c, path, SW_EPERM);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_unlink(n->port.ctx, path), path);
}

int sw__fs_cmd_rmdir(sw_call_t *c)
{
    sw_node_t *n = sw__fs_of(c)->n;
    char *path = sw__fs_of(c)->path[0];
    int len = one_path(c, path, SW_EPERM);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_rmdir(n->port.ctx, path), path);
}

int sw__fs_cmd_new(sw_call_t *c)
{
    sw_node_t *n = sw__fs_of(c)->n;
    const sw_port_ops_t *ops = n->port.ops;
    char *path = sw__fs_of(c)->path[0];
    int len = one_path(c, path, SW_EEXIST);
    if (len < 0)
        return len;
    int fd;
    int err = ops->fs_open(n->port.ctx, path, SW_O_WRITE | SW_O_CREATE | SW_O_EXCL, &fd);
    if (err == 0)
        err = ops->fs_close(n->port.ctx, fd);
    return reply_nil(c, err, path);
}

// 0 if path exists, SW_ENOENT if not, or another error.
static int fs_exists(sw_node_t *n, const char *path)
{
    sw_stat_t st;
    return n->port.ops->fs_stat(n->port.ctx, path, &st);
}

int sw__fs_cmd_mv(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    void *ctx = n->port.ctx;
    char *s = fs->path[0], *d = fs->path[1], *x = fs->path[2];
    int ls = sw__fs_arg_path(c, "s", true, s);
    if (ls < 0)
        return ls;
    int ld = sw__fs_arg_path(c, "d", true, d);
    if (ld < 0)
        return ld;
    bool swap = sw__fs_arg_present(c, "x");
    int lx = swap ? sw__fs_arg_path(c, "x", true, x) : 1;
    if (lx < 0)
        return lx;
    bool noreplace;
    if (!sw_call_arg_bool(c, "n", false, &noreplace))
        return sw__fs_arg_err(c);
    if (ls == 0 || ld == 0 || lx == 0)
        return sw__fs_failf(c, SW_EPERM, "EPERM: cannot move the root");

    int err = fs_exists(n, s);
    if (err < 0)
        return sw__fs_err(c, err, s);
    if (noreplace || swap) {
        err = fs_exists(n, d);
        if (noreplace && err == 0)
            return sw__fs_err(c, SW_EEXIST, d);
        if (err < 0 && (swap || err != SW_ENOENT))
            return sw__fs_err(c, err, d);
    }
    if (!swap)
        return reply_nil(c, ops->fs_rename(ctx, s, d), d);

    // exchange s and d through x, undoing the steps done if one fails
    err = fs_exists(n, x);
    if (err == 0)
        return sw__fs_err(c, SW_EEXIST, x);
    if (err != SW_ENOENT)
        return sw__fs_err(c, err, x);
    err = ops->fs_rename(ctx, s, x);
    if (err < 0)
        return sw__fs_err(c, err, s);
    err = ops->fs_rename(ctx, d, s);
    if (err < 0) {
        ops->fs_rename(ctx, x, s);
        return sw__fs_err(c, err, d);
    }
    err = ops->fs_rename(ctx, x, d);
    if (err < 0) {
        ops->fs_rename(ctx, s, d);
        ops->fs_rename(ctx, x, s);
        return sw__fs_err(c, err, x);
    }
    sw_mpw_nil(c->out);
    return 0;
}

#endif // SW_WITH_FS
