// Internal to the core: integral doubles read from their IEEE-754 bits, with no floating-point
// arithmetic, so a firmware that only passes numbers through (mcu-serial) links no soft-float
// conversion code (libgcc's double → int64 pulls in its multiplication and subtraction).
#ifndef SW_CORE_F64_H
#define SW_CORE_F64_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

// True if v is an integer within [-2^63, 2^63) (±0 included; NaN and ±Inf are not); *out is it.
// (out of line: cmd.c and json.c both use it, 198 B a copy in the firmware; src/core/f64.c)
bool sw__f64_int(double v, int64_t *out);

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
