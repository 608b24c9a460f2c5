// Internal API of push (docs/PROTOCOL.md "Push"), shared by its two files: push.c (the "push"
// commands, verification, the reload and its health check, the module) and push_journal.c
// (what lives on disk: the journal and its idempotent steps, boot recovery, the state file of a
// target, directory helpers).
//
// On disk, under the hidden directory .swarm of the root (names starting with '.' are never
// part of an id):
//   .swarm/stage/<target>/…   staging: the files of a push, uploaded with the f app
//   .swarm/bak/<target>/…     the previous version's files that the last commit replaced or deleted
//   .swarm/state/<target>     MsgPack {prev, added, state, last} (rollback and push.manifest)
//   .swarm/journal            the plan being applied (one at a time), written atomically
//   .swarm/testing            the target whose new version has not passed its health check yet
//                             (MCUboot's "test" state): found at boot, it is rolled back
//   .swarm/switch             "APP\nPREV": push.switch made APP the running app and its health
//                             check has not passed yet: found at boot, PREV runs again
#ifndef SW_PUSH_INT_H
#define SW_PUSH_INT_H

#include "app_hash.h"

#define SW_PUSH_STAGE ".swarm/stage"
#define SW_PUSH_BAK ".swarm/bak"
#define SW_PUSH_STATE ".swarm/state"
#define SW_PUSH_JOURNAL ".swarm/journal"
#define SW_PUSH_TESTING ".swarm/testing"
#define SW_PUSH_SWITCH ".swarm/switch"

#define SW_PUSH_PATH SW_NODE_PATH_MAX      // full paths, NUL included (as the f app's)
#define SW_PUSH_TARGET 72                   // "boards/" + a 63-byte name + NUL
#define SW_PUSH_LIST_MAX SW_APP_HASH_FILES  // entries of put and of del
#define SW_PUSH_FILE_MAX (512u * 1024u)     // largest journal or state file read back
#ifndef SW_PUSH_LAST_MAX
#define SW_PUSH_LAST_MAX SW__SZ(640, 256)  // the last result kept in the state file, bytes (profile.h)
#endif
#define SW_PUSH_TREE_DEPTH 32               // deepest directory sw__push_rmtree removes

enum { SW_PUSH_COMMIT = 1, SW_PUSH_ROLLBACK = 2 };

// A plan: what the journal holds, and the progress of applying it.
typedef struct sw_push_plan {
    uint8_t kind;           // COMMIT: files come from staging, the ones they replace (and deleted
                            // ones) go to the backup. ROLLBACK: files come from the backup, the
                            // ones they replace and deleted ones are dropped.
    char t[SW_PUSH_TARGET]; // "apps/blink"
    char id[65];            // the target's id once applied
    char old[65];           // … and before
    sw_manifest_t del;      // sorted relative paths removed from the target (applied first)
    sw_manifest_t put;      // sorted relative paths moved from the source into the target
    sw_manifest_t added;    // COMMIT: puts that did not exist before (a rollback removes them)
    uint32_t step;          // next step: del[0 …), then put[0 …)
    bool test;              // COMMIT of a running target: health-checked after the switch, so
                            // finishing it leaves SW_PUSH_TESTING until the check passes
} sw_push_plan_t;

// The state file of a target.
typedef struct sw_push_state {
    bool has_prev;          // a backup of the previous version exists (push.rollback)
    char prev[65];          // its id
    sw_manifest_t added;    // the paths the last commit added
    char state[16];         // "none" (never pushed), "ok", "rolled-back"
    uint8_t last[SW_PUSH_LAST_MAX]; // raw MsgPack map: the last result (last_len 0: none)
    size_t last_len;
} sw_push_state_t;

// --- path buffers (push.c). No path is copied onto the stack: push's paths live in its state,
// one buffer per role, so a function never hands a buffer to a callee that writes the same one:
//   CMD0, CMD1  the "push" commands and their checks (push.c)
//   STEP0       a journal step's target path, the state file's path, finish's source folder
//   STEP1       a put's source path     STEP2  where set_aside moves a file
//   LEAF        helpers that call no other user of a buffer: rmtree, mkparents, prune_parents,
//               rel_ok
// They exist from the part's init (before boot recovery) until its stop.
enum {
    SW_PUSH_BUF_CMD0,
    SW_PUSH_BUF_CMD1,
    SW_PUSH_BUF_STEP0,
    SW_PUSH_BUF_STEP1,
    SW_PUSH_BUF_STEP2,
    SW_PUSH_BUF_LEAF,
    SW_PUSH_BUFS
};
char *sw__push_buf(sw_node_t *n, int which); // SW_PUSH_PATH bytes

