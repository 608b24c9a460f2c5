// The port contract's network functions (include/swarm/port.h) on lwIP's raw API: TCP
// listeners and connections for RPC, UDP endpoints for the beacon and mDNS, the interface
// list; and the Ethernet interface itself (eth.h), addressed by AutoIP (RFC 3927 link-local:
// ARP probes, announcement, conflict defence, all lwIP's autoip.c).
//
// lwIP calls back from inside its input processing, which the main loop drives
// (sw__mps2_net_poll). Datagrams go to the node at once (the loop is not inside a node call
// then). A new connection, its data, "drained" and "closed" are noted and handed to the node
// by the loop afterwards, ended connections before new ones. Received TCP data is kept as
// pbufs while the node has paused the connection, and only what the node has been given is
// acknowledged to lwIP (tcp_recved), so a node that stops reading closes the peer's window
// instead of filling our memory. Closing happens in the loop too, never inside a node call.
//
// Writes: a connection's capacity is lwIP's send buffer (TCP_SND_BUF); conn_room is what
// tcp_write takes now, conn_write takes all or nothing, and sw_node_drained follows once
// everything sent has been acknowledged (port.h, "Writes a port may refuse").
#include <stdio.h>
#include <string.h>

#include "eth.h"
#include "lwip/autoip.h"
#include "lwip/igmp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "mps2_int.h"
#include "netif/ethernet.h"
#include "profile.h"

// the most input handed to the node at once (its fixed input buffer on MCU profiles)
#define FEED_MAX (SW_NODE_LINK_INQ ? SW_NODE_LINK_INQ : 512)

#define CONNS 4     // TCP connections the port tracks (lwIP's MEMP_NUM_TCP_PCB bounds them too)
#define LISTENERS 2
#define UDPS 4
#define RX_BURST 8  // frames read per loop pass: input cannot starve the rest of the loop
#define UDP_MAX 1472 // a datagram in one frame; larger ones are dropped

typedef struct mconn {
    sw_conn_t pub;           // first: the node holds &pub
    struct tcp_pcb *pcb;     // NULL once lwIP has freed it (error, reset)
    struct pbuf *rx;         // received, not yet given to the node
    struct mlistener *from;
    bool used, announce;     // announce: sw_node_accept is due
    bool paused, eof, closing, gone, want_drained, out;
    int err;                 // reported with sw_node_closed
} mconn_t;

typedef struct mlistener {
    sw_listener_t pub;
    struct tcp_pcb *pcb;
    bool used;
} mlistener_t;

typedef struct mudp {
    sw_udp_t pub;
    struct udp_pcb *pcb;
    bool used, mdns;
} mudp_t;

static struct netif nif;
static bool nif_ok;
static mconn_t conns[CONNS];
static mlistener_t listeners[LISTENERS];
static mudp_t udps[UDPS];
static sw_mps2_t *port;
static uint8_t dgram[UDP_MAX];
static const ip4_addr_t mdns_group = {PP_HTONL(LWIP_MAKEU32(224, 0, 0, 251))};

uint32_t sys_now(void) { return sw__mps2_now(); }

void sw__mps2_lwip_assert(const char *msg)
{
    char line[100];
    int n = snprintf(line, sizeof line, "lwip: assertion failed: %s; resetting\n", msg);
    sw__mps2_panic(line, (size_t)n);
}

static int lwip_err(err_t e)
{
    switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: case ERR_BUF: return SW_EFULL;
    case ERR_USE: return SW_EBUSY;
    case ERR_RTE: return SW_EAGAIN; // no address yet (AutoIP still probing)
    case ERR_VAL: case ERR_ARG: return SW_EINVAL;
    case ERR_CONN: case ERR_CLSD: case ERR_RST: case ERR_ABRT: return SW_ECLOSED;
    default: return SW_EIO;
    }
}

static bool parse_addr(const char *s, ip4_addr_t *a)
{
    if (!s || !*s || !strcmp(s, "0.0.0.0")) {
        ip4_addr_set_any(a);
        return true;
    }
    return ip4addr_aton(s, a) != 0;
}

static bool has_addr(void) { return nif_ok && !ip4_addr_isany_val(*netif_ip4_addr(&nif)); }

// --- the interface --------------------------------------------------------------------------

