// Watchdog logic: automatic start phases, manual start and feeding by sys.wdt, free feeds and
// their end, expiry 1.5 t after the last feed, and all of it across the 2^32 ms wrap.
#include "testutil.h"

#include "swarm/wdt.h"

// Runs the node's loop from `now`: sleep sw_wdt_next(), poll, until expiry or `limit` ms
// passed. Returns the time the expiry was seen (or now + limit).
static uint32_t run_until_expiry(sw_wdt_t *w, uint32_t now, uint32_t limit, bool *expired)
{
    uint32_t end = now + limit;
    *expired = false;
    while ((int32_t)(end - now) > 0) {
        uint32_t d = sw_wdt_next(w, now);
        if (d == UINT32_MAX || (int32_t)(end - now) < (int64_t)d) {
            now = end;
            break;
        }
        now += d;
        if (sw_wdt_poll(w, now)) {
            *expired = true;
            return now;
        }
    }
    return now;
}

static void test_defaults(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 3, SW_WDT_N_DEFAULT);
    assert_int_equal(w.t_ms, 10000);
    assert_int_equal(w.start_phase, 3);
    assert_int_equal(w.free_left, 7); // 1 + 60/10
    assert_false(w.running);
    sw_wdt_init(&w, 1, 1, SW_WDT_N_DEFAULT);
    assert_int_equal(w.free_left, 61);
    sw_wdt_init(&w, 19, 1, SW_WDT_N_DEFAULT);
    assert_int_equal(w.free_left, 4);
    sw_wdt_init(&w, 20, 1, SW_WDT_N_DEFAULT);
    assert_int_equal(w.free_left, 3);
    sw_wdt_init(&w, 600, 1, SW_WDT_N_DEFAULT);
    assert_int_equal(w.free_left, 3);
    sw_wdt_init(&w, 10, 1, 5);
    assert_int_equal(w.free_left, 5);
    sw_wdt_init(&w, 10, 1, -1);
    assert_int_equal(w.free_left, 0);
    sw_wdt_init(&w, 10, 1, (int64_t)1 << 40);
    assert_int_equal(w.free_left, INT32_MAX);
    // s outside 1..4 means manual
    sw_wdt_init(&w, 10, 5, 0);
    assert_int_equal(w.start_phase, 0);
    sw_wdt_init(&w, 10, -1, 0);
    assert_int_equal(w.start_phase, 0);
    // t <= 0: disabled
    sw_wdt_init(&w, -5, 1, SW_WDT_N_DEFAULT);
    assert_int_equal(w.t_ms, 0);
    assert_int_equal(w.free_left, 0);
    // huge t is clamped so 1.5 t stays within the signed ms horizon
    sw_wdt_init(&w, (int64_t)1 << 40, 1, 0);
    assert_true(w.t_ms > 0 && (uint64_t)w.t_ms * 3 / 2 < (1ull << 31));
}

static void test_start_phases(void **state)
{
    (void)state;
    for (int s = 1; s <= 4; s++) {
        sw_wdt_t w;
        sw_wdt_init(&w, 10, s, 0);
        for (int ph = 1; ph <= 4; ph++) {
            sw_wdt_phase(&w, ph, 1000u * (uint32_t)ph);
            assert_int_equal(w.running, ph >= s);
            if (ph >= s) // started or fed at this phase
                assert_int_equal(w.deadline, 1000u * (uint32_t)ph + 15000);
        }
        assert_int_equal(w.feeds, 5 - s);
    }
    // a skipped phase still starts it at the next one
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 2, 0);
    sw_wdt_phase(&w, 1, 0);
    assert_false(w.running);
    sw_wdt_phase(&w, 3, 100);
    assert_true(w.running);
    // s = 0: never automatic
    sw_wdt_init(&w, 10, 0, 5);
    for (int ph = 1; ph <= 4; ph++)
        sw_wdt_phase(&w, ph, 0);
    assert_false(w.running);
    assert_int_equal(sw_wdt_next(&w, 0), UINT32_MAX);
    assert_false(sw_wdt_poll(&w, 1000000));
    // t = 0: disabled, phases do nothing
    sw_wdt_init(&w, 0, 1, 5);
    for (int ph = 1; ph <= 4; ph++)
        sw_wdt_phase(&w, ph, 0);
    assert_false(w.running);
}

