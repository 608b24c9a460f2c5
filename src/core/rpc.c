// RPC session: dispatches incoming requests into the command tree (with v0 error replies),
// serves streams on a schedule, and matches answers to the requests this side sent.
#include <stddef.h>
#include <string.h>

#include "text.h"
#include "swarm/rpc.h"

void sw_rpc_init(sw_rpc_t *rpc, const sw_rpc_mem_t *mem, const sw_rpc_hooks_t *hooks,
                 const sw_tree_t *tree, void *dispatch_ctx)
{
    memset(rpc, 0, sizeof *rpc);
    rpc->hooks = *hooks;
    rpc->tree = tree;
    rpc->dispatch_ctx = dispatch_ctx;
    rpc->gen = 1;
    rpc->out = mem->out;
    rpc->out_cap = mem->out ? mem->out_cap : 0;
    rpc->streams = mem->streams;
    rpc->max_streams = mem->streams ? mem->max_streams : 0;
    rpc->pending = mem->pending;
    rpc->max_pending = mem->pending ? mem->max_pending : 0;
    if (rpc->streams)
        memset(rpc->streams, 0, sizeof *rpc->streams * rpc->max_streams);
    if (rpc->pending)
        memset(rpc->pending, 0, sizeof *rpc->pending * rpc->max_pending);
    rpc->next_seq = 1;
}

// A writer over the unused part of the output buffer: after whatever an outer writer (a reply
// being built while its handler runs) already holds, so nested answers never clobber it.
static void out_writer(sw_rpc_t *rpc, sw_mpw_t *w)
{
    size_t used = rpc->cur ? (size_t)(rpc->cur->buf + rpc->cur->len - rpc->out) : 0;
    sw_mpw_init(w, rpc->out + used, rpc->out_cap - used);
}

static int send(sw_rpc_t *rpc, const sw_mpw_t *w)
{
    if (w->err)
        return w->err;
    return rpc->hooks.send(rpc->hooks.ctx, w->buf, w->len);
}

// Sends an answer (reply, stream value, end) to request seq. One the link refuses as larger
// than its peer accepts (SW_ETOOBIG: a MoaT host takes 127-byte frames) becomes an error reply,
// so the request never waits for an answer that cannot go.
static int send_answer(sw_rpc_t *rpc, const sw_mpw_t *w, int64_t seq)
{
    int rc = send(rpc, w);
    if (rc == SW_ETOOBIG && !w->err) // (SW_ETOOBIG stays the result: the answer did not go)
        sw_rpc_send_error(rpc, seq, "ETOOBIG: the reply is larger than the link's peer accepts");
    return rc;
}

int sw_rpc_send_error(sw_rpc_t *rpc, int64_t seq, const char *text)
{
    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_write_error(&w, seq, text);
    rpc->stats.errors++;
    return send(rpc, &w);
}

static int send_err_code(sw_rpc_t *rpc, int64_t seq, int err, const char *text)
{
    if (text)
        return sw_rpc_send_error(rpc, seq, text);
    char buf[80];
    size_t len = sw__text_add(buf, 0, sizeof buf, sw_errname(err), strlen(sw_errname(err)));
    len = sw__text_add(buf, len, sizeof buf, ": ", 2);
    sw__text_add(buf, len, sizeof buf, sw_strerror(err), strlen(sw_strerror(err)));
    return sw_rpc_send_error(rpc, seq, buf);
}

int sw_rpc_send_reply(sw_rpc_t *rpc, int64_t seq, sw_span_t d)
{
    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_reply_begin(&w);
    if (d.n)
        sw_mpw_raw(&w, d.p, d.n);
    else
        sw_mpw_nil(&w);
    sw_msg_reply_end(&w, seq);
    rpc->stats.replies++;
    return send_answer(rpc, &w, seq);
}

int sw_rpc_send_stream(sw_rpc_t *rpc, int64_t seq, sw_span_t d, int64_t n)
{
    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_stream_begin(&w, seq);
    if (d.n)
        sw_mpw_raw(&w, d.p, d.n);
    else
        sw_mpw_nil(&w);
    sw_msg_stream_end(&w, n);
    return send_answer(rpc, &w, seq);
}

int sw_rpc_send_end(sw_rpc_t *rpc, int64_t seq)
{
    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_write_end(&w, seq);
    return send(rpc, &w);
}

