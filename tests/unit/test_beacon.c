// Discovery datagrams: the beacon has micro-swarm's keys and types (what its scanner reads) plus
// ours, fits one datagram whatever the config holds (cut down in the documented order), and the
// scan query is recognised exactly: everything else is told apart as not-a-query or bad.
#include <cjson/cJSON.h>

#include "testutil.h"
#include "swarm/beacon.h"

static char buf[4096];

// The config maps as the node's defaults write them.
static size_t board_map(uint8_t *out, size_t cap, const char *host)
{
    sw_mpw_t w;
    sw_mpw_init(&w, out, cap);
    sw_mpw_map(&w, 5);
    sw_mpw_cstr(&w, "host_name"), sw_mpw_cstr(&w, host);
    sw_mpw_cstr(&w, "app_name"), sw_mpw_cstr(&w, "blink");
    sw_mpw_cstr(&w, "hardware_name"), sw_mpw_cstr(&w, "posix-sim");
    sw_mpw_cstr(&w, "name"), sw_mpw_cstr(&w, host);
    sw_mpw_cstr(&w, "device_name"), sw_mpw_cstr(&w, host);
    assert_int_equal(w.err, 0);
    return w.len;
}

static size_t boot_map(uint8_t *out, size_t cap, size_t pad)
{
    sw_mpw_t w;
    sw_mpw_init(&w, out, cap);
    sw_mpw_map(&w, pad ? 15 : 14);
    sw_mpw_cstr(&w, "VERSION"), sw_mpw_cstr(&w, "0.1.0");
    sw_mpw_cstr(&w, "FTPD_ENABLE"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "FTPD_PORT"), sw_mpw_int(&w, 21);
    sw_mpw_cstr(&w, "MDNS_ENABLE"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "MDNS_POLL_MS"), sw_mpw_int(&w, 500);
    sw_mpw_cstr(&w, "BEACON_ENABLE"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "BEACON_REPEAT_MS"), sw_mpw_int(&w, 2000);
    sw_mpw_cstr(&w, "BEACON_DESTINATION_IPS"), sw_mpw_array(&w, 1), sw_mpw_cstr(&w, "255.255.255.255");
    sw_mpw_cstr(&w, "BEACON_DESTINATION_PORT"), sw_mpw_int(&w, 1139);
    sw_mpw_cstr(&w, "REMOTE_EVAL_ENABLE"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "REMOTE_EVAL_PORT"), sw_mpw_int(&w, 1139);
    sw_mpw_cstr(&w, "TELNET_ENABLE"), sw_mpw_bool(&w, true);
    sw_mpw_cstr(&w, "TELNET_PORT"), sw_mpw_int(&w, 23);
    sw_mpw_cstr(&w, "NETWORK_SET_LOCAL_LINK_IP"), sw_mpw_bool(&w, true);
    if (pad) { // something big a user put under boot
        static char big[4096];
        memset(big, 'x', pad);
        sw_mpw_cstr(&w, "NOTES"), sw_mpw_str(&w, big, pad);
    }
    assert_int_equal(w.err, 0);
    return w.len;
}

static uint8_t board[8192], boot[8192];

static sw_beacon_info_t info(const sw_netif_t *ifs, size_t n_ifs, const char *host, size_t pad)
{
    sw_beacon_info_t bi = {
        .ifs = ifs, .n_ifs = n_ifs,
        .board = {board, board_map(board, sizeof board, host)},
        .boot = {boot, boot_map(boot, sizeof boot, pad)},
        .app_version = NULL, .boot_version = "0.1.0",
        .sysname = "swarm", .nodename = host, .release = "0.1.0", .version = "swarm-node 0.1.0",
        .machine = "posix-sim on posix linux x86_64",
        .id = "0123456789abcdef", .node = "0.1.0",
        .app_hash = "89d2b17c653fac6d9410caa9e0a28f96d3bea1c607801af7e74865d82a4ae81f",
        .uptime_ms = 123456789012ull,
        .rpc_port = 27587, .ftp_port = 21, .telnet_port = 0, .eval_port = 1139, .mdns = true,
    };
    return bi;
}

