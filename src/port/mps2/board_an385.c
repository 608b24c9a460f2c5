// The board file of the ARM MPS2 with the AN385 FPGA image (Cortex-M3 at 25 MHz), as QEMU
// emulates it (`qemu-system-arm -M mps2-an385`): memory map, vector table, UARTs, watchdog
// and the unit's identity. docs/PORTING.md says what another board's file must provide.
//
// Memory map (QEMU hw/arm/mps2.c): 4 MB ZBT SSRAM at 0x00000000 holds the image (the "flash"),
// 4 MB SSRAM at 0x20000000 the RAM; the firmware is linked to use only SW_FW_RAM_SIZE of it,
// its budget. Peripherals: CMSDK UART0..2 at 0x40004000 + 0x1000·i (RX IRQ 2i, TX IRQ 2i+1),
// CMSDK watchdog at 0x40008000 (its interrupt is the NMI), CMSDK timer 0 at 0x40000000 (IRQ 8:
// the clock), LAN9118 Ethernet at 0x40200000 (IRQ 13).
#include "board.h"
#include "cm3.h"
#include "semihost.h"

#ifndef SW_FW_FLASH_SIZE
#define SW_FW_FLASH_SIZE (4u * 1024u * 1024u)
#endif
#ifndef SW_FW_RAM_SIZE
#define SW_FW_RAM_SIZE (4u * 1024u * 1024u)
#endif

const sw_board_desc_t sw_board = {
    .name = "mps2-an385",
    .cpu = "cortex-m3",
    .cpu_hz = 25000000u,
    .flash_size = SW_FW_FLASH_SIZE,
    .ram_size = SW_FW_RAM_SIZE,
};

#define LAN9118 0x40200000u
#define WDOG 0x40008000u
#define TIMER0 0x40000000u
#define TIMER0_IRQ 8u

void sw_isr_eth(void); // eth_lan9118.c (weak default below: the serial-only build)
__attribute__((weak)) void sw_isr_eth(void) { sw_isr_unexpected(); }

// The vector table: picolibc's crt0 (_start) takes the reset; picolibc.ld places this table at
// the start of flash (section .data.init.enter), where the core reads it at reset.
extern uint8_t __stack[];
void _start(void);
typedef void (*sw_vector_t)(void);
__attribute__((used, section(".data.init.enter"))) const sw_vector_t __interrupt_vector[16 + 32] = {
    [0] = (sw_vector_t)(uintptr_t)__stack,
    [1] = _start,
    [2] = sw_isr_nmi,
    [3] = sw_isr_hardfault,
    [4] = sw_isr_hardfault, // MemManage, BusFault, UsageFault: not enabled, they escalate
    [5] = sw_isr_hardfault,
    [6] = sw_isr_hardfault,
    [11] = sw_isr_unexpected, // SVC
    [12] = sw_isr_hardfault,  // DebugMonitor
    [14] = sw_isr_unexpected, // PendSV
    [15] = sw_isr_systick,
    [16 + 0] = sw_uart_isr_rx, // UART0 RX
    [16 + 1] = sw_uart_isr_tx, // UART0 TX
    [16 + 8] = sw_isr_clock,   // timer 0
    [16 + 13] = sw_isr_eth,
};

void sw_board_init(void)
{
    // nothing to clock or pin on this board; the FPGA has everything running at reset
}

bool sw_board_uart(unsigned idx, uintptr_t *base, unsigned *rx_irq, unsigned *tx_irq)
{
    if (idx != 0) // only UART0 is wired into the vector table
        return false;
    *base = 0x40004000u;
    *rx_irq = 0;
    *tx_irq = 1;
    return true;
}

// The MAC address QEMU gives the LAN9118 (-nic ...,mac=52:54:00:12:34:56), read through the
// chip's MAC CSR window: ADDRL holds bytes 0..3, ADDRH bytes 4..5.
static uint32_t mac_csr_read(uint32_t reg)
{
    SW_REG(LAN9118 + 0xA4) = 0xC0000000u | reg; // busy | read
    for (int i = 0; i < 100000 && (SW_REG(LAN9118 + 0xA4) & 0x80000000u); i++)
        ;
    return SW_REG(LAN9118 + 0xA8);
}

