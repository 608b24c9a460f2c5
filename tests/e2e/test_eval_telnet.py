"""Remote eval and the telnet console of a real swarm-node, driven by real clients: `nc -N` for
remote eval (a Lua chunk runs, an error is logged, micro-swarm's reset snippet resets the node)
and inetutils `telnet` in tmux for the console (banner, live log, Lua, Ctrl-C maintenance,
:start, :quit); option negotiation and IAC escaping checked byte by byte on a raw socket; bad
input (garbage, IAC floods, huge lines, many connections, a client that does not read).

The node runs on loopback with both services on free ports set in its config file (and the
broadcast/multicast services off, so nothing leaves loopback). Each test class starts its own
node; roots, processes, tmux servers and logs are removed even when a test fails."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swarmtest import Client, Node, RemoteError, free_port, pack  # noqa: E402

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
TICK_APP = r'''
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
'''


def start_node(test, extra_cfg=None):
    """A node with the tick app and eval/telnet on free loopback ports; cleaned up by test."""
    node = Node(name="etnode", app="tick")
    node.eval_port, node.telnet_port = free_port(), free_port()
    cfg = {"boot": {"REMOTE_EVAL_PORT": node.eval_port, "TELNET_PORT": node.telnet_port,
                    "BEACON_ENABLE": False, "MDNS_ENABLE": False, "FTPD_ENABLE": False}}
    for k, v in (extra_cfg or {}).items():
        cfg.setdefault(k, {}).update(v)
    os.makedirs(os.path.join(node.root, "apps", "tick"))
    with open(os.path.join(node.root, "apps", "tick", "main.lua"), "w") as f:
        f.write(TICK_APP)
    with open(os.path.join(node.root, "swarm.cfg"), "wb") as f:
        f.write(pack(cfg))
    test.addCleanup(node.stop)
    node.start()
    node.wait_log("telnet: listening")
    node.wait_log("tick 1")
    return node


def nc_send(port, data, timeout=10):
    """nc -N (shut down the sending side at EOF, as push_code does); returns what came back."""
    p = subprocess.run(["nc", "-N", "127.0.0.1", str(port)], input=data, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout


def alive(node):
    """The node answers RPC (and is the node we started)."""
    with node.client() as c:
        return c.call("sys.info")["host_name"] == "etnode"


def count_in_log(node, text):
    return node.read_log().count(text)


###############################################################################################
# Remote eval

class RemoteEval(unittest.TestCase):
    def setUp(self):
        self.node = start_node(self, {"eval": {"idle_ms": 700, "max": 8192, "clients": 4}})

    def test_chunk_runs_and_nothing_comes_back(self):
        chunk = (b'print("eval marker " .. 6 * 7)\n'
                 b'evaltest_global = 1234\n'
                 b'swarm.call("sys.cfg", {p = {"evaltest", "value"}, d = 42})\n')
        rc, out = nc_send(self.node.eval_port, chunk)
        self.assertEqual((rc, out), (0, b""))  # micro-swarm sends no reply byte
        self.node.wait_log("eval marker 42")
        with self.node.client() as c:
            self.assertEqual(c.call("sys.eval", {"code": "evaltest_global"})[0], 1234)
            deadline = time.monotonic() + 5
            while c.call("sys.eval", {"code": 'swarm.config("evaltest.value")'})[0] != 42:
                self.assertLess(time.monotonic(), deadline, "sys.cfg from the chunk not applied")
                time.sleep(0.05)

    def test_lua_error_is_logged_not_sent(self):
        rc, out = nc_send(self.node.eval_port, b'local t = nil\nerror("boom-" .. 77)\n')
        self.assertEqual((rc, out), (0, b""))
        self.node.wait_log("*** Remote eval exception: ***")
        self.node.wait_log("eval:2: boom-77")
        rc, out = nc_send(self.node.eval_port, b"this is not lua at all ((")
        self.assertEqual(out, b"")
        self.node.wait_log("eval:1: syntax error near 'is'")  # logged the same way
        self.assertEqual(count_in_log(self.node, "*** Remote eval exception: ***"), 2)
        self.assertTrue(alive(self.node))

    def test_reset_snippet_resets_the_node(self):
        rc, out = nc_send(self.node.eval_port, RESET_SNIPPET)
        self.assertEqual((rc, out), (0, b""))
        self.node.wait_log("remote eval: Reset triggered after code deployment...")
        self.node.wait_log("reset: remote eval: machine.reset()")
        deadline = time.monotonic() + 15
        while count_in_log(self.node, "swarm-node 0.1.0 starting") < 2:
            self.assertLess(time.monotonic(), deadline, "no new boot:\n" + self.node.read_log()[-3000:])
            time.sleep(0.05)
        self.node.wait_port()
        self.assertTrue(alive(self.node))
        # the other forms: rshell's soft reset line, and a bare call
        for snippet, why in ((b"import machine ; machine.soft_reset()\n", "machine.soft_reset()"),
                             (b"machine.reset()", "machine.reset()")):
            boots = count_in_log(self.node, "swarm-node 0.1.0 starting")
            self.node.wait_log("eval: listening on 127.0.0.1:%d" % self.node.eval_port)
            self.assertEqual(nc_send(self.node.eval_port, snippet)[1], b"")
            self.node.wait_log("reset: remote eval: " + why)
            deadline = time.monotonic() + 15
            while count_in_log(self.node, "swarm-node 0.1.0 starting") <= boots:
                self.assertLess(time.monotonic(), deadline, "no new boot after %r" % snippet)
                time.sleep(0.05)
            self.node.wait_port()
            self.assertTrue(alive(self.node))

    def test_python_that_is_more_than_the_snippet_is_not_a_reset(self):
        # one statement outside the recognised forms: the chunk is Lua (and fails as such)
        self.assertEqual(nc_send(self.node.eval_port, RESET_SNIPPET + b"\nx = compute()\n")[1], b"")
        self.node.wait_log("*** Remote eval exception: ***")
        # a reset call inside a string or a comment is not a call either
        nc_send(self.node.eval_port, b'print("machine.reset()")\n-- machine.reset()\n')
        self.node.wait_log("tick: machine.reset()")
        time.sleep(0.5)
        self.assertNotIn("reset: remote eval", self.node.read_log())
        self.assertEqual(count_in_log(self.node, "swarm-node 0.1.0 starting"), 1)

    def test_idle_client_is_dropped_unrun(self):
        s = socket.create_connection(("127.0.0.1", self.node.eval_port))
        self.addCleanup(s.close)
        s.sendall(b'print("idle marker")')  # and never half-close
        s.settimeout(5)
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")  # the node closed it
        self.assertGreater(time.monotonic() - t0, 0.5)
        self.node.wait_log("no end of request within 700 ms")
        time.sleep(0.3)
        self.assertNotIn("idle marker", self.node.read_log())

    def test_oversized_request_is_dropped(self):
        s = socket.create_connection(("127.0.0.1", self.node.eval_port))
        self.addCleanup(s.close)
        try:
            s.sendall(b"print('big marker')\n" + b"-" * 20000)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the node may close before everything is sent
        self.node.wait_log("request over 8192 bytes (eval.max), dropped")
        time.sleep(0.3)
        self.assertNotIn("big marker", self.node.read_log())

    def test_many_connections_and_garbage(self):
        socks = []
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", self.node.eval_port))
            socks.append(s)
        self.node.wait_log("remote eval: refused")
        for s in socks:
            s.close()
        rng = random.Random(5)
        for k in range(20):
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 3000)))
            nc_send(self.node.eval_port, blob)
        time.sleep(0.5)
        self.assertTrue(alive(self.node))
        rc, out = nc_send(self.node.eval_port, b'print("after garbage " .. 1 + 1)')
        self.node.wait_log("after garbage 2")


###############################################################################################
# Telnet: raw protocol

class RawTelnet:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
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


class TelnetProtocol(unittest.TestCase):
    def setUp(self):
        self.node = start_node(self, {"telnet": {"clients": 3, "outq": 8192}})

    def raw(self, log_off=False):
        t = RawTelnet(self.node.telnet_port)
        self.addCleanup(t.close)
        if log_off:  # exact bytes are checked: no live log in between
            t.read_until(b"> ")
            t.send(b":log off\r\n")
            t.read_until(b"Live log off.\r\n> ")
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
        t.send(b":log off\r\n")
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
        self.node.wait_log("tick: stopped")
        with self.node.client() as c:
            with self.assertRaises(RemoteError):
                c.call("tick.count")
        t.send(b":start\r\n")
        t.read_until(b"App tick started.")
        with self.node.client() as c:
            deadline = time.monotonic() + 5
            while True:
                try:
                    c.call("tick.count")
                    break
                except RemoteError:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)

    def test_bad_input(self):
        rng = random.Random(7)
        # garbage, in random pieces, some of it IAC-heavy (it may hold Ctrl-D or a COMPRESS2
        # start, which end the session: then on with a new one)
        t = self.raw()
        for _ in range(40):
            blob = bytes(rng.choice((rng.getrandbits(8), IAC, 0, 13, 10, 3, 27)) for _ in range(rng.randrange(1, 2000)))
            try:
                t.send(blob)
            except OSError:
                t = self.raw()
            time.sleep(0.01)
        t.close()
        # a session the node closed itself lingers while its output drains (at most the port's
        # linger time): wait until every garbage session is gone before counting below
        deadline = time.monotonic() + 10
        while True:
            lines = [l for l in self.node.read_log().splitlines() if " I telnet 127.0.0.1:" in l]
            if sum(": session opened" in l for l in lines) == sum(": closed" in l for l in lines):
                break
            self.assertLess(time.monotonic(), deadline, "garbage sessions not closed")
            time.sleep(0.05)
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
        # too many sessions (telnet.clients = 3 here: t is one)
        extra = [self.raw() for _ in range(2)]
        for e in extra:
            e.read_until(b"> ")
        refused = self.raw()
        self.assertIn(b"Too many telnet sessions (at most 3).", refused.read_until(b"3)."))
        for e in extra:
            e.close()
        self.assertTrue(alive(self.node))
        t.send(b":quit\r\n")
        t.read_until(b"Bye.")

    def test_log_flood_is_cut(self):
        t = self.raw()
        t.read_until(b"> ")
        # ~1 MB logged at once: far more than the log ring holds between two looks at it
        with self.node.client() as c:
            c.call("sys.eval", {"code": 'for i = 1, 3000 do swarm.log(string.rep("x", 360) .. " flood " .. i) end'},
                   timeout=60)
        data = t.read_until(b" flood 3000\r\n", timeout=10)
        self.assertIn(b"[\xe2\x80\xa6 lines dropped]\r\n", data)
        self.assertLess(len(data), 100000)
        self.assertTrue(alive(self.node))


# The client side of SlowClient, run inside the test's network namespace: connects with a small
# receive buffer, reads nothing for a while (the app floods the log meanwhile), then reads all.
SLOW_CLIENT = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
time.sleep(float(sys.argv[2]))
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

# Floods the log with ~600 KB in 5 s, 1 s after it starts: slowly enough for the log ring.
FLOOD_APP = r"""
local M = {}
function M.routine_flood()
  swarm.sleep(1000)
  for i = 1, 1500 do
    swarm.log(string.rep("x", 360) .. " flood " .. i)
    if i % 30 == 0 then swarm.sleep(100) end
  end
