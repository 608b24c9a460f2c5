// The swarm table apps see (swarm.sleep, command, call, log, config, now, app, host, END,
// NONE), the app's commands in the node's command tree, and sys.eval / sys.load (docs/APPS.md).
//
// A command call runs the app's function in a new task. If it returns at once, the reply is
// written in the handler; if it waits (swarm.sleep, swarm.call) the handler returns
// SW_CALL_LATER and the task answers through the saved reply when it ends. Stream steps must
// not wait (the RPC core needs each value at once): one that does gets an error reply.
#include "profile.h"
#if SW_WITH_LUA
#include <stdio.h> // snprintf only
#include <string.h>

#include "lua_int.h"
#include "lua_part.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// swarm.sleep(ms)

static int l_sleep(lua_State *L)
{
    lua_Number ms = luaL_optnumber(L, 1, 0);
    sw_lua_task_t *t = sw__lua_task_current(L, "swarm.sleep");
    if (!(ms > 0)) // also NaN
        ms = 0;
    if (ms > 86400000.0 * 7)
        ms = 86400000.0 * 7;
    t->wait = SW_WAIT_SLEEP;
    sw__lua_task_wake(t, (uint32_t)(ms + 0.5));
    return lua_yield(L, 0);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// swarm.call(path, args) → value, or raises the error text

static void call_cb(sw_node_t *n, void *user, const sw_msg_t *m, int err)
{
    sw_lua_task_t *t = user;
    if (t->call_done || (m && m->kind == SW_MSG_STREAM))
        return;
    uint8_t tmp[128];
    sw_span_t item = {(const uint8_t *)"\xc0", 1}; // nil: END, or a reply without d
    bool is_err = false;
    if (!m || m->kind == SW_MSG_ERROR) {
        is_err = true;
        if (m && m->e.n) {
            item = m->e;
        } else {
            sw_mpw_t w;
            sw_mpw_init(&w, tmp, sizeof tmp);
            sw_mpw_cstr(&w, sw_strerror(err ? err : SW_EREMOTE));
            item.p = tmp;
            item.n = w.len;
        }
    } else if (m->kind == SW_MSG_REPLY && m->d.n) {
        item = m->d;
    }
    uint8_t *buf = sw_node_alloc(n, item.n); // NULL: call_finish reports "not enough memory"
    if (buf)
        memcpy(buf, item.p, item.n);
    t->call_buf = buf;
    t->call_len = buf ? item.n : 0;
    t->call_error = is_err;
    t->call_done = true;
    t->call_seq = 0;
    if (!t->in_call && t->wait == SW_WAIT_CALL)
        sw__lua_task_wake(t, 0);
}

static int call_finish(lua_State *L, sw_lua_task_t *t)
{
    if (!t->call_buf)
        return luaL_error(L, "swarm.call: not enough memory");
    sw_span_t s = {t->call_buf, t->call_len};
    sw__lua_push_span(L, s);
    sw_node_release(t->lua->n, t->call_buf, t->call_len);
    t->call_buf = NULL;
    t->call_done = false;
    if (t->call_error) {
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_pushliteral(L, "error (not memory or not a text)");
        }
        return lua_error(L);
    }
    return 1;
}

static int call_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    sw_lua_task_t *t = sw__lua_task_current(L, "swarm.call");
    if (t->dead)
        return lua_yield(L, 0);
    return call_finish(L, t);
}

