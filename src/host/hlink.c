// Host link, session side: opening and closing, link state and reconnects, the RPC session in
// the client role (calls, answers, cancels) and the blocking helpers for one-shot commands.
// Transports and framing are in hlink_io.c.
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlink_int.h"
#include "swarm/seclink.h"
#include "user_config.h"
#include "mpjson.h"

void sw_hlink_opts_default(sw_hlink_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->backoff_ms = 1000;
    o->backoff_max_ms = 20000;
    o->backoff_factor = 1.4;
    o->connect_timeout_ms = 5000;
    o->max_msg = 1u << 20;
    o->max_pending = 256;
}

void sw__hlink_set_error(sw_hlink_t *l, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
    l->last_err = err;
}

// A blocking helper runs the loop one turn at a time; a turn whose timers changed the link
// would otherwise still sleep in the poll phase until the next I/O or timer.
void sw__hlink_wake(sw_hlink_t *l)
{
    if (l->syncing)
        uv_stop(l->loop);
}

uint32_t sw__hlink_now(const sw_hlink_t *l)
{
    return (uint32_t)uv_now(l->loop);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifetime: the struct is freed once every handle and request it owns has finished and
// nobody waits in a blocking helper, so closing from inside any callback is safe.

static void free_link(sw_hlink_t *l)
{
    if (l->ai)
        uv_freeaddrinfo(l->ai);
    sw__hlink_queue_clear(l);
    free(l->rel_store);
    free(l->rxbuf);
    free(l->frame);
    free(l->cork);
    free(l->out);
    free(l->pending);
    sw__hsec_free(l);
    while (l->spare) {
        sw_hcall_t *c = l->spare;
        l->spare = c->next;
        free(c);
    }
    free(l);
}

void sw__hlink_release(sw_hlink_t *l)
{
    if (--l->holds == 0 && l->closing)
        free_link(l);
}

static void on_timer_closed(uv_handle_t *h)
{
    sw__hlink_release(h->data);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Calls

static void call_unlink(sw_hcall_t *c)
{
    c->prev->next = c->next;
    c->next->prev = c->prev;
    c->next = c->prev = c;
}

// Calls come and go at the rate of requests (a mux forwards every client's): finished ones
// are kept for reuse instead of going back to malloc each time.
static sw_hcall_t *call_alloc(sw_hlink_t *l)
{
    sw_hcall_t *c = l->spare;
    if (!c)
        return calloc(1, sizeof *c);
    l->spare = c->next;
    l->nspare--;
    memset(c, 0, sizeof *c);
    return c;
}

static void call_release(sw_hlink_t *l, sw_hcall_t *c)
{
    if (l->nspare >= SW_HLINK_SPARE) {
        free(c);
        return;
    }
    c->next = l->spare;
    l->spare = c;
    l->nspare++;
}

static sw_hcall_t *call_find(sw_hlink_t *l, int64_t seq)
{
    for (sw_hcall_t *c = l->calls.next; c != &l->calls; c = c->next)
        if (c->seq == seq)
            return c;
    return NULL;
}

// RPC answer hook: the call record lives until its final answer (or a cancel).
static void rpc_answer(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m, int err, void *user)
{
    (void)rpc;
    sw_hlink_t *l = ctx;
    sw_hcall_t *c = user;
    if (m && m->kind == SW_MSG_STREAM) {
        // the fn may cancel (free) this call: do not touch c afterwards
        c->fn(c->u, l, m, 0);
        return;
    }
    call_unlink(c);
    sw_hlink_answer_fn fn = c->fn;
    void *u = c->u;
    call_release(l, c);
    fn(u, l, m, m ? 0 : err);
}

// Requests and notifications the device sends us. The host serves no commands (yet): a
// request gets an error so the device does not wait for nothing.
static void rpc_request(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m)
{
    sw_hlink_t *l = ctx;
    if (l->closing)
        return;
    if (m->kind == SW_MSG_NOTIFY) {
        if (l->cbs.notify)
            l->cbs.notify(l->cbs.u, l, m);
    } else if (m->kind == SW_MSG_REQUEST) {
        sw_rpc_send_error(rpc, m->i, "NoPath: the host serves no commands");
    }
}

static int rpc_send(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    if (!l->up) // (while closing, up lasts just long enough for the cancels of streams)
        return SW_ECLOSED;
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy)
        return l->sec ? sw__hsec_write(l, p, n) : sw__hlink_rel_send(l, p, n);
    if (l->uri.kind == SW_URI_MQTT)
        return sw__hlink_mqtt_send(l, p, n);
    return sw__hlink_write(l, p, n);
}

void sw__hlink_msg(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->closing || !l->up)
        return;
    sw_rpc_input(&l->rpc, p, n, sw__hlink_now(l));
}

