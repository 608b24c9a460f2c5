// swarm dashboard: the server (dash.h): pages, their calls, pushes (the node table is
// dash_fleet.c). libwebsockets serves the page and its WebSocket on the
// dashboard's libuv loop (a foreign loop to lws); the same loop runs the discovery socket, the
// links to the nodes and pushes. Pages never talk to nodes themselves: every request goes
// through sw_dash_req_parse, then through a link the dashboard owns, with the host's keys.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "dash.h"
#include "esc.h"
#include "hlink.h"
#include "hsec.h"
#include "mpjson.h"
#include "push.h"
#include "scan.h"
#include "swarm/beacon.h"
#include "swarm/sw.h"
#include "user_config.h"

#include "dash_int.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Sending to pages

static void client_send_text(client_t *c, const char *t, size_t n)
{
    if (!c || c->dropping || c->rx_bad)
        return;
    size_t max = c->d->o->queue_max ? c->d->o->queue_max : SW_DASH_QUEUE_MAX;
    if (c->queued + n > max) {
        // a page that does not read is dropped rather than let its backlog grow: the others
        // are served on
        c->dropping = true;
        if (!c->d->o->quiet)
            fprintf(stderr, "swarm dashboard: a page fell %zu bytes behind: dropped\n", c->queued);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    outmsg_t *m = malloc(sizeof *m + LWS_PRE + n);
    if (!m)
        return;
    m->next = NULL;
    m->len = n;
    memcpy(m->buf + LWS_PRE, t, n);
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->queued += n;
    lws_callback_on_writable(c->wsi);
}

// Sends j (taken) to c.
static void client_send(client_t *c, cJSON *j)
{
    if (!j)
        return;
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!t)
        return;
    client_send_text(c, t, strlen(t));
    cJSON_free(t);
}

void sw__dash_broadcast(dash_t *d, cJSON *j)
{
    if (!j)
        return;
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!t)
        return;
    size_t n = strlen(t);
    for (client_t *c = d->clients; c; c = c->next)
        client_send_text(c, t, n);
    cJSON_free(t);
}

static cJSON *msg_id(int64_t id)
{
    cJSON *j = cJSON_CreateObject();
    if (j)
        cJSON_AddNumberToObject(j, "id", (double)id);
    return j;
}

static void send_error(client_t *c, int64_t id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_error(client_t *c, int64_t id, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cJSON *j = msg_id(id);
    if (!j)
        return;
    if (id < 0)
        cJSON_ReplaceItemInObject(j, "id", cJSON_CreateNull());
    sw__dash_add_str(j, "error", text);
    client_send(c, j);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Links to nodes, calls

static void call_free(dcall_t *k)
{
    dash_t *d = k->d;
    for (dcall_t **pp = &d->calls; *pp; pp = &(*pp)->next)
        if (*pp == k) {
            *pp = k->next;
            break;
        }
    if (k->c)
        k->c->calls--;
    free(k->args);
    free(k);
}

// Said after a link error when a locked node was reached without a key.
static const char *locked_hint(const dnode_t *n, sw_hlink_t *l)
{
    return n->locked && !sw_hlink_secure(l)
               ? " (the node is locked and this host has no key for it: see 'swarm key')"
               : "";
}

// The answer of a node to a page's call, passed on as JSON.
static void on_answer(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    dcall_t *k = u;
    if (!m) {
        if (k->c)
            send_error(k->c, k->id, "%s%s", err == SW_ECLOSED && sw_hlink_error(l)[0]
                                                ? sw_hlink_error(l) : sw_strerror(err),
                       locked_hint(k->n, l));
        call_free(k);
        return;
    }
    cJSON *j = msg_id(k->id);
    bool done = true;
    if (m->kind == SW_MSG_ERROR) {
        int e2 = 0;
        cJSON *e = sw_mp_to_json(m->e.p, m->e.n, &e2);
        char *t = cJSON_IsString(e) ? e->valuestring : NULL;
        sw__dash_add_str(j, "error", t ? t : "error");
        cJSON_Delete(e);
    } else if (m->kind == SW_MSG_END) {
        cJSON_AddBoolToObject(j, "end", true);
    } else {
        int e2 = 0;
        cJSON *v = m->d.n ? sw_mp_to_json(m->d.p, m->d.n, &e2) : cJSON_CreateNull();
        if (!v)
            v = cJSON_CreateString("(the answer cannot be shown as JSON)");
        done = m->kind != SW_MSG_STREAM;
        cJSON_AddItemToObject(j, done ? "reply" : "stream", v);
    }
    if (k->c)
        client_send(k->c, j);
    else
        cJSON_Delete(j);
    if (done)
        call_free(k);
}

// A locked node on a lossless line of a host without its key: it reads nothing but a handshake.
static void send_nokey_locked(dcall_t *k)
{
    if (k->c)
        send_error(k->c, k->id, "%s: " SW_KEY_LOCKED_TEXT ": %s",
                   k->n->name[0] ? k->n->name : k->n->key, sw_key_missing_hint());
}

// The probe's answer (on_tick started it): a locked node fails every call of the node with the
// reason; an open one leaves the timed-out calls to the next tick ("no answer").
static void on_probe(void *u, sw_hlink_t *l, bool locked)
{
    dnode_t *n = u;
    n->probing = false;
    if (!locked)
        return;
    n->nokey_locked = true;
    if (!n->locked) { // the row shows it (before the answers that say so)
        n->locked = true;
        sw__dash_node_changed(n);
    }
    for (dcall_t *k = n->d->calls, *nx; k; k = nx) {
        nx = k->next;
        if (k->n != n)
            continue;
        if (k->seq)
            sw_hlink_cancel(l, k->seq);
        send_nokey_locked(k);
        call_free(k);
    }
}

static void call_send(dcall_t *k)
{
    dnode_t *n = k->n;
    if (n->nokey_locked) {
        send_nokey_locked(k);
        call_free(k);
        return;
    }
    sw_span_t args = {k->args, k->args_len};
    int64_t seq = sw_hlink_call(n->link, k->path, args, k->every_ms, on_answer, k);
    free(k->args);
    k->args = NULL;
    if (seq < 0) {
        // (refused on the host, e.g. a change to a node that answered open: the link says why)
        if (k->c)
            send_error(k->c, k->id, "%s", (seq == SW_EAUTH || seq == SW_ECLOSED) && sw_hlink_error(n->link)[0]
                                              ? sw_hlink_error(n->link) : sw_strerror((int)seq));
        call_free(k);
        return;
    }
    k->seq = seq;
}

// Fails the calls waiting for n's link to come up (those already sent hear it from the link).
void sw__dash_calls_fail_node(dnode_t *n, const char *why)
{
    dash_t *d = n->d;
    for (dcall_t *k = d->calls, *nx; k; k = nx) {
        nx = k->next;
        if (k->n == n && !k->seq) {
            if (k->c)
                send_error(k->c, k->id, "%s", why);
            call_free(k);
        }
    }
}

static void json_str(char *dst, size_t cap, const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v) && v->valuestring)
        snprintf(dst, cap, "%s", v->valuestring);
}

