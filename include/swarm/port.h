// swarm port contract: everything the device runtime (src/node) needs from the platform, as a
// table of functions plus a context pointer. src/port/posix implements it with libuv; a
// Cortex-M port implements it with a UART, SysTick, lwIP and a flash file system. The node never
// reaches the OS any other way (docs/PORTING.md).
//
// A port without a network (a serial-only MCU) leaves the network functions NULL: tcp_listen
// with listener_close, conn_local, listener_port; udp_open with udp_send, udp_close, netifs.
// A port that has tcp_listen must have its companions, likewise for udp_open; the node then
// serves only its serial/stdio links, and the LAN services log that they are not available.
// A port whose network is missing at run time (a board built with one, booted without it)
// returns SW_ENOTSUP from udp_open: the node then says "no network", not that a table is full.
//
// Direction of calls: the node calls these functions; the port calls the node back with the
// sw_node_*() event functions of swarm/node.h (data arrived, a connection closed, a timer is
// due). Everything runs on one thread: no callback ever runs inside another.
#ifndef SWARM_PORT_H
#define SWARM_PORT_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

// A byte link the port owns (TCP connection, serial line, stdio). The node may use `user`.
typedef struct sw_conn {
    void *user;
    uint8_t kind; // SW_CONN_*
} sw_conn_t;

enum { SW_CONN_TCP = 1, SW_CONN_SERIAL = 2, SW_CONN_STDIO = 3 };

// Bytes of framing the node allows around one message (SerialPacker header + trailer, margin).
#define SW_CONN_FRAMING 64u
// The smallest capacity (conn_room of an empty queue) a connection may have, bytes.
#define SW_CONN_ROOM_MIN 320u

typedef struct sw_listener {
    void *user;
} sw_listener_t;

// A UDP endpoint (discovery, mDNS). `user` is the node's.
typedef struct sw_udp {
    void *user;
} sw_udp_t;

// Flags of udp_open.
enum {
    SW_UDP_BROADCAST = 1 << 0, // may send to broadcast addresses (SO_BROADCAST)
    SW_UDP_REUSE = 1 << 1,     // share the port with other sockets (SO_REUSEADDR + SO_REUSEPORT)
    SW_UDP_MDNS = 1 << 2,      // join 224.0.0.251 on every interface, multicast TTL 255, no loopback
};

// An IPv4 interface address (netifs).
typedef struct sw_netif {
    char name[16];    // "eth0"
    char addr[16];    // dotted quad
    char netmask[16];
    char broadcast[16];
    uint8_t mac[6];   // zero if unknown
} sw_netif_t;

// Open flags of fs_open.
enum {
    SW_O_READ = 1 << 0,
    SW_O_WRITE = 1 << 1,
    SW_O_CREATE = 1 << 2,
    SW_O_TRUNC = 1 << 3,
    SW_O_EXCL = 1 << 4,
    SW_O_APPEND = 1 << 5,
};

enum { SW_FT_NONE = 0, SW_FT_FILE = 1, SW_FT_DIR = 2, SW_FT_OTHER = 3 };

typedef struct sw_stat {
    uint8_t type;   // SW_FT_*
    uint64_t size;  // bytes (files)
    int64_t mtime;  // seconds since 1970 (0 if unknown)
} sw_stat_t;

#define SW_NAME_MAX 255

typedef struct sw_dirent {
    char name[SW_NAME_MAX + 1]; // NUL-terminated, never "." or ".."
    uint8_t type;               // SW_FT_*
} sw_dirent_t;

typedef struct sw_mem {
    uint64_t used;  // bytes in use by the node (POSIX: resident set size)
    uint64_t avail; // bytes still available (0 if unknown)
    uint64_t heap;  // bytes allocated through alloc()
} sw_mem_t;

// Memory pools of alloc(). A port may serve both from one heap (POSIX) or give each its own
// fixed pool (an MCU: the Lua VM's garbage cannot then fragment the node's buffers).
enum {
    SW_POOL_NODE = 0, // the node's buffers: links, config, files, push (sw_node_alloc)
    SW_POOL_LUA = 1,  // the Lua VM (bounded again by limits.lua_mem)
};

