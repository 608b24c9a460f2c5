// `swarm fs` internals shared by its files (cli_fs*.c): the state of one command, the device's
// answers as they are decoded, and each file's entry points. Not a public contract.
#ifndef SW_HOST_CLI_FS_INT_H
#define SW_HOST_CLI_FS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_int.h"
#include "esc.h"
#include "mpjson.h"
#include "xfer.h"

#define MAX_DEPTH 64 // directory levels -r, rm -r, hash and sync follow

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

// A path for a person's terminal: it may hold names a device listed (control bytes, escape
// sequences), so it is shown escaped (esc.c). JSON output carries the real string.
#define SHOWN(buf, s) sw__esc_str((buf), sizeof(buf), (s))

static inline double now_s(void)
{
    return (double)uv_hrtime() / 1e9;
}

static inline bool info_on(const fs_t *f)
{
    return !f->c.quiet;
}

// the link is gone or silent, or Ctrl-C: the rest would fail too
static inline bool fatal(int rc)
{
    return rc == SW_EXIT_LINK || rc == SW_EXIT_TIMEOUT || rc == SW_EXIT_INTERRUPT;
}

// cli_fs_path.c: paths
char *sw__fs_join(const char *dir, const char *name);
void sw__fs_base_name(const char *p, char *buf, size_t cap);
void sw__fs_parent_of(const char *p, char *buf, size_t cap);
bool sw__fs_ends_with_slash(const char *p);
bool sw__fs_is_root(const char *p);
bool sw__fs_safe_name(const ent_t *e);

// cli_fs_call.c: calls to the f app: 0 or an SW_E* code with r->text (report and path_op: the
// exit status, the refusal printed)
void sw__fs_listing_free(listing_t *ls);
int sw__fs_fcall(fs_t *f, const char *cmd, const sw_mpw_t *args, reply_t *r);
int sw__fs_report(fs_t *f, int err, const char *text, const char *path);
int sw__fs_path_call(fs_t *f, const char *cmd, const char *path, const char *k2, bool v2,
                     reply_t *r);
int sw__fs_rstat(fs_t *f, const char *path, ent_t *e, reply_t *r);
int sw__fs_rlist(fs_t *f, const char *path, bool x, listing_t *ls, reply_t *r);
int sw__fs_rhash(fs_t *f, const char *path, uint8_t out[32], reply_t *r);
int sw__fs_path_op(fs_t *f, const char *call, const char *path);

// cli_fs_out.c: output
void sw__fs_json_line(cJSON *o);
const char *sw__fs_tree_tag(const fs_t *f, char *buf, size_t cap, uint64_t plus);
void sw__fs_print_done(fs_t *f, bool put, const char *local, const char *remote,
                       const sw_xfer_result_t *r, double secs, bool skipped);
void sw__fs_sync_line(fs_t *f, const char *op, const char *local, const char *remote,
                      uint64_t size);
void sw__fs_tree_summary(fs_t *f, bool put, const char *from, const char *to, double secs);

// cli_fs_ops.c: the commands that are calls (each returns the exit status)
int sw__fs_cmd_ls(fs_t *f, int argc, char **argv);
int sw__fs_cmd_stat(fs_t *f, int argc, char **argv);
int sw__fs_cmd_hash(fs_t *f, int argc, char **argv);
int sw__fs_cmd_each(fs_t *f, const char *call, int argc, char **argv);
int sw__fs_rm_tree(fs_t *f, const char *dir, int depth);
int sw__fs_cmd_rm(fs_t *f, int argc, char **argv);
int sw__fs_mkdir_p(fs_t *f, const char *path);
int sw__fs_cmd_mkdir(fs_t *f, int argc, char **argv);
int sw__fs_cmd_mv(fs_t *f, int argc, char **argv);

// cli_fs_xfer.c: one file through the transfer engine, and get, put, cat, cp
void sw__fs_on_sigint(uv_signal_t *h, int signum);
int sw__fs_put_file(fs_t *f, const char *local, const char *remote, const ent_t *rinfo,
                    bool rknown);
int sw__fs_get_file_at(fs_t *f, const char *remote, int dfd, const char *name, const char *local,
                       const ent_t *rinfo);
int sw__fs_cmd_cat(fs_t *f, int argc, char **argv);
int sw__fs_cmd_put(fs_t *f, int argc, char **argv);
int sw__fs_cmd_get(fs_t *f, int argc, char **argv);
int sw__fs_cmd_cp(fs_t *f, int argc, char **argv);

// cli_fs_tree.c: trees
int sw__fs_put_tree(fs_t *f, const char *ldir, const char *rdir, int depth, bool missing);
int sw__fs_get_tree(fs_t *f, const char *rdir, int pdfd, const char *name, const char *ldir,
                    int depth);

// cli_fs_sync.c: sync and --watch
uint64_t sw__fs_count_files(const char *dir);
int sw__fs_cmd_sync(fs_t *f, int argc, char **argv);

#endif
