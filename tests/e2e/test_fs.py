"""End-to-end tests of the "f" app (files under the node's root) against a real swarm-node over
TCP: every command with v0 and v2 argument names, the open modes including atomic replace (W)
across link loss, reset and kill -9, confinement to the root (.., symlinks), bounds and bad
arguments. Files are also checked directly on disk, in the node's root."""

import hashlib
import os
import shutil
import signal
import tempfile
import time
import unittest

import msgpack

from swarmtest import Node, RemoteError

MAX_MSG = 16384           # limits.msg default
MAX_RD = MAX_MSG - 32     # the largest rd (docs/parts/files.md)
MAX_FILES = 16            # limits.files default


def remote_text(fn, *args, **kw):
    """The error text of a call that must fail."""
    try:
        fn(*args, **kw)
    except RemoteError as e:
        return str(e)
    raise AssertionError("no error reply")


class Case(unittest.TestCase):
    def start_node(self):
        node = Node(name="fs")
        self.addCleanup(node.stop)
        return node.start()

    def client(self, node):
        c = node.client()
        self.addCleanup(c.close)
        return c

    def assertRemoteError(self, text, fn, *args, **kw):
        """fn(*args) must fail with error text equal to text, or starting with it when text
        ends with ':'. Returns the text."""
        got = remote_text(fn, *args, **kw)
        if text.endswith(":"):
            self.assertTrue(got.startswith(text), "error %r does not start with %r" % (got, text))
        else:
            self.assertEqual(got, text)
        return got