// The d of a device's answer as JSON, for the caller to delete; NULL when there is none (no
// answer, an error, an empty d, or one that does not decode).
static cJSON *reply_json(const sw_msg_t *m)
{
    if (!m || m->kind != SW_MSG_REPLY || !m->d.n)
        return NULL;
    int err;
    return sw_mp_to_json(m->d.p, m->d.n, &err);
}

// sys.info of a --link or config device (its link just came up): what a beacon would say.
static void on_info(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)err;
    dnode_t *n = u;
    cJSON *j = reply_json(m);
    if (cJSON_IsObject(j)) {
        if (!strcmp(n->source, "link")) // a config device keeps the name the user gave it
            json_str(n->name, sizeof n->name, j, "host_name");
        json_str(n->host, sizeof n->host, j, "host_name");
        json_str(n->app, sizeof n->app, j, "app_name");
        json_str(n->board, sizeof n->board, j, "hardware_name");
        json_str(n->node, sizeof n->node, j, "node");
        const cJSON *up = cJSON_GetObjectItemCaseSensitive(j, "uptime_ms");
        if (cJSON_IsNumber(up) || cJSON_IsRaw(up)) {
            n->has_uptime = true;
            n->uptime_ms = cJSON_IsNumber(up) ? (uint64_t)up->valuedouble
                                              : strtoull(up->valuestring, NULL, 10);
            n->seen = sw__dash_now(n->d);
        }
        n->locked = sw_hlink_secure(l);
        n->swarm = true;
        sw__dash_node_changed(n);
        sw__dash_merge(n); // listed from the LAN before its link said who it is: one row
    }
    cJSON_Delete(j);
}

// sys.beacon of a --link or config device: its swarm id, by which the LAN's or a broker's news
// of it finds its row (two nodes may share a host name; ids are unique).
static void on_beacon_info(void *u, sw_hlink_t *l, const sw_msg_t *m, int err)
{
    (void)l;
    (void)err;
    dnode_t *n = u;
    cJSON *j = reply_json(m);
    if (!j)
        return;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "beacon");
    cJSON *bj = cJSON_IsString(b) ? cJSON_Parse(b->valuestring) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(bj, "swarm"), "id");
    if (cJSON_IsString(id) && id->valuestring[0] && strlen(id->valuestring) < sizeof n->id &&
        strcmp(n->id, id->valuestring)) {
        snprintf(n->id, sizeof n->id, "%s", id->valuestring);
        sw__dash_node_changed(n);
        sw__dash_merge(n);
    }
    cJSON_Delete(bj);
    cJSON_Delete(j);
}

