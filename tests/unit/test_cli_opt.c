// The option-table parser of the swarm commands (src/host/cli_opt.c): durations and their
// units, every kind of option (bundled shorts, --name=value, repeatable lists with a cap, enums,
// the last of --follow/--no-follow winning), "--" and positional arguments with the messages
// for missing ones, defaults from the table, "did you mean", and --help built from the table.
#define _GNU_SOURCE
#include "testutil.h"

#include "cli_opt.h"

static void dur_ok(const char *s, uint64_t want, bool want_bare)
{
    uint64_t ms = 12345;
    bool bare = !want_bare;
    if (!sw__cli_duration(s, &ms, &bare))
        fail_msg("'%s' is refused", s);
    if (ms != want || bare != want_bare)
        fail_msg("'%s' → %llu ms (bare %d), want %llu (bare %d)", s, (unsigned long long)ms,
                 bare, (unsigned long long)want, want_bare);
}

static void test_duration(void **state)
{
    (void)state;
    dur_ok("2", 2000, true);
    dur_ok("0", 0, true);
    dur_ok("1.5", 1500, true);
    dur_ok(".25", 250, true);
    dur_ok("2s", 2000, false);
    dur_ok("500ms", 500, false);
    dur_ok("0.5ms", 1, false);    // rounds to the nearest ms
    dur_ok("0.0001s", 1, false);  // positive but under a millisecond: 1
    dur_ok("1m", 60000, false);
    dur_ok("1.5min", 90000, false);
    dur_ok("2h", 7200000, false);
    dur_ok("0.1234567891234s", 123, false);
    static const char *bad[] = {"", "s", "ms", "-1", "+1", "1e3", "0x10", "1 s", "1S", "1sec",
                                "inf", "nan", "1.2.3", "99999999999999999999", "1d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms;
        bool bare;
        if (sw__cli_duration(bad[i], &ms, &bare))
            fail_msg("'%s' is taken as %llu ms", bad[i], (unsigned long long)ms);
    }
}

static void test_suggest(void **state)
{
    (void)state;
    static const char *const c[] = {"--every", "--count", "--json", NULL, "--timeout"};
    assert_string_equal(sw__cli_suggest("--evry", c, 5), "--every");
    assert_string_equal(sw__cli_suggest("--cuont", c, 5), "--count");
    assert_string_equal(sw__cli_suggest("--tim", c, 5), "--timeout"); // a prefix
    assert_null(sw__cli_suggest("--frobnicate", c, 5));
    assert_null(sw__cli_suggest("x", c, 5));
}

// A command with one option of each kind, parsed from a command line given as a string.
typedef struct fixture {
    bool flag;
    int set;
    uint32_t n;
    uint64_t bytes;
    uint64_t dur;
    uint16_t old_ms;
    const char *str;
    const char *list[2];
    size_t nlist;
    int color;
    bool dur_seen;
    sw_cli_t c;
    sw_cli_spec_t spec;
    char *argv[32];
    char buf[512];
} fixture_t;

static bool no_slash(const char *v) { return !strchr(v, '/'); }

