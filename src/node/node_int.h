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

// Bounds of the runtime: compile-time sizes and the defaults of run-time limits come from the
// build profile (profile.h: every one an overridable SW_NODE_* macro with its unit).
#include "profile.h"

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
// bytes ever written, so a reader that remembers it can ask for what is new. Lines longer than
// SW_NODE_LOG_LINE are cut.
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

// MQTT clients (port.h, mqtt_open): mqtt->user points to an object whose FIRST member is
// `const sw_mqtt_ops_t *` (the MQTT part, mqtt.c).
typedef struct sw_mqtt_ops {
    void (*state)(void *self, bool up, int err);
    void (*message)(void *self, const sw_mqtt_msg_t *m);
} sw_mqtt_ops_t;

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
// The running service called name, or NULL (a part's command reaching its service's state).
sw_service_t *sw_node_service_find(const sw_node_t *n, const char *name);
// Listens on the node's listen address (--listen) for service s. 0 or the port's error
// (logged with the service's name).
int sw_node_listen(sw_node_t *n, sw_service_t *s, uint16_t port, sw_listener_t **out);
// Opens a UDP endpoint for service s (addr NULL = any).
int sw_node_udp_open(sw_node_t *n, sw_service_t *s, const char *addr, uint16_t port, int flags,
                     sw_udp_t **out);

// Stops every running service except the RPC listener (node stop).
void sw_node_services_stop(sw_node_t *n);

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
    uint8_t *defer;     // complete requests waiting for room in the port (4-byte length + bytes)
    size_t defer_len, defer_cap;
    size_t need;        // room in the port one more message takes (largest message + framing)
    uint32_t console_dropped; // console lines the port had no room for
    sw_rpc_t rpc;
    sw_timer_t rpc_timer; // stream steps
    uint32_t pre_win;   // open serial/stdio link: the last 4 bytes (the Noise preamble: hello)
    uint8_t pre_skip;   // …and the bytes of the handshake message after it, still to drop
    struct sw_auth_link *sec; // every link of a locked node: its Noise session (auth.c)
    uint8_t *mem;       // buffers of this link (one allocation)
    size_t mem_size;
};

// Whether the service of that row of sw_node_services runs: not off for this run (--no-NAME),
// its config switch, and on a locked node its allow key (services.c).
bool sw_node_service_on(sw_node_t *n, const char *name);

// src/node/auth.c: the authenticated mode. sw_auth_init reads the key (locks the node) at start.
typedef struct sw_auth_link sw_auth_link_t;
#if SW_WITH_AUTH
int sw_auth_init(sw_node_t *n);
int sw_auth_cmds_init(sw_node_t *n); // sys.key
// Sets l->sec (and returns it), NULL when out of memory.
sw_auth_link_t *sw_auth_link_new(sw_link_t *l);
void sw_auth_link_data(sw_link_t *l, const uint8_t *p, size_t n); // ciphertext from the peer
// Lossy links: the Reliable link went up/down (p NULL), or one Reliable message arrived.
// False: nothing to deliver (down, or the message failed and the Reliable link is closing).
bool sw_auth_link_rel(sw_link_t *l, bool up, const uint8_t *p, size_t n);
int sw_auth_link_write(sw_link_t *l, const uint8_t *p, size_t n); // plaintext to the peer
bool sw_auth_link_ready(const sw_link_t *l); // the handshake of the current session is done
// Reply bytes gathered for one frame during this input and not written to the port yet
// (coalescing, swarm/seclink.h; with their frame overhead); 0 if none.
size_t sw_auth_link_held(const sw_link_t *l);
void sw_auth_link_free(sw_link_t *l);
#else // a node without the locked mode (no TCP): always open
static inline int sw_auth_init(sw_node_t *n) { return (void)n, 0; }
static inline int sw_auth_cmds_init(sw_node_t *n) { return (void)n, 0; }
static inline sw_auth_link_t *sw_auth_link_new(sw_link_t *l) { return (void)l, (sw_auth_link_t *)0; }
static inline void sw_auth_link_data(sw_link_t *l, const uint8_t *p, size_t n) { (void)l, (void)p, (void)n; }
static inline int sw_auth_link_write(sw_link_t *l, const uint8_t *p, size_t n)
{
    return (void)l, (void)p, (void)n, SW_ENOTSUP;
}
static inline void sw_auth_link_free(sw_link_t *l) { (void)l; }
static inline bool sw_auth_link_rel(sw_link_t *l, bool up, const uint8_t *p, size_t n)
{
    return (void)l, (void)up, (void)p, (void)n, false;
}
static inline bool sw_auth_link_ready(const sw_link_t *l) { return (void)l, false; }
static inline size_t sw_auth_link_held(const sw_link_t *l) { return (void)l, 0; }
#endif