// What a firmware reports about its memory in sys.info ("hw"). Sizes in bytes; 0 = unknown.
typedef struct sw_hwinfo {
    const char *board;     // board name, "mps2-an385"
    const char *profile;   // the firmware's build profile, "mcu-full"
    uint32_t flash_size;   // code memory the image may use
    uint32_t flash_used;   // taken by the image (text + rodata + data)
    uint32_t ram_size;     // RAM the firmware may use (static + heap + stack)
    uint32_t ram_static;   // .data + .bss
    uint32_t heap_size;    // the pool alloc() serves from
    uint32_t heap_used;    // allocated now through alloc()
    uint32_t heap_peak;    // most ever allocated at once
    uint32_t stack_size;   // the main stack, reserved
    uint32_t stack_peak;   // its deepest use so far
    uint32_t pool_used[2]; // heap_used per pool (index: SW_POOL_NODE, SW_POOL_LUA)
    uint32_t pool_peak[2]; // heap_peak per pool
    uint32_t node_reserve; // bytes of the heap the Lua pool may not take (0: none)
} sw_hwinfo_t;

// An MQTT client connection the port owns (mqtt_open). `user` points to an object whose first
// member is `const sw_mqtt_ops_t *` (node_int.h): the node's MQTT part.
typedef struct sw_mqtt {
    void *user;
} sw_mqtt_t;

// A decompressor of one zlib stream (RFC 1950: deflate with a header and an Adler-32), owned
// by the port (zin_open). Opaque to the node.
typedef struct sw_zin sw_zin_t;

// What mqtt_open connects to. Strings are only read during the call.
typedef struct sw_mqtt_opts {
    const char *host;        // broker name or address
    uint16_t port;           // 1883 (mqtt://), 8883 (mqtts://)
    const char *client_id;   // the node's host name
    const char *username;    // NULL: none
    const char *password;    // NULL: none
    bool tls;                // mqtts://
    const char *cafile;      // TLS: the CA certificate(s) the broker's is checked against
                             // (NULL: the system's)
    bool tls_insecure;       // TLS: do not check the broker's host name (test brokers)
    uint16_t keepalive_s;    // MQTT keep-alive, seconds
    bool v5;                 // MQTT 5 (response topic, correlation data); false: 3.1.1
    const char *will_topic;  // last will, published retained at QoS 1 by the broker when the
    const void *will;        // connection dies without a DISCONNECT (NULL topic: none)
    size_t will_len;
} sw_mqtt_opts_t;

// One message that arrived on a subscription. Everything is only valid during the call.
typedef struct sw_mqtt_msg {
    const char *topic;
    const uint8_t *payload;
    size_t len;
    const char *response_topic; // MQTT 5 property, NULL if absent
    const uint8_t *corr;        // MQTT 5 correlation data, NULL if absent
    size_t corr_len;
    bool retained;
} sw_mqtt_msg_t;

enum { SW_RESET_SOFT = 1, SW_RESET_HARD = 2, SW_RESET_STOP = 3 };

enum { SW_LOG_ERROR = 0, SW_LOG_WARN = 1, SW_LOG_INFO = 2, SW_LOG_DEBUG = 3 };