static void on_status(struct netif *n)
{
    char line[64];
    int k;
    if (ip4_addr_isany_val(*netif_ip4_addr(n)))
        k = snprintf(line, sizeof line, "net: %c%c no address (AutoIP probing)", n->name[0], n->name[1]);
    else
        k = snprintf(line, sizeof line, "net: %c%c %s (AutoIP)", n->name[0], n->name[1],
                     ip4addr_ntoa(netif_ip4_addr(n)));
    sw__mps2_log(line, (size_t)k);
}

int sw__mps2_net_init(sw_mps2_t *s)
{
    port = s;
    lwip_init();
    if (!netif_add(&nif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, sw_eth_init, ethernet_input)) {
        static const char m[] = "net: no LAN9118 answers; running without a network";
        sw__mps2_log(m, sizeof m - 1);
        return SW_ENOENT;
    }
    nif_ok = true;
    netif_set_default(&nif);
    netif_set_status_callback(&nif, on_status);
    netif_set_up(&nif);
    netif_set_link_up(&nif); // QEMU's link is always up (a real PHY would report it)
    char line[48];
    int k = snprintf(line, sizeof line, "net: %c%c mac %02x:%02x:%02x:%02x:%02x:%02x", nif.name[0],
                     nif.name[1], nif.hwaddr[0], nif.hwaddr[1], nif.hwaddr[2], nif.hwaddr[3],
                     nif.hwaddr[4], nif.hwaddr[5]);
    sw__mps2_log(line, (size_t)k);
    autoip_start(&nif);
    return 0;
}

// --- TCP --------------------------------------------------------------------------------------

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    mconn_t *c = arg;
    (void)pcb;
    if (!p) {
        c->eof = true;
        return ERR_OK;
    }
    if (err != ERR_OK || c->closing) { // closing: nobody reads any more
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    // Held input moves out of the RX pool into the heap, exactly sized: a peer sending many
    // small segments while the node is paused would otherwise hold every pool buffer, and
    // the acknowledgements the node waits for (to resume) could no longer be received.
    struct pbuf *q = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
    if (q) {
        pbuf_free(p);
        p = q;
    }
    if (c->rx)
        pbuf_cat(c->rx, p);
    else
        c->rx = p;
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    mconn_t *c = arg;
    c->pcb = NULL; // lwIP has freed it
    c->gone = true;
    if (!c->err)
        c->err = err == ERR_RST || err == ERR_ABRT ? SW_ECLOSED : lwip_err(err);
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    mlistener_t *l = arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    mconn_t *c = NULL;
    for (int i = 0; i < CONNS && !c; i++)
        if (!conns[i].used)
            c = &conns[i];
    if (!c || !l->used) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    memset(c, 0, sizeof *c);
    c->used = c->announce = true;
    c->pub.kind = SW_CONN_TCP;
    c->pcb = pcb;
    c->from = l;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb); // replies are whole messages: send them at once
    return ERR_OK;
}

int sw__mps2_tcp_listen(void *ctx, const char *addr, uint16_t tport, sw_listener_t **out)
{
    (void)ctx;
    ip4_addr_t a;
    if (!parse_addr(addr, &a))
        return SW_EINVAL;
    mlistener_t *l = NULL;
    for (int i = 0; i < LISTENERS && !l; i++)
        if (!listeners[i].used)
            l = &listeners[i];
    if (!l)
        return SW_EFULL;
    struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return SW_EFULL;
    ip_addr_t ia;
    ip_addr_copy_from_ip4(ia, a);
    err_t e = tcp_bind(pcb, &ia, tport);
    if (e != ERR_OK) {
        tcp_close(pcb);
        return lwip_err(e);
    }
    struct tcp_pcb *lp = tcp_listen_with_backlog(pcb, TCP_LISTEN_BACKLOG);
    if (!lp) {
        tcp_close(pcb);
        return SW_EFULL;
    }
    memset(l, 0, sizeof *l);
    l->used = true;
    l->pcb = lp;
    tcp_arg(lp, l);
    tcp_accept(lp, on_accept);
    *out = &l->pub;
    return 0;
}

