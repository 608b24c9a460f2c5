// Manifests of push targets (docs/PROTOCOL.md "Push"): the regular files of a directory such as
// apps/blink, each with its size and SHA-256, in the order of the app hash, and the target's
// id — exactly the app hash ("Discovery"), so a host compares its id with a beacon's
// swarm.app_hash without connecting. This is the host's one implementation of that hash.
//
// Order and exclusions: depth-first, the entries of each directory in byte order of their
// names, names starting with '.' skipped. id = SHA-256 over, for each file in that order,
//     relative path ('/'-separated) | 0x00 | size in decimal ASCII | 0x00 | SHA-256(content)
// written as 64 lowercase hex digits. No files (or no directory) → SHA-256 of nothing.
// Locally, symbolic links are followed (the device receives what they point to, as regular
// files); sockets, FIFOs and devices are skipped.
#ifndef SW_HOST_MANIFEST_H
#define SW_HOST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The node's bounds of an app hash (src/node/app_hash.h): beyond them a device has no id for
// the target, so a local tree beyond them is refused.
#define SW_MF_MAX_FILES 256
#define SW_MF_MAX_BYTES (16u << 20)
#define SW_MF_MAX_DEPTH 8      // directory levels below the target
#define SW_MF_PATH_MAX 255     // bytes of a relative path (the node's bound)

typedef struct sw_mf_file {
    char *path;          // relative to the target, '/'-separated, owned by the manifest
    uint64_t size;       // bytes
    uint8_t sha256[32];  // of the content
} sw_mf_file_t;

typedef struct sw_manifest {
    sw_mf_file_t *files; // n files in app-hash order
    size_t n, cap;
    uint64_t bytes;      // sum of the sizes
    uint8_t id[32];      // valid after sw_manifest_finish (or a successful scan / from_mp)
    char hex[65];        // id as lowercase hex
} sw_manifest_t;

void sw_manifest_init(sw_manifest_t *m);
void sw_manifest_free(sw_manifest_t *m);
// Appends one file (the caller keeps the order). 0, SW_EFULL (memory), SW_ETOOBIG (bounds).
int sw_manifest_add(sw_manifest_t *m, const char *path, uint64_t size, const uint8_t sha256[32]);
// Computes id and hex from the files as they are ordered now.
void sw_manifest_finish(sw_manifest_t *m);

// Reads the tree under dir (a missing dir is the empty target). 0, or an SW_E* code with a
// message in err: SW_ETOOBIG / SW_EDEPTH (beyond the bounds), SW_EIO (cannot read: errno text),
// SW_EFULL (memory).
int sw_manifest_scan(const char *dir, sw_manifest_t *m, char *err, size_t errcap);

// Appends a page of a device's file list, MsgPack [[path, size, sha256 (bin 32)], …] as
// push.manifest sends it, keeping its order; sw_manifest_finish once every page is in. 0, or
// SW_EPROTO / SW_EFULL (m then holds what it held before).
int sw_manifest_add_mp(const uint8_t *p, size_t n, sw_manifest_t *m);
// The same for a whole list: m is replaced, and its id computed.
int sw_manifest_from_mp(const uint8_t *p, size_t n, sw_manifest_t *m);

// The file with this path, or NULL (a linear search: manifests are small).
const sw_mf_file_t *sw_manifest_find(const sw_manifest_t *m, const char *path);

// What turns the device's target (have) into the local one (want): put = indices into want of
// the files the device lacks or holds with another size or SHA-256; del = indices into have of
// the files want does not hold. Both in manifest order. Free with sw_mf_diff_free.
typedef struct sw_mf_diff {
    size_t *put, n_put;
    size_t *del, n_del;
    uint64_t put_bytes;  // sum of the sizes of the put files
} sw_mf_diff_t;
int sw_manifest_diff(const sw_manifest_t *want, const sw_manifest_t *have, sw_mf_diff_t *d);
void sw_mf_diff_free(sw_mf_diff_t *d);

// The directories (relative, parents before children, each once) that hold the put files of d:
// what must exist in a staging directory before they are uploaded. Returns a count and an
// array of strings in *out (free each and the array), or a negative SW_EFULL.
long sw_manifest_dirs(const sw_manifest_t *want, const sw_mf_diff_t *d, char ***out);

// 64 lowercase hex digits → 32 bytes; false if s is anything else.
bool sw_manifest_unhex(const char *s, size_t n, uint8_t out[32]);

#endif
