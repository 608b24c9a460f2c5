// The Lua VM of the node: one lua_State whose memory comes from the port (capped by
// limits.lua_mem), with the safe standard libraries only, a require() confined to the app's
// folder, print() into the node log, and a count hook that stops a task that never yields.
// The libraries apps and evals see are read-only views (an eval or an app cannot change
// string.rep, the string metatable or swarm.* for the others); C work is charged to the same
// budget as instructions (lua_bound.c). The VM opens no file by itself: sources are read
// through the port's fs ops.
#include "profile.h"
#if SW_WITH_LUA
#include <stdio.h> // snprintf only: the VM reads files through the port
#include <string.h>

#include <lualib.h>

#include "lua_int.h"
#include "lua_part.h"

const char sw__lua_key_none = 0, sw__lua_key_end = 0, sw__lua_key_proxy_mt = 0, sw__lua_key_ext_mt = 0;
const char sw__lua_key_tasks = 0, sw__lua_key_swarm = 0, sw__lua_key_shared = 0;
static const char key_ro = 0; // registry: the set of read-only views (weak keys)
static const char key_loading = 0; // require(): a module being loaded

///////////////////////////////////////////////////////////////////////////////////////////////
// Memory: the port's allocator with accounting. Over the cap, Lua sees a failed allocation
// (it collects garbage and retries, then raises "not enough memory" in the running code).

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sw_lua_t *lua = ud;
    const sw_port_t *port = &lua->n->port;
    if (!ptr)
        osize = 0; // osize is then the type of object being created
    if (nsize == 0) {
        if (ptr) {
            port->ops->alloc(port->ctx, SW_POOL_LUA, ptr, osize, 0);
            lua->mem_used -= osize;
        }
        return NULL;
    }
    if (nsize > osize && lua->mem_used - osize + nsize > lua->mem_cap)
        return NULL;
    if (nsize > osize) // copying and clearing what is allocated is work too
        sw__lua_charge_alloc(lua, nsize - osize);
    void *p = port->ops->alloc(port->ctx, SW_POOL_LUA, ptr, osize, nsize);
    if (!p)
        return NULL;
    lua->mem_used = lua->mem_used - osize + nsize;
    if (lua->mem_used > lua->mem_peak)
        lua->mem_peak = lua->mem_used;
    return p;
}

