// swarm FTP: the pure parts of the node's FTP server (RFC 959, RFC 2428 EPSV, RFC 3659 SIZE /
// MDTM / REST / MLSx) — assembling command lines from received bytes, splitting them into verb
// and argument, resolving paths against a working directory, and the replies whose format is
// fixed (PASV, EPSV, timestamps, listing lines, MLSx facts). Sans-I/O, no heap: every buffer is
// the caller's. The node's session logic lives in src/node/ftp*.c (docs/PROTOCOL.md, "FTP").
#ifndef SWARM_FTP_H
#define SWARM_FTP_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

// Longest command line accepted, bytes without the line end. @@ Longer lines are dropped whole
// (SW_ETOOBIG from sw_ftp_lines_feed) and the session goes on with the next one.
#ifndef SW_FTP_LINE_MAX
#define SW_FTP_LINE_MAX 1024
#endif

///////////////////////////////////////////////////////////////////////////////////////////////
// Command lines. A line ends with LF; CRs right before it are dropped (CR LF and bare LF both
// work). Telnet commands (RFC 854: IAC WILL/WONT/DO/DONT x, IAC SB … IAC SE, IAC <cmd>, as
// clients send before ABOR) are removed; IAC IAC is a literal 0xFF byte.

typedef struct sw_ftp_lines {
    char *buf;     // the caller's, cap bytes: the line being assembled, NUL-terminated when complete
    size_t cap;    // >= 2; lines longer than cap - 1 bytes are dropped
    size_t len;    // bytes of the line so far
    size_t crs;    // internal: CRs seen but not stored yet (dropped if an LF follows)
    uint8_t iac;   // internal: Telnet command parser state
    bool overlong; // internal: the current line outgrew buf; skipped up to its LF
    bool done;     // internal: the last feed returned a line; the next feed starts a new one
} sw_ftp_lines_t;

void sw_ftp_lines_init(sw_ftp_lines_t *l, char *buf, size_t cap);
// Consumes bytes of p[0..n) up to the end of the first line that completes, and sets *used.
// Returns 1: a line is in l->buf[0..l->len) (NUL-terminated; valid until the next feed);
// SW_ETOOBIG: a line longer than cap - 1 ended (its bytes are gone); 0: all of p consumed, no
// line yet. Call again with the rest of p.
int sw_ftp_lines_feed(sw_ftp_lines_t *l, const uint8_t *p, size_t n, size_t *used);

///////////////////////////////////////////////////////////////////////////////////////////////
// Commands

typedef enum sw_ftp_verb {
    SW_FTP_UNKNOWN = 0, // anything else (answered 502)
    SW_FTP_ABOR, SW_FTP_ALLO, SW_FTP_APPE, SW_FTP_CDUP, SW_FTP_CWD, SW_FTP_DELE, SW_FTP_EPRT,
    SW_FTP_EPSV, SW_FTP_FEAT, SW_FTP_HELP, SW_FTP_LIST, SW_FTP_MDTM, SW_FTP_MKD, SW_FTP_MLSD,
    SW_FTP_MLST, SW_FTP_MODE, SW_FTP_NLST, SW_FTP_NOOP, SW_FTP_OPTS, SW_FTP_PASS, SW_FTP_PASV,
    SW_FTP_PORT, SW_FTP_PWD, SW_FTP_QUIT, SW_FTP_REST, SW_FTP_RETR, SW_FTP_RMD, SW_FTP_RNFR,
    SW_FTP_RNTO, SW_FTP_SITE, SW_FTP_SIZE, SW_FTP_STAT, SW_FTP_STOR, SW_FTP_STRU, SW_FTP_SYST,
    SW_FTP_TYPE, SW_FTP_USER,
    SW_FTP_NVERBS
} sw_ftp_verb_t;

typedef struct sw_ftp_cmd {
    sw_ftp_verb_t verb; // the RFC 775 X-forms (XPWD XCWD XCUP XMKD XRMD) map to their verbs
    char name[5];       // the verb as sent, upper-cased, cut to 4 letters, NUL-terminated
    const char *arg;    // the argument: after the verb and the spaces that follow it (may
    size_t arg_len;     // be empty); points into the line
} sw_ftp_cmd_t;

// Splits line[0..n) into verb and argument (the verb is case-insensitive; a verb of letters
// that is not one of ours gives SW_FTP_UNKNOWN). SW_EINVAL for an empty line, a verb that is
// not ASCII letters followed by a space or the end, or a NUL byte anywhere (cmd->name still
// holds what could be read, for logs).
int sw_ftp_parse(const char *line, size_t n, sw_ftp_cmd_t *cmd);
// The canonical name of a verb ("LIST"); "" for SW_FTP_UNKNOWN and out-of-range values.
const char *sw_ftp_verb_name(sw_ftp_verb_t v);

