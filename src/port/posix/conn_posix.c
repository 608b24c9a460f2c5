// Byte links of the POSIX port over libuv streams: TCP listeners and accepted connections,
// already-configured stream fds (serial ttys), and stdin/stdout. Each connection owns a write
// queue — at most one uv_write in flight plus a buffer gathering what the node writes
// meanwhile — and reports its end to the node exactly once, from a loop callback, after all
// of its handles are closed (the struct stays valid until sw_node_closed() has returned).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posix_int.h"

#define WBUF_FIRST 512u // the first write buffer of a connection, bytes
#define KEEP_MAX (256u << 10) // write buffers larger than this are released once drained

struct sw_plistener {
    sw_listener_t pub; // first: the node holds &pub
    sw_posix_t *p;
    sw_plistener_t *next;
    uv_tcp_t tcp;
    uv_check_t defer;  // accepts the connection libuv has waiting, after the poll phase
    int handles;       // of tcp and defer, not yet closed
    bool closed;       // uv_close() called
    bool known;        // the node holds it (else freed as soon as it is closed)
};

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
} wbuf_t;

struct sw_pconn {
    sw_conn_t pub;      // first: the node holds &pub
    sw_posix_t *p;
    sw_pconn_t *next, **prev;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_tty_t tty;
    } io;               // the read side, and the write side unless `out` is used
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } out;              // stdio: stdout when it is a stream
    uv_idle_t pump;     // stdio: reads stdin when it is a file (not pollable)
    uv_timer_t linger;  // bounds the flush of a closing connection
    uv_stream_t *rs, *ws; // read / write stream; NULL: rfd / wfd are plain files
    int rfd, wfd;
    int stdio_fl[2];    // stdio: original file status flags of fds 0 and 1
    uv_write_t wreq;
    wbuf_t fly;         // bytes of the uv_write in flight
    wbuf_t pend;        // bytes written by the node since, not yet given to libuv
    int handles;        // initialised handles not yet closed
    int err;            // reported with sw_node_closed()
    bool known;         // the node holds it (else it is closed without a report)
    bool reading, paused, writing, queued, closing, shut;
    bool in_read;       // inside on_read: replies gather in pend, written once after it
    char peer[64];
};

int sw__posix_uverr(int e)
{
    switch (e) {
    case 0: return 0;
    case UV_EOF: case UV_ECONNRESET: case UV_EPIPE: case UV_ENOTCONN: case UV_ECONNABORTED:
    case UV_ECANCELED: case UV_EBADF:
        return SW_ECLOSED;
    case UV_EADDRINUSE: case UV_EBUSY: return SW_EBUSY;
    case UV_EACCES: case UV_EPERM: return SW_EPERM;
    case UV_EADDRNOTAVAIL: case UV_EINVAL: case UV_EAI_NONAME: return SW_EINVAL;
    case UV_ENOMEM: case UV_ENOBUFS: case UV_EMFILE: case UV_ENFILE: return SW_EFULL;
    case UV_ETIMEDOUT: return SW_ETIMEDOUT;
    case UV_ENOENT: return SW_ENOENT;
    case UV_EAGAIN: return SW_EAGAIN;
    case UV_ENOTSUP: case UV_ENOSYS: return SW_ENOTSUP;
    default: return SW_EIO;
    }
}

static sw_posix_t *P(void *ctx)
{
    return ctx;
}

