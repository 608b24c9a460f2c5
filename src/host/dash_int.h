// swarm dashboard internals shared by dash.c (pages, calls, pushes, the server) and
// dash_fleet.c (the node table and its sources). Not a public contract.
#ifndef SW_HOST_DASH_INT_H
#define SW_HOST_DASH_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "dash.h"
#include "hlink.h"
#include "push.h"

struct lws;
struct lws_context;

typedef struct dash dash_t;
typedef struct client client_t;
typedef struct dnode dnode_t;
typedef struct dcall dcall_t;

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    unsigned char buf[]; // LWS_PRE + len
} outmsg_t;

struct client {
    dash_t *d;
    struct lws *wsi;
    client_t *next;
    outmsg_t *head, *tail;
    size_t queued;
    bool dropping; // over its queue bound: being closed
    char *rx;      // the message being received (fragments)
    size_t rx_len;
    bool rx_bad;   // a binary or over-long message: closing
    int calls;
};

// One call of a page on a node's link. Waits in the node's queue while the link comes up.
struct dcall {
    dcall_t *next;      // dash's list
    dash_t *d;
    client_t *c;        // NULL once the page left
    dnode_t *n;
    int64_t id;         // the page's id
    int64_t seq;        // on the link (0: not sent yet)
    uint8_t *args;      // MsgPack of the arguments until sent
    size_t args_len;
    char path[SW_DASH_PATH_MAX];
    uint32_t every_ms;
    uint64_t t0;        // loop time it was made
};

struct dnode {
    dash_t *d;
    char key[SW_DASH_KEY_MAX];
    char name[64], ip[64], app[64], board[64], node[32], hash[72], uri[320], source[8];
    char id[40], host[64]; // identity: swarm id ("" unknown or none), the node's own host name
    uint16_t port;
    bool locked, swarm, online, fixed; // fixed: a --link or config device (kept connected)
    bool bus;                          // reached through a broker: online until its last will
    bool has_uptime;
    uint64_t uptime_ms, seen;          // seen: loop ms of the last sign of life
    sw_hlink_t *link;
    bool link_up;
    // A keyless lossless line whose call got no answer is asked whether a locked node is there
    // (sw_hlink_probe_locked): its timed-out calls wait for the answer, at most SW_HLINK_PROBE_MS.
    bool probing;
    bool nokey_locked;                 // it said so: calls fail at once with what to do
    uint64_t probe_t0;
};

struct dash {
    const sw_dash_opts_t *o;
    uv_loop_t loop;
    struct lws_context *ctx;
    char token[80];
    bool need_token;
    uint16_t port;
    client_t *clients;
    int nclients;
    dnode_t **nodes;
    size_t n;
    size_t n_fixed;       // the --link and config devices: the first rows (added before the
                          // loop runs; never evicted or merged away)
    dcall_t *calls;
    uv_udp_t lsock, qsock;
    bool lsock_on, qsock_on;
    uv_timer_t tick;
    uint64_t last_query;
    uv_signal_t sig_int, sig_term;
    bool stopping;
    size_t n_sources_on;  // sources started (their stop() is due)
    // the push that runs (one at a time)
    sw_push_t *push;
    sw_push_dev_t *pdevs;
    char (*pkeys)[SW_DASH_KEY_MAX]; // the node key of each pdevs[i]
    size_t npdevs;
    client_t *push_client;
    int64_t push_id;
    uv_check_t push_check;
    char push_project[256];
};

// Loop time in ms.
static inline uint64_t sw__dash_now(const dash_t *d) { return uv_now((uv_loop_t *)&d->loop); }

// ---- dash.c
// Sends j (taken) to every page.
void sw__dash_broadcast(dash_t *d, cJSON *j);
// Fails the calls waiting for n's link to come up, with why.
void sw__dash_calls_fail_node(dnode_t *n, const char *why);

// ---- dash_fleet.c: the node table, the LAN discovery, the sources
// Adds a device's string to o, escaped to printable UTF-8 (a WebSocket text frame must be
// UTF-8; a device's bytes need not be).
void sw__dash_add_str(cJSON *o, const char *k, const char *v);
cJSON *sw__dash_node_json(const dnode_t *n);
// Tells every page about n.
void sw__dash_node_changed(dnode_t *n);
// {"ev": "fleet", "nodes": [...]}
cJSON *sw__dash_fleet_json(dash_t *d);
dnode_t *sw__dash_node_find(dash_t *d, const char *key);
// A new entry (bounded: SW_DASH_NODES_MAX, the stalest offline LAN node gives way); NULL if
// there is no room.
dnode_t *sw__dash_node_add(dash_t *d, const char *key);
void sw__dash_set_online(dnode_t *n, bool on);
// found() of the sources (sw_dash_source_t).
struct sw_scan_rec;
void sw__dash_on_source(void *dash, const struct sw_scan_rec *r);
// Whether the row n stands for the same node as another row now that n's identity is known
// (a config device's sys.info and sys.beacon: host name, swarm id): the other row, listed
// from the LAN or a broker before, is merged into n.
void sw__dash_merge(dnode_t *n);
// The discovery query, now.
void sw__dash_send_query(dash_t *d);
// Opens the beacon and query sockets and sends the first query. 0 or SW_EIO (message in err).
int sw__dash_scan_start(dash_t *d, char *err, size_t errcap);

#endif
