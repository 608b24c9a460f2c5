// swarm transfer engine: the adaptive chunk of a transfer over a lossy serial line (xchunk.h).
#include "xchunk.h"

// Weight of older rounds in the estimate.
#define KEEP 0.75
// The frames before the data: handshake and small requests, taken as this many bytes each.
#define CTL_BYTES 40.0

// Small numerics without libm (the host does not link it).
static double sqrt_pos(double v)
{
    if (v <= 0)
        return 0;
    double r = v > 1 ? v : 1;
    for (int i = 0; i < 64; i++) {
        double next = (r + v / r) / 2;
        if (next >= r)
            break;
        r = next;
    }
    return r;
}

// -ln(1 - q) for 0 <= q <= 0.95, as 2 atanh(q / (2 - q)).
static double neg_log1m(double q)
{
    double z = q / (2 - q), z2 = z * z, term = z, sum = 0;
    for (int k = 0; k < 200 && term > 1e-12; k++, term *= z2)
        sum += term / (2 * k + 1);
    return 2 * sum;
}

// The chunk n that maximises n / (n + H) * (1 - p)^(8(n + H)): setting the derivative of its
// logarithm to 0 gives H / (n (n + H)) = -8 ln(1 - p) ≈ 8p.
uint32_t sw__xchunk_best(double p, uint32_t max)
{
    if (!(p > 0)) // also NaN, which would reach the conversion below
        return max;
    double h = SW_XCHUNK_OVERHEAD;
    double n = (-h + sqrt_pos(h * h + h / (2 * p))) / 2;
    if (!(n < max))
        return max;
    uint32_t c = n <= SW_XCHUNK_MIN ? SW_XCHUNK_MIN : (uint32_t)n & ~15u;
    return c < SW_XCHUNK_MIN ? SW_XCHUNK_MIN : c;
}

// The first chunk. A clean line needs the largest, but on a noisy one frames of that size may
// hardly ever arrive (at a bit-error rate of 1e-3 one in 4,000 does) and a chunk that went out
// stays that size until it arrives, so the estimate cannot catch up; at 1e-4 a window of them
// (16 KiB) is 2.5 s of line, most of it sent twice. So the frames the link has carried so far
// decide: none damaged, half the largest (the first round is short, with few requests out,
// and the chunk doubles after a clean round: on a clean line that costs about 10 ms); else
// what their share of damaged ones implies.
void sw__xchunk_start(sw_xchunk_t *c, uint32_t max, double frames, double bad)
{
    *c = (sw_xchunk_t){.chunk = max, .max = max};
    if (!(bad > 0) || frames < 1) {
        uint32_t h = (max / 2) & ~15u;
        c->chunk = h > SW_XCHUNK_MIN ? h : SW_XCHUNK_MIN;
        c->ramp = c->chunk < max;
        return;
    }
    double q = bad / frames;
    if (q > 0.95)
        q = 0.95;
    c->frames = frames;
    c->bad = bad;
    c->bits = frames * 8.0 * CTL_BYTES;
    c->chunk = sw__xchunk_best(neg_log1m(q) / (8.0 * CTL_BYTES), max);
}

void sw__xchunk_round(sw_xchunk_t *c, double frames, double bad)
{
    if (frames < 1)
        return;
    c->frames = c->frames * KEEP + frames;
    c->bad = c->bad * KEEP + bad;
    c->bits = c->bits * KEEP + frames * 8.0 * (c->chunk + SW_XCHUNK_OVERHEAD);
    // Invert the share of damaged frames to a bit-error rate: q = 1 - (1 - p)^bits_per_frame.
    double q = c->bad / c->frames;
    if (q > 0.95)
        q = 0.95;
    double p = q > 0 ? neg_log1m(q) / (c->bits / c->frames) : 0;
    uint32_t n = sw__xchunk_best(p, c->max);
    // grow back gently (a clean round may be luck), shrink at once
    if (n > c->chunk && c->chunk < c->max / 2)
        n = n < 2 * c->chunk ? n : 2 * c->chunk;
    c->ramp = c->ramp && n > c->chunk && n < c->max;
    c->chunk = n;
}
