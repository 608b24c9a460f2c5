// `swarm fs`: the files of a device through its "f" app (docs/PROTOCOL.md, "Files"): ls, cat,
// get, put, cp, sync, rm, mkdir, rmdir, mv, stat, hash, and -r for trees. Transfers go through the transfer
// engine (xfer.c: a window of chunk requests, atomic put, SHA-256 check); the other commands
// are single calls. Local files are written through a temp file and renamed, so a failed get
// leaves no half file behind either.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "esc.h"
#include "mpjson.h"
#include "xfer.h"

#define MAX_DEPTH 64 // directory levels -r follows

///////////////////////////////////////////////////////////////////////////////////////////////
// Help

static const char fs_usage[] = "usage: swarm fs [options] LINK COMMAND [args]\n";

static const char fs_about[] =
    "Works with the files of the device at LINK (its \"f\" app). Device paths are relative to\n"
    "the device's root (a leading / means the root too); nothing outside it can be reached.\n"
    "\n"
    "commands:\n"
    "  ls [PATH] [-l]             list a directory (-l: type, size, modification time)\n"
    "  cat PATH...                write device files to standard output\n"
    "  get REMOTE [LOCAL|-]       copy a file from the device (-: to standard output)\n"
    "  put LOCAL|- [REMOTE]       copy a file to the device (-: from standard input); the old\n"
    "                             file stays until the new one is complete; SHA-256 checked\n"
    "  cp SRC DST                 get or put, the device side marked by ':' (cp a.lua :apps/x/)\n"
    "  sync DIR [PATH]            make the device's PATH a copy of the local DIR: only changed\n"
    "                             files are sent (--delete, --dry-run, --watch: sync --help)\n"
    "  rm [-r] PATH...            delete files (-r: directories with everything in them)\n"
    "  mkdir [-p] PATH...         make directories (-p: with parents, existing ones are fine)\n"
    "  rmdir PATH...              delete empty directories\n"
    "  mv [-n] SRC DST            rename or move (replaces DST; -n: fail if DST exists)\n"
    "  stat PATH...               type, size and modification time\n"
    "  hash [PATH]                SHA-256 of a file, or of every file under a directory\n";

static const char fs_after[] =
    "'swarm fs COMMAND --help' explains one command, with examples.\n"
    "\n"
    "exit status: 0 ok, 1 the device refused (no such file, ...) or its copy differs,\n"
    "2 usage, 3 link lost, 4 timeout, 6 local file problem, 130 Ctrl-C\n"
    "\n"
    "examples:\n"
    "  swarm fs localhost ls -l apps\n"
    "  swarm fs localhost put main.lua apps/blink/main.lua\n"
    "  swarm fs localhost get -r apps backup\n"
    "  swarm fs localhost sync --delete site www\n";

typedef struct fs_cmd_help {
    const char *name;
    int min, max;      // arguments after COMMAND (-1: any number)
    const char *args;  // what each argument is, for completion: R a device path, L a local
                       // one, C either (cp: ':' marks the device's); the last one repeats
    const char *text;
} fs_cmd_help_t;

static const fs_cmd_help_t cmd_help[] = {
    {"ls", 0, 1, "R",
     "usage: swarm fs [options] LINK ls [PATH] [-l]\n"
     "\n"
     "Lists the directory PATH on the device (the root without PATH), sorted by name; a file\n"
     "PATH lists that file. -l adds the type (d directory, - file, ? other), the size and the\n"
     "modification time. --json prints one array: names, or with -l objects\n"
     "{\"name\", \"type\": \"file\"|\"dir\"|\"other\", \"size\", \"mtime\"} (seconds since 1970).\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost ls\n"
     "  swarm fs localhost ls -l apps/blink\n"
     "  swarm fs --json localhost ls apps\n"},
    {"get", 1, 2, "RL",
     "usage: swarm fs [options] LINK get [-r] [--changed] REMOTE [LOCAL|-]\n"
     "\n"
     "Copies the device file REMOTE to LOCAL (default: its name, in the current directory; an\n"
     "existing directory LOCAL receives it under its name; - writes it to standard output).\n"
     "The file is read with a window of requests in flight (--window, --chunk) into a temp\n"
     "file next to LOCAL that is renamed into place only when complete, then compared with\n"
     "the device's SHA-256 of the file.\n"
     "\n"
     "  -r          REMOTE is a directory: LOCAL (default: its name) becomes a copy of it;\n"
     "              directories are made, files copied, nothing is deleted\n"
     "  --changed   skip files whose local copy has the same size and SHA-256\n"
     "  --window N, --chunk BYTES, --no-verify   see 'swarm fs --help'\n"
     "\n"
     "A progress bar shows on a terminal; otherwise one line per file on stderr:\n"
     "  get apps/x/main.lua → main.lua: 12.3 KiB in 0.02 s (600.0 KiB/s), sha256 ok\n"
     "In a tree (-r) each file's bar and line start with its number: [3/20] (put: of the\n"
     "files to go through), [3] (get).\n"
     "--json prints one object per file on stdout instead.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost get apps/blink/main.lua\n"
     "  swarm fs localhost get log.txt - | tail\n"
     "  swarm fs localhost get -r --changed apps backup/apps\n"},
    {"put", 1, 2, "LR",
     "usage: swarm fs [options] LINK put [-r] [--changed] LOCAL|- [REMOTE]\n"
     "\n"
     "Copies the local file LOCAL (-: standard input) to REMOTE on the device (default: its\n"
     "name at the root; an existing directory REMOTE, or one written with a trailing /,\n"
     "receives it under its name). The device writes a temp file and renames it over REMOTE\n"
     "only when all of it has arrived (open mode \"W\"), so an interrupted transfer leaves the\n"
     "old file as it was. Then the device's SHA-256 of REMOTE is compared with the local one.\n"
     "Missing directories are not made ('mkdir -p' them first), except by -r.\n"
     "\n"
     "  -r          LOCAL is a directory: REMOTE (default: its name) becomes a copy of it;\n"
     "              directories are made (with missing parents), files copied, nothing\n"
     "              is deleted\n"
     "  --changed   skip files the device already has with the same size and SHA-256\n"
     "  --window N, --chunk BYTES, --no-verify   see 'swarm fs --help'\n"
     "\n"
     "Output as for get:\n"
     "  put main.lua → apps/x/main.lua: 12.3 KiB in 0.02 s (600.0 KiB/s), sha256 ok\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost put main.lua apps/blink/main.lua\n"
     "  swarm fs localhost put main.lua apps/blink/\n"
     "  echo '{\"t\": 5}' | swarm fs localhost put - data/settings.json\n"
     "  swarm fs localhost put -r --changed site www\n"},
    {"cat", 1, -1, "R",
     "usage: swarm fs [options] LINK cat PATH...\n"
     "\n"
     "Writes the device files PATH... to standard output, one after the other, as they are\n"
     "(the bytes of the file, not escaped). Each is read like get does (a window of requests)\n"
     "and compared with the device's SHA-256 afterwards (--no-verify skips that); a progress\n"
     "bar shows on a terminal's stderr for large files. A directory or a missing file is an\n"
     "error (exit 1) and the next PATH is still written.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost cat apps/blink/main.lua\n"
     "  swarm fs localhost cat log.txt | grep error\n"},
    {"cp", 2, 2, "CC",
     "usage: swarm fs [options] LINK cp [-r] [--changed] SRC DST\n"
     "\n"
     "Copies between this machine and the device, as mpremote's cp does: the side that is on\n"
     "the device starts with ':' (':' alone is the device's root). ':REMOTE LOCAL' is\n"
     "'get REMOTE LOCAL', 'LOCAL :REMOTE' is 'put LOCAL REMOTE', with the same rules for\n"
     "directories, temp files and checks (see 'swarm fs get --help' and 'swarm fs put --help');\n"
     "-r copies a tree either way. Exactly one side must be on the device.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost cp main.lua :apps/blink/\n"
     "  swarm fs localhost cp -r :apps backup\n"
     "  swarm fs localhost cp -r --changed site :www\n"},
    {"sync", 1, 2, "LR",
     "usage: swarm fs [options] LINK sync [--delete] [--dry-run | --watch] DIR [PATH]\n"
     "       swarm fs [options] sync [--delete] [--dry-run | --watch] DIR LINK:[PATH]\n"
     "\n"
     "Makes the device directory PATH (default: DIR's name, at the root) a copy of the local\n"
     "directory DIR, sending only what changed: a file is sent when the device lacks it or has\n"
     "it with another size or SHA-256 (each sent file is written atomically and checked, as by\n"
     "put). Missing directories are made. What the device has and DIR lacks stays, and is\n"
     "counted in the last line, unless --delete removes it (files, and directories with\n"
     "everything in them; refused into the root, which holds the device's config and apps).\n"
     "Links to directories and special files in DIR are skipped.\n"
     "The second form is rsync's order: LINK:PATH is split at its last ':' (LINK: alone is\n"
     "the root), so tcp://10.0.0.7:27587:www works.\n"
     "\n"
     "  --delete    remove device files and directories under PATH that DIR does not have\n"
     "  --dry-run   change nothing: print what would be done, one line each on stdout\n"
     "              (\"put LOCAL → REMOTE\", \"mkdir REMOTE\", \"delete REMOTE\")\n"
     "  --watch     then keep the device's copy following DIR, as a mount would: DIR is looked\n"
     "              at twice a second and each change is sent (new and changed files, new\n"
     "              directories; with --delete what went) until Ctrl-C (exit status 130)\n"
     "  --window N, --chunk BYTES, --no-verify   see 'swarm fs --help'\n"
     "\n"
     "The last line (stderr) sums it up:\n"
     "  sync site → www: 3 files sent, 12.0 KiB in 0.05 s (41 unchanged, 2 deleted)\n"
     "--json prints one object per action instead ({\"op\": \"put\"|\"mkdir\"|\"delete\", ...}),\n"
     "then the sum: {\"op\": \"sync\", \"sent\", \"bytes\", \"unchanged\", \"deleted\",\n"
     "\"device_only\", \"seconds\", \"dry_run\"}.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost sync site www\n"
     "  swarm fs sync --delete site kitchen:www\n"
     "  swarm fs sync --watch --delete apps/blink kitchen:apps/blink\n"
     "  swarm fs localhost sync --delete --dry-run apps/blink apps/blink\n"},
    {"rm", 1, -1, "R",
     "usage: swarm fs [options] LINK rm [-r] PATH...\n"
     "\n"
     "Deletes files on the device (directories: see rmdir). With -r a directory PATH goes\n"
     "with everything in it: its files first, then each emptied directory, deepest first. The\n"
     "root itself cannot be removed.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost rm apps/old/main.lua apps/old/data.json\n"
     "  swarm fs localhost rm -r apps/old\n"},
    {"mkdir", 1, -1, "R",
     "usage: swarm fs [options] LINK mkdir [-p] PATH...\n"
     "\n"
     "Makes directories on the device. -p makes missing parents too and accepts directories\n"
     "that exist already.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost mkdir data\n"
     "  swarm fs localhost mkdir -p apps/blink/lib\n"},
    {"rmdir", 1, -1, "R",
     "usage: swarm fs [options] LINK rmdir PATH...\n"
     "\n"
     "Deletes empty directories on the device.\n"
     "\n"
     "example:\n"
     "  swarm fs localhost rmdir apps/old\n"},
    {"mv", 2, 2, "RR",
     "usage: swarm fs [options] LINK mv [-n] SRC DST\n"
     "\n"
     "Renames or moves SRC to DST on the device, replacing a file DST. With -n it fails\n"
     "instead when DST exists.\n"
     "\n"
     "example:\n"
     "  swarm fs localhost mv apps/blink/main.lua apps/blink/main.lua.bak\n"},
    {"stat", 1, -1, "R",
     "usage: swarm fs [options] LINK stat PATH...\n"
     "\n"
     "Shows the type, size and modification time of each PATH:\n"
     "  apps/blink/main.lua: file, 1234 bytes, modified 2025-03-01 12:00\n"
     "--json prints one object per path: {\"path\", \"type\", \"size\", \"mtime\"}.\n"
     "\n"
     "example:\n"
     "  swarm fs localhost stat apps/blink/main.lua\n"},
    {"hash", 0, 1, "R",
     "usage: swarm fs [options] LINK hash [PATH]\n"
     "\n"
     "Prints the SHA-256 the device computes of the file PATH, as sha256sum does\n"
     "(\"<hex>  PATH\"); for a directory (the root without PATH) every file below it, one line\n"
     "each. --json prints {\"path\", \"sha256\"} per file.\n"
     "\n"
     "examples:\n"
     "  swarm fs localhost hash apps/blink/main.lua\n"
     "  swarm fs localhost hash > device.sha256 && sha256sum -c device.sha256\n"},
};
#define NCMDS (sizeof cmd_help / sizeof cmd_help[0])