void sw__mps2_listener_close(void *ctx, sw_listener_t *pub)
{
    (void)ctx;
    mlistener_t *l = (mlistener_t *)pub;
    if (l->pcb) {
        tcp_arg(l->pcb, NULL);
        tcp_accept(l->pcb, NULL);
        tcp_close(l->pcb); // a listening pcb always closes
    }
    // connections it accepted that the node has not been told of are refused
    for (int i = 0; i < CONNS; i++)
        if (conns[i].used && conns[i].from == l) {
            conns[i].from = NULL;
            if (conns[i].announce)
                conns[i].closing = true;
        }
    memset(l, 0, sizeof *l);
}

uint16_t sw__mps2_listener_port(void *ctx, sw_listener_t *pub)
{
    (void)ctx;
    mlistener_t *l = (mlistener_t *)pub;
    return l->pcb ? l->pcb->local_port : 0;
}

static bool tcp_usable(const mconn_t *c) { return c->pcb && !c->closing && !c->gone; }

// What tcp_write takes now: the send buffer, unless the segment queue is nearly full (a write
// may add two pbufs to it).
static size_t tcp_room(const mconn_t *c)
{
    if (!tcp_usable(c) || tcp_sndqueuelen(c->pcb) + 2 > TCP_SND_QUEUELEN)
        return 0;
    return tcp_sndbuf(c->pcb);
}

static bool tcp_idle(const mconn_t *c)
{
    return !c->pcb || (tcp_sndbuf(c->pcb) == TCP_SND_BUF && !tcp_sndqueuelen(c->pcb));
}

int sw__mps2_tcp_write(void *ctx, sw_conn_t *pub, const void *p, size_t n)
{
    (void)ctx;
    mconn_t *c = (mconn_t *)pub;
    if (!tcp_usable(c))
        return SW_ECLOSED;
    if (!n)
        return 0;
    if (n > tcp_room(c)) {
        c->want_drained = true;
        return SW_EAGAIN;
    }
    err_t e = tcp_write(c->pcb, p, (u16_t)n, TCP_WRITE_FLAG_COPY);
    if (e == ERR_MEM) { // the heap, not the send buffer, ran out: like no room
        c->want_drained = true;
        return SW_EAGAIN;
    }
    if (e != ERR_OK)
        return lwip_err(e);
    c->out = c->want_drained = true;
    return 0;
}

size_t sw__mps2_tcp_room(void *ctx, sw_conn_t *pub)
{
    (void)ctx;
    mconn_t *c = (mconn_t *)pub;
    size_t r = tcp_room(c);
    if (r < TCP_SND_BUF && tcp_usable(c))
        c->want_drained = true; // whoever saw less than the capacity hears when it is back
    return r;
}

size_t sw__mps2_tcp_queued(void *ctx, sw_conn_t *pub)
{
    (void)ctx;
    mconn_t *c = (mconn_t *)pub;
    return c->pcb ? TCP_SND_BUF - tcp_sndbuf(c->pcb) : 0;
}

void sw__mps2_tcp_pause(void *ctx, sw_conn_t *pub, bool paused)
{
    (void)ctx;
    ((mconn_t *)pub)->paused = paused; // input stays in c->rx, and the window closes
}

void sw__mps2_tcp_close(void *ctx, sw_conn_t *pub)
{
    (void)ctx;
    ((mconn_t *)pub)->closing = true; // the loop closes (sw_node_closed must not come from here)
}

size_t sw__mps2_tcp_peer(void *ctx, sw_conn_t *pub, char *buf, size_t cap)
{
    (void)ctx;
    mconn_t *c = (mconn_t *)pub;
    if (!cap)
        return 0;
    if (!c->pcb) {
        buf[0] = 0;
        return 0;
    }
    char ip[16];
    ip4addr_ntoa_r(ip_2_ip4(&c->pcb->remote_ip), ip, sizeof ip);
    int k = snprintf(buf, cap, "%s:%u", ip, (unsigned)c->pcb->remote_port);
    return k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
}

size_t sw__mps2_tcp_local(void *ctx, sw_conn_t *pub, char *buf, size_t cap)
{
    (void)ctx;
    mconn_t *c = (mconn_t *)pub;
    if (!cap)
        return 0;
    buf[0] = 0;
    if (c->pcb && !ip4addr_ntoa_r(ip_2_ip4(&c->pcb->local_ip), buf, (int)cap))
        buf[0] = 0;
    return strlen(buf);
}