static void on_link_state(void *u, sw_hlink_t *l, bool up, int err)
{
    dnode_t *n = u;
    dash_t *d = n->d;
    n->link_up = up;
    n->probing = n->nokey_locked = false; // (a new connection: ask again when it is silent)
    if (up) {
        for (dcall_t *k = d->calls, *nx; k; k = nx) {
            nx = k->next;
            if (k->n == n && !k->seq)
                call_send(k);
        }
        if (n->fixed) {
            sw__dash_set_online(n, true);
            sw_hlink_call(l, "sys.info", (sw_span_t){0}, 0, on_info, n);
            sw_hlink_call(l, "sys.beacon", (sw_span_t){0}, 0, on_beacon_info, n);
        }
        return;
    }
    char why[400];
    snprintf(why, sizeof why, "%s: %s%s", n->name[0] ? n->name : n->key,
             sw_hlink_error(l)[0] ? sw_hlink_error(l) : sw_strerror(err ? err : SW_ECLOSED),
             locked_hint(n, l));
    sw__dash_calls_fail_node(n, why);
    // a node that dropped its link or cannot be reached is offline until it is heard again
    sw__dash_set_online(n, false);
    if (!n->fixed) {
        sw_hlink_close(l);
        n->link = NULL;
    }
}

// Console bytes of a serial link: passed to every page as text.
static void on_link_console(void *u, sw_hlink_t *l, const uint8_t *p, size_t len)
{
    (void)l;
    dnode_t *n = u;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddStringToObject(j, "ev", "console");
    sw__dash_add_str(j, "node", n->key);
    char *t = malloc(len * 4 + 1);
    if (t) {
        // escaped: a WebSocket text frame must be UTF-8, a device's bytes need not be
        cJSON_AddStringToObject(j, "text", sw__esc_mem(t, len * 4 + 1, p, len));
        free(t);
    }
    sw__dash_broadcast(n->d, j);
}

static int node_link(dnode_t *n, char *err, size_t errcap)
{
    if (n->link)
        return 0;
    if (!n->uri[0]) {
        snprintf(err, errcap, "%s offers no RPC", n->name[0] ? n->name : n->key);
        return SW_ENOTSUP;
    }
    sw_hlink_opts_t lo;
    sw_hlink_opts_default(&lo);
    lo.reconnect = n->fixed;
    lo.connect_timeout_ms = 5000;
    sw_hlink_cbs_t cbs = {.state = on_link_state, .console = on_link_console, .u = n};
    return sw_hlink_open(&n->d->loop, n->uri, &lo, &cbs, &n->link, err, errcap);
}

static void do_call(client_t *c, const sw_dash_req_t *r)
{
    dash_t *d = c->d;
    dnode_t *n = sw__dash_node_find(d, r->node);
    if (!n)
        return send_error(c, r->id, "no node '%s'", r->node);
    if (c->calls >= SW_DASH_CALLS_MAX)
        return send_error(c, r->id, "too many calls in flight (%d): wait for some answers",
                          SW_DASH_CALLS_MAX);
    dcall_t *k = calloc(1, sizeof *k);
    if (!k)
        return send_error(c, r->id, "out of memory");
    k->d = d;
    k->c = c;
    k->n = n;
    k->id = r->id;
    k->every_ms = r->every_ms;
    k->t0 = sw__dash_now(d);
    snprintf(k->path, sizeof k->path, "%s", r->path);
    if (r->args) {
        // MsgPack is never longer than the JSON text it came from, plus a little
        char *t = cJSON_PrintUnformatted(r->args);
        size_t cap = (t ? strlen(t) : 0) + 64;
        cJSON_free(t);
        k->args = malloc(cap);
        sw_mpw_t w;
        sw_mpw_init(&w, k->args, k->args ? cap : 0);
        int rc = k->args ? sw_json_to_mp(r->args, &w) : SW_EFULL;
        if (rc || w.err) {
            free(k->args);
            free(k);
            return send_error(c, r->id, "bad arguments: %s", sw_strerror(rc ? rc : w.err));
        }
        k->args_len = w.len;
    }
    k->next = d->calls;
    d->calls = k;
    c->calls++;
    char err[300];
    int rc = node_link(n, err, sizeof err);
    if (rc) {
        send_error(c, r->id, "%s", err);
        call_free(k);
        return;
    }
    if (n->link_up)
        call_send(k);
}

