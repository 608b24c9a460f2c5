// Internal to the core: integral doubles read from their IEEE-754 bits, with no floating-point
// arithmetic, so a firmware that only passes numbers through (mcu-serial) links no soft-float
// conversion code (libgcc's double → int64 pulls in its multiplication and subtraction).
#ifndef SW_CORE_F64_H
#define SW_CORE_F64_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

// True if v is an integer within [-2^63, 2^63) (±0 included; NaN and ±Inf are not); *out is it.
static inline bool sw__f64_int(double v, int64_t *out)
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

// A float's value as a double, from the float's IEEE-754 bits and with no floating-point
// arithmetic (exact: every float is a double). (double)f would link libgcc's __aeabi_f2d, which
// shares its object with the double addition: 1 KB of flash in an image that adds no doubles.
// NaNs come out quiet, as the conversion makes them. The msgpack reader uses it when built with
// SW_CORE_F32_BITS=1 (mcu-serial's firmware); elsewhere f2d is linked anyway and (double)f is smaller.
static inline double sw__f64_of_f32(uint32_t b)
{
    uint64_t u = (uint64_t)(b >> 31) << 63;
    uint32_t e = b >> 23 & 0xff, m = b & 0x7fffff;
    if (e == 0xff) { // Inf, NaN
        u |= 0x7ffull << 52 | (uint64_t)m << 29;
        if (m)
            u |= 1ull << 51;
    } else if (e) { // normal
        u |= (uint64_t)(e + 1023 - 127) << 52 | (uint64_t)m << 29;
    } else if (m) { // subnormal float: a normal double, m * 2^-149
        int k = 0;
        while (!(m & 0x800000))
            m <<= 1, k++;
        u |= (uint64_t)(1023 - 126 - k) << 52 | (uint64_t)(m & 0x7fffff) << 29;
    } // else ±0
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

#endif
