// swarm dashboard: the node table — the LAN's beacons and the answers to a periodic query
// (as `swarm scan` finds nodes), the sources that feed beacons from elsewhere (a broker), and
// what pages are told when a node appears, changes, goes offline or leaves.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dash_int.h"
#include "esc.h"
#include "mpjson.h"
#include "scan.h"
#include "swarm/beacon.h"
#include "swarm/sw.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// The fleet

// Strings from devices go to the page escaped: a WebSocket text frame must be valid UTF-8,
// and a device's bytes need not be.
void sw__dash_add_str(cJSON *o, const char *k, const char *v)
{
    char buf[1024];
    cJSON_AddStringToObject(o, k, sw__esc_str(buf, sizeof buf, v));
}

cJSON *sw__dash_node_json(const dnode_t *n)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    sw__dash_add_str(o, "key", n->key);
    sw__dash_add_str(o, "id", n->id);
    sw__dash_add_str(o, "name", n->name);
    sw__dash_add_str(o, "uri", n->uri);
    sw__dash_add_str(o, "ip", n->ip);
    sw__dash_add_str(o, "app", n->app);
    sw__dash_add_str(o, "hash", n->hash);
    char v[9] = {0}; // the app's version: the start of its content hash
    memcpy(v, n->hash, strnlen(n->hash, 8));
    sw__dash_add_str(o, "version", v);
    sw__dash_add_str(o, "node", n->node);
    sw__dash_add_str(o, "board", n->board);
    if (n->has_uptime)
        cJSON_AddNumberToObject(o, "uptime_ms", (double)(n->uptime_ms + (sw__dash_now(n->d) - n->seen)));
    else
        cJSON_AddNullToObject(o, "uptime_ms");
    cJSON_AddBoolToObject(o, "online", n->online);
    cJSON_AddBoolToObject(o, "locked", n->locked);
    cJSON_AddBoolToObject(o, "swarm", n->swarm);
    sw__dash_add_str(o, "source", n->source);
    return o;
}

void sw__dash_node_changed(dnode_t *n)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddStringToObject(j, "ev", "node");
    cJSON_AddItemToObject(j, "node", sw__dash_node_json(n));
    sw__dash_broadcast(n->d, j);
}

cJSON *sw__dash_fleet_json(dash_t *d)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "ev", "fleet");
    cJSON *a = cJSON_AddArrayToObject(j, "nodes");
    for (size_t i = 0; i < d->n; i++)
        cJSON_AddItemToArray(a, sw__dash_node_json(d->nodes[i]));
    return j;
}

dnode_t *sw__dash_node_find(dash_t *d, const char *key)
{
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->nodes[i]->key, key))
            return d->nodes[i];
    return NULL;
}

// Makes room in a full table: the LAN node unheard for longest, if it is offline and has no
// link (so no call refers to it), leaves; pages hear {"ev": "gone"}. False: none can go.
static bool node_evict(dash_t *d)
{
    size_t best = d->n;
    for (size_t i = 0; i < d->n; i++) {
        dnode_t *x = d->nodes[i];
        if (!x->fixed && !x->online && !x->link && (best == d->n || x->seen < d->nodes[best]->seen))
            best = i;
    }
    if (best == d->n)
        return false;
    dnode_t *x = d->nodes[best];
    cJSON *j = cJSON_CreateObject();
    if (j) {
        cJSON_AddStringToObject(j, "ev", "gone");
        sw__dash_add_str(j, "key", x->key);
        sw__dash_broadcast(d, j);
    }
    memmove(&d->nodes[best], &d->nodes[best + 1], (d->n - best - 1) * sizeof *d->nodes);
    d->n--;
    free(x);
    return true;
}

dnode_t *sw__dash_node_add(dash_t *d, const char *key)
{
    // the table is bounded (anyone on the LAN can send beacons with new ids): a full one
    // gives up its stalest offline entry, or takes no more
    if (d->n >= SW_DASH_NODES_MAX && !node_evict(d))
        return NULL;
    if (!(d->n & (d->n + 1))) { // grow at 0, 1, 3, 7, …: capacity 2n+2
        dnode_t **nn = realloc(d->nodes, (2 * d->n + 2) * sizeof *nn);
        if (!nn)
            return NULL;
        d->nodes = nn;
    }
    dnode_t *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->d = d;
    snprintf(n->key, sizeof n->key, "%s", key);
    d->nodes[d->n++] = n;
    return n;
}

