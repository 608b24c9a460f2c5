// Remote eval (micro-swarm's service_remote_eval): a TCP client sends a chunk and half-closes;
// the node closes the connection without a byte of reply, then runs the chunk. micro-swarm's
// push sends a MicroPython reset snippet, which is recognised and resets the node; anything
// else runs as Lua through sys.eval. Errors go to the log, never to the client
// (docs/PROTOCOL.md, "Remote eval").
#include "profile.h"
#if SW_WITH_EVAL
#include <stdio.h> // snprintf
#include <string.h>

#include "node_int.h"
#include "net_part.h"

// Defaults of the "eval.*" settings (docs/PROTOCOL.md) and the request buffer's first size:
// SW_EVAL_* in profile.h.

typedef struct eval_svc eval_svc_t;
typedef struct eval_conn eval_conn_t;

struct eval_conn {
    const sw_conn_ops_t *ops; // first (node_int.h)
    eval_conn_t *next;
    eval_svc_t *svc;
    sw_conn_t *conn;
    uint8_t *buf;
    size_t len, cap;
    bool dropped; // we closed it (too big, idle, node stopping): nothing runs
    sw_timer_t idle;
    char peer[64];
};

struct eval_svc {
    sw_service_t s; // first: the node's list holds &s
    sw_node_t *n;
    sw_listener_t *listener;
    eval_conn_t *conns;
    unsigned nconns, max_conns;
    size_t max;
    uint32_t idle_ms;
};

// What runs after the connection closed: the log needs the peer, the callback outlives the
// connection (it is freed in the callback, which the node calls exactly once).
typedef struct eval_run {
    size_t bytes;
    char peer[64];
} eval_run_t;

///////////////////////////////////////////////////////////////////////////////////////////////
// The MicroPython reset snippet
//
// A chunk is a reset request when every statement in it is one of the forms below and at least
// one is a reset call. Statements: the chunk split at LF (a CR before it ignored) and at ';'
// outside string literals, each trimmed of spaces and tabs.
//   ""  "# …"  "if True:"  "import machine"  print("…") / print('…')
//   machine.reset()  machine.soft_reset()
// push_code's snippet (spec §4) is exactly such a chunk; so are rshell's
// "import machine ; machine.soft_reset()" and a bare "machine.reset()".

enum { NOT_RESET = 0, RESET_HARD = 1, RESET_SOFT = 2 };

typedef struct snippet {
    int reset;          // NOT_RESET, or the first reset call's kind
    const uint8_t *msg; // the first print()'s literal, quotes excluded (escapes not decoded)
    size_t msg_len;
} snippet_t;

