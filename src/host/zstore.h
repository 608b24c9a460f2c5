// Compressed streams of a push's files kept between commands (src/host/zstore.c), so that a
// push of files that did not change does not deflate them again: by the file's SHA-256 and
// the device's inflate window and ratio, in $XDG_CACHE_HOME/swarm/z/ (the file cache's folder,
// fcache.h; off when it is). A file that did not compress is kept as an empty entry ("send it
// plain"). A stream read back is inflated once to check it (its size, its Adler-32, the
// ratio bound) before it is used; one that fails is deleted and made again. At most
// SW_ZSTORE_MAX entries: beyond that the least recently used half goes.
#ifndef SW_HOST_ZSTORE_H
#define SW_HOST_ZSTORE_H

#include <stddef.h>
#include <stdint.h>

#define SW_ZSTORE_MAX 2048

// The entry of a file of size bytes: 1 with the stream in *out (malloc'd, the caller frees it)
// and *out_n, 2 when it goes plain, 0 when there is none (or the cache is off).
int sw_zstore_get(const uint8_t sha256[32], int wbits, uint32_t ratio, uint64_t size, uint8_t **out,
                  size_t *out_n);
// Keeps the stream c[0..cn) of that file (cn 0: it goes plain). Failures are silent.
void sw_zstore_put(const uint8_t sha256[32], int wbits, uint32_t ratio, const uint8_t *c, size_t cn);
// Entries used so far, and entries found damaged (deleted, made again), for -v.
void sw_zstore_stats(unsigned *hits, unsigned *bad);

#endif
