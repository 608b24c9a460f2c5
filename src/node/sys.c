// The node's built-in commands: ping at the root and the "sys" directory (MoaT v0 semantics:
// is_up, state, test, wdt, cfg, info, mem, machid, boot/reset/stop, unproxy; plus log).
// sys.eval and sys.load belong to the Lua runtime (lua_api.c).
#include <stdio.h>
#include <string.h>

#include "node_int.h"
#include "swarm/json.h"
#include "sys_part.h"
#include "zin.h"
#if SW_WITH_LUA
#include "lua_part.h"
#endif

static sw_node_t *node_of(const sw_call_t *c) { return c->ctx; }

// Python's str() of a few simple values, as MoaT's ping formats its argument.
static size_t str_of(sw_span_t v, char *buf, size_t cap)
{
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, v.p, v.n);
    if (!v.n || sw_mpr_next(&r, &o))
        return (size_t)snprintf(buf, cap, "None");
    switch (o.type) {
    case SW_MP_NIL: return (size_t)snprintf(buf, cap, "None");
    case SW_MP_BOOL: return (size_t)snprintf(buf, cap, "%s", o.v.b ? "True" : "False");
    case SW_MP_UINT: return (size_t)snprintf(buf, cap, "%llu", (unsigned long long)o.v.u);
    case SW_MP_INT: return (size_t)snprintf(buf, cap, "%lld", (long long)o.v.i);
#if SW__MCU
    case SW_MP_FLOAT: { // the core's formatter: no floating-point printf in an MCU image
        sw_jw_t w;
        sw_jw_init(&w, buf, cap, 0);
        sw_jw_double(&w, o.v.f);
        return w.len;
    }
#else
    case SW_MP_FLOAT: return (size_t)snprintf(buf, cap, "%.17g", o.v.f);
#endif
    case SW_MP_STR: return (size_t)snprintf(buf, cap, "%.*s", (int)o.len, (const char *)o.v.p);
    default: return (size_t)snprintf(buf, cap, "<%s>", o.type == SW_MP_BIN ? "bytes" : "object");
    }
}

static int cmd_ping(sw_call_t *c)
{
    sw_span_t m = {NULL, 0};
    sw_call_arg(c, "m", &m);
    if (m.n && m.p[0] >= 0xa0 && m.p[0] <= 0xbf) { // a short string, the common case: no formatting
        size_t len = m.p[0] & 31u;
        sw_mpw_t *w = c->out;
        if (len <= 29 && !w->err && w->cap - w->len >= 3 + len) { // "R:"+m is a fixstr too
            uint8_t *out = w->buf + w->len;
            out[0] = (uint8_t)(0xa0 | (2 + len)), out[1] = 'R', out[2] = ':';
            memcpy(out + 3, m.p + 1, len);
            w->len += 3 + len;
            return 0;
        }
        uint8_t *out = sw_mpw_blob_begin(c->out, 2 + len);
        if (!out)
            return c->out->err;
        out[0] = 'R', out[1] = ':';
        memcpy(out + 2, m.p + 1, len);
        sw_mpw_blob_end(c->out, SW_MP_STR, 2 + len);
        return 0;
    }
    char buf[256] = "R:";
    size_t n = str_of(m, buf + 2, sizeof buf - 2);
    if (n > sizeof buf - 3)
        n = sizeof buf - 3;
    sw_log(node_of(c), SW_LOG_DEBUG, "PING %s", buf + 2);
    sw_mpw_str(c->out, buf, n + 2);
    return 0;
}

static int cmd_is_up(sw_call_t *c)
{
    if (c->rpc)
        sw_rpc_link(c->rpc, true);
    sw_mpw_nil(c->out);
    return 0;
}

static int cmd_test(sw_call_t *c)
{
    static const uint8_t magic[] = "r\rn\n-\0x\fe\x1b!";
    sw_mpw_bin(c->out, magic, sizeof magic - 1);
    return 0;
}

