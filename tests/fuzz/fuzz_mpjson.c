// libFuzzer target for src/host/mpjson.c. The input is used twice:
//  - as MsgPack: converted to JSON, the tree converts back to valid MsgPack, and that second
//    form (already normalised: float64, string keys) survives another trip byte for byte;
//    the printed JSON text must parse again;
//  - as JSON text: whatever cJSON parses converts to valid MsgPack or to an error.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out1[1 << 20], out2[1 << 20];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_mpjson: %s\n", what);
        abort();
    }
}

static void as_msgpack(const uint8_t *data, size_t size)
{
    int err;
    cJSON *j = sw_mp_to_json(data, size, &err);
    if (!j) {
        check(err < 0, "no tree and no error");
        return;
    }
    sw_mpw_t w1;
    sw_mpw_init(&w1, out1, sizeof out1);
    if (sw_json_to_mp(j, &w1) == 0) {
        check(sw_mp_check(out1, w1.len) == 0, "tree → invalid MsgPack");
        cJSON *j2 = sw_mp_to_json(out1, w1.len, &err);
        check(j2 != NULL, "second form does not convert");
        sw_mpw_t w2;
        sw_mpw_init(&w2, out2, sizeof out2);
        check(sw_json_to_mp(j2, &w2) == 0, "second tree does not convert back");
        check(w2.len == w1.len && memcmp(out1, out2, w1.len) == 0, "second trip not exact");
        cJSON_Delete(j2);
    }
    char *text = cJSON_PrintUnformatted(j);
    check(text != NULL, "cannot print");
    cJSON *back = cJSON_Parse(text);
    check(back != NULL, "printed JSON does not parse");
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(j);
}

static void as_json(const uint8_t *data, size_t size)
{
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j)
        return;
    sw_mpw_t w;
    sw_mpw_init(&w, out1, sizeof out1);
    int err = sw_json_to_mp(j, &w);
    check(err <= 0 && err == w.err, "error not reported in the writer");
    if (!err)
        check(sw_mp_check(out1, w.len) == 0, "JSON → invalid MsgPack");
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_msgpack(data, size);
    as_json(data, size);
    return 0;
}
