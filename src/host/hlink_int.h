// Internals of the host link shared by hlink.c (session, calls, lifecycle) and hlink_io.c
// (transports and framing). Not a public contract.
#ifndef SW_HOST_HLINK_INT_H
#define SW_HOST_HLINK_INT_H

#include <netdb.h>

#include "hlink.h"
#include "swarm/rel.h"
#include "swarm/sp.h"
#include "swarm/stream.h"

#define SW_HLINK_REL_MAX_MSG ((uint32_t)SW_HLINK_SERIAL_MAX_MSG) // largest Reliable payload
#define SW_HLINK_QUEUE_MSGS 256u        // lossy: messages waiting for the Reliable window…
#define SW_HLINK_QUEUE_BYTES (256u << 10) // …and their bytes
#ifndef SW_HLINK_TX_AHEAD_MS
#define SW_HLINK_TX_AHEAD_MS 30u // lossy: line time of frames we let wait in the tty (ms)
#endif
#define SW_HLINK_LINGER_MS 2000u        // a closing connection flushes for at most this long
#define SW_HLINK_RBUF 65536u            // bytes read at a time

typedef struct sw_hconn sw_hconn_t;

// A call in flight: the pending slot of the RPC session points here.
#define SW_HLINK_SPARE 64 // finished calls a link keeps for reuse (a mux makes one per call)
typedef struct sw_hcall {
    struct sw_hcall *next, *prev;
    int64_t seq;
    bool stream;
    sw_hlink_answer_fn fn;
    void *u;
} sw_hcall_t;

// Lossy links: a message waiting for room in the Reliable window.
typedef struct sw_hqmsg {
    struct sw_hqmsg *next;
    size_t n;
    uint8_t p[];
} sw_hqmsg_t;

// One connection (or connection attempt). It outlives its link while it flushes on close,
// so it only points back to the link while attached (l != NULL).
struct sw_hconn {
    sw_hlink_t *l;
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } io;
    uv_timer_t linger;
    uv_connect_t creq;
    int handles;        // initialised handles not yet closed
    bool connected, reading, ending, closed;
    size_t inflight;    // bytes of uv_writes not finished
    uint8_t rbuf[SW_HLINK_RBUF];
};

struct sw_hlink {
    uv_loop_t *loop;
    sw_uri_t uri;
    char name[300];          // canonical URI text, for messages
    sw_hlink_opts_t o;
    sw_hlink_cbs_t cbs;
    char err[512];           // last error text
    int last_err;
    bool unresolved;         // the last attempt failed because the host name is unknown
    bool line_opened;        // serial: the line was opened (and set up) at least once
    bool peer_lossy;         // lossless serial: a valid SerialPacker frame came (a --lossy node)
    uint8_t sniff[320];      // lossless serial: the side deframer that looks for those frames

    bool closing;            // sw_hlink_close() was called: no more user callbacks but fn
    bool up;
    bool down_reported;      // state(false) told since the last up (or since open)
    unsigned fails;          // connect attempts that failed (wait_up watches it)
    int holds;               // handles / requests / sync waits not finished; freed at 0
    uint32_t backoff_ms;     // the next reconnect delay
    uv_timer_t t_conn;       // connect start, connect timeout, reconnect delay
    uv_timer_t t_rel;        // lossy: Reliable timers and the SerialPacker idle tick
    uv_timer_t t_sync;       // timeouts of the blocking helpers
    bool sync_expired;
    int syncing;             // blocking helpers waiting (they need the loop to return)

    // transport
    sw_hconn_t *conn;        // current connection or attempt
    bool corked;             // sw_hlink_cork(): writes gather in cork[] until uncorked
    uint8_t *cork;
    size_t cork_len, cork_cap;
    struct sw_hgai *gai;     // TCP: the name lookup under way (abandoned ones free themselves)
    struct addrinfo *ai;     // TCP: addresses found…
    struct addrinfo *ai_next;// …and the next one to try
    bool connecting;         // an attempt is under way (timer armed or connect pending)

