// swarm SerialPacker: frames for lossy serial lines (docs/PROTOCOL.md, "Serial, lossy").
//
//   [start][len: 1 or 2 bytes][payload][CRC-16 big-endian]
//
// start is 0xC1 by default (a byte MsgPack never uses), 0x85 or none (then frames are
// delimited by idle time only, and no console bytes are possible). The length takes two bytes,
// (len & 0x7F) | 0x80 then len >> 7, when max_frame > 255 and len > 127. The CRC is the
// reflected CRC-16 with constant 0xBAAD, processed a nibble at a time (high nibble first),
// init 0, no final xor, over the payload only: CRC("123456789") = 0xDC07.
// Bytes outside frames are console output and are passed through.
#ifndef SWARM_SP_H
#define SWARM_SP_H

#include "swarm/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_SP_START_DEFAULT 0xC1
#define SW_SP_START_NONE (-1)
#define SW_SP_MAX_FRAME_LIMIT 32767 // largest length the 2-byte form can express
#define SW_SP_OVERHEAD 5            // start + 2 length bytes + CRC, at most

typedef struct sw_sp_cfg {
    int start;          // start byte 0..255, or SW_SP_START_NONE (any other value acts as
                        // NONE). Default 0xC1.
    uint16_t max_frame; // largest payload in bytes, 1..32767. Default 127 (MoaT's limit).
                        // Above 255, payloads of 128+ bytes use the 2-byte length.
    uint16_t idle_ms;   // a gap of this many ms or more inside a frame drops it; without a start
                        // byte a gap also marks where the next frame begins. Default 100.
                        // 0 disables the timeout.
} sw_sp_cfg_t;

void sw_sp_cfg_default(sw_sp_cfg_t *c);

// CRC-16/0xBAAD over p[0..n), continuing from crc (start with 0).
uint16_t sw_crc16(uint16_t crc, const void *p, size_t n);

// Encoding. Whole frame into out: returns its length, or SW_ETOOBIG (payload empty or larger
// than max_frame), SW_EFULL (out too small: needs n + SW_SP_OVERHEAD at most).
int sw_sp_encode(const sw_sp_cfg_t *c, const void *payload, size_t n, uint8_t *out, size_t cap);
// Or without copying the payload: send hdr[0..k) with k = sw_sp_header(...), the payload, then
// the 2 trailer bytes. sw_sp_header returns 0 for an invalid payload length.
size_t sw_sp_header(const sw_sp_cfg_t *c, size_t n, uint8_t hdr[3]);
void sw_sp_trailer(const void *payload, size_t n, uint8_t tr[2]);

typedef struct sw_sp_stats {
    uint32_t frames;   // good frames delivered
    uint32_t err_crc;  // frames dropped for a CRC mismatch
    uint32_t err_len;  // frames dropped for a bad length (0 or > max_frame)
    uint32_t err_idle; // frames dropped because the line went idle inside them
    uint32_t console;  // console bytes passed through
} sw_sp_stats_t;

typedef struct sw_sp_rx {
    sw_sp_cfg_t cfg;
    uint8_t *buf;       // payload storage, owned by the caller, >= cfg.max_frame bytes
    uint8_t state;      // internal
    uint8_t utf8_left;  // console bytes still to pass through after a UTF-8 lead byte
    uint16_t need;      // payload length of the frame being received
    uint16_t len;       // payload bytes received so far
    uint16_t crc;       // CRC of the payload bytes received so far
    uint16_t crc_rx;    // received CRC bytes so far
    uint32_t last_ms;   // time of the last byte received
    sw_sp_stats_t stats;
} sw_sp_rx_t;

// cap must be >= cfg->max_frame (else max_frame is lowered to cap).
void sw_sp_rx_init(sw_sp_rx_t *rx, const sw_sp_cfg_t *cfg, void *buf, size_t cap);
// Feeds bytes that arrived at now_ms (ms, any origin, wraps). Calls sink->msg for each good
// frame, sink->console for runs of console bytes, sink->drop for each dropped frame.
void sw_sp_rx_feed(sw_sp_rx_t *rx, const uint8_t *p, size_t n, uint32_t now_ms, const sw_rx_sink_t *sink);
// Call when no bytes came for a while: drops a frame the line abandoned mid-way (so a later
// console byte is not taken as frame data). Safe to call at any time.
void sw_sp_rx_tick(sw_sp_rx_t *rx, uint32_t now_ms, const sw_rx_sink_t *sink);

#ifdef __cplusplus
}
#endif
#endif
