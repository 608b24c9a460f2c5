// swarm paths: turns a path a client sent into a normalised path relative to the node's root,
// or refuses it. Pure string logic (the port additionally refuses symlinks).
#ifndef SWARM_PATH_H
#define SWARM_PATH_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

// in[0..n) → out (NUL-terminated): '/'-separated, no leading or trailing '/', no empty or "."
// segments, ".." resolved lexically. A leading '/' means the root ("/apps/x" = "apps/x"), so
// micro-swarm's absolute device paths work. "", "/" and "." give "" (the root).
// Returns the length of out, or SW_EPERM (".." above the root, or a reserved path:
// sw_path_reserved), SW_EINVAL (a NUL byte, a
// backslash, or a segment longer than SW_NAME_MAX... 255), SW_ETOOBIG (out too small).
int sw_path_norm(const char *in, size_t n, char *out, size_t cap);
// The walk under sw_path_norm, for a caller that resolves in against a directory of its own
// (sw_ftp_path: FTP's working directory). Without out: validates in (SW_EINVAL as above) and
// returns the length of its kept segments joined by '/', with *above the ".." left over (they
// climb above in's start). With out and len (that length): writes them to out[0..len), no NUL.
int sw_path_walk(const char *in, size_t n, char *out, size_t len, size_t *above);
// The node's key file in its root (authenticated mode), and any name starting with it followed
// by '.': reserved for the node itself. sw_path_norm and sw_ftp_path refuse them with SW_EPERM,
// so no client command (f.*, FTP, Lua's file access through them) can read, replace, rename or
// delete the key.
#define SW_PATH_KEY_FILE "swarm.key"
bool sw_path_reserved(const char *norm);
// The last segment of a normalised path ("apps/x/main.lua" → "main.lua"; "" → "").
const char *sw_path_base(const char *norm);

#ifdef __cplusplus
}
#endif
#endif
