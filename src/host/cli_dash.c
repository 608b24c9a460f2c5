// `swarm dashboard`: the fleet in a browser. Parses the command line and runs the server
// (src/host/dash.c) until Ctrl-C.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "dash.h"
#include "dash_mqtt.h"
#include "user_config.h"
#include "swarm/sw.h"

#define MAX_LIST 64

static const char dash_usage[] = "usage: swarm dashboard [options]\n";

static const char dash_about[] =
    "Serves a web page with the fleet: every node this host can reach (the LAN, found as\n"
    "'swarm scan' finds it; the devices of the user config; links given with --link), live;\n"
    "a node's sys.info, commands with their docs, a form to call any command, its config\n"
    "(editable), files, and log; a live plot of any streaming command, several nodes on one\n"
    "chart; and pushes of the --project folders, with a dry run, canaries and per-node progress.\n"
    "The page and its plotting library are inside this binary: nothing is fetched from the\n"
    "internet. The dashboard talks to the nodes itself, with this host's keys (the\n"
    "authenticated mode); no key ever reaches the browser.\n"
    "\n"
    "It listens on 127.0.0.1 (this machine only) unless --bind says otherwise; on any other\n"
    "address the page needs a token, printed in the address at start (--token sets it).\n";

static const char dash_after[] =
    "output: one line on stdout, the page's address:\n"
    "  swarm dashboard: http://127.0.0.1:27580/\n"
    "  swarm dashboard: http://0.0.0.0:27580/?token=3f9c…   (with a token)\n"
    "with --json: {\"url\": …, \"bind\": …, \"port\": N, \"token\": … or null}\n"
    "exit status: 0 stopped by Ctrl-C or SIGTERM, 2 usage, 6 the address cannot be bound\n"
    "\n"
    "examples:\n"
    "  swarm dashboard --project ~/fleet\n"
    "  swarm dashboard --port 0 --link unix:///run/user/1000/kitchen.sock\n"
    "  swarm dashboard --broker mqtt://broker.lab/lab\n"
    "  swarm dashboard --bind 0.0.0.0 --token \"$(cat ~/.config/swarm/dash-token)\"\n";