class FsBase(Case):
    """One node shared by the tests of a class; each test works in its own subdirectory."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node(name="fs")
        cls.addClassCleanup(cls.node.stop)
        cls.node.start()

    def setUp(self):
        self.c = self.client(self.node)
        self.d = self._testMethodName
        self.f("mkdir", p=self.d)

    # --- helpers

    def f(self, cmd, _c=None, **kw):
        return (_c or self.c).call(["f", cmd], kw)

    def disk(self, *parts):
        return os.path.join(self.node.root, *parts)

    def put(self, name, data):
        """Writes a file straight into the node's root (test setup)."""
        path = self.disk(self.d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        return self.d + "/" + name

    def get(self, name):
        with open(self.disk(self.d, name), "rb") as fh:
            return fh.read()

    def p(self, name):
        return self.d + "/" + name

    def read_all(self, path, c=None):
        h = self.f("open", c, p=path)
        out = b""
        while True:
            b = self.f("rd", c, fd=h, off=len(out), n=4096)
            if not b:
                break
            out += b
        self.f("cl", c, fd=h)
        return out

    def assert_alive(self):
        self.assertEqual(self.c.call("ping", {"m": "x"}), "R:x")


class Files(FsBase):
    def test_write_read_v0_names(self):
        h = self.f("open", p=self.p("a.bin"), m="w")
        self.assertIsInstance(h, int)
        self.assertEqual(self.f("wr", fd=h, data=b"hello world"), 11)
        self.assertEqual(self.f("wr", fd=h, data=b"HELLO", off=6), 5)
        self.assertIsNone(self.f("cl", fd=h))
        self.assertEqual(self.get("a.bin"), b"hello HELLO")
        h = self.f("open", p=self.p("a.bin"))  # m defaults to "r"
        self.assertEqual(self.f("rd", fd=h), b"hello HELLO")  # n defaults to 64
        self.assertEqual(self.f("rd", fd=h, off=6, n=3), b"HEL")
        self.assertEqual(self.f("rd", fd=h, off=11), b"")     # at the end: empty
        self.assertEqual(self.f("rd", fd=h, off=1000), b"")
        self.assertEqual(self.f("rd", fd=h, n=0), b"")
        self.f("cl", fd=h)

    def test_write_read_v2_names(self):
        h = self.f("open", p=self.p("b.bin"), m="w+")
        self.assertEqual(self.f("wr", f=h, d=b"0123456789"), 10)
        self.assertEqual(self.f("wr", f=h, d=b"ab", o=3), 2)
        self.assertEqual(self.f("rd", f=h, o=2, n=4), b"2ab5")
        self.f("cl", f=h)
        self.assertEqual(self.get("b.bin"), b"012ab56789")

    def test_str_data_and_binary_bytes(self):
        data = bytes(range(256)) * 4
        h = self.f("open", p=self.p("c"), m="w")
        self.assertEqual(self.f("wr", fd=h, data="text"), 4)   # str is accepted as bytes
        self.assertEqual(self.f("wr", fd=h, data=data, off=4), len(data))
        self.f("cl", fd=h)
        self.assertEqual(self.get("c"), b"text" + data)
        self.assertEqual(self.read_all(self.p("c")), b"text" + data)

    def test_v0_string_actions_and_positional_d(self):
        # the MoaT v0 host sends "f"+cmd as a string action, single args as a bare d
        self.put("s.txt", b"abc")
        c = self.c
        st = c.call("fstat", self.p("s.txt"))
        self.assertEqual((st["m"], st["s"]), ("f", 3))
        h = c.call("fopen", {"p": self.p("s.txt")})
        self.assertEqual(c.call("frd", {"fd": h, "n": 2}), b"ab")
        self.assertIsNone(c.call("fcl", h))  # d = the handle itself
        self.assertRemoteError("EBADF:", c.call, "frd", {"fd": h})
        self.assertEqual(c.call("fdir", self.d), ["s.txt"])
        self.assertEqual(c.call("fls", {"p": self.d}), ["s.txt"])

    def test_mode_r(self):
        self.assertRemoteError("fn", self.f, "open", p=self.p("missing"))
        self.assertRemoteError("fn", self.f, "open", p=self.p("missing"), m="r")
        self.put("r", b"data")
        h = self.f("open", p=self.p("r"), m="rb")  # a 'b' is accepted and ignored
        self.assertRemoteError("EBADF:", self.f, "wr", fd=h, data=b"x")
        self.assertEqual(self.f("rd", fd=h), b"data")
        self.f("cl", fd=h)
        self.assertEqual(self.get("r"), b"data")

    def test_mode_w_truncates_and_is_write_only(self):
        self.put("w", b"old content")
        h = self.f("open", p=self.p("w"), m="w")
        self.assertEqual(self.get("w"), b"")
        self.assertRemoteError("EBADF:", self.f, "rd", fd=h)
        self.f("wr", fd=h, data=b"new")
        self.f("cl", fd=h)
        self.assertEqual(self.get("w"), b"new")
        self.assertRemoteError("fn", self.f, "open", p=self.p("nodir/x"), m="w")

    def test_mode_a_appends_whatever_the_offset(self):
        self.put("a", b"123")
        h = self.f("open", p=self.p("a"), m="a")
        self.assertEqual(self.f("wr", fd=h, data=b"45", off=0), 2)
        self.assertEqual(self.f("wr", fd=h, data=b"67"), 2)
        self.assertRemoteError("EBADF:", self.f, "rd", fd=h)
        self.f("cl", fd=h)
        self.assertEqual(self.get("a"), b"1234567")
        h = self.f("open", p=self.p("a2"), m="a")  # creates
        self.f("wr", fd=h, data=b"x")
        self.f("cl", fd=h)
        self.assertEqual(self.get("a2"), b"x")
        h = self.f("open", p=self.p("a"), m="a+")
        self.f("wr", fd=h, data=b"8", off=1)
        self.assertEqual(self.f("rd", fd=h, off=0), b"12345678")
        self.f("cl", fd=h)

    def test_mode_r_plus_and_w_plus(self):
        self.assertRemoteError("fn", self.f, "open", p=self.p("rp"), m="r+")
        self.put("rp", b"abcdef")
        h = self.f("open", p=self.p("rp"), m="r+")
        self.f("wr", fd=h, data=b"XY", off=2)
        self.assertEqual(self.f("rd", fd=h), b"abXYef")
        self.f("cl", fd=h)
        self.assertEqual(self.get("rp"), b"abXYef")
        h = self.f("open", p=self.p("rp"), m="w+")
        self.assertEqual(self.f("rd", fd=h), b"")
        self.f("wr", fd=h, data=b"z")
        self.assertEqual(self.f("rd", fd=h), b"z")
        self.f("cl", fd=h)

    def test_bad_modes(self):
        for m in ("x", "rw", "r++", "wa", "R", "+", "rr", "W+"):
            self.assertRemoteError("EINVAL:", self.f, "open", p=self.p("m"), m=m)
        self.assertFalse(os.path.exists(self.disk(self.d, "m")))
        self.assertRemoteError("BadArg:", self.f, "open", p=self.p("m"), m=3)

    def test_open_directory_and_root(self):
        self.assertRemoteError("EISDIR:", self.f, "open", p=self.d)
        self.assertRemoteError("EISDIR:", self.f, "open", p=self.d, m="w")
        self.assertRemoteError("EISDIR:", self.f, "open", p="")
        self.assertRemoteError("EISDIR:", self.f, "open", p="/")

    def test_handles_are_not_reused(self):
        self.put("h", b"")
        seen = set()
        for _ in range(5):
            h = self.f("open", p=self.p("h"))
            self.assertNotIn(h, seen)
            seen.add(h)
            self.f("cl", fd=h)
        self.assertRemoteError("EBADF:", self.f, "cl", fd=h)
        self.assertRemoteError("EBADF:", self.f, "cl", fd=h)  # twice: still an error, no crash

    def test_handles_belong_to_their_link(self):
        self.put("own", b"mine")
        other = self.client(self.node)
        h = self.f("open", p=self.p("own"))
        self.assertRemoteError("EBADF: no such handle %d" % h, self.f, "rd", other, fd=h)
        self.assertRemoteError("EBADF:", self.f, "cl", other, fd=h)
        self.assertIsNone(self.f("reset", other))  # closes other's files only
        self.assertEqual(self.f("rd", fd=h), b"mine")
        self.assertIsNone(self.f("reset"))
        self.assertRemoteError("EBADF:", self.f, "rd", fd=h)

    def test_reset_closes_this_links_files(self):
        self.put("r1", b"1")
        hs = [self.f("open", p=self.p("r1")) for _ in range(3)]
        self.assertIsNone(self.f("reset", p="ignored"))
        for h in hs:
            self.assertRemoteError("EBADF:", self.f, "rd", fd=h)

    def test_open_file_survives_rename_and_unlink_of_its_name(self):
        self.put("u", b"still here")
        h = self.f("open", p=self.p("u"))
        self.f("rm", p=self.p("u"))
        self.assertEqual(self.f("rd", fd=h), b"still here")
        self.f("cl", fd=h)


class Atomic(FsBase):
    def tmp_files(self, sub=None):
        return [n for n in os.listdir(self.disk(sub or self.d)) if ".swtmp" in n]

    def test_commit_on_close(self):
        self.put("cfg", b"old")
        h = self.f("open", p=self.p("cfg"), m="W")
        self.f("wr", fd=h, data=b"new content")
        self.f("wr", fd=h, data=b"N", off=0)
        self.assertEqual(self.f("rd", fd=h, n=3), b"New")  # W handles read their own data
        # until cl nothing changes at p, and the temp file is not listed
        self.assertEqual(self.get("cfg"), b"old")
        self.assertEqual(self.read_all(self.p("cfg")), b"old")
        self.assertEqual(self.f("dir", p=self.d), ["cfg"])
        self.assertEqual([e["n"] for e in self.f("dir", p=self.d, x=True)], ["cfg"])
        self.assertEqual(len(self.tmp_files()), 1)  # it is there on disk, next to p
        self.assertIsNone(self.f("cl", fd=h))
        self.assertEqual(self.get("cfg"), b"New content")
        self.assertEqual(self.tmp_files(), [])

    def test_creates_new_file(self):
        h = self.f("open", p=self.p("fresh"), m="W")
        self.assertFalse(os.path.exists(self.disk(self.d, "fresh")))
        self.f("wr", fd=h, data=b"x" * 5000)
        self.f("cl", fd=h)
        self.assertEqual(self.get("fresh"), b"x" * 5000)

    def test_missing_directory(self):
        self.assertRemoteError("fn", self.f, "open", p=self.p("no/such/file"), m="W")

    def test_reset_discards(self):
        self.put("keep", b"original")
        h = self.f("open", p=self.p("keep"), m="W")
        self.f("wr", fd=h, data=b"discard me")
        self.f("reset")
        self.assertRemoteError("EBADF:", self.f, "cl", fd=h)
        self.assertEqual(self.get("keep"), b"original")
        self.assertEqual(self.tmp_files(), [])

    def test_link_loss_discards(self):
        self.put("keep", b"original")
        c2 = self.node.client()
        h = self.f("open", c2, p=self.p("keep"), m="W")
        self.f("wr", c2, fd=h, data=b"discard me")
        self.assertEqual(len(self.tmp_files()), 1)
        c2.close()
        deadline = time.monotonic() + 5
        while self.tmp_files() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.tmp_files(), [])
        self.assertEqual(self.get("keep"), b"original")
        self.assert_alive()

    def test_two_writers_last_close_wins(self):
        self.put("two", b"0")
        h1 = self.f("open", p=self.p("two"), m="W")
        h2 = self.f("open", p=self.p("two"), m="W")
        self.f("wr", fd=h1, data=b"first")
        self.f("wr", fd=h2, data=b"second")
        self.f("cl", fd=h2)
        self.assertEqual(self.get("two"), b"second")
        self.f("cl", fd=h1)
        self.assertEqual(self.get("two"), b"first")
        self.assertEqual(self.tmp_files(), [])


