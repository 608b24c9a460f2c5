// ARM semihosting: calls a debugger (here QEMU, -semihosting-config enable=on,target=native)
// answers on the host. The firmware uses it for what QEMU's mps2 board has no device for: the
// boot arguments (-append), a host file as the flash block device, log lines on QEMU's stdout
// and the exit code of a stopped node. Without a debugger the call traps; startup.c then makes
// it return -1 (SW_SH_NONE), so the firmware also runs where nobody answers.
#ifndef SW_MPS2_SEMIHOST_H
#define SW_MPS2_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#define SW_SH_NONE (-1)

// True once a semihosting call has been answered (false after the first trapped one).
int sw_sh_present(void);
// The -append string, NUL-terminated, into buf; its length or SW_SH_NONE.
int sw_sh_cmdline(char *buf, size_t cap);
// Writes n bytes to the host's stdout (QEMU's). 0 or SW_SH_NONE.
int sw_sh_write_out(const void *p, size_t n);
// Host files: mode as fopen ("rb", "r+b", "w+b"); handle >= 0 or SW_SH_NONE.
int sw_sh_open(const char *path, const char *mode);
int sw_sh_close(int fh);
// Reads/writes n bytes at the current position: 0 when all moved, else SW_SH_NONE.
int sw_sh_read(int fh, void *buf, size_t n);
int sw_sh_write(int fh, const void *buf, size_t n);
int sw_sh_seek(int fh, uint32_t pos);
long sw_sh_flen(int fh);
// Ends QEMU with exit status code (0: success); returns only if nobody answered.
void sw_sh_exit(int code);

#endif