static bool is_dir(const char *p)
{
    struct stat st;
    return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static bool ipv4(const char *v)
{
    unsigned char tmp[4];
    return inet_pton(AF_INET, v, tmp) == 1;
}

int sw_cli_dashboard(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    static const char *projects[MAX_LIST], *links[MAX_LIST], *scan_to[MAX_LIST], *brokers[MAX_LIST];
    size_t n_projects = 0, n_links = 0, n_scan_to = 0, n_brokers = 0;
    sw_dash_opts_t o = {0};
    uint16_t port = SW_DASH_PORT, scan_port = 0;
    uint32_t scan_every = 2000, offline = 7000;
    uint64_t queue_max = SW_DASH_QUEUE_MAX;
    char port_def[8];
    snprintf(port_def, sizeof port_def, "%u", SW_DASH_PORT);
    const sw_opt_t opts[] = {
        SW_OPT_SECTION_("page:"),
        SW_OPT_STR_("bind", NULL, "ADDR", &o.bind,
                    "the address to listen on (default 127.0.0.1: this machine only); any "
                    "other address needs the token"),
        {.kind = SW_OPT_UINT, .name = "port", .shorts = "p", .arg = "N", .dst = &port,
         .size = sizeof port, .min = 0, .max = 65535, .def = port_def,
         .help = "the TCP port of the page; 0: any free port (the address printed says which)"},
        SW_OPT_STR_("token", NULL, "T", &o.token,
                    "the token the page needs (8-79 letters, digits, '-', '_'); default: none "
                    "on 127.0.0.1, a random one printed at start on any other address"),
        {.kind = SW_OPT_BYTES, .name = "queue-max", .arg = "BYTES", .dst = &queue_max,
         .size = sizeof queue_max, .min = 4096, .max = 1u << 30, .show_def = "4M",
         .help = "bytes queued towards one page before that page is dropped (a page that "
                 "stopped reading)"},
        SW_OPT_SECTION_("nodes:"),
        SW_OPT_LIST_("project", NULL, "DIR", projects, &n_projects,
                     "a project folder the page can push (apps/APP/, boards/BOARD/); repeatable"),
        SW_OPT_LIST_("link", "l", "LINK", links, &n_links,
                     "a device to show besides the LAN: tcp://, unix:// (a mux socket), "
                     "serial://; repeatable"),
        SW_OPT_LIST_("broker", NULL, "URL", brokers, &n_brokers,
                     "list the nodes on this MQTT broker too, mqtt[s]://HOST[:PORT][/FLEET] (no "
                     "FLEET: all), live, and reach them through it; repeatable. Default: the user "
                     "config's [mqtt] broker"),
        SW_OPT_FLAG_("no-config", NULL, &o.no_config,
                     "leave out the devices and the broker of the user config ([devices], "
                     "[mqtt] broker)"),
        SW_OPT_FLAG_("no-scan", NULL, &o.no_scan, "do not look for nodes on the LAN"),
        {.kind = SW_OPT_UINT, .name = "scan-port", .arg = "N", .dst = &scan_port,
         .size = sizeof scan_port, .min = 1, .max = 65535, .show_def = "1139",
         .help = "UDP port of the beacons and queries"},
        {.kind = SW_OPT_LIST, .name = "scan-to", .arg = "ADDR", .dst = scan_to,
         .cap = MAX_LIST, .count = &n_scan_to, .check = ipv4, .expect = "an IPv4 address",
         .help = "send the query to ADDR instead of broadcasting (repeatable)"},
        SW_OPT_DUR_("scan-every", NULL, &scan_every, 100, 600000, "2s",
                    "how often the query goes out"),
        SW_OPT_DUR_("offline-after", NULL, &offline, 1000, 3600000, "7s",
                    "a node not heard from for this long shows as offline (one that drops its "
                    "link at once)"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    sw_cli_spec_t spec = {.cmd = "dashboard", .usage = dash_usage, .about = dash_about,
                          .opts = opts, .globals = "--timeout: per call from the page",
                          .after = dash_after, .pos = NULL, .too_many = "options only"};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    for (size_t i = 0; i < n_projects; i++)
        if (!is_dir(projects[i])) {
            sw_cli_error(&c, "dashboard", "no project directory '%s'", projects[i]);
            return SW_EXIT_LOCAL;
        }
    static char dflt[320];
    if (!n_brokers && !o.no_config && sw_config_get("mqtt", "broker", dflt, sizeof dflt) && dflt[0])
        brokers[n_brokers++] = dflt;
    static sw_dash_source_t sources[MAX_LIST];
    static sw_dash_mqtt_t *bus[MAX_LIST];
    char err[400];
    for (size_t i = 0; i < n_brokers; i++) {
        rc = sw_dash_mqtt_new(brokers[i], c.quiet, &bus[i], &sources[i], err, sizeof err);
        if (rc) {
            for (size_t k = 0; k < i; k++)
                sw_dash_mqtt_free(bus[k]);
            if (rc == SW_EINVAL)
                return sw__cli_usage(&c, "dashboard", "%s", err);
            sw_cli_error(&c, "dashboard", "%s", err);
            return SW_EXIT_LOCAL;
        }
    }
    o.sources = sources;
    o.n_sources = n_brokers;
    o.port = port;
    o.projects = projects;
    o.n_projects = n_projects;
    o.links = links;
    o.n_links = n_links;
    o.scan_port = scan_port;
    o.scan_to = scan_to;
    o.n_scan_to = n_scan_to;
    o.scan_every_ms = scan_every;
    o.offline_ms = offline;
    o.timeout_ms = c.timeout_ms;
    o.queue_max = (size_t)queue_max;
    o.quiet = c.quiet;
    o.json = c.json;
    o.out = stdout;
    rc = sw_dash_run(&o, err, sizeof err);
    for (size_t i = 0; i < n_brokers; i++)
        sw_dash_mqtt_free(bus[i]);
    if (rc) {
        sw_cli_error(&c, "dashboard", "%s", err);
        if (rc == SW_EBUSY)
            sw__cli_hint(&c, "choose another --port (0: any free one) or --bind address");
        return rc == SW_EINVAL ? SW_EXIT_USAGE : SW_EXIT_LOCAL;
    }
    return SW_EXIT_OK;
}
