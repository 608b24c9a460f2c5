// swarm config tree: one MsgPack map held in a caller buffer, read and edited by path
// (docs/PROTOCOL.md, "Config"). Edits rebuild the document into a scratch buffer of the same
// size and swap, so a failed edit (too large, bad path) leaves the tree as it was.
//
// A path is a list of keys: strings index maps, integers index arrays. "Dotted" helpers take
// "wdt.t" for ["wdt","t"] (string keys only).
#ifndef SWARM_CFG_H
#define SWARM_CFG_H

#include "swarm/mp.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_cfg_key {
    const char *s; // map key bytes (not NUL-terminated), or NULL for an array index
    size_t n;      // length of s
    int64_t idx;   // array index when s == NULL
} sw_cfg_key_t;

typedef struct sw_cfg_path {
    sw_cfg_key_t k[SW_CFG_MAX_PATH];
    uint8_t len;
} sw_cfg_path_t;

typedef struct sw_cfg {
    uint8_t *doc;      // the tree: one MsgPack map, doc[0..len). Owned by the caller.
    uint8_t *scratch;  // same capacity; edits are built here then swapped with doc
    size_t cap;        // capacity of each buffer in bytes
    size_t len;
    uint32_t version;  // incremented by every successful change
} sw_cfg_t;

// Both buffers must have cap bytes; the tree starts as an empty map. SW_EINVAL if cap < 1.
int sw_cfg_init(sw_cfg_t *c, void *doc, void *scratch, size_t cap);
// Replaces the tree with p[0..n): must be one valid map (SW_ETYPE / SW_EPROTO / SW_EDEPTH),
// fitting cap (SW_ETOOBIG). On error the tree is unchanged.
int sw_cfg_load(sw_cfg_t *c, const void *p, size_t n);
// Deep-merges the map p[0..n) into the tree: maps merge key by key, anything else replaces; new
// keys go after the existing ones. Errors as sw_cfg_load; on error the tree is unchanged.
int sw_cfg_merge(sw_cfg_t *c, const void *p, size_t n);

// Path parsing: a dotted string, or a MsgPack array of str/int (as sent in a request's "p").
// SW_ETOOBIG beyond SW_CFG_MAX_PATH elements, SW_EINVAL for empty elements / wrong types
// (incl. negative indices and a non-array), SW_EPROTO for malformed MsgPack or bytes after the
// array. "" is the root (len 0). On error path->len is 0.
// The keys point into the input, which must outlive the path.
int sw_cfg_path_dotted(sw_cfg_path_t *path, const char *dotted);
int sw_cfg_path_mp(sw_cfg_path_t *path, const void *p, size_t n);

// Raw value at path (the root for an empty path). 0, SW_ENOENT, or SW_ETYPE (a key used on a
// non-map / an index on a non-array). Map keys match only string keys; the first of duplicate
// keys (possible in loaded data) is the one found.
int sw_cfg_get(const sw_cfg_t *c, const sw_cfg_path_t *path, sw_span_t *val);
// Sets the value at path to the encoded item val[0..n). Missing map levels are created as
// maps; an array index equal to the array's length appends (at any level). Errors: SW_ETYPE,
// SW_ERANGE (index beyond the end), SW_ENOENT (an index into a level that does not exist),
// SW_ETOOBIG (tree would exceed cap), SW_EDEPTH (tree would nest deeper than
// SW_MP_MAX_DEPTH), SW_EPROTO (val is not one item), SW_EINVAL (empty path: use sw_cfg_load).
// val may point into the tree. Later duplicates of an edited key are dropped.
int sw_cfg_set(sw_cfg_t *c, const sw_cfg_path_t *path, const void *val, size_t n);
// Deletes the entry at path (all duplicates of its key). 0, SW_ENOENT, SW_ETYPE, or SW_EINVAL
// (empty path).
int sw_cfg_del(sw_cfg_t *c, const sw_cfg_path_t *path);

// Writes the value at path in MoaT's "part" form: a scalar as itself; a map as
// [{key: value for scalar values}, [keys whose values are maps or arrays]]; an array as
// [[values, nil where a value is a map or array], [indices of those]]. Errors: those of
// sw_cfg_get (nothing written), or the writer's (SW_EFULL).
int sw_cfg_write_part(const sw_cfg_t *c, const sw_cfg_path_t *path, sw_mpw_t *w);

// Typed reads by dotted path with a default when absent or of another type.
int64_t sw_cfg_int(const sw_cfg_t *c, const char *dotted, int64_t dflt);
bool sw_cfg_bool(const sw_cfg_t *c, const char *dotted, bool dflt);
// String: *out points into the tree (valid until the next change); false (and *out = dflt as
// a span of strlen) when absent or not a string.
bool sw_cfg_str(const sw_cfg_t *c, const char *dotted, const char *dflt, sw_span_t *out);
// Convenience setters by dotted path.
int sw_cfg_set_int(sw_cfg_t *c, const char *dotted, int64_t v);
int sw_cfg_set_bool(sw_cfg_t *c, const char *dotted, bool v);
int sw_cfg_set_str(sw_cfg_t *c, const char *dotted, const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
