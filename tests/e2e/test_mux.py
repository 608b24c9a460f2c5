"""The multiplexer (swarm mux, src/host/mux.c) and swarm console against real swarm-node
processes: 32 clients x 1000 calls with every answer checked against its request; the node
killed and restarted behind the mux (link false/true, ECLOSED for calls in flight, the mux
lives on); streams cancelled by a client and by its disconnect (the node's stream table must
not fill up); every CLI command giving the same output through the mux as directly; mplex.*;
watchdog feeding; the socket's life cycle; and a serial device (socat pty pair, lossless and
lossy) whose console text arrives intact in `swarm console unix://...` while calls flow."""
import json
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from swarmtest import (SWARM_BIN, Client, Node, PtyPairTestCase, RemoteError, check_repl, pack, swarm_running,
                       unpacker)


def swarm(*args, timeout=30, input=None):
    return subprocess.run([SWARM_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


class MuxClient(Client):
    """swarmtest.Client over the mux's Unix socket."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.unp = unpacker()
        self.seq = 0
        self.notes = []
        self.console = bytearray()
        self.backlog = []
        self.timeout = timeout


class Mux:
    """A `swarm mux` process; stop() checks that it exits 0 and removes its socket."""

    def __init__(self, link, *extra, sock=None):
        self.tmp = tempfile.mkdtemp(prefix="swarm-mux-")
        self.sock = sock or os.path.join(self.tmp, "mux.sock")
        self.uri = "unix://" + self.sock
        self.logfile = os.path.join(self.tmp, "mux.log")
        self.log = open(self.logfile, "wb")
        self.proc = subprocess.Popen([SWARM_BIN, "mux", "-v", "--link", link, "--socket", self.sock,
                                      *extra], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while "serving " not in self.read_log():  # (a stale socket file may be there already)
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mux did not start:\n" + self.read_log())
            time.sleep(0.02)

    def read_log(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode(errors="replace")

    def client(self, up=True, timeout=10.0):
        c = MuxClient(self.sock, timeout=timeout)
        note = c.read_note()
        if up is not None:
            deadline = time.monotonic() + timeout
            while note != {"d": up, "a": "link"} and time.monotonic() < deadline:
                note = c.read_note()  # (the device link may be on its way up)
            assert note == {"d": up, "a": "link"}, note
        return c

    def info(self):
        with self.client(up=None) as c:
            return c.call("mplex.info")

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("mux did not stop:\n" + self.read_log())
        self.log.close()
        gone = not os.path.exists(self.sock)
        text = self.read_log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert rc == 0, "mux exited with %s:\n%s" % (rc, text)
        assert gone, "mux left its socket behind"
        return text


class MuxTestCase(unittest.TestCase):
    MUX_ARGS = ("--backoff", "200ms", "--backoff-max", "500ms")
    NODE_ARGS = {}

    def setUp(self):
        self.node = Node(**self.NODE_ARGS)
        self.addCleanup(self.node.stop)
        self.node.start()
        self.mux = Mux("tcp://127.0.0.1:%d" % self.node.port, *self.MUX_ARGS)
        self.addCleanup(self.stop_mux)

    def stop_mux(self):
        if not self.mux.log.closed:
            self.mux.stop()


class Concurrent(MuxTestCase):
    CLIENTS, CALLS, WINDOW = 32, 1000, 4

    def setUp(self):
        # every client's streams share the node's stream table of the one link (16 by default)
        root = tempfile.mkdtemp(prefix="swarm-e2e-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack({"limits": {"streams": 64}}))
        self.NODE_ARGS = {"root": root}
        super().setUp()

    def test_32_clients_1000_calls_each(self):
        """Pipelined (WINDOW requests in flight per client), one selector loop for all
        clients. Pings carry a unique m ("c7-n512"), every 50th call is sys.info, every 100th a
        stream of that ping cancelled after 3 values: every answer must be the one its
        request asked for."""
        clients = [self.mux.client() for _ in range(self.CLIENTS)]
        for c in clients:
            self.addCleanup(c.close)
        sel = selectors.DefaultSelector()
        state = []
        for k, c in enumerate(clients):
            c.sock.setblocking(False)
            st = {"k": k, "c": c, "next": 0, "done": 0, "seq": 0, "flight": {}, "cancelled": {},
                  "buf": bytearray()}
            state.append(st)
            sel.register(c.sock, selectors.EVENT_READ, st)
        bad = []

        def send_more(st):
            out = []
            while len(st["flight"]) < self.WINDOW and st["next"] < self.CALLS:
                n = st["next"]
                st["next"] += 1
                st["seq"] += 1
                seq = st["seq"]
                m = "c%d-n%d" % (st["k"], n)
                if n % 100 == 13:
                    out.append({"a": "ping", "d": {"m": m}, "i": seq, "r": 5})
                    st["flight"][seq] = ("stream", "R:" + m, [0])
                elif n % 50 == 7:
                    out.append({"a": ["sys", "info"], "d": {}, "i": seq})
                    st["flight"][seq] = ("info", self.node.name, None)
                else:
                    out.append({"a": "ping", "d": {"m": m}, "i": seq})
                    st["flight"][seq] = ("ping", "R:" + m, None)
            if out:
                st["c"].sock.setblocking(True)
                st["c"].sock.sendall(b"".join(pack(x) for x in out))
                st["c"].sock.setblocking(False)

        def handle(st, msg):
            if not isinstance(msg, dict) or "i" not in msg:
                if msg != {"d": True, "a": "link"}:
                    bad.append((st["k"], "unexpected", msg))
                return
            seq = msg["i"]
            if seq in st["cancelled"]:  # a value already on its way when we cancelled
                if msg.get("d") != st["cancelled"][seq]:
                    bad.append((st["k"], "late value mismatch", msg))
                return
            want = st["flight"].get(seq)
            if want is None:
                bad.append((st["k"], "unknown seq", msg))
                return
            kind, expect, count = want
            if "e" in msg:
                bad.append((st["k"], "error", msg))
                del st["flight"][seq]
                st["done"] += 1
                return
            if kind == "info":
                ok = isinstance(msg.get("d"), dict) and msg["d"].get("host_name") == expect
            else:
                ok = msg.get("d") == expect
            if not ok:
                bad.append((st["k"], "mismatch", kind, expect, msg))
            if kind == "stream":
                if msg.get("n") != count[0] + 1:
                    bad.append((st["k"], "stream counter", msg))
                count[0] += 1
                if count[0] < 3:
                    return
                st["c"].sock.setblocking(True)
                st["c"].sock.sendall(pack({"i": seq}))
                st["c"].sock.setblocking(False)
                st["cancelled"][seq] = expect
            del st["flight"][seq]
            st["done"] += 1

        t0 = time.monotonic()
        for st in state:
            send_more(st)
        deadline = t0 + 120
        total = self.CLIENTS * self.CALLS
        while sum(st["done"] for st in state) < total and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                st = key.data
                data = st["c"].sock.recv(65536)
                self.assertTrue(data, "the mux closed client %d" % st["k"])
                st["c"].unp.feed(data)
                for msg in st["c"].unp:
                    handle(st, msg)
                send_more(st)
        took = time.monotonic() - t0
        done = sum(st["done"] for st in state)
        self.assertEqual(bad[:10], [])
        self.assertEqual(done, total, "lost answers: %d of %d after %.1f s" % (total - done, total, took))
        # every call is finished at the mux too (the cancelled streams included)
        deadline = time.monotonic() + 5
        while True:
            info = self.mux.info()
            if info["stats"]["in_flight"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(info["stats"]["in_flight"], 0, info)
        self.assertGreaterEqual(info["stats"]["requests"], total)
        self.assertEqual(info["stats"]["errors"], 0, info)
        print("\n%d calls through the mux by %d clients in %.2f s (%.0f calls/s)"
              % (total, self.CLIENTS, took, total / took))


class LinkLoss(MuxTestCase):
    def test_kill_and_restart_node(self):
        a = self.mux.client()
        b = self.mux.client()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertEqual(a.call("ping", {"m": "before"}), "R:before")
        stream = a.request("ping", {"m": "s"}, r=50)
        self.assertEqual(a.answer(stream)["d"], "R:s")
        # calls in flight: the node is frozen, then killed
        self.node.proc.send_signal(signal.SIGSTOP)
        seqs = [b.request("ping", {"m": "x%d" % k}) for k in range(5)]
        time.sleep(0.2)
        self.node.kill(signal.SIGKILL)
        for seq in seqs:
            m = b.answer(seq)
            self.assertEqual(m, {"e": "ECLOSED: device link lost", "i": seq})
        while True:  # stream values sent before the kill may precede the error
            m = a.answer(stream)
            if "n" not in m:
                break
        self.assertEqual(m, {"e": "ECLOSED: device link lost", "i": stream})
        for c in (a, b):
            self.assertEqual(c.read_note(), {"d": False, "a": "link"})
        # while it is down: a clear error at once, the clients stay connected
        with self.assertRaises(RemoteError) as cm:
            a.call("ping", {"m": "down"})
        self.assertIn("ECLOSED: device link down", str(cm.exception))
        self.assertFalse(self.mux.info()["up"])
        # the node comes back on the same port: link true, calls work again
        self.node.log.close()
        self.node.start()
        for c in (a, b):
            self.assertEqual(c.read_note(timeout=10), {"d": True, "a": "link"})
        self.assertEqual(a.call("ping", {"m": "after"}), "R:after")
        self.assertEqual(b.call("ping", {"m": "after2"}), "R:after2")
        info = self.mux.info()
        self.assertTrue(info["up"])
        self.assertEqual(info["stats"]["link_downs"], 1)
        self.assertEqual(info["stats"]["link_ups"], 2)
        self.assertIsNone(self.mux.proc.poll())
        log = self.mux.read_log()
        self.assertIn("device link down", log)

    def test_mux_starts_before_the_node(self):
        self.node.stop()
        port = self.node.port
        mux = Mux("tcp://127.0.0.1:%d" % port, "--backoff", "100ms", "--backoff-max", "200ms")
        try:
            c = mux.client(up=False)
            with self.assertRaises(RemoteError):
                c.call("ping")
            node = Node(port=port)
            node.start()
            try:
                self.assertEqual(c.read_note(timeout=10), {"d": True, "a": "link"})
                self.assertEqual(c.call("ping", {"m": "late"}), "R:late")
            finally:
                c.close()
                node.stop()
        finally:
            mux.stop()


class Streams(MuxTestCase):
    def test_stream_and_cancel(self):
        a = self.mux.client()
        self.addCleanup(a.close)
        seq = a.request("ping", {"m": "v"}, r=20)
        got = [a.answer(seq) for _ in range(3)]
        self.assertEqual([(m["d"], m["n"]) for m in got], [("R:v", 1), ("R:v", 2), ("R:v", 3)])
        a.send({"i": seq})
        time.sleep(0.2)
        a.backlog.clear()
        a.unp = unpacker()
        a.sock.settimeout(0.5)
        try:
            a.sock.recv(65536)
            self.fail("values after the cancel")
        except socket.timeout:
            pass
        a.sock.settimeout(10)
        self.assertEqual(self.mux.info()["stats"]["in_flight"], 0)

    def test_disconnect_cancels_streams_at_the_device(self):
        # the node serves at most 16 streams per link (limits.streams): if the mux did not
        # cancel the streams of clients that left, the 17th would be refused with EBUSY
        watcher = self.mux.client()
        self.addCleanup(watcher.close)
        for k in range(24):
            c = self.mux.client()
            seq = c.request("ping", {"m": "d%d" % k}, r=10)
            self.assertEqual(c.answer(seq)["d"], "R:d%d" % k)
            c.close()
        time.sleep(0.3)
        info = self.mux.info()
        self.assertEqual(info["stats"]["in_flight"], 0, info)
        self.assertGreaterEqual(info["stats"]["cancels"], 24)
        last = watcher.request("ping", {"m": "w"}, r=10)
        self.assertEqual(watcher.answer(last)["d"], "R:w")
        watcher.send({"i": last})
        # nothing of the others' streams ever reached this client
        time.sleep(0.3)
        watcher.sock.settimeout(0.3)
        try:
            while True:
                data = watcher.sock.recv(65536)
                if not data:
                    break
                watcher.unp.feed(data)
        except socket.timeout:
            pass
        stray = [m for m in list(watcher.unp) + watcher.backlog
                 if isinstance(m, dict) and m.get("i") != last]
        self.assertEqual(stray, [])
        # and the node's table has room: 16 concurrent streams from one client work
        c = self.mux.client()
        self.addCleanup(c.close)
        seqs = [c.request("ping", {"m": "f%d" % k}, r=50) for k in range(16)]
        for k, s in enumerate(seqs):
            self.assertEqual(c.answer(s)["d"], "R:f%d" % k)


class Cli(MuxTestCase):
    def same(self, *args, input=None, between=None):
        """The command through the mux gives the same stdout and exit status as directly."""
        direct = swarm(*[a.replace("@", "127.0.0.1:%d" % self.node.port) for a in args], input=input)
        if between:
            between()
        muxed = swarm(*[a.replace("@", self.mux.uri) for a in args], input=input)
        self.assertEqual((muxed.returncode, muxed.stdout), (direct.returncode, direct.stdout),
                         (args, direct.stderr, muxed.stderr))
        return muxed

    def test_commands_as_directly(self):
        self.same("call", "@", "ping", "m=hello")
        self.same("--json", "call", "@", "ping", '{"m": [1, 2.5, null]}')
        self.same("call", "@", "sys._dir")
        self.same("call", "@", "_dir")
        self.assertEqual(self.same("call", "@", "sys.nosuch").returncode, 1)
        self.same("call", "@", "sys.wdt", "t=x")
        self.same("call", "--every", "20ms", "--count", "3", "@", "ping", "m=e")
        self.same("--json", "call", "--every", "20ms", "--count", "2", "@", "ping", "m=e")
        self.same("cfg", "@", "set", "mux.test", '{"a": 1}')
        self.same("cfg", "@", "get", "mux.test")
        self.same("--json", "cfg", "@", "get", "mux")
        self.same("cfg", "@", "del", "mux.test",
                  between=lambda: swarm("cfg", self.mux.uri, "set", "mux.test", "1"))
        self.assertNotEqual(self.same("cfg", "@", "get", "mux.test").returncode, 0)
        self.same("eval", "@", "1 + 1")
        self.same("--json", "eval", "@", "{x = 1}")
        self.same("eval", "@", "-", input="return 'from stdin'")
        self.assertEqual(self.same("eval", "@", "error('boom')").returncode, 1)

    def test_files_as_directly(self):
        # swarm fs through the mux: a pipelined, verified put and get, and the listings
        tmp = tempfile.mkdtemp(prefix="swarm-mux-fs-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = os.urandom(200 << 10)  # many chunks: the window is in flight through the mux
        src = os.path.join(tmp, "src.bin")
        with open(src, "wb") as f:
            f.write(data)
        r = swarm("--json", "fs", self.mux.uri, "put", src, "muxed.bin")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(json.loads(r.stdout)["verified"])
        back = os.path.join(tmp, "back.bin")
        r = swarm("fs", self.mux.uri, "get", "muxed.bin", back)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        self.same("fs", "@", "ls")
        self.same("--json", "fs", "@", "stat", "muxed.bin")
        self.same("fs", "@", "hash", "muxed.bin")
        self.assertEqual(self.same("fs", "@", "stat", "nosuch").returncode, 1)

    def test_ctrl_c_on_a_stream(self):
        with swarm_running("call", "--every", "30ms", self.mux.uri, "ping", "m=c") as p:
            self.assertEqual(p.stdout.readline(), "R:c\n")
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)
        deadline = time.monotonic() + 5
        while self.mux.info()["stats"]["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.mux.info()["stats"]["in_flight"], 0)

    def test_mplex_commands(self):
        info = json.loads(swarm("--json", "call", self.mux.uri, "mplex.info").stdout)
        self.assertEqual(info["link"], "tcp://127.0.0.1:%d" % self.node.port)
        self.assertTrue(info["up"])
        self.assertEqual(info["clients"], 1)
        self.assertEqual(info["socket"], self.mux.sock)
        for key in ("requests", "replies", "errors", "link_ups", "link_downs", "in_flight"):
            self.assertIn(key, info["stats"])
        d = json.loads(swarm("--json", "call", self.mux.uri, "mplex._dir").stdout)
        self.assertEqual(sorted(d["c"]), ["boot", "console", "info"])
        r = swarm("call", self.mux.uri, "mplex.nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NoPath: mplex.nosuch", r.stderr)
        r = swarm("call", self.mux.uri, "local.app.x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NoPath: local.app.x", r.stderr)
        r = swarm("--json", "call", self.mux.uri, "mplex.console")
        self.assertEqual(json.loads(r.stdout), {"d": {"$bin": ""}, "p": 0})  # a TCP device

    def test_mplex_boot(self):
        c = self.mux.client()
        self.addCleanup(c.close)
        uptime = c.call("sys.info")["uptime_ms"]
        time.sleep(0.3)
        t0 = time.monotonic()
        self.assertIs(c.call("mplex.boot", timeout=20), True)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(c.read_note(), {"d": False, "a": "link"})
        self.assertEqual(c.read_note(), {"d": True, "a": "link"})
        self.assertLess(c.call("sys.info")["uptime_ms"], uptime + 300)  # it restarted
        self.node.wait_log("sys.boot")

    def test_console_through_the_mux_shows_the_node_log(self):
        swarm("eval", self.mux.uri, "print('hello from the node')")
        r = swarm("console", "--no-follow", self.mux.uri)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("I example: hello from the node\n", r.stdout)
        self.assertIn("ready\n", r.stdout)
        r = swarm("console", "--lines", "1", self.mux.uri)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
        # following: new lines show up (polled), Ctrl-C exits 130
        with swarm_running("console", "-f", "--lines", "0", self.mux.uri) as p:
            time.sleep(0.5)
            for k in range(3):
                swarm("eval", self.mux.uri, "print('followed %d')" % k)
            got = []  # the node may log lines of its own meanwhile (its first beacon, say)
            while len(got) < 3:
                line = p.stdout.readline()
                self.assertTrue(line, "console ended early")
                self.assertNotIn("hello from the node", line)  # --lines 0: no history
                if "followed" in line:
                    got.append(line[line.index(" I "):])
            self.assertEqual(got, [" I example: followed %d\n" % k for k in range(3)])
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)


class FakeDevice:
    """A TCP device written from the spec that records every message and answers each request
    with {"d": ["got", a, d], "i": i} (swarm-node ignores notifications, so it cannot show
    what reaches it)."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(2)
        self.port = self.srv.getsockname()[1]
        self.got = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn:
            conn.sendall(pack({"d": True, "a": "link"}))
            unp = unpacker()
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                unp.feed(data)
                for m in unp:
                    self.got.append(m)
                    if isinstance(m, dict) and "a" in m and "i" in m:
                        conn.sendall(pack({"d": ["got", m["a"], m.get("d")], "i": m["i"]}))

    def close(self):
        self.srv.close()


class Forwarding(unittest.TestCase):
    def test_requests_and_notifications_reach_the_device_as_sent(self):
        dev = FakeDevice()
        self.addCleanup(dev.close)
        mux = Mux("tcp://127.0.0.1:%d" % dev.port)
        try:
            with mux.client() as c:
                c.send({"a": ["sys", "cfg"], "d": {"p": ["x"], "d": 7}})  # no "i": a notification
                c.send({"a": ["mplex", "info"], "d": {}})  # the mux's own, no "i": ignored
                c.send({"a": "fdir", "d": "str", "i": 77})  # v0 string action, d not a map
                self.assertEqual(c.answer(77), {"d": ["got", "fdir", "str"], "i": 77})
                self.assertEqual(c.call("x.y", {"k": [1, None]}), ["got", ["x", "y"], {"k": [1, None]}])
                self.assertEqual(c.backlog, [])
        finally:
            mux.stop()
        self.assertEqual(dev.got[0], {"a": ["sys", "cfg"], "d": {"p": ["x"], "d": 7}})
        self.assertEqual([m["a"] for m in dev.got], [["sys", "cfg"], "fdir", ["x", "y"]])
        self.assertEqual([("i" in m) for m in dev.got], [False, True, True])


class Socket(unittest.TestCase):
    def test_life_cycle(self):
        tmp = tempfile.mkdtemp(prefix="swarm-mux-sock-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "m.sock")
        # a stale socket file (its owner died) is replaced
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
        self.assertTrue(os.path.exists(path))
        mux = Mux("tcp://127.0.0.1:1", "--backoff", "5000ms", sock=path)
        try:
            with mux.client(up=False) as c:
                self.assertFalse(c.call("mplex.info")["up"])
            # a second mux on the same socket is refused, the first one keeps it
            r = swarm("mux", "--link", "tcp://127.0.0.1:1", "--socket", path, timeout=10)
            self.assertEqual(r.returncode, 6, r.stderr)
            self.assertIn("another process", r.stderr)
            with mux.client(up=False):
                pass
        finally:
            log = mux.stop(signal.SIGINT)  # SIGINT too: exit 0, socket removed
        self.assertIn("SIGINT: stopping", log)
        # something that is not a socket is never removed
        with open(path, "w") as f:
            f.write("precious")
        r = swarm("mux", "--link", "tcp://127.0.0.1:1", "--socket", path, timeout=10)
        self.assertEqual(r.returncode, 6)
        self.assertIn("not a socket", r.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "precious")

    def test_usage(self):
        for args, text in [([], "missing --link"), (["--link", "tcp://x"], "missing --socket"),
                           (["--link", "ftp://x", "--socket", "/tmp/x"], "unknown scheme"),
                           (["--link", "tcp://x", "--socket", "/tmp/x", "--wdt", "0"], "bad --wdt"),
                           (["x"], "unexpected argument")]:
            r = swarm("mux", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(text, r.stderr)
        for cmd in ("mux", "console"):
            r = swarm(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertTrue(r.stdout.startswith("usage: swarm %s" % cmd))
            self.assertIn(cmd, swarm("--help").stdout)


class Watchdog(MuxTestCase):
    T = 2
    MUX_ARGS = ("--backoff", "200ms", "--wdt", str(T))

    def test_started_fed_and_biting_after_the_mux_stops(self):
        c = self.mux.client()
        try:
            deadline = time.monotonic() + 5
            while not c.call("sys.info")["wdt"] and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(c.call("sys.info")["wdt"])
        finally:
            c.close()
        self.node.wait_log("watchdog: started by sys.wdt (timeout %d s)" % self.T)
        time.sleep(3 * self.T)  # fed every T/2: it must not bite
        self.assertNotIn("watchdog: no sys.wdt", self.node.read_log())
        self.assertNotIn("watchdog expired", self.node.read_log())
        self.assertNotIn("sys.wdt failed", self.mux.read_log())
        t0 = time.monotonic()
        self.mux.stop()
        # it bites because the feeding stopped: only after the mux stopped (the log held no
        # bite before), and not before a timeout's worth of time (a slow machine only adds)
        self.node.wait_log("watchdog: no sys.wdt", timeout=60)
        self.assertGreater(time.monotonic() - t0, 0.5 * self.T)  # (fed until the mux stopped)


class SerialBehindMux(PtyPairTestCase):
    """swarm-node --serial on one end of a socat pty pair, the mux on the other."""

    PTY_PREFIX = "swarm-mux-pty-"

    def run_mode(self, link, *node_extra):
        node = Node(name="ttynode", extra=["--serial", self.a, *node_extra])
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready")
        mux = Mux(link, "--backoff", "200ms")
        try:
            c = mux.client(timeout=20)
            self.assertTrue(mux.info()["link"].startswith("serial://"))
            # console text printed by the device while calls flow on another client
            stop = threading.Event()
            errors = []

            def pinger():
                try:
                    with mux.client(timeout=20) as p:
                        k = 0
                        while not stop.is_set():
                            m = "p%d-%s" % (k, "y" * (k % 50))
                            if p.call("ping", {"m": m}) != "R:" + m:
                                errors.append(m)
                            k += 1
                except Exception as e:  # noqa: BLE001 (reported below)
                    errors.append(repr(e))

            t = threading.Thread(target=pinger)
            t.start()
            lines = ["tick %03d %s" % (k, "abcdefghij" * (k % 7)) for k in range(40)]
            try:
                for line in lines:
                    self.assertEqual(c.call("sys.eval", {"code": "print(%r) return 1" % line})[0], 1)
            finally:
                stop.set()
                t.join(30)
            self.assertEqual(errors, [])
            time.sleep(0.3)
            r = swarm("--timeout", "20", "console", "--no-follow", mux.uri)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = [re.sub(r"^ *\d+\.\d+ I example: ", "", x) for x in r.stdout.splitlines()]
            ticks = [x for x in got if x.startswith("tick ")]
            self.assertEqual(ticks, lines)
            # following the console: new text arrives live, Ctrl-C ends with 130
            with swarm_running("--timeout", "20", "console", "-f", "-n", "0", mux.uri) as p:
                time.sleep(0.5)
                c.call("sys.eval", {"code": "print('live one')"})
                line = p.stdout.readline()
                while line and "live one" not in line:  # lines the node logs on its own
                    line = p.stdout.readline()
                self.assertTrue(line.endswith("I example: live one\n"), line)
                p.send_signal(signal.SIGINT)
                self.assertEqual(p.wait(10), 130)
            info = mux.info()
            self.assertGreater(info["stats"]["console"], sum(len(x) for x in lines))
            # the REPL through the mux on a serial line (issue 15), Ctrl-C included
            tmp = tempfile.mkdtemp(prefix="swarm-mux-repl-")
            self.addCleanup(shutil.rmtree, tmp, True)
            check_repl(self, mux.uri, node, tmp)
            c.close()
        finally:
            mux.stop()

    def test_lossless(self):
        self.run_mode("serial://%s" % self.b)

    def test_console_on_a_serial_line_directly(self):
        node = Node(name="ttynode", extra=["--serial", self.a])
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready")
        tcp = "127.0.0.1:%d" % node.port
        with swarm_running("console", "-f", "-n", "0", "serial://" + self.b) as p:
            time.sleep(0.5)  # (the line is open and the history read)
            for k in range(3):  # printed on the device (asked over TCP): live on the line
                swarm("eval", tcp, "print('direct %d')" % k)
            got = []  # (the node also logs the TCP connections of those evals)
            while len(got) < 3:
                line = p.stdout.readline()
                self.assertTrue(line, "console ended early")
                if "direct" in line:
                    got.append(line)
            self.assertEqual([x[x.index(" I "):] for x in got],
                             [" I example: direct %d\n" % k for k in range(3)])
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)
        # one-shot: the node's log; over TCP the same
        for link in ("serial://" + self.b, tcp):
            r = swarm("console", "--lines", "4", link)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("I example: direct 2\n", r.stdout)
            self.assertEqual(len(r.stdout.splitlines()), 4, r.stdout)

    def test_lossy(self):
        self.run_mode("serial://%s?mode=lossy" % self.b, "--lossy")

    def test_mplex_boot_on_a_lossless_line(self):
        # the tty never closes when the device restarts: the mux learns it from the device's
        # own link false / link true, logs the link going down and up, and mplex.boot answers
        node = Node(name="ttynode", extra=["--serial", self.a])
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready")
        mux = Mux("serial://%s" % self.b, "--backoff", "200ms")
        try:
            c = mux.client(timeout=20)
            uptime = c.call("sys.info")["uptime_ms"]
            self.assertIs(c.call("mplex.boot", timeout=60), True)
            self.assertEqual(c.read_note(), {"d": False, "a": "link"})
            self.assertEqual(c.read_note(), {"d": True, "a": "link"})
            self.assertLess(c.call("sys.info")["uptime_ms"], uptime + 300)  # it restarted
            log = mux.read_log()
            self.assertIn("device link down: the device said link false", log)
            self.assertIn("device link up: the device said link true", log)
            self.assertLess(log.index("said link false"), log.index("said link true"))
            c.close()
        finally:
            mux.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
