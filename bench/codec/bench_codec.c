// Codec benchmark, C side: messages encoded + decoded per second with the swarm MsgPack core
// versus msgpack-c (libmsgpack-dev 4.0, its C API), on the representative messages of
// bench/codec/README: encode the message from values, then decode it and touch every field.
//
//   ours          sw_mpw_* into a caller buffer; sw_mpr_* typed reads (zero copy)
//   msgpack-c     msgpack_pack_* into an sbuffer (cleared, not freed, between messages);
//                 msgpack_unpack_next() into a msgpack_unpacked, whose zone it allocates and
//                 frees on every message (the library's documented one-shot API)
//   msgpack-c/zr  the same, but decoding with msgpack_unpack() into one zone that is only
//                 cleared between messages (msgpack-c's cheapest C path; informative)
//
// Usage: bench_codec [-t SECONDS_PER_RUN] [-n RUNS] [-p IMPL:MSG [-c COUNT]]
//   -p runs only that pair (for perf), e.g. -p ours:cfg_reply; with -c exactly COUNT messages
//   (for callgrind: instructions per message = total / COUNT, after subtracting -c 0)
// Output, one fact a line (bench/codec/run reads it):
//   bytes <msg> <hex>           the encoding (identical for every implementation, checked)
//   ops <msg> <impl> <ops/s>    best of RUNS runs of SECONDS (thread CPU time) each; runs
//                               interleave the codecs
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>

#include "swarm/mp.h"

static volatile uint64_t sink; // keeps every decoded value alive

// CPU time of this thread, not wall time: on a shared machine a descheduled bench loses wall
// time but not CPU time, so rates per CPU-second vary far less with the load of others.
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_codec: %s\n", what);
    exit(1);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// The messages' values. `seq` varies per message (1..64, so the encoding size is constant).

static const char *const ping_m = "x";
static const char *const reply_d = "R:x";
static uint8_t file_data[512];
enum { FILE_FD = 3, FILE_OFF = 4096 };

// {"d": {config section}, "i": seq} — a config read of a node, nested three deep
static const char *const cfg_name = "node-17", *const cfg_addr = "169.254.10.2";
static const char *const cfg_node = "bench-node";
enum { CFG_PORT = 27587, CFG_RATE = 115200, CFG_FRAME = 133, CFG_TIMEOUT = 1000,
       CFG_WDT_T = 10000, CFG_PIN = 13 };
static const int cfg_on[2] = {100, 900}, cfg_ver[3] = {0, 1, 0};

typedef enum { M_PING, M_REPLY, M_CFG, M_FILE, M_COUNT } msg_t;
static const char *const msg_name[M_COUNT] = {"ping_req", "ping_reply", "cfg_reply", "file_write"};

//////////////////////////////////////////////////////////////////////////////////////////////
// ours

static void ours_str(sw_mpw_t *w, const char *s) { sw_mpw_str(w, s, strlen(s)); }

