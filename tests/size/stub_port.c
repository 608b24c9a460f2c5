// Stub port for the Cortex-M3 size build (scripts/size): every function of sw_port_ops_t as a
// bare-metal board without network or file system would write it, plus a main() that creates a
// node, starts it on a lossy serial link (SerialPacker + Reliable on UART0) and runs its loop.
// It targets the CMSDK UART and SysTick of an MPS2 AN385 board, so the image is real code with
// a real cost; nothing here is tuned for size.
//
// The hooks named sw__size_* are weak: tests/size/probe.c replaces them to run this same port
// under QEMU, drive a ping through the link and report the heap the node uses.
#include <stdlib.h>
#include <string.h>

#include "stub_port.h"

// --- hardware: CMSDK APB UART0 and SysTick (MPS2 AN385, 25 MHz) ------------------------------

typedef struct {
    volatile uint32_t data, state, ctrl, intstatus, bauddiv;
} cmsdk_uart_t;
#define UART0 ((cmsdk_uart_t *)0x40004000u)
#define UART_TX_FULL 1u
#define UART_RX_FULL 2u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)
#define CPU_HZ 25000000u

static uint32_t ticks_ms; // advanced by polling SysTick's COUNTFLAG (no vector table needed)

static void board_init(void)
{
    UART0->bauddiv = CPU_HZ / 115200u;
    UART0->ctrl = 3; // TX and RX enabled
    SYST_RVR = CPU_HZ / 1000u - 1;
    SYST_CVR = 0;
    SYST_CSR = 5; // enabled, processor clock, no interrupt
}

__attribute__((weak)) uint32_t sw__size_now(void)
{
    if (SYST_CSR & (1u << 16))
        ticks_ms++;
    return ticks_ms;
}

__attribute__((weak)) void sw__size_tx(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (UART0->state & UART_TX_FULL)
            ;
        UART0->data = p[i];
    }
}

__attribute__((weak)) size_t sw__size_rx(uint8_t *buf, size_t cap)
{
    size_t k = 0;
    while (k < cap && (UART0->state & UART_RX_FULL))
        buf[k++] = (uint8_t)UART0->data;
    return k;
}

__attribute__((weak)) void sw__size_log(int level, const char *line, size_t n)
{
    (void)level, (void)line, (void)n; // the node already copies log lines to console links
}

__attribute__((weak)) bool sw__size_event(int what, sw_node_t *n)
{
    (void)n;
    if (what == SW_SIZE_IDLE)
        __asm__ volatile("wfi");
    return true;
}

// --- the port ---------------------------------------------------------------------------------

size_t sw__size_heap_now, sw__size_heap_peak, sw__size_allocs;

typedef struct stub {
    sw_conn_t uart;
    bool uart_open, uart_closing;
    bool wake_pending;
    uint32_t wake_ms;
    uint32_t rnd;
} stub_t;

static uint32_t p_now_ms(void *ctx)
{
    (void)ctx;
    return sw__size_now();
}

static int64_t p_wall_s(void *ctx)
{
    (void)ctx;
    return 0; // no real-time clock
}

static void p_wake_at(void *ctx, uint32_t at_ms)
{
    stub_t *s = ctx;
    s->wake_pending = true;
    s->wake_ms = at_ms;
}

static void p_random(void *ctx, void *buf, size_t n)
{
    stub_t *s = ctx;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) { // xorshift32; a board would use its TRNG
        s->rnd ^= s->rnd << 13, s->rnd ^= s->rnd >> 17, s->rnd ^= s->rnd << 5;
        p[i] = (uint8_t)s->rnd;
    }
}

static void *p_alloc(void *ctx, int pool, void *ptr, size_t osize, size_t nsize)
{
    (void)ctx, (void)pool;
    if (nsize == 0) {
        free(ptr);
        sw__size_heap_now -= ptr ? osize : 0;
        return NULL;
    }
    void *q = realloc(ptr, nsize);
    if (!q)
        return NULL;
    sw__size_heap_now += nsize - (ptr ? osize : 0);
    if (!ptr)
        sw__size_allocs++;
    if (sw__size_heap_now > sw__size_heap_peak)
        sw__size_heap_peak = sw__size_heap_now;
    return q;
}

static void p_log(void *ctx, int level, const char *line, size_t n)
{
    (void)ctx;
    sw__size_log(level, line, n);
}

static int p_tcp_listen(void *ctx, const char *addr, uint16_t port, sw_listener_t **out)
{
    (void)ctx, (void)addr, (void)port, (void)out;
    return SW_ENOTSUP; // no network stack on this board
}

static void p_listener_close(void *ctx, sw_listener_t *l) { (void)ctx, (void)l; }

static int p_serial_open(void *ctx, const char *dev, uint32_t baud, sw_conn_t **out)
{
    stub_t *s = ctx;
    if (strcmp(dev, "uart0") != 0 || s->uart_open)
        return SW_ENOENT;
    UART0->bauddiv = CPU_HZ / (baud ? baud : 115200u);
    s->uart.kind = SW_CONN_SERIAL;
    s->uart_open = true;
    *out = &s->uart;
    return 0;
}

static int p_stdio_open(void *ctx, sw_conn_t **out)
{
    (void)ctx, (void)out;
    return SW_ENOTSUP;
}

static int p_conn_write(void *ctx, sw_conn_t *c, const void *p, size_t n)
{
    stub_t *s = ctx;
    if (c != &s->uart || s->uart_closing)
        return SW_ECLOSED;
    sw__size_tx(p, n); // blocking: nothing is ever queued
    return 0;
}

