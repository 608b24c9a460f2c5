// The POSIX port: include/swarm/port.h implemented with libuv (loop, timers, TCP, ttys, stdio)
// and plain POSIX calls (files under the root, termios, re-exec). This is the only code of the
// device runtime that touches the OS; tools/swarm-node.c drives it:
//
//     sw_posix_t p;
//     sw_posix_init(&p, &opts);                // loop, root directory, file table
//     sw_node_create(&n, sw_posix_port(&p), &nopts);
//     sw_node_start(n);
//     rc = sw_posix_run(&p, n);                // until the node stops (or re-execs on reset)
//     sw_node_destroy(n);
//     sw_posix_close(&p);
//
// Single-threaded: every sw_node_*() event is called from the loop, never from inside a call
// the node made into the port (docs/PORTING.md).
#ifndef SW_PORT_POSIX_H
#define SW_PORT_POSIX_H

#include <pthread.h>

#include <uv.h>

#include "swarm/node.h"
#include "swarm/port.h"

#define SW_POSIX_HEAP_MAX (64u << 20) // default cap of alloc(), bytes
#define SW_POSIX_WRITE_MAX (16u << 20) // default cap of one connection's write queue, bytes
#define SW_POSIX_WRITE_HIGH (256u << 10) // default room a connection offers (conn_room), bytes
#define SW_POSIX_FILES 64              // default size of the open-file table
#define SW_POSIX_CONNS 1280            // default number of connections open at once (limits.clients
                                       // is at most 1,024; telnet, FTP, eval have their own); fewer
                                       // when the limit on open files cannot be raised that far
#define SW_POSIX_FD_RESERVE 64         // descriptors kept beside connections and open files
#define SW_POSIX_LINGER_MS 5000        // default time a closing connection may take to flush
#define SW_POSIX_RBUF 65536            // the read buffer (one, shared by every connection)
// Once the node has run this long, the pages of its own executable that it touched only to
// start (Lua, config, libc set-up) are handed back to the kernel (madvise MADV_PAGEOUT): clean
// file pages, read again from the page cache or the file if ever needed. 0: never.
#ifndef SW_POSIX_SETTLE_MS
#define SW_POSIX_SETTLE_MS 1000
#endif

typedef struct sw_posix_opts {
    // Directory holding everything the node stores (must exist; opened once at init, every
    // file operation is confined to it). NULL: no files (every fs call fails with SW_ENOENT,
    // writes with SW_EPERM) — for --print-config on a root that does not exist yet.
    const char *root;
    // No change to the root at all: opening for writing, mkdir, rmdir, unlink and rename fail
    // with SW_EPERM (--print-config, which promises to write nothing).
    bool read_only;
    // argv to re-exec with on reset SOFT/HARD (argv[0..] NULL-terminated, must outlive the
    // port). NULL: reset SOFT/HARD stops like SW_RESET_STOP.
    char **argv;
    size_t heap_max;    // cap of alloc() in bytes; 0: SW_POSIX_HEAP_MAX
    size_t write_max;   // cap of one connection's queue in bytes (beyond: the connection is
                        // closed with SW_EFULL); 0: SW_POSIX_WRITE_MAX
    size_t write_high;  // what conn_room() offers an empty queue, bytes (the node stops
                        // producing below its need; writes beyond are still taken up to
                        // write_max); 0: SW_POSIX_WRITE_HIGH
    uint16_t max_files; // open-file table size (fs_open handles are 0..max_files-1); 0: default
    uint16_t max_conns; // connections at once (more are refused at accept); 0: default
    uint32_t linger_ms; // flush time allowed to a closing connection; 0: default
} sw_posix_opts_t;

typedef struct sw_pconn sw_pconn_t;
typedef struct sw_plistener sw_plistener_t;
typedef struct sw_pudp sw_pudp_t;

// Files: the root directory and the table of open files (fs_posix.c).
#define SW_POSIX_DCACHE 4         // directories kept open by the file system (sw_posix_fs_t)
#define SW_POSIX_DCACHE_PATH 256  // longest path of one, bytes (deeper ones are not kept)

