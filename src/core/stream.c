// Lossless stream receiver and console encoder (docs/PROTOCOL.md, "Lossless stream"): MsgPack
// objects back to back with console bytes in between, either as top-level integers (no
// prefix) or as plain bytes outside prefix+object. Objects that arrive whole are found with the
// whole-buffer reader and handed on in place; partial ones are gathered by the MsgPack
// splitter, which also skips oversize objects without losing step.
#include <string.h>

#include "swarm/stream.h"

// Console bytes decoded from top-level integers are gathered here and handed on in runs.
#define CON_BATCH 64

typedef struct con {
    sw_stream_rx_t *rx;
    const sw_rx_sink_t *sink;
    size_t n;
    uint8_t b[CON_BATCH];
} con_t;

static void con_flush(con_t *c)
{
    if (c->n && c->sink && c->sink->console)
        c->sink->console(c->sink->ctx, c->b, c->n);
    c->n = 0;
}

static void con_put(con_t *c, uint8_t b)
{
    if (c->n == CON_BATCH)
        con_flush(c);
    c->b[c->n++] = b;
    c->rx->stats.console++;
}

static void deliver(sw_stream_rx_t *rx, const sw_rx_sink_t *sink, const uint8_t *p, size_t n)
{
    rx->stats.msgs++;
    if (sink && sink->msg)
        sink->msg(sink->ctx, p, n);
}

static void report(const sw_rx_sink_t *sink, int err)
{
    if (sink && sink->drop)
        sink->drop(sink->ctx, err);
}

static void toobig(sw_stream_rx_t *rx, const sw_rx_sink_t *sink)
{
    rx->stats.toobig++;
    report(sink, SW_ETOOBIG);
}

void sw_stream_rx_init(sw_stream_rx_t *rx, int prefix, void *buf, size_t cap)
{
    memset(rx, 0, sizeof *rx);
    sw_mps_init(&rx->split, buf, cap);
    rx->prefix = prefix >= 0 && prefix <= 255 ? prefix : SW_STREAM_NO_PREFIX;
    rx->in_msg = false;
}

// A complete top-level item in no-prefix mode: an integer 0..255 is a console byte (in any
// width; senders use 0..127 as is and 0xCC xx above), another integer carries nothing we can
// use and is dropped, anything else is a message.
static void item(sw_stream_rx_t *rx, con_t *c, const uint8_t *b, size_t n)
{
    if ((b[0] & 0xf0) == 0x80) { // a fixmap: a message, the common case
        con_flush(c);
        deliver(rx, c->sink, b, n);
        return;
    }
    if (b[0] < 0x80) {
        con_put(c, b[0]);
        return;
    }
    if (b[0] >= 0xE0 || (b[0] >= 0xCC && b[0] <= 0xD3)) {
        sw_mpr_t r;
        sw_mp_obj_t o;
        sw_mpr_init(&r, b, n);
        if (sw_mpr_next(&r, &o) == 0 && o.type == SW_MP_UINT && o.v.u <= 0xFF) {
            con_put(c, (uint8_t)o.v.u);
        } else {
            con_flush(c);
            report(c->sink, SW_EPROTO);
        }
        return;
    }
    con_flush(c);
    deliver(rx, c->sink, b, n);
}

