"""swarm dashboard, end to end.

TestDashboardBrowser: a namespace LAN of 3 nodes (tests/lab/lanlab.py), `swarm dashboard` in the
  lab's host namespace, and Debian's chromium driven by playwright-core
  (tests/e2e/dashboard_driver.cjs) in the same namespace: the page lists the nodes (grouped by
  app, sorted by name or app, filtered); `ping` from
  the call form shows the reply; an edit in the config tree changes the value on the node (read
  back here with `swarm cfg get`); a plot of a stream on two nodes receives points; a dry run
  and then a push from the page update the nodes (checked here through sys.info's app hash) and
  the table shows the new version; a broken app is rolled back on the canary, and with max
  failures 1 (one node at a time) stops the rollout at the first node; a node this test kills turns offline; 200 fake entries
  (labelled FAKE, fed to the page only) render, with the render time and the page's memory
  printed. Screenshots go to $SW_DASH_SHOTS when set (docs/ holds the ones the README shows).
  Needs root (namespaces), /usr/bin/chromium and web/node_modules/playwright-core (scripts/setup);
  without them it skips, and under CI=true it fails.

TestDashboardInput: the HTTP and WebSocket endpoints against bad input, on loopback with one
  node given by --link: bad JSON and bad requests get error answers, a binary frame and a frame
  over the size bound close only that connection, a page that never reads is dropped at its
  queue bound, an idle HTTP client and 64 KiB of headers hold nobody up, a foreign Origin and a
  missing or wrong token are refused; after each, another page is still served (it gets the
  fleet and a ping through the dashboard). Also: forged beacons (escaped on the page, the node
  table's bound), a locked node (through the host's key only), a device behind `swarm mux`,
  the user config's devices, --json, usage errors, SIGTERM with a stream running; one row per
  node (a config device also on the LAN; a node without a swarm id back at a new address).

TestDashboardBroker: the fleet from an MQTT broker (a mosquitto the test starts, mqttlab.py):
  a node reached only through it is listed with its mqtt:// link, called and configured from
  the page (WebSocket and, with chromium, the real page), and offline at its last will or
  when the broker is lost; the user config's [mqtt] broker is the default; a URL that is no broker is a usage error.

TestDashboardSerial: a node on a pty pair given as --link serial://: its log lines reach the
  page as console events; locked, to a dashboard without the key, a call says so.
"""
import base64
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)
from swarmtest import NODE_BIN, SWARM_BIN, Node, PtyPairTestCase, loopback_config, pack, reap  # noqa: E402
from lanlab import Lan  # noqa: E402

