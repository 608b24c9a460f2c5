// The node's one table of network services (swarm/node.h, sw_node_services): name, the switch
// that turns each off for one run (swarm-node --no-NAME), the config key that turns it on or
// off for good and its default, and what the locked mode does to it. swarm-node builds its
// --no-* options and its --services table from it, the services ask it whether they run, and
// docs/swarm-node.md holds its printout (tests/e2e/test_node_cli.py compares them).
#include <string.h>

#include "node_int.h"
#include "profile.h"

// The two lines of text are for swarm-node --services and docs; a firmware (no command line)
// keeps the rest of the table without them.
#if SW_PROFILE != SW_PROFILE_POSIX
#define TEXT(what, locked) "", ""
#else
#define TEXT(what, locked) what, locked
#endif

#if SW_WITH_NET
const sw_node_service_info_t sw_node_services[] = {
    {"rpc", SW_NODE_NO_RPC, "rpc.enable", true, NULL,
     TEXT("the RPC listener (TCP, rpc.port, default 27587)",
          "stays on; every link needs the key (Noise NNpsk0)")},
    {"ftp", SW_NODE_NO_FTP, "boot.FTPD_ENABLE", true, "auth.ftp",
     TEXT("the FTP server (boot.FTPD_PORT, default 21)",
          "off unless auth.ftp is true (plaintext, cannot be authenticated)")},
    {"telnet", SW_NODE_NO_TELNET, "boot.TELNET_ENABLE", true, "auth.telnet",
     TEXT("the telnet console (boot.TELNET_PORT, default 23)",
          "off unless auth.telnet is true (plaintext, cannot be authenticated)")},
    {"eval", SW_NODE_NO_EVAL, "boot.REMOTE_EVAL_ENABLE", true, "auth.eval",
     TEXT("the remote-eval port (boot.REMOTE_EVAL_PORT, default 1139)",
          "off unless auth.eval is true (plaintext, cannot be authenticated)")},
    {"beacon", SW_NODE_NO_BEACON, "boot.BEACON_ENABLE", true, NULL,
     TEXT("UDP beacons and scan answers (boot.BEACON_DESTINATION_PORT, default 1139)",
          "stays on; says \"locked\": true, no secret; FTP/telnet/eval ports only if they run")},
    {"mdns", SW_NODE_NO_MDNS, "boot.MDNS_ENABLE", true, NULL,
     TEXT("the mDNS responder (HOST.local, UDP 5353)",
          "stays on (names only)")},
};

const size_t sw_node_nservices = sizeof sw_node_services / sizeof sw_node_services[0];
#else
// A build without a network (mcu-serial) has none of these services: no rows, and the table
// stays out of its flash (168 B); sw_node_service finds nothing.
const size_t sw_node_nservices = 0;
#endif

const sw_node_service_info_t *sw_node_service(const char *name)
{
#if SW_WITH_NET
    for (size_t i = 0; i < sw_node_nservices; i++)
        if (!strcmp(sw_node_services[i].name, name))
            return &sw_node_services[i];
#else
    (void)name;
#endif
    return NULL;
}

bool sw_node_service_on(sw_node_t *n, const char *name)
{
    const sw_node_service_info_t *s = sw_node_service(name);
    if (!s || (n->opts.no_services & s->no_bit))
        return false;
    if (!sw_cfg_bool(&n->cfg, s->enable, s->def))
        return false;
    // plaintext services cannot be authenticated: a locked node runs one only when told to
    return !s->allow || !n->locked || sw_cfg_bool(&n->cfg, s->allow, false);
}
