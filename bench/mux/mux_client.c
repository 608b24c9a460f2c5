// Mux bench client: C connections (to a TCP port — the node directly — or to a mux's Unix
// socket) share a fixed number of MoaT v0 ping calls; each keeps W requests in flight (W = 1:
// one call after the other). Every call carries a unique m ("c7-n512"); every reply is checked
// against the request with its seq (the right connection, the right "R:c7-n512"), so a reply
// that crossed over to another client or got lost is counted, not just timed.
//
// Usage: mux_client (-p PORT [-H ADDR] | -u PATH) [-c CLIENTS] [-w WINDOW] [-n CALLS]
// Prints one line: "result rate R secs S calls N mismatched M lost L client_cpu_s X"
// (rate: calls per second of wall time from the first request to the last reply).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "mux_client"
#include "../bench_client.h"
#include "swarm/msg.h"

#define MAX_CLIENTS 256
#define RING 1024 // calls remembered per connection (by seq); window ≤ RING

typedef struct {
    int fd, id;
    sw_mps_t split;
    uint8_t item[512];
    uint64_t quota;             // calls this connection makes
    uint64_t sent, done;
    uint64_t call_of[RING];     // seq % RING → call number + 1 (0: none outstanding)
} client_t;

static client_t clients[MAX_CLIENTS];
static uint64_t mismatched;

static size_t put_request(client_t *c, uint8_t *buf, size_t cap)
{
    uint64_t k = c->sent++;
    int64_t seq = (int64_t)k + 1;
    char m[48];
    int mn = snprintf(m, sizeof m, "c%d-n%llu", c->id, (unsigned long long)k);
    c->call_of[seq % RING] = k + 1;
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    sw_msg_request_begin(&w, "ping", seq, 0);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "m");
    sw_mpw_str(&w, m, (size_t)mn);
    sw_msg_request_end(&w, seq, 0);
    return w.err ? 0 : w.len;
}

// One received item: 1 = a reply (checked), 0 = the link message.
static int check_item(client_t *c, const uint8_t *p, size_t n)
{
    sw_msg_t msg;
    if (sw_msg_decode(&msg, p, n) != 0) {
        mismatched++;
        return 1;
    }
    if (msg.kind == SW_MSG_NOTIFY && msg.path_len == 1 && sw_span_eq(msg.path[0], "link"))
        return 0;
    if (msg.kind != SW_MSG_REPLY || msg.i <= 0) {
        mismatched++;
        return 1;
    }
    uint64_t k1 = c->call_of[msg.i % RING];
    char want[64];
    int wn = snprintf(want, sizeof want, "\xa0R:c%d-n%llu", c->id, (unsigned long long)(k1 - 1));
    want[0] = (char)(0xa0 | (wn - 1)); // fixstr header: every reply fits 31 bytes
    if (!k1 || (uint64_t)msg.i != k1 || msg.d.n != (size_t)wn || memcmp(msg.d.p, want, (size_t)wn))
        mismatched++;
    c->call_of[msg.i % RING] = 0;
    return 1;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *path = NULL;
    int port = 0, nc = 1;
    unsigned window = 1;
    uint64_t calls = 100000;
    int o;
    while ((o = getopt(argc, argv, "p:H:u:c:w:n:")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'H': addr = optarg; break;
        case 'u': path = optarg; break;
        case 'c': nc = atoi(optarg); break;
        case 'w': window = (unsigned)atoi(optarg); break;
        case 'n': calls = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: mux_client (-p PORT [-H ADDR] | -u PATH) [-c CLIENTS] "
                            "[-w WINDOW] [-n CALLS]\n");
            return 2;
        }
    }
    if ((port <= 0 && !path) || nc < 1 || nc > MAX_CLIENTS || window < 1 || window > RING / 2 ||
        calls < (uint64_t)nc) {
        fprintf(stderr, "mux_client: bad arguments\n");
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        bench_die("epoll_create1");
    for (int i = 0; i < nc; i++) {
        client_t *c = &clients[i];
        c->id = i;
        c->fd = bench_connect(addr, port, path);
        c->quota = calls / (uint64_t)nc + ((uint64_t)i < calls % (uint64_t)nc);
        sw_mps_init(&c->split, c->item, sizeof c->item);
        bench_await_link(c->fd, &c->split);
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
            bench_die("fcntl");
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            bench_die("epoll_ctl");
    }
    static uint8_t out[RING * 64], buf[1 << 16];
    double cpu0 = bench_cpu_s();
    uint64_t t0 = bench_now_ns(), outstanding = 0, finished = 0;
    for (int i = 0; i < nc; i++) {
        client_t *c = &clients[i];
        size_t len = 0;
        while (c->sent < c->quota && c->sent < window)
            len += put_request(c, out + len, sizeof out - len);
        outstanding += c->sent;
        bench_send_all(c->fd, out, len);
    }
    struct epoll_event evs[64];
    while (outstanding) {
        int n = epoll_wait(ep, evs, 64, 5000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break; // the rest is lost
        if (n < 0)
            bench_die("epoll_wait");
        for (int e = 0; e < n; e++) {
            client_t *c = &clients[evs[e].data.u32];
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                bench_die("recv");
            unsigned replies = 0;
            size_t at = 0;
            while (at < (size_t)r) {
                size_t used;
                int rc = sw_mps_feed(&c->split, buf + at, (size_t)r - at, &used);
                at += used;
                if (rc < 0)
                    bench_die("bad MsgPack");
                if (rc == 1 && check_item(c, c->split.buf, c->split.len))
                    replies++;
            }
            c->done += replies;
            outstanding -= replies;
            finished += replies;
            size_t len = 0;
            for (unsigned k = 0; k < replies && c->sent < c->quota; k++, outstanding++)
                len += put_request(c, out + len, sizeof out - len);
            if (len)
                bench_send_all(c->fd, out, len);
        }
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    double cpu = bench_cpu_s() - cpu0;
    for (int i = 0; i < nc; i++)
        close(clients[i].fd);
    printf("result rate %.0f secs %.3f calls %llu mismatched %llu lost %llu client_cpu_s %.3f\n",
           (double)finished / secs, secs, (unsigned long long)finished,
           (unsigned long long)mismatched, (unsigned long long)(calls - finished), cpu);
    return mismatched || finished != calls ? 1 : 0;
}
