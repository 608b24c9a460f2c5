// The serial link's UART: interrupt-driven, with a receive and a transmit ring. Receiving never
// loses a byte: when the RX ring is full the driver stops taking bytes from the UART (the sender
// is held back by the line, as hardware flow control would) until the loop has read some.
// Sending never blocks: bytes go into the TX ring and the TX interrupt moves them out.
#ifndef SW_MPS2_UART_H
#define SW_MPS2_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef SW_UART_RX_RING
#define SW_UART_RX_RING 1024u // bytes; a power of two
#endif
#ifndef SW_UART_TX_RING
#define SW_UART_TX_RING 4096u // bytes; a power of two
#endif

// Opens UART idx at baud (8N1): 0, or -1 when the board has no such UART.
int sw_uart_open(unsigned idx, uint32_t baud);
// Moves received bytes out of the RX ring; returns how many.
size_t sw_uart_read(uint8_t *buf, size_t cap);
// Bytes waiting in the RX ring.
size_t sw_uart_rx_avail(void);
// Copies what fits of p into the TX ring and starts sending; returns bytes taken (< n when full).
size_t sw_uart_write(const uint8_t *p, size_t n);
size_t sw_uart_tx_queued(void);
size_t sw_uart_tx_room(void);
// Counters since boot: bytes received, sent, and RX stalls (ring full, UART held back).
typedef struct sw_uart_stats {
    uint32_t rx, tx, rx_stalls;
} sw_uart_stats_t;
void sw_uart_stats(sw_uart_stats_t *s);

#endif
