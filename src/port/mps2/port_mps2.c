// The port contract (include/swarm/port.h) on a bare Cortex-M board: SysTick time, a pool heap
// (picolibc's malloc over the RAM between .bss and the stack), the serial link on the board's
// UART (uart.h), identity from the board, and (SW_FW_NET) TCP and UDP over lwIP (net_lwip.c).
// No files yet: the node runs on its built-in config (docs/PORTING.md).
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "cm3.h"
#include "mps2_int.h"
#include "semihost.h"
#include "uart.h"

// --- time: the board's clock; SysTick as the loop's one-shot wake-up timer ---------------------

void sw_isr_systick(void) { SYST_CSR = 0; } // the WFI has ended; nothing else to do

void sw__mps2_tick_start(void) { sw_board_clock_start(); }

uint32_t sw__mps2_now(void) { return sw_board_clock_ms(); }

void sw__mps2_sleep(uint32_t max_ms)
{
    uint32_t per_ms = sw_board.cpu_hz / 1000u, most = 0xFFFFFFu / per_ms; // SysTick is 24 bits
    if (max_ms > most)
        max_ms = most;
    if (!max_ms)
        return;
    SYST_CSR = 0;
    SYST_RVR = max_ms * per_ms - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7; // core clock, interrupt, enabled
    __asm__ volatile("wfi");
}

static uint32_t p_now_ms(void *ctx)
{
    (void)ctx;
    return sw_board_clock_ms();
}

static int64_t p_wall_s(void *ctx)
{
    (void)ctx;
    return 0; // no real-time clock on this board
}

static void p_wake_at(void *ctx, uint32_t at_ms)
{
    sw_mps2_t *s = ctx;
    s->wake_pending = true;
    s->wake_ms = at_ms;
}

static uint32_t next_rand(sw_mps2_t *s)
{
    // xorshift32, seeded from the MAC and boot timing (main.c)
    s->rnd ^= s->rnd << 13, s->rnd ^= s->rnd >> 17, s->rnd ^= s->rnd << 5;
    return s->rnd;
}

sw_mps2_t *sw__mps2_self;

uint32_t sw__mps2_rand32(void) { return next_rand(sw__mps2_self); }

static void p_random(void *ctx, void *buf, size_t n)
{
#if SW_FW_AUTH // the ephemeral keys of the locked mode come from here
    (void)ctx;
    sw__mps2_random(buf, n);
#else
    sw_mps2_t *s = ctx;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(next_rand(s) >> 8);
#endif
}

// --- memory -------------------------------------------------------------------------------------

extern uint8_t __heap_start[], __heap_end[], __stack[], __data_start[], __bss_end[];

// Two pools on one heap (picolibc's malloc): SW_POOL_NODE (links, config, files, push) and
// SW_POOL_LUA (the VM, bounded again by limits.lua_mem). The Lua pool may not grow into the
// last SW_FW_NODE_RESERVE bytes of the heap, so an app that allocates all it can gets a Lua
// memory error while the node keeps room for its links, a push and its rollback. Each pool's
// use and peak are counted for sys.info. (Quotas, not separate arenas: fragmentation is shared.)
#ifndef SW_FW_NODE_RESERVE
#define SW_FW_NODE_RESERVE 8192 // bytes of the heap only the node may take
#endif

static void *p_alloc(void *ctx, int pool, void *ptr, size_t osize, size_t nsize)
{
    sw_mps2_t *s = ctx;
    pool = pool == SW_POOL_LUA ? SW_POOL_LUA : SW_POOL_NODE;
    size_t old = ptr ? osize : 0; // like lua_Alloc: osize is a type tag when ptr is NULL
    if (nsize == 0) {
        free(ptr);
        s->heap_now -= (uint32_t)old;
        s->pool_now[pool] -= (uint32_t)old;
        return NULL;
    }
    uint32_t heap = (uint32_t)(__heap_end - __heap_start);
    if (pool == SW_POOL_LUA && nsize > old && s->heap_now + (nsize - old) + SW_FW_NODE_RESERVE > heap)
        return NULL; // Lua frees garbage and retries, then raises "not enough memory"
    void *q = realloc(ptr, nsize);
    if (!q)
        return NULL;
    s->heap_now += (uint32_t)nsize - (uint32_t)old;
    s->pool_now[pool] += (uint32_t)nsize - (uint32_t)old;
    if (s->pool_now[pool] > s->pool_peak[pool])
        s->pool_peak[pool] = s->pool_now[pool];
    if (!ptr)
        s->allocs++;
    if (s->heap_now > s->heap_peak)
        s->heap_peak = s->heap_now;
    return q;
}

