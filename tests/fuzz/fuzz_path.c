// Fuzz target: path normalisation on arbitrary bytes. The result never has an empty, "." or
// ".." segment, a leading or trailing '/', a NUL or a backslash; normalising it again is the
// identity; and result and error agree with a naive stack-based model.
#include <string.h>

#include "swarm/path.h"
#include "swarm/port.h"

static char out[1 << 16], again[1 << 16];

// The obvious implementation: split, push names, pop on "..". Needs room for every segment.
static int model(const uint8_t *in, size_t n, char *res, size_t cap)
{
    static size_t start[1 << 16], len[1 << 16];
    size_t depth = 0, s = 0;
    for (size_t k = 0; k < n; k++)
        if (in[k] == 0 || in[k] == '\\')
            return SW_EINVAL;
    for (size_t k = 0; k <= n; k++) {
        if (k < n && in[k] != '/')
            continue;
        if (k - s > SW_NAME_MAX)
            return SW_EINVAL;
        s = k + 1;
    }
    s = 0;
    for (size_t k = 0; k <= n; k++) {
        if (k < n && in[k] != '/')
            continue;
        size_t m = k - s;
        if (m == 2 && in[s] == '.' && in[s + 1] == '.') {
            if (depth == 0)
                return SW_EPERM;
            depth--;
        } else if (m && !(m == 1 && in[s] == '.')) {
            start[depth] = s;
            len[depth++] = m;
        }
        s = k + 1;
    }
    size_t at = 0;
    for (size_t d = 0; d < depth; d++) {
        if (at + (d ? 1 : 0) + len[d] + 1 > cap)
            return SW_ETOOBIG;
        if (d)
            res[at++] = '/';
        memcpy(res + at, in + start[d], len[d]);
        at += len[d];
    }
    if (at + 1 > cap)
        return SW_ETOOBIG;
    res[at] = 0;
    // the node's key file is refused, however it is spelt
    if (!strncmp(res, "swarm.key", 9) && (res[9] == 0 || res[9] == '.'))
        return SW_EPERM;
    return (int)at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > sizeof out - 1)
        return 0;
    // the first byte picks a small output size now and then, to reach SW_ETOOBIG
    size_t cap = sizeof out;
    if (size && data[0] == 0xff && size > 1) {
        cap = data[1] % 64;
        data += 2;
        size -= 2;
    }
    int rc = sw_path_norm((const char *)data, size, out, cap);
    static char want[1 << 16];
    int rm = model(data, size, want, cap);
    if (rc != rm)
        __builtin_trap();
    if (rc < 0)
        return 0;

    size_t n = (size_t)rc;
    if (strlen(out) != n || strcmp(out, want) != 0)
        __builtin_trap();
    if (n && (out[0] == '/' || out[n - 1] == '/'))
        __builtin_trap();
    if (strchr(out, '\\') || strstr(out, "//"))
        __builtin_trap();
    // every segment is a real name
    for (size_t s = 0; s <= n;) {
        size_t e = s;
        while (e < n && out[e] != '/')
            e++;
        size_t m = e - s;
        if (n && (m == 0 || m > SW_NAME_MAX || (m == 1 && out[s] == '.') ||
                  (m == 2 && out[s] == '.' && out[s + 1] == '.')))
            __builtin_trap();
        s = e + 1;
    }
    // idempotent
    if (sw_path_norm(out, n, again, sizeof again) != rc || memcmp(out, again, n + 1) != 0)
        __builtin_trap();
    // the base name is the last segment
    const char *b = sw_path_base(out);
    if (strchr(b, '/') || b < out || b > out + n || (n && !*b))
        __builtin_trap();
    return 0;
}
