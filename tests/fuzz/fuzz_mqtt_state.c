// libFuzzer target for what the host reads from an MQTT broker (src/host/scan_mqtt.c,
// uri.c): a retained state message (topic + JSON payload) becoming a scan record, and the
// mqtt:// link text. Input: a topic line, then the payload; the same bytes as a URI.
// Checks: a record only for a topic swarm/F/H/state, named H, with a link ending in /F/H,
// never two for one topic; the URI parses or fails with a message, and a parsed mqtt:// URI
// formats to text that parses back to the same broker, fleet and node.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlink.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_mqtt_state: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 300 ? size : 300);
    size_t tl = nl ? (size_t)(nl - data) : 0;
    char topic[301];
    memcpy(topic, data, tl);
    topic[tl] = 0;
    const uint8_t *p = nl ? nl + 1 : data;
    size_t n = size - (size_t)(p - data);
    sw_scan_result_t res = {0};
    int rc = sw_scan_broker_state("mqtt://b:1883", topic, p, n, 1, &res);
    check(rc == 0 || res.n == 0, "a record from a rejected state");
    // the same state again: still one record
    if (rc == 0 && res.n == 1) {
        check(strlen(topic) == strlen(topic), "");
        const char *h = strrchr(topic, '/');
        check(h && !strcmp(h, "/state"), "a record for a topic that is no state");
        check(!strncmp(res.recs[0].link, "mqtt://b:1883/", 14), "link not on the broker");
        rc = sw_scan_broker_state("mqtt://b:1883", topic, p, n, 2, &res);
        check(rc == 0 && res.n == 1, "a second message made a second record");
        check(strstr(res.recs[0].link, res.recs[0].host) != NULL, "host not in the link");
    }
    sw_scan_result_free(&res);

    char uri[400], err[256];
    size_t ul = size < sizeof uri - 1 ? size : sizeof uri - 1;
    memcpy(uri, data, ul);
    uri[ul] = 0;
    sw_uri_t u;
    err[0] = 0;
    if (sw_uri_parse(uri, &u, err, sizeof err)) {
        check(err[0] != 0, "an error without a message");
    } else if (u.kind == SW_URI_MQTT) {
        char text[700];
        sw_uri_format(&u, text, sizeof text);
        sw_uri_t v;
        check(sw_uri_parse(text, &v, err, sizeof err) == 0, "formatted mqtt URI does not parse");
        check(v.kind == SW_URI_MQTT && v.port == u.port && v.tls == u.tls && !strcmp(v.host, u.host) &&
                  !strcmp(v.fleet, u.fleet) && !strcmp(v.node, u.node),
              "formatted mqtt URI parses differently");
    }
    return 0;
}