extern uint8_t __text_start[], __data_source[], __data_size[];
extern uint8_t __end[];

#define STACK_PAINT 0xA5u

static uint32_t stack_size(void) { return (uint32_t)(__stack - __heap_end); }

void sw__mps2_stack_paint(void)
{
    uint8_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint8_t *p = __heap_end; p < sp - 64; p++)
        *p = STACK_PAINT;
}

static uint32_t stack_peak(void)
{
    const uint8_t *p = __heap_end;
    while (p < __stack && *p == STACK_PAINT)
        p++;
    return (uint32_t)(__stack - p);
}

static int p_mem(void *ctx, sw_mem_t *m)
{
    sw_mps2_t *s = ctx;
    uint32_t pool = (uint32_t)(__heap_end - __heap_start);
    m->heap = s->heap_now;
    m->used = (uint32_t)(__end - __data_start) + s->heap_now + stack_peak();
    m->avail = pool > s->heap_now ? pool - s->heap_now : 0;
    return 0;
}

static void p_hwinfo(void *ctx, sw_hwinfo_t *h)
{
    sw_mps2_t *s = ctx;
    h->board = sw_board.name;
    h->profile = SW_FW_PROFILE;
    h->flash_size = sw_board.flash_size;
    h->flash_used = (uint32_t)(__data_source - (uint8_t *)0) + (uint32_t)(uintptr_t)__data_size;
    h->ram_size = sw_board.ram_size;
    h->ram_static = (uint32_t)(__end - __data_start);
    h->heap_size = (uint32_t)(__heap_end - __heap_start);
    h->heap_used = s->heap_now;
    h->heap_peak = s->heap_peak;
    for (int i = 0; i < 2; i++) {
        h->pool_used[i] = s->pool_now[i];
        h->pool_peak[i] = s->pool_peak[i];
    }
    h->node_reserve = SW_FW_NODE_RESERVE;
    h->stack_size = stack_size();
    h->stack_peak = stack_peak();
}

// --- logging ------------------------------------------------------------------------------------

void sw__mps2_log(const char *line, size_t n)
{
    if (!sw_sh_present())
        return; // no host: the node already copies its lines to the console link
    // two writes, no copy with its newline: 200 bytes less on the deepest stack (a log line
    // from a command handler), which counts in mcu-serial's 12 KB
    sw_sh_write_out(line, n);
    sw_sh_write_out("\n", 1);
}

static void p_log(void *ctx, int level, const char *line, size_t n)
{
    (void)ctx, (void)level;
    sw__mps2_log(line, n);
}

void sw__mps2_panic(const char *msg, size_t n)
{
    __asm__ volatile("cpsid i");
    sw_sh_write_out(msg, n);
    sw_system_reset();
}

// --- links: UART0 here, TCP connections in net_lwip.c --------------------------------------------

