// Host-side Lua syntax check (luac -p semantics through the Lua library): every *.lua file of
// a folder is compiled, not run, so that a typo fails on the host before a push touches any
// device. Names starting with '.' and symbolic links are skipped, as the push's manifest skips
// them; at most 8 folder levels, as its bounds allow. With the file cache on (fcache.h), a file
// that compiled before and has not changed since is not compiled again.
#define _GNU_SOURCE
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fcache.h"
#include "lua_check.h"

#define DEPTH_MAX 8
#define FILE_MAX (16u << 20) // a target's whole size bound

static int check_file(lua_State *L, const char *path, const char *shown, const struct stat *st,
                      sw_lua_check_fn fn, void *u)
{
    if (sw_fcache_get(st, SW_FC_LUA_OK, NULL) & SW_FC_LUA_OK)
        return 0; // it compiled before and has not changed since (fcache.h)
    int64_t read_ms = sw_fcache_now_ms();
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: cannot read", shown);
        fn(u, msg);
        return 1;
    }
    char *buf = malloc(FILE_MAX);
    size_t n = buf ? fread(buf, 1, FILE_MAX, f) : 0;
    fclose(f);
    if (!buf)
        return 0;
    char chunk[4200];
    snprintf(chunk, sizeof chunk, "=%s", shown); // error messages name the file as the push does
    int bad = 0;
    // a binary chunk is refused as the node refuses it (it loads text only)
    if (luaL_loadbufferx(L, buf, n, chunk, "t") != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fn(u, msg ? msg : "syntax error");
        bad = 1;
    } else if (n < FILE_MAX && n == (size_t)st->st_size) {
        sw_fcache_put(st, read_ms, SW_FC_LUA_OK, NULL);
    }
    lua_settop(L, 0);
    free(buf);
    return bad;
}

static int walk(lua_State *L, const char *dir, const char *shown, int depth, sw_lua_check_fn fn, void *u)
{
    if (depth > DEPTH_MAX)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], sub[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(sub, sizeof sub, "%s/%s", shown, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
            continue;
        if (S_ISDIR(st.st_mode)) {
            bad += walk(L, path, sub, depth + 1, fn, u);
        } else if (S_ISREG(st.st_mode)) {
            size_t len = strlen(e->d_name);
            if (len > 4 && !strcmp(e->d_name + len - 4, ".lua"))
                bad += check_file(L, path, sub, &st, fn, u);
        }
    }
    closedir(d);
    return bad;
}

int sw_lua_check_dir(const char *dir, const char *shown, sw_lua_check_fn fn, void *u)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return -1;
    int bad = walk(L, dir, shown, 1, fn, u);
    lua_close(L);
    return bad;
}
