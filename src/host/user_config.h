// The user's swarm config: $XDG_CONFIG_HOME/swarm/config (default ~/.config/swarm/config), an
// INI-like text file naming devices and groups and setting defaults for every command:
//
//   [devices]                     # NAME = LINK: a name usable wherever a LINK is
//   kitchen = serial:///dev/ttyUSB0?mode=lossy
//   [groups]                      # NAME = SELECTOR …: usable wherever --to takes a selector
//   lab = lab-* board=esp32
//   [defaults]
//   timeout = 5s                  # the global --timeout
//   [mqtt]                        # the fleet bus (docs/PROTOCOL.md, MQTT)
//   broker = mqtt://broker.lab/lab  # scanned with the LAN by plain scans and pushes
//   username = …                  # credentials and TLS CA file for every mqtt:// link
//   password = …
//   cafile = /etc/ssl/certs/lab-ca.pem
//
// '#' starts a comment (at the start of a line or after a blank); blanks around names and
// values are ignored. src/host/user_config.c.
#ifndef SW_HOST_USER_CONFIG_H
#define SW_HOST_USER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

// The file's path. 0, or SW_ENOENT when neither XDG_CONFIG_HOME nor HOME is set.
int sw_config_path(char *buf, size_t cap);
// The value of key in [section] into out (NUL-terminated). False when there is none (no
// file, no such section or key, or a value longer than cap - 1).
bool sw_config_get(const char *section, const char *key, char *out, size_t cap);
// The names of [section], for "did you mean": *names is malloc'd (free(*names) frees the
// strings too), *n of them; none (and *names NULL) without a file.
void sw_config_names(const char *section, char ***names, size_t *n);

#endif