class KillDuringAtomicWrite(Case):
    def test_kill_9_keeps_old_content(self):
        node = self.start_node()
        with open(os.path.join(node.root, "app.lua"), "wb") as fh:
            fh.write(b"old app")
        c = node.client()
        self.addCleanup(c.close)
        h = c.call(["f", "open"], {"p": "app.lua", "m": "W"})
        c.call(["f", "wr"], {"fd": h, "data": b"half of the new app"})
        node.kill(signal.SIGKILL)
        c.close()
        stale = [n for n in os.listdir(node.root) if ".swtmp" in n]
        self.assertEqual(len(stale), 1)  # the temp file survived the kill…
        node.start()
        c = self.client(node)
        self.assertEqual(c.call(["f", "hash"], {"p": "app.lua"}),
                         hashlib.sha256(b"old app").digest())
        names = c.call(["f", "dir"], {"p": ""})
        self.assertIn("app.lua", names)
        self.assertFalse([n for n in names if ".swtmp" in n])  # …but is never listed
        self.assertFalse([e for e in c.call(["f", "dir"], {"x": True}) if ".swtmp" in e["n"]])
        # and listing its directory removed it, as nobody has it open any more
        self.assertEqual([n for n in os.listdir(node.root) if ".swtmp" in n], [])
        # a new atomic write works as usual
        h = c.call(["f", "open"], {"p": "app.lua", "m": "W"})
        c.call(["f", "wr"], {"fd": h, "data": b"new app"})
        c.call(["f", "cl"], {"fd": h})
        with open(os.path.join(node.root, "app.lua"), "rb") as fh:
            self.assertEqual(fh.read(), b"new app")


    def test_orderly_stop_discards(self):
        node = self.start_node()
        with open(os.path.join(node.root, "cfg"), "wb") as fh:
            fh.write(b"old")
        c = self.client(node)
        h = c.call(["f", "open"], {"p": "cfg", "m": "W"})
        c.call(["f", "wr"], {"fd": h, "data": b"new"})
        self.assertTrue([n for n in os.listdir(node.root) if ".swtmp" in n])
        node.kill(signal.SIGTERM)  # sw_node_stop → sw_fs_app_stop
        self.assertEqual(node.proc.returncode, 0)
        self.assertEqual([n for n in os.listdir(node.root) if ".swtmp" in n], [])
        with open(os.path.join(node.root, "cfg"), "rb") as fh:
            self.assertEqual(fh.read(), b"old")


