// swarm scan (scan.h): the UDP side of discovery on the host — a socket on the beacon port
// shared with other scanners, a query socket of its own whose port receives the answers, a
// poll() loop that ends once answers stop coming — and reading beacons into records.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"
#include "swarm/beacon.h"
#include "swarm/sw.h"

#define MAX_TARGETS 32        // broadcast addresses a query goes to
#define RESEND_MS 100         // the query goes out twice, in case the first one was lost
#define RCVBUF (4 << 20)      // 200 answers within 50 ms must not overflow the socket

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sw_scan_opts_default(sw_scan_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = SW_SCAN_TIMEOUT_MS;
    o->settle_ms = SW_SCAN_SETTLE_MS;
    o->port = SW_SCAN_PORT;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Beacons → records

static void copy_str(char *dst, size_t cap, const cJSON *j)
{
    if (cJSON_IsString(j) && j->valuestring)
        snprintf(dst, cap, "%s", j->valuestring);
    else
        dst[0] = 0;
}

static uint16_t port_of(const cJSON *j) // a port number, or 0 for false / anything else
{
    if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble > 65535 ||
        j->valuedouble != (double)(int)j->valuedouble)
        return 0;
    return (uint16_t)j->valuedouble;
}

static bool truthy(const cJSON *j) // Python's truth, as micro-swarm's scripts test the settings
{
    if (!j || cJSON_IsFalse(j) || cJSON_IsNull(j))
        return false;
    if (cJSON_IsNumber(j))
        return j->valuedouble != 0;
    if (cJSON_IsString(j))
        return j->valuestring && j->valuestring[0];
    if (cJSON_IsArray(j) || cJSON_IsObject(j))
        return j->child != NULL;
    return true;
}

// micro-swarm devices: the services their settings enable.
static uint16_t boot_service(const cJSON *boot, const char *enable, const char *port, uint16_t dflt)
{
    if (!truthy(cJSON_GetObjectItemCaseSensitive(boot, enable)))
        return 0;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(boot, port);
    return p ? port_of(p) : dflt;
}

int sw_scan_parse(const char *src_ip, const void *p, size_t n, sw_scan_rec_t *rec)
{
    memset(rec, 0, sizeof *rec);
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return SW_EPROTO;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(j, "ifconfigs");
    if ((cJSON_IsString(type) && !strcmp(type->valuestring, "query")) || !cJSON_IsArray(ifs)) {
        cJSON_Delete(j);
        return SW_EPROTO;
    }
    // micro-swarm's rule: the beacon is taken for the address it came from, if it lists it
    bool match = false;
    const cJSON *nic;
    cJSON_ArrayForEach(nic, ifs) {
        const cJSON *addr = cJSON_GetArrayItem(nic, 0);
        if (cJSON_IsString(addr) && !strcmp(addr->valuestring, src_ip)) {
            match = true;
            copy_str(rec->netmask, sizeof rec->netmask, cJSON_GetArrayItem(nic, 1));
            break;
        }
    }
    if (!match) {
        cJSON_Delete(j);
        return SW_ENOENT;
    }
    snprintf(rec->ip, sizeof rec->ip, "%s", src_ip);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(j, "settings");
    const cJSON *board = cJSON_GetObjectItemCaseSensitive(settings, "board");
    const cJSON *boot = cJSON_GetObjectItemCaseSensitive(settings, "boot");
    copy_str(rec->host, sizeof rec->host, cJSON_GetObjectItemCaseSensitive(board, "host_name"));
    copy_str(rec->app, sizeof rec->app, cJSON_GetObjectItemCaseSensitive(board, "app_name"));
    copy_str(rec->board, sizeof rec->board, cJSON_GetObjectItemCaseSensitive(board, "hardware_name"));

    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(j, "swarm");
    if (cJSON_IsObject(sw)) {
        rec->swarm = true;
        copy_str(rec->id, sizeof rec->id, cJSON_GetObjectItemCaseSensitive(sw, "id"));
        copy_str(rec->node, sizeof rec->node, cJSON_GetObjectItemCaseSensitive(sw, "node"));
        copy_str(rec->app_hash, sizeof rec->app_hash, cJSON_GetObjectItemCaseSensitive(sw, "app_hash"));
        const cJSON *up = cJSON_GetObjectItemCaseSensitive(sw, "uptime_ms");
        if (cJSON_IsNumber(up) && up->valuedouble >= 0 && up->valuedouble < 1.8e19) {
            rec->has_uptime = true;
            rec->uptime_ms = (uint64_t)up->valuedouble;
        }
        rec->locked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw, "locked"));
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(sw, "services");
        rec->rpc_port = port_of(cJSON_GetObjectItemCaseSensitive(svc, "rpc"));
        if (!rec->rpc_port)
            rec->rpc_port = port_of(cJSON_GetObjectItemCaseSensitive(sw, "rpc_port"));
        rec->ftp_port = port_of(cJSON_GetObjectItemCaseSensitive(svc, "ftp"));
        rec->telnet_port = port_of(cJSON_GetObjectItemCaseSensitive(svc, "telnet"));
        rec->eval_port = port_of(cJSON_GetObjectItemCaseSensitive(svc, "eval"));
        rec->mdns = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(svc, "mdns"));
    } else {
        rec->ftp_port = boot_service(boot, "FTPD_ENABLE", "FTPD_PORT", 21);
        rec->telnet_port = boot_service(boot, "TELNET_ENABLE", "TELNET_PORT", 23);
        rec->eval_port = boot_service(boot, "REMOTE_EVAL_ENABLE", "REMOTE_EVAL_PORT", 1139);
        rec->mdns = truthy(cJSON_GetObjectItemCaseSensitive(boot, "MDNS_ENABLE"));
    }
    cJSON_Delete(j);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Results

