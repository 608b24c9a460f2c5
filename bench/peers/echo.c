// Plain TCP echo server: the kernel's limit for the RPC bench. Every byte a client sends comes
// straight back; one thread, epoll, non-blocking sockets, TCP_NODELAY like the node. It does
// nothing a protocol server must (no framing, no decoding), so no server of the protocol can
// beat it on the same loopback.
//
// Usage: echo PORT [ADDR]      (ADDR default 127.0.0.1; runs until killed)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXFD 1024

// Bytes read but not yet written back (the peer stopped reading for a while).
typedef struct {
    char *p;
    size_t len, cap;
} pend_t;

static pend_t pend[MAXFD];
static char buf[1 << 16];

static void drop(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    pend[fd].len = 0;
}

// Writes what is pending; returns false if the connection broke.
static int flush(int ep, int fd)
{
    pend_t *q = &pend[fd];
    size_t at = 0;
    while (at < q->len) {
        ssize_t w = write(fd, q->p + at, q->len - at);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return 0;
            break;
        }
        at += (size_t)w;
    }
    memmove(q->p, q->p + at, q->len - at);
    q->len -= at;
    struct epoll_event ev = {.events = EPOLLIN | (q->len ? EPOLLOUT : 0), .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    return 1;
}

static int queue(int fd, const char *p, size_t n)
{
    pend_t *q = &pend[fd];
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 4096;
        while (cap < q->len + n)
            cap *= 2;
        char *r = realloc(q->p, cap);
        if (!r)
            return 0;
        q->p = r;
        q->cap = cap;
    }
    memcpy(q->p + q->len, p, n);
    q->len += n;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: echo PORT [ADDR]\n");
        return 2;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &a.sin_addr) != 1) {
        fprintf(stderr, "echo: bad address\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 128) < 0) {
        perror("echo: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno != EINTR) {
            perror("echo: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            int fd = evs[k].data.fd;
            if (fd == ls) {
                int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0)
                    continue;
                if (c >= MAXFD) {
                    close(c);
                    continue;
                }
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                continue;
            }
            if ((evs[k].events & EPOLLOUT) && !flush(ep, fd)) {
                drop(ep, fd);
                continue;
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                drop(ep, fd);
                continue;
            }
            if (r < 0)
                continue;
            if (pend[fd].len) { // still behind: keep the order
                if (!queue(fd, buf, (size_t)r) || !flush(ep, fd))
                    drop(ep, fd);
                continue;
            }
            ssize_t w = write(fd, buf, (size_t)r);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                drop(ep, fd);
                continue;
            }
            if (w < 0)
                w = 0;
            if (w < r && (!queue(fd, buf + w, (size_t)(r - w)) || !flush(ep, fd)))
                drop(ep, fd);
        }
    }
}
