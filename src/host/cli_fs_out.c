// `swarm fs`: what transfers, trees and sync print — one line per file on stderr (or one JSON
// object per action on stdout), the "[k/N]" of a file in a tree, and the sum of a tree or sync.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli_fs_int.h"

void sw__fs_json_line(cJSON *o)
{
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    if (t)
        printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
    fflush(stdout);
}

// "[k/N] " (k: this file's number in the tree, N: the files in it) or "[k] " when N is not
// known; "" outside a tree. k counts the files handled before this one plus `plus`.
const char *sw__fs_tree_tag(const fs_t *f, char *buf, size_t cap, uint64_t plus)
{
    buf[0] = 0;
    unsigned long long k = (unsigned long long)(f->files + f->skipped + plus);
    if (f->in_tree && f->tree_total)
        snprintf(buf, cap, "[%llu/%llu] ", k, (unsigned long long)f->tree_total);
    else if (f->in_tree)
        snprintf(buf, cap, "[%llu] ", k);
    return buf;
}

void sw__fs_print_done(fs_t *f, bool put, const char *local, const char *remote,
                       const sw_xfer_result_t *r, double secs, bool skipped)
{
    char tag[48];
    sw__fs_tree_tag(f, tag, sizeof tag, 0);
    char fb[4 * 1024], tb[4 * 1024];
    const char *from = SHOWN(fb, put ? local : remote), *to = SHOWN(tb, put ? remote : local);
    if (f->cat && !f->c.verbose) // the data is the output
        return;
    if (f->c.json) {
        char hex[65];
        sw_xfer_hex(r->sha256, hex);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return;
        cJSON_AddStringToObject(o, "op", put ? "put" : "get");
        cJSON_AddStringToObject(o, "local", local);
        cJSON_AddStringToObject(o, "remote", remote);
        cJSON_AddNumberToObject(o, "bytes", (double)r->bytes);
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddStringToObject(o, "sha256", hex);
        cJSON_AddBoolToObject(o, "verified", r->verified);
        cJSON_AddBoolToObject(o, "skipped", skipped);
        if (!skipped) {
            if (put) // file bytes that crossed the link (fewer when compressed)
                cJSON_AddNumberToObject(o, "wire", (double)r->wire);
            cJSON_AddNumberToObject(o, "chunk", r->chunk);
            cJSON_AddNumberToObject(o, "window", r->window);
        }
        // a get to standard output must keep stdout for the data
        char *t = cJSON_PrintUnformatted(o);
        if (t)
            fprintf(strcmp(local, "-") || put ? stdout : stderr, "%s\n", t);
        cJSON_free(t);
        cJSON_Delete(o);
        fflush(stdout);
        return;
    }
    if (!info_on(f))
        return;
    if (skipped) {
        fprintf(stderr, "%s%s %s → %s: unchanged (same size and SHA-256), skipped\n", tag,
                put ? "put" : "get", from, to);
        return;
    }
    char size[32], rate[32];
    sw__cli_bytes(size, sizeof size, (double)r->bytes);
    sw__cli_bytes(rate, sizeof rate, (double)r->bytes / (secs > 1e-6 ? secs : 1e-6));
    fprintf(stderr, "%s%s %s → %s: %s in %.2f s (%s/s), %s\n", tag, put ? "put" : "get", from,
            !strcmp(to, "-") ? "(stdout)" : to, size, secs, rate,
            r->verified ? "sha256 ok" : "sha256 not checked (--no-verify)");
}

// sync: one line for an action that is no transfer (mkdir, delete), or any action of a
// --dry-run ("would do"): on stdout with --dry-run (it is the answer), else on stderr.
void sw__fs_sync_line(fs_t *f, const char *op, const char *local, const char *remote,
                      uint64_t size)
{
    if (f->c.json) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return;
        cJSON_AddStringToObject(o, "op", op);
        if (local)
            cJSON_AddStringToObject(o, "local", local);
        cJSON_AddStringToObject(o, "remote", remote);
        if (local)
            cJSON_AddNumberToObject(o, "bytes", (double)size);
        cJSON_AddBoolToObject(o, "dry_run", f->dry);
        sw__fs_json_line(o);
        return;
    }
    if (!f->dry && (!info_on(f) || !strcmp(op, "mkdir")))
        return; // (a directory made shows in the puts below it)
    FILE *out = f->dry ? stdout : stderr;
    char lb[4 * 1024], rb[4 * 1024];
    if (local)
        fprintf(out, "%s %s → %s\n", op, SHOWN(lb, local), SHOWN(rb, remote));
    else
        fprintf(out, "%s %s\n", op, SHOWN(rb, remote));
    fflush(out);
}

void sw__fs_tree_summary(fs_t *f, bool put, const char *from, const char *to, double secs)
{
    if (f->c.json && f->sync) { // the last line: the sum (what swarm fleet shows per device)
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return;
        cJSON_AddStringToObject(o, "op", "sync");
        cJSON_AddStringToObject(o, "local", from);
        cJSON_AddStringToObject(o, "remote", to[0] ? to : "/");
        cJSON_AddNumberToObject(o, "sent", (double)f->files);
        cJSON_AddNumberToObject(o, "bytes", (double)f->bytes);
        cJSON_AddNumberToObject(o, "unchanged", (double)f->skipped);
        cJSON_AddNumberToObject(o, "deleted", (double)f->deleted);
        cJSON_AddNumberToObject(o, "device_only", (double)(f->del ? 0 : f->extra));
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddBoolToObject(o, "dry_run", f->dry);
        sw__fs_json_line(o);
        return;
    }
    if (f->c.json || !info_on(f))
        return;
    char size[32];
    sw__cli_bytes(size, sizeof size, (double)f->bytes);
    char fb[4 * 1024], tb[4 * 1024];
    from = SHOWN(fb, from);
    to = SHOWN(tb, to[0] ? to : "/");
    if (f->sync) {
        fprintf(stderr, "sync%s %s → %s: %llu file%s %s, %s", f->dry ? " --dry-run" : "", from, to,
                (unsigned long long)f->files, f->files == 1 ? "" : "s",
                f->dry ? "to send" : "sent", size);
        if (!f->dry)
            fprintf(stderr, " in %.2f s", secs);
        fprintf(stderr, " (%llu unchanged", (unsigned long long)f->skipped);
        if (f->del)
            fprintf(stderr, ", %llu %s", (unsigned long long)f->deleted,
                    f->dry ? "to delete" : "deleted");
        else if (f->extra)
            fprintf(stderr, ", %llu on the device only: --delete removes them",
                    (unsigned long long)f->extra);
        fputs(")\n", stderr);
        return;
    }
    fprintf(stderr, "%s -r %s → %s: %llu file%s, %s in %.2f s", put ? "put" : "get", from, to,
            (unsigned long long)f->files, f->files == 1 ? "" : "s", size, secs);
    if (f->changed)
        fprintf(stderr, " (%llu unchanged)", (unsigned long long)f->skipped);
    fputc('\n', stderr);
}
