// The content hash of an app directory (app_hash.h): a cheap, order-independent fingerprint of
// the listing decides whether the files must be read again; the hash itself walks the tree in
// a fixed order without holding a listing in memory (each directory is re-listed to find the
// next name), so it needs no heap beyond one read buffer.
#include <stdio.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "app_hash.h"
#include "swarm/path.h"

#define CHUNK 4096
#define PATH_CAP 512

typedef struct walk {
    sw_node_t *n;
    char path[PATH_CAP]; // "apps/{app}/…": the entry being looked at
    size_t root_len;     // length of "apps/{app}"
    size_t len;
    int depth;
    int err;             // 0, or why the walk gave up (bounds, I/O)
    uint32_t files;
    uint64_t bytes;
    uint64_t fp;         // fingerprint: sum of per-entry mixes
    // content pass
    mbedtls_sha256_context sha;
    uint8_t *buf;
    const char *after;   // find_next: names greater than this (NULL: any)
    char best[SW_NAME_MAX + 1];
    uint8_t best_type;
    bool found;
} walk_t;

static uint64_t mix64(uint64_t x) // splitmix64's finaliser
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * UINT64_C(0x100000001b3);
    return h;
}

// Appends "/name" to w->path; false (and w->err) if it does not fit.
static bool push(walk_t *w, const char *name)
{
    size_t k = strlen(name);
    if (w->len + 1 + k >= sizeof w->path) {
        w->err = SW_ETOOBIG;
        return false;
    }
    w->path[w->len] = '/';
    memcpy(w->path + w->len + 1, name, k + 1);
    w->len += 1 + k;
    return true;
}

