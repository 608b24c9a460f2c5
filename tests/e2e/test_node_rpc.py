"""swarm-node over TCP with a python3-msgpack client written from the spec: the v0 wire bytes,
every built-in command, streams and cancellation, several clients and their bound, config
persistence across a reset, the watchdog, and bad input that must never hurt the node."""
import os
import shutil
import socket
import tempfile
import time
import unittest

from swarmtest import NODATA, Client, Node, NodeTestCase, RemoteError, pack


class WireBytes(NodeTestCase):
    def test_link_then_v0_ping_bytes(self):
        # A fresh raw connection: the first bytes are the link message, exactly.
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
        try:
            got = b""
            while len(got) < 11:
                got += s.recv(11 - len(got))
            self.assertEqual(got.hex(), "82a164c3a161a46c696e6b")
            s.sendall(bytes.fromhex("83a161a470696e67a16481a16da178a16901"))
            want = bytes.fromhex("82a164a3523a78a16901")
            got = b""
            while len(got) < len(want):
                got += s.recv(64)
            self.assertEqual(got.hex(), want.hex())
        finally:
            s.close()

    def test_ping_forms(self):
        self.assertEqual(self.c.call("ping", {"m": "x"}), "R:x")
        self.assertEqual(self.c.call("ping", "pong"), "R:pong")  # d as a single value
        self.assertEqual(self.c.call("ping", {}), "R:None")
        self.assertEqual(self.c.call("ping", {"m": 5}), "R:5")


class Commands(NodeTestCase):
    def test_dir_with_docs(self):
        root = self.c.call("_dir")
        self.assertIn("ping", root["c"])
        self.assertIn("sys", root["d"])
        self.assertIn("f", root["d"])
        self.assertFalse(root["j"])
        sysd = self.c.call("sys._dir")
        for cmd in ("is_up", "wdt", "cfg", "info", "mem", "machid", "boot", "reset", "stop",
                    "unproxy", "state", "eval", "load"):
            self.assertIn(cmd, sysd["c"])
            self.assertTrue(sysd["h"][cmd], "no doc line for sys." + cmd)

    def test_string_sub_dispatch(self):
        # v0: "fdir" has no command of that name → "f" + "dir"
        self.assertIsInstance(self.c.call("fdir", {"p": ""}), list)
        self.assertIn("open", self.c.call("f_dir")["c"])  # "f" + "_dir"
        self.assertIn("open", self.c.call("f")["c"])      # a directory lists itself

    def test_unknown_path_names_it(self):
        with self.assertRaises(RemoteError) as e:
            self.c.call("sys.nosuch")
        self.assertEqual(str(e.exception), "NoPath: sys.nosuch")
        with self.assertRaises(RemoteError) as e:
            self.c.call("zz.top")
        self.assertIn("zz.top", str(e.exception))

    def test_is_up_sends_link(self):
        seq = self.c.request("sys.is_up")
        self.assertEqual(self.c.read_note(), {"d": True, "a": "link"})
        self.assertIsNone(self.c.answer(seq)["d"])

    def test_info_mem_machid_test(self):
        info = self.c.call("sys.info")
        self.assertEqual(info["host_name"], "t1")
        self.assertGreaterEqual(info["uptime_ms"], 0)
        mem = self.c.call("sys.mem")
        self.assertGreater(mem["used"], 0)
        self.assertLess(mem["used"], 64 << 20)
        mid = self.c.call("sys.machid")
        self.assertIsInstance(mid, bytes)
        self.assertGreaterEqual(len(mid), 8)
        self.assertEqual(self.c.call("sys.machid"), mid)
        self.assertEqual(self.c.call("sys.test"), b"r\rn\n-\x00x\x0ce\x1b!")

    def test_state(self):
        st = self.c.call("sys.state")
        self.assertIsNone(st["n"])
        st = self.c.call("sys.state", {"state": "once"})
        self.assertEqual(st["n"], "once")
        self.assertEqual(self.c.call("sys.state")["n"], "once")

    def test_log(self):
        out = self.c.call("sys.log", {"n": 100000})
        self.assertIn("ready", out["d"])
        more = self.c.call("sys.log", {"p": out["p"]})
        self.assertEqual(more["p"], out["p"] + len(more["d"].encode()))

    def test_reset_codes(self):
        for cmd in ("sys.boot", "sys.reset", "sys.stop"):
            with self.assertRaises(RemoteError):
                self.c.call(cmd, {"code": "wrong"})
        self.assertEqual(self.c.call("ping", {"m": 1}), "R:1")  # still alive


