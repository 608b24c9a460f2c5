// What the host knows about a project's files from an earlier command, by their identity: a
// file whose device, inode, size, modification and change times (to the nanosecond) are what
// they were has the content it had, so its SHA-256 (manifest.c) and that it compiles (the Lua
// check of `swarm push`, lua_check.c) need not be computed again. Git's index and make rest on
// the same identity.
//
// A file changed within the same tick of the file system's clock as the change recorded would
// keep its times; so a file is only recorded when its last change is SW_FCACHE_SETTLE_MS older
// than the moment it was read (git's "racily clean" entries: those are looked at again).
//
// Off until sw_fcache_enable (the CLI's push turns it on); then kept in
// $XDG_CACHE_HOME/swarm/files (~/.cache/swarm/files), written atomically by sw_fcache_save with
// the last command's files first; a command reads back SW_FCACHE_MAX / 2 of them and records at
// most SW_FCACHE_MAX in all. A cache that cannot be read is
// an empty one; one that cannot be written costs the work again next time. Not thread-safe.
#ifndef SW_HOST_FCACHE_H
#define SW_HOST_FCACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define SW_FCACHE_MAX 8192
#define SW_FCACHE_SETTLE_MS 2000 // coarser than any file system's clock tick (FAT: 2 s)

enum {
    SW_FC_SHA = 1,    // sha256 holds the content's SHA-256
    SW_FC_LUA_OK = 2, // the content compiles as a Lua text chunk (this Lua version)
};

// Turns the cache on for this process (loads it on first use). path: the cache file, or NULL
// for the default above.
void sw_fcache_enable(const char *path);
bool sw_fcache_enabled(void);
// What is known of the file with this stat: the SW_FC_* flags (0: nothing, or the cache is off),
// and its SHA-256 into sha256 (may be NULL) when SW_FC_SHA is among them. want: the flags the
// caller needs (a hit in sw_fcache_stats when all of them are known).
unsigned sw_fcache_get(const struct stat *st, unsigned want, uint8_t sha256[32]);
// Records flags (and the SHA-256 with SW_FC_SHA) for the file whose stat was taken at or before
// read_ms (CLOCK_REALTIME milliseconds, before its content was read); ignored when the file
// changed less than SW_FCACHE_SETTLE_MS before that.
void sw_fcache_put(const struct stat *st, int64_t read_ms, unsigned flags, const uint8_t sha256[32]);
// CLOCK_REALTIME in milliseconds (for read_ms).
int64_t sw_fcache_now_ms(void);
// Writes the cache if something was recorded (0, or SW_EIO / SW_ENOENT: nowhere to write it).
int sw_fcache_save(void);
// Lookups that found what they wanted, and the others, so far (for -v).
void sw_fcache_stats(unsigned *hits, unsigned *misses);
// The folder the cache lives in ($XDG_CACHE_HOME/swarm), made if missing, into buf: 0, or
// SW_ENOENT when the cache is off or has no place.
int sw_fcache_dir(char *buf, size_t cap);
// Forgets everything in memory and turns the cache off (what the end of a process does; tests).
void sw_fcache_reset(void);

#endif
