// DNS messages as Multicast DNS uses them: a bounded reader and a builder with name
// compression over caller buffers (swarm/dns.h).
//
// The one subtle part is reading compressed names. A name is labels, then either a zero byte or
// a pointer to more labels elsewhere. Each pointer must go strictly below the previous target
// (below the name's own start for the first one), so the positions visited only ever decrease
// and a walk cannot loop; with the 255-byte limit on the expanded name and at most 128 pointer
// hops, every walk is short.
#include <string.h>

#include "swarm/dns.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((unsigned)p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t fold(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

//////////////////////////////////////////////////////////////////////////////////////////////
// Names

int sw_dns_name_from(sw_dns_name_t *nm, const char *text, size_t n)
{
    nm->len = 0;
    if (n && text[n - 1] == '.')
        n--;
    size_t len = 0, s = 0;
    if (n) {
        for (size_t k = 0; k <= n; k++) {
            if (k < n && text[k] != '.')
                continue;
            size_t m = k - s;
            if (m == 0 || m > SW_DNS_LABEL_MAX)
                return SW_EINVAL;
            if (len + 1 + m + 1 > SW_DNS_NAME_MAX)
                return SW_ETOOBIG;
            nm->b[len++] = (uint8_t)m;
            memcpy(nm->b + len, text + s, m);
            len += m;
            s = k + 1;
        }
    }
    nm->b[len++] = 0;
    nm->len = (uint8_t)len;
    return 0;
}

int sw_dns_name_join(sw_dns_name_t *out, const void *label, size_t n, const sw_dns_name_t *suffix)
{
    if (n == 0 || n > SW_DNS_LABEL_MAX || suffix->len == 0)
        return SW_EINVAL;
    if (1 + n + suffix->len > SW_DNS_NAME_MAX)
        return SW_ETOOBIG;
    size_t sl = suffix->len;
    memmove(out->b + 1 + n, suffix->b, sl); // suffix may be out
    out->b[0] = (uint8_t)n;
    memcpy(out->b + 1, label, n);
    out->len = (uint8_t)(1 + n + sl);
    return 0;
}

bool sw_dns_name_eq(const sw_dns_name_t *a, const sw_dns_name_t *b)
{
    if (a->len != b->len)
        return false;
    // length bytes are <= 63, below 'A', so folding them changes nothing
    for (size_t k = 0; k < a->len; k++)
        if (fold(a->b[k]) != fold(b->b[k]))
            return false;
    return true;
}

size_t sw_dns_name_text(const sw_dns_name_t *nm, char *buf, size_t cap)
{
    size_t k = 0;
#define PUT(c)                                                                                   \
    do {                                                                                         \
        if (k + 1 < cap)                                                                         \
            buf[k] = (char)(c);                                                                  \
        k++;                                                                                     \
    } while (0)
    if (nm->len <= 1)
        PUT('.');
    for (size_t at = 0; at < nm->len && nm->b[at];) {
        size_t m = nm->b[at++];
        if (at > 1)
            PUT('.');
        for (size_t j = 0; j < m && at < nm->len; j++, at++) {
            uint8_t c = nm->b[at];
            if (c == '.' || c == '\\') {
                PUT('\\');
                PUT(c);
            } else if (c < '!' || c > '~') {
                PUT('\\');
                PUT('0' + c / 100);
                PUT('0' + c / 10 % 10);
                PUT('0' + c % 10);
            } else {
                PUT(c);
            }
        }
    }
#undef PUT
    if (cap)
        buf[k < cap ? k : cap - 1] = 0;
    return k;
}

// Walks the (possibly compressed) name at off of m[0..n): *end = offset after its in-place
// bytes; the expanded name goes to out if not NULL. 0 or SW_EPROTO.
static int name_walk(const uint8_t *m, size_t n, size_t off, sw_dns_name_t *out, size_t *end)
{
    size_t len = 0, pos = off, floor = off, hops = 0;
    bool jumped = false;
    for (;;) {
        if (pos >= n)
            return SW_EPROTO;
        uint8_t c = m[pos];
        if ((c & 0xc0) == 0xc0) {
            if (pos + 1 >= n)
                return SW_EPROTO;
            size_t t = (size_t)(c & 0x3f) << 8 | m[pos + 1];
            // a real name has at most 127 labels, so more hops than that are garbage
            if (t >= floor || t < SW_DNS_HDR || ++hops > 128)
                return SW_EPROTO;
            if (!jumped)
                *end = pos + 2;
            jumped = true;
            floor = pos = t;
            continue;
        }
        if (c & 0xc0) // 0x40 and 0x80: extended and reserved label types
            return SW_EPROTO;
        if (c == 0) {
            if (out) {
                out->b[len] = 0;
                out->len = (uint8_t)(len + 1);
            }
            if (!jumped)
                *end = pos + 1;
            return 0;
        }
        if (pos + 1 + c > n || len + 1 + c + 1 > SW_DNS_NAME_MAX)
            return SW_EPROTO;
        if (out)
            memcpy(out->b + len, m + pos, 1u + c);
        len += 1u + c;
        pos += 1u + c;
    }
}

