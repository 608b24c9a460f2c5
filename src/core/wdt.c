// swarm watchdog logic: when to start, when the node feeds itself, when it must reset. The
// node owns the real (hardware or timer) watchdog and asks this module what to do; all times are
// uint32_t ms that wrap, compared by signed difference, so every horizon stays below 2^31 ms.
#include "swarm/wdt.h"

// Longest timeout: 1.5 × t must stay far below 2^31 ms for the signed comparisons (~11.5 days).
#define T_MAX_S 1000000

static uint32_t t_ms_of(int64_t t_s)
{
    if (t_s <= 0)
        return 0;
    if (t_s > T_MAX_S)
        t_s = T_MAX_S;
    return (uint32_t)t_s * 1000u;
}

// The watchdog bites 1.5 × t after the last feed, like the original's WDT(timeout = 1.5 t).
static void feed(sw_wdt_t *w, uint32_t now_ms)
{
    w->deadline = now_ms + w->t_ms + w->t_ms / 2;
    w->feeds++;
}

static void start(sw_wdt_t *w, uint32_t now_ms)
{
    w->running = true;
    w->next_free = now_ms + w->t_ms;
    feed(w, now_ms);
}

void sw_wdt_init(sw_wdt_t *w, int64_t t_s, int64_t s, int64_t n)
{
    w->t_ms = t_ms_of(t_s);
    w->start_phase = s >= 1 && s <= 4 ? (uint8_t)s : 0;
    if (n == SW_WDT_N_DEFAULT) {
        // the original: 1 + 60000 // t_ms if t_ms < 20000 else 3 — unasked feeds for about a minute
        n = w->t_ms == 0 ? 0 : w->t_ms < 20000 ? 1 + 60000 / w->t_ms : 3;
    }
    // n < 0 fed forever in the original, against its own README (no unrequested watchdog messages).
    w->free_left = n <= 0 ? 0 : n > INT32_MAX ? INT32_MAX : (int32_t)n;
    w->running = false;
    w->external = false;
    w->deadline = 0;
    w->next_free = 0;
    w->feeds = 0;
}

void sw_wdt_phase(sw_wdt_t *w, int phase, uint32_t now_ms)
{
    if (w->running) {
        feed(w, now_ms); // boot progress feeds a running watchdog, as the original did
        return;
    }
    // ">=": a node that skips a phase (no network: no phase 2) still starts it later
    if (w->t_ms && w->start_phase && phase >= w->start_phase)
        start(w, now_ms);
}

int sw_wdt_feed(sw_wdt_t *w, int64_t t_s, uint32_t now_ms)
{
    if (t_s > 0) {
        if (w->running)
            return SW_EEXIST; // "WDT exists"
        w->t_ms = t_ms_of(t_s);
        start(w, now_ms);
    } else {
        if (!w->running)
            return SW_ENOENT; // "No WDT"
        feed(w, now_ms);
    }
    // someone outside keeps it alive now: no more unasked feeds
    w->external = true;
    w->free_left = 0;
    return 0;
}

bool sw_wdt_poll(sw_wdt_t *w, uint32_t now_ms)
{
    if (!w->running)
        return false;
    if ((int32_t)(now_ms - w->deadline) > 0)
        return true;
    if (w->free_left > 0 && !w->external && (int32_t)(now_ms - w->next_free) >= 0) {
        feed(w, now_ms);
        w->free_left--;
        // keep the cadence, but a late poll gives one feed, not a burst of them
        w->next_free += w->t_ms;
        if ((int32_t)(now_ms - w->next_free) >= 0)
            w->next_free = now_ms + w->t_ms;
    }
    return false;
}

uint32_t sw_wdt_next(const sw_wdt_t *w, uint32_t now_ms)
{
    if (!w->running)
        return UINT32_MAX;
    // expiry is observed by the first poll after the deadline
    int32_t d = (int32_t)(w->deadline - now_ms);
    uint32_t next = d < 0 ? 0 : (uint32_t)d + 1;
    if (w->free_left > 0 && !w->external) {
        int32_t f = (int32_t)(w->next_free - now_ms);
        uint32_t nf = f < 0 ? 0 : (uint32_t)f;
        if (nf < next)
            next = nf;
    }
    return next;
}