int sw_rpc_notify(sw_rpc_t *rpc, const char *dotted, sw_span_t d)
{
    // Notifications are small and may be sent from inside a handler (sys.is_up): they use
    // their own stack buffer rather than the output buffer the handler is writing into.
    uint8_t buf[SW_RPC_NOTIFY_MAX];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    if (d.n)
        sw_mpw_raw(&w, d.p, d.n);
    else
        sw_mpw_nil(&w);
    sw_mpw_cstr(&w, "a");
    sw_msg_write_action(&w, dotted);
    if (w.err)
        return w.err == SW_EFULL ? SW_ETOOBIG : w.err;
    return rpc->hooks.send(rpc->hooks.ctx, w.buf, w.len);
}

int sw_rpc_link(sw_rpc_t *rpc, bool up)
{
    uint8_t buf[16];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_msg_write_link(&w, up);
    return send(rpc, &w);
}

/////////////////////////////////////////////////////////////////////////////////////////////
// Server side

// Error text naming the action as the client sent it: "NoPath: sys.nosuch".
static void no_path(sw_rpc_t *rpc, const sw_msg_t *m)
{
    char buf[128];
    size_t len = sw__text_add(buf, 0, sizeof buf, "NoPath: ", 8);
    for (uint8_t k = 0; k < m->path_len; k++) {
        if (k)
            len = sw__text_add(buf, len, sizeof buf, ".", 1);
        len = sw__text_add_esc(buf, len, sizeof buf, (const char *)m->path[k].p, m->path[k].n);
    }
    sw_rpc_send_error(rpc, m->i, buf);
}

static sw_rpc_stream_t *find_stream(sw_rpc_t *rpc, int64_t seq)
{
    for (uint16_t k = 0; k < rpc->max_streams; k++)
        if (rpc->streams[k].seq == seq && seq != 0)
            return &rpc->streams[k];
    return NULL;
}

static void start_stream(sw_rpc_t *rpc, const sw_msg_t *m, int id, uint32_t now_ms)
{
    const sw_tnode_t *e = &rpc->tree->nodes[id];
    if (!e->def) {
        sw_rpc_send_error(rpc, m->i, "BadArg: a directory cannot be streamed");
        return;
    }
    if (m->i == 0 || find_stream(rpc, m->i)) {
        sw_rpc_send_error(rpc, m->i, "BadArg: seq already streaming");
        return;
    }
    if (m->d.n > SW_RPC_STREAM_ARGS) {
        sw_rpc_send_error(rpc, m->i, "ETOOBIG: stream arguments too large");
        return;
    }
    for (uint16_t k = 0; k < rpc->max_streams; k++) {
        sw_rpc_stream_t *s = &rpc->streams[k];
        if (s->seq)
            continue;
        s->seq = m->i;
        s->def = e->def;
        s->interval_ms = m->r > 0xfffffff ? 0xfffffff : (uint32_t)m->r;
        s->due_ms = now_ms; // first value at once
        s->step = 0;
        s->args_len = (uint16_t)m->d.n;
        if (m->d.n)
            memcpy(s->args, m->d.p, m->d.n);
        return;
    }
    sw_rpc_send_error(rpc, m->i, "EBUSY: too many streams on this link");
}

// True if the n bytes at a and b are equal. Actions are a few bytes: from 4 to 8 two
// overlapping 4-byte loads each compare them, cheaper than a call to memcmp.
static bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n < 4 || n > 8)
        return memcmp(a, b, n) == 0;
    uint32_t a0, a1, b0, b1;
    memcpy(&a0, a, 4), memcpy(&a1, a + n - 4, 4);
    memcpy(&b0, b, 4), memcpy(&b1, b + n - 4, 4);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

// sw_tree_resolve, remembering the last action found: the same bytes in an unchanged tree
// resolve the same way.
static int resolve(sw_rpc_t *rpc, const sw_msg_t *m)
{
    const sw_tree_t *t = rpc->tree;
    if (!t)
        return SW_ENOENT;
    if (rpc->last_gen == t->gen && m->a.n == rpc->last_len && same_bytes(m->a.p, rpc->last_a, m->a.n))
        return rpc->last_id;
    int id = sw_tree_resolve(t, m);
    if (id >= 0 && m->a.n && m->a.n <= sizeof rpc->last_a) {
        memcpy(rpc->last_a, m->a.p, m->a.n);
        rpc->last_len = (uint8_t)m->a.n;
        rpc->last_id = (int16_t)id;
        rpc->last_gen = t->gen;
    }
    return id;
}

