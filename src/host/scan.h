// swarm scan: finding the devices on a LAN by their discovery beacons (docs/PROTOCOL.md,
// "Discovery"), and the name cache that lets other commands reach a device by its host name.
//
// A scan listens on UDP 1139 (shared: SO_REUSEADDR + SO_REUSEPORT, so several scanners and
// nodes on one host can run at once) for the beacons devices send every 2 s, and broadcasts a
// query that swarm nodes answer at once, unicast to the querier's own port. It ends a moment
// after the last new answer (settle_ms), at the timeout, or once wait_for devices are known.
// micro-swarm devices only beacon: they are found when a beacon falls within the scan.
//
// Used by `swarm scan` and by commands that act on every device (push).
#ifndef SW_HOST_SCAN_H
#define SW_HOST_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SW_SCAN_PORT 1139
#define SW_SCAN_TIMEOUT_MS 1000       // default scan length limit
#define SW_SCAN_LISTEN_TIMEOUT_MS 2500 // default with no_query: one beacon period and some
#define SW_SCAN_SETTLE_MS 150          // default quiet time that ends a scan
#define SW_SCAN_MAX_DATAGRAM 8192      // longer datagrams are not beacons

// One device, from its beacon (the latest one seen). Strings are NUL-terminated, "" if absent.
typedef struct sw_scan_rec {
    char host[64];     // settings.board.host_name
    char ip[16];       // the datagram's source address (always one of its "ifconfigs")
    char netmask[16];  // the netmask its "ifconfigs" give for that address
    char app[64];      // settings.board.app_name
    char board[64];    // settings.board.hardware_name
    char id[40];       // swarm.id: a swarm node's unique id ("" for micro-swarm devices)
    char node[32];     // swarm.node: swarm-node's version
    char app_hash[72]; // swarm.app_hash (hex)
    bool swarm;        // the beacon has our "swarm" object (a swarm node)
    bool has_uptime;
    uint64_t uptime_ms;
    // TCP ports of the services it offers; 0 = not offered. Swarm nodes say so in
    // swarm.services; for micro-swarm devices they come from settings.boot (*_ENABLE, *_PORT).
    uint16_t rpc_port, ftp_port, telnet_port, eval_port;
    bool mdns;
    bool locked;       // swarm.locked: RPC needs the fleet key (docs/SECURITY.md)
    uint32_t seen_ms;  // when it was first seen, ms after the scan started
    bool answered;     // an answer to our query arrived (not only a periodic beacon)
    char *json;        // the beacon as received, NUL-terminated; owned by the result
    size_t json_len;
    // Found through an MQTT broker (sw_scan_broker): the link that reaches it
    // (mqtt://BROKER:PORT/FLEET/HOST), "" for LAN devices; offline: its retained state is its
    // last will (it is down; host is all that is known).
    char link[320];
    bool offline;
} sw_scan_rec_t;

typedef struct sw_scan_opts {
    uint32_t timeout_ms;      // longest scan (0: the default for the mode)
    uint32_t settle_ms;       // end this long after the last new device and the last query;
                              // 0 = run to the timeout. Not used with no_query.
    uint16_t port;            // beacons' and queries' port (0: 1139)
    bool no_query;            // only listen, as micro-swarm's scanner does
    uint32_t wait_for;        // end as soon as this many devices are known (0: no such end)
    // End as soon as a swarm node with RPC answered under each of these host names (exactly;
    // `swarm push --host`: it takes nothing else from the scan); NULL: no such end.
    const char *const *hosts;
    size_t n_hosts;
    const char *const *to;    // send the query to these IPv4 addresses instead of
    size_t n_to;              //   255.255.255.255 and every interface's broadcast address
    // Called once for each new device, while the scan goes on (may be NULL).
    void (*found)(void *u, const sw_scan_rec_t *r);
    void *u;
    // A scan run in a thread of its own ends within 100 ms once *cancel is true (NULL: no
    // such end), with what it found so far.
    const _Atomic bool *cancel;
} sw_scan_opts_t;

