// An MQTT client on a libuv loop (uvmq.h): libmosquitto driven by the loop, no thread. Used by
// the POSIX port (port.h, mqtt_*) and by the host's mqtt:// links. The client's socket is watched with a uv_poll (readable always, writable while
// libmosquitto has bytes to send) that calls mosquitto_loop_read/write; a 1 s timer calls
// mosquitto_loop_misc (keep-alive PINGREQ, the broker's silence). Events reach the owner only
// from the loop's own callbacks: a connection lost inside a call the owner made (a publish
// that failed) is reported from a zero timer, and a client is freed only after its handles
// have closed, never inside libmosquitto's callbacks.
//
// A broker given by name is looked up on a thread of its own, then libmosquitto connects to
// the address: its own look-up is a blocking getaddrinfo on the loop, which an unreachable DNS
// server stalls for the resolver's whole timeout, at every reconnect. Not libuv's thread pool
// (uv_getaddrinfo): its request would keep the loop from ending until the look-up gave up, so
// a node could not stop or restart meanwhile; a detached thread is simply left to finish. Only
// with TLS does libmosquitto get the name itself (it checks the certificate against it), and
// looks it up blocking as before.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvmq.h"

#define MISC_MS 1000

typedef struct sw_uvmq {
    sw_uvmq_cbs_t cbs;
    uv_loop_t *loop;
    struct mosquitto *m;
    uv_poll_t poll;
    uv_timer_t timer;   // loop_misc, and deferred "down" reports
    uv_async_t async;   // the look-up's answer (open while lk is out)
    struct lookup *lk;  // the broker's name being looked up, or NULL
    int port, keepalive;
    int fd;
    int events;         // UV_* the poll watches
    int handles;        // open uv handles; freed at 0
    bool up, down, closing, down_due;
    int down_err;
    uint32_t unsent;    // published, not yet written (QoS 0) or acknowledged (QoS 1)
} sw_uvmq_t;

// Messages a client may have published and not yet seen written or acknowledged: libmosquitto
// queues without a bound of its own, so a peer that stops reading (a broker, and behind it a
// requester of a fast stream) must not grow the queue without end.
#define UNSENT_MAX 1024

static bool lib_ready;

static int mosq_err(int rc)
{
    switch (rc) {
    case MOSQ_ERR_SUCCESS: return 0;
    case MOSQ_ERR_NOMEM: return SW_EFULL;
    case MOSQ_ERR_NO_CONN: case MOSQ_ERR_CONN_LOST: return SW_ECLOSED;
    case MOSQ_ERR_CONN_REFUSED: case MOSQ_ERR_AUTH: case MOSQ_ERR_NOT_SUPPORTED: return SW_EPERM;
    case MOSQ_ERR_ERRNO: return errno == ECONNREFUSED ? SW_ECLOSED : errno == ETIMEDOUT ? SW_ETIMEDOUT : SW_EIO;
    case MOSQ_ERR_PAYLOAD_SIZE: case MOSQ_ERR_OVERSIZE_PACKET: return SW_ETOOBIG;
    case MOSQ_ERR_TLS: case MOSQ_ERR_TLS_HANDSHAKE: return SW_EAUTH;
    case MOSQ_ERR_EAI: return SW_ENOENT;
    default: return SW_EINVAL;
    }
}

static void on_timer(uv_timer_t *t);

static void report_down(sw_uvmq_t *c, int err)
{
    if (c->down || c->closing)
        return;
    c->down = true;
    c->up = false;
    c->cbs.state(c->cbs.u, false, err ? err : SW_ECLOSED);
}

