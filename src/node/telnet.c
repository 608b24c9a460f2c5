// Telnet console (micro-swarm's service_telnet): option negotiation by libtelnet (RFC 1143,
// IAC escaping), the node's log live, a line editor (the node echoes: character mode) and a Lua
// REPL on sys.eval. Ctrl-C stops the app's tasks (micro-swarm's maintenance mode); :start runs
// the app again (docs/PROTOCOL.md, "Telnet console").
#include "profile.h"
#if SW_WITH_TELNET
#include <stdio.h> // snprintf
#include <string.h>

#include <libtelnet.h>

#include "node_int.h"
#include "net_part.h"

// Defaults of the "telnet.*" settings (docs/PROTOCOL.md).
#define TN_CLIENTS_DEFAULT 4          // telnet.clients: sessions at once
#define TN_IDLE_DEFAULT 30000         // telnet.idle_ms: a session that has not entered a line by then closes
#define TN_OUTQ_DEFAULT (32 * 1024)   // telnet.outq: bytes queued towards a client before log
                                      // lines are dropped and its input is paused
#define TN_LINE_MAX 1024              // one input line
#define TN_CHUNK_MAX 4096             // a multi-line Lua chunk (lines joined)
#define TN_AHEAD_MAX 2048             // input typed (or pasted) while a chunk runs
#define TN_POLL_MS 100                // how often the log ring is looked at
#define TN_LOG_PIECE 256              // log bytes copied per step (on the stack)
#define TN_HARD_FACTOR 4              // telnet.outq × this queued: the client is not reading, close

typedef struct tn_svc tn_svc_t;
typedef struct tn_sess tn_sess_t;

struct tn_sess {
    const sw_conn_ops_t *ops; // first (node_int.h)
    tn_sess_t *next;
    tn_svc_t *svc;
    sw_conn_t *conn;
    telnet_t *tn;
    char peer[64];
    bool closing;      // close requested: input is ignored
    bool paused;       // reading paused until the client reads its output
    bool echo;         // the client accepted WILL ECHO: the node echoes what is typed
    bool log_on;       // the live log is shown
    bool prompt;       // the prompt (and, when echoing, the line) is on the screen
    bool too_long;     // the current line overflowed
    bool lost;         // log lines fell out of the ring before they were sent
    bool last_cr;      // the previous input byte was CR (an LF or NUL after it is part of it)
    uint8_t esc;       // escape sequence being skipped: 0 none, 1 after ESC, 2 in CSI/SS3
    uint8_t esc_len;
    bool eval_pending; // a sys.eval of this session is under way
    bool proven;       // a line was entered: the session keeps its slot (no idle timeout)
    bool uncounted;    // closed to make room: no longer counted in nsess
    uint32_t opened;   // node time the session opened
    bool replaying;    // typed-ahead input is being processed
    bool ahead_full;   // typed-ahead input was dropped
    int64_t eval_seq;
    uint32_t dropped;  // log lines dropped since the last note
    uint64_t log_pos;  // next log byte to send (sw_log_read position)
    size_t len;        // bytes in line
    size_t chunk_len;  // bytes gathered in chunk (multi-line input)
    size_t ahead_len;  // bytes in ahead
    char line[TN_LINE_MAX];
    char chunk[TN_CHUNK_MAX];
    uint8_t ahead[TN_AHEAD_MAX];
};

struct tn_svc {
    sw_service_t s; // first: the node's list holds &s
    sw_node_t *n;
    sw_listener_t *listener;
    tn_sess_t *sessions;
    unsigned nsess, max_sess;
    uint32_t idle_ms;  // telnet.idle_ms
    size_t outq;
    sw_timer_t poll;
    bool maint; // the app was stopped from a console (until :start)
};