typedef struct sw_posix_fs {
    int rootfd;      // O_RDONLY|O_DIRECTORY of the root, -1 without a root
    int *fds;        // open files by handle; -1 = free slot
    uint16_t max;    // entries of fds
    bool read_only;  // every change refused (SW_EPERM)
    // Directories whose names changed since the last fs_flush (malloc'd relative paths, ""
    // the root); dirty_all: more than fit, the flush syncs the whole file system.
    char **dirty;
    uint16_t ndirty;
    bool dirty_all;
    // walk()'s last parent directories, open, so that the next operations in them (a file's
    // stat, open, hash and move, and its ancestors' stats, come in runs) skip resolving their
    // paths again. Forgotten when a directory is renamed or removed (it may have moved) and each
    // time the loop is about to wait (sw__posix_fs_forget from port_posix.c): none outlives one
    // round of events.
    struct sw_posix_dcache {
        int fd;           // -1: a free entry
        uint16_t busy;    // walk() results of it not released yet (dir_done)
        uint16_t len;
        bool stale;       // forgotten while busy: closed once released, never matched again
        char path[SW_POSIX_DCACHE_PATH]; // its relative path (len bytes, no NUL)
    } dcache[SW_POSIX_DCACHE];
    uint8_t dcache_next;  // the entry replaced next when none is free
} sw_posix_fs_t;

// All state of the port. Allocated by the caller, initialised by sw_posix_init(); the fields
// are internal.
typedef struct sw_posix {
    uv_loop_t loop;
    sw_port_t port;       // {&ops, this}
    sw_node_t *node;      // set by sw_posix_run(); NULL: events are not delivered
    sw_posix_opts_t opts; // with defaults filled in

    uv_timer_t wake;      // wake_at()
    uint32_t wake_due;    // its target (now_ms time)
    uv_signal_t sigint, sigterm;
    uv_prepare_t watch;   // ends the run once the node has stopped; forgets fs.dcache
    uv_timer_t settle;    // once, SW_POSIX_SETTLE_MS into the run: start-up code handed back
    bool running;         // inside sw_posix_run()
    bool shutdown;        // closing everything; no new links
    int signals;          // SIGINT/SIGTERM seen
    int reset_how;        // SW_RESET_* asked for (0: none)

    uint64_t heap;        // bytes allocated through alloc()
    sw_posix_fs_t fs;

    sw_pconn_t *conns;    // open (and closing) connections
    uint32_t nconns;
    sw_plistener_t *listeners; // all listeners, also closed ones (freed by sw_posix_close)
    sw_pudp_t *udps;      // UDP endpoints (udp_posix.c)
    struct sw_pmqtt *mqtts; // MQTT clients (mqtt_posix.c)
    bool stdio_used;      // stdio_open() succeeded once

    // the watchdog thread (wdt_posix.c): kick time and period in monotonic ms, under wdt_mu
    pthread_t wdt_thread;
    pthread_mutex_t wdt_mu;
    pthread_cond_t wdt_cv;
    uint64_t wdt_kick, wdt_period;
    bool wdt_started, wdt_quit;

    uint8_t machid[16];
    char platform[96];
    uint8_t rbuf[SW_POSIX_RBUF]; // read buffer for every connection (consumed synchronously)
} sw_posix_t;

// Sets up the loop, opens the root, ignores SIGPIPE. 0, or SW_ENOENT / SW_ENOTDIR / SW_EPERM
// (root missing / not a directory / not accessible), SW_EIO.
int sw_posix_init(sw_posix_t *p, const sw_posix_opts_t *opts);
// The port to give to sw_node_create(); valid until sw_posix_close().
const sw_port_t *sw_posix_port(sw_posix_t *p);
// Runs the loop, delivering events to n, until the node has stopped (sw_node_stopped(), or
// reset STOP) and every handle is closed. SIGINT/SIGTERM call sw_node_stop() (a second one
// closes everything at once). On reset SOFT/HARD it re-execs /proc/self/exe with opts.argv and
// does not return unless that fails. Returns 0 on an orderly stop, 1 when the re-exec failed.
int sw_posix_run(sw_posix_t *p, sw_node_t *n);
// Closes whatever is still open (without telling the node), the root and the loop. Call after
// sw_node_destroy() (or instead of sw_posix_run() when the node could not start).
void sw_posix_close(sw_posix_t *p);

// True if baud is a rate serial_open() accepts (the termios B* rates 1200 … 4000000).
bool sw_posix_baud_ok(uint32_t baud);

#endif