// From inside a call made into us: report on the next loop turn.
static void defer_down(sw_uvmq_t *c, int err)
{
    if (c->down || c->closing || c->down_due)
        return;
    c->down_due = true;
    c->down_err = err;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_start(sw_uvmq_t *c, int ev)
{
    c->events = ev;
    uv_poll_start(&c->poll, ev, on_poll);
}

// Watches for writability while libmosquitto has bytes queued.
static void watch(sw_uvmq_t *c)
{
    if (c->closing || c->fd < 0)
        return;
    int ev = UV_READABLE | (mosquitto_want_write(c->m) ? UV_WRITABLE : 0);
    if (ev != c->events)
        poll_start(c, ev);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sw_uvmq_t *c = h->data;
    if (c->closing)
        return;
    int rc = MOSQ_ERR_SUCCESS;
    if (status < 0)
        rc = MOSQ_ERR_CONN_LOST;
    if (!rc && (events & UV_WRITABLE))
        rc = mosquitto_loop_write(c->m, 1);
    if (!rc && !c->closing && (events & UV_READABLE))
        rc = mosquitto_loop_read(c->m, 1);
    if (c->closing)
        return;
    if (rc) {
        report_down(c, mosq_err(rc));
        return;
    }
    watch(c);
}

static void on_timer(uv_timer_t *t)
{
    sw_uvmq_t *c = t->data;
    if (c->closing)
        return;
    if (c->down_due) {
        c->down_due = false;
        report_down(c, c->down_err);
        return;
    }
    int rc = mosquitto_loop_misc(c->m);
    if (rc && rc != MOSQ_ERR_NO_CONN) {
        report_down(c, mosq_err(rc));
        return;
    }
    if (rc == MOSQ_ERR_NO_CONN && !c->down) { // the keep-alive ran out: libmosquitto closed it
        report_down(c, SW_ETIMEDOUT);
        return;
    }
    watch(c);
    uv_timer_start(&c->timer, on_timer, MISC_MS, 0);
}

// libmosquitto's callbacks: they run inside loop_read/loop_write, i.e. from on_poll.
static void cb_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
    (void)m, (void)flags, (void)props;
    sw_uvmq_t *c = obj;
    if (c->closing)
        return;
    if (rc) {
        report_down(c, rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED ||
                               rc == CONNACK_REFUSED_BAD_USERNAME_PASSWORD || rc == CONNACK_REFUSED_NOT_AUTHORIZED
                           ? SW_EAUTH
                           : SW_EPERM);
        return;
    }
    c->up = true;
    c->cbs.state(c->cbs.u, true, 0);
}

static void cb_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
    (void)m, (void)props;
    defer_down(obj, rc ? SW_ECLOSED : 0);
}

static void cb_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)m;
    sw_uvmq_t *c = obj;
    if (c->closing || !msg->topic)
        return;
    char *rt = NULL;
    void *corr = NULL;
    uint16_t corr_len = 0;
    mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &rt, false);
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
    sw_mqtt_msg_t in = {
        .topic = msg->topic,
        .payload = msg->payload,
        .len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0,
        .response_topic = rt,
        .corr = corr,
        .corr_len = corr_len,
        .retained = msg->retain,
    };
    c->cbs.message(c->cbs.u, &in);
    free(rt);
    free(corr);
}

static void cb_publish(struct mosquitto *m, void *obj, int mid, int rc, const mosquitto_property *props)
{
    (void)m, (void)mid, (void)rc, (void)props;
    sw_uvmq_t *c = obj;
    if (c->unsent)
        c->unsent--;
}

static void handle_closed(uv_handle_t *h)
{
    sw_uvmq_t *c = h->data;
    if (--c->handles == 0) {
        // Here, not in sw_uvmq_close(): that may run inside one of libmosquitto's callbacks,
        // where its locks are held. DISCONNECT after what is queued (best effort: what the
        // socket takes now), so the broker publishes no last will.
        if (c->up && !c->down) {
            mosquitto_disconnect_v5(c->m, 0, NULL);
            for (int i = 0; i < 64 && mosquitto_want_write(c->m); i++)
                if (mosquitto_loop_write(c->m, 1))
                    break;
        }
        mosquitto_destroy(c->m); // closes the socket, after the poll stopped watching it
        free(c);
    }
}

static void lookup_abandon(sw_uvmq_t *c);

static void close_handles(sw_uvmq_t *c)
{
    lookup_abandon(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    if (c->fd >= 0) {
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *)&c->poll, handle_closed);
    }
}

static void connect_to(sw_uvmq_t *c, const char *host);
static int lookup_start(sw_uvmq_t *c, const char *host);

