// ARM semihosting calls (semihost.h): BKPT 0xAB with the operation in r0 and a pointer to its
// argument block in r1; the answer comes back in r0.
#include <string.h>

#include "semihost.h"

enum {
    SYS_OPEN = 0x01, SYS_CLOSE = 0x02, SYS_WRITE = 0x05, SYS_READ = 0x06, SYS_SEEK = 0x0A,
    SYS_FLEN = 0x0C, SYS_GET_CMDLINE = 0x15, SYS_EXIT_EXTENDED = 0x20,
};

static int answered = 1; // cleared by the fault handler when a call traps (startup.c)

void sw__sh_trapped(void);
void sw__sh_trapped(void) { answered = 0; }

int sw_sh_present(void) { return answered; }

static long call(uint32_t op, void *arg)
{
    if (!answered)
        return SW_SH_NONE; // no debugger: do not trap on every call
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (long)(int32_t)r0;
}

int sw_sh_cmdline(char *buf, size_t cap)
{
    uint32_t a[2] = {(uint32_t)(uintptr_t)buf, (uint32_t)cap};
    if (!cap || call(SYS_GET_CMDLINE, a) != 0)
        return SW_SH_NONE;
    buf[cap - 1] = 0;
    return (int)strlen(buf);
}

int sw_sh_write_out(const void *p, size_t n)
{
    static int out = -2; // ":tt" opened for writing is the host's stdout
    if (out == -2)
        out = sw_sh_open(":tt", "w");
    return out < 0 ? SW_SH_NONE : sw_sh_write(out, p, n);
}

int sw_sh_open(const char *path, const char *mode)
{
    // fopen modes in the order of the semihosting spec's mode numbers
    static const char *const modes[] = {"r", "rb", "r+", "r+b", "w", "wb", "w+", "w+b",
                                        "a", "ab", "a+", "a+b"};
    for (uint32_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(modes[i], mode)) {
            uint32_t a[3] = {(uint32_t)(uintptr_t)path, i, (uint32_t)strlen(path)};
            long h = call(SYS_OPEN, a);
            return h < 0 ? SW_SH_NONE : (int)h;
        }
    return SW_SH_NONE;
}

int sw_sh_close(int fh)
{
    uint32_t a[1] = {(uint32_t)fh};
    return call(SYS_CLOSE, a) == 0 ? 0 : SW_SH_NONE;
}

int sw_sh_read(int fh, void *buf, size_t n)
{
    uint32_t a[3] = {(uint32_t)fh, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    return call(SYS_READ, a) == 0 ? 0 : SW_SH_NONE; // r0 = bytes NOT read
}

int sw_sh_write(int fh, const void *buf, size_t n)
{
    uint32_t a[3] = {(uint32_t)fh, (uint32_t)(uintptr_t)buf, (uint32_t)n};
    return call(SYS_WRITE, a) == 0 ? 0 : SW_SH_NONE; // r0 = bytes NOT written
}

int sw_sh_seek(int fh, uint32_t pos)
{
    uint32_t a[2] = {(uint32_t)fh, pos};
    return call(SYS_SEEK, a) == 0 ? 0 : SW_SH_NONE;
}

long sw_sh_flen(int fh)
{
    uint32_t a[1] = {(uint32_t)fh};
    return call(SYS_FLEN, a);
}

void sw_sh_exit(int code)
{
    uint32_t a[2] = {0x20026u, (uint32_t)code}; // ADP_Stopped_ApplicationExit
    call(SYS_EXIT_EXTENDED, a);
}
