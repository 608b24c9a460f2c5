// The simulated port of the node tests (sim_port.h): virtual clock, scripted stdio link with a
// bounded write queue, RAM file system.
#include "sim_port.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarm/json.h"

static sim_t *S(void *ctx) { return ctx; }

///////////////////////////////////////////////////////////////////////////////////////////////
// Time, memory, log, identity

static uint32_t p_now(void *ctx) { return S(ctx)->now; }
static int64_t p_wall(void *ctx) { return 1700000000 + S(ctx)->now / 1000; }

static void p_wake_at(void *ctx, uint32_t at)
{
    S(ctx)->due = at;
    S(ctx)->armed = true;
}

static void p_random(void *ctx, void *buf, size_t n)
{
    sim_t *s = S(ctx);
    uint8_t *b = buf;
    for (size_t i = 0; i < n; i++) {
        s->rnd ^= s->rnd << 13, s->rnd ^= s->rnd >> 17, s->rnd ^= s->rnd << 5;
        b[i] = (uint8_t)s->rnd;
    }
}

static void *p_alloc(void *ctx, int pool, void *ptr, size_t osize, size_t nsize)
{
    sim_t *s = S(ctx);
    assert_true(pool == SW_POOL_NODE || pool == SW_POOL_LUA);
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        s->heap[pool] -= osize;
        return NULL;
    }
    void *q = realloc(ptr, nsize);
    if (!q)
        return NULL;
    s->heap[pool] += nsize - osize;
    if (s->heap[pool] > s->heap_peak[pool])
        s->heap_peak[pool] = s->heap[pool];
    return q;
}

static void p_log(void *ctx, int level, const char *line, size_t n)
{
    sim_t *s = S(ctx);
    (void)level;
    if (getenv("SIM_VERBOSE"))
        fprintf(stderr, "  node| %.*s\n", (int)n, line);
    if (s->log_len + n + 1 < sizeof s->log) {
        memcpy(s->log + s->log_len, line, n);
        s->log_len += n;
        s->log[s->log_len++] = '\n';
        s->log[s->log_len] = 0;
    }
}

static void p_reset(void *ctx, int how)
{
    S(ctx)->reset_how = how;
    S(ctx)->resets++;
}

static size_t p_machid(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    static const uint8_t id[8] = {0x5a, 0x17, 3, 4, 5, 6, 7, 8};
    size_t n = cap < sizeof id ? cap : sizeof id;
    memcpy(buf, id, n);
    return n;
}

static int p_mem(void *ctx, sw_mem_t *m)
{
    sim_t *s = S(ctx);
    m->heap = s->heap[0] + s->heap[1];
    m->used = m->heap;
    m->avail = 0;
    return 0;
}

