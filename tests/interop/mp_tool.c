// mp_tool: a command-line window onto the swarm MsgPack core, so an independent codec
// (python3-msgpack, driven by mp_interop.py) can check it byte for byte in both directions.
//
//   mp_tool recode          stdin items → each read with sw_mpr_next, written with sw_mpw_obj
//   mp_tool describe        stdin items → one canonical text line per top-level item
//   mp_tool split SEED      stdin fed to the splitter in random pieces → end offset of each item
//   mp_tool gen SEED COUNT  COUNT random items that python-msgpack can represent
//   mp_tool limits          the reader's bounds (max_depth N)
//
// Description grammar (mp_interop.py builds the same text from python objects):
//   nil | true | false | int:<decimal> | float:<16 hex: IEEE double bits> (float32 on the wire:
//   float32:<bits of the value widened to double>) | s:<hex of utf-8> | b:<hex> |
//   x<type>:<hex> | [item,item] | {key:value,key:value} (wire order)
// Input errors go to stderr as "mp_tool: <ERRNAME> at byte N" with exit status 1.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swarm/json.h"
#include "swarm/mp.h"

// Buffers live in globals so that LeakSanitizer (test build) stays quiet on error exits.
static uint8_t *g_in, *g_out;

static uint8_t *read_all(FILE *f, size_t *n)
{
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "mp_tool: out of memory\n");
            exit(2);
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        cap *= 2;
        uint8_t *more = realloc(buf, cap);
        if (!more)
            free(buf);
        buf = more;
    }
    *n = len;
    g_in = buf;
    return buf;
}

static int input_error(int err, size_t pos)
{
    fprintf(stderr, "mp_tool: %s at byte %zu\n", sw_errname(err), pos);
    return 1;
}

static void write_out(const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, stdout) != n) {
        perror("mp_tool: stdout");
        exit(2);
    }
}

static int cmd_recode(void)
{
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    // Canonical input keeps its size (smallest forms in, smallest forms out); the slack lets
    // a writer that grows items still finish, so the caller sees the difference itself.
    size_t cap = 2 * n + 64;
    uint8_t *out = g_out = malloc(cap);
    if (!out)
        return 2;
    sw_mpr_t r;
    sw_mpw_t w;
    sw_mpr_init(&r, in, n);
    sw_mpw_init(&w, out, cap);
    while (r.pos < r.n || r.depth) {
        sw_mp_obj_t o;
        size_t at = r.pos;
        if (sw_mpr_next(&r, &o))
            return input_error(r.err, at);
        sw_mpw_obj(&w, &o);
        if (w.err) {
            fprintf(stderr, "mp_tool: writer %s at input byte %zu\n", sw_errname(w.err), at);
            return 1;
        }
    }
    write_out(out, w.len);
    return 0;
}

static void put_hex(FILE *f, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        putc(digits[p[k] >> 4], f);
        putc(digits[p[k] & 15], f);
    }
}

static void describe_scalar(FILE *f, const sw_mp_obj_t *o)
{
    uint64_t bits;
    switch (o->type) {
    case SW_MP_NIL: fputs("nil", f); break;
    case SW_MP_BOOL: fputs(o->v.b ? "true" : "false", f); break;
    case SW_MP_UINT: fprintf(f, "int:%" PRIu64, o->v.u); break;
    case SW_MP_INT: fprintf(f, "int:%" PRId64, o->v.i); break;
    case SW_MP_FLOAT:
        memcpy(&bits, &o->v.f, sizeof bits);
        fprintf(f, "%s:%016" PRIx64, o->f32 ? "float32" : "float", bits);
        break;
    case SW_MP_STR: fputs("s:", f); put_hex(f, o->v.p, o->len); break;
    case SW_MP_BIN: fputs("b:", f); put_hex(f, o->v.p, o->len); break;
    case SW_MP_EXT: fprintf(f, "x%d:", o->ext); put_hex(f, o->v.p, o->len); break;
    case SW_MP_ARRAY: fputs("[]", f); break; // only empty containers get here
    case SW_MP_MAP: fputs("{}", f); break;
    default: fputs("?", f); break;
    }
}