// Ends a connection: unread input is acknowledged first (else lwIP answers the close with a
// reset), queued output goes out before the FIN. Returns false if lwIP had no memory for the
// FIN yet (the next pass tries again).
static bool tcp_finish(mconn_t *c)
{
    struct tcp_pcb *pcb = c->pcb;
    if (!pcb)
        return true;
    if (c->rx) {
        tcp_recved(pcb, c->rx->tot_len);
        pbuf_free(c->rx);
        c->rx = NULL;
    }
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    if (tcp_close(pcb) != ERR_OK) {
        tcp_arg(pcb, c);
        tcp_recv(pcb, on_recv);
        tcp_err(pcb, on_err);
        return false;
    }
    c->pcb = NULL;
    return true;
}

// One connection's events, in order: accepted, data (while not paused), drained, end.
static void conn_poll(sw_node_t *node, mconn_t *c)
{
    if (c->announce && !c->closing && !c->gone) { // (one reset before the node heard of it: no news)
        c->announce = false;
        if (!c->from) { // its listener went away meanwhile
            c->closing = true;
        } else {
            sw_node_accept(node, &c->from->pub, &c->pub);
        }
    }
    while (c->rx && !c->paused && !c->closing && !c->announce && c->used) {
        struct pbuf *q = c->rx;
        // at most SW_NODE_LINK_INQ bytes per call: once the node pauses, all it can keep is the
        // chunk in hand (PORTING.md); the rest of a segment stays here, its window closed
        uint16_t k = q->len < FEED_MAX ? q->len : FEED_MAX;
        if (c->pcb)
            tcp_recved(c->pcb, k);
        sw_node_data(node, &c->pub, q->payload, k);
        if (c->rx != q) // the node's callbacks closed the connection meanwhile
            break;
        if (k < q->len) {
            pbuf_remove_header(q, k);
            continue;
        }
        struct pbuf *rest = q->next;
        if (rest) // pbuf_dechain drops the chain's reference to the rest (pbuf_cat made it
            pbuf_ref(rest); // ours): take one of our own first
        pbuf_dechain(q);
        c->rx = rest;
        pbuf_free(q);
    }
    if (c->want_drained && !c->closing && !c->gone && c->pcb && tcp_idle(c)) {
        c->want_drained = false;
        sw_node_drained(node, &c->pub);
    }
    if (c->eof && !c->rx && !c->closing && !c->gone)
        c->closing = true; // the peer is done: send what is queued, then close
    if (c->gone || (c->closing && tcp_finish(c))) {
        c->pcb = NULL; // gone: lwIP freed it; closing: tcp_finish let it go
        if (c->rx)
            pbuf_free(c->rx);
        c->rx = NULL;
        if (!c->announce) // a connection the node never saw needs no goodbye
            sw_node_closed(node, &c->pub, c->err);
        memset(c, 0, sizeof *c);
    }
}

// --- UDP --------------------------------------------------------------------------------------

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *from, u16_t fport)
{
    mudp_t *u = arg;
    (void)pcb;
    if (u->used && port->node && p->tot_len <= sizeof dgram) {
        char ip[16];
        ip4addr_ntoa_r(ip_2_ip4(from), ip, sizeof ip);
        const uint8_t *d = p->payload;
        if (p->len != p->tot_len)
            d = dgram, pbuf_copy_partial(p, dgram, p->tot_len, 0);
        sw_node_udp(port->node, &u->pub, ip, fport, d, p->tot_len);
    }
    pbuf_free(p);
}

static void mdns_join(mudp_t *u)
{
    // igmp_joingroup_netif counts joins: one per endpoint, undone by udp_close
    if (!u->mdns && igmp_joingroup_netif(&nif, &mdns_group) == ERR_OK)
        u->mdns = true;
}

