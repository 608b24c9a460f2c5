// Internal API of the node's FTP server, shared by its files: ftp.c (service, control sessions,
// commands, hot reload) and ftp_data.c (passive listeners, data connections, transfers and
// listings). docs/PROTOCOL.md, "FTP", describes what clients see.
#ifndef SW_FTP_INT_H
#define SW_FTP_INT_H

#include "node_int.h"
#include "swarm/ftp.h"
#include "swarm/path.h"

// Bounds. Compile-time ones size the session; the run-time ones are config keys under "ftp".
#ifndef SW_FTP_PATH_MAX
#define SW_FTP_PATH_MAX SW_NODE_PATH_MAX // longest normalised path, NUL included (profile.h)
#endif
#define SW_FTP_REPLY_MAX (2 * SW_FTP_PATH_MAX + 160)                  // bytes of one reply line
#define SW_FTP_AUX_MAX (3 * SW_FTP_PATH_MAX + SW_NAME_MAX + 8)        // bytes of sw_ftp_srv_t.aux
#ifndef SW_FTP_CHUNK
#define SW_FTP_CHUNK 16384 // @@ transfer buffer of a session (allocated at its first transfer);
                           // a chunk is read only when the data connection has room for it
                           // (port.h conn_room), so a port's capacity must be at least this
#endif
#ifndef SW_FTP_INQ
#define SW_FTP_INQ 2048 // @@ control bytes kept while a command waits for a transfer to end
#endif
#define SW_FTP_CONNECT_MS 30000 // a transfer command waits this long for its data connection
// An upload's data connection closed cleanly: its temp file is synced at once and renamed
// over the target after this grace, unless the control connection closes or ABOR arrives
// meanwhile — a killed client closes both at once, and the order in which the two ends
// arrive is not ours to choose.
#define SW_FTP_COMMIT_MS 5
#define SW_FTP_RELOAD_MS 1000   // quiet time after the last change in apps/{app}/ before a reload
#define SW_FTP_STAT_MAX 200     // entries of a STAT listing (sent on the control connection)
#define SW_FTP_TMP_TAG ".ftptmp" // upload temp files: ".<name>.ftptmp<n>" beside the target

// Defaults of the run-time settings.
#define SW_FTP_DEF_PORT 21        // boot.FTPD_PORT
#define SW_FTP_DEF_SESSIONS 8     // ftp.max_sessions
#define SW_FTP_DEF_IDLE_S 300     // ftp.idle_s

typedef struct sw_ftp_srv sw_ftp_srv_t;
typedef struct sw_ftp_sess sw_ftp_sess_t;
typedef struct sw_ftp_data sw_ftp_data_t;

// A data connection. Allocated on its own: it may outlive its session (closing), and the
// port's last call (closed) must find it.
struct sw_ftp_data {
    const sw_conn_ops_t *ops; // first (node_int.h)
    sw_ftp_sess_t *s;         // NULL once given up (session gone, transfer aborted)
    sw_conn_t *conn;
    sw_node_t *n;
};

// What a transfer does, and where it is.
enum { SW_FTPX_NONE, SW_FTPX_LIST, SW_FTPX_NLST, SW_FTPX_MLSD, SW_FTPX_RETR, SW_FTPX_STOR };
enum {
    SW_FTPP_IDLE,
    SW_FTPP_WAIT,   // command accepted, waiting for the data connection
    SW_FTPP_RUN,    // moving bytes
    SW_FTPP_CLOSE,  // all sent; we closed the data connection and wait for its end
    SW_FTPP_COMMIT, // upload complete; committing after SW_FTP_COMMIT_MS
};

struct sw_ftp_sess {
    const sw_conn_ops_t *ops; // first (node_int.h)
    sw_ftp_sess_t *next;
    sw_ftp_srv_t *srv;
    sw_node_t *n;
    sw_conn_t *conn;          // control connection
    bool closing;             // QUIT / error: the control connection is closing
    bool held;                // the line in `lines` waits for the transfer to end
    bool paused;              // control reading paused (input kept in inq)
    bool in_resume;
    char peer[64];            // "ip:port" of the client
    char local[48];           // our address on the control connection (PASV reply)
    uint32_t last;            // time of the last activity (idle timeout)
    sw_timer_t idle;
    sw_timer_t xtimer;        // data connection wait, upload commit grace

    // state of the session
    char cwd[SW_FTP_PATH_MAX]; // normalised, "" = the root
    char rnfr[SW_FTP_PATH_MAX];
    bool has_rnfr;            // RNFR done, RNTO may follow
    uint64_t rest;            // REST offset for the next transfer
    unsigned facts;           // MLSx facts (OPTS MLST)

    // passive mode
    sw_listener_t *pasv;
    sw_ftp_data_t *data;      // the data connection: parked (paused) or in use

