// Host link, transport side: TCP (name lookup, every address in turn, TCP_NODELAY, connect
// timeout), Unix sockets and serial ttys (raw 8N1 at the URI's rate) on libuv streams; writes
// (straight through when the kernel takes them, else queued with libuv); and the framing of
// what is read: the lossless stream, or SerialPacker frames carrying Reliable.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <termios.h>
#include <unistd.h>

#include "hlink_int.h"
#include "swarm/seclink.h"

int sw__hlink_uverr(int e)
{
    switch (e) {
    case 0: return 0;
    case UV_ETIMEDOUT: case UV_EAI_AGAIN: return SW_ETIMEDOUT;
    case UV_ENOENT: case UV_EAI_NONAME: case UV_ENODEV: case UV_ENXIO: return SW_ENOENT;
    case UV_EACCES: case UV_EPERM: return SW_EPERM;
    case UV_EBUSY: return SW_EBUSY;
    case UV_ECANCELED: case UV_EAI_CANCELED: return SW_ECANCELED;
    case UV_ENOMEM: case UV_EAI_MEMORY: case UV_ENOBUFS: return SW_EFULL;
    case UV_EOF: case UV_ECONNREFUSED: case UV_ECONNRESET: case UV_EPIPE: case UV_ENOTCONN:
    case UV_ECONNABORTED: case UV_EHOSTUNREACH: case UV_ENETUNREACH: case UV_EIO:
        return SW_ECLOSED;
    default: return SW_EIO;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Connections

static void on_conn_closed(uv_handle_t *h)
{
    sw_hconn_t *c = h->data;
    if (--c->handles == 0)
        free(c);
}

static void conn_close_now(sw_hconn_t *c)
{
    if (c->closed)
        return;
    c->closed = true;
    uv_close(&c->io.h, on_conn_closed);
    uv_close((uv_handle_t *)&c->linger, on_conn_closed);
}

static void on_linger(uv_timer_t *t)
{
    conn_close_now(t->data);
}

// The io handle must be initialised (io.h.data = c) by the caller right after this.
static sw_hconn_t *conn_new(sw_hlink_t *l)
{
    sw_hconn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->l = l;
    uv_timer_init(l->loop, &c->linger);
    c->linger.data = c;
    c->handles = 2;
    return c;
}

void sw__hlink_conn_end(sw_hconn_t *c, bool flush)
{
    c->l = NULL;
    if (c->reading) {
        uv_read_stop(&c->io.s);
        c->reading = false;
    }
    if (flush && c->connected && c->inflight) {
        c->ending = true; // closed when the writes are done, or when the linger time is up
        uv_timer_start(&c->linger, on_linger, SW_HLINK_LINGER_MS, 0);
        return;
    }
    conn_close_now(c);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Writing

typedef struct wreq {
    uv_write_t req;
    sw_hconn_t *c;
    size_t n;
    uint8_t data[];
} wreq_t;

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    sw_hconn_t *c = w->c;
    c->inflight -= w->n;
    free(w);
    if (c->ending && c->inflight == 0) {
        conn_close_now(c);
        return;
    }
    sw_hlink_t *l = c->l;
    if (status < 0 && status != UV_ECANCELED && l && l->conn == c) {
        sw__hlink_set_error(l, sw__hlink_uverr(status), "%s: write failed: %s", l->name,
                            uv_strerror(status));
        sw__hlink_lost(l, sw__hlink_uverr(status));
    }
}

static int write_now(sw_hlink_t *l, const uint8_t *p, size_t n);

int sw__hlink_write(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->sec && l->conn && !(l->uri.kind == SW_URI_SERIAL && l->uri.lossy)) // a locked node
        return sw__hsec_write(l, p, n);
    return sw__hlink_write_raw(l, p, n);
}

int sw__hlink_write_raw(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    sw_hconn_t *c = l->conn;
    if (!c || !c->connected || c->ending)
        return SW_ECLOSED;
    if (!n)
        return 0;
    if (!l->corked)
        return write_now(l, p, n);
    if (l->cork_len + n > l->cork_cap) {
        size_t cap = l->cork_cap ? l->cork_cap : 4096;
        while (cap < l->cork_len + n)
            cap *= 2;
        uint8_t *b = realloc(l->cork, cap);
        if (!b)
            return SW_EFULL;
        l->cork = b;
        l->cork_cap = cap;
    }
    memcpy(l->cork + l->cork_len, p, n);
    l->cork_len += n;
    return 0;
}

// A locked stream link (TCP, lossless serial) whose session is up: what a burst writes can share
// one Noise frame (swarm/seclink.h). Not a lossy line: there a frame is one message.
static bool sec_stream(const sw_hlink_t *l)
{
    return l->sec && !(l->uri.kind == SW_URI_SERIAL && l->uri.lossy) && sw_seclink_ready(l->sec);
}

void sw_hlink_cork(sw_hlink_t *l)
{
    l->corked = true;
    if (sec_stream(l))
        sw_seclink_cork(l->sec);
}

void sw_hlink_uncork(sw_hlink_t *l)
{
    if (!l->corked)
        return;
    if (sec_stream(l)) // its last frame joins the held bytes (still corked), in order
        sw_seclink_flush(l->sec);
    l->corked = false;
    size_t n = l->cork_len;
    l->cork_len = 0;
    sw_hconn_t *c = l->conn;
    if (n && c && c->connected && !c->ending)
        write_now(l, l->cork, n); // (errors: on_write, or the reader, sees the broken line)
    if (l->cork_cap > (256u << 10)) { // a burst is over: give its memory back
        free(l->cork);
        l->cork = NULL;
        l->cork_cap = 0;
    }
}

void sw__hlink_cork_drop(sw_hlink_t *l)
{
    l->cork_len = 0;
}

static int write_now(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    sw_hconn_t *c = l->conn;
    size_t done = 0;
    if (!c->inflight) { // libuv refuses try_write behind queued writes anyway
        uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
        int r = uv_try_write(&c->io.s, &b, 1);
        if (r > 0)
            done = (size_t)r;
        // other errors: the queued write below reports them through on_write
    }
    if (done == n)
        return 0;
    wreq_t *w = malloc(sizeof *w + (n - done));
    if (!w)
        return SW_EFULL;
    w->c = c;
    w->n = n - done;
    memcpy(w->data, p + done, n - done);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->n);
    int r = uv_write(&w->req, &c->io.s, &b, 1, on_write);
    if (r < 0) {
        free(w);
        return sw__hlink_uverr(r);
    }
    c->inflight += w->n;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Reading and framing

static void stream_msg(void *ctx, const uint8_t *p, size_t n)
{
    sw__hlink_msg(ctx, p, n);
}

static void any_console(void *ctx, const uint8_t *p, size_t n)
{
    sw__hlink_console(ctx, p, n);
}

static void sp_frame(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    if (l->closing)
        return;
    l->in_rel = true;
    sw_rel_input(&l->rel, p, n, sw__hlink_now(l));
    l->in_rel = false;
}

// A complete SerialPacker frame with a good CRC on a lossless serial link: the node speaks the
// lossy framing (swarm-node --lossy), and nothing it sends would ever be understood.
static void sniff_frame(void *ctx, const uint8_t *p, size_t n)
{
    (void)p, (void)n;
    ((sw_hlink_t *)ctx)->peer_lossy = true;
}

static void feed(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->sec && !(l->uri.kind == SW_URI_SERIAL && l->uri.lossy)) { // (lossy: per message)
        sw__hsec_feed(l, p, n);
        return;
    }
    sw__hlink_feed_plain(l, p, n);
}

