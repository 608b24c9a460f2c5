// Internal API of the "f" app, shared by its two files: fs_app.c (arguments, errors, open files,
// open rd wr cl reset, registration) and fs_names.c (commands on names: dir stat hash mkdir rm
// rmdir new mv).
#ifndef SW_FS_INT_H
#define SW_FS_INT_H

#include "node_int.h"
#include "zin.h"

// Longest normalised path handled, NUL included. The paths of a request live in the part's
// state (sw_fs_app_t.path), never on the stack.
#ifndef SW_FS_PATH_MAX
#define SW_FS_PATH_MAX SW_NODE_PATH_MAX
#endif

enum {
    FM_RD = 1 << 0,
    FM_WR = 1 << 1,
    FM_APPEND = 1 << 2, // writes go to the end, whatever offset was given
    FM_ATOMIC = 1 << 3, // "W": writes go to tmp; cl syncs it and renames it over path (in
                        // push's staging: no tmp, the writes go to path itself, cl syncs it)
    FM_Z = 1 << 4,      // "Wz": FM_ATOMIC, and the writes are a zlib stream (zin.h)
};

// Compressed writes open at once (each holds the port's decompressor: about 11 KiB on POSIX).
#ifndef SW_FS_ZMAX
#define SW_FS_ZMAX 4
#endif

typedef struct sw_fs_file sw_fs_file_t;
struct sw_fs_file {
    sw_fs_file_t *next;
    const sw_rpc_t *owner; // the link that opened it
    int64_t handle;
    int fd;                // the port's
    uint8_t mode;          // FM_*
    uint64_t end;          // FM_APPEND: where the next write goes
    size_t size;           // of this allocation (path and tmp follow the struct)
    char *path;            // normalised target path
    char *tmp;             // FM_ATOMIC: the temp file (in push's staging: == path); else NULL
    int werr;              // FM_ATOMIC: the first failed write (sticky: no commit after it)
#if SW_WITH_ZIN
    sw_zw_t *zw;           // FM_Z: the stream (its own allocation); else NULL
#endif
};

enum { FS_NCMDS = 14 };

// Path buffers of the request being handled: mv takes three (s, d, x), open two (the path and
// its temp file), dir two (the directory, and its entries' full paths).
enum { FS_PATHS = 3 };

struct sw_fs_app {
    sw_node_t *n;
    sw_fs_file_t *files;
    uint16_t count;
    int64_t next_handle;
    // The paths of the command being handled, normalised. One set serves every command: the
    // node runs one at a time, and no f command waits or calls another (the port's fs calls
    // return before the handler does). Kept here so that no path is copied onto the stack.
    char path[FS_PATHS][SW_FS_PATH_MAX];
#if SW_WITH_ZIN
    uint8_t zbuf[SW_ZIN_BUF]; // inflate output of the f.wr being handled
    uint16_t zcount;          // FM_Z files open
#endif
};

typedef struct sw_fs_app sw_fs_app_t;

///////////////////////////////////////////////////////////////////////////////////////////////
// Helpers (fs_app.c)

// Fails the call with a formatted error text (in c->err_buf); returns err.
int sw__fs_failf(sw_call_t *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Fails with a port error about path p (may be NULL): "fn", "fx", or "NAME: text: /p".
int sw__fs_err(sw_call_t *c, int err, const char *p);
// The result of a failed argument helper.
int sw__fs_arg_err(const sw_call_t *c);
// True if argument name is present and not nil.
bool sw__fs_arg_present(const sw_call_t *c, const char *name);
// Integer argument >= 0 given as a (or its alias b, may be NULL); absent or nil: dflt.
bool sw__fs_arg_count(sw_call_t *c, const char *a, const char *b, int64_t dflt, int64_t *out);
// Path argument, normalised into out[SW_FS_PATH_MAX]; absent and not required: the root.
// Returns its length or an error (text set).
int sw__fs_arg_path(sw_call_t *c, const char *name, bool required, char *out);
sw_fs_app_t *sw__fs_of(const sw_call_t *c);
// True for names of atomic temp files (".<name>.swtmp<digits>").
bool sw__fs_is_tmp_name(const char *name, size_t len);

// Commands on names (fs_names.c).
int sw__fs_cmd_dir(sw_call_t *c);
int sw__fs_cmd_stat(sw_call_t *c);
int sw__fs_cmd_hash(sw_call_t *c);
int sw__fs_cmd_mkdir(sw_call_t *c);
int sw__fs_cmd_rm(sw_call_t *c);
int sw__fs_cmd_rmdir(sw_call_t *c);
int sw__fs_cmd_new(sw_call_t *c);
int sw__fs_cmd_mv(sw_call_t *c);

#endif
