// swarm flashfs: a small power-safe file system for raw NOR flash (docs/FLASHFS.md).
//
// Portable and sans-I/O like the core: freestanding C, no heap. The caller owns the sw_ffs_t
// (every buffer is inside it, sized at compile time by the SW_FFS_* macros below) and supplies
// the block device as four calls plus its geometry. Everything is copy-on-write: a block that
// the last committed state references is never programmed or erased; a change becomes durable
// when one small commit record is programmed into the superblock pair (blocks 0 and 1). A power
// cut at any point leaves the last commit (or the one being written, if its record is whole).
//
// The file functions have the signatures and the semantics of the file part of the port
// contract (swarm/port.h, fs_open … fs_list) with the file system in place of the port context,
// and return the same error codes as the POSIX port (src/port/posix/fs_posix.c), so a port is a
// thin adapter (sw_ffs_port_files() fills the table for a port whose ctx is the sw_ffs_t).
// Differences from POSIX, all documented in docs/FLASHFS.md:
//   - writes through a handle are durable (and visible to other handles) after fs_sync or
//     fs_close; stat reports the size including unsynced writes of an open handle;
//   - a name is at most SW_FFS_NAME_MAX bytes; a file's size at most (block_count - 2) blocks
//     (holes included) and 4 GiB - 1: beyond, fs_write says SW_ETOOBIG;
//   - no symlinks, no "other" files; running out of space is SW_EIO, as ENOSPC is on POSIX.
// Single-threaded: no call may run inside another (fs_list's callback may call the others).
#ifndef SWARM_FLASHFS_H
#define SWARM_FLASHFS_H

#include "swarm/port.h"
#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

// @@ Compile-time limits; each changes sizeof(sw_ffs_t).
#ifndef SW_FFS_MAX_BLOCKS
#define SW_FFS_MAX_BLOCKS 1024 // largest block_count accepted (two bitmaps of this many bits)
#endif
#ifndef SW_FFS_FILES
#define SW_FFS_FILES 8 // open handles at once (fs_open beyond: SW_EFULL)
#endif
#ifndef SW_FFS_CACHE
#define SW_FFS_CACHE 128 // bytes of each of the two I/O buffers; a multiple of read and prog size
#endif
#ifndef SW_FFS_PROG_MAX
#define SW_FFS_PROG_MAX 32 // largest prog_size accepted (each handle buffers one program unit)
#endif
#ifndef SW_FFS_PEND
#define SW_FFS_PEND 8 // data blocks a handle adds to its file's index in one copy of it
#endif
#define SW_FFS_NAME_MAX 63   // bytes of one path component (on-flash format, not a tunable)
#define SW_FFS_PATH_MAX 1023 // bytes of a whole path, without the NUL

#if SW_FFS_CACHE % SW_FFS_PROG_MAX || SW_FFS_CACHE < 64 || SW_FFS_MAX_BLOCKS % 8 || SW_FFS_PEND < 1
#error "SW_FFS_CACHE must be a multiple of SW_FFS_PROG_MAX and >= 64; SW_FFS_MAX_BLOCKS of 8; SW_FFS_PEND >= 1"
#endif

// The block device. Blocks are numbered 0..block_count-1, offsets are bytes inside a block.
// Each call returns 0 or a negative error (any error: the data did not reach the flash; the
// file system moves on to another block where it can, else passes SW_EIO up).
typedef struct sw_ffs_bd {
    void *ctx; // passed to every call
    // off and n are multiples of read_size.
    int (*read)(void *ctx, uint32_t block, uint32_t off, void *buf, uint32_t n);
    // off and n are multiples of prog_size; the bytes were erased and not programmed since.
    int (*prog)(void *ctx, uint32_t block, uint32_t off, const void *buf, uint32_t n);
    // Sets every byte of the block to 0xff.
    int (*erase)(void *ctx, uint32_t block);
    // Returns once everything programmed and erased so far is durable.
    int (*sync)(void *ctx);
    uint32_t read_size;   // smallest read, bytes (1 for memory-mapped flash); divides SW_FFS_CACHE
    uint32_t prog_size;   // smallest program, bytes; <= SW_FFS_PROG_MAX
    uint32_t block_size;  // erase unit, bytes; a multiple of SW_FFS_CACHE, >= 256
    uint32_t block_count; // 4..SW_FFS_MAX_BLOCKS; blocks 0 and 1 hold the commit records
    // Optional wall clock for mtime (seconds since 1970); NULL: mtime 0.
    int64_t (*wall_s)(void *ctx);
} sw_ffs_bd_t;