void sw__hlink_console(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (!l->closing && l->cbs.console)
        l->cbs.console(l->cbs.u, l, p, n);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Link state

static void reconnect_timer(uv_timer_t *t)
{
    sw_hlink_t *l = t->data;
    if (l->closing)
        return;
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy && l->conn && l->conn->connected) {
        // the line is still open, only the Reliable link went down: offer it again
        l->in_rel = true;
        sw_rel_start(&l->rel, sw__hlink_now(l));
        l->in_rel = false;
        sw__hlink_rel_service(l);
        return;
    }
    sw__hlink_start_connect(l);
}

static void schedule_retry(sw_hlink_t *l)
{
    if (l->closing || !l->o.reconnect)
        return;
    uint32_t wait = l->backoff_ms;
    double next = (double)l->backoff_ms * l->o.backoff_factor;
    l->backoff_ms = next > l->o.backoff_max_ms ? l->o.backoff_max_ms : (uint32_t)next;
    l->connecting = true;
    uv_timer_start(&l->t_conn, reconnect_timer, wait, 0);
}

static void report_down(sw_hlink_t *l, int err)
{
    sw__hlink_wake(l);
    if (l->down_reported || l->closing)
        return;
    l->down_reported = true;
    if (l->cbs.state)
        l->cbs.state(l->cbs.u, l, false, err);
}

static void went_up(sw_hlink_t *l)
{
    l->up = true;
    l->connecting = false;
    l->down_reported = false;
    l->backoff_ms = l->o.backoff_ms;
    l->err[0] = 0;
    l->last_err = 0;
    uv_timer_stop(&l->t_conn);
    sw__hlink_wake(l);
    if (l->cbs.state)
        l->cbs.state(l->cbs.u, l, true, 0);
}

// The usable link is gone: pending calls fail, the owner hears it once.
static void went_down(sw_hlink_t *l, int err)
{
    bool was_up = l->up;
    l->up = false;
    sw__hlink_queue_clear(l);
    sw_rpc_reset(&l->rpc, SW_ECLOSED); // every fn gets SW_ECLOSED
    if (was_up)
        l->down_reported = false;
    report_down(l, err);
}

static void start_secure(sw_hlink_t *l)
{
    int rc = sw__hsec_start(l);
    if (rc) {
        sw__hlink_set_error(l, rc, "%s: cannot start the handshake: %s", l->name, sw_strerror(rc));
        sw__hlink_lost(l, rc);
    }
}

void sw__hlink_connected(sw_hlink_t *l)
{
    uv_timer_stop(&l->t_conn);
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy) {
        if (sw__hlink_rel_init(l)) {
            sw__hlink_lost(l, SW_EFULL);
            return;
        }
        // the host starts the handshake; the link is up when it completes
        l->in_rel = true;
        sw_rel_start(&l->rel, sw__hlink_now(l));
        l->in_rel = false;
        sw__hlink_rel_service(l);
        return;
    }
    sw_stream_rx_init(&l->srx, SW_STREAM_NO_PREFIX, l->rxbuf, l->rxcap);
    if (l->uri.kind == SW_URI_SERIAL) { // a lossy node's frames, seen on a lossless link
        sw_sp_cfg_default(&l->spcfg);
        l->spcfg.start = l->uri.start;
        l->spcfg.max_frame = (uint16_t)(sizeof l->sniff - SW_SP_OVERHEAD);
        sw_sp_rx_init(&l->sprx, &l->spcfg, l->sniff, sizeof l->sniff);
    }
    if (sw__hsec_use(l)) {
        start_secure(l); // up once the node has proven it holds the key too
        return;
    }
    went_up(l);
}

void sw__hlink_secure_up(sw_hlink_t *l)
{
    if (!l->up && !l->closing)
        went_up(l);
}