static int cmd_state(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    sw_span_t st;
    if (!sw_call_arg_str(c, "state", false, &st))
        return c->err;
    const sw_port_ops_t *o = n->port.ops;
    if (st.p) {
        int fd, rc = o->fs_open(n->port.ctx, SW_STATE_FILE ".tmp", SW_O_WRITE | SW_O_CREATE | SW_O_TRUNC, &fd);
        if (!rc) {
            rc = o->fs_write(n->port.ctx, fd, 0, st.p, st.n);
            rc = rc < 0 ? rc : o->fs_sync(n->port.ctx, fd);
            o->fs_close(n->port.ctx, fd);
            if (rc >= 0)
                rc = o->fs_rename(n->port.ctx, SW_STATE_FILE ".tmp", SW_STATE_FILE);
        }
        if (rc < 0)
            return sw_call_fail2(c, rc, "EIO: cannot write the state file: ", sw_strerror(rc), strlen(sw_strerror(rc)));
    }
    char buf[256];
    int fd, len = -1;
    if (!o->fs_open(n->port.ctx, SW_STATE_FILE, SW_O_READ, &fd)) {
        len = o->fs_read(n->port.ctx, fd, 0, buf, sizeof buf);
        o->fs_close(n->port.ctx, fd);
    }
    sw_mpw_map(c->out, 3);
    sw_mpw_cstr(c->out, "n");
    if (len >= 0)
        sw_mpw_str(c->out, buf, (size_t)len);
    else
        sw_mpw_nil(c->out);
    sw_mpw_cstr(c->out, "c"), sw_mpw_cstr(c->out, "std");
    sw_mpw_cstr(c->out, "fb"), sw_mpw_bool(c->out, false);
    return 0;
}

static int cmd_wdt(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    int64_t t;
    if (!sw_call_arg_int(c, "t", 0, &t))
        return c->err;
    int rc = sw_wdt_feed(&n->wdt, t, sw_node_now(n));
    if (rc == SW_EEXIST)
        return sw_call_fail(c, rc, "WDT exists");
    if (rc == SW_ENOENT)
        return sw_call_fail(c, rc, "No WDT");
    if (rc)
        return rc;
    if (t > 0)
        sw_log(n, SW_LOG_INFO, "watchdog: started by sys.wdt (timeout %lld s)", (long long)t);
    sw_node_wdt_schedule(n);
    sw_mpw_bool(c->out, true);
    return 0;
}

// Reads the "p" argument as a config path: absent/nil = root, a list, or a dotted string.
static int cfg_path(sw_call_t *c, sw_cfg_path_t *path, char *dotted, size_t cap)
{
    sw_span_t p;
    path->len = 0;
    if (sw_call_arg(c, "p", &p) || sw_call_arg_is_none(c, "p"))
        return 0;
    sw_mpr_t r;
    sw_mpr_init(&r, p.p, p.n);
    sw_mp_type_t t = sw_mpr_peek(&r);
    int rc;
    if (t == SW_MP_STR) {
        sw_span_t s;
        sw_mpr_str(&r, &s);
        if (s.n >= cap)
            return sw_call_fail(c, SW_ETOOBIG, "BadArg: p: path too long");
        memcpy(dotted, s.p, s.n);
        dotted[s.n] = 0;
        rc = s.n ? sw_cfg_path_dotted(path, dotted) : 0;
    } else if (t == SW_MP_ARRAY) {
        rc = sw_cfg_path_mp(path, p.p, p.n);
    } else {
        return sw_call_fail(c, SW_ETYPE, "BadArg: p: expected a list of keys");
    }
    if (rc)
        return sw_call_fail(c, rc, "BadArg: p: not a valid config path");
    return 0;
}

