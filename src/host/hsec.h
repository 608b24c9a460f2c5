// The host's key and the authenticated session of its TCP links (src/host/hsec.c).
#ifndef SW_HOST_HSEC_H
#define SW_HOST_HSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swarm/noise.h"

// Where the host's key is: $SWARM_KEY_FILE, else $XDG_CONFIG_HOME/swarm/key, else
// ~/.config/swarm/key. 0, SW_ENOENT (no HOME), SW_ETOOBIG.
int sw_key_path(char *buf, size_t cap);
// The file of a device under the host's config folder: $XDG_CONFIG_HOME/swarm/DIR/NAME, where
// NAME is dev with every character but letters, digits and -_:@. (not leading) made '_'. DIR:
// "keys" (the device's own key), "locked" (the device proved it is locked) or "open" (the user
// said the device is open: swarm key open). 0 or an error.
int sw_key_device_file(const char *dir, const char *dev, char *buf, size_t cap);
// Reads a 32-byte key file. 0, SW_ENOENT, SW_EIO, SW_EPROTO (not 32 bytes); a message in err.
int sw_key_read(const char *path, uint8_t key[SW_NOISE_KEY], char *err, size_t errcap);
// What the user of a host without a key does about a locked device (for the messages after
// sw_hlink_line_locked / sw_hlink_probe_locked said "locked"): where the key goes, or that
// SWARM_KEY_FILE is set empty. A static string.
const char *sw_key_missing_hint(void);
// What those messages say happened (push, the dashboard, the mux; the one-shot commands add
// that nothing was run).
#define SW_KEY_LOCKED_TEXT "the device is locked and this host has no key for it (a locked " \
                           "node reads nothing but the authenticated handshake)"

#endif