static int l_panic(lua_State *L)
{
    // Only reachable through a bug (an API call outside lua_pcall); Lua aborts after this.
    sw_lua_t *lua = sw__lua_of(L);
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
    sw_log(lua->n, SW_LOG_ERROR, "lua: PANIC (unprotected error): %s", msg);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The instruction budget. The hook runs every SW_LUA_HOOK_STEP instructions in every thread
// (threads inherit it). Over budget, the task's own coroutine is yielded from inside the hook:
// the node never resumes it, and no pcall in the app can catch that. Where yielding is not
// possible (inside a nested coroutine or a C call), an error is raised instead; the hook fires
// again soon if the app catches it.

static void l_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sw_lua_t *lua = sw__lua_of(L);
    sw_lua_task_t *t = lua->cur;
    if (!t) { // code outside tasks (a metamethod while converting a result): a budget too
        lua->loose_instr += SW_LUA_HOOK_STEP;
        if (sw__lua_over_budget(lua))
            luaL_error(L, "instruction limit exceeded (%I instructions)", (lua_Integer)lua->instr_limit);
        return;
    }
    t->instr += SW_LUA_HOOK_STEP;
    if (!sw__lua_late(lua) && t->instr <= lua->instr_limit && !t->dead)
        return;
    t->overrun = !t->dead;
    if (L == t->co && lua_isyieldable(L)) {
        lua_yield(L, 0);
        return;
    }
    luaL_error(L, "instruction limit exceeded (%I instructions without yielding)",
               (lua_Integer)lua->instr_limit);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Protected entry from node code.

// Allocates nothing and runs no app code: callable on any thread, even unprotected.
void sw__lua_errstr(lua_State *L, int idx, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = 0;
    const char *s;
    char tmp[64];
    int type = lua_type(L, idx);
    if (type == LUA_TSTRING) {
        s = lua_tolstring(L, idx, &n);
    } else if (type == LUA_TNUMBER) {
        if (lua_isinteger(L, idx))
            snprintf(tmp, sizeof tmp, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
        else
            snprintf(tmp, sizeof tmp, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, idx));
        s = tmp;
        n = strlen(tmp);
    } else {
        snprintf(tmp, sizeof tmp, "error object is a %s value", lua_typename(L, type));
        s = tmp;
        n = strlen(tmp);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
}

int sw__lua_protect(sw_lua_t *lua, lua_CFunction f, void *ud)
{
    lua_State *L = lua->L;
    if (!L)
        return SW_EINVAL;
    if (!lua_checkstack(L, 4)) {
        snprintf(lua->err_text, sizeof lua->err_text, "not enough memory");
        return SW_EFULL;
    }
    if (!lua->cur) {
        lua->loose_instr = 0;
        lua->loose_start = sw_node_now(lua->n);
    }
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, ud);
    int st = lua_pcall(L, 1, 0, 0);
    if (st == LUA_OK)
        return 0;
    sw__lua_errstr(L, -1, lua->err_text, sizeof lua->err_text);
    lua_pop(L, 1);
    return st == LUA_ERRMEM ? SW_EFULL : SW_EIO;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Logging

void sw__lua_log_lines(sw_lua_t *lua, int level, const char *prefix, const char *text, int max_lines)
{
    const char *p = text;
    for (int i = 0; *p && i < max_lines; i++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        sw_log(lua->n, level, "%s: %.*s", prefix, (int)len, p);
        if (!e)
            return;
        p = e + 1;
    }
    if (*p)
        sw_log(lua->n, level, "%s: …", prefix);
}

static const char *log_prefix(const sw_lua_t *lua)
{
    return lua->app[0] ? lua->app : "lua";
}

// print / swarm.log: tostring of every argument, space-separated, one log line.
static int log_args(lua_State *L, int level)
{
    sw_lua_t *lua = sw__lua_of(L);
    int nargs = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= nargs; i++) {
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    sw_log(lua->n, level, "%s: %.*s", log_prefix(lua), (int)(n > 2000 ? 2000 : n), s);
    return 0;
}

static int l_print(lua_State *L) { return log_args(L, SW_LOG_INFO); }
int sw__lua_log_info(lua_State *L) { return log_args(L, SW_LOG_INFO); }
int sw__lua_log_warn(lua_State *L) { return log_args(L, SW_LOG_WARN); }
int sw__lua_log_error(lua_State *L) { return log_args(L, SW_LOG_ERROR); }

///////////////////////////////////////////////////////////////////////////////////////////////
// Source files through the port

typedef struct file_reader {
    sw_node_t *n;
    int fd;
    uint64_t off;
    int err;
    char buf[512];
} file_reader_t;

static const char *file_read(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    file_reader_t *r = ud;
    const sw_port_t *port = &r->n->port;
    int got = r->err ? 0 : port->ops->fs_read(port->ctx, r->fd, r->off, r->buf, sizeof r->buf);
    if (got < 0) {
        r->err = got;
        got = 0;
    }
    r->off += (uint64_t)got;
    *size = (size_t)got;
    return got ? r->buf : NULL;
}

int sw__lua_load_file(lua_State *L, const char *path, int env_idx)
{
    sw_lua_t *lua = sw__lua_of(L);
    const sw_port_t *port = &lua->n->port;
    env_idx = lua_absindex(L, env_idx);
    sw_stat_t st;
    memset(&st, 0, sizeof st);
    if (port->ops->fs_stat(port->ctx, path, &st) < 0 || st.type == SW_FT_NONE)
        return 0;
    if (st.type != SW_FT_FILE)
        return luaL_error(L, "%s: not a file", path);
    file_reader_t *r = lua_newuserdatauv(L, sizeof *r, 0); // freed by the GC, also on errors
    memset(r, 0, sizeof *r);
    r->n = lua->n;
    int err = port->ops->fs_open(port->ctx, path, SW_O_READ, &r->fd);
    if (err < 0)
        return luaL_error(L, "%s: %s", path, sw_strerror(err));
    const char *chunkname = lua_pushfstring(L, "@%s", path); // in the VM, not on the C stack
    int status = lua_load(L, file_read, r, chunkname, "t");
    port->ops->fs_close(port->ctx, r->fd);
    if (r->err)
        return luaL_error(L, "%s: %s", path, sw_strerror(r->err));
    if (status != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, env_idx);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    lua_remove(L, -2); // the chunk name
    lua_remove(L, -2); // the reader
    return 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// require(name): apps/{app}/{name with '.' → '/'}.lua, run once per app start in the app's
// environment; the value it returns (true if none) is cached.

static bool module_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 120 || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

static int require_done(lua_State *L)
{
    // stack: name, loaded, result
    if (lua_isnil(L, 3)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_rawset(L, 2);
    return 1;
}

static int require_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return require_done(L);
}

static int l_require(lua_State *L)
{
    sw_lua_t *lua = sw__lua_of(L);
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    if (lua->loaded_ref == LUA_NOREF || lua->env_ref == LUA_NOREF)
        return luaL_error(L, "require: no app is loaded");
    if (!module_name_ok(name, len))
        return luaL_error(L, "require: bad module name '%s' (letters, digits, _ - and dots)", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->loaded_ref); // 2
    lua_pushvalue(L, 1);
    lua_rawget(L, 2);
    if (lua_touserdata(L, -1) == &key_loading)
        return luaL_error(L, "require: module '%s' is being loaded (a require loop) or failed to load", name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    // the file's path, built in the VM (not on the C stack): the name's dots become slashes
    // (module_name_ok bounds it: at most 120 bytes, so the path fits SW_NAME_MAX)
    luaL_gsub(L, name, ".", "/");
    const char *path = lua_pushfstring(L, "apps/%s/%s.lua", lua->app, lua_tostring(L, -1));
    lua_replace(L, 3);                               // 3: the path
    lua_rawgeti(L, LUA_REGISTRYINDEX, lua->env_ref); // 4
    if (!sw__lua_load_file(L, path, 4))
        return luaL_error(L, "require: module '%s' not found (%s)", name, path);
    lua_remove(L, 4); // the env; stack: name, loaded, path, fn
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, (void *)&key_loading);
    lua_rawset(L, 2);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    lua_remove(L, 3);                 // stack: name, loaded, fn, name, path
    lua_callk(L, 2, 1, 0, require_k); // a module's top level may sleep
    return require_done(L);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Replacements of base functions that would reach outside the sandbox or crash the VM.

// Pushes the _ENV of the Lua function that called the running C function (the shared view
// if it has none).
static void push_caller_env(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "f", &ar)) {
        for (int i = 1;; i++) {
            const char *name = lua_getupvalue(L, -1, i);
            if (!name)
                break;
            if (!strcmp(name, "_ENV")) {
                lua_remove(L, -2);
                return;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_shared);
}

// load(chunk [, name [, mode [, env]]]): text chunks only (binary chunks can crash the VM by
// design): mode "b" refuses every chunk, "bt" and "t" load text. Without env, the chunk sees
// its caller's environment: the real globals are not reachable to write through.
static int l_load(lua_State *L)
{
    int top = lua_gettop(L);
    lua_settop(L, 4);
    const char *mode = luaL_optstring(L, 3, "bt");
    lua_pushstring(L, strchr(mode, 't') ? "t" : "");
    lua_replace(L, 3);
    if (top < 4) {
        push_caller_env(L);
        lua_replace(L, 4);
    }
    if (lua_type(L, 1) == LUA_TSTRING) // the parser's scan of the text
        sw__lua_charge(L, lua_rawlen(L, 1) / SW_LUA_BYTES_PER_STEP);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L);
}

// setmetatable(): no __gc. Finalizers run with hooks off, so an endless one would hang the
// node; refusing them at setmetatable is enough (Lua marks objects for finalization only there).
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc finalizers are not supported in swarm apps");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

// rawset(t, k, v): not on a read-only view (that would shadow the library's value).
static int l_rawset(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_ro);
    lua_pushvalue(L, 1);
    bool ro = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    if (ro)
        return luaL_error(L, "rawset: a shared library table is read-only");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

// debug.traceback([msg [, level]]) — the only debug function apps get.
static int l_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg && !lua_isnoneornil(L, 1)) {
        lua_pushvalue(L, 1);
        return 1;
    }
    luaL_traceback(L, L, msg, (int)luaL_optinteger(L, 2, 1));
    return 1;
}

// coroutine.resume / coroutine.close: not on the thread of a task. Only the node resumes
// tasks (from their timers); an app resuming one would run it outside its budget and wait.
static int l_co_guard(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTHREAD) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_tasks);
        lua_pushvalue(L, 1);
        bool task = lua_rawget(L, -2) != LUA_TNIL;
        lua_pop(L, 2);
        if (task)
            return luaL_error(L, "a swarm task's coroutine is resumed and closed only by the node");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void wrap_field(lua_State *L, const char *lib, const char *name, lua_CFunction f)
{
    lua_getglobal(L, lib);
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

static void wrap_global(lua_State *L, const char *name, lua_CFunction f)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, f, 1);
    lua_setglobal(L, name);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Read-only views: an empty table whose metatable reads through to the real one (__index),
