// JSON writer over a caller buffer (sticky errors, optional indentation) and MsgPack → JSON
// conversion, without stdio: integers are formatted here, doubles through the caller's
// formatter when it gives one.
#include <string.h>

#include "swarm/json.h"
#include "f64.h"
#include "utf8.h"

void sw_jw_init(sw_jw_t *w, char *buf, size_t cap, int indent)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->indent = indent < 0 ? 0 : indent > 8 ? 8 : indent;
    if (w->cap)
        w->buf[0] = 0;
}

static void put(sw_jw_t *w, const char *s, size_t n)
{
    if (w->err)
        return;
    if (w->cap == 0 || n > w->cap - 1 - w->len) { // keep one byte for the NUL
        w->err = SW_EFULL;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void putc1(sw_jw_t *w, char c) { put(w, &c, 1); }

static void newline(sw_jw_t *w)
{
    if (!w->indent)
        return;
    putc1(w, '\n');
    for (unsigned k = 0; k < (unsigned)w->depth * (unsigned)w->indent; k++)
        putc1(w, ' ');
}

// Separator before a value (or a key): none after a key, a comma between items.
static void pre(sw_jw_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0) {
        if (w->need_comma[0]) // a second top-level value: not JSON
            w->err = w->err ? w->err : SW_EINVAL;
        w->need_comma[0] = true;
        return;
    }
    if (w->need_comma[w->depth])
        putc1(w, ',');
    w->need_comma[w->depth] = true;
    newline(w);
}

static void open_(sw_jw_t *w, char c)
{
    pre(w);
    if (w->depth >= SW_JSON_MAX_DEPTH) {
        w->err = w->err ? w->err : SW_EDEPTH;
        return;
    }
    putc1(w, c);
    w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_(sw_jw_t *w, char c)
{
    if (w->depth == 0) {
        w->err = w->err ? w->err : SW_EINVAL;
        return;
    }
    bool items = w->need_comma[w->depth];
    w->depth--;
    if (items)
        newline(w);
    putc1(w, c);
}

void sw_jw_obj_begin(sw_jw_t *w) { open_(w, '{'); }
void sw_jw_obj_end(sw_jw_t *w) { close_(w, '}'); }
void sw_jw_arr_begin(sw_jw_t *w) { open_(w, '['); }
void sw_jw_arr_end(sw_jw_t *w) { close_(w, ']'); }

size_t sw__utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t k;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        k = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4, cp = c & 0x07;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k;
}

static void put_quoted(sw_jw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    putc1(w, '"');
    size_t run = 0; // bytes of p that need no escaping, written in one go
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k = c >= 0x20 && c != '"' && c != '\\' ? sw__utf8_len(p + i, n - i) : 0;
        if (k) {
            i += k;
            run += k;
            continue;
        }
        put(w, (const char *)p + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            } else { // a byte that is not valid UTF-8: U+FFFD
                memcpy(esc, "\xef\xbf\xbd", 3);
                el = 3;
            }
        }
        put(w, esc, el);
        i++;
    }
    put(w, (const char *)p + n - run, run);
    putc1(w, '"');
}

void sw_jw_key(sw_jw_t *w, const char *k, size_t n)
{
    pre(w);
    put_quoted(w, k, n);
    put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
    w->after_key = true;
}

void sw_jw_str(sw_jw_t *w, const char *s, size_t n)
{
    pre(w);
    put_quoted(w, s, n);
}

void sw_jw_cstr(sw_jw_t *w, const char *s)
{
    if (!s)
        sw_jw_null(w);
    else
        sw_jw_str(w, s, strlen(s));
}

