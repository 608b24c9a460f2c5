// swarm-node: the device agent for POSIX systems. Parses the command line, prepares the root
// directory, and runs the node runtime (src/node) on the libuv port (src/port/posix).
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "port_posix.h"
#include "swarm/node.h"
#include "swarm/sw.h"

#include "swarm/json.h"

enum { EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: swarm-node --root DIR [options]\n"
    "\n"
    "Runs a swarm device agent: RPC over TCP and, if asked, over stdin/stdout or a serial\n"
    "line, with its config, apps and files kept under DIR.\n"
    "\n"
    "options:\n"
    "  -r, --root DIR      directory the node keeps everything in (required; created like\n"
    "                      mkdir -p if missing). No file outside it is ever touched.\n"
    "  -n, --name HOST     host name (default: from the config; first boot: swarm-XXXX from\n"
    "                      the machine id)\n"
    "  -a, --app APP       app to run from DIR/apps/APP (default: from the config, \"example\")\n"
    "  -b, --board BOARD   hardware target (default: from the config, \"posix-sim\")\n"
    "  -p, --port N        RPC TCP port, 0 = no RPC over TCP (default: from the config, 27587)\n"
    "  -l, --listen ADDR   address TCP services bind to, IPv4 or IPv6 (default: 0.0.0.0)\n"
    "  -s, --stdio         also serve a link on stdin/stdout (logs stay on stderr)\n"
    "  -S, --serial DEV    also serve a link on the tty DEV (raw 8N1, no flow control)\n"
    "  -B, --baud N        serial rate, 1200 ... 4000000 (default: 115200; needs --serial)\n"
    "  -L, --lossy         serial link with SerialPacker frames and Reliable retransmission\n"
    "                      instead of the lossless stream (needs --serial)\n"
    "      --no-net        no network service at all for this run (RPC over TCP, FTP,\n"
    "                      telnet, eval, beacon, mDNS): reachable only over --serial/--stdio\n"
    "%s" // --no-NAME, one per row of the service table
    "      --services      print the table of network services (switches, defaults, what the\n"
    "                      locked mode does to each) as Markdown and exit\n"
    "      --heap-max N    cap of the node's heap in bytes, suffix k/M/G allowed (default: 64M)\n"
    "      --print-config  print the effective config as JSON and exit (starts nothing,\n"
    "                      writes nothing, does not create DIR)\n"
    "  -V, --version       print the version and exit\n"
    "  -h, --help          print this help and exit\n"
    "\n"
    "With --serial or --stdio, a network service that cannot start (a port in use) is logged\n"
    "and the node runs on without it.\n"
    "\n"
    "Locked mode: with a 32-byte key in DIR/swarm.key (swarm key install, sys.key) every RPC\n"
    "link (TCP, serial, stdio) needs that key (Noise NNpsk0, encrypted) and FTP, telnet and\n"
    "remote eval are off unless auth.ftp / auth.telnet / auth.eval are true (--services).\n"
    "\n"
    "Logs go to stderr, one line each. SIGINT/SIGTERM stop the node in order (a second one\n"
    "closes everything at once); a reset from RPC restarts the program in place.\n"
    "\n"
    "exit status:\n"
    "  0  orderly stop (signal, sys.stop), or --help / --version / --print-config done\n"
    "  1  runtime error: the node could not start, or a restart failed\n"
    "  2  usage error: bad option or value, missing or unusable --root\n";

static const char *prog = "swarm-node";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    return EXIT_USAGE;
}

// Whole-string unsigned number in [lo, hi], with an optional k/M/G suffix (binary) if sized.
static bool parse_num(const char *s, unsigned long long lo, unsigned long long hi, bool sized,
                      unsigned long long *out)
{
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    if (sized && *end) {
        int shift = *end == 'k' || *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : -1;
        if (shift < 0 || v > (ULLONG_MAX >> shift))
            return false;
        v <<= shift;
        end++;
    }
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

// mkdir -p: creates every missing component of path.
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    return 0;
}

// Checks (and unless dry, creates) the root. 0, or an exit status after saying why.
static int prepare_root(const char *root, bool dry, bool *exists)
{
    struct stat st;
    *exists = stat(root, &st) == 0;
    if (!*exists) {
        if (errno != ENOENT)
            return usage_error("--root %s: %s", root, strerror(errno));
        if (dry)
            return 0;
        if (mkdir_p(root) < 0)
            return usage_error("--root %s: cannot create it: %s", root, strerror(errno));
        if (stat(root, &st) < 0)
            return usage_error("--root %s: %s", root, strerror(errno));
        *exists = true;
    }
    if (!S_ISDIR(st.st_mode))
        return usage_error("--root %s: not a directory", root);
    if (access(root, dry ? R_OK | X_OK : R_OK | W_OK | X_OK) < 0)
        return usage_error("--root %s: %s", root, strerror(errno));
    return 0;
}

