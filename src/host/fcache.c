// What the host knows about files by their identity (fcache.h): a table in memory, loaded from
// and saved to one text file, one line per file:
//     DEV INO SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS FLAGS SHA256-hex|-
// after a first line "swarm-files 1 LUA" (LUA: the Lua release whose compiler checked the files
// marked SW_FC_LUA_OK; another release drops those marks).
#define _GNU_SOURCE
#include <errno.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fcache.h"
#include "swarm/sw.h"

#define SLOTS (2 * SW_FCACHE_MAX) // open addressing, at most half full

typedef struct ent {
    uint64_t dev, ino, size;
    int64_t ms, mns, cs, cns;
    unsigned flags;
    bool used;  // looked up or recorded by this command: kept first when saving
    uint8_t sha[32];
} ent_t;

static struct {
    bool on, loaded, dirty;
    char path[4096];
    ent_t *e;
    size_t n;
    uint32_t *slot; // index + 1 into e, 0 = free
    unsigned hits, misses;
} fc;

int64_t sw_fcache_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill_key(ent_t *k, const struct stat *st)
{
    k->dev = (uint64_t)st->st_dev;
    k->ino = (uint64_t)st->st_ino;
    k->size = (uint64_t)st->st_size;
    k->ms = (int64_t)st->st_mtim.tv_sec;
    k->mns = st->st_mtim.tv_nsec;
    k->cs = (int64_t)st->st_ctim.tv_sec;
    k->cns = st->st_ctim.tv_nsec;
}

static bool same(const ent_t *a, const ent_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->ms == b->ms &&
           a->mns == b->mns && a->cs == b->cs && a->cns == b->cns;
}

static uint32_t hash_of(uint64_t dev, uint64_t ino)
{
    uint64_t h = (ino * 0x9E3779B97F4A7C15ull) ^ (dev * 0xC2B2AE3D27D4EB4Full);
    return (uint32_t)(h >> 32) & (SLOTS - 1);
}

// The slot of (dev, ino): the one holding it, or the free one where it would go.
static uint32_t *slot_of(uint64_t dev, uint64_t ino)
{
    for (uint32_t i = hash_of(dev, ino), k = 0; k < SLOTS; i = (i + 1) & (SLOTS - 1), k++) {
        uint32_t *s = &fc.slot[i];
        if (!*s || (fc.e[*s - 1].dev == dev && fc.e[*s - 1].ino == ino))
            return s;
    }
    return NULL; // cannot happen: at most half the slots are taken
}

