// The host's side of the authenticated mode: which key a link uses and whether the device must
// prove it holds it (SWARM_KEY_FILE; a per-device key $XDG_CONFIG_HOME/swarm/keys/DEVICE; the
// fleet key $XDG_CONFIG_HOME/swarm/key, with the devices known to be locked in
// $XDG_CONFIG_HOME/swarm/locked/DEVICE), and the Noise session (src/auth/seclink.c) of a link
// to a locked node: between the connection and the MsgPack stream (TCP, lossless serial), or
// around each Reliable message (lossy serial). hlink.c and hlink_io.c call in here at open
// (key), connected / Reliable up (handshake), bytes or messages in, and bytes out.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "hlink_int.h"
#include "hsec.h"
#include "swarm/mp.h"
#include "swarm/noise_line.h"
#include "swarm/seclink.h"

// $XDG_CONFIG_HOME/swarm/REST (or ~/.config/swarm/REST).
static int cfg_path(char *buf, size_t cap, const char *rest)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int k;
    if (xdg && *xdg)
        k = snprintf(buf, cap, "%s/swarm/%s", xdg, rest);
    else if (home && *home)
        k = snprintf(buf, cap, "%s/.config/swarm/%s", home, rest);
    else
        return SW_ENOENT;
    return k < (int)cap ? 0 : SW_ETOOBIG;
}

int sw_key_path(char *buf, size_t cap)
{
    const char *env = getenv("SWARM_KEY_FILE");
    if (env)
        return snprintf(buf, cap, "%s", env) < (int)cap ? 0 : SW_ETOOBIG;
    return cfg_path(buf, cap, "key");
}

int sw_key_device_file(const char *dir, const char *dev, char *buf, size_t cap)
{
    char name[200];
    size_t k = 0;
    for (const char *p = dev; *p && k < sizeof name - 1; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '-' || ch == '_' || ch == ':' || ch == '@' || (ch == '.' && k > 0);
        name[k++] = ok ? ch : '_';
    }
    name[k] = 0;
    if (!k)
        return SW_EINVAL;
    char rest[260];
    snprintf(rest, sizeof rest, "%s/%s", dir, name);
    return cfg_path(buf, cap, rest);
}

int sw_key_read(const char *path, uint8_t key[SW_NOISE_KEY], char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errcap, "cannot read the key %s: %s", path, strerror(e));
        return e == ENOENT ? SW_ENOENT : SW_EIO;
    }
    uint8_t buf[SW_NOISE_KEY + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != SW_NOISE_KEY) {
        snprintf(err, errcap, "%s is not a key (%d bytes; a key is %d, made by `swarm key new`)",
                 path, (int)n, SW_NOISE_KEY);
        mbedtls_platform_zeroize(buf, sizeof buf);
        return SW_EPROTO;
    }
    memcpy(key, buf, SW_NOISE_KEY);
    mbedtls_platform_zeroize(buf, sizeof buf);
    return 0;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

const char *sw_key_missing_hint(void)
{
    const char *env = getenv("SWARM_KEY_FILE");
    if (env && !*env)
        return "SWARM_KEY_FILE is set empty (no key): set it to the fleet key's file";
    return "copy the fleet key from a host that has it to `swarm key path` (mode 0600), or set "
           "SWARM_KEY_FILE=FILE (docs/SECURITY.md, \"The locked mode\")";
}

// SWARM_ALLOW_OPEN set and not "" or "0" (the CLI's --allow-open sets it).
static bool allow_open_env(void)
{
    const char *v = getenv("SWARM_ALLOW_OPEN");
    return v && *v && strcmp(v, "0") != 0;
}

