// Build profiles of the node: which parts are compiled in (SW_WITH_*) and the sizes of its
// compile-time buffers. Pick a profile with -DSW_PROFILE=SW_PROFILE_<name>; every SW_WITH_* and
// every size below can still be overridden on its own with -D. All switches are 0/1 values,
// tested with #if (never #ifdef), so a misspelt one is an error under -Wundef.
//
//   posix       everything: today's swarm-node on Linux (the default)
//   mcu-full    Lua apps, files, push, RPC over TCP and serial, beacon, mDNS; FTP, telnet and
//               remote eval off (switch them on with -DSW_WITH_FTP=1 …)
//   mcu-serial  kernel + serial + RPC + config + watchdog: no Lua, files or network
#ifndef SW_NODE_PROFILE_H
#define SW_NODE_PROFILE_H

#define SW_PROFILE_POSIX 1
#define SW_PROFILE_MCU_FULL 2
#define SW_PROFILE_MCU_SERIAL 3

#ifndef SW_PROFILE
#define SW_PROFILE SW_PROFILE_POSIX
#endif

#define SW__MCU (SW_PROFILE != SW_PROFILE_POSIX)
#define SW__FULL (SW_PROFILE != SW_PROFILE_MCU_SERIAL)

// --- parts (src/node/parts.c lists them)
#ifndef SW_WITH_FS
#define SW_WITH_FS SW__FULL // the "f" app: files under the root
#endif
#ifndef SW_WITH_PUSH
#define SW_WITH_PUSH SW__FULL // push: staged, atomic app/board updates
#endif
#ifndef SW_WITH_LUA
#define SW_WITH_LUA SW__FULL // Lua apps, sys.eval, proxies
#endif
#ifndef SW_WITH_NET
#define SW_WITH_NET SW__FULL // RPC over TCP, beacon + discovery answers, mDNS
#endif
#ifndef SW_WITH_FTP
#define SW_WITH_FTP (!SW__MCU) // FTP server
#endif
#ifndef SW_WITH_TELNET
#define SW_WITH_TELNET (!SW__MCU) // telnet console (a Lua REPL)
#endif
#ifndef SW_WITH_EVAL
#define SW_WITH_EVAL (!SW__MCU) // micro-swarm's remote eval (UDP/TCP)
#endif
#ifndef SW_WITH_MQTT
#define SW_WITH_MQTT (!SW__MCU) // the MQTT fleet bus: state, RPC and log through a broker (mqtt.c)
#endif
#ifndef SW_WITH_BOARD_POSIX_SIM
#define SW_WITH_BOARD_POSIX_SIM (!SW__MCU) // boards/posix-sim: the simulated sensor board
#endif

#ifndef SW_WITH_ZIN
#define SW_WITH_ZIN (!SW__MCU) // compressed writes ("Wz" opens, zin.c) where the port inflates;
                               // off on the MCUs: mcu-full has no flash left for inflate
#endif

// Parts that need others.
#ifndef SW_WITH_AUTH
#define SW_WITH_AUTH SW_WITH_NET // the locked mode: Noise on TCP RPC links (auth.c, src/auth)
#endif
#if SW_WITH_AUTH && !SW_WITH_NET
#error "SW_WITH_AUTH needs SW_WITH_NET"
#endif
#if SW_WITH_PUSH && !SW_WITH_FS
#error "SW_WITH_PUSH needs SW_WITH_FS"
#endif
#if SW_WITH_ZIN && !SW_WITH_FS
#error "SW_WITH_ZIN needs SW_WITH_FS"
#endif
#if SW_WITH_NET && !SW_WITH_FS
#error "SW_WITH_NET needs SW_WITH_FS (the beacon announces the app's hash)"
#endif
#if SW_WITH_MQTT && !SW_WITH_NET
#error "SW_WITH_MQTT needs SW_WITH_NET"
#endif
#if SW_WITH_FTP && !(SW_WITH_NET && SW_WITH_FS)
#error "SW_WITH_FTP needs SW_WITH_NET and SW_WITH_FS"
#endif
#if (SW_WITH_TELNET || SW_WITH_EVAL) && !(SW_WITH_NET && SW_WITH_LUA)
#error "SW_WITH_TELNET and SW_WITH_EVAL need SW_WITH_NET and SW_WITH_LUA"
#endif

