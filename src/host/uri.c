// Link URIs (hlink.h): tcp://HOST[:PORT], unix://PATH,
// serial://DEV?baud=&mode=&start=&window=&timeout=&max_msg=, and bare HOST[:PORT]. Errors
// name the part of the text that is wrong, because users type these.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "hlink.h"
#include "swarm/sp.h"
#include "swarm/topic.h"

#define DEFAULT_PORT 27587
#define DEFAULT_BAUD 115200

// The rates termios can set on Linux (as swarm-node --baud accepts).
static const uint32_t rates[] = {
    1200,    2400,    4800,    9600,    19200,   38400,   57600,   115200,  230400,  460800, 500000,
    576000,  921600,  1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
};

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return SW_EINVAL;
}

// Decimal digits only, no sign, no spaces; false on anything else or overflow past max.
static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

// "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or an unbracketed IPv6 address (more than one
// colon, no port). what = "tcp://…" or the bare text, for messages.
static int parse_hostport(const char *s, sw_uri_t *u, const char *what, char *err, size_t cap)
{
    size_t n = strlen(s);
    const char *host = s, *port = NULL;
    size_t hlen = n;
    if (n && s[n - 1] == '/')
        hlen = --n; // "tcp://host:1234/" is common in copy-paste
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return fail(err, cap, "missing ']' after the IPv6 address in '%s'", what);
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < s + n) {
            if (close[1] != ':')
                return fail(err, cap, "unexpected '%.*s' after ']' in '%s' (expected ':PORT')",
                            (int)(s + n - close - 1), close + 1, what);
            port = close + 2;
        }
    } else {
        const char *c1 = memchr(s, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(s + n - c1 - 1)) : NULL;
        if (c1 && !c2) {
            hlen = (size_t)(c1 - s);
            port = c1 + 1;
        } // two or more colons: a bare IPv6 address without a port
    }
    if (hlen == 0)
        return fail(err, cap, "no host name in '%s'", what);
    if (hlen >= sizeof u->host)
        return fail(err, cap, "host name too long in '%s' (at most %zu bytes)", what,
                    sizeof u->host - 1);
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == '/' || c == '?' || c == '#' || c == '@' || c == '[' || c == ']' ||
            c >= 0x7f)
            return fail(err, cap, "bad character '%c' in the host name of '%s'",
                        c >= 0x7f || c < ' ' ? '?' : c, what);
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = 0;
    u->port = DEFAULT_PORT;
    if (port) {
        size_t plen = (size_t)(s + n - port);
        uint64_t v;
        if (!parse_uint(port, plen, 65535, &v) || v == 0)
            return fail(err, cap, "bad port '%.*s' in '%s' (use 1..65535)", (int)plen, port, what);
        u->port = (uint16_t)v;
    }
    return 0;
}

static int parse_baud(const char *v, size_t n, sw_uri_t *u, char *err, size_t cap)
{
    uint64_t b;
    if (parse_uint(v, n, UINT32_MAX, &b))
        for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
            if (rates[i] == b) {
                u->baud = (uint32_t)b;
                return 0;
            }
    return fail(err, cap, "bad baud rate '%.*s' (use a standard rate: 9600, 19200, 38400, "
                          "57600, 115200, 230400, 460800, 921600, …)", (int)n, v);
}

static int parse_start(const char *v, size_t n, sw_uri_t *u, char *err, size_t cap)
{
    uint64_t b;
    if (n == 4 && !strncasecmp(v, "none", 4)) {
        u->start = -1;
        return 0;
    }
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        b = 0;
        size_t i;
        for (i = 2; i < n && i < 6; i++) {
            char c = v[i];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                break;
            b = b * 16 + (uint64_t)d;
        }
        if (i == n && b <= 255) {
            u->start = (int)b;
            return 0;
        }
    } else if (parse_uint(v, n, 255, &b)) {
        u->start = (int)b;
        return 0;
    }
    return fail(err, cap, "bad start byte '%.*s' (use 0xc1, 0x85, none, or 0..255)", (int)n, v);
}

// A Reliable setting of a lossy link: a decimal number in lo..hi.
static int parse_rel(const char *k, const char *v, size_t n, uint32_t lo, uint32_t hi,
                     uint32_t *out, char *err, size_t cap)
{
    uint64_t x;
    if (parse_uint(v, n, hi, &x) && x >= lo) {
        *out = (uint32_t)x;
        return 0;
    }
    return fail(err, cap, "bad %s '%.*s' (use %u..%u)", k, (int)n, v, (unsigned)lo, (unsigned)hi);
}

