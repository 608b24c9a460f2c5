// swarm multiplexer: owns the one link to a device and shares it with any number of clients on
// a Unix socket, all speaking the same protocol (lossless MsgPack stream). Each client's
// requests are re-issued on the device link with the mux's own sequence numbers and every
// answer goes back to that client under the client's number. Link changes are announced with
// {"d": up, "a": "link"}; mplex.* actions are answered by the mux itself. docs/PROTOCOL.md,
// "Multiplexer"; `swarm mux` (src/host/cli_mux.c) is the command around it.
#ifndef SW_HOST_MUX_H
#define SW_HOST_MUX_H

#include <uv.h>

#include "swarm/sw.h"

typedef struct sw_mux sw_mux_t;

typedef struct sw_mux_opts {
    const char *link;         // the device's URI (tcp://, serial://, …); required
    const char *socket;       // path of the Unix socket to serve; required
    uint32_t wdt_s;           // > 0: start the device's watchdog with t = wdt_s seconds on every
                              // link up and feed it every wdt_s/2 seconds; 0 (default): off
    uint32_t backoff_ms;      // reconnect delay after a loss, first try; default 1000
    uint32_t backoff_max_ms;  // the delay grows ×1.4 up to this; default 20000
    uint32_t boot_timeout_ms; // mplex.boot: how long the device may take to come back; 60000
    uint16_t max_clients;     // clients at once (more are refused at accept); default 256
    uint32_t console_size;    // ring buffer for the device's console bytes; default 65536
    uint32_t max_msg;         // largest message from a client or the device; default 1 MiB
    int verbose;              // > 0: also log client connects and disconnects
    // Event lines ("device link up", …) without a newline. NULL: "swarm mux: …" on stderr.
    void (*log)(void *u, const char *line);
    void *log_u;
} sw_mux_opts_t;

void sw_mux_opts_default(sw_mux_opts_t *o);

// Starts a multiplexer on loop: checks and binds the socket (a stale socket file nobody
// listens on is removed; a socket another process serves is refused with SW_EBUSY), then
// starts connecting the device link (reconnecting with back-off for as long as it runs).
// Returns 0 and *out, or an SW_E* code with a message for the user in err.
int sw_mux_open(uv_loop_t *loop, const sw_mux_opts_t *o, sw_mux_t **out, char *err,
                size_t errcap);
// Stops: clients are disconnected (their streams cancelled at the device), the device link is
// closed, the socket file removed. The mux frees itself once its handles are closed, so the
// loop simply runs out. Safe inside callbacks; a second call does nothing.
void sw_mux_close(sw_mux_t *m);

// Counters (mplex.info reports them as "stats").
typedef struct sw_mux_stats {
    uint64_t requests;  // client requests forwarded to the device
    uint64_t replies;   // final answers relayed (reply, error, end)
    uint64_t values;    // stream values relayed
    uint64_t errors;    // errors the mux made up (link down, bad request, …)
    uint64_t notifies;  // notifications forwarded in either direction
    uint64_t cancels;   // requests / streams cancelled (by a client or its disconnect)
    uint64_t queued;    // requests that waited for a free slot on the device link
    uint64_t clients;   // clients accepted since the start
    uint64_t refused;   // clients refused (max_clients)
    uint64_t link_ups, link_downs;
    uint64_t console;   // console bytes received from the device
    uint64_t cfg;       // config applies the device announced (its mplex.cfg notification)
} sw_mux_stats_t;

const sw_mux_stats_t *sw_mux_stats(const sw_mux_t *m);
bool sw_mux_link_up(const sw_mux_t *m);
unsigned sw_mux_clients(const sw_mux_t *m);

#endif
