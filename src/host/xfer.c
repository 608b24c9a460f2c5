// swarm transfer engine (xfer.h): one file to or from a device with a window of f.wr / f.rd
// requests in flight, SHA-256 of the bytes moved, and f.hash at the end to compare.
//
// get keeps one buffer per window slot: chunk k lives in slot k % window until everything
// before it has been written, so the local fd is written strictly in order (pipes work) even
// if answers were to arrive out of order. put needs no buffers: the data is read, hashed and
// copied into the request at once, so only the count of unanswered writes matters.
//
// On a lossy serial link the chunk adapts to the bit-error rate (xchunk.h): every round of
// answers the engine counts the frames that had to go again (put) or arrived damaged (get).
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swarm/sha256.h"
#include "xchunk.h"
#include "xfer.h"
#include "zpack.h"

enum { ST_INFO, ST_STAT, ST_OPEN, ST_DATA, ST_CL, ST_HASH };

static void adapt_start(struct sw_xfer *x);

static const char *const step_names[] = {"info", "stat", "open", "", "cl", "hash"};

typedef struct slot {
    int64_t seq;    // request out (> 0), or 0
    uint64_t off;
    uint32_t len;   // put: bytes sent; get: bytes received
    uint32_t want;  // get: bytes asked for (fewer back = end of file)
    bool ready;     // get: data received, waiting for its turn to be written
} slot_t;

struct sw_xfer {
    sw_hlink_t *l;
    uv_timer_t timer;    // answer timeout
    bool put;
    bool finished;
    int fd;
    char *remote;
    sw_xfer_opts_t o;
    sw_xfer_cbs_t cbs;
    int state;
    int64_t ctl_seq;     // the control request out (info, stat, open, cl, hash), or 0
    bool cl_sent;        // close_early: f.cl went behind the last f.wr
    bool cl_done;        // and its answer came before those of the writes (a reordering link)
    int64_t handle;      // the device's file handle, or 0
    uint32_t chunk, window;
    uint32_t chunk_max;  // the largest chunk (get: the stride of bufs)
    // adaptive chunk: on when the link reports frame statistics and no chunk was asked for
    bool adapt;
    uint32_t round;      // data answers since the last estimate
    bool estimated;      // a round has ended
    sw_xchunk_t est;     // its estimate (x->chunk follows est.chunk)
    sw_hlink_stats_t base; // the link's counters at the last estimate
    uint64_t total;
    uint64_t next_off;   // offset of the next chunk to request
    uint64_t next_k;     // index of the next chunk to request (get)
    uint64_t flush_k;    // index of the next chunk to write to fd (get)
    uint64_t limit;      // get: request chunks starting at most here (grows with full reads)
    uint64_t done;       // bytes moved
    bool eof;            // put: local end of file; get: a short read was seen
    uint32_t inflight;
    slot_t slots[SW_XFER_WINDOW_MAX];
    uint8_t *req;        // request being built
    size_t req_cap;
    uint8_t *bufs;       // get: window × chunk
    sw_sha256_t sha;
    // compressed put: the zlib stream (f.wr data and offsets are the stream's), the plain size
    uint8_t *zbuf;
    bool zborrowed;      // zbuf is the caller's (opts.zdata)
    size_t zlen;
    uint64_t zplain;
    uint64_t start_ms;
    sw_xfer_result_t res;
};

///////////////////////////////////////////////////////////////////////////////////////////////
// Helpers

void sw_xfer_hex(const uint8_t d[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = 0;
}

int sw_xfer_sha256_fd(int fd, uint8_t out[32])
{
    enum { BUF = 1 << 16 };
    uint8_t *buf = malloc(BUF);
    if (!buf) {
        errno = ENOMEM;
        return SW_EIO;
    }
    sw_sha256_t sha;
    int rc = sw_sha256_begin(&sha);
    while (!rc) {
        ssize_t n = read(fd, buf, BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = SW_EIO;
            break;
        }
        if (n == 0)
            break;
        if (sw_sha256_update(&sha, buf, (size_t)n)) {
            errno = EIO;
            rc = SW_EIO;
        }
    }
    if (!rc && sw_sha256_end(&sha, out)) {
        errno = EIO;
        rc = SW_EIO;
    }
    int saved = errno;
    free(buf);
    errno = saved;
    return rc;
}

uint32_t sw_xfer_chunk_max(const sw_hlink_t *l, uint32_t dev_max_msg)
{
    size_t m = sw_hlink_max_msg(l);
    if (dev_max_msg && dev_max_msg < m)
        m = dev_max_msg;
    if (m <= SW_XFER_MSG_OVERHEAD)
        return 0;
    m -= SW_XFER_MSG_OVERHEAD;
    return m > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)m;
}