static const sw_netif_t one_if[] = {{"eth0", "169.254.185.17", "255.255.0.0", "169.254.255.255", {0}}};

static cJSON *get(cJSON *o, const char *path) // "settings.board.host_name", "ifconfigs.0.1"
{
    char key[64];
    while (o && *path) {
        size_t k = strcspn(path, ".");
        memcpy(key, path, k);
        key[k] = 0;
        o = key[0] >= '0' && key[0] <= '9' ? cJSON_GetArrayItem(o, atoi(key)) : cJSON_GetObjectItemCaseSensitive(o, key);
        path += k + (path[k] == '.');
    }
    return o;
}

static void test_beacon_keys(void **state)
{
    (void)state;
    sw_beacon_info_t bi = info(one_if, 1, "example-device", 0);
    unsigned cut = 99;
    int n = sw_beacon_write(buf, sizeof buf, &bi, &cut);
    assert_true(n > 0);
    assert_int_equal(cut, 0);
    assert_int_equal((size_t)n, strlen(buf));
    cJSON *j = cJSON_ParseWithLength(buf, (size_t)n);
    assert_non_null(j);
    // what micro-swarm's scan_devices / push_code read
    assert_string_equal(get(j, "type")->valuestring, "beacon");
    assert_string_equal(get(j, "ifconfigs.0.0")->valuestring, "169.254.185.17");
    assert_string_equal(get(j, "ifconfigs.0.1")->valuestring, "255.255.0.0");
    assert_string_equal(get(j, "ifconfigs.0.2")->valuestring, "0.0.0.0");
    assert_int_equal(cJSON_GetArraySize(get(j, "ifconfigs.0")), 4);
    assert_string_equal(get(j, "settings.board.host_name")->valuestring, "example-device");
    assert_string_equal(get(j, "settings.board.app_name")->valuestring, "blink");
    assert_true(cJSON_IsTrue(get(j, "settings.boot.FTPD_ENABLE")));
    assert_int_equal(get(j, "settings.boot.FTPD_PORT")->valueint, 21);
    assert_true(cJSON_IsTrue(get(j, "settings.boot.REMOTE_EVAL_ENABLE")));
    assert_int_equal(get(j, "settings.boot.REMOTE_EVAL_PORT")->valueint, 1139);
    // only what discovery needs leaves the node (issue 10): not the beacon's own targets,
    // not what else the config holds under boot
    assert_null(get(j, "settings.boot.BEACON_DESTINATION_IPS"));
    assert_null(get(j, "settings.boot.NETWORK_SET_LOCAL_LINK_IP"));
    assert_int_equal(cJSON_GetArraySize(get(j, "settings.boot")), 8);
    assert_int_equal(cJSON_GetArraySize(get(j, "settings.board")), 5);
    assert_true(cJSON_IsNull(get(j, "versions.app")));
    assert_string_equal(get(j, "versions.boot")->valuestring, "0.1.0");
    static const char *const uname[] = {"sysname", "nodename", "release", "version", "machine"};
    for (int k = 0; k < 5; k++) {
        char p[64];
        snprintf(p, sizeof p, "versions.micropython.%s", uname[k]);
        assert_true(cJSON_IsString(get(j, p)));
    }
    // ours
    assert_int_equal(get(j, "swarm.v")->valueint, 1);
    assert_string_equal(get(j, "swarm.id")->valuestring, "0123456789abcdef");
    assert_int_equal(get(j, "swarm.rpc_port")->valueint, 27587);
    assert_string_equal(get(j, "swarm.app_hash")->valuestring, bi.app_hash);
    assert_true(strstr(buf, "\"uptime_ms\":123456789012,") != NULL); // exact, beyond 32 bits
    assert_int_equal(get(j, "swarm.services.ftp")->valueint, 21);
    assert_true(cJSON_IsFalse(get(j, "swarm.services.telnet")));
    assert_int_equal(get(j, "swarm.services.eval")->valueint, 1139);
    assert_true(cJSON_IsTrue(get(j, "swarm.services.mdns")));
    assert_int_equal(get(j, "swarm.services.rpc")->valueint, 27587);
    cJSON_Delete(j);

    // absent optional facts
    bi.app_hash = NULL;
    bi.boot_version = NULL;
    bi.app_version = "2.1";
    bi.rpc_port = 0;
    bi.board.n = 0;
    bi.n_ifs = 0;
    n = sw_beacon_write(buf, sizeof buf, &bi, NULL);
    assert_true(n > 0);
    j = cJSON_Parse(buf);
    assert_true(cJSON_IsNull(get(j, "swarm.app_hash")));
    assert_true(cJSON_IsNull(get(j, "versions.boot")));
    assert_string_equal(get(j, "versions.app")->valuestring, "2.1");
    assert_true(cJSON_IsFalse(get(j, "swarm.rpc_port")));
    assert_true(cJSON_IsFalse(get(j, "swarm.services.rpc")));
    assert_int_equal(cJSON_GetArraySize(get(j, "settings.board")), 0);
    assert_int_equal(cJSON_GetArraySize(get(j, "ifconfigs")), 0);
    cJSON_Delete(j);
}

