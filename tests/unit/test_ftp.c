// FTP core: line assembly (CR LF / LF, Telnet commands, the length bound, any chunking), the
// command parser, LIST options, path resolution against a working directory (checked against
// sw_path_norm), glob matching (against a recursive model), and the reply formatters (PASV,
// EPSV, timestamps against gmtime_r, `ls -l` lines, MLSx facts).
#define _GNU_SOURCE
#include <time.h>

#include "testutil.h"

#include "swarm/ftp.h"
#include "swarm/path.h"
#include "swarm/port.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Lines

// Feeds all of in (in chunks of `step`, 0 = at once); collects lines as "text|" and overlong
// ones as "!|".
static void lines_of(const uint8_t *in, size_t n, size_t cap, size_t step, char *got, size_t gcap)
{
    static char buf[4096];
    sw_ftp_lines_t l;
    sw_ftp_lines_init(&l, buf, cap);
    size_t at = 0, g = 0;
    got[0] = 0;
    while (at < n) {
        size_t len = step && n - at > step ? step : n - at;
        const uint8_t *p = in + at;
        at += len;
        while (len) {
            size_t used;
            int rc = sw_ftp_lines_feed(&l, p, len, &used);
            assert_true(used <= len);
            p += used;
            len -= used;
            if (rc == 1) {
                assert_int_equal(strlen(l.buf), l.len);
                assert_true(l.len <= cap - 1);
                assert_true(g + l.len + 2 < gcap);
                memcpy(got + g, l.buf, l.len);
                g += l.len;
                got[g++] = '|';
            } else if (rc == SW_ETOOBIG) {
                assert_true(g + 3 < gcap);
                got[g++] = '!';
                got[g++] = '|';
            } else {
                assert_int_equal(rc, 0);
                assert_int_equal(len, 0);
            }
            got[g] = 0;
        }
    }
}

static void check_lines(const char *in, size_t n, size_t cap, const char *want)
{
    char got[8192];
    for (size_t step = 0; step < 5; step++) {
        lines_of((const uint8_t *)in, n, cap, step, got, sizeof got);
        if (strcmp(got, want) != 0)
            fail_msg("step %zu: got '%s', want '%s'", step, got, want);
    }
}
#define LINES(lit, cap, want) check_lines(lit, sizeof(lit) - 1, cap, want)

static void test_lines_basic(void **state)
{
    (void)state;
    LINES("USER a\r\nPASS b\r\n", 64, "USER a|PASS b|");
    LINES("NOOP\nNOOP\n", 64, "NOOP|NOOP|");
    LINES("SYST\r\r\r\n", 64, "SYST|");        // every CR before LF is the line end
    LINES("A\rB\r\n", 64, "A\rB|");           // a CR inside a line stays
    LINES("\r\n\n", 64, "||");                // empty lines are lines
    LINES("NOOP", 64, "");                    // no LF yet: nothing
    LINES("NOOP\r", 64, "");
}

static void test_lines_telnet(void **state)
{
    (void)state;
    // what a client sends before ABOR: IAC IP, IAC DM (RFC 959 4.1.3)
    LINES("\xff\xf4\xff\xf2" "ABOR\r\n", 64, "ABOR|");
    // negotiation inside a line: WILL/WONT/DO/DONT take one option byte
    LINES("NO\xff\xfb\x01OP\xff\xfc\x22\xff\xfd\x03\xff\xfe\x05\r\n", 64, "NOOP|");
    // an option byte that is LF or IAC is the option, not data
    LINES("A\xff\xfd\nB\xff\xfe\xff\n", 64, "AB|");
    // IAC IAC is one 0xFF byte
    LINES("RETR \xff\xff.txt\r\n", 64, "RETR \xff.txt|");
    // subnegotiation is dropped up to IAC SE, whatever it holds (also LF and IAC IAC)
    LINES("X\xff\xfa\x18\n\xff\xff\x01\xff\xf0Y\n", 64, "XY|");
    // IAC <other> inside SB does not end it
    LINES("X\xff\xfa\x01\xff\xf1Z\xff\xf0Y\n", 64, "XY|");
}

