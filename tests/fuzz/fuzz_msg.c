// Fuzz target: the message decoder on arbitrary bytes. Whatever it accepts is re-encoded with
// the encoder of its kind and decoded again: same kind, same seq, same raw d/e content, same
// action. Also exercises the proxy checks on every decoded value.
#include <string.h>

#include "swarm/msg.h"

static uint8_t out[1 << 17];

static bool span_same(sw_span_t a, sw_span_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

// The decoded e as a string, if it is one.
static bool e_text(sw_span_t e, sw_span_t *s)
{
    sw_mpr_t r;
    sw_mpr_init(&r, e.p, e.n);
    return sw_mpr_peek(&r) == SW_MP_STR && sw_mpr_str(&r, s) && sw_mpr_done(&r);
}

static void reencode(sw_mpw_t *w, const sw_msg_t *m)
{
    switch (m->kind) {
    case SW_MSG_REQUEST:
    case SW_MSG_NOTIFY: {
        int64_t seq = m->kind == SW_MSG_REQUEST ? m->i : -1;
        int64_t r_ms = m->has & SW_MSG_HAS_R ? m->r : 0;
        sw_msg_request_begin_raw(w, m->a, seq, r_ms);
        if (m->has & SW_MSG_HAS_D)
            sw_mpw_raw(w, m->d.p, m->d.n);
        else
            sw_mpw_nil(w);
        sw_msg_request_end(w, seq, r_ms);
        break;
    }
    case SW_MSG_REPLY:
        sw_msg_reply_begin(w);
        sw_mpw_raw(w, m->d.p, m->d.n);
        sw_msg_reply_end(w, m->i);
        break;
    case SW_MSG_ERROR: {
        sw_span_t s;
        if (!(m->has & SW_MSG_HAS_D) && e_text(m->e, &s)) {
            sw_msg_write_error_n(w, m->i, (const char *)s.p, s.n);
        } else { // a proxy or other value, or v2 arguments in d: written as received
            sw_mpw_map(w, m->has & SW_MSG_HAS_D ? 3 : 2);
            sw_mpw_str(w, "e", 1);
            sw_mpw_raw(w, m->e.p, m->e.n);
            sw_mpw_str(w, "i", 1);
            sw_mpw_int(w, m->i);
            if (m->has & SW_MSG_HAS_D) {
                sw_mpw_str(w, "d", 1);
                sw_mpw_raw(w, m->d.p, m->d.n);
            }
        }
        break;
    }
    case SW_MSG_STREAM:
        sw_msg_stream_begin(w, m->i);
        sw_mpw_raw(w, m->d.p, m->d.n);
        sw_msg_stream_end(w, m->n);
        break;
    case SW_MSG_END: sw_msg_write_end(w, m->i); break;
    case SW_MSG_CANCEL: sw_msg_write_cancel(w, m->i); break;
    default: __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_msg_t m;
    int rc = sw_msg_decode(&m, data, size);

    // Decoding with the framer's index (the lossless stream's fast path) means the same: the
    // same result and the same fields, whenever the bytes frame as exactly one item.
    sw_mpr_t fr;
    sw_mp_index_t ix;
    sw_mpr_init(&fr, data, size);
    if (sw_mpr_skip_index(&fr, &ix) == 0 && fr.pos == size) {
        sw_msg_t mi;
        int ri = sw_msg_decode_ix(&mi, data, size, &ix);
        bool same = ri == rc && mi.kind == m.kind && mi.has == m.has && mi.i == m.i &&
                    mi.r == m.r && mi.n == m.n && mi.action_is_str == m.action_is_str &&
                    mi.path_len == m.path_len && span_same(mi.a, m.a) && span_same(mi.d, m.d) &&
                    span_same(mi.e, m.e) && mi.a.p == m.a.p && mi.d.p == m.d.p && mi.e.p == m.e.p;
        for (uint8_t k = 0; same && k < m.path_len; k++)
            same = mi.path[k].p == m.path[k].p && mi.path[k].n == m.path[k].n;
        if (!same)
            __builtin_trap();
    }

    if (rc) {
        if ((rc != SW_EPROTO && rc != SW_ETOOBIG) || m.kind != SW_MSG_INVALID || m.has)
            __builtin_trap();
        return 0;
    }
    if (m.kind == SW_MSG_INVALID || m.path_len > SW_MSG_MAX_PATH)
        __builtin_trap();
    (void)sw_msg_is_nodata(m.d);
    (void)sw_msg_is_nodata(m.e);

    // A request with a negative seq cannot be written (seq < 0 means "no i"); skip those.
    if (m.kind == SW_MSG_REQUEST && m.i < 0)
        return 0;

    sw_mpw_t w;
    sw_mpw_init(&w, out, sizeof out);
    reencode(&w, &m);
    if (w.err)
        __builtin_trap(); // out[] is larger than any fuzz input plus the keys we add

    sw_msg_t m2;
    if (sw_msg_decode(&m2, out, w.len))
        __builtin_trap();
    if (m2.kind != m.kind || m2.i != m.i || ((m.has & SW_MSG_HAS_D) && !span_same(m2.d, m.d)))
        __builtin_trap();
    if (m.kind == SW_MSG_ERROR) {
        sw_span_t s1, s2;
        if (e_text(m.e, &s1) ? !e_text(m2.e, &s2) || !span_same(s1, s2) : !span_same(m.e, m2.e))
            __builtin_trap();
    }
    if (m.has & SW_MSG_HAS_A) {
        if (!span_same(m.a, m2.a) || m2.path_len != m.path_len || m2.action_is_str != m.action_is_str)
            __builtin_trap();
        for (int k = 0; k < m.path_len; k++)
            if (!span_same(m.path[k], m2.path[k]))
                __builtin_trap();
    }
    if (m2.r != m.r || (m.kind == SW_MSG_STREAM && m2.n != m.n))
        __builtin_trap();

    // A list action whose elements hold no dots goes through the dotted writer unchanged.
    if ((m.kind == SW_MSG_REQUEST || m.kind == SW_MSG_NOTIFY) && !m.action_is_str) {
        char dotted[4096];
        size_t at = 0;
        for (int k = 0; k < m.path_len; k++) {
            sw_span_t p = m.path[k];
            if (memchr(p.p, '.', p.n) || memchr(p.p, 0, p.n) || at + p.n + 2 > sizeof dotted)
                return 0;
            if (k)
                dotted[at++] = '.';
            memcpy(dotted + at, p.p, p.n);
            at += p.n;
        }
        dotted[at] = 0;
        if (m.path_len == 1)
            return 0; // one element is written as a string: a different (equivalent) form
        sw_mpw_init(&w, out, sizeof out);
        sw_msg_write_action(&w, dotted);
        sw_mpr_t r;
        sw_mpr_init(&r, out, w.len);
        uint32_t items;
        if (w.err || !sw_mpr_array(&r, &items) || items != m.path_len)
            __builtin_trap();
        for (uint32_t k = 0; k < items; k++) {
            sw_span_t s;
            if (!sw_mpr_str(&r, &s) || !span_same(s, m.path[k]))
                __builtin_trap();
        }
    }
    return 0;
}
