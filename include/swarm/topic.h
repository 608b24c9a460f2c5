// MQTT topic levels that swarm builds from names (PROTOCOL.md, "MQTT": swarm/FLEET/HOST/…):
// the rule both ends apply, the host to a mqtt:// link's fleet and node, the node to its fleet,
// host name and a requester's client id.
#ifndef SW_TOPIC_H
#define SW_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

// True if s[0..n) may stand as one level of a topic: not empty, and no '/', no wildcard ('+',
// '#') and no control character, so it can neither split a topic nor match others.
static inline bool sw_topic_level_ok(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/' || s[i] == '+' || s[i] == '#' || (unsigned char)s[i] < 0x20)
            return false;
    return true;
}

#endif
