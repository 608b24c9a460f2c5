// The host's side of the authenticated mode: the key (SWARM_KEY_FILE, or
// $XDG_CONFIG_HOME/swarm/key), and the Noise session (src/auth/seclink.c) of a TCP link to a
// locked node, between the connection and the link's MsgPack stream. hlink.c and hlink_io.c
// call in here at four points: open (key), connected (handshake), bytes in, bytes out.
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
#include "swarm/seclink.h"

int sw_key_path(char *buf, size_t cap)
{
    const char *env = getenv("SWARM_KEY_FILE");
    if (env)
        return snprintf(buf, cap, "%s", env) < (int)cap ? 0 : SW_ETOOBIG;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int k;
    if (xdg && *xdg)
        k = snprintf(buf, cap, "%s/swarm/key", xdg);
    else if (home && *home)
        k = snprintf(buf, cap, "%s/.config/swarm/key", home);
    else
        return SW_ENOENT;
    return k < (int)cap ? 0 : SW_ETOOBIG;
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

int sw__hsec_load(sw_hlink_t *l, char *err, size_t errcap)
{
    char path[1024];
    const char *env = getenv("SWARM_KEY_FILE");
    if (env && !*env)
        return 0; // SWARM_KEY_FILE= (empty): no key, talk to open nodes only
    if (sw_key_path(path, sizeof path))
        return 0;
    int rc = sw_key_read(path, l->key, err, errcap);
    if (rc == SW_ENOENT && !env)
        return 0; // no key made: the open mode
    if (rc)
        return rc;
    l->has_key = true;
    return 0;
}

///////////////////////////////////////////////////////////////////////////////////////////////
// The session

static int sec_send(void *ctx, const uint8_t *p, size_t n) { return sw__hlink_write_raw(ctx, p, n); }
static void sec_plain(void *ctx, const uint8_t *p, size_t n) { sw__hlink_feed_plain(ctx, p, n); }
static void sec_up(void *ctx) { sw__hlink_secure_up(ctx); }

int sw__hsec_start(sw_hlink_t *l)
{
    if (!l->sec && !(l->sec = malloc(sizeof *l->sec)))
        return SW_EFULL;
    uint8_t seed[SW_NOISE_KEY];
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
        return SW_EIO;
    sw_seclink_io_t io = {sec_send, sec_plain, sec_up, l};
    int rc = sw_seclink_start(l->sec, true, l->key, seed, &io);
    mbedtls_platform_zeroize(seed, sizeof seed);
    return rc;
}

void sw__hsec_feed(sw_hlink_t *l, const uint8_t *p, size_t n)
{
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
    else if (!was_up && !l->sec->reject)
        sw__hlink_set_error(l, rc, "%s answered the handshake in plain: it is not locked (an "
                            "open node takes no key: run with SWARM_KEY_FILE= to talk to it in "
                            "plain)", l->name);
    else
        sw__hlink_set_error(l, rc, "%s does not speak the authenticated protocol (%s)", l->name,
                            sw_strerror(rc));
    sw__hlink_lost(l, rc);
}

int sw__hsec_write(sw_hlink_t *l, const uint8_t *p, size_t n) { return sw_seclink_write(l->sec, p, n); }

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
