// swarm dashboard: a broker as a source of nodes (sw_dash_source_t). Subscribes to the
// retained states swarm/FLEET/+/state (docs/PROTOCOL.md, MQTT) on the dashboard's own loop and
// hands each one to the node table as `swarm scan --broker` reads it (sw_scan_broker_state):
// an online state is the node's beacon, listed with the mqtt:// link that reaches it; a last
// will turns the node offline at once. A lost broker is tried again every RETRY_MS; its nodes
// show offline meanwhile (their states, retained, bring them back when it returns).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dash_mqtt.h"
#include "hlink.h"
#include "scan.h"
#include "swarm/sw.h"
#include "user_config.h"

#if SW_HOST_MQTT
#include "uvmq.h"

#define RETRY_MS 2000

struct sw_dash_mqtt {
    char url[320];
    sw_uri_t u;
    char broker[300]; // mqtt://BROKER:PORT, the start of every node's link
    uv_loop_t *loop;
    uv_timer_t retry;
    bool timer_on;
    sw_uvmq_t *mq;
    sw_dash_found_fn found;
    void *dash;
    bool quiet;
    bool said_down; // the loss was told once (not at every retry)
    // the hosts (FLEET/HOST) heard online on this broker: offline when the broker is lost —
    // nobody can tell then, and their last wills cannot arrive. At most SW_DASH_NODES_MAX.
    char (*heard)[128];
    size_t n_heard;
};

// Remembers r's node as heard online (once).
static void heard_add(sw_dash_mqtt_t *m, const sw_scan_rec_t *r)
{
    const char *fh = r->link + strlen(m->broker) + 1; // the link is BROKER/FLEET/HOST
    if (strlen(r->link) <= strlen(m->broker) + 1 || strlen(fh) >= sizeof m->heard[0])
        return;
    for (size_t i = 0; i < m->n_heard; i++)
        if (!strcmp(m->heard[i], fh))
            return;
    if (m->n_heard >= SW_DASH_NODES_MAX)
        return;
    if (!(m->n_heard & (m->n_heard + 1))) { // grow at 0, 1, 3, 7, …
        char(*nh)[128] = realloc(m->heard, (2 * m->n_heard + 2) * sizeof *nh);
        if (!nh)
            return;
        m->heard = nh;
    }
    snprintf(m->heard[m->n_heard++], sizeof m->heard[0], "%s", fh);
}

// The broker is gone: every node heard through it is offline until its state comes again.
static void heard_lost(sw_dash_mqtt_t *m)
{
    for (size_t i = 0; i < m->n_heard; i++) {
        sw_scan_rec_t r;
        memset(&r, 0, sizeof r);
        const char *h = strchr(m->heard[i], '/');
        snprintf(r.host, sizeof r.host, "%s", h ? h + 1 : m->heard[i]);
        snprintf(r.link, sizeof r.link, "%s/%s", m->broker, m->heard[i]);
        r.swarm = r.offline = true;
        m->found(m->dash, &r);
    }
    m->n_heard = 0;
}

static void connect_now(sw_dash_mqtt_t *m);

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void on_state(void *u, bool up, int err)
{
    sw_dash_mqtt_t *m = u;
    if (up) {
        char filter[128];
        snprintf(filter, sizeof filter, "swarm/%s/+/state", m->u.fleet[0] ? m->u.fleet : "+");
        if (sw_uvmq_subscribe(m->mq, filter, 0) && !m->quiet)
            fprintf(stderr, "swarm dashboard: %s: cannot subscribe to %s\n", m->broker, filter);
        m->said_down = false;
        return;
    }
    if (!m->quiet && !m->said_down)
        fprintf(stderr, "swarm dashboard: %s: %s; trying again every %u s\n", m->broker,
                err == SW_EAUTH ? "refused (credentials or TLS: [mqtt] username, password, cafile in "
                                  "the user config)"
                                : sw_strerror(err),
                RETRY_MS / 1000);
    m->said_down = true;
    heard_lost(m);
    sw_uvmq_close(m->mq);
    m->mq = NULL;
    uv_timer_start(&m->retry, on_retry, RETRY_MS, 0);
}