class Config(NodeTestCase):
    def test_read_part_form(self):
        top = self.c.call("sys.cfg", {"p": []})
        simple, complex_keys = top
        self.assertIsInstance(simple, dict)
        for k in ("board", "boot", "wdt", "rpc", "limits"):
            self.assertIn(k, complex_keys)
        board = self.c.call("sys.cfg", {"p": ["board"]})
        self.assertEqual(board[0]["host_name"], "t1")
        self.assertEqual(self.c.call("sys.cfg", {"p": ["wdt", "t"]}), 10)
        ips = self.c.call("sys.cfg", {"p": ["boot", "BEACON_DESTINATION_IPS"]})
        self.assertEqual(ips, [["255.255.255.255"], []])
        with self.assertRaises(RemoteError):
            self.c.call("sys.cfg", {"p": ["nosuch", "x"]})

    def test_write_delete_persist_across_reset(self):
        self.assertIsNone(self.c.call("sys.cfg", {"p": ["app", "color"], "d": "blue"}))
        self.assertIsNone(self.c.call("sys.cfg", {"p": ["extra"], "d": {"a": [1, 2, {"b": True}]}}))
        self.assertEqual(self.c.call("sys.cfg", {"p": ["app", "color"]}), "blue")
        self.assertIsNone(self.c.call("sys.cfg", {"p": ["extra", "a", 3], "d": 4}))  # append
        self.assertEqual(self.c.call("sys.cfg", {"p": ["extra", "a"]}), [[1, 2, None, 4], [2]])
        self.assertIsNone(self.c.call("sys.cfg", {"p": ["extra", "a", 0], "d": NODATA}))
        self.assertEqual(self.c.call("sys.cfg", {"p": ["extra", "a"]}), [[2, None, 4], [1]])
        self.assertTrue(self.c.call("sys.boot", {"code": "SysBooT"}))
        self.assertEqual(self.c.read_note(), {"d": False, "a": "link"})
        self.c.close()
        time.sleep(0.3)
        self.node.wait_port()
        c = self.node.client()
        self.addCleanup(c.close)
        self.assertEqual(c.call("sys.cfg", {"p": ["app", "color"]}), "blue")
        self.assertEqual(c.call("sys.cfg", {"p": ["extra", "a"]}), [[2, None, 4], [1]])
        self.assertIn("reset: sys.boot", self.node.read_log())

    def test_apply(self):
        self.assertTrue(self.c.call("sys.cfg", {"p": None, "d": None}))

    def test_bad_config_writes(self):
        with self.assertRaises(RemoteError):
            self.c.call("sys.cfg", {"p": ["wdt", "t", "x"], "d": 1})  # through a scalar
        with self.assertRaises(RemoteError):
            self.c.call("sys.cfg", {"p": 5, "d": 1})
        # the tree is bounded (32 KiB): fill it with entries that each fit a message
        with self.assertRaises(RemoteError) as e:
            for k in range(8):
                self.c.call("sys.cfg", {"p": ["big%d" % k], "d": "x" * 12000})
        self.assertIn("ETOOBIG", str(e.exception))
        self.assertGreaterEqual(k, 1)
        self.assertEqual(self.c.call("sys.cfg", {"p": ["wdt", "t"]}), 10)

    def test_print_config_matches(self):
        self.c.call("sys.cfg", {"p": ["app", "color"], "d": "red"})
        import json
        import subprocess
        from swarmtest import NODE_BIN
        out = subprocess.run([NODE_BIN, "--root", self.node.root, "--print-config"],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        cfg = json.loads(out.stdout)
        self.assertEqual(cfg["app"]["color"], "red")
        self.assertEqual(cfg["board"]["host_name"], "t1")


class Streams(NodeTestCase):
    def test_stream_and_cancel(self):
        seq = self.c.request("sys.info", r=50)
        t0 = time.monotonic()
        vals = []
        while len(vals) < 4:
            m = self.c.answer(seq)
            self.assertEqual(m["i"], seq)
            vals.append(m)
        self.assertEqual([m["n"] for m in vals], [1, 2, 3, 4])
        self.assertGreaterEqual(time.monotonic() - t0, 0.1)
        self.c.send({"i": seq})  # cancel
        self.assertEqual(self.c.call("ping", {"m": "after"}), "R:after")
        time.sleep(0.2)
        late = [m for m in self.c.backlog if m.get("i") == seq]
        self.c.backlog.clear()
        self.assertLessEqual(len(late), 1)
        self.c.sock.settimeout(0.3)
        with self.assertRaises((TimeoutError, socket.timeout)):
            self.c.answer(seq, timeout=0.3)

    def test_stream_bound(self):
        seqs = [self.c.request("sys.info", r=1000) for _ in range(16)]
        extra = self.c.request("sys.info", r=1000)
        m = self.c.answer(extra)
        self.assertIn("too many streams", m["e"])
        for s in seqs:
            self.c.send({"i": s})
        self.assertEqual(self.c.call("ping", {"m": 1}), "R:1")


class Clients(unittest.TestCase):
    def test_several_clients_and_the_bound(self):
        with Node(name="multi") as node:
            clients = [node.client() for _ in range(8)]
            try:
                for k, c in enumerate(clients):
                    self.assertEqual(c.call("ping", {"m": k}), "R:%d" % k)
                over = Client(node.port)
                note = over.read_note()
                self.assertEqual(note["a"], "error")
                self.assertIn("too many clients", note["d"])
                with self.assertRaises((ConnectionError, TimeoutError, OSError)):
                    over.read(timeout=3)
                over.close()
                clients.pop().close()
                time.sleep(0.2)
                c = node.client()
                clients.append(c)
                self.assertEqual(c.call("ping", {"m": "back"}), "R:back")
                self.assertIn("refused", node.read_log())
            finally:
                for c in clients:
                    c.close()


    def test_hundreds_of_clients(self):
        # Issue 16: limits.clients goes up to 1,024, but the POSIX port refused every
        # connection past 256 of its own (SW_POSIX_CONNS) and never raised the limit on open
        # files. 300 clients, each answered, all connected at once.
        root = tempfile.mkdtemp(prefix="swarm-e2e-")
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack({"limits": {"clients": 400}}))
        with Node(root=root, name="crowd") as node:
            clients = []
            try:
                for k in range(300):
                    clients.append(node.client())
                for k, c in enumerate(clients):
                    self.assertEqual(c.call("ping", {"m": k}), "R:%d" % k)
                self.assertNotIn("refusing a connection", node.read_log())
            finally:
                for c in clients:
                    c.close()
        shutil.rmtree(root, ignore_errors=True)


