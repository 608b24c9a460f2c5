// sizeof of the state structs on the target, for the size report (scripts/size reads them back
// with nm -S; this object is compiled for Cortex-M3 but never linked or run). Each SZ(type)
// makes an array named sz_<type> that is exactly sizeof(type) bytes long.
#include "fs_int.h"
#include "lua_int.h"
#include "swarm/flashfs.h"
#include "swarm/mp.h"

#define SZ(t) char sz_##t[sizeof(t)];

// core: what a caller embeds
SZ(sw_mpw_t) SZ(sw_mpr_t) SZ(sw_mps_t) SZ(sw_call_t) SZ(sw_tnode_t) SZ(sw_cfg_t) SZ(sw_wdt_t)
SZ(sw_sp_rx_t) SZ(sw_stream_rx_t) SZ(sw_rel_t) SZ(sw_rpc_t) SZ(sw_rpc_stream_t)
SZ(sw_rpc_pending_t)
// node: allocated at run time through the port's alloc()
SZ(sw_node_t) SZ(sw_link_t) SZ(sw_timer_t) SZ(sw_fs_app_t) SZ(sw_fs_file_t) SZ(sw_lua_t)
SZ(sw_lua_task_t) SZ(sw_lua_cmd_t)
// flashfs: the caller's, usually static (default SW_FFS_* limits)
SZ(sw_ffs_t) SZ(sw_ffs_file_t)
