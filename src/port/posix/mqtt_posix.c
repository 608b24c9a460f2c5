// The POSIX port's MQTT client (port.h, mqtt_*): src/mqtt/uvmq.c on the port's loop, its events
// handed to the node. The port keeps a list of its clients so a forced shutdown closes them.
#define _GNU_SOURCE
#include "posix_int.h"
#if SW_PORT_MQTT
#include <stdlib.h>

#include "uvmq.h"

typedef struct sw_pmqtt {
    sw_mqtt_t pub; // first: the node's handle
    sw_posix_t *p;
    sw_uvmq_t *c;
    struct sw_pmqtt *next;
} sw_pmqtt_t;

static void on_state(void *u, bool up, int err)
{
    sw_pmqtt_t *m = u;
    if (m->p->node)
        sw_node_mqtt_state(m->p->node, &m->pub, up, err);
}

static void on_message(void *u, const sw_mqtt_msg_t *msg)
{
    sw_pmqtt_t *m = u;
    if (m->p->node)
        sw_node_mqtt_message(m->p->node, &m->pub, msg);
}

int sw__posix_mqtt_open(void *ctx, const sw_mqtt_opts_t *o, sw_mqtt_t **out)
{
    sw_posix_t *p = ctx;
    if (p->shutdown)
        return SW_ECLOSED;
    sw_pmqtt_t *m = calloc(1, sizeof *m);
    if (!m)
        return SW_EFULL;
    m->p = p;
    sw_uvmq_cbs_t cbs = {on_state, on_message, m};
    int rc = sw_uvmq_open(&p->loop, o, &cbs, &m->c);
    if (rc) {
        free(m);
        return rc;
    }
    m->next = p->mqtts;
    p->mqtts = m;
    *out = &m->pub;
    return 0;
}

int sw__posix_mqtt_subscribe(void *ctx, sw_mqtt_t *m, const char *filter, int qos)
{
    (void)ctx;
    return sw_uvmq_subscribe(((sw_pmqtt_t *)m)->c, filter, qos);
}

int sw__posix_mqtt_publish(void *ctx, sw_mqtt_t *m, const char *topic, const void *p, size_t n, int qos,
                           bool retain, const void *corr, size_t corr_len)
{
    (void)ctx;
    return sw_uvmq_publish(((sw_pmqtt_t *)m)->c, topic, p, n, qos, retain, corr, corr_len);
}

void sw__posix_mqtt_close(void *ctx, sw_mqtt_t *m)
{
    sw_posix_t *p = ctx;
    sw_pmqtt_t *pm = (sw_pmqtt_t *)m;
    for (sw_pmqtt_t **pp = &p->mqtts; *pp; pp = &(*pp)->next)
        if (*pp == pm) {
            *pp = pm->next;
            break;
        }
    sw_uvmq_close(pm->c);
    free(pm);
}

void sw__posix_mqtt_shutdown(sw_posix_t *p)
{
    while (p->mqtts)
        sw__posix_mqtt_close(p, &p->mqtts->pub);
}
#endif // SW_PORT_MQTT
