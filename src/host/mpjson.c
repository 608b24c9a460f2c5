// MsgPack ↔ JSON (cJSON) conversion; the mapping rules are in mpjson.h.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpjson.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Base64 (RFC 4648, standard alphabet, padded)

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// NUL-terminated base64 of p[0..n) in new memory (NULL: out of memory).
static char *b64_encode(const uint8_t *p, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = b64chars[v >> 18];
        *o++ = b64chars[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64chars[v & 63] : '=';
    }
    *o = 0;
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Decodes s (padding optional) into new memory *out, *n bytes. SW_EINVAL for anything that is
// not base64, SW_EFULL when out of memory.
static int b64_decode(const char *s, uint8_t **out, size_t *n)
{
    size_t len = strlen(s);
    while (len && s[len - 1] == '=')
        len--;
    if (strlen(s) - len > 2 || len % 4 == 1)
        return SW_EINVAL;
    uint8_t *buf = malloc(len / 4 * 3 + 3), *o = buf;
    if (!buf)
        return SW_EFULL;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            free(buf);
            return SW_EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    // Leftover bits must be zero (one encoding per byte string).
    if (acc & ((1u << bits) - 1)) {
        free(buf);
        return SW_EINVAL;
    }
    *out = buf;
    *n = (size_t)(o - buf);
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// MsgPack → JSON

// True if p[0..n) is well-formed UTF-8 without NUL (so it can be a C and a JSON string).
static bool utf8_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) k = 3, cp = c & 0x07;
        else return false;
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        // overlong forms, surrogates, beyond U+10FFFF
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

// {"tag": "<base64>"} (or {"tag": "<text>"} with text) from p[0..n).
static cJSON *tagged(const char *tag, const uint8_t *p, size_t n, bool text)
{
    char *s = text ? cstr(p, n) : b64_encode(p, n);
    cJSON *o = cJSON_CreateObject();
    cJSON *v = s ? cJSON_CreateString(s) : NULL;
    free(s);
    if (!o || !v || !cJSON_AddItemToObject(o, tag, v)) {
        cJSON_Delete(o);
        cJSON_Delete(v);
        return NULL;
    }
    return o;
}

static cJSON *json_float(double d, bool f32)
{
    if (isnan(d) || isinf(d)) {
        const char *t = isnan(d) ? "nan" : d > 0 ? "inf" : "-inf";
        return tagged("$float", (const uint8_t *)t, strlen(t), true);
    }
    char buf[40];
    // The shortest text that reads back exactly (within the width it was sent with).
    for (int prec = f32 ? 6 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf - 2, "%.*g", prec, d);
        double back = strtod(buf, NULL);
        if (f32 ? (float)back == (float)d : back == d)
            break;
    }
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    return cJSON_CreateRaw(buf);
}

static cJSON *json_int(bool neg, uint64_t u, int64_t i)
{
    if (neg ? i >= INT32_MIN : u <= INT32_MAX)
        return cJSON_CreateNumber(neg ? (double)i : (double)u);
    char buf[32];
    if (neg)
        snprintf(buf, sizeof buf, "%lld", (long long)i);
    else
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
    return cJSON_CreateRaw(buf);
}

static const char *const tag_names[] = {"$bin", "$str", "$proxy", "$float", "$map"};

// Would a JSON object with these keys be read back as a tagged value? keys: n STR objects.
static bool looks_tagged(const sw_mp_obj_t *keys, uint32_t n)
{
    if (n == 1) {
        for (size_t t = 0; t < sizeof tag_names / sizeof tag_names[0]; t++)
            if (sw_mp_obj_streq(&keys[0], tag_names[t]))
                return true;
        return false;
    }
    return n == 2 && ((sw_mp_obj_streq(&keys[0], "$ext") && sw_mp_obj_streq(&keys[1], "$data")) ||
                      (sw_mp_obj_streq(&keys[0], "$data") && sw_mp_obj_streq(&keys[1], "$ext")));
}

static cJSON *to_json(sw_mpr_t *r, int *err);

static bool set_err(int *err, int e)
{
    if (!*err)
        *err = e;
    return false;
}

