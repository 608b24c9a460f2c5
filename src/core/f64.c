// Internal to the core: the out-of-line conversions of f64.h (one copy in a firmware).
#include "f64.h"

bool sw__f64_int(double v, int64_t *out)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    bool neg = u >> 63;
    int e = (int)(u >> 52 & 0x7ff);
    uint64_t m = (u & ((1ull << 52) - 1)) | 1ull << 52;
    if (e == 0 && !(u << 1)) { // ±0
        *out = 0;
        return true;
    }
    if (e < 1023) // 0 < |v| < 1 (subnormals included)
        return false;
    int sh = e - 1075; // |v| = m * 2^sh, sh >= -52
    uint64_t mag;
    if (sh <= 0) {
        if (m & ((1ull << -sh) - 1))
            return false;
        mag = m >> -sh;
    } else if (sh <= 10) { // below 2^63
        mag = m << sh;
    } else { // 2^63 and beyond, NaN, Inf: only -2^63 fits
        if (!(neg && sh == 11 && m == 1ull << 52))
            return false;
        *out = INT64_MIN;
        return true;
    }
    *out = neg ? -(int64_t)mag : (int64_t)mag;
    return true;
}
