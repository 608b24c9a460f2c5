// Discovery datagrams (swarm/beacon.h): writing the beacon micro-swarm's scanners understand,
// with our additions, within one datagram; reading and writing the scan query.
#include <string.h>

#include "swarm/beacon.h"

#define QUERY_ID_MAX ((UINT64_C(1) << 53) - 1) // exact in every JSON reader (doubles)

static const char *or_empty(const char *s) { return s ? s : ""; }

static void port_or_false(sw_jw_t *w, const char *key, int32_t port)
{
    sw_jw_key(w, key, strlen(key));
    if (port > 0)
        sw_jw_int(w, port);
    else
        sw_jw_bool(w, false);
}

// The beacon is broadcast to the whole LAN: of the config it carries only what discovery
// needs, never whatever else a user keeps under board or boot. board: micro-swarm's five
// identity keys (cut down to the three scanners read when the beacon must shrink); boot: the
// keys micro-swarm's tools (and ours) read to find the services.
static const char *const board_all[] = {"name", "device_name", "host_name", "app_name",
                                        "hardware_name", NULL};
static const char *const board_keep[] = {"host_name", "app_name", "hardware_name", NULL};
static const char *const boot_keep[] = {"VERSION", "FTPD_ENABLE", "FTPD_PORT", "REMOTE_EVAL_ENABLE",
                                        "REMOTE_EVAL_PORT", "TELNET_ENABLE", "TELNET_PORT",
                                        "MDNS_ENABLE", NULL};

static bool kept(const sw_mp_obj_t *key, const char *const *keep)
{
    for (; *keep; keep++)
        if (sw_mp_obj_streq(key, *keep))
            return true;
    return false;
}

// A config map as JSON: only the keys in keep (all of it when keep is NULL).
static void settings_map(sw_jw_t *w, sw_span_t mp, const char *const *keep)
{
    if (mp.n == 0) {
        sw_jw_obj_begin(w);
        sw_jw_obj_end(w);
        return;
    }
    if (!keep) {
        sw_jw_mp(w, mp.p, mp.n);
        return;
    }
    sw_mpr_t r;
    sw_mp_obj_t o;
    sw_mpr_init(&r, mp.p, mp.n);
    sw_jw_obj_begin(w);
    if (sw_mpr_next(&r, &o)) {
        w->err = w->err ? w->err : SW_EPROTO; // not MsgPack
    } else if (o.type == SW_MP_MAP) {
        for (uint32_t k = 0; k < o.len && !w->err; k++) {
            sw_mp_obj_t key;
            sw_span_t val;
            if (sw_mpr_next(&r, &key) || (key.type == SW_MP_ARRAY || key.type == SW_MP_MAP) ||
                sw_mpr_span(&r, &val)) {
                w->err = w->err ? w->err : SW_EPROTO;
                break;
            }
            if (key.type == SW_MP_STR && kept(&key, keep)) {
                sw_jw_key(w, (const char *)key.v.p, key.len);
                sw_jw_mp(w, val.p, val.n);
            }
        }
    }
    sw_jw_obj_end(w);
}

static int write_once(char *buf, size_t cap, const sw_beacon_info_t *bi, size_t n_ifs, bool compact)
{
    sw_jw_t w;
    sw_jw_init(&w, buf, cap, 0);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "type", 4), sw_jw_cstr(&w, "beacon");

    sw_jw_key(&w, "ifconfigs", 9);
    sw_jw_arr_begin(&w);
    for (size_t i = 0; i < n_ifs; i++) {
        // micro-swarm puts a fake 127.0.0.2 as gateway and DNS; nothing reads them
        sw_jw_arr_begin(&w);
        sw_jw_cstr(&w, bi->ifs[i].addr);
        sw_jw_cstr(&w, bi->ifs[i].netmask[0] ? bi->ifs[i].netmask : "255.255.255.255");
        sw_jw_cstr(&w, "0.0.0.0");
        sw_jw_cstr(&w, "0.0.0.0");
        sw_jw_arr_end(&w);
    }
    sw_jw_arr_end(&w);

    sw_jw_key(&w, "settings", 8);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "board", 5), settings_map(&w, bi->board, compact ? board_keep : board_all);
    sw_jw_key(&w, "boot", 4), settings_map(&w, bi->boot, boot_keep);
    sw_jw_obj_end(&w);

    sw_jw_key(&w, "versions", 8);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "app", 3), sw_jw_cstr(&w, bi->app_version);
    sw_jw_key(&w, "boot", 4), sw_jw_cstr(&w, bi->boot_version);
    sw_jw_key(&w, "micropython", 11);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "sysname", 7), sw_jw_cstr(&w, or_empty(bi->sysname));
    sw_jw_key(&w, "nodename", 8), sw_jw_cstr(&w, or_empty(bi->nodename));
    sw_jw_key(&w, "release", 7), sw_jw_cstr(&w, or_empty(bi->release));
    sw_jw_key(&w, "version", 7), sw_jw_cstr(&w, or_empty(bi->version));
    sw_jw_key(&w, "machine", 7), sw_jw_cstr(&w, or_empty(bi->machine));
    sw_jw_obj_end(&w);
    sw_jw_obj_end(&w);

    sw_jw_key(&w, "swarm", 5);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "v", 1), sw_jw_int(&w, SW_BEACON_V);
    sw_jw_key(&w, "id", 2), sw_jw_cstr(&w, or_empty(bi->id));
    port_or_false(&w, "rpc_port", bi->rpc_port);
    sw_jw_key(&w, "node", 4), sw_jw_cstr(&w, or_empty(bi->node));
    sw_jw_key(&w, "app_hash", 8), sw_jw_cstr(&w, bi->app_hash);
    sw_jw_key(&w, "uptime_ms", 9), sw_jw_uint(&w, bi->uptime_ms);
    if (bi->locked) // RPC needs the fleet key (an open node's beacon stays as it was)
        sw_jw_key(&w, "locked", 6), sw_jw_bool(&w, true);
    sw_jw_key(&w, "services", 8);
    sw_jw_obj_begin(&w);
    port_or_false(&w, "ftp", bi->ftp_port);
    port_or_false(&w, "telnet", bi->telnet_port);
    port_or_false(&w, "eval", bi->eval_port);
    sw_jw_key(&w, "mdns", 4), sw_jw_bool(&w, bi->mdns);
    port_or_false(&w, "rpc", bi->rpc_port);
    sw_jw_obj_end(&w);
    sw_jw_obj_end(&w);

    sw_jw_obj_end(&w);
    return w.err ? w.err : (int)w.len;
}

