// `swarm key`: the fleet key of the authenticated mode (docs/SECURITY.md). `new` makes one (32
// bytes from getrandom, written mode 0600 without ever being readable by others), `path` says
// where the host keeps it, `install` gives it to a device (sys.key).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "cli_opt.h"
#include "hsec.h"

static const char key_usage[] =
    "usage: swarm key [options] new\n"
    "       swarm key [options] path\n"
    "       swarm key [options] install LINK\n"
    "       swarm key [options] rotate [--finish] LINK...\n"
    "       swarm key [options] open DEVICE...\n";

static const char key_about[] =
    "The fleet key of the authenticated mode: a node that has a key (its swarm.key) takes RPC\n"
    "(TCP, serial, stdio) only from a host that holds the same key (Noise NNpsk0;\n"
    "docs/SECURITY.md).\n"
    "\n"
    "  new              makes a key: 32 random bytes in the host's key file (mode 0600);\n"
    "                   refuses to replace one (--force replaces it)\n"
    "  path             prints where the host's key file is\n"
    "  install LINK     gives the host's key to the device at LINK (an open device: over the\n"
    "                   plain link, once; a locked one: over the link authenticated with the\n"
    "                   current key, to replace it with --new FILE). The device restarts locked.\n"
    "  rotate LINK...   moves devices to a new key without locking out the ones that are\n"
    "                   offline: makes the new key (KEYFILE.new) once, and gives it to each LINK\n"
    "                   over the current key; the devices keep accepting the old key too.\n"
    "                   Repeat for devices that were offline. Then\n"
    "  rotate --finish LINK...  makes the new key the host's (the old one is kept as\n"
    "                   KEYFILE.old) and tells each LINK to stop accepting the old key\n"
    "  open DEVICE...   records that each DEVICE (as named on command lines) is open: a host\n"
    "                   with the fleet key then sends it changes too (as --allow-open does for\n"
    "                   one command). Undone by removing the record, and when DEVICE proves\n"
    "                   it holds the key\n"
    "\n"
    "The key file: $SWARM_KEY_FILE, else $XDG_CONFIG_HOME/swarm/key, else ~/.config/swarm/key.\n"
    "A device may have a key of its own: --device NAME makes new, path and install use\n"
    "$XDG_CONFIG_HOME/swarm/keys/NAME, which every command uses for the device NAME (and then\n"
    "insists that it proves it holds it). With the fleet key, a device that answers as an open\n"
    "node is talked to in plain, for reading only (it may be an impostor: changes need\n"
    "--allow-open or the record $XDG_CONFIG_HOME/swarm/open/NAME of `key open`), unless the\n"
    "host has seen it locked before (the record $XDG_CONFIG_HOME/swarm/locked/NAME): then it is\n"
    "refused. SWARM_KEY_FILE=FILE uses FILE for every device and insists; SWARM_KEY_FILE=\n"
    "(empty) uses no key, for open nodes only.\n";

static const char key_after[] =
    "examples:\n"
    "  swarm key new && swarm key install 192.168.1.20\n"
    "  SWARM_KEY_FILE=old.key swarm key install node7 --new new.key\n"
    "  swarm key rotate node1 node2 node3 && swarm key rotate --finish node1 node2 node3\n";

static int key_new(const sw_cli_t *c, const char *path, bool force)
{
    // the folder, private to the user if we make it
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    if (strcmp(d, ".") && mkdir(d, 0700) && errno != EEXIST) {
        // one level deeper is enough for ~/.config/swarm when ~/.config is missing
        char up[1024];
        snprintf(up, sizeof up, "%s", d);
        mkdir(dirname(up), 0700);
        if (mkdir(d, 0700) && errno != EEXIST) {
            sw_cli_error(c, "key", "cannot create %s: %s", d, strerror(errno));
            return SW_EXIT_LOCAL;
        }
    }
    uint8_t key[SW_NOISE_KEY];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key) {
        sw_cli_error(c, "key", "no random bytes: %s", strerror(errno));
        return SW_EXIT_LOCAL;
    }
    // a temp file created 0600 and exclusively, renamed into place: never readable by others,
    // never a half-written key
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        sw_cli_error(c, "key", "cannot create %s: %s", tmp, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    bool ok = write(fd, key, sizeof key) == (ssize_t)sizeof key && fsync(fd) == 0;
    close(fd);
    memset(key, 0, sizeof key);
    if (ok && !force && link(tmp, path) != 0) { // link: fails when the key exists
        int e = errno;
        unlink(tmp);
        if (e == EEXIST) {
            sw_cli_error(c, "key", "%s exists; a new key locks out every device that has the old "
                         "one (use --force to replace it anyway)", path);
            return SW_EXIT_USAGE;
        }
        sw_cli_error(c, "key", "cannot write %s: %s", path, strerror(e));
        return SW_EXIT_LOCAL;
    }
    if (ok && force && rename(tmp, path) != 0)
        ok = false;
    unlink(tmp);
    if (!ok) {
        sw_cli_error(c, "key", "cannot write %s: %s", path, strerror(errno));
        return SW_EXIT_LOCAL;
    }
    if (!c->quiet)
        printf("%s\n", path);
    return SW_EXIT_OK;
}

