// `swarm scan --broker`: the nodes of a fleet from the retained states on an MQTT broker
// (docs/PROTOCOL.md, MQTT). Subscribes to swarm/FLEET/+/state, then to a topic of its own and
// publishes one message there: the broker sends a client's messages in order, so the marker
// arrives after every retained state (all at QoS 0: nothing is held back by an in-flight
// window), and the scan is complete without waiting for a quiet period.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "hlink.h"
#include "scan.h"
#include "user_config.h"

#define BROKER_TIMEOUT_MS 5000

static int add_rec(sw_scan_result_t *res, sw_scan_rec_t **out)
{
    if (res->n == res->cap) {
        size_t cap = res->cap ? 2 * res->cap : 64;
        sw_scan_rec_t *r = realloc(res->recs, cap * sizeof *r);
        if (!r)
            return SW_EFULL;
        res->recs = r;
        res->cap = cap;
    }
    *out = &res->recs[res->n];
    memset(*out, 0, sizeof **out);
    return 0;
}

// "swarm/F/H/state" → F and H (each one topic level).
static bool split_topic(const char *t, char *fleet, size_t fcap, char *host, size_t hcap)
{
    if (strncmp(t, "swarm/", 6))
        return false;
    const char *f = t + 6, *h = strchr(f, '/');
    if (!h || (size_t)(h - f) >= fcap || h == f)
        return false;
    const char *e = strchr(h + 1, '/');
    if (!e || strcmp(e, "/state") || (size_t)(e - h - 1) >= hcap || e == h + 1)
        return false;
    memcpy(fleet, f, (size_t)(h - f));
    fleet[h - f] = 0;
    memcpy(host, h + 1, (size_t)(e - h - 1));
    host[e - h - 1] = 0;
    return true;
}

int sw_scan_broker_state(const char *broker, const char *topic, const void *p, size_t n, uint32_t seen_ms,
                         sw_scan_result_t *res)
{
    char fleet[64], host[64];
    if (!split_topic(topic, fleet, sizeof fleet, host, sizeof host) || n == 0 || n > SW_SCAN_MAX_DATAGRAM)
        return SW_EPROTO; // (an empty retained message is a deleted state)
    cJSON *j = cJSON_ParseWithLength(p, n);
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(j, "online");
    if (!cJSON_IsObject(j) || !cJSON_IsBool(on)) {
        cJSON_Delete(j);
        return SW_EPROTO;
    }
    sw_scan_rec_t r;
    memset(&r, 0, sizeof r);
    if (cJSON_IsTrue(on)) {
        // the beacon's own parser, with the address it names first as its source
        const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(j, "ifconfigs");
        const cJSON *a = cJSON_GetArrayItem(cJSON_GetArrayItem(ifs, 0), 0);
        if (!cJSON_IsString(a) || sw_scan_parse(a->valuestring, p, n, &r))
            memset(&r, 0, sizeof r); // a state without a readable beacon: the name only
    } else {
        r.offline = true;
    }
    cJSON_Delete(j);
    // the topic names the node: a beacon that says otherwise does not rename it
    snprintf(r.host, sizeof r.host, "%s", host);
    r.swarm = true;
    r.seen_ms = seen_ms;
    snprintf(r.link, sizeof r.link, "%s/%s/%s", broker, fleet, host);
    for (size_t i = 0; i < res->n; i++) {
        sw_scan_rec_t *o = &res->recs[i];
        if (r.id[0] && !strcmp(o->id, r.id) && !o->link[0])
            return 0; // on the LAN too: the direct link wins
        if (!strcmp(o->link, r.link)) { // (a second message for one node: the newer wins)
            free(o->json);
            *o = r;
            o->json = strndup(p, n);
            o->json_len = o->json ? n : 0;
            return 0;
        }
    }
    sw_scan_rec_t *slot;
    if (add_rec(res, &slot))
        return SW_EFULL;
    *slot = r;
    slot->json = strndup(p, n);
    slot->json_len = slot->json ? n : 0;
    res->n++;
    return 0;
}

#if SW_HOST_MQTT
#include "uvmq.h"

typedef struct bscan {
    sw_uvmq_t *mq;
    uv_loop_t loop;
    uv_timer_t timer;
    sw_uri_t u;
    char broker[300];      // mqtt://BROKER:PORT
    char marker[96];
    bool done;
    int err;
    char errtext[600];
    uint64_t t0;
    sw_scan_result_t *res;
    const sw_scan_opts_t *o;
} bscan_t;

static void finish(bscan_t *b, int err, const char *text)
{
    if (b->done)
        return;
    b->done = true;
    b->err = err;
    if (text)
        snprintf(b->errtext, sizeof b->errtext, "%s", text);
    uv_timer_stop(&b->timer);
    uv_stop(&b->loop);
}

