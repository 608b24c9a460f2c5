// swarm RPC session: one per link. It turns incoming messages into command calls (server role:
// requests, streams, cancellation) and matches answers to the requests it sent (client role:
// sequence numbers, pending requests, stream values). Sans-I/O: complete messages go in with
// sw_rpc_input(), outgoing ones leave through hooks.send(); time goes in with sw_rpc_poll().
//
// Memory: the caller provides the output buffer (the largest message sent), the stream table
// and the pending table. Nothing is allocated.
#ifndef SWARM_RPC_H
#define SWARM_RPC_H

#include "swarm/cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_rpc sw_rpc_t;

// A stream this side serves: the command is called every interval and each value is sent as
// {"i", "d", "n"} until the requester cancels or the command ends it.
typedef struct sw_rpc_stream {
    int64_t seq;            // request seq (0 = slot unused)
    const sw_cmd_def_t *def;
    uint32_t interval_ms;
    uint32_t due_ms;
    uint32_t step;          // values sent so far
    uint16_t args_len;
    uint8_t args[SW_RPC_STREAM_ARGS]; // copy of the request's d
} sw_rpc_stream_t;

// A request this side sent and still expects answers to.
typedef struct sw_rpc_pending {
    int64_t seq;   // 0 = slot unused
    void *user;    // the requester's context, handed back with every answer
    bool stream;   // answers until END/ERROR
} sw_rpc_pending_t;

typedef struct sw_rpc_hooks {
    // Send one complete message (required). Non-zero: the link is gone; the message is lost.
    int (*send)(void *ctx, const uint8_t *p, size_t n);
    // An incoming request, notification or cancel. NULL: requests are dispatched in `tree`
    // (with `dispatch_ctx` as sw_call_t.ctx), cancels stop local streams, notifications are
    // ignored. A custom hook gets all three kinds and may call sw_rpc_dispatch() for some.
    void (*request)(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m);
    // An answer to one of our requests (REPLY, ERROR, STREAM or END); user is what was given to
    // sw_rpc_request(). After REPLY/ERROR/END the request is no longer pending. Also called
    // with a synthetic ERROR (m == NULL, err != 0) by sw_rpc_fail_all().
    void (*answer)(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m, int err, void *user);
    void *ctx;
} sw_rpc_hooks_t;

typedef struct sw_rpc_stats {
    uint32_t requests, replies, errors, notifies, dropped; // dropped: malformed / unmatched
} sw_rpc_stats_t;

struct sw_rpc {
    sw_rpc_hooks_t hooks;
    const sw_tree_t *tree;  // for the default request dispatch (may be NULL)
    void *dispatch_ctx;
    uint32_t gen;           // bumped by sw_rpc_reset(): deferred replies of old requests drop
    uint8_t *out;           // output buffer, owned by the caller
    size_t out_cap;         // = largest message this side sends
    sw_rpc_stream_t *streams;
    uint16_t max_streams;
    sw_rpc_pending_t *pending;  // a request's slot is its seq % max_pending
    uint16_t max_pending;
    uint16_t npending;          // slots in use
    int64_t next_seq;
    sw_rpc_stats_t stats;
    sw_mpw_t *cur;          // internal: the reply being built while its handler runs
    // internal: the last action resolved (its MsgPack bytes, tree->gen and node), since a
    // client mostly repeats the same few calls; gen 0 = nothing cached
    uint32_t last_gen;
    int16_t last_id;
    uint8_t last_len;
    uint8_t last_a[SW_RPC_ACTION_CACHE];
    sw_mpw_t answer;        // internal: writer of a deferred answer
    size_t answer_mark;     // internal
};

typedef struct sw_rpc_mem {
    void *out;                  // output buffer
    size_t out_cap;
    sw_rpc_stream_t *streams;   // may be NULL with max_streams 0 (stream requests get an error)
    uint16_t max_streams;
    sw_rpc_pending_t *pending;  // may be NULL with max_pending 0 (no client role)
    uint16_t max_pending;
} sw_rpc_mem_t;

void sw_rpc_init(sw_rpc_t *rpc, const sw_rpc_mem_t *mem, const sw_rpc_hooks_t *hooks,
                 const sw_tree_t *tree, void *dispatch_ctx);
