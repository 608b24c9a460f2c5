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
// sizes, modification times) changed since the last time.
#ifndef SW_NODE_APP_HASH_H
#define SW_NODE_APP_HASH_H

#include "node_int.h"

// Bounds: an app beyond them has no hash (null in the beacon).
#ifndef SW_APP_HASH_FILES
#define SW_APP_HASH_FILES 256            // regular files
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
} sw_app_hash_t;

// Brings h up to date with apps/{app}/ (lists the tree; hashes the content only when the
// listing changed). Returns true if h->hex is valid; false when the app has no directory, is
// out of bounds, or could not be read.
bool sw__app_hash_update(sw_node_t *n, sw_app_hash_t *h, const char *app);

#endif
