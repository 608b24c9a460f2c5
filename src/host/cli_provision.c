// `swarm provision`: micro-swarm's program_code_boot for swarm nodes. Over any link (a serial
// line for a device fresh from flashing, or TCP) it writes the device's identity into its
// config (board.host_name, name, device_name, app_name, hardware_name), makes the app's
// folder, resets the device (sys.boot) and waits until it answers again under its new name.
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "hsec.h"
#include "cli_opt.h"
#include "esc.h"
#include "mpjson.h"

static const char provision_usage[] =
    "usage: swarm provision LINK --host NAME --app APP --board BOARD [options]\n";

static const char provision_about[] =
    "Gives the device at LINK its identity, as micro-swarm's program_code_boot does for a\n"
    "MicroPython board: writes board.host_name, board.name and board.device_name (NAME),\n"
    "board.app_name (APP) and board.hardware_name (BOARD) into its config, makes the folder\n"
    "apps/APP, resets the device (sys.boot) and waits until it answers again with the new\n"
    "identity, which it prints. Then 'swarm push' fills the app folder. LINK is usually a\n"
    "serial line (serial:///dev/ttyUSB0), but any link works.\n";

static const char provision_after[] =
    "A node started with --name/--app/--board on its command line takes those again at every\n"
    "start; provision nodes that were started without them.\n"
    "\n"
    "exit status: 0 done, 1 the device refused or came back with another identity, 2 usage\n"
    "(or a board the node lacks: refused before anything is written, with the node's list),\n"
    "3 link failure, 4 it did not come back in time\n"
    "\n"
    "examples:\n"
    "  swarm provision serial:///dev/ttyUSB0 --host kitchen-1 --app blink --board esp32\n"
    "  swarm provision tcp://169.254.7.9 --host lab-3 --app counter --board posix-sim\n";

// Host names may hold dots; app and board names become folder names on the device
// (apps/APP, boards/BOARD), where a node takes letters, digits, '_' and '-' only.
static bool plain_name(const char *s, bool dots)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || (dots && c == '.')))
            return false;
    }
    return true;
}

static bool host_name(const char *s) { return plain_name(s, true); }
static bool folder_name(const char *s) { return plain_name(s, false); }

typedef struct prov {
    sw_cli_t c;
    sw_hlink_t *l;
    uv_loop_t loop;
    char text[512];
} prov_t;

// One call with {"p": p, "d": d} (d NULL: only p; p NULL: a {} map). Returns 0 or the exit
// status after printing the failure. fx_ok: the error "fx" (exists) counts as success.
static int pcall(prov_t *v, const char *cmd, const char *key, const char *p, const char *d,
                 bool fx_ok, sw_mpw_t *out)
{
    uint8_t buf[512];
    sw_mpw_t w;
    sw_mpw_init(&w, buf, sizeof buf);
    sw_mpw_map(&w, (p ? 1u : 0u) + (d ? 1u : 0u));
    if (p)
        sw_mpw_cstr(&w, key), sw_mpw_cstr(&w, p);
    if (d)
        sw_mpw_cstr(&w, "d"), sw_mpw_cstr(&w, d);
    uint8_t rbuf[4096];
    sw_mpw_t r;
    sw_mpw_init(&r, rbuf, sizeof rbuf);
    int e = sw_hlink_call_sync(v->l, cmd, (sw_span_t){w.buf, w.len}, v->c.timeout_ms,
                               out ? out : &r, v->text, sizeof v->text);
    if (e == SW_EREMOTE && fx_ok && !strcmp(v->text, "fx"))
        return 0;
    if (e)
        return sw__cli_call_failed(&v->c, "provision", v->l, e, v->text);
    return 0;
}

static void str_of(const sw_mpw_t *w, const char *key, char *buf, size_t cap)
{
    sw_span_t val;
    buf[0] = 0;
    if (sw_mp_map_get(w->buf, w->len, key, &val))
        return;
    sw_mpr_t r;
    sw_mpr_init(&r, val.p, val.n);
    sw_span_t s;
    if (sw_mpr_str(&r, &s) && s.n < cap) {
        memcpy(buf, s.p, s.n);
        buf[s.n] = 0;
    }
}

static uint64_t uint_of(const sw_mpw_t *w, const char *key)
{
    sw_span_t val;
    uint64_t x = 0;
    if (sw_mp_map_get(w->buf, w->len, key, &val))
        return UINT64_MAX;
    sw_mpr_t r;
    sw_mpr_init(&r, val.p, val.n);
    return sw_mpr_uint(&r, &x) ? x : UINT64_MAX;
}