// Iterative, with its own stack bounded like the reader's: a container is open until `done`
// reaches `total` (items, or 2 * pairs for a map).
static int cmd_describe(void)
{
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    struct { bool map; uint64_t total, done; } st[SW_MP_MAX_DEPTH + 1];
    int top = -1;
    sw_mpr_t r;
    sw_mpr_init(&r, in, n);
    while (r.pos < r.n || top >= 0) {
        sw_mp_obj_t o;
        size_t at = r.pos;
        if (sw_mpr_next(&r, &o)) {
            fflush(stdout);
            return input_error(r.err, at);
        }
        if (top >= 0) {
            if (st[top].done)
                putchar(st[top].map && st[top].done % 2 ? ':' : ',');
            st[top].done++;
        }
        if ((o.type == SW_MP_ARRAY || o.type == SW_MP_MAP) && o.len) {
            if (top + 1 > SW_MP_MAX_DEPTH) // the reader refuses this first; belt and braces
                return input_error(SW_EDEPTH, at);
            top++;
            st[top].map = o.type == SW_MP_MAP;
            st[top].total = st[top].map ? 2 * (uint64_t)o.len : o.len;
            st[top].done = 0;
            putchar(st[top].map ? '{' : '[');
            continue;
        }
        describe_scalar(stdout, &o);
        while (top >= 0 && st[top].done == st[top].total) {
            putchar(st[top].map ? '}' : ']');
            top--;
        }
        if (top < 0)
            putchar('\n');
    }
    return 0;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Seeded PRNG (xorshift64*, as tests/unit/testutil.h) for split and gen.

static uint64_t rng_s;
static uint64_t rnd(void)
{
    rng_s ^= rng_s >> 12;
    rng_s ^= rng_s << 25;
    rng_s ^= rng_s >> 27;
    return rng_s * 2685821657736338717ull;
}
static uint32_t below(uint32_t n) { return n ? (uint32_t)(rnd() % n) : 0; }
static void seed(const char *s) { rng_s = strtoull(s, NULL, 0) * 0x9E3779B97F4A7C15ull + 1; }

// Feeds stdin through sw_mps_feed in pieces of 1..64 bytes (sometimes the whole rest) and
// prints the input offset at which each item ended; also checks that the gathered bytes are
// exactly that slice of the input.
static int cmd_split(const char *seedstr)
{
    seed(seedstr);
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    uint8_t *buf = g_out = malloc(n + 1);
    if (!buf)
        return 2;
    sw_mps_t s;
    sw_mps_init(&s, buf, n + 1);
    size_t pos = 0, start = 0;
    while (pos < n) {
        size_t piece = below(8) == 0 ? n - pos : 1 + below(64);
        if (piece > n - pos)
            piece = n - pos;
        size_t off = 0;
        while (off < piece) {
            size_t used = 0;
            int rc = sw_mps_feed(&s, in + pos + off, piece - off, &used);
            off += used;
            if (rc < 0)
                return input_error(rc, pos + off);
            if (rc == 1) {
                size_t end = pos + off;
                if (s.len != end - start || memcmp(s.buf, in + start, s.len) != 0) {
                    fprintf(stderr, "mp_tool: split item %zu..%zu gathered wrong bytes\n", start, end);
                    return 1;
                }
                printf("%zu\n", end);
                start = end;
            }
        }
        pos += piece;
    }
    if (sw_mps_busy(&s)) {
        fprintf(stderr, "mp_tool: split: input ends inside an item at byte %zu\n", start);
        return 1;
    }
    return 0;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Generator of items python-msgpack can represent: map keys are unique str or int (no
// duplicates, which a dict would merge; no bools, which a dict would equate with 0/1), strings
// are valid UTF-8, ext types avoid -1 (python turns it into a Timestamp).

static size_t budget; // containers and items still allowed in the current top-level item

static void gen_utf8(uint8_t *p, size_t n)
{
    // one code point of each UTF-8 length, or ASCII
    static const char *const wide[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xdf\xbf",
                                       "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xc2\x80"};
    size_t k = 0;
    while (k < n) {
        if (below(4) == 0) {
            const char *c = wide[below(sizeof wide / sizeof *wide)];
            size_t l = strlen(c);
            if (l <= n - k) {
                memcpy(p + k, c, l);
                k += l;
                continue;
            }
        }
        p[k++] = (uint8_t)(below(4) == 0 ? below(128) : ' ' + below(95));
    }
}

static size_t blob_len(bool ext)
{
    static const size_t edges[] = {0, 1, 2, 4, 8, 16, 31, 32, 255, 256, 65535, 65536};
    static const size_t ext_edges[] = {0, 1, 2, 3, 4, 5, 8, 15, 16, 17, 255, 256, 65535, 65536};
    if (below(32) == 0) {
        size_t len = ext ? ext_edges[below(sizeof ext_edges / sizeof *ext_edges)]
                         : edges[below(sizeof edges / sizeof *edges)];
        if (len < 1000 || below(8) == 0) // large blobs only now and then
            return len;
    }
    return below(4) == 0 ? below(300) : below(40);
}

static void gen_item(sw_mpw_t *w, int depth);

static void gen_key(sw_mpw_t *w)
{
    if (below(3)) {
        uint8_t s[40];
        size_t n = below(4) == 0 ? below(sizeof s) : 1 + below(6);
        gen_utf8(s, n);
        sw_mpw_str(w, s, n);
    } else {
        sw_mpw_int(w, below(2) ? (int64_t)below(200) - 40 : (int64_t)rnd() >> below(64));
    }
}

static void gen_float32(sw_mpw_t *w)
{
    // Quiet NaNs only: sw_mp_obj_t holds every float as a double, and widening a signalling
    // float32 NaN sets its quiet bit, so recode would turn ca 7f800001 into ca 7fc00001.
    static const uint32_t special[] = {0, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                       0xffc00001u, 0x00000001u, 0x007fffffu, 0x7f7fffffu, 0x3f800000u};
    uint32_t bits;
    if (below(4) == 0) {
        bits = special[below(sizeof special / sizeof *special)];
    } else {
        bits = (uint32_t)rnd();
        if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu))
            bits |= 0x00400000u; // make any NaN quiet
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    sw_mpw_f32(w, f);
}

static void gen_float64(sw_mpw_t *w)
{
    static const uint64_t special[] = {0, 0x8000000000000000ull, 0x7ff0000000000000ull,
                                       0xfff0000000000000ull, 0x7ff8000000000000ull,
                                       0x7ff0000000000001ull, 0x0000000000000001ull,
                                       0x7fefffffffffffffull, 0x3ff0000000000000ull};
    uint64_t bits = below(4) == 0 ? special[below(sizeof special / sizeof *special)] : rnd();
    double d;
    memcpy(&d, &bits, sizeof d);
    sw_mpw_f64(w, d);
}

static void gen_item(sw_mpw_t *w, int depth)
{
    static const int64_t edges[] = {0, 1, 31, 32, 127, 128, 255, 256, 65535, 65536, 0xffffffffll,
                                     0x100000000ll, -1, -32, -33, -128, -129, -32768, -32769,
                                     INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN + 1, INT64_MIN,
                                     INT64_MAX};
    static uint8_t blob[65536];
    if (budget)
        budget--;
    uint32_t kind = below(depth > 0 && budget ? 14 : 10);
    switch (kind) {
    case 0: sw_mpw_nil(w); break;
    case 1: sw_mpw_bool(w, below(2)); break;
    case 2:
        if (below(6) == 0)
            sw_mpw_uint(w, UINT64_MAX - below(2));
        else
            sw_mpw_int(w, edges[below(sizeof edges / sizeof *edges)]);
        break;
    case 3: sw_mpw_int(w, (int64_t)rnd() >> below(64)); break;
    case 4: sw_mpw_uint(w, rnd() >> below(64)); break;
    case 5: gen_float32(w); break;
    case 6: gen_float64(w); break;
    case 7: {
        size_t n = blob_len(false);
        gen_utf8(blob, n);
        sw_mpw_str(w, blob, n);
        break;
    }
    case 8: {
        size_t n = blob_len(false);
        for (size_t k = 0; k < n; k++)
            blob[k] = (uint8_t)rnd();
        sw_mpw_bin(w, blob, n);
        break;
    }
    case 9: {
        size_t n = blob_len(true);
        for (size_t k = 0; k < n; k++)
            blob[k] = (uint8_t)rnd();
        int type = (int)below(256) - 128;
        if (type == -1)
            type = below(2) ? 127 : -128;
        sw_mpw_ext(w, (int8_t)type, blob, n);
        break;
    }
    case 10: case 11: {
        uint32_t n = below(4) == 0 ? below(20) : below(5);
        sw_mpw_array(w, n);
        for (uint32_t k = 0; k < n; k++)
            gen_item(w, depth - 1);
        break;
    }
    default: {
        // keys: written, then compared with the earlier keys of this map (canonical encoding:
        // equal values have equal bytes); a duplicate is rewound and drawn again
        uint32_t n = below(4) == 0 ? below(20) : below(6);
        size_t keys[20][2]; // offset, length
        sw_mpw_map(w, n);
        for (uint32_t k = 0; k < n; k++) {
            for (;;) {
                size_t at = sw_mpw_mark(w);
                gen_key(w);
                size_t len = w->len - at;
                bool dup = false;
                for (uint32_t j = 0; j < k && !dup; j++)
                    dup = keys[j][1] == len && memcmp(w->buf + keys[j][0], w->buf + at, len) == 0;
                if (!dup || w->err) {
                    keys[k][0] = at;
                    keys[k][1] = len;
                    break;
                }
                sw_mpw_rewind(w, at);
            }
            gen_item(w, depth - 1);
        }
        break;
    }
    }
}

static int cmd_gen(const char *seedstr, const char *countstr)
{
    seed(seedstr);
    long count = strtol(countstr, NULL, 0);
    size_t cap = 8u << 20;
    uint8_t *buf = g_out = malloc(cap);
    if (!buf)
        return 2;
    for (long k = 0; k < count; k++) {
        sw_mpw_t w;
        sw_mpw_init(&w, buf, cap);
        budget = 400;
        gen_item(&w, 1 + (int)below(6));
        if (w.err) {
            fprintf(stderr, "mp_tool: gen: writer %s\n", sw_errname(w.err));
            return 1;
        }
        write_out(buf, w.len);
    }
    return 0;
}

static size_t fmt_g17(double v, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%.17g", v);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

// Each item on stdin → one line of JSON from the core's writer (src/core/json.c).
static int cmd_json(void)
{
    static char text[1 << 22];
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    sw_mpr_t r;
    sw_mpr_init(&r, in, n);
    while (r.pos < r.n) {
        size_t from = r.pos;
        if (sw_mpr_skip(&r)) {
            fprintf(stderr, "mp_tool: %s at byte %zu\n", sw_errname(r.err), from);
            return 1;
        }
        sw_jw_t w;
        sw_jw_init(&w, text, sizeof text, 0);
        w.fmt = fmt_g17;
        if (sw_jw_mp(&w, in + from, r.pos - from)) {
            fprintf(stderr, "mp_tool: json: %s at byte %zu\n", sw_errname(w.err), from);
            return 1;
        }
        fwrite(text, 1, w.len, stdout);
        fputc('\n', stdout);
    }
    return 0;
}

static int usage(void)
{
    fputs("usage: mp_tool recode | describe | json | split SEED | gen SEED COUNT | limits\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc == 2 && !strcmp(argv[1], "recode"))
        rc = cmd_recode();
    else if (argc == 2 && !strcmp(argv[1], "describe"))
        rc = cmd_describe();
    else if (argc == 2 && !strcmp(argv[1], "json"))
        rc = cmd_json();
    else if (argc == 3 && !strcmp(argv[1], "split"))
        rc = cmd_split(argv[2]);
    else if (argc == 4 && !strcmp(argv[1], "gen"))
        rc = cmd_gen(argv[2], argv[3]);
    else if (argc == 2 && !strcmp(argv[1], "limits")) {
        printf("max_depth %d\n", SW_MP_MAX_DEPTH);
        rc = 0;
    } else
        return usage();
    free(g_in);
    free(g_out);
    if (fflush(stdout) != 0) {
        perror("mp_tool: stdout");
        return 2;
    }
    return rc;
}
