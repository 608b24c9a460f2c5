// The devices a command for several devices addresses (swarm push and the fleet commands):
// the selection options (--host, --link, --to, --scan-timeout, --scan-to) as option-table
// rows, and the device list they give (src/host/cli_devs.c). Not a public contract.
#ifndef SW_HOST_CLI_DEVS_H
#define SW_HOST_CLI_DEVS_H

#include "cli_opt.h"
#include "push.h"

#define SW_CLI_SEL_MAX 1024 // --host / --link / --to entries

typedef struct sw_cli_sel {
    const char *hosts[SW_CLI_SEL_MAX];
    size_t n_hosts;
    const char *links[SW_CLI_SEL_MAX];
    size_t n_links;
    const char *to[SW_CLI_SEL_MAX];
    size_t n_to;
    const char *scan_to[64];
    size_t n_scan_to;
    const char *brokers[8];   // --broker: scan these MQTT brokers instead of the LAN
    size_t n_brokers;
    uint32_t scan_timeout_ms; // 0: the default scan
    uint32_t scan_ms;         // filled: how long the scan took (0: none)
    bool lan_later;           // in: a selection that is only a LAN scan is not scanned here:
    bool lan_scan;            //   out: it is that; the caller scans (sw__cli_scan_opts) while it
                              //   works on the devices found so far (push)
} sw_cli_sel_t;

// The rows of --host, --link and --to (writing into the sw_cli_sel_t o) …
#define SW_CLI_SEL_DEVICES_(o) \
    SW_OPT_LIST_("host", NULL, "NAME", (o).hosts, &(o).n_hosts, \
                 "this device (repeatable): found by the scan (which ends once every named " \
                 "one answered), else by name (scan cache, NAME.local, DNS); unreachable ones " \
                 "are listed as offline"), \
    SW_OPT_LIST_("link", NULL, "URI", (o).links, &(o).n_links, \
                 "this link (repeatable): tcp://HOST[:PORT], serial:///dev/ttyX, mqtt://BROKER/FLEET/HOST, " \
                 "unix:///PATH of a swarm mux; no scan"), \
    SW_OPT_LIST_("to", NULL, "SELECTOR", (o).to, &(o).n_to, \
                 "only the devices that match (repeatable: any of them): a glob on the " \
                 "host name ('node-*'), app=GLOB, board=GLOB, uri=GLOB")
// … and of --scan-timeout and --scan-to.
#define SW_CLI_SEL_SCAN_(o) \
    {.kind = SW_OPT_DURATION, .name = "scan-timeout", .arg = "TIME", \
     .dst = &(o).scan_timeout_ms, .size = sizeof (o).scan_timeout_ms, .min = 1, .max = 600000, \
     .flags = SW_OPT_F_LEGACY_MS, \
     .show_def = "1s at most, ending 300ms after the last answer; 1s more if nobody " \
                 "answered", \
     .help = "scan for TIME"}, \
    SW_OPT_LIST_("scan-to", NULL, "ADDR", (o).scan_to, &(o).n_scan_to, \
                 "send the scan's query to ADDR instead of broadcasting (repeatable)"), \
    {.kind = SW_OPT_LIST, .name = "broker", .arg = "URL", .dst = (o).brokers, .cap = 8, \
     .count = &(o).n_brokers, \
     .help = "the nodes on this MQTT broker, mqtt[s]://HOST[:PORT][/FLEET], instead of the " \
             "LAN (repeatable; default: the user config's [mqtt] broker, with the LAN)"}

// The device list of a selection: the --link devices, the --host devices (from the scan, or by
// name), or without either every device the scan found; natural name order. Returns 0 with
// *out (malloc'd) and *n (scan-only devices that are no swarm nodes come back IGNORED,
// counted in *not_swarm), or an exit status after printing why (cmd names the command).
int sw__cli_find_devices(const sw_cli_t *c, const char *cmd, sw_cli_sel_t *o, sw_push_dev_t **out,
                         size_t *n, size_t *not_swarm);
// The options of a selection's LAN scan (a push's settle time, --scan-timeout, --scan-to).
struct sw_scan_opts;
struct sw_scan_rec;
void sw__cli_scan_opts(const sw_cli_sel_t *o, struct sw_scan_opts *so);
// A device of the list from one scan record; true when it is no swarm node with RPC (then
// settled IGNORED; a node whose last will is on a broker: OFFLINE).
bool sw__cli_dev_from_rec(sw_push_dev_t *d, const struct sw_scan_rec *r);
// Natural name order, as sw__cli_find_devices returns them.
void sw__cli_sort_devs(sw_push_dev_t *devs, size_t n);

#endif
