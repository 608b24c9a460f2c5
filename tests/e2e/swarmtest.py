"""Shared helpers for swarm's end-to-end tests (run with /usr/bin/python3).

A small MoaT v0 client written from the spec (docs/PROTOCOL.md) on python3-msgpack, and a
fixture that starts a real swarm-node on a temporary root and a free port and always cleans up.

Environment: SWARM_BUILD = the CMake build directory (holds swarm-node, swarm), SWARM_SRC = the
source tree. Both are set by ctest (tests/e2e/e2e.cmake).
"""
import contextlib
import hashlib
import os
import shutil
import select
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

try:
    import msgpack
except ImportError as e:  # scripts/setup installs python3-msgpack; never skip silently
    raise SystemExit("python3-msgpack is missing: run scripts/setup (apt-get install python3-msgpack)") from e

BUILD = os.environ.get("SWARM_BUILD") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
SRC = os.environ.get("SWARM_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
NODE_BIN = os.path.join(BUILD, "swarm-node")
SWARM_BIN = os.path.join(BUILD, "swarm")


class Proxy:
    """MsgPack ext 4: a proxy name (Proxy('-') = no data / delete)."""

    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Proxy) and other.name == self.name

    def __repr__(self):
        return "Proxy(%r)" % self.name


NODATA = Proxy("-")


def _default(obj):
    if isinstance(obj, Proxy):
        return msgpack.ExtType(4, obj.name.encode())
    raise TypeError("cannot encode %r" % (obj,))


def _ext_hook(code, data):
    if code == 4:
        return Proxy(data.decode())
    return msgpack.ExtType(code, data)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True, default=_default)


def unpacker():
    return msgpack.Unpacker(raw=False, strict_map_key=False, ext_hook=_ext_hook, max_buffer_size=64 << 20)


def app_hash(d):
    """The app hash of docs/PROTOCOL.md ("Discovery") of the app folder d, computed here
    independently of the node's C code (a missing folder hashes as empty)."""
    h = hashlib.sha256()

    def walk(rel):
        full = os.path.join(d, rel) if rel else d
        if not os.path.isdir(full):
            return
        for name in sorted(os.listdir(full), key=os.fsencode):
            if name.startswith("."):
                continue
            p = os.path.join(full, name)
            r = rel + "/" + name if rel else name
            if os.path.islink(p):
                continue
            if os.path.isdir(p):
                walk(r)
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    data = f.read()
                h.update(os.fsencode(r) + b"\0" + str(len(data)).encode() + b"\0" +
                         hashlib.sha256(data).digest())
    walk("")
    return h.hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteError(Exception):
    pass


