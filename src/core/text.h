// Internal to the core: building short NUL-terminated texts (error messages) in fixed buffers
// without stdio.
#ifndef SW_CORE_TEXT_H
#define SW_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

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

// Appends s[0..n), bytes a peer sent (a path, a name), as text: valid UTF-8 stays, a control
// byte (below 0x20, 0x7f), NUL or a byte that is not UTF-8 becomes "\xNN", so the text is
// neither cut at a NUL nor invalid as a MsgPack string. Cut to fit, at a whole escape or
// character. Returns the new length.
// (out of line: cmd.c and rpc.c both use it, and a static copy in each cost the firmware
// 282 B twice; src/core/text.c)
size_t sw__text_add_esc(char *buf, size_t len, size_t cap, const char *s, size_t n);

#endif
