// Tasks (coroutines run by the node's event loop) and the life of the Lua app: load
// apps/{app}/main.lua, run every init_* concurrently, then — once all have finished — every
// routine_* (micro-swarm's order, sorted by name). A board script, boards/{hardware_name}/main.lua,
// goes through the same steps first, like micro-swarm's hardware package: the app's main.lua
// loads once the board's init_* have finished. The node hears of the app's readiness and
// failures (sw_node_app_event: push's health check). Failures follow config "app.on_error":
// "restart" (default; a failed routine restarts after 1 s, 2 s, 4 s … 60 s; a failed init or
// main.lua restarts the whole app with the same back-off) or "reset" (micro-swarm: log, cancel
// the app, reset the node after app.reset_delay_ms — which stopping the app cancels, unlike the
// original). A broken app never stops the node's services.
#include "profile.h"
#if SW_WITH_LUA
#include <stdio.h> // snprintf only
#include <string.h>

#include "lua_int.h"
#include "lua_part.h"

static void task_timer(sw_node_t *n, sw_timer_t *tm);
static void app_failed(sw_lua_t *lua, const char *what, bool load);
static void app_stop(sw_lua_t *lua);
static int run_main(sw_lua_t *lua, bool board);

// Tells the node that the app failed: "what: error text".
static void event_failed(sw_lua_t *lua, const char *what)
{
    char detail[SW_LUA_NAME_MAX + SW_LUA_ERR_MAX + 4];
    snprintf(detail, sizeof detail, "%s: %s", what, lua->err_text);
    sw_node_app_event(lua->n, SW_APP_EV_FAILED, lua->app, detail);
}

// 1 s, 2 s, 4 s … at most app.restart_max_ms
static uint32_t backoff_ms(const sw_lua_t *lua, uint32_t failures)
{
    uint32_t ms = 1000u << (failures < 12 ? failures : 12);
    return ms > lua->backoff_max ? lua->backoff_max : ms;
}

static bool policy_reset(const sw_lua_t *lua)
{
    sw_span_t s;
    return sw_cfg_str(&lua->n->cfg, "app.on_error", "restart", &s) && s.n == 5 && !memcmp(s.p, "reset", 5);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Tasks

// Moves [fn, args…] from the top of L into a new coroutine owned by t. Raises on memory errors
// (then t is unchanged and the values stay on L).
static void attach_co(lua_State *L, sw_lua_task_t *t, int nargs)
{
    luaL_checkstack(L, 4, "task");
    lua_State *co = lua_newthread(L);
    if (!lua_checkstack(co, nargs + 4))
        luaL_error(L, "not enough memory");
    // mark it as a task's thread: app code may not resume or close it (lua_vm.c)
    lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_tasks);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1); // the thread (kept by ref)
    lua_xmove(L, co, nargs + 1);
    t->co = co;
    t->co_ref = ref;
}

static void detach_co(sw_lua_task_t *t)
{
    if (t->co && t->lua->L)
        luaL_unref(t->lua->L, LUA_REGISTRYINDEX, t->co_ref);
    t->co = NULL;
    t->co_ref = LUA_NOREF;
}

sw_lua_task_t *sw__lua_task_new(sw_lua_t *lua, lua_State *L, int nargs, int kind, const char *name)
{
    if (lua->ntasks >= SW_LUA_TASKS_MAX)
        luaL_error(L, "too many tasks (%d)", SW_LUA_TASKS_MAX);
    sw_lua_task_t tmp;
    attach_co(L, &tmp, nargs); // everything that can raise comes before the allocation
    sw_lua_task_t *t = sw_node_alloc(lua->n, sizeof *t);
    if (!t) {
        luaL_unref(L, LUA_REGISTRYINDEX, tmp.co_ref);
        luaL_error(L, "not enough memory");
    }
    t->lua = lua;
    t->co = tmp.co;
    t->co_ref = tmp.co_ref;
    t->fn_ref = LUA_NOREF;
    t->kind = (uint8_t)kind;
    t->timer.fn = task_timer;
    t->timer.user = t;
    t->started = sw_node_now(lua->n);
    snprintf(t->name, sizeof t->name, "%s", name);
    sw_lua_task_t **pp = &lua->tasks;
    while (*pp)
        pp = &(*pp)->next; // append: routines start in the order they were created
    *pp = t;
    lua->ntasks++;
    return t;
}

