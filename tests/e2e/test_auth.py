"""The authenticated mode (issue 14) against real swarm-node processes: a locked node (a key in
<root>/swarm.key) runs nothing for a plaintext MoaT client, a client with the wrong key, or a
replay of a captured authenticated session — checked on the node (no directory appears, its log
says why) — and everything for a client with the key. The client side is noise_ref.py, an
independent Noise implementation on python3-cryptography; the host CLI is tested too.
An open node is unchanged (plain MoaT v0 client, no "locked" anywhere)."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import swarmtest as st
import test_serial as ts
from noise_ref import Deframer, Noise, PREAMBLE, REJECT_AUTH, frame

KEY = bytes(range(100, 132))


class NoiseSock:
    """A socket-like object (sendall/recv/settimeout/close) over an authenticated session, so
    swarmtest.Client speaks MoaT v0 through it. wire: every byte sent, for replay tests."""

    def __init__(self, port, key, seed=None):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.wire = self.rx_wire = b""
        self.nz = Noise(True, key, seed or os.urandom(32))
        self._send(PREAMBLE + frame(self.nz.write_hs()))
        self.df = Deframer()
        self.frames = []
        self.reply = self._frame()
        if len(self.reply) == 1:
            self.rejected = self.reply[0]
            return
        self.rejected = 0
        self.nz.read_hs(self.reply)

    def _send(self, b):
        self.wire += b
        self.raw.sendall(b)

    def _recv(self):
        d = self.raw.recv(65536)
        self.rx_wire += d
        return d

    def _frame(self):
        """The next whole frame (the handshake reply); later frames stay for recv()."""
        while not self.frames:
            d = self._recv()
            if not d:
                raise ConnectionError("node closed the connection")
            self.frames += self.df.feed(d)
        return self.frames.pop(0)

    def sendall(self, b):
        self._send(self.nz.frames(b))

    def settimeout(self, t):
        self.raw.settimeout(t)

    def recv(self, n):
        if not self.frames:
            d = self._recv()
            if not d:
                return b""
            self.frames = self.df.feed(d)
        out = b"".join(self.nz.rx.dec(b"", f) for f in self.frames)
        self.frames = []
        return out

    def close(self):
        self.raw.close()


def secure_client(port, key=KEY):
    ns = NoiseSock(port, key)
    if ns.rejected:
        raise PermissionError("rejected %d" % ns.rejected)
    c = st.Client.__new__(st.Client)
    c.sock, c.unp, c.seq, c.notes, c.console, c.backlog, c.timeout = ns, st.unpacker(), 0, [], bytearray(), [], 10.0
    assert c.read_note() == {"d": True, "a": "link"}
    return c


def wait_restarted_locked(node, starts=2):
    """After sys.key: the node logs "auth: locked" and listens again (its start number starts)."""
    for _ in range(1000):
        log = node.read_log()
        if "auth: locked" in log and log.count("rpc: listening") >= starts:
            return
        time.sleep(0.02)
    raise AssertionError("the node did not restart locked:\n" + node.read_log()[-3000:])


def read_all(sock):
    sock.settimeout(10)
    out = b""
    while True:
        try:
            d = sock.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        out += d
    return out


class LockedNode(unittest.TestCase):
    def setUp(self):
        self.ports = {k: st.free_port() for k in ("ftp", "telnet", "eval")}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            self.bport = u.getsockname()[1]
        root = tempfile.mkdtemp(prefix="swarm-auth-")
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            # the plaintext services are switched on, on free ports: locked, they must stay off
            f.write(st.pack({"boot": {"FTPD_ENABLE": True, "FTPD_PORT": self.ports["ftp"],
                                      "TELNET_ENABLE": True, "TELNET_PORT": self.ports["telnet"],
                                      "REMOTE_EVAL_ENABLE": True, "REMOTE_EVAL_PORT": self.ports["eval"],
                                      "BEACON_DESTINATION_IPS": ["127.0.0.2"],
                                      "BEACON_DESTINATION_PORT": self.bport, "MDNS_ENABLE": False},
                              "auth": {"handshake_ms": 300}}))
        with open(os.path.join(root, "swarm.key"), "wb") as f:
            f.write(KEY)
        self.node = st.Node(root=root, lan_services=True)
        self.node.own_root = True
        self.addCleanup(self.node.stop)
        self.node.start()
        self.node.wait_log("auth: locked")

    def made(self, name):
        return os.path.isdir(os.path.join(self.node.root, name))

    def test_plaintext_client_gets_nothing(self):
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall(st.pack({"a": ["f", "mkdir"], "d": {"p": "plain"}, "i": 1}))
            got = read_all(s)
        # no link message, no answer: one reject frame (not ours: PROTO), then the close
        self.assertEqual(got, frame(b"\x02"))
        self.node.wait_log("not an authenticated client, closing")
        self.assertFalse(self.made("plain"))

    def test_wrong_key_gets_nothing(self):
        ns = NoiseSock(self.node.port, bytes(32))
        self.assertEqual(ns.rejected, REJECT_AUTH)
        # whatever follows is never read
        try:
            ns.raw.sendall(frame(b"x" * 40) + st.pack({"a": ["f", "mkdir"], "d": {"p": "wrong"}, "i": 1}))
        except OSError:
            pass
        self.assertEqual(read_all(ns.raw), b"")
        ns.close()
        self.node.wait_log("wrong key (handshake failed), closing")
        self.assertFalse(self.made("wrong"))

    def test_with_key_everything_works(self):
        c = secure_client(self.node.port)
        self.addCleanup(c.close)
        self.assertEqual(c.call("f.mkdir", {"p": "keyed"}), None)
        self.assertTrue(self.made("keyed"))
        # messages of several frames each way
        self.assertTrue(str(c.call("ping", {"m": "x" * 6000})).startswith("R:xxx"))
        data = os.urandom(6000)
        fd = c.call("f.open", {"p": "big", "m": "w"})
        c.call("f.wr", {"fd": fd, "data": data})
        c.call("f.cl", {"fd": fd})
        fd = c.call("f.open", {"p": "big", "m": "r"})
        self.assertEqual(c.call("f.rd", {"fd": fd, "n": 6000}), data)
        c.call("f.cl", {"fd": fd})
        self.assertTrue(c.call("sys.info"))
        # the key is no client's to read, even with the key
        for p in ("swarm.key", "/swarm.key", "apps/../swarm.key", "swarm.key.tmp"):
            with self.assertRaises(st.RemoteError):
                c.call("f.stat", {"p": p})
            with self.assertRaises(st.RemoteError):
                c.call("f.open", {"p": p, "m": "r"})
        with self.assertRaises(st.RemoteError):
            c.call("f.rm", {"p": "swarm.key"})
        self.assertEqual(open(os.path.join(self.node.root, "swarm.key"), "rb").read(), KEY)
        self.assertNotIn(KEY.hex(), repr(c.call("sys.cfg")))
        # neither the requests nor the replies are on the wire in plain
        for plain in (b"mkdir", b"keyed", b"xxxxxxxx", data[:16], b"posix", b"platform"):
            self.assertNotIn(plain, c.sock.wire + c.sock.rx_wire)

    def test_replayed_session_gets_nothing(self):
        ns = NoiseSock(self.node.port, KEY)
        c = st.Client.__new__(st.Client)
        c.sock, c.unp, c.seq, c.notes, c.console, c.backlog, c.timeout = ns, st.unpacker(), 0, [], bytearray(), [], 10.0
        c.read_note()
        c.call("f.mkdir", {"p": "once"})
        captured = ns.wire
        c.close()
        os.rmdir(os.path.join(self.node.root, "once"))
        # the same bytes again: the handshake message is accepted (Noise cannot tell without
        # a reply), but the node's new ephemeral key gives new session keys: the request fails
        # its tag and is never run
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall(captured)
            read_all(s)
        self.node.wait_log("a frame failed authentication, closing")
        self.assertFalse(self.made("once"))

    def test_tampered_frame_closes(self):
        ns = NoiseSock(self.node.port, KEY)
        fr = bytearray(ns.nz.frames(st.pack({"a": ["f", "mkdir"], "d": {"p": "flip"}, "i": 1})))
        fr[5] ^= 0x01
        ns.raw.sendall(bytes(fr))
        read_all(ns.raw)
        self.node.wait_log("a frame failed authentication, closing")
        self.assertFalse(self.made("flip"))

    def test_scan_shows_locked(self):
        env = dict(os.environ, XDG_CACHE_HOME=self.node.root + "-cache")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", env["XDG_CACHE_HOME"]]))
        r = subprocess.run([st.SWARM_BIN, "scan", "--json", "--port", str(self.bport), "--to", "127.0.0.1",
                            "--wait-for", "1", "--no-cache"], capture_output=True, text=True, timeout=60, env=env)
        import json
        devs = json.loads(r.stdout)
        self.assertEqual(len(devs), 1, r.stderr)
        self.assertTrue(devs[0]["locked"])
        beacon = json.dumps(devs[0])
        self.assertNotIn(KEY.hex(), beacon)
        # the plaintext services are off in the beacon too
        self.assertEqual([devs[0]["services"][k] for k in ("ftp", "telnet", "eval")], [False, False, False])
        r = subprocess.run([st.SWARM_BIN, "scan", "--port", str(self.bport), "--to", "127.0.0.1",
                            "--wait-for", "1", "--no-cache"], capture_output=True, text=True, timeout=60, env=env)
        self.assertIn("locked rpc:%d" % self.node.port, r.stdout)

    def test_silent_client_is_closed(self):
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall(PREAMBLE)  # and then nothing
            self.assertEqual(read_all(s), b"")
        self.node.wait_log("handshake not completed in time, closing")

    def test_plaintext_services_off(self):
        for name, port in self.ports.items():
            with self.assertRaises(OSError, msg=name):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()


class KeyNotListed(unittest.TestCase):
    """The key files are refused to f.* by name and are not listed either: f.ls/f.dir, swarm fs
    ls/get -r/sync and the FTP server's LIST/NLST/MLSD (auth.ftp on a locked node) never show
    swarm.key or swarm.key.*, so no tool trips over a file it cannot read. Only the root's are
    the node's: a swarm.key in a folder is an ordinary file and is listed."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-auth-ls-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "sub"))
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(st.pack({"boot": {"FTPD_ENABLE": True, "FTPD_PORT": st.free_port(),
                                      "TELNET_ENABLE": False, "REMOTE_EVAL_ENABLE": False},
                             "auth": {"ftp": True}}))
        for name, data in (("swarm.key", KEY), ("swarm.key.old", KEY[::-1]), ("a.txt", b"a\n"),
                           ("sub/swarm.key", b"not the node's\n")):
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)
        self.keyfile = os.path.join(self.tmp, "fleet.key")
        with open(self.keyfile, "wb") as f:
            f.write(KEY)
        self.env = dict(os.environ, SWARM_KEY_FILE=self.keyfile, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg"))
        self.node = st.Node(root=root, lan_services=True)
        self.addCleanup(self.node.stop)
        self.node.start()
        self.node.wait_log("auth: locked")
        self.node.wait_log("ftp: listening")
        self.link = "tcp://127.0.0.1:%d" % self.node.port

    def swarm(self, *args):
        return subprocess.run([st.SWARM_BIN, *args], capture_output=True, text=True, timeout=60, env=self.env)

    def test_rpc_listings(self):
        c = secure_client(self.node.port)
        self.addCleanup(c.close)
        names = c.call("f.ls", {"p": ""})
        self.assertIn("a.txt", names)
        self.assertNotIn("swarm.key", names)
        self.assertNotIn("swarm.key.old", names)
        self.assertEqual(sorted(e["n"] for e in c.call("f.dir", {"p": "/", "x": True})),
                         sorted(names))
        self.assertEqual(c.call("f.ls", {"p": "sub"}), ["swarm.key"])
        self.assertTrue(os.path.exists(os.path.join(self.node.root, "swarm.key.old")))  # not swept

    def test_cli_fs(self):
        r = self.swarm("fs", self.link, "ls")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("a.txt", r.stdout)
        self.assertNotIn("swarm.key", r.stdout)
        back = os.path.join(self.tmp, "back")
        r = self.swarm("fs", self.link, "get", "-r", "/", back)
        self.assertEqual(r.returncode, 0, r.stderr)
        theirs = sorted(x for x in os.listdir(self.node.root) if not x.startswith("swarm.key"))
        self.assertIn("a.txt", theirs)
        self.assertEqual(sorted(os.listdir(back)), theirs)
        self.assertEqual(os.listdir(os.path.join(back, "sub")), ["swarm.key"])
        # a sync into the root counts what only the device has: not its key
        site = os.path.join(self.tmp, "site")
        os.makedirs(site)
        shutil.copy(os.path.join(back, "a.txt"), site)
        r = self.swarm("--json", "fs", "sync", site, self.link + ":")
        self.assertEqual(r.returncode, 0, r.stderr)
        last = json.loads(r.stdout.splitlines()[-1])
        self.assertEqual(last["device_only"], len(theirs) - 1, r.stdout)  # all but a.txt

    def test_ftp_listings(self):
        url = "ftp://127.0.0.1:%d" % self.node.ftp_port
        for cmd in ("set ftp:use-mlsd yes; cls -1 -a", "set ftp:use-mlsd no; cls -1 -a", "nlist", "ls",
                    "ls swarm*", "cls -1 sub"):
            r = subprocess.run(["lftp", "-c", "set net:max-retries 1; open %s; %s" % (url, cmd)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, cmd + ": " + r.stderr)
            if cmd == "cls -1 sub":
                self.assertIn("swarm.key", r.stdout)
                continue
            self.assertNotIn("swarm.key", r.stdout, cmd)
            if cmd != "ls swarm*":
                self.assertIn("a.txt", r.stdout, cmd)


class OpenNode(st.NodeTestCase):
    def test_moat_client_unchanged(self):
        self.assertEqual(self.c.call("f.mkdir", {"p": "open"}), None)
        self.assertTrue(os.path.isdir(os.path.join(self.node.root, "open")))
        self.assertNotIn("auth: locked", self.node.read_log())

    def test_key_file_name_refused_on_open_node_too(self):
        with self.assertRaises(st.RemoteError):
            self.c.call("f.new", {"p": "swarm.key"})
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "swarm.key")))

    def test_install_key_locks(self):
        self.assertTrue(self.c.call("sys.key", {"k": KEY}))
        wait_restarted_locked(self.node)
        self.assertEqual(open(os.path.join(self.node.root, "swarm.key"), "rb").read(), KEY)
        c = secure_client(self.node.port)
        self.addCleanup(c.close)
        self.assertTrue(c.call("sys.info"))
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=10) as s:
            s.sendall(st.pack({"a": ["sys", "key"], "d": {"k": bytes(32)}, "i": 1}))
            self.assertEqual(read_all(s), frame(b"\x02"))
        self.assertEqual(open(os.path.join(self.node.root, "swarm.key"), "rb").read(), KEY)