// The query of a serial URI: key=value pairs joined by '&'.
static int parse_query(const char *q, sw_uri_t *u, char *err, size_t cap)
{
    const char *lossy_only = NULL; // an option that needs mode=lossy
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        if (n == 0) {
            q++;
            continue;
        }
        if (!eq)
            return fail(err, cap, "option '%.*s' has no value (write key=value)", (int)n, q);
        size_t klen = (size_t)(eq - q), vlen = n - klen - 1;
        const char *v = eq + 1;
        int rc;
        if (klen == 4 && !memcmp(q, "baud", 4)) {
            rc = parse_baud(v, vlen, u, err, cap);
        } else if (klen == 4 && !memcmp(q, "mode", 4)) {
            if (vlen == 5 && !memcmp(v, "lossy", 5))
                u->lossy = true;
            else if ((vlen == 8 && !memcmp(v, "lossless", 8)) || (vlen == 6 && !memcmp(v, "stream", 6)))
                u->lossy = false;
            else
                return fail(err, cap, "bad mode '%.*s' (use lossy or lossless)", (int)vlen, v);
            rc = 0;
        } else if (klen == 5 && !memcmp(q, "start", 5)) {
            rc = parse_start(v, vlen, u, err, cap);
            lossy_only = "start";
        } else if (klen == 6 && !memcmp(q, "window", 6)) {
            uint32_t x = 0;
            rc = parse_rel("window", v, vlen, 4, SW_REL_MAX_WINDOW, &x, err, cap);
            u->window = (uint8_t)x;
            lossy_only = "window";
        } else if (klen == 7 && !memcmp(q, "timeout", 7)) {
            rc = parse_rel("timeout", v, vlen, 1, 600000, &u->timeout_ms, err, cap);
            lossy_only = "timeout";
        } else if (klen == 7 && !memcmp(q, "max_msg", 7)) {
            uint32_t x = 0;
            rc = parse_rel("max_msg", v, vlen, 16, SW_HLINK_SERIAL_MAX_MSG, &x, err, cap);
            u->max_msg = (uint16_t)x;
            lossy_only = "max_msg";
        } else {
            return fail(err, cap, "unknown option '%.*s' in a serial:// link (use baud, mode, "
                        "start, window, timeout, max_msg)", (int)klen, q);
        }
        if (rc)
            return rc;
        q += n;
        if (*q == '&')
            q++;
    }
    if (lossy_only && !u->lossy)
        return fail(err, cap, "%s= applies to mode=lossy only (add mode=lossy)", lossy_only);
    return 0;
}

// mqtt[s]://BROKER[:PORT]/FLEET/HOST (also the broker alone, BROKER[:PORT][/FLEET], for scans
// and pushes: fleet and node are then empty).
static int parse_mqtt(const char *rest, bool tls, sw_uri_t *u, const char *what, char *err, size_t cap)
{
    u->kind = SW_URI_MQTT;
    u->tls = tls;
    if (strchr(rest, '?'))
        return fail(err, cap, "mqtt:// links take no options ('%s')", strchr(rest, '?'));
    size_t hl = strcspn(rest, "/");
    char hp[300];
    if (hl == 0 || hl >= sizeof hp)
        return fail(err, cap, "no broker in '%s' (e.g. mqtt://broker:1883/FLEET/HOST)", what);
    memcpy(hp, rest, hl);
    hp[hl] = 0;
    u->port = 0;
    int rc = parse_hostport(hp, u, what, err, cap);
    if (rc)
        return rc;
    // no port given: parse_hostport's default is RPC's, not MQTT's
    const char *after = hp[0] == '[' ? strchr(hp, ']') : hp;
    const char *colon = after ? strchr(after, ':') : NULL;
    if (!colon || (hp[0] != '[' && strchr(colon + 1, ':'))) // (an unbracketed IPv6 address)
        u->port = tls ? 8883 : 1883;
    const char *p = rest + hl;
    if (*p == '/')
        p++;
    size_t fl = strcspn(p, "/");
    if (fl) {
        if (!sw_topic_level_ok(p, fl) || fl >= sizeof u->fleet)
            return fail(err, cap, "bad fleet '%.*s' in '%s' (no '+', '#', at most %zu bytes)", (int)fl, p,
                        what, sizeof u->fleet - 1);
        memcpy(u->fleet, p, fl);
        u->fleet[fl] = 0;
        p += fl;
        if (*p == '/')
            p++;
        size_t nl = strcspn(p, "/");
        if (nl) {
            if (!sw_topic_level_ok(p, nl) || nl >= sizeof u->node)
                return fail(err, cap, "bad node name '%.*s' in '%s'", (int)nl, p, what);
            memcpy(u->node, p, nl);
            u->node[nl] = 0;
            p += nl;
        }
        if (*p == '/')
            p++;
        if (*p)
            return fail(err, cap, "unexpected '%s' after the node name in '%s' (use "
                        "mqtt://BROKER[:PORT]/FLEET/HOST)", p, what);
    }
    return 0;
}

