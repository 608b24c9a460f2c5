// The POSIX port's watchdog: a thread outside the libuv loop, standing in for a hardware
// watchdog. The node kicks it from a timer of its loop (port op watchdog); when no kick comes
// within the armed period — the loop is stuck in a C call, a bug, a hostile input — the thread
// restarts the process by re-exec, as reset does. It shares nothing with the loop but three
// numbers under a mutex, so a loop that never returns cannot hold it back.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "posix_int.h"

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// Never returns: the loop has not checked in. Only async-signal-safe calls from here on (the
// loop's thread may hold any lock, including stdio's).
static void bite(sw_posix_t *p, uint64_t silent_ms)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "swarm-node: watchdog: the event loop has not checked in for %llu ms: "
                     "restarting\n", (unsigned long long)silent_ms);
    if (n > 0)
        (void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL); // the new image inherits this thread's mask
    if (p->opts.argv) {
        execv("/proc/self/exe", p->opts.argv);
        execv(p->opts.argv[0], p->opts.argv);
    }
    static const char fail[] = "swarm-node: watchdog: cannot restart; exiting\n";
    (void)!write(2, fail, sizeof fail - 1);
    _exit(3);
}

static void *wdt_main(void *arg)
{
    sw_posix_t *p = arg;
    pthread_mutex_lock(&p->wdt_mu);
    while (!p->wdt_quit) {
        if (!p->wdt_period) {
            pthread_cond_wait(&p->wdt_cv, &p->wdt_mu);
            continue;
        }
        uint64_t due = p->wdt_kick + p->wdt_period, now = mono_ms();
        if (now >= due) {
            uint64_t silent = now - p->wdt_kick;
            pthread_mutex_unlock(&p->wdt_mu);
            bite(p, silent);
        }
        struct timespec ts = {(time_t)(due / 1000u), (long)(due % 1000u) * 1000000L};
        pthread_cond_timedwait(&p->wdt_cv, &p->wdt_mu, &ts);
    }
    pthread_mutex_unlock(&p->wdt_mu);
    return NULL;
}

// Port op: arms (period_ms > 0) and kicks the watchdog, or disarms it (0). The thread starts
// on first use.
void sw__posix_watchdog(void *ctx, uint32_t period_ms)
{
    sw_posix_t *p = ctx;
    if (!p->wdt_started) {
        if (!period_ms)
            return;
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&p->wdt_cv, &ca);
        pthread_condattr_destroy(&ca);
        pthread_mutex_init(&p->wdt_mu, NULL);
        // the thread takes no signals: SIGINT/SIGTERM stay with the loop
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&p->wdt_thread, NULL, wdt_main, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
            sw__posix_say("watchdog: cannot start its thread: %s", strerror(rc));
            pthread_cond_destroy(&p->wdt_cv);
            pthread_mutex_destroy(&p->wdt_mu);
            return;
        }
        p->wdt_started = true;
    }
    pthread_mutex_lock(&p->wdt_mu);
    p->wdt_kick = mono_ms();
    p->wdt_period = period_ms;
    pthread_cond_signal(&p->wdt_cv);
    pthread_mutex_unlock(&p->wdt_mu);
}

void sw__posix_watchdog_stop(sw_posix_t *p)
{
    if (!p->wdt_started)
        return;
    pthread_mutex_lock(&p->wdt_mu);
    p->wdt_quit = true;
    pthread_cond_signal(&p->wdt_cv);
    pthread_mutex_unlock(&p->wdt_mu);
    pthread_join(p->wdt_thread, NULL);
    pthread_cond_destroy(&p->wdt_cv);
    pthread_mutex_destroy(&p->wdt_mu);
    p->wdt_started = false;
}