// One sys.key call on LINK with d (a MsgPack map), over the link the environment says.
static int key_call(const sw_cli_t *c, const char *link, const uint8_t *d, size_t n, const char *done)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    sw_hlink_t *l = NULL;
    int rc = sw__cli_connect(c, "key", &loop, link, &l);
    if (!rc) {
        uint8_t out[256];
        sw_mpw_t r;
        sw_mpw_init(&r, out, sizeof out);
        char text[512];
        int e = sw_hlink_call_sync(l, "sys.key", (sw_span_t){d, n}, c->timeout_ms, &r, text, sizeof text);
        if (e)
            rc = sw__cli_call_failed(c, "key", l, e, text);
        else if (!c->quiet)
            printf("%s: %s\n", link, done);
    }
    sw__cli_finish(&loop, l);
    return rc;
}

// The key in file (checked by sw_key_read); what is wrong with it is printed.
static int load_key(const sw_cli_t *c, const char *file, uint8_t key[SW_NOISE_KEY])
{
    char err[1200];
    if (!sw_key_read(file, key, err, sizeof err))
        return SW_EXIT_OK;
    sw_cli_error(c, "key", "%s", err);
    sw__cli_hint(c, "make one with `swarm key new`");
    return SW_EXIT_LOCAL;
}

static int key_install(const sw_cli_t *c, const char *link, const char *path, const char *newfile)
{
    uint8_t key[SW_NOISE_KEY];
    int rc = load_key(c, newfile ? newfile : path, key);
    if (rc)
        return rc;
    // Installing the host's own key: the device is open, so the link must be plain (the
    // commands' default would try the key this very call installs).
    if (!newfile)
        setenv("SWARM_KEY_FILE", "", 1);
    // With --new the link uses the host's key, and a device that answers as an open node gets
    // the key all the same: keying an open device is what this command is for (over a path the
    // user trusts). `rotate` has no such exception: a device there must prove the current key.
    setenv("SWARM_ALLOW_OPEN", "1", 1);
    uint8_t req[64];
    sw_mpw_t w;
    sw_mpw_init(&w, req, sizeof req);
    sw_mpw_map(&w, 1);
    sw_mpw_cstr(&w, "k");
    sw_mpw_bin(&w, key, sizeof key);
    memset(key, 0, sizeof key);
    rc = key_call(c, link, req, w.len, "key installed; the device restarts locked");
    memset(req, 0, sizeof req);
    return rc;
}

// swarm key open DEVICE...: the record that lets changes go to DEVICE when it answers open.
static int key_open(const sw_cli_t *c, char **devs, int n)
{
    for (int i = 0; i < n; i++) {
        char path[1024], dir[1024];
        if (sw_key_device_file("open", devs[i], path, sizeof path)) {
            sw_cli_error(c, "key", "no place for the record of %s: set HOME", devs[i]);
            return SW_EXIT_LOCAL;
        }
        snprintf(dir, sizeof dir, "%s", path);
        *strrchr(dir, '/') = 0;
        char *up = strrchr(dir, '/');
        *up = 0;
        mkdir(dir, 0700); // $XDG_CONFIG_HOME/swarm, then its open/
        *up = '/';
        mkdir(dir, 0700);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            sw_cli_error(c, "key", "cannot write %s: %s", path, strerror(errno));
            return SW_EXIT_LOCAL;
        }
        static const char note[] = "the user said this device is open: a host with the fleet key "
                                   "sends it changes in plain (remove this file to stop)\n";
        ssize_t w = write(fd, note, sizeof note - 1);
        close(fd);
        if (w != (ssize_t)sizeof note - 1) {
            sw_cli_error(c, "key", "cannot write %s", path);
            return SW_EXIT_LOCAL;
        }
        if (!c->quiet)
            printf("%s: recorded as open (%s)\n", devs[i], path);
    }
    return SW_EXIT_OK;
}

