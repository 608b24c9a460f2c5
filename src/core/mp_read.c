// MsgPack whole-buffer reader on libmpack's tokenizer: nesting tracked and bounded, counts
// checked against the bytes left, strings and binaries returned as pointers into the input.
#include <string.h>
#include <stdbool.h> // before mpack.h, which otherwise defines its own 'bool'

#include "mpack.h"
#include "swarm/mp.h"

bool sw_mp_obj_i64(const sw_mp_obj_t *o, int64_t *out)
{
    if (o->type == SW_MP_INT) {
        *out = o->v.i;
        return true;
    }
    if (o->type == SW_MP_UINT && o->v.u <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->v.u;
        return true;
    }
    return false;
}

bool sw_mp_obj_streq(const sw_mp_obj_t *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == SW_MP_STR && o->len == n && (n == 0 || memcmp(o->v.p, s, n) == 0);
}

void sw_mpr_init(sw_mpr_t *r, const void *buf, size_t n)
{
    r->p = buf;
    r->n = buf ? n : 0;
    r->pos = 0;
    r->err = 0;
    r->depth = 0;
}

bool sw_mpr_done(const sw_mpr_t *r)
{
    return !r->err && r->depth == 0 && r->pos == r->n;
}

static int fail(sw_mpr_t *r, int err)
{
    if (!r->err)
        r->err = err;
    return r->err;
}

sw_mp_type_t sw_mpr_peek(const sw_mpr_t *r)
{
    if (r->err || r->pos >= r->n)
        return SW_MP_NONE;
    uint8_t b = r->p[r->pos];
    if (b < 0x80) return SW_MP_UINT;
    if (b < 0x90) return SW_MP_MAP;
    if (b < 0xa0) return SW_MP_ARRAY;
    if (b < 0xc0) return SW_MP_STR;
    if (b >= 0xe0) return SW_MP_INT;
    switch (b) {
    case 0xc0: return SW_MP_NIL;
    case 0xc2: case 0xc3: return SW_MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return SW_MP_BIN;
    case 0xc7: case 0xc8: case 0xc9: return SW_MP_EXT;
    case 0xca: case 0xcb: return SW_MP_FLOAT;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return SW_MP_UINT;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3:
        // signed forms holding a non-negative value read as UINT
        if (r->pos + 1 < r->n && !(r->p[r->pos + 1] & 0x80))
            return SW_MP_UINT;
        return SW_MP_INT;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return SW_MP_EXT;
    case 0xd9: case 0xda: case 0xdb: return SW_MP_STR;
    case 0xdc: case 0xdd: return SW_MP_ARRAY;
    case 0xde: case 0xdf: return SW_MP_MAP;
    default: return SW_MP_NONE; // 0xc1, never used
    }
}

// Records that one item was read: it counts against the innermost open container, then a
// non-empty container opens a level and exhausted levels close.
static int account(sw_mpr_t *r, sw_mp_type_t type, uint64_t count)
{
    if (r->depth)
        r->left[r->depth - 1]--;
    if ((type == SW_MP_ARRAY || type == SW_MP_MAP) && count) {
        if (r->depth >= SW_MP_MAX_DEPTH)
            return fail(r, SW_EDEPTH);
        r->left[r->depth++] = (uint32_t)count;
    }
    while (r->depth && r->left[r->depth - 1] == 0)
        r->depth--;
    return 0;
}

static int64_t sign_extend(uint64_t raw, uint32_t bytes)
{
    unsigned shift = 64 - 8 * bytes;
    return (int64_t)(raw << shift) >> shift;
}

// The one-byte forms (fixints, fixmap/fixarray headers, fixstr) make up most of a message;
// decoding them here, without a tokenizer call, halves the cost per item (bench/codec).
// Returns 1 if the item was not of such a form.
static int read_fix(sw_mpr_t *r, sw_mp_obj_t *o)
{
    uint8_t c = r->p[r->pos];
    size_t left = r->n - r->pos - 1;
    o->f32 = false;
    o->ext = 0;
    o->len = 0;
    if (c < 0x80) {
        o->type = SW_MP_UINT;
        o->v.u = c;
    } else if (c >= 0xe0) {
        o->type = SW_MP_INT;
        o->v.i = (int8_t)c;
    } else if (c < 0xa0) {
        o->len = c & 15;
        o->type = c < 0x90 ? SW_MP_MAP : SW_MP_ARRAY;
        uint64_t count = o->type == SW_MP_MAP ? 2 * (uint64_t)o->len : o->len;
        if (count > left)
            return fail(r, SW_EPROTO);
        r->pos++;
        return account(r, o->type, count);
    } else if (c < 0xc0) {
        o->len = c & 31;
        if (o->len > left)
            return fail(r, SW_EPROTO);
        o->type = SW_MP_STR;
        o->v.p = r->p + r->pos + 1;
        r->pos += o->len;
    } else {
        return 1;
    }
    r->pos++;
    return account(r, o->type, 0);
}

