"""mDNS responder of swarm-node, tested on a namespace LAN (tests/lab/lanlab.py) with real
clients: dig (legacy unicast), avahi-daemon + avahi-utils (resolve and browse), and raw packets
from Python for what the clients do not show (multicast vs unicast answers, the cache-flush bit,
TTLs, known-answer suppression, probe and announcement timing, goodbyes, conflicts, bad input).

Needs root (the lab builds network namespaces): skipped without it, and a skip is counted in
the summary of `make test` and fails the run under CI=true (tests/e2e/run.py).
"""
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import swarmtest  # noqa: E402

SRC = swarmtest.SRC
sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
import lanlab  # noqa: E402

MDNS = ("224.0.0.251", 5353)
T_A, T_PTR, T_TXT, T_AAAA, T_SRV, T_NSEC, T_ANY = 1, 12, 16, 28, 33, 47, 255
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("the namespace LAN needs root")


# --------------------------------------------------------------------------------------------
# A small DNS codec (our own, so the test does not trust the code it tests)

def enc_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dec_name(msg, off):
    """(name, offset after it); follows pointers (backwards only, like any sane reader)."""
    labels, end, hops = [], None, 0
    while True:
        c = msg[off]
        if c & 0xC0 == 0xC0:
            t = (c & 0x3F) << 8 | msg[off + 1]
            if end is None:
                end = off + 2
            hops += 1
            if t >= off or hops > 128:
                raise ValueError("bad pointer")
            off = t
            continue
        if c == 0:
            return ".".join(labels), (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + c].decode("latin-1"))
        off += 1 + c


def query(questions=(), answers=(), authority=(), qid=0, flags=0):
    """questions: (name, type, qu); records: (name, type, ttl, rdata bytes[, cls])."""
    m = struct.pack(">HHHHHH", qid, flags, len(questions), len(answers), len(authority), 0)
    for name, qtype, qu in questions:
        m += enc_name(name) + struct.pack(">HH", qtype, 0x8001 if qu else 1)
    for rr in list(answers) + list(authority):
        name, rtype, ttl, rdata = rr[:4]
        cls = rr[4] if len(rr) > 4 else 1
        m += enc_name(name) + struct.pack(">HHIH", rtype, cls, ttl, len(rdata)) + rdata
    return m


class RR:
    def __init__(self, name, rtype, cls, flush, ttl, data):
        self.name, self.type, self.cls, self.flush, self.ttl, self.data = name, rtype, cls, flush, ttl, data

    def __repr__(self):
        return "RR(%s %d ttl=%d%s %r)" % (self.name, self.type, self.ttl, " flush" if self.flush else "", self.data)


def parse(msg):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", msg[:12])
    off, qs, secs = 12, [], []
    for _ in range(qd):
        name, off = dec_name(msg, off)
        qt, qc = struct.unpack(">HH", msg[off:off + 4])
        off += 4
        qs.append((name, qt, qc))
    for count in (an, ns, ar):
        sec = []
        for _ in range(count):
            name, off = dec_name(msg, off)
            rtype, cls, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
            off += 10
            rd = msg[off:off + rdlen]
            if rtype == T_A:
                data = socket.inet_ntoa(rd)
            elif rtype == T_PTR:
                data = dec_name(msg, off)[0]
            elif rtype == T_SRV:
                data = struct.unpack(">HHH", rd[:6]) + (dec_name(msg, off + 6)[0],)
            elif rtype == T_TXT:
                data, k = [], 0
                while k < len(rd):
                    data.append(rd[k + 1:k + 1 + rd[k]].decode())
                    k += 1 + rd[k]
            elif rtype == T_NSEC:
                nxt, k = dec_name(msg, off)
                types, k = set(), k - off
                while k < rdlen:
                    win, ln = rd[k], rd[k + 1]
                    for i in range(ln):
                        for b in range(8):
                            if rd[k + 2 + i] & (0x80 >> b):
                                types.add(win * 256 + i * 8 + b)
                    k += 2 + ln
                data = (nxt, types)
            else:
                data = rd
            off += rdlen
            sec.append(RR(name, rtype, cls & 0x7FFF, bool(cls & 0x8000), ttl, data))
        secs.append(sec)
    return {"id": qid, "flags": flags, "qd": qs, "an": secs[0], "ns": secs[1], "ar": secs[2]}


