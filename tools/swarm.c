// swarm: the host command-line tool. Parses the global options, then dispatches `swarm CMD …`
// to the subcommand in the table below (src/host/cli_*.c); `swarm help CMD` is `swarm CMD --help`.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "swarm/sw.h"

// One line per command, in the order `swarm --help` lists them. Commands of later issues
// (fs, mux, console, scan, push, sim, provision) are added here by their authors.
static const sw_cli_cmd_t commands[] = {
    {"call", "call a command on a device and print the reply (--every: a stream of values)", sw_cli_call},
    {"cfg", "read and change a device's config: get [PATH], set PATH VALUE, del PATH, apply", sw_cli_cfg},
    {"console", "show a device's console output (serial) or its log, live", sw_cli_console},
    {"eval", "run Lua code on a device and print the result", sw_cli_eval},
    {"fs", "files on a device: ls, get, put, rm, mkdir, rmdir, mv, stat, hash (-r: trees)", sw_cli_fs},
    {"mux", "share one device link among many clients on a Unix socket", sw_cli_mux},
    {"provision", "give a fresh device its identity and app folder over any link, then reboot it", sw_cli_provision},
    {"push", "deploy a project's apps to the fleet: incremental, parallel, atomic, hot reload", sw_cli_push},
    {"scan", "list the devices on the LAN (beacons and a query; well under a second)", sw_cli_scan},
    {"sim", "a simulated fleet on this machine: a LAN of N nodes (namespaces as root)", sw_cli_sim},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: swarm [options] COMMAND [args]\n"
            "\n"
            "Talks to swarm devices (swarm-node) over TCP, serial lines or a multiplexer.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "  %-10s %s\n"
            "\n"
            "options (also accepted after COMMAND):\n"
            "  --json         machine-readable output: one JSON value per line on stdout\n"
            "  -q, --quiet    no progress bars or informational lines\n"
            "  -v, --verbose  more detail on stderr, including the device's console output\n"
            "                 (repeatable)\n"
            "  --timeout S    seconds to wait for each answer (and for the link); default 10,\n"
            "                 0 = no limit\n"
            "  -h, --help     this text; 'swarm COMMAND --help' for a command\n"
            "  -V, --version  print the version\n"
            "\n"
            "LINK (the device a command talks to):\n"
            "  tcp://HOST[:PORT]    swarm-node over TCP (port 27587 by default)\n"
            "  HOST[:PORT]          the same; HOST is looked up in the scan cache (swarm scan),\n"
            "                       then as HOST.local (mDNS), then in DNS\n"
            "  unix:///PATH         a multiplexer's socket (swarm mux)\n"
            "  serial:///DEV?baud=115200&mode=lossless|lossy&start=0xc1|0x85|none\n"
            "                       a serial line (lossy: SerialPacker frames + Reliable;\n"
            "                       lossy also takes &window=N&timeout=MS&max_msg=BYTES)\n"
            "\n"
            "exit status: 0 ok, 1 the device answered with an error, 2 usage error, 3 link\n"
            "failure, 4 timeout, 5 partly failed (several devices), 6 local problem, 130 Ctrl-C\n"
            "\n"
            "examples:\n"
            "  swarm scan\n"
            "  swarm call localhost sys.info\n"
            "  swarm cfg tcp://192.168.1.20 get wdt\n"
            "  swarm eval serial:///dev/ttyUSB0?baud=921600 'collectgarbage(\"count\")'\n"
            "\n"
            "See swarm(1) for the details.\n",
            "help", "show the help of a command: swarm help COMMAND");
}

static const sw_cli_cmd_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

// Edit distance, for "did you mean" (names are short).
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 31 || lb > 31)
        return 99;
    size_t d[32][32];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

static int unknown(const sw_cli_t *cli, const char *name)
{
    sw_cli_error(cli, NULL, "unknown command '%s'", name);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (distance(name, commands[i].name) <= 2 ||
            !strncmp(name, commands[i].name, strlen(name))) {
            fprintf(stderr, "did you mean '%s'?\n", commands[i].name);
            break;
        }
    fprintf(stderr, "see 'swarm --help'\n");
    return SW_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    sw_cli_t cli = {
        .timeout_ms = 10000,
        .tty_out = isatty(1) == 1,
        .tty_err = isatty(2) == 1,
        .prog = "swarm",
    };
    signal(SIGPIPE, SIG_IGN); // a closed stdout or link is an error we report, not a death

    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!sw__cli_is_opt(a))
            break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return SW_EXIT_OK;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("swarm %s\n", SW_VERSION_STRING);
            return SW_EXIT_OK;
        }
        int r = sw__cli_global(&cli, NULL, argc, argv, &i);
        if (r < 0)
            return SW_EXIT_USAGE;
        if (r == 0)
            return sw__cli_usage(&cli, NULL, "unknown option '%s'", a);
    }
    if (i >= argc) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    const char *name = argv[i];
    if (!strcmp(name, "version")) {
        printf("swarm %s\n", SW_VERSION_STRING);
        return SW_EXIT_OK;
    }
    if (!strcmp(name, "help")) {
        if (i + 1 >= argc) {
            usage(stdout);
            return SW_EXIT_OK;
        }
        const sw_cli_cmd_t *c = find(argv[i + 1]);
        if (!c)
            return unknown(&cli, argv[i + 1]);
        char *hargv[] = {(char *)c->name, (char *)"--help", NULL};
        return c->fn(&cli, 2, hargv);
    }
    const sw_cli_cmd_t *c = find(name);
    if (!c)
        return unknown(&cli, name);
    return c->fn(&cli, argc - i, argv + i);
}
