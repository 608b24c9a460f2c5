// UTF-8 validation shared by the JSON writer (json.c) and reader (json_read.c). Internal to
// src/core.
#ifndef SW_CORE_UTF8_H
#define SW_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

// Length of the valid UTF-8 sequence at p (1..4 bytes, n > 0 available), or 0 if the bytes
// there are not one (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t sw__utf8_len(const uint8_t *p, size_t n);

#endif
