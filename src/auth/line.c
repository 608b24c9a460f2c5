// Serial framing pieces the node and the host share in the authenticated mode
// (swarm/noise_line.h): the hunt for a mark in a lossless line's stream, and the bin item that
// carries a frame in a lossy line's Reliable message.
#include <string.h>

#include "swarm/noise_line.h"

size_t sw_noise_line_hunt(uint32_t *win, const uint8_t *p, size_t n, const uint32_t *marks,
                          unsigned nmarks, unsigned *which, size_t *before)
{
    for (size_t i = 0; i < n; i++) {
        *win = *win << 8 | p[i];
        for (unsigned m = 0; m < nmarks; m++) {
            if (*win != marks[m])
                continue;
            *which = m;
            // the mark is p[i-3..i], or begins in an earlier read (those bytes are gone)
            *before = i + 1 >= 4 ? i + 1 - 4 : 0;
            return i + 1;
        }
    }
    return 0;
}

size_t sw_noise_bin_wrap(uint8_t *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t h = n < 256 ? 2 : 3;
    if (n > 0xffff || cap < h || n > cap - h)
        return 0;
    out[0] = h == 2 ? 0xc4 : 0xc5;
    if (h == 2)
        out[1] = (uint8_t)n;
    else
        out[1] = (uint8_t)(n >> 8), out[2] = (uint8_t)n;
    memcpy(out + h, p, n);
    return h + n;
}

bool sw_noise_bin_unwrap(const uint8_t *p, size_t n, const uint8_t **body, size_t *len)
{
    size_t h = n >= 2 && p[0] == 0xc4 ? 2 : n >= 3 && p[0] == 0xc5 ? 3 : 0;
    if (!h)
        return false;
    size_t k = h == 2 ? p[1] : (size_t)p[1] << 8 | p[2];
    if (k != n - h)
        return false;
    *body = p + h;
    *len = k;
    return true;
}
