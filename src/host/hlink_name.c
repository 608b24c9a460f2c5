// Bare host names ("node-7", "node-7:27600") for the host links: the scan cache first (a name
// `swarm scan` saw, with its address and RPC port), then NAME.local over mDNS, then DNS as the
// name stands (getaddrinfo: /etc/hosts, DNS, and .local names where nss-mdns is installed).
//
// NAME.local goes through getaddrinfo only where nsswitch.conf names an mdns module and its
// avahi daemon runs; otherwise glibc would ask unicast DNS for .local names (slow where no DNS server answers, and
// pointless), so a one-shot mDNS query of our own asks the LAN instead.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hlink_int.h"
#include "scan.h"

#define RPC_DEFAULT_PORT 27587 // a URI without a port has this one (uri.c)
#define MDNS_WAIT_MS 300

static bool is_address(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

// True if nsswitch.conf's hosts line has an mdns module (libnss-mdns) and the avahi daemon it
// asks is there.
static bool nss_mdns(void)
{
    if (access("/run/avahi-daemon/socket", F_OK) != 0)
        return false;
    FILE *f = fopen("/etc/nsswitch.conf", "r");
    if (!f)
        return false;
    char line[512];
    bool yes = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "hosts:", 6) && strstr(line, "mdns"))
            yes = true;
    fclose(f);
    return yes;
}

static bool lookup_local(const char *name, char *ip, size_t cap)
{
    if (!nss_mdns())
        return sw_scan_mdns_lookup(name, ip, cap, MDNS_WAIT_MS) == 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return false;
    bool ok = inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, (socklen_t)cap) != NULL;
    freeaddrinfo(res);
    return ok;
}

int sw__hlink_bare_name(sw_uri_t *u)
{
    if (u->kind != SW_URI_TCP || !u->host[0] || is_address(u->host) || !strcasecmp(u->host, "localhost"))
        return SW_ENOENT;
    char ip[INET_ADDRSTRLEN];
    uint16_t rpc = 0;
    if (sw_scan_cache_find(u->host, ip, sizeof ip, &rpc) == 0) {
        if (u->port == RPC_DEFAULT_PORT && rpc) // the port the node announced, unless one was given
            u->port = rpc;
        snprintf(u->host, sizeof u->host, "%s", ip);
        return 0;
    }
    size_t len = strlen(u->host);
    bool dotted = strchr(u->host, '.') != NULL;
    bool local = len > 6 && !strcasecmp(u->host + len - 6, ".local");
    if (dotted && !local)
        return SW_ENOENT; // a DNS name
    char name[300];
    snprintf(name, sizeof name, local ? "%s" : "%s.local", u->host);
    if (!lookup_local(name, ip, sizeof ip))
        return SW_ENOENT;
    snprintf(u->host, sizeof u->host, "%s", ip);
    return 0;
}