class Directories(FsBase):
    def test_dir_sorted_names(self):
        for name in ("b", "a", "C", "ab", "a.txt", "zz"):
            self.put(name, b"")
        self.f("mkdir", p=self.p("sub"))
        want = sorted(["b", "a", "C", "ab", "a.txt", "zz", "sub"])
        self.assertEqual(self.f("dir", p=self.d), want)
        self.assertEqual(self.f("ls", p=self.d), want)
        self.assertEqual(self.f("dir", p="/" + self.d + "/"), want)
        self.assertEqual(self.f("dir", p=self.p("sub")), [])

    def test_dir_x(self):
        self.put("file", b"12345")
        os.utime(self.disk(self.d, "file"), (1700000000, 1700000000))
        self.f("mkdir", p=self.p("dir"))
        got = self.f("dir", p=self.d, x=True)
        self.assertEqual([e["n"] for e in got], ["dir", "file"])
        d, f = got
        self.assertEqual(d["m"], "d")
        self.assertNotIn("s", d)
        self.assertIsInstance(d["t"], int)
        self.assertEqual((f["m"], f["s"], f["t"]), ("f", 5, 1700000000))
        self.assertEqual(self.f("ls", p=self.d, x=True), got)
        self.assertEqual(self.f("dir", p=self.d, x=False), ["dir", "file"])

    def test_dir_root_default(self):
        names = self.f("dir")
        self.assertIn(self.d, names)
        self.assertEqual(self.f("dir", p=""), names)
        self.assertEqual(self.f("dir", p="/"), names)
        self.assertEqual(self.f("dir", p="."), names)

    def test_dir_errors(self):
        self.assertRemoteError("fn", self.f, "dir", p=self.p("missing"))
        self.put("file", b"")
        self.assertRemoteError("ENOTDIR:", self.f, "dir", p=self.p("file"))
        self.assertRemoteError("BadArg:", self.f, "dir", p=self.d, x="yes")

    def test_dir_too_large_for_a_reply(self):
        big = self.p("big")
        os.makedirs(self.disk(big))
        for i in range(200):  # 200 × ~100-byte names > 16 KiB
            open(self.disk(big, "%03d_" % i + "n" * 95), "wb").close()
        text = self.assertRemoteError("ETOOBIG:", self.f, "dir", p=big)
        self.assertIn("does not fit", text)
        self.assert_alive()
        # a listing that fits right below the limit works
        for i in range(60, 200):
            os.unlink(self.disk(big, "%03d_" % i + "n" * 95))
        self.assertEqual(len(self.f("dir", p=big)), 60)

    def test_mkdir_rmdir(self):
        self.assertIsNone(self.f("mkdir", p=self.p("x")))
        self.assertTrue(os.path.isdir(self.disk(self.d, "x")))
        self.assertRemoteError("fx", self.f, "mkdir", p=self.p("x"))
        self.assertRemoteError("fx", self.f, "mkdir", p="")
        self.assertRemoteError("fn", self.f, "mkdir", p=self.p("no/x"))
        self.put("x/f", b"")
        self.assertRemoteError("ENOTEMPTY:", self.f, "rmdir", p=self.p("x"))
        self.f("rm", p=self.p("x/f"))
        self.assertIsNone(self.f("rmdir", p=self.p("x")))
        self.assertFalse(os.path.exists(self.disk(self.d, "x")))
        self.assertRemoteError("fn", self.f, "rmdir", p=self.p("x"))
        self.assertRemoteError("EPERM:", self.f, "rmdir", p="")
        self.assertRemoteError("EPERM:", self.f, "rmdir", p="/")

    def test_rm_new(self):
        self.assertIsNone(self.f("new", p=self.p("n")))
        self.assertEqual(self.get("n"), b"")
        self.assertRemoteError("fx", self.f, "new", p=self.p("n"))
        self.put("n", b"data")
        self.assertRemoteError("fx", self.f, "new", p=self.p("n"))
        self.assertEqual(self.get("n"), b"data")  # new never truncates
        self.assertRemoteError("fn", self.f, "new", p=self.p("nodir/n"))
        self.assertIsNone(self.f("rm", p=self.p("n")))
        self.assertFalse(os.path.exists(self.disk(self.d, "n")))
        self.assertRemoteError("fn", self.f, "rm", p=self.p("n"))
        self.f("mkdir", p=self.p("dd"))
        with self.assertRaises(RemoteError):
            self.f("rm", p=self.p("dd"))  # rm does not remove directories
        self.assertTrue(os.path.isdir(self.disk(self.d, "dd")))
        self.assertRemoteError("EPERM:", self.f, "rm", p="")


