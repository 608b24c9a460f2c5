// The "f" app: files under the node's root, MoaT v0 fs app commands (open rd wr cl dir stat hash
// mkdir rm rmdir new mv reset) answering to v0 and v2 argument names, plus an atomic-replace
// open mode ("W": temp file, sync, rename). Handles belong to the link that opened them.
// Everything reaches the files through the port; paths go through sw_path_norm() first.
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "node_int.h"
#include "swarm/path.h"

// Longest normalised path handled, NUL included. @@ (stack: up to three of these in mv)
#ifndef SW_FS_PATH_MAX
#define SW_FS_PATH_MAX 512
#endif

#define FS_RD_OVERHEAD 32   // limits.msg minus this is the largest rd (a round, documented figure)
#define FS_RD_TAIL 16       // what a reply still needs after the handler's writer position: the
                            // bin header (<= 5) and the trailing "i": seq (<= 11)
#define FS_HASH_CHUNK 4096  // hash reads the file in pieces of this size
#define FS_TMP_TAG ".swtmp" // atomic temp files: ".<name>.swtmp<handle>" next to the target
#define FS_HANDLE_MAX 0x7fffffff

enum {
    FM_RD = 1 << 0,
    FM_WR = 1 << 1,
    FM_APPEND = 1 << 2, // writes go to the end, whatever offset was given
    FM_ATOMIC = 1 << 3, // "W": writes go to tmp; cl renames it over path
};

typedef struct fs_file fs_file_t;
struct fs_file {
    fs_file_t *next;
    const sw_rpc_t *owner; // the link that opened it
    int64_t handle;
    int fd;                // the port's
    uint8_t mode;          // FM_*
    uint64_t end;          // FM_APPEND: where the next write goes
    size_t size;           // of this allocation (path and tmp follow the struct)
    char *path;            // normalised target path
    char *tmp;             // FM_ATOMIC: the temp file; else NULL
};

enum { FS_NCMDS = 14 };

struct sw_fs_app {
    sw_node_t *n;
    fs_file_t *files;
    uint16_t count;
    int64_t next_handle;
    int dir_id;
    sw_cmd_def_t defs[FS_NCMDS]; // the tree points here; user = the node
};

typedef struct sw_fs_app sw_fs_app_t;

///////////////////////////////////////////////////////////////////////////////////////////////
// Errors. MoaT hosts know "fn" (not found) and "fx" (exists); everything else is
// "<NAME>: <detail>".

__attribute__((format(printf, 3, 4)))
static int fs_failf(sw_call_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_buf, sizeof c->err_buf, fmt, ap);
    va_end(ap);
    return sw_call_fail(c, err, c->err_buf);
}

// A port error about path p.
static int fs_err(sw_call_t *c, int err, const char *p)
{
    if (err == SW_ENOENT)
        return sw_call_fail(c, err, "fn");
    if (err == SW_EEXIST)
        return sw_call_fail(c, err, "fx");
    if (p)
        return fs_failf(c, err, "%s: %s: /%s", sw_errname(err), sw_strerror(err), p);
    return fs_failf(c, err, "%s: %s", sw_errname(err), sw_strerror(err));
}

