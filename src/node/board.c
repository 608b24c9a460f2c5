// The registry of compiled-in boards (micro-swarm's "hardware targets"): config
// "board.hardware_name" picks one by name. Each board lives in boards/<name>/board.c and is
// compiled in by its SW_WITH_BOARD_* switch (profile.h); a firmware port adds its own with
// -DSW_BOARD_EXTRA=sw__board_<name> (a const sw_board_t it links in). The first board listed is
// the default hardware name of a fresh config.
#include <string.h>

#include "node_int.h"

#if SW_WITH_BOARD_POSIX_SIM
extern const sw_board_t sw__board_posix_sim; // boards/posix-sim/board.c
#endif
#ifdef SW_BOARD_EXTRA
extern const sw_board_t SW_BOARD_EXTRA;
#endif

static int none_init(sw_node_t *n)
{
    (void)n;
    return 0;
}

static void none_stop(sw_node_t *n) { (void)n; }

static const sw_board_t board_none = {
    .name = "none",
    .doc = "no hardware: no board commands",
    .init = none_init,
    .stop = none_stop,
};

const sw_board_t *const sw_boards[] = {
#ifdef SW_BOARD_EXTRA
    &SW_BOARD_EXTRA,
#endif
#if SW_WITH_BOARD_POSIX_SIM
    &sw__board_posix_sim,
#endif
    &board_none,
    NULL,
};

const sw_board_t *sw_board_find(const char *name, size_t len)
{
    if (!name)
        return NULL;
    for (size_t i = 0; sw_boards[i]; i++)
        if (strlen(sw_boards[i]->name) == len && !memcmp(sw_boards[i]->name, name, len))
            return sw_boards[i];
    return NULL;
}