class StatHash(FsBase):
    def test_stat(self):
        self.put("f", b"123456")
        os.utime(self.disk(self.d, "f"), (1600000000, 1600000000))
        self.assertEqual(self.f("stat", p=self.p("f")),
                         {"m": "f", "s": 6, "t": 1600000000,
                          "d": [0x8000, 0, 0, 0, 0, 0, 6, 1600000000, 1600000000, 1600000000]})
        st = self.f("stat", p=self.d)
        self.assertEqual(st["m"], "d")
        self.assertNotIn("s", st)
        # MoaT v0's host does os.stat_result(st["d"]) (its exists(), copytree, install)
        import stat as pystat
        sr = os.stat_result(st["d"])
        self.assertTrue(pystat.S_ISDIR(sr.st_mode))
        sr = os.stat_result(self.f("stat", p=self.p("f"))["d"])
        self.assertTrue(pystat.S_ISREG(sr.st_mode))
        self.assertEqual((sr.st_size, sr.st_mtime), (6, 1600000000))
        self.assertAlmostEqual(st["t"], os.stat(self.disk(self.d)).st_mtime, delta=2)
        self.assertEqual(self.f("stat", p="")["m"], "d")
        self.assertRemoteError("fn", self.f, "stat", p=self.p("missing"))
        self.assertRemoteError("fn", self.f, "stat", p=self.p("missing/deeper"))
        self.assertEqual(self.f("stat", p=self.p("f"), v=True)["s"], 6)  # v2's v is accepted

    def test_hash(self):
        data = os.urandom(100000)  # several chunks
        self.put("h", data)
        self.assertEqual(self.f("hash", p=self.p("h")), hashlib.sha256(data).digest())
        self.assertEqual(self.f("hash", p=self.p("h"), off=10, n=5000),
                         hashlib.sha256(data[10:5010]).digest())
        self.assertEqual(self.f("hash", p=self.p("h"), o=4096, n=4096),
                         hashlib.sha256(data[4096:8192]).digest())
        self.assertEqual(self.f("hash", p=self.p("h"), off=99990),
                         hashlib.sha256(data[99990:]).digest())
        self.assertEqual(self.f("hash", p=self.p("h"), off=99990, n=1000),
                         hashlib.sha256(data[99990:]).digest())  # clipped at the end
        self.assertEqual(self.f("hash", p=self.p("h"), off=200000), hashlib.sha256(b"").digest())
        self.assertEqual(self.f("hash", p=self.p("h"), n=0), hashlib.sha256(b"").digest())
        self.assertEqual(self.f("hash", p=self.p("h"), n=None), hashlib.sha256(data).digest())
        self.assertEqual(self.f("hash", p=self.p("h"), l=8), hashlib.sha256(data).digest()[:8])
        self.assertEqual(self.c.call("fhash", self.p("h")), hashlib.sha256(data).digest())
        self.put("empty", b"")
        self.assertEqual(self.f("hash", p=self.p("empty")), hashlib.sha256(b"").digest())

    def test_hash_errors(self):
        self.assertRemoteError("fn", self.f, "hash", p=self.p("missing"))
        self.assertRemoteError("EISDIR:", self.f, "hash", p=self.d)
        self.put("h", b"x")
        self.assertRemoteError("ERANGE:", self.f, "hash", p=self.p("h"), off=-1)
        self.assertRemoteError("ERANGE:", self.f, "hash", p=self.p("h"), n=-5)
        self.assertRemoteError("ERANGE:", self.f, "hash", p=self.p("h"), l=0)
        self.assertRemoteError("ERANGE:", self.f, "hash", p=self.p("h"), l=33)
        self.assertRemoteError("BadArg:", self.f, "hash", p=self.p("h"), n="all")


