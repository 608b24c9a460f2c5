// Internals shared by the files of the POSIX port: the operations each file implements (the
// ops table lives in port_posix.c) and the hooks the loop code needs from the link code.
#ifndef SW_POSIX_INT_H
#define SW_POSIX_INT_H

#include "port_posix.h"

// errno → SW_E* (fs_posix.c); libuv's negative codes → SW_E* (conn_posix.c).
int sw__posix_errno(int e);
int sw__posix_uverr(int uverr);

// --- files (fs_posix.c; plain POSIX, no libuv, so unit tests can compile it alone)
int sw__posix_fs_init(sw_posix_fs_t *fs, const char *root, uint16_t max_files);
void sw__posix_fs_close(sw_posix_fs_t *fs);
// Closes the directory walk() keeps open (port_posix.h, dcache_fd); the loop calls it before
// each wait.
void sw__posix_fs_forget(sw_posix_fs_t *fs);
int sw__posix_fs_open(void *ctx, const char *path, int flags, int *fd);
int sw__posix_fs_read(void *ctx, int fd, uint64_t off, void *buf, size_t n);
int sw__posix_fs_write(void *ctx, int fd, uint64_t off, const void *buf, size_t n);
int sw__posix_fs_sync(void *ctx, int fd);
int sw__posix_fs_close_fd(void *ctx, int fd);
int sw__posix_fs_stat(void *ctx, const char *path, sw_stat_t *st);
int sw__posix_fs_mkdir(void *ctx, const char *path);
int sw__posix_fs_rmdir(void *ctx, const char *path);
int sw__posix_fs_unlink(void *ctx, const char *path);
int sw__posix_fs_rename(void *ctx, const char *from, const char *to);
int sw__posix_fs_move(void *ctx, const char *from, const char *to);
int sw__posix_fs_flush(void *ctx);
int sw__posix_fs_list(void *ctx, const char *path, int (*each)(void *u, const sw_dirent_t *e),
                      void *u);

// --- inflate (zin_posix.c: zlib; no libuv, so the fuzz target links it alone)
int sw__posix_zin_open(void *ctx, int wbits, sw_zin_t **out);
int sw__posix_zin_run(void *ctx, sw_zin_t *z, const uint8_t *in, size_t *in_n, uint8_t *out,
                      size_t *out_n);
void sw__posix_zin_close(void *ctx, sw_zin_t *z);

// --- byte links (conn_posix.c, serial_posix.c)
int sw__posix_tcp_listen(void *ctx, const char *addr, uint16_t port, sw_listener_t **out);
void sw__posix_listener_close(void *ctx, sw_listener_t *l);
int sw__posix_serial_open(void *ctx, const char *dev, uint32_t baud, sw_conn_t **out);
int sw__posix_stdio_open(void *ctx, sw_conn_t **out);
int sw__posix_conn_write(void *ctx, sw_conn_t *c, const void *p, size_t n);
size_t sw__posix_conn_queued(void *ctx, sw_conn_t *c);
size_t sw__posix_conn_room(void *ctx, sw_conn_t *c);
void sw__posix_conn_pause(void *ctx, sw_conn_t *c, bool paused);
void sw__posix_conn_close(void *ctx, sw_conn_t *c);
size_t sw__posix_conn_peer(void *ctx, sw_conn_t *c, char *buf, size_t cap);
size_t sw__posix_conn_local(void *ctx, sw_conn_t *c, char *buf, size_t cap);
uint16_t sw__posix_listener_port(void *ctx, sw_listener_t *l);

// --- UDP and interfaces (udp_posix.c)
int sw__posix_udp_open(void *ctx, const char *addr, uint16_t port, int flags, sw_udp_t **out);
int sw__posix_udp_send(void *ctx, sw_udp_t *u, const char *ip, uint16_t port, const void *p, size_t n);
void sw__posix_udp_close(void *ctx, sw_udp_t *u);
void sw__posix_udp_shutdown(sw_posix_t *p);
size_t sw__posix_netifs(void *ctx, sw_netif_t *out, size_t max);

