// flashfs internals shared by its files: on-flash constants (docs/FLASHFS.md is the spec),
// the block layer (ffs_store.c) and the table of entries (ffs_table.c).
#ifndef SW_FFS_INT_H
#define SW_FFS_INT_H

#include <string.h>

#include "swarm/flashfs.h"

#define FFS_NONE 0xffffffffu  // no block (a hole in a tree, an empty tree)
#define FFS_ROOT 0xffffu      // parent slot of the entries in the root directory
#define FFS_MAGIC 0x53465753u // "SWFS" little-endian: first word of a commit record
#define FFS_VERSION 1
#define FFS_REC_LEN 36        // bytes of a commit record before its padding
#define FFS_ENT 80            // bytes of a table entry
#define FFS_MAX_DEPTH 3       // levels of index blocks above the data blocks
#define FFS_T_FILE 1          // entry types; 0xff = unused slot
#define FFS_T_DIR 2

// A table entry as decoded (little-endian on flash; FLASHFS.md "Table").
typedef struct ffs_ent {
    uint8_t type, len;
    uint16_t parent;
    uint32_t size, root, mtime;
    char name[SW_FFS_NAME_MAX + 1];
} ffs_ent_t;

// A change of one table slot: ent NULL clears it.
typedef struct ffs_change {
    uint32_t slot;
    const ffs_ent_t *ent;
} ffs_change_t;

static inline uint32_t ffs_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void ffs_st32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

// --- ffs_store.c: blocks, trees, allocation, commits
uint32_t sw__ffs_crc32(uint32_t crc, const void *p, size_t n);
int sw__ffs_read(sw_ffs_t *fs, uint32_t blk, uint32_t off, void *buf, uint32_t n);
int sw__ffs_prog(sw_ffs_t *fs, uint32_t blk, uint32_t off, const void *buf, uint32_t n);
void sw__ffs_set_bad(sw_ffs_t *fs, uint32_t blk);
int sw__ffs_alloc(sw_ffs_t *fs, uint32_t *blk);
void sw__ffs_op_begin(sw_ffs_t *fs);
uint32_t sw__ffs_nblocks(const sw_ffs_t *fs, uint32_t size);
int sw__ffs_tree_get(sw_ffs_t *fs, uint32_t root, uint32_t n, uint32_t bi, uint32_t *blk);
int sw__ffs_tree_set(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new, uint32_t bi,
                     uint32_t blk);
int sw__ffs_tree_set_many(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new,
                          uint32_t bi, const uint32_t *blks, uint32_t cnt);
int sw__ffs_tree_shrink(sw_ffs_t *fs, uint32_t *root, uint32_t n_old, uint32_t n_new);
int sw__ffs_copy(sw_ffs_t *fs, uint32_t src, uint32_t len, const uint32_t *sub_off,
                 const uint8_t *const *sub, const uint32_t *sub_len, int nsub, uint32_t *out,
                 bool *blank);
int sw__ffs_commit(sw_ffs_t *fs, uint32_t tn, uint32_t troot);
int sw__ffs_reclaim(sw_ffs_t *fs);

// --- ffs_table.c: entries
uint32_t sw__ffs_slots(const sw_ffs_t *fs);
int sw__ffs_ent_get(sw_ffs_t *fs, uint32_t slot, ffs_ent_t *e);
int sw__ffs_table_update(sw_ffs_t *fs, const ffs_change_t *ch, int nch);
int sw__ffs_path_check(const char *path);
// Resolves path for fs_open: creates it (SW_O_CREATE) or truncates it (SW_O_TRUNC), committed.
int sw__ffs_open_entry(sw_ffs_t *fs, const char *path, int flags, uint32_t *slot, ffs_ent_t *e);
// Commits a file's new size and tree into its slot.
int sw__ffs_sync_entry(sw_ffs_t *fs, uint32_t slot, uint32_t size, uint32_t root);

// --- ffs_file.c: handles
int sw__ffs_file_mark(sw_ffs_t *fs, int (*mark)(sw_ffs_t *, uint32_t root, uint32_t n));
void sw__ffs_files_committed(sw_ffs_t *fs, uint32_t slot, uint32_t size, uint32_t root,
                             const sw_ffs_file_t *except);
void sw__ffs_files_orphan(sw_ffs_t *fs, uint32_t slot);
uint32_t sw__ffs_open_size(const sw_ffs_t *fs, uint32_t slot, uint32_t size);

#endif
