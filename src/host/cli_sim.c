// `swarm sim`: a simulated fleet on this machine. The LAN itself is built by tests/lab/lanlab.py
// (the same lab the tests and benches use); this command finds that script, checks the
// options, and replaces itself with it, so Ctrl-C and the exit status are the script's own.
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"

// The lab script of the source tree this binary was built from (CMakeLists.txt). An installed
// swarm looks first next to itself: ${prefix}/bin/swarm → ${prefix}/share/swarm/lab/.
#ifndef SW_LAB_DIR
#define SW_LAB_DIR ""
#endif
#define LAB_INSTALLED "/../share/swarm/lab"
#define LAB_SCRIPT "lanlab.py"
#define MAX_NODES 1000
#define MAX_MCU 32 // lanlab.py's MCU_MAX
#define MAX_ARGS 64

static const char sim_usage[] =
    "usage: swarm sim [options] [--nodes N] [--apps APP,…] [--mcu N [--mcu-apps APP,…]]\n"
    "                 [--prefix P] [--keep] [-- CMD …]\n"
    "       swarm sim --down [--prefix P] [--force]\n";

static const char sim_about[] =
    "Builds a simulated LAN on this machine and runs one swarm-node per simulated device.\n"
    "As root: a network namespace per node (address 169.254.x.y, broadcast and multicast\n"
    "work), all joined by a bridge, plus a namespace for host tools on the same LAN. The\n"
    "machine's own interfaces are not touched. Without root: nodes on loopback addresses\n"
    "127.0.B.x instead (RPC, FTP on 2121, telnet on 2323, eval and 'swarm scan --to ADDR'\n"
    "work; broadcast, a plain 'swarm scan' and mDNS do not).\n"
    "\n"
    "--mcu N adds N QEMU nodes: the Cortex-M3 firmware of 'make firmware'\n"
    "(build/fw/swarm-node-mps2.elf) on QEMU's mps2-an385 board, each in a namespace of its\n"
    "own whose bridge joins the guest's tap to the LAN, with its own MAC and a flash file\n"
    "that outlives restarts of the guest. They take 169.254.200.x by AutoIP and answer RPC,\n"
    "beacons and mDNS like the Linux nodes; the table says which are which (kind linux or\n"
    "cortex-m3) and where each guest's UART0 is (serial:///dev/pts/N). Their flash starts\n"
    "empty: --mcu-apps names their apps, and the first 'swarm push' installs them.\n"
    "Without root (or with --loopback) they use QEMU's user-mode network instead, with\n"
    "their RPC port forwarded from a loopback address: call, cfg, fs, console and\n"
    "'push --link' work, beacons, scan and mDNS do not.\n"
    "\n"
    "It prints each node's name, address and app, and how to reach it; then waits until\n"
    "Ctrl-C, or runs CMD inside the host namespace and exits with its status. Everything is\n"
    "removed on the way out: processes, namespaces, the nodes' temporary roots and logs.\n"
    "CMD finds this swarm first on PATH and gets SWARM_SIM_NODES (the node addresses),\n"
    "SWARM_SIM_NAMES, SWARM_SIM_APPS, SWARM_SIM_KINDS and SWARM_SIM_DIR in its environment.\n";

static const char sim_after[] =
    "examples:\n"
    "  swarm sim --nodes 5 --apps blink,counter\n"
    "  swarm sim --nodes 2 --mcu 2 -- swarm scan\n"
    "  swarm sim --nodes 2 --apps counter --mcu 2 --mcu-apps counter -- swarm push ./project\n"
    "  swarm sim --nodes 5 -- swarm call tcp://169.254.1.1 sys.info\n"
    "  swarm sim --nodes 3 -- sh -c 'for ip in $SWARM_SIM_NODES; do swarm call $ip ping; done'\n"
    "  swarm sim --nodes 50 --keep --prefix lab && ip netns exec lab-host bash\n"
    "  swarm sim --down\n";

// Directory of the running executable (no trailing '/'); false if unknown.
static bool exe_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1)
        return false;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return false;
    *slash = 0;
    return true;
}

static bool readable(const char *path)
{
    return access(path, R_OK) == 0;
}

