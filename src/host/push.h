// swarm push engine: updates the app (and the optional board scripts) of many devices at once
// from a project laid out like micro-swarm's (PROJECT/apps/{app}/…, PROJECT/boards/{board}/…),
// through the node's "push" commands (docs/PROTOCOL.md, "Push"). Used by `swarm push`.
//
// A device's board target exists when the project has boards/{board}/main.lua (board scripts,
// run before the app); a boards/{board} folder without it (C sources) is not pushed.
//
// Per device (one link, one connection):
//   [beacon app_hash == local id → "unchanged", no connection at all]
//   connect → sys.info (identity, message limit) → per target (boards/BOARD if the project has
//   it, then apps/APP): push.manifest → diff (size or SHA-256 differ; files the device has and
//   the project has not are deleted) → push.begin → f.mkdir of the staging subdirectories →
//   the changed files through the transfer engine (xfer.h: several files at once, a window of
//   chunks in flight each, f.open mode "W") → push.commit put/del (the device checks the
//   result against the id, switches atomically, hot-reloads and health-checks; it answers
//   "rolled back: …" when the new version failed) → [--app X on a device that ran another
//   app: sys.cfg board.app_name + apply] → [--reboot: sys.boot].
// The per-file f.hash of the transfer engine is skipped, and each file's f.cl goes right behind
// its last f.wr (xfer.h close_early): push.commit checks every file of the target against the
// manifest id, end to end.
//
// Scheduling: at most `parallel` devices at once, in the order given (without max_failures, a
// device whose commit is out, waiting through the device's grace period, does not count: its
// link is idle); with
// `canary` N, only
// canaries run until N of them succeeded, and the rollout stops at the first one that fails;
// with `max_failures` K, no new device starts after K failures. Runs on a libuv loop; every
// callback comes from that loop.
#ifndef SW_HOST_PUSH_H
#define SW_HOST_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "manifest.h"

#define SW_PUSH_PARALLEL_DEFAULT 16u
#define SW_PUSH_FILES_DEFAULT 4u   // files in flight per device (the node opens 16 at most)
#define SW_PUSH_MAX_TARGETS 2      // boards/BOARD and apps/APP
#define SW_PUSH_GRACE_DEFAULT 3000 // the node's default grace period (ms), for timeouts only
#define SW_PUSH_WAITING_MAX 256    // devices waiting for their commit's answer, beyond parallel

typedef enum sw_push_step {
    SW_PUSH_WAIT = 0, // not started yet
    SW_PUSH_CONNECT,
    SW_PUSH_INFO,     // sys.info
    SW_PUSH_MANIFEST, // push.manifest of the current target
    SW_PUSH_BEGIN,    // push.begin
    SW_PUSH_MKDIR,    // staging subdirectories
    SW_PUSH_UPLOAD,   // files
    SW_PUSH_COMMIT,   // push.commit (includes the device's grace period)
    SW_PUSH_SWITCH,   // --app: making the pushed app the one the device runs
    SW_PUSH_REBOOT,   // --reboot
    SW_PUSH_DONE,
} sw_push_step_t;

typedef enum sw_push_res {
    SW_PUSH_PENDING = 0,
    SW_PUSH_OK,          // committed (and reloaded) on the device
    SW_PUSH_UNCHANGED,   // the device already has the project's files (quick: seen in its beacon)
    SW_PUSH_DRY,         // --dry-run: the changes are listed, nothing was sent
    SW_PUSH_FAILED,      // an error (reason): the device keeps its old version
    SW_PUSH_ROLLED_BACK, // the new version failed its health check: the device went back
    SW_PUSH_OFFLINE,     // could not be reached
    SW_PUSH_SKIPPED,     // not started: the rollout stopped (canary, --max-failures, Ctrl-C)
    SW_PUSH_IGNORED,     // not for this push (not selected, no such app in the project, …)
} sw_push_res_t;

// One change of a target, for --dry-run and reports.
typedef struct sw_push_change {
    char op;      // '+' new, '~' changed, '-' deleted
    char *path;   // relative to the target
    uint64_t size; // new size ('-': the device's)
} sw_push_change_t;

typedef struct sw_push_tgt {
    char t[80];          // "apps/blink", "boards/posix-sim"
    char id[65];         // the project's id of the target
    char old_id[65];     // the device's before the push ("" if not asked)
    char prev[65];       // push.commit's "prev"
    bool unchanged;      // the device had it already
    bool committed;
    uint32_t put, del;   // files sent / deleted
    uint64_t put_bytes;  // bytes to send
    uint32_t commit_ms;  // push.commit's "ms" (the device's time)
    sw_push_change_t *changes; // put then del, in manifest order (owned)
    size_t n_changes;
} sw_push_tgt_t;

typedef struct dev_run dev_run_t;

