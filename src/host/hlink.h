// swarm host links: a connection to one device (or to a multiplexer) named by a URI, framed the
// way the URI says, carrying an RPC session in the client role. Every CLI command and the mux
// use it. Runs on a libuv loop; all callbacks come from that loop.
//
// URIs (docs/swarm.1, "LINKS"):
//   tcp://HOST[:PORT]          TCP, lossless stream; PORT defaults to 27587
//   unix:///path/mux.sock      a multiplexer's Unix socket, lossless stream
//   serial:///dev/ttyX?baud=115200&mode=lossy|lossless&start=0xc1&window=16&timeout=300&max_msg=1024
//                              a serial line: lossless stream (default) or SerialPacker +
//                              Reliable (mode=lossy; start: 0xc1 default, 0x85, or "none";
//                              window, timeout (ms) and max_msg: Reliable's, see sw_uri_t)
//   mqtt://BROKER[:PORT]/FLEET/HOST   a node through an MQTT broker (docs/PROTOCOL.md, MQTT);
//   mqtts://BROKER[:PORT]/FLEET/HOST  the same over TLS (PORT 1883 / 8883)
//   HOST or HOST:PORT          a bare name: the scan cache, then HOST.local, then DNS → tcp://
#ifndef SW_HOST_HLINK_H
#define SW_HOST_HLINK_H

#include <uv.h>

#include "swarm/msg.h"
#include "swarm/rel.h"
#include "swarm/rpc.h"
#include "swarm/sp.h"

enum { SW_URI_TCP = 1, SW_URI_UNIX = 2, SW_URI_SERIAL = 3, SW_URI_MQTT = 4 };

typedef struct sw_uri {
    int kind;          // SW_URI_*
    char host[256];    // TCP, MQTT (the broker): name or address (IPv6 in brackets in the URI, without here)
    uint16_t port;     // TCP, MQTT
    bool tls;          // MQTT: mqtts://
    char fleet[64];    // MQTT: the fleet's topic level
    char node[64];     // MQTT: the node's host name (its topic level)
    char path[256];    // UNIX: socket path; SERIAL: device path
    uint32_t baud;     // SERIAL: default 115200
    bool lossy;        // SERIAL: mode=lossy
    int start;         // SERIAL lossy: start byte, or -1 for none (default 0xC1)
    // SERIAL lossy, Reliable's settings for this link; 0 = the default. The link uses the
    // smaller window and the larger timeout of the two sides.
    uint8_t window;      // 4..SW_REL_MAX_WINDOW; default SW_HLINK_SERIAL_WINDOW
    uint32_t timeout_ms; // 1..600000; default derived from the baud rate (rel.h)
    uint16_t max_msg;    // largest payload, 16..SW_HLINK_SERIAL_MAX_MSG; default that maximum
} sw_uri_t;

#define SW_HLINK_SERIAL_WINDOW 16    // Reliable window of a lossy serial link
#define SW_HLINK_SERIAL_MAX_MSG 8192 // largest Reliable payload the host accepts

// Parses a link URI. A bare HOST[:PORT] becomes tcp:// (name resolution happens at connect).
// Returns 0, or SW_EINVAL with a message for the user in err ("unknown scheme 'x' (use tcp://,
// unix:// or serial://)").
int sw_uri_parse(const char *s, sw_uri_t *u, char *err, size_t errcap);
// The canonical text of a URI (for messages): "tcp://host:27587".
void sw_uri_format(const sw_uri_t *u, char *buf, size_t cap);

typedef struct sw_hlink sw_hlink_t;