static size_t fmt_double(double v, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%.17g", v);
    return k > 0 && (size_t)k < cap ? (size_t)k : 0;
}

static int print_config(sw_node_t *n)
{
    int rc = sw_node_load_config(n);
    if (rc) {
        fprintf(stderr, "%s: cannot load the config: %s\n", prog, sw_strerror(rc));
        return 1;
    }
    sw_span_t cfg = sw_node_config(n);
    // The config tree is at most SW_NODE_CFG_CAP bytes; its JSON, indented, stays well within
    // eight times that.
    size_t cap = 8 * cfg.n + 4096;
    char *text = malloc(cap);
    if (!text) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    sw_jw_t w;
    sw_jw_init(&w, text, cap, 2);
    w.fmt = fmt_double;
    int err = sw_jw_mp(&w, cfg.p, cfg.n);
    if (err) {
        fprintf(stderr, "%s: cannot convert the config to JSON: %s\n", prog, sw_strerror(err));
        free(text);
        return 1;
    }
    int bad = printf("%s\n", text) < 0 || fflush(stdout) != 0;
    free(text);
    if (bad) {
        fprintf(stderr, "%s: cannot write to stdout: %s\n", prog, strerror(errno));
        return 1;
    }
    return 0;
}

// --help: the usage text with a --no-NAME line per row of the service table.
static void print_usage(void)
{
    char lines[2048];
    size_t k = 0;
    for (size_t i = 0; i < sw_node_nservices && k < sizeof lines; i++) {
        const sw_node_service_info_t *s = &sw_node_services[i];
        char opt[32];
        snprintf(opt, sizeof opt, "--no-%s", s->name);
        k += (size_t)snprintf(lines + k, sizeof lines - k, "      %-15s %s off for this run\n", opt,
                              s->name);
    }
    printf(usage_text, lines);
}

// --services: the service table as Markdown (docs/swarm-node.md holds this very text).
static void print_services(void)
{
    printf("| service | off for one run | config switch (default) | in the locked mode |\n"
           "|---|---|---|---|\n");
    for (size_t i = 0; i < sw_node_nservices; i++) {
        const sw_node_service_info_t *s = &sw_node_services[i];
        printf("| `%s`: %s | `--no-%s` | `%s` (%s) | %s |\n", s->name, s->what, s->name, s->enable,
               s->def ? "true" : "false", s->locked);
    }
}

