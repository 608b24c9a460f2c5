// swarm JSON writer: JSON text into a caller buffer, sticky errors, optional indentation, and a
// MsgPack → JSON conversion. Portable (no stdio: numbers are formatted here; non-integral
// doubles go through a formatter the caller may supply, e.g. snprintf "%.17g").
//
// Used where a device must speak JSON (micro-swarm's beacon) and for showing the config.
// MsgPack → JSON follows the host's mapping (src/host/mpjson.h) for the common types: maps with
// string keys → objects, arrays, strings, numbers, booleans, nil → null; bin → {"$bin":
// base64}, ext 4 proxies → {"$proxy": name}, other ext → {"$ext": type, "$data": base64};
// map keys that are not strings → their JSON text as the key; strings that are not valid
// UTF-8 → {"$bin": base64}.
#ifndef SWARM_JSON_H
#define SWARM_JSON_H

#include "swarm/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_JSON_MAX_DEPTH 32

// Formats a finite double that is not an integer into buf; returns the length (0: use the
// built-in approximation).
typedef size_t (*sw_json_fmt_double)(double v, char *buf, size_t cap);

typedef struct sw_jw {
    char *buf;        // output, owned by the caller (NUL-terminated while there is room)
    size_t cap, len;
    int err;          // sticky: 0, SW_EFULL, SW_EDEPTH, SW_EINVAL
    int indent;       // spaces per level; 0 = compact
    uint8_t depth;
    bool need_comma[SW_JSON_MAX_DEPTH + 1];
    bool after_key;
    sw_json_fmt_double fmt; // may be NULL
} sw_jw_t;

void sw_jw_init(sw_jw_t *w, char *buf, size_t cap, int indent);
void sw_jw_obj_begin(sw_jw_t *w);
void sw_jw_obj_end(sw_jw_t *w);
void sw_jw_arr_begin(sw_jw_t *w);
void sw_jw_arr_end(sw_jw_t *w);
void sw_jw_key(sw_jw_t *w, const char *k, size_t n); // inside an object, before each value
void sw_jw_str(sw_jw_t *w, const char *s, size_t n); // escaped; invalid UTF-8 → U+FFFD
void sw_jw_cstr(sw_jw_t *w, const char *s);          // NUL-terminated; NULL → null
void sw_jw_int(sw_jw_t *w, int64_t v);
void sw_jw_uint(sw_jw_t *w, uint64_t v);
void sw_jw_double(sw_jw_t *w, double v);             // NaN/Inf → null (JSON has neither)
void sw_jw_bool(sw_jw_t *w, bool v);
void sw_jw_null(sw_jw_t *w);
// Converts one complete MsgPack item (as above). Returns 0 or the error (also sticky in w).
int sw_jw_mp(sw_jw_t *w, const void *mp, size_t n);

#ifdef __cplusplus
}
#endif
#endif
