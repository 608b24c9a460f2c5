// The content hash of an app directory (app_hash.h): a cheap, order-independent fingerprint of
// the listing decides whether the files must be read again; the hash itself walks the tree in
// a fixed order without holding a listing in memory (each directory is re-listed to find the
// next name), so it needs no heap beyond one read buffer.
#include "profile.h"
#if SW_WITH_FS
#include <stdio.h>
#include <string.h>

#include "app_hash.h"
#include "swarm/sha256.h"
#include "swarm/path.h"

#define CHUNK SW_NODE_FILE_CHUNK // bytes read at a time while hashing (profile.h)
#define PATH_CAP SW_NODE_PATH_MAX

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
    size_t pbytes;       // bytes of the files' relative paths, a NUL each (sw__mf_reserve)
    // content pass: the walk calls on_file for every regular file, in canonical order
    int (*on_file)(struct walk *w);
    sw_mf_sink_t sink;           // manifests: where each file goes, and the previous list
    void *sink_u;
    const sw_manifest_t *cache;
    sw_sha256_t sha;
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
            w->pbytes += w->len - w->root_len; // "/rel" counts as "rel" + NUL
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

// SHA-256 and size of the file at path, reading at most budget bytes (more: SW_ETOOBIG). buf
// holds CHUNK bytes.
static int file_digest(sw_node_t *n, const char *path, uint8_t *buf, uint64_t budget, uint8_t digest[32],
                       uint64_t *size)
{
    const sw_port_ops_t *o = n->port.ops;
    int fd, rc = o->fs_open(n->port.ctx, path, SW_O_READ, &fd);
    if (rc)
        return rc;
    sw_sha256_t fsha;
    rc = sw_sha256_begin(&fsha);
    uint64_t off = 0;
    while (!rc) {
        int r = o->fs_read(n->port.ctx, fd, off, buf, CHUNK);
        if (r < 0)
            rc = r;
        if (r <= 0)
            break;
        off += (uint64_t)r;
        if (off > budget)
            rc = SW_ETOOBIG;
        else
            rc = sw_sha256_update(&fsha, buf, (size_t)r);
    }
    o->fs_close(n->port.ctx, fd);
    if (!rc)
        rc = sw_sha256_end(&fsha, digest);
    *size = off;
    return rc;
}

// The one definition of a file's part of the hash: path | 0 | size in decimal | 0 | SHA-256.
static int record(sw_sha256_t *sha, const char *rel, size_t len, uint64_t size, const uint8_t digest[32])
{
    static const uint8_t zero = 0;
    char dec[24];
    int k = snprintf(dec, sizeof dec, "%llu", (unsigned long long)size);
    if (sw_sha256_update(sha, rel, len) || sw_sha256_update(sha, &zero, 1) ||
        sw_sha256_update(sha, dec, (size_t)k + 1) || sw_sha256_update(sha, digest, 32))
        return SW_EIO;
    return 0;
}

// The app hash's per-file step: digest, then the record.
static int hash_file(walk_t *w)
{
    uint8_t digest[32];
    uint64_t size;
    int rc = file_digest(w->n, w->path, w->buf, SW_APP_HASH_BYTES - w->bytes, digest, &size);
    if (rc)
        return rc == SW_ENOENT ? 0 : rc; // gone meanwhile: the next listing will differ anyway
    w->bytes += size;
    if (++w->files > SW_APP_HASH_FILES)
        return SW_ETOOBIG;
    const char *rel = w->path + w->root_len + 1;
    return record(&w->sha, rel, strlen(rel), size, digest);
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
            rc = w->on_file(w);
        }
        pop(w, back);
        if (rc)
            return rc;
    }
}

static void to_hex(const uint8_t sum[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[sum[i] >> 4];
        hex[2 * i + 1] = digits[sum[i] & 15];
    }
    hex[64] = 0;
}