static size_t ours_encode(msg_t m, uint8_t *buf, size_t cap, int64_t seq)
{
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    switch (m) {
    case M_PING:
        sw_mpw_map(&w, 3);
        ours_str(&w, "a"); ours_str(&w, "ping");
        ours_str(&w, "d"); sw_mpw_map(&w, 1); ours_str(&w, "m"); ours_str(&w, ping_m);
        ours_str(&w, "i"); sw_mpw_int(&w, seq);
        break;
    case M_REPLY:
        sw_mpw_map(&w, 2);
        ours_str(&w, "d"); ours_str(&w, reply_d);
        ours_str(&w, "i"); sw_mpw_int(&w, seq);
        break;
    case M_CFG:
        sw_mpw_map(&w, 2);
        ours_str(&w, "d"); sw_mpw_map(&w, 5);
        ours_str(&w, "net"); sw_mpw_map(&w, 4);
        ours_str(&w, "name"); ours_str(&w, cfg_name);
        ours_str(&w, "addr"); ours_str(&w, cfg_addr);
        ours_str(&w, "port"); sw_mpw_int(&w, CFG_PORT);
        ours_str(&w, "dhcp"); sw_mpw_bool(&w, true);
        ours_str(&w, "link"); sw_mpw_map(&w, 4);
        ours_str(&w, "rate"); sw_mpw_int(&w, CFG_RATE);
        ours_str(&w, "lossy"); sw_mpw_bool(&w, false);
        ours_str(&w, "frame"); sw_mpw_int(&w, CFG_FRAME);
        ours_str(&w, "timeout"); sw_mpw_int(&w, CFG_TIMEOUT);
        ours_str(&w, "apps"); sw_mpw_map(&w, 2);
        ours_str(&w, "wdt"); sw_mpw_map(&w, 2);
        ours_str(&w, "t"); sw_mpw_int(&w, CFG_WDT_T);
        ours_str(&w, "s"); sw_mpw_bool(&w, true);
        ours_str(&w, "blink"); sw_mpw_map(&w, 2);
        ours_str(&w, "pin"); sw_mpw_int(&w, CFG_PIN);
        ours_str(&w, "on"); sw_mpw_array(&w, 2);
        sw_mpw_int(&w, cfg_on[0]); sw_mpw_int(&w, cfg_on[1]);
        ours_str(&w, "name"); ours_str(&w, cfg_node);
        ours_str(&w, "ver"); sw_mpw_array(&w, 3);
        for (int k = 0; k < 3; k++)
            sw_mpw_int(&w, cfg_ver[k]);
        ours_str(&w, "i"); sw_mpw_int(&w, seq);
        break;
    default:
        sw_mpw_map(&w, 3);
        ours_str(&w, "a"); sw_mpw_array(&w, 2); ours_str(&w, "f"); ours_str(&w, "wr");
        ours_str(&w, "d"); sw_mpw_map(&w, 3);
        ours_str(&w, "f"); sw_mpw_int(&w, FILE_FD);
        ours_str(&w, "d"); sw_mpw_bin(&w, file_data, sizeof file_data);
        ours_str(&w, "o"); sw_mpw_int(&w, FILE_OFF);
        ours_str(&w, "i"); sw_mpw_int(&w, seq);
        break;
    }
    if (w.err)
        die("ours: encode failed");
    return w.len;
}

static bool span_is(sw_span_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && memcmp(s.p, lit, n) == 0;
}

static uint64_t fold_span(sw_span_t s) { return s.n + (s.n ? s.p[0] + s.p[s.n - 1] : 0); }

// Generic walk (config reply): every item read, every scalar folded into the result.
static uint64_t ours_walk(sw_mpr_t *r)
{
    uint64_t acc = 0;
    sw_mp_obj_t o;
    do {
        if (sw_mpr_next(r, &o))
            return 0;
        switch (o.type) {
        case SW_MP_BOOL: acc += o.v.b; break;
        case SW_MP_UINT: acc += o.v.u; break;
        case SW_MP_INT: acc += (uint64_t)o.v.i; break;
        case SW_MP_STR: case SW_MP_BIN: acc += fold_span((sw_span_t){o.v.p, o.len}); break;
        default: acc += o.len; break;
        }
    } while (r->depth);
    return acc;
}

