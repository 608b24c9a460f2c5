// What picolibc expects from an operating system, on a board without one. Lua's base library
// references files, abort() and clock()/time(); none of them is used by the node (its files go
// through the port), so they fail or do nothing; stdout and stderr go to the host through
// semihosting when there is one (print() in a Lua app, for debugging).
#include <stdio.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/types.h>

#include "mps2_int.h"
#include "semihost.h"

// picolibc's own objects call these; with link-time optimisation they must survive until then
#define SW_LIBC_USED __attribute__((used))

int open(const char *path, int flags, ...);
int close(int fd);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
off_t lseek(int fd, off_t off, int whence);
pid_t getpid(void);
int kill(pid_t pid, int sig);
void _exit(int status);

SW_LIBC_USED int open(const char *path, int flags, ...)
{
    (void)path, (void)flags;
    return -1;
}

SW_LIBC_USED int close(int fd)
{
    (void)fd;
    return -1;
}

SW_LIBC_USED ssize_t read(int fd, void *buf, size_t n)
{
    (void)fd, (void)buf, (void)n;
    return -1;
}

SW_LIBC_USED ssize_t write(int fd, const void *buf, size_t n)
{
    if (fd == 1 || fd == 2)
        sw_sh_write_out(buf, n);
    return (ssize_t)n;
}

SW_LIBC_USED off_t lseek(int fd, off_t off, int whence)
{
    (void)fd, (void)off, (void)whence;
    return -1;
}

SW_LIBC_USED pid_t getpid(void) { return 1; }

SW_LIBC_USED int kill(pid_t pid, int sig)
{
    (void)pid, (void)sig;
    return -1;
}

SW_LIBC_USED void _exit(int status)
{
    static const char m[] = "swarm-node: exit; resetting\n";
    (void)status;
    sw__mps2_panic(m, sizeof m - 1);
}

SW_LIBC_USED clock_t times(struct tms *t)
{
    t->tms_utime = t->tms_stime = t->tms_cutime = t->tms_cstime = 0;
    return (clock_t)sw__mps2_now();
}

SW_LIBC_USED int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    uint32_t ms = sw__mps2_now();
    tv->tv_sec = (time_t)(ms / 1000u);
    tv->tv_usec = (suseconds_t)(ms % 1000u) * 1000;
    return 0;
}

static int put(char c, FILE *f)
{
    (void)f;
    sw_sh_write_out(&c, 1);
    return (unsigned char)c;
}

static FILE out = FDEV_SETUP_STREAM(put, NULL, NULL, _FDEV_SETUP_WRITE);
static FILE in = FDEV_SETUP_STREAM(NULL, NULL, NULL, 0);
FILE *const stdin = &in;
FILE *const stdout = &out;
FILE *const stderr = &out;

// Lua's auxiliary library puts strerror(errno) into the errors of its stdio file functions
// (loadfile, dofile); the node reads every file through the port, so those paths fail before
// any errno matters. picolibc's strerror carries a table of every message (about 1 KB of
// code and more of strings): this one keeps the flash for the node.
char *strerror(int e);
SW_LIBC_USED char *strerror(int e)
{
    (void)e;
    return (char *)"error (no C library files on this board)";
}
