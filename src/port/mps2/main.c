// The firmware's main: boot arguments, the node, and the loop that feeds it events and sleeps
// (WFI) when there is nothing to do.
//
// Boot arguments are "key=value" words, from QEMU's -append (semihosting; the first word, the
// image's path, is skipped) or the build's defaults (SW_FW_ARGS):
//   serial=lossy|lossless   the UART0 link: SerialPacker + Reliable, or the plain MsgPack stream
//                           (default lossy)
//   baud=N                  the UART's rate (default 115200; QEMU ignores it)
//   name=HOST               host_name override
//   app=APP                 the app to run (board.app_name, kept in the config; `swarm sim
//                           --mcu-apps` names one so that the first push installs it)
//   wdt=MS                  the hardware watchdog's reset time (default 8000; 0: off); the
//                           node's loop watchdog (wdt.loop, port op watchdog) may shorten it
//   flash=PATH              the host file (semihosting) holding the flash file system: config,
//                           apps and files persist across restarts; created and formatted when
//                           new (default: none, no files; config in RAM only)
//   hang=MS                 fault injection for tests: after MS ms the loop stops turning (it
//                           spins without kicking the watchdog), as a runaway C loop would
//   net=off                 leave the LAN9118 and lwIP down: a board with a UART only (the
//                           UART tests run so, see tests/mcu/test_qemu_serial.py)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "cm3.h"
#include "mps2_int.h"
#include "semihost.h"
#include "uart.h"

#ifndef SW_FW_ARGS
#define SW_FW_ARGS ""
#endif

typedef struct {
    char buf[160];
    sw_node_opts_t opts;
    uint32_t wdt_ms;
    uint32_t hang_ms; // 0: never
    const char *flash; // host file of the flash block device (NULL: no files)
    bool no_net;       // net=off
} boot_args_t;

static void parse_args(boot_args_t *a)
{
    a->opts = (sw_node_opts_t){
        .rpc_port = SW_FW_NET ? -1 : 0, // -1: rpc.port of the config (27587); 0: no network
        .board = "none", // no board commands (yet) for the MPS2's LEDs and switches
        .serial_dev = "uart0",
        .serial_baud = 115200,
        .serial_lossy = true,
    };
    a->wdt_ms = 8000;
    if (sw_sh_cmdline(a->buf, sizeof a->buf) < 0) {
        strncpy(a->buf, SW_FW_ARGS, sizeof a->buf - 1);
        a->buf[sizeof a->buf - 1] = 0;
    }
    // the words, split in place (picolibc's strtok would cost 108 B of flash for this loop)
    for (char *w = a->buf, *end; *w; w = end) {
        if (*w == ' ') {
            end = w + 1;
            continue;
        }
        for (end = w; *end && *end != ' '; end++)
            ;
        if (*end)
            *end++ = 0;
        char *v = strchr(w, '=');
        if (!v)
            continue; // the image's path
        *v++ = 0;
        if (!strcmp(w, "serial"))
            a->opts.serial_lossy = strcmp(v, "lossless") != 0;
        else if (!strcmp(w, "baud"))
            a->opts.serial_baud = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(w, "name"))
            a->opts.name = v;
        else if (!strcmp(w, "app"))
            a->opts.app = v;
        else if (!strcmp(w, "wdt"))
            a->wdt_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(w, "flash"))
            a->flash = v;
        else if (!strcmp(w, "hang"))
            a->hang_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (!strcmp(w, "net"))
            a->no_net = !strcmp(v, "off");
    }
}

// Waits (bounded) until the TX ring has gone out, so a reset does not cut the last reply.
static void flush_tx(void)
{
    uint32_t t0 = sw__mps2_now();
    for (uint32_t spent; (spent = sw__mps2_now() - t0) < 500;) {
        uint32_t m = sw_irq_save();
        bool more = sw_uart_tx_queued() != 0;
        if (more)
            sw__mps2_sleep(500 - spent);
        sw_irq_restore(m);
        if (!more)
            break;
    }
}

// How long the loop may sleep: until the node's timer or lwIP's is due, and never so long that
// the hardware watchdog (kicked every pass) could bite.
static uint32_t sleep_ms(const sw_mps2_t *s)
{
    uint32_t ms = 1000;
    if (s->wake_pending) {
        int32_t d = (int32_t)(s->wake_ms - sw__mps2_now());
        ms = d <= 0 ? 0 : (uint32_t)d < ms ? (uint32_t)d : ms;
    }
#if SW_FW_NET
    uint32_t l = sw__mps2_net_sleep_ms();
    if (l < ms)
        ms = l;
#endif
    return ms;
}

static bool work_pending(const sw_mps2_t *s)
{
    if (s->uart_open && !s->uart_paused && sw_uart_rx_avail())
        return true;
    if (s->uart_closing || s->reset_how)
        return true;
    if ((s->uart_want_drained || s->uart_paused) && s->uart_open && !sw_uart_tx_queued())
        return true;
#if SW_FW_NET
    if (sw__mps2_net_pending())
        return true;
#endif
    return s->wake_pending && (int32_t)(sw__mps2_now() - s->wake_ms) >= 0;
}

