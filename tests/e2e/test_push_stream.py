#!/usr/bin/python3
"""swarm push starts a device as soon as the scan finds it (issue 16, "No wasted work"), in the
namespace LAN (tests/lab/lanlab.py):

- with a long scan (--scan-timeout 5s: the scan runs all of it), each device's result line is
  printed before the line that says the scan ended (-v): the push did not wait for the scan.
  Before, the scan came first and every transfer after it. (An order of lines, no time is
  measured: the push of one small file only has to take less than the 5 s of the scan.)
- the report stays in name order, and the scan's devices land in the name cache as before;
- --max-failures keeps the old order (the scan first, then the devices in name order);
- --files 8: no more compressed files in flight than the node inflates at once (4);
- Ctrl-C ends the scan too (--scan-timeout 60s: the push exits with 130 at once, not after the
  minute).
- with --host, the scan ends as soon as every named device answered (-v says so): nothing
  else is taken from it. Before, it ran its whole course (two queries and the settle time).

Needs root (network namespaces; CI runs as root); as another user it fails and says so.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
from lanlab import Lan  # noqa: E402

ROOT = os.geteuid() == 0
N = 3


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)


def make_app(proj, version):
    write(os.path.join(proj, "apps", "alpha", "main.lua"),
          'local VERSION = "%s"\nswarm.command("ver", function() return VERSION end, "the version")\n'
          % version)


class PushStream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swarm-push-stream-")
        cls.v1 = os.path.join(cls.tmp, "v1")
        make_app(cls.v1, "1")
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"))
        cls.lan = None
        if ROOT:
            cls.lan = Lan(nodes=N, apps=["alpha"], apps_dir=os.path.join(cls.v1, "apps"),
                          names=["node%d" % (N - i) for i in range(N)],  # not in address order
                          name_prefix="swpst")
            cls.lan.start()

    @classmethod
    def tearDownClass(cls):
        if cls.lan:
            cls.lan.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        if not ROOT:
            self.fail("this test builds network namespaces and needs root (CI runs as root)")

    def push(self, version, *args):
        proj = os.path.join(self.tmp, "v" + version)
        make_app(proj, version)
        r = self.lan.swarm("push", proj, "--grace", "0", "-v", *args, timeout=120, env=self.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_1_devices_start_before_the_scan_ends(self):
        r = self.push("2", "--scan-timeout", "5s")
        lines = r.stderr.splitlines()
        scan = [k for k, x in enumerate(lines) if x.startswith("swarm push: scan found %d devices" % N)]
        done = [k for k, x in enumerate(lines) if ": ok, " in x]
        self.assertEqual(len(scan), 1, r.stderr)
        self.assertEqual(len(done), N, r.stderr)
        self.assertLess(max(done), scan[0], "a device waited for the end of the scan:\n" + r.stderr)
        # the table (stdout) in name order all the same
        names = [x.split()[0] for x in r.stdout.splitlines()[1:] if x.strip()]
        self.assertEqual(names, ["node%d" % (i + 1) for i in range(N)], r.stdout)
        for x in self.lan.nodes:
            c = self.lan.swarm("call", "tcp://%s" % x.ip, "alpha.ver", env=self.env)
            self.assertEqual(c.stdout.strip(), "2", c.stderr)
        # the devices found went into the name cache
        with open(os.path.join(self.tmp, "cache", "swarm", "scan.json")) as f:
            cache = f.read()
        for x in self.lan.nodes:
            self.assertIn(x.name, cache)

    def test_2_a_failure_limit_scans_first(self):
        r = self.push("3", "--scan-timeout", "2s", "--max-failures", "1")
        lines = r.stderr.splitlines()
        scan = [k for k, x in enumerate(lines) if x.startswith("swarm push: scan found %d devices" % N)]
        done = [k for k, x in enumerate(lines) if ": ok, " in x]
        self.assertEqual(len(scan), 1, r.stderr)
        self.assertEqual(len(done), N, r.stderr)
        self.assertLess(scan[0], min(done), r.stderr)

    def test_4_ctrl_c_ends_the_scan(self):
        """Ctrl-C while the scan goes on (--scan-timeout 60s): the scan ends with it, the push
        does not wait out the minute (before: it did)."""
        proj = os.path.join(self.tmp, "v4")
        make_app(proj, "4")
        argv = ["ip", "netns", "exec", self.lan.host_ns, self.lan.swarm_bin, "push", proj, "--grace", "0",
                "--scan-timeout", "60s"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            err = ""
            while err.count(": ok, ") < N:  # every device done: the scan is what is left
                line = p.stderr.readline()
                self.assertTrue(line, "swarm push ended early: %s" % err)
                err += line
            p.send_signal(signal.SIGINT)
            out, rest = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 130, err + rest)

    def test_5_more_files_in_flight_than_the_node_inflates(self):
        """--files 8 with 8 compressible files: the node inflates 4 at once (more are EMFILE),
        so the CLI holds the others back until one ends (before: every device failed)."""
        proj = os.path.join(self.tmp, "v5")
        make_app(proj, "5")
        for k in range(8):
            write(os.path.join(proj, "apps", "alpha", "lib", "m%d.lua" % k),
                  "local M = {}\n" + "".join("function M.f%d(x) return x + %d end\n" % (i, i * k) for i in range(200))
                  + "return M\n")
        r = self.lan.swarm("push", proj, "--json", "--grace", "0", "--files", "8", timeout=120, env=self.env)
        out = json.loads(r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(out["total"]["ok"], N, r.stdout)
        for d in out["devices"]:
            self.assertGreaterEqual(d["compressed"], 8, d)

    def test_6_named_hosts_end_the_scan(self):
        r = self.push("6", "--host", "node1", "--host", "node3")
        self.assertRegex(r.stderr, r"swarm push: scan found \d+ devices? in \d+ ms \(every --host answered\)")
        self.assertRegex(r.stderr, r"node1 alpha: ok")
        self.assertRegex(r.stderr, r"node3 alpha: ok")
        self.assertNotIn("node2", r.stderr)
        # a name nobody has: the scan runs its course, the device is tried by name
        r = self.lan.swarm("push", os.path.join(self.tmp, "v6"), "--grace", "0", "-v", "--host", "node1",
                           "--host", "nosuch", timeout=120, env=self.env)
        self.assertNotIn("every --host answered", r.stderr)
        self.assertRegex(r.stderr, r"nosuch.*offline")

    def test_3_json_counts_every_device(self):
        r = self.lan.swarm("push", os.path.join(self.tmp, "v3"), "--json", "--grace", "0", timeout=120,
                           env=self.env)
        out = json.loads(r.stdout)
        self.assertEqual(out["total"]["devices"], N)
        self.assertEqual(out["total"]["unchanged"], N)
        self.assertGreater(out["total"]["scan_ms"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