// The link was lost or restarted: ends all streams, fails all pending requests (hooks.answer
// with err), and invalidates deferred replies. The session can be used again afterwards.
void sw_rpc_reset(sw_rpc_t *rpc, int err);

// One complete incoming message (e.g. from the stream splitter or a frame). Malformed input is
// counted (stats.dropped); a request that cannot be handled gets an error reply.
void sw_rpc_input(sw_rpc_t *rpc, const uint8_t *p, size_t n, uint32_t now_ms);
// The same with the framer's index of the message (sw_stream_rx_t.index during its msg
// callback), which spares walking it again; ix may be NULL.
void sw_rpc_input_ix(sw_rpc_t *rpc, const uint8_t *p, size_t n, const sw_mp_index_t *ix, uint32_t now_ms);
// Runs due stream steps. Returns ms until the next one is due (UINT32_MAX: none).
uint32_t sw_rpc_poll(sw_rpc_t *rpc, uint32_t now_ms);

// Server side: dispatches request m through rpc->tree (what the default request hook does);
// for use by custom request hooks that handle some actions themselves.
void sw_rpc_dispatch(sw_rpc_t *rpc, const sw_msg_t *m, uint32_t now_ms);

// Deferred answers (handlers that returned SW_CALL_LATER). begin returns the writer for the
// value, or NULL if the reply is stale or not wanted; then call end. Errors in one call.
// The session itself must still exist: whoever frees sessions must let the answerer check
// that first (the node: sw_node_reply_live()).
sw_mpw_t *sw_rpc_answer_begin(const sw_reply_to_t *to);
void sw_rpc_answer_end(const sw_reply_to_t *to);
void sw_rpc_answer_error(const sw_reply_to_t *to, const char *text);

// Answers sent directly (e.g. by a multiplexer relaying them): a reply {"d": <raw d>, "i"},
// an error, a stream value {"i", "d", "n"} and a stream end. Return 0 or the send error.
int sw_rpc_send_reply(sw_rpc_t *rpc, int64_t seq, sw_span_t d);
int sw_rpc_send_error(sw_rpc_t *rpc, int64_t seq, const char *text);
int sw_rpc_send_stream(sw_rpc_t *rpc, int64_t seq, sw_span_t d, int64_t n);
int sw_rpc_send_end(sw_rpc_t *rpc, int64_t seq);
// Server side: cancels a stream this side serves (what an incoming {"i"} does).
void sw_rpc_stop_stream(sw_rpc_t *rpc, int64_t seq);

// Sends a notification {"d": <raw d>, "a": action} of at most SW_RPC_NOTIFY_MAX bytes
// (SW_ETOOBIG beyond); link(rpc, up) sends the link message.
int sw_rpc_notify(sw_rpc_t *rpc, const char *dotted, sw_span_t d);
int sw_rpc_link(sw_rpc_t *rpc, bool up);

// Client side: sends a request with raw args d (empty span = {}), r_ms > 0 for a stream.
// Returns the seq (> 0), or SW_EFULL (too many pending), SW_ETOOBIG, or the send error.
int64_t sw_rpc_request(sw_rpc_t *rpc, const char *dotted, sw_span_t d, int64_t r_ms, void *user);
// Same with a raw action item (as received in sw_msg_t.a).
int64_t sw_rpc_request_raw(sw_rpc_t *rpc, sw_span_t action, sw_span_t d, int64_t r_ms, void *user);
// Stops waiting for seq; streams are cancelled at the peer with {"i": seq}. Returns the user
// pointer the request was made with (NULL if seq was not pending); hooks.answer is not called.
void *sw_rpc_cancel(sw_rpc_t *rpc, int64_t seq);
// The same, and the peer is told with {"i": seq} for a plain request too (docs/PROTOCOL.md:
// the message abandons it, and the node stops the work the request started, e.g. an eval in
// swarm.sleep). For a requester that gives up on its own (Ctrl-C, a timeout, a client gone).
void *sw_rpc_abandon(sw_rpc_t *rpc, int64_t seq);
// Number of requests still pending.
size_t sw_rpc_pending_count(const sw_rpc_t *rpc);

#ifdef __cplusplus
}
#endif
#endif
