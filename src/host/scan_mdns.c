// NAME.local without nss-mdns (scan.h): one mDNS question for the A record, sent as a "legacy
// unicast" query (RFC 6762 §6.7: from a port other than 5353, so responders answer straight
// back to it) on every multicast interface, and a bounded reader for the responses.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
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
#include "swarm/sw.h"

#define NAME_MAX_LEN 255
#define MAX_JUMPS 16    // compression pointers followed for one name
#define MAX_RECORDS 256 // resource records looked at in one response

// The name at off (compression followed) as dotted text; returns the offset just after the
// name where it starts (not where a pointer leads), or -1 on anything malformed.
static long read_name(const uint8_t *p, size_t n, size_t off, char *out, size_t cap)
{
    size_t o = off, k = 0;
    long after = -1;
    int jumps = 0;
    for (;;) {
        if (o >= n)
            return -1;
        uint8_t len = p[o];
        if ((len & 0xc0) == 0xc0) {
            if (o + 1 >= n || ++jumps > MAX_JUMPS)
                return -1;
            if (after < 0)
                after = (long)o + 2;
            o = (size_t)(len & 0x3f) << 8 | p[o + 1];
            continue;
        }
        if (len & 0xc0)
            return -1; // the extended label types are not used
        if (len == 0) {
            if (after < 0)
                after = (long)o + 1;
            break;
        }
        if (o + 1 + len > n || k + len + 2 > cap)
            return -1;
        if (k)
            out[k++] = '.';
        memcpy(out + k, p + o + 1, len);
        k += len;
        o += 1 + (size_t)len;
    }
    out[k] = 0;
    return after;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int sw_scan_mdns_answer(const uint8_t *p, size_t n, const char *name, char *ip, size_t ipcap)
{
    if (n < 12 || !(p[2] & 0x80)) // a header with QR set (a response)
        return SW_EPROTO;
    unsigned qd = be16(p + 4), records = (unsigned)be16(p + 6) + be16(p + 8) + be16(p + 10);
    if (records > MAX_RECORDS)
        records = MAX_RECORDS;
    char got[NAME_MAX_LEN + 2];
    size_t off = 12;
    for (unsigned i = 0; i < qd; i++) { // legacy unicast answers repeat the question
        long after = read_name(p, n, off, got, sizeof got);
        if (after < 0 || (size_t)after + 4 > n)
            return SW_EPROTO;
        off = (size_t)after + 4;
    }
    for (unsigned i = 0; i < records; i++) {
        long after = read_name(p, n, off, got, sizeof got);
        if (after < 0 || (size_t)after + 10 > n)
            return SW_EPROTO;
        const uint8_t *rr = p + after;
        uint16_t type = be16(rr), klass = be16(rr + 2) & 0x7fff, len = be16(rr + 8);
        off = (size_t)after + 10;
        if (off + len > n)
            return SW_EPROTO;
        if (type == 1 && klass == 1 && len == 4 && !strcasecmp(got, name)) {
            if (!inet_ntop(AF_INET, p + off, ip, (socklen_t)ipcap))
                return SW_EPROTO;
            return 0;
        }
        off += len;
    }
    return SW_ENOENT;
}

// The question: header (id, no flags, one question), the name as labels, type A, class IN.
static int build_query(uint8_t *q, size_t cap, const char *name, uint16_t id)
{
    size_t k = 12;
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8), q[1] = (uint8_t)id;
    q[5] = 1;
    for (const char *s = name; *s;) {
        size_t len = strcspn(s, ".");
        if (len == 0 || len > 63 || k + 1 + len + 5 > cap)
            return SW_EINVAL;
        q[k++] = (uint8_t)len;
        memcpy(q + k, s, len);
        k += len;
        s += len + (s[len] == '.');
    }
    q[k++] = 0;
    q[k++] = 0, q[k++] = 1; // A
    q[k++] = 0, q[k++] = 1; // IN
    return (int)k;
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
