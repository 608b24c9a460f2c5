// The two pieces of the authenticated mode's serial framing that both ends share (node:
// src/node/auth.c, host: src/host/hsec.c), kept apart so they are fuzzed on their own
// (tests/fuzz/fuzz_noise_line.c):
//   - on a lossless line, finding a 4-byte mark (the preamble SW_NOISE_PREAMBLE, the node's
//     answer SW_NOISE_LINE_LOCKED / _OPEN) in a byte stream that arrives in pieces;
//   - on a lossy line, the MsgPack bin item (bin 8 / bin 16) that carries one Noise frame per
//     Reliable message.
#ifndef SW_NOISE_LINE_H
#define SW_NOISE_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A 4-byte mark as the big-endian word the hunt compares with ("\xc1SN1" → 0xc1534e31).
static inline uint32_t sw_noise_mark_word(const char *m)
{
    const uint8_t *b = (const uint8_t *)m;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

// Scans p[0..n) for the first of nmarks (1 or 2) words, *win holding the last 4 bytes seen
// (start it at 0; it carries a mark cut across two reads). Returns how many bytes of p were
// used up to and including the mark's last byte (1..n), with *which the index of the mark and
// *before the bytes of p ahead of the mark (what an earlier session sent; the part of the mark
// that was in an earlier read is not among them); 0 if no mark ends in p (all n bytes seen).
size_t sw_noise_line_hunt(uint32_t *win, const uint8_t *p, size_t n, const uint32_t *marks,
                          unsigned nmarks, unsigned *which, size_t *before);

// Largest bin header: 0xc5 and a 2-byte length.
#define SW_NOISE_BIN_HDR 3

// Writes p[0..n) as a MsgPack bin item into out (cap bytes). Returns its length, or 0 if n is
// over 65535 or it does not fit.
size_t sw_noise_bin_wrap(uint8_t *out, size_t cap, const uint8_t *p, size_t n);
// The body of a message that is exactly one bin 8 / bin 16 item: true and *body, *len; false
// for anything else (another type, a length that does not match the message's).
bool sw_noise_bin_unwrap(const uint8_t *p, size_t n, const uint8_t **body, size_t *len);

#endif
