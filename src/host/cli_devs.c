// The devices a command for several devices addresses (push and the fleet commands): a
// scan of the LAN, --host names, --link URIs; in natural name order. Selectors (--to) are
// applied by the caller (sw_push_match), as the scan's data may not be everything it needs.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_devs.h"
#include "cli_int.h"
#include "esc.h"
#include "scan.h"
#include "user_config.h"

static void from_scan(sw_push_dev_t *d, const sw_scan_rec_t *r)
{
    memset(d, 0, sizeof *d);
    // The beacon's strings are the device's word: kept escaped, so every table, progress line
    // and message shows them as text (a control byte never names a real app or board anyway).
    sw__esc_str(d->name, sizeof d->name, r->host);
    if (r->link[0]) // through an MQTT broker
        snprintf(d->uri, sizeof d->uri, "%s", r->link);
    else
        snprintf(d->uri, sizeof d->uri, "tcp://%s:%u", r->ip, (unsigned)r->rpc_port);
    sw__esc_str(d->app, sizeof d->app, r->app);
    sw__esc_str(d->board, sizeof d->board, r->board);
    snprintf(d->beacon_hash, sizeof d->beacon_hash, "%s", r->app_hash);
}

static int cmp_dev(const void *a, const void *b)
{
    const sw_push_dev_t *x = a, *y = b;
    int c = sw_name_cmp(x->name[0] ? x->name : x->uri, y->name[0] ? y->name : y->uri);
    return c ? c : strcmp(x->uri, y->uri);
}

// --to NAME where NAME is a group of the user's config ([groups] lab = lab-* board=esp32):
// its selectors instead. The texts live until the program ends (selectors point into them).
static void expand_groups(const sw_cli_t *c, const char *cmd, sw_cli_sel_t *o)
{
    const char *in[SW_CLI_SEL_MAX];
    size_t n = o->n_to;
    memcpy(in, o->to, n * sizeof *in);
    o->n_to = 0;
    for (size_t i = 0; i < n; i++) {
        char val[1024];
        if (strchr(in[i], '=') || !sw_config_get("groups", in[i], val, sizeof val)) {
            if (o->n_to < SW_CLI_SEL_MAX)
                o->to[o->n_to++] = in[i];
            continue;
        }
        char *keep = strdup(val), *save = NULL;
        if (c->verbose >= 2)
            fprintf(stderr, "swarm %s: --to %s is the group '%s'\n", cmd, in[i], val);
        for (char *s = keep ? strtok_r(keep, " \t", &save) : NULL; s; s = strtok_r(NULL, " \t", &save))
            if (o->n_to < SW_CLI_SEL_MAX)
                o->to[o->n_to++] = s;
    }
}

void sw__cli_scan_opts(const sw_cli_sel_t *o, sw_scan_opts_t *so)
{
    sw_scan_opts_default(so);
    // A device left out is a device not updated: twice the settle time of a plain scan.
    // Right after a push the nodes hash their new files before they answer, and many of
    // them on one machine answer over a few hundred milliseconds.
    so->settle_ms = 2 * SW_SCAN_SETTLE_MS;
    if (o->scan_timeout_ms) { // the user's length: the scan runs all of it
        so->timeout_ms = o->scan_timeout_ms;
        so->settle_ms = 0;
    }
    so->to = o->scan_to;
    so->n_to = o->n_scan_to;
}

bool sw__cli_dev_from_rec(sw_push_dev_t *d, const sw_scan_rec_t *r)
{
    from_scan(d, r);
    if (r->offline) {
        d->res = SW_PUSH_OFFLINE;
        snprintf(d->reason, sizeof d->reason, "its last will is on the broker");
    } else if (!r->link[0] && (!r->swarm || !r->rpc_port)) {
        // micro-swarm devices (and nodes without RPC over TCP) take no RPC command
        d->res = SW_PUSH_IGNORED;
        snprintf(d->reason, sizeof d->reason,
                 "not a swarm node with RPC (micro-swarm's push_code serves it)");
        return true;
    }
    return false;
}

void sw__cli_sort_devs(sw_push_dev_t *devs, size_t n)
{
    qsort(devs, n, sizeof *devs, cmp_dev);
}

