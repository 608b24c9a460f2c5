// Bounded inflate of one compressed write (docs/PROTOCOL.md, "Compressed writes"): the pieces
// of a zlib stream go in as they arrive, the plain bytes go out to a sink in order through a
// small buffer; nothing holds a whole file. Bounds, checked while inflating, never after:
//  - the plain bytes never exceed the size declared at open (not one byte more is produced);
//  - plain bytes out <= SW_ZIN_RATIO x compressed bytes in + SW_ZIN_SLACK (a zip bomb stops at
//    once, and the work per message is bounded by its size);
//  - pieces come in order (offset = compressed bytes taken so far), nothing after the end.
// The decompressor is the port's (port.h zin_*). Used by the f app (fs_app.c).
#ifndef SW_NODE_ZIN_H
#define SW_NODE_ZIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarm/port.h"

#define SW_ZIN_WBITS 12           // the largest window accepted: 4 KiB (sys.info "z")
#define SW_ZIN_RATIO 64u          // plain bytes per compressed byte, at most (sys.info "zr")
#define SW_ZIN_SLACK (64u * 1024u) // plain bytes allowed beyond the ratio (small files)
#define SW_ZIN_BUF 2048u          // bytes of the output buffer (the caller's)

typedef struct sw_zw {
    sw_zin_t *z;       // the port's decompressor; NULL once ended or failed
    uint64_t declared; // plain size promised at open
    uint64_t in;       // compressed bytes taken
    uint64_t out;      // plain bytes produced
    bool end;          // the stream ended (check value matched)
} sw_zw_t;

// Receives plain bytes at offset off, in order. Returns 0 or a SW_E* error (which stops the feed).
typedef int (*sw_zw_sink_fn)(void *u, uint64_t off, const uint8_t *p, size_t n);

// Starts w. Returns 0, SW_EINVAL (no inflate on this port) or the port's error.
int sw_zw_open(const sw_port_t *port, sw_zw_t *w, uint64_t declared);
// Inflates one piece that starts at compressed offset off, with buf[cap] as scratch. Returns 0,
// SW_ERANGE (off is not the next offset), SW_EPROTO (corrupt, or data after the end),
// SW_ETOOBIG (beyond the declared size or the ratio), or the sink's error. After any error the
// stream is dead: every later feed fails with SW_EPROTO.
int sw_zw_feed(const sw_port_t *port, sw_zw_t *w, uint64_t off, const uint8_t *p, size_t n,
               uint8_t *buf, size_t cap, sw_zw_sink_fn sink, void *u);
// True when the stream ended with exactly the declared size.
bool sw_zw_complete(const sw_zw_t *w);
// True if this node takes compressed writes now: compiled in, the port inflates, and the
// config's files.inflate (default true) does not switch them off.
struct sw_node;
bool sw_zw_offered(const struct sw_node *n);
// Frees the decompressor (w may be half-done).
void sw_zw_close(const sw_port_t *port, sw_zw_t *w);

#endif
