// The POSIX port's inflate (port.h zin_*): zlib's inflate on one zlib stream, window at most
// 2^wbits. The node bounds what goes in and out (src/node/zin.c); this file only adapts zlib:
// its state (about 7 KiB plus the window) comes from zlib's own allocator, freed at zin_close.
#define _GNU_SOURCE
#include <stdlib.h>
#include <zlib.h>

#include "posix_int.h"

struct sw_zin {
    z_stream s;
};

int sw__posix_zin_open(void *ctx, int wbits, sw_zin_t **out)
{
    (void)ctx;
    *out = NULL;
    if (wbits < 9 || wbits > 15)
        return SW_EINVAL;
    sw_zin_t *z = calloc(1, sizeof *z);
    if (!z)
        return SW_EFULL;
    // a positive wbits: a zlib header is required, and one that declares a window larger
    // than 2^wbits is refused as corrupt ("invalid window size")
    if (inflateInit2(&z->s, wbits) != Z_OK) {
        free(z);
        return SW_EFULL;
    }
    *out = z;
    return 0;
}

int sw__posix_zin_run(void *ctx, sw_zin_t *z, const uint8_t *in, size_t *in_n, uint8_t *out,
                      size_t *out_n)
{
    (void)ctx;
    uInt ni = *in_n > UINT32_MAX ? UINT32_MAX : (uInt)*in_n;
    uInt no = *out_n > UINT32_MAX ? UINT32_MAX : (uInt)*out_n;
    z->s.next_in = (Bytef *)(uintptr_t)in; // zlib does not write through next_in
    z->s.avail_in = ni;
    z->s.next_out = out;
    z->s.avail_out = no;
    int rc = inflate(&z->s, Z_NO_FLUSH);
    *in_n = ni - z->s.avail_in;
    *out_n = no - z->s.avail_out;
    if (rc == Z_STREAM_END)
        return 1;
    if (rc == Z_OK || rc == Z_BUF_ERROR) // Z_BUF_ERROR: no progress possible, wants more
        return 0;
    return SW_EPROTO; // Z_DATA_ERROR, Z_NEED_DICT (a preset dictionary: we have none), Z_MEM_ERROR
}

void sw__posix_zin_close(void *ctx, sw_zin_t *z)
{
    (void)ctx;
    if (!z)
        return;
    inflateEnd(&z->s);
    free(z);
}
