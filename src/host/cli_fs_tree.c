// `swarm fs`: directory trees — put -r and sync walk a local directory onto the device (sync
// skips what is unchanged and counts or deletes what the device has extra), get -r walks a
// device directory into a local one without following links.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_fs_int.h"

// A directory on the device that must exist (made when missing; its parent exists).
static int ensure_rdir(fs_t *f, const char *path)
{
    if (!path[0])
        return SW_EXIT_OK;
    reply_t r;
    int err = sw__fs_path_call(f, "f.mkdir", path, NULL, false, &r);
    free(r.p);
    if (err == SW_EREMOTE && !strcmp(r.text, "fx")) {
        ent_t e;
        err = sw__fs_rstat(f, path, &e, &r);
        if (!err && e.type != 'd') {
            sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", path);
            return SW_EXIT_REMOTE;
        }
    }
    return err ? sw__fs_report(f, err, r.text, path) : SW_EXIT_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// The entries of a local directory, sorted (so trees are copied in a stable order).
static int local_list(fs_t *f, const char *dir, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        sw_cli_error(&f->c, "fs", "cannot read %s: %s", dir, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    size_t cap = 0;
    char **v = NULL;
    struct dirent *e;
    int rc = SW_EXIT_OK;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = SW_EXIT_LOCAL;
                break;
            }
            v = nv;
        }
        if (!(v[*n] = strdup(e->d_name))) {
            rc = SW_EXIT_LOCAL;
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc)
        sw_cli_error(&f->c, "fs", "out of memory");
    else if (*n)
        qsort(v, *n, sizeof *v, cmp_names);
    *out = v;
    return rc;
}