// A device. The caller fills the first block (all strings may be ""), the engine the rest.
typedef struct sw_push_dev {
    char name[64];        // host name, if known
    char uri[320];        // link URI (hlink.h)
    char app[64];         // the app the device runs, if known (beacon); else from sys.info
    char board[64];       // its hardware_name, if known
    char beacon_hash[72]; // its beacon's swarm.app_hash, if known
    bool listed;          // named on the command line (--host / --link)
    // --- filled by the engine
    sw_push_step_t step;
    sw_push_res_t res;
    char reason[400];     // why it failed / was skipped / ignored
    char push_app[64];    // the app pushed to it
    sw_push_tgt_t tgt[SW_PUSH_MAX_TARGETS];
    int n_tgt;
    int cur_tgt;          // the target being worked on
    uint64_t bytes_total; // file bytes to send (all targets)
    uint64_t bytes_sent;  // file bytes the device acknowledged
    uint64_t bytes_wire;  // of those, what crossed the link (less when compressed)
    uint32_t files_z;     // files sent compressed
    uint32_t files_total, files_done;
    bool connected;       // a link was up at some point
    bool quick;           // unchanged by its beacon, without connecting
    bool canary;
    bool switched;        // --app: board.app_name was changed
    uint64_t t_start, t_end; // loop time (ms) when it started / ended
    dev_run_t *run;       // internal
} sw_push_dev_t;

typedef struct sw_push_opts {
    const char *project;      // directory holding apps/ (and boards/)
    const char *app;          // push this app to every selected device (NULL: each its own)
    const char *const *to;    // selectors (union; none = every device): a glob on the host
    size_t n_to;              //   name ("node-*"), "app=GLOB", "board=GLOB", "uri=GLOB"
    uint32_t parallel;        // devices at once (0: SW_PUSH_PARALLEL_DEFAULT)
    uint32_t files;           // files in flight per device (0: SW_PUSH_FILES_DEFAULT)
    uint32_t window;          // chunk requests in flight per file (0: the engine's default)
    uint32_t canary;          // 0: no canary phase
    uint32_t max_failures;    // 0: no limit
    bool dry_run;
    bool reboot;
    bool no_quick;            // connect even when the beacon says "unchanged"
    bool no_compress;         // send files plain even to devices that inflate
    int64_t grace_ms;         // push.commit's grace_ms; < 0: the device's default
    uint32_t timeout_ms;      // longest wait for an answer (0: no limit)
    uint32_t connect_timeout_ms; // 0: 5000
    // A device changed its step or finished (res set). May be NULL.
    void (*event)(void *u, sw_push_dev_t *d);
    void *u;
} sw_push_opts_t;

typedef struct sw_push sw_push_t;

// Prepares a push of devs[0..n) (kept by the caller, updated in place until sw_push_free).
// Devices whose res is not SW_PUSH_PENDING are left as they are (the caller settled them).
// 0, or SW_EINVAL / SW_EFULL with a message in err.
int sw_push_new(uv_loop_t *loop, const sw_push_opts_t *o, sw_push_dev_t *devs, size_t n,
                sw_push_t **out, char *err, size_t errcap);
// Settles what needs no connection (unchanged by beacon, not selected, no local app), then
// starts devices. Events may arrive before it returns.
void sw_push_start(sw_push_t *p);
// More devices while the push runs (a scan that is still going: the first ones found need not
// wait for the last): devs[old n .. n) are new, in the same array, which the caller allocated
// large enough for all of them (the engine keeps pointers into it). Each is settled or started
// as sw_push_start does. While sw_push_more(p, true) holds, the push is not done.
void sw_push_add(sw_push_t *p, size_t n);
// Says whether devices may still come through sw_push_add (sw_push_new: no).
void sw_push_more(sw_push_t *p, bool more);
// True when every device has a result and every link and timer is closed, and no more devices
// are expected.
bool sw_push_done(const sw_push_t *p);
// Stops the rollout: devices not started are SKIPPED with why; with cancel, running ones are
// cut off too (FAILED "interrupted"; a device keeps its old version unless its commit had
// already been sent).
void sw_push_stop(sw_push_t *p, const char *why, bool cancel);
// Frees the engine (after sw_push_done) and the devices' change lists.
void sw_push_free(sw_push_t *p);

// Local manifest of a project target ("apps/blink"), cached: NULL with a message in err when
// it cannot be read or is beyond the bounds.
const sw_manifest_t *sw_push_local(sw_push_t *p, const char *target, char *err, size_t errcap);
// The loop's time in ms (for durations).
uint64_t sw_push_now(const sw_push_t *p);

// Does a device match one selector? (Used by the engine; exposed for tests.)
bool sw_push_match(const char *sel, const sw_push_dev_t *d);

const char *sw_push_res_name(sw_push_res_t r);   // "ok", "unchanged", "dry-run", "failed", …
const char *sw_push_step_name(sw_push_step_t s); // "connect", "upload", …

#endif
