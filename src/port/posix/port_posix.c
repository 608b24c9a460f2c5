// The POSIX port's loop and system side: init/run/close, the ops table, time, randomness,
// memory, logging, the wake timer, signals, reset by re-exec, machine id and platform facts.
// Links are in conn_posix.c / serial_posix.c, files in fs_posix.c.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "posix_int.h"

static sw_posix_t *P(void *ctx)
{
    return ctx;
}

void sw__posix_say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    static const char pre[] = "swarm-node: ";
    struct iovec iov[2] = {{(void *)pre, sizeof pre - 1}, {buf, (size_t)n}};
    (void)!writev(2, iov, 2);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Time, randomness, memory, log

static uint32_t p_now_ms(void *ctx)
{
    (void)ctx;
    return (uint32_t)(uv_hrtime() / 1000000u);
}

static int64_t p_wall_s(void *ctx)
{
    (void)ctx;
    time_t t = time(NULL);
    return t < 0 ? 0 : (int64_t)t;
}

static void on_wake(uv_timer_t *t)
{
    sw_posix_t *p = t->data;
    if (!p->node || p->shutdown)
        return;
    // uv timers run on the loop's coarse clock and may fire a little early by now_ms().
    int32_t left = (int32_t)(p->wake_due - p_now_ms(p));
    if (left > 0) {
        uv_timer_start(&p->wake, on_wake, (uint64_t)left, 0);
        return;
    }
    sw_node_poll(p->node);
}

static void p_wake_at(void *ctx, uint32_t at_ms)
{
    sw_posix_t *p = P(ctx);
    if (p->shutdown || uv_is_closing((uv_handle_t *)&p->wake))
        return;
    p->wake_due = at_ms;
    int32_t d = (int32_t)(at_ms - p_now_ms(p));
    uv_update_time(&p->loop);
    uv_timer_start(&p->wake, on_wake, d > 0 ? (uint64_t)d : 0, 0);
}

static void p_random(void *ctx, void *buf, size_t n)
{
    (void)ctx;
    uint8_t *b = buf;
    while (n) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            // No getrandom (very old kernel): fall back to the loop's clock, which is weak but
            // only used for ids and back-off jitter.
            uint64_t x = uv_hrtime() ^ ((uint64_t)getpid() << 32);
            for (; n; n--, b++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                *b = (uint8_t)x;
            }
            return;
        }
        b += r;
        n -= (size_t)r;
    }
}

static void *p_alloc(void *ctx, int pool, void *ptr, size_t osize, size_t nsize)
{
    (void)pool; // one heap serves both pools here, capped by heap_max
    sw_posix_t *p = P(ctx);
    if (!ptr)
        osize = 0; // lua_Alloc puts a type tag here for new blocks
    if (osize > p->heap)
        osize = (size_t)p->heap;
    if (nsize == 0) {
        free(ptr);
        p->heap -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > p->opts.heap_max - p->heap)
        return NULL;
    void *q = realloc(ptr, nsize);
    if (!q)
        return NULL;
    p->heap = p->heap - osize + nsize;
    return q;
}

