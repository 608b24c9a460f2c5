// Fuzz target: the node's bounded inflate of a compressed write (src/node/zin.c) on the POSIX
// port's zlib (src/port/posix/zin_posix.c). The first bytes choose the declared size, the
// piece size and whether the rest is fed as it is (garbage, bombs, truncations: whatever the
// fuzzer makes) or first deflated here (the success path, checked for an exact round trip).
// Checked on every run: the sink gets the plain bytes in order with no gap, never more than the
// declared size nor more than the ratio bound of the bytes fed, and nothing after an error;
// a stream that is complete has exactly the declared size.
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "posix_int.h"
#include "zin.h"

static const sw_port_ops_t ops = {
    .zin_open = sw__posix_zin_open,
    .zin_run = sw__posix_zin_run,
    .zin_close = sw__posix_zin_close,
};

typedef struct {
    uint64_t next;    // offset the next run must start at
    uint8_t *copy;    // what arrived (round-trip case), or NULL
    size_t cap;
    bool failed;      // feed returned an error: nothing may arrive any more
    int fail_at;      // make the sink fail at this call (0: never)
    int calls;
} sink_t;

static int sink(void *u, uint64_t off, const uint8_t *p, size_t n)
{
    sink_t *s = u;
    if (s->failed || off != s->next || n == 0)
        __builtin_trap();
    if (s->copy) {
        if (off + n > s->cap)
            __builtin_trap();
        memcpy(s->copy + off, p, n);
    }
    if (++s->calls == s->fail_at)
        return SW_EIO; // (not taken: the stream must count nothing of it)
    s->next += n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint8_t flags = data[0];
    size_t piece = 1 + (size_t)data[1] * 37;
    uint64_t declared = (uint64_t)data[2] << ((data[3] & 7) * 3);
    data += 4;
    size -= 4;
    const sw_port_t port = {&ops, NULL};
    uint8_t *stream = (uint8_t *)data, *made = NULL;
    size_t slen = size;
    sink_t s = {0};
    s.fail_at = (flags & 2) ? 1 + (flags >> 6) : 0;
    if ((flags & 1) && size) { // deflate the input: this must come back byte for byte
        uLongf cap = compressBound(size);
        made = malloc(cap);
        z_stream z = {0};
        int wb = 9 + (flags >> 4) % 4; // 9..12: what the node offers
        if (!made || deflateInit2(&z, (flags >> 2) & 3 ? 6 : 1, Z_DEFLATED, wb, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(made);
            return 0;
        }
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)size;
        z.next_out = made;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END)
            __builtin_trap();
        slen = z.total_out;
        deflateEnd(&z);
        stream = made;
        if (flags & 8)
            declared = size; // the honest declaration
        s.copy = malloc(size);
        s.cap = size;
    }
    sw_zw_t w;
    static uint8_t buf[SW_ZIN_BUF];
    if (sw_zw_open(&port, &w, declared)) {
        free(made);
        free(s.copy);
        return 0;
    }
    uint64_t fed = 0;
    int rc = 0;
    for (size_t at = 0; at < slen && !rc; at += piece) {
        size_t n = slen - at < piece ? slen - at : piece;
        rc = sw_zw_feed(&port, &w, at, stream + at, n, buf, (flags & 0x40) ? 17 : sizeof buf, sink, &s);
        if (rc != SW_ERANGE)
            fed += n;
        if (w.out != s.next || w.out > declared || w.out > fed * SW_ZIN_RATIO + SW_ZIN_SLACK)
            __builtin_trap();
        if (rc)
            s.failed = true;
    }
    if (rc && sw_zw_feed(&port, &w, w.in, (const uint8_t *)"x", 1, buf, sizeof buf, sink, &s) == 0)
        __builtin_trap(); // a dead stream takes nothing more
    if (sw_zw_complete(&w) && w.out != declared)
        __builtin_trap();
    if (s.copy && !rc && (flags & 8) && !s.fail_at) {
        // honest, ended: the whole input came back (unless the ratio bound refused it)
        if (!sw_zw_complete(&w) || memcmp(s.copy, data, size))
            __builtin_trap();
    }
    sw_zw_close(&port, &w);
    free(made);
    free(s.copy);
    return 0;
}
