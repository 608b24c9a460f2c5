// Internals shared by the Lua side of the node: the VM (lua_vm.c), value conversion
// (lua_conv.c), tasks and the app lifecycle (lua_app.c), the swarm API and the app commands
// (lua_api.c) and proxies (proxy.c). Nothing here is visible outside src/node.
//
// Threading model: one Lua state, many coroutines ("tasks"). A task is resumed only from the
// node's event loop (a timer, a command handler, the app's start) and runs until it yields
// (swarm.sleep, swarm.call), ends, fails or exceeds its instruction budget. Lua errors never
// unwind through node code: every entry from node code into the Lua API goes through
// sw__lua_protect() (a lua_pcall on the main state) or lua_resume().
#ifndef SW_LUA_INT_H
#define SW_LUA_INT_H

#include <lua.h>
#include <lauxlib.h>

#include "node_int.h"
#include "lua_part.h"

// Bounds of the Lua part; the counts are smaller in the MCU profiles (profile.h), and each can
// be overridden with -D.
#define SW_LUA_NAME_MAX 63       // app and command names, bytes
#ifndef SW_LUA_FUNCS_MAX
#define SW_LUA_FUNCS_MAX SW__SZ(32, 8)   // init_* and routine_* functions of one app (each)
#endif
#ifndef SW_LUA_CMDS_MAX
#define SW_LUA_CMDS_MAX SW__SZ(64, 16)   // commands of one app
#endif
#ifndef SW_LUA_TASKS_MAX
#define SW_LUA_TASKS_MAX SW__SZ(128, 24) // live tasks (routines, command calls, evals)
#endif
#define SW_LUA_CONV_DEPTH 16     // deepest Lua table written as MsgPack; deeper → proxy
#define SW_LUA_HOOK_STEP 1000    // instructions between two count-hook checks
#define SW_LUA_ERR_MAX 256       // error text kept for replies and logs
#define SW_LUA_BYTES_PER_STEP 16 // bytes allocated or scanned in C that count as one instruction

// Defaults of the config keys read by the Lua side (docs/APPS.md).
#define SW_LUA_MEM_DEFAULT SW_NODE_DEF_LUA_MEM // limits.lua_mem: bytes of the Lua heap (profile.h)
#define SW_LUA_INSTR_DEFAULT 100000000      // limits.lua_instr: instructions without yielding
#define SW_LUA_MS_DEFAULT 20000             // limits.lua_ms: ms of one run without yielding (0: none)
#define SW_LUA_RESET_DELAY_DEFAULT 60000    // app.reset_delay_ms
#define SW_LUA_BACKOFF_DEFAULT 60000        // app.restart_max_ms: longest restart back-off

typedef struct sw_lua sw_lua_t;

// A deferred answer owed to a requester. The session (to.rpc) lives inside its link, which is
// freed when the connection closes, and a new link may reuse the memory with the same
// generation; so the link's peer is noted too, and the answer is sent only while the same link
// is still there.
typedef struct sw_lua_reply {
    sw_reply_to_t to;
} sw_lua_reply_t;
typedef struct sw_lua_task sw_lua_task_t;
typedef struct sw_lua_cmd sw_lua_cmd_t;

enum sw_lua_kind {
    SW_TASK_MAIN = 1, // main.lua's chunk
    SW_TASK_INIT,     // an init_* function
    SW_TASK_ROUTINE,  // a routine_* function
    SW_TASK_CMD,      // one call of an app command
    SW_TASK_EVAL,     // one sys.eval
};

enum sw_lua_wait {
    SW_WAIT_NONE = 0,
    SW_WAIT_SLEEP,   // swarm.sleep: the task timer resumes it
    SW_WAIT_CALL,    // swarm.call: the answer arms the task timer
    SW_WAIT_TICK,    // a bare coroutine.yield(): resumed on the next loop pass
    SW_WAIT_RESTART, // a failed routine waiting for its back-off (no coroutine)
    SW_WAIT_START,   // a routine created at load, started when every init_* has finished
};