static void p_log(void *ctx, int level, const char *line, size_t n)
{
    (void)ctx;
    (void)level;
    // One writev: the line and its newline reach stderr together, unbuffered.
    struct iovec iov[2] = {{(void *)line, n}, {"\n", 1}};
    (void)!writev(2, iov, 2);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// System

static void shutdown_all(sw_posix_t *p, bool force)
{
    if (!p->shutdown) {
        p->shutdown = true;
        if (!uv_is_closing((uv_handle_t *)&p->wake))
            uv_close((uv_handle_t *)&p->wake, NULL);
        if (!uv_is_closing((uv_handle_t *)&p->watch))
            uv_close((uv_handle_t *)&p->watch, NULL);
        if (!uv_is_closing((uv_handle_t *)&p->settle))
            uv_close((uv_handle_t *)&p->settle, NULL);
        // The signal handlers stay (unreferenced) so a second signal can still force the end.
        uv_unref((uv_handle_t *)&p->sigint);
        uv_unref((uv_handle_t *)&p->sigterm);
    }
    sw__posix_links_shutdown(p, force);
    sw__posix_udp_shutdown(p);
#if SW_PORT_MQTT
    sw__posix_mqtt_shutdown(p);
#endif
}

static void on_signal(uv_signal_t *s, int signum)
{
    sw_posix_t *p = s->data;
    p->signals++;
    if (p->shutdown || p->signals > 1 || !p->node) {
        sw__posix_say("signal %d again: closing everything", signum);
        shutdown_all(p, true);
        return;
    }
    sw__posix_say("signal %d: stopping", signum);
    sw_node_stop(p->node);
}

// Runs before the loop blocks: the place to notice that the node has finished stopping, and to
// close the directory the file system keeps open between operations.
static void on_watch(uv_prepare_t *w)
{
    sw_posix_t *p = w->data;
    // the loop is about to wait: walk()'s kept directory must not outlive this round of events
    // (something outside the node could move it meanwhile)
    sw__posix_fs_forget(&p->fs);
    if (!p->shutdown && p->node && sw_node_stopped(p->node))
        shutdown_all(p, false);
}

static void p_reset(void *ctx, int how)
{
    sw_posix_t *p = P(ctx);
    if (how != SW_RESET_SOFT && how != SW_RESET_HARD)
        how = SW_RESET_STOP;
    if (!p->opts.argv)
        how = SW_RESET_STOP;
    if (!p->reset_how || how == SW_RESET_STOP)
        p->reset_how = how;
    shutdown_all(p, false);
}

static size_t p_machid(void *ctx, uint8_t *buf, size_t cap)
{
    sw_posix_t *p = P(ctx);
    size_t n = cap < sizeof p->machid ? cap : sizeof p->machid;
    memcpy(buf, p->machid, n);
    return n;
}

// The first number after `key` in a text file (/proc), or -1.
static int64_t proc_number(const char *file, const char *key, int field)
{
    char buf[4096];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *s = buf;
    if (key) {
        s = strstr(buf, key);
        if (!s)
            return -1;
        s += strlen(key);
    }
    for (int i = 0;; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        char *e;
        long long v = strtoll(s, &e, 10);
        if (i == field)
            return v;
        s = e;
    }
}

static int p_mem(void *ctx, sw_mem_t *m)
{
    sw_posix_t *p = P(ctx);
    long page = sysconf(_SC_PAGESIZE);
    int64_t rss = proc_number("/proc/self/statm", NULL, 1);
    int64_t avail = proc_number("/proc/meminfo", "MemAvailable:", 0);
    m->used = rss > 0 && page > 0 ? (uint64_t)rss * (uint64_t)page : 0;
    m->heap = p->heap;
    // What the node can still get from alloc(): the machine's free memory, but never more
    // than what the cap leaves.
    uint64_t left = p->opts.heap_max - p->heap;
    m->avail = avail > 0 ? (uint64_t)avail * 1024u : left;
    if (m->avail > left)
        m->avail = left;
    return 0;
}

static const char *p_platform(void *ctx)
{
    return P(ctx)->platform;
}

// Stable per (machine, root): SHA-256 of the machine id and the root's real path.
static void machid_init(sw_posix_t *p, const char *root)
{
    char id[256] = "";
    static const char *const files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
    for (size_t i = 0; i < 2 && !id[0]; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, id, sizeof id - 1);
        close(fd);
        id[n > 0 ? n : 0] = 0;
        while (n > 0 && isspace((unsigned char)id[n - 1]))
            id[--n] = 0;
    }
    if (!id[0] && gethostname(id, sizeof id - 1) < 0)
        id[0] = 0;
    char real[4096];
    const char *where = root && realpath(root, real) ? real : root ? root : "";
    uint8_t sum[32];
    mbedtls_sha256_context sc;
    mbedtls_sha256_init(&sc);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_sha256_starts(&sc, 0);
    mbedtls_sha256_update(&sc, (const uint8_t *)id, strlen(id) + 1);
    mbedtls_sha256_update(&sc, (const uint8_t *)where, strlen(where));
    mbedtls_sha256_finish(&sc, sum);
#else
    mbedtls_sha256_starts_ret(&sc, 0);
    mbedtls_sha256_update_ret(&sc, (const uint8_t *)id, strlen(id) + 1);
    mbedtls_sha256_update_ret(&sc, (const uint8_t *)where, strlen(where));
    mbedtls_sha256_finish_ret(&sc, sum);
#endif
    mbedtls_sha256_free(&sc);
    memcpy(p->machid, sum, sizeof p->machid);
}