static void task_unlink(sw_lua_task_t *t)
{
    for (sw_lua_task_t **pp = &t->lua->tasks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            t->lua->ntasks--;
            return;
        }
}

void sw__lua_task_free(sw_lua_task_t *t, const char *why)
{
    sw_lua_t *lua = t->lua;
    sw_node_t *n = lua->n;
    sw_timer_stop(n, &t->timer);
    if (t->call_seq && !t->call_done)
        sw_node_call_cancel(n, t->call_seq);
    t->call_seq = 0;
    if (t->running) {
        // Cannot release a coroutine that is executing: sw__lua_task_run releases it when
        // lua_resume returns (the API functions and the hook yield at once when dead).
        t->dead = true;
        return;
    }
    task_unlink(t);
    if (t->has_reply) {
        t->has_reply = false;
        sw__lua_answer_error(n, &t->reply, why ? why : "cancelled");
    }
    if (t->call_buf)
        sw_node_release(n, t->call_buf, t->call_len);
    detach_co(t);
    if (t->fn_ref != LUA_NOREF && lua->L)
        luaL_unref(lua->L, LUA_REGISTRYINDEX, t->fn_ref);
    sw_node_release(n, t, sizeof *t);
    // What a task leaves behind may fill most of the heap before the incremental collector
    // comes round, and the auxiliary library's buffers (string.rep, table.concat …) fail at the
    // cap without an emergency collection: collect now, outside any running task, when the
    // heap is past half the cap and has grown by a quarter of it since the last such collection
    // (an app that keeps a large heap does not pay for a full collection per task).
    if (lua->L && !lua->cur && lua->mem_used > lua->mem_cap / 2 && lua->mem_used > lua->gc_mark + lua->mem_cap / 4) {
        lua_gc(lua->L, LUA_GCCOLLECT);
        lua->gc_mark = lua->mem_used;
    }
}

void sw__lua_task_wake(sw_lua_task_t *t, uint32_t delay_ms)
{
    sw_timer_start(t->lua->n, &t->timer, delay_ms);
}

sw_lua_task_t *sw__lua_task_current(lua_State *L, const char *what)
{
    sw_lua_task_t *t = sw__lua_of(L)->cur;
    if (!t)
        luaL_error(L, "%s: not inside a swarm task", what);
    if (L != t->co)
        luaL_error(L, "%s: cannot wait inside a nested coroutine (only in the task itself)", what);
    return t;
}

typedef struct trace_ctx {
    sw_lua_task_t *t;
} trace_ctx_t;

static int trace_protected(lua_State *L)
{
    trace_ctx_t *x = lua_touserdata(L, 1);
    sw_lua_t *lua = x->t->lua;
    luaL_traceback(L, x->t->co, NULL, 0);
    snprintf(lua->trace, sizeof lua->trace, "%s", lua_tostring(L, -1));
    return 0;
}

int sw__lua_task_run(sw_lua_task_t *t, int nargs)
{
    sw_lua_t *lua = t->lua;
    sw_lua_task_t *prev = lua->cur;
    lua->cur = t;
    t->running = true;
    t->instr = 0;
    t->run_start = sw_node_now(lua->n);
    t->wait = SW_WAIT_NONE;
    t->overrun = t->late = false;
    int nres = 0;
    // from = the task that runs us (if any), so Lua counts the C stack of nested runs
    int st = lua_resume(t->co, prev ? prev->co : lua->L, nargs, &nres);
    t->running = false;
    lua->cur = prev;
    if (t->dead) {
        sw__lua_task_free(t, "cancelled: the app stopped");
        return SW_TASK_GONE;
    }
    if (st == LUA_YIELD && !t->overrun) {
        lua_pop(t->co, nres);
        if (t->wait == SW_WAIT_NONE) {
            // a bare coroutine.yield() in the task: give the loop a turn, then go on
            t->wait = SW_WAIT_TICK;
            sw__lua_task_wake(t, 0);
        }
        return SW_TASK_WAITING;
    }
    if (st == LUA_OK) {
        t->nres = nres;
        return SW_TASK_DONE;
    }
    if (t->overrun && t->late)
        snprintf(lua->err_text, sizeof lua->err_text,
                 "time limit exceeded (%u ms without yielding; limits.lua_ms)", (unsigned)lua->time_limit);
    else if (t->overrun)
        snprintf(lua->err_text, sizeof lua->err_text,
                 "instruction limit exceeded (%llu instructions without yielding; limits.lua_instr)",
                 (unsigned long long)lua->instr_limit);
    else
        sw__lua_errstr(t->co, -1, lua->err_text, sizeof lua->err_text);
    trace_ctx_t x = {t};
    char keep[SW_LUA_ERR_MAX];
    memcpy(keep, lua->err_text, sizeof keep);
    if (sw__lua_protect(lua, trace_protected, &x))
        snprintf(lua->trace, sizeof lua->trace, "%s", keep);
    memcpy(lua->err_text, keep, sizeof keep);
    return SW_TASK_FAILED;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Routines

static int respawn_protected(lua_State *L)
{
    sw_lua_task_t *t = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->fn_ref);
    attach_co(L, t, 0);
    return 0;
}

