// `swarm mux`: runs the multiplexer (mux.h) in the foreground until SIGINT or SIGTERM, which
// stop it in order (clients disconnected, their streams cancelled, the socket removed).
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "mux.h"

static const char mux_usage[] = "usage: swarm mux [options] --link LINK --socket PATH\n";

static const char mux_about[] =
    "Owns the one link to a device and shares it: any number of clients (every swarm command,\n"
    "given unix://PATH as its LINK) connect to the Unix socket PATH and talk to the device as\n"
    "if directly. Each client's requests are sent on under the mux's own sequence numbers and\n"
    "the answers come back under the client's, so replies never cross. Clients hear\n"
    "{\"d\": true|false, \"a\": \"link\"} when the device link comes up or goes down (and the\n"
    "current state when they connect); calls in flight when it goes down fail with\n"
    "\"ECLOSED: device link lost\"; the mux reconnects with back-off and clients stay connected.\n"
    "The device's console output (serial links) is kept for 'swarm console unix://PATH'.\n"
    "Runs in the foreground and logs to stderr; SIGINT or SIGTERM stop it.\n";

static const char mux_after[] =
    "answered by the mux itself: mplex.info, mplex.boot (reboot the device and answer when it\n"
    "is back), mplex.console (console bytes from position p); local.* → NoPath\n"
    "exit status: 0 stopped by a signal, 2 usage (also a bad LINK), 6 the socket cannot be served\n"
    "\n"
    "examples:\n"
    "  swarm mux --link serial:///dev/ttyUSB0 --socket /run/user/1000/kitchen.sock --wdt 10s &\n"
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

int sw_cli_mux(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    sw_mux_opts_t o;
    sw_mux_opts_default(&o);
    uint64_t wdt_ms = 0;
    const sw_opt_t opts[] = {
        SW_OPT_STR_("link", NULL, "LINK", &o.link,
                    "the device: tcp://HOST[:PORT], serial:///DEV?baud=N&mode=lossy, ..."),
        SW_OPT_STR_("socket", NULL, "PATH",
                    &o.socket, "the Unix socket to serve (a stale one nobody serves is replaced)"),
        {.kind = SW_OPT_DURATION, .name = "wdt", .arg = "TIME", .dst = &wdt_ms,
         .size = sizeof wdt_ms, .min = 1000, .max = 3600000, .expect = "whole seconds, 1s to 1h",
         .help = "start the device's watchdog with TIME (whole seconds) on every link up and "
                 "feed it every TIME/2 (the device resets 1.5 TIME after the last feed)"},
        {.kind = SW_OPT_DURATION, .name = "backoff", .arg = "TIME", .dst = &o.backoff_ms,
         .size = sizeof o.backoff_ms, .min = 10, .max = 3600000, .def = "1s",
         .flags = SW_OPT_F_LEGACY_MS,
         .help = "first reconnect delay after a loss (x1.4 per try)"},
        {.kind = SW_OPT_DURATION, .name = "backoff-max", .arg = "TIME", .dst = &o.backoff_max_ms,
         .size = sizeof o.backoff_max_ms, .min = 10, .max = 3600000, .def = "20s",
         .flags = SW_OPT_F_LEGACY_MS, .help = "longest reconnect delay"},
        SW_OPT_UINT_("max-clients", NULL, "N", &o.max_clients, 1, 65535, "256",
                     "clients at once"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    sw_cli_spec_t spec = {.cmd = "mux", .usage = mux_usage, .about = mux_about, .opts = opts,
                          .globals = "-v also logs clients connecting and leaving",
                          .after = mux_after, .too_many = "the device is given with --link"};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    if (wdt_ms % 1000)
        return sw__cli_usage(&c, "mux", "bad --wdt (whole seconds, 1s to 1h)");
    o.wdt_s = (uint32_t)(wdt_ms / 1000);
    if (!o.link)
        return sw__cli_usage(&c, "mux", "missing --link LINK (the device)");
    if (!o.socket)
        return sw__cli_usage(&c, "mux", "missing --socket PATH (where clients connect)");
    if (o.backoff_max_ms < o.backoff_ms)
        o.backoff_max_ms = o.backoff_ms;
    o.verbose = c.verbose;

    uv_loop_t loop;
    uv_loop_init(&loop);
    mux_run_t run;
    memset(&run, 0, sizeof run);
    char err[400];
    rc = sw_mux_open(&loop, &o, &run.m, err, sizeof err);
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
