// The node's authenticated mode (docs/SECURITY.md): its key file, the secure session of each
// RPC link — TCP, serial and stdio, lossless or lossy (src/auth/seclink.c between the line and
// the link's framing) — which plaintext services may run, and sys.key (installing the key over
// the open link, once).
#include <string.h>

#include "node_int.h"
#if SW_WITH_AUTH
#include "swarm/mp.h"
#include "swarm/noise_line.h"
#include "swarm/path.h"
#include "swarm/seclink.h"

static sw_node_t *node_of(const sw_call_t *c) { return c->ctx; }

#define KEY_OLD_FILE SW_PATH_KEY_FILE ".old" // the previous key during a rotation

// Reads a 32-byte key file: 0, SW_ENOENT (none), or an error (logged).
static int read_key(sw_node_t *n, const char *path, uint8_t out[SW_NOISE_KEY])
{
    const sw_port_ops_t *o = n->port.ops;
    int fd, rc = o->fs_open(n->port.ctx, path, SW_O_READ, &fd);
    if (rc == SW_ENOENT)
        return rc;
    if (rc) {
        sw_log(n, SW_LOG_ERROR, "auth: cannot read %s: %s", path, sw_strerror(rc));
        return rc;
    }
    uint8_t buf[SW_NOISE_KEY + 1];
    size_t got = 0;
    while (got < sizeof buf) {
        int k = o->fs_read(n->port.ctx, fd, got, buf + got, sizeof buf - got);
        if (k <= 0) {
            rc = k;
            break;
        }
        got += (size_t)k;
    }
    o->fs_close(n->port.ctx, fd);
    if (rc < 0 || got != SW_NOISE_KEY) {
        sw_log(n, SW_LOG_ERROR, "auth: %s is not a %u-byte key", path, (unsigned)SW_NOISE_KEY);
        sw_noise_zero(buf, sizeof buf);
        return SW_EPROTO;
    }
    memcpy(out, buf, SW_NOISE_KEY);
    sw_noise_zero(buf, sizeof buf);
    return 0;
}

