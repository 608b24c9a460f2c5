// The option-table parser of the swarm subcommands (cli_opt.h): one walk over argv for options
// (long, --name=value, short, bundled -vq, -n5), positional arguments and "--"; values checked
// by kind and range; --help generated from the same table; "did you mean" for a mistyped name.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "cli_opt.h"

#define LEGACY_MS_BAR 50 // a bare number this large was surely meant as milliseconds
#define MAX_NOTES 8
#define HELP_COL 22      // option column width in --help
#define HELP_WIDTH 79

///////////////////////////////////////////////////////////////////////////////////////////////
// Values

bool sw__cli_duration(const char *s, uint64_t *ms, bool *bare)
{
    // digits [. digits] then an optional unit; no signs, exponents or hex (strtod takes those)
    const char *p = s;
    uint64_t whole = 0, frac = 0, scale = 1;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (whole > UINT64_MAX / 100)
            return false;
        whole = whole * 10 + (uint64_t)(*p++ - '0');
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (scale < 1000000000000ull) { // (further digits do not matter)
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
            p++;
            digits++;
        }
    }
    if (!digits)
        return false;
    uint64_t unit;
    if (!*p)
        unit = 1000;
    else if (!strcmp(p, "ms"))
        unit = 1;
    else if (!strcmp(p, "s"))
        unit = 1000;
    else if (!strcmp(p, "m") || !strcmp(p, "min"))
        unit = 60000;
    else if (!strcmp(p, "h"))
        unit = 3600000;
    else
        return false;
    if (whole > UINT64_MAX / 4 / unit)
        return false;
    uint64_t v = whole * unit + (frac * unit + scale / 2) / scale;
    if (v == 0 && (whole || frac)) // a positive duration under a millisecond: one
        v = 1;
    *ms = v;
    *bare = !*p;
    return true;
}

