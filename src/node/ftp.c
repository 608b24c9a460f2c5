// The node's FTP server (micro-swarm's auftpd, minus its bugs): the service, control sessions
// and their commands, and the hot reload of the app after uploads into apps/{app}/. Each
// session has its own state (working directory, rename source, restart offset, passive
// listener, transfer). Transfers and listings live in ftp_data.c; the command-line parsing and
// reply formats in src/core/ftp.c. No login: see docs/PROTOCOL.md, "FTP", for what that means.
#include "profile.h"
#if SW_WITH_FTP
#include <stdio.h>
#include <string.h>

#include "fs_int.h"
#include "ftp_int.h"
#include "net_part.h"

static const sw_port_ops_t *ops(const sw_ftp_sess_t *s) { return s->n->port.ops; }

// ASCII case-insensitive a[0..n) == word (n == strlen(word)).
static bool word_is(const char *a, size_t n, const char *word)
{
    if (n != strlen(word))
        return false;
    for (size_t k = 0; k < n; k++)
        if ((a[k] & ~0x20) != (word[k] & ~0x20))
            return false;
    return true;
}
static void *pctx(const sw_ftp_sess_t *s) { return s->n->port.ctx; }

///////////////////////////////////////////////////////////////////////////////////////////////
// Replies

static void close_session(sw_ftp_sess_t *s);

void sw__ftp_send(sw_ftp_sess_t *s, const char *p, size_t n)
{
    if (s->closing)
        return;
    // A reply the port has no room for means the client does not read its control
    // connection: end the session rather than lose a reply it would wait for.
    if (ops(s)->conn_write(pctx(s), s->conn, p, n) == SW_EAGAIN) {
        sw_log(s->n, SW_LOG_WARN, "ftp %s: client does not read its replies, closing", s->peer);
        close_session(s);
    }
}

void sw__ftp_reply(sw_ftp_sess_t *s, const char *fmt, ...)
{
    char *buf = s->srv->reply; // the arguments may be in arg or aux, never here
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, SW_FTP_REPLY_MAX - 2, fmt, ap);
    va_end(ap);
    size_t n = k < 0 ? 0 : (size_t)k < SW_FTP_REPLY_MAX - 2 ? (size_t)k : SW_FTP_REPLY_MAX - 3;
    for (size_t i = 0; i < n; i++) // a path with CR or LF must not end the reply early
        if ((uint8_t)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    buf[n++] = '\r';
    buf[n++] = '\n';
    sw__ftp_send(s, buf, n);
}

static const char *why(int err)
{
    switch (err) {
    case SW_ENOENT: return "no such file or directory";
    case SW_EEXIST: return "already exists";
    case SW_ENOTDIR: return "not a directory";
    case SW_EISDIR: return "is a directory";
    case SW_ENOTEMPTY: return "directory not empty";
    case SW_EPERM: return "not permitted";
    case SW_EINVAL: return "invalid name";
    case SW_ETOOBIG: return "name too long";
    case SW_EFULL: return "out of resources";
    default: return sw_strerror(err);
    }
}