void sw_scan_result_free(sw_scan_result_t *res)
{
    for (size_t i = 0; i < res->n; i++)
        free(res->recs[i].json);
    free(res->recs);
    memset(res, 0, sizeof *res);
}

int sw_name_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && *y) {
        if (*x >= '0' && *x <= '9' && *y >= '0' && *y <= '9') {
            // a run of digits against a run of digits: by value (node2 before node10)
            const unsigned char *xs = x, *ys = y;
            while (*xs == '0' && xs[1] >= '0' && xs[1] <= '9')
                xs++;
            while (*ys == '0' && ys[1] >= '0' && ys[1] <= '9')
                ys++;
            const unsigned char *xe = xs, *ye = ys;
            while (*xe >= '0' && *xe <= '9')
                xe++;
            while (*ye >= '0' && *ye <= '9')
                ye++;
            if (xe - xs != ye - ys)
                return xe - xs < ye - ys ? -1 : 1;
            int c = memcmp(xs, ys, (size_t)(xe - xs));
            if (c)
                return c;
            if ((xe - x) != (ye - y)) // same value, fewer leading zeros first
                return (xe - x) < (ye - y) ? -1 : 1;
            x = xe, y = ye;
            continue;
        }
        if (*x != *y)
            return *x < *y ? -1 : 1;
        x++, y++;
    }
    return *x ? 1 : *y ? -1 : 0;
}

static int by_host(const void *a, const void *b)
{
    const sw_scan_rec_t *x = a, *y = b;
    int c = sw_name_cmp(x->host, y->host);
    if (c)
        return c;
    struct in_addr ia, ib;
    if (inet_pton(AF_INET, x->ip, &ia) == 1 && inet_pton(AF_INET, y->ip, &ib) == 1 &&
        ia.s_addr != ib.s_addr)
        return ntohl(ia.s_addr) < ntohl(ib.s_addr) ? -1 : 1;
    return strcmp(x->id, y->id);
}

void sw_scan_sort(sw_scan_result_t *res)
{
    if (res->n > 1)
        qsort(res->recs, res->n, sizeof *res->recs, by_host);
}

