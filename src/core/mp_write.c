// MsgPack writer over a caller buffer: smallest integer forms, explicit float widths, sticky
// EFULL. Hand-written rather than libmpack's mpack_write(): libmpack 1.0.5 encodes -129,
// -32769 and every value below -2^32 wrongly (docs/DESIGN.md, "MsgPack").
#include <string.h>

#include "swarm/mp.h"

void sw_mpw_init(sw_mpw_t *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
    w->err = 0;
}

// Reserves n bytes at the end, or sets EFULL. Returns where to write them.
static uint8_t *room(sw_mpw_t *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->cap - w->len < n) {
        w->err = SW_EFULL;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int k = bytes - 1; k >= 0; k--) {
        p[k] = (uint8_t)v;
        v >>= 8;
    }
}

// Encodes a lead byte plus a big-endian operand of 0, 1, 2, 4 or 8 bytes.
static void put_op(sw_mpw_t *w, uint8_t lead, uint64_t v, int bytes)
{
    uint8_t *p = room(w, 1 + (size_t)bytes);
    if (!p)
        return;
    p[0] = lead;
    put_be(p + 1, v, bytes);
}

void sw_mpw_nil(sw_mpw_t *w) { put_op(w, 0xc0, 0, 0); }
void sw_mpw_bool(sw_mpw_t *w, bool v) { put_op(w, v ? 0xc3 : 0xc2, 0, 0); }

