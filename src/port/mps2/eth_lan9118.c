// eth.h for the SMSC LAN9118 (MPS2: memory-mapped at 0x40200000, IRQ 13), as QEMU emulates it.
// Transmit: each pbuf of a frame is one buffer of the TX data FIFO (command words A and B,
// then the payload as 32-bit words from its aligned address, the start offset telling the chip
// which leading bytes to skip), so frames are never copied. Receive: the RX status FIFO says
// how long the next frame is; its words are read straight into a chain of pool pbufs.
//
// Interrupts: the chip raises RSFL when the RX status FIFO holds a frame; the handler masks
// the chip's interrupt and flags the loop, which clears RSFL, drains the FIFO and unmasks. A
// frame arriving after the clear sets RSFL again, so none waits for the next one.
#include <string.h>

#include "cm3.h"
#include "eth.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define BASE 0x40200000u
#define IRQ 13u
#define R(off) SW_REG(BASE + (off))

enum {
    RX_DATA = 0x00, TX_DATA = 0x20, RX_STATUS = 0x40, ID_REV = 0x50, IRQ_CFG = 0x54,
    INT_STS = 0x58, INT_EN = 0x5C, BYTE_TEST = 0x64, FIFO_INT = 0x68, RX_CFG = 0x6C,
    TX_CFG = 0x70, HW_CFG = 0x74, RX_DP_CTRL = 0x78, RX_FIFO_INF = 0x7C, TX_FIFO_INF = 0x80,
    PMT_CTRL = 0x84, MAC_CSR_CMD = 0xA4, MAC_CSR_DATA = 0xA8,
};
enum { MAC_CR = 1, MAC_ADDRH = 2, MAC_ADDRL = 3 };
#define MAC_CR_MCPAS (1u << 19) // pass all multicast
#define MAC_CR_FDPX (1u << 20)
#define MAC_CR_TXEN (1u << 3)
#define MAC_CR_RXEN (1u << 2)
#define IRQ_CFG_EN (1u << 8)
#define IRQ_CFG_POL (1u << 4)   // active high…
#define IRQ_CFG_TYPE (1u << 0)  // …push-pull: what the NVIC input expects
#define INT_RSFL (1u << 3)      // RX status FIFO level
#define TX_CFG_ON (1u << 1)
#define TX_CFG_SAO (1u << 2)    // TX status FIFO may overrun: no status is read
#define RXS_ES (1u << 15)       // error summary
#define TXA_FIRST (1u << 13)
#define TXA_LAST (1u << 12)
#define FRAME_MAX 1518u         // with the CRC the chip appends to received frames

static volatile bool pending;
static sw_eth_stats_t st;

static uint32_t csr_read(uint32_t reg)
{
    R(MAC_CSR_CMD) = 0xC0000000u | reg; // busy | read
    for (int i = 0; i < 100000 && (R(MAC_CSR_CMD) & 0x80000000u); i++)
        ;
    return R(MAC_CSR_DATA);
}

static void csr_write(uint32_t reg, uint32_t v)
{
    R(MAC_CSR_DATA) = v;
    R(MAC_CSR_CMD) = 0x80000000u | reg;
    for (int i = 0; i < 100000 && (R(MAC_CSR_CMD) & 0x80000000u); i++)
        ;
}

void sw_isr_eth(void);
void sw_isr_eth(void)
{
    R(INT_EN) = 0; // the line drops; the loop re-arms after draining
    pending = true;
}

bool sw_eth_pending(void) { return pending; }

static err_t output(struct netif *nif, struct pbuf *p)
{
    (void)nif;
    // room for the frame and two command words per buffer, in bytes
    uint32_t need = p->tot_len + 12u * pbuf_clen(p);
    if (p->tot_len > FRAME_MAX - 4 || (R(TX_FIFO_INF) & 0xFFFFu) < need) {
        st.tx_full++;
        return ERR_MEM;
    }
    for (struct pbuf *q = p; q; q = q->next) {
        uintptr_t a = (uintptr_t)q->payload;
        uint32_t off = a & 3u;
        const volatile uint32_t *w = (const uint32_t *)(a - off);
        uint32_t cmd_a = off << 16 | (q == p ? TXA_FIRST : 0) | (q->next ? 0 : TXA_LAST) | q->len;
        R(TX_DATA) = cmd_a;
        R(TX_DATA) = (uint32_t)p->tot_len; // command B: the frame's length (tag 0)
        for (uint32_t i = 0, n = (off + q->len + 3u) / 4u; i < n; i++)
            R(TX_DATA) = w[i];
    }
    st.tx++;
    return ERR_OK;
}

