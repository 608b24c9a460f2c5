// swarm messages: decoding a MoaT v0 message map (plus the stream keys r/n and the cancel form)
// into a zero-copy sw_msg_t, and writing every message kind in the key order the running v0
// original uses, so our bytes match its bytes (docs/PROTOCOL.md, "Messages").
#include <string.h>

#include "swarm/msg.h"

//////////////////////////////////////////////////////////////////////////////////////////////
// Decoding

bool sw_span_eq(sw_span_t s, const char *str)
{
    size_t n = strlen(str);
    return s.n == n && (n == 0 || memcmp(s.p, str, n) == 0);
}

// Reads an action: a non-empty string, or a non-empty array of non-empty strings. Integer path
// elements (v2 indexes sub-items with them) are refused until something needs them.
static int read_action(sw_mpr_t *r, sw_msg_t *m)
{
    size_t from = r->pos;
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return SW_EPROTO;
    if (o.type == SW_MP_STR) {
        if (o.len == 0)
            return SW_EPROTO;
        m->action_is_str = true;
        m->path_len = 1;
        m->path[0].p = o.v.p;
        m->path[0].n = o.len;
    } else if (o.type == SW_MP_ARRAY) {
        if (o.len == 0)
            return SW_EPROTO;
        if (o.len > SW_MSG_MAX_PATH)
            return SW_ETOOBIG;
        uint32_t items = o.len;
        for (uint32_t k = 0; k < items; k++) {
            if (sw_mpr_next(r, &o) || o.type != SW_MP_STR || o.len == 0)
                return SW_EPROTO;
            m->path[k].p = o.v.p;
            m->path[k].n = o.len;
        }
        m->path_len = (uint8_t)items;
    } else {
        return SW_EPROTO;
    }
    m->a.p = r->p + from;
    m->a.n = r->pos - from;
    return 0;
}

static int read_int(sw_mpr_t *r, int64_t *v)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o) || !sw_mp_obj_i64(&o, v))
        return SW_EPROTO;
    return 0;
}

// r: a positive interval in ms, or false (the stream has ended). true, 0 and negative values
// mean nothing in the v2 protocol, so they are refused rather than guessed at.
static int read_r(sw_mpr_t *r, int64_t *v)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return SW_EPROTO;
    if (o.type == SW_MP_BOOL && !o.v.b) {
        *v = SW_MSG_R_END;
        return 0;
    }
    if (!sw_mp_obj_i64(&o, v) || *v <= 0)
        return SW_EPROTO;
    return 0;
}

// Reads the value of one recognised key (key is the letter). Returns 0 or an error.
static int read_value(sw_mpr_t *r, sw_msg_t *m, char key)
{
    switch (key) {
    case 'a': return read_action(r, m);
    case 'd': return sw_mpr_span(r, &m->d) ? SW_EPROTO : 0;
    case 'e': return sw_mpr_span(r, &m->e) ? SW_EPROTO : 0;
    case 'i': return read_int(r, &m->i);
    case 'r': return read_r(r, &m->r);
    default: /* 'n' */ return read_int(r, &m->n);
    }
}

static uint8_t key_bit(const sw_mp_obj_t *o)
{
    if (o->type != SW_MP_STR || o->len != 1)
        return 0;
    switch (o->v.p[0]) {
    case 'a': return SW_MSG_HAS_A;
    case 'd': return SW_MSG_HAS_D;
    case 'i': return SW_MSG_HAS_I;
    case 'e': return SW_MSG_HAS_E;
    case 'r': return SW_MSG_HAS_R;
    case 'n': return SW_MSG_HAS_N;
    default: return 0;
    }
}

