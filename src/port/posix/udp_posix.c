// UDP endpoints of the POSIX port (discovery beacons and queries, mDNS) and the interface list
// the node puts into its beacon: libuv UDP handles; getifaddrs for the addresses.
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "posix_int.h"

struct sw_pudp {
    sw_udp_t pub; // first: the node holds &pub
    sw_posix_t *p;
    sw_pudp_t *next;
    uv_udp_t h;
    bool closed; // uv_close called: no more sends or receives
    bool known;  // the node holds it: kept (closed) until the node releases it
    bool gone;   // the handle's close has completed
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sw_pudp_t *u = h->data;
    // consumed synchronously by the node, like TCP reads: the shared read buffer will do
    buf->base = (char *)u->p->rbuf;
    buf->len = sizeof u->p->rbuf;
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    (void)flags;
    sw_pudp_t *u = h->data;
    if (n <= 0 || !from || from->sa_family != AF_INET || u->closed || !u->p->node)
        return;
    const struct sockaddr_in *a = (const struct sockaddr_in *)from;
    char ip[INET_ADDRSTRLEN];
    uv_ip4_name(a, ip, sizeof ip);
    sw_node_udp(u->p->node, &u->pub, ip, ntohs(a->sin_port), (const uint8_t *)buf->base, (size_t)n);
}

// Every IPv4 address of the interfaces that are up (for IP_ADD_MEMBERSHIP on each).
static void join_mdns(sw_pudp_t *u)
{
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            !(i->ifa_flags & IFF_MULTICAST))
            continue;
        char ip[INET_ADDRSTRLEN];
        uv_ip4_name((const struct sockaddr_in *)i->ifa_addr, ip, sizeof ip);
        int r = uv_udp_set_membership(&u->h, "224.0.0.251", ip, UV_JOIN_GROUP);
        if (r < 0 && r != UV_EADDRINUSE)
            sw__posix_say("mdns: joining 224.0.0.251 on %s (%s): %s", i->ifa_name, ip, uv_strerror(r));
    }
    freeifaddrs(ifs);
}

int sw__posix_udp_open(void *ctx, const char *addr, uint16_t port, int flags, sw_udp_t **out)
{
    sw_posix_t *p = ctx;
    *out = NULL;
    if (p->shutdown)
        return SW_ECLOSED;
    struct sockaddr_in a;
    if (uv_ip4_addr(addr && *addr ? addr : "0.0.0.0", port, &a) != 0)
        return SW_EINVAL;
    int g = sw__posix_net_guard("UDP bind to", (const struct sockaddr *)&a);
    if (!g && (flags & SW_UDP_MDNS)) // joins 224.0.0.251 on every interface
        g = sw__posix_net_guard("joining the mDNS group 224.0.0.251", NULL);
    if (g)
        return g;
    sw_pudp_t *u = calloc(1, sizeof *u);
    if (!u)
        return SW_EFULL;
    u->p = p;
    u->known = true;
    int r = uv_udp_init_ex(&p->loop, &u->h, AF_INET);
    if (r < 0) {
        free(u);
        return sw__posix_uverr(r);
    }
    u->h.data = u;
    u->next = p->udps;
    p->udps = u;
    if (flags & (SW_UDP_REUSE | SW_UDP_MDNS)) {
        // several scanners (and avahi beside our mDNS) may share a port
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)&u->h, &fd) == 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    r = uv_udp_bind(&u->h, (const struct sockaddr *)&a,
                    (flags & (SW_UDP_REUSE | SW_UDP_MDNS)) ? UV_UDP_REUSEADDR : 0);
    if (r == 0 && (flags & SW_UDP_BROADCAST))
        r = uv_udp_set_broadcast(&u->h, 1);
    if (r == 0 && (flags & SW_UDP_MDNS)) {
        join_mdns(u);
        uv_udp_set_multicast_ttl(&u->h, 255);
        uv_udp_set_multicast_loop(&u->h, 1); // responders on one host must hear each other
    }
    if (r == 0)
        r = uv_udp_recv_start(&u->h, on_alloc, on_recv);
    if (r < 0) {
        sw__posix_udp_close(p, &u->pub);
        return sw__posix_uverr(r);
    }
    *out = &u->pub;
    return 0;
}

