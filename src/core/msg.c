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

static uint8_t letter_bit(uint8_t letter)
{
    switch (letter) {
    case 'a': return SW_MSG_HAS_A;
    case 'd': return SW_MSG_HAS_D;
    case 'i': return SW_MSG_HAS_I;
    case 'e': return SW_MSG_HAS_E;
    case 'r': return SW_MSG_HAS_R;
    case 'n': return SW_MSG_HAS_N;
    default: return 0;
    }
}

// An unsigned integer of at most 32 bits at p (n bytes available), the form every seq takes
// (a counter: fixint, then uint8, uint16, uint32 as it grows), read in place without the item
// reader. False for any other form, which then goes through the reader.
static bool small_uint(const uint8_t *p, size_t n, int64_t *v)
{
    uint8_t c = p[0];
    if (c < 0x80) {
        *v = c;
        return true;
    }
    if (c < 0xcc || c > 0xce || n < 1 + ((size_t)1 << (c - 0xcc)))
        return false;
    if (c == 0xcc)
        *v = p[1];
    else if (c == 0xcd)
        *v = (int64_t)p[1] << 8 | p[2];
    else
        *v = (int64_t)p[1] << 24 | (int64_t)p[2] << 16 | (int64_t)p[3] << 8 | p[4];
    return true;
}

// One pass over the message: the top-level map's keys are read straight from the bytes (they
// are one-letter fixstrs in every message we know of), small integers too; everything else goes
// through a reader positioned at the value, whose nesting count starts at the map's level so
// the depth bound is that of reading the whole map. Unknown keys' values are skipped by their
// headers only.
static int decode(sw_msg_t *m, const uint8_t *p, size_t n)
{
    if (n == 0)
        return SW_EPROTO;
    size_t pos = 1;
    uint32_t pairs;
    if (p[0] >= 0x80 && p[0] <= 0x8f) {
        pairs = p[0] & 15u;
    } else if (p[0] == 0xde || p[0] == 0xdf) {
        size_t h = p[0] == 0xde ? 2 : 4;
        if (n < 1 + h)
            return SW_EPROTO;
        pairs = 0;
        for (size_t k = 0; k < h; k++)
            pairs = pairs << 8 | p[1 + k];
        pos += h;
    } else {
        return SW_EPROTO;
    }
    if (2 * (uint64_t)pairs > n - pos) // every key and value needs a byte at least
        return SW_EPROTO;

    sw_mpr_t r; // for values (and unusual keys), one level down
    sw_mpr_init(&r, p, n);
    r.depth = 1;
    r.left[0] = UINT32_MAX; // the map: never exhausted from inside

    for (uint32_t k = 0; k < pairs; k++) {
        uint8_t bit = 0;
        uint8_t letter = 0;
        if (pos >= n)
            return SW_EPROTO;
        if (p[pos] == 0xa1 && n - pos >= 2) { // one-letter fixstr: the common case
            letter = p[pos + 1];
            pos += 2;
        } else {
            sw_mp_obj_t o;
            r.pos = pos;
            if (sw_mpr_peek(&r) == SW_MP_STR) {
                if (sw_mpr_next(&r, &o))
                    return SW_EPROTO;
                if (o.len == 1)
                    letter = o.v.p[0];
            } else if (sw_mpr_skip(&r)) { // a non-string key (possibly a container): ignored
                return SW_EPROTO;
            }
            pos = r.pos;
        }
        bit = letter_bit(letter);
        if (pos >= n)
            return SW_EPROTO;
        r.pos = pos;
        if (!bit) {
            if (sw_mpr_skip(&r))
                return SW_EPROTO;
            pos = r.pos;
            continue;
        }
        if (m->has & bit)
            return SW_EPROTO; // a duplicate key would make the message ambiguous
        m->has |= bit;
        if (letter == 'i' && small_uint(p + pos, n - pos, &m->i)) { // an unsigned seq
            pos += p[pos] < 0x80 ? 1 : 1 + ((size_t)1 << (p[pos] - 0xcc));
            continue;
        }
        int err = read_value(&r, m, (char)letter);
        if (err)
            return err;
        pos = r.pos;
    }
    if (pos != n)
        return SW_EPROTO; // trailing bytes: the buffer must hold exactly one map
    m->kind = classify(m);
    return m->kind == SW_MSG_INVALID ? SW_EPROTO : 0;
}

int sw_msg_decode(sw_msg_t *m, const void *buf, size_t n)
{
    memset(m, 0, sizeof *m);
    int err = buf ? decode(m, buf, n) : SW_EPROTO;
    if (err)
        memset(m, 0, sizeof *m);
    return err;
}

// A reader for values, one level down (as in decode), set up on first use.
static void value_reader(sw_mpr_t *r, const uint8_t *p, size_t n)
{
    if (r->p)
        return;
    sw_mpr_init(r, p, n);
    r->depth = 1;
    r->left[0] = UINT32_MAX;
}