// Specific decoders (the others): keys matched, values read typed, unknown keys skipped.
static uint64_t ours_decode(msg_t m, const uint8_t *buf, size_t n)
{
    sw_mpr_t r;
    sw_mpr_init(&r, buf, n);
    if (m == M_CFG) {
        uint64_t v = ours_walk(&r);
        return sw_mpr_done(&r) ? v : 0;
    }
    uint32_t pairs, inner;
    sw_span_t key, a = {0}, a2 = {0}, s = {0};
    int64_t seq = -1, fd = -1, off = -1;
    if (!sw_mpr_map(&r, &pairs))
        return 0;
    for (uint32_t k = 0; k < pairs && !r.err; k++) {
        sw_mpr_str(&r, &key);
        if (span_is(key, "i")) {
            sw_mpr_int(&r, &seq);
        } else if (span_is(key, "a")) {
            if (sw_mpr_peek(&r) == SW_MP_STR) {
                sw_mpr_str(&r, &a);
            } else if (sw_mpr_array(&r, &inner) && inner == 2) {
                sw_mpr_str(&r, &a);
                sw_mpr_str(&r, &a2);
            } else {
                return 0;
            }
        } else if (span_is(key, "d") && m == M_REPLY) {
            sw_mpr_str(&r, &s);
        } else if (span_is(key, "d") && sw_mpr_map(&r, &inner)) {
            for (uint32_t j = 0; j < inner && !r.err; j++) {
                sw_mpr_str(&r, &key);
                if (span_is(key, "m"))
                    sw_mpr_str(&r, &s);
                else if (span_is(key, "d"))
                    sw_mpr_bin(&r, &s);
                else if (span_is(key, "f"))
                    sw_mpr_int(&r, &fd);
                else if (span_is(key, "o"))
                    sw_mpr_int(&r, &off);
                else
                    sw_mpr_skip(&r);
            }
        } else {
            sw_mpr_skip(&r);
        }
    }
    if (!sw_mpr_done(&r))
        return 0;
    return fold_span(a) + fold_span(a2) + fold_span(s) + (uint64_t)(seq + fd + off);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// msgpack-c

static void mc_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void mc_encode(msg_t m, msgpack_sbuffer *sb, int64_t seq)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    switch (m) {
    case M_PING:
        msgpack_pack_map(&pk, 3);
        mc_str(&pk, "a"); mc_str(&pk, "ping");
        mc_str(&pk, "d"); msgpack_pack_map(&pk, 1); mc_str(&pk, "m"); mc_str(&pk, ping_m);
        mc_str(&pk, "i"); msgpack_pack_int64(&pk, seq);
        break;
    case M_REPLY:
        msgpack_pack_map(&pk, 2);
        mc_str(&pk, "d"); mc_str(&pk, reply_d);
        mc_str(&pk, "i"); msgpack_pack_int64(&pk, seq);
        break;
    case M_CFG:
        msgpack_pack_map(&pk, 2);
        mc_str(&pk, "d"); msgpack_pack_map(&pk, 5);
        mc_str(&pk, "net"); msgpack_pack_map(&pk, 4);
        mc_str(&pk, "name"); mc_str(&pk, cfg_name);
        mc_str(&pk, "addr"); mc_str(&pk, cfg_addr);
        mc_str(&pk, "port"); msgpack_pack_int64(&pk, CFG_PORT);
        mc_str(&pk, "dhcp"); msgpack_pack_true(&pk);
        mc_str(&pk, "link"); msgpack_pack_map(&pk, 4);
        mc_str(&pk, "rate"); msgpack_pack_int64(&pk, CFG_RATE);
        mc_str(&pk, "lossy"); msgpack_pack_false(&pk);
        mc_str(&pk, "frame"); msgpack_pack_int64(&pk, CFG_FRAME);
        mc_str(&pk, "timeout"); msgpack_pack_int64(&pk, CFG_TIMEOUT);
        mc_str(&pk, "apps"); msgpack_pack_map(&pk, 2);
        mc_str(&pk, "wdt"); msgpack_pack_map(&pk, 2);
        mc_str(&pk, "t"); msgpack_pack_int64(&pk, CFG_WDT_T);
        mc_str(&pk, "s"); msgpack_pack_true(&pk);
        mc_str(&pk, "blink"); msgpack_pack_map(&pk, 2);
        mc_str(&pk, "pin"); msgpack_pack_int64(&pk, CFG_PIN);
        mc_str(&pk, "on"); msgpack_pack_array(&pk, 2);
        msgpack_pack_int64(&pk, cfg_on[0]); msgpack_pack_int64(&pk, cfg_on[1]);
        mc_str(&pk, "name"); mc_str(&pk, cfg_node);
        mc_str(&pk, "ver"); msgpack_pack_array(&pk, 3);
        for (int k = 0; k < 3; k++)
            msgpack_pack_int64(&pk, cfg_ver[k]);
        mc_str(&pk, "i"); msgpack_pack_int64(&pk, seq);
        break;
    default:
        msgpack_pack_map(&pk, 3);
        mc_str(&pk, "a"); msgpack_pack_array(&pk, 2); mc_str(&pk, "f"); mc_str(&pk, "wr");
        mc_str(&pk, "d"); msgpack_pack_map(&pk, 3);
        mc_str(&pk, "f"); msgpack_pack_int64(&pk, FILE_FD);
        mc_str(&pk, "d"); msgpack_pack_bin(&pk, sizeof file_data);
        msgpack_pack_bin_body(&pk, file_data, sizeof file_data);
        mc_str(&pk, "o"); msgpack_pack_int64(&pk, FILE_OFF);
        mc_str(&pk, "i"); msgpack_pack_int64(&pk, seq);
        break;
    }
}

static bool mo_is(const msgpack_object *o, const char *lit)
{
    size_t n = strlen(lit);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, lit, n) == 0;
}

static uint64_t mo_fold(const char *p, size_t n)
{
    return n + (n ? (uint8_t)p[0] + (uint8_t)p[n - 1] : 0);
}

