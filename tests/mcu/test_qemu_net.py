"""The firmware on a LAN: QEMU's LAN9118 on a tap in a network namespace the test creates, the
node's lwIP stack taking a link-local address with AutoIP, then the real host tools inside the
namespace: `swarm call tcp://ADDR` (ping, sys.info), `swarm scan` (the node's beacon and its
answer to the query), `dig` against the node's own mDNS responder; two guests with their own
MACs get their own names and addresses, and a guest whose first AutoIP candidate is taken
backs off to another (RFC 3927 probing); many pipelined requests on one TCP connection with
a client that does not read for a while are all answered, in order (backpressure through
lwIP's send buffer and receive window)."""
import json
import os
import socket
import threading
import time
import unittest

import qemu
from qemu import netns

MAC_A = "52:54:00:5a:00:11"
MAC_B = "52:54:00:5a:00:12"


def host_of(mac):
    return "swarm-%s" % "".join(mac.split(":")[4:6])


class Net(unittest.TestCase):
    def test_rpc_scan_mdns(self):
        with qemu.NetLab() as lab:
            g = lab.guest(MAC_A)
            addr = g.address()
            self.assertNotEqual(addr, lab.host_ip)
            name = host_of(MAC_A)

            rc, out, err = lab.swarm("call", "--json", "tcp://" + addr, "ping", "m=over-lwip")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out), "R:over-lwip")

            rc, out, err = lab.swarm("call", "--json", "tcp://" + addr, "sys.info")
            self.assertEqual(rc, 0, err)
            info = json.loads(out)
            self.assertEqual(info["host_name"], name)
            self.assertEqual(info["platform"], "mps2-an385 cortex-m3")
            ram = info["hw"]["ram"]
            self.assertLessEqual(ram["static"] + ram["heap_size"] + ram["stack_size"], 96 * 1024)

            # the beacon and the answer to scan's query: the node is listed with its address
            rc, out, err = lab.swarm("scan", "--json", "--no-cache", "--wait-for", "1", "--timeout", "5s")
            self.assertEqual(rc, 0, err)
            devs = {d["host"]: d for d in json.loads(out)}
            self.assertIn(name, devs, out)
            self.assertEqual(devs[name]["ip"], addr)
            self.assertEqual(devs[name]["rpc_port"], 27587)
            # what mcu-full offers: RPC and mDNS; FTP, telnet and remote eval are not built in
            self.assertEqual(devs[name]["services"],
                             {"rpc": 27587, "ftp": False, "telnet": False, "eval": False, "mdns": True})

            # mDNS: the node's responder, once it has claimed its name; dig asks by unicast to
            # port 5353 (a legacy query, RFC 6762 §6.7) and gets A and the service's PTR
            g.wait_line(r"mdns: %s\.local is ours" % name)
            rc, out, err = lab.run(["dig", "+short", "+time=2", "+tries=3", "@" + addr, "-p", "5353",
                                    name + ".local", "A"])
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.split(), [addr])
            rc, out, err = lab.run(["dig", "+short", "+time=2", "+tries=3", "@" + addr, "-p", "5353",
                                    "_swarm._tcp.local", "PTR"])
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.split(), [name + "._swarm._tcp.local."])

    def test_mdns_multicast(self):
        # a real mDNS question sent to the group 224.0.0.251: lwIP passes it up only for a group
        # the node has joined (IGMP). It asks for a unicast reply (QU, RFC 6762 §5.4) and this
        # socket is in no group, so the node's own announcements to the group cannot be taken
        # for the answer; the answer echoes the question's ID. (The bridge does not record
        # 224.0.0.x memberships, link-local groups are always flooded, so the IGMP report
        # itself is not checked there.)
        import struct
        with qemu.NetLab() as lab:
            g = lab.guest(MAC_A)
            addr = g.address()
            name = host_of(MAC_A)
            g.wait_line(r"mdns: %s\.local is ours" % name)
            with netns(lab.ns):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("0.0.0.0", 5353))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(lab.host_ip))
                s.settimeout(1)
                qname = b"".join(bytes([len(x)]) + x for x in (name.encode(), b"local")) + b"\0"
                answer = None
                for qid in range(0x4d00, 0x4d05):
                    query = struct.pack(">6H", qid, 0, 1, 0, 0, 0) + qname + struct.pack(">2H", 1, 0x8001)
                    s.sendto(query, ("224.0.0.251", 5353))
                    try:
                        while answer is None:
                            data, src = s.recvfrom(2048)
                            if src[0] == addr and data[:2] == struct.pack(">H", qid) and data[2] & 0x80:
                                answer = data
                    except socket.timeout:
                        continue
                    break
                self.assertIsNotNone(answer, "no answer from %s to a question sent to the group" % addr)
                self.assertIn(qname, answer)
                self.assertIn(socket.inet_aton(addr), answer)
            finally:
                s.close()

    def test_two_guests_own_names_and_addresses(self):
        # the host side holds guest A's first AutoIP candidate: A must find it taken (ARP probe
        # answered) and settle elsewhere
        taken = qemu.autoip_seed(MAC_A)
        with qemu.NetLab(host_ip=taken) as lab:
            a = lab.guest(MAC_A)
            b = lab.guest(MAC_B)
            addr_a, addr_b = a.address(), b.address()
            self.assertNotEqual(addr_a, taken)
            self.assertNotEqual(addr_a, addr_b)
            self.assertEqual(addr_b, qemu.autoip_seed(MAC_B))
            for addr, mac in ((addr_a, MAC_A), (addr_b, MAC_B)):
                rc, out, err = lab.swarm("call", "--json", "tcp://" + addr, "sys.info")
                self.assertEqual(rc, 0, err)
                self.assertEqual(json.loads(out)["host_name"], host_of(mac))
            rc, out, err = lab.swarm("scan", "--json", "--no-cache", "--wait-for", "2", "--timeout", "5s")
            self.assertEqual(rc, 0, err)
            found = {d["host"]: d["ip"] for d in json.loads(out)}
            self.assertEqual(found, {host_of(MAC_A): addr_a, host_of(MAC_B): addr_b})

    def test_watchdog_resets_when_not_fed(self):
        # sys.wdt t=5 starts the node's watchdog (docs/PROTOCOL.md, "Watchdog"; a manual start
        # gives no free feeds); while the host feeds it nothing happens, once it stops the node
        # resets 1.5 t after the last feed: the port resets the chip, the firmware boots again
        with qemu.NetLab() as lab:
            g = lab.guest(MAC_A)
            addr = g.address()
            uri = "tcp://" + addr
            rc, out, err = lab.swarm("call", "--json", uri, "sys.wdt", "t=5")
            self.assertEqual(rc, 0, err)
            rc, out, err = lab.swarm("call", "--json", uri, "sys.info")
            self.assertEqual(rc, 0, err)
            self.assertTrue(json.loads(out)["wdt"])
            for _ in range(3):
                rc, out, err = lab.swarm("call", "--json", uri, "sys.wdt")
                self.assertEqual(rc, 0, err)
            fed = len(g.out)
            self.assertFalse([l for l in g.out if "watchdog expired" in l], "reset while being fed")
            self.assertEqual(sum("swarm-node 0.1.0 starting" in l for l in g.out), 1)
            g.wait_line(r"watchdog expired", timeout=60, start=fed)
            after = len(g.out)
            g.wait_line(r"swarm-node 0\.1\.0 starting", timeout=30, start=after)
            g.wait_line(r"^net: \w+ 169\.254\.\d+\.\d+ \(AutoIP\)", timeout=60, start=after)
            rc, out, err = lab.swarm("call", "--json", uri, "sys.info")
            self.assertEqual(rc, 0, err)
            info = json.loads(out)
            self.assertFalse(info["wdt"])  # the new boot has not started one
            self.assertLess(info["uptime_ms"], 60000)

    def test_connections_come_and_go(self):
        # limits.clients is 1 on mcu-full: a second client is refused while the first is
        # connected; clients that vanish (FIN, or RST with requests unread) leave nothing
        # behind: lwIP has 3 TCP PCBs, so a leak shows within a few rounds
        import struct
        import msgpack
        req = msgpack.packb({"a": "ping", "d": {"m": "x"}, "i": 1})
        with qemu.NetLab() as lab:
            g = lab.guest(MAC_A)
            addr = g.address()

            def connect():
                with netns(lab.ns):
                    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.settimeout(30)
                c.connect((addr, 27587))
                return c

            def answered(c):
                c.sendall(req)
                up = msgpack.Unpacker(raw=False)
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        return False
                    up.feed(chunk)
                    for m in up:
                        if m.get("i") == 1:
                            return m.get("d") == "R:x"

            first = connect()
            self.assertTrue(answered(first))
            second = connect()  # lwIP accepts, the node refuses: closed without an answer
            self.assertFalse(answered(second))
            second.close()
            first.close()
            for k in range(12):
                c = connect()
                self.assertTrue(answered(c), "round %d" % k)
                if k % 2:  # a reset, with requests the node has not read yet
                    c.sendall(req * 40)
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            rc, out, err = lab.swarm("call", "--json", "tcp://" + addr, "sys.info")
            self.assertEqual(rc, 0, err)

    def test_pipelined_requests_with_a_slow_reader(self):
        import msgpack
        n = 300
        with qemu.NetLab() as lab:
            g = lab.guest(MAC_A)
            addr = g.address()
            with netns(lab.ns):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # small kernel buffers on this side, so the replies and requests in flight cannot
            # all be parked in the host's kernel
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            s.settimeout(60)
            s.connect((addr, 27587))
            try:
                reqs = b"".join(msgpack.packb({"a": "ping", "d": {"m": "%05d" % i + "x" * 200}, "i": i + 1})
                                for i in range(n))
                # more than the node's send buffer and receive window together: it has to stop
                # reading while its replies wait for this client
                self.assertGreater(len(reqs), 8 * 2920)
                sent = threading.Event()

                def writer():
                    s.sendall(reqs)
                    sent.set()

                threading.Thread(target=writer, daemon=True).start()
                # not reading: the writer stalls once both directions are full
                self.assertFalse(sent.wait(2), "the node took every request without its replies being read")
                up = msgpack.Unpacker(raw=False)
                order = []
                while len(order) < n:
                    try:
                        chunk = s.recv(4096)
                    except socket.timeout:
                        self.fail("no reply after %d of %d; guest output:\n%s"
                                  % (len(order), n, "\n".join(g.out[-15:])))
                    if not chunk:
                        break
                    up.feed(chunk)
                    for m in up:
                        self.assertIsInstance(m, dict)
                        if "a" in m:  # the node's own messages ({"a": "link", "d": true})
                            continue
                        order.append(m.get("i"))
                        self.assertEqual(m.get("d"), "R:%05d" % (m["i"] - 1) + "x" * 200)
                self.assertEqual(order, list(range(1, n + 1)), "guest output:\n" + "\n".join(g.out[-15:]))
                self.assertTrue(sent.wait(30))
            finally:
                s.close()


if __name__ == "__main__":
    qemu.require()
    qemu.require_netns()
    unittest.main()
