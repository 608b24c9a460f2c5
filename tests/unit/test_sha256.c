// swarm/sha256.h against the known answers of FIPS 180-2, fed whole and in awkward pieces (one
// byte, across block edges). Built twice (tests/tests.cmake): test_sha256 on libcrypto, as the
// POSIX node and host hash files, and test_sha256_mbedtls on the inline mbedTLS the firmware uses.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "swarm/sha256.h"

static void hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

// The digest of data[0..n), handed over in pieces of the given sizes, cycling (0: whole).
static void digest(const void *data, size_t n, const size_t *pieces, size_t np, char out[65])
{
    sw_sha256_t s;
    uint8_t d[32];
    assert_int_equal(sw_sha256_begin(&s), 0);
    const uint8_t *p = data;
    for (size_t off = 0, i = 0; off < n; i++) {
        size_t k = np ? pieces[i % np] : n;
        if (k > n - off)
            k = n - off;
        assert_int_equal(sw_sha256_update(&s, p + off, k), 0);
        off += k;
    }
    assert_int_equal(sw_sha256_end(&s, d), 0);
    hex(d, out);
}

static const struct {
    const char *in;
    const char *sha;
} vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_vectors(void **state)
{
    (void)state;
    static const size_t odd[] = {1, 7, 63, 64, 65};
    char got[65];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        digest(vectors[i].in, strlen(vectors[i].in), NULL, 0, got);
        assert_string_equal(got, vectors[i].sha);
        digest(vectors[i].in, strlen(vectors[i].in), odd, 5, got);
        assert_string_equal(got, vectors[i].sha);
    }
}

// A million 'a' (FIPS 180-2's long message): whole, one byte at a time, and in the node's and
// the host's read sizes.
static void test_million(void **state)
{
    (void)state;
    enum { N = 1000000 };
    char *a = malloc(N);
    assert_non_null(a);
    memset(a, 'a', N);
    static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    static const size_t one[] = {1}, reads[] = {512, 4096, 65536, 1000};
    char got[65];
    digest(a, N, NULL, 0, got);
    assert_string_equal(got, want);
    digest(a, N, one, 1, got);
    assert_string_equal(got, want);
    digest(a, N, reads, 4, got);
    assert_string_equal(got, want);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