// link.c, for auth.c: a lossy link's message out (after the Reliable window) and in (to RPC),
// and forgetting a lossless link's partial input when a line's session ends.
int sw_link_lossy_send(sw_link_t *l, const uint8_t *p, size_t n);
void sw_link_lossy_msg(sw_link_t *l, const uint8_t *p, size_t n);
void sw_link_stream_reset(sw_link_t *l);

// Sends `link` up/down on every open link.
void sw_node_link_all(sw_node_t *n, bool up);

// Deferred replies: a saved sw_reply_to_t names a session that may be gone (its link closed and
// its memory reused). Sessions get node-wide unique generations, so this check — is to->rpc a
// live session with that generation — is safe against reuse. Call it before sw_rpc_answer_*().
bool sw_node_reply_live(const sw_node_t *n, const sw_reply_to_t *to);
// Resets a session (fails pending requests, ends streams) and gives it a fresh generation.
void sw_node_rpc_reset(sw_node_t *n, sw_rpc_t *rpc, int err);

// A link's RPC session ended (closed, or its lossy line went down): tells every part
// (sw_part_t.link_closed), e.g. so the f app closes the files it opened.
void sw_node_link_gone(sw_node_t *n, const sw_rpc_t *rpc);

// src/node/link.c. A link is created when a connection opens (counted: TCP clients, which
// count against limits.clients) and freed after the port reports it closed.
sw_link_t *sw_link_open(sw_node_t *n, sw_conn_t *c, int mode, bool counted);
// limits.clients is reached: closes the oldest counted link that has not sent a request yet
// (its slot is free at once). False if every counted link has.
bool sw_link_evict_idle(sw_node_t *n);
void sw_link_data(sw_link_t *l, const uint8_t *p, size_t len);
// Plain bytes into the link's framing (sw_link_data after the secure layer, if any).
void sw_link_input(sw_link_t *l, const uint8_t *p, size_t len);
void sw_link_drained(sw_link_t *l);
void sw_link_closed(sw_link_t *l);
// Starts an orderly close (sends what is queued first).
void sw_link_close(sw_link_t *l);
// Console output (log lines) to a link that carries a console (serial, stdio with console).
void sw_link_console(sw_link_t *l, const char *p, size_t n);

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
// old file or the new one). path: at most SW_NODE_PATH_MAX - 1 bytes; its folder must exist. 0 or an
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
// Parts: the optional pieces of the node (sys, the f app, push, Lua apps, the LAN services),
// each one table, listed at compile time in parts.c by the SW_WITH_* switches of profile.h.
// The kernel (node.c, link.c) calls them; they call the kernel; a part never calls another
// part's functions (what they share goes through the kernel: app lifecycle and events, links,
// local calls). Every hook may be NULL.

struct sw_fs_app;   // the f app's state (fs_app.c)
struct sw_lua;      // the Lua runtime's (lua_*.c)
struct sw_proxies;  // its proxies (proxy.c)
struct sw_push;     // push's (push*.c)

// A group of a part's commands: the commands of `cmds` in directory `dir` ("" = the root). A
// directory that exists already (sys, made by the sys part) is shared: the part's commands
// join it, and at stop only they leave (a directory left empty goes too). One the kernel
// creates is documented by `doc`.
typedef struct sw_part_cmds {
    const char *dir;
    const char *doc;
    const sw_cmd_def_t *cmds;
    uint16_t n;
} sw_part_cmds_t;

