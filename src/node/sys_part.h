// The sys part (sys.c): the "sys" directory and the root command ping, as command tables the
// kernel registers (sw_part_t.cmds). Always built, first.
#ifndef SW_SYS_PART_H
#define SW_SYS_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_sys;

#endif
