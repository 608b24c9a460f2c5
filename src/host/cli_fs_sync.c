// `swarm fs sync`: put -r --changed with --delete and --dry-run, and --watch: the local directory
// looked at twice a second, each change sent to the device.
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_fs_int.h"

#define WATCH_MS 500         // how often DIR is looked at
#define WATCH_MAX 100000     // entries of DIR followed (more: the watch stops, saying so)

// What DIR holds: each entry's path below it, with what tells a change (size, mtime).
typedef struct snap_ent {
    char *rel;
    bool dir;
    off_t size;
    struct timespec mtime;
} snap_ent_t;

typedef struct snap {
    snap_ent_t *e;
    size_t n, cap;
    bool full;
} snap_t;

static void snap_free(snap_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].rel);
    free(s->e);
    memset(s, 0, sizeof *s);
}

// The entries below dir (rel: its path below the top, "" for the top), as put_tree sees them.
static void snap_walk(snap_t *s, const char *dir, const char *rel, int depth)
{
    DIR *d = depth <= MAX_DEPTH ? opendir(dir) : NULL;
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) && !s->full) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = sw__fs_join(dir, de->d_name);
        char *r = rel[0] ? sw__fs_join(rel, de->d_name) : strdup(de->d_name);
        struct stat st, lst;
        bool keep = r && !stat(p, &st) && !lstat(p, &lst) &&
                    (S_ISREG(st.st_mode) || (S_ISDIR(st.st_mode) && !S_ISLNK(lst.st_mode)));
        if (keep && s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 256;
            snap_ent_t *ne = cap <= WATCH_MAX ? realloc(s->e, cap * sizeof *ne) : NULL;
            if (!ne) {
                s->full = true;
                keep = false;
            } else {
                s->e = ne;
                s->cap = cap;
            }
        }
        if (keep) {
            s->e[s->n++] = (snap_ent_t){r, S_ISDIR(st.st_mode), st.st_size, st.st_mtim};
            if (S_ISDIR(st.st_mode))
                snap_walk(s, p, r, depth + 1);
        } else {
            free(r);
        }
        free(p);
    }
    closedir(d);
}

static int cmp_snap(const void *a, const void *b)
{
    return strcmp(((const snap_ent_t *)a)->rel, ((const snap_ent_t *)b)->rel);
}

static void snap_take(snap_t *s, const char *dir)
{
    memset(s, 0, sizeof *s);
    snap_walk(s, dir, "", 0);
    if (s->n)
        qsort(s->e, s->n, sizeof *s->e, cmp_snap); // (a directory sorts before what it holds)
}

static bool snap_same(const snap_ent_t *a, const snap_ent_t *b)
{
    return a->dir == b->dir && (a->dir || (a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
                                           a->mtime.tv_nsec == b->mtime.tv_nsec));
}

