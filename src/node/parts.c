// The parts compiled into this node, in boot order (like Lua's linit.c): profile.h's SW_WITH_*
// switches choose them. sys first (every other part registers under its tree), the f app and
// push before Lua (push recovery completes an interrupted push before any app starts), the LAN
// services last (they announce what the others set up).
#include "node_int.h"

#include "sys_part.h"
#if SW_WITH_FS
#include "fs_part.h"
#endif
#if SW_WITH_PUSH
#include "push_part.h"
#endif
#if SW_WITH_LUA
#include "lua_part.h"
#endif
#if SW_WITH_NET
#include "net_part.h"
#endif

const sw_part_t *const sw_parts[] = {
    &sw_part_sys,
#if SW_WITH_FS
    &sw_part_fs,
#endif
#if SW_WITH_PUSH
    &sw_part_push,
#endif
#if SW_WITH_LUA
    &sw_part_lua,
#endif
#if SW_WITH_FTP
    &sw_part_ftp,
#endif
#if SW_WITH_NET
    &sw_part_beacon,
    &sw_part_mdns,
#endif
#if SW_WITH_EVAL
    &sw_part_eval,
#endif
#if SW_WITH_TELNET
    &sw_part_telnet,
#endif
#if SW_WITH_MQTT
    &sw_part_mqtt,
#endif
    NULL,
};
