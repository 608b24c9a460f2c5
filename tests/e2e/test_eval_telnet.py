"""Remote eval and the telnet console of a real swarm-node, driven by real clients: `nc -N` for
remote eval (a Lua chunk runs, an error is logged, micro-swarm's reset snippet resets the node)
and inetutils `telnet` in tmux for the console (banner, live log, Lua, Ctrl-C maintenance,
:start, :quit); option negotiation and IAC escaping checked byte by byte on a raw socket; bad
input (garbage, IAC floods, huge lines, many connections, a client that does not read).

Runs in the namespace LAN of tests/lab/lanlab.py (as root: the node in its own namespace with
its services on the default ports 23 and 1139, the clients in the lab's host namespace), else
in lanlab's loopback mode (the node on a 127.0.B.x address, its services on free ports). Each test class
builds its own lab; namespaces, processes, tmux servers and files are removed even when a test
fails."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)
import lanlab  # noqa: E402
from swarmtest import Client, RemoteError  # noqa: E402

for tool in ("nc", "telnet", "tmux"):
    if not shutil.which(tool):  # scripts/setup installs them; never skip silently
        raise SystemExit("%s is missing: run scripts/setup (netcat-openbsd, inetutils-telnet, tmux)" % tool)

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
IP, AYT = 244, 246
ECHO, SGA, LINEMODE = 1, 3, 34

# The exact bytes micro-swarm's push_code sends to the eval port (spec §4).
RESET_SNIPPET = (b'if True:\n                    print("\\nReset triggered after code deployment...\\n")\n'
                 b'                    import machine\n                    machine.reset()\n                ')

# An app that logs a line every 150 ms and has a command: its tasks show whether it runs.
TICK_APP = r"""
local M = {}
local n = 0
function M.routine_tick()
  while true do
    n = n + 1
    swarm.log("tick " .. n)
    swarm.sleep(150)
  end