static const char *p_platform(void *ctx)
{
    (void)ctx;
    return "sim";
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The link: a queue of sim.cap bytes; writes beyond the room are refused (SW_EAGAIN)

static int p_stdio_open(void *ctx, sw_conn_t **out)
{
    sim_t *s = S(ctx);
    if (s->conn.open)
        return SW_EBUSY;
    s->conn.open = true;
    s->conn.closing = s->conn.close_reported = s->conn.paused = false;
    s->conn.out_len = 0;
    s->conn.pub.kind = SW_CONN_STDIO;
    *out = &s->conn.pub;
    return 0;
}

static size_t p_conn_room(void *ctx, sw_conn_t *c)
{
    sim_t *s = S(ctx);
    (void)c;
    return s->conn.closing ? 0 : s->cap - s->conn.out_len;
}

static int p_conn_write(void *ctx, sw_conn_t *c, const void *p, size_t n)
{
    sim_t *s = S(ctx);
    if (s->conn.closing)
        return SW_ECLOSED;
    if (n > p_conn_room(ctx, c)) {
        s->conn.refused++;
        return SW_EAGAIN;
    }
    memcpy(s->conn.out + s->conn.out_len, p, n);
    s->conn.out_len += n;
    return 0;
}

static size_t p_conn_queued(void *ctx, sw_conn_t *c)
{
    (void)c;
    return S(ctx)->conn.out_len;
}

static void p_conn_pause(void *ctx, sw_conn_t *c, bool paused)
{
    (void)c;
    S(ctx)->conn.paused = paused;
}

static void p_conn_close(void *ctx, sw_conn_t *c)
{
    (void)c;
    S(ctx)->conn.closing = true; // reported from the loop (sim_settle / sim_advance)
}

static size_t p_conn_peer(void *ctx, sw_conn_t *c, char *buf, size_t cap)
{
    (void)ctx, (void)c;
    return (size_t)snprintf(buf, cap, "sim");
}

///////////////////////////////////////////////////////////////////////////////////////////////
// RAM file system

static sim_file_t *find(const sim_t *s, const char *path)
{
    for (sim_file_t *f = s->files; f; f = f->next)
        if (f->linked && !strcmp(f->path, path))
            return f;
    return NULL;
}

// Every folder above path exists: 0, SW_ENOENT, or SW_ENOTDIR (one of them is a file).
static int parent_ok(const sim_t *s, const char *path)
{
    char par[sizeof((sim_file_t *)0)->path];
    for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
        snprintf(par, sizeof par, "%.*s", (int)(slash - path), path);
        const sim_file_t *d = find(s, par);
        if (!d)
            return SW_ENOENT;
        if (d->type != SW_FT_DIR)
            return SW_ENOTDIR;
    }
    return 0;
}

// A path as the node gives it (port.h): relative, '/'-separated, normalised, each name at most
// SW_NAME_MAX bytes; "" is the root. Anything else is SW_EINVAL, as on every port.
static int check_path(const char *path)
{
    if (!path || strlen(path) >= sizeof((sim_file_t *)0)->path)
        return SW_EINVAL;
    for (const char *seg = path; *path;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (!n || n > SW_NAME_MAX || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return SW_EINVAL;
        if (!end)
            break;
        seg = end + 1;
    }
    return 0;
}

static sim_file_t *add(sim_t *s, const char *path, uint8_t type)
{
    sim_file_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "%s", path);
    f->type = type;
    f->linked = true;
    f->next = s->files;
    s->files = f;
    return f;
}

static void drop(sim_t *s, sim_file_t *f)
{
    f->linked = false;
    if (f->open)
        return;
    for (sim_file_t **pp = &s->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    free(f->data);
    free(f);
}

static bool is_child(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (!n)
        return !strchr(path, '/');
    return !strncmp(path, dir, n) && path[n] == '/' && !strchr(path + n + 1, '/');
}

static bool has_children(const sim_t *s, const char *dir)
{
    for (const sim_file_t *f = s->files; f; f = f->next)
        if (f->linked && is_child(dir, f->path))
            return true;
    return false;
}

static int p_fs_open(void *ctx, const char *path, int flags, int *fd)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    const int all = SW_O_READ | SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC | SW_O_EXCL | SW_O_APPEND;
    if ((flags & ~all) || !(flags & (SW_O_READ | SW_O_WRITE)) ||
        ((flags & (SW_O_TRUNC | SW_O_APPEND)) && !(flags & SW_O_WRITE)))
        return SW_EINVAL;
    if (!path[0])
        return SW_EISDIR;
    sim_file_t *f = find(s, path);
    if (f && (flags & SW_O_CREATE) && (flags & SW_O_EXCL))
        return SW_EEXIST;
    if (!f) {
        if (!(flags & SW_O_CREATE))
            return (rc = parent_ok(s, path)) ? rc : SW_ENOENT;
        if ((rc = parent_ok(s, path)))
            return rc;
    }
    if (f && f->type == SW_FT_DIR)
        return SW_EISDIR;
    int k = 0;
    while (k < SIM_FDS && s->fds[k])
        k++;
    if (k == SIM_FDS)
        return SW_EFULL;
    if (!f)
        f = add(s, path, SW_FT_FILE);
    if ((flags & SW_O_TRUNC) && (flags & SW_O_WRITE))
        f->len = 0;
    f->open++;
    s->fds[k] = f;
    s->fd_flags[k] = flags;
    *fd = k;
    return 0;
}

