// Compression of one file for a compressed write (docs/PROTOCOL.md, "Compressed writes"):
// a zlib stream (RFC 1950) with a window the device accepts, kept only when it is smaller and
// the device's inflate bounds will let it through.
#ifndef SW_HOST_ZPACK_H
#define SW_HOST_ZPACK_H

#include <stddef.h>
#include <stdint.h>

// Plain bytes a device allows beyond ratio x compressed bytes (the node's SW_ZIN_SLACK is
// 64 KiB; we keep half of it as a margin).
#define SW_ZPACK_SLACK (32u * 1024u)

// Compresses p[0..n) with zlib's window 2^wbits (9..15) at level 6. On 0, *out (malloc'd, the
// caller frees it) holds the stream and *out_n its length: smaller than n, and no prefix of it
// inflates to more than ratio x its length + SW_ZPACK_SLACK (the device refuses such a
// stream). Returns 1 when compression does not pay or would be refused (send the plain
// bytes), SW_EFULL when out of memory.
int sw_zpack(const uint8_t *p, size_t n, int wbits, uint32_t ratio, uint8_t **out, size_t *out_n);

// Checks a stream made by sw_zpack (one kept from an earlier push): it inflates to exactly n
// bytes, its Adler-32 holds, and no prefix inflates beyond ratio x its length + SW_ZPACK_SLACK.
// 1 when it does, 0 when not, SW_EFULL when out of memory.
int sw_zpack_check(const uint8_t *c, size_t cn, size_t n, uint32_t ratio);

#endif