static void routine_start(sw_lua_task_t *t)
{
    sw_lua_t *lua = t->lua;
    if (!t->co && sw__lua_protect(lua, respawn_protected, t)) {
        sw_log(lua->n, SW_LOG_ERROR, "%s: %s: cannot start: %s", lua->app, t->name, lua->err_text);
        t->wait = SW_WAIT_RESTART;
        sw__lua_task_wake(t, backoff_ms(lua, t->restarts++));
        return;
    }
    t->started = sw_node_now(lua->n);
    sw__lua_task_settle(t, sw__lua_task_run(t, 0));
}

// Every init_* of the stage has finished: its routines start. After the board script's, the
// app's main.lua loads.
static void start_routines(sw_lua_t *lua)
{
    bool board = lua->board_stage;
    lua->phase = SW_APP_RUN;
    if (!board)
        lua->failures = 0;
    uint32_t gen = lua->gen;
    sw_lua_task_t *list[SW_LUA_FUNCS_MAX];
    unsigned k = 0;
    for (sw_lua_task_t *t = lua->tasks; t && k < SW_LUA_FUNCS_MAX; t = t->next)
        if (t->kind == SW_TASK_ROUTINE && t->wait == SW_WAIT_START)
            list[k++] = t;
    sw_log(lua->n, SW_LOG_INFO, "%s: all %sinit_* finished; starting %u routine(s)", lua->app,
           board ? "board " : "", k);
    if (!board)
        sw_node_app_event(lua->n, SW_APP_EV_READY, lua->app, NULL);
    for (unsigned i = 0; i < k && lua->gen == gen; i++)
        routine_start(list[i]);
    if (board && lua->gen == gen) {
        lua->board_stage = false;
        lua->phase = SW_APP_LOADING;
        run_main(lua, false);
    }
}

static void routine_done(sw_lua_task_t *t, int st)
{
    sw_lua_t *lua = t->lua;
    if (st == SW_TASK_DONE) {
        sw_log(lua->n, SW_LOG_INFO, "%s: %s finished", lua->app, t->name);
        sw__lua_task_free(t, NULL);
        return;
    }
    char prefix[SW_LUA_NAME_MAX + 8];
    snprintf(prefix, sizeof prefix, "%s", lua->app);
    sw_log(lua->n, SW_LOG_ERROR, "%s: %s failed: %s", lua->app, t->name, lua->err_text);
    sw__lua_log_lines(lua, SW_LOG_ERROR, prefix, lua->trace, 12);
    if (policy_reset(lua)) {
        app_failed(lua, t->name, false);
        return;
    }
    event_failed(lua, t->name);
    // a routine that ran well for a long while starts its back-off afresh
    if ((uint32_t)(sw_node_now(lua->n) - t->started) >= lua->backoff_max)
        t->restarts = 0;
    uint32_t ms = backoff_ms(lua, t->restarts++);
    sw_log(lua->n, SW_LOG_WARN, "%s: %s restarting in %u s", lua->app, t->name, (unsigned)(ms / 1000));
    detach_co(t);
    t->wait = SW_WAIT_RESTART;
    sw__lua_task_wake(t, ms);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// main.lua and the init_* functions

typedef struct collect {
    sw_lua_t *lua;
    sw_lua_task_t *main;
    unsigned ninit, nrout;
    char init[SW_LUA_FUNCS_MAX][SW_LUA_NAME_MAX + 1];
    char rout[SW_LUA_FUNCS_MAX][SW_LUA_NAME_MAX + 1];
} collect_t;

static void sort_names(char (*v)[SW_LUA_NAME_MAX + 1], unsigned n)
{
    char tmp[SW_LUA_NAME_MAX + 1];
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            memcpy(tmp, v[j], sizeof tmp);
            memcpy(v[j], v[j - 1], sizeof tmp);
            memcpy(v[j - 1], tmp, sizeof tmp);
        }
}

