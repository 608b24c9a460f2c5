// DNS reader and writer: byte-exact vectors (micro-swarm's mDNS answer, compression), every
// refusal of malformed names (loops, forward pointers, length limits, label types), record data
// checks, sticky errors and checkpoints, and a round-trip property over random messages.
#include "testutil.h"

#include "swarm/dns.h"

static uint8_t buf[4096], msg[4096];

static sw_dns_name_t name(const char *text)
{
    sw_dns_name_t nm;
    assert_int_equal(sw_dns_name_from(&nm, text, strlen(text)), 0);
    return nm;
}

static void assert_name(const sw_dns_name_t *nm, const char *text)
{
    char got[1100];
    sw_dns_name_text(nm, got, sizeof got);
    assert_string_equal(got, text);
}

static void test_names(void **state)
{
    (void)state;
    sw_dns_name_t nm = name("example-device.local");
    assert_int_equal(nm.len, 22);
    tu_assert_bytes(nm.b, nm.len, "0e 6578616d706c652d646576696365 05 6c6f63616c 00");
    sw_dns_name_t t = name("example-device.local.");
    assert_true(sw_dns_name_eq(&nm, &t));
    t = name("ExAmPlE-DEVICE.LOCAL");
    assert_true(sw_dns_name_eq(&nm, &t));
    t = name("example-devicf.local");
    assert_false(sw_dns_name_eq(&nm, &t));
    t = name("example.local");
    assert_false(sw_dns_name_eq(&nm, &t));
    // case folding is ASCII only: 0xC4 and 0xE4 differ
    sw_dns_name_t a, b, local = name("local");
    assert_int_equal(sw_dns_name_join(&a, "\xc4", 1, &local), 0);
    assert_int_equal(sw_dns_name_join(&b, "\xe4", 1, &local), 0);
    assert_false(sw_dns_name_eq(&a, &b));

    t = name("");
    assert_int_equal(t.len, 1);
    assert_name(&t, ".");
    t = name(".");
    assert_int_equal(t.len, 1);
    assert_int_equal(sw_dns_name_from(&t, "a..b", 4), SW_EINVAL);
    assert_int_equal(sw_dns_name_from(&t, ".a", 2), SW_EINVAL);
    char big[300];
    memset(big, 'x', sizeof big);
    assert_int_equal(sw_dns_name_from(&t, big, 63), 0);
    assert_int_equal(sw_dns_name_from(&t, big, 64), SW_EINVAL);
    // 4 labels of 63 = 256 wire bytes with the final zero: one too many
    for (int k = 1; k < 4; k++)
        big[64 * k - 1] = '.';
    assert_int_equal(sw_dns_name_from(&t, big, 64 * 3 + 61), 0);
    assert_int_equal(t.len, 255);
    assert_int_equal(sw_dns_name_from(&t, big, 64 * 3 + 62), SW_ETOOBIG);

    // a label may hold dots and spaces; the text escapes them
    sw_dns_name_t svc = name("_swarm._tcp.local");
    assert_int_equal(sw_dns_name_join(&a, "My node.1", 9, &svc), 0);
    assert_name(&a, "My\\032node\\.1._swarm._tcp.local");
    assert_int_equal(sw_dns_name_join(&a, "", 0, &svc), SW_EINVAL);
    assert_int_equal(sw_dns_name_join(&a, big, 64, &svc), SW_EINVAL);
    // join in place
    a = svc;
    assert_int_equal(sw_dns_name_join(&a, "n1", 2, &a), 0);
    assert_name(&a, "n1._swarm._tcp.local");
    // text is cut at cap but reports the full length
    char small[6];
    assert_int_equal(sw_dns_name_text(&a, small, sizeof small), strlen("n1._swarm._tcp.local"));
    assert_string_equal(small, "n1._s");
}

// The answer micro-swarm's slimDNS sends for example-device.local (spec §2): uncompressed, no
// cache-flush bit, TTL 120.
static void test_micro_swarm_answer(void **state)
{
    (void)state;
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, buf, sizeof buf, 0x1234, SW_DNS_F_QR | SW_DNS_F_AA);
    sw_dns_name_t nm = name("example-device.local");
    const uint8_t ip[4] = {169, 254, 185, 17};
    sw_dns_wr_a(&w, SW_DNS_AN, &nm, SW_DNS_C_IN, 120, ip);
    int n = sw_dns_wr_finish(&w);
    assert_int_equal(n, 12 + 22 + 14);
    tu_assert_bytes(buf, (size_t)n,
                    "12 34 84 00 00 00 00 01 00 00 00 00"
                    "0e 6578616d706c652d646576696365 05 6c6f63616c 00"
                    "00 01 00 01 00 00 00 78 00 04 a9 fe b9 11");

    sw_dns_rd_t r;
    sw_dns_rr_t rr;
    assert_int_equal(sw_dns_rd_init(&r, buf, (size_t)n), 0);
    assert_int_equal(r.id, 0x1234);
    assert_int_equal(r.flags, 0x8400);
    assert_int_equal(r.count[SW_DNS_AN], 1);
    sw_dns_q_t q;
    assert_int_equal(sw_dns_rd_question(&r, &q), 0);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_true(sw_dns_name_eq(&rr.name, &nm));
    assert_int_equal(rr.section, SW_DNS_AN);
    assert_int_equal(rr.type, SW_DNS_T_A);
    assert_int_equal(rr.cls, SW_DNS_C_IN);
    assert_false(rr.flush);
    assert_int_equal(rr.ttl, 120);
    assert_memory_equal(rr.a, ip, 4);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
}

