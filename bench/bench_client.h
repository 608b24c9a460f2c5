// Pieces the C bench clients share (bench/rpc/rpc_client.c, bench/mux/mux_client.c): clocks,
// fatal errors, connecting, blocking sends and waiting for the server's link message. Header
// only, so each client stays one compiler call in its run script. Define BENCH_PROG (the
// program's name, for messages) before including it.
#ifndef SW_BENCH_CLIENT_H
#define SW_BENCH_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "swarm/msg.h"

// CLOCK_MONOTONIC in ns.
static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// This process's CPU time (user + system) in s.
static inline double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static inline void bench_die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", BENCH_PROG, what, errno ? strerror(errno) : "failed");
    exit(1);
}

// Sends all n bytes. On a non-blocking socket it waits out EAGAIN in 10 µs naps: the clients'
// windows bound what is outstanding, so this is rare and short.
static inline void bench_send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct timespec ts = {0, 10000};
                nanosleep(&ts, NULL);
                continue;
            }
            bench_die("send");
        }
        p += w;
        n -= (size_t)w;
    }
}

// A blocking connection to the Unix socket path, or (path NULL) to addr:port over TCP with
// TCP_NODELAY. Dies on failure.
static inline int bench_connect(const char *addr, int port, const char *path)
{
    int fd;
    if (path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof a.sun_path)
            bench_die("socket path too long");
        memcpy(a.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            bench_die("connect");
        return fd;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &a.sin_addr) != 1)
        bench_die("address");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        bench_die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// True if the item p[0..n) is the link message a server sends first ({"d": true, "a": "link"}).
static inline bool bench_is_link(const uint8_t *p, size_t n)
{
    sw_msg_t m;
    return sw_msg_decode(&m, p, n) == 0 && m.kind == SW_MSG_NOTIFY && m.path_len == 1 &&
           sw_span_eq(m.path[0], "link");
}

// Reads (blocking socket fd) until the server's first item has arrived in split; dies unless
// it is the link message and nothing came after it.
static inline void bench_await_link(int fd, sw_mps_t *split)
{
    uint8_t buf[256];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            bench_die("waiting for the link message");
        size_t at = 0;
        while (at < (size_t)r) {
            size_t used;
            int rc = sw_mps_feed(split, buf + at, (size_t)r - at, &used);
            at += used;
            if (rc < 0)
                bench_die("link message: bad MsgPack");
            if (rc == 1) {
                if (!bench_is_link(split->buf, split->len) || at != (size_t)r)
                    bench_die("expected only the link message {\"d\": true, \"a\": \"link\"} first");
                return;
            }
        }
    }
}

#endif