typedef struct sw_part {
    const char *name;
    // Boot, in table order, before the board and the links: registers the part's commands
    // (its directory in n->tree), recovers its state, starts its timers. An error is logged
    // and the node runs without the part (its other hooks must then cope with no state).
    int (*init)(sw_node_t *n);
    // Boot, after the RPC listener: opens the part's network services (sw_service_t). An error
    // is logged and the node runs without them.
    int (*serve)(sw_node_t *n);
    // Node stop, in reverse table order (after the app has stopped).
    void (*stop)(sw_node_t *n);
    // App lifecycle, for the part that runs apps (one per build: Lua). app_start loads
    // apps/{app}/ and starts it (0 or an error, logged by the part); app_stop stops it.
    int (*app_start)(sw_node_t *n, const char *app);
    void (*app_stop)(sw_node_t *n);
    // An app event (SW_APP_EV_*), see sw_node_app_event().
    void (*app_event)(sw_node_t *n, int ev, const char *app, const char *detail);
    // A link's RPC session ended (sw_node_link_gone()).
    void (*link_closed)(sw_node_t *n, const sw_rpc_t *rpc);
    // A session's requests are over (its link closed, went down or was reset:
    // sw_node_rpc_reset()): what was started for them dies (tasks, proxies).
    void (*session_reset)(sw_node_t *n, const sw_rpc_t *rpc);
    // The peer cancelled request seq of session rpc ({"i": seq} alone, or a local caller gave
    // up): a task still working on it ends (sw_node_request_cancelled()).
    void (*request_cancelled)(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq);
    // Whether rpc is a live session the part owns (a part that serves RPC sessions of its
    // own, not links: MQTT requesters), for sw_node_reply_live().
    bool (*session_live)(const sw_node_t *n, const sw_rpc_t *rpc);
    // The part's commands: groups of const tables (they stay in flash), see sw_part_cmds_t.
    // The kernel adds them once init has succeeded and removes them before stop. Handlers find
    // the node in sw_call_t.ctx and the part's state through it. NULL: none.
    const struct sw_part_cmds *cmds;
    uint8_t ncmds; // groups in cmds
} sw_part_t;

#define SW_PARTS_MAX 16 // entries of sw_parts[] (parts.c)

extern const sw_part_t *const sw_parts[]; // NULL-terminated, in boot order (parts.c)

// The app (board.app_name), through the part that runs apps. Without one, app_start logs that
// this build runs no apps and returns SW_ENOTSUP. app_restart is stop + start, logged with why
// (a hot reload after FTP or push changed the app's files, telnet's :start).
int sw_node_app_start(sw_node_t *n);
void sw_node_app_stop(sw_node_t *n);
int sw_node_app_restart(sw_node_t *n, const char *why);

// App events, reported by the app runtime to every part's app_event hook (push watches an
// app's health during its grace period after a hot reload). READY: every init_* of the app has
// finished (detail NULL). FAILED: main.lua, an init_* or a routine_* raised ("what: error").
// Called from inside the runtime: a hook must not stop or start apps from the call.
enum { SW_APP_EV_READY = 1, SW_APP_EV_FAILED = 2 };
void sw_node_app_event(sw_node_t *n, int ev, const char *app, const char *detail);

// Request seq of session rpc was cancelled: every part's request_cancelled hook hears it.
void sw_node_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq);

// Boards (micro-swarm hardware targets): C modules selected by config "board.hardware_name",
// compiled in by the build (board.c lists them; the first is the default hardware name).
typedef struct sw_board sw_board_t;
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
    sw_timer_t *due;       // the batch sw_node_poll() is running (armed until each runs)
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

    bool part_cmds[SW_PARTS_MAX]; // the kernel added the part's commands (sw_part_t.cmds)
    struct sw_fs_app *fs;
    struct sw_lua *lua;
    struct sw_proxies *proxies;
    struct sw_push *push;
    struct sw_mqtt_part *mqtt; // the MQTT part's state (mqtt.c), NULL when it does not run
    uint32_t files_gen;    // bumped when files change behind a listing's back (push): caches re-read
    const sw_board_t *board;
    void *board_state;
    const char *mdns_name; // "host.local" while the mDNS responder runs (sys.info), else NULL

    char tmp_path[SW_NODE_PATH_MAX + 4]; // sw_node_write_atomic's "<path>.tmp"
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
    // authenticated mode (src/node/auth.c): the key from SW_PATH_KEY_FILE, if there is one
    bool locked;
    uint8_t key[32];
    bool has_old;          // during a key rotation: the previous key, still accepted
    uint8_t key_old[32];
};

#endif
