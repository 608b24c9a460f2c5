// Internal API of the device runtime, shared by the modules of src/node (node core, sys
// commands, file app, Lua apps, boards). Portable: reaches the platform only through n->port.
#ifndef SW_NODE_INT_H
#define SW_NODE_INT_H

#include <stdarg.h>

#include "swarm/cfg.h"
#include "swarm/cmd.h"
#include "swarm/node.h"
#include "swarm/rel.h"
#include "swarm/rpc.h"
#include "swarm/sp.h"
#include "swarm/stream.h"
#include "swarm/wdt.h"

// Bounds of the runtime. Compile-time ones size buffers and tables (override with -D for a
// small MCU; tests/size builds such a profile); the defaults of the run-time ones are config
// keys under "limits" (sw_node_limits_t).
#ifndef SW_NODE_TREE_MAX
#define SW_NODE_TREE_MAX 512 // command tree entries (directories + commands)
#endif
#ifndef SW_NODE_CFG_CAP
#define SW_NODE_CFG_CAP (32u * 1024u) // bytes of the config tree (allocated twice: tree + scratch)
#endif
#ifndef SW_NODE_LOCAL_QUEUE
#define SW_NODE_LOCAL_QUEUE (64u * 1024u) // local-call messages waiting to be processed
#endif
#ifndef SW_NODE_LOCAL_MSG
#define SW_NODE_LOCAL_MSG (16u * 1024u) // largest local-call message
#endif
#ifndef SW_NODE_LOCAL_PENDING
#define SW_NODE_LOCAL_PENDING 32 // local calls in flight
#endif
#ifndef SW_NODE_LOCAL_STREAMS
#define SW_NODE_LOCAL_STREAMS 8 // local streams
#endif
// Defaults of run-time limits (config "limits.*", "serial.*").
#ifndef SW_NODE_DEF_MSG
#define SW_NODE_DEF_MSG 16384 // limits.msg
#endif
#ifndef SW_NODE_DEF_CLIENTS
#define SW_NODE_DEF_CLIENTS 8 // limits.clients
#endif
#ifndef SW_NODE_DEF_RPC_IDLE
#define SW_NODE_DEF_RPC_IDLE 10000 // rpc.idle_ms: a TCP client without a request by then is closed
#endif
#ifndef SW_NODE_DEF_STREAMS
#define SW_NODE_DEF_STREAMS 16 // limits.streams
#endif
#ifndef SW_NODE_DEF_PENDING
#define SW_NODE_DEF_PENDING 16 // limits.pending
#endif
#ifndef SW_NODE_DEF_SERIAL_MSG
#define SW_NODE_DEF_SERIAL_MSG 1024 // serial.max_msg: Reliable payload on lossy lines
#endif
#ifndef SW_NODE_DEF_WDT_LOOP
#define SW_NODE_DEF_WDT_LOOP 30 // wdt.loop: seconds the event loop may stay away (port watchdog)
#endif
#ifndef SW_NODE_DEF_SERIAL_GAP
#define SW_NODE_DEF_SERIAL_GAP 100 // serial.gap_ms: idle ms inside a lossless message that reset the decoder
#endif
#ifndef SW_NODE_DEF_SERIAL_WINDOW
#define SW_NODE_DEF_SERIAL_WINDOW 8 // serial.window
#endif

#define SW_CFG_FILE "swarm.cfg"     // the persisted config tree (MsgPack map) in the root
#define SW_CFG_GOOD "swarm.cfg.good" // the last swarm.cfg a boot could read (a byte copy)
enum { SW_CFG_DISK_NONE, SW_CFG_DISK_GOOD /* copy to .good */, SW_CFG_DISK_BAD /* → .bad */ };
#define SW_STATE_FILE "swarm.state" // sys.state's file

///////////////////////////////////////////////////////////////////////////////////////////////
// Timers: intrusive, owned by the module that starts them. One-shot; restart to repeat.

typedef struct sw_timer sw_timer_t;
typedef void (*sw_timer_fn)(sw_node_t *n, sw_timer_t *t);
struct sw_timer {
    sw_timer_t *next; // internal: the node's due-ordered list
    uint32_t due;     // internal
    bool armed;       // internal (read-only for users)
    sw_timer_fn fn;   // set by the user before starting
    void *user;       // free for the user
};

