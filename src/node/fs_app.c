// The "f" app: files under the node's root, MoaT v0 fs app commands (open rd wr cl dir stat hash
// mkdir rm rmdir new mv reset) answering to v0 and v2 argument names, plus an atomic-replace
// open mode ("W": temp file, sync, rename; in push's staging, which no app reads and push
// verifies by hash, the file itself, synced). Handles belong to the link that opened them.
// Everything reaches the files through the port; paths go through sw_path_norm() first.
// This file: arguments, errors, open files and their commands, registration; fs_names.c: the
// commands on names (docs/PROTOCOL.md, "Files").
#include "profile.h"
#if SW_WITH_FS
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs_int.h"
#include "fs_part.h"
#include "swarm/path.h"

#define FS_RD_OVERHEAD 32   // limits.msg minus this is the largest rd (a round, documented figure)
#define FS_RD_TAIL 16       // what a reply still needs after the handler's writer position: the
                            // bin header (<= 5) and the trailing "i": seq (<= 11)
#define FS_HANDLE_MAX 0x7fffffff
#if SW_WITH_ZIN
#define FS_MODE_WZ " (or Wz)"
#else
#define FS_MODE_WZ ""
#endif
#define FS_TMP_TAG ".swtmp" // atomic temp files: ".<name>.swtmp<handle>" next to the target
// Push's staging (push_int.h, SW_PUSH_STAGE): what is there is nobody's current content, so a
// "W" write there goes to the file itself. A half-written file is harmless: push.commit hashes
// every staged file against the id it is asked for, and a start removes the staging area.
#define FS_STAGE ".swarm/stage/"

///////////////////////////////////////////////////////////////////////////////////////////////
// Errors. MoaT hosts know "fn" (not found) and "fx" (exists); everything else is
// "<NAME>: <detail>".

int sw__fs_failf(sw_call_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err_buf, sizeof c->err_buf, fmt, ap);
    va_end(ap);
    return sw_call_fail(c, err, c->err_buf);
}

int sw__fs_err(sw_call_t *c, int err, const char *p)
{
    if (err == SW_ENOENT)
        return sw_call_fail(c, err, "fn");
    if (err == SW_EEXIST)
        return sw_call_fail(c, err, "fx");
    if (p)
        return sw__fs_failf(c, err, "%s: %s: /%s", sw_errname(err), sw_strerror(err), p);
    return sw__fs_failf(c, err, "%s: %s", sw_errname(err), sw_strerror(err));
}

int sw__fs_arg_err(const sw_call_t *c)
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

bool sw__fs_arg_present(const sw_call_t *c, const char *name)
{
    sw_span_t v;
    return sw_call_arg(c, name, &v) == 0 && !sw_call_arg_is_none(c, name);
}

bool sw__fs_arg_count(sw_call_t *c, const char *a, const char *b, int64_t dflt, int64_t *out)
{
    const char *name = arg_name(c, a, b);
    if (!sw_call_arg_int(c, name, dflt, out))
        return false;
    if (*out < 0) {
        sw__fs_failf(c, SW_ERANGE, "ERANGE: %s must be >= 0", name);
        c->err = SW_ERANGE;
        return false;
    }
    return true;
}

int sw__fs_arg_path(sw_call_t *c, const char *name, bool required, char *out)
{
    sw_span_t s;
    if (!sw_call_arg_str(c, name, required, &s))
        return sw__fs_arg_err(c);
    const char *in = s.p ? (const char *)s.p : "";
    int len = sw_path_norm(in, s.n, out, SW_FS_PATH_MAX);
    if (len == SW_EPERM)
        return sw__fs_failf(c, len, "EPERM: path escapes the root: %.*s",
                            (int)(s.n < 60 ? s.n : 60), in);
    if (len == SW_ETOOBIG)
        return sw__fs_failf(c, len, "ETOOBIG: path %s longer than %d bytes", name,
                            SW_FS_PATH_MAX - 1);
    if (len < 0)
        return sw__fs_failf(c, len, "EINVAL: bad path %s (NUL, backslash or too long a name)",
                            name);
    return len;
}

