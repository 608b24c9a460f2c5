// Host-side Lua syntax check of a folder before a push (src/host/lua_check.c).
#ifndef SW_HOST_LUA_CHECK_H
#define SW_HOST_LUA_CHECK_H

// Called once per file that does not compile, with Lua's message ("apps/x/main.lua:3: …").
typedef void (*sw_lua_check_fn)(void *u, const char *msg);

// Compiles (does not run) every *.lua file under dir, shown in messages as shown/…, on up to
// one thread per CPU (8 at most); fn is called on the caller's thread, in the walk's order, once
// all are compiled. Returns the number of files that failed, or -1 when out of memory.
int sw_lua_check_dir(const char *dir, const char *shown, sw_lua_check_fn fn, void *u);

#endif
