// Files of the POSIX port, confined to the root directory. The root is opened once; every path
// is resolved from that descriptor so that no symlink is ever followed and nothing outside the
// root can be reached (a symlink anywhere on the way is SW_EPERM): on Linux by one openat2()
// of its directories (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), elsewhere or on kernels before
// 5.6 one component at a time with openat(O_NOFOLLOW). Then one call relative to that
// directory. No libuv, so the unit tests compile this file alone.
//
// Durability of names: fs_rename syncs the directories it changes before it returns; every
// other change to names (create, mkdir, rmdir, unlink, fs_move) only remembers its directory,
// and fs_flush syncs the directories remembered (more than DIRTY_MAX: the whole file system),
// so a series of moves costs one fsync per directory instead of two per move. The set holds
// only what a flush still has to do: an open that creates no name (the file was there), a
// directory synced by fs_rename, and a directory removed since leave it.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "posix_int.h"

#define PATH_CAP 4096 // longest path accepted, bytes (with the NUL)
#define DIRTY_MAX 64  // directories fs_flush remembers; beyond, it syncs the whole file system

// Test builds: a simulated power cut may end the process before this call (fs_fault.c).
#define FAULT_POINT(op, path, path2)                                                          \
    do {                                                                                       \
        if (sw__fsf_step(op, path, path2))                                                     \
            sw__fsf_cut(op, path);                                                             \
    } while (0)

int sw__posix_errno(int e)
{
    switch (e) {
    case 0: return SW_OK;
    case ENOENT: return SW_ENOENT;
    case EEXIST: return SW_EEXIST;
    case ENOTDIR: return SW_ENOTDIR;
    case EISDIR: return SW_EISDIR;
    case ENOTEMPTY: return SW_ENOTEMPTY;
    case EACCES: case EPERM: case EROFS: case ELOOP: case ETXTBSY: return SW_EPERM;
    case ENOSPC: case EDQUOT: return SW_ENOSPC;
    case EIO: return SW_EIO;
    case EFBIG: case EOVERFLOW: return SW_ETOOBIG;
    case ENAMETOOLONG: case EINVAL: case EBADF: return SW_EINVAL;
    case EMFILE: case ENFILE: case ENOMEM: return SW_EFULL;
    case EBUSY: return SW_EBUSY;
    case EAGAIN: return SW_EAGAIN;
    case ETIMEDOUT: return SW_ETIMEDOUT;
    case EPIPE: case ECONNRESET: case ENOTCONN: case ECONNABORTED: return SW_ECLOSED;
    case EXDEV: case ENOTSUP: return SW_ENOTSUP;
    case ECANCELED: return SW_ECANCELED;
    default: return SW_EIO;
    }
}

#ifdef SYS_openat2
// 0: openat2 not tried yet, 1: it works, -1: the kernel (or a seccomp filter) lacks it.
static int have_openat2;
#define NO_OPENAT2 INT_MIN // not an SW_E* code

// The directory dirs (a normalised relative path) under root in one system call: the kernel
// refuses a symlink anywhere on the way (RESOLVE_NO_SYMLINKS: ELOOP) and any way out of root
// (RESOLVE_BENEATH), as the component walk does. NO_OPENAT2: it is not there, walk instead.
static int open_dirs(int root, const char *dirs)
{
    if (have_openat2 < 0)
        return NO_OPENAT2;
    struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, root, dirs, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || (errno == EPERM && !have_openat2))) {
        have_openat2 = -1;
        return NO_OPENAT2;
    }
    if (fd >= 0)
        have_openat2 = 1;
    return fd < 0 ? sw__posix_errno(errno) : (int)fd;
}
#endif

