// The bare-metal port's own state and the parts of it main.c drives (port_mps2.c implements the
// port contract, include/swarm/port.h).
#ifndef SW_MPS2_INT_H
#define SW_MPS2_INT_H

#include "swarm/flashfs.h"
#include "swarm/node.h"

#ifndef SW_FW_PROFILE
#define SW_FW_PROFILE "mcu-full"
#endif

typedef struct sw_mps2 {
    sw_conn_t uart;            // the serial link (UART0)
    bool uart_open;
    bool uart_closing;         // conn_close: sw_node_closed() follows from the loop
    bool uart_paused;
    bool uart_want_drained;    // a write left bytes queued: tell the node when they are out
    bool wake_pending;
    uint32_t wake_ms;
    uint32_t rnd;              // xorshift32 state
    uint32_t heap_now, heap_peak, allocs;
    uint32_t pool_now[2], pool_peak[2]; // per pool (SW_POOL_NODE, SW_POOL_LUA), bytes asked for
    int reset_how;             // SW_RESET_* asked by the node, done by the loop
    uint32_t wdt_boot;         // the hardware watchdog's reset time from boot argument wdt= (0: off)
    uint32_t wdt_period;       // the node's watchdog op: its last period (0: disarmed)
    uint32_t wdt_armed;        // what the CMSDK watchdog is set to now, ms (0: stopped)
    sw_node_t *node;           // for events from the network (net_lwip.c)
    bool files;                // ffs is mounted: the port's files are on it
#if SW_FW_FILES
    sw_ffs_t ffs;              // the flash file system (flash_sh.c's block device)
#endif
} sw_mps2_t;

extern const sw_port_ops_t sw__mps2_ops;

// Milliseconds since boot (the board's clock).
uint32_t sw__mps2_now(void);
void sw__mps2_tick_start(void);
// Waits for an interrupt (WFI), at most max_ms (SysTick, one-shot; at most 671 ms at 25 MHz);
// 0: returns at once. Call it with interrupts masked (sw_irq_save): one that arrives after the
// caller's last check still ends the WFI.
void sw__mps2_sleep(uint32_t max_ms);
// Writes a line to the host (semihosting stdout) and the UART, bypassing the rings, then
// resets the chip. For faults, when nothing else can be trusted.
__attribute__((noreturn)) void sw__mps2_panic(const char *msg, size_t n);
// The port's own log lines (boot, reset): like the node's, to QEMU's stdout.
void sw__mps2_log(const char *line, size_t n);
// Sets the CMSDK watchdog to the shorter of wdt_boot and the node's period (either 0: the
// other), when that changed. The loop kicks it every pass.
void sw__mps2_wdt_apply(sw_mps2_t *s);
// Mounts fs on the host file path (semihosting; created and erased to the device's size when
// new or short), formatting a blank device. 0, or SW_EIO with *what saying which step failed
// (the firmware then runs without files). On success *what is "mounted" or "formatted".
int sw__mps2_flash_mount(sw_ffs_t *fs, const char *path, const char **what);
// Memory figures for sys.info and sys.mem.
void sw__mps2_stack_paint(void);

// --- the network (net_lwip.c; SW_FW_NET builds): lwIP on the board's Ethernet
#ifndef SW_FW_NET
#define SW_FW_NET 0
#endif
#if SW_FW_NET
// Starts lwIP, the interface and AutoIP. SW_ENOENT: no NIC (the node runs without a network).
int sw__mps2_net_init(sw_mps2_t *s);
// The loop's part: received frames, lwIP's timers, the connections' events to the node.
void sw__mps2_net_poll(sw_node_t *node);
// True when sw__mps2_net_poll has something to do now (the loop then does not sleep).
bool sw__mps2_net_pending(void);
// Milliseconds until lwIP's next timer (UINT32_MAX: none).
uint32_t sw__mps2_net_sleep_ms(void);
int sw__mps2_tcp_listen(void *ctx, const char *addr, uint16_t port, sw_listener_t **out);
void sw__mps2_listener_close(void *ctx, sw_listener_t *l);
uint16_t sw__mps2_listener_port(void *ctx, sw_listener_t *l);
int sw__mps2_tcp_write(void *ctx, sw_conn_t *c, const void *p, size_t n);
size_t sw__mps2_tcp_room(void *ctx, sw_conn_t *c);
size_t sw__mps2_tcp_queued(void *ctx, sw_conn_t *c);
void sw__mps2_tcp_pause(void *ctx, sw_conn_t *c, bool paused);
void sw__mps2_tcp_close(void *ctx, sw_conn_t *c);
size_t sw__mps2_tcp_peer(void *ctx, sw_conn_t *c, char *buf, size_t cap);
size_t sw__mps2_tcp_local(void *ctx, sw_conn_t *c, char *buf, size_t cap);
int sw__mps2_udp_open(void *ctx, const char *addr, uint16_t port, int flags, sw_udp_t **out);
int sw__mps2_udp_send(void *ctx, sw_udp_t *u, const char *ip, uint16_t port, const void *p, size_t n);
void sw__mps2_udp_close(void *ctx, sw_udp_t *u);
size_t sw__mps2_netifs(void *ctx, sw_netif_t *out, size_t max);
#endif
#if SW_FW_AUTH
// --- random bytes for keys (rng.c): a DRBG seeded from the board's entropy source. Returns
// false when the board had none (the seed then comes from the clock alone: logged).
bool sw__mps2_rng_init(const uint8_t *id, size_t n);
// Something happened now (the loop woke for an interrupt): its timing goes into the next draw.
void sw__mps2_rng_event(void);
void sw__mps2_random(void *buf, size_t n);
#endif
// The port's state (main.c sets it first thing), for callers without a context (lwIP).
extern sw_mps2_t *sw__mps2_self;
// A random 32-bit number (xorshift32 of the port; lwIP's LWIP_RAND).
uint32_t sw__mps2_rand32(void);

#endif