static void on_state(void *u, bool up, int err)
{
    bscan_t *b = u;
    if (!up) {
        char t[sizeof b->errtext - 40];
        snprintf(t, sizeof t, "%s: %s", b->broker,
                 err == SW_EAUTH   ? "refused (credentials or TLS: [mqtt] username, password, cafile in the user config)"
                 : err == SW_ECLOSED ? "connection refused or closed (is a broker listening there?)"
                                     : sw_strerror(err));
        finish(b, err, t);
        return;
    }
    char filter[128];
    snprintf(filter, sizeof filter, "swarm/%s/+/state", b->u.fleet[0] ? b->u.fleet : "+");
    int rc = sw_uvmq_subscribe(b->mq, filter, 0);
    if (!rc)
        rc = sw_uvmq_subscribe(b->mq, b->marker, 0);
    if (!rc)
        rc = sw_uvmq_publish(b->mq, b->marker, "end", 3, 0, false, NULL, 0);
    if (rc)
        finish(b, rc, "cannot subscribe");
}

static void on_message(void *u, const sw_mqtt_msg_t *m)
{
    bscan_t *b = u;
    if (!strcmp(m->topic, b->marker)) {
        finish(b, 0, NULL);
        return;
    }
    size_t before = b->res->n;
    uint32_t seen = (uint32_t)(uv_now(&b->loop) - b->t0);
    if (sw_scan_broker_state(b->broker, m->topic, m->payload, m->len, seen, b->res) == 0 &&
        b->res->n > before && b->o->found)
        b->o->found(b->o->u, &b->res->recs[b->res->n - 1]);
}

static void on_timeout(uv_timer_t *t)
{
    bscan_t *b = t->data;
    char text[sizeof b->errtext - 40];
    snprintf(text, sizeof text, "%s: no complete answer within %u ms", b->broker,
             (unsigned)(b->o->timeout_ms ? b->o->timeout_ms : BROKER_TIMEOUT_MS));
    finish(b, SW_ETIMEDOUT, text);
}

int sw_scan_broker(const char *url, const sw_scan_opts_t *o, sw_scan_result_t *res, char *err, size_t errcap)
{
    bscan_t *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    int rc = sw_uri_parse(url, &b->u, err, errcap);
    if (!rc && b->u.kind != SW_URI_MQTT) {
        snprintf(err, errcap, "'%s' is not a broker (use mqtt://BROKER[:PORT][/FLEET])", url);
        rc = SW_EINVAL;
    }
    if (!rc && b->u.node[0]) {
        snprintf(err, errcap, "'%s' names a node: a scan takes mqtt://BROKER[:PORT][/FLEET]", url);
        rc = SW_EINVAL;
    }
    if (rc) {
        free(b);
        return rc;
    }
    sw_uri_t bu = b->u;
    bu.fleet[0] = bu.node[0] = 0;
    sw_uri_format(&bu, b->broker, sizeof b->broker);
    b->res = res;
    b->o = o;
    uint8_t r[6];
    uv_random(NULL, NULL, r, sizeof r, 0, NULL);
    char cid[48];
    snprintf(cid, sizeof cid, "swarm-scan-%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), r[0], r[1], r[2], r[3],
             r[4], r[5]);
    snprintf(b->marker, sizeof b->marker, "swarm/_scan/%s", cid);
    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->timer);
    b->timer.data = b;
    b->t0 = uv_now(&b->loop);
    char user[128] = "", pass[128] = "", cafile[256] = "";
    sw_config_get("mqtt", "username", user, sizeof user);
    sw_config_get("mqtt", "password", pass, sizeof pass);
    sw_config_get("mqtt", "cafile", cafile, sizeof cafile);
    sw_mqtt_opts_t mo = {
        .host = b->u.host, .port = b->u.port, .client_id = cid,
        .username = user[0] ? user : NULL, .password = pass[0] ? pass : NULL,
        .tls = b->u.tls, .cafile = cafile[0] ? cafile : NULL, .keepalive_s = 30, .v5 = false,
    };
    sw_uvmq_cbs_t cbs = {on_state, on_message, b};
    rc = sw_uvmq_open(&b->loop, &mo, &cbs, &b->mq);
    if (rc) {
        b->mq = NULL;
        snprintf(b->errtext, sizeof b->errtext, "%s: %s", b->broker, sw_strerror(rc));
        b->err = rc;
    } else {
        uv_timer_start(&b->timer, on_timeout, o->timeout_ms ? o->timeout_ms : BROKER_TIMEOUT_MS, 0);
        while (!b->done)
            uv_run(&b->loop, UV_RUN_ONCE);
        sw_uvmq_close(b->mq);
    }
    uv_close((uv_handle_t *)&b->timer, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT); // the client's handles close (and it disconnects)
    uv_loop_close(&b->loop);
    rc = b->err;
    if (rc)
        snprintf(err, errcap, "%s", b->errtext);
    free(b);
    return rc;
}

#else

int sw_scan_broker(const char *url, const sw_scan_opts_t *o, sw_scan_result_t *res, char *err, size_t errcap)
{
    (void)url, (void)o, (void)res;
    snprintf(err, errcap, "this swarm was built without MQTT (-DSW_MQTT=OFF)");
    return SW_ENOTSUP;
}

#endif