// What the node offers and accepts (libtelnet answers everything else with WONT / DONT).
// ECHO and SUPPRESS-GO-AHEAD on our side put clients in character mode; LINEMODE is refused.
static const telnet_telopt_t telopts[] = {
    {TELNET_TELOPT_ECHO, TELNET_WILL, TELNET_DONT},
    {TELNET_TELOPT_SGA, TELNET_WILL, TELNET_DO},
    {TELNET_TELOPT_LINEMODE, TELNET_WONT, TELNET_DONT},
    {-1, 0, 0},
};

static const char help_text[] =
    "Lua: each line runs through sys.eval; its value or error is printed. An incomplete\n"
    "chunk continues on the next line (prompt >>).\n"
    "Keys: Backspace, Ctrl-U (erase line), Enter, Ctrl-C (stop the app's tasks: maintenance\n"
    "mode), Ctrl-D on an empty line (quit).\n"
    "Commands:\n"
    "  :help          this text\n"
    "  :start         start the app again (after Ctrl-C)\n"
    "  :stop          stop the app's tasks (as Ctrl-C)\n"
    "  :log on|off    show the node's log live (on at connect)\n"
    "  :reset         reset the node\n"
    "  :quit          close this session\n";

static const sw_port_ops_t *pops(const tn_sess_t *s) { return s->svc->n->port.ops; }
static void *pctx(const tn_sess_t *s) { return s->svc->n->port.ctx; }
// Bytes waiting in the port towards the client; a port whose queue is smaller than telnet.outq
// counts as full once it has less room than one log piece.
static size_t queued(const tn_sess_t *s)
{
    size_t q = pops(s)->conn_queued(pctx(s), s->conn);
    if (pops(s)->conn_room(pctx(s), s->conn) < 2 * TN_LOG_PIECE && q <= s->svc->outq)
        q = s->svc->outq + 1;
    return q;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Output: everything goes through libtelnet (IAC doubled); '\n' becomes CR LF (NVT).

static void out(tn_sess_t *s, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (k)
            telnet_send(s->tn, p, k);
        if (!nl)
            break;
        telnet_send(s->tn, "\r\n", 2);
        p += k + 1;
        n -= k + 1;
    }
}

static void outs(tn_sess_t *s, const char *str) { out(s, str, strlen(str)); }