// (Re)starts t to fire after delay_ms. fn and user must be set.
void sw_timer_start(sw_node_t *n, sw_timer_t *t, uint32_t delay_ms);
void sw_timer_stop(sw_node_t *n, sw_timer_t *t);
uint32_t sw_node_now(const sw_node_t *n);

///////////////////////////////////////////////////////////////////////////////////////////////
// Logging: to the port's log and to the node's log ring (read by consoles).

void sw_log(sw_node_t *n, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void sw_logv(sw_node_t *n, int level, const char *fmt, va_list ap);
// Log ring: the last SW_NODE_LOG_RING bytes of log lines, each ending in '\n'. seq counts
// bytes ever written, so a reader that remembers it can ask for what is new.
#ifndef SW_NODE_LOG_RING
#define SW_NODE_LOG_RING 16384
#endif
#ifndef SW_NODE_LOG_LINE
#define SW_NODE_LOG_LINE 512 // longest log line (longer ones are cut); on the stack while logging
#endif
// Copies log bytes from absolute position *pos (clamped to what the ring still holds) into
// buf; advances *pos; returns bytes copied.
size_t sw_log_read(const sw_node_t *n, uint64_t *pos, char *buf, size_t cap);
uint64_t sw_log_end(const sw_node_t *n);

///////////////////////////////////////////////////////////////////////////////////////////////
// Memory from the port (bounded there). sw_node_alloc returns zeroed memory or NULL;
// sw_node_alloc_buf does not zero it — for buffers that are always written before they are
// read (zeroing would make every page resident at once, a large part of the node's RSS).

void *sw_node_alloc(sw_node_t *n, size_t size);
void *sw_node_alloc_buf(sw_node_t *n, size_t size);
void sw_node_release(sw_node_t *n, void *p, size_t size);

///////////////////////////////////////////////////////////////////////////////////////////////
// Run-time bounds, read from the config at boot ("limits.*").

typedef struct sw_node_limits {
    uint32_t max_msg;     // largest message in or out, bytes (limits.msg, default 16384)
    uint16_t max_clients; // TCP RPC clients at once (limits.clients, default 8)
    uint16_t max_streams; // streams per link (limits.streams, default 16)
    uint16_t max_files;   // open files of the f app (limits.files, default 16)
    uint16_t max_proxies; // live proxies (limits.proxies, default 64)
    uint16_t max_pending; // outgoing requests per link (limits.pending, default 16)
} sw_node_limits_t;

///////////////////////////////////////////////////////////////////////////////////////////////
// Connections and services. What the port hands the node — a connection's bytes, a listener's
// new connection, a datagram — goes to the object its `user` points to:
//   conn->user      an object whose FIRST member is `const sw_conn_ops_t *` (an RPC link, an
//                   FTP session, a telnet session, …)
//   listener->user, udp->user   the sw_service_t that opened it.

typedef struct sw_conn_ops {
    void (*data)(void *self, const uint8_t *p, size_t n);
    void (*drained)(void *self);
    void (*closed)(void *self, int err); // last call: self may be freed
} sw_conn_ops_t;

typedef struct sw_service sw_service_t;
struct sw_service {
    const char *name; // for logs: "rpc", "ftp", "beacon", …
    // TCP: a connection arrived. Set c->user (see above) or close it.
    void (*accept)(sw_node_t *n, sw_service_t *s, sw_listener_t *l, sw_conn_t *c);
    // UDP: a datagram arrived on one of the service's endpoints.
    void (*datagram)(sw_node_t *n, sw_service_t *s, sw_udp_t *u, const char *ip, uint16_t port,
                     const uint8_t *p, size_t len);
    // Stops the service: close listeners, endpoints and sessions (node stop, config apply).
    void (*stop)(sw_node_t *n, sw_service_t *s);
    void *state;         // the service's own
    sw_service_t *next;  // internal: the node's list of running services
    bool running;        // internal
};

// Registers a running service (so the node stops it at stop/reset). Idempotent.
void sw_node_service_add(sw_node_t *n, sw_service_t *s);
void sw_node_service_remove(sw_node_t *n, sw_service_t *s);
// Listens on the node's listen address (--listen) for service s. 0 or the port's error
// (logged with the service's name).
int sw_node_listen(sw_node_t *n, sw_service_t *s, uint16_t port, sw_listener_t **out);
// Opens a UDP endpoint for service s (addr NULL = any).
int sw_node_udp_open(sw_node_t *n, sw_service_t *s, const char *addr, uint16_t port, int flags,
                     sw_udp_t **out);

// The LAN services (micro-swarm's: beacon + discovery answers, mDNS, FTP, remote eval,
// telnet), each started when its config switch is on; src/node/services.c lists them.
int sw_services_start(sw_node_t *n);
void sw_services_stop(sw_node_t *n);
int sw_ftp_start(sw_node_t *n); // src/node/ftp.c: boot.FTPD_ENABLE, boot.FTPD_PORT, ftp.*
int sw_beacon_start(sw_node_t *n); // src/node/beacon.c: beacon + scan answers (boot.BEACON_*)
int sw_mdns_start(sw_node_t *n);
const char *sw_mdns_name(const sw_node_t *n); // src/node/mdns.c: "host.local", NULL when off
int sw_eval_start(sw_node_t *n); // src/node/eval.c: boot.REMOTE_EVAL_*, eval.*
int sw_telnet_start(sw_node_t *n); // src/node/telnet.c: boot.TELNET_*, telnet.*

///////////////////////////////////////////////////////////////////////////////////////////////
// Links: one per connection (TCP client, stdio, serial), each with its framing and RPC session.

enum { SW_LINK_STREAM = 1, SW_LINK_LOSSY = 2 };

typedef struct sw_link sw_link_t;
struct sw_link {
    const sw_conn_ops_t *ops; // first (see above)
    sw_link_t *next;
    sw_node_t *node;
    sw_conn_t *conn;
    int mode;           // SW_LINK_*
    bool paused;        // reading paused (the peer does not read its replies)
    bool closing;
    bool counted;       // counts against limits.clients
    bool proven;        // a complete request arrived: the link keeps its slot (no idle timeout)
    sw_timer_t idle_timer; // counted links: closes the link if no request arrives in rpc.idle_ms
    char peer[64];
    sw_stream_rx_t srx; // SW_LINK_STREAM
    uint32_t gap_ms;    // serial stream: an idle gap this long inside a message forgets it (0: off)
    uint32_t last_rx;   // time the last bytes arrived
    sw_sp_cfg_t spcfg;  // SW_LINK_LOSSY
    sw_sp_rx_t sprx;
    sw_rel_t rel;
    sw_timer_t rel_timer;
    uint8_t *outq;      // lossy: messages waiting for the Reliable window (2-byte length + bytes)
    size_t outq_len, outq_cap;
    bool console;       // log lines are sent to this link as console bytes
    uint32_t now;       // time of the input being processed
    uint8_t *inq;       // bytes received but not yet processed (while paused)
    size_t inq_len, inq_cap;
    sw_rpc_t rpc;
    sw_timer_t rpc_timer; // stream steps
    uint8_t *mem;       // buffers of this link (one allocation)
    size_t mem_size;
};

// Sends `link` up/down on every open link.
void sw_node_link_all(sw_node_t *n, bool up);

// Deferred replies: a saved sw_reply_to_t names a session that may be gone (its link closed and
// its memory reused). Sessions get node-wide unique generations, so this check — is to->rpc a
// live session with that generation — is safe against reuse. Call it before sw_rpc_answer_*().
bool sw_node_reply_live(const sw_node_t *n, const sw_reply_to_t *to);
// Resets a session (fails pending requests, ends streams) and gives it a fresh generation.
void sw_node_rpc_reset(sw_node_t *n, sw_rpc_t *rpc, int err);

// src/node/link.c. A link is created when a connection opens (counted: TCP clients, which
// count against limits.clients) and freed after the port reports it closed.
sw_link_t *sw_link_open(sw_node_t *n, sw_conn_t *c, int mode, bool counted);
// limits.clients is reached: closes the oldest counted link that has not sent a request yet
// (its slot is free at once). False if every counted link has.
bool sw_link_evict_idle(sw_node_t *n);
void sw_link_data(sw_link_t *l, const uint8_t *p, size_t len);
void sw_link_drained(sw_link_t *l);
void sw_link_closed(sw_link_t *l);
// Starts an orderly close (sends what is queued first).
void sw_link_close(sw_link_t *l);
// Console output (log lines) to a link that carries a console (serial, stdio with console).
void sw_link_console(sw_link_t *l, const char *p, size_t n);
// Bytes queued towards the peer above which the link stops reading requests (backpressure).
#define SW_LINK_HIGH_WATER (256u * 1024u)

///////////////////////////////////////////////////////////////////////////////////////////////
// Local calls: modules (apps, boards) call commands exactly as a remote client would. The
// answer arrives through cb — possibly before sw_node_call() returns, for commands that answer
// at once. m is the decoded answer (REPLY, ERROR, STREAM, END) or NULL with err != 0.

typedef void (*sw_local_cb)(sw_node_t *n, void *user, const sw_msg_t *m, int err);
// args: raw MsgPack of "d" (empty span: {}). r_ms > 0 asks for a stream. Returns the request
// seq (> 0) or an error (then cb is not called).
int64_t sw_node_call(sw_node_t *n, const char *dotted, sw_span_t args, int64_t r_ms,
                     sw_local_cb cb, void *user);
void sw_node_call_cancel(sw_node_t *n, int64_t seq);

///////////////////////////////////////////////////////////////////////////////////////////////
// Config: the tree in n->cfg. After changing it, call sw_node_cfg_save() (atomic write of
// SW_CFG_FILE: temp file, sync, rename).

int sw_node_cfg_save(sw_node_t *n);
// Writes a whole file atomically: "<path>.tmp", sync, rename over path (so a crash leaves the
// old file or the new one). path: at most SW_NAME_MAX bytes; its folder must exist. 0 or an
// error; the temp file is gone either way.
int sw_node_write_atomic(sw_node_t *n, const char *path, const void *p, size_t len);
// Re-applies settings that can change at run time (sys.cfg apply): wdt, limits, app.
void sw_node_cfg_apply(sw_node_t *n);
// Re-arms the watchdog timer after the watchdog state changed (sys.wdt).
void sw_node_wdt_schedule(sw_node_t *n);

///////////////////////////////////////////////////////////////////////////////////////////////
// Reset / stop: sends link false everywhere, waits ~100 ms for it to leave, then asks the port
// to re-exec (SOFT), reboot (HARD) or exit (STOP). why is logged.

void sw_node_reset(sw_node_t *n, int how, const char *why);

///////////////////////////////////////////////////////////////////////////////////////////////
// Modules: each registers its commands at boot and keeps its state behind a pointer in the node.

struct sw_fs_app;   // src/node/fs_app.c
struct sw_lua;      // src/node/lua_*.c
struct sw_proxies;  // src/node/proxy.c
struct sw_push;     // src/node/push*.c
typedef struct sw_board sw_board_t;

// The "f" app (files under the root): registers directory "f". Closes everything at stop.
int sw_fs_app_init(sw_node_t *n);
void sw_fs_app_stop(sw_node_t *n);
// A link closed: files it opened are closed (atomic writes it had open are discarded).
void sw_fs_app_link_closed(sw_node_t *n, const sw_rpc_t *rpc);

// The sys directory and the root commands (ping, _dir): src/node/sys.c
int sw_sys_init(sw_node_t *n);

// Lua apps (src/node/lua_*.c): the VM, the swarm API, the app lifecycle.
int sw_lua_init(sw_node_t *n);             // creates the VM, registers sys.eval and sys.load
int sw_lua_start_app(sw_node_t *n, const char *app); // loads apps/{app}/main.lua, runs init_* then routine_*
void sw_lua_stop_app(sw_node_t *n);        // cancels the app's tasks, unregisters its commands
void sw_lua_close(sw_node_t *n);           // at node stop
// Drop a proxy by name (sys.unproxy): 0, SW_ENOENT, SW_EPERM (well-known names).
int sw_proxy_drop(sw_node_t *n, const char *name, size_t len);
// A session is going away (its link closed or went down): the tasks started for its requests
// (evals, app command calls) are cancelled and the proxies it received are released.
void sw_lua_session_gone(sw_node_t *n, const sw_rpc_t *rpc);
// The peer cancelled request seq ({"i": seq} alone): a task still working on it is cancelled.
void sw_lua_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq);