static void discard(uint32_t words)
{
    if (words >= 4) {
        R(RX_DP_CTRL) = 0x80000000u; // fast-forward to the next frame
        return;
    }
    while (words--)
        (void)R(RX_DATA);
}

void sw_eth_poll(struct netif *nif, unsigned max)
{
    if (!pending)
        return;
    pending = false;
    R(INT_STS) = INT_RSFL; // before draining: a frame from now on raises it again
    unsigned k = 0;
    while ((R(RX_FIFO_INF) >> 16 & 0xFFu) && k++ < max) {
        uint32_t status = R(RX_STATUS);
        uint32_t len = status >> 16 & 0x3FFFu, words = (len + 3u) / 4u;
        if ((status & RXS_ES) || len < 14 + 4 || len > FRAME_MAX) {
            st.rx_errors++;
            discard(words);
            continue;
        }
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(len - 4), PBUF_POOL);
        if (!p) {
            st.rx_dropped++;
            discard(words);
            continue;
        }
        // pool pbufs are word-aligned and (but for the last) a multiple of 4 long
        for (struct pbuf *q = p; q; q = q->next) {
            uint8_t *d = q->payload;
            for (uint32_t i = 0; i < q->len; i += 4, words--) {
                uint32_t v = R(RX_DATA);
                memcpy(d + i, &v, q->len - i < 4 ? q->len - i : 4);
            }
        }
        while (words--) // the CRC
            (void)R(RX_DATA);
        st.rx++;
        if (nif->input(p, nif) != ERR_OK)
            pbuf_free(p);
    }
    if (R(RX_FIFO_INF) >> 16 & 0xFFu)
        pending = true; // more than max: the next pass goes on
    R(INT_EN) = INT_RSFL;
}

err_t sw_eth_init(struct netif *nif)
{
    if (R(BYTE_TEST) != 0x87654321u)
        return ERR_IF;
    R(HW_CFG) = 1; // soft reset
    for (int i = 0; i < 100000 && (R(HW_CFG) & 1u); i++)
        ;
    for (int i = 0; i < 100000 && !(R(PMT_CTRL) & 1u); i++) // READY
        ;
    uint32_t lo = csr_read(MAC_ADDRL), hi = csr_read(MAC_ADDRH);
    for (int i = 0; i < 4; i++)
        nif->hwaddr[i] = (uint8_t)(lo >> (8 * i));
    nif->hwaddr[4] = (uint8_t)hi;
    nif->hwaddr[5] = (uint8_t)(hi >> 8);
    nif->hwaddr_len = ETH_HWADDR_LEN;
    nif->mtu = 1500;
    nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
    nif->name[0] = 'e', nif->name[1] = 'n';
    nif->output = etharp_output;
    nif->linkoutput = output;

    // the reset leaves the MAC promiscuous: exact match, broadcast, and every multicast
    csr_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_MCPAS | MAC_CR_FDPX);
    R(TX_CFG) = TX_CFG_ON | TX_CFG_SAO;
    R(RX_CFG) = 0;   // no offset, 4-byte end alignment
    R(FIFO_INT) = 0; // RSFL as soon as one frame waits
    R(IRQ_CFG) = IRQ_CFG_EN | IRQ_CFG_POL | IRQ_CFG_TYPE;
    R(INT_STS) = 0xFFFFFFFFu;
    NVIC_ICPR0 = 1u << IRQ; // pending from before (the line idles low only once configured)
    pending = true;         // frames that came before the interrupt was on
    R(INT_EN) = INT_RSFL;
    sw_irq_enable(IRQ);
    return ERR_OK;
}

void sw_eth_stats(sw_eth_stats_t *out) { *out = st; }
