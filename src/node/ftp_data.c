// FTP data connections of the node: a passive listener per transfer (PASV / EPSV; any free port
// or one of ftp.pasv_min...pasv_max), the data connection (only from the control connection's
// client), and the transfers over it — downloads paced by the port's queue, listings a page at
// a time, and uploads into a temp file beside the target that is renamed over it only when the
// data connection has closed cleanly. 226 is sent after the data connection has closed.
#include "profile.h"
#if SW_WITH_FTP
#include <stdio.h>
#include <string.h>

#include "ftp_int.h"

#define LINE_ROOM (SW_NAME_MAX + 128) // a listing page ends when less room than this is left

static const sw_port_ops_t *ops(const sw_ftp_sess_t *s) { return s->n->port.ops; }
static void *pctx(const sw_ftp_sess_t *s) { return s->n->port.ctx; }

///////////////////////////////////////////////////////////////////////////////////////////////
// The transfer's end

// Closes the file and removes an upload's temp file (unless it was committed).
static void xfer_clear(sw_ftp_sess_t *s)
{
    if (s->fd >= 0) {
        ops(s)->fs_close(pctx(s), s->fd);
        s->fd = -1;
    }
    if (s->tmp[0]) {
        ops(s)->fs_unlink(pctx(s), s->tmp);
        s->tmp[0] = 0;
    }
    sw_timer_stop(s->n, &s->xtimer);
    s->kind = SW_FTPX_NONE;
    s->phase = SW_FTPP_IDLE;
    s->rest = 0;
    s->saw_tmp = false;
}

void sw__ftp_xfer_abort(sw_ftp_sess_t *s, int code, const char *text)
{
    if (s->kind == SW_FTPX_NONE)
        return;
    if (s->kind == SW_FTPX_STOR)
        sw_log(s->n, SW_LOG_INFO, "ftp %s: upload of /%s aborted after %llu bytes; the file is unchanged",
               s->peer, s->path, (unsigned long long)s->count);
    sw__ftp_data_drop(s);
    xfer_clear(s);
    if (code)
        sw__ftp_reply(s, "%d %s", code, text);
}

// The transfer failed (asynchronously): reply, then go on with held input.
static void fail(sw_ftp_sess_t *s, int code, const char *text)
{
    sw__ftp_xfer_abort(s, code, text);
    sw__ftp_resume(s);
}

// The same with a port error about the transfer's path.
static void fail_err(sw_ftp_sess_t *s, int code, int err)
{
    char *path = s->srv->aux; // s->path goes with the transfer
    memcpy(path, s->path, SW_FTP_PATH_MAX);
    sw__ftp_xfer_abort(s, 0, NULL);
    sw__ftp_fail(s, code, path, err);
    sw__ftp_resume(s);
}