static void do_cancel(client_t *c, const sw_dash_req_t *r)
{
    for (dcall_t *k = c->d->calls; k; k = k->next)
        if (k->c == c && k->id == r->ref) {
            if (k->seq && k->n->link)
                sw_hlink_cancel(k->n->link, k->seq);
            cJSON *j = msg_id(k->id);
            cJSON_AddBoolToObject(j, "end", true);
            client_send(c, j);
            call_free(k);
            break;
        }
    cJSON *j = msg_id(r->id);
    cJSON_AddBoolToObject(j, "reply", true);
    client_send(c, j);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Push

static cJSON *pdev_json(const dash_t *d, const sw_push_dev_t *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    // the node's key (the engine may rename p->name to the host name it learns)
    sw__dash_add_str(o, "key", d->pkeys[p - d->pdevs]);
    sw__dash_add_str(o, "name", p->name);
    sw__dash_add_str(o, "step", sw_push_step_name(p->step));
    sw__dash_add_str(o, "result", sw_push_res_name(p->res));
    sw__dash_add_str(o, "reason", p->reason);
    sw__dash_add_str(o, "app", p->push_app[0] ? p->push_app : p->app);
    cJSON_AddNumberToObject(o, "bytes", (double)p->bytes_sent);
    cJSON_AddNumberToObject(o, "bytes_total", (double)p->bytes_total);
    cJSON_AddNumberToObject(o, "files", p->files_done);
    cJSON_AddNumberToObject(o, "files_total", p->files_total);
    cJSON_AddBoolToObject(o, "canary", p->canary);
    cJSON *ch = cJSON_AddArrayToObject(o, "changes");
    for (int t = 0; t < p->n_tgt; t++)
        for (size_t i = 0; i < p->tgt[t].n_changes && i < 200; i++) {
            char line[400];
            snprintf(line, sizeof line, "%c %s/%s", p->tgt[t].changes[i].op, p->tgt[t].t,
                     p->tgt[t].changes[i].path);
            { char e[500]; cJSON_AddItemToArray(ch, cJSON_CreateString(sw__esc_str(e, sizeof e, line))); }
        }
    return o;
}

static void on_push_event(void *u, sw_push_dev_t *p)
{
    dash_t *d = u;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddStringToObject(j, "ev", "push");
    cJSON_AddItemToObject(j, "dev", pdev_json(d, p));
    sw__dash_broadcast(d, j);
}

static void on_push_check(uv_check_t *h)
{
    dash_t *d = h->data;
    if (!d->push || !sw_push_done(d->push))
        return;
    uv_check_stop(h);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "ev", "push_done");
    sw__dash_broadcast(d, e);
    cJSON *j = msg_id(d->push_id);
    cJSON *r = cJSON_AddObjectToObject(j, "reply");
    sw__dash_add_str(r, "project", d->push_project);
    cJSON *a = cJSON_AddArrayToObject(r, "devices");
    for (size_t i = 0; i < d->npdevs; i++)
        cJSON_AddItemToArray(a, pdev_json(d, &d->pdevs[i]));
    if (d->push_client)
        client_send(d->push_client, j);
    else
        cJSON_Delete(j);
    sw_push_free(d->push);
    d->push = NULL;
    free(d->pdevs);
    free(d->pkeys);
    d->pdevs = NULL;
    d->pkeys = NULL;
    d->npdevs = 0;
    d->push_client = NULL;
    sw__dash_send_query(d); // the new versions show at once
}

static void do_push(client_t *c, const sw_dash_req_t *r)
{
    dash_t *d = c->d;
    if (d->push)
        return send_error(c, r->id, "a push is running; wait for it to end");
    const char *project = NULL;
    for (size_t i = 0; i < d->o->n_projects; i++) {
        const char *p = d->o->projects[i], *base = strrchr(p, '/');
        base = base && base[1] ? base + 1 : p;
        if (!strcmp(p, r->project) || !strcmp(base, r->project))
            project = p;
    }
    if (!project)
        return send_error(c, r->id, "no project '%s' (start the dashboard with --project DIR)",
                          r->project);
    size_t cap = r->nodes ? (size_t)cJSON_GetArraySize(r->nodes) : d->n;
    sw_push_dev_t *devs = calloc(cap ? cap : 1, sizeof *devs);
    char(*keys)[SW_DASH_KEY_MAX] = calloc(cap ? cap : 1, sizeof *keys);
    if (!devs || !keys) {
        free(devs);
        free(keys);
        return send_error(c, r->id, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < d->n && n < cap; i++) {
        dnode_t *x = d->nodes[i];
        bool want = !r->nodes;
        const cJSON *k;
        if (r->nodes)
            cJSON_ArrayForEach(k, r->nodes) want |= !strcmp(k->valuestring, x->key);
        if (!want || !x->uri[0] || (!r->nodes && !x->online))
            continue;
        memcpy(keys[n], x->key, sizeof keys[n]);
        sw_push_dev_t *p = &devs[n++];
        const char *nm = x->name[0] ? x->name : x->key; // names are cut to the engine's size
        size_t nl = strnlen(nm, sizeof p->name - 1);
        memcpy(p->name, nm, nl);
        p->name[nl] = 0;
        snprintf(p->uri, sizeof p->uri, "%s", x->uri);
        snprintf(p->app, sizeof p->app, "%s", x->app);
        snprintf(p->board, sizeof p->board, "%s", x->board);
        snprintf(p->beacon_hash, sizeof p->beacon_hash, "%s", x->hash);
        p->listed = true;
    }
    if (!n) {
        free(devs);
        free(keys);
        return send_error(c, r->id, "no node to push to (none online, or none of those named)");
    }
    sw_push_opts_t po = {0};
    po.project = project;
    po.canary = r->canary;
    po.max_failures = r->max_failures;
    po.parallel = r->parallel;
    po.dry_run = r->dry_run;
    po.no_quick = r->dry_run; // a dry run shows the differences file by file
    po.grace_ms = -1;
    po.timeout_ms = d->o->timeout_ms;
    po.event = on_push_event;
    po.u = d;
    char err[300];
    int rc = sw_push_new(&d->loop, &po, devs, n, &d->push, err, sizeof err);
    if (rc) {
        free(devs);
        free(keys);
        d->push = NULL;
        return send_error(c, r->id, "%s", err);
    }
    d->pdevs = devs;
    d->pkeys = keys;
    d->npdevs = n;
    d->push_client = c;
    d->push_id = r->id;
    snprintf(d->push_project, sizeof d->push_project, "%s", r->project);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "ev", "push_start");
    cJSON_AddStringToObject(j, "project", r->project);
    cJSON_AddBoolToObject(j, "dry_run", r->dry_run);
    cJSON *a = cJSON_AddArrayToObject(j, "devices");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, pdev_json(d, &devs[i]));
    sw__dash_broadcast(d, j);
    uv_check_start(&d->push_check, on_push_check);
    sw_push_start(d->push);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Pages: requests

