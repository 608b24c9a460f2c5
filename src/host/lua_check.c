// Host-side Lua syntax check (luac -p semantics through the Lua library): every *.lua file of
// a folder is compiled, not run, so that a typo fails on the host before a push touches any
// device. Names starting with '.' and symbolic links are skipped, as the push's manifest skips
// them; at most 8 folder levels, as its bounds allow. With the file cache on (fcache.h), a file
// that compiled before and has not changed since is not compiled again.
//
// The compiling runs on up to CHECK_THREADS threads, each with a Lua state of its own: it is
// most of a first push's host CPU (Lua's parser, ~80M instructions for bench/push's typical
// project, bench/RESULTS.md "Push"), and nothing else runs yet — no device is touched before it
// ends. The walk, the file cache and the reports stay on the calling thread, in walk order.
#define _GNU_SOURCE
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "fcache.h"
#include "lua_check.h"

#define DEPTH_MAX 8
#define FILE_MAX (16u << 20) // a target's whole size bound
#define CHECK_THREADS 8      // at most, and one per 4 files
#define PATH_CAP 4096
#define SHOWN_CAP 4200

typedef struct item {
    char *path;       // malloc: path, NUL, then the name shown in messages, NUL
    const char *shown;
    struct stat st;
    int64_t read_ms;  // before the file was read (fcache.h: a change during the read is seen)
    bool done;        // a thread compiled it (or could not read it)
    bool failed;      // it does not compile, or cannot be read: err says why
    char *err;        // malloc: the message (NULL if there was no memory for it)
    bool cacheable;   // compiled, and read whole at the size the walk saw
} item_t;

typedef struct job {
    item_t *items;
    size_t n, cap;
    atomic_size_t next; // the next item a thread takes
    bool oom;           // the walk could not grow its list
} job_t;

// Compiles one file (any thread): sets it->err or it->cacheable.
static void check_file(lua_State *L, item_t *it)
{
    FILE *f = fopen(it->path, "rb");
    if (!f) {
        char msg[SHOWN_CAP + 16];
        snprintf(msg, sizeof msg, "%s: cannot read", it->shown);
        it->err = strdup(msg);
        it->failed = it->done = true;
        return;
    }
    // its size as the walk saw it, one byte more to see it grow (then not cached), at most FILE_MAX
    size_t cap = it->st.st_size >= 0 && (uint64_t)it->st.st_size < FILE_MAX ? (size_t)it->st.st_size + 1 : FILE_MAX;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf)
        return; // not done: out of memory
    char chunk[SHOWN_CAP + 1];
    snprintf(chunk, sizeof chunk, "=%s", it->shown); // error messages name the file as the push does
    // a binary chunk is refused as the node refuses it (it loads text only)
    if (luaL_loadbufferx(L, buf, n, chunk, "t") != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        it->err = strdup(msg ? msg : "syntax error");
        it->failed = true;
    } else {
        it->cacheable = n < FILE_MAX && n == (size_t)it->st.st_size;
    }
    it->done = true;
    lua_settop(L, 0);
    free(buf);
}

static void worker(void *arg)
{
    job_t *j = arg;
    lua_State *L = luaL_newstate();
    if (!L)
        return; // the other threads (or the caller's) take the files
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;)
        check_file(L, &j->items[i]);
    lua_close(L);
}

static item_t *add_item(job_t *j)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 32;
        item_t *m = realloc(j->items, cap * sizeof *m);
        if (!m) {
            j->oom = true;
            return NULL;
        }
        j->items = m;
        j->cap = cap;
    }
    item_t *it = &j->items[j->n++];
    memset(it, 0, sizeof *it);
    return it;
}

static void walk(job_t *j, const char *dir, const char *shown, int depth)
{
    if (depth > DEPTH_MAX || j->oom)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && !j->oom) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_CAP], sub[SHOWN_CAP];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s/%s", shown, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk(j, path, sub, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            size_t len = strlen(e->d_name);
            if (len <= 4 || strcmp(e->d_name + len - 4, ".lua"))
                continue;
            if (sw_fcache_get(&st, SW_FC_LUA_OK, NULL) & SW_FC_LUA_OK)
                continue; // it compiled before and has not changed since (fcache.h)
            size_t pn = strlen(path) + 1, sn = strlen(sub) + 1;
            item_t *it = add_item(j);
            if (!it || !(it->path = malloc(pn + sn))) {
                j->oom = true;
                break;
            }
            memcpy(it->path, path, pn);
            memcpy(it->path + pn, sub, sn);
            it->shown = it->path + pn;
            it->st = st;
            it->read_ms = sw_fcache_now_ms();
        }
    }
    closedir(d);
}

int sw_lua_check_dir(const char *dir, const char *shown, sw_lua_check_fn fn, void *u)
{
    job_t j = {0};
    atomic_init(&j.next, 0);
    walk(&j, dir, shown, 1);
    int bad = -1;
    if (j.oom)
        goto out;
    // one thread per 4 files, at most one per CPU: a state and a thread cost ~50 µs, a file
    // of the typical project ~0.3 ms
    size_t want = (j.n + 3) / 4, cpus = uv_available_parallelism();
    if (want > cpus)
        want = cpus;
    if (want > CHECK_THREADS)
        want = CHECK_THREADS;
    uv_thread_t th[CHECK_THREADS];
    size_t started = 0;
    for (; started + 1 < want; started++)
        if (uv_thread_create(&th[started], worker, &j))
            break; // fewer threads: this one takes the rest
    lua_State *L = luaL_newstate();
    if (L) {
        for (size_t i; (i = atomic_fetch_add(&j.next, 1)) < j.n;)
            check_file(L, &j.items[i]);
        lua_close(L);
    }
    for (size_t k = 0; k < started; k++)
        uv_thread_join(&th[k]);
    for (size_t i = 0; i < j.n; i++)
        if (!j.items[i].done)
            goto out; // out of memory: no Lua state, or no buffer for a file
    bad = 0;
    for (size_t i = 0; i < j.n; i++) {
        item_t *it = &j.items[i];
        if (it->failed) {
            fn(u, it->err ? it->err : "a file does not compile (no memory for Lua's message)");
            bad++;
        } else if (it->cacheable) {
            sw_fcache_put(&it->st, it->read_ms, SW_FC_LUA_OK, NULL);
        }
    }
out:
    for (size_t i = 0; i < j.n; i++) {
        free(j.items[i].err);
        free(j.items[i].path);
    }
    free(j.items);
    return bad;
}