// An answer to a call: REPLY, ERROR, STREAM (more may follow) or END; or m == NULL with err set
// (SW_ECLOSED: the link went down; SW_ETIMEDOUT; SW_ECANCELED).
typedef void (*sw_hlink_answer_fn)(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

typedef struct sw_hlink_cbs {
    // The link became usable (connected; on lossy lines: Reliable handshake done) or was lost.
    // err says why it was lost (0 for an orderly close). May be NULL.
    void (*state)(void *u, sw_hlink_t *l, bool up, int err);
    // Unsolicited messages from the peer: {"a":"link","d":…}, {"a":"error","d":…}, … May be NULL.
    void (*notify)(void *u, sw_hlink_t *l, const sw_msg_t *m);
    // Console bytes from the device (outside messages). May be NULL.
    void (*console)(void *u, sw_hlink_t *l, const uint8_t *p, size_t n);
    void *u;
} sw_hlink_cbs_t;

typedef struct sw_hlink_opts {
    bool reconnect;            // keep reconnecting after a loss / failed connect (the mux)
    uint32_t backoff_ms;       // first retry delay; default 1000
    uint32_t backoff_max_ms;   // default 20000
    double backoff_factor;     // default 1.4
    uint32_t connect_timeout_ms; // default 5000
    uint32_t max_msg;          // largest message accepted/sent (host side); default 1 MiB
    uint16_t max_pending;      // requests in flight; default 256
} sw_hlink_opts_t;

void sw_hlink_opts_default(sw_hlink_opts_t *o);

// Opens (starts connecting) a link. Returns 0 and *out, or an error with a message in err.
// Without reconnect, a failed connect reports state(up=false, err) and the link stays down.
int sw_hlink_open(uv_loop_t *loop, const char *uri, const sw_hlink_opts_t *o,
                  const sw_hlink_cbs_t *cbs, sw_hlink_t **out, char *err, size_t errcap);
// Closes and frees the link (pending calls get SW_ECANCELED first). Safe inside callbacks.
void sw_hlink_close(sw_hlink_t *l);

bool sw_hlink_is_up(const sw_hlink_t *l);
const sw_uri_t *sw_hlink_uri(const sw_hlink_t *l);
// True when the last connect failed because no resolver knew the host name (a TCP link whose
// name was in neither the scan cache, mDNS nor DNS).
bool sw_hlink_unresolved(const sw_hlink_t *l);
// Serial links: true once the line was opened and set up (a failure after that is about what
// runs on the other end, not about the device file).
bool sw_hlink_line_opened(const sw_hlink_t *l);
// Largest message the link carries right now (lossy lines: the Reliable payload limit).
size_t sw_hlink_max_msg(const sw_hlink_t *l);
// Requests in flight, and bytes queued towards the peer (to pace pipelined transfers).
size_t sw_hlink_pending(const sw_hlink_t *l);
size_t sw_hlink_queued(const sw_hlink_t *l);
// Lossy serial links: messages waiting for the Reliable layer to take them (it takes one when
// its window has room and the line is about to fall idle); 0 on other links. A caller that
// builds its messages from what the link reports (the transfer engine's chunk) builds the
// next one only when none waits, and sw_hlink_on_room() tells it when the last one was taken:
// a message that waits was built for the line as it was then. fn replaces the link's one
// room callback (with several transfers on a link, as a push has, the others go on cutting
// at their answers: each stops only with requests out); fn NULL clears it if it was
// registered with u. It runs from the link's timer, never inside a send.
typedef void (*sw_hlink_room_fn)(void *u, sw_hlink_t *l);
size_t sw_hlink_waiting(const sw_hlink_t *l);
void sw_hlink_on_room(sw_hlink_t *l, sw_hlink_room_fn fn, void *u);
// Lossy serial links: what the framing and the Reliable layer counted since the line was
// opened (a reconnect starts again from 0), for callers that adapt to the line (e.g. the transfer
// engine's chunk size). Returns false, *st zeroed, for other links.
typedef struct sw_hlink_stats {
    sw_rel_stats_t rel;   // messages sent, retransmitted, delivered, duplicates …
    sw_sp_stats_t frames; // frames received intact and dropped (bad CRC, length, idle)
    uint32_t timeout_ms;  // Reliable's retransmit timeout in force (0 while down)
    uint8_t window;       // Reliable's window in force (0 while down)
    uint32_t waited_max;  // the most messages that waited for Reliable at once (since the
                          // link opened: sw_hlink_waiting)
} sw_hlink_stats_t;
bool sw_hlink_stats(const sw_hlink_t *l, sw_hlink_stats_t *st);
// The last error text the link knows (connect failure etc.), for messages; never NULL.
const char *sw_hlink_error(const sw_hlink_t *l);
// Its code (SW_EAUTH: the authenticated handshake failed, e.g. a wrong key); 0 if none.
int sw_hlink_error_code(const sw_hlink_t *l);
// Whether the link authenticates (TCP, and the host has a key: docs/SECURITY.md).
bool sw_hlink_secure(const sw_hlink_t *l);
// Whether the host has no key for this link's device (it talks plain to whatever answers).
bool sw_hlink_keyless(const sw_hlink_t *l);
// A plain lossless serial link (a host without a key) where the device stays silent: asks
// whether a locked swarm-node is there (it reads nothing but a handshake). Sends the
// authenticated mode's preamble and a stand-in for the handshake message that a locked node
// refuses ("not an authenticated client") and an open node skips, then waits up to wait_ms for
// the node's answer mark. True if it answered "locked". For reporting a failure only: a
// MoaT device that is not a swarm-node gets 54 bytes it does not understand. False (nothing
// sent) for any other link.
bool sw_hlink_line_locked(sw_hlink_t *l, uint32_t wait_ms);
// How long callers give the probe: the mark comes back as soon as the node has read the
// preamble (54 bytes out, 4 back: 60 ms at 9600 baud).
#define SW_HLINK_PROBE_MS 2000
// The same probe for callers that run on the loop and may not block it (push, dashboard):
// sends it and calls fn(u, l, locked) once the node's answer mark comes (locked false: an open
// node answered). The caller times the wait (a device that is not a swarm-node never answers)
// and, when it gives up, closes the link or calls sw_hlink_probe_cancel (the mark is no longer
// looked for in what the line brings); fn is not called after either. False (nothing sent, fn
// never called) for any other link, as above, and while a probe is under way.
typedef void (*sw_hlink_probe_fn)(void *u, sw_hlink_t *l, bool locked);
bool sw_hlink_probe_locked(sw_hlink_t *l, sw_hlink_probe_fn fn, void *u);
void sw_hlink_probe_cancel(sw_hlink_t *l);

// Whether a call of dotted (without arguments) would go out now: 0, or what sw_hlink_call would
// return without sending it (SW_ECLOSED closing; SW_EAUTH, the error text set, when the host
// refuses it: a device that answered open although the host holds a key, docs/SECURITY.md).
// For dry runs, which report what the real run would do.
int sw_hlink_gate(sw_hlink_t *l, const char *dotted);

// Calls a command: d = raw MsgPack of the arguments (empty span: {}), r_ms > 0 for a stream.
// Returns the seq (> 0) or an error (SW_ECLOSED when down, SW_EFULL when max_pending are in
// flight, SW_ETOOBIG). fn gets every answer.
int64_t sw_hlink_call(sw_hlink_t *l, const char *dotted, sw_span_t d, int64_t r_ms,
                      sw_hlink_answer_fn fn, void *u);
// Same with a raw action item (the multiplexer forwards clients' actions as they came). action
// and d must each be one whole MsgPack item, as sw_msg_decode's spans are: they are not walked
// again (that was 8 % of the mux's work per call).
int64_t sw_hlink_call_raw(sw_hlink_t *l, sw_span_t action, sw_span_t d, int64_t r_ms,
                          sw_hlink_answer_fn fn, void *u);
// Sends a notification (a request without "i", answered by nobody) with a raw action item and
// raw d (empty span: {}). Returns 0, SW_ECLOSED when down, SW_EINVAL, SW_ETOOBIG.
int sw_hlink_notify_raw(sw_hlink_t *l, sw_span_t action, sw_span_t d);
// Stops a call and tells the peer ({"i": seq}: a stream ends, and the device stops the work a
// plain request started, such as an eval). fn is not called again.
void sw_hlink_cancel(sw_hlink_t *l, int64_t seq);
// Holds back the bytes the link writes until sw_hlink_uncork(), which sends them in one write
// (a mux corks while it turns a loop turn's worth of client requests into calls: one system
// call instead of one per request). Not counted: one uncork ends any number of corks.
void sw_hlink_cork(sw_hlink_t *l);
void sw_hlink_uncork(sw_hlink_t *l);
// Writes console input bytes to the device (serial links; others: SW_ENOTSUP).
int sw_hlink_write_console(sw_hlink_t *l, const uint8_t *p, size_t n);

// For one-shot commands: runs the loop until the link is up (or failed / timed out).
int sw_hlink_wait_up(sw_hlink_t *l, uint32_t timeout_ms);
// Runs the loop until the call's final answer. On success the reply's d (raw MsgPack) is
// copied into result; on a remote error, SW_EREMOTE with the error text in err; on link
// failure or timeout the SW_E* code with a message in err.
int sw_hlink_call_sync(sw_hlink_t *l, const char *dotted, sw_span_t d, uint32_t timeout_ms,
                       sw_mpw_t *result, char *err, size_t errcap);

#endif