int sw__posix_fs_init(sw_posix_fs_t *fs, const char *root, uint16_t max_files)
{
    fs->rootfd = -1;
    fs->max = 0;
    memset(fs->dcache, 0, sizeof fs->dcache);
    for (int i = 0; i < SW_POSIX_DCACHE; i++)
        fs->dcache[i].fd = -1;
    fs->dcache_next = 0;
    (void)sw__fsf_on(); // test builds: reads SW_TEST_FS_FAULT now (its SIGUSR2 handler too)
    fs->fds = calloc(max_files ? max_files : 1, sizeof *fs->fds);
    if (!fs->fds)
        return SW_EFULL;
    fs->max = max_files;
    for (uint16_t i = 0; i < max_files; i++)
        fs->fds[i] = -1;
#if defined SW_TEST_HOOKS && defined SYS_openat2
    if (getenv("SW_TEST_NO_OPENAT2")) // test builds: the component walk of older kernels
        have_openat2 = -1;
#endif
    if (!root)
        return 0;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = sw__posix_errno(errno);
        sw__posix_fs_close(fs);
        return err;
    }
    fs->rootfd = fd;
    sw__fsf_root(fd);
    return 0;
}

void sw__posix_fs_forget(sw_posix_fs_t *fs)
{
    for (int i = 0; i < SW_POSIX_DCACHE; i++) {
        struct sw_posix_dcache *e = &fs->dcache[i];
        if (e->fd >= 0 && e->busy) {
            e->stale = true; // in use by an operation: closed when it is done (dir_done)
        } else if (e->fd >= 0) {
            close(e->fd);
            e->fd = -1;
        }
    }
}

void sw__posix_fs_close(sw_posix_fs_t *fs)
{
    sw__posix_fs_forget(fs);
    for (uint16_t i = 0; i < fs->ndirty; i++)
        free(fs->dirty[i]);
    free(fs->dirty);
    fs->dirty = NULL;
    fs->ndirty = 0;
    for (uint16_t i = 0; i < fs->max; i++)
        if (fs->fds[i] >= 0)
            close(fs->fds[i]);
    if (fs->rootfd >= 0)
        close(fs->rootfd);
    free(fs->fds);
    fs->fds = NULL;
    fs->max = 0;
    fs->rootfd = -1;
}

static sw_posix_fs_t *fs_of(void *ctx)
{
    return &((sw_posix_t *)ctx)->fs;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Directories whose names are not durable yet (fs_flush)

// The index of the directory holding path (a normalised node path) in the set, or -1.
static int dirty_find(const sw_posix_fs_t *fs, const char *path, size_t *dlen)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    *dlen = n;
    for (int i = 0; i < fs->ndirty; i++)
        if (!strncmp(fs->dirty[i], path, n) && !fs->dirty[i][n])
            return i;
    return -1;
}

// The names in the directory holding path changed: the next fs_flush syncs it.
static void dirty_mark(sw_posix_fs_t *fs, const char *path)
{
    size_t n;
    if (fs->dirty_all || dirty_find(fs, path, &n) >= 0)
        return;
    if (!fs->dirty)
        fs->dirty = calloc(DIRTY_MAX, sizeof *fs->dirty);
    char *d = fs->dirty && fs->ndirty < DIRTY_MAX ? malloc(n + 1) : NULL;
    if (!d) {
        fs->dirty_all = true; // (no memory either: syncing everything is still right)
        return;
    }
    memcpy(d, path, n);
    d[n] = 0;
    fs->dirty[fs->ndirty++] = d;
}

// Tells the fault layer (test builds) that the directory holding path was synced.
static void fsf_synced_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    sw__fsf_dir_synced(path, slash ? (size_t)(slash - path) : 0);
}

// The directory holding path was synced.
static void dirty_clear(sw_posix_fs_t *fs, const char *path)
{
    size_t n;
    int i = dirty_find(fs, path, &n);
    if (i >= 0) {
        free(fs->dirty[i]);
        fs->dirty[i] = fs->dirty[--fs->ndirty];
    }
}