    // framing
    sw_stream_rx_t srx;
    sw_sp_cfg_t spcfg;
    sw_sp_rx_t sprx;
    sw_rel_t rel;
    uint8_t *rel_store;
    size_t rel_store_size;
    uint8_t *rxbuf;
    size_t rxcap;
    uint8_t *frame;          // lossy: one frame being written
    size_t frame_cap;
    sw_hqmsg_t *q_head, *q_tail;
    size_t q_msgs, q_bytes;
    size_t q_max;            // the most messages that waited at once, since the link opened
    sw_hlink_room_fn room_fn; // told when Reliable took the last queued message
    void *room_u;
    bool in_rel;             // inside the Reliable layer (its callbacks may not poll it)
    bool kicked;             // a callback asked for the layer to be serviced again
    bool tick_due;           // bytes came: run the SerialPacker idle check after idle_ms

    // authenticated mode (hsec.c): links of a host that has a key for the device
    bool has_key;
    bool key_optional;       // the fleet key, device not known locked: plain if it says open
    bool plain;              // it said open: this link talks plain from now on
    bool allow_open;         // the user allows commands that change a device that answered
                             // open although the host has a key (SWARM_ALLOW_OPEN, --allow-open)
    bool hunting;            // lossless serial: skipping to the node's answer mark (noise.h)
    uint32_t hunt_win;
    uint8_t probe;           // sw_hlink_line_locked(), sw_hlink_probe_locked(): SW__PROBE_*
    sw_hlink_probe_fn probe_fn; // sw_hlink_probe_locked(): told once when the mark comes
    void *probe_u;
    char dev[200];           // the device as the user named it (per-device key, locked record)
    uint8_t key[32];
    struct sw_seclink *sec;  // the Noise session of the current connection

    // mqtt:// links (hlink_mqtt.c)
    struct sw_uvmq *mq;      // the broker connection of the current attempt
    bool mq_broker_up;       // the broker took the session (the node may still be unknown)
    char mq_client[48];      // our client id: the reply topic's last level
    struct sw_noise *mq_nz;  // has_key: the Noise session through the broker (sealed messages)
    uint8_t *mq_buf;         // one answer opened (max_msg), then one request sealed

    // RPC session, client role
    sw_rpc_t rpc;
    uint8_t *out;
    sw_rpc_pending_t *pending;
    sw_hcall_t calls;        // circular list head
    sw_hcall_t *spare;       // finished calls kept for the next ones (SW_HLINK_SPARE at most)
    unsigned nspare;
};

