// Shared helpers for the cmocka unit tests: hex conversion, a seeded PRNG, and a generator of
// random MsgPack items (used by round-trip property tests and to cross-check other codecs).
#ifndef SW_TESTUTIL_H
#define SW_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarm/mp.h"

// Parses "83 a1 61" (spaces optional) into out; returns the byte count.
static inline size_t tu_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*hex) {
        if (*hex == ' ' || *hex == '\n') {
            hex++;
            continue;
        }
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1 || n >= cap)
            fail_msg("bad hex near '%s'", hex);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static inline void tu_assert_bytes(const uint8_t *got, size_t n, const char *hex)
{
    uint8_t want[4096];
    size_t m = tu_hex(hex, want, sizeof want);
    if (n != m || memcmp(got, want, n) != 0) {
        char buf[8192];
        size_t k = 0;
        for (size_t i = 0; i < n && k + 4 < sizeof buf; i++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%02x ", got[i]);
        fail_msg("bytes differ:\n  got  %s\n  want %s", buf, hex);
    }
}

// Runs stmt, which writes with the MsgPack writer w, into the test's own buffer `out`, and
// checks the bytes against hex.
#define WRITE_EXPECT(stmt, hex)                                                              \
    do {                                                                                     \
        sw_mpw_t w;                                                                          \
        sw_mpw_init(&w, out, sizeof out);                                                    \
        stmt;                                                                                \
        assert_int_equal(w.err, 0);                                                          \
        tu_assert_bytes(out, w.len, hex);                                                    \
    } while (0)

// xorshift64*: deterministic, seedable, good enough for test schedules.
typedef struct tu_rng { uint64_t s; } tu_rng_t;
static inline uint64_t tu_next(tu_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}
static inline uint32_t tu_below(tu_rng_t *r, uint32_t n) { return n ? (uint32_t)(tu_next(r) % n) : 0; }

// Writes one random item, nested at most `depth` more levels. Covers every type and every width.
static inline void tu_gen_item(tu_rng_t *r, sw_mpw_t *w, int depth)
{
    static const int64_t edges[] = {0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 0xffffffffll,
                                     0x100000000ll, -1, -32, -33, -128, -129, -32768, -32769,
                                     INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN, INT64_MAX};
    uint8_t blob[300];
    uint32_t kind = tu_below(r, depth > 0 ? 12 : 9);
    switch (kind) {
    case 0: sw_mpw_nil(w); break;
    case 1: sw_mpw_bool(w, tu_below(r, 2)); break;
    case 2: sw_mpw_int(w, edges[tu_below(r, sizeof edges / sizeof *edges)]); break;
    case 3: sw_mpw_int(w, (int64_t)tu_next(r) >> tu_below(r, 64)); break;
    case 4: sw_mpw_uint(w, tu_next(r) >> tu_below(r, 64)); break;
    case 5: {
        double d = (double)(int64_t)tu_next(r) / (double)(1 + tu_below(r, 1000));
        if (tu_below(r, 2)) sw_mpw_f32(w, (float)d); else sw_mpw_f64(w, d);
        break;
    }
    case 6: case 7: case 8: {
        uint32_t n = tu_below(r, 4) == 0 ? tu_below(r, sizeof blob) : tu_below(r, 40);
        for (uint32_t k = 0; k < n; k++)
            blob[k] = kind == 6 ? (uint8_t)(' ' + tu_below(r, 95)) : (uint8_t)tu_next(r);
        if (kind == 6) sw_mpw_str(w, blob, n);
        else if (kind == 7) sw_mpw_bin(w, blob, n);
        else {
            static const uint32_t fix[] = {1, 2, 4, 8, 16};
            if (tu_below(r, 2)) n = fix[tu_below(r, 5)];
            sw_mpw_ext(w, (int8_t)tu_below(r, 128), blob, n);
        }
        break;
    }
    case 9: case 10: {
        uint32_t n = tu_below(r, 4) == 0 ? tu_below(r, 20) : tu_below(r, 5);
        sw_mpw_array(w, n);
        for (uint32_t k = 0; k < n; k++)
            tu_gen_item(r, w, depth - 1);
        break;
    }
    default: {
        uint32_t n = tu_below(r, 18);
        sw_mpw_map(w, n);
        for (uint32_t k = 0; k < n; k++) {
            tu_gen_item(r, w, tu_below(r, 3) ? 0 : depth - 1); // keys of any type
            tu_gen_item(r, w, depth - 1);
        }
        break;
    }
    }
}

#endif
