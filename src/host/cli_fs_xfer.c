// `swarm fs`: one file through the transfer engine (xfer.c: a window of chunk requests, atomic put,
// SHA-256 check) and the commands built on it: get, put, cat, cp. Local files are written through
// a temp file and renamed, so a failed get leaves no half file behind either.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fs_int.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// One file

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

void sw__fs_on_sigint(uv_signal_t *h, int signum)
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
            sw__fs_parent_of(remote, dir, sizeof dir);
            sw_cli_error(&f->c, "fs", "no such directory on the device: %s", dir);
            sw__cli_hint(&f->c, "make it first: swarm fs %s mkdir -p %s", f->link, dir);
            return SW_EXIT_REMOTE;
        }
        return sw__fs_report(f, SW_EREMOTE, r->text, remote);
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
        if (r->err == SW_ETIMEDOUT && sw__cli_locked_line(&f->c, "fs", f->l))
            return SW_EXIT_LINK;
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
    sw__fs_base_name(put ? local : remote, b, sizeof b);
    snprintf(label, sizeof label, "%s%s %s", sw__fs_tree_tag(f, tag, sizeof tag, 1),
             put ? "put" : "get", b[0] ? SHOWN(eb, b) : "-");
    sw_progress_start(&x.prog, &f->c, label, size);
    sw_xfer_opts_t o = {f->window, f->chunk, f->dev_max, f->c.timeout_ms, f->no_verify,
                        put && !f->no_compress, f->zbits, f->zratio, NULL, 0, NULL, false, NULL, 0};
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
                "%u frames in, %u damaged; timeout %u ms, window %u; %u resent on an idle line; "
                "at most %u waited for the window\n",
                (unsigned)st.rel.sent, (unsigned)st.rel.retransmits, (unsigned)st.rel.delivered,
                (unsigned)st.rel.duplicates, (unsigned)st.frames.frames,
                (unsigned)(st.frames.err_crc + st.frames.err_len + st.frames.err_idle),
                (unsigned)st.timeout_ms, (unsigned)st.window, (unsigned)st.rel.idle_resends,
                (unsigned)st.waited_max);
    if (x.r.err)
        return xfer_failed(f, put, local, remote, &x.r);
    f->files++;
    f->bytes += x.r.bytes;
    sw__fs_print_done(f, put, local, remote, &x.r, secs, false);
    return SW_EXIT_OK;
}

// --changed: true if the device's remote (known to be a file of that size) has this SHA-256.
static int same_remote(fs_t *f, const char *remote, const uint8_t local[32], bool *same)
{
    uint8_t d[32];
    reply_t r;
    int err = sw__fs_rhash(f, remote, d, &r);
    if (err)
        return sw__fs_report(f, err, r.text, remote);
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
        sw__fs_print_done(f, put, local, remote, &r, 0, true);
}

