// The "beacon" service: micro-swarm's discovery beacon, sent every boot.BEACON_REPEAT_MS to
// boot.BEACON_DESTINATION_IPS, and answers to `swarm scan`'s query, unicast to the querier after
// a short random delay (docs/PROTOCOL.md, "Discovery"). The JSON is written by the core
// (swarm/beacon.h) from facts gathered here: interfaces, the config's board and boot maps,
// uptime, the app's content hash.
//
// The settings are read again whenever the config changes (checked every period), so a new
// period, destination list, port or switch takes effect within one period, without apply or
// restart. BEACON_ENABLE false means no beacons and no answers: both sockets are closed.
#include "profile.h"
#if SW_WITH_NET
#include <stdio.h>
#include <string.h>

#include "app_hash.h"
#include "net_part.h"
#include "swarm/beacon.h"

// Protocol constants and rate limits; the sizes are SW_BEACON_* in profile.h.
#define REPEAT_MIN 100       // ms: a shorter BEACON_REPEAT_MS floods the LAN
#define REPEAT_MAX 3600000   // ms
#define ANSWER_DELAY_MAX 50  // ms: answers are spread over [0, this] against answer storms
#define DEDUP_MS 2000        // the same query (querier, port, id) within this is answered once
#define ANSWER_BURST 16      // answers per ANSWER_WINDOW_MS at most (a query is 40 bytes, an
#define ANSWER_WINDOW_MS 1000 // answer 1 KB: no amplifier for spoofed queries)

enum { MODE_ANY = 0, MODE_LOOPBACK, MODE_ADDR };

typedef struct pending {
    char ip[16];
    uint16_t port;
    uint64_t id;
    uint32_t at;   // ms: arrival (dedup window), then when to answer
    uint32_t due;
    bool used, waiting;
} pending_t;

typedef struct beacon {
    sw_service_t svc;
    sw_node_t *n;
    sw_udp_t *tx, *rx;       // tx: ephemeral port (beacons, answers); rx: queries
    uint16_t rx_port;
    int mode;                // MODE_*: from --listen
    char bind[16];           // MODE_LOOPBACK / MODE_ADDR: the address
    char id[17];             // hex of the machine id's first 8 bytes

    // settings (read when the config version changes)
    uint32_t cfg_version;
    bool cfg_read;
    bool enabled;
    uint32_t repeat_ms;
    uint16_t port;
    char dests[SW_BEACON_DESTS][16];
    uint8_t n_dests;

    sw_timer_t tick;
    uint32_t next_due;
    sw_timer_t answer_timer;
    pending_t pend[SW_BEACON_PENDING];
    uint32_t window_at;
    uint16_t window_count;

    uint64_t uptime_ms;
    uint32_t uptime_at;
    sw_app_hash_t app_hash;

    // counters (sys.beacon)
    uint32_t sent, send_errors, queries, answers, dups, dropped, ignored, bad;
    int last_send_err;
    unsigned last_cut;
    bool warned_loopback;

    int len;                 // of buf, or an error
    char buf[SW_BEACON_MAX + 1];
} beacon_t;

static bool parse_ipv4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;
    for (int k = 0; k < 4; k++) {
        if (k && (i >= n || s[i++] != '.'))
            return false;
        unsigned v = 0, digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4)
            v = v * 10 + (unsigned)(s[i++] - '0'), digits++;
        if (!digits || digits > 3 || v > 255)
            return false;
        out[k] = (uint8_t)v;
    }
    return i == n;
}