int sw__posix_udp_send(void *ctx, sw_udp_t *pub, const char *ip, uint16_t port, const void *data, size_t n)
{
    (void)ctx;
    sw_pudp_t *u = (sw_pudp_t *)pub;
    if (u->closed)
        return SW_ECLOSED;
    struct sockaddr_in a;
    if (uv_ip4_addr(ip, port, &a) != 0)
        return SW_EINVAL;
    int g = sw__posix_net_guard("send to", (const struct sockaddr *)&a);
    if (g)
        return g;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
    // Datagrams are lossy anyway: if the kernel cannot take one now, it is dropped.
    int r = uv_udp_try_send(&u->h, &b, 1, (const struct sockaddr *)&a);
    return r < 0 ? sw__posix_uverr(r) : 0;
}

static void udp_free(sw_pudp_t *u)
{
    sw_pudp_t **pp = &u->p->udps;
    while (*pp && *pp != u)
        pp = &(*pp)->next;
    if (*pp)
        *pp = u->next;
    free(u);
}

// Endpoints closed by a shutdown stay allocated while the node still holds them (it releases
// them with udp_close when its services stop, which may come after the port shut down).
static void on_udp_closed(uv_handle_t *h)
{
    sw_pudp_t *u = h->data;
    u->gone = true;
    if (!u->known || !u->p->node)
        udp_free(u);
}

void sw__posix_udp_close(void *ctx, sw_udp_t *pub)
{
    (void)ctx;
    sw_pudp_t *u = (sw_pudp_t *)pub;
    if (!u || !u->known)
        return;
    u->known = false;
    if (u->gone) {
        udp_free(u);
    } else if (!u->closed) {
        u->closed = true;
        uv_close((uv_handle_t *)&u->h, on_udp_closed);
    }
}

void sw__posix_udp_shutdown(sw_posix_t *p)
{
    sw_pudp_t *next;
    for (sw_pudp_t *u = p->udps; u; u = next) {
        next = u->next;
        if (!u->closed) {
            u->closed = true;
            uv_close((uv_handle_t *)&u->h, on_udp_closed);
        } else if (u->gone && !p->node) { // the port is being closed: nobody holds it now
            udp_free(u);
        }
    }
}

size_t sw__posix_netifs(void *ctx, sw_netif_t *out, size_t max)
{
    (void)ctx;
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) != 0)
        return 0;
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) { // real interfaces first, loopback last
        for (i = ifs; i && n < max; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
                continue;
            if (((i->ifa_flags & IFF_LOOPBACK) != 0) != (pass == 1))
                continue;
            sw_netif_t *f = &out[n++];
            memset(f, 0, sizeof *f);
            snprintf(f->name, sizeof f->name, "%s", i->ifa_name);
            uv_ip4_name((const struct sockaddr_in *)i->ifa_addr, f->addr, sizeof f->addr);
            if (i->ifa_netmask)
                uv_ip4_name((const struct sockaddr_in *)i->ifa_netmask, f->netmask, sizeof f->netmask);
            if ((i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr)
                uv_ip4_name((const struct sockaddr_in *)i->ifa_broadaddr, f->broadcast, sizeof f->broadcast);
            for (struct ifaddrs *m = ifs; m; m = m->ifa_next) // the MAC from the AF_PACKET entry
                if (m->ifa_addr && m->ifa_addr->sa_family == AF_PACKET && !strcmp(m->ifa_name, i->ifa_name)) {
                    const struct sockaddr_ll *ll = (const struct sockaddr_ll *)m->ifa_addr;
                    if (ll->sll_halen == 6)
                        memcpy(f->mac, ll->sll_addr, 6);
                }
        }
    }
    freeifaddrs(ifs);
    return n;
}
