// swarm multiplexer (mux.h): one device link (sw_hlink, reconnecting) shared by the clients of
// a Unix socket. A client's request becomes a call on the device link under the mux's own
// sequence number; its answers go back under the client's number, so replies never cross.
// Everything runs on one libuv loop; what a turn of the loop wrote to a client leaves in one
// write after the turn (a uv_check handle), as the node does with its replies.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "esc.h"
#include "hlink.h"
#include "hsec.h"
#include "mux.h"
#include "swarm/stream.h"

#define READ_BUF 65536u
#define DEV_PENDING 256u              // calls in flight on the device link (hlink max_pending)
#define CLIENT_OUT_PAUSE (1u << 20)   // answers queued to a client: stop reading its requests
#define CLIENT_OUT_MAX (16u << 20)    // …and drop a client that lets this much pile up
#define CLIENT_WAIT_PAUSE 256u        // requests of one client waiting for a device slot
#define DEV_QUEUED_PAUSE (4u << 20)   // bytes queued towards the device: stop reading clients
#define WDT_INFLIGHT_MAX 4u           // feeds sent but not answered: skip further feeds
#define FWD_SPARE 256u                // freed calls kept for reuse (as many as the device link holds)

typedef struct client client_t;

enum { FWD_CALL, FWD_BOOT };
enum { BOOT_SENT, BOOT_WAIT_DOWN, BOOT_WAIT_UP };

// A client request the mux is answering: a call on the device link, one waiting for a free
// slot there (queued, with a copy of its action and d), or an mplex.boot in progress.
typedef struct fwd {
    struct fwd *next, *prev;   // the client's list
    struct fwd *qnext, *qprev; // the mux's waiting queue (queued only)
    client_t *c;
    int kind;                  // FWD_*
    int64_t cseq;              // the client's seq
    int64_t dseq;              // the call on the device link (0: none)
    int64_t r;                 // stream interval (0: a plain call)
    bool queued;
    int boot;                  // FWD_BOOT: BOOT_*
    uint64_t deadline;         // FWD_BOOT: loop time when it gives up
    size_t an, dn;             // queued: bytes of action and d in q
    uint8_t *q;
} fwd_t;

struct client {
    client_t *next, *prev;
    sw_mux_t *m;
    uv_pipe_t pipe;
    unsigned id;
    bool closing, reading, dirty;
    bool doomed;               // to be closed after this loop turn (it does not read)
    sw_stream_rx_t srx;
    uint8_t *rxbuf;
    sw_rpc_t rpc;              // server role; a custom request hook forwards everything
    uint8_t *rpcout;
    uint8_t *obuf;             // answers gathered during this loop turn
    size_t olen, ocap;
    size_t inflight;           // bytes in unfinished uv_writes
    fwd_t calls;               // circular list head
    unsigned nwait;            // of its calls, queued for a device slot
};

typedef struct wreq {
    uv_write_t req;
    client_t *c;
    size_t n;
    uint8_t data[];
} wreq_t;

struct sw_mux {
    uv_loop_t *loop;
    sw_mux_opts_t o;
    char link_uri[300];
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t sock_dev;
    ino_t sock_ino;
    sw_hlink_t *l;
    uv_pipe_t server;
    uv_check_t check;
    uv_timer_t t_wdt, t_boot;
    // A keyless lossless line whose device has said nothing since the link came up, 2 s after
    // a call went out: is it a locked node (it reads nothing but a handshake)? t_probe times
    // the silence, then the probe (sw_hlink_probe_locked); a locked node's calls fail at once.
    uv_timer_t t_probe;
    bool heard, probing, nokey_locked;
    int handles;                // open handles (and clients); freed at 0 once closing
    bool closing;
    bool told_up;               // the link state the clients were told last
    bool was_up;                // the device link's own state, as it reported it
    bool dev_said_down;         // lossless serial: the device said link false (it resets)
    client_t clients;           // circular list head
    unsigned nclients, next_id;
    fwd_t *q_head, *q_tail;     // requests waiting for a device slot, in arrival order
    unsigned dev_plain;         // plain (non-stream) client calls on the device link
    unsigned wdt_inflight;
    bool wdt_warned;
    uint8_t *ring;              // console bytes: ring[pos % console_size]
    uint64_t ring_end;          // bytes ever received (absolute end position)
    uint64_t start_ms;
    uint64_t boot_next;         // earliest deadline of an mplex.boot (0: none)
    sw_mux_stats_t st;
    fwd_t *spare;               // freed calls kept for the next ones (FWD_SPARE at most)
    unsigned nspare;
    uint8_t rbuf[READ_BUF];     // one read at a time, for every client
};

