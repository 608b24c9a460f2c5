// Error code names and messages, generated from SW_ERRNO_MAP.
#include "swarm/sw.h"

const char *sw_strerror(int err)
{
    switch (err) {
#define SW__ERR_MSG(name, value, msg) case value: return msg;
        SW_ERRNO_MAP(SW__ERR_MSG)
#undef SW__ERR_MSG
    }
    return "unknown error";
}

const char *sw_errname(int err)
{
    switch (err) {
#define SW__ERR_NAME(name, value, msg) case value: return #name;
        SW_ERRNO_MAP(SW__ERR_NAME)
#undef SW__ERR_NAME
    }
    return "E?";
}