// App events, reported by the Lua runtime (lua_app.c) to whoever watches an app's health (the
// push module's grace period after a hot reload). READY: every init_* of the app has finished
// (detail NULL). FAILED: main.lua, an init_* or a routine_* raised (detail: "what: error").
// Called from inside the runtime: a listener must not stop or start apps from the call.
enum { SW_APP_EV_READY = 1, SW_APP_EV_FAILED = 2 };
void sw_node_app_event(sw_node_t *n, int ev, const char *app, const char *detail);

// Push (src/node/push*.c, docs/PROTOCOL.md "Push"): completes an interrupted push (boot
// recovery) and removes stale staging, then registers the "push" directory. Must run before any
// app starts. 0 or an error (memory, command tree).
int sw_push_init(sw_node_t *n);
void sw_push_stop(sw_node_t *n);

// Boards (micro-swarm hardware targets): C modules selected by config "board.hardware_name".
struct sw_board {
    const char *name;
    const char *doc;
    // Registers the board's commands (under "board"), starts its timers. 0 or error.
    int (*init)(sw_node_t *n);
    void (*stop)(sw_node_t *n);
};
const sw_board_t *sw_board_find(const char *name, size_t len);
extern const sw_board_t *const sw_boards[]; // NULL-terminated, all compiled-in boards

