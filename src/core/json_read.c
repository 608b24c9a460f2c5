// JSON pull reader (swarm/json.h): a state machine over caller-held text, one token per call,
// no heap and no recursion, so a datagram from the network can be read with a fixed, small
// amount of stack whatever it contains.
#include <limits.h>
#include <string.h>

#include "swarm/json.h"
#include "utf8.h"

// What the next token may be.
enum {
    ST_VALUE = 0,    // a value (top level, after ':' or after ',' in an array)
    ST_VALUE_OR_END, // a value or ']' (just after '[')
    ST_KEY,          // a key (after ',' in an object)
    ST_KEY_OR_END,   // a key or '}' (just after '{')
    ST_AFTER,        // after a value: ',' or the container's end; at the top level, the end
    ST_DONE,
};

_Static_assert(SW_JSON_MAX_DEPTH <= 32, "the object bits of sw_jr_t hold 32 levels");

void sw_jr_init(sw_jr_t *r, const char *p, size_t n)
{
    memset(r, 0, sizeof *r);
    r->p = p ? p : "";
    r->n = p ? n : 0;
    r->state = ST_VALUE;
}

static int fail(sw_jr_t *r, int err)
{
    if (!r->err)
        r->err = err;
    return r->err;
}

static void skip_ws(sw_jr_t *r)
{
    while (r->pos < r->n) {
        char c = r->p[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        r->pos++;
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

// Four hex digits at p (n bytes available): the code unit, or -1.
static int32_t hex4(const char *p, size_t n)
{
    if (n < 4)
        return -1;
    int32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hexval(p[k]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

// One character of string text at p[*i] (the escapes decoded) into its code point. Only called
// on text the scanner accepted, so every escape and sequence is known to be well formed.
static uint32_t decode_one(const char *p, size_t n, size_t *i)
{
    const uint8_t *u = (const uint8_t *)p;
    uint8_t c = u[*i];
    if (c == '\\') {
        char e = p[*i + 1];
        *i += 2;
        switch (e) {
        case 'b': return '\b';
        case 'f': return '\f';
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'u': {
            uint32_t hi = (uint32_t)hex4(p + *i, n - *i);
            *i += 4;
            if (hi >= 0xd800 && hi <= 0xdbff) { // the scanner checked the low half follows
                uint32_t lo = (uint32_t)hex4(p + *i + 2, n - *i - 2);
                *i += 6;
                return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            }
            return hi;
        }
        default: return (uint8_t)e; // " \ /
        }
    }
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t k = sw__utf8_len(u + *i, n - *i);
    uint32_t cp = k == 2 ? c & 0x1fu : k == 3 ? c & 0x0fu : c & 0x07u;
    for (size_t j = 1; j < k; j++)
        cp = cp << 6 | (u[*i + j] & 0x3fu);
    *i += k ? k : 1;
    return cp;
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

// A string starting at the opening quote: checks it and fills v.
static int scan_string(sw_jr_t *r, sw_jv_t *v)
{
    const char *p = r->p;
    size_t n = r->n, i = r->pos + 1;
    v->p = p + i;
    v->escaped = false;
    for (;;) {
        if (i >= n)
            return fail(r, SW_EPROTO); // unterminated
        uint8_t c = (uint8_t)p[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(r, SW_EPROTO);
        if (c == '\\') {
            v->escaped = true;
            if (i + 1 >= n)
                return fail(r, SW_EPROTO);
            char e = p[i + 1];
            if (e == 'u') {
                int32_t u = hex4(p + i + 2, n - i - 2);
                if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
                    return fail(r, SW_EPROTO); // a low surrogate on its own
                i += 6;
                if (u >= 0xd800 && u <= 0xdbff) { // must be followed by its low half
                    int32_t lo = i + 1 < n && p[i] == '\\' && p[i + 1] == 'u' ? hex4(p + i + 2, n - i - 2) : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return fail(r, SW_EPROTO);
                    i += 6;
                }
                continue;
            }
            if (!memchr("\"\\/bfnrt", e, 8))
                return fail(r, SW_EPROTO);
            i += 2;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k = sw__utf8_len((const uint8_t *)p + i, n - i);
        if (!k)
            return fail(r, SW_EPROTO);
        i += k;
    }
    v->n = (size_t)(p + i - v->p);
    r->pos = i + 1;
    return 0;
}

// A number (RFC 8259 grammar); integers within int64 also as a value.
static int scan_number(sw_jr_t *r, sw_jv_t *v)
{
    const char *p = r->p;
    size_t n = r->n, i = r->pos;
    bool neg = false, is_int = true, fits = true;
    uint64_t mag = 0;
    v->p = p + i;
    if (p[i] == '-')
        neg = true, i++;
    if (i >= n || p[i] < '0' || p[i] > '9')
        return fail(r, SW_EPROTO);
    if (p[i] == '0') {
        i++;
    } else {
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            unsigned d = (unsigned)(p[i] - '0');
            if (mag > (UINT64_MAX - d) / 10)
                fits = false;
            else
                mag = mag * 10 + d;
        }
    }
    if (i < n && p[i] == '.') {
        is_int = false;
        i++;
        if (i >= n || p[i] < '0' || p[i] > '9')
            return fail(r, SW_EPROTO);
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        is_int = false;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= n || p[i] < '0' || p[i] > '9')
            return fail(r, SW_EPROTO);
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    }
    v->n = i - r->pos;
    r->pos = i;
    v->is_int = false;
    if (is_int && fits) {
        if (!neg && mag <= (uint64_t)INT64_MAX) {
            v->is_int = true;
            v->i = (int64_t)mag;
        } else if (neg && mag <= (uint64_t)INT64_MAX + 1) {
            v->is_int = true;
            v->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        }
    }
    return 0;
}

static bool literal(sw_jr_t *r, const char *word, size_t len)
{
    if (r->n - r->pos < len || memcmp(r->p + r->pos, word, len) != 0)
        return false;
    r->pos += len;
    return true;
}

static int open_container(sw_jr_t *r, sw_jv_t *v, bool obj)
{
    if (r->depth >= SW_JSON_MAX_DEPTH)
        return fail(r, SW_EDEPTH);
    r->pos++;
    r->depth++;
    uint32_t bit = (uint32_t)1 << (r->depth - 1);
    r->objs = obj ? r->objs | bit : r->objs & ~bit;
    r->state = obj ? ST_KEY_OR_END : ST_VALUE_OR_END;
    v->type = obj ? SW_JT_OBJ : SW_JT_ARR;
    v->depth = r->depth;
    return 0;
}

static bool in_object(const sw_jr_t *r)
{
    return r->depth && (r->objs >> (r->depth - 1) & 1u);
}

static int close_container(sw_jr_t *r, sw_jv_t *v)
{
    bool obj = in_object(r);
    r->pos++;
    r->depth--;
    r->state = ST_AFTER;
    v->type = obj ? SW_JT_OBJ_END : SW_JT_ARR_END;
    v->depth = r->depth;
    return 0;
}

static int next_token(sw_jr_t *r, sw_jv_t *v)
{
    for (;;) { // at most twice: a ',' is consumed, then the token after it is read
        skip_ws(r);
        if (r->state == ST_DONE)
            return 0;
        if (r->state == ST_AFTER && r->depth == 0) {
            if (r->pos != r->n)
                return fail(r, SW_EPROTO); // something after the value
            r->state = ST_DONE;
            return 0;
        }
        if (r->pos >= r->n)
            return fail(r, SW_EPROTO); // the text ends inside the value
        char c = r->p[r->pos];
        switch (r->state) {
        case ST_AFTER:
            if (c == ',') {
                r->pos++;
                r->state = in_object(r) ? ST_KEY : ST_VALUE;
                continue;
            }
            if (c == (in_object(r) ? '}' : ']'))
                return close_container(r, v);
            return fail(r, SW_EPROTO);
        case ST_KEY_OR_END:
            if (c == '}')
                return close_container(r, v);
            // fall through
        case ST_KEY:
            if (c != '"' || scan_string(r, v))
                return fail(r, SW_EPROTO);
            skip_ws(r);
            if (r->pos >= r->n || r->p[r->pos] != ':')
                return fail(r, SW_EPROTO);
            r->pos++;
            r->state = ST_VALUE;
            v->type = SW_JT_KEY;
            v->depth = r->depth;
            return 0;
        case ST_VALUE_OR_END:
            if (c == ']')
                return close_container(r, v);
            // fall through
        default: // ST_VALUE
            break;
        }
        int rc = 0;
        v->depth = r->depth;
        if (c == '{' || c == '[')
            return open_container(r, v, c == '{');
        if (c == '"') {
            rc = scan_string(r, v);
            v->type = SW_JT_STR;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            rc = scan_number(r, v);
            v->type = SW_JT_NUM;
        } else if (literal(r, "true", 4)) {
            v->type = SW_JT_BOOL;
            v->b = true;
        } else if (literal(r, "false", 5)) {
            v->type = SW_JT_BOOL;
        } else if (literal(r, "null", 4)) {
            v->type = SW_JT_NULL;
        } else {
            rc = fail(r, SW_EPROTO);
        }
        if (rc)
            return rc;
        r->state = ST_AFTER;
        return 0;
    }
}

int sw_jr_next(sw_jr_t *r, sw_jv_t *v)
{
    memset(v, 0, sizeof *v);
    if (r->err)
        return r->err;
    int rc = next_token(r, v);
    if (rc)
        memset(v, 0, sizeof *v);
    return rc;
}

int sw_jr_skip(sw_jr_t *r, const sw_jv_t *v)
{
    if (v->type != SW_JT_OBJ && v->type != SW_JT_ARR)
        return r->err;
    uint8_t until = (uint8_t)(v->depth - 1);
    sw_jv_t t;
    while (r->depth > until) {
        if (sw_jr_next(r, &t))
            return r->err;
        if (t.type == SW_JT_END)
            return fail(r, SW_EPROTO); // cannot happen on a consistent reader
    }
    return 0;
}

bool sw_jv_streq(const sw_jv_t *v, const char *s)
{
    if (v->type != SW_JT_STR && v->type != SW_JT_KEY)
        return false;
    size_t sn = strlen(s);
    if (!v->escaped)
        return v->n == sn && memcmp(v->p, s, sn) == 0;
    size_t i = 0, j = 0;
    while (i < v->n) {
        char u[4];
        size_t k = put_utf8(decode_one(v->p, v->n, &i), u);
        if (sn - j < k || memcmp(s + j, u, k) != 0)
            return false;
        j += k;
    }
    return j == sn;
}

int sw_jv_str(const sw_jv_t *v, char *buf, size_t cap)
{
    if (v->type != SW_JT_STR && v->type != SW_JT_KEY)
        return SW_ETYPE;
    if (v->n > INT_MAX)
        return SW_ETOOBIG;
    if (!buf || cap == 0)
        return SW_EFULL;
    size_t i = 0, j = 0;
    while (i < v->n) {
        char u[4];
        size_t k = v->escaped ? put_utf8(decode_one(v->p, v->n, &i), u) : 1;
        if (!v->escaped)
            u[0] = v->p[i++];
        if (cap - 1 - j < k) {
            buf[j] = 0;
            return SW_EFULL;
        }
        memcpy(buf + j, u, k);
        j += k;
    }
    buf[j] = 0;
    return (int)j;
}