typedef struct sw_scan_result {
    sw_scan_rec_t *recs;  // n devices, in the order they were found (sw_scan_sort: by host)
    size_t n, cap;
    uint32_t elapsed_ms;
    uint32_t datagrams;   // received
    uint32_t rejected;    // not a beacon, or its source is none of its ifconfigs addresses
    uint32_t queries;     // query datagrams that went out
    bool listening;       // the beacon port was bound (else only answers were heard)
    bool hosts_found;     // it ended because every one of opts.hosts was found
} sw_scan_result_t;

void sw_scan_opts_default(sw_scan_opts_t *o);
// Runs one scan. 0 (res filled; free it with sw_scan_result_free), or an SW_E* code with a
// message in err: nothing could be opened (SW_EIO), or no_query and port in use (SW_EBUSY).
int sw_scan_run(const sw_scan_opts_t *o, sw_scan_result_t *res, char *err, size_t errcap);
void sw_scan_result_free(sw_scan_result_t *res);
// The retained states of a broker's fleet (docs/PROTOCOL.md, MQTT): url is
// mqtt[s]://BROKER[:PORT][/FLEET] (no FLEET: every fleet). Appends one record per node, online
// or not, to res (which may hold a LAN scan's records: a node found there already, by its id,
// is not added again). Complete, not timed: a marker the scan publishes to itself after
// subscribing comes back after the last retained state. o->timeout_ms bounds it (0: 5 s).
// 0, or an SW_E* code with a message in err (res keeps what was found).
int sw_scan_broker(const char *url, const sw_scan_opts_t *o, sw_scan_result_t *res, char *err, size_t errcap);
// Adds one broker state (topic swarm/FLEET/HOST/state) to res as sw_scan_broker does; for the
// scan and its fuzz target. 0, or SW_EPROTO (not a state) / SW_EFULL.
int sw_scan_broker_state(const char *broker, const char *topic, const void *p, size_t n, uint32_t seen_ms,
                         sw_scan_result_t *res);

// Sorts by host name, then address.
void sw_scan_sort(sw_scan_result_t *res);
// One datagram from src_ip → rec (rec->json is not set). 0; SW_EPROTO: not a beacon (not a
// JSON object with "ifconfigs", or a query); SW_ENOENT: src_ip is none of its ifconfigs
// addresses (micro-swarm's rule: a beacon speaks only for the address it came from).
int sw_scan_parse(const char *src_ip, const void *p, size_t n, sw_scan_rec_t *rec);

// Where a query goes (o->to, else 255.255.255.255 and each interface's broadcast address):
// up to max IPv4 addresses into out; their number. (Also the dashboard's periodic query.)
struct in_addr;
size_t sw__scan_targets(const sw_scan_opts_t *o, struct in_addr *out, size_t max);

// The name cache: $XDG_CACHE_HOME/swarm/scan.json (default ~/.cache/swarm/scan.json), host name →
// address, RPC port, id, when seen. Every scan merges what it found into it (atomically).
int sw_scan_cache_path(char *buf, size_t cap);
// Natural order of names: runs of digits compare by value (node2 < node10), the rest byte by
// byte. <0, 0, >0 like strcmp.
int sw_name_cmp(const char *a, const char *b);
int sw_scan_cache_store(const sw_scan_result_t *res);
// Looks a host name up (exactly, else ignoring case). 0 with ip and *rpc_port (0 when the
// device has no RPC), SW_ENOENT, or SW_EIO (no cache).
int sw_scan_cache_find(const char *host, char *ip, size_t ipcap, uint16_t *rpc_port);
// The host names in the cache: *names is malloc'd (free(*names) frees the strings too), *n of
// them; 0 also when there is no cache (then *n = 0).
int sw_scan_cache_names(char ***names, size_t *n);

// NAME.local by a one-shot mDNS query of our own (legacy unicast from an ephemeral port, on
// every multicast interface; answers come back to that port), for hosts without nss-mdns.
// 0 with the IPv4 address in ip, SW_ETIMEDOUT, or SW_EIO.
int sw_scan_mdns_lookup(const char *name, char *ip, size_t ipcap, uint32_t timeout_ms);
// Reads an mDNS/DNS response: the first A record of class IN for name (case-insensitive,
// compression followed, bounded). 0 with ip, or SW_ENOENT / SW_EPROTO.
int sw_scan_mdns_answer(const uint8_t *p, size_t n, const char *name, char *ip, size_t ipcap);

#endif
