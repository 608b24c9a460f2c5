// `swarm fs`: the commands that are calls, not transfers — ls, stat, hash, rm (-r), mkdir (-p),
// rmdir, mv.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_fs_int.h"

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !localtime_r(&tt, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M", &tm))
        snprintf(buf, cap, "-");
}

static const char *type_word(char t)
{
    return t == 'f' ? "file" : t == 'd' ? "dir" : "other";
}

static void print_stat_json(const char *path, const ent_t *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "type", type_word(e->type));
    if (e->has_size)
        cJSON_AddNumberToObject(o, "size", (double)e->size);
    cJSON_AddNumberToObject(o, "mtime", (double)e->mtime);
    sw__fs_json_line(o);
}

static void print_listing(fs_t *f, const listing_t *ls)
{
    if (f->c.json) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < ls->n; i++) {
            const ent_t *e = &ls->e[i];
            if (!f->lng) {
                cJSON_AddItemToArray(a, cJSON_CreateString(e->name));
                continue;
            }
            cJSON *o = cJSON_CreateObject();
            if (!o)
                break;
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddStringToObject(o, "type", type_word(e->type));
            if (e->has_size)
                cJSON_AddNumberToObject(o, "size", (double)e->size);
            cJSON_AddNumberToObject(o, "mtime", (double)e->mtime);
            cJSON_AddItemToArray(a, o);
        }
        sw__fs_json_line(a);
        return;
    }
    int width = 1;
    for (size_t i = 0; i < ls->n; i++) {
        char num[32];
        int k = snprintf(num, sizeof num, "%llu", (unsigned long long)ls->e[i].size);
        if (ls->e[i].has_size && k > width)
            width = k;
    }
    for (size_t i = 0; i < ls->n; i++) {
        const ent_t *e = &ls->e[i];
        char name[4 * 256];
        sw__esc_str(name, sizeof name, e->name); // the device's word: shown as text
        if (!f->lng) {
            printf("%s\n", name);
            continue;
        }
        char t[32], num[32] = "-";
        fmt_time(e->mtime, t, sizeof t);
        if (e->has_size)
            snprintf(num, sizeof num, "%llu", (unsigned long long)e->size);
        printf("%c  %*s  %-16s  %s\n", e->type == 'f' ? '-' : e->type, width, num, t, name);
    }
    fflush(stdout);
}

int sw__fs_cmd_ls(fs_t *f, int argc, char **argv)
{
    const char *path = argc ? argv[0] : "";
    listing_t ls;
    reply_t r;
    int err = sw__fs_rlist(f, path, f->lng, &ls, &r);
    if (err == SW_EREMOTE && !strncmp(r.text, "ENOTDIR", 7)) {
        // a file: list it alone, as ls does
        ent_t e;
        reply_t r2;
        err = sw__fs_rstat(f, path, &e, &r2);
        if (err)
            return sw__fs_report(f, err, r2.text, path);
        char *name = strdup(path);
        if (!name)
            return sw__fs_report(f, SW_EFULL, "out of memory", path);
        e.name = name;
        ls.e = &e;
        ls.n = 1;
        print_listing(f, &ls);
        free(name);
        return SW_EXIT_OK;
    }
    if (err)
        return sw__fs_report(f, err, r.text, path[0] ? path : "/");
    print_listing(f, &ls);
    sw__fs_listing_free(&ls);
    return SW_EXIT_OK;
}

int sw__fs_cmd_stat(fs_t *f, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc; i++) {
        ent_t e;
        reply_t r;
        int err = sw__fs_rstat(f, argv[i], &e, &r);
        if (err) {
            int x = sw__fs_report(f, err, r.text, argv[i][0] ? argv[i] : "/");
            if (!rc)
                rc = x;
            if (err != SW_EREMOTE)
                break; // the link is gone or silent: the rest would fail the same way
            continue;
        }
        if (f->c.json) {
            print_stat_json(argv[i], &e);
            continue;
        }
        char t[32];
        const char *shown = argv[i][0] ? argv[i] : "/";
        fmt_time(e.mtime, t, sizeof t);
        if (e.type == 'f')
            printf("%s: file, %llu bytes, modified %s\n", shown, (unsigned long long)e.size, t);
        else
            printf("%s: %s, modified %s\n", shown, e.type == 'd' ? "directory" : "other", t);
        fflush(stdout);
    }
    return rc;
}