static int l_call(lua_State *L)
{
    sw_lua_t *lua = sw__lua_of(L);
    const char *path = luaL_checkstring(L, 1);
    sw_lua_task_t *t = sw__lua_task_current(L, "swarm.call");
    sw_span_t args = {NULL, 0};
    if (!lua_isnoneornil(L, 2)) {
        // the scratch is free here: sw_node_call copies the request before anything runs
        sw_mpw_t w;
        sw_mpw_init(&w, lua->scratch, lua->scratch_cap);
        sw__lua_write_mp(L, 2, &w);
        if (w.err)
            return luaL_error(L, "swarm.call %s: arguments too large (limits.msg)", path);
        args.p = lua->scratch;
        args.n = w.len;
    }
    if (t->call_buf) {
        sw_node_release(lua->n, t->call_buf, t->call_len);
        t->call_buf = NULL;
    }
    t->call_done = false;
    t->in_call = true;
    int64_t seq = sw_node_call(lua->n, path, args, 0, call_cb, t);
    t->in_call = false;
    if (seq > 0 && !t->call_done)
        t->call_seq = seq; // from here on, releasing t cancels the call
    if (t->dead) {
        if (t->call_seq)
            sw_node_call_cancel(lua->n, t->call_seq);
        t->call_seq = 0;
        return lua_yield(L, 0);
    }
    if (t->call_done)
        return call_finish(L, t);
    if (seq < 0)
        return luaL_error(L, "swarm.call %s: %s", path, sw_strerror((int)seq));
    t->wait = SW_WAIT_CALL;
    return lua_yieldk(L, 0, 0, call_k);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// swarm.config(path), swarm.now()

static int l_config(lua_State *L)
{
    sw_lua_t *lua = sw__lua_of(L);
    const char *dotted = luaL_optstring(L, 1, "");
    sw_cfg_path_t path;
    memset(&path, 0, sizeof path);
    if (dotted[0] && sw_cfg_path_dotted(&path, dotted) < 0)
        return luaL_error(L, "swarm.config: bad path '%s'", dotted);
    sw_span_t v;
    if (sw_cfg_get(&lua->n->cfg, &path, &v) < 0 || v.n == 0) {
        lua_pushnil(L);
        return 1;
    }
    sw__lua_push_span(L, v);
    return 1;
}

static int l_now(lua_State *L)
{
    sw_lua_t *lua = sw__lua_of(L);
    uint32_t up = sw_node_now(lua->n) - lua->n->boot_ms;
#if LUA_MAXINTEGER < 0xffffffff
    // 32-bit Lua integers (LUA_32BITS, MCU builds): the uptime modulo 2^31, so it wraps to 0
    // after 24.8 days instead of turning negative (docs/APPS.md)
    up &= (uint32_t)LUA_MAXINTEGER;
#endif
    lua_pushinteger(L, (lua_Integer)up);
    return 1;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Result encoding and deferred answers

typedef struct enc_ctx {
    sw_lua_task_t *t;
    sw_mpw_t *w;
    bool stream;
    bool end;
} enc_ctx_t;

static int encode_protected(lua_State *L)
{
    enc_ctx_t *x = lua_touserdata(L, 1);
    sw_lua_task_t *t = x->t;
    int nres = t->nres;
    luaL_checkstack(L, nres + 2, "results");
    int base = lua_gettop(L);
    lua_xmove(t->co, L, nres);
    t->nres = 0;
    if (nres == 0)
        lua_pushnil(L);
    if (x->stream) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_end);
        x->end = lua_rawequal(L, -1, base + 1);
        lua_pop(L, 1);
        if (x->end)
            return 0;
    }
    if (t->reply_array) { // sys.eval: [value, repr]
        sw_mpw_array(x->w, 2);
        sw__lua_write_mp(L, base + 1, x->w);
        sw__lua_write_mp(L, base + 2, x->w);
    } else {
        sw__lua_write_mp(L, base + 1, x->w);
    }
    return 0;
}

int sw__lua_encode_result(sw_lua_t *lua, sw_lua_task_t *t, sw_mpw_t *w, bool stream, const void *to)
{
    size_t mark = sw_mpw_mark(w);
    enc_ctx_t x = {t, w, stream, false};
    // proxies made for this reply belong to its session (the node's own for local calls)
    lua->proxy_owner = to == &lua->n->local ? NULL : to;
    int err = sw__lua_protect(lua, encode_protected, &x);
    lua->proxy_owner = NULL;
    if (!err && w->err) {
        err = w->err;
        snprintf(lua->err_text, sizeof lua->err_text, "result too large (limits.msg)");
    }
    if (err) {
        sw_mpw_rewind(w, mark);
        return err;
    }
    return x.end ? SW_CALL_END : 0;
}

void sw__lua_reply_save(sw_node_t *n, sw_lua_reply_t *r, const sw_call_t *call)
{
    (void)n;
    r->to = call->reply_to;
}

static bool reply_alive(sw_node_t *n, const sw_lua_reply_t *r)
{
    return sw_node_reply_live(n, &r->to);
}

sw_mpw_t *sw__lua_answer_begin(sw_node_t *n, const sw_lua_reply_t *r)
{
    return reply_alive(n, r) ? sw_rpc_answer_begin(&r->to) : NULL;
}

void sw__lua_answer_end(sw_node_t *n, const sw_lua_reply_t *r)
{
    if (reply_alive(n, r))
        sw_rpc_answer_end(&r->to);
}

void sw__lua_answer_error(sw_node_t *n, const sw_lua_reply_t *r, const char *text)
{
    if (reply_alive(n, r))
        sw_rpc_answer_error(&r->to, text);
}