// True if name is one of the blank-separated words of list.
static bool cmd_in(const char *name, const char *list)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, " ");
        if (k == n && !memcmp(p, name, n))
            return true;
        p += k;
        p += *p == ' ';
    }
    return false;
}

static const fs_cmd_help_t *find_cmd(const char *name)
{
    for (size_t i = 0; i < NCMDS; i++)
        if (!strcmp(cmd_help[i].name, name))
            return &cmd_help[i];
    return NULL;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// State

typedef struct fs {
    sw_cli_t c;
    uv_loop_t loop;
    sw_hlink_t *l;
    const char *cmd;      // the fs command, for messages
    const char *link;     // LINK as given, for hints
    bool lng, parents, recursive, changed, noclobber, no_verify, no_compress;
    bool cat;             // cat: the data alone on stdout (no line per file)
    bool sync, del, dry;  // sync, --delete, --dry-run
    bool watch;           // sync --watch: after the first pass, follow DIR's changes
    uint32_t window, chunk;
    uint32_t dev_max;     // the device's message limit, once a transfer learnt it
    uint8_t zbits;        // and its inflate (sys.info z, zr; 0: none)
    uint32_t zratio;
    // a transfer under way (Ctrl-C cancels it)
    uv_signal_t sig;
    bool sig_on, interrupted;
    sw_xfer_t *cur;
    // totals of a tree
    uint64_t files, skipped, bytes, deleted, extra;
    bool in_tree;         // -r, sync: each file's line and bar say which one it is ("[3/20]")
    uint64_t tree_total;  // the files a put -r or sync goes through (0: unknown, get -r)
} fs_t;

// An answer of a synchronous call: d (malloc'd) or the error.
typedef struct reply {
    uint8_t *p;
    size_t n;
    char text[1024];
} reply_t;

// One directory entry or stat result. type: 'f' file, 'd' directory, '?' other.
typedef struct ent {
    char *name;
    bool bad_name;        // the device's name held a NUL (cut here at the first one)
    char type;
    bool has_size;
    uint64_t size;
    int64_t mtime;
} ent_t;

typedef struct listing {
    ent_t *e;
    size_t n;
} listing_t;

static void listing_free(listing_t *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->e[i].name);
    free(ls->e);
    ls->e = NULL;
    ls->n = 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Small helpers

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

// Joins a directory and a name with one '/' ("" or "/" is the root: the name alone).
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    while (n && dir[n - 1] == '/')
        n--;
    char *s = NULL;
    if (n == 0) {
        s = strdup(name);
    } else if (asprintf(&s, "%.*s/%s", (int)n, dir, name) < 0) {
        s = NULL;
    }
    if (!s) {
        fputs("swarm fs: out of memory\n", stderr);
        exit(SW_EXIT_LOCAL);
    }
    return s;
}

// The last element of a path (trailing slashes ignored) into buf; "" for the root.
static void base_name(const char *p, char *buf, size_t cap)
{
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        n--;
    size_t b = n;
    while (b && p[b - 1] != '/')
        b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), p + b);
}

// The directory part of a path ("/" when there is none).
static void parent_of(const char *p, char *buf, size_t cap)
{
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        n--;
    while (n && p[n - 1] != '/')
        n--;
    while (n && p[n - 1] == '/')
        n--;
    if (n)
        snprintf(buf, cap, "%.*s", (int)n, p);
    else
        snprintf(buf, cap, "/");
}

