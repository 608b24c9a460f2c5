// RPC bench client: MoaT v0 ping round trips over TCP, built on the core's codec (requests
// written with sw_msg_*, the byte stream split with sw_mps_*, replies read with sw_msg_decode),
// so it is also a small C client of the protocol. Measures replies per second (wall time) and
// the latency of every request (CLOCK_MONOTONIC, send to decoded reply) for p50/p99.
//
//   1 client, window 1: blocking socket, send then read until the reply is complete — the
//     least work a client can do per round trip, so the server's share shows.
//   C clients, window W: one thread, epoll; each connection keeps W requests in flight and
//     answers every read's replies with as many new requests in one write.
//
// Every reply is checked: in order, "i" as sent, "d" = "R:x" (echo mode: our own request back).
// The link message a server sends first is awaited before timing starts.
//
// With -k KEYFILE every connection is a Noise NNpsk0 session with that 32-byte key, as the host
// speaks to a locked node (src/auth/seclink.c, the project's own code: built in by the run
// scripts with -lmbedcrypto): the handshake and the link message come before timing starts.
//
// Usage: rpc_client -p PORT [-H ADDR] [-c CLIENTS] [-w WINDOW] [-t SECONDS] [-W WARMUP_S] [-e]
//                   [-k KEYFILE] [-g]
// -g: once connected (and, with -k, past the handshake), print "ready" and wait for a byte on
// stdin before the warm-up starts: a runner that starts several clients lets them go together
// and can leave the connections' set-up out of the server's CPU time.
// Prints one line: "result rate R p50_us A p99_us B max_us C replies N all M client_cpu_s S"
// (replies: in the timed span; all: including the warm-up and the final drain).
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
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BENCH_PROG "rpc_client"
#include "../bench_client.h"
#include "swarm/msg.h"
#include "swarm/seclink.h"

#define MAX_CLIENTS 64
#define RING 128   // send times kept per connection (window ≤ SEQ_MAX)
#define SEQ_MAX 120 // seq runs 1..SEQ_MAX, so every request and reply has the same size

// Latency histogram: 100 ns steps up to 2 ms, then 10 µs steps up to 1 s.
#define FINE_N 20000
#define COARSE_N 100000
static uint64_t fine[FINE_N], coarse[COARSE_N], over;
static uint64_t lat_max, lat_n;

static void lat_add(uint64_t ns)
{
    if (ns < FINE_N * 100ull)
        fine[ns / 100]++;
    else if (ns < 2000000ull + COARSE_N * 10000ull)
        coarse[(ns - 2000000ull) / 10000]++;
    else
        over++;
    if (ns > lat_max)
        lat_max = ns;
    lat_n++;
}

// Upper edge of the bucket holding the q-quantile, in µs.
static double lat_q(double q)
{
    uint64_t want = (uint64_t)(q * (double)lat_n), seen = 0;
    for (size_t k = 0; k < FINE_N; k++)
        if ((seen += fine[k]) > want)
            return (double)(k + 1) * 0.1;
    for (size_t k = 0; k < COARSE_N; k++)
        if ((seen += coarse[k]) > want)
            return 2000.0 + (double)(k + 1) * 10.0;
    return (double)lat_max / 1000.0;
}

typedef struct {
    int fd;
    bool linked;               // the link message has arrived
    sw_seclink_t *sec;         // -k: the Noise session (NULL: plain)
    sw_mps_t split;
    uint8_t item[256];
    uint64_t sent, got;        // requests sent / replies received on this connection
    uint64_t sent_at[RING];    // send time of request k at [k % RING]
} client_t;

static client_t clients[MAX_CLIENTS];
static bool echo_mode;
static uint64_t bad;

static size_t put_request(uint8_t *buf, size_t cap, uint64_t k)
{
    sw_mpw_t w;
    sw_mpw_init(&w, buf, cap);
    int64_t seq = (int64_t)(k % SEQ_MAX) + 1;
    sw_msg_request_begin(&w, "ping", seq, 0);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "m");
    sw_mpw_cstr(&w, "x");
    sw_msg_request_end(&w, seq, 0);
    return w.err ? 0 : w.len;
}

