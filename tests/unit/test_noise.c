// Noise NNpsk0 (src/auth/noise.c) and the secure session on a byte stream (src/auth/seclink.c):
// a known-answer vector computed by an independent implementation (tests/e2e/noise_ref.py on
// python3-cryptography), handshakes in both roles, a wrong key failing with SW_EAUTH on both
// sides, and every way a frame can be tampered with (bit flip, replay, reorder, drop,
// truncation, length change) refused without delivering a byte.
#include "testutil.h"

#include "swarm/noise.h"
#include "swarm/seclink.h"
#include "swarm/sw.h"

static void seq(uint8_t *p, uint8_t from)
{
    for (int i = 0; i < 32; i++)
        p[i] = (uint8_t)(from + i);
}

static void handshake(sw_noise_t *i, sw_noise_t *r, const uint8_t *psk_i, const uint8_t *psk_r)
{
    uint8_t si[32], sr[32], m[SW_NOISE_HS_LEN];
    seq(si, 0x20);
    seq(sr, 0x40);
    assert_int_equal(sw_noise_init(i, true, psk_i, si), 0);
    assert_int_equal(sw_noise_init(r, false, psk_r, sr), 0);
    assert_int_equal(sw_noise_write_hs(i, m), 0);
    if (sw_noise_read_hs(r, m, sizeof m))
        return;
    assert_int_equal(sw_noise_write_hs(r, m), 0);
    assert_int_equal(sw_noise_read_hs(i, m, sizeof m), 0);
}

// Vector: psk 00..1f, initiator seed 20..3f, responder seed 40..5f (noise_ref.py prints it).
static void test_vector(void **st)
{
    (void)st;
    uint8_t psk[32], si[32], sr[32], m[SW_NOISE_HS_LEN], f[64];
    sw_noise_t i, r;
    seq(psk, 0);
    seq(si, 0x20);
    seq(sr, 0x40);
    sw_noise_init(&i, true, psk, si);
    sw_noise_init(&r, false, psk, sr);
    assert_int_equal(sw_noise_write_hs(&i, m), 0);
    tu_assert_bytes(m, sizeof m, "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
                                 "0c27d948d3bfe291870f6f60ce501a1a");
    assert_int_equal(sw_noise_read_hs(&r, m, sizeof m), 0);
    assert_int_equal(sw_noise_write_hs(&r, m), 0);
    tu_assert_bytes(m, sizeof m, "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
                                 "c7bcad7963f777e0a8f661d4c329700a");
    assert_int_equal(sw_noise_read_hs(&i, m, sizeof m), 0);
    assert_true(sw_noise_ready(&i) && sw_noise_ready(&r));
    tu_assert_bytes(sw_noise_hash(&i), 32, "d45dd21efbe613bf87fc3e3b262f2da996949cd88eaa068775a21080f56b5d14");
    assert_memory_equal(sw_noise_hash(&i), sw_noise_hash(&r), 32);
    assert_int_equal(sw_noise_encrypt(&i, (const uint8_t *)"hello", 5, f), 0);
    tu_assert_bytes(f, 5 + 16, "c7d88cc3431cda44624fa86f6d5bf97f6a0cfab752");
    uint8_t out[64];
    assert_int_equal(sw_noise_decrypt(&r, f, 21, out), 0);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(sw_noise_encrypt(&r, (const uint8_t *)"world!", 6, f), 0);
    tu_assert_bytes(f, 6 + 16, "f26df76086470ff04bde4441da97cb1c2d2dbc059144");
}

static void test_wrong_key(void **st)
{
    (void)st;
    uint8_t a[32], b[32];
    seq(a, 0);
    seq(b, 0);
    b[7] ^= 1;
    sw_noise_t i, r;
    uint8_t si[32], sr[32], m[SW_NOISE_HS_LEN];
    seq(si, 0x20);
    seq(sr, 0x40);
    sw_noise_init(&i, true, a, si);
    sw_noise_init(&r, false, b, sr);
    assert_int_equal(sw_noise_write_hs(&i, m), 0);
    assert_int_equal(sw_noise_read_hs(&r, m, sizeof m), SW_EAUTH);
    assert_false(sw_noise_ready(&r));
    assert_int_equal(sw_noise_write_hs(&r, m), SW_EINVAL); // a failed responder says nothing more
    // wrong length, out of turn
    sw_noise_init(&r, false, a, sr);
    assert_int_equal(sw_noise_read_hs(&r, m, sizeof m - 1), SW_EPROTO);
    assert_int_equal(sw_noise_write_hs(&r, m), SW_EINVAL);
}

