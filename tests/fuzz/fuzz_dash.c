// libFuzzer target for the dashboard's request decoder (src/host/dash_req.c): any bytes a page
// (or anyone holding the token) sends over the WebSocket. A decoded request must hold only
// what the dashboard relies on: a known op, an id within 0..2^53, a node key and a command
// path of the allowed characters, a stream interval in range, push keys that are strings; and
// its arguments must convert to MsgPack the way the dashboard converts them (or fail cleanly).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "mpjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t mp[1 << 20];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_dash: %s\n", what);
        abort();
    }
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_dash_req_t r;
    char err[300];
    int rc = sw_dash_req_parse(data, size, &r, err, sizeof err);
    if (rc) {
        check(rc < 0 && err[0], "an error without a message");
        check(r.root == NULL, "a failed parse kept its tree");
        return 0;
    }
    check(r.id >= 0 && r.id <= (1ll << 53), "id out of range");
    switch (r.op) {
    case SW_DASH_OP_CALL:
        check(r.node[0] && printable(r.node), "bad node key");
        check(r.path[0] && r.path[0] != '.' && !strstr(r.path, "..") && printable(r.path), "bad path");
        check(r.every_ms <= 3600000, "every out of range");
        if (r.args) {
            sw_mpw_t w;
            sw_mpw_init(&w, mp, sizeof mp);
            sw_json_to_mp(r.args, &w); // an error is an answer to the page, not a crash
        }
        break;
    case SW_DASH_OP_PUSH: {
        check(r.project[0] && printable(r.project), "bad project");
        const cJSON *k;
        if (r.nodes)
            cJSON_ArrayForEach(k, r.nodes) check(cJSON_IsString(k) && printable(k->valuestring), "bad push key");
        break;
    }
    case SW_DASH_OP_CANCEL:
        check(r.ref >= 0, "bad ref");
        break;
    case SW_DASH_OP_FLEET:
        break;
    default:
        check(false, "unknown op decoded");
    }
    sw_dash_req_free(&r);
    return 0;
}