// Adds v to o under the key read next from r (consumed by the caller's loop).
static bool add_member(cJSON *o, const sw_mp_obj_t *key, sw_span_t key_raw, cJSON *v, int *err)
{
    char *k = NULL;
    if (key->type == SW_MP_STR && utf8_ok(key->v.p, key->len)) {
        k = cstr(key->v.p, key->len);
    } else {
        // The key's own JSON text.
        sw_mpr_t kr;
        sw_mpr_init(&kr, key_raw.p, key_raw.n);
        cJSON *kj = to_json(&kr, err);
        if (!kj) {
            cJSON_Delete(v);
            return false;
        }
        k = cJSON_PrintUnformatted(kj);
        cJSON_Delete(kj);
        if (k && strlen(k) > SW_MPJSON_KEY_MAX) {
            free(k);
            cJSON_Delete(v);
            return set_err(err, SW_ETOOBIG);
        }
    }
    if (!k || !cJSON_AddItemToObject(o, k, v)) {
        free(k);
        cJSON_Delete(v);
        return set_err(err, SW_EFULL);
    }
    free(k);
    return true;
}

// A map whose keys would make it look tagged: {"$map": [[k, v], ...]}.
static cJSON *map_as_pairs(sw_mpr_t *r, uint32_t pairs, int *err)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!o || !arr || !cJSON_AddItemToObject(o, "$map", arr)) {
        cJSON_Delete(o);
        cJSON_Delete(arr);
        set_err(err, SW_EFULL);
        return NULL;
    }
    for (uint32_t i = 0; i < pairs; i++) {
        cJSON *pair = cJSON_CreateArray();
        if (!pair || !cJSON_AddItemToArray(arr, pair)) {
            cJSON_Delete(pair);
            cJSON_Delete(o);
            set_err(err, SW_EFULL);
            return NULL;
        }
        for (int j = 0; j < 2; j++) {
            cJSON *x = to_json(r, err);
            if (!x || !cJSON_AddItemToArray(pair, x)) {
                cJSON_Delete(x);
                cJSON_Delete(o);
                set_err(err, SW_EFULL);
                return NULL;
            }
        }
    }
    return o;
}

