// `swarm scan`: lists the devices on the LAN (src/host/scan.c does the finding) as a table or
// as JSON, and remembers their addresses so other commands can name them (the scan cache).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "scan.h"
#include "user_config.h"

#define MAX_TO 32

static const char scan_usage[] = "usage: swarm scan [options]\n";

static const char scan_about[] =
    "Lists the devices on the LAN. Listens for their beacons on UDP port 1139 and broadcasts\n"
    "a query that swarm nodes answer at once, so the scan ends a moment after the last answer:\n"
    "well under a second on a LAN. micro-swarm devices do not answer queries; they are seen\n"
    "when one of their beacons (every 2 s) falls within the scan (use --timeout 2.5s).\n"
    "Several scans may run at once. The names found are remembered (the scan cache), so\n"
    "'swarm call NAME ...' reaches a device by its host name afterwards.\n";

static const char scan_about_broker[] =
    "With --broker (or a default broker in the user config: [mqtt] broker = mqtt://HOST/FLEET)\n"
    "it also lists the nodes of a fleet on an MQTT broker, from their retained states: at once,\n"
    "complete, and including the nodes that are down (UPTIME 'offline'). The VIA column then\n"
    "gives the link that reaches each one (swarm call mqtt://BROKER/FLEET/HOST ...).\n";

static const char scan_after[] =
    "output: HOST IP APP BOARD HASH (first 8 hex digits of the app's content hash) UPTIME\n"
    "SERVICES (TCP ports: rpc, ftp, telnet, eval; mdns), sorted by host name (node2 before\n"
    "node10). The summary "
    "line ('5 devices in 180 ms') goes to stderr.\n"
    "\n"
    "files: $XDG_CACHE_HOME/swarm/scan.json (default ~/.cache/swarm/scan.json)\n"
    "exit status: 0 done (also when nothing was found), 2 usage, 4 --wait-for not reached,\n"
    "6 no UDP socket could be opened, 3 a broker could not be scanned\n"
    "\n"
    "examples:\n"
    "  swarm scan\n"
    "  swarm scan --json | jq -r '.[].ip'\n"
    "  swarm scan --wait-for 50 --timeout 5s\n"
    "  swarm scan --to 192.168.7.255\n"
    "  swarm scan --broker mqtt://broker.lab:1883/lab\n";

static bool ipv4(const char *v)
{
    unsigned char tmp[4];
    return inet_pton(AF_INET, v, tmp) == 1;
}

static void fmt_uptime(const sw_scan_rec_t *r, char *buf, size_t cap)
{
    if (r->offline) {
        snprintf(buf, cap, "offline");
        return;
    }
    if (!r->has_uptime) {
        snprintf(buf, cap, "-");
        return;
    }
    uint64_t s = r->uptime_ms / 1000;
    if (s < 60)
        snprintf(buf, cap, "%us", (unsigned)s);
    else if (s < 3600)
        snprintf(buf, cap, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    else if (s < 86400)
        snprintf(buf, cap, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s / 60 % 60));
    else
        snprintf(buf, cap, "%llud%02uh", (unsigned long long)(s / 86400), (unsigned)(s / 3600 % 24));
}

static void fmt_services(const sw_scan_rec_t *r, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    if (r->locked) // what a scan user must know first: calls need the fleet key
        k += (size_t)snprintf(buf, cap, "locked");
    struct { const char *name; uint16_t port; } s[] = {
        {"rpc", r->rpc_port}, {"ftp", r->ftp_port}, {"telnet", r->telnet_port}, {"eval", r->eval_port}};
    for (size_t i = 0; i < 4; i++)
        if (s[i].port && k < cap)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s:%u", k ? " " : "", s[i].name, s[i].port);
    if (r->mdns && k < cap)
        snprintf(buf + k, cap - k, "%smdns", k ? " " : "");
    if (!buf[0])
        snprintf(buf, cap, "-");
}

static const char *or_dash(const char *s) { return s[0] ? s : "-"; }