// The directory path itself was removed: nothing in it is left to sync (its removal is a change
// in its parent, remembered by the caller), so it gives its place up.
static void dirty_gone(sw_posix_fs_t *fs, const char *path)
{
    for (int i = 0; i < fs->ndirty; i++)
        if (!strcmp(fs->dirty[i], path)) {
            free(fs->dirty[i]);
            fs->dirty[i] = fs->dirty[--fs->ndirty];
            return;
        }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Resolution

// Releases a directory descriptor from walk(): closes it unless it is the root's own or one
// kept (port_posix.h, dcache), which is only counted back.
static void dir_done(sw_posix_fs_t *fs, int fd)
{
    if (fd < 0 || fd == fs->rootfd)
        return;
    for (int i = 0; i < SW_POSIX_DCACHE; i++) {
        struct sw_posix_dcache *e = &fs->dcache[i];
        if (e->fd == fd && e->busy) {
            if (!--e->busy && e->stale) {
                close(e->fd);
                e->fd = -1;
            }
            return;
        }
    }
    close(fd);
}

// A kept directory for dirs[0..len), or -1 (port_posix.h, dcache).
static int dcache_find(sw_posix_fs_t *fs, const char *dirs, size_t len)
{
    for (int i = 0; i < SW_POSIX_DCACHE; i++) {
        struct sw_posix_dcache *e = &fs->dcache[i];
        if (e->fd >= 0 && !e->stale && e->len == len && !memcmp(e->path, dirs, len)) {
            e->busy++;
            return e->fd;
        }
    }
    return -1;
}

// Keeps fd (just opened for dirs) in a free entry, or in place of one not in use.
static void dcache_keep(sw_posix_fs_t *fs, const char *dirs, size_t len, int fd)
{
    if (len > SW_POSIX_DCACHE_PATH)
        return;
    struct sw_posix_dcache *e = NULL;
    for (int i = 0; i < SW_POSIX_DCACHE && !e; i++)
        if (fs->dcache[i].fd < 0)
            e = &fs->dcache[i];
    for (int k = 0; k < SW_POSIX_DCACHE && !e; k++) {
        struct sw_posix_dcache *v = &fs->dcache[fs->dcache_next];
        fs->dcache_next = (uint8_t)((fs->dcache_next + 1) % SW_POSIX_DCACHE);
        if (!v->busy) {
            close(v->fd);
            e = v;
        }
    }
    if (!e)
        return; // all in use (a caller holding several): this one is closed by dir_done
    e->fd = fd;
    e->busy = 1;
    e->stale = false;
    e->len = (uint16_t)len;
    memcpy(e->path, dirs, len);
}

// Why openat() of a directory component failed: a symlink is SW_EPERM whatever errno said
// (with O_NOFOLLOW|O_DIRECTORY Linux reports ENOTDIR for it, not ELOOP).
static int dir_error(int dirfd, const char *name, int e)
{
    if (e == ENOTDIR || e == ELOOP) {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            return SW_EPERM;
    }
    return sw__posix_errno(e);
}

// Copies a node path into buf, checking it is relative and normalised: components separated
// by single '/', none empty, "." or "..", none longer than NAME_MAX. "" is the root.
static int path_copy(const char *path, char *buf)
{
    if (!path)
        return SW_EINVAL;
    size_t n = strlen(path);
    if (n >= PATH_CAP)
        return SW_EINVAL;
    memcpy(buf, path, n + 1);
    if (n == 0)
        return 0;
    const char *s = buf;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len > NAME_MAX || (len == 1 && s[0] == '.') ||
            (len == 2 && s[0] == '.' && s[1] == '.'))
            return SW_EINVAL;
        if (!e)
            return 0;
        s = e + 1;
    }
}


// Walks buf (from path_copy, modified in place) from the root. With whole, opens the directory
// the path names (*name = NULL). Otherwise opens the directory holding the last component and
// points *name at it; for "" (the root itself) *name = "" and *dirfd is the root.
// The caller releases *dirfd with dir_done().
static int walk(sw_posix_fs_t *fs, char *buf, bool whole, int *dirfd, const char **name)
{
    *dirfd = -1;
    *name = NULL;
    if (fs->rootfd < 0)
        return SW_ENOENT;
    int cur = fs->rootfd;
    char *s = buf;
    if (!*s) {
        *dirfd = cur;
        *name = whole ? NULL : s;
        return 0;
    }
#ifdef SYS_openat2
    {
        char *last = whole ? NULL : strrchr(s, '/');
        if (!whole && !last) { // a name in the root itself
            *dirfd = cur;
            *name = s;
            return 0;
        }
        if (last)
            *last = 0;
        size_t len = strlen(s);
        int fd = last ? dcache_find(fs, s, len) : -1; // a parent used a moment ago
        if (fd >= 0) {
            *dirfd = fd;
            *name = last + 1;
            return 0;
        }
        fd = open_dirs(cur, s);
        if (fd >= 0) {
            if (last) // kept for the next names in the same directory
                dcache_keep(fs, s, len, fd);
            *dirfd = fd;
            *name = last ? last + 1 : NULL;
            return 0;
        }
        if (last)
            *last = '/';
        if (fd != NO_OPENAT2)
            return fd; // an SW_E* code
    }
#endif
    for (;;) {
        char *e = strchr(s, '/');
        if (!e && !whole) {
            *dirfd = cur;
            *name = s;
            return 0;
        }
        if (e)
            *e = 0;
        int fd = openat(cur, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            int err = dir_error(cur, s, errno);
            dir_done(fs, cur);
            return err;
        }
        dir_done(fs, cur);
        cur = fd;
        if (!e) {
            *dirfd = cur;
            return 0;
        }
        s = e + 1;
    }
}