static void test_expiry_is_1_5_t_after_feed(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 1, 0);
    sw_wdt_phase(&w, 1, 5000);
    assert_int_equal(sw_wdt_next(&w, 5000), 15001);
    assert_false(sw_wdt_poll(&w, 20000));
    assert_false(sw_wdt_poll(&w, 20000)); // exactly at the deadline: not yet
    assert_true(sw_wdt_poll(&w, 20001));
    assert_true(sw_wdt_poll(&w, 20002)); // stays expired
    assert_int_equal(sw_wdt_next(&w, 20002), 0);
}

static void test_manual_start(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 0, 0, SW_WDT_N_DEFAULT);
    assert_int_equal(sw_wdt_feed(&w, 0, 0), SW_ENOENT); // "No WDT"
    assert_int_equal(sw_wdt_feed(&w, -1, 0), SW_ENOENT);
    assert_false(w.running);
    assert_int_equal(sw_wdt_feed(&w, 4, 1000), 0); // sys.wdt(t=4)
    assert_true(w.running);
    assert_int_equal(w.t_ms, 4000);
    assert_int_equal(w.deadline, 7000);
    assert_int_equal(sw_wdt_feed(&w, 4, 2000), SW_EEXIST); // "WDT exists"
    assert_int_equal(sw_wdt_feed(&w, 9, 2000), SW_EEXIST);
    assert_int_equal(w.t_ms, 4000); // unchanged by the refused start
    assert_int_equal(w.deadline, 7000);
    assert_int_equal(sw_wdt_feed(&w, 0, 5000), 0);
    assert_int_equal(w.deadline, 11000);
    bool expired;
    assert_int_equal(run_until_expiry(&w, 5000, 100000, &expired), 11001);
    assert_true(expired);

    // a manual start gives no free feeds even when n is configured
    sw_wdt_init(&w, 10, 0, 5);
    assert_int_equal(sw_wdt_feed(&w, 10, 0), 0);
    assert_int_equal(run_until_expiry(&w, 0, 1000000, &expired), 15001);
    assert_true(expired);
    assert_int_equal(w.feeds, 1);

    // a manual start before the automatic phase: the phase then feeds it
    sw_wdt_init(&w, 10, 3, 5);
    assert_int_equal(sw_wdt_feed(&w, 2, 0), 0);
    sw_wdt_phase(&w, 3, 1000);
    assert_int_equal(w.t_ms, 2000);
    assert_int_equal(w.deadline, 4000);
    assert_int_equal(w.free_left, 0);
}

static void test_free_feeds(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 2, 2);
    sw_wdt_phase(&w, 1, 0);
    sw_wdt_phase(&w, 2, 1000); // starts: feeds due at 11000 and 21000
    assert_int_equal(sw_wdt_next(&w, 1000), 10000);
    assert_false(sw_wdt_poll(&w, 10999));
    assert_int_equal(w.free_left, 2);
    assert_false(sw_wdt_poll(&w, 11000));
    assert_int_equal(w.free_left, 1);
    assert_int_equal(w.deadline, 26000);
    assert_false(sw_wdt_poll(&w, 21000));
    assert_int_equal(w.free_left, 0);
    assert_int_equal(w.deadline, 36000);
    assert_int_equal(sw_wdt_next(&w, 21000), 15001); // only the expiry is left
    assert_false(sw_wdt_poll(&w, 31000));
    assert_false(sw_wdt_poll(&w, 36000));
    assert_true(sw_wdt_poll(&w, 36001));
    assert_int_equal(w.feeds, 3);

    // driven by sw_wdt_next: n feeds, then expiry 1.5 t after the last
    for (int n = -3; n <= 8; n++) {
        bool expired;
        sw_wdt_init(&w, 3, 4, n);
        sw_wdt_phase(&w, 4, 500);
        uint32_t at = run_until_expiry(&w, 500, 10000000, &expired);
        assert_true(expired);
        uint32_t feeds = n > 0 ? (uint32_t)n : 0;
        assert_int_equal(at, 500 + feeds * 3000 + 4500 + 1);
        assert_int_equal(w.feeds, 1 + feeds);
    }

    // the default (t = 10: 7 feeds, a bit over a minute)
    bool expired;
    sw_wdt_init(&w, 10, 1, SW_WDT_N_DEFAULT);
    sw_wdt_phase(&w, 1, 0);
    assert_int_equal(run_until_expiry(&w, 0, 10000000, &expired), 70000 + 15000 + 1);
    assert_true(expired);
}

