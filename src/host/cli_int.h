// Internals shared by the swarm subcommands (src/host/cli*.c): usage errors, connecting with
// the CLI's error messages and hints, and tearing a link down cleanly. Not a public contract.
#ifndef SW_HOST_CLI_INT_H
#define SW_HOST_CLI_INT_H

#include "cli.h"
#include "hlink.h"

// True if a is an option (starts with '-', is not "-" and not a negative number).
bool sw__cli_is_opt(const char *a);
// Usage error: message, then "see swarm CMD --help"; returns SW_EXIT_USAGE.
int sw__cli_usage(const sw_cli_t *c, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// "hint: …" on stderr (not with --quiet).
void sw__cli_hint(const sw_cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "swarm CMD: warning: …" on stderr ({"warning": …, "command": CMD} with --json; not with -q).
void sw__cli_warn(const sw_cli_t *c, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// "did you mean 'PREFIXname'?" on stderr ({"did_you_mean": …} with --json).
void sw__cli_did_you_mean(const sw_cli_t *c, const char *prefix, const char *name);
// One reply of sys.log or mplex.console, {"d": str|bin, "p": next position}: its text and the
// position to ask from next (cli_console.c; swarm logs and swarm console read them).
bool sw__cli_log_chunk(const uint8_t *p, size_t n, sw_span_t *text, uint64_t *next);
// "see 'swarm CMD --help'" on stderr ({"hint": …} with --json).
void sw__cli_see_help(const sw_cli_t *c, const char *cmd);
// Colours (ANSI SGR) for results and messages: the escape, or "" when that stream gets no
// colour (not a terminal, NO_COLOR, TERM=dumb). SW_COL_OFF ends one.
typedef enum { SW_COL_OFF, SW_COL_RED, SW_COL_GREEN, SW_COL_YELLOW, SW_COL_CYAN, SW_COL_BOLD } sw_col_t;
const char *sw__cli_col(const sw_cli_t *c, bool on_stderr, sw_col_t k);
// swarm eval's parts (cli_call.c), also used by swarm repl: the output of a snippet is the
// device's log lines of its source between a mark taken before it and the end after it.
typedef struct sw_eval_out {
    bool on;             // the device has sys.log and the mark was taken
    uint64_t mark;       // log position before the eval
    char app[80];        // the log source of the eval's prints
} sw_eval_out_t;
struct cJSON;
void sw__cli_eval_mark(const sw_cli_t *c, sw_hlink_t *l, sw_eval_out_t *eo);
// Prints the lines (arr non-NULL: adds them to that cJSON array instead).
void sw__cli_eval_show(const sw_cli_t *c, sw_hlink_t *l, const sw_eval_out_t *eo, struct cJSON *arr);
// Prints a sys.eval reply [value, repr] as eval does (out: the printed lines for --json; taken).
void sw__cli_eval_print(const sw_cli_t *c, const uint8_t *p, size_t n, struct cJSON *out);
// Every command path of the device at link ("ping", "sys.info", …), one per line on stdout
// (shell completion). Returns an exit status.
int sw__cli_dir_paths(const sw_cli_t *c, const char *link);
// swarm __complete for `fs LINK CMD ARG...` (cli_fs.c): device paths that complete word, the
// k-th argument of CMD (from 0), one per line on out: the entries of its directory on the
// device at LINK, a directory with a trailing '/'. Nothing when that argument is a local file.
void sw__cli_fs_complete(const sw_cli_t *cli, const char *link, const char *cmd, int k,
                         const char *word, FILE *out);

struct sw_cli_spec;
// `swarm __complete words -- WORD...` (cli_complete.c): the candidates for the last of the nw
// words w (w[0] is "swarm"), one per line on stdout, from the command table cmds and each
// command's own option table and positional names; top is the spec of swarm's own options.
int sw__cli_complete(const sw_cli_t *cli, const sw_cli_cmd_t *cmds, size_t ncmds,
                     struct sw_cli_spec *top, int nw, char **w);
// Monotonic clock in ms (durations, progress).
uint64_t sw__cli_now_ms(void);
// A byte count for people: "512 B", "1.5 KiB", "3.2 MiB" … (powers of 1024).
void sw__cli_bytes(char *buf, size_t cap, double bytes);
// A link for a one-shot command: opened on loop, waited for (cli->timeout_ms). On failure
// prints the error and a hint and returns the exit code (SW_EXIT_USAGE for a bad URI,
// SW_EXIT_LINK otherwise). Console bytes from the device go to stderr with -v.
int sw__cli_connect(const sw_cli_t *c, const char *cmd, uv_loop_t *loop, const char *uri,
                    sw_hlink_t **out);
// Prints what a failed call means (remote error, timeout, link lost) and returns the exit code.
// A call on a plain lossless serial line got no answer: if a locked node is there (it answers
// the probe of sw_hlink_line_locked), says so and what to do, and returns true (exit status
// SW_EXIT_LINK); false, nothing printed, otherwise.
bool sw__cli_locked_line(const sw_cli_t *c, const char *cmd, sw_hlink_t *l);
int sw__cli_call_failed(const sw_cli_t *c, const char *cmd, sw_hlink_t *l, int err,
                        const char *text);
// Closes the link, lets the loop finish (queued bytes are flushed) and closes the loop.
void sw__cli_finish(uv_loop_t *loop, sw_hlink_t *l);

// Builds the JSON text or MsgPack for a "VALUE" argument: JSON when it parses as JSON, else
// the string itself. Integer literals are exact over the whole int64/uint64 range.
int sw__cli_value(const char *s, sw_mpw_t *w);

#endif
