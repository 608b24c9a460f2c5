// uart.h for the ARM CMSDK APB UART (MPS2 boards, many Cortex-M3/M4 parts built from the CMSDK):
// one data register with a one-byte holding buffer each way, an RX and a TX interrupt.
//
// RX: the interrupt moves the byte into the ring. With the ring full it disables the RX
// interrupt and leaves the byte in the UART, which then takes no more (QEMU's model holds the
// host's bytes back; a real line would need RTS/CTS for the same guarantee); sw_uart_read()
// drains the UART again once there is room. TX: the interrupt fires when the holding buffer has
// emptied and refills it from the ring; sw_uart_write() starts it when the UART is idle.
#include "board.h"
#include "cm3.h"
#include "uart.h"

typedef struct {
    volatile uint32_t data, state, ctrl, intstatus, bauddiv;
} cmsdk_uart_t;
enum { ST_TX_FULL = 1u, ST_RX_FULL = 2u };
enum { CT_TX_EN = 1u, CT_RX_EN = 2u, CT_TX_IE = 4u, CT_RX_IE = 8u };
enum { IS_TX = 1u, IS_RX = 2u };

static cmsdk_uart_t *u;
static unsigned rx_irq, tx_irq;
static uint8_t rxr[SW_UART_RX_RING], txr[SW_UART_TX_RING];
// head: next write position, tail: next read position; free-running (differences are sizes).
// Each index is written by one side only (ISR or loop), so 32-bit stores need no lock.
static volatile uint32_t rx_head, rx_tail, tx_head, tx_tail;
static volatile bool rx_stalled;
static sw_uart_stats_t st;

int sw_uart_open(unsigned idx, uint32_t baud)
{
    uintptr_t base;
    if (!sw_board_uart(idx, &base, &rx_irq, &tx_irq))
        return -1;
    u = (cmsdk_uart_t *)base;
    uint32_t div = sw_board.cpu_hz / (baud ? baud : 115200u);
    u->bauddiv = div < 16 ? 16 : div; // the CMSDK UART needs >= 16
    u->intstatus = IS_TX | IS_RX;
    u->ctrl = CT_TX_EN | CT_RX_EN | CT_TX_IE | CT_RX_IE;
    sw_irq_enable(rx_irq);
    sw_irq_enable(tx_irq);
    return 0;
}

// Moves bytes from the UART into the ring while both have some: from the ISR, or from the loop
// with interrupts masked.
static void rx_pull(void)
{
    while ((u->state & ST_RX_FULL) && rx_head - rx_tail < SW_UART_RX_RING) {
        rxr[rx_head % SW_UART_RX_RING] = (uint8_t)u->data;
        rx_head++;
        st.rx++;
    }
    if ((u->state & ST_RX_FULL) && !rx_stalled) { // ring full: hold the line
        u->ctrl &= ~CT_RX_IE;
        rx_stalled = true;
        st.rx_stalls++;
    }
}

void sw_uart_isr_rx(void)
{
    u->intstatus = IS_RX; // clear before reading: a byte arriving meanwhile raises it again
    rx_pull();
}

static void tx_push(void)
{
    while (!(u->state & ST_TX_FULL) && tx_tail != tx_head) {
        u->data = txr[tx_tail % SW_UART_TX_RING];
        tx_tail++;
        st.tx++;
    }
}

void sw_uart_isr_tx(void)
{
    u->intstatus = IS_TX;
    tx_push();
}

size_t sw_uart_read(uint8_t *buf, size_t cap)
{
    size_t k = 0;
    while (k < cap && rx_tail != rx_head) {
        buf[k++] = rxr[rx_tail % SW_UART_RX_RING];
        rx_tail++;
    }
    if (rx_stalled && k) { // room again: listen again, then take what the UART holds
        // The interrupt goes on BEFORE the pull: QEMU's UART raises RX only for a byte that
        // arrives while the interrupt is enabled, and it may deliver one (from its I/O thread)
        // between our read of DATA and our write of CTRL. Pulled after enabling, such a byte
        // is taken here; one arriving later raises the interrupt. The other order left a byte
        // in DATA with no interrupt ever coming: the line stalled for good (a 200-request
        // burst stopped at 48 answers).
        uint32_t m = sw_irq_save();
        rx_stalled = false;
        u->ctrl |= CT_RX_IE;
        rx_pull();
        sw_irq_restore(m);
    }
    return k;
}

size_t sw_uart_rx_avail(void) { return rx_head - rx_tail; }

size_t sw_uart_write(const uint8_t *p, size_t n)
{
    size_t k = 0;
    while (k < n && tx_head - tx_tail < SW_UART_TX_RING) {
        txr[tx_head % SW_UART_TX_RING] = p[k++];
        tx_head++;
    }
    uint32_t m = sw_irq_save(); // the ISR also pushes; only one of them at a time
    tx_push();
    sw_irq_restore(m);
    return k;
}

size_t sw_uart_tx_queued(void) { return tx_head - tx_tail; }

size_t sw_uart_tx_room(void) { return SW_UART_TX_RING - (tx_head - tx_tail); }

void sw_uart_stats(sw_uart_stats_t *s) { *s = st; }