static void add(const ent_t *x)
{
    uint32_t *s = slot_of(x->dev, x->ino);
    if (!s)
        return;
    if (*s) { // the same inode: the newer identity replaces the older
        fc.e[*s - 1] = *x;
        return;
    }
    if (fc.n >= SW_FCACHE_MAX)
        return;
    fc.e[fc.n] = *x;
    *s = (uint32_t)++fc.n;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void load(void)
{
    fc.loaded = true;
    fc.e = calloc(SW_FCACHE_MAX, sizeof *fc.e);
    fc.slot = calloc(SLOTS, sizeof *fc.slot);
    if (!fc.e || !fc.slot) {
        free(fc.e);
        free(fc.slot);
        fc.e = NULL;
        fc.slot = NULL;
        fc.on = false;
        return;
    }
    FILE *f = fopen(fc.path, "r");
    if (!f)
        return;
    char line[256];
    int lua = -1;
    if (!fgets(line, sizeof line, f) || sscanf(line, "swarm-files 1 %d", &lua) != 1) {
        fclose(f);
        return; // another format: start again
    }
    unsigned keep = lua == LUA_VERSION_RELEASE_NUM ? ~0u : ~(unsigned)SW_FC_LUA_OK;
    // half of the table at most: the rest is room for this command's new files (the file
    // starts with the last command's, so those are the ones kept)
    while (fc.n < SW_FCACHE_MAX / 2 && fgets(line, sizeof line, f)) {
        ent_t x = {0};
        unsigned long long dev, ino, size;
        long long ms, cs;
        long mns, cns;
        unsigned flags;
        char sha[80];
        if (sscanf(line, "%llx %llx %llx %lld %ld %lld %ld %x %79s", &dev, &ino, &size, &ms, &mns,
                   &cs, &cns, &flags, sha) != 9)
            continue;
        x.dev = dev, x.ino = ino, x.size = size;
        x.ms = ms, x.mns = mns, x.cs = cs, x.cns = cns;
        x.flags = flags & keep & (SW_FC_SHA | SW_FC_LUA_OK);
        if (x.flags & SW_FC_SHA) {
            if (strlen(sha) != 64)
                continue;
            bool ok = true;
            for (int i = 0; i < 32 && ok; i++) {
                int a = hexval(sha[2 * i]), b = hexval(sha[2 * i + 1]);
                ok = a >= 0 && b >= 0;
                x.sha[i] = (uint8_t)(a << 4 | (b & 15));
            }
            if (!ok)
                continue;
        }
        if (x.flags)
            add(&x);
    }
    fclose(f);
}

void sw_fcache_enable(const char *path)
{
    if (fc.on)
        return;
    if (path) {
        snprintf(fc.path, sizeof fc.path, "%s", path);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        int k;
        if (xdg && xdg[0] == '/')
            k = snprintf(fc.path, sizeof fc.path, "%s/swarm/files", xdg);
        else if (home && home[0])
            k = snprintf(fc.path, sizeof fc.path, "%s/.cache/swarm/files", home);
        else
            return; // nowhere to keep it: off
        if (k <= 0 || (size_t)k >= sizeof fc.path)
            return;
    }
    fc.on = true;
}

bool sw_fcache_enabled(void)
{
    return fc.on;
}

unsigned sw_fcache_get(const struct stat *st, unsigned want, uint8_t sha256[32])
{
    if (!fc.on)
        return 0;
    if (!fc.loaded)
        load();
    if (!fc.on)
        return 0;
    ent_t k;
    fill_key(&k, st);
    uint32_t *s = slot_of(k.dev, k.ino);
    if (!s || !*s || !same(&fc.e[*s - 1], &k)) {
        fc.misses++;
        return 0;
    }
    ent_t *e = &fc.e[*s - 1];
    e->used = true;
    if ((e->flags & want) == want)
        fc.hits++;
    else
        fc.misses++;
    if (sha256 && (e->flags & SW_FC_SHA))
        memcpy(sha256, e->sha, 32);
    return e->flags;
}

void sw_fcache_put(const struct stat *st, int64_t read_ms, unsigned flags, const uint8_t sha256[32])
{
    if (!fc.on || !(flags & (SW_FC_SHA | SW_FC_LUA_OK)) || ((flags & SW_FC_SHA) && !sha256))
        return;
    if (!fc.loaded)
        load();
    if (!fc.on)
        return;
    int64_t changed = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    int64_t c = (int64_t)st->st_ctim.tv_sec * 1000 + st->st_ctim.tv_nsec / 1000000;
    if (c > changed)
        changed = c;
    if (read_ms - changed < SW_FCACHE_SETTLE_MS)
        return; // "racily clean": it may change again within its time stamp
    ent_t x = {0};
    fill_key(&x, st);
    uint32_t *s = slot_of(x.dev, x.ino);
    if (s && *s && same(&fc.e[*s - 1], &x)) { // known: add what is new
        ent_t *e = &fc.e[*s - 1];
        unsigned before = e->flags;
        e->flags |= flags & (SW_FC_SHA | SW_FC_LUA_OK);
        if (flags & SW_FC_SHA)
            memcpy(e->sha, sha256, 32);
        e->used = true;
        fc.dirty |= e->flags != before;
        return;
    }
    x.flags = flags & (SW_FC_SHA | SW_FC_LUA_OK);
    if (flags & SW_FC_SHA)
        memcpy(x.sha, sha256, 32);
    x.used = true;
    add(&x);
    fc.dirty = true;
}

static void write_ent(FILE *f, const ent_t *e)
{
    char hex[65] = "-";
    if (e->flags & SW_FC_SHA) {
        static const char d[] = "0123456789abcdef";
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = d[e->sha[i] >> 4];
            hex[2 * i + 1] = d[e->sha[i] & 15];
        }
        hex[64] = 0;
    }
    fprintf(f, "%llx %llx %llx %lld %ld %lld %ld %x %s\n", (unsigned long long)e->dev,
            (unsigned long long)e->ino, (unsigned long long)e->size, (long long)e->ms, (long)e->mns,
            (long long)e->cs, (long)e->cns, e->flags, hex);
}

int sw_fcache_dir(char *buf, size_t cap)
{
    if (!fc.on || snprintf(buf, cap, "%s", fc.path) >= (int)cap)
        return SW_ENOENT;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return SW_ENOENT;
    *slash = 0;
    // the cache's folder and its parent (~/.cache): made if missing
    char *up = strrchr(buf, '/');
    if (up && up != buf) {
        *up = 0;
        (void)mkdir(buf, 0700);
        *up = '/';
    }
    (void)mkdir(buf, 0700);
    return 0;
}

int sw_fcache_save(void)
{
    if (!fc.on || !fc.dirty || !fc.e)
        return 0;
    char dir[4096];
    if (sw_fcache_dir(dir, sizeof dir))
        return SW_ENOENT;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", fc.path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return SW_EIO;
    fprintf(f, "swarm-files 1 %d\n", (int)LUA_VERSION_RELEASE_NUM);
    for (int pass = 0; pass < 2; pass++) // this command's files first
        for (size_t i = 0; i < fc.n; i++)
            if (fc.e[i].used == (pass == 0))
                write_ent(f, &fc.e[i]);
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, fc.path) != 0) {
        unlink(tmp);
        return SW_EIO;
    }
    fc.dirty = false;
    return 0;
}

void sw_fcache_stats(unsigned *hits, unsigned *misses)
{
    *hits = fc.hits;
    *misses = fc.misses;
}

void sw_fcache_reset(void)
{
    free(fc.e);
    free(fc.slot);
    memset(&fc, 0, sizeof fc);
}