static size_t p_conn_room(void *ctx, sw_conn_t *c)
{
    (void)ctx, (void)c;
    return 4096; // blocking writes: the room never shrinks
}

static size_t p_conn_queued(void *ctx, sw_conn_t *c)
{
    (void)ctx, (void)c;
    return 0;
}

static void p_conn_pause(void *ctx, sw_conn_t *c, bool paused) { (void)ctx, (void)c, (void)paused; }

static void p_conn_close(void *ctx, sw_conn_t *c)
{
    stub_t *s = ctx;
    if (c == &s->uart)
        s->uart_closing = true; // sw_node_closed() follows from the loop
}

static size_t p_conn_peer(void *ctx, sw_conn_t *c, char *buf, size_t cap)
{
    (void)ctx, (void)c;
    size_t n = strlen("uart0");
    if (n >= cap)
        n = cap ? cap - 1 : 0;
    memcpy(buf, "uart0", n);
    if (cap)
        buf[n] = 0;
    return n;
}

// No file system: the node runs on its built-in config and reports its files as missing.
static int p_fs_open(void *ctx, const char *path, int flags, int *fd)
{
    (void)ctx, (void)path, (void)flags, (void)fd;
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

static int p_fs_fd(void *ctx, int fd)
{
    (void)ctx, (void)fd;
    return SW_EINVAL;
}

static int p_fs_stat(void *ctx, const char *path, sw_stat_t *st)
{
    (void)ctx;
    if (path[0])
        return SW_ENOENT;
    memset(st, 0, sizeof *st);
    st->type = SW_FT_DIR; // the root exists, empty
    return 0;
}

static int p_fs_path(void *ctx, const char *path)
{
    (void)ctx, (void)path;
    return SW_ENOTSUP;
}

static int p_fs_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx, (void)from, (void)to;
    return SW_ENOTSUP;
}

static int p_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e), void *u)
{
    (void)ctx, (void)each, (void)u;
    return path[0] ? SW_ENOENT : 0;
}

static void p_reset(void *ctx, int how)
{
    (void)ctx;
    if (how == SW_RESET_STOP)
        exit(0);
    SCB_AIRCR = 0x05FA0004u; // SYSRESETREQ
    for (;;)
        ;
}

static size_t p_machid(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    static const uint8_t id[8] = {0x53, 0x57, 0x4d, 0x33, 0x00, 0x00, 0x00, 0x01};
    size_t n = cap < sizeof id ? cap : sizeof id;
    memcpy(buf, id, n);
    return n;
}

static int p_mem(void *ctx, sw_mem_t *m)
{
    (void)ctx;
    m->used = sw__size_heap_now;
    m->avail = 0;
    m->heap = sw__size_heap_now;
    return 0;
}

static const char *p_platform(void *ctx)
{
    (void)ctx;
    return "cortex-m3 size stub";
}

static const sw_port_ops_t stub_ops = {
    .now_ms = p_now_ms,
    .wall_s = p_wall_s,
    .wake_at = p_wake_at,
    .random = p_random,
    .alloc = p_alloc,
    .log = p_log,
    .tcp_listen = p_tcp_listen,
    .listener_close = p_listener_close,
    .serial_open = p_serial_open,
    .stdio_open = p_stdio_open,
    .conn_write = p_conn_write,
    .conn_room = p_conn_room,
    .conn_queued = p_conn_queued,
    .conn_pause = p_conn_pause,
    .conn_close = p_conn_close,
    .conn_peer = p_conn_peer,
    .fs_open = p_fs_open,
    .fs_read = p_fs_read,
    .fs_write = p_fs_write,
    .fs_sync = p_fs_fd,
    .fs_close = p_fs_fd,
    .fs_stat = p_fs_stat,
    .fs_mkdir = p_fs_path,
    .fs_rmdir = p_fs_path,
    .fs_unlink = p_fs_path,
    .fs_rename = p_fs_rename,
    .fs_list = p_fs_list,
    .reset = p_reset,
    .machid = p_machid,
    .mem = p_mem,
    .platform = p_platform,
};

int main(void)
{
    static stub_t st = {.rnd = 0x2545F491u};
    board_init();
    const sw_port_t port = {&stub_ops, &st};
    const sw_node_opts_t opts = {
        .rpc_port = 0, // no TCP
        .serial_dev = "uart0",
        .serial_baud = 115200,
        .serial_lossy = true,
    };
    sw_node_t *n;
    int rc = sw_node_create(&n, &port, &opts);
    if (rc)
        return 1;
    sw__size_event(SW_SIZE_CREATED, n);
    if ((rc = sw_node_start(n)))
        return 2;
    sw__size_event(SW_SIZE_STARTED, n);

    uint8_t buf[64];
    while (!sw_node_stopped(n)) {
        size_t k = st.uart_open && !st.uart_closing ? sw__size_rx(buf, sizeof buf) : 0;
        if (k)
            sw_node_data(n, &st.uart, buf, k);
        if (st.uart_closing) {
            st.uart_open = st.uart_closing = false;
            sw_node_closed(n, &st.uart, 0);
        }
        if (st.wake_pending && (int32_t)(sw__size_now() - st.wake_ms) >= 0) {
            st.wake_pending = false;
            sw_node_poll(n);
        }
        if (!sw__size_event(SW_SIZE_IDLE, n))
            break;
    }
    sw_node_stop(n);
    sw_node_destroy(n);
    return 0;
}
