// swarm receive sink: where byte-stream decoders (SerialPacker, the lossless stream) hand what
// they found — complete messages, console bytes between messages, and drops.
#ifndef SWARM_SINK_H
#define SWARM_SINK_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_rx_sink {
    // One complete message (frame payload / MsgPack object). p is valid only during the call.
    void (*msg)(void *ctx, const uint8_t *p, size_t n);
    // Console bytes that arrived outside messages, in order. May be NULL (bytes are dropped).
    void (*console)(void *ctx, const uint8_t *p, size_t n);
    // Something was dropped (SW_ECRC, SW_ETOOBIG, SW_ETIMEDOUT for an idle gap, SW_EPROTO).
    // May be NULL. Informational: the decoder has already recovered.
    void (*drop)(void *ctx, int err);
    void *ctx;
} sw_rx_sink_t;

#ifdef __cplusplus
}
#endif
#endif