static void pop(walk_t *w, size_t len)
{
    w->len = len;
    w->path[len] = 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Fingerprint: every entry's (path, size, mtime) mixed into a sum, in whatever order the
// directory lists them.

static int fp_each(void *u, const sw_dirent_t *e)
{
    walk_t *w = u;
    if (e->name[0] == '.')
        return 0;
    size_t back = w->len;
    if (!push(w, e->name))
        return w->err;
    sw_node_t *n = w->n;
    if (e->type == SW_FT_DIR) {
        if (w->depth >= SW_APP_HASH_DEPTH) {
            w->err = SW_EDEPTH;
        } else {
            w->depth++;
            int rc = n->port.ops->fs_list(n->port.ctx, w->path, fp_each, w);
            w->depth--;
            if (rc && !w->err)
                w->err = rc;
        }
    } else if (e->type == SW_FT_FILE) {
        sw_stat_t st;
        int rc = n->port.ops->fs_stat(n->port.ctx, w->path, &st);
        if (rc == 0) { // a file that vanished meanwhile is simply not there
            if (++w->files > SW_APP_HASH_FILES)
                w->err = SW_ETOOBIG;
            w->bytes += st.size;
            if (w->bytes > SW_APP_HASH_BYTES)
                w->err = SW_ETOOBIG;
            uint64_t h = fnv1a(w->path + w->root_len, w->len - w->root_len);
            w->fp += mix64(h ^ mix64(st.size ^ mix64((uint64_t)st.mtime)));
        }
    }
    pop(w, back);
    return w->err;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Content: depth-first, names in byte order.

static int find_next(void *u, const sw_dirent_t *e)
{
    walk_t *w = u;
    if (e->name[0] == '.' || (e->type != SW_FT_FILE && e->type != SW_FT_DIR))
        return 0;
    if (w->after && strcmp(e->name, w->after) <= 0)
        return 0;
    if (w->found && strcmp(e->name, w->best) >= 0)
        return 0;
    memcpy(w->best, e->name, strlen(e->name) + 1);
    w->best_type = e->type;
    w->found = true;
    return 0;
}

static int hash_file(walk_t *w)
{
    sw_node_t *n = w->n;
    const sw_port_ops_t *o = n->port.ops;
    int fd, rc = o->fs_open(n->port.ctx, w->path, SW_O_READ, &fd);
    if (rc)
        return rc == SW_ENOENT ? 0 : rc; // gone meanwhile: the next listing will differ anyway
    mbedtls_sha256_context fsha;
    mbedtls_sha256_init(&fsha);
    rc = mbedtls_sha256_starts_ret(&fsha, 0) ? SW_EIO : 0;
    uint64_t off = 0;
    while (!rc) {
        int r = o->fs_read(n->port.ctx, fd, off, w->buf, CHUNK);
        if (r < 0)
            rc = r;
        if (r <= 0)
            break;
        off += (uint64_t)r;
        w->bytes += (uint64_t)r;
        if (w->bytes > SW_APP_HASH_BYTES)
            rc = SW_ETOOBIG;
        else if (mbedtls_sha256_update_ret(&fsha, w->buf, (size_t)r))
            rc = SW_EIO;
    }
    o->fs_close(n->port.ctx, fd);
    uint8_t digest[32];
    if (!rc && mbedtls_sha256_finish_ret(&fsha, digest))
        rc = SW_EIO;
    mbedtls_sha256_free(&fsha);
    if (rc)
        return rc;
    if (++w->files > SW_APP_HASH_FILES)
        return SW_ETOOBIG;
    char size[24];
    int k = snprintf(size, sizeof size, "%llu", (unsigned long long)off);
    const char *rel = w->path + w->root_len + 1;
    if (mbedtls_sha256_update_ret(&w->sha, (const uint8_t *)rel, strlen(rel) + 1) ||
        mbedtls_sha256_update_ret(&w->sha, (const uint8_t *)size, (size_t)k + 1) ||
        mbedtls_sha256_update_ret(&w->sha, digest, sizeof digest))
        return SW_EIO;
    return 0;
}

static int hash_dir(walk_t *w)
{
    sw_node_t *n = w->n;
    char last[SW_NAME_MAX + 1];
    bool have_last = false;
    for (;;) {
        w->after = have_last ? last : NULL;
        w->found = false;
        int rc = n->port.ops->fs_list(n->port.ctx, w->path, find_next, w);
        if (rc)
            return rc;
        if (!w->found)
            return 0;
        memcpy(last, w->best, strlen(w->best) + 1);
        have_last = true;
        uint8_t type = w->best_type;
        size_t back = w->len;
        if (!push(w, last))
            return w->err;
        if (type == SW_FT_DIR) {
            if (w->depth >= SW_APP_HASH_DEPTH)
                return SW_EDEPTH;
            w->depth++;
            rc = hash_dir(w);
            w->depth--;
        } else {
            rc = hash_file(w);
        }
        pop(w, back);
        if (rc)
            return rc;
    }
}

static bool content_hash(walk_t *w, sw_app_hash_t *h)
{
    w->buf = sw_node_alloc_buf(w->n, CHUNK);
    if (!w->buf)
        return false;
    w->files = 0;
    w->bytes = 0;
    w->depth = 0;
    mbedtls_sha256_init(&w->sha);
    int rc = mbedtls_sha256_starts_ret(&w->sha, 0) ? SW_EIO : hash_dir(w);
    uint8_t sum[32];
    if (!rc && mbedtls_sha256_finish_ret(&w->sha, sum))
        rc = SW_EIO;
    mbedtls_sha256_free(&w->sha);
    sw_node_release(w->n, w->buf, CHUNK);
    if (rc)
        return false;
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        h->hex[2 * i] = hex[sum[i] >> 4];
        h->hex[2 * i + 1] = hex[sum[i] & 15];
    }
    h->hex[64] = 0;
    h->rehashes++;
    return true;
}

bool sw__app_hash_update(sw_node_t *n, sw_app_hash_t *h, const char *app)
{
    if (strcmp(h->app, app) != 0) {
        memset(h, 0, sizeof *h);
        snprintf(h->app, sizeof h->app, "%s", app);
    }
    walk_t *w = sw_node_alloc(n, sizeof *w);
    if (!w)
        return h->valid; // keep what we had
    w->n = n;
    char dir[96];
    snprintf(dir, sizeof dir, "apps/%s", app);
    int len = app[0] && !strchr(app, '/') ? sw_path_norm(dir, strlen(dir), w->path, sizeof w->path) : SW_EINVAL;
    sw_stat_t st;
    bool ok = len > 5 && strncmp(w->path, "apps/", 5) == 0 && !strchr(w->path + 5, '/') &&
              n->port.ops->fs_stat(n->port.ctx, w->path, &st) == 0 && st.type == SW_FT_DIR;
    if (ok) {
        w->len = w->root_len = (size_t)len;
        int rc = n->port.ops->fs_list(n->port.ctx, w->path, fp_each, w);
        ok = !rc && !w->err;
    }
    uint64_t fp = w->fp ^ mix64(w->files);
    if (!ok) {
        h->listed = h->valid = false;
    } else if (!h->listed || h->fp != fp) {
        pop(w, w->root_len);
        h->fp = fp;
        h->valid = content_hash(w, h);
        h->listed = h->valid; // a failure here (memory, a file changing meanwhile) is retried
    }
    sw_node_release(n, w, sizeof *w);
    return h->valid;
}