// A connection over an already open, configured stream fd (the port takes the fd).
int sw__posix_conn_fd(sw_posix_t *p, int fd, uint8_t kind, const char *peer, sw_conn_t **out);
// Closes every listener and connection (connections flush first unless force). Used when the
// run ends: the node still hears sw_node_closed() for each connection.
void sw__posix_links_shutdown(sw_posix_t *p, bool force);
// Frees the listeners (all closed by then): at sw_posix_close().
void sw__posix_links_free(sw_posix_t *p);

// --- MQTT client (mqtt_posix.c: libmosquitto on the loop)
int sw__posix_mqtt_open(void *ctx, const sw_mqtt_opts_t *o, sw_mqtt_t **out);
int sw__posix_mqtt_subscribe(void *ctx, sw_mqtt_t *m, const char *filter, int qos);
int sw__posix_mqtt_publish(void *ctx, sw_mqtt_t *m, const char *topic, const void *p, size_t n, int qos,
                           bool retain, const void *corr, size_t corr_len);
void sw__posix_mqtt_close(void *ctx, sw_mqtt_t *m);
void sw__posix_mqtt_shutdown(sw_posix_t *p); // closes every client (the node is not told)

// --- the watchdog thread (wdt_posix.c)
void sw__posix_watchdog(void *ctx, uint32_t period_ms);
void sw__posix_watchdog_stop(sw_posix_t *p); // joins the thread (sw_posix_close, before re-exec)

// The test network guard (net_guard.c): 0, or SW_EPERM for a socket operation (what: "bind",
// "send to", "join") on a non-loopback address (sa NULL: none is loopback) that a test node in
// the machine's own network namespace must not do. Always 0 outside test builds.
struct sockaddr;
#ifdef SW_TEST_HOOKS
int sw__posix_net_guard(const char *what, const struct sockaddr *sa);
#else
#define sw__posix_net_guard(what, sa) ((void)(what), (void)(sa), 0)
#endif

// The file system fault layer (fs_fault.c; test builds only, switched on by SW_TEST_FS_FAULT):
// simulated power cuts. fs_posix.c numbers its mutating calls with sw__fsf_step (true: cut
// this one, then call sw__fsf_cut, which does not return) and tells the layer which files
// are open for writing (sw__fsf_before_open, sw__fsf_opened, sw__fsf_name: the path of a
// handle) and synced (sw__fsf_synced). Changes to names: sw__fsf_pre before one (SW_FSF_*: the
// layer may keep a link to a file it replaces), sw__fsf_post after it (ok: it happened), and
// sw__fsf_dir_synced when a directory was synced (dir[0..len), "" the root; NULL: all of them).
#define SW_FSF_EXIT 86 // the exit status of a process whose power was cut
enum { SW_FSF_CREATE = 1, SW_FSF_MKDIR, SW_FSF_RMDIR, SW_FSF_UNLINK, SW_FSF_MOVE };
#ifdef SW_TEST_HOOKS
void sw__fsf_root(int rootfd);
void sw__fsf_pre(int op, const char *path, const char *path2);
void sw__fsf_post(bool ok);
void sw__fsf_dir_synced(const char *dir, size_t len);
bool sw__fsf_on(void);
bool sw__fsf_step(const char *op, const char *path, const char *path2);
void sw__fsf_name(int h, const char *path);
const char *sw__fsf_path(int h);
void sw__fsf_cut(const char *op, const char *path) __attribute__((noreturn));
void sw__fsf_before_open(int dfd, const char *name);
void sw__fsf_opened(int fd);
void sw__fsf_synced(int fd);
#else
#define sw__fsf_root(fd) ((void)0)
#define sw__fsf_pre(op, path, path2) ((void)0)
#define sw__fsf_post(ok) ((void)0)
#define sw__fsf_dir_synced(dir, len) ((void)(dir), (void)(len))
#define sw__fsf_on() false
#define sw__fsf_step(op, path, path2) ((void)(op), (void)(path), (void)(path2), false)
#define sw__fsf_name(h, path) ((void)0)
#define sw__fsf_path(h) ""
#define sw__fsf_cut(op, path) ((void)0)
#define sw__fsf_before_open(dfd, name) ((void)0)
#define sw__fsf_opened(fd) ((void)0)
#define sw__fsf_synced(fd) ((void)0)
#endif

// The port's own messages (not the node's log): one line to stderr.
void sw__posix_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