    // the transfer
    uint8_t kind, phase;      // SW_FTPX_*, SW_FTPP_*
    int fd;                   // the file of RETR / STOR (the temp file), -1
    uint64_t off;             // next file offset
    uint64_t count;           // bytes moved
    char path[SW_FTP_PATH_MAX]; // the file, or the listed directory
    char tmp[SW_FTP_PATH_MAX];  // STOR: the temp file ("" if none)
    char pattern[SW_NAME_MAX + 1]; // listing: only names matching it ("" = all)
    bool pattern_glob;        // pattern has '*' / '?' (else an exact name)
    bool list_done;           // every entry listed
    bool saw_tmp;             // the listing met upload temp files (swept afterwards)
    size_t list_skip;         // entries listed so far (the next page starts there)
    size_t list_idx;          // entry index during a page
    size_t list_max;          // stop after this many entries (STAT), 0 = no limit
    size_t list_count;        // entries written
    uint8_t *chunk;           // SW_FTP_CHUNK bytes
    size_t chunk_len;

    // input
    sw_ftp_lines_t lines;
    char line[SW_FTP_LINE_MAX + 1];
    size_t inq_len;
    uint8_t inq[SW_FTP_INQ];
};

struct sw_ftp_srv {
    sw_service_t svc;         // svc.state = this
    sw_node_t *n;
    sw_listener_t *ctl;       // control listener
    sw_ftp_sess_t *sessions;
    uint16_t nsess, max_sess;
    uint16_t pasv_min, pasv_max, pasv_next; // 0, 0: any free port
    uint32_t idle_ms;
    uint32_t tmp_seq;         // numbers temp files
    bool stopped;             // freed when the last session is gone
    sw_timer_t reload;        // hot reload of the app after changes in apps/{app}/
    // Scratch of the command being handled, so that no path is copied onto the stack. One set
    // serves every session: the node handles one command (or one transfer step) at a time and
    // none of these waits. reply: sw__ftp_reply's line; arg: the command's path argument;
    // aux: a second path or text built from one (a parent directory, an entry's full path, a
    // quoted or listed name) — only leaves of the call tree write it, never while a caller
    // holds it.
    char reply[SW_FTP_REPLY_MAX];
    char arg[SW_FTP_PATH_MAX];
    char aux[SW_FTP_AUX_MAX];
};

///////////////////////////////////////////////////////////////////////////////////////////////
// ftp.c

// Sends one reply line (CR LF added), formatted. Control characters in it become '?'.
void sw__ftp_reply(sw_ftp_sess_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Sends bytes as they are (multi-line replies, STAT listings).
void sw__ftp_send(sw_ftp_sess_t *s, const char *p, size_t n);
// "<code> Fail: /p: reason" for a port error about the normalised path p.
void sw__ftp_fail(sw_ftp_sess_t *s, int code, const char *p, int err);
// A transfer is over (its final reply sent): held input is processed.
void sw__ftp_resume(sw_ftp_sess_t *s);
// Something changed at normalised path p: may schedule the app's hot reload.
void sw__ftp_changed(sw_ftp_srv_t *srv, const char *p);
// Records activity (for the idle timeout).
void sw__ftp_touch(sw_ftp_sess_t *s);
// True for names that listings hide: temp files of uploads (ours and the f app's).
bool sw__ftp_hidden(const char *name, bool *ours);

///////////////////////////////////////////////////////////////////////////////////////////////
// ftp_data.c

// PASV / EPSV: a new listener for the next transfer, and its reply.
void sw__ftp_pasv(sw_ftp_sess_t *s, bool epsv);
// A connection arrived on a passive listener l (found among the sessions).
void sw__ftp_data_accept(sw_ftp_srv_t *srv, sw_listener_t *l, sw_conn_t *c);
// Ends the transfer without success (ABOR, errors, session end): closes the file, removes an
// upload's temp file, drops the data connection and the listener. Replies "code text" unless
// code is 0.
void sw__ftp_xfer_abort(sw_ftp_sess_t *s, int code, const char *text);
// Drops the passive listener and the data connection (a new PASV, session end).
void sw__ftp_data_drop(sw_ftp_sess_t *s);
// The transfer commands: check and prepare (open the file, create the temp file, find what to
// list), then start — at once if the data connection is there, else when it arrives. p is the
// normalised path.
void sw__ftp_retr(sw_ftp_sess_t *s, const char *p);
void sw__ftp_stor(sw_ftp_sess_t *s, const char *p, bool append);
void sw__ftp_list(sw_ftp_sess_t *s, uint8_t kind, const char *p);
// STAT p: its listing on the control connection (213 reply).
void sw__ftp_stat_list(sw_ftp_sess_t *s, const char *p);

#endif