size_t sw_board_machid(uint8_t *buf, size_t cap)
{
    uint8_t mac[6] = {0};
    if (SW_REG(LAN9118 + 0x64) == 0x87654321u) { // BYTE_TEST: the chip answers
        uint32_t lo = mac_csr_read(3), hi = mac_csr_read(2);
        for (int i = 0; i < 4; i++)
            mac[i] = (uint8_t)(lo >> (8 * i));
        mac[4] = (uint8_t)hi, mac[5] = (uint8_t)(hi >> 8);
    }
    // the MAC's last bytes first: they differ between units (the first three are the vendor's)
    const uint8_t id[6] = {mac[4], mac[5], mac[3], mac[2], mac[1], mac[0]};
    size_t n = cap < sizeof id ? cap : sizeof id;
    for (size_t i = 0; i < n; i++)
        buf[i] = id[i];
    return n;
}

// The clock: CMSDK timer 0 counts the 25 MHz clock down from 2^32 - 1 and wraps every 171.8 s,
// raising its interrupt; the milliseconds and leftover cycles of all earlier wraps are kept here.
static volatile uint32_t clk_ms, clk_rem;
static uint32_t clk_per_ms, wrap_ms, wrap_rem; // 2^32 cycles = wrap_ms ms + wrap_rem cycles

static void clk_wrapped(void)
{
    SW_REG(TIMER0 + 0x0C) = 1; // INTCLEAR
    clk_ms += wrap_ms;
    clk_rem += wrap_rem;
    if (clk_rem >= clk_per_ms)
        clk_ms++, clk_rem -= clk_per_ms;
}

void sw_isr_clock(void) { clk_wrapped(); }

uint32_t sw_board_clock_jitter(void) { return SW_REG(TIMER0 + 0x04); }

void sw_board_clock_start(void)
{
    clk_per_ms = sw_board.cpu_hz / 1000u;
    wrap_ms = 0xFFFFFFFFu / clk_per_ms;
    wrap_rem = 0xFFFFFFFFu % clk_per_ms + 1u;
    if (wrap_rem == clk_per_ms)
        wrap_ms++, wrap_rem = 0;
    SW_REG(TIMER0 + 0x08) = 0xFFFFFFFFu; // RELOAD
    SW_REG(TIMER0 + 0x04) = 0xFFFFFFFFu; // VALUE
    SW_REG(TIMER0 + 0x0C) = 1;
    SW_REG(TIMER0 + 0x00) = 1u | 8u;     // enable, interrupt
    NVIC_ICPR0 = 1u << TIMER0_IRQ;
    sw_irq_enable(TIMER0_IRQ);
}

uint32_t sw_board_clock_ms(void)
{
    uint32_t m = sw_irq_save();
    uint32_t v = SW_REG(TIMER0 + 0x04);
    if (SW_REG(TIMER0 + 0x0C) & 1u) { // wrapped, its interrupt not taken yet
        clk_wrapped();
        v = SW_REG(TIMER0 + 0x04);
    }
    uint32_t up = 0xFFFFFFFFu - v; // cycles since the last wrap
    uint32_t ms = clk_ms + up / clk_per_ms + (up % clk_per_ms + clk_rem) / clk_per_ms;
    sw_irq_restore(m);
    return ms;
}

// The MPS2 has no TRNG. Under QEMU the host's /dev/urandom, read through semihosting (the
// debugger channel the boot arguments and the flash file already use), stands in for one; a
// real board reads its TRNG here (docs/PORTING.md). 0 where nobody answers semihosting.
size_t sw_board_entropy(void *buf, size_t n)
{
    int fh = sw_sh_open("/dev/urandom", "rb");
    if (fh < 0)
        return 0;
    int rc = sw_sh_read(fh, buf, n);
    sw_sh_close(fh);
    return rc == 0 ? n : 0;
}

// The CMSDK watchdog counts WDOGCLK (the 25 MHz system clock here) down from LOAD; at zero it
// raises its interrupt (the NMI) and reloads; at zero again with the interrupt still raised it
// resets the system. So the reset comes 2 × LOAD after the last kick.
void sw_board_wdt_start(uint32_t timeout_ms)
{
    SW_REG(WDOG + 0xC00) = 0x1ACCE551u; // unlock
    if (!timeout_ms) {
        SW_REG(WDOG + 0x08) = 0;
    } else {
        SW_REG(WDOG + 0x00) = timeout_ms / 2u * (sw_board.cpu_hz / 1000u);
        SW_REG(WDOG + 0x0C) = 1; // clear and reload
        SW_REG(WDOG + 0x08) = 3; // INTEN | RESEN
    }
    SW_REG(WDOG + 0xC00) = 0; // lock
}

void sw_board_wdt_kick(void)
{
    SW_REG(WDOG + 0xC00) = 0x1ACCE551u;
    SW_REG(WDOG + 0x0C) = 1;
    SW_REG(WDOG + 0xC00) = 0;
}