int main(void)
{
    static sw_mps2_t st;
    static boot_args_t args;
    sw__mps2_stack_paint();
    sw_board_init();
    sw__mps2_tick_start();
    parse_args(&args);

    uint8_t id[6] = {0};
    sw_board_machid(id, sizeof id);
    st.rnd = 0x2545F491u ^ ((uint32_t)id[0] << 24 | (uint32_t)id[1] << 16 | (uint32_t)id[2] << 8 | id[3]) ^
             sw_board_clock_jitter();
#if SW_FW_AUTH
    if (!sw__mps2_rng_init(id, sizeof id)) {
        static const char m[] = "rng: no entropy source: session keys come from the clock only";
        sw__mps2_log(m, sizeof m - 1);
    }
    sw__mps2_random(&st.rnd, sizeof st.rnd); // lwIP's numbers too
#endif
    if (!st.rnd)
        st.rnd = 1;
    sw__mps2_self = &st;
#if SW_FW_NET
    if (args.no_net || sw__mps2_net_init(&st))
        args.opts.rpc_port = 0; // no NIC: the node serves its serial link only
#endif

#if SW_FW_FILES
    if (args.flash) {
        const char *what;
        st.files = sw__mps2_flash_mount(&st.ffs, args.flash, &what) == 0;
        char m[96];
        int k = snprintf(m, sizeof m, "flash %s: %s%s", args.flash, what, st.files ? "" : "; no files");
        sw__mps2_log(m, k < 0 ? 0 : (size_t)k < sizeof m ? (size_t)k : sizeof m - 1);
    }
#endif

    const sw_port_t port = {&sw__mps2_ops, &st};
    sw_node_t *n;
    int rc = sw_node_create(&n, &port, &args.opts);
    st.node = n;
    if (!rc)
        rc = sw_node_start(n);
    if (rc) { // a reset would only fail the same way again: stop (QEMU exits with 1)
        static const char m[] = "swarm-node: cannot start; stopped";
        flush_tx();
        sw__mps2_log(m, sizeof m - 1);
        sw_sh_exit(1);
        __asm__ volatile("cpsid i");
        for (;;)
            __asm__ volatile("wfi");
    }
    st.wdt_boot = args.wdt_ms;
    sw__mps2_wdt_apply(&st); // (the node may have armed it already: its wdt.loop period)

    uint8_t buf[128];
    for (;;) {
        if (args.hang_ms && (int32_t)(sw__mps2_now() - args.hang_ms) >= 0) {
            static const char m[] = "hang: loop stopped (hang=)";
            sw__mps2_log(m, sizeof m - 1);
            for (;;) // interrupts still run; only the loop, which kicks the watchdog, is gone
                __asm__ volatile("" ::: "memory");
        }
        sw_board_wdt_kick();
#if SW_FW_NET
        sw__mps2_net_poll(n);
#endif
        if (st.uart_open && !st.uart_paused && !st.uart_closing) {
            size_t k = sw_uart_read(buf, sizeof buf);
            if (k)
                sw_node_data(n, &st.uart, buf, k);
        }
        // drained: after a write that left bytes queued, and whenever the node has paused the
        // link and the ring is empty (the node re-checks its room, so an extra call is harmless)
        if ((st.uart_want_drained || st.uart_paused) && !sw_uart_tx_queued()) {
            st.uart_want_drained = false;
            if (st.uart_open)
                sw_node_drained(n, &st.uart);
        }
        if (st.uart_closing) {
            flush_tx();
            st.uart_open = st.uart_closing = false;
            sw_node_closed(n, &st.uart, 0);
        }
        if (st.wake_pending && (int32_t)(sw__mps2_now() - st.wake_ms) >= 0) {
            st.wake_pending = false;
            sw_node_poll(n);
        }
        if (st.reset_how) {
            flush_tx();
            if (st.reset_how == SW_RESET_STOP) {
                static const char m[] = "swarm-node: stopped\n";
                sw__mps2_log(m, sizeof m - 2);
                sw_sh_exit(0);
                __asm__ volatile("cpsid i");
                for (;;)
                    __asm__ volatile("wfi");
            }
            static const char m[] = "swarm-node: reset";
            sw__mps2_log(m, sizeof m - 1);
            sw_system_reset();
        }
        // Sleep until an interrupt (UART, NIC, clock) or the next timer (SysTick, one-shot): no
        // periodic tick, so an idle guest costs next to nothing. Interrupts are masked, so one
        // that arrives after the check still ends the WFI, then runs when they are unmasked.
        uint32_t m = sw_irq_save();
        if (!work_pending(&st))
            sw__mps2_sleep(sleep_ms(&st));
        sw_irq_restore(m);
#if SW_FW_AUTH
        sw__mps2_rng_event(); // when the interrupt that woke the loop came
#endif
    }
}
