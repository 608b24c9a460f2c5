// swarm messages: MoaT v0 message maps (keys a d i e) plus the v2 stream keys r and n and the
// cancel form {i}. See docs/PROTOCOL.md, "Messages".
//
//   request   {"a": action, "d": data, "i": seq}            (+ "r": ms  → a stream request)
//   notify    {"d": data, "a": action}                       (no i: unsolicited, e.g. link)
//   reply     {"d": result, "i": seq}
//   error     {"e": text, "i": seq}
//   stream    {"i": seq, "d": value, "n": counter}           (one value of a stream, n = 1, 2, …)
//   end       {"i": seq, "r": false}                         (the stream has ended)
//   cancel    {"i": seq}                                     (requester stops a stream/request)
//
// An action is a string ("ping"; v0 sub-dispatch applies to strings) or a list of strings
// (["sys","is_up"]). Key orders of the encoders are those of the running MoaT v0 original.
// Decoding never copies: spans point into the caller's buffer.
#ifndef SWARM_MSG_H
#define SWARM_MSG_H

#include "swarm/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SW_MSG_HAS_A = 1 << 0,
    SW_MSG_HAS_D = 1 << 1,
    SW_MSG_HAS_I = 1 << 2,
    SW_MSG_HAS_E = 1 << 3,
    SW_MSG_HAS_R = 1 << 4,
    SW_MSG_HAS_N = 1 << 5,
};

typedef enum sw_msg_kind {
    SW_MSG_INVALID = 0,
    SW_MSG_REQUEST, // a + i (r > 0: stream request)
    SW_MSG_NOTIFY,  // a without i
    SW_MSG_REPLY,   // i + d, no a/e/n/r
    SW_MSG_ERROR,   // i + e
    SW_MSG_STREAM,  // i + d + n
    SW_MSG_END,     // i + r:false
    SW_MSG_CANCEL,  // i alone
} sw_msg_kind_t;

#define SW_MSG_R_END (-1) // value of sw_msg_t.r for "r": false

typedef struct sw_msg {
    sw_msg_kind_t kind;
    uint8_t has;          // SW_MSG_HAS_* bits: which keys were present
    bool action_is_str;   // a was a single string (not a list)
    uint8_t path_len;     // number of action elements in path[]
    sw_span_t path[SW_MSG_MAX_PATH]; // action elements: string bytes, not NUL-terminated
    sw_span_t a;          // raw MsgPack of each value present (empty span when absent)
    sw_span_t d;
    sw_span_t e;
    int64_t i;            // sequence number (valid with SW_MSG_HAS_I)
    int64_t r;            // stream interval in ms (> 0), or SW_MSG_R_END
    int64_t n;            // stream counter
} sw_msg_t;

// Decodes one message from buf[0..n) (exactly one MsgPack map). Unknown keys are ignored.
// Returns 0, or SW_EPROTO (not a map, malformed, a key of the wrong type, or a key combination
// that is no message kind), SW_ETOOBIG (more than SW_MSG_MAX_PATH action elements). On error
// *m is all zero (kind SW_MSG_INVALID).
int sw_msg_decode(sw_msg_t *m, const void *buf, size_t n);
// The same, with the index sw_mpr_skip_index recorded while framing exactly these n bytes (the
// lossless stream receiver does): same result, without walking the message again. ix NULL,
// not ok, or not of n bytes: plain sw_msg_decode.
int sw_msg_decode_ix(sw_msg_t *m, const void *buf, size_t n, const sw_mp_index_t *ix);

// True if the span s holds exactly the bytes of the NUL-terminated string str.
bool sw_span_eq(sw_span_t s, const char *str);

// Writes an action: "ping" → "ping"; "sys.is_up" → ["sys","is_up"] (split on '.').
void sw_msg_write_action(sw_mpw_t *w, const char *dotted);

// Requests, written around the data value so the caller encodes it in place:
//   sw_msg_request_begin(w, "sys.cfg", seq, r_ms); <write the d value>; sw_msg_request_end(w, seq, r_ms);
// seq < 0 leaves out "i" (a notification); r_ms > 0 adds "r" (a stream request). Pass the same
// seq and r_ms to both calls. The _raw variant copies an already-encoded action (a str or an
// array, as received in sw_msg_t.a).
void sw_msg_request_begin(sw_mpw_t *w, const char *dotted, int64_t seq, int64_t r_ms);
void sw_msg_request_begin_raw(sw_mpw_t *w, sw_span_t action, int64_t seq, int64_t r_ms);
void sw_msg_request_end(sw_mpw_t *w, int64_t seq, int64_t r_ms);

// Reply {"d": <value>, "i": seq}: begin, write the value, end.
void sw_msg_reply_begin(sw_mpw_t *w);
void sw_msg_reply_end(sw_mpw_t *w, int64_t seq);

// Stream value {"i": seq, "d": <value>, "n": counter}: begin, write the value, end.
void sw_msg_stream_begin(sw_mpw_t *w, int64_t seq);
void sw_msg_stream_end(sw_mpw_t *w, int64_t counter);

// Error {"e": text, "i": seq}. text is NUL-terminated; the _n variant takes a length.
void sw_msg_write_error(sw_mpw_t *w, int64_t seq, const char *text);
void sw_msg_write_error_n(sw_mpw_t *w, int64_t seq, const char *text, size_t n);
void sw_msg_write_end(sw_mpw_t *w, int64_t seq);    // {"i": seq, "r": false}
void sw_msg_write_cancel(sw_mpw_t *w, int64_t seq); // {"i": seq}
void sw_msg_write_link(sw_mpw_t *w, bool up);       // {"d": up, "a": "link"}

// Proxies: MsgPack ext 4 whose data is the proxy's UTF-8 name. Proxy("-") means "no data"
// (e.g. delete a config entry).
#define SW_PROXY_EXT 4
#define SW_PROXY_NODATA "-"
void sw_msg_write_proxy(sw_mpw_t *w, const char *name);
// True if o is a proxy; with name != NULL, only if it is that proxy.
bool sw_msg_obj_is_proxy(const sw_mp_obj_t *o, const char *name);
// True if the raw item at v is Proxy("-").
bool sw_msg_is_nodata(sw_span_t v);

#ifdef __cplusplus
}
#endif
#endif