class Client:
    """One TCP connection speaking MoaT v0 messages. Unsolicited messages (link, error) are
    collected in .notes; console bytes (top-level ints) in .console."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.unp = unpacker()
        self.seq = 0
        self.notes = []
        self.console = bytearray()
        self.backlog = []  # answers read while waiting for something else
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, msg):
        self.sock.sendall(pack(msg))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _read_one(self, deadline):
        while True:
            for obj in self.unp:
                if isinstance(obj, int) and 0 <= obj < 256:
                    self.console.append(obj)
                    continue
                return obj
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the node")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("node closed the connection")
            self.unp.feed(data)

    def read(self, timeout=None):
        """Next message that is not a notification (notifications go to .notes)."""
        if self.backlog:
            return self.backlog.pop(0)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_one(deadline)
            if isinstance(m, dict) and "a" in m and "i" not in m:
                self.notes.append(m)
                continue
            return m

    def read_note(self, timeout=None):
        """Next notification (e.g. {"d": True, "a": "link"})."""
        if self.notes:
            return self.notes.pop(0)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_one(deadline)
            if isinstance(m, dict) and "a" in m and "i" not in m:
                return m
            self.backlog.append(m)

    def request(self, action, d=None, r=None):
        """Sends a request; returns its seq. action: "ping" or "sys.is_up" (→ list)."""
        self.seq += 1
        a = action.split(".") if "." in action else action
        msg = {"a": a, "d": {} if d is None else d, "i": self.seq}
        if r is not None:
            msg["r"] = r
        self.send(msg)
        return self.seq

    def answer(self, seq, timeout=None):
        """Reads until the answer for seq arrives (other answers are kept for later)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        kept = []
        try:
            while True:
                m = self.read(timeout=max(0.01, deadline - time.monotonic()))
                if isinstance(m, dict) and m.get("i") == seq:
                    return m
                kept.append(m)
        finally:
            self.backlog[:0] = kept

    def call(self, action, d=None, timeout=None):
        """Request + answer; returns d, raises RemoteError(e)."""
        m = self.answer(self.request(action, d), timeout)
        if "e" in m:
            raise RemoteError(m["e"])
        return m.get("d")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_config(path):
    """The MsgPack config file at path as a dict ({} if there is none)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    return msgpack.unpackb(data, raw=False, strict_map_key=False) if data else {}


# (switch, port) of the node's TCP services
TCP_SERVICES = (("FTPD_ENABLE", "FTPD_PORT"), ("TELNET_ENABLE", "TELNET_PORT"),
                ("REMOTE_EVAL_ENABLE", "REMOTE_EVAL_PORT"))


def loopback_config(cfg=None, services=True):
    """cfg (a config dict; not changed) made fit for a test node outside a namespace: every
    TCP service it does not switch off on a free port unless cfg names one (services=False:
    the services cfg does not switch on are off), the beacon's port free unless named. With
    --listen 127.0.0.1 (which every such node gets) the node binds loopback addresses only,
    beacons go to loopback destinations only and mDNS stays off; the network guard
    (tests/e2e/run.py) fails the test if it does not."""
    c = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (cfg or {}).items()}
    boot = c.setdefault("boot", {})
    for enable, port in TCP_SERVICES:
        boot.setdefault(enable, services)
        if boot[enable]:
            boot.setdefault(port, free_port())
    boot.setdefault("BEACON_DESTINATION_PORT", free_udp_port())
    return c


# What a node logs when a service it was configured to run could not start (a port taken, an
# address refused by the network guard): a test node that logs it fails its test at stop().
SERVICE_FAILURES = (": not started:", ": cannot listen on ", ": cannot open UDP ", "net guard: ")


class Node:
    """A swarm-node process on a temporary root. Use as a context manager or call stop()."""

    def __init__(self, root=None, name="t1", app=None, port=None, extra=(), env=None, log_to=None,
                 lan_services=False, service_errors=False, config_as_is=None):
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="swarm-e2e-")
        cfg = os.path.join(self.root, "swarm.cfg")
        # Every node of a test listens on 127.0.0.1 only, with each service on a port of its
        # own (loopback_config): nothing reaches the machine's network, and parallel tests or
        # other programs holding 21, 23, 1139 or 5353 cannot collide with it.
        # config_as_is: the config the test itself wrote (already made with loopback_config);
        # the file is left exactly as it is (a test of corrupt configs must not have it read
        # or rewritten here).
        if config_as_is is not None:
            self.config = config_as_is
        else:
            self.config = loopback_config(read_config(cfg), services=lan_services or os.path.exists(cfg))
            with open(cfg, "wb") as f:
                f.write(pack(self.config))
        boot = self.config["boot"]
        self.ftp_port = boot["FTPD_PORT"] if boot["FTPD_ENABLE"] else None
        self.telnet_port = boot["TELNET_PORT"] if boot["TELNET_ENABLE"] else None
        self.eval_port = boot["REMOTE_EVAL_PORT"] if boot["REMOTE_EVAL_ENABLE"] else None
        self.beacon_port = boot["BEACON_DESTINATION_PORT"]
        self.service_errors = service_errors
        self.name = name
        self.app = app
        self.port = port or free_port()
        self.extra = list(extra)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.logfile = log_to or os.path.join(tempfile.gettempdir(), "swarm-e2e-%d-%s.log" % (os.getpid(), self.port))

    def args(self):
        a = [NODE_BIN, "--root", self.root, "--name", self.name, "--port", str(self.port),
             "--listen", "127.0.0.1"]
        if self.app:
            a += ["--app", self.app]
        return a + self.extra

    def start(self, wait=True):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_port()
        return self

    def wait_port(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("swarm-node exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise TimeoutError("swarm-node did not listen on %d:\n%s" % (self.port, self.read_log()))

    def client(self, timeout=10.0):
        c = Client(self.port, timeout=timeout)
        note = c.read_note()
        assert note == {"d": True, "a": "link"}, note
        return c

    def read_log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.read_log():
                return True
            time.sleep(0.02)
        raise AssertionError("%r not in the node log:\n%s" % (text, self.read_log()[-4000:]))

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def service_failures(self):
        """The log lines that say a configured service did not start."""
        return [x for x in self.read_log().splitlines() if any(f in x for f in SERVICE_FAILURES)]

    def stop(self):
        """SIGTERM (orderly stop), SIGKILL if it hangs; removes the temporary root. Raises
        AssertionError if a configured service failed to start (unless service_errors=True),
        so a port taken by someone else cannot pass silently."""
        failed = []
        try:
            self.kill(signal.SIGTERM)
            if not self.service_errors and self.proc is not None:
                failed = self.service_failures()
        finally:
            if getattr(self, "log", None):
                self.log.close()
            if self.own_root:
                shutil.rmtree(self.root, ignore_errors=True)
            try:
                os.unlink(self.logfile)
            except OSError:
                pass
        if failed:
            raise AssertionError("a service of the node did not start:\n" + "\n".join(failed))

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class NodeTestCase(unittest.TestCase):
    """Starts one node per test (self.node, self.c); subclasses may set NODE_ARGS."""

    NODE_ARGS = {}

    def setUp(self):
        self.node = Node(**self.NODE_ARGS)
        self.addCleanup(self.node.stop)
        self.node.start()
        self.c = self.node.client()
        self.addCleanup(self.c.close)

    def dump_log_on_failure(self):
        return self.node.read_log()[-4000:]


class Relay:
    """A TCP relay on 127.0.0.1 to a port (real sockets; the bytes passed on unchanged) that
    counts what it carries each way: up (to the port), down. Optional controls, for tests that
    order events without timing:
      gated       connections are accepted but joined to the port only once gate is set
      hold_after  once that many bytes went up, nothing more passes either way until release
                  is set (paused says it happened)
      record      keep every byte that goes up, in self.sent (one bytes object per read)
      hold_down   (after, until, seconds): once the bytes `after` went up, nothing comes down
                  until the bytes `until` went up after them, or for `seconds` at most (then
                  hold_expired is True and nothing is held again)
    closed is set when a relayed connection ends."""

    def __init__(self, port, gated=False, hold_after=None, record=False, hold_down=None):
        self.to = port
        self.record = record
        self.sent = []
        self.hold_after = hold_after
        self.hold_down = hold_down
        self.upbuf = bytearray()
        self.armed, self.until_seen = threading.Event(), threading.Event()
        self.hold_expired = False
        self.gate, self.paused, self.release, self.closed = (threading.Event() for _ in range(4))
        if not gated:
            self.gate.set()
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.socks = []
        self.lsn = socket.socket()
        self.lsn.bind(("127.0.0.1", 0))
        self.lsn.listen(8)
        self.port = self.lsn.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                a, _ = self.lsn.accept()
            except OSError:
                return
            self.socks.append(a)
            self.gate.wait()
            try:
                b = socket.create_connection(("127.0.0.1", self.to))
            except OSError:
                a.close()
                continue
            self.socks.append(b)
            threading.Thread(target=self.pipe, args=(a, b, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(b, a, False), daemon=True).start()

    def pipe(self, src, dst, up):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if self.hold_after is not None and self.up >= self.hold_after and not self.release.is_set():
                    self.paused.set()
                    self.release.wait()
                with self.lock:
                    if up:
                        self.up += len(d)
                        if self.record:
                            self.sent.append(d)
                        if self.hold_down and not self.until_seen.is_set():
                            self.upbuf += d
                            at = self.upbuf.find(self.hold_down[0])
                            if at >= 0:
                                self.armed.set()
                                if self.upbuf.find(self.hold_down[1], at) >= 0:
                                    self.until_seen.set()
                    else:
                        self.down += len(d)
                if not up and self.armed.is_set() and not self.until_seen.is_set():
                    if not self.until_seen.wait(self.hold_down[2]):
                        self.hold_expired = True
                        self.until_seen.set()
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.closed.set()

    def close(self):
        self.gate.set()
        self.release.set()
        self.until_seen.set()
        self.lsn.close()
        for s in self.socks:
            s.close()


@contextlib.contextmanager
def swarm_running(*args, **kw):
    """`swarm ARGS` in the background, stdout and stderr as text pipes; killed if still
    running, and its pipes closed, when the block ends (also when a test fails)."""
    p = subprocess.Popen([SWARM_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, **kw)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()


def reap(proc, timeout=5):
    """Ends a process we started (SIGTERM, then SIGKILL) and waits for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PtyPairTestCase(unittest.TestCase):
    """A socat pty pair per test: self.a for the device (swarm-node --serial), self.b for the
    host; both removed again, with socat, even when the test fails."""

    PTY_PREFIX = "swarm-pty-"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=self.PTY_PREFIX)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.a = os.path.join(self.tmp, "A")
        self.b = os.path.join(self.tmp, "B")
        self.socat = subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=%s" % self.a, "pty,raw,echo=0,link=%s" % self.b],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(reap, self.socat)
        deadline = time.monotonic() + 10
        while not (os.path.exists(self.a) and os.path.exists(self.b)):
            self.assertLess(time.monotonic(), deadline, "socat made no ptys")
            time.sleep(0.02)