// --- names (push_journal.c)
// A target argument ("blink", "apps/blink", "/boards/posix-sim") → "apps/NAME" or
// "boards/NAME" (NAME: letters, digits, '_' and '-', at most 63 bytes, not starting with '-').
int sw__push_target(const char *in, size_t len, char out[SW_PUSH_TARGET]);
// True if rel[0..len) is a relative path a target may hold: normalised, not empty, no segment
// starting with '.', at most SW_MF_PATH_MAX bytes and SW_APP_HASH_DEPTH directory levels.
bool sw__push_rel_ok(sw_node_t *n, const char *rel, size_t len);
// out = a "/" b, and "/" c unless c is NULL. 0 or SW_ETOOBIG.
int sw__push_join3(char *out, const char *a, const char *b, const char *c); // out: SW_PUSH_PATH bytes
#define sw__push_join(out, a, b) sw__push_join3(out, a, b, NULL)
bool sw__push_hex_ok(const char *s, size_t len); // 64 hex digits

// --- files (push_journal.c)
// Removes path and everything below it; a missing path is fine. 0 or the first error.
int sw__push_rmtree(sw_node_t *n, const char *path);
// The same for a directory under .swarm, then the directories above it that it leaves empty.
int sw__push_rmdir_swarm(sw_node_t *n, const char *path);
// Creates the missing parent directories of path. 0, SW_ENOTDIR (a file is in the way), error.
int sw__push_mkparents(sw_node_t *n, const char *path);
// Writes a whole file atomically: "<path>.tmp", sync, rename over path.
int sw__push_write_atomic(sw_node_t *n, const char *path, const void *p, size_t len);

// --- state (push_journal.c). read: a missing file gives state "none". Release frees st's lists.
int sw__push_state_read(sw_node_t *n, const char *t, sw_push_state_t *st);
int sw__push_state_write(sw_node_t *n, const char *t, const sw_push_state_t *st);
void sw__push_state_release(sw_node_t *n, sw_push_state_t *st);
// Sets st->last to {"result": result, "id": id, "prev": prev|nil, "ms": ms, "at": wall clock}.
void sw__push_state_last(sw_node_t *n, sw_push_state_t *st, const char *result, const char *id,
                         const char *prev, uint32_t ms);

// --- journal (push_journal.c)
int sw__push_journal_write(sw_node_t *n, const sw_push_plan_t *p);
// Reads the journal into p (step 0). SW_ENOENT if there is none; SW_EPROTO if it is unusable.
int sw__push_journal_read(sw_node_t *n, sw_push_plan_t *p);
// Runs the next step of p (each is idempotent: re-running any prefix of the steps after a crash
// gives the same result). *done when none is left. 0 or the step's error.
int sw__push_step(sw_node_t *n, sw_push_plan_t *p, bool *done);
// After the last step: the state file (prev, added, state, last = result after ms), the source
// directory removed (staging / emptied backup), the journal removed, hash caches invalidated.
int sw__push_finish(sw_node_t *n, const sw_push_plan_t *p, const char *result, uint32_t ms);
// Removes path (a missing one is fine) and flushes: the removal is durable. 0 or the flush's error.
int sw__push_unlink_durable(sw_node_t *n, const char *path);
// The health check of the target in SW_PUSH_TESTING passed (or it was rolled back): the mark goes.
void sw__push_testing_clear(sw_node_t *n);
// The target a pending health check is for (SW_PUSH_TESTING), into t. False if none.
bool sw__push_testing_read(sw_node_t *n, char t[SW_PUSH_TARGET]);
// Completes an interrupted plan if the journal exists (all steps, then finish). 0 (also when
// there was none; *found tells) or an error (the journal is kept).
int sw__push_recover(sw_node_t *n, bool *found);
void sw__push_plan_release(sw_node_t *n, sw_push_plan_t *p);

#endif
