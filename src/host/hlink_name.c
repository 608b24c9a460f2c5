// Bare host names ("kitchen", "kitchen:27600"): the hook where the LAN discovery issue plugs
// in the scan cache and HOST.local. Until then every bare name goes to DNS (getaddrinfo, which
// also reads /etc/hosts and, where nss-mdns is installed, answers .local names).
#define _GNU_SOURCE
#include "hlink_int.h"

int sw__hlink_bare_name(sw_uri_t *u)
{
    (void)u;
    return SW_ENOENT;
}