static sw_pconn_t *C(sw_conn_t *c)
{
    return (sw_pconn_t *)c;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Connection lifecycle

static sw_pconn_t *conn_new(sw_posix_t *p, uint8_t kind, const char *peer)
{
    sw_pconn_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->pub.kind = kind;
    c->p = p;
    c->rfd = c->wfd = -1;
    c->stdio_fl[0] = c->stdio_fl[1] = -1;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    uv_timer_init(&p->loop, &c->linger);
    c->linger.data = c;
    c->handles = 1;
    c->next = p->conns;
    if (c->next)
        c->next->prev = &c->next;
    c->prev = &p->conns;
    p->conns = c;
    p->nconns++;
    return c;
}

static void conn_free(sw_pconn_t *c)
{
    *c->prev = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->p->nconns--;
    free(c->fly.p);
    free(c->pend.p);
    free(c);
}

// All handles closed: tell the node (once), then forget the connection.
static void on_handle_closed(uv_handle_t *h)
{
    sw_pconn_t *c = h->data;
    if (--c->handles > 0)
        return;
    sw_posix_t *p = c->p;
    if (c->pub.kind == SW_CONN_STDIO) {
        // uv_pipe_open set O_NONBLOCK on the descriptions we share with fds 0 and 1 (and with
        // whoever started us): put them back as they were.
        for (int i = 0; i < 2; i++)
            if (c->stdio_fl[i] >= 0)
                (void)fcntl(i, F_SETFL, c->stdio_fl[i]);
        p->stdio_used = false;
    }
    if (c->rfd >= 0)
        close(c->rfd);
    if (c->wfd >= 0)
        close(c->wfd);
    if (c->known && p->node)
        sw_node_closed(p->node, &c->pub, c->err);
    conn_free(c);
}

static void close_handle(sw_pconn_t *c, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        h->data = c;
        uv_close(h, on_handle_closed);
    }
}

// Closes every handle now; queued bytes are dropped (a write in flight is cancelled).
static void conn_shut(sw_pconn_t *c)
{
    if (c->shut)
        return;
    c->shut = c->closing = true;
    c->reading = false;
    uv_timer_stop(&c->linger);
    // close_handle() skips handles never initialised (their loop pointer is still NULL)
    close_handle(c, (uv_handle_t *)&c->io);
    close_handle(c, (uv_handle_t *)&c->out);
    close_handle(c, (uv_handle_t *)&c->pump);
    close_handle(c, (uv_handle_t *)&c->linger);
}

static void read_off(sw_pconn_t *c)
{
    if (!c->reading)
        return;
    c->reading = false;
    if (c->rs)
        uv_read_stop(c->rs);
    else if (c->pump.loop)
        uv_idle_stop(&c->pump);
}

static void on_linger(uv_timer_t *t)
{
    sw_pconn_t *c = t->data;
    if (!c->err)
        c->err = SW_ETIMEDOUT;
    conn_shut(c);
}

// Starts closing: no more reading; with flush, what is queued is sent first (within the
// linger time), else everything is dropped. The first reason given is the one reported.
static void conn_end(sw_pconn_t *c, int err, bool flush)
{
    if (!c->closing) {
        c->closing = true;
        c->err = err;
        read_off(c);
        if (flush && (c->writing || c->pend.len)) {
            uv_timer_start(&c->linger, on_linger, c->p->opts.linger_ms, 0);
            return;
        }
    } else if (flush) {
        return; // already flushing, or already shut
    }
    conn_shut(c);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Reading

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    sw_pconn_t *c = h->data;
    // One buffer for the whole port: the node consumes every read before the next one.
    *buf = uv_buf_init((char *)c->p->rbuf, sizeof c->p->rbuf);
}

static void deliver(sw_pconn_t *c, const uint8_t *p, size_t n)
{
    if (!c->closing && c->known && c->p->node)
        sw_node_data(c->p->node, &c->pub, p, n);
}

static void flush_out(sw_pconn_t *c);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    sw_pconn_t *c = s->data;
    if (n > 0) {
        // Everything the node answers to this read goes out in one write, not one per reply.
        c->in_read = true;
        deliver(c, (const uint8_t *)buf->base, (size_t)n);
        c->in_read = false;
        if (!c->writing && c->pend.len && !c->shut)
            flush_out(c);
    } else if (n == UV_EOF) {
        // A reset can read as a plain end: once the queued data has been read, Linux reports
        // EOF and leaves ECONNRESET in SO_ERROR. The difference matters (an FTP upload cut
        // with a reset must not be taken as complete).
        int e = 0;
        uv_os_fd_t fd;
        socklen_t len = sizeof e;
        if (c->pub.kind != SW_CONN_TCP || uv_fileno((uv_handle_t *)s, &fd) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = 0;
        conn_end(c, e ? sw__posix_errno(e) : 0, !e);
    } else if (n < 0)
        conn_end(c, sw__posix_uverr((int)n), false);
}