int sw__cli_find_devices(const sw_cli_t *c, const char *cmd, sw_cli_sel_t *o, sw_push_dev_t **out,
                         size_t *n, size_t *not_swarm)
{
    expand_groups(c, cmd, o);
    *out = NULL;
    *n = 0;
    *not_swarm = 0;
    sw_scan_result_t res = {0};
    bool scanned = false;
    // MQTT brokers: --broker instead of the LAN, or the user's default broker as well
    static char dflt[320];
    bool lan = !o->n_brokers;
    if (!o->n_brokers && sw_config_get("mqtt", "broker", dflt, sizeof dflt) && dflt[0])
        o->brokers[o->n_brokers++] = dflt;
    if ((o->n_links == 0 || o->n_hosts) && !lan) {
        scanned = true;
        o->scan_ms = 1;
    }
    o->lan_scan = false;
    if (o->lan_later && lan && !o->n_brokers && !o->n_links && !o->n_hosts) {
        o->lan_scan = true; // the caller scans
        return SW_EXIT_OK;
    }
    if ((o->n_links == 0 || o->n_hosts) && lan) {
        sw_scan_opts_t so;
        sw__cli_scan_opts(o, &so);
        if (o->n_hosts && !o->scan_timeout_ms) {
            // only the named devices are taken from the scan: it ends once they all answered
            so.hosts = o->hosts;
            so.n_hosts = o->n_hosts;
        }
        char err[256];
        int rc = sw_scan_run(&so, &res, err, sizeof err);
        if (rc == 0 && res.n == 0 && so.settle_ms) {
            // nobody answered within the settle time (busy devices?): listen a full second
            sw_scan_result_free(&res);
            so.settle_ms = 0;
            rc = sw_scan_run(&so, &res, err, sizeof err);
        }
        if (rc && !o->n_hosts) {
            sw_cli_error(c, cmd, "scan: %s", err);
            return SW_EXIT_LOCAL;
        }
        scanned = rc == 0;
        if (scanned)
            o->scan_ms = res.elapsed_ms ? res.elapsed_ms : 1;
        if (scanned && res.n)
            (void)sw_scan_cache_store(&res); // names found now serve later commands too
        if (c->verbose && scanned)
            fprintf(stderr, "swarm %s: scan found %zu device%s in %u ms%s\n", cmd, res.n,
                    res.n == 1 ? "" : "s", (unsigned)res.elapsed_ms,
                    res.hosts_found ? " (every --host answered)" : "");
    }
    for (size_t i = 0; (o->n_links == 0 || o->n_hosts) && i < o->n_brokers; i++) {
        sw_scan_opts_t so;
        sw_scan_opts_default(&so);
        so.timeout_ms = 0;
        char err[512];
        uint64_t t0 = sw__cli_now_ms();
        int rc = sw_scan_broker(o->brokers[i], &so, &res, err, sizeof err);
        if (rc) {
            sw_cli_error(c, cmd, "%s", err);
            if (!lan) {
                sw_scan_result_free(&res);
                return rc == SW_EINVAL ? SW_EXIT_USAGE : SW_EXIT_LINK;
            }
        }
        o->scan_ms += (uint32_t)(sw__cli_now_ms() - t0);
        scanned = true;
    }
    size_t cap = o->n_links + o->n_hosts + (scanned ? res.n : 0) + 1;
    sw_push_dev_t *devs = calloc(cap, sizeof *devs);
    if (!devs) {
        if (scanned)
            sw_scan_result_free(&res);
        sw_cli_error(c, cmd, "out of memory");
        return SW_EXIT_LOCAL;
    }
    size_t k = 0;
    for (size_t i = 0; i < o->n_links; i++) {
        bool dup = false; // two pushes into one device at once would trip over each other
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(o->links[j], o->links[i]);
        if (dup)
            continue;
        sw_push_dev_t *d = &devs[k++];
        snprintf(d->uri, sizeof d->uri, "%s", o->links[i]);
        d->listed = true;
    }
    for (size_t i = 0; i < o->n_hosts; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcasecmp(o->hosts[j], o->hosts[i]);
        if (dup)
            continue;
        sw_push_dev_t *d = &devs[k++];
        const sw_scan_rec_t *hit = NULL;
        for (size_t j = 0; scanned && j < res.n && !hit; j++)
            if (!strcmp(res.recs[j].host, o->hosts[i]))
                hit = &res.recs[j];
        for (size_t j = 0; scanned && j < res.n && !hit; j++)
            if (!strcasecmp(res.recs[j].host, o->hosts[i]))
                hit = &res.recs[j];
        if (hit && hit->swarm && (hit->rpc_port || hit->link[0])) {
            from_scan(d, hit);
        } else {
            // not heard: by name (scan cache, NAME.local, DNS) when the device is tried
            snprintf(d->name, sizeof d->name, "%s", o->hosts[i]);
            snprintf(d->uri, sizeof d->uri, "%s", o->hosts[i]);
        }
        d->listed = true;
    }
    if (!o->n_links && !o->n_hosts && scanned) {
        for (size_t j = 0; j < res.n; j++) {
            if (sw__cli_dev_from_rec(&devs[k++], &res.recs[j]))
                (*not_swarm)++;
        }
    }
    if (scanned)
        sw_scan_result_free(&res);
    qsort(devs, k, sizeof *devs, cmp_dev);
    *out = devs;
    *n = k;
    return SW_EXIT_OK;
}

