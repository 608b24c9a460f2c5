// The push part (push.c, push_journal.c; docs/PROTOCOL.md "Push") (SW_WITH_PUSH).
#ifndef SW_PUSH_PART_H
#define SW_PUSH_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_push;

// Completes an interrupted push (boot recovery) and removes stale staging, then registers the
// "push" directory. Runs before any app starts (its place in parts.c). 0 or an error.
int sw_push_init(sw_node_t *n);
void sw_push_stop(sw_node_t *n);

#endif