static bool ends_with_slash(const char *p)
{
    size_t n = strlen(p);
    return n && p[n - 1] == '/';
}

static double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

static void json_line(cJSON *o)
{
    char *t = o ? cJSON_PrintUnformatted(o) : NULL;
    if (t)
        printf("%s\n", t);
    cJSON_free(t);
    cJSON_Delete(o);
    fflush(stdout);
}

static bool info_on(const fs_t *f)
{
    return !f->c.quiet;
}

// A path for a person's terminal: it may hold names a device listed (control bytes, escape
// sequences), so it is shown escaped (esc.c). JSON output carries the real string.
#define SHOWN(buf, s) sw__esc_str((buf), sizeof(buf), (s))

static bool safe_name(const ent_t *e);

///////////////////////////////////////////////////////////////////////////////////////////////
// Calls

// One call, waited for. Returns 0 (r->p holds the reply's d, free it) or an SW_E* code with
// r->text (the device's error text for SW_EREMOTE).
static int fcall(fs_t *f, const char *cmd, const sw_mpw_t *args, reply_t *r)
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
static int report(fs_t *f, int err, const char *text, const char *path)
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
static int path_call(fs_t *f, const char *cmd, const char *path, const char *k2, bool v2,
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
    int e = fcall(f, cmd, &w, r);
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
static int rstat(fs_t *f, const char *path, ent_t *e, reply_t *r)
{
    int err = path_call(f, "f.stat", path, NULL, false, r);
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
static int rlist(fs_t *f, const char *path, bool x, listing_t *ls, reply_t *r)
{
    ls->e = NULL;
    ls->n = 0;
    int err = path_call(f, "f.dir", path, "x", x, r);
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
        listing_free(ls);
        snprintf(r->text, sizeof r->text, "the device's answer to f.dir is not understood");
    }
    return err;
}

// The device's SHA-256 of a file.
static int rhash(fs_t *f, const char *path, uint8_t out[32], reply_t *r)
{
    int err = path_call(f, "f.hash", path, NULL, false, r);
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

///////////////////////////////////////////////////////////////////////////////////////////////
// ls, stat, hash

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
    json_line(o);
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
        json_line(a);
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

static int cmd_ls(fs_t *f, int argc, char **argv)
{
    const char *path = argc ? argv[0] : "";
    listing_t ls;
    reply_t r;
    int err = rlist(f, path, f->lng, &ls, &r);
    if (err == SW_EREMOTE && !strncmp(r.text, "ENOTDIR", 7)) {
        // a file: list it alone, as ls does
        ent_t e;
        reply_t r2;
        err = rstat(f, path, &e, &r2);
        if (err)
            return report(f, err, r2.text, path);
        char *name = strdup(path);
        if (!name)
            return report(f, SW_EFULL, "out of memory", path);
        e.name = name;
        ls.e = &e;
        ls.n = 1;
        print_listing(f, &ls);
        free(name);
        return SW_EXIT_OK;
    }
    if (err)
        return report(f, err, r.text, path[0] ? path : "/");
    print_listing(f, &ls);
    listing_free(&ls);
    return SW_EXIT_OK;
}

static int cmd_stat(fs_t *f, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc; i++) {
        ent_t e;
        reply_t r;
        int err = rstat(f, argv[i], &e, &r);
        if (err) {
            int x = report(f, err, r.text, argv[i][0] ? argv[i] : "/");
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
        json_line(o);
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
    int err = rlist(f, dir, true, &ls, &r);
    if (err)
        return report(f, err, r.text, dir[0] ? dir : "/");
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !rc; i++) {
        char *p = join(dir, ls.e[i].name);
        if (ls.e[i].type == 'd') {
            rc = hash_tree(f, p, depth + 1);
        } else if (ls.e[i].type == 'f') {
            uint8_t d[32];
            err = rhash(f, p, d, &r);
            if (err)
                rc = report(f, err, r.text, p);
            else
                print_hash(f, p, d);
        }
        free(p);
    }
    listing_free(&ls);
    return rc;
}

static int cmd_hash(fs_t *f, int argc, char **argv)
{
    const char *path = argc ? argv[0] : "";
    ent_t e;
    reply_t r;
    int err = rstat(f, path, &e, &r);
    if (err)
        return report(f, err, r.text, path[0] ? path : "/");
    if (e.type == 'd')
        return hash_tree(f, path, 0);
    uint8_t d[32];
    err = rhash(f, path, d, &r);
    if (err)
        return report(f, err, r.text, path);
    print_hash(f, path, d);
    return SW_EXIT_OK;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// rm, rmdir, mkdir, mv

// f.CMD of one path; a refusal is printed. Returns the exit status.
static int path_op(fs_t *f, const char *call, const char *path)
{
    reply_t r;
    int err = path_call(f, call, path, NULL, false, &r);
    free(r.p);
    if (err)
        return report(f, err, r.text, path);
    if (f->c.verbose) {
        char b[4 * 1024];
        fprintf(stderr, "swarm fs: %s %s done\n", call + 2, SHOWN(b, path));
    }
    return SW_EXIT_OK;
}

static bool fatal(int rc) // the link is gone or silent, or Ctrl-C: the rest would fail too
{
    return rc == SW_EXIT_LINK || rc == SW_EXIT_TIMEOUT || rc == SW_EXIT_INTERRUPT;
}

// f.CMD of each path (rm, mkdir, rmdir): every one is tried until the link fails.
static int cmd_each(fs_t *f, const char *call, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc); i++) {
        int x = path_op(f, call, argv[i]);
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// The device directory dir with everything in it: its files, its directories (depth first),
// then dir itself. A name the listing holds that is not one plain path element is refused
// (it would name something else than an entry of dir) and keeps dir from being removed.
static int rm_tree(fs_t *f, const char *dir, int depth)
{
    if (depth > MAX_DEPTH) {
        sw_cli_error(&f->c, "fs", "%s: more than %d directory levels", dir, MAX_DEPTH);
        return SW_EXIT_REMOTE;
    }
    listing_t ls;
    reply_t r;
    int err = rlist(f, dir, true, &ls, &r);
    if (err)
        return report(f, err, r.text, dir);
    int rc = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !fatal(rc) && !f->interrupted; i++) {
        const ent_t *e = &ls.e[i];
        int x;
        if (!safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, refused", e->name ? e->name : "", dir);
            x = SW_EXIT_REMOTE;
        } else {
            char *p = join(dir, e->name);
            x = e->type == 'd' ? rm_tree(f, p, depth + 1) : path_op(f, "f.rm", p);
            free(p);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    listing_free(&ls);
    if (f->interrupted)
        return SW_EXIT_INTERRUPT;
    if (rc)
        return rc;
    return path_op(f, "f.rmdir", dir);
}

// True if a device path names its root ("", "/", ".", "//./").
static bool is_root(const char *p)
{
    for (; *p; p++)
        if (*p != '/' && !(*p == '.' && (p[1] == '/' || !p[1])))
            return false;
    return true;
}

static int cmd_rm(fs_t *f, int argc, char **argv)
{
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc); i++) {
        int x;
        ent_t e;
        reply_t r;
        if (is_root(argv[i])) {
            sw_cli_error(&f->c, "fs", "rm: '%s' is the device's root; name what to delete", argv[i]);
            x = SW_EXIT_USAGE;
        } else if (!f->recursive) {
            x = path_op(f, "f.rm", argv[i]);
            if (x == SW_EXIT_REMOTE && rstat(f, argv[i], &e, &r) == 0 && e.type == 'd')
                sw__cli_hint(&f->c, "%s is a directory: rm -r deletes it with everything in it",
                             argv[i]);
        } else {
            int err = rstat(f, argv[i], &e, &r);
            if (err)
                x = report(f, err, r.text, argv[i]);
            else
                x = e.type == 'd' ? rm_tree(f, argv[i], 0) : path_op(f, "f.rm", argv[i]);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

// mkdir -p: each prefix in turn; existing directories are fine.
static int mkdir_p(fs_t *f, const char *path)
{
    size_t n = strlen(path);
    char *p = strdup(path);
    if (!p)
        return report(f, SW_EFULL, "out of memory", path);
    int rc = SW_EXIT_OK;
    for (size_t i = 1; i <= n && !rc; i++) {
        if (i < n && path[i] != '/')
            continue;
        if (i < n && path[i - 1] == '/')
            continue; // "a//b", or a leading '/'
        p[i] = 0;
        reply_t r;
        int err = path_call(f, "f.mkdir", p, NULL, false, &r);
        free(r.p);
        if (err == SW_EREMOTE && !strcmp(r.text, "fx")) {
            ent_t e;
            err = rstat(f, p, &e, &r);
            if (!err && e.type != 'd') {
                sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", p);
                rc = SW_EXIT_REMOTE;
            }
        }
        if (err && !rc)
            rc = report(f, err, r.text, p);
        if (i < n)
            p[i] = '/';
    }
    free(p);
    return rc;
}

static int cmd_mkdir(fs_t *f, int argc, char **argv)
{
    if (!f->parents)
        return cmd_each(f, "f.mkdir", argc, argv);
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && rc != SW_EXIT_LINK && rc != SW_EXIT_TIMEOUT; i++) {
        int x = mkdir_p(f, argv[i]);
        if (!rc)
            rc = x;
    }
    return rc;
}

static int cmd_mv(fs_t *f, int argc, char **argv)
{
    (void)argc;
    size_t cap = strlen(argv[0]) + strlen(argv[1]) + 64;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return report(f, SW_EFULL, "out of memory", argv[0]);
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
    int err = fcall(f, "f.mv", &w, &r);
    free(buf);
    free(r.p);
    if (err == SW_EREMOTE && !strcmp(r.text, "fn")) {
        ent_t e;
        reply_t r2;
        if (rstat(f, argv[0], &e, &r2) == 0) { // SRC is there: DST's directory is not
            char dir[1024];
            parent_of(argv[1], dir, sizeof dir);
            sw_cli_error(&f->c, "fs", "no such directory on the device: %s", dir);
            return SW_EXIT_REMOTE;
        }
    }
    if (err)
        return report(f, err, r.text, !strcmp(r.text, "fx") ? argv[1] : argv[0]);
    return SW_EXIT_OK;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Transfers

typedef struct run {
    fs_t *f;
    bool done;
    sw_xfer_result_t r;
    sw_progress_t prog;
} run_t;

static void on_progress(void *u, uint64_t done, uint64_t total)
{
    run_t *x = u;
    if (!total)
        return; // a bar needs a total (standard input has none)
    x->prog.total = total;
    sw_progress_update(&x->prog, done);
}

static void on_done(void *u, const sw_xfer_result_t *r)
{
    run_t *x = u;
    x->r = *r;
    x->done = true;
}

static void on_sigint(uv_signal_t *h, int signum)
{
    (void)signum;
    fs_t *f = h->data;
    f->interrupted = true;
    if (f->cur)
        sw_xfer_cancel(f->cur);
}

// What a cut put leaves on the device, from the step it stopped in.
static void put_state_note(const fs_t *f, const sw_xfer_result_t *r, const char *remote)
{
    if (f->c.quiet)
        return;
    if (!strcmp(r->step, "cl"))
        fprintf(stderr, "the transfer was complete; whether the device committed %s is "
                "unknown: compare 'swarm fs %s hash %s'\n", remote, f->link, remote);
    else if (!strcmp(r->step, "hash"))
        fprintf(stderr, "the device has the new %s, but its SHA-256 was not compared\n", remote);
    else
        fprintf(stderr, "the device's %s is unchanged (the new content was not committed)\n",
                remote);
}

static int xfer_failed(fs_t *f, bool put, const char *local, const char *remote,
                       const sw_xfer_result_t *r)
{
    const char *op = put ? "put" : "get";
    switch (r->err) {
    case SW_EREMOTE:
        if (!strcmp(r->text, "fn") && put && !strcmp(r->step, "open")) {
            char dir[1024];
            parent_of(remote, dir, sizeof dir);
            sw_cli_error(&f->c, "fs", "no such directory on the device: %s", dir);
            sw__cli_hint(&f->c, "make it first: swarm fs %s mkdir -p %s", f->link, dir);
            return SW_EXIT_REMOTE;
        }
        return report(f, SW_EREMOTE, r->text, remote);
    case SW_ECRC:
    case SW_EISDIR:
        sw_cli_error(&f->c, "fs", "%s %s: %s", op, remote, r->text);
        return SW_EXIT_REMOTE;
    case SW_EIO:
        sw_cli_error(&f->c, "fs", "cannot %s %s: %s", !strcmp(r->step, "read") ? "read" : "write",
                     local, r->sys_errno ? strerror(r->sys_errno) : r->text);
        if (put && !f->c.quiet)
            put_state_note(f, r, remote);
        return SW_EXIT_LOCAL;
    case SW_ECANCELED:
        sw_cli_error(&f->c, "fs", "%s %s: interrupted", op, remote);
        if (put)
            put_state_note(f, r, remote);
        return SW_EXIT_INTERRUPT;
    case SW_ECLOSED:
    case SW_ETIMEDOUT:
        if (r->err == SW_ECLOSED)
            sw_cli_error(&f->c, "fs", "%s %s: link lost during f.%s: %s", op, remote, r->step,
                         r->text);
        else
            sw_cli_error(&f->c, "fs", "%s %s: no answer within %.1f s during f.%s", op, remote,
                         f->c.timeout_ms / 1000.0, r->step);
        if (put)
            put_state_note(f, r, remote);
        if (r->err == SW_ETIMEDOUT && f->c.timeout_ms)
            sw__cli_hint(&f->c, "--timeout S allows more time (now %.1f s)",
                         f->c.timeout_ms / 1000.0);
        return r->err == SW_ECLOSED ? SW_EXIT_LINK : SW_EXIT_TIMEOUT;
    default:
        sw_cli_error(&f->c, "fs", "%s %s: %s", op, remote, r->text);
        return sw_cli_exit_for(r->err);
    }
}

// "[k/N] " (k: this file's number in the tree, N: the files in it) or "[k] " when N is not
// known; "" outside a tree. k counts the files handled before this one plus `plus`.
static const char *tree_tag(const fs_t *f, char *buf, size_t cap, uint64_t plus)
{
    buf[0] = 0;
    unsigned long long k = (unsigned long long)(f->files + f->skipped + plus);
    if (f->in_tree && f->tree_total)
        snprintf(buf, cap, "[%llu/%llu] ", k, (unsigned long long)f->tree_total);
    else if (f->in_tree)
        snprintf(buf, cap, "[%llu] ", k);
    return buf;
}

static void print_done(fs_t *f, bool put, const char *local, const char *remote,
                       const sw_xfer_result_t *r, double secs, bool skipped)
{
    char tag[48];
    tree_tag(f, tag, sizeof tag, 0);
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

// Runs one transfer to its end; prints its line or its error. Returns the exit status.
static int transfer(fs_t *f, bool put, int fd, uint64_t size, const char *local,
                    const char *remote)
{
    if (f->interrupted) // Ctrl-C came while a call before this one was waited for
        return SW_EXIT_INTERRUPT;
    run_t x;
    memset(&x, 0, sizeof x);
    x.f = f;
    char label[160], b[64], eb[128], tag[48];
    base_name(put ? local : remote, b, sizeof b);
    snprintf(label, sizeof label, "%s%s %s", tree_tag(f, tag, sizeof tag, 1), put ? "put" : "get",
             b[0] ? SHOWN(eb, b) : "-");
    sw_progress_start(&x.prog, &f->c, label, size);
    sw_xfer_opts_t o = {f->window, f->chunk, f->dev_max, f->c.timeout_ms, f->no_verify,
                        put && !f->no_compress, f->zbits, f->zratio, NULL, 0};
    sw_xfer_cbs_t cbs = {on_progress, on_done, &x};
    double t0 = now_s();
    int err = put ? sw_xfer_put(&f->loop, f->l, fd, size, remote, &o, &cbs, &f->cur)
                  : sw_xfer_get(&f->loop, f->l, remote, fd, &o, &cbs, &f->cur);
    if (err) {
        f->cur = NULL;
        sw_cli_error(&f->c, "fs", "%s %s: %s", put ? "put" : "get", remote,
                     err == SW_ECLOSED ? sw_hlink_error(f->l) : sw_strerror(err));
        return sw_cli_exit_for(err);
    }
    while (!x.done)
        uv_run(&f->loop, UV_RUN_ONCE);
    f->cur = NULL;
    double secs = now_s() - t0;
    sw_progress_end(&x.prog, false); // clears the bar: the line below says how it went
    if (x.r.dev_max_msg && !f->dev_max) { // learnt from the sys.info this transfer asked
        f->zbits = x.r.zbits;
        f->zratio = x.r.zratio;
    }
    if (x.r.dev_max_msg)
        f->dev_max = x.r.dev_max_msg;
    char rb[4 * 1024];
    if (f->c.verbose && x.r.chunk)
        fprintf(stderr, "swarm fs: %s %s: chunk %u bytes, window %u, device max_msg %u\n",
                put ? "put" : "get", SHOWN(rb, remote), x.r.chunk, x.r.window, x.r.dev_max_msg);
    sw_hlink_stats_t st;
    if (f->c.verbose && sw_hlink_stats(f->l, &st)) // how the lossy line went, since it opened
        fprintf(stderr, "swarm fs: link: %u sent, %u retransmitted, %u delivered, %u duplicates; "
                "%u frames in, %u damaged; timeout %u ms, window %u; %u resent on an idle line\n",
                (unsigned)st.rel.sent, (unsigned)st.rel.retransmits, (unsigned)st.rel.delivered,
                (unsigned)st.rel.duplicates, (unsigned)st.frames.frames,
                (unsigned)(st.frames.err_crc + st.frames.err_len + st.frames.err_idle),
                (unsigned)st.timeout_ms, (unsigned)st.window, (unsigned)st.rel.idle_resends);
    if (x.r.err)
        return xfer_failed(f, put, local, remote, &x.r);
    f->files++;
    f->bytes += x.r.bytes;
    print_done(f, put, local, remote, &x.r, secs, false);
    return SW_EXIT_OK;
}

// sync: one line for an action that is no transfer (mkdir, delete), or any action of a
// --dry-run ("would do"): on stdout with --dry-run (it is the answer), else on stderr.
static void sync_line(fs_t *f, const char *op, const char *local, const char *remote,
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
        json_line(o);
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

// --changed: true if the device's remote (known to be a file of that size) has this SHA-256.
static int same_remote(fs_t *f, const char *remote, const uint8_t local[32], bool *same)
{
    uint8_t d[32];
    reply_t r;
    int err = rhash(f, remote, d, &r);
    if (err)
        return report(f, err, r.text, remote);
    *same = !memcmp(d, local, 32);
    return SW_EXIT_OK;
}

static void skipped(fs_t *f, bool put, const char *local, const char *remote,
                    const uint8_t sha[32], uint64_t size)
{
    f->skipped++;
    sw_xfer_result_t r;
    memset(&r, 0, sizeof r);
    memcpy(r.sha256, sha, 32);
    r.bytes = size;
    r.verified = true;
    if (f->c.json || f->c.verbose || !f->recursive) // a tree counts them in its last line
        print_done(f, put, local, remote, &r, 0, true);
}

// One local file (or "-") to the device. rinfo: what the device has at remote, when the
// caller knows (rknown: NULL = nothing there).
static int put_file(fs_t *f, const char *local, const char *remote, const ent_t *rinfo,
                    bool rknown)
{
    bool in = !strcmp(local, "-");
    int fd = in ? 0 : open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    struct stat st;
    uint64_t size = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        size = (uint64_t)st.st_size;
    if (!in && S_ISDIR(st.st_mode)) {
        close(fd);
        sw_cli_error(&f->c, "fs", "%s is a directory (put -r copies a tree)", local);
        return SW_EXIT_LOCAL;
    }
    if (f->changed && !in && S_ISREG(st.st_mode)) {
        ent_t e;
        reply_t r;
        if (!rknown) {
            int err = rstat(f, remote, &e, &r);
            if (err == 0) {
                rinfo = &e;
            } else if (!(err == SW_EREMOTE && !strcmp(r.text, "fn"))) {
                close(fd);
                return report(f, err, r.text, remote);
            }
        }
        if (rinfo && rinfo->type == 'f' && rinfo->has_size && rinfo->size == size) {
            uint8_t sha[32];
            bool same = false;
            if (sw_xfer_sha256_fd(fd, sha) || lseek(fd, 0, SEEK_SET) != 0) {
                sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
                close(fd);
                return SW_EXIT_LOCAL;
            }
            int rc = same_remote(f, remote, sha, &same);
            if (rc || same) {
                close(fd);
                if (same)
                    skipped(f, true, local, remote, sha, size);
                return rc;
            }
        }
    }
    if (f->dry) { // sync --dry-run: it would be sent
        close(fd);
        f->files++;
        f->bytes += size;
        sync_line(f, "put", local, remote, size);
        return SW_EXIT_OK;
    }
    int rc = transfer(f, true, fd, size, local, remote);
    if (!in)
        close(fd);
    return rc;
}

// A name from a device's listing, checked before it names a local file: every name a device
// sends is untrusted (a hostile or impersonated node may list "../../.bashrc"). One path
// element of text: not empty, not "." or "..", no '/', no NUL, no control byte.
static bool safe_name(const ent_t *e)
{
    const char *s = e->name;
    if (e->bad_name || !s || !s[0] || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

// A fresh temp file ".NAME.swarm-XXXXXXXX" in the directory dfd (not following links): its
// name into tmp, the descriptor returned (-1 and errno on failure).
static int temp_at(int dfd, const char *name, char *tmp, size_t cap)
{
    for (int tries = 0; tries < 100; tries++) {
        uint32_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            r = (uint32_t)getpid() * 2654435761u + (uint32_t)tries;
        if ((size_t)snprintf(tmp, cap, ".%s.swarm-%08x", name, (unsigned)r) >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

// One device file into the file `name` of the local directory dfd, through a temp file in the
// same directory renamed into place (never through a link: the rename replaces a link itself).
// local is the path shown in messages.
static int get_file_at(fs_t *f, const char *remote, int dfd, const char *name, const char *local,
                       const ent_t *rinfo)
{
    struct stat st;
    bool exists = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        sw_cli_error(&f->c, "fs", "%s is a directory here", local);
        return SW_EXIT_LOCAL;
    }
    if (f->changed && exists && S_ISREG(st.st_mode) && rinfo && rinfo->has_size &&
        rinfo->size == (uint64_t)st.st_size) {
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        uint8_t sha[32];
        if (fd < 0 || sw_xfer_sha256_fd(fd, sha)) {
            sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
            if (fd >= 0)
                close(fd);
            return SW_EXIT_LOCAL;
        }
        close(fd);
        bool same = false;
        int rc = same_remote(f, remote, sha, &same);
        if (rc || same) {
            if (same)
                skipped(f, false, local, remote, sha, rinfo->size);
            return rc;
        }
    }
    char tmp[NAME_MAX + 1];
    int fd = temp_at(dfd, name, tmp, sizeof tmp);
    if (fd < 0) {
        sw_cli_error(&f->c, "fs", "cannot write %s: %s", local, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, exists && S_ISREG(st.st_mode) ? (st.st_mode & 07777) : (0666 & ~um));
    int rc = transfer(f, false, fd, rinfo && rinfo->has_size ? rinfo->size : 0, local, remote);
    if (close(fd) && !rc) {
        sw_cli_error(&f->c, "fs", "cannot write %s: %s", local, strerror(errno));
        rc = SW_EXIT_LOCAL;
    }
    if (!rc && renameat(dfd, tmp, dfd, name)) {
        sw_cli_error(&f->c, "fs", "cannot write %s: %s", local, strerror(errno));
        rc = SW_EXIT_LOCAL;
    }
    if (rc)
        unlinkat(dfd, tmp, 0);
    return rc;
}

// One device file to local (or "-"): a path the user named, so its directory may be a link.
static int get_file(fs_t *f, const char *remote, const char *local, const ent_t *rinfo)
{
    if (!strcmp(local, "-"))
        return transfer(f, false, 1, rinfo && rinfo->has_size ? rinfo->size : 0, local, remote);
    char dir[4096], b[NAME_MAX + 1];
    parent_of(local, dir, sizeof dir);
    if (!strchr(local, '/'))
        snprintf(dir, sizeof dir, ".");
    base_name(local, b, sizeof b);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        sw_cli_error(&f->c, "fs", "cannot write %s: %s", local, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    int rc = get_file_at(f, remote, dfd, b, local, rinfo);
    close(dfd);
    return rc;
}

// A directory on the device that must exist (made when missing; its parent exists).
static int ensure_rdir(fs_t *f, const char *path)
{
    if (!path[0])
        return SW_EXIT_OK;
    reply_t r;
    int err = path_call(f, "f.mkdir", path, NULL, false, &r);
    free(r.p);
    if (err == SW_EREMOTE && !strcmp(r.text, "fx")) {
        ent_t e;
        err = rstat(f, path, &e, &r);
        if (!err && e.type != 'd') {
            sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", path);
            return SW_EXIT_REMOTE;
        }
    }
    return err ? report(f, err, r.text, path) : SW_EXIT_OK;
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
        if (!safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, not deleted", e->name ? e->name : "", rdir[0] ? rdir : "/");
            x = SW_EXIT_REMOTE;
        } else {
            char *rp = join(rdir, e->name);
            if (!f->dry)
                x = e->type == 'd' ? rm_tree(f, rp, 0) : path_op(f, "f.rm", rp);
            if (!x) {
                f->deleted++;
                sync_line(f, "delete", NULL, rp, 0);
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
static int put_tree(fs_t *f, const char *ldir, const char *rdir, int depth, bool missing)
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
            int err = rstat(f, rdir, &e, &r);
            if (err == SW_EREMOTE && !strcmp(r.text, "fn"))
                missing = true;
            else if (err)
                return report(f, err, r.text, rdir);
            else if (e.type != 'd') {
                sw_cli_error(&f->c, "fs", "exists on the device and is not a directory: %s", rdir);
                return SW_EXIT_REMOTE;
            }
        }
        if (missing)
            sync_line(f, "mkdir", NULL, rdir, 0);
    } else {
        rc = depth == 0 ? mkdir_p(f, rdir) : ensure_rdir(f, rdir);
    }
    if (rc)
        return rc;
    // --changed and sync compare with what the device has: one listing per directory
    listing_t ls = {NULL, 0};
    bool known = missing;
    if ((f->changed || f->sync) && !missing) {
        reply_t r;
        int err = rlist(f, rdir, true, &ls, &r);
        if (err == 0)
            known = true;
        else if (f->del || !(err == SW_EREMOTE && !strncmp(r.text, "ETOOBIG", 7)))
            return report(f, err, r.text, rdir[0] ? rdir : "/"); // (too large: stat each)
    }
    char **names;
    size_t n;
    rc = local_list(f, ldir, &names, &n);
    for (size_t i = 0; i < n && !rc && !f->interrupted; i++) {
        char *lp = join(ldir, names[i]), *rp = join(rdir, names[i]);
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
            rc = put_tree(f, lp, rp, depth + 1, known && !there);
        } else if (S_ISREG(st.st_mode)) {
            const ent_t *e = NULL;
            for (size_t k = 0; known && k < ls.n && !e; k++)
                if (!strcmp(ls.e[k].name, names[i]))
                    e = &ls.e[k];
            rc = put_file(f, lp, rp, e, known);
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
    listing_free(&ls);
    if (!rc && f->interrupted)
        rc = SW_EXIT_INTERRUPT;
    return rc;
}

// The device directory rdir into the local directory `name` of pdfd (made when missing);
// ldir is its path for messages. Below the folder the user named, every step is opened
// relative to its parent and never through a link, so no name a device lists can lead out.
static int get_tree(fs_t *f, const char *rdir, int pdfd, const char *name, const char *ldir,
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
    int err = rlist(f, rdir, true, &ls, &r);
    if (err) {
        close(dfd);
        return report(f, err, r.text, rdir[0] ? rdir : "/");
    }
    int rc = SW_EXIT_OK, refused = SW_EXIT_OK;
    for (size_t i = 0; i < ls.n && !rc && !f->interrupted; i++) {
        const ent_t *e = &ls.e[i];
        if (!safe_name(e)) {
            sw_cli_error(&f->c, "fs", "the device lists the name '%s' in %s: not a plain file "
                         "name, refused", e->name ? e->name : "", rdir[0] ? rdir : "/");
            refused = SW_EXIT_REMOTE;
            continue;
        }
        char *rp = join(rdir, e->name), *lp = join(ldir, e->name);
        if (e->type == 'd')
            rc = get_tree(f, rp, dfd, e->name, lp, depth + 1);
        else if (e->type == 'f')
            rc = get_file_at(f, rp, dfd, e->name, lp, e);
        else if (info_on(f)) {
            char eb[4 * 1024];
            fprintf(stderr, "swarm fs: %s: not a file or directory on the device, skipped\n",
                    SHOWN(eb, rp));
        }
        free(rp);
        free(lp);
    }
    listing_free(&ls);
    close(dfd);
    if (!rc && f->interrupted)
        rc = SW_EXIT_INTERRUPT;
    return rc ? rc : refused;
}

static void tree_summary(fs_t *f, bool put, const char *from, const char *to, double secs)
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
        json_line(o);
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

///////////////////////////////////////////////////////////////////////////////////////////////
// sync --watch

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
        char *p = join(dir, de->d_name), *r = rel[0] ? join(rel, de->d_name) : strdup(de->d_name);
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
            char *lp = join(ldir, e->rel), *rp = join(rdir, e->rel);
            int x = SW_EXIT_OK;
            if (c == 0 && old->e[i].dir != e->dir) // a file became a directory or the other way
                x = old->e[i].dir ? rm_tree(f, rp, 0) : path_op(f, "f.rm", rp);
            if (!x)
                x = e->dir ? mkdir_p(f, rp) : put_file(f, lp, rp, NULL, false);
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
        char *rp = join(rdir, key.rel);
        reply_t r;
        int x = SW_EXIT_OK, err = path_call(f, key.dir ? "f.rmdir" : "f.rm", rp, NULL, false, &r);
        free(r.p);
        if (!err) {
            f->deleted++;
            sync_line(f, "delete", NULL, rp, 0);
        } else if (!(err == SW_EREMOTE && !strcmp(r.text, "fn"))) { // (gone already: fine)
            x = report(f, err, r.text, rp);
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
static uint64_t count_files(const char *dir)
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
static int cmd_sync(fs_t *f, int argc, char **argv)
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
    base_name(local, b, sizeof b);
    const char *remote = argc > 1 ? argv[1] : b;
    if (!remote[0] || !strcmp(remote, ".") || !strcmp(remote, ".."))
        return sw__cli_usage(&f->c, "fs", "sync %s: name the device directory (sync DIR PATH; / "
                             "is the root)", local);
    if (f->del && is_root(remote))
        return sw__cli_usage(&f->c, "fs", "sync --delete into the device's root would remove its "
                             "config and apps (swarm.cfg, apps/, .swarm/): name a directory");
    f->sync = f->changed = f->recursive = true;
    f->in_tree = true;
    f->tree_total = count_files(local);
    snap_t before;
    if (f->watch) // before the first pass: what changes during it is sent by the next one
        snap_take(&before, local);
    double t0 = now_s();
    int rc = put_tree(f, local, is_root(remote) ? "" : remote, 0, false);
    if (!rc)
        tree_summary(f, true, local, remote, now_s() - t0);
    if (!rc && f->watch)
        rc = sync_watch(f, local, is_root(remote) ? "" : remote, &before);
    if (f->watch)
        snap_free(&before);
    return rc;
}

// cat PATH...: each device file to standard output.
static int cmd_cat(fs_t *f, int argc, char **argv)
{
    f->cat = true;
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc) && !f->interrupted; i++) {
        ent_t e;
        reply_t r;
        int x, err = rstat(f, argv[i], &e, &r);
        if (err) {
            x = report(f, err, r.text, argv[i][0] ? argv[i] : "/");
        } else if (e.type != 'f') {
            sw_cli_error(&f->c, "fs", "cat: %s is %s on the device", argv[i][0] ? argv[i] : "/",
                         e.type == 'd' ? "a directory" : "not a file");
            x = SW_EXIT_REMOTE;
        } else {
            x = transfer(f, false, 1, e.has_size ? e.size : 0, "-", argv[i]);
        }
        if (x && (!rc || fatal(x)))
            rc = x;
    }
    return rc;
}

static int cmd_put(fs_t *f, int argc, char **argv)
{
    const char *local = argv[0];
    char b[256];
    base_name(local, b, sizeof b);
    if (f->recursive) {
        struct stat st;
        if (stat(local, &st)) {
            sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
            return SW_EXIT_LOCAL;
        }
        if (!S_ISDIR(st.st_mode)) { // a plain file: as without -r
            f->recursive = false;
            return cmd_put(f, argc, argv);
        }
        const char *remote = argc > 1 ? argv[1] : b;
        f->in_tree = true;
        f->tree_total = count_files(local);
        double t0 = now_s();
        int rc = put_tree(f, local, remote, 0, false);
        if (!rc)
            tree_summary(f, true, local, remote, now_s() - t0);
        return rc;
    }
    bool in = !strcmp(local, "-");
    if (in && (argc < 2 || ends_with_slash(argv[1])))
        return sw__cli_usage(&f->c, "fs", "put -: name the device file (put - REMOTE)");
    char *remote = NULL;
    if (argc < 2) {
        remote = strdup(b);
    } else if (ends_with_slash(argv[1])) {
        remote = join(argv[1], b);
    } else {
        ent_t e;
        reply_t r;
        int err = rstat(f, argv[1], &e, &r);
        if (err == 0 && e.type == 'd') {
            if (in) {
                sw_cli_error(&f->c, "fs", "%s is a directory on the device; name the file",
                             argv[1]);
                return SW_EXIT_REMOTE;
            }
            remote = join(argv[1], b);
        } else if (err == 0 || (err == SW_EREMOTE && !strcmp(r.text, "fn"))) {
            remote = strdup(argv[1]);
        } else {
            return report(f, err, r.text, argv[1]);
        }
    }
    if (!remote) {
        sw_cli_error(&f->c, "fs", "out of memory");
        return SW_EXIT_LOCAL;
    }
    int rc = put_file(f, local, remote, NULL, false);
    free(remote);
    return rc;
}

static int cmd_get(fs_t *f, int argc, char **argv)
{
    const char *remote = argv[0];
    ent_t e;
    reply_t r;
    int err = rstat(f, remote, &e, &r);
    if (err)
        return report(f, err, r.text, remote[0] ? remote : "/");
    char b[256];
    base_name(remote, b, sizeof b);
    if (e.type == 'd') {
        if (!f->recursive) {
            sw_cli_error(&f->c, "fs", "%s is a directory on the device (get -r copies a tree)",
                         remote[0] ? remote : "/");
            return SW_EXIT_REMOTE;
        }
        if (argc < 2 && !b[0])
            return sw__cli_usage(&f->c, "fs", "get -r of the root: name the local directory");
        const char *local = argc > 1 ? argv[1] : b;
        if (!strcmp(local, "-"))
            return sw__cli_usage(&f->c, "fs", "get -r cannot write a tree to standard output");
        f->in_tree = true;
        double t0 = now_s();
        int rc = get_tree(f, remote, AT_FDCWD, local, local, 0);
        if (!rc)
            tree_summary(f, false, remote, local, now_s() - t0);
        return rc;
    }
    if (!b[0])
        return sw__cli_usage(&f->c, "fs", "get: name a file");
    char *local;
    struct stat st;
    if (argc < 2)
        local = strdup(b);
    else if (strcmp(argv[1], "-") &&
             (ends_with_slash(argv[1]) || (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode))))
        local = join(argv[1], b);
    else
        local = strdup(argv[1]);
    if (!local) {
        sw_cli_error(&f->c, "fs", "out of memory");
        return SW_EXIT_LOCAL;
    }
    int rc = get_file(f, remote, local, &e);
    free(local);
    return rc;
}

// cp SRC DST: get or put, by the side marked ':' (the device's).
static int cmd_cp(fs_t *f, int argc, char **argv)
{
    (void)argc; // 2
    bool rs = argv[0][0] == ':', rd = !rs; // (one side only: checked before connecting)
    char *a[2] = {argv[0] + rs, argv[1] + rd};
    if (rs) {
        if (!strcmp(argv[0], ":")) // the whole root: get -r "" needs a local name
            a[0] = (char *)"/";
        f->cmd = "get";
        return cmd_get(f, 2, a);
    }
    f->cmd = "put";
    return cmd_put(f, a[1][0] ? 2 : 1, a); // ':' alone: its name at the root
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Completion

void sw__cli_fs_complete(const sw_cli_t *cli, const char *link, const char *cmd, int k,
                         const char *word, FILE *out)
{
    const fs_cmd_help_t *h = find_cmd(cmd);
    size_t na = h ? strlen(h->args) : 0;
    if (!na || k < 0 || (h->max >= 0 && k >= h->max))
        return;
    char kind = h->args[(size_t)k < na ? (size_t)k : na - 1];
    const char *mark = "";
    if (kind == 'C' && word[0] == ':') { // cp: the device's side
        mark = ":";
        word++;
    } else if (kind != 'R') {
        return; // a local file: the shell's own completion
    }
    const char *slash = strrchr(word, '/');
    size_t dl = slash ? (size_t)(slash - word + 1) : 0, bl = strlen(word + dl);
    char *dir = strndup(word, dl);
    fs_t *f = calloc(1, sizeof *f);
    if (!dir || !f) {
        free(dir);
        free(f);
        return;
    }
    f->c = *cli;
    f->c.quiet = true;
    if (!f->c.timeout_ms || f->c.timeout_ms > 2000)
        f->c.timeout_ms = 2000;
    uv_loop_init(&f->loop);
    listing_t ls;
    reply_t r;
    if (sw__cli_connect(&f->c, "fs", &f->loop, link, &f->l) == 0 && rlist(f, dir, true, &ls, &r) == 0) {
        for (size_t i = 0; i < ls.n; i++) {
            const ent_t *e = &ls.e[i];
            // a device's names reach the prompt: plain printable ones only
            if (safe_name(e) && !sw__esc_needed((const uint8_t *)e->name, strlen(e->name)) &&
                !strncmp(e->name, word + dl, bl))
                fprintf(out, "%s%s%s%s\n", mark, dir, e->name, e->type == 'd' ? "/" : "");
        }
        listing_free(&ls);
    }
    sw__cli_finish(&f->loop, f->l);
    free(f);
    free(dir);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The command

int sw_cli_fs(const sw_cli_t *cli, int argc, char **argv)
{
    fs_t *f = calloc(1, sizeof *f);
    if (!f) {
        sw_cli_error(cli, "fs", "out of memory");
        return SW_EXIT_LOCAL;
    }
    f->c = *cli;
    bool xfer_opt = false, changed_opt = false;
    const sw_opt_t opts[] = {
        {.kind = SW_OPT_FLAG, .name = "recursive", .shorts = "rR", .dst = &f->recursive,
         .help = "get/put/cp: copy a directory tree (directories are made, files copied, "
                 "nothing deleted); rm: delete a directory with everything in it"},
        {.kind = SW_OPT_FLAG, .name = "changed", .dst = &f->changed, .seen = &changed_opt,
         .help = "get/put/cp: copy only files whose size or SHA-256 differ"},
        {.kind = SW_OPT_FLAG, .name = "delete", .dst = &f->del,
         .help = "sync: remove what the local directory lacks"},
        {.kind = SW_OPT_FLAG, .name = "dry-run", .dst = &f->dry,
         .help = "sync: change nothing, print what would be done"},
        {.kind = SW_OPT_FLAG, .name = "watch", .dst = &f->watch,
         .help = "sync: then keep following the local directory, sending each change as it "
                 "happens, until Ctrl-C"},
        {.kind = SW_OPT_UINT, .name = "window", .arg = "N", .dst = &f->window,
         .size = sizeof f->window, .min = 1, .max = SW_XFER_WINDOW_MAX,
         .show_def = "8; 16 on a lossy serial link", .flags = SW_OPT_F_RANGE, .seen = &xfer_opt,
         .help = "transfers: chunk requests in flight"},
        {.kind = SW_OPT_BYTES, .name = "chunk", .arg = "BYTES", .dst = &f->chunk,
         .size = sizeof f->chunk, .min = 1, .max = 1u << 24, .seen = &xfer_opt,
         .help = "transfers: file bytes per request (default: the most the link and the device "
                 "carry in one message, adapting to bit errors on lossy serial links)"},
        {.kind = SW_OPT_FLAG, .name = "no-compress", .dst = &f->no_compress, .seen = &xfer_opt,
         .help = "transfers: send files plain (by default a put travels zlib-compressed to a "
                 "device that says it inflates, when that makes it smaller)"},
        {.kind = SW_OPT_FLAG, .name = "no-verify", .dst = &f->no_verify, .seen = &xfer_opt,
         .help = "transfers: skip the comparison with the device's SHA-256 (f.hash)"},
        {.kind = SW_OPT_FLAG, .shorts = "l", .dst = &f->lng,
         .help = "ls: type, size and modification time"},
        SW_OPT_FLAG_("parents", "p", &f->parents,
                     "mkdir: make missing parents; existing directories are fine"),
        SW_OPT_FLAG_("no-clobber", "n", &f->noclobber, "mv: fail if DST exists"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const names[] = {
        "LINK", "COMMAND (ls, cat, get, put, cp, sync, rm, mkdir, rmdir, mv, stat, hash)",
        "ARGS...", NULL};
    sw_cli_spec_t spec = {.cmd = "fs", .usage = fs_usage, .about = fs_about, .opts = opts,
                          .globals = "--timeout: per answer", .after = fs_after,
                          .pos = names, .own_help = true};
    int rc = SW_EXIT_OK;
    if (!sw__cli_parse(&f->c, &spec, argc, argv, &rc)) {
        free(f);
        return rc;
    }
    char **pos = spec.arg;
    int npos = spec.narg;
    if (spec.help) {
        const fs_cmd_help_t *h = NULL;
        for (int i = 0; i < npos && i < 2 && !h; i++)
            h = find_cmd(pos[i]);
        if (h)
            fputs(h->text, stdout);
        else
            sw__cli_help(&spec, stdout);
        free(f);
        return SW_EXIT_OK;
    }
    // rsync's order, as the issue asked for it: sync DIR DEVICE:PATH (split at the last ':',
    // so a link with a port works: tcp://10.0.0.7:27587:www; nothing after it: the root)
    char *sync_pos[4];
    char *colon = npos == 3 && !strcmp(pos[0], "sync") ? strrchr(pos[2], ':') : NULL;
    if (colon && colon != pos[2]) {
        *colon = 0;
        sync_pos[0] = pos[2];
        sync_pos[1] = pos[0];
        sync_pos[2] = pos[1];
        sync_pos[3] = colon[1] ? colon + 1 : (char *)"/";
        pos = sync_pos;
        npos = 4;
    }
    const fs_cmd_help_t *h = find_cmd(pos[1]);
    if (!h)
        rc = sw__cli_usage(&f->c, "fs", "unknown command '%s' (use ls, cat, get, put, cp, sync, "
                           "rm, mkdir, rmdir, mv, stat or hash)", pos[1]);
    else if (npos - 2 < h->min || (h->max >= 0 && npos - 2 > h->max))
        rc = sw__cli_usage(&f->c, "fs", "%s arguments for %s (see 'swarm fs %s --help')",
                           npos - 2 < h->min ? "missing" : "too many", h->name, h->name);
    else if (f->lng && strcmp(h->name, "ls"))
        rc = sw__cli_usage(&f->c, "fs", "-l is an option of ls");
    else if (f->parents && strcmp(h->name, "mkdir"))
        rc = sw__cli_usage(&f->c, "fs", "-p is an option of mkdir");
    else if (f->noclobber && strcmp(h->name, "mv"))
        rc = sw__cli_usage(&f->c, "fs", "-n is an option of mv");
    else if (f->recursive && !cmd_in(h->name, "get put cp rm"))
        rc = sw__cli_usage(&f->c, "fs", "-r is an option of get, put, cp and rm");
    else if (changed_opt && !cmd_in(h->name, "get put cp"))
        rc = sw__cli_usage(&f->c, "fs", "--changed is an option of get, put and cp (sync always "
                           "compares)");
    else if (xfer_opt && !cmd_in(h->name, "get put cp cat sync"))
        rc = sw__cli_usage(&f->c, "fs", "--window, --chunk and --no-verify are options of the "
                           "transfers: get, put, cp, cat and sync");
    else if (!strcmp(h->name, "cp") && (pos[2][0] == ':') == (pos[3][0] == ':'))
        rc = sw__cli_usage(&f->c, "fs", "cp: mark the device side with ':' (one side only): "
                           "cp main.lua :apps/x/ or cp -r :apps backup");
    else if ((f->del || f->dry || f->watch) && strcmp(h->name, "sync"))
        rc = sw__cli_usage(&f->c, "fs", "--delete, --dry-run and --watch are options of sync");
    else if (f->watch && f->dry)
        rc = sw__cli_usage(&f->c, "fs", "--watch changes the device; it cannot go with --dry-run");
    else if (f->recursive && cmd_in(h->name, "put cp") && !strcmp(pos[2], "-"))
        rc = sw__cli_usage(&f->c, "fs", "put -r needs a directory, not standard input");
    if (rc) {
        free(f);
        return rc;
    }
    f->cmd = h->name;
    f->link = pos[0];

    uv_loop_init(&f->loop);
    rc = sw__cli_connect(&f->c, "fs", &f->loop, pos[0], &f->l);
    if (rc == 0) {
        int n = npos - 2;
        char **args = pos + 2;
        if (cmd_in(h->name, "get put cp cat sync rm")) {
            // Ctrl-C cancels a transfer (no half file here, the old one there) or stops a tree
            uv_signal_init(&f->loop, &f->sig);
            f->sig.data = f;
            uv_signal_start(&f->sig, on_sigint, SIGINT);
            f->sig_on = true;
        }
        if (!strcmp(h->name, "ls"))
            rc = cmd_ls(f, n, args);
        else if (!strcmp(h->name, "get"))
            rc = cmd_get(f, n, args);
        else if (!strcmp(h->name, "put"))
            rc = cmd_put(f, n, args);
        else if (!strcmp(h->name, "rm"))
            rc = cmd_rm(f, n, args);
        else if (!strcmp(h->name, "cat"))
            rc = cmd_cat(f, n, args);
        else if (!strcmp(h->name, "cp"))
            rc = cmd_cp(f, n, args);
        else if (!strcmp(h->name, "sync"))
            rc = cmd_sync(f, n, args);
        else if (!strcmp(h->name, "mkdir"))
            rc = cmd_mkdir(f, n, args);
        else if (!strcmp(h->name, "rmdir"))
            rc = cmd_each(f, "f.rmdir", n, args);
        else if (!strcmp(h->name, "mv"))
            rc = cmd_mv(f, n, args);
        else if (!strcmp(h->name, "stat"))
            rc = cmd_stat(f, n, args);
        else
            rc = cmd_hash(f, n, args);
        if (f->interrupted)
            rc = SW_EXIT_INTERRUPT;
        if (f->sig_on)
            uv_close((uv_handle_t *)&f->sig, NULL);
    }
    sw__cli_finish(&f->loop, f->l);
    free(f);
    return rc;
}