end
return M
"""


class SlowClient(unittest.TestCase):
    """A client that does not read: the node drops log lines rather than queue them. Loopback's
    kernel buffers (up to 4 MB) would take the whole flood, so node and client run in a network
    namespace of their own with small TCP buffers (needs root; CI is root)."""

    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            self.skipTest("needs root and iproute2 for a private network namespace")
        self.ns = "swt-et-%d" % os.getpid()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        self.addCleanup(subprocess.run, ["ip", "netns", "del", self.ns], capture_output=True)
        ex = ["ip", "netns", "exec", self.ns]
        subprocess.run(ex + ["ip", "link", "set", "lo", "up"], check=True)
        for key in ("net.ipv4.tcp_wmem", "net.ipv4.tcp_rmem"):
            subprocess.run(ex + ["sysctl", "-q", "-w", key + "=4096 8192 16384"], check=True)
        self.ex = ex

    def test_slow_client_is_bounded(self):
        node = Node(name="etnode", app="flood")
        node.telnet_port = free_port()
        cfg = {"boot": {"TELNET_PORT": node.telnet_port, "REMOTE_EVAL_ENABLE": False,
                        "BEACON_ENABLE": False, "MDNS_ENABLE": False, "FTPD_ENABLE": False},
               "telnet": {"outq": 8192}}
        os.makedirs(os.path.join(node.root, "apps", "flood"))
        with open(os.path.join(node.root, "apps", "flood", "main.lua"), "w") as f:
            f.write(FLOOD_APP)
        with open(os.path.join(node.root, "swarm.cfg"), "wb") as f:
            f.write(pack(cfg))
        ex = self.ex
        node.args = lambda: ex + Node.args(node)
        self.addCleanup(node.stop)
        node.start(wait=False)
        node.wait_log("telnet: listening")
        client = subprocess.run(ex + ["/usr/bin/python3", "-c", SLOW_CLIENT, str(node.telnet_port), "8"],
                                capture_output=True, timeout=60)
        data = client.stdout
        node.wait_log("routine_flood finished")
        # the first lines, then (once the client reads again) a note for what was dropped while
        # it did not: counted, so the queue bound did it, not the log ring
        self.assertIn(b" flood 1\r\n", data, client.stderr.decode(errors="replace"))
        dropped = re.findall(rb"\[\xe2\x80\xa6 (\d+) lines dropped\]\r\n", data)
        self.assertTrue(dropped, data[-1000:])
        got = len(re.findall(rb" flood \d+\r\n", data))
        self.assertGreaterEqual(got + sum(int(k) for k in dropped), 1500, (got, dropped))  # none unaccounted
        self.assertGreater(sum(int(k) for k in dropped), 500)
        self.assertLess(len(data), 200000, "the node queued the whole flood for a client that did not read")
        self.assertIsNone(node.proc.poll())


###############################################################################################
# Telnet: the real client in tmux

class Tmux:
    def __init__(self, test, cmd):
        self.sock = "swt-et-%d" % os.getpid()
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)
        subprocess.run(["tmux", "-L", self.sock, "new-session", "-d", "-s", "t", "-x", "150", "-y", "50"],
                       check=True)
        # the pane stays when the client exits, so its last words can be read
        subprocess.run(["tmux", "-L", self.sock, "set-option", "-t", "t", "remain-on-exit", "on"], check=True)
        subprocess.run(["tmux", "-L", self.sock, "respawn-pane", "-k", "-t", "t", cmd], check=True)
        test.addCleanup(lambda: subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True))

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


class TelnetClient(unittest.TestCase):
    def test_session(self):
        node = start_node(self)
        tm = Tmux(self, "telnet 127.0.0.1 %d" % node.telnet_port)
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
        node.wait_log("tick: stopped")
        time.sleep(0.5)
        last = node.read_log().count(" I tick: tick ")
        time.sleep(0.6)
        self.assertEqual(node.read_log().count(" I tick: tick "), last, "tick lines after Ctrl-C")
        with node.client() as c:
            with self.assertRaises(RemoteError):
                c.call("tick.count")
        # :start: running again
        tm.type(":start")
        tm.key("Enter")
        at = tm.wait("App tick started.", after=at)
        tm.wait(" I tick: tick 1\n", after=at)
        with node.client() as c:
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
        self.assertTrue(alive(node))


if __name__ == "__main__":
    unittest.main()
