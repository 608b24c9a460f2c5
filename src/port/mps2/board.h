// What a board gives the bare-metal port (port_mps2.c, main.c): the one file to write when the
// firmware moves to another Cortex-M board (docs/PORTING.md, "The mps2 port"). A board file
// (board_an385.c) fills sw_board and implements these functions; drivers for the board's
// peripherals (uart_cmsdk.c, wdog_cmsdk.c) sit beside it.
#ifndef SW_MPS2_BOARD_H
#define SW_MPS2_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sw_board_desc {
    const char *name;     // "mps2-an385": sys.info hw.board, the platform string
    const char *cpu;      // "cortex-m3"
    uint32_t cpu_hz;      // core clock (SysTick counts it)
    uint32_t flash_size;  // bytes of code memory the image may use (the linker's region)
    uint32_t ram_size;    // bytes of RAM the firmware may use (static + heap + stack)
} sw_board_desc_t;

extern const sw_board_desc_t sw_board;

// Clocks, pins, interrupt priorities; before anything else.
void sw_board_init(void);
// Unique bytes of this unit (a MAC, a chip id), most distinguishing byte first (the node names
// itself "swarm-XXYY" from the first two). Returns how many were written.
size_t sw_board_machid(uint8_t *buf, size_t cap);

// --- the serial link (uart.h has the ring-buffered driver's API). A board with CMSDK UARTs
// uses uart_cmsdk.c: it says where UART idx is (false: no such UART), and its vector table
// sends the UART's RX and TX interrupts to sw_uart_isr_rx / sw_uart_isr_tx.
bool sw_board_uart(unsigned idx, uintptr_t *base, unsigned *rx_irq, unsigned *tx_irq);
void sw_uart_isr_rx(void);
void sw_uart_isr_tx(void);

// --- the clock: a free-running timer, read for the port's milliseconds. (SysTick only wakes
// the loop from WFI when a timer is due: the idle loop sleeps without a periodic tick.)
// sw_board_clock_ms wraps after 2^32 ms; the board's timer interrupt, sw_isr_clock, keeps the
// count across the timer's own wrap.
void sw_board_clock_start(void);
uint32_t sw_board_clock_ms(void);
void sw_isr_clock(void);
// The clock's raw counter: bits that differ from boot to boot (a seed, not a key).
uint32_t sw_board_clock_jitter(void);

// --- entropy: up to n bytes from the board's true random source (a TRNG peripheral) into buf;
// returns how many (0: the board has none). Only the locked mode's key generation needs it
// (rng.c seeds a DRBG from it at boot and now and then).
size_t sw_board_entropy(void *buf, size_t n);

// --- watchdog: a hardware timer that resets the chip unless kicked. timeout_ms 0 stops it
// (where the hardware allows). The main loop kicks it on every pass.
void sw_board_wdt_start(uint32_t timeout_ms);
void sw_board_wdt_kick(void);

// --- exceptions the generic part handles (startup.c, port_mps2.c); the board's vector table
// points at them
void sw_isr_hardfault(void);
void sw_isr_nmi(void);     // the watchdog's warning on the MPS2 boards
void sw_isr_systick(void); // the loop's wake-up timer (one-shot)
void sw_isr_unexpected(void);

#endif
