// lwIP's platform header for the mps2 firmware: picolibc supplies the C types; diagnostics go
// nowhere (LWIP_DEBUG is off) and a failed assertion (only with LWIP_NOASSERT off) resets the
// chip through the port's panic.
#ifndef SW_MPS2_LWIP_CC_H
#define SW_MPS2_LWIP_CC_H

#include <stddef.h>
#include <stdint.h>

#define LWIP_PLATFORM_DIAG(x) do { } while (0)
void sw__mps2_lwip_assert(const char *msg);
#define LWIP_PLATFORM_ASSERT(x) sw__mps2_lwip_assert(x)
#define LWIP_NO_UNISTD_H 1

#endif
