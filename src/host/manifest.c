// Manifests of push targets (manifest.h): the local tree walk in app-hash order, the id, the
// device's list read from MsgPack, and the diff that says what a push must send and delete.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcache.h"
#include "manifest.h"
#include "swarm/mp.h"
#include "swarm/sha256.h"
#include "swarm/sw.h"

void sw_manifest_init(sw_manifest_t *m)
{
    memset(m, 0, sizeof *m);
    sw_manifest_finish(m);
}

void sw_manifest_free(sw_manifest_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->files[i].path);
    free(m->files);
    sw_manifest_init(m);
}

int sw_manifest_add(sw_manifest_t *m, const char *path, uint64_t size, const uint8_t sha256[32])
{
    size_t plen = strlen(path);
    if (m->n >= SW_MF_MAX_FILES || plen == 0 || plen > SW_MF_PATH_MAX ||
        size > SW_MF_MAX_BYTES || m->bytes + size > SW_MF_MAX_BYTES)
        return SW_ETOOBIG;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        sw_mf_file_t *f = realloc(m->files, cap * sizeof *f);
        if (!f)
            return SW_EFULL;
        m->files = f;
        m->cap = cap;
    }
    sw_mf_file_t *f = &m->files[m->n];
    f->path = strdup(path);
    if (!f->path)
        return SW_EFULL;
    f->size = size;
    memcpy(f->sha256, sha256, 32);
    m->n++;
    m->bytes += size;
    return 0;
}

