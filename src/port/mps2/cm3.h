// Cortex-M3 core registers the firmware uses (SysTick, NVIC, SCB) and interrupt masking. The
// addresses are the architecture's (ARMv7-M), the same on every Cortex-M3/M4 board.
#ifndef SW_MPS2_CM3_H
#define SW_MPS2_CM3_H

#include <stdint.h>

#define SW_REG(a) (*(volatile uint32_t *)(a))

#define SYST_CSR SW_REG(0xE000E010u) // SysTick control: bit0 enable, bit1 interrupt, bit2 core clock
#define SYST_RVR SW_REG(0xE000E014u) // reload value
#define SYST_CVR SW_REG(0xE000E018u) // current value (any write clears it)

#define NVIC_ISER0 SW_REG(0xE000E100u) // set-enable, IRQ 0..31
#define NVIC_ICER0 SW_REG(0xE000E180u) // clear-enable
#define NVIC_ICPR0 SW_REG(0xE000E280u) // clear-pending

#define SCB_ICSR SW_REG(0xE000ED04u)
#define SCB_VTOR SW_REG(0xE000ED08u)
#define SCB_AIRCR SW_REG(0xE000ED0Cu)
#define SCB_CFSR SW_REG(0xE000ED28u)  // configurable fault status
#define SCB_HFSR SW_REG(0xE000ED2Cu)
#define SCB_DFSR SW_REG(0xE000ED30u)  // debug fault status: bit1 BKPT

static inline void sw_irq_enable(unsigned irq) { NVIC_ISER0 = 1u << irq; }
static inline void sw_irq_disable(unsigned irq) { NVIC_ICER0 = 1u << irq; }

// PRIMASK: returns the previous state for sw_irq_restore (critical sections nest).
static inline uint32_t sw_irq_save(void)
{
    uint32_t m;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(m)::"memory");
    return m;
}

static inline void sw_irq_restore(uint32_t m) { __asm__ volatile("msr primask, %0" ::"r"(m) : "memory"); }

// Requests a system reset (NVIC_SystemReset of CMSIS) and waits for it.
__attribute__((noreturn)) static inline void sw_system_reset(void)
{
    __asm__ volatile("dsb" ::: "memory");
    SCB_AIRCR = 0x05FA0004u; // VECTKEY | SYSRESETREQ
    __asm__ volatile("dsb" ::: "memory");
    for (;;)
        __asm__ volatile("wfi");
}

#endif
