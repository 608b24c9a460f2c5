// MsgPack ↔ JSON through cJSON trees, for people and scripts: `swarm-node --print-config`, the
// swarm CLI's --json output and JSON arguments.
//
// MsgPack → JSON
//   nil/bool/str/array/map      null/true|false/string/array/object
//   integer in int32 range      cJSON number
//   other integers              cJSON Raw item with the exact decimal text (cJSON stores numbers
//                               as doubles and would print large ones rounded)
//   finite float                Raw item, shortest text that reads back to the same value
//                               (float32: the same float32), always with "." or "e" so JSON
//                               readers see a float ("1.0", not "1")
//   NaN, ±Inf                   {"$float": "nan" | "inf" | "-inf"}
//   bin                         {"$bin": "<base64>"}
//   ext 4 (proxy)               {"$proxy": "<name>"}
//   other ext                   {"$ext": type, "$data": "<base64>"}
//   str with NUL or bad UTF-8   {"$str": "<base64 of its bytes>"}
//   map key that is not a str   the key's compact JSON text ({1: 2} → {"1": 2}), at most
//                               SW_MPJSON_KEY_MAX bytes (longer: SW_ETOOBIG). The bound matters:
//                               a key that is a map with such keys is escaped again at every
//                               level, so its text doubles per level (32 levels: 2^32 bytes).
//   map shaped like one of the tagged objects above (e.g. {"$bin": "x"})
//                               {"$map": [[key, value], ...]} so it cannot be misread
//
// JSON → MsgPack
//   numbers: integral and within int64 → int (uint64 above INT64_MAX only from Raw text),
//   anything else → float64. cJSON parses JSON text to doubles, so integers beyond ±2^53 and
//   the float-ness of "1.0" do not survive JSON *text* read by cJSON_Parse; trees made by
//   sw_mp_to_json (Raw items) convert back exactly. The tagged objects above (exactly those
//   keys) become their types again; "$map" pairs may have keys of any type.
//
// Both directions nest at most SW_MP_MAX_DEPTH levels (deeper: SW_EDEPTH).
#ifndef SW_MPJSON_H
#define SW_MPJSON_H

// @@ Longest JSON text of a non-string map key, in bytes.
#ifndef SW_MPJSON_KEY_MAX
#define SW_MPJSON_KEY_MAX 1024
#endif

#include <cjson/cJSON.h>

#include "swarm/mp.h"

// Converts the one MsgPack item in p[0..n) to a new cJSON tree (free with cJSON_Delete).
// NULL on error, with *err (if err) set: SW_EPROTO (malformed, truncated or trailing bytes),
// SW_EDEPTH, SW_ETOOBIG (a non-string key's text over SW_MPJSON_KEY_MAX), SW_EFULL (out of
// memory).
cJSON *sw_mp_to_json(const void *p, size_t n, int *err);

// Appends the MsgPack form of j to w. 0, or SW_EINVAL (a tagged object with bad contents, a
// Raw item that is not a number, an invalid item), SW_EDEPTH, or the writer's error (SW_EFULL).
int sw_json_to_mp(const cJSON *j, sw_mpw_t *w);

#endif
