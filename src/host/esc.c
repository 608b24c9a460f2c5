// Escaping of untrusted text for terminals (esc.h): one rule for every human output of the CLI.
#include <string.h>

#include "esc.h"

// Length of the valid UTF-8 sequence at p (n > 0 bytes there), 0 if invalid or a C1 control
// (U+0080..U+009F: a terminal may obey them as it does ESC sequences).
static size_t text_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c >= 0x20 && c < 0x7f)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

static bool kept(uint8_t c, unsigned flags)
{
    if (flags & (SW_ESC_KEEP_NL | SW_ESC_KEEP_TTY))
        if (c == '\n' || c == '\t')
            return true;
    return (flags & SW_ESC_KEEP_TTY) && (c == '\r' || c == '\b');
}

// The escape of one byte into out (at most 4 characters + NUL); returns its length.
static size_t esc_byte(uint8_t c, char out[5])
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '\n': memcpy(out, "\\n", 3); return 2;
    case '\r': memcpy(out, "\\r", 3); return 2;
    case '\t': memcpy(out, "\\t", 3); return 2;
    default:
        out[0] = '\\';
        out[1] = 'x';
        out[2] = hex[c >> 4];
        out[3] = hex[c & 15];
        out[4] = 0;
        return 4;
    }
}

size_t sw__esc_write(FILE *f, const uint8_t *p, size_t n, unsigned flags)
{
    size_t w = 0, i = 0;
    while (i < n) {
        size_t k = text_len(p + i, n - i);
        if (k) {
            size_t run = i;
            while (i < n && (k = text_len(p + i, n - i)))
                i += k;
            w += fwrite(p + run, 1, i - run, f);
            continue;
        }
        if (kept(p[i], flags)) {
            w += fwrite(p + i, 1, 1, f);
        } else {
            char e[5];
            size_t el = esc_byte(p[i], e);
            w += fwrite(e, 1, el, f);
        }
        i++;
    }
    return w;
}

const char *sw__esc_mem(char *buf, size_t cap, const uint8_t *p, size_t n)
{
    size_t o = 0, i = 0;
    size_t starts[4] = {0, 0, 0, 0}; // where the last units (characters, escapes) began
    unsigned ns = 0;
    while (i < n) {
        char e[5];
        size_t k = text_len(p + i, n - i), el;
        const char *src;
        if (k) {
            src = (const char *)p + i;
            el = k;
        } else {
            el = esc_byte(p[i], e);
            src = e;
            k = 1;
        }
        if (o + el + 1 > cap) {
            // cut short: "…" (3 bytes) if it fits, after the last whole unit that leaves room
            if (cap >= 4) {
                unsigned j = 0;
                while (o + 4 > cap && j < ns && j < 4)
                    o = starts[(ns - 1 - j++) % 4];
                if (o + 4 <= cap) {
                    memcpy(buf + o, "\xe2\x80\xa6", 3);
                    o += 3;
                }
            }
            break;
        }
        starts[ns++ % 4] = o;
        memcpy(buf + o, src, el);
        o += el;
        i += k;
    }
    if (cap)
        buf[o < cap ? o : cap - 1] = 0;
    return buf;
}

const char *sw__esc_str(char *buf, size_t cap, const char *s)
{
    return sw__esc_mem(buf, cap, (const uint8_t *)(s ? s : ""), s ? strlen(s) : 0);
}

bool sw__esc_needed(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = text_len(p + i, n - i);
        if (!k)
            return true;
        i += k;
    }
    return false;
}
