// The mqtt:// transport of host links (hlink.h): a node reached through an MQTT broker
// (docs/PROTOCOL.md, MQTT). One MoaT message per MQTT message, in the 3.1.1 topic form
// (requests to swarm/<f>/<h>/rpc/<client>, answers on swarm/<f>/<h>/reply/<client>), which
// needs no MQTT 5 property and so also crosses bridges between brokers. The link is up once
// the broker took the session, both subscriptions are in place and the node's retained state
// says it is online; a last will ("online": false) arriving later takes the link down. A node
// the broker has no state of fails at once: a probe the link publishes to itself after
// subscribing comes back after every retained message (the broker keeps a client's order). Every
// command that works on a link (call, push, console, mux) works over this one unchanged.
// A host with a key talks to locked nodes only: it shakes hands with the node through the
// broker (Noise NNpsk0, as on TCP) before the link is up, then seals every request and opens
// every answer (swarm/noise_msg.h), so the broker carries them but cannot read or forge them.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <stdlib.h>
#include <sys/random.h>

#include "hlink_int.h"
#include "swarm/msg.h"
#include "swarm/noise_msg.h"
#include "user_config.h"

#if SW_HOST_MQTT
#include "uvmq.h"

static void topic(const sw_hlink_t *l, const char *what, char *buf, size_t cap)
{
    snprintf(buf, cap, "swarm/%s/%s/%s", l->uri.fleet, l->uri.node, what);
}

// "online" of a state payload: 1 true, 0 false, -1 unreadable; *locked: "swarm": {"locked"}.
static int state_online(const uint8_t *p, size_t n, bool *locked)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "online");
    int r = cJSON_IsBool(o) ? cJSON_IsTrue(o) : -1;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "swarm");
    *locked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw, "locked"));
    cJSON_Delete(j);
    return r;
}

static void rpc_topic(const sw_hlink_t *l, char *buf, size_t cap)
{
    topic(l, "rpc/", buf, cap);
    strncat(buf, l->mq_client, cap - strlen(buf) - 1);
}

// The node is online: with a key, shake hands first (the link is up when it answers).
static void node_online(sw_hlink_t *l, bool locked)
{
    if (!l->has_key || l->plain) {
        sw__hlink_connected(l);
        return;
    }
    if (!locked && l->key_optional) {
        // the fleet key and a node the host has not seen locked: an open node, talked to in
        // plain (as on TCP, docs/SECURITY.md "The host's keys, per device")
        l->plain = true;
        sw__hlink_connected(l);
        return;
    }
    if (!locked) {
        // SWARM_KEY_FILE, the node's own key, or a node known locked: a broker that says "not
        // locked" must not be able to turn this host to plaintext
        sw__hlink_set_error(l, SW_EAUTH, "%s is not locked (its state says so), but the host knows it as "
                            "locked or has a key for it (SWARM_KEY_FILE, keys/NAME, locked/NAME): refused "
                            "(an impostor, or a device reset to open: then remove that file; "
                            "SWARM_KEY_FILE= talks to it in plain)", l->name);
        sw__hlink_lost(l, SW_EAUTH);
        return;
    }
    size_t cap = sw_noise_msg_size(l->o.max_msg);
    if (!l->mq_nz && !(l->mq_nz = malloc(sizeof *l->mq_nz)))
        goto full;
    if (!l->mq_buf && !(l->mq_buf = malloc(l->o.max_msg + cap)))
        goto full;
    uint8_t seed[SW_NOISE_KEY], m1[SW_NOISE_PREAMBLE_LEN + SW_NOISE_HS_LEN];
    int rc = getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed ? 0 : SW_EIO;
    if (!rc)
        rc = sw_noise_init(l->mq_nz, true, l->key, seed);
    sw_noise_zero(seed, sizeof seed);
    memcpy(m1, SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN);
    if (!rc)
        rc = sw_noise_write_hs(l->mq_nz, m1 + SW_NOISE_PREAMBLE_LEN);
    char t[200];
    rpc_topic(l, t, sizeof t);
    if (!rc)
        rc = sw_uvmq_publish(l->mq, t, m1, sizeof m1, 1, false, NULL, 0);
    if (rc) {
        sw__hlink_set_error(l, rc, "%s: cannot start the handshake: %s", l->name, sw_strerror(rc));
        sw__hlink_lost(l, rc);
    }
    return;
full:
    sw__hlink_set_error(l, SW_EFULL, "%s: out of memory", l->name);
    sw__hlink_lost(l, SW_EFULL);
}

