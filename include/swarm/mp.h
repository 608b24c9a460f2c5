// swarm MsgPack: a writer, a whole-buffer reader and an incremental splitter, all over
// caller-owned memory, with sticky errors (the first error wins; later calls do nothing and
// the error is reported again by sw_mpw_error()/sw_mpr_error()).
//
// Reading is built on libmpack's tokenizer; writing is our own because libmpack 1.0.5 encodes
// some negative integers wrongly (see docs/DESIGN.md). Every MsgPack type is covered: nil,
// bool, all int widths, float32/64, str, bin, array, map (any key type), ext incl. fixext.
// Nothing here allocates; strings and binaries are read zero-copy (pointers into the input).
#ifndef SWARM_MP_H
#define SWARM_MP_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sw_mp_type {
    SW_MP_NONE = 0, // nothing read (error or end)
    SW_MP_NIL,
    SW_MP_BOOL,
    SW_MP_UINT,     // any integer >= 0, whatever its wire width
    SW_MP_INT,      // any integer < 0
    SW_MP_FLOAT,    // float32 or float64 (see sw_mp_obj_t.f32)
    SW_MP_STR,
    SW_MP_BIN,
    SW_MP_ARRAY,
    SW_MP_MAP,
    SW_MP_EXT,
} sw_mp_type_t;

// One item as read. For containers only the header is read: len = items (array) or pairs (map),
// and the items follow. For STR/BIN/EXT, v.p points into the reader's input (not owned, not
// NUL-terminated) and len is its byte length.
typedef struct sw_mp_obj {
    sw_mp_type_t type;
    bool f32;     // FLOAT: it was a float32 on the wire
    int8_t ext;   // EXT: the extension type
    uint32_t len; // STR/BIN/EXT: bytes; ARRAY: items; MAP: key/value pairs
    union {
        bool b;          // BOOL
        uint64_t u;      // UINT
        int64_t i;       // INT (always negative)
        double f;        // FLOAT
        const uint8_t *p; // STR/BIN/EXT payload
    } v;
} sw_mp_obj_t;

// Integer value of an UINT/INT object if it fits int64_t; false otherwise (wrong type or > INT64_MAX).
bool sw_mp_obj_i64(const sw_mp_obj_t *o, int64_t *out);
// True if o is a STR equal to the NUL-terminated s.
bool sw_mp_obj_streq(const sw_mp_obj_t *o, const char *s);

//////////////////////////////////////////////////////////////////////////////////////////////
// Writer
//
// Appends to buf[0..cap). Integers use the smallest encoding (non-negative values use the
// unsigned forms, as python-msgpack does); floats keep the width asked for. On overflow the
// writer sets err = SW_EFULL, writes nothing more, and len stays at the last complete item.

typedef struct sw_mpw {
    uint8_t *buf; // output, owned by the caller
    size_t cap;   // size of buf in bytes
    size_t len;   // bytes written so far
    int err;      // sticky: 0 or the first error (SW_EFULL, SW_EINVAL)
} sw_mpw_t;

void sw_mpw_init(sw_mpw_t *w, void *buf, size_t cap);
static inline int sw_mpw_error(const sw_mpw_t *w) { return w->err; }

void sw_mpw_nil(sw_mpw_t *w);
void sw_mpw_bool(sw_mpw_t *w, bool v);
void sw_mpw_int(sw_mpw_t *w, int64_t v);
void sw_mpw_uint(sw_mpw_t *w, uint64_t v);
void sw_mpw_f32(sw_mpw_t *w, float v);
void sw_mpw_f64(sw_mpw_t *w, double v);
void sw_mpw_str(sw_mpw_t *w, const void *s, size_t n);
void sw_mpw_cstr(sw_mpw_t *w, const char *s); // NUL-terminated; NULL writes nil
void sw_mpw_bin(sw_mpw_t *w, const void *p, size_t n);
void sw_mpw_ext(sw_mpw_t *w, int8_t type, const void *p, size_t n); // fixext when n is 1/2/4/8/16
void sw_mpw_array(sw_mpw_t *w, uint32_t items);
void sw_mpw_map(sw_mpw_t *w, uint32_t pairs);
// Copies already-encoded MsgPack bytes (one or more complete items) verbatim.
void sw_mpw_raw(sw_mpw_t *w, const void *p, size_t n);
// Writes one item as read by a reader (containers: the header only).
void sw_mpw_obj(sw_mpw_t *w, const sw_mp_obj_t *o);