static sim_file_t *fd_file(sim_t *s, int fd)
{
    return fd >= 0 && fd < SIM_FDS ? s->fds[fd] : NULL;
}

static int p_fs_read(void *ctx, int fd, uint64_t off, void *buf, size_t n)
{
    sim_t *s = S(ctx);
    sim_file_t *f = fd_file(s, fd);
    if (!f || !(s->fd_flags[fd] & SW_O_READ))
        return SW_EINVAL;
    if (off >= f->len)
        return 0;
    size_t k = f->len - (size_t)off < n ? f->len - (size_t)off : n;
    if (k > 0x7fffffff)
        k = 0x7fffffff;
    memcpy(buf, f->data + off, k);
    return (int)k;
}

static int p_fs_write(void *ctx, int fd, uint64_t off, const void *buf, size_t n)
{
    sim_t *s = S(ctx);
    sim_file_t *f = fd_file(s, fd);
    if (!f || !(s->fd_flags[fd] & SW_O_WRITE))
        return SW_EINVAL;
    if (n > 0x7fffffff)
        n = 0x7fffffff;
    if (s->fd_flags[fd] & SW_O_APPEND)
        off = f->len;
    if (off + n > f->cap) {
        size_t cap = (size_t)(off + n) * 2;
        uint8_t *d = realloc(f->data, cap);
        assert_non_null(d);
        f->data = d;
        f->cap = cap;
    }
    if (off > f->len)
        memset(f->data + f->len, 0, (size_t)off - f->len);
    memcpy(f->data + off, buf, n);
    if (off + n > f->len)
        f->len = (size_t)off + n;
    return (int)n;
}

static int p_fs_sync(void *ctx, int fd) { return fd_file(S(ctx), fd) ? 0 : SW_EINVAL; }

static int p_fs_close(void *ctx, int fd)
{
    sim_t *s = S(ctx);
    sim_file_t *f = fd_file(s, fd);
    if (!f)
        return SW_EINVAL;
    s->fds[fd] = NULL;
    f->open--;
    if (!f->linked && !f->open)
        drop(s, f);
    return 0;
}

static int p_fs_stat(void *ctx, const char *path, sw_stat_t *st)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    memset(st, 0, sizeof *st);
    if (!path[0]) {
        st->type = SW_FT_DIR;
        return 0;
    }
    const sim_file_t *f = find(s, path);
    if (!f)
        return (rc = parent_ok(s, path)) ? rc : SW_ENOENT;
    st->type = f->type;
    st->size = f->type == SW_FT_FILE ? f->len : 0;
    st->mtime = 1700000000;
    return 0;
}

static int p_fs_mkdir(void *ctx, const char *path)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    if (!path[0] || find(s, path))
        return SW_EEXIST;
    if ((rc = parent_ok(s, path)))
        return rc;
    add(s, path, SW_FT_DIR);
    return 0;
}

static int p_fs_rmdir(void *ctx, const char *path)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    sim_file_t *f = path[0] ? find(s, path) : NULL;
    if (!path[0])
        return SW_EPERM;
    if (!f)
        return SW_ENOENT;
    if (f->type != SW_FT_DIR)
        return SW_ENOTDIR;
    if (has_children(s, path))
        return SW_ENOTEMPTY;
    drop(s, f);
    return 0;
}

static int p_fs_unlink(void *ctx, const char *path)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    sim_file_t *f = path[0] ? find(s, path) : NULL;
    if (!f)
        return path[0] ? SW_ENOENT : SW_EPERM;
    if (f->type == SW_FT_DIR)
        return SW_EISDIR;
    drop(s, f);
    return 0;
}