// refuses writes (__newindex), iterates the real one (__pairs) and is locked (__metatable).

static int ro_newindex(lua_State *L)
{
    return luaL_error(L, "%s is read-only (shared by every app and eval; keep your own values in your "
                      "own tables)", lua_tostring(L, lua_upvalueindex(1)));
}

static int ro_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1)); // next
    lua_pushvalue(L, lua_upvalueindex(2)); // the real table
    lua_pushnil(L);
    return 3;
}

// Replaces the table on top of the stack with a read-only view of it.
static void make_ro(lua_State *L, const char *what)
{
    int real = lua_gettop(L);
    lua_newtable(L);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, what);
    lua_pushcclosure(L, ro_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_getglobal(L, "next");
    lua_pushvalue(L, real);
    lua_pushcclosure(L, ro_pairs, 2);
    lua_setfield(L, -2, "__pairs");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &key_ro);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_remove(L, real);
}

// Every library table in the globals becomes a read-only view, the string metatable too, and
// the globals themselves are seen through one (registry: sw__lua_key_shared) by apps and evals.
static void share_libs(lua_State *L)
{
    static const char *const libs[] = {LUA_COLIBNAME, LUA_TABLIBNAME, LUA_STRLIBNAME, LUA_MATHLIBNAME,
                                       LUA_UTF8LIBNAME, "debug", "swarm"};
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &key_ro);
    lua_getglobal(L, "swarm");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sw__lua_key_swarm);
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        char what[32];
        snprintf(what, sizeof what, "%s", libs[i]);
        lua_getglobal(L, libs[i]);
        make_ro(L, what);
        lua_setglobal(L, libs[i]);
    }
    // strings' methods: s:rep() reads the view; getmetatable("") gives a view of the metatable
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    make_ro(L, "the string metatable");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lua_pushglobaltable(L);
    make_ro(L, "_G");
    lua_pushvalue(L, -1);
    lua_setglobal(L, "_G");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sw__lua_key_shared);
}

