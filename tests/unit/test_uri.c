// Link URIs (src/host/uri.c): every form of hlink.h with its defaults, each error naming the
// bad part, the canonical text, and random input: never a crash, always a terminated message,
// and whatever parses reads back the same from its canonical text.
#define _GNU_SOURCE
#include "testutil.h"

#include "hlink.h"

static sw_uri_t parse_ok(const char *s)
{
    sw_uri_t u;
    char err[256] = "untouched";
    int rc = sw_uri_parse(s, &u, err, sizeof err);
    if (rc)
        fail_msg("'%s': %s", s, err);
    assert_string_equal(err, "");
    return u;
}

// Parsing fails with SW_EINVAL and the message contains `part`.
static void parse_bad(const char *s, const char *part)
{
    sw_uri_t u;
    char err[256] = "";
    assert_int_equal(sw_uri_parse(s, &u, err, sizeof err), SW_EINVAL);
    if (!strstr(err, part))
        fail_msg("'%s': message '%s' does not mention '%s'", s, err, part);
}

static void expect_format(const char *s, const char *want)
{
    sw_uri_t u = parse_ok(s);
    char buf[600];
    sw_uri_format(&u, buf, sizeof buf);
    if (strcmp(buf, want))
        fail_msg("'%s' formats as '%s', want '%s'", s, buf, want);
}

static void test_tcp(void **state)
{
    (void)state;
    sw_uri_t u = parse_ok("tcp://node1");
    assert_int_equal(u.kind, SW_URI_TCP);
    assert_string_equal(u.host, "node1");
    assert_int_equal(u.port, 27587);

    u = parse_ok("tcp://192.168.1.20:1234");
    assert_string_equal(u.host, "192.168.1.20");
    assert_int_equal(u.port, 1234);

    u = parse_ok("TCP://host.example:65535/");
    assert_string_equal(u.host, "host.example");
    assert_int_equal(u.port, 65535);

    u = parse_ok("tcp://[::1]:99");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 99);

    u = parse_ok("tcp://[fe80::1%eth0]");
    assert_string_equal(u.host, "fe80::1%eth0");
    assert_int_equal(u.port, 27587);
}

static void test_bare(void **state)
{
    (void)state;
    sw_uri_t u = parse_ok("kitchen");
    assert_int_equal(u.kind, SW_URI_TCP);
    assert_string_equal(u.host, "kitchen");
    assert_int_equal(u.port, 27587);

    u = parse_ok("kitchen:27600");
    assert_string_equal(u.host, "kitchen");
    assert_int_equal(u.port, 27600);

    u = parse_ok("::1"); // more than one colon: an IPv6 address without a port
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 27587);

    u = parse_ok("[2001:db8::5]:7");
    assert_string_equal(u.host, "2001:db8::5");
    assert_int_equal(u.port, 7);
}

static void test_unix(void **state)
{
    (void)state;
    sw_uri_t u = parse_ok("unix:///run/swarm/mux.sock");
    assert_int_equal(u.kind, SW_URI_UNIX);
    assert_string_equal(u.path, "/run/swarm/mux.sock");
    u = parse_ok("unix://mux.sock"); // relative paths are allowed
    assert_string_equal(u.path, "mux.sock");
}

static void test_serial(void **state)
{
    (void)state;
    sw_uri_t u = parse_ok("serial:///dev/ttyUSB0");
    assert_int_equal(u.kind, SW_URI_SERIAL);
    assert_string_equal(u.path, "/dev/ttyUSB0");
    assert_int_equal(u.baud, 115200);
    assert_false(u.lossy);
    assert_int_equal(u.start, 0xC1);

    u = parse_ok("serial:///dev/ttyS1?baud=921600&mode=lossy&start=0x85");
    assert_string_equal(u.path, "/dev/ttyS1");
    assert_int_equal(u.baud, 921600);
    assert_true(u.lossy);
    assert_int_equal(u.start, 0x85);

    u = parse_ok("serial:///dev/ttyS1?mode=lossy&start=none");
    assert_int_equal(u.start, -1);
    u = parse_ok("serial:///dev/ttyS1?start=0xC1&mode=lossy"); // order does not matter
    assert_int_equal(u.start, 0xC1);
    assert_true(u.lossy);
    u = parse_ok("serial:///dev/ttyS1?mode=lossy&start=133");
    assert_int_equal(u.start, 133);
    u = parse_ok("serial:///dev/ttyS1?mode=lossless&baud=9600&");
    assert_false(u.lossy);
    assert_int_equal(u.baud, 9600);
    assert_int_equal(u.window, 0); // Reliable's settings: the defaults
    assert_int_equal(u.timeout_ms, 0);
    assert_int_equal(u.max_msg, 0);

    u = parse_ok("serial:///dev/ttyS1?baud=9600&mode=lossy&window=16&timeout=300&max_msg=256");
    assert_int_equal(u.window, 16);
    assert_int_equal(u.timeout_ms, 300);
    assert_int_equal(u.max_msg, 256);
    u = parse_ok("serial:///dev/ttyS1?window=4&mode=lossy&timeout=600000&max_msg=8192");
    assert_int_equal(u.window, 4);
    assert_int_equal(u.timeout_ms, 600000);
    assert_int_equal(u.max_msg, 8192);
}