static void hexify(const uint8_t d[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = 0;
}

void sw_manifest_finish(sw_manifest_t *m)
{
    // SHA-256 fails only for a bad context (mbedTLS) or never (libcrypto): none here
    sw_sha256_t sha;
    (void)sw_sha256_begin(&sha);
    for (size_t i = 0; i < m->n; i++) {
        const sw_mf_file_t *f = &m->files[i];
        char size[24];
        int k = snprintf(size, sizeof size, "%llu", (unsigned long long)f->size);
        (void)sw_sha256_update(&sha, f->path, strlen(f->path) + 1);
        (void)sw_sha256_update(&sha, size, (size_t)k + 1);
        (void)sw_sha256_update(&sha, f->sha256, 32);
    }
    (void)sw_sha256_end(&sha, m->id);
    hexify(m->id, m->hex);
}

bool sw_manifest_unhex(const char *s, size_t n, uint8_t out[32])
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The local tree

typedef struct walk {
    sw_manifest_t *m;
    char *err;
    size_t errcap;
    uint8_t buf[65536];
} walk_t;

static int fail(walk_t *w, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(walk_t *w, int rc, const char *fmt, ...)
{
    if (w->err && w->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, w->errcap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b); // strcmp compares bytes as unsigned
}

static int add_file(walk_t *w, const char *full, const char *rel, uint64_t size, const uint8_t d[32]);

static int hash_file(walk_t *w, const char *full, const char *rel, const struct stat *st)
{
    uint8_t known[32];
    if (st->st_size <= SW_MF_MAX_BYTES && (sw_fcache_get(st, SW_FC_SHA, known) & SW_FC_SHA))
        return add_file(w, full, rel, (uint64_t)st->st_size, known); // hashed before, unchanged
    int64_t read_ms = sw_fcache_now_ms();
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(w, SW_EIO, "cannot read %s: %s", full, strerror(errno));
    sw_sha256_t sha;
    (void)sw_sha256_begin(&sha); // cannot fail: sw_manifest_finish
    uint64_t size = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, w->buf, sizeof w->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fail(w, SW_EIO, "cannot read %s: %s", full, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        size += (uint64_t)n;
        if (size > SW_MF_MAX_BYTES) {
            rc = fail(w, SW_ETOOBIG, "%s: more than %u MiB", full, SW_MF_MAX_BYTES >> 20);
            break;
        }
        (void)sw_sha256_update(&sha, w->buf, (size_t)n);
    }
    close(fd);
    uint8_t d[32];
    (void)sw_sha256_end(&sha, d);
    if (rc)
        return rc;
    if (size == (uint64_t)st->st_size)
        sw_fcache_put(st, read_ms, SW_FC_SHA, d);
    return add_file(w, full, rel, size, d);
}

static int add_file(walk_t *w, const char *full, const char *rel, uint64_t size, const uint8_t d[32])
{
    int rc = sw_manifest_add(w->m, rel, size, d);
    if (rc == SW_ETOOBIG) {
        if (strlen(rel) > SW_MF_PATH_MAX)
            return fail(w, rc, "%s: path longer than %u bytes", full, SW_MF_PATH_MAX);
        if (w->m->n >= SW_MF_MAX_FILES)
            return fail(w, rc, "more than %u files (a device hashes at most that many)",
                        SW_MF_MAX_FILES);
        return fail(w, rc, "more than %u MiB of files (a device hashes at most that much)",
                    SW_MF_MAX_BYTES >> 20);
    }
    if (rc)
        return fail(w, rc, "out of memory");
    return 0;
}

static int walk_dir(walk_t *w, const char *full, const char *rel, int depth)
{
    DIR *d = opendir(full);
    if (!d) {
        if (errno == ENOENT && depth == 0)
            return 0; // no directory: the empty target
        return fail(w, SW_EIO, "cannot list %s: %s", full, strerror(errno));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; // also "." and ".."
        if (n == cap) {
            size_t c = cap ? cap * 2 : 32;
            char **p = realloc(names, c * sizeof *p);
            if (!p) {
                rc = fail(w, SW_EFULL, "out of memory");
                break;
            }
            names = p;
            cap = c;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = fail(w, SW_EFULL, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && !rc; i++) {
        char *f = NULL, *r = NULL;
        if (asprintf(&f, "%s/%s", full, names[i]) < 0)
            f = NULL;
        if (asprintf(&r, "%s%s%s", rel, rel[0] ? "/" : "", names[i]) < 0)
            r = NULL;
        struct stat st;
        if (!f || !r) {
            rc = fail(w, SW_EFULL, "out of memory");
        } else if (stat(f, &st) != 0) {
            // a dangling symbolic link, or a file removed meanwhile: nothing to send
            if (errno != ENOENT)
                rc = fail(w, SW_EIO, "cannot read %s: %s", f, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            if (depth >= SW_MF_MAX_DEPTH)
                rc = fail(w, SW_EDEPTH, "%s: more than %d directory levels", f, SW_MF_MAX_DEPTH);
            else
                rc = walk_dir(w, f, r, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = hash_file(w, f, r, &st);
        }
        free(f);
        free(r);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int sw_manifest_scan(const char *dir, sw_manifest_t *m, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = 0;
    sw_manifest_free(m);
    walk_t *w = malloc(sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return SW_EFULL;
    }
    w->m = m;
    w->err = err;
    w->errcap = errcap;
    int rc = walk_dir(w, dir, "", 0);
    free(w);
    if (rc)
        sw_manifest_free(m);
    else
        sw_manifest_finish(m);
    return rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The device's list

// Drops the files after the first keep (undoing a partly added page).
static void truncate_to(sw_manifest_t *m, size_t keep)
{
    while (m->n > keep) {
        m->n--;
        m->bytes -= m->files[m->n].size;
        free(m->files[m->n].path);
    }
}

int sw_manifest_add_mp(const uint8_t *p, size_t n, sw_manifest_t *m)
{
    size_t keep = m->n;
    sw_mpr_t r;
    sw_mpr_init(&r, p, n);
    uint32_t k;
    if (!sw_mpr_array(&r, &k) || k > SW_MF_MAX_FILES)
        return SW_EPROTO;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t parts;
        sw_span_t path, sha;
        uint64_t size;
        char name[SW_MF_PATH_MAX + 1];
        if (!sw_mpr_array(&r, &parts) || parts < 3 || !sw_mpr_str(&r, &path) ||
            !sw_mpr_uint(&r, &size) || !sw_mpr_bin(&r, &sha) || sha.n != 32 ||
            path.n == 0 || path.n > SW_MF_PATH_MAX || memchr(path.p, 0, path.n))
            goto bad;
        for (uint32_t j = 3; j < parts; j++) // later versions may add fields
            if (sw_mpr_skip(&r))
                goto bad;
        memcpy(name, path.p, path.n);
        name[path.n] = 0;
        int rc = sw_manifest_add(m, name, size, sha.p);
        if (rc == SW_EFULL) {
            truncate_to(m, keep);
            return rc;
        }
        if (rc)
            goto bad;
    }
    if (r.err)
        goto bad;
    return 0;
bad:
    truncate_to(m, keep);
    return SW_EPROTO;
}

int sw_manifest_from_mp(const uint8_t *p, size_t n, sw_manifest_t *m)
{
    sw_manifest_free(m);
    int rc = sw_manifest_add_mp(p, n, m);
    if (rc)
        sw_manifest_free(m);
    else
        sw_manifest_finish(m);
    return rc;
}

const sw_mf_file_t *sw_manifest_find(const sw_manifest_t *m, const char *path)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->files[i].path, path))
            return &m->files[i];
    return NULL;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Diff

void sw_mf_diff_free(sw_mf_diff_t *d)
{
    free(d->put);
    free(d->del);
    memset(d, 0, sizeof *d);
}

int sw_manifest_diff(const sw_manifest_t *want, const sw_manifest_t *have, sw_mf_diff_t *d)
{
    memset(d, 0, sizeof *d);
    d->put = malloc((want->n ? want->n : 1) * sizeof *d->put);
    d->del = malloc((have->n ? have->n : 1) * sizeof *d->del);
    if (!d->put || !d->del) {
        sw_mf_diff_free(d);
        return SW_EFULL;
    }
    for (size_t i = 0; i < want->n; i++) {
        const sw_mf_file_t *w = &want->files[i];
        const sw_mf_file_t *h = sw_manifest_find(have, w->path);
        if (!h || h->size != w->size || memcmp(h->sha256, w->sha256, 32)) {
            d->put[d->n_put++] = i;
            d->put_bytes += w->size;
        }
    }
    for (size_t i = 0; i < have->n; i++)
        if (!sw_manifest_find(want, have->files[i].path))
            d->del[d->n_del++] = i;
    return 0;
}

long sw_manifest_dirs(const sw_manifest_t *want, const sw_mf_diff_t *d, char ***out)
{
    *out = NULL;
    char **dirs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < d->n_put; i++) {
        const char *p = want->files[d->put[i]].path;
        // every proper prefix ending before a '/', shortest first: parents before children
        for (const char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
            size_t len = (size_t)(s - p);
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = strlen(dirs[k]) == len && !memcmp(dirs[k], p, len);
            if (seen)
                continue;
            if (n == cap) {
                size_t c = cap ? cap * 2 : 16;
                char **q = realloc(dirs, c * sizeof *q);
                if (!q)
                    goto oom;
                dirs = q;
                cap = c;
            }
            if (!(dirs[n] = strndup(p, len)))
                goto oom;
            n++;
        }
    }
    *out = dirs;
    return (long)n;
oom:
    for (size_t k = 0; k < n; k++)
        free(dirs[k]);
    free(dirs);
    return SW_EFULL;
}