static void on_message(void *u, const sw_mqtt_msg_t *msg)
{
    sw_dash_mqtt_t *m = u;
    sw_scan_result_t res = {0};
    if (sw_scan_broker_state(m->broker, msg->topic, msg->payload, msg->len, 0, &res) == 0 && res.n) {
        if (!res.recs[0].offline)
            heard_add(m, &res.recs[0]);
        m->found(m->dash, &res.recs[0]);
    }
    sw_scan_result_free(&res);
}

static void connect_now(sw_dash_mqtt_t *m)
{
    char user[128] = "", pass[128] = "", cafile[256] = "", cid[48];
    sw_config_get("mqtt", "username", user, sizeof user);
    sw_config_get("mqtt", "password", pass, sizeof pass);
    sw_config_get("mqtt", "cafile", cafile, sizeof cafile);
    uint8_t r[6];
    uv_random(NULL, NULL, r, sizeof r, 0, NULL);
    snprintf(cid, sizeof cid, "swarm-dash-%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), r[0], r[1], r[2],
             r[3], r[4], r[5]);
    sw_mqtt_opts_t mo = {
        .host = m->u.host, .port = m->u.port, .client_id = cid,
        .username = user[0] ? user : NULL, .password = pass[0] ? pass : NULL,
        .tls = m->u.tls, .cafile = cafile[0] ? cafile : NULL, .keepalive_s = 30, .v5 = false,
    };
    sw_uvmq_cbs_t cbs = {on_state, on_message, m};
    if (sw_uvmq_open(m->loop, &mo, &cbs, &m->mq)) {
        m->mq = NULL;
        uv_timer_start(&m->retry, on_retry, RETRY_MS, 0);
    }
}

static int start(void *u, void *loop, sw_dash_found_fn found, void *dash, char *err, size_t errcap)
{
    (void)err, (void)errcap; // checked by sw_dash_mqtt_new
    sw_dash_mqtt_t *m = u;
    m->loop = loop;
    m->found = found;
    m->dash = dash;
    uv_timer_init(m->loop, &m->retry);
    m->retry.data = m;
    m->timer_on = true;
    connect_now(m);
    return 0;
}

static void stop(void *u)
{
    sw_dash_mqtt_t *m = u;
    if (m->mq)
        sw_uvmq_close(m->mq);
    m->mq = NULL;
    if (m->timer_on)
        uv_close((uv_handle_t *)&m->retry, NULL);
    m->timer_on = false;
}

int sw_dash_mqtt_new(const char *url, bool quiet, sw_dash_mqtt_t **out, sw_dash_source_t *src, char *err,
                     size_t errcap)
{
    sw_dash_mqtt_t *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    int rc = sw_uri_parse(url, &m->u, err, errcap);
    if (!rc && m->u.kind != SW_URI_MQTT) {
        snprintf(err, errcap, "'%s' is not a broker (use mqtt://BROKER[:PORT][/FLEET])", url);
        rc = SW_EINVAL;
    }
    if (!rc && m->u.node[0]) {
        snprintf(err, errcap, "'%s' names a node: --broker takes mqtt://BROKER[:PORT][/FLEET]", url);
        rc = SW_EINVAL;
    }
    if (rc) {
        free(m);
        return rc;
    }
    snprintf(m->url, sizeof m->url, "%s", url);
    sw_uri_t bu = m->u;
    bu.fleet[0] = bu.node[0] = 0;
    sw_uri_format(&bu, m->broker, sizeof m->broker);
    m->quiet = quiet;
    *src = (sw_dash_source_t){.name = m->url, .start = start, .stop = stop, .u = m};
    *out = m;
    return 0;
}

#else

struct sw_dash_mqtt {
    int unused;
};

int sw_dash_mqtt_new(const char *url, bool quiet, sw_dash_mqtt_t **out, sw_dash_source_t *src, char *err,
                     size_t errcap)
{
    (void)url, (void)quiet, (void)out, (void)src;
    snprintf(err, errcap, "this swarm was built without MQTT (-DSW_MQTT=OFF): no --broker");
    return SW_ENOTSUP;
}

#endif

void sw_dash_mqtt_free(sw_dash_mqtt_t *m)
{
#if SW_HOST_MQTT
    if (m)
        free(m->heard);
#endif
    free(m);
}