static void handle_request(client_t *c, const char *p, size_t n)
{
    sw_dash_req_t r;
    char err[300];
    if (sw_dash_req_parse(p, n, &r, err, sizeof err))
        return send_error(c, r.id, "bad request: %s", err);
    switch (r.op) {
    case SW_DASH_OP_CALL: do_call(c, &r); break;
    case SW_DASH_OP_CANCEL: do_cancel(c, &r); break;
    case SW_DASH_OP_PUSH: do_push(c, &r); break;
    case SW_DASH_OP_FLEET: {
        cJSON *j = sw__dash_fleet_json(c->d);
        cJSON_AddNumberToObject(j, "id", (double)r.id);
        client_send(c, j);
        break;
    }
    }
    sw_dash_req_free(&r);
}

static cJSON *hello_json(dash_t *d)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "ev", "hello");
    char ver[32];
    snprintf(ver, sizeof ver, "%d.%d.%d", SW_VERSION_MAJOR, SW_VERSION_MINOR, SW_VERSION_PATCH);
    cJSON_AddStringToObject(j, "version", ver);
    cJSON_AddBoolToObject(j, "plot", SW_DASH_PLOT);
    cJSON *a = cJSON_AddArrayToObject(j, "projects");
    for (size_t i = 0; i < d->o->n_projects; i++) {
        const char *p = d->o->projects[i], *base = strrchr(p, '/');
        cJSON_AddItemToArray(a, cJSON_CreateString(base && base[1] ? base + 1 : p));
    }
    return j;
}

static void client_gone(client_t *c)
{
    dash_t *d = c->d;
    for (dcall_t *k = d->calls, *nx; k; k = nx) {
        nx = k->next;
        if (k->c != c)
            continue;
        if (k->seq && k->n->link) {
            sw_hlink_cancel(k->n->link, k->seq); // on_answer is not called again
            call_free(k);
        } else if (!k->seq) {
            call_free(k);
        }
    }
    if (d->push_client == c)
        d->push_client = NULL;
    for (client_t **pp = &d->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    d->nclients--;
    while (c->head) {
        outmsg_t *m = c->head;
        c->head = m->next;
        free(m);
    }
    free(c->rx);
    free(c);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// HTTP and WebSocket (libwebsockets)

typedef struct pss {
    client_t *c;               // WebSocket
    const sw_dash_asset_t *a;  // HTTP: the file being sent
    size_t off;
} pss_t;

// Equal in time independent of where they differ (the token).
static bool same(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char x = na != nb;
    for (size_t i = 0; i < na; i++)
        x |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return x == 0;
}

// The host part of "http://HOST:PORT" or "HOST:PORT" into out.
static void host_of(const char *s, char *out, size_t cap)
{
    const char *p = strstr(s, "://");
    p = p ? p + 3 : s;
    size_t n = strcspn(p, "/");
    snprintf(out, cap, "%.*s", (int)n, p);
}

// May this WebSocket connect? The token when one is needed; an Origin (sent by every browser)
// naming this server, so that another web site open in the user's browser cannot drive the
// dashboard; without a token a Host that is a loopback name, so that a DNS name rebound to
// 127.0.0.1 cannot either.
static bool ws_allowed(dash_t *d, struct lws *wsi)
{
    char host[256] = "", origin[256] = "", a[256], b[256];
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) < 0)
        host[0] = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 &&
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) > 0) {
        host_of(origin, a, sizeof a);
        host_of(host, b, sizeof b);
        if (strcasecmp(a, b))
            return false;
    }
    if (!d->need_token) {
        host_of(host, b, sizeof b);
        char *colon = strrchr(b, ':');
        if (colon && !strchr(colon, ']'))
            *colon = 0;
        return sw_dash_is_loopback(b) || !b[0];
    }
    char frag[256];
    for (int i = 0; i < 16; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        if (!strncmp(frag, "token=", 6) && same(frag + 6, d->token))
            return true;
    }
    return false;
}

