// Internal to the core: building short NUL-terminated texts (error messages) in fixed buffers
// without stdio.
#ifndef SW_CORE_TEXT_H
#define SW_CORE_TEXT_H

#include <stddef.h>
#include <string.h>

// Appends s[0..n) to buf (holding len bytes, capacity cap), cutting it to fit and keeping the
// NUL. Returns the new length.
static inline size_t sw__text_add(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    if (len >= cap)
        return len;
    if (n > cap - 1 - len)
        n = cap - 1 - len;
    memcpy(buf + len, s, n);
    buf[len + n] = 0;
    return len + n;
}

#endif