// Length of the uncompressed name at the start of p[0..n), or 0 if there is none.
static size_t plain_name_len(const uint8_t *p, size_t n)
{
    size_t at = 0;
    while (at < n && at < SW_DNS_NAME_MAX) {
        uint8_t c = p[at];
        if (c == 0)
            return at + 1;
        if (c > SW_DNS_LABEL_MAX)
            return 0;
        at += 1u + c;
    }
    return 0;
}

static bool bytes_eq(const uint8_t *a, const uint8_t *b, size_t n, bool nocase)
{
    for (size_t k = 0; k < n; k++)
        if (nocase ? fold(a[k]) != fold(b[k]) : a[k] != b[k])
            return false;
    return true;
}

bool sw_dns_rdata_eq(uint16_t type, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an != bn)
        return false;
    switch (type) {
    case SW_DNS_T_PTR:
    case SW_DNS_T_CNAME:
    case SW_DNS_T_NS:
        return bytes_eq(a, b, an, true);
    case SW_DNS_T_SRV:
        return an >= 6 && bytes_eq(a, b, 6, false) && bytes_eq(a + 6, b + 6, an - 6, true);
    case SW_DNS_T_NSEC: {
        size_t la = plain_name_len(a, an), lb = plain_name_len(b, bn);
        if (!la || la != lb)
            return bytes_eq(a, b, an, false);
        return bytes_eq(a, b, la, true) && bytes_eq(a + la, b + la, an - la, false);
    }
    default:
        return bytes_eq(a, b, an, false);
    }
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Reader

static int rd_fail(sw_dns_rd_t *r, int err)
{
    if (!r->err)
        r->err = err;
    return r->err;
}

int sw_dns_rd_init(sw_dns_rd_t *r, const void *msg, size_t n)
{
    memset(r, 0, sizeof *r);
    r->p = msg;
    r->n = n;
    if (n < SW_DNS_HDR)
        return rd_fail(r, SW_EPROTO);
    r->id = get16(r->p);
    r->flags = get16(r->p + 2);
    for (int s = 0; s < 4; s++)
        r->count[s] = get16(r->p + 4 + 2 * s);
    r->at = SW_DNS_HDR;
    r->section = SW_DNS_QD;
    r->left = r->count[0];
    return 0;
}

// Moves past empty sections; false at the end of the message.
static bool rd_next_section(sw_dns_rd_t *r)
{
    while (r->left == 0) {
        if (r->section >= SW_DNS_AR)
            return false;
        r->section++;
        r->left = r->count[r->section];
    }
    return true;
}

int sw_dns_rd_question(sw_dns_rd_t *r, sw_dns_q_t *q)
{
    if (r->err)
        return r->err;
    if (r->section != SW_DNS_QD || r->left == 0)
        return 0;
    size_t end;
    if (name_walk(r->p, r->n, r->at, &q->name, &end) || end + 4 > r->n)
        return rd_fail(r, SW_EPROTO);
    q->type = get16(r->p + end);
    uint16_t c = get16(r->p + end + 2);
    q->cls = c & 0x7fff;
    q->qu = (c & SW_DNS_C_TOP) != 0;
    r->at = end + 4;
    r->left--;
    return 1;
}