static void platform_init(sw_posix_t *p)
{
    struct utsname u;
    if (uname(&u) < 0) {
        snprintf(p->platform, sizeof p->platform, "posix");
        return;
    }
    for (char *s = u.sysname; *s; s++)
        *s = (char)tolower((unsigned char)*s);
    snprintf(p->platform, sizeof p->platform, "posix %.40s %.40s", u.sysname, u.machine);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Lifecycle

static const sw_port_ops_t posix_ops = {
    .now_ms = p_now_ms,
    .wall_s = p_wall_s,
    .wake_at = p_wake_at,
    .random = p_random,
    .alloc = p_alloc,
    .log = p_log,
    .tcp_listen = sw__posix_tcp_listen,
    .listener_close = sw__posix_listener_close,
    .serial_open = sw__posix_serial_open,
    .stdio_open = sw__posix_stdio_open,
    .conn_write = sw__posix_conn_write,
    .conn_room = sw__posix_conn_room,
    .conn_queued = sw__posix_conn_queued,
    .conn_pause = sw__posix_conn_pause,
    .conn_close = sw__posix_conn_close,
    .conn_peer = sw__posix_conn_peer,
    .conn_local = sw__posix_conn_local,
    .listener_port = sw__posix_listener_port,
    .udp_open = sw__posix_udp_open,
    .udp_send = sw__posix_udp_send,
    .udp_close = sw__posix_udp_close,
    .netifs = sw__posix_netifs,
    .fs_open = sw__posix_fs_open,
    .fs_read = sw__posix_fs_read,
    .fs_write = sw__posix_fs_write,
    .fs_sync = sw__posix_fs_sync,
    .fs_close = sw__posix_fs_close_fd,
    .fs_stat = sw__posix_fs_stat,
    .fs_mkdir = sw__posix_fs_mkdir,
    .fs_rmdir = sw__posix_fs_rmdir,
    .fs_unlink = sw__posix_fs_unlink,
    .fs_rename = sw__posix_fs_rename,
    .fs_move = sw__posix_fs_move,
    .fs_flush = sw__posix_fs_flush,
    .fs_list = sw__posix_fs_list,
    .reset = p_reset,
    .machid = p_machid,
    .mem = p_mem,
    .platform = p_platform,
    .watchdog = sw__posix_watchdog,
    .zin_open = sw__posix_zin_open,
    .zin_run = sw__posix_zin_run,
    .zin_close = sw__posix_zin_close,
#if SW_PORT_MQTT
    .mqtt_open = sw__posix_mqtt_open,
    .mqtt_subscribe = sw__posix_mqtt_subscribe,
    .mqtt_publish = sw__posix_mqtt_publish,
    .mqtt_close = sw__posix_mqtt_close,
#endif
};

// glibc's malloc, tuned for a small long-running daemon (bench/RESULTS.md, "RSS"): blocks of
// 32 KiB and more (a link's buffers, the node's tables) are mmapped, so freeing them returns
// the memory at once instead of leaving a hole in the heap; the heap top is trimmed from 64 KiB
// of free space on; one arena (libuv's worker threads would otherwise each get their own).
static void malloc_tune(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024);
    mallopt(M_TOP_PAD, 16 * 1024);
    mallopt(M_ARENA_MAX, 1);
#endif
}

// Every connection holds a descriptor. The soft limit on open files (often 1,024) is raised as
// far as the hard limit allows toward what the tables can use, and the connection bound is cut
// to what is left after the file table and a reserve (listeners, UDP sockets, the loop's own),
// so a crowd of clients is refused at accept rather than starving the node of descriptors.
static void fit_conns_to_fds(sw_posix_opts_t *o)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    rlim_t want = (rlim_t)o->max_conns + o->max_files + SW_POSIX_FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = {rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want,
                            rl.rlim_max};
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = up.rlim_cur;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t spare = rl.rlim_cur - o->max_files - SW_POSIX_FD_RESERVE;
        o->max_conns = rl.rlim_cur > (rlim_t)o->max_files + SW_POSIX_FD_RESERVE + 16 ? (uint16_t)spare : 16;
    }
}

