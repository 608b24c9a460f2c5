// The mDNS responder (service "mdns", switched by boot.MDNS_ENABLE): an A record for
// {host}.local and a DNS-SD service {host}._swarm._tcp.local for the RPC port, by RFC 6762/6763:
// probing, announcing, conflict renaming (host-2, host-3, …), answers by multicast, by unicast
// to QU questions and to legacy queriers, known-answer and duplicate-answer suppression,
// defence of the name after start, goodbyes at stop. Packets are parsed and built by
// src/core/dns.c; time comes from node timers; the interface addresses from the port.
//
// Why our own responder and not libmdnsd or lwIP's mdns app: docs/DESIGN.md (dependencies).
#include "profile.h"
#if SW_WITH_NET
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "net_part.h"
#include "swarm/dns.h"

// Protocol constants (RFC 6762), not sizes to tune: the sizes are SW_MDNS_* in profile.h.
#define MDNS_LEGACY 512   // largest answer to a legacy querier (plain DNS over UDP)
#define MDNS_RX_MAX 9000  // larger datagrams are not mDNS (RFC 6762 §17)

#define TTL_HOST 120      // records that hold the host name or address (RFC 6762 §10)
#define TTL_OTHER 4500    // the others (PTR, TXT)
#define TTL_LEGACY 10     // cap for legacy answers (RFC 6762 §6.7)

#define PROBE_WAIT 250    // random 0..250 ms before the first probe
#define PROBES 3
#define PROBE_MS 250
#define ANNOUNCES 3       // unsolicited responses, 1 s apart
#define ANNOUNCE_MS 1000
#define LOST_MS 1000      // after losing a simultaneous-probe tie-break
#define CONFLICT_WINDOW 10000
#define CONFLICT_MAX 15   // conflicts per window before probing slows down
#define CONFLICT_WAIT 5000
#define RATE_MS 1000      // a record is multicast at most once a second…
#define DEFEND_MS 250     // …or every 250 ms when defending it against a probe
#define UNICAST_MAX 50    // unicast answers per second (a flood of legacy queries)

enum { ST_IDLE, ST_PROBING, ST_ANNOUNCING, ST_RUNNING };

// Our records; the index is the bit in record masks.
enum {
    R_A0 = 0,                  // R_A0 + i: A for address i
    R_NSEC_HOST = SW_MDNS_ADDRS, // host: no type but A
    R_PTR,                     // _swarm._tcp.local → instance (shared)
    R_SRV,                     // instance → port, host
    R_TXT,                     // instance → app, board, version, rpc
    R_NSEC_INST,               // instance: no type but SRV and TXT
    R_ENUM,                    // _services._dns-sd._udp.local → _swarm._tcp.local (shared)
    R_COUNT
};
#define A_BITS ((uint16_t)((1u << SW_MDNS_ADDRS) - 1u))
#if SW_MDNS_ADDRS < 1 || SW_MDNS_ADDRS > 8
#error "SW_MDNS_ADDRS must be 1..8 (record masks are 16 bits)"
#endif

enum { PUT_NORMAL, PUT_LEGACY, PUT_GOODBYE };

typedef struct mdns {
    sw_service_t svc; // svc.state points back here
    sw_node_t *n;
    sw_udp_t *udp;
    int state;        // ST_*
    uint8_t nprobe, nann;
    sw_timer_t t_state; // probe / announce steps
    sw_timer_t t_poll;  // addresses and identity
    sw_timer_t t_resp;  // the pending multicast response
    uint32_t poll_ms;

    // identity
    char base[64];     // the label we want: board.host_name made DNS-safe
    unsigned suffix;   // 0: none; k >= 2: "-k"
    char label[64];    // the label in use
    char text[80];     // "label.local"
    char host_name[64], app[64], board[64]; // as last read from the node
    sw_dns_name_t host, svc_type, inst, dnssd;
    uint8_t addr[SW_MDNS_ADDRS][4], mask[SW_MDNS_ADDRS][4];
    uint8_t naddr;
    uint16_t port;     // the RPC port in SRV; 0: no service records
    uint8_t txt[SW_MDNS_TXT];
    size_t txtlen;

    // what went out
    uint32_t last_mc[R_COUNT];
    uint16_t mc_done;   // records multicast at least once since they last changed
    uint32_t recent[SW_MDNS_RECENT];
    uint8_t recent_at;
    uint32_t uc_t0;
    uint16_t uc_count;

    // the pending multicast response
    uint16_t pend_an, pend_ar;
    uint32_t pend_due;

    uint32_t conflict_t0;
    uint8_t conflicts;

    uint8_t cmp[2][SW_MDNS_CMP][SW_DNS_NAME_MAX + 8]; // scratch for record data: [0] ours, [1] theirs
    uint8_t pkt[SW_MDNS_PKT];
} mdns_t;

static void mdns_stop(sw_node_t *n, sw_service_t *s);
static void start_probing(mdns_t *m, uint32_t delay);

static uint32_t now_ms(const mdns_t *m) { return sw_node_now(m->n); }

static uint32_t rnd(mdns_t *m, uint32_t below)
{
    uint32_t v = 0;
    m->n->port.ops->random(m->n->port.ctx, &v, sizeof v);
    return below ? v % below : 0;
}

static bool parse_ip4(const char *s, uint8_t out[4])
{
    for (int k = 0; k < 4; k++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4)
            v = v * 10 + (unsigned)(*s++ - '0'), digits++;
        if (!digits || v > 255 || (k < 3 ? *s++ != '.' : *s != 0))
            return false;
        out[k] = (uint8_t)v;
    }
    return true;
}