static int cmd_cfg(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    sw_span_t p, d;
    bool has_p = sw_call_arg(c, "p", &p) == 0;
    bool has_d = sw_call_arg(c, "d", &d) == 0;
    if (has_p && has_d && sw_call_arg_is_none(c, "p") && d.n == 1 && d.p[0] == 0xc0) {
        sw_node_cfg_apply(n); // v0: p=None, d=None applies the config
        sw_log(n, SW_LOG_INFO, "config: applied");
        // As v0 does, before the reply: a multiplexer on this link re-reads what it takes
        // from the config (docs/PROTOCOL.md, "Commands of the mux").
        static const uint8_t empty_map[] = {0x80};
        if (c->rpc)
            sw_rpc_notify(c->rpc, "mplex.cfg", (sw_span_t){empty_map, sizeof empty_map});
        sw_mpw_bool(c->out, true);
        return 0;
    }
    sw_cfg_path_t path;
    char dotted[128];
    int rc = cfg_path(c, &path, dotted, sizeof dotted);
    if (rc)
        return rc;
    if (!has_d) {
        rc = sw_cfg_write_part(&n->cfg, &path, c->out);
        if (rc == SW_ENOENT)
            return sw_call_fail(c, rc, "ENOENT: no such config entry");
        return rc;
    }
    if (sw_msg_is_nodata(d)) {
        rc = path.len ? sw_cfg_del(&n->cfg, &path) : SW_EINVAL;
        if (rc == SW_ENOENT)
            return sw_call_fail(c, rc, "ENOENT: no such config entry");
    } else if (path.len == 0) {
        rc = sw_cfg_load(&n->cfg, d.p, d.n); // the whole tree at once (must be a map)
    } else {
        rc = sw_cfg_set(&n->cfg, &path, d.p, d.n);
    }
    if (rc == SW_ETOOBIG)
        return sw_call_fail(c, rc, "ETOOBIG: the config would exceed its size limit");
    if (rc == SW_ETYPE)
        return sw_call_fail(c, rc, "ETYPE: the path runs through a value that is not a map/list");
    if (rc)
        return rc;
    rc = sw_node_cfg_save(n);
    if (rc) {
        snprintf(c->err_buf, sizeof c->err_buf, "%s: config changed in memory but could not be "
                 "saved (%s)", sw_errname(rc), sw_strerror(rc));
        return sw_call_fail(c, rc, c->err_buf);
    }
    sw_mpw_nil(c->out);
    return 0;
}

static int cmd_info(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    sw_mpw_t *w = c->out;
    bool hw = n->port.ops->hwinfo != NULL;
#if SW_WITH_ZIN
    bool z = sw_zw_offered(n);
#else
    bool z = false;
#endif
    sw_mpw_map(w, 14u + hw + 2u * z);
    sw_mpw_cstr(w, "node"), sw_mpw_cstr(w, SW_VERSION_STRING);
    sw_mpw_cstr(w, "platform"), sw_mpw_cstr(w, n->port.ops->platform(n->port.ctx));
    sw_mpw_cstr(w, "host_name"), sw_mpw_cstr(w, n->host_name);
    sw_mpw_cstr(w, "mdns_name"), sw_mpw_cstr(w, n->mdns_name);
    sw_mpw_cstr(w, "app_name"), sw_mpw_cstr(w, n->app_name);
    sw_mpw_cstr(w, "hardware_name"), sw_mpw_cstr(w, n->hardware_name);
    sw_mpw_cstr(w, "uptime_ms"), sw_mpw_uint(w, sw_node_now(n) - n->boot_ms);
    sw_mpw_cstr(w, "clients"), sw_mpw_uint(w, n->clients);
    sw_mpw_cstr(w, "max_msg"), sw_mpw_uint(w, c->rpc ? c->rpc->out_cap : n->lim.max_msg);
    sw_mpw_cstr(w, "wdt"), sw_mpw_bool(w, n->wdt.running);
#if SW_WITH_ZIN
    if (z) { // compressed writes (f.open mode "Wz"): the largest window, as zlib's window bits,
             // and the largest inflate ratio (docs/PROTOCOL.md, "Compressed writes")
        sw_mpw_cstr(w, "z"), sw_mpw_uint(w, SW_ZIN_WBITS);
        sw_mpw_cstr(w, "zr"), sw_mpw_uint(w, SW_ZIN_RATIO);
    }
#endif
    sw_mpw_cstr(w, "fallback"), sw_mpw_bool(w, false);
    sw_mpw_cstr(w, "path"), sw_mpw_array(w, 0);
    // how this boot got its config: "ok", or the fallback taken for an unusable swarm.cfg
    sw_mpw_cstr(w, "cfg"), sw_mpw_cstr(w, n->cfg_fallback ? n->cfg_fallback : "ok");
    // the boards compiled in: what board.hardware_name can name (swarm provision checks it)
    uint32_t nb = 0;
    while (sw_boards[nb])
        nb++;
    sw_mpw_cstr(w, "boards"), sw_mpw_array(w, nb);
    for (uint32_t i = 0; i < nb; i++)
        sw_mpw_cstr(w, sw_boards[i]->name);
    if (hw) { // a firmware: board, profile and where its flash and RAM went
        sw_hwinfo_t h = {0};
        n->port.ops->hwinfo(n->port.ctx, &h);
        sw_mpw_cstr(w, "hw"), sw_mpw_map(w, 4);
        sw_mpw_cstr(w, "board"), sw_mpw_cstr(w, h.board ? h.board : "");
        sw_mpw_cstr(w, "profile"), sw_mpw_cstr(w, h.profile ? h.profile : "");
        sw_mpw_cstr(w, "flash"), sw_mpw_map(w, 2);
        sw_mpw_cstr(w, "size"), sw_mpw_uint(w, h.flash_size);
        sw_mpw_cstr(w, "used"), sw_mpw_uint(w, h.flash_used);
        sw_mpw_cstr(w, "ram"), sw_mpw_map(w, SW_WITH_LUA ? 9 : 7);
        sw_mpw_cstr(w, "size"), sw_mpw_uint(w, h.ram_size);
        sw_mpw_cstr(w, "static"), sw_mpw_uint(w, h.ram_static);
        sw_mpw_cstr(w, "heap_size"), sw_mpw_uint(w, h.heap_size);
        sw_mpw_cstr(w, "heap_used"), sw_mpw_uint(w, h.heap_used);
        sw_mpw_cstr(w, "heap_peak"), sw_mpw_uint(w, h.heap_peak);
        sw_mpw_cstr(w, "stack_size"), sw_mpw_uint(w, h.stack_size);
        sw_mpw_cstr(w, "stack_peak"), sw_mpw_uint(w, h.stack_peak);
#if SW_WITH_LUA // a second pool only where Lua is (the small profile has none)
        sw_mpw_cstr(w, "node_reserve"), sw_mpw_uint(w, h.node_reserve);
        sw_mpw_cstr(w, "pools"), sw_mpw_map(w, 2); // [used, peak] per pool
        static const char *const names[2] = {"node", "lua"}; // SW_POOL_NODE, SW_POOL_LUA
        for (int i = 0; i < 2; i++) {
            sw_mpw_cstr(w, names[i]), sw_mpw_array(w, 2);
            sw_mpw_uint(w, h.pool_used[i]), sw_mpw_uint(w, h.pool_peak[i]);
        }
#endif
    }
    return 0;
}

