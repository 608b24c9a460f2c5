// The Ethernet driver under lwIP (eth_lan9118.c for the SMSC LAN9118 of the MPS2 boards):
// an lwIP netif init function, and the receive path the main loop drives. The chip's
// interrupt only marks work (sw_eth_pending); frames are read and handed to lwIP in the loop.
#ifndef SW_MPS2_ETH_H
#define SW_MPS2_ETH_H

#include <stdbool.h>
#include <stdint.h>

struct netif;

// netif_add's init function: finds the chip (ERR_IF if it does not answer), resets it, takes
// its MAC address, switches on TX and RX (broadcast and all multicast pass: lwIP's IGMP keeps
// the groups) and its receive interrupt.
int8_t sw_eth_init(struct netif *nif);
// True when received frames wait (the interrupt has fired since the last sw_eth_poll).
bool sw_eth_pending(void);
// Hands up to `max` received frames to nif->input; frames that find no pbuf are dropped
// (counted). Re-arms the interrupt once the chip's RX FIFO is empty.
void sw_eth_poll(struct netif *nif, unsigned max);

typedef struct sw_eth_stats {
    uint32_t rx, tx, rx_dropped, rx_errors, tx_full;
} sw_eth_stats_t;
void sw_eth_stats(sw_eth_stats_t *out);

#endif
