// `swarm fs`: the single calls to the device's "f" app (f.stat, f.dir, f.hash, f.mkdir, ...),
// waited for, their answers decoded, and what a refusal means printed (docs/PROTOCOL.md, "Files").
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fs_int.h"

void sw__fs_listing_free(listing_t *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->e[i].name);
    free(ls->e);
    ls->e = NULL;
    ls->n = 0;
}

// One call, waited for. Returns 0 (r->p holds the reply's d, free it) or an SW_E* code with
// r->text (the device's error text for SW_EREMOTE).
int sw__fs_fcall(fs_t *f, const char *cmd, const sw_mpw_t *args, reply_t *r)
{
    r->p = NULL;
    r->n = 0;
    r->text[0] = 0;
    if (args->err) {
        snprintf(r->text, sizeof r->text, "arguments too large");
        return SW_ETOOBIG;
    }
    size_t cap = sw_hlink_max_msg(f->l);
    r->p = malloc(cap ? cap : 1);
    if (!r->p) {
        snprintf(r->text, sizeof r->text, "out of memory");
        return SW_EFULL;
    }
    sw_mpw_t out;
    sw_mpw_init(&out, r->p, cap);
    int e = sw_hlink_call_sync(f->l, cmd, (sw_span_t){args->buf, args->len}, f->c.timeout_ms,
                               &out, r->text, sizeof r->text);
    if (e) {
        free(r->p);
        r->p = NULL;
        return e;
    }
    r->n = out.len;
    return 0;
}

// Prints what a failed call means for PATH and returns the exit status.
int sw__fs_report(fs_t *f, int err, const char *text, const char *path)
{
    if (err == SW_EREMOTE && !strcmp(text, "fn")) {
        sw_cli_error(&f->c, "fs", "no such file or directory on the device: %s", path);
        return SW_EXIT_REMOTE;
    }
    if (err == SW_EREMOTE && !strcmp(text, "fx")) {
        sw_cli_error(&f->c, "fs", "already exists on the device: %s", path);
        return SW_EXIT_REMOTE;
    }
    return sw__cli_call_failed(&f->c, "fs", f->l, err, text);
}

// f.CMD {"p": path} (+ one more key when k2).
int sw__fs_path_call(fs_t *f, const char *cmd, const char *path, const char *k2, bool v2,
                     reply_t *r)
{
    size_t cap = strlen(path) + 64;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        snprintf(r->text, sizeof r->text, "out of memory");
        r->p = NULL;
        return SW_EFULL;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_mpw_map(&w, k2 ? 2 : 1);
    sw_mpw_cstr(&w, "p");
    sw_mpw_cstr(&w, path);
    if (k2) {
        sw_mpw_cstr(&w, k2);
        sw_mpw_bool(&w, v2);
    }
    int e = sw__fs_fcall(f, cmd, &w, r);
    free(buf);
    return e;
}

// Reads {"m", "s", "t"} (stat) or {"n", "m", "s", "t"} (dir -x) into e (name copied if asked).
static bool parse_ent(const uint8_t *p, size_t n, bool want_name, ent_t *e)
{
    memset(e, 0, sizeof *e);
    e->type = '?';
    sw_span_t v;
    sw_mpr_t r;
    if (want_name) {
        sw_span_t s;
        if (sw_mp_map_get(p, n, "n", &v))
            return false;
        sw_mpr_init(&r, v.p, v.n);
        if (!sw_mpr_str(&r, &s) || !(e->name = strndup((const char *)s.p, s.n)))
            return false;
        e->bad_name = memchr(s.p, 0, s.n) != NULL;
    }
    if (!sw_mp_map_get(p, n, "m", &v)) {
        sw_span_t s;
        sw_mpr_init(&r, v.p, v.n);
        if (sw_mpr_str(&r, &s) && s.n == 1 && (s.p[0] == 'f' || s.p[0] == 'd'))
            e->type = (char)s.p[0];
    }
    if (!sw_mp_map_get(p, n, "s", &v)) {
        sw_mpr_init(&r, v.p, v.n);
        e->has_size = sw_mpr_uint(&r, &e->size);
    }
    if (!sw_mp_map_get(p, n, "t", &v)) {
        sw_mpr_init(&r, v.p, v.n);
        if (!sw_mpr_int(&r, &e->mtime))
            e->mtime = 0;
    }
    return true;
}

// f.stat of path: 0 and *e, or the error (not printed).
int sw__fs_rstat(fs_t *f, const char *path, ent_t *e, reply_t *r)
{
    int err = sw__fs_path_call(f, "f.stat", path, NULL, false, r);
    if (err)
        return err;
    bool ok = parse_ent(r->p, r->n, false, e);
    free(r->p);
    r->p = NULL;
    if (!ok) {
        snprintf(r->text, sizeof r->text, "the device's answer to f.stat is not understood");
        return SW_EPROTO;
    }
    return 0;
}

// f.dir of path (x: with types, sizes, times): 0 and the entries, or the error (not printed).
int sw__fs_rlist(fs_t *f, const char *path, bool x, listing_t *ls, reply_t *r)
{
    ls->e = NULL;
    ls->n = 0;
    int err = sw__fs_path_call(f, "f.dir", path, "x", x, r);
    if (err)
        return err;
    sw_mpr_t rd;
    sw_mpr_init(&rd, r->p, r->n);
    uint32_t items;
    err = SW_EPROTO;
    if (sw_mpr_array(&rd, &items) && (ls->e = calloc(items ? items : 1, sizeof *ls->e))) {
        err = 0;
        for (uint32_t i = 0; i < items && !err; i++) {
            sw_span_t it, s;
            if (x) {
                if (sw_mpr_span(&rd, &it) || !parse_ent(it.p, it.n, true, &ls->e[i]))
                    err = SW_EPROTO;
            } else if (!sw_mpr_str(&rd, &s) ||
                       !(ls->e[i].name = strndup((const char *)s.p, s.n))) {
                err = SW_EPROTO;
            } else {
                ls->e[i].type = '?';
                ls->e[i].bad_name = memchr(s.p, 0, s.n) != NULL;
            }
            if (!err)
                ls->n++;
        }
    }
    free(r->p);
    r->p = NULL;
    if (err) {
        sw__fs_listing_free(ls);
        snprintf(r->text, sizeof r->text, "the device's answer to f.dir is not understood");
    }
    return err;
}

// The device's SHA-256 of a file.
int sw__fs_rhash(fs_t *f, const char *path, uint8_t out[32], reply_t *r)
{
    int err = sw__fs_path_call(f, "f.hash", path, NULL, false, r);
    if (err)
        return err;
    sw_mpr_t rd;
    sw_mpr_init(&rd, r->p, r->n);
    sw_span_t b;
    bool ok = sw_mpr_bin(&rd, &b) && b.n == 32;
    if (ok)
        memcpy(out, b.p, 32);
    free(r->p);
    r->p = NULL;
    if (!ok) {
        snprintf(r->text, sizeof r->text, "the device's answer to f.hash is not a SHA-256");
        return SW_EPROTO;
    }
    return 0;
}

// f.CMD of one path; a refusal is printed. Returns the exit status.
int sw__fs_path_op(fs_t *f, const char *call, const char *path)
{
    reply_t r;
    int err = sw__fs_path_call(f, call, path, NULL, false, &r);
    free(r.p);
    if (err)
        return sw__fs_report(f, err, r.text, path);
    if (f->c.verbose) {
        char b[4 * 1024];
        fprintf(stderr, "swarm fs: %s %s done\n", call + 2, SHOWN(b, path));
    }
    return SW_EXIT_OK;
}