int sw__hsec_load(sw_hlink_t *l, const char *dev, char *err, size_t errcap)
{
    char path[1024];
    l->has_key = l->key_optional = false;
    l->allow_open = allow_open_env();
    if (l->uri.kind != SW_URI_TCP && l->uri.kind != SW_URI_SERIAL && l->uri.kind != SW_URI_MQTT)
        return 0; // a mux (unix://: it holds the key; its socket's clients are trusted by file
                  // mode); mqtt:// seals message by message (hlink_mqtt.c)
    const char *env = getenv("SWARM_KEY_FILE");
    if (env && !*env)
        return 0; // SWARM_KEY_FILE= (empty): no key, talk to open nodes only
    int rc;
    if (env) { // an explicit key: every device must prove it holds it
        if ((rc = sw_key_read(env, l->key, err, errcap)))
            return rc;
        l->has_key = true;
        return 0;
    }
    snprintf(l->dev, sizeof l->dev, "%s", dev);
    // the device's own key, if the host has one: the device must be locked with it
    if (!sw_key_device_file("keys", dev, path, sizeof path) && exists(path)) {
        if ((rc = sw_key_read(path, l->key, err, errcap)))
            return rc;
        l->has_key = true;
        return 0;
    }
    // the user said this device is open (swarm key open NAME): changes go to it in plain
    if (!sw_key_device_file("open", dev, path, sizeof path) && exists(path))
        l->allow_open = true;
    bool known = !sw_key_device_file("locked", dev, path, sizeof path) && exists(path);
    if (sw_key_path(path, sizeof path))
        return 0;
    rc = sw_key_read(path, l->key, err, errcap);
    if (rc == SW_ENOENT && !known)
        return 0; // no key made: the open mode
    if (rc == SW_ENOENT) {
        char lk[1024];
        sw_key_device_file("locked", dev, lk, sizeof lk);
        snprintf(err, errcap, "%s is known to be locked (%s) but the host has no key (%s): make "
                 "or copy the key, or remove %s if the device is open now", dev, lk, path, lk);
        return SW_EAUTH;
    }
    if (rc)
        return rc;
    l->has_key = true;
    // the fleet key: a device the host has not seen locked may answer that it is open
    l->key_optional = !known;
    return 0;
}

// The handshake succeeded with a key from the config folder: remember that this device is
// locked, so it can never be talked to in plain again without the user saying so.
static void remember_locked(sw_hlink_t *l)
{
    char path[1024];
    if (!l->dev[0])
        return;
    if (!sw_key_device_file("open", l->dev, path, sizeof path)) // (locked now, whatever it was)
        unlink(path);
    if (sw_key_device_file("locked", l->dev, path, sizeof path) || exists(path))
        return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    mkdir(dir, 0700);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        static const char note[] = "this device proved it holds the key: it is never talked to in "
                                   "plain (remove this file if it was reset to open)\n";
        ssize_t w = write(fd, note, sizeof note - 1);
        (void)w;
        close(fd);
    }
}

// mqtt:// (hlink_mqtt.c): the handshake through the broker succeeded.
void sw__hsec_mqtt_up(sw_hlink_t *l) { remember_locked(l); }