// An answer on our reply topic while the handshake is under way: message 2, a reject, or an
// error the node sent in plain (busy).
static void handshake_answer(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (n == SW_NOISE_HS_LEN) {
        int rc = sw_noise_read_hs(l->mq_nz, p, n);
        if (!rc) {
            sw__hsec_mqtt_up(l); // (remembered as locked: never talked to in plain again)
            sw__hlink_connected(l);
            return;
        }
        sw__hlink_set_error(l, SW_EAUTH, "%s did not prove it holds the key: not the node you meant, or an "
                            "impostor", l->name);
        sw__hlink_lost(l, SW_EAUTH);
        return;
    }
    sw_msg_t m;
    if (n == 1 && p[0] == SW_NOISE_REJECT_AUTH)
        sw__hlink_set_error(l, SW_EAUTH, "wrong key for %s (the node refused the handshake)", l->name);
    else if (!sw_msg_decode(&m, p, n) && m.kind == SW_MSG_ERROR)
        sw__hlink_set_error(l, SW_EPROTO, "%s: %.*s", l->name, (int)m.e.n, (const char *)m.e.p);
    else
        sw__hlink_set_error(l, SW_EPROTO, "%s does not speak the authenticated protocol through the broker "
                            "(an older swarm-node?)", l->name);
    sw__hlink_lost(l, sw_hlink_error_code(l));
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
        if (!l->up && !l->mq_nz) { // (mq_nz: the state came, the handshake is under way)
            sw__hlink_set_error(l, SW_ENOENT, "%s: the broker has no state of node %s in fleet %s (has it "
                                "ever connected? swarm scan --broker lists the fleet)", l->name, l->uri.node,
                                l->uri.fleet);
            sw__hlink_lost(l, SW_ENOENT);
        }
        return;
    }
    topic(l, "state", t, sizeof t);
    if (!strcmp(m->topic, t)) {
        bool locked;
        int on = state_online(m->payload, m->len, &locked);
        if (on == 1 && !l->up) {
            if (!l->mq_nz || sw_noise_ready(l->mq_nz)) // (not again while shaking hands)
                node_online(l, locked);
        } else if (on == 0) {
            sw__hlink_set_error(l, SW_ENOENT, "%s: the node is offline (its last will, or it stopped)", l->name);
            sw__hlink_lost(l, SW_ENOENT);
        }
        return;
    }
    if (l->mq_nz && !l->up) {
        handshake_answer(l, m->payload, m->len);
    } else if (l->mq_nz && l->up) {
        size_t n;
        if (m->len == 1 && m->payload[0] == 3) { // (the node's "no session": it forgot ours)
            sw__hlink_set_error(l, SW_ECLOSED, "%s: the node ended the session (idle for mqtt.idle_ms, or "
                                "it restarted)", l->name);
            sw__hlink_lost(l, SW_ECLOSED);
        } else if (!sw_noise_msg_open(l->mq_nz, m->payload, m->len, l->mq_buf, l->o.max_msg, &n)) {
            sw__hlink_msg(l, l->mq_buf, n);
        } // else: not sealed by the node's session (forged, replayed, a stray reject): dropped
    } else if (l->up && m->len <= l->o.max_msg) {
        sw__hlink_msg(l, m->payload, m->len);
    }
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
    rpc_topic(l, t, sizeof t);
    if (l->mq_nz) {
        size_t len;
        // (after the opened answers' room: a handler may send while one is being read)
        uint8_t *out = l->mq_buf + l->o.max_msg;
        int rc = sw_noise_msg_seal(l->mq_nz, p, n, out, sw_noise_msg_size(l->o.max_msg), &len);
        if (rc)
            return rc;
        p = out, n = len;
    }
    return sw_uvmq_publish(l->mq, t, p, n, 1, false, NULL, 0);
}

void sw__hlink_mqtt_end(sw_hlink_t *l)
{
    if (l->mq) {
        sw_uvmq_close(l->mq);
        l->mq = NULL;
    }
    l->mq_broker_up = false;
    if (l->mq_nz) { // a session belongs to one broker connection
        sw_noise_wipe(l->mq_nz);
        free(l->mq_nz);
        l->mq_nz = NULL;
    }
    free(l->mq_buf);
    l->mq_buf = NULL;
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
