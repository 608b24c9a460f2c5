// Fuzz target: the FTP core on arbitrary bytes. The input is fed to the line assembler in
// chunks whose sizes come from the input itself; every line is parsed, split as a LIST
// argument, resolved against a working directory (and checked against sw_path_norm on the
// joined path), globbed, and formatted into listing lines and facts. Lines never exceed the
// bound nor hold an LF; chunking never changes the lines; formatters never overrun.
#include <string.h>

#include "swarm/ftp.h"
#include "swarm/path.h"
#include "swarm/port.h"

#define CAP 64 // small, so the bound is hit often

static char lines_a[1 << 16], lines_b[1 << 16];

// All lines of in, "line\n" each ("!\n" for overlong ones), with chunks of size step (0: all).
static size_t collect(const uint8_t *in, size_t n, size_t step, char *out, size_t ocap)
{
    static char buf[CAP];
    sw_ftp_lines_t l;
    sw_ftp_lines_init(&l, buf, sizeof buf);
    size_t g = 0;
    for (size_t at = 0; at < n;) {
        size_t len = step && n - at > step ? step : n - at;
        const uint8_t *p = in + at;
        at += len;
        while (len) {
            size_t used;
            int rc = sw_ftp_lines_feed(&l, p, len, &used);
            if (used > len)
                __builtin_trap();
            p += used;
            len -= used;
            if (rc == 1) {
                if (l.len > CAP - 1 || memchr(l.buf, '\n', l.len) || l.buf[l.len] != 0)
                    __builtin_trap();
                if (g + l.len + 2 > ocap)
                    return g;
                memcpy(out + g, l.buf, l.len);
                g += l.len;
                out[g++] = '\n';
            } else if (rc == SW_ETOOBIG) {
                if (g + 2 > ocap)
                    return g;
                out[g++] = '!';
                out[g++] = '\n';
            } else if (rc != 0 || len) {
                __builtin_trap();
            }
        }
    }
    return g;
}

static void one_line(const char *line, size_t n, const char *cwd)
{
    sw_ftp_cmd_t c;
    if (sw_ftp_parse(line, n, &c) == 0) {
        if (c.arg < line || c.arg + c.arg_len != line + n || c.verb >= SW_FTP_NVERBS)
            __builtin_trap();
        if (strlen(c.name) > 4)
            __builtin_trap();
    }
    const char *o, *p;
    size_t on, pn;
    sw_ftp_list_arg(line, n, &o, &on, &p, &pn);
    if (o < line || p < o + on || p + pn != line + n)
        __builtin_trap();

    static char got[600], want[600], joined[2048];
    size_t cap = 1 + (n % 7 == 0 ? n % 20 : sizeof got - 1);
    int rg = sw_ftp_path(cwd, line, n, got, cap);
    size_t jn;
    if (n && line[0] == '/') {
        memcpy(joined, line, n);
        jn = n;
    } else {
        size_t cl = strlen(cwd);
        memcpy(joined, cwd, cl);
        joined[cl] = '/';
        memcpy(joined + cl + 1, line, n);
        jn = cl + 1 + n;
    }
    int rw = sw_path_norm(joined, jn, want, cap);
    if (rg != rw || (rg >= 0 && strcmp(got, want)))
        __builtin_trap();

    // glob the line against its own halves: never crashes, '*' alone matches all
    size_t h = n / 2;
    (void)sw_ftp_glob(line, h, line + h, n - h);
    if (!sw_ftp_glob("*", 1, line, n))
        __builtin_trap();
    if (!sw_ftp_has_glob(line, n) && sw_ftp_glob(line, n, line, n) != true)
        __builtin_trap();

    uint64_t v;
    if (sw_ftp_parse_u64(line, n, &v) == 0)
        for (size_t k = 0; k < n; k++)
            if (line[k] < '0' || line[k] > '9')
                __builtin_trap();

    static char name[CAP + 1], out[CAP * 2 + 128];
    memcpy(name, line, n);
    name[n] = 0;
    int64_t t = 0;
    for (size_t k = 0; k < n && k < 8; k++)
        t = (int64_t)((uint64_t)t << 8 | (uint8_t)line[k]);
    sw_ftp_entry_t e = {name, (uint8_t)(n & 3), (uint64_t)t, t};
    int64_t now = (int64_t)(0 - (uint64_t)t); // -t, without UB at INT64_MIN
    for (size_t oc = 0; oc < sizeof out; oc += 37) {
        size_t k = sw_ftp_fmt_list(out, oc, &e, now);
        if (k >= oc && oc)
            __builtin_trap();
        if (oc && strlen(out) != k)
            __builtin_trap();
        k = sw_ftp_fmt_facts(out, oc, &e, (unsigned)n & SW_FTP_FACTS_ALL);
        if (oc && (k >= oc || strlen(out) != k))
            __builtin_trap();
    }
    (void)sw_ftp_parse_facts(line, n);
    (void)sw_ftp_fmt_pasv(out, sizeof out, name, (uint16_t)t);
    (void)sw_ftp_fmt_quoted(out, sizeof out, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    size_t step = size ? (size_t)data[0] % 17 : 0;
    size_t a = collect(data, size, 0, lines_a, sizeof lines_a);
    size_t b = collect(data, size, step, lines_b, sizeof lines_b);
    if (a != b || memcmp(lines_a, lines_b, a))
        __builtin_trap();
    static const char *const cwds[] = {"", "apps", "apps/example", "a/b/c/d"};
    size_t k = 0, i = 0;
    while (k < a) {
        char *nl = memchr(lines_a + k, '\n', a - k);
        size_t n = (size_t)(nl - (lines_a + k));
        one_line(lines_a + k, n, cwds[i++ % 4]);
        k += n + 1;
    }
    return 0;
}
