// Links of the node: one per connection. Turns received bytes into messages (lossless stream,
// or SerialPacker frames + Reliable on lossy lines), feeds them to the link's RPC session, and
// applies backpressure: a peer that does not read its replies stops being read. On lossy lines
// the input keeps being read (it carries the acknowledgements that open the window), and
// Reliable holds back requests instead while replies wait for the window.
#include <string.h>

#include "node_int.h"
#include "swarm/noise.h"
#if SW_WITH_AUTH
#include "swarm/seclink.h"
#endif

#define PIECE SW_NODE_LINK_PIECE // input is fed in pieces this big, so backpressure can stop mid-chunk

static const sw_port_ops_t *ops(const sw_link_t *l) { return l->node->port.ops; }

// Bytes a secure link adds to a message of n bytes on the wire (auth.c, swarm/noise.h).
static size_t sec_overhead(size_t n)
{
    return (n / SW_NOISE_FRAME_PAYLOAD + 1) * (SW_NOISE_HDR + SW_NOISE_TAG);
}
static void *pctx(const sw_link_t *l) { return l->node->port.ctx; }

// The port has room for one more message of this link and its framing (port.h: the node only
// produces what the port has said it takes; the port states its own bound).
static bool has_room(const sw_link_t *l)
{
#if SW_WITH_AUTH && SW_SECLINK_COALESCE
    // (a locked link's replies to this input are gathered for one frame: not in the port yet)
    if (l->sec)
        return ops(l)->conn_room(pctx(l), l->conn) >= l->need + sw_auth_link_held(l);
#endif
    return ops(l)->conn_room(pctx(l), l->conn) >= l->need;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Output

static int write_stream(sw_link_t *l, const uint8_t *p, size_t n)
{
    if (l->closing)
        return SW_ECLOSED;
    if (l->sec)
        return sw_auth_link_write(l, p, n);
    return ops(l)->conn_write(pctx(l), l->conn, p, n);
}

// Lossy: a wire message of Reliable → one SerialPacker frame.
static int rel_tx(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    uint8_t hdr[3], tr[2];
    size_t k = sw_sp_header(&l->spcfg, n, hdr);
    if (!k || l->closing)
        return SW_ETOOBIG;
    sw_sp_trailer(p, n, tr);
    // Three writes in a row: the port queues them in order and nothing runs in between, so a
    // console line cannot land inside the frame (and no frame-sized stack buffer is needed).
    // All three or none: a frame the port has no room for is not sent (Reliable treats that
    // like a loss and sends it again).
    if (ops(l)->conn_room(pctx(l), l->conn) < k + n + 2)
        return SW_EAGAIN;
    int rc = ops(l)->conn_write(pctx(l), l->conn, hdr, k);
    if (!rc)
        rc = ops(l)->conn_write(pctx(l), l->conn, p, n);
    return rc ? rc : ops(l)->conn_write(pctx(l), l->conn, tr, 2);
}

static void rel_schedule(sw_link_t *l)
{
    uint32_t wait = sw_rel_poll(&l->rel, sw_node_now(l->node));
    sw_timer_start(l->node, &l->rel_timer, wait > 60000 ? 60000 : wait);
}

// Sends queued messages while the Reliable window has room. Once all are gone, requests may
// be delivered again (the next poll does).
static void drain_outq(sw_link_t *l)
{
    uint32_t now = sw_node_now(l->node);
    size_t at = 0;
    while (at + 2 <= l->outq_len && sw_rel_can_send(&l->rel)) {
        size_t n = (size_t)l->outq[at] << 8 | l->outq[at + 1];
        if (sw_rel_send(&l->rel, l->outq + at + 2, n, now) == SW_EAGAIN)
            break;
        at += 2 + n; // sent, or too big for the peer (dropped: it can never go)
    }
    memmove(l->outq, l->outq + at, l->outq_len - at);
    l->outq_len -= at;
    if (!l->outq_len)
        sw_rel_hold(&l->rel, false);
}

// Bytes a locked lossy link adds to a message: a frame (length, tag) in a bin item (auth.c).
#define SEC_LOSSY_OVERHEAD (3 + SW_NOISE_HDR + SW_NOISE_TAG)

static int rpc_send(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    if (l->mode == SW_LINK_STREAM)
        return write_stream(l, p, n);
    if (!l->sec)
        return sw_link_lossy_send(l, p, n);
    // Refused before it is encrypted: a frame that took a nonce must go, or the next one fails
    if (!sw_auth_link_ready(l) || !sw_rel_is_up(&l->rel))
        return SW_ECLOSED;
    size_t w = n + SEC_LOSSY_OVERHEAD;
    if (w > sw_rel_max_payload(&l->rel) || n > SW_NOISE_FRAME_PAYLOAD)
        return SW_ETOOBIG;
    if (l->outq_len && l->outq_len + 2 + w > l->outq_cap)
        return SW_EFULL;
    return sw_auth_link_write(l, p, n);
}

int sw_link_lossy_send(sw_link_t *l, const uint8_t *p, size_t n)
{
    if (!sw_rel_is_up(&l->rel))
        return SW_ECLOSED;
    // Larger than the peer takes (a MoaT host: 127-byte frames): refused, never queued, so the
    // RPC layer answers with an error instead and no request waits for what cannot go.
    if (n > sw_rel_max_payload(&l->rel))
        return SW_ETOOBIG;
    // This may run inside Reliable's rx callback, which must not poll: the timer does.
    if (l->outq_len == 0) {
        int rc = sw_rel_send(&l->rel, p, n, sw_node_now(l->node));
        if (rc != SW_EAGAIN) {
            sw_timer_start(l->node, &l->rel_timer, 0);
            return rc;
        }
    }
    if (n > 0xffff || l->outq_len + 2 + n > l->outq_cap)
        return SW_EFULL; // the peer is not acknowledging
    // no more requests until this reply has gone: each could add one to the queue
    sw_rel_hold(&l->rel, true);
    l->outq[l->outq_len++] = (uint8_t)(n >> 8);
    l->outq[l->outq_len++] = (uint8_t)n;
    memcpy(l->outq + l->outq_len, p, n);
    l->outq_len += n;
    return 0;
}

void sw_link_console(sw_link_t *l, const char *p, size_t n)
{
    if (!l->console || l->closing)
        return;
    // Console bytes are best effort: a line the port has no room for is dropped, so it never
    // takes the room a reply was promised.
    if (ops(l)->conn_room(pctx(l), l->conn) < l->need + 2 * n + 8) {
        l->console_dropped++;
        return;
    }
    if (l->mode == SW_LINK_LOSSY) { // bytes outside frames are console
        // (a locked lossy link has no console: l->console is false, nothing goes out in plain)
        // Without a start byte (serial.start = -1) every byte is taken for a frame: console
        // bytes would be read as a length and eat the next frame. There is no console then.
        if (l->spcfg.start < 0)
            return;
        // they hold back the frames after them: Reliable's line model must know
        if (ops(l)->conn_write(pctx(l), l->conn, p, n) == 0)
            sw_rel_line_used(&l->rel, n, sw_node_now(l->node));
        return;
    }
    uint8_t buf[256];
    while (n) {
        size_t used;
        size_t k = sw_stream_encode_console(l->srx.prefix, (const uint8_t *)p, n, buf, sizeof buf, &used);
        if (l->sec) // a locked line: the console is encrypted too, once a host has the session
            sw_auth_link_write(l, buf, k);
        else
            ops(l)->conn_write(pctx(l), l->conn, buf, k);
        p += used;
        n -= used;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Input

// Runs due stream steps — only while the port has room for a value (else sw_node_drained()
// resumes them).
static void schedule_rpc(sw_link_t *l)
{
    if (l->defer_len || !has_room(l)) {
        sw_timer_stop(l->node, &l->rpc_timer);
        return;
    }
    uint32_t wait = sw_rpc_poll(&l->rpc, sw_node_now(l->node));
    if (wait == UINT32_MAX)
        sw_timer_stop(l->node, &l->rpc_timer);
    else
        sw_timer_start(l->node, &l->rpc_timer, wait);
}

// Requests are dispatched in the command tree; a cancel also ends the task that works on the
// request it names (an eval that sleeps, an app command that waits).
static void on_request(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m)
{
    sw_link_t *l = ctx;
    if (m->kind == SW_MSG_REQUEST) {
        if (!l->proven) {
            l->proven = true; // from now on it keeps its slot
            sw_timer_stop(l->node, &l->idle_timer);
        }
        sw_rpc_dispatch(rpc, m, l->now);
    } else if (m->kind == SW_MSG_CANCEL) {
        sw_rpc_stop_stream(rpc, m->i);
        sw_node_request_cancelled(l->node, rpc, m->i);
    }
}


// A complete message. Handling it may write a reply, so on a lossless link it runs only while
// the port has room for one; otherwise (several requests arrived in one piece of input) it
// waits in `defer`, which holds what one piece can complete (sized in sw_link_open), until the
// port drains. On a lossy link replies go through Reliable, which keeps them until the port
// takes their frames (rel_tx), and holds requests back while they wait (sw_rel_hold).
static void on_msg(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    if (l->mode == SW_LINK_LOSSY || (!l->defer_len && has_room(l))) {
        // (srx.index: set while the lossless receiver delivers a message it framed in place;
        // a deferred message is decoded from its copy without one)
        sw_rpc_input_ix(&l->rpc, p, n, l->mode == SW_LINK_STREAM ? l->srx.index : NULL, l->now);
        return;
    }
    if (l->defer_len + 4 + n > l->defer_cap) { // cannot happen with the sizes of sw_link_open
        sw_log(l->node, SW_LOG_WARN, "link %s: request dropped (waiting for the peer to read)", l->peer);
        return;
    }
    uint8_t *q = l->defer + l->defer_len;
    q[0] = (uint8_t)(n >> 24), q[1] = (uint8_t)(n >> 16), q[2] = (uint8_t)(n >> 8), q[3] = (uint8_t)n;
    memcpy(q + 4, p, n);
    l->defer_len += 4 + n;
}

// Handles deferred messages while the port has room. True once none is left.
static bool run_deferred(sw_link_t *l)
{
    size_t at = 0;
    l->now = sw_node_now(l->node);
    while (at < l->defer_len && has_room(l) && !l->closing) {
        const uint8_t *q = l->defer + at;
        size_t n = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
        at += 4 + n;
        sw_rpc_input(&l->rpc, q + 4, n, l->now);
    }
    memmove(l->defer, l->defer + at, l->defer_len - at);
    l->defer_len -= at;
    return l->defer_len == 0;
}

static void on_drop(void *ctx, int err)
{
    sw_link_t *l = ctx;
    sw_log(l->node, SW_LOG_DEBUG, "link %s: dropped input (%s)", l->peer, sw_errname(err));
}

static void on_frame(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    sw_rel_input(&l->rel, p, n, sw_node_now(l->node));
}

void sw_link_lossy_msg(sw_link_t *l, const uint8_t *p, size_t n) { on_msg(l, p, n); }

static void rel_rx(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    if (l->sec) // a frame of the Noise session (auth.c), which hands the plaintext on
        sw_auth_link_rel(l, true, p, n);
    else
        on_msg(l, p, n);
}

static void rel_state(void *ctx, bool up)
{
    sw_link_t *l = ctx;
    sw_log(l->node, SW_LOG_INFO, "link %s: reliable link %s", l->peer, up ? "up" : "down");
    if (l->sec) // a locked link: a Noise session per Reliable link
        sw_auth_link_rel(l, up, NULL, 0);
    if (up) {
        if (!l->sec) // (a locked link sends it once authenticated)
            sw_rpc_link(&l->rpc, true);
    } else {
        l->outq_len = 0;
        sw_rel_hold(&l->rel, false);
        sw_node_rpc_reset(l->node, &l->rpc, SW_ECLOSED);
        sw_node_link_gone(l->node, &l->rpc);
    }
}

// Feeds bytes until done or, on a lossless link, until the port has no room for another reply
// (the peer does not read its replies). A lossy link reads on: its input carries the
// acknowledgements that open Reliable's window, and Reliable holds requests back while replies
// wait (see on_msg). Returns the bytes consumed.
static size_t process(sw_link_t *l, const uint8_t *p, size_t len)
{
    size_t at = 0;
    l->now = sw_node_now(l->node); // one clock read per chunk, not per message
    while (at < len && !l->closing && (l->mode == SW_LINK_LOSSY || (!l->defer_len && has_room(l)))) {
        size_t piece = len - at < PIECE ? len - at : PIECE;
        if (l->mode == SW_LINK_STREAM) {
            // About PIECE bytes, but never cutting a message that is whole in the chunk (a cut
            // one would be gathered by the slower splitter). A message the last read left
            // pending is finished in a piece of its own, so a piece completes at most one
            // message that began before it plus PIECE bytes of others (what `defer` holds).
            sw_rx_sink_t sink = {on_msg, NULL, on_drop, l};
            size_t used;
            size_t soft = sw_mps_busy(&l->srx.split) || l->srx.in_msg ? 1 : PIECE;
            int rc = sw_stream_rx_feed_upto(&l->srx, p + at, len - at, soft, &sink, &used);
            if (rc >= 0 || used > piece) // (after an error the rest of the piece is dropped)
                piece = used;
            if (rc < 0) {
                if (l->conn->kind == SW_CONN_TCP) {
                    sw_log(l->node, SW_LOG_WARN, "link %s: stream out of step (%s), closing",
                           l->peer, sw_errname(l->srx.split.err));
                    sw_link_close(l);
                    return len;
                }
                // A serial line or stdio cannot be reopened by the peer: resynchronise instead
                // (e.g. a host that spoke the lossy framing to a lossless node).
                sw_log(l->node, SW_LOG_WARN, "link %s: stream out of step (%s), resynchronising",
                       l->peer, sw_errname(l->srx.split.err));
                sw_mps_reset(&l->srx.split);
                l->srx.in_msg = false;
            }
        } else {
            sw_rx_sink_t sink = {on_frame, NULL, on_drop, l};
            sw_sp_rx_feed(&l->sprx, p + at, piece, sw_node_now(l->node), &sink);
            drain_outq(l);
            rel_schedule(l);
        }
        at += piece;
    }
    schedule_rpc(l);
    return at;
}

static void link_data(void *self, const uint8_t *p, size_t len) { sw_link_data(self, p, len); }
static void link_drained(void *self) { sw_link_drained(self); }
static void link_closed(void *self, int err)
{
    (void)err;
    sw_link_closed(self);
}
static const sw_conn_ops_t link_ops = {link_data, link_drained, link_closed};

// An open node's answer to a line that starts an authenticated session (a host that has a
// key): the link message again, in plain, so the host learns at once that this node is open
// and goes on in plain. The preamble and the handshake message after it are not MsgPack: the
// decoder starts over and skips them, so the host's next plain request is read whole. (On TCP
// the open node sent the link message at accept and closes at the preamble's 0xC1.)
static void input_open_line(sw_link_t *l, const uint8_t *p, size_t len)
{
    size_t seg = 0;
    for (size_t i = 0; i < len && !l->closing; i++) {
        if (l->pre_skip) {
            l->pre_skip--;
            seg = i + 1;
            continue;
        }
        l->pre_win = l->pre_win << 8 | p[i];
        if (l->pre_win != 0xc1534e31u) // SW_NOISE_PREAMBLE
            continue;
        if (i + 1 >= seg + SW_NOISE_PREAMBLE_LEN)
            sw_link_input(l, p + seg, i + 1 - SW_NOISE_PREAMBLE_LEN - seg);
        sw_link_stream_reset(l);
        ops(l)->conn_write(pctx(l), l->conn, (const uint8_t *)SW_NOISE_LINE_OPEN, SW_NOISE_LINE_MARK_LEN);
        sw_rpc_link(&l->rpc, true);
        l->pre_skip = SW_NOISE_HDR + SW_NOISE_HS_LEN;
        seg = i + 1;
    }
    if (seg < len && !l->closing)
        sw_link_input(l, p + seg, len - seg);
}

void sw_link_data(sw_link_t *l, const uint8_t *p, size_t len)
{
    if (l->sec && l->mode == SW_LINK_STREAM && !l->closing) { // (lossy: per Reliable message)
        sw_auth_link_data(l, p, len);
        return;
    }
    if (l->mode == SW_LINK_STREAM && l->conn->kind != SW_CONN_TCP)
        input_open_line(l, p, len);
    else
        sw_link_input(l, p, len);
}

void sw_link_stream_reset(sw_link_t *l)
{
    if (l->mode != SW_LINK_STREAM)
        return;
    sw_mps_reset(&l->srx.split);
    l->srx.in_msg = false;
    l->defer_len = 0;
    l->inq_len = 0;
    if (l->paused) {
        l->paused = false;
        ops(l)->conn_pause(pctx(l), l->conn, false);
    }
}

void sw_link_input(sw_link_t *l, const uint8_t *p, size_t len)
{
    if (l->closing)
        return;
    if (l->gap_ms) { // a partial message the line left idle is noise or a lost tail: forget it
        uint32_t now = sw_node_now(l->node);
        if (l->inq_len == 0 && now - l->last_rx >= l->gap_ms && sw_stream_rx_resync(&l->srx))
            sw_log(l->node, SW_LOG_DEBUG, "link %s: %u ms idle inside a message, resynchronising", l->peer,
                   (unsigned)(now - l->last_rx));
        l->last_rx = now;
    }
    if (l->inq_len == 0) {
        size_t used = process(l, p, len);
        p += used;
        len -= used;
        if (!len || l->closing)
            return;
    }
    // Keep what could not be processed yet and stop reading until the peer catches up.
#if SW_NODE_LINK_INQ
    // MCU profiles: a fixed buffer carved with the link (no realloc in a small heap). The port
    // stops delivering after conn_pause(), so only the chunk in hand can overflow it: a port
    // that delivers at most SW_NODE_LINK_INQ bytes at a time never loses input (PORTING.md).
    if (l->inq_len + len > l->inq_cap) {
        sw_log(l->node, SW_LOG_WARN, "link %s: %u input bytes dropped (more than SW_NODE_LINK_INQ at once)",
               l->peer, (unsigned)(l->inq_len + len - l->inq_cap));
        len = l->inq_cap - l->inq_len;
    }
#else
    if (l->inq_len + len > l->inq_cap) {
        uint8_t *q = ops(l)->alloc(pctx(l), SW_POOL_NODE, l->inq, l->inq_cap, l->inq_len + len);
        if (!q) {
            sw_log(l->node, SW_LOG_WARN, "link %s: out of memory for input, closing", l->peer);
            sw_link_close(l);
            return;
        }
        l->inq = q;
        l->inq_cap = l->inq_len + len;
    }
#endif
    memcpy(l->inq + l->inq_len, p, len);
    l->inq_len += len;
    if (!l->paused) {
        l->paused = true;
        ops(l)->conn_pause(pctx(l), l->conn, true);
    }
}

void sw_link_drained(sw_link_t *l)
{
    if (l->closing)
        return;
    if (!run_deferred(l) || !l->inq_len) {
        schedule_rpc(l);
        return;
    }
    size_t used = process(l, l->inq, l->inq_len);
    memmove(l->inq, l->inq + used, l->inq_len - used);
    l->inq_len -= used;
    if (l->inq_len == 0) {
#if !SW_NODE_LINK_INQ
        ops(l)->alloc(pctx(l), SW_POOL_NODE, l->inq, l->inq_cap, 0);
        l->inq = NULL;
        l->inq_cap = 0;
#endif
        l->paused = false;
        ops(l)->conn_pause(pctx(l), l->conn, false);
    }
}

static void rpc_timer(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    schedule_rpc(t->user);
}

static void rel_timer(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    sw_link_t *l = t->user;
    drain_outq(l);
    rel_schedule(l);
    if ((l->inq_len || l->defer_len) && has_room(l))
        sw_link_drained(l);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifecycle

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static void idle_fire(sw_node_t *n, sw_timer_t *t)
{
    sw_link_t *l = t->user;
    sw_log(n, SW_LOG_WARN, "link %s: no request within %u ms (rpc.idle_ms), closing", l->peer,
           (unsigned)sw_cfg_int(&n->cfg, "rpc.idle_ms", SW_NODE_DEF_RPC_IDLE));
    sw_link_close(l);
}

bool sw_link_evict_idle(sw_node_t *n)
{
    sw_link_t *old = NULL;
    for (sw_link_t *l = n->links; l; l = l->next)
        if (l->counted && !l->proven && !l->closing)
            old = l; // the list is newest first
    if (!old)
        return false;
    sw_log(n, SW_LOG_WARN, "link %s: closed to make room (limits.clients reached, no request yet)", old->peer);
    old->counted = false;
    n->clients--;
    sw_link_close(old);
    return true;
}

// Carves a..b from one allocation, 8-byte aligned.
static uint8_t *carve(uint8_t **at, size_t n)
{
    uint8_t *p = *at;
    *at += (n + 7) & ~(size_t)7;
    return p;
}

sw_link_t *sw_link_open(sw_node_t *n, sw_conn_t *c, int mode, bool counted)
{
    sw_link_t *l = sw_node_alloc(n, sizeof *l);
    if (!l)
        return NULL;
    l->ops = &link_ops;
    l->node = n;
    l->conn = c;
    l->mode = mode;
    l->counted = counted;
    // every link of a locked node speaks Noise before anything else (auth.c)
    if (n->locked && !sw_auth_link_new(l)) {
        sw_node_release(n, l, sizeof *l);
        return NULL;
    }
    n->port.ops->conn_peer(n->port.ctx, c, l->peer, sizeof l->peer);

    // Messages on this link fit the port's queue (port.h, conn_room): its capacity bounds them.
    size_t cap = n->port.ops->conn_room(n->port.ctx, c);
    size_t fit = (cap > SW_CONN_ROOM_MIN ? cap : SW_CONN_ROOM_MIN) - SW_CONN_FRAMING;
    if (l->sec && mode == SW_LINK_STREAM) // and the encrypted frames they become (a header
        fit -= sec_overhead(fit);            // and a tag per 2 KiB)
    size_t msg = n->lim.max_msg < fit ? n->lim.max_msg : fit;
    sw_rel_cfg_t rcfg;
    sw_rel_cfg_default(&rcfg);
    if (mode == SW_LINK_LOSSY) {
        sw_sp_cfg_default(&l->spcfg);
        l->spcfg.start = (int)sw_cfg_int(&n->cfg, "serial.start", SW_SP_START_DEFAULT);
        // Out-of-range settings are clamped: a device must keep its serial link.
        rcfg.max_msg = (uint16_t)clamp(sw_cfg_int(&n->cfg, "serial.max_msg", SW_NODE_DEF_SERIAL_MSG),
                                       16, SW_SP_MAX_FRAME_LIMIT - 64);
        if (rcfg.max_msg > fit)
            rcfg.max_msg = (uint16_t)fit;
        if (l->sec && rcfg.max_msg < 64 + SEC_LOSSY_OVERHEAD) // room for a message in a frame
            rcfg.max_msg = 64 + SEC_LOSSY_OVERHEAD;
        rcfg.window = (uint8_t)clamp(sw_cfg_int(&n->cfg, "serial.window", SW_NODE_DEF_SERIAL_WINDOW),
                                     4, SW_REL_MAX_WINDOW);
        // 0: derived from the line rate (rel.h); a frame's timer runs from when it has left
        rcfg.timeout_ms = (uint32_t)clamp(sw_cfg_int(&n->cfg, "serial.timeout_ms", 0), 0, 600000);
        uint32_t baud = n->opts.serial_baud ? n->opts.serial_baud : SW_NODE_DEF_BAUD;
        rcfg.line_rate = baud / 10; // 8N1
        rcfg.retries = 0; // a device keeps offering the link forever
        // Above 255 the 2-byte length form is used for 128+ byte frames, as our hosts expect;
        // both ends must agree on that, so never go below it (docs/PROTOCOL.md, SerialPacker).
        l->spcfg.max_frame = (uint16_t)(rcfg.max_msg + 64 < 256 ? 256 : rcfg.max_msg + 64);
        msg = rcfg.max_msg; // an RPC message must fit one Reliable payload
        if (l->sec) // (as one encrypted frame in a bin item, on a locked node)
            msg -= SEC_LOSSY_OVERHEAD;
    }
    size_t streams = sizeof(sw_rpc_stream_t) * n->lim.max_streams;
    size_t pending = sizeof(sw_rpc_pending_t) * n->lim.max_pending;
    size_t rel_store = mode == SW_LINK_LOSSY ? sw_rel_store_size(&rcfg) : 0;
    // two messages waiting for the window: Reliable holds requests back after the first
    size_t outq = mode == SW_LINK_LOSSY ? 2 * (rcfg.max_msg + 2) : 0;
    size_t rx = mode == SW_LINK_LOSSY ? l->spcfg.max_frame : msg;
    // requests completed by one piece of input wait here while the port has no room
    // (on_msg): the message the piece ends + the rest of the piece, 4 bytes of length each
    size_t defer = mode == SW_LINK_STREAM ? msg + 5 * PIECE + 8 : 0;
    l->need = msg + SW_CONN_FRAMING + (l->sec && mode == SW_LINK_STREAM ? sec_overhead(msg) : 0);
    size_t inq = mode == SW_LINK_STREAM ? SW_NODE_LINK_INQ : 0;
    l->mem_size = 8 * 8 + rx + msg + streams + pending + rel_store + outq + defer + inq;
    l->mem = sw_node_alloc_buf(n, l->mem_size); // buffers; sw_rpc_init zeroes the tables
    if (!l->mem) {
        if (l->sec)
            sw_auth_link_free(l);
        sw_node_release(n, l, sizeof *l);
        return NULL;
    }
    // Only touched pages become resident: the tables (zeroed) and the start of the reply
    // buffer come first, so an idle link that has answered a request holds two pages of its
    // block, not four (bench/rpc/clients); the receive buffer, used only for a message a read
    // cut, and defer come after.
    uint8_t *at = l->mem;
    sw_rpc_stream_t *st = (sw_rpc_stream_t *)(void *)carve(&at, streams);
    sw_rpc_pending_t *pd = (sw_rpc_pending_t *)(void *)carve(&at, pending);
    uint8_t *out = carve(&at, msg);
    uint8_t *rxbuf = carve(&at, rx);
    l->defer = carve(&at, defer);
    l->defer_cap = defer;
#if SW_NODE_LINK_INQ
    if (mode == SW_LINK_STREAM) { // a lossy link never keeps input (process)
        l->inq = carve(&at, SW_NODE_LINK_INQ);
        l->inq_cap = SW_NODE_LINK_INQ;
    }
#endif

    sw_rpc_mem_t mem = {out, msg, st, n->lim.max_streams, pd, n->lim.max_pending};
    sw_rpc_hooks_t hooks = {rpc_send, on_request, NULL, l};
    sw_rpc_init(&l->rpc, &mem, &hooks, &n->tree, n);
    l->rpc.gen = ++n->gen_seq;
    l->rpc_timer.fn = rpc_timer;
    l->rpc_timer.user = l;

    if (mode == SW_LINK_STREAM) {
        sw_stream_rx_init(&l->srx, SW_STREAM_NO_PREFIX, rxbuf, rx);
        l->console = c->kind == SW_CONN_SERIAL;
        if (c->kind == SW_CONN_SERIAL) {
            // a line can carry noise: an oversize item or an idle gap resets the decoder
            // (docs/PROTOCOL.md, "Lossless stream", Resynchronising)
            sw_stream_rx_set_resync(&l->srx, true);
            l->gap_ms = (uint32_t)clamp(sw_cfg_int(&n->cfg, "serial.gap_ms", SW_NODE_DEF_SERIAL_GAP), 0, 60000);
            l->last_rx = sw_node_now(n);
        }
    } else {
        sw_sp_rx_init(&l->sprx, &l->spcfg, rxbuf, rx);
        uint8_t *store = carve(&at, rel_store);
        l->outq = carve(&at, outq);
        l->outq_cap = outq;
        sw_rel_io_t io = {rel_tx, rel_rx, rel_state, l};
        sw_rel_init(&l->rel, &rcfg, &io, store, rel_store);
        l->rel_timer.fn = rel_timer;
        l->rel_timer.user = l;
        l->console = !l->sec; // console bytes go between frames, in plain: none when locked
    }

    l->next = n->links;
    n->links = l;
    if (counted) {
        n->clients++;
        int64_t idle = clamp(sw_cfg_int(&n->cfg, "rpc.idle_ms", SW_NODE_DEF_RPC_IDLE), 0, 86400000);
        l->idle_timer.fn = idle_fire;
        l->idle_timer.user = l;
        if (idle > 0)
            sw_timer_start(n, &l->idle_timer, (uint32_t)idle);
    }
    // every CLI call is a TCP connection: at info level they would drown the console's log
    sw_log(n, counted ? SW_LOG_DEBUG : SW_LOG_INFO, "link %s: open (%s)", l->peer,
           mode == SW_LINK_LOSSY ? "lossy" : "stream");
    if (mode == SW_LINK_STREAM) {
        if (!l->sec) // a secure link sends it once authenticated (auth.c)
            sw_rpc_link(&l->rpc, true); // what MoaT sends first on every new connection
    } else {
        sw_rel_start(&l->rel, sw_node_now(n)), rel_schedule(l);
    }
    return l;
}

void sw_link_close(sw_link_t *l)
{
    if (l->closing)
        return;
    if (l->mode == SW_LINK_LOSSY && sw_rel_is_up(&l->rel))
        sw_rel_close(&l->rel, "closing", sw_node_now(l->node));
    l->closing = true;
    sw_timer_stop(l->node, &l->idle_timer);
    sw_timer_stop(l->node, &l->rpc_timer);
    sw_timer_stop(l->node, &l->rel_timer);
    ops(l)->conn_close(pctx(l), l->conn);
}

void sw_link_closed(sw_link_t *l)
{
    sw_node_t *n = l->node;
    sw_timer_stop(n, &l->idle_timer);
    sw_timer_stop(n, &l->rpc_timer);
    sw_timer_stop(n, &l->rel_timer);
    sw_node_rpc_reset(n, &l->rpc, SW_ECLOSED);
    sw_node_link_gone(n, &l->rpc);
    for (sw_link_t **pp = &n->links; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    if (l->counted)
        n->clients--;
    sw_log(n, l->counted ? SW_LOG_DEBUG : SW_LOG_INFO, "link %s: closed", l->peer);
#if !SW_NODE_LINK_INQ
    if (l->inq)
        ops(l)->alloc(pctx(l), SW_POOL_NODE, l->inq, l->inq_cap, 0);
#endif
    if (l->sec)
        sw_auth_link_free(l);
    sw_node_release(n, l->mem, l->mem_size);
    sw_node_release(n, l, sizeof *l);
}