void sw__dash_set_online(dnode_t *n, bool on)
{
    n->seen = on ? sw__dash_now(n->d) : n->seen;
    if (n->online != on) {
        n->online = on;
        sw__dash_node_changed(n);
    }
}


// A key the page can send back (sw_dash_req_parse's rule).
static bool key_ok(const char *s)
{
    bool ok = s[0] && strlen(s) < SW_DASH_KEY_MAX;
    for (const char *q = s; ok && *q; q++)
        ok = *q > 0x20 && *q < 0x7f && *q != '"' && *q != '\\';
    return ok;
}

// Two swarm ids that say the rows are different nodes (both known, and not the same).
static bool ids_differ(const char *a, const char *b)
{
    return a[0] && b[0] && strcmp(a, b);
}

// The row that stands for r's node, whatever way it was heard first: the same swarm id; else
// the same link (a --link or config device at that address, a broker's topic); else the same
// host name on a row that is offline or a config device — a node without an id that came
// back at another address, or a config device given by name. Two rows online under one name
// and without ids stay two nodes.
static dnode_t *node_match(dash_t *d, const sw_scan_rec_t *r, const char *uri)
{
    // one pass (a beacon flood runs this once per datagram over up to 4096 rows): the best
    // match so far by rank, 1 id, 2 link, 3 host name
    dnode_t *best = NULL;
    int rank = 4;
    for (size_t i = 0; i < d->n && rank > 1; i++) {
        dnode_t *x = d->nodes[i];
        if (r->id[0] && x->id[0]) {
            if (!strcmp(x->id, r->id)) {
                best = x;
                rank = 1;
            }
            continue; // two ids that differ: two nodes
        }
        if (rank > 2 && uri[0] && !strcmp(x->uri, uri)) {
            best = x;
            rank = 2;
        } else if (rank > 3 && r->host[0] && (x->fixed || !x->online) && !strcmp(x->host, r->host)) {
            best = x;
            rank = 3;
        }
    }
    return best;
}

// Closes n's link (it moved: another address, or a better link).
static void node_relink(dnode_t *n, const char *uri)
{
    if (strcmp(uri, n->uri) && n->link) {
        sw__dash_calls_fail_node(n, "the node moved to another address");
        sw_hlink_close(n->link);
        n->link = NULL;
        n->link_up = n->probing = n->nokey_locked = false;
    }
    snprintf(n->uri, sizeof n->uri, "%s", uri);
}

