// MsgPack whole-buffer reader on libmpack's tokenizer: nesting tracked and bounded, counts
// checked against the bytes left, strings and binaries returned as pointers into the input.
#include <string.h>
#include <stdbool.h> // before mpack.h, which otherwise defines its own 'bool'

#include "mpack.h"
#include "swarm/mp.h"
#include "f64.h" // sw__f64_of_f32

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
#if defined(SW_CORE_F32_BITS) && SW_CORE_F32_BITS // an image with no other soft-float code (mcu-serial): see f64.h
            o->v.f = sw__f64_of_f32(tok.data.value.lo);
#else // where the conversion is linked anyway, it is smaller
            float f;
            uint32_t bits = tok.data.value.lo;
            memcpy(&f, &bits, sizeof f);
            o->v.f = f;
#endif
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

// Whole size in bytes of an item whose first byte alone gives it (fixint, nil, bool, fixstr,
// fixed-width numbers, fixext), by that byte; 0 for containers, longer strings, bin, ext and
// the reserved 0xc1.
static const uint8_t k_fixed[256] = {
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 00
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 10
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 20
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 30
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 40
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 50
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 60
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // 70
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, // 80
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, // 90
     1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, // a0
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, // b0
     1,  0,  1,  1,  0,  0,  0,  0,  0,  0,  5,  9,  2,  3,  5,  9, // c0
     2,  3,  5,  9,  3,  4,  6, 10, 18,  0,  0,  0,  0,  0,  0,  0, // d0
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // e0
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1, // f0
};

// End of the item at pos (< n) when its first byte gives its size and it fits, else 0.
static inline size_t short_end(const uint8_t *p, size_t n, size_t pos)
{
    size_t k = k_fixed[p[pos]];
    return k && k <= n - pos ? pos + k : 0;
}

// Big-endian unsigned of k bytes at p (k = 1, 2 or 4).
static uint32_t be(const uint8_t *p, unsigned k)
{
    uint32_t v = 0;
    for (unsigned j = 0; j < k; j++)
        v = v << 8 | p[j];
    return v;
}