static int key_rotate(sw_cli_t *c, const char *path, char **links, int nlinks, bool finish)
{
    char newp[1100], oldp[1100];
    snprintf(newp, sizeof newp, "%s.new", path);
    snprintf(oldp, sizeof oldp, "%s.old", path);
    uint8_t key[SW_NOISE_KEY], req[64];
    sw_mpw_t w;
    sw_mpw_init(&w, req, sizeof req);
    if (!finish) {
        if (access(newp, F_OK) != 0) { // the new key, once for the whole rotation
            bool q = c->quiet;
            c->quiet = true;
            int rc = key_new(c, newp, false);
            c->quiet = q;
            if (rc)
                return rc;
        }
        int rc = load_key(c, newp, key);
        if (rc)
            return rc;
        sw_mpw_map(&w, 2);
        sw_mpw_cstr(&w, "k"), sw_mpw_bin(&w, key, sizeof key);
        sw_mpw_cstr(&w, "keep"), sw_mpw_bool(&w, true);
        memset(key, 0, sizeof key);
    } else {
        if (access(newp, F_OK) == 0) { // the host moves to the new key (the old one is kept)
            if (link(path, oldp) != 0 && errno != EEXIST) {
                sw_cli_error(c, "key", "cannot keep the old key as %s: %s", oldp, strerror(errno));
                return SW_EXIT_LOCAL;
            }
            if (rename(newp, path) != 0) {
                sw_cli_error(c, "key", "cannot move %s to %s: %s", newp, path, strerror(errno));
                return SW_EXIT_LOCAL;
            }
        }
        sw_mpw_map(&w, 1);
        sw_mpw_cstr(&w, "drop"), sw_mpw_bool(&w, true);
    }
    int failed = 0, last = 0;
    for (int i = 0; i < nlinks; i++) {
        int rc = key_call(c, links[i], req, w.len,
                          finish ? "the old key is no longer accepted"
                                 : "has the new key (and still accepts the old one)");
        if (rc)
            failed++, last = rc;
    }
    memset(req, 0, sizeof req);
    if (!finish && failed && !c->quiet)
        fprintf(stderr, "swarm key: %d of %d devices did not get the new key; run the same command "
                "for them when they are back, then `swarm key rotate --finish`\n", failed, nlinks);
    return !failed ? SW_EXIT_OK : failed == nlinks ? last : SW_EXIT_PARTIAL;
}

int sw_cli_key(const sw_cli_t *cli, int argc, char **argv)
{
    sw_cli_t c = *cli;
    bool force = false, finish = false;
    const char *newfile = NULL, *device = NULL;
    const sw_opt_t opts[] = {
        SW_OPT_FLAG_("force", NULL, &force, "new: replace an existing key"),
        SW_OPT_STR_("new", NULL, "FILE", &newfile,
                    "install: the key to give the device (default: the host's key); the link "
                    "uses the host's key, so a locked device can be moved to a new key"),
        SW_OPT_STR_("device", NULL, "NAME", &device,
                    "new, path, install: the key of the device NAME (keys/NAME in the host's "
                    "config folder) instead of the fleet key"),
        SW_OPT_FLAG_("finish", NULL, &finish,
                     "rotate: switch the host to the new key and make the devices forget the old one"),
        SW_OPT_HELP_, SW_OPT_END_};
    static const char *const names[] = {"new, path, install, rotate or open", "LINK...", NULL};
    sw_cli_spec_t spec = {.cmd = "key", .usage = key_usage, .about = key_about, .opts = opts,
                          .after = key_after, .pos = names};
    int rc;
    if (!sw__cli_parse(&c, &spec, argc, argv, &rc))
        return rc;
    const char *op = spec.arg[0];
    char path[1024];
    if (device ? sw_key_device_file("keys", device, path, sizeof path) : sw_key_path(path, sizeof path)) {
        sw_cli_error(&c, "key", "no place for the key: set %s", device ? "HOME" : "SWARM_KEY_FILE or HOME");
        return SW_EXIT_LOCAL;
    }
    bool install = !strcmp(op, "install");
    if (!strcmp(op, "open")) {
        if (spec.narg < 2)
            return sw__cli_usage(&c, "key", "open needs the devices: DEVICE...");
        return key_open(&c, spec.arg + 1, spec.narg - 1);
    }
    if (!strcmp(op, "rotate")) {
        if (spec.narg < 2)
            return sw__cli_usage(&c, "key", "rotate needs the devices: LINK...");
        if (!path[0])
            return sw__cli_usage(&c, "key", "SWARM_KEY_FILE is empty: no key to rotate");
        return key_rotate(&c, path, spec.arg + 1, spec.narg - 1, finish);
    }
    if (!install && strcmp(op, "new") && strcmp(op, "path"))
        return sw__cli_usage(&c, "key", "unknown operation '%s' (use new, path, install, rotate or open)", op);
    if (install != (spec.narg == 2))
        return sw__cli_usage(&c, "key", install ? "install needs a LINK" : "%s takes no LINK", op);
    if (!path[0] && !install)
        return sw__cli_usage(&c, "key", "SWARM_KEY_FILE is empty: no key file to %s", op);
    if (!strcmp(op, "path")) {
        printf("%s\n", path);
        return SW_EXIT_OK;
    }
    if (!strcmp(op, "new"))
        return key_new(&c, path, force);
    return key_install(&c, spec.arg[1], path, newfile);
}