static int p_fs_flush(void *ctx) { return (void)ctx, 0; }

static int p_fs_rename(void *ctx, const char *from, const char *to)
{
    sim_t *s = S(ctx);
    int rc;
    if ((rc = check_path(from)) || (rc = check_path(to)))
        return rc;
    if (!from[0] || !to[0])
        return SW_EPERM; // the root is neither renamed nor replaced
    sim_file_t *f = find(s, from);
    if (!f)
        return SW_ENOENT;
    if (!strcmp(from, to))
        return 0;
    size_t fl = strlen(from);
    if (!strncmp(to, from, fl) && to[fl] == '/')
        return SW_EINVAL; // a folder into itself
    if ((rc = parent_ok(s, to)))
        return rc;
    sim_file_t *t = find(s, to);
    if (t) {
        if (t->type == SW_FT_DIR && f->type != SW_FT_DIR)
            return SW_EISDIR;
        if (t->type != SW_FT_DIR && f->type == SW_FT_DIR)
            return SW_ENOTDIR;
        if (t->type == SW_FT_DIR && has_children(s, to))
            return SW_ENOTEMPTY;
        drop(s, t);
    }
    if (f->type == SW_FT_DIR) // everything below moves along
        for (sim_file_t *g = s->files; g; g = g->next)
            if (g->linked && !strncmp(g->path, from, fl) && g->path[fl] == '/') {
                char np[sizeof g->path];
                snprintf(np, sizeof np, "%s%s", to, g->path + fl);
                snprintf(g->path, sizeof g->path, "%s", np);
            }
    snprintf(f->path, sizeof f->path, "%s", to);
    return 0;
}

static int p_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u)
{
    sim_t *s = S(ctx);
    int rc = check_path(path);
    if (rc)
        return rc;
    if (path[0]) {
        const sim_file_t *d = find(s, path);
        if (!d)
            return (rc = parent_ok(s, path)) ? rc : SW_ENOENT;
        if (d->type != SW_FT_DIR)
            return SW_ENOTDIR;
    }
    // collected first: the callback may change the folder
    size_t n = 0, cap = 16;
    sw_dirent_t *ents = malloc(cap * sizeof *ents);
    assert_non_null(ents);
    for (const sim_file_t *f = s->files; f; f = f->next) {
        if (!f->linked || !is_child(path, f->path))
            continue;
        if (n == cap) {
            ents = realloc(ents, (cap *= 2) * sizeof *ents);
            assert_non_null(ents);
        }
        const char *name = path[0] ? f->path + strlen(path) + 1 : f->path;
        size_t len = strlen(name); // a child's name is one path component: it fits
        if (len >= sizeof ents[n].name)
            len = sizeof ents[n].name - 1;
        memcpy(ents[n].name, name, len);
        ents[n].name[len] = 0;
        ents[n++].type = f->type;
    }
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = each(u, &ents[i]);
    free(ents);
    return rc;
}

const sw_port_ops_t sim_ops = {
    .now_ms = p_now,
    .wall_s = p_wall,
    .wake_at = p_wake_at,
    .random = p_random,
    .alloc = p_alloc,
    .log = p_log,
    .stdio_open = p_stdio_open,
    .conn_write = p_conn_write,
    .conn_room = p_conn_room,
    .conn_queued = p_conn_queued,
    .conn_pause = p_conn_pause,
    .conn_close = p_conn_close,
    .conn_peer = p_conn_peer,
    .fs_open = p_fs_open,
    .fs_read = p_fs_read,
    .fs_write = p_fs_write,
    .fs_sync = p_fs_sync,
    .fs_close = p_fs_close,
    .fs_stat = p_fs_stat,
    .fs_mkdir = p_fs_mkdir,
    .fs_rmdir = p_fs_rmdir,
    .fs_unlink = p_fs_unlink,
    .fs_rename = p_fs_rename,
    .fs_move = p_fs_rename, // RAM: every change is as durable as it gets at once
    .fs_flush = p_fs_flush,
    .fs_list = p_fs_list,
    .reset = p_reset,
    .machid = p_machid,
    .mem = p_mem,
    .platform = p_platform,
};