static int first_bit(uint16_t v)
{
    int k = 0;
    while (v && !(v & 1u))
        v >>= 1, k++;
    return k;
}

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t k = 0; k < n; k++)
        h = (h ^ b[k]) * 16777619u;
    return h;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Records

static const sw_dns_name_t *rec_name(const mdns_t *m, int r)
{
    if (r <= R_NSEC_HOST)
        return &m->host;
    if (r == R_PTR)
        return &m->svc_type;
    if (r == R_ENUM)
        return &m->dnssd;
    return &m->inst;
}

static uint16_t rec_type(int r)
{
    switch (r) {
    case R_NSEC_HOST: case R_NSEC_INST: return SW_DNS_T_NSEC;
    case R_PTR: case R_ENUM: return SW_DNS_T_PTR;
    case R_SRV: return SW_DNS_T_SRV;
    case R_TXT: return SW_DNS_T_TXT;
    default: return SW_DNS_T_A;
    }
}

static bool rec_unique(int r) { return r != R_PTR && r != R_ENUM; }

static uint32_t rec_ttl(int r)
{
    return r == R_PTR || r == R_TXT || r == R_ENUM ? TTL_OTHER : TTL_HOST;
}

static uint16_t all_recs(const mdns_t *m)
{
    if (!m->naddr)
        return 0;
    uint16_t b = (uint16_t)(((1u << m->naddr) - 1u) | 1u << R_NSEC_HOST);
    if (m->port)
        b |= 1u << R_PTR | 1u << R_SRV | 1u << R_TXT | 1u << R_NSEC_INST | 1u << R_ENUM;
    return b;
}

static const uint16_t nsec_host_types[] = {SW_DNS_T_A};
static const uint16_t nsec_inst_types[] = {SW_DNS_T_TXT, SW_DNS_T_SRV};

// Our record r's data in canonical form; returns its length.
static size_t rec_rdata(const mdns_t *m, int r, uint8_t *out)
{
    switch (r) {
    case R_NSEC_HOST:
        memcpy(out, m->host.b, m->host.len);
        memcpy(out + m->host.len, "\x00\x01\x40", 3);
        return m->host.len + 3u;
    case R_NSEC_INST:
        memcpy(out, m->inst.b, m->inst.len);
        memcpy(out + m->inst.len, "\x00\x05\x00\x00\x80\x00\x40", 7);
        return m->inst.len + 7u;
    case R_PTR:
        memcpy(out, m->inst.b, m->inst.len);
        return m->inst.len;
    case R_ENUM:
        memcpy(out, m->svc_type.b, m->svc_type.len);
        return m->svc_type.len;
    case R_SRV:
        memset(out, 0, 4);
        out[4] = (uint8_t)(m->port >> 8), out[5] = (uint8_t)m->port;
        memcpy(out + 6, m->host.b, m->host.len);
        return 6u + m->host.len;
    case R_TXT:
        memcpy(out, m->txt, m->txtlen);
        return m->txtlen;
    default:
        memcpy(out, m->addr[r - R_A0], 4);
        return 4;
    }
}

static void put_rec(mdns_t *m, sw_dns_wr_t *w, int section, int r, int mode)
{
    uint32_t ttl = mode == PUT_GOODBYE ? 0 : rec_ttl(r);
    if (mode == PUT_LEGACY && ttl > TTL_LEGACY)
        ttl = TTL_LEGACY;
    uint16_t cls = (uint16_t)(SW_DNS_C_IN | (rec_unique(r) && mode != PUT_LEGACY ? SW_DNS_C_TOP : 0));
    const sw_dns_name_t *nm = rec_name(m, r);
    switch (r) {
    case R_NSEC_HOST: sw_dns_wr_nsec(w, section, nm, cls, ttl, nsec_host_types, 1); break;
    case R_NSEC_INST: sw_dns_wr_nsec(w, section, nm, cls, ttl, nsec_inst_types, 2); break;
    case R_PTR: sw_dns_wr_ptr(w, section, nm, cls, ttl, &m->inst); break;
    case R_ENUM: sw_dns_wr_ptr(w, section, nm, cls, ttl, &m->svc_type); break;
    case R_SRV: sw_dns_wr_srv(w, section, nm, cls, ttl, 0, 0, m->port, &m->host); break;
    case R_TXT: sw_dns_wr_txt(w, section, nm, cls, ttl, m->txt, m->txtlen); break;
    default: sw_dns_wr_a(w, section, nm, cls, ttl, m->addr[r - R_A0]); break;
    }
}

// Writes records `mask` into one section; additional records that do not fit are left out.
static void put_recs(mdns_t *m, sw_dns_wr_t *w, int section, uint16_t mask, int mode)
{
    for (int r = 0; r < R_COUNT; r++) {
        if (!(mask & (1u << r)))
            continue;
        sw_dns_wr_t saved = *w;
        put_rec(m, w, section, r, mode);
        if (w->err == SW_EFULL && section == SW_DNS_AR)
            *w = saved;
    }
}