static void test_beacon_golden(void **state)
{
    (void)state;
    uint8_t b[32], t[32];
    sw_mpw_t w;
    sw_mpw_init(&w, b, sizeof b);
    sw_mpw_map(&w, 1), sw_mpw_cstr(&w, "host_name"), sw_mpw_cstr(&w, "n1");
    size_t bn = w.len;
    sw_mpw_init(&w, t, sizeof t);
    sw_mpw_map(&w, 1), sw_mpw_cstr(&w, "FTPD_PORT"), sw_mpw_int(&w, 21);
    sw_beacon_info_t bi = {.ifs = one_if, .n_ifs = 1, .board = {b, bn}, .boot = {t, w.len},
                           .boot_version = "1.0.0", .sysname = "swarm", .nodename = "n1",
                           .release = "0.1.0", .version = "v", .machine = "m", .id = "00ff",
                           .node = "0.1.0", .uptime_ms = 5, .rpc_port = 27587, .ftp_port = 21};
    assert_true(sw_beacon_write(buf, sizeof buf, &bi, NULL) > 0);
    assert_string_equal(buf,
        "{\"type\":\"beacon\",\"ifconfigs\":[[\"169.254.185.17\",\"255.255.0.0\",\"0.0.0.0\",\"0.0.0.0\"]],"
        "\"settings\":{\"board\":{\"host_name\":\"n1\"},\"boot\":{\"FTPD_PORT\":21}},"
        "\"versions\":{\"app\":null,\"boot\":\"1.0.0\",\"micropython\":{\"sysname\":\"swarm\","
        "\"nodename\":\"n1\",\"release\":\"0.1.0\",\"version\":\"v\",\"machine\":\"m\"}},"
        "\"swarm\":{\"v\":1,\"id\":\"00ff\",\"rpc_port\":27587,\"node\":\"0.1.0\",\"app_hash\":null,"
        "\"uptime_ms\":5,\"services\":{\"ftp\":21,\"telnet\":false,\"eval\":false,\"mdns\":false,"
        "\"rpc\":27587}}}");
}