///////////////////////////////////////////////////////////////////////////////////////////////
// The loop

static void deliver_close(sim_t *s)
{
    if (s->conn.open && s->conn.closing && !s->conn.close_reported) {
        s->conn.close_reported = true;
        s->conn.open = false;
        sw_node_closed(s->node, &s->conn.pub, 0);
    }
}

static void on_msg(void *ctx, const uint8_t *p, size_t n)
{
    sim_t *s = ctx;
    assert_true(s->nmsgs < SIM_MSGS);
    sim_msg_t *m = &s->msgs[s->nmsgs++];
    m->p = malloc(n ? n : 1);
    assert_non_null(m->p);
    memcpy(m->p, p, n);
    m->n = n;
    assert_int_equal(sw_msg_decode(&m->m, m->p, n), 0);
}

size_t sim_read(sim_t *s)
{
    size_t n = s->conn.out_len;
    if (!n)
        return 0;
    sw_rx_sink_t sink = {on_msg, NULL, NULL, s};
    assert_true(sw_stream_rx_feed(&s->rx, s->conn.out, n, &sink) >= 0);
    s->conn.out_len = 0;
    if (s->conn.open && !s->conn.closing)
        sw_node_drained(s->node, &s->conn.pub);
    return n;
}

void sim_advance(sim_t *s, uint32_t ms)
{
    uint32_t target = s->now + ms;
    for (;;) {
        deliver_close(s);
        if (!s->armed || (int32_t)(s->due - target) > 0)
            break;
        if ((int32_t)(s->due - s->now) > 0)
            s->now = s->due;
        s->armed = false;
        sw_node_poll(s->node);
    }
    s->now = target;
}

static size_t pump_in(sim_t *s);

void sim_settle(sim_t *s)
{
    for (int round = 0; round < 1000; round++) {
        deliver_close(s);
        size_t got = sim_read(s);
        got += pump_in(s);
        bool due = s->armed && (int32_t)(s->due - s->now) <= 0;
        if (due) {
            s->armed = false;
            sw_node_poll(s->node);
        }
        if (!got && !due)
            return;
    }
    fail_msg("the node does not settle");
}

// Delivers what the peer sent while the node reads. Returns the bytes delivered.
static size_t pump_in(sim_t *s)
{
    size_t done = 0;
    while (s->conn.in_off < s->conn.in_len && s->conn.open && !s->conn.closing && !s->conn.paused) {
        size_t k = s->conn.in_len - s->conn.in_off;
        if (k > SIM_CHUNK)
            k = SIM_CHUNK;
        s->conn.in_off += k;
        done += k;
        sw_node_data(s->node, &s->conn.pub, s->conn.in + s->conn.in_off - k, k);
    }
    if (s->conn.in_off == s->conn.in_len)
        s->conn.in_off = s->conn.in_len = 0;
    return done;
}

void sim_send(sim_t *s, const void *p, size_t n)
{
    assert_true(s->conn.in_len + n <= SIM_IN);
    memcpy(s->conn.in + s->conn.in_len, p, n);
    s->conn.in_len += n;
    pump_in(s);
}

int64_t sim_request(sim_t *s, const char *dotted, const uint8_t *args, size_t n)
{
    static int64_t seq = 0;
    uint8_t buf[4096];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    ++seq;
    sw_msg_request_begin(&w, dotted, seq, 0);
    if (args)
        sw_mpw_raw(&w, args, n);
    else
        sw_mpw_map(&w, 0);
    sw_msg_request_end(&w, seq, 0);
    assert_int_equal(w.err, 0);
    sim_send(s, buf, w.len);
    return seq;
}

