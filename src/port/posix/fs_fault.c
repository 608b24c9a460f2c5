// The file system fault layer (test builds only: SW_TEST_HOOKS): simulated power cuts for the
// tests of crash-safe writes. SW_TEST_FS_FAULT in the environment switches it on:
//
//   count      every mutating file call (open for writing, write, sync, close of a written
//              file, rename, unlink, mkdir, rmdir) is numbered and logged to stderr as
//              "fs fault: call K: OP PATH"; nothing fails.
//   cut:N      call N is cut: a write writes the first half of its bytes, any other call does
//              nothing, and the process ends at once (_exit(SW_FSF_EXIT)). What earlier calls
//              wrote stays, as after a crash of the program (the page cache survives).
//   power:N    as cut:N, and then the power goes: every file written since its last fsync
//              gets back the content it had at that fsync (or when the layer first saw it
//              opened for writing; empty if it was created since), and every change to names
//              that no sync of its directory followed is undone, newest first: files created
//              and directories made go, files unlinked or replaced by a move come back, moves
//              go back (a move is durable once both its directories were synced). That is
//              POSIX's rule: only fsync of a directory makes its entries durable, directory by
//              directory (a journaling file system such as ext4 is kinder: it commits names in
//              order). Where an undo cannot be done (a directory that is not empty because a
//              durable change put something in it) it is left out.
//   power:0    no cut; SIGUSR2 makes the power go at once (the end of a run that made no
//              more calls).
//   MODE:PREFIX (count:PREFIX, cut:N:PREFIX, power:N:PREFIX) numbers only the calls on
//              paths that start with PREFIX (a handle's calls by the path it was opened with;
//              a rename by either path), so a test covers the writes it cares about.
//
// Every cut logs "fs fault: power cut at call N: OP PATH" (or "cut at") to stderr. The tests
// count the calls of one run, then run it again once per call and mode, and check what a
// restarted node finds (tests/e2e/test_crash.py).
#define _GNU_SOURCE
#include "posix_int.h"

#ifdef SW_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OFF, COUNT, CUT, POWER };
enum { MAX_DIRTY = 128 };

typedef struct {
    dev_t dev;
    ino_t ino;
    int fd;          // a descriptor of our own on the inode, to restore it whatever its name
    uint8_t *data;   // the content at the last fsync (malloc'd; NULL if empty)
    size_t len;
} dirty_t;

static int mode = -1;
static unsigned long cut_at, calls;
static char only[256];            // count only calls on paths that start with this ("" = all)
enum { MAX_HANDLES = 64, PATH_KEEP = 256 };
static char hpath[MAX_HANDLES][PATH_KEEP]; // the path each handle was opened with
static dirty_t dirty[MAX_DIRTY];
static size_t ndirty;
// the content of the file about to be opened for writing, read before the open truncates it
static struct {
    bool have;
    dev_t dev;
    ino_t ino;
    uint8_t *data;
    size_t len;
} pending;

// Changes to names since the last directory sync (power mode), oldest first.
enum { MAX_NAMES = 512 };
typedef struct {
    int op;                 // SW_FSF_*
    char path[PATH_KEEP];   // relative to the root
    char path2[PATH_KEEP];  // MOVE: where to
    long stash;             // UNLINK, MOVE: the link to the file removed or replaced (-1: none)
    bool d1, d2;            // the directory of path (of path2) was synced since
} name_op_t;
static name_op_t names[MAX_NAMES];
static size_t nnames;
static bool names_lost;     // more changes than fit: the undo is incomplete (logged)
static name_op_t next;      // between sw__fsf_pre and sw__fsf_post (op 0: nothing to record)
static int rootfd = -1, stashfd = -1;
static long stashes;