static bool mo_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return false;
    return true;
}

static uint64_t mo_walk(const msgpack_object *o)
{
    uint64_t acc = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN: return o->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return (uint64_t)o->via.i64;
    case MSGPACK_OBJECT_STR: return mo_fold(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return mo_fold(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        acc = o->via.array.size;
        for (uint32_t k = 0; k < o->via.array.size; k++)
            acc += mo_walk(&o->via.array.ptr[k]);
        return acc;
    case MSGPACK_OBJECT_MAP:
        acc = o->via.map.size;
        for (uint32_t k = 0; k < o->via.map.size; k++)
            acc += mo_walk(&o->via.map.ptr[k].key) + mo_walk(&o->via.map.ptr[k].val);
        return acc;
    default: return 0;
    }
}

// Same extraction as ours_decode, over msgpack-c's object tree.
static uint64_t mc_extract(msg_t m, const msgpack_object *top)
{
    if (m == M_CFG)
        return mo_walk(top);
    if (top->type != MSGPACK_OBJECT_MAP)
        return 0;
    const char *a = NULL, *a2 = NULL, *s = NULL;
    size_t an = 0, a2n = 0, sn = 0;
    int64_t seq = -1, fd = -1, off = -1;
    for (uint32_t k = 0; k < top->via.map.size; k++) {
        const msgpack_object *key = &top->via.map.ptr[k].key, *val = &top->via.map.ptr[k].val;
        if (mo_is(key, "i")) {
            if (!mo_int(val, &seq))
                return 0;
        } else if (mo_is(key, "a")) {
            if (val->type == MSGPACK_OBJECT_STR) {
                a = val->via.str.ptr, an = val->via.str.size;
            } else if (val->type == MSGPACK_OBJECT_ARRAY && val->via.array.size == 2
                       && val->via.array.ptr[0].type == MSGPACK_OBJECT_STR
                       && val->via.array.ptr[1].type == MSGPACK_OBJECT_STR) {
                a = val->via.array.ptr[0].via.str.ptr, an = val->via.array.ptr[0].via.str.size;
                a2 = val->via.array.ptr[1].via.str.ptr, a2n = val->via.array.ptr[1].via.str.size;
            } else {
                return 0;
            }
        } else if (mo_is(key, "d") && m == M_REPLY) {
            if (val->type != MSGPACK_OBJECT_STR)
                return 0;
            s = val->via.str.ptr, sn = val->via.str.size;
        } else if (mo_is(key, "d") && val->type == MSGPACK_OBJECT_MAP) {
            for (uint32_t j = 0; j < val->via.map.size; j++) {
                const msgpack_object *k2 = &val->via.map.ptr[j].key, *v2 = &val->via.map.ptr[j].val;
                if (mo_is(k2, "m") && v2->type == MSGPACK_OBJECT_STR)
                    s = v2->via.str.ptr, sn = v2->via.str.size;
                else if (mo_is(k2, "d") && v2->type == MSGPACK_OBJECT_BIN)
                    s = v2->via.bin.ptr, sn = v2->via.bin.size;
                else if (mo_is(k2, "f") && !mo_int(v2, &fd))
                    return 0;
                else if (mo_is(k2, "o") && !mo_int(v2, &off))
                    return 0;
            }
        }
    }
    return mo_fold(a, an) + mo_fold(a2, a2n) + mo_fold(s, sn) + (uint64_t)(seq + fd + off);
}

static uint64_t mc_decode(msg_t m, msgpack_unpacked *u, const char *buf, size_t n)
{
    size_t off = 0;
    if (msgpack_unpack_next(u, buf, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n)
        return 0;
    return mc_extract(m, &u->data);
}

static uint64_t mc_decode_zone(msg_t m, msgpack_zone *z, const char *buf, size_t n)
{
    size_t off = 0;
    msgpack_object obj;
    msgpack_zone_clear(z);
    if (msgpack_unpack(buf, n, &off, z, &obj) != MSGPACK_UNPACK_SUCCESS || off != n)
        return 0;
    return mc_extract(m, &obj);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Driver

typedef enum { I_OURS, I_MC, I_MCZ, I_COUNT } impl_t;
static const char *const impl_name[I_COUNT] = {"ours", "msgpack-c", "msgpack-c/zr"};

static uint8_t obuf[4096];
static msgpack_sbuffer sb;
static msgpack_unpacked unp;
static msgpack_zone zone;

// One message: encode from values, decode, touch. Returns the fold (0 = failure).
static uint64_t one(impl_t im, msg_t m, int64_t seq)
{
    switch (im) {
    case I_OURS: {
        size_t n = ours_encode(m, obuf, sizeof obuf, seq);
        return ours_decode(m, obuf, n);
    }
    case I_MC:
        mc_encode(m, &sb, seq);
        return mc_decode(m, &unp, sb.data, sb.size);
    default:
        mc_encode(m, &sb, seq);
        return mc_decode_zone(m, &zone, sb.data, sb.size);
    }
}

static double measure(impl_t im, msg_t m, double seconds)
{
    uint64_t ops = 0, acc = 0;
    double t0 = now_s(), t;
    do {
        for (int k = 0; k < 1000; k++, ops++)
            acc += one(im, m, 1 + (int64_t)(ops & 63));
        t = now_s();
    } while (t - t0 < seconds);
    sink += acc;
    return (double)ops / (t - t0);
}

int main(int argc, char **argv)
{
    double seconds = 0.2;
    int runs = 5;
    const char *only = NULL;
    long count = -1;
    for (int k = 1; k < argc; k += 2) {
        if (k + 1 < argc && !strcmp(argv[k], "-t"))
            seconds = atof(argv[k + 1]);
        else if (k + 1 < argc && !strcmp(argv[k], "-n"))
            runs = atoi(argv[k + 1]);
        else if (k + 1 < argc && !strcmp(argv[k], "-p"))
            only = argv[k + 1];
        else if (k + 1 < argc && !strcmp(argv[k], "-c"))
            count = atol(argv[k + 1]);
        else
            die("usage: bench_codec [-t SECONDS_PER_RUN] [-n RUNS] [-p IMPL:MSG [-c COUNT]]");
    }
    for (size_t k = 0; k < sizeof file_data; k++)
        file_data[k] = (uint8_t)(k * 7 + 1);
    msgpack_sbuffer_init(&sb);
    msgpack_unpacked_init(&unp);
    if (!msgpack_zone_init(&zone, MSGPACK_ZONE_CHUNK_SIZE))
        die("msgpack_zone_init failed");

    // Every implementation must produce the same bytes and the same decoded values.
    for (msg_t m = 0; m < M_COUNT; m++) {
        size_t n = ours_encode(m, obuf, sizeof obuf, 1);
        mc_encode(m, &sb, 1);
        if (sb.size != n || memcmp(sb.data, obuf, n) != 0)
            die("ours and msgpack-c encode differently");
        uint64_t want = one(I_OURS, m, 1);
        if (!want || one(I_MC, m, 1) != want || one(I_MCZ, m, 1) != want)
            die("decoded values differ between implementations");
        n = ours_encode(m, obuf, sizeof obuf, 1);
        printf("bytes %s ", msg_name[m]);
        for (size_t k = 0; k < n; k++)
            printf("%02x", obuf[k]);
        printf("\n");
    }
    fflush(stdout);

    if (only) {
        for (msg_t m = 0; m < M_COUNT; m++)
            for (impl_t im = 0; im < I_COUNT; im++) {
                char pair[64];
                snprintf(pair, sizeof pair, "%s:%s", impl_name[im], msg_name[m]);
                if (strcmp(pair, only))
                    continue;
                if (count < 0) {
                    printf("ops %s %s %.0f\n", msg_name[m], impl_name[im], measure(im, m, seconds));
                    continue;
                }
                uint64_t acc = 0;
                for (long c = 0; c < count; c++)
                    acc += one(im, m, 1 + (c & 63));
                sink += acc;
            }
        return 0;
    }

    double best[M_COUNT][I_COUNT] = {{0}};
    for (int run = 0; run < runs; run++)
        for (msg_t m = 0; m < M_COUNT; m++)
            for (impl_t im = 0; im < I_COUNT; im++) {
                double r = measure(im, m, seconds);
                if (r > best[m][im])
                    best[m][im] = r;
            }
    for (msg_t m = 0; m < M_COUNT; m++)
        for (impl_t im = 0; im < I_COUNT; im++)
            printf("ops %s %s %.0f\n", msg_name[m], impl_name[im], best[m][im]);

    msgpack_zone_destroy(&zone);
    msgpack_unpacked_destroy(&unp);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