static void test_mqtt(void **state)
{
    (void)state;
    sw_uri_t u = parse_ok("mqtt://broker.lab/lab/node-7");
    assert_int_equal(u.kind, SW_URI_MQTT);
    assert_string_equal(u.host, "broker.lab");
    assert_int_equal(u.port, 1883);
    assert_false(u.tls);
    assert_string_equal(u.fleet, "lab");
    assert_string_equal(u.node, "node-7");
    u = parse_ok("mqtts://10.0.0.1:9883/f/n/");
    assert_true(u.tls);
    assert_int_equal(u.port, 9883);
    u = parse_ok("mqtts://b");
    assert_int_equal(u.port, 8883);
    assert_string_equal(u.fleet, "");
    u = parse_ok("mqtt://[::1]/lab");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 1883);
    assert_string_equal(u.fleet, "lab");
    assert_string_equal(u.node, "");
    expect_format("MQTT://b:1/lab/n", "mqtt://b:1/lab/n");
    expect_format("mqtts://[::1]/lab", "mqtts://[::1]:8883/lab");
    parse_bad("mqtt:///lab/n", "no broker");
    parse_bad("mqtt://b/la+b/n", "bad fleet");
    parse_bad("mqtt://b/lab/n#", "bad node name");
    parse_bad("mqtt://b/lab/n/extra", "unexpected 'extra'");
    parse_bad("mqtt://b:0/lab/n", "bad port");
    parse_bad("mqtt://b/lab/n?x=1", "take no options");
}