void sw__hlink_plain_fallback(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy) {
        went_up(l);
        if (p)
            sw__hlink_msg(l, p, n);
        return;
    }
    // TCP: the open node closes at the preamble; a line: start clean. Again at once, in plain
    // (a command that does not reconnect still gets this one attempt).
    sw_hconn_t *c = l->conn;
    sw__hlink_cork_drop(l);
    l->conn = NULL;
    if (c)
        sw__hlink_conn_end(c, false);
    uv_timer_stop(&l->t_conn);
    sw__hlink_start_connect(l);
}

void sw__hlink_up(sw_hlink_t *l)
{
    if (l->up)
        return;
    if (sw__hsec_use(l)) // lossy: the Noise session runs inside the Reliable link
        start_secure(l);
    else
        went_up(l);
}

void sw__hlink_rel_down(sw_hlink_t *l)
{
    if (l->closing)
        return;
    if (l->sec) { // a session belongs to one Reliable link
        sw_seclink_wipe(l->sec);
        free(l->sec);
        l->sec = NULL;
    }
    if (l->key_optional) // (as in sw__hlink_lost)
        l->plain = false;
    if (l->up) {
        sw__hlink_set_error(l, SW_ECLOSED, "%s: the device closed the link", l->name);
        went_down(l, SW_ECLOSED);
    } else {
        l->fails++;
        if (!l->err[0])
            sw__hlink_set_error(l, SW_ETIMEDOUT, "%s: no answer from the device (Reliable "
                                "handshake; is swarm-node running with --lossy on the other end?)",
                                l->name);
        report_down(l, l->last_err ? l->last_err : SW_ETIMEDOUT);
    }
    schedule_retry(l);
}

void sw__hlink_lost(sw_hlink_t *l, int err)
{
    sw_hconn_t *c = l->conn;
    // a device that said it was open may have been locked since: the next connection (a mux
    // reconnecting) starts with the handshake again
    if (l->key_optional)
        l->plain = false;
    if (l->sec) { // a session belongs to one connection
        sw_seclink_wipe(l->sec);
        free(l->sec);
        l->sec = NULL;
    }
    sw__hlink_cork_drop(l);
    sw__hlink_mqtt_end(l);
    l->conn = NULL;
    l->connecting = false;
    if (c)
        sw__hlink_conn_end(c, false);
    uv_timer_stop(&l->t_conn);
    uv_timer_stop(&l->t_rel);
    if (!l->up)
        l->fails++;
    went_down(l, err);
    schedule_retry(l);
}