class Watchdog(unittest.TestCase):
    def test_feed_keeps_alive_then_expiry_resets(self):
        with Node(name="wdt") as node:
            c = node.client()
            try:
                with self.assertRaises(RemoteError) as e:
                    c.call("sys.wdt")
                self.assertEqual(str(e.exception), "No WDT")
                self.assertTrue(c.call("sys.wdt", {"t": 1}))
                with self.assertRaises(RemoteError) as e:
                    c.call("sys.wdt", {"t": 1})
                self.assertEqual(str(e.exception), "WDT exists")
                for _ in range(6):  # 3 s of feeding every 0.5 s: no reset
                    time.sleep(0.5)
                    self.assertTrue(c.call("sys.wdt"))
                self.assertNotIn("watchdog expired", node.read_log())
                node.wait_log("watchdog expired", timeout=5)  # stop feeding: bites after 1.5 s
            finally:
                c.close()
            node.wait_log("ready")
            time.sleep(0.5)
            node.wait_port()
            c = node.client()
            self.assertEqual(c.call("ping", {"m": "again"}), "R:again")
            self.assertFalse(c.call("sys.info")["wdt"])
            c.close()

    def test_autostart_without_free_feeds(self):
        with Node(name="wdt2") as node:
            c = node.client()
            c.call("sys.cfg", {"p": ["wdt"], "d": {"t": 1, "s": 1, "n": -1}})
            c.call("sys.boot", {"code": "SysBooT"})
            c.close()
            node.wait_log("watchdog: started at boot phase 1")
            node.wait_log("watchdog expired", timeout=10)