class HostCli(unittest.TestCase):
    """The swarm CLI: key new/path/install, and commands over authenticated TCP links."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-auth-host-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg"))
        self.env.pop("SWARM_KEY_FILE", None)
        self.node = st.Node()
        self.addCleanup(self.node.stop)
        self.node.start()
        self.link = "tcp://127.0.0.1:%d" % self.node.port

    def swarm(self, *args, env=None, inp=None):
        return subprocess.run([st.SWARM_BIN, *args], capture_output=True, text=True, timeout=60,
                              env=env or self.env, input=inp)

    def first_mux_call(self, mux, sock, cmd):
        """The first call through the mux at sock that does not meet a device link still
        coming up (its socket appears first, then the link): the last try's result."""
        for _ in range(500):
            if os.path.exists(sock):
                break
            mux.poll()
            self.assertIsNone(mux.returncode)
            time.sleep(0.02)
        for _ in range(200):
            r = self.swarm("call", "unix://" + sock, cmd)
            if "device link down" not in r.stderr:
                break
            time.sleep(0.05)
        return r

    def lock(self):
        r = self.swarm("key", "new")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.keyfile = r.stdout.strip()
        r = self.swarm("key", "install", self.link)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_restarted_locked(self.node)

    def test_key_new(self):
        r = self.swarm("key", "path")
        self.assertEqual(r.stdout.strip(), os.path.join(self.tmp, "cfg", "swarm", "key"))
        r = self.swarm("key", "new")
        self.assertEqual(r.returncode, 0, r.stderr)
        path = r.stdout.strip()
        st_ = os.stat(path)
        self.assertEqual(st_.st_mode & 0o777, 0o600)
        self.assertEqual(st_.st_size, 32)
        old = open(path, "rb").read()
        r = self.swarm("key", "new")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--force", r.stderr)
        self.assertEqual(open(path, "rb").read(), old)
        self.assertEqual(self.swarm("key", "new", "--force").returncode, 0)
        self.assertNotEqual(open(path, "rb").read(), old)
        self.assertEqual(self.swarm("key", "--help").returncode, 0)

    def test_locked_node_with_and_without_key(self):
        self.lock()
        r = self.swarm("call", self.link, "f.mkdir", "p=bykey")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(self.node.root, "bykey")))
        r = self.swarm("cfg", self.link, "get", "boot")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = os.urandom(9000)
        r = subprocess.run([st.SWARM_BIN, "fs", self.link, "put", "-", "blob"], input=data,
                           capture_output=True, timeout=60, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([st.SWARM_BIN, "fs", self.link, "get", "blob", "-"], capture_output=True,
                           timeout=60, env=self.env)
        self.assertEqual(r.stdout, data)
        # a wrong key: a clear error, exit status 3, nothing run
        other = os.path.join(self.tmp, "other.key")
        with open(other, "wb") as f:
            f.write(os.urandom(32))
        r = self.swarm("call", self.link, "f.mkdir", "p=wrongkey", env=dict(self.env, SWARM_KEY_FILE=other))
        self.assertEqual(r.returncode, 3)
        self.assertIn("wrong key for " + self.link, r.stderr)
        self.node.wait_log("wrong key (handshake failed)")
        # no key at all: plain, refused
        r = self.swarm("call", self.link, "f.mkdir", "p=nokey", env=dict(self.env, SWARM_KEY_FILE=""))
        self.assertEqual(r.returncode, 3)
        self.node.wait_log("not an authenticated client")
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "wrongkey")))
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "nokey")))

    def test_push_and_mux_with_key(self):
        self.lock()
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('swarm.command("ver", function() return "v7" end, "the version")\n')
        r = self.swarm("push", proj, "--link", self.link, "--grace", "400ms")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.swarm("call", self.link, "example.ver")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "v7"), r.stderr)
        # a mux holds the key for its device link; its socket's clients are trusted by file mode
        sock = os.path.join(self.tmp, "mux.sock")
        with st.swarm_running("mux", "--link", self.link, "--socket", sock, env=self.env) as mux:
            r = self.first_mux_call(mux, sock, "example.ver")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "v7"), r.stderr)
            # its clients have the device fully: only the user who runs it may connect
            self.assertEqual(os.stat(sock).st_mode & 0o077, 0)
        # and the same push without the key is refused, nothing changed
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('swarm.command("ver", function() return "v8" end, "the version")\n')
        r = self.swarm("push", proj, "--link", self.link, "--grace", "400ms", env=dict(self.env, SWARM_KEY_FILE=""))
        self.assertNotEqual(r.returncode, 0)
        r = self.swarm("call", self.link, "example.ver")
        self.assertEqual(r.stdout.strip(), "v7")

    def test_rotate_keeps_offline_devices(self):
        self.lock()
        old = open(self.keyfile, "rb").read()
        # a second device with the same key, offline during the rotation
        root2 = tempfile.mkdtemp(prefix="swarm-auth-n2-", dir=self.tmp)
        with open(os.path.join(root2, "swarm.key"), "wb") as f:
            f.write(old)
        n2 = st.Node(root=root2, name="t2")
        n2.own_root = False
        self.addCleanup(n2.stop)
        link2 = "tcp://127.0.0.1:%d" % n2.port
        r = self.swarm("key", "rotate", self.link, link2)
        self.assertEqual(r.returncode, 5, r.stdout + r.stderr)  # one of two reached
        self.assertIn("did not get the new key", r.stderr)
        wait_restarted_locked(self.node, 3)
        self.assertIn("previous key is still accepted", self.node.read_log())
        new = open(self.keyfile + ".new", "rb").read()
        self.assertNotEqual(new, old)
        self.assertEqual(open(self.keyfile, "rb").read(), old)  # the host still uses the old key
        # both keys open the rotated device; the offline one comes back with the old key only
        newenv = dict(self.env, SWARM_KEY_FILE=self.keyfile + ".new")
        self.assertEqual(self.swarm("call", self.link, "ping").returncode, 0)
        self.assertEqual(self.swarm("call", self.link, "ping", env=newenv).returncode, 0)
        n2.start()
        self.assertEqual(self.swarm("call", link2, "ping").returncode, 0)
        self.assertEqual(self.swarm("call", link2, "ping", env=newenv).returncode, 3)
        r = self.swarm("key", "rotate", link2)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_restarted_locked(n2)
        r = self.swarm("key", "rotate", "--finish", self.link, link2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(open(self.keyfile, "rb").read(), new)
        self.assertEqual(open(self.keyfile + ".old", "rb").read(), old)
        self.assertFalse(os.path.exists(self.keyfile + ".new"))
        oldenv = dict(self.env, SWARM_KEY_FILE=self.keyfile + ".old")
        for link in (self.link, link2):
            self.assertEqual(self.swarm("call", link, "ping").returncode, 0)
            r = self.swarm("call", link, "ping", env=oldenv)
            self.assertEqual(r.returncode, 3)
            self.assertIn("wrong key", r.stderr)

    def test_provision_with_key(self):
        keyfile = os.path.join(self.tmp, "fleet.key")
        self.assertEqual(self.swarm("key", "new", env=dict(self.env, SWARM_KEY_FILE=keyfile)).returncode, 0)
        r = self.swarm("provision", self.link, "--host", "t1", "--app", "example", "--board",
                       "posix-sim", "--key", keyfile, "--wait", "30s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("auth: locked", self.node.read_log())
        self.assertEqual(open(os.path.join(self.node.root, "swarm.key"), "rb").read(),
                         open(keyfile, "rb").read())
        r = self.swarm("call", self.link, "sys.info", env=dict(self.env, SWARM_KEY_FILE=keyfile))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("t1", r.stdout)
        self.assertEqual(self.swarm("call", self.link, "sys.info", env=dict(self.env, SWARM_KEY_FILE="")).returncode, 3)

    def test_key_file_from_the_config_defaults(self):
        # issue 15: [defaults] key = PATH in the user's config names the fleet key for every
        # command (~/ is the home directory); SWARM_KEY_FILE, when set, still wins
        os.makedirs(os.path.join(self.tmp, "home", "keys"))
        keyfile = os.path.join(self.tmp, "home", "keys", "fleet.key")
        self.assertEqual(self.swarm("key", "new", env=dict(self.env, SWARM_KEY_FILE=keyfile)).returncode, 0)
        r = self.swarm("provision", self.link, "--host", "t1", "--app", "example", "--board",
                       "posix-sim", "--key", keyfile, "--wait", "30s")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.swarm("call", self.link, "sys.info").returncode, 3)  # no key yet
        os.makedirs(os.path.join(self.tmp, "cfg", "swarm"), exist_ok=True)
        with open(os.path.join(self.tmp, "cfg", "swarm", "config"), "w") as f:
            f.write("[defaults]\nkey = ~/keys/fleet.key\n")
        env = dict(self.env, HOME=os.path.join(self.tmp, "home"))
        self.assertEqual(self.swarm("key", "path", env=env).stdout.strip(), keyfile)
        r = self.swarm("call", self.link, "sys.info", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("t1", r.stdout)
        self.assertEqual(self.swarm("call", self.link, "sys.info", env=dict(env, SWARM_KEY_FILE="")).returncode, 3)

    def test_key_and_open_node(self):
        """A host with the fleet key still reads from an open node (it answers in plain), and
        does not record it as locked; commands that change it are refused unless the user says
        the device is open (--allow-open, SWARM_ALLOW_OPEN=1): an impostor answers as open."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        r = self.swarm("call", self.link, "sys.info")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.swarm("fs", self.link, "ls").returncode, 0)
        r = self.swarm("call", self.link, "f.mkdir", "p=openok")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("answered as an open node, but the host holds a key", r.stderr)
        self.assertIn("--allow-open", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "openok")))
        r = self.swarm("--allow-open", "call", self.link, "f.mkdir", "p=openok")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(self.node.root, "openok")))
        r = self.swarm("call", self.link, "f.mkdir", "p=openok2", "--allow-open")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.swarm("cfg", self.link, "set", "board.x", "1", env=dict(self.env, SWARM_ALLOW_OPEN="1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        # the user's record that this device is open (swarm key open): no flag needed
        rec = os.path.join(self.tmp, "cfg", "swarm", "open", self.link.replace("/", "_"))
        r = self.swarm("key", "open", self.link)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(rec), r.stdout)
        r = self.swarm("call", self.link, "f.mkdir", "p=recorded")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(self.node.root, "recorded")))
        # (another name for the same device has no record)
        r = self.swarm("call", "127.0.0.1:%d" % self.node.port, "f.mkdir", "p=other")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "cfg", "swarm", "locked")))
        # an explicit key (SWARM_KEY_FILE) insists: the open node is refused
        r = self.swarm("call", self.link, "sys.info",
                       env=dict(self.env, SWARM_KEY_FILE=os.path.join(self.tmp, "cfg", "swarm", "key")))
        self.assertEqual(r.returncode, 3)
        self.assertIn("knows it as locked (SWARM_KEY_FILE is set)", r.stderr)
        # and the key goes to the open node as before (keying open devices is what it is for)
        r = self.swarm("key", "install", self.link)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_restarted_locked(self.node)
        self.assertEqual(self.swarm("call", self.link, "f.mkdir", "p=lockedok").returncode, 0)
        self.assertFalse(os.path.exists(rec))  # locked now: the record of "open" is gone

    def recording_proxy(self, target_port):
        """A machine that answers as an open node: a TCP relay in front of a real open
        swarm-node, keeping every byte the host sends it (relay.sent)."""
        relay = st.Relay(target_port, record=True)
        self.addCleanup(relay.close)
        return relay.port, relay

    def test_never_seen_locked_impostor_gets_no_push(self):
        """The gap of the fleet key: a device the host never saw locked, impersonated by a
        machine that answers as an open node (here a real open swarm-node behind a recording
        proxy). Reads work, but a push, a file write, a config change and an eval are refused
        before anything of them is sent: the impostor receives no file bytes."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        port, relay = self.recording_proxy(self.node.port)
        link = "tcp://127.0.0.1:%d" % port
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('-- SECRETCODEMARK\nswarm.command("ver", function() return "v9" end, "v")\n')
        src = os.path.join(self.tmp, "secret.txt")
        with open(src, "w") as f:
            f.write("SECRETFILEMARK\n")
        r = self.swarm("push", proj, "--link", link, "--grace", "400ms")
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("answered as an open node", r.stdout + r.stderr)
        for args in (("fs", link, "put", src, "secret.txt"),
                     ("cfg", link, "set", "board.SECRETCFGMARK", "1"),
                     ("eval", link, "return 'SECRETEVALMARK'")):
            r = self.swarm(*args)
            self.assertEqual(r.returncode, 3, (args, r.stdout, r.stderr))
            self.assertIn("answered as an open node, but the host holds a key", r.stderr)
        self.assertEqual(self.swarm("call", link, "ping").returncode, 0)  # reads still work
        time.sleep(0.3)  # (the proxy's threads have passed on what they got)
        sent = b"".join(relay.sent)
        self.assertTrue(sent.startswith(PREAMBLE), sent[:40])  # the handshake was tried first
        # (reads went: sys.info, push.manifest of apps/example, f.stat, sys.cfg, sys.log, ping)
        for mark in (b"SECRETCODEMARK", b"SECRETFILEMARK", b"SECRETCFGMARK", b"SECRETEVALMARK",
                     b"\xa5begin", b"\xa4open", b"\xa2wr", b"\xa4eval"):
            self.assertNotIn(mark, sent)
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "secret.txt")))
        main = os.path.join(self.node.root, "apps", "example", "main.lua")
        self.assertFalse(os.path.exists(main) and "SECRETCODEMARK" in open(main).read())
        # the user says it is open: the same push goes through the same proxy
        r = self.swarm("push", proj, "--link", link, "--grace", "400ms", "--allow-open")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"SECRETCODEMARK", b"".join(relay.sent))

    def test_dry_run_push_to_open_node_reports_the_refusal(self):
        """A dry run reports what the real push would do: to a node that answers open while
        the host holds a key, the real push is refused before anything is sent, so the dry run
        says the same refusal and exits like it (not "dry-run", exit 0); --allow-open makes both
        go (the dry run then lists the changes)."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('swarm.command("ver", function() return "dry9" end, "v")\n')
        real = self.swarm("push", proj, "--link", self.link, "--grace", "400ms")
        dry = self.swarm("push", proj, "--link", self.link, "--dry-run")
        for r in (real, dry):
            self.assertEqual(r.returncode, 5, r.stdout + r.stderr)
            self.assertIn("push.begin: %s answered as an open node, but the host holds a key" % self.link,
                          r.stdout)
        self.assertNotIn("dry-run", dry.stdout)
        j = json.loads(self.swarm("push", proj, "--link", self.link, "--dry-run", "--json").stdout)
        self.assertEqual(j["devices"][0]["result"], "failed", j)
        dry = self.swarm("push", proj, "--link", self.link, "--dry-run", "--allow-open")
        self.assertEqual(dry.returncode, 0, dry.stdout + dry.stderr)
        self.assertIn("dry-run", dry.stdout)
        self.assertIn("+ main.lua", dry.stdout)
        main = os.path.join(self.node.root, "apps", "example", "main.lua")
        self.assertFalse(os.path.exists(main) and "dry9" in open(main).read())

    def test_mux_with_key_and_open_device(self):
        """A mux holding the fleet key whose device answers as open: its clients' reads pass,
        a change is answered with an EAUTH error and not sent; SWARM_ALLOW_OPEN=1 on the mux
        lets it through."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        for allow in (False, True):
            sock = os.path.join(self.tmp, "mux%d.sock" % allow)
            env = dict(self.env, SWARM_ALLOW_OPEN="1") if allow else self.env
            with st.swarm_running("mux", "--link", self.link, "--socket", sock, env=env) as mux:
                r = self.first_mux_call(mux, sock, "sys.info")
                self.assertEqual(r.returncode, 0, r.stderr)
                r = self.swarm("call", "unix://" + sock, "f.mkdir", "p=viamux%d" % allow)
                made = os.path.isdir(os.path.join(self.node.root, "viamux%d" % allow))
                if allow:
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertTrue(made)
                else:
                    self.assertNotEqual(r.returncode, 0)
                    self.assertIn("EAUTH", r.stderr)
                    self.assertIn("answered as an open node", r.stderr)
                    self.assertFalse(made)

    def test_rotate_refuses_open_answer(self):
        """swarm key rotate sends the new key only to a device that proves the current one: a
        device that answers as open (not yet provisioned, or an impostor) gets nothing."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        port, relay = self.recording_proxy(self.node.port)
        r = self.swarm("key", "rotate", "tcp://127.0.0.1:%d" % port)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("answered as an open node", r.stderr)
        new = open(os.path.join(self.tmp, "cfg", "swarm", "key.new"), "rb").read()
        time.sleep(0.3)
        self.assertNotIn(new, b"".join(relay.sent))
        self.assertFalse(os.path.exists(os.path.join(self.node.root, "swarm.key")))

    def fake_open_node(self, port):
        """A MITM on the node's port claiming to be open: it sends the link message in plain,
        as an open node does, and keeps everything it receives."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen(4)
        got = []

        def serve():
            while True:
                try:
                    c, _ = srv.accept()
                except OSError:
                    return
                c.settimeout(5)
                c.sendall(st.pack({"a": "link", "d": True}))
                data = b""
                try:
                    while True:
                        d = c.recv(65536)
                        if not d:
                            break
                        data += d
                except OSError:
                    pass
                got.append(data)
                c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()

        def stop():
            srv.close()
            t.join(10)
        self.addCleanup(stop)
        return got

    def test_known_locked_is_not_downgraded(self):
        """After one authenticated session the host records the device as locked; an impostor
        on its address that answers as an open node gets no request (exit status 3)."""
        self.lock()
        self.assertEqual(self.swarm("call", self.link, "ping").returncode, 0)
        rec = os.path.join(self.tmp, "cfg", "swarm", "locked", self.link.replace("/", "_"))
        self.assertTrue(os.path.exists(rec), os.listdir(os.path.dirname(rec)))
        port = self.node.port
        self.node.stop()
        got = self.fake_open_node(port)
        r = self.swarm("call", self.link, "f.mkdir", "p=MITMMARK")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("knows it as locked", r.stderr)
        self.assertTrue(got)
        for data in got:  # only the handshake went out: the preamble and message 1
            self.assertTrue(data.startswith(PREAMBLE), data)
            self.assertNotIn(b"MITMMARK", data)
            self.assertNotIn(b"mkdir", data)

    def test_device_key(self):
        """A per-device key (keys/DEVICE) is used for that device only, and the device must
        prove it holds it: open devices still work with the fleet key present."""
        self.assertEqual(self.swarm("key", "new").returncode, 0)
        fleet = open(os.path.join(self.tmp, "cfg", "swarm", "key"), "rb").read()
        # a second device, named in the user's config, gets a key of its own
        root2 = tempfile.mkdtemp(prefix="swarm-auth-dev-", dir=self.tmp)
        n2 = st.Node(root=root2, name="t2")
        n2.own_root = False
        self.addCleanup(n2.stop)
        n2.start()
        with open(os.path.join(self.tmp, "cfg", "swarm", "config"), "w") as f:
            f.write("[devices]\nkitchen = tcp://127.0.0.1:%d\n" % n2.port)
        r = self.swarm("key", "path", "--device", "kitchen")
        devfile = os.path.join(self.tmp, "cfg", "swarm", "keys", "kitchen")
        self.assertEqual(r.stdout.strip(), devfile)
        r = self.swarm("key", "new", "--device", "kitchen")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, devfile), r.stderr)
        r = self.swarm("key", "install", "kitchen", "--device", "kitchen")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_restarted_locked(n2)
        dev = open(devfile, "rb").read()
        self.assertEqual(open(os.path.join(root2, "swarm.key"), "rb").read(), dev)
        self.assertNotEqual(dev, fleet)
        r = self.swarm("call", "kitchen", "f.mkdir", "p=bydevkey")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(root2, "bydevkey")))
        # the open node beside it: plain, with the fleet key present
        self.assertEqual(self.swarm("call", self.link, "ping").returncode, 0)
        # by its address (no device key for that name): the fleet key, which is wrong for it
        r = self.swarm("call", "tcp://127.0.0.1:%d" % n2.port, "ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn("wrong key", r.stderr)
        # an impostor answering as open where "kitchen" is: refused (it has a key of its own)
        port = n2.port
        n2.stop()
        got = self.fake_open_node(port)
        r = self.swarm("call", "kitchen", "f.mkdir", "p=MITMMARK")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("knows it as locked (it has a key of its own)", r.stderr)
        for data in got:
            self.assertNotIn(b"MITMMARK", data)


class LockedSerial(unittest.TestCase):
    """Serial links of a locked node, lossless and lossy, through the line simulator (pty
    pairs) with the host CLI: the key works, a wrong key and no key get nothing executed, and
    the node takes a new handshake after each failure (a line cannot be closed). An open node
    on a line still talks to a host that has a key."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-auth-ser-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg"))
        self.env.pop("SWARM_KEY_FILE", None)
        r = self.swarm("key", "new")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(r.stdout.strip(), "rb") as f:
            self.key = f.read()

    def swarm(self, *args, env=None):
        return subprocess.run([st.SWARM_BIN, "--timeout", "5s", *args], capture_output=True,
                              text=True, timeout=60, env=env or self.env)

    def node(self, lossy, locked=True, extra=""):
        sim = ts.Sim(self, "--baud", 115200)
        root = tempfile.mkdtemp(prefix="root-", dir=self.tmp)
        os.makedirs(os.path.join(root, "apps", "chatty"))
        with open(os.path.join(root, "apps", "chatty", "main.lua"), "w") as f:
            f.write(ts.CHATTY + extra)  # log lines all the time: the console must not break the session
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(st.pack(st.loopback_config(None, services=False)))
        if locked:
            with open(os.path.join(root, "swarm.key"), "wb") as f:
                f.write(self.key)
        self.logfile = os.path.join(self.tmp, "node.log")
        log = open(self.logfile, "wb")
        self.addCleanup(log.close)
        args = [st.NODE_BIN, "--root", root, "--name", "ser", "--port", "0", "--listen",
                "127.0.0.1", "--serial", sim.a, "--app", "chatty"] + (["--lossy"] if lossy else [])
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(ts.stop_proc, proc)
        self.proc = proc
        self.wait_log("chatty 2 ")
        if locked:
            self.assertIn("auth: locked", self.read_log())
        return root, "serial://%s%s" % (sim.b, "?mode=lossy" if lossy else "")

    def read_log(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, text, count=1):
        ts.wait_for(lambda: self.read_log().count(text) >= count, 20, repr(text), self.proc,
                    lambda: self.read_log()[-3000:])

    def locked_line(self, lossy):
        root, link = self.node(lossy)
        r = self.swarm("call", link, "f.mkdir", "p=bykey")
        self.assertEqual(r.returncode, 0, r.stderr + self.read_log()[-2000:])
        self.assertTrue(os.path.isdir(os.path.join(root, "bykey")))
        self.assertIn("authenticated", self.read_log())
        other = os.path.join(self.tmp, "other.key")
        with open(other, "wb") as f:
            f.write(os.urandom(32))
        r = self.swarm("call", link, "f.mkdir", "p=wrongkey", env=dict(self.env, SWARM_KEY_FILE=other))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("wrong key for", r.stderr)
        self.wait_log("wrong key (handshake failed)")
        r = self.swarm("call", link, "f.mkdir", "p=nokey", env=dict(self.env, SWARM_KEY_FILE=""))
        self.assertEqual(r.returncode, 3, r.stderr)
        # what happened and what to do (lossless: the host asks the line, see below)
        self.assertIn("a locked node closes the lossy link" if lossy else "the device is locked", r.stderr)
        # the key again: the node took a new handshake after both failures
        r = self.swarm("call", link, "f.mkdir", "p=again")
        self.assertEqual(r.returncode, 0, r.stderr + self.read_log()[-2000:])
        self.assertTrue(os.path.isdir(os.path.join(root, "again")))
        self.assertFalse(os.path.exists(os.path.join(root, "wrongkey")))
        self.assertFalse(os.path.exists(os.path.join(root, "nokey")))
        return root, link

    def test_lossless_locked(self):
        root, link = self.locked_line(False)
        # the console travels inside the session: the key holder sees the app's log lines
        p = subprocess.Popen([st.SWARM_BIN, "console", link, "--follow"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        seen = b""
        while b"chatty" not in seen:  # (the app logs ten lines a second; 60 s means it is lost)
            ready, _, _ = select.select([p.stdout], [], [], 60)
            line = p.stdout.readline() if ready else b""
            if not line:
                p.kill()
                self.fail("no console line: %r, stderr %r" % (seen, p.stderr.read()))
            seen += line
        p.send_signal(signal.SIGINT)
        p.wait(30)

    def test_lossy_locked(self):
        self.locked_line(True)
        self.assertIn("closing the reliable link", self.read_log())

    def quick(self, *args, env):
        return subprocess.run([st.SWARM_BIN, "--timeout", "2s", *args], capture_output=True,
                              text=True, timeout=60, env=env)

    def test_lossless_without_key_says_locked(self):
        """A host without a key on a locked node's lossless line gets silence (the node reads
        nothing but a handshake): the host asks the line whether a locked node is there and
        says so, and what to do, instead of blaming the baud rate."""
        root, link = self.node(False)
        nokey = dict(self.env, SWARM_KEY_FILE="")
        for args in (("call", link, "f.mkdir", "p=nokey"), ("fs", link, "ls"),
                     ("fs", link, "get", "swarm.cfg", "-")):
            r = self.quick(*args, env=nokey)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("the device is locked and this host has no key for it", r.stderr)
            self.assertIn("SWARM_KEY_FILE is set empty", r.stderr)
            self.assertNotIn("baud?", r.stderr)  # (the old hint: "running its link at N baud?")
        # the repl says so at its first chunk, and ends (exit status 3) instead of a prompt that
        # times out chunk after chunk
        r = subprocess.run([st.SWARM_BIN, "--timeout", "2s", "repl", link], input="6 * 7\n1 + 1\n",
                           capture_output=True, text=True, timeout=60, env=dict(nokey, XDG_STATE_HOME=self.tmp))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr.count("the device is locked and this host has no key"), 1, r.stderr)
        # a host that never had a key: the hint says where the key goes
        r = self.quick("call", link, "ping", env=dict(self.env, XDG_CONFIG_HOME=os.path.join(self.tmp, "nocfg")))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("the device is locked", r.stderr)
        self.assertIn("swarm key path", r.stderr)
        # the node refused the probe as what it is, and ran nothing
        self.wait_log("not an authenticated client; waiting for a new handshake")
        self.assertNotIn("wrong key", self.read_log())
        self.assertFalse(os.path.exists(os.path.join(root, "nokey")))
        # the key still works after the probes
        r = self.swarm("call", link, "ping", "m=after")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "R:after"), r.stderr)

    def test_push_lossless_without_key_says_locked(self):
        """swarm push (asynchronous: it cannot use the blocking probe of the one-shot commands)
        to a locked node's lossless line from a host without a key: the same diagnosis instead
        of "no answer", the device counted as not reached (exit status 3, as the one-shot
        commands and a wrong key), and nothing of the push sent to the node."""
        root, link = self.node(False)
        proj = os.path.join(self.tmp, "proj")
        os.makedirs(os.path.join(proj, "apps", "chatty"))
        with open(os.path.join(proj, "apps", "chatty", "main.lua"), "w") as f:
            f.write("-- PUSHEDMARK\n")
        nokey = dict(self.env, SWARM_KEY_FILE="")
        for dry in ((), ("--dry-run",)):
            r = self.quick("push", proj, "--link", link, *dry, env=nokey)
            out = r.stdout + r.stderr
            self.assertEqual(r.returncode, 3, out)
            self.assertIn("the device is locked and this host has no key for it", out)
            self.assertIn("SWARM_KEY_FILE is set empty", out)
            self.assertNotIn("no answer", out)
        r = self.quick("push", proj, "--link", link, "--json",
                       env=dict(self.env, XDG_CONFIG_HOME=os.path.join(self.tmp, "nocfg")))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("swarm key path", r.stdout)
        self.wait_log("not an authenticated client; waiting for a new handshake", 3)
        main = os.path.join(root, "apps", "chatty", "main.lua")

        def code():
            with open(main) as f:
                return f.read()
        self.assertNotIn("PUSHEDMARK", code())
        # the key still works after the probes: the push goes through
        r = self.swarm("push", proj, "--link", link, "--grace", "400ms")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.read_log()[-2000:])
        self.assertIn("PUSHEDMARK", code())

    def test_mux_lossless_without_key_says_locked(self):
        """A mux without a key on a locked node's lossless line: the device says nothing, so
        2 s after a client's call the mux asks the line, and its clients hear that the device
        is locked and where the key goes (exit status 3, as calling the line directly) instead
        of timing out; the next call is answered at once."""
        root, link = self.node(False)
        nokey = dict(self.env, SWARM_KEY_FILE="")
        sock = os.path.join(self.tmp, "mux.sock")
        with st.swarm_running("mux", "--link", link, "--socket", sock, env=nokey) as mux:
            for _ in range(500):
                if os.path.exists(sock):
                    break
                self.assertIsNone(mux.poll())
                time.sleep(0.02)
            for k in range(2):
                r = self.swarm("call", "unix://" + sock, "f.mkdir", "p=viamux%d" % k, env=nokey)
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertIn("EAUTH: %s?baud=115200: the device is locked and this host has no key" % link, r.stderr)
                self.assertIn("SWARM_KEY_FILE is set empty", r.stderr)
            mux.send_signal(signal.SIGTERM)
            self.assertEqual(mux.wait(30), 0)
            self.assertIn("the device is locked and this host has no key", mux.stderr.read())
        self.wait_log("not an authenticated client; waiting for a new handshake")
        self.assertFalse(os.path.exists(os.path.join(root, "viamux0")))

    def test_lossless_silent_open_node_not_called_locked(self):
        """The probe for a locked node, on an open node that is merely slow: it answers the
        probe as open, so the host reports the timeout as before, and the bytes of the probe
        were skipped exactly (the next call is read whole)."""
        hang = '\nswarm.command("hang", function() swarm.sleep(600000) return 1 end, "never answers")\n'
        root, link = self.node(False, locked=False, extra=hang)
        nokey = dict(self.env, SWARM_KEY_FILE="")
        r = self.quick("call", link, "chatty.hang", env=nokey)
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("no answer to chatty.hang", r.stderr)
        self.assertNotIn("locked", r.stderr)
        r = self.quick("call", link, "ping", "m=after", env=nokey)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "R:after"), r.stderr)

    def test_open_line_with_key(self):
        for lossy in (False, True):
            with self.subTest(lossy=lossy):
                root, link = self.node(lossy, locked=False)
                r = self.swarm("call", link, "sys.info")
                self.assertEqual(r.returncode, 0, r.stderr + self.read_log()[-2000:])
                # a change needs the user's word that the device is open (docs/SECURITY.md)
                r = self.swarm("call", link, "f.mkdir", "p=plainok")
                self.assertEqual(r.returncode, 3, r.stderr + self.read_log()[-2000:])
                self.assertIn("answered as an open node", r.stderr)
                self.assertFalse(os.path.exists(os.path.join(root, "plainok")))
                r = self.swarm("--allow-open", "call", link, "f.mkdir", "p=plainok")
                self.assertEqual(r.returncode, 0, r.stderr + self.read_log()[-2000:])
                self.assertTrue(os.path.isdir(os.path.join(root, "plainok")))


if __name__ == "__main__":
    unittest.main()