static int http_file(struct lws *wsi, pss_t *ps, const char *uri)
{
    if (!strcmp(uri, "/") || !strcmp(uri, ""))
        uri = "/index.html";
    const sw_dash_asset_t *a = NULL;
    for (const sw_dash_asset_t *x = sw_dash_assets; x->name; x++)
        if (!strcmp(x->name, uri) && x->len)
            a = x;
    if (!a) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
        return -1;
    }
    unsigned char buf[LWS_PRE + 2048], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    static const char *const hdr[][2] = {
        {"content-security-policy:",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
        {"x-content-type-options:", "nosniff"},
        {"x-frame-options:", "DENY"},
        {"referrer-policy:", "no-referrer"},
        {"cache-control:", "no-store"},
    };
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, a->mime, a->len, &p, end))
        return -1;
    for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)hdr[i][0],
                                        (const unsigned char *)hdr[i][1], (int)strlen(hdr[i][1]),
                                        &p, end))
            return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    ps->a = a;
    ps->off = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static int http_more(struct lws *wsi, pss_t *ps)
{
    static unsigned char buf[LWS_PRE + 16384];
    if (!ps->a)
        return 0;
    size_t left = ps->a->len - ps->off, n = left < 16384 ? left : 16384;
    memcpy(buf + LWS_PRE, ps->a->data + ps->off, n);
    enum lws_write_protocol f = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
    if (lws_write(wsi, buf + LWS_PRE, n, f) != (int)n)
        return -1;
    ps->off += n;
    if (f == LWS_WRITE_HTTP_FINAL) {
        ps->a = NULL;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int ws_rx(client_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx_bad)
        return -1;
    if (lws_frame_is_binary(wsi)) {
        c->rx_bad = true;
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, (unsigned char *)"text only", 9);
        return -1;
    }
    if (c->rx_len + len > SW_DASH_REQ_MAX) {
        c->rx_bad = true;
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
        return -1;
    }
    char *nb = realloc(c->rx, c->rx_len + len + 1);
    if (!nb)
        return -1;
    c->rx = nb;
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        handle_request(c, c->rx, c->rx_len);
        free(c->rx);
        c->rx = NULL;
        c->rx_len = 0;
    }
    return 0;
}