static bool is_blank(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

static bool stmt_is(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && !memcmp(p, s, n);
}

// print("…") or print('…') with one string literal and nothing else; sets the literal.
static bool stmt_print(const uint8_t *p, size_t n, const uint8_t **lit, size_t *lit_len)
{
    if (n < 9 || memcmp(p, "print(", 6) != 0 || p[n - 1] != ')')
        return false;
    uint8_t q = p[6];
    if (q != '"' && q != '\'')
        return false;
    size_t i = 7;
    while (i < n - 1 && p[i] != q)
        i += p[i] == '\\' ? 2 : 1;
    if (i != n - 2) // the closing quote must be the last byte before ')'
        return false;
    *lit = p + 7;
    *lit_len = i - 7;
    return true;
}

// Classifies one trimmed statement; false if it is not part of the vocabulary.
static bool snippet_stmt(snippet_t *sn, const uint8_t *p, size_t n)
{
    if (n == 0 || p[0] == '#' || stmt_is(p, n, "if True:") || stmt_is(p, n, "import machine"))
        return true;
    if (stmt_is(p, n, "machine.reset()") || stmt_is(p, n, "machine.soft_reset()")) {
        if (sn->reset == NOT_RESET)
            sn->reset = n == 15 ? RESET_HARD : RESET_SOFT;
        return true;
    }
    const uint8_t *lit;
    size_t len;
    if (stmt_print(p, n, &lit, &len)) {
        if (!sn->msg)
            sn->msg = lit, sn->msg_len = len;
        return true;
    }
    return false;
}

static bool snippet_parse(const uint8_t *p, size_t n, snippet_t *sn)
{
    memset(sn, 0, sizeof *sn);
    size_t start = 0;
    uint8_t quote = 0;
    for (size_t i = 0; i <= n; i++) {
        uint8_t c = i < n ? p[i] : '\n';
        if (quote) { // inside a literal: only its end (or the line's) matters
            if (c == '\\' && i + 1 < n && p[i + 1] != '\n')
                i++;
            else if (c == quote || c == '\n')
                quote = 0;
            if (c != '\n')
                continue;
        } else if (c == '"' || c == '\'') {
            quote = c;
            continue;
        } else if (c == '#') { // a comment runs to the end of the line
            while (i < n && p[i] != '\n')
                i++;
            c = '\n';
        }
        if (c != '\n' && c != ';')
            continue;
        size_t a = start, b = i;
        while (a < b && is_blank(p[a]))
            a++;
        while (b > a && is_blank(p[b - 1]))
            b--;
        if (b > a && p[a] == '#')
            b = a; // the comment itself
        if (!snippet_stmt(sn, p + a, b - a))
            return false;
        start = i + 1;
    }
    return sn->reset != NOT_RESET;
}

// Logs the print() text as MicroPython would print it: simple escapes decoded, one log line
// per printed line, blank lines left out.
static void log_print_text(sw_node_t *n, const uint8_t *p, size_t len)
{
    char line[160];
    size_t k = 0;
    for (size_t i = 0; i <= len; i++) {
        int c = i < len ? p[i] : '\n';
        if (c == '\\' && i + 1 < len) {
            uint8_t e = p[++i];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? -1 : e;
            if (e != 'n' && e != 't' && e != 'r' && e != '\\' && e != '\'' && e != '"') {
                if (k < sizeof line - 1)
                    line[k++] = '\\';
            }
        }
        if (c == -1)
            continue;
        if (c == '\n') {
            while (k && (line[k - 1] == ' ' || line[k - 1] == '\t'))
                k--;
            if (k)
                sw_log(n, SW_LOG_INFO, "remote eval: %.*s", (int)k, line);
            k = 0;
        } else if (k < sizeof line - 1 && (unsigned)c >= 0x20) {
            line[k++] = (char)c;
        }
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Running a request

static void eval_done(sw_node_t *n, void *user, const sw_msg_t *m, int err)
{
    eval_run_t *r = user;
    if (m && m->kind == SW_MSG_REPLY) {
        sw_log(n, SW_LOG_DEBUG, "remote eval from %s: done", r->peer);
    } else {
        sw_span_t text = {NULL, 0};
        sw_mpr_t rd;
        if (m && m->kind == SW_MSG_ERROR) {
            sw_mpr_init(&rd, m->e.p, m->e.n);
            sw_mpr_str(&rd, &text);
        }
        sw_log(n, SW_LOG_ERROR, "remote eval from %s: *** Remote eval exception: ***", r->peer);
        if (!text.p) {
            sw_log(n, SW_LOG_ERROR, "%s", sw_strerror(err ? err : SW_EPROTO));
        } else { // a message may span lines (a traceback): one log line each
            const char *s = (const char *)text.p, *end = s + text.n;
            while (s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                size_t k = (size_t)((nl ? nl : end) - s);
                if (k)
                    sw_log(n, SW_LOG_ERROR, "%.*s", (int)k, s);
                s += k + 1;
            }
        }
    }
    sw_node_release(n, r, sizeof *r);
}

static void eval_run(sw_node_t *n, const char *peer, const uint8_t *p, size_t len)
{
    snippet_t sn;
    if (snippet_parse(p, len, &sn)) {
        if (sn.msg)
            log_print_text(n, sn.msg, sn.msg_len);
        sw_node_reset(n, SW_RESET_SOFT, sn.reset == RESET_HARD ? "remote eval: machine.reset()"
                                                             : "remote eval: machine.soft_reset()");
        return;
    }
    if (len == 0) {
        sw_log(n, SW_LOG_DEBUG, "remote eval from %s: empty request", peer);
        return;
    }
    eval_run_t *r = sw_node_alloc(n, sizeof *r);
    size_t cap = len + 16; // {"code": <str32 header>} around the bytes
    uint8_t *args = sw_node_alloc_buf(n, cap);
    int64_t seq = SW_EFULL;
    if (r && args) {
        r->bytes = len;
        snprintf(r->peer, sizeof r->peer, "%s", peer);
        sw_mpw_t w;
        sw_mpw_init(&w, args, cap);
        sw_mpw_map(&w, 1);
        sw_mpw_cstr(&w, "code");
        sw_mpw_str(&w, p, len);
        sw_span_t d = {args, w.len};
        seq = w.err ? w.err : sw_node_call(n, "sys.eval", d, 0, eval_done, r);
    }
    if (args)
        sw_node_release(n, args, cap);
    if (seq < 0) {
        if (seq == SW_ETOOBIG)
            sw_log(n, SW_LOG_ERROR, "remote eval from %s: %zu bytes not run: too large for sys.eval (a local "
                   "call carries at most %u bytes)", peer, len, (unsigned)SW_NODE_LOCAL_MSG);
        else
            sw_log(n, SW_LOG_ERROR, "remote eval from %s: %zu bytes not run: %s", peer, len,
                   seq == SW_EFULL ? "too many local calls under way" : sw_strerror((int)seq));
        if (r)
            sw_node_release(n, r, sizeof *r);
    } else {
        sw_log(n, SW_LOG_INFO, "remote eval from %s: running %zu bytes of Lua", peer, len);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Connections

static const sw_port_ops_t *ops(const eval_svc_t *v) { return v->n->port.ops; }

static void conn_free(eval_conn_t *c)
{
    eval_svc_t *v = c->svc;
    sw_timer_stop(v->n, &c->idle);
    for (eval_conn_t **pp = &v->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    v->nconns--;
    if (c->buf)
        sw_node_release(v->n, c->buf, c->cap);
    sw_node_release(v->n, c, sizeof *c);
}

// Closes a connection whose request will not run.
static void conn_drop(eval_conn_t *c)
{
    if (c->dropped)
        return;
    c->dropped = true;
    sw_timer_stop(c->svc->n, &c->idle);
    ops(c->svc)->conn_close(c->svc->n->port.ctx, c->conn);
}

static void idle_fire(sw_node_t *n, sw_timer_t *t)
{
    eval_conn_t *c = t->user;
    sw_log(n, SW_LOG_WARN, "remote eval from %s: no end of request within %u ms, dropped (%zu bytes not run)",
           c->peer, (unsigned)c->svc->idle_ms, c->len);
    conn_drop(c);
}

static bool grow(eval_conn_t *c, size_t need)
{
    eval_svc_t *v = c->svc;
    // SW_EVAL_FIRST_BUF 0 (MCU profiles): one buffer of eval.max, taken at the first byte;
    // need never exceeds it (conn_data drops larger requests first), so it never grows
    size_t cap = c->cap ? c->cap : SW_EVAL_FIRST_BUF ? SW_EVAL_FIRST_BUF : v->max;
    while (cap < need)
        cap *= 2;
    if (cap > v->max)
        cap = v->max;
    uint8_t *b = sw_node_alloc_buf(v->n, cap);
    if (!b)
        return false;
    if (c->buf) {
        memcpy(b, c->buf, c->len);
        sw_node_release(v->n, c->buf, c->cap);
    }
    c->buf = b;
    c->cap = cap;
    return true;
}

static void conn_data(void *self, const uint8_t *p, size_t len)
{
    eval_conn_t *c = self;
    eval_svc_t *v = c->svc;
    if (c->dropped)
        return;
    if (len > v->max - c->len) {
        sw_log(v->n, SW_LOG_WARN, "remote eval from %s: request over %zu bytes (eval.max), dropped",
               c->peer, v->max);
        conn_drop(c);
        return;
    }
    if (c->len + len > c->cap && !grow(c, c->len + len)) {
        sw_log(v->n, SW_LOG_ERROR, "remote eval from %s: out of memory, dropped", c->peer);
        conn_drop(c);
        return;
    }
    memcpy(c->buf + c->len, p, len);
    c->len += len;
    sw_timer_start(v->n, &c->idle, v->idle_ms);
}

static void conn_closed(void *self, int err)
{
    eval_conn_t *c = self;
    eval_svc_t *v = c->svc;
    // err 0: the client half-closed (EOF) and the port has closed our side too — the request
    // is complete, and the client got nothing back, as from micro-swarm.
    if (!c->dropped && err == 0 && !v->n->stopping && !v->n->reset_how)
        eval_run(v->n, c->peer, c->buf ? c->buf : (const uint8_t *)"", c->len);
    else if (!c->dropped)
        sw_log(v->n, SW_LOG_DEBUG, "remote eval from %s: connection lost (%s), %zu bytes not run", c->peer,
               sw_strerror(err), c->len);
    conn_free(c);
}

static const sw_conn_ops_t eval_conn_ops = {conn_data, NULL, conn_closed};

static void eval_accept(sw_node_t *n, sw_service_t *s, sw_listener_t *l, sw_conn_t *conn)
{
    (void)l;
    eval_svc_t *v = (eval_svc_t *)s;
    char peer[64];
    n->port.ops->conn_peer(n->port.ctx, conn, peer, sizeof peer);
    eval_conn_t *c = v->nconns < v->max_conns ? sw_node_alloc(n, sizeof *c) : NULL;
    if (!c) {
        sw_log(n, SW_LOG_WARN, "remote eval: refused %s: %u connections open (eval.clients)", peer, v->nconns);
        conn->user = NULL;
        n->port.ops->conn_close(n->port.ctx, conn);
        return;
    }
    c->ops = &eval_conn_ops;
    c->svc = v;
    c->conn = conn;
    memcpy(c->peer, peer, sizeof peer);
    c->idle.fn = idle_fire;
    c->idle.user = c;
    c->next = v->conns;
    v->conns = c;
    v->nconns++;
    conn->user = c;
    sw_timer_start(n, &c->idle, v->idle_ms);
}

static void eval_stop(sw_node_t *n, sw_service_t *s)
{
    eval_svc_t *v = (eval_svc_t *)s;
    if (v->listener)
        n->port.ops->listener_close(n->port.ctx, v->listener);
    // Connections are detached (the port will not call us again) and freed now: the service
    // goes away with them.
    while (v->conns) {
        eval_conn_t *c = v->conns;
        c->conn->user = NULL;
        if (!c->dropped)
            n->port.ops->conn_close(n->port.ctx, c->conn);
        conn_free(c);
    }
    sw_node_service_remove(n, s);
    sw_node_release(n, v, sizeof *v);
}

int sw_eval_start(sw_node_t *n)
{
    if (!sw_node_service_on(n, "eval"))
        return 0;
    int64_t port = sw_cfg_int(&n->cfg, "boot.REMOTE_EVAL_PORT", 1139);
    int64_t max = sw_cfg_int(&n->cfg, "eval.max", SW_EVAL_DEF_MAX);
    int64_t clients = sw_cfg_int(&n->cfg, "eval.clients", SW_EVAL_DEF_CLIENTS);
    int64_t idle = sw_cfg_int(&n->cfg, "eval.idle_ms", SW_EVAL_DEF_IDLE);
    if (port <= 0 || port > 65535 || max < 16 || max > (16 << 20) || clients < 1 || clients > 256 ||
        idle < 100 || idle > 3600000)
        return SW_ERANGE;
    eval_svc_t *v = sw_node_alloc(n, sizeof *v);
    if (!v)
        return SW_EFULL;
    v->s.name = "eval";
    v->s.accept = eval_accept;
    v->s.stop = eval_stop;
    v->n = n;
    v->max = (size_t)max;
    v->max_conns = (unsigned)clients;
    v->idle_ms = (uint32_t)idle;
    int rc = sw_node_listen(n, &v->s, (uint16_t)port, &v->listener);
    if (rc) {
        sw_node_release(n, v, sizeof *v);
        return rc;
    }
    sw_node_service_add(n, &v->s);
    return 0;
}

const sw_part_t sw_part_eval = {.name = "eval", .serve = sw_eval_start};

#endif // SW_WITH_EVAL