class Move(FsBase):
    def test_mv(self):
        self.put("s", b"S")
        self.assertIsNone(self.f("mv", s=self.p("s"), d=self.p("d")))
        self.assertEqual(self.get("d"), b"S")
        self.assertFalse(os.path.exists(self.disk(self.d, "s")))
        self.assertRemoteError("fn", self.f, "mv", s=self.p("s"), d=self.p("e"))
        self.put("s", b"S2")
        self.f("mv", s=self.p("s"), d=self.p("d"))  # replaces
        self.assertEqual(self.get("d"), b"S2")
        self.f("mkdir", p=self.p("sub"))
        self.f("mv", s=self.p("d"), d=self.p("sub/d"))
        self.assertEqual(self.get("sub/d"), b"S2")
        self.f("mv", s=self.p("sub"), d=self.p("sub2"))  # directories too
        self.assertEqual(self.get("sub2/d"), b"S2")

    def test_mv_no_replace(self):
        self.put("s", b"S")
        self.put("d", b"D")
        self.assertRemoteError("fx", self.f, "mv", s=self.p("s"), d=self.p("d"), n=True)
        self.assertEqual((self.get("s"), self.get("d")), (b"S", b"D"))
        # the original refused when d was missing (inverted); we do what it intends
        self.assertIsNone(self.f("mv", s=self.p("s"), d=self.p("new"), n=True))
        self.assertEqual(self.get("new"), b"S")

    def test_mv_swap(self):
        self.put("s", b"S")
        self.put("d", b"D")
        self.assertIsNone(self.f("mv", s=self.p("s"), d=self.p("d"), x=self.p("x")))
        self.assertEqual((self.get("s"), self.get("d")), (b"D", b"S"))
        self.assertFalse(os.path.exists(self.disk(self.d, "x")))
        self.put("x", b"X")
        self.assertRemoteError("fx", self.f, "mv", s=self.p("s"), d=self.p("d"), x=self.p("x"))
        self.assertEqual((self.get("s"), self.get("d"), self.get("x")), (b"D", b"S", b"X"))
        self.assertRemoteError("fn", self.f, "mv", s=self.p("s"), d=self.p("nod"), x=self.p("y"))
        self.assertEqual(self.get("s"), b"D")
        self.f("mv", s=self.p("s"), d=self.p("d"), x=None)  # x None: a plain move
        self.assertEqual(self.get("d"), b"D")

    def test_mv_root_and_escapes(self):
        self.put("s", b"S")
        self.assertRemoteError("EPERM:", self.f, "mv", s="", d=self.p("r"))
        self.assertRemoteError("EPERM:", self.f, "mv", s=self.p("s"), d="/")
        esc = "EPERM: path escapes the root:"
        self.assertRemoteError(esc, self.f, "mv", s=self.p("s"), d="../s")
        self.assertRemoteError(esc, self.f, "mv", s=self.p("s"), d=self.p("d"), x="/../x")
        self.assertEqual(self.get("s"), b"S")
        self.assertRemoteError("BadArg:", self.f, "mv", s=self.p("s"))