SRC = os.environ.get("SWARM_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT = os.path.join(SRC, "web", "node_modules", "playwright-core")
CI = os.environ.get("CI") == "true"


def start_dashboard(argv, env=None, popen=subprocess.Popen):
    """Starts `swarm dashboard ARGS` and returns (process, URL) once it printed its address."""
    p = popen([SWARM_BIN, "dashboard"] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              env=env or os.environ)
    line = p.stdout.readline().decode()
    if not line.startswith("swarm dashboard: http://"):
        p.kill()
        raise AssertionError("dashboard did not start: %r %r" % (line, p.stderr.read().decode()))
    return p, line.split(": ", 1)[1].strip()


def stop_dashboard(p):
    """SIGTERM, then the exit status (0: a clean stop, also under the leak checker)."""
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---- a small WebSocket client (RFC 6455), enough to send what a browser would not

class WS:
    def __init__(self, url, origin=None, path="/ws", timeout=20.0):
        hostport = url.split("//", 1)[1].split("/", 1)[0]
        host, port = hostport.rsplit(":", 1)
        q = url.split("?", 1)[1] if "?" in url else ""
        self.s = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET %s%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, "?" + q if q else "", hostport, key))
        if origin:
            req += "Origin: %s\r\n" % origin
        self.s.sendall((req + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1") else 0

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.s.sendall(hdr + mask + body)

    def send(self, obj):
        self.send_frame(1, json.dumps(obj).encode() if not isinstance(obj, bytes) else obj)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d

    def recv(self):
        """The next message: (opcode, payload)."""
        self._need(2)
        op, ln = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        off = 2
        if ln == 126:
            self._need(4)
            ln, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif ln == 127:
            self._need(10)
            ln, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + ln)
        p, self.buf = self.buf[off:off + ln], self.buf[off + ln:]
        return op, p

    def recv_json(self, pred=lambda m: True):
        while True:
            op, p = self.recv()
            if op == 8:
                raise ConnectionError("closed by the dashboard: %r" % p)
            if op == 1:
                m = json.loads(p)
                if pred(m):
                    return m

    def closed(self):
        """True once the dashboard closed the connection (close frame or EOF)."""
        try:
            while True:
                op, _ = self.recv()
                if op == 8:
                    return True
        except TimeoutError:
            return False  # still open after the socket's timeout
        except (ConnectionError, OSError):
            return True

    def close(self):
        self.s.close()


class TestDashboardInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swarm-dash-")
        cls.node = Node(name="dn1").start()
        cls.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(cls.tmp, "cfg"),
                       XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"))
        cls.dash, cls.url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--queue-max", "64k",
                                             "--link", "tcp://127.0.0.1:%d" % cls.node.port], env=cls.env)
        cls.key = "tcp://127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        rc = stop_dashboard(cls.dash)
        err = cls.dash.stderr.read().decode()
        cls.node.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "dashboard exit status %d: %s" % (rc, err[-3000:])

    def assert_served(self):
        """Another page is served: hello, the fleet, and a ping through the node's link."""
        w = WS(self.url)
        self.assertEqual(w.status, 101)
        self.assertEqual(w.recv_json()["ev"], "hello")
        fleet = w.recv_json(lambda m: m.get("ev") == "fleet")
        self.assertEqual([n["key"] for n in fleet["nodes"]], [self.key])
        w.send({"id": 7, "op": "call", "node": self.key, "path": "ping", "args": {"m": "still here"}})
        self.assertIn("still here", w.recv_json(lambda m: m.get("id") == 7).get("reply"))
        w.close()

    def test_http(self):
        r = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", self.url], capture_output=True, text=True)
        self.assertIn("200 OK", r.stdout)
        self.assertIn("content-security-policy: default-src 'none'", r.stdout)
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", self.url + "etc/passwd"],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout, "404")
        r = subprocess.run(["curl", "-s", self.url + "uplot.js"], capture_output=True)
        self.assertGreater(len(r.stdout), 10000, "the plot library is not bundled (npm at build time?)")
        r = subprocess.run(["curl", "-s", self.url + "uplot-LICENSE.txt"], capture_output=True, text=True)
        self.assertIn("MIT", r.stdout)
        hostport = self.url.split("//")[1].rstrip("/")
        host, port = hostport.rsplit(":", 1)
        # a client that connects and says nothing, and one that sends 64 KiB of headers: the
        # first waits (others are served meanwhile), the second is answered with an error or
        # closed, never served a page
        idle = socket.create_connection((host, int(port)))
        self.assert_served()
        big = socket.create_connection((host, int(port)), timeout=20)
        try:
            big.sendall(b"GET / HTTP/1.1\r\nHost: " + hostport.encode() + b"\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        except OSError:
            pass
        got = b""
        try:
            while True:
                d = big.recv(65536)
                if not d:
                    break
                got += d
        except OSError:
            pass
        self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:200])
        big.close()
        idle.close()
        self.assert_served()

    def test_bad_requests_get_errors(self):
        w = WS(self.url)
        w.recv_json(lambda m: m.get("ev") == "fleet")
        bad = [b"{", b"[]", b"null", b'{"id": 1}', b'{"id": -1, "op": "fleet"}', b'{"id": 1.5, "op": "fleet"}',
               b'{"id": 1, "op": "rm -rf"}', b'{"id": 2, "op": "call", "node": "x", "path": "a..b"}',
               b'{"id": 3, "op": "call", "node": "' + self.key.encode() + b'", "path": "ping", "every": -5}',
               b'{"id": 4, "op": "push", "project": "nope"}', b'{"id": 5} trailing',
               b'{"id": 6, "op": "call", "node": "nosuch", "path": "ping"}', b"[" * 5000 + b"]" * 5000,
               b'{"id": 8, "op": "call", "node": "' + self.key.encode() + b'", "path": "nosuch.cmd"}']
        for b in bad:
            w.send(b)
            m = w.recv_json(lambda m: "error" in m)
            self.assertTrue(m["error"], b)
        w.close()
        self.assert_served()

    def test_binary_frame_closes_only_that_page(self):
        w = WS(self.url)
        w.send_frame(2, b"\x00\x01\x02")
        self.assertTrue(w.closed())
        self.assert_served()

    def test_huge_frame_closes_only_that_page(self):
        w = WS(self.url)
        w.recv_json(lambda m: m.get("ev") == "fleet")
        # announced far beyond the bound: the dashboard closes before reading it all
        try:
            w.send_frame(1, b'{"id":1,"op":"fleet","pad":"' + b"x" * (600 * 1024) + b'"}')
        except OSError:
            pass
        self.assertTrue(w.closed())
        # the same over fragments
        w = WS(self.url)
        w.recv_json(lambda m: m.get("ev") == "fleet")
        try:
            w.send_frame(1, b'{"id":1,"pad":"' + b"x" * 60000, fin=False)
            for _ in range(10):
                w.send_frame(0, b"x" * 60000, fin=False)
        except OSError:
            pass
        self.assertTrue(w.closed())
        self.assert_served()

    def test_slow_page_is_dropped(self):
        slow = WS(self.url)
        slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # many requests, no reading: the answers pile up in the dashboard, beyond --queue-max
        for i in range(4000):
            try:
                slow.send({"id": i, "op": "fleet"})
            except OSError:
                break
        # served meanwhile
        self.assert_served()
        self.assertTrue(slow.closed())
        self.assert_served()

    def test_origin_and_token(self):
        w = WS(self.url, origin="http://evil.example")
        self.assertNotEqual(w.status, 101, "a foreign Origin was let in")
        w.close()
        w = WS(self.url, origin=self.url.rstrip("/"))
        self.assertEqual(w.status, 101)
        w.close()
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--token", "s3cret-token-123"],
                                 env=self.env)
        try:
            self.assertIn("?token=s3cret-token-123", url)
            w = WS(url.split("?")[0])
            self.assertNotEqual(w.status, 101, "no token, yet let in")
            w.close()
            w = WS(url.split("?")[0] + "?token=s3cret-token-124")
            self.assertNotEqual(w.status, 101, "a wrong token, yet let in")
            w.close()
            w = WS(url)
            self.assertEqual(w.status, 101)
            self.assertEqual(w.recv_json()["ev"], "hello")
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)
        # any address other than loopback: a token is made up and printed
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--bind", "0.0.0.0"], env=self.env)
        try:
            self.assertRegex(url, r"\?token=[0-9a-f]{32}$")
        finally:
            self.assertEqual(stop_dashboard(d), 0)
        self.assert_served()

    def test_mux_link(self):
        """A device behind `swarm mux`, given as --link unix://SOCKET: listed, online once its
        link is up, and callable through it."""
        sock = os.path.join(self.tmp, "mux.sock")
        mux = subprocess.Popen([SWARM_BIN, "mux", "--link", self.key, "--socket", sock],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        d = None
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(sock):
                if mux.poll() is not None:
                    self.fail("the mux ended: %s" % mux.stderr.read())
                self.assertLess(time.monotonic(), deadline, "the mux never made its socket")
                time.sleep(0.05)
            uri = "unix://" + sock
            d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--link", uri], env=self.env)
            w = WS(url)
            fleet = w.recv_json(lambda m: m.get("ev") == "fleet")
            self.assertEqual([n["key"] for n in fleet["nodes"]], [uri])
            n = fleet["nodes"][0]
            # online once its link is up, then named by its sys.info
            if not (n["online"] and n["name"] == "dn1"):
                n = w.recv_json(lambda m: m.get("ev") == "node" and m["node"]["online"] and
                                m["node"]["name"] == "dn1")["node"]
            self.assertEqual(n["source"], "link")
            self.assertEqual(n["board"], "posix-sim")
            self.assertGreater(n["uptime_ms"], 0)
            w.send({"id": 1, "op": "call", "node": uri, "path": "sys.info"})
            self.assertEqual(w.recv_json(lambda m: m.get("id") == 1)["reply"]["host_name"], "dn1")
            # a stream through the mux, then cancelled
            w.send({"id": 2, "op": "call", "node": uri, "path": "ping", "args": {"m": "s"}, "every": 50})
            for _ in range(3):
                self.assertEqual(w.recv_json(lambda m: m.get("id") == 2)["stream"], "R:s")
            w.send({"id": 3, "op": "cancel", "ref": 2})
            w.recv_json(lambda m: m.get("id") == 3)
            w.close()
        finally:
            if d:
                self.assertEqual(stop_dashboard(d), 0)
            mux.send_signal(signal.SIGTERM)
            reap(mux)

    def test_locked_node(self):
        """A locked node (authenticated mode) found on the (loopback) LAN shows as locked, and the
        page reaches it through the host's key, which no message to the page contains; a
        dashboard without the key lists it but cannot call it."""
        key = os.urandom(32)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            bport = u.getsockname()[1]
        root = tempfile.mkdtemp(prefix="swarm-dash-locked-")
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack({"boot": {"BEACON_DESTINATION_IPS": ["127.0.0.2"], "BEACON_DESTINATION_PORT": bport,
                                   "MDNS_ENABLE": False}}))
        with open(os.path.join(root, "swarm.key"), "wb") as f:
            f.write(key)
        node = Node(root=root, name="locked1")
        node.own_root = True
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("auth: locked")
        os.makedirs(os.path.join(self.tmp, "cfg", "swarm"), exist_ok=True)
        kf = os.path.join(self.tmp, "cfg", "swarm", "key")
        with open(os.open(kf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(key)
        self.addCleanup(os.unlink, kf)
        scan = ["--port", "0", "--no-config", "--scan-port", str(bport), "--scan-to", "127.0.0.1", "--scan-every", "200ms"]
        for with_key in (True, False):
            env = self.env if with_key else dict(self.env, XDG_CONFIG_HOME=os.path.join(self.tmp, "nokey"))
            d, url = start_dashboard(scan, env=env)
            try:
                w = WS(url)
                seen = []
                m = w.recv_json(lambda m: seen.append(m) or any(n.get("name") == "locked1" for n in
                                m.get("nodes", [m.get("node", {})])))
                n = [n for n in m.get("nodes", [m.get("node")]) if n["name"] == "locked1"][0]
                self.assertTrue(n["locked"])
                w.send({"id": 1, "op": "call", "node": n["key"], "path": "sys.info"})
                a = w.recv_json(lambda m: seen.append(m) or m.get("id") == 1)
                if with_key:
                    self.assertEqual(a.get("reply", {}).get("host_name"), "locked1", a)
                else:
                    self.assertIn("locked", a.get("error", ""))
                    print("\n  without the key: %s" % a["error"], file=sys.stderr)
                self.assertNotIn(key.hex(), json.dumps(seen))
                w.close()
            finally:
                self.assertEqual(stop_dashboard(d), 0)

    def test_open_node_with_key(self):
        """A dashboard whose host holds the fleet key sends only reads to a node that answers
        open (docs/SECURITY.md): a change from the page — a call, a push — is refused with the
        reason and what to do (not a bare "authentication failed"), and once the user records
        the node as open (`swarm key open NAME`) the same dashboard, not restarted, sends it."""
        node = Node(name="open1").start()
        self.addCleanup(node.stop)
        link = "tcp://127.0.0.1:%d" % node.port
        env = dict(self.env, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg-open"))
        env.pop("SWARM_ALLOW_OPEN", None)
        r = subprocess.run([SWARM_BIN, "key", "new"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        proj = os.path.join(self.tmp, "open-proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('swarm.command("v", function() return "pushed" end, "the version")\n')
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--link", link, "--project", proj],
                                 env=env)
        try:
            w = WS(url)
            w.recv_json(lambda m: m.get("ev") == "fleet")

            def call(i, path, args):
                w.send({"id": i, "op": "call", "node": link, "path": path, "args": args})
                return w.recv_json(lambda m: m.get("id") == i)

            def push(i, dry=False):
                w.send({"id": i, "op": "push", "project": os.path.basename(proj), "nodes": [link],
                        "dry_run": dry})
                return w.recv_json(lambda m: m.get("id") == i)["reply"]["devices"][0]

            self.assertEqual(call(1, "sys.info", {})["reply"]["host_name"], "open1")  # reads go
            a = call(2, "f.mkdir", {"p": "fromdash"})
            self.assertIn("answered as an open node, but the host holds a key", a.get("error", ""), a)
            self.assertIn("swarm key open " + link, a["error"])
            # the dry run shows what the push would do: the same refusal (not "dry-run")
            for i, dry in ((3, True), (30, False)):
                dev = push(i, dry)
                self.assertEqual(dev["result"], "failed", dev)
                self.assertIn("answered as an open node, but the host holds a key", dev["reason"])
                self.assertIn("swarm key open " + link, dev["reason"])
            self.assertFalse(os.path.exists(os.path.join(node.root, "fromdash")))
            main = os.path.join(node.root, "apps", "example", "main.lua")
            if os.path.exists(main):  # (a node's own example app, not the project's)
                with open(main) as f:
                    self.assertNotIn("pushed", f.read())
            # the user's word, given while the dashboard runs
            r = subprocess.run([SWARM_BIN, "key", "open", link], capture_output=True, text=True, env=env, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIsNone(call(4, "f.mkdir", {"p": "fromdash"}).get("error"))
            self.assertTrue(os.path.isdir(os.path.join(node.root, "fromdash")))
            dev = push(5)
            self.assertEqual(dev["result"], "ok", dev)
            self.assertEqual(call(6, "example.v", {}).get("reply"), "pushed")
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_config_devices(self):
        """The user config's [devices] are listed by their names, with source "config", and
        reachable; --no-config leaves them out."""
        cfgdir = os.path.join(self.tmp, "cfgdev", "swarm")
        os.makedirs(cfgdir, exist_ok=True)
        with open(os.path.join(cfgdir, "config"), "w") as f:
            f.write("[devices]\nbench-a = %s   # the test node\n" % self.key)
        env = dict(self.env, XDG_CONFIG_HOME=os.path.dirname(cfgdir))
        for no_config in (False, True):
            d, url = start_dashboard(["--port", "0", "--no-scan"] + (["--no-config"] if no_config else []), env=env)
            try:
                w = WS(url)
                fleet = w.recv_json(lambda m: m.get("ev") == "fleet")
                if no_config:
                    self.assertEqual(fleet["nodes"], [])
                    continue
                self.assertEqual([(n["key"], n["source"], n["uri"]) for n in fleet["nodes"]],
                                 [("bench-a", "config", self.key)])
                w.send({"id": 1, "op": "call", "node": "bench-a", "path": "ping", "args": {"m": "cfg"}})
                self.assertEqual(w.recv_json(lambda m: m.get("id") == 1).get("reply"), "R:cfg")
                w.close()
            finally:
                self.assertEqual(stop_dashboard(d), 0)

    def test_config_device_also_on_lan(self):
        """A config device that also beacons on the (loopback) LAN is one row: the config's,
        under the user's name, which learns the node's swarm id from the beacon — whether the
        config names the address the beacon gives (matched by link) or another one
        (localhost: matched by the host name its sys.info gives, a row the LAN listed first
        merged into it). With --no-scan the row learns the id through its link (sys.beacon)."""
        for form, scan in (("tcp://127.0.0.1:%d", True), ("tcp://localhost:%d", True), ("tcp://localhost:%d", False)):
            with self.subTest(config=form, scan=scan):
                self.config_device_also_on_lan(form, scan)

    def config_device_also_on_lan(self, form, scan):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            bport = u.getsockname()[1]
        root = tempfile.mkdtemp(prefix="swarm-dash-dup-")
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(loopback_config({"boot": {"BEACON_DESTINATION_IPS": ["127.0.0.1"],
                                                   "BEACON_DESTINATION_PORT": bport, "MDNS_ENABLE": False}})))
        node = Node(root=root, name="dup1")
        node.own_root = True
        self.addCleanup(node.stop)
        node.start()
        cfgdir = os.path.join(self.tmp, "cfgdup", "swarm")
        os.makedirs(cfgdir, exist_ok=True)
        with open(os.path.join(cfgdir, "config"), "w") as f:
            f.write("[devices]\nbench-b = %s\n" % (form % node.port))
        env = dict(self.env, XDG_CONFIG_HOME=os.path.dirname(cfgdir))
        d, url = start_dashboard(["--port", "0", "--scan-port", str(bport), "--scan-to", "127.0.0.1",
                                  "--scan-every", "200ms"] + ([] if scan else ["--no-scan"]), env=env)
        try:
            w = WS(url)
            seen = []
            while True:
                m = w.recv_json(lambda m: m.get("ev") in ("fleet", "node"))
                seen += m.get("nodes", [m.get("node")])
                if any(n["key"] == "bench-b" and n["id"] for n in seen):
                    break
            w.send({"id": 1, "op": "fleet"})
            fleet = w.recv_json(lambda m: m.get("id") == 1)["nodes"]
            self.assertEqual([(n["key"], n["name"], n["source"]) for n in fleet], [("bench-b", "bench-b", "config")])
            self.assertTrue(fleet[0]["online"])
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_node_back_at_new_address(self):
        """A node without a swarm id (a micro-swarm device: its beacon has no "swarm" object)
        that went offline and comes back at another address is the same row, at the new
        address; while two such nodes of one name are both online they are two rows."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            bport = u.getsockname()[1]
        d, url = start_dashboard(["--port", "0", "--no-config", "--scan-port", str(bport), "--scan-to", "127.0.0.1",
                                  "--offline-after", "1s"], env=self.env)

        def beacon(ip, host=b"mcu1"):
            b = (b'{"ifconfigs": [["%s", "255.0.0.0", "127.0.0.1", "127.0.0.1"]], '
                 b'"settings": {"board": {"host_name": "%s", "app_name": "a", "hardware_name": "b"}, '
                 b'"boot": {}}}' % (ip.encode(), host))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                tx.bind((ip, 0))
                tx.sendto(b, ("127.0.0.1", bport))

        def node_event(pred):
            return w.recv_json(lambda m: m.get("ev") == "node" and pred(m["node"]))["node"]
        try:
            w = WS(url)
            w.recv_json(lambda m: m.get("ev") == "fleet")
            beacon("127.0.0.2")
            first = node_event(lambda n: n["ip"] == "127.0.0.2" and n["online"])
            node_event(lambda n: n["key"] == first["key"] and not n["online"])
            beacon("127.0.0.3")
            back = node_event(lambda n: n["ip"] == "127.0.0.3")
            self.assertEqual(back["key"], first["key"])
            self.assertTrue(back["online"])
            # another device of the same name while this one is online: a row of its own
            beacon("127.0.0.4")
            other = node_event(lambda n: n["ip"] == "127.0.0.4")
            self.assertNotEqual(other["key"], first["key"])
            w.send({"id": 1, "op": "fleet"})
            self.assertEqual(len(w.recv_json(lambda m: m.get("id") == 1)["nodes"]), 2)
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_forged_beacons(self):
        """Beacons anyone on the LAN can send (here: to the dashboard's beacon port on loopback):
        strings with escape sequences and bytes that are not UTF-8 reach the page as valid
        UTF-8 JSON, escaped; the node table stays bounded: a full table gives way to a newcomer
        by dropping an offline entry (pages hear "gone")."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            bport = u.getsockname()[1]
        d, url = start_dashboard(["--port", "0", "--no-config", "--scan-port", str(bport), "--scan-to", "127.0.0.1",
                                  "--offline-after", "1s"], env=self.env)
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def beacon(i, host=b"n%d"):
            b = (b'{"ifconfigs": [["127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1"]], '
                 b'"settings": {"board": {"host_name": "' + (host % i if b"%d" in host else host) + b'", '
                 b'"app_name": "a", "hardware_name": "b"}, "boot": {}}, "swarm": {"id": "forged-%d"}}' % i)
            tx.sendto(b, ("127.0.0.1", bport))
        try:
            w = WS(url)
            w.recv_json(lambda m: m.get("ev") == "fleet")
            beacon(0, b"evil\x1b[2J\xff\xfe\r\nrow")
            m = w.recv_json(lambda m: m.get("ev") == "node")  # json.loads of valid UTF-8 only
            self.assertNotIn("\x1b", m["node"]["name"])
            self.assertIn("evil", m["node"]["name"])
            # fill the table (4096 entries; the forged one above is the first)
            for i in range(1, 4096):
                beacon(i)
                if i % 64 == 0:
                    time.sleep(0.002)  # let the dashboard drain its socket buffer
            w.s.settimeout(5)
            # every entry listed: count the node events until the 4096th key
            seen = {m["node"]["key"]}
            while len(seen) < 4096:
                try:
                    m = w.recv_json(lambda m: m.get("ev") == "node")
                except TimeoutError:
                    # a datagram lost in the kernel's buffer: send the missing ones again
                    for k, i in enumerate(i for i in range(4096) if "forged-%d" % i not in seen):
                        beacon(i)
                        if k % 64 == 0:
                            time.sleep(0.002)
                    continue
                seen.add(m["node"]["key"])
            # the table holds no more than its bound, whatever comes
            beacon(5000)
            w.send({"id": 1, "op": "fleet"})
            fleet = w.recv_json(lambda m: m.get("id") == 1)
            self.assertEqual(len(fleet["nodes"]), 4096)
            # once they are offline, a newcomer takes the stalest entry's place
            for q in range(2, 10000):
                w.send({"id": q, "op": "fleet"})
                if not any(n["online"] for n in w.recv_json(lambda m, q=q: m.get("id") == q)["nodes"]):
                    break
                time.sleep(0.2)
            beacon(5001)
            gone = w.recv_json(lambda m: m.get("ev") == "gone")
            self.assertTrue(gone["key"].startswith("forged-"))
            m = w.recv_json(lambda m: m.get("ev") == "node" and m["node"]["key"] == "forged-5001")
            self.assertTrue(m["node"]["online"])
            w.close()
        finally:
            tx.close()
            self.assertEqual(stop_dashboard(d), 0)
        self.assert_served()

    def test_stop_with_a_stream_running(self):
        """SIGTERM while a page has a stream running: the page is closed, the stream cancelled,
        and the dashboard ends with status 0 (nothing leaked: the leak checker runs at exit)."""
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--link", self.key], env=self.env)
        w = WS(url)
        w.recv_json(lambda m: m.get("ev") == "fleet")
        w.send({"id": 1, "op": "call", "node": self.key, "path": "ping", "args": {"m": "x"}, "every": 100})
        self.assertEqual(w.recv_json(lambda m: m.get("id") == 1)["stream"], "R:x")
        self.assertEqual(stop_dashboard(d), 0, d.stderr.read().decode()[-3000:])
        self.assertTrue(w.closed())
        w.close()

    def test_usage(self):
        r = subprocess.run([SWARM_BIN, "dashboard", "--token", "short"], capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = subprocess.run([SWARM_BIN, "dashboard", "--port", str(self.url.rsplit(":", 1)[1].strip("/")), "--no-scan"],
                           capture_output=True, text=True, env=self.env)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("cannot listen", r.stderr)
        p = subprocess.Popen([SWARM_BIN, "--json", "dashboard", "--port", "0", "--no-scan", "--no-config"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
        try:
            j = json.loads(p.stdout.readline())
            self.assertGreater(j["port"], 0)
            self.assertIsNone(j["token"])
            self.assertEqual(j["url"], "http://127.0.0.1:%d/" % j["port"])
        finally:
            self.assertEqual(stop_dashboard(p), 0)
            p.stdout.close()
            p.stderr.close()
        r = subprocess.run([SWARM_BIN, "dashboard", "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("--token", r.stdout)


class TestDashboardBroker(unittest.TestCase):
    """The fleet fed from an MQTT broker (a mosquitto this test starts on a free port,
    tests/e2e/mqttlab.py): a node reached only through the broker (no TCP service, no LAN scan)
    is listed from its retained state with its mqtt:// link, answers ping and sys.info from the
    page over that link, has its config edited and read back and a push (dry run, then real)
    over it, and turns offline when it is killed (its last will). The user config's
    [mqtt] broker is the default."""

    FLEET = "dlab"

    def setUp(self):
        from mqttlab import Broker
        self.tmp = tempfile.mkdtemp(prefix="swarm-dash-mqtt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.broker = Broker().start()
        self.addCleanup(self.broker.stop)
        root = tempfile.mkdtemp(prefix="swarm-dash-mqtt-node-")
        cfg = loopback_config({"mqtt": {"url": self.broker.url, "fleet": self.FLEET, "keepalive": 5}},
                              services=False)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(cfg))
        shutil.copytree(os.path.join(SRC, "apps", "blink"), os.path.join(root, "apps", "blink"))
        self.proj = os.path.join(self.tmp, "proj")
        shutil.copytree(os.path.join(SRC, "apps"), os.path.join(self.proj, "apps"))
        with open(os.path.join(self.proj, "apps", "blink", "bus_marker.lua"), "w") as f:
            f.write("-- pushed through the broker\nreturn 1\n")
        self.node = Node(root=root, name="bus1", app="blink")
        self.node.own_root = True
        self.addCleanup(self.node.stop)
        self.node.start()
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg"),
                        XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))

    @staticmethod
    def wait_node(w, pred):
        """The first fleet entry (from the fleet or a node event) for which pred holds."""
        while True:
            m = w.recv_json(lambda m: m.get("ev") in ("fleet", "node"))
            for n in m.get("nodes", [m.get("node")]):
                if n and pred(n):
                    return n

    def test_broker_node(self):
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--project", self.proj,
                                  "--broker", "%s/%s" % (self.broker.url, self.FLEET)], env=self.env)
        try:
            w = WS(url)
            n = self.wait_node(w, lambda n: n["name"] == "bus1" and n["online"])
            self.assertEqual(n["source"], "mqtt")
            self.assertEqual(n["uri"], "%s/%s/bus1" % (self.broker.url, self.FLEET))
            self.assertTrue(n["app"] is not None and n["node"], n)
            w.send({"id": 1, "op": "call", "node": n["key"], "path": "ping", "args": {"m": "via broker"}})
            self.assertEqual(w.recv_json(lambda m: m.get("id") == 1).get("reply"), "R:via broker")
            w.send({"id": 2, "op": "call", "node": n["key"], "path": "sys.info"})
            self.assertEqual(w.recv_json(lambda m: m.get("id") == 2).get("reply", {}).get("host_name"), "bus1")
            # the config edited from the page over the same link, read back
            w.send({"id": 4, "op": "call", "node": n["key"], "path": "sys.cfg", "args": {"p": ["dash", "x"], "d": 7}})
            self.assertNotIn("error", w.recv_json(lambda m: m.get("id") == 4))
            w.send({"id": 5, "op": "call", "node": n["key"], "path": "sys.cfg", "args": {"p": ["dash", "x"]}})
            self.assertEqual(w.recv_json(lambda m: m.get("id") == 5).get("reply"), 7)
            # a push from the page over the same link: the dry run names the new file, the
            # push lands it in the node's root
            for i, dry in ((6, True), (7, False)):
                w.send({"id": i, "op": "push", "project": "proj", "nodes": [n["key"]], "dry_run": dry})
                devs = w.recv_json(lambda m, i=i: m.get("id") == i).get("reply", {}).get("devices")
                self.assertEqual([x["result"] for x in devs], ["dry-run" if dry else "ok"], devs)
                if dry:
                    self.assertIn("+ apps/blink/bus_marker.lua", devs[0]["changes"], devs)
            self.assertTrue(os.path.exists(os.path.join(self.node.root, "apps", "blink", "bus_marker.lua")))
            # killed: the broker publishes its last will, the row turns offline (and stays one row)
            self.node.kill()
            off = self.wait_node(w, lambda x: x["key"] == n["key"] and not x["online"])
            self.assertEqual(off["uri"], n["uri"])
            w.send({"id": 3, "op": "fleet"})
            self.assertEqual([x["key"] for x in w.recv_json(lambda m: m.get("id") == 3)["nodes"]], [n["key"]])
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_broker_lost(self):
        """The broker goes away: its nodes show offline (nobody can tell, and no last will
        can arrive), and the dashboard keeps serving."""
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config",
                                  "--broker", "%s/%s" % (self.broker.url, self.FLEET)], env=self.env)
        try:
            w = WS(url)
            n = self.wait_node(w, lambda n: n["name"] == "bus1" and n["online"])
            # SIGKILL: a broker that stops in order sends the wills of its clients first
            self.broker.proc.kill()
            self.broker.proc.wait()
            self.wait_node(w, lambda x: x["key"] == n["key"] and not x["online"])
            w.send({"id": 1, "op": "fleet"})
            self.assertEqual([x["online"] for x in w.recv_json(lambda m: m.get("id") == 1)["nodes"]], [False])
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_browser(self):
        """The same in a real browser (tests/e2e/dashboard_broker_driver.cjs): the row says
        "via mqtt", ping from the call form is answered, the row turns offline at the kill."""
        missing = [w for w, ok in ((CHROMIUM, os.access(CHROMIUM, os.X_OK)),
                                   (PLAYWRIGHT + " (scripts/setup runs npm ci in web/)", os.path.isdir(PLAYWRIGHT)),
                                   ("node", shutil.which("node") is not None)) if not ok]
        if missing:
            if CI:
                self.fail("CI=true and the browser test cannot run: missing " + ", ".join(missing))
            self.skipTest("missing " + ", ".join(missing))
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config",
                                  "--broker", "%s/%s" % (self.broker.url, self.FLEET)], env=self.env)
        drv = None
        try:
            denv = dict(self.env, SWARM_SRC=SRC, DASH_URL=url, DASH_NODE="bus1")
            drv = subprocess.Popen(["node", os.path.join(HERE, "dashboard_broker_driver.cjs")], env=denv,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            out = []
            for line in drv.stdout:
                out.append(line.rstrip())
                print("  " + line.rstrip(), file=sys.stderr)
                if line.startswith("kill "):
                    self.node.kill()
                    drv.stdin.write("killed\n")
                    drv.stdin.flush()
            self.assertEqual(drv.wait(timeout=60), 0, "\n".join(out[-20:]))
            result = json.loads([x for x in out if x.startswith("RESULT ")][0][7:])
            self.assertIn("through the broker", result["ping"])
        finally:
            if drv and drv.poll() is None:
                drv.kill()
                drv.wait()
            self.assertEqual(stop_dashboard(d), 0)

    def test_config_broker(self):
        cfgdir = os.path.join(self.tmp, "cfg", "swarm")
        os.makedirs(cfgdir, exist_ok=True)
        with open(os.path.join(cfgdir, "config"), "w") as f:
            f.write("[mqtt]\nbroker = %s/%s\n" % (self.broker.url, self.FLEET))
        d, url = start_dashboard(["--port", "0", "--no-scan"], env=self.env)
        try:
            w = WS(url)
            n = self.wait_node(w, lambda n: n["name"] == "bus1" and n["online"])
            self.assertEqual(n["source"], "mqtt")
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_bad_broker_url(self):
        p = subprocess.run([SWARM_BIN, "dashboard", "--port", "0", "--no-scan", "--broker", "tcp://127.0.0.1:1"],
                           env=self.env, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not a broker", p.stderr)


class TestDashboardSerial(PtyPairTestCase):
    """A node on a serial line (a pty pair) given as --link serial://: listed, called, and its
    console bytes (its log lines, on a lossless line) reach the page as console events."""

    def serial_node(self, key=None):
        """A swarm-node on the line (locked with key, if given), once it owns its end."""
        root = tempfile.mkdtemp(prefix="swarm-dash-ser-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(loopback_config(None, services=False)))
        if key:
            with open(os.path.join(root, "swarm.key"), "wb") as f:
                f.write(key)
        log = open(os.path.join(root, "node.log"), "wb")
        self.addCleanup(log.close)
        node = subprocess.Popen([NODE_BIN, "--root", root, "--name", "ser1", "--port", "0", "--listen", "127.0.0.1",
                                 "--serial", self.a], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(reap, node)
        # The node owns its end of the line only once it logged "ready": it flushes what the
        # line held before (bytes from before it owned it are not its own), so a request the
        # dashboard sent earlier would be lost and the call below would wait for nothing.
        deadline = time.monotonic() + 30
        while b" ready" not in open(os.path.join(root, "node.log"), "rb").read():
            self.assertIsNone(node.poll(), "the node ended")
            self.assertLess(time.monotonic(), deadline, "the node never got ready")
            time.sleep(0.02)
        return root

    def test_serial_console(self):
        root = self.serial_node()
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(root, "cfg"), XDG_CACHE_HOME=os.path.join(root, "cache"))
        uri = "serial://" + self.b
        d, url = start_dashboard(["--port", "0", "--no-scan", "--no-config", "--link", uri], env=env)
        try:
            w = WS(url)
            fleet = w.recv_json(lambda m: m.get("ev") == "fleet")
            if not fleet["nodes"][0]["online"]:
                w.recv_json(lambda m: m.get("ev") == "node" and m["node"]["online"])
            w.send({"id": 1, "op": "call", "node": uri, "path": "sys.eval",
                    "args": {"code": "print('dash-console-marker')"}})
            got = w.recv_json(lambda m: (m.get("ev") == "console" and "dash-console-marker" in m["text"])
                              or m.get("id") == 1 and "error" in m)
            self.assertEqual(got.get("ev"), "console", got)
            self.assertEqual(got["node"], uri)
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)

    def test_locked_without_key(self):
        """A locked node on a lossless line and a dashboard whose host has no key: the node
        says nothing (it reads nothing but a handshake), so a call that gets no answer makes
        the dashboard ask the line, without blocking its loop, and the page hears that the
        device is locked and where the key goes (not "no answer"); the row turns locked, and
        the next call is answered at once."""
        root = self.serial_node(key=os.urandom(32))
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(root, "cfg"), XDG_CACHE_HOME=os.path.join(root, "cache"))
        env.pop("SWARM_KEY_FILE", None)
        uri = "serial://" + self.b
        d, url = start_dashboard(["--timeout", "1s", "--port", "0", "--no-scan", "--no-config", "--link", uri],
                                 env=env)
        try:
            w = WS(url)
            w.recv_json(lambda m: m.get("ev") == "fleet")
            seen = []
            w.send({"id": 1, "op": "call", "node": uri, "path": "ping", "args": {"m": "x"}})
            a = w.recv_json(lambda m: seen.append(m) or m.get("id") == 1)
            self.assertIn("the device is locked and this host has no key for it", a.get("error", ""), a)
            self.assertIn("swarm key path", a["error"])
            self.assertTrue(any(m.get("ev") == "node" and m["node"]["locked"] for m in seen), seen)
            w.send({"id": 2, "op": "call", "node": uri, "path": "sys.info"})
            a = w.recv_json(lambda m: m.get("id") == 2)
            self.assertIn("the device is locked", a.get("error", ""), a)
            w.close()
        finally:
            self.assertEqual(stop_dashboard(d), 0)
        with open(os.path.join(root, "node.log"), "rb") as f:
            self.assertIn(b"not an authenticated client; waiting for a new handshake", f.read())


class TestDashboardBrowser(unittest.TestCase):
    def setUp(self):
        missing = [w for w, ok in (("root (a namespace LAN)", os.geteuid() == 0),
                                   (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
                                   (PLAYWRIGHT + " (scripts/setup runs npm ci in web/)", os.path.isdir(PLAYWRIGHT)),
                                   ("node", shutil.which("node") is not None)) if not ok]
        if missing:
            if CI:
                self.fail("CI=true and the browser test cannot run: missing " + ", ".join(missing))
            self.skipTest("missing " + ", ".join(missing))

    def test_browser(self):
        tmp = tempfile.mkdtemp(prefix="swarm-dash-")
        proj = os.path.join(tmp, "proj")
        shutil.copytree(os.path.join(SRC, "apps"), os.path.join(proj, "apps"))
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"), XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        cfg = lambda i: {"dash": {"x": 1}}
        lan = Lan(nodes=3, apps=["blink", "counter", "blink"], apps_dir=os.path.join(proj, "apps"),
                  name_prefix="swdash", node_config=cfg)
        dash = drv = None
        try:
            lan.start()
            before = {n.name: self.info(lan, n) for n in lan.nodes}
            dash, url = start_dashboard(["--port", "0", "--no-config", "--project", proj, "--scan-every", "500ms"],
                                        env=env, popen=lambda argv, **kw: lan.popen(lan.host_ns, argv, **kw))
            # the project changes after the nodes started: the push has something to do
            for app in ("blink", "counter"):
                with open(os.path.join(proj, "apps", app, "dash_marker.lua"), "w") as f:
                    f.write("-- pushed from the dashboard\nreturn 1\n")
            nodes = [{"name": n.name, "key": self.info(lan, n)["id"]} for n in lan.nodes]
            shots = os.environ.get("SW_DASH_SHOTS") or tmp
            denv = dict(env, SWARM_SRC=SRC, DASH_URL=url, DASH_NODES=json.dumps(nodes), DASH_SHOTS=shots,
                        DASH_OLD_VERSION="")
            drv = lan.popen(lan.host_ns, ["node", os.path.join(HERE, "dashboard_driver.cjs")], env=denv,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            out, killed = [], False
            for line in drv.stdout:
                out.append(line.rstrip())
                print("  " + line.rstrip(), file=sys.stderr)
                if line.startswith("break-project"):
                    # an app that fails as it starts: the node's health check rolls it back
                    for app in ("blink", "counter"):
                        with open(os.path.join(proj, "apps", app, "main.lua"), "w") as f:
                            f.write('error("broken on purpose by test_dashboard")\n')
                    drv.stdin.write("broken\n")
                    drv.stdin.flush()
                if line.startswith("kill ") and not killed:
                    victim = line.split()[1]
                    i = [n.name for n in lan.nodes].index(victim)
                    lan.stop_node(i, sig=signal.SIGKILL)
                    killed = True
                    drv.stdin.write("killed\n")
                    drv.stdin.flush()
            rc = drv.wait(timeout=60)
            self.assertEqual(rc, 0, "\n".join(out[-20:]))
            result = json.loads([x for x in out if x.startswith("RESULT ")][0][7:])
            self.assertEqual(result["listed"], 3)
            # the config edit reached the node
            r = lan.swarm("cfg", lan.nodes[0].ip, "get", "dash.x", env=env)
            self.assertEqual(r.stdout.strip(), "42", r.stderr)
            # the upload landed in the node's root
            with open(os.path.join(lan.nodes[0].root, "from-page.bin"), "rb") as f:
                self.assertEqual(f.read(), bytes((i * 7) & 255 for i in range(20000)))
            # the push changed the app on the nodes still running, and the broken one did not
            # stay anywhere (rolled back on the canary, not sent to the others)
            for n in lan.nodes[:2]:
                after = self.info(lan, n)
                self.assertNotEqual(after["app_hash"], before[n.name]["app_hash"])
                with open(os.path.join(n.root, "apps", n.app, "main.lua")) as f:
                    self.assertNotIn("broken on purpose", f.read())
                self.assertTrue(os.path.exists(os.path.join(n.root, "apps", n.app, "dash_marker.lua")))
            self.assertEqual(len([r for r in result["canary"] if r.startswith("rolled-back")]), 1)
            # max failures 1: one node failed, the other two were never pushed
            self.assertEqual(sorted(r.split()[0] for r in result["maxfail"]), ["rolled-back", "skipped", "skipped"],
                             result["maxfail"])
            self.assertIn("render_ms", result["perf"])
        finally:
            if drv and drv.poll() is None:
                drv.kill()
                drv.wait()
            if dash:
                rc = stop_dashboard(dash)
                err = dash.stderr.read().decode()
                self.assertEqual(rc, 0, err[-3000:])
            lan.close()
            shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def info(lan, n):
        """What the node's beacon says (id, app_hash), through `swarm scan --json`."""
        r = lan.swarm("scan", "--json", "--no-cache", "--wait-for", "3", "--timeout", "3s")
        for d in json.loads(r.stdout):
            if d.get("host") == n.name:
                return d
        raise AssertionError("%s not in the scan: %s" % (n.name, r.stdout))


if __name__ == "__main__":
    unittest.main(verbosity=2)