void sw__hlink_feed_plain(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy) {
        sw_rx_sink_t sink = {sp_frame, any_console, NULL, l};
        sw_sp_rx_feed(&l->sprx, p, n, sw__hlink_now(l), &sink);
        l->tick_due = true;
        if (!l->closing)
            sw__hlink_rel_service(l);
        return;
    }
    if (l->probe)
        sw__hsec_probe_feed(l, p, n); // (sw_hlink_line_locked, sw_hlink_probe_locked)
    if (l->closing)
        return; // (the probe's fn closed the link)
    if (l->uri.kind == SW_URI_SERIAL && !l->peer_lossy) {
        sw_rx_sink_t sn = {sniff_frame, NULL, NULL, l};
        sw_sp_rx_feed(&l->sprx, p, n, sw__hlink_now(l), &sn);
        if (l->peer_lossy && !l->closing) {
            sw__hlink_set_error(l, SW_EPROTO, "the device on %s speaks the lossy framing (SerialPacker "
                                "frames: swarm-node --lossy); use serial://%s?mode=lossy", l->uri.path,
                                l->uri.path);
            sw__hlink_lost(l, SW_EPROTO);
            return;
        }
    }
    sw_rx_sink_t sink = {stream_msg, any_console, NULL, l};
    if (sw_stream_rx_feed(&l->srx, p, n, &sink) < 0 && !l->closing) {
        if (l->uri.kind == SW_URI_SERIAL) {
            // line noise: start over at the next item (a serial line has no connection to drop)
            sw_stream_rx_init(&l->srx, SW_STREAM_NO_PREFIX, l->rxbuf, l->rxcap);
            return;
        }
        sw__hlink_set_error(l, SW_EPROTO, "%s: the peer sent something that is not a MsgPack "
                            "stream (%s)", l->name, sw_strerror(l->srx.split.err));
        sw__hlink_lost(l, SW_EPROTO);
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    sw_hconn_t *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    sw_hconn_t *c = s->data;
    sw_hlink_t *l = c->l;
    if (!l || l->conn != c || nread == 0)
        return;
    if (nread < 0) {
        int err = sw__hlink_uverr((int)nread);
        if (nread == UV_EOF && sw__hsec_handshaking(l))
            sw__hlink_set_error(l, SW_ECLOSED, "%s closed the connection during the handshake: "
                                "it is not locked? (an open node takes no key: "
                                "run with SWARM_KEY_FILE= to talk to it in plain)", l->name);
        else if (nread == UV_EOF)
            sw__hlink_set_error(l, SW_ECLOSED, "%s: the peer closed the connection", l->name);
        else
            sw__hlink_set_error(l, err, "%s: %s", l->name, uv_strerror((int)nread));
        sw__hlink_lost(l, err);
        return;
    }
    // What the answers in these bytes make the caller send (the next requests of many
    // transfers at once) leaves in one write, not one system call and packet per message.
    // Stream links only: a lossy line's frames keep their own pacing.
    bool cork = !l->corked && (l->uri.kind == SW_URI_TCP || l->uri.kind == SW_URI_UNIX);
    if (cork)
        sw_hlink_cork(l);
    feed(l, c->rbuf, (size_t)nread);
    if (cork)
        sw_hlink_uncork(l);
}