static void on_watch_timer(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

// One pass: what changed in DIR since old goes to the device (new and changed files, new
// directories; with --delete, what went). Returns the worst exit status of its steps.
static int watch_pass(fs_t *f, const char *ldir, const char *rdir, const snap_t *old,
                      const snap_t *now)
{
    int rc = SW_EXIT_OK;
    size_t i = 0, j = 0;
    while ((i < old->n || j < now->n) && !fatal(rc) && !f->interrupted) {
        int c = i == old->n ? 1 : j == now->n ? -1 : strcmp(old->e[i].rel, now->e[j].rel);
        if (c > 0 || (c == 0 && !snap_same(&old->e[i], &now->e[j]))) { // new or changed
            const snap_ent_t *e = &now->e[j];
            char *lp = sw__fs_join(ldir, e->rel), *rp = sw__fs_join(rdir, e->rel);
            int x = SW_EXIT_OK;
            if (c == 0 && old->e[i].dir != e->dir) // a file became a directory or the other way
                x = old->e[i].dir ? sw__fs_rm_tree(f, rp, 0) : sw__fs_path_op(f, "f.rm", rp);
            if (!x)
                x = e->dir ? sw__fs_mkdir_p(f, rp) : sw__fs_put_file(f, lp, rp, NULL, false);
            if (x && (!rc || fatal(x)))
                rc = x;
            free(lp);
            free(rp);
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    if (!f->del)
        return rc;
    // what went: deepest first (reverse order), so a directory is empty when its turn comes
    for (size_t k = old->n; k-- > 0 && !fatal(rc) && !f->interrupted;) {
        snap_ent_t key = old->e[k];
        if (bsearch(&key, now->e, now->n, sizeof *now->e, cmp_snap))
            continue;
        char *rp = sw__fs_join(rdir, key.rel);
        reply_t r;
        int x = SW_EXIT_OK;
        int err = sw__fs_path_call(f, key.dir ? "f.rmdir" : "f.rm", rp, NULL, false, &r);
        free(r.p);
        if (!err) {
            f->deleted++;
            sw__fs_sync_line(f, "delete", NULL, rp, 0);
        } else if (!(err == SW_EREMOTE && !strcmp(r.text, "fn"))) { // (gone already: fine)
            x = sw__fs_report(f, err, r.text, rp);
        }
        free(rp);
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// sync --watch after the first pass: DIR is looked at every WATCH_MS; each change is sent
// (without comparing with the device again: what the first pass left there is known) until
// Ctrl-C (exit 130) or the link is lost.
static int sync_watch(fs_t *f, const char *ldir, const char *rdir, snap_t *old)
{
    if (info_on(f) && !f->c.json)
        fprintf(stderr, "watching %s (Ctrl-C ends)\n", ldir);
    f->changed = false; // a changed file is sent as it is
    f->in_tree = false;
    uv_timer_t t;
    bool due = false;
    uv_timer_init(&f->loop, &t);
    t.data = &due;
    int worst = SW_EXIT_OK;
    while (!f->interrupted) {
        due = false;
        uv_timer_start(&t, on_watch_timer, WATCH_MS, 0);
        while (!due && !f->interrupted)
            uv_run(&f->loop, UV_RUN_ONCE);
        snap_t now;
        snap_take(&now, ldir);
        if (now.full) {
            sw_cli_error(&f->c, "fs", "%s holds more than %d entries: not watched any more", ldir,
                         WATCH_MAX);
            snap_free(&now);
            worst = SW_EXIT_LOCAL;
            break;
        }
        int rc = watch_pass(f, ldir, rdir, old, &now);
        snap_free(old);
        *old = now;
        if (rc == SW_EXIT_LINK || rc == SW_EXIT_TIMEOUT) {
            worst = rc;
            break;
        }
        if (rc && rc != SW_EXIT_INTERRUPT && !worst)
            worst = rc;
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return f->interrupted ? SW_EXIT_INTERRUPT : worst;
}

// The regular files put_tree goes through below dir (it skips what the snapshot skips), for
// the "[k/N]" of each file. Best effort: what can be read.
uint64_t sw__fs_count_files(const char *dir)
{
    snap_t s;
    snap_take(&s, dir);
    uint64_t n = 0;
    for (size_t i = 0; i < s.n; i++)
        n += !s.e[i].dir;
    snap_free(&s);
    return n;
}

// sync DIR [PATH]: put -r --changed, with --delete and --dry-run.
int sw__fs_cmd_sync(fs_t *f, int argc, char **argv)
{
    const char *local = argv[0];
    struct stat st;
    if (stat(local, &st)) {
        sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    if (!S_ISDIR(st.st_mode)) {
        sw_cli_error(&f->c, "fs", "%s is not a directory (sync copies a directory; put copies a "
                     "file)", local);
        return SW_EXIT_LOCAL;
    }
    char b[256];
    sw__fs_base_name(local, b, sizeof b);
    const char *remote = argc > 1 ? argv[1] : b;
    if (!remote[0] || !strcmp(remote, ".") || !strcmp(remote, ".."))
        return sw__cli_usage(&f->c, "fs", "sync %s: name the device directory (sync DIR PATH; / "
                             "is the root)", local);
    if (f->del && sw__fs_is_root(remote))
        return sw__cli_usage(&f->c, "fs", "sync --delete into the device's root would remove its "
                             "config and apps (swarm.cfg, apps/, .swarm/): name a directory");
    f->sync = f->changed = f->recursive = true;
    f->in_tree = true;
    f->tree_total = sw__fs_count_files(local);
    snap_t before;
    if (f->watch) // before the first pass: what changes during it is sent by the next one
        snap_take(&before, local);
    double t0 = now_s();
    int rc = sw__fs_put_tree(f, local, sw__fs_is_root(remote) ? "" : remote, 0, false);
    if (!rc)
        sw__fs_tree_summary(f, true, local, remote, now_s() - t0);
    if (!rc && f->watch)
        rc = sync_watch(f, local, sw__fs_is_root(remote) ? "" : remote, &before);
    if (f->watch)
        snap_free(&before);
    return rc;
}