int main(int argc, char **argv)
{
    enum { OPT_PRINT_CONFIG = 256, OPT_HEAP_MAX, OPT_SERVICES, OPT_NO_NET = 512, OPT_NO_SERVICE = 1024 };
    static const struct option base_opts[] = {
        {"root", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"app", required_argument, NULL, 'a'},
        {"board", required_argument, NULL, 'b'},
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"stdio", no_argument, NULL, 's'},
        {"serial", required_argument, NULL, 'S'},
        {"baud", required_argument, NULL, 'B'},
        {"lossy", no_argument, NULL, 'L'},
        {"heap-max", required_argument, NULL, OPT_HEAP_MAX},
        {"no-net", no_argument, NULL, OPT_NO_NET + SW_NODE_NO_NET},
        {"services", no_argument, NULL, OPT_SERVICES},
        {"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
    };
    // the base options, then --no-NAME for every row of the service table
    enum { NBASE = sizeof base_opts / sizeof base_opts[0], MAX_SERVICES = 16 };
    static struct option longopts[NBASE + MAX_SERVICES + 1];
    static char no_names[MAX_SERVICES][24];
    memcpy(longopts, base_opts, sizeof base_opts);
    for (size_t i = 0; i < sw_node_nservices && i < MAX_SERVICES; i++) {
        snprintf(no_names[i], sizeof no_names[i], "no-%s", sw_node_services[i].name);
        longopts[NBASE + i] = (struct option){no_names[i], no_argument, NULL, OPT_NO_SERVICE + (int)i};
    }
    // getopt_long permutes argv; a reset re-executes the command line as it was given. (Kept
    // in a static so it stays reachable on every way out of main.)
    static char **saved;
    saved = calloc((size_t)argc + 1, sizeof *saved);
    if (!saved)
        return 1;
    memcpy(saved, argv, (size_t)argc * sizeof *saved);

    sw_node_opts_t no = {.rpc_port = -1};
    sw_posix_opts_t po = {.argv = saved};
    const char *root = NULL;
    bool print_cfg = false, baud_given = false, lossy_given = false;
    unsigned long long v;
    int c;
    opterr = 0; // we word the errors ourselves
    while ((c = getopt_long(argc, argv, ":r:n:a:b:p:l:sS:B:LVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': root = optarg; break;
        case 'n':
            if (!*optarg || strlen(optarg) > 63)
                return usage_error("--name: 1 to 63 characters, not '%s'", optarg);
            no.name = optarg;
            break;
        case 'a':
            if (strlen(optarg) > 63 || strchr(optarg, '/'))
                return usage_error("--app: a name of at most 63 characters without '/', not '%s'",
                                   optarg);
            no.app = optarg;
            break;
        case 'b':
            if (!*optarg || strlen(optarg) > 63)
                return usage_error("--board: 1 to 63 characters, not '%s'", optarg);
            no.board = optarg;
            break;
        case 'p':
            if (!parse_num(optarg, 0, 65535, false, &v))
                return usage_error("--port: a number 0 ... 65535, not '%s'", optarg);
            no.rpc_port = (int)v;
            break;
        case 'l': no.listen_addr = optarg; break;
        case 's': no.stdio = true; break;
        case 'S': no.serial_dev = optarg; break;
        case 'B':
            if (!parse_num(optarg, 1, UINT32_MAX, false, &v) || !sw_posix_baud_ok((uint32_t)v))
                return usage_error("--baud: not a supported rate: '%s' (1200, 2400, 4800, 9600, "
                                   "19200, 38400, 57600, 115200, 230400, 460800, 500000, "
                                   "576000, 921600, 1000000, ... 4000000)", optarg);
            no.serial_baud = (uint32_t)v;
            baud_given = true;
            break;
        case 'L': no.serial_lossy = lossy_given = true; break;
        case OPT_HEAP_MAX:
            if (!parse_num(optarg, 1u << 20, SIZE_MAX, true, &v))
                return usage_error("--heap-max: a size of at least 1M, not '%s'", optarg);
            po.heap_max = (size_t)v;
            break;
        case OPT_PRINT_CONFIG: print_cfg = true; break;
        case OPT_NO_NET + SW_NODE_NO_NET: no.no_services |= SW_NODE_NO_NET; break;
        case OPT_SERVICES: print_services(); return 0;
        case 'V': printf("swarm-node %s\n", SW_VERSION_STRING); return 0;
        case 'h': print_usage(); return 0;
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            if (c >= OPT_NO_SERVICE && c < OPT_NO_SERVICE + (int)sw_node_nservices) {
                no.no_services |= sw_node_services[c - OPT_NO_SERVICE].no_bit;
                break;
            }
            if (optopt)
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!root)
        return usage_error("--root DIR is required");
    if ((baud_given || lossy_given) && !no.serial_dev)
        return usage_error("--baud and --lossy apply to a serial link: add --serial DEV");
    if ((no.no_services & SW_NODE_NO_RPC) && !no.serial_dev && !no.stdio)
        return usage_error("--no-net/--no-rpc leave no way to reach the node: add --serial DEV or --stdio");
    if (no.listen_addr && !*no.listen_addr)
        return usage_error("--listen: an address is needed");

    bool exists;
    int rc = prepare_root(root, print_cfg, &exists);
    if (rc)
        return rc;
    po.root = exists ? root : NULL;
    po.read_only = print_cfg; // the port, not only the node, guarantees nothing is written

    static sw_posix_t port; // 64 KiB read buffer inside: not for the stack
    if ((rc = sw_posix_init(&port, &po))) {
        fprintf(stderr, "%s: --root %s: %s\n", prog, root, sw_strerror(rc));
        return rc == SW_ENOENT || rc == SW_ENOTDIR || rc == SW_EPERM ? EXIT_USAGE : 1;
    }
    sw_node_t *n;
    if ((rc = sw_node_create(&n, sw_posix_port(&port), &no))) {
        fprintf(stderr, "%s: cannot create the node: %s\n", prog, sw_strerror(rc));
        sw_posix_close(&port);
        return 1;
    }
    int status;
    if (print_cfg) {
        status = print_config(n);
    } else if ((rc = sw_node_start(n))) {
        fprintf(stderr, "%s: cannot start: %s\n", prog, sw_strerror(rc));
        // Whatever did open is closed in order, so the node frees its links.
        sw_node_stop(n);
        sw_posix_run(&port, n);
        status = 1;
    } else {
        status = sw_posix_run(&port, n);
        // A run ended by reset STOP (sys.stop) has not been through sw_node_stop(): let apps
        // and services release what they hold (a no-op after a signal's orderly stop).
        sw_node_stop(n);
    }
    sw_node_destroy(n);
    sw_posix_close(&port);
    return status;
}
