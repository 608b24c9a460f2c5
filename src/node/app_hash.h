// The content hash of an app (apps/{app}/), as the beacon reports it in "swarm.app_hash" and a
// host can compute from its own copy of the app (docs/PROTOCOL.md, "Discovery").
//
// Definition: SHA-256 over every regular file under apps/{app}/, depth-first, the entries of each
// directory in byte order of their names, names starting with '.' skipped (temporary files of
// uploads, editor files), empty directories contributing nothing; for each file
//     relative path ('/'-separated) | 0x00 | size in decimal ASCII | 0x00 | SHA-256(content)
// The result is written as 64 lowercase hex digits.
//
// Re-hashing reads every file, so it happens only when a cheap listing fingerprint (paths,
// sizes, modification times) changed since the last time, or when the node says files changed
// behind the listing's back (n->files_gen: a push renames files whose size and time may match).
//
// The same walk also yields a manifest (push, docs/PROTOCOL.md "Push"): the list of those files
// with size and SHA-256, in the same order, whose id (sw__mf_id) is the app hash of the same
// directory. One definition: the walk and the per-file record below serve both.
#ifndef SW_NODE_APP_HASH_H
#define SW_NODE_APP_HASH_H

#include "swarm/sha256.h"

#include "node_int.h"

// Bounds: an app beyond them has no hash (null in the beacon).
#ifndef SW_APP_HASH_FILES
#define SW_APP_HASH_FILES SW__SZ(256, 64) // regular files (profile.h: fewer on an MCU)
#endif
#ifndef SW_APP_HASH_BYTES
#define SW_APP_HASH_BYTES (16u << 20)    // bytes of content
#endif
#ifndef SW_APP_HASH_DEPTH
#define SW_APP_HASH_DEPTH 8              // directory levels below apps/{app}/
#endif

typedef struct sw_app_hash {
    char app[64];       // the app the state belongs to
    bool listed;        // fp is the fingerprint of a successful listing
    uint64_t fp;        // fingerprint of the listing last hashed
    bool valid;         // hex holds the app's hash
    char hex[65];
    uint32_t rehashes;  // content hashes computed (for tests and sys.beacon)
    uint32_t gen;       // n->files_gen when hex was computed
} sw_app_hash_t;

// Brings h up to date with apps/{app}/ (lists the tree; hashes the content only when the
// listing changed). Returns true if h->hex is valid; false when the app has no directory, is
// out of bounds, or could not be read.
bool sw__app_hash_update(sw_node_t *n, sw_app_hash_t *h, const char *app);

///////////////////////////////////////////////////////////////////////////////////////////////
// Manifests: the files of a directory with size and SHA-256, in the hash's order (depth-first,
// names in byte order: the "canonical order", sw__mf_cmp). Also used as a plain sorted list of
// relative paths (size and sha unused). Memory grows through the port as entries are added,
// bounded by SW_APP_HASH_FILES entries, SW_APP_HASH_BYTES of content, SW_APP_HASH_DEPTH
// directory levels and SW_MF_PATH_MAX bytes per relative path. With SW_MF_POOL set (the MCU
// profiles) a manifest never reallocates (no fragmentation in a small heap): it is reserved
// once at the size it needs (sw__mf_reserve: the callers know an upper bound — the length of
// a list they were sent, a counting pass over a directory) and an entry beyond that is
// SW_ETOOBIG; one that was not reserved takes the whole bound (SW_APP_HASH_FILES entries,
// SW_MF_POOL bytes of paths) at its first entry. Before reservations, every list of a commit
// took that whole bound (5.6 KB each, eight at once: push.commit failed with EFULL on the
// mps2 firmware).
//
// Streaming: sw__mf_walk hands the files of a directory to a callback in canonical order with
// their digests, holding no list, and sw_mf_id_t computes an id record by record; push's
// verification merges a walk of the target with the sorted staged files this way instead of
// building the target's manifest and the new version's.

#ifndef SW_MF_POOL
#define SW_MF_POOL SW__SZ(0, 2048) // most bytes of paths of one manifest; 0: grown as needed
#endif
#ifndef SW_MF_PATH_MAX
#define SW_MF_PATH_MAX 255 // longest relative path in a manifest, bytes
#endif

typedef struct sw_mf_ent {
    uint32_t off;     // the relative path: pool + off, NUL-terminated
    uint16_t len;
    uint64_t size;    // bytes
    int64_t mtime;    // seconds since 1970 (cache key)
    uint8_t sha[32];  // SHA-256 of the content
} sw_mf_ent_t;