// Skipping reads no values, only sizes: one pass over the headers with the same bounds and
// errors as reading item by item (sw_mpr_next), at a fraction of the cost. Framing a message
// and finding a map's value both come down to this, so it runs once or more per message.
// (always inlined into its two callers, so the plain skip pays nothing for the index)
static inline __attribute__((always_inline)) int skip(sw_mpr_t *r, sw_mp_index_t *ix)
{
    if (r->err)
        return r->err;
    const uint8_t *p = r->p;
    size_t n = r->n, pos = r->pos;
    uint8_t start = r->depth, depth = r->depth;
    uint32_t saved[SW_MP_MAX_DEPTH]; // items left in each enclosing container opened here
    uint64_t rem = 1;                // items left at the innermost level (at first: the one)
    int err = SW_EPROTO;
    uint32_t slot = 0; // index: items seen at the top-level map's level
    if (ix) {
        ix->ok = false;
        if (pos < n) {
            uint8_t c = p[pos];
            uint32_t pairs = c >= 0x80 && c <= 0x8f ? c & 15u : SW_MP_INDEX_MAX + 1;
            ix->ok = pairs <= SW_MP_INDEX_MAX;
            ix->pairs = (uint8_t)pairs;
        }
    }
    for (;;) {
        size_t at = pos; // where the item starts: the position an error leaves behind
        if (pos >= n)
            goto fail;
        if (ix && ix->ok && depth == start + 1) { // an item of the map itself
            uint32_t off = (uint32_t)(at - r->pos);
            if (slot & 1)
                ix->val[slot >> 1] = off;
            else
                ix->key[slot >> 1] = off;
            slot++;
        }
        uint8_t c = p[pos++];
        uint64_t count = 0; // items inside (containers)
        uint64_t skip = 0;  // payload bytes after the header
        if (k_fixed[c]) {
            skip = k_fixed[c] - 1u; // the size is in the first byte
        } else if (c < 0x90) {
            count = 2 * (uint64_t)(c & 15);
        } else if (c < 0xa0) {
            count = c & 15;
        } else {
            unsigned hdr = 0; // bytes of the header after the type byte
            switch (c) { // (the fixed-size forms are in k_fixed)
            case 0xc4: case 0xd9: hdr = 1; break;                       // bin8, str8
            case 0xc5: case 0xda: hdr = 2; break;                       // bin16, str16
            case 0xc6: case 0xdb: hdr = 4; break;                       // bin32, str32
            case 0xc7: hdr = 1; break;                                  // ext8 (+ type)
            case 0xc8: hdr = 2; break;                                  // ext16
            case 0xc9: hdr = 4; break;                                  // ext32
            case 0xdc: case 0xde: hdr = 2; break;                       // array16, map16
            case 0xdd: case 0xdf: hdr = 4; break;                       // array32, map32
            default: goto fail;                                         // 0xc1
            }
            if (n - pos < hdr)
                goto fail;
            uint32_t len = be(p + pos, hdr);
            pos += hdr;
            if (c >= 0xdc)
                count = c < 0xde ? (uint64_t)len : 2 * (uint64_t)len;
            else
                skip = (uint64_t)len + (c >= 0xc7 && c <= 0xc9); // ext: the type byte
        }
        if (skip > n - pos || count > n - pos) // every item inside needs a byte at least
            goto fail;
        pos += (size_t)skip;
        rem--;
        if (count) {
            if (depth >= SW_MP_MAX_DEPTH) { // (as sw_mpr_next: the header counts as read)
                err = SW_EDEPTH;
                goto fail_at;
            }
            saved[depth++ - start] = (uint32_t)rem;
            rem = count;
        }
        while (rem == 0) {
            if (depth == start)
                goto done;
            rem = saved[--depth - start];
        }
        continue;
    fail:
        pos = at;
    fail_at:
        r->pos = pos;
        r->depth = depth;
        return fail(r, err);
    }
done:
    if (ix)
        ix->len = (uint32_t)(pos - r->pos);
    r->pos = pos;
    // the item counts against the container it is in; exhausted containers close (as account)
    if (depth)
        r->left[depth - 1]--;
    while (depth && r->left[depth - 1] == 0)
        depth--;
    r->depth = depth;
    return 0;
}

int sw_mpr_skip(sw_mpr_t *r) { return skip(r, NULL); }

// (kept out of line: the fast path below then needs few registers)
static __attribute__((noinline)) int skip_ix(sw_mpr_t *r, sw_mp_index_t *ix) { return skip(r, ix); }