static cJSON *json_map(sw_mpr_t *r, uint32_t pairs, int *err)
{
    // A map that would read back as a tagged object is written as pairs instead.
    if (pairs == 1 || pairs == 2) {
        sw_mpr_t peek = *r;
        sw_mp_obj_t keys[2];
        uint32_t i = 0;
        while (i < pairs && !sw_mpr_next(&peek, &keys[i]) && keys[i].type == SW_MP_STR &&
               !sw_mpr_skip(&peek))
            i++;
        if (i == pairs && looks_tagged(keys, pairs))
            return map_as_pairs(r, pairs, err);
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        set_err(err, SW_EFULL);
        return NULL;
    }
    for (uint32_t i = 0; i < pairs; i++) {
        sw_mpr_t at = *r;
        sw_span_t key_raw;
        sw_mp_obj_t key;
        if (sw_mpr_span(r, &key_raw) || sw_mpr_next(&at, &key)) {
            set_err(err, sw_mpr_error(r) ? sw_mpr_error(r) : SW_EPROTO);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON *v = to_json(r, err);
        if (!v || !add_member(o, &key, key_raw, v, err)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *to_json(sw_mpr_t *r, int *err)
{
    sw_mp_obj_t o;
    if (sw_mpr_next(r, &o)) {
        set_err(err, sw_mpr_error(r));
        return NULL;
    }
    cJSON *j = NULL;
    switch (o.type) {
    case SW_MP_NIL: j = cJSON_CreateNull(); break;
    case SW_MP_BOOL: j = cJSON_CreateBool(o.v.b); break;
    case SW_MP_UINT: j = json_int(false, o.v.u, 0); break;
    case SW_MP_INT: j = json_int(true, 0, o.v.i); break;
    case SW_MP_FLOAT: j = json_float(o.v.f, o.f32); break;
    case SW_MP_STR:
        if (utf8_ok(o.v.p, o.len)) {
            char *s = cstr(o.v.p, o.len);
            j = s ? cJSON_CreateString(s) : NULL;
            free(s);
        } else {
            j = tagged("$str", o.v.p, o.len, false);
        }
        break;
    case SW_MP_BIN: j = tagged("$bin", o.v.p, o.len, false); break;
    case SW_MP_EXT:
        if (o.ext == 4 && utf8_ok(o.v.p, o.len)) {
            j = tagged("$proxy", o.v.p, o.len, true);
        } else if ((j = tagged("$data", o.v.p, o.len, false))) {
            cJSON *t = cJSON_CreateNumber(o.ext);
            if (!t || !cJSON_AddItemToObject(j, "$ext", t)) {
                cJSON_Delete(t);
                cJSON_Delete(j);
                j = NULL;
            }
        }
        break;
    case SW_MP_ARRAY:
        if (!(j = cJSON_CreateArray()))
            break;
        for (uint32_t i = 0; i < o.len; i++) {
            cJSON *x = to_json(r, err);
            if (!x || !cJSON_AddItemToArray(j, x)) {
                cJSON_Delete(x);
                cJSON_Delete(j);
                set_err(err, SW_EFULL);
                return NULL;
            }
        }
        return j;
    case SW_MP_MAP: return json_map(r, o.len, err);
    default: set_err(err, SW_EPROTO); return NULL;
    }
    if (!j)
        set_err(err, SW_EFULL);
    return j;
}

cJSON *sw_mp_to_json(const void *p, size_t n, int *err)
{
    int e = 0;
    sw_mpr_t r;
    sw_mpr_init(&r, p, n);
    cJSON *j = to_json(&r, &e);
    if (j && !sw_mpr_done(&r)) {
        e = sw_mpr_error(&r) ? sw_mpr_error(&r) : SW_EPROTO;
        cJSON_Delete(j);
        j = NULL;
    }
    if (!j && !e)
        e = SW_EPROTO;
    if (err)
        *err = j ? 0 : e;
    return j;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// JSON → MsgPack

static int mp_number(double d, sw_mpw_t *w)
{
    // [-2^63, 2^63): exactly the doubles that convert to int64 without overflow
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        sw_mpw_int(w, (int64_t)d);
    else
        sw_mpw_f64(w, d);
    return 0;
}

// Raw items carry exact number text (from sw_mp_to_json or a caller).
static int mp_raw(const char *s, sw_mpw_t *w)
{
    if (!s || !*s)
        return SW_EINVAL;
    const char *digits = s[0] == '-' ? s + 1 : s;
    bool integer = *digits && strspn(digits, "0123456789") == strlen(digits);
    char *end;
    if (integer) {
        errno = 0;
        if (s[0] == '-') {
            long long v = strtoll(s, &end, 10);
            if (!errno) {
                sw_mpw_int(w, v);
                return 0;
            }
        } else {
            unsigned long long v = strtoull(s, &end, 10);
            if (!errno) {
                sw_mpw_uint(w, v);
                return 0;
            }
        }
        // out of 64-bit range: as a float, like any other JSON number
    }
    double d = strtod(s, &end);
    if (*end || end == s || isnan(d) || strpbrk(s, "nNiIxX"))
        return SW_EINVAL;
    sw_mpw_f64(w, d);
    return 0;
}

static int member_count(const cJSON *j)
{
    int n = 0;
    for (const cJSON *c = j->child; c; c = c->next)
        n++;
    return n;
}

static int to_mp(const cJSON *j, sw_mpw_t *w, int depth);

static int mp_b64(const char *s, sw_mpw_t *w, int type, int8_t ext)
{
    uint8_t *buf;
    size_t n;
    int err = b64_decode(s, &buf, &n);
    if (err)
        return err;
    if (type == SW_MP_BIN)
        sw_mpw_bin(w, buf, n);
    else if (type == SW_MP_STR)
        sw_mpw_str(w, buf, n);
    else
        sw_mpw_ext(w, ext, buf, n);
    free(buf);
    return 0;
}

// A tagged object ({"$bin": …} etc.): 1 if j is not one, else 0 or an error.
static int mp_tagged(const cJSON *j, sw_mpw_t *w, int depth)
{
    int n = member_count(j);
    const cJSON *a = j->child;
    if (n == 1 && a->string && a->string[0] == '$') {
        const char *k = a->string;
        if (!strcmp(k, "$map")) {
            if (!cJSON_IsArray(a))
                return SW_EINVAL;
            int pairs = member_count(a);
            sw_mpw_map(w, (uint32_t)pairs);
            for (const cJSON *p = a->child; p; p = p->next) {
                if (!cJSON_IsArray(p) || member_count(p) != 2)
                    return SW_EINVAL;
                int err = to_mp(p->child, w, depth + 1);
                if (!err)
                    err = to_mp(p->child->next, w, depth + 1);
                if (err)
                    return err;
            }
            return 0;
        }
        bool known = !strcmp(k, "$bin") || !strcmp(k, "$str") || !strcmp(k, "$proxy") ||
                     !strcmp(k, "$float");
        if (!known)
            return 1;
        if (!cJSON_IsString(a))
            return SW_EINVAL;
        const char *s = a->valuestring;
        if (!strcmp(k, "$bin"))
            return mp_b64(s, w, SW_MP_BIN, 0);
        if (!strcmp(k, "$str"))
            return mp_b64(s, w, SW_MP_STR, 0);
        if (!strcmp(k, "$proxy")) {
            sw_mpw_ext(w, 4, s, strlen(s));
            return 0;
        }
        if (!strcmp(s, "nan"))
            sw_mpw_f64(w, NAN);
        else if (!strcmp(s, "inf"))
            sw_mpw_f64(w, INFINITY);
        else if (!strcmp(s, "-inf"))
            sw_mpw_f64(w, -INFINITY);
        else
            return SW_EINVAL;
        return 0;
    }
    if (n == 2 && a->string && a->next->string) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "$ext");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "$data");
        if (!t || !d || t == d)
            return 1;
        if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) ||
            t->valuedouble < -128 || t->valuedouble > 127 || !cJSON_IsString(d))
            return SW_EINVAL;
        return mp_b64(d->valuestring, w, SW_MP_EXT, (int8_t)t->valuedouble);
    }
    return 1;
}

