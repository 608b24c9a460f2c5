// Compression of one file for a compressed write (zpack.h): zlib's deflate, then (for files
// larger than the slack) an inflate of the result in 256-byte steps to check the device's ratio
// bound on every prefix.
#include <stdlib.h>
#include <zlib.h>

#include "swarm/sw.h"
#include "zpack.h"

#define STEP 256u

// True if every prefix of c inflates within ratio (checked at STEP boundaries: the output after
// step j must fit the bound of the input before it, so any cut inside the step fits too).
static int fits_ratio(const uint8_t *c, size_t cn, size_t plain, uint32_t ratio)
{
    uint8_t *out = malloc(plain ? plain : 1);
    if (!out)
        return SW_EFULL;
    z_stream s = {0};
    if (inflateInit(&s) != Z_OK) {
        free(out);
        return SW_EFULL;
    }
    s.next_out = out;
    s.avail_out = (uInt)(plain ? plain : 1);
    size_t at = 0;
    int ok = 1, rc = Z_OK;
    while (ok && rc != Z_STREAM_END && at < cn) {
        size_t k = cn - at < STEP ? cn - at : STEP;
        s.next_in = (Bytef *)(uintptr_t)(c + at);
        s.avail_in = (uInt)k;
        rc = inflate(&s, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END)
            ok = 0;
        else if (s.total_out > (uint64_t)at * ratio + SW_ZPACK_SLACK)
            ok = 0;
        at += k - s.avail_in;
        if (rc == Z_OK && s.avail_in == k)
            ok = 0; // no progress: cannot happen on our own stream
    }
    ok = ok && rc == Z_STREAM_END && s.total_out == plain;
    inflateEnd(&s);
    free(out);
    return ok;
}

// True if a sample from the start of p compresses by at least 1/32 at the fastest level: a
// large file of compressed or random data is then not deflated whole for nothing.
static int sample_pays(const uint8_t *p, size_t n, int wbits)
{
    enum { SAMPLE = 64 * 1024 };
    if (n <= 2 * SAMPLE)
        return 1;
    z_stream s = {0};
    if (deflateInit2(&s, 1, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SW_EFULL;
    static uint8_t buf[SAMPLE + 1024];
    s.next_in = (Bytef *)(uintptr_t)p;
    s.avail_in = SAMPLE;
    s.next_out = buf;
    s.avail_out = sizeof buf;
    int rc = deflate(&s, Z_FINISH);
    size_t cn = s.total_out;
    deflateEnd(&s);
    return rc == Z_STREAM_END && cn + cn / 32 < SAMPLE;
}

int sw_zpack(const uint8_t *p, size_t n, int wbits, uint32_t ratio, uint8_t **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (wbits < 9 || wbits > 15 || !ratio || n < 64 || n > UINT32_MAX)
        return 1;
    int pays = sample_pays(p, n, wbits);
    if (pays != 1)
        return pays < 0 ? pays : 1;
    // zlib's memLevel sizes its hash table (2^(memLevel+7) heads, cleared for each stream and
    // slid with the window) and its symbol buffer (2^(memLevel+6): a block ends when it is
    // full). Text compresses to fewer symbols than half its bytes, so a buffer of n / 2 holds a
    // file in one block or two, and a table the size of the window (the device's: 4 KiB) finds
    // almost the same matches; the default 8 only costs time (clearing and sliding 32K heads)
    // on the small files most projects are made of. This repository's 275 sources and the
    // push bench's typical project: 15 bytes more in 1,043,589.
    int mem = wbits - 7 > 1 ? wbits - 7 : 1;
    while (mem < 8 && ((size_t)1 << (mem + 6)) * 2 < n)
        mem++;
    z_stream s = {0};
    if (deflateInit2(&s, 6, Z_DEFLATED, wbits, mem, Z_DEFAULT_STRATEGY) != Z_OK)
        return SW_EFULL;
    uLong cap = deflateBound(&s, (uLong)n);
    uint8_t *c = malloc(cap);
    if (!c) {
        deflateEnd(&s);
        return SW_EFULL;
    }
    s.next_in = (Bytef *)(uintptr_t)p;
    s.avail_in = (uInt)n;
    s.next_out = c;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    size_t cn = s.total_out;
    deflateEnd(&s);
    // keep it when it saves at least 1/32 (and a little): below that the device's work is wasted
    if (rc != Z_STREAM_END || cn + 32 + cn / 32 >= n) {
        free(c);
        return 1;
    }
    // A prefix inflates to at most the whole file: one within the slack fits every bound, so
    // the inflate is needed only for larger files (most of a project's files are small).
    int fit = n <= SW_ZPACK_SLACK ? 1 : fits_ratio(c, cn, n, ratio);
    if (fit != 1) {
        free(c);
        return fit < 0 ? fit : 1;
    }
    *out = c;
    *out_n = cn;
    return 0;
}

int sw_zpack_check(const uint8_t *c, size_t cn, size_t n, uint32_t ratio)
{
    if (!cn || !ratio)
        return 0;
    return fits_ratio(c, cn, n, ratio);
}