void sw__ftp_fail(sw_ftp_sess_t *s, int code, const char *p, int err)
{
    sw__ftp_reply(s, "%d Fail: /%s: %s.", code, p, why(err));
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Hot reload: changes in apps/{running app}/ restart the app once uploads have gone quiet.

void sw__ftp_changed(sw_ftp_srv_t *srv, const char *p)
{
    const char *app = srv->n->app_name;
    size_t al = strlen(app);
    if (!al || strncmp(p, "apps/", 5) != 0 || strncmp(p + 5, app, al) != 0 ||
        (p[5 + al] && p[5 + al] != '/'))
        return;
    sw_timer_start(srv->n, &srv->reload, SW_FTP_RELOAD_MS);
}

static void reload_fire(sw_node_t *n, sw_timer_t *t)
{
    sw_ftp_srv_t *srv = t->user;
    for (sw_ftp_sess_t *s = srv->sessions; s; s = s->next)
        if (s->kind == SW_FTPX_STOR) { // an upload is still running: wait for it
            sw_timer_start(n, t, SW_FTP_RELOAD_MS);
            return;
        }
    sw_log(n, SW_LOG_INFO, "ftp: apps/%s changed: reloading the app", n->app_name);
    sw_node_app_restart(n, "ftp");
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Sessions

bool sw__ftp_hidden(const char *name, bool *ours)
{
    size_t len = strlen(name), tl = sizeof SW_FTP_TMP_TAG - 1;
    *ours = false;
    if (name[0] != '.')
        return false;
    size_t k = len;
    while (k > 0 && name[k - 1] >= '0' && name[k - 1] <= '9')
        k--;
    if (k < len && k >= tl + 2 && !memcmp(name + k - tl, SW_FTP_TMP_TAG, tl)) {
        *ours = true;
        return true;
    }
    return sw__fs_is_tmp_name(name, len);
}

void sw__ftp_touch(sw_ftp_sess_t *s) { s->last = sw_node_now(s->n); }

static void close_session(sw_ftp_sess_t *s)
{
    if (s->closing)
        return;
    sw__ftp_xfer_abort(s, 0, NULL);
    sw__ftp_data_drop(s);
    ops(s)->conn_close(pctx(s), s->conn); // what is queued (the last reply) goes out first
    s->closing = true;
}

static void idle_fire(sw_node_t *n, sw_timer_t *t)
{
    sw_ftp_sess_t *s = t->user;
    uint32_t quiet = sw_node_now(n) - s->last, idle = s->srv->idle_ms;
    if (s->closing)
        return;
    if ((int32_t)(quiet - idle) < 0) {
        sw_timer_start(n, t, idle - quiet);
        return;
    }
    sw_log(n, SW_LOG_INFO, "ftp %s: idle for %u s, closing", s->peer, (unsigned)(idle / 1000));
    sw__ftp_reply(s, "421 Idle timeout (%u s), closing.", (unsigned)(idle / 1000));
    close_session(s);
}

static void srv_release(sw_ftp_srv_t *srv)
{
    sw_timer_stop(srv->n, &srv->reload);
    sw_node_release(srv->n, srv, sizeof *srv);
}

static void ctl_closed(void *self, int err)
{
    sw_ftp_sess_t *s = self;
    sw_ftp_srv_t *srv = s->srv;
    sw_node_t *n = s->n;
    (void)err;
    if (!s->closing) {
        s->closing = true;
        sw__ftp_xfer_abort(s, 0, NULL);
        sw__ftp_data_drop(s);
    }
    sw_timer_stop(n, &s->idle);
    sw_timer_stop(n, &s->xtimer);
    for (sw_ftp_sess_t **pp = &srv->sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    srv->nsess--;
    sw_log(n, SW_LOG_DEBUG, "ftp %s: session closed", s->peer);
    if (s->chunk)
        sw_node_release(n, s->chunk, SW_FTP_CHUNK);
    sw_node_release(n, s, sizeof *s);
    if (srv->stopped && !srv->nsess)
        srv_release(srv);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Commands

// Resolves the argument against the working directory into out[SW_FTP_PATH_MAX]; replies 550
// and returns false if it cannot be.
static bool resolve(sw_ftp_sess_t *s, const char *arg, size_t n, char *out)
{
    int rc = sw_ftp_path(s->cwd, arg, n, out, SW_FTP_PATH_MAX);
    if (rc >= 0)
        return true;
    const char *text = rc == SW_EPERM ? "outside the root" : rc == SW_ETOOBIG ? "path too long" : "invalid path";
    sw__ftp_reply(s, "550 Fail: %.*s: %s.", (int)(n > 200 ? 200 : n), arg, text);
    return false;
}

static int stat_path(sw_ftp_sess_t *s, const char *p, sw_stat_t *st)
{
    memset(st, 0, sizeof *st);
    int rc = ops(s)->fs_stat(pctx(s), p, st);
    if (!rc && st->type != SW_FT_FILE && st->type != SW_FT_DIR)
        rc = SW_EPERM; // symlinks, devices: never served
    return rc;
}

static void cmd_feat(sw_ftp_sess_t *s)
{
    char facts[64];
    sw_ftp_fmt_fact_names(facts, sizeof facts, s->facts, true);
    sw__ftp_reply(s, "211-Features:");
    static const char *const feats[] = {" EPSV", " MDTM", NULL, " PASV", " REST STREAM",
                                        " SIZE", " TVFS", " UTF8"};
    for (size_t k = 0; k < sizeof feats / sizeof feats[0]; k++) {
        if (feats[k])
            sw__ftp_reply(s, "%s", feats[k]);
        else
            sw__ftp_reply(s, " MLST %s", facts);
    }
    sw__ftp_reply(s, "211 End");
}

static void cmd_opts(sw_ftp_sess_t *s, const char *a, size_t n)
{
    size_t w = 0;
    while (w < n && a[w] != ' ')
        w++;
    size_t r = w;
    while (r < n && a[r] == ' ')
        r++;
    if (word_is(a, w, "UTF8")) {
        sw__ftp_reply(s, "200 OK, UTF-8 is always on.");
    } else if (word_is(a, w, "MLST")) {
        char facts[64];
        s->facts = sw_ftp_parse_facts(a + r, n - r);
        sw_ftp_fmt_fact_names(facts, sizeof facts, s->facts, false);
        sw__ftp_reply(s, "200 MLST OPTS %s", facts);
    } else {
        sw__ftp_reply(s, "501 Fail: option not supported.");
    }
}

static void cmd_type(sw_ftp_sess_t *s, const char *a, size_t n)
{
    // Transfers are always binary (as micro-swarm's): A is accepted, nothing is converted.
    char t = n ? (char)(a[0] & ~0x20) : 0;
    if ((t == 'A' || t == 'I') && (n == 1 || (n >= 3 && a[1] == ' ')))
        sw__ftp_reply(s, "200 OK");
    else if (t == 'L' && n == 3 && a[1] == ' ' && a[2] == '8')
        sw__ftp_reply(s, "200 OK");
    else
        sw__ftp_reply(s, "504 Fail: type not supported.");
}

static void cmd_stat(sw_ftp_sess_t *s, const char *a, size_t n)
{
    static const char *const what[] = {"", "listing", "listing", "listing", "sending", "receiving"};
    if (s->kind != SW_FTPX_NONE) {
        sw__ftp_reply(s, "213 Status: %s /%s, %llu bytes so far.", what[s->kind], s->path,
                      (unsigned long long)s->count);
        return;
    }
    const char *o, *p;
    size_t on, pn;
    sw_ftp_list_arg(a, n, &o, &on, &p, &pn);
    char *path = s->srv->arg; // dispatch holds no path for STAT
    if (n) {
        if (resolve(s, p, pn, path))
            sw__ftp_stat_list(s, path);
        return;
    }
    sw__ftp_reply(s, "211-swarm-node FTP server status:");
    sw__ftp_reply(s, "    Connected to %s", s->peer);
    sw__ftp_reply(s, "    Working directory /%s", s->cwd);
    sw__ftp_reply(s, "    TYPE: Binary, STRU: File, MODE: Stream");
    sw__ftp_reply(s, "    Data: %s", s->pasv || s->data ? "passive, ready" : "none (use PASV or EPSV)");
    sw__ftp_reply(s, "    Sessions: %u of %u", (unsigned)s->srv->nsess, (unsigned)s->srv->max_sess);
    sw__ftp_reply(s, "211 End of status.");
}

static void cmd_mlst(sw_ftp_sess_t *s, const char *p)
{
    sw_stat_t st;
    int rc = stat_path(s, p, &st);
    if (rc) {
        sw__ftp_fail(s, 550, p, rc);
        return;
    }
    char *full = s->srv->aux, *line = full + SW_FTP_PATH_MAX + 1;
    snprintf(full, SW_FTP_PATH_MAX + 1, "/%s", p);
    sw_ftp_entry_t e = {full, st.type, st.size, st.mtime};
    size_t k = sw_ftp_fmt_facts(line, SW_FTP_PATH_MAX + 128, &e, s->facts);
    if (!k) {
        sw__ftp_reply(s, "550 Fail: cannot list this name.");
        return;
    }
    sw__ftp_reply(s, "250-Listing /%s", p);
    sw__ftp_send(s, " ", 1);
    sw__ftp_send(s, line, k);
    sw__ftp_reply(s, "250 End");
}

static void cmd_help(sw_ftp_sess_t *s)
{
    sw__ftp_reply(s, "214-Commands:");
    char line[128];
    size_t k = 0;
    for (int v = 1; v < SW_FTP_NVERBS; v++) {
        if (v == SW_FTP_PORT || v == SW_FTP_EPRT)
            continue;
        k += (size_t)snprintf(line + k, sizeof line - k, " %s", sw_ftp_verb_name((sw_ftp_verb_t)v));
        if (k > 60 || v == SW_FTP_NVERBS - 1) {
            sw__ftp_reply(s, "%s", line);
            k = 0;
        }
    }
    sw__ftp_reply(s, "214 Help OK.");
}

// The working directory or a path argument of a file command; false if it was refused.
static bool arg_path(sw_ftp_sess_t *s, const sw_ftp_cmd_t *c, char *p, bool required)
{
    if (!c->arg_len && required) {
        sw__ftp_reply(s, "501 Fail: %s needs a path.", c->name);
        return false;
    }
    return resolve(s, c->arg, c->arg_len, p);
}

static void dispatch(sw_ftp_sess_t *s, const sw_ftp_cmd_t *c)
{
    sw_node_t *n = s->n;
    char *p = s->srv->arg;
    sw_stat_t st;
    int rc;
    bool keep_rnfr = false;
    switch (c->verb) {
    case SW_FTP_USER:
    case SW_FTP_PASS:
        sw__ftp_reply(s, "230 Logged in.");
        break;
    case SW_FTP_SYST: sw__ftp_reply(s, "215 UNIX Type: L8"); break;
    case SW_FTP_FEAT: cmd_feat(s); break;
    case SW_FTP_OPTS: cmd_opts(s, c->arg, c->arg_len); break;
    case SW_FTP_HELP: cmd_help(s); break;
    case SW_FTP_NOOP: sw__ftp_reply(s, "200 OK"); break;
    case SW_FTP_ALLO: sw__ftp_reply(s, "202 No storage allocation necessary."); break;
    case SW_FTP_TYPE: cmd_type(s, c->arg, c->arg_len); break;
    case SW_FTP_MODE:
        if (c->arg_len == 1 && (c->arg[0] & ~0x20) == 'S')
            sw__ftp_reply(s, "200 OK");
        else
            sw__ftp_reply(s, "504 Fail: only MODE S (stream).");
        break;
    case SW_FTP_STRU:
        if (c->arg_len == 1 && (c->arg[0] & ~0x20) == 'F')
            sw__ftp_reply(s, "200 OK");
        else
            sw__ftp_reply(s, "504 Fail: only STRU F (file).");
        break;
    case SW_FTP_QUIT:
        sw__ftp_reply(s, "221 Bye.");
        close_session(s);
        break;
    case SW_FTP_PWD: {
        char *full = s->srv->aux, *q = full + SW_FTP_PATH_MAX + 1;
        snprintf(full, SW_FTP_PATH_MAX + 1, "/%s", s->cwd);
        sw_ftp_fmt_quoted(q, 2 * SW_FTP_PATH_MAX + 4, full);
        sw__ftp_reply(s, "257 %s", q);
        break;
    }
    case SW_FTP_CWD:
        if (!arg_path(s, c, p, false))
            break;
        rc = stat_path(s, p, &st);
        if (!rc && st.type != SW_FT_DIR)
            rc = SW_ENOTDIR;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        memcpy(s->cwd, p, sizeof s->cwd);
        sw__ftp_reply(s, "250 OK");
        break;
    case SW_FTP_CDUP: {
        char *slash = strrchr(s->cwd, '/');
        if (slash)
            *slash = 0;
        else
            s->cwd[0] = 0; // at the root it stays there, as micro-swarm's
        sw__ftp_reply(s, "250 OK");
        break;
    }
    case SW_FTP_PASV: sw__ftp_pasv(s, false); break;
    case SW_FTP_EPSV:
        if (word_is(c->arg, c->arg_len, "ALL"))
            sw__ftp_reply(s, "200 EPSV ALL accepted.");
        else if (c->arg_len && !(c->arg_len == 1 && c->arg[0] == '1'))
            sw__ftp_reply(s, "522 Network protocol not supported, use (1)");
        else
            sw__ftp_pasv(s, true);
        break;
    case SW_FTP_PORT:
    case SW_FTP_EPRT:
        // The node never opens connections itself (the port contract has no connect), and
        // active mode lets a client aim the node's traffic anywhere: passive only.
        sw__ftp_reply(s, "502 Active mode is not supported: use PASV or EPSV.");
        break;
    case SW_FTP_LIST:
    case SW_FTP_NLST: {
        const char *o, *a;
        size_t on, an;
        sw_ftp_list_arg(c->arg, c->arg_len, &o, &on, &a, &an);
        if (resolve(s, a, an, p))
            sw__ftp_list(s, c->verb == SW_FTP_LIST || memchr(o, 'l', on) ? SW_FTPX_LIST : SW_FTPX_NLST, p);
        break;
    }
    case SW_FTP_MLSD:
        if (arg_path(s, c, p, false))
            sw__ftp_list(s, SW_FTPX_MLSD, p);
        break;
    case SW_FTP_MLST:
        if (arg_path(s, c, p, false))
            cmd_mlst(s, p);
        break;
    case SW_FTP_RETR:
        if (arg_path(s, c, p, true))
            sw__ftp_retr(s, p);
        break;
    case SW_FTP_STOR:
    case SW_FTP_APPE:
        if (arg_path(s, c, p, true))
            sw__ftp_stor(s, p, c->verb == SW_FTP_APPE);
        break;
    case SW_FTP_REST: {
        uint64_t v;
        if (sw_ftp_parse_u64(c->arg, c->arg_len, &v)) {
            sw__ftp_reply(s, "501 Fail: REST needs a byte offset.");
            break;
        }
        s->rest = v;
        sw__ftp_reply(s, "350 Restarting at %llu. Send RETR or STOR.", (unsigned long long)v);
        break;
    }
    case SW_FTP_SIZE:
    case SW_FTP_MDTM:
        if (!arg_path(s, c, p, true))
            break;
        rc = stat_path(s, p, &st);
        if (!rc && c->verb == SW_FTP_SIZE && st.type != SW_FT_FILE)
            rc = SW_EISDIR;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
        } else if (c->verb == SW_FTP_SIZE) {
            sw__ftp_reply(s, "213 %llu", (unsigned long long)st.size);
        } else {
            char t[16];
            sw_ftp_fmt_time(t, sizeof t, st.mtime);
            sw__ftp_reply(s, "213 %s", t);
        }
        break;
    case SW_FTP_DELE:
        if (!arg_path(s, c, p, true))
            break;
        rc = stat_path(s, p, &st);
        if (!rc && st.type == SW_FT_DIR)
            rc = SW_EISDIR;
        if (!rc)
            rc = ops(s)->fs_unlink(pctx(s), p);
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        sw_log(n, SW_LOG_INFO, "ftp %s: deleted /%s", s->peer, p);
        sw__ftp_changed(s->srv, p);
        sw__ftp_reply(s, "250 OK");
        break;
    case SW_FTP_MKD:
        if (!arg_path(s, c, p, true))
            break;
        rc = p[0] ? ops(s)->fs_mkdir(pctx(s), p) : SW_EEXIST;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        sw__ftp_changed(s->srv, p);
        {
            char *full = s->srv->aux, *q = full + SW_FTP_PATH_MAX + 1;
            snprintf(full, SW_FTP_PATH_MAX + 1, "/%s", p);
            sw_ftp_fmt_quoted(q, 2 * SW_FTP_PATH_MAX + 4, full);
            sw__ftp_reply(s, "257 %s created.", q);
        }
        break;
    case SW_FTP_RMD:
        if (!arg_path(s, c, p, true))
            break;
        rc = p[0] ? ops(s)->fs_rmdir(pctx(s), p) : SW_EPERM;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        sw__ftp_changed(s->srv, p);
        sw__ftp_reply(s, "250 OK");
        break;
    case SW_FTP_RNFR:
        if (!arg_path(s, c, p, true))
            break;
        rc = p[0] ? stat_path(s, p, &st) : SW_EPERM;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        memcpy(s->rnfr, p, sizeof s->rnfr);
        keep_rnfr = true;
        sw__ftp_reply(s, "350 Rename from");
        break;
    case SW_FTP_RNTO:
        if (!s->has_rnfr) {
            sw__ftp_reply(s, "503 Fail: send RNFR first.");
            break;
        }
        if (!arg_path(s, c, p, true))
            break;
        rc = p[0] ? ops(s)->fs_rename(pctx(s), s->rnfr, p) : SW_EPERM;
        if (rc) {
            sw__ftp_fail(s, 550, p, rc);
            break;
        }
        sw_log(n, SW_LOG_INFO, "ftp %s: renamed /%s to /%s", s->peer, s->rnfr, p);
        sw__ftp_changed(s->srv, s->rnfr);
        sw__ftp_changed(s->srv, p);
        sw__ftp_reply(s, "250 OK");
        break;
    case SW_FTP_SITE:
        // micro-swarm ran SITE's argument as Python; lftp sends SITE UTIME after each upload
        // and ignores the failure. Nothing here ever runs code.
        sw__ftp_reply(s, "550 Fail: SITE commands are not supported.");
        break;
    case SW_FTP_STAT: cmd_stat(s, c->arg, c->arg_len); break;
    case SW_FTP_ABOR: sw__ftp_reply(s, "225 No transfer to abort."); break;
    default: sw__ftp_reply(s, "502 Unsupported command."); break;
    }
    s->has_rnfr = keep_rnfr;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Input

static void keep(sw_ftp_sess_t *s, const uint8_t *p, size_t n)
{
    if (n > sizeof s->inq - s->inq_len) {
        sw_log(s->n, SW_LOG_WARN, "ftp %s: too much input during a transfer, closing", s->peer);
        sw__ftp_reply(s, "421 Too much input during a transfer, closing.");
        close_session(s);
        return;
    }
    memcpy(s->inq + s->inq_len, p, n);
    s->inq_len += n;
    if (!s->paused) {
        s->paused = true;
        ops(s)->conn_pause(pctx(s), s->conn, true);
    }
}

// The complete line in s->lines: run it, or hold it until the transfer ends (only ABOR and
// STAT are answered during a transfer, as RFC 959 has it).
static void on_line(sw_ftp_sess_t *s)
{
    sw_ftp_cmd_t c;
    int rc = sw_ftp_parse(s->lines.buf, s->lines.len, &c);
    if (rc) {
        sw__ftp_reply(s, s->lines.len ? "500 Fail: syntax error." : "500 Fail: empty command.");
        return;
    }
    if (s->kind != SW_FTPX_NONE) {
        if (c.verb == SW_FTP_ABOR) {
            sw__ftp_xfer_abort(s, 426, "Transfer aborted.");
            sw__ftp_reply(s, "226 ABOR successful.");
            return;
        }
        if (c.verb != SW_FTP_STAT) {
            s->held = true;
            return;
        }
    }
    sw_log(s->n, SW_LOG_DEBUG, "ftp %s: %s%s%.*s", s->peer, c.name, c.arg_len ? " " : "",
           c.verb == SW_FTP_PASS ? 3 : (int)(c.arg_len > 200 ? 200 : c.arg_len),
           c.verb == SW_FTP_PASS ? "***" : c.arg);
    dispatch(s, &c);
}

static void feed(sw_ftp_sess_t *s, const uint8_t *p, size_t n)
{
    while (n && !s->closing) {
        if (s->held) {
            keep(s, p, n);
            return;
        }
        size_t used;
        int rc = sw_ftp_lines_feed(&s->lines, p, n, &used);
        p += used;
        n -= used;
        if (rc == 1)
            on_line(s);
        else if (rc == SW_ETOOBIG)
            sw__ftp_reply(s, "500 Fail: line too long (max %u bytes).", (unsigned)SW_FTP_LINE_MAX);
    }
}

void sw__ftp_resume(sw_ftp_sess_t *s)
{
    if (s->closing || s->in_resume)
        return; // the outer call goes on with what is left
    s->in_resume = true;
    if (s->held) {
        s->held = false;
        on_line(s);
    }
    size_t at = 0;
    while (at < s->inq_len && !s->held && !s->closing) {
        size_t used;
        int rc = sw_ftp_lines_feed(&s->lines, s->inq + at, s->inq_len - at, &used);
        at += used;
        if (rc == 1)
            on_line(s);
        else if (rc == SW_ETOOBIG)
            sw__ftp_reply(s, "500 Fail: line too long (max %u bytes).", (unsigned)SW_FTP_LINE_MAX);
    }
    memmove(s->inq, s->inq + at, s->inq_len - at);
    s->inq_len -= at;
    if (!s->held && !s->inq_len && s->paused && !s->closing) {
        s->paused = false;
        ops(s)->conn_pause(pctx(s), s->conn, false);
    }
    s->in_resume = false;
}

static void ctl_data(void *self, const uint8_t *p, size_t n)
{
    sw_ftp_sess_t *s = self;
    if (s->closing)
        return;
    sw__ftp_touch(s);
    if (s->held || s->inq_len)
        keep(s, p, n);
    else
        feed(s, p, n);
}

static const sw_conn_ops_t ctl_ops = {ctl_data, NULL, ctl_closed};

///////////////////////////////////////////////////////////////////////////////////////////////
// The service

static void ftp_accept(sw_node_t *n, sw_service_t *svc, sw_listener_t *l, sw_conn_t *c)
{
    sw_ftp_srv_t *srv = svc->state;
    if (l != srv->ctl) {
        sw__ftp_data_accept(srv, l, c);
        return;
    }
    char peer[64];
    n->port.ops->conn_peer(n->port.ctx, c, peer, sizeof peer);
    sw_ftp_sess_t *s = srv->nsess < srv->max_sess ? sw_node_alloc(n, sizeof *s) : NULL;
    if (!s) {
        char text[80];
        int k = snprintf(text, sizeof text, "421 Too many connections (max %u), try later.\r\n",
                         (unsigned)srv->max_sess);
        n->port.ops->conn_write(n->port.ctx, c, text, (size_t)k);
        n->port.ops->conn_close(n->port.ctx, c);
        sw_log(n, SW_LOG_WARN, "ftp: refused %s: %s", peer,
               srv->nsess < srv->max_sess ? "out of memory" : "too many sessions");
        return;
    }
    s->ops = &ctl_ops;
    s->srv = srv;
    s->n = n;
    s->conn = c;
    s->fd = -1;
    s->facts = SW_FTP_FACTS_ALL;
    memcpy(s->peer, peer, sizeof s->peer);
    n->port.ops->conn_local(n->port.ctx, c, s->local, sizeof s->local);
    sw_ftp_lines_init(&s->lines, s->line, sizeof s->line);
    s->idle.fn = idle_fire;
    s->idle.user = s;
    s->xtimer.user = s;
    s->next = srv->sessions;
    srv->sessions = s;
    srv->nsess++;
    c->user = s;
    sw__ftp_touch(s);
    sw_timer_start(n, &s->idle, srv->idle_ms);
    sw_log(n, SW_LOG_DEBUG, "ftp %s: session opened", peer);
    sw__ftp_reply(s, "220 Hello, this is the swarm-node %s.", n->host_name);
}

static void ftp_stop(sw_node_t *n, sw_service_t *svc)
{
    sw_ftp_srv_t *srv = svc->state;
    if (srv->ctl) {
        n->port.ops->listener_close(n->port.ctx, srv->ctl);
        srv->ctl = NULL;
    }
    sw_timer_stop(n, &srv->reload);
    for (sw_ftp_sess_t *s = srv->sessions; s; s = s->next)
        if (!s->closing) {
            sw__ftp_xfer_abort(s, 426, "Service closing, transfer aborted.");
            sw__ftp_reply(s, "421 Service closing.");
            close_session(s);
        }
    sw_node_service_remove(n, svc);
    srv->stopped = true;
    if (!srv->nsess)
        srv_release(srv);
}

// A config integer in [lo, hi], else dflt (logged).
static int64_t setting(sw_node_t *n, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    int64_t v = sw_cfg_int(&n->cfg, key, dflt);
    if (v < lo || v > hi) {
        sw_log(n, SW_LOG_WARN, "ftp: %s = %lld is not in %lld...%lld; using %lld", key, (long long)v,
               (long long)lo, (long long)hi, (long long)dflt);
        v = dflt;
    }
    return v;
}

int sw_ftp_start(sw_node_t *n)
{
    if (!sw_node_service_on(n, "ftp"))
        return 0;
    int64_t port = sw_cfg_int(&n->cfg, "boot.FTPD_PORT", SW_FTP_DEF_PORT);
    if (port < 1 || port > 65535) {
        sw_log(n, SW_LOG_ERROR, "ftp: boot.FTPD_PORT = %lld is not a port", (long long)port);
        return SW_ERANGE;
    }
    sw_ftp_srv_t *srv = sw_node_alloc(n, sizeof *srv);
    if (!srv)
        return SW_EFULL;
    srv->n = n;
    srv->max_sess = (uint16_t)setting(n, "ftp.max_sessions", SW_FTP_DEF_SESSIONS, 1, 1000);
    srv->idle_ms = (uint32_t)setting(n, "ftp.idle_s", SW_FTP_DEF_IDLE_S, 1, 86400) * 1000u;
    int64_t lo = setting(n, "ftp.pasv_min", 0, 0, 65535), hi = setting(n, "ftp.pasv_max", 0, 0, 65535);
    if ((lo || hi) && (!lo || !hi || lo > hi)) {
        sw_log(n, SW_LOG_WARN, "ftp: passive range %lld...%lld is not usable; any free port is used",
               (long long)lo, (long long)hi);
        lo = hi = 0;
    }
    srv->pasv_min = srv->pasv_next = (uint16_t)lo;
    srv->pasv_max = (uint16_t)hi;
    n->port.ops->random(n->port.ctx, &srv->tmp_seq, sizeof srv->tmp_seq);
    srv->tmp_seq %= 1000000u;
    srv->reload.fn = reload_fire;
    srv->reload.user = srv;
    srv->svc.name = "ftp";
    srv->svc.accept = ftp_accept;
    srv->svc.stop = ftp_stop;
    srv->svc.state = srv;
    int rc = sw_node_listen(n, &srv->svc, (uint16_t)port, &srv->ctl);
    if (rc) {
        sw_node_release(n, srv, sizeof *srv);
        return rc;
    }
    sw_node_service_add(n, &srv->svc);
    return 0;
}

const sw_part_t sw_part_ftp = {.name = "ftp", .serve = sw_ftp_start};

#endif // SW_WITH_FTP
