// libFuzzer target for the JSON pull reader (src/core/json_read.c) and the discovery query
// (src/core/beacon.c), i.e. what a node does with any datagram that reaches its port 1139:
//  - the reader walks arbitrary bytes without breaking its invariants (depth, positions,
//    progress) and ends in a token stream or an error;
//  - text it accepts, re-written through the JSON writer, reads again, and a second rewrite
//    gives the same bytes (strings decode to valid UTF-8, numbers keep their value);
//  - sw_beacon_read_query classifies everything, and a query it accepts has the id that
//    sw_beacon_write_query writes back.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/beacon.h"
#include "swarm/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out1[1 << 18], out2[1 << 18], str[1 << 16];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_json: %s\n", what);
        abort();
    }
}

// Walks r, re-writing its tokens into w (w may be NULL). Returns the reader's result.
static int walk(const char *text, size_t n, sw_jw_t *w)
{
    sw_jr_t r;
    sw_jv_t v;
    sw_jr_init(&r, text, n);
    size_t tokens = 0, last_pos = 0;
    int depth = 0, rc;
    while ((rc = sw_jr_next(&r, &v)) == 0 && v.type != SW_JT_END) {
        check(++tokens <= n, "more tokens than bytes");
        check(r.pos > last_pos || v.type == SW_JT_END, "no progress");
        last_pos = r.pos;
        check(r.pos <= n && r.depth <= SW_JSON_MAX_DEPTH, "position or depth out of bounds");
        if (v.type == SW_JT_OBJ || v.type == SW_JT_ARR)
            depth++;
        else if (v.type == SW_JT_OBJ_END || v.type == SW_JT_ARR_END)
            depth--;
        check(depth == r.depth && v.depth == r.depth, "depth bookkeeping");
        switch (v.type) {
        case SW_JT_OBJ: if (w) sw_jw_obj_begin(w); break;
        case SW_JT_OBJ_END: if (w) sw_jw_obj_end(w); break;
        case SW_JT_ARR: if (w) sw_jw_arr_begin(w); break;
        case SW_JT_ARR_END: if (w) sw_jw_arr_end(w); break;
        case SW_JT_KEY:
        case SW_JT_STR: {
            check(v.p >= text && v.p + v.n <= text + n, "string outside the text");
            int k = sw_jv_str(&v, str, sizeof str);
            check(k == SW_EFULL || (k >= 0 && (size_t)k <= v.n), "decoded length");
            if (k >= 0)
                check(sw_jv_streq(&v, str) == (strlen(str) == (size_t)k), "streq disagrees with str");
            if (w && k >= 0) {
                if (v.type == SW_JT_KEY)
                    sw_jw_key(w, str, (size_t)k);
                else
                    sw_jw_str(w, str, (size_t)k);
            } else if (w) {
                w->err = SW_EFULL;
            }
            break;
        }
        case SW_JT_NUM:
            check(v.n > 0 && v.p >= text && v.p + v.n <= text + n, "number outside the text");
            if (w) {
                if (v.is_int) {
                    sw_jw_int(w, v.i);
                } else {
                    char num[400];
                    size_t k = v.n < sizeof num - 1 ? v.n : sizeof num - 1;
                    memcpy(num, v.p, k);
                    num[k] = 0;
                    sw_jw_double(w, strtod(num, NULL)); // big integers become doubles: fine
                }
            }
            break;
        case SW_JT_BOOL: if (w) sw_jw_bool(w, v.b); break;
        case SW_JT_NULL: if (w) sw_jw_null(w); break;
        default: check(false, "unknown token");
        }
    }
    check(rc == 0 || rc == SW_EPROTO || rc == SW_EDEPTH, "unexpected error code");
    check(rc != 0 || depth == 0, "ended with containers open");
    return rc;
}

static size_t g17(double d, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%.17g", d);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    sw_jw_t w1;
    sw_jw_init(&w1, out1, sizeof out1, 0);
    w1.fmt = g17;
    if (walk(text, size, &w1) == 0 && w1.err == 0) {
        sw_jw_t w2;
        sw_jw_init(&w2, out2, sizeof out2, 0);
        w2.fmt = g17;
        check(walk(out1, w1.len, &w2) == 0, "a rewrite does not read");
        check(w2.err == 0 && w2.len == w1.len && memcmp(out1, out2, w1.len) == 0,
              "a second rewrite differs");
    }

    sw_beacon_query_t q;
    int rc = sw_beacon_read_query(data, size, &q);
    check(rc == 0 || rc == SW_ENOENT || rc == SW_ETOOBIG || rc == SW_EPROTO || rc == SW_EDEPTH ||
          rc == SW_ETYPE, "query: unexpected error code");
    if (rc == 0) {
        char qb[64];
        int n = sw_beacon_write_query(qb, sizeof qb, q.id);
        sw_beacon_query_t q2;
        check(n > 0 && sw_beacon_read_query(qb, (size_t)n, &q2) == 0 && q2.id == q.id,
              "query: the id does not survive a write");
    }
    return 0;
}