// Results of sw__lua_task_run().
enum {
    SW_TASK_DONE = 0,   // the function returned; its results are on t->co (t->nres)
    SW_TASK_WAITING = 1, // it yielded; something will resume it
    SW_TASK_FAILED = -1, // it raised an error; lua->err_text holds the message, lua->trace the traceback
    SW_TASK_GONE = -2,   // it was cancelled while running and has been released
};

struct sw_lua_task {
    sw_lua_task_t *next;
    sw_lua_t *lua;
    lua_State *co;     // the coroutine (NULL while waiting for a restart)
    int co_ref;        // registry reference keeping co alive
    int fn_ref;        // the function (routines keep it for restarts)
    uint8_t kind;      // SW_TASK_*
    uint8_t wait;      // SW_WAIT_*
    bool running;      // inside lua_resume right now
    bool dead;         // cancelled while running: released when lua_resume returns
    bool overrun;      // the instruction budget ran out
    bool has_reply;    // reply is owed an answer
    bool in_call;      // inside sw_node_call (its answer may arrive synchronously)
    bool call_done;    // the answer of swarm.call has arrived
    bool call_error;   // … and it is an error (call_buf holds its text item)
    bool reply_array;  // EVAL: the result is [value, repr]
    int nres;          // results after SW_TASK_DONE
    uint32_t restarts; // routines: failures in a row (back-off exponent)
    uint32_t started;  // ms (node clock) of the last (re)start
    uint64_t instr;    // instructions in the current run
    uint32_t run_start; // ms: when the current run began (limits.lua_ms)
    bool late;          // … and it ran past limits.lua_ms
    int64_t call_seq;  // swarm.call's request (0: none)
    uint8_t *call_buf; // its answer (raw MsgPack item), from sw_node_alloc
    size_t call_len;
    sw_timer_t timer;
    sw_lua_reply_t reply;
    char name[SW_LUA_NAME_MAX + 1]; // for logs: "routine_blink", "status", "eval"
};

struct sw_lua_cmd {
    sw_lua_cmd_t *next;
    sw_lua_t *lua;
    sw_cmd_def_t def; // def.name/def.doc point into this allocation
    int id;           // tree id
    int fn_ref;
    size_t size;      // of this allocation
};

enum sw_lua_phase {
    SW_APP_NONE = 0, // no app
    SW_APP_LOADING,  // main.lua's chunk is running
    SW_APP_INIT,     // init_* tasks are running
    SW_APP_RUN,      // routine_* tasks are running
    SW_APP_RETRY,    // failed; app_timer restarts it
    SW_APP_RESET,    // failed under app.on_error = "reset"; app_timer resets the node
};

struct sw_lua {
    sw_node_t *n;
    lua_State *L;
    size_t mem_used, mem_cap, mem_peak; // bytes of the Lua heap
    size_t gc_mark;        // mem_used after the last collection forced by a task's end
    uint64_t instr_limit;
    uint64_t loose_instr;  // instructions (and charges) outside any task, per node entry
    uint32_t loose_start;  // ms: when that code was entered
    uint32_t time_limit;   // ms of one run without yielding (limits.lua_ms; 0: none)
    uint32_t backoff_max;  // ms
    sw_lua_task_t *tasks;
    sw_lua_task_t *cur;    // innermost running task
    unsigned ntasks;

    // the app
    char app[SW_LUA_NAME_MAX + 1]; // the app that runs / last ran ("" = none)
    char path[SW_LUA_NAME_MAX + 20]; // app start: "apps/{app}", "boards/{hardware}/main.lua" (not on the stack)
    uint8_t phase;         // SW_APP_*
    uint32_t gen;          // bumped at every start and stop
    int env_ref;           // the app's environment table
    int loaded_ref;        // its require() cache
    int board_env_ref;     // the board script's environment (the app's reads through to it), or LUA_NOREF
    bool board_stage;      // the board script (boards/{hardware_name}/main.lua) is starting
    int app_dir;           // tree id of the app's command directory, or -1
    sw_lua_cmd_t *cmds;
    unsigned ncmds;
    unsigned inits_left;
    uint32_t failures;     // app-level failures in a row (init / main.lua)
    sw_timer_t app_timer;  // SW_APP_RETRY / SW_APP_RESET