int sw_beacon_write(char *buf, size_t cap, const sw_beacon_info_t *bi, unsigned *cut)
{
    if (cut)
        *cut = 0;
    if (!buf || cap == 0)
        return SW_EFULL;
    if (cap > SW_BEACON_MAX + 1) // + the NUL
        cap = SW_BEACON_MAX + 1;
    int rc = write_once(buf, cap, bi, bi->n_ifs, false);
    if (rc == SW_EFULL && bi->n_ifs > 1) {
        if (cut)
            *cut |= SW_BEACON_CUT_IFS;
        rc = write_once(buf, cap, bi, 1, false);
    }
    if (rc == SW_EFULL) {
        if (cut)
            *cut |= SW_BEACON_CUT_SETTINGS;
        rc = write_once(buf, cap, bi, bi->n_ifs > 1 ? 1 : bi->n_ifs, true);
    }
    if (rc < 0)
        buf[0] = 0;
    return rc;
}

/////////////////////////////////////////////////////////////////////////////////////////////
// The query

int sw_beacon_read_query(const void *p, size_t n, sw_beacon_query_t *q)
{
    if (n > SW_BEACON_QUERY_MAX)
        return SW_ETOOBIG;
    sw_jr_t r;
    sw_jv_t t;
    sw_jr_init(&r, (const char *)p, n);
    if (sw_jr_next(&r, &t))
        return r.err;
    if (t.type != SW_JT_OBJ)
        return SW_EPROTO;
    bool is_query = false, seen_type = false, seen_v = false, seen_id = false;
    sw_jv_t v = {0}, id = {0};
    for (;;) {
        if (sw_jr_next(&r, &t))
            return r.err;
        if (t.type == SW_JT_OBJ_END)
            break;
        sw_jv_t key = t;
        if (sw_jr_next(&r, &t) || sw_jr_skip(&r, &t))
            return r.err;
        if (sw_jv_streq(&key, "type") && !seen_type) {
            seen_type = true;
            is_query = t.type == SW_JT_STR && sw_jv_streq(&t, "query");
            if (!is_query)
                return SW_ENOENT; // a beacon (or someone else's datagram): no need to read on
        } else if (sw_jv_streq(&key, "v") && !seen_v) {
            seen_v = true;
            v = t;
        } else if (sw_jv_streq(&key, "id") && !seen_id) {
            seen_id = true;
            id = t;
        }
    }
    if (sw_jr_next(&r, &t)) // the end of the text: nothing may follow the object
        return r.err;
    if (!is_query)
        return SW_ENOENT;
    if (v.type != SW_JT_NUM || !v.is_int || v.i < 1 || v.i > UINT32_MAX || id.type != SW_JT_NUM ||
        !id.is_int || id.i < 0 || (uint64_t)id.i > QUERY_ID_MAX)
        return SW_ETYPE;
    q->v = (uint32_t)v.i;
    q->id = (uint64_t)id.i;
    return 0;
}

int sw_beacon_write_query(char *buf, size_t cap, uint64_t id)
{
    if (id > QUERY_ID_MAX)
        return SW_ERANGE;
    sw_jw_t w;
    sw_jw_init(&w, buf, cap, 0);
    sw_jw_obj_begin(&w);
    sw_jw_key(&w, "type", 4), sw_jw_cstr(&w, "query");
    sw_jw_key(&w, "v", 1), sw_jw_int(&w, SW_BEACON_V);
    sw_jw_key(&w, "id", 2), sw_jw_uint(&w, id);
    sw_jw_obj_end(&w);
    return w.err ? w.err : (int)w.len;
}
