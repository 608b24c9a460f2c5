// Host side of discovery: beacons into scan records (micro-swarm's source-address rule, its
// settings for micro-swarm devices, ours for swarm nodes), and the mDNS response reader used for
// NAME.local (compression, bounds, malformed input).
#include "testutil.h"
#include "scan.h"
#include "swarm/sw.h"

// The beacon of spec/micro-swarm-wire.md §1, as MicroPython's json.dumps writes it.
static const char micro_swarm[] =
    "{\"type\": \"beacon\", \"ifconfigs\": [[\"169.254.185.17\", \"255.255.0.0\", \"127.0.0.2\", \"127.0.0.2\"]], "
    "\"settings\": {\"board\": {\"app_name\": \"example\", \"device_name\": \"example-device\", "
    "\"hardware_name\": \"wesp32\", \"host_name\": \"example-device\", \"name\": \"example-device\"}, "
    "\"boot\": {\"BEACON_DESTINATION_IPS\": [\"255.255.255.255\"], \"BEACON_DESTINATION_PORT\": 1139, "
    "\"BEACON_ENABLE\": true, \"BEACON_REPEAT_MS\": 2000, \"FTPD_ENABLE\": true, \"FTPD_PORT\": 21, "
    "\"MDNS_ENABLE\": true, \"MDNS_POLL_MS\": 500, \"NETWORK_SET_LOCAL_LINK_IP\": true, "
    "\"REMOTE_EVAL_ENABLE\": true, \"REMOTE_EVAL_PORT\": 1139, \"TELNET_ENABLE\": false, "
    "\"TELNET_PORT\": 23, \"VERSION\": \"1.0.0\"}}, "
    "\"versions\": {\"app\": null, \"boot\": \"1.0.0\", \"micropython\": {\"machine\": \"x\", "
    "\"nodename\": \"esp32\", \"release\": \"1.19.1\", \"sysname\": \"esp32\", \"version\": \"v\"}}}";

static const char ours[] =
    "{\"type\":\"beacon\",\"ifconfigs\":[[\"169.254.1.2\",\"255.255.0.0\",\"0.0.0.0\",\"0.0.0.0\"],"
    "[\"127.0.0.1\",\"255.0.0.0\",\"0.0.0.0\",\"0.0.0.0\"]],\"settings\":{\"board\":{\"host_name\":\"n7\","
    "\"app_name\":\"blink\",\"hardware_name\":\"posix-sim\"},\"boot\":{\"FTPD_ENABLE\":true,\"FTPD_PORT\":2121}},"
    "\"versions\":{\"app\":null,\"boot\":\"0.1.0\"},\"swarm\":{\"v\":1,\"id\":\"00112233aabbccdd\","
    "\"rpc_port\":27600,\"node\":\"0.1.0\",\"app_hash\":\"ab12\",\"uptime_ms\":90061000,\"services\":"
    "{\"ftp\":21,\"telnet\":false,\"eval\":1139,\"mdns\":true,\"rpc\":27600}}}";

static void test_parse(void **state)
{
    (void)state;
    sw_scan_rec_t r;
    assert_int_equal(sw_scan_parse("169.254.185.17", micro_swarm, strlen(micro_swarm), &r), 0);
    assert_string_equal(r.host, "example-device");
    assert_string_equal(r.ip, "169.254.185.17");
    assert_string_equal(r.netmask, "255.255.0.0");
    assert_string_equal(r.app, "example");
    assert_string_equal(r.board, "wesp32");
    assert_false(r.swarm);
    assert_false(r.has_uptime);
    assert_string_equal(r.id, "");
    assert_int_equal(r.rpc_port, 0);
    assert_int_equal(r.ftp_port, 21); // from settings.boot
    assert_int_equal(r.eval_port, 1139);
    assert_int_equal(r.telnet_port, 0); // TELNET_ENABLE false
    assert_true(r.mdns);
    // a beacon speaks only for the address it came from
    assert_int_equal(sw_scan_parse("169.254.185.18", micro_swarm, strlen(micro_swarm), &r), SW_ENOENT);

    assert_int_equal(sw_scan_parse("127.0.0.1", ours, strlen(ours), &r), 0);
    assert_string_equal(r.netmask, "255.0.0.0");
    assert_true(r.swarm);
    assert_string_equal(r.id, "00112233aabbccdd");
    assert_string_equal(r.app_hash, "ab12");
    assert_true(r.has_uptime);
    assert_true(r.uptime_ms == 90061000);
    assert_int_equal(r.rpc_port, 27600);
    assert_int_equal(r.ftp_port, 21); // swarm.services wins over settings.boot
    assert_int_equal(r.telnet_port, 0);
    assert_int_equal(r.eval_port, 1139);

    static const char *const not_beacons[] = {
        "", "garbage", "[]", "{}", "{\"ifconfigs\":{}}", "{\"type\":\"query\",\"v\":1,\"id\":1}",
        "{\"type\":\"query\",\"ifconfigs\":[[\"1.2.3.4\"]]}", "{\"ifconfigs\":[[\"1.2.3.4\"]]",
    };
    for (size_t i = 0; i < sizeof not_beacons / sizeof *not_beacons; i++)
        assert_int_equal(sw_scan_parse("1.2.3.4", not_beacons[i], strlen(not_beacons[i]), &r), SW_EPROTO);
    // odd but matching: missing or wrongly typed fields stay empty, never a crash
    static const char *const odd[] = {
        "{\"ifconfigs\":[[\"1.2.3.4\"]]}",
        "{\"ifconfigs\":[7,[],[\"1.2.3.4\",5]],\"settings\":7,\"swarm\":{\"services\":[],\"uptime_ms\":-4,"
        "\"rpc_port\":70000,\"id\":5}}",
        "{\"ifconfigs\":[[\"1.2.3.4\"]],\"settings\":{\"board\":{\"host_name\":[1]},\"boot\":{\"FTPD_ENABLE\":\"\","
        "\"REMOTE_EVAL_ENABLE\":1,\"REMOTE_EVAL_PORT\":1.5,\"TELNET_ENABLE\":[0]}}}",
    };
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        assert_int_equal(sw_scan_parse("1.2.3.4", odd[i], strlen(odd[i]), &r), 0);
        assert_string_equal(r.host, "");
        assert_int_equal(r.rpc_port, 0);
        assert_false(r.has_uptime);
    }
    assert_int_equal(r.ftp_port, 0);     // "" is false in Python
    assert_int_equal(r.eval_port, 0);    // 1.5 is no port
    assert_int_equal(r.telnet_port, 23); // a non-empty list is true in Python; default port
}