// Checks a record's data; fills the decoded fields.
static int rd_rdata_check(sw_dns_rd_t *r, sw_dns_rr_t *rr)
{
    const uint8_t *d = r->p + rr->rdoff;
    size_t n = rr->rdlen, stop = rr->rdoff + n, end;
    switch (rr->type) {
    case SW_DNS_T_A:
    case SW_DNS_T_AAAA:
        if (n != (rr->type == SW_DNS_T_A ? 4u : 16u))
            return SW_EPROTO;
        memcpy(rr->a, d, n);
        return 0;
    case SW_DNS_T_PTR:
    case SW_DNS_T_CNAME:
    case SW_DNS_T_NS:
        rr->target = rr->rdoff;
        if (name_walk(r->p, stop, rr->target, NULL, &end) || end != stop)
            return SW_EPROTO;
        return 0;
    case SW_DNS_T_SRV:
        if (n < 7)
            return SW_EPROTO;
        rr->prio = get16(d), rr->weight = get16(d + 2), rr->port = get16(d + 4);
        rr->target = rr->rdoff + 6;
        if (name_walk(r->p, stop, rr->target, NULL, &end) || end != stop)
            return SW_EPROTO;
        return 0;
    case SW_DNS_T_TXT: {
        size_t at = 0;
        while (at < n)
            at += 1u + d[at];
        return at == n ? 0 : SW_EPROTO;
    }
    case SW_DNS_T_NSEC: {
        rr->target = rr->rdoff;
        if (name_walk(r->p, stop, rr->target, NULL, &end))
            return SW_EPROTO;
        // window blocks: number, length 1..32, bitmap; in increasing window order
        int last = -1;
        while (end < stop) {
            if (end + 2 > stop || (int)r->p[end] <= last || r->p[end + 1] == 0 || r->p[end + 1] > 32 ||
                end + 2 + r->p[end + 1] > stop)
                return SW_EPROTO;
            last = r->p[end];
            end += 2u + r->p[end + 1];
        }
        return 0;
    }
    default:
        return 0;
    }
}

int sw_dns_rd_rr(sw_dns_rd_t *r, sw_dns_rr_t *rr)
{
    if (r->err)
        return r->err;
    sw_dns_q_t q;
    while (r->section == SW_DNS_QD && r->left) {
        int rc = sw_dns_rd_question(r, &q);
        if (rc < 0)
            return rc;
    }
    if (!rd_next_section(r))
        return 0;
    size_t end;
    if (name_walk(r->p, r->n, r->at, &rr->name, &end) || end + 10 > r->n)
        return rd_fail(r, SW_EPROTO);
    const uint8_t *h = r->p + end;
    rr->section = r->section;
    rr->type = get16(h);
    rr->cls = get16(h + 2) & 0x7fff;
    rr->flush = (get16(h + 2) & SW_DNS_C_TOP) != 0;
    rr->ttl = get32(h + 4);
    rr->rdlen = get16(h + 8);
    rr->rdoff = end + 10;
    rr->target = 0;
    rr->prio = rr->weight = rr->port = 0;
    if (rr->rdoff + rr->rdlen > r->n || rd_rdata_check(r, rr))
        return rd_fail(r, SW_EPROTO);
    r->at = rr->rdoff + rr->rdlen;
    r->left--;
    return 1;
}

int sw_dns_rd_name(const sw_dns_rd_t *r, size_t off, sw_dns_name_t *out)
{
    size_t end;
    return name_walk(r->p, r->n, off, out, &end) ? SW_EPROTO : 0;
}

int sw_dns_rd_rdata(const sw_dns_rd_t *r, const sw_dns_rr_t *rr, uint8_t *out, size_t cap)
{
    size_t stop = rr->rdoff + rr->rdlen, pre = 0, end;
    if (stop > r->n)
        return SW_EPROTO;
    switch (rr->type) {
    case SW_DNS_T_SRV:
        pre = 6;
        // fall through
    case SW_DNS_T_PTR:
    case SW_DNS_T_CNAME:
    case SW_DNS_T_NS:
    case SW_DNS_T_NSEC: {
        sw_dns_name_t nm;
        if (name_walk(r->p, stop, rr->rdoff + pre, &nm, &end))
            return SW_EPROTO;
        size_t tail = stop - end, total = pre + nm.len + tail;
        if (total > cap)
            return SW_EFULL;
        memcpy(out, r->p + rr->rdoff, pre);
        memcpy(out + pre, nm.b, nm.len);
        memcpy(out + pre + nm.len, r->p + end, tail);
        return (int)total;
    }
    default:
        if (rr->rdlen > cap)
            return SW_EFULL;
        memcpy(out, r->p + rr->rdoff, rr->rdlen);
        return rr->rdlen;
    }
}