void sw__lua_answer_later(sw_lua_task_t *t, int st)
{
    sw_lua_t *lua = t->lua;
    if (!t->has_reply)
        return;
    t->has_reply = false;
    if (st != SW_TASK_DONE) {
        sw__lua_answer_error(lua->n, &t->reply, lua->err_text);
        return;
    }
    sw_mpw_t w;
    sw_mpw_init(&w, lua->scratch, lua->scratch_cap);
    int rc = sw__lua_encode_result(lua, t, &w, false, t->reply.to.rpc);
    if (rc < 0) {
        sw__lua_answer_error(lua->n, &t->reply, lua->err_text);
        return;
    }
    sw_mpw_t *out = sw__lua_answer_begin(lua->n, &t->reply);
    if (out) {
        sw_mpw_raw(out, lua->scratch, w.len);
        sw__lua_answer_end(lua->n, &t->reply);
    }
}

// The outcome of a task's first run inside a command handler.
static int handler_finish(sw_lua_t *lua, sw_lua_task_t *t, int st, sw_call_t *call)
{
    int rc;
    switch (st) {
    case SW_TASK_GONE:
        return sw_call_fail(call, SW_ECANCELED, "cancelled: the app stopped");
    case SW_TASK_WAITING:
        if (call->stream) {
            sw__lua_task_free(t, NULL);
            return sw_call_fail(call, SW_EINVAL,
                                "a stream handler must return at once (no swarm.sleep or swarm.call)");
        }
        sw__lua_reply_save(lua->n, &t->reply, call);
        t->has_reply = true;
        return SW_CALL_LATER;
    case SW_TASK_DONE:
        rc = sw__lua_encode_result(lua, t, call->out, call->stream, call->reply_to.rpc);
        sw__lua_task_free(t, NULL);
        return rc < 0 ? sw_call_fail(call, rc, lua->err_text) : rc;
    default:
        if (t->kind == SW_TASK_CMD)
            sw_log(lua->n, SW_LOG_WARN, "%s: command %s failed: %s", lua->app, t->name, lua->err_text);
        sw__lua_task_free(t, NULL);
        return sw_call_fail(call, SW_EIO, lua->err_text);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// App commands: swarm.command(name, fn [, doc]) → "{app}.{name}"

struct sw_lua_cmd_names {
    char name[SW_LUA_NAME_MAX + 1];
    char doc[128];
};

typedef struct cmd_full {
    sw_lua_cmd_t c;
    struct sw_lua_cmd_names s;
} cmd_full_t;

typedef struct call_ctx {
    sw_lua_t *lua;
    sw_call_t *call;
    int fn_ref;
    const char *name;
    sw_lua_task_t *t;
} call_ctx_t;

static int cmd_begin(lua_State *L)
{
    call_ctx_t *x = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->fn_ref);
    sw__lua_push_span(L, x->call->args);
    x->t = sw__lua_task_new(x->lua, L, 1, SW_TASK_CMD, x->name);
    return 0;
}

static int cmd_handler(sw_call_t *call)
{
    sw_lua_cmd_t *c = call->def->user;
    sw_lua_t *lua = c->lua;
    if (!lua->L || c->fn_ref == LUA_NOREF)
        return sw_call_fail(call, SW_ENOENT, "the app stopped");
    call_ctx_t x = {lua, call, c->fn_ref, c->def.name, NULL};
    int err = sw__lua_protect(lua, cmd_begin, &x);
    if (err)
        return sw_call_fail(call, err, lua->err_text);
    return handler_finish(lua, x.t, sw__lua_task_run(x.t, 1), call);
}

static void stop_streams(sw_rpc_t *rpc)
{
    if (!rpc->streams)
        return;
    for (uint16_t i = 0; i < rpc->max_streams; i++) {
        sw_rpc_stream_t *s = &rpc->streams[i];
        if (s->seq && s->def && s->def->fn == cmd_handler)
            sw_rpc_stop_stream(rpc, s->seq);
    }
}

void sw__lua_cmds_clear(sw_lua_t *lua)
{
    sw_node_t *n = lua->n;
    if (!lua->cmds && lua->app_dir < 0)
        return;
    // streams keep a pointer to their command's definition: end them before it goes
    for (sw_link_t *l = n->links; l; l = l->next)
        stop_streams(&l->rpc);
    stop_streams(&n->local);
    if (lua->app_dir >= 0)
        sw_tree_remove(&n->tree, lua->app_dir);
    lua->app_dir = -1;
    while (lua->cmds) {
        sw_lua_cmd_t *c = lua->cmds;
        lua->cmds = c->next;
        if (lua->L)
            luaL_unref(lua->L, LUA_REGISTRYINDEX, c->fn_ref);
        sw_node_release(n, c, c->size);
    }
    lua->ncmds = 0;
}

static bool cmd_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > SW_LUA_NAME_MAX || s[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || (unsigned char)s[i] <= ' ')
            return false;
    return true;
}