// The text columns of one row, escaped: a beacon's strings are the device's word and may
// hold escape sequences or line breaks that would rewrite the screen or forge rows.
typedef struct row {
    char host[4 * 64], app[4 * 64], board[4 * 64], hash[4 * 8 + 1];
} row_t;

static void row_of(const sw_scan_rec_t *r, row_t *w)
{
    char h8[9];
    snprintf(h8, sizeof h8, "%.8s", or_dash(r->app_hash));
    sw__esc_str(w->host, sizeof w->host, or_dash(r->host));
    sw__esc_str(w->app, sizeof w->app, or_dash(r->app));
    sw__esc_str(w->board, sizeof w->board, or_dash(r->board));
    sw__esc_str(w->hash, sizeof w->hash, h8);
}

static void print_table(const sw_scan_result_t *res)
{
    int wh = 4, wi = 2, wa = 3, wb = 5, wv = 3;
    bool via = false; // a VIA column only when a broker was scanned
    for (size_t i = 0; i < res->n; i++) {
        const sw_scan_rec_t *r = &res->recs[i];
        via |= r->link[0] != 0;
        if ((int)strlen(r->link) > wv) wv = (int)strlen(r->link);
        row_t w;
        row_of(r, &w);
        int l;
        if ((l = (int)strlen(w.host)) > wh) wh = l;
        if ((l = (int)strlen(or_dash(r->ip))) > wi) wi = l;
        if ((l = (int)strlen(w.app)) > wa) wa = l;
        if ((l = (int)strlen(w.board)) > wb) wb = l;
    }
    printf("%-*s  %-*s  %-*s  %-*s  %-8s  %-7s  ", wh, "HOST", wi, "IP", wa, "APP", wb, "BOARD", "HASH", "UPTIME");
    if (via)
        printf("%-*s  ", wv, "VIA");
    printf("SERVICES\n");
    for (size_t i = 0; i < res->n; i++) {
        const sw_scan_rec_t *r = &res->recs[i];
        char up[32], svc[128];
        row_t w;
        row_of(r, &w);
        fmt_uptime(r, up, sizeof up);
        fmt_services(r, svc, sizeof svc);
        char link[4 * 320];
        sw__esc_str(link, sizeof link, r->link[0] ? r->link : "lan");
        printf("%-*s  %-*s  %-*s  %-*s  %-8s  %-7s  ", wh, w.host, wi, or_dash(r->ip), wa, w.app, wb, w.board,
               w.hash, up);
        if (via)
            printf("%-*s  ", wv, link);
        printf("%s\n", r->offline ? "-" : svc);
    }
}

static void add_str_or_null(cJSON *o, const char *key, const char *s)
{
    if (s[0])
        cJSON_AddStringToObject(o, key, s);
    else
        cJSON_AddNullToObject(o, key);
}

static void add_port(cJSON *o, const char *key, uint16_t port)
{
    if (port)
        cJSON_AddNumberToObject(o, key, port);
    else
        cJSON_AddFalseToObject(o, key);
}

static int print_json(const sw_scan_result_t *res)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return SW_EXIT_LOCAL;
    for (size_t i = 0; i < res->n; i++) {
        const sw_scan_rec_t *r = &res->recs[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        add_str_or_null(o, "host", r->host);
        cJSON_AddStringToObject(o, "ip", r->ip);
        add_str_or_null(o, "netmask", r->netmask);
        add_str_or_null(o, "app", r->app);
        add_str_or_null(o, "board", r->board);
        add_str_or_null(o, "app_hash", r->app_hash);
        if (r->has_uptime)
            cJSON_AddNumberToObject(o, "uptime_ms", (double)r->uptime_ms);
        else
            cJSON_AddNullToObject(o, "uptime_ms");
        add_str_or_null(o, "node", r->node);
        add_str_or_null(o, "id", r->id);
        if (r->rpc_port)
            cJSON_AddNumberToObject(o, "rpc_port", r->rpc_port);
        else
            cJSON_AddNullToObject(o, "rpc_port");
        cJSON *s = cJSON_AddObjectToObject(o, "services");
        add_port(s, "rpc", r->rpc_port);
        add_port(s, "ftp", r->ftp_port);
        add_port(s, "telnet", r->telnet_port);
        add_port(s, "eval", r->eval_port);
        cJSON_AddBoolToObject(s, "mdns", r->mdns);
        cJSON_AddBoolToObject(o, "locked", r->locked);
        cJSON_AddBoolToObject(o, "swarm", r->swarm);
        cJSON_AddNumberToObject(o, "seen_ms", r->seen_ms);
        cJSON_AddBoolToObject(o, "answered", r->answered);
        add_str_or_null(o, "link", r->link);
        cJSON_AddBoolToObject(o, "online", !r->offline);
        cJSON *b = cJSON_ParseWithLength(r->json, r->json_len);
        cJSON_AddItemToObject(o, "beacon", b ? b : cJSON_CreateNull());
        cJSON_AddItemToArray(a, o);
    }
    char *text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    if (!text)
        return SW_EXIT_LOCAL;
    printf("%s\n", text);
    cJSON_free(text);
    return SW_EXIT_OK;
}

