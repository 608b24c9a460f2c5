// The telnet console needs libtelnet, whose source the Debian archive does not serve (its
// tarballs 404); the firmware goes without it until the node's parts become compile-time
// modules (SW_WITH_TELNET).
#include "node_int.h"

int sw_telnet_start(sw_node_t *n)
{
    (void)n;
    return 0;
}
