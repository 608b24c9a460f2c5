// swarm FTP, the pure parts: command lines out of received bytes (Telnet commands removed,
// length bounded), verb and argument, paths against a working directory, and the replies whose
// format clients parse (PASV, EPSV, timestamps, `ls -l` lines, MLSx facts). No I/O, no heap.
#include <limits.h>
#include <string.h>

#include "swarm/ftp.h"
#include "swarm/path.h"
#include "swarm/port.h"

///////////////////////////////////////////////////////////////////////////////////////////////
// Lines

// Telnet (RFC 854) bytes
enum { T_SE = 240, T_SB = 250, T_WILL = 251, T_DONT = 254, T_IAC = 255 };
// Parser states
enum { S_DATA, S_IAC, S_OPT, S_SB, S_SB_IAC };

void sw_ftp_lines_init(sw_ftp_lines_t *l, char *buf, size_t cap)
{
    memset(l, 0, sizeof *l);
    l->buf = buf;
    l->cap = cap;
    if (buf && cap)
        buf[0] = 0;
}

static void put_byte(sw_ftp_lines_t *l, uint8_t b)
{
    if (l->overlong)
        return;
    if (l->len + 1 >= l->cap) {
        l->overlong = true;
        return;
    }
    l->buf[l->len++] = (char)b;
}

// A data byte (after Telnet processing). True when it ended a line.
static bool data_byte(sw_ftp_lines_t *l, uint8_t b)
{
    if (b == '\n') {
        l->crs = 0; // CRs right before LF are the line end
        return true;
    }
    if (b == '\r') {
        l->crs++;
        return false;
    }
    for (; l->crs && !l->overlong; l->crs--)
        put_byte(l, '\r');
    l->crs = 0;
    put_byte(l, b);
    return false;
}