static int ws_write(client_t *c, struct lws *wsi)
{
    if (c->dropping)
        return -1;
    outmsg_t *m = c->head;
    if (!m)
        return 0;
    if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
        return -1;
    c->head = m->next;
    if (!c->head)
        c->tail = NULL;
    c->queued -= m->len;
    free(m);
    if (c->head)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    dash_t *d = ctx ? lws_context_user(ctx) : NULL;
    pss_t *ps = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_file(wsi, ps, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_more(wsi, ps);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!d || d->stopping || d->nclients >= SW_DASH_CLIENTS_MAX || !ws_allowed(d, wsi))
            return 1; // refused (403)
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        client_t *c = calloc(1, sizeof *c);
        if (!c)
            return -1;
        c->d = d;
        c->wsi = wsi;
        c->next = d->clients;
        d->clients = c;
        d->nclients++;
        ps->c = c;
        client_send(c, hello_json(d));
        client_send(c, sw__dash_fleet_json(d));
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return ps->c ? ws_rx(ps->c, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ps->c ? ws_write(ps->c, wsi) : 0;
    case LWS_CALLBACK_CLOSED:
        if (ps->c) {
            client_gone(ps->c);
            ps->c = NULL;
        }
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"swarm-dashboard", callback, sizeof(pss_t), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

///////////////////////////////////////////////////////////////////////////////////////////////
// Running

static void stop(dash_t *d);

static void on_signal(uv_signal_t *h, int sig)
{
    (void)sig;
    stop(h->data);
}

// Once a second: nodes unheard for offline_ms go offline, stalled calls time out, the query
// goes out again.
static void on_tick(uv_timer_t *t)
{
    dash_t *d = t->data;
    uint64_t tnow = sw__dash_now(d);
    uint32_t off = d->o->offline_ms ? d->o->offline_ms : 7000;
    for (size_t i = 0; i < d->n; i++) {
        dnode_t *n = d->nodes[i];
        if (n->online && !n->fixed && !n->bus && !n->link_up && tnow - n->seen > off)
            sw__dash_set_online(n, false);
    }
    for (size_t i = 0; i < d->n; i++) { // a probe unanswered: not a swarm-node that is locked
        dnode_t *n = d->nodes[i];
        if (n->probing && tnow - n->probe_t0 > SW_HLINK_PROBE_MS) {
            n->probing = false;
            if (n->link)
                sw_hlink_probe_cancel(n->link);
        }
    }
    if (d->o->timeout_ms)
        for (dcall_t *k = d->calls, *nx; k; k = nx) {
            nx = k->next;
            if (k->every_ms || tnow - k->t0 <= d->o->timeout_ms || k->n->probing)
                continue;
            // silence on a plain lossless line: a locked node says nothing (the CLI's
            // sw__cli_locked_line, without blocking the loop)
            if (k->seq && k->n->link && sw_hlink_probe_locked(k->n->link, on_probe, k->n)) {
                k->n->probing = true;
                k->n->probe_t0 = tnow;
                continue;
            }
            if (k->seq && k->n->link)
                sw_hlink_cancel(k->n->link, k->seq);
            if (k->c)
                send_error(k->c, k->id, "no answer within %u ms", (unsigned)d->o->timeout_ms);
            call_free(k);
        }
    uint32_t every = d->o->scan_every_ms ? d->o->scan_every_ms : 2000;
    if (!d->o->no_scan && tnow - d->last_query >= every)
        sw__dash_send_query(d);
}

static void add_fixed(dash_t *d, const char *name, const char *uri)
{
    char key[SW_DASH_KEY_MAX];
    snprintf(key, sizeof key, "%s", name);
    if (sw__dash_node_find(d, key))
        return;
    dnode_t *n = sw__dash_node_add(d, key);
    if (!n)
        return;
    n->fixed = true;
    d->n_fixed++;
    snprintf(n->name, sizeof n->name, "%s", name);
    snprintf(n->uri, sizeof n->uri, "%s", uri);
    snprintf(n->source, sizeof n->source, "%s", strcmp(name, uri) ? "config" : "link");
    char err[300];
    if (node_link(n, err, sizeof err) && !d->o->quiet)
        fprintf(stderr, "swarm dashboard: %s: %s\n", name, err);
}

static void stop(dash_t *d)
{
    if (d->stopping)
        return;
    d->stopping = true;
    if (d->push)
        sw_push_stop(d->push, "the dashboard stopped", true);
    uv_timer_stop(&d->tick);
    uv_signal_stop(&d->sig_int);
    uv_signal_stop(&d->sig_term);
    // the pages go first (their calls are cancelled), then the links
    // on a foreign loop the context goes in steps: this starts it, the loop closes lws's
    // handles, and a second call at the end (sw_dash_run) frees the rest; lws clears d->ctx
    // (info.pcontext) once it is all gone
    if (d->ctx)
        lws_context_destroy(d->ctx);
    for (size_t i = 0; i < d->n; i++)
        if (d->nodes[i]->link) {
            sw__dash_calls_fail_node(d->nodes[i], "the dashboard stopped");
            sw_hlink_close(d->nodes[i]->link);
            d->nodes[i]->link = NULL;
        }
    for (size_t i = 0; i < d->n_sources_on; i++)
        d->o->sources[i].stop(d->o->sources[i].u);
    d->n_sources_on = 0;
    if (d->lsock_on)
        uv_close((uv_handle_t *)&d->lsock, NULL);
    if (d->qsock_on)
        uv_close((uv_handle_t *)&d->qsock, NULL);
    d->lsock_on = d->qsock_on = false;
}

// Can bind:port be listened on? Asked before libwebsockets tries (its failure path on a
// foreign loop leaves the loop unusable, see below).
static bool port_free(const char *addr, uint16_t port)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        sl = sizeof *a6;
    } else {
        return true; // a name: libwebsockets resolves it
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return true;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = bind(fd, (struct sockaddr *)&ss, sl) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

int sw_dash_run(const sw_dash_opts_t *o, char *err, size_t errcap)
{
    static dash_t dd; // one dashboard per process (signals)
    dash_t *d = &dd;
    memset(d, 0, sizeof *d);
    d->o = o;
    const char *bind = o->bind ? o->bind : "127.0.0.1";
    d->need_token = !sw_dash_is_loopback(bind) || o->token;
    if (o->token) {
        if (strlen(o->token) < 8 || strlen(o->token) >= sizeof d->token) {
            snprintf(err, errcap, "the token must be 8 to %zu characters", sizeof d->token - 1);
            return SW_EINVAL;
        }
        for (const char *p = o->token; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '-' || *p == '_')) {
                snprintf(err, errcap, "the token may hold letters, digits, '-' and '_' only");
                return SW_EINVAL;
            }
        snprintf(d->token, sizeof d->token, "%s", o->token);
    } else if (d->need_token) {
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            snprintf(err, errcap, "no random bytes for a token");
            return SW_EIO;
        }
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(d->token + 2 * i, 3, "%02x", rnd[i]);
    }
    if (!port_free(bind, o->port)) {
        snprintf(err, errcap, "cannot listen on %s port %u (in use, or not an address of this "
                              "machine)", bind, (unsigned)o->port);
        return SW_EBUSY;
    }
    uv_loop_init(&d->loop);
    lws_set_log_level(0, NULL); // errors come back as ours
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = o->port;
    info.iface = bind;
    info.protocols = protocols;
    info.user = d;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!strchr(bind, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    void *loops[1] = {&d->loop};
    info.foreign_loops = loops;
    info.timeout_secs = 20;        // an HTTP request must arrive within this
    info.keepalive_timeout = 10;
    info.max_http_header_data = 4096;
    info.max_http_header_pool = 32;
    info.ka_time = 0;
    info.pcontext = &d->ctx;
    d->ctx = lws_create_context(&info);
    struct lws_vhost *vh = d->ctx ? lws_get_vhost_by_name(d->ctx, "default") : NULL;
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (!d->ctx || port <= 0) {
        snprintf(err, errcap, "cannot listen on %s port %u (in use, or not an address of this "
                              "machine)", bind, (unsigned)o->port);
        // a context that failed half way has left handles on the loop that point into freed
        // memory: the loop is not run again (the process ends right after this)
        return SW_EBUSY;
    }
    d->port = (uint16_t)port;
    uv_check_init(&d->loop, &d->push_check);
    d->push_check.data = d;
    uv_timer_init(&d->loop, &d->tick);
    d->tick.data = d;
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_term);
    d->sig_int.data = d->sig_term.data = d;
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    int rc = 0;
    if (!o->no_scan)
        rc = sw__dash_scan_start(d, err, errcap);
    if (!rc) {
        for (size_t i = 0; i < o->n_links; i++)
            add_fixed(d, o->links[i], o->links[i]);
        char **names = NULL;
        size_t nn = 0;
        if (!o->no_config)
            sw_config_names("devices", &names, &nn);
        for (size_t i = 0; i < nn; i++) {
            char uri[320];
            if (sw_config_get("devices", names[i], uri, sizeof uri))
                add_fixed(d, names[i], uri);
        }
        free(names);
        for (size_t i = 0; i < o->n_sources && !rc; i++)
            if (o->sources[i].start(o->sources[i].u, &d->loop, sw__dash_on_source, d, err, errcap))
                rc = SW_EIO;
            else
                d->n_sources_on = i + 1;
    }
    if (!rc) {
        uv_timer_start(&d->tick, on_tick, 1000, 1000);
        FILE *out = o->out ? o->out : stdout;
        char shown[300];
        snprintf(shown, sizeof shown, strchr(bind, ':') ? "[%s]" : "%s", bind);
        char url[2048]; // bind address, port and token, with room to spare
        snprintf(url, sizeof url, "http://%s:%u/%s%s", shown, (unsigned)d->port,
                 d->need_token ? "?token=" : "", d->need_token ? d->token : "");
        if (o->json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "url", url);
            cJSON_AddStringToObject(j, "bind", bind);
            cJSON_AddNumberToObject(j, "port", d->port);
            if (d->need_token)
                cJSON_AddStringToObject(j, "token", d->token);
            else
                cJSON_AddNullToObject(j, "token");
            char *t = cJSON_PrintUnformatted(j);
            fprintf(out, "%s\n", t ? t : "{}");
            cJSON_free(t);
            cJSON_Delete(j);
        } else {
            fprintf(out, "swarm dashboard: %s\n", url);
        }
        fflush(out);
        if (!SW_DASH_PLOT && !o->quiet)
            fprintf(stderr, "swarm dashboard: built without the plot library (npm was not "
                            "available at build time): the live plot is off\n");
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    stop(d);
    uv_close((uv_handle_t *)&d->tick, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->push_check, NULL);
    while (d->push && !sw_push_done(d->push))
        uv_run(&d->loop, UV_RUN_ONCE);
    if (d->push) {
        sw_push_free(d->push);
        free(d->pdevs);
        free(d->pkeys);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->ctx) {
        lws_context_destroy(d->ctx);
        uv_run(&d->loop, UV_RUN_DEFAULT);
    }
    for (size_t i = 0; i < d->n; i++)
        free(d->nodes[i]);
    free(d->nodes);
    while (d->calls)
        call_free(d->calls);
    uv_loop_close(&d->loop);
    return rc;
}
