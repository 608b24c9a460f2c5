// mbedTLS 2.28 configuration of the firmware: the node uses SHA-256 only (f.hash, push).
#ifndef SW_FW_MBEDTLS_CONFIG_H
#define SW_FW_MBEDTLS_CONFIG_H

#define MBEDTLS_SHA256_C

#include "mbedtls/check_config.h"
#endif