// Adds or updates the device of rec. Returns 1 if it is new, 0 if known, or SW_EFULL.
static int merge(sw_scan_result_t *res, sw_scan_rec_t *rec, const void *p, size_t n)
{
    sw_scan_rec_t *at = NULL;
    for (size_t i = 0; i < res->n && !at; i++) {
        sw_scan_rec_t *r = &res->recs[i];
        // a swarm node by its id (it may answer from several addresses); others by address
        if (rec->id[0] ? !strcmp(r->id, rec->id) : (!r->id[0] && !strcmp(r->ip, rec->ip)))
            at = r;
    }
    char *json = malloc(n + 1);
    if (!json)
        return SW_EFULL;
    memcpy(json, p, n);
    json[n] = 0;
    rec->json = json;
    rec->json_len = n;
    if (at) {
        rec->seen_ms = at->seen_ms;
        rec->answered |= at->answered;
        free(at->json);
        *at = *rec;
        return 0;
    }
    if (res->n == res->cap) {
        size_t cap = res->cap ? 2 * res->cap : 64;
        sw_scan_rec_t *r = realloc(res->recs, cap * sizeof *r);
        if (!r) {
            free(json);
            return SW_EFULL;
        }
        res->recs = r;
        res->cap = cap;
    }
    res->recs[res->n++] = *rec;
    return 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Sockets

static int udp_socket(uint16_t port, bool reuse, bool broadcast)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1, size = RCVBUF;
    if (reuse) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (broadcast)
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
    // as large as allowed; root may go beyond net.core.rmem_max
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

// Where the query goes: the addresses asked for, or 255.255.255.255 and the broadcast address
// of every interface that has one (a limited broadcast leaves by one interface only).
size_t sw__scan_targets(const sw_scan_opts_t *o, struct in_addr *out, size_t max)
{
    size_t n = 0;
    if (o->n_to) {
        for (size_t i = 0; i < o->n_to && n < max; i++)
            if (inet_pton(AF_INET, o->to[i], &out[n]) == 1)
                n++;
        return n;
    }
    out[n++].s_addr = htonl(INADDR_BROADCAST);
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return n;
    for (struct ifaddrs *i = ifs; i && n < max; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            !(i->ifa_flags & IFF_BROADCAST) || (i->ifa_flags & IFF_LOOPBACK) || !i->ifa_broadaddr)
            continue;
        struct in_addr b = ((const struct sockaddr_in *)i->ifa_broadaddr)->sin_addr;
        bool dup = false;
        for (size_t k = 0; k < n; k++)
            dup |= out[k].s_addr == b.s_addr;
        if (!dup && b.s_addr)
            out[n++] = b;
    }
    freeifaddrs(ifs);
    return n;
}

static uint64_t query_id(void)
{
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
        id = now_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32;
    return id & ((1ull << 53) - 1);
}

// Reads every datagram waiting on fd.
// Has a swarm node with RPC answered for every name of o->hosts, under exactly that name?
// (Those are the only devices a push with --host takes from the scan: the others found would
// not change it. A name that only matches in another case waits: its exact owner may answer.)
static bool all_hosts(const sw_scan_opts_t *o, const sw_scan_result_t *res)
{
    for (size_t i = 0; i < o->n_hosts; i++) {
        bool hit = false;
        for (size_t j = 0; j < res->n && !hit; j++)
            hit = !strcmp(res->recs[j].host, o->hosts[i]) && res->recs[j].swarm &&
                  res->recs[j].rpc_port;
        if (!hit)
            return false;
    }
    return true;
}

static void drain(int fd, bool answers, const sw_scan_opts_t *o, sw_scan_result_t *res,
                  uint64_t start, uint64_t *last_new)
{
    static char buf[65536];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t k = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (k < 0)
            return; // EAGAIN: drained (other errors: the next poll says so again, or not)
        res->datagrams++;
        if (k > SW_SCAN_MAX_DATAGRAM || from.sin_family != AF_INET) {
            res->rejected++;
            continue;
        }
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
        sw_scan_rec_t rec;
        if (sw_scan_parse(ip, buf, (size_t)k, &rec)) {
            res->rejected++;
            continue;
        }
        uint64_t now = now_ms();
        rec.seen_ms = (uint32_t)(now - start);
        rec.answered = answers;
        int rc = merge(res, &rec, buf, (size_t)k);
        if (rc == 1) {
            *last_new = now;
            if (o->found)
                o->found(o->u, &res->recs[res->n - 1]);
        }
    }
}