    // sys.load runs from a timer (never inside a running task)
    sw_timer_t load_timer;
    bool load_pending;
    bool load_reload;
    sw_lua_reply_t load_reply;
    char load_app[SW_LUA_NAME_MAX + 1];


    const void *proxy_owner; // the session the reply being encoded goes to (proxy.c); NULL: local
    uint8_t *scratch;      // encodes deferred answers (sw_node_alloc'ed)
    size_t scratch_cap;
    char err_text[SW_LUA_ERR_MAX];
    char trace[1024];      // traceback of the last failure (for logs)
};

// Registry keys (their addresses are the keys).
extern const char sw__lua_key_none, sw__lua_key_end, sw__lua_key_proxy_mt, sw__lua_key_ext_mt;
extern const char sw__lua_key_tasks; // weak-keyed set of the threads of tasks
extern const char sw__lua_key_swarm; // the real swarm table (the global is a read-only view)
extern const char sw__lua_key_shared; // the read-only view of the globals apps and evals read

static inline sw_lua_t *sw__lua_of(lua_State *L) { return *(sw_lua_t **)lua_getextraspace(L); }

// --- lua_vm.c
// Runs f(L) on the main state under lua_pcall with ud as its only argument (a light userdata).
// Returns 0, or SW_EFULL (out of Lua memory) / SW_EIO (any other error; text in lua->err_text).
int sw__lua_protect(sw_lua_t *lua, lua_CFunction f, void *ud);
// Loads a Lua source file through the port (text only) as a function with upvalue _ENV = the
// table at env_idx. Pushes the function, or raises an error naming the file. Returns 1, or 0
// (and pushes nothing) if the file does not exist.
int sw__lua_load_file(lua_State *L, const char *path, int env_idx);
// Copies the string form of the value at idx (no metamethods) into buf.
void sw__lua_errstr(lua_State *L, int idx, char *buf, size_t cap);
// Logs "{app}: text" split on newlines (at most max_lines lines).
void sw__lua_log_lines(sw_lua_t *lua, int level, const char *prefix, const char *text, int max_lines);
// Reads the config keys (memory cap, instruction budget).
void sw__lua_read_limits(sw_lua_t *lua);
// print-like logging of all arguments (swarm.log, swarm.warn, swarm.log_error).
int sw__lua_log_info(lua_State *L);
int sw__lua_log_warn(lua_State *L);
int sw__lua_log_error(lua_State *L);

// --- lua_bound.c, lua_match.c
// Charges steps of C work to the running task's instruction budget (or the budget of the code
// running outside a task); over it, marks the task overrun and raises "instruction limit
// exceeded". Only from C functions the script called (it raises).
void sw__lua_charge(lua_State *L, uint64_t steps);
// The same for bytes allocated: never raises (the allocator cannot); the next hook acts.
void sw__lua_charge_alloc(sw_lua_t *lua, size_t bytes);
// True once the running task (or the code outside tasks) is over its budget.
bool sw__lua_over_budget(sw_lua_t *lua);
// True (and marks the task) once the running code has run past limits.lua_ms: the backstop
// for work that neither instructions nor charges see (a comparison of two long strings is one
// instruction).
bool sw__lua_late(sw_lua_t *lua);
// Replaces the library functions that need bounds (at VM init, after the libraries opened).
void sw__lua_open_bounds(lua_State *L);
// Sets find, match, gmatch and gsub of the string library table at index strlib.
void sw__lua_open_match(lua_State *L, int strlib);

// --- lua_conv.c
// Pushes the Lua value of the next MsgPack item of r (raises on a reader error / memory).
void sw__lua_push_mp(lua_State *L, sw_mpr_t *r);
// Pushes the value of one complete item; an empty span pushes an empty table ({} = no args).
void sw__lua_push_span(lua_State *L, sw_span_t s);
// Writes the value at idx as one MsgPack item. Values that cannot be data (functions, userdata,
// threads, cyclic or too deep tables) become proxies. Raises a Lua error when the proxy table is
// full. The writer's sticky error (SW_EFULL) is left for the caller to check.
void sw__lua_write_mp(lua_State *L, int idx, sw_mpw_t *w);
// Pushes a short printable representation of the value at idx (strings quoted, tables shown
// to a small depth, at most about 400 bytes). No metamethods except __tostring / __name.
void sw__lua_push_repr(lua_State *L, int idx);
// True if s[0..n) is valid UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
bool sw__utf8_valid(const uint8_t *s, size_t n);

