// swarm path normalisation: a client's path becomes a '/'-separated path relative to the node's
// root with no empty, "." or ".." segments, or is refused. Pure string logic.
//
// Walking the segments from the right resolves ".." without an intermediate buffer: a ".."
// cancels the nearest kept segment to its left, and one left over at the start climbed above
// the root. (A prefix with more ".." than names is exactly what leaves one over.) The first walk
// measures and validates, the second writes the kept segments from the end of out backwards, so
// out only has to hold the result.
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

int sw_path_norm(const char *in, size_t n, char *out, size_t cap)
{
    if (!in && n)
        return SW_EINVAL;
    for (size_t k = 0; k < n; k++)
        if (in[k] == '\0' || in[k] == '\\')
            return SW_EINVAL;

    // pass 1: validate, resolve, measure
    size_t len = 0, skip = 0;
    bool any = false;
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
                len += m + (any ? 1 : 0);
                any = true;
            }
        }
        if (s == 0)
            break;
        end = s - 1; // past the '/'
    }
    if (skip)
        return SW_EPERM;
    if (!out || cap == 0 || len > cap - 1 || len > (size_t)INT_MAX)
        return SW_ETOOBIG;

    // pass 2: the same walk, writing kept segments right to left
    size_t at = len;
    out[len] = '\0';
    skip = 0;
    for (size_t end = n; end > 0;) {
        size_t s = seg_start(in, end);
        size_t m = end - s;
        const char *p = in + s;
        if (is_dotdot(p, m)) {
            skip++;
        } else if (m && !is_dot(p, m)) {
            if (skip) {
                skip--;
            } else {
                if (at < len)
                    out[--at] = '/';
                at -= m;
                memcpy(out + at, p, m);
            }
        }
        if (s == 0)
            break;
        end = s - 1;
    }
    return sw_path_reserved(out) ? SW_EPERM : (int)len;
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