static size_t digits(uint64_t v, char *out) // out: 20 bytes; returns where the digits start
{
    size_t at = 20;
    do {
        out[--at] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return at;
}

void sw_jw_uint(sw_jw_t *w, uint64_t v)
{
    char d[20];
    size_t at = digits(v, d);
    pre(w);
    put(w, d + at, 20 - at);
}

void sw_jw_int(sw_jw_t *w, int64_t v)
{
    if (v >= 0) {
        sw_jw_uint(w, (uint64_t)v);
        return;
    }
    char d[21];
    size_t at = digits((uint64_t)0 - (uint64_t)v, d + 1) + 1;
    d[--at] = '-';
    pre(w);
    put(w, d + at, 21 - at);
}

// Built-in fallback for doubles: integral values below 2^53 exactly (with ".0"), others with 9
// significant digits, trailing zeros dropped, written as "%g" would (positional for exponents
// -4..8: 1.5, 0.001; else 1.5e20, 2.5e-7). Integer arithmetic on the IEEE-754 bits only, so a
// firmware that formats a float does not link the soft-float division and multiplication
// (mcu-serial answers a ping of a float). A correct shortest form needs more than this core
// should carry; the node passes snprintf's "%.17g" as w->fmt where it has a double printf.
static size_t approx_double(double v, char *out, size_t cap)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    char tmp[48], d[20];
    size_t k = 0;
    if (u >> 63)
        tmp[k++] = '-';
    int e = (int)(u >> 52 & 0x7ff);
    uint64_t m = u & ((1ull << 52) - 1);
    if (e)
        m |= 1ull << 52;
    else
        e = 1;                // subnormal (or zero)
    int b = e - 1075;         // |v| = m * 2^b
    if (m == 0 || (b <= 0 && b > -53 && !(m & ((1ull << -b) - 1)))) { // integral, below 2^53
        size_t at = digits(m ? m >> -b : 0, d);
        memcpy(tmp + k, d + at, 20 - at);
        k += 20 - at;
        memcpy(tmp + k, ".0", 2);
        k += 2;
    } else {
        // |v| = m * 2^b * 10^x with m kept within 2^59..2^63, then cut to 9 digits (rounded)
        int x = 0;
        for (; b > 0; b--) {
            if (m >> 62)
                m /= 10, x++;
            m <<= 1;
        }
        for (; b < 0; b++) {
            while (m < (1ull << 59))
                m *= 10, x--;
            m >>= 1;
        }
        while (m >= 10000000000ull)
            m /= 10, x++;
        if (m >= 1000000000ull)
            m = (m + 5) / 10, x++;
        if (m >= 1000000000ull) // 999999999.5 rounded up
            m /= 10, x++;
        int exp10 = x + 8;    // |v| = d.dddddddd * 10^exp10
        size_t at = digits(m, d);
        const char *dg = d + at; // 9 digits
        size_t nd = 20 - at;
        while (nd > 1 && dg[nd - 1] == '0')
            nd--;
        bool sci = exp10 < -4 || exp10 >= 9;
        int point = sci ? 1 : exp10 + 1; // digits before the '.'
        if (point <= 0) {                // 0.000ddd
            tmp[k++] = '0', tmp[k++] = '.';
            for (; point < 0; point++)
                tmp[k++] = '0';
            memcpy(tmp + k, dg, nd);
            k += nd;
        } else {
            for (int i = 0; i < point || (size_t)i < nd; i++) {
                if (i == point)
                    tmp[k++] = '.';
                tmp[k++] = (size_t)i < nd ? dg[i] : '0';
            }
        }
        if (sci) {
            tmp[k++] = 'e';
            if (exp10 < 0)
                tmp[k++] = '-', exp10 = -exp10;
            at = digits((uint64_t)exp10, d);
            memcpy(tmp + k, d + at, 20 - at);
            k += 20 - at;
        }
    }
    if (k > cap)
        return 0;
    memcpy(out, tmp, k);
    return k;
}

void sw_jw_double(sw_jw_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    if ((u >> 52 & 0x7ff) == 0x7ff) { // NaN or ±Inf
        sw_jw_null(w);
        return;
    }
    char buf[48];
    size_t k = 0;
    // Integers below 2^53 are exact as digits + ".0"; everything else goes to the formatter.
    int64_t iv;
    bool exact = sw__f64_int(v, &iv) && iv > -9007199254740992 && iv < 9007199254740992;
    if (w->fmt && !exact)
        k = w->fmt(v, buf, sizeof buf);
    if (!k)
        k = approx_double(v, buf, sizeof buf);
    pre(w);
    put(w, buf, k);
}