static int read_item(sw_mpr_t *r, sw_mp_obj_t *o)
{
    if (r->err)
        return r->err;
    if (r->pos >= r->n)
        return fail(r, SW_EPROTO);
    int fix = read_fix(r, o);
    if (fix <= 0)
        return fix;

    mpack_tokbuf_t tb;
    mpack_tokbuf_init(&tb);
    const char *b = (const char *)r->p + r->pos;
    size_t bl = r->n - r->pos;
    mpack_token_t tok;
    if (mpack_read(&tb, &b, &bl, &tok) != MPACK_OK)
        return fail(r, SW_EPROTO); // truncated (EOF) or a reserved byte
    if (tb.plen)
        return fail(r, SW_EPROTO); // the token did not fit the input

    uint64_t raw = ((uint64_t)tok.data.value.hi << 32) | tok.data.value.lo;
    uint64_t count = 0;
    memset(o, 0, sizeof *o);
    switch (tok.type) {
    case MPACK_TOKEN_NIL:
        o->type = SW_MP_NIL;
        break;
    case MPACK_TOKEN_BOOLEAN:
        o->type = SW_MP_BOOL;
        o->v.b = tok.data.value.lo != 0;
        break;
    case MPACK_TOKEN_UINT:
        o->type = SW_MP_UINT;
        o->v.u = raw;
        break;
    case MPACK_TOKEN_SINT:
        o->type = SW_MP_INT;
        o->v.i = sign_extend(raw, tok.length);
        break;
    case MPACK_TOKEN_FLOAT:
        o->type = SW_MP_FLOAT;
        if (tok.length == 4) {
            float f;
            uint32_t bits = tok.data.value.lo;
            memcpy(&f, &bits, sizeof f);
            o->v.f = f;
            o->f32 = true;
        } else {
            memcpy(&o->v.f, &raw, sizeof o->v.f);
        }
        break;
    case MPACK_TOKEN_STR:
    case MPACK_TOKEN_BIN:
    case MPACK_TOKEN_EXT:
        o->type = tok.type == MPACK_TOKEN_STR ? SW_MP_STR
                  : tok.type == MPACK_TOKEN_BIN ? SW_MP_BIN : SW_MP_EXT;
        if (tok.type == MPACK_TOKEN_EXT)
            o->ext = (int8_t)(uint8_t)tok.data.ext_type;
        if (tok.length > bl)
            return fail(r, SW_EPROTO);
        o->len = tok.length;
        o->v.p = (const uint8_t *)b;
        b += tok.length;
        break;
    case MPACK_TOKEN_ARRAY:
    case MPACK_TOKEN_MAP:
        o->type = tok.type == MPACK_TOKEN_ARRAY ? SW_MP_ARRAY : SW_MP_MAP;
        o->len = tok.length;
        count = tok.type == MPACK_TOKEN_ARRAY ? (uint64_t)tok.length : 2 * (uint64_t)tok.length;
        if (count > bl) // every item needs at least one byte
            return fail(r, SW_EPROTO);
        break;
    default:
        return fail(r, SW_EPROTO);
    }
    r->pos = (size_t)(b - (const char *)r->p);
    return account(r, o->type, count);
}

int sw_mpr_next(sw_mpr_t *r, sw_mp_obj_t *o)
{
    int err = read_item(r, o);
    if (err)
        memset(o, 0, sizeof *o); // SW_MP_NONE, no length, no pointer
    return err;
}

int sw_mpr_skip(sw_mpr_t *r)
{
    uint8_t start = r->depth;
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return r->err;
    // A non-empty container opened a level deeper; read until that level has closed again
    // (closing it may close exhausted parents too, which also ends the loop).
    while (r->depth > start) {
        if (sw_mpr_next(r, &o))
            return r->err;
    }
    return 0;
}

