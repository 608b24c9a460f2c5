// swarm transfer engine: the chunk size of a transfer over a lossy serial line (xchunk.c).
// A frame of S bytes arrives intact with probability (1 - p)^(8S) at a bit-error rate p, so
// big frames waste the line when bits flip and small ones waste it on overhead. The estimator
// is told, round after round, how many data frames went out (or came in) and how many of them
// were damaged, and picks the chunk n that maximises n / (n + H) * (1 - p)^(8(n + H)) (H: the
// bytes a frame carries besides file data). Pure arithmetic, no I/O: xfer.c feeds it the link's
// counters, the virtual-time test of test_rel a simulated line's.
#ifndef SW_HOST_XCHUNK_H
#define SW_HOST_XCHUNK_H

#include <stdbool.h>
#include <stdint.h>

// Bytes a data frame carries besides file data (SerialPacker 5, Reliable map about 10, the
// f.wr request or reply around the data, an ack frame's share), and the smallest chunk.
#define SW_XCHUNK_OVERHEAD 44.0
#define SW_XCHUNK_MIN 64u
// Answers per round (the first one ends sooner).
#define SW_XCHUNK_FIRST 4u
#define SW_XCHUNK_ROUND 8u
// A put's round also ends, before the next request is cut, once this many of its frames were
// damaged (sent again), so that the next request has a chunk that counts them. A chunk too
// large for the line (960 bytes after a lucky clean first round at 1e-4: 55 % damaged) went on
// for the 8 answers of a round otherwise, which such a line delivers slowly.
#define SW_XCHUNK_EARLY 2u

typedef struct sw_xchunk {
    uint32_t chunk;  // the chunk to use now, bytes
    uint32_t max;    // the largest
    bool ramp;       // no damage seen yet: the chunk doubles from half the largest, few
                     // requests out meanwhile (SW_XCHUNK_FIRST)
    double frames, bad; // counts of data frames and damaged ones (older rounds weigh less)
    double bits;        // bits those frames carried
} sw_xchunk_t;

// Starts an estimate for chunks of at most max bytes, from the frames the link carried before
// the data (the handshake, small requests and their answers): how many, and how many of them
// were damaged or sent again.
void sw__xchunk_start(sw_xchunk_t *c, uint32_t max, double frames, double bad);
// After a round of answers: data frames sent (put) or received (get) since the last round,
// and how many of them were damaged (put: sent again; get: dropped for a bad CRC or length).
void sw__xchunk_round(sw_xchunk_t *c, double frames, double bad);
// The best chunk (a multiple of 16, SW_XCHUNK_MIN..max) at bit-error rate p.
uint32_t sw__xchunk_best(double p, uint32_t max);

#endif