static void test_beacon_fits(void **state)
{
    (void)state;
    // eight interfaces and long names: still one datagram, nothing cut
    sw_netif_t ifs[8];
    for (int i = 0; i < 8; i++) {
        memset(&ifs[i], 0, sizeof ifs[i]);
        snprintf(ifs[i].addr, sizeof ifs[i].addr, "169.254.%d.%d", 100 + i, 200 + i);
        snprintf(ifs[i].netmask, sizeof ifs[i].netmask, "255.255.0.0");
    }
    const char *host = "a-rather-long-device-name-for-a-bench-node-0123456789";
    sw_beacon_info_t bi = info(ifs, 2, host, 0);
    unsigned cut;
    int n = sw_beacon_write(buf, sizeof buf, &bi, &cut);
    assert_true(n > 0 && n <= SW_BEACON_MAX);
    assert_int_equal(cut, 0);
    // all eight with a longer name: over the limit → only the first interface is kept
    const char *host2 = "a-rather-long-device-name-for-a-bench-node-0123456789-and-then-some-more-x";
    bi = info(ifs, 8, host2, 0);
    n = sw_beacon_write(buf, sizeof buf, &bi, &cut);
    assert_true(n > 0 && n <= SW_BEACON_MAX);
    assert_int_equal(cut, SW_BEACON_CUT_IFS);
    cJSON *j = cJSON_Parse(buf);
    assert_int_equal(cJSON_GetArraySize(get(j, "ifconfigs")), 1);
    assert_string_equal(get(j, "ifconfigs.0.0")->valuestring, "169.254.100.200");
    cJSON_Delete(j);
    // a big value a user put under boot is never sent (nothing to cut for it)
    bi.boot.n = boot_map(boot, sizeof boot, 1000);
    n = sw_beacon_write(buf, sizeof buf, &bi, &cut);
    assert_true(n > 0 && n <= SW_BEACON_MAX);
    assert_int_equal(cut, SW_BEACON_CUT_IFS);
    j = cJSON_Parse(buf);
    assert_null(get(j, "settings.boot.NOTES"));
    assert_null(get(j, "settings.boot.BEACON_REPEAT_MS"));
    cJSON_Delete(j);
    // long board names → board cut down to what scanners read
    static char longname[600];
    memset(longname, 'n', sizeof longname - 1);
    bi = info(ifs, 8, host, 0);
    {
        sw_mpw_t w;
        sw_mpw_init(&w, board, sizeof board);
        sw_mpw_map(&w, 5);
        sw_mpw_cstr(&w, "host_name"), sw_mpw_cstr(&w, host);
        sw_mpw_cstr(&w, "app_name"), sw_mpw_cstr(&w, "blink");
        sw_mpw_cstr(&w, "hardware_name"), sw_mpw_cstr(&w, "esp32");
        sw_mpw_cstr(&w, "name"), sw_mpw_cstr(&w, longname);
        sw_mpw_cstr(&w, "device_name"), sw_mpw_cstr(&w, longname);
        assert_int_equal(w.err, 0);
        bi.board.n = w.len;
    }
    n = sw_beacon_write(buf, sizeof buf, &bi, &cut);
    assert_true(n > 0 && n <= SW_BEACON_MAX);
    assert_int_equal(cut, SW_BEACON_CUT_IFS | SW_BEACON_CUT_SETTINGS);
    j = cJSON_Parse(buf);
    assert_null(get(j, "settings.board.name"));
    assert_int_equal(get(j, "settings.boot.FTPD_PORT")->valueint, 21);
    assert_true(cJSON_IsTrue(get(j, "settings.boot.REMOTE_EVAL_ENABLE")));
    assert_string_equal(get(j, "settings.board.host_name")->valuestring, host);
    assert_string_equal(get(j, "settings.board.app_name")->valuestring, "blink");
    cJSON_Delete(j);
    // a host name that cannot fit at all
    static char huge[2000];
    memset(huge, 'h', sizeof huge - 1);
    bi = info(ifs, 1, huge, 0);
    assert_int_equal(sw_beacon_write(buf, sizeof buf, &bi, &cut), SW_EFULL);
    assert_string_equal(buf, "");
    // the cap the caller gives is honoured too (and the NUL)
    bi = info(one_if, 1, "x", 0);
    n = sw_beacon_write(buf, sizeof buf, &bi, NULL);
    assert_int_equal(sw_beacon_write(buf, (size_t)n + 1, &bi, &cut), n);
    assert_int_equal(cut, 0);
    int shorter = sw_beacon_write(buf, (size_t)n, &bi, &cut); // one byte short: cut down
    assert_true(shorter > 0 && shorter < n);
    assert_int_equal(cut, SW_BEACON_CUT_SETTINGS);
    assert_int_equal(sw_beacon_write(buf, 50, &bi, NULL), SW_EFULL);
    // not MsgPack in the config spans
    uint8_t junk[] = {0xc1};
    bi.board = (sw_span_t){junk, 1};
    assert_int_equal(sw_beacon_write(buf, sizeof buf, &bi, NULL), SW_EPROTO);
}