static bool content_hash(walk_t *w, sw_app_hash_t *h)
{
    w->buf = sw_node_alloc_buf(w->n, CHUNK);
    if (!w->buf)
        return false;
    w->on_file = hash_file;
    w->files = 0;
    w->bytes = 0;
    w->depth = 0;
    int rc = sw_sha256_begin(&w->sha);
    if (!rc)
        rc = hash_dir(w);
    uint8_t sum[32];
    if (!rc)
        rc = sw_sha256_end(&w->sha, sum);
    sw_node_release(w->n, w->buf, CHUNK);
    if (rc)
        return false;
    to_hex(sum, h->hex);
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
    } else if (!h->listed || h->fp != fp || h->gen != n->files_gen) {
        pop(w, w->root_len);
        h->fp = fp;
        h->gen = n->files_gen;
        h->valid = content_hash(w, h);
        h->listed = h->valid; // a failure here (memory, a file changing meanwhile) is retried
    }
    sw_node_release(n, w, sizeof *w);
    return h->valid;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Manifests

// Grows a buffer through the port's allocator (lua_Alloc-shaped: it can reallocate).
static void *grow(sw_node_t *n, void *p, size_t old, size_t want)
{
    return n->port.ops->alloc(n->port.ctx, SW_POOL_NODE, p, old, want);
}