static int run(fixture_t *f, const char *line, const char *const *pos)
{
    static const char *const colors[] = {"auto", "always", "never", NULL};
    memset(f, 0, sizeof *f);
    f->set = -1;
    f->c.timeout_ms = 10000;
    f->c.prog = "swarm";
    const sw_opt_t opts[] = {
        SW_OPT_FLAG_("flag", "f", &f->flag, "a flag"),
        SW_OPT_SET_("on", NULL, &f->set, 1, "on"),
        SW_OPT_SET_("off", "o", &f->set, 0, "off"),
        SW_OPT_UINT_("n", "n", "N", &f->n, 1, 64, "8", "a count"),
        {.kind = SW_OPT_BYTES, .name = "chunk", .arg = "BYTES", .dst = &f->bytes,
         .size = sizeof f->bytes, .min = 1, .max = 1 << 24, .help = "bytes"},
        {.kind = SW_OPT_DURATION, .name = "wait", .arg = "TIME", .dst = &f->dur,
         .size = sizeof f->dur, .max = 3600000, .def = "30s", .seen = &f->dur_seen,
         .flags = SW_OPT_F_RANGE, .help = "how long"},
        {.kind = SW_OPT_DURATION, .name = "old", .arg = "TIME", .dst = &f->old_ms,
         .size = sizeof f->old_ms, .max = 60000, .flags = SW_OPT_F_LEGACY_MS, .help = "old"},
        {.kind = SW_OPT_STR, .name = "name", .shorts = "N", .arg = "NAME", .dst = &f->str,
         .check = no_slash, .expect = "no '/'", .help = "a name"},
        SW_OPT_LIST_("to", "t", "ADDR", f->list, &f->nlist, "repeatable"),
        SW_OPT_ENUM_("color", NULL, "WHEN", &f->color, colors, "auto", "colour"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    f->spec = (sw_cli_spec_t){.cmd = "t", .usage = "usage: swarm t\n", .opts = opts, .pos = pos,
                              .own_help = true};
    snprintf(f->buf, sizeof f->buf, "t %s", line);
    int argc = 0;
    for (char *tok = strtok(f->buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
        f->argv[argc++] = tok;
    int status = -1;
    bool go = sw__cli_parse(&f->c, &f->spec, argc, f->argv, &status);
    if (go)
        assert_int_equal(status, 0);
    else
        assert_true(status == SW_EXIT_USAGE || status == SW_EXIT_OK);
    return go ? -1 : status;
}

static const char *const any[] = {"ARGS...", NULL};

static void test_kinds(void **state)
{
    (void)state;
    fixture_t f;
    assert_int_equal(run(&f, "", any), -1);
    assert_int_equal(f.n, 8);          // defaults from the table
    assert_int_equal(f.dur, 30000);
    assert_false(f.dur_seen);
    assert_int_equal(f.color, 0);
    assert_int_equal(f.set, -1);

    assert_int_equal(run(&f, "-f --n=5 --chunk 4k --wait 1.5 --name x -t a --to=b --color never "
                             "--on --off --json -vq", any), -1);
    assert_true(f.flag);
    assert_int_equal(f.n, 5);
    assert_int_equal(f.bytes, 4096);
    assert_int_equal(f.dur, 1500);
    assert_true(f.dur_seen);
    assert_string_equal(f.str, "x");
    assert_int_equal(f.nlist, 2);
    assert_string_equal(f.list[0], "a");
    assert_string_equal(f.list[1], "b");
    assert_int_equal(f.color, 2);
    assert_int_equal(f.set, 0);        // the last of --on/--off
    assert_true(f.c.json && f.c.quiet);
    assert_int_equal(f.c.verbose, 1);

    assert_int_equal(run(&f, "-fn7 -vvv --timeout 250ms", any), -1); // bundle; value attached
    assert_true(f.flag);
    assert_int_equal(f.n, 7);
    assert_int_equal(f.c.verbose, 3);
    assert_int_equal(f.c.timeout_ms, 250);

    assert_int_equal(run(&f, "--old 20ms", any), -1);
    assert_int_equal(f.old_ms, 20);
    assert_int_equal(run(&f, "-q --old 20", any), -1); // a small bare one: seconds
    assert_int_equal(f.old_ms, 20000);

    static const char *bad[] = {
        "--n 0", "--n 65", "--n x", "--n", "--chunk 4q", "--wait 2x", "--wait 2h",
        "--name a/b", "--name=", "-t a -t b -t c", "--color red", "--flag=1", "--old 50",
        "--nope", "-x", "-fx", "--timeout -1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (run(&f, bad[i], any) != SW_EXIT_USAGE)
            fail_msg("'%s' is accepted", bad[i]);
}

static void test_positional(void **state)
{
    (void)state;
    fixture_t f;
    static const char *const two[] = {"LINK", "PATH", "[MORE]", NULL};
    assert_int_equal(run(&f, "a -f b", two), -1);
    assert_int_equal(f.spec.narg, 2);
    assert_string_equal(f.spec.arg[0], "a");
    assert_string_equal(f.spec.arg[1], "b");
    assert_true(f.flag);
    assert_int_equal(run(&f, "a", two), SW_EXIT_USAGE);
    assert_int_equal(run(&f, "", two), SW_EXIT_USAGE);
    assert_int_equal(run(&f, "a b c d", two), SW_EXIT_USAGE);
    assert_int_equal(run(&f, "a b -5", two), -1); // a negative number is an argument
    assert_string_equal(f.spec.arg[2], "-5");

    // "--": what follows is an argument, even when it looks like an option
    assert_int_equal(run(&f, "x -- -f --nope", any), -1);
    assert_false(f.flag);
    assert_true(f.spec.dashdash);
    assert_int_equal(f.spec.before_dashdash, 1);
    assert_int_equal(f.spec.narg, 3);
    assert_string_equal(f.spec.arg[1], "-f");
    assert_string_equal(f.spec.arg[2], "--nope");

    static const char *const none[] = {NULL};
    assert_int_equal(run(&f, "stray", none), SW_EXIT_USAGE);

    // --help: the parse goes on collecting arguments (a command may show a sub-help) and
    // takes no value from the rest
    assert_int_equal(run(&f, "--help ls --n 99 --bogus", any), -1);
    assert_true(f.spec.help);
    assert_int_equal(f.spec.narg, 1);
    assert_string_equal(f.spec.arg[0], "ls");
    assert_int_equal(f.n, 8);
}

static void test_help_text(void **state)
{
    (void)state;
    fixture_t f;
    run(&f, "", any);
    static const char *const colors[] = {"auto", "always", "never", NULL};
    const sw_opt_t opts[] = {
        SW_OPT_UINT_("window", NULL, "N", &f.n, 1, 64, "8", "chunk requests in flight"),
        {.kind = SW_OPT_DURATION, .name = "wait", .arg = "TIME", .dst = &f.dur,
         .size = sizeof f.dur, .min = 1000, .max = 3600000, .def = "30s",
         .flags = SW_OPT_F_RANGE, .help = "how long to wait for the device to come back"},
        SW_OPT_ENUM_("color", NULL, "WHEN", &f.color, colors, "auto", "colour"),
        {.kind = SW_OPT_FLAG, .name = "secret", .dst = &f.flag, .flags = SW_OPT_F_HIDDEN},
        SW_OPT_END_,
    };
    sw_cli_spec_t spec = {.cmd = "t", .usage = "usage: swarm t [options]\n", .opts = opts,
                          .globals = "--timeout: per answer", .after = "examples:\n  x\n"};
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    assert_non_null(m);
    sw__cli_help(&spec, m);
    fclose(m);
    const char *want[] = {
        "usage: swarm t [options]\n\noptions:\n",
        "\n  --window N          chunk requests in flight (default 8)\n",
        ("\n  --wait TIME         how long to wait for the device to come back (1s-1h,\n"
         "                      default 30s)\n"),
        "\n  --color WHEN        colour (default auto)\n",
        ("\n  --json, -q, -v, --timeout TIME, --allow-open   as in 'swarm --help';\n"
         "                      --timeout: per answer\n"),
        "a bare number is seconds",
        "\nexamples:\n  x\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("--help lacks '%s':\n%s", want[i], text);
    assert_null(strstr(text, "secret"));
    for (char *line = text; *line;) { // nothing wider than 79 columns
        size_t len = strcspn(line, "\n");
        if (len > 79)
            fail_msg("a line of %zu columns: %.*s", len, (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_help_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
