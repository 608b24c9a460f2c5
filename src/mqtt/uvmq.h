// An MQTT client on a libuv loop: libmosquitto driven by the loop (uv_poll on its socket, a
// timer for keep-alive), no thread. The POSIX port's MQTT client (port.h, mqtt_*) and the
// host's mqtt:// links (hlink_mqtt.c) are this. Options and messages are port.h's types.
//
// Single-threaded like the loop. Callbacks come only from the loop's own callbacks, never from
// inside a call made into this module, and never after sw_uvmq_close().
#ifndef SW_UVMQ_H
#define SW_UVMQ_H

#include <uv.h>

#include "swarm/port.h"

typedef struct sw_uvmq sw_uvmq_t;

typedef struct sw_uvmq_cbs {
    // The broker accepted the session (up), or the attempt failed / the connection was lost
    // (err: SW_ECLOSED lost, SW_EAUTH refused credentials or TLS, SW_EPERM refused, SW_ETIMEDOUT
    // keep-alive, an errno-derived code for the connect). After down the client is dead: close it.
    void (*state)(void *u, bool up, int err);
    void (*message)(void *u, const sw_mqtt_msg_t *m); // valid only during the call
    void *u;
} sw_uvmq_cbs_t;

// Starts connecting: a broker given by name is looked up first on a thread of its own, without
// blocking the loop, except with TLS (libmosquitto resolves it, blocking). 0 and *out, or SW_EFULL /
// SW_EINVAL (bad options); a refused connect arrives later as state(down).
int sw_uvmq_open(uv_loop_t *loop, const sw_mqtt_opts_t *o, const sw_uvmq_cbs_t *cbs, sw_uvmq_t **out);
int sw_uvmq_subscribe(sw_uvmq_t *c, const char *filter, int qos);
// corr: MQTT 5 correlation data (NULL: none). 0, SW_ECLOSED (not connected), SW_ETOOBIG, or
// SW_EFULL: 1,024 messages are not yet written (QoS 0) or acknowledged (QoS 1) — the broker
// does not keep up; nothing was queued.
int sw_uvmq_publish(sw_uvmq_t *c, const char *topic, const void *p, size_t n, int qos, bool retain,
                    const void *corr, size_t corr_len);
// Bytes published but not yet written to the socket (libmosquitto queues without bound: callers
// pace themselves on this).
bool sw_uvmq_busy(const sw_uvmq_t *c);
// DISCONNECT (no last will) after what the socket takes now, then frees the client once its
// handles have closed. No callback after this.
void sw_uvmq_close(sw_uvmq_t *c);

#endif
