// Firmware (a) of the size report, the core alone (scripts/size): a v0 ping request is encoded,
// fed byte by byte through the splitter, decoded, answered, and the reply checked.
#include <string.h>
#include "swarm/mp.h"

volatile int fw_result;     // observed by nobody, but keeps everything from being optimised out
volatile uint8_t fw_input = 'x';
static uint8_t req[128], reply[64], item[128];
static sw_mps_t split;

int main(void)
{
    char m[2] = {(char)fw_input, 0};
    sw_mpw_t w;
    sw_mpw_init(&w, req, sizeof req); // {"a":"ping","d":{"m":m},"i":1}
    sw_mpw_map(&w, 3);
    sw_mpw_cstr(&w, "a"); sw_mpw_cstr(&w, "ping");
    sw_mpw_cstr(&w, "d"); sw_mpw_map(&w, 1); sw_mpw_cstr(&w, "m"); sw_mpw_cstr(&w, m);
    sw_mpw_cstr(&w, "i"); sw_mpw_int(&w, 1);

    sw_mps_init(&split, item, sizeof item);
    int got = 0;
    for (size_t k = 0; k < w.len && got != 1; k++) {
        size_t used;
        got = sw_mps_feed(&split, req + k, 1, &used);
    }
    if (got != 1) {
        fw_result = sw_errname(got)[1];
        return 1;
    }

    sw_mpr_t r;
    sw_span_t msg = {0}, key;
    int64_t seq = -1;
    uint32_t pairs;
    sw_mpr_init(&r, split.buf, split.len);
    sw_mpr_map(&r, &pairs);
    for (uint32_t k = 0; k < pairs && !r.err; k++) {
        sw_mpr_str(&r, &key);
        if (key.n == 1 && key.p[0] == 'i')
            sw_mpr_int(&r, &seq);
        else if (key.n == 1 && key.p[0] == 'd') {
            sw_span_t d;
            if (!sw_mpr_span(&r, &d) || sw_mp_map_get(d.p, d.n, "m", &d) == 0) {
                sw_mpr_t dr;
                sw_mpr_init(&dr, d.p, d.n);
                sw_mpr_str(&dr, &msg);
            }
        } else
            sw_mpr_skip(&r);
    }
    sw_mpw_init(&w, reply, sizeof reply); // {"d":"R:"+m,"i":seq}
    sw_mpw_map(&w, 2);
    sw_mpw_cstr(&w, "d");
    uint8_t *p = sw_mpw_blob_begin(&w, 2 + msg.n);
    if (p) {
        memcpy(p, "R:", 2);
        memcpy(p + 2, msg.p, msg.n);
        sw_mpw_blob_end(&w, SW_MP_STR, 2 + msg.n);
    }
    sw_mpw_cstr(&w, "i");
    sw_mpw_int(&w, seq);
    fw_result = r.err ? r.err : w.err ? w.err : sw_mp_check(reply, w.len) ? -1 : (int)w.len;
    return 0;
}