// Checks one received item: 1 = the reply to request k, 0 = the link message (skipped),
// counts a mismatch in `bad` otherwise.
static int check_item(const uint8_t *p, size_t n, uint64_t k)
{
    sw_msg_t m;
    if (sw_msg_decode(&m, p, n) != 0) {
        bad++;
        return 1;
    }
    if (m.kind == SW_MSG_NOTIFY && m.path_len == 1 && sw_span_eq(m.path[0], "link"))
        return 0;
    int64_t seq = (int64_t)(k % SEQ_MAX) + 1;
    static const uint8_t rx[] = {0xa3, 'R', ':', 'x'};
    bool ok = (m.has & SW_MSG_HAS_I) && m.i == seq &&
              (echo_mode ? m.kind == SW_MSG_REQUEST && sw_span_eq(m.path[0], "ping")
                         : m.kind == SW_MSG_REPLY && m.d.n == sizeof rx &&
                               memcmp(m.d.p, rx, sizeof rx) == 0);
    if (!ok)
        bad++;
    return 1;
}

// What one read's replies do: the sequential client only counts them; the pipelined one also
// counts those of the timed span and their latency (t: the time of the read).
static struct {
    bool timed;
    uint64_t t, t1, t2, counted;
    unsigned replies;
} rx;

// Plain bytes from the server (decrypted with -k): split into items and checked.
static void on_plain(void *ctx, const uint8_t *p, size_t n)
{
    client_t *c = ctx;
    size_t at = 0;
    while (at < n) {
        size_t used;
        int rc = sw_mps_feed(&c->split, p + at, n - at, &used);
        at += used;
        if (rc < 0)
            bench_die("bad MsgPack from the server");
        if (rc != 1)
            continue;
        if (!check_item(c->split.buf, c->split.len, c->got)) {
            c->linked = true;
            continue;
        }
        if (rx.timed) {
            uint64_t st = c->sent_at[c->got % RING];
            if (rx.t >= rx.t1 && rx.t < rx.t2) {
                rx.counted++; // the rate: replies received in the timed span
                if (st >= rx.t1)
                    lat_add(rx.t - st);
            }
        }
        c->got++;
        rx.replies++;
    }
}

// Bytes as read from the socket.
static void on_read(client_t *c, const uint8_t *p, size_t n)
{
    if (!c->sec) {
        on_plain(c, p, n);
        return;
    }
    int rc = sw_seclink_input(c->sec, p, n);
    if (rc) {
        errno = 0;
        fprintf(stderr, "rpc_client: the Noise session failed: %s%s\n", sw_strerror(rc),
                c->sec->reject == SW_NOISE_REJECT_AUTH ? " (wrong key)" : "");
        exit(1);
    }
}

static void send_out(client_t *c, const uint8_t *p, size_t n)
{
    if (!c->sec)
        bench_send_all(c->fd, p, n);
    else if (sw_seclink_write(c->sec, p, n))
        bench_die("encrypting a request");
}

static int sec_send(void *ctx, const uint8_t *p, size_t n)
{
    bench_send_all(((client_t *)ctx)->fd, p, n);
    return 0;
}

// -k: the handshake, then the link message (blocking socket).
static void secure_connect(client_t *c, const uint8_t key[SW_NOISE_KEY])
{
    uint8_t seed[SW_NOISE_KEY], buf[4096];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        bench_die("getrandom");
    if (!(c->sec = calloc(1, sizeof *c->sec)))
        bench_die("calloc");
    sw_seclink_io_t io = {sec_send, on_plain, NULL, c};
    if (sw_seclink_start(c->sec, true, key, seed, &io))
        bench_die("starting the Noise session");
    while (!c->linked) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r <= 0)
            bench_die("handshake: the server closed (not locked, or wrong key?)");
        on_read(c, buf, (size_t)r);
    }
    if (rx.replies)
        bench_die("expected only the link message first");
}

// One client, one request at a time.
static uint64_t run_sequential(client_t *c, uint64_t t1, uint64_t t2)
{
    uint8_t req[64], buf[4096];
    uint64_t counted = 0;
    for (;;) {
        size_t n = put_request(req, sizeof req, c->sent);
        uint64_t ts = bench_now_ns();
        if (ts >= t2)
            break;
        send_out(c, req, n);
        c->sent++;
        rx.replies = 0;
        while (!rx.replies) {
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r <= 0)
                bench_die("recv");
            on_read(c, buf, (size_t)r);
        }
        uint64_t te = bench_now_ns();
        if (ts >= t1 && te < t2) {
            lat_add(te - ts);
            counted++;
        }
    }
    return counted;
}