// Our own answer to the same question: cache-flush bit, and an NSEC saying there is no AAAA.
static void test_flush_and_nsec(void **state)
{
    (void)state;
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, buf, sizeof buf, 0, SW_DNS_F_QR | SW_DNS_F_AA);
    sw_dns_name_t nm = name("n1.local");
    const uint8_t ip[4] = {169, 254, 1, 2};
    const uint16_t types[] = {SW_DNS_T_A};
    sw_dns_wr_a(&w, SW_DNS_AN, &nm, SW_DNS_C_IN | SW_DNS_C_TOP, 120, ip);
    sw_dns_wr_nsec(&w, SW_DNS_AR, &nm, SW_DNS_C_IN | SW_DNS_C_TOP, 120, types, 1);
    int n = sw_dns_wr_finish(&w);
    tu_assert_bytes(buf, (size_t)n,
                    "00 00 84 00 00 00 00 01 00 00 00 01"
                    "02 6e31 05 6c6f63616c 00 00 01 80 01 00 00 00 78 00 04 a9 fe 01 02"
                    "c0 0c 00 2f 80 01 00 00 00 78 00 0d 02 6e31 05 6c6f63616c 00 00 01 40");
    sw_dns_rd_t r;
    sw_dns_rr_t rr;
    sw_dns_rd_init(&r, buf, (size_t)n);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_true(rr.flush);
    assert_int_equal(rr.cls, SW_DNS_C_IN);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.section, SW_DNS_AR);
    assert_int_equal(rr.type, SW_DNS_T_NSEC);
    sw_dns_name_t next;
    assert_int_equal(sw_dns_rd_name(&r, rr.target, &next), 0);
    assert_true(sw_dns_name_eq(&next, &nm));
    uint8_t canon[300];
    int cn = sw_dns_rd_rdata(&r, &rr, canon, sizeof canon);
    assert_int_equal(cn, 13);
    assert_int_equal(sw_dns_rd_rdata(&r, &rr, canon, 12), SW_EFULL);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
    assert_int_equal(sw_dns_wr_finish(&w), n); // finish twice is harmless
}

// A DNS-SD answer: PTR, SRV, TXT sharing suffixes, compressed both in names and in data.
static void test_compression(void **state)
{
    (void)state;
    sw_dns_wr_t w;
    sw_dns_wr_init(&w, buf, sizeof buf, 0, SW_DNS_F_QR | SW_DNS_F_AA);
    sw_dns_name_t svc = name("_swarm._tcp.local"), host = name("n1.local"), inst;
    sw_dns_name_join(&inst, "n1", 2, &svc);
    uint8_t txt[64];
    size_t tl = 0;
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "app", "blink"), 0);
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "rpc", "27587"), 0);
    sw_dns_wr_question(&w, &svc, SW_DNS_T_PTR, SW_DNS_C_IN | SW_DNS_C_TOP);
    sw_dns_wr_ptr(&w, SW_DNS_AN, &svc, SW_DNS_C_IN, 4500, &inst);
    sw_dns_wr_srv(&w, SW_DNS_AR, &inst, SW_DNS_C_IN | SW_DNS_C_TOP, 120, 0, 0, 27587, &host);
    sw_dns_wr_txt(&w, SW_DNS_AR, &inst, SW_DNS_C_IN | SW_DNS_C_TOP, 4500, txt, tl);
    int n = sw_dns_wr_finish(&w);
    tu_assert_bytes(buf, (size_t)n,
                    "00 00 84 00 00 01 00 01 00 00 00 02"
                    // 12: question _swarm._tcp.local PTR, QU
                    "06 5f737761726d 04 5f746370 05 6c6f63616c 00 00 0c 80 01"
                    // 35: PTR, name = pointer to 12, data (at 47) = "n1" + pointer to 12
                    "c0 0c 00 0c 00 01 00 00 11 94 00 05 02 6e31 c0 0c"
                    // 52: SRV, name = pointer to 47 (n1._swarm...), target = "n1" + pointer to 24 (local)
                    "c0 2f 00 21 80 01 00 00 00 78 00 0b 00 00 00 00 6b c3 02 6e31 c0 18"
                    // TXT
                    "c0 2f 00 10 80 01 00 00 11 94 00 14 09 6170703d626c696e6b 09 7270633d3237353837");

    sw_dns_rd_t r;
    sw_dns_q_t q;
    sw_dns_rr_t rr;
    sw_dns_name_t got;
    sw_dns_rd_init(&r, buf, (size_t)n);
    assert_int_equal(sw_dns_rd_question(&r, &q), 1);
    assert_true(q.qu);
    assert_int_equal(q.cls, SW_DNS_C_IN);
    assert_true(sw_dns_name_eq(&q.name, &svc));
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.ttl, 4500);
    sw_dns_rd_name(&r, rr.target, &got);
    assert_true(sw_dns_name_eq(&got, &inst));
    uint8_t canon[300];
    int cn = sw_dns_rd_rdata(&r, &rr, canon, sizeof canon);
    assert_int_equal(cn, inst.len);
    assert_memory_equal(canon, inst.b, inst.len);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.type, SW_DNS_T_SRV);
    assert_int_equal(rr.port, 27587);
    assert_true(sw_dns_name_eq(&rr.name, &inst));
    sw_dns_rd_name(&r, rr.target, &got);
    assert_true(sw_dns_name_eq(&got, &host));
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.type, SW_DNS_T_TXT);
    size_t at = 0;
    sw_span_t item;
    assert_true(sw_dns_txt_next(buf + rr.rdoff, rr.rdlen, &at, &item));
    assert_int_equal(item.n, 9);
    assert_memory_equal(item.p, "app=blink", 9);
    assert_true(sw_dns_txt_next(buf + rr.rdoff, rr.rdlen, &at, &item));
    assert_memory_equal(item.p, "rpc=27587", 9);
    assert_false(sw_dns_txt_next(buf + rr.rdoff, rr.rdlen, &at, &item));
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);

    // without compression the same records read back the same
    sw_dns_wr_init(&w, msg, sizeof msg, 0, 0);
    w.compress = false;
    sw_dns_wr_srv(&w, SW_DNS_AN, &inst, SW_DNS_C_IN, 120, 1, 2, 3, &host);
    int m = sw_dns_wr_finish(&w);
    assert_int_equal(m, 12 + inst.len + 10 + 6 + host.len);
    sw_dns_rd_init(&r, msg, (size_t)m);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    sw_dns_rd_name(&r, rr.target, &got);
    assert_true(sw_dns_name_eq(&got, &host));
    assert_int_equal(rr.prio, 1);
    assert_int_equal(rr.weight, 2);
}