// A message is a fixmap with fixstr keys and mostly one-byte-header values: those are stepped
// over here without the general loop, which only sees the container values. Anything else,
// and any error, goes to the general walk from the start, so results and errors are its own.
int sw_mpr_skip_index(sw_mpr_t *r, sw_mp_index_t *ix)
{
    const uint8_t *p = r->p;
    size_t n = r->n, pos = r->pos, from = r->pos;
    if (r->err || pos >= n || p[pos] < 0x80 || p[pos] > 0x8f || r->depth >= SW_MP_MAX_DEPTH)
        return skip_ix(r, ix);
    uint32_t pairs = p[pos++] & 15u;
    if (pairs > SW_MP_INDEX_MAX || 2 * (size_t)pairs > n - pos)
        return skip_ix(r, ix);
    for (uint32_t k = 0; k < pairs; k++) {
        uint8_t c = p[pos];
        if (c < 0xa0 || c > 0xbf || (size_t)(c & 31) + 1 >= n - pos) // (a value byte must follow)
            return skip_ix(r, ix);
        ix->key[k] = (uint32_t)(pos - from);
        pos += 1 + (c & 31);
        ix->val[k] = (uint32_t)(pos - from);
        size_t end = short_end(p, n, pos);
        if (!end && (p[pos] & 0xe0) == 0x80 && r->depth + 2 <= SW_MP_MAX_DEPTH) {
            // a fixmap/fixarray of short items (the arguments of most commands)
            uint32_t items = p[pos] < 0x90 ? 2u * (p[pos] & 15u) : p[pos] & 15u;
            size_t q = pos + 1;
            for (uint32_t j = 0; j < items && q; j++)
                q = q < n ? short_end(p, n, q) : 0;
            end = q;
        }
        if (!end) { // a container or a longer form: the general walk, one level down
            sw_mpr_t v;
            sw_mpr_init(&v, p, n);
            v.pos = pos;
            v.depth = (uint8_t)(r->depth + 1);
            v.left[r->depth] = UINT32_MAX;
            if (sw_mpr_skip(&v))
                return skip_ix(r, ix);
            end = v.pos;
        }
        if (end >= n && k + 1 < pairs)
            return skip_ix(r, ix);
        pos = end;
    }
    ix->ok = true;
    ix->pairs = (uint8_t)pairs;
    ix->len = (uint32_t)(pos - from);
    r->pos = pos;
    uint8_t depth = r->depth;
    if (depth)
        r->left[depth - 1]--;
    while (depth && r->left[depth - 1] == 0)
        depth--;
    r->depth = depth;
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

// sw_mp_map_get with the reader (any map, any key form). Out of line, so the common case
// below does not pay for its registers.
static __attribute__((noinline)) int map_get_read(const void *buf, size_t n, const char *key, sw_span_t *val)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    uint32_t pairs;
    if (sw_mpr_peek(&r) != SW_MP_MAP)
        return r.pos < r.n ? SW_ETYPE : SW_EPROTO;
    if (!sw_mpr_map(&r, &pairs))
        return r.err;
    size_t klen = strlen(key);
    for (uint32_t k = 0; k < pairs; k++) {
        sw_mp_obj_t o;
        uint8_t c = r.pos < r.n ? r.p[r.pos] : 0;
        if (c >= 0xa0 && c <= 0xbf && (size_t)(c & 31) < r.n - r.pos) {
            // a fixstr key, compared in place (the common case: no reader call)
            size_t len = c & 31;
            bool hit = len == klen && memcmp(r.p + r.pos + 1, key, len) == 0;
            r.pos += 1 + len;
            r.left[r.depth - 1]--; // (the map's value is still due: it stays open)
            if (hit)
                return sw_mpr_span(&r, val);
        } else if (sw_mpr_peek(&r) == SW_MP_STR) {
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

int sw_mp_map_get(const void *buf, size_t n, const char *key, sw_span_t *val)
{
    // A fixmap with fixstr keys and short values up to the key sought, the common case
    // (command arguments): looked up in place. Anything else: map_get_read.
    const uint8_t *p = buf;
    // (every key and value needs a byte at least: a map that cannot hold its pairs goes to the
    // reader, which fails it, rather than answering from its first pairs)
    if (p && n && (p[0] & 0xf0) == 0x80 && 2 * (size_t)(p[0] & 15u) <= n - 1) {
        const uint8_t *q = p + 1, *e = p + n;
        for (uint32_t k = p[0] & 15u; k; k--) {
            // a key byte, then its len bytes, then a value byte at least
            if (q >= e || (*q & 0xe0) != 0xa0 || (size_t)(*q & 31) + 1 >= (size_t)(e - q))
                break;
            size_t len = *q & 31, j = 0;
            const uint8_t *kp = q + 1; // (keys are short: compared here, without strlen and memcmp)
            while (j < len && key[j] && kp[j] == (uint8_t)key[j])
                j++;
            q = kp + len;
            size_t vn = k_fixed[*q];
            if (!vn || vn > (size_t)(e - q))
                break;
            if (j == len && key[j] == 0) {
                val->p = q;
                val->n = vn;
                return 0;
            }
            q += vn;
            if (k == 1)
                return SW_ENOENT;
        }
    }
    return map_get_read(buf, n, key, val);
}

int sw_mp_check(const void *buf, size_t n)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    if (sw_mpr_skip(&r))
        return r.err;
    return sw_mpr_done(&r) ? 0 : SW_EPROTO;
}
