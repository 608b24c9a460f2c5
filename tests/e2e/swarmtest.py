"""End-to-end test helpers: start real swarm-node processes on a temporary root and a free TCP
port, talk to them with a minimal MoaT v0 client written from the wire spec, and clean up
whatever happens (processes killed by PID, temporary directories removed).

    SWARM_BUILD   build directory holding swarm-node (default: <repo>/build)

Usage:
    class T(swarmtest.NodeCase):
        def test_x(self):
            node = self.start_node()          # killed and removed at the end of the test
            c = node.client()
            self.assertEqual(c.call("ping", {"m": "x"}), "R:x")
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("SWARM_BUILD") or os.path.join(REPO, "build")

_live = set()  # nodes still running: killed at exit whatever happened


def node_binary():
    return os.path.join(BUILD, "swarm-node")


def free_port():
    """A TCP port nobody listens on right now (small race; fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteError(Exception):
    """An error reply {"e": text, "i": seq}."""

    def __init__(self, text, msg=None):
        super().__init__(text)
        self.text = text
        self.msg = msg


class Client:
    """One TCP link to a node: MoaT v0 messages, bare MsgPack back to back."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        self.seq = 0
        self.unsolicited = []  # messages with "a" and no "i" (link, notifications)
        self.replies = {}      # seq → message that arrived while waiting for another one

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, msg):
        self.send_raw(msgpack.packb(msg, use_bin_type=True))

    def recv(self, timeout=None):
        """The next message (any kind). Raises TimeoutError, EOFError."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for msg in self.unpacker:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the node")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no message from the node") from None
            if not data:
                raise EOFError("the node closed the connection")
            self.unpacker.feed(data)

    @staticmethod
    def action(a):
        """'f.open' → ['f', 'open']; other strings ("fopen", "ping") and lists stay as they are."""
        if isinstance(a, str) and "." in a:
            return a.split(".")
        return a

    def request(self, action, data=None):
        """Sends a request; returns its seq."""
        self.seq += 1
        msg = {"a": self.action(action), "i": self.seq}
        if data is not None:
            msg["d"] = data
        self.send(msg)
        return self.seq

    def wait(self, seq, timeout=None):
        """The answer to seq (reply or error message), skipping unsolicited messages."""
        while seq not in self.replies:
            msg = self.recv(timeout)
            if isinstance(msg, dict) and "i" in msg:
                self.replies[msg["i"]] = msg
            else:
                self.unsolicited.append(msg)
        return self.replies.pop(seq)

    def call(self, action, data=None, timeout=None):
        """Request and wait: returns d, raises RemoteError for an error reply."""
        msg = self.wait(self.request(action, data), timeout)
        if msg.get("e") is not None and msg.get("d") is None:
            raise RemoteError(msg["e"], msg)
        return msg.get("d")


class Node:
    """A swarm-node process on its own root and port."""

    def __init__(self, root=None, port=None, args=(), name="test"):
        self.own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="swarm-e2e-")
        self.port = port or free_port()
        self.args = list(args)
        self.name = name
        self.proc = None
        self.logpath = os.path.join(tempfile.gettempdir(), "swarm-e2e-%d-%d.log" % (os.getpid(), self.port))
        self._log = None

    def command(self):
        return [node_binary(), "--root", self.root, "--port", str(self.port),
                "--listen", "127.0.0.1"] + self.args

    def start(self, timeout=10.0):
        if not os.access(node_binary(), os.X_OK):
            raise unittest.SkipTest("no swarm-node at %s (set SWARM_BUILD)" % node_binary())
        self._log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _live.add(self)
        self.wait_port(timeout)
        return self

    def wait_port(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("swarm-node exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("swarm-node did not listen on %d:\n%s" % (self.port, self.log()))

    def client(self, timeout=10.0):
        return Client("127.0.0.1", self.port, timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Signals the process (by PID) and reaps it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        _live.discard(self)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self, timeout=5.0):
        """Orderly stop (SIGTERM), SIGKILL if it takes longer than timeout. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            return self.proc.returncode if self.proc else None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
        return self.proc.returncode

    def restart(self, sig=signal.SIGKILL):
        """Kills the process and starts a new one on the same root and port."""
        self.kill(sig)
        return self.start()

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        self.kill()
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        try:
            os.unlink(self.logpath)
        except OSError:
            pass


@atexit.register
def _kill_all():
    for node in list(_live):
        node.kill()


class NodeCase(unittest.TestCase):
    """A TestCase whose nodes and clients are always cleaned up, with the node log printed when a
    test fails."""

    def start_node(self, **kw):
        node = Node(**kw)
        self.addCleanup(node.cleanup)
        self.addCleanup(self._dump_log, node)
        return node.start()

    def client(self, node):
        c = node.client()
        self.addCleanup(c.close)
        return c

    def _dump_log(self, node):
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and not getattr(outcome, "success", True)
        if failed:
            print("\n--- swarm-node log (%s) ---\n%s--- end ---" % (node.name, node.log()))

    def assertRemoteError(self, text, fn, *args, **kw):
        """fn(*args) must raise RemoteError whose text equals text, or starts with it when text
        ends with ':'. Returns the text."""
        with self.assertRaises(RemoteError) as cm:
            fn(*args, **kw)
        got = cm.exception.text
        if text.endswith(":"):
            self.assertTrue(got.startswith(text), "error %r does not start with %r" % (got, text))
        else:
            self.assertEqual(got, text)
        return got
