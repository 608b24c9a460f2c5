// The sys part (sys.c): the "sys" directory and the root commands (ping, _dir). Always built.
#ifndef SW_SYS_PART_H
#define SW_SYS_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_sys;

int sw_sys_init(sw_node_t *n); // registers "sys" and the root commands

#endif
