#!/usr/bin/python3
"""The POSIX node opens a path with O(1) system calls, whatever its depth (issue 16, "No wasted
work"): the node, run under strace, answers f.stat for a file one directory deep and for one
eight directories deep; both runs make the same number of directory opens (one openat2 of the
directories where the kernel has it). Before, every component was its own openat, so the deep
path took seven more. The containment rules (no symlink followed, nothing outside the root)
are tested by test_port_fs and the hostile tests; here: a symlink on the way is still refused.

Loopback only (the node listens on 127.0.0.1, its other services off). Needs strace
(scripts/setup installs it); without it the test fails and says so.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from swarmtest import NODE_BIN, SWARM_BIN  # noqa: E402

DIR_OPEN = re.compile(r'^\d+\s+(openat2?)\((\d+|AT_FDCWD), "[^"]*", (\{flags=)?[^)]*O_DIRECTORY')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FsWalk(unittest.TestCase):
    def setUp(self):
        if not shutil.which("strace"):
            self.fail("strace is not installed (scripts/setup installs it)")
        self.tmp = tempfile.mkdtemp(prefix="swarm-fswalk-")
        self.root = os.path.join(self.tmp, "root")
        self.deep = "/".join("d%d" % i for i in range(8))
        os.makedirs(os.path.join(self.root, self.deep))
        for rel in ("top.txt", "d0/one.txt", self.deep + "/deep.txt"):
            with open(os.path.join(self.root, rel), "w") as f:
                f.write("x\n")
        os.makedirs(os.path.join(self.root, "real"))
        with open(os.path.join(self.root, "real", "f.txt"), "w") as f:
            f.write("x\n")
        os.symlink("real", os.path.join(self.root, "d0", "link"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def traced(self, *paths):
        """Runs a node under strace, `swarm fs … stat` of each path in turn; returns the
        number of directory opens of the node during each stat and the CLI's outputs."""
        port = free_port()
        trace = os.path.join(self.tmp, "trace")
        log = open(os.path.join(self.tmp, "node.log"), "wb")
        node = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=openat,openat2,write", "-o", trace,
                                 NODE_BIN, "--root", self.root, "--name", "walk", "--port", str(port),
                                 "--listen", "127.0.0.1", "--no-ftp", "--no-telnet", "--no-eval", "--no-beacon",
                                 "--no-mdns"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        outs = []
        try:
            link = "tcp://127.0.0.1:%d" % port
            for _ in range(200):  # until it accepts (under strace it starts slowly)
                r = subprocess.run([SWARM_BIN, "call", link, "ping", "--timeout", "5"], capture_output=True, text=True)
                if r.returncode == 0:
                    break
                time.sleep(0.05)
            self.assertEqual(r.returncode, 0, r.stderr)
            marks = []
            for p in paths:
                marks.append(os.path.getsize(trace))
                outs.append(subprocess.run([SWARM_BIN, "fs", link, "stat", p], capture_output=True, text=True,
                                           timeout=30))
                # the stat's answer is the node's last write: its trace lines are in by now
            marks.append(None)
        finally:
            # strace detaches on SIGTERM and leaves the node running: stop the node itself
            # (strace's child), then strace ends with it
            try:
                with open("/proc/%d/task/%d/children" % (node.pid, node.pid)) as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                kids = []
            for k in kids:
                os.kill(k, signal.SIGTERM)
            try:
                node.wait(20)
            except subprocess.TimeoutExpired:
                for k in kids:
                    os.kill(k, signal.SIGKILL)
                node.kill()
                node.wait()
            log.close()
        with open(trace, "rb") as f:
            data = f.read()
        counts = []
        for a, b in zip(marks, marks[1:]):
            part = data[a:b].decode(errors="replace")
            counts.append(sum(1 for x in part.splitlines() if DIR_OPEN.match(x)))
        return counts, outs

    def test_depth_does_not_add_system_calls(self):
        counts, outs = self.traced("/d0/one.txt", "/" + self.deep + "/deep.txt")
        for r in outs:
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("file", r.stdout)
        self.assertEqual(counts[0], counts[1], "directory opens: %s for depth 1, 8" % counts)
        self.assertLessEqual(counts[1], 2, counts)
        self.assertGreaterEqual(counts[0], 1, counts)  # the stat was in the trace

    def test_symlink_on_the_way_refused(self):
        counts, outs = self.traced("/d0/link/f.txt", "/real/f.txt")
        self.assertNotEqual(outs[0].returncode, 0, outs[0].stdout)
        self.assertIn("EPERM", outs[0].stdout + outs[0].stderr)
        self.assertEqual(outs[1].returncode, 0, outs[1].stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