// hlink.c
void sw__hlink_set_error(sw_hlink_t *l, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint32_t sw__hlink_now(const sw_hlink_t *l);
void sw__hlink_connected(sw_hlink_t *l);            // transport usable (stream: link up)
void sw__hlink_lost(sw_hlink_t *l, int err);        // the connection ended or failed
void sw__hlink_attempt_failed(sw_hlink_t *l, int err); // a connect attempt gave up
void sw__hlink_up(sw_hlink_t *l);                   // lossy: Reliable handshake done
void sw__hlink_rel_down(sw_hlink_t *l);             // lossy: Reliable went down
void sw__hlink_msg(sw_hlink_t *l, const uint8_t *p, size_t n);     // one message in
void sw__hlink_console(sw_hlink_t *l, const uint8_t *p, size_t n); // console bytes in
void sw__hlink_release(sw_hlink_t *l);              // one hold ended
void sw__hlink_wake(sw_hlink_t *l);                 // something a blocking helper waits for

// hlink_io.c
void sw__hlink_start_connect(sw_hlink_t *l);        // one attempt, by the URI's kind
void sw__hlink_conn_end(sw_hconn_t *c, bool flush); // detach and close (after a flush)
int sw__hlink_write(sw_hlink_t *l, const uint8_t *p, size_t n);    // bytes to the transport
int sw__hlink_rel_init(sw_hlink_t *l);              // lossy: fresh framing + Reliable
void sw__hlink_rel_service(sw_hlink_t *l);          // lossy: drain the queue, run timers
void sw__hlink_rel_kick(sw_hlink_t *l);             // lossy: service soon (from callbacks)
int sw__hlink_rel_send(sw_hlink_t *l, const uint8_t *p, size_t n); // lossy: send or queue
void sw__hlink_queue_clear(sw_hlink_t *l);
void sw__hlink_cork_drop(sw_hlink_t *l);            // the connection is gone: forget corked bytes
int sw__hlink_uverr(int uverr);
void sw__hlink_gai_abandon(sw_hlink_t *l);          // forget a name lookup under way

// hlink_io.c, for hsec.c
int sw__hlink_write_raw(sw_hlink_t *l, const uint8_t *p, size_t n); // bytes as they are
void sw__hlink_feed_plain(sw_hlink_t *l, const uint8_t *p, size_t n); // decrypted bytes in
// hlink.c: the handshake completed (the link goes up)
void sw__hlink_secure_up(sw_hlink_t *l);
// The device said it is open (hsec.c allowed it): go on in plain. Lossy: the link goes up and
// p..n (the plain message that said so) is delivered; lossless: reconnects without the key.
void sw__hlink_plain_fallback(sw_hlink_t *l, const uint8_t *p, size_t n);

// hsec.c
// the key for device dev (the name the user gave), if the host has one; whether it is required
int sw__hsec_load(sw_hlink_t *l, const char *dev, char *err, size_t errcap);
bool sw__hsec_use(const sw_hlink_t *l); // this connection starts with the handshake
void sw__hsec_mqtt_up(sw_hlink_t *l);   // mqtt://: the handshake through the broker succeeded
int sw__hsec_start(sw_hlink_t *l);     // connected: send the handshake
void sw__hsec_feed(sw_hlink_t *l, const uint8_t *p, size_t n);
// A plain lossless line being probed (sw_hlink_line_locked): looks for the node's answer mark.
enum { SW__PROBE_NONE, SW__PROBE_WAIT, SW__PROBE_LOCKED, SW__PROBE_OPEN };
void sw__hsec_probe_feed(sw_hlink_t *l, const uint8_t *p, size_t n);
void sw__hsec_rel_rx(sw_hlink_t *l, const uint8_t *p, size_t n); // lossy: one Reliable message
int sw__hsec_write(sw_hlink_t *l, const uint8_t *p, size_t n);
bool sw__hsec_handshaking(const sw_hlink_t *l);
void sw__hsec_free(sw_hlink_t *l);
// Before a request goes out: 0, or SW_EAUTH (the error text set) when the device answered as an
// open node although the host holds a key for it and the command may change the device.
// action: the dotted name, or (dotted NULL) the raw action item; d: the raw arguments.
int sw__hsec_gate(sw_hlink_t *l, const char *dotted, const sw_span_t *action, sw_span_t d);

// hlink_mqtt.c: the mqtt:// transport
void sw__hlink_mqtt_start(sw_hlink_t *l);   // one attempt
int sw__hlink_mqtt_send(sw_hlink_t *l, const uint8_t *p, size_t n); // one message
void sw__hlink_mqtt_end(sw_hlink_t *l);     // closes the broker connection, if any
bool sw__hlink_mqtt_busy(const sw_hlink_t *l); // bytes wait for the broker's socket

// hlink_name.c: where a bare HOST[:PORT] is looked up before DNS (the scan cache, then
// HOST.local, once LAN discovery exists). Returns 0 when it rewrote u to the address found,
// SW_ENOENT to let DNS resolve u->host as it is.
int sw__hlink_bare_name(sw_uri_t *u);

#endif
