// swarm: the host command-line tool. Parses the global options, then dispatches `swarm CMD …`
// to the subcommand in the table below (src/host/cli_*.c); `swarm help CMD` is `swarm CMD --help`.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "scan.h"
#include "user_config.h"
#include "swarm/sw.h"

// One line per command, in the order `swarm --help` lists them. Commands of later issues
// (fs, mux, console, scan, push, sim, provision) are added here by their authors.
static int cmd_help(const sw_cli_t *cli, int argc, char **argv);

static const sw_cli_cmd_t commands[] = {
    {"call", "call a command on a device and print the reply (--every: a stream of values)", sw_cli_call},
    {"cfg", "read and change a device's config: get [PATH], set PATH VALUE, del PATH, apply", sw_cli_cfg},
    {"console", "show a device's console output (serial) or its log, live", sw_cli_console},
    {"dashboard", "the fleet in a browser: live table, node pages, plots, pushes (web server)", sw_cli_dashboard},
    {"eval", "run Lua code on a device and print what it printed and its result", sw_cli_eval},
    {"fleet", "one command (call, cfg, eval, fs, reboot) on many devices at once: --to, --app, --all", sw_cli_fleet},
    {"fs", "files on a device: ls, cat, get, put, cp, sync, rm, mkdir, mv, stat, hash (-r: trees)", sw_cli_fs},
    {"key", "the fleet key of the authenticated mode: new, path, install LINK", sw_cli_key},
    {"logs", "follow several devices' logs at once, each line prefixed by its name", sw_cli_logs},
    {"mux", "share one device link among many clients on a Unix socket", sw_cli_mux},
    {"provision", "give a fresh device its identity and app folder over any link, then reboot it", sw_cli_provision},
    {"push", "deploy a project's apps to the fleet: incremental, parallel, atomic, hot reload", sw_cli_push},
    {"reboot", "restart devices (sys.boot), several at once", sw_cli_reboot},
    {"repl", "an interactive Lua prompt on a device (line editing, history, print output)", sw_cli_repl},
    {"scan", "list the devices on the LAN (well under a second) or an MQTT broker (--broker)", sw_cli_scan},
    {"sim", "a simulated fleet on this machine: a LAN of N nodes (namespaces as root)", sw_cli_sim},
    {"help", "show the help of a command: swarm help COMMAND", cmd_help},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char top_usage[] = "usage: swarm [options] COMMAND [args]\n";

static const char top_after[] =
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
    "See swarm(1) for the details.\n";

static const char help_usage[] = "usage: swarm help [COMMAND [SUBCOMMAND]]\n";
static const char help_about[] =
    "Shows the help of COMMAND, the same text as 'swarm COMMAND --help' (with SUBCOMMAND:\n"
    "'swarm COMMAND SUBCOMMAND --help', e.g. swarm help fs put); without COMMAND, the list\n"
    "of commands and the global options ('swarm --help').\n";
static const char help_after[] =
    "examples:\n"
    "  swarm help call\n"
    "  swarm help fs get\n";

static const sw_cli_cmd_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int unknown(const sw_cli_t *cli, const char *name)
{
    sw_cli_error(cli, NULL, "unknown command '%s'", name);
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    const char *s = sw__cli_suggest(name, names, NCOMMANDS);
    if (s)
        fprintf(stderr, "did you mean '%s'?\n", s);
    fprintf(stderr, "see 'swarm --help'\n");
    return SW_EXIT_USAGE;
}

// The options of swarm itself: the global ones (also accepted after COMMAND), -h and -V.
#define NTOP (SW_CLI_NGLOBAL + 3)
static void top_opts(sw_cli_t *c, bool *version, sw_opt_t out[NTOP])
{
    out[0] = (sw_opt_t)SW_OPT_SECTION_("options (also accepted after COMMAND):");
    sw__cli_globals(c, out + 1); // (its END row is replaced next)
    out[SW_CLI_NGLOBAL] = (sw_opt_t){.kind = SW_OPT_HELP, .name = "help", .shorts = "h",
                                     .help = "this text; 'swarm COMMAND --help' for a command"};
    out[SW_CLI_NGLOBAL + 1] = (sw_opt_t)SW_OPT_FLAG_("version", "V", version, "print the version");
    out[SW_CLI_NGLOBAL + 2] = (sw_opt_t)SW_OPT_END_;
}

// `swarm --help`: the command list (from the table above) and the options.
static void usage(FILE *f)
{
    char about[4096];
    size_t k = (size_t)snprintf(about, sizeof about, "Talks to swarm devices (swarm-node) over "
                                "TCP, serial lines, a multiplexer or an MQTT broker.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS && k < sizeof about; i++)
        k += (size_t)snprintf(about + k, sizeof about - k, "  %-10s %s\n", commands[i].name,
                              commands[i].summary);
    bool version;
    sw_opt_t opts[NTOP];
    top_opts(&(sw_cli_t){0}, &version, opts);
    sw_cli_spec_t spec = {.usage = top_usage, .about = about, .opts = opts,
                          .after = top_after, .no_globals = true};
    sw__cli_help(&spec, f);
}

// `swarm help [COMMAND [SUBCOMMAND]]`
static int cmd_help(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    static const char *const pos[] = {"[COMMAND]", "ARGS...", NULL};
    const sw_opt_t opts[] = {SW_OPT_HELP_, SW_OPT_END_};
    sw_cli_spec_t spec = {.cmd = "help", .usage = help_usage, .about = help_about,
                          .opts = opts, .after = help_after, .pos = pos};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    if (spec.narg == 0) {
        usage(stdout);
        return SW_EXIT_OK;
    }
    if (!strcmp(spec.arg[0], "help")) {
        sw__cli_help(&spec, stdout);
        return SW_EXIT_OK;
    }
    const sw_cli_cmd_t *cmd = find(spec.arg[0]);
    if (!cmd)
        return unknown(&c, spec.arg[0]);
    // COMMAND [SUBCOMMAND] --help (fs shows the help of one of its commands)
    char *hargv[4] = {(char *)cmd->name, NULL, NULL, NULL};
    int n = 1;
    if (spec.narg > 1)
        hargv[n++] = spec.arg[1];
    hargv[n++] = (char *)"--help";
    return cmd->fn(&c, n, hargv);
}

static const char *const top_pos[] = {"[COMMAND]", "ARGS...", NULL};

// `swarm __complete WHAT`: words for the shell completions, one per line. words -- WORD...:
// the candidates for the last WORD of a command line (cli_complete.c; what the scripts in
// tools/completion/ use). commands: the command names; devices: the names of the user's
// config ([devices]) and of the scan cache; groups: the config's groups; paths LINK: the
// device's command paths (_dir, asked with a short timeout; the only one that touches the
// network).
static int complete(sw_cli_t *cli, const char *what, const char *link, int nw, char **w)
{
    if (!strcmp(what, "words")) {
        if (nw && !strcmp(w[0], "--"))
            nw--, w++;
        bool version;
        sw_opt_t opts[NTOP];
        sw_cli_t c = *cli;
        top_opts(&c, &version, opts);
        sw_cli_spec_t spec = {.usage = top_usage, .opts = opts, .pos = top_pos, .own_help = true,
                              .stop_at_pos = true, .no_globals = true};
        return sw__cli_complete(cli, commands, NCOMMANDS, &spec, nw, w);
    }
    if (!strcmp(what, "paths") && link) {
        cli->quiet = true;
        if (!cli->timeout_ms || cli->timeout_ms > 2000)
            cli->timeout_ms = 2000;
        int saved = dup(2), nul = open("/dev/null", O_WRONLY); // no error text in the prompt
        if (nul >= 0)
            dup2(nul, 2);
        int rc = sw__cli_dir_paths(cli, link);
        if (saved >= 0)
            dup2(saved, 2);
        return rc;
    }
    if (!strcmp(what, "commands")) {
        for (size_t i = 0; i < NCOMMANDS; i++)
            printf("%s\n", commands[i].name);
        return SW_EXIT_OK;
    }
    char **names;
    size_t n;
    if (!strcmp(what, "devices") || !strcmp(what, "groups")) {
        sw_config_names(what, &names, &n);
        for (size_t i = 0; i < n; i++)
            printf("%s\n", names[i]);
        free(names);
        if (!strcmp(what, "devices")) {
            sw_scan_cache_names(&names, &n);
            for (size_t i = 0; i < n; i++)
                printf("%s\n", names[i]);
            free(names);
        }
        return SW_EXIT_OK;
    }
    fprintf(stderr, "swarm __complete: words -- WORD..., commands, devices, groups or paths LINK\n");
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
    // colour on terminals only; NO_COLOR (https://no-color.org) with any value turns it off
    const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
    bool colors = !(no_color && no_color[0]) && !(term && !strcmp(term, "dumb"));
    cli.color_out = colors && cli.tty_out;
    cli.color_err = colors && cli.tty_err;
    // the user's default --timeout ([defaults] timeout = 5s in the config file)
    char dflt[64];
    uint64_t ms;
    bool bare;
    if (sw_config_get("defaults", "timeout", dflt, sizeof dflt)) {
        if (sw__cli_duration(dflt, &ms, &bare) && ms <= 86400000)
            cli.timeout_ms = (uint32_t)ms;
        else
            fprintf(stderr, "swarm: ignoring [defaults] timeout = '%s' in the config (a duration: 5s, "
                    "500ms)\n", dflt);
    }

    // the user's fleet key file ([defaults] key = PATH; ~/ is the home directory): what
    // SWARM_KEY_FILE says, unless that is set (it wins, also when empty: no key)
    char key[4096];
    if (!getenv("SWARM_KEY_FILE") && sw_config_get("defaults", "key", key, sizeof key) && key[0]) {
        const char *home = getenv("HOME");
        char path[4096 + 256];
        if (!strncmp(key, "~/", 2) && home)
            snprintf(path, sizeof path, "%s/%s", home, key + 2);
        else
            snprintf(path, sizeof path, "%s", key);
        setenv("SWARM_KEY_FILE", path, 1);
    }

    // the global options before COMMAND (with their defaults), -h and -V
    sw_opt_t opts[NTOP];
    bool version = false;
    top_opts(&cli, &version, opts);
    sw_cli_spec_t spec = {.usage = top_usage, .opts = opts, .pos = top_pos, .own_help = true,
                          .stop_at_pos = true, .no_globals = true};
    int rc;
    if (!sw__cli_parse(&cli, &spec, argc, argv, &rc))
        return rc;
    if (spec.help) {
        usage(stdout);
        return SW_EXIT_OK;
    }
    if (version) {
        printf("swarm %s\n", SW_VERSION_STRING);
        return SW_EXIT_OK;
    }
    if (spec.narg == 0) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    const char *name = spec.arg[0];
    if (!strcmp(name, "__complete")) // for the shell completion scripts (tools/completion/)
        return complete(&cli, spec.narg > 1 ? spec.arg[1] : "", spec.narg > 2 ? spec.arg[2] : NULL,
                        spec.narg - 2, spec.arg + 2);
    if (!strcmp(name, "version")) {
        printf("swarm %s\n", SW_VERSION_STRING);
        return SW_EXIT_OK;
    }
    const sw_cli_cmd_t *c = find(name);
    if (!c)
        return unknown(&cli, name);
    return c->fn(&cli, spec.narg, spec.arg); // its argv: its name, then the rest
}
