// swarm dashboard: the fleet in a browser, served by the host tool itself (`swarm dashboard`).
// One libuv loop carries everything: libwebsockets (HTTP + WebSocket, on that loop as a
// foreign loop), the discovery of nodes (beacons and queries, as `swarm scan`), the links to
// the nodes (hlink.h, with the host's keys: they never reach the browser) and pushes (push.h).
//
// The page (web/, compiled into the binary) talks to the dashboard over one WebSocket, /ws,
// in JSON text messages (docs/DESIGN.md, "Dashboard"):
//   page → dashboard   {"id": N, "op": "call", "node": KEY, "path": "sys.info", "args": JSON,
//                        "every": MS}            a command; "every" > 0: a stream
//                      {"id": N, "op": "cancel", "ref": M}     stops call M (a stream)
//                      {"id": N, "op": "push", "project": NAME, "nodes": [KEY…], "dry_run": B,
//                        "canary": N, "max_failures": K, "parallel": P}
//                      {"id": N, "op": "fleet"}                the whole fleet again
//   dashboard → page   {"ev": "hello", …}, {"ev": "fleet", "nodes": [...]},
//                      {"ev": "node", "node": {...}}, {"ev": "gone", "key": KEY},
//                      {"ev": "push", "dev": {...}}, {"ev": "console", "node": KEY, "text": …},
//                      {"id": N, "reply": JSON} | {"id": N, "error": TEXT} |
//                      {"id": N, "stream": JSON} … {"id": N, "end": true}
// MsgPack values cross as JSON by mpjson.h's rules (bin as {"$bin": base64}, …).
#ifndef SW_HOST_DASH_H
#define SW_HOST_DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

// @@ Bounds (each can be overridden at build time).
#ifndef SW_DASH_PORT
#define SW_DASH_PORT 27580          // default TCP port of the page (0: any free port)
#endif
#ifndef SW_DASH_REQ_MAX
#define SW_DASH_REQ_MAX (256u * 1024u) // longest request message (bytes): larger → closed (1009)
#endif
#ifndef SW_DASH_QUEUE_MAX
#define SW_DASH_QUEUE_MAX (4u << 20) // bytes queued towards one page before it is dropped
#endif
#ifndef SW_DASH_CLIENTS_MAX
#define SW_DASH_CLIENTS_MAX 64      // pages connected at once (more: refused)
#endif
#ifndef SW_DASH_CALLS_MAX
#define SW_DASH_CALLS_MAX 64        // calls (and streams) in flight per page
#endif
#ifndef SW_DASH_NODES_MAX
#define SW_DASH_NODES_MAX 4096      // nodes the dashboard tracks (full: the stalest offline
                                    // LAN node gives way, else a new one is not listed)
#endif
#ifndef SW_DASH_PUSH_NODES_MAX
#define SW_DASH_PUSH_NODES_MAX 4096 // keys in one push request
#endif
#define SW_DASH_KEY_MAX 128         // node key length (bytes, with the NUL)
#define SW_DASH_PATH_MAX 256        // command path length (bytes, with the NUL)

// A file of the page, compiled in (cmake/embed.cmake → dash_assets.c). Ends with name NULL.
typedef struct sw_dash_asset {
    const char *name;     // "/index.html"
    const char *mime;
    const uint8_t *data;
    size_t len;           // 0: not bundled (the plot library without npm)
} sw_dash_asset_t;
extern const sw_dash_asset_t sw_dash_assets[];

// ---- requests from the page (dash_req.c: a pure decoder, fuzzed by tests/fuzz/fuzz_dash.c)

typedef enum sw_dash_op {
    SW_DASH_OP_CALL = 1,
    SW_DASH_OP_CANCEL,
    SW_DASH_OP_PUSH,
    SW_DASH_OP_FLEET,
} sw_dash_op_t;

