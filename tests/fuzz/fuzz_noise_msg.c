// Fuzz target: sealed MQTT messages (src/auth/noise_msg.c) as a node or a host opens them after
// a genuine handshake. Nothing the input holds may open (it was not sealed with the session's
// keys), and however many messages failed, the session must still open the next genuine one:
// a failed message is dropped whole and leaves the receive nonce where it was.
//
// Input: [count] then messages of [len_hi][len_lo][bytes...] opened one after the other.
#include <string.h>

#include "swarm/noise_msg.h"
#include "swarm/sw.h"

static sw_noise_t a, b, a0, b0;
static int ready;
static uint8_t out[1 << 13], sealed[1 << 13];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) { // one handshake (the curve operations are slow), copied for every input
        uint8_t key[32], s1[32], s2[32], m1[SW_NOISE_HS_LEN], m2[SW_NOISE_HS_LEN];
        memset(key, 0x42, 32);
        memset(s1, 0x11, 32);
        memset(s2, 0x22, 32);
        if (sw_noise_init(&a0, true, key, s1) || sw_noise_init(&b0, false, key, s2) ||
            sw_noise_write_hs(&a0, m1) || sw_noise_read_hs(&b0, m1, sizeof m1) || sw_noise_write_hs(&b0, m2) ||
            sw_noise_read_hs(&a0, m2, sizeof m2))
            __builtin_trap();
        ready = 1;
    }
    a = a0;
    b = b0;
    // one genuine message first, so the receive nonce is not at its start
    static const uint8_t hello[] = "genuine";
    size_t n, len;
    if (sw_noise_msg_seal(&a, hello, sizeof hello, sealed, sizeof sealed, &n) ||
        sw_noise_msg_open(&b, sealed, n, out, sizeof out, &len) || len != sizeof hello)
        __builtin_trap();
    size_t i = 0;
    while (i + 2 <= size) {
        size_t k = (size_t)data[i] << 8 | data[i + 1];
        i += 2;
        if (k > size - i)
            k = size - i;
        if (!sw_noise_msg_open(&b, data + i, k, out, sizeof out, &len))
            __builtin_trap(); // opened something we did not seal
        i += k;
    }
    // the session goes on
    if (sw_noise_msg_seal(&a, hello, sizeof hello, sealed, sizeof sealed, &n) ||
        sw_noise_msg_open(&b, sealed, n, out, sizeof out, &len) || len != sizeof hello ||
        memcmp(out, hello, len))
        __builtin_trap();
    return 0;
}
