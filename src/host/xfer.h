// swarm transfer engine: copies one file between the host and a device over a host link
// (hlink.h) through the device's "f" app (docs/PROTOCOL.md, "Files"). A window of chunk
// requests is kept in flight (f.wr / f.rd at explicit offsets), so a transfer runs at the
// speed of the link rather than one round trip per chunk; the bytes sent or received are
// checked end to end against the device's f.hash (SHA-256). Used by `swarm fs` and, later,
// `swarm push`. Runs on the link's libuv loop; every callback comes from that loop.
//
//   put: [sys.info] f.open p m="W" → f.wr × N → f.cl → f.hash p  (f.cl with the last f.wr
//        when opts.close_early)
//        Compressed (opts.compress and a device that says it inflates): the file is read at
//        once, deflated (zpack.h), opened with m="Wz" s=SIZE, and the f.wr carry the stream.
//        Mode "W" is atomic: the device writes a temp file and only f.cl renames it over p, so
//        a transfer cut before f.cl (link lost, error, cancel) leaves p with its old content.
//   get: [sys.info] f.stat p → f.open p m="r" → f.rd × N (until a short read) → f.cl → f.hash p
#ifndef SW_HOST_XFER_H
#define SW_HOST_XFER_H

#include <stdbool.h>
#include <stdint.h>

#include "hlink.h"

#define SW_XFER_WINDOW_DEFAULT 8u
#define SW_XFER_WINDOW_MAX 64u
// Bytes of a chunk request or reply that are not file data (keys, handle, offset, seq,
// bin header); a chunk is the smaller message limit of the two ends minus this.
#define SW_XFER_MSG_OVERHEAD 64u

typedef struct sw_xfer sw_xfer_t;

typedef struct sw_xfer_opts {
    uint32_t window;      // chunk requests in flight, 1..SW_XFER_WINDOW_MAX; 0 = 8, or on a
                          // lossy serial link the Reliable window in force if larger (16)
    uint32_t chunk;       // file bytes per request; 0 (default) or more than fits = the largest
                          // that fits both the link and the device. With 0 on a lossy serial
                          // link the chunk then adapts to the line's bit-error rate (xfer.c).
    uint32_t dev_max_msg; // the device's largest message in bytes (its sys.info "max_msg");
                          // 0 = ask the device first (the result reports it for the next file)
    uint32_t timeout_ms;  // longest wait for an answer while requests are out; 0 = no limit
    bool no_verify;       // skip the final f.hash comparison
    // put: compress (a zlib stream, f.open mode "Wz") when the device can inflate and it makes
    // the file smaller. zbits/zratio: the device's sys.info "z" and "zr" (0: it cannot); with
    // dev_max_msg 0 the engine reads them from the sys.info it asks for.
    bool compress;
    uint8_t zbits;
    uint32_t zratio;
    // put, compress and no_verify: the file's stream made once by the caller (zpack.h) for
    // many devices; borrowed, it must stay valid until done. The put's size is its plain size;
    // fd is then not read. NULL: the engine compresses the file itself.
    const uint8_t *zdata;
    size_t zlen;
    // put: the file's SHA-256, when the caller knows it already (a push has it from its
    // manifest). The engine then reads the file without hashing it and reports this as the
    // result's sha256 (and compares it with f.hash unless no_verify). NULL: the engine hashes
    // the bytes it sends.
    const uint8_t *sha256;
    // put: f.cl goes right behind the last f.wr instead of after its answer (one round trip
    // less per file). The device commits the file even if a write it took failed in a way that
    // does not stick to the handle (docs/PROTOCOL.md, "Atomic replace"), and a cancel after
    // f.cl left may find the file committed: only for writes checked end to end afterwards
    // (a push's staged files, which push.commit verifies against the version's id).
    bool close_early;
    // put, not compressed: the file's bytes, made once by the caller for many devices;
    // borrowed, valid until done. The fd is then not read (it may be -1) and size is len.
    const uint8_t *data;
    size_t len;
} sw_xfer_opts_t;