#if SW_FW_NET
#define TCP(c) ((c)->kind == SW_CONN_TCP)
#else // no network: never a TCP connection; the stubs only keep the dispatch below simple
#define TCP(c) ((void)(c), false)
static inline int sw__mps2_tcp_write(void *x, sw_conn_t *c, const void *p, size_t n) { (void)x, (void)c, (void)p, (void)n; return SW_ECLOSED; }
static inline size_t sw__mps2_tcp_room(void *x, sw_conn_t *c) { (void)x, (void)c; return 0; }
static inline size_t sw__mps2_tcp_queued(void *x, sw_conn_t *c) { (void)x, (void)c; return 0; }
static inline void sw__mps2_tcp_pause(void *x, sw_conn_t *c, bool p) { (void)x, (void)c, (void)p; }
static inline void sw__mps2_tcp_close(void *x, sw_conn_t *c) { (void)x, (void)c; }
static inline size_t sw__mps2_tcp_peer(void *x, sw_conn_t *c, char *b, size_t n) { (void)x, (void)c, (void)b, (void)n; return 0; }
static inline size_t sw__mps2_tcp_local(void *x, sw_conn_t *c, char *b, size_t n) { (void)x, (void)c, (void)b, (void)n; return 0; }
#endif

// --- the serial link ----------------------------------------------------------------------------

static int p_serial_open(void *ctx, const char *dev, uint32_t baud, sw_conn_t **out)
{
    sw_mps2_t *s = ctx;
    if (strcmp(dev, "uart0") != 0)
        return SW_ENOENT;
    if (s->uart_open)
        return SW_EBUSY;
    if (sw_uart_open(0, baud))
        return SW_ENOENT;
    memset(&s->uart, 0, sizeof s->uart);
    s->uart.kind = SW_CONN_SERIAL;
    s->uart_open = true;
    s->uart_closing = s->uart_paused = s->uart_want_drained = false;
    *out = &s->uart;
    return 0;
}

static int p_stdio_open(void *ctx, sw_conn_t **out)
{
    (void)ctx, (void)out;
    return SW_ENOTSUP;
}

// The TX ring is the connection's capacity: conn_write takes all n bytes or none (SW_EAGAIN),
// and the node waits for sw_node_drained() (main.c) before it produces more.
static int p_conn_write(void *ctx, sw_conn_t *c, const void *p, size_t n)
{
    sw_mps2_t *s = ctx;
    if (TCP(c))
        return sw__mps2_tcp_write(ctx, c, p, n);
    if (c != &s->uart || !s->uart_open || s->uart_closing)
        return SW_ECLOSED;
    if (n > sw_uart_tx_room()) {
        s->uart_want_drained = true;
        return SW_EAGAIN;
    }
    sw_uart_write(p, n);
    if (sw_uart_tx_queued())
        s->uart_want_drained = true;
    return 0;
}

static size_t p_conn_room(void *ctx, sw_conn_t *c)
{
    sw_mps2_t *s = ctx;
    if (TCP(c))
        return sw__mps2_tcp_room(ctx, c);
    return c == &s->uart && s->uart_open && !s->uart_closing ? sw_uart_tx_room() : 0;
}

static size_t p_conn_queued(void *ctx, sw_conn_t *c)
{
    if (TCP(c))
        return sw__mps2_tcp_queued(ctx, c);
    return sw_uart_tx_queued();
}

static void p_conn_pause(void *ctx, sw_conn_t *c, bool paused)
{
    sw_mps2_t *s = ctx;
    if (TCP(c))
        sw__mps2_tcp_pause(ctx, c, paused);
    if (c == &s->uart)
        s->uart_paused = paused; // bytes stay in the RX ring, then in the UART
}

static void p_conn_close(void *ctx, sw_conn_t *c)
{
    sw_mps2_t *s = ctx;
    if (TCP(c))
        sw__mps2_tcp_close(ctx, c);
    if (c == &s->uart)
        s->uart_closing = true;
}

static size_t copy_str(const char *v, char *buf, size_t cap)
{
    size_t n = strlen(v);
    if (!cap)
        return 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = 0;
    return n;
}

static size_t p_conn_peer(void *ctx, sw_conn_t *c, char *buf, size_t cap)
{
    if (TCP(c))
        return sw__mps2_tcp_peer(ctx, c, buf, cap);
    return copy_str("uart0", buf, cap);
}

static size_t p_conn_local(void *ctx, sw_conn_t *c, char *buf, size_t cap)
{
    if (TCP(c))
        return sw__mps2_tcp_local(ctx, c, buf, cap);
    return copy_str("", buf, cap);
}