static void mlog(sw_mux_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mlog(sw_mux_t *m, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (m->o.log) {
        m->o.log(m->o.log_u, line);
    } else { // lines may quote the device (error texts): shown escaped (esc.h)
        fputs("swarm mux: ", stderr);
        sw__esc_write(stderr, (const uint8_t *)line, strlen(line), 0);
        fputc('\n', stderr);
    }
}

void sw_mux_opts_default(sw_mux_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->backoff_ms = 1000;
    o->backoff_max_ms = 20000;
    o->boot_timeout_ms = 60000;
    o->max_clients = 256;
    o->console_size = 65536;
    o->max_msg = 1u << 20;
}

const sw_mux_stats_t *sw_mux_stats(const sw_mux_t *m) { return &m->st; }
bool sw_mux_link_up(const sw_mux_t *m) { return m->l && sw_hlink_is_up(m->l); }
unsigned sw_mux_clients(const sw_mux_t *m) { return m->nclients; }

static void release(sw_mux_t *m)
{
    if (--m->handles == 0 && m->closing) {
        while (m->spare) {
            fwd_t *f = m->spare;
            m->spare = f->next;
            free(f);
        }
        free(m->ring);
        free(m);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    release(h->data);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Output to clients: gathered during a loop turn, written after it

static void client_close(client_t *c, const char *why);

static int client_send(void *ctx, const uint8_t *p, size_t n)
{
    client_t *c = ctx;
    if (c->closing || c->doomed)
        return SW_ECLOSED;
    // (closed after the turn: whoever called us may still be using the client's calls)
    if (c->olen + c->inflight + n > CLIENT_OUT_MAX) {
        c->doomed = true;
        return SW_ECLOSED;
    }
    if (c->olen + n > c->ocap) {
        size_t cap = c->ocap ? c->ocap : 4096;
        while (cap < c->olen + n)
            cap *= 2;
        uint8_t *b = realloc(c->obuf, cap);
        if (!b) {
            c->doomed = true;
            return SW_EFULL;
        }
        c->obuf = b;
        c->ocap = cap;
    }
    memcpy(c->obuf + c->olen, p, n);
    c->olen += n;
    c->dirty = true;
    return 0;
}

static void on_client_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    client_t *c = w->c;
    c->inflight -= w->n;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        client_close(c, uv_strerror(status));
}

static void client_flush(client_t *c)
{
    c->dirty = false;
    if (c->closing || !c->olen)
        return;
    size_t done = 0;
    if (!c->inflight) {
        uv_buf_t b = uv_buf_init((char *)c->obuf, (unsigned)c->olen);
        int r = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
        if (r > 0)
            done = (size_t)r;
        else if (r < 0 && r != UV_EAGAIN) {
            client_close(c, uv_strerror(r));
            return;
        }
    }
    if (done < c->olen) {
        size_t rest = c->olen - done;
        wreq_t *w = malloc(sizeof *w + rest);
        if (!w) {
            client_close(c, "out of memory");
            return;
        }
        w->c = c;
        w->n = rest;
        memcpy(w->data, c->obuf + done, rest);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)rest);
        int r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_client_write);
        if (r < 0) {
            free(w);
            client_close(c, uv_strerror(r));
            return;
        }
        c->inflight += rest;
    }
    c->olen = 0;
    if (c->ocap > (256u << 10)) { // a burst is over: give its memory back
        free(c->obuf);
        c->obuf = NULL;
        c->ocap = 0;
    }
}

// An error answer {"e": e, "i": seq} with e as raw MsgPack (what the device sent, unchanged).
static void send_error_raw(client_t *c, int64_t seq, sw_span_t e)
{
    sw_mpw_t w;
    sw_mpw_init(&w, c->rpcout, c->m->o.max_msg + 64);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "e");
    sw_mpw_raw(&w, e.p, e.n);
    sw_mpw_cstr(&w, "i");
    sw_mpw_int(&w, seq);
    if (w.err)
        sw_rpc_send_error(&c->rpc, seq, "ETOOBIG: the error exceeds the largest message size");
    else
        client_send(c, w.buf, w.len);
}