static void outf(tn_sess_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(tn_sess_t *s, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k > 0)
        out(s, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
}

static void show_prompt(tn_sess_t *s)
{
    if (s->closing || s->prompt || s->eval_pending)
        return;
    outs(s, s->chunk_len ? ">> " : "> ");
    if (s->echo)
        out(s, s->line, s->len);
    s->prompt = true;
}

// Makes room for asynchronous output (a log line) where the prompt is.
static void hide_prompt(tn_sess_t *s)
{
    if (!s->prompt)
        return;
    // with echo the node owns the line: erase it and redraw it afterwards; without, the
    // client's own line editor holds what is typed, so only move on to a fresh line
    outs(s, s->echo ? "\r\x1b[K" : "\n");
    s->prompt = false;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The live log

// Counts the lines from *pos to end (and moves *pos there): what is dropped.
static uint32_t skip_lines(const sw_node_t *n, uint64_t *pos, uint64_t end)
{
    char buf[TN_LOG_PIECE];
    uint32_t lines = 0;
    while (*pos < end) {
        size_t k = sw_log_read(n, pos, buf, sizeof buf);
        if (!k)
            break;
        for (size_t i = 0; i < k; i++)
            lines += buf[i] == '\n';
    }
    return lines;
}

static void pump_log(tn_sess_t *s)
{
    sw_node_t *n = s->svc->n;
    uint64_t end = sw_log_end(n);
    if (s->closing)
        return;
    if (!s->log_on) {
        s->log_pos = end;
        return;
    }
    if (s->log_pos == end && !s->dropped && !s->lost)
        return;
    if (queued(s) > s->svc->outq) { // a slow client: drop rather than queue without bound
        s->dropped += skip_lines(n, &s->log_pos, end);
        return;
    }
    uint64_t oldest = end > SW_NODE_LOG_RING ? end - SW_NODE_LOG_RING : 0;
    char buf[TN_LOG_PIECE];
    if (s->log_pos < oldest) { // overwritten before we got to it: resume at a line start
        s->lost = true;
        s->log_pos = oldest;
        while (s->log_pos < end) {
            size_t k = sw_log_read(n, &s->log_pos, buf, 1);
            if (!k || buf[0] == '\n')
                break;
        }
    }
    bool had_prompt = s->prompt;
    hide_prompt(s);
    if (s->dropped || s->lost) {
        if (s->dropped)
            outf(s, "[\xe2\x80\xa6 %u lines dropped]\n", (unsigned)s->dropped);
        else
            outs(s, "[\xe2\x80\xa6 lines dropped]\n");
        s->dropped = 0;
        s->lost = false;
    }
    while (s->log_pos < end) {
        if (queued(s) > s->svc->outq) {
            // finish the line being sent, then count the rest as dropped
            while (s->log_pos < end) {
                size_t k = sw_log_read(n, &s->log_pos, buf, 1);
                if (!k)
                    break;
                out(s, buf, 1);
                if (buf[0] == '\n')
                    break;
            }
            s->dropped += skip_lines(n, &s->log_pos, end);
            break;
        }
        size_t k = sw_log_read(n, &s->log_pos, buf, sizeof buf);
        if (!k)
            break;
        out(s, buf, k);
    }
    if (had_prompt)
        show_prompt(s);
}

static void sess_close(tn_sess_t *s);

static void poll_fire(sw_node_t *n, sw_timer_t *t)
{
    tn_svc_t *v = t->user;
    uint32_t now = sw_node_now(n);
    for (tn_sess_t *s = v->sessions; s; s = s->next) {
        if (!s->proven && !s->closing && now - s->opened >= v->idle_ms) {
            sw_log(n, SW_LOG_WARN, "telnet %s: no line entered within %u ms (telnet.idle_ms): closing", s->peer,
                   (unsigned)v->idle_ms);
            outs(s, "\r\nIdle: closing.\r\n");
            sess_close(s);
            continue;
        }
        pump_log(s);
    }
    if (v->sessions)
        sw_timer_start(n, t, TN_POLL_MS);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The REPL

static void sess_close(tn_sess_t *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->eval_pending) {
        sw_node_call_cancel(s->svc->n, s->eval_seq);
        s->eval_pending = false;
    }
    pops(s)->conn_close(pctx(s), s->conn); // sends what is queued first
}

static void reset_input(tn_sess_t *s)
{
    s->len = s->chunk_len = 0;
    s->too_long = false;
}

static void input_byte(tn_sess_t *s, uint8_t c);

// Input typed while a chunk ran is processed now, up to the next chunk that runs.
static void replay(tn_sess_t *s)
{
    if (s->replaying || s->svc->n->stopping) // (a stopping node fails the running chunk)
        return;
    s->replaying = true;
    size_t i = 0;
    while (i < s->ahead_len && !s->eval_pending && !s->closing)
        input_byte(s, s->ahead[i++]);
    memmove(s->ahead, s->ahead + i, s->ahead_len - i);
    s->ahead_len -= i;
    s->replaying = false;
    if (s->ahead_full && !s->eval_pending) {
        s->ahead_full = false;
        hide_prompt(s);
        outs(s, "[input typed while busy was dropped: too much]\n");
        show_prompt(s);
    }
    if (s->paused && !s->closing && queued(s) <= s->svc->outq && s->ahead_len < TN_AHEAD_MAX / 2) {
        s->paused = false;
        pops(s)->conn_pause(pctx(s), s->conn, false);
    }
}

static void eval_done(sw_node_t *n, void *user, const sw_msg_t *m, int err)
{
    (void)n;
    tn_sess_t *s = user;
    s->eval_pending = false;
    s->eval_seq = 0;
    if (s->closing)
        return;
    pump_log(s); // what the input logged comes before its result
    hide_prompt(s);
    sw_mpr_t r;
    sw_span_t text = {NULL, 0};
    if (m && m->kind == SW_MSG_REPLY) {
        // [value, repr]: the repr is printed unless the value is nil (as Lua's REPL does)
        uint32_t items = 0;
        sw_mpr_init(&r, m->d.p, m->d.n);
        if (sw_mpr_array(&r, &items) && items == 2 && sw_mpr_peek(&r) != SW_MP_NIL && !sw_mpr_skip(&r) &&
            sw_mpr_str(&r, &text)) {
            out(s, (const char *)text.p, text.n);
            outs(s, "\n");
        } else if (items != 2 || sw_mpr_error(&r)) {
            outs(s, "(unexpected reply)\n");
        }
        s->chunk_len = 0;
    } else {
        if (m && m->kind == SW_MSG_ERROR) {
            sw_mpr_init(&r, m->e.p, m->e.n);
            sw_mpr_str(&r, &text);
        }
        if (text.p && text.n >= 5 && !memcmp(text.p + text.n - 5, "<eof>", 5) && s->chunk_len) {
            // an incomplete chunk: keep it and read on (the chunk already ends with '\n')
        } else {
            if (text.p) {
                outs(s, "error: ");
                out(s, (const char *)text.p, text.n);
                outs(s, "\n");
            } else {
                outf(s, "error: %s\n", sw_strerror(err ? err : SW_EPROTO));
            }
            s->chunk_len = 0;
        }
    }
    show_prompt(s);
    replay(s);
}

static void run_chunk(tn_sess_t *s)
{
    sw_node_t *n = s->svc->n;
    size_t cap = s->chunk_len + 16; // {"code": <str header>} around the chunk
    uint8_t *args = sw_node_alloc_buf(n, cap);
    int64_t seq = SW_EFULL;
    s->eval_pending = true; // the answer may come before sw_node_call returns
    if (args) {
        sw_mpw_t w;
        sw_mpw_init(&w, args, cap);
        sw_mpw_map(&w, 1);
        sw_mpw_cstr(&w, "code");
        sw_mpw_str(&w, s->chunk, s->chunk_len);
        sw_span_t d = {args, w.len};
        seq = w.err ? w.err : sw_node_call(n, "sys.eval", d, 0, eval_done, s);
        sw_node_release(n, args, cap);
    }
    if (seq < 0) {
        s->eval_pending = false;
        outf(s, "error: %s\n", seq == SW_EFULL ? "out of memory or too many local calls under way"
                                               : sw_strerror((int)seq));
        s->chunk_len = 0;
        show_prompt(s);
    } else if (s->eval_pending) {
        s->eval_seq = seq;
    }
}

static void stop_app(tn_sess_t *s, const char *how)
{
    sw_node_t *n = s->svc->n;
    if (s->eval_pending) {
        sw_node_call_cancel(n, s->eval_seq);
        s->eval_pending = false;
        outs(s, "(stopped waiting for the running input; a task it started may go on)\n");
    }
    reset_input(s);
    // said once per maintenance period (a client that sends many Ctrl-C does not flood the log)
    sw_log(n, s->svc->maint ? SW_LOG_DEBUG : SW_LOG_WARN,
           "telnet %s: %s: app tasks stopped (maintenance mode; :start runs the app again)", s->peer, how);
    sw_node_app_stop(n);
    s->svc->maint = true;
    outs(s, "App tasks stopped (maintenance mode). :start runs the app again.\n");
    show_prompt(s);
}

static void interrupt(tn_sess_t *s)
{
    s->ahead_len = 0; // what was typed ahead goes with the interrupted input
    s->ahead_full = false;
    s->prompt = false;
    outs(s, "^C\n");
    stop_app(s, "Ctrl-C");
}

static bool word_is(const char *p, size_t n, const char *w) { return n == strlen(w) && !memcmp(p, w, n); }

static void command(tn_sess_t *s, const char *p, size_t n)
{
    sw_node_t *n_ = s->svc->n;
    size_t k = 0;
    while (k < n && p[k] != ' ' && p[k] != '\t')
        k++;
    const char *arg = p + k;
    size_t alen = n - k;
    while (alen && (*arg == ' ' || *arg == '\t'))
        arg++, alen--;
    while (alen && (arg[alen - 1] == ' ' || arg[alen - 1] == '\t'))
        alen--;
    if (word_is(p, k, ":help") || word_is(p, k, ":h") || word_is(p, k, ":?")) {
        outs(s, help_text);
    } else if (word_is(p, k, ":quit") || word_is(p, k, ":q") || word_is(p, k, ":exit")) {
        outs(s, "Bye.\n");
        sess_close(s);
        return;
    } else if (word_is(p, k, ":start")) {
        if (!n_->app_name[0]) {
            outs(s, "No app is configured (board.app_name).\n");
        } else {
            sw_log(n_, SW_LOG_INFO, "telnet %s: :start: running app %s again", s->peer, n_->app_name);
            s->svc->maint = false;
            sw_node_app_start(n_);
            outf(s, "App %s started.\n", n_->app_name);
        }
    } else if (word_is(p, k, ":stop")) {
        stop_app(s, ":stop");
        return;
    } else if (word_is(p, k, ":log")) {
        if (word_is(arg, alen, "on") || word_is(arg, alen, "off")) {
            s->log_on = arg[1] == 'n';
            s->log_pos = sw_log_end(n_);
            s->dropped = 0;
            s->lost = false;
        } else if (alen) {
            outs(s, "usage: :log on|off\n");
        }
        outf(s, "Live log %s.\n", s->log_on ? "on" : "off");
    } else if (word_is(p, k, ":reset")) {
        outs(s, "Resetting the node.\n");
        char why[96];
        snprintf(why, sizeof why, "telnet %s: :reset", s->peer);
        sw_node_reset(n_, SW_RESET_SOFT, why);
    } else {
        outf(s, "Unknown command %.*s (:help lists them).\n", (int)(k < 32 ? k : 32), p);
    }
    show_prompt(s);
}

static void enter(tn_sess_t *s)
{
    s->proven = true;
    if (s->echo)
        outs(s, "\n");
    s->prompt = false;
    if (s->too_long) {
        outf(s, "Line too long (at most %u bytes): discarded.\n", (unsigned)TN_LINE_MAX);
        reset_input(s);
        show_prompt(s);
        return;
    }
    const char *p = s->line;
    size_t n = s->len;
    s->len = 0;
    size_t a = 0;
    while (a < n && (p[a] == ' ' || p[a] == '\t'))
        a++;
    if (!s->chunk_len && a < n && p[a] == ':') {
        command(s, p + a, n - a); // s->line is not touched until the next input byte
        return;
    }
    if (!s->chunk_len && a == n) { // an empty line
        show_prompt(s);
        return;
    }
    if (s->chunk_len + n + 1 > sizeof s->chunk) {
        outf(s, "Input too long (at most %u bytes): discarded.\n", (unsigned)TN_CHUNK_MAX);
        reset_input(s);
        show_prompt(s);
        return;
    }
    memcpy(s->chunk + s->chunk_len, p, n);
    s->chunk_len += n;
    s->chunk[s->chunk_len++] = '\n';
    run_chunk(s);
}

static void backspace(tn_sess_t *s)
{
    if (!s->len)
        return;
    // a whole UTF-8 character: its continuation bytes go with it
    while (s->len > 1 && ((uint8_t)s->line[s->len - 1] & 0xc0) == 0x80)
        s->len--;
    s->len--;
    if (s->echo && !s->too_long)
        outs(s, "\b \b");
}

static void kill_line(tn_sess_t *s)
{
    s->len = 0;
    s->too_long = false;
    if (s->echo && s->prompt) {
        s->prompt = false;
        outs(s, "\r\x1b[K");
        show_prompt(s);
    }
}

static void input_byte(tn_sess_t *s, uint8_t c)
{
    if (s->eval_pending && c != 0x03) { // kept until the running chunk has answered
        if (s->ahead_len < TN_AHEAD_MAX)
            s->ahead[s->ahead_len++] = c;
        else
            s->ahead_full = true;
        return;
    }
    if (s->last_cr) { // CR LF and CR NUL are one Enter
        s->last_cr = false;
        if (c == '\n' || c == 0)
            return;
    }
    if (s->esc) { // an escape sequence (arrow keys, …): skipped whole
        if (s->esc == 1)
            s->esc = c == '[' || c == 'O' ? 2 : 0;
        else if ((c >= 0x40 && c <= 0x7e) || ++s->esc_len > 16)
            s->esc = 0;
        return;
    }
    switch (c) {
    case '\r': s->last_cr = true; enter(s); return;
    case '\n': enter(s); return;
    case 0x03: interrupt(s); return;
    case 0x04: // Ctrl-D on an empty line: quit, as a shell does
        if (!s->len && !s->chunk_len) {
            outs(s, "\nBye.\n");
            sess_close(s);
        }
        return;
    case 0x08: case 0x7f: backspace(s); return;
    case 0x15: kill_line(s); return;
    case 0x0c: // Ctrl-L: the line again, on a fresh line
        s->prompt = false;
        outs(s, "\n");
        show_prompt(s);
        return;
    case 0x1b: s->esc = 1; s->esc_len = 0; return;
    default: break;
    }
    if (c < 0x20)
        return;
    if (s->len == sizeof s->line) {
        if (!s->too_long && s->echo)
            outs(s, "\a");
        s->too_long = true;
        return;
    }
    s->line[s->len++] = (char)c;
    if (s->echo && s->prompt)
        telnet_send(s->tn, (const char *)&c, 1);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// libtelnet events

static void tn_event(telnet_t *t, telnet_event_t *ev, void *user)
{
    (void)t;
    tn_sess_t *s = user;
    sw_node_t *n = s->svc->n;
    switch (ev->type) {
    case TELNET_EV_SEND:
        if (queued(s) > s->svc->outq * TN_HARD_FACTOR) {
            // input that makes output faster than the client reads it (a flood): nothing is
            // queued beyond this bound
            if (!s->closing)
                sw_log(n, SW_LOG_WARN, "telnet %s: client does not read its output, closing", s->peer);
            sess_close(s);
            break;
        }
        if (pops(s)->conn_write(pctx(s), s->conn, ev->data.buffer, ev->data.size) == SW_EAGAIN) {
            // the port's own bound (port.h): no room left means the client is not reading
            if (!s->closing)
                sw_log(n, SW_LOG_WARN, "telnet %s: client does not read its output, closing", s->peer);
            sess_close(s);
        }
        break;
    case TELNET_EV_DATA:
        for (size_t i = 0; i < ev->data.size && !s->closing; i++)
            input_byte(s, (uint8_t)ev->data.buffer[i]);
        break;
    case TELNET_EV_IAC:
        if (s->closing)
            break;
        switch (ev->iac.cmd) {
        case TELNET_IP: case TELNET_BREAK: case TELNET_ABORT: interrupt(s); break;
        case TELNET_AYT: hide_prompt(s); outs(s, "[swarm-node: yes]\n"); show_prompt(s); break;
        case TELNET_EC: backspace(s); break;
        case TELNET_EL: kill_line(s); break;
        default: break; // NOP, GA, DM, AO, EOR, …: nothing to do
        }
        break;
    case TELNET_EV_DO:
        if (ev->neg.telopt == TELNET_TELOPT_ECHO)
            s->echo = true;
        break;
    case TELNET_EV_DONT:
        if (ev->neg.telopt == TELNET_TELOPT_ECHO)
            s->echo = false;
        break;
    case TELNET_EV_COMPRESS:
        // a client that says it compresses (never offered): its bytes would be garbage
        if (ev->compress.state && !s->closing) {
            sw_log(n, SW_LOG_WARN, "telnet %s: client started COMPRESS2, closing", s->peer);
            sess_close(s);
        }
        break;
    case TELNET_EV_WARNING:
        sw_log(n, SW_LOG_DEBUG, "telnet %s: %s", s->peer, ev->error.msg);
        break;
    case TELNET_EV_ERROR:
        if (!s->closing) {
            sw_log(n, SW_LOG_WARN, "telnet %s: protocol error (%s), closing", s->peer, ev->error.msg);
            sess_close(s);
        }
        break;
    default: // WILL/WONT (answered by libtelnet), subnegotiations: nothing to do
        break;
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Connections

static void sess_data(void *self, const uint8_t *p, size_t len)
{
    tn_sess_t *s = self;
    if (s->closing)
        return;
    telnet_recv(s->tn, (const char *)p, len);
    // replies to a flood (echo, DO/WILL answers) wait for the client to read them, and input
    // typed ahead waits for the running chunk
    if (!s->closing && !s->paused && (queued(s) > s->svc->outq || s->ahead_len >= TN_AHEAD_MAX / 2)) {
        s->paused = true;
        pops(s)->conn_pause(pctx(s), s->conn, true);
    }
}

static void sess_drained(void *self)
{
    tn_sess_t *s = self;
    if (s->paused && !s->closing && s->ahead_len < TN_AHEAD_MAX / 2) {
        s->paused = false;
        pops(s)->conn_pause(pctx(s), s->conn, false);
    }
    pump_log(s); // a dropped-lines note can go now
}

static void sess_free(tn_sess_t *s)
{
    tn_svc_t *v = s->svc;
    if (s->eval_pending)
        sw_node_call_cancel(v->n, s->eval_seq);
    for (tn_sess_t **pp = &v->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (!s->uncounted)
        v->nsess--;
    if (!v->sessions)
        sw_timer_stop(v->n, &v->poll);
    telnet_free(s->tn);
    sw_node_release(v->n, s, sizeof *s);
}

static void sess_closed(void *self, int err)
{
    tn_sess_t *s = self;
    sw_log(s->svc->n, SW_LOG_INFO, "telnet %s: closed%s%s", s->peer, err ? ": " : "", err ? sw_strerror(err) : "");
    sess_free(s);
}

static const sw_conn_ops_t sess_ops = {sess_data, sess_drained, sess_closed};

static void banner(tn_sess_t *s)
{
    sw_node_t *n = s->svc->n;
    outf(s, "swarm-node %s on %s: app %s, board %s\n", SW_VERSION_STRING, n->host_name,
         n->app_name[0] ? n->app_name : "(none)", n->hardware_name);
    outs(s, "Lua REPL with the live log. :help lists the commands; Ctrl-C stops the app's tasks.\n");
    if (s->svc->maint)
        outs(s, "Maintenance mode: the app's tasks are stopped (:start runs the app again).\n");
}

static void tn_accept(sw_node_t *n, sw_service_t *sv, sw_listener_t *l, sw_conn_t *conn)
{
    (void)l;
    tn_svc_t *v = (tn_svc_t *)sv;
    char peer[64];
    n->port.ops->conn_peer(n->port.ctx, conn, peer, sizeof peer);
    conn->user = NULL;
    if (v->nsess >= v->max_sess) {
        // sessions that have entered a line keep their slots: the oldest silent one makes room
        tn_sess_t *old = NULL;
        for (tn_sess_t *s = v->sessions; s; s = s->next)
            if (!s->proven && !s->closing)
                old = s; // the list is newest first
        if (old) {
            sw_log(n, SW_LOG_WARN, "telnet %s: closed to make room for %s (no line entered yet)", old->peer, peer);
            sess_close(old);
            v->nsess--; // its slot is free now; sess_free does not count it again
            old->uncounted = true;
        }
    }
    if (v->nsess >= v->max_sess) {
        char msg[80];
        int k = snprintf(msg, sizeof msg, "Too many telnet sessions (at most %u).\r\n", v->max_sess);
        n->port.ops->conn_write(n->port.ctx, conn, msg, (size_t)k);
        n->port.ops->conn_close(n->port.ctx, conn);
        sw_log(n, SW_LOG_WARN, "telnet: refused %s: %u sessions open (telnet.clients)", peer, v->nsess);
        return;
    }
    tn_sess_t *s = sw_node_alloc(n, sizeof *s);
    telnet_t *tn = s ? telnet_init(telopts, tn_event, 0, s) : NULL;
    if (!tn) {
        if (s)
            sw_node_release(n, s, sizeof *s);
        sw_log(n, SW_LOG_ERROR, "telnet: refused %s: out of memory", peer);
        n->port.ops->conn_close(n->port.ctx, conn);
        return;
    }
    s->ops = &sess_ops;
    s->svc = v;
    s->conn = conn;
    s->tn = tn;
    s->log_on = true;
    memcpy(s->peer, peer, sizeof peer);
    s->opened = sw_node_now(n);
    s->next = v->sessions;
    v->sessions = s;
    v->nsess++;
    conn->user = s;
    sw_log(n, SW_LOG_INFO, "telnet %s: session opened", peer);
    s->log_pos = sw_log_end(n); // from here on: what is logged after the session opened
    telnet_negotiate(tn, TELNET_WILL, TELNET_TELOPT_ECHO);
    telnet_negotiate(tn, TELNET_WILL, TELNET_TELOPT_SGA);
    banner(s);
    show_prompt(s);
    if (!v->poll.armed)
        sw_timer_start(n, &v->poll, TN_POLL_MS);
}

static void tn_stop(sw_node_t *n, sw_service_t *sv)
{
    tn_svc_t *v = (tn_svc_t *)sv;
    if (v->listener)
        n->port.ops->listener_close(n->port.ctx, v->listener);
    sw_timer_stop(n, &v->poll);
    // Sessions are told, detached (the port will not call us again) and freed now: the
    // service goes away with them.
    while (v->sessions) {
        tn_sess_t *s = v->sessions;
        if (!s->closing) {
            hide_prompt(s);
            outs(s, "*** the node is stopping ***\n");
        }
        s->conn->user = NULL;
        sess_close(s);
        sess_free(s);
    }
    sw_node_service_remove(n, sv);
    sw_node_release(n, v, sizeof *v);
}

int sw_telnet_start(sw_node_t *n)
{
    if (!sw_node_service_on(n, "telnet"))
        return 0;
    int64_t port = sw_cfg_int(&n->cfg, "boot.TELNET_PORT", 23);
    int64_t clients = sw_cfg_int(&n->cfg, "telnet.clients", TN_CLIENTS_DEFAULT);
    int64_t idle = sw_cfg_int(&n->cfg, "telnet.idle_ms", TN_IDLE_DEFAULT);
    if (idle < 100 || idle > 86400000)
        return SW_ERANGE;
    int64_t outq = sw_cfg_int(&n->cfg, "telnet.outq", TN_OUTQ_DEFAULT);
    if (port <= 0 || port > 65535 || clients < 1 || clients > 64 || outq < 1024 || outq > (16 << 20))
        return SW_ERANGE;
    tn_svc_t *v = sw_node_alloc(n, sizeof *v);
    if (!v)
        return SW_EFULL;
    v->s.name = "telnet";
    v->s.accept = tn_accept;
    v->s.stop = tn_stop;
    v->n = n;
    v->max_sess = (unsigned)clients;
    v->idle_ms = (uint32_t)idle;
    v->outq = (size_t)outq;
    v->poll.fn = poll_fire;
    v->poll.user = v;
    int rc = sw_node_listen(n, &v->s, (uint16_t)port, &v->listener);
    if (rc) {
        sw_node_release(n, v, sizeof *v);
        return rc;
    }
    sw_node_service_add(n, &v->s);
    return 0;
}

const sw_part_t sw_part_telnet = {.name = "telnet", .serve = sw_telnet_start};

#endif // SW_WITH_TELNET
