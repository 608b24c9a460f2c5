// swarm: common definitions every part of the project shares — version and error codes.
//
// Errors are negative ints and 0 is success (positive values are counts where a function says
// so). The list is one X-macro so the enum, sw_strerror() and sw_errname() never drift apart.
#ifndef SWARM_SW_H
#define SWARM_SW_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "swarm/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_VERSION_MAJOR 0
#define SW_VERSION_MINOR 1
#define SW_VERSION_PATCH 0
#define SW_VERSION_STRING "0.1.0"

//     name          value  message
#define SW_ERRNO_MAP(X)                                                        \
    X(OK,             0, "success")                                            \
    X(EINVAL,        -1, "invalid argument")                                   \
    X(EFULL,         -2, "buffer or table full")                               \
    X(EPROTO,        -3, "malformed input")                                    \
    X(EDEPTH,        -4, "nesting too deep")                                   \
    X(ETYPE,         -5, "wrong type")                                         \
    X(ERANGE,        -6, "value out of range")                                 \
    X(EAGAIN,        -7, "need more data / try again")                         \
    X(ETOOBIG,       -8, "too large")                                          \
    X(ENOENT,        -9, "no such file, key or command")                       \
    X(EEXIST,       -10, "already exists")                                     \
    X(EIO,          -11, "input/output error")                                 \
    X(ETIMEDOUT,    -12, "timed out")                                          \
    X(ECLOSED,      -13, "link closed")                                        \
    X(EBUSY,        -14, "busy")                                               \
    X(ECRC,         -15, "checksum mismatch")                                  \
    X(EPERM,        -16, "not permitted")                                      \
    X(ENOTDIR,      -17, "not a directory")                                    \
    X(EISDIR,       -18, "is a directory")                                     \
    X(ENOTEMPTY,    -19, "directory not empty")                                \
    X(ECANCELED,    -20, "cancelled")                                          \
    X(EREMOTE,      -21, "error reported by the peer")                         \
    X(ENOTSUP,      -22, "not supported")                                    \
    X(ENOSPC,       -23, "no space left on device")                            \
    X(EAUTH,        -24, "authentication failed")

typedef enum sw_err {
#define SW__ERR_ENUM(name, value, msg) SW_##name = (value),
    SW_ERRNO_MAP(SW__ERR_ENUM)
#undef SW__ERR_ENUM
} sw_err_t;

// Human-readable text for an error code; never NULL ("unknown error" for values not in the map).
const char *sw_strerror(int err);
// The symbolic name ("EPROTO") of an error code; never NULL ("E?" for unknown values).
const char *sw_errname(int err);

// A view of bytes somebody else owns (no copy, no lifetime of its own).
typedef struct sw_span {
    const uint8_t *p;
    size_t n;
} sw_span_t;

#ifdef __cplusplus
}
#endif
#endif
