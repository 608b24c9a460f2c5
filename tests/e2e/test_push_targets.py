"""`swarm push` planning more distinct targets than its first allocation holds (src/host/push.c,
plan_targets and sw_push_local), against real swarm-node processes on loopback.

A push keeps one local manifest per distinct target (boards/BOARD, apps/APP) and each device
being pushed points at the manifest of its current target. The host once kept them in one
array grown by realloc: when a ninth target was planned while a device was between its
manifest and its commit, that device's pointer pointed into freed memory (heap use after free
under ASan, wrong files or a crash without it). The fix (commit 338806b) gives every target its
own allocation.

Here eight nodes run apps a1..a8 on the board posix-sim, and the project has a board script: nine
targets. The order is forced with two TCP relays, not with timing: node 1's relay stops
forwarding in the middle of the upload of a1 (its device holds a1's manifest); node 8's relay
lets its link through only then, so a8, the ninth target, is planned while node 1 waits; node 1
is let go once node 8 and the others are done. The push must succeed everywhere.
"""
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from swarmtest import SWARM_BIN, Node, Relay, app_hash, reap

N = 8
BLOB = 256 * 1024       # a1's data file: its upload is long enough to be stopped in the middle
HOLD_AFTER = 64 * 1024  # node 1's relay stops after this many bytes host → node


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def wait_for(what, cond, proc, timeout=120):
    """Waits for cond() (an event, not a time: the deadline only ends a test that hangs)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)
    return True


class NinthTarget(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-push-targets-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.proj = os.path.join(self.tmp, "proj")
        write(os.path.join(self.proj, "boards", "posix-sim", "main.lua"),
              b'function init_hw() HW = "sim" end\n')
        rnd = random.Random(9)
        for i in range(1, N + 1):
            app = "a%d" % i
            write(os.path.join(self.proj, "apps", app, "main.lua"),
                  b'swarm.command("ver", function() return "%s-1" end, "the app version")\n' % app.encode())
            if i == 1:
                write(os.path.join(self.proj, "apps", app, "data", "blob.bin"), rnd.randbytes(BLOB))
        self.nodes = []
        for i in range(1, N + 1):
            n = Node(name="tg%d" % i, app="a%d" % i)
            self.addCleanup(n.stop)
            n.start()
            self.nodes.append(n)
        self.slow = Relay(self.nodes[0].port, hold_after=HOLD_AFTER)
        self.late = Relay(self.nodes[-1].port, gated=True)
        self.addCleanup(self.slow.close)
        self.addCleanup(self.late.close)

    def logs(self):
        return "\n".join("--- %s\n%s" % (n.name, n.read_log()[-1500:]) for n in self.nodes)

    def test_ninth_target_planned_while_a_device_uploads(self):
        links = ["tcp://127.0.0.1:%d" % self.slow.port]
        links += ["tcp://127.0.0.1:%d" % n.port for n in self.nodes[1:-1]]
        links += ["tcp://127.0.0.1:%d" % self.late.port]
        args = [SWARM_BIN, "push", self.proj, "--json", "--grace", "100ms", "--timeout", "60s"]
        for link in links:
            args += ["--link", link]
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(self.tmp, "cache"))
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.addCleanup(reap, p)
        out = {}
        reader = threading.Thread(target=lambda: out.update(zip(("stdout", "stderr"), p.communicate())),
                                  daemon=True)
        reader.start()
        # node 1 is in the middle of a1's upload: its device points at a1's manifest
        wait_for("node 1's upload", self.slow.paused.is_set, p)
        # then node 8 comes in: a8 is the ninth target; it and the others run to their end
        self.late.gate.set()
        wait_for("node 8's push", self.late.closed.is_set, p)
        for n in self.nodes[1:]:
            wait_for("%s's new app" % n.name, lambda n=n: app_hash(os.path.join(n.root, "apps", n.app)) ==
                     app_hash(os.path.join(self.proj, "apps", n.app)), p)
        self.assertFalse(self.slow.release.is_set())  # node 1 still waits
        self.slow.release.set()
        reader.join(120)
        err = out["stderr"].decode(errors="replace")
        asan = err.find("ERROR: AddressSanitizer")
        self.assertEqual(asan, -1, err[asan:asan + 4000])  # (the report's head: what, where)
        self.assertEqual(p.returncode, 0, err[-6000:] + self.logs())
        devs = {d["device"]: d for d in json.loads(out["stdout"])["devices"]}
        self.assertEqual(sorted(devs), ["tg%d" % i for i in range(1, N + 1)])
        for name, d in devs.items():
            self.assertEqual(d["result"], "ok", d)
        for n in self.nodes:
            self.assertEqual(app_hash(os.path.join(n.root, "apps", n.app)),
                             app_hash(os.path.join(self.proj, "apps", n.app)), n.name)
            self.assertEqual(app_hash(os.path.join(n.root, "boards", "posix-sim")),
                             app_hash(os.path.join(self.proj, "boards", "posix-sim")), n.name)


if __name__ == "__main__":
    unittest.main()