static void say(const char *fmt, unsigned long k, const char *op, const char *path)
{
    char line[600];
    int n = snprintf(line, sizeof line, fmt, k, op, path ? path : "");
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void stash_name(long k, char out[32])
{
    snprintf(out, 32, "s%ld", k);
}

// Undoes the changes to names since the last directory sync, newest first (async-signal-safe).
static void lose_names(void)
{
    char sn[32];
    if (names_lost)
        say("fs fault: more than %lu changes to names since a sync%s%s: some are kept\n", MAX_NAMES, "", NULL);
    while (nnames) {
        name_op_t *o = &names[--nnames];
        if (o->stash >= 0)
            stash_name(o->stash, sn);
        switch (o->op) {
        case SW_FSF_CREATE: (void)unlinkat(rootfd, o->path, 0); break;
        case SW_FSF_MKDIR: (void)unlinkat(rootfd, o->path, AT_REMOVEDIR); break;
        case SW_FSF_RMDIR: (void)mkdirat(rootfd, o->path, 0777); break;
        case SW_FSF_UNLINK: (void)renameat(stashfd, sn, rootfd, o->path); break;
        case SW_FSF_MOVE:
            (void)renameat(rootfd, o->path2, rootfd, o->path);
            if (o->stash >= 0)
                (void)renameat(stashfd, sn, rootfd, o->path2);
            break;
        }
    }
}

// Restores every file written since its last fsync, then undoes the changes to names since
// the last directory sync (async-signal-safe: SIGUSR2 calls it).
static void lose_unsynced(void)
{
    lose_names();
    for (size_t i = 0; i < ndirty; i++) {
        dirty_t *d = &dirty[i];
        if (ftruncate(d->fd, 0) != 0)
            continue;
        size_t at = 0;
        while (at < d->len) {
            ssize_t r = pwrite(d->fd, d->data + at, d->len - at, (off_t)at);
            if (r <= 0)
                break;
            at += (size_t)r;
        }
    }
}

static void on_usr2(int sig)
{
    (void)sig;
    static const char msg[] = "fs fault: power cut (SIGUSR2)\n";
    lose_unsynced();
    (void)!write(2, msg, sizeof msg - 1);
    _exit(SW_FSF_EXIT);
}

bool sw__fsf_on(void)
{
    if (mode >= 0)
        return mode != OFF;
    mode = OFF;
    const char *e = getenv("SW_TEST_FS_FAULT");
    if (!e || !*e)
        return false;
    const char *rest = NULL;
    if (!strncmp(e, "count", 5) && (!e[5] || e[5] == ':')) {
        mode = COUNT;
        rest = e[5] ? e + 6 : NULL;
    } else if (!strncmp(e, "cut:", 4) || !strncmp(e, "power:", 6)) {
        mode = e[0] == 'c' ? CUT : POWER;
        char *end;
        cut_at = strtoul(strchr(e, ':') + 1, &end, 10);
        rest = *end == ':' ? end + 1 : NULL;
        if (mode == POWER)
            signal(SIGUSR2, on_usr2);
    }
    if (rest)
        snprintf(only, sizeof only, "%s", rest);
    if (mode == OFF) {
        say("fs fault: SW_TEST_FS_FAULT=%.0lu%s%s: not count, cut:N or power:N; ignored\n", 0, e, NULL);
    }
    return mode != OFF;
}

void sw__fsf_name(int h, const char *path)
{
    if (h >= 0 && h < MAX_HANDLES)
        snprintf(hpath[h], PATH_KEEP, "%s", path);
}

const char *sw__fsf_path(int h)
{
    return h >= 0 && h < MAX_HANDLES ? hpath[h] : "?";
}

bool sw__fsf_step(const char *op, const char *path, const char *path2)
{
    if (!sw__fsf_on())
        return false;
    size_t k = strlen(only);
    if (k && strncmp(path, only, k) != 0 && (!path2 || strncmp(path2, only, k) != 0))
        return false;
    calls++;
    if (mode == COUNT)
        say("fs fault: call %lu: %s %s\n", calls, op, path);
    return (mode == CUT || mode == POWER) && calls == cut_at;
}

void sw__fsf_root(int fd)
{
    rootfd = fd;
}

// A hard link to path in the stash (a directory beside the root, on its file system): its
// number, or -1 (no file there, or no stash).
static long stash_link(const char *path)
{
    struct stat st;
    if (fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return -1;
    if (stashfd < 0) {
        char dir[64];
        int up = openat(rootfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(dir, sizeof dir, ".swarm-fsfault-%ld", (long)getpid());
        if (up >= 0 && (mkdirat(up, dir, 0700) == 0 || errno == EEXIST))
            stashfd = openat(up, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up >= 0)
            close(up);
        if (stashfd < 0)
            return -1;
    }
    char sn[32];
    long k = stashes++;
    stash_name(k, sn);
    return linkat(rootfd, path, stashfd, sn, 0) == 0 ? k : -1;
}

static void drop_stash(long k)
{
    char sn[32];
    if (k < 0)
        return;
    stash_name(k, sn);
    (void)unlinkat(stashfd, sn, 0);
}

void sw__fsf_pre(int op, const char *path, const char *path2)
{
    memset(&next, 0, sizeof next);
    next.stash = -1;
    if (mode != POWER || rootfd < 0)
        return;
    if (op == SW_FSF_CREATE) {
        struct stat st;
        if (fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
            return; // it exists: opening it changes no name
    }
    next.op = op;
    snprintf(next.path, sizeof next.path, "%s", path);
    if (path2)
        snprintf(next.path2, sizeof next.path2, "%s", path2);
    if (op == SW_FSF_UNLINK || op == SW_FSF_MOVE)
        next.stash = stash_link(op == SW_FSF_MOVE ? path2 : path);
}

void sw__fsf_post(bool ok)
{
    if (!next.op)
        return;
    if (!ok || nnames == MAX_NAMES) {
        names_lost |= ok;
        drop_stash(next.stash);
    } else {
        names[nnames++] = next;
    }
    next.op = 0;
}

// True if path (a node path) is an entry of directory dir (len bytes; "" the root).
static bool in_dir(const char *path, const char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    return n == len && !strncmp(path, dir, len);
}

void sw__fsf_dir_synced(const char *dir, size_t len)
{
    if (mode != POWER)
        return;
    size_t k = 0;
    for (size_t i = 0; i < nnames; i++) {
        name_op_t *o = &names[i];
        o->d1 |= !dir || in_dir(o->path, dir, len);
        o->d2 |= o->op != SW_FSF_MOVE || !dir || in_dir(o->path2, dir, len);
        if (o->d1 && o->d2)
            drop_stash(o->stash); // durable: it stays whatever happens
        else
            names[k++] = *o;
    }
    nnames = k;
    if (!dir)
        names_lost = false;
}

void sw__fsf_cut(const char *op, const char *path)
{
    if (mode == POWER)
        lose_unsynced();
    say(mode == POWER ? "fs fault: power cut at call %lu: %s %s\n" : "fs fault: cut at call %lu: %s %s\n",
        calls, op, path);
    _exit(SW_FSF_EXIT);
}

static dirty_t *find(dev_t dev, ino_t ino)
{
    for (size_t i = 0; i < ndirty; i++)
        if (dirty[i].dev == dev && dirty[i].ino == ino)
            return &dirty[i];
    return NULL;
}

void sw__fsf_before_open(int dfd, const char *name)
{
    free(pending.data);
    memset(&pending, 0, sizeof pending);
    if (mode != POWER)
        return;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
        find(st.st_dev, st.st_ino))
        return;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return;
    pending.have = true;
    pending.dev = st.st_dev;
    pending.ino = st.st_ino;
    if (st.st_size > 0 && (pending.data = malloc((size_t)st.st_size))) {
        ssize_t r = pread(fd, pending.data, (size_t)st.st_size, 0);
        pending.len = r > 0 ? (size_t)r : 0;
    }
    close(fd);
}

void sw__fsf_opened(int fd)
{
    struct stat st;
    if (mode != POWER || fstat(fd, &st) != 0 || find(st.st_dev, st.st_ino))
        goto done;
    if (ndirty == MAX_DIRTY) {
        say("fs fault: more than %lu files unsynced at once%s%s: not tracked\n", MAX_DIRTY, "", NULL);
        goto done;
    }
    dirty_t *d = &dirty[ndirty];
    d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    if (d->fd < 0)
        goto done;
    d->dev = st.st_dev;
    d->ino = st.st_ino;
    if (pending.have && pending.dev == st.st_dev && pending.ino == st.st_ino) {
        d->data = pending.data; // the content before this open (a new file: none)
        d->len = pending.len;
        pending.data = NULL;
    } else {
        d->data = NULL;
        d->len = 0;
    }
    ndirty++;
done:
    free(pending.data);
    memset(&pending, 0, sizeof pending);
}

void sw__fsf_synced(int fd)
{
    struct stat st;
    if (mode != POWER || fstat(fd, &st) != 0)
        return;
    dirty_t *d = find(st.st_dev, st.st_ino);
    if (!d)
        return;
    close(d->fd);
    free(d->data);
    *d = dirty[--ndirty];
}
#else
typedef int sw__fs_fault_unused; // ISO C wants something in a translation unit
#endif
