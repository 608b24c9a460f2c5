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
//              opened for writing; empty if it was created since). Names (create, rename,
//              unlink) stay as they are: the POSIX port syncs the directory of a rename, and
//              this is the harsher case for data that was never synced.
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

static void say(const char *fmt, unsigned long k, const char *op, const char *path)
{
    char line[600];
    int n = snprintf(line, sizeof line, fmt, k, op, path ? path : "");
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

// Restores every file written since its last fsync (async-signal-safe: SIGUSR2 calls it).
static void lose_unsynced(void)
{
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