// What happened; valid only during the done callback (copy what you need).
typedef struct sw_xfer_result {
    // 0, or why the transfer failed:
    //   SW_EREMOTE   the device answered with an error: text holds its error ("fn", "EPERM: …")
    //   SW_ECLOSED   the link went down;  SW_ETIMEDOUT  no answer within timeout_ms
    //   SW_EIO       reading or writing the local fd failed: sys_errno says why
    //   SW_ECRC      the device's f.hash differs from the SHA-256 of the bytes moved
    //   SW_EISDIR    get: the device path is a directory
    //   SW_EPROTO    an answer the engine does not understand;  SW_ECANCELED  sw_xfer_cancel()
    //   SW_EINVAL / SW_ETOOBIG / SW_EFULL   a request could not be sent (bad path, out of memory)
    int err;
    int sys_errno;          // SW_EIO: errno of the failed read()/write()
    const char *step;       // what was under way: "info" "stat" "open" "wr" "rd" "cl" "hash"
                            // "read" (local) "write" (local); "" when done
    char text[512];         // the device's error text (SW_EREMOTE) or a message for people
    uint64_t bytes;         // file bytes moved (put: acknowledged by f.wr; get: written to fd)
    uint64_t total;         // the expected size (put: as given; get: f.stat's), 0 = unknown
    uint8_t sha256[32];     // of the bytes moved (complete when err == 0)
    bool verified;          // the device's f.hash matched sha256
    uint32_t chunk, window; // what was used (chunk: the last one, when it adapted)
    uint32_t dev_max_msg;   // the device's message limit (from opts or sys.info)
    uint64_t elapsed_ms;    // from start to done
    bool compressed;        // put: the file went as a zlib stream
    uint64_t wire;          // put: file bytes that crossed the link (compressed or plain)
    uint8_t zbits;          // the device's sys.info "z" (0: no inflate), when the engine asked
    uint32_t zratio;        // and its "zr"
} sw_xfer_result_t;

typedef struct sw_xfer_cbs {
    // Bytes moved so far and the expected total (0 = unknown). May be NULL.
    void (*progress)(void *u, uint64_t done, uint64_t total);
    // Called exactly once, last. The transfer frees itself after it returns, so its handle
    // is invalid from then on; the callback may close the link.
    void (*done)(void *u, const sw_xfer_result_t *r);
    void *u;
} sw_xfer_cbs_t;

// Starts sending the bytes of fd, read from its current position to end of file (a pipe
// works; reads block the loop briefly), or those of opts data / zdata, to remote (a device
// path). loop: the one the link
// runs on. size: the expected byte count, only for progress (0 = unknown). The fd stays the
// caller's and must stay open until done. Returns 0 and *out (done() may already have run if
// the first request could not be sent), or SW_EINVAL / SW_EFULL / SW_ECLOSED (link down)
// without calling anything.
int sw_xfer_put(uv_loop_t *loop, sw_hlink_t *l, int fd, uint64_t size, const char *remote,
                const sw_xfer_opts_t *o, const sw_xfer_cbs_t *cbs, sw_xfer_t **out);
// Starts copying remote into fd, written sequentially in file order (a pipe works).
int sw_xfer_get(uv_loop_t *loop, sw_hlink_t *l, const char *remote, int fd,
                const sw_xfer_opts_t *o, const sw_xfer_cbs_t *cbs, sw_xfer_t **out);
// Abandons a transfer that is not done: done() is called (err SW_ECANCELED) before this
// returns. Answers still due are dropped. A put's open device handle is not closed (closing
// would commit): the device discards its temp file when the link closes or on f.reset.
void sw_xfer_cancel(sw_xfer_t *x);

// The largest chunk for this link and a device limit (0 if the two leave no room).
uint32_t sw_xfer_chunk_max(const sw_hlink_t *l, uint32_t dev_max_msg);

// SHA-256 of the rest of fd (read to its end), for comparisons with f.hash. Returns 0, or
// SW_EIO with errno set.
int sw_xfer_sha256_fd(int fd, uint8_t out[32]);
// Lower-case hex of a digest into hex (65 bytes).
void sw_xfer_hex(const uint8_t d[32], char hex[65]);

#endif