# --------------------------------------------------------------------------------------------
# Sockets in the lab

class Listener:
    """A socket in the host namespace on 0.0.0.0:5353, in the mDNS group: collects every
    packet with its arrival time, source and destination address (multicast or unicast)."""

    def __init__(self, lan):
        self.s = lan.socket(lan.host_ns)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.s.bind(("0.0.0.0", 5353))
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                          socket.inet_aton(MDNS[0]) + socket.inet_aton(lan.host_ip))
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(lan.host_ip))
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        self.s.settimeout(0.1)
        self.host_ip = lan.host_ip
        self.packets = []  # (t, src_ip, src_port, dst_ip, bytes)
        self.lock = threading.Lock()
        self.stopped = False
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        while not self.stopped:
            try:
                data, anc, _, src = self.s.recvmsg(9000, 64)
            except (socket.timeout, OSError):
                continue
            dst = None
            for level, typ, d in anc:
                if level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                    dst = socket.inet_ntoa(d[8:12])
            with self.lock:
                self.packets.append((time.monotonic(), src[0], src[1], dst, data))

    def mark(self):
        with self.lock:
            return len(self.packets)

    def since(self, mark, src=None):
        with self.lock:
            return [p for p in self.packets[mark:] if src is None or p[1] == src]

    def send(self, data, dst=MDNS):
        self.s.sendto(data, dst)

    def wait(self, mark, pred, timeout=3.0):
        """The first packet since mark for which pred(packet, parsed) holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.since(mark):
                try:
                    m = parse(p[4])
                except Exception:
                    continue
                if pred(p, m):
                    return p, m
            time.sleep(0.02)
        return None, None

    def close(self):
        if not self.stopped:
            self.stopped = True
            self.th.join()
            self.s.close()


def is_response_from(ip):
    return lambda p, m: p[1] == ip and m["flags"] & 0x8000


def records(m, section="an"):
    return {(r.name.lower(), r.type): r for r in m[section]}


def call(lan, i, action, d=None):
    with lanlab.netns(lan.host_ns):
        c = swarmtest.Client(lan.nodes[i].port, host=lan.nodes[i].ip)
    with c:
        assert c.read_note() == {"d": True, "a": "link"}
        return c.call(action, d)


def sys_info(lan, i):
    return call(lan, i, "sys.info")


def dig(lan, ip, *args):
    r = lan.run(lan.host_ns, ["dig", "+time=2", "+tries=2", "+noall", "+answer", "+question", "+comments", "-p", "5353",
                              "@" + ip] + list(args), timeout=20)
    return r.stdout


def answer_lines(out):
    """The answer section of dig's output: [(name, ttl, type, data)]."""
    lines, on = [], False
    for ln in out.splitlines():
        if ln.startswith(";; ANSWER SECTION"):
            on = True
            continue
        if on:
            if not ln.strip() or ln.startswith(";"):
                break
            f = ln.split(None, 4)
            lines.append((f[0], int(f[1]), f[3], f[4]))
    return lines


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def log_clean(test, lan, i):
    log = lan.node_log(i)
    for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer", " E mdns"):
        test.assertNotIn(bad, log, "node %d log:\n%s" % (i, log[-3000:]))


# --------------------------------------------------------------------------------------------

