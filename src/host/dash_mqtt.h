// swarm dashboard: an MQTT broker as a source of nodes (`swarm dashboard --broker`, and the
// user config's [mqtt] broker). See dash_mqtt.c.
#ifndef SW_HOST_DASH_MQTT_H
#define SW_HOST_DASH_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "dash.h"

typedef struct sw_dash_mqtt sw_dash_mqtt_t;

// A source for sw_dash_opts_t.sources reading url, mqtt[s]://BROKER[:PORT][/FLEET] (no FLEET:
// every fleet). Credentials and the CA file come from the user config's [mqtt]. 0 with *out
// (free with sw_dash_mqtt_free after sw_dash_run returned) and *src filled, or SW_EINVAL (not
// a broker URL) / SW_ENOTSUP (built without MQTT) / SW_EFULL with a message in err.
int sw_dash_mqtt_new(const char *url, bool quiet, sw_dash_mqtt_t **out, sw_dash_source_t *src, char *err,
                     size_t errcap);
void sw_dash_mqtt_free(sw_dash_mqtt_t *m);

#endif