// C clients, W requests in flight on each.
static uint64_t run_pipelined(int nc, unsigned window, uint64_t t1, uint64_t t2)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        bench_die("epoll_create1");
    static uint8_t out[RING * 64], buf[1 << 16];
    uint64_t t = bench_now_ns();
    for (int i = 0; i < nc; i++) {
        client_t *c = &clients[i];
        if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
            bench_die("fcntl");
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
            bench_die("epoll_ctl");
        size_t len = 0;
        for (unsigned k = 0; k < window; k++, c->sent++) {
            c->sent_at[c->sent % RING] = t;
            len += put_request(out + len, sizeof out - len, c->sent);
        }
        send_out(c, out, len);
    }
    bool stopping = false;
    uint64_t outstanding = (uint64_t)nc * window;
    struct epoll_event evs[MAX_CLIENTS];
    rx.timed = true;
    rx.t1 = t1;
    rx.t2 = t2;
    while (outstanding) {
        int n = epoll_wait(ep, evs, MAX_CLIENTS, 1000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            bench_die(n == 0 ? "no reply for 1 s" : "epoll_wait");
        t = bench_now_ns();
        if (t >= t2)
            stopping = true;
        for (int e = 0; e < n; e++) {
            client_t *c = &clients[evs[e].data.u32];
            ssize_t r = recv(c->fd, buf, sizeof buf, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0)
                bench_die("recv");
            rx.t = t;
            rx.replies = 0;
            on_read(c, buf, (size_t)r);
            unsigned replies = rx.replies;
            outstanding -= replies;
            if (stopping || !replies)
                continue;
            size_t len = 0;
            uint64_t ts = bench_now_ns();
            for (unsigned k = 0; k < replies; k++, c->sent++) {
                c->sent_at[c->sent % RING] = ts;
                len += put_request(out + len, sizeof out - len, c->sent);
            }
            outstanding += replies;
            send_out(c, out, len);
        }
    }
    close(ep);
    return rx.counted;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *keyfile = NULL;
    bool go = false;
    int port = 0, nc = 1;
    unsigned window = 1;
    double secs = 1.0, warm = 0.2;
    int o;
    while ((o = getopt(argc, argv, "p:H:c:w:t:W:ek:g")) != -1) {
        switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'H': addr = optarg; break;
        case 'c': nc = atoi(optarg); break;
        case 'w': window = (unsigned)atoi(optarg); break;
        case 't': secs = atof(optarg); break;
        case 'W': warm = atof(optarg); break;
        case 'e': echo_mode = true; break;
        case 'k': keyfile = optarg; break;
        case 'g': go = true; break;
        default:
            fprintf(stderr, "usage: rpc_client -p PORT [-H ADDR] [-c CLIENTS] [-w WINDOW] "
                            "[-t SECONDS] [-W WARMUP_S] [-e] [-k KEYFILE] [-g]\n");
            return 2;
        }
    }
    if (port <= 0 || nc < 1 || nc > MAX_CLIENTS || window < 1 || window > SEQ_MAX - 8 || secs <= 0) {
        fprintf(stderr, "rpc_client: bad arguments\n");
        return 2;
    }
    uint8_t key[SW_NOISE_KEY];
    if (keyfile) {
        FILE *f = fopen(keyfile, "rb");
        if (!f || fread(key, 1, sizeof key, f) != sizeof key || fgetc(f) != EOF)
            bench_die("-k: not a 32-byte key file");
        fclose(f);
    }
    for (int i = 0; i < nc; i++) {
        client_t *c = &clients[i];
        c->fd = bench_connect(addr, port, NULL);
        sw_mps_init(&c->split, c->item, sizeof c->item);
        if (keyfile)
            secure_connect(c, key);
        else if (!echo_mode)
            bench_await_link(c->fd, &c->split);
    }
    if (go) {
        char b;
        printf("ready\n");
        fflush(stdout);
        if (read(0, &b, 1) != 1)
            bench_die("-g: stdin closed before the go");
    }
    double cpu0 = bench_cpu_s();
    uint64_t t0 = bench_now_ns();
    uint64_t t1 = t0 + (uint64_t)(warm * 1e9), t2 = t1 + (uint64_t)(secs * 1e9);
    uint64_t counted = nc == 1 && window == 1 ? run_sequential(&clients[0], t1, t2)
                                              : run_pipelined(nc, window, t1, t2);
    double cpu = bench_cpu_s() - cpu0;
    for (int i = 0; i < nc; i++)
        close(clients[i].fd);
    if (bad) {
        fprintf(stderr, "rpc_client: %llu wrong replies\n", (unsigned long long)bad);
        return 1;
    }
    uint64_t all = 0;
    for (int i = 0; i < nc; i++)
        all += clients[i].got;
    printf("result rate %.0f p50_us %.1f p99_us %.1f max_us %.1f replies %llu all %llu "
           "client_cpu_s %.3f\n",
           (double)counted / secs, lat_q(0.50), lat_q(0.99), (double)lat_max / 1000.0,
           (unsigned long long)counted, (unsigned long long)all, cpu);
    return 0;
}