int sw_scan_run(const sw_scan_opts_t *opts, sw_scan_result_t *res, char *err, size_t errcap)
{
    memset(res, 0, sizeof *res);
    sw_scan_opts_t o = *opts;
    if (!o.port)
        o.port = SW_SCAN_PORT;
    if (!o.timeout_ms)
        o.timeout_ms = o.no_query ? SW_SCAN_LISTEN_TIMEOUT_MS : SW_SCAN_TIMEOUT_MS;
    uint64_t start = now_ms();

    int lfd = udp_socket(o.port, true, false);
    int lerr = errno;
    res->listening = lfd >= 0;
    if (lfd < 0 && o.no_query) {
        snprintf(err, errcap, "cannot listen on UDP port %u: %s", (unsigned)o.port, strerror(lerr));
        return lerr == EADDRINUSE ? SW_EBUSY : SW_EIO;
    }
    int qfd = -1;
    struct in_addr to[MAX_TARGETS];
    size_t n_to = 0;
    char query[64];
    int qlen = 0;
    if (!o.no_query) {
        qfd = udp_socket(0, false, true);
        if (qfd < 0) {
            snprintf(err, errcap, "cannot open a UDP socket: %s", strerror(errno));
            if (lfd >= 0)
                close(lfd);
            return SW_EIO;
        }
        n_to = sw__scan_targets(&o, to, MAX_TARGETS);
        qlen = sw_beacon_write_query(query, sizeof query, query_id());
    }

    uint64_t last_new = start, last_query = 0;
    int sends = 0;
    size_t hosts_seen = 0;
    for (;;) {
        uint64_t now = now_ms();
        if (qfd >= 0 && sends < 2 && (sends == 0 || now - last_query >= RESEND_MS)) {
            for (size_t i = 0; i < n_to; i++) {
                struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(o.port), .sin_addr = to[i]};
                if (sendto(qfd, query, (size_t)qlen, 0, (struct sockaddr *)&a, sizeof a) == qlen)
                    res->queries++;
            }
            sends++;
            last_query = now;
        }
        if (o.wait_for && res->n >= o.wait_for)
            break;
        if (o.n_hosts && res->n > hosts_seen) {
            hosts_seen = res->n;
            if (all_hosts(&o, res)) {
                res->hosts_found = true;
                break;
            }
        }
        if (o.cancel && atomic_load(o.cancel))
            break;
        uint64_t end = start + o.timeout_ms;
        if (!o.no_query && o.settle_ms) {
            uint64_t quiet = (last_new > last_query ? last_new : last_query) + o.settle_ms;
            if (sends >= 2 && quiet < end)
                end = quiet;
        }
        if (qfd >= 0 && sends < 2 && last_query + RESEND_MS < end)
            end = last_query + RESEND_MS; // wake up for the second query
        if (now >= start + o.timeout_ms || (sends >= 2 && now >= end))
            break;
        struct pollfd pf[2];
        int nf = 0;
        if (lfd >= 0)
            pf[nf++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        if (qfd >= 0)
            pf[nf++] = (struct pollfd){.fd = qfd, .events = POLLIN};
        int wait = end > now ? (int)(end - now) : 0;
        if (o.cancel && wait > 100)
            wait = 100; // look at *cancel now and then
        if (poll(pf, (nfds_t)nf, wait) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < nf; i++)
            if (pf[i].revents)
                drain(pf[i].fd, pf[i].fd == qfd, &o, res, start, &last_new);
    }
    if (lfd >= 0)
        close(lfd);
    if (qfd >= 0)
        close(qfd);
    res->elapsed_ms = (uint32_t)(now_ms() - start);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The name cache

int sw_scan_cache_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int k;
    if (xdg && xdg[0] == '/')
        k = snprintf(buf, cap, "%s/swarm/scan.json", xdg);
    else if (home && home[0])
        k = snprintf(buf, cap, "%s/.cache/swarm/scan.json", home);
    else
        return SW_ENOENT;
    return k > 0 && (size_t)k < cap ? 0 : SW_ETOOBIG;
}

static cJSON *cache_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    static const size_t max = 16u << 20;
    char chunk[16384];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0 && len + k <= max) {
        char *t = realloc(text, len + k + 1);
        if (!t)
            break;
        text = t;
        memcpy(text + len, chunk, k);
        len += k;
    }
    fclose(f);
    cJSON *j = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (j && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "hosts"))) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