static int to_mp(const cJSON *j, sw_mpw_t *w, int depth)
{
    if (!j)
        return SW_EINVAL;
    if (depth >= SW_MP_MAX_DEPTH && (cJSON_IsArray(j) || cJSON_IsObject(j)))
        return SW_EDEPTH;
    int err = 0;
    switch (j->type & 0xff) {
    case cJSON_NULL: sw_mpw_nil(w); break;
    case cJSON_True: sw_mpw_bool(w, true); break;
    case cJSON_False: sw_mpw_bool(w, false); break;
    case cJSON_Number: err = mp_number(j->valuedouble, w); break;
    case cJSON_Raw: err = mp_raw(j->valuestring, w); break;
    case cJSON_String:
        if (!j->valuestring)
            return SW_EINVAL;
        sw_mpw_cstr(w, j->valuestring);
        break;
    case cJSON_Array:
        sw_mpw_array(w, (uint32_t)member_count(j));
        for (const cJSON *c = j->child; c && !err; c = c->next)
            err = to_mp(c, w, depth + 1);
        break;
    case cJSON_Object:
        if ((err = mp_tagged(j, w, depth)) <= 0)
            break;
        err = 0;
        sw_mpw_map(w, (uint32_t)member_count(j));
        for (const cJSON *c = j->child; c && !err; c = c->next) {
            if (!c->string)
                return SW_EINVAL;
            sw_mpw_cstr(w, c->string);
            err = to_mp(c, w, depth + 1);
        }
        break;
    default: return SW_EINVAL;
    }
    return err ? err : sw_mpw_error(w);
}

int sw_json_to_mp(const cJSON *j, sw_mpw_t *w)
{
    int err = to_mp(j, w, 0);
    if (err && !w->err)
        w->err = err;
    return err;
}