// A query as dig sends it: `dig -p 5353 @169.254.1.2 Example-Device.local` (RD, EDNS OPT with a
// cookie in the additional section).
static void test_dig_query(void **state)
{
    (void)state;
    size_t n = tu_hex("a1 b2 01 20 00 01 00 00 00 00 00 01"
                      "0e 4578616d706c652d446576696365 05 6c6f63616c 00 00 01 00 01"
                      "00 00 29 04 d0 00 00 00 00 00 0c 00 0a 00 08 01 02 03 04 05 06 07 08",
                      msg, sizeof msg);
    assert_int_equal(sw_dns_check(msg, n), 0);
    sw_dns_rd_t r;
    sw_dns_q_t q;
    sw_dns_rr_t rr;
    sw_dns_rd_init(&r, msg, n);
    assert_int_equal(r.flags & SW_DNS_F_RD, SW_DNS_F_RD);
    assert_int_equal(sw_dns_rd_question(&r, &q), 1);
    sw_dns_name_t want = name("example-device.local");
    assert_true(sw_dns_name_eq(&q.name, &want));
    assert_name(&q.name, "Example-Device.local");
    assert_int_equal(q.type, SW_DNS_T_A);
    assert_false(q.qu);
    assert_int_equal(sw_dns_rd_question(&r, &q), 0);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.type, SW_DNS_T_OPT);
    assert_int_equal(rr.section, SW_DNS_AR);
    assert_int_equal(rr.name.len, 1);
    assert_int_equal(rr.cls, 1232);
    assert_int_equal(rr.rdlen, 12);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
    // rr() skips unread questions
    sw_dns_rd_init(&r, msg, n);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
    assert_int_equal(rr.type, SW_DNS_T_OPT);
}

// avahi-daemon 0.8 probing for its host name vm.local, captured in the lab: three ANY questions
// (reverse IPv6 name, reverse IPv4 name, vm.local) and four authority records, compressed.
static void test_avahi_probe(void **state)
{
    (void)state;
    size_t n = tu_hex(
                      "000000000003000000040000016301300163013001320135016501660166016601620166013601390134013101300130"
                      "013001300130013001300130013001300130013001300138016501660369703604617270610000ff0001013103323534"
                      "033235340331363907696e2d61646472c05000ff000102766d056c6f63616c0000ff0001c05a000c0001000000780002"
                      "c076c07600010001000000780004a9fefe01c076001c0001000000780010fe800000000000001496fbfffe520c0cc00c"
                      "000c0001000000780002c076",
        msg, sizeof msg);
    assert_int_equal(sw_dns_check(msg, n), 0);
    sw_dns_rd_t r;
    sw_dns_q_t q;
    sw_dns_rr_t rr;
    sw_dns_name_t nm, vm = name("vm.local");
    sw_dns_rd_init(&r, msg, n);
    assert_int_equal(r.count[SW_DNS_NS], 4);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(sw_dns_rd_question(&r, &q), 1);
        assert_int_equal(q.type, SW_DNS_T_ANY);
        assert_false(q.qu);
    }
    assert_true(sw_dns_name_eq(&q.name, &vm));
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1); // 1.254.254.169.in-addr.arpa PTR vm.local
    assert_int_equal(rr.section, SW_DNS_NS);
    assert_int_equal(rr.type, SW_DNS_T_PTR);
    assert_name(&rr.name, "1.254.254.169.in-addr.arpa");
    sw_dns_rd_name(&r, rr.target, &nm);
    assert_true(sw_dns_name_eq(&nm, &vm));
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1); // vm.local A 169.254.254.1
    assert_true(sw_dns_name_eq(&rr.name, &vm));
    assert_int_equal(rr.type, SW_DNS_T_A);
    assert_false(rr.flush);
    tu_assert_bytes(rr.a, 4, "a9 fe fe 01");
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1); // vm.local AAAA fe80::…
    assert_int_equal(rr.type, SW_DNS_T_AAAA);
    tu_assert_bytes(rr.a, 2, "fe 80");
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 1); // the reverse IPv6 name PTR vm.local
    assert_int_equal(rr.type, SW_DNS_T_PTR);
    assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
}

