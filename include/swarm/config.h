// swarm: compile-time bounds and switches of the portable core.
//
// Every entry is `#ifndef SW_X / #define SW_X default`, so a board overrides it with -DSW_X=… or
// with a file named by -DSW_CONFIG_FILE="my_config.h" (included first). Switches are 0/1 and are
// tested with #if, so -Wundef catches typos. Entries marked [layout] change struct sizes: build
// every object of one program with the same values.
#ifndef SWARM_CONFIG_H
#define SWARM_CONFIG_H

#ifdef SW_CONFIG_FILE
#include SW_CONFIG_FILE
#endif

// Deepest MsgPack nesting a reader accepts (arrays/maps inside each other). [layout]
#ifndef SW_MP_MAX_DEPTH
#define SW_MP_MAX_DEPTH 32
#endif

// Most path elements in a message action (["sys","cfg"] has 2). [layout]
#ifndef SW_MSG_MAX_PATH
#define SW_MSG_MAX_PATH 8
#endif

// Largest Reliable window (slots of the send and receive rings). [layout]
#ifndef SW_REL_MAX_WINDOW
#define SW_REL_MAX_WINDOW 16
#endif

// Bytes of a stream request's arguments kept for the stream's later steps. [layout]
#ifndef SW_RPC_STREAM_ARGS
#define SW_RPC_STREAM_ARGS 256
#endif

// Bytes of the last action an RPC session keeps to skip resolving it again (a longer action
// is resolved every time). [layout]
#ifndef SW_RPC_ACTION_CACHE
#define SW_RPC_ACTION_CACHE 24
#endif

// Largest notification a session sends (sw_rpc_notify; built on the stack). [stack]
#ifndef SW_RPC_NOTIFY_MAX
#define SW_RPC_NOTIFY_MAX 256
#endif

// Deepest config path (["a","b",…]) accepted. [layout]
#ifndef SW_CFG_MAX_PATH
#define SW_CFG_MAX_PATH 8
#endif

#if SW_MP_MAX_DEPTH < 2 || SW_MP_MAX_DEPTH > 255
#error "SW_MP_MAX_DEPTH must be within 2..255"
#endif
#if SW_REL_MAX_WINDOW < 4 || SW_REL_MAX_WINDOW > 64
#error "SW_REL_MAX_WINDOW must be within 4..64"
#endif

#endif