static void finish(sw_ftp_sess_t *s)
{
    xfer_clear(s);
    sw__ftp_reply(s, "226 Done.");
    sw__ftp_resume(s);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Passive listeners and data connections

static void pasv_close(sw_ftp_sess_t *s)
{
    if (s->pasv) {
        ops(s)->listener_close(pctx(s), s->pasv);
        s->pasv = NULL;
    }
}

void sw__ftp_data_drop(sw_ftp_sess_t *s)
{
    pasv_close(s);
    sw_ftp_data_t *d = s->data;
    if (d) { // the port closes it; its end is no longer ours to hear
        s->data = NULL;
        d->s = NULL;
        ops(s)->conn_close(pctx(s), d->conn);
    }
}

static int open_listener(sw_ftp_srv_t *srv, sw_listener_t **out, uint16_t *port)
{
    sw_node_t *n = srv->n;
    const char *addr = n->opts.listen_addr ? n->opts.listen_addr : "0.0.0.0";
    int rc = SW_EBUSY;
    if (!srv->pasv_min) {
        if ((rc = n->port.ops->tcp_listen(n->port.ctx, addr, 0, out)))
            return rc;
        *port = n->port.ops->listener_port(n->port.ctx, *out);
        if (!*port) {
            n->port.ops->listener_close(n->port.ctx, *out);
            return SW_EIO;
        }
    } else {
        // From where the last one was taken, so two sessions do not race for the same port.
        uint32_t span = (uint32_t)(srv->pasv_max - srv->pasv_min) + 1, tries = span < 100 ? span : 100;
        for (uint32_t k = 0; k < tries; k++) {
            uint16_t p = srv->pasv_next;
            srv->pasv_next = p >= srv->pasv_max ? srv->pasv_min : (uint16_t)(p + 1);
            rc = n->port.ops->tcp_listen(n->port.ctx, addr, p, out);
            if (!rc) {
                *port = p;
                break;
            }
            if (rc != SW_EBUSY)
                return rc;
        }
        if (rc)
            return rc;
    }
    (*out)->user = &srv->svc;
    return 0;
}

void sw__ftp_pasv(sw_ftp_sess_t *s, bool epsv)
{
    sw__ftp_data_drop(s);
    char line[96];
    if (!epsv && !sw_ftp_fmt_pasv(line, sizeof line, s->local, 1)) {
        sw__ftp_reply(s, "425 Fail: PASV needs IPv4 (our address is %s): use EPSV.", s->local);
        return;
    }
    uint16_t port = 0;
    int rc = open_listener(s->srv, &s->pasv, &port);
    if (rc) {
        s->pasv = NULL;
        sw_log(s->n, SW_LOG_WARN, "ftp %s: no data port: %s", s->peer, sw_strerror(rc));
        sw__ftp_reply(s, "425 Fail: cannot open a data port: %s.", sw_strerror(rc));
        return;
    }
    size_t k = epsv ? sw_ftp_fmt_epsv(line, sizeof line, port) : sw_ftp_fmt_pasv(line, sizeof line, s->local, port);
    sw__ftp_send(s, line, k);
}

// "1.2.3.4:5678" / "[::1]:5678" → the address part.
static void ip_of(const char *peer, char *out, size_t cap)
{
    const char *b = peer, *e;
    if (*b == '[') {
        b++;
        e = strchr(b, ']');
    } else {
        e = strrchr(b, ':');
    }
    size_t n = e ? (size_t)(e - b) : strlen(b);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
}

static void begin(sw_ftp_sess_t *s);
static void pump(sw_ftp_sess_t *s);
static void commit_fire(sw_node_t *n, sw_timer_t *t);

static void data_in(void *self, const uint8_t *p, size_t len)
{
    sw_ftp_data_t *d = self;
    sw_ftp_sess_t *s = d->s;
    if (!s || s->data != d || s->kind != SW_FTPX_STOR || s->phase != SW_FTPP_RUN)
        return; // nothing expects bytes here: dropped
    sw__ftp_touch(s);
    while (len) {
        int rc = ops(s)->fs_write(pctx(s), s->fd, s->off, p, len);
        if (rc <= 0) {
            fail_err(s, 451, rc < 0 ? rc : SW_EIO);
            return;
        }
        s->off += (uint64_t)rc;
        s->count += (uint64_t)rc;
        p += rc;
        len -= (size_t)rc;
    }
}

static void data_drained(void *self)
{
    sw_ftp_data_t *d = self;
    sw_ftp_sess_t *s = d->s;
    if (s && s->data == d && s->phase == SW_FTPP_RUN && s->kind != SW_FTPX_STOR) {
        sw__ftp_touch(s);
        pump(s);
    }
}

static void data_closed(void *self, int err)
{
    sw_ftp_data_t *d = self;
    sw_ftp_sess_t *s = d->s;
    sw_node_release(d->n, d, sizeof *d);
    if (!s || s->data != d)
        return;
    s->data = NULL;
    if (s->kind == SW_FTPX_NONE)
        return; // a parked connection went away; the next PASV opens another
    sw__ftp_touch(s);
    if (s->kind == SW_FTPX_STOR && s->phase == SW_FTPP_RUN) {
        if (err) {
            fail(s, 426, "Fail: data connection lost, upload discarded.");
            return;
        }
        // The data is made durable now; the rename waits for the grace (a poll of the
        // connections happens in between, so a control connection closed meanwhile is seen).
        int rc = ops(s)->fs_sync(pctx(s), s->fd);
        if (rc) {
            fail_err(s, 451, rc);
            return;
        }
        s->phase = SW_FTPP_COMMIT;
        s->xtimer.fn = commit_fire;
        sw_timer_start(s->n, &s->xtimer, SW_FTP_COMMIT_MS);
        return;
    }
    if (s->phase == SW_FTPP_CLOSE && !err) {
        finish(s);
        return;
    }
    fail(s, 426, "Fail: data connection closed, transfer aborted.");
}

static const sw_conn_ops_t data_ops = {data_in, data_drained, data_closed};

void sw__ftp_data_accept(sw_ftp_srv_t *srv, sw_listener_t *l, sw_conn_t *c)
{
    sw_node_t *n = srv->n;
    sw_ftp_sess_t *s = srv->sessions;
    while (s && s->pasv != l)
        s = s->next;
    if (!s || s->closing || s->data) {
        n->port.ops->conn_close(n->port.ctx, c);
        return;
    }
    // Only the control connection's client may connect: nobody else can take its transfer.
    char peer[64], a[64], b[64];
    n->port.ops->conn_peer(n->port.ctx, c, peer, sizeof peer);
    ip_of(peer, a, sizeof a);
    ip_of(s->peer, b, sizeof b);
    if (strcmp(a, b) != 0) {
        sw_log(n, SW_LOG_WARN, "ftp %s: refused a data connection from %s", s->peer, peer);
        n->port.ops->conn_close(n->port.ctx, c);
        return;
    }
    sw_ftp_data_t *d = sw_node_alloc(n, sizeof *d);
    if (!d) {
        n->port.ops->conn_close(n->port.ctx, c);
        return;
    }
    d->ops = &data_ops;
    d->s = s;
    d->conn = c;
    d->n = n;
    c->user = d;
    pasv_close(s); // one connection per PASV
    s->data = d;
    sw__ftp_touch(s);
    if (s->phase == SW_FTPP_WAIT)
        begin(s);
    else // parked until its command: an upload's first bytes must not arrive before STOR
        n->port.ops->conn_pause(n->port.ctx, c, true);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Starting a transfer

static void wait_fire(sw_node_t *n, sw_timer_t *t)
{
    sw_ftp_sess_t *s = t->user;
    (void)n;
    if (s->phase == SW_FTPP_WAIT)
        fail(s, 425, "Fail: no data connection.");
}

static void begin(sw_ftp_sess_t *s)
{
    sw_timer_stop(s->n, &s->xtimer);
    s->phase = SW_FTPP_RUN;
    s->count = 0;
    sw__ftp_reply(s, s->kind == SW_FTPX_RETR || s->kind == SW_FTPX_STOR ? "150 Opened data connection."
                                                                        : "150 Directory listing:");
    ops(s)->conn_pause(pctx(s), s->data->conn, false);
    if (s->kind != SW_FTPX_STOR)
        pump(s);
}

static void xfer_start(sw_ftp_sess_t *s)
{
    if (s->data) {
        begin(s);
    } else if (s->pasv) {
        s->phase = SW_FTPP_WAIT;
        s->xtimer.fn = wait_fire;
        sw_timer_start(s->n, &s->xtimer, SW_FTP_CONNECT_MS);
    } else {
        sw__ftp_xfer_abort(s, 425, "Fail: use PASV or EPSV first.");
    }
}

// A transfer command was refused: its data connection goes too (clients open a new one).
static void refused(sw_ftp_sess_t *s)
{
    sw__ftp_data_drop(s);
    s->rest = 0;
}

static bool want_chunk(sw_ftp_sess_t *s)
{
    if (!s->chunk && !(s->chunk = sw_node_alloc_buf(s->n, SW_FTP_CHUNK))) {
        sw__ftp_reply(s, "451 Fail: out of memory.");
        refused(s);
        return false;
    }
    return true;
}

// The directory part of the normalised path p ("" for the root).
static void parent_of(const char *p, char *out)
{
    const char *slash = strrchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : 0;
    memcpy(out, p, n);
    out[n] = 0;
}

void sw__ftp_retr(sw_ftp_sess_t *s, const char *p)
{
    sw_stat_t st;
    int fd, rc = p[0] ? ops(s)->fs_stat(pctx(s), p, &st) : SW_EISDIR;
    if (!rc && st.type != SW_FT_FILE)
        rc = st.type == SW_FT_DIR ? SW_EISDIR : SW_EPERM;
    if (!rc)
        rc = ops(s)->fs_open(pctx(s), p, SW_O_READ, &fd);
    if (rc) {
        sw__ftp_fail(s, 550, p, rc);
        refused(s);
        return;
    }
    if (s->rest > st.size) {
        ops(s)->fs_close(pctx(s), fd);
        sw__ftp_reply(s, "554 Fail: restart offset beyond the end of the file (%llu bytes).",
                      (unsigned long long)st.size);
        refused(s);
        return;
    }
    if (!want_chunk(s)) {
        ops(s)->fs_close(pctx(s), fd);
        return;
    }
    s->fd = fd;
    s->off = s->rest;
    s->kind = SW_FTPX_RETR;
    memcpy(s->path, p, sizeof s->path);
    xfer_start(s);
}

// Copies the first n bytes of path into the open temp file fd (APPE, REST + STOR).
static int copy_head(sw_ftp_sess_t *s, const char *path, int fd, uint64_t n)
{
    int src, rc = ops(s)->fs_open(pctx(s), path, SW_O_READ, &src);
    if (rc)
        return rc;
    uint64_t at = 0;
    while (at < n) {
        size_t want = n - at < SW_FTP_CHUNK ? (size_t)(n - at) : SW_FTP_CHUNK;
        rc = ops(s)->fs_read(pctx(s), src, at, s->chunk, want);
        if (rc <= 0)
            break; // shorter than it was a moment ago: what there is
        int w = ops(s)->fs_write(pctx(s), fd, at, s->chunk, (size_t)rc);
        if (w != rc) {
            rc = w < 0 ? w : SW_EIO;
            break;
        }
        at += (uint64_t)rc;
    }
    ops(s)->fs_close(pctx(s), src);
    s->off = at;
    return rc < 0 ? rc : 0;
}

void sw__ftp_stor(sw_ftp_sess_t *s, const char *p, bool append)
{
    char *dir = s->srv->aux; // p is in arg
    sw_stat_t st, dst;
    parent_of(p, dir);
    int rc = p[0] ? ops(s)->fs_stat(pctx(s), dir, &dst) : SW_EISDIR;
    if (!rc && dst.type != SW_FT_DIR)
        rc = SW_ENOTDIR;
    if (rc) {
        sw__ftp_fail(s, 550, p[0] ? dir : p, rc);
        refused(s);
        return;
    }
    uint64_t size = 0;
    rc = ops(s)->fs_stat(pctx(s), p, &st);
    if (!rc && st.type != SW_FT_FILE) {
        sw__ftp_fail(s, 550, p, st.type == SW_FT_DIR ? SW_EISDIR : SW_EPERM);
        refused(s);
        return;
    }
    if (!rc)
        size = st.size;
    uint64_t head = append ? size : s->rest;
    if (head > size) {
        sw__ftp_reply(s, "554 Fail: restart offset beyond the end of the file (%llu bytes).",
                      (unsigned long long)size);
        refused(s);
        return;
    }
    if (!want_chunk(s))
        return;
    // The temp file beside the target (the same file system, so the rename is atomic).
    int fd = -1;
    rc = SW_EEXIST;
    for (int tries = 0; tries < 5 && rc == SW_EEXIST; tries++) {
        int k = snprintf(s->tmp, sizeof s->tmp, "%s%s.%.200s%s%lu", dir, dir[0] ? "/" : "",
                         sw_path_base(p), SW_FTP_TMP_TAG, (unsigned long)s->srv->tmp_seq++);
        if (k < 0 || (size_t)k >= sizeof s->tmp) {
            rc = SW_ETOOBIG;
            break;
        }
        rc = ops(s)->fs_open(pctx(s), s->tmp, SW_O_WRITE | SW_O_CREATE | SW_O_EXCL, &fd);
    }
    if (rc) {
        s->tmp[0] = 0;
        sw__ftp_fail(s, 550, p, rc);
        refused(s);
        return;
    }
    s->off = 0;
    if (head && (rc = copy_head(s, p, fd, head))) {
        ops(s)->fs_close(pctx(s), fd);
        ops(s)->fs_unlink(pctx(s), s->tmp);
        s->tmp[0] = 0;
        sw__ftp_fail(s, 451, p, rc);
        refused(s);
        return;
    }
    s->fd = fd;
    s->kind = SW_FTPX_STOR;
    memcpy(s->path, p, sizeof s->path);
    sw_log(s->n, SW_LOG_DEBUG, "ftp %s: receiving /%s into /%s", s->peer, p, s->tmp);
    xfer_start(s);
}

// An upload's data connection closed cleanly (its temp file is synced) and nothing said
// otherwise within the grace: rename it over the target.
static void commit_fire(sw_node_t *n, sw_timer_t *t)
{
    sw_ftp_sess_t *s = t->user;
    if (s->kind != SW_FTPX_STOR || s->phase != SW_FTPP_COMMIT)
        return;
    int rc = ops(s)->fs_close(pctx(s), s->fd);
    s->fd = -1;
    if (!rc)
        rc = ops(s)->fs_rename(pctx(s), s->tmp, s->path);
    if (rc) {
        fail_err(s, 451, rc); // removes the temp file
        return;
    }
    s->tmp[0] = 0;
    sw_log(n, SW_LOG_INFO, "ftp %s: stored /%s (%llu bytes)", s->peer, s->path, (unsigned long long)s->count);
    sw__ftp_changed(s->srv, s->path);
    finish(s);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Listings

// What to list for the normalised path p: a directory; else (a file, a glob, a missing name)
// the matching names of its directory, as micro-swarm's server does — a miss lists nothing.
static int list_target(sw_ftp_sess_t *s, const char *p, bool dir_only)
{
    sw_stat_t st;
    int rc = ops(s)->fs_stat(pctx(s), p, &st);
    s->pattern[0] = 0;
    s->pattern_glob = false;
    if (!rc && st.type == SW_FT_DIR) {
        memcpy(s->path, p, sizeof s->path);
        return 0;
    }
    if (dir_only || !p[0])
        return rc ? rc : SW_ENOTDIR;
    bool exists = !rc;
    parent_of(p, s->path);
    rc = ops(s)->fs_stat(pctx(s), s->path, &st);
    if (!rc && st.type != SW_FT_DIR)
        rc = SW_ENOTDIR;
    if (rc)
        return rc;
    const char *base = sw_path_base(p);
    snprintf(s->pattern, sizeof s->pattern, "%s", base);
    s->pattern_glob = !exists && sw_ftp_has_glob(base, strlen(base));
    return 0;
}

static int list_each(void *u, const sw_dirent_t *e)
{
    sw_ftp_sess_t *s = u;
    size_t idx = s->list_idx++;
    if (idx < s->list_skip)
        return 0; // listed on an earlier page
    s->list_skip = idx + 1;
    bool ours;
    if (sw__ftp_hidden(e->name, &ours)) {
        s->saw_tmp |= ours;
        return 0;
    }
    if (!s->path[0] && sw_path_reserved(e->name))
        return 0; // the node's key (auth.ftp on a locked node): refused by name, not listed
    if (e->type != SW_FT_FILE && e->type != SW_FT_DIR)
        return 0; // symlinks and the like: never served, not shown
    size_t nl = strlen(e->name);
    if (s->pattern[0] && !(s->pattern_glob ? sw_ftp_glob(s->pattern, strlen(s->pattern), e->name, nl)
                                           : !strcmp(s->pattern, e->name)))
        return 0;
    sw_ftp_entry_t ent = {e->name, e->type, 0, 0};
    if (s->kind != SW_FTPX_NLST) {
        char *path = s->srv->aux;
        sw_stat_t st;
        snprintf(path, SW_FTP_AUX_MAX, "%s%s%s", s->path, s->path[0] ? "/" : "", e->name);
        if (ops(s)->fs_stat(pctx(s), path, &st) == 0) {
            ent.size = st.size;
            ent.mtime = st.mtime;
        }
    }
    char *out = (char *)s->chunk + s->chunk_len;
    size_t room = SW_FTP_CHUNK - s->chunk_len, k = 0;
    if (s->kind == SW_FTPX_NLST) {
        if (!strpbrk(e->name, "\r\n") && nl + 3 <= room) {
            memcpy(out, e->name, nl);
            memcpy(out + nl, "\r\n", 2);
            k = nl + 2;
        }
    } else if (s->kind == SW_FTPX_MLSD) {
        k = sw_ftp_fmt_facts(out, room, &ent, s->facts);
    } else {
        k = sw_ftp_fmt_list(out, room, &ent, ops(s)->wall_s(pctx(s)));
    }
    s->chunk_len += k; // 0: a name that cannot be listed (CR, LF)
    s->list_count += k != 0;
    if (s->list_max && s->list_count >= s->list_max)
        return 2;
    return SW_FTP_CHUNK - s->chunk_len < LINE_ROOM ? 1 : 0;
}

typedef struct {
    sw_ftp_sess_t *s;
    int n, max;
    char (*names)[SW_NAME_MAX + 1]; // in the session's transfer buffer (not on the stack)
} sweep_t;

static bool tmp_in_use(const sw_ftp_srv_t *srv, const char *path)
{
    for (const sw_ftp_sess_t *o = srv->sessions; o; o = o->next)
        if (o->tmp[0] && !strcmp(o->tmp, path))
            return true;
    return false;
}

static int sweep_each(void *u, const sw_dirent_t *e)
{
    sweep_t *w = u;
    bool ours;
    if (!sw__ftp_hidden(e->name, &ours) || !ours)
        return 0;
    char *path = w->s->srv->aux;
    snprintf(path, SW_FTP_AUX_MAX, "%s%s%s", w->s->path, w->s->path[0] ? "/" : "", e->name);
    if (!tmp_in_use(w->s->srv, path))
        snprintf(w->names[w->n++], sizeof w->names[0], "%s", e->name);
    return w->n == w->max;
}

// Temp files of uploads nobody has open any more (a node killed mid-upload) are removed when
// their directory is listed: up to 4 per listing, their names kept in the transfer buffer (the
// listing has been sent when this runs).
static void sweep(sw_ftp_sess_t *s)
{
    sweep_t w;
    w.s = s;
    w.n = 0;
    w.max = SW_FTP_CHUNK / (SW_NAME_MAX + 1) < 4 ? (int)(SW_FTP_CHUNK / (SW_NAME_MAX + 1)) : 4;
    w.names = (char(*)[SW_NAME_MAX + 1])(void *)s->chunk;
    if (!w.max || !s->chunk)
        return;
    ops(s)->fs_list(pctx(s), s->path, sweep_each, &w);
    for (int k = 0; k < w.n; k++) {
        char *path = s->srv->aux;
        snprintf(path, SW_FTP_AUX_MAX, "%s%s%s", s->path, s->path[0] ? "/" : "", w.names[k]);
        if (ops(s)->fs_unlink(pctx(s), path) == 0)
            sw_log(s->n, SW_LOG_INFO, "ftp: removed stale temp file /%s", path);
    }
}

void sw__ftp_list(sw_ftp_sess_t *s, uint8_t kind, const char *p)
{
    int rc = list_target(s, p, kind == SW_FTPX_MLSD);
    if (rc) {
        sw__ftp_fail(s, 550, p, rc);
        refused(s);
        return;
    }
    if (!want_chunk(s))
        return;
    s->kind = kind;
    s->list_skip = s->list_count = s->list_max = 0;
    s->list_done = s->saw_tmp = false;
    xfer_start(s);
}

void sw__ftp_stat_list(sw_ftp_sess_t *s, const char *p)
{
    int rc = list_target(s, p, false);
    if (rc) {
        sw__ftp_fail(s, 550, p, rc);
        return;
    }
    if (!s->chunk && !(s->chunk = sw_node_alloc_buf(s->n, SW_FTP_CHUNK))) {
        sw__ftp_reply(s, "451 Fail: out of memory.");
        return;
    }
    // One page on the control connection, with the transfer's fields (no transfer runs).
    s->kind = SW_FTPX_LIST;
    s->list_skip = s->list_idx = s->list_count = s->chunk_len = 0;
    s->list_max = SW_FTP_STAT_MAX;
    rc = ops(s)->fs_list(pctx(s), s->path, list_each, s);
    s->kind = SW_FTPX_NONE;
    s->list_max = 0;
    if (rc < 0) {
        sw__ftp_fail(s, 450, p, rc);
        return;
    }
    sw__ftp_reply(s, "213-Status of /%s:", p);
    sw__ftp_send(s, (const char *)s->chunk, s->chunk_len);
    sw__ftp_reply(s, rc ? "213 End of status (cut short)." : "213 End of status.");
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Moving bytes

static void pump(sw_ftp_sess_t *s)
{
    // One chunk at a time, and only while the port has room for a whole one: it states its
    // own bound (port.h), and data_drained() resumes once it has sent what it holds.
    while (s->data && s->phase == SW_FTPP_RUN &&
           ops(s)->conn_room(pctx(s), s->data->conn) >= SW_FTP_CHUNK) {
        size_t len;
        if (s->kind == SW_FTPX_RETR) {
            int rc = ops(s)->fs_read(pctx(s), s->fd, s->off, s->chunk, SW_FTP_CHUNK);
            if (rc < 0) {
                fail_err(s, 451, rc);
                return;
            }
            len = (size_t)rc;
            s->off += len;
        } else {
            s->chunk_len = 0;
            s->list_idx = 0;
            int rc = s->list_done ? 0 : ops(s)->fs_list(pctx(s), s->path, list_each, s);
            if (rc < 0) {
                fail_err(s, 451, rc);
                return;
            }
            s->list_done = rc != 1;
            len = s->chunk_len;
        }
        if (len) {
            s->count += len;
            if (ops(s)->conn_write(pctx(s), s->data->conn, s->chunk, len))
                return; // the data connection is closing: its end reports
        }
        if (s->kind == SW_FTPX_RETR ? len == 0 : s->list_done) {
            if (s->saw_tmp)
                sweep(s);
            s->phase = SW_FTPP_CLOSE; // 226 once the port reports it closed
            ops(s)->conn_close(pctx(s), s->data->conn);
            return;
        }
    }
}

#endif // SW_WITH_FTP