static uint8_t ftype(mode_t m)
{
    return S_ISREG(m) ? SW_FT_FILE : S_ISDIR(m) ? SW_FT_DIR : SW_FT_OTHER;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Open files

static int slot_fd(const sw_posix_fs_t *fs, int h)
{
    if (h < 0 || h >= fs->max || fs->fds[h] < 0)
        return -1;
    return fs->fds[h];
}

int sw__posix_fs_open(void *ctx, const char *path, int flags, int *fdout)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char buf[PATH_CAP];
    int oflags;
    *fdout = -1;
    switch (flags & (SW_O_READ | SW_O_WRITE)) {
    case SW_O_READ: oflags = O_RDONLY; break;
    case SW_O_WRITE: oflags = O_WRONLY; break;
    case SW_O_READ | SW_O_WRITE: oflags = O_RDWR; break;
    default: return SW_EINVAL;
    }
    if (flags & ~(SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC | SW_O_EXCL | SW_O_APPEND))
        return SW_EINVAL;
    if ((flags & (SW_O_TRUNC | SW_O_APPEND)) && !(flags & SW_O_WRITE))
        return SW_EINVAL;
    if ((flags & (SW_O_WRITE | SW_O_CREATE)) && fs->read_only)
        return SW_EPERM;
    if (flags & SW_O_CREATE) oflags |= O_CREAT;
    if (flags & SW_O_TRUNC) oflags |= O_TRUNC;
    if (flags & SW_O_EXCL) oflags |= O_EXCL;
    if (flags & SW_O_APPEND) oflags |= O_APPEND;
    int err = path_copy(path, buf);
    if (err)
        return err;
    int h = 0;
    while (h < fs->max && fs->fds[h] >= 0)
        h++;
    if (h >= fs->max)
        return fs->rootfd < 0 ? SW_ENOENT : SW_EFULL;
    int dfd;
    const char *name;
    if ((err = walk(fs, buf, false, &dfd, &name)))
        return err;
    if (!*name) {
        dir_done(fs, dfd);
        return SW_EISDIR;
    }
    bool writing = (flags & (SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC)) != 0;
    if (writing && sw__fsf_on()) {
        FAULT_POINT("open", path, NULL);
        sw__fsf_before_open(dfd, name);
    }
    if (flags & SW_O_CREATE)
        sw__fsf_pre(SW_FSF_CREATE, path, NULL);
    // O_NONBLOCK: opening a FIFO or device must not block the loop; such files are refused below.
    // With SW_O_CREATE, exclusively first: only a name made here needs a later fs_flush (an app
    // that appends to its existing files would fill the set and turn a push's flush into syncfs).
    const int always = O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    bool created = false;
    int fd = openat(dfd, name, (flags & SW_O_CREATE ? oflags | O_EXCL : oflags) | always, 0666);
    if (fd >= 0)
        created = (flags & SW_O_CREATE) != 0;
    else if (errno == EEXIST && (flags & (SW_O_CREATE | SW_O_EXCL)) == SW_O_CREATE)
        fd = openat(dfd, name, (oflags & ~O_CREAT) | always, 0666); // (ELOOP for a symlink, as before)
    if (fd < 0 && errno == ENOENT && (flags & (SW_O_CREATE | SW_O_EXCL)) == SW_O_CREATE) {
        fd = openat(dfd, name, oflags | always, 0666); // gone in between: create it after all
        created = fd >= 0;
    }
    if (flags & SW_O_CREATE)
        sw__fsf_post(fd >= 0);
    if (fd < 0) {
        err = errno == ELOOP ? SW_EPERM : sw__posix_errno(errno);
        dir_done(fs, dfd);
        return err;
    }
    dir_done(fs, dfd);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        err = sw__posix_errno(errno);
        close(fd);
        return err;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return S_ISDIR(st.st_mode) ? SW_EISDIR : SW_EPERM;
    }
    // (O_NONBLOCK stays: it changes nothing for a regular file, and clearing it cost two
    // system calls per open)
    fs->fds[h] = fd;
    *fdout = h;
    if (created) // a new name
        dirty_mark(fs, path);
    if (sw__fsf_on()) {
        sw__fsf_name(h, writing ? path : "");
        if (writing)
            sw__fsf_opened(fd);
    }
    return 0;
}