void sw__hlink_attempt_failed(sw_hlink_t *l, int err)
{
    sw__hlink_lost(l, err);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Open / close

int sw_hlink_open(uv_loop_t *loop, const char *uri, const sw_hlink_opts_t *o,
                  const sw_hlink_cbs_t *cbs, sw_hlink_t **out, char *err, size_t errcap)
{
    *out = NULL;
    const char *given = uri;
    // a device named in the user's config ([devices] kitchen = serial:///dev/ttyUSB0) stands
    // for its link
    char named[320];
    if (!strstr(uri, "://") && sw_config_get("devices", uri, named, sizeof named) && named[0])
        uri = named;
    sw_uri_t u;
    int rc = sw_uri_parse(uri, &u, err, errcap);
    if (rc)
        return rc;
    (void)sw__hlink_bare_name(&u); // a name (bare or tcp://NAME): the scan cache, mDNS, then DNS
    sw_hlink_t *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    l->loop = loop;
    l->uri = u;
    sw_uri_format(&u, l->name, sizeof l->name);
    sw_hlink_opts_default(&l->o);
    if (o) {
        l->o = *o;
        sw_hlink_opts_t d;
        sw_hlink_opts_default(&d);
        if (!l->o.backoff_ms)
            l->o.backoff_ms = d.backoff_ms;
        if (!l->o.backoff_max_ms)
            l->o.backoff_max_ms = d.backoff_max_ms;
        if (l->o.backoff_max_ms < l->o.backoff_ms)
            l->o.backoff_max_ms = l->o.backoff_ms;
        if (!(l->o.backoff_factor >= 1.0 && l->o.backoff_factor <= 100.0))
            l->o.backoff_factor = d.backoff_factor;
        if (!l->o.connect_timeout_ms)
            l->o.connect_timeout_ms = d.connect_timeout_ms;
        if (!l->o.max_msg)
            l->o.max_msg = d.max_msg;
        if (l->o.max_msg < 64)
            l->o.max_msg = 64;
        if (!l->o.max_pending)
            l->o.max_pending = d.max_pending;
    }
    if (cbs)
        l->cbs = *cbs;
    // per-device key and locked record: by the name the user gave, else by the link's URI
    if ((rc = sw__hsec_load(l, strstr(given, "://") ? l->name : given, err, errcap))) {
        free(l);
        return rc;
    }
    l->backoff_ms = l->o.backoff_ms;
    l->calls.next = l->calls.prev = &l->calls;

    bool lossy = u.kind == SW_URI_SERIAL && u.lossy;
    l->rxcap = lossy ? SW_HLINK_REL_MAX_MSG + 64 : l->o.max_msg;
    l->rxbuf = malloc(l->rxcap);
    l->out = malloc(l->o.max_msg);
    l->pending = calloc(l->o.max_pending, sizeof *l->pending);
    if (!l->rxbuf || !l->out || !l->pending) {
        free_link(l);
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    sw_rpc_mem_t mem = {l->out, l->o.max_msg, NULL, 0, l->pending, l->o.max_pending};
    sw_rpc_hooks_t hooks = {rpc_send, rpc_request, rpc_answer, l};
    sw_rpc_init(&l->rpc, &mem, &hooks, NULL, NULL);

    uv_timer_t *timers[] = {&l->t_conn, &l->t_rel, &l->t_sync};
    for (size_t i = 0; i < 3; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = l;
        l->holds++;
    }
    // Every attempt starts from the loop, so failures always arrive through state().
    l->connecting = true;
    uv_timer_start(&l->t_conn, reconnect_timer, 0, 0);
    *out = l;
    return 0;
}

void sw_hlink_close(sw_hlink_t *l)
{
    if (!l || l->closing)
        return;
    l->closing = true; // from here on only the fns of calls are called (and new calls refused)
    sw__hlink_wake(l);
    // Streams are stopped at the peer first (a serial line has no connection whose end would
    // tell it); nothing here calls back, so the list cannot change under us.
    for (sw_hcall_t *c = l->calls.next; c != &l->calls; c = c->next)
        if (c->stream && l->up)
            sw_rpc_cancel(&l->rpc, c->seq);
    // Then every call hears SW_ECANCELED: those still pending in the session through it, the
    // cancelled streams here. A fn may cancel other calls: always take the list's head.
    sw_rpc_reset(&l->rpc, SW_ECANCELED);
    while (l->calls.next != &l->calls) {
        sw_hcall_t *c = l->calls.next;
        call_unlink(c);
        c->fn(c->u, l, NULL, SW_ECANCELED);
        call_release(l, c);
    }
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy && l->rel_store &&
        l->rel.state != SW_REL_CLOSED)
        sw_rel_close(&l->rel, "closing", sw__hlink_now(l)); // tells the device at once
    sw_hlink_uncork(l);
    sw_hconn_t *c = l->conn;
    l->conn = NULL;
    l->up = false;
    if (c)
        sw__hlink_conn_end(c, true); // what is queued (the cancels, the close) still goes out
    sw__hlink_mqtt_end(l);
    sw__hlink_gai_abandon(l);
    uv_close((uv_handle_t *)&l->t_conn, on_timer_closed);
    uv_close((uv_handle_t *)&l->t_rel, on_timer_closed);
    uv_close((uv_handle_t *)&l->t_sync, on_timer_closed);
}

bool sw_hlink_is_up(const sw_hlink_t *l)
{
    return l->up && !l->closing;
}

const sw_uri_t *sw_hlink_uri(const sw_hlink_t *l)
{
    return &l->uri;
}

bool sw_hlink_unresolved(const sw_hlink_t *l)
{
    return l->unresolved;
}

bool sw_hlink_line_opened(const sw_hlink_t *l)
{
    return l->line_opened;
}

size_t sw_hlink_max_msg(const sw_hlink_t *l)
{
    if (l->uri.kind == SW_URI_SERIAL && l->uri.lossy) {
        if (!l->up || !l->rel_store)
            return 0;
        size_t n = sw_rel_max_payload(&l->rel);
        return n < l->o.max_msg ? n : l->o.max_msg;
    }
    return l->o.max_msg;
}

size_t sw_hlink_pending(const sw_hlink_t *l)
{
    return sw_rpc_pending_count(&l->rpc);
}

size_t sw_hlink_queued(const sw_hlink_t *l)
{
    return (l->conn ? l->conn->inflight : 0) + l->q_bytes;
}

size_t sw_hlink_waiting(const sw_hlink_t *l) { return l->q_msgs; }

void sw_hlink_on_room(sw_hlink_t *l, sw_hlink_room_fn fn, void *u)
{
    if (!fn && u != l->room_u)
        return; // another's
    l->room_fn = fn;
    l->room_u = fn ? u : NULL;
}

const char *sw_hlink_error(const sw_hlink_t *l)
{
    return l->err[0] ? l->err : sw_strerror(l->last_err);
}

int sw_hlink_error_code(const sw_hlink_t *l) { return l->last_err; }

bool sw_hlink_secure(const sw_hlink_t *l)
{
    // (mqtt://: the session runs through the broker, hlink_mqtt.c)
    return sw__hsec_use(l) || (l->uri.kind == SW_URI_MQTT && l->has_key && !l->plain);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Calls

int sw_hlink_gate(sw_hlink_t *l, const char *dotted)
{
    if (l->closing || !l->up)
        return SW_ECLOSED;
    return sw__hsec_gate(l, dotted, NULL, (sw_span_t){0});
}

static int64_t call(sw_hlink_t *l, const char *dotted, const sw_span_t *action, sw_span_t d,
                    int64_t r_ms, sw_hlink_answer_fn fn, void *u)
{
    if (l->closing || !l->up)
        return SW_ECLOSED;
    if (!fn)
        return SW_EINVAL;
    if (!action && d.n && sw_mp_check(d.p, d.n)) // (call_raw's spans are whole items already)
        return SW_EINVAL;
    int rc = sw__hsec_gate(l, dotted, action, d);
    if (rc)
        return rc;
    sw_hcall_t *c = call_alloc(l);
    if (!c)
        return SW_EFULL;
    c->fn = fn;
    c->u = u;
    c->stream = r_ms > 0;
    int64_t seq = action ? sw_rpc_request_raw(&l->rpc, *action, d, r_ms, c)
                         : sw_rpc_request(&l->rpc, dotted, d, r_ms, c);
    if (seq < 0) {
        call_release(l, c);
        return seq;
    }
    c->seq = seq;
    c->next = &l->calls;
    c->prev = l->calls.prev;
    c->prev->next = c;
    l->calls.prev = c;
    return seq;
}

int64_t sw_hlink_call(sw_hlink_t *l, const char *dotted, sw_span_t d, int64_t r_ms,
                      sw_hlink_answer_fn fn, void *u)
{
    if (!dotted || !*dotted)
        return SW_EINVAL;
    return call(l, dotted, NULL, d, r_ms, fn, u);
}

int64_t sw_hlink_call_raw(sw_hlink_t *l, sw_span_t action, sw_span_t d, int64_t r_ms,
                          sw_hlink_answer_fn fn, void *u)
{
    if (!action.n)
        return SW_EINVAL;
    return call(l, NULL, &action, d, r_ms, fn, u);
}

int sw_hlink_notify_raw(sw_hlink_t *l, sw_span_t action, sw_span_t d)
{
    if (l->closing || !l->up)
        return SW_ECLOSED;
    if (!action.n || sw_mp_check(action.p, action.n) || (d.n && sw_mp_check(d.p, d.n)))
        return SW_EINVAL;
    int rc = sw__hsec_gate(l, NULL, &action, d);
    if (rc)
        return rc;
    size_t cap = action.n + d.n + 16;
    if (cap > l->o.max_msg)
        return SW_ETOOBIG;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return SW_EFULL;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_msg_request_begin_raw(&w, action, -1, 0);
    if (d.n)
        sw_mpw_raw(&w, d.p, d.n);
    else
        sw_mpw_map(&w, 0);
    sw_msg_request_end(&w, -1, 0);
    rc = w.err ? SW_ETOOBIG : rpc_send(l, w.buf, w.len);
    free(buf);
    return rc;
}

void sw_hlink_cancel(sw_hlink_t *l, int64_t seq)
{
    sw_hcall_t *c = call_find(l, seq);
    if (!c)
        return;
    call_unlink(c);
    sw_rpc_abandon(&l->rpc, seq); // the device stops what it does for it (an eval, say)
    call_release(l, c);
}

int sw_hlink_write_console(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->uri.kind != SW_URI_SERIAL)
        return SW_ENOTSUP;
    if (l->closing || !l->conn || !l->conn->connected)
        return SW_ECLOSED;
    if (l->uri.lossy) { // bytes outside frames are console; later frames wait behind them
        int rc = sw__hlink_write(l, p, n);
        if (!rc && l->rel_store)
            sw_rel_line_used(&l->rel, n, sw__hlink_now(l));
        return rc;
    }
    uint8_t buf[512];
    while (n) {
        size_t used;
        size_t k = sw_stream_encode_console(SW_STREAM_NO_PREFIX, p, n, buf, sizeof buf, &used);
        int rc = sw__hlink_write(l, buf, k);
        if (rc)
            return rc;
        p += used;
        n -= used;
    }
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Blocking helpers (one-shot commands; never from inside a callback of this loop)

static void sync_timer(uv_timer_t *t)
{
    sw_hlink_t *l = t->data;
    l->sync_expired = true;
    sw__hlink_wake(l);
}

static void sync_begin(sw_hlink_t *l, uint32_t timeout_ms)
{
    l->holds++;
    l->syncing++;
    l->sync_expired = false;
    if (timeout_ms)
        uv_timer_start(&l->t_sync, sync_timer, timeout_ms, 0);
}

// Ends a wait; false if the link was closed meanwhile and is gone now.
static bool sync_end(sw_hlink_t *l)
{
    bool alive = !l->closing;
    l->syncing--;
    if (alive)
        uv_timer_stop(&l->t_sync);
    sw__hlink_release(l);
    return alive;
}

// One loop turn; false if the loop has nothing left that could change anything.
static bool turn(sw_hlink_t *l)
{
    return uv_run(l->loop, UV_RUN_ONCE) != 0 || l->closing;
}

int sw_hlink_wait_up(sw_hlink_t *l, uint32_t timeout_ms)
{
    if (l->closing)
        return SW_ECANCELED;
    unsigned fails = l->fails;
    sync_begin(l, timeout_ms);
    int rc = 0;
    while (!l->up) {
        if (l->closing) {
            rc = SW_ECANCELED;
            break;
        }
        if (l->fails != fails && !l->o.reconnect) {
            rc = l->last_err ? l->last_err : SW_ECLOSED;
            break;
        }
        if (l->sync_expired) {
            if (!l->err[0])
                sw__hlink_set_error(l, SW_ETIMEDOUT, "%s: not connected within %.1f s",
                                    l->name, timeout_ms / 1000.0);
            rc = SW_ETIMEDOUT;
            break;
        }
        if (!turn(l)) {
            rc = l->last_err ? l->last_err : SW_ECLOSED;
            break;
        }
    }
    if (!sync_end(l))
        return SW_ECANCELED;
    return rc;
}

typedef struct sync_call {
    bool done;
    int err;
    sw_mpw_t *result;
    char *text;
    size_t cap;
} sync_call_t;

// The error value of an answer as text: strings as they are, anything else as JSON.
static void error_text(sw_span_t e, char *buf, size_t cap)
{
    sw_mpr_t r;
    sw_mpr_init(&r, e.p, e.n);
    sw_span_t s;
    if (sw_mpr_str(&r, &s)) {
        snprintf(buf, cap, "%.*s", (int)(s.n > 4096 ? 4096 : s.n), (const char *)s.p);
        return;
    }
    cJSON *j = sw_mp_to_json(e.p, e.n, NULL);
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    snprintf(buf, cap, "%s", t ? t : "(unreadable error)");
    cJSON_free(t);
    cJSON_Delete(j);
}

static void sync_answer(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    sync_call_t *s = u;
    if (s->done)
        return;
    sw__hlink_wake(l);
    if (!m) {
        s->done = true;
        s->err = err;
        if (s->text && s->cap) {
            if (err != SW_ECLOSED)
                snprintf(s->text, s->cap, "%s", sw_strerror(err));
            else if (l->err[0])
                snprintf(s->text, s->cap, "%s", l->err);
            else
                snprintf(s->text, s->cap, "%s: link lost", l->name);
        }
        return;
    }
    switch (m->kind) {
    case SW_MSG_REPLY:
        s->done = true;
        if (s->result) {
            sw_mpw_raw(s->result, m->d.p, m->d.n);
            if (s->result->err) {
                s->err = SW_ETOOBIG;
                if (s->text && s->cap)
                    snprintf(s->text, s->cap, "the reply is too large (%zu bytes)", m->d.n);
            }
        }
        break;
    case SW_MSG_ERROR:
        s->done = true;
        s->err = SW_EREMOTE;
        if (s->text && s->cap)
            error_text(m->e, s->text, s->cap);
        break;
    case SW_MSG_END:
        s->done = true;
        if (s->result)
            sw_mpw_nil(s->result);
        break;
    default:
        break; // stream values of a plain call: ignored
    }
}

bool sw_hlink_keyless(const sw_hlink_t *l) { return !l->has_key; }

// Sends the probe of sw_hlink_line_locked; false (nothing sent) where it does not apply.
static bool probe_send(sw_hlink_t *l)
{
    if (l->closing || l->uri.kind != SW_URI_SERIAL || l->uri.lossy || l->sec || l->has_key ||
        !l->conn || l->probe == SW__PROBE_WAIT)
        return false;
    // The preamble, then a frame header of length 0 and padding up to the handshake message's
    // size: a locked node starts a session at the preamble, answers its mark and then refuses the
    // empty frame; an open node answers its mark and skips exactly that many bytes (link.c).
    uint8_t m[SW_NOISE_PREAMBLE_LEN + SW_NOISE_HDR + SW_NOISE_HS_LEN] = {0};
    memcpy(m, SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN);
    l->probe = SW__PROBE_WAIT;
    l->hunt_win = 0;
    if (sw__hlink_write_raw(l, m, sizeof m)) {
        l->probe = SW__PROBE_NONE;
        return false;
    }
    return true;
}

bool sw_hlink_line_locked(sw_hlink_t *l, uint32_t wait_ms)
{
    if (!probe_send(l))
        return false;
    sync_begin(l, wait_ms);
    while (l->probe == SW__PROBE_WAIT && !l->sync_expired && turn(l))
        ;
    bool locked = l->probe == SW__PROBE_LOCKED;
    if (sync_end(l))
        l->probe = SW__PROBE_NONE;
    return locked;
}

bool sw_hlink_probe_locked(sw_hlink_t *l, sw_hlink_probe_fn fn, void *u)
{
    if (!fn || l->syncing || !probe_send(l))
        return false;
    l->probe_fn = fn;
    l->probe_u = u;
    return true;
}

void sw_hlink_probe_cancel(sw_hlink_t *l)
{
    if (!l->probe_fn)
        return; // (none under way, or the blocking form's, which ends by itself)
    l->probe_fn = NULL;
    l->probe = SW__PROBE_NONE;
}

int sw_hlink_call_sync(sw_hlink_t *l, const char *dotted, sw_span_t d, uint32_t timeout_ms,
                       sw_mpw_t *result, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    uint64_t start = uv_now(l->loop);
    if (!l->up) {
        int rc = sw_hlink_wait_up(l, timeout_ms);
        if (rc) {
            if (err && errcap)
                snprintf(err, errcap, "%s", sw_hlink_error(l));
            return rc;
        }
    }
    uint64_t spent = uv_now(l->loop) - start;
    uint32_t left = timeout_ms == 0 ? 0 : spent >= timeout_ms ? 1 : timeout_ms - (uint32_t)spent;
    sync_call_t s = {false, 0, result, err, errcap};
    int64_t seq = sw_hlink_call(l, dotted, d, 0, sync_answer, &s);
    if (seq < 0) {
        if (err && errcap)
            snprintf(err, errcap, "cannot send %s: %s", dotted,
                     seq == SW_ECLOSED || seq == SW_EAUTH ? sw_hlink_error(l) : sw_strerror((int)seq));
        return (int)seq;
    }
    sync_begin(l, left);
    while (!s.done) {
        if (l->sync_expired || !turn(l)) {
            sw_hlink_cancel(l, seq);
            s.err = SW_ETIMEDOUT;
            if (err && errcap)
                snprintf(err, errcap, "%s: no answer to %s within %.1f s", l->name, dotted,
                         timeout_ms / 1000.0);
            break;
        }
    }
    sync_end(l);
    return s.err;
}
