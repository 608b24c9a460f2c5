// Bounded inflate of one compressed write (zin.h): the port decompresses, this file keeps the
// stream in order and inside its declared size and ratio.
#include "profile.h"
#if SW_WITH_ZIN
#include "zin.h"

#include "node_int.h"

int sw_zw_open(const sw_port_t *port, sw_zw_t *w, uint64_t declared)
{
    *w = (sw_zw_t){0};
    w->declared = declared;
    if (!port->ops->zin_open)
        return SW_EINVAL;
    return port->ops->zin_open(port->ctx, SW_ZIN_WBITS, &w->z);
}

static int dead(const sw_port_t *port, sw_zw_t *w, int err)
{
    sw_zw_close(port, w);
    w->end = false;
    return err;
}

int sw_zw_feed(const sw_port_t *port, sw_zw_t *w, uint64_t off, const uint8_t *p, size_t n,
               uint8_t *buf, size_t cap, sw_zw_sink_fn sink, void *u)
{
    if (!w->z)
        return SW_EPROTO; // ended, failed or never opened: nothing more is taken
    if (off != w->in)
        return SW_ERANGE; // not fatal: the host may resend in order
    // the plain bytes this stream may have produced once this piece is in
    uint64_t allow = (w->in + n) * SW_ZIN_RATIO + SW_ZIN_SLACK;
    if (allow > w->declared)
        allow = w->declared;
    for (;;) {
        size_t in_n = n;
        // one byte of room beyond the bound: a stream that would produce more shows itself
        // without a byte of it reaching the sink
        uint64_t room = allow - w->out + 1;
        size_t out_cap = room < cap ? (size_t)room : cap;
        size_t out_n = out_cap;
        int rc = port->ops->zin_run(port->ctx, w->z, p, &in_n, buf, &out_n);
        if (rc < 0)
            return dead(port, w, SW_EPROTO);
        if (w->out + out_n > allow)
            return dead(port, w, SW_ETOOBIG);
        if (out_n) {
            int e = sink(u, w->out, buf, out_n);
            if (e)
                return dead(port, w, e);
        }
        w->in += in_n;
        w->out += out_n;
        p += in_n;
        n -= in_n;
        if (rc == 1) {
            sw_zw_close(port, w);
            if (n) // bytes after the stream's end
                return dead(port, w, SW_EPROTO);
            w->end = true;
            return 0;
        }
        if (!n && out_n < out_cap)
            return 0; // all taken, and the decompressor holds nothing more for now
        if (!in_n && !out_n) // no progress with input and room: cannot happen with zlib
            return dead(port, w, SW_EPROTO);
    }
}

bool sw_zw_offered(const struct sw_node *n)
{
    return n->port.ops->zin_open && sw_cfg_bool(&n->cfg, "files.inflate", true);
}

bool sw_zw_complete(const sw_zw_t *w)
{
    return w->end && w->out == w->declared;
}

void sw_zw_close(const sw_port_t *port, sw_zw_t *w)
{
    if (w->z && port->ops->zin_close)
        port->ops->zin_close(port->ctx, w->z);
    w->z = NULL;
}

#endif // SW_WITH_ZIN