static void send_error(client_t *c, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_error(client_t *c, int64_t seq, const char *fmt, ...)
{
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    c->m->st.errors++;
    sw_rpc_send_error(&c->rpc, seq, text);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Forwarded calls

static fwd_t *fwd_new(client_t *c, int kind, int64_t cseq)
{
    // One per forwarded call: taken from the spares a busy mux keeps (malloc and free were
    // 15 % of its instructions per call), else allocated.
    fwd_t *f = c->m->spare;
    if (f) {
        c->m->spare = f->next;
        c->m->nspare--;
        memset(f, 0, sizeof *f);
    } else if (!(f = calloc(1, sizeof *f))) {
        return NULL;
    }
    f->c = c;
    f->kind = kind;
    f->cseq = cseq;
    f->next = &c->calls;
    f->prev = c->calls.prev;
    f->prev->next = f;
    c->calls.prev = f;
    return f;
}

static fwd_t *fwd_find(client_t *c, int64_t cseq)
{
    for (fwd_t *f = c->calls.next; f != &c->calls; f = f->next)
        if (f->cseq == cseq)
            return f;
    return NULL;
}

static void dequeue(sw_mux_t *m, fwd_t *f)
{
    if (!f->queued)
        return;
    if (f->qprev)
        f->qprev->qnext = f->qnext;
    else
        m->q_head = f->qnext;
    if (f->qnext)
        f->qnext->qprev = f->qprev;
    else
        m->q_tail = f->qprev;
    f->qnext = f->qprev = NULL;
    f->queued = false;
    f->c->nwait--;
    free(f->q);
    f->q = NULL;
}

static void fwd_free(fwd_t *f)
{
    sw_mux_t *m = f->c->m;
    dequeue(m, f);
    if (f->kind == FWD_CALL && f->dseq && !f->r)
        m->dev_plain--;
    f->prev->next = f->next;
    f->next->prev = f->prev;
    if (m->nspare < FWD_SPARE) {
        f->next = m->spare;
        m->spare = f;
        m->nspare++;
    } else {
        free(f);
    }
}

// The client no longer wants the answer (its cancel, its disconnect, a reused seq): a stream
// is cancelled at the device, a plain call's late answer is dropped by the link.
static void fwd_cancel(fwd_t *f)
{
    sw_mux_t *m = f->c->m;
    if (f->dseq)
        sw_hlink_cancel(m->l, f->dseq);
    m->st.cancels++;
    fwd_free(f);
}

// The link went down before (or while) telling us: clients hear "link false" before the
// errors of their calls, whichever of the two the link reports first.
static void tell_all(sw_mux_t *m, bool up)
{
    if (m->told_up == up)
        return;
    m->told_up = up;
    for (client_t *c = m->clients.next; c != &m->clients; c = c->next)
        if (!c->closing)
            sw_rpc_link(&c->rpc, up);
}

static void on_device_answer(void *u, sw_hlink_t *l, const sw_msg_t *msg, int err)
{
    fwd_t *f = u;
    client_t *c = f->c;
    sw_mux_t *m = c->m;
    m->heard |= msg != NULL;
    if (!msg) {
        if (err == SW_ECLOSED) {
            if (!sw_hlink_is_up(l))
                tell_all(m, false);
            send_error(c, f->cseq, "ECLOSED: device link lost");
        } else if (err == SW_ECANCELED) {
            send_error(c, f->cseq, "ECLOSED: the multiplexer is stopping");
        } else {
            send_error(c, f->cseq, "%s: %s", sw_errname(err), sw_strerror(err));
        }
        fwd_free(f);
        return;
    }
    switch (msg->kind) {
    case SW_MSG_STREAM:
        m->st.values++;
        sw_rpc_send_stream(&c->rpc, f->cseq, msg->d, msg->n);
        return;
    case SW_MSG_REPLY:
        sw_rpc_send_reply(&c->rpc, f->cseq, msg->d);
        break;
    case SW_MSG_ERROR:
        send_error_raw(c, f->cseq, msg->e);
        break;
    case SW_MSG_END:
        sw_rpc_send_end(&c->rpc, f->cseq);
        break;
    default:
        return;
    }
    m->st.replies++;
    fwd_free(f);
}

// What a client of a locked node on a keyless line hears (as the CLI says it to its user).
static void send_locked(sw_mux_t *m, client_t *c, int64_t seq)
{
    send_error(c, seq, "EAUTH: %s: " SW_KEY_LOCKED_TEXT ": %s", m->link_uri, sw_key_missing_hint());
}

static void on_probe(void *u, sw_hlink_t *l, bool locked)
{
    (void)l;
    sw_mux_t *m = u;
    m->probing = false;
    uv_timer_stop(&m->t_probe);
    if (!locked)
        return; // an open node, merely silent
    m->nokey_locked = true;
    mlog(m, "%s: " SW_KEY_LOCKED_TEXT ": %s", m->link_uri, sw_key_missing_hint());
    for (client_t *c = m->clients.next; c != &m->clients; c = c->next) // their calls fail now
        for (fwd_t *f = c->calls.next, *nx; f != &c->calls; f = nx) {
            nx = f->next;
            if (f->kind != FWD_CALL)
                continue;
            send_locked(m, c, f->cseq);
            if (f->dseq)
                sw_hlink_cancel(m->l, f->dseq);
            fwd_free(f); // (a queued one leaves the queue)
        }
}

static void on_probe_timer(uv_timer_t *t)
{
    sw_mux_t *m = t->data;
    if (m->probing) { // no mark came back: not a swarm-node that is locked
        m->probing = false;
        sw_hlink_probe_cancel(m->l);
        return;
    }
    if (m->heard || m->nokey_locked || !sw_hlink_probe_locked(m->l, on_probe, m))
        return;
    m->probing = true;
    uv_timer_start(&m->t_probe, on_probe_timer, SW_HLINK_PROBE_MS, 0);
}

// Issues a call on the device link. Returns 0, SW_EFULL (no free slot: wait), or an error.
static int issue(fwd_t *f, sw_span_t a, sw_span_t d)
{
    sw_mux_t *m = f->c->m;
    if (m->nokey_locked)
        return SW_EAUTH;
    int64_t seq = sw_hlink_call_raw(m->l, a, d, f->r, on_device_answer, f);
    if (seq < 0)
        return (int)seq;
    if (!m->heard && !m->probing && !uv_is_active((uv_handle_t *)&m->t_probe) &&
        sw_hlink_keyless(m->l) && sw_hlink_uri(m->l)->kind == SW_URI_SERIAL && !sw_hlink_uri(m->l)->lossy)
        uv_timer_start(&m->t_probe, on_probe_timer, SW_HLINK_PROBE_MS, 0);
    f->dseq = seq;
    if (!f->r)
        m->dev_plain++;
    m->st.requests++;
    return 0;
}

static void enqueue(sw_mux_t *m, fwd_t *f, sw_span_t a, sw_span_t d)
{
    f->q = malloc(a.n + d.n + 1);
    if (!f->q) {
        send_error(f->c, f->cseq, "EFULL: the multiplexer is out of memory");
        fwd_free(f);
        return;
    }
    memcpy(f->q, a.p, a.n);
    if (d.n)
        memcpy(f->q + a.n, d.p, d.n);
    f->an = a.n;
    f->dn = d.n;
    f->queued = true;
    f->qprev = m->q_tail;
    f->qnext = NULL;
    if (m->q_tail)
        m->q_tail->qnext = f;
    else
        m->q_head = f;
    m->q_tail = f;
    f->c->nwait++;
    m->st.queued++;
}

static void issue_failed(fwd_t *f, int rc)
{
    sw_mux_t *m = f->c->m;
    if (rc == SW_EAUTH && m->nokey_locked)
        send_locked(m, f->c, f->cseq);
    else if (rc == SW_ECLOSED)
        send_error(f->c, f->cseq, "ECLOSED: device link down (%s)", m->link_uri);
    else if (rc == SW_ETOOBIG)
        send_error(f->c, f->cseq, "ETOOBIG: the request exceeds the largest message size");
    else if (rc == SW_EINVAL)
        send_error(f->c, f->cseq, "EPROTO: malformed action or data");
    else if (rc == SW_EAUTH) // the device answered open though the mux holds a key (hsec.c)
        send_error(f->c, f->cseq, "EAUTH: %s", sw_hlink_error(m->l));
    else
        send_error(f->c, f->cseq, "%s: %s", sw_errname(rc), sw_strerror(rc));
    fwd_free(f);
}

// Sends what waits for a slot, oldest first, while slots are free.
static void drain_queue(sw_mux_t *m)
{
    while (m->q_head) {
        fwd_t *f = m->q_head;
        if (!sw_hlink_is_up(m->l)) {
            dequeue(m, f);
            issue_failed(f, SW_ECLOSED);
            continue;
        }
        sw_span_t a = {f->q, f->an}, d = {f->q + f->an, f->dn};
        int rc = issue(f, a, d); // (the link copies the request: the copy can go after it)
        if (rc == SW_EFULL && m->dev_plain) // a slot frees when a plain call is answered
            return;
        dequeue(m, f);
        if (rc == SW_EFULL) { // every slot is a stream: none will free soon
            send_error(f->c, f->cseq, "EBUSY: every call slot on the device link is held "
                       "by a stream (%u)", DEV_PENDING);
            fwd_free(f);
        } else if (rc) {
            issue_failed(f, rc);
        }
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// mplex.* (answered by the mux)

static void reply_with(client_t *c, int64_t seq, const sw_mpw_t *w)
{
    if (w->err) {
        send_error(c, seq, "ETOOBIG: the reply exceeds the largest message size");
        return;
    }
    sw_span_t d = {w->buf, w->len};
    sw_rpc_send_reply(&c->rpc, seq, d);
}

static void kv_uint(sw_mpw_t *w, const char *k, uint64_t v)
{
    sw_mpw_cstr(w, k);
    sw_mpw_uint(w, v);
}

static void mplex_info(client_t *c, int64_t seq)
{
    sw_mux_t *m = c->m;
    uint8_t buf[1024];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 8);
    sw_mpw_cstr(&w, "link"), sw_mpw_cstr(&w, m->link_uri);
    sw_mpw_cstr(&w, "up"), sw_mpw_bool(&w, sw_hlink_is_up(m->l));
    kv_uint(&w, "clients", m->nclients);
    sw_mpw_cstr(&w, "uptime"), sw_mpw_f64(&w, (double)(uv_now(m->loop) - m->start_ms) / 1000.0);
    kv_uint(&w, "wdt", m->o.wdt_s);
    kv_uint(&w, "console", m->ring_end);
    sw_mpw_cstr(&w, "socket"), sw_mpw_cstr(&w, m->sock_path);
    sw_mpw_cstr(&w, "stats");
    sw_mpw_map(&w, 14);
    const sw_mux_stats_t *s = &m->st;
    kv_uint(&w, "requests", s->requests);
    kv_uint(&w, "replies", s->replies);
    kv_uint(&w, "values", s->values);
    kv_uint(&w, "errors", s->errors);
    kv_uint(&w, "notifies", s->notifies);
    kv_uint(&w, "cancels", s->cancels);
    kv_uint(&w, "queued", s->queued);
    kv_uint(&w, "clients", s->clients);
    kv_uint(&w, "refused", s->refused);
    kv_uint(&w, "link_ups", s->link_ups);
    kv_uint(&w, "link_downs", s->link_downs);
    kv_uint(&w, "console", s->console);
    kv_uint(&w, "in_flight", sw_hlink_pending(m->l));
    kv_uint(&w, "cfg", s->cfg);
    reply_with(c, seq, &w);
}

// An integer argument of d (absent or nil: dflt). False after sending an error.
static bool int_arg(client_t *c, int64_t seq, sw_span_t d, const char *key, int64_t dflt,
                    int64_t *out)
{
    *out = dflt;
    sw_span_t v;
    if (!d.n || sw_mp_map_get(d.p, d.n, key, &v))
        return true;
    sw_mpr_t r;
    sw_mpr_init(&r, v.p, v.n);
    if (sw_mpr_peek(&r) == SW_MP_NIL)
        return true;
    if (!sw_mpr_int(&r, out)) {
        send_error(c, seq, "BadArg: %s: expected an integer", key);
        return false;
    }
    return true;
}

// mplex.console(p=None, n=4096) → {"d": bytes, "p": next}: the device's console bytes from
// absolute position p (clamped to what the ring holds; default: the last n), like sys.log.
static void mplex_console(client_t *c, int64_t seq, sw_span_t d)
{
    sw_mux_t *m = c->m;
    int64_t p, n;
    if (!int_arg(c, seq, d, "p", -1, &p) || !int_arg(c, seq, d, "n", 4096, &n))
        return;
    uint64_t size = m->o.console_size;
    if (n < 0)
        n = 0;
    if ((uint64_t)n > size)
        n = (int64_t)size;
    if ((uint64_t)n > m->o.max_msg / 2)
        n = (int64_t)(m->o.max_msg / 2);
    uint64_t oldest = m->ring_end > size ? m->ring_end - size : 0;
    uint64_t from = p >= 0                      ? (uint64_t)p
                    : m->ring_end > (uint64_t)n ? m->ring_end - (uint64_t)n
                                                : 0;
    if (from < oldest)
        from = oldest;
    if (from > m->ring_end)
        from = m->ring_end;
    size_t k = (size_t)(m->ring_end - from);
    if (k > (size_t)n)
        k = (size_t)n;
    size_t cap = k + 64;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        send_error(c, seq, "EFULL: the multiplexer is out of memory");
        return;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    uint8_t *t = sw_mpw_blob_begin(&w, k);
    for (size_t i = 0; t && i < k; i++)
        t[i] = m->ring[(from + i) % size];
    sw_mpw_blob_end(&w, SW_MP_BIN, t ? k : 0);
    sw_mpw_cstr(&w, "p");
    sw_mpw_uint(&w, from + k);
    reply_with(c, seq, &w);
    free(buf);
}

static void mplex_dir(client_t *c, int64_t seq)
{
    static const char *const cmds[][2] = {
        {"info", "the multiplexer: device link, clients, counters"},
        {"boot", "soft-reset the device (sys.boot) and answer once it is back"},
        {"console", "the device's console bytes from position p: {d, p}"},
    };
    uint8_t buf[512];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 4);
    sw_mpw_cstr(&w, "c");
    sw_mpw_array(&w, 3);
    for (int i = 0; i < 3; i++)
        sw_mpw_cstr(&w, cmds[i][0]);
    sw_mpw_cstr(&w, "d"), sw_mpw_array(&w, 0);
    sw_mpw_cstr(&w, "j"), sw_mpw_bool(&w, false);
    sw_mpw_cstr(&w, "h");
    sw_mpw_map(&w, 3);
    for (int i = 0; i < 3; i++)
        sw_mpw_cstr(&w, cmds[i][0]), sw_mpw_cstr(&w, cmds[i][1]);
    reply_with(c, seq, &w);
}

static void boot_timer_arm(sw_mux_t *m);

static void on_boot_answer(void *u, sw_hlink_t *l, const sw_msg_t *msg, int err)
{
    (void)l;
    fwd_t *f = u;
    f->dseq = 0;
    if (msg && msg->kind == SW_MSG_STREAM)
        return;
    if (msg && msg->kind == SW_MSG_ERROR) {
        send_error_raw(f->c, f->cseq, msg->e);
        fwd_free(f);
        return;
    }
    if (!msg && err != SW_ECLOSED) {
        send_error(f->c, f->cseq, "%s: %s", sw_errname(err), sw_strerror(err));
        fwd_free(f);
        return;
    }
    // answered (the device resets next) or the link went already: now wait for it to return
    if (f->boot == BOOT_SENT)
        f->boot = msg ? BOOT_WAIT_DOWN : BOOT_WAIT_UP;
}

static void mplex_boot(client_t *c, int64_t seq)
{
    sw_mux_t *m = c->m;
    if (!sw_hlink_is_up(m->l)) {
        send_error(c, seq, "ECLOSED: device link down (%s)", m->link_uri);
        return;
    }
    fwd_t *f = fwd_new(c, FWD_BOOT, seq);
    if (!f) {
        send_error(c, seq, "EFULL: the multiplexer is out of memory");
        return;
    }
    static const uint8_t code[] = "\x81\xa4" "code" "\xa7" "SysBooT";
    sw_span_t d = {code, sizeof code - 1};
    int64_t dseq = sw_hlink_call(m->l, "sys.boot", d, 0, on_boot_answer, f);
    if (dseq < 0) {
        fwd_free(f);
        send_error(c, seq, "%s: cannot send sys.boot: %s", sw_errname((int)dseq),
                   sw_strerror((int)dseq));
        return;
    }
    f->dseq = dseq;
    f->boot = BOOT_SENT;
    f->deadline = uv_now(m->loop) + m->o.boot_timeout_ms;
    mlog(m, "mplex.boot: rebooting the device for client %u", c->id);
    boot_timer_arm(m);
}

// Every mplex.boot in progress: fn(f) for each (f may be freed by fn).
static void each_boot(sw_mux_t *m, void (*fn)(sw_mux_t *m, fwd_t *f))
{
    for (client_t *c = m->clients.next; c != &m->clients; c = c->next)
        for (fwd_t *f = c->calls.next, *nx; f != &c->calls; f = nx) {
            nx = f->next;
            if (f->kind == FWD_BOOT)
                fn(m, f);
        }
}

static void boot_down(sw_mux_t *m, fwd_t *f)
{
    (void)m;
    f->boot = BOOT_WAIT_UP;
}

static void boot_up(sw_mux_t *m, fwd_t *f)
{
    if (f->boot != BOOT_WAIT_UP)
        return;
    static const uint8_t yes[] = {0xc3};
    sw_span_t d = {yes, 1};
    sw_rpc_send_reply(&f->c->rpc, f->cseq, d);
    m->st.replies++;
    fwd_free(f);
}

static void boot_expire(sw_mux_t *m, fwd_t *f)
{
    uint64_t now = uv_now(m->loop);
    if ((int64_t)(f->deadline - now) > 0) {
        if (!m->boot_next || f->deadline < m->boot_next)
            m->boot_next = f->deadline;
        return;
    }
    if (f->dseq)
        sw_hlink_cancel(m->l, f->dseq);
    send_error(f->c, f->cseq, "ETIMEDOUT: the device did not come back within %.0f s",
               m->o.boot_timeout_ms / 1000.0);
    fwd_free(f);
}

static void on_boot_timer(uv_timer_t *t)
{
    boot_timer_arm(t->data);
}

static void boot_timer_arm(sw_mux_t *m)
{
    m->boot_next = 0;
    each_boot(m, boot_expire);
    if (m->boot_next)
        uv_timer_start(&m->t_boot, on_boot_timer, m->boot_next - uv_now(m->loop) + 1, 0);
    else
        uv_timer_stop(&m->t_boot);
}

static void mplex(client_t *c, const sw_msg_t *msg)
{
    sw_span_t what = msg->path_len == 2 ? msg->path[1] : (sw_span_t){NULL, 0};
    if (sw_span_eq(what, "info"))
        mplex_info(c, msg->i);
    else if (sw_span_eq(what, "console"))
        mplex_console(c, msg->i, msg->d);
    else if (sw_span_eq(what, "boot"))
        mplex_boot(c, msg->i);
    else if (sw_span_eq(what, "_dir"))
        mplex_dir(c, msg->i);
    else if (msg->path_len == 1)
        mplex_dir(c, msg->i);
    else
        send_error(c, msg->i, "NoPath: mplex.%.*s", (int)(what.n > 64 ? 64 : what.n),
                   what.p ? (const char *)what.p : "");
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Client requests

static bool first_is(const sw_msg_t *msg, const char *s)
{
    return !msg->action_is_str && msg->path_len >= 1 && sw_span_eq(msg->path[0], s);
}

static void client_request(void *ctx, sw_rpc_t *rpc, const sw_msg_t *msg)
{
    (void)rpc;
    client_t *c = ctx;
    sw_mux_t *m = c->m;
    if (c->closing)
        return;
    if (msg->kind == SW_MSG_CANCEL) {
        fwd_t *f = fwd_find(c, msg->i);
        if (f)
            fwd_cancel(f);
        return;
    }
    bool own = first_is(msg, "mplex") || first_is(msg, "local");
    if (msg->kind == SW_MSG_NOTIFY) {
        if (!own && sw_hlink_is_up(m->l) && sw_hlink_notify_raw(m->l, msg->a, msg->d) == 0)
            m->st.notifies++;
        return;
    }
    if (msg->kind != SW_MSG_REQUEST)
        return;
    // A seq still in flight is reused: the newer request owns it (the older one's answer
    // could no longer be told apart), as MoaT does with "OldCmd".
    fwd_t *old = fwd_find(c, msg->i);
    if (old)
        fwd_cancel(old);
    if (first_is(msg, "mplex")) {
        mplex(c, msg);
        return;
    }
    if (first_is(msg, "local")) {
        char name[128];
        size_t len = 0;
        for (uint8_t k = 0; k < msg->path_len && len < sizeof name - 2; k++) {
            int w = snprintf(name + len, sizeof name - len, "%s%.*s", k ? "." : "",
                             (int)msg->path[k].n, (const char *)msg->path[k].p);
            len += w > 0 ? (size_t)w : 0;
        }
        send_error(c, msg->i, "NoPath: %s (the multiplexer runs no local apps)", name);
        return;
    }
    if (!sw_hlink_is_up(m->l)) {
        send_error(c, msg->i, "ECLOSED: device link down (%s)", m->link_uri);
        return;
    }
    fwd_t *f = fwd_new(c, FWD_CALL, msg->i);
    if (!f) {
        send_error(c, msg->i, "EFULL: the multiplexer is out of memory");
        return;
    }
    f->r = msg->r > 0 ? msg->r : 0;
    if (m->q_head) { // others wait already: keep the order
        enqueue(m, f, msg->a, msg->d);
        return;
    }
    int rc = issue(f, msg->a, msg->d);
    if (rc == SW_EFULL)
        enqueue(m, f, msg->a, msg->d);
    else if (rc)
        issue_failed(f, rc);
}

static void client_msg(void *ctx, const uint8_t *p, size_t n)
{
    client_t *c = ctx;
    if (!c->closing)
        sw_rpc_input_ix(&c->rpc, p, n, c->srx.index, (uint32_t)uv_now(c->m->loop)); // (index: see stream.h)
}

static void client_drop(void *ctx, int err)
{
    client_t *c = ctx;
    if (c->m->o.verbose)
        mlog(c->m, "client %u: dropped input (%s)", c->id, sw_errname(err));
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    client_t *c = h->data;
    *b = uv_buf_init((char *)c->m->rbuf, READ_BUF);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    client_t *c = s->data;
    if (nread == 0 || c->closing)
        return;
    if (nread < 0) {
        client_close(c, nread == UV_EOF ? "disconnected" : uv_strerror((int)nread));
        return;
    }
    // the calls this read makes leave in one write, after the loop turn (on_check)
    sw_hlink_cork(c->m->l);
    sw_rx_sink_t sink = {client_msg, NULL, client_drop, c};
    int rc = sw_stream_rx_feed(&c->srx, (const uint8_t *)b->base, (size_t)nread, &sink);
    if (rc < 0 && !c->closing)
        client_close(c, "sent a stream that cannot be followed");
}

static void on_client_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    sw_mux_t *m = c->m;
    free(c->rxbuf);
    free(c->rpcout);
    free(c->obuf);
    free(c);
    release(m);
}

static void client_close(client_t *c, const char *why)
{
    if (c->closing)
        return;
    sw_mux_t *m = c->m;
    c->closing = true;
    unsigned calls = 0;
    while (c->calls.next != &c->calls) { // its streams stop at the device, answers are dropped
        fwd_cancel(c->calls.next);
        calls++;
    }
    c->prev->next = c->next;
    c->next->prev = c->prev;
    m->nclients--;
    if (m->o.verbose && !m->closing)
        mlog(m, "client %u %s (%u calls dropped, %u clients left)", c->id, why, calls,
             m->nclients);
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
    sw_mux_t *m = server->data;
    if (status < 0 || m->closing)
        return;
    client_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->m = m;
    uv_pipe_init(m->loop, &c->pipe, 0);
    c->pipe.data = c;
    m->handles++;
    c->next = c->prev = c; // not listed until accepted
    c->calls.next = c->calls.prev = &c->calls;
    c->closing = true;     // (so a failed accept closes without the list)
    if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0) {
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    if (m->nclients >= m->o.max_clients) {
        m->st.refused++;
        mlog(m, "refused a client: %u clients already (--max-clients)", m->nclients);
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    size_t out = m->o.max_msg + 64;
    c->rxbuf = malloc(m->o.max_msg);
    c->rpcout = malloc(out);
    if (!c->rxbuf || !c->rpcout) {
        mlog(m, "refused a client: out of memory");
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    c->closing = false;
    c->id = ++m->next_id;
    c->next = &m->clients;
    c->prev = m->clients.prev;
    c->prev->next = c;
    m->clients.prev = c;
    m->nclients++;
    m->st.clients++;
    sw_stream_rx_init(&c->srx, SW_STREAM_NO_PREFIX, c->rxbuf, m->o.max_msg);
    sw_rpc_mem_t mem = {c->rpcout, out, NULL, 0, NULL, 0};
    sw_rpc_hooks_t hooks = {client_send, client_request, NULL, c};
    sw_rpc_init(&c->rpc, &mem, &hooks, NULL, NULL);
    if (m->o.verbose)
        mlog(m, "client %u connected (%u clients)", c->id, m->nclients);
    sw_rpc_link(&c->rpc, m->told_up); // MoaT's first message: the state of the device link
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_client_read) == 0)
        c->reading = true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// After every loop turn: send what waits for a device slot, pace reading, flush answers

static void on_check(uv_check_t *h)
{
    sw_mux_t *m = h->data;
    if (m->closing)
        return;
    if (m->q_head)
        drain_queue(m);
    sw_hlink_uncork(m->l);
    bool dev_busy = sw_hlink_queued(m->l) > DEV_QUEUED_PAUSE;
    for (client_t *c = m->clients.next; c != &m->clients; c = c->next) {
        if (c->doomed)
            client_close(c, "does not read its answers (dropped)");
        if (c->dirty)
            client_flush(c);
        if (c->closing)
            continue;
        bool want = !dev_busy && c->nwait < CLIENT_WAIT_PAUSE &&
                    c->olen + c->inflight < CLIENT_OUT_PAUSE;
        if (want && !c->reading) {
            if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_client_read) == 0)
                c->reading = true;
        } else if (!want && c->reading) {
            uv_read_stop((uv_stream_t *)&c->pipe);
            c->reading = false;
        }
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Watchdog (docs/PROTOCOL.md, "Multiplexer"): t = T once per link up, then a feed every T/2.

static void on_wdt_answer(void *u, sw_hlink_t *l, const sw_msg_t *msg, int err)
{
    (void)l;
    (void)err;
    sw_mux_t *m = u;
    if (msg && msg->kind == SW_MSG_STREAM)
        return;
    if (m->wdt_inflight)
        m->wdt_inflight--;
    if (m->closing || !msg || msg->kind != SW_MSG_ERROR)
        return;
    sw_mpr_t r;
    sw_mpr_init(&r, msg->e.p, msg->e.n);
    sw_span_t e = {NULL, 0};
    sw_mpr_str(&r, &e);
    if (sw_span_eq(e, "WDT exists")) // started already (by its config, or by us before)
        return;
    if (!m->wdt_warned)
        mlog(m, "watchdog: sys.wdt failed: %.*s", (int)(e.n > 200 ? 200 : e.n),
             e.p ? (const char *)e.p : "(not a string)");
    m->wdt_warned = true;
}

static void wdt_send(sw_mux_t *m, bool start)
{
    if (!sw_hlink_is_up(m->l) || m->wdt_inflight >= WDT_INFLIGHT_MAX)
        return;
    uint8_t buf[16];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, start ? 1 : 0);
    if (start)
        sw_mpw_cstr(&w, "t"), sw_mpw_uint(&w, m->o.wdt_s);
    sw_span_t d = {buf, w.len};
    if (sw_hlink_call(m->l, "sys.wdt", d, 0, on_wdt_answer, m) > 0)
        m->wdt_inflight++;
}

static void on_wdt_timer(uv_timer_t *t)
{
    wdt_send(t->data, false);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The device link

static void on_link_state(void *u, sw_hlink_t *l, bool up, int err)
{
    (void)err;
    sw_mux_t *m = u;
    if (m->closing)
        return;
    m->dev_said_down = false; // the connection itself says it now
    m->heard = m->nokey_locked = m->probing = false; // (a new connection: ask again if silent)
    uv_timer_stop(&m->t_probe);
    if (up) {
        m->was_up = true;
        m->st.link_ups++;
        mlog(m, "device link up (%s)", m->link_uri);
        tell_all(m, true);
        if (m->o.wdt_s) {
            m->wdt_inflight = 0;
            m->wdt_warned = false;
            wdt_send(m, true);
            uint64_t every = (uint64_t)m->o.wdt_s * 500u;
            uv_timer_start(&m->t_wdt, on_wdt_timer, every, every);
        }
        each_boot(m, boot_up);
        boot_timer_arm(m);
        return;
    }
    uv_timer_stop(&m->t_wdt);
    m->wdt_inflight = 0;
    if (m->was_up)
        m->st.link_downs++;
    if (m->was_up || m->st.link_ups == 0) // (once per outage; failed retries are not news)
        mlog(m, "device link down: %s", sw_hlink_error(l));
    m->was_up = false;
    tell_all(m, false);
    each_boot(m, boot_down);
    drain_queue(m); // what waited fails now: the link is gone
}

static void on_link_notify(void *u, sw_hlink_t *l, const sw_msg_t *msg)
{
    sw_mux_t *m = u;
    if (m->closing)
        return;
    m->heard = true;
    if (first_is(msg, "mplex") && msg->path_len == 2 && sw_span_eq(msg->path[1], "cfg")) {
        // The device applied a changed config (sys.cfg with p and d nil). Of the config the
        // mux takes only the watchdog into account: a new config may have started or changed
        // the device's own, so the mux's --wdt timeout is asked for again ("WDT exists" is
        // fine). The notice then goes to the clients as every other one does.
        m->st.cfg++;
        mlog(m, "device config applied (mplex.cfg)%s", m->o.wdt_s ? ": watchdog re-armed" : "");
        if (m->o.wdt_s)
            wdt_send(m, true);
    }
    if (!msg->action_is_str || msg->path_len != 1 || !sw_span_eq(msg->path[0], "link")) {
        // anything else the device announces goes to every client as it came
        size_t cap = msg->a.n + msg->d.n + 16;
        uint8_t *buf = malloc(cap);
        if (!buf)
            return;
        sw_mpw_t w;
        sw_mpw_init(&w, buf, cap);
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "d");
        if (msg->d.n)
            sw_mpw_raw(&w, msg->d.p, msg->d.n);
        else
            sw_mpw_nil(&w);
        sw_mpw_cstr(&w, "a");
        sw_mpw_raw(&w, msg->a.p, msg->a.n);
        m->st.notifies++;
        for (client_t *c = m->clients.next; c != &m->clients && !w.err; c = c->next)
            client_send(c, w.buf, w.len);
        free(buf);
        return;
    }
    // the device's own link message (false before it resets, true after sys.is_up)
    sw_mpr_t r;
    sw_mpr_init(&r, msg->d.p, msg->d.n);
    bool v;
    if (!msg->d.n || !sw_mpr_bool(&r, &v))
        return;
    tell_all(m, v && sw_hlink_is_up(l));
    const sw_uri_t *lu = sw_hlink_uri(l);
    if (lu->kind != SW_URI_SERIAL || lu->lossy)
        return; // the connection's own state says it (TCP closes, Reliable loses its peer)
    // On a lossless serial line the connection never drops: the device restarting is seen
    // only in its words, link false before the reset and link true once it runs again. They
    // count as the link going down and up (log, mplex.boot's wait).
    if (!v && !m->dev_said_down) {
        m->dev_said_down = true;
        m->st.link_downs++;
        mlog(m, "device link down: the device said link false (%s)", m->link_uri);
        each_boot(m, boot_down);
    } else if (v && m->dev_said_down) {
        m->dev_said_down = false;
        m->st.link_ups++;
        mlog(m, "device link up: the device said link true (%s)", m->link_uri);
        each_boot(m, boot_up);
        boot_timer_arm(m);
    }
}

static void on_link_console(void *u, sw_hlink_t *l, const uint8_t *p, size_t n)
{
    (void)l;
    sw_mux_t *m = u;
    m->st.console += n;
    uint32_t size = m->o.console_size;
    if (n > size) { // only the newest fit
        m->ring_end += n - size;
        p += n - size;
        n = size;
    }
    size_t at = (size_t)(m->ring_end % size);
    size_t k = n < size - at ? n : size - at;
    memcpy(m->ring + at, p, k);
    memcpy(m->ring, p + k, n - k);
    m->ring_end += n;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Open / close

// A socket file left by a mux that died is removed; one somebody answers on is not ours.
static int prepare_socket(const char *path, char *err, size_t errcap)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errcap, "%s exists and is not a socket (not removed)", path);
        return SW_EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errcap, "socket: %s", strerror(errno));
        return SW_EIO;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0) {
        snprintf(err, errcap, "%s is served by another process (another swarm mux?)", path);
        return SW_EBUSY;
    }
    if (e != ECONNREFUSED) {
        snprintf(err, errcap, "%s: %s", path, strerror(e));
        return e == EACCES ? SW_EPERM : SW_EIO;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errcap, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return SW_EPERM;
    }
    return 0;
}