// --- sizes: the MCU profiles default to a part with tens of KB of RAM. Units in each comment.
#if SW__MCU
#define SW__SZ(posix, mcu) (mcu)
#else
#define SW__SZ(posix, mcu) (posix)
#endif
#ifndef SW_NODE_TREE_MAX
#define SW_NODE_TREE_MAX SW__SZ(512, SW__FULL ? 96 : 32) // command tree entries (dirs + commands)
#endif
#ifndef SW_NODE_CFG_CAP
#define SW_NODE_CFG_CAP SW__SZ(32u * 1024u, SW__FULL ? 2048u : 1024u) // bytes of the config tree (×2: tree + scratch)
#endif
#ifndef SW_NODE_LOCAL_PENDING
#define SW_NODE_LOCAL_PENDING SW__SZ(32, 4) // local calls in flight
#endif
#ifndef SW_NODE_LOCAL_STREAMS
#define SW_NODE_LOCAL_STREAMS SW__SZ(8, 1) // local streams
#endif
#ifndef SW_NODE_LOG_RING
#define SW_NODE_LOG_RING SW__SZ(16384, SW__FULL ? 512 : 256) // bytes of recent log lines (consoles read them)
#endif
#ifndef SW_NODE_LOG_LINE
#define SW_NODE_LOG_LINE SW__SZ(512, 160) // bytes of the longest log line (on the stack while logging)
#endif
// Defaults of run-time limits (config "limits.*", "serial.*"); the config can change them.
#ifndef SW_NODE_DEF_MSG
#define SW_NODE_DEF_MSG SW__SZ(16384, 512) // limits.msg: bytes of the largest message
#endif
// Local calls (a Lua app's swarm.call): a reply is built in one buffer of SW_NODE_LOCAL_MSG
// bytes, then waits in the queue with the requests. With Lua, a local call gets what a link
// would (limits.msg's default): sys.info's reply on the firmware did not fit in 256 B.
#ifndef SW_NODE_LOCAL_MSG
#define SW_NODE_LOCAL_MSG SW__SZ(16u * 1024u, SW__FULL ? SW_NODE_DEF_MSG : 256u) // bytes of the largest local-call message
#endif
#ifndef SW_NODE_LOCAL_QUEUE
// bytes of local-call messages waiting: the largest reply and a few requests (mcu-serial: no
// Lua or telnet makes them)
#define SW_NODE_LOCAL_QUEUE SW__SZ(64u * 1024u, SW__FULL ? SW_NODE_LOCAL_MSG + 256u : 256u)
#endif
#ifndef SW_NODE_DEF_CLIENTS
#define SW_NODE_DEF_CLIENTS SW__SZ(8, 1) // limits.clients: TCP RPC clients at once
#endif
#ifndef SW_NODE_DEF_STREAMS
#define SW_NODE_DEF_STREAMS SW__SZ(16, 2) // limits.streams: streams per link
#endif
#ifndef SW_NODE_DEF_PENDING
#define SW_NODE_DEF_PENDING SW__SZ(16, 2) // limits.pending: outgoing requests per link
#endif
#ifndef SW_NODE_DEF_FILES
#define SW_NODE_DEF_FILES SW__SZ(16, 4) // limits.files: open files of the f app
#endif
#ifndef SW_NODE_DEF_PROXIES
#define SW_NODE_DEF_PROXIES SW__SZ(64, 16) // limits.proxies: live proxies
#endif
#ifndef SW_NODE_DEF_LUA_MEM
#define SW_NODE_DEF_LUA_MEM SW__SZ(8u << 20, 48u << 10) // limits.lua_mem: bytes of the Lua heap
#endif
#ifndef SW_NODE_MIN_LUA_MEM
#define SW_NODE_MIN_LUA_MEM (16u << 10) // smallest limits.lua_mem accepted, bytes
#endif
#ifndef SW_NODE_DEF_SERIAL_MSG
#define SW_NODE_DEF_SERIAL_MSG SW__SZ(1024, 256) // serial.max_msg: bytes of a Reliable payload on lossy lines
#endif
#ifndef SW_NODE_DEF_SERIAL_WINDOW
#define SW_NODE_DEF_SERIAL_WINDOW SW__SZ(16, 4) // serial.window: frames in flight
#endif
#ifndef SW_NODE_DEF_SERIAL_GAP
#define SW_NODE_DEF_SERIAL_GAP 100 // serial.gap_ms: idle ms inside a lossless message that reset the decoder
#endif
#ifndef SW_NODE_DEF_RPC_IDLE
#define SW_NODE_DEF_RPC_IDLE 10000 // rpc.idle_ms: a TCP client without a request by then is closed
#endif
#ifndef SW_NODE_DEF_WDT_LOOP
#define SW_NODE_DEF_WDT_LOOP 30 // wdt.loop: seconds the event loop may stay away (port watchdog)
#endif
#ifndef SW_NODE_LINK_INQ
// bytes of input a link keeps while it waits for the port to drain; 0: grown as needed (realloc)
#define SW_NODE_LINK_INQ SW__SZ(0, 256)
#endif
#ifndef SW_NODE_LINK_PIECE
#define SW_NODE_LINK_PIECE SW__SZ(512, 128) // bytes of input handled between two room checks
#endif
#ifndef SW_NODE_FILE_CHUNK
#define SW_NODE_FILE_CHUNK SW__SZ(4096, 512) // bytes read at a time when hashing a file (heap)
#endif
#ifndef SW_NODE_PATH_MAX
#define SW_NODE_PATH_MAX SW__SZ(512, 128) // bytes of the longest path below the root, NUL included (f, push)
#endif
// --- sizes of the Lua part and push
#ifndef SW_LUA_MATCH_DEPTH
// nested calls of the pattern matcher (string.find/match/gmatch/gsub) before "pattern too
// complex": C recursion, 32 bytes of stack each on Cortex-M3
#define SW_LUA_MATCH_DEPTH SW__SZ(200, 64)
#endif
#ifndef SW_LUA_MATCH_CAPTURES
#define SW_LUA_MATCH_CAPTURES 32 // captures of one pattern (Lua's LUA_MAXCAPTURES; 16 bytes each, on the stack)
#endif
#ifndef SW_LUA_REPR_MAX
#define SW_LUA_REPR_MAX 400 // bytes of sys.eval's repr text (on the stack while it is built)
#endif
#ifndef SW_PUSH_CACHE_SLOTS
#define SW_PUSH_CACHE_SLOTS 2 // target manifests push keeps between calls (the app, its board)
#endif