static int check_hex(const char *hex)
{
    size_t n = tu_hex(hex, msg, sizeof msg);
    return sw_dns_check(msg, n);
}

static void test_malformed_names(void **state)
{
    (void)state;
    // a question whose name points at itself
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  c0 0c 0001 0001"), SW_EPROTO);
    // a label, then a pointer back to that label: a loop
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  01 61 c0 0c 0001 0001"), SW_EPROTO);
    // two names pointing at each other (the second at the first, the first forward)
    assert_int_equal(check_hex("0000 0000 0002 0000 0000 0000  c0 12 0001 0001  c0 0c 0001 0001"), SW_EPROTO);
    // a pointer into the header
    assert_int_equal(check_hex("0000 0000 0002 0000 0000 0000  00 0001 0001  c0 04 0001 0001"), SW_EPROTO);
    // a pointer past the end, a pointer cut in half, a label cut short, no final zero
    assert_int_equal(check_hex("0000 0000 0002 0000 0000 0000  00 0001 0001  c0 ff 0001 0001"), SW_EPROTO);
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  c0"), SW_EPROTO);
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  05 61 62"), SW_EPROTO);
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  01 61"), SW_EPROTO);
    // label types 01 and 10
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  41 00 0001 0001"), SW_EPROTO);
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  81 00 0001 0001"), SW_EPROTO);
    // a proper backward chain reads
    assert_int_equal(check_hex("0000 0000 0003 0000 0000 0000  01 61 00 0001 0001"
                               "01 62 c0 0c 0001 0001  01 63 c0 13 0001 0001"),
                     0);
    {
        sw_dns_rd_t r;
        sw_dns_q_t q;
        size_t n = tu_hex("0000 0000 0003 0000 0000 0000  01 61 00 0001 0001"
                          "01 62 c0 0c 0001 0001  01 63 c0 13 0001 0001",
                          msg, sizeof msg);
        sw_dns_rd_init(&r, msg, n);
        for (int k = 0; k < 3; k++)
            assert_int_equal(sw_dns_rd_question(&r, &q), 1);
        assert_name(&q.name, "c.b.a");
    }
    // a header alone, and less than one
    assert_int_equal(check_hex("0000 0000 0000 0000 0000 0000"), 0);
    assert_int_equal(check_hex("0000 0000 0000 0000 0000"), SW_EPROTO);
    // huge counts with nothing behind them
    assert_int_equal(check_hex("0000 8400 ffff ffff ffff ffff"), SW_EPROTO);
    assert_int_equal(check_hex("0000 8400 0000 ffff 0000 0000  00 0001 0001 00000078 0004 01020304"), SW_EPROTO);
    // trailing bytes after the counted records are ignored
    assert_int_equal(check_hex("0000 0000 0001 0000 0000 0000  00 0001 0001  de ad be ef"), 0);
}

// Names at the length limit, reached through pointers: 255 reads, 256 does not.
static void test_name_length_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra < 2; extra++) {
        // first question: 3 labels of 63 + one of 61+extra (= 255 + extra bytes with the zero)
        size_t n = SW_DNS_HDR;
        memset(msg, 0, SW_DNS_HDR);
        msg[5] = 2;
        size_t first = n;
        for (int k = 0; k < 3; k++) {
            msg[n++] = 63;
            memset(msg + n, 'a' + k, 63);
            n += 63;
        }
        msg[n++] = (uint8_t)(61 + extra);
        memset(msg + n, 'z', (size_t)(61 + extra));
        n += (size_t)(61 + extra);
        msg[n++] = 0;
        msg[n++] = 0, msg[n++] = 1, msg[n++] = 0, msg[n++] = 1;
        // second: one more label in front of a pointer to the last two labels of the first
        size_t second = n;
        msg[n++] = 63;
        memset(msg + n, 'q', 63);
        n += 63;
        msg[n++] = (uint8_t)(0xc0 | ((first + 64) >> 8));
        msg[n++] = (uint8_t)(first + 64);
        msg[n++] = 0, msg[n++] = 1, msg[n++] = 0, msg[n++] = 1;
        (void)second;
        sw_dns_rd_t r;
        sw_dns_q_t q;
        sw_dns_rd_init(&r, msg, n);
        if (extra == 0) {
            assert_int_equal(sw_dns_rd_question(&r, &q), 1);
            assert_int_equal(q.name.len, 255);
            assert_int_equal(sw_dns_rd_question(&r, &q), 1);
            assert_int_equal(q.name.len, 255);
            assert_int_equal(q.name.b[64], 63);
            assert_int_equal(q.name.b[65], 'b');
        } else {
            assert_int_equal(sw_dns_rd_question(&r, &q), SW_EPROTO);
            assert_int_equal(sw_dns_rd_question(&r, &q), SW_EPROTO); // sticky
        }
    }
}