// A beacon, an answer to a query, or a state on a broker (r->link set).
static void on_rec(dash_t *d, const sw_scan_rec_t *r)
{
    char uri[320] = "";
    if (r->link[0])
        snprintf(uri, sizeof uri, "%s", r->link);
    else if (r->rpc_port)
        snprintf(uri, sizeof uri, "tcp://%s:%u", r->ip, (unsigned)r->rpc_port);
    dnode_t *n = node_match(d, r, uri);
    bool fresh = false;
    if (!n) {
        char key[SW_DASH_KEY_MAX];
        bool by_id = key_ok(r->id);
        if (by_id)
            snprintf(key, sizeof key, "%s", r->id);
        else if (key_ok(r->link))
            snprintf(key, sizeof key, "%s", r->link);
        else
            snprintf(key, sizeof key, "%s:%u", r->ip, (unsigned)r->rpc_port);
        // a row keyed by this id would have matched by id: the second look over the table
        // (a beacon flood of new ids pays for every one) is for the other keys only
        n = by_id ? NULL : sw__dash_node_find(d, key);
        if (by_id)
            for (size_t i = 0; i < d->n_fixed && !n; i++)
                if (d->nodes[i]->fixed && !strcmp(d->nodes[i]->key, key))
                    n = d->nodes[i]; // a --link or config device named like the id
        if (!n && !(n = sw__dash_node_add(d, key)))
            return;
        fresh = !n->name[0] && !n->uri[0];
    }
    // a broker's word on a node the LAN reaches directly: the direct link stays, and only
    // the LAN (its beacons stopping) says it is offline
    bool lan_has_it = r->link[0] && !fresh && !n->bus && n->online && !strncmp(n->uri, "tcp://", 6);
    if (r->offline) { // a last will: the node is down
        if (!n->name[0])
            snprintf(n->name, sizeof n->name, "%s", r->host);
        snprintf(n->host, sizeof n->host, "%s", r->host);
        if (fresh) {
            snprintf(n->source, sizeof n->source, "mqtt");
            snprintf(n->uri, sizeof n->uri, "%s", uri);
            n->bus = n->swarm = true;
            sw__dash_node_changed(n);
        } else if (!lan_has_it && (n->bus || !n->fixed)) {
            sw__dash_set_online(n, false);
        }
        return;
    }
    char old[sizeof n->hash + sizeof n->app + sizeof n->name + sizeof n->uri + sizeof n->ip + 8];
    snprintf(old, sizeof old, "%s|%s|%s|%s|%s", n->hash, n->app, n->name, n->uri, n->ip);
    bool was_locked = n->locked, was_on = n->online;
    if (!n->fixed) // a --link or config device keeps the name the user gave it
        snprintf(n->name, sizeof n->name, "%s", r->host);
    snprintf(n->host, sizeof n->host, "%s", r->host);
    if (r->id[0])
        snprintf(n->id, sizeof n->id, "%s", r->id);
    snprintf(n->ip, sizeof n->ip, "%s", r->ip);
    snprintf(n->app, sizeof n->app, "%s", r->app);
    snprintf(n->board, sizeof n->board, "%s", r->board);
    snprintf(n->node, sizeof n->node, "%s", r->node);
    snprintf(n->hash, sizeof n->hash, "%s", r->app_hash);
    n->port = r->rpc_port;
    n->locked = r->locked;
    n->swarm = r->swarm;
    n->has_uptime = r->has_uptime;
    n->uptime_ms = r->uptime_ms;
    n->seen = sw__dash_now(d);
    n->online = true;
    if (!n->fixed && !lan_has_it) {
        snprintf(n->source, sizeof n->source, "%s", r->link[0] ? "mqtt" : "scan");
        if (uri[0])
            node_relink(n, uri);
        n->bus = r->link[0] != 0;
    }
    char cur[sizeof old];
    snprintf(cur, sizeof cur, "%s|%s|%s|%s|%s", n->hash, n->app, n->name, n->uri, n->ip);
    if (fresh || !was_on || was_locked != n->locked || strcmp(old, cur))
        sw__dash_node_changed(n);
}

void sw__dash_merge(dnode_t *n)
{
    dash_t *d = n->d;
    for (size_t i = 0; i < d->n; i++) {
        dnode_t *x = d->nodes[i];
        if (x == n || x->fixed || x->link || ids_differ(x->id, n->id))
            continue;
        bool same_id = n->id[0] && !strcmp(x->id, n->id);
        if (!same_id && strcmp(x->uri, n->uri) && (!n->host[0] || strcmp(x->host, n->host)))
            continue;
        for (dcall_t *k = d->calls; k; k = k->next)
            if (k->n == x)
                return; // a page is calling it: merged at a later sign of life
        if (!n->id[0])
            snprintf(n->id, sizeof n->id, "%s", x->id);
        if (!n->hash[0])
            snprintf(n->hash, sizeof n->hash, "%s", x->hash);
        if (!n->ip[0])
            snprintf(n->ip, sizeof n->ip, "%s", x->ip);
        cJSON *j = cJSON_CreateObject();
        if (j) {
            cJSON_AddStringToObject(j, "ev", "gone");
            sw__dash_add_str(j, "key", x->key);
            sw__dash_broadcast(d, j);
        }
        memmove(&d->nodes[i], &d->nodes[i + 1], (d->n - i - 1) * sizeof *d->nodes);
        d->n--;
        free(x);
        sw__dash_node_changed(n);
        return;
    }
}