static void test_late_poll(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 1, 5);
    sw_wdt_phase(&w, 1, 0);
    // the loop was busy: the feed due at 10 s comes at 14 s; the cadence is kept (next at 20 s)
    assert_false(sw_wdt_poll(&w, 14000));
    assert_int_equal(w.free_left, 4);
    assert_int_equal(w.deadline, 29000);
    assert_int_equal(sw_wdt_next(&w, 14000), 6000);
    assert_false(sw_wdt_poll(&w, 24000));
    assert_int_equal(w.free_left, 3);
    assert_int_equal(w.deadline, 39000);
    assert_int_equal(sw_wdt_next(&w, 24000), 6000);
    assert_false(sw_wdt_poll(&w, 24000)); // one feed per due time
    assert_int_equal(w.free_left, 3);
    // stalled past the deadline: expired, the due free feed does not rescue it
    assert_true(sw_wdt_poll(&w, 39001));
    assert_int_equal(w.free_left, 3);
}

static void test_external_feed_ends_free_feeding(void **state)
{
    (void)state;
    sw_wdt_t w;
    sw_wdt_init(&w, 10, 3, SW_WDT_N_DEFAULT);
    sw_wdt_phase(&w, 3, 0);
    assert_false(sw_wdt_poll(&w, 10000));
    assert_int_equal(w.free_left, 6);
    assert_int_equal(sw_wdt_feed(&w, 0, 12000), 0); // the mux's first sys.wdt
    assert_true(w.external);
    assert_int_equal(w.free_left, 0);
    assert_int_equal(sw_wdt_next(&w, 12000), 15001);
    uint32_t feeds = w.feeds;
    assert_false(sw_wdt_poll(&w, 20000)); // would have been a free feed
    assert_int_equal(w.feeds, feeds);
    bool expired;
    assert_int_equal(run_until_expiry(&w, 20000, 1000000, &expired), 27001);
    assert_true(expired);

    // sys.wdt(t) while the automatic one runs: refused, free feeding goes on
    sw_wdt_init(&w, 10, 1, 3);
    sw_wdt_phase(&w, 1, 0);
    assert_int_equal(sw_wdt_feed(&w, 10, 100), SW_EEXIST);
    assert_int_equal(w.free_left, 3);
    assert_false(w.external);
}

static void test_wraparound(void **state)
{
    (void)state;
    // start 25 s before the ms clock wraps; every event happens across the wrap
    uint32_t t0 = 0xffffffffu - 25000;
    sw_wdt_t w;
    bool expired;
    sw_wdt_init(&w, 10, 1, 3);
    sw_wdt_phase(&w, 1, t0);
    uint32_t at = run_until_expiry(&w, t0, 10000000, &expired);
    assert_true(expired);
    assert_int_equal(at, t0 + 30000 + 15000 + 1); // wrapped value
    assert_true(at < t0);
    assert_int_equal(w.feeds, 4);

    // the deadline itself wraps
    sw_wdt_init(&w, 10, 0, 0);
    assert_int_equal(sw_wdt_feed(&w, 10, 0xfffffff0u), 0);
    assert_int_equal(w.deadline, 0xfffffff0u + 15000u);
    assert_false(sw_wdt_poll(&w, 0xffffffffu));
    assert_false(sw_wdt_poll(&w, 5000));
    assert_int_equal(sw_wdt_next(&w, 5000), w.deadline - 5000 + 1);
    assert_int_equal(sw_wdt_feed(&w, 0, 100), 0);
    assert_false(sw_wdt_poll(&w, 15100));
    assert_true(sw_wdt_poll(&w, 15101));

    // the longest timeout, fed near the wrap, is not mistaken for an old deadline
    sw_wdt_init(&w, (int64_t)1 << 40, 0, 0);
    assert_int_equal(sw_wdt_feed(&w, 0, 0), SW_ENOENT);
    assert_int_equal(sw_wdt_feed(&w, (int64_t)1 << 40, 0xfffff000u), 0);
    assert_false(sw_wdt_poll(&w, 0xfffff000u + w.t_ms));
    assert_false(sw_wdt_poll(&w, 0xfffff000u + w.t_ms + w.t_ms / 2));
    assert_true(sw_wdt_poll(&w, 0xfffff000u + w.t_ms + w.t_ms / 2 + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_start_phases),
        cmocka_unit_test(test_expiry_is_1_5_t_after_feed),
        cmocka_unit_test(test_manual_start),
        cmocka_unit_test(test_free_feeds),
        cmocka_unit_test(test_late_poll),
        cmocka_unit_test(test_external_feed_ends_free_feeding),
        cmocka_unit_test(test_wraparound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
