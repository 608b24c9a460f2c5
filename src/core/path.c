// swarm path normalisation: a client's path becomes a '/'-separated path relative to the node's
// root with no empty, "." or ".." segments, or is refused. Pure string logic.
//
// Walking the segments from the right resolves ".." without an intermediate buffer: a ".."
// cancels the nearest kept segment to its left, and one left over at the start climbed above
// the root. (A prefix with more ".." than names is exactly what leaves one over.) The first walk
// measures and validates, the second (the same code) writes the kept segments from the end of
// out backwards, so out only has to hold the result.
#include <limits.h>
#include <string.h>

#include "swarm/path.h"
#include "swarm/port.h"

// The segment ending just before `end` (in[start..end)): returns start.
static size_t seg_start(const char *in, size_t end)
{
    size_t s = end;
    while (s > 0 && in[s - 1] != '/')
        s--;
    return s;
}

static bool is_dot(const char *p, size_t n) { return n == 1 && p[0] == '.'; }
static bool is_dotdot(const char *p, size_t n) { return n == 2 && p[0] == '.' && p[1] == '.'; }

// Both passes are this walk over the segments from the right: without out it validates and
// measures, with out (the first walk's len) it writes each kept segment, and the '/' after it
// unless it is the rightmost, from out[len] backwards.
int sw_path_walk(const char *in, size_t n, char *out, size_t len, size_t *above)
{
    if (!out)
        for (size_t k = 0; k < n; k++)
            if (in[k] == '\0' || in[k] == '\\')
                return SW_EINVAL;
    size_t total = 0, skip = 0;
    for (size_t end = n; end > 0;) {
        size_t s = seg_start(in, end);
        size_t m = end - s;
        const char *p = in + s;
        if (m > SW_NAME_MAX)
            return SW_EINVAL;
        if (is_dotdot(p, m)) {
            skip++;
        } else if (m && !is_dot(p, m)) {
            if (skip) {
                skip--;
            } else {
                size_t sep = total ? 1 : 0;
                total += m + sep;
                // The first walk measured exactly these, so they fit; the check keeps every
                // write inside out by itself rather than through that invariant across two
                // walks (which gcc cannot follow: -Wstringop-overflow at -O3, out's size known).
                if (out) {
                    if (total > len)
                        return SW_EINVAL;
                    memcpy(out + len - total, p, m);
                    if (sep)
                        out[len - total + m] = '/';
                }
            }
        }
        if (s == 0)
            break;
        end = s - 1; // past the '/'
    }
    *above = skip;
    return total > (size_t)INT_MAX ? SW_ETOOBIG : (int)total;
}

int sw_path_norm(const char *in, size_t n, char *out, size_t cap)
{
    if (!in && n)
        return SW_EINVAL;
    size_t above;
    int len = sw_path_walk(in, n, NULL, 0, &above);
    if (len < 0)
        return len;
    if (above)
        return SW_EPERM;
    if (!out || cap == 0 || (size_t)len > cap - 1)
        return SW_ETOOBIG;
    out[len] = '\0';
    sw_path_walk(in, n, out, (size_t)len, &above);
    return sw_path_reserved(out) ? SW_EPERM : len;
}

bool sw_path_reserved(const char *norm)
{
    // the node's key (and its temp file while it is written): never a client's to read, write,
    // rename or delete (docs/SECURITY.md)
    static const char key[] = SW_PATH_KEY_FILE;
    return norm && strncmp(norm, key, sizeof key - 1) == 0 &&
           (norm[sizeof key - 1] == '\0' || norm[sizeof key - 1] == '.');
}

const char *sw_path_base(const char *norm)
{
    if (!norm)
        return "";
    const char *slash = strrchr(norm, '/');
    return slash ? slash + 1 : norm;
}