static void test_malformed_rdata(void **state)
{
    (void)state;
#define H "0000 8400 0000 0001 0000 0000  00 "
    assert_int_equal(check_hex(H "0001 0001 00000078 0004 01020304"), 0);
    assert_int_equal(check_hex(H "0001 0001 00000078 0005 0102030405"), SW_EPROTO); // A of 5 bytes
    assert_int_equal(check_hex(H "001c 0001 00000078 0004 01020304"), SW_EPROTO);   // AAAA of 4
    assert_int_equal(check_hex(H "0001 0001 00000078 0004 010203"), SW_EPROTO);     // data cut short
    assert_int_equal(check_hex(H "000c 0001 00000078 0003 01 61 00"), 0);           // PTR "a"
    assert_int_equal(check_hex(H "000c 0001 00000078 0004 01 61 00 00"), SW_EPROTO); // bytes after the name
    assert_int_equal(check_hex(H "000c 0001 00000078 0002 01 61 00"), SW_EPROTO);   // name runs past the data
    assert_int_equal(check_hex(H "000c 0001 00000078 0002 c0 0c"), 0);              // PTR to the root at 12
    assert_int_equal(check_hex(H "000c 0001 00000078 0002 c0 17"), SW_EPROTO);      // PTR pointing at itself
    assert_int_equal(check_hex(H "0021 0001 00000078 0006 000000000000"), SW_EPROTO); // SRV without target
    assert_int_equal(check_hex(H "0021 0001 00000078 0007 00000000000100"), 0);
    assert_int_equal(check_hex(H "0010 0001 00000078 0000"), 0);                     // empty TXT tolerated
    assert_int_equal(check_hex(H "0010 0001 00000078 0003 02 6162"), 0);
    assert_int_equal(check_hex(H "0010 0001 00000078 0003 03 6162"), SW_EPROTO);    // string runs past the data
    assert_int_equal(check_hex(H "002f 0001 00000078 0005 00 00 01 40"), SW_EPROTO); // NSEC bitmap cut
    assert_int_equal(check_hex(H "002f 0001 00000078 0004 00 00 01 40"), 0);
    assert_int_equal(check_hex(H "002f 0001 00000078 0004 00 00 00 40"), SW_EPROTO); // zero-length map
    assert_int_equal(check_hex(H "002f 0001 00000078 0007 00 01 01 40 00 01 40"), SW_EPROTO); // windows out of order
    assert_int_equal(check_hex(H "002f 0001 00000078 0001 00"), 0);                  // next name only
    assert_int_equal(check_hex(H "0063 0001 00000078 0003 010203"), 0);              // unknown type: opaque
#undef H
}

static void test_rdata_eq(void **state)
{
    (void)state;
    sw_dns_name_t a = name("Node.Local"), b = name("node.local");
    assert_true(sw_dns_rdata_eq(SW_DNS_T_PTR, a.b, a.len, b.b, b.len));
    assert_false(sw_dns_rdata_eq(SW_DNS_T_TXT, a.b, a.len, b.b, b.len)); // TXT is case-sensitive
    uint8_t s1[64], s2[64];
    memcpy(s1, "\x00\x00\x00\x00\x6b\xc3", 6), memcpy(s1 + 6, a.b, a.len);
    memcpy(s2, "\x00\x00\x00\x00\x6b\xc3", 6), memcpy(s2 + 6, b.b, b.len);
    assert_true(sw_dns_rdata_eq(SW_DNS_T_SRV, s1, 6u + a.len, s2, 6u + b.len));
    s2[5] = 0xc4;
    assert_false(sw_dns_rdata_eq(SW_DNS_T_SRV, s1, 6u + a.len, s2, 6u + b.len));
    const uint8_t x[4] = {1, 2, 3, 4}, y[4] = {1, 2, 3, 5};
    assert_true(sw_dns_rdata_eq(SW_DNS_T_A, x, 4, x, 4));
    assert_false(sw_dns_rdata_eq(SW_DNS_T_A, x, 4, y, 4));
    assert_false(sw_dns_rdata_eq(SW_DNS_T_A, x, 4, y, 3));
    memcpy(s1, a.b, a.len), memcpy(s1 + a.len, "\x00\x01\x40", 3);
    memcpy(s2, b.b, b.len), memcpy(s2 + b.len, "\x00\x01\x40", 3);
    assert_true(sw_dns_rdata_eq(SW_DNS_T_NSEC, s1, a.len + 3u, s2, b.len + 3u));
    s2[b.len + 2] = 0x41;
    assert_false(sw_dns_rdata_eq(SW_DNS_T_NSEC, s1, a.len + 3u, s2, b.len + 3u));
}