int sw_uvmq_open(uv_loop_t *loop, const sw_mqtt_opts_t *o, const sw_uvmq_cbs_t *cbs, sw_uvmq_t **out)
{
    if (!lib_ready) {
        mosquitto_lib_init();
        lib_ready = true;
    }
    sw_uvmq_t *c = calloc(1, sizeof *c);
    if (!c)
        return SW_EFULL;
    c->loop = loop;
    c->cbs = *cbs;
    c->fd = -1;
    c->m = mosquitto_new(o->client_id, true, c);
    if (!c->m) {
        free(c);
        return SW_EFULL;
    }
    int rc = mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, o->v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    // every message is one small packet the peer waits for: Nagle's algorithm would hold it
    // until the broker's delayed ACK (tens of ms per round trip)
    if (!rc)
        rc = mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    if (!rc && (o->username || o->password))
        rc = mosquitto_username_pw_set(c->m, o->username, o->password);
    if (!rc && o->tls) {
        // no CA file: the system's store (libmosquitto wants a file or a directory)
        rc = mosquitto_tls_set(c->m, o->cafile, o->cafile ? NULL : "/etc/ssl/certs", NULL, NULL, NULL);
        if (!rc && o->tls_insecure)
            rc = mosquitto_tls_insecure_set(c->m, true);
    }
    if (!rc && o->will_topic)
        rc = mosquitto_will_set_v5(c->m, o->will_topic, (int)o->will_len, o->will, 1, true, NULL);
    if (rc) {
        mosquitto_destroy(c->m);
        free(c);
        return mosq_err(rc);
    }
    mosquitto_connect_v5_callback_set(c->m, cb_connect);
    mosquitto_disconnect_v5_callback_set(c->m, cb_disconnect);
    mosquitto_message_v5_callback_set(c->m, cb_message);
    mosquitto_publish_v5_callback_set(c->m, cb_publish);
    // no in-flight window of libmosquitto's own (whose overflow it would queue without bound):
    // UNSENT_MAX is the bound
    mosquitto_max_inflight_messages_set(c->m, 0);
    uv_timer_init(c->loop, &c->timer);
    c->timer.data = c;
    c->handles = 1;
    c->port = o->port;
    c->keepalive = o->keepalive_s;
    *out = c;
    unsigned char any[sizeof(struct in6_addr)];
    if (o->tls || inet_pton(AF_INET, o->host, any) == 1 || inet_pton(AF_INET6, o->host, any) == 1) {
        connect_to(c, o->host); // an address (or TLS: libmosquitto needs the name, blocking)
        return 0;
    }
    int err = lookup_start(c, o->host);
    if (err)
        defer_down(c, err);
    return 0;
}

