// Terminal escaping of device text (src/host/esc.c): what passes, what is shown as \xNN, the
// flags, and cutting to a buffer at whole characters and escapes.
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "esc.h"

static const char *esc(const char *s, size_t n, unsigned flags)
{
    static char out[1024];
    FILE *f = fmemopen(out, sizeof out, "w");
    assert_non_null(f);
    size_t w = sw__esc_write(f, (const uint8_t *)s, n, flags);
    fclose(f);
    out[w] = 0;
    return out;
}

static void test_write(void **state)
{
    (void)state;
    assert_string_equal(esc("plain text", 10, 0), "plain text");
    assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac", 9, 0), "caf\xc3\xa9 \xe2\x82\xac"); // UTF-8 stays
    assert_string_equal(esc("\x1b[2J", 4, 0), "\\x1b[2J");
    assert_string_equal(esc("a\r\nb\tc", 6, 0), "a\\r\\nb\\tc");
    assert_string_equal(esc("a\0b\x7f", 4, 0), "a\\x00b\\x7f");
    // C1 controls encoded in UTF-8 (U+009B is CSI for some terminals), invalid and overlong UTF-8
    assert_string_equal(esc("\xc2\x9b" "1m", 4, 0), "\\xc2\\x9b1m");
    assert_string_equal(esc("\xff\xc3", 2, 0), "\\xff\\xc3");
    assert_string_equal(esc("\xc0\xaf", 2, 0), "\\xc0\\xaf");
    assert_string_equal(esc("\xed\xa0\x80", 3, 0), "\\xed\\xa0\\x80"); // a surrogate
    // flags: lines for values, a console's own line editing
    assert_string_equal(esc("a\nb\tc\r\b", 7, SW_ESC_KEEP_NL), "a\nb\tc\\r\\x08");
    assert_string_equal(esc("a\nb\tc\r\b\x1b", 8, SW_ESC_KEEP_TTY), "a\nb\tc\r\b\\x1b");
}

static void test_str_and_mem(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(sw__esc_str(buf, sizeof buf, "host\x1b]0;x\x07"), "host\\x1b]0;x\\x07");
    assert_string_equal(sw__esc_str(buf, sizeof buf, NULL), "");
    assert_string_equal(sw__esc_mem(buf, sizeof buf, (const uint8_t *)"a\0b", 3), "a\\x00b");
    // cut short with an ellipsis, never inside a character or an escape
    char small[10];
    assert_string_equal(sw__esc_str(small, sizeof small, "abcdefghijkl"), "abcdef\xe2\x80\xa6");
    assert_string_equal(sw__esc_str(small, sizeof small, "\x1b\x1b\x1b"), "\\x1b\xe2\x80\xa6");
    const char *euros = "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac";
    assert_string_equal(sw__esc_str(small, sizeof small, euros), "\xe2\x82\xac\xe2\x82\xac\xe2\x80\xa6");
    assert_true(sw__esc_needed((const uint8_t *)"x\r", 2));
    assert_false(sw__esc_needed((const uint8_t *)"caf\xc3\xa9", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_str_and_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