// --- proxy.c
int sw__proxy_init(sw_node_t *n);
void sw__proxy_close(sw_node_t *n);
// Writes the name of the proxy for the value at idx into out (creating one; the same value
// always gets the same name). Raises a Lua error when the table is full.
void sw__proxy_name(lua_State *L, int idx, char *out, size_t cap);
// Pushes the value proxied under name, or returns false (pushing nothing).
bool sw__proxy_push(lua_State *L, const char *name, size_t len);
size_t sw__proxy_count(const sw_node_t *n);
// Releases every proxy that was sent to owner (a session whose link is gone).
void sw__proxy_owner_gone(sw_node_t *n, const void *owner);

// --- lua_app.c
void sw__lua_app_timers(sw_lua_t *lua); // sets up the app's timers (at VM init)
// Replaces the table on top of L with a new, empty one that reads through to it.
void sw__lua_env_over(lua_State *L);
void sw__lua_tasks_close(sw_lua_t *lua); // releases every task (at VM close)
// Creates a task running the function on top of L (popped) with nargs arguments below it…
// exactly: stack [fn, arg1..argN] at the top of L are moved into the new coroutine. Raises on
// memory errors. Returns the task (linked, not yet run).
sw_lua_task_t *sw__lua_task_new(sw_lua_t *lua, lua_State *L, int nargs, int kind, const char *name);
// Resumes t with nargs values already pushed on t->co. See SW_TASK_*.
int sw__lua_task_run(sw_lua_task_t *t, int nargs);
// Releases a task that is not running (or marks a running one dead). Answers an owed reply with
// an error.
void sw__lua_task_free(sw_lua_task_t *t, const char *why);
// Handles the outcome of a run that was not started by a command handler (timers, app start).
void sw__lua_task_settle(sw_lua_task_t *t, int st);
// The task that is running right now (or NULL); raises if called outside one or from a nested
// coroutine (what), since the node can only resume the task's own coroutine.
sw_lua_task_t *sw__lua_task_current(lua_State *L, const char *what);
void sw__lua_task_wake(sw_lua_task_t *t, uint32_t delay_ms);

// --- lua_api.c
// Deferred answers (see sw_lua_reply_t): save at request time; the answer functions behave as
// sw_rpc_answer_begin / _end / _error, and drop the answer if the requester's link is gone.
void sw__lua_reply_save(sw_node_t *n, sw_lua_reply_t *r, const sw_call_t *call);
sw_mpw_t *sw__lua_answer_begin(sw_node_t *n, const sw_lua_reply_t *r);
void sw__lua_answer_end(sw_node_t *n, const sw_lua_reply_t *r);
void sw__lua_answer_error(sw_node_t *n, const sw_lua_reply_t *r, const char *text);
// Builds the swarm table into the globals.
void sw__lua_open_swarm(lua_State *L);
// sys.eval and sys.load: the part's command group (sw_part_lua.cmds).
extern const sw_part_cmds_t sw__lua_sys_group;
// Removes every command of the app (and the app's directory), ending their streams.
void sw__lua_cmds_clear(sw_lua_t *lua);
// Encodes the result of a finished CMD/EVAL task into w (a command reply value). Returns 0, or
// SW_CALL_END (a stream step returned swarm.END), or an error (text in lua->err_text).
int sw__lua_encode_result(sw_lua_t *lua, sw_lua_task_t *t, sw_mpw_t *w, bool stream, const void *to);
// Answers a deferred CMD/EVAL task that has finished (st = SW_TASK_DONE / FAILED).
void sw__lua_answer_later(sw_lua_task_t *t, int st);

#endif