void sw_rpc_dispatch(sw_rpc_t *rpc, const sw_msg_t *m, uint32_t now_ms)
{
    bool wants_reply = (m->has & SW_MSG_HAS_I) != 0;
    int id = resolve(rpc, m);
    if (id < 0) {
        if (wants_reply)
            no_path(rpc, m);
        return;
    }
    if (m->r > 0 && wants_reply) {
        if (rpc->max_streams == 0)
            sw_rpc_send_error(rpc, m->i, "ENOTSUP: streams are not served on this link");
        else
            start_stream(rpc, m, id, now_ms);
        return;
    }

    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_reply_begin(&w);
    size_t mark = w.len;
    sw_call_t call;
    memset(&call, 0, offsetof(sw_call_t, err_buf)); // (err_buf is scratch: one request each)
    call.err_buf[0] = 0;
    call.args = m->d;
    call.out = &w;
    call.reply_to.rpc = rpc;
    call.reply_to.gen = rpc->gen;
    call.reply_to.seq = wants_reply ? m->i : -1;
    call.rpc = rpc;
    call.ctx = rpc->dispatch_ctx;

    sw_mpw_t *outer = rpc->cur;
    rpc->cur = &w;
    int rc = sw_tree_invoke(rpc->tree, id, &call);
    rpc->cur = outer;

    if (!wants_reply || rc == SW_CALL_LATER)
        return;
    if (rc < 0) {
        send_err_code(rpc, m->i, rc, call.err_text);
        return;
    }
    if (w.len == mark) // nothing written (or SW_CALL_END outside a stream): a nil result
        sw_mpw_nil(&w);
    sw_msg_reply_end(&w, m->i);
    if (w.err == SW_EFULL) {
        sw_rpc_send_error(rpc, m->i, "ETOOBIG: the reply exceeds the largest message size");
        return;
    }
    rpc->stats.replies++;
    send_answer(rpc, &w, m->i);
}

static void free_stream(sw_rpc_stream_t *s)
{
    s->seq = 0;
    s->def = NULL;
}

// One step of a stream: call the command, send its value (or the end, or the error).
static void run_step(sw_rpc_t *rpc, sw_rpc_stream_t *s)
{
    sw_mpw_t w;
    out_writer(rpc, &w);
    sw_msg_stream_begin(&w, s->seq);
    size_t mark = w.len;
    sw_call_t call;
    memset(&call, 0, sizeof call);
    call.def = s->def;
    call.args.p = s->args_len ? s->args : NULL;
    call.args.n = s->args_len;
    call.out = &w;
    call.reply_to.rpc = rpc;
    call.reply_to.gen = rpc->gen;
    call.reply_to.seq = -1; // stream values are not deferred replies
    call.rpc = rpc;
    call.ctx = rpc->dispatch_ctx;
    call.stream = true;
    call.step = s->step + 1;

    int64_t seq = s->seq;
    sw_mpw_t *outer = rpc->cur;
    rpc->cur = &w;
    int rc = s->def->fn(&call);
    rpc->cur = outer;
    if (s->seq != seq) // the handler cancelled its own stream
        return;

    if (rc == SW_CALL_END) {
        free_stream(s);
        sw_rpc_send_end(rpc, seq);
        return;
    }
    if (rc == SW_CALL_LATER) {
        free_stream(s);
        sw_rpc_send_error(rpc, seq, "ENOTSUP: this command cannot be streamed (it answers later)");
        return;
    }
    if (rc < 0) {
        free_stream(s);
        send_err_code(rpc, seq, rc, call.err_text);
        return;
    }
    if (w.len == mark)
        sw_mpw_nil(&w);
    s->step++;
    sw_msg_stream_end(&w, s->step);
    if (w.err == SW_EFULL) {
        free_stream(s);
        sw_rpc_send_error(rpc, seq, "ETOOBIG: the stream value exceeds the largest message size");
        return;
    }
    if (send_answer(rpc, &w, seq) == SW_ETOOBIG)
        free_stream(s); // the error ended it for the client
}

uint32_t sw_rpc_poll(sw_rpc_t *rpc, uint32_t now_ms)
{
    uint32_t next = UINT32_MAX;
    for (uint16_t k = 0; k < rpc->max_streams; k++) {
        sw_rpc_stream_t *s = &rpc->streams[k];
        if (!s->seq)
            continue;
        if ((int32_t)(now_ms - s->due_ms) >= 0) {
            run_step(rpc, s);
            if (!s->seq)
                continue;
            s->due_ms += s->interval_ms;
            if ((int32_t)(now_ms - s->due_ms) >= 0) // fell behind: no burst to catch up
                s->due_ms = now_ms + s->interval_ms;
        }
        uint32_t wait = s->due_ms - now_ms;
        if (wait < next)
            next = wait;
    }
    return next;
}

