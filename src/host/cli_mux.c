// `swarm mux`: runs the multiplexer (mux.h) in the foreground until SIGINT or SIGTERM, which
// stop it in order (clients disconnected, their streams cancelled, the socket removed).
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_int.h"
#include "mux.h"

static const char mux_help[] =
    "usage: swarm mux [options] --link LINK --socket PATH\n"
    "\n"
    "Owns the one link to a device and shares it: any number of clients (every swarm command,\n"
    "given unix://PATH as its LINK) connect to the Unix socket PATH and talk to the device as\n"
    "if directly. Each client's requests are sent on under the mux's own sequence numbers and\n"
    "the answers come back under the client's, so replies never cross. Clients hear\n"
    "{\"d\": true|false, \"a\": \"link\"} when the device link comes up or goes down (and the\n"
    "current state when they connect); calls in flight when it goes down fail with\n"
    "\"ECLOSED: device link lost\"; the mux reconnects with back-off and clients stay connected.\n"
    "The device's console output (serial links) is kept for 'swarm console unix://PATH'.\n"
    "Runs in the foreground and logs to stderr; SIGINT or SIGTERM stop it.\n"
    "\n"
    "options:\n"
    "  --link LINK        the device: tcp://HOST[:PORT], serial:///DEV?baud=N&mode=lossy, …\n"
    "  --socket PATH      the Unix socket to serve (a stale one nobody serves is replaced)\n"
    "  --wdt T            start the device's watchdog with T seconds on every link up and feed\n"
    "                     it every T/2 seconds (the device resets 1.5 T after the last feed)\n"
    "  --backoff MS       first reconnect delay after a loss (default 1000; ×1.4 per try)\n"
    "  --backoff-max MS   longest reconnect delay (default 20000)\n"
    "  --max-clients N    clients at once (default 256)\n"
    "  -v                 also log clients connecting and leaving\n"
    "\n"
    "answered by the mux itself: mplex.info, mplex.boot (reboot the device and answer when it\n"
    "is back), mplex.console (console bytes from position p); local.* → NoPath\n"
    "exit status: 0 stopped by a signal, 2 usage (also a bad LINK), 6 the socket cannot be served\n"
    "\n"
    "examples:\n"
    "  swarm mux --link serial:///dev/ttyUSB0 --socket /run/user/1000/kitchen.sock --wdt 10 &\n"
    "  swarm call unix:///run/user/1000/kitchen.sock sys.info\n"
    "  swarm console unix:///run/user/1000/kitchen.sock\n";

typedef struct mux_run {
    sw_mux_t *m;
    uv_signal_t sigint, sigterm;
    int signals;
} mux_run_t;

static void on_signal(uv_signal_t *h, int signum)
{
    mux_run_t *r = h->data;
    if (r->signals++ == 0) {
        fprintf(stderr, "swarm mux: %s: stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
        sw_mux_close(r->m);
        uv_close((uv_handle_t *)&r->sigint, NULL);
        uv_close((uv_handle_t *)&r->sigterm, NULL);
    }
}

static bool ms_opt(const sw_cli_t *c, const char *name, const char *v, uint64_t min,
                   uint64_t max, uint32_t *out)
{
    uint64_t x;
    if (!sw__cli_uint(v, min, max, &x)) {
        sw__cli_usage(c, "mux", "bad %s '%s' (%llu to %llu)", name, v, (unsigned long long)min,
                      (unsigned long long)max);
        return false;
    }
    *out = (uint32_t)x;
    return true;
}

int sw_cli_mux(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    sw_mux_opts_t o;
    sw_mux_opts_default(&o);
    uint32_t clients = o.max_clients;
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!sw__cli_is_opt(a))
            return sw__cli_usage(&c, "mux", "unexpected argument '%s' (the device is given "
                                            "with --link)", a);
        int r = sw__cli_global(&c, "mux", argc, argv, &i);
        if (r < 0)
            return SW_EXIT_USAGE;
        if (r)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(mux_help, stdout);
            return SW_EXIT_OK;
        }
        static const char *const names[] = {"--link", "--socket", "--wdt", "--backoff",
                                            "--backoff-max", "--max-clients"};
        int which = -1;
        for (int k = 0; k < 6 && which < 0; k++) {
            r = sw__cli_optval(&c, "mux", argc, argv, &i, names[k], &v);
            if (r < 0)
                return SW_EXIT_USAGE;
            if (r)
                which = k;
        }
        bool ok = true;
        switch (which) {
        case 0: o.link = v; break;
        case 1: o.socket = v; break;
        case 2: ok = ms_opt(&c, "--wdt", v, 1, 3600, &o.wdt_s); break;
        case 3: ok = ms_opt(&c, "--backoff", v, 10, 3600000, &o.backoff_ms); break;
        case 4: ok = ms_opt(&c, "--backoff-max", v, 10, 3600000, &o.backoff_max_ms); break;
        case 5: ok = ms_opt(&c, "--max-clients", v, 1, 65535, &clients); break;
        default: return sw__cli_usage(&c, "mux", "unknown option '%s'", a);
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!o.link)
        return sw__cli_usage(&c, "mux", "missing --link LINK (the device)");
    if (!o.socket)
        return sw__cli_usage(&c, "mux", "missing --socket PATH (where clients connect)");
    if (o.backoff_max_ms < o.backoff_ms)
        o.backoff_max_ms = o.backoff_ms;
    o.max_clients = (uint16_t)clients;
    o.verbose = c.verbose;

    uv_loop_t loop;
    uv_loop_init(&loop);
    mux_run_t run;
    memset(&run, 0, sizeof run);
    char err[400];
    int rc = sw_mux_open(&loop, &o, &run.m, err, sizeof err);
    if (rc) {
        uv_run(&loop, UV_RUN_DEFAULT); // lets what was opened close
        uv_loop_close(&loop);
        if (rc == SW_EINVAL)
            return sw__cli_usage(&c, "mux", "%s", err);
        sw_cli_error(&c, "mux", "%s", err);
        if (rc == SW_EBUSY)
            sw__cli_hint(&c, "stop the other mux first, or choose another --socket");
        return SW_EXIT_LOCAL;
    }
    uv_signal_init(&loop, &run.sigint);
    uv_signal_init(&loop, &run.sigterm);
    run.sigint.data = run.sigterm.data = &run;
    uv_signal_start(&run.sigint, on_signal, SIGINT);
    uv_signal_start(&run.sigterm, on_signal, SIGTERM);
    uv_run(&loop, UV_RUN_DEFAULT); // until a signal closes everything
    uv_loop_close(&loop);
    return SW_EXIT_OK;
}