static void on_sleep(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void sleep_ms(uv_loop_t *loop, uint32_t ms)
{
    uv_timer_t t;
    bool done = false;
    uv_timer_init(loop, &t);
    t.data = &done;
    uv_timer_start(&t, on_sleep, ms, 0);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

// A board the node was not built with would leave it without board.* commands: refuse it
// with the list its sys.info gives (nodes that give none, like micro-swarm, are not checked).
static int check_board(prov_t *v, const char *link, const char *board)
{
    static uint8_t info[8192];
    sw_mpw_t iw;
    sw_mpw_init(&iw, info, sizeof info);
    uint8_t m0 = 0x80;
    int e = sw_hlink_call_sync(v->l, "sys.info", (sw_span_t){&m0, 1}, v->c.timeout_ms, &iw,
                               v->text, sizeof v->text);
    if (e)
        return sw__cli_call_failed(&v->c, "provision", v->l, e, v->text);
    sw_span_t val;
    if (sw_mp_map_get(iw.buf, iw.len, "boards", &val))
        return 0;
    sw_mpr_t r;
    sw_mpr_init(&r, val.p, val.n);
    uint32_t n;
    if (!sw_mpr_array(&r, &n))
        return 0;
    char list[400] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        sw_span_t s;
        if (!sw_mpr_str(&r, &s))
            return 0;
        if (s.n == strlen(board) && !memcmp(s.p, board, s.n))
            return 0;
        if (at + s.n + 3 < sizeof list)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%.*s", i ? ", " : "", (int)s.n,
                                   (const char *)s.p);
    }
    sw_cli_error(&v->c, "provision", "%s has no board '%s' (it has: %s); nothing written", link,
                 board, list);
    sw__cli_hint(&v->c, "give one of those to --board, or build swarm-node with the board "
                        "(boards/BOARD/board.c, docs/PORTING.md)");
    return SW_EXIT_USAGE;
}

