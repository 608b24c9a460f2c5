// Fuzz target: the dispatcher. Arbitrary bytes are split into MsgPack items and fed to an RPC
// session whose tree has commands using every argument helper, streams and deferred answers.
// Invariants: no crash; every message the session sends decodes as a valid message.
#include <string.h>

#include "swarm/rpc.h"

static int sent_count;

static int check_send(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    sw_msg_t m;
    if (sw_msg_decode(&m, p, n) != 0)
        __builtin_trap();
    sent_count++;
    return 0;
}

static sw_reply_to_t later[4];
static int nlater;

static int cmd_args(sw_call_t *c)
{
    int64_t i;
    bool b;
    sw_span_t s, bin;
    if (!sw_call_arg_int(c, "i", 1, &i) || !sw_call_arg_bool(c, "b", false, &b) ||
        !sw_call_arg_str(c, "s", false, &s) || !sw_call_arg_bin(c, "x", false, &bin))
        return c->err;
    sw_mpw_array(c->out, 4);
    sw_mpw_int(c->out, i);
    sw_mpw_bool(c->out, b);
    sw_mpw_str(c->out, s.p, s.n);
    sw_mpw_bin(c->out, bin.p, bin.n);
    return 0;
}

static int cmd_echo(sw_call_t *c)
{
    if (c->args.n)
        sw_mpw_raw(c->out, c->args.p, c->args.n);
    return c->stream && c->step > 3 ? SW_CALL_END : 0;
}

static int cmd_later(sw_call_t *c)
{
    if (nlater < 4)
        later[nlater++] = c->reply_to;
    return SW_CALL_LATER;
}

static int cmd_fail(sw_call_t *c) { return sw_call_fail2(c, SW_EINVAL, "bad: ", "thing", 5); }
static int cmd_link(sw_call_t *c) { sw_rpc_link(c->rpc, true); return 0; }

static const sw_cmd_def_t defs[] = {
    {"args", "i,b,s,x", "typed arguments", cmd_args, NULL},
    {"echo", "v", "echo", cmd_echo, NULL},
    {"later", NULL, NULL, cmd_later, NULL},
    {"fail", NULL, NULL, cmd_fail, NULL},
    {"is_up", NULL, NULL, cmd_link, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sw_tnode_t pool[16];
    static uint8_t out[600];
    static sw_rpc_stream_t streams[3];
    static sw_rpc_pending_t pending[3];
    static uint8_t item[700];
    sw_tree_t tree;
    sw_tree_init(&tree, pool, 16);
    int sys = sw_tree_add_dir(&tree, SW_TREE_ROOT, "sys", "system");
    int f = sw_tree_add_dir(&tree, SW_TREE_ROOT, "f", "files");
    for (size_t k = 0; k < sizeof defs / sizeof *defs; k++)
        sw_tree_add_cmd(&tree, k % 3 == 0 ? SW_TREE_ROOT : k % 3 == 1 ? sys : f, &defs[k]);

    sw_rpc_t rpc;
    sw_rpc_mem_t mem = {out, sizeof out, streams, 3, pending, 3};
    sw_rpc_hooks_t hooks = {check_send, NULL, NULL, NULL};
    sw_rpc_init(&rpc, &mem, &hooks, &tree, NULL);
    nlater = 0;

    sw_mps_t split;
    sw_mps_init(&split, item, sizeof item);
    uint32_t now = 0;
    size_t at = 0;
    while (at < size) {
        size_t used;
        int rc = sw_mps_feed(&split, data + at, size - at, &used);
        at += used;
        if (rc == 1) {
            sw_rpc_input(&rpc, split.buf, split.len, now);
            now += 7;
            sw_rpc_poll(&rpc, now);
            if (split.len == 2 && nlater) { // answer a deferred request now and then
                sw_mpw_t *w = sw_rpc_answer_begin(&later[--nlater]);
                if (w)
                    sw_mpw_cstr(w, "late");
                sw_rpc_answer_end(&later[nlater]);
            }
        } else if (rc < 0 && rc != SW_ETOOBIG) {
            break;
        } else if (used == 0) {
            break;
        }
    }
    (void)sw_rpc_request(&rpc, "sys.is_up", (sw_span_t){NULL, 0}, 0, NULL);
    for (int k = 0; k < 5; k++)
        sw_rpc_poll(&rpc, now += 50);
    sw_rpc_reset(&rpc, SW_ECLOSED);
    return 0;
}
