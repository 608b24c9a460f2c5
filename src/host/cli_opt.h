// The option tables of the swarm subcommands: each option is described once (names, kind,
// range, default, help text, where its value goes) and that one description drives parsing,
// the options part of `--help`, "did you mean" for a mistyped option and the check of every
// value. Global options (--json, -q, -v, --timeout) are a table too, accepted by every command.
// Durations everywhere are NUMBER[UNIT] (500ms, 2s, 1.5m, 1h); a bare number is seconds.
#ifndef SW_HOST_CLI_OPT_H
#define SW_HOST_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

typedef enum sw_opt_kind {
    SW_OPT_END = 0,   // ends a table
    SW_OPT_SECTION,   // a heading in --help ("rollout:"), not an option
    SW_OPT_FLAG,      // bool *dst = true
    SW_OPT_COUNT,     // int *dst += 1 per use (-vv counts 2)
    SW_OPT_SET,       // int *dst = ival (e.g. --follow 1, --no-follow 0; the last one wins)
    SW_OPT_UINT,      // a whole number in [min, max] into an unsigned integer of `size` bytes
    SW_OPT_BYTES,     // as UINT; the value may end in k (×1024) or M (×1024²)
    SW_OPT_DURATION,  // a duration in [min, max] ms, stored in ms (`size` bytes); see above
    SW_OPT_STR,       // const char **dst = the value (not empty), after check()
    SW_OPT_LIST,      // appended to const char *dst[cap]; *count counts them (repeatable)
    SW_OPT_ENUM,      // int *dst = index of the value in choices
    SW_OPT_HELP,      // -h/--help: the parser reports it (sw__cli_parse returns the help)
} sw_opt_kind_t;

enum {
    SW_OPT_F_RANGE = 1,     // --help shows the range (UINT, BYTES, DURATION)
    SW_OPT_F_LEGACY_MS = 2, // DURATION whose bare number used to mean milliseconds: a bare
                            // number of 50 or more is refused (ambiguous), a smaller one gets
                            // a note that it means seconds (docs/swarm.1, "DURATIONS")
    SW_OPT_F_HIDDEN = 4,    // parsed, not listed in --help
};

typedef struct sw_opt {
    sw_opt_kind_t kind;
    const char *name;       // long name without "--" ("timeout"); NULL: none
    const char *shorts;     // short letters ("v"; "rR": the first is shown); NULL: none
    const char *arg;        // the value's name in --help ("N", "TIME", "LINK")
    const char *help;       // one paragraph (wrapped by --help; '\n' forces a break)
    void *dst;              // where the value goes (type per kind)
    size_t size;            // sizeof *dst for UINT, BYTES, DURATION (1, 2, 4 or 8)
    uint64_t min, max;      // range of UINT / BYTES, of DURATION in ms
    const char *def;        // default, applied before parsing as if given; shown in --help
                            // (NULL: dst keeps what the caller put there)
    const char *show_def;   // the default as --help says it, when .def cannot say it
    const char *expect;     // what a good value is, for "bad --x 'v' (EXPECT)"; NULL: from
                            // the kind and range
    bool (*check)(const char *v); // STR, LIST: the value is acceptable
    const char *const *choices;   // ENUM: NULL-terminated
    size_t cap;             // LIST: entries dst holds
    size_t *count;          // LIST: entries so far
    int ival;               // SET: the value stored
    unsigned flags;         // SW_OPT_F_*
    bool *seen;             // if not NULL: set when the option is on the command line
} sw_opt_t;

// Table rows. Typed pointers are checked by the compiler through the size/compound literals.
#define SW_OPT_FLAG_(lng, sh, ptr, text) \
    {.kind = SW_OPT_FLAG, .name = (lng), .shorts = (sh), .dst = (bool *){ptr}, .help = (text)}
#define SW_OPT_COUNT_(lng, sh, ptr, text) \
    {.kind = SW_OPT_COUNT, .name = (lng), .shorts = (sh), .dst = (int *){ptr}, .help = (text)}
#define SW_OPT_SET_(lng, sh, ptr, v, text) \
    {.kind = SW_OPT_SET, .name = (lng), .shorts = (sh), .dst = (int *){ptr}, .ival = (v), \
     .help = (text)}
#define SW_OPT_UINT_(lng, sh, a, ptr, lo, hi, d, text) \
    {.kind = SW_OPT_UINT, .name = (lng), .shorts = (sh), .arg = (a), .dst = (ptr), \
     .size = sizeof *(ptr), .min = (lo), .max = (hi), .def = (d), .help = (text)}