// --- sizes of the LAN parts (beacon.c, mdns.c, eval.c). Counts of fixed arrays in each part's
// state (allocated once when the service starts), never grown.
#ifndef SW_BEACON_DESTS
#define SW_BEACON_DESTS 8 // entries of boot.BEACON_DESTINATION_IPS used (16 bytes each)
#endif
#ifndef SW_BEACON_IFS
#define SW_BEACON_IFS SW__SZ(8, 2) // interfaces listed in the beacon's "ifconfigs" (on the stack while writing it)
#endif
#ifndef SW_BEACON_PENDING
#define SW_BEACON_PENDING 8 // discovery answers waiting, and recent queries remembered (48 bytes each)
#endif
#ifndef SW_MDNS_ADDRS
#define SW_MDNS_ADDRS 4 // IPv4 addresses advertised, one per interface (at most 8)
#endif
#ifndef SW_MDNS_PKT
#define SW_MDNS_PKT 1440 // bytes of the largest mDNS packet sent (one Ethernet frame with headers)
#endif
#ifndef SW_MDNS_TXT
#define SW_MDNS_TXT 200 // bytes of the _swarm._tcp TXT record
#endif
#ifndef SW_MDNS_CMP
#define SW_MDNS_CMP 8 // records per name compared in a probe tie-break (2 x 263 bytes each)
#endif
#ifndef SW_MDNS_MAX_Q
#define SW_MDNS_MAX_Q 32 // questions looked at per packet (work bound, no memory)
#endif
#ifndef SW_MDNS_MAX_RR
#define SW_MDNS_MAX_RR 128 // records looked at per packet (work bound, no memory)
#endif
#ifndef SW_MDNS_RECENT
#define SW_MDNS_RECENT 8 // fingerprints of packets sent, to drop their echoes (4 bytes each)
#endif
#ifndef SW_EVAL_DEF_MAX
// eval.max: bytes of one remote-eval request (it runs as a local call to sys.eval, so more than
// SW_NODE_LOCAL_MSG never runs anyway)
#define SW_EVAL_DEF_MAX SW__SZ(64u * 1024u, SW_NODE_LOCAL_MSG - 16u)
#endif
#ifndef SW_EVAL_DEF_CLIENTS
#define SW_EVAL_DEF_CLIENTS SW__SZ(4, 1) // eval.clients: remote-eval connections at once
#endif
#ifndef SW_EVAL_FIRST_BUF
// bytes a remote-eval request buffer starts with; it doubles up to eval.max as data arrives.
// 0: the whole eval.max at once, never grown (the MCU profiles: no realloc-style growth in a
// small pool)
#define SW_EVAL_FIRST_BUF SW__SZ(1024u, 0u)
#endif
#ifndef SW_EVAL_DEF_IDLE
#define SW_EVAL_DEF_IDLE 10000 // eval.idle_ms: a remote-eval client silent this long is dropped
#endif

#ifndef SW_NODE_DEF_RPC_PORT
#define SW_NODE_DEF_RPC_PORT 27587 // rpc.port
#endif
#ifndef SW_NODE_DEF_BAUD
#define SW_NODE_DEF_BAUD 115200 // serial.baud, bits/s
#endif
#ifndef SW_NODE_DEF_WDT_S
#define SW_NODE_DEF_WDT_S 10 // wdt.t: watchdog timeout, s
#endif

#endif