static int mkdirs(char *path) // the directories leading to the file path
{
    for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        int r = mkdir(path, 0700);
        *s = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int sw_scan_cache_store(const sw_scan_result_t *res)
{
    char path[4096];
    if (sw_scan_cache_path(path, sizeof path))
        return SW_ENOENT;
    cJSON *j = cache_load(path);
    if (!j) {
        j = cJSON_CreateObject();
        if (!j || !cJSON_AddNumberToObject(j, "v", 1) || !cJSON_AddObjectToObject(j, "hosts")) {
            cJSON_Delete(j);
            return SW_EFULL;
        }
    }
    cJSON *hosts = cJSON_GetObjectItemCaseSensitive(j, "hosts");
    double now = (double)time(NULL);
    // entries unseen for 30 days go
    for (cJSON *e = hosts->child, *next; e; e = next) {
        next = e->next;
        const cJSON *seen = cJSON_GetObjectItemCaseSensitive(e, "seen");
        if (!cJSON_IsNumber(seen) || now - seen->valuedouble > 30 * 86400.0)
            cJSON_DeleteItemFromObjectCaseSensitive(hosts, e->string);
    }
    for (size_t i = 0; i < res->n; i++) {
        const sw_scan_rec_t *r = &res->recs[i];
        if (!r->host[0] || r->link[0]) // (a broker's nodes are reached by their link)
            continue;
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddStringToObject(e, "ip", r->ip);
        if (r->rpc_port)
            cJSON_AddNumberToObject(e, "rpc_port", r->rpc_port);
        else
            cJSON_AddNullToObject(e, "rpc_port");
        if (r->id[0])
            cJSON_AddStringToObject(e, "id", r->id);
        cJSON_AddStringToObject(e, "app", r->app);
        cJSON_AddNumberToObject(e, "seen", now);
        if (cJSON_GetObjectItemCaseSensitive(hosts, r->host))
            cJSON_ReplaceItemInObjectCaseSensitive(hosts, r->host, e);
        else
            cJSON_AddItemToObject(hosts, r->host, e);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return SW_EFULL;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int rc = SW_EIO;
    if (mkdirs(path) == 0) {
        unlink(tmp); // a stale one of a crashed run with our pid; never written through a link
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            size_t len = strlen(text);
            bool ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
            ok = close(fd) == 0 && ok;
            if (ok && rename(tmp, path) == 0)
                rc = 0;
            else
                unlink(tmp);
        }
    }
    cJSON_free(text);
    return rc;
}

int sw_scan_cache_names(char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    char path[4096];
    if (sw_scan_cache_path(path, sizeof path))
        return 0;
    cJSON *j = cache_load(path);
    if (!j)
        return 0;
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(j, "hosts"), *e;
    size_t k = 0, bytes = 0;
    cJSON_ArrayForEach(e, hosts) {
        if (e->string) {
            k++;
            bytes += strlen(e->string) + 1;
        }
    }
    char **v = k ? malloc(k * sizeof *v + bytes) : NULL;
    if (v) {
        char *at = (char *)(v + k);
        k = 0;
        cJSON_ArrayForEach(e, hosts) {
            if (e->string) {
                size_t len = strlen(e->string) + 1;
                v[k++] = memcpy(at, e->string, len);
                at += len;
            }
        }
        *names = v;
        *n = k;
    }
    cJSON_Delete(j);
    return v || !k ? 0 : SW_EFULL;
}

int sw_scan_cache_find(const char *host, char *ip, size_t ipcap, uint16_t *rpc_port)
{
    char path[4096];
    if (sw_scan_cache_path(path, sizeof path))
        return SW_EIO;
    cJSON *j = cache_load(path);
    if (!j)
        return SW_EIO;
    cJSON *hosts = cJSON_GetObjectItemCaseSensitive(j, "hosts");
    cJSON *e = cJSON_GetObjectItemCaseSensitive(hosts, host);
    if (!e)
        e = cJSON_GetObjectItem(hosts, host); // DNS names ignore case; so do we, second
    const cJSON *addr = cJSON_GetObjectItemCaseSensitive(e, "ip");
    struct in_addr a;
    int rc = SW_ENOENT;
    if (cJSON_IsString(addr) && inet_pton(AF_INET, addr->valuestring, &a) == 1) {
        snprintf(ip, ipcap, "%s", addr->valuestring);
        *rpc_port = port_of(cJSON_GetObjectItemCaseSensitive(e, "rpc_port"));
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}