// The app's functions: the table main.lua returned, else its environment.
static int collect_protected(lua_State *L)
{
    collect_t *c = lua_touserdata(L, 1);
    sw_lua_t *lua = c->lua;
    lua_State *co = c->main->co;
    if (c->main->nres >= 1 && lua_type(co, -c->main->nres) == LUA_TTABLE) {
        lua_pushvalue(co, -c->main->nres);
        lua_xmove(co, L, 1);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lua->board_stage ? lua->board_env_ref : lua->env_ref);
    }
    int tab = lua_gettop(L);
    if (!lua->board_stage) { // micro-swarm's optional app VERSION, shown in the beacon
        int t = lua_getfield(L, tab, "VERSION");
        if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            size_t vn;
            const char *v = lua_tolstring(L, -1, &vn);
            if (vn >= sizeof lua->n->app_version)
                sw_log(lua->n, SW_LOG_WARN, "%s: VERSION cut to %u bytes", lua->app,
                       (unsigned)sizeof lua->n->app_version - 1);
            snprintf(lua->n->app_version, sizeof lua->n->app_version, "%s", v);
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, tab)) {
        size_t kn;
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION) {
            const char *k = lua_tolstring(L, -2, &kn);
            bool init = kn > 5 && !strncmp(k, "init_", 5);
            bool rout = kn > 8 && !strncmp(k, "routine_", 8);
            unsigned *cnt = init ? &c->ninit : &c->nrout;
            if ((init || rout) && kn <= SW_LUA_NAME_MAX && *cnt < SW_LUA_FUNCS_MAX)
                memcpy(init ? c->init[(*cnt)++] : c->rout[(*cnt)++], k, kn + 1);
            else if (init || rout)
                sw_log(lua->n, SW_LOG_WARN, "%s: %s ignored (name too long or more than %d)", lua->app, k,
                       SW_LUA_FUNCS_MAX);
        }
        lua_pop(L, 1);
    }
    sort_names(c->init, c->ninit);
    sort_names(c->rout, c->nrout);
    for (unsigned i = 0; i < c->ninit; i++) {
        lua_getfield(L, tab, c->init[i]);
        sw__lua_task_new(lua, L, 0, SW_TASK_INIT, c->init[i]);
    }
    for (unsigned i = 0; i < c->nrout; i++) {
        lua_getfield(L, tab, c->rout[i]);
        lua_pushvalue(L, -1);
        sw_lua_task_t *t = sw__lua_task_new(lua, L, 0, SW_TASK_ROUTINE, c->rout[i]);
        t->wait = SW_WAIT_START;
        t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX); // kept for restarts (a raise here: the app
                                                   // fails and app_stop releases t)
    }
    return 0;
}