// found() of the sources (dash.h): a node heard elsewhere.
void sw__dash_on_source(void *dash, const struct sw_scan_rec *r)
{
    dash_t *d = dash;
    if (!d->stopping && r)
        on_rec(d, r);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    static char buf[65536];
    *b = uv_buf_init(buf, sizeof buf);
}

static void on_udp(uv_udp_t *h, ssize_t nread, const uv_buf_t *b, const struct sockaddr *addr,
                   unsigned flags)
{
    dash_t *d = h->data;
    if (nread <= 0 || !addr || addr->sa_family != AF_INET || (flags & UV_UDP_PARTIAL) ||
        nread > SW_SCAN_MAX_DATAGRAM)
        return;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof ip);
    sw_scan_rec_t r;
    if (sw_scan_parse(ip, b->base, (size_t)nread, &r) == 0)
        on_rec(d, &r);
}

void sw__dash_send_query(dash_t *d)
{
    if (!d->qsock_on)
        return;
    sw_scan_opts_t so;
    sw_scan_opts_default(&so);
    so.to = d->o->scan_to;
    so.n_to = d->o->n_scan_to;
    struct in_addr to[32];
    size_t nt = sw__scan_targets(&so, to, 32);
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
        id = sw__dash_now(d) * 0x9e3779b97f4a7c15ull;
    static char q[64];
    int ql = sw_beacon_write_query(q, sizeof q, id & ((1ull << 53) - 1));
    if (ql <= 0)
        return;
    uint16_t port = d->o->scan_port ? d->o->scan_port : SW_SCAN_PORT;
    for (size_t i = 0; i < nt; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = to[i]};
        uv_buf_t b = uv_buf_init(q, (unsigned)ql);
        uv_udp_try_send(&d->qsock, &b, 1, (const struct sockaddr *)&a);
    }
    d->last_query = sw__dash_now(d);
}

// A fleet answers a query all at once (hundreds of datagrams within milliseconds): the
// sockets get as large a receive buffer as allowed (root may go beyond net.core.rmem_max),
// as `swarm scan`'s do.
static void big_rcvbuf(int fd)
{
    int size = 4 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

int sw__dash_scan_start(dash_t *d, char *err, size_t errcap)
{
    uint16_t port = d->o->scan_port ? d->o->scan_port : SW_SCAN_PORT;
    // the beacon port, shared with nodes and scanners on this host (SO_REUSEADDR +
    // SO_REUSEPORT, as `swarm scan`); without it the answers to the queries still come
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        big_rcvbuf(fd);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && uv_udp_init(&d->loop, &d->lsock) == 0) {
            if (uv_udp_open(&d->lsock, fd) == 0) {
                d->lsock.data = d;
                d->lsock_on = true;
                uv_udp_recv_start(&d->lsock, on_alloc, on_udp);
                fd = -1;
            } else {
                uv_close((uv_handle_t *)&d->lsock, NULL);
            }
        }
        if (fd >= 0)
            close(fd);
    }
    if (!d->lsock_on && !d->o->quiet)
        fprintf(stderr, "swarm dashboard: cannot listen for beacons on UDP %u; nodes are found "
                        "by their answers to queries only\n", (unsigned)port);
    if (uv_udp_init(&d->loop, &d->qsock)) {
        snprintf(err, errcap, "cannot open a UDP socket");
        return SW_EIO;
    }
    d->qsock.data = d;
    struct sockaddr_in any = {.sin_family = AF_INET};
    int rc = uv_udp_bind(&d->qsock, (const struct sockaddr *)&any, 0);
    uv_os_fd_t qfd;
    if (!rc && !uv_fileno((uv_handle_t *)&d->qsock, &qfd))
        big_rcvbuf(qfd);
    if (!rc)
        rc = uv_udp_set_broadcast(&d->qsock, 1);
    if (!rc)
        rc = uv_udp_recv_start(&d->qsock, on_alloc, on_udp);
    d->qsock_on = true; // open: closed at the end either way
    if (rc) {
        snprintf(err, errcap, "cannot open the query socket: %s", uv_strerror(rc));
        return SW_EIO;
    }
    sw__dash_send_query(d);
    return 0;
}