int sw_dns_check(const void *msg, size_t n)
{
    sw_dns_rd_t r;
    sw_dns_rr_t rr;
    int rc = sw_dns_rd_init(&r, msg, n);
    while (rc == 0 && (rc = sw_dns_rd_rr(&r, &rr)) == 1)
        rc = 0;
    return rc;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Writer

static void wr_fail(sw_dns_wr_t *w, int err)
{
    if (!w->err)
        w->err = err;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void sw_dns_wr_init(sw_dns_wr_t *w, void *buf, size_t cap, uint16_t id, uint16_t flags)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->compress = true;
    if (cap < SW_DNS_HDR) {
        w->err = SW_EFULL;
        return;
    }
    memset(w->buf, 0, SW_DNS_HDR);
    put16(w->buf, id);
    put16(w->buf + 2, flags);
    w->len = SW_DNS_HDR;
}

void sw_dns_wr_bytes(sw_dns_wr_t *w, const void *p, size_t n)
{
    if (w->err)
        return;
    if (n > w->cap - w->len) {
        wr_fail(w, SW_EFULL);
        return;
    }
    if (n)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

void sw_dns_wr_u8(sw_dns_wr_t *w, uint8_t v) { sw_dns_wr_bytes(w, &v, 1); }

void sw_dns_wr_u16(sw_dns_wr_t *w, uint16_t v)
{
    uint8_t b[2];
    put16(b, v);
    sw_dns_wr_bytes(w, b, 2);
}

void sw_dns_wr_u32(sw_dns_wr_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sw_dns_wr_bytes(w, b, 4);
}

// True if the name written at offset o of the output (which may continue through pointers)
// equals nm->b[from..] byte for byte. Our own output is well formed, but the walk is bounded
// anyway.
static bool wr_match(const sw_dns_wr_t *w, size_t o, const sw_dns_name_t *nm, size_t from)
{
    size_t i = from;
    for (int hops = 0; hops < 128 && o < w->len;) {
        uint8_t c = w->buf[o];
        if ((c & 0xc0) == 0xc0) {
            if (o + 1 >= w->len)
                return false;
            o = (size_t)(c & 0x3f) << 8 | w->buf[o + 1];
            hops++;
            continue;
        }
        if (i >= nm->len || c != nm->b[i])
            return false;
        if (c == 0)
            return true;
        if (o + 1 + c > w->len || i + 1 + c > nm->len || memcmp(w->buf + o + 1, nm->b + i + 1, c) != 0)
            return false;
        o += 1u + c;
        i += 1u + c;
    }
    return false;
}

void sw_dns_wr_name(sw_dns_wr_t *w, const sw_dns_name_t *nm, bool compress)
{
    if (w->err)
        return;
    if (nm->len == 0 || nm->b[nm->len - 1] != 0) {
        wr_fail(w, SW_EINVAL);
        return;
    }
    compress = compress && w->compress;
    // the longest suffix already in the message (suffixes start at label boundaries)
    size_t cut = nm->len - 1, ptr = 0;
    if (compress) {
        for (size_t i = 0; i + 1 < nm->len && !ptr; i += 1u + nm->b[i])
            for (size_t t = 0; t < w->ntargets; t++)
                if (wr_match(w, w->targets[t], nm, i)) {
                    cut = i;
                    ptr = w->targets[t];
                    break;
                }
    }
    size_t start = w->len;
    sw_dns_wr_bytes(w, nm->b, cut);
    if (ptr)
        sw_dns_wr_u16(w, (uint16_t)(0xc000 | ptr));
    else
        sw_dns_wr_u8(w, 0);
    if (w->err)
        return;
    // the labels written in place become targets for later names
    for (size_t i = 0; i < cut && w->ntargets < SW_DNS_WR_NAMES; i += 1u + nm->b[i])
        if (start + i < 0x3fff)
            w->targets[w->ntargets++] = (uint16_t)(start + i);
}

static bool wr_section(sw_dns_wr_t *w, int section)
{
    if (w->err)
        return false;
    if (section < w->section || section > SW_DNS_AR || w->rr_len) {
        wr_fail(w, SW_EINVAL);
        return false;
    }
    if (w->count[section] == 0xffff) {
        wr_fail(w, SW_ETOOBIG);
        return false;
    }
    w->section = (uint8_t)section;
    return true;
}

void sw_dns_wr_question(sw_dns_wr_t *w, const sw_dns_name_t *name, uint16_t type, uint16_t cls)
{
    if (!wr_section(w, SW_DNS_QD))
        return;
    sw_dns_wr_name(w, name, true);
    sw_dns_wr_u16(w, type);
    sw_dns_wr_u16(w, cls);
    if (!w->err)
        w->count[SW_DNS_QD]++;
}

void sw_dns_wr_rr_begin(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t type,
                        uint16_t cls, uint32_t ttl)
{
    if (section == SW_DNS_QD || !wr_section(w, section)) {
        wr_fail(w, SW_EINVAL);
        return;
    }
    sw_dns_wr_name(w, name, true);
    sw_dns_wr_u16(w, type);
    sw_dns_wr_u16(w, cls);
    sw_dns_wr_u32(w, ttl);
    size_t at = w->len;
    sw_dns_wr_u16(w, 0);
    if (!w->err)
        w->rr_len = at;
}

void sw_dns_wr_rr_end(sw_dns_wr_t *w)
{
    if (w->err)
        return;
    if (!w->rr_len) {
        wr_fail(w, SW_EINVAL);
        return;
    }
    size_t n = w->len - w->rr_len - 2;
    if (n > 0xffff) {
        wr_fail(w, SW_ETOOBIG);
        return;
    }
    put16(w->buf + w->rr_len, (uint16_t)n);
    w->rr_len = 0;
    w->count[w->section]++;
}

void sw_dns_wr_a(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                 const uint8_t ip[4])
{
    sw_dns_wr_rr_begin(w, section, name, SW_DNS_T_A, cls, ttl);
    sw_dns_wr_bytes(w, ip, 4);
    sw_dns_wr_rr_end(w);
}

void sw_dns_wr_ptr(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   const sw_dns_name_t *target)
{
    sw_dns_wr_rr_begin(w, section, name, SW_DNS_T_PTR, cls, ttl);
    sw_dns_wr_name(w, target, true);
    sw_dns_wr_rr_end(w);
}

void sw_dns_wr_srv(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   uint16_t prio, uint16_t weight, uint16_t port, const sw_dns_name_t *target)
{
    sw_dns_wr_rr_begin(w, section, name, SW_DNS_T_SRV, cls, ttl);
    sw_dns_wr_u16(w, prio);
    sw_dns_wr_u16(w, weight);
    sw_dns_wr_u16(w, port);
    sw_dns_wr_name(w, target, true);
    sw_dns_wr_rr_end(w);
}

void sw_dns_wr_txt(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   const uint8_t *txt, size_t n)
{
    sw_dns_wr_rr_begin(w, section, name, SW_DNS_T_TXT, cls, ttl);
    if (n)
        sw_dns_wr_bytes(w, txt, n);
    else
        sw_dns_wr_u8(w, 0);
    sw_dns_wr_rr_end(w);
}

void sw_dns_wr_nsec(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                    const uint16_t *types, size_t ntypes)
{
    uint8_t map[32];
    size_t maplen = 0;
    memset(map, 0, sizeof map);
    for (size_t k = 0; k < ntypes; k++) {
        if (types[k] > 255) {
            wr_fail(w, SW_EINVAL);
            return;
        }
        map[types[k] / 8] |= (uint8_t)(0x80 >> (types[k] % 8));
        if (types[k] / 8 + 1u > maplen)
            maplen = types[k] / 8 + 1u;
    }
    sw_dns_wr_rr_begin(w, section, name, SW_DNS_T_NSEC, cls, ttl);
    sw_dns_wr_name(w, name, false);
    if (maplen) {
        sw_dns_wr_u8(w, 0);
        sw_dns_wr_u8(w, (uint8_t)maplen);
        sw_dns_wr_bytes(w, map, maplen);
    }
    sw_dns_wr_rr_end(w);
}

int sw_dns_wr_finish(sw_dns_wr_t *w)
{
    if (w->err)
        return w->err;
    if (w->rr_len) {
        wr_fail(w, SW_EINVAL);
        return w->err;
    }
    for (int s = 0; s < 4; s++)
        put16(w->buf + 4 + 2 * s, w->count[s]);
    return (int)w->len;
}

int sw_dns_txt_add(uint8_t *txt, size_t cap, size_t *len, const char *key, const char *value)
{
    size_t kn = strlen(key), vn = value ? strlen(value) : 0, m = kn + (value ? 1 + vn : 0);
    if (m > 255)
        return SW_ETOOBIG;
    if (*len > cap || 1 + m > cap - *len)
        return SW_EFULL;
    uint8_t *p = txt + *len;
    *p++ = (uint8_t)m;
    memcpy(p, key, kn);
    if (value) {
        p[kn] = '=';
        memcpy(p + kn + 1, value, vn);
    }
    *len += 1 + m;
    return 0;
}

bool sw_dns_txt_next(const uint8_t *txt, size_t n, size_t *at, sw_span_t *item)
{
    if (*at >= n || *at + 1 + txt[*at] > n)
        return false;
    item->p = txt + *at + 1;
    item->n = txt[*at];
    *at += 1u + txt[*at];
    return true;
}