int sw_mpr_span(sw_mpr_t *r, sw_span_t *out)
{
    size_t from = r->pos;
    out->p = NULL;
    out->n = 0;
    if (sw_mpr_skip(r))
        return r->err;
    out->p = r->p + from;
    out->n = r->pos - from;
    return 0;
}

// Reads the next item into *o and checks its type; SW_ETYPE (sticky) on mismatch.
static bool expect(sw_mpr_t *r, sw_mp_obj_t *o, sw_mp_type_t type)
{
    if (sw_mpr_next(r, o))
        return false;
    if (o->type != type) {
        fail(r, SW_ETYPE);
        return false;
    }
    return true;
}

bool sw_mpr_nil(sw_mpr_t *r)
{
    sw_mp_obj_t o;
    return expect(r, &o, SW_MP_NIL);
}

bool sw_mpr_bool(sw_mpr_t *r, bool *v)
{
    sw_mp_obj_t o;
    if (!expect(r, &o, SW_MP_BOOL))
        return false;
    *v = o.v.b;
    return true;
}

bool sw_mpr_int(sw_mpr_t *r, int64_t *v)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return false;
    if (o.type != SW_MP_INT && o.type != SW_MP_UINT) {
        fail(r, SW_ETYPE);
        return false;
    }
    if (!sw_mp_obj_i64(&o, v)) {
        fail(r, SW_ERANGE);
        return false;
    }
    return true;
}

bool sw_mpr_uint(sw_mpr_t *r, uint64_t *v)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return false;
    if (o.type == SW_MP_INT) {
        fail(r, SW_ERANGE);
        return false;
    }
    if (o.type != SW_MP_UINT) {
        fail(r, SW_ETYPE);
        return false;
    }
    *v = o.v.u;
    return true;
}

bool sw_mpr_float(sw_mpr_t *r, double *v)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o))
        return false;
    switch (o.type) {
    case SW_MP_FLOAT: *v = o.v.f; return true;
    case SW_MP_UINT: *v = (double)o.v.u; return true;
    case SW_MP_INT: *v = (double)o.v.i; return true;
    default: fail(r, SW_ETYPE); return false;
    }
}

static bool read_blob(sw_mpr_t *r, sw_span_t *s, sw_mp_type_t type)
{
    sw_mp_obj_t o;
    if (!expect(r, &o, type))
        return false;
    s->p = o.v.p;
    s->n = o.len;
    return true;
}

bool sw_mpr_str(sw_mpr_t *r, sw_span_t *s) { return read_blob(r, s, SW_MP_STR); }
bool sw_mpr_bin(sw_mpr_t *r, sw_span_t *b) { return read_blob(r, b, SW_MP_BIN); }

bool sw_mpr_array(sw_mpr_t *r, uint32_t *items)
{
    sw_mp_obj_t o;
    if (!expect(r, &o, SW_MP_ARRAY))
        return false;
    *items = o.len;
    return true;
}

bool sw_mpr_map(sw_mpr_t *r, uint32_t *pairs)
{
    sw_mp_obj_t o;
    if (!expect(r, &o, SW_MP_MAP))
        return false;
    *pairs = o.len;
    return true;
}

int sw_mp_map_get(const void *buf, size_t n, const char *key, sw_span_t *val)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    uint32_t pairs;
    if (sw_mpr_peek(&r) != SW_MP_MAP)
        return r.pos < r.n ? SW_ETYPE : SW_EPROTO;
    if (!sw_mpr_map(&r, &pairs))
        return r.err;
    for (uint32_t k = 0; k < pairs; k++) {
        sw_mp_obj_t o;
        if (sw_mpr_peek(&r) == SW_MP_STR) {
            if (sw_mpr_next(&r, &o))
                return r.err;
            if (sw_mp_obj_streq(&o, key))
                return sw_mpr_span(&r, val);
        } else if (sw_mpr_skip(&r)) {
            return r.err;
        }
        if (sw_mpr_skip(&r))
            return r.err;
    }
    return SW_ENOENT;
}

int sw_mp_check(const void *buf, size_t n)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    if (sw_mpr_skip(&r))
        return r.err;
    return sw_mpr_done(&r) ? 0 : SW_EPROTO;
}