static void on_closed(uv_handle_t *h)
{
    sw_xfer_t *x = h->data;
    free(x->bufs);
    if (!x->zborrowed)
        free(x->zbuf);
    free(x->req);
    free(x->remote);
    free(x);
}

static void ignore_answer(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)u, (void)l, (void)m, (void)err;
}

static int64_t send_cl(sw_xfer_t *x, sw_hlink_answer_fn fn);

// Ends the transfer: answers still due are dropped, the owner hears the result, the struct
// goes once its timer is closed.
static void finish(sw_xfer_t *x, int err, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finish(sw_xfer_t *x, int err, const char *step, const char *fmt, ...)
{
    if (x->finished)
        return;
    x->finished = true;
    uv_timer_stop(&x->timer);
    if (x->put)
        sw_hlink_on_room(x->l, NULL, x);
    // Cancelling other calls from inside an answer is safe: the link unlinks a call before
    // its fn runs, and a cancelled call is never answered.
    for (uint32_t i = 0; i < x->window; i++)
        if (x->slots[i].seq > 0)
            sw_hlink_cancel(x->l, x->slots[i].seq);
    if (x->ctl_seq > 0)
        sw_hlink_cancel(x->l, x->ctl_seq);
    // A failed get closes its read handle; a put must not (f.cl would commit a partial file):
    // its temp file goes with the link or an f.reset.
    if (err && !x->put && x->handle > 0 && sw_hlink_is_up(x->l))
        (void)send_cl(x, ignore_answer);
    sw_xfer_result_t *r = &x->res;
    r->err = err;
    r->step = step ? step : "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->text, sizeof r->text, fmt, ap);
        va_end(ap);
    }
    r->bytes = x->done;
    r->wire = x->done;
    if (x->zbuf) { // acknowledged stream bytes → plain bytes (all of them once the stream is in)
        r->compressed = true;
        r->bytes = x->done >= x->zlen ? x->zplain : x->done * x->zplain / x->zlen;
    }
    r->total = x->total;
    r->chunk = x->chunk;
    r->window = x->window;
    r->dev_max_msg = x->o.dev_max_msg;
    r->elapsed_ms = uv_now(x->timer.loop) - x->start_ms;
    if (x->cbs.done)
        x->cbs.done(x->cbs.u, r);
    uv_close((uv_handle_t *)&x->timer, on_closed);
}

static const char *step_of(const sw_xfer_t *x)
{
    if (x->state == ST_DATA)
        return x->put ? "wr" : "rd";
    return step_names[x->state];
}

// The answer of a failed call as the transfer's end.
static void fail_answer(sw_xfer_t *x, const sw_msg_t *m, int err)
{
    const char *step = step_of(x);
    if (m && m->kind == SW_MSG_ERROR) {
        sw_mpr_t r;
        sw_mpr_init(&r, m->e.p, m->e.n);
        sw_span_t s;
        if (sw_mpr_str(&r, &s))
            finish(x, SW_EREMOTE, step, "%.*s", (int)(s.n > 500 ? 500 : s.n), (const char *)s.p);
        else
            finish(x, SW_EREMOTE, step, "(an error that is not a string)");
    } else if (m) {
        finish(x, SW_EPROTO, step, "unexpected answer to f.%s", step);
    } else if (err == SW_ECLOSED) {
        finish(x, err, step, "%s", sw_hlink_error(x->l));
    } else {
        finish(x, err, step, "%s", sw_strerror(err));
    }
}

static void on_timeout(uv_timer_t *t)
{
    sw_xfer_t *x = t->data;
    if (x->inflight || x->ctl_seq)
        finish(x, SW_ETIMEDOUT, step_of(x), "no answer from the device within %.1f s",
               x->o.timeout_ms / 1000.0);
}

// Restarts the answer timeout (something was sent or answered).
static void touch(sw_xfer_t *x)
{
    if (x->o.timeout_ms && !x->finished)
        uv_timer_start(&x->timer, on_timeout, x->o.timeout_ms, 0);
}

