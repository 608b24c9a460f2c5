"""`swarm fs` (src/host/cli_fs*.c, the transfer engine src/host/xfer.c) against real swarm-node
processes: every command and its errors and exit codes; byte-exact round trips of random files
around the chunk size and of 1 MiB, both ways, with the device's SHA-256 checked; trees with
-r and --changed; standard input and output; a put cut by killing the node, which must leave
the old content; pipelining (--window 1 against 8, timings printed, only correctness asserted);
and a 64 KiB round trip over a socat pty pair in lossy (SerialPacker + Reliable) mode."""
import glob
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from swarmtest import SWARM_BIN, Node, PtyPairTestCase, free_port

CMDS = ("ls", "cat", "get", "put", "cp", "sync", "rm", "mkdir", "rmdir", "mv", "stat", "hash")


def swarm(*args, timeout=120, input=None, text=True):
    return subprocess.run([SWARM_BIN, *args], capture_output=True, text=text, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tree_of(root, skip_cfg=True):
    """{relative path: bytes, relative dir path + '/': None} of a directory, without the node's
    own config and atomic temp files."""
    out = {}
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for name in dirs:
            out[os.path.normpath(os.path.join(rel, name)) + "/"] = None
        for name in files:
            if ".swtmp" in name or ".swarm-" in name or (skip_cfg and name == "swarm.cfg" and rel == "."):
                continue
            out[os.path.normpath(os.path.join(rel, name))] = read(os.path.join(d, name))
    return out


class Help(unittest.TestCase):
    def test_fs_help_and_each_command(self):
        r = swarm("fs", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for c in CMDS:
            self.assertRegex(r.stdout, r"\n  %s\b" % c)
        for opt in ("--window", "--chunk", "--changed", "-r", "--no-verify", "exit status"):
            self.assertIn(opt, r.stdout)
        self.assertEqual(swarm("help", "fs").stdout, r.stdout)
        self.assertIn("\n  fs ", swarm("--help").stdout)
        for c in CMDS:
            for args in (["fs", c, "--help"], ["fs", "localhost", c, "--help"]):
                h = swarm(*args)
                self.assertEqual(h.returncode, 0, h.stderr)
                self.assertIn("usage: swarm fs [options] LINK %s" % c, h.stdout)
                self.assertIn("swarm fs localhost %s" % c, h.stdout)  # an example

    def test_usage_errors_exit_2_without_connecting(self):
        dead = "tcp://127.0.0.1:%d" % free_port()  # nothing listens: usage must come first
        cases = [
            ([dead], "missing COMMAND"),
            ([], "missing LINK and COMMAND"),
            ([dead, "frob"], "unknown command 'frob'"),
            ([dead, "get"], "missing arguments for get"),
            ([dead, "mv", "a"], "missing arguments for mv"),
            ([dead, "ls", "a", "b"], "too many arguments for ls"),
            ([dead, "get", "-l", "x"], "-l is an option of ls"),
            ([dead, "ls", "-r"], "-r is an option of get, put, cp and rm"),
            ([dead, "ls", "--window", "2"], "options of the transfers"),
            ([dead, "sync", "--changed", "d"], "--changed is an option of get, put and cp"),
            ([dead, "get", "--delete", "d"], "--delete, --dry-run and --watch are options of sync"),
            ([dead, "cp", "a", "b"], "mark the device side with ':'"),
            ([dead, "cp", "-r", "-", ":x"], "not standard input"),
            ([dead, "rm", "-p", "x"], "-p is an option of mkdir"),
            ([dead, "put", "--window", "0", "x"], "bad --window '0'"),
            ([dead, "put", "--window", "65", "x"], "bad --window '65'"),
            ([dead, "put", "--chunk", "x", "x"], "bad --chunk 'x'"),
            ([dead, "put", "-r", "-", "x"], "not standard input"),
            ([dead, "ls", "--frob"], "unknown option '--frob'"),
        ]
        for args, msg in cases:
            r = swarm("fs", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(msg, r.stderr, args)
            self.assertIn("swarm fs --help", r.stderr)

    def test_unreachable_is_3(self):
        r = swarm("--timeout", "2", "fs", "tcp://127.0.0.1:%d" % free_port(), "ls")
        self.assertEqual(r.returncode, 3, r.stderr)


class FsBase(unittest.TestCase):
    def setUp(self):
        self.node = Node()
        self.addCleanup(self.node.stop)
        self.node.start()
        self.link = "tcp://127.0.0.1:%d" % self.node.port
        self.tmp = tempfile.mkdtemp(prefix="swarm-fs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.rng = random.Random(0x5F5)

    def fs(self, *args, **kw):
        return swarm("fs", self.link, *args, **kw)

    def ok(self, *args, **kw):
        r = self.fs(*args, **kw)
        self.assertEqual(r.returncode, 0, "%s: %s\n%s" % (args, r.stderr, self.node.read_log()[-2000:]))
        return r

    def local(self, name, data=None):
        p = os.path.join(self.tmp, name)
        if data is not None:
            write(p, data)
        return p

    def dev(self, path):
        return os.path.join(self.node.root, path)


class Transfers(FsBase):
    def chunk(self):
        p = self.local("probe", b"x")
        r = self.ok("--json", "put", p, "probe")
        info = json.loads(r.stdout)
        self.assertEqual(info["window"], 8)
        return info["chunk"]

    def test_round_trip_sizes_both_ways(self):
        chunk = self.chunk()
        self.assertEqual(chunk, 16384 - 64)  # the node's limits.msg minus the message overhead
        for size in (0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 1 << 20):
            data = self.rng.randbytes(size)
            src = self.local("src-%d" % size, data)
            if not os.path.isdir(self.dev("d")):
                self.ok("mkdir", "d")
            r = self.ok("--json", "put", src, "d/f-%d" % size)
            info = json.loads(r.stdout)
            self.assertEqual((info["bytes"], info["sha256"], info["verified"], info["skipped"]),
                             (size, sha(data), True, False))
            self.assertEqual(read(self.dev("d/f-%d" % size)), data, size)
            back = self.local("back-%d" % size)
            r = self.ok("--json", "get", "d/f-%d" % size, back)
            info = json.loads(r.stdout)
            self.assertEqual((info["bytes"], info["sha256"], info["verified"]), (size, sha(data), True))
            self.assertEqual(read(back), data, size)
            self.assertEqual([n for n in os.listdir(self.tmp) if ".swarm-" in n], [])
        self.assertEqual([n for n in os.listdir(self.dev("d")) if "swtmp" in n], [])

    def test_small_chunks_and_windows(self):
        # many chunks, odd sizes, every window: the order of the bytes must survive
        data = self.rng.randbytes(100_003)
        src = self.local("src", data)
        for window, chunk in ((1, 1000), (3, 997), (64, 512), (8, 100_000)):
            r = self.ok("--json", "put", "--window", str(window), "--chunk", str(chunk), src, "x")
            info = json.loads(r.stdout)
            self.assertEqual(info["window"], window)
            self.assertEqual(info["chunk"], min(chunk, 16384 - 64))
            self.assertEqual(read(self.dev("x")), data)
            back = self.local("back-%d" % window)
            self.ok("get", "--window", str(window), "--chunk", str(chunk), "x", back)
            self.assertEqual(read(back), data)

    def test_summary_line(self):
        src = self.local("main.lua", b"print('hi')\n" * 1000)
        self.ok("mkdir", "-p", "apps/x")
        r = self.ok("put", src, "apps/x/main.lua")
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"^put %s → apps/x/main\.lua: 11\.7 KiB in \d+\.\d\d s "
                         r"\(\d+(\.\d)? [KMG]?i?B/s\), sha256 ok\n$" % src)
        r = self.ok("-q", "put", src, "apps/x/main.lua")
        self.assertEqual((r.stdout, r.stderr), ("", ""))
        r = self.ok("-v", "put", src, "apps/x/main.lua")
        self.assertIn("chunk 16320 bytes, window 8, device max_msg 16384", r.stderr)
        r = self.ok("put", "--no-verify", src, "apps/x/main.lua")
        self.assertIn("sha256 not checked", r.stderr)

    def test_put_over_existing_file(self):
        self.ok("put", self.local("a", b"old content " * 3000), "f")
        new = self.rng.randbytes(70_000)
        self.ok("put", self.local("b", new), "f")
        self.assertEqual(read(self.dev("f")), new)
        shorter = b"short"
        self.ok("put", self.local("c", shorter), "f")  # a shorter file leaves no tail behind
        self.assertEqual(read(self.dev("f")), shorter)
        self.assertEqual(self.ok("hash", "f").stdout, "%s  f\n" % sha(shorter))

    def test_put_and_get_targets(self):
        src = self.local("name.txt", b"abc")
        self.ok("put", src)  # default: its name at the root
        self.assertEqual(read(self.dev("name.txt")), b"abc")
        self.ok("mkdir", "dir")
        self.ok("put", src, "dir")  # an existing directory receives it under its name
        self.assertEqual(read(self.dev("dir/name.txt")), b"abc")
        r = self.fs("put", src, "nodir/")  # a trailing / means a directory, which is missing
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such directory on the device: nodir", r.stderr)
        self.assertIn("mkdir -p nodir", r.stderr)
        # get: default name in the current directory, or into a local directory
        r = subprocess.run([SWARM_BIN, "fs", self.link, "get", "dir/name.txt"], cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        os.mkdir(self.local("into"))
        self.ok("get", "dir/name.txt", self.local("into"))
        self.assertEqual(read(self.local("into/name.txt")), b"abc")
        r = self.fs("get", "dir")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is a directory on the device (get -r", r.stderr)

    def test_stdin_and_stdout(self):
        data = self.rng.randbytes(200_000)
        r = self.fs("put", "-", "piped.bin", input=data, text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(read(self.dev("piped.bin")), data)
        r = self.fs("get", "piped.bin", "-", text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)
        self.assertIn(b"(stdout)", r.stderr)
        r = self.fs("--json", "get", "piped.bin", "-", text=False)  # the JSON line goes to stderr
        self.assertEqual(r.stdout, data)
        self.assertEqual(json.loads(r.stderr)["sha256"], sha(data))
        r = self.fs("put", "-", input=b"x", text=False)
        self.assertEqual(r.returncode, 2)
        self.ok("mkdir", "d")
        r = self.fs("put", "-", "d", input=b"x", text=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"is a directory on the device", r.stderr)

    def test_pipelining_window_1_vs_8(self):
        data = self.rng.randbytes(1 << 20)
        src = self.local("mib", data)
        times = {}
        for w in (1, 8):
            t0 = time.monotonic()
            r = self.ok("--json", "put", "--window", str(w), "--chunk", "4096", src, "w%d" % w)
            times["put", w] = time.monotonic() - t0
            self.assertEqual(json.loads(r.stdout)["window"], w)
            self.assertEqual(read(self.dev("w%d" % w)), data)
            back = self.local("back%d" % w)
            t0 = time.monotonic()
            self.ok("get", "--window", str(w), "--chunk", "4096", "w%d" % w, back)
            times["get", w] = time.monotonic() - t0
            self.assertEqual(read(back), data)
        print("\n1 MiB in 4 KiB chunks over TCP: " + ", ".join(
            "%s window %d %.3f s" % (op, w, t) for (op, w), t in sorted(times.items())))

    def test_changed_single_file(self):
        src = self.local("f", b"same")
        self.ok("put", src, "f")
        r = self.ok("--json", "put", "--changed", src, "f")
        self.assertTrue(json.loads(r.stdout)["skipped"])
        r = self.ok("put", "--changed", src, "f")
        self.assertIn("unchanged", r.stderr)
        write(src, b"diff")  # same size, other content
        r = self.ok("--json", "put", "--changed", src, "f")
        self.assertFalse(json.loads(r.stdout)["skipped"])
        self.assertEqual(read(self.dev("f")), b"diff")
        back = self.local("back", b"diff")
        r = self.ok("--json", "get", "--changed", "f", back)
        self.assertTrue(json.loads(r.stdout)["skipped"])

    def test_local_errors_exit_6(self):
        r = self.fs("put", self.local("missing"), "x")
        self.assertEqual(r.returncode, 6)
        self.assertIn("cannot read %s: No such file or directory" % self.local("missing"), r.stderr)
        r = self.fs("put", self.tmp, "x")
        self.assertEqual(r.returncode, 6)
        self.assertIn("is a directory (put -r", r.stderr)
        self.ok("put", self.local("f", b"data"), "f")
        r = self.fs("get", "f", self.local("no/such/dir/f"))
        self.assertEqual(r.returncode, 6)
        self.assertIn("No such file or directory", r.stderr)

    def test_remote_errors(self):
        r = self.fs("get", "nope", self.local("nope"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or directory on the device: nope", r.stderr)
        self.assertFalse(os.path.exists(self.local("nope")))  # nothing half-made here
        for args in (["get", "../x", self.local("x")], ["put", self.local("y", b"y"), "../y"],
                     ["ls", "../"], ["stat", "/../etc/passwd"], ["hash", "a/../../b"],
                     ["rm", "../z"], ["mkdir", "../d"], ["mv", "../a", "b"]):
            r = self.fs(*args)
            self.assertEqual(r.returncode, 1, (args, r.stderr))
            self.assertIn("node says: EPERM: path escapes the root", r.stderr, args)
        outside = os.path.dirname(self.node.root)
        for name in ("y", "z", "d", "b"):
            self.assertFalse(os.path.exists(os.path.join(outside, name)), name)


class Names(FsBase):
    def test_ls(self):
        self.ok("mkdir", "d")
        self.ok("put", self.local("a", b"12345"), "d/a.txt")
        self.ok("mkdir", "d/sub")
        self.assertEqual(self.ok("ls", "d").stdout, "a.txt\nsub\n")
        self.assertIn("d\n", self.ok("ls").stdout)
        lines = self.ok("ls", "-l", "d").stdout.splitlines()
        self.assertRegex(lines[0], r"^-  5  \d{4}-\d\d-\d\d \d\d:\d\d  a\.txt$")
        self.assertRegex(lines[1], r"^d  -  \d{4}-\d\d-\d\d \d\d:\d\d  sub$")
        self.assertEqual(json.loads(self.ok("--json", "ls", "d").stdout), ["a.txt", "sub"])
        j = json.loads(self.ok("--json", "ls", "-l", "d").stdout)
        self.assertEqual([(e["name"], e["type"], e.get("size")) for e in j],
                         [("a.txt", "file", 5), ("sub", "dir", None)])
        self.assertEqual(j[0]["mtime"], int(os.stat(self.dev("d/a.txt")).st_mtime))
        self.assertEqual(self.ok("ls", "d/a.txt").stdout, "d/a.txt\n")  # a file lists itself
        r = self.fs("ls", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or directory on the device: nope", r.stderr)

    def test_stat(self):
        self.ok("put", self.local("a", b"x" * 1234), "a")
        self.ok("mkdir", "d")
        out = self.ok("stat", "a", "d", "/").stdout.splitlines()
        self.assertRegex(out[0], r"^a: file, 1234 bytes, modified \d{4}-")
        self.assertRegex(out[1], r"^d: directory, modified ")
        self.assertRegex(out[2], r"^/: directory, modified ")
        j = [json.loads(x) for x in self.ok("--json", "stat", "a", "d").stdout.splitlines()]
        self.assertEqual((j[0]["path"], j[0]["type"], j[0]["size"]), ("a", "file", 1234))
        self.assertEqual((j[1]["path"], j[1]["type"], "size" in j[1]), ("d", "dir", False))
        r = self.fs("stat", "a", "nope", "d")  # one bad path: the others are still shown
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stdout.splitlines()), 2)
        self.assertIn("no such file or directory on the device: nope", r.stderr)

    def test_hash(self):
        a, b = self.rng.randbytes(5000), self.rng.randbytes(70000)
        self.ok("mkdir", "-p", "t/u")
        self.ok("put", self.local("a", a), "t/a")
        self.ok("put", self.local("b", b), "t/u/b")
        self.assertEqual(self.ok("hash", "t/a").stdout, "%s  t/a\n" % sha(a))
        self.assertEqual(self.ok("hash", "t").stdout, "%s  t/a\n%s  t/u/b\n" % (sha(a), sha(b)))
        j = [json.loads(x) for x in self.ok("--json", "hash", "t").stdout.splitlines()]
        self.assertEqual(j, [{"path": "t/a", "sha256": sha(a)}, {"path": "t/u/b", "sha256": sha(b)}])
        # the whole device, in sha256sum's form: checkable against the files themselves
        out = self.ok("hash").stdout
        self.assertIn("%s  t/u/b\n" % sha(b), out)
        self.assertIn("%s  swarm.cfg\n" % sha(read(self.dev("swarm.cfg"))), out)
        r = subprocess.run(["sha256sum", "-c", "--quiet", "-"], input=out, text=True,
                           cwd=self.node.root, capture_output=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.fs("hash", "nope")
        self.assertEqual(r.returncode, 1)

    def test_mkdir_rm_rmdir_mv(self):
        self.ok("mkdir", "a", "b")
        self.assertTrue(os.path.isdir(self.dev("a")) and os.path.isdir(self.dev("b")))
        r = self.fs("mkdir", "a")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists on the device: a", r.stderr)
        r = self.fs("mkdir", "x/y")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or directory on the device: x/y", r.stderr)
        self.ok("mkdir", "-p", "x/y/z", "a")
        self.assertTrue(os.path.isdir(self.dev("x/y/z")))
        self.ok("mkdir", "-p", "/x//y/z/")
        self.ok("put", self.local("f", b"f"), "x/f")
        r = self.fs("mkdir", "-p", "x/f/g")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a directory", r.stderr)
        # rmdir
        r = self.fs("rmdir", "x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ENOTEMPTY", r.stderr)
        self.ok("rmdir", "x/y/z", "b")
        self.assertFalse(os.path.exists(self.dev("b")))
        r = self.fs("rmdir", "x/f")
        self.assertEqual(r.returncode, 1)
        # mv
        self.ok("mv", "x/f", "a/g")
        self.assertEqual(read(self.dev("a/g")), b"f")
        self.ok("put", self.local("h", b"h"), "h")
        r = self.fs("mv", "-n", "h", "a/g")
        self.assertEqual(r.returncode, 1)
        self.assertIn("already exists on the device: a/g", r.stderr)
        self.ok("mv", "h", "a/g")  # replaces
        self.assertEqual(read(self.dev("a/g")), b"h")
        r = self.fs("mv", "a/g", "nodir/g")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such directory on the device: nodir", r.stderr)
        r = self.fs("mv", "nope", "a/x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or directory on the device: nope", r.stderr)
        # rm
        r = self.fs("rm", "a")
        self.assertEqual(r.returncode, 1)
        self.assertIn("EISDIR", r.stderr)
        r = self.fs("rm", "nope", "a/g")  # the first fails, the second is still removed
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(self.dev("a/g")))


class Trees(FsBase):
    def make_tree(self, root):
        spec = {"a.txt": b"alpha", "empty": b"", "sub/b.bin": self.rng.randbytes(40_000),
                "sub/deeper/c": self.rng.randbytes(16_321), "sub/deeper/d": b"d"}
        for rel, data in spec.items():
            write(os.path.join(root, rel), data)
        os.makedirs(os.path.join(root, "emptydir"))
        return tree_of(root)

    def test_put_get_tree_and_changed(self):
        src = self.local("site")
        want = self.make_tree(src)
        r = self.ok("put", "-r", src, "www")
        self.assertIn("put -r %s → www: 5 files" % src, r.stderr)
        # each file's line says which of the tree's files it is (progress without a terminal)
        self.assertEqual(re.findall(r"(?m)^\[(\d+)/5\] put ", r.stderr), ["1", "2", "3", "4", "5"], r.stderr)
        self.assertEqual(tree_of(self.dev("www")), want)
        back = self.local("back")
        r = self.ok("get", "-r", "www", back)
        self.assertIn("get -r www → %s: 5 files" % back, r.stderr)
        self.assertEqual(re.findall(r"(?m)^\[(\d+)\] get ", r.stderr), ["1", "2", "3", "4", "5"], r.stderr)
        self.assertEqual(tree_of(back), want)
        # again with --changed: nothing to do
        r = self.ok("--json", "put", "-r", "--changed", src, "www")
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(len(lines), 5)
        self.assertTrue(all(x["skipped"] for x in lines))
        # one file changed (same size), one added: only those move
        write(os.path.join(src, "sub/deeper/d"), b"D")
        write(os.path.join(src, "new/n"), b"new")
        r = self.ok("--json", "put", "-r", "--changed", src, "www")
        moved = sorted(x["remote"] for x in map(json.loads, r.stdout.splitlines()) if not x["skipped"])
        self.assertEqual(moved, ["www/new/n", "www/sub/deeper/d"])
        want = tree_of(src)
        self.assertEqual(tree_of(self.dev("www")), want)
        r = self.ok("get", "-r", "--changed", "www", back)
        self.assertIn("2 files", r.stderr)
        self.assertIn("(4 unchanged)", r.stderr)
        self.assertEqual(tree_of(back), want)
        # without --changed everything is copied again, over what is there
        r = self.ok("--json", "get", "-r", "www", back)
        self.assertEqual(sum(not json.loads(x)["skipped"] for x in r.stdout.splitlines()), 6)

    def test_tree_defaults_and_errors(self):
        src = self.local("proj")
        self.make_tree(src)
        self.ok("put", "-r", src)  # default: the directory's name at the root
        self.assertTrue(os.path.isfile(self.dev("proj/sub/deeper/c")))
        r = subprocess.run([SWARM_BIN, "fs", self.link, "get", "-r", "proj"], cwd=self.local("."),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)  # into ./proj, which exists: merged
        self.ok("put", "-r", src, "deep/er/x")  # missing parents on the device are made
        self.assertTrue(os.path.isfile(self.dev("deep/er/x/a.txt")))
        r = self.fs("get", "-r", "/")
        self.assertEqual(r.returncode, 2)
        self.ok("put", self.local("file", b"f"), "afile")
        r = self.fs("put", "-r", src, "afile")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a directory", r.stderr)
        write(self.local("blocker"), b"x")
        r = self.fs("get", "-r", "proj", self.local("blocker"))
        self.assertEqual(r.returncode, 6)
        r = self.fs("put", "-r", self.local("nothere"), "z")
        self.assertEqual(r.returncode, 6)


class CatCpRmSync(FsBase):
    """issue 15, fs: cat, cp (both ways, -r), rm -r, and sync (only changed files, --delete,
    --dry-run)."""

    def make_tree(self, root):
        spec = {"a.txt": b"alpha", "empty": b"", "sub/b.bin": self.rng.randbytes(40_000),
                "sub/deeper/c": self.rng.randbytes(16_321), "sub/deeper/d": b"d"}
        for rel, data in spec.items():
            write(os.path.join(root, rel), data)
        os.makedirs(os.path.join(root, "emptydir"))
        return tree_of(root)

    def test_cat(self):
        big = self.rng.randbytes(70_000)
        write(self.dev("x/big"), big)
        write(self.dev("small"), b"small\n")
        r = self.fs("cat", "x/big", "small", text=False)
        self.assertEqual((r.returncode, r.stdout), (0, big + b"small\n"), r.stderr)
        self.assertEqual(r.stderr, b"")  # the data is the output: no line per file
        # a directory and a missing file are errors (1); the other files are still written
        r = self.fs("cat", "x", "nope", "small", text=False)
        self.assertEqual((r.returncode, r.stdout), (1, b"small\n"))
        self.assertIn(b"cat: x is a directory on the device", r.stderr)
        self.assertIn(b"no such file or directory on the device: nope", r.stderr)
        r = self.fs("cat", "-r", "small")
        self.assertEqual(r.returncode, 2)
        self.assertIn("-r is an option of", r.stderr)

    def test_cp_both_ways(self):
        src = self.local("site")
        want = self.make_tree(src)
        self.ok("cp", "-r", src, ":www")
        self.assertEqual(tree_of(self.dev("www")), want)
        back = self.local("back")
        self.ok("cp", "-r", ":www", back)
        self.assertEqual(tree_of(back), want)
        # single files: into a directory on either side, ':' alone is the root
        self.ok("cp", self.local("one", b"1"), ":www/")
        self.assertEqual(read(self.dev("www/one")), b"1")
        self.ok("cp", self.local("two", b"2"), ":")
        self.assertEqual(read(self.dev("two")), b"2")
        self.ok("cp", ":www/one", back)
        self.assertEqual(read(os.path.join(back, "one")), b"1")
        r = self.fs("--json", "cp", "--changed", ":www/one", os.path.join(back, "one"))
        self.assertTrue(json.loads(r.stdout)["skipped"], r.stdout)
        for args in (["cp", "a", "b"], ["cp", ":a", ":b"], ["cp", "a"]):
            r = self.fs(*args)
            self.assertEqual(r.returncode, 2, args)
        self.assertIn("mark the device side with ':'", self.fs("cp", "a", "b").stderr)
        r = self.fs("cp", ":nope", back)
        self.assertEqual(r.returncode, 1)

    def test_rm_r(self):
        src = self.local("site")
        self.make_tree(src)
        self.ok("put", "-r", src, "www")
        self.ok("put", self.local("f", b"f"), "keep")
        r = self.fs("rm", "www")
        self.assertEqual(r.returncode, 1)
        self.assertIn("rm -r deletes it", r.stderr)
        self.assertTrue(os.path.isdir(self.dev("www")))
        self.ok("rm", "-r", "www", "keep")
        self.assertFalse(os.path.exists(self.dev("www")))
        self.assertFalse(os.path.exists(self.dev("keep")))
        r = self.fs("rm", "-r", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file or directory on the device: nope", r.stderr)
        for root in ("/", "", ".", "//"):
            r = self.fs("rm", "-r", root)
            self.assertEqual(r.returncode, 2, root)
            self.assertIn("the device's root", r.stderr)
        self.assertTrue(os.path.isfile(self.dev("swarm.cfg")))

    def test_sync(self):
        src = self.local("site")
        want = self.make_tree(src)
        # a dry run on an empty device names everything and changes nothing
        r = self.ok("sync", "--dry-run", src, "www")
        self.assertFalse(os.path.exists(self.dev("www")))
        self.assertIn("mkdir www\n", r.stdout)
        self.assertIn("put %s/sub/deeper/c → www/sub/deeper/c\n" % src, r.stdout)
        self.assertEqual(r.stdout.count("put "), 5)
        self.assertIn("sync --dry-run %s → www: 5 files to send" % src, r.stderr)
        r = self.ok("sync", src, "www")
        self.assertEqual(tree_of(self.dev("www")), want)
        self.assertIn("sync %s → www: 5 files sent" % src, r.stderr)
        # only what changed moves; what the device alone has stays without --delete
        write(os.path.join(src, "sub/deeper/d"), b"D")
        write(os.path.join(src, "new/n"), b"new")
        os.remove(os.path.join(src, "a.txt"))
        write(self.dev("www/sub/extra"), b"extra")
        r = self.ok("--json", "sync", src, "www")
        acts = [json.loads(x) for x in r.stdout.splitlines()]
        sent = sorted(a["remote"] for a in acts if a["op"] == "put" and not a["skipped"])
        self.assertEqual(sent, ["www/new/n", "www/sub/deeper/d"])
        self.assertFalse(any(a["op"] == "delete" for a in acts))
        self.assertEqual({k: acts[-1][k] for k in ("op", "sent", "unchanged", "deleted", "device_only")},
                         {"op": "sync", "sent": 2, "unchanged": 3, "deleted": 0, "device_only": 2}, acts[-1])
        self.assertTrue(os.path.isfile(self.dev("www/a.txt")))
        r = self.ok("sync", src, "www")
        self.assertIn("0 files sent", r.stderr)
        self.assertIn("2 on the device only: --delete removes them", r.stderr)
        # --delete --dry-run names the extras, --delete removes them (a directory with its files)
        os.makedirs(self.dev("www/olddir/in"))
        write(self.dev("www/olddir/in/f"), b"f")
        r = self.ok("sync", "--delete", "--dry-run", src, "www")
        self.assertEqual(sorted(x for x in r.stdout.splitlines() if x.startswith("delete")),
                         ["delete www/a.txt", "delete www/olddir", "delete www/sub/extra"])
        self.assertTrue(os.path.isfile(self.dev("www/olddir/in/f")))
        r = self.ok("sync", "--delete", src, "www")
        self.assertIn("3 deleted", r.stderr)
        self.assertEqual(tree_of(self.dev("www")), tree_of(src))
        # rsync's order: sync DIR LINK:PATH (the link's port stays with the link)
        r = swarm("fs", "sync", src, self.link + ":www2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(tree_of(self.dev("www2")), tree_of(src))
        # usage and local errors
        self.assertEqual(self.fs("sync", self.local("file", b"x"), "w").returncode, 6)
        self.assertEqual(self.fs("sync", self.local("nothere"), "w").returncode, 6)
        self.assertEqual(self.fs("put", "--delete", src, "w").returncode, 2)
        self.assertEqual(self.fs("sync", "-r", src, "w").returncode, 2)
        # --delete into the root would take the device's config and apps with it: refused
        for root in ("/", ""):
            r = swarm("fs", "sync", "--delete", src, self.link + ":" + root)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("would remove its config and apps", r.stderr)
        self.assertTrue(os.path.isfile(self.dev("swarm.cfg")))


class SyncWatch(FsBase):
    """fs sync --watch: after the first pass, each change of the local folder reaches the
    device (new, changed and removed files and directories, a file that became a directory),
    until Ctrl-C."""

    def wait_device(self, src, dst, p):
        deadline = time.monotonic() + 60
        while tree_of(self.dev(dst)) != tree_of(src):
            self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
            self.assertLess(time.monotonic(), deadline, (tree_of(self.dev(dst)), tree_of(src)))
            time.sleep(0.1)

    def test_watch(self):
        src = self.local("site")
        write(os.path.join(src, "a.txt"), b"a")
        write(os.path.join(src, "sub/b.txt"), b"b")
        p = subprocess.Popen([SWARM_BIN, "fs", self.link, "sync", "--watch", "--delete", src, "www"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stderr.readline()
            while line and not line.startswith("watching "):
                line = p.stderr.readline()
            self.assertEqual(line, "watching %s (Ctrl-C ends)\n" % src)
            self.assertEqual(tree_of(self.dev("www")), tree_of(src))
            write(os.path.join(src, "a.txt"), b"a, longer now")   # changed
            write(os.path.join(src, "new/deep/c.txt"), b"c")     # new directories and a file
            os.remove(os.path.join(src, "sub/b.txt"))            # removed (--delete)
            self.wait_device(src, "www", p)
            os.rmdir(os.path.join(src, "sub"))                   # a removed directory
            os.remove(os.path.join(src, "new/deep/c.txt"))
            os.rmdir(os.path.join(src, "new/deep"))
            write(os.path.join(src, "new/deep"), b"a file now")  # a directory became a file
            self.wait_device(src, "www", p)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("delete www/sub/b.txt", err)

    def test_watch_usage(self):
        for args in (["put", "--watch", "x"], ["sync", "--watch", "--dry-run", "x"]):
            r = self.fs(*args)
            self.assertEqual(r.returncode, 2, args)


class CutTransfer(unittest.TestCase):
    """A put cut by killing the node: the device keeps the old file (open mode W)."""

    def test_kill_node_mid_put_keeps_old_content(self):
        root = tempfile.mkdtemp(prefix="swarm-fs-cut-")
        self.addCleanup(shutil.rmtree, root, True)
        tmp = tempfile.mkdtemp(prefix="swarm-fs-cut-l-")
        self.addCleanup(shutil.rmtree, tmp, True)
        port = free_port()
        link = "tcp://127.0.0.1:%d" % port
        node = Node(root=root, port=port)
        self.addCleanup(node.stop)
        node.start()
        old = b"the old content\n" * 100
        write(os.path.join(tmp, "old"), old)
        self.assertEqual(swarm("fs", link, "put", os.path.join(tmp, "old"), "victim").returncode, 0)
        big = random.Random(7).randbytes(16 << 20)
        write(os.path.join(tmp, "big"), big)
        # small chunks, one at a time: slow enough to be cut in the middle
        p = subprocess.Popen([SWARM_BIN, "fs", link, "put", "--window", "1", "--chunk", "1024",
                              os.path.join(tmp, "big"), "victim"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                temps = glob.glob(os.path.join(root, ".victim.swtmp*"))
                if temps and os.path.getsize(temps[0]) > 256 << 10:
                    break
                self.assertIsNone(p.poll(), "the put ended before it could be cut")
                self.assertLess(time.monotonic(), deadline, "no temp file appeared")
                time.sleep(0.005)
            node.kill(signal.SIGKILL)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 3, err)
        self.assertIn("link lost during f.wr", err)
        self.assertIn("the device's victim is unchanged", err)
        self.assertEqual(read(os.path.join(root, "victim")), old)
        # after a restart the device still has, and says it has, the old content
        node2 = Node(root=root, port=port)
        self.addCleanup(node2.stop)
        node2.start()
        r = swarm("fs", link, "hash", "victim")
        self.assertEqual(r.stdout, "%s  victim\n" % sha(old), r.stderr)
        self.assertEqual(swarm("fs", link, "ls").stdout.count("victim"), 1)  # no temp listed
        self.assertEqual(glob.glob(os.path.join(root, ".victim.swtmp*")), [])  # listing swept it


class Interrupted(FsBase):
    """Ctrl-C and a device that stops answering, in the middle of transfers."""

    def start_slow(self, *args):
        p = subprocess.Popen([SWARM_BIN, "fs", self.link, *args, "--window", "1", "--chunk", "1024"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p

    def wait_for(self, cond, p):
        deadline = time.monotonic() + 60
        while not cond():
            self.assertIsNone(p.poll(), "the transfer ended too early")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)

    def temp_size(self, pattern):
        t = glob.glob(pattern)
        return os.path.getsize(t[0]) if t else 0

    def test_ctrl_c_put_and_get(self):
        old = b"old\n"
        self.ok("put", self.local("old", old), "victim")
        big = random.Random(9).randbytes(16 << 20)
        src = self.local("big", big)
        p = self.start_slow("put", src, "victim")
        self.wait_for(lambda: self.temp_size(self.dev(".victim.swtmp*")) > 128 << 10, p)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertIn("the device's victim is unchanged", err)
        self.assertEqual(read(self.dev("victim")), old)
        # the node dropped the temp file when the link closed
        deadline = time.monotonic() + 10
        while glob.glob(self.dev(".victim.swtmp*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(glob.glob(self.dev(".victim.swtmp*")), [])
        # a get cut the same way leaves nothing here: neither LOCAL nor its temp file
        self.ok("put", src, "big")
        dst = self.local("got")
        p = self.start_slow("get", "big", dst)
        self.wait_for(lambda: self.temp_size(self.local(".got.swarm-*")) > 128 << 10, p)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual([n for n in os.listdir(self.tmp) if "got" in n], [])

    def test_device_stops_answering_is_4(self):
        old = b"old\n"
        self.ok("put", self.local("old", old), "victim")
        src = self.local("big", random.Random(3).randbytes(16 << 20))
        p = subprocess.Popen([SWARM_BIN, "--timeout", "1", "fs", self.link, "put", "--window", "1",
                              "--chunk", "1024", src, "victim"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        self.wait_for(lambda: self.temp_size(self.dev(".victim.swtmp*")) > 128 << 10, p)
        self.node.proc.send_signal(signal.SIGSTOP)
        try:
            out, err = p.communicate(timeout=30)
        finally:
            self.node.proc.send_signal(signal.SIGCONT)
        self.assertEqual(p.returncode, 4, err)
        self.assertIn("no answer within 1.0 s during f.wr", err)
        self.assertIn("--timeout", err)
        self.assertEqual(read(self.dev("victim")), old)


class Serial(PtyPairTestCase):
    """64 KiB round trips over a socat pty pair, lossy (SerialPacker + Reliable) and lossless."""

    PTY_PREFIX = "swarm-fs-pty-"

    def round_trip(self, link, *node_extra):
        node = Node(name="ttynode", extra=["--serial", self.a, *node_extra])
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready")
        data = random.Random(64).randbytes(64 << 10)
        src = os.path.join(self.tmp, "src")
        write(src, data)
        r = swarm("--json", "fs", link, "put", src, "s.bin")
        self.assertEqual(r.returncode, 0, r.stderr + node.read_log()[-2000:])
        info = json.loads(r.stdout)
        self.assertTrue(info["verified"])
        self.assertEqual(read(os.path.join(node.root, "s.bin")), data)
        back = os.path.join(self.tmp, "back")
        r = swarm("--json", "fs", link, "get", "s.bin", back)
        self.assertEqual(r.returncode, 0, r.stderr + node.read_log()[-2000:])
        self.assertEqual(read(back), data)
        return info

    def test_lossy_64k(self):
        info = self.round_trip("serial://%s?mode=lossy" % self.b, "--lossy")
        # a chunk request must fit one Reliable payload (serial.max_msg, 1024 by default)
        self.assertLessEqual(info["chunk"] + 64, 1024)
        print("\nlossy pty: 64 KiB put in %.3f s, chunk %d, window %d"
              % (info["seconds"], info["chunk"], info["window"]))

    def test_lossless_64k(self):
        self.round_trip("serial://%s" % self.b)


if __name__ == "__main__":
    unittest.main()
