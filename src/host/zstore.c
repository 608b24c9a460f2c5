// Compressed streams kept between pushes (zstore.h): one file per entry,
// $XDG_CACHE_HOME/swarm/z/SHA256HEX-WBITS-RATIO, written to a temporary name and renamed; its
// modification time is its last use (set on each hit), which the pruning goes by.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fcache.h"
#include "zpack.h"
#include "zstore.h"

#define STREAM_MAX (64u << 20) // as a push's largest file to compress

static unsigned hits, bad;

void sw_zstore_stats(unsigned *h, unsigned *b)
{
    *h = hits;
    *b = bad;
}

static int entry_path(char *buf, size_t cap, const uint8_t sha[32], int wbits, uint32_t ratio)
{
    char dir[4096];
    if (sw_fcache_dir(dir, sizeof dir))
        return -1;
    static const char d[] = "0123456789abcdef";
    char hex[65];
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = d[sha[i] >> 4];
        hex[2 * i + 1] = d[sha[i] & 15];
    }
    hex[64] = 0;
    int k = snprintf(buf, cap, "%s/z/%s-%d-%u", dir, hex, wbits, (unsigned)ratio);
    return k > 0 && (size_t)k < cap ? 0 : -1;
}

int sw_zstore_get(const uint8_t sha256[32], int wbits, uint32_t ratio, uint64_t size, uint8_t **out,
                  size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    char path[4200];
    if (!sw_fcache_enabled() || entry_path(path, sizeof path, sha256, wbits, ratio))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size >= size ||
        st.st_size > STREAM_MAX) {
        close(fd);
        unlink(path); // not one of ours: made again
        bad++;
        return 0;
    }
    (void)futimens(fd, NULL); // used now: the pruning keeps it
    if (st.st_size == 0) {
        close(fd);
        hits++;
        return 2;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *c = malloc(n);
    ssize_t got = c ? pread(fd, c, n, 0) : -1;
    close(fd);
    if (got != (ssize_t)n || sw_zpack_check(c, n, (size_t)size, ratio) != 1) {
        free(c);
        unlink(path); // damaged: made again
        bad++;
        return 0;
    }
    hits++;
    *out = c;
    *out_n = n;
    return 1;
}

static int cmp_time(const void *a, const void *b)
{
    const struct timespec *x = a, *y = b;
    if (x->tv_sec != y->tv_sec)
        return x->tv_sec < y->tv_sec ? -1 : 1;
    return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

// More than SW_ZSTORE_MAX entries: those used longest ago go until half are left.
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t n = 0, cap = 0;
    struct timespec *t = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
            !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 256;
            struct timespec *p = realloc(t, c * sizeof *p);
            if (!p)
                break;
            t = p;
            cap = c;
        }
        t[n++] = st.st_mtim;
    }
    if (n > SW_ZSTORE_MAX) {
        qsort(t, n, sizeof *t, cmp_time);
        struct timespec cut = t[n - SW_ZSTORE_MAX / 2]; // the newest half stays
        rewinddir(d);
        while ((e = readdir(d))) {
            struct stat st;
            if (e->d_name[0] != '.' && !fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
                S_ISREG(st.st_mode) && cmp_time(&st.st_mtim, &cut) < 0)
                (void)unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    free(t);
    closedir(d);
}

void sw_zstore_put(const uint8_t sha256[32], int wbits, uint32_t ratio, const uint8_t *c, size_t cn)
{
    static bool pruned; // once per command, before its first entry
    char path[4200], dir[4200], tmp[4300];
    if (!sw_fcache_enabled() || entry_path(path, sizeof path, sha256, wbits, ratio))
        return;
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    (void)mkdir(dir, 0700);
    if (!pruned) {
        pruned = true;
        prune(dir);
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    bool ok = true;
    size_t done = 0;
    while (ok && done < cn) {
        ssize_t w = write(fd, c + done, cn - done);
        ok = w > 0;
        done += ok ? (size_t)w : 0;
    }
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path))
        unlink(tmp);
}