int sw_cli_provision(const sw_cli_t *cli, int argc, char **argv)
{
    static prov_t v;
    memset(&v, 0, sizeof v);
    v.c = *cli;
    const char *link = NULL, *host = NULL, *app = NULL, *board = NULL, *keyfile = NULL;
    uint64_t wait_ms = 0;
    bool no_boot = false;
    const sw_opt_t opts[] = {
        {.kind = SW_OPT_STR, .name = "host", .arg = "NAME", .dst = &host, .check = host_name,
         .expect = "1-63 letters, digits, '-', '_' or '.'",
         .help = "host name (letters, digits, '-', '_', '.'; as in the beacon and mDNS)"},
        {.kind = SW_OPT_STR, .name = "app", .arg = "APP", .dst = &app, .check = folder_name,
         .expect = "1-63 letters, digits, '-', '_'", .help = "the app it runs (letters, digits, "
         "'-', '_')"},
        {.kind = SW_OPT_STR, .name = "board", .arg = "BOARD", .dst = &board,
         .check = folder_name, .expect = "1-63 letters, digits, '-', '_'",
         .help = "its hardware target: a board compiled into the node (e.g. posix-sim); one it "
                 "lacks is refused with the list of its boards"},
        SW_OPT_DUR_("wait", NULL, &wait_ms, 1, 3600000, "30s",
                    "how long to wait for the device to come back"),
        SW_OPT_FLAG_("no-boot", NULL, &no_boot, "write the identity and make the folder, but "
                     "do not reset the device"),
        SW_OPT_STR_("key", NULL, "FILE", &keyfile,
                    "also lock the device with the key in FILE (swarm key new): it is installed "
                    "over the plain link (the device must be open), the device resets locked, "
                    "and the wait for it uses FILE"),
        SW_OPT_HELP_,
        SW_OPT_END_,
    };
    static const char *const names[] = {"LINK", NULL};
    sw_cli_spec_t spec = {.cmd = "provision", .usage = provision_usage,
                          .about = provision_about, .opts = opts,
                          .globals = "--json prints the device's sys.info after the reset",
                          .after = provision_after, .pos = names, .too_many = "one LINK only"};
    int rc;
    if (!sw__cli_parse(&v.c, &spec, argc, argv, &rc))
        return rc;
    link = spec.arg[0];
    double wait_s = (double)wait_ms / 1000.0;
    if (!host || !app || !board)
        return sw__cli_usage(&v.c, "provision", "--host, --app and --board are all needed");

    uint8_t key[32];
    if (keyfile) {
        char kerr[1200];
        if (no_boot)
            return sw__cli_usage(&v.c, "provision", "--key resets the device: it cannot go with --no-boot");
        if (sw_key_read(keyfile, key, kerr, sizeof kerr)) {
            sw_cli_error(&v.c, "provision", "%s", kerr);
            return SW_EXIT_LOCAL;
        }
        setenv("SWARM_KEY_FILE", "", 1); // a fresh device is open: the first link is plain
    }
    uv_loop_init(&v.loop);
    rc = sw__cli_connect(&v.c, "provision", &v.loop, link, &v.l);
    if (!rc)
        rc = check_board(&v, link, board);
    const char *keys[][2] = {{"board.host_name", host}, {"board.name", host},
                             {"board.device_name", host}, {"board.app_name", app},
                             {"board.hardware_name", board}};
    for (size_t k = 0; !rc && k < sizeof keys / sizeof keys[0]; k++)
        rc = pcall(&v, "sys.cfg", "p", keys[k][0], keys[k][1], false, NULL);
    if (!rc)
        rc = pcall(&v, "f.mkdir", "p", "apps", NULL, true, NULL);
    char appdir[80];
    snprintf(appdir, sizeof appdir, "apps/%s", app);
    if (!rc)
        rc = pcall(&v, "f.mkdir", "p", appdir, NULL, true, NULL);
    if (!rc && !v.c.quiet)
        fprintf(stderr, "%s: identity written (host %s, app %s, board %s), %s made\n", link, host,
                app, board, appdir);
    if (rc || no_boot) {
        sw__cli_finish(&v.loop, v.l);
        return rc;
    }
    // sys.boot answers, then the device resets 100 ms later (sys.key: the same, locked)
    uint8_t b[64];
    sw_mpw_t w;
    sw_mpw_init(&w, b, sizeof b);
    sw_mpw_map(&w, 1);
    if (keyfile)
        sw_mpw_cstr(&w, "k"), sw_mpw_bin(&w, key, sizeof key);
    else
        sw_mpw_cstr(&w, "code"), sw_mpw_cstr(&w, "SysBooT");
    memset(key, 0, sizeof key);
    uint8_t rb[64];
    sw_mpw_t r;
    sw_mpw_init(&r, rb, sizeof rb);
    uint64_t t_boot = uv_now(&v.loop);
    int e = sw_hlink_call_sync(v.l, keyfile ? "sys.key" : "sys.boot", (sw_span_t){w.buf, w.len},
                               v.c.timeout_ms, &r, v.text, sizeof v.text);
    memset(b, 0, sizeof b);
    if (keyfile)
        setenv("SWARM_KEY_FILE", keyfile, 1); // it comes back locked
    if (e && e != SW_ECLOSED) {
        rc = sw__cli_call_failed(&v.c, "provision", v.l, e, v.text);
        sw__cli_finish(&v.loop, v.l);
        return rc;
    }
    if (!v.c.quiet)
        fprintf(stderr, "%s: resetting; waiting up to %.0f s for it to come back\n", link, wait_s);
    sw_hlink_close(v.l);
    v.l = NULL;
    sleep_ms(&v.loop, 300);

    // Back when it answers sys.info with an uptime that began after the reset.
    sw_hlink_opts_t o;
    sw_hlink_opts_default(&o);
    o.reconnect = true;
    o.backoff_ms = 200;
    o.backoff_max_ms = 1000;
    o.connect_timeout_ms = 2000;
    sw_hlink_cbs_t cbs = {0};
    char err[300];
    if (sw_hlink_open(&v.loop, link, &o, &cbs, &v.l, err, sizeof err)) {
        sw_cli_error(&v.c, "provision", "%s", err);
        uv_loop_close(&v.loop);
        return SW_EXIT_LOCAL;
    }
    uint64_t deadline = t_boot + (uint64_t)(wait_s * 1000);
    static uint8_t info[8192];
    sw_mpw_t iw;
    bool back = false;
    char got_host[64] = "", got_app[64] = "", got_board[64] = "";
    while (!back && uv_now(&v.loop) < deadline) {
        uint32_t left = (uint32_t)(deadline - uv_now(&v.loop));
        if (!sw_hlink_is_up(v.l) && sw_hlink_wait_up(v.l, left))
            break;
        sw_mpw_init(&iw, info, sizeof info);
        uint8_t m0 = 0x80;
        e = sw_hlink_call_sync(v.l, "sys.info", (sw_span_t){&m0, 1}, left < 1500 ? left : 1500,
                               &iw, v.text, sizeof v.text);
        if (!e) {
            uint64_t up = uint_of(&iw, "uptime_ms");
            str_of(&iw, "host_name", got_host, sizeof got_host);
            str_of(&iw, "app_name", got_app, sizeof got_app);
            str_of(&iw, "hardware_name", got_board, sizeof got_board);
            if (up != UINT64_MAX && up <= uv_now(&v.loop) - t_boot) {
                back = true;
                break;
            }
        }
        sleep_ms(&v.loop, 200);
    }
    if (!back) {
        sw_cli_error(&v.c, "provision", "%s did not come back within %.0f s", link, wait_s);
        sw__cli_finish(&v.loop, v.l);
        return SW_EXIT_TIMEOUT;
    }
    rc = SW_EXIT_OK;
    if (strcmp(got_host, host) || strcmp(got_app, app) || strcmp(got_board, board)) {
        sw_cli_error(&v.c, "provision", "%s came back as host %s, app %s, board %s", link,
                     got_host, got_app, got_board);
        sw__cli_hint(&v.c, "a node started with --name, --app or --board takes those at every "
                     "start");
        rc = SW_EXIT_REMOTE;
    }
    if (v.c.json) {
        sw_cli_print_value(&v.c, stdout, iw.buf, iw.len);
    } else if (!rc) {
        char node[32], shown[4 * 32];
        str_of(&iw, "node", node, sizeof node);
        printf("%s: host %s, app %s, board %s, swarm-node %s, up %.1f s\n", link, got_host,
               got_app, got_board, sw__esc_str(shown, sizeof shown, node),
               (double)uint_of(&iw, "uptime_ms") / 1000.0);
    }
    sw__cli_finish(&v.loop, v.l);
    return rc;
}
