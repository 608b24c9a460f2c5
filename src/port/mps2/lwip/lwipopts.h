// lwIP 2.1.3 options of the mps2 firmware (net_lwip.c): bare metal (NO_SYS, raw API, one
// thread), IPv4 only, one Ethernet interface with AutoIP link-local addresses, TCP for RPC,
// UDP for the beacon and mDNS, IGMP for the mDNS group. Sized for the mcu-full RAM budget
// (96 KiB for everything): about 17 KiB here, see the figures below and docs/PORTING.md.
#ifndef SW_MPS2_LWIPOPTS_H
#define SW_MPS2_LWIPOPTS_H

#include <stdint.h>

// --- system: one thread, no OS, no sockets (the node's port contract is the API)
#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0 // lwIP runs only in the main loop, never in an interrupt
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_RAW 0
#define LWIP_TIMERS 1

// --- protocols
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1            // ping
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_IGMP 1            // 224.0.0.251 for mDNS
#define LWIP_AUTOIP 1          // RFC 3927: 169.254/16 with ARP probing and conflict defence
#define LWIP_DHCP 0
#define LWIP_DNS 0
#define LWIP_MULTICAST_TX_OPTIONS 1 // mDNS sends with TTL 255
#define IP_REASSEMBLY 0        // nothing the node receives exceeds one frame
#define IP_FRAG 0              // nor sends (mDNS packets <= 1440 bytes, TCP segments <= MSS)
#define LWIP_SINGLE_NETIF 1
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_NETIF_STATUS_CALLBACK 1 // the address AutoIP chose is logged
#define LWIP_NETIF_HOSTNAME 0
#define SO_REUSE 0
#define LWIP_STATS 0
#define LWIP_TCP_KEEPALIVE 0   // the node closes idle RPC links itself
#define TCP_LISTEN_BACKLOG 1
#define TCP_CALCULATE_EFF_SEND_MSS 0 // the peer's MSS, capped at TCP_MSS: the one netif's MTU gives the same
#define LWIP_CHECKSUM_ON_COPY 0
#define ETHARP_SUPPORT_STATIC_ENTRIES 0

// --- memory (bytes). The RX pool holds a received frame while lwIP processes it; the heap
// (MEM_SIZE) holds what TCP has not had acknowledged, input the node has not read yet (moved
// out of the pool, net_lwip.c) and outgoing datagrams.
#define MEM_ALIGNMENT 4
#define TCP_MSS 1460
#define TCP_SND_BUF (2 * TCP_MSS)   // a connection's capacity (conn_room when nothing is queued)
#define TCP_SND_QUEUELEN 16
#define TCP_OVERSIZE 0              // segments take the heap they hold, not a whole MSS each:
                                    // with it, 8 small replies could ask for 12 KB and fail
#define TCP_WND (2 * TCP_MSS)       // unread input at most, per connection
#define MEM_SIZE (2 * TCP_SND_BUF + TCP_WND + 2048) // send queues, one window of input, datagrams
#define PBUF_POOL_BUFSIZE 512       // frames are chained from these (a full frame takes 3)
#define PBUF_POOL_SIZE 8
#define TCP_QUEUE_OOSEQ 0           // out-of-order segments are dropped (resent), not held
#define MEMP_NUM_PBUF 4             // pbufs referring to ROM data (lwIP's own, e.g. ARP)
#define MEMP_NUM_UDP_PCB 4          // beacon tx + rx, mDNS, one spare
#define MEMP_NUM_TCP_PCB 3          // limits.clients (1 on the MCU) + one being refused + TIME_WAIT
#define MEMP_NUM_TCP_PCB_LISTEN 2
#define MEMP_NUM_TCP_SEG 16
#define MEMP_NUM_ARP_QUEUE 4
#define MEMP_NUM_IGMP_GROUP 3       // all-systems, 224.0.0.251, spare
#define ARP_TABLE_SIZE 4
#define ARP_QUEUEING 0 // the last packet to an address being resolved waits, not a queue (112 B of flash)

// --- platform
uint32_t sw__mps2_rand32(void);
#define LWIP_RAND() sw__mps2_rand32()
#define LWIP_NOASSERT 1 // asserts cost about 6 KB of strings in flash; LWIP_ERROR checks remain

#endif
