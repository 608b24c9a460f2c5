// NAME.local without nss-mdns (scan.h): one mDNS question for the A record, sent as a "legacy
// unicast" query (RFC 6762 §6.7: from a port other than 5353, so responders answer straight
// back to it) on every multicast interface, and a bounded reader for the responses.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"
#include "swarm/dns.h"
#include "swarm/sw.h"

// The A record of name in an mDNS response, read with the core's DNS codec (include/swarm/dns.h:
// bounded, compression loops refused, fuzzed). 0 with the address in ip, SW_ENOENT, SW_EPROTO.
int sw_scan_mdns_answer(const uint8_t *p, size_t n, const char *name, char *ip, size_t ipcap)
{
    sw_dns_name_t want;
    if (sw_dns_name_from(&want, name, strlen(name)))
        return SW_EINVAL;
    sw_dns_rd_t r;
    if (sw_dns_rd_init(&r, p, n) || !(r.flags & SW_DNS_F_QR)) // only responses
        return SW_EPROTO;
    sw_dns_rr_t rr;
    int rc;
    while ((rc = sw_dns_rd_rr(&r, &rr)) == 1) { // (legacy answers repeat the question: skipped)
        if (rr.type == SW_DNS_T_A && rr.cls == SW_DNS_C_IN && rr.rdlen == 4 && sw_dns_name_eq(&rr.name, &want))
            return inet_ntop(AF_INET, rr.a, ip, (socklen_t)ipcap) ? 0 : SW_EPROTO;
    }
    return rc < 0 ? SW_EPROTO : SW_ENOENT;
}

// The question: one A question for name, class IN, no flags.
static int build_query(uint8_t *q, size_t cap, const char *name, uint16_t id)
{
    sw_dns_name_t nm;
    if (sw_dns_name_from(&nm, name, strlen(name)))
        return SW_EINVAL;
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, q, cap, id, 0);
    sw_dns_wr_question(&w, &nm, SW_DNS_T_A, SW_DNS_C_IN);
    int len = sw_dns_wr_finish(&w);
    return len < 0 ? SW_EINVAL : len;
}

static uint64_t ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// Sends q on every up, multicast-capable, non-loopback IPv4 interface (or once, by the
// routing table, if there is none).
static void send_everywhere(int fd, const uint8_t *q, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(5353)};
    inet_pton(AF_INET, "224.0.0.251", &to.sin_addr);
    struct ifaddrs *ifs;
    int sent = 0;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
                !(i->ifa_flags & IFF_MULTICAST) || (i->ifa_flags & IFF_LOOPBACK))
                continue;
            struct in_addr a = ((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &a, sizeof a) == 0 &&
                sendto(fd, q, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len)
                sent++;
        }
        freeifaddrs(ifs);
    }
    if (!sent)
        (void)!sendto(fd, q, len, 0, (struct sockaddr *)&to, sizeof to);
}

int sw_scan_mdns_lookup(const char *name, char *ip, size_t ipcap, uint32_t timeout_ms)
{
    uint8_t q[300];
    uint16_t id;
    if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id)
        id = (uint16_t)getpid();
    int qlen = build_query(q, sizeof q, name, id);
    if (qlen < 0)
        return SW_EINVAL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return SW_EIO;
    struct sockaddr_in any = {.sin_family = AF_INET};
    unsigned char ttl = 255;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (bind(fd, (struct sockaddr *)&any, sizeof any) < 0) {
        close(fd);
        return SW_EIO;
    }
    uint64_t start = ms(), resend = start + timeout_ms / 3;
    bool resent = false;
    int rc = SW_ETIMEDOUT;
    send_everywhere(fd, q, (size_t)qlen);
    for (;;) {
        uint64_t now = ms();
        if (now >= start + timeout_ms)
            break;
        if (!resent && now >= resend) {
            send_everywhere(fd, q, (size_t)qlen);
            resent = true;
        }
        uint64_t until = resent ? start + timeout_ms : resend;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(until - now)) < 0 && errno != EINTR)
            break;
        uint8_t buf[9000];
        ssize_t k;
        while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
            if (sw_scan_mdns_answer(buf, (size_t)k, name, ip, ipcap) == 0) {
                rc = 0;
                goto done;
            }
    }
done:
    close(fd);
    return rc;
}