///////////////////////////////////////////////////////////////////////////////////////////////
// The node itself.

struct sw_node {
    sw_port_t port;
    sw_node_opts_t opts;
    sw_node_limits_t lim;

    sw_cfg_t cfg;
    uint8_t *cfg_mem;      // doc + scratch (2 × cfg.cap)
    bool cfg_dirty;        // the tree differs from the file
    bool cfg_loaded;
    const char *cfg_fallback; // NULL, or how the boot replaced an unusable swarm.cfg
                              // ("last-good" / "safe-defaults"), for sys.info
    uint8_t cfg_disk;      // SW_CFG_DISK_*: what the start does to the files (loading
                           // only reads, so --print-config writes nothing)
    int log_level;         // SW_LOG_*: lines above it are not logged

    sw_tree_t tree;
    sw_tnode_t tnodes[SW_NODE_TREE_MAX];

    sw_wdt_t wdt;
    sw_timer_t wdt_timer;
    sw_timer_t loop_wdt_timer; // kicks the port's watchdog (wdt.loop)

    sw_timer_t *timers;    // armed timers, ordered by due time
    sw_link_t *links;
    uint16_t clients;      // counted links (TCP)
    sw_listener_t *rpc_listener;
    sw_service_t rpc_service;
    sw_service_t *services; // running services

    uint32_t gen_seq;      // last session generation handed out
    sw_rpc_t local;        // local calls (sw_node_call)
    uint8_t *local_mem;    // queue + output + tables of the local session
    size_t local_mem_size;
    uint8_t *local_q;      // local messages waiting to be processed (4-byte length + bytes)
    size_t local_q_len;
    sw_timer_t local_timer;

    struct sw_fs_app *fs;
    struct sw_lua *lua;
    struct sw_proxies *proxies;
    struct sw_push *push;
    uint32_t files_gen;    // bumped when files change behind a listing's back (push): caches re-read
    const sw_board_t *board;
    void *board_state;

    char *log_ring;        // SW_NODE_LOG_RING bytes
    uint64_t log_seq;      // bytes ever written to the ring

    uint32_t boot_ms;      // now_ms() at start
    int reset_how;         // pending reset (0: none)
    int reset_stage;
    sw_timer_t reset_timer;
    bool stopping, stopped;
    char host_name[64], app_name[64], hardware_name[64];
    // the running app's VERSION (its main.lua's returned table), for the beacon's
    // versions.app as micro-swarm's app.VERSION; "" when it declares none
    char app_version[32];
};

#endif