static int feed_plain(sw_stream_rx_t *rx, const uint8_t *p, size_t n, size_t stop, size_t *at,
                      const sw_rx_sink_t *sink)
{
    con_t c;
    c.rx = rx;
    c.sink = sink;
    c.n = 0;
    int err = 0;
    size_t i = 0;
    while (i < n && i < stop) {
        // ASCII between objects is by far the common console case; no need to tokenize it.
        if (!sw_mps_busy(&rx->split)) {
            if (p[i] < 0x80) {
                con_put(&c, p[i++]);
                continue;
            }
            // Most items arrive whole in one read: find their end with the whole-buffer
            // reader and hand them on in place, without copying or tokenizing them byte by
            // byte. A partial (or malformed) item falls through to the splitter.
            // The walk that frames a map also indexes its keys and values, so the message
            // decoder does not walk it again (sw_msg_decode_ix).
            sw_mpr_t r;
            sw_mpr_init(&r, p + i, n - i);
            if (sw_mpr_skip_index(&r, &rx->ix_) == 0 && !(rx->split.strict && r.pos > rx->split.cap)) {
                if (r.pos > rx->split.cap) {
                    con_flush(&c);
                    toobig(rx, sink);
                } else {
                    rx->index = &rx->ix_;
                    item(rx, &c, p + i, r.pos);
                    rx->index = NULL;
                }
                i += r.pos;
                continue;
            }
        }
        size_t used;
        int rc = sw_mps_feed(&rx->split, p + i, n - i, &used);
        i += used;
        if (rc == 1) {
            item(rx, &c, rx->split.buf, rx->split.len);
        } else if (rc == SW_ETOOBIG) {
            con_flush(&c);
            toobig(rx, sink);
        } else if (rc < 0) {
            err = rc;
            break;
        } else if (rc == 0 && used == 0) {
            break; // cannot happen (the splitter consumes everything it does not stop at)
        }
    }
    con_flush(&c);
    *at = i;
    return err;
}

static int feed_prefixed(sw_stream_rx_t *rx, const uint8_t *p, size_t n, size_t stop, size_t *at_end,
                         const sw_rx_sink_t *sink)
{
    size_t i = 0;
    while (i < n && i < stop) {
        if (!rx->in_msg) {
            const uint8_t *at = memchr(p + i, rx->prefix, stop - i);
            size_t k = at ? (size_t)(at - (p + i)) : stop - i;
            if (k) {
                rx->stats.console += (uint32_t)k;
                if (sink && sink->console)
                    sink->console(sink->ctx, p + i, k);
            }
            i += k;
            if (at) {
                rx->in_msg = true;
                i++;
            }
            continue;
        }
        size_t used;
        int rc = sw_mps_feed(&rx->split, p + i, n - i, &used);
        i += used;
        if (rc == 1) {
            rx->in_msg = false;
            deliver(rx, sink, rx->split.buf, rx->split.len);
        } else if (rc == SW_ETOOBIG) {
            rx->in_msg = false;
            toobig(rx, sink);
        } else if (rc < 0) {
            *at_end = i;
            return rc;
        } else if (rc == 0 && used == 0) {
            break;
        }
    }
    *at_end = i;
    return 0;
}

int sw_stream_rx_feed_upto(sw_stream_rx_t *rx, const uint8_t *p, size_t n, size_t soft,
                           const sw_rx_sink_t *sink, size_t *used)
{
    *used = 0;
    if (rx->split.err)
        return rx->split.err;
    size_t stop = soft < n ? soft : n;
    if (rx->prefix == SW_STREAM_NO_PREFIX)
        return feed_plain(rx, p, n, stop, used, sink);
    return feed_prefixed(rx, p, n, stop, used, sink);
}

int sw_stream_rx_feed(sw_stream_rx_t *rx, const uint8_t *p, size_t n, const sw_rx_sink_t *sink)
{
    size_t used;
    return sw_stream_rx_feed_upto(rx, p, n, n, sink, &used);
}

void sw_stream_rx_set_resync(sw_stream_rx_t *rx, bool on)
{
    rx->split.strict = on;
}

bool sw_stream_rx_resync(sw_stream_rx_t *rx)
{
    if (!sw_mps_busy(&rx->split) && !rx->in_msg)
        return false;
    sw_mps_reset(&rx->split);
    rx->in_msg = false;
    rx->stats.resync++;
    return true;
}

size_t sw_stream_encode_console(int prefix, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used)
{
    size_t i = 0, k = 0;
    if (prefix >= 0 && prefix <= 255) {
        i = k = n < cap ? n : cap;
        if (k)
            memcpy(out, in, k);
    } else {
        for (; i < n; i++) {
            if (in[i] < 0x80) {
                if (cap - k < 1)
                    break;
            } else {
                if (cap - k < 2)
                    break;
                out[k++] = 0xCC;
            }
            out[k++] = in[i];
        }
    }
    if (used)
        *used = i;
    return k;
}
