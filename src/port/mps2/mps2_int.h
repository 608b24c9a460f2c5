// The bare-metal port's own state and the parts of it main.c drives (port_mps2.c implements the
// port contract, include/swarm/port.h).
#ifndef SW_MPS2_INT_H
#define SW_MPS2_INT_H

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
    int reset_how;             // SW_RESET_* asked by the node, done by the loop
} sw_mps2_t;

extern const sw_port_ops_t sw__mps2_ops;

// Milliseconds since boot (SysTick).
uint32_t sw__mps2_now(void);
void sw__mps2_tick_start(void);
// Writes a line to the host (semihosting stdout) and the UART, bypassing the rings, then
// resets the chip. For faults, when nothing else can be trusted.
__attribute__((noreturn)) void sw__mps2_panic(const char *msg, size_t n);
// The port's own log lines (boot, reset): like the node's, to QEMU's stdout.
void sw__mps2_log(const char *line, size_t n);
// Memory figures for sys.info and sys.mem.
void sw__mps2_stack_paint(void);

#endif