// Largest transfer of one call: the result must fit the int return value.
#define XFER_MAX ((size_t)1 << 30)

int sw__posix_fs_read(void *ctx, int h, uint64_t off, void *buf, size_t n)
{
    int fd = slot_fd(fs_of(ctx), h);
    if (fd < 0)
        return SW_EINVAL;
    if (off > (uint64_t)INT64_MAX)
        return SW_EINVAL;
    if (n > XFER_MAX)
        n = XFER_MAX;
    ssize_t r;
    do
        r = pread(fd, buf, n, (off_t)off);
    while (r < 0 && errno == EINTR);
    return r < 0 ? sw__posix_errno(errno) : (int)r;
}

int sw__posix_fs_write(void *ctx, int h, uint64_t off, const void *buf, size_t n)
{
    int fd = slot_fd(fs_of(ctx), h);
    if (fd < 0)
        return SW_EINVAL;
    if (n > XFER_MAX)
        return SW_ETOOBIG;
    if (off > (uint64_t)INT64_MAX - n)
        return SW_EINVAL;
    if (sw__fsf_on() && sw__fsf_step("write", sw__fsf_path(h), NULL)) {
        (void)!pwrite(fd, buf, n / 2, (off_t)off); // the power goes half-way through
        sw__fsf_cut("write", sw__fsf_path(h));
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return done ? (int)done : sw__posix_errno(errno);
        }
        if (r == 0)
            return done ? (int)done : SW_EIO;
        done += (size_t)r;
    }
    return (int)done;
}

int sw__posix_fs_sync(void *ctx, int h)
{
    int fd = slot_fd(fs_of(ctx), h);
    if (fd < 0)
        return SW_EINVAL;
    FAULT_POINT("sync", sw__fsf_path(h), NULL);
    if (fsync(fd) < 0)
        return sw__posix_errno(errno);
    sw__fsf_synced(fd);
    return 0;
}

int sw__posix_fs_close_fd(void *ctx, int h)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    int fd = slot_fd(fs, h);
    if (fd < 0)
        return SW_EINVAL;
    if (sw__fsf_on() && *sw__fsf_path(h))
        FAULT_POINT("close", sw__fsf_path(h), NULL);
    fs->fds[h] = -1;
    // The descriptor is gone whatever close() says (Linux); only report a real I/O error.
    return close(fd) < 0 && errno == EIO ? SW_EIO : 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Names

int sw__posix_fs_stat(void *ctx, const char *path, sw_stat_t *st)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char buf[PATH_CAP];
    int dfd, err;
    const char *name;
    memset(st, 0, sizeof *st);
    if ((err = path_copy(path, buf)) || (err = walk(fs, buf, false, &dfd, &name)))
        return err;
    struct stat s;
    int r = *name ? fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) : fstat(dfd, &s);
    err = r < 0 ? sw__posix_errno(errno) : 0;
    dir_done(fs, dfd);
    if (err)
        return err;
    st->type = ftype(s.st_mode);
    st->size = st->type == SW_FT_FILE ? (uint64_t)s.st_size : 0;
    st->mtime = (int64_t)s.st_mtim.tv_sec;
    return 0;
}