// Containers whose size is known only afterwards: mark = sw_mpw_mark(w); write the items;
// then sw_mpw_close_array(w, mark, items) / sw_mpw_close_map(w, mark, pairs) inserts the
// header at mark in its smallest form (the items are moved up by 1..5 bytes).
static inline size_t sw_mpw_mark(const sw_mpw_t *w) { return w->len; }
void sw_mpw_close_array(sw_mpw_t *w, size_t mark, uint32_t items);
void sw_mpw_close_map(sw_mpw_t *w, size_t mark, uint32_t pairs);

// Blobs filled in place (e.g. a file read straight into the reply): p = sw_mpw_blob_begin(w,
// max) returns room for up to max bytes (NULL and err set if there is none); fill p[0..n) with
// n <= max; sw_mpw_blob_end(w, SW_MP_BIN or SW_MP_STR, n) writes the header and moves the bytes
// into place.
uint8_t *sw_mpw_blob_begin(sw_mpw_t *w, size_t max);
void sw_mpw_blob_end(sw_mpw_t *w, sw_mp_type_t type, size_t n);

// Drops everything after mark (a previous sw_mpw_mark) and clears an EFULL error, so a caller
// can replace a reply that did not fit with a shorter one.
void sw_mpw_rewind(sw_mpw_t *w, size_t mark);

//////////////////////////////////////////////////////////////////////////////////////////////
// Reader (whole buffer)
//
// Reads items from buf[0..n), which must hold complete items (use sw_mps_t to gather them from
// a byte stream). Tracks container nesting up to SW_MP_MAX_DEPTH (deeper input: SW_EDEPTH) and
// rejects counts that cannot fit in the remaining bytes (SW_EPROTO) before anything is walked.
// Errors: SW_EPROTO (malformed or truncated), SW_EDEPTH, SW_ETYPE (typed helpers only),
// SW_ERANGE (typed integer helpers: value does not fit).

typedef struct sw_mpr {
    const uint8_t *p; // input, owned by the caller; must outlive every pointer read from it
    size_t n;         // input length
    size_t pos;       // next byte to read
    int err;          // sticky: 0 or the first error
    uint8_t depth;    // open containers
    uint32_t left[SW_MP_MAX_DEPTH]; // items still due in each open container
} sw_mpr_t;

void sw_mpr_init(sw_mpr_t *r, const void *buf, size_t n);
static inline int sw_mpr_error(const sw_mpr_t *r) { return r->err; }
// True when every container is closed and the input is used up (and no error occurred).
bool sw_mpr_done(const sw_mpr_t *r);

// Type of the next item without consuming it (SW_MP_NONE at the end or after an error).
sw_mp_type_t sw_mpr_peek(const sw_mpr_t *r);
// Reads the next item. Returns 0 or the (sticky) error; on error *o is all zero (SW_MP_NONE).
int sw_mpr_next(sw_mpr_t *r, sw_mp_obj_t *o);
// Skips one complete item (a container with everything inside it).
int sw_mpr_skip(sw_mpr_t *r);
// Skips one complete item and returns the raw bytes it occupies.
int sw_mpr_span(sw_mpr_t *r, sw_span_t *out);

// Where the keys and values of a top-level map begin, recorded by sw_mpr_skip_index while it
// frames the map, so a message decoder can go straight to them instead of walking the map
// again. Offsets count from the map's first byte; value k ends where key k+1 begins (the last
// one where the map ends). ok is false (nothing recorded) when the item is not a map of at
// most SW_MP_INDEX_MAX pairs.
#define SW_MP_INDEX_MAX 8
typedef struct sw_mp_index {
    bool ok;
    uint8_t pairs;
    uint32_t len; // bytes of the whole map
    uint32_t key[SW_MP_INDEX_MAX];
    uint32_t val[SW_MP_INDEX_MAX];
} sw_mp_index_t;
// sw_mpr_skip that also fills *ix (same result, same errors; *ix is meaningful only on success).
int sw_mpr_skip_index(sw_mpr_t *r, sw_mp_index_t *ix);