sw_fs_app_t *sw__fs_of(const sw_call_t *c)
{
    sw_node_t *n = c->ctx;
    return n->fs;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Open files

static sw_fs_file_t *fs_find(sw_fs_app_t *fs, const sw_rpc_t *owner, int64_t h)
{
    for (sw_fs_file_t *f = fs->files; f; f = f->next)
        if (f->handle == h && f->owner == owner)
            return f;
    return NULL;
}

// The handle argument (fd / f) → the caller's open file.
static int arg_file(sw_call_t *c, sw_fs_app_t *fs, sw_fs_file_t **out)
{
    const char *name = arg_name(c, "fd", "f");
    if (!sw__fs_arg_present(c, name))
        return sw__fs_failf(c, SW_EINVAL, "BadArg: missing fd");
    int64_t h;
    if (!sw_call_arg_int(c, name, 0, &h))
        return sw__fs_arg_err(c);
    *out = fs_find(fs, c->rpc, h);
    if (!*out)
        return sw__fs_failf(c, SW_EINVAL, "EBADF: no such handle %lld", (long long)h);
    return 0;
}

static bool fs_handle_used(const sw_fs_app_t *fs, int64_t h)
{
    for (const sw_fs_file_t *f = fs->files; f; f = f->next)
        if (f->handle == h)
            return true;
    return false;
}

// Closes f and forgets it. commit: an atomic write replaces its target (else it is discarded).
// Returns 0 or the first error (the file is gone either way).
static int fs_close(sw_fs_app_t *fs, sw_fs_file_t *f, bool commit)
{
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    for (sw_fs_file_t **pp = &fs->files; *pp; pp = &(*pp)->next)
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
        if (commit && !err && f->tmp != f->path) // (in the staging area it is the file itself)
            err = ops->fs_rename(n->port.ctx, f->tmp, f->path);
        if (!commit || err) {
            ops->fs_unlink(n->port.ctx, f->tmp);
            sw_log(n, SW_LOG_INFO, "f: atomic write of /%s discarded%s", f->path,
                   commit ? " (commit failed)" : "");
        }
    }
#if SW_WITH_ZIN
    if (f->zw) {
        sw_zw_close(&n->port, f->zw);
        sw_node_release(n, f->zw, sizeof *f->zw);
        fs->zcount--;
    }
#endif
    sw_node_release(n, f, f->size);
    return err;
}

// Closes every file of owner (NULL: of everybody), discarding atomic writes.
static void fs_close_owned(sw_fs_app_t *fs, const sw_rpc_t *owner, bool all)
{
    sw_fs_file_t *f = fs->files;
    while (f) {
        sw_fs_file_t *next = f->next;
        if (all || f->owner == owner)
            fs_close(fs, f, false);
        f = next;
    }
}

// True for names of our atomic temp files (".<name>.swtmp<digits>").
bool sw__fs_is_tmp_name(const char *name, size_t len)
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
#if SW_WITH_ZIN
        {"Wz", FM_WR | FM_ATOMIC | FM_Z, SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC},
#endif
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
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_node_t *n = fs->n;
    const sw_port_ops_t *ops = n->port.ops;
    char *path = fs->path[0];
    int len = sw__fs_arg_path(c, "p", true, path);
    if (len < 0)
        return len;
    sw_span_t m;
    if (!sw_call_arg_str(c, "m", false, &m))
        return sw__fs_arg_err(c);
    uint8_t mode;
    int flags;
    if (!fs_parse_mode(m, &mode, &flags))
        return sw__fs_failf(c, SW_EINVAL, "EINVAL: mode must be r, w, a, r+, w+, a+ or W" FS_MODE_WZ);
    if (len == 0)
        return sw__fs_failf(c, SW_EISDIR, "EISDIR: cannot open the root");
    if (fs->count >= n->lim.max_files)
        return sw__fs_failf(c, SW_EFULL, "EMFILE: too many open files (limits.files = %u)",
                        (unsigned)n->lim.max_files);
    int64_t zsize = 0;