void sw_rpc_stop_stream(sw_rpc_t *rpc, int64_t seq)
{
    sw_rpc_stream_t *s = find_stream(rpc, seq);
    if (s)
        free_stream(s);
}

sw_mpw_t *sw_rpc_answer_begin(const sw_reply_to_t *to)
{
    sw_rpc_t *rpc = to->rpc;
    if (!rpc || to->seq < 0 || to->gen != rpc->gen)
        return NULL;
    out_writer(rpc, &rpc->answer);
    sw_msg_reply_begin(&rpc->answer);
    rpc->answer_mark = rpc->answer.len;
    return &rpc->answer;
}

void sw_rpc_answer_end(const sw_reply_to_t *to)
{
    sw_rpc_t *rpc = to->rpc;
    if (!rpc || to->seq < 0 || to->gen != rpc->gen)
        return;
    sw_mpw_t *w = &rpc->answer;
    if (w->len == rpc->answer_mark)
        sw_mpw_nil(w);
    sw_msg_reply_end(w, to->seq);
    if (w->err == SW_EFULL) {
        sw_rpc_send_error(rpc, to->seq, "ETOOBIG: the reply exceeds the largest message size");
        return;
    }
    rpc->stats.replies++;
    send_answer(rpc, w, to->seq);
}

void sw_rpc_answer_error(const sw_reply_to_t *to, const char *text)
{
    sw_rpc_t *rpc = to->rpc;
    if (!rpc || to->seq < 0 || to->gen != rpc->gen)
        return;
    sw_rpc_send_error(rpc, to->seq, text);
}

/////////////////////////////////////////////////////////////////////////////////////////////
// Client side

// A request lives in slot seq % max_pending, so an answer finds it without a search (a mux
// has hundreds in flight).
static sw_rpc_pending_t *find_pending(sw_rpc_t *rpc, int64_t seq)
{
    if (seq <= 0 || !rpc->max_pending)
        return NULL;
    sw_rpc_pending_t *p = &rpc->pending[(uint64_t)seq % rpc->max_pending];
    return p->seq == seq ? p : NULL;
}

// Next sequence number whose slot is unused: counts up, wraps before 2^31. The caller made sure
// a slot is unused, so this ends within max_pending steps.
static int64_t take_seq(sw_rpc_t *rpc)
{
    for (;;) {
        int64_t seq = rpc->next_seq++;
        if (rpc->next_seq > 0x7fffffff)
            rpc->next_seq = 1;
        if (!rpc->pending[(uint64_t)seq % rpc->max_pending].seq)
            return seq;
    }
}

static int64_t request(sw_rpc_t *rpc, const char *dotted, const sw_span_t *action, sw_span_t d,
                       int64_t r_ms, void *user)
{
    if (rpc->npending >= rpc->max_pending)
        return SW_EFULL;
    int64_t seq = take_seq(rpc);
    sw_rpc_pending_t *slot = &rpc->pending[(uint64_t)seq % rpc->max_pending];
    sw_mpw_t w;
    out_writer(rpc, &w);
    if (action)
        sw_msg_request_begin_raw(&w, *action, seq, r_ms);
    else
        sw_msg_request_begin(&w, dotted, seq, r_ms);
    if (d.n)
        sw_mpw_raw(&w, d.p, d.n);
    else
        sw_mpw_map(&w, 0);
    sw_msg_request_end(&w, seq, r_ms);
    if (w.err)
        return w.err == SW_EFULL ? SW_ETOOBIG : w.err;
    slot->seq = seq;
    slot->user = user;
    slot->stream = r_ms > 0;
    rpc->npending++;
    int rc = rpc->hooks.send(rpc->hooks.ctx, w.buf, w.len);
    if (rc) {
        if (slot->seq == seq) { // (a send hook may have failed it already)
            slot->seq = 0;
            rpc->npending--;
        }
        return rc;
    }
    return seq;
}

int64_t sw_rpc_request(sw_rpc_t *rpc, const char *dotted, sw_span_t d, int64_t r_ms, void *user)
{
    return request(rpc, dotted, NULL, d, r_ms, user);
}

int64_t sw_rpc_request_raw(sw_rpc_t *rpc, sw_span_t action, sw_span_t d, int64_t r_ms, void *user)
{
    return request(rpc, NULL, &action, d, r_ms, user);
}