void sw_mpw_uint(sw_mpw_t *w, uint64_t v)
{
    if (v < 0x80)
        put_op(w, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        put_op(w, 0xcc, v, 1);
    else if (v <= 0xffff)
        put_op(w, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        put_op(w, 0xce, v, 4);
    else
        put_op(w, 0xcf, v, 8);
}

void sw_mpw_int(sw_mpw_t *w, int64_t v)
{
    if (v >= 0)
        sw_mpw_uint(w, (uint64_t)v);
    else if (v >= -32)
        put_op(w, (uint8_t)(int8_t)v, 0, 0);
    else if (v >= INT8_MIN)
        put_op(w, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        put_op(w, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        put_op(w, 0xd2, (uint64_t)v, 4);
    else
        put_op(w, 0xd3, (uint64_t)v, 8);
}

void sw_mpw_f32(sw_mpw_t *w, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_op(w, 0xca, bits, 4);
}

void sw_mpw_f64(sw_mpw_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_op(w, 0xcb, bits, 8);
}

// Header of a str/bin/array/map in its smallest form. Returns its length (1..5) in hdr.
static size_t blob_header(uint8_t hdr[5], sw_mp_type_t type, size_t n)
{
    // fix form base and limit, then the 8/16/32-bit lead bytes (0 = no such form)
    uint8_t fixbase = 0, l8 = 0, l16, l32;
    size_t fixmax = 0;
    switch (type) {
    case SW_MP_STR: fixbase = 0xa0; fixmax = 31; l8 = 0xd9; l16 = 0xda; l32 = 0xdb; break;
    case SW_MP_BIN: l8 = 0xc4; l16 = 0xc5; l32 = 0xc6; break;
    case SW_MP_ARRAY: fixbase = 0x90; fixmax = 15; l16 = 0xdc; l32 = 0xdd; break;
    default: /* SW_MP_MAP */ fixbase = 0x80; fixmax = 15; l16 = 0xde; l32 = 0xdf; break;
    }
    if (fixbase && n <= fixmax) {
        hdr[0] = (uint8_t)(fixbase | n);
        return 1;
    }
    if (l8 && n <= 0xff) {
        hdr[0] = l8;
        hdr[1] = (uint8_t)n;
        return 2;
    }
    if (n <= 0xffff) {
        hdr[0] = l16;
        put_be(hdr + 1, n, 2);
        return 3;
    }
    hdr[0] = l32;
    put_be(hdr + 1, n, 4);
    return 5;
}

static void put_header(sw_mpw_t *w, sw_mp_type_t type, size_t n)
{
    if (n > 0xffffffffu) {
        if (!w->err)
            w->err = SW_EINVAL;
        return;
    }
    uint8_t hdr[5];
    size_t k = blob_header(hdr, type, n);
    uint8_t *p = room(w, k);
    if (p)
        memcpy(p, hdr, k);
}

static void put_blob(sw_mpw_t *w, sw_mp_type_t type, const void *s, size_t n)
{
    if (type == SW_MP_STR && n <= 31 && !w->err && w->cap - w->len > n) {
        // fixstr, the common case (map keys), straight into place
        uint8_t *p = w->buf + w->len;
        p[0] = (uint8_t)(0xa0 | n);
        if (n)
            memcpy(p + 1, s, n);
        w->len += 1 + n;
        return;
    }
    size_t mark = w->len;
    put_header(w, type, n);
    uint8_t *p = room(w, n);
    if (!p) {
        if (!w->err || w->err == SW_EFULL)
            w->len = mark; // never leave a header without its payload
        return;
    }
    if (n)
        memcpy(p, s, n);
}

void sw_mpw_str(sw_mpw_t *w, const void *s, size_t n) { put_blob(w, SW_MP_STR, s, n); }
void sw_mpw_bin(sw_mpw_t *w, const void *p, size_t n) { put_blob(w, SW_MP_BIN, p, n); }

void sw_mpw_cstr(sw_mpw_t *w, const char *s)
{
    if (!s)
        sw_mpw_nil(w);
    else
        sw_mpw_str(w, s, strlen(s));
}

void sw_mpw_array(sw_mpw_t *w, uint32_t items) { put_header(w, SW_MP_ARRAY, items); }
void sw_mpw_map(sw_mpw_t *w, uint32_t pairs) { put_header(w, SW_MP_MAP, pairs); }

void sw_mpw_ext(sw_mpw_t *w, int8_t type, const void *p, size_t n)
{
    size_t mark = w->len;
    uint8_t t = (uint8_t)type;
    switch (n) {
    case 1: put_op(w, 0xd4, t, 1); break;
    case 2: put_op(w, 0xd5, t, 1); break;
    case 4: put_op(w, 0xd6, t, 1); break;
    case 8: put_op(w, 0xd7, t, 1); break;
    case 16: put_op(w, 0xd8, t, 1); break;
    default:
        if (n <= 0xff)
            put_op(w, 0xc7, (n << 8) | t, 2);
        else if (n <= 0xffff)
            put_op(w, 0xc8, (n << 8) | t, 3);
        else if (n <= 0xffffffffu)
            put_op(w, 0xc9, ((uint64_t)n << 8) | t, 5);
        else if (!w->err)
            w->err = SW_EINVAL;
    }
    uint8_t *q = room(w, n);
    if (!q) {
        if (w->err == SW_EFULL)
            w->len = mark;
        return;
    }
    if (n)
        memcpy(q, p, n);
}

void sw_mpw_raw(sw_mpw_t *w, const void *p, size_t n)
{
    uint8_t *q = room(w, n);
    if (q && n)
        memcpy(q, p, n);
}

void sw_mpw_obj(sw_mpw_t *w, const sw_mp_obj_t *o)
{
    switch (o->type) {
    case SW_MP_NIL: sw_mpw_nil(w); break;
    case SW_MP_BOOL: sw_mpw_bool(w, o->v.b); break;
    case SW_MP_UINT: sw_mpw_uint(w, o->v.u); break;
    case SW_MP_INT: sw_mpw_int(w, o->v.i); break;
    case SW_MP_FLOAT:
        if (o->f32)
            sw_mpw_f32(w, (float)o->v.f);
        else
            sw_mpw_f64(w, o->v.f);
        break;
    case SW_MP_STR: sw_mpw_str(w, o->v.p, o->len); break;
    case SW_MP_BIN: sw_mpw_bin(w, o->v.p, o->len); break;
    case SW_MP_EXT: sw_mpw_ext(w, o->ext, o->v.p, o->len); break;
    case SW_MP_ARRAY: sw_mpw_array(w, o->len); break;
    case SW_MP_MAP: sw_mpw_map(w, o->len); break;
    default:
        if (!w->err)
            w->err = SW_EINVAL;
    }
}

// Inserts a header at mark, moving the k bytes written since then up.
static void insert_header(sw_mpw_t *w, size_t mark, sw_mp_type_t type, size_t n)
{
    if (w->err)
        return;
    if (mark > w->len) {
        w->err = SW_EINVAL;
        return;
    }
    uint8_t hdr[5];
    size_t k = blob_header(hdr, type, n);
    if (!room(w, k))
        return;
    size_t body = w->len - k - mark;
    memmove(w->buf + mark + k, w->buf + mark, body);
    memcpy(w->buf + mark, hdr, k);
}

void sw_mpw_close_array(sw_mpw_t *w, size_t mark, uint32_t items) { insert_header(w, mark, SW_MP_ARRAY, items); }
void sw_mpw_close_map(sw_mpw_t *w, size_t mark, uint32_t pairs) { insert_header(w, mark, SW_MP_MAP, pairs); }

// The blob's bytes are gathered 5 bytes past the current end (room for the largest header),
// then moved down once the real header length is known.
uint8_t *sw_mpw_blob_begin(sw_mpw_t *w, size_t max)
{
    if (w->err)
        return NULL;
    if (w->cap - w->len < max + 5) {
        w->err = SW_EFULL;
        return NULL;
    }
    return w->buf + w->len + 5;
}

void sw_mpw_blob_end(sw_mpw_t *w, sw_mp_type_t type, size_t n)
{
    if (w->err)
        return;
    if (type != SW_MP_BIN && type != SW_MP_STR) {
        w->err = SW_EINVAL;
        return;
    }
    uint8_t hdr[5];
    size_t k = blob_header(hdr, type, n);
    if (w->cap - w->len < n + 5) {
        w->err = SW_EINVAL; // n is larger than the max given to sw_mpw_blob_begin()
        return;
    }
    uint8_t *at = w->buf + w->len;
    memmove(at + k, at + 5, n);
    memcpy(at, hdr, k);
    w->len += k + n;
}

void sw_mpw_rewind(sw_mpw_t *w, size_t mark)
{
    if (mark <= w->len)
        w->len = mark;
    if (w->err == SW_EFULL)
        w->err = 0;
}