///////////////////////////////////////////////////////////////////////////////////////////////
// mDNS responses

static size_t put_name(uint8_t *p, const char *name)
{
    size_t k = 0;
    while (*name) {
        size_t l = strcspn(name, ".");
        p[k++] = (uint8_t)l;
        memcpy(p + k, name, l);
        k += l;
        name += l + (name[l] == '.');
    }
    p[k++] = 0;
    return k;
}

// A response: the question (if q), a TXT record for other.local, then an A record whose name
// is a pointer to the question's name (or written out).
static size_t response(uint8_t *p, bool q, bool ptr)
{
    memset(p, 0, 12);
    p[2] = 0x84; // QR, AA
    p[5] = q ? 1 : 0;
    p[7] = 2; // ANCOUNT
    size_t k = 12;
    if (q) {
        k += put_name(p + k, "Node-7.local");
        p[k++] = 0, p[k++] = 1, p[k++] = 0, p[k++] = 1;
    }
    k += put_name(p + k, "other.local");
    uint8_t txt[] = {0, 16, 0x80, 1, 0, 0, 0, 120, 0, 3, 2, 'h', 'i'};
    memcpy(p + k, txt, sizeof txt);
    k += sizeof txt;
    if (q && ptr) {
        p[k++] = 0xc0, p[k++] = 12;
    } else {
        k += put_name(p + k, "node-7.LOCAL");
    }
    uint8_t a[] = {0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 169, 254, 7, 9};
    memcpy(p + k, a, sizeof a);
    return k + sizeof a;
}

static void test_mdns_answer(void **state)
{
    (void)state;
    uint8_t p[512];
    char ip[16];
    for (int v = 0; v < 3; v++) {
        size_t n = response(p, v > 0, v == 2);
        memset(ip, 0, sizeof ip);
        assert_int_equal(sw_scan_mdns_answer(p, n, "node-7.local", ip, sizeof ip), 0);
        assert_string_equal(ip, "169.254.7.9");
        assert_int_equal(sw_scan_mdns_answer(p, n, "node-8.local", ip, sizeof ip), SW_ENOENT);
        for (size_t cut = 0; cut < n; cut++) // every truncation is refused, never read past
            assert_int_not_equal(sw_scan_mdns_answer(p, cut, "node-7.local", ip, sizeof ip), 0);
    }
    size_t n = response(p, true, true);
    p[2] = 0; // a query, not a response
    assert_int_equal(sw_scan_mdns_answer(p, n, "node-7.local", ip, sizeof ip), SW_EPROTO);
    // a pointer loop
    uint8_t loop[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
    assert_int_equal(sw_scan_mdns_answer(loop, sizeof loop, "x.local", ip, sizeof ip), SW_EPROTO);
    // random mutations of a valid response: no crash, no out-of-bounds read (ASan)
    tu_rng_t rng = {0x6d646e73ull};
    for (int round = 0; round < 200000; round++) {
        n = response(p, tu_below(&rng, 2), tu_below(&rng, 2));
        for (uint32_t k = 1 + tu_below(&rng, 3); k > 0; k--)
            p[tu_below(&rng, (uint32_t)n)] = (uint8_t)tu_next(&rng);
        static uint8_t copy[512];
        size_t len = tu_below(&rng, (uint32_t)n + 1);
        memcpy(copy, p, len); // exactly len bytes, so ASan sees any read past them
        uint8_t *heap = malloc(len ? len : 1);
        memcpy(heap, copy, len);
        int rc = sw_scan_mdns_answer(heap, len, "node-7.local", ip, sizeof ip);
        assert_true(rc == 0 || rc == SW_ENOENT || rc == SW_EPROTO);
        free(heap);
    }
}

// Names sort naturally: digit runs by value (node2 before node10), the rest byte by byte.
static void test_name_order(void **state)
{
    (void)state;
    const char *sorted[] = {"lab-2", "lab-10", "node", "node1", "node01", "node2", "node9",
                            "node10", "node10a", "node10b", "node100", "nodea"};
    size_t n = sizeof sorted / sizeof sorted[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = sw_name_cmp(sorted[i], sorted[j]);
            if (i < j)
                assert_true(c < 0);
            else if (i > j)
                assert_true(c > 0);
            else
                assert_int_equal(c, 0);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_mdns_answer),
        cmocka_unit_test(test_name_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