int sw__mf_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    // '/' ranks below every byte of a name, so comparing whole paths compares segments
    for (size_t i = 0; i < an && i < bn; i++) {
        unsigned ca = a[i] == '/' ? 0u : (unsigned)(uint8_t)a[i] + 1u;
        unsigned cb = b[i] == '/' ? 0u : (unsigned)(uint8_t)b[i] + 1u;
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

int sw__mf_reserve(sw_node_t *n, sw_manifest_t *m, uint32_t count, size_t pool)
{
#if SW_MF_POOL
    if (count > SW_APP_HASH_FILES)
        return SW_ETOOBIG;
    if (pool > SW_MF_POOL) // an estimate beyond the bound: the bound (more is SW_ETOOBIG anyway)
        pool = SW_MF_POOL;
    if (m->count)
        return SW_EINVAL; // only an empty manifest
    count = count ? count : 1;
    pool = pool ? pool : 1;
    if (m->cap >= count && m->pool_cap >= pool)
        return 0;
    sw__mf_release(n, m);
    m->ents = grow(n, NULL, 0, (size_t)count * sizeof *m->ents);
    m->pool = m->ents ? grow(n, NULL, 0, pool) : NULL;
    if (!m->pool) {
        sw__mf_release(n, m);
        return SW_EFULL;
    }
    m->cap = count;
    m->pool_cap = pool;
#else
    (void)n, (void)m, (void)count, (void)pool;
#endif
    return 0;
}

void sw__mf_clear(sw_manifest_t *m)
{
    m->count = 0;
    m->pool_len = 0;
    m->bytes = 0;
}

void sw__mf_release(sw_node_t *n, sw_manifest_t *m)
{
    sw_node_release(n, m->ents, (size_t)m->cap * sizeof *m->ents);
    sw_node_release(n, m->pool, m->pool_cap);
    memset(m, 0, sizeof *m);
}

int sw__mf_add(sw_node_t *n, sw_manifest_t *m, const char *rel, size_t len, uint64_t size, int64_t mtime,
               const uint8_t *sha)
{
    if (len == 0 || len > SW_MF_PATH_MAX)
        return SW_ETOOBIG;
    unsigned levels = 0;
    for (size_t i = 0; i < len; i++)
        levels += rel[i] == '/';
    if (levels > SW_APP_HASH_DEPTH)
        return SW_EDEPTH;
    if (m->count >= SW_APP_HASH_FILES || size > SW_APP_HASH_BYTES - m->bytes)
        return SW_ETOOBIG;
#if SW_MF_POOL
    if (!m->cap) { // the whole bound at once
        m->ents = grow(n, NULL, 0, (size_t)SW_APP_HASH_FILES * sizeof *m->ents);
        m->pool = m->ents ? grow(n, NULL, 0, SW_MF_POOL) : NULL;
        if (!m->pool) {
            sw_node_release(n, m->ents, (size_t)SW_APP_HASH_FILES * sizeof *m->ents);
            m->ents = NULL;
            return SW_EFULL;
        }
        m->cap = SW_APP_HASH_FILES;
        m->pool_cap = SW_MF_POOL;
    }
    if (m->pool_len + len + 1 > m->pool_cap || m->count == m->cap)
        return SW_ETOOBIG; // reserved: never grown
#endif
    if (m->count == m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        if (cap > SW_APP_HASH_FILES)
            cap = SW_APP_HASH_FILES;
        sw_mf_ent_t *e = grow(n, m->ents, (size_t)m->cap * sizeof *e, (size_t)cap * sizeof *e);
        if (!e)
            return SW_EFULL;
        m->ents = e;
        m->cap = cap;
    }
    if (m->pool_len + len + 1 > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap : 512;
        while (cap < m->pool_len + len + 1)
            cap *= 2;
        char *p = grow(n, m->pool, m->pool_cap, cap);
        if (!p)
            return SW_EFULL;
        m->pool = p;
        m->pool_cap = cap;
    }
    sw_mf_ent_t *e = &m->ents[m->count++];
    e->off = (uint32_t)m->pool_len;
    e->len = (uint16_t)len;
    e->size = size;
    e->mtime = mtime;
    if (sha)
        memcpy(e->sha, sha, 32);
    else
        memset(e->sha, 0, 32);
    memcpy(m->pool + m->pool_len, rel, len);
    m->pool[m->pool_len + len] = 0;
    m->pool_len += len + 1;
    m->bytes += size;
    return 0;
}

static int ent_cmp(const sw_manifest_t *m, const sw_mf_ent_t *a, const sw_mf_ent_t *b)
{
    return sw__mf_cmp(m->pool + a->off, a->len, m->pool + b->off, b->len);
}

void sw__mf_sort(sw_manifest_t *m)
{
    // insertion sort: at most SW_APP_HASH_FILES entries, usually already in order
    for (uint32_t i = 1; i < m->count; i++) {
        sw_mf_ent_t x = m->ents[i];
        uint32_t j = i;
        while (j > 0 && ent_cmp(m, &m->ents[j - 1], &x) > 0) {
            m->ents[j] = m->ents[j - 1];
            j--;
        }
        m->ents[j] = x;
    }
}

int sw__mf_find(const sw_manifest_t *m, const char *rel, size_t len)
{
    uint32_t lo = 0, hi = m->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = sw__mf_cmp(sw__mf_path(m, mid), m->ents[mid].len, rel, len);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void sw__mf_id_begin(sw_mf_id_t *x)
{
    x->rc = sw_sha256_begin(&x->sha);
}

void sw__mf_id_add(sw_mf_id_t *x, const char *rel, size_t len, uint64_t size, const uint8_t sha[32])
{
    if (!x->rc)
        x->rc = record(&x->sha, rel, len, size, sha);
}

int sw__mf_id_end(sw_mf_id_t *x, char hex[65])
{
    uint8_t sum[32];
    int rc = x->rc;
    if (!rc)
        rc = sw_sha256_end(&x->sha, sum);
    if (!rc)
        to_hex(sum, hex);
    return rc;
}

int sw__mf_id(const sw_manifest_t *m, char hex[65])
{
    sw_mf_id_t x;
    sw__mf_id_begin(&x);
    for (uint32_t i = 0; i < m->count; i++)
        sw__mf_id_add(&x, sw__mf_path(m, i), m->ents[i].len, m->ents[i].size, m->ents[i].sha);
    return sw__mf_id_end(&x, hex);
}

// The manifest's per-file step: a cached digest if the file cannot have changed, else a fresh one.
static int mf_file(walk_t *w)
{
    sw_node_t *n = w->n;
    sw_stat_t st;
    int rc = n->port.ops->fs_stat(n->port.ctx, w->path, &st);
    if (rc)
        return rc == SW_ENOENT ? 0 : rc;
    const char *rel = w->path + w->root_len + 1;
    size_t len = strlen(rel);
    if (len > SW_MF_PATH_MAX)
        return SW_ETOOBIG;
    const sw_manifest_t *c = w->cache;
    int k = c && c->gen == n->files_gen ? sw__mf_find(c, rel, len) : -1;
    uint8_t digest[32];
    uint64_t size = st.size;
    if (k >= 0 && c->ents[k].size == st.size && c->ents[k].mtime == st.mtime && st.mtime < c->hashed_at) {
        memcpy(digest, c->ents[k].sha, 32);
    } else {
        rc = file_digest(n, w->path, w->buf, SW_APP_HASH_BYTES - w->bytes, digest, &size);
        if (rc)
            return rc == SW_ENOENT ? 0 : rc;
    }
    if (++w->files > SW_APP_HASH_FILES || size > SW_APP_HASH_BYTES - w->bytes)
        return SW_ETOOBIG;
    w->bytes += size;
    return w->sink(w->sink_u, rel, len, size, st.mtime, digest);
}

int sw__mf_walk(sw_node_t *n, const char *dir, const sw_manifest_t *cache, sw_mf_sink_t sink, void *u)
{
    sw_stat_t st;
    int rc = n->port.ops->fs_stat(n->port.ctx, dir, &st);
    if (rc == SW_ENOENT)
        return 0;
    if (rc)
        return rc;
    if (st.type != SW_FT_DIR)
        return SW_ENOTDIR;
    walk_t *w = sw_node_alloc(n, sizeof *w);
    uint8_t *buf = sw_node_alloc_buf(n, CHUNK);
    size_t len = strlen(dir);
    if (!w || !buf) {
        rc = SW_EFULL;
    } else if (len + 1 >= sizeof w->path) {
        rc = SW_ETOOBIG;
    } else {
        w->n = n;
        memcpy(w->path, dir, len + 1);
        w->len = w->root_len = len;
        w->buf = buf;
        w->on_file = mf_file;
        w->sink = sink;
        w->sink_u = u;
        w->cache = cache;
        rc = hash_dir(w);
        if (!rc && w->err)
            rc = w->err;
    }
    sw_node_release(n, buf, CHUNK);
    sw_node_release(n, w, sizeof *w);
    return rc;
}

typedef struct build {
    sw_node_t *n;
    sw_manifest_t *m;
} build_t;

static int build_sink(void *u, const char *rel, size_t len, uint64_t size, int64_t mtime, const uint8_t sha[32])
{
    build_t *b = u;
    return sw__mf_add(b->n, b->m, rel, len, size, mtime, sha);
}

#if SW_MF_POOL
// A listing pass that counts the files under dir and the bytes of their paths: the exact
// reservation of their manifest.
static int count_files(sw_node_t *n, const char *dir, uint32_t *files, size_t *pbytes)
{
    walk_t *w = sw_node_alloc(n, sizeof *w);
    if (!w)
        return SW_EFULL;
    size_t len = strlen(dir);
    int rc = SW_ETOOBIG;
    if (len + 1 < sizeof w->path) {
        w->n = n;
        memcpy(w->path, dir, len + 1);
        w->len = w->root_len = len;
        rc = n->port.ops->fs_list(n->port.ctx, w->path, fp_each, w);
        if (!rc)
            rc = w->err;
        *files = w->files;
        *pbytes = w->pbytes;
    }
    sw_node_release(n, w, sizeof *w);
    return rc;
}
#endif

int sw__mf_build(sw_node_t *n, const char *dir, sw_manifest_t *m, const sw_manifest_t *cache)
{
    sw__mf_clear(m);
    m->hashed_at = n->port.ops->wall_s(n->port.ctx);
    m->gen = n->files_gen;
    int rc = 0;
#if SW_MF_POOL
    sw_stat_t st;
    uint32_t files = 0;
    size_t pbytes = 0;
    rc = n->port.ops->fs_stat(n->port.ctx, dir, &st);
    if (rc == SW_ENOENT)
        return 0;
    if (!rc && st.type != SW_FT_DIR)
        rc = SW_ENOTDIR;
    if (!rc)
        rc = count_files(n, dir, &files, &pbytes);
    if (!rc && files)
        rc = sw__mf_reserve(n, m, files, pbytes);
#endif
    build_t b = {n, m};
    if (!rc)
        rc = sw__mf_walk(n, dir, cache, build_sink, &b);
    if (rc)
        sw__mf_clear(m);
    return rc;
}

int sw__file_sha(sw_node_t *n, const char *path, uint8_t sha[32], uint64_t *size)
{
    uint8_t *buf = sw_node_alloc_buf(n, CHUNK);
    if (!buf)
        return SW_EFULL;
    int rc = file_digest(n, path, buf, SW_APP_HASH_BYTES, sha, size);
    sw_node_release(n, buf, CHUNK);
    return rc;
}

#endif // SW_WITH_FS
