// swarm watchdog logic (MoaT v0 "wdt" config {t, s, n}, with the README's intent rather than
// the original code's bugs — docs/PROTOCOL.md, "Watchdog"). Pure logic: the node passes time in
// and acts when sw_wdt_poll() reports expiry.
//
//   t  timeout in seconds: a sys.wdt feed must arrive every t s (0 = watchdog disabled).
//      Like the original's hardware watchdog, it bites 1.5 × t after the last feed (t is capped
//      at 1e6 s so that horizon stays within the signed ms clock).
//   s  start: 0 manually (the first sys.wdt with t starts it), 1 before network setup,
//      2 after network setup, 3 before the apps start, 4 when the main loop starts.
//   n  free feeds after an automatic start: the node feeds itself n times every t s
//      (default: enough for one minute, at least 3); n <= 0: none (the original fed forever for
//      n < 0). The first sys.wdt from outside ends free feeding at once.
#ifndef SWARM_WDT_H
#define SWARM_WDT_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_WDT_N_DEFAULT INT32_MIN // "use the default": 1 + 60/t if t < 20 s, else 3

typedef struct sw_wdt {
    uint32_t t_ms;       // feed interval (0 = disabled)
    uint8_t start_phase; // s
    int32_t free_left;   // free feeds still to give
    bool running;
    bool external;       // fed from outside at least once
    uint32_t deadline;   // bites when now passes this (running only)
    uint32_t next_free;  // time of the next free feed
    uint32_t feeds;      // feeds so far (stats)
} sw_wdt_t;

// Configures from t (s), s, n (SW_WDT_N_DEFAULT for the default). Not running yet.
void sw_wdt_init(sw_wdt_t *w, int64_t t_s, int64_t s, int64_t n);
// The node reached boot phase 1..4: starts the watchdog once phase >= s (s = 1..4, so a node
// that skips a phase still starts it), or feeds it if it is running.
void sw_wdt_phase(sw_wdt_t *w, int phase, uint32_t now_ms);
// sys.wdt: t_s > 0 starts a stopped watchdog with that timeout (SW_EEXIST if one runs); t_s <= 0
// feeds a running one (SW_ENOENT "No WDT" if none). Ends free feeding. 0 on success.
int sw_wdt_feed(sw_wdt_t *w, int64_t t_s, uint32_t now_ms);
// Gives due free feeds; returns true if the watchdog has expired (the node must reset).
bool sw_wdt_poll(sw_wdt_t *w, uint32_t now_ms);
// ms until the next thing to do (free feed or expiry), UINT32_MAX when not running.
uint32_t sw_wdt_next(const sw_wdt_t *w, uint32_t now_ms);

#ifdef __cplusplus
}
#endif
#endif
