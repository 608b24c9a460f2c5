// mbedTLS 2.28 configuration of the firmware: the node uses SHA-256 only (f.hash, push).
#ifndef SW_FW_MBEDTLS_CONFIG_H
#define SW_FW_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C
// The rolled loop: about 2 KB less flash than the unrolled rounds, at a speed push (hashing
// files as they arrive) does not notice next to the link.
#define MBEDTLS_SHA256_SMALLER

#include "mbedtls/check_config.h"
#endif