static bool is_loopback(const char *ip)
{
    uint8_t q[4];
    return parse_ipv4(ip, strlen(ip), q) && q[0] == 127;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Settings

static sw_span_t cfg_span(sw_node_t *n, const char *dotted)
{
    sw_cfg_path_t path;
    sw_span_t v = {NULL, 0};
    if (sw_cfg_path_dotted(&path, dotted) || sw_cfg_get(&n->cfg, &path, &v))
        v.n = 0;
    return v;
}

// One destination: a dotted quad, else logged and skipped.
static void add_dest(beacon_t *b, uint32_t k, sw_span_t item)
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    uint8_t q[4];
    sw_mpr_init(&r, item.p, item.n);
    if (sw_mpr_next(&r, &o) || o.type != SW_MP_STR || !parse_ipv4((const char *)o.v.p, o.len, q)) {
        sw_log(b->n, SW_LOG_WARN, "beacon: BEACON_DESTINATION_IPS[%u] is not an IPv4 address; skipped",
               (unsigned)k);
        return;
    }
    if (b->n_dests < SW_BEACON_DESTS) {
        memcpy(b->dests[b->n_dests], o.v.p, o.len);
        b->dests[b->n_dests++][o.len] = 0;
    }
}

static void read_dests(beacon_t *b)
{
    b->n_dests = 0;
    sw_span_t v = cfg_span(b->n, "boot.BEACON_DESTINATION_IPS");
    if (!v.n)
        return;
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, v.p, v.n);
    if (sw_mpr_peek(&r) != SW_MP_ARRAY) { // the usual form is a list; a bare string is a list of one
        add_dest(b, 0, v);
        return;
    }
    if (sw_mpr_next(&r, &o))
        return;
    for (uint32_t k = 0; k < o.len; k++) {
        sw_span_t item;
        if (sw_mpr_span(&r, &item))
            return;
        add_dest(b, k, item);
    }
}

static void close_sockets(beacon_t *b)
{
    sw_node_t *n = b->n;
    if (b->rx)
        n->port.ops->udp_close(n->port.ctx, b->rx);
    if (b->tx)
        n->port.ops->udp_close(n->port.ctx, b->tx);
    b->rx = b->tx = NULL;
    sw_timer_stop(n, &b->answer_timer);
    memset(b->pend, 0, sizeof b->pend);
}