int sw_auth_init(sw_node_t *n)
{
    sw_noise_zero(n->key, sizeof n->key);
    sw_noise_zero(n->key_old, sizeof n->key_old);
    n->locked = n->has_old = false;
    int rc = read_key(n, SW_PATH_KEY_FILE, n->key);
    if (rc == SW_ENOENT)
        return 0; // the open mode
    if (rc) // a key that exists but cannot be used must not open the node: refuse to start
        return rc;
    n->locked = true;
    n->has_old = read_key(n, KEY_OLD_FILE, n->key_old) == 0;
    sw_log(n, SW_LOG_INFO, "auth: locked: every RPC link needs the key (Noise NNpsk0)%s",
           n->has_old ? "; the previous key is still accepted (rotation)" : "");
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Secure links
//
// Every link of a locked node is a Noise session; how one starts and ends depends on the link:
//   TCP            the session is the connection: it starts at accept, a failure closes it.
//   serial, stdio  (lossless stream) the line cannot be closed and a host may come and go: the
//                  node hunts for the preamble (bytes before it are dropped unanswered), a
//                  preamble always starts a fresh session (a host that reconnects), and a
//                  failure ends the session and the hunt begins again.
//   lossy serial   the session lives inside the Reliable link: each handshake and transport
//                  frame is one Reliable message (a MsgPack bin), a Reliable (re)start starts a
//                  fresh session, a failure closes the Reliable link (the host offers it again).

#define PREAMBLE_WORD 0xc1534e31u // SW_NOISE_PREAMBLE as a big-endian word

struct sw_auth_link {
    sw_seclink_t s;
    bool was_up;     // the handshake completed
    bool live;       // serial/stdio: a session runs (else: hunting for the preamble)
    uint32_t win;    // serial/stdio: the last 4 bytes received
    sw_timer_t hs;   // TCP: a client must complete the handshake within auth.handshake_ms
    uint8_t wrap[SW_NOISE_BIN_HDR + SW_NOISE_HDR + SW_NOISE_FRAME_MAX]; // lossy: a frame as a MsgPack bin
};

#define HANDSHAKE_MS_DEFAULT 10000

static bool is_tcp(const sw_link_t *l) { return l->conn->kind == SW_CONN_TCP; }

static int sec_send(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    if (l->closing)
        return SW_ECLOSED;
    if (l->mode == SW_LINK_LOSSY) { // one Reliable message: the frame as a bin item
        size_t k = sw_noise_bin_wrap(l->sec->wrap, sizeof l->sec->wrap, p, n);
        return k ? sw_link_lossy_send(l, l->sec->wrap, k) : SW_ETOOBIG;
    }
    return l->node->port.ops->conn_write(l->node->port.ctx, l->conn, p, n);
}

static void sec_plain(void *ctx, const uint8_t *p, size_t n)
{
    sw_link_t *l = ctx;
    if (l->mode == SW_LINK_LOSSY)
        sw_link_lossy_msg(l, p, n);
    else
        sw_link_input(l, p, n);
}

static void sec_up(void *ctx)
{
    sw_link_t *l = ctx;
    l->sec->was_up = true;
    sw_timer_stop(l->node, &l->sec->hs);
    sw_log(l->node, SW_LOG_INFO, "link %s: authenticated", l->peer);
    sw_rpc_link(&l->rpc, true); // what an open link sends at once
}

static void hs_timeout(sw_node_t *n, sw_timer_t *t)
{
    sw_link_t *l = t->user;
    sw_log(n, SW_LOG_WARN, "link %s: handshake not completed in time, closing", l->peer);
    sw_link_close(l);
}

// A fresh responder session (with the old key of a rotation as the alternative). 0 or an error.
static int session_start(sw_link_t *l)
{
    sw_auth_link_t *a = l->sec;
    uint8_t seed[SW_NOISE_KEY];
    l->node->port.ops->random(l->node->port.ctx, seed, sizeof seed);
    sw_seclink_io_t io = {sec_send, sec_plain, sec_up, l};
    int rc = sw_seclink_start(&a->s, false, l->node->key, seed, &io);
    sw_noise_zero(seed, sizeof seed);
    if (!rc && l->node->has_old)
        sw_seclink_alt_key(&a->s, l->node->key_old);
    a->was_up = false;
    return rc;
}

// Only a lossy link wraps frames in bins: the others are allocated without wrap (2 KB less per
// link: on an MCU's heap, the room a locked node's Lua apps would otherwise lose). A link's
// mode never changes while it is open.
static size_t auth_size(const sw_link_t *l)
{
    return l->mode == SW_LINK_LOSSY ? sizeof(sw_auth_link_t) : offsetof(sw_auth_link_t, wrap);
}

sw_auth_link_t *sw_auth_link_new(sw_link_t *l)
{
    sw_auth_link_t *a = sw_node_alloc_buf(l->node, auth_size(l));
    if (!a)
        return NULL;
    memset(a, 0, offsetof(sw_auth_link_t, wrap));
    l->sec = a;
    if (session_start(l)) {
        sw_node_release(l->node, a, auth_size(l));
        l->sec = NULL;
        return NULL;
    }
    if (is_tcp(l) && l->mode == SW_LINK_STREAM) {
        // a client that connects and never completes the handshake must not hold a slot for long
        int64_t ms = sw_cfg_int(&l->node->cfg, "auth.handshake_ms", HANDSHAKE_MS_DEFAULT);
        a->hs.fn = hs_timeout;
        a->hs.user = l;
        sw_timer_start(l->node, &a->hs, (uint32_t)(ms < 100 ? 100 : ms > 600000 ? 600000 : ms));
    }
    return a;
}

static const char *why_failed(const sw_link_t *l, int rc)
{
    return rc != SW_EAUTH      ? "not an authenticated client"
           : l->sec->was_up    ? "a frame failed authentication"
                               : "wrong key (handshake failed)";
}

// Serial/stdio: the session ended (failed, or a new preamble replaces it). What the host of the
// old session had started goes, as when a TCP connection closes.
static void session_end(sw_link_t *l)
{
    sw_auth_link_t *a = l->sec;
    if (a->was_up || a->live) {
        sw_node_rpc_reset(l->node, &l->rpc, SW_ECLOSED);
        sw_node_link_gone(l->node, &l->rpc);
        sw_link_stream_reset(l);
    }
    a->live = a->was_up = false;
}

// Feeds one span of a serial/stdio session. False if it failed (the hunt begins again).
static bool feed_line(sw_link_t *l, const uint8_t *p, size_t n)
{
    sw_seclink_cork(&l->sec->s); // one frame for what this piece's requests answer
    int rc = sw_seclink_input(&l->sec->s, p, n);
    if (!rc && !l->closing)
        sw_seclink_flush(&l->sec->s);
    if (!rc || l->closing)
        return true;
    sw_log(l->node, SW_LOG_WARN, "link %s: %s; waiting for a new handshake", l->peer, why_failed(l, rc));
    session_end(l);
    return false;
}

void sw_auth_link_data(sw_link_t *l, const uint8_t *p, size_t n)
{
    sw_auth_link_t *a = l->sec;
    if (is_tcp(l)) {
        // the replies to this read's requests go out as one frame (seclink.h, coalescing)
        sw_seclink_cork(&a->s);
        int rc = sw_seclink_input(&a->s, p, n);
        if (rc && !l->closing) {
            sw_log(l->node, SW_LOG_WARN, "link %s: %s, closing", l->peer, why_failed(l, rc));
            sw_link_close(l);
        }
        if (!rc && !l->closing)
            sw_seclink_flush(&a->s);
        return;
    }
    // A line: every preamble starts a session (a ciphertext that holds the 4 preamble bytes by
    // chance, once in 2^32 positions, ends the session: the host reconnects).
    static const uint32_t pre = PREAMBLE_WORD;
    while (n && !l->closing && l->sec) {
        unsigned which;
        size_t before, k = sw_noise_line_hunt(&a->win, p, n, &pre, 1, &which, &before);
        if (!k) {
            if (a->live)
                a->live = feed_line(l, p, n);
            return;
        }
        if (a->live && before)
            feed_line(l, p, before);
        p += k, n -= k;
        session_end(l);
        if (session_start(l)) {
            sw_log(l->node, SW_LOG_ERROR, "link %s: cannot start a session", l->peer);
            continue;
        }
        // the host skips what an earlier session left on the line up to this mark
        l->node->port.ops->conn_write(l->node->port.ctx, l->conn, (const uint8_t *)SW_NOISE_LINE_LOCKED,
                                      SW_NOISE_LINE_MARK_LEN);
        a->live = feed_line(l, (const uint8_t *)SW_NOISE_PREAMBLE, SW_NOISE_PREAMBLE_LEN);
    }
}

bool sw_auth_link_rel(sw_link_t *l, bool up, const uint8_t *p, size_t n)
{
    sw_auth_link_t *a = l->sec;
    if (!p) { // the Reliable link went up or down: a fresh session either way
        a->live = false;
        if (up)
            a->live = session_start(l) == 0;
        return a->live;
    }
    // one message: a bin item holding one frame (its 2-byte length included)
    const uint8_t *body;
    size_t len;
    int rc = !a->live                                   ? SW_ECLOSED
             : !sw_noise_bin_unwrap(p, n, &body, &len) ? SW_EPROTO
                                                        : sw_seclink_input(&a->s, body, len);
    if (!rc)
        return true;
    if (!l->closing) {
        sw_log(l->node, SW_LOG_WARN, "link %s: %s, closing the reliable link", l->peer, why_failed(l, rc));
        a->live = false;
        sw_rel_close(&l->rel, "authentication failed", sw_node_now(l->node));
    }
    return false;
}

int sw_auth_link_write(sw_link_t *l, const uint8_t *p, size_t n)
{
    if (!sw_seclink_ready(&l->sec->s))
        return 0; // nothing goes out in plain before the handshake (the link message waits)
    return sw_seclink_write(&l->sec->s, p, n);
}

bool sw_auth_link_ready(const sw_link_t *l) { return l->sec && sw_seclink_ready(&l->sec->s); }

#if SW_SECLINK_COALESCE
size_t sw_auth_link_held(const sw_link_t *l) { return l->sec ? sw_seclink_held(&l->sec->s) : 0; }
#endif

void sw_auth_link_free(sw_link_t *l)
{
    sw_timer_stop(l->node, &l->sec->hs);
    sw_seclink_wipe(&l->sec->s);
    sw_node_release(l->node, l->sec, auth_size(l));
    l->sec = NULL;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// sys.key

static sw_link_t *link_of(sw_node_t *n, const sw_rpc_t *rpc)
{
    for (sw_link_t *l = n->links; l; l = l->next)
        if (&l->rpc == rpc)
            return l;
    return NULL;
}

// sys.key k=<32 bytes> [keep=true] | drop=true
//   k: installs the node's key, then soft-resets so every link and service comes back locked.
//      On an open node anyone may (once); on a locked node only a client on an authenticated
//      link (the key holder). keep: the current key stays accepted as well (a rotation: hosts
//      that still use it get in until drop); without keep an old key is forgotten.
//   drop: forget the previous key of a rotation (authenticated link only).
static int cmd_key(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    sw_span_t k = {NULL, 0};
    bool keep = false, drop = false;
    if (!sw_call_arg_bin(c, "k", false, &k) || !sw_call_arg_bool(c, "keep", false, &keep) ||
        !sw_call_arg_bool(c, "drop", false, &drop))
        return c->err;
    sw_link_t *l = c->rpc ? link_of(n, c->rpc) : NULL;
    bool authed = l && l->sec;
    if (n->locked && !authed)
        return sw_call_fail(c, SW_EPERM, "the node is locked: changing its key needs the current one");
    if (drop) {
        if (k.p)
            return sw_call_fail(c, SW_EINVAL, "BadArg: drop goes without k");
        if (!n->locked)
            return sw_call_fail(c, SW_EINVAL, "the node has no key");
        int rc = n->port.ops->fs_unlink(n->port.ctx, KEY_OLD_FILE);
        if (rc && rc != SW_ENOENT)
            return rc;
        n->has_old = false;
        sw_noise_zero(n->key_old, sizeof n->key_old);
        sw_log(n, SW_LOG_WARN, "auth: the previous key is no longer accepted");
        sw_mpw_bool(c->out, true);
        return 0;
    }
    if (!k.p)
        return sw_call_fail(c, SW_EINVAL, "BadArg: k (the key, 32 bytes) or drop=true");
    if (k.n != SW_NOISE_KEY)
        return sw_call_fail(c, SW_EINVAL, "BadArg: k: a key is 32 bytes");
    if (keep && !n->locked)
        return sw_call_fail(c, SW_EINVAL, "BadArg: keep: the node has no key to keep");
    int rc = keep ? sw_node_write_atomic(n, KEY_OLD_FILE, n->key, sizeof n->key)
                  : n->port.ops->fs_unlink(n->port.ctx, KEY_OLD_FILE);
    if (rc && rc != SW_ENOENT)
        return rc;
    if ((rc = sw_node_write_atomic(n, SW_PATH_KEY_FILE, k.p, k.n)))
        return rc;
    sw_log(n, SW_LOG_WARN, "auth: key %s%s; resetting", n->locked ? "replaced" : "installed",
           keep ? " (the previous one is still accepted)" : "");
    sw_node_reset(n, SW_RESET_SOFT, "sys.key");
    sw_mpw_bool(c->out, true);
    return 0;
}

static const sw_cmd_def_t key_cmd = {"key", "k,keep,drop",
                                     "install the node's key (k: 32 bytes; keep: accept the previous "
                                     "one too; drop: forget it; docs/SECURITY.md)",
                                     cmd_key, NULL};

int sw_auth_cmds_init(sw_node_t *n)
{
    int sys = sw_tree_find(&n->tree, "sys");
    if (sys < 0)
        return sys;
    int rc = sw_tree_add_cmd(&n->tree, sys, &key_cmd);
    return rc < 0 ? rc : 0;
}
#endif // SW_WITH_AUTH
