// The MQTT part: the node on a fleet bus (docs/PROTOCOL.md, "MQTT"). Connects out to the broker
// of mqtt.url through the port's MQTT client (port.h; POSIX: libmosquitto on the libuv loop),
// reconnects with back-off, and
//   - publishes its beacon retained on swarm/<fleet>/<host>/state, with a last will that marks
//     it offline;
//   - serves RPC from swarm/<fleet>/<host>/rpc[/<client>]: each requester (a reply topic) is a
//     virtual link with its own RPC session on the node's command tree, so streams, cancel,
//     deferred replies and per-link cleanup work as on TCP; requests in flight per requester
//     and requesters at once are bounded, idle requesters are freed;
//   - on a locked node, serves authenticated requesters: a Noise handshake on the rpc topic
//     makes the reply topic a sealed session (swarm/noise_msg.h), so the broker carries every
//     request and answer but can neither read nor forge them;
//   - publishes its log lines (QoS 0) on swarm/<fleet>/<host>/log while someone has announced
//     it listens (swarm/<fleet>/<host>/log/listen, a lease in seconds) or mqtt.log is true.
#include "profile.h"
#if SW_WITH_MQTT
#include <stdio.h>
#include <string.h>

#include "net_part.h"
#include "swarm/msg.h"
#if SW_WITH_AUTH
#include "swarm/noise_msg.h"
#include "swarm/topic.h"
#endif

#define TOPIC_MAX 200        // bytes of a topic we publish to or accept as a reply topic
#define CORR_MAX 64          // bytes of correlation data kept per request
#define REQ_MAX 64           // mqtt.requesters is clamped to this
#define INFLIGHT_MAX 64      // mqtt.inflight is clamped to this
#define STREAMS 4            // streams per requester
#define STATE_MAX 1600       // the state JSON: a beacon (SW_BEACON_MAX) + "online"
#define LOG_PUBLISH_MAX 64   // log lines published per poll (the rest waits for the next one)
#define LOG_POLL_MS 200
#define LEASE_MAX_S 3600     // a log listener's lease is clamped to this

typedef struct inflight {
    int64_t seq; // 0: free
    uint8_t corr_len;
    uint8_t corr[CORR_MAX];
} inflight_t;

typedef struct sw_mqtt_part mq_t;

// One requester: everything that came with the same reply topic.
typedef struct req {
    mq_t *mq;
    bool used;
    char topic[TOPIC_MAX + 1];
    sw_rpc_t rpc;
    uint8_t *mem;
    size_t mem_size;
    inflight_t *fl;
    uint16_t nfl;
    uint32_t last_ms;
    sw_timer_t rpc_timer, idle_timer;
#if SW_WITH_AUTH
    bool sealed;       // a Noise session: everything in and out is sealed (nz)
    sw_noise_t nz;
#endif
} req_t;

struct sw_mqtt_part {
    const sw_mqtt_ops_t *ops; // first (node_int.h)
    sw_node_t *n;
    sw_mqtt_t *cli;
    bool up, stopping;
    char base[TOPIC_MAX + 1]; // "swarm/<fleet>/<host>/"
    char host[128];
    uint16_t port;
    bool tls;
    uint32_t backoff_ms;
    sw_timer_t retry, state_timer, log_timer;
    int64_t state_call;       // local call of sys.beacon under way (0: none)
    char state[STATE_MAX];
    size_t state_len;         // what was last published (0: nothing yet on this session)
    uint16_t max_req, max_fl;
    uint32_t idle_ms;
    req_t *req;               // max_req entries
    uint8_t *plain, *sealed;  // locked node: scratch for opening / sealing one message
    size_t sealed_cap;
    uint64_t log_pos;
    uint32_t log_until;       // now_ms until which someone listens
    bool log_listen, log_always;
    // counters (mqtt.status)
    uint32_t connects, losses, requests, busy, dropped, bad, log_lines;
};

static const sw_port_ops_t *pops(const mq_t *q) { return q->n->port.ops; }
static void *pctx(const mq_t *q) { return q->n->port.ctx; }