static void main_done(sw_lua_task_t *main, int st)
{
    sw_lua_t *lua = main->lua;
    if (st == SW_TASK_FAILED) {
        const char *what = lua->board_stage ? "board main.lua" : "main.lua";
        sw_log(lua->n, SW_LOG_ERROR, "%s: %s failed: %s", lua->app, what, lua->err_text);
        sw__lua_log_lines(lua, SW_LOG_ERROR, lua->app, lua->trace, 12);
        sw__lua_task_free(main, NULL);
        app_failed(lua, what, true);
        return;
    }
    collect_t *c = sw_node_alloc(lua->n, sizeof *c);
    if (!c) {
        sw__lua_task_free(main, NULL);
        snprintf(lua->err_text, sizeof lua->err_text, "not enough memory");
        app_failed(lua, "main.lua", true);
        return;
    }
    c->lua = lua;
    c->main = main;
    int err = sw__lua_protect(lua, collect_protected, c);
    unsigned ninit = c->ninit, nrout = c->nrout;
    sw_node_release(lua->n, c, sizeof *c);
    sw__lua_task_free(main, NULL);
    if (err) {
        sw_log(lua->n, SW_LOG_ERROR, "%s: cannot start the app's functions: %s", lua->app, lua->err_text);
        app_failed(lua, "main.lua", true);
        return;
    }
    sw_log(lua->n, SW_LOG_INFO, "%s: %s loaded; %u init_*, %u routine_*", lua->app,
           lua->board_stage ? "board script" : "main.lua", ninit, nrout);
    lua->phase = SW_APP_INIT;
    lua->inits_left = 0;
    sw_lua_task_t *list[SW_LUA_FUNCS_MAX];
    unsigned k = 0;
    for (sw_lua_task_t *t = lua->tasks; t; t = t->next)
        if (t->kind == SW_TASK_INIT && k < SW_LUA_FUNCS_MAX)
            list[k++] = t;
    lua->inits_left = k;
    if (k == 0) {
        start_routines(lua);
        return;
    }
    uint32_t gen = lua->gen;
    for (unsigned i = 0; i < k && lua->gen == gen; i++)
        sw__lua_task_settle(list[i], sw__lua_task_run(list[i], 0));
}

static void init_done(sw_lua_task_t *t, int st)
{
    sw_lua_t *lua = t->lua;
    if (st == SW_TASK_FAILED) {
        sw_log(lua->n, SW_LOG_ERROR, "%s: %s failed: %s", lua->app, t->name, lua->err_text);
        sw__lua_log_lines(lua, SW_LOG_ERROR, lua->app, lua->trace, 12);
        char name[SW_LUA_NAME_MAX + 1];
        snprintf(name, sizeof name, "%s", t->name);
        sw__lua_task_free(t, NULL);
        app_failed(lua, name, false);
        return;
    }
    sw_log(lua->n, SW_LOG_DEBUG, "%s: %s finished", lua->app, t->name);
    sw__lua_task_free(t, NULL);
    if (lua->inits_left && --lua->inits_left == 0 && lua->phase == SW_APP_INIT)
        start_routines(lua);
}

void sw__lua_task_settle(sw_lua_task_t *t, int st)
{
    if (st == SW_TASK_WAITING || st == SW_TASK_GONE)
        return;
    switch (t->kind) {
    case SW_TASK_MAIN:
        main_done(t, st);
        break;
    case SW_TASK_INIT:
        init_done(t, st);
        break;
    case SW_TASK_ROUTINE:
        routine_done(t, st);
        break;
    default: // commands and evals that answered later
        if (st == SW_TASK_FAILED && t->kind == SW_TASK_CMD)
            sw_log(t->lua->n, SW_LOG_WARN, "%s: command %s failed: %s", t->lua->app, t->name, t->lua->err_text);
        sw__lua_answer_later(t, st);
        sw__lua_task_free(t, NULL);
        break;
    }
}