static int cmd_mem(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    sw_mem_t m = {0, 0, 0};
    n->port.ops->mem(n->port.ctx, &m);
    sw_mpw_map(c->out, 5);
    sw_mpw_cstr(c->out, "t"), sw_mpw_uint(c->out, 0);
    sw_mpw_cstr(c->out, "f"), sw_mpw_uint(c->out, m.avail);
    sw_mpw_cstr(c->out, "c"), sw_mpw_uint(c->out, 0);
    sw_mpw_cstr(c->out, "used"), sw_mpw_uint(c->out, m.used);
    sw_mpw_cstr(c->out, "heap"), sw_mpw_uint(c->out, m.heap);
    return 0;
}

static int cmd_machid(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    uint8_t id[32];
    size_t k = n->port.ops->machid(n->port.ctx, id, sizeof id);
    sw_mpw_bin(c->out, id, k);
    return 0;
}

// boot / reset / stop share one handler; the command's user field holds what it does.
typedef struct { const char *code; int how; const char *what; } reset_kind_t;
static const reset_kind_t k_boot = {"SysBooT", SW_RESET_SOFT, "sys.boot"};
static const reset_kind_t k_reset = {"SysRsT", SW_RESET_HARD, "sys.reset"};
static const reset_kind_t k_stop = {"SysStoP", SW_RESET_STOP, "sys.stop"};

static int cmd_reset(sw_call_t *c)
{
    const reset_kind_t *k = c->def->user;
    sw_span_t code;
    if (!sw_call_arg_str(c, "code", false, &code))
        return c->err;
    if (code.n != strlen(k->code) || memcmp(code.p, k->code, code.n) != 0)
        return sw_call_fail2(c, SW_EPERM, "BadArg: code: must be ", k->code, strlen(k->code));
    sw_node_reset(node_of(c), k->how, k->what);
    sw_mpw_bool(c->out, true);
    return 0;
}

