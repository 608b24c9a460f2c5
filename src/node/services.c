// The node's LAN services (micro-swarm's): which exist, and starting/stopping them by config.
// Each service lives in its own file and registers itself with sw_node_service_add() when it
// runs; a service that cannot start is logged and the node carries on without it.
#include "node_int.h"

typedef struct {
    const char *name;
    int (*start)(sw_node_t *n); // reads its own config switch; 0 also when disabled
    uint32_t off;               // the SW_NODE_NO_* bit that keeps it off for this run
} service_entry_t;

// One line per compiled-in service.
static const service_entry_t services[] = {
    {"ftp", sw_ftp_start, SW_NODE_NO_FTP},
    {"beacon", sw_beacon_start, SW_NODE_NO_BEACON},
    {"mdns", sw_mdns_start, SW_NODE_NO_MDNS},
    {"eval", sw_eval_start, SW_NODE_NO_EVAL},
    {"telnet", sw_telnet_start, SW_NODE_NO_TELNET},
    {NULL, NULL, 0},
};

int sw_services_start(sw_node_t *n)
{
    int failed = 0;
    for (const service_entry_t *e = services; e->name; e++) {
        if (n->opts.no_services & e->off) {
            sw_log(n, SW_LOG_INFO, "%s: off for this run (command line)", e->name);
            continue;
        }
        int rc = e->start(n);
        if (rc) {
            sw_log(n, SW_LOG_ERROR, "%s: not started: %s", e->name, sw_strerror(rc));
            failed++;
        }
    }
    return failed ? SW_EIO : 0;
}

void sw_services_stop(sw_node_t *n)
{
    // the RPC listener is stopped by the node itself, after everything else
    sw_service_t **pp = &n->services;
    while (*pp) {
        sw_service_t *s = *pp;
        if (s == &n->rpc_service) {
            pp = &s->next;
            continue;
        }
        s->stop(n, s); // removes itself from the list
        if (*pp == s)   // a stop that forgot to: do it here so the loop ends
            sw_node_service_remove(n, s);
    }
}
