// Fuzz target: the MsgPack reader, the map lookup and the splitter on arbitrary bytes. Whatever
// the reader accepts must re-encode to the same bytes; the splitter fed one byte at a time must
// find the same items as the reader.
#include <string.h>

#include "swarm/json.h"
#include "swarm/mp.h"

static uint8_t out[1 << 17];
static uint8_t store[4096];

// A map lookup through the public reader (what sw_mp_map_get must answer).
static int ref_map_get(const uint8_t *p, size_t n, const char *key, sw_span_t *val)
{
    sw_mpr_t r;
    sw_mpr_init(&r, p, n);
    if (sw_mpr_peek(&r) != SW_MP_MAP)
        return r.pos < r.n ? SW_ETYPE : SW_EPROTO;
    uint32_t pairs;
    if (!sw_mpr_map(&r, &pairs))
        return r.err;
    for (uint32_t k = 0; k < pairs; k++) {
        if (sw_mpr_peek(&r) == SW_MP_STR) {
            sw_mp_obj_t o;
            if (sw_mpr_next(&r, &o))
                return r.err;
            if (sw_mp_obj_streq(&o, key))
                return sw_mpr_span(&r, val);
        } else if (sw_mpr_skip(&r)) {
            return r.err;
        }
        if (sw_mpr_skip(&r))
            return r.err;
    }
    return SW_ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_mpr_t r;
    sw_mpw_t w;
    sw_mpr_init(&r, data, size);
    sw_mpw_init(&w, out, sizeof out);
    size_t good = 0;  // bytes of complete top-level items read
    size_t items = 0; // items read before the first error
    while (r.pos < r.n) {
        sw_mp_obj_t o;
        if (sw_mpr_next(&r, &o))
            break;
        sw_mpw_obj(&w, &o);
        items++;
        if (r.depth == 0)
            good = r.pos;
    }
    // Complete items that were read re-encode into items that read back the same way. (A
    // truncated re-encoding would fail the reader's count-vs-bytes check, so only whole ones.)
    if (!w.err && r.depth == 0) {
        sw_mpr_t again;
        sw_mpr_init(&again, out, w.len);
        for (size_t k = 0; k < items; k++) {
            sw_mp_obj_t o;
            if (sw_mpr_next(&again, &o))
                __builtin_trap();
        }
        if (again.pos != w.len)
            __builtin_trap();
    }

    // MsgPack → JSON on anything: no crash, output bounded and NUL-terminated.
    static char json[1 << 16];
    sw_jw_t jw;
    sw_jw_init(&jw, json, sizeof json, (int)(size & 3));
    (void)sw_jw_mp(&jw, data, size);
    if (jw.len >= sizeof json || json[jw.len] != 0)
        __builtin_trap();

    // The skipper (headers only) agrees with reading item by item: same error, same end, same
    // nesting (and, after a success, the same counts left), at every start of the first 64,
    // both at the top level and after a first item (inside it, when it is a container).
    for (size_t from = 0; from < size && from < 64; from++) {
        for (int pre = 0; pre < 2; pre++) {
            sw_mpr_t a, b;
            sw_mp_obj_t o;
            sw_mpr_init(&a, data + from, size - from);
            sw_mpr_init(&b, data + from, size - from);
            if (pre && (sw_mpr_next(&a, &o) || sw_mpr_next(&b, &o)))
                break;
            int ea = sw_mpr_skip(&a);
            uint8_t st = b.depth;
            int eb = sw_mpr_next(&b, &o);
            while (!eb && b.depth > st)
                eb = sw_mpr_next(&b, &o);
            if (ea != eb || a.pos != b.pos || a.depth != b.depth ||
                (!ea && memcmp(a.left, b.left, sizeof a.left[0] * a.depth) != 0))
                __builtin_trap();
        }
    }

    // sw_mp_map_get (an in-place fast path for fixmaps, then a reader) against a lookup
    // written with the public reader only: the same result, the same value span
    static const char *const keys[] = {"d", "m", "a", "", "ab"};
    for (size_t ki = 0; ki < sizeof keys / sizeof keys[0]; ki++) {
        sw_span_t va = {NULL, 0}, vb = {NULL, 0};
        int got = sw_mp_map_get(data, size, keys[ki], &va);
        int want = ref_map_get(data, size, keys[ki], &vb);
        if (got != want || (!got && (va.p != vb.p || va.n != vb.n)))
            __builtin_trap();
    }
    (void)sw_mp_check(data, size);

    sw_mps_t s;
    sw_mps_init(&s, store, sizeof store);
    size_t at = 0, found = 0;
    while (at < size) {
        size_t used;
        int rc = sw_mps_feed(&s, data + at, 1, &used);
        at += used;
        if (rc < 0 && rc != SW_ETOOBIG)
            break;
        if (rc == 1 || rc == SW_ETOOBIG)
            found = at;
        if (used == 0)
            break;
    }
    // every complete item the reader found, the splitter found too
    if (found < good)
        __builtin_trap();
    return 0;
}
