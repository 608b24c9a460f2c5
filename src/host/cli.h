// swarm CLI: the conventions every subcommand follows (options, output, exit codes, errors).
// tools/swarm.c dispatches `swarm CMD …` to the sw_cli_<cmd>() functions in src/host/cli_*.c.
#ifndef SW_HOST_CLI_H
#define SW_HOST_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "swarm/mp.h"

// Exit codes (documented in docs/swarm.1, "EXIT STATUS"; scripts may rely on them).
enum {
    SW_EXIT_OK = 0,       // success
    SW_EXIT_REMOTE = 1,   // the device answered with an error
    SW_EXIT_USAGE = 2,    // bad command line
    SW_EXIT_LINK = 3,     // cannot reach the device / the link was lost
    SW_EXIT_TIMEOUT = 4,  // no answer in time
    SW_EXIT_PARTIAL = 5,  // several devices: some failed (push, scan with --strict, …)
    SW_EXIT_LOCAL = 6,    // a local problem (file not found, permission, …)
    SW_EXIT_INTERRUPT = 130, // Ctrl-C
};

// Global options, parsed by tools/swarm.c before the subcommand's own ("swarm --json call …"
// and "swarm call --json …" both work).
typedef struct sw_cli {
    bool json;            // --json: machine-readable output on stdout
    bool quiet;           // -q: no progress, no informational lines
    int verbose;          // -v (repeatable): more detail on stderr
    uint32_t timeout_ms;  // --timeout TIME: per request, in ms; default 10 s, 0 = no limit
    bool allow_open;      // --allow-open: sets SWARM_ALLOW_OPEN=1 for this process (hsec.c)
    bool tty_out;         // stdout is a terminal
    bool tty_err;         // stderr is a terminal (progress bars only then)
    bool color_out;       // colour on stdout: a terminal, NO_COLOR unset or empty, TERM not dumb
    bool color_err;       // the same for stderr
    const char *prog;     // "swarm"
    FILE *complete;       // swarm __complete: sw__cli_parse writes what the command line may
                          // hold here (its options and positional arguments) and stops; NULL:
                          // a normal run
} sw_cli_t;

// A subcommand: argv[0] is its name. Returns an SW_EXIT_* code.
typedef int (*sw_cli_fn)(const sw_cli_t *cli, int argc, char **argv);

typedef struct sw_cli_cmd {
    const char *name;
    const char *summary; // one line for `swarm --help`
    sw_cli_fn fn;
} sw_cli_cmd_t;

// The subcommands (src/host/cli_<cmd>.c), listed in the command table of tools/swarm.c. Each
// parses its command line with sw__cli_parse (cli_opt.h): --help, options, arguments.
int sw_cli_call(const sw_cli_t *cli, int argc, char **argv); // call LINK PATH [args]
int sw_cli_cfg(const sw_cli_t *cli, int argc, char **argv);
int sw_cli_key(const sw_cli_t *cli, int argc, char **argv);  // key new|path|install LINK  // cfg LINK get|set|del|apply
int sw_cli_eval(const sw_cli_t *cli, int argc, char **argv); // eval LINK CODE
int sw_cli_fs(const sw_cli_t *cli, int argc, char **argv);   // fs LINK ls|get|put|… ARGS
int sw_cli_sim(const sw_cli_t *cli, int argc, char **argv);  // sim --nodes N [-- CMD]
int sw_cli_console(const sw_cli_t *cli, int argc, char **argv); // console LINK
int sw_cli_mux(const sw_cli_t *cli, int argc, char **argv); // mux --link LINK --socket PATH
int sw_cli_scan(const sw_cli_t *cli, int argc, char **argv); // scan [--timeout TIME] [--json] …
int sw_cli_push(const sw_cli_t *cli, int argc, char **argv); // push [PROJECT] [--host H]… [--link L]…
int sw_cli_provision(const sw_cli_t *cli, int argc, char **argv); // provision LINK --host --app --board
int sw_cli_fleet(const sw_cli_t *cli, int argc, char **argv);  // fleet SELECTION COMMAND ARGS
int sw_cli_reboot(const sw_cli_t *cli, int argc, char **argv); // reboot DEVICE...
int sw_cli_logs(const sw_cli_t *cli, int argc, char **argv);   // logs DEVICE...
int sw_cli_repl(const sw_cli_t *cli, int argc, char **argv);   // repl LINK
int sw_cli_dashboard(const sw_cli_t *cli, int argc, char **argv); // dashboard [--bind] [--port]

// Errors go to stderr as "swarm CMD: message" (+ a hint line when there is one).
void sw_cli_error(const sw_cli_t *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Maps an SW_E* code from a link/call to the exit code.
int sw_cli_exit_for(int err);

// Arguments of `swarm call` / `cfg set`: "key=value" pairs (value parsed as JSON when it is
// valid JSON, else taken as a string) or one bare JSON/scalar value for the whole d.
// Writes the d item into w. Returns 0 or SW_EINVAL with a message in err.
int sw_cli_parse_args(int argc, char **argv, sw_mpw_t *w, char *err, size_t errcap);
// Prints one MsgPack value: --json → one line of JSON (mpjson rules); otherwise a readable
// form (strings as they are, other values as indented JSON).
void sw_cli_print_value(const sw_cli_t *cli, FILE *f, const uint8_t *p, size_t n);

// Progress on stderr when it is a terminal and not --quiet: a bar with bytes, rate and ETA.
typedef struct sw_progress {
    const sw_cli_t *cli;
    const char *label;
    uint64_t total, done;
    uint64_t start_ms, last_ms;
    bool shown;
} sw_progress_t;
void sw_progress_start(sw_progress_t *p, const sw_cli_t *cli, const char *label, uint64_t total);
void sw_progress_update(sw_progress_t *p, uint64_t done);
void sw_progress_end(sw_progress_t *p, bool ok);

#endif