int sw_uri_parse(const char *s, sw_uri_t *u, char *err, size_t errcap)
{
    memset(u, 0, sizeof *u);
    u->baud = DEFAULT_BAUD;
    u->start = SW_SP_START_DEFAULT;
    if (err && errcap)
        err[0] = 0;
    if (!s || !*s)
        return fail(err, errcap, "empty link (use tcp://HOST[:PORT], unix:///PATH or "
                                 "serial:///DEV)");
    const char *sep = strstr(s, "://");
    if (!sep) {
        if (s[0] == '/' || s[0] == '.')
            return fail(err, errcap, "'%s' looks like a path: write serial://%s for a serial line "
                                     "or unix://%s for a multiplexer's socket", s, s, s);
        if (strchr(s, '/') || strchr(s, '?'))
            return fail(err, errcap, "'%s' is not a link (use tcp://HOST[:PORT], unix:///PATH or "
                                     "serial:///DEV)", s);
        u->kind = SW_URI_TCP;
        return parse_hostport(s, u, s, err, errcap);
    }
    size_t slen = (size_t)(sep - s);
    const char *rest = sep + 3;
    if (slen == 3 && !strncasecmp(s, "tcp", 3)) {
        u->kind = SW_URI_TCP;
        if (strchr(rest, '?'))
            return fail(err, errcap, "tcp:// links take no options ('%s')", strchr(rest, '?'));
        return parse_hostport(rest, u, s, err, errcap);
    }
    if ((slen == 4 && !strncasecmp(s, "mqtt", 4)) || (slen == 5 && !strncasecmp(s, "mqtts", 5)))
        return parse_mqtt(rest, slen == 5, u, s, err, errcap);
    bool is_unix = slen == 4 && !strncasecmp(s, "unix", 4);
    bool is_serial = slen == 6 && !strncasecmp(s, "serial", 6);
    if (!is_unix && !is_serial)
        return fail(err, errcap, "unknown scheme '%.*s' (use tcp://, unix://, serial:// or mqtt://)",
                    (int)slen, s);
    u->kind = is_unix ? SW_URI_UNIX : SW_URI_SERIAL;
    size_t plen = strcspn(rest, "?");
    if (plen == 0)
        return fail(err, errcap, "no path in '%s' (e.g. %s)", s,
                    is_unix ? "unix:///run/swarm/mux.sock" : "serial:///dev/ttyUSB0");
    size_t max = is_unix ? sizeof(((struct sockaddr_un *)0)->sun_path) - 1 : sizeof u->path - 1;
    if (plen > max)
        return fail(err, errcap, "path too long in '%s' (at most %zu bytes)", s, max);
    memcpy(u->path, rest, plen);
    u->path[plen] = 0;
    const char *q = rest + plen;
    if (*q == '?') {
        if (is_unix)
            return fail(err, errcap, "unix:// links take no options ('%s')", q);
        return parse_query(q + 1, u, err, errcap);
    }
    return 0;
}

void sw_uri_format(const sw_uri_t *u, char *buf, size_t cap)
{
    if (!cap)
        return;
    switch (u->kind) {
    case SW_URI_TCP:
        if (strchr(u->host, ':'))
            snprintf(buf, cap, "tcp://[%s]:%u", u->host, u->port);
        else
            snprintf(buf, cap, "tcp://%s:%u", u->host, u->port);
        break;
    case SW_URI_UNIX:
        snprintf(buf, cap, "unix://%s", u->path);
        break;
    case SW_URI_MQTT:
        snprintf(buf, cap, "%s://%s%s%s:%u%s%s%s%s", u->tls ? "mqtts" : "mqtt", strchr(u->host, ':') ? "[" : "",
                 u->host, strchr(u->host, ':') ? "]" : "", u->port, u->fleet[0] ? "/" : "", u->fleet,
                 u->node[0] ? "/" : "", u->node);
        break;
    case SW_URI_SERIAL: {
        char start[16] = "", window[16] = "", timeout[24] = "", max_msg[24] = "";
        if (u->lossy && u->start < 0)
            snprintf(start, sizeof start, "&start=none");
        else if (u->lossy && u->start != SW_SP_START_DEFAULT)
            snprintf(start, sizeof start, "&start=0x%02x", (unsigned)u->start & 0xff);
        if (u->lossy && u->window)
            snprintf(window, sizeof window, "&window=%u", u->window);
        if (u->lossy && u->timeout_ms)
            snprintf(timeout, sizeof timeout, "&timeout=%u", (unsigned)u->timeout_ms);
        if (u->lossy && u->max_msg)
            snprintf(max_msg, sizeof max_msg, "&max_msg=%u", u->max_msg);
        snprintf(buf, cap, "serial://%s?baud=%u%s%s%s%s%s", u->path, u->baud,
                 u->lossy ? "&mode=lossy" : "", start, window, timeout, max_msg);
        break;
    }
    default:
        snprintf(buf, cap, "(no link)");
    }
}