static void print_hash(fs_t *f, const char *path, const uint8_t d[32])
{
    char hex[65];
    sw_xfer_hex(d, hex);
    if (f->c.json) {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "path", path);
            cJSON_AddStringToObject(o, "sha256", hex);
        }
        sw__fs_json_line(o);
    } else {
        char p[4 * 1024];
        printf("%s  %s\n", hex, SHOWN(p, path));
        fflush(stdout);
    }
}

// Every file below dir, depth first in name order.
static int hash_tree(fs_t *f, const char *dir, int depth)
{
    if (depth > MAX_DEPTH) {
        sw_cli_error(&f->c, "fs", "%s: more than %d directory levels", dir, MAX_DEPTH);
        return SW_EXIT_LOCAL;
    }
    listing_t ls;
    reply_t r;
    int err = sw__fs_rlist(f, dir, true, &ls, &r);
    if (err)
        return sw__fs_report(f, err, r.text, dir[0] ? dir : "/");
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !rc; i++) {
        char *p = sw__fs_join(dir, ls.e[i].name);
        if (ls.e[i].type == 'd') {
            rc = hash_tree(f, p, depth + 1);
        } else if (ls.e[i].type == 'f') {
            uint8_t d[32];
            err = sw__fs_rhash(f, p, d, &r);
            if (err)
                rc = sw__fs_report(f, err, r.text, p);
            else
                print_hash(f, p, d);
        }
        free(p);
    }
    sw__fs_listing_free(&ls);
    return rc;
}

int sw__fs_cmd_hash(fs_t *f, int argc, char **argv)
{
    const char *path = argc ? argv[0] : "";
    ent_t e;
    reply_t r;
    int err = sw__fs_rstat(f, path, &e, &r);
    if (err)
        return sw__fs_report(f, err, r.text, path[0] ? path : "/");
    if (e.type == 'd')
        return hash_tree(f, path, 0);
    uint8_t d[32];
    err = sw__fs_rhash(f, path, d, &r);
    if (err)
        return sw__fs_report(f, err, r.text, path);
    print_hash(f, path, d);
    return SW_EXIT_OK;
}

