// The f part (fs_app.c, fs_names.c): files under the root as the "f" directory (SW_WITH_FS).
#ifndef SW_FS_PART_H
#define SW_FS_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_fs;

// Registers directory "f".
int sw_fs_app_init(sw_node_t *n);
// Closes every open file (atomic writes still open are discarded).
void sw_fs_app_stop(sw_node_t *n);
// A link's session ended: the files it opened are closed.
void sw_fs_app_link_closed(sw_node_t *n, const sw_rpc_t *rpc);

#endif