const sim_msg_t *sim_answer(const sim_t *s, int64_t seq)
{
    for (size_t i = 0; i < s->nmsgs; i++) {
        const sw_msg_t *m = &s->msgs[i].m;
        if ((m->has & SW_MSG_HAS_I) && m->i == seq && m->kind != SW_MSG_REQUEST)
            return &s->msgs[i];
    }
    return NULL;
}

const sim_msg_t *sim_call(sim_t *s, const char *dotted, const uint8_t *args, size_t n)
{
    int64_t seq = sim_request(s, dotted, args, n);
    sim_settle(s);
    const sim_msg_t *m = sim_answer(s, seq);
    if (!m)
        fail_msg("no answer to %s", dotted);
    return m;
}

const char *sim_json(sw_span_t v)
{
    static char buf[1 << 16];
    sw_jw_t w;
    sw_jw_init(&w, buf, sizeof buf, 0);
    if (!v.n)
        return "";
    sw_jw_mp(&w, v.p, v.n);
    return buf;
}

bool sim_logged(const sim_t *s, const char *text) { return strstr(s->log, text) != NULL; }

void sim_put(sim_t *s, const char *path, const char *text)
{
    char dir[512];
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
        snprintf(dir, sizeof dir, "%.*s", (int)(p - path), path);
        if (!find(s, dir))
            add(s, dir, SW_FT_DIR);
    }
    int fd;
    assert_int_equal(p_fs_open(s, path, SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &fd), 0);
    assert_int_equal(p_fs_write(s, fd, 0, text, strlen(text)), (int)strlen(text));
    assert_int_equal(p_fs_close(s, fd), 0);
}

const sim_file_t *sim_file(const sim_t *s, const char *path) { return find(s, path); }

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifecycle

int sim_boot(sim_t *s)
{
    s->reset_how = 0;
    s->armed = false;
    s->conn.refused = 0;
    s->conn.in_len = s->conn.in_off = 0;
    sw_stream_rx_init(&s->rx, SW_STREAM_NO_PREFIX, s->rxbuf, sizeof s->rxbuf);
    assert_int_equal(sw_node_create(&s->node, &s->port, &s->opts), 0);
    int rc = sw_node_start(s->node);
    sim_settle(s);
    return rc;
}

int sim_init(sim_t *s, size_t cap)
{
    memset(s, 0, sizeof *s);
    s->port.ops = &sim_ops;
    s->port.ctx = s;
    s->now = 1000;
    s->rnd = 0x12345678;
    s->cap = cap;
    s->conn.out = malloc(SIM_OUT);
    s->conn.in = malloc(SIM_IN);
    assert_non_null(s->conn.out);
    assert_non_null(s->conn.in);
    assert_true(cap <= SIM_OUT);
    s->opts.name = "simnode";
    s->opts.rpc_port = -1;
    s->opts.stdio = true;
    return sim_boot(s);
}

void sim_stop(sim_t *s)
{
    if (!s->node)
        return;
    sw_node_stop(s->node);
    sim_settle(s);
    deliver_close(s);
    assert_true(sw_node_stopped(s->node));
    sw_node_destroy(s->node);
    s->node = NULL;
    for (size_t i = 0; i < s->nmsgs; i++)
        free(s->msgs[i].p);
    s->nmsgs = 0;
    assert_int_equal(s->heap[0] + s->heap[1], 0); // everything the node allocated came back
}

void sim_free(sim_t *s)
{
    sim_stop(s);
    for (int k = 0; k < SIM_FDS; k++)
        if (s->fds[k])
            p_fs_close(s, k);
    while (s->files) {
        sim_file_t *f = s->files;
        s->files = f->next;
        free(f->data);
        free(f);
    }
    free(s->conn.out);
    free(s->conn.in);
}