static int cmd_unproxy(sw_call_t *c)
{
    sw_span_t p;
    if (sw_call_arg(c, "p", &p))
        return sw_call_fail(c, SW_EINVAL, "BadArg: missing p");
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, p.p, p.n);
    if (sw_mpr_next(&r, &o) || (o.type != SW_MP_STR && !sw_msg_obj_is_proxy(&o, NULL)))
        return sw_call_fail(c, SW_ETYPE, "BadArg: p: expected a proxy or its name");
#if SW_WITH_LUA
    int rc = sw_proxy_drop(node_of(c), (const char *)o.v.p, o.len);
#else
    int rc = SW_ENOENT; // no Lua, so no proxy was ever sent
#endif
    if (rc == SW_EPERM)
        return sw_call_fail(c, rc, "cannot be deleted");
    if (rc == SW_ENOENT)
        return sw_call_fail(c, rc, "ENOENT: no such proxy");
    if (rc)
        return rc;
    sw_mpw_nil(c->out);
    return 0;
}

// sys.log(p=None, n=4096): log text from position p (default: the last n bytes), and the
// position to continue from. A console polls it.
static int cmd_log(sw_call_t *c)
{
    sw_node_t *n = node_of(c);
    int64_t pos, want;
    if (!sw_call_arg_int(c, "p", -1, &pos) || !sw_call_arg_int(c, "n", 4096, &want))
        return c->err;
    if (want < 0)
        want = 0;
    size_t room = c->rpc ? c->rpc->out_cap / 2 : 4096;
    if ((uint64_t)want > room)
        want = (int64_t)room;
    uint64_t end = sw_log_end(n);
    uint64_t from = pos >= 0 ? (uint64_t)pos : (end > (uint64_t)want ? end - (uint64_t)want : 0);
    sw_mpw_map(c->out, 2);
    sw_mpw_cstr(c->out, "d");
    uint8_t *text = sw_mpw_blob_begin(c->out, (size_t)want);
    size_t k = text ? sw_log_read(n, &from, (char *)text, (size_t)want) : 0;
    sw_mpw_blob_end(c->out, SW_MP_STR, k);
    sw_mpw_cstr(c->out, "p"), sw_mpw_uint(c->out, from);
    return 0;
}

static const sw_cmd_def_t root_cmds[] = {
    {"ping", "m", "echo m back as \"R:\"+m", cmd_ping, NULL},
};

static const sw_cmd_def_t sys_cmds[] = {
    {"is_up", NULL, "send the link message (true) on this link", cmd_is_up, NULL},
    {"state", "state", "read (and with state=…, write) the boot state file", cmd_state, NULL},
    {"test", NULL, "a fixed byte string, to check the link is 8-bit clean", cmd_test, NULL},
    {"wdt", "t", "feed the watchdog; t=seconds starts it when it is not running", cmd_wdt, NULL},
    {"cfg", "p,d", "config: read p, write d at p, delete with d=Proxy('-'), apply with p=d=None", cmd_cfg, NULL},
    {"info", NULL, "node version, platform, identity, uptime", cmd_info, NULL},
    {"mem", NULL, "memory: used, available, heap", cmd_mem, NULL},
    {"machid", NULL, "unique machine id (bytes)", cmd_machid, NULL},
    {"boot", "code", "soft reset (code must be \"SysBooT\")", cmd_reset, (void *)&k_boot},
    {"reset", "code", "hard reset (code must be \"SysRsT\")", cmd_reset, (void *)&k_reset},
    {"stop", "code", "stop the node (code must be \"SysStoP\")", cmd_reset, (void *)&k_stop},
    {"unproxy", "p", "release a proxy the node sent", cmd_unproxy, NULL},
    {"log", "p,n", "log text from position p (default: the last n bytes) and the next position", cmd_log, NULL},
};

static const sw_part_cmds_t groups[] = {
    {"", NULL, root_cmds, sizeof root_cmds / sizeof *root_cmds},
    {"sys", "the node itself", sys_cmds, sizeof sys_cmds / sizeof *sys_cmds},
};

// The first part: its "sys" directory is where the other parts' system commands go.
const sw_part_t sw_part_sys = {.name = "sys", .cmds = groups, .ncmds = 2};