static void task_timer(sw_node_t *n, sw_timer_t *tm)
{
    (void)n;
    sw_lua_task_t *t = tm->user;
    switch (t->wait) {
    case SW_WAIT_RESTART:
        routine_start(t);
        return;
    case SW_WAIT_CALL:
        if (!t->call_done)
            return;
        break;
    case SW_WAIT_SLEEP:
    case SW_WAIT_TICK:
        break;
    default:
        return;
    }
    sw__lua_task_settle(t, sw__lua_task_run(t, 0));
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The app

static bool app_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SW_LUA_NAME_MAX || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

typedef struct load_ctx {
    sw_lua_t *lua;
    bool board;
    bool found;
    sw_lua_task_t *main;
} load_ctx_t;

// Replaces the table on top of L with a new, empty one that reads through to it (its
// metatable locked: getmetatable(_ENV) must not hand out the table below).
void sw__lua_env_over(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

static int load_protected(lua_State *L)
{
    load_ctx_t *x = lua_touserdata(L, 1);
    sw_lua_t *lua = x->lua;
    if (lua->env_ref == LUA_NOREF) {
        // the app's environment: its own globals, reading through to the board script's (when
        // there is one: its own globals too) and from there to the shared ones
        lua_pushglobaltable(L);
        if (x->board) {
            sw__lua_env_over(L);
            lua_pushvalue(L, -1);
            lua->board_env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        }
        sw__lua_env_over(L);
        lua->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_newtable(L);
        lua->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &sw__lua_key_swarm); // the real table behind the view
        if (lua_type(L, -1) == LUA_TTABLE) {
            lua_pushstring(L, lua->app);
            lua_setfield(L, -2, "app");
            lua_pushstring(L, lua->n->host_name);
            lua_setfield(L, -2, "host");
        }
        lua_pop(L, 1);
    }
    // the path in the VM (not on the C stack), below the environment
    const char *path = x->board ? lua_pushfstring(L, "boards/%s/main.lua", lua->n->hardware_name)
                                : lua_pushfstring(L, "apps/%s/main.lua", lua->app);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->board ? lua->board_env_ref : lua->env_ref);
    int env = lua_gettop(L);
    if (!sw__lua_load_file(L, path, env))
        return 0;
    x->found = true;
    x->main = sw__lua_task_new(lua, L, 0, SW_TASK_MAIN, "main.lua");
    return 0;
}

// Loads and runs the board script's or the app's main.lua. Returns 0 (started, or no main.lua:
// SW_ENOENT) or an error with lua->err_text (it did not load or failed at once; the failure
// policy has been applied).
static int run_main(sw_lua_t *lua, bool board)
{
    sw_node_t *n = lua->n;
    const char *what = board ? "board main.lua" : "main.lua";
    load_ctx_t x = {lua, board, false, NULL};
    int err = sw__lua_protect(lua, load_protected, &x);
    if (err) {
        if (x.main)
            sw__lua_task_free(x.main, NULL);
        sw_log(n, SW_LOG_ERROR, "%s: cannot load %s: %s", lua->app, what, lua->err_text);
        char keep[SW_LUA_ERR_MAX];
        memcpy(keep, lua->err_text, sizeof keep);
        app_failed(lua, what, true);
        memcpy(lua->err_text, keep, sizeof keep);
        return err;
    }
    if (!x.found && board) { // gone since app_start looked
        lua->board_stage = false;
        return run_main(lua, false);
    }
    if (!x.found) {
        snprintf(lua->err_text, sizeof lua->err_text, "no apps/%s/main.lua", lua->app);
        if (lua->board_env_ref > 0) { // the board script runs on
            sw_log(n, SW_LOG_INFO, "%s: no apps/%s/main.lua: only the board script runs", lua->app, lua->app);
            lua->phase = SW_APP_RUN;
        } else {
            sw_log(n, SW_LOG_INFO, "%s: no apps/%s/main.lua: no app runs", lua->app, lua->app);
            app_stop(lua);
        }
        return SW_ENOENT;
    }
    if (board)
        sw_log(n, SW_LOG_INFO, "%s: starting the board script boards/%s/main.lua", lua->app, n->hardware_name);
    else
        sw_log(n, SW_LOG_INFO, "%s: starting", lua->app);
    int st = sw__lua_task_run(x.main, 0);
    char keep[SW_LUA_ERR_MAX];
    memcpy(keep, lua->err_text, sizeof keep);
    sw__lua_task_settle(x.main, st);
    if (st == SW_TASK_FAILED) {
        memcpy(lua->err_text, keep, sizeof keep);
        return SW_EIO;
    }
    return 0;
}

// Starts lua->app, after the board script if boards/{hardware_name}/main.lua exists. Returns
// as run_main().
static int app_start(sw_lua_t *lua)
{
    sw_node_t *n = lua->n;
    const sw_port_t *port = &n->port;
    if (!app_name_ok(lua->app)) {
        snprintf(lua->err_text, sizeof lua->err_text, "bad app name '%s'", lua->app);
        sw_log(n, SW_LOG_ERROR, "lua: %s", lua->err_text);
        lua->app[0] = 0;
        return SW_EINVAL;
    }
    sw__lua_read_limits(lua);
    char *path = lua->path;
    snprintf(path, sizeof lua->path, "apps/%s", lua->app);
    port->ops->fs_mkdir(port->ctx, "apps"); // the folder exists even for no app (micro-swarm's FTP needs it)
    port->ops->fs_mkdir(port->ctx, path);
    lua->gen++;
    lua->phase = SW_APP_LOADING;
    // micro-swarm's hardware package: the board script first, when there is one
    snprintf(path, sizeof lua->path, "boards/%s/main.lua", n->hardware_name);
    sw_stat_t st;
    lua->board_stage = app_name_ok(n->hardware_name) && port->ops->fs_stat(port->ctx, path, &st) == 0 &&
                       st.type == SW_FT_FILE;
    return run_main(lua, lua->board_stage);
}

