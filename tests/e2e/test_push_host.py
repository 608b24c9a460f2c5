#!/usr/bin/python3
"""The host's side of a push does no work twice (issue 16, "No wasted work"), against a real
swarm-node on the loopback (no root needed):

- each file's f.cl goes right behind its last f.wr, without waiting for the write's answer (one
  round trip less per file): a relay holds back everything the node sends once an f.wr went up,
  until an f.cl follows it. Before, the push waited for that answer, which the relay released
  only after 10 s (hold_expired).
- what the answers in one read make the CLI send leaves in one write (the link gathers a burst):
  under strace, the CLI's writes to the node's socket are at most its reads from it plus one
  (the first request). Before, one write per message: four f.open for four files in flight,
  f.wr and f.cl, from one answer. And tcp://ADDRESS is not looked up in libuv's resolver
  threads: the CLI starts no thread (before: four).
- files hashed and Lua files compiled by an earlier push are not read again while unchanged
  (src/host/fcache.h), nor deflated again (their streams are kept, src/host/zstore.h): `-v`
  counts what came from the caches; a damaged stream is noticed and made again; an edit of the
  same size, right after, is seen (the push refuses the syntax error it brings).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from swarmtest import SWARM_BIN, Node, Relay  # noqa: E402

WR = b"\x92\xa1f\xa2wr"  # the action ["f", "wr"] as the host writes it (MsgPack)
CL = b"\x92\xa1f\xa2cl"


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)


def make_project(proj, version, files=0):
    d = os.path.join(proj, "apps", "alpha")
    shutil.rmtree(d, ignore_errors=True)
    write(os.path.join(d, "main.lua"),
          'local VERSION = "%s"\nswarm.command("ver", function() return VERSION end, "the version")\n' % version)
    for k in range(files):
        write(os.path.join(d, "lib", "m%d.lua" % k),
              "local M = {}\n" + "".join("function M.f%d(x) return x + %d end\n" % (i, i * k) for i in range(40))
              + "return M\n")


class PushHost(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-push-host-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        self.node = Node(name="host1", app="alpha")
        self.addCleanup(self.node.stop)
        self.node.start()

    def push(self, proj, link, *args, code=0):
        r = subprocess.run([SWARM_BIN, "push", proj, "--link", link, "--grace", "0"] + list(args),
                           capture_output=True, text=True, timeout=120, env=self.env)
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return r

    def test_1_close_goes_with_the_last_write(self):
        proj = os.path.join(self.tmp, "p")
        make_project(proj, "2", files=1)
        relay = Relay(self.node.port, hold_down=(WR, CL, 10.0))
        self.addCleanup(relay.close)
        self.push(proj, "tcp://127.0.0.1:%d" % relay.port)
        self.assertTrue(relay.armed.is_set(), "no f.wr went up")
        self.assertFalse(relay.hold_expired, "the push waited for the answer of f.wr before f.cl")
        r = subprocess.run([SWARM_BIN, "call", "tcp://127.0.0.1:%d" % self.node.port, "alpha.ver"],
                           capture_output=True, text=True, timeout=30, env=self.env)
        self.assertEqual(r.stdout.strip(), "2", r.stdout + r.stderr)

    def test_2_one_write_per_read(self):
        if not shutil.which("strace"):
            self.fail("strace is not installed (scripts/setup installs it)")
        proj = os.path.join(self.tmp, "p")
        make_project(proj, "3", files=8)
        trace = os.path.join(self.tmp, "trace")
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect,read,write,writev,clone,clone3", "-o", trace,
                            SWARM_BIN, "push", proj, "--link", "tcp://127.0.0.1:%d" % self.node.port,
                            # (--no-lua-check: the check compiles on threads of its own, lua_check.c)
                            "--grace", "0", "--files", "4", "--no-lua-check"],
                           capture_output=True, text=True, timeout=120,
                           # LeakSanitizer cannot run under ptrace (ASan builds)
                           env=dict(self.env, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(trace) as f:
            lines = f.read().splitlines()
        port = "htons(%d)" % self.node.port
        fds = {m.group(1) for ln in lines if port in ln for m in [re.search(r"connect\((\d+),", ln)] if m}
        self.assertEqual(len(fds), 1, [ln for ln in lines if "connect(" in ln])
        fd = fds.pop()
        reads = [ln for ln in lines if re.search(r"\bread\(%s," % fd, ln) and not re.search(r"= (-1|0)$", ln)]
        writes = [ln for ln in lines if re.search(r"\bwritev?\(%s," % fd, ln)]
        self.assertGreater(len(reads), 0)
        # 8 files: at least 3 messages each went to the node, in at most a write per answer read
        self.assertLessEqual(len(writes), len(reads) + 1,
                             "%d writes for %d reads:\n%s" % (len(writes), len(reads), "\n".join(writes[:40])))
        # an address as written is not looked up in libuv's resolver threads: no thread at all
        self.assertEqual([ln for ln in lines if re.search(r"\bclone3?\(", ln)], [])

    def test_3_unchanged_files_come_from_the_cache(self):
        proj = os.path.join(self.tmp, "p")
        make_project(proj, "4", files=3)
        time.sleep(2.1)  # files that changed within 2 s are not recorded (fcache.h)
        link = "tcp://127.0.0.1:%d" % self.node.port
        r = self.push(proj, link, "-v")
        self.assertRegex(r.stderr, r"swarm push: 0 file facts from the cache \(unchanged files\), 8 computed; "
                                   r"0 compressed streams from the cache\n")
        self.assertTrue(os.path.exists(os.path.join(self.tmp, "cache", "swarm", "files")))
        zdir = os.path.join(self.tmp, "cache", "swarm", "z")
        self.assertEqual(len(os.listdir(zdir)), 4)
        # again, to a device that has the old version: the four Lua checks, the four hashes and
        # the four streams are known
        make_project(os.path.join(self.tmp, "old"), "0")
        self.push(os.path.join(self.tmp, "old"), link)
        r = self.push(proj, link, "-v")
        self.assertRegex(r.stderr, r"swarm push: 8 file facts from the cache \(unchanged files\), \d+ computed; "
                                   r"4 compressed streams from the cache\n")
        # a damaged stream is noticed, made again, and the device gets the right bytes
        for name in os.listdir(zdir):
            path = os.path.join(zdir, name)
            if os.path.getsize(path) > 20:
                with open(path, "r+b") as f:
                    f.seek(10)
                    b = f.read(1)
                    f.seek(10)
                    f.write(bytes([b[0] ^ 0x55]))
        self.push(os.path.join(self.tmp, "old"), link)
        r = self.push(proj, link, "-v")
        self.assertIn("(some damaged: made again)", r.stderr)
        for k in range(3):
            with open(os.path.join(proj, "apps", "alpha", "lib", "m%d.lua" % k), "rb") as f:
                mine = f.read()
            with open(os.path.join(self.node.root, "apps", "alpha", "lib", "m%d.lua" % k), "rb") as f:
                self.assertEqual(f.read(), mine)
        # an edit of the same size, at once: its identity changed, it is compiled again
        main = os.path.join(proj, "apps", "alpha", "main.lua")
        with open(main) as f:
            text = f.read()
        with open(main, "w") as f:
            f.write(text.replace("local VERSION", "local VERSIO="))
        r = self.push(proj, link, code=6)
        self.assertIn("apps/alpha/main.lua:1:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