// Which kind the set of keys (and the value of r) makes; SW_MSG_INVALID for none. Every
// combination maps to at most one kind, and keys that the kind does not use are refused rather
// than dropped, so a message never means two things.
static sw_msg_kind_t classify(const sw_msg_t *m)
{
    uint8_t h = m->has;
    bool i = h & SW_MSG_HAS_I;
    if (h & SW_MSG_HAS_A) {
        if (h & (SW_MSG_HAS_E | SW_MSG_HAS_N))
            return SW_MSG_INVALID;
        if (h & SW_MSG_HAS_R) // a stream request: needs a seq to answer to and an interval
            return i && m->r > 0 ? SW_MSG_REQUEST : SW_MSG_INVALID;
        return i ? SW_MSG_REQUEST : SW_MSG_NOTIFY;
    }
    if (!i)
        return SW_MSG_INVALID; // v0: "replies without sequence numbers are illegal"
    if (h & SW_MSG_HAS_E) // d may carry the error's arguments (v2 style)
        return h & (SW_MSG_HAS_R | SW_MSG_HAS_N) ? SW_MSG_INVALID : SW_MSG_ERROR;
    if (h & SW_MSG_HAS_R)
        return m->r == SW_MSG_R_END && !(h & (SW_MSG_HAS_D | SW_MSG_HAS_N)) ? SW_MSG_END
                                                                            : SW_MSG_INVALID;
    if (h & SW_MSG_HAS_N)
        return h & SW_MSG_HAS_D ? SW_MSG_STREAM : SW_MSG_INVALID;
    if (h & SW_MSG_HAS_D)
        return SW_MSG_REPLY;
    return SW_MSG_CANCEL;
}

static int decode(sw_msg_t *m, const void *buf, size_t n)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    sw_mp_obj_t o;
    if (sw_mpr_peek(&r) != SW_MP_MAP || sw_mpr_next(&r, &o))
        return SW_EPROTO;
    for (uint32_t k = 0, pairs = o.len; k < pairs; k++) {
        uint8_t bit = 0;
        if (sw_mpr_peek(&r) == SW_MP_STR) {
            if (sw_mpr_next(&r, &o))
                return SW_EPROTO;
            bit = key_bit(&o);
        } else if (sw_mpr_skip(&r)) { // a non-string key (possibly a container): ignored
            return SW_EPROTO;
        }
        if (!bit) {
            if (sw_mpr_skip(&r))
                return SW_EPROTO;
            continue;
        }
        if (m->has & bit)
            return SW_EPROTO; // a duplicate key would make the message ambiguous
        m->has |= bit;
        int err = read_value(&r, m, (char)o.v.p[0]);
        if (err)
            return err;
    }
    if (!sw_mpr_done(&r))
        return SW_EPROTO; // trailing bytes: the buffer must hold exactly one map
    m->kind = classify(m);
    return m->kind == SW_MSG_INVALID ? SW_EPROTO : 0;
}

int sw_msg_decode(sw_msg_t *m, const void *buf, size_t n)
{
    memset(m, 0, sizeof *m);
    int err = decode(m, buf, n);
    if (err)
        memset(m, 0, sizeof *m);
    return err;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Encoding
//
// Keys are one-letter fixstrs, written as two raw bytes. All writes go through the sticky
// writer, so a message that does not fit leaves w->err set and the caller discards it.

static void key(sw_mpw_t *w, char k)
{
    uint8_t b[2] = {0xa1, (uint8_t)k};
    sw_mpw_raw(w, b, 2);
}

static void set_err(sw_mpw_t *w, int err)
{
    if (!w->err)
        w->err = err;
}

void sw_msg_write_action(sw_mpw_t *w, const char *dotted)
{
    if (w->err)
        return;
    if (!dotted || !*dotted) {
        set_err(w, SW_EINVAL);
        return;
    }
    size_t len = strlen(dotted);
    uint32_t segs = 1;
    for (size_t k = 0; k < len; k++) {
        if (dotted[k] != '.')
            continue;
        // no empty segment: not first, not last, not doubled
        if (k == 0 || k + 1 == len || dotted[k + 1] == '.') {
            set_err(w, SW_EINVAL);
            return;
        }
        segs++;
    }
    if (segs > SW_MSG_MAX_PATH) { // our own decoder would refuse it
        set_err(w, SW_EINVAL);
        return;
    }
    if (segs == 1) {
        sw_mpw_str(w, dotted, len);
        return;
    }
    sw_mpw_array(w, segs);
    const char *s = dotted;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        sw_mpw_str(w, s, n);
        s += n + (dot ? 1 : 0);
    }
}

// Map header and "a" key of a request: a, d, [i], [r] (v0 order, then v2's r at the end).
static void request_head(sw_mpw_t *w, int64_t seq, int64_t r_ms)
{
    if (r_ms > 0 && seq < 0) // a stream without a seq could never be answered
        set_err(w, SW_EINVAL);
    sw_mpw_map(w, 2u + (seq >= 0) + (r_ms > 0));
    key(w, 'a');
}

