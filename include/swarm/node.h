// swarm node: the device runtime (src/node) as the port sees it — create, start, feed events,
// stop. Everything the node does to the outside goes through the sw_port_t it was given.
#ifndef SWARM_NODE_H
#define SWARM_NODE_H

#include "swarm/port.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_node sw_node_t;

typedef struct sw_node_opts {
    const char *name;        // host_name override (NULL: from config)
    const char *app;         // app_name override
    const char *board;       // hardware_name override
    int rpc_port;            // RPC TCP port override (< 0: from config; 0: RPC over TCP off)
    const char *listen_addr; // address services bind to (NULL: "0.0.0.0")
    bool stdio;              // also serve a link on stdin/stdout
    const char *serial_dev;  // also serve a link on this tty (NULL: none)
    uint32_t serial_baud;    // 0: 115200
    bool serial_lossy;       // SerialPacker + Reliable instead of the lossless stream
    uint32_t no_services;    // SW_NODE_NO_*: network services off for this run (config untouched)
} sw_node_opts_t;

// Bits of sw_node_opts_t.no_services (swarm-node --no-net, --no-ftp, …).
enum {
    SW_NODE_NO_RPC = 1u << 0,
    SW_NODE_NO_FTP = 1u << 1,
    SW_NODE_NO_TELNET = 1u << 2,
    SW_NODE_NO_EVAL = 1u << 3,
    SW_NODE_NO_BEACON = 1u << 4,
    SW_NODE_NO_MDNS = 1u << 5,
    SW_NODE_NO_NET = 0x3fu, // all of them: a node reachable only over its serial/stdio link
};

// The node's network services, one row each, in one table (src/node/services.c): what turns
// each off for one run (swarm-node --no-NAME: no_bit), the config key that switches it and its
// default, and what the locked mode (docs/SECURITY.md) does to it. Static data.
typedef struct sw_node_service_info {
    const char *name;   // "rpc", "ftp", "telnet", "eval", "beacon", "mdns"
    uint32_t no_bit;    // SW_NODE_NO_*
    const char *enable; // config key (a bool) that switches it
    bool def;           // that key's default
    const char *allow;  // locked node: runs only if this config key is true too (NULL: no change)
    const char *what;   // the service, one line
    const char *locked; // what the locked mode does to it, one line
} sw_node_service_info_t;
extern const sw_node_service_info_t sw_node_services[];
extern const size_t sw_node_nservices;
// The row of a service by name, NULL if there is none.
const sw_node_service_info_t *sw_node_service(const char *name);

// Creates a node (memory from port->ops->alloc). opts is copied; its strings must stay valid
// until sw_node_destroy(). Returns 0 or an error.
int sw_node_create(sw_node_t **out, const sw_port_t *port, const sw_node_opts_t *opts);
// Boots: loads (or creates) the config in the root, opens links and services, starts the app.
int sw_node_start(sw_node_t *n);
// Orderly stop: tells every link (link false), stops apps and services. The port then ends its
// loop when nothing is left.
void sw_node_stop(sw_node_t *n);
void sw_node_destroy(sw_node_t *n);
// True once sw_node_stop() (or sys.stop) has finished.
bool sw_node_stopped(const sw_node_t *n);

// Events from the port.
void sw_node_accept(sw_node_t *n, sw_listener_t *l, sw_conn_t *c);
void sw_node_data(sw_node_t *n, sw_conn_t *c, const uint8_t *p, size_t len);
void sw_node_drained(sw_node_t *n, sw_conn_t *c);
void sw_node_closed(sw_node_t *n, sw_conn_t *c, int err);
// A timer requested with wake_at() is due (calling it early is harmless).
void sw_node_poll(sw_node_t *n);
// A datagram arrived on a UDP endpoint the node opened (ip: dotted quad of the sender).
void sw_node_udp(sw_node_t *n, sw_udp_t *u, const char *ip, uint16_t port, const uint8_t *p, size_t len);
// MQTT (port.h, mqtt_open): the client's session with the broker began (up) or ended (err).
void sw_node_mqtt_state(sw_node_t *n, sw_mqtt_t *m, bool up, int err);
// A message arrived on one of the client's subscriptions.
void sw_node_mqtt_message(sw_node_t *n, sw_mqtt_t *m, const sw_mqtt_msg_t *msg);

// The effective config (one MsgPack map) for --print-config; valid until the next change.
sw_span_t sw_node_config(const sw_node_t *n);
// Prepares the config without starting anything (for --print-config): loads/merges it the way
// sw_node_start() would, creating nothing on disk.
int sw_node_load_config(sw_node_t *n);

#ifdef __cplusplus
}
#endif
#endif