end
swarm.command("count", function() return n end)
return M
"""


class Site:
    """One node in a lab of its own, and the ways to reach it from the lab's host side."""

    def __init__(self, config, mode="auto"):
        self.apps = tempfile.mkdtemp(prefix="swarm-et-apps-")
        os.makedirs(os.path.join(self.apps, "tick"))
        with open(os.path.join(self.apps, "tick", "main.lua"), "w") as f:
            f.write(TICK_APP)
        self.lan = lanlab.Lan(nodes=1, apps=["tick"], apps_dir=self.apps, names=["etnode"], mode=mode,
                              node_config=config, name_prefix="swet")
        try:
            self.lan.start()
            self.node = self.lan.nodes[0]
            self.ip = self.node.ip
            self.ns = self.lan.host_ns
            self.eval_port = self._port("eval")
            self.telnet_port = self._port("telnet")
            if self.lan.mode == "netns":  # micro-swarm's ports, the defaults
                assert (self.eval_port, self.telnet_port) == (1139, 23), (self.eval_port, self.telnet_port)
            self.wait_log("tick: tick 1")
        except BaseException:
            self.close()
            raise

    def _port(self, service):
        log = self.wait_log("%s: listening on " % service)
        return int(re.search(r"%s: listening on [^ ]*:(\d+)" % service, log).group(1))

    def close(self):
        self.lan.close()
        shutil.rmtree(self.apps, ignore_errors=True)

    def log(self):
        return self.lan.node_log(0)

    def wait_log(self, text, timeout=10.0):
        try:
            return self.lan.wait_log(0, text, timeout)
        except lanlab.LabError as e:
            raise AssertionError(str(e)) from None

    def count(self, text):
        return self.log().count(text)

    def boots(self):
        return self.count("swarm-node 0.1.0 starting")

    def client(self):
        """An RPC client from the host side (after the node's link announcement)."""
        with lanlab.netns(self.ns):
            c = Client(self.node.port, host=self.ip)
        note = c.read_note()
        assert note == {"d": True, "a": "link"}, note
        return c

    def alive(self):
        """The node answers RPC (and is the node we started)."""
        with self.client() as c:
            return c.call("sys.info")["host_name"] == "etnode"

    def nc(self, data, timeout=10):
        """nc -N (shut down the sending side at EOF, as push_code does); (status, bytes back)."""
        r = self.lan.run(self.ns, ["nc", "-N", self.ip, str(self.eval_port)], input=data, text=False,
                         timeout=timeout)
        return r.returncode, r.stdout

    def tcp(self, port, rcvbuf=None):
        s = self.lan.socket(self.ns, socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect((self.ip, port))
        return s

    def telnet_argv(self):
        return (["ip", "netns", "exec", self.ns] if self.ns else []) + ["telnet", self.ip, str(self.telnet_port)]


class SiteTest(unittest.TestCase):
    """One lab per class (building one costs a second or two)."""

    CONFIG = {}

    @classmethod
    def setUpClass(cls):
        cls.site = Site(cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def wait_boot(self, before):
        """Until the node has booted again (more boots than `before`) and answers RPC."""
        deadline = time.monotonic() + 20
        while self.site.boots() <= before:
            self.assertLess(time.monotonic(), deadline, "no new boot:\n" + self.site.log()[-3000:])
            time.sleep(0.05)
        self.site.lan.wait_ready()
        self.site.wait_log("eval: listening", timeout=5)
        self.assertTrue(self.site.alive())


###############################################################################################
# Remote eval

class RemoteEval(SiteTest):
    CONFIG = {"eval": {"idle_ms": 700, "max": 8192, "clients": 4}}

    def test_chunk_runs_and_nothing_comes_back(self):
        chunk = (b'print("eval marker " .. 6 * 7)\n'
                 b'evaltest_global = 1234\n'
                 b'swarm.call("sys.cfg", {p = {"evaltest", "value"}, d = 42})\n')
        self.assertEqual(self.site.nc(chunk), (0, b""))  # micro-swarm sends no reply byte
        self.site.wait_log("eval marker 42")
        with self.site.client() as c:
            self.assertEqual(c.call("sys.eval", {"code": "evaltest_global"})[0], 1234)
            deadline = time.monotonic() + 5
            while c.call("sys.eval", {"code": 'swarm.config("evaltest.value")'})[0] != 42:
                self.assertLess(time.monotonic(), deadline, "sys.cfg from the chunk not applied")
                time.sleep(0.05)

    def test_lua_error_is_logged_not_sent(self):
        before = self.site.count("*** Remote eval exception: ***")
        self.assertEqual(self.site.nc(b'local t = nil\nerror("boom-" .. 77)\n'), (0, b""))
        self.site.wait_log("eval:2: boom-77")
        self.assertEqual(self.site.nc(b"this is not lua at all ((")[1], b"")
        self.site.wait_log("eval:1: syntax error near 'is'")  # logged the same way
        self.assertEqual(self.site.count("*** Remote eval exception: ***"), before + 2)
        self.assertTrue(self.site.alive())

    def test_reset_snippet_resets_the_node(self):
        # push_code's exact bytes, rshell's soft reset line, and a bare call
        for snippet, why in ((RESET_SNIPPET, "machine.reset()"),
                             (b"import machine ; machine.soft_reset()\n", "machine.soft_reset()"),
                             (b"machine.reset()", "machine.reset()")):
            boots = self.site.boots()
            resets = self.site.count("reset: remote eval: " + why)
            self.assertEqual(self.site.nc(snippet), (0, b""))
            deadline = time.monotonic() + 10
            while self.site.count("reset: remote eval: " + why) <= resets:
                self.assertLess(time.monotonic(), deadline, "%r did not reset" % snippet)
                time.sleep(0.02)
            if snippet == RESET_SNIPPET:
                self.assertIn("remote eval: Reset triggered after code deployment...", self.site.log())
            self.wait_boot(boots)

    def test_python_that_is_more_than_the_snippet_is_not_a_reset(self):
        boots = self.site.boots()
        before = self.site.count("*** Remote eval exception: ***")
        # one statement outside the recognised forms: the chunk is Lua (and fails as such)
        self.assertEqual(self.site.nc(RESET_SNIPPET + b"\nx = compute()\n")[1], b"")
        deadline = time.monotonic() + 10
        while self.site.count("*** Remote eval exception: ***") <= before:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        # a reset call inside a string or a comment is not a call either
        self.site.nc(b'print("machine.reset()")\n-- machine.reset()\n')
        self.site.wait_log("tick: machine.reset()")
        time.sleep(0.5)
        self.assertEqual(self.site.boots(), boots)

    def test_idle_client_is_dropped_unrun(self):
        s = self.site.tcp(self.site.eval_port)
        self.addCleanup(s.close)
        s.sendall(b'print("idle marker")')  # and never half-close
        s.settimeout(5)
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")  # the node closed it
        self.assertGreater(time.monotonic() - t0, 0.5)
        self.site.wait_log("no end of request within 700 ms")
        time.sleep(0.3)
        self.assertNotIn("idle marker", self.site.log())

    def test_oversized_request_is_dropped(self):
        s = self.site.tcp(self.site.eval_port)
        self.addCleanup(s.close)
        try:
            s.sendall(b"print('big marker')\n" + b"-" * 20000)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the node may close before everything is sent
        self.site.wait_log("request over 8192 bytes (eval.max), dropped")
        time.sleep(0.3)
        self.assertNotIn("big marker", self.site.log())

    def test_many_connections_and_garbage(self):
        socks = [self.site.tcp(self.site.eval_port) for _ in range(12)]
        self.site.wait_log("remote eval: refused")
        for s in socks:
            s.close()
        rng = random.Random(5)
        for _ in range(20):
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
            self.site.nc(blob)
        time.sleep(0.5)
        self.assertTrue(self.site.alive())
        self.site.nc(b'print("after garbage " .. 1 + 1)')
        self.site.wait_log("after garbage 2")


###############################################################################################
# Telnet: raw protocol

class RawTelnet:
    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, b):
        self.s.sendall(b)

    def read_until(self, marker, timeout=5.0):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%r not received; got %r" % (marker, self.buf[-500:]))
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d:
                raise AssertionError("closed before %r; got %r" % (marker, self.buf[-500:]))
            self.buf += d
        i = self.buf.index(marker) + len(marker)
        got, self.buf = self.buf[:i], self.buf[i:]
        return got

    def sync(self):
        """Everything the node sent up to the answer to a fresh IAC AYT."""
        self.send(bytes([IAC, AYT]))
        return self.read_until(b"[swarm-node: yes]\r\n> ")

    def quiet(self, test):
        """Asserts that the node sent nothing but its AYT answer (and prompt moves) meanwhile."""
        got = self.sync()
        test.assertNotIn(bytes([IAC]), got)
        test.assertEqual(got.replace(b"\r\x1b[K", b"").replace(b"\r\n", b"").replace(b"> ", b""),
                         b"[swarm-node: yes]")


class TelnetProtocol(SiteTest):
    CONFIG = {"telnet": {"clients": 3, "outq": 8192}}

    def raw(self):
        t = RawTelnet(self.site.tcp(self.site.telnet_port))
        self.addCleanup(t.close)
        return t

    def test_negotiation_and_banner(self):
        t = self.raw()
        first = t.read_until(b"> ")
        # WILL ECHO, WILL SUPPRESS-GO-AHEAD first, then the banner (name, app, version, help)
        self.assertTrue(first.startswith(bytes([IAC, WILL, ECHO, IAC, WILL, SGA])), first)
        text = first[6:]
        for want in (b"etnode", b"app tick", b"0.1.0", b":help"):
            self.assertIn(want, text)
        self.assertNotIn(bytes([IAC]), text)
        t.send(b":log off\r\n")  # exact bytes from here on: no live log in between
        t.read_until(b"Live log off.\r\n> ")
        # unknown option 66: DO -> WONT, WILL -> DONT; DONT/WONT of a disabled option: silence
        t.send(bytes([IAC, DO, 66]))
        self.assertEqual(t.read_until(bytes([IAC, WONT, 66])), bytes([IAC, WONT, 66]))
        t.send(bytes([IAC, WILL, 66]))
        self.assertEqual(t.read_until(bytes([IAC, DONT, 66])), bytes([IAC, DONT, 66]))
        t.send(bytes([IAC, DONT, 66, IAC, WONT, 66]))
        t.quiet(self)  # nothing answered those, and no option byte leaked as text
        # LINEMODE offered by the client is refused (no line mode: the node edits the line)
        t.send(bytes([IAC, WILL, LINEMODE]))
        self.assertEqual(t.read_until(bytes([IAC, DONT, LINEMODE])), bytes([IAC, DONT, LINEMODE]))
        # confirming our offers needs no answer; then the node echoes (character mode)
        t.send(bytes([IAC, DO, ECHO, IAC, DO, SGA, IAC, WILL, SGA]))
        self.assertEqual(t.read_until(bytes([IAC, DO, SGA])), bytes([IAC, DO, SGA]))
        t.send(b"ab")
        self.assertEqual(t.read_until(b"ab"), b"ab")
        t.send(b"\x7f")  # backspace
        self.assertEqual(t.read_until(b"\b \b"), b"\b \b")
        # DONT ECHO: the node stops echoing (and says WONT)
        t.send(bytes([IAC, DONT, ECHO]))
        self.assertEqual(t.read_until(bytes([IAC, WONT, ECHO])), bytes([IAC, WONT, ECHO]))
        t.send(b"cd")
        t.quiet(self)
        # a subnegotiation (terminal type) and stray commands do not leak into the line
        t.send(bytes([IAC, SB, 24, 0]) + b"xterm" + bytes([IAC, SE, IAC, 241]))
        t.send(b"\x15return 6*7\r\n")  # Ctrl-U drops "acd"
        self.assertIn(b"42\r\n", t.read_until(b"42\r\n> "))

    def test_iac_escaping_both_ways(self):
        t = self.raw()
        t.read_until(b"> ")
        t.send(bytes([IAC, DO, ECHO]))
        # IAC IAC in the input is one 0xFF data byte
        t.send(b'return #"' + bytes([IAC, IAC]) + b'"\r\n')
        self.assertIn(b"\r\n1\r\n", t.read_until(b"\r\n1\r\n"))
        # a 0xFF byte in the output (a log line) is sent as IAC IAC; 0xAD is left alone
        t.send(b'print("ff:\\255\\173:end")\r\n')
        t.read_until(b"tick: ff:" + bytes([IAC, IAC, 0xAD]) + b":end\r\n")

    def test_interrupt_by_iac_ip(self):
        t = self.raw()
        t.read_until(b"> ")
        t.send(bytes([IAC, IP]))
        t.read_until(b"App tasks stopped (maintenance mode)")
        self.site.wait_log("tick: stopped")
        with self.site.client() as c:
            with self.assertRaises(RemoteError):
                c.call("tick.count")
        t.send(b":start\r\n")
        t.read_until(b"App tick started.")
        with self.site.client() as c:
            deadline = time.monotonic() + 5
            while True:
                try:
                    c.call("tick.count")
                    break
                except RemoteError:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)

    def sessions_gone(self):
        """Waits until every telnet session the node opened is closed. A session the node
        closed itself lingers while its output drains (at most the port's linger time)."""
        deadline = time.monotonic() + 10
        while True:
            lines = [l for l in self.site.log().splitlines() if " I telnet " in l]
            if sum(": session opened" in l for l in lines) == sum(": closed" in l for l in lines):
                return
            self.assertLess(time.monotonic(), deadline, "telnet sessions not closed")
            time.sleep(0.05)

    def test_bad_input(self):
        rng = random.Random(7)
        # garbage, in random pieces, some of it IAC-heavy (it may hold Ctrl-D or a COMPRESS2
        # start, which end the session: then on with a new one)
        t = RawTelnet(self.site.tcp(self.site.telnet_port))
        for _ in range(40):
            blob = bytes(rng.choice((rng.getrandbits(8), IAC, 0, 13, 10, 3, 27)) for _ in range(rng.randrange(1, 2000)))
            try:
                t.send(blob)
            except OSError:
                t.close()
                t = RawTelnet(self.site.tcp(self.site.telnet_port))
            time.sleep(0.01)
        t.close()
        self.sessions_gone()
        # IAC floods: negotiation for every option, many times; an endless subnegotiation
        t = self.raw()
        t.read_until(b"> ")
        flood = b"".join(bytes([IAC, cmd, opt]) for cmd in (DO, DONT, WILL, WONT) for opt in range(256))
        for _ in range(20):
            t.send(flood)
        t.send(bytes([IAC, SB, 24]) + b"y" * 100000 + bytes([IAC, SE]))
        t.send(bytes([IAC, AYT]) * 500)
        t.sync()
        # a huge line, then a normal one
        t.send(b"A" * 200000 + b"\r\n")
        t.read_until(b"Line too long (at most 1024 bytes): discarded.")
        t.send(b"return 1+1\r\n")
        t.read_until(b"> 2\r\n> ")  # (no echo: the flood ended with DONT ECHO)
        # too many sessions (telnet.clients = 3 here: t is one). Each has entered a line: a
        # session that has not would give its slot to the newcomer (telnet.idle_ms rules)
        extra = [self.raw() for _ in range(2)]
        for e in extra:
            e.read_until(b"> ")
            e.send(b"return 7\r\n")
            e.read_until(b"7\r\n")
        refused = self.raw()
        self.assertIn(b"Too many telnet sessions (at most 3).", refused.read_until(b"3)."))
        for e in extra:
            e.close()
        self.assertTrue(self.site.alive())
        t.send(b":start\r\n:quit\r\n")  # the garbage stopped the app: running again
        t.read_until(b"Bye.")

    def test_log_flood_is_cut(self):
        t = self.raw()
        t.read_until(b"> ")
        # ~1 MB logged at once: far more than the log ring holds between two looks at it
        with self.site.client() as c:
            c.call("sys.eval", {"code": 'for i = 1, 3000 do swarm.log(string.rep("x", 360) .. " flood " .. i) end'},
                   timeout=60)
        data = t.read_until(b" flood 3000\r\n", timeout=10)
        self.assertIn(b"[\xe2\x80\xa6 lines dropped]\r\n", data)
        self.assertLess(len(data), 100000)
        self.assertTrue(self.site.alive())


