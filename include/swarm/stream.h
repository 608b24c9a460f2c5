// swarm lossless stream: MsgPack objects back to back, console bytes interleaved (TCP, USB
// CDC, pipes, Unix sockets). docs/PROTOCOL.md, "Lossless stream".
//
// Without a prefix, console bytes travel as top-level MsgPack integers: ASCII 0..127 as
// themselves (one byte each, as in MoaT), and — our extension — bytes 128..255 as uint8
// (0xCC xx), so UTF-8 console text never desynchronises the stream. A top-level integer is
// therefore never a message. With a prefix byte, every message is preceded by it and any byte
// outside prefix+object is console.
#ifndef SWARM_STREAM_H
#define SWARM_STREAM_H

#include "swarm/mp.h"
#include "swarm/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_STREAM_NO_PREFIX (-1)

typedef struct sw_stream_stats {
    uint32_t msgs;    // messages delivered
    uint32_t console; // console bytes delivered
    uint32_t toobig;  // oversize messages skipped
    uint32_t resync;  // partial messages forgotten (sw_stream_rx_resync)
} sw_stream_stats_t;

typedef struct sw_stream_rx {
    sw_mps_t split;   // gathers one object; its buffer bounds the message size
    int prefix;       // SW_STREAM_NO_PREFIX or the prefix byte 0..255
    bool in_msg;      // prefix mode: the prefix was seen, an object follows
    sw_stream_stats_t stats;
    // During a sink->msg call: the message's top-level map index when it was framed in place
    // (sw_mpr_skip_index; for sw_msg_decode_ix), else NULL. NULL outside the call.
    const sw_mp_index_t *index;
    sw_mp_index_t ix_;
} sw_stream_rx_t;

// buf/cap: storage for one message (the largest accepted), owned by the caller.
void sw_stream_rx_init(sw_stream_rx_t *rx, int prefix, void *buf, size_t cap);
// Feeds received bytes; calls sink->msg / sink->console / sink->drop (SW_ETOOBIG for an oversize
// message; SW_EPROTO for a top-level integer outside 0..255 without a prefix). Returns 0,
// or a sticky error (SW_EPROTO: a reserved byte; SW_EDEPTH) after which the stream is out of
// step and the link should be reset or closed.
int sw_stream_rx_feed(sw_stream_rx_t *rx, const uint8_t *p, size_t n, const sw_rx_sink_t *sink);
// The same, but stops once min(soft, n) bytes are consumed, at the end of whatever was being
// read there: an item that starts before `soft` and is whole in p[0..n) is taken whole, in
// place, rather than cut there and gathered by the splitter. For callers that feed in bounded
// steps (backpressure). *used = bytes consumed; the rest is for the next call.
int sw_stream_rx_feed_upto(sw_stream_rx_t *rx, const uint8_t *p, size_t n, size_t soft,
                           const sw_rx_sink_t *sink, size_t *used);

// Resynchronising mode, for byte links that can carry noise (serial lines; docs/PROTOCOL.md,
// "Lossless stream"): an item larger than the buffer is abandoned as soon as that is known and
// decoding restarts after its header (sw_mps_t strict mode), instead of following it.
void sw_stream_rx_set_resync(sw_stream_rx_t *rx, bool on);
// Forgets a partial message (the caller saw an idle gap inside it). True if one was pending.
bool sw_stream_rx_resync(sw_stream_rx_t *rx);

// Encodes console bytes for the wire (no-prefix mode: 0..127 as is, 128..255 as 0xCC xx;
// prefix mode: as is). Consumes as much of in[0..n) as fits into out and returns the bytes
// written; *used = input bytes consumed.
size_t sw_stream_encode_console(int prefix, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *used);

#ifdef __cplusplus
}
#endif
#endif
