// swarm discovery datagrams (docs/PROTOCOL.md, "Discovery"): the beacon a node broadcasts —
// micro-swarm's JSON object with its keys, plus ours under "swarm" — and the query `swarm scan`
// broadcasts so that nodes answer at once instead of at their next beacon. Pure functions: the
// node gathers the facts (interfaces, config, uptime), these write and read the bytes.
#ifndef SWARM_BEACON_H
#define SWARM_BEACON_H

#include "swarm/json.h"
#include "swarm/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_BEACON_PORT 1139     // micro-swarm's UDP port (default of boot.BEACON_DESTINATION_PORT)
#define SW_BEACON_MAX 1400      // bytes: the longest beacon written (one datagram on any LAN)
#define SW_BEACON_QUERY_MAX 512 // bytes: longer datagrams are not queries (not even parsed)
#define SW_BEACON_V 1           // version of our additions ("swarm": {"v": 1}) and of the query

// What goes into a beacon. Strings are NUL-terminated and only read during the call; NULL
// strings are written as null (versions.app, swarm.app_hash) or "" (the others).
typedef struct sw_beacon_info {
    const sw_netif_t *ifs;  // "ifconfigs": [[addr, netmask, "0.0.0.0", "0.0.0.0"], …] in order
    size_t n_ifs;
    sw_span_t board;        // raw MsgPack of the config's "board" map → settings.board
    sw_span_t boot;         // raw MsgPack of the config's "boot" map → settings.boot
                            // (an empty span is written as {})
    const char *app_version;  // versions.app
    const char *boot_version; // versions.boot (micro-swarm: settings.VERSION)
    // versions.micropython: os.uname()'s fields in micro-swarm; ours describe the node
    const char *sysname, *nodename, *release, *version, *machine;
    // "swarm": ours
    const char *id;         // a stable unique id of this node (hex), for telling nodes apart
    const char *node;       // swarm-node's version
    const char *app_hash;   // hex of the app's content hash
    uint64_t uptime_ms;
    int32_t rpc_port;       // services: > 0 the TCP port, else false
    int32_t ftp_port, telnet_port, eval_port;
    bool mdns;
    bool locked; // authenticated mode: "locked": true in "swarm" (left out when false)
} sw_beacon_info_t;

// What sw_beacon_write() left out to stay within SW_BEACON_MAX.
enum {
    SW_BEACON_CUT_IFS = 1 << 0,      // interfaces after the first
    SW_BEACON_CUT_SETTINGS = 1 << 1, // board keys other than those micro-swarm's tools read
};

// Writes the beacon JSON (compact) into buf, NUL-terminated; at most SW_BEACON_MAX bytes are
// used whatever cap is. Of the config maps only what discovery needs is sent: settings.boot
// holds VERSION and the *_ENABLE / *_PORT of FTPD, TELNET, REMOTE_EVAL and MDNS_ENABLE,
// settings.board name, device_name, host_name, app_name and hardware_name; other keys never
// leave the node. If the whole beacon does not fit, the interfaces after the first are
// dropped, then settings.board is cut down to the keys scanners read (host_name, app_name,
// hardware_name). *cut (may be NULL) gets SW_BEACON_CUT_* bits. Returns the length,
// SW_EFULL (does not fit even then), or SW_EPROTO (board or boot is not one MsgPack item).
int sw_beacon_write(char *buf, size_t cap, const sw_beacon_info_t *bi, unsigned *cut);

typedef struct sw_beacon_query {
    uint32_t v;  // the querier's version (>= 1)
    uint64_t id; // chosen by the querier, echoed nowhere: it tells repeated queries apart
} sw_beacon_query_t;

// Classifies one datagram. 0 and *q: a query, i.e. one JSON object with "type": "query",
// "v": integer >= 1 and "id": integer 0 .. 2^53-1 (other keys are ignored, the first of
// repeated keys counts). Otherwise (nothing is written to *q):
//   SW_ENOENT   valid JSON (as far as read) that is not a query: a beacon, another "type"
//   SW_ETOOBIG  longer than SW_BEACON_QUERY_MAX bytes (beacons are; never parsed)
//   SW_EPROTO / SW_EDEPTH   not JSON, or not an object
//   SW_ETYPE    "type" is "query" but v or id is missing, of the wrong type or out of range
int sw_beacon_read_query(const void *p, size_t n, sw_beacon_query_t *q);
// Writes {"type":"query","v":1,"id":N} (N <= 2^53-1). Returns the length or SW_EFULL /
// SW_ERANGE.
int sw_beacon_write_query(char *buf, size_t cap, uint64_t id);

#ifdef __cplusplus
}
#endif
#endif