static bool parse_uint(const char *s, bool bytes, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    uint64_t mul = 1;
    if (bytes && (!strcmp(end, "k") || !strcmp(end, "K") || !strcmp(end, "KiB")))
        mul = 1024, end += strlen(end);
    else if (bytes && (!strcmp(end, "M") || !strcmp(end, "MiB")))
        mul = 1024 * 1024, end += strlen(end);
    if (*end || v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static void store_uint(void *dst, size_t size, uint64_t v)
{
    switch (size) {
    case 1: *(uint8_t *)dst = (uint8_t)v; break;
    case 2: *(uint16_t *)dst = (uint16_t)v; break;
    case 4: *(uint32_t *)dst = (uint32_t)v; break;
    default: *(uint64_t *)dst = v; break;
    }
}

// A duration for people: "150ms", "2s", "1.5s", "2m", "1h".
static void fmt_duration(char *buf, size_t cap, uint64_t ms)
{
    if (ms && ms % 3600000 == 0)
        snprintf(buf, cap, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms && ms % 60000 == 0)
        snprintf(buf, cap, "%llum", (unsigned long long)(ms / 60000));
    else if (ms >= 1000 && ms % 100 == 0)
        snprintf(buf, cap, "%gs", (double)ms / 1000.0);
    else
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Suggestions

// Edit distance (names are short; longer ones are not compared).
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

const char *sw__cli_suggest(const char *name, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = 3, len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (!cands[i])
            continue;
        size_t d = distance(name, cands[i]);
        if (len >= 2 && !strncmp(cands[i], name, len))
            d = d < 1 ? d : 1; // a prefix ("--tim" → "--timeout") is as good as one typo
        if (d < best_d && d < strlen(cands[i])) {
            best = cands[i];
            best_d = d;
        }
    }
    return best;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Globals

void sw__cli_globals(sw_cli_t *c, sw_opt_t out[SW_CLI_NGLOBAL])
{
    const sw_opt_t g[SW_CLI_NGLOBAL] = {
        SW_OPT_FLAG_("json", NULL, &c->json,
                     "machine-readable output: one JSON value per line on stdout"),
        SW_OPT_FLAG_("quiet", "q", &c->quiet, "no progress bars, hints or informational lines"),
        SW_OPT_COUNT_("verbose", "v", &c->verbose,
                      "more detail on stderr, including the device's console output "
                      "(repeatable; -vv also shows how the options were understood)"),
        {.kind = SW_OPT_DURATION, .name = "timeout", .arg = "TIME", .dst = &c->timeout_ms,
         .size = sizeof c->timeout_ms, .max = 7 * 86400000ull,
         .show_def = "10s, or the config's [defaults] timeout", // (set by main, not per command)
         .help = "how long to wait for each answer (and for the link); 0 = no limit"},
        SW_OPT_FLAG_("allow-open", NULL, &c->allow_open,
                     "send commands that change a device also when it answers as an open node "
                     "although the host holds a key for it (refused by default: it may be an "
                     "impostor; docs/SECURITY.md). The same as SWARM_ALLOW_OPEN=1"),
        SW_OPT_END_,
    };
    memcpy(out, g, sizeof g);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Parsing

typedef struct parser {
    sw_cli_t *c;
    sw_cli_spec_t *spec;
    const sw_opt_t *tabs[2]; // the command's options, then the globals
    struct { const sw_opt_t *o; const char *v; uint64_t ms; } notes[MAX_NOTES];
    int nnotes;
    struct { const sw_opt_t *o; const char *v; } given[64]; // for -vv
    int ngiven;
} parser_t;

static int usage(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(parser_t *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sw__cli_usage(p->c, p->spec->cmd, "%s", msg);
}

static const sw_opt_t *find_long(const parser_t *p, const char *name, size_t n)
{
    for (int t = 0; t < 2; t++)
        for (const sw_opt_t *o = p->tabs[t]; o && o->kind != SW_OPT_END; o++)
            if (o->name && strlen(o->name) == n && !strncmp(o->name, name, n))
                return o;
    return NULL;
}

static const sw_opt_t *find_short(const parser_t *p, char ch)
{
    for (int t = 0; t < 2; t++)
        for (const sw_opt_t *o = p->tabs[t]; o && o->kind != SW_OPT_END; o++)
            if (o->shorts && strchr(o->shorts, ch))
                return o;
    return NULL;
}

static bool takes_value(const sw_opt_t *o)
{
    return o->kind >= SW_OPT_UINT && o->kind <= SW_OPT_ENUM;
}

static void opt_name(const sw_opt_t *o, char *buf, size_t cap)
{
    if (o->name)
        snprintf(buf, cap, "--%s", o->name);
    else
        snprintf(buf, cap, "-%c", o->shorts ? o->shorts[0] : '?');
}

static void expect_text(const sw_opt_t *o, char *buf, size_t cap)
{
    char lo[32], hi[32];
    if (o->expect) {
        snprintf(buf, cap, "%s", o->expect);
        return;
    }
    switch (o->kind) {
    case SW_OPT_UINT:
    case SW_OPT_BYTES:
        snprintf(buf, cap, "%s%llu to %llu", o->kind == SW_OPT_BYTES ? "bytes, " : "",
                 (unsigned long long)o->min, (unsigned long long)o->max);
        break;
    case SW_OPT_DURATION:
        fmt_duration(lo, sizeof lo, o->min);
        fmt_duration(hi, sizeof hi, o->max);
        snprintf(buf, cap, "a time from %s to %s: 500ms, 2s, 1.5m; a bare number is seconds", lo,
                 hi);
        break;
    case SW_OPT_ENUM: {
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; o->choices[i] && k < cap; i++)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "one of ", o->choices[i]);
        break;
    }
    default:
        snprintf(buf, cap, "not empty");
    }
}

// Applies value v to option o. Returns 0 or SW_EXIT_USAGE after the message. apply_def: a
// default from the table (not the user's: no notes, no bookkeeping).
static int apply(parser_t *p, const sw_opt_t *o, const char *v, bool apply_def)
{
    char name[48], exp[200];
    opt_name(o, name, sizeof name);
    uint64_t x = 0;
    bool bare = false;
    switch (o->kind) {
    case SW_OPT_FLAG: *(bool *)o->dst = true; break;
    case SW_OPT_COUNT: ++*(int *)o->dst; break;
    case SW_OPT_SET: *(int *)o->dst = o->ival; break;
    case SW_OPT_UINT:
    case SW_OPT_BYTES:
    case SW_OPT_DURATION:
        if (o->kind == SW_OPT_DURATION ? !sw__cli_duration(v, &x, &bare)
                                       : !parse_uint(v, o->kind == SW_OPT_BYTES, &x))
            goto bad;
        if (o->kind == SW_OPT_DURATION && bare && (o->flags & SW_OPT_F_LEGACY_MS) && !apply_def) {
            if (x >= LEGACY_MS_BAR * 1000ull)
                return usage(p, "%s %s is ambiguous: a bare number is seconds now (it was "
                             "milliseconds); write %sms or %ss", name, v, v, v);
            if (x && p->nnotes < MAX_NOTES) {
                p->notes[p->nnotes].o = o;
                p->notes[p->nnotes].v = v;
                p->notes[p->nnotes++].ms = x;
            }
        }
        if (x < o->min || x > o->max)
            goto bad;
        store_uint(o->dst, o->size, x);
        break;
    case SW_OPT_STR:
    case SW_OPT_LIST:
        if (!*v && !apply_def)
            return usage(p, "option %s needs a value", name);
        if (o->check && !o->check(v))
            goto bad;
        if (o->kind == SW_OPT_STR) {
            *(const char **)o->dst = v;
        } else {
            if (*o->count >= o->cap)
                return usage(p, "at most %zu %s", o->cap, name);
            ((const char **)o->dst)[(*o->count)++] = v;
        }
        break;
    case SW_OPT_ENUM: {
        int i = 0;
        while (o->choices[i] && strcmp(o->choices[i], v))
            i++;
        if (!o->choices[i])
            goto bad;
        *(int *)o->dst = i;
        break;
    }
    default:
        break;
    }
    if (!apply_def) {
        if (o->seen)
            *o->seen = true;
        if (p->ngiven < (int)(sizeof p->given / sizeof p->given[0])) {
            p->given[p->ngiven].o = o;
            p->given[p->ngiven++].v = v;
        }
    }
    return 0;
bad:
    expect_text(o, exp, sizeof exp);
    return usage(p, "bad %s '%s' (%s)", name, v, exp);
}

static int unknown(parser_t *p, const char *a)
{
    const char *cands[128];
    char bufs[128][40];
    size_t n = 0;
    if (a[1] == '-') {
        for (int t = 0; t < 2; t++)
            for (const sw_opt_t *o = p->tabs[t]; o && o->kind != SW_OPT_END && n < 128; o++)
                if (o->name && !(o->flags & SW_OPT_F_HIDDEN)) {
                    snprintf(bufs[n], sizeof bufs[n], "--%s", o->name);
                    cands[n] = bufs[n];
                    n++;
                }
    }
    char an[64];
    snprintf(an, sizeof an, "%.*s", (int)strcspn(a, "="), a);
    const char *s = n ? sw__cli_suggest(an, cands, n) : NULL;
    if (s) {
        sw_cli_error(p->c, p->spec->cmd, "unknown option '%s'", an);
        sw__cli_did_you_mean(p->c, NULL, s);
        sw__cli_see_help(p->c, p->spec->cmd);
        return SW_EXIT_USAGE;
    }
    return usage(p, "unknown option '%s'", an);
}

static bool counts_rest(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && !strcmp(name + n - 3, "...");
}

// Positional arguments against spec->pos: missing ones, too many.
static int check_pos(parser_t *p)
{
    sw_cli_spec_t *s = p->spec;
    int required = 0, max = 0;
    bool rest = false;
    for (int i = 0; s->pos && s->pos[i]; i++) {
        if (counts_rest(s->pos[i]))
            rest = true;
        else
            max++;
        if (s->pos[i][0] != '[' && !counts_rest(s->pos[i]))
            required++;
    }
    if (s->narg < required) {
        char miss[256] = "";
        size_t k = 0;
        int nm = required - s->narg;
        for (int i = s->narg, j = 0; j < nm; i++, j++)
            k += (size_t)snprintf(miss + k, sizeof miss - k, "%s%s",
                                  j == 0 ? "" : j == nm - 1 ? " and " : ", ", s->pos[i]);
        return usage(p, "missing %s", miss);
    }
    if (!rest && s->narg > max) {
        const char *extra = s->arg[max];
        if (max == 0)
            return usage(p, "unexpected argument '%s'%s%s%s", extra, s->too_many ? " (" : "",
                         s->too_many ? s->too_many : "", s->too_many ? ")" : "");
        return usage(p, "too many arguments ('%s'%s%s)", extra, s->too_many ? "; " : "",
                     s->too_many ? s->too_many : "");
    }
    return 0;
}

// swarm __complete (cli_complete.c): one line per option of t, "opt --name" or "opt -x",
// followed by " =ARG" when it takes a value (ARG: the value's name in --help, "SELECTOR") and
// then the choices of an enum.
static void describe(const sw_opt_t *t, FILE *f)
{
    for (const sw_opt_t *o = t; o && o->kind != SW_OPT_END; o++) {
        if (o->kind == SW_OPT_SECTION || (o->flags & SW_OPT_F_HIDDEN))
            continue;
        bool value = o->kind == SW_OPT_UINT || o->kind == SW_OPT_BYTES ||
                     o->kind == SW_OPT_DURATION || o->kind == SW_OPT_STR ||
                     o->kind == SW_OPT_LIST || o->kind == SW_OPT_ENUM;
        size_t nshort = o->shorts ? strlen(o->shorts) : 0;
        for (size_t k = 0; k <= nshort; k++) { // k = 0: the long name, then each letter
            if (k == 0 && !o->name)
                continue;
            if (k == 0)
                fprintf(f, "opt --%s", o->name);
            else
                fprintf(f, "opt -%c", o->shorts[k - 1]);
            if (value)
                fprintf(f, " =%s", o->arg ? o->arg : "VALUE");
            for (const char *const *ch = o->kind == SW_OPT_ENUM ? o->choices : NULL; ch && *ch;
                 ch++)
                fprintf(f, " %s", *ch);
            fputc('\n', f);
        }
    }
}

// -vv: how each given option was understood.
static void show_given(const parser_t *p)
{
    const char *prog = p->c->prog ? p->c->prog : "swarm";
    for (int i = 0; i < p->ngiven; i++) {
        const sw_opt_t *o = p->given[i].o;
        char name[48], val[64];
        if (o->kind == SW_OPT_COUNT)
            continue;
        opt_name(o, name, sizeof name);
        switch (o->kind) {
        case SW_OPT_DURATION: {
            uint64_t ms = 0;
            bool bare;
            sw__cli_duration(p->given[i].v, &ms, &bare);
            snprintf(val, sizeof val, "%llu ms", (unsigned long long)ms);
            break;
        }
        case SW_OPT_UINT:
        case SW_OPT_BYTES: {
            uint64_t x = 0;
            parse_uint(p->given[i].v, o->kind == SW_OPT_BYTES, &x);
            snprintf(val, sizeof val, "%llu", (unsigned long long)x);
            break;
        }
        case SW_OPT_STR:
        case SW_OPT_LIST:
        case SW_OPT_ENUM: snprintf(val, sizeof val, "'%.50s'", p->given[i].v); break;
        default: snprintf(val, sizeof val, "on"); break;
        }
        if (p->spec->cmd)
            fprintf(stderr, "%s %s: option %s = %s\n", prog, p->spec->cmd, name, val);
        else
            fprintf(stderr, "%s: option %s = %s\n", prog, name, val);
    }
}

bool sw__cli_parse(sw_cli_t *c, sw_cli_spec_t *spec, int argc, char **argv, int *status)
{
    static parser_t p; // (large; one parse at a time)
    memset(&p, 0, sizeof p);
    sw_opt_t globals[SW_CLI_NGLOBAL];
    sw__cli_globals(c, globals);
    p.c = c;
    p.spec = spec;
    p.tabs[0] = spec->opts;
    p.tabs[1] = spec->no_globals ? NULL : globals;
    spec->arg = argv + 1;
    spec->narg = 0;
    spec->before_dashdash = -1;
    spec->dashdash = false;
    spec->help = false;
    *status = SW_EXIT_USAGE;
    if (c->complete) { // swarm __complete: what this command line may hold, nothing else
        describe(spec->opts, c->complete);
        describe(p.tabs[1], c->complete);
        for (const char *const *n = spec->pos; n && *n; n++)
            fprintf(c->complete, "pos %s\n", *n);
        *status = SW_EXIT_OK;
        return false;
    }

    for (const sw_opt_t *o = spec->opts; o && o->kind != SW_OPT_END; o++)
        if (o->def && apply(&p, o, o->def, true)) // (a bad default is this table's bug)
            return false;

    bool opts = true;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (opts && !strcmp(a, "--")) {
            opts = false;
            spec->dashdash = true;
            spec->before_dashdash = spec->narg;
            continue;
        }
        if (!opts || !sw__cli_is_opt(a)) {
            if (spec->stop_at_pos) { // the rest is the command's
                while (i < argc)
                    spec->arg[spec->narg++] = argv[i++];
                break;
            }
            spec->arg[spec->narg++] = a; // (never past i: argv is reordered in place)
            continue;
        }
        if (a[1] == '-') { // --name, --name=value
            const char *eq = strchr(a, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            const sw_opt_t *o = find_long(&p, a + 2, n);
            if (!o) {
                if (spec->help)
                    continue;
                *status = unknown(&p, a);
                return false;
            }
            if (o->kind == SW_OPT_HELP) {
                spec->help = true;
                continue;
            }
            const char *v = NULL;
            if (takes_value(o)) {
                if (eq)
                    v = eq + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else if (!spec->help) {
                    *status = usage(&p, "option --%s needs a value", o->name);
                    return false;
                }
            } else if (eq && !spec->help) {
                *status = usage(&p, "option --%s takes no value", o->name);
                return false;
            }
            if (!spec->help && apply(&p, o, v, false))
                return false;
            continue;
        }
        for (const char *s = a + 1; *s; s++) { // -v, -vq, -n 5, -n5
            const sw_opt_t *o = find_short(&p, *s);
            if (!o) {
                if (spec->help)
                    break;
                char one[3] = {'-', *s, 0};
                *status = usage(&p, "unknown option '%s'", s == a + 1 && !s[1] ? a : one);
                return false;
            }
            if (o->kind == SW_OPT_HELP) {
                spec->help = true;
                continue;
            }
            if (!takes_value(o)) {
                if (!spec->help && apply(&p, o, NULL, false))
                    return false;
                continue;
            }
            const char *v = s[1] ? s + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!v) {
                if (spec->help)
                    break;
                char name[48];
                opt_name(o, name, sizeof name);
                *status = usage(&p, "option %s needs a value", name);
                return false;
            }
            if (!spec->help && apply(&p, o, v, false))
                return false;
            break;
        }
    }
    if (spec->before_dashdash < 0)
        spec->before_dashdash = spec->narg;
    if (spec->help) {
        if (!spec->own_help)
            sw__cli_help(spec, stdout);
        *status = SW_EXIT_OK;
        return spec->own_help;
    }
    if ((*status = check_pos(&p)) != 0)
        return false;
    if (c->verbose >= 2)
        show_given(&p);
    for (int i = 0; i < p.nnotes && !c->quiet; i++) {
        char name[48];
        opt_name(p.notes[i].o, name, sizeof name);
        const char *prog = c->prog ? c->prog : "swarm";
        fprintf(stderr, "%s%s%s: note: %s %s means %s s (a bare number is seconds; write %sms "
                "for milliseconds)\n", prog, spec->cmd ? " " : "", spec->cmd ? spec->cmd : "",
                name, p.notes[i].v, p.notes[i].v, p.notes[i].v);
    }
    if (c->allow_open) // read where every link is opened (src/host/hsec.c), mux and dashboard too
        setenv("SWARM_ALLOW_OPEN", "1", 1);
    *status = SW_EXIT_OK;
    return true;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Help

// Writes text wrapped at HELP_WIDTH, the first line continuing at column col, the others
// indented to indent.
static void wrap(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " \n");
        if (col > indent && col + 1 + (int)word > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, word, f);
        col += (int)word;
        p += word;
        if (*p == '\n') {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            p++;
        }
        while (*p == ' ')
            p++;
    }
}

static void help_default(const sw_opt_t *o, char *buf, size_t cap)
{
    char lo[32], hi[32], d[200] = "";
    buf[0] = 0;
    if (o->show_def)
        snprintf(d, sizeof d, "%s", o->show_def);
    else if (o->def && o->kind == SW_OPT_DURATION) {
        uint64_t ms;
        bool bare;
        if (sw__cli_duration(o->def, &ms, &bare))
            fmt_duration(d, sizeof d, ms);
    } else if (o->def) {
        snprintf(d, sizeof d, "%s", o->def);
    }
    bool range = (o->flags & SW_OPT_F_RANGE) != 0;
    if (range && o->kind == SW_OPT_DURATION) {
        fmt_duration(lo, sizeof lo, o->min);
        fmt_duration(hi, sizeof hi, o->max);
    } else {
        snprintf(lo, sizeof lo, "%llu", (unsigned long long)o->min);
        snprintf(hi, sizeof hi, "%llu", (unsigned long long)o->max);
    }
    if (range && d[0])
        snprintf(buf, cap, "(%s-%s, default %s)", lo, hi, d);
    else if (range)
        snprintf(buf, cap, "(%s-%s)", lo, hi);
    else if (d[0])
        snprintf(buf, cap, "(default %s)", d);
}

static void help_row(FILE *f, const sw_opt_t *o)
{
    char left[96];
    size_t k = 0;
    if (o->shorts)
        k += (size_t)snprintf(left + k, sizeof left - k, "-%c%s", o->shorts[0], o->name ? ", " : "");
    if (o->name)
        k += (size_t)snprintf(left + k, sizeof left - k, "--%s", o->name);
    if (o->arg && k < sizeof left)
        snprintf(left + k, sizeof left - k, " %s", o->arg);
    char text[1024], def[300];
    help_default(o, def, sizeof def);
    snprintf(text, sizeof text, "%s%s%s", o->help ? o->help : "", def[0] ? " " : "", def);
    int w = fprintf(f, "  %s", left);
    if (w + 2 > HELP_COL) {
        fprintf(f, "\n%*s", HELP_COL, "");
        w = HELP_COL;
    } else {
        fprintf(f, "%*s", HELP_COL - w, "");
        w = HELP_COL;
    }
    wrap(f, text, w, HELP_COL);
    fputc('\n', f);
}

static bool has_kind(const sw_opt_t *t, sw_opt_kind_t kind)
{
    for (const sw_opt_t *o = t; o && o->kind != SW_OPT_END; o++)
        if (o->kind == kind && !(o->flags & SW_OPT_F_HIDDEN))
            return true;
    return false;
}

void sw__cli_help(const sw_cli_spec_t *spec, FILE *f)
{
    sw_opt_t globals[SW_CLI_NGLOBAL];
    sw__cli_globals(&(sw_cli_t){0}, globals);
    fputs(spec->usage, f);
    if (spec->about)
        fprintf(f, "\n%s", spec->about);
    bool section = spec->opts && spec->opts[0].kind == SW_OPT_SECTION;
    if (!section)
        fputs("\noptions:\n", f);
    for (const sw_opt_t *o = spec->opts; o && o->kind != SW_OPT_END; o++) {
        if (o->kind == SW_OPT_SECTION)
            fprintf(f, "\n%s\n", o->help);
        else if (!(o->flags & SW_OPT_F_HIDDEN))
            help_row(f, o);
    }
    bool durations = has_kind(spec->opts, SW_OPT_DURATION);
    if (!spec->no_globals) {
        // the global options, except those the command gives a meaning of its own
        char line[256] = "";
        size_t k = 0;
        for (const sw_opt_t *o = globals; o->kind != SW_OPT_END; o++) {
            bool own = false;
            for (const sw_opt_t *m = spec->opts; m && m->kind != SW_OPT_END; m++)
                own |= m->name && !strcmp(m->name, o->name);
            if (own)
                continue;
            durations |= o->kind == SW_OPT_DURATION;
            k += (size_t)snprintf(line + k, sizeof line - k, "%s%s%s%s%s", k ? ", " : "",
                                  o->shorts ? "-" : "--", o->shorts ? o->shorts : o->name,
                                  o->arg ? " " : "", o->arg ? o->arg : "");
        }
        int col = fprintf(f, "  %s   as in 'swarm --help'%s", line, spec->globals ? ";" : "");
        if (spec->globals)
            wrap(f, spec->globals, col, HELP_COL);
        fputc('\n', f);
    }
    if (durations)
        fputs("TIME is a number with a unit: 500ms, 2s, 1.5m, 1h; a bare number is seconds.\n", f);
    if (spec->after)
        fprintf(f, "\n%s", spec->after);
}