static int open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},          {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table},    {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math},    {LUA_UTF8LIBNAME, luaopen_utf8},
        {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    // base functions that open files through stdio
    lua_pushnil(L);
    lua_setglobal(L, "dofile");
    lua_pushnil(L);
    lua_setglobal(L, "loadfile");
    lua_register(L, "print", l_print);
    lua_register(L, "require", l_require);
    wrap_global(L, "load", l_load);
    wrap_global(L, "setmetatable", l_setmetatable);
    wrap_global(L, "rawset", l_rawset);
    wrap_field(L, LUA_COLIBNAME, "resume", l_co_guard);
    wrap_field(L, LUA_COLIBNAME, "close", l_co_guard);
    lua_newtable(L); // the set of task threads, weak keys
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sw__lua_key_tasks);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_traceback);
    lua_setfield(L, -2, "traceback");
    lua_setglobal(L, "debug");
    sw__lua_open_swarm(L);
    sw__lua_open_bounds(L);
    share_libs(L);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Limits and the VM's life

void sw__lua_read_limits(sw_lua_t *lua)
{
    const sw_cfg_t *c = &lua->n->cfg;
    int64_t mem = sw_cfg_int(c, "limits.lua_mem", SW_LUA_MEM_DEFAULT);
    int64_t instr = sw_cfg_int(c, "limits.lua_instr", SW_LUA_INSTR_DEFAULT);
    int64_t ms = sw_cfg_int(c, "limits.lua_ms", SW_LUA_MS_DEFAULT);
    lua->time_limit = (uint32_t)(ms <= 0 ? 0 : ms < 100 ? 100 : ms > 3600000 ? 3600000 : ms);
    if (mem < (int64_t)SW_NODE_MIN_LUA_MEM)
        mem = SW_NODE_MIN_LUA_MEM;
    if ((uint64_t)mem > SIZE_MAX / 2)
        mem = (int64_t)(SIZE_MAX / 2);
    if (instr < 10 * SW_LUA_HOOK_STEP)
        instr = 10 * SW_LUA_HOOK_STEP;
    // never below what is in use: the cap applies to growth
    lua->mem_cap = (size_t)mem > lua->mem_used ? (size_t)mem : lua->mem_used;
    lua->instr_limit = (uint64_t)instr;
    int64_t bmax = sw_cfg_int(c, "app.restart_max_ms", SW_LUA_BACKOFF_DEFAULT);
    lua->backoff_max = (uint32_t)(bmax < 1000 ? 1000 : bmax > 3600000 ? 3600000 : bmax);
}