static void test_transport(void **st)
{
    (void)st;
    uint8_t psk[32];
    seq(psk, 9);
    sw_noise_t i, r;
    handshake(&i, &r, psk, psk);
    assert_true(sw_noise_ready(&i) && sw_noise_ready(&r));

    uint8_t f[4][64], out[64];
    const char *txt[4] = {"one", "two", "three", "four"};
    for (int k = 0; k < 4; k++)
        assert_int_equal(sw_noise_encrypt(&i, (const uint8_t *)txt[k], strlen(txt[k]), f[k]), 0);
    assert_int_equal(sw_noise_decrypt(&r, f[0], 3 + 16, out), 0);
    assert_memory_equal(out, "one", 3);

    // replay of frame 0: refused, and the session is over
    sw_noise_t r2 = r;
    assert_int_equal(sw_noise_decrypt(&r2, f[0], 3 + 16, out), SW_EAUTH);
    assert_int_equal(sw_noise_decrypt(&r2, f[1], 3 + 16, out), SW_EINVAL);
    // reorder / drop: frame 2 where 1 is due
    r2 = r;
    assert_int_equal(sw_noise_decrypt(&r2, f[2], 5 + 16, out), SW_EAUTH);
    // a flipped bit anywhere (ciphertext or tag)
    for (size_t bit = 0; bit < (3 + 16) * 8; bit += 5) {
        uint8_t g[64];
        memcpy(g, f[1], 3 + 16);
        g[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        r2 = r;
        assert_int_equal(sw_noise_decrypt(&r2, g, 3 + 16, out), SW_EAUTH);
    }
    // truncated: one byte short, only a tag, nothing
    r2 = r;
    assert_int_equal(sw_noise_decrypt(&r2, f[1], 3 + 15, out), SW_EAUTH);
    r2 = r;
    assert_int_equal(sw_noise_decrypt(&r2, f[1], 16, out), SW_EPROTO);
    // the other direction's key does not open it (reflection)
    uint8_t g[64];
    assert_int_equal(sw_noise_encrypt(&r, (const uint8_t *)"x", 1, g), 0);
    sw_noise_t r3 = r;
    assert_int_equal(sw_noise_decrypt(&r3, g, 17, out), SW_EAUTH);
    // the intact stream still goes on
    assert_int_equal(sw_noise_decrypt(&r, f[1], 3 + 16, out), 0);
    assert_memory_equal(out, "two", 3);
    assert_int_equal(sw_noise_decrypt(&i, g, 17, out), 0);
    assert_int_equal(out[0], 'x');
    // size bounds
    static uint8_t big[SW_NOISE_FRAME_MAX + 16];
    assert_int_equal(sw_noise_encrypt(&i, big, SW_NOISE_FRAME_PAYLOAD + 1, big), SW_ETOOBIG);
    assert_int_equal(sw_noise_encrypt(&i, big, SW_NOISE_FRAME_PAYLOAD, big), 0);
    assert_int_equal(sw_noise_decrypt(&r, big, SW_NOISE_FRAME_MAX + 1, big), SW_EPROTO);
    sw_noise_wipe(&i);
}

static void test_rx_frames(void **st)
{
    (void)st;
    uint8_t buf[8];
    sw_noise_rx_t rx;
    sw_noise_rx_init(&rx, buf, sizeof buf);
    const uint8_t in[] = {0, 3, 'a', 'b', 'c', 0, 1, 'z'};
    const uint8_t *b;
    size_t len, used;
    int got = 0;
    for (size_t k = 0; k < sizeof in; k++) { // byte at a time
        int rc = sw_noise_rx_feed(&rx, in + k, 1, &used, &b, &len);
        assert_int_equal(used, 1);
        if (rc == 1) {
            got++;
            if (got == 1)
                assert_true(len == 3 && !memcmp(b, "abc", 3));
            else
                assert_true(len == 1 && b[0] == 'z');
        }
    }
    assert_int_equal(got, 2);
    const uint8_t big[] = {0, 9};
    assert_int_equal(sw_noise_rx_feed(&rx, big, 2, &used, &b, &len), SW_ETOOBIG);
    sw_noise_rx_init(&rx, buf, sizeof buf);
    const uint8_t zero[] = {0, 0};
    assert_int_equal(sw_noise_rx_feed(&rx, zero, 2, &used, &b, &len), SW_EPROTO);
}

///////////////////////////////////////////////////////////////////////////////////////////////
// Two seclinks wired back to back through byte queues

typedef struct end {
    sw_seclink_t s;
    uint8_t wire[1 << 16]; // what this end sent
    size_t wn;
    uint8_t plain[1 << 16]; // what it received
    size_t pn;
    int ups;
} end_t;

static int e_send(void *ctx, const uint8_t *p, size_t n)
{
    end_t *e = ctx;
    assert_true(e->wn + n <= sizeof e->wire);
    memcpy(e->wire + e->wn, p, n);
    e->wn += n;
    return 0;
}
static void e_plain(void *ctx, const uint8_t *p, size_t n)
{
    end_t *e = ctx;
    assert_true(e->pn + n <= sizeof e->plain);
    memcpy(e->plain + e->pn, p, n);
    e->pn += n;
}
static void e_up(void *ctx) { ((end_t *)ctx)->ups++; }

static end_t A, B; // A initiator (host), B responder (node)

// Moves what `from` sent into `to`, in chunks of `chunk`; returns to's result.
static int pump(end_t *from, end_t *to, size_t chunk)
{
    int rc = 0;
    for (size_t at = 0; at < from->wn && !rc; at += chunk)
        rc = sw_seclink_input(&to->s, from->wire + at, from->wn - at < chunk ? from->wn - at : chunk);
    from->wn = 0;
    return rc;
}

static void start_pair(const uint8_t *ka, const uint8_t *kb)
{
    uint8_t sa[32], sb[32];
    seq(sa, 0x61);
    seq(sb, 0x91);
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    sw_seclink_io_t ia = {e_send, e_plain, e_up, &A}, ib = {e_send, e_plain, e_up, &B};
    assert_int_equal(sw_seclink_start(&A.s, true, ka, sa, &ia), 0);
    assert_int_equal(sw_seclink_start(&B.s, false, kb, sb, &ib), 0);
    assert_int_equal(B.wn, 0); // the responder waits for the initiator
    assert_int_equal(A.wn, SW_NOISE_PREAMBLE_LEN + 2 + SW_NOISE_HS_LEN);
}

static void test_seclink(void **st)
{
    (void)st;
    uint8_t k[32];
    seq(k, 3);
    start_pair(k, k);
    assert_int_equal(pump(&A, &B, 1), 0); // byte at a time
    assert_int_equal(B.ups, 1);
    assert_int_equal(pump(&B, &A, 7), 0);
    assert_int_equal(A.ups, 1);
    assert_true(sw_seclink_ready(&A.s) && sw_seclink_ready(&B.s));

    // a message larger than one frame, both ways
    static uint8_t msg[5000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    assert_int_equal(sw_seclink_write(&A.s, msg, sizeof msg), 0);
    assert_int_equal(A.wn, sizeof msg + 3 * (2 + 16)); // three frames
    for (size_t at = 0; at + 16 <= A.wn; at++) // no plaintext on the wire
        assert_true(memcmp(A.wire + at, msg + 100, 16) != 0);
    assert_int_equal(pump(&A, &B, 1000), 0);
    assert_int_equal(B.pn, sizeof msg);
    assert_memory_equal(B.plain, msg, sizeof msg);
    assert_int_equal(sw_seclink_write(&B.s, (const uint8_t *)"ok", 2), 0);
    assert_int_equal(pump(&B, &A, 3), 0);
    assert_true(A.pn == 2 && !memcmp(A.plain, "ok", 2));

    // a replay of the first frame of a session already used: refused, nothing delivered
    assert_int_equal(sw_seclink_write(&A.s, (const uint8_t *)"abc", 3), 0);
    uint8_t cap[64];
    size_t capn = A.wn;
    memcpy(cap, A.wire, capn);
    assert_int_equal(pump(&A, &B, 64), 0);
    size_t before = B.pn;
    assert_int_equal(sw_seclink_input(&B.s, cap, capn), SW_EAUTH);
    assert_int_equal(B.pn, before);
    assert_int_equal(sw_seclink_input(&B.s, cap, capn), SW_EAUTH); // sticky
}

#if SW_SECLINK_COALESCE
// Corked writes gather into one frame, sealed at the flush; a full frame still goes at once;
// the peer reads the same stream as from separate frames.
static void test_seclink_coalesce(void **st)
{
    (void)st;
    uint8_t k[32];
    seq(k, 4);
    start_pair(k, k);
    assert_int_equal(pump(&A, &B, 64), 0);
    assert_int_equal(pump(&B, &A, 64), 0);
    assert_true(sw_seclink_ready(&B.s));
    sw_seclink_cork(&B.s);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sw_seclink_write(&B.s, (const uint8_t *)"reply", 5), 0);
    assert_int_equal(B.wn, 0); // nothing yet
    assert_int_equal(sw_seclink_held(&B.s), 15 + 2 + 16);
    assert_int_equal(sw_seclink_flush(&B.s), 0);
    assert_int_equal(B.wn, 15 + 2 + 16); // one frame: one header, one tag
    assert_int_equal(sw_seclink_held(&B.s), 0);
    assert_int_equal(pump(&B, &A, 5), 0);
    assert_true(A.pn == 15 && !memcmp(A.plain, "replyreplyreply", 15));
    // more than a frame while corked: the full frame goes, the rest waits for the flush
    static uint8_t big[SW_NOISE_FRAME_PAYLOAD + 100];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    sw_seclink_cork(&B.s);
    assert_int_equal(sw_seclink_write(&B.s, big, 60), 0);
    assert_int_equal(sw_seclink_write(&B.s, big + 60, sizeof big - 60), 0);
    assert_int_equal(B.wn, SW_NOISE_FRAME_PAYLOAD + 2 + 16);
    assert_int_equal(sw_seclink_flush(&B.s), 0);
    assert_int_equal(B.wn, sizeof big + 2 * (2 + 16));
    assert_int_equal(sw_seclink_flush(&B.s), 0); // nothing held: nothing sent
    assert_int_equal(B.wn, sizeof big + 2 * (2 + 16));
    A.pn = 0;
    assert_int_equal(pump(&B, &A, 333), 0);
    assert_int_equal(A.pn, sizeof big);
    assert_memory_equal(A.plain, big, sizeof big);
    // not corked (after a flush): each write is its own frame, as before
    assert_int_equal(sw_seclink_write(&B.s, (const uint8_t *)"x", 1), 0);
    assert_int_equal(B.wn, 1 + 2 + 16);
}
#endif

static void test_seclink_wrong_key(void **st)
{
    (void)st;
    uint8_t ka[32], kb[32];
    seq(ka, 3);
    seq(kb, 4);
    start_pair(ka, kb);
    assert_int_equal(pump(&A, &B, 64), SW_EAUTH);
    assert_int_equal(B.ups, 0);
    assert_int_equal(B.wn, 3); // the reject frame
    assert_int_equal(pump(&B, &A, 64), SW_EAUTH);
    assert_int_equal(A.s.reject, SW_NOISE_REJECT_AUTH);
    assert_int_equal(A.ups, 0);
}

static void test_seclink_plaintext_refused(void **st)
{
    (void)st;
    uint8_t k[32], sb[32];
    seq(k, 3);
    seq(sb, 1);
    memset(&B, 0, sizeof B);
    sw_seclink_io_t ib = {e_send, e_plain, e_up, &B};
    sw_seclink_start(&B.s, false, k, sb, &ib);
    // a MoaT client's first request: {"a":["sys","info"],"i":1}
    const uint8_t moat[] = {0x82, 0xa1, 'a', 0x92, 0xa3, 's', 'y', 's', 0xa4, 'i', 'n', 'f', 'o', 0xa1, 'i', 1};
    assert_int_equal(sw_seclink_input(&B.s, moat, sizeof moat), SW_EPROTO);
    assert_int_equal(B.pn, 0);
    assert_int_equal(B.ups, 0);
    // preamble, then a frame that is not a handshake message
    start_pair(k, k);
    A.wn = SW_NOISE_PREAMBLE_LEN + 2;
    A.wire[SW_NOISE_PREAMBLE_LEN + 1] = 5;
    memcpy(A.wire + A.wn, "hello", 5);
    A.wn += 5;
    assert_int_equal(pump(&A, &B, 64), SW_EPROTO);
    assert_int_equal(B.pn, 0);
    // a second handshake message after the first is out of turn for the initiator
    start_pair(k, k);
    assert_int_equal(pump(&A, &B, 64), 0);
    uint8_t m2[64];
    size_t n2 = B.wn;
    memcpy(m2, B.wire, n2);
    assert_int_equal(pump(&B, &A, 64), 0);
    assert_int_equal(sw_seclink_input(&A.s, m2, n2), SW_EAUTH); // as a transport frame: bad tag
    assert_int_equal(A.pn, 0);
}

// Key rotation: a responder with an alternative key accepts handshakes made with either key,
// and the session works; a third key is still refused.
static void test_seclink_alt_key(void **st)
{
    (void)st;
    uint8_t cur[32], old[32], other[32];
    seq(cur, 1);
    seq(old, 2);
    seq(other, 3);
    const uint8_t *tries[3] = {cur, old, other};
    for (int t = 0; t < 3; t++) {
        start_pair(tries[t], cur);
        sw_seclink_alt_key(&B.s, old);
        int rc = pump(&A, &B, 64);
        if (t == 2) {
            assert_int_equal(rc, SW_EAUTH);
            assert_int_equal(B.ups, 0);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(pump(&B, &A, 64), 0);
        assert_true(sw_seclink_ready(&A.s) && sw_seclink_ready(&B.s));
        assert_int_equal(sw_seclink_write(&A.s, (const uint8_t *)"hi", 2), 0);
        assert_int_equal(pump(&A, &B, 64), 0);
        assert_true(B.pn == 2 && !memcmp(B.plain, "hi", 2));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_rx_frames),
        cmocka_unit_test(test_seclink),
#if SW_SECLINK_COALESCE
        cmocka_unit_test(test_seclink_coalesce),
#endif
        cmocka_unit_test(test_seclink_wrong_key),
        cmocka_unit_test(test_seclink_plaintext_refused),
        cmocka_unit_test(test_seclink_alt_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
