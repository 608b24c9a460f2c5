// The test network guard (test builds only: SW_TEST_HOOKS): a node that runs in the machine's
// own network namespace, with SW_TEST_NET_GUARD=FILE in its environment, may open sockets on
// loopback addresses only and send only to loopback. Anything else (a bind to 0.0.0.0 or to a
// real interface's address, a datagram to a broadcast, multicast or remote address, joining a
// multicast group) is refused and reported: one line appended to FILE and one to stderr. The
// test runner (tests/e2e/run.py) sets FILE and fails the test when it is not empty, so a test
// node that would reach the machine's real network fails the suite instead of sending.
// A node inside another network namespace than the runner's (SW_TEST_NET_GUARD_NETNS: a lab
// namespace the test created) is not guarded: its traffic cannot leave the lab's own bridge.
#define _GNU_SOURCE
#include "posix_int.h"

#ifdef SW_TEST_HOOKS
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { UNKNOWN, OFF, ON };
static int guard_state = UNKNOWN;

// Whether this process runs in the network namespace the test runner named in
// SW_TEST_NET_GUARD_NETNS ("DEV:INO" of its /proc/self/ns/net), i.e. not in one the test made.
// Without that variable: guarded (the safe side).
static bool in_runner_netns(void)
{
    const char *want = getenv("SW_TEST_NET_GUARD_NETNS");
    struct stat self;
    if (!want || !*want || stat("/proc/self/ns/net", &self) != 0)
        return true;
    char have[64];
    snprintf(have, sizeof have, "%llu:%llu", (unsigned long long)self.st_dev,
             (unsigned long long)self.st_ino);
    return strcmp(have, want) == 0;
}

static const char *report_file(void)
{
    const char *f = getenv("SW_TEST_NET_GUARD");
    if (guard_state == UNKNOWN)
        guard_state = f && *f && in_runner_netns() ? ON : OFF;
    return guard_state == ON ? f : NULL;
}

static bool loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

static void describe(const struct sockaddr *sa, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, cap, "%s:%u", ip, port);
}

int sw__posix_net_guard(const char *what, const struct sockaddr *sa)
{
    const char *file = report_file();
    if (!file || (sa && loopback(sa)))
        return 0;
    char addr[80] = "-", line[256];
    if (sa)
        describe(sa, addr, sizeof addr);
    int n = snprintf(line, sizeof line,
                     "swarm-node[%ld]: net guard: refused %s %s: not loopback, and the node runs "
                     "in the machine's own network namespace\n",
                     (long)getpid(), what, addr);
    if (n < 0)
        return SW_EPERM;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    // O_APPEND: the lines of several nodes of one test never overwrite each other
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!write(fd, line, (size_t)n);
        close(fd);
    }
    (void)!write(2, line, (size_t)n);
    return SW_EPERM;
}
#else
typedef int sw__net_guard_unused; // ISO C wants something in a translation unit
#endif