// One local file (or "-") to the device. rinfo: what the device has at remote, when the
// caller knows (rknown: NULL = nothing there).
int sw__fs_put_file(fs_t *f, const char *local, const char *remote, const ent_t *rinfo,
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
            int err = sw__fs_rstat(f, remote, &e, &r);
            if (err == 0) {
                rinfo = &e;
            } else if (!(err == SW_EREMOTE && !strcmp(r.text, "fn"))) {
                close(fd);
                return sw__fs_report(f, err, r.text, remote);
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
        sw__fs_sync_line(f, "put", local, remote, size);
        return SW_EXIT_OK;
    }
    int rc = transfer(f, true, fd, size, local, remote);
    if (!in)
        close(fd);
    return rc;
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
int sw__fs_get_file_at(fs_t *f, const char *remote, int dfd, const char *name, const char *local,
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
    sw__fs_parent_of(local, dir, sizeof dir);
    if (!strchr(local, '/'))
        snprintf(dir, sizeof dir, ".");
    sw__fs_base_name(local, b, sizeof b);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        sw_cli_error(&f->c, "fs", "cannot write %s: %s", local, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    int rc = sw__fs_get_file_at(f, remote, dfd, b, local, rinfo);
    close(dfd);
    return rc;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The commands

// cat PATH...: each device file to standard output.
int sw__fs_cmd_cat(fs_t *f, int argc, char **argv)
{
    f->cat = true;
    int rc = SW_EXIT_OK;
    for (int i = 0; i < argc && !fatal(rc) && !f->interrupted; i++) {
        ent_t e;
        reply_t r;
        int x, err = sw__fs_rstat(f, argv[i], &e, &r);
        if (err) {
            x = sw__fs_report(f, err, r.text, argv[i][0] ? argv[i] : "/");
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

int sw__fs_cmd_put(fs_t *f, int argc, char **argv)
{
    const char *local = argv[0];
    char b[256];
    sw__fs_base_name(local, b, sizeof b);
    if (f->recursive) {
        struct stat st;
        if (stat(local, &st)) {
            sw_cli_error(&f->c, "fs", "cannot read %s: %s", local, strerror(errno));
            return SW_EXIT_LOCAL;
        }
        if (!S_ISDIR(st.st_mode)) { // a plain file: as without -r
            f->recursive = false;
            return sw__fs_cmd_put(f, argc, argv);
        }
        const char *remote = argc > 1 ? argv[1] : b;
        f->in_tree = true;
        f->tree_total = sw__fs_count_files(local);
        double t0 = now_s();
        int rc = sw__fs_put_tree(f, local, remote, 0, false);
        if (!rc)
            sw__fs_tree_summary(f, true, local, remote, now_s() - t0);
        return rc;
    }
    bool in = !strcmp(local, "-");
    if (in && (argc < 2 || sw__fs_ends_with_slash(argv[1])))
        return sw__cli_usage(&f->c, "fs", "put -: name the device file (put - REMOTE)");
    char *remote = NULL;
    if (argc < 2) {
        remote = strdup(b);
    } else if (sw__fs_ends_with_slash(argv[1])) {
        remote = sw__fs_join(argv[1], b);
    } else {
        ent_t e;
        reply_t r;
        int err = sw__fs_rstat(f, argv[1], &e, &r);
        if (err == 0 && e.type == 'd') {
            if (in) {
                sw_cli_error(&f->c, "fs", "%s is a directory on the device; name the file",
                             argv[1]);
                return SW_EXIT_REMOTE;
            }
            remote = sw__fs_join(argv[1], b);
        } else if (err == 0 || (err == SW_EREMOTE && !strcmp(r.text, "fn"))) {
            remote = strdup(argv[1]);
        } else {
            return sw__fs_report(f, err, r.text, argv[1]);
        }
    }
    if (!remote) {
        sw_cli_error(&f->c, "fs", "out of memory");
        return SW_EXIT_LOCAL;
    }
    int rc = sw__fs_put_file(f, local, remote, NULL, false);
    free(remote);
    return rc;
}

int sw__fs_cmd_get(fs_t *f, int argc, char **argv)
{
    const char *remote = argv[0];
    ent_t e;
    reply_t r;
    int err = sw__fs_rstat(f, remote, &e, &r);
    if (err)
        return sw__fs_report(f, err, r.text, remote[0] ? remote : "/");
    char b[256];
    sw__fs_base_name(remote, b, sizeof b);
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
        int rc = sw__fs_get_tree(f, remote, AT_FDCWD, local, local, 0);
        if (!rc)
            sw__fs_tree_summary(f, false, remote, local, now_s() - t0);
        return rc;
    }
    if (!b[0])
        return sw__cli_usage(&f->c, "fs", "get: name a file");
    char *local;
    struct stat st;
    if (argc < 2)
        local = strdup(b);
    else if (strcmp(argv[1], "-") &&
             (sw__fs_ends_with_slash(argv[1]) || (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode))))
        local = sw__fs_join(argv[1], b);
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
int sw__fs_cmd_cp(fs_t *f, int argc, char **argv)
{
    (void)argc; // 2
    bool rs = argv[0][0] == ':', rd = !rs; // (one side only: checked before connecting)
    char *a[2] = {argv[0] + rs, argv[1] + rd};
    if (rs) {
        if (!strcmp(argv[0], ":")) // the whole root: get -r "" needs a local name
            a[0] = (char *)"/";
        f->cmd = "get";
        return sw__fs_cmd_get(f, 2, a);
    }
    f->cmd = "put";
    return sw__fs_cmd_put(f, a[1][0] ? 2 : 1, a); // ':' alone: its name at the root
}
