// Terminal-safe text: whatever a device sends (beacon fields, names, error texts, values,
// console bytes) is untrusted, and a terminal obeys escape sequences, CR and LF in it. These
// helpers turn such bytes into visible escapes before they reach a person's terminal.
#ifndef SW_HOST_ESC_H
#define SW_HOST_ESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

// What passes unescaped besides printable text (valid UTF-8 other than U+0080..U+009F).
enum {
    SW_ESC_KEEP_NL = 1,   // '\n' and '\t' (multi-line values)
    SW_ESC_KEEP_TTY = 2,  // also '\r' and '\b' (a device console's line editing)
};

// Writes p[0..n) to f with every control byte (C0, DEL, the C1 range encoded in UTF-8) and
// every byte that is not valid UTF-8 shown as \xNN ('\n' '\r' '\t' as \n \r \t), except
// what flags keep. Returns the number of bytes written.
size_t sw__esc_write(FILE *f, const uint8_t *p, size_t n, unsigned flags);

// The escaped form of the C string s in buf (cap > 0; always NUL-terminated, cut short with
// "…" when it does not fit). Returns buf, so it can be a printf argument.
const char *sw__esc_str(char *buf, size_t cap, const char *s);
// The same for n bytes that may hold NUL (a NUL shows as \x00).
const char *sw__esc_mem(char *buf, size_t cap, const uint8_t *p, size_t n);

// True if the n bytes hold a byte sw__esc_write would escape (with flags 0).
bool sw__esc_needed(const uint8_t *p, size_t n);

#endif
