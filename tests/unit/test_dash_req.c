// The dashboard's request decoder (src/host/dash_req.c): what a page may send, what is refused
// and with which id the refusal is answered; sw_dash_is_loopback (no token needed there).
#include <string.h>

#include "testutil.h"

#include "dash.h"
#include "swarm/sw.h"

static int parse(const char *s, sw_dash_req_t *r)
{
    char err[300] = "";
    int rc = sw_dash_req_parse(s, strlen(s), r, err, sizeof err);
    if (rc)
        assert_true(err[0] != 0); // every refusal says why
    return rc;
}

static void test_call(void **st)
{
    (void)st;
    sw_dash_req_t r;
    assert_int_equal(parse("{\"id\": 7, \"op\": \"call\", \"node\": \"tcp://1.2.3.4:27587\", "
                           "\"path\": \"sys.info\", \"args\": {\"a\": 1}, \"every\": 500}", &r), 0);
    assert_int_equal(r.op, SW_DASH_OP_CALL);
    assert_int_equal(r.id, 7);
    assert_string_equal(r.node, "tcp://1.2.3.4:27587");
    assert_string_equal(r.path, "sys.info");
    assert_int_equal(r.every_ms, 500);
    assert_non_null(r.args);
    assert_true(cJSON_IsObject(r.args));
    sw_dash_req_free(&r);
    // args null and every absent: none, no stream
    assert_int_equal(parse("{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"_dir\",\"args\":null}", &r), 0);
    assert_null(r.args);
    assert_int_equal(r.every_ms, 0);
    sw_dash_req_free(&r);
    // the largest id a JavaScript number holds exactly
    assert_int_equal(parse("{\"id\":9007199254740992,\"op\":\"fleet\"}", &r), 0);
    assert_int_equal(r.id, 9007199254740992ll);
    sw_dash_req_free(&r);
}

static void test_push_cancel(void **st)
{
    (void)st;
    sw_dash_req_t r;
    assert_int_equal(parse("{\"id\":2,\"op\":\"push\",\"project\":\"proj\",\"nodes\":[\"a\",\"b\"],"
                           "\"dry_run\":true,\"canary\":1,\"max_failures\":3,\"parallel\":2}", &r), 0);
    assert_int_equal(r.op, SW_DASH_OP_PUSH);
    assert_string_equal(r.project, "proj");
    assert_int_equal(cJSON_GetArraySize(r.nodes), 2);
    assert_true(r.dry_run);
    assert_int_equal(r.canary, 1);
    assert_int_equal(r.max_failures, 3);
    assert_int_equal(r.parallel, 2);
    sw_dash_req_free(&r);
    assert_int_equal(parse("{\"id\":3,\"op\":\"cancel\",\"ref\":2}", &r), 0);
    assert_int_equal(r.op, SW_DASH_OP_CANCEL);
    assert_int_equal(r.ref, 2);
    sw_dash_req_free(&r);
}

static void test_refused(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "", "{", "[]", "null", "\"x\"", "{}", "{\"op\":\"fleet\"}", "{\"id\":-1,\"op\":\"fleet\"}",
        "{\"id\":1.5,\"op\":\"fleet\"}", "{\"id\":9007199254740993e3,\"op\":\"fleet\"}",
        "{\"id\":\"1\",\"op\":\"fleet\"}", "{\"id\":1,\"op\":\"rm\"}", "{\"id\":1,\"op\":1}",
        "{\"id\":1,\"op\":\"fleet\"} x", "{\"id\":1,\"op\":\"fleet\"}{}",
        "{\"id\":1,\"op\":\"call\",\"path\":\"ping\"}",                        // no node
        "{\"id\":1,\"op\":\"call\",\"node\":\"\",\"path\":\"ping\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"a\\nb\",\"path\":\"ping\"}",     // control byte
        "{\"id\":1,\"op\":\"call\",\"node\":\"a\\\"b\",\"path\":\"ping\"}",    // quote
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\"}",                            // no path
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\".a\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"a.\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"a..b\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"a/b\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"a b\"}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"p\",\"every\":-1}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"p\",\"every\":3600001}",
        "{\"id\":1,\"op\":\"call\",\"node\":\"n\",\"path\":\"p\",\"every\":\"5\"}",
        "{\"id\":1,\"op\":\"cancel\"}", "{\"id\":1,\"op\":\"cancel\",\"ref\":-2}",
        "{\"id\":1,\"op\":\"push\"}", "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"nodes\":\"a\"}",
        "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"nodes\":[1]}",
        "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"dry_run\":1}",
        "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"canary\":-1}",
        "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"max_failures\":0.5}",
        "{\"id\":1,\"op\":\"push\",\"project\":\"p\",\"parallel\":1025}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sw_dash_req_t r;
        if (parse(bad[i], &r) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_null(r.root);
    }
    // the refusal carries the request's id once it was read, so the page can match it
    sw_dash_req_t r;
    assert_int_equal(parse("{\"id\":5,\"op\":\"nope\"}", &r), SW_EINVAL);
    assert_int_equal(r.id, 5);
    assert_int_equal(parse("{\"op\":\"fleet\"}", &r), SW_EINVAL);
    assert_int_equal(r.id, -1);
    // a node key of the longest size passes, one byte more does not
    char big[400];
    char key[SW_DASH_KEY_MAX + 1];
    memset(key, 'k', sizeof key);
    key[SW_DASH_KEY_MAX] = 0; // SW_DASH_KEY_MAX characters: no room for the NUL
    snprintf(big, sizeof big, "{\"id\":1,\"op\":\"call\",\"node\":\"%s\",\"path\":\"p\"}", key);
    assert_int_equal(parse(big, &r), SW_EINVAL);
    key[SW_DASH_KEY_MAX - 1] = 0;
    snprintf(big, sizeof big, "{\"id\":1,\"op\":\"call\",\"node\":\"%s\",\"path\":\"p\"}", key);
    assert_int_equal(parse(big, &r), 0);
    sw_dash_req_free(&r);
}

static void test_too_large(void **st)
{
    (void)st;
    size_t n = SW_DASH_REQ_MAX + 1;
    char *p = malloc(n);
    assert_non_null(p);
    memset(p, ' ', n);
    memcpy(p, "{\"id\":1,\"op\":\"fleet\"}", 21);
    sw_dash_req_t r;
    char err[100];
    assert_int_equal(sw_dash_req_parse(p, n, &r, err, sizeof err), SW_ETOOBIG);
    assert_int_equal(sw_dash_req_parse(p, n - 1, &r, err, sizeof err), 0); // blanks after are fine
    sw_dash_req_free(&r);
    assert_int_equal(sw_dash_req_parse(NULL, 0, &r, err, sizeof err), SW_EINVAL);
    free(p);
}

static void test_loopback(void **st)
{
    (void)st;
    assert_true(sw_dash_is_loopback("127.0.0.1"));
    assert_true(sw_dash_is_loopback("127.1.2.3"));
    assert_true(sw_dash_is_loopback("::1"));
    assert_true(sw_dash_is_loopback("localhost"));
    assert_false(sw_dash_is_loopback("0.0.0.0"));
    assert_false(sw_dash_is_loopback("::"));
    assert_false(sw_dash_is_loopback("192.168.1.2"));
    assert_false(sw_dash_is_loopback("localhost.evil.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call),      cmocka_unit_test(test_push_cancel),
        cmocka_unit_test(test_refused),   cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