// f.CMD of each path (rm, mkdir, rmdir): every one is tried until the link fails.
int sw__fs_cmd_each(fs_t *f, const char *call, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc); i++) {
        int x = sw__fs_path_op(f, call, argv[i]);
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// The device directory dir with everything in it: its files, its directories (depth first),
// then dir itself. A name the listing holds that is not one plain path element is refused
// (it would name something else than an entry of dir) and keeps dir from being removed.
int sw__fs_rm_tree(fs_t *f, const char *dir, int depth)
{
    if (depth > MAX_DEPTH) {
        sw_cli_error(&f->c, "fs", "%s: more than %d directory levels", dir, MAX_DEPTH);
        return SW_EXIT_REMOTE;
    }
    listing_t ls;
    reply_t r;
    int err = sw__fs_rlist(f, dir, true, &ls, &r);
    if (err)
        return sw__fs_report(f, err, r.text, dir);
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !fatal(rc) && !f->interrupted; i++) {
        const ent_t *e = &ls.e[i];
        int x;
        if (!sw__fs_safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, refused", e->name ? e->name : "", dir);
            x = SW_EXIT_REMOTE;
        } else {
            char *p = sw__fs_join(dir, e->name);
            x = e->type == 'd' ? sw__fs_rm_tree(f, p, depth + 1) : sw__fs_path_op(f, "f.rm", p);
            free(p);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    sw__fs_listing_free(&ls);
    if (f->interrupted)
        return SW_EXIT_INTERRUPT;
    if (rc)
        return rc;
    return sw__fs_path_op(f, "f.rmdir", dir);
}

int sw__fs_cmd_rm(fs_t *f, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc); i++) {
        int x;
        ent_t e;
        reply_t r;
        if (sw__fs_is_root(argv[i])) {
            sw_cli_error(&f->c, "fs", "rm: '%s' is the device's root; name what to delete",
                         argv[i]);
            x = SW_EXIT_USAGE;
        } else if (!f->recursive) {
            x = sw__fs_path_op(f, "f.rm", argv[i]);
            if (x == SW_EXIT_REMOTE && sw__fs_rstat(f, argv[i], &e, &r) == 0 && e.type == 'd')
                sw__cli_hint(&f->c, "%s is a directory: rm -r deletes it with everything in it",
                             argv[i]);
        } else {
            int err = sw__fs_rstat(f, argv[i], &e, &r);
            if (err)
                x = sw__fs_report(f, err, r.text, argv[i]);
            else
                x = e.type == 'd' ? sw__fs_rm_tree(f, argv[i], 0)
                                  : sw__fs_path_op(f, "f.rm", argv[i]);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// mkdir -p: each prefix in turn; existing directories are fine.
int sw__fs_mkdir_p(fs_t *f, const char *path)
{
    size_t n = strlen(path);
    char *p = strdup(path);
    if (!p)
        return sw__fs_report(f, SW_EFULL, "out of memory", path);
    int rc = SW_EXIT_OK;
    for (size_t i = 1; i <= n && !rc; i++) {
        if (i < n && path[i] != '/')
            continue;
        if (i < n && path[i - 1] == '/')
            continue; // "a//b", or a leading '/'
        p[i] = 0;
        reply_t r;
        int err = sw__fs_path_call(f, "f.mkdir", p, NULL, false, &r);
        free(r.p);
        if (err == SW_EREMOTE && !strcmp(r.text, "fx")) {
            ent_t e;
            err = sw__fs_rstat(f, p, &e, &r);
            if (!err && e.type != 'd') {
                sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", p);
                rc = SW_EXIT_REMOTE;
            }
        }
        if (err && !rc)
            rc = sw__fs_report(f, err, r.text, p);
        if (i < n)
            p[i] = '/';
    }
    free(p);
    return rc;
}

int sw__fs_cmd_mkdir(fs_t *f, int argc, char **argv)
{
    if (!f->parents)
        return sw__fs_cmd_each(f, "f.mkdir", argc, argv);
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && rc != SW_EXIT_LINK && rc != SW_EXIT_TIMEOUT; i++) {
        int x = sw__fs_mkdir_p(f, argv[i]);
        if (!rc)
            rc = x;
    }
    return rc;
}

int sw__fs_cmd_mv(fs_t *f, int argc, char **argv)
{
    (void)argc;
    size_t cap = strlen(argv[0]) + strlen(argv[1]) + 64;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return sw__fs_report(f, SW_EFULL, "out of memory", argv[0]);
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, f->noclobber ? 3 : 2);
    sw_mpw_cstr(&w, "s");
    sw_mpw_cstr(&w, argv[0]);
    sw_mpw_cstr(&w, "d");
    sw_mpw_cstr(&w, argv[1]);
    if (f->noclobber) {
        sw_mpw_cstr(&w, "n");
        sw_mpw_bool(&w, true);
    }
    reply_t r;
    int err = sw__fs_fcall(f, "f.mv", &w, &r);
    free(buf);
    free(r.p);
    if (err == SW_EREMOTE && !strcmp(r.text, "fn")) {
        ent_t e;
        reply_t r2;
        if (sw__fs_rstat(f, argv[0], &e, &r2) == 0) { // SRC is there: DST's directory is not
            char dir[1024];
            sw__fs_parent_of(argv[1], dir, sizeof dir);
            sw_cli_error(&f->c, "fs", "no such directory on the device: %s", dir);
            return SW_EXIT_REMOTE;
        }
    }
    if (err)
        return sw__fs_report(f, err, r.text, !strcmp(r.text, "fx") ? argv[1] : argv[0]);
    return SW_EXIT_OK;
}