// Typed helpers: read the next item and require its type; on mismatch set SW_ETYPE (sticky)
// and return false. Integers are range-checked (SW_ERANGE).
bool sw_mpr_nil(sw_mpr_t *r);
bool sw_mpr_bool(sw_mpr_t *r, bool *v);
bool sw_mpr_int(sw_mpr_t *r, int64_t *v);
bool sw_mpr_uint(sw_mpr_t *r, uint64_t *v);
bool sw_mpr_float(sw_mpr_t *r, double *v); // accepts FLOAT and integers
bool sw_mpr_str(sw_mpr_t *r, sw_span_t *s);
bool sw_mpr_bin(sw_mpr_t *r, sw_span_t *b);
bool sw_mpr_array(sw_mpr_t *r, uint32_t *items);
bool sw_mpr_map(sw_mpr_t *r, uint32_t *pairs);

// Looks up a string key in the map encoded at buf[0..n) (one complete map item) and returns the
// raw bytes of its value. 0 when found, SW_ENOENT when absent, SW_ETYPE when buf is not a map,
// or the reader's error when buf is malformed.
int sw_mp_map_get(const void *buf, size_t n, const char *key, sw_span_t *val);

// Validates that buf[0..n) holds exactly one complete item, nested at most SW_MP_MAX_DEPTH.
int sw_mp_check(const void *buf, size_t n);

//////////////////////////////////////////////////////////////////////////////////////////////
// Splitter (incremental): gathers complete top-level items from bytes that arrive in pieces of
// any size (one byte at a time is fine), into a caller buffer.
//
// An item larger than cap is not an error for the stream: its bytes are skipped (the structure
// is still followed, so the stream stays in step) and sw_mps_feed() reports SW_ETOOBIG once the
// item has ended. Nesting deeper than SW_MP_MAX_DEPTH, or a reserved byte (0xC1), cannot be
// followed: that error is sticky and the stream must be reset or closed.
//
// Strict mode (resync, for lines with noise): an item is abandoned as soon as it is known to
// exceed cap — at the header of a str/bin/ext whose length does not fit, of an array or map
// with more elements than bytes left, or of any token that would overflow — and the splitter
// starts afresh right after that token. Noise that reads as a huge length then costs a few
// bytes instead of the next 4 GB. The point of restart is a position in the byte stream, the
// same however the bytes are cut into pieces.

typedef struct sw_mps {
    uint8_t *buf;   // storage for one item, owned by the caller
    size_t cap;     // its size: the largest item accepted
    size_t len;     // bytes of the current item gathered so far
    size_t total;   // … and consumed (skipped ones too)
    int err;        // sticky: 0, SW_EDEPTH or SW_EPROTO
    bool skipping;  // the current item exceeded cap and is being skipped
    bool ready;     // buf holds a complete item (cleared by the next feed)
    bool strict;    // abandon oversize items at once (see above); kept by sw_mps_reset
    uint8_t depth;
    uint32_t blob_left;             // payload bytes of a str/bin/ext still to come
    uint32_t left[SW_MP_MAX_DEPTH];
    uint64_t tok_[8]; // libmpack tokenizer state (opaque)
} sw_mps_t;

void sw_mps_init(sw_mps_t *s, void *buf, size_t cap);
// Forgets any partial item (e.g. after a framing error); keeps buf/cap and clears err.
void sw_mps_reset(sw_mps_t *s);
// True while a partial item is pending (some bytes of an item gathered, item not complete).
bool sw_mps_busy(const sw_mps_t *s);

// Consumes bytes from data[0..n) and stops at the end of the first complete item.
// *used = bytes consumed. Returns 1 when an item is complete in buf[0..len) (it stays there
// until the next call), 0 when all bytes were consumed without completing one, SW_ETOOBIG when
// an oversize item has just been skipped (strict: abandoned), or the sticky error.
int sw_mps_feed(sw_mps_t *s, const uint8_t *data, size_t n, size_t *used);

#ifdef __cplusplus
}
#endif
#endif
