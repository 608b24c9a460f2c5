// The node without its optional parts, for the size build's "core + serial + RPC" firmware
// (scripts/size, image b): the entry points src/node/node.c, link.c, sys.c and board.c call in
// lua_*.c, proxy.c, fs_app.c, push*.c and boards/posix-sim, stubbed as a board without a Lua VM, a file
// system or the simulated sensor would. The node then serves ping, sys.* and _dir only.
#include "node_int.h"

static int sim_init(sw_node_t *n)
{
    (void)n;
    return 0;
}

static void sim_stop(sw_node_t *n) { (void)n; }

// board.c lists the simulated board unconditionally; without it the name still resolves
extern const sw_board_t sw__board_posix_sim;
const sw_board_t sw__board_posix_sim = {
    .name = "posix-sim",
    .doc = "simulated board (not in this firmware)",
    .init = sim_init,
    .stop = sim_stop,
};

int sw_fs_app_init(sw_node_t *n)
{
    (void)n;
    return 0;
}

void sw_fs_app_stop(sw_node_t *n) { (void)n; }

void sw_fs_app_link_closed(sw_node_t *n, const sw_rpc_t *rpc) { (void)n, (void)rpc; }

// No push either: it stages and swaps files, and this firmware has none.
int sw_push_init(sw_node_t *n)
{
    (void)n;
    return 0;
}

void sw_push_stop(sw_node_t *n) { (void)n; }

int sw_lua_init(sw_node_t *n)
{
    (void)n;
    return 0;
}

int sw_lua_start_app(sw_node_t *n, const char *app)
{
    sw_log(n, SW_LOG_WARN, "app %s: no Lua in this firmware", app);
    return SW_ENOTSUP;
}

void sw_lua_stop_app(sw_node_t *n) { (void)n; }

void sw_lua_close(sw_node_t *n) { (void)n; }

void sw_lua_session_gone(sw_node_t *n, const sw_rpc_t *rpc)
{
    (void)n;
    (void)rpc;
}

void sw_lua_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq)
{
    (void)n;
    (void)rpc;
    (void)seq;
}

int sw_proxy_drop(sw_node_t *n, const char *name, size_t len)
{
    (void)n, (void)name, (void)len;
    return SW_ENOENT;
}

// No LAN services (beacon, mDNS, FTP, eval, telnet) in this firmware: a serial link only.
int sw_services_start(sw_node_t *n)
{
    (void)n;
    return 0;
}

void sw_services_stop(sw_node_t *n) { (void)n; }

const char *sw_mdns_name(const sw_node_t *n)
{
    (void)n;
    return NULL;
}
