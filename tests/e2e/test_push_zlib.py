"""Compressed writes (docs/PROTOCOL.md, "Compressed writes"), end to end against real nodes:

- the node's side with the msgpack client: sys.info advertises z/zr; f.open mode "Wz" takes a
  zlib stream in pieces and commits exactly the declared bytes; a zip bomb (over the ratio or
  the declared size), a truncated stream, garbage, a larger window than offered, bytes after the
  end and pieces out of order are all refused, nothing is committed, no temp file stays, and
  the node keeps answering;
- `swarm push` and `swarm fs put` through a counting TCP relay: fewer bytes cross the link than
  the files hold for compressible data, the files and the app hash are right; with
  --no-compress, or to a node whose files.inflate is off (it advertises nothing, as a node
  without the feature), the files go plain and arrive the same; a file beyond the node's ratio
  bound (1 MiB of zeros) goes plain too, decided by the host.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest
import zlib

from swarmtest import SWARM_BIN, Node, Relay, RemoteError, app_hash, pack, reap

RATIO = 64          # the node's SW_ZIN_RATIO
SLACK = 64 * 1024   # the node's SW_ZIN_SLACK


def lua_source(seed, lines):
    r = random.Random(seed)
    words = ["local", "function", "return", "end", "if", "then", "swarm", "value", "count", "name"]
    out = ['swarm.command("ver", function() return "v%d" end, "version")\nlocal t = {}\n' % seed]
    for i in range(lines):
        out.append("t.%s_%d = %d -- %s\n" % (r.choice(words), i, r.randrange(10 ** 6),
                                                 " ".join(r.choice(words) for _ in range(r.randrange(8)))))
    return "".join(out).encode()


def deflate(data, wbits=12, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


def write_tree(base, files):
    for rel, data in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def swarm(*args, timeout=120):
    p = subprocess.Popen([SWARM_BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        reap(p)
    return p.returncode, out, err


class Base(unittest.TestCase):
    def node(self, cfg=None, app=None):
        n = Node(name="z", app=app)
        if cfg:
            for k, v in cfg.items():
                n.config.setdefault(k, {}).update(v)
            with open(os.path.join(n.root, "swarm.cfg"), "wb") as f:
                f.write(pack(n.config))
        self.addCleanup(n.stop)
        n.start()
        return n

    def client(self, n):
        c = n.client()
        self.addCleanup(c.close)
        return c

    def upload(self, c, path, stream, size, piece=4000):
        h = c.call("f.open", {"p": path, "m": "Wz", "s": size})
        for off in range(0, len(stream), piece):
            c.call("f.wr", {"fd": h, "off": off, "data": stream[off:off + piece]})
        return h

    def refused(self, fn, *a, **kw):
        try:
            fn(*a, **kw)
        except RemoteError as e:
            return str(e)
        self.fail("no error reply")

    def no_temp_files(self, n):
        left = [f for _, _, fs in os.walk(n.root) for f in fs if ".swtmp" in f]
        self.assertEqual(left, [])


class NodeSide(Base):
    @classmethod
    def setUpClass(cls):
        cls.n = Node(name="z")
        cls.addClassCleanup(cls.n.stop)
        cls.n.start()

    def setUp(self):
        self.c = self.client(self.n)
        with open(os.path.join(self.n.root, "old.txt"), "wb") as f:
            f.write(b"old content\n")

    def healthy(self):
        self.assertEqual(self.c.call("sys.info")["z"], 12)
        with self.n.client() as c2:  # a new link is served too
            self.assertIn("node", c2.call("sys.info"))
        self.assertEqual(self.n.proc.poll(), None)
        self.no_temp_files(self.n)

    def test_advertised(self):
        info = self.c.call("sys.info")
        self.assertEqual((info["z"], info["zr"]), (12, RATIO))
        self.assertIn("Wz", json.dumps(self.c.call("f._dir"), default=repr))

    def test_stream_in_pieces(self):
        data = lua_source(1, 4000)
        z = deflate(data)
        self.assertLess(len(z), len(data) // 2)
        for piece in (1, 7, 1000, 16000):
            small = z if piece > 1 else deflate(data[:3000])
            want = data if piece > 1 else data[:3000]
            h = self.upload(self.c, "p%d.lua" % piece, small, len(want), piece)
            self.assertIsNone(self.c.call("f.cl", {"fd": h}))
            with open(os.path.join(self.n.root, "p%d.lua" % piece), "rb") as f:
                self.assertEqual(f.read(), want)
        self.healthy()

    def test_empty_file(self):
        h = self.upload(self.c, "empty", deflate(b""), 0)
        self.c.call("f.cl", {"fd": h})
        self.assertEqual(os.path.getsize(os.path.join(self.n.root, "empty")), 0)

    def commit_refused(self, h, text, path="old.txt"):
        err = self.refused(self.c.call, "f.cl", {"fd": h})
        self.assertIn(text, err)
        with open(os.path.join(self.n.root, path), "rb") as f:
            self.assertEqual(f.read(), b"old content\n")
        self.healthy()
        return err

    def test_bomb_over_the_ratio(self):
        # 16 MiB of zeros in about 16 KiB: far beyond 64:1; refused while inflating, long
        # before 16 MiB are written
        data_len = 16 << 20
        z = deflate(bytes(data_len), wbits=12, level=9)
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": data_len})
        err = None
        for off in range(0, len(z), 8000):
            try:
                self.c.call("f.wr", {"fd": h, "off": off, "data": z[off:off + 8000]})
            except RemoteError as e:
                err = str(e)
                break
        self.assertIsNotNone(err)
        self.assertTrue(err.startswith("ETOOBIG: compressed write to /old.txt inflates beyond"), err)
        tmp = [f for f in os.listdir(self.n.root) if ".swtmp" in f]
        self.assertEqual(len(tmp), 1)
        self.assertLessEqual(os.path.getsize(os.path.join(self.n.root, tmp[0])), 8000 * RATIO + SLACK)
        self.assertIn("ETOOBIG", self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": b"x"}))
        self.commit_refused(h, "ETOOBIG")

    def test_bomb_over_the_declared_size(self):
        data = lua_source(2, 800)
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": 1000})
        err = self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": deflate(data)})
        self.assertIn("beyond its declared 1000 bytes", err)
        tmp = [f for f in os.listdir(self.n.root) if ".swtmp" in f]
        self.assertLessEqual(os.path.getsize(os.path.join(self.n.root, tmp[0])), 1000)
        self.commit_refused(h, "ETOOBIG")

    def test_declared_size_larger_than_the_stream(self):
        data = lua_source(3, 500)
        h = self.upload(self.c, "old.txt", deflate(data), len(data) + 1)
        self.assertIn("ended at the wrong size", self.commit_refused(h, "EPROTO"))

    def test_truncated(self):
        data = lua_source(4, 3000)
        z = deflate(data)
        h = self.upload(self.c, "old.txt", z[:len(z) // 2], len(data))
        self.assertIn("is incomplete", self.commit_refused(h, "EPROTO"))

    def test_garbage(self):
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": 5000})
        junk = random.Random(5).randbytes(4000)
        self.assertIn("corrupt zlib stream", self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": junk}))
        self.commit_refused(h, "EPROTO")

    def test_corrupt_check_value(self):
        data = lua_source(6, 1000)
        z = bytearray(deflate(data))
        z[-1] ^= 0xff  # the Adler-32
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": len(data)})
        self.assertIn("EPROTO", self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": bytes(z)}))
        self.commit_refused(h, "EPROTO")

    def test_window_larger_than_offered(self):
        data = lua_source(7, 1000)
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": len(data)})
        self.assertIn("EPROTO", self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": deflate(data, wbits=15)}))
        self.commit_refused(h, "EPROTO")

    def test_bytes_after_the_end(self):
        data = lua_source(8, 300)
        h = self.c.call("f.open", {"p": "old.txt", "m": "Wz", "s": len(data)})
        self.assertIn("EPROTO", self.refused(self.c.call, "f.wr", {"fd": h, "off": 0, "data": deflate(data) + b"more"}))
        self.commit_refused(h, "EPROTO")

    def test_out_of_order_and_bad_open(self):
        data = lua_source(9, 1000)
        z = deflate(data)
        h = self.c.call("f.open", {"p": "ooo.txt", "m": "Wz", "s": len(data)})
        self.assertIn("ERANGE: compressed write to /ooo.txt: offset 10, expected 0",
                      self.refused(self.c.call, "f.wr", {"fd": h, "off": 10, "data": z[10:]}))
        # not fatal: the stream goes on in order
        self.c.call("f.wr", {"fd": h, "off": 0, "data": z})
        self.c.call("f.cl", {"fd": h})
        with open(os.path.join(self.n.root, "ooo.txt"), "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.refused(self.c.call, "f.open", {"p": "x", "m": "Wz"}),
                         "BadArg: mode Wz needs s, the plain size")
        self.assertIn("ERANGE", self.refused(self.c.call, "f.open", {"p": "x", "m": "Wz", "s": -1}))
        h = self.c.call("f.open", {"p": "x", "m": "Wz", "s": 10})
        self.assertIn("EBADF", self.refused(self.c.call, "f.rd", {"fd": h}))
        self.c.call("f.cl", {"fd": h, "x": True})
        self.healthy()

    def test_bounded_count_and_link_loss(self):
        hs = []
        with self.n.client() as c2:
            for i in range(4):
                hs.append(c2.call("f.open", {"p": "m%d" % i, "m": "Wz", "s": 100}))
            self.assertIn("EMFILE: too many compressed writes open (4)",
                          self.refused(c2.call, "f.open", {"p": "m9", "m": "Wz", "s": 100}))
        # the link is gone: its handles (and their decompressors) too
        self.n.wait_log("atomic write of /m3 discarded")
        h = self.c.call("f.open", {"p": "m9", "m": "Wz", "s": 100})
        self.c.call("f.cl", {"fd": h, "x": True})
        self.healthy()


class CliSide(Base):
    def project(self):
        tmp = tempfile.mkdtemp(prefix="swarm-zlib-")
        self.addCleanup(shutil.rmtree, tmp, True)
        files = {"main.lua": lua_source(10, 200)}
        for i in range(6):
            files["lib/m%d.lua" % i] = lua_source(20 + i, 800)
        files["data/random.bin"] = random.Random(3).randbytes(30000)  # incompressible: goes plain
        files["data/tiny.txt"] = b"hi\n"
        write_tree(os.path.join(tmp, "apps", "zapp"), files)
        return tmp, files

    def push(self, n, proj, *extra):
        relay = Relay(n.port)
        self.addCleanup(relay.close)
        rc, out, err = swarm("push", proj, "--app", "zapp", "--link", "tcp://127.0.0.1:%d" % relay.port,
                             "--grace", "0", "--json", *extra)
        self.assertEqual(rc, 0, out + err)
        return json.loads(out), relay

    def check_pushed(self, n, files):
        for rel, data in files.items():
            with open(os.path.join(n.root, "apps", "zapp", rel), "rb") as f:
                self.assertEqual(f.read(), data, rel)
        with n.client() as c:
            self.assertEqual(c.call("push.manifest", {"t": "zapp"})["id"],
                             app_hash(os.path.join(n.root, "apps", "zapp")))
            self.assertEqual(c.call("zapp.ver"), "v10")
        self.no_temp_files(n)

    def test_push_compressed_and_plain(self):
        proj, files = self.project()
        size = sum(len(d) for d in files.values())
        lua = sum(len(d) for k, d in files.items() if k.endswith(".lua"))
        n = self.node()
        out, relay = self.push(n, proj)
        dev = out["devices"][0]
        self.assertEqual(dev["result"], "ok")
        self.assertEqual(dev["bytes"], size)
        self.assertEqual(dev["compressed"], 7)  # the Lua files; not the random or the tiny one
        self.assertLess(dev["wire"], size - lua // 2)
        self.assertLess(relay.up, size)  # everything that went to the node, framing included
        self.check_pushed(n, files)
        wire_z = relay.up
        # the same push plain, to a fresh node
        n2 = self.node()
        out, relay = self.push(n2, proj, "--no-compress")
        dev = out["devices"][0]
        self.assertEqual((dev["compressed"], dev["wire"]), (0, size))
        self.assertGreater(relay.up, size)
        self.assertLess(wire_z * 2, relay.up)
        self.check_pushed(n2, files)

    def test_push_to_a_node_that_does_not_inflate(self):
        proj, files = self.project()
        size = sum(len(d) for d in files.values())
        n = self.node(cfg={"files": {"inflate": False}})
        with n.client() as c:
            self.assertNotIn("z", c.call("sys.info"))
            self.assertIn("takes no compressed writes", self.refused(c.call, "f.open", {"p": "a", "m": "Wz", "s": 1}))
        out, relay = self.push(n, proj)
        dev = out["devices"][0]
        self.assertEqual((dev["result"], dev["compressed"], dev["wire"]), ("ok", 0, size))
        self.assertGreater(relay.up, size)
        self.check_pushed(n, files)

    def test_fs_put(self):
        tmp = tempfile.mkdtemp(prefix="swarm-zlib-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = lua_source(30, 6000)
        src = os.path.join(tmp, "big.lua")
        with open(src, "wb") as f:
            f.write(data)
        n = self.node()
        for extra, compressed in (((), True), (("--no-compress",), False)):
            relay = Relay(n.port)
            self.addCleanup(relay.close)
            rc, out, err = swarm("fs", "tcp://127.0.0.1:%d" % relay.port, "--json", *extra, "put", src, "big.lua")
            self.assertEqual(rc, 0, out + err)
            r = json.loads(out.splitlines()[-1])
            self.assertTrue(r["verified"])
            self.assertEqual(r["bytes"], len(data))
            with open(os.path.join(n.root, "big.lua"), "rb") as f:
                self.assertEqual(f.read(), data)
            if compressed:
                self.assertLess(r["wire"], len(data) // 2)
                self.assertLess(relay.up, len(data) // 2)
            else:
                self.assertEqual(r["wire"], len(data))
                self.assertGreater(relay.up, len(data))

    def test_fs_put_beyond_the_ratio_goes_plain(self):
        # 1 MiB of zeros deflates about 1000:1; the node would refuse that (64:1), so the host
        # sees it first and sends the file plain; a file just compressible enough goes compressed
        tmp = tempfile.mkdtemp(prefix="swarm-zlib-")
        self.addCleanup(shutil.rmtree, tmp, True)
        n = self.node()
        for name, data, compressed in (("zeros", bytes(1 << 20), False),
                                       ("text", lua_source(31, 3000), True)):
            src = os.path.join(tmp, name)
            with open(src, "wb") as f:
                f.write(data)
            rc, out, err = swarm("fs", "tcp://127.0.0.1:%d" % n.port, "--json", "put", src, name)
            self.assertEqual(rc, 0, out + err)
            r = json.loads(out.splitlines()[-1])
            self.assertTrue(r["verified"])
            self.assertEqual(r["wire"] < len(data), compressed, r)
            with open(os.path.join(n.root, name), "rb") as f:
                self.assertEqual(f.read(), data)


if __name__ == "__main__":
    unittest.main()
