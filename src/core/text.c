// Internal to the core: the out-of-line text helpers of text.h (one copy in a firmware).
#include "text.h"

size_t sw__text_add_esc(char *buf, size_t len, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n && len + 1 < cap;) {
        size_t k = p[i] >= 0x20 && p[i] != 0x7f ? sw__utf8_len(p + i, n - i) : 0;
        if (k) {
            if (len + k + 1 > cap)
                break;
            memcpy(buf + len, p + i, k);
            len += k;
            i += k;
            continue;
        }
        if (len + 5 > cap)
            break;
        buf[len++] = '\\';
        buf[len++] = 'x';
        buf[len++] = hex[p[i] >> 4];
        buf[len++] = hex[p[i] & 15];
        i++;
    }
    if (len < cap)
        buf[len] = 0;
    return len;
}
