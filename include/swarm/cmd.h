// swarm command tree: named directories and commands, resolved with MoaT v0 semantics, and the
// call context a command handler works with (docs/PROTOCOL.md, "Commands").
//
// Resolution of an action at a directory:
//   list  ["sys","is_up"]: every element but the last names a subdirectory; the last names a
//         command (or, if it names a directory, that directory's _dir).
//   string "fopen": a command of that exact name if there is one; otherwise a subdirectory named
//         by its FIRST character ("f") resolves the rest ("open") the same way (v0 sub-dispatch).
//   "_dir" at any level lists it: {"c": [commands], "d": [subdirectories], "j": false,
//         "h": {name: one-line doc}} — "h" is our addition (the seed's "online docstrings").
//
// The tree lives in a caller-provided node pool. Names, docs and command definitions are not
// copied: the caller keeps them alive until the entry is removed.
#ifndef SWARM_CMD_H
#define SWARM_CMD_H

#include "swarm/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sw_call sw_call_t;

// Results of a handler, besides 0 (one reply value was written with sw_call_out()) and negative
// errors (an error reply: the text set with sw_call_fail(), or sw_strerror() of the code).
#define SW_CALL_LATER 1 // the reply comes later, through a sw_reply_to_t saved by the handler
#define SW_CALL_END 2   // stream steps only: no value; the stream ends ({"i", "r": false})

typedef int (*sw_cmd_fn)(sw_call_t *call);

typedef struct sw_cmd_def {
    const char *name;   // path element, e.g. "ping"
    const char *params; // kwargs it takes, comma-separated; the first also receives a d that is
                        // not a map (v0: {"a":"ping","d":"x"} means m="x"). NULL or "" = none.
    const char *doc;    // one line for _dir; NULL = none
    sw_cmd_fn fn;
    void *user;         // handler's own context
} sw_cmd_def_t;

typedef struct sw_tnode {
    const char *name;       // NUL-terminated (not owned)
    const char *doc;        // directories: one line (not owned); commands: see def
    const sw_cmd_def_t *def; // NULL for a directory
    int16_t parent;         // index of the parent directory (-1 for the root)
    bool used;
} sw_tnode_t;

typedef struct sw_tree {
    sw_tnode_t *nodes; // pool, owned by the caller; nodes[0] is the root directory
    uint16_t cap;
    uint32_t gen;      // bumped by every add and remove (never 0): resolutions cached by an
                       // RPC session are valid while it stays the same
} sw_tree_t;

#define SW_TREE_ROOT 0

// Returns 0 or SW_EINVAL (cap < 1).
int sw_tree_init(sw_tree_t *t, sw_tnode_t *pool, size_t cap);
// Adds a directory / command under parent; returns its id (>= 0), or SW_EEXIST (name taken),
// SW_EFULL (pool full), SW_EINVAL (bad parent, empty name or a name with '.').
int sw_tree_add_dir(sw_tree_t *t, int parent, const char *name, const char *doc);
int sw_tree_add_cmd(sw_tree_t *t, int parent, const sw_cmd_def_t *def);
// Removes an entry and everything below it. Returns 0 or SW_ENOENT.
int sw_tree_remove(sw_tree_t *t, int id);
// Id of the child called name (name[0..n)) under dir, or SW_ENOENT.
int sw_tree_child(const sw_tree_t *t, int dir, const char *name, size_t n);
// Id of a dotted path ("sys.cfg", "" = root), or SW_ENOENT.
int sw_tree_find(const sw_tree_t *t, const char *dotted);
// Resolves a decoded action (m->path, m->action_is_str) with the rules above. Returns the id of
// a command or directory, or SW_ENOENT.
int sw_tree_resolve(const sw_tree_t *t, const sw_msg_t *m);
// Writes the dotted path of an entry into buf (NUL-terminated, truncated to cap).
void sw_tree_path(const sw_tree_t *t, int id, char *buf, size_t cap);
// Writes the _dir map of directory dir.
void sw_tree_write_dir(const sw_tree_t *t, int dir, sw_mpw_t *w);

// Where a deferred reply goes. Copy it out of the call (sw_call_t.reply_to) before returning
// SW_CALL_LATER; answer with sw_rpc_answer_*(). It goes stale (answers are dropped) when the
// session it belongs to closes.
typedef struct sw_reply_to {
    struct sw_rpc *rpc;
    uint32_t gen;   // session generation when the request arrived
    int64_t seq;    // request seq; < 0: the requester wants no reply
} sw_reply_to_t;

// The context of one command invocation. Valid only during the handler call.
struct sw_call {
    const sw_cmd_def_t *def; // the command being called
    sw_span_t args;          // raw "d" value (empty span when there was none)
    sw_mpw_t *out;           // reply value goes here (exactly one item)
    sw_reply_to_t reply_to;
    struct sw_rpc *rpc;      // the session the request came in on (may be NULL: local call)
    void *ctx;               // the dispatcher's context (e.g. the node)
    bool stream;             // this is one step of a stream
    uint32_t step;           // stream: 1 for the first value, 2, …
    int err;                 // sticky argument error of the sw_call_arg_* helpers
    const char *err_text;    // set by sw_call_fail(); must stay valid until the handler returns
    char err_buf[96];        // storage sw_call_failf-style helpers may use for err_text
};

// Raw value of argument name: from a map d by key, or d itself when d is not a map and name is
// the first of def->params. Returns 0 or SW_ENOENT.
int sw_call_arg(const sw_call_t *c, const char *name, sw_span_t *val);
// Typed arguments with defaults: absent → *out = dflt. Present with the wrong type → false,
// c->err = SW_ETYPE and an error text naming the argument (the handler returns c->err).
bool sw_call_arg_int(sw_call_t *c, const char *name, int64_t dflt, int64_t *out);
bool sw_call_arg_bool(sw_call_t *c, const char *name, bool dflt, bool *out);
// Strings: NULL/0 when absent and required is false; absent and required → SW_EINVAL.
bool sw_call_arg_str(sw_call_t *c, const char *name, bool required, sw_span_t *out);
bool sw_call_arg_bin(sw_call_t *c, const char *name, bool required, sw_span_t *out); // bin or str
// True if the argument is present and is nil or Proxy("-") (v0: "no data").
bool sw_call_arg_is_none(const sw_call_t *c, const char *name);

// Sets the error text of the reply and returns err (for `return sw_call_fail(c, SW_EINVAL, "…")`).
// text must outlive the handler call (a literal, or c->err_buf).
int sw_call_fail(sw_call_t *c, int err, const char *text);
// Builds "<a><b>" into c->err_buf (b may be NULL / not NUL-terminated with n) and fails with it.
int sw_call_fail2(sw_call_t *c, int err, const char *a, const char *b, size_t n);

// Runs the command `id` of tree t with call c prepared by the caller (def, args, out, …), and
// maps a directory to its _dir listing. Returns the handler's result.
int sw_tree_invoke(const sw_tree_t *t, int id, sw_call_t *c);

#ifdef __cplusplus
}
#endif
#endif
