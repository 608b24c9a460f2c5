// swarm JSON: a writer (JSON text into a caller buffer, sticky errors, optional indentation, and
// a MsgPack → JSON conversion) and a small pull reader (below). Portable (no stdio: numbers are formatted here; non-integral
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

/////////////////////////////////////////////////////////////////////////////////////////////
// Reader: a pull parser over JSON text the caller holds (datagrams such as discovery queries).
// Strict RFC 8259: UTF-8 only (no BOM), no comments, no trailing commas, exactly one value
// followed by nothing but whitespace. No heap and no recursion: nesting deeper than
// SW_JSON_MAX_DEPTH is SW_EDEPTH. Errors are sticky: SW_EPROTO for malformed text (bad
// grammar, invalid UTF-8, control characters in strings, lone surrogate escapes), SW_EDEPTH.
// Tokens point into the text (zero copy); strings keep their escapes until copied or compared.

typedef enum sw_jtok {
    SW_JT_END = 0,  // the value is complete and the text used up (returned again on later calls)
    SW_JT_OBJ,      // '{'
    SW_JT_OBJ_END,  // '}'
    SW_JT_ARR,      // '['
    SW_JT_ARR_END,  // ']'
    SW_JT_KEY,      // an object key; its value's tokens follow
    SW_JT_STR,
    SW_JT_NUM,
    SW_JT_BOOL,
    SW_JT_NULL,
} sw_jtok_t;

typedef struct sw_jv {
    uint8_t type;   // sw_jtok_t
    uint8_t depth;  // containers open after this token (OBJ/ARR: including their own)
    bool escaped;   // STR/KEY: the text holds backslash escapes
    bool is_int;    // NUM: an integer (no fraction, no exponent) within int64; i holds it
    bool b;         // BOOL
    int64_t i;      // NUM with is_int
    const char *p;  // STR/KEY: the text between the quotes (escapes not decoded); NUM: as written
    size_t n;       // bytes at p
} sw_jv_t;

typedef struct sw_jr {
    const char *p;  // the text, owned by the caller; must outlive the reader and its tokens
    size_t n, pos;
    int err;        // sticky: 0, SW_EPROTO, SW_EDEPTH
    uint8_t depth;  // containers open
    uint8_t state;  // internal
    uint32_t objs;  // internal: bit d-1 set when the container at depth d is an object
} sw_jr_t;

void sw_jr_init(sw_jr_t *r, const char *p, size_t n);
// Reads the next token into *v. Returns 0 or the sticky error (then *v is SW_JT_END).
int sw_jr_next(sw_jr_t *r, sw_jv_t *v);
// Skips the rest of the value v started (the whole container for OBJ/ARR; nothing for a
// scalar). Returns 0 or the error.
int sw_jr_skip(sw_jr_t *r, const sw_jv_t *v);
// STR/KEY helpers. Compares the decoded string with the NUL-terminated s.
bool sw_jv_streq(const sw_jv_t *v, const char *s);
// Decodes the string into buf (cap bytes, NUL-terminated) and returns its length, or SW_EFULL
// (buf holds a truncated prefix), SW_ETYPE (v is not a STR or KEY), SW_ETOOBIG (v->n over
// INT_MAX). The decoded form is valid UTF-8 and never longer than v->n.
int sw_jv_str(const sw_jv_t *v, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