int sw_lua_init(sw_node_t *n)
{
    if (n->lua)
        return 0;
    sw_lua_t *lua = sw_node_alloc(n, sizeof *lua);
    if (!lua)
        return SW_EFULL;
    lua->n = n;
    lua->env_ref = lua->loaded_ref = LUA_NOREF;
    lua->app_dir = -1;
    sw__lua_read_limits(lua);
    lua->scratch_cap = n->lim.max_msg ? n->lim.max_msg : 16384;
    lua->scratch = sw_node_alloc_buf(n, lua->scratch_cap);
    if (!lua->scratch) {
        sw_node_release(n, lua, sizeof *lua);
        return SW_EFULL;
    }
    n->lua = lua;
    lua->L = lua_newstate(l_alloc, lua);
    if (!lua->L) {
        sw_lua_close(n);
        return SW_EFULL;
    }
    *(sw_lua_t **)lua_getextraspace(lua->L) = lua;
    lua_atpanic(lua->L, l_panic);
    int err = sw__proxy_init(n);
    if (!err)
        err = sw__lua_protect(lua, open_libs, lua);
    if (err) {
        sw_log(n, SW_LOG_ERROR, "lua: cannot open the VM: %s", err == SW_EFULL ? "no memory" : lua->err_text);
        sw_lua_close(n);
        return err;
    }
    lua_sethook(lua->L, l_hook, LUA_MASKCOUNT, SW_LUA_HOOK_STEP);
    sw__lua_app_timers(lua);
    return 0; // the kernel adds sys.eval and sys.load (sw_part_lua.cmds)
}

void sw_lua_close(sw_node_t *n)
{
    sw_lua_t *lua = n->lua;
    if (!lua)
        return;
    sw_lua_stop_app(n);
    sw__lua_tasks_close(lua);
    if (lua->L)
        lua_close(lua->L);
    lua->L = NULL;
    sw__proxy_close(n);
    if (lua->mem_used)
        sw_log(n, SW_LOG_WARN, "lua: %zu bytes still allocated after close", lua->mem_used);
    n->lua = NULL;
    sw_node_release(n, lua->scratch, lua->scratch_cap);
    sw_node_release(n, lua, sizeof *lua);
}

const sw_part_t sw_part_lua = {
    .name = "lua",
    .init = sw_lua_init,
    .stop = sw_lua_close,
    .app_start = sw_lua_start_app,
    .app_stop = sw_lua_stop_app,
    .session_reset = sw_lua_session_gone,
    .request_cancelled = sw_lua_request_cancelled,
    .cmds = &sw__lua_sys_group,
    .ncmds = 1,
};

#endif // SW_WITH_LUA