// --- files: flashfs on the host file of boot argument flash= (flash_sh.c); without one, an
// empty root and nothing can be created ------------------------------------------------------

#if SW_FW_FILES
#define FS(ctx) (&((sw_mps2_t *)(ctx))->ffs)
#define FILES(ctx) (((sw_mps2_t *)(ctx))->files)

static int p_fs_open(void *ctx, const char *path, int flags, int *fd)
{
    if (!FILES(ctx))
        return (flags & SW_O_CREATE) ? SW_ENOTSUP : SW_ENOENT;
    return sw_ffs_open(FS(ctx), path, flags, fd);
}

static int p_fs_read(void *ctx, int fd, uint64_t off, void *buf, size_t n)
{
    return sw_ffs_read(FS(ctx), fd, off, buf, n);
}

static int p_fs_write(void *ctx, int fd, uint64_t off, const void *buf, size_t n)
{
    return sw_ffs_write(FS(ctx), fd, off, buf, n);
}

static int p_fs_sync(void *ctx, int fd) { return sw_ffs_sync(FS(ctx), fd); }
static int p_fs_close(void *ctx, int fd) { return sw_ffs_close(FS(ctx), fd); }

static int p_fs_stat(void *ctx, const char *path, sw_stat_t *st)
{
    if (FILES(ctx))
        return sw_ffs_stat(FS(ctx), path, st);
    if (path[0])
        return SW_ENOENT;
    memset(st, 0, sizeof *st);
    st->type = SW_FT_DIR; // the root exists, empty
    return 0;
}

static int p_fs_mkdir(void *ctx, const char *path)
{
    return FILES(ctx) ? sw_ffs_mkdir(FS(ctx), path) : SW_ENOTSUP;
}

static int p_fs_rmdir(void *ctx, const char *path)
{
    return FILES(ctx) ? sw_ffs_rmdir(FS(ctx), path) : SW_ENOTSUP;
}

static int p_fs_unlink(void *ctx, const char *path)
{
    return FILES(ctx) ? sw_ffs_unlink(FS(ctx), path) : SW_ENOTSUP;
}

static int p_fs_rename(void *ctx, const char *from, const char *to)
{
    return FILES(ctx) ? sw_ffs_rename(FS(ctx), from, to) : SW_ENOTSUP;
}

// flashfs commits every change to names at once: nothing is left to flush
static int p_fs_flush(void *ctx) { return (void)ctx, 0; }

static int p_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u)
{
    if (FILES(ctx))
        return sw_ffs_list(FS(ctx), path, each, u);
    return path[0] ? SW_ENOENT : 0;
}
#else // an image without files (mcu-serial): an empty root, and nothing can be created
static int p_fs_open(void *ctx, const char *path, int flags, int *fd)
{
    (void)ctx, (void)path, (void)fd;
    return (flags & SW_O_CREATE) ? SW_ENOTSUP : SW_ENOENT;
}
static int p_fs_read(void *ctx, int fd, uint64_t off, void *buf, size_t n)
{
    (void)ctx, (void)fd, (void)off, (void)buf, (void)n;
    return SW_EINVAL;
}
static int p_fs_write(void *ctx, int fd, uint64_t off, const void *buf, size_t n)
{
    (void)ctx, (void)fd, (void)off, (void)buf, (void)n;
    return SW_EINVAL;
}
static int p_fs_sync(void *ctx, int fd) { return (void)ctx, (void)fd, SW_EINVAL; }
static int p_fs_close(void *ctx, int fd) { return (void)ctx, (void)fd, SW_EINVAL; }
static int p_fs_stat(void *ctx, const char *path, sw_stat_t *st)
{
    (void)ctx;
    if (path[0])
        return SW_ENOENT;
    memset(st, 0, sizeof *st);
    st->type = SW_FT_DIR;
    return 0;
}
static int p_fs_path(void *ctx, const char *path) { return (void)ctx, (void)path, SW_ENOTSUP; }
#define p_fs_mkdir p_fs_path
#define p_fs_rmdir p_fs_path
#define p_fs_unlink p_fs_path
static int p_fs_rename(void *ctx, const char *from, const char *to)
{
    return (void)ctx, (void)from, (void)to, SW_ENOTSUP;
}
static int p_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u)
{
    (void)ctx, (void)each, (void)u;
    return path[0] ? SW_ENOENT : 0;
}
#endif

