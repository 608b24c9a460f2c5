// mbedTLS 2.28 configuration of the size build (scripts/size): the node uses SHA-256 only
// (f.hash), so that is all a firmware compiles in. Networking, timing and file I/O, which do
// not build bare-metal, are therefore off as well.
#ifndef SW_SIZE_MBEDTLS_CONFIG_H
#define SW_SIZE_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C

#include "mbedtls/check_config.h"
#endif