int sw_ftp_lines_feed(sw_ftp_lines_t *l, const uint8_t *p, size_t n, size_t *used)
{
    *used = 0;
    if (!l->buf || l->cap < 2)
        return SW_EINVAL;
    if (l->done) {
        l->done = false;
        l->len = 0;
        l->crs = 0;
        l->overlong = false;
        l->buf[0] = 0;
    }
    for (size_t k = 0; k < n; k++) {
        uint8_t b = p[k];
        bool end = false;
        switch (l->iac) {
        case S_DATA:
            if (b == T_IAC)
                l->iac = S_IAC;
            else
                end = data_byte(l, b);
            break;
        case S_IAC:
            if (b == T_IAC) {
                l->iac = S_DATA;
                end = data_byte(l, b); // escaped 0xFF
            } else if (b >= T_WILL && b <= T_DONT) {
                l->iac = S_OPT;
            } else if (b == T_SB) {
                l->iac = S_SB;
            } else {
                l->iac = S_DATA; // IP, DM, AYT, …: a two-byte command, dropped
            }
            break;
        case S_OPT:
            l->iac = S_DATA; // the option byte of WILL/WONT/DO/DONT
            break;
        case S_SB:
            if (b == T_IAC)
                l->iac = S_SB_IAC;
            break;
        default: // S_SB_IAC
            l->iac = b == T_SE ? S_DATA : S_SB;
            break;
        }
        if (end) {
            *used = k + 1;
            l->done = true;
            l->buf[l->len] = 0;
            return l->overlong ? SW_ETOOBIG : 1;
        }
    }
    *used = n;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Commands

static const char verbs[SW_FTP_NVERBS][5] = {
    "", "ABOR", "ALLO", "APPE", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP", "LIST",
    "MDTM", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PORT", "PWD",
    "QUIT", "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STAT", "STOR", "STRU", "SYST",
    "TYPE", "USER",
};

// RFC 775's experimental names, still sent by some clients.
static const struct {
    char name[5];
    sw_ftp_verb_t verb;
} aliases[] = {
    {"XPWD", SW_FTP_PWD}, {"XCWD", SW_FTP_CWD}, {"XCUP", SW_FTP_CDUP},
    {"XMKD", SW_FTP_MKD}, {"XRMD", SW_FTP_RMD},
};

const char *sw_ftp_verb_name(sw_ftp_verb_t v)
{
    return (unsigned)v < SW_FTP_NVERBS ? verbs[v] : "";
}

static bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

int sw_ftp_parse(const char *line, size_t n, sw_ftp_cmd_t *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->arg = line ? line + n : "";
    if (!line || !n)
        return SW_EINVAL;
    size_t v = 0;
    while (v < n && line[v] != ' ') {
        if (v < 4)
            cmd->name[v] = upper(line[v]);
        v++;
    }
    cmd->name[v < 4 ? v : 4] = 0;
    if (memchr(line, 0, n))
        return SW_EINVAL;
    if (v == 0)
        return SW_EINVAL;
    for (size_t k = 0; k < v; k++)
        if (!is_alpha(line[k]))
            return SW_EINVAL;
    size_t a = v;
    while (a < n && line[a] == ' ')
        a++;
    cmd->arg = line + a;
    cmd->arg_len = n - a;
    if (v > 4)
        return 0; // SW_FTP_UNKNOWN
    for (int k = 1; k < SW_FTP_NVERBS; k++)
        if (!strcmp(verbs[k], cmd->name)) {
            cmd->verb = (sw_ftp_verb_t)k;
            return 0;
        }
    for (size_t k = 0; k < sizeof aliases / sizeof aliases[0]; k++)
        if (!strcmp(aliases[k].name, cmd->name)) {
            cmd->verb = aliases[k].verb;
            return 0;
        }
    return 0;
}

void sw_ftp_list_arg(const char *arg, size_t n, const char **opts, size_t *opts_len,
                     const char **path, size_t *path_len)
{
    size_t k = 0;
    if (!arg)
        arg = "", n = 0;
    while (k < n && arg[k] == ' ')
        k++;
    *opts = arg + k;
    size_t oend = k;
    while (k < n && arg[k] == '-') {
        while (k < n && arg[k] != ' ')
            k++;
        oend = k;
        while (k < n && arg[k] == ' ')
            k++;
    }
    *opts_len = oend - (size_t)(*opts - arg);
    *path = arg + k;
    *path_len = n - k;
}

// The segment of s ending just before `end`: returns its start.
static size_t seg_start(const char *s, size_t end)
{
    while (end > 0 && s[end - 1] != '/')
        end--;
    return end;
}

int sw_ftp_path(const char *cwd, const char *p, size_t n, char *out, size_t cap)
{
    if (!p && n)
        return SW_EINVAL;
    if (n && p[0] == '/')
        return sw_path_norm(p, n, out, cap);
    if (!cwd)
        cwd = "";
    // p's kept names, and the ".." left over, which climb out of cwd (path.c's walk)
    size_t skip;
    int names = sw_path_walk(p, n, NULL, 0, &skip);
    if (names < 0)
        return names;
    size_t cl = strlen(cwd);
    for (; skip && cl; skip--) {
        size_t s = seg_start(cwd, cl);
        cl = s ? s - 1 : 0;
    }
    if (skip)
        return SW_EPERM;
    size_t total = cl + (cl && names ? 1 : 0) + (size_t)names;
    if (!out || cap == 0 || total > cap - 1 || total > (size_t)INT_MAX)
        return SW_ETOOBIG;
    memmove(out, cwd, cl);
    if (cl && names)
        out[cl] = '/';
    out[total] = 0;
    sw_path_walk(p, n, out + total - (size_t)names, (size_t)names, &skip);
    return sw_path_reserved(out) ? SW_EPERM : (int)total;
}

bool sw_ftp_has_glob(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (s[k] == '*' || s[k] == '?')
            return true;
    return false;
}

bool sw_ftp_glob(const char *pat, size_t pn, const char *name, size_t nn)
{
    // Greedy with one resume point (the last '*'): a later '*' supersedes earlier ones, so
    // each name position is retried at most once per pattern position.
    size_t pi = 0, ni = 0, star = SIZE_MAX, mark = 0;
    while (ni < nn) {
        if (pi < pn && pat[pi] == '*') {
            star = pi++;
            mark = ni;
        } else if (pi < pn && (pat[pi] == '?' || pat[pi] == name[ni])) {
            pi++;
            ni++;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            ni = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && pat[pi] == '*')
        pi++;
    return pi == pn;
}

int sw_ftp_parse_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (!s || !n)
        return SW_EINVAL;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return SW_EINVAL;
        unsigned d = (unsigned)(s[k] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return SW_EINVAL;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Formatting: a bounded writer; any overflow makes the whole result "" and 0.

typedef struct {
    char *p;
    size_t cap, len;
    bool bad;
} out_t;

static void o_init(out_t *o, char *p, size_t cap)
{
    o->p = p;
    o->cap = cap;
    o->len = 0;
    o->bad = !p || cap == 0;
}

static void o_mem(out_t *o, const char *s, size_t n)
{
    if (o->bad || n >= o->cap - o->len) {
        o->bad = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void o_str(out_t *o, const char *s) { o_mem(o, s, strlen(s)); }
static void o_chr(out_t *o, char c) { o_mem(o, &c, 1); }

// v in decimal, right-aligned to `width` with `pad`.
static void o_num(out_t *o, uint64_t v, unsigned width, char pad)
{
    char d[24];
    size_t k = sizeof d;
    do {
        d[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t have = sizeof d - k; have < width; have++)
        o_chr(o, pad);
    o_mem(o, d + k, sizeof d - k);
}

static size_t o_end(out_t *o)
{
    if (o->bad) {
        if (o->p && o->cap)
            o->p[0] = 0;
        return 0;
    }
    o->p[o->len] = 0;
    return o->len;
}

// "a.b.c.d" (or "::ffff:a.b.c.d") → 4 bytes.
static bool parse_ip4(const char *ip, uint8_t q[4])
{
    if (!ip)
        return false;
    static const char mapped[] = "::ffff:";
    size_t m = sizeof mapped - 1, k = 0;
    while (k < m && ip[k] && (ip[k] == mapped[k] || upper(ip[k]) == upper(mapped[k])))
        k++;
    if (k == m)
        ip += m;
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*ip >= '0' && *ip <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*ip++ - '0');
            digits++;
        }
        if (!digits || digits > 3 || v > 255)
            return false;
        q[i] = (uint8_t)v;
        if (i < 3 && *ip++ != '.')
            return false;
    }
    return *ip == 0;
}

size_t sw_ftp_fmt_pasv(char *out, size_t cap, const char *ip, uint16_t port)
{
    out_t o;
    o_init(&o, out, cap);
    uint8_t q[4];
    if (!parse_ip4(ip, q))
        o.bad = true;
    o_str(&o, "227 Entering Passive Mode (");
    for (int i = 0; i < 4; i++) {
        o_num(&o, q[i], 0, ' ');
        o_chr(&o, ',');
    }
    o_num(&o, port >> 8, 0, ' ');
    o_chr(&o, ',');
    o_num(&o, port & 0xff, 0, ' ');
    o_str(&o, ").\r\n");
    return o_end(&o);
}

size_t sw_ftp_fmt_epsv(char *out, size_t cap, uint16_t port)
{
    out_t o;
    o_init(&o, out, cap);
    o_str(&o, "229 Entering Extended Passive Mode (|||");
    o_num(&o, port, 0, ' ');
    o_str(&o, "|).\r\n");
    return o_end(&o);
}

typedef struct {
    int64_t year;
    unsigned mon, day, hour, min, sec; // mon 1..12
} civil_t;

#define T_MAX INT64_C(253402300799) // 9999-12-31 23:59:59

// Seconds since 1970 → calendar (proleptic Gregorian, UTC); H. Hinnant's civil_from_days.
static civil_t civil(int64_t t)
{
    civil_t c;
    if (t < 0)
        t = 0;
    if (t > T_MAX)
        t = T_MAX;
    int64_t days = t / 86400, secs = t % 86400;
    c.hour = (unsigned)(secs / 3600);
    c.min = (unsigned)(secs / 60 % 60);
    c.sec = (unsigned)(secs % 60);
    int64_t z = days + 719468;
    int64_t era = z / 146097; // z >= 0 here
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    c.day = doy - (153 * mp + 2) / 5 + 1;
    c.mon = mp < 10 ? mp + 3 : mp - 9;
    c.year = (int64_t)yoe + era * 400 + (c.mon <= 2);
    return c;
}

static void o_time(out_t *o, int64_t t)
{
    civil_t c = civil(t);
    o_num(o, (uint64_t)c.year, 4, '0');
    o_num(o, c.mon, 2, '0');
    o_num(o, c.day, 2, '0');
    o_num(o, c.hour, 2, '0');
    o_num(o, c.min, 2, '0');
    o_num(o, c.sec, 2, '0');
}

size_t sw_ftp_fmt_time(char *out, size_t cap, int64_t t)
{
    out_t o;
    o_init(&o, out, cap);
    o_time(&o, t);
    return o_end(&o);
}

size_t sw_ftp_fmt_quoted(char *out, size_t cap, const char *path)
{
    out_t o;
    o_init(&o, out, cap);
    o_chr(&o, '"');
    for (const char *s = path ? path : ""; *s; s++) {
        if (*s == '"')
            o_chr(&o, '"');
        o_chr(&o, *s);
    }
    o_chr(&o, '"');
    return o_end(&o);
}

static bool listable(const char *name)
{
    return name && *name && !strpbrk(name, "\r\n");
}

size_t sw_ftp_fmt_list(char *out, size_t cap, const sw_ftp_entry_t *e, int64_t now)
{
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    out_t o;
    o_init(&o, out, cap);
    if (!listable(e->name)) {
        o.bad = true;
        return o_end(&o);
    }
    civil_t c = civil(e->mtime), n = civil(now);
    o_str(&o, e->type == SW_FT_DIR ? "drwxr-xr-x" : "-rw-r--r--");
    o_str(&o, " 1 owner group ");
    o_num(&o, e->size, 10, ' ');
    o_chr(&o, ' ');
    o_str(&o, months[c.mon - 1]);
    o_chr(&o, ' ');
    o_num(&o, c.day, 2, ' ');
    o_chr(&o, ' ');
    if (c.year != n.year) {
        o_num(&o, (uint64_t)c.year, 5, ' ');
    } else {
        o_num(&o, c.hour, 2, '0');
        o_chr(&o, ':');
        o_num(&o, c.min, 2, '0');
    }
    o_chr(&o, ' ');
    o_str(&o, e->name);
    o_str(&o, "\r\n");
    return o_end(&o);
}

static const char *const fact_names[] = {"type", "size", "modify", "perm"};
#define NFACTS (sizeof fact_names / sizeof fact_names[0])

size_t sw_ftp_fmt_facts(char *out, size_t cap, const sw_ftp_entry_t *e, unsigned facts)
{
    out_t o;
    o_init(&o, out, cap);
    bool dir = e->type == SW_FT_DIR;
    if (!listable(e->name)) {
        o.bad = true;
        return o_end(&o);
    }
    if (facts & SW_FTP_FACT_TYPE)
        o_str(&o, dir ? "type=dir;" : "type=file;");
    if ((facts & SW_FTP_FACT_SIZE) && !dir) {
        o_str(&o, "size=");
        o_num(&o, e->size, 0, ' ');
        o_chr(&o, ';');
    }
    if (facts & SW_FTP_FACT_MODIFY) {
        o_str(&o, "modify=");
        o_time(&o, e->mtime);
        o_chr(&o, ';');
    }
    if (facts & SW_FTP_FACT_PERM)
        o_str(&o, dir ? "perm=cdeflmp;" : "perm=adfrw;");
    o_chr(&o, ' ');
    o_str(&o, e->name);
    o_str(&o, "\r\n");
    return o_end(&o);
}

unsigned sw_ftp_parse_facts(const char *s, size_t n)
{
    unsigned facts = 0;
    size_t k = 0;
    while (s && k < n) {
        size_t e = k;
        while (e < n && s[e] != ';')
            e++;
        for (unsigned f = 0; f < NFACTS; f++) {
            size_t m = strlen(fact_names[f]), i = 0;
            if (m != e - k)
                continue;
            while (i < m && upper(s[k + i]) == upper(fact_names[f][i]))
                i++;
            if (i == m)
                facts |= 1u << f;
        }
        k = e + 1;
    }
    return facts;
}

size_t sw_ftp_fmt_fact_names(char *out, size_t cap, unsigned facts, bool stars)
{
    out_t o;
    o_init(&o, out, cap);
    for (unsigned f = 0; f < NFACTS; f++) {
        bool on = facts & (1u << f);
        if (!on && !stars)
            continue;
        o_str(&o, fact_names[f]);
        if (on && stars)
            o_chr(&o, '*');
        o_chr(&o, ';');
    }
    return o_end(&o);
}