def check_repl(test, link, node, tmp):
    """`swarm repl LINK` with its input on a pipe (what a script or a serial console tool
    feeds it): a value, print output, a multi-line chunk, and Ctrl-C (SIGINT) during a chunk
    that runs for a minute, which stops the chunk on the device (its print after the sleep
    never comes) while the node and the prompt run on. Returns the repl's output."""
    p = subprocess.Popen([SWARM_BIN, "--timeout", "0", "repl", link], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=dict(os.environ, XDG_STATE_HOME=tmp))
    got = bytearray()

    def until(text, timeout=30):
        deadline = time.monotonic() + timeout
        while text.encode() not in got:
            test.assertLess(time.monotonic(), deadline, got.decode(errors="replace"))
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                chunk = os.read(p.stdout.fileno(), 4096)
                test.assertTrue(chunk, "repl ended: " + got.decode(errors="replace"))
                got.extend(chunk)

    try:
        p.stdin.write(b"6 * 7\n")
        p.stdin.flush()
        until("42")
        p.stdin.write(b"print('hi', 1 + 1) return 'v'\nfor i = 1, 2 do\nprint('line ' .. i) end\n")
        p.stdin.flush()
        until("line 2")
        test.assertIn(b"hi 2", got)
        p.stdin.write(b"swarm.sleep(1500) print('late ' .. 'print')\n")
        p.stdin.flush()
        time.sleep(0.5)  # (the chunk is on the device)
        p.send_signal(signal.SIGINT)
        until("interrupted")
        p.stdin.write(b"print('after') return 1\n")
        p.stdin.flush()
        until("after")
        time.sleep(2.0)  # past the end of the sleep: the rest of the chunk must not run
        p.stdin.close()
        test.assertEqual(p.wait(30), 0, got.decode(errors="replace"))
        got.extend(p.stdout.read())
    finally:
        reap(p)
        p.stdout.close()
    test.assertNotIn("late print", node.read_log())
    test.assertNotIn(b"late print", got)
    return got.decode(errors="replace")