// Connects to host (an address, or a name libmosquitto looks up itself) and starts watching.
// A refused connect is reported like a lost connection, from the loop.
static void connect_to(sw_uvmq_t *c, const char *host)
{
    int rc = mosquitto_connect_async(c->m, host, c->port, c->keepalive);
    if (rc == MOSQ_ERR_SUCCESS) {
        c->fd = mosquitto_socket(c->m);
        if (c->fd >= 0 && uv_poll_init_socket(c->loop, &c->poll, c->fd) == 0) {
            c->handles++;
            c->poll.data = c;
            // writable: the TCP connect completes and the CONNECT packet goes
            poll_start(c, UV_READABLE | UV_WRITABLE);
        } else {
            c->fd = -1;
            rc = MOSQ_ERR_ERRNO;
        }
    }
    if (rc)
        defer_down(c, mosq_err(rc));
    else
        uv_timer_start(&c->timer, on_timer, MISC_MS, 0);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The look-up of a broker's name (see the top of the file)

typedef struct lookup {
    pthread_mutex_t mu;
    int refs;           // the thread's and the client's
    bool abandoned;     // the client closed: nobody to tell (async is gone)
    uv_async_t *async;  // the client's, while not abandoned
    char host[256], port[8];
    char addr[INET6_ADDRSTRLEN]; // the answer: an address, or "" (no such name, no answer)
} lookup_t;

static void lookup_drop(lookup_t *lk)
{
    pthread_mutex_lock(&lk->mu);
    bool last = --lk->refs == 0;
    pthread_mutex_unlock(&lk->mu);
    if (last) {
        pthread_mutex_destroy(&lk->mu);
        free(lk);
    }
}

static void *lookup_run(void *arg)
{
    lookup_t *lk = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char addr[INET6_ADDRSTRLEN] = "";
    if (getaddrinfo(lk->host, lk->port, &hints, &res) == 0 && res) {
        const void *a = res->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                                   : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        if (!inet_ntop(res->ai_family, a, addr, sizeof addr))
            addr[0] = 0;
    }
    if (res)
        freeaddrinfo(res);
    pthread_mutex_lock(&lk->mu);
    memcpy(lk->addr, addr, sizeof addr);
    if (!lk->abandoned)
        uv_async_send(lk->async);
    pthread_mutex_unlock(&lk->mu);
    lookup_drop(lk);
    return NULL;
}

static void on_looked_up(uv_async_t *a)
{
    sw_uvmq_t *c = a->data;
    lookup_t *lk = c->lk;
    if (!lk || c->closing)
        return;
    char addr[INET6_ADDRSTRLEN];
    pthread_mutex_lock(&lk->mu);
    memcpy(addr, lk->addr, sizeof addr);
    pthread_mutex_unlock(&lk->mu);
    lookup_abandon(c); // done with it (closes the async handle)
    if (addr[0])
        connect_to(c, addr);
    else // no such name, or no answer: as libmosquitto's own look-up failing (MOSQ_ERR_EAI)
        report_down(c, SW_ENOENT);
}

// Starts looking host up on a detached thread. 0, or SW_EFULL.
static int lookup_start(sw_uvmq_t *c, const char *host)
{
    lookup_t *lk = calloc(1, sizeof *lk);
    if (!lk)
        return SW_EFULL;
    if (strlen(host) >= sizeof lk->host) {
        free(lk);
        return SW_ENOENT; // longer than any DNS name
    }
    pthread_mutex_init(&lk->mu, NULL);
    lk->refs = 2;
    snprintf(lk->host, sizeof lk->host, "%s", host);
    snprintf(lk->port, sizeof lk->port, "%u", (unsigned)c->port);
    if (uv_async_init(c->loop, &c->async, on_looked_up)) {
        pthread_mutex_destroy(&lk->mu);
        free(lk);
        return SW_EFULL;
    }
    c->async.data = c;
    c->handles++;
    lk->async = &c->async;
    c->lk = lk;
    pthread_attr_t at;
    pthread_t t;
    int rc = pthread_attr_init(&at);
    if (!rc) {
        (void)pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &at, lookup_run, lk);
        pthread_attr_destroy(&at);
    }
    if (rc) {
        lookup_drop(lk); // the thread's reference: it never ran
        lookup_abandon(c);
        return SW_EFULL;
    }
    return 0;
}

// The client no longer waits for its look-up (answered, or closing): the thread, if still
// running, finishes alone and frees it.
static void lookup_abandon(sw_uvmq_t *c)
{
    lookup_t *lk = c->lk;
    if (!lk)
        return;
    c->lk = NULL;
    pthread_mutex_lock(&lk->mu);
    lk->abandoned = true;
    pthread_mutex_unlock(&lk->mu);
    lookup_drop(lk);
    uv_close((uv_handle_t *)&c->async, handle_closed);
}

int sw_uvmq_subscribe(sw_uvmq_t *c, const char *filter, int qos)
{
    if (!c->up || c->closing)
        return SW_ECLOSED;
    int rc = mosquitto_subscribe_v5(c->m, NULL, filter, qos, 0, NULL);
    if (rc)
        defer_down(c, mosq_err(rc));
    watch(c);
    return mosq_err(rc);
}

int sw_uvmq_publish(sw_uvmq_t *c, const char *topic, const void *p, size_t n, int qos, bool retain,
                    const void *corr, size_t corr_len)
{
    if (!c->up || c->closing)
        return SW_ECLOSED;
    if (n > INT32_MAX)
        return SW_ETOOBIG;
    if (c->unsent >= UNSENT_MAX)
        return SW_EFULL;
    mosquitto_property *props = NULL;
    if (corr && corr_len && corr_len <= UINT16_MAX &&
        mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, corr, (uint16_t)corr_len))
        return SW_EFULL;
    int rc = mosquitto_publish_v5(c->m, NULL, topic, (int)n, p, qos, retain, props);
    mosquitto_property_free_all(&props);
    if (rc == MOSQ_ERR_SUCCESS)
        c->unsent++;
    if (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_ERRNO)
        defer_down(c, mosq_err(rc));
    watch(c);
    return mosq_err(rc);
}

bool sw_uvmq_busy(const sw_uvmq_t *c)
{
    return mosquitto_want_write(c->m);
}

void sw_uvmq_close(sw_uvmq_t *c)
{
    if (c->closing)
        return;
    c->closing = true; // (the DISCONNECT goes once the handles have closed: handle_closed)
    close_handles(c);
}