// Cancels the app's tasks and commands (not the evals), and the restart/reset timer.
static void app_stop(sw_lua_t *lua)
{
    sw_node_t *n = lua->n;
    lua->gen++;
    sw_timer_stop(n, &lua->app_timer);
    sw__lua_cmds_clear(lua);
    for (sw_lua_task_t *t = lua->tasks, *next; t; t = next) {
        next = t->next;
        if (t->kind != SW_TASK_EVAL)
            sw__lua_task_free(t, "cancelled: the app stopped");
    }
    if (lua->L) {
        luaL_unref(lua->L, LUA_REGISTRYINDEX, lua->env_ref);
        luaL_unref(lua->L, LUA_REGISTRYINDEX, lua->loaded_ref);
        if (lua->board_env_ref > 0)
            luaL_unref(lua->L, LUA_REGISTRYINDEX, lua->board_env_ref);
    }
    lua->env_ref = lua->loaded_ref = lua->board_env_ref = LUA_NOREF;
    lua->board_stage = false;
    lua->phase = SW_APP_NONE;
    lua->inits_left = 0;
}

static void app_failed(sw_lua_t *lua, const char *what, bool load)
{
    sw_node_t *n = lua->n;
    event_failed(lua, what);
    if (policy_reset(lua) && load) {
        // micro-swarm ignores an app that does not import: the node runs on without it
        sw_log(n, SW_LOG_ERROR, "%s: not started (fix it, then sys.load)", lua->app);
        app_stop(lua);
        return;
    }
    if (policy_reset(lua)) {
        int64_t ms = sw_cfg_int(&n->cfg, "app.reset_delay_ms", SW_LUA_RESET_DELAY_DEFAULT);
        if (ms < 0)
            ms = 0;
        if (ms > 86400000)
            ms = 86400000;
        sw_log(n, SW_LOG_ERROR, "%s: uncaught error in %s, resetting in %u s (stopping the app cancels the reset)",
               lua->app, what, (unsigned)((ms + 999) / 1000));
        app_stop(lua);
        lua->phase = SW_APP_RESET;
        sw_timer_start(n, &lua->app_timer, (uint32_t)ms);
        return;
    }
    uint32_t ms = backoff_ms(lua, lua->failures++);
    sw_log(n, SW_LOG_WARN, "%s: %s failed; restarting the app in %u s", lua->app, what, (unsigned)(ms / 1000));
    app_stop(lua);
    lua->phase = SW_APP_RETRY;
    sw_timer_start(n, &lua->app_timer, ms);
}