static void test_query(void **state)
{
    (void)state;
    sw_beacon_query_t q = {0, 0};
    static const struct { const char *text; int rc; uint64_t id; } cases[] = {
        {"{\"type\":\"query\",\"v\":1,\"id\":42}", 0, 42},
        {" { \"id\" : 0 , \"v\" : 1 , \"type\" : \"query\" } ", 0, 0},
        {"{\"type\":\"query\",\"v\":2,\"id\":9007199254740991,\"extra\":[1,{\"x\":null}]}", 0,
         9007199254740991ull},
        {"{\"type\":\"que\\u0072y\",\"v\":1,\"id\":5}", 0, 5},
        {"{\"type\":\"query\",\"v\":1,\"id\":5,\"id\":\"later duplicates do not count\"}", 0, 5},
        {"{\"type\":\"beacon\",\"ifconfigs\":[]}", SW_ENOENT, 0},
        {"{\"type\":\"beacon\",garbage after the type", SW_ENOENT, 0},
        {"{\"type\":\"QUERY\",\"v\":1,\"id\":1}", SW_ENOENT, 0},
        {"{\"type\":7,\"v\":1,\"id\":1}", SW_ENOENT, 0},
        {"{\"v\":1,\"id\":1}", SW_ENOENT, 0},
        {"{}", SW_ENOENT, 0},
        {"{\"type\":\"query\",\"v\":1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"id\":1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":0,\"id\":1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":\"1\",\"id\":1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":\"1\"}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":-1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":1.5}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":9007199254740992}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":99999999999999999999}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":4294967296,\"id\":1}", SW_ETYPE, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":1", SW_EPROTO, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":1}x", SW_EPROTO, 0},
        {"[\"type\",\"query\"]", SW_EPROTO, 0},
        {"\"query\"", SW_EPROTO, 0},
        {"", SW_EPROTO, 0},
        {"\x80\x81 garbage", SW_EPROTO, 0},
        {"{\"type\":\"query\",\"v\":1,\"id\":1,\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
         SW_EDEPTH, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(&q, 0xa5, sizeof q);
        int rc = sw_beacon_read_query(cases[i].text, strlen(cases[i].text), &q);
        if (rc != cases[i].rc)
            fail_msg("'%s': %s, want %s", cases[i].text, sw_errname(rc), sw_errname(cases[i].rc));
        if (rc == 0)
            assert_true(q.id == cases[i].id && q.v >= 1);
    }
    // longer than a query can be: not even parsed
    static char big[SW_BEACON_QUERY_MAX + 1];
    int k = snprintf(big, sizeof big, "{\"type\":\"query\",\"v\":1,\"id\":1,\"pad\":\"");
    memset(big + k, 'p', sizeof big - (size_t)k);
    assert_int_equal(sw_beacon_read_query(big, sizeof big, &q), SW_ETOOBIG);
    memcpy(big + sizeof big - 3, "\"}", 2); // the same at exactly the limit is a query
    assert_int_equal(sw_beacon_read_query(big, sizeof big - 1, &q), 0);
    // a beacon is never a query
    sw_beacon_info_t bi = info(one_if, 1, "n", 0);
    int n = sw_beacon_write(buf, sizeof buf, &bi, NULL);
    assert_int_equal(sw_beacon_read_query(buf, (size_t)n, &q), SW_ETOOBIG);
    // written queries read back
    for (uint64_t id = 0; id < (1ull << 53); id = id * 3 + 1) {
        n = sw_beacon_write_query(buf, sizeof buf, id);
        assert_true(n > 0);
        assert_int_equal(sw_beacon_read_query(buf, (size_t)n, &q), 0);
        assert_true(q.id == id && q.v == SW_BEACON_V);
    }
    assert_int_equal(sw_beacon_write_query(buf, sizeof buf, 1ull << 53), SW_ERANGE);
    assert_int_equal(sw_beacon_write_query(buf, 10, 1), SW_EFULL);
    n = sw_beacon_write_query(buf, sizeof buf, 7);
    assert_string_equal(buf, "{\"type\":\"query\",\"v\":1,\"id\":7}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beacon_keys),
        cmocka_unit_test(test_beacon_golden),
        cmocka_unit_test(test_beacon_fits),
        cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
