// Exceptions every Cortex-M3 board shares: faults (a semihosting call nobody answered is
// skipped; anything else is reported and the chip reset), the watchdog's warning, stray
// interrupts. The reset itself is picolibc's crt0 (_start: .data, .bss, TLS, main).
#include <stdio.h>

#include "board.h"
#include "cm3.h"
#include "mps2_int.h"
#include "semihost.h"

void sw__sh_trapped(void);
void sw__fault(uint32_t *frame, uint32_t exc_return);

// frame: r0 r1 r2 r3 r12 lr pc xpsr, as the core stacked them. (used: only the assembly below
// calls it, which link-time optimisation cannot see)
__attribute__((used)) void sw__fault(uint32_t *frame, uint32_t exc_return)
{
    (void)exc_return;
    uint16_t insn = *(const volatile uint16_t *)(uintptr_t)frame[6];
    if (insn == 0xBEABu) { // BKPT 0xAB: semihosting without a debugger
        sw__sh_trapped();
        frame[0] = (uint32_t)SW_SH_NONE;
        frame[6] += 2;
        SCB_HFSR = SCB_HFSR; // write-one-to-clear
        SCB_DFSR = SCB_DFSR;
        return;
    }
    char line[120];
    int n = snprintf(line, sizeof line, "fault: pc %08lx lr %08lx cfsr %08lx hfsr %08lx; resetting\n",
                     (unsigned long)frame[6], (unsigned long)frame[5], (unsigned long)SCB_CFSR,
                     (unsigned long)SCB_HFSR);
    sw__mps2_panic(line, (size_t)n);
}

__attribute__((naked)) void sw_isr_hardfault(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "mov r1, lr\n"
                     "push {r4, lr}\n"
                     "bl sw__fault\n"
                     "pop {r4, pc}\n");
}

void sw_isr_nmi(void)
{
    // the watchdog's first expiry; the second one resets the chip (board_an385.c)
    static const char m[] = "watchdog: the main loop stopped; reset follows\n";
    sw__mps2_panic(m, sizeof m - 1);
}

void sw_isr_unexpected(void)
{
    static const char m[] = "unexpected interrupt; resetting\n";
    sw__mps2_panic(m, sizeof m - 1);
}