class Confinement(FsBase):
    ESCAPES = ("..", "../x", "/../x", "a/../../x", "./../x", "a/b/../../../x", "/..", "x/../../")

    @classmethod
    def setUpClass(cls):
        # the root's parent is ours alone, so "nothing appeared next to the root" means
        # something (a shared /tmp may hold an x of its own)
        cls.outer = tempfile.mkdtemp(prefix="swarm-e2e-confine-")
        cls.addClassCleanup(shutil.rmtree, cls.outer, True)
        os.makedirs(os.path.join(cls.outer, "root"))
        cls.node = Node(root=os.path.join(cls.outer, "root"), name="fs")
        cls.addClassCleanup(cls.node.stop)
        cls.node.start()

    def test_dotdot_refused_everywhere(self):
        for p in self.ESCAPES:
            for cmd, kw in (("open", {"p": p}), ("open", {"p": p, "m": "w"}), ("stat", {"p": p}),
                            ("dir", {"p": p}), ("mkdir", {"p": p}), ("new", {"p": p}),
                            ("rm", {"p": p}), ("rmdir", {"p": p}), ("hash", {"p": p}),
                            ("mv", {"s": p, "d": "y"})):
                with self.subTest(cmd=cmd, p=p):
                    self.assertRemoteError("EPERM: path escapes the root:", self.f, cmd, **kw)
        self.assertEqual(os.listdir(self.outer), ["root"])

    def test_dotdot_inside_is_fine(self):
        self.put("in", b"ok")
        self.assertEqual(self.f("stat", p=self.d + "/sub/../in")["s"], 2)
        self.assertEqual(self.f("stat", p="/" + self.d + "/./in")["s"], 2)
        self.assertEqual(self.f("stat", p=self.d + "//in")["s"], 2)

    def test_bad_paths(self):
        self.assertRemoteError("EINVAL:", self.f, "stat", p="a\0b")
        self.assertRemoteError("EINVAL:", self.f, "stat", p="a\\b")
        self.assertRemoteError("EINVAL:", self.f, "stat", p="n" * 300)  # one name > 255
        self.assertRemoteError("ETOOBIG:", self.f, "stat", p="/".join(["abcdefgh"] * 100))
        self.assertRemoteError("BadArg:", self.f, "stat", p=b"bytes")
        self.assertRemoteError("BadArg:", self.f, "stat")
        self.assert_alive()

    def test_symlinks_refused(self):
        outside = tempfile.mkdtemp(prefix="swarm-outside-")
        self.addCleanup(lambda: __import__("shutil").rmtree(outside, ignore_errors=True))
        with open(os.path.join(outside, "secret"), "wb") as fh:
            fh.write(b"secret")
        os.symlink(outside, self.disk(self.d, "ldir"))
        os.symlink(os.path.join(outside, "secret"), self.disk(self.d, "lfile"))
        self.put("real", b"real")
        os.symlink("real", self.disk(self.d, "linside"))  # even one pointing inside
        for p in ("ldir/secret", "lfile", "linside"):
            for m in ("r", "w", "a", "r+", "w+", "a+", "W"):
                with self.subTest(p=p, m=m):
                    self.assertRemoteError("EPERM:", self.f, "open", p=self.p(p), m=m)
        self.assertEqual(self.f("stat", p=self.p("lfile"))["m"], "?")  # seen, never followed
        self.assertNotIn("s", self.f("stat", p=self.p("lfile")))
        self.assertRemoteError("EPERM:", self.f, "hash", p=self.p("linside"))
        for cmd, kw in (("stat", {"p": self.p("ldir/secret")}), ("hash", {"p": self.p("lfile")}),
                        ("hash", {"p": self.p("ldir/secret")}), ("dir", {"p": self.p("ldir")}),
                        ("new", {"p": self.p("ldir/new")}), ("mkdir", {"p": self.p("ldir/nd")}),
                        ("rm", {"p": self.p("ldir/secret")}),
                        ("mv", {"s": self.p("ldir/secret"), "d": self.p("got")})):
            with self.subTest(cmd=cmd):
                with self.assertRaises(RemoteError):
                    self.f(cmd, **kw)
        with open(os.path.join(outside, "secret"), "rb") as fh:
            self.assertEqual(fh.read(), b"secret")
        self.assertEqual(sorted(os.listdir(outside)), ["secret"])
        self.assertEqual(self.get("real"), b"real")
        self.assertEqual([n for n in os.listdir(self.disk(self.d)) if ".swtmp" in n], [])
        self.assertTrue(os.path.islink(self.disk(self.d, "lfile")))
        self.assert_alive()


class BadArguments(FsBase):
    def test_missing_and_wrong_types(self):
        self.put("f", b"data")
        h = self.f("open", p=self.p("f"), m="r+")
        cases = [
            ("open", {}), ("open", {"p": 5}), ("open", {"p": None}), ("open", {"p": [1]}),
            ("open", {"p": self.p("f"), "m": b"r"}),
            ("rd", {}), ("rd", {"fd": "1"}), ("rd", {"fd": 1.5}), ("rd", {"fd": [h]}),
            ("rd", {"fd": h, "off": "0"}), ("rd", {"fd": h, "n": "1"}), ("rd", {"fd": h, "n": {}}),
            ("wr", {"fd": h}), ("wr", {"fd": h, "data": 5}), ("wr", {"fd": h, "data": [1]}),
            ("wr", {"data": b"x"}), ("wr", {"fd": h, "data": b"x", "off": "1"}),
            ("cl", {}), ("cl", {"fd": "x"}),
            ("dir", {"p": 1}), ("stat", {"p": 1.0}), ("mkdir", {}), ("rm", {"p": {}}),
            ("rmdir", {"p": True}), ("new", {"p": None}), ("hash", {}), ("mv", {"s": 1, "d": 2}),
            ("mv", {"s": self.p("f"), "d": self.p("g"), "n": "yes"}),
        ]
        for cmd, kw in cases:
            with self.subTest(cmd=cmd, kw=kw):
                with self.assertRaises(RemoteError):
                    self.f(cmd, **kw)
        self.assertEqual(self.f("rd", fd=h), b"data")  # the file and the node are unharmed
        self.f("cl", fd=h)
        self.assertEqual(self.get("f"), b"data")

    def test_odd_d_values(self):
        h = self.f("open", p=self.p("o"), m="w")
        for d in (None, [], [1, 2], True, -1, 2 ** 63, b"\x00", "", {1: 2}, {"fd": None}):
            with self.subTest(d=d):
                with self.assertRaises(RemoteError):
                    self.c.call(["f", "cl"], d)
        # d absent altogether
        self.c.seq += 1
        self.c.send({"a": ["f", "rd"], "i": self.c.seq})
        self.assertIn("e", self.c.answer(self.c.seq))
        self.f("cl", fd=h)

    def test_negative_and_huge_numbers(self):
        self.put("f", b"0123456789")
        h = self.f("open", p=self.p("f"), m="r+")
        self.assertRemoteError("ERANGE:", self.f, "rd", fd=h, off=-1)
        self.assertRemoteError("ERANGE:", self.f, "rd", fd=h, n=-1)
        self.assertRemoteError("ERANGE:", self.f, "rd", f=h, o=-100)
        self.assertRemoteError("ERANGE:", self.f, "wr", fd=h, data=b"x", off=-1)
        self.assertRemoteError("ERANGE:", self.f, "hash", p=self.p("f"), off=-(2 ** 63))
        self.assertRemoteError("ETOOBIG:", self.f, "rd", fd=h, n=2 ** 62)
        self.assertRemoteError("ETOOBIG:", self.f, "rd", fd=h, n=2 ** 31)
        with self.assertRaises(RemoteError):
            self.f("rd", fd=h, n=2 ** 64 - 1)  # not an int64
        self.assertEqual(self.f("rd", fd=h, off=2 ** 62), b"")
        self.assertRemoteError("EBADF: no such handle 123456", self.f, "rd", fd=123456)
        self.assertRemoteError("EBADF:", self.f, "rd", fd=-1)
        self.assertRemoteError("EBADF:", self.f, "rd", fd=2 ** 63 - 1)
        self.assertRemoteError("EBADF:", self.f, "wr", fd=0, data=b"x")
        self.assertEqual(self.f("rd", fd=h), b"0123456789")
        self.f("cl", fd=h)

    def test_garbage_on_the_link(self):
        # not a message at all, a message of the wrong shape: the node answers or drops, stays up
        self.c.send_raw(msgpack.packb([1, 2, 3]))
        self.c.send({"a": ["f", "rd"], "d": {"fd": 1}, "i": "seq"})
        self.c.send({"a": ["f", 7], "i": 99})
        self.assert_alive()