int sw__posix_fs_mkdir(void *ctx, const char *path)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char buf[PATH_CAP];
    int dfd, err;
    const char *name;
    if ((err = path_copy(path, buf)))
        return err;
    if (fs->rootfd < 0 || fs->read_only)
        return SW_EPERM;
    FAULT_POINT("mkdir", path, NULL);
    if ((err = walk(fs, buf, false, &dfd, &name)))
        return err;
    sw__fsf_pre(SW_FSF_MKDIR, path, NULL);
    err = !*name ? SW_EEXIST : mkdirat(dfd, name, 0777) < 0 ? sw__posix_errno(errno) : 0;
    sw__fsf_post(!err);
    dir_done(fs, dfd);
    if (!err)
        dirty_mark(fs, path);
    return err;
}

// unlinkat() in the parent of path; the root itself can never be removed.
static int remove_at(void *ctx, const char *path, int flags)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char buf[PATH_CAP];
    int dfd, err;
    const char *name;
    if ((err = path_copy(path, buf)))
        return err;
    if (!*buf || fs->rootfd < 0 || fs->read_only)
        return SW_EPERM;
    FAULT_POINT(flags ? "rmdir" : "unlink", path, NULL);
    if ((err = walk(fs, buf, false, &dfd, &name)))
        return err;
    sw__fsf_pre(flags ? SW_FSF_RMDIR : SW_FSF_UNLINK, path, NULL);
    if (unlinkat(dfd, name, flags) < 0)
        err = errno == EEXIST ? SW_ENOTEMPTY : sw__posix_errno(errno);
    sw__fsf_post(!err);
    dir_done(fs, dfd);
    if (!err && flags)
        dirty_gone(fs, path);
    if (!err)
        dirty_mark(fs, path);
    if (flags & AT_REMOVEDIR)
        sw__posix_fs_forget(fs); // a directory kept open may have been this one, or in it
    return err;
}

int sw__posix_fs_rmdir(void *ctx, const char *path)
{
    return remove_at(ctx, path, AT_REMOVEDIR);
}

int sw__posix_fs_unlink(void *ctx, const char *path)
{
    return remove_at(ctx, path, 0);
}

// Renames from over to; durable: both directories synced before it returns (fs_rename), or
// not: both remembered for fs_flush (fs_move).
static int rename_at(void *ctx, const char *from, const char *to, bool durable)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char fbuf[PATH_CAP], tbuf[PATH_CAP];
    int fdir, tdir, err;
    const char *fname, *tname;
    if ((err = path_copy(from, fbuf)) || (err = path_copy(to, tbuf)))
        return err;
    if (!*fbuf || !*tbuf || fs->rootfd < 0 || fs->read_only)
        return SW_EPERM;
    FAULT_POINT(durable ? "rename" : "move", from, to);
    if ((err = walk(fs, fbuf, false, &fdir, &fname)))
        return err;
    if ((err = walk(fs, tbuf, false, &tdir, &tname))) {
        dir_done(fs, fdir);
        return err;
    }
    // A symlink is never moved nor replaced (so "write a temp file, rename it over p" cannot
    // turn a link into a file behind its owner's back); unlink is the way to remove one.
    struct stat ls;
    int fr = fstatat(fdir, fname, &ls, AT_SYMLINK_NOFOLLOW);
    bool moves_dir = fr != 0 || S_ISDIR(ls.st_mode); // (not known: as if it did)
    if ((fr == 0 && S_ISLNK(ls.st_mode)) ||
        (fstatat(tdir, tname, &ls, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(ls.st_mode))) {
        err = SW_EPERM;
    } else {
        if (!durable)
            sw__fsf_pre(SW_FSF_MOVE, from, to);
        int r = renameat(fdir, fname, tdir, tname);
        err = r < 0 ? sw__posix_errno(errno) : 0;
        if (!durable)
            sw__fsf_post(r == 0);
        if (!err && !durable) {
            dirty_mark(fs, from);
            dirty_mark(fs, to);
        } else if (!err) {
            // Durable once we return: the new directory entry (and the removal of the old
            // one) must reach the disk, which only fsync of the directories guarantees.
            struct stat a, b;
            if (fsync(tdir) < 0)
                err = sw__posix_errno(errno);
            else if (fstat(fdir, &a) == 0 && fstat(tdir, &b) == 0 &&
                     (a.st_dev != b.st_dev || a.st_ino != b.st_ino) && fsync(fdir) < 0)
                err = sw__posix_errno(errno);
            if (!err) {
                dirty_clear(fs, from);
                dirty_clear(fs, to);
                fsf_synced_dir_of(from);
                fsf_synced_dir_of(to);
            }
        }
    }
    dir_done(fs, fdir);
    dir_done(fs, tdir);
    if (moves_dir) // the directories kept open may be elsewhere now
        sw__posix_fs_forget(fs);
    return err;
}