// Reads the settings if the config changed; opens or closes the sockets to match.
static void refresh(beacon_t *b)
{
    sw_node_t *n = b->n;
    if (b->cfg_read && b->cfg_version == n->cfg.version)
        return;
    b->cfg_read = true;
    b->cfg_version = n->cfg.version;
    bool was = b->enabled;
    uint32_t old_repeat = b->repeat_ms;
    b->enabled = sw_cfg_bool(&n->cfg, "boot.BEACON_ENABLE", true);
    int64_t rep = sw_cfg_int(&n->cfg, "boot.BEACON_REPEAT_MS", 2000);
    b->repeat_ms = (uint32_t)(rep < REPEAT_MIN ? REPEAT_MIN : rep > REPEAT_MAX ? REPEAT_MAX : rep);
    int64_t port = sw_cfg_int(&n->cfg, "boot.BEACON_DESTINATION_PORT", SW_BEACON_PORT);
    b->port = port >= 1 && port <= 65535 ? (uint16_t)port : SW_BEACON_PORT;
    read_dests(b);
    if (b->repeat_ms != old_repeat && old_repeat)
        b->next_due = sw_node_now(n); // the new period starts now
    if (!b->enabled) {
        if (was || b->tx)
            sw_log(n, SW_LOG_INFO, "beacon: disabled (boot.BEACON_ENABLE): no beacons, no answers");
        close_sockets(b);
        return;
    }
    const char *addr = b->mode == MODE_ANY ? NULL : b->bind;
    if (!b->tx && sw_node_udp_open(n, &b->svc, addr, 0, SW_UDP_BROADCAST, &b->tx))
        b->tx = NULL;
    if (b->rx && b->rx_port != b->port) {
        n->port.ops->udp_close(n->port.ctx, b->rx);
        b->rx = NULL;
    }
    if (!b->rx) {
        // a query arrives as a broadcast: only a socket bound to any address gets it
        const char *rx_addr = b->mode == MODE_LOOPBACK ? b->bind : NULL;
        if (sw_node_udp_open(n, &b->svc, rx_addr, b->port, SW_UDP_REUSE, &b->rx) == 0) {
            b->rx_port = b->port;
            sw_log(n, SW_LOG_INFO, "beacon: every %u ms to %u destination(s) port %u; answering queries on %s:%u",
                   (unsigned)b->repeat_ms, (unsigned)b->n_dests, (unsigned)b->port,
                   rx_addr ? rx_addr : "0.0.0.0", (unsigned)b->port);
        } else {
            b->rx = NULL; // beacons still go out; sw_node_udp_open logged why
        }
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The beacon

static int32_t service_port(sw_node_t *n, const char *name, const char *port, int64_t dflt)
{
    if (!sw_node_service_on(n, name))
        return 0;
    int64_t p = sw_cfg_int(&n->cfg, port, dflt);
    return p > 0 && p <= 65535 ? (int32_t)p : 0;
}

static size_t gather_ifs(beacon_t *b, sw_netif_t *ifs)
{
    sw_node_t *n = b->n;
    size_t k = n->port.ops->netifs(n->port.ctx, ifs, SW_BEACON_IFS);
    if (b->mode == MODE_ANY)
        return k;
    // only the address the services listen on is reachable
    for (size_t i = 0; i < k; i++)
        if (!strcmp(ifs[i].addr, b->bind)) {
            if (i)
                ifs[0] = ifs[i];
            return 1;
        }
    memset(&ifs[0], 0, sizeof ifs[0]);
    snprintf(ifs[0].addr, sizeof ifs[0].addr, "%s", b->bind);
    snprintf(ifs[0].netmask, sizeof ifs[0].netmask, "%s", b->mode == MODE_LOOPBACK ? "255.0.0.0" : "");
    return 1;
}

static void build(beacon_t *b)
{
    sw_node_t *n = b->n;
    // Every beacon and every answer carries the hash of the files as they are now: a host
    // that finds its id there skips the device without connecting, so a hash one period old
    // (after a push, or an FTP upload) would make it skip a device that changed. Cheap when
    // nothing changed: a listing of the app's directory.
    sw__app_hash_update(n, &b->app_hash, n->app_name);
    uint32_t now = sw_node_now(n);
    b->uptime_ms += (uint32_t)(now - b->uptime_at);
    b->uptime_at = now;

    sw_netif_t ifs[SW_BEACON_IFS];
    char machine[160], version[48];
    sw_span_t vs;
    sw_cfg_str(&n->cfg, "boot.VERSION", "", &vs);
    char boot_version[32];
    snprintf(boot_version, sizeof boot_version, "%.*s", (int)(vs.n < 31 ? vs.n : 31), (const char *)vs.p);
    snprintf(machine, sizeof machine, "%s on %s", n->hardware_name, n->port.ops->platform(n->port.ctx));
    snprintf(version, sizeof version, "swarm-node %s", SW_VERSION_STRING);
    bool rpc = sw_cfg_bool(&n->cfg, "rpc.enable", true);
    int64_t rpc_port = sw_cfg_int(&n->cfg, "rpc.port", 27587);
    sw_beacon_info_t bi = {
        .ifs = ifs,
        .n_ifs = gather_ifs(b, ifs),
        .board = cfg_span(n, "board"),
        .boot = cfg_span(n, "boot"),
        .app_version = n->app_version[0] ? n->app_version : NULL,
        .boot_version = vs.n ? boot_version : NULL,
        .sysname = "swarm",
        .nodename = n->host_name,
        .release = SW_VERSION_STRING,
        .version = version,
        .machine = machine,
        .id = b->id,
        .node = SW_VERSION_STRING,
        .app_hash = b->app_hash.valid ? b->app_hash.hex : NULL,
        .uptime_ms = b->uptime_ms,
        .rpc_port = rpc && rpc_port > 0 && rpc_port <= 65535 ? (int32_t)rpc_port : 0,
        // a part the build left out (profile.h) is not offered, whatever the config says
        .ftp_port = SW_WITH_FTP ? service_port(n, "ftp", "boot.FTPD_PORT", 21) : 0,
        .telnet_port = SW_WITH_TELNET ? service_port(n, "telnet", "boot.TELNET_PORT", 23) : 0,
        .eval_port = SW_WITH_EVAL ? service_port(n, "eval", "boot.REMOTE_EVAL_PORT", 1139) : 0,
        .mdns = sw_cfg_bool(&n->cfg, "boot.MDNS_ENABLE", true),
        .locked = n->locked,
    };
    unsigned cut = 0;
    int prev = b->len;
    b->len = sw_beacon_write(b->buf, sizeof b->buf, &bi, &cut);
    if (b->len < 0 && prev >= 0)
        sw_log(n, SW_LOG_ERROR, "beacon: cannot be written within %u bytes: %s", SW_BEACON_MAX,
               sw_strerror(b->len));
    else if (cut && cut != b->last_cut)
        sw_log(n, SW_LOG_WARN, "beacon: over %u bytes; left out %s%s%s", SW_BEACON_MAX,
               cut & SW_BEACON_CUT_IFS ? "interfaces after the first" : "",
               cut == (SW_BEACON_CUT_IFS | SW_BEACON_CUT_SETTINGS) ? " and " : "",
               cut & SW_BEACON_CUT_SETTINGS ? "settings scanners do not read" : "");
    b->last_cut = cut;
}

static void send_to(beacon_t *b, const char *ip, uint16_t port)
{
    sw_node_t *n = b->n;
    if (b->len <= 0 || !b->tx)
        return;
    int rc = n->port.ops->udp_send(n->port.ctx, b->tx, ip, port, b->buf, (size_t)b->len);
    if (rc) {
        b->send_errors++;
        if (rc != b->last_send_err) // once per kind of failure, not every period
            sw_log(n, SW_LOG_WARN, "beacon: sending to %s:%u: %s", ip, (unsigned)port, sw_strerror(rc));
    } else if (b->last_send_err) {
        sw_log(n, SW_LOG_INFO, "beacon: sending again");
    }
    b->last_send_err = rc;
}

static void on_tick(sw_node_t *n, sw_timer_t *t)
{
    beacon_t *b = t->user;
    refresh(b);
    if (b->enabled && b->tx) {
        build(b);
        for (uint8_t i = 0; i < b->n_dests; i++) {
            if (b->mode == MODE_LOOPBACK && !is_loopback(b->dests[i])) {
                if (!b->warned_loopback)
                    sw_log(n, SW_LOG_INFO, "beacon: services listen on %s only: not sending to %s",
                           b->bind, b->dests[i]);
                continue;
            }
            send_to(b, b->dests[i], b->port);
            if (b->last_send_err == 0)
                b->sent++;
        }
        b->warned_loopback = true;
    }
    uint32_t now = sw_node_now(n);
    b->next_due += b->repeat_ms;
    int32_t wait = (int32_t)(b->next_due - now);
    if (wait < 0 || wait > (int32_t)b->repeat_ms) { // far behind (a stall) or the clock jumped
        b->next_due = now + b->repeat_ms;
        wait = (int32_t)b->repeat_ms;
    }
    sw_timer_start(n, t, (uint32_t)wait);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Queries

static void arm_answers(beacon_t *b)
{
    sw_node_t *n = b->n;
    uint32_t now = sw_node_now(n);
    bool any = false;
    int32_t soonest = 0;
    for (int i = 0; i < SW_BEACON_PENDING; i++) {
        pending_t *p = &b->pend[i];
        if (!p->used || !p->waiting)
            continue;
        int32_t d = (int32_t)(p->due - now);
        if (!any || d < soonest)
            soonest = d;
        any = true;
    }
    if (any)
        sw_timer_start(n, &b->answer_timer, soonest > 0 ? (uint32_t)soonest : 0);
    else
        sw_timer_stop(n, &b->answer_timer);
}

static void on_answer_timer(sw_node_t *n, sw_timer_t *t)
{
    beacon_t *b = t->user;
    uint32_t now = sw_node_now(n);
    bool built = false;
    for (int i = 0; i < SW_BEACON_PENDING; i++) {
        pending_t *p = &b->pend[i];
        if (!p->used || !p->waiting || (int32_t)(now - p->due) < 0)
            continue;
        p->waiting = false;
        if (!b->enabled || !b->tx)
            continue;
        if (!built) { // one fresh beacon for every answer due now
            build(b);
            built = true;
        }
        send_to(b, p->ip, p->port);
        if (b->last_send_err == 0)
            b->answers++;
    }
    arm_answers(b);
}

static void on_query(beacon_t *b, const char *ip, uint16_t port, uint64_t id)
{
    sw_node_t *n = b->n;
    uint32_t now = sw_node_now(n);
    pending_t *slot = NULL;
    for (int i = 0; i < SW_BEACON_PENDING; i++) {
        pending_t *p = &b->pend[i];
        if (p->used && !p->waiting && (int32_t)(now - p->at) >= DEDUP_MS)
            p->used = false; // forgotten
        if (p->used && p->id == id && p->port == port && !strcmp(p->ip, ip)) {
            b->dups++; // the same query again (sent to several broadcast addresses, or repeated)
            return;
        }
    }
    if ((uint32_t)(now - b->window_at) >= ANSWER_WINDOW_MS) {
        b->window_at = now;
        b->window_count = 0;
    }
    if (b->window_count >= ANSWER_BURST) {
        b->dropped++;
        return;
    }
    for (int i = 0; i < SW_BEACON_PENDING && !slot; i++)
        if (!b->pend[i].used)
            slot = &b->pend[i];
    if (!slot)
        for (int i = 0; i < SW_BEACON_PENDING; i++) // else the one answered longest ago
            if (!b->pend[i].waiting && (!slot || (int32_t)(b->pend[i].at - slot->at) < 0))
                slot = &b->pend[i];
    if (!slot) {
        b->dropped++;
        return;
    }
    b->window_count++;
    uint8_t r[2];
    n->port.ops->random(n->port.ctx, r, sizeof r);
    memset(slot, 0, sizeof *slot);
    snprintf(slot->ip, sizeof slot->ip, "%s", ip);
    slot->port = port;
    slot->id = id;
    slot->at = now;
    slot->due = now + (uint32_t)((r[0] << 8 | r[1]) % (ANSWER_DELAY_MAX + 1));
    slot->used = slot->waiting = true;
    arm_answers(b);
}

static void on_datagram(sw_node_t *n, sw_service_t *s, sw_udp_t *u, const char *ip, uint16_t port,
                        const uint8_t *p, size_t len)
{
    (void)u;
    beacon_t *b = s->state;
    sw_beacon_query_t q;
    int rc = sw_beacon_read_query(p, len, &q);
    if (rc == SW_ENOENT || rc == SW_ETOOBIG) { // beacons (ours too) and other traffic
        b->ignored++;
        return;
    }
    if (rc) {
        if (b->bad++ == 0 || (b->bad & 1023) == 0) // the first, then every 1024th
            sw_log(n, SW_LOG_INFO, "beacon: %u bad datagram(s) on port %u, the last from %s:%u (%s)",
                   (unsigned)b->bad, (unsigned)b->port, ip, (unsigned)port, sw_errname(rc));
        return;
    }
    b->queries++;
    if (b->enabled && b->tx)
        on_query(b, ip, port, q.id);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// sys.beacon, start, stop

static int cmd_beacon(sw_call_t *c)
{
    sw_service_t *s = sw_node_service_find(c->ctx, "beacon");
    if (!s)
        return sw_call_fail(c, SW_ENOENT, "sys.beacon: the beacon is not running (boot.BEACON_ENABLE, --no-beacon)");
    beacon_t *b = s->state;
    sw_mpw_t *w = c->out;
    if (b->enabled && b->tx)
        build(b);
    sw_mpw_map(w, 16);
    sw_mpw_cstr(w, "enabled"), sw_mpw_bool(w, b->enabled);
    sw_mpw_cstr(w, "port"), sw_mpw_uint(w, b->port);
    sw_mpw_cstr(w, "repeat_ms"), sw_mpw_uint(w, b->repeat_ms);
    sw_mpw_cstr(w, "answering"), sw_mpw_bool(w, b->rx != NULL);
    sw_mpw_cstr(w, "sent"), sw_mpw_uint(w, b->sent);
    sw_mpw_cstr(w, "send_errors"), sw_mpw_uint(w, b->send_errors);
    sw_mpw_cstr(w, "queries"), sw_mpw_uint(w, b->queries);
    sw_mpw_cstr(w, "answers"), sw_mpw_uint(w, b->answers);
    sw_mpw_cstr(w, "dups"), sw_mpw_uint(w, b->dups);
    sw_mpw_cstr(w, "dropped"), sw_mpw_uint(w, b->dropped);
    sw_mpw_cstr(w, "ignored"), sw_mpw_uint(w, b->ignored);
    sw_mpw_cstr(w, "bad"), sw_mpw_uint(w, b->bad);
    sw_mpw_cstr(w, "rehashes"), sw_mpw_uint(w, b->app_hash.rehashes);
    sw_mpw_cstr(w, "cut"), sw_mpw_uint(w, b->last_cut);
    sw_mpw_cstr(w, "len"), sw_mpw_int(w, b->len);
    sw_mpw_cstr(w, "beacon");
    if (b->enabled && b->len > 0)
        sw_mpw_str(w, b->buf, (size_t)b->len);
    else
        sw_mpw_nil(w);
    return 0;
}

static void beacon_stop(sw_node_t *n, sw_service_t *s)
{
    beacon_t *b = s->state;
    close_sockets(b);
    sw_timer_stop(n, &b->tick);
    sw_timer_stop(n, &b->answer_timer);
    sw_node_service_remove(n, s);
    sw_node_release(n, b, sizeof *b);
}

int sw_beacon_start(sw_node_t *n)
{
    beacon_t *b = sw_node_alloc(n, sizeof *b);
    if (!b)
        return SW_EFULL;
    b->n = n;
    b->svc.name = "beacon";
    b->svc.datagram = on_datagram;
    b->svc.stop = beacon_stop;
    b->svc.state = b;

    const char *la = n->opts.listen_addr;
    uint8_t q[4];
    if (la && (!strcmp(la, "::1") || !strcmp(la, "localhost"))) {
        b->mode = MODE_LOOPBACK;
        snprintf(b->bind, sizeof b->bind, "127.0.0.1");
    } else if (la && parse_ipv4(la, strlen(la), q) && (q[0] | q[1] | q[2] | q[3])) {
        b->mode = q[0] == 127 ? MODE_LOOPBACK : MODE_ADDR;
        snprintf(b->bind, sizeof b->bind, "%s", la);
    } // else 0.0.0.0, "::", another IPv6 address: the beacon is IPv4 on every interface

    uint8_t id[8] = {0};
    size_t k = n->port.ops->machid(n->port.ctx, id, sizeof id);
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(b->id + 2 * i, 3, "%02x", i < k ? id[i] : 0);
    uint32_t now = sw_node_now(n);
    b->uptime_at = now;
    b->uptime_ms = (uint32_t)(now - n->boot_ms);

    b->tick.fn = on_tick;
    b->tick.user = b;
    b->answer_timer.fn = on_answer_timer;
    b->answer_timer.user = b;
    sw_node_service_add(n, &b->svc);
    refresh(b);

    // the first beacon soon, but not at the same instant as every other node booted with us
    uint8_t r;
    n->port.ops->random(n->port.ctx, &r, 1);
    b->next_due = now + r % 100;
    sw_timer_start(n, &b->tick, r % 100);
    return 0;
}

static const sw_cmd_def_t sys_cmds[] = {
    {"beacon", NULL, "discovery: beacon counters and the current beacon", cmd_beacon, NULL},
};
static const sw_part_cmds_t sys_group = {"sys", "the node itself", sys_cmds, 1};

const sw_part_t sw_part_beacon = {.name = "beacon", .serve = sw_beacon_start, .cmds = &sys_group, .ncmds = 1};

#endif // SW_WITH_NET
