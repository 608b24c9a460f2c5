// The Lua part (lua_*.c, proxy.c): the VM, the swarm API, the app runtime, sys.eval/sys.load, proxies (SW_WITH_LUA).
#ifndef SW_LUA_PART_H
#define SW_LUA_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_lua;

int sw_lua_init(sw_node_t *n);                       // creates the VM (the kernel adds sys.eval, sys.load)
int sw_lua_start_app(sw_node_t *n, const char *app); // loads apps/{app}/main.lua, runs init_* then routine_*
void sw_lua_stop_app(sw_node_t *n);                  // cancels the app's tasks, unregisters its commands
void sw_lua_close(sw_node_t *n);                     // at node stop
// Drops a proxy by name (sys.unproxy, in the sys part): 0, SW_ENOENT, SW_EPERM (well-known names).
int sw_proxy_drop(sw_node_t *n, const char *name, size_t len);
// A session is going away (its link closed, went down or was reset): the tasks started for its
// requests (evals, app command calls) are cancelled and the proxies it received are released.
void sw_lua_session_gone(sw_node_t *n, const sw_rpc_t *rpc);
// The peer cancelled request seq ({"i": seq} alone): a task still working on it is cancelled.
void sw_lua_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq);

#endif
