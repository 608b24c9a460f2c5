// A simulated port for node tests (tests/node): include/swarm/port.h implemented with a virtual
// clock, one scripted byte link (the node's stdio link, with a write queue of a chosen capacity)
// and a RAM file system that outlives the node, so a test can reset it and boot it again on the
// same files. No OS is touched: the test is the port's loop — it feeds bytes, reads what the
// node wrote, reports the queue drained and moves the clock.
#ifndef SW_SIM_PORT_H
#define SW_SIM_PORT_H

#include "swarm/msg.h"
#include "swarm/node.h"
#include "swarm/port.h"
#include "swarm/stream.h"

#define SIM_FDS 16
#define SIM_MSGS 2048       // decoded messages kept from the node
#define SIM_OUT (1u << 20)  // bytes of the link's buffer (its capacity is sim.cap)
#define SIM_IN (1u << 20)   // bytes from the peer not yet delivered to the node
#define SIM_CHUNK 256       // bytes per sw_node_data() call, like a port's receive ring (<= SW_NODE_LINK_INQ)

typedef struct sim_file sim_file_t;
struct sim_file {
    sim_file_t *next;
    char path[SW_NAME_MAX + 1 + 256];
    uint8_t type;      // SW_FT_FILE / SW_FT_DIR
    uint8_t *data;
    size_t len, cap;
    bool linked;       // reachable by its path (else only through open handles)
    int open;          // handles on it
};

typedef struct sim_conn {
    sw_conn_t pub;     // first
    bool open, closing, close_reported, paused;
    uint8_t *out;      // what the node wrote and the peer has not read
    size_t out_len;
    size_t refused;    // conn_write calls answered SW_EAGAIN
    uint8_t *in;       // from the peer, delivered in SIM_CHUNK pieces while not paused
    size_t in_len, in_off;
} sim_conn_t;

typedef struct sim_msg {
    uint8_t *p;
    size_t n;
    sw_msg_t m;        // spans point into p
} sim_msg_t;

typedef struct sim {
    sw_port_t port;
    sw_node_t *node;
    sw_node_opts_t opts;

    uint32_t now;      // virtual clock, ms
    uint32_t due;      // wake_at() target
    bool armed;
    int reset_how;     // last reset the node asked for (0: none)
    int resets;

    sim_file_t *files; // the RAM file system (survives reboots)
    sim_file_t *fds[SIM_FDS];
    int fd_flags[SIM_FDS];

    size_t cap;        // the link's capacity (conn_room of an empty queue), bytes
    sim_conn_t conn;
    sw_stream_rx_t rx; // the peer's decoder of what the node sends
    uint8_t rxbuf[1u << 17];
    sim_msg_t msgs[SIM_MSGS];
    size_t nmsgs;

    size_t heap[2];    // bytes allocated per pool (SW_POOL_*)
    size_t heap_peak[2];
    char log[1u << 18]; // every log line, '\n'-terminated
    size_t log_len;
    uint32_t rnd;
} sim_t;

// Sets up the port (empty RAM fs, link capacity cap bytes) and boots a node with the stdio
// link on it. Returns the node's start result.
int sim_init(sim_t *s, size_t cap);
// Boots a node on the port (again, after sim_stop()).
int sim_boot(sim_t *s);
// Stops the node the way a port does on a reset: stop, report the link closed, destroy.
void sim_stop(sim_t *s);
// Stops the node and frees the RAM fs.
void sim_free(sim_t *s);

// Bytes from the peer to the node: delivered at once in SIM_CHUNK pieces until the node pauses
// the link; the rest when it resumes (sim_settle).
void sim_send(sim_t *s, const void *p, size_t n);
// The peer reads everything queued (decoding the messages into s->msgs) and, if there was
// something, the port reports the queue drained. Returns the bytes read.
size_t sim_read(sim_t *s);
// Moves the virtual clock forward by ms, running the node's timers when due (in order).
void sim_advance(sim_t *s, uint32_t ms);
// Reads and runs timers until nothing changes (at most `rounds` times), without moving the
// clock beyond what is already due.
void sim_settle(sim_t *s);

// Sends request {"a": dotted, "d": args (raw MsgPack, NULL: {}), "i": seq} and returns seq.
int64_t sim_request(sim_t *s, const char *dotted, const uint8_t *args, size_t n);
// The message answering seq (REPLY, ERROR; the first STREAM for streams), NULL if none yet.
const sim_msg_t *sim_answer(const sim_t *s, int64_t seq);
// request + settle + answer; fails the test if there is no answer.
const sim_msg_t *sim_call(sim_t *s, const char *dotted, const uint8_t *args, size_t n);
// Renders a raw MsgPack item as compact JSON into a static buffer (for assertions).
const char *sim_json(sw_span_t v);
bool sim_logged(const sim_t *s, const char *text);

// RAM fs helpers for tests: write a whole file (creating folders), read one (NULL: missing).
void sim_put(sim_t *s, const char *path, const char *text);
const sim_file_t *sim_file(const sim_t *s, const char *path);

// The port's file operations, for the fs conformance checks.
extern const sw_port_ops_t sim_ops;

#endif