class BadInput(NodeTestCase):
    def assert_alive(self):
        with self.node.client() as c:
            self.assertEqual(c.call("ping", {"m": "ok"}), "R:ok")

    def raw(self, data, expect_close=False):
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
        try:
            s.recv(64)  # link message
            s.sendall(data)
            s.settimeout(1.0)
            try:
                while s.recv(65536):
                    pass
            except (socket.timeout, ConnectionError):
                pass
        finally:
            s.close()

    def test_garbage_and_reserved_bytes(self):
        self.raw(os.urandom(5000))
        self.raw(b"\xc1" * 10)
        self.raw(bytes(range(256)) * 20)
        self.assert_alive()

    def test_malformed_messages_get_errors(self):
        self.c.send({"a": ["sys", 5], "d": {}, "i": 77})
        self.assertIn("EPROTO", self.c.read()["e"])
        self.c.send({"a": "ping", "d": {}, "i": "x"})  # seq of the wrong type: no reply possible
        self.c.send({"a": ["x"] * 50, "d": {}, "i": 78})
        self.assertIn("ETOOBIG", self.c.answer(78)["e"])
        self.c.send([1, 2, 3])
        self.c.send("just a string")
        self.assertEqual(self.c.call("ping", {"m": 3}), "R:3")

    def test_wrong_argument_types(self):
        for action, d in (("sys.wdt", {"t": "x"}), ("sys.state", {"state": 5}),
                          ("sys.cfg", {"p": {"a": 1}}), ("sys.unproxy", {"p": 7}),
                          ("sys.log", {"p": "x"}), ("sys.boot", {"code": 5})):
            with self.assertRaises(RemoteError, msg=action):
                self.c.call(action, d)
        self.assert_alive()

    def test_huge_lengths_deep_nesting_oversize(self):
        self.raw(b"\xdb\xff\xff\xff\xff" + b"x" * 100)  # str32 of 4 GiB: skipped as oversize
        self.raw(b"\xdd\xff\xff\xff\xff")               # array32 of 4 G items, then nothing
        self.raw(b"\x91" * 100000)                      # deeper than any bound
        self.raw(pack({"a": "ping", "d": {"m": "x" * 100000}, "i": 1}))  # over limits.msg
        big = pack({"a": "ping", "d": {"m": "x" * 100000}, "i": 5}) + pack({"a": "ping", "d": {"m": "y"}, "i": 6})
        self.c.send_raw(big)  # the oversize one is skipped, the next one answered
        self.assertEqual(self.c.answer(6)["d"], "R:y")
        self.assert_alive()

    def test_truncated_then_close(self):
        self.raw(pack({"a": "ping", "d": {"m": "x"}, "i": 1})[:-3])
        self.assert_alive()

    def test_slow_client_does_not_block_others(self):
        # A client that sends many requests and never reads: the node stops reading from it
        # (bounded memory) while others are served.
        s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            req = b"".join(pack({"a": "sys.log".split("."), "d": {"n": 8000}, "i": k}) for k in range(1, 3000))
            s.setblocking(False)
            sent = 0
            t0 = time.monotonic()
            while sent < len(req) and time.monotonic() - t0 < 5:
                try:
                    sent += s.send(req[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.01)
            for k in range(5):
                self.assertEqual(self.c.call("ping", {"m": k}), "R:%d" % k)
            mem = self.c.call("sys.mem")
            self.assertLess(mem["used"], 200 << 20)
        finally:
            s.close()
        self.assert_alive()

    def test_many_connections_churn(self):
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", self.node.port), timeout=5)
            s.close()
        self.assert_alive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