// The lab script: $SWARM_LAB_DIR, the installed copy next to this binary, the source tree.
static bool find_lab(const char *exe, char *out, size_t cap)
{
    const char *env = getenv("SWARM_LAB_DIR");
    if (env && *env) {
        snprintf(out, cap, "%s/%s", env, LAB_SCRIPT);
        return readable(out);
    }
    if (*exe && (size_t)snprintf(out, cap, "%s%s/%s", exe, LAB_INSTALLED, LAB_SCRIPT) < cap &&
        readable(out))
        return true;
    if (*SW_LAB_DIR && (size_t)snprintf(out, cap, "%s/%s", SW_LAB_DIR, LAB_SCRIPT) < cap &&
        readable(out))
        return true;
    return false;
}

// A lab name goes into namespace and file names: letters, digits, '_', '.' and '-' (not
// first); at most 40.
static bool good_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 40 || p[0] == '.' || p[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static bool good_apps(const char *s)
{
    if (!*s || strlen(s) > 1024)
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == ' ')
            return false;
    return true;
}

int sw_cli_sim(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    const char *apps = NULL, *mcu_apps = NULL, *prefix = NULL;
    uint64_t nodes = 3, mcu = 0, timeout_ms = 0;
    bool down = false, keep = false, loopback = false, force = false, timeout_given = false;
    const sw_opt_t opts[] = {
        SW_OPT_UINT_("nodes", NULL, "N", &nodes, 0, MAX_NODES, "3",
                     "number of Linux nodes (0 only with --mcu)"),
        SW_OPT_UINT_("mcu", NULL, "N", &mcu, 0, MAX_MCU, "0",
                     "number of QEMU Cortex-M3 nodes (needs qemu-system-arm and "
                     "'make firmware')"),
        {.kind = SW_OPT_STR, .name = "apps", .arg = "LIST", .dst = &apps, .check = good_apps,
         .expect = "app names separated by ','",
         .help = "apps from the source tree's apps/ (installed: share/swarm/apps/), one per "
                 "node, repeated when there are more nodes than apps"},
        {.kind = SW_OPT_STR, .name = "mcu-apps", .arg = "LIST", .dst = &mcu_apps,
         .check = good_apps, .expect = "app names separated by ','",
         .help = "apps for the QEMU nodes, cycled like --apps; named in their config, "
                 "installed by the first 'swarm push' (their flash starts empty)"},
        {.kind = SW_OPT_STR, .name = "prefix", .arg = "P", .dst = &prefix, .check = good_prefix,
         .expect = "1 ... 40 letters, digits, '_', '.' or '-'",
         .help = "name of the namespaces (P-host, P-n1, ...; default swlab<pid>); with --down: "
                 "remove every lab whose name starts with P (default swlab)"},
        SW_OPT_FLAG_("keep", NULL, &keep, "leave the LAN running on exit; remove it later with "
                     "--down"),
        SW_OPT_FLAG_("loopback", NULL, &loopback, "the loopback mode even as root"),
        SW_OPT_FLAG_("down", NULL, &down, "remove the labs that killed runs (or --keep) left "
                     "behind; a lab whose owner still runs is left alone unless --force"),
        SW_OPT_FLAG_("force", NULL, &force, "with --down: also labs whose owner still runs"),
        {.kind = SW_OPT_DURATION, .name = "timeout", .arg = "TIME", .dst = &timeout_ms,
         .size = sizeof timeout_ms, .max = 7 * 86400000ull, .seen = &timeout_given,
         .show_def = "20s + 0.15s per node (+ 40s + 2s per QEMU node)",
         .help = "how long the nodes have to answer; 0 = no limit"},
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const names[] = {"CMD...", NULL};
    sw_cli_spec_t spec = {.cmd = "sim", .usage = sim_usage, .about = sim_about, .opts = opts,
                          .globals = "--json prints the lab as one JSON line instead of the "
                                     "table; -q: no table, no notes",
                          .after = sim_after, .pos = names};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    if (spec.before_dashdash > 0)
        return sw__cli_usage(&c, "sim", "unexpected argument '%s' (a command to run goes "
                             "after '--')", spec.arg[0]);
    int cmd_at = spec.before_dashdash < spec.narg ? 1 : -1; // CMD: argv[1..1 + ncmd)
    argc = 1 + spec.narg; // (argv was reordered: CMD follows argv[0])
    if (nodes == 0 && mcu == 0)
        return sw__cli_usage(&c, "sim", "--nodes 0 needs --mcu N: a LAN needs a node");
    if (mcu_apps && !mcu)
        return sw__cli_usage(&c, "sim", "--mcu-apps goes with --mcu N");
    if (down && (keep || loopback || apps || mcu || cmd_at >= 0))
        return sw__cli_usage(&c, "sim", "--down takes only --prefix and --force");
    if (force && !down)
        return sw__cli_usage(&c, "sim", "--force goes with --down");
    if (spec.dashdash && cmd_at < 0)
        return sw__cli_usage(&c, "sim", "'--' must be followed by a command");

    char exe[PATH_MAX], lab[PATH_MAX + 64];
    if (!exe_dir(exe, sizeof exe))
        exe[0] = 0;
    if (!find_lab(exe, lab, sizeof lab)) {
        sw_cli_error(&c, "sim", "cannot find the lab script %s", LAB_SCRIPT);
        sw__cli_hint(&c, "it lives in tests/lab/ of the source tree and in share/swarm/lab/ "
                     "of an installation; SWARM_LAB_DIR=DIR points at another copy");
        return SW_EXIT_LOCAL;
    }
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";

    // The command line of the script: at most MAX_ARGS of our own, then the user's command.
    int ncmd = cmd_at >= 0 ? argc - cmd_at : 0;
    char **args = calloc((size_t)(MAX_ARGS + ncmd + 1), sizeof *args);
    static char nbuf[24], mbuf[24], tbuf[32], node_bin[PATH_MAX + 16], swarm_bin[PATH_MAX + 16];
    if (!args) {
        sw_cli_error(&c, "sim", "out of memory");
        return SW_EXIT_LOCAL;
    }
    int k = 0;
    args[k++] = (char *)py;
    args[k++] = lab;
    if (down) {
        args[k++] = (char *)"--down";
        args[k++] = (char *)(prefix ? prefix : "swlab");
        if (force)
            args[k++] = (char *)"--force";
    } else {
        snprintf(nbuf, sizeof nbuf, "%u", (unsigned)nodes);
        args[k++] = (char *)"up";
        args[k++] = nbuf;
        if (mcu) {
            snprintf(mbuf, sizeof mbuf, "%u", (unsigned)mcu);
            args[k++] = (char *)"--mcu";
            args[k++] = mbuf;
        }
        if (mcu_apps) {
            args[k++] = (char *)"--mcu-apps";
            args[k++] = (char *)mcu_apps;
        }
        if (apps) {
            args[k++] = (char *)"--apps";
            args[k++] = (char *)apps;
        }
        if (prefix) {
            args[k++] = (char *)"--prefix";
            args[k++] = (char *)prefix;
        }
        if (keep)
            args[k++] = (char *)"--keep";
        if (loopback)
            args[k++] = (char *)"--loopback";
        if (c.json)
            args[k++] = (char *)"--json";
        if (c.quiet)
            args[k++] = (char *)"--quiet";
        if (timeout_given && timeout_ms) {
            snprintf(tbuf, sizeof tbuf, "%.3f", timeout_ms / 1000.0);
            args[k++] = (char *)"--timeout";
            args[k++] = tbuf;
        }
        // the programs of this build (or installation), not whatever PATH finds
        if (*exe) {
            snprintf(node_bin, sizeof node_bin, "%s/swarm-node", exe);
            snprintf(swarm_bin, sizeof swarm_bin, "%s/swarm", exe);
            if (access(node_bin, X_OK) == 0) {
                args[k++] = (char *)"--node-bin";
                args[k++] = node_bin;
            }
            if (access(swarm_bin, X_OK) == 0) {
                args[k++] = (char *)"--swarm-bin";
                args[k++] = swarm_bin;
            }
            // CMD's `swarm` is this one
            const char *path = getenv("PATH");
            size_t n = strlen(exe) + (path ? strlen(path) : 0) + 2;
            char *np = malloc(n);
            if (np) {
                snprintf(np, n, "%s%s%s", exe, path && *path ? ":" : "", path ? path : "");
                setenv("PATH", np, 1);
                free(np);
            }
        }
        if (cmd_at >= 0) {
            args[k++] = (char *)"--";
            for (int i = cmd_at; i < argc; i++)
                args[k++] = argv[i];
        }
    }
    args[k] = NULL;
    fflush(NULL);
    execvp(py, args);
    sw_cli_error(&c, "sim", "cannot run %s: %s", py, strerror(errno));
    sw__cli_hint(&c, "swarm sim needs python3 (scripts/setup installs it)");
    free(args);
    return SW_EXIT_LOCAL;
}