class MdnsLan(unittest.TestCase):
    """Three nodes; checks run in name order (avahi last: it shares the host's port 5353)."""

    @classmethod
    def setUpClass(cls):
        cls.lan = lanlab.Lan(nodes=3, apps=["blink", "counter", "blink"], name_prefix="swmdns")
        cls.lan.start()
        try:
            # every node past probing (3 × 250 ms) and its first announcement
            for i in range(3):
                wait_for(lambda: "is ours" in cls.lan.node_log(i), 10, "node %d to claim its name" % i)
            time.sleep(2.5)  # and past its announcements (1 s apart), which set the rate limit
            cls.listen = Listener(cls.lan)
        except BaseException:
            cls.lan.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.listen.close()
        cls.lan.close()

    def test_1_dig(self):
        lan = self.lan
        for x in lan.nodes:
            for asked in (x.name + ".local", x.name.upper() + ".local", "NoDe%s.LoCaL" % x.name[4:]):
                out = dig(lan, x.ip, asked)
                self.assertIn("status: NOERROR", out)
                ans = answer_lines(out)
                self.assertEqual(len(ans), 1, out)
                name, ttl, typ, data = ans[0]
                self.assertEqual((name.lower(), typ, data), (x.name + ".local.", "A", x.ip), out)
                self.assertLessEqual(ttl, 10)  # legacy answers: TTL capped (RFC 6762 §6.7)
                # dig checks the ID and the echoed question itself; it prints the question
                self.assertIn(";%s." % asked, out.replace("\t", " "))
        x = lan.nodes[0]
        ptr = answer_lines(dig(lan, x.ip, "_swarm._tcp.local", "PTR"))
        self.assertEqual([(a[0], a[2], a[3]) for a in ptr], [("_swarm._tcp.local.", "PTR", "node1._swarm._tcp.local.")])
        srv = answer_lines(dig(lan, x.ip, "node1._swarm._tcp.local", "SRV"))
        self.assertEqual([(a[2], a[3]) for a in srv], [("SRV", "0 0 27587 node1.local.")])
        txt = answer_lines(dig(lan, lan.nodes[1].ip, "Node2._Swarm._TCP.local", "TXT"))
        self.assertEqual(len(txt), 1)
        self.assertEqual(txt[0][3], '"app=counter" "board=posix-sim" "version=%s" "rpc=27587"' % self.version())
        # a name that is not ours: no answer at all (dig times out)
        out = lan.run(lan.host_ns, ["dig", "+time=1", "+tries=1", "-p", "5353", "@" + x.ip, "node2.local"],
                      timeout=20).stdout
        self.assertIn("timed out", out)

    def version(self):
        return sys_info(self.lan, 0)["node"]

    def test_2_legacy_wire(self):
        """A legacy query from an ephemeral port: unicast back to that port, the query's ID,
        the question echoed, TTL <= 10, no cache-flush bit; known answers are not suppressed."""
        lan = self.lan
        s = lan.socket(lan.host_ns)
        s.bind((lan.host_ip, 0))
        s.settimeout(2)
        x = lan.nodes[2]
        q = query([("NODE3.local", T_A, False), ("node3._swarm._tcp.local", T_SRV, False)], qid=0xBEEF, flags=0x0100)
        s.sendto(q, (x.ip, 5353))
        data, src = s.recvfrom(9000)
        s.close()
        self.assertEqual(src, (x.ip, 5353))
        m = parse(data)
        self.assertEqual(m["id"], 0xBEEF)
        self.assertEqual(m["flags"] & 0x8400, 0x8400)
        self.assertEqual(m["flags"] & 0x0100, 0x0100)  # RD copied
        self.assertEqual(m["qd"], [("NODE3.local", T_A, 1), ("node3._swarm._tcp.local", T_SRV, 1)])
        an = records(m)
        self.assertEqual(an[("node3.local", T_A)].data, x.ip)
        self.assertEqual(an[("node3._swarm._tcp.local", T_SRV)].data, (0, 0, 27587, "node3.local"))
        for r in m["an"] + m["ar"]:
            self.assertFalse(r.flush, r)
            self.assertLessEqual(r.ttl, 10, r)

    def test_3_multicast_and_qu(self):
        lan, L = self.lan, self.listen
        x = lan.nodes[0]
        time.sleep(1.1)  # past the once-a-second limit of anything sent before
        # a standard query from port 5353: the answer is multicast, with the cache-flush bit on
        # the unique records and TTL 120 on the host's
        mark = L.mark()
        L.send(query([("Node1.Local", T_A, False)]))
        p, m = L.wait(mark, is_response_from(x.ip))
        self.assertIsNotNone(p, "no answer")
        self.assertEqual(p[2], 5353)
        self.assertEqual(p[3], MDNS[0])
        self.assertEqual(m["id"], 0)
        self.assertEqual(m["qd"], [])
        a = records(m)[("node1.local", T_A)]
        self.assertEqual((a.data, a.ttl, a.flush), (x.ip, 120, True))
        nsec = records(m, "ar")[("node1.local", T_NSEC)]
        self.assertEqual(nsec.data, ("node1.local", {T_A}))
        # asked again at once: the record went out less than a second ago, so not again
        mark = L.mark()
        L.send(query([("node1.local", T_A, False)]))
        p, m = L.wait(mark, is_response_from(x.ip), timeout=0.6)
        self.assertIsNone(p, "a record multicast twice within a second")

        # QU from port 5353: answered by unicast to the querier (the records were multicast
        # recently)
        y = lan.nodes[1]
        mark = L.mark()
        L.send(query([("node2._swarm._tcp.local", T_TXT, True)], qid=77))
        p, m = L.wait(mark, is_response_from(y.ip))
        self.assertIsNotNone(p, "no answer to QU")
        self.assertEqual(p[3], lan.host_ip)  # unicast
        self.assertEqual((p[2], m["id"]), (5353, 77))
        txt = records(m)[("node2._swarm._tcp.local", T_TXT)]
        self.assertEqual(txt.ttl, 4500)
        self.assertTrue(txt.flush)
        self.assertIn("app=counter", txt.data)

        # an AAAA question: a negative answer (NSEC in the answer section)
        time.sleep(1.1)
        mark = L.mark()
        L.send(query([("node3.local", T_AAAA, False)]))
        p, m = L.wait(mark, is_response_from(lan.nodes[2].ip))
        self.assertIsNotNone(p)
        self.assertEqual([(r.type, r.data) for r in m["an"]], [(T_NSEC, ("node3.local", {T_A}))])

    def test_4_browse_and_known_answers(self):
        lan, L = self.lan, self.listen
        time.sleep(1.1)
        mark = L.mark()
        L.send(query([("_swarm._tcp.local", T_PTR, False)]))
        L.wait(mark, lambda p, m: False, timeout=0.5)
        got = {}
        for p in L.since(mark):
            m = parse(p[4])
            if m["flags"] & 0x8000:
                got[p[1]] = m
        self.assertEqual(sorted(got), sorted(x.ip for x in lan.nodes))
        for x in lan.nodes:
            m = got[x.ip]
            inst = x.name + "._swarm._tcp.local"
            ptr = records(m)[("_swarm._tcp.local", T_PTR)]
            self.assertEqual((ptr.data, ptr.ttl, ptr.flush), (inst, 4500, False))  # shared: no flush
            ar = records(m, "ar")
            self.assertEqual(ar[(inst, T_SRV)].data, (0, 0, 27587, x.name + ".local"))
            self.assertTrue(ar[(inst, T_SRV)].flush)
            self.assertEqual(ar[(inst, T_SRV)].ttl, 120)
            self.assertEqual(ar[(x.name + ".local", T_A)].data, x.ip)
            self.assertIn("rpc=27587", ar[(inst, T_TXT)].data)

        # known-answer suppression: node1's and node2's PTR in the query (TTL >= half) → only
        # node3 answers; a known answer with too little TTL left does not suppress
        time.sleep(1.1)
        known = [("_swarm._tcp.local", T_PTR, 4500, enc_name("node1._swarm._tcp.local")),
                 ("_swarm._tcp.local", T_PTR, 3000, enc_name("NODE2._swarm._tcp.local")),
                 ("_swarm._tcp.local", T_PTR, 1000, enc_name("node3._swarm._tcp.local"))]
        mark = L.mark()
        L.send(query([("_swarm._tcp.local", T_PTR, False)], answers=known))
        L.wait(mark, lambda p, m: False, timeout=0.5)
        answered = sorted({p[1] for p in L.since(mark) if parse(p[4])["flags"] & 0x8000})
        self.assertEqual(answered, [lan.nodes[2].ip])

        # DNS-SD service enumeration: the record is the same on every node, so the first
        # answer stops the others' (duplicate-answer suppression, RFC 6762 §7.4)
        time.sleep(1.1)
        mark = L.mark()
        L.send(query([("_services._dns-sd._udp.local", T_PTR, False)]))
        L.wait(mark, lambda p, m: False, timeout=0.5)
        got = [parse(p[4]) for p in L.since(mark) if parse(p[4])["flags"] & 0x8000]
        self.assertTrue(1 <= len(got) <= 2, got)  # the delays (20-120 ms) may overlap
        for m in got:
            self.assertEqual(records(m)[("_services._dns-sd._udp.local", T_PTR)].data, "_swarm._tcp.local")

    def test_5_probe_announce_goodbye(self):
        """Restart node3: a goodbye (TTL 0) as it stops; then 3 probes 250 ms apart with the
        records in the authority section; then announcements 1 s apart."""
        lan, L = self.lan, self.listen
        x = lan.nodes[2]
        mark = L.mark()
        lan.stop_node(2)
        wait_for(lambda: L.since(mark, x.ip), 3, "a goodbye")
        bye = [parse(p[4]) for p in L.since(mark, x.ip)]
        got = {(r.name.lower(), r.type) for r in bye[-1]["an"]}
        self.assertIn(("node3.local", T_A), got)
        self.assertIn(("_swarm._tcp.local", T_PTR), got)
        self.assertTrue(all(r.ttl == 0 for r in bye[-1]["an"]))
        mark = L.mark()
        lan.start_node(2)
        wait_for(lambda: len([p for p in L.since(mark, x.ip) if parse(p[4])["flags"] & 0x8000]) >= 3, 8,
                 "three announcements")
        pk = [(p[0], parse(p[4])) for p in L.since(mark, x.ip)]
        probes = [(t, m) for t, m in pk if not m["flags"] & 0x8000]
        ann = [(t, m) for t, m in pk if m["flags"] & 0x8000]
        self.assertEqual(len(probes), 3, pk)
        for t, m in probes:
            self.assertEqual(sorted(q[:2] for q in m["qd"]), [("node3._swarm._tcp.local", T_ANY), ("node3.local", T_ANY)])
            self.assertTrue(all(q[2] & 0x8000 for q in m["qd"]))  # QU
            ns = records(m, "ns")
            self.assertEqual(ns[("node3.local", T_A)].data, x.ip)
            self.assertEqual(ns[("node3._swarm._tcp.local", T_SRV)].data, (0, 0, 27587, "node3.local"))
        gaps = [b[0] - a[0] for a, b in zip(probes, probes[1:])]
        self.assertTrue(all(0.2 <= g <= 0.45 for g in gaps), gaps)
        self.assertGreaterEqual(ann[0][0] - probes[-1][0], 0.2)
        agaps = [b[0] - a[0] for a, b in zip(ann, ann[1:])]
        self.assertTrue(all(0.85 <= g <= 1.4 for g in agaps[:2]), agaps)
        a = records(ann[0][1])
        self.assertTrue(a[("node3.local", T_A)].flush)
        self.assertEqual(a[("node3._swarm._tcp.local", T_TXT)].ttl, 4500)
        self.assertIn("app=blink", a[("node3._swarm._tcp.local", T_TXT)].data)
        self.assertFalse(a[("_swarm._tcp.local", T_PTR)].flush)
        self.assertEqual(sys_info(lan, 2)["mdns_name"], "node3.local")

    def test_6_conflict_after_start(self):
        """A response claiming node1.local for another address: node1 probes again; nobody
        defends the false claim, so it keeps its name (and says so in its log)."""
        lan, L = self.lan, self.listen
        x = lan.nodes[0]
        mark = L.mark()
        L.send(query(flags=0x8400, answers=[("node1.local", T_A, 120, socket.inet_aton("169.254.99.99"), 0x8001)]))
        wait_for(lambda: "conflicting record for node1.local" in lan.node_log(0), 5, "the conflict in the log")
        wait_for(lambda: len([p for p in L.since(mark, x.ip) if not parse(p[4])["flags"] & 0x8000]) >= 3, 5,
                 "node1 to probe again")
        wait_for(lambda: any(parse(p[4])["flags"] & 0x8000 for p in L.since(mark, x.ip)), 5, "node1 to announce again")
        self.assertEqual(sys_info(lan, 0)["mdns_name"], "node1.local")
        # a goodbye for the same name (TTL 0) is not a claim
        n = lan.node_log(0).count("conflicting record")
        L.send(query(flags=0x8400, answers=[("node1.local", T_A, 0, socket.inet_aton("169.254.99.98"), 0x8001)]))
        time.sleep(0.5)
        self.assertEqual(lan.node_log(0).count("conflicting record"), n)

    def test_7_bad_packets(self):
        """Garbage, truncated packets, compression loops, huge counts, mutated real packets and
        a query flood on port 5353 (unicast and multicast): every node stays up and answers.
        Malformed packets also come from port 5353 (where responses and probes are acted on);
        mutated ones, which may well be valid claims on a node's name, only from another port
        (responses from there are not mDNS, queries get legacy answers)."""
        lan, L = self.lan, self.listen
        rng = random.Random(5353)
        real = [query([("node1.local", T_A, True), ("_swarm._tcp.local", T_PTR, False)],
                      answers=[("_swarm._tcp.local", T_PTR, 4500, enc_name("node2._swarm._tcp.local"))]),
                query(flags=0x8400, answers=[("node2.local", T_A, 120, socket.inet_aton(lan.nodes[1].ip), 0x8001)]),
                query([("node3.local", T_ANY, True)], authority=[("node3.local", T_A, 120, b"\xa9\xfe\x09\x09")])]
        corpus = os.path.join(SRC, "tests", "fuzz", "corpus", "fuzz_dns")
        for f in sorted(os.listdir(corpus)):
            with open(os.path.join(corpus, f), "rb") as fh:
                real.append(fh.read())
        malformed = [b"", b"\0", b"\xff" * 11, b"\xff" * 12, b"\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff",
                     struct.pack(">6H", 0, 0, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",                 # self pointer
                     struct.pack(">6H", 0, 0, 1, 0, 0, 0) + b"\x01a\xc0\x0c\0\1\0\1",             # loop
                     struct.pack(">6H", 0, 0, 2, 0, 0, 0) + b"\xc0\x12\0\1\0\1\xc0\x0c\0\1\0\1",  # forward
                     struct.pack(">6H", 0, 0x8400, 0, 0xFFFF, 0xFFFF, 0xFFFF) + b"\0\0\1\0\1",
                     struct.pack(">6H", 0, 0, 0xFFFF, 0, 0, 0) + b"\0\0\1\0\1" * 1000,
                     struct.pack(">6H", 0, 0, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\0\0\1\0\1",  # > 255
                     os.urandom(9000), os.urandom(20000)]
        mutated = []
        for p in real:
            malformed += [p[:k] for k in range(len(p))]  # every strict prefix is malformed
            for _ in range(40):
                q = bytearray(p)
                for _ in range(rng.randint(1, 4)):
                    q[rng.randrange(len(q))] = rng.randrange(256)
                mutated.append(bytes(q))
        mutated += [os.urandom(rng.randint(0, 1500)) for _ in range(300)]
        logs = [len(lan.node_log(i)) for i in range(3)]
        legacy = lan.socket(lan.host_ns)
        legacy.bind((lan.host_ip, 0))
        for k, p in enumerate(malformed + mutated):
            for x in lan.nodes:
                legacy.sendto(p, (x.ip, 5353))
                if k < len(malformed):
                    L.send(p, (x.ip, 5353))
            (L.send if k < len(malformed) else lambda d: legacy.sendto(d, MDNS))(p)
            if k % 50 == 0:
                time.sleep(0.01)  # keep the socket buffers from overflowing
        # a flood of valid legacy queries: the node answers some (at most 50 a second) and lives
        for _ in range(2000):
            legacy.sendto(query([("node1.local", T_A, False)], qid=1), (lan.nodes[0].ip, 5353))
        legacy.close()
        time.sleep(1.2)
        for i, x in enumerate(lan.nodes):
            self.assertTrue(x.running(), "node %d died:\n%s" % (i, lan.node_log(i)[-3000:]))
            log_clean(self, lan, i)
            new = lan.node_log(i)[logs[i]:]
            self.assertNotIn("conflict", new)
            self.assertNotIn("taken", new)
            ans = answer_lines(dig(lan, x.ip, x.name + ".local"))
            self.assertEqual([a[3] for a in ans], [x.ip])
            self.assertEqual(sys_info(lan, i)["mdns_name"], x.name + ".local")
        self.assertGreater(len(malformed), 2000)

    def test_8_identity_change(self):
        """A new app name (sys.cfg + apply) is announced at once in TXT without probing; a new
        host name sends a goodbye for the old records, then probes and announces the new name."""
        lan, L = self.lan, self.listen
        x = lan.nodes[1]
        time.sleep(1.1)
        mark = L.mark()
        call(lan, 1, "sys.cfg", {"p": "board.app_name", "d": "blink"})
        call(lan, 1, "sys.cfg", {"p": None, "d": None})  # apply
        txt = ("node2._swarm._tcp.local", T_TXT)
        p, m = L.wait(mark, lambda p, m: p[1] == x.ip and txt in records(m) and "app=blink" in records(m)[txt].data,
                      timeout=3)
        self.assertIsNotNone(p, "no announcement of the new TXT")
        self.assertFalse([q for q in L.since(mark, x.ip) if not parse(q[4])["flags"] & 0x8000], "probed")

        for new, old in (("renamed", "node2"), ("node2", "renamed")):
            mark = L.mark()
            ours = lan.node_log(1).count("is ours")
            call(lan, 1, "sys.cfg", {"p": "board.host_name", "d": new})
            call(lan, 1, "sys.cfg", {"p": None, "d": None})
            wait_for(lambda: lan.node_log(1).count("is ours") > ours, 5, "the new name to be claimed")
            pk = [parse(q[4]) for q in L.since(mark, x.ip)]
            bye = [m for m in pk if m["flags"] & 0x8000 and m["an"] and all(r.ttl == 0 for r in m["an"])]
            self.assertTrue(bye and ("%s.local" % old, T_A) in records(bye[0]), pk)
            probes = [m for m in pk if not m["flags"] & 0x8000]
            self.assertEqual(len(probes), 3)
            self.assertIn(("%s.local" % new, T_ANY, 0x8001), probes[0]["qd"])
            info = sys_info(lan, 1)
            self.assertEqual((info["mdns_name"], info["host_name"]), (new + ".local", new))
            self.assertEqual([a[3] for a in answer_lines(dig(lan, x.ip, new + ".local"))], [x.ip])
        call(lan, 1, "sys.cfg", {"p": "board.app_name", "d": "counter"})
        call(lan, 1, "sys.cfg", {"p": None, "d": None})
        time.sleep(1)

    def test_9_avahi(self):
        """avahi-daemon in the host namespace resolves every node and browses the service."""
        lan = self.lan
        self.listen.close()  # avahi takes the host's port 5353 now
        with Avahi(lan) as av:
            for x in lan.nodes:
                r = av.run(["avahi-resolve", "-n", x.name + ".local"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.split(), [x.name + ".local", x.ip], r.stdout)
            r = av.run(["avahi-browse", "-rtp", "_swarm._tcp"])
            self.assertEqual(r.returncode, 0, r.stderr)
            seen = {}
            for ln in r.stdout.splitlines():
                f = ln.split(";")
                if f[0] == "=" and f[2] == "IPv4":
                    seen[f[3]] = (f[6], f[7], f[8], sorted(t.strip('"') for t in f[9].split('" "')))
            ver = sys_info(lan, 0)["node"]
            for x in lan.nodes:
                self.assertEqual(seen.get(x.name), (x.name + ".local", x.ip, "27587",
                                                    sorted(["app=" + x.app, "board=posix-sim",
                                                            "version=" + ver, "rpc=27587"])), r.stdout)
        for i in range(3):
            log_clean(self, lan, i)


class MdnsConflict(unittest.TestCase):
    """Two nodes started with the same name: one keeps it, the other becomes twin-2; a third
    started later finds both names defended and becomes twin-3. All resolvable."""

    def test_conflict(self):
        with lanlab.Lan(nodes=3, names=["t1", "t2", "t3"], node_args=lambda i: ["--name", "twin"],
                        node_config=lambda i: {"boot": {"MDNS_ENABLE": i < 2}}, name_prefix="swmdnc") as lan:
            for i in range(2):
                wait_for(lambda: "is ours" in lan.node_log(i), 10, "node %d to claim a name" % i)
            names = [sys_info(lan, i)["mdns_name"] for i in range(2)]
            self.assertEqual(sorted(names), ["twin-2.local", "twin.local"], names)
            loser = names.index("twin-2.local")
            self.assertIn("twin.local is taken", lan.node_log(loser))
            self.assertIn("trying twin-2.local", lan.node_log(loser))
            self.assertNotIn("is taken", lan.node_log(1 - loser))
            for i in range(2):  # the beacon name stays what the board says
                self.assertEqual(sys_info(lan, i)["host_name"], "twin")
            self.assertIsNone(sys_info(lan, 2)["mdns_name"])  # mDNS off there
            call(lan, 2, "sys.cfg", {"p": "boot.MDNS_ENABLE", "d": True})
            lan.restart_node(2)
            wait_for(lambda: "is ours" in lan.node_log(2), 15, "node 3 to claim a name")
            self.assertEqual(sys_info(lan, 2)["mdns_name"], "twin-3.local")
            self.assertIn("twin-2.local is taken", lan.node_log(2))
            # the first two kept theirs
            self.assertEqual(sorted(sys_info(lan, i)["mdns_name"] for i in range(2)), ["twin-2.local", "twin.local"])
            owner = {sys_info(lan, i)["mdns_name"]: lan.nodes[i].ip for i in range(3)}
            for name, ip in owner.items():
                ans = answer_lines(dig(lan, ip, name))
                self.assertEqual([a[3] for a in ans], [ip])
            # resolvable by multicast too: each name answered by its owner only (once node 3's
            # announcements are over: a record goes out at most once a second)
            time.sleep(3.2)
            L = Listener(lan)
            try:
                for name, ip in owner.items():
                    time.sleep(0.05)
                    mark = L.mark()
                    L.send(query([(name, T_A, False)]))
                    L.wait(mark, lambda p, m: False, timeout=0.4)
                    got = [(p[1], r.data) for p in L.since(mark) if parse(p[4])["flags"] & 0x8000
                           for r in parse(p[4])["an"] if r.type == T_A]
                    self.assertEqual(got, [(ip, ip)], name)
            finally:
                L.close()
            with Avahi(lan) as av:
                for name, ip in owner.items():
                    r = av.run(["avahi-resolve", "-n", name])
                    self.assertEqual(r.stdout.split(), [name, ip], r.stdout + r.stderr)
            for i in range(3):
                log_clean(self, lan, i)


# --------------------------------------------------------------------------------------------

# A private system bus for the test's avahi: anyone may own any name on it (it only carries
# avahi's own API between the daemon and avahi-utils of this test).
DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# avahi-daemon keeps its pid file and socket in the fixed /run/avahi-daemon, which the
# machine's own avahi (the normal state of a Debian host) holds: ours runs in a mount
# namespace of its own with a private /run, so both run at once.
AVAHI_SH = 'mount -t tmpfs swarm-avahi /run && exec avahi-daemon -f "$1" --no-rlimits --no-chroot'


class Avahi:
    """avahi-daemon in the lab's host namespace, on a private dbus system bus of its own
    (DBUS_SYSTEM_BUS_ADDRESS, for it and for the avahi-utils run()) and with a private /run:
    it neither needs nor touches the machine's dbus or avahi, so it also runs when those do.
    Both daemons are stopped by PID, also on failure."""

    def __init__(self, lan):
        self.lan = lan
        self.dbus = None
        self.proc = None
        self.dir = None
        self.env = None

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="swarm-avahi-")
        os.chmod(self.dir, 0o755)  # avahi-daemon reaches the bus as the user avahi
        bus = os.path.join(self.dir, "bus")
        with open(os.path.join(self.dir, "dbus.conf"), "w") as f:
            f.write(DBUS_CONF % bus)
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + bus)
        self.log = open(os.path.join(self.dir, "avahi.log"), "w+")
        self.dbus = subprocess.Popen(["dbus-daemon", "--config-file", os.path.join(self.dir, "dbus.conf"),
                                      "--nofork", "--nopidfile"], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_for(lambda: self.dbus.poll() is not None or self._bus_up(bus), 20, "the private dbus")
        if self.dbus.poll() is not None:
            raise AssertionError("dbus-daemon exited:\n" + self._log())
        conf = os.path.join(self.dir, "avahi.conf")
        with open(conf, "w") as f:
            f.write("[server]\nallow-interfaces=eth0\nuse-ipv4=yes\nuse-ipv6=no\n"
                    "[wide-area]\nenable-wide-area=no\n"
                    "[publish]\npublish-hinfo=no\npublish-workstation=no\n")
        # unshare and sh exec: the Popen's PID is avahi-daemon's
        self.proc = self.lan.popen(self.lan.host_ns, ["unshare", "--mount", "--propagation", "private",
                                                      "sh", "-c", AVAHI_SH, "sh", conf],
                                   stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.proc.poll() is not None or "Server startup complete" in self._log(), 20,
                 "avahi-daemon to start")
        if self.proc.poll() is not None:
            raise AssertionError("avahi-daemon exited:\n" + self._log())

    def _log(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    @staticmethod
    def _bus_up(path):
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return True
            except OSError:
                return False

    def run(self, argv, timeout=30):
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env)

    def __exit__(self, *exc):
        for p in (self.proc, self.dbus):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.proc = self.dbus = None
        if self.dir:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