#if SW_WITH_ZIN
    if (mode & FM_Z) { // a compressed write: the plain size is declared, and bounds the stream
        if (!sw__fs_arg_present(c, "s"))
            return sw__fs_failf(c, SW_EINVAL, "BadArg: mode Wz needs s, the plain size");
        if (!sw__fs_arg_count(c, "s", NULL, 0, &zsize))
            return sw__fs_arg_err(c);
        if (!sw_zw_offered(n))
            return sw__fs_failf(c, SW_EINVAL, "EINVAL: this node takes no compressed writes "
                                "(mode Wz): its port cannot inflate, or files.inflate is off");
        if (fs->zcount >= SW_FS_ZMAX)
            return sw__fs_failf(c, SW_EFULL, "EMFILE: too many compressed writes open (%u)",
                                (unsigned)SW_FS_ZMAX);
    }
#endif

    sw_stat_t st;
    int serr = ops->fs_stat(n->port.ctx, path, &st);
    if (serr == 0 && st.type == SW_FT_DIR)
        return sw__fs_failf(c, SW_EISDIR, "EISDIR: is a directory: /%s", path);
    if (serr == 0 && st.type != SW_FT_FILE) // a symlink (never followed), a fifo, a device
        return sw__fs_failf(c, SW_EPERM, "EPERM: not a regular file: /%s", path);
    if (serr < 0 && serr != SW_ENOENT)
        return sw__fs_err(c, serr, path);

    int64_t h;
    do {
        h = fs->next_handle;
        fs->next_handle = h >= FS_HANDLE_MAX ? 1 : h + 1;
    } while (fs_handle_used(fs, h));

    char *tmp = fs->path[1];
    size_t tlen = 0;
    if ((mode & FM_ATOMIC) && strncmp(path, FS_STAGE, sizeof FS_STAGE - 1)) {
        const char *base = sw_path_base(path);
        int dl = (int)(base - path);
        int r = snprintf(tmp, SW_FS_PATH_MAX, "%.*s.%s%s%lld", dl, path, base, FS_TMP_TAG,
                         (long long)h);
        if (r < 0 || r >= SW_FS_PATH_MAX ||
            strlen(base) + sizeof FS_TMP_TAG + 12 > SW_NAME_MAX)
            return sw__fs_failf(c, SW_ETOOBIG, "ETOOBIG: name too long for mode W");
        tlen = (size_t)r + 1;
    }
    size_t size = sizeof(sw_fs_file_t) + (size_t)len + 1 + tlen;
    sw_fs_file_t *f = sw_node_alloc(n, size);
    if (!f)
        return sw__fs_failf(c, SW_EFULL, "ENOMEM: out of memory");
    f->size = size;
    f->path = (char *)(f + 1);
    memcpy(f->path, path, (size_t)len + 1);
    if (tlen) {
        f->tmp = f->path + len + 1;
        memcpy(f->tmp, tmp, tlen);
    } else if (mode & FM_ATOMIC) { // in the staging area: the file itself
        f->tmp = f->path;
    }
#if SW_WITH_ZIN
    if (mode & FM_Z) {
        f->zw = sw_node_alloc(n, sizeof *f->zw);
        int zerr = f->zw ? sw_zw_open(&n->port, f->zw, (uint64_t)zsize) : SW_EFULL;
        if (zerr) {
            if (f->zw) {
                sw_zw_close(&n->port, f->zw);
                sw_node_release(n, f->zw, sizeof *f->zw);
            }
            sw_node_release(n, f, size);
            return sw__fs_failf(c, SW_EFULL, "ENOMEM: out of memory (inflate)");
        }
    }
#else
    (void)zsize;