static void test_writer_errors(void **state)
{
    (void)state;
    sw_dns_wr_t w;
    sw_dns_name_t nm = name("n1.local");
    const uint8_t ip[4] = {1, 2, 3, 4};
    // sections in order only
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_a(&w, SW_DNS_AR, &nm, 1, 1, ip);
    sw_dns_wr_a(&w, SW_DNS_AN, &nm, 1, 1, ip);
    assert_int_equal(w.err, SW_EINVAL);
    assert_int_equal(sw_dns_wr_finish(&w), SW_EINVAL);
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_a(&w, SW_DNS_AN, &nm, 1, 1, ip);
    sw_dns_wr_question(&w, &nm, 1, 1);
    assert_int_equal(w.err, SW_EINVAL);
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_rr_begin(&w, SW_DNS_QD, &nm, 1, 1, 1);
    assert_int_equal(w.err, SW_EINVAL);
    // an open record
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_rr_begin(&w, SW_DNS_AN, &nm, 1, 1, 1);
    assert_int_equal(sw_dns_wr_finish(&w), SW_EINVAL);
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_rr_end(&w);
    assert_int_equal(w.err, SW_EINVAL);
    // NSEC type beyond the first window
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    const uint16_t big[] = {1, 256};
    sw_dns_wr_nsec(&w, SW_DNS_AN, &nm, 1, 1, big, 2);
    assert_int_equal(w.err, SW_EINVAL);
    // a name that is not one
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_name_t bad = {0, {0}};
    sw_dns_wr_question(&w, &bad, 1, 1);
    assert_int_equal(w.err, SW_EINVAL);
    // too small for a header
    sw_dns_wr_init(&w, buf, 11, 0, 0);
    assert_int_equal(sw_dns_wr_finish(&w), SW_EFULL);

    // overflow is sticky, and a checkpoint copy takes it back
    for (size_t cap = 12; cap < 80; cap++) {
        sw_dns_wr_init(&w, buf, cap, 7, SW_DNS_F_QR);
        sw_dns_wr_a(&w, SW_DNS_AN, &nm, 1, 120, ip);
        sw_dns_wr_t saved = w;
        sw_dns_wr_a(&w, SW_DNS_AR, &nm, 1, 120, ip);
        if (w.err == SW_EFULL)
            w = saved; // drop the additional record
        int n = sw_dns_wr_finish(&w);
        if (cap < 12 + 24) {
            assert_int_equal(n, SW_EFULL);
            sw_dns_wr_a(&w, SW_DNS_AN, &nm, 1, 120, ip);
            assert_int_equal(w.err, SW_EFULL);
            continue;
        }
        assert_true(n > 0 && (size_t)n <= cap);
        assert_int_equal(sw_dns_check(buf, (size_t)n), 0);
        sw_dns_rd_t r;
        sw_dns_rd_init(&r, buf, (size_t)n);
        assert_int_equal(r.count[SW_DNS_AN], 1);
        assert_int_equal(r.count[SW_DNS_AR], cap >= 12 + 24 + 16 ? 1 : 0);
    }

    // TXT strings
    uint8_t txt[16];
    size_t tl = 0;
    char v[300];
    memset(v, 'v', sizeof v - 1);
    v[sizeof v - 1] = 0;
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "k", v), SW_ETOOBIG);
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "key", "0123456789ab"), SW_EFULL);
    assert_int_equal(tl, 0);
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "flag", NULL), 0);
    assert_int_equal(tl, 5);
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "a", "bcdefghi"), 0);
    assert_int_equal(tl, 16);
    tu_assert_bytes(txt, tl, "04 666c6167 0a 613d6263646566676869");
    assert_int_equal(sw_dns_txt_add(txt, sizeof txt, &tl, "x", NULL), SW_EFULL);
    // an empty TXT record is written as one empty string
    sw_dns_wr_init(&w, buf, sizeof buf, 0, 0);
    sw_dns_wr_txt(&w, SW_DNS_AN, &nm, 1, 1, NULL, 0);
    int n = sw_dns_wr_finish(&w);
    tu_assert_bytes(buf + n - 3, 3, "00 01 00");
}

// Property: random messages (names from a small alphabet so suffixes repeat, every record
// type we write) are written with and without compression, read back, and match what was
// written; compression never makes a message longer.
static void gen_name(tu_rng_t *g, sw_dns_name_t *nm)
{
    static const char *const labels[] = {"local", "_swarm", "_tcp", "n1", "N1", "node-2", "x", "_udp",
                                         "_services", "_dns-sd", "a.b", "\xc4"};
    sw_dns_name_from(nm, "", 0);
    uint32_t depth = tu_below(g, 5);
    for (uint32_t k = 0; k < depth; k++) {
        const char *l = labels[tu_below(g, sizeof labels / sizeof *labels)];
        sw_dns_name_join(nm, l, strlen(l), nm);
    }
    if (tu_below(g, 20) == 0) { // now and then a long one
        char big[63];
        memset(big, 'L', sizeof big);
        while (sw_dns_name_join(nm, big, 1 + tu_below(g, 63), nm) == 0 && tu_below(g, 4))
            ;
    }
}

typedef struct {
    uint8_t section;
    uint16_t type, cls;
    uint32_t ttl;
    sw_dns_name_t nm, target;
    uint8_t ip[4];
    uint16_t port;
    uint8_t txt[40];
    size_t txtn;
} rec_t;