static void on_found(void *u, const sw_scan_rec_t *r)
{
    const sw_cli_t *c = u;
    char host[4 * 64];
    if (c->verbose)
        fprintf(stderr, "found %s (%s) after %u ms%s\n",
                sw__esc_str(host, sizeof host, or_dash(r->host)), r->ip, (unsigned)r->seen_ms,
                r->answered ? "" : ", by its beacon");
}

int sw_cli_scan(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    sw_scan_opts_t o;
    sw_scan_opts_default(&o);
    o.timeout_ms = 0; // the default depends on --no-query
    const char *to[MAX_TO];
    bool no_cache = false, lan = false;
    size_t n_to = 0, n_brokers = 0;
    const char *brokers[8];
    const sw_opt_t opts[] = {
        {.kind = SW_OPT_DURATION, .name = "timeout", .arg = "TIME", .dst = &o.timeout_ms,
         .size = sizeof o.timeout_ms, .min = 1, .max = 3600000, .flags = SW_OPT_F_LEGACY_MS,
         .show_def = "1s, 2.5s with --no-query",
         .help = "longest scan; the global --timeout does not apply to scan"},
        {.kind = SW_OPT_DURATION, .name = "settle", .arg = "TIME", .dst = &o.settle_ms,
         .size = sizeof o.settle_ms, .max = 60000, .def = "150ms", .flags = SW_OPT_F_LEGACY_MS,
         .help = "end this long after the last new device; 0 = run to the timeout"},
        SW_OPT_UINT_("wait-for", NULL, "N", &o.wait_for, 1, 1000000, NULL,
                     "end as soon as N devices are known (exit status 4 if fewer are found)"),
        SW_OPT_UINT_("port", NULL, "N", &o.port, 1, 65535, "1139",
                     "UDP port of beacons and queries"),
        SW_OPT_FLAG_("no-query", NULL, &o.no_query,
                     "only listen for beacons, as micro-swarm's scanner does"),
        {.kind = SW_OPT_LIST, .name = "to", .arg = "ADDR", .dst = to, .cap = MAX_TO,
         .count = &n_to, .check = ipv4, .expect = "an IPv4 address",
         .help = "send the query to ADDR (a device, or a subnet's broadcast address) instead "
                 "of 255.255.255.255 and every interface's broadcast address; repeatable"},
        SW_OPT_FLAG_("no-cache", NULL, &no_cache, "do not update the scan cache"),
        {.kind = SW_OPT_LIST, .name = "broker", .arg = "URL", .dst = brokers, .cap = 8, .count = &n_brokers,
         .help = "list the nodes on this MQTT broker, mqtt[s]://HOST[:PORT][/FLEET] (no FLEET: "
                 "all), instead of the LAN; repeatable. Default: the user config's [mqtt] broker, "
                 "in addition to the LAN"},
        SW_OPT_FLAG_("lan", NULL, &lan, "with --broker: scan the LAN as well"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static char about[2048];
    snprintf(about, sizeof about, "%s\n%s", scan_about, scan_about_broker);
    sw_cli_spec_t spec = {.cmd = "scan", .usage = scan_usage, .about = about,
                          .opts = opts,
                          .globals = "--json: one JSON array: for each device host, ip, "
                                     "netmask, app, board, app_hash, uptime_ms, node, id, "
                                     "rpc_port, services, locked, seen_ms, answered, link (mqtt:// "
                                     "of a broker's node, else null), online and the beacon "
                                     "itself; -q: no summary line; -v: each device as it is "
                                     "found (on stderr)",
                          .after = scan_after, .too_many = "scan takes options only"};
    int rc, status_broker = 0;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    if (lan && !n_brokers)
        return sw__cli_usage(&c, "scan", "--lan goes with --broker (a plain scan is the LAN's)");
    o.n_to = n_to;
    if (o.n_to && o.no_query)
        return sw__cli_usage(&c, "scan", "--to sends the query: it cannot go with --no-query");
    o.to = to;
    o.found = on_found;
    o.u = &c;

    sw_scan_result_t res = {0};
    char err[512];
    // the user's default broker joins a plain scan (LAN + broker)
    static char dflt[320];
    if (!n_brokers && sw_config_get("mqtt", "broker", dflt, sizeof dflt) && dflt[0]) {
        brokers[n_brokers++] = dflt;
        lan = true;
    }
    bool lan_scan = !n_brokers || lan;
    uint64_t t0 = sw__cli_now_ms();
    rc = lan_scan ? sw_scan_run(&o, &res, err, sizeof err) : 0;
    for (size_t i = 0; !rc && i < n_brokers; i++) {
        uint32_t tmo = o.timeout_ms;
        o.timeout_ms = 0; // (a broker's own default: 5 s)
        int brc = sw_scan_broker(brokers[i], &o, &res, err, sizeof err);
        o.timeout_ms = tmo;
        if (brc) {
            sw_cli_error(&c, "scan", "%s", err);
            status_broker = brc == SW_EINVAL ? SW_EXIT_USAGE : SW_EXIT_LINK;
        }
    }
    if (!rc && n_brokers)
        res.elapsed_ms = (uint32_t)(sw__cli_now_ms() - t0);
    if (rc) {
        sw_cli_error(&c, "scan", "%s", err);
        if (rc == SW_EBUSY)
            sw__cli_hint(&c, "another program holds the port without sharing it (micro-swarm's "
                             "scan_devices?); without --no-query the answers still arrive");
        return SW_EXIT_LOCAL;
    }
    sw_scan_sort(&res);
    int status = c.json ? print_json(&res) : SW_EXIT_OK;
    if (!c.json)
        print_table(&res);
    fflush(stdout);
    if (!c.quiet) {
        fprintf(stderr, "%zu device%s in %u ms\n", res.n, res.n == 1 ? "" : "s", (unsigned)res.elapsed_ms);
        if (!res.listening && lan_scan)
            sw__cli_hint(&c, "UDP port %u is held by a program that does not share it: periodic "
                             "beacons were not heard, only answers", (unsigned)o.port);
        if (res.n == 0 && !o.no_query && lan_scan)
            sw__cli_hint(&c, "micro-swarm devices do not answer queries: try --timeout 2.5s");
    }
    if (c.verbose)
        fprintf(stderr, "%u datagram(s), %u rejected, %u query datagram(s) sent\n",
                (unsigned)res.datagrams, (unsigned)res.rejected, (unsigned)res.queries);
    if (!no_cache && res.n) { // (broker nodes are reached by their link, not cached by name)
        int crc = sw_scan_cache_store(&res);
        if (crc && c.verbose) {
            char path[4096] = "?";
            sw_scan_cache_path(path, sizeof path);
            fprintf(stderr, "scan cache %s not written: %s\n", path, sw_strerror(crc));
        }
    }
    if (status == SW_EXIT_OK && o.wait_for && res.n < o.wait_for) {
        sw_cli_error(&c, "scan", "%zu of %u devices found in %u ms", res.n, (unsigned)o.wait_for,
                     (unsigned)res.elapsed_ms);
        status = SW_EXIT_TIMEOUT;
    }
    sw_scan_result_free(&res);
    return status == SW_EXIT_OK && status_broker ? status_broker : status;
}
