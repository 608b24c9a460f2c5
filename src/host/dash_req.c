// swarm dashboard: the decoder of the page's requests (dash.h). A pure function of the bytes:
// everything a browser (or anyone holding the token) sends is checked here, once, before the
// dashboard acts on it: sizes, types, ranges, the characters of names and paths.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dash.h"
#include "swarm/sw.h"

#define ID_MAX 9007199254740992.0 // 2^53: integers a JavaScript number holds exactly

static bool get_int(const cJSON *j, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double v = j->valuedouble;
    if (!isfinite(v) || v < lo || v > hi || v != floor(v))
        return false;
    *out = (int64_t)v;
    return true;
}

// A string of 1..cap-1 bytes, each printable ASCII other than the quote and backslash
// (keys and paths are echoed into messages and logs).
static bool get_name(const cJSON *j, char *out, size_t cap)
{
    if (!cJSON_IsString(j) || !j->valuestring)
        return false;
    size_t n = strlen(j->valuestring);
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)j->valuestring[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    memcpy(out, j->valuestring, n + 1);
    return true;
}

// A command path: dot-separated segments of [A-Za-z0-9_-], none empty.
static bool path_ok(const char *p)
{
    bool seg = false;
    for (; *p; p++) {
        char c = *p;
        if (c == '.') {
            if (!seg)
                return false;
            seg = false;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-') {
            seg = true;
        } else {
            return false;
        }
    }
    return seg;
}

static int fail(sw_dash_req_t *r, int rc, char *err, size_t errcap, const char *msg)
{
    snprintf(err, errcap, "%s", msg);
    cJSON_Delete(r->root);
    r->root = NULL;
    r->args = r->nodes = NULL;
    return rc;
}

int sw_dash_req_parse(const void *p, size_t n, sw_dash_req_t *r, char *err, size_t errcap)
{
    memset(r, 0, sizeof *r);
    r->id = -1;
    if (!p || n == 0)
        return fail(r, SW_EINVAL, err, errcap, "empty request");
    if (n > SW_DASH_REQ_MAX)
        return fail(r, SW_ETOOBIG, err, errcap, "request too large");
    const char *end = NULL;
    r->root = cJSON_ParseWithLengthOpts(p, n, &end, false);
    if (!r->root)
        return fail(r, SW_EINVAL, err, errcap, "not JSON");
    // only blanks may follow the object
    for (const char *q = end; q && q < (const char *)p + n; q++)
        if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t')
            return fail(r, SW_EINVAL, err, errcap, "bytes after the JSON object");
    if (!cJSON_IsObject(r->root))
        return fail(r, SW_EINVAL, err, errcap, "a request is a JSON object");
    int64_t id;
    if (!get_int(cJSON_GetObjectItemCaseSensitive(r->root, "id"), 0, ID_MAX, &id))
        return fail(r, SW_EINVAL, err, errcap, "\"id\" must be an integer from 0 to 2^53");
    r->id = id;
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(r->root, "op");
    if (!cJSON_IsString(op) || !op->valuestring)
        return fail(r, SW_EINVAL, err, errcap, "\"op\" must be a string");
    const char *o = op->valuestring;
    if (!strcmp(o, "call")) {
        r->op = SW_DASH_OP_CALL;
        if (!get_name(cJSON_GetObjectItemCaseSensitive(r->root, "node"), r->node, sizeof r->node))
            return fail(r, SW_EINVAL, err, errcap, "\"node\" must be a node's key");
        if (!get_name(cJSON_GetObjectItemCaseSensitive(r->root, "path"), r->path, sizeof r->path) ||
            !path_ok(r->path))
            return fail(r, SW_EINVAL, err, errcap,
                        "\"path\" must be a command path (names of letters, digits, _ and - "
                        "joined by dots)");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(r->root, "args");
        r->args = cJSON_IsNull(a) ? NULL : a;
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r->root, "every");
        int64_t every = 0;
        if (ev && !cJSON_IsNull(ev) && !get_int(ev, 0, 3600000, &every))
            return fail(r, SW_EINVAL, err, errcap, "\"every\" must be 0 to 3600000 (ms)");
        r->every_ms = (uint32_t)every;
    } else if (!strcmp(o, "cancel")) {
        r->op = SW_DASH_OP_CANCEL;
        if (!get_int(cJSON_GetObjectItemCaseSensitive(r->root, "ref"), 0, ID_MAX, &r->ref))
            return fail(r, SW_EINVAL, err, errcap, "\"ref\" must be the id of a call");
    } else if (!strcmp(o, "push")) {
        r->op = SW_DASH_OP_PUSH;
        if (!get_name(cJSON_GetObjectItemCaseSensitive(r->root, "project"), r->project,
                      sizeof r->project))
            return fail(r, SW_EINVAL, err, errcap, "\"project\" must name a project");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(r->root, "nodes");
        if (ns && !cJSON_IsNull(ns)) {
            if (!cJSON_IsArray(ns) || cJSON_GetArraySize(ns) > SW_DASH_PUSH_NODES_MAX)
                return fail(r, SW_EINVAL, err, errcap, "\"nodes\" must be an array of node keys");
            const cJSON *k;
            char tmp[SW_DASH_KEY_MAX];
            cJSON_ArrayForEach(k, ns) if (!get_name(k, tmp, sizeof tmp))
                return fail(r, SW_EINVAL, err, errcap, "\"nodes\" must be an array of node keys");
            r->nodes = ns;
        }
        const cJSON *dr = cJSON_GetObjectItemCaseSensitive(r->root, "dry_run");
        if (dr && !cJSON_IsBool(dr))
            return fail(r, SW_EINVAL, err, errcap, "\"dry_run\" must be true or false");
        r->dry_run = cJSON_IsTrue(dr);
        int64_t v = 0;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(r->root, "canary");
        if (c && !cJSON_IsNull(c) && !get_int(c, 0, 1000000, &v))
            return fail(r, SW_EINVAL, err, errcap, "\"canary\" must be 0 to 1000000");
        r->canary = (uint32_t)v;
        v = 0;
        c = cJSON_GetObjectItemCaseSensitive(r->root, "max_failures");
        if (c && !cJSON_IsNull(c) && !get_int(c, 0, 1000000, &v))
            return fail(r, SW_EINVAL, err, errcap, "\"max_failures\" must be 0 to 1000000");
        r->max_failures = (uint32_t)v;
        v = 0;
        c = cJSON_GetObjectItemCaseSensitive(r->root, "parallel");
        if (c && !cJSON_IsNull(c) && !get_int(c, 0, 1024, &v))
            return fail(r, SW_EINVAL, err, errcap, "\"parallel\" must be 0 to 1024");
        r->parallel = (uint32_t)v;
    } else if (!strcmp(o, "fleet")) {
        r->op = SW_DASH_OP_FLEET;
    } else {
        return fail(r, SW_EINVAL, err, errcap,
                    "unknown \"op\" (call, cancel, push or fleet)");
    }
    return 0;
}

void sw_dash_req_free(sw_dash_req_t *r)
{
    cJSON_Delete(r->root);
    r->root = NULL;
    r->args = r->nodes = NULL;
}

bool sw_dash_is_loopback(const char *a)
{
    if (!a)
        return true;
    return !strcmp(a, "localhost") || !strcmp(a, "::1") || !strcmp(a, "[::1]") ||
           !strncmp(a, "127.", 4);
}