int sw__posix_fs_rename(void *ctx, const char *from, const char *to)
{
    return rename_at(ctx, from, to, true);
}

int sw__posix_fs_move(void *ctx, const char *from, const char *to)
{
    return rename_at(ctx, from, to, false);
}

// Syncs each directory remembered (one that is gone is skipped: its removal is a change in its
// parent, remembered too). One whose sync fails stays remembered, with those not reached yet,
// so the next flush tries them again.
int sw__posix_fs_flush(void *ctx)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    if (fs->rootfd < 0)
        return 0;
    if (fs->dirty_all) {
        FAULT_POINT("flush", "", NULL);
        if (syncfs(fs->rootfd) < 0)
            return sw__posix_errno(errno);
        fs->dirty_all = false;
        for (uint16_t i = 0; i < fs->ndirty; i++)
            free(fs->dirty[i]);
        fs->ndirty = 0;
        sw__fsf_dir_synced(NULL, 0);
        return 0;
    }
    while (fs->ndirty) {
        char *d = fs->dirty[fs->ndirty - 1], buf[PATH_CAP];
        int dfd;
        const char *name;
        FAULT_POINT("flush", d, NULL);
        snprintf(buf, sizeof buf, "%s", d);
        int err = walk(fs, buf, true, &dfd, &name);
        if (!err) {
            if (fsync(dfd) < 0)
                err = sw__posix_errno(errno);
            dir_done(fs, dfd);
            if (!err)
                sw__fsf_dir_synced(d, strlen(d));
        }
        // (gone, or no longer a directory we can reach: nothing of ours left in it to sync)
        if (err && err != SW_ENOENT && err != SW_ENOTDIR && err != SW_EPERM)
            return err;
        free(d);
        fs->ndirty--;
    }
    return 0;
}

int sw__posix_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e),
                      void *u)
{
    sw_posix_fs_t *fs = fs_of(ctx);
    char buf[PATH_CAP];
    int dfd, err;
    const char *name;
    if ((err = path_copy(path, buf)) || (err = walk(fs, buf, true, &dfd, &name)))
        return err;
    // fdopendir owns its descriptor and moves its offset: the root gets a fresh open file
    // description (a dup would share the offset, and the next listing would start at the end).
    if (dfd == fs->rootfd &&
        (dfd = openat(fs->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return sw__posix_errno(errno);
    DIR *d = fdopendir(dfd);
    if (!d) {
        err = sw__posix_errno(errno);
        close(dfd);
        return err;
    }
    sw_dirent_t ent;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            err = errno ? sw__posix_errno(errno) : 0;
            break;
        }
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if ((nm[0] == '.' && (len == 1 || (len == 2 && nm[1] == '.'))) || len > SW_NAME_MAX)
            continue;
        memcpy(ent.name, nm, len + 1);
        switch (de->d_type) {
        case DT_REG: ent.type = SW_FT_FILE; break;
        case DT_DIR: ent.type = SW_FT_DIR; break;
        case DT_UNKNOWN: {
            struct stat s;
            if (fstatat(dirfd(d), nm, &s, AT_SYMLINK_NOFOLLOW) < 0)
                continue; // vanished meanwhile
            ent.type = ftype(s.st_mode);
            break;
        }
        default: ent.type = SW_FT_OTHER; break;
        }
        if ((err = each(u, &ent)))
            break;
    }
    closedir(d);
    return err;
}