static int l_command(lua_State *L)
{
    sw_lua_t *lua = sw__lua_of(L);
    sw_node_t *n = lua->n;
    size_t nlen, dlen = 0;
    const char *name = luaL_checklstring(L, 1, &nlen);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    const char *doc = luaL_optlstring(L, 3, NULL, &dlen);
    if (lua->env_ref == LUA_NOREF || !lua->app[0])
        return luaL_error(L, "swarm.command: no app is running");
    if (!cmd_name_ok(name, nlen))
        return luaL_error(L, "swarm.command: bad name '%s' (no dots, no spaces, not starting with _)", name);
    for (sw_lua_cmd_t *c = lua->cmds; c; c = c->next)
        if (!strcmp(c->def.name, name)) { // redefinition: same entry, new function
            lua_pushvalue(L, 2);
            int ref = luaL_ref(L, LUA_REGISTRYINDEX);
            luaL_unref(L, LUA_REGISTRYINDEX, c->fn_ref);
            c->fn_ref = ref;
            if (doc) {
                cmd_full_t *f = (cmd_full_t *)c; // c is its first member
                snprintf(f->s.doc, sizeof f->s.doc, "%s", doc);
                c->def.doc = f->s.doc;
            }
            return 0;
        }
    if (lua->ncmds >= SW_LUA_CMDS_MAX)
        return luaL_error(L, "swarm.command: too many commands (%d)", SW_LUA_CMDS_MAX);
    lua_pushvalue(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    cmd_full_t *f = sw_node_alloc(n, sizeof *f);
    if (!f) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return luaL_error(L, "swarm.command: not enough memory");
    }
    memcpy(f->s.name, name, nlen + 1);
    snprintf(f->s.doc, sizeof f->s.doc, "%s", doc ? doc : "");
    f->c.lua = lua;
    f->c.fn_ref = ref;
    f->c.size = sizeof *f;
    f->c.def.name = f->s.name;
    f->c.def.doc = doc ? f->s.doc : NULL;
    f->c.def.params = NULL; // the whole d goes to the function
    f->c.def.fn = cmd_handler;
    f->c.def.user = &f->c;
    int err = 0;
    if (lua->app_dir < 0) {
        err = sw_tree_add_dir(&n->tree, SW_TREE_ROOT, lua->app, "commands of the Lua app");
        if (err >= 0)
            lua->app_dir = err;
    }
    if (err >= 0)
        err = sw_tree_add_cmd(&n->tree, lua->app_dir, &f->c.def);
    if (err < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        sw_node_release(n, f, sizeof *f);
        if (err == SW_EEXIST && lua->app_dir < 0)
            return luaL_error(L, "swarm.command: the app's name '%s' is taken by a built-in directory", lua->app);
        return luaL_error(L, "swarm.command %s: %s", name, sw_strerror(err));
    }
    f->c.id = err;
    f->c.next = lua->cmds;
    lua->cmds = &f->c;
    lua->ncmds++;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The swarm table

static int sentinel_tostring(lua_State *L)
{
    lua_pushstring(L, lua_tostring(L, lua_upvalueindex(1)));
    return 1;
}

static void make_sentinel(lua_State *L, const void *key, const char *name)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, name);
    lua_pushcclosure(L, sentinel_tostring, 1);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable"); // apps cannot change it
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

static int proxy_tostring(lua_State *L)
{
    lua_pushliteral(L, "name");
    lua_rawget(L, 1);
    lua_pushfstring(L, "Proxy('%s')", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 1;
}

void sw__lua_open_swarm(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sleep", l_sleep},
        {"call", l_call},
        {"command", l_command},
        {"config", l_config},
        {"now", l_now},
        {"log", sw__lua_log_info},
        {"warn", sw__lua_log_warn},
        {"log_error", sw__lua_log_error},
        {NULL, NULL},
    };
    sw_lua_t *lua = sw__lua_of(L);
    luaL_newlib(L, fns);
    make_sentinel(L, &sw__lua_key_none, "swarm.NONE");
    lua_setfield(L, -2, "NONE");
    make_sentinel(L, &sw__lua_key_end, "swarm.END");
    lua_setfield(L, -2, "END");
    lua_pushstring(L, lua->n->host_name);
    lua_setfield(L, -2, "host");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "app");
    lua_setglobal(L, "swarm");
    // metatables of placeholders for proxies this node does not know, and of other ext types
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, proxy_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "swarm.Proxy");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sw__lua_key_proxy_mt);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "swarm.Ext");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &sw__lua_key_ext_mt);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// sys.eval(code) → [value, repr]: the chunk runs as a task (it may sleep and call) in the
// running app's environment, or, when no app runs, in a fresh environment of its own that
// reads the shared globals (whose libraries are read-only views). An expression is
// tried first ("return " .. code), as the Lua REPL does.