// The result of a failed sw_call_arg_* helper (they set the text).
static int arg_err(const sw_call_t *c)
{
    return c->err ? c->err : SW_EINVAL;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Arguments: v0 and v2 spell some differently (fd/f, off/o, data/d).

// The name under which the argument was given: a if present (or neither is), else b.
static const char *arg_name(const sw_call_t *c, const char *a, const char *b)
{
    sw_span_t v;
    if (!b || sw_call_arg(c, a, &v) == 0 || sw_call_arg(c, b, &v) != 0)
        return a;
    return b;
}

static bool arg_present(const sw_call_t *c, const char *name)
{
    sw_span_t v;
    return sw_call_arg(c, name, &v) == 0 && !sw_call_arg_is_none(c, name);
}

// An integer >= 0 (absent or nil: dflt).
static bool arg_count(sw_call_t *c, const char *a, const char *b, int64_t dflt, int64_t *out)
{
    const char *name = arg_name(c, a, b);
    if (!sw_call_arg_int(c, name, dflt, out))
        return false;
    if (*out < 0) {
        fs_failf(c, SW_ERANGE, "ERANGE: %s must be >= 0", name);
        c->err = SW_ERANGE;
        return false;
    }
    return true;
}

// Path argument name, normalised into out (SW_FS_PATH_MAX). Absent and not required: the root.
// Returns the length or an error (with its text set).
static int arg_path(sw_call_t *c, const char *name, bool required, char *out)
{
    sw_span_t s;
    if (!sw_call_arg_str(c, name, required, &s))
        return arg_err(c);
    const char *in = s.p ? (const char *)s.p : "";
    int len = sw_path_norm(in, s.n, out, SW_FS_PATH_MAX);
    if (len == SW_EPERM)
        return fs_failf(c, len, "EPERM: path escapes the root: %.*s", (int)(s.n < 60 ? s.n : 60), in);
    if (len == SW_ETOOBIG)
        return fs_failf(c, len, "ETOOBIG: path %s longer than %d bytes", name, SW_FS_PATH_MAX - 1);
    if (len < 0)
        return fs_failf(c, len, "EINVAL: bad path %s (NUL, backslash or too long a name)", name);
    return len;
}

static sw_fs_app_t *fs_of(const sw_call_t *c)
{
    sw_node_t *n = c->def->user;
    return n->fs;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Open files

static fs_file_t *fs_find(sw_fs_app_t *fs, const sw_rpc_t *owner, int64_t h)
{
    for (fs_file_t *f = fs->files; f; f = f->next)
        if (f->handle == h && f->owner == owner)
            return f;
    return NULL;
}

// The handle argument (fd / f) → the caller's open file.
static int arg_file(sw_call_t *c, sw_fs_app_t *fs, fs_file_t **out)
{
    const char *name = arg_name(c, "fd", "f");
    if (!arg_present(c, name))
        return fs_failf(c, SW_EINVAL, "BadArg: missing fd");
    int64_t h;
    if (!sw_call_arg_int(c, name, 0, &h))
        return arg_err(c);
    *out = fs_find(fs, c->rpc, h);
    if (!*out)
        return fs_failf(c, SW_EINVAL, "EBADF: no such handle %lld", (long long)h);
    return 0;
}

static bool fs_handle_used(const sw_fs_app_t *fs, int64_t h)
{
    for (const fs_file_t *f = fs->files; f; f = f->next)
        if (f->handle == h)
            return true;
    return false;
}

// Closes f and forgets it. commit: an atomic write replaces its target (else it is discarded).
// Returns 0 or the first error (the file is gone either way).
static int fs_close(sw_fs_app_t *fs, fs_file_t *f, bool commit)
{
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    for (fs_file_t **pp = &fs->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            fs->count--;
            break;
        }
    int err = 0;
    if (f->tmp && commit)
        err = ops->fs_sync(n->port.ctx, f->fd);
    int cerr = ops->fs_close(n->port.ctx, f->fd);
    if (!err)
        err = cerr;
    if (f->tmp) {
        if (commit && !err)
            err = ops->fs_rename(n->port.ctx, f->tmp, f->path);
        if (!commit || err) {
            ops->fs_unlink(n->port.ctx, f->tmp);
            sw_log(n, SW_LOG_INFO, "f: atomic write of /%s discarded%s", f->path,
                   commit ? " (commit failed)" : "");
        }
    }
    sw_node_release(n, f, f->size);
    return err;
}

// Closes every file of owner (NULL: of everybody), discarding atomic writes.
static void fs_close_owned(sw_fs_app_t *fs, const sw_rpc_t *owner, bool all)
{
    fs_file_t *f = fs->files;
    while (f) {
        fs_file_t *next = f->next;
        if (all || f->owner == owner)
            fs_close(fs, f, false);
        f = next;
    }
}

// True for names of our atomic temp files (".<name>.swtmp<digits>").
static bool fs_is_tmp_name(const char *name, size_t len)
{
    size_t tl = sizeof FS_TMP_TAG - 1;
    if (len < tl + 3 || name[0] != '.')
        return false;
    size_t k = len;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
        k--;
    return k < len && k >= tl + 2 && memcmp(name + k - tl, FS_TMP_TAG, tl) == 0;
}

// Mode string → FM_* and port flags. A 'b' anywhere is ignored (files are always binary).
static bool fs_parse_mode(sw_span_t m, uint8_t *mode, int *flags)
{
    char s[4];
    size_t k = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (m.p[i] == 'b')
            continue;
        if (k == sizeof s - 1)
            return false;
        s[k++] = (char)m.p[i];
    }
    s[k] = 0;
    static const struct {
        const char *s;
        uint8_t mode;
        int flags;
    } modes[] = {
        {"r", FM_RD, SW_O_READ},
        {"w", FM_WR, SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC},
        {"a", FM_WR | FM_APPEND, SW_O_WRITE | SW_O_CREATE | SW_O_APPEND},
        {"r+", FM_RD | FM_WR, SW_O_READ | SW_O_WRITE},
        {"w+", FM_RD | FM_WR, SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC},
        {"a+", FM_RD | FM_WR | FM_APPEND, SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_APPEND},
        {"W", FM_RD | FM_WR | FM_ATOMIC, SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC},
    };
    if (k == 0) { // absent: read
        *mode = FM_RD;
        *flags = SW_O_READ;
        return true;
    }
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(s, modes[i].s)) {
            *mode = modes[i].mode;
            *flags = modes[i].flags;
            return true;
        }
    return false;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// open rd wr cl reset

static int cmd_open(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    char path[SW_FS_PATH_MAX];
    int len = arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    sw_span_t m;
    if (!sw_call_arg_str(c, "m", false, &m))
        return arg_err(c);
    uint8_t mode;
    int flags;
    if (!fs_parse_mode(m, &mode, &flags))
        return fs_failf(c, SW_EINVAL, "EINVAL: mode must be r, w, a, r+, w+, a+ or W");
    if (len == 0)
        return fs_failf(c, SW_EISDIR, "EISDIR: cannot open the root");
    if (fs->count >= n->lim.max_files)
        return fs_failf(c, SW_EFULL, "EMFILE: too many open files (limits.files = %u)",
                        (unsigned)n->lim.max_files);

    sw_stat_t st;
    int serr = ops->fs_stat(n->port.ctx, path, &st);
    if (serr == 0 && st.type == SW_FT_DIR)
        return fs_failf(c, SW_EISDIR, "EISDIR: is a directory: /%s", path);
    if (serr == 0 && st.type != SW_FT_FILE) // a symlink (never followed), a fifo, a device
        return fs_failf(c, SW_EPERM, "EPERM: not a regular file: /%s", path);
    if (serr < 0 && serr != SW_ENOENT)
        return fs_err(c, serr, path);

    int64_t h;
    do {
        h = fs->next_handle;
        fs->next_handle = h >= FS_HANDLE_MAX ? 1 : h + 1;
    } while (fs_handle_used(fs, h));

    char tmp[SW_FS_PATH_MAX];
    size_t tlen = 0;
    if (mode & FM_ATOMIC) {
        const char *base = sw_path_base(path);
        int dl = (int)(base - path);
        int r = snprintf(tmp, sizeof tmp, "%.*s.%s%s%lld", dl, path, base, FS_TMP_TAG, (long long)h);
        if (r < 0 || (size_t)r >= sizeof tmp || strlen(base) + sizeof FS_TMP_TAG + 12 > SW_NAME_MAX)
            return fs_failf(c, SW_ETOOBIG, "ETOOBIG: name too long for mode W");
        tlen = (size_t)r + 1;
    }
    size_t size = sizeof(fs_file_t) + (size_t)len + 1 + tlen;
    fs_file_t *f = sw_node_alloc(n, size);
    if (!f)
        return fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    f->size = size;
    f->path = (char *)(f + 1);
    memcpy(f->path, path, (size_t)len + 1);
    if (tlen) {
        f->tmp = f->path + len + 1;
        memcpy(f->tmp, tmp, tlen);
    }
    int err = ops->fs_open(n->port.ctx, f->tmp ? f->tmp : path, flags, &f->fd);
    if (err < 0) {
        sw_node_release(n, f, size);
        return fs_err(c, err, path);
    }
    f->owner = c->rpc;
    f->handle = h;
    f->mode = mode;
    f->end = (serr == 0 && (mode & FM_APPEND)) ? st.size : 0;
    f->next = fs->files;
    fs->files = f;
    fs->count++;
    sw_mpw_int(c->out, h);
    return 0;
}

// Largest rd this reply can carry.
static size_t fs_rd_max(const sw_call_t *c, const sw_fs_app_t *fs)
{
    size_t lim = fs->n->lim.max_msg > FS_RD_OVERHEAD ? fs->n->lim.max_msg - FS_RD_OVERHEAD : 0;
    size_t room = c->out->cap - c->out->len;
    room = room > FS_RD_TAIL ? room - FS_RD_TAIL : 0;
    return room < lim ? room : lim;
}

static int cmd_rd(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    const sw_port_ops_t *ops = fs->n->port.ops;
    fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    int64_t off, want;
    if (!arg_count(c, "off", "o", 0, &off) || !arg_count(c, "n", NULL, 64, &want))
        return arg_err(c);
    if (!(f->mode & FM_RD))
        return fs_failf(c, SW_EPERM, "EBADF: handle %lld is not open for reading",
                        (long long)f->handle);
    size_t max = fs_rd_max(c, fs);
    if ((uint64_t)want > max)
        return fs_failf(c, SW_ETOOBIG, "ETOOBIG: n = %lld > %zu, the largest read (limits.msg)",
                        (long long)want, max);
    size_t mark = sw_mpw_mark(c->out);
    uint8_t *p = sw_mpw_blob_begin(c->out, (size_t)want);
    if (!p) {
        sw_mpw_rewind(c->out, mark);
        return fs_failf(c, SW_ETOOBIG, "ETOOBIG: n = %lld does not fit in the reply",
                        (long long)want);
    }
    size_t got = 0;
    while (got < (size_t)want) {
        int r = ops->fs_read(fs->n->port.ctx, f->fd, (uint64_t)off + got, p + got,
                             (size_t)want - got);
        if (r < 0) {
            sw_mpw_rewind(c->out, mark);
            return fs_err(c, r, f->path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    sw_mpw_blob_end(c->out, SW_MP_BIN, got);
    return 0;
}

static int cmd_wr(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    const sw_port_ops_t *ops = fs->n->port.ops;
    fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    sw_span_t data;
    int64_t off;
    const char *dname = arg_name(c, "data", "d");
    if (!sw_call_arg_bin(c, dname, true, &data) || !arg_count(c, "off", "o", 0, &off))
        return arg_err(c);
    if (!(f->mode & FM_WR))
        return fs_failf(c, SW_EPERM, "EBADF: handle %lld is not open for writing",
                        (long long)f->handle);
    if (f->mode & FM_APPEND)
        off = (int64_t)f->end;
    size_t done = 0;
    while (done < data.n) {
        int r = ops->fs_write(fs->n->port.ctx, f->fd, (uint64_t)off + done, data.p + done,
                              data.n - done);
        if (r < 0)
            return fs_err(c, r, f->path);
        if (r == 0)
            return fs_failf(c, SW_EIO, "EIO: nothing written to /%s", f->path);
        done += (size_t)r;
    }
    if (f->mode & FM_APPEND)
        f->end += done;
    sw_mpw_uint(c->out, done);
    return 0;
}

static int cmd_cl(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    if (!f->tmp) {
        err = fs_close(fs, f, true);
        if (err < 0)
            return fs_err(c, err, NULL);
    } else {
        char path[SW_FS_PATH_MAX];
        snprintf(path, sizeof path, "%s", f->path); // f is gone after fs_close
        err = fs_close(fs, f, true);
        if (err < 0)
            return fs_failf(c, err, "%s: commit of /%.50s failed, old content kept",
                            sw_errname(err), path);
    }
    sw_mpw_nil(c->out);
    return 0;
}

static int cmd_reset(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    fs_close_owned(fs, c->rpc, false);
    sw_mpw_nil(c->out);
    return 0;
}

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
    char path[SW_FS_PATH_MAX]; // the directory + "/" (full paths are built after it)
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
    if (d->plen + len + 1 > sizeof d->path)
        return false;
    memcpy(d->path + d->plen, name, len);
    d->path[d->plen + len] = 0;
    return true;
}

static int dir_each(void *u, const sw_dirent_t *e)
{
    fs_dir_t *d = u;
    const char *z = memchr(e->name, 0, sizeof e->name);
    size_t len = z ? (size_t)(z - e->name) : SW_NAME_MAX;
    uint8_t type = e->type;
    uint64_t size = 0;
    int64_t mtime = 0;
    if (fs_is_tmp_name(e->name, len)) {
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
        for (const fs_file_t *f = d->fs->files; f && !open; f = f->next)
            open = f->tmp && !strcmp(f->tmp, d->path);
        if (!open && n->port.ops->fs_unlink(n->port.ctx, d->path) == 0)
            sw_log(n, SW_LOG_INFO, "f: removed stale temp file /%s", d->path);
    }
}

static int cmd_dir(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    sw_node_t *n = fs->n;
    fs_dir_t d;
    memset(&d, 0, sizeof d);
    d.fs = fs;
    int len = arg_path(c, "p", false, d.path);
    if (len < 0)
        return len;
    if (!sw_call_arg_bool(c, "x", false, &d.x))
        return arg_err(c);
    size_t room = c->out->cap - c->out->len;
    d.cap = room < n->lim.max_msg ? room : n->lim.max_msg;
    if (d.cap < 64)
        d.cap = 64;
    d.top = d.cap;
    d.buf = sw_node_alloc(n, d.cap);
    if (!d.buf)
        return fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    char dir[SW_FS_PATH_MAX];
    memcpy(dir, d.path, (size_t)len + 1);
    if (len > 0 && (size_t)len + 1 < sizeof d.path)
        d.path[len++] = '/';
    d.plen = (size_t)len;
    int err = n->port.ops->fs_list(n->port.ctx, dir, dir_each, &d);
    size_t cnt = (d.cap - d.top) / 4;
    if (err < 0)
        err = fs_err(c, err, dir);
    else if (d.full)
        err = fs_failf(c, SW_ETOOBIG, "ETOOBIG: the listing of /%.40s does not fit in a reply",
                       dir);
    else {
        dir_sort(&d, cnt);
        size_t mark = sw_mpw_mark(c->out);
        dir_write(&d, cnt, c->out);
        if (c->out->err) {
            sw_mpw_rewind(c->out, mark);
            err = fs_failf(c, SW_ETOOBIG,
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

static int cmd_stat(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    sw_node_t *n = fs->n;
    char path[SW_FS_PATH_MAX];
    int len = arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    sw_stat_t st;
    int err = n->port.ops->fs_stat(n->port.ctx, path, &st);
    if (err < 0)
        return fs_err(c, err, path);
    sw_mpw_map(c->out, st.type == SW_FT_FILE ? 3 : 2);
    sw_mpw_cstr(c->out, "m");
    sw_mpw_cstr(c->out, st.type == SW_FT_FILE ? "f" : st.type == SW_FT_DIR ? "d" : "?");
    if (st.type == SW_FT_FILE) {
        sw_mpw_cstr(c->out, "s");
        sw_mpw_uint(c->out, st.size);
    }
    sw_mpw_cstr(c->out, "t");
    sw_mpw_int(c->out, st.mtime);
    return 0;
}

static int cmd_hash(sw_call_t *c)
{
    sw_fs_app_t *fs = fs_of(c);
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    char path[SW_FS_PATH_MAX];
    int len = arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    int64_t off, count, dlen;
    bool whole = !arg_present(c, "n");
    if (!arg_count(c, "off", "o", 0, &off) || !arg_count(c, "n", NULL, 0, &count) ||
        !arg_count(c, "l", NULL, 32, &dlen))
        return arg_err(c);
    if (dlen < 1 || dlen > 32)
        return fs_failf(c, SW_ERANGE, "ERANGE: l must be within 1..32");
    sw_stat_t st;
    int err = ops->fs_stat(n->port.ctx, path, &st);
    if (err < 0)
        return fs_err(c, err, path);
    if (st.type == SW_FT_DIR)
        return fs_failf(c, SW_EISDIR, "EISDIR: is a directory: /%s", path);
    if (st.type != SW_FT_FILE)
        return fs_failf(c, SW_EPERM, "EPERM: not a regular file: /%s", path);
    int fd;
    err = ops->fs_open(n->port.ctx, path, SW_O_READ, &fd);
    if (err < 0)
        return fs_err(c, err, path);
    uint8_t *buf = sw_node_alloc(n, FS_HASH_CHUNK);
    if (!buf) {
        ops->fs_close(n->port.ctx, fd);
        return fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    }
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    err = mbedtls_sha256_starts_ret(&sha, 0) ? SW_EIO : 0;
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
        if (mbedtls_sha256_update_ret(&sha, buf, (size_t)r))
            err = SW_EIO;
        pos += (uint64_t)r;
        left -= whole ? 0 : (uint64_t)r;
    }
    uint8_t digest[32];
    if (!err && mbedtls_sha256_finish_ret(&sha, digest))
        err = SW_EIO;
    mbedtls_sha256_free(&sha);
    sw_node_release(n, buf, FS_HASH_CHUNK);
    ops->fs_close(n->port.ctx, fd);
    if (err < 0)
        return fs_err(c, err, path);
    sw_mpw_bin(c->out, digest, (size_t)dlen);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// mkdir rm rmdir new mv

// The common part of the one-path commands: p → path; the root is refused with root_err.
static int one_path(sw_call_t *c, char *path, int root_err)
{
    int len = arg_path(c, "p", true, path);
    if (len == 0) {
        if (root_err == SW_EEXIST)
            return fs_err(c, root_err, NULL);
        return fs_failf(c, root_err, "%s: not allowed on the root", sw_errname(root_err));
    }
    return len;
}

static int reply_nil(sw_call_t *c, int err, const char *path)
{
    if (err < 0)
        return fs_err(c, err, path);
    sw_mpw_nil(c->out);
    return 0;
}

static int cmd_mkdir(sw_call_t *c)
{
    sw_node_t *n = fs_of(c)->n;
    char path[SW_FS_PATH_MAX];
    int len = one_path(c, path, SW_EEXIST);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_mkdir(n->port.ctx, path), path);
}

static int cmd_rm(sw_call_t *c)
{
    sw_node_t *n = fs_of(c)->n;
    char path[SW_FS_PATH_MAX];
    int len = one_path(c, path, SW_EPERM);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_unlink(n->port.ctx, path), path);
}

static int cmd_rmdir(sw_call_t *c)
{
    sw_node_t *n = fs_of(c)->n;
    char path[SW_FS_PATH_MAX];
    int len = one_path(c, path, SW_EPERM);
    if (len < 0)
        return len;
    return reply_nil(c, n->port.ops->fs_rmdir(n->port.ctx, path), path);
}

static int cmd_new(sw_call_t *c)
{
    sw_node_t *n = fs_of(c)->n;
    const sw_port_ops_t *ops = n->port.ops;
    char path[SW_FS_PATH_MAX];
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

static int cmd_mv(sw_call_t *c)
{
    sw_node_t *n = fs_of(c)->n;
    const sw_port_ops_t *ops = n->port.ops;
    void *ctx = n->port.ctx;
    char s[SW_FS_PATH_MAX], d[SW_FS_PATH_MAX], x[SW_FS_PATH_MAX];
    int ls = arg_path(c, "s", true, s);
    if (ls < 0)
        return ls;
    int ld = arg_path(c, "d", true, d);
    if (ld < 0)
        return ld;
    bool swap = arg_present(c, "x");
    int lx = swap ? arg_path(c, "x", true, x) : 1;
    if (lx < 0)
        return lx;
    bool noreplace;
    if (!sw_call_arg_bool(c, "n", false, &noreplace))
        return arg_err(c);
    if (ls == 0 || ld == 0 || lx == 0)
        return fs_failf(c, SW_EPERM, "EPERM: cannot move the root");

    int err = fs_exists(n, s);
    if (err < 0)
        return fs_err(c, err, s);
    if (noreplace || swap) {
        err = fs_exists(n, d);
        if (noreplace && err == 0)
            return fs_err(c, SW_EEXIST, d);
        if (err < 0 && (swap || err != SW_ENOENT))
            return fs_err(c, err, d);
    }
    if (!swap)
        return reply_nil(c, ops->fs_rename(ctx, s, d), d);

    // exchange s and d through x, undoing the steps done if one fails
    err = fs_exists(n, x);
    if (err == 0)
        return fs_err(c, SW_EEXIST, x);
    if (err != SW_ENOENT)
        return fs_err(c, err, x);
    err = ops->fs_rename(ctx, s, x);
    if (err < 0)
        return fs_err(c, err, s);
    err = ops->fs_rename(ctx, d, s);
    if (err < 0) {
        ops->fs_rename(ctx, x, s);
        return fs_err(c, err, d);
    }
    err = ops->fs_rename(ctx, x, d);
    if (err < 0) {
        ops->fs_rename(ctx, s, d);
        ops->fs_rename(ctx, x, s);
        return fs_err(c, err, x);
    }
    sw_mpw_nil(c->out);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Registration and lifecycle

static const sw_cmd_def_t fs_cmds[FS_NCMDS] = {
    {"open", "p,m", "open file p; m = r, w, a, r+, w+, a+ or W (atomic replace); returns a handle",
     cmd_open, NULL},
    {"rd", "fd,off,n,f,o", "read n bytes (default 64) at offset off of handle fd", cmd_rd, NULL},
    {"wr", "fd,data,off,f,d,o", "write data at offset off (append modes: at the end); returns bytes written",
     cmd_wr, NULL},
    {"cl", "fd,f", "close handle fd (mode W: commit the new content)", cmd_cl, NULL},
    {"reset", "p", "close every file this link has open (atomic writes are discarded)", cmd_reset,
     NULL},
    {"dir", "p,x", "list directory p: names, or with x maps {n, m, s, t}; sorted", cmd_dir, NULL},
    {"ls", "p,x", "same as dir", cmd_dir, NULL},
    {"stat", "p,v", "{m: f|d|?, s: size, t: mtime} of p; error fn if missing", cmd_stat, NULL},
    {"hash", "p,off,n,o,l", "SHA-256 of n bytes at off of file p (default: all of it)", cmd_hash,
     NULL},
    {"mkdir", "p", "create directory p", cmd_mkdir, NULL},
    {"rm", "p", "remove file p", cmd_rm, NULL},
    {"rmdir", "p", "remove empty directory p", cmd_rmdir, NULL},
    {"new", "p", "create empty file p; error fx if it exists", cmd_new, NULL},
    {"mv", "s,d,x,n", "rename s to d; n: fail if d exists; x: swap s and d through x", cmd_mv,
     NULL},
};

int sw_fs_app_init(sw_node_t *n)
{
    if (n->fs)
        return SW_EEXIST;
    sw_fs_app_t *fs = sw_node_alloc(n, sizeof *fs);
    if (!fs)
        return SW_EFULL;
    fs->n = n;
    fs->next_handle = 1;
    memcpy(fs->defs, fs_cmds, sizeof fs_cmds);
    int dir = sw_tree_add_dir(&n->tree, SW_TREE_ROOT, "f", "files under the node's root");
    int err = dir < 0 ? dir : 0;
    for (int i = 0; !err && i < FS_NCMDS; i++) {
        fs->defs[i].user = n;
        int id = sw_tree_add_cmd(&n->tree, dir, &fs->defs[i]);
        err = id < 0 ? id : 0;
    }
    if (err) {
        if (dir >= 0)
            sw_tree_remove(&n->tree, dir);
        sw_node_release(n, fs, sizeof *fs);
        return err;
    }
    fs->dir_id = dir;
    n->fs = fs;
    return 0;
}

void sw_fs_app_stop(sw_node_t *n)
{
    sw_fs_app_t *fs = n->fs;
    if (!fs)
        return;
    fs_close_owned(fs, NULL, true);
    sw_tree_remove(&n->tree, fs->dir_id);
    n->fs = NULL;
    sw_node_release(n, fs, sizeof *fs);
}

void sw_fs_app_link_closed(sw_node_t *n, const sw_rpc_t *rpc)
{
    if (n->fs)
        fs_close_owned(n->fs, rpc, false);
}