#endif
    int err = ops->fs_open(n->port.ctx, f->tmp ? f->tmp : path, flags, &f->fd);
    if (err < 0) {
#if SW_WITH_ZIN
        if (f->zw) {
            sw_zw_close(&n->port, f->zw);
            sw_node_release(n, f->zw, sizeof *f->zw);
        }
#endif
        sw_node_release(n, f, size);
        return sw__fs_err(c, err, path);
    }
#if SW_WITH_ZIN
    if (f->zw)
        fs->zcount++;
#endif
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
    // the link's reply size, as sys.info reports it as max_msg (a firmware's serial link may
    // carry more than limits.msg: the host sizes its reads from that figure)
    size_t msg = c->rpc ? c->rpc->out_cap : fs->n->lim.max_msg;
    size_t lim = msg > FS_RD_OVERHEAD ? msg - FS_RD_OVERHEAD : 0;
    size_t room = c->out->cap - c->out->len;
    room = room > FS_RD_TAIL ? room - FS_RD_TAIL : 0;
    return room < lim ? room : lim;
}

static int cmd_rd(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    const sw_port_ops_t *ops = fs->n->port.ops;
    sw_fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    int64_t off, want;
    if (!sw__fs_arg_count(c, "off", "o", 0, &off) || !sw__fs_arg_count(c, "n", NULL, 64, &want))
        return sw__fs_arg_err(c);
    if (!(f->mode & FM_RD))
        return sw__fs_failf(c, SW_EPERM, "EBADF: handle %lld is not open for reading",
                        (long long)f->handle);
    size_t max = fs_rd_max(c, fs);
    if ((uint64_t)want > max)
        return sw__fs_failf(c, SW_ETOOBIG, "ETOOBIG: n = %lld > %zu, the largest read (limits.msg)",
                        (long long)want, max);
    size_t mark = sw_mpw_mark(c->out);
    uint8_t *p = sw_mpw_blob_begin(c->out, (size_t)want);
    if (!p) {
        sw_mpw_rewind(c->out, mark);
        return sw__fs_failf(c, SW_ETOOBIG, "ETOOBIG: n = %lld does not fit in the reply",
                        (long long)want);
    }
    size_t got = 0;
    while (got < (size_t)want) {
        int r = ops->fs_read(fs->n->port.ctx, f->fd, (uint64_t)off + got, p + got,
                             (size_t)want - got);
        if (r < 0) {
            sw_mpw_rewind(c->out, mark);
            return sw__fs_err(c, r, f->path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    sw_mpw_blob_end(c->out, SW_MP_BIN, got);
    return 0;
}

#if SW_WITH_ZIN
typedef struct {
    sw_fs_app_t *fs;
    sw_fs_file_t *f;
} fs_zsink_t;

// Plain bytes of a compressed write → the temp file.
static int fs_zsink(void *u, uint64_t off, const uint8_t *p, size_t n)
{
    fs_zsink_t *z = u;
    const sw_port_ops_t *ops = z->fs->n->port.ops;
    while (n) {
        int r = ops->fs_write(z->fs->n->port.ctx, z->f->fd, off, p, n);
        if (r <= 0)
            return r ? r : SW_EIO;
        off += (uint64_t)r;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

// f.wr on a "Wz" handle: off is the offset in the compressed stream, data the next piece.
static int fs_wr_z(sw_call_t *c, sw_fs_app_t *fs, sw_fs_file_t *f, uint64_t off, sw_span_t data)
{
    fs_zsink_t u = {fs, f};
    uint64_t out0 = f->zw->out;
    int r = sw_zw_feed(&fs->n->port, f->zw, off, data.p, data.n, fs->zbuf, sizeof fs->zbuf,
                       fs_zsink, &u);
    if (r == SW_ERANGE)
        return sw__fs_failf(c, r, "ERANGE: compressed write to /%.50s: offset %llu, expected %llu",
                            f->path, (unsigned long long)off, (unsigned long long)f->zw->in);
    if (r) {
        f->werr = r; // the temp file misses data: never committed
        if (r == SW_ETOOBIG)
            return sw__fs_failf(c, r, "ETOOBIG: compressed write to /%.50s inflates beyond its "
                                "declared %llu bytes or %u x its compressed size; not committed",
                                f->path, (unsigned long long)f->zw->declared, SW_ZIN_RATIO);
        if (r == SW_EPROTO)
            return sw__fs_failf(c, r, "EPROTO: compressed write to /%.50s: corrupt zlib stream "
                                "(after %llu plain bytes); not committed", f->path,
                                (unsigned long long)out0);
        return sw__fs_err(c, r, f->path);
    }
    sw_mpw_uint(c->out, data.n);
    return 0;
}
#endif

static int cmd_wr(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    const sw_port_ops_t *ops = fs->n->port.ops;
    sw_fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    sw_span_t data;
    int64_t off;
    const char *dname = arg_name(c, "data", "d");
    if (!sw_call_arg_bin(c, dname, true, &data) || !sw__fs_arg_count(c, "off", "o", 0, &off))
        return sw__fs_arg_err(c);
    if (!(f->mode & FM_WR))
        return sw__fs_failf(c, SW_EPERM, "EBADF: handle %lld is not open for writing",
                        (long long)f->handle);
    if (f->mode & FM_APPEND)
        off = (int64_t)f->end;
    if (f->werr) // an atomic write that lost data once is never completed: cl refuses it
        return sw__fs_failf(c, f->werr, "%s: an earlier write to /%.50s failed; close with x "
                            "to discard it", sw_errname(f->werr), f->path);
#if SW_WITH_ZIN
    if (f->zw)
        return fs_wr_z(c, fs, f, (uint64_t)off, data);
#endif
    size_t done = 0;
    while (done < data.n) {
        int r = ops->fs_write(fs->n->port.ctx, f->fd, (uint64_t)off + done, data.p + done,
                              data.n - done);
        if (r == 0)
            r = SW_EIO;
        if (r < 0) {
            if (f->tmp)
                f->werr = r;
            if (r == SW_EIO)
                return sw__fs_failf(c, SW_EIO, "EIO: write to /%s failed", f->path);
            return sw__fs_err(c, r, f->path);
        }
        done += (size_t)r;
    }
    if (f->mode & FM_APPEND)
        f->end += done;
    sw_mpw_uint(c->out, done);
    return 0;
}

static int cmd_cl(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    sw_fs_file_t *f;
    int err = arg_file(c, fs, &f);
    if (err)
        return err;
    bool discard;
    if (!sw_call_arg_bool(c, "x", false, &discard))
        return sw__fs_arg_err(c);
    if (discard) { // abandon a W write (a failed upload) on a link that stays open
        fs_close(fs, f, false);
    } else if (!f->tmp) {
        err = fs_close(fs, f, true);
        if (err < 0)
            return sw__fs_err(c, err, NULL);
#if SW_WITH_ZIN
    } else if (f->zw && !f->werr && !sw_zw_complete(f->zw)) { // the stream did not end right
        char *path = fs->path[0];
        snprintf(path, SW_FS_PATH_MAX, "%s", f->path);
        unsigned long long got = f->zw->out, want = f->zw->declared;
        bool ended = f->zw->end;
        fs_close(fs, f, false);
        return sw__fs_failf(c, SW_EPROTO, "EPROTO: compressed write to /%.50s %s (%llu of %llu "
                            "bytes), not committed, old content kept", path,
                            ended ? "ended at the wrong size" : "is incomplete", got, want);
#endif
    } else if (f->werr) { // a write failed: the temp file misses data, never commit it
        char *path = fs->path[0]; // f is gone after fs_close
        snprintf(path, SW_FS_PATH_MAX, "%s", f->path);
        int werr = f->werr;
        fs_close(fs, f, false);
        return sw__fs_failf(c, werr, "%s: a write to /%.50s failed, not committed, old content "
                            "kept", sw_errname(werr), path);
    } else {
        char *path = fs->path[0];
        snprintf(path, SW_FS_PATH_MAX, "%s", f->path); // f is gone after fs_close
        err = fs_close(fs, f, true);
        if (err < 0)
            return sw__fs_failf(c, err, "%s: commit of /%.50s failed, old content kept",
                            sw_errname(err), path);
    }
    sw_mpw_nil(c->out);
    return 0;
}

static int cmd_reset(sw_call_t *c)
{
    sw_fs_app_t *fs = sw__fs_of(c);
    fs_close_owned(fs, c->rpc, false);
    sw_mpw_nil(c->out);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Registration and lifecycle

// name, params (v0 names first, then v2 aliases), doc, handler
static const sw_cmd_def_t fs_cmds[FS_NCMDS] = {
#if SW_WITH_ZIN
    {"open", "p,m,s", "open file p; m = r, w, a, r+, w+, a+, W (atomic replace) or Wz (W, data "
     "a zlib stream of s plain bytes); returns a handle",
     cmd_open, NULL},
#else // (a node without inflate offers no Wz, and its _dir says so)
    {"open", "p,m", "open file p; m = r, w, a, r+, w+, a+ or W (atomic replace); returns a handle",
     cmd_open, NULL},
#endif
    {"rd", "fd,off,n,f,o", "read n bytes (default 64) at offset off of handle fd", cmd_rd, NULL},
    {"wr", "fd,data,off,f,d,o",
     "write data at offset off (append modes: at the end); returns bytes written", cmd_wr, NULL},
    {"cl", "fd,f,x", "close handle fd (mode W: commit the new content; x: discard it)", cmd_cl, NULL},
    {"reset", "p", "close every file this link has open (atomic writes are discarded)",
     cmd_reset, NULL},
    {"dir", "p,x", "list directory p: names, or with x maps {n, m, s, t}; sorted",
     sw__fs_cmd_dir, NULL},
    {"ls", "p,x", "same as dir", sw__fs_cmd_dir, NULL},
    {"stat", "p,v", "{m: f|d|?, s: size, t: mtime} of p; error fn if missing", sw__fs_cmd_stat,
     NULL},
    {"hash", "p,off,n,o,l", "SHA-256 of n bytes at off of file p (default: all of it)",
     sw__fs_cmd_hash, NULL},
    {"mkdir", "p", "create directory p", sw__fs_cmd_mkdir, NULL},
    {"rm", "p", "remove file p", sw__fs_cmd_rm, NULL},
    {"rmdir", "p", "remove empty directory p", sw__fs_cmd_rmdir, NULL},
    {"new", "p", "create empty file p; error fx if it exists", sw__fs_cmd_new, NULL},
    {"mv", "s,d,x,n", "rename s to d; n: fail if d exists; x: swap s and d through x",
     sw__fs_cmd_mv, NULL},
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
    n->fs = fs; // the kernel adds directory "f" (sw_part_fs.cmds)
    return 0;
}

void sw_fs_app_stop(sw_node_t *n)
{
    sw_fs_app_t *fs = n->fs;
    if (!fs)
        return;
    fs_close_owned(fs, NULL, true);
    n->fs = NULL;
    sw_node_release(n, fs, sizeof *fs);
}

void sw_fs_app_link_closed(sw_node_t *n, const sw_rpc_t *rpc)
{
    if (n->fs)
        fs_close_owned(n->fs, rpc, false);
}

static const sw_part_cmds_t fs_group = {"f", "files under the node's root", fs_cmds, FS_NCMDS};

const sw_part_t sw_part_fs = {
    .name = "f",
    .init = sw_fs_app_init,
    .stop = sw_fs_app_stop,
    .link_closed = sw_fs_app_link_closed,
    .cmds = &fs_group,
    .ncmds = 1,
};

#endif // SW_WITH_FS