static int eval_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    lua_settop(L, 1);
    sw__lua_push_repr(L, 1);
    return 2;
}

static int eval_run(lua_State *L)
{
    lua_settop(L, 1);
    lua_callk(L, 0, 1, 0, eval_k);
    return eval_k(L, LUA_OK, 0);
}

typedef struct eval_ctx {
    sw_lua_t *lua;
    const char *code;
    size_t len;
    sw_lua_task_t *t;
} eval_ctx_t;

static int eval_begin(lua_State *L)
{
    eval_ctx_t *x = lua_touserdata(L, 1);
    lua_pushcfunction(L, eval_run);
    lua_pushliteral(L, "return ");
    lua_pushlstring(L, x->code, x->len);
    lua_concat(L, 2);
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (luaL_loadbufferx(L, s, n, "=eval", "t") != LUA_OK) {
        lua_pop(L, 2);
        if (luaL_loadbufferx(L, x->code, x->len, "=eval", "t") != LUA_OK)
            return lua_error(L);
    } else {
        lua_remove(L, -2);
    }
    if (x->lua->env_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, x->lua->env_ref);
    } else { // a fresh environment: what one eval defines is gone for the next one
        lua_pushglobaltable(L);
        sw__lua_env_over(L);
    }
    lua_setupvalue(L, -2, 1);
    x->t = sw__lua_task_new(x->lua, L, 1, SW_TASK_EVAL, "eval");
    x->t->reply_array = true;
    return 0;
}

static int sys_eval(sw_call_t *call)
{
    sw_lua_t *lua = ((sw_node_t *)call->ctx)->lua;
    sw_span_t code = {NULL, 0};
    if (!sw_call_arg_str(call, "code", false, &code))
        return call->err;
    if (!code.p && !sw_call_arg_str(call, "val", false, &code)) // MoaT v0's name
        return call->err;
    if (!code.p && !sw_call_arg_str(call, "x", false, &code)) // the name PROTOCOL.md used first
        return call->err;
    if (!code.p)
        return sw_call_fail(call, SW_EINVAL, "sys.eval: code missing");
    eval_ctx_t x = {lua, (const char *)code.p, code.n, NULL};
    int err = sw__lua_protect(lua, eval_begin, &x);
    if (err)
        return sw_call_fail(call, err, lua->err_text);
    return handler_finish(lua, x.t, sw__lua_task_run(x.t, 1), call);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// sys.load(n=app, r=reload) → true (started), false (already running, r not set)

static int sys_load(sw_call_t *call)
{
    sw_lua_t *lua = ((sw_node_t *)call->ctx)->lua;
    sw_span_t name = {NULL, 0};
    bool reload = false;
    if (!sw_call_arg_str(call, "n", false, &name) || !sw_call_arg_bool(call, "r", false, &reload))
        return call->err;
    if (lua->load_pending)
        return sw_call_fail(call, SW_EBUSY, "sys.load: a load is already under way");
    const char *dflt = lua->app[0] ? lua->app : lua->n->app_name;
    if (!name.p) {
        name.p = (const uint8_t *)dflt;
        name.n = strlen(dflt);
    }
    if (name.n == 0 || name.n > SW_LUA_NAME_MAX || memchr(name.p, 0, name.n))
        return sw_call_fail(call, SW_EINVAL, "sys.load: bad app name");
    memcpy(lua->load_app, name.p, name.n);
    lua->load_app[name.n] = 0;
    lua->load_reload = reload;
    sw__lua_reply_save(lua->n, &lua->load_reply, call);
    lua->load_pending = true;
    sw_timer_start(lua->n, &lua->load_timer, 0);
    return SW_CALL_LATER;
}

// The Lua part's commands, in the sys part's directory (lua_vm.c's sw_part_lua.cmds); the
// kernel adds them once the VM is up and removes them before it closes.
static const sw_cmd_def_t sys_cmds[] = {
    {"eval", "code", "run Lua code: [value, repr]", sys_eval, NULL},
    {"load", "n,r", "(re)start the Lua app n (r: even if it runs)", sys_load, NULL},
};
const sw_part_cmds_t sw__lua_sys_group = {"sys", "the node itself", sys_cmds, 2};

#endif // SW_WITH_LUA