void sw_jw_bool(sw_jw_t *w, bool v)
{
    pre(w);
    put(w, v ? "true" : "false", v ? 4 : 5);
}

void sw_jw_null(sw_jw_t *w)
{
    pre(w);
    put(w, "null", 4);
}

/////////////////////////////////////////////////////////////////////////////////////////////
// MsgPack → JSON

static void put_base64(sw_jw_t *w, const uint8_t *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    putc1(w, '"');
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < n ? b64[v >> 6 & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        put(w, q, 4);
    }
    putc1(w, '"');
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = sw__utf8_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

static void tagged_bytes(sw_jw_t *w, const char *tag, const uint8_t *p, size_t n)
{
    sw_jw_obj_begin(w);
    sw_jw_key(w, tag, strlen(tag));
    pre(w);
    put_base64(w, p, n);
    sw_jw_obj_end(w);
}

static void value(sw_jw_t *w, sw_mpr_t *r);

// A map key that is not a string: its own JSON text becomes the key.
static void odd_key(sw_jw_t *w, sw_mpr_t *r)
{
    char buf[128];
    sw_jw_t k;
    sw_jw_init(&k, buf, sizeof buf, 0);
    value(&k, r);
    if (k.err == SW_EFULL)
        sw_jw_key(w, "?", 1);
    else
        sw_jw_key(w, buf, k.len);
}

static void value(sw_jw_t *w, sw_mpr_t *r)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o)) {
        w->err = w->err ? w->err : r->err;
        return;
    }
    switch (o.type) {
    case SW_MP_NIL: sw_jw_null(w); break;
    case SW_MP_BOOL: sw_jw_bool(w, o.v.b); break;
    case SW_MP_UINT: sw_jw_uint(w, o.v.u); break;
    case SW_MP_INT: sw_jw_int(w, o.v.i); break;
    case SW_MP_FLOAT: sw_jw_double(w, o.v.f); break;
    case SW_MP_STR:
        if (utf8_ok(o.v.p, o.len))
            sw_jw_str(w, (const char *)o.v.p, o.len);
        else
            tagged_bytes(w, "$bin", o.v.p, o.len);
        break;
    case SW_MP_BIN: tagged_bytes(w, "$bin", o.v.p, o.len); break;
    case SW_MP_EXT:
        if (o.ext == 4 && utf8_ok(o.v.p, o.len)) {
            sw_jw_obj_begin(w);
            sw_jw_key(w, "$proxy", 6);
            sw_jw_str(w, (const char *)o.v.p, o.len);
            sw_jw_obj_end(w);
        } else {
            sw_jw_obj_begin(w);
            sw_jw_key(w, "$ext", 4);
            sw_jw_int(w, o.ext);
            sw_jw_key(w, "$data", 5);
            pre(w);
            put_base64(w, o.v.p, o.len);
            sw_jw_obj_end(w);
        }
        break;
    case SW_MP_ARRAY:
        sw_jw_arr_begin(w);
        for (uint32_t k = 0; k < o.len && !w->err; k++)
            value(w, r);
        sw_jw_arr_end(w);
        break;
    case SW_MP_MAP:
        sw_jw_obj_begin(w);
        for (uint32_t k = 0; k < o.len && !w->err; k++) {
            if (sw_mpr_peek(r) == SW_MP_STR) {
                sw_mp_obj_t key;
                if (sw_mpr_next(r, &key)) {
                    w->err = w->err ? w->err : r->err;
                    break;
                }
                sw_jw_key(w, (const char *)key.v.p, key.len);
            } else {
                odd_key(w, r);
            }
            value(w, r);
        }
        sw_jw_obj_end(w);
        break;
    default: w->err = w->err ? w->err : SW_EPROTO;
    }
}

int sw_jw_mp(sw_jw_t *w, const void *mp, size_t n)
{
    sw_mpr_t r;
    sw_mpr_init(&r, mp, n);
    value(w, &r);
    if (!w->err && !sw_mpr_done(&r))
        w->err = SW_EPROTO;
    return w->err;
}
