// The node's kernel: lifecycle (create, boot phases, stop, reset), the config file, timers,
// logging, local calls, services, and the app lifecycle; it boots and stops the parts listed in
// parts.c. Everything platform-specific goes through n->port.
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "swarm/path.h"

#define CFG_CAP SW_NODE_CFG_CAP
#define LOCAL_QUEUE SW_NODE_LOCAL_QUEUE
#define LOCAL_PENDING SW_NODE_LOCAL_PENDING
#define LOCAL_STREAMS SW_NODE_LOCAL_STREAMS

///////////////////////////////////////////////////////////////////////////////////////////////
// Memory, time, timers

void *sw_node_alloc(sw_node_t *n, size_t size)
{
    void *p = n->port.ops->alloc(n->port.ctx, SW_POOL_NODE, NULL, 0, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *sw_node_alloc_buf(sw_node_t *n, size_t size)
{
    return n->port.ops->alloc(n->port.ctx, SW_POOL_NODE, NULL, 0, size);
}

void sw_node_release(sw_node_t *n, void *p, size_t size)
{
    if (p)
        n->port.ops->alloc(n->port.ctx, SW_POOL_NODE, p, size, 0);
}

uint32_t sw_node_now(const sw_node_t *n) { return n->port.ops->now_ms(n->port.ctx); }

static void arm_port(sw_node_t *n)
{
    if (n->timers)
        n->port.ops->wake_at(n->port.ctx, n->timers->due);
}

// Unlinks t from a list; true if it was there.
static bool unlink_timer(sw_timer_t **pp, sw_timer_t *t)
{
    for (; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            return true;
        }
    return false;
}

void sw_timer_stop(sw_node_t *n, sw_timer_t *t)
{
    if (!t->armed)
        return;
    // armed timers are in the ordered list, or in the batch sw_node_poll() is running (whose
    // callbacks may stop, and then free, a timer of the same batch)
    if (!unlink_timer(&n->timers, t))
        unlink_timer(&n->due, t);
    t->armed = false;
    t->next = NULL;
}

void sw_timer_start(sw_node_t *n, sw_timer_t *t, uint32_t delay_ms)
{
    sw_timer_stop(n, t);
    t->due = sw_node_now(n) + delay_ms;
    sw_timer_t **pp = &n->timers;
    while (*pp && (int32_t)((*pp)->due - t->due) <= 0)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
    if (n->timers == t)
        arm_port(n);
}

void sw_node_poll(sw_node_t *n)
{
    // Run what is due now; timers started by callbacks for "now" wait for the next round, so
    // a zero-delay restart cannot starve the loop.
    uint32_t now = sw_node_now(n);
    sw_timer_t **tail = &n->due;
    while (*tail)
        tail = &(*tail)->next;
    while (n->timers && (int32_t)(now - n->timers->due) >= 0) {
        sw_timer_t *t = n->timers;
        n->timers = t->next;
        t->next = NULL;
        *tail = t;
        tail = &t->next;
    }
    sw_timer_t *t;
    while ((t = n->due)) {
        n->due = t->next;
        t->next = NULL;
        t->armed = false;
        t->fn(n, t);
    }
    arm_port(n);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Logging

static const char level_char[] = "EWID";

void sw_logv(sw_node_t *n, int level, const char *fmt, va_list ap)
{
    if (level > n->log_level)
        return;
    char line[SW_NODE_LOG_LINE];
    uint32_t up = sw_node_now(n) - n->boot_ms;
    int k = snprintf(line, sizeof line, "%6u.%03u %c ", (unsigned)(up / 1000), (unsigned)(up % 1000),
                     level_char[level & 3]);
    int m = vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    size_t len = (size_t)k + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    n->port.ops->log(n->port.ctx, level, line, len);
    line[len++] = '\n';
    for (size_t i = 0; i < len; i++)
        n->log_ring[(n->log_seq + i) % SW_NODE_LOG_RING] = line[i];
    n->log_seq += len;
    for (sw_link_t *l = n->links; l; l = l->next)
        sw_link_console(l, line, len);
}

void sw_log(sw_node_t *n, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sw_logv(n, level, fmt, ap);
    va_end(ap);
}

uint64_t sw_log_end(const sw_node_t *n) { return n->log_seq; }

size_t sw_log_read(const sw_node_t *n, uint64_t *pos, char *buf, size_t cap)
{
    uint64_t oldest = n->log_seq > SW_NODE_LOG_RING ? n->log_seq - SW_NODE_LOG_RING : 0;
    if (*pos < oldest)
        *pos = oldest;
    if (*pos > n->log_seq)
        *pos = n->log_seq;
    size_t k = 0;
    while (*pos < n->log_seq && k < cap)
        buf[k++] = n->log_ring[(*pos)++ % SW_NODE_LOG_RING];
    return k;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Config: defaults, file, overrides

// The built-in defaults. micro-swarm's settings keep their names under "boot" (they go into
// the beacon verbatim); MoaT's under "wdt".
static int write_defaults(sw_node_t *n, sw_mpw_t *w)
{
    uint8_t id[16];
    size_t idn = n->port.ops->machid(n->port.ctx, id, sizeof id);
    char host[32];
    snprintf(host, sizeof host, "swarm-%02x%02x", idn > 0 ? id[0] : 0, idn > 1 ? id[1] : 0);

    sw_mpw_map(w, 8);
    sw_mpw_cstr(w, "board");
    sw_mpw_map(w, 5);
    sw_mpw_cstr(w, "host_name"), sw_mpw_cstr(w, host);
    sw_mpw_cstr(w, "app_name"), sw_mpw_cstr(w, "example");
    sw_mpw_cstr(w, "hardware_name"), sw_mpw_cstr(w, sw_boards[0] ? sw_boards[0]->name : "none");
    sw_mpw_cstr(w, "name"), sw_mpw_cstr(w, host);
    sw_mpw_cstr(w, "device_name"), sw_mpw_cstr(w, host);

    sw_mpw_cstr(w, "boot");
    sw_mpw_map(w, 14);
    sw_mpw_cstr(w, "VERSION"), sw_mpw_cstr(w, SW_VERSION_STRING);
    sw_mpw_cstr(w, "FTPD_ENABLE"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "FTPD_PORT"), sw_mpw_int(w, 21);
    sw_mpw_cstr(w, "MDNS_ENABLE"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "MDNS_POLL_MS"), sw_mpw_int(w, 500);
    sw_mpw_cstr(w, "BEACON_ENABLE"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "BEACON_REPEAT_MS"), sw_mpw_int(w, 2000);
    sw_mpw_cstr(w, "BEACON_DESTINATION_IPS"), sw_mpw_array(w, 1), sw_mpw_cstr(w, "255.255.255.255");
    sw_mpw_cstr(w, "BEACON_DESTINATION_PORT"), sw_mpw_int(w, 1139);
    sw_mpw_cstr(w, "REMOTE_EVAL_ENABLE"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "REMOTE_EVAL_PORT"), sw_mpw_int(w, 1139);
    sw_mpw_cstr(w, "TELNET_ENABLE"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "TELNET_PORT"), sw_mpw_int(w, 23);
    sw_mpw_cstr(w, "NETWORK_SET_LOCAL_LINK_IP"), sw_mpw_bool(w, true);

    sw_mpw_cstr(w, "rpc");
    sw_mpw_map(w, 2);
    sw_mpw_cstr(w, "enable"), sw_mpw_bool(w, true);
    sw_mpw_cstr(w, "port"), sw_mpw_int(w, SW_NODE_DEF_RPC_PORT);

    sw_mpw_cstr(w, "serial");
    sw_mpw_map(w, 5);
    sw_mpw_cstr(w, "baud"), sw_mpw_int(w, SW_NODE_DEF_BAUD);
    sw_mpw_cstr(w, "start"), sw_mpw_int(w, SW_SP_START_DEFAULT);
    sw_mpw_cstr(w, "max_msg"), sw_mpw_int(w, SW_NODE_DEF_SERIAL_MSG);
    sw_mpw_cstr(w, "window"), sw_mpw_int(w, SW_NODE_DEF_SERIAL_WINDOW);
    sw_mpw_cstr(w, "timeout_ms"), sw_mpw_int(w, 0); // 0: derived from the line rate

    sw_mpw_cstr(w, "wdt");
    sw_mpw_map(w, 2);
    sw_mpw_cstr(w, "t"), sw_mpw_int(w, SW_NODE_DEF_WDT_S);
    sw_mpw_cstr(w, "s"), sw_mpw_int(w, 0);

    sw_mpw_cstr(w, "limits");
    sw_mpw_map(w, 7);
    sw_mpw_cstr(w, "msg"), sw_mpw_int(w, SW_NODE_DEF_MSG);
    sw_mpw_cstr(w, "clients"), sw_mpw_int(w, SW_NODE_DEF_CLIENTS);
    sw_mpw_cstr(w, "streams"), sw_mpw_int(w, SW_NODE_DEF_STREAMS);
    sw_mpw_cstr(w, "files"), sw_mpw_int(w, SW_NODE_DEF_FILES);
    sw_mpw_cstr(w, "proxies"), sw_mpw_int(w, SW_NODE_DEF_PROXIES);
    sw_mpw_cstr(w, "pending"), sw_mpw_int(w, SW_NODE_DEF_PENDING);
    sw_mpw_cstr(w, "lua_mem"), sw_mpw_int(w, SW_NODE_DEF_LUA_MEM);

    sw_mpw_cstr(w, "app");
    sw_mpw_map(w, 3);
    sw_mpw_cstr(w, "on_error"), sw_mpw_cstr(w, "restart");
    sw_mpw_cstr(w, "reset_delay_ms"), sw_mpw_int(w, 60000);
    sw_mpw_cstr(w, "restart_max_ms"), sw_mpw_int(w, 60000);

    sw_mpw_cstr(w, "log");
    sw_mpw_map(w, 1);
    sw_mpw_cstr(w, "level"), sw_mpw_cstr(w, "info");
    return w->err;
}

static int clampi(int64_t v, int64_t lo, int64_t hi)
{
    return (int)(v < lo ? lo : v > hi ? hi : v);
}

static void read_settings(sw_node_t *n)
{
    n->lim.max_msg = (uint32_t)clampi(sw_cfg_int(&n->cfg, "limits.msg", SW_NODE_DEF_MSG), 256, 1 << 20);
    n->lim.max_clients = (uint16_t)clampi(sw_cfg_int(&n->cfg, "limits.clients", SW_NODE_DEF_CLIENTS), 1, 1024);
    n->lim.max_streams = (uint16_t)clampi(sw_cfg_int(&n->cfg, "limits.streams", SW_NODE_DEF_STREAMS), 0, 256);
    n->lim.max_files = (uint16_t)clampi(sw_cfg_int(&n->cfg, "limits.files", SW_NODE_DEF_FILES), 1, 1024);
    n->lim.max_proxies = (uint16_t)clampi(sw_cfg_int(&n->cfg, "limits.proxies", SW_NODE_DEF_PROXIES), 1, 4096);
    n->lim.max_pending = (uint16_t)clampi(sw_cfg_int(&n->cfg, "limits.pending", SW_NODE_DEF_PENDING), 1, 256);

    sw_span_t s;
    sw_cfg_str(&n->cfg, "log.level", "info", &s);
    n->log_level = SW_LOG_INFO;
    if (s.n == 5 && !memcmp(s.p, "debug", 5))
        n->log_level = SW_LOG_DEBUG;
    else if (s.n == 4 && !memcmp(s.p, "warn", 4))
        n->log_level = SW_LOG_WARN;
    else if (s.n == 5 && !memcmp(s.p, "error", 5))
        n->log_level = SW_LOG_ERROR;

    struct { const char *key; char *dst; } ids[] = {
        {"board.host_name", n->host_name}, {"board.app_name", n->app_name},
        {"board.hardware_name", n->hardware_name}};
    for (size_t k = 0; k < 3; k++) {
        sw_cfg_str(&n->cfg, ids[k].key, "", &s);
        size_t len = s.n < 63 ? s.n : 63;
        memcpy(ids[k].dst, s.p, len);
        ids[k].dst[len] = 0;
    }
}

// Reads a whole file into the node's scratch of cap bytes. Returns its length or an error.
static int read_file(sw_node_t *n, const char *path, uint8_t *buf, size_t cap)
{
    int fd, rc;
    if ((rc = n->port.ops->fs_open(n->port.ctx, path, SW_O_READ, &fd)))
        return rc;
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            rc = SW_ETOOBIG;
            break;
        }
        rc = n->port.ops->fs_read(n->port.ctx, fd, len, buf + len, cap - len);
        if (rc <= 0)
            break;
        len += (size_t)rc;
    }
    n->port.ops->fs_close(n->port.ctx, fd);
    return rc < 0 ? rc : (int)len;
}

int sw_node_write_atomic(sw_node_t *n, const char *path, const void *p, size_t len)
{
    const sw_port_ops_t *o = n->port.ops;
    char *tmp = n->tmp_path; // not on the stack; nothing this calls writes a file atomically
    if (snprintf(tmp, sizeof n->tmp_path, "%s.tmp", path) >= (int)sizeof n->tmp_path)
        return SW_ETOOBIG;
    int fd, rc = o->fs_open(n->port.ctx, tmp, SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &fd);
    if (rc)
        return rc;
    size_t at = 0;
    while (at < len) {
        rc = o->fs_write(n->port.ctx, fd, at, (const uint8_t *)p + at, len - at);
        if (rc <= 0)
            break;
        at += (size_t)rc;
    }
    if (at == len)
        rc = o->fs_sync(n->port.ctx, fd);
    else if (rc >= 0)
        rc = SW_EIO;
    o->fs_close(n->port.ctx, fd);
    if (rc >= 0)
        rc = o->fs_rename(n->port.ctx, tmp, path);
    if (rc < 0)
        o->fs_unlink(n->port.ctx, tmp);
    return rc < 0 ? rc : 0;
}

int sw_node_cfg_save(sw_node_t *n)
{
    int rc = sw_node_write_atomic(n, SW_CFG_FILE, n->cfg.doc, n->cfg.len);
    if (rc)
        sw_log(n, SW_LOG_ERROR, "config: cannot save %s: %s", SW_CFG_FILE, sw_strerror(rc));
    n->cfg_dirty = rc != 0;
    return rc;
}

static void set_if_differs(sw_node_t *n, const char *key, const char *v)
{
    sw_span_t cur;
    size_t len = strlen(v);
    if (!sw_cfg_str(&n->cfg, key, "", &cur) || cur.n != len || memcmp(cur.p, v, len) != 0)
        sw_cfg_set_str(&n->cfg, key, v, len);
}

// Applies command-line overrides (they win over the file, and are persisted so the file
// tells the truth); true if the tree changed.
static bool apply_overrides(sw_node_t *n)
{
    uint32_t before = n->cfg.version;
    if (n->opts.name) {
        set_if_differs(n, "board.host_name", n->opts.name);
        set_if_differs(n, "board.name", n->opts.name);
        set_if_differs(n, "board.device_name", n->opts.name);
    }
    if (n->opts.app)
        set_if_differs(n, "board.app_name", n->opts.app);
    if (n->opts.board)
        set_if_differs(n, "board.hardware_name", n->opts.board);
    if (n->opts.rpc_port >= 0 && sw_cfg_int(&n->cfg, "rpc.port", -1) != n->opts.rpc_port)
        sw_cfg_set_int(&n->cfg, "rpc.port", n->opts.rpc_port);
    return n->cfg.version != before;
}

// The n bytes of a swarm.cfg that loaded become the last-known-good copy, unless the copy
// already holds them (compared in small pieces, so an unchanged config costs no flash write).
static void keep_good(sw_node_t *n, const uint8_t *p, size_t len)
{
    const sw_port_ops_t *o = n->port.ops;
    int fd;
    bool same = false;
    if (o->fs_open(n->port.ctx, SW_CFG_GOOD, SW_O_READ, &fd) == 0) {
        uint8_t buf[128];
        size_t at = 0;
        same = true;
        for (;;) {
            int r = o->fs_read(n->port.ctx, fd, at, buf, sizeof buf);
            if (r < 0 || (size_t)r > len - at || memcmp(buf, p + at, (size_t)r)) {
                same = false;
                break;
            }
            if (r == 0)
                break;
            at += (size_t)r;
        }
        same = same && at == len;
        o->fs_close(n->port.ctx, fd);
    }
    if (!same) {
        int rc = sw_node_write_atomic(n, SW_CFG_GOOD, p, len);
        if (rc)
            sw_log(n, SW_LOG_WARN, "config: cannot write %s: %s", SW_CFG_GOOD, sw_strerror(rc));
    }
}

int sw_node_load_config(sw_node_t *n)
{
    if (n->cfg_loaded)
        return 0;
    uint8_t *defaults = n->cfg.scratch; // free until the first edit
    sw_mpw_t w;
    sw_mpw_init(&w, defaults, n->cfg.cap);
    int rc = write_defaults(n, &w);
    if (rc)
        return rc;
    // sw_cfg_load copies into doc; the defaults were written into scratch, which it may use
    // as its own work space, so pass a copy that lives elsewhere: the file buffer below.
    uint8_t *tmp = sw_node_alloc_buf(n, CFG_CAP);
    if (!tmp)
        return SW_EFULL;
    memcpy(tmp, defaults, w.len);
    rc = sw_cfg_load(&n->cfg, tmp, w.len);
    if (rc) {
        sw_node_release(n, tmp, CFG_CAP);
        return rc;
    }

    int len = read_file(n, SW_CFG_FILE, tmp, CFG_CAP);
    bool changed = false;
    if (len >= 0 && (rc = sw_cfg_merge(&n->cfg, tmp, (size_t)len)) == 0) {
        n->cfg_disk = SW_CFG_DISK_GOOD;
    } else if (len == SW_ENOENT) {
        changed = true; // first boot: persist the defaults
    } else {
        // Unusable: booting on the defaults would reopen the services the operator closed.
        int why = len < 0 ? len : rc;
        bool unreadable = len < 0 && len != SW_ETOOBIG; // (an I/O error: leave the file be)
        if (!unreadable)
            n->cfg_disk = SW_CFG_DISK_BAD;
        sw_log(n, SW_LOG_ERROR, "config: %s is unusable (%s)", SW_CFG_FILE, sw_strerror(why));
        changed = !unreadable;
        int glen = read_file(n, SW_CFG_GOOD, tmp, CFG_CAP);
        if (glen >= 0 && sw_cfg_merge(&n->cfg, tmp, (size_t)glen) == 0) {
            n->cfg_fallback = "last-good";
            sw_log(n, SW_LOG_ERROR, "config: booting on the last good copy %s", SW_CFG_GOOD);
        } else {
            n->cfg_fallback = "safe-defaults";
            sw_cfg_set_bool(&n->cfg, "boot.FTPD_ENABLE", false);
            sw_cfg_set_bool(&n->cfg, "boot.TELNET_ENABLE", false);
            sw_cfg_set_bool(&n->cfg, "boot.REMOTE_EVAL_ENABLE", false);
            sw_log(n, SW_LOG_ERROR, "config: no usable %s either: booting on the defaults with "
                   "FTP, telnet and remote eval OFF (RPC stays on to repair the config; "
                   "sys.cfg sets boot.*_ENABLE again)", SW_CFG_GOOD);
        }
    }
    sw_node_release(n, tmp, CFG_CAP);
    n->cfg_dirty = changed | apply_overrides(n);
    read_settings(n);
    n->cfg_loaded = true;
    return 0;
}

sw_span_t sw_node_config(const sw_node_t *n)
{
    sw_span_t s = {n->cfg.doc, n->cfg.len};
    return s;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Local calls: a session that talks to itself. Messages are queued and processed from a timer,
// so an answer never arrives inside the call that caused it.

typedef struct sw_local_wait {
    sw_local_cb cb;
    void *user;
} sw_local_wait_t;

static int local_send(void *ctx, const uint8_t *p, size_t len)
{
    sw_node_t *n = ctx;
    if (n->local_q_len + 4 + len > LOCAL_QUEUE)
        return SW_EFULL;
    uint8_t *q = n->local_q + n->local_q_len;
    q[0] = (uint8_t)(len >> 24), q[1] = (uint8_t)(len >> 16), q[2] = (uint8_t)(len >> 8), q[3] = (uint8_t)len;
    memcpy(q + 4, p, len);
    n->local_q_len += 4 + len;
    if (!n->local_timer.armed)
        sw_timer_start(n, &n->local_timer, 0);
    return 0;
}

static void local_answer(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m, int err, void *user)
{
    (void)rpc;
    sw_node_t *n = ctx;
    sw_local_wait_t *w = user;
    w->cb(n, w->user, m, err);
    if (!m || m->kind != SW_MSG_STREAM)
        sw_node_release(n, w, sizeof *w);
}

static void local_run(sw_node_t *n, sw_timer_t *t)
{
    (void)t;
    // Process what is queued now; messages added meanwhile go after it in the same buffer.
    size_t at = 0;
    while (at + 4 <= n->local_q_len) {
        const uint8_t *q = n->local_q + at;
        size_t len = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
        sw_rpc_input(&n->local, q + 4, len, sw_node_now(n));
        at += 4 + len;
    }
    memmove(n->local_q, n->local_q + at, n->local_q_len - at);
    n->local_q_len -= at;
    uint32_t wait = sw_rpc_poll(&n->local, sw_node_now(n));
    if (n->local_q_len)
        sw_timer_start(n, &n->local_timer, 0);
    else if (wait != UINT32_MAX)
        sw_timer_start(n, &n->local_timer, wait);
}

// Requests of the local session: one whose caller has already given up (sw_node_call_cancel
// while it waited in the queue) is not run at all: nobody would hear its answer, and a task it
// started would live on.
static void local_request(void *ctx, sw_rpc_t *rpc, const sw_msg_t *m)
{
    sw_node_t *n = ctx;
    if (m->kind == SW_MSG_CANCEL) {
        sw_rpc_stop_stream(rpc, m->i);
        sw_node_request_cancelled(n, rpc, m->i);
        return;
    }
    if (m->kind != SW_MSG_REQUEST)
        return;
    const sw_rpc_pending_t *pd = &rpc->pending[(uint64_t)m->i % rpc->max_pending];
    if (m->i > 0 && pd->seq != m->i) {
        rpc->stats.dropped++;
        return;
    }
    sw_rpc_dispatch(rpc, m, sw_node_now(n));
}

int64_t sw_node_call(sw_node_t *n, const char *dotted, sw_span_t args, int64_t r_ms,
                     sw_local_cb cb, void *user)
{
    sw_local_wait_t *w = sw_node_alloc(n, sizeof *w);
    if (!w)
        return SW_EFULL;
    w->cb = cb;
    w->user = user;
    int64_t seq = sw_rpc_request(&n->local, dotted, args, r_ms, w);
    if (seq < 0)
        sw_node_release(n, w, sizeof *w);
    return seq;
}

void sw_node_call_cancel(sw_node_t *n, int64_t seq)
{
    sw_local_wait_t *w = sw_rpc_cancel(&n->local, seq);
    if (w)
        sw_node_release(n, w, sizeof *w);
    // the caller gave up (a telnet session closed, a task that called died): so does the task
    // that serves the request
    sw_node_request_cancelled(n, &n->local, seq);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Watchdog

static void wdt_run(sw_node_t *n, sw_timer_t *t)
{
    (void)t;
    if (sw_wdt_poll(&n->wdt, sw_node_now(n))) {
        sw_log(n, SW_LOG_ERROR, "watchdog: no sys.wdt for %u ms (timeout %u s): resetting",
               (unsigned)(n->wdt.t_ms * 3 / 2), (unsigned)(n->wdt.t_ms / 1000));
        sw_node_reset(n, SW_RESET_SOFT, "watchdog expired");
        return;
    }
    sw_node_wdt_schedule(n);
}

// The loop watchdog (port op watchdog: a hardware watchdog, or a thread on POSIX): the loop
// proves it runs by kicking it from a timer four times per period. The period is wdt.loop
// seconds (default SW_NODE_DEF_WDT_LOOP; 0 = off), and no longer than the bite of the MoaT
// watchdog (1.5 t) while that runs: a loop stuck in a C call cannot keep it from biting.
static uint32_t loop_wdt_period(sw_node_t *n)
{
    int64_t s = sw_cfg_int(&n->cfg, "wdt.loop", SW_NODE_DEF_WDT_LOOP);
    uint64_t ms = s <= 0 ? 0 : s > 86400 ? 86400000u : (uint64_t)s * 1000u;
    if (n->wdt.running && n->wdt.t_ms) {
        uint64_t bite = (uint64_t)n->wdt.t_ms * 3 / 2;
        if (!ms || bite < ms)
            ms = bite;
    }
    return (uint32_t)ms;
}

static void loop_wdt_kick(sw_node_t *n, sw_timer_t *t)
{
    if (!n->port.ops->watchdog || n->stopping)
        return;
    uint32_t ms = loop_wdt_period(n);
    n->port.ops->watchdog(n->port.ctx, ms);
    if (ms)
        sw_timer_start(n, t, ms / 4);
    else
        sw_timer_stop(n, t);
}

void sw_node_wdt_schedule(sw_node_t *n)
{
    loop_wdt_kick(n, &n->loop_wdt_timer);
    uint32_t wait = sw_wdt_next(&n->wdt, sw_node_now(n));
    if (wait == UINT32_MAX)
        sw_timer_stop(n, &n->wdt_timer);
    else
        sw_timer_start(n, &n->wdt_timer, wait);
}

static void wdt_phase(sw_node_t *n, int phase)
{
    bool was = n->wdt.running;
    sw_wdt_phase(&n->wdt, phase, sw_node_now(n));
    if (n->wdt.running && !was)
        sw_log(n, SW_LOG_INFO, "watchdog: started at boot phase %d (timeout %u s)", phase,
               (unsigned)(n->wdt.t_ms / 1000));
    sw_node_wdt_schedule(n);
}

static void wdt_configure(sw_node_t *n)
{
    if (n->wdt.running)
        return; // like a hardware watchdog, a running one keeps its settings
    sw_span_t v;
    sw_cfg_path_t path;
    sw_cfg_path_dotted(&path, "wdt.n");
    int64_t nfree = sw_cfg_get(&n->cfg, &path, &v) == 0 ? sw_cfg_int(&n->cfg, "wdt.n", 0) : SW_WDT_N_DEFAULT;
    sw_wdt_init(&n->wdt, sw_cfg_int(&n->cfg, "wdt.t", SW_NODE_DEF_WDT_S), sw_cfg_int(&n->cfg, "wdt.s", 0), nfree);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifecycle

int sw_node_create(sw_node_t **out, const sw_port_t *port, const sw_node_opts_t *opts)
{
    sw_node_t *n = port->ops->alloc(port->ctx, SW_POOL_NODE, NULL, 0, sizeof *n);
    if (!n)
        return SW_EFULL;
    memset(n, 0, sizeof *n);
    n->port = *port;
    n->opts = *opts;
    n->log_level = SW_LOG_INFO;
    n->boot_ms = sw_node_now(n);
    n->cfg_mem = sw_node_alloc_buf(n, 2 * CFG_CAP);
    n->local_mem_size = LOCAL_QUEUE + SW_NODE_LOCAL_MSG + sizeof(sw_rpc_pending_t) * LOCAL_PENDING +
                        sizeof(sw_rpc_stream_t) * LOCAL_STREAMS;
    n->local_mem = sw_node_alloc_buf(n, n->local_mem_size); // tables are zeroed by sw_rpc_init
    n->log_ring = sw_node_alloc_buf(n, SW_NODE_LOG_RING);
    if (!n->cfg_mem || !n->local_mem || !n->log_ring) {
        sw_node_destroy(n);
        return SW_EFULL;
    }
    sw_cfg_init(&n->cfg, n->cfg_mem, n->cfg_mem + CFG_CAP, CFG_CAP);
    sw_tree_init(&n->tree, n->tnodes, SW_NODE_TREE_MAX);

    uint8_t *at = n->local_mem;
    n->local_q = at, at += LOCAL_QUEUE;
    uint8_t *lout = at;
    at += SW_NODE_LOCAL_MSG;
    sw_rpc_pending_t *lp = (sw_rpc_pending_t *)(void *)at;
    at += sizeof(sw_rpc_pending_t) * LOCAL_PENDING;
    sw_rpc_stream_t *ls = (sw_rpc_stream_t *)(void *)at;
    sw_rpc_mem_t mem = {lout, SW_NODE_LOCAL_MSG, ls, LOCAL_STREAMS, lp, LOCAL_PENDING};
    sw_rpc_hooks_t hooks = {local_send, local_request, local_answer, n};
    sw_rpc_init(&n->local, &mem, &hooks, &n->tree, n);
    n->local.gen = ++n->gen_seq;
    n->local_timer.fn = local_run;
    n->wdt_timer.fn = wdt_run;
    n->loop_wdt_timer.fn = loop_wdt_kick;
    *out = n;
    return 0;
}

void sw_node_destroy(sw_node_t *n)
{
    if (!n)
        return;
    sw_node_release(n, n->cfg_mem, 2 * CFG_CAP);
    sw_node_release(n, n->local_mem, n->local_mem_size);
    sw_node_release(n, n->log_ring, SW_NODE_LOG_RING);
    n->port.ops->alloc(n->port.ctx, SW_POOL_NODE, n, sizeof *n, 0);
}

static void ensure_dir(sw_node_t *n, const char *path)
{
    sw_stat_t st;
    if (n->port.ops->fs_stat(n->port.ctx, path, &st) == 0 && st.type == SW_FT_DIR)
        return;
    int rc = n->port.ops->fs_mkdir(n->port.ctx, path);
    if (rc && rc != SW_EEXIST)
        sw_log(n, SW_LOG_ERROR, "cannot create %s: %s", path, sw_strerror(rc));
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Services

void sw_node_service_add(sw_node_t *n, sw_service_t *s)
{
    if (s->running)
        return;
    s->running = true;
    s->next = n->services;
    n->services = s;
}

sw_service_t *sw_node_service_find(const sw_node_t *n, const char *name)
{
    for (sw_service_t *s = n->services; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    return NULL;
}

void sw_node_service_remove(sw_node_t *n, sw_service_t *s)
{
    for (sw_service_t **pp = &n->services; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    s->running = false;
    s->next = NULL;
}

int sw_node_listen(sw_node_t *n, sw_service_t *s, uint16_t port, sw_listener_t **out)
{
    const char *addr = n->opts.listen_addr ? n->opts.listen_addr : "0.0.0.0";
    int rc = n->port.ops->tcp_listen ? n->port.ops->tcp_listen(n->port.ctx, addr, port, out) : SW_ENOTSUP;
    if (rc) {
        sw_log(n, SW_LOG_ERROR, "%s: cannot listen on %s:%u: %s", s->name, addr, (unsigned)port, sw_strerror(rc));
        return rc;
    }
    (*out)->user = s;
    if (port) // port 0 (FTP's passive data) is not worth a line each
        sw_log(n, SW_LOG_INFO, "%s: listening on %s:%u", s->name, addr, (unsigned)port);
    return 0;
}

int sw_node_udp_open(sw_node_t *n, sw_service_t *s, const char *addr, uint16_t port, int flags, sw_udp_t **out)
{
    int rc = n->port.ops->udp_open ? n->port.ops->udp_open(n->port.ctx, addr, port, flags, out) : SW_ENOTSUP;
    if (rc) { // SW_ENOTSUP: a port without a network (a board with a UART only): nothing to tell
        sw_log(n, rc == SW_ENOTSUP ? SW_LOG_DEBUG : SW_LOG_ERROR, "%s: cannot open UDP %s:%u: %s", s->name,
               addr ? addr : "*", (unsigned)port, sw_strerror(rc));
        return rc;
    }
    (*out)->user = s;
    return 0;
}

void sw_node_services_stop(sw_node_t *n)
{
    // the RPC listener is stopped by the node itself, after everything else
    sw_service_t **pp = &n->services;
    while (*pp) {
        sw_service_t *s = *pp;
        if (s == &n->rpc_service) {
            pp = &s->next;
            continue;
        }
        s->stop(n, s); // removes itself from the list
        if (*pp == s)   // a stop that forgot to: do it here so the loop ends
            sw_node_service_remove(n, s);
    }
}

static void rpc_accept(sw_node_t *n, sw_service_t *s, sw_listener_t *l, sw_conn_t *c);

static void rpc_stop(sw_node_t *n, sw_service_t *s)
{
    if (n->rpc_listener) {
        n->port.ops->listener_close(n->port.ctx, n->rpc_listener);
        n->rpc_listener = NULL;
    }
    sw_node_service_remove(n, s);
}

static int open_rpc_listener(sw_node_t *n)
{
    if (!SW_WITH_NET || !n->port.ops->tcp_listen)
        return 0; // a serial-only build or port: RPC over its serial/stdio links only
    int64_t port = sw_cfg_int(&n->cfg, "rpc.port", SW_NODE_DEF_RPC_PORT);
    if (!sw_node_service_on(n, "rpc") || port <= 0)
        return 0;
    if (port > 65535)
        return SW_ERANGE;
    sw_service_t *s = &n->rpc_service;
    s->name = "rpc";
    s->accept = rpc_accept;
    s->stop = rpc_stop;
    int rc = sw_node_listen(n, s, (uint16_t)port, &n->rpc_listener);
    if (!rc)
        sw_node_service_add(n, s);
    return rc;
}

// The directory of a command group: "" is the root; else found, or created when create.
static int group_dir(sw_node_t *n, const sw_part_cmds_t *g, bool create)
{
    if (!g->dir[0])
        return SW_TREE_ROOT;
    int dir = sw_tree_find(&n->tree, g->dir);
    return dir < 0 && create ? sw_tree_add_dir(&n->tree, SW_TREE_ROOT, g->dir, g->doc) : dir;
}

// Removes the commands of a part's groups [0, ng) that are in the tree (by their definition,
// so a same-named command of another part stays), and each group's directory if that leaves it
// empty.
static void remove_part_cmds(sw_node_t *n, const sw_part_t *p, size_t ng)
{
    sw_tree_t *t = &n->tree;
    for (size_t g = 0; g < ng; g++) {
        const sw_part_cmds_t *grp = &p->cmds[g];
        int dir = group_dir(n, grp, false);
        if (dir < 0)
            continue;
        for (uint16_t i = 0; i < grp->n; i++) {
            const sw_cmd_def_t *d = &grp->cmds[i];
            int id = sw_tree_child(t, dir, d->name, strlen(d->name));
            if (id >= 0 && t->nodes[id].def == d)
                sw_tree_remove(t, id);
        }
        bool empty = true;
        for (uint16_t k = 1; k < t->cap && empty && dir != SW_TREE_ROOT; k++)
            empty = !(t->nodes[k].used && t->nodes[k].parent == dir);
        if (dir != SW_TREE_ROOT && empty)
            sw_tree_remove(t, dir);
    }
}

// Adds a part's commands (sw_part_t.cmds). 0, or the tree's error with nothing added.
static int add_part_cmds(sw_node_t *n, const sw_part_t *p)
{
    for (size_t g = 0; g < p->ncmds; g++) {
        const sw_part_cmds_t *grp = &p->cmds[g];
        int dir = group_dir(n, grp, true);
        int rc = dir < 0 ? dir : 0;
        for (uint16_t i = 0; !rc && i < grp->n; i++) {
            int id = sw_tree_add_cmd(&n->tree, dir, &grp->cmds[i]);
            rc = id < 0 ? id : 0;
        }
        if (rc) {
            remove_part_cmds(n, p, g + 1);
            return rc;
        }
    }
    return 0;
}

// The SW_NODE_NO_* bit (swarm-node --no-ftp, …, --no-net) that keeps a serving part off: its
// row in the service table (services.c).
static uint32_t service_bit(const char *name)
{
    const sw_node_service_info_t *s = sw_node_service(name);
    return s ? s->no_bit : 0;
}

int sw_node_start(sw_node_t *n)
{
    int rc = sw_node_load_config(n);
    if (rc)
        return rc;
    // What loading found, on disk, before the config is saved over swarm.cfg: an unusable
    // file is kept aside, a good one becomes the last-known-good copy.
    if (n->cfg_disk == SW_CFG_DISK_BAD) {
        rc = n->port.ops->fs_rename(n->port.ctx, SW_CFG_FILE, SW_CFG_FILE ".bad");
        sw_log(n, SW_LOG_ERROR, "config: the unusable %s %s", SW_CFG_FILE,
               rc ? "could not be kept aside" : "is kept as " SW_CFG_FILE ".bad");
    } else if (n->cfg_disk == SW_CFG_DISK_GOOD) {
        uint8_t *buf = sw_node_alloc_buf(n, CFG_CAP);
        int len = buf ? read_file(n, SW_CFG_FILE, buf, CFG_CAP) : SW_EFULL;
        if (len >= 0)
            keep_good(n, buf, (size_t)len);
        if (buf)
            sw_node_release(n, buf, CFG_CAP);
    }
    n->cfg_disk = SW_CFG_DISK_NONE;
    if (n->cfg_dirty)
        sw_node_cfg_save(n);
    sw_log(n, SW_LOG_INFO, "swarm-node %s starting: host %s, app %s, board %s (%s)", SW_VERSION_STRING,
           n->host_name, n->app_name, n->hardware_name, n->port.ops->platform(n->port.ctx));

    wdt_configure(n);
    wdt_phase(n, 1);
    ensure_dir(n, "apps");
    char appdir[80];
    snprintf(appdir, sizeof appdir, "apps/%s", n->app_name);
    char norm[80];
    if (n->app_name[0] && sw_path_norm(appdir, strlen(appdir), norm, sizeof norm) > 5)
        ensure_dir(n, norm);
    wdt_phase(n, 2); // the POSIX "network" is up as soon as we run

    // the key first: a node with a key it cannot read does not start (open) at all
    if ((rc = sw_auth_init(n)))
        return rc;
    // the parts, in the order of parts.c (push recovery before any app starts). A part that
    // cannot start (no memory for the Lua VM under a small limits.lua_mem, say) is logged and
    // left out: the node still answers, so its config can be fixed remotely.
    for (size_t k = 0; sw_parts[k] && k < SW_PARTS_MAX; k++) {
        const sw_part_t *p = sw_parts[k];
        int prc = p->init ? p->init(n) : 0;
        if (!prc && p->ncmds && (prc = add_part_cmds(n, p)) && p->stop)
            p->stop(n);
        n->part_cmds[k] = !prc && p->ncmds;
        if (prc)
            sw_log(n, SW_LOG_ERROR, "%s: not available: %s", p->name, sw_strerror(prc));
    }
    sw_auth_cmds_init(n); // sys.key, in the sys part's directory
    n->board = sw_board_find(n->hardware_name, strlen(n->hardware_name));
    if (!n->board)
        sw_log(n, SW_LOG_WARN, "board %s is not compiled in; running without one", n->hardware_name);
    else if ((rc = n->board->init(n)))
        sw_log(n, SW_LOG_ERROR, "board %s: init failed: %s", n->board->name, sw_strerror(rc));

    if ((rc = open_rpc_listener(n))) {
        // a node with a serial or stdio link is still reachable: TCP is optional for it
        if (!n->opts.serial_dev && !n->opts.stdio)
            return rc;
        sw_log(n, SW_LOG_ERROR, "rpc: not started: %s (the node runs on its %s link)", sw_strerror(rc),
               n->opts.serial_dev ? "serial" : "stdio");
    }
    for (const sw_part_t *const *p = sw_parts; *p; p++) {
        if ((*p)->serve && (n->opts.no_services & service_bit((*p)->name))) {
            sw_log(n, SW_LOG_INFO, "%s: off for this run (command line)", (*p)->name);
            continue;
        }
        int src = (*p)->serve ? (*p)->serve(n) : 0;
#if SW_WITH_NET
        if (src) // a LAN service that fails is logged; the node runs without it (SW_ENOTSUP:
                 // no network on this board, sw_node_udp_open)
            sw_log(n, src == SW_ENOTSUP ? SW_LOG_INFO : SW_LOG_ERROR, "%s: not started: %s", (*p)->name,
                   src == SW_ENOTSUP ? "no network" : sw_strerror(src));
#else
        if (src) // a part that fails is logged; the node runs without it
            sw_log(n, SW_LOG_ERROR, "%s: not started: %s", (*p)->name, sw_strerror(src));
#endif
    }
    if (n->opts.stdio) {
        sw_conn_t *c;
        if ((rc = n->port.ops->stdio_open(n->port.ctx, &c)))
            return rc;
        c->user = sw_link_open(n, c, SW_LINK_STREAM, false);
    }
    if (n->opts.serial_dev) {
        sw_conn_t *c;
        uint32_t baud = n->opts.serial_baud ? n->opts.serial_baud : SW_NODE_DEF_BAUD;
        if ((rc = n->port.ops->serial_open(n->port.ctx, n->opts.serial_dev, baud, &c))) {
            sw_log(n, SW_LOG_ERROR, "serial %s: %s", n->opts.serial_dev, sw_strerror(rc));
            return rc;
        }
        c->user = sw_link_open(n, c, n->opts.serial_lossy ? SW_LINK_LOSSY : SW_LINK_STREAM, false);
    }

    wdt_phase(n, 3);
    if (n->app_name[0])
        sw_node_app_start(n);
    wdt_phase(n, 4);
    sw_log(n, SW_LOG_INFO, "ready");
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// App lifecycle and events: the kernel runs the app through the part that can (app_start).

static const sw_part_t *app_runtime(void)
{
    for (const sw_part_t *const *p = sw_parts; *p; p++)
        if ((*p)->app_start)
            return *p;
    return NULL;
}

int sw_node_app_start(sw_node_t *n)
{
    const sw_part_t *rt = app_runtime();
    if (!rt) {
        sw_log(n, SW_LOG_WARN, "app %s: this build runs no apps", n->app_name);
        return SW_ENOTSUP;
    }
    int rc = rt->app_start(n, n->app_name);
    if (rc)
        sw_log(n, SW_LOG_ERROR, "app %s: not started: %s", n->app_name, sw_strerror(rc));
    return rc;
}

void sw_node_app_stop(sw_node_t *n)
{
    const sw_part_t *rt = app_runtime();
    if (rt && rt->app_stop)
        rt->app_stop(n);
}

int sw_node_app_restart(sw_node_t *n, const char *why)
{
    sw_log(n, SW_LOG_DEBUG, "app %s: restart (%s)", n->app_name, why);
    sw_node_app_stop(n);
    return n->app_name[0] ? sw_node_app_start(n) : 0;
}

// Calls hook h of every part that has one, in table order (the one walk behind the kernel's
// notifications to the parts).
#define EACH_PART(h, ...)                                  \
    for (const sw_part_t *const *p_ = sw_parts; *p_; p_++) \
        if ((*p_)->h)                                      \
            (*p_)->h(__VA_ARGS__)

void sw_node_app_event(sw_node_t *n, int ev, const char *app, const char *detail)
{
    EACH_PART(app_event, n, ev, app, detail);
}

void sw_node_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq)
{
    EACH_PART(request_cancelled, n, rpc, seq);
}

void sw_node_link_gone(sw_node_t *n, const sw_rpc_t *rpc)
{
    EACH_PART(link_closed, n, rpc);
}

bool sw_node_reply_live(const sw_node_t *n, const sw_reply_to_t *to)
{
    if (!to->rpc)
        return false;
    if (to->rpc == &n->local)
        return n->local.gen == to->gen;
    for (const sw_link_t *l = n->links; l; l = l->next)
        if (&l->rpc == to->rpc)
            return l->rpc.gen == to->gen && !l->closing;
    for (const sw_part_t *const *p = sw_parts; *p; p++)
        if ((*p)->session_live && (*p)->session_live(n, to->rpc))
            return to->rpc->gen == to->gen;
    return false;
}

void sw_node_rpc_reset(sw_node_t *n, sw_rpc_t *rpc, int err)
{
    EACH_PART(session_reset, n, rpc); // what was started for the session dies
    sw_rpc_reset(rpc, err);
    rpc->gen = ++n->gen_seq;
}

void sw_node_link_all(sw_node_t *n, bool up)
{
    for (sw_link_t *l = n->links; l; l = l->next)
        if (!l->closing)
            sw_rpc_link(&l->rpc, up);
}

static void finish_stop(sw_node_t *n)
{
    if (n->stopping && !n->links && !n->stopped) {
        n->stopped = true;
        sw_timer_t *t;
        while ((t = n->timers) || (t = n->due))
            sw_timer_stop(n, t);
    }
}

void sw_node_stop(sw_node_t *n)
{
    if (n->stopping)
        return;
    n->stopping = true;
    sw_log(n, SW_LOG_INFO, "stopping");
    sw_timer_stop(n, &n->loop_wdt_timer);
    if (n->port.ops->watchdog) // an orderly stop: no bite while the links close
        n->port.ops->watchdog(n->port.ctx, 0);
    sw_node_link_all(n, false);
    sw_node_app_stop(n);
    if (n->board && n->board->stop)
        n->board->stop(n);
    size_t np = 0;
    while (sw_parts[np] && np < SW_PARTS_MAX)
        np++;
    while (np--) {
        if (n->part_cmds[np]) { // no more calls into a part that is going
            remove_part_cmds(n, sw_parts[np], sw_parts[np]->ncmds);
            n->part_cmds[np] = false;
        }
        if (sw_parts[np]->stop)
            sw_parts[np]->stop(n);
    }
    sw_node_rpc_reset(n, &n->local, SW_ECANCELED); // releases the wait records of local calls
    sw_node_services_stop(n);
    while (n->services) // the RPC listener and anything sw_services_stop() did not cover
        n->services->stop(n, n->services);
    for (sw_link_t *l = n->links; l; l = l->next)
        sw_link_close(l);
    finish_stop(n);
}

bool sw_node_stopped(const sw_node_t *n) { return n->stopped; }

// Reset sequence: 100 ms for the reply that asked for it, "link false" everywhere, another
// 100 ms for that to leave, then the port resets.
static void reset_step(sw_node_t *n, sw_timer_t *t)
{
    if (n->reset_stage == 0) {
        n->reset_stage = 1;
        sw_node_link_all(n, false);
        sw_timer_start(n, t, 100);
        return;
    }
    sw_node_app_stop(n);
    if (n->cfg_dirty)
        sw_node_cfg_save(n);
    n->port.ops->reset(n->port.ctx, n->reset_how);
}

void sw_node_reset(sw_node_t *n, int how, const char *why)
{
    if (n->reset_how)
        return;
    sw_log(n, SW_LOG_WARN, "%s: %s", how == SW_RESET_STOP ? "stop" : "reset", why);
    n->reset_how = how;
    n->reset_stage = 0;
    n->reset_timer.fn = reset_step;
    sw_timer_start(n, &n->reset_timer, 100);
}

void sw_node_cfg_apply(sw_node_t *n)
{
    char old_app[64];
    memcpy(old_app, n->app_name, sizeof old_app);
    read_settings(n);
    wdt_configure(n);
    loop_wdt_kick(n, &n->loop_wdt_timer);
    if (strcmp(old_app, n->app_name) != 0) {
        sw_log(n, SW_LOG_INFO, "config: app changed from %s to %s", old_app, n->app_name);
        sw_node_app_stop(n);
        if (n->app_name[0])
            sw_node_app_start(n);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Events from the port

void sw_node_accept(sw_node_t *n, sw_listener_t *l, sw_conn_t *c)
{
    sw_service_t *s = l->user;
    c->user = NULL;
    if (s && s->accept && !n->stopping)
        s->accept(n, s, l, c);
    else
        n->port.ops->conn_close(n->port.ctx, c);
}

static const sw_mqtt_ops_t *mqtt_ops(const sw_mqtt_t *m)
{
    return m->user ? *(const sw_mqtt_ops_t *const *)m->user : NULL;
}

void sw_node_mqtt_state(sw_node_t *n, sw_mqtt_t *m, bool up, int err)
{
    const sw_mqtt_ops_t *o = mqtt_ops(m);
    if (o && !n->stopped)
        o->state(m->user, up, err);
}

void sw_node_mqtt_message(sw_node_t *n, sw_mqtt_t *m, const sw_mqtt_msg_t *msg)
{
    const sw_mqtt_ops_t *o = mqtt_ops(m);
    if (o && !n->stopping)
        o->message(m->user, msg);
}

void sw_node_udp(sw_node_t *n, sw_udp_t *u, const char *ip, uint16_t port, const uint8_t *p, size_t len)
{
    sw_service_t *s = u->user;
    if (s && s->datagram && !n->stopping)
        s->datagram(n, s, u, ip, port, p, len);
}

static void rpc_accept(sw_node_t *n, sw_service_t *s, sw_listener_t *l, sw_conn_t *c)
{
    (void)s, (void)l;
    if (n->clients >= n->lim.max_clients && !n->stopping)
        sw_link_evict_idle(n); // links that have sent a request keep their slots
    if (n->clients >= n->lim.max_clients) {
        // A clear refusal the client can show, then close.
        char text[64];
        snprintf(text, sizeof text, "too many clients (max %u)", (unsigned)n->lim.max_clients);
        uint8_t buf[96];
        sw_mpw_t w;
        sw_mpw_init(&w, buf, sizeof buf);
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "d"), sw_mpw_cstr(&w, n->stopping ? "node is stopping" : text);
        sw_mpw_cstr(&w, "a"), sw_mpw_cstr(&w, "error");
        n->port.ops->conn_write(n->port.ctx, c, buf, w.len);
        char peer[64];
        n->port.ops->conn_peer(n->port.ctx, c, peer, sizeof peer);
        sw_log(n, SW_LOG_WARN, "rpc: refused %s: %s", peer, text);
        c->user = NULL;
        n->port.ops->conn_close(n->port.ctx, c);
        return;
    }
    c->user = sw_link_open(n, c, SW_LINK_STREAM, true);
    if (!c->user)
        n->port.ops->conn_close(n->port.ctx, c);
}

static const sw_conn_ops_t *conn_ops(const sw_conn_t *c)
{
    return c->user ? *(const sw_conn_ops_t *const *)c->user : NULL;
}

void sw_node_data(sw_node_t *n, sw_conn_t *c, const uint8_t *p, size_t len)
{
    (void)n;
    const sw_conn_ops_t *o = conn_ops(c);
    if (o)
        o->data(c->user, p, len);
}

void sw_node_drained(sw_node_t *n, sw_conn_t *c)
{
    (void)n;
    const sw_conn_ops_t *o = conn_ops(c);
    if (o && o->drained)
        o->drained(c->user);
}

void sw_node_closed(sw_node_t *n, sw_conn_t *c, int err)
{
    const sw_conn_ops_t *o = conn_ops(c);
    void *self = c->user;
    c->user = NULL;
    if (o)
        o->closed(self, err);
    finish_stop(n);
}