static void test_errors(void **state)
{
    (void)state;
    parse_bad("", "empty link");
    parse_bad("ftp://x", "unknown scheme 'ftp'");
    parse_bad("tcp://", "no host name");
    parse_bad("tcp://:80", "no host name");
    parse_bad("tcp://host:0", "bad port '0'");
    parse_bad("tcp://host:65536", "bad port '65536'");
    parse_bad("tcp://host:12ab", "bad port '12ab'");
    parse_bad("tcp://host:", "bad port ''");
    parse_bad("tcp://[::1", "missing ']'");
    parse_bad("tcp://[::1]x", "unexpected 'x'");
    parse_bad("tcp://host?baud=1", "tcp:// links take no options");
    parse_bad("tcp://ho st", "bad character ' '");
    parse_bad("host/path", "is not a link");
    parse_bad("/dev/ttyUSB0", "serial:///dev/ttyUSB0");
    parse_bad("unix://", "no path");
    parse_bad("unix:///a.sock?x=1", "unix:// links take no options");
    parse_bad("serial://?baud=9600", "no path");
    parse_bad("serial:///dev/x?baud=12345", "bad baud rate '12345'");
    parse_bad("serial:///dev/x?baud=", "bad baud rate ''");
    parse_bad("serial:///dev/x?mode=fast", "bad mode 'fast'");
    parse_bad("serial:///dev/x?mode=lossy&start=0x1ff", "bad start byte '0x1ff'");
    parse_bad("serial:///dev/x?mode=lossy&start=256", "bad start byte '256'");
    parse_bad("serial:///dev/x?mode=lossy&start=abc", "bad start byte 'abc'");
    parse_bad("serial:///dev/x?color=red", "unknown option 'color'");
    parse_bad("serial:///dev/x?baud", "option 'baud' has no value");
    parse_bad("serial:///dev/x?start=0x85", "mode=lossy");
    parse_bad("serial:///dev/x?window=8", "window= applies to mode=lossy");
    parse_bad("serial:///dev/x?timeout=300&mode=lossless", "timeout= applies to mode=lossy");
    parse_bad("serial:///dev/x?mode=lossy&window=3", "bad window '3' (use 4..16)");
    parse_bad("serial:///dev/x?mode=lossy&window=17", "bad window '17'");
    parse_bad("serial:///dev/x?mode=lossy&timeout=0", "bad timeout '0' (use 1..600000)");
    parse_bad("serial:///dev/x?mode=lossy&timeout=1s", "bad timeout '1s'");
    parse_bad("serial:///dev/x?mode=lossy&max_msg=15", "bad max_msg '15' (use 16..8192)");
    parse_bad("serial:///dev/x?mode=lossy&max_msg=99999999999999999999999", "bad max_msg");

    char longhost[300];
    memset(longhost, 'a', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = 0;
    parse_bad(longhost, "host name too long");
    char longpath[200] = "unix:///";
    memset(longpath + 8, 'p', 150);
    longpath[158] = 0;
    parse_bad(longpath, "path too long");

    // a small error buffer is filled, truncated and terminated, never overrun
    char small[8];
    memset(small, 'x', sizeof small);
    sw_uri_t u;
    assert_int_equal(sw_uri_parse("ftp://x", &u, small, sizeof small), SW_EINVAL);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(sw_uri_parse("ftp://x", &u, NULL, 0), SW_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    expect_format("kitchen", "tcp://kitchen:27587");
    expect_format("tcp://[::1]:9", "tcp://[::1]:9");
    expect_format("::1", "tcp://[::1]:27587");
    expect_format("unix:///run/m.sock", "unix:///run/m.sock");
    expect_format("serial:///dev/ttyS0", "serial:///dev/ttyS0?baud=115200");
    expect_format("serial:///dev/ttyS0?mode=lossy", "serial:///dev/ttyS0?baud=115200&mode=lossy");
    expect_format("serial:///dev/ttyS0?mode=lossy&start=0x85&baud=57600",
                  "serial:///dev/ttyS0?baud=57600&mode=lossy&start=0x85");
    expect_format("serial:///dev/ttyS0?mode=lossy&start=none",
                  "serial:///dev/ttyS0?baud=115200&mode=lossy&start=none");
    expect_format("serial:///dev/ttyS0?timeout=300&mode=lossy&window=16&baud=9600",
                  "serial:///dev/ttyS0?baud=9600&mode=lossy&window=16&timeout=300");
    expect_format("serial:///dev/ttyS0?max_msg=512&mode=lossy&start=0x85",
                  "serial:///dev/ttyS0?baud=115200&mode=lossy&start=0x85&max_msg=512");
    char tiny[6];
    sw_uri_t u = parse_ok("tcp://abcdefgh");
    sw_uri_format(&u, tiny, sizeof tiny);
    assert_string_equal(tiny, "tcp:/");
}

static bool same(const sw_uri_t *a, const sw_uri_t *b)
{
    return a->kind == b->kind && !strcmp(a->host, b->host) && a->port == b->port &&
           !strcmp(a->path, b->path) && a->baud == b->baud && a->lossy == b->lossy &&
           a->start == b->start && a->window == b->window && a->timeout_ms == b->timeout_ms &&
           a->max_msg == b->max_msg && a->tls == b->tls && !strcmp(a->fleet, b->fleet) &&
           !strcmp(a->node, b->node);
}

// Random texts built from URI-ish pieces: parse never crashes, an error always has a message,
// and a parsed URI reads back identically from its canonical text.
static void test_random(void **state)
{
    (void)state;
    static const char *pieces[] = {
        "tcp://", "unix://", "serial://", "ftp://", "/", "/dev/tty", "host", "[", "]", "::1",
        ":", "27587", "0", "99999", "?", "&", "=", "baud", "mode", "lossy", "lossless", "start",
        "0x85", "0xc1", "none", "115200", "%", " ", "\x01", "\xc3\xa5", "..", "a.b", "",
        "window", "timeout", "max_msg", "16", "300", "mode=lossy&", "mqtt://", "mqtts://", "lab",
        "/lab/n1", "+", "#",
    };
    tu_rng_t r = {0x5eed0417u};
    int ok = 0;
    for (int round = 0; round < 20000; round++) {
        char s[256] = "";
        size_t len = 0;
        int n = (int)tu_below(&r, 8);
        for (int i = 0; i < n; i++) {
            const char *p = pieces[tu_below(&r, sizeof pieces / sizeof pieces[0])];
            size_t k = strlen(p);
            if (len + k >= sizeof s)
                break;
            memcpy(s + len, p, k + 1);
            len += k;
        }
        sw_uri_t u, v;
        char err[128];
        memset(err, 'x', sizeof err);
        int rc = sw_uri_parse(s, &u, err, sizeof err);
        assert_non_null(memchr(err, 0, sizeof err));
        if (rc) {
            assert_int_equal(rc, SW_EINVAL);
            assert_true(err[0] != 0);
            continue;
        }
        ok++;
        char text[600];
        sw_uri_format(&u, text, sizeof text);
        if (sw_uri_parse(text, &v, err, sizeof err))
            fail_msg("'%s' → '%s' does not parse: %s", s, text, err);
        if (!same(&u, &v))
            fail_msg("'%s' → '%s' reads back differently", s, text);
    }
    assert_true(ok > 500); // the generator does reach valid URIs
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_bare),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_mqtt),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