static void *cancel(sw_rpc_t *rpc, int64_t seq, bool tell)
{
    sw_rpc_pending_t *p = find_pending(rpc, seq);
    if (!p)
        return NULL;
    void *user = p->user;
    bool stream = p->stream;
    p->seq = 0;
    rpc->npending--;
    if (stream || tell) {
        uint8_t buf[16];
        sw_mpw_t w;
        sw_mpw_init(&w, buf, sizeof buf);
        sw_msg_write_cancel(&w, seq);
        send(rpc, &w);
    }
    return user;
}

void *sw_rpc_cancel(sw_rpc_t *rpc, int64_t seq) { return cancel(rpc, seq, false); }

void *sw_rpc_abandon(sw_rpc_t *rpc, int64_t seq) { return cancel(rpc, seq, true); }

size_t sw_rpc_pending_count(const sw_rpc_t *rpc) { return rpc->npending; }

static void answer(sw_rpc_t *rpc, const sw_msg_t *m)
{
    sw_rpc_pending_t *p = find_pending(rpc, m->i);
    if (!p) {
        rpc->stats.dropped++; // e.g. a late value of a cancelled stream
        return;
    }
    void *user = p->user;
    if (m->kind != SW_MSG_STREAM) { // REPLY, ERROR and END finish the request
        p->seq = 0;
        rpc->npending--;
    }
    if (rpc->hooks.answer)
        rpc->hooks.answer(rpc->hooks.ctx, rpc, m, 0, user);
}

void sw_rpc_reset(sw_rpc_t *rpc, int err)
{
    rpc->gen++;
    for (uint16_t k = 0; k < rpc->max_streams; k++)
        free_stream(&rpc->streams[k]);
    for (uint16_t k = 0; k < rpc->max_pending; k++) {
        sw_rpc_pending_t *p = &rpc->pending[k];
        if (!p->seq)
            continue;
        void *user = p->user;
        p->seq = 0;
        rpc->npending--;
        if (rpc->hooks.answer)
            rpc->hooks.answer(rpc->hooks.ctx, rpc, NULL, err ? err : SW_ECLOSED, user);
    }
}

/////////////////////////////////////////////////////////////////////////////////////////////
// Input

// A message that did not decode: if it carries a usable "i", tell the sender.
static void reject(sw_rpc_t *rpc, const uint8_t *p, size_t n, int err)
{
    rpc->stats.dropped++;
    sw_span_t a, i;
    if (sw_mp_map_get(p, n, "a", &a) || sw_mp_map_get(p, n, "i", &i))
        return; // not a request: nobody to answer
    sw_mpr_t r;
    sw_mpr_init(&r, i.p, i.n);
    int64_t seq;
    if (!sw_mpr_int(&r, &seq))
        return;
    send_err_code(rpc, seq, err, err == SW_ETOOBIG ? "ETOOBIG: action path too long"
                                                   : "EPROTO: malformed message");
}

void sw_rpc_input(sw_rpc_t *rpc, const uint8_t *p, size_t n, uint32_t now_ms)
{
    sw_rpc_input_ix(rpc, p, n, NULL, now_ms);
}

void sw_rpc_input_ix(sw_rpc_t *rpc, const uint8_t *p, size_t n, const sw_mp_index_t *ix, uint32_t now_ms)
{
    sw_msg_t m;
    int err = sw_msg_decode_ix(&m, p, n, ix);
    if (err) {
        reject(rpc, p, n, err);
        return;
    }
    switch (m.kind) {
    case SW_MSG_REQUEST:
    case SW_MSG_NOTIFY:
        if (m.kind == SW_MSG_REQUEST)
            rpc->stats.requests++;
        else
            rpc->stats.notifies++;
        if (rpc->hooks.request)
            rpc->hooks.request(rpc->hooks.ctx, rpc, &m);
        else if (m.kind == SW_MSG_REQUEST)
            sw_rpc_dispatch(rpc, &m, now_ms);
        break;
    case SW_MSG_CANCEL:
        if (rpc->hooks.request)
            rpc->hooks.request(rpc->hooks.ctx, rpc, &m);
        else
            sw_rpc_stop_stream(rpc, m.i);
        break;
    case SW_MSG_REPLY:
    case SW_MSG_ERROR:
    case SW_MSG_STREAM:
    case SW_MSG_END:
        answer(rpc, &m);
        break;
    default:
        rpc->stats.dropped++;
    }
}