static void app_timer_fn(sw_node_t *n, sw_timer_t *tm)
{
    sw_lua_t *lua = tm->user;
    if (lua->phase == SW_APP_RESET) {
        lua->phase = SW_APP_NONE;
        sw_node_reset(n, SW_RESET_SOFT, "app error (app.on_error = reset)");
    } else if (lua->phase == SW_APP_RETRY) {
        app_start(lua);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// sys.load runs here, from a timer: never inside a running task.

static void answer_bool(sw_node_t *n, const sw_lua_reply_t *to, bool v)
{
    sw_mpw_t *w = sw__lua_answer_begin(n, to);
    if (w) {
        sw_mpw_bool(w, v);
        sw__lua_answer_end(n, to);
    }
}

static void load_timer_fn(sw_node_t *n, sw_timer_t *tm)
{
    (void)n;
    sw_lua_t *lua = tm->user;
    if (!lua->load_pending)
        return;
    lua->load_pending = false;
    bool running = lua->phase == SW_APP_LOADING || lua->phase == SW_APP_INIT || lua->phase == SW_APP_RUN;
    if (running && !lua->load_reload && !strcmp(lua->app, lua->load_app)) {
        answer_bool(lua->n, &lua->load_reply, false);
        return;
    }
    sw_lua_stop_app(lua->n);
    snprintf(lua->app, sizeof lua->app, "%s", lua->load_app);
    int err = app_start(lua);
    if (err)
        sw__lua_answer_error(lua->n, &lua->load_reply, lua->err_text);
    else
        answer_bool(lua->n, &lua->load_reply, true);
}

void sw__lua_app_timers(sw_lua_t *lua)
{
    lua->board_env_ref = LUA_NOREF;
    lua->app_timer.fn = app_timer_fn;
    lua->app_timer.user = lua;
    lua->load_timer.fn = load_timer_fn;
    lua->load_timer.user = lua;
}

void sw__lua_tasks_close(sw_lua_t *lua)
{
    sw_timer_stop(lua->n, &lua->load_timer);
    if (lua->load_pending) {
        lua->load_pending = false;
        sw__lua_answer_error(lua->n, &lua->load_reply, "cancelled: the node stops");
    }
    while (lua->tasks) {
        sw_lua_task_t *t = lua->tasks;
        sw__lua_task_free(t, "cancelled: the node stops");
        if (lua->tasks == t) // still running (cannot happen at close): unlink it anyway
            task_unlink(t);
    }
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Public

// Cancels the tasks that owe an answer to rpc (seq < 0: to any of its requests). Nobody is
// left to hear the answer, so none is sent.
static void cancel_owed(sw_lua_t *lua, const sw_rpc_t *rpc, int64_t seq)
{
    // Freeing a task cancels its own swarm.call, which may free the task serving it: start
    // over after each one (at most SW_LUA_TASKS_MAX).
    for (bool again = true; again;) {
        again = false;
        for (sw_lua_task_t *t = lua->tasks; t; t = t->next) {
            if (t->has_reply && t->reply.to.rpc == rpc && (seq < 0 || t->reply.to.seq == seq) &&
                (t->kind == SW_TASK_EVAL || t->kind == SW_TASK_CMD)) {
                t->has_reply = false;
                sw_log(lua->n, SW_LOG_DEBUG, "lua: %s (request %lld) cancelled: %s", t->name,
                       (long long)t->reply.to.seq, seq < 0 ? "its link is gone" : "the requester cancelled it");
                sw__lua_task_free(t, NULL);
                again = true;
                break;
            }
        }
    }
}

void sw_lua_session_gone(sw_node_t *n, const sw_rpc_t *rpc)
{
    sw_lua_t *lua = n->lua;
    if (!lua || !lua->L)
        return;
    cancel_owed(lua, rpc, -1);
    sw__proxy_owner_gone(n, rpc);
}

void sw_lua_request_cancelled(sw_node_t *n, const sw_rpc_t *rpc, int64_t seq)
{
    sw_lua_t *lua = n->lua;
    if (lua && lua->L && seq >= 0)
        cancel_owed(lua, rpc, seq);
}

int sw_lua_start_app(sw_node_t *n, const char *app)
{
    sw_lua_t *lua = n->lua;
    if (!lua || !lua->L)
        return SW_EINVAL;
    if (!app)
        app = "";
    char name[SW_LUA_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", app);
    sw_lua_stop_app(n);
    memcpy(lua->app, name, sizeof name);
    // App problems are logged and handled by the app.on_error policy; they never fail the node.
    (void)app_start(lua);
    return 0;
}

void sw_lua_stop_app(sw_node_t *n)
{
    sw_lua_t *lua = n->lua;
    if (!lua)
        return;
    uint8_t phase = lua->phase;
    app_stop(lua);
    if (lua->L) // what the app held goes back to the pool now, not at the next cycle
        lua_gc(lua->L, LUA_GCCOLLECT);
    lua->failures = 0;
    n->app_version[0] = 0;
    if (phase == SW_APP_RESET)
        sw_log(n, SW_LOG_WARN, "%s: stopped; the pending reset is cancelled", lua->app);
    else if (phase != SW_APP_NONE)
        sw_log(n, SW_LOG_INFO, "%s: stopped", lua->app);
}

#endif // SW_WITH_LUA