class Bounds(Case):
    def test_too_many_open_files(self):
        node = self.start_node()
        with open(os.path.join(node.root, "f"), "wb") as fh:
            fh.write(b"x")
        c1, c2 = self.client(node), self.client(node)
        hs = [c1.call(["f", "open"], {"p": "f"}) for _ in range(MAX_FILES - 2)]
        hs += [c2.call(["f", "open"], {"p": "f"}) for _ in range(2)]  # the bound is per node
        for c in (c1, c2):
            self.assertRemoteError("EMFILE:", c.call, ["f", "open"], {"p": "f"})
        with self.assertRaises(RemoteError):
            c1.call(["f", "open"], {"p": "g", "m": "W"})
        self.assertFalse(os.path.exists(os.path.join(node.root, "g")))
        c1.call(["f", "cl"], {"fd": hs[0]})
        h = c1.call(["f", "open"], {"p": "f"})
        self.assertEqual(c1.call(["f", "rd"], {"fd": h}), b"x")
        c2.close()  # its two files are closed with the link
        deadline = time.monotonic() + 5
        while True:
            try:
                c1.call(["f", "open"], {"p": "f"})
                break
            except RemoteError:
                self.assertLess(time.monotonic(), deadline, "files of a closed link stay open")
                time.sleep(0.05)
        c1.call(["f", "open"], {"p": "f"})
        with self.assertRaises(RemoteError):
            c1.call(["f", "open"], {"p": "f"})

    def test_read_size_bound(self):
        node = self.start_node()
        data = os.urandom(3 * MAX_MSG)
        with open(os.path.join(node.root, "big"), "wb") as fh:
            fh.write(data)
        c = self.client(node)
        h = c.call(["f", "open"], {"p": "big"})
        self.assertEqual(c.call(["f", "rd"], {"fd": h, "n": MAX_RD}), data[:MAX_RD])
        self.assertEqual(c.call(["f", "rd"], {"fd": h, "off": 5, "n": MAX_RD}), data[5:5 + MAX_RD])
        for n in (MAX_RD + 1, MAX_MSG, 10 ** 9):
            text = remote_text(c.call, ["f", "rd"], {"fd": h, "n": n})
            self.assertTrue(text.startswith("ETOOBIG: n = %d > %d" % (n, MAX_RD)), text)
            self.assertIn("limits.msg", text)
        # big writes up to what fits in one message
        h2 = c.call(["f", "open"], {"p": "w", "m": "w"})
        chunk = os.urandom(MAX_MSG - 100)
        self.assertEqual(c.call(["f", "wr"], {"fd": h2, "data": chunk}), len(chunk))
        c.call(["f", "cl"], {"fd": h2})
        with open(os.path.join(node.root, "w"), "rb") as fh:
            self.assertEqual(fh.read(), chunk)


class Directory(FsBase):
    def test_f_dir_lists_every_command_with_docs(self):
        d = self.c.call(["f", "_dir"])
        want = {"open", "rd", "wr", "cl", "reset", "dir", "ls", "stat", "hash", "mkdir", "rm",
                "rmdir", "new", "mv"}
        self.assertEqual(set(d["c"]), want)
        self.assertEqual(set(d["h"]), want)
        self.assertTrue(all(isinstance(v, str) and v for v in d["h"].values()))
        root = self.c.call("_dir")
        self.assertIn("f", root["d"])


if __name__ == "__main__":
    unittest.main()