// The label we use: base, or base-k cut so the label stays within 63 bytes.
static void build_names(mdns_t *m)
{
    char sfx[12] = "";
    if (m->suffix >= 2)
        snprintf(sfx, sizeof sfx, "-%u", m->suffix);
    size_t bl = strlen(m->base), sl = strlen(sfx);
    if (bl + sl > SW_DNS_LABEL_MAX)
        bl = SW_DNS_LABEL_MAX - sl;
    memcpy(m->label, m->base, bl);
    memcpy(m->label + bl, sfx, sl + 1);
    snprintf(m->text, sizeof m->text, "%s.local", m->label);
    sw_dns_name_t local;
    sw_dns_name_from(&local, "local", 5);
    sw_dns_name_join(&m->host, m->label, strlen(m->label), &local);
    sw_dns_name_from(&m->svc_type, "_swarm._tcp.local", 17);
    sw_dns_name_from(&m->dnssd, "_services._dns-sd._udp.local", 28);
    sw_dns_name_join(&m->inst, m->label, strlen(m->label), &m->svc_type);
    m->mc_done = 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Sending

static void remember_sent(mdns_t *m, const uint8_t *p, size_t n)
{
    m->recent[m->recent_at] = fnv(2166136261u ^ (uint32_t)n, p, n);
    m->recent_at = (uint8_t)((m->recent_at + 1) % SW_MDNS_RECENT);
}

// Our own multicast comes back to us (the port keeps multicast loopback on, so responders on
// one host hear each other): a packet from one of our addresses that we sent is dropped.
static bool is_own(const mdns_t *m, const uint8_t src[4], const uint8_t *p, size_t n)
{
    bool ours = false;
    for (int k = 0; k < m->naddr; k++)
        ours |= !memcmp(m->addr[k], src, 4);
    if (!ours)
        return false;
    uint32_t h = fnv(2166136261u ^ (uint32_t)n, p, n);
    for (int k = 0; k < SW_MDNS_RECENT; k++)
        if (m->recent[k] == h)
            return true;
    return false;
}

static void send_to(mdns_t *m, const char *ip, uint16_t port, sw_dns_wr_t *w)
{
    int len = sw_dns_wr_finish(w);
    if (len < 0 || !m->udp) {
        if (len < 0)
            sw_log(m->n, SW_LOG_ERROR, "mdns: cannot build a packet: %s", sw_strerror(len));
        return;
    }
    remember_sent(m, w->buf, (size_t)len);
    int rc = m->n->port.ops->udp_send(m->n->port.ctx, m->udp, ip, port, w->buf, (size_t)len);
    if (rc)
        sw_log(m->n, SW_LOG_DEBUG, "mdns: send to %s:%u: %s", ip, (unsigned)port, sw_strerror(rc));
}

static void mark_multicast(mdns_t *m, uint16_t mask)
{
    uint32_t t = now_ms(m);
    for (int r = 0; r < R_COUNT; r++)
        if (mask & (1u << r))
            m->last_mc[r] = t;
    m->mc_done |= mask;
}

static void send_multicast(mdns_t *m, uint16_t an, uint16_t ar, int mode)
{
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, m->pkt, sizeof m->pkt, 0, SW_DNS_F_QR | SW_DNS_F_AA);
    put_recs(m, &w, SW_DNS_AN, an, mode);
    put_recs(m, &w, SW_DNS_AR, (uint16_t)(ar & ~an), mode);
    send_to(m, SW_MDNS_ADDR, SW_MDNS_PORT, &w);
    if (mode == PUT_NORMAL)
        mark_multicast(m, an | ar);
}

static void send_probe(mdns_t *m)
{
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, m->pkt, sizeof m->pkt, 0, 0);
    // QU: defenders may answer us directly (RFC 6762 §8.1)
    sw_dns_wr_question(&w, &m->host, SW_DNS_T_ANY, SW_DNS_C_IN | SW_DNS_C_TOP);
    if (m->port)
        sw_dns_wr_question(&w, &m->inst, SW_DNS_T_ANY, SW_DNS_C_IN | SW_DNS_C_TOP);
    // the records we want, in the authority section, for simultaneous-probe tie-breaks
    uint16_t mask = (uint16_t)(all_recs(m) & (A_BITS | 1u << R_SRV | 1u << R_TXT));
    for (int r = 0; r < R_COUNT; r++)
        if (mask & (1u << r)) {
            uint32_t ttl = rec_ttl(r);
            const sw_dns_name_t *nm = rec_name(m, r);
            if (r == R_SRV)
                sw_dns_wr_srv(&w, SW_DNS_NS, nm, SW_DNS_C_IN, ttl, 0, 0, m->port, &m->host);
            else if (r == R_TXT)
                sw_dns_wr_txt(&w, SW_DNS_NS, nm, SW_DNS_C_IN, ttl, m->txt, m->txtlen);
            else
                sw_dns_wr_a(&w, SW_DNS_NS, nm, SW_DNS_C_IN, ttl, m->addr[r - R_A0]);
        }
    send_to(m, SW_MDNS_ADDR, SW_MDNS_PORT, &w);
}

static void send_goodbye(mdns_t *m)
{
    if (m->state < ST_ANNOUNCING || !m->udp)
        return;
    send_multicast(m, all_recs(m), 0, PUT_GOODBYE);
    sw_log(m->n, SW_LOG_INFO, "mdns: goodbye for %s", m->text);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// State machine: probe (3 × 250 ms), announce (3 × 1 s), run; back to probing on a conflict.

static void log_addrs(mdns_t *m, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < m->naddr && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%u.%u.%u.%u", i ? ", " : "", m->addr[i][0], m->addr[i][1],
                              m->addr[i][2], m->addr[i][3]);
}