int sw__mps2_udp_open(void *ctx, const char *addr, uint16_t uport, int flags, sw_udp_t **out)
{
    (void)ctx;
    if (!nif_ok)
        return SW_ENOTSUP; // no network (net=off, or no NIC found): lwIP is not even initialised
    ip4_addr_t a;
    if (!parse_addr(addr, &a))
        return SW_EINVAL;
    mudp_t *u = NULL;
    for (int i = 0; i < UDPS && !u; i++)
        if (!udps[i].used)
            u = &udps[i];
    if (!u)
        return SW_EFULL;
    struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_V4);
    if (!pcb)
        return SW_EFULL;
    ip_addr_t ia;
    ip_addr_copy_from_ip4(ia, a);
    err_t e = udp_bind(pcb, &ia, uport);
    if (e != ERR_OK) {
        udp_remove(pcb);
        return lwip_err(e);
    }
    memset(u, 0, sizeof *u);
    u->used = true;
    u->pcb = pcb;
    // broadcasts are always allowed (IP_SOF_BROADCAST off); SW_UDP_REUSE has no meaning with
    // one owner of the stack
    if (flags & SW_UDP_MDNS) {
        udp_set_multicast_ttl(pcb, 255);
        if (nif_ok)
            mdns_join(u);
    }
    udp_recv(pcb, on_udp, u);
    *out = &u->pub;
    return 0;
}

int sw__mps2_udp_send(void *ctx, sw_udp_t *pub, const char *ip, uint16_t uport, const void *p, size_t n)
{
    (void)ctx;
    mudp_t *u = (mudp_t *)pub;
    ip4_addr_t a;
    if (!u->used)
        return SW_ECLOSED;
    if (!ip4addr_aton(ip, &a))
        return SW_EINVAL;
    if (n > UDP_MAX)
        return SW_ETOOBIG;
    if (!has_addr())
        return SW_EAGAIN; // AutoIP has not settled: nothing leaves from 0.0.0.0
    struct pbuf *b = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
    if (!b)
        return SW_EFULL;
    memcpy(b->payload, p, n);
    ip_addr_t ia;
    ip_addr_copy_from_ip4(ia, a);
    err_t e = udp_sendto(u->pcb, b, &ia, uport);
    pbuf_free(b);
    return lwip_err(e);
}

void sw__mps2_udp_close(void *ctx, sw_udp_t *pub)
{
    (void)ctx;
    mudp_t *u = (mudp_t *)pub;
    if (!u->used)
        return;
    if (u->mdns)
        igmp_leavegroup_netif(&nif, &mdns_group);
    udp_remove(u->pcb);
    memset(u, 0, sizeof *u);
}

size_t sw__mps2_netifs(void *ctx, sw_netif_t *out, size_t max)
{
    (void)ctx;
    if (!max || !has_addr())
        return 0;
    memset(out, 0, sizeof *out);
    memcpy(out->name, "eth0", 5);
    ip4addr_ntoa_r(netif_ip4_addr(&nif), out->addr, sizeof out->addr);
    ip4addr_ntoa_r(netif_ip4_netmask(&nif), out->netmask, sizeof out->netmask);
    ip4_addr_t b;
    ip4_addr_set_u32(&b, ip4_addr_get_u32(netif_ip4_addr(&nif)) | ~ip4_addr_get_u32(netif_ip4_netmask(&nif)));
    ip4addr_ntoa_r(&b, out->broadcast, sizeof out->broadcast);
    memcpy(out->mac, nif.hwaddr, 6);
    return 1;
}

// --- the loop's part -------------------------------------------------------------------------

void sw__mps2_net_poll(sw_node_t *node)
{
    if (!nif_ok)
        return;
    sw_eth_poll(&nif, RX_BURST);
    sys_check_timeouts();
    // connections that ended before new ones start: a client that closes and connects again
    // at once must not find its old connection still counted against limits.clients
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < CONNS; i++)
            if (conns[i].used && conns[i].announce == (pass == 1))
                conn_poll(node, &conns[i]);
    // what the node wrote during this pass goes out in as few segments as it can
    for (int i = 0; i < CONNS; i++)
        if (conns[i].used && conns[i].out && conns[i].pcb) {
            conns[i].out = false;
            tcp_output(conns[i].pcb);
        }
}

uint32_t sw__mps2_net_sleep_ms(void) { return nif_ok ? sys_timeouts_sleeptime() : UINT32_MAX; }

bool sw__mps2_net_pending(void)
{
    if (!nif_ok)
        return false;
    if (sw_eth_pending())
        return true;
    for (int i = 0; i < CONNS; i++) {
        const mconn_t *c = &conns[i];
        if (!c->used)
            continue;
        if (c->announce || c->gone || c->closing || c->out || (c->rx && !c->paused) || (c->eof && !c->rx))
            return true;
        if (c->want_drained && c->pcb && tcp_idle(c))
            return true;
    }
    return false;
}