static void write_rec(sw_dns_wr_t *w, const rec_t *r)
{
    static const uint16_t types[] = {SW_DNS_T_A, SW_DNS_T_TXT, SW_DNS_T_SRV};
    switch (r->type) {
    case SW_DNS_T_A: sw_dns_wr_a(w, r->section, &r->nm, r->cls, r->ttl, r->ip); break;
    case SW_DNS_T_PTR: sw_dns_wr_ptr(w, r->section, &r->nm, r->cls, r->ttl, &r->target); break;
    case SW_DNS_T_SRV:
        sw_dns_wr_srv(w, r->section, &r->nm, r->cls, r->ttl, 0, 5, r->port, &r->target);
        break;
    case SW_DNS_T_TXT: sw_dns_wr_txt(w, r->section, &r->nm, r->cls, r->ttl, r->txt, r->txtn); break;
    default: sw_dns_wr_nsec(w, r->section, &r->nm, r->cls, r->ttl, types, 3); break;
    }
}

static void test_roundtrip_property(void **state)
{
    (void)state;
    tu_rng_t g = {0x5eed2024d0500001ull ^ 0x9e3779b97f4a7c15ull};
    static rec_t recs[40];
    static sw_dns_q_t qs[10];
    static uint8_t plain[8192], packed[8192];
    for (int round = 0; round < 3000; round++) {
        uint32_t nq = tu_below(&g, 4), nr = tu_below(&g, 25);
        for (uint32_t k = 0; k < nq; k++) {
            gen_name(&g, &qs[k].name);
            qs[k].type = (uint16_t)(1 + tu_below(&g, 255));
            qs[k].cls = 1;
            qs[k].qu = tu_below(&g, 2);
        }
        static const uint16_t rtypes[] = {SW_DNS_T_A, SW_DNS_T_PTR, SW_DNS_T_SRV, SW_DNS_T_TXT, SW_DNS_T_NSEC};
        uint8_t sect = SW_DNS_AN;
        for (uint32_t k = 0; k < nr; k++) {
            rec_t *r = &recs[k];
            if (sect < SW_DNS_AR && tu_below(&g, 5) == 0)
                sect++;
            r->section = sect;
            r->type = rtypes[tu_below(&g, 5)];
            r->cls = (uint16_t)(1 | (tu_below(&g, 2) ? SW_DNS_C_TOP : 0));
            r->ttl = (uint32_t)tu_next(&g);
            gen_name(&g, &r->nm);
            gen_name(&g, &r->target);
            for (int j = 0; j < 4; j++)
                r->ip[j] = (uint8_t)tu_next(&g);
            r->port = (uint16_t)tu_next(&g);
            r->txtn = 0;
            uint32_t ns = tu_below(&g, 3);
            for (uint32_t j = 0; j < ns; j++)
                sw_dns_txt_add(r->txt, sizeof r->txt, &r->txtn, j ? "k" : "app", "v=1");
        }
        int len[2];
        for (int c = 0; c < 2; c++) {
            sw_dns_wr_t w;
            uint8_t *out = c ? packed : plain;
            sw_dns_wr_init(&w, out, sizeof plain, (uint16_t)round, SW_DNS_F_QR);
            w.compress = c == 1;
            for (uint32_t k = 0; k < nq; k++)
                sw_dns_wr_question(&w, &qs[k].name, qs[k].type, (uint16_t)(qs[k].cls | (qs[k].qu ? SW_DNS_C_TOP : 0)));
            for (uint32_t k = 0; k < nr; k++)
                write_rec(&w, &recs[k]);
            len[c] = sw_dns_wr_finish(&w);
            assert_true(len[c] > 0);

            sw_dns_rd_t r;
            sw_dns_q_t q;
            sw_dns_rr_t rr;
            assert_int_equal(sw_dns_check(out, (size_t)len[c]), 0);
            sw_dns_rd_init(&r, out, (size_t)len[c]);
            assert_int_equal(r.id, (uint16_t)round);
            for (uint32_t k = 0; k < nq; k++) {
                assert_int_equal(sw_dns_rd_question(&r, &q), 1);
                assert_int_equal(q.name.len, qs[k].name.len);
                assert_memory_equal(q.name.b, qs[k].name.b, q.name.len); // case kept exactly
                assert_int_equal(q.type, qs[k].type);
                assert_int_equal(q.qu, qs[k].qu);
            }
            assert_int_equal(sw_dns_rd_question(&r, &q), 0);
            for (uint32_t k = 0; k < nr; k++) {
                const rec_t *e = &recs[k];
                assert_int_equal(sw_dns_rd_rr(&r, &rr), 1);
                assert_int_equal(rr.section, e->section);
                assert_int_equal(rr.type, e->type);
                assert_int_equal(rr.cls, 1);
                assert_int_equal(rr.flush, (e->cls & SW_DNS_C_TOP) != 0);
                assert_int_equal(rr.ttl, e->ttl);
                assert_int_equal(rr.name.len, e->nm.len);
                assert_memory_equal(rr.name.b, e->nm.b, e->nm.len);
                sw_dns_name_t t;
                switch (e->type) {
                case SW_DNS_T_A: assert_memory_equal(rr.a, e->ip, 4); break;
                case SW_DNS_T_SRV:
                    assert_int_equal(rr.port, e->port);
                    assert_int_equal(rr.weight, 5);
                    // fall through
                case SW_DNS_T_PTR:
                    assert_int_equal(sw_dns_rd_name(&r, rr.target, &t), 0);
                    assert_int_equal(t.len, e->target.len);
                    assert_memory_equal(t.b, e->target.b, t.len);
                    break;
                case SW_DNS_T_TXT:
                    assert_int_equal(rr.rdlen, e->txtn ? e->txtn : 1);
                    if (e->txtn)
                        assert_memory_equal(out + rr.rdoff, e->txt, e->txtn);
                    break;
                default: {
                    uint8_t canon[300];
                    int cn = sw_dns_rd_rdata(&r, &rr, canon, sizeof canon);
                    assert_int_equal(cn, e->nm.len + 2 + 5);
                    assert_memory_equal(canon, e->nm.b, e->nm.len);
                    tu_assert_bytes(canon + e->nm.len, 7, "00 05 40 00 80 00 40"); // A, TXT(16), SRV(33)
                }
                }
            }
            assert_int_equal(sw_dns_rd_rr(&r, &rr), 0);
        }
        assert_true(len[1] <= len[0]);
        // the canonical data of every record is the same in both messages
        sw_dns_rd_t ra, rb;
        sw_dns_rr_t xa, xb;
        sw_dns_rd_init(&ra, plain, (size_t)len[0]);
        sw_dns_rd_init(&rb, packed, (size_t)len[1]);
        while (sw_dns_rd_rr(&ra, &xa) == 1) {
            assert_int_equal(sw_dns_rd_rr(&rb, &xb), 1);
            uint8_t ca[300], cb[300];
            int na = sw_dns_rd_rdata(&ra, &xa, ca, sizeof ca), nb = sw_dns_rd_rdata(&rb, &xb, cb, sizeof cb);
            assert_true(na >= 0);
            assert_int_equal(na, nb);
            assert_memory_equal(ca, cb, (size_t)na);
            assert_true(sw_dns_rdata_eq(xa.type, ca, (size_t)na, cb, (size_t)nb));
        }
    }
}