// Decoding with the framer's index: the map has been walked (and checked: well-formed, depth
// bounded, exactly n bytes) already, so keys and values are read where the index says, and
// the data value, the bulk of a message, is not walked at all.
static int decode_ix(sw_msg_t *m, const uint8_t *p, size_t n, const sw_mp_index_t *ix)
{
    sw_mpr_t r; // for values that need reading, one level down (as in decode); set up lazily
    r.p = NULL;
    uint32_t pairs = ix->pairs;
    uint8_t has = 0; // (kept in a register: m->has is written once, at the end)
    for (uint32_t k = 0; k < pairs; k++) {
        size_t kat = ix->key[k], vat = ix->val[k];
        size_t end = k + 1 < pairs ? ix->key[k + 1] : n;
        uint8_t letter = 0;
        if (vat - kat == 2 && p[kat] == 0xa1) {
            letter = p[kat + 1];
        } else {
            sw_mp_obj_t o;
            value_reader(&r, p, n);
            r.pos = kat;
            if (sw_mpr_peek(&r) == SW_MP_STR && sw_mpr_next(&r, &o) == 0 && o.len == 1)
                letter = o.v.p[0];
        }
        // The common values are taken in place; the rest are read. A duplicate key fails the
        // whole message (and the caller clears *m), so writing before that check is harmless.
        uint8_t bit, v = p[vat];
        switch (letter) {
        case 'd':
            bit = SW_MSG_HAS_D;
            m->d.p = p + vat;
            m->d.n = end - vat;
            break;
        case 'e':
            bit = SW_MSG_HAS_E;
            m->e.p = p + vat;
            m->e.n = end - vat;
            break;
        case 'i':
            bit = SW_MSG_HAS_I;
            if (v < 0x80) { // (a fixint, by far the most common, tested first)
                m->i = v;
                break;
            }
            if (small_uint(p + vat, end - vat, &m->i))
                break;
            goto read;
        case 'a':
            bit = SW_MSG_HAS_A;
            if (v > 0xa0 && v <= 0xbf) { // a non-empty fixstr action
                m->action_is_str = true;
                m->path_len = 1;
                m->path[0].p = p + vat + 1;
                m->path[0].n = end - vat - 1;
                m->a.p = p + vat;
                m->a.n = end - vat;
                break;
            }
            goto read;
        case 'r':
            bit = SW_MSG_HAS_R;
            goto read;
        case 'n':
            bit = SW_MSG_HAS_N;
        read:
            if (has & bit)
                return SW_EPROTO;
            value_reader(&r, p, n);
            r.pos = vat;
            int err = read_value(&r, m, (char)letter);
            if (err)
                return err;
            break;
        default:
            continue; // an unknown key: ignored
        }
        if (has & bit)
            return SW_EPROTO; // a duplicate key would make the message ambiguous
        has |= bit;
    }
    m->has = has;
    // a request with or without arguments, the common case, needs no classifying
    const uint8_t req = SW_MSG_HAS_A | SW_MSG_HAS_I;
    m->kind = (has | SW_MSG_HAS_D) == (req | SW_MSG_HAS_D) ? SW_MSG_REQUEST : classify(m);
    return m->kind == SW_MSG_INVALID ? SW_EPROTO : 0;
}

int sw_msg_decode_ix(sw_msg_t *m, const void *buf, size_t n, const sw_mp_index_t *ix)
{
    if (!buf || !ix || !ix->ok || ix->len != n)
        return sw_msg_decode(m, buf, n);
    // Every field but the path elements beyond path_len (which nothing reads) starts zero;
    // the full clear is for errors.
    m->kind = SW_MSG_INVALID;
    m->has = 0;
    m->action_is_str = false;
    m->path_len = 0;
    m->a.p = m->d.p = m->e.p = NULL;
    m->a.n = m->d.n = m->e.n = 0;
    m->i = m->r = m->n = 0;
    int err = decode_ix(m, buf, n, ix);
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
// (the general forms out of line, so the fast paths are small enough to inline)
static __attribute__((noinline)) void reply_begin_slow(sw_mpw_t *w)
{
    sw_mpw_map(w, 2);
    key(w, 'd');
}

static __attribute__((noinline)) void reply_end_slow(sw_mpw_t *w, int64_t seq)
{
    key(w, 'i');
    sw_mpw_int(w, seq);
}

void sw_msg_reply_begin(sw_mpw_t *w)
{
    if (!w->err && w->cap - w->len >= 3) { // straight into place: once per request
        uint8_t *p = w->buf + w->len;
        p[0] = 0x82, p[1] = 0xa1, p[2] = 'd';
        w->len += 3;
        return;
    }
    reply_begin_slow(w);
}

void sw_msg_reply_end(sw_mpw_t *w, int64_t seq)
{
    if (seq >= 0 && seq < 0x80 && !w->err && w->cap - w->len >= 3) {
        // a small seq (fixint), the common case: straight into place
        uint8_t *p = w->buf + w->len;
        p[0] = 0xa1, p[1] = 'i', p[2] = (uint8_t)seq;
        w->len += 3;
        return;
    }
    reply_end_slow(w, seq);
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