// One open file (internal; in the struct only so that its size is known).
typedef struct sw_ffs_file {
    uint8_t open;      // 0: the slot is unused
    uint8_t flags;     // SW_O_*
    uint8_t dirty;     // changed since the last commit
    uint8_t orphan;    // its entry was removed: writes stay private, sync commits nothing
    uint8_t moved;     // fresh was replaced by a copy (a bad block): the tree must follow
    uint8_t failed;    // a write failed: unsynced writes are lost, sync and close say SW_EIO
    uint16_t slot;     // entry in the table
    uint16_t tail_n;   // bytes in tail
    uint32_t size;     // the file as this handle sees it
    uint32_t root;     // its block tree
    uint32_t tree_n;   // data blocks the tree is built for (the pending ones may go beyond)
    uint32_t pend_bi;  // pend[i] is data block pend_bi + i, not in the tree yet
    uint32_t npend;
    uint32_t pend[SW_FFS_PEND];
    uint32_t fresh;    // data block written since the last commit (appendable), or none
    uint32_t fresh_bi; // its index in the file
    uint32_t hw;       // bytes of fresh programmed (a multiple of prog_size)
    uint8_t tail[SW_FFS_PROG_MAX]; // bytes at fresh[hw..hw+tail_n), not programmed yet
} sw_ffs_file_t;

// The file system. Caller-owned (e.g. static), zeroed before first use (the calls then say
// SW_ENOENT until a mount), never copied while mounted. All fields internal.
typedef struct sw_ffs {
    const sw_ffs_bd_t *bd;
    uint8_t mounted;
    uint8_t ninflight; // blocks allocated by the running operation, not yet in any tree
    uint8_t nofree;    // the inflight list overflowed: no reclaiming until the operation ends
    uint32_t seq;      // of the last commit
    uint32_t sb_block; // 0 or 1: where the last commit record is
    uint32_t sb_next;  // offset of the next record slot in sb_block
    uint32_t rec_size; // bytes of a record slot (36 rounded up to prog_size)
    uint32_t tn;       // committed table: blocks
    uint32_t troot;    // committed table: root of its block tree
    uint32_t cursor;   // last block allocated (the allocator goes round from there)
    uint32_t visits;   // blocks marked by the running reclaim (bounded)
    uint32_t inflight[16];
    uint32_t rc_block, rc_off;     // what rcache holds (rc_block = none when empty)
    uint8_t rcache[SW_FFS_CACHE];  // read cache
    uint8_t pbuf[SW_FFS_CACHE];    // staging for programs
    uint8_t used[SW_FFS_MAX_BLOCKS / 8]; // allocated since the last reclaim, or reachable
    uint8_t bad[SW_FFS_MAX_BLOCKS / 8];  // failed a program or erase this session
    sw_ffs_file_t files[SW_FFS_FILES];
} sw_ffs_t;

// Erases blocks 0 and 1 and writes an empty file system. Needs the geometry only (fs need not
// be mounted; a mounted fs is unmounted first). Then sw_ffs_mount().
int sw_ffs_format(sw_ffs_t *fs, const sw_ffs_bd_t *bd);
// Reads the newest commit and checks the whole tree (time bounded by the metadata's size).
// SW_ENOENT: no file system (format it); SW_EINVAL: bad geometry; SW_EIO: corrupt or I/O error.
// bd must outlive the mount.
int sw_ffs_mount(sw_ffs_t *fs, const sw_ffs_bd_t *bd);
// Syncs and closes every handle (first error returned), then forgets the device.
int sw_ffs_unmount(sw_ffs_t *fs);
// Blocks in use (reachable from the last commit or an open handle, plus blocks 0 and 1) after
// a reclaim pass; SW_EIO if the metadata is corrupt. *total = block_count.
int sw_ffs_usage(sw_ffs_t *fs, uint32_t *used, uint32_t *total);

// The file part of swarm/port.h; see there for the semantics.
int sw_ffs_open(sw_ffs_t *fs, const char *path, int flags, int *fd);
int sw_ffs_read(sw_ffs_t *fs, int fd, uint64_t off, void *buf, size_t n);
int sw_ffs_write(sw_ffs_t *fs, int fd, uint64_t off, const void *buf, size_t n);
int sw_ffs_sync(sw_ffs_t *fs, int fd);
int sw_ffs_close(sw_ffs_t *fs, int fd);
int sw_ffs_stat(sw_ffs_t *fs, const char *path, sw_stat_t *st);
int sw_ffs_mkdir(sw_ffs_t *fs, const char *path);
int sw_ffs_rmdir(sw_ffs_t *fs, const char *path);
int sw_ffs_unlink(sw_ffs_t *fs, const char *path);
int sw_ffs_rename(sw_ffs_t *fs, const char *from, const char *to);
int sw_ffs_list(sw_ffs_t *fs, const char *path, int (*each)(void *u, const sw_dirent_t *e),
                void *u);

// Fills the fs_* members of ops with functions whose ctx is a mounted sw_ffs_t.
void sw_ffs_port_files(sw_port_ops_t *ops);

#ifdef __cplusplus
}
#endif
#endif