// LIST / NLST / STAT argument: leading words that start with '-' are ls options ("-a", "-la")
// and are split off (as micro-swarm and most servers do); the rest is the path. *opts spans the
// option letters' words (may be empty), *path the path (may be empty).
void sw_ftp_list_arg(const char *arg, size_t n, const char **opts, size_t *opts_len,
                     const char **path, size_t *path_len);

// Resolves a path the client sent against the working directory cwd (NUL-terminated and
// normalised, "" = the root; a leading '/' in p means the root) into out: the result and the
// errors are those of sw_path_norm on cwd + "/" + p (SW_EPERM: ".." above the root), but out
// need only hold the result and may be cwd itself.
int sw_ftp_path(const char *cwd, const char *p, size_t n, char *out, size_t cap);

// True if s[0..n) contains a glob character ('*' or '?').
bool sw_ftp_has_glob(const char *s, size_t n);
// Shell-style match of name against pat ('*' any run, '?' one byte, everything else itself).
// O(len(pat) * len(name)) at worst: no exponential backtracking.
bool sw_ftp_glob(const char *pat, size_t pn, const char *name, size_t nn);

// Decimal unsigned integer (REST): digits only, no sign or spaces, at most UINT64_MAX.
// 0 or SW_EINVAL.
int sw_ftp_parse_u64(const char *s, size_t n, uint64_t *v);

///////////////////////////////////////////////////////////////////////////////////////////////
// Replies and listings. Every formatter writes into out[0..cap), NUL-terminates, and returns
// the length written (without the NUL), or 0 if the result does not fit or cannot be formed
// (out then holds "").

// "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).\r\n" for an IPv4 address ("169.254.1.2", or
// an IPv4-mapped IPv6 address "::ffff:169.254.1.2"); 0 for anything else.
size_t sw_ftp_fmt_pasv(char *out, size_t cap, const char *ip, uint16_t port);
// "229 Entering Extended Passive Mode (|||port|).\r\n"
size_t sw_ftp_fmt_epsv(char *out, size_t cap, uint16_t port);
// t (seconds since 1970, UTC) as "YYYYMMDDhhmmss" (MDTM, MLSx "modify"). Times before 1970 or
// after 9999 are clamped to those years' ends.
size_t sw_ftp_fmt_time(char *out, size_t cap, int64_t t);
// '"' + path + '"' with every '"' in path doubled (RFC 959 257 replies).
size_t sw_ftp_fmt_quoted(char *out, size_t cap, const char *path);

// A directory entry to list.
typedef struct sw_ftp_entry {
    const char *name; // NUL-terminated; a name with CR or LF cannot be listed (formatters give 0)
    uint8_t type;     // SW_FT_DIR, anything else lists as a file
    uint64_t size;    // bytes
    int64_t mtime;    // seconds since 1970 UTC (0 if unknown)
} sw_ftp_entry_t;

// One `ls -l` line as micro-swarm's server writes it (lftp, curl and ftplib parse it):
// "-rw-r--r-- 1 owner group {size:>10} {Mon} {day:>2} {HH:MM or year:>5} {name}\r\n";
// directories "drwxr-xr-x". The year replaces the time when it differs from now's year.
size_t sw_ftp_fmt_list(char *out, size_t cap, const sw_ftp_entry_t *e, int64_t now);

// MLSx facts (RFC 3659 §7), as a bit set. OPTS MLST selects them; all are on by default.
enum {
    SW_FTP_FACT_TYPE = 1 << 0,   // type=file / type=dir
    SW_FTP_FACT_SIZE = 1 << 1,   // size=N (files)
    SW_FTP_FACT_MODIFY = 1 << 2, // modify=YYYYMMDDhhmmss
    SW_FTP_FACT_PERM = 1 << 3,   // perm=adfrw (files) / perm=cdeflmp (directories)
    SW_FTP_FACTS_ALL = 0xf
};
// "fact=value;…; name\r\n" with the facts in `facts` (an MLSD line; for MLST, send a space
// before it and pass the full path as e->name).
size_t sw_ftp_fmt_facts(char *out, size_t cap, const sw_ftp_entry_t *e, unsigned facts);
// Parses the OPTS MLST argument ("type;size;" — unknown names ignored, case-insensitive).
unsigned sw_ftp_parse_facts(const char *s, size_t n);
// Fact names: with stars, every fact we know, '*' after those in `facts` ("type*;size*;modify;
// perm;", the FEAT line); without, only those in `facts` ("type;size;", the OPTS MLST reply).
size_t sw_ftp_fmt_fact_names(char *out, size_t cap, unsigned facts, bool stars);

#ifdef __cplusplus
}
#endif
#endif