static void on_state(sw_node_t *n, sw_timer_t *t)
{
    mdns_t *m = t->user;
    if (m->state == ST_PROBING) {
        if (m->nprobe < PROBES) {
            send_probe(m);
            m->nprobe++;
            sw_timer_start(n, t, PROBE_MS);
            return;
        }
        char ips[80];
        log_addrs(m, ips, sizeof ips);
        if (m->port)
            sw_log(n, SW_LOG_INFO, "mdns: %s is ours (%s); service %s._swarm._tcp.local on port %u", m->text, ips,
                   m->label, (unsigned)m->port);
        else
            sw_log(n, SW_LOG_INFO, "mdns: %s is ours (%s)", m->text, ips);
        m->state = ST_ANNOUNCING;
        m->nann = 0;
    }
    if (m->state == ST_ANNOUNCING) {
        send_multicast(m, all_recs(m), 0, PUT_NORMAL);
        if (++m->nann < ANNOUNCES)
            sw_timer_start(n, t, ANNOUNCE_MS);
        else
            m->state = ST_RUNNING;
    }
}

static void start_probing(mdns_t *m, uint32_t delay)
{
    sw_timer_stop(m->n, &m->t_resp);
    m->pend_an = m->pend_ar = 0;
    if (!m->naddr || !m->udp) {
        m->state = ST_IDLE;
        sw_timer_stop(m->n, &m->t_state);
        return;
    }
    m->state = ST_PROBING;
    m->nprobe = 0;
    sw_timer_start(m->n, &m->t_state, delay);
}

// Counts a conflict; returns the delay before probing again (slower after many).
static uint32_t conflict_delay(mdns_t *m)
{
    uint32_t t = now_ms(m);
    if ((int32_t)(t - m->conflict_t0) > CONFLICT_WINDOW || !m->conflicts) {
        m->conflict_t0 = t;
        m->conflicts = 0;
    }
    if (m->conflicts < 255)
        m->conflicts++;
    return m->conflicts >= CONFLICT_MAX ? CONFLICT_WAIT : 0;
}

static void rename_after_conflict(mdns_t *m, const char *why, const uint8_t src[4])
{
    char old[80];
    memcpy(old, m->text, sizeof old);
    m->suffix = m->suffix < 2 ? 2 : m->suffix + 1;
    if (m->suffix > 9999)
        m->suffix = 2;
    build_names(m);
    sw_log(m->n, SW_LOG_WARN, "mdns: %s is taken (%s %u.%u.%u.%u); trying %s", old, why, src[0], src[1], src[2],
           src[3], m->text);
    start_probing(m, conflict_delay(m));
}

