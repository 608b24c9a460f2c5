// One Noise NNpsk0 handshake on a Cortex-M3 (QEMU mps2-an385 under -icount shift=0, where the
// virtual clock advances 1 ns per executed instruction): SysTick on the 25 MHz processor clock
// then counts one tick per 40 instructions. Prints, for each side, the instructions of its part
// of a handshake (the node is the responder), and those of a calibration loop of known length
// so the method checks itself. Built and run by bench/noise/m3.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "swarm/noise.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define NS_PER_TICK 40u // 25 MHz

static uint32_t now(void) { return SYST_CVR; }
static uint32_t insns(uint32_t t0, uint32_t t1) { return ((t0 - t1) & 0xffffffu) * NS_PER_TICK; }

// 2 instructions per turn (subs, bne): 2 * n in all
static void spin(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b\n" : "+r"(n) : : "cc");
}

int main(void)
{
    SYST_RVR = 0xffffffu;
    SYST_CVR = 0;
    SYST_CSR = 5; // enabled, processor clock, no interrupt
    uint32_t t0 = now();
    spin(1000000);
    uint32_t cal = insns(t0, now());
    printf("calibration: 2000000 instructions measured as %lu\n", (unsigned long)cal);

    static sw_noise_t i, r;
    uint8_t psk[32], si[32], sr[32], m1[SW_NOISE_HS_LEN], m2[SW_NOISE_HS_LEN];
    for (int k = 0; k < 3; k++) {
        memset(psk, 7, 32);
        memset(si, 0x20 + k, 32);
        memset(sr, 0x40 + k, 32);
        t0 = now();
        int rc = sw_noise_init(&i, true, psk, si) || sw_noise_write_hs(&i, m1);
        uint32_t t1 = now();
        rc |= sw_noise_init(&r, false, psk, sr) || sw_noise_read_hs(&r, m1, sizeof m1) ||
              sw_noise_write_hs(&r, m2);
        uint32_t t2 = now();
        rc |= sw_noise_read_hs(&i, m2, sizeof m2);
        uint32_t t3 = now();
        uint8_t buf[64 + SW_NOISE_TAG];
        memset(buf, 0x33, 64);
        rc |= sw_noise_encrypt(&i, buf, 64, buf);
        uint32_t t4 = now();
        rc |= sw_noise_decrypt(&r, buf, sizeof buf, buf);
        uint32_t t5 = now();
        if (rc) {
            printf("handshake failed\n");
            return 1;
        }
        printf("run %d: initiator %lu + %lu, responder (node) %lu, frame of 64 B: encrypt %lu, decrypt %lu\n", k,
               (unsigned long)insns(t0, t1), (unsigned long)insns(t2, t3), (unsigned long)insns(t1, t2),
               (unsigned long)insns(t3, t4), (unsigned long)insns(t4, t5));
    }
    return 0;
}