static void test_lines_bound(void **state)
{
    (void)state;
    char in[300], want[300];
    // cap 8: up to 7 bytes per line
    LINES("1234567\r\n", 8, "1234567|");
    LINES("12345678\r\nOK\r\n", 8, "!|OK|");
    LINES("1234567\r\r\r\n", 8, "1234567|"); // CRs of the line end do not count
    LINES("123456\r7\n", 8, "!|");            // a CR that is data does
    LINES("123456\r\n", 8, "123456|");
    // a 200-byte line with cap 16, then a normal one
    memset(in, 'x', 200);
    memcpy(in + 200, "\r\nPWD\r\n", 7);
    check_lines(in, 207, 16, "!|PWD|");
    // Telnet commands do not count against the bound
    size_t n = 0;
    for (int k = 0; k < 50; k++) {
        memcpy(in + n, "\xff\xfb\x01", 3);
        n += 3;
    }
    memcpy(in + n, "PWD\n", 4);
    check_lines(in, n + 4, 8, "PWD|");
    (void)want;
}

static void test_lines_args(void **state)
{
    (void)state;
    sw_ftp_lines_t l;
    size_t used = 99;
    sw_ftp_lines_init(&l, NULL, 0);
    assert_int_equal(sw_ftp_lines_feed(&l, (const uint8_t *)"x\n", 2, &used), SW_EINVAL);
    assert_int_equal(used, 0);
    char b[1];
    sw_ftp_lines_init(&l, b, 1);
    assert_int_equal(sw_ftp_lines_feed(&l, (const uint8_t *)"x\n", 2, &used), SW_EINVAL);
    char two[2];
    sw_ftp_lines_init(&l, two, 2);
    assert_int_equal(sw_ftp_lines_feed(&l, (const uint8_t *)"x\ny", 3, &used), 1);
    assert_int_equal(used, 2);
    assert_string_equal(two, "x");
    assert_int_equal(sw_ftp_lines_feed(&l, (const uint8_t *)"y", 0, &used), 0);
    assert_int_equal(l.len, 0); // the next line started
}

// Model of the line rules, byte by byte, without chunking.
static void model_lines(const uint8_t *in, size_t n, size_t cap, char *got)
{
    char line[4096];
    size_t len = 0, crs = 0, g = 0;
    bool over = false;
    int st = 0;
    for (size_t k = 0; k < n; k++) {
        uint8_t b = in[k];
        int data = -1;
        switch (st) {
        case 0: if (b == 255) st = 1; else data = b; break;
        case 1:
            if (b == 255) { st = 0; data = 255; }
            else if (b >= 251 && b <= 254) st = 2;
            else if (b == 250) st = 3;
            else st = 0;
            break;
        case 2: st = 0; break;
        case 3: if (b == 255) st = 4; break;
        default: st = b == 240 ? 0 : 3; break;
        }
        if (data < 0)
            continue;
        if (data == '\n') {
            if (over) {
                got[g++] = '!';
            } else {
                memcpy(got + g, line, len);
                g += len;
            }
            got[g++] = '|';
            len = crs = 0;
            over = false;
        } else if (data == '\r') {
            crs++;
        } else {
            for (; crs; crs--)
                if (len + 1 < cap) line[len++] = '\r'; else over = true;
            if (len + 1 < cap) line[len++] = (char)data; else over = true;
        }
    }
    got[g] = 0;
}