void sw_msg_request_begin(sw_mpw_t *w, const char *dotted, int64_t seq, int64_t r_ms)
{
    request_head(w, seq, r_ms);
    sw_msg_write_action(w, dotted);
    key(w, 'd');
}

void sw_msg_request_begin_raw(sw_mpw_t *w, sw_span_t action, int64_t seq, int64_t r_ms)
{
    request_head(w, seq, r_ms);
    if (!action.n)
        set_err(w, SW_EINVAL);
    sw_mpw_raw(w, action.p, action.n);
    key(w, 'd');
}

void sw_msg_request_end(sw_mpw_t *w, int64_t seq, int64_t r_ms)
{
    if (seq >= 0) {
        key(w, 'i');
        sw_mpw_int(w, seq);
    }
    if (r_ms > 0) {
        key(w, 'r');
        sw_mpw_int(w, r_ms);
    }
}

// The running original answers {"d": result, "i": seq} (d first), not the {"i", "d"} its
// source suggests; we match the bytes it actually sends.
void sw_msg_reply_begin(sw_mpw_t *w)
{
    sw_mpw_map(w, 2);
    key(w, 'd');
}

void sw_msg_reply_end(sw_mpw_t *w, int64_t seq)
{
    key(w, 'i');
    sw_mpw_int(w, seq);
}

void sw_msg_stream_begin(sw_mpw_t *w, int64_t seq)
{
    sw_mpw_map(w, 3);
    key(w, 'i');
    sw_mpw_int(w, seq);
    key(w, 'd');
}

void sw_msg_stream_end(sw_mpw_t *w, int64_t counter)
{
    key(w, 'n');
    sw_mpw_int(w, counter);
}

// No "d" with an error: a v0 receiver looks at "e" only when "d" is absent or nil.
void sw_msg_write_error_n(sw_mpw_t *w, int64_t seq, const char *text, size_t n)
{
    sw_mpw_map(w, 2);
    key(w, 'e');
    sw_mpw_str(w, text ? text : "", text ? n : 0);
    key(w, 'i');
    sw_mpw_int(w, seq);
}

void sw_msg_write_error(sw_mpw_t *w, int64_t seq, const char *text)
{
    sw_msg_write_error_n(w, seq, text, text ? strlen(text) : 0);
}

void sw_msg_write_end(sw_mpw_t *w, int64_t seq)
{
    sw_mpw_map(w, 2);
    key(w, 'i');
    sw_mpw_int(w, seq);
    key(w, 'r');
    sw_mpw_bool(w, false);
}

void sw_msg_write_cancel(sw_mpw_t *w, int64_t seq)
{
    sw_mpw_map(w, 1);
    key(w, 'i');
    sw_mpw_int(w, seq);
}

void sw_msg_write_link(sw_mpw_t *w, bool up)
{
    static const uint8_t tail[] = {0xa1, 'a', 0xa4, 'l', 'i', 'n', 'k'};
    sw_mpw_map(w, 2);
    key(w, 'd');
    sw_mpw_bool(w, up);
    sw_mpw_raw(w, tail, sizeof tail);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Proxies

void sw_msg_write_proxy(sw_mpw_t *w, const char *name)
{
    if (!name) {
        set_err(w, SW_EINVAL);
        return;
    }
    sw_mpw_ext(w, SW_PROXY_EXT, name, strlen(name));
}

bool sw_msg_obj_is_proxy(const sw_mp_obj_t *o, const char *name)
{
    if (o->type != SW_MP_EXT || o->ext != SW_PROXY_EXT)
        return false;
    if (!name)
        return true;
    size_t n = strlen(name);
    return o->len == n && (n == 0 || memcmp(o->v.p, name, n) == 0);
}

// Any encoding of ext 4 "-" counts (fixext 1 as we write it, or ext 8 with length 1), but the
// span must hold that one item and nothing else.
bool sw_msg_is_nodata(sw_span_t v)
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, v.p, v.n);
    return sw_mpr_next(&r, &o) == 0 && sw_mpr_done(&r) && sw_msg_obj_is_proxy(&o, SW_PROXY_NODATA);
}
