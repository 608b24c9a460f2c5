// Fuzz target: the DNS reader on arbitrary bytes (mDNS packets as they arrive on port 5353).
// Every name read is well formed (labels <= 63, total <= 255, ends with the zero); the
// presentation text stays inside its buffer; a message that reads cleanly is written again —
// with and without compression — and reads back as the same questions and records with the
// same canonical data; sw_dns_check agrees with reading record by record.
#include <string.h>

#include "swarm/dns.h"

static uint8_t out[2][1 << 20];

static void check_name(const sw_dns_name_t *nm)
{
    if (nm->len == 0 || nm->len > SW_DNS_NAME_MAX || nm->b[nm->len - 1] != 0)
        __builtin_trap();
    size_t at = 0;
    while (nm->b[at]) {
        if (nm->b[at] > SW_DNS_LABEL_MAX)
            __builtin_trap();
        at += 1u + nm->b[at];
        if (at >= nm->len)
            __builtin_trap();
    }
    if (at != (size_t)nm->len - 1u)
        __builtin_trap();
    char text[8];
    char big[4 * SW_DNS_NAME_MAX + 2];
    size_t n = sw_dns_name_text(nm, text, sizeof text);
    if (text[n < sizeof text ? n : sizeof text - 1] != 0)
        __builtin_trap();
    if (sw_dns_name_text(nm, big, sizeof big) != n || strlen(big) != n)
        __builtin_trap();
    sw_dns_name_t again;
    if (!sw_dns_name_eq(nm, nm))
        __builtin_trap();
    // a name without dots inside labels survives text and back
    if (!memchr(big, '\\', n) && sw_dns_name_from(&again, big, n) == 0 && !sw_dns_name_eq(nm, &again))
        __builtin_trap();
}

// Writes what r holds (already read once without error) into o; returns its length or < 0.
static int rewrite(const uint8_t *data, size_t size, uint8_t *o, size_t cap, bool compress)
{
    sw_dns_rd_t r;
    sw_dns_q_t q;
    sw_dns_rr_t rr;
    sw_dns_wr_t w;
    sw_dns_rd_init(&r, data, size);
    sw_dns_wr_init(&w, o, cap, r.id, r.flags);
    w.compress = compress;
    while (sw_dns_rd_question(&r, &q) == 1)
        sw_dns_wr_question(&w, &q.name, q.type, (uint16_t)(q.cls | (q.qu ? SW_DNS_C_TOP : 0)));
    while (sw_dns_rd_rr(&r, &rr) == 1) {
        uint16_t cls = (uint16_t)(rr.cls | (rr.flush ? SW_DNS_C_TOP : 0));
        sw_dns_name_t t;
        if (rr.type == SW_DNS_T_PTR) {
            if (sw_dns_rd_name(&r, rr.target, &t))
                __builtin_trap();
            sw_dns_wr_ptr(&w, rr.section, &rr.name, cls, rr.ttl, &t);
        } else if (rr.type == SW_DNS_T_SRV) {
            if (sw_dns_rd_name(&r, rr.target, &t))
                __builtin_trap();
            sw_dns_wr_srv(&w, rr.section, &rr.name, cls, rr.ttl, rr.prio, rr.weight, rr.port, &t);
        } else {
            static uint8_t canon[SW_DNS_NAME_MAX + 65536];
            int cn = sw_dns_rd_rdata(&r, &rr, canon, sizeof canon);
            if (cn < 0)
                __builtin_trap();
            sw_dns_wr_rr_begin(&w, rr.section, &rr.name, rr.type, cls, rr.ttl);
            sw_dns_wr_bytes(&w, canon, (size_t)cn);
            sw_dns_wr_rr_end(&w);
        }
    }
    return sw_dns_wr_finish(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_dns_rd_t r;
    sw_dns_q_t q;
    sw_dns_rr_t rr;
    int rc = sw_dns_rd_init(&r, data, size);
    if (rc) {
        if (size >= SW_DNS_HDR || sw_dns_check(data, size) != SW_EPROTO)
            __builtin_trap();
        return 0;
    }
    while ((rc = sw_dns_rd_question(&r, &q)) == 1)
        check_name(&q.name);
    while (rc == 0 && (rc = sw_dns_rd_rr(&r, &rr)) == 1) {
        check_name(&rr.name);
        if (rr.rdoff + rr.rdlen > size || rr.section < SW_DNS_AN || rr.section > SW_DNS_AR)
            __builtin_trap();
        sw_dns_name_t t;
        if (rr.target) {
            if (sw_dns_rd_name(&r, rr.target, &t))
                __builtin_trap();
            check_name(&t);
        }
        static uint8_t canon[SW_DNS_NAME_MAX + 65536];
        int cn = sw_dns_rd_rdata(&r, &rr, canon, sizeof canon);
        if (cn < 0 || !sw_dns_rdata_eq(rr.type, canon, (size_t)cn, canon, (size_t)cn))
            __builtin_trap();
        rc = 0;
    }
    if (rc < 0 && r.err != rc)
        __builtin_trap();
    if (sw_dns_check(data, size) != (rc < 0 ? rc : 0))
        __builtin_trap();
    if (rc < 0)
        return 0;

    // write it again, both ways, and read both back against the input
    int len[2];
    for (int c = 0; c < 2; c++) {
        len[c] = rewrite(data, size, out[c], sizeof out[c], c == 1);
        if (len[c] == SW_EFULL) // only a huge input expands past 1 MB
            return 0;
        if (len[c] < 0)
            __builtin_trap();
        if (sw_dns_check(out[c], (size_t)len[c]) != 0)
            __builtin_trap();
    }
    if (len[1] > len[0])
        __builtin_trap();
    for (int c = 0; c < 2; c++) {
        sw_dns_rd_t a, b;
        sw_dns_q_t qa, qb;
        sw_dns_rr_t ra, rb;
        sw_dns_rd_init(&a, data, size);
        sw_dns_rd_init(&b, out[c], (size_t)len[c]);
        if (a.id != b.id || a.flags != b.flags || memcmp(a.count, b.count, sizeof a.count))
            __builtin_trap();
        while (sw_dns_rd_question(&a, &qa) == 1) {
            if (sw_dns_rd_question(&b, &qb) != 1 || qa.name.len != qb.name.len ||
                memcmp(qa.name.b, qb.name.b, qa.name.len) || qa.type != qb.type || qa.cls != qb.cls ||
                qa.qu != qb.qu)
                __builtin_trap();
        }
        while (sw_dns_rd_rr(&a, &ra) == 1) {
            if (sw_dns_rd_rr(&b, &rb) != 1 || ra.name.len != rb.name.len ||
                memcmp(ra.name.b, rb.name.b, ra.name.len) || ra.type != rb.type || ra.cls != rb.cls ||
                ra.flush != rb.flush || ra.ttl != rb.ttl || ra.section != rb.section)
                __builtin_trap();
            static uint8_t ca[SW_DNS_NAME_MAX + 65536], cb[SW_DNS_NAME_MAX + 65536];
            int na = sw_dns_rd_rdata(&a, &ra, ca, sizeof ca), nb = sw_dns_rd_rdata(&b, &rb, cb, sizeof cb);
            if (na < 0 || na != nb || memcmp(ca, cb, (size_t)na))
                __builtin_trap();
        }
        if (sw_dns_rd_rr(&b, &rb) != 0)
            __builtin_trap();
    }
    return 0;
}
