// flashfs as the file part of the port contract (swarm/port.h): the table entries for a port
// whose context pointer is the mounted sw_ffs_t. A port with a context of its own wraps the
// sw_ffs_* functions the same way, one line each.
#include "swarm/flashfs.h"

static int p_open(void *c, const char *path, int flags, int *fd) { return sw_ffs_open(c, path, flags, fd); }
static int p_read(void *c, int fd, uint64_t off, void *buf, size_t n) { return sw_ffs_read(c, fd, off, buf, n); }
static int p_write(void *c, int fd, uint64_t off, const void *buf, size_t n) { return sw_ffs_write(c, fd, off, buf, n); }
static int p_sync(void *c, int fd) { return sw_ffs_sync(c, fd); }
static int p_close(void *c, int fd) { return sw_ffs_close(c, fd); }
static int p_stat(void *c, const char *path, sw_stat_t *st) { return sw_ffs_stat(c, path, st); }
static int p_mkdir(void *c, const char *path) { return sw_ffs_mkdir(c, path); }
static int p_rmdir(void *c, const char *path) { return sw_ffs_rmdir(c, path); }
static int p_unlink(void *c, const char *path) { return sw_ffs_unlink(c, path); }
static int p_rename(void *c, const char *from, const char *to) { return sw_ffs_rename(c, from, to); }
static int p_flush(void *c) { return (void)c, 0; } // every change to names is one commit: durable
static int p_list(void *c, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u)
{
    return sw_ffs_list(c, path, each, u);
}

void sw_ffs_port_files(sw_port_ops_t *ops)
{
    ops->fs_open = p_open, ops->fs_read = p_read, ops->fs_write = p_write;
    ops->fs_sync = p_sync, ops->fs_close = p_close, ops->fs_stat = p_stat;
    ops->fs_mkdir = p_mkdir, ops->fs_rmdir = p_rmdir, ops->fs_unlink = p_unlink;
    ops->fs_rename = p_rename, ops->fs_list = p_list;
    ops->fs_move = p_rename, ops->fs_flush = p_flush; // flashfs: durable at once
}