static void conflict(mdns_t *m, const uint8_t src[4])
{
    if (m->state == ST_PROBING) {
        rename_after_conflict(m, "answered by", src);
        return;
    }
    // RFC 6762 §9: a conflicting record after probing sends us back to probing the same name;
    // its owner defends it and we rename then, or we win the tie-break
    sw_log(m->n, SW_LOG_WARN, "mdns: conflicting record for %s from %u.%u.%u.%u; probing again", m->text, src[0],
           src[1], src[2], src[3]);
    start_probing(m, conflict_delay(m) + rnd(m, PROBE_WAIT));
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Responses received: conflicts and duplicate answers

// Does their record rr (name already one of our unique names) conflict with ours?
static bool conflicting(mdns_t *m, const sw_dns_rd_t *r, const sw_dns_rr_t *rr, bool host)
{
    if (rr->cls != SW_DNS_C_IN || rr->ttl == 0) // goodbyes are not claims
        return false;
    if (host) {
        if (rr->type == SW_DNS_T_AAAA)
            return true; // another host's address
        if (rr->type != SW_DNS_T_A)
            return false;
        for (int k = 0; k < m->naddr; k++)
            if (!memcmp(rr->a, m->addr[k], 4))
                return false;
        return true;
    }
    if (rr->type != SW_DNS_T_SRV && rr->type != SW_DNS_T_TXT)
        return false;
    uint8_t *theirs = m->cmp[1][0], *ours = m->cmp[0][0];
    if (rr->type == SW_DNS_T_TXT) // compare in place: TXT data has no names
        return !sw_dns_rdata_eq(SW_DNS_T_TXT, r->p + rr->rdoff, rr->rdlen, m->txt, m->txtlen);
    int tn = sw_dns_rd_rdata(r, rr, theirs, sizeof m->cmp[1][0]);
    size_t on = rec_rdata(m, R_SRV, ours);
    return tn < 0 || !sw_dns_rdata_eq(SW_DNS_T_SRV, theirs, (size_t)tn, ours, on);
}

// Which of our records does rr repeat (same name, type, class and data)? A mask (0 or 1 bit).
static uint16_t same_as_ours(mdns_t *m, const sw_dns_rd_t *r, const sw_dns_rr_t *rr)
{
    if (rr->cls != SW_DNS_C_IN)
        return 0;
    uint16_t all = all_recs(m);
    uint8_t *theirs = m->cmp[1][0], *ours = m->cmp[0][0];
    int tn = -1;
    for (int k = 0; k < R_COUNT; k++) {
        if (!(all & (1u << k)) || rec_type(k) != rr->type || !sw_dns_name_eq(rec_name(m, k), &rr->name))
            continue;
        if (k == R_TXT) {
            if (sw_dns_rdata_eq(SW_DNS_T_TXT, r->p + rr->rdoff, rr->rdlen, m->txt, m->txtlen))
                return (uint16_t)(1u << k);
            continue;
        }
        if (tn < 0 && (tn = sw_dns_rd_rdata(r, rr, theirs, sizeof m->cmp[1][0])) < 0)
            return 0;
        size_t on = rec_rdata(m, k, ours);
        if (sw_dns_rdata_eq(rr->type, theirs, (size_t)tn, ours, on))
            return (uint16_t)(1u << k);
    }
    return 0;
}

static void on_response(mdns_t *m, sw_dns_rd_t *r, const uint8_t src[4])
{
    if (m->state == ST_IDLE)
        return;
    sw_dns_rr_t rr;
    for (int k = 0; k < SW_MDNS_MAX_RR && sw_dns_rd_rr(r, &rr) == 1; k++) {
        if (rr.section == SW_DNS_NS)
            continue;
        bool host = sw_dns_name_eq(&rr.name, &m->host);
        if ((host || (m->port && sw_dns_name_eq(&rr.name, &m->inst))) && conflicting(m, r, &rr, host)) {
            conflict(m, src);
            return;
        }
        // another responder sent a record of ours (a shared one, e.g. the DNS-SD enumeration):
        // as if we had sent it ourselves (RFC 6762 §7.4)
        uint16_t same = m->state >= ST_ANNOUNCING ? same_as_ours(m, r, &rr) : 0;
        if (same && rr.ttl >= rec_ttl(first_bit(same)) / 2) {
            m->pend_an &= (uint16_t)~same;
            m->pend_ar &= (uint16_t)~same;
            mark_multicast(m, same);
        }
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Probes received while we probe: the tie-break of RFC 6762 §8.2

typedef struct {
    uint16_t cls, type;
    const uint8_t *p;
    size_t n;
} cmp_rec_t;

static int cmp_recs(const cmp_rec_t *a, const cmp_rec_t *b)
{
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    size_t k = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->p, b->p, k);
    if (c)
        return c < 0 ? -1 : 1;
    return a->n == b->n ? 0 : a->n < b->n ? -1 : 1;
}

static void sort_recs(cmp_rec_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_recs(&v[j - 1], &v[j]) > 0; j--) {
            cmp_rec_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

// Compares their authority records for name nm with ours: < 0 if ours are earlier (we lose),
// 0 if they are the same or they sent none, > 0 if ours are later (we win).
static int tie_break(mdns_t *m, const uint8_t *msg, size_t len, const sw_dns_name_t *nm, uint16_t ours_mask)
{
    cmp_rec_t theirs[SW_MDNS_CMP], ours[SW_MDNS_CMP];
    size_t nt = 0, no = 0;
    sw_dns_rd_t r;
    sw_dns_rr_t rr;
    sw_dns_rd_init(&r, msg, len);
    for (int k = 0; k < SW_MDNS_MAX_RR && sw_dns_rd_rr(&r, &rr) == 1 && rr.section <= SW_DNS_NS; k++) {
        if (rr.section != SW_DNS_NS || !sw_dns_name_eq(&rr.name, nm) || nt == SW_MDNS_CMP)
            continue;
        int cn = sw_dns_rd_rdata(&r, &rr, m->cmp[1][nt], sizeof m->cmp[1][nt]);
        cmp_rec_t *c = &theirs[nt++];
        c->cls = rr.cls, c->type = rr.type;
        if (cn >= 0)
            c->p = m->cmp[1][nt - 1], c->n = (size_t)cn;
        else // longer than any name-bearing data: compare the raw bytes
            c->p = msg + rr.rdoff, c->n = rr.rdlen;
    }
    if (!nt)
        return 0;
    for (int k = 0; k < R_COUNT && no < SW_MDNS_CMP; k++)
        if (ours_mask & (1u << k)) {
            cmp_rec_t *c = &ours[no];
            c->cls = SW_DNS_C_IN, c->type = rec_type(k);
            c->n = rec_rdata(m, k, m->cmp[0][no]);
            c->p = m->cmp[0][no++];
        }
    sort_recs(theirs, nt);
    sort_recs(ours, no);
    for (size_t k = 0; k < nt && k < no; k++) {
        int c = cmp_recs(&ours[k], &theirs[k]);
        if (c)
            return c;
    }
    return no == nt ? 0 : no > nt ? 1 : -1;
}

static void probe_seen(mdns_t *m, const uint8_t *msg, size_t len, const uint8_t src[4])
{
    uint16_t all = all_recs(m);
    int h = tie_break(m, msg, len, &m->host, (uint16_t)(all & A_BITS));
    int s = m->port ? tie_break(m, msg, len, &m->inst, (uint16_t)(all & (1u << R_SRV | 1u << R_TXT))) : 0;
    if (h < 0 || s < 0) {
        sw_log(m->n, SW_LOG_INFO, "mdns: %u.%u.%u.%u probes for %s at the same time and wins the tie-break; "
               "probing again in 1 s", src[0], src[1], src[2], src[3], m->text);
        start_probing(m, LOST_MS);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Queries

// Records that answer question q (answers and additional records).
static void answer_question(mdns_t *m, const sw_dns_q_t *q, uint16_t *an, uint16_t *ar)
{
    if (q->cls != SW_DNS_C_IN && q->cls != SW_DNS_C_ANY)
        return;
    uint16_t all = all_recs(m), t = q->type;
    bool any = t == SW_DNS_T_ANY;
    uint16_t a = all & A_BITS, nh = (uint16_t)(1u << R_NSEC_HOST), ni = (uint16_t)(1u << R_NSEC_INST);
    uint16_t srv = (uint16_t)(1u << R_SRV), txt = (uint16_t)(1u << R_TXT);
    if (sw_dns_name_eq(&q->name, &m->host)) {
        if (any || t == SW_DNS_T_A)
            *an |= a, *ar |= nh;
        else
            *an |= nh; // we have the name but not that type (RFC 6762 §6.1)
    }
    if (!m->port)
        return;
    if (sw_dns_name_eq(&q->name, &m->inst)) {
        if (any || t == SW_DNS_T_SRV)
            *an |= srv, *ar |= a | nh;
        if (any || t == SW_DNS_T_TXT)
            *an |= txt;
        if (!any && t != SW_DNS_T_SRV && t != SW_DNS_T_TXT)
            *an |= ni;
    }
    if (sw_dns_name_eq(&q->name, &m->svc_type) && (any || t == SW_DNS_T_PTR))
        *an |= 1u << R_PTR, *ar |= srv | txt | a | nh | ni; // RFC 6763 §12.1
    if (sw_dns_name_eq(&q->name, &m->dnssd) && (any || t == SW_DNS_T_PTR))
        *an |= 1u << R_ENUM;
}

// A records of addresses on the querier's subnet (all of them if none is).
static uint16_t addrs_for(const mdns_t *m, const uint8_t src[4])
{
    uint16_t ok = 0;
    for (int k = 0; k < m->naddr; k++) {
        bool same = true;
        for (int j = 0; j < 4; j++)
            same &= (m->addr[k][j] & m->mask[k][j]) == (src[j] & m->mask[k][j]);
        if (same)
            ok |= (uint16_t)(1u << k);
    }
    return ok ? ok : (uint16_t)(all_recs(m) & A_BITS);
}

static bool unicast_allowed(mdns_t *m)
{
    uint32_t t = now_ms(m);
    if ((uint32_t)(t - m->uc_t0) >= 1000) {
        m->uc_t0 = t;
        m->uc_count = 0;
    }
    if (m->uc_count >= UNICAST_MAX)
        return false;
    m->uc_count++;
    return true;
}

static void on_resp_timer(sw_node_t *n, sw_timer_t *t)
{
    (void)n;
    mdns_t *m = t->user;
    uint16_t an = m->pend_an, ar = m->pend_ar;
    m->pend_an = m->pend_ar = 0;
    if (an && m->state >= ST_ANNOUNCING)
        send_multicast(m, an, ar, PUT_NORMAL);
}

static void schedule_multicast(mdns_t *m, uint16_t an, uint16_t ar, uint32_t delay)
{
    uint32_t t = now_ms(m), due = t + delay;
    if (!(m->pend_an) || (int32_t)(due - m->pend_due) < 0)
        m->pend_due = due;
    m->pend_an |= an;
    m->pend_ar |= ar;
    sw_timer_start(m->n, &m->t_resp, (uint32_t)(m->pend_due - t));
}

// Legacy unicast (RFC 6762 §6.7): the query's ID and questions, TTLs of at most 10 s, no
// cache-flush bits, sent back to the querier's own address and port.
static void answer_legacy(mdns_t *m, sw_dns_rd_t *r, const char *ip, uint16_t port, uint16_t an, uint16_t ar)
{
    if (!unicast_allowed(m))
        return;
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, m->pkt, MDNS_LEGACY, r->id, (uint16_t)(SW_DNS_F_QR | SW_DNS_F_AA | (r->flags & SW_DNS_F_RD)));
    sw_dns_rd_t q;
    sw_dns_q_t qq;
    sw_dns_rd_init(&q, r->p, r->n);
    for (int k = 0; k < SW_MDNS_MAX_Q && sw_dns_rd_question(&q, &qq) == 1; k++) {
        uint16_t a = 0, b = 0;
        answer_question(m, &qq, &a, &b);
        if (a)
            sw_dns_wr_question(&w, &qq.name, qq.type, qq.cls); // echoed without the QU bit
    }
    put_recs(m, &w, SW_DNS_AN, an, PUT_LEGACY);
    if (w.err == SW_EFULL) { // cannot happen with our few records, but say so if it does
        sw_dns_wr_init(&w, m->pkt, MDNS_LEGACY, r->id, SW_DNS_F_QR | SW_DNS_F_AA | SW_DNS_F_TC);
    } else {
        put_recs(m, &w, SW_DNS_AR, ar, PUT_LEGACY);
    }
    send_to(m, ip, port, &w);
}

static void on_query(mdns_t *m, sw_dns_rd_t *r, const uint8_t src[4], const char *ip, uint16_t port)
{
    bool probe = r->count[SW_DNS_NS] > 0, legacy = port != SW_MDNS_PORT;
    if (m->state == ST_PROBING && probe && !legacy) {
        probe_seen(m, r->p, r->n, src);
        return;
    }
    if (m->state < ST_ANNOUNCING) // nothing is ours yet
        return;
    uint16_t an = 0, ar = 0;
    bool all_qu = true;
    sw_dns_q_t q;
    for (int k = 0; k < SW_MDNS_MAX_Q && sw_dns_rd_question(r, &q) == 1; k++) {
        uint16_t a = 0, b = 0;
        answer_question(m, &q, &a, &b);
        if (a && !q.qu)
            all_qu = false;
        an |= a, ar |= b;
    }
    uint16_t pick = addrs_for(m, src), drop = (uint16_t)(A_BITS & ~pick);
    an &= (uint16_t)~drop;
    ar &= (uint16_t)~drop;
    if (legacy) {
        if (an)
            answer_legacy(m, r, ip, port, an, (uint16_t)(ar & ~an));
        return;
    }
    // known answers (RFC 6762 §7.1): records the querier already holds with at least half
    // their TTL left are not sent, now or from an earlier packet's pending response
    uint16_t known = 0;
    sw_dns_rr_t rr;
    for (int k = 0; k < SW_MDNS_MAX_RR && sw_dns_rd_rr(r, &rr) == 1 && rr.section == SW_DNS_AN; k++) {
        uint16_t same = same_as_ours(m, r, &rr);
        if (same && rr.ttl >= rec_ttl(first_bit(same)) / 2)
            known |= same;
    }
    m->pend_an &= (uint16_t)~known;
    m->pend_ar &= (uint16_t)~known;
    an &= (uint16_t)~known;
    ar &= (uint16_t)~(known | an);
    if (!an)
        return;

    uint32_t t = now_ms(m);
    if (all_qu && !probe) {
        // QU: unicast, unless a record has not been multicast for a quarter of its TTL —
        // then everybody's cache gets it (RFC 6762 §5.4)
        bool fresh = true;
        for (int k = 0; k < R_COUNT; k++)
            if ((an & (1u << k)) && (!(m->mc_done & (1u << k)) || t - m->last_mc[k] > rec_ttl(k) * 250u))
                fresh = false;
        if (fresh) {
            if (!unicast_allowed(m))
                return;
            sw_dns_wr_t w;
            sw_dns_wr_init(&w, m->pkt, sizeof m->pkt, r->id, SW_DNS_F_QR | SW_DNS_F_AA);
            put_recs(m, &w, SW_DNS_AN, an, PUT_NORMAL);
            put_recs(m, &w, SW_DNS_AR, ar, PUT_NORMAL);
            send_to(m, ip, port, &w);
            return;
        }
    }
    // multicast, each record at most once a second (every 250 ms to defend against a probe)
    uint32_t gap = probe ? DEFEND_MS : RATE_MS;
    for (int k = 0; k < R_COUNT; k++)
        if ((an & (1u << k)) && (m->mc_done & (1u << k)) && t - m->last_mc[k] < gap)
            an &= (uint16_t)~(1u << k);
    if (!an)
        return;
    // answers with shared records wait 20-120 ms so several responders' answers merge; a
    // truncated query waits for its remaining known answers (RFC 6762 §6, §7.2)
    uint32_t delay = 0;
    if (r->flags & SW_DNS_F_TC)
        delay = 400 + rnd(m, 101);
    else if (an & (1u << R_PTR | 1u << R_ENUM))
        delay = 20 + rnd(m, 101);
    schedule_multicast(m, an, ar, delay);
}

static void on_datagram(sw_node_t *n, sw_service_t *s, sw_udp_t *u, const char *ip, uint16_t port,
                        const uint8_t *p, size_t len)
{
    (void)n;
    mdns_t *m = s->state;
    uint8_t src[4];
    if (u != m->udp || len > MDNS_RX_MAX || !parse_ip4(ip, src) || is_own(m, src, p, len))
        return;
    int rc = sw_dns_check(p, len);
    if (rc) {
        sw_log(m->n, SW_LOG_DEBUG, "mdns: malformed packet from %s:%u (%u bytes): %s", ip, (unsigned)port,
               (unsigned)len, sw_strerror(rc));
        return;
    }
    sw_dns_rd_t r;
    sw_dns_rd_init(&r, p, len);
    if (r.flags & (SW_DNS_F_OPCODE | SW_DNS_F_RCODE)) // RFC 6762 §18.3, §18.11
        return;
    if (r.flags & SW_DNS_F_QR) {
        if (port == SW_MDNS_PORT) // RFC 6762 §11: other responses are not mDNS
            on_response(m, &r, src);
    } else {
        on_query(m, &r, src, ip, port);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Addresses and identity, re-read every boot.MDNS_POLL_MS

// The node's addresses: every interface's but loopback, or only the --listen address.
static void read_addrs(mdns_t *m, uint8_t addr[SW_MDNS_ADDRS][4], uint8_t mask[SW_MDNS_ADDRS][4], uint8_t *count)
{
    sw_netif_t ifs[8];
    size_t k = m->n->port.ops->netifs(m->n->port.ctx, ifs, 8);
    const char *only = m->n->opts.listen_addr;
    if (only && !strcmp(only, "0.0.0.0"))
        only = NULL;
    *count = 0;
    for (size_t i = 0; i < k && *count < SW_MDNS_ADDRS; i++) {
        uint8_t a[4], nm[4];
        if (!parse_ip4(ifs[i].addr, a) || a[0] == 127 || a[0] == 0 || (only && strcmp(only, ifs[i].addr)))
            continue;
        if (!parse_ip4(ifs[i].netmask, nm))
            memset(nm, 255, 4);
        memcpy(addr[*count], a, 4);
        memcpy(mask[*count], nm, 4);
        ++*count;
    }
}

// The port the RPC listener really is on (a changed rpc.port takes effect at the next start).
static uint16_t read_port(mdns_t *m)
{
    sw_node_t *n = m->n;
    return n->rpc_listener ? n->port.ops->listener_port(n->port.ctx, n->rpc_listener) : 0;
}

static void build_txt(mdns_t *m)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)m->port);
    m->txtlen = 0;
    // each value is at most 63 bytes, so all four always fit
    sw_dns_txt_add(m->txt, sizeof m->txt, &m->txtlen, "app", m->n->app_name);
    sw_dns_txt_add(m->txt, sizeof m->txt, &m->txtlen, "board", m->n->hardware_name);
    sw_dns_txt_add(m->txt, sizeof m->txt, &m->txtlen, "version", SW_VERSION_STRING);
    sw_dns_txt_add(m->txt, sizeof m->txt, &m->txtlen, "rpc", port);
}

// board.host_name as a DNS label: letters, digits and '-' (others become '-'), 1..63 bytes.
static void set_base(mdns_t *m)
{
    size_t k = 0;
    for (const char *s = m->n->host_name; *s && k < SW_DNS_LABEL_MAX; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        m->base[k++] = ok ? c : '-';
    }
    if (!k)
        memcpy(m->base, "swarm", 6), k = 5;
    m->base[k] = 0;
    m->suffix = 0;
    memcpy(m->host_name, m->n->host_name, sizeof m->host_name);
}

static int open_socket(mdns_t *m)
{
    if (m->udp)
        m->n->port.ops->udp_close(m->n->port.ctx, m->udp);
    m->udp = NULL;
    return sw_node_udp_open(m->n, &m->svc, NULL, SW_MDNS_PORT, SW_UDP_MDNS, &m->udp);
}

static void on_poll(sw_node_t *n, sw_timer_t *t)
{
    mdns_t *m = t->user;
    sw_timer_start(n, t, m->poll_ms);
    uint8_t addr[SW_MDNS_ADDRS][4], mask[SW_MDNS_ADDRS][4], count;
    read_addrs(m, addr, mask, &count);
    bool addrs = count != m->naddr || memcmp(addr, m->addr, (size_t)count * 4u) != 0;
    bool name = strcmp(m->host_name, n->host_name) != 0;
    uint16_t port = read_port(m);
    bool data = port != m->port || strcmp(m->app, n->app_name) || strcmp(m->board, n->hardware_name);
    if (!addrs && !name && !data) {
        if (!m->udp && m->naddr && !open_socket(m)) // a socket that failed before
            start_probing(m, rnd(m, PROBE_WAIT));
        return;
    }
    if (addrs || name || (port != m->port && (!port || !m->port))) {
        // new unique data: say goodbye to the old, then probe again (RFC 6762 §8)
        send_goodbye(m);
        memcpy(m->addr, addr, sizeof addr);
        memcpy(m->mask, mask, sizeof mask);
        m->naddr = count;
        m->port = port;
        memcpy(m->app, n->app_name, sizeof m->app);
        memcpy(m->board, n->hardware_name, sizeof m->board);
        if (name)
            set_base(m);
        build_txt(m);
        build_names(m);
        char ips[80];
        log_addrs(m, ips, sizeof ips);
        sw_log(n, SW_LOG_INFO, "mdns: %s changed; probing %s (%s)",
               name ? "host name" : addrs ? "addresses" : "service", m->text, count ? ips : "no address");
        // a socket opened before an interface came up has not joined the group on it
        if (addrs && open_socket(m))
            m->state = ST_IDLE;
        start_probing(m, rnd(m, PROBE_WAIT));
        return;
    }
    // only the TXT data or the SRV port changed: announce the new records (RFC 6762 §8.4)
    m->port = port;
    memcpy(m->app, n->app_name, sizeof m->app);
    memcpy(m->board, n->hardware_name, sizeof m->board);
    build_txt(m);
    m->mc_done = 0;
    if (m->state >= ST_ANNOUNCING) {
        m->state = ST_ANNOUNCING;
        m->nann = 0;
        sw_timer_start(n, &m->t_state, 0);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Service

static void mdns_stop(sw_node_t *n, sw_service_t *s)
{
    mdns_t *m = s->state;
    send_goodbye(m);
    sw_timer_stop(n, &m->t_state);
    sw_timer_stop(n, &m->t_poll);
    sw_timer_stop(n, &m->t_resp);
    if (m->udp)
        n->port.ops->udp_close(n->port.ctx, m->udp);
    sw_node_service_remove(n, s);
    n->mdns_name = NULL;
    sw_node_release(n, m, sizeof *m);
}

int sw_mdns_start(sw_node_t *n)
{
    if (!sw_cfg_bool(&n->cfg, "boot.MDNS_ENABLE", true))
        return 0;
    const char *la = n->opts.listen_addr;
    if (la && !strncmp(la, "127.", 4)) {
        // nothing to announce, and multicast would leave by another interface
        sw_log(n, SW_LOG_INFO, "mdns: off: the node listens on %s only", la);
        return 0;
    }
    mdns_t *m = sw_node_alloc(n, sizeof *m);
    if (!m)
        return SW_EFULL;
    m->n = n;
    m->svc.name = "mdns";
    m->svc.datagram = on_datagram;
    m->svc.stop = mdns_stop;
    m->svc.state = m;
    m->t_state.fn = on_state, m->t_state.user = m;
    m->t_poll.fn = on_poll, m->t_poll.user = m;
    m->t_resp.fn = on_resp_timer, m->t_resp.user = m;
    int64_t poll = sw_cfg_int(&n->cfg, "boot.MDNS_POLL_MS", 500);
    m->poll_ms = (uint32_t)(poll < 100 ? 100 : poll > 60000 ? 60000 : poll);

    int rc = open_socket(m);
    if (rc) {
        sw_node_release(n, m, sizeof *m);
        return rc;
    }
    sw_node_service_add(n, &m->svc);
    read_addrs(m, m->addr, m->mask, &m->naddr);
    m->port = read_port(m);
    memcpy(m->app, n->app_name, sizeof m->app);
    memcpy(m->board, n->hardware_name, sizeof m->board);
    set_base(m);
    build_txt(m);
    build_names(m);
    n->mdns_name = m->text;
    if (m->naddr) {
        char ips[80];
        log_addrs(m, ips, sizeof ips);
        sw_log(n, SW_LOG_INFO, "mdns: probing %s (%s)", m->text, ips);
    } else {
        sw_log(n, SW_LOG_INFO, "mdns: no address yet; %s waits for one", m->text);
    }
    start_probing(m, rnd(m, PROBE_WAIT));
    sw_timer_start(n, &m->t_poll, m->poll_ms);
    return 0;
}

const sw_part_t sw_part_mdns = {.name = "mdns", .serve = sw_mdns_start};

#endif // SW_WITH_NET