int sw_posix_init(sw_posix_t *p, const sw_posix_opts_t *opts)
{
    malloc_tune();
    // Not the read buffer: zeroing it would make all of its 64 KiB resident for nothing;
    // untouched, only the pages reads actually fill are.
    memset(p, 0, offsetof(sw_posix_t, rbuf));
    p->opts = *opts;
    if (!p->opts.heap_max)
        p->opts.heap_max = SW_POSIX_HEAP_MAX;
    if (!p->opts.write_max)
        p->opts.write_max = SW_POSIX_WRITE_MAX;
    if (!p->opts.write_high)
        p->opts.write_high = SW_POSIX_WRITE_HIGH;
    if (!p->opts.max_files)
        p->opts.max_files = SW_POSIX_FILES;
    if (!p->opts.max_conns)
        p->opts.max_conns = SW_POSIX_CONNS;
    if (!p->opts.linger_ms)
        p->opts.linger_ms = SW_POSIX_LINGER_MS;
    fit_conns_to_fds(&p->opts);

    // A peer that goes away while we write must be an error return, not a fatal signal.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    int err = sw__posix_fs_init(&p->fs, opts->root, p->opts.max_files);
    if (err)
        return err;
    p->fs.read_only = opts->read_only;
    if (uv_loop_init(&p->loop) < 0) {
        sw__posix_fs_close(&p->fs);
        return SW_EIO;
    }
    uv_timer_init(&p->loop, &p->wake);
    uv_timer_init(&p->loop, &p->settle);
    uv_signal_init(&p->loop, &p->sigint);
    uv_signal_init(&p->loop, &p->sigterm);
    uv_prepare_init(&p->loop, &p->watch);
    p->wake.data = p->sigint.data = p->sigterm.data = p->watch.data = p;
    // Catch SIGINT/SIGTERM from here on: a signal that comes while the node is still starting
    // is held by libuv and handled as an orderly stop once the loop runs (not a kill).
    uv_signal_start(&p->sigint, on_signal, SIGINT);
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    machid_init(p, opts->root);
    platform_init(p);
    p->port.ops = &posix_ops;
    p->port.ctx = p;
    return 0;
}

const sw_port_t *sw_posix_port(sw_posix_t *p)
{
    return &p->port;
}

// Replaces the process with a fresh copy of itself (reset SOFT/HARD). Every descriptor the
// port opened is close-on-exec; stdin/stdout/stderr stay and are served again.
static int reexec(sw_posix_t *p)
{
    sw__posix_say("restarting");
    sw__posix_watchdog_stop(p);
    fflush(NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", p->opts.argv);
    int e = errno;
    execv(p->opts.argv[0], p->opts.argv);
    sw__posix_say("cannot restart: %s", strerror(e));
    return 1;
}

// Start-up touches most of the executable once (Lua's libraries, the config, libc's set-up),
// and the kernel maps 64 KiB around every such fault: 1.8 MB of the node's 2 MB RSS were clean
// pages of its own file, of which a ping and an idle loop use about 400 kB (smaps
// "Referenced" after clear_refs; bench/RESULTS.md, "RSS"). They are reclaimable at any time;
// here the node hands them back itself once it has settled, so its RSS is what it uses. Only
// read-only mappings of its own executable: the kernel skips pages other processes map too.
static void on_settle(uv_timer_t *t)
{
    (void)t;
#ifdef MADV_PAGEOUT
    char exe[512];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    FILE *f = k > 0 ? fopen("/proc/self/maps", "re") : NULL;
    if (!f)
        return;
    exe[k] = 0;
    char line[768];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8], path[512];
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &lo, &hi, perms, path) == 4 &&
            perms[1] != 'w' && strcmp(path, exe) == 0)
            (void)madvise((void *)lo, hi - lo, MADV_PAGEOUT); // (EINVAL before Linux 5.4: fine)
    }
    fclose(f);
#endif
}

int sw_posix_run(sw_posix_t *p, sw_node_t *n)
{
    p->node = n;
    p->running = true;
    if (!p->shutdown) {
        uv_prepare_start(&p->watch, on_watch);
        uv_unref((uv_handle_t *)&p->watch);
        if (SW_POSIX_SETTLE_MS) {
            uv_timer_start(&p->settle, on_settle, SW_POSIX_SETTLE_MS, 0);
            uv_unref((uv_handle_t *)&p->settle);
        }
    }
    // Ends when nothing referenced is left: the signal handlers hold the loop until
    // shutdown_all() (node stopped, reset, or a second signal) releases them.
    uv_run(&p->loop, UV_RUN_DEFAULT);
    p->running = false;
    if (p->reset_how == SW_RESET_SOFT || p->reset_how == SW_RESET_HARD)
        return reexec(p);
    return 0;
}

void sw_posix_close(sw_posix_t *p)
{
    sw__posix_watchdog_stop(p);
    p->node = NULL;
    shutdown_all(p, true);
    uv_handle_t *hs[] = {(uv_handle_t *)&p->sigint, (uv_handle_t *)&p->sigterm};
    for (size_t i = 0; i < 2; i++)
        if (!uv_is_closing(hs[i]))
            uv_close(hs[i], NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    sw__posix_links_free(p);
    if (uv_loop_close(&p->loop) < 0)
        sw__posix_say("loop closed with handles still open");
    sw__posix_fs_close(&p->fs);
}