static int start_reading(sw_hconn_t *c)
{
    c->connected = true;
    int r = uv_read_start(&c->io.s, on_alloc, on_read);
    c->reading = r == 0;
    return r;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lossy lines: SerialPacker + Reliable

static int rel_tx(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    uint8_t hdr[3], tr[2];
    size_t k = sw_sp_header(&l->spcfg, n, hdr);
    if (!k || k + n + 2 > l->frame_cap)
        return SW_ETOOBIG;
    sw_sp_trailer(p, n, tr);
    // one write per frame, so console bytes we send can never land inside it
    memcpy(l->frame, hdr, k);
    memcpy(l->frame + k, p, n);
    memcpy(l->frame + k + n, tr, 2);
    return sw__hlink_write_raw(l, l->frame, k + n + 2); // (locked: encrypted inside, hsec.c)
}

static void rel_rx(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    if (l->sec) // a frame of the Noise session (hsec.c)
        sw__hsec_rel_rx(l, p, n);
    else
        sw__hlink_msg(l, p, n);
}

static void rel_state(void *ctx, bool up)
{
    sw_hlink_t *l = ctx;
    if (up)
        sw__hlink_up(l);
    else
        sw__hlink_rel_down(l);
}

int sw__hlink_rel_init(sw_hlink_t *l)
{
    sw_rel_cfg_t rc;
    sw_rel_cfg_default(&rc);
    uint32_t max = l->uri.max_msg ? l->uri.max_msg : SW_HLINK_REL_MAX_MSG;
    if (l->o.max_msg < max)
        max = l->o.max_msg;
    rc.max_msg = (uint16_t)max;
    rc.window = l->uri.window ? l->uri.window : SW_HLINK_SERIAL_WINDOW;
    rc.timeout_ms = l->uri.timeout_ms; // 0: derived from the line rate
    rc.line_rate = l->uri.baud / 10;   // 8N1: a frame's timer runs from when it has left
    // Feed the tty only as fast as the line drains (our queue, not the kernel's, holds the
    // rest): an ack or resend then leaves within this long, not behind a window of frames.
    rc.tx_ahead_ms = SW_HLINK_TX_AHEAD_MS;
    rc.retries = l->o.reconnect ? 0 : 5; // a mux keeps offering the link, a command gives up
    size_t need = sw_rel_store_size(&rc);
    sw_sp_cfg_default(&l->spcfg);
    l->spcfg.start = l->uri.start;
    // room for a wire message around the largest payload; as on the node, above 255 so
    // both sides use the 2-byte length form for 128+ bytes
    l->spcfg.max_frame = (uint16_t)(max + 64 < 256 ? 256 : max + 64);
    size_t fcap = l->spcfg.max_frame + SW_SP_OVERHEAD;
    if (!l->rel_store) {
        l->rel_store = malloc(need);
        l->rel_store_size = need;
        l->frame = malloc(fcap);
        l->frame_cap = fcap;
        if (!l->rel_store || !l->frame)
            return SW_EFULL;
    }
    sw_sp_rx_init(&l->sprx, &l->spcfg, l->rxbuf, l->rxcap);
    sw_rel_io_t io = {rel_tx, rel_rx, rel_state, l};
    sw__hlink_queue_clear(l);
    return sw_rel_init(&l->rel, &rc, &io, l->rel_store, l->rel_store_size);
}

bool sw_hlink_stats(const sw_hlink_t *l, sw_hlink_stats_t *st)
{
    memset(st, 0, sizeof *st);
    if (l->uri.kind != SW_URI_SERIAL || !l->uri.lossy || !l->rel_store)
        return false;
    st->rel = l->rel.stats;
    st->frames = l->sprx.stats;
    st->waited_max = (uint32_t)l->q_max;
    if (sw_rel_is_up(&l->rel)) {
        st->timeout_ms = l->rel.timeout_ms;
        st->window = l->rel.window;
    }
    return true;
}

void sw__hlink_queue_clear(sw_hlink_t *l)
{
    while (l->q_head) {
        sw_hqmsg_t *m = l->q_head;
        l->q_head = m->next;
        free(m);
    }
    l->q_tail = NULL;
    l->q_msgs = l->q_bytes = 0;
}

static void rel_timer(uv_timer_t *t)
{
    sw_hlink_t *l = t->data;
    if (l->closing || !l->rel_store)
        return;
    if (l->tick_due) {
        l->tick_due = false;
        sw_rx_sink_t sink = {sp_frame, any_console, NULL, l};
        sw_sp_rx_tick(&l->sprx, sw__hlink_now(l), &sink);
    }
    sw__hlink_rel_service(l);
}

void sw__hlink_rel_kick(sw_hlink_t *l)
{
    if (l->in_rel)
        l->kicked = true;
    else if (!l->closing)
        uv_timer_start(&l->t_rel, rel_timer, 0, 0);
}

void sw__hlink_rel_service(sw_hlink_t *l)
{
    if (l->closing || !l->rel_store || l->in_rel)
        return;
    uint32_t wait = UINT32_MAX;
    bool took = false; // a queued message went to Reliable
    for (int round = 0; round < 8; round++) {
        l->kicked = false;
        uint32_t now = sw__hlink_now(l);
        l->in_rel = true;
        // (asked even with the window full: Reliable then knows that messages wait)
        while (l->q_head) {
            sw_hqmsg_t *m = l->q_head;
            if (sw_rel_send(&l->rel, m->p, m->n, now) == SW_EAGAIN)
                break;
            took = true;
            // sent, or too large for the peer now (it can never go: dropped)
            l->q_head = m->next;
            if (!l->q_head)
                l->q_tail = NULL;
            l->q_msgs--;
            l->q_bytes -= m->n;
            free(m);
        }
        wait = sw_rel_poll(&l->rel, now);
        l->in_rel = false;
        if (l->closing)
            return;
        if (!l->kicked)
            break;
    }
    if (l->tick_due) {
        uint32_t idle = l->spcfg.idle_ms ? l->spcfg.idle_ms + 1u : UINT32_MAX;
        if (idle < wait)
            wait = idle;
    }
    if (wait == UINT32_MAX)
        uv_timer_stop(&l->t_rel);
    else
        uv_timer_start(&l->t_rel, rel_timer, wait > 60000 ? 60000 : wait, 0);
    // last: the callback may send (straight to Reliable now, or queued with a kick)
    if (took && !l->q_head && l->room_fn)
        l->room_fn(l->room_u, l);
}

int sw__hlink_rel_send(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (!l->rel_store || !sw_rel_is_up(&l->rel))
        return SW_ECLOSED;
    if (n > sw_rel_max_payload(&l->rel))
        return SW_ETOOBIG;
    if (!l->q_head) {
        bool was = l->in_rel;
        l->in_rel = true;
        int rc = sw_rel_send(&l->rel, p, n, sw__hlink_now(l));
        l->in_rel = was;
        if (rc == 0) {
            sw__hlink_rel_kick(l); // the retransmit timer
            return 0;
        }
        if (rc != SW_EAGAIN)
            return rc;
    }
    if (l->q_msgs >= SW_HLINK_QUEUE_MSGS || l->q_bytes + n > SW_HLINK_QUEUE_BYTES)
        return SW_EFULL;
    sw_hqmsg_t *m = malloc(sizeof *m + n);
    if (!m)
        return SW_EFULL;
    m->next = NULL;
    m->n = n;
    memcpy(m->p, p, n);
    if (l->q_tail)
        l->q_tail->next = m;
    else
        l->q_head = m;
    l->q_tail = m;
    l->q_msgs++;
    l->q_bytes += n;
    if (l->q_msgs > l->q_max)
        l->q_max = l->q_msgs;
    sw__hlink_rel_kick(l); // e.g. queued from the state callback, before the window opened
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// TCP

typedef struct sw_hgai {
    uv_getaddrinfo_t req;
    sw_hlink_t *l; // NULL once abandoned
} sw_hgai_t;

void sw__hlink_gai_abandon(sw_hlink_t *l)
{
    if (!l->gai)
        return;
    l->gai->l = NULL;
    uv_cancel((uv_req_t *)&l->gai->req);
    l->gai = NULL;
}

static void try_next_addr(sw_hlink_t *l, int err);

static void on_tcp_connect(uv_connect_t *req, int status)
{
    sw_hconn_t *c = req->data;
    sw_hlink_t *l = c->l;
    if (!l || l->conn != c)
        return;
    if (status < 0) {
        sw__hlink_set_error(l, sw__hlink_uverr(status), "cannot connect to %s: %s", l->name,
                            uv_strerror(status));
        l->conn = NULL;
        sw__hlink_conn_end(c, false);
        try_next_addr(l, sw__hlink_uverr(status));
        return;
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    if (l->ai) {
        uv_freeaddrinfo(l->ai);
        l->ai = l->ai_next = NULL;
    }
    int r = start_reading(c);
    if (r < 0) {
        sw__hlink_set_error(l, sw__hlink_uverr(r), "%s: %s", l->name, uv_strerror(r));
        sw__hlink_attempt_failed(l, sw__hlink_uverr(r));
        return;
    }
    sw__hlink_connected(l);
}

static void try_next_addr(sw_hlink_t *l, int err)
{
    while (l->ai_next) {
        struct addrinfo *a = l->ai_next;
        l->ai_next = a->ai_next;
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        sw_hconn_t *c = conn_new(l);
        if (!c) {
            err = SW_EFULL;
            break;
        }
        uv_tcp_init(l->loop, &c->io.tcp);
        c->io.h.data = c;
        c->creq.data = c;
        l->conn = c;
        if (a->ai_family == AF_INET)
            ((struct sockaddr_in *)a->ai_addr)->sin_port = htons(l->uri.port);
        else
            ((struct sockaddr_in6 *)a->ai_addr)->sin6_port = htons(l->uri.port);
        int r = uv_tcp_connect(&c->creq, &c->io.tcp, a->ai_addr, on_tcp_connect);
        if (r == 0)
            return;
        sw__hlink_set_error(l, sw__hlink_uverr(r), "cannot connect to %s: %s", l->name,
                            uv_strerror(r));
        err = sw__hlink_uverr(r);
        l->conn = NULL;
        sw__hlink_conn_end(c, false);
    }
    if (l->ai) {
        uv_freeaddrinfo(l->ai);
        l->ai = l->ai_next = NULL;
    }
    if (!l->err[0])
        sw__hlink_set_error(l, SW_ENOENT, "cannot connect to %s: no usable address", l->name);
    sw__hlink_attempt_failed(l, err ? err : SW_ENOENT);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    sw_hgai_t *g = (sw_hgai_t *)req;
    sw_hlink_t *l = g->l;
    free(g);
    if (!l) {
        if (res)
            uv_freeaddrinfo(res);
        return;
    }
    l->gai = NULL;
    l->unresolved = status == UV_EAI_NONAME || status == UV_EAI_AGAIN || status == UV_EAI_NODATA;
    if (status < 0) {
        sw__hlink_set_error(l, sw__hlink_uverr(status), "cannot find host '%s': %s",
                            l->uri.host, uv_strerror(status));
        sw__hlink_attempt_failed(l, sw__hlink_uverr(status));
        return;
    }
    l->ai = l->ai_next = res;
    l->err[0] = 0;
    try_next_addr(l, 0);
}

static void start_tcp(sw_hlink_t *l)
{
    // An address as written (tcp://169.254.1.7): nothing to look up, so no detour through
    // libuv's resolver threads (a push to many devices would start them and wait on them).
    struct addrinfo num, *res = NULL;
    memset(&num, 0, sizeof num);
    num.ai_family = AF_UNSPEC;
    num.ai_socktype = SOCK_STREAM;
    num.ai_flags = AI_NUMERICHOST;
    if (getaddrinfo(l->uri.host, NULL, &num, &res) == 0) {
        l->unresolved = false;
        l->ai = l->ai_next = res;
        l->err[0] = 0;
        try_next_addr(l, 0);
        return;
    }
    sw_hgai_t *g = calloc(1, sizeof *g);
    if (!g) {
        sw__hlink_set_error(l, SW_EFULL, "out of memory");
        sw__hlink_attempt_failed(l, SW_EFULL);
        return;
    }
    g->l = l;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    int r = uv_getaddrinfo(l->loop, &g->req, on_resolved, l->uri.host, NULL, &hints);
    if (r < 0) {
        free(g);
        sw__hlink_set_error(l, sw__hlink_uverr(r), "cannot find host '%s': %s", l->uri.host,
                            uv_strerror(r));
        sw__hlink_attempt_failed(l, sw__hlink_uverr(r));
        return;
    }
    l->gai = g;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Unix sockets

static void on_pipe_connect(uv_connect_t *req, int status)
{
    sw_hconn_t *c = req->data;
    sw_hlink_t *l = c->l;
    if (!l || l->conn != c)
        return;
    int r = status < 0 ? status : start_reading(c);
    if (r < 0) {
        sw__hlink_set_error(l, sw__hlink_uverr(r), "cannot connect to %s: %s", l->name,
                            uv_strerror(r));
        sw__hlink_attempt_failed(l, sw__hlink_uverr(r));
        return;
    }
    sw__hlink_connected(l);
}

static void start_unix(sw_hlink_t *l)
{
    sw_hconn_t *c = conn_new(l);
    if (!c) {
        sw__hlink_set_error(l, SW_EFULL, "out of memory");
        sw__hlink_attempt_failed(l, SW_EFULL);
        return;
    }
    uv_pipe_init(l->loop, &c->io.pipe, 0);
    c->io.h.data = c;
    c->creq.data = c;
    l->conn = c;
    uv_pipe_connect(&c->creq, &c->io.pipe, l->uri.path, on_pipe_connect);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Serial lines

static const struct {
    uint32_t baud;
    speed_t code;
} rates[] = {
    {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
    {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
    {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
    {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
    {4000000, B4000000},
};

// Opens and configures the tty; returns the fd, or -1 with the error text set.
static int open_tty(sw_hlink_t *l, int *err)
{
    const char *dev = l->uri.path;
    speed_t code = 0;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == l->uri.baud)
            code = rates[i].code;
    if (!code) {
        *err = SW_EINVAL;
        sw__hlink_set_error(l, *err, "%s: unsupported baud rate %u", dev, l->uri.baud);
        return -1;
    }
    int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *err = sw__hlink_uverr(uv_translate_sys_error(errno));
        sw__hlink_set_error(l, *err, "cannot open %s: %s", dev, strerror(errno));
        return -1;
    }
    // Two programs reading one line would each get half the bytes: refuse a line in use.
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        close(fd);
        *err = SW_EBUSY;
        sw__hlink_set_error(l, *err, "%s is in use by another program (a swarm mux? then use "
                            "its unix:// socket)", dev);
        return -1;
    }
    struct termios t;
    if (tcgetattr(fd, &t) < 0) {
        int e = errno;
        close(fd);
        *err = e == ENOTTY ? SW_EINVAL : sw__hlink_uverr(uv_translate_sys_error(e));
        sw__hlink_set_error(l, *err, e == ENOTTY ? "%s is not a serial line" : "%s: %s", dev,
                            strerror(e));
        return -1;
    }
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, code) < 0 || cfsetospeed(&t, code) < 0 || tcsetattr(fd, TCSANOW, &t) < 0) {
        int e = errno;
        close(fd);
        *err = SW_EIO;
        sw__hlink_set_error(l, *err, "%s: cannot set %u 8N1: %s", dev, l->uri.baud, strerror(e));
        return -1;
    }
    tcflush(fd, TCIOFLUSH); // what the line held before we owned it is not ours
    l->line_opened = true;
    return fd;
}

static void start_serial(sw_hlink_t *l)
{
    int err = 0;
    int fd = open_tty(l, &err);
    if (fd < 0) {
        sw__hlink_attempt_failed(l, err);
        return;
    }
    sw_hconn_t *c = conn_new(l);
    if (!c) {
        close(fd);
        sw__hlink_set_error(l, SW_EFULL, "out of memory");
        sw__hlink_attempt_failed(l, SW_EFULL);
        return;
    }
    uv_pipe_init(l->loop, &c->io.pipe, 0);
    c->io.h.data = c;
    l->conn = c;
    int r = uv_pipe_open(&c->io.pipe, fd);
    if (r < 0) {
        close(fd);
    } else {
        r = start_reading(c);
    }
    if (r < 0) {
        sw__hlink_set_error(l, sw__hlink_uverr(r), "%s: %s", l->uri.path, uv_strerror(r));
        sw__hlink_attempt_failed(l, sw__hlink_uverr(r));
        return;
    }
    sw__hlink_connected(l);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Attempts

static void connect_timeout(uv_timer_t *t)
{
    sw_hlink_t *l = t->data;
    if (l->closing || l->up || !l->connecting)
        return;
    sw__hlink_gai_abandon(l);
    if (l->uri.kind == SW_URI_MQTT && l->mq_nz)
        sw__hlink_set_error(l, SW_ETIMEDOUT, "%s: the node did not answer the handshake within %.1f s "
                            "(an older swarm-node, or one without MQTT auth?)", l->name,
                            l->o.connect_timeout_ms / 1000.0);
    else if (l->uri.kind == SW_URI_MQTT && l->mq_broker_up)
        sw__hlink_set_error(l, SW_ETIMEDOUT, "%s: the broker has no state of node %s in fleet %s "
                            "(has it ever connected? swarm scan --broker lists the fleet)",
                            l->name, l->uri.node, l->uri.fleet);
    else
        sw__hlink_set_error(l, SW_ETIMEDOUT, "cannot connect to %s: no answer within %.1f s",
                            l->name, l->o.connect_timeout_ms / 1000.0);
    sw__hlink_attempt_failed(l, SW_ETIMEDOUT);
}

void sw__hlink_start_connect(sw_hlink_t *l)
{
    if (l->closing)
        return;
    if (l->conn) { // an attempt or a line still open (e.g. lossy, handshake given up)
        sw_hconn_t *c = l->conn;
        l->conn = NULL;
        sw__hlink_conn_end(c, false);
    }
    sw__hlink_gai_abandon(l);
    if (l->ai) {
        uv_freeaddrinfo(l->ai);
        l->ai = l->ai_next = NULL;
    }
    l->connecting = true;
    switch (l->uri.kind) {
    case SW_URI_TCP:
        uv_timer_start(&l->t_conn, connect_timeout, l->o.connect_timeout_ms, 0);
        start_tcp(l);
        break;
    case SW_URI_UNIX:
        uv_timer_start(&l->t_conn, connect_timeout, l->o.connect_timeout_ms, 0);
        start_unix(l);
        break;
    case SW_URI_MQTT:
        uv_timer_start(&l->t_conn, connect_timeout, l->o.connect_timeout_ms, 0);
        sw__hlink_mqtt_start(l);
        break;
    default:
        start_serial(l);
    }
}