// stdin that is a plain file (or /dev/null): never blocks, so it is read once per loop turn
// while reading is on.
static void on_pump(uv_idle_t *h)
{
    sw_pconn_t *c = h->data;
    ssize_t n = read(c->rfd, c->p->rbuf, sizeof c->p->rbuf);
    if (n > 0)
        deliver(c, c->p->rbuf, (size_t)n);
    else if (n == 0)
        conn_end(c, 0, true);
    else if (errno != EINTR && errno != EAGAIN)
        conn_end(c, sw__posix_errno(errno), false);
}

static void read_on(sw_pconn_t *c)
{
    if (c->reading || c->closing || c->paused)
        return;
    int r = 0;
    if (c->rs)
        r = uv_read_start(c->rs, on_alloc, on_read);
    else if (c->pump.loop)
        r = uv_idle_start(&c->pump, on_pump);
    if (r < 0)
        conn_end(c, sw__posix_uverr(r), false);
    else
        c->reading = true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Writing

static int wbuf_add(wbuf_t *b, const void *p, size_t n)
{
    if (n > b->cap - b->len) {
        // (small at first: an idle client holds what its last replies took, 1,000 of them
        // 512 B each rather than 4 KiB; a busy one doubles up to what it needs, once)
        size_t cap = b->cap ? b->cap : WBUF_FIRST;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return SW_EFULL;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static void wbuf_trim(wbuf_t *b)
{
    b->len = 0;
    if (b->cap > KEEP_MAX) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

static void on_written(uv_write_t *req, int status);

// Hands the gathered bytes to libuv (the buffers swap roles; no copy).
static void flush_pend(sw_pconn_t *c)
{
    wbuf_t t = c->fly;
    c->fly = c->pend;
    c->pend = t;
    c->pend.len = 0;
    uv_buf_t b = uv_buf_init((char *)c->fly.p, (unsigned)c->fly.len);
    c->wreq.data = c;
    int r = uv_write(&c->wreq, c->ws, &b, 1, on_written);
    if (r < 0) {
        conn_end(c, sw__posix_uverr(r), false);
        return;
    }
    c->writing = true;
}

static void on_written(uv_write_t *req, int status)
{
    sw_pconn_t *c = req->data;
    c->writing = false;
    wbuf_trim(&c->fly);
    if (c->shut)
        return; // cancelled by the close
    if (status < 0) {
        conn_end(c, sw__posix_uverr(status), false);
        return;
    }
    if (c->pend.len) {
        flush_pend(c);
        return;
    }
    wbuf_trim(&c->pend);
    if (c->closing) {
        conn_shut(c);
    } else if (c->queued) {
        c->queued = false;
        if (c->known && c->p->node)
            sw_node_drained(c->p->node, &c->pub);
    }
}

// stdout that is a plain file: written synchronously (a file does not make us wait).
static int write_file(sw_pconn_t *c, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(c->wfd, p, n);
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return sw__posix_errno(errno);
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int sw__posix_conn_write(void *ctx, sw_conn_t *conn, const void *data, size_t n)
{
    sw_pconn_t *c = C(conn);
    (void)ctx;
    if (c->closing)
        return SW_ECLOSED;
    if (!n)
        return 0;
    const uint8_t *s = data;
    if (!c->ws) {
        int err = write_file(c, s, n);
        if (err) {
            conn_end(c, err, false);
            return SW_ECLOSED;
        }
        return 0;
    }
    if (!c->writing && !c->pend.len && !c->in_read) {
        // Nothing queued: try the kernel at once (the common case; saves a loop turn).
        uv_buf_t b = uv_buf_init((char *)s, n > 0x7fffffffu ? 0x7fffffffu : (unsigned)n);
        int r = uv_try_write(c->ws, &b, 1);
        if (r >= 0) {
            s += r;
            n -= (size_t)r;
        } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
            conn_end(c, sw__posix_uverr(r), false);
            return SW_ECLOSED;
        }
        if (!n)
            return 0;
    }
    if (n > c->p->opts.write_max - sw__posix_conn_queued(ctx, conn) ||
        wbuf_add(&c->pend, s, n)) {
        // The peer does not read and the node went on writing: give up on the link.
        conn_end(c, SW_EFULL, false);
        return SW_ECLOSED;
    }
    c->queued = true;
    if (!c->writing && !c->in_read)
        flush_pend(c);
    return c->shut ? SW_ECLOSED : 0;
}

// After a read: the gathered replies, straight to the kernel if it takes them all.
static void flush_out(sw_pconn_t *c)
{
    uv_buf_t b = uv_buf_init((char *)c->pend.p, (unsigned)c->pend.len);
    int r = uv_try_write(c->ws, &b, 1);
    if (r < 0 && r != UV_EAGAIN && r != UV_ENOSYS) {
        conn_end(c, sw__posix_uverr(r), false);
        return;
    }
    if (r > 0) {
        memmove(c->pend.p, c->pend.p + r, c->pend.len - (size_t)r);
        c->pend.len -= (size_t)r;
    }
    if (c->pend.len) {
        c->queued = true;
        flush_pend(c);
    } else if (c->closing) {
        conn_shut(c); // closed while reading, and the last replies are out: done
    } else {
        wbuf_trim(&c->pend);
        if (c->queued) {
            c->queued = false;
            if (c->known && c->p->node)
                sw_node_drained(c->p->node, &c->pub);
        }
    }
}

size_t sw__posix_conn_queued(void *ctx, sw_conn_t *conn)
{
    sw_pconn_t *c = C(conn);
    (void)ctx;
    if (c->shut)
        return 0;
    return (c->writing ? uv_stream_get_write_queue_size(c->ws) : 0) + c->pend.len;
}

size_t sw__posix_conn_room(void *ctx, sw_conn_t *conn)
{
    sw_pconn_t *c = C(conn);
    if (c->closing)
        return 0;
    size_t q = sw__posix_conn_queued(ctx, conn), high = c->p->opts.write_high;
    return q < high ? high - q : 0;
}

void sw__posix_conn_pause(void *ctx, sw_conn_t *conn, bool paused)
{
    sw_pconn_t *c = C(conn);
    (void)ctx;
    c->paused = paused;
    if (paused)
        read_off(c);
    else
        read_on(c);
}

void sw__posix_conn_close(void *ctx, sw_conn_t *conn)
{
    (void)ctx;
    conn_end(C(conn), 0, true);
}

size_t sw__posix_conn_peer(void *ctx, sw_conn_t *conn, char *buf, size_t cap)
{
    (void)ctx;
    if (!cap)
        return 0;
    int n = snprintf(buf, cap, "%s", C(conn)->peer);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t sw__posix_conn_local(void *ctx, sw_conn_t *conn, char *buf, size_t cap)
{
    (void)ctx;
    sw_pconn_t *c = C(conn);
    if (!cap)
        return 0;
    buf[0] = 0;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (conn->kind != SW_CONN_TCP || uv_tcp_getsockname(&c->io.tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, buf, cap);
    else
        uv_ip6_name((struct sockaddr_in6 *)&ss, buf, cap);
    return strlen(buf);
}

uint16_t sw__posix_listener_port(void *ctx, sw_listener_t *lis)
{
    (void)ctx;
    sw_plistener_t *l = (sw_plistener_t *)lis;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Stream fds: serial ttys (configured by serial_posix.c) and stdio

// Makes fd (which the handle then owns) a libuv stream in h. A terminal goes through uv_tty_init,
// which reopens it: a separate open file description, so the O_NONBLOCK it needs does not
// reach the shell sharing the terminal. Anything else is a pipe-like stream.
static int open_stream(sw_pconn_t *c, uv_handle_t *h, int fd)
{
    int r;
    if (c->pub.kind == SW_CONN_STDIO && uv_guess_handle(fd) == UV_TTY) {
        r = uv_tty_init(&c->p->loop, (uv_tty_t *)h, fd, 0);
        if (r < 0)
            return r; // not initialised: nothing to close
    } else {
        uv_pipe_init(&c->p->loop, (uv_pipe_t *)h, 0);
        r = uv_pipe_open((uv_pipe_t *)h, fd);
    }
    h->data = c;
    c->handles++;
    return r;
}

int sw__posix_conn_fd(sw_posix_t *p, int fd, uint8_t kind, const char *peer, sw_conn_t **out)
{
    *out = NULL;
    if (p->shutdown) {
        close(fd);
        return SW_ECLOSED;
    }
    sw_pconn_t *c = conn_new(p, kind, peer);
    if (!c) {
        close(fd);
        return SW_EFULL;
    }
    int r = open_stream(c, (uv_handle_t *)&c->io, fd);
    if (r < 0) {
        close(fd);
        conn_shut(c);
        return sw__posix_uverr(r);
    }
    c->rs = c->ws = (uv_stream_t *)&c->io;
    c->known = true;
    read_on(c);
    *out = &c->pub;
    return 0;
}

// A stdio side is a stream libuv can poll (pipe, tty, socket) or a file read/written directly.
static bool pollable(int fd)
{
    uv_handle_type t = uv_guess_handle(fd);
    return t == UV_NAMED_PIPE || t == UV_TTY || t == UV_TCP;
}

int sw__posix_stdio_open(void *ctx, sw_conn_t **out)
{
    sw_posix_t *p = P(ctx);
    *out = NULL;
    if (p->shutdown)
        return SW_ECLOSED;
    if (p->stdio_used)
        return SW_EBUSY;
    // Duplicates, so closing the link leaves fds 0 and 1 open (for a re-exec after reset).
    int rfd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (rfd < 0)
        return sw__posix_errno(errno);
    int wfd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (wfd < 0) {
        int err = sw__posix_errno(errno);
        close(rfd);
        return err;
    }
    sw_pconn_t *c = conn_new(p, SW_CONN_STDIO, "stdio");
    if (!c) {
        close(rfd);
        close(wfd);
        return SW_EFULL;
    }
    c->stdio_fl[0] = fcntl(0, F_GETFL);
    c->stdio_fl[1] = fcntl(1, F_GETFL);
    p->stdio_used = true;
    int r = 0;
    if (pollable(rfd)) {
        r = open_stream(c, (uv_handle_t *)&c->io, rfd);
        if (r < 0)
            close(rfd);
        else
            c->rs = (uv_stream_t *)&c->io;
    } else {
        c->rfd = rfd;
        uv_idle_init(&p->loop, &c->pump);
        c->pump.data = c;
        c->handles++;
    }
    if (r >= 0 && pollable(wfd)) {
        r = open_stream(c, (uv_handle_t *)&c->out, wfd);
        if (r < 0)
            close(wfd);
        else
            c->ws = (uv_stream_t *)&c->out;
    } else if (r >= 0) {
        c->wfd = wfd;
    } else {
        close(wfd);
    }
    if (r < 0) {
        conn_shut(c);
        return sw__posix_uverr(r);
    }
    c->known = true;
    read_on(c);
    *out = &c->pub;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// TCP

static void on_listener_closed(uv_handle_t *h)
{
    sw_plistener_t *l = h->data;
    if (--l->handles > 0 || l->known)
        return; // the node may still name it; freed by sw_posix_close()
    sw_plistener_t **pp = &l->p->listeners;
    while (*pp != l)
        pp = &(*pp)->next;
    *pp = l->next;
    free(l);
}

static void listener_shut(sw_plistener_t *l)
{
    if (l->closed)
        return;
    l->closed = true;
    // closing the TCP handle also closes a connection libuv accepted but we did not take yet
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    uv_close((uv_handle_t *)&l->defer, on_listener_closed);
}

static void peer_name(uv_tcp_t *t, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
            snprintf(buf, cap, "[%s]:%d", ip, port);
            return;
        }
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
    }
    snprintf(buf, cap, "%s:%d", ip, port);
}

// Takes the connection libuv holds for the listener and hands it to the node.
static void on_defer(uv_check_t *h)
{
    sw_plistener_t *l = h->data;
    sw_posix_t *p = l->p;
    uv_check_stop(&l->defer);
    if (l->closed)
        return;
    sw_pconn_t *c = conn_new(p, SW_CONN_TCP, "");
    if (!c) {
        // Nothing to accept into: try again on the next turn rather than stall the listener.
        sw__posix_say("accept: out of memory");
        uv_check_start(&l->defer, on_defer);
        return;
    }
    uv_tcp_init(&p->loop, &c->io.tcp);
    c->io.tcp.data = c;
    c->handles++;
    c->rs = c->ws = (uv_stream_t *)&c->io.tcp;
    int r = uv_accept((uv_stream_t *)&l->tcp, c->rs); // also resumes watching the listener
    if (r < 0 || p->shutdown || p->nconns > p->opts.max_conns) {
        // Refused (the node never hears of it): accepting and closing keeps the backlog moving.
        if (r == 0)
            sw__posix_say("refusing a connection: %s", p->shutdown ? "stopping" : "too many");
        conn_shut(c);
        return;
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    // TCP urgent data stays in the byte stream: Telnet's Synch and FTP clients that send ABOR
    // as urgent data (Python's ftplib) would otherwise lose a byte of their command.
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)&c->io.tcp, &fd) == 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
    // TCP keepalive: a peer that vanished (power cut, cable pulled) leaves a half-open
    // connection holding a client slot for ever; probes find it within about two minutes
    // (idle 60 s, then 6 probes 10 s apart).
    if (uv_tcp_keepalive(&c->io.tcp, 1, 60) == 0 && uv_fileno((uv_handle_t *)&c->io.tcp, &fd) == 0) {
        int intvl = 10, cnt = 6;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    }
    peer_name(&c->io.tcp, c->peer, sizeof c->peer);
    c->known = true;
    if (p->node)
        sw_node_accept(p->node, &l->pub, &c->pub);
    read_on(c);
}

// libuv has accepted a connection. Taking it at once would let libuv accept the next one in
// the same turn, and a client connecting in a tight loop would starve every other event (an
// earlier client's close, its requests). Not taking it makes libuv stop watching the
// listener; the check handle takes it after this turn's I/O: one accept per loop turn.
static void on_connection(uv_stream_t *server, int status)
{
    sw_plistener_t *l = server->data;
    if (status < 0) {
        sw__posix_say("accept: %s", uv_strerror(status));
        return;
    }
    uv_check_start(&l->defer, on_defer);
}

int sw__posix_tcp_listen(void *ctx, const char *addr, uint16_t port, sw_listener_t **out)
{
    sw_posix_t *p = P(ctx);
    *out = NULL;
    if (p->shutdown)
        return SW_ECLOSED;
    if (!addr || !*addr)
        addr = "0.0.0.0";
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } a;
    memset(&a, 0, sizeof a);
    if (uv_ip4_addr(addr, port, &a.in4) != 0 && uv_ip6_addr(addr, port, &a.in6) != 0)
        return SW_EINVAL;
    int g = sw__posix_net_guard("listen on", &a.sa);
    if (g)
        return g;
    sw_plistener_t *l = calloc(1, sizeof *l);
    if (!l)
        return SW_EFULL;
    l->p = p;
    l->next = p->listeners;
    p->listeners = l;
    int r = uv_tcp_init_ex(&p->loop, &l->tcp, a.sa.sa_family);
    if (r < 0) {
        p->listeners = l->next;
        free(l);
        return sw__posix_uverr(r);
    }
    l->tcp.data = l;
    uv_check_init(&p->loop, &l->defer);
    l->defer.data = l;
    l->handles = 2;
    // libuv sets SO_REUSEADDR on bind, so a restarted node gets its port back at once.
    r = uv_tcp_bind(&l->tcp, &a.sa, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->tcp, 128, on_connection);
    if (r < 0) {
        listener_shut(l);
        return sw__posix_uverr(r);
    }
    l->known = true;
    *out = &l->pub;
    return 0;
}

void sw__posix_listener_close(void *ctx, sw_listener_t *lis)
{
    (void)ctx;
    if (lis)
        listener_shut((sw_plistener_t *)lis);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The end of a run

void sw__posix_links_shutdown(sw_posix_t *p, bool force)
{
    for (sw_plistener_t *l = p->listeners; l; l = l->next)
        listener_shut(l);
    for (sw_pconn_t *c = p->conns; c; c = c->next)
        conn_end(c, SW_ECLOSED, !force);
}

void sw__posix_links_free(sw_posix_t *p)
{
    while (p->listeners) {
        sw_plistener_t *l = p->listeners;
        p->listeners = l->next;
        free(l);
    }
}