// Property: no byte string makes the reader misbehave, and a truncated valid message is refused
// (or reads as a prefix).
static void test_truncation_property(void **state)
{
    (void)state;
    sw_dns_wr_t w;
    sw_dns_name_t svc = name("_swarm._tcp.local"), host = name("n1.local"), inst;
    sw_dns_name_join(&inst, "n1", 2, &svc);
    const uint8_t ip[4] = {169, 254, 3, 4};
    const uint16_t t[] = {SW_DNS_T_TXT, SW_DNS_T_SRV};
    sw_dns_wr_init(&w, buf, sizeof buf, 0, SW_DNS_F_QR | SW_DNS_F_AA);
    sw_dns_wr_ptr(&w, SW_DNS_AN, &svc, 1, 4500, &inst);
    sw_dns_wr_srv(&w, SW_DNS_AN, &inst, 0x8001, 120, 0, 0, 27587, &host);
    sw_dns_wr_txt(&w, SW_DNS_AN, &inst, 0x8001, 4500, (const uint8_t *)"\x05""app=x", 6);
    sw_dns_wr_a(&w, SW_DNS_AR, &host, 0x8001, 120, ip);
    sw_dns_wr_nsec(&w, SW_DNS_AR, &inst, 0x8001, 4500, t, 2);
    int n = sw_dns_wr_finish(&w);
    assert_true(n > 0);
    assert_int_equal(sw_dns_check(buf, (size_t)n), 0);
    for (int cut = 0; cut < n; cut++)
        assert_int_equal(sw_dns_check(buf, (size_t)cut), SW_EPROTO);
    // random corruption: must return cleanly (ASan/UBSan watch the reads)
    tu_rng_t g = {12345};
    for (int round = 0; round < 20000; round++) {
        memcpy(msg, buf, (size_t)n);
        uint32_t flips = 1 + tu_below(&g, 4);
        for (uint32_t k = 0; k < flips; k++)
            msg[tu_below(&g, (uint32_t)n)] = (uint8_t)tu_next(&g);
        sw_dns_rd_t r;
        sw_dns_rr_t rr;
        sw_dns_q_t q;
        sw_dns_rd_init(&r, msg, (size_t)n);
        while (sw_dns_rd_question(&r, &q) == 1)
            ;
        int rc;
        while ((rc = sw_dns_rd_rr(&r, &rr)) == 1) {
            uint8_t canon[300];
            sw_dns_name_t nm;
            if (rr.target)
                assert_int_equal(sw_dns_rd_name(&r, rr.target, &nm), 0);
            assert_true(sw_dns_rd_rdata(&r, &rr, canon, sizeof canon) >= 0);
        }
        assert_true(rc == 0 || rc == SW_EPROTO);
        assert_int_equal(rc == 0 ? 0 : SW_EPROTO, sw_dns_check(msg, (size_t)n));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_micro_swarm_answer),
        cmocka_unit_test(test_flush_and_nsec),
        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_dig_query),
        cmocka_unit_test(test_avahi_probe),
        cmocka_unit_test(test_malformed_names),
        cmocka_unit_test(test_name_length_limit),
        cmocka_unit_test(test_malformed_rdata),
        cmocka_unit_test(test_rdata_eq),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_truncation_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