# The client side of SlowClient, run in the lab's host namespace: connects with a small receive
# buffer, stops the app (its tick lines), starts a flood of the log (~600 KB in 5 s, slowly
# enough for the log ring) and reads nothing for a while, then reads all there is.
SLOW_CLIENT = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b':stop\r\nfor i = 1, 1500 do swarm.log(string.rep("x", 360) .. " flood " .. i) '
          b'if i % 30 == 0 then swarm.sleep(100) end end\r\n')
time.sleep(float(sys.argv[3]))
s.settimeout(1.5)
data = b""
deadline = time.monotonic() + 20
while time.monotonic() < deadline:  # until the node has been quiet for 1.5 s
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    data += d
sys.stdout.buffer.write(data)
"""


class SlowClient(unittest.TestCase):
    """A client that does not read: the node drops log lines rather than queue them. The kernel
    would take the whole flood into its buffers (up to 4 MB on loopback), so the lab's
    namespaces get small TCP buffers: namespace mode only (root)."""

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs the namespace lab (root) for small TCP buffers")
        cls.site = Site({"telnet": {"outq": 8192}}, mode="netns")
        try:
            for ns in (cls.site.node.ns, cls.site.ns):
                for key in ("net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"):
                    r = cls.site.lan.run(ns, ["sysctl", "-q", "-w", key + "=4096 8192 16384"])
                    assert r.returncode == 0, r.stderr
        except BaseException:
            cls.site.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.site.close()

    def test_slow_client_is_bounded(self):
        site = self.site
        r = site.lan.run(site.ns, ["/usr/bin/python3", "-c", SLOW_CLIENT, site.ip, str(site.telnet_port), "8"],
                         text=False, timeout=60)
        data = r.stdout
        site.wait_log(" flood 1500")
        # the first lines, then (once the client reads again) a note for what was dropped while
        # it did not: counted, so the queue bound did it, not the log ring
        self.assertIn(b" flood 1\r\n", data, r.stderr.decode(errors="replace"))
        dropped = re.findall(rb"\[\xe2\x80\xa6 (\d+) lines dropped\]\r\n", data)
        self.assertTrue(dropped, data[-1000:])
        got = len(re.findall(rb" flood \d+\r\n", data))
        self.assertGreaterEqual(got + sum(int(k) for k in dropped), 1500, (got, dropped))  # none unaccounted
        self.assertGreater(sum(int(k) for k in dropped), 500)
        self.assertLess(len(data), 200000, "the node queued the whole flood for a client that did not read")
        self.assertTrue(site.alive())


###############################################################################################
# Telnet: the real client in tmux

class Tmux:
    def __init__(self, test, argv):
        self.sock = "swt-et-%d" % os.getpid()
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        subprocess.run(["tmux", "-L", self.sock, "new-session", "-d", "-s", "t", "-x", "150", "-y", "50"],
                       check=True)
        test.addCleanup(lambda: subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True))
        # the pane stays when the client exits, so its last words can be read
        subprocess.run(["tmux", "-L", self.sock, "set-option", "-t", "t", "remain-on-exit", "on"], check=True)
        subprocess.run(["tmux", "-L", self.sock, "respawn-pane", "-k", "-t", "t", " ".join(argv)], check=True)

    def type(self, text):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", "-l", text], check=True)

    def key(self, *keys):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", *keys], check=True)

    def screen(self):
        p = subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-J", "-S", "-3000", "-t", "t"],
                           capture_output=True, text=True)
        return p.stdout

    def wait(self, text, timeout=8.0, after=0):
        deadline = time.monotonic() + timeout
        while True:
            scr = self.screen()
            if text in scr[after:]:
                return scr.index(text, after) + len(text)
            if time.monotonic() > deadline:
                raise AssertionError("%r not on the screen:\n%s" % (text, scr[-3000:]))
            time.sleep(0.05)


class TelnetClient(SiteTest):
    def test_session(self):
        site = self.site
        tm = Tmux(self, site.telnet_argv())
        at = tm.wait("swarm-node 0.1.0 on etnode: app tick, board posix-sim")
        at = tm.wait(":help lists the commands", after=at)
        # the log, live: tick lines logged after the session opened
        tick_at = tm.wait(" I tick: tick ", after=at)
        # Lua: an expression, then an error (typed after the prompt, echoed by the node)
        tm.type("return 6*7")
        tm.key("Enter")
        at = tm.wait("\n42\n", after=at)
        tm.type('error("telnet-boom")')
        tm.key("Enter")
        at = tm.wait("error: eval:1: telnet-boom", after=at)
        # a multi-line chunk, typed ahead while the first line runs
        tm.type("function f(n)\nlocal s = 0\nfor i = 1, n do s = s + i end\nreturn s * 10\nend\nreturn f(4)\n"
                .replace("\n", "\r"))
        at = tm.wait("\n100\n", after=at)
        # Ctrl-C: maintenance mode, the app's tasks stop
        tm.key("C-c")
        at = tm.wait("App tasks stopped (maintenance mode)", after=at)
        site.wait_log("tick: stopped")
        time.sleep(0.5)
        last = site.count(" I tick: tick ")
        time.sleep(0.6)
        self.assertEqual(site.count(" I tick: tick "), last, "tick lines after Ctrl-C")
        with site.client() as c:
            with self.assertRaises(RemoteError):
                c.call("tick.count")
        # :start: running again
        tm.type(":start")
        tm.key("Enter")
        at = tm.wait("App tick started.", after=at)
        tm.wait(" I tick: tick 1\n", after=at)
        with site.client() as c:
            deadline = time.monotonic() + 5
            while True:
                try:
                    if c.call("tick.count") >= 1:
                        break
                except RemoteError:
                    pass
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
        # :log off silences the log; :quit ends the client
        tm.type(":log off")
        tm.key("Enter")
        at = tm.wait("Live log off.", after=at)
        time.sleep(0.6)
        self.assertNotIn(" I tick: tick ", tm.screen()[at:])
        tm.type(":quit")
        tm.key("Enter")
        tm.wait("Bye.", after=at)
        tm.wait("Connection closed by foreign host.", after=at)
        self.assertGreater(tick_at, 0)
        self.assertTrue(site.alive())


if __name__ == "__main__":
    unittest.main()