static int publish(mq_t *q, const char *topic, const void *p, size_t n, int qos, bool retain,
                   const void *corr, size_t corr_len)
{
    if (!q->up || !q->cli)
        return SW_ECLOSED;
    return pops(q)->mqtt_publish(pctx(q), q->cli, topic, p, n, qos, retain, corr, corr_len);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Requesters

static inflight_t *fl_find(req_t *r, int64_t seq)
{
    for (uint16_t i = 0; i < r->mq->max_fl; i++)
        if (r->fl[i].seq == seq)
            return &r->fl[i];
    return NULL;
}

static void fl_free(req_t *r, inflight_t *f)
{
    f->seq = 0;
    r->nfl--;
    if (!r->nfl && r->mq->idle_ms)
        sw_timer_start(r->mq->n, &r->idle_timer, r->mq->idle_ms);
}

static void req_schedule(req_t *r)
{
    uint32_t wait = sw_rpc_poll(&r->rpc, sw_node_now(r->mq->n));
    if (wait == UINT32_MAX)
        sw_timer_stop(r->mq->n, &r->rpc_timer);
    else
        sw_timer_start(r->mq->n, &r->rpc_timer, wait);
}

static void req_free(req_t *r)
{
    mq_t *q = r->mq;
    sw_node_t *n = q->n;
    sw_timer_stop(n, &r->rpc_timer);
    sw_timer_stop(n, &r->idle_timer);
    sw_node_rpc_reset(n, &r->rpc, SW_ECLOSED);
    sw_node_link_gone(n, &r->rpc);
    sw_log(n, SW_LOG_DEBUG, "mqtt: requester %s: gone", r->topic);
    sw_node_release(n, r->mem, r->mem_size);
    memset(r, 0, sizeof *r);
}

// One outgoing message of a requester's session: to its reply topic, with the correlation data
// of the request it answers.
static int req_send(void *ctx, const uint8_t *p, size_t n)
{
    req_t *r = ctx;
    sw_msg_t m;
    inflight_t *f = NULL;
    if (sw_msg_decode(&m, p, n) == 0 && (m.has & SW_MSG_HAS_I))
        f = fl_find(r, m.i);
    int rc = 0;
#if SW_WITH_AUTH
    if (r->sealed) {
        size_t len;
        mq_t *q = r->mq;
        rc = sw_noise_msg_seal(&r->nz, p, n, q->sealed, q->sealed_cap, &len);
        if (!rc)
            p = q->sealed, n = len;
    }
#endif
    if (!rc)
        rc = publish(r->mq, r->topic, p, n, 1, false, f ? f->corr : NULL, f ? f->corr_len : 0);
    if (rc)
        r->mq->dropped++;
    if (f && (m.kind == SW_MSG_REPLY || m.kind == SW_MSG_ERROR || m.kind == SW_MSG_END))
        fl_free(r, f);
    r->last_ms = sw_node_now(r->mq->n);
    return 0; // a reply the broker did not take is lost, as on a dropped connection
}

static void req_request(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m)
{
    req_t *r = ctx;
    if (m->kind == SW_MSG_REQUEST) {
        sw_rpc_dispatch(rpc, m, sw_node_now(r->mq->n));
    } else if (m->kind == SW_MSG_CANCEL) {
        sw_rpc_stop_stream(rpc, m->i);
        sw_node_request_cancelled(r->mq->n, rpc, m->i);
        inflight_t *f = fl_find(r, m->i);
        if (f)
            fl_free(r, f);
    }
}

static void req_rpc_timer(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    req_schedule(t->user);
}

static void req_idle(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    req_t *r = t->user;
    if (!r->nfl)
        req_free(r);
}

static req_t *req_find(mq_t *q, const char *topic)
{
    for (uint16_t i = 0; i < q->max_req; i++)
        if (q->req[i].used && !strcmp(q->req[i].topic, topic))
            return &q->req[i];
    return NULL;
}

// A new requester: a free slot, else the one idle longest with nothing in flight.
static req_t *req_new(mq_t *q, const char *topic)
{
    sw_node_t *n = q->n;
    req_t *r = NULL;
    for (uint16_t i = 0; i < q->max_req && !r; i++)
        if (!q->req[i].used)
            r = &q->req[i];
    if (!r) {
        uint32_t now = sw_node_now(n), oldest = 0;
        for (uint16_t i = 0; i < q->max_req; i++) {
            req_t *c = &q->req[i];
            if (!c->nfl && now - c->last_ms >= oldest)
                oldest = now - c->last_ms, r = c;
        }
        if (!r)
            return NULL;
        req_free(r);
    }
    size_t msg = n->lim.max_msg;
    size_t streams = sizeof(sw_rpc_stream_t) * STREAMS;
    size_t fl = sizeof(inflight_t) * q->max_fl;
    r->mem_size = msg + streams + fl + 16;
    r->mem = sw_node_alloc(n, r->mem_size);
    if (!r->mem)
        return NULL;
    r->mq = q;
    r->used = true;
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    sw_rpc_stream_t *st = (sw_rpc_stream_t *)(void *)(r->mem + ((msg + 7) & ~(size_t)7));
    r->fl = (inflight_t *)(void *)((uint8_t *)st + streams);
    sw_rpc_mem_t mem = {r->mem, msg, st, STREAMS, NULL, 0};
    sw_rpc_hooks_t hooks = {req_send, req_request, NULL, r};
    sw_rpc_init(&r->rpc, &mem, &hooks, &n->tree, n);
    r->rpc.gen = ++n->gen_seq;
    r->rpc_timer.fn = req_rpc_timer;
    r->rpc_timer.user = r;
    r->idle_timer.fn = req_idle;
    r->idle_timer.user = r;
    r->last_ms = sw_node_now(n);
    sw_log(n, SW_LOG_DEBUG, "mqtt: requester %s: new", topic);
    return r;
}

// An error straight to a reply topic, outside the RPC session (the request was refused before
// it got there); sealed when the reply topic is a sealed session (r).
static void refuse(mq_t *q, req_t *r, const char *topic, int64_t seq, const char *text, const sw_mqtt_msg_t *in)
{
    uint8_t buf[160];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_msg_write_error(&w, seq, text);
    if (w.err)
        return;
    const uint8_t *p = buf;
    size_t n = w.len;
#if SW_WITH_AUTH
    if (r && r->sealed) {
        if (sw_noise_msg_seal(&r->nz, buf, w.len, q->sealed, q->sealed_cap, &n))
            return;
        p = q->sealed;
    }
#else
    (void)r;
#endif
    publish(q, topic, p, n, 1, false, in->corr, in->corr_len);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Incoming messages

static bool reply_topic_ok(const char *t)
{
    size_t n = strlen(t);
    return n && n <= TOPIC_MAX && !strpbrk(t, "+#");
}

#if SW_WITH_AUTH
// The 1-byte answers outside a session (docs/PROTOCOL.md, MQTT, "Authenticated RPC"): the two
// handshake rejects of TCP, and "no session" for a sealed message the node has no session for.
enum { REJECT_NO_SESSION = 3 };

static void reject(mq_t *q, const char *topic, uint8_t why, const sw_mqtt_msg_t *in)
{
    q->bad++;
    publish(q, topic, &why, 1, 1, false, in->corr, in->corr_len);
}

// Handshake message 1 (after the preamble) from a requester: answer message 2 and make its reply
// topic a sealed session, a new one (as a new TCP connection would be).
static void handshake(mq_t *q, const sw_mqtt_msg_t *in, const char *topic)
{
    sw_node_t *n = q->n;
    if (in->len != SW_NOISE_PREAMBLE_LEN + SW_NOISE_HS_LEN ||
        memcmp(in->payload, SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN)) {
        reject(q, topic, SW_NOISE_REJECT_PROTO, in);
        return;
    }
    const uint8_t *m1 = in->payload + SW_NOISE_PREAMBLE_LEN;
    req_t *r = req_find(q, topic);
    if (r && r->sealed && !memcmp(m1, r->nz.re, SW_NOISE_DH)) {
        // the message 1 of the session in place, again: a broker's duplicate (QoS 1) or a
        // replay; restarting the session for it would cut the requester off
        q->bad++;
        return;
    }
    uint8_t seed[SW_NOISE_KEY], m2[SW_NOISE_HS_LEN];
    pops(q)->random(pctx(q), seed, sizeof seed);
    sw_noise_t nz;
    int rc = sw_noise_init(&nz, false, n->key, seed);
    if (!rc)
        rc = sw_noise_read_hs(&nz, m1, SW_NOISE_HS_LEN);
    if (rc == SW_EAUTH && n->has_old) { // a key rotation: the previous key is still accepted
        rc = sw_noise_init(&nz, false, n->key_old, seed);
        if (!rc)
            rc = sw_noise_read_hs(&nz, m1, SW_NOISE_HS_LEN);
    }
    if (!rc)
        rc = sw_noise_write_hs(&nz, m2);
    sw_noise_zero(seed, sizeof seed);
    if (rc) {
        sw_noise_wipe(&nz);
        sw_log(n, SW_LOG_WARN, "mqtt: requester %s: handshake refused (%s)", topic,
               rc == SW_EAUTH ? "wrong key" : sw_strerror(rc));
        reject(q, topic, rc == SW_EAUTH ? SW_NOISE_REJECT_AUTH : SW_NOISE_REJECT_PROTO, in);
        return;
    }
    if (r)
        req_free(r);
    if (!(r = req_new(q, topic))) {
        sw_noise_wipe(&nz);
        q->busy++;
        refuse(q, NULL, topic, 0, "busy: too many requesters (mqtt.requesters)", in);
        return;
    }
    r->nz = nz;
    r->sealed = true;
    sw_noise_wipe(&nz);
    publish(q, topic, m2, sizeof m2, 1, false, in->corr, in->corr_len);
    sw_log(n, SW_LOG_INFO, "mqtt: requester %s: authenticated", topic);
}
#endif

static void on_rpc(mq_t *q, const sw_mqtt_msg_t *in, const char *client, size_t client_len)
{
    sw_node_t *n = q->n;
    char topic[TOPIC_MAX + 1];
    if (in->response_topic) {
        if (!reply_topic_ok(in->response_topic)) {
            q->bad++;
            return;
        }
        snprintf(topic, sizeof topic, "%s", in->response_topic);
    } else if (client) {
        // MQTT 3.1.1: the requester named itself in the request topic (rpc/<client>)
        if (!sw_topic_level_ok(client, client_len) ||
            (size_t)snprintf(topic, sizeof topic, "%sreply/%.*s", q->base, (int)client_len, client) >= sizeof topic) {
            q->bad++;
            return;
        }
    } else {
        topic[0] = 0; // nowhere to answer: only notifications are served
    }
    bool sealed = false;
#if SW_WITH_AUTH
    sw_mqtt_msg_t opened;
    if (n->locked && topic[0] && q->plain) {
        if (in->len && in->payload[0] == (uint8_t)SW_NOISE_PREAMBLE[0]) { // (0xc1: never a frame's first byte)
            handshake(q, in, topic);
            return;
        }
        req_t *s = req_find(q, topic);
        if (s && s->sealed) {
            // only what the session's key sealed, in order, once: anything else (a third
            // client's forgery, a replay, a duplicate) is dropped and the session goes on
            opened = *in;
            if (sw_noise_msg_open(&s->nz, in->payload, in->len, q->plain, n->lim.max_msg, &opened.len)) {
                q->bad++;
                sw_log(n, SW_LOG_DEBUG, "mqtt: requester %s: dropped a message that failed authentication", topic);
                return;
            }
            opened.payload = q->plain;
            in = &opened;
            sealed = true;
        }
    }
#endif
    sw_msg_t m;
    if (in->len > n->lim.max_msg || sw_msg_decode(&m, in->payload, in->len)) {
#if SW_WITH_AUTH
        if (n->locked && topic[0] && !sealed && in->len && in->payload[0] < 0x80 && q->plain) {
            // frames (a length first) on a reply topic with no session: the node forgot it
            // (idle, restarted); tell the requester to shake hands again rather than let it wait
            reject(q, topic, REJECT_NO_SESSION, in);
            return;
        }
#endif
        q->bad++;
        sw_log(n, SW_LOG_DEBUG, "mqtt: dropped a malformed or oversized request (%u bytes)", (unsigned)in->len);
        return;
    }
    if (!topic[0]) {
        if (m.kind != SW_MSG_NOTIFY)
            q->dropped++;
        return; // (a notification would need a session; none of our commands takes one)
    }
    req_t *r = req_find(q, topic);
    if (m.kind == SW_MSG_CANCEL || m.kind == SW_MSG_NOTIFY) {
        if (r && m.kind == SW_MSG_CANCEL)
            sw_rpc_input(&r->rpc, in->payload, in->len, sw_node_now(n));
        return;
    }
    if (m.kind != SW_MSG_REQUEST) {
        q->bad++;
        return;
    }
    q->requests++;
    if (n->locked && !sealed && !sw_cfg_bool(&n->cfg, "auth.mqtt", false)) {
        // A locked node serves plaintext RPC through the broker only when its owner allows it,
        // as for FTP or telnet.
        q->busy++;
        refuse(q, NULL, topic, m.i, "locked: this node takes RPC over MQTT only authenticated (a host with its key) "
               "or with auth.mqtt true", in);
        return;
    }
    if (!r && !(r = req_new(q, topic))) {
        q->busy++;
        refuse(q, NULL, topic, m.i, "busy: too many requesters (mqtt.requesters)", in);
        return;
    }
    inflight_t *f = fl_find(r, m.i);
    if (!f) {
        if (r->nfl >= q->max_fl || !(f = fl_find(r, 0))) {
            q->busy++;
            refuse(q, r, topic, m.i, "busy: too many requests in flight (mqtt.inflight)", in);
            return;
        }
        r->nfl++;
        sw_timer_stop(n, &r->idle_timer);
    }
    f->seq = m.i;
    f->corr_len = (uint8_t)(in->corr && in->corr_len <= CORR_MAX ? in->corr_len : 0);
    if (f->corr_len)
        memcpy(f->corr, in->corr, f->corr_len);
    r->last_ms = sw_node_now(n);
    sw_rpc_input(&r->rpc, in->payload, in->len, r->last_ms);
    if (r->used) // (a reply may have freed nothing; the session is still there)
        req_schedule(r);
}

static void on_message(void *self, const sw_mqtt_msg_t *in)
{
    mq_t *q = self;
    size_t bl = strlen(q->base);
    if (strncmp(in->topic, q->base, bl))
        return;
    const char *rest = in->topic + bl;
    if (!strcmp(rest, "rpc")) {
        on_rpc(q, in, NULL, 0);
    } else if (!strncmp(rest, "rpc/", 4)) {
        on_rpc(q, in, rest + 4, strlen(rest + 4));
    } else if (!strcmp(rest, "log/listen")) {
        // a lease in seconds (decimal text; empty or unreadable: 60)
        uint32_t s = 0;
        for (size_t i = 0; i < in->len && i < 8 && in->payload[i] >= '0' && in->payload[i] <= '9'; i++)
            s = s * 10 + (uint32_t)(in->payload[i] - '0');
        if (!in->len || !s)
            s = in->len ? 0 : 60;
        if (s > LEASE_MAX_S)
            s = LEASE_MAX_S;
        uint32_t now = sw_node_now(q->n);
        if (s && !q->log_listen)
            q->log_pos = sw_log_end(q->n); // from now on, not the ring's history
        q->log_listen = s > 0;
        q->log_until = now + s * 1000;
        if (q->log_listen)
            sw_timer_start(q->n, &q->log_timer, 0);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// State and log

// Whether two states differ only in "uptime_ms" (which changes every time: republishing for
// it alone would send every node's whole beacon every period to every scanner).
static const char *find(const char *h, size_t hn, const char *k, size_t kn)
{
    for (size_t i = 0; i + kn <= hn; i++)
        if (!memcmp(h + i, k, kn))
            return h + i;
    return NULL;
}

static bool same_state(const char *a, size_t an, const char *b, size_t bn)
{
    static const char key[] = "\"uptime_ms\":";
    const char *ka = find(a, an, key, sizeof key - 1);
    const char *kb = find(b, bn, key, sizeof key - 1);
    if (!ka || !kb)
        return an == bn && !memcmp(a, b, an);
    size_t pa = (size_t)(ka - a) + sizeof key - 1, pb = (size_t)(kb - b) + sizeof key - 1;
    if (pa != pb || memcmp(a, b, pa))
        return false;
    while (pa < an && a[pa] >= '0' && a[pa] <= '9')
        pa++;
    while (pb < bn && b[pb] >= '0' && b[pb] <= '9')
        pb++;
    return an - pa == bn - pb && !memcmp(a + pa, b + pb, an - pa);
}

// The retained state: the beacon JSON with "online": true added, or a minimal object without
// a beacon (BEACON_ENABLE false).
static void state_answer(sw_node_t *n, void *user, const sw_msg_t *m, int err)
{
    mq_t *q = user;
    q->state_call = 0;
    char buf[STATE_MAX];
    int len;
    sw_span_t b = {0};
    sw_mpr_t rd;
    if (!err && m && m->kind == SW_MSG_REPLY && sw_mp_map_get(m->d.p, m->d.n, "beacon", &b) == 0 &&
        (sw_mpr_init(&rd, b.p, b.n), sw_mpr_str(&rd, &b)) && b.n >= 2 && b.n + 16 < sizeof buf &&
        ((const char *)b.p)[b.n - 1] == '}') {
        len = snprintf(buf, sizeof buf, "%.*s,\"online\":true}", (int)(b.n - 1), (const char *)b.p);
    } else {
        len = snprintf(buf, sizeof buf, "{\"online\":true,\"host\":\"%s\"}", n->host_name);
    }
    if (len <= 0 || (size_t)len >= sizeof buf)
        return;
    if (same_state(buf, (size_t)len, q->state, q->state_len))
        return;
    char topic[TOPIC_MAX + 8];
    snprintf(topic, sizeof topic, "%sstate", q->base);
    if (publish(q, topic, buf, (size_t)len, 1, true, NULL, 0) == 0) {
        memcpy(q->state, buf, (size_t)len);
        q->state_len = (size_t)len;
    }
}

static void state_tick(sw_node_t *n, sw_timer_t *t)
{
    mq_t *q = t->user;
    if (!q->up)
        return;
    if (!q->state_call) {
        int64_t seq = sw_node_call(n, "sys.beacon", (sw_span_t){0}, 0, state_answer, q);
        q->state_call = seq > 0 ? seq : 0;
        if (seq <= 0)
            state_answer(n, q, NULL, (int)seq);
    }
    int64_t ms = sw_cfg_int(&n->cfg, "mqtt.state_ms", 5000);
    sw_timer_start(n, t, (uint32_t)(ms < 200 ? 200 : ms > 3600000 ? 3600000 : ms));
}

static void log_tick(sw_node_t *n, sw_timer_t *t)
{
    mq_t *q = t->user;
    uint32_t now = sw_node_now(n);
    if (q->log_listen && (int32_t)(now - q->log_until) >= 0)
        q->log_listen = false;
    if (!q->up || !(q->log_listen || q->log_always))
        return;
    char topic[TOPIC_MAX + 8];
    snprintf(topic, sizeof topic, "%slog", q->base);
    char line[SW_NODE_LOG_LINE + 2];
    uint64_t end = sw_log_end(n);
    for (int k = 0; k < LOG_PUBLISH_MAX && q->log_pos < end; k++) {
        // one line at a time: read up to a line's worth, publish up to its newline
        uint64_t at = q->log_pos;
        size_t got = sw_log_read(n, &at, line, sizeof line - 1);
        if (!got)
            break;
        char *nl = memchr(line, '\n', got);
        size_t len = nl ? (size_t)(nl - line) : got;
        q->log_pos = at - got + len + (nl ? 1 : 0);
        if (at - got > q->log_pos) // (the ring had moved on: at was clamped forward)
            q->log_pos = at;
        if (publish(q, topic, line, len, 0, false, NULL, 0) == 0)
            q->log_lines++;
    }
    sw_timer_start(n, t, LOG_POLL_MS);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Connection

static void connect_now(mq_t *q);

static void retry_fire(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    connect_now(t->user);
}

static void drop_client(mq_t *q)
{
    for (uint16_t i = 0; i < q->max_req; i++)
        if (q->req[i].used)
            req_free(&q->req[i]);
    if (q->cli) {
        q->cli->user = NULL;
        pops(q)->mqtt_close(pctx(q), q->cli);
        q->cli = NULL;
    }
    q->up = false;
    sw_timer_stop(q->n, &q->state_timer);
    sw_timer_stop(q->n, &q->log_timer);
    if (q->state_call)
        sw_node_call_cancel(q->n, q->state_call);
    q->state_call = 0;
}

static void on_state(void *self, bool up, int err)
{
    mq_t *q = self;
    sw_node_t *n = q->n;
    if (up) {
        q->up = true;
        q->connects++;
        q->backoff_ms = 0;
        q->state_len = 0;
        sw_log(n, SW_LOG_INFO, "mqtt: connected to %s:%u as %s", q->host, (unsigned)q->port, n->host_name);
        char t[TOPIC_MAX + 16];
        const char *subs[] = {"rpc", "rpc/+", "log/listen"};
        for (size_t i = 0; i < 3; i++) {
            snprintf(t, sizeof t, "%s%s", q->base, subs[i]);
            pops(q)->mqtt_subscribe(pctx(q), q->cli, t, 1);
        }
        sw_timer_start(n, &q->state_timer, 0);
        if (q->log_always)
            sw_timer_start(n, &q->log_timer, 0);
        return;
    }
    if (q->up)
        q->losses++;
    drop_client(q);
    // back-off: 1 s, doubling to 60 s, with up to a quarter of jitter (a fleet that lost its
    // broker does not come back all at once)
    uint32_t b = q->backoff_ms ? q->backoff_ms * 2 : 1000;
    q->backoff_ms = b > 60000 ? 60000 : b;
    uint16_t r;
    pops(q)->random(pctx(q), &r, sizeof r);
    uint32_t wait = q->backoff_ms + r % (q->backoff_ms / 4 + 1);
    sw_log(n, SW_LOG_WARN, "mqtt: %s:%u: %s; again in %u ms", q->host, (unsigned)q->port,
           err ? sw_strerror(err) : "connection lost", (unsigned)wait);
    sw_timer_start(n, &q->retry, wait);
}

static const sw_mqtt_ops_t mq_ops = {on_state, on_message};

static void cfg_text(sw_node_t *n, const char *key, char *buf, size_t cap)
{
    sw_span_t s;
    sw_cfg_str(&n->cfg, key, "", &s);
    snprintf(buf, cap, "%.*s", (int)(s.n < cap ? s.n : cap - 1), (const char *)s.p);
}

static void connect_now(mq_t *q)
{
    sw_node_t *n = q->n;
    char fleet[64], user[128], pass[128], cafile[256], will_topic[TOPIC_MAX + 8], will[200];
    cfg_text(n, "mqtt.fleet", fleet, sizeof fleet);
    cfg_text(n, "mqtt.username", user, sizeof user);
    cfg_text(n, "mqtt.password", pass, sizeof pass);
    cfg_text(n, "mqtt.cafile", cafile, sizeof cafile);
    snprintf(will_topic, sizeof will_topic, "%sstate", q->base);
    int wl = snprintf(will, sizeof will, "{\"online\":false,\"host\":\"%s\"}", n->host_name);
    sw_mqtt_opts_t o = {
        .host = q->host,
        .port = q->port,
        .client_id = n->host_name,
        .username = user[0] ? user : NULL,
        .password = pass[0] ? pass : NULL,
        .tls = q->tls,
        .cafile = cafile[0] ? cafile : NULL,
        .tls_insecure = sw_cfg_bool(&n->cfg, "mqtt.insecure", false),
        .keepalive_s = (uint16_t)sw_cfg_int(&n->cfg, "mqtt.keepalive", 30),
        .v5 = sw_cfg_bool(&n->cfg, "mqtt.v5", true),
        .will_topic = will_topic,
        .will = will,
        .will_len = (size_t)wl,
    };
    if (o.keepalive_s < 5)
        o.keepalive_s = 5;
    sw_mqtt_t *m = NULL;
    int rc = pops(q)->mqtt_open(pctx(q), &o, &m);
    if (rc) {
        q->cli = NULL;
        on_state(q, false, rc);
        return;
    }
    q->cli = m;
    m->user = q;
}

// mqtt://host[:port] or mqtts://host[:port] (a trailing '/' is allowed). 0 or SW_EINVAL.
static int parse_url(mq_t *q, const char *u)
{
    size_t sl;
    if (!strncmp(u, "mqtt://", 7))
        sl = 7, q->tls = false, q->port = 1883;
    else if (!strncmp(u, "mqtts://", 8))
        sl = 8, q->tls = true, q->port = 8883;
    else
        return SW_EINVAL;
    const char *h = u + sl;
    size_t hl = strcspn(h, ":/");
    if (!hl || hl >= sizeof q->host)
        return SW_EINVAL;
    memcpy(q->host, h, hl);
    q->host[hl] = 0;
    const char *p = h + hl;
    if (*p == ':') {
        uint32_t v = 0;
        size_t k = 0;
        for (p++; *p >= '0' && *p <= '9' && k < 6; p++, k++)
            v = v * 10 + (uint32_t)(*p - '0');
        if (!k || !v || v > 65535)
            return SW_EINVAL;
        q->port = (uint16_t)v;
    }
    if (*p == '/')
        p++;
    return *p ? SW_EINVAL : 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The part

static int cmd_status(sw_call_t *c)
{
    mq_t *q = ((sw_node_t *)c->ctx)->mqtt;
    sw_mpw_t *w = c->out;
    if (!q) {
        sw_mpw_map(w, 1);
        sw_mpw_cstr(w, "enabled"), sw_mpw_bool(w, false);
        return 0;
    }
    uint16_t reqs = 0;
    for (uint16_t i = 0; i < q->max_req; i++)
        reqs += q->req[i].used;
    sw_mpw_map(w, 13);
    sw_mpw_cstr(w, "enabled"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "connected"), sw_mpw_bool(w, q->up);
    sw_mpw_cstr(w, "base"), sw_mpw_cstr(w, q->base);
    sw_mpw_cstr(w, "connects"), sw_mpw_uint(w, q->connects);
    sw_mpw_cstr(w, "losses"), sw_mpw_uint(w, q->losses);
    sw_mpw_cstr(w, "requesters"), sw_mpw_uint(w, reqs);
    sw_mpw_cstr(w, "requests"), sw_mpw_uint(w, q->requests);
    sw_mpw_cstr(w, "busy"), sw_mpw_uint(w, q->busy);
    sw_mpw_cstr(w, "dropped"), sw_mpw_uint(w, q->dropped);
    sw_mpw_cstr(w, "bad"), sw_mpw_uint(w, q->bad);
    sw_mpw_cstr(w, "log_lines"), sw_mpw_uint(w, q->log_lines);
    sw_mpw_cstr(w, "log_listening"), sw_mpw_bool(w, q->log_listen || q->log_always);
    sw_mpw_cstr(w, "backoff_ms"), sw_mpw_uint(w, q->backoff_ms);
    return 0;
}

static const sw_cmd_def_t status_cmd = {"status", NULL, "MQTT: connection and counters", cmd_status, NULL};

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static int mqtt_serve(sw_node_t *n)
{
    char url[300];
    cfg_text(n, "mqtt.url", url, sizeof url);
    if (!url[0])
        return 0; // no broker configured: the part stays idle
    if (!n->port.ops->mqtt_open) {
        sw_log(n, SW_LOG_WARN, "mqtt: this platform has no MQTT client; mqtt.url ignored");
        return 0;
    }
    mq_t *q = sw_node_alloc(n, sizeof *q);
    if (!q)
        return SW_EFULL;
    q->ops = &mq_ops;
    q->n = n;
    if (parse_url(q, url)) {
        sw_log(n, SW_LOG_ERROR, "mqtt: mqtt.url '%s' is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", url);
        sw_node_release(n, q, sizeof *q);
        return SW_EINVAL;
    }
    char fleet[64];
    cfg_text(n, "mqtt.fleet", fleet, sizeof fleet);
    if (!fleet[0])
        snprintf(fleet, sizeof fleet, "default");
    if (!sw_topic_level_ok(fleet, strlen(fleet)) ||
        !sw_topic_level_ok(n->host_name, strlen(n->host_name))) {
        sw_log(n, SW_LOG_ERROR, "mqtt: fleet '%s' or host name '%s' cannot be a topic level "
               "(no '/', '+', '#')", fleet, n->host_name);
        sw_node_release(n, q, sizeof *q);
        return SW_EINVAL;
    }
    snprintf(q->base, sizeof q->base, "swarm/%s/%s/", fleet, n->host_name);
    q->max_req = (uint16_t)clampi(sw_cfg_int(&n->cfg, "mqtt.requesters", 16), 1, REQ_MAX);
    q->max_fl = (uint16_t)clampi(sw_cfg_int(&n->cfg, "mqtt.inflight", 16), 1, INFLIGHT_MAX);
    q->idle_ms = (uint32_t)clampi(sw_cfg_int(&n->cfg, "mqtt.idle_ms", 60000), 0, 86400000);
    q->log_always = sw_cfg_bool(&n->cfg, "mqtt.log", false);
    q->log_pos = sw_log_end(n);
    q->req = sw_node_alloc(n, sizeof(req_t) * q->max_req);
    if (!q->req) {
        sw_node_release(n, q, sizeof *q);
        return SW_EFULL;
    }
#if SW_WITH_AUTH
    if (n->locked) {
        q->sealed_cap = sw_noise_msg_size(n->lim.max_msg);
        q->plain = sw_node_alloc(n, n->lim.max_msg + q->sealed_cap);
        if (!q->plain) {
            sw_node_release(n, q->req, sizeof(req_t) * q->max_req);
            sw_node_release(n, q, sizeof *q);
            return SW_EFULL;
        }
        q->sealed = q->plain + n->lim.max_msg;
    }
#endif
    q->retry.fn = retry_fire, q->retry.user = q;
    q->state_timer.fn = state_tick, q->state_timer.user = q;
    q->log_timer.fn = log_tick, q->log_timer.user = q;
    n->mqtt = q;
    connect_now(q);
    return 0;
}

static void mqtt_stop(sw_node_t *n)
{
    mq_t *q = n->mqtt;
    if (!q)
        return;
    if (q->up) { // an orderly stop sends no last will: say offline ourselves
        char topic[TOPIC_MAX + 8], st[200];
        snprintf(topic, sizeof topic, "%sstate", q->base);
        int len = snprintf(st, sizeof st, "{\"online\":false,\"host\":\"%s\"}", n->host_name);
        publish(q, topic, st, (size_t)len, 1, true, NULL, 0);
    }
    drop_client(q);
    sw_timer_stop(n, &q->retry);
    sw_node_release(n, q->req, sizeof(req_t) * q->max_req);
    if (q->plain)
        sw_node_release(n, q->plain, n->lim.max_msg + q->sealed_cap);
    sw_node_release(n, q, sizeof *q);
    n->mqtt = NULL;
}

// An app (re)started, e.g. after a push: its hash is in the state, which scanners and the next
// push read; publish it now rather than at the next period.
static void mqtt_app_event(sw_node_t *n, int ev, const char *app, const char *detail)
{
    (void)app, (void)detail;
    if (n->mqtt && n->mqtt->up && ev == SW_APP_EV_READY)
        sw_timer_start(n, &n->mqtt->state_timer, 0);
}

// Deferred replies of requester sessions (sw_node_reply_live).
static bool mqtt_session_live(const sw_node_t *n, const sw_rpc_t *rpc)
{
    const mq_t *q = n->mqtt;
    if (!q)
        return false;
    for (uint16_t i = 0; i < q->max_req; i++)
        if (q->req[i].used && &q->req[i].rpc == rpc)
            return true;
    return false;
}

static const sw_part_cmds_t mqtt_group = {"mqtt", "the MQTT fleet bus (docs/PROTOCOL.md, MQTT)", &status_cmd, 1};

const sw_part_t sw_part_mqtt = {
    .name = "mqtt",
    .serve = mqtt_serve,
    .stop = mqtt_stop,
    .app_event = mqtt_app_event,
    .session_live = mqtt_session_live,
    .cmds = &mqtt_group,
    .ncmds = 1,
};

#endif // SW_WITH_MQTT