typedef struct sw_port_ops {
    // --- time, randomness, memory
    uint32_t (*now_ms)(void *ctx);                  // monotonic, wraps
    int64_t (*wall_s)(void *ctx);                   // seconds since 1970, 0 if unknown
    void (*wake_at)(void *ctx, uint32_t at_ms);     // call sw_node_poll() at (or soon after) at_ms; a later call replaces the request
    void (*random)(void *ctx, void *buf, size_t n);
    // Like lua_Alloc, from pool SW_POOL_*: nsize 0 releases ptr and returns NULL; else
    // (re)allocates (ptr NULL: a new block; osize is then meaningless). NULL = no memory.
    // A block is always released or resized with the pool it came from.
    void *(*alloc)(void *ctx, int pool, void *ptr, size_t osize, size_t nsize);
    // One log line (no newline), already formatted with level and time by the node.
    void (*log)(void *ctx, int level, const char *line, size_t n);

    // --- byte links. A port bounds each connection's write queue itself; the node never
    // assumes an unbounded one (docs/PORTING.md, "Writes a port may refuse"):
    //  - conn_room() says how many bytes conn_write() takes right now: the port's own bound
    //    minus what is queued (0 when full). Its value for a new connection (nothing queued yet)
    //    is the connection's capacity; the node sizes its messages on that link to fit it
    //    (capacity - SW_CONN_FRAMING at most), so a port must offer SW_CONN_ROOM_MIN at least.
    //  - conn_write() takes all n bytes or none: 0 (queued), SW_EAGAIN (no room for n now;
    //    nothing taken), SW_ECLOSED (the connection is going away). n <= conn_room() is always
    //    taken; beyond it a port may still take the bytes (POSIX does, up to its hard cap).
    //  - sw_node_drained() follows when a queue that held bytes has emptied (room back to the
    //    capacity), never from inside conn_write(). The node keeps what it could not send and
    //    stops producing on that connection — RPC replies and stream values, file reads, FTP
    //    data — until then; conn_pause() stops the port reading from a peer meanwhile.
    // conn_queued() reports the bytes queued (for telnet's slow-client rule and for sys.mem).
    int (*tcp_listen)(void *ctx, const char *addr, uint16_t port, sw_listener_t **out);
    void (*listener_close)(void *ctx, sw_listener_t *l);
    int (*serial_open)(void *ctx, const char *dev, uint32_t baud, sw_conn_t **out);
    int (*stdio_open)(void *ctx, sw_conn_t **out);
    int (*conn_write)(void *ctx, sw_conn_t *c, const void *p, size_t n);
    size_t (*conn_room)(void *ctx, sw_conn_t *c);
    size_t (*conn_queued)(void *ctx, sw_conn_t *c);
    void (*conn_pause)(void *ctx, sw_conn_t *c, bool paused);
    // Sends what is queued, then closes; sw_node_closed() follows (never from inside this call).
    void (*conn_close)(void *ctx, sw_conn_t *c);
    // Peer description for logs ("169.254.1.2:40112", "/dev/ttyS0"); returns its length.
    size_t (*conn_peer)(void *ctx, sw_conn_t *c, char *buf, size_t cap);
    // The local address of a TCP connection ("169.254.1.2"), e.g. for FTP's PASV reply.
    size_t (*conn_local)(void *ctx, sw_conn_t *c, char *buf, size_t cap);
    // The port a listener is bound to (useful after listening on port 0).
    uint16_t (*listener_port)(void *ctx, sw_listener_t *l);

    // --- UDP (discovery, mDNS). Datagrams arrive through sw_node_udp(). addr NULL = any.
    int (*udp_open)(void *ctx, const char *addr, uint16_t port, int flags, sw_udp_t **out);
    // Sends one datagram to ip:port (dotted quad, may be a broadcast or multicast address).
    int (*udp_send)(void *ctx, sw_udp_t *u, const char *ip, uint16_t port, const void *p, size_t n);
    void (*udp_close)(void *ctx, sw_udp_t *u);
    // The IPv4 addresses of the interfaces that are up, loopback last. Returns the count.
    size_t (*netifs)(void *ctx, sw_netif_t *out, size_t max);

    // --- files under the node's root. Paths are relative, '/'-separated and normalised by the
    // node (no "..", no empty or "." segments; "" is the root). The port must never follow a
    // symlink (so nothing outside the root is reachable). fs_read/fs_write return bytes
    // transferred or an error; offsets are absolute.
    int (*fs_open)(void *ctx, const char *path, int flags, int *fd);
    int (*fs_read)(void *ctx, int fd, uint64_t off, void *buf, size_t n);
    int (*fs_write)(void *ctx, int fd, uint64_t off, const void *buf, size_t n);
    int (*fs_sync)(void *ctx, int fd);
    int (*fs_close)(void *ctx, int fd);
    int (*fs_stat)(void *ctx, const char *path, sw_stat_t *st);
    int (*fs_mkdir)(void *ctx, const char *path);
    int (*fs_rmdir)(void *ctx, const char *path);
    int (*fs_unlink)(void *ctx, const char *path);
    // Renames, atomically replacing an existing file at `to`; durable once it returns.
    int (*fs_rename)(void *ctx, const char *from, const char *to);
    // The same rename, atomic, but durable only after the next fs_flush: a series of moves
    // pays for one flush (push's apply). A port whose every change to names is durable at
    // once (flashfs: one commit each) gives fs_rename here.
    int (*fs_move)(void *ctx, const char *from, const char *to);
    // Makes every change to names made so far durable: files created, directories made or
    // removed, unlinks, fs_move. (File contents need fs_sync of their handle.) 0 or an error.
    // A port whose names are durable at once returns 0.
    int (*fs_flush)(void *ctx);
    // Calls each(u, entry) for every entry of a directory; stops early if each returns non-zero
    // (and returns that value).
    int (*fs_list)(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u);

    // --- system
    void (*reset)(void *ctx, int how);              // SW_RESET_*: re-exec / reboot / stop
    size_t (*machid)(void *ctx, uint8_t *buf, size_t cap); // unique machine id bytes
    int (*mem)(void *ctx, sw_mem_t *m);
    const char *(*platform)(void *ctx);             // e.g. "posix linux x86_64"
    // Optional (NULL: sys.info has no "hw"): the memory figures of a firmware.
    void (*hwinfo)(void *ctx, sw_hwinfo_t *out);
    // A watchdog that does not depend on the node's loop (a hardware watchdog, a thread): if it
    // is not called again within period_ms, the platform restarts the node as reset SOFT/HARD
    // would. Each call kicks it and sets the period; 0 disarms it. NULL: the platform has none.
    void (*watchdog)(void *ctx, uint32_t period_ms);

    // --- MQTT client (optional: NULL on a port without one; docs/PROTOCOL.md, "MQTT"). The
    // port runs the protocol (keep-alive, QoS 1 handshakes) on its loop; the node decides what
    // to subscribe and publish and reconnects with back-off: a port never reconnects by itself.
    // mqtt_open starts connecting and returns at once; sw_node_mqtt_state(up) follows when the
    // broker accepted the session, sw_node_mqtt_state(down, err) when the attempt failed or
    // the connection was lost (after which the node closes the client). Messages arrive
    // through sw_node_mqtt_message().
    int (*mqtt_open)(void *ctx, const sw_mqtt_opts_t *o, sw_mqtt_t **out);
    int (*mqtt_subscribe)(void *ctx, sw_mqtt_t *m, const char *filter, int qos);
    // Publishes one message (corr: MQTT 5 correlation data to echo, NULL: none). 0, SW_ECLOSED
    // (not connected), SW_EFULL (the port's outgoing queue is over its bound: try later).
    int (*mqtt_publish)(void *ctx, sw_mqtt_t *m, const char *topic, const void *p, size_t n, int qos,
                        bool retain, const void *corr, size_t corr_len);
    // Sends DISCONNECT (so no last will) after what was published, closes and frees the client.
    // No event follows.
    void (*mqtt_close)(void *ctx, sw_mqtt_t *m);

    // --- inflate (optional: NULL on a port without one; the node then offers no compressed
    // writes, docs/PROTOCOL.md, "Compressed writes"). zin_open makes a decompressor for one
    // zlib stream whose window is at most 2^wbits bytes (9..15; a stream that declares a larger
    // one is corrupt); 0, SW_EFULL (no memory) or SW_EINVAL. zin_run consumes up to *in_n bytes
    // of in and writes up to *out_n bytes to out; on return *in_n and *out_n hold what it
    // consumed and produced. Returns 0 (more input or output room wanted), 1 (the stream ended,
    // its check value matched) or SW_EPROTO (corrupt data; the stream is dead). It does only
    // bounded work per call (at most *out_n bytes out). zin_close frees it (NULL: nothing).
    int (*zin_open)(void *ctx, int wbits, sw_zin_t **out);
    int (*zin_run)(void *ctx, sw_zin_t *z, const uint8_t *in, size_t *in_n, uint8_t *out, size_t *out_n);
    void (*zin_close)(void *ctx, sw_zin_t *z);
} sw_port_ops_t;

typedef struct sw_port {
    const sw_port_ops_t *ops;
    void *ctx;
} sw_port_t;

#ifdef __cplusplus
}
#endif
#endif