typedef struct sw_manifest {
    sw_mf_ent_t *ents;  // (with SW_MF_POOL, cap > 0: reserved, never grown)
    uint32_t count, cap;
    char *pool;
    size_t pool_len, pool_cap;
    uint64_t bytes;    // sum of the sizes
    int64_t hashed_at; // wall clock (s) when the digests were taken: cache entries whose mtime is
                       // not older may have changed within the same second, so are re-read
    uint32_t gen;      // n->files_gen at that time
} sw_manifest_t;

static inline const char *sw__mf_path(const sw_manifest_t *m, uint32_t i) { return m->pool + m->ents[i].off; }

// Lists dir (a normalised path) into m (emptied first). Files whose path, size and mtime match
// a trustworthy entry of cache (may be NULL) keep its digest; the others are read. A missing
// directory gives an empty manifest. 0, or SW_ETOOBIG / SW_EDEPTH (bounds), SW_EFULL
// (memory), a port error.
int sw__mf_build(sw_node_t *n, const char *dir, sw_manifest_t *m, const sw_manifest_t *cache);
// Appends an entry (rel: a relative path of len bytes). 0, SW_ETOOBIG (bounds, a path too
// long), SW_EDEPTH (too many levels), SW_EFULL (memory). sha may be NULL (zeros).
int sw__mf_add(sw_node_t *n, sw_manifest_t *m, const char *rel, size_t len, uint64_t size, int64_t mtime,
               const uint8_t *sha);
// Makes room for count entries and pool bytes of paths (each path's length + 1) in an empty
// manifest, exactly, in one allocation each (SW_MF_POOL profiles; elsewhere a no-op: the
// manifest grows as needed). pool is capped at SW_MF_POOL. 0, SW_ETOOBIG (count beyond
// SW_APP_HASH_FILES), SW_EFULL (memory).
int sw__mf_reserve(sw_node_t *n, sw_manifest_t *m, uint32_t count, size_t pool);
void sw__mf_clear(sw_manifest_t *m); // keeps the memory
void sw__mf_release(sw_node_t *n, sw_manifest_t *m);
// Sorts the entries into canonical order.
void sw__mf_sort(sw_manifest_t *m);
// Index of rel in a sorted manifest, or -1.
int sw__mf_find(const sw_manifest_t *m, const char *rel, size_t len);
// Canonical order of two relative paths: segment by segment, each in byte order (so "a/x"
// comes before "a.b" and "ab"): <0, 0, >0.
int sw__mf_cmp(const char *a, size_t an, const char *b, size_t bn);
// The id of a sorted manifest (= the app hash of a directory holding exactly these files),
// as 64 lowercase hex digits. 0 or SW_EIO.
int sw__mf_id(const sw_manifest_t *m, char hex[65]);
// An id computed record by record (the same as sw__mf_id of the manifest the records would
// make, given in canonical order).
typedef struct sw_mf_id {
    sw_sha256_t sha;
    int rc;
} sw_mf_id_t;
void sw__mf_id_begin(sw_mf_id_t *x);
void sw__mf_id_add(sw_mf_id_t *x, const char *rel, size_t len, uint64_t size, const uint8_t sha[32]);
int sw__mf_id_end(sw_mf_id_t *x, char hex[65]); // 0 or SW_EIO; frees x either way

// What sw__mf_walk hands over for each regular file: its relative path (len bytes, NUL after
// it), size, modification time and SHA-256. A non-zero return stops the walk with that value.
typedef int (*sw_mf_sink_t)(void *u, const char *rel, size_t len, uint64_t size, int64_t mtime,
                            const uint8_t sha[32]);
// The files of dir (a normalised path) in canonical order, with digests taken as
// sw__mf_build takes them (cache may be NULL). A missing directory has no files. 0, the
// sink's value, or what sw__mf_build returns.
int sw__mf_walk(sw_node_t *n, const char *dir, const sw_manifest_t *cache, sw_mf_sink_t sink, void *u);

// SHA-256 and size of one file (a normalised path); at most SW_APP_HASH_BYTES are read (more:
// SW_ETOOBIG). 0 or a port error.
int sw__file_sha(sw_node_t *n, const char *path, uint8_t sha[32], uint64_t *size);

#endif