typedef struct sw_dash_req {
    sw_dash_op_t op;
    int64_t id;                    // the page's number for the request (0 .. 2^53)
    char node[SW_DASH_KEY_MAX];    // CALL
    char path[SW_DASH_PATH_MAX];   // CALL: dotted command path ("sys.info", "f._dir")
    const cJSON *args;             // CALL: the arguments (NULL: none); points into root
    uint32_t every_ms;             // CALL: > 0 for a stream (1 .. 3,600,000)
    int64_t ref;                   // CANCEL: the id of the call to stop
    char project[256];             // PUSH: the project's name (as "hello" lists them)
    const cJSON *nodes;            // PUSH: array of node keys (NULL or empty: every online node)
    bool dry_run;                  // PUSH
    uint32_t canary, max_failures; // PUSH (0: none)
    uint32_t parallel;             // PUSH: nodes at once (0: the push engine's default, 16)
    cJSON *root;                   // owned: the parsed message (sw_dash_req_free)
} sw_dash_req_t;

// Decodes one request message p[0..n) (any bytes). 0 with *r filled (free with
// sw_dash_req_free), or SW_EINVAL / SW_ETOOBIG with a message for the page in err (then *r
// holds nothing to free, and r->id is the request's id when one could be read, else -1).
int sw_dash_req_parse(const void *p, size_t n, sw_dash_req_t *r, char *err, size_t errcap);
void sw_dash_req_free(sw_dash_req_t *r);

// ---- the server

// A source of nodes besides the LAN: the hook through which a broker (MQTT, dash_mqtt.h) feeds
// the fleet list. start() runs on the dashboard's loop before it serves and calls found() for
// every node it learns of, as often as it likes, with a record as `swarm scan` makes them
// (scan.h; valid during the call only): r->link is the link that reaches the node (empty:
// tcp:// to r->ip and r->rpc_port, as for a beacon on the LAN), r->offline says it is down now
// (a last will). stop() ends it (no found() after). A node with a link of its own stays online
// until the source says otherwise; one without goes offline as LAN nodes do, when nothing was
// heard for offline_ms.
struct sw_scan_rec;
typedef void (*sw_dash_found_fn)(void *dash, const struct sw_scan_rec *r);
typedef struct sw_dash_source {
    const char *name;  // for messages ("mqtt://broker")
    int (*start)(void *u, void *loop, sw_dash_found_fn found, void *dash, char *err, size_t errcap);
    void (*stop)(void *u);
    void *u;
} sw_dash_source_t;

typedef struct sw_dash_opts {
    const char *bind;            // address to listen on; default "127.0.0.1"
    uint16_t port;               // default SW_DASH_PORT; 0: any free port (printed)
    const char *token;           // required to use the page when not bound to loopback; NULL:
                                 // made up at start when needed (printed)
    const char *const *projects; // project folders a push can take (apps/, boards/)
    size_t n_projects;
    const char *const *links;    // links to track besides the LAN (mux sockets, serial lines)
    size_t n_links;
    const sw_dash_source_t *sources; // more sources of nodes (a broker), may be NULL
    size_t n_sources;
    bool no_config;              // leave out the user config's [devices] (the CLI also leaves
                                 // out its [mqtt] broker)
    bool no_scan;                // no LAN discovery (only links and config devices)
    uint16_t scan_port;          // beacons' and queries' UDP port (0: 1139)
    const char *const *scan_to;  // query these IPv4 addresses instead of broadcasting
    size_t n_scan_to;
    uint32_t scan_every_ms;      // query period; default 2000
    uint32_t offline_ms;         // a node unheard this long is offline; default 7000
    uint32_t timeout_ms;         // per call (0: none); the CLI's --timeout
    size_t queue_max;            // default SW_DASH_QUEUE_MAX
    bool quiet;                  // no informational lines on stderr
    bool json;                   // the address as one JSON line: {"url", "bind", "port", "token"}
    FILE *out;                   // where the page's address is printed (stdout)
} sw_dash_opts_t;

// Runs the dashboard until SIGINT/SIGTERM. 0 after a clean stop, or SW_E* with a message in
// err (the address cannot be bound: SW_EBUSY / SW_EIO; bad options: SW_EINVAL).
int sw_dash_run(const sw_dash_opts_t *o, char *err, size_t errcap);

// True for the loopback addresses (127.0.0.0/8, ::1, "localhost"), where no token is needed.
bool sw_dash_is_loopback(const char *addr);

#endif
