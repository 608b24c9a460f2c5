// What a bare board without an OS gives picolibc (scripts/size): Lua's base library references
// files, abort() and clock()/time(), which pull in these POSIX calls. None of them does
// anything; the node never opens a file through libc (its files go through the port).
#include <stdio.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/types.h>

int open(const char *path, int flags, ...);
int close(int fd);
ssize_t read(int fd, void *buf, size_t n);
ssize_t write(int fd, const void *buf, size_t n);
off_t lseek(int fd, off_t off, int whence);
pid_t getpid(void);
int kill(pid_t pid, int sig);
void _exit(int status);

int open(const char *path, int flags, ...)
{
    (void)path, (void)flags;
    return -1;
}

int close(int fd)
{
    (void)fd;
    return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
    (void)fd, (void)buf, (void)n;
    return -1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    (void)fd, (void)buf;
    return (ssize_t)n;
}

off_t lseek(int fd, off_t off, int whence)
{
    (void)fd, (void)off, (void)whence;
    return -1;
}

pid_t getpid(void) { return 1; }

int kill(pid_t pid, int sig)
{
    (void)pid, (void)sig;
    return -1;
}

void _exit(int status)
{
    (void)status;
    for (;;)
        __asm__ volatile("wfi");
}

clock_t times(struct tms *t)
{
    t->tms_utime = t->tms_stime = t->tms_cutime = t->tms_cstime = 0;
    return 0;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    tv->tv_sec = 0;
    tv->tv_usec = 0;
    return 0;
}

static FILE no_stdio = FDEV_SETUP_STREAM(NULL, NULL, NULL, 0);
FILE *const stdin = &no_stdio;
FILE *const stdout = &no_stdio;
FILE *const stderr = &no_stdio;