// The device answered the handshake in plain (an open node's link message). With the fleet key
// and a device not known to be locked, that is what an open node does: talk to it in plain. A
// device with its own key, or one known locked, must not be downgraded by whoever answers.
static void said_open(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    if (l->key_optional) {
        sw_seclink_wipe(l->sec);
        free(l->sec);
        l->sec = NULL;
        l->plain = true;
        sw__hlink_plain_fallback(l, p, n);
        return;
    }
    char lk[1024] = "", dk[1024] = "";
    if (l->dev[0]) {
        sw_key_device_file("locked", l->dev, lk, sizeof lk);
        sw_key_device_file("keys", l->dev, dk, sizeof dk);
    }
    sw__hlink_set_error(l, SW_EAUTH, "%s answered in plain, as an open node would, but the host "
                        "knows it as locked (%s): refused (an impostor, or a device reset to "
                        "open: then remove that file)", l->name,
                        getenv("SWARM_KEY_FILE") ? "SWARM_KEY_FILE is set"
                        : dk[0] && exists(dk) ? "it has a key of its own"
                        : lk[0] && exists(lk) ? lk : "?");
    sw__hlink_lost(l, SW_EAUTH);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The session

static bool lossy(const sw_hlink_t *l) { return l->uri.kind == SW_URI_SERIAL && l->uri.lossy; }

static int sec_send(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    if (!lossy(l))
        return sw__hlink_write_raw(l, p, n);
    // one Reliable message: the frame as a MsgPack bin item
    uint8_t w[SW_NOISE_BIN_HDR + SW_NOISE_HDR + SW_NOISE_FRAME_MAX];
    size_t k = sw_noise_bin_wrap(w, sizeof w, p, n);
    if (!k)
        return SW_ETOOBIG;
    int rc = sw__hlink_rel_send(l, w, k);
    mbedtls_platform_zeroize(w, k);
    return rc;
}

static void sec_plain(void *ctx, const uint8_t *p, size_t n)
{
    sw_hlink_t *l = ctx;
    if (lossy(l))
        sw__hlink_msg(l, p, n);
    else
        sw__hlink_feed_plain(l, p, n);
}

static void sec_up(void *ctx)
{
    sw_hlink_t *l = ctx;
    remember_locked(l);
    sw__hlink_secure_up(l);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// A device that answered open although the host holds a key (docs/SECURITY.md, "A device never
// seen locked"): it may be an impostor (anyone can answer as an open node), so only commands
// that read go to it; what would give it something — a file, a push, a config, code to run, a
// key, an app's command the host cannot classify — is refused before a byte of it is sent,
// unless the user says the device is open (SWARM_ALLOW_OPEN=1, --allow-open, or for one device
// the record $XDG_CONFIG_HOME/swarm/open/NAME that `swarm key open NAME` writes).

// Commands that only read (their arguments say what to read, nothing more).
static const char *const read_cmds[] = {"ping", "sys.info", "sys.machid", "sys.log", "f.ls",
                                        "f.dir", "f.stat", "f.hash", "f.rd", "f.cl",
                                        "push.manifest", NULL};

// The dotted name of a raw action item ("f.wr" or ["f", "wr"]). False if it is neither.
static bool action_name(sw_span_t a, char *buf, size_t cap)
{
    sw_mpr_t r;
    sw_mpr_init(&r, a.p, a.n);
    sw_span_t s;
    uint32_t k;
    if (sw_mpr_str(&r, &s))
        return s.n < cap && (memcpy(buf, s.p, s.n), buf[s.n] = 0, true);
    sw_mpr_init(&r, a.p, a.n);
    if (!sw_mpr_array(&r, &k))
        return false;
    size_t o = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (!sw_mpr_str(&r, &s) || o + s.n + 2 > cap)
            return false;
        if (i)
            buf[o++] = '.';
        memcpy(buf + o, s.p, s.n);
        o += s.n;
    }
    buf[o] = 0;
    return k > 0;
}

static bool reads_only(const char *name, sw_span_t d)
{
    for (const char *const *c = read_cmds; *c; c++)
        if (!strcmp(name, *c))
            return true;
    const char *dot = strrchr(name, '.');
    if (!strcmp(dot ? dot + 1 : name, "_dir")) // what a node offers
        return true;
    // (arguments given by position, or malformed, are not read as "absent")
    sw_span_t v;
    if (!strcmp(name, "sys.cfg")) // without d it reads
        return !d.n || sw_mp_map_get(d.p, d.n, "d", &v) == SW_ENOENT;
    if (!strcmp(name, "f.open")) { // mode r (the default) reads
        int rc = d.n ? sw_mp_map_get(d.p, d.n, "m", &v) : SW_ENOENT;
        if (rc)
            return rc == SW_ENOENT;
        sw_mpr_t r;
        sw_span_t m;
        sw_mpr_init(&r, v.p, v.n);
        return sw_mpr_str(&r, &m) && m.n == 1 && m.p[0] == 'r';
    }
    return false;
}

int sw__hsec_gate(sw_hlink_t *l, const char *dotted, const sw_span_t *action, sw_span_t d)
{
    if (!l->has_key || !l->plain || l->allow_open)
        return 0;
    char name[96];
    if (dotted)
        snprintf(name, sizeof name, "%s", dotted);
    else if (!action_name(*action, name, sizeof name))
        snprintf(name, sizeof name, "?");
    if (reads_only(name, d))
        return 0;
    // the user may have said so since the link opened (`swarm key open NAME` while a dashboard
    // or a mux keeps its links)
    char path[1024];
    if (!sw_key_device_file("open", l->dev, path, sizeof path) && exists(path)) {
        l->allow_open = true;
        return 0;
    }
    sw__hlink_set_error(l, SW_EAUTH, "%s answered as an open node, but the host holds a key for "
                        "it: it may be an impostor, so %s (it changes the device) was not sent. "
                        "If the device really is open: swarm key open %s (or --allow-open, "
                        "SWARM_ALLOW_OPEN=1); or lock it: swarm key install %s", l->name, name,
                        l->dev, l->name);
    return SW_EAUTH;
}

bool sw__hsec_use(const sw_hlink_t *l)
{
    return l->has_key && !l->plain && (l->uri.kind == SW_URI_TCP || l->uri.kind == SW_URI_SERIAL);
}

int sw__hsec_start(sw_hlink_t *l)
{
    if (!l->sec && !(l->sec = malloc(sizeof *l->sec)))
        return SW_EFULL;
    uint8_t seed[SW_NOISE_KEY];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        return SW_EIO;
    sw_seclink_io_t io = {sec_send, sec_plain, sec_up, l};
    l->hunting = l->uri.kind == SW_URI_SERIAL && !lossy(l);
    l->hunt_win = 0;
    int rc = sw_seclink_start(l->sec, true, l->key, seed, &io);
    mbedtls_platform_zeroize(seed, sizeof seed);
    return rc;
}

void sw__hsec_feed(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    // A line: what an earlier session left there comes first; the answer starts at a mark
    if (l->hunting) {
        const uint32_t marks[2] = {sw_noise_mark_word(SW_NOISE_LINE_LOCKED),
                                   sw_noise_mark_word(SW_NOISE_LINE_OPEN)};
        unsigned which;
        size_t before, k = sw_noise_line_hunt(&l->hunt_win, p, n, marks, 2, &which, &before);
        if (!k)
            return;
        l->hunting = false;
        if (which == 1) {
            said_open(l, NULL, 0);
            return;
        }
        p += k, n -= k;
    }
    if (!n)
        return;
    int rc = sw_seclink_input(l->sec, p, n);
    if (!rc || l->closing)
        return;
    bool was_up = l->up;
    if (rc == SW_EAUTH && l->sec->reject == SW_NOISE_REJECT_AUTH)
        sw__hlink_set_error(l, SW_EAUTH, "wrong key for %s (the node refused the handshake)", l->name);
    else if (rc == SW_EAUTH && was_up)
        sw__hlink_set_error(l, SW_EAUTH, "%s: a frame failed authentication (forged, replayed or "
                            "damaged): connection closed", l->name);
    else if (rc == SW_EAUTH)
        sw__hlink_set_error(l, SW_EAUTH, "%s did not prove it holds the key: not the node you "
                            "meant, or an impostor", l->name);
    else if (!was_up && !l->sec->reject) {
        said_open(l, NULL, 0);
        return;
    }
    else
        sw__hlink_set_error(l, rc, "%s does not speak the authenticated protocol (%s)", l->name,
                            sw_strerror(rc));
    sw__hlink_lost(l, rc);
}

void sw__hsec_probe_feed(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    const uint32_t marks[2] = {sw_noise_mark_word(SW_NOISE_LINE_LOCKED),
                               sw_noise_mark_word(SW_NOISE_LINE_OPEN)};
    unsigned which;
    size_t before;
    if (l->probe != SW__PROBE_WAIT || !sw_noise_line_hunt(&l->hunt_win, p, n, marks, 2, &which, &before))
        return;
    l->probe = which ? SW__PROBE_OPEN : SW__PROBE_LOCKED;
    sw_hlink_probe_fn fn = l->probe_fn;
    if (!fn)
        return; // (the blocking form reads l->probe)
    l->probe_fn = NULL;
    l->probe = SW__PROBE_NONE;
    if (!l->closing)
        fn(l->probe_u, l, !which);
}

void sw__hsec_rel_rx(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    const uint8_t *body;
    size_t len;
    if (sw_noise_bin_unwrap(p, n, &body, &len)) {
        sw__hsec_feed(l, body, len);
        return;
    }
    if (!l->up) { // a plain message before the handshake's answer: an open node's link message
        said_open(l, p, n);
        return;
    }
    sw__hlink_set_error(l, SW_EPROTO, "%s: a plain message inside the authenticated session: "
                        "connection closed", l->name);
    sw__hlink_lost(l, SW_EPROTO);
}

int sw__hsec_write(sw_hlink_t *l, const uint8_t *p, size_t n)
{
    // lossy: one message, one frame, one Reliable message; refused before it takes a nonce
    if (lossy(l) && (n > SW_NOISE_FRAME_PAYLOAD ||
                     n + 3 + SW_NOISE_HDR + SW_NOISE_TAG > sw_rel_max_payload(&l->rel)))
        return SW_ETOOBIG;
    return sw_seclink_write(l->sec, p, n);
}

bool sw__hsec_handshaking(const sw_hlink_t *l) { return l->sec && !sw_seclink_ready(l->sec); }

void sw__hsec_free(sw_hlink_t *l)
{
    if (l->sec) {
        sw_seclink_wipe(l->sec);
        free(l->sec);
        l->sec = NULL;
    }
    mbedtls_platform_zeroize(l->key, sizeof l->key);
}