#define SW_OPT_DUR_(lng, sh, ptr, lo, hi, d, text) \
    {.kind = SW_OPT_DURATION, .name = (lng), .shorts = (sh), .arg = "TIME", .dst = (ptr), \
     .size = sizeof *(ptr), .min = (lo), .max = (hi), .def = (d), .help = (text)}
#define SW_OPT_STR_(lng, sh, a, ptr, text) \
    {.kind = SW_OPT_STR, .name = (lng), .shorts = (sh), .arg = (a), \
     .dst = (const char **){ptr}, .help = (text)}
#define SW_OPT_LIST_(lng, sh, a, arr, n, text) \
    {.kind = SW_OPT_LIST, .name = (lng), .shorts = (sh), .arg = (a), \
     .dst = (const char **){arr}, .cap = sizeof(arr) / sizeof((arr)[0]), \
     .count = (size_t *){n}, .help = (text)}
#define SW_OPT_ENUM_(lng, sh, a, ptr, ch, d, text) \
    {.kind = SW_OPT_ENUM, .name = (lng), .shorts = (sh), .arg = (a), .dst = (int *){ptr}, \
     .choices = (ch), .def = (d), .help = (text)}
#define SW_OPT_SECTION_(title) {.kind = SW_OPT_SECTION, .help = (title)}
#define SW_OPT_HELP_ {.kind = SW_OPT_HELP, .name = "help", .shorts = "h", \
                      .help = "this text"}
#define SW_OPT_END_ {.kind = SW_OPT_END}

// A command line: its options, positional arguments and help text. The parser fills the
// fields after "filled by sw__cli_parse".
typedef struct sw_cli_spec {
    const char *cmd;        // "call" (NULL: swarm itself)
    const char *usage;      // "usage: swarm call [options] LINK PATH ...\n" (one or more lines)
    const char *about;      // what it does: the text between usage and options (may be NULL)
    const sw_opt_t *opts;   // its own options; they win over a global option of the same name
    const char *globals;    // after the generated line of global options: what they do here
    const char *after;      // after the options: output, exit status, examples
    // Positional arguments, in order: "LINK", "[PATH]" (optional), "ARGS..." (any number,
    // then nothing after it). NULL-terminated; NULL list: no positional arguments.
    const char *const *pos;
    const char *too_many;   // said after "too many arguments" / "unexpected argument"
    bool own_help;          // the command prints its help itself (it sees the arguments)
    bool stop_at_pos;       // options end at the first positional argument (swarm itself)
    bool no_globals;        // no global options added (swarm itself has them in opts)
    // filled by sw__cli_parse:
    char **arg;             // positional arguments (argv reordered: options taken out)
    int narg;
    int before_dashdash;    // how many of them came before "--" (narg if there was none)
    bool dashdash;          // "--" was given
    bool help;              // -h/--help was given (the parse went on collecting arguments)
} sw_cli_spec_t;

// Parses argv[1..argc) of a command against spec->opts and the global options (into *c).
// Returns true to go on. Returns false with *status set after --help (printed unless
// spec->own_help; status 0) or after a usage error (printed, with "see 'swarm CMD --help'";
// status SW_EXIT_USAGE). Reorders argv (positional arguments first, in their order).
bool sw__cli_parse(sw_cli_t *c, sw_cli_spec_t *spec, int argc, char **argv, int *status);

// Prints the help of spec: usage, about, the options (with defaults and ranges from the
// table), the global options and the text after them.
void sw__cli_help(const sw_cli_spec_t *spec, FILE *f);

// The rows of the global options (--json, -q, -v, --timeout) writing into *c, ending with END.
// out has room for SW_CLI_NGLOBAL rows.
#define SW_CLI_NGLOBAL 6
void sw__cli_globals(sw_cli_t *c, sw_opt_t out[SW_CLI_NGLOBAL]);

// A duration "500ms", "2s", "1.5" (seconds), "1m", "1h" → ms. bare: set when no unit was
// written. False when it is none.
bool sw__cli_duration(const char *s, uint64_t *ms, bool *bare);

// The candidate closest to name (edit distance at most 2, or name is a prefix of it), else
// NULL: "did you mean" for commands and options. cands: n strings, NULL ones skipped.
const char *sw__cli_suggest(const char *name, const char *const *cands, size_t n);

#endif