// A name of a sorted list (binary search).
static bool in_names(char **names, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(names[mid], name);
        if (!c)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

// sync: what the device has in rdir and ldir lacks (names: ldir's, sorted) is counted, or
// with --delete removed (or with --dry-run named).
static int sync_extra(fs_t *f, const listing_t *ls, char **names, size_t n, const char *rdir)
{
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < ls->n && !fatal(rc) && !f->interrupted; i++) {
        const ent_t *e = &ls->e[i];
        if (e->name && !e->bad_name && in_names(names, n, e->name))
            continue;
        if (!f->del) {
            f->extra++;
            continue;
        }
        int x = SW_EXIT_OK;
        if (!sw__fs_safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, not deleted", e->name ? e->name : "", rdir[0] ? rdir : "/");
            x = SW_EXIT_REMOTE;
        } else {
            char *rp = sw__fs_join(rdir, e->name);
            if (!f->dry)
                x = e->type == 'd' ? sw__fs_rm_tree(f, rp, 0) : sw__fs_path_op(f, "f.rm", rp);
            if (!x) {
                f->deleted++;
                sw__fs_sync_line(f, "delete", NULL, rp, 0);
            }
            free(rp);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// The local directory ldir to the device directory rdir: put -r, and sync (f->sync: what the
// device has is listed first, unchanged files skipped, extras counted or deleted; f->dry:
// nothing changes, the actions are printed). missing: rdir is known not to exist (dry run).
int sw__fs_put_tree(fs_t *f, const char *ldir, const char *rdir, int depth, bool missing)
{
    if (depth > MAX_DEPTH) {
        sw_cli_error(&f->c, "fs", "%s: more than %d directory levels", ldir, MAX_DEPTH);
        return SW_EXIT_LOCAL;
    }
    int rc = SW_EXIT_OK;
    if (f->dry) {
        if (!missing && rdir[0]) {
            ent_t e;
            reply_t r;
            int err = sw__fs_rstat(f, rdir, &e, &r);
            if (err == SW_EREMOTE && !strcmp(r.text, "fn"))
                missing = true;
            else if (err)
                return sw__fs_report(f, err, r.text, rdir);
            else if (e.type != 'd') {
                sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", rdir);
                return SW_EXIT_REMOTE;
            }
        }
        if (missing)
            sw__fs_sync_line(f, "mkdir", NULL, rdir, 0);
    } else {
        rc = depth == 0 ? sw__fs_mkdir_p(f, rdir) : ensure_rdir(f, rdir);
    }
    if (rc)
        return rc;
    // --changed and sync compare with what the device has: one listing per directory
    listing_t ls = {NULL, 0};
    bool known = missing;
    if ((f->changed || f->sync) && !missing) {
        reply_t r;
        int err = sw__fs_rlist(f, rdir, true, &ls, &r);
        if (err == 0)
            known = true;
        else if (f->del || !(err == SW_EREMOTE && !strncmp(r.text, "ETOOBIG", 7)))
            return sw__fs_report(f, err, r.text, rdir[0] ? rdir : "/"); // (too large: stat each)
    }
    char **names;
    size_t n;
    rc = local_list(f, ldir, &names, &n);
    for (size_t i = 0; i < n && !rc && !f->interrupted; i++) {
        char *lp = sw__fs_join(ldir, names[i]), *rp = sw__fs_join(rdir, names[i]);
        struct stat st, lst;
        if (stat(lp, &st) || lstat(lp, &lst)) {
            sw_cli_error(&f->c, "fs", "cannot read %s: %s", lp, strerror(errno));
            rc = SW_EXIT_LOCAL;
        } else if (S_ISDIR(st.st_mode) && S_ISLNK(lst.st_mode)) {
            if (info_on(f))
                fprintf(stderr, "swarm fs: %s: a link to a directory, skipped\n", lp);
        } else if (S_ISDIR(st.st_mode)) {
            bool there = false;
            for (size_t k = 0; known && k < ls.n && !there; k++)
                there = ls.e[k].type == 'd' && !strcmp(ls.e[k].name, names[i]);
            rc = sw__fs_put_tree(f, lp, rp, depth + 1, known && !there);
        } else if (S_ISREG(st.st_mode)) {
            const ent_t *e = NULL;
            for (size_t k = 0; known && k < ls.n && !e; k++)
                if (!strcmp(ls.e[k].name, names[i]))
                    e = &ls.e[k];
            rc = sw__fs_put_file(f, lp, rp, e, known);
        } else if (info_on(f)) {
            fprintf(stderr, "swarm fs: %s: not a regular file, skipped\n", lp);
        }
        free(lp);
        free(rp);
    }
    if (!rc && f->sync && known)
        rc = sync_extra(f, &ls, names, n, rdir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    sw__fs_listing_free(&ls);
    if (!rc && f->interrupted)
        rc = SW_EXIT_INTERRUPT;
    return rc;
}

// The device directory rdir into the local directory `name` of pdfd (made when missing);
// ldir is its path for messages. Below the folder the user named, every step is opened
// relative to its parent and never through a link, so no name a device lists can lead out.
int sw__fs_get_tree(fs_t *f, const char *rdir, int pdfd, const char *name, const char *ldir,
                    int depth)
{
    if (depth > MAX_DEPTH) {
        sw_cli_error(&f->c, "fs", "%s: more than %d directory levels", rdir, MAX_DEPTH);
        return SW_EXIT_LOCAL;
    }
    if (mkdirat(pdfd, name, 0777) && errno != EEXIST) {
        sw_cli_error(&f->c, "fs", "cannot make the directory %s: %s", ldir, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    int dfd = openat(pdfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (depth ? O_NOFOLLOW : 0));
    if (dfd < 0) {
        int e = errno;
        struct stat st;
        bool link = depth && fstatat(pdfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode);
        sw_cli_error(&f->c, "fs", "cannot make the directory %s: %s", ldir,
                     link ? "a link is in the way (not followed)"
                     : e == ENOTDIR ? "a file is in the way" : strerror(e));
        return SW_EXIT_LOCAL;
    }
    listing_t ls;
    reply_t r;
    int err = sw__fs_rlist(f, rdir, true, &ls, &r);
    if (err) {
        close(dfd);
        return sw__fs_report(f, err, r.text, rdir[0] ? rdir : "/");
    }
    int rc = SW_EXIT_OK, refused = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !rc && !f->interrupted; i++) {
        const ent_t *e = &ls.e[i];
        if (!sw__fs_safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, refused", e->name ? e->name : "", rdir[0] ? rdir : "/");
            refused = SW_EXIT_REMOTE;
            continue;
        }
        char *rp = sw__fs_join(rdir, e->name), *lp = sw__fs_join(ldir, e->name);
        if (e->type == 'd')
            rc = sw__fs_get_tree(f, rp, dfd, e->name, lp, depth + 1);
        else if (e->type == 'f')
            rc = sw__fs_get_file_at(f, rp, dfd, e->name, lp, e);
        else if (info_on(f)) {
            char eb[4 * 1024];
            fprintf(stderr, "swarm fs: %s: not a file or directory on the device, skipped\n",
                    SHOWN(eb, rp));
        }
        free(rp);
        free(lp);
    }
    sw__fs_listing_free(&ls);
    close(dfd);
    if (!rc && f->interrupted)
        rc = SW_EXIT_INTERRUPT;
    return rc ? rc : refused;
}
