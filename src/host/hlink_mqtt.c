// The mqtt:// transport of host links (hlink.h): a node reached through an MQTT broker
// (docs/PROTOCOL.md, MQTT). One MoaT message per MQTT message, in the 3.1.1 topic form
// (requests to swarm/<f>/<h>/rpc/<client>, answers on swarm/<f>/<h>/reply/<client>), which
// needs no MQTT 5 property and so also crosses bridges between brokers. The link is up once
// the broker took the session, both subscriptions are in place and the node's retained state
// says it is online; a last will ("online": false) arriving later takes the link down. A node
// the broker has no state of fails at once: a probe the link publishes to itself after
// subscribing comes back after every retained message (the broker keeps a client's order). Every
// command that works on a link (call, push, console, mux) works over this one unchanged.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hlink_int.h"
#include "user_config.h"

#if SW_HOST_MQTT
#include "uvmq.h"

static void topic(const sw_hlink_t *l, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "swarm/%s/%s/%s", l->uri.fleet, l->uri.node, what);
}

// "online" of a state payload: 1 true, 0 false, -1 unreadable.
static int state_online(const uint8_t *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "online");
    int r = cJSON_IsBool(o) ? cJSON_IsTrue(o) : -1;
    cJSON_Delete(j);
    return r;
}

static void probe_topic(const sw_hlink_t *l, char *buf, size_t cap)
{
    snprintf(buf, cap, "swarm/_probe/%s", l->mq_client);
}

static void on_message(void *u, const sw_mqtt_msg_t *m)
{
    sw_hlink_t *l = u;
    if (l->closing)
        return;
    char t[200];
    probe_topic(l, t, sizeof t);
    if (!strcmp(m->topic, t)) {
        // our probe came back after every retained message of the subscriptions before it:
        // had the node a state, it would have arrived first
        if (!l->up) {
            sw__hlink_set_error(l, SW_ENOENT, "%s: the broker has no state of node %s in fleet %s (has it "
                                "ever connected? swarm scan --broker lists the fleet)", l->name, l->uri.node,
                                l->uri.fleet);
            sw__hlink_lost(l, SW_ENOENT);
        }
        return;
    }
    topic(l, "state", t, sizeof t);
    if (!strcmp(m->topic, t)) {
        int on = state_online(m->payload, m->len);
        if (on == 1 && !l->up) {
            sw__hlink_connected(l);
        } else if (on == 0) {
            sw__hlink_set_error(l, SW_ENOENT, "%s: the node is offline (its last will, or it stopped)", l->name);
            sw__hlink_lost(l, SW_ENOENT);
        }
        return;
    }
    if (l->up && m->len <= l->o.max_msg)
        sw__hlink_msg(l, m->payload, m->len);
}

static void on_state(void *u, bool up, int err)
{
    sw_hlink_t *l = u;
    if (l->closing)
        return;
    if (up) {
        l->mq_broker_up = true;
        char t[200];
        // the reply topic first: the broker handles both in order, so it is in place by the
        // time the retained state (which brings the link up) arrives
        topic(l, "reply/", t, sizeof t);
        strncat(t, l->mq_client, sizeof t - strlen(t) - 1);
        int rc = sw_uvmq_subscribe(l->mq, t, 1);
        topic(l, "state", t, sizeof t);
        if (!rc)
            rc = sw_uvmq_subscribe(l->mq, t, 0); // (QoS 0 like the probe: nothing overtakes)
        probe_topic(l, t, sizeof t);
        if (!rc)
            rc = sw_uvmq_subscribe(l->mq, t, 0);
        if (!rc)
            rc = sw_uvmq_publish(l->mq, t, "?", 1, 0, false, NULL, 0);
        if (rc) {
            sw__hlink_set_error(l, rc, "%s: cannot subscribe: %s", l->name, sw_strerror(rc));
            sw__hlink_lost(l, rc);
        }
        return;
    }
    if (l->up)
        sw__hlink_set_error(l, err, "%s: connection to the broker lost (%s)", l->name, sw_strerror(err));
    else
        sw__hlink_set_error(l, err, "cannot connect to the broker of %s: %s", l->name,
                            err == SW_EAUTH     ? "refused (credentials or TLS: [mqtt] username, password, "
                                                  "cafile in the user config)"
                            : err == SW_ECLOSED ? "connection refused or closed (is a broker listening there?)"
                                                : sw_strerror(err));
    sw__hlink_lost(l, err);
}

void sw__hlink_mqtt_start(sw_hlink_t *l)
{
    sw__hlink_mqtt_end(l);
    if (!l->uri.fleet[0] || !l->uri.node[0]) {
        sw__hlink_set_error(l, SW_EINVAL, "%s: name the node: mqtt://BROKER[:PORT]/FLEET/HOST", l->name);
        sw__hlink_lost(l, SW_EINVAL);
        return;
    }
    if (!l->mq_client[0]) { // one client id per link: its reply topic
        uint8_t r[6];
        uv_random(NULL, NULL, r, sizeof r, 0, NULL);
        snprintf(l->mq_client, sizeof l->mq_client, "swarm-%ld-%02x%02x%02x%02x%02x%02x", (long)getpid(), r[0],
                 r[1], r[2], r[3], r[4], r[5]);
    }
    char user[128] = "", pass[128] = "", cafile[256] = "";
    sw_config_get("mqtt", "username", user, sizeof user);
    sw_config_get("mqtt", "password", pass, sizeof pass);
    sw_config_get("mqtt", "cafile", cafile, sizeof cafile);
    sw_mqtt_opts_t o = {
        .host = l->uri.host,
        .port = l->uri.port,
        .client_id = l->mq_client,
        .username = user[0] ? user : NULL,
        .password = pass[0] ? pass : NULL,
        .tls = l->uri.tls,
        .cafile = cafile[0] ? cafile : NULL,
        .keepalive_s = 30,
        .v5 = false,
    };
    sw_uvmq_cbs_t cbs = {on_state, on_message, l};
    int rc = sw_uvmq_open(l->loop, &o, &cbs, &l->mq);
    if (rc) {
        l->mq = NULL;
        sw__hlink_set_error(l, rc, "cannot connect to the broker of %s: %s", l->name, sw_strerror(rc));
        sw__hlink_lost(l, rc);
    }
}

int sw__hlink_mqtt_send(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (!l->mq)
        return SW_ECLOSED;
    char t[200];
    topic(l, "rpc/", t, sizeof t);
    strncat(t, l->mq_client, sizeof t - strlen(t) - 1);
    return sw_uvmq_publish(l->mq, t, p, n, 1, false, NULL, 0);
}

void sw__hlink_mqtt_end(sw_hlink_t *l)
{
    if (l->mq) {
        sw_uvmq_close(l->mq);
        l->mq = NULL;
    }
    l->mq_broker_up = false;
}

bool sw__hlink_mqtt_busy(const sw_hlink_t *l)
{
    return l->mq && sw_uvmq_busy(l->mq);
}

#else // a build without MQTT (-DSW_MQTT=OFF)

void sw__hlink_mqtt_start(sw_hlink_t *l)
{
    sw__hlink_set_error(l, SW_ENOTSUP, "%s: this swarm was built without MQTT (-DSW_MQTT=OFF)", l->name);
    sw__hlink_lost(l, SW_ENOTSUP);
}
int sw__hlink_mqtt_send(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    (void)l, (void)p, (void)n;
    return SW_ENOTSUP;
}
void sw__hlink_mqtt_end(sw_hlink_t *l) { (void)l; }
bool sw__hlink_mqtt_busy(const sw_hlink_t *l) { return (void)l, false; }

#endif