// --- system ---------------------------------------------------------------------------------------

void sw__mps2_wdt_apply(sw_mps2_t *s)
{
    uint32_t ms = s->wdt_boot;
    if (s->wdt_period && (!ms || s->wdt_period < ms))
        ms = s->wdt_period;
    if (ms != s->wdt_armed) {
        sw_board_wdt_start(ms);
        s->wdt_armed = ms;
    }
}

// The node's loop watchdog (wdt.loop, the MoaT watchdog's bite) on the same CMSDK watchdog the
// loop kicks every pass: the period can only shorten the boot argument's time, and a stop (0)
// gives the watchdog back to it. The node kicks from a timer every period/4, so the loop wakes
// often enough for its own kicks.
static void p_watchdog(void *ctx, uint32_t period_ms)
{
    sw_mps2_t *s = ctx;
    s->wdt_period = period_ms;
    sw__mps2_wdt_apply(s);
    sw_board_wdt_kick();
}

static void p_reset(void *ctx, int how)
{
    sw_mps2_t *s = ctx;
    s->reset_how = how; // the loop does it once the node's call has returned
}

static size_t p_machid(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    return sw_board_machid(buf, cap);
}

static const char *p_platform(void *ctx)
{
    (void)ctx;
    static char name[48];
    if (!name[0]) {
        size_t a = strlen(sw_board.name), b = strlen(sw_board.cpu);
        if (a + b + 2 <= sizeof name) {
            memcpy(name, sw_board.name, a);
            name[a] = ' ';
            memcpy(name + a + 1, sw_board.cpu, b + 1);
        }
    }
    return name;
}

const sw_port_ops_t sw__mps2_ops = {
    .now_ms = p_now_ms,
    .wall_s = p_wall_s,
    .wake_at = p_wake_at,
    .random = p_random,
    .alloc = p_alloc,
    .log = p_log,
#if SW_FW_NET
    .tcp_listen = sw__mps2_tcp_listen,
    .listener_close = sw__mps2_listener_close,
    .listener_port = sw__mps2_listener_port,
    .udp_open = sw__mps2_udp_open,
    .udp_send = sw__mps2_udp_send,
    .udp_close = sw__mps2_udp_close,
    .netifs = sw__mps2_netifs,
#endif // else: no network in this build; the LAN services say they are not available
    .serial_open = p_serial_open,
    .stdio_open = p_stdio_open,
    .conn_write = p_conn_write,
    .conn_room = p_conn_room,
    .conn_queued = p_conn_queued,
    .conn_pause = p_conn_pause,
    .conn_close = p_conn_close,
    .conn_peer = p_conn_peer,
    .conn_local = p_conn_local,
    .fs_open = p_fs_open,
    .fs_read = p_fs_read,
    .fs_write = p_fs_write,
    .fs_sync = p_fs_sync,
    .fs_close = p_fs_close,
    .fs_stat = p_fs_stat,
    .fs_mkdir = p_fs_mkdir,
    .fs_rmdir = p_fs_rmdir,
    .fs_unlink = p_fs_unlink,
    .fs_rename = p_fs_rename,
#if SW_FW_FILES // (an image without files has no use for them: no push, no f app)
    .fs_move = p_fs_rename, // durable at once, like every flashfs change
    .fs_flush = p_fs_flush,
#endif
    .fs_list = p_fs_list,
    .reset = p_reset,
    .machid = p_machid,
    .mem = p_mem,
    .platform = p_platform,
    .hwinfo = p_hwinfo,
    .watchdog = p_watchdog,
};