static void test_lines_random(void **state)
{
    (void)state;
    static const uint8_t alphabet[] = {'a', 'B', ' ', '\r', '\n', 0xff, 0xfb, 0xfa, 0xf0, 0xf4, 0x01};
    tu_rng_t r = {0x1234567ull};
    int lines = 0, over = 0;
    for (int round = 0; round < 5000; round++) {
        uint8_t in[400];
        size_t n = tu_below(&r, sizeof in);
        for (size_t k = 0; k < n; k++)
            in[k] = tu_below(&r, 4) ? alphabet[tu_below(&r, 3)] : alphabet[tu_below(&r, sizeof alphabet)];
        size_t cap = 2 + tu_below(&r, 40);
        char want[2048], got[2048];
        model_lines(in, n, cap, want);
        for (size_t step = 0; step < 4; step++) {
            lines_of(in, n, cap, step ? 1 + tu_below(&r, 9) : 0, got, sizeof got);
            if (strcmp(got, want) != 0)
                fail_msg("round %d cap %zu: got '%s', want '%s'", round, cap, got, want);
        }
        for (const char *s = want; *s; s++) {
            lines += *s == '|';
            over += *s == '!';
        }
    }
    assert_true(lines > 10000);
    assert_true(over > 500);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Commands

static void check_parse(const char *line, int rc, sw_ftp_verb_t verb, const char *name, const char *arg)
{
    sw_ftp_cmd_t c;
    int got = sw_ftp_parse(line, strlen(line), &c);
    if (got != rc)
        fail_msg("'%s': got %d, want %d", line, got, rc);
    assert_string_equal(c.name, name);
    if (rc == 0) {
        if (c.verb != verb)
            fail_msg("'%s': verb %d, want %d", line, c.verb, verb);
        assert_int_equal(c.arg_len, strlen(arg));
        assert_memory_equal(c.arg, arg, c.arg_len);
        assert_ptr_equal(c.arg + c.arg_len, line + strlen(line));
    }
}

static void test_parse(void **state)
{
    (void)state;
    check_parse("USER anonymous", 0, SW_FTP_USER, "USER", "anonymous");
    check_parse("user x", 0, SW_FTP_USER, "USER", "x");
    check_parse("Pasv", 0, SW_FTP_PASV, "PASV", "");
    check_parse("LIST -a", 0, SW_FTP_LIST, "LIST", "-a");
    check_parse("STOR   a b  ", 0, SW_FTP_STOR, "STOR", "a b  "); // leading spaces skipped, trailing kept
    check_parse("CWD /apps/example/", 0, SW_FTP_CWD, "CWD", "/apps/example/");
    check_parse("XPWD", 0, SW_FTP_PWD, "XPWD", "");
    check_parse("xcwd d", 0, SW_FTP_CWD, "XCWD", "d");
    check_parse("XCUP", 0, SW_FTP_CDUP, "XCUP", "");
    check_parse("XMKD d", 0, SW_FTP_MKD, "XMKD", "d");
    check_parse("XRMD d", 0, SW_FTP_RMD, "XRMD", "d");
    check_parse("SITE UTIME 20200101000000 f", 0, SW_FTP_SITE, "SITE", "UTIME 20200101000000 f");
    check_parse("MFMT 2020 f", 0, SW_FTP_UNKNOWN, "MFMT", "2020 f");
    check_parse("AUTH TLS", 0, SW_FTP_UNKNOWN, "AUTH", "TLS");
    check_parse("NOOPX", 0, SW_FTP_UNKNOWN, "NOOP", "");     // 5 letters: not NOOP
    check_parse("QUITTING now", 0, SW_FTP_UNKNOWN, "QUIT", "now");
    check_parse("X", 0, SW_FTP_UNKNOWN, "X", "");
    check_parse("", SW_EINVAL, SW_FTP_UNKNOWN, "", "");
    check_parse(" NOOP", SW_EINVAL, SW_FTP_UNKNOWN, "", "");
    check_parse("NO0P", SW_EINVAL, SW_FTP_UNKNOWN, "NO0P", "");
    check_parse("LIST\t-a", SW_EINVAL, SW_FTP_UNKNOWN, "LIST", "");
    check_parse("\xff\xfe", SW_EINVAL, SW_FTP_UNKNOWN, "\xff\xfe", "");
    sw_ftp_cmd_t c;
    assert_int_equal(sw_ftp_parse("RETR a\0b", 8, &c), SW_EINVAL);
    assert_string_equal(c.name, "RETR");
    assert_int_equal(sw_ftp_parse(NULL, 0, &c), SW_EINVAL);
    // every verb by its name, both cases
    for (int v = 1; v < SW_FTP_NVERBS; v++) {
        const char *nm = sw_ftp_verb_name((sw_ftp_verb_t)v);
        char low[8];
        size_t k;
        for (k = 0; nm[k]; k++)
            low[k] = (char)(nm[k] | 0x20);
        low[k] = 0;
        assert_int_equal(sw_ftp_parse(low, k, &c), 0);
        assert_int_equal(c.verb, v);
    }
    assert_string_equal(sw_ftp_verb_name(SW_FTP_UNKNOWN), "");
    assert_string_equal(sw_ftp_verb_name(SW_FTP_NVERBS), "");
    assert_string_equal(sw_ftp_verb_name((sw_ftp_verb_t)-1), "");
}

static void check_list_arg(const char *arg, const char *opts, const char *path)
{
    const char *o, *p;
    size_t on, pn;
    sw_ftp_list_arg(arg, strlen(arg), &o, &on, &p, &pn);
    if (on != strlen(opts) || memcmp(o, opts, on) || pn != strlen(path) || memcmp(p, path, pn))
        fail_msg("'%s': opts '%.*s' path '%.*s', want '%s' '%s'", arg, (int)on, o, (int)pn, p, opts, path);
}

static void test_list_arg(void **state)
{
    (void)state;
    check_list_arg("", "", "");
    check_list_arg("-a", "-a", "");
    check_list_arg("-la", "-la", "");
    check_list_arg("-l -a", "-l -a", "");
    check_list_arg("-a dir", "-a", "dir");
    check_list_arg("  -a   dir name ", "-a", "dir name ");
    check_list_arg("dir", "", "dir");
    check_list_arg("dir -a", "", "dir -a");
    check_list_arg("-", "-", "");
    check_list_arg("/apps/x", "", "/apps/x");
    const char *o, *p;
    size_t on, pn;
    sw_ftp_list_arg(NULL, 5, &o, &on, &p, &pn);
    assert_int_equal(on + pn, 0);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Paths

static void check_path(const char *cwd, const char *p, int rc, const char *want)
{
    char out[600];
    memset(out, 'X', sizeof out);
    int got = sw_ftp_path(cwd, p, strlen(p), out, sizeof out);
    if (got != rc)
        fail_msg("'%s' + '%s': got %d (%s), want %d", cwd, p, got, sw_errname(got), rc);
    if (rc >= 0 && strcmp(out, want))
        fail_msg("'%s' + '%s': got '%s', want '%s'", cwd, p, out, want);
}

static void test_path(void **state)
{
    (void)state;
    check_path("", "", 0, "");
    check_path("apps/x", "", 6, "apps/x");
    check_path("apps/x", ".", 6, "apps/x");
    check_path("apps/x", "main.lua", 15, "apps/x/main.lua");
    check_path("apps/x", "/", 0, "");
    check_path("apps/x", "/apps/y/", 6, "apps/y");
    check_path("apps/x", "..", 4, "apps");
    check_path("apps/x", "../..", 0, "");
    check_path("apps/x", "../../..", SW_EPERM, NULL);
    check_path("apps/x", "../../../etc/passwd", SW_EPERM, NULL);
    check_path("apps/x", "/../etc", SW_EPERM, NULL);
    check_path("", "..", SW_EPERM, NULL);
    check_path("apps/x", "a/../../y", 6, "apps/y");
    check_path("apps/x", "a\\b", SW_EINVAL, NULL);
    check_path("apps/x", "../../../a\\b", SW_EINVAL, NULL); // a bad byte outranks the escape
    check_path("a", "b//c/./", 5, "a/b/c");
    // out may be cwd itself
    char cwd[64] = "apps/x";
    assert_int_equal(sw_ftp_path(cwd, "../y/z", 6, cwd, sizeof cwd), 8);
    assert_string_equal(cwd, "apps/y/z");
    // only the result must fit
    char small[4];
    assert_int_equal(sw_ftp_path("ab", "verylong/..", 11, small, sizeof small), 2);
    assert_string_equal(small, "ab");
    assert_int_equal(sw_ftp_path("ab", "c", 1, small, sizeof small), SW_ETOOBIG);
    assert_int_equal(sw_ftp_path("ab", "..", 2, small, 1), 0);
    assert_int_equal(sw_ftp_path("ab", "..", 2, NULL, 0), SW_ETOOBIG);
    assert_int_equal(sw_ftp_path("ab", NULL, 1, small, sizeof small), SW_EINVAL);
    assert_int_equal(sw_ftp_path(NULL, "x", 1, small, sizeof small), 1);
    // segment length
    char seg[300];
    memset(seg, 'a', sizeof seg);
    assert_int_equal(sw_ftp_path("", seg, SW_NAME_MAX, NULL, 0), SW_ETOOBIG);
    assert_int_equal(sw_ftp_path("", seg, SW_NAME_MAX + 1, NULL, 0), SW_EINVAL);
}

// Property: sw_ftp_path(cwd, p) == sw_path_norm(cwd + "/" + p), results and errors.
static void test_path_random(void **state)
{
    (void)state;
    static const char *const parts[] = {"a", "bc", ".", "..", "", "...", "x\\", "/"};
    tu_rng_t r = {0xfeedfaceull};
    int ok = 0, perm = 0, big = 0;
    for (int round = 0; round < 30000; round++) {
        char cwdraw[128], cwd[128], p[128], joined[300];
        size_t cn = 0, pn = 0;
        for (uint32_t j = tu_below(&r, 5); j; j--) {
            const char *s = parts[tu_below(&r, 2)];
            cn += (size_t)sprintf(cwdraw + cn, "%s/", s);
        }
        assert_true(sw_path_norm(cwdraw, cn, cwd, sizeof cwd) >= 0);
        if (tu_below(&r, 4) == 0)
            p[pn++] = '/';
        for (uint32_t j = tu_below(&r, 8); j; j--) {
            const char *s = parts[tu_below(&r, tu_below(&r, 10) ? 7 : 8)];
            pn += (size_t)sprintf(p + pn, "%s", s);
            if (tu_below(&r, 4))
                p[pn++] = '/';
        }
        p[pn] = 0;
        size_t jn = (size_t)sprintf(joined, "%s/%s", cwd, p);
        if (pn && p[0] == '/')
            jn = (size_t)sprintf(joined, "%s", p);
        size_t cap = tu_below(&r, 3) ? 300 : 1 + tu_below(&r, 8);
        char want[300], got[300];
        int rw = sw_path_norm(joined, jn, want, cap);
        int rg = sw_ftp_path(cwd, p, pn, got, cap);
        if (rw != rg)
            fail_msg("'%s' + '%s' (cap %zu): got %d, want %d", cwd, p, cap, rg, rw);
        if (rw >= 0) {
            assert_string_equal(got, want);
            ok++;
        } else if (rw == SW_EPERM) {
            perm++;
        } else if (rw == SW_ETOOBIG) {
            big++;
        }
    }
    assert_true(ok > 3000);
    assert_true(perm > 1000);
    assert_true(big > 500);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Glob, numbers

static bool glob_model(const char *p, size_t pn, const char *s, size_t sn)
{
    if (!pn)
        return !sn;
    if (*p == '*')
        return glob_model(p + 1, pn - 1, s, sn) || (sn && glob_model(p, pn, s + 1, sn - 1));
    return sn && (*p == '?' || *p == *s) && glob_model(p + 1, pn - 1, s + 1, sn - 1);
}

static bool G(const char *p, const char *s) { return sw_ftp_glob(p, strlen(p), s, strlen(s)); }

static void test_glob(void **state)
{
    (void)state;
    assert_true(G("*", ""));
    assert_true(G("*", "abc"));
    assert_true(G("*.py", "main.py"));
    assert_false(G("*.py", "main.pyc"));
    assert_true(G("m?in.*", "main.lua"));
    assert_false(G("?", ""));
    assert_true(G("a*b*c", "aXbYbZc"));
    assert_false(G("a*b*c", "aXbYbZ"));
    assert_true(G("", ""));
    assert_false(G("", "a"));
    assert_true(G("**a**", "xxa"));
    assert_true(sw_ftp_has_glob("a*", 2));
    assert_true(sw_ftp_has_glob("?", 1));
    assert_false(sw_ftp_has_glob("a*", 1));
    assert_false(sw_ftp_has_glob("abc", 3));
    // a pathological pattern is quick
    char name[5000], pat[200];
    memset(name, 'a', sizeof name);
    for (int k = 0; k < 100; k++) {
        pat[2 * k] = '*';
        pat[2 * k + 1] = 'a';
    }
    pat[199] = 'b';
    assert_false(sw_ftp_glob(pat, sizeof pat, name, sizeof name));
    tu_rng_t r = {42};
    int yes = 0;
    for (int round = 0; round < 50000; round++) {
        char p[12], s[12];
        size_t pn = tu_below(&r, sizeof p), sn = tu_below(&r, sizeof s);
        for (size_t k = 0; k < pn; k++)
            p[k] = "ab*?"[tu_below(&r, 4)];
        for (size_t k = 0; k < sn; k++)
            s[k] = "ab"[tu_below(&r, 2)];
        bool want = glob_model(p, pn, s, sn);
        if (sw_ftp_glob(p, pn, s, sn) != want)
            fail_msg("'%.*s' vs '%.*s': want %d", (int)pn, p, (int)sn, s, want);
        yes += want;
    }
    assert_true(yes > 5000 && yes < 45000);
}

static void test_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(sw_ftp_parse_u64("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(sw_ftp_parse_u64("12345", 5, &v), 0);
    assert_int_equal(v, 12345);
    assert_int_equal(sw_ftp_parse_u64("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_int_equal(sw_ftp_parse_u64("18446744073709551616", 20, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64("99999999999999999999", 20, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64("", 0, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64("-1", 2, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64(" 1", 2, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64("1x", 2, &v), SW_EINVAL);
    assert_int_equal(sw_ftp_parse_u64(NULL, 1, &v), SW_EINVAL);
    assert_int_equal(v, 7);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Formatting

static void test_pasv_epsv(void **state)
{
    (void)state;
    char out[80];
    assert_int_equal(sw_ftp_fmt_pasv(out, sizeof out, "169.254.185.17", 13333),
                     strlen("227 Entering Passive Mode (169,254,185,17,52,21).\r\n"));
    assert_string_equal(out, "227 Entering Passive Mode (169,254,185,17,52,21).\r\n");
    sw_ftp_fmt_pasv(out, sizeof out, "::ffff:127.0.0.1", 65535);
    assert_string_equal(out, "227 Entering Passive Mode (127,0,0,1,255,255).\r\n");
    sw_ftp_fmt_pasv(out, sizeof out, "::FFFF:10.0.0.1", 0);
    assert_string_equal(out, "227 Entering Passive Mode (10,0,0,1,0,0).\r\n");
    static const char *const bad[] = {"", "1.2.3", "1.2.3.4.", "1.2.3.256", "1..3.4", "::1",
                                      "fe80::1", "1.2.3.0004", "a.b.c.d", " 1.2.3.4", "::ffff:", NULL};
    for (int k = 0; bad[k]; k++) {
        strcpy(out, "junk");
        if (sw_ftp_fmt_pasv(out, sizeof out, bad[k], 21) != 0)
            fail_msg("'%s' accepted: %s", bad[k], out);
        assert_string_equal(out, "");
    }
    assert_int_equal(sw_ftp_fmt_pasv(out, sizeof out, NULL, 21), 0);
    // the exact fit and one less
    size_t n = strlen("227 Entering Passive Mode (1,2,3,4,0,21).\r\n");
    assert_int_equal(sw_ftp_fmt_pasv(out, n + 1, "1.2.3.4", 21), n);
    assert_int_equal(sw_ftp_fmt_pasv(out, n, "1.2.3.4", 21), 0);
    assert_int_equal(sw_ftp_fmt_pasv(NULL, 0, "1.2.3.4", 21), 0);
    sw_ftp_fmt_epsv(out, sizeof out, 40123);
    assert_string_equal(out, "229 Entering Extended Passive Mode (|||40123|).\r\n");
    assert_int_equal(sw_ftp_fmt_epsv(out, 10, 1), 0);
}

static void test_time(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(sw_ftp_fmt_time(out, sizeof out, 0), 14);
    assert_string_equal(out, "19700101000000");
    sw_ftp_fmt_time(out, sizeof out, 951782400); // 2000-02-29
    assert_string_equal(out, "20000229000000");
    sw_ftp_fmt_time(out, sizeof out, 1700000000);
    assert_string_equal(out, "20231114221320");
    sw_ftp_fmt_time(out, sizeof out, -5);
    assert_string_equal(out, "19700101000000");
    sw_ftp_fmt_time(out, sizeof out, INT64_MAX);
    assert_string_equal(out, "99991231235959");
    sw_ftp_fmt_time(out, sizeof out, INT64_MIN);
    assert_string_equal(out, "19700101000000");
    assert_int_equal(sw_ftp_fmt_time(out, 14, 0), 0);
    // against the C library
    tu_rng_t r = {7};
    for (int k = 0; k < 20000; k++) {
        time_t t = (time_t)(tu_next(&r) % UINT64_C(253402300800));
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[32];
        snprintf(want, sizeof want, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        sw_ftp_fmt_time(out, sizeof out, (int64_t)t);
        if (strcmp(out, want))
            fail_msg("%lld: got %s, want %s", (long long)t, out, want);
    }
}

static void test_quoted(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(sw_ftp_fmt_quoted(out, sizeof out, "/apps/x"), 9);
    assert_string_equal(out, "\"/apps/x\"");
    sw_ftp_fmt_quoted(out, sizeof out, "/a\"b\"");
    assert_string_equal(out, "\"/a\"\"b\"\"\"");
    sw_ftp_fmt_quoted(out, sizeof out, NULL);
    assert_string_equal(out, "\"\"");
    assert_int_equal(sw_ftp_fmt_quoted(out, 4, "ab"), 0);
    assert_int_equal(sw_ftp_fmt_quoted(out, 5, "ab"), 4);
}

static void test_list_line(void **state)
{
    (void)state;
    char out[400];
    int64_t now = 1700000000; // 2023-11-14 22:13:20
    sw_ftp_entry_t e = {"main.py", SW_FT_FILE, 601, 180};
    // micro-swarm's own example: a file of 2000-less time, shown with its year
    sw_ftp_fmt_list(out, sizeof out, &e, now);
    assert_string_equal(out, "-rw-r--r-- 1 owner group        601 Jan  1  1970 main.py\r\n");
    assert_int_equal(sw_ftp_fmt_list(out, sizeof out, &e, 3600), strlen(out));
    assert_string_equal(out, "-rw-r--r-- 1 owner group        601 Jan  1 00:03 main.py\r\n");
    sw_ftp_entry_t d = {"apps", SW_FT_DIR, 0, 1699990000};
    sw_ftp_fmt_list(out, sizeof out, &d, now);
    assert_string_equal(out, "drwxr-xr-x 1 owner group          0 Nov 14 19:26 apps\r\n");
    sw_ftp_entry_t big = {"a b", SW_FT_OTHER, UINT64_MAX, 1700000000};
    sw_ftp_fmt_list(out, sizeof out, &big, 0);
    assert_string_equal(out, "-rw-r--r-- 1 owner group 18446744073709551615 Nov 14  2023 a b\r\n");
    sw_ftp_entry_t crlf = {"a\nb", SW_FT_FILE, 1, 0};
    strcpy(out, "junk");
    assert_int_equal(sw_ftp_fmt_list(out, sizeof out, &crlf, now), 0);
    assert_string_equal(out, "");
    crlf.name = "a\rb";
    assert_int_equal(sw_ftp_fmt_list(out, sizeof out, &crlf, now), 0);
    crlf.name = "";
    assert_int_equal(sw_ftp_fmt_list(out, sizeof out, &crlf, now), 0);
    crlf.name = NULL;
    assert_int_equal(sw_ftp_fmt_list(out, sizeof out, &crlf, now), 0);
    // exact fit
    size_t n = sw_ftp_fmt_list(out, sizeof out, &e, now);
    assert_int_equal(sw_ftp_fmt_list(out, n + 1, &e, now), n);
    assert_int_equal(sw_ftp_fmt_list(out, n, &e, now), 0);
}

static void test_facts(void **state)
{
    (void)state;
    char out[300];
    sw_ftp_entry_t f = {"main.lua", SW_FT_FILE, 42, 1700000000};
    sw_ftp_entry_t d = {"lib", SW_FT_DIR, 4096, 0};
    sw_ftp_fmt_facts(out, sizeof out, &f, SW_FTP_FACTS_ALL);
    assert_string_equal(out, "type=file;size=42;modify=20231114221320;perm=adfrw; main.lua\r\n");
    sw_ftp_fmt_facts(out, sizeof out, &d, SW_FTP_FACTS_ALL);
    assert_string_equal(out, "type=dir;modify=19700101000000;perm=cdeflmp; lib\r\n");
    sw_ftp_fmt_facts(out, sizeof out, &f, SW_FTP_FACT_SIZE);
    assert_string_equal(out, "size=42; main.lua\r\n");
    sw_ftp_fmt_facts(out, sizeof out, &f, 0);
    assert_string_equal(out, " main.lua\r\n");
    f.name = "x\ny";
    assert_int_equal(sw_ftp_fmt_facts(out, sizeof out, &f, SW_FTP_FACTS_ALL), 0);

    assert_int_equal(sw_ftp_parse_facts("type;size;", 10), SW_FTP_FACT_TYPE | SW_FTP_FACT_SIZE);
    assert_int_equal(sw_ftp_parse_facts("TYPE;Modify;unix.mode;perm", 26),
                     SW_FTP_FACT_TYPE | SW_FTP_FACT_MODIFY | SW_FTP_FACT_PERM);
    assert_int_equal(sw_ftp_parse_facts("", 0), 0);
    assert_int_equal(sw_ftp_parse_facts(";;sizes;typ;", 12), 0);
    assert_int_equal(sw_ftp_parse_facts(NULL, 3), 0);

    sw_ftp_fmt_fact_names(out, sizeof out, SW_FTP_FACTS_ALL, true);
    assert_string_equal(out, "type*;size*;modify*;perm*;");
    sw_ftp_fmt_fact_names(out, sizeof out, SW_FTP_FACT_TYPE | SW_FTP_FACT_PERM, true);
    assert_string_equal(out, "type*;size;modify;perm*;");
    sw_ftp_fmt_fact_names(out, sizeof out, SW_FTP_FACT_TYPE | SW_FTP_FACT_PERM, false);
    assert_string_equal(out, "type;perm;");
    assert_int_equal(sw_ftp_fmt_fact_names(out, sizeof out, 0, false), 0);
    assert_string_equal(out, "");
    assert_int_equal(sw_ftp_fmt_fact_names(out, 5, SW_FTP_FACTS_ALL, true), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_basic),
        cmocka_unit_test(test_lines_telnet),
        cmocka_unit_test(test_lines_bound),
        cmocka_unit_test(test_lines_args),
        cmocka_unit_test(test_lines_random),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_list_arg),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_path_random),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_pasv_epsv),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_quoted),
        cmocka_unit_test(test_list_line),
        cmocka_unit_test(test_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