static void progress(sw_xfer_t *x)
{
    if (!x->cbs.progress)
        return;
    uint64_t d = x->done;
    if (x->zbuf) // in plain bytes, like the total
        d = x->done >= x->zlen ? x->zplain : x->done * x->zplain / x->zlen;
    x->cbs.progress(x->cbs.u, d, x->total);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Control requests: one at a time

static void on_ctl(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

static int ctl_call(sw_xfer_t *x, const char *cmd, const sw_mpw_t *w, sw_hlink_answer_fn fn)
{
    if (w->err)
        return SW_ETOOBIG;
    int64_t seq = sw_hlink_call(x->l, cmd, (sw_span_t){w->buf, w->len}, 0, fn, x);
    if (seq < 0)
        return (int)seq;
    if (fn == on_ctl) {
        x->ctl_seq = seq;
        touch(x);
    }
    return 0;
}

static int send_path(sw_xfer_t *x, const char *cmd, const char *mode)
{
    sw_mpw_t w;
    sw_mpw_init(&w, x->req, x->req_cap);
    sw_mpw_map(&w, mode ? 2 : 1);
    sw_mpw_cstr(&w, "p");
    sw_mpw_cstr(&w, x->remote);
    if (mode) {
        sw_mpw_cstr(&w, "m");
        sw_mpw_cstr(&w, mode);
    }
    return ctl_call(x, cmd, &w, on_ctl);
}

static int64_t send_cl(sw_xfer_t *x, sw_hlink_answer_fn fn)
{
    sw_mpw_t w;
    sw_mpw_init(&w, x->req, x->req_cap);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "fd");
    sw_mpw_int(&w, x->handle);
    return ctl_call(x, "f.cl", &w, fn);
}

static void pump(sw_xfer_t *x);
static void on_room(void *u, sw_hlink_t *l);

// Enters a state and sends its request; a request that cannot be sent ends the transfer.
static void enter(sw_xfer_t *x, int state)
{
    x->state = state;
    int rc = 0;
    switch (state) {
    case ST_INFO: {
        sw_mpw_t w;
        sw_mpw_init(&w, x->req, x->req_cap);
        sw_mpw_map(&w, 0);
        rc = ctl_call(x, "sys.info", &w, on_ctl);
        break;
    }
    case ST_STAT: rc = send_path(x, "f.stat", NULL); break;
    case ST_OPEN:
        if (x->zbuf) {
            sw_mpw_t w;
            sw_mpw_init(&w, x->req, x->req_cap);
            sw_mpw_map(&w, 3);
            sw_mpw_cstr(&w, "p");
            sw_mpw_cstr(&w, x->remote);
            sw_mpw_cstr(&w, "m");
            sw_mpw_cstr(&w, "Wz");
            sw_mpw_cstr(&w, "s");
            sw_mpw_uint(&w, x->zplain);
            rc = ctl_call(x, "f.open", &w, on_ctl);
        } else {
            rc = send_path(x, "f.open", x->put ? "W" : "r");
        }
        break;
    case ST_DATA:
        if (x->put)
            sw_hlink_on_room(x->l, on_room, x);
        pump(x);
        return;
    case ST_CL: rc = (int)send_cl(x, on_ctl); break;
    case ST_HASH: rc = send_path(x, "f.hash", NULL); break;
    default: break;
    }
    if (rc < 0)
        finish(x, rc, step_of(x), "cannot send f.%s: %s", step_of(x),
               rc == SW_ECLOSED || rc == SW_EAUTH ? sw_hlink_error(x->l) : sw_strerror(rc));
}

// A compressed put, once the device's inflate is known: the whole file is read (hashed as it
// is, plain), deflated, and kept when that pays (zpack.h); otherwise it is sent plain from
// where it was (a pipe or a file whose read failed cannot be compressed: those go plain).
static ssize_t read_full(int fd, uint8_t *p, size_t n);

static int zpack(sw_xfer_t *x)
{
    if (!x->put || !x->o.compress || !x->o.zbits || !x->o.zratio)
        return 0;
    if (x->o.zdata && x->o.no_verify) { // made once by the caller; nothing to hash
        x->zbuf = (uint8_t *)(uintptr_t)x->o.zdata;
        x->zborrowed = true;
        x->zlen = x->o.zlen;
        x->zplain = x->total;
        return 0;
    }
    off_t at = lseek(x->fd, 0, SEEK_CUR);
    off_t end = at < 0 ? -1 : lseek(x->fd, 0, SEEK_END);
    if (at < 0 || end < at || end - at > (64 << 20) || lseek(x->fd, at, SEEK_SET) != at)
        return 0; // a pipe, or too big to hold: plain
    size_t n = (size_t)(end - at);
    uint8_t *plain = malloc(n ? n : 1);
    if (!plain) {
        finish(x, SW_EFULL, "read", "out of memory");
        return SW_EFULL;
    }
    ssize_t got = read_full(x->fd, plain, n);
    if (got != (ssize_t)n) {
        free(plain);
        if (got < 0 || lseek(x->fd, at, SEEK_SET) != at) {
            x->res.sys_errno = errno;
            finish(x, SW_EIO, "read", "%s", strerror(errno));
            return SW_EIO;
        }
        return 0; // the file changed size under us: plain, from the start again
    }
    uint8_t *c;
    size_t cn;
    int rc = sw_zpack(plain, n, x->o.zbits, x->o.zratio, &c, &cn);
    // that took a while for a large file: the answer timeout counts from now, not from
    // before it (the loop's clock is only updated between its iterations)
    uv_update_time(x->timer.loop);
    if (rc == 0) {
        if (!x->o.sha256 && sw_sha256_update(&x->sha, plain, n)) {
            free(plain);
            free(c);
            finish(x, SW_EIO, "read", "SHA-256 failed");
            return SW_EIO;
        }
        x->zbuf = c;
        x->zlen = cn;
        x->zplain = n;
        x->total = n;
    } else if (lseek(x->fd, at, SEEK_SET) != at) {
        free(plain);
        x->res.sys_errno = errno;
        finish(x, SW_EIO, "read", "%s", strerror(errno));
        return SW_EIO;
    }
    free(plain);
    return 0;
}

// Chunk size and buffers, once the device's limit is known.
static int setup(sw_xfer_t *x)
{
    uint32_t max = sw_xfer_chunk_max(x->l, x->o.dev_max_msg);
    if (!max) {
        finish(x, SW_ETOOBIG, "info", "the link carries messages of %zu bytes, the device %u: "
               "no room for file data", sw_hlink_max_msg(x->l), x->o.dev_max_msg);
        return SW_ETOOBIG;
    }
    x->chunk = x->o.chunk && x->o.chunk < max ? x->o.chunk : max;
    x->chunk_max = x->chunk;
    x->adapt = !x->o.chunk && sw_hlink_stats(x->l, &x->base) && max > SW_XCHUNK_MIN;
    if (x->adapt)
        adapt_start(x);
    size_t need = (size_t)x->chunk_max + 2 * SW_XFER_MSG_OVERHEAD + strlen(x->remote);
    if (need > x->req_cap) {
        uint8_t *p = realloc(x->req, need);
        if (!p) {
            finish(x, SW_EFULL, "info", "out of memory");
            return SW_EFULL;
        }
        x->req = p;
        x->req_cap = need;
    }
    if (!x->put) {
        x->bufs = malloc((size_t)x->window * x->chunk_max);
        if (!x->bufs) {
            finish(x, SW_EFULL, "info", "out of memory");
            return SW_EFULL;
        }
    }
    return 0;
}

// f.cl answered: the file is committed.
static void closed(sw_xfer_t *x)
{
    x->handle = 0;
    if (x->o.no_verify)
        finish(x, 0, NULL, NULL);
    else
        enter(x, ST_HASH);
}

static void on_ctl(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    sw_xfer_t *x = u;
    if (x->finished)
        return;
    x->ctl_seq = 0;
    if (!m || m->kind != SW_MSG_REPLY) {
        if (x->state == ST_DATA && x->cl_sent)
            x->state = ST_CL; // the early f.cl failed: say so, not "wr"
        fail_answer(x, m, err);
        return;
    }
    touch(x);
    if (x->state == ST_DATA && x->cl_sent) { // before the answers of writes: they decide
        x->cl_done = true;
        return;
    }
    sw_mpr_t r;
    sw_mpr_init(&r, m->d.p, m->d.n);
    switch (x->state) {
    case ST_INFO: {
        sw_span_t v;
        uint64_t max = 0;
        if (!sw_mp_map_get(m->d.p, m->d.n, "max_msg", &v)) {
            sw_mpr_init(&r, v.p, v.n);
            if (!sw_mpr_uint(&r, &max))
                max = 0;
        }
        // a device that does not say: the smallest limit of ours (lossy serial lines)
        x->o.dev_max_msg = max ? (max > UINT32_MAX ? UINT32_MAX : (uint32_t)max) : 1024;
        uint64_t zb = 0, zr = 0;
        if (!sw_mp_map_get(m->d.p, m->d.n, "z", &v)) {
            sw_mpr_init(&r, v.p, v.n);
            if (!sw_mpr_uint(&r, &zb) || zb > 15)
                zb = 0;
        }
        if (!sw_mp_map_get(m->d.p, m->d.n, "zr", &v)) {
            sw_mpr_init(&r, v.p, v.n);
            if (!sw_mpr_uint(&r, &zr) || zr > UINT32_MAX)
                zr = 0;
        }
        x->o.zbits = (uint8_t)zb;
        x->o.zratio = (uint32_t)zr;
        x->res.zbits = x->o.zbits;
        x->res.zratio = x->o.zratio;
        if (zpack(x) == 0 && setup(x) == 0)
            enter(x, x->put ? ST_OPEN : ST_STAT);
        break;
    }
    case ST_STAT: {
        sw_span_t v;
        if (!sw_mp_map_get(m->d.p, m->d.n, "m", &v) && v.n == 2 && v.p[1] == 'd') {
            finish(x, SW_EISDIR, "stat", "is a directory on the device: %s", x->remote);
            break;
        }
        if (!sw_mp_map_get(m->d.p, m->d.n, "s", &v)) {
            sw_mpr_init(&r, v.p, v.n);
            if (!sw_mpr_uint(&r, &x->total))
                x->total = 0;
        }
        x->limit = x->total;
        progress(x);
        enter(x, ST_OPEN);
        break;
    }
    case ST_OPEN:
        if (!sw_mpr_int(&r, &x->handle) || x->handle <= 0) {
            x->handle = 0;
            finish(x, SW_EPROTO, "open", "f.open answered something that is not a handle");
            break;
        }
        enter(x, ST_DATA);
        break;
    case ST_CL:
        closed(x);
        break;
    case ST_HASH: {
        sw_span_t b;
        if (!sw_mpr_bin(&r, &b) || b.n != 32) {
            finish(x, SW_EPROTO, "hash", "f.hash answered something that is not a SHA-256");
            break;
        }
        if (memcmp(b.p, x->res.sha256, 32)) {
            char dev[65], ours[65];
            sw_xfer_hex(b.p, dev);
            sw_xfer_hex(x->res.sha256, ours);
            finish(x, SW_ECRC, "hash", "SHA-256 mismatch: the device's %s is %s, the bytes %s "
                   "hash to %s", x->remote, dev, x->put ? "sent" : "received", ours);
            break;
        }
        x->res.verified = true;
        finish(x, 0, NULL, NULL);
        break;
    }
    default:
        break;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Adaptive chunk

// The first chunk, from the frames the link has carried so far (the handshake, the requests
// before the data: small ones).
static void adapt_start(sw_xfer_t *x)
{
    const sw_hlink_stats_t *b = &x->base;
    double bad = (double)b->rel.retransmits + b->rel.idle_resends + b->frames.err_crc +
                 b->frames.err_len + b->frames.err_idle;
    double frames = (double)b->rel.sent + b->frames.frames + bad;
    sw__xchunk_start(&x->est, x->chunk_max, frames, bad);
    x->chunk = x->est.chunk;
}

// After a round of answers: how many data frames went out (or came in) since the last round,
// and how many of them were damaged. put: the frames are ours, a retransmit is one that did
// not arrive; get: they are the device's, the ones dropped for a bad CRC or length did not.
static void adapt(sw_xfer_t *x)
{
    x->round = 0;
    x->estimated = true;
    sw_hlink_stats_t st;
    if (!sw_hlink_stats(x->l, &st))
        return;
    const sw_hlink_stats_t *b = &x->base;
    if (st.rel.sent < b->rel.sent || st.frames.frames < b->frames.frames) {
        x->base = st; // the link reconnected: its counters started again
        return;
    }
    double frames, bad;
    if (x->put) {
        // (a resend on an idle line is mostly one of a lost frame, too)
        bad = (st.rel.retransmits - b->rel.retransmits) + (st.rel.idle_resends - b->rel.idle_resends);
        frames = (double)(st.rel.sent - b->rel.sent) + bad;
    } else {
        const sw_sp_stats_t *f = &st.frames, *g = &b->frames;
        bad = (f->err_crc - g->err_crc) + (f->err_len - g->err_len) + (f->err_idle - g->err_idle);
        frames = (double)(f->frames - g->frames) + bad;
    }
    x->base = st;
    sw__xchunk_round(&x->est, frames, bad);
    x->chunk = x->est.chunk;
}

// A put, before it cuts a request: the round ends early once enough of its frames were
// damaged (SW_XCHUNK_EARLY).
static void adapt_early(sw_xfer_t *x)
{
    sw_hlink_stats_t st;
    if (!x->adapt || !x->inflight || !sw_hlink_stats(x->l, &st))
        return;
    const sw_hlink_stats_t *b = &x->base;
    if (st.rel.sent < b->rel.sent)
        return; // the link reconnected (adapt() starts again)
    if ((st.rel.retransmits - b->rel.retransmits) + (st.rel.idle_resends - b->rel.idle_resends) >= SW_XCHUNK_EARLY)
        adapt(x);
}

// One data answer arrived: a round is a window of them.
static void count_answer(sw_xfer_t *x)
{
    if (x->adapt && ++x->round >= (x->estimated ? SW_XCHUNK_ROUND : SW_XCHUNK_FIRST))
        adapt(x);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Data: the window of f.wr / f.rd

static slot_t *slot_of(sw_xfer_t *x, int64_t seq)
{
    for (uint32_t i = 0; i < x->window; i++)
        if (x->slots[i].seq == seq)
            return &x->slots[i];
    return NULL;
}

// All requests answered and the data complete: close (commits a put), then hash.
static void data_end(sw_xfer_t *x)
{
    if (x->put)
        sw_hlink_on_room(x->l, NULL, x);
    if (x->put && x->o.sha256)
        memcpy(x->res.sha256, x->o.sha256, 32); // known: nothing was hashed
    else if (sw_sha256_end(&x->sha, x->res.sha256)) {
        finish(x, SW_EIO, x->put ? "read" : "write", "SHA-256 failed");
        return;
    }
    if (x->cl_sent) { // f.cl is out already: wait for its answer (or it came)
        x->state = ST_CL;
        if (x->cl_done)
            closed(x);
        return;
    }
    enter(x, ST_CL);
}

static void on_data(void *u, sw_hlink_t *l, const sw_msg_t *m, int err);

// Reads up to n bytes (fewer only at end of file). Returns the count, or -1 with errno.
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static bool write_full(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

// While the first chunks double toward the largest on a line with no damage seen, few
// requests of each size: on a clean line the small ones cost only their overhead (a window of
// them was 1.5 % of a 48 KiB put), and SW_XCHUNK_FIRST in flight keep the line busy. The first
// estimate that does not raise the chunk ends this for good.
static uint32_t put_window(const sw_xfer_t *x)
{
    return x->adapt && x->est.ramp && x->window > SW_XCHUNK_FIRST ? SW_XCHUNK_FIRST : x->window;
}

static void pump_put(sw_xfer_t *x)
{
    // (asked each time: a round may end before a request is cut)
    while (!x->eof && x->inflight < put_window(x)) {
        // a slow link (a serial line) drains more slowly than the window fills: keep the
        // bytes waiting in our queue to about two windows
        if (x->inflight && sw_hlink_queued(x->l) > 2 * (size_t)x->window * x->chunk)
            break;
        // a lossy serial link: a request is cut when Reliable took the one before it (on_room),
        // not when the window opens, so that it has the chunk of the moment it goes out (cut
        // at once, a window of requests waited up to a second at the chunk of an older round)
        if (x->inflight && sw_hlink_waiting(x->l))
            break;
        adapt_early(x);
        slot_t *s = slot_of(x, 0);
        sw_mpw_t w;
        sw_mpw_init(&w, x->req, x->req_cap);
        // the short names of the arguments (MoaT's; PROTOCOL.md "Files"): six bytes less per
        // chunk, which counts on a noisy serial line where the best chunk is small
        sw_mpw_map(&w, 3);
        sw_mpw_cstr(&w, "f");
        sw_mpw_int(&w, x->handle);
        sw_mpw_cstr(&w, "o");
        sw_mpw_uint(&w, x->next_off);
        sw_mpw_cstr(&w, "d");
        uint8_t *p = sw_mpw_blob_begin(&w, x->chunk);
        if (!p) {
            finish(x, SW_ETOOBIG, "wr", "request buffer too small");
            return;
        }
        ssize_t n;
        if (x->zbuf) { // the stream, already hashed (plain) and in memory
            size_t left = x->zlen - (size_t)x->next_off;
            n = (ssize_t)(left < x->chunk ? left : x->chunk);
            memcpy(p, x->zbuf + x->next_off, (size_t)n);
        } else if (x->o.data) { // the caller's bytes
            size_t left = x->o.len - (size_t)x->next_off;
            n = (ssize_t)(left < x->chunk ? left : x->chunk);
            memcpy(p, x->o.data + x->next_off, (size_t)n);
        } else {
            n = read_full(x->fd, p, x->chunk);
        }
        if (n < 0) {
            x->res.sys_errno = errno;
            finish(x, SW_EIO, "read", "%s", strerror(errno));
            return;
        }
        if (n == 0) {
            x->eof = true;
            break;
        }
        if (!x->zbuf && !x->o.sha256 && sw_sha256_update(&x->sha, p, (size_t)n)) {
            finish(x, SW_EIO, "read", "SHA-256 failed");
            return;
        }
        sw_mpw_blob_end(&w, SW_MP_BIN, (size_t)n);
        int64_t seq = sw_hlink_call(x->l, "f.wr", (sw_span_t){w.buf, w.len}, 0, on_data, x);
        if (seq < 0) {
            finish(x, (int)seq, "wr", "cannot send f.wr: %s",
                   seq == SW_ECLOSED || seq == SW_EAUTH ? sw_hlink_error(x->l) : sw_strerror((int)seq));
            return;
        }
        *s = (slot_t){seq, x->next_off, (uint32_t)n, 0, false};
        x->next_off += (uint64_t)n;
        x->inflight++;
        touch(x);
        if ((uint32_t)n < x->chunk || (x->zbuf && x->next_off >= x->zlen) ||
            (!x->zbuf && x->o.data && x->next_off >= x->o.len))
            x->eof = true;
    }
    if (x->eof && x->o.close_early && !x->cl_sent && x->handle > 0) {
        // with the last write: in the same packet when the link gathers a burst
        x->cl_sent = true;
        int rc = (int)send_cl(x, on_ctl);
        if (rc < 0) {
            finish(x, rc, "cl", "cannot send f.cl: %s",
                   rc == SW_ECLOSED || rc == SW_EAUTH ? sw_hlink_error(x->l) : sw_strerror(rc));
            return;
        }
    }
    if (x->eof && x->inflight == 0)
        data_end(x);
}

// Writes the chunks that are complete and next in file order.
static bool flush_get(sw_xfer_t *x)
{
    while (x->flush_k < x->next_k) {
        uint32_t i = (uint32_t)(x->flush_k % x->window);
        slot_t *s = &x->slots[i];
        if (!s->ready)
            break;
        if (!x->eof) { // after a short read nothing more belongs to the file
            const uint8_t *p = x->bufs + (size_t)i * x->chunk_max;
            if (!write_full(x->fd, p, s->len)) {
                x->res.sys_errno = errno;
                finish(x, SW_EIO, "write", "%s", strerror(errno));
                return false;
            }
            if (sw_sha256_update(&x->sha, p, s->len)) {
                finish(x, SW_EIO, "write", "SHA-256 failed");
                return false;
            }
            x->done += s->len;
            if (s->len < s->want)
                x->eof = true;
        }
        s->ready = false;
        s->len = 0;
        x->flush_k++;
    }
    progress(x);
    return true;
}

static void pump_get(sw_xfer_t *x)
{
    while (!x->eof && x->inflight < x->window && x->next_k - x->flush_k < x->window &&
           x->next_off <= x->limit) {
        sw_mpw_t w;
        sw_mpw_init(&w, x->req, x->req_cap);
        sw_mpw_map(&w, 3);
        sw_mpw_cstr(&w, "fd");
        sw_mpw_int(&w, x->handle);
        sw_mpw_cstr(&w, "off");
        sw_mpw_uint(&w, x->next_off);
        sw_mpw_cstr(&w, "n");
        sw_mpw_uint(&w, x->chunk);
        int64_t seq = sw_hlink_call(x->l, "f.rd", (sw_span_t){w.buf, w.len}, 0, on_data, x);
        if (seq < 0) {
            finish(x, (int)seq, "rd", "cannot send f.rd: %s",
                   seq == SW_ECLOSED || seq == SW_EAUTH ? sw_hlink_error(x->l) : sw_strerror((int)seq));
            return;
        }
        x->slots[x->next_k % x->window] = (slot_t){seq, x->next_off, 0, x->chunk, false};
        x->next_k++;
        x->next_off += x->chunk;
        x->inflight++;
        touch(x);
    }
    if (x->inflight == 0) {
        if (x->eof)
            data_end(x);
        else // cannot happen: the last chunk asked for was full, which raised the limit
            finish(x, SW_EPROTO, "rd", "transfer stalled at offset %llu",
                   (unsigned long long)x->next_off);
    }
}

static void pump(sw_xfer_t *x)
{
    if (x->put)
        pump_put(x);
    else
        pump_get(x);
}

// The link's Reliable layer took the last request that waited: the next can be cut.
static void on_room(void *u, sw_hlink_t *l)
{
    (void)l;
    sw_xfer_t *x = u;
    if (!x->finished && x->state == ST_DATA)
        pump(x);
}

static void on_data(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    sw_xfer_t *x = u;
    if (x->finished)
        return;
    slot_t *s = m ? slot_of(x, m->i) : NULL;
    if (m && !s)
        return; // not ours (cannot happen: the link routes by seq)
    if (s) {
        s->seq = 0;
        x->inflight--;
    }
    if (!m || m->kind != SW_MSG_REPLY) {
        fail_answer(x, m, err);
        return;
    }
    touch(x);
    sw_mpr_t r;
    sw_mpr_init(&r, m->d.p, m->d.n);
    count_answer(x);
    if (x->put) {
        uint64_t n;
        if (!sw_mpr_uint(&r, &n) || n != s->len) {
            finish(x, SW_EPROTO, "wr", "f.wr at offset %llu: the device did not confirm the "
                   "%u bytes", (unsigned long long)s->off, s->len);
            return;
        }
        x->done += n;
        progress(x);
    } else {
        sw_span_t b;
        if (!sw_mpr_bin(&r, &b) || b.n > s->want) {
            finish(x, SW_EPROTO, "rd", "f.rd at offset %llu: the answer is not the data asked "
                   "for", (unsigned long long)s->off);
            return;
        }
        uint32_t i = (uint32_t)(s - x->slots);
        if (b.n)
            memcpy(x->bufs + (size_t)i * x->chunk_max, b.p, b.n);
        s->len = (uint32_t)b.n;
        s->ready = true;
        if (b.n == s->want && s->off + s->want > x->limit)
            x->limit = s->off + s->want; // the file goes on (it grew, or its size was unknown)
        if (!flush_get(x))
            return;
    }
    pump(x);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Start / cancel

static int start(uv_loop_t *loop, sw_hlink_t *l, bool put, int fd, uint64_t size,
                 const char *remote, const sw_xfer_opts_t *o, const sw_xfer_cbs_t *cbs,
                 sw_xfer_t **out)
{
    *out = NULL;
    // a put from memory reads no fd: the caller's bytes, or its stream that needs no hashing
    bool mem = put && o && (o->data || (o->zdata && o->compress && o->no_verify));
    if (!loop || !l || (fd < 0 && !mem) || !remote || !*remote || !cbs || !cbs->done)
        return SW_EINVAL;
    if (!sw_hlink_is_up(l))
        return SW_ECLOSED;
    sw_xfer_t *x = calloc(1, sizeof *x);
    if (!x)
        return SW_EFULL;
    x->l = l;
    x->put = put;
    x->fd = fd;
    x->total = put ? size : 0;
    if (o)
        x->o = *o;
    if (put && x->o.data)
        x->total = x->o.len;
    x->cbs = *cbs;
    x->window = x->o.window ? x->o.window : SW_XFER_WINDOW_DEFAULT;
    // A lossy serial link: as many requests as the Reliable window numbers, twice what it lets
    // be in flight, so that the next frames wait in the link's queue (which takes them as the
    // line drains) while a reply is lost and sent again, and the line does not idle meanwhile.
    sw_hlink_stats_t st;
    if (!x->o.window && sw_hlink_stats(l, &st) && st.window > x->window)
        x->window = st.window;
    if (x->window > SW_XFER_WINDOW_MAX)
        x->window = SW_XFER_WINDOW_MAX;
    x->remote = strdup(remote);
    x->req_cap = strlen(remote) + 2 * SW_XFER_MSG_OVERHEAD;
    x->req = malloc(x->req_cap);
    if (!x->remote || !x->req || sw_sha256_begin(&x->sha)) {
        free(x->remote);
        free(x->req);
        free(x);
        return SW_EFULL;
    }
    // from here on the struct goes through its timer's close callback
    uv_timer_init(loop, &x->timer);
    x->timer.data = x;
    x->start_ms = uv_now(loop);
    *out = x;
    if (x->o.dev_max_msg == 0) {
        enter(x, ST_INFO);
    } else if (zpack(x) == 0 && setup(x) == 0) {
        enter(x, put ? ST_OPEN : ST_STAT);
    }
    return 0;
}

int sw_xfer_put(uv_loop_t *loop, sw_hlink_t *l, int fd, uint64_t size, const char *remote,
                const sw_xfer_opts_t *o, const sw_xfer_cbs_t *cbs, sw_xfer_t **out)
{
    return start(loop, l, true, fd, size, remote, o, cbs, out);
}

int sw_xfer_get(uv_loop_t *loop, sw_hlink_t *l, const char *remote, int fd,
                const sw_xfer_opts_t *o, const sw_xfer_cbs_t *cbs, sw_xfer_t **out)
{
    return start(loop, l, false, fd, 0, remote, o, cbs, out);
}

void sw_xfer_cancel(sw_xfer_t *x)
{
    if (x && !x->finished)
        finish(x, SW_ECANCELED, step_of(x), "cancelled");
}