int sw_mux_open(uv_loop_t *loop, const sw_mux_opts_t *o, sw_mux_t **out, char *err,
                size_t errcap)
{
    *out = NULL;
    sw_mux_opts_t d;
    sw_mux_opts_default(&d);
    if (!o || !o->link || !o->socket) {
        snprintf(err, errcap, "a device link and a socket path are needed");
        return SW_EINVAL;
    }
    size_t plen = strlen(o->socket);
    if (plen == 0 || plen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errcap, "socket path '%s' is empty or too long (at most %zu bytes)",
                 o->socket, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return SW_EINVAL;
    }
    sw_uri_t u;
    int rc = sw_uri_parse(o->link, &u, err, errcap);
    if (rc)
        return rc;
    sw_mux_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    m->loop = loop;
    m->o = *o;
    if (!m->o.backoff_ms)
        m->o.backoff_ms = d.backoff_ms;
    if (!m->o.backoff_max_ms)
        m->o.backoff_max_ms = d.backoff_max_ms;
    if (!m->o.boot_timeout_ms)
        m->o.boot_timeout_ms = d.boot_timeout_ms;
    if (!m->o.max_clients)
        m->o.max_clients = d.max_clients;
    if (!m->o.console_size)
        m->o.console_size = d.console_size;
    if (m->o.max_msg < 1024)
        m->o.max_msg = d.max_msg;
    memcpy(m->sock_path, o->socket, plen + 1);
    sw_uri_format(&u, m->link_uri, sizeof m->link_uri);
    m->clients.next = m->clients.prev = &m->clients;
    m->ring = malloc(m->o.console_size);
    if (!m->ring) {
        free(m);
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    m->o.link = m->link_uri;
    m->o.socket = m->sock_path;

    rc = prepare_socket(m->sock_path, err, errcap);
    if (rc) {
        free(m->ring);
        free(m);
        return rc;
    }
    uv_pipe_init(loop, &m->server, 0);
    m->server.data = m;
    m->handles = 1;
    // Owner only (0700): a client of the socket has the device link fully (the mux holds the key of a
    // locked device), so only the user who runs the mux (and root) may connect.
    mode_t um = umask(077);
    int r = uv_pipe_bind(&m->server, m->sock_path);
    umask(um);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&m->server, 128, on_connection);
    if (r < 0) {
        snprintf(err, errcap, "cannot serve %s: %s", m->sock_path, uv_strerror(r));
        rc = r == UV_EADDRINUSE ? SW_EBUSY : r == UV_EACCES ? SW_EPERM : SW_EIO;
        if (r != UV_EADDRINUSE)
            unlink(m->sock_path); // (bound but not listening: ours)
        m->closing = true;
        uv_close((uv_handle_t *)&m->server, on_handle_closed);
        return rc;
    }
    struct stat st;
    if (stat(m->sock_path, &st) == 0) {
        m->sock_dev = st.st_dev;
        m->sock_ino = st.st_ino;
    }

    uv_check_init(loop, &m->check);
    m->check.data = m;
    uv_check_start(&m->check, on_check);
    uv_timer_init(loop, &m->t_wdt);
    m->t_wdt.data = m;
    uv_timer_init(loop, &m->t_boot);
    m->t_boot.data = m;
    uv_timer_init(loop, &m->t_probe);
    m->t_probe.data = m;
    m->handles += 4;
    m->start_ms = uv_now(loop);

    sw_hlink_opts_t lo;
    sw_hlink_opts_default(&lo);
    lo.reconnect = true;
    lo.backoff_ms = m->o.backoff_ms;
    lo.backoff_max_ms = m->o.backoff_max_ms;
    lo.max_msg = m->o.max_msg;
    lo.max_pending = DEV_PENDING;
    sw_hlink_cbs_t cbs = {on_link_state, on_link_notify, on_link_console, m};
    rc = sw_hlink_open(loop, m->link_uri, &lo, &cbs, &m->l, err, errcap);
    if (rc) {
        m->l = NULL;
        sw_mux_close(m);
        return rc;
    }
    mlog(m, "serving %s for %s%s", m->sock_path, m->link_uri,
         m->o.wdt_s ? " (feeding its watchdog)" : "");
    *out = m;
    return 0;
}

void sw_mux_close(sw_mux_t *m)
{
    if (!m || m->closing)
        return;
    m->closing = true;
    while (m->clients.next != &m->clients)
        client_close(m->clients.next, "closed: the multiplexer stops");
    if (m->l)
        sw_hlink_close(m->l); // its own calls (watchdog, boot) end with SW_ECANCELED
    m->l = NULL;
    struct stat st;
    if (stat(m->sock_path, &st) == 0 && st.st_dev == m->sock_dev && st.st_ino == m->sock_ino)
        unlink(m->sock_path); // only our own socket (a successor may have replaced it)
    uv_close((uv_handle_t *)&m->server, on_handle_closed);
    uv_close((uv_handle_t *)&m->check, on_handle_closed);
    uv_close((uv_handle_t *)&m->t_wdt, on_handle_closed);
    uv_close((uv_handle_t *)&m->t_boot, on_handle_closed);
    uv_close((uv_handle_t *)&m->t_probe, on_handle_closed);
}
