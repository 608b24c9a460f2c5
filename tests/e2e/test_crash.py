"""Crash-safe writes under simulated power cuts: the config (sw_node_write_atomic, through
sys.cfg), mode-W files of the "f" app and a push (upload, journal, apply), each cut at every
file call it makes.

The fault layer of the POSIX port (src/port/posix/fs_fault.c; test builds, SW_TEST_HOOKS) is
driven by SW_TEST_FS_FAULT. A run with "count:PREFIX" numbers the calls the operation makes on
its files (K of them). Then, for every N in 1..K, the same run again from the same start:
  cut:N    the N-th call is cut (a write half done) and the node ends at once; what it wrote
           before stays (a crash of the program: the page cache survives);
  power:N  the same, and the power goes: every file written since its last fsync loses what
           was written since (fs_fault.c says exactly what is kept);
and once more after the operation has answered: power:0 and SIGUSR2 (the power goes before
anything else is written: data that was never synced is lost), and a SIGKILL.
After each cut the file must hold the old content or the new one, whole: never empty, never
a mix, never cut short; and a node started again on that root (no faults) must boot and see
the same. These are the tests that see a missing fsync (power) and a write in place instead of
temp + rename (cut): DESIGN.md, "Testing", records the two mutations they were checked with.

Needs the test build (SW_TEST_HOOKS, on with SW_SANITIZE, as `make test` builds it): without
the layer the count run finds no calls and the test fails saying so.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import msgpack

from swarmtest import Node, loopback_config, pack
from test_push_node import id_of, lua_app, push, read_tree, write_tree

FSF_EXIT = 86  # SW_FSF_EXIT (src/port/posix/posix_int.h): the status of a node whose power was cut


def short(v):
    r = repr(v)
    return r if len(r) < 100 else r[:60] + "… (%d characters)" % len(r)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class PowerCut:
    """One scenario per subclass (with unittest.TestCase): prepare(root), act(client) (the operation under test),
    state(root) (what the files say: must equal OLD or NEW), PREFIX (the files it writes)."""

    PREFIX = None
    MODES = ("cut", "power")

    def prepare(self, root):
        raise NotImplementedError

    def act(self, c):
        raise NotImplementedError

    def state(self, root):
        raise NotImplementedError

    def check_booted(self, c, got, what):
        """A node started again on the root agrees with the files (got: their state)."""

    def check_left(self, root, what):
        """Nothing is left over once a node booted again on root."""

    # ---- the machinery

    def fresh_root(self):
        d = tempfile.mkdtemp(prefix="swarm-crash-")
        self.addCleanup(shutil.rmtree, d, True)
        root = os.path.join(d, "root")
        os.makedirs(root)
        self.prepare(root)
        return root

    def start(self, root, fault=None):
        """A node on root (not waited for: a cut may end it while it boots)."""
        env = {"SW_TEST_FS_FAULT": fault} if fault else {"SW_TEST_FS_FAULT": ""}
        node = Node(root=root, name="crash", env=env)
        self.addCleanup(node.stop)
        node.start(wait=False)
        return node

    def ready_or_cut(self, node, timeout=30.0):
        """True when the node answers, False when it ended with the cut status first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.proc.poll() is not None:
                self.assertEqual(node.proc.returncode, FSF_EXIT, node.read_log())
                return False
            try:
                node.wait_port(timeout=0.2)
                return True
            except (TimeoutError, RuntimeError):
                continue
        self.fail("the node neither answered nor was cut:\n" + node.read_log())

    def operate(self, node):
        """Runs the operation; returns True if it completed (its answers arrived)."""
        try:
            with node.client() as c:
                self.act(c)
            return True
        except (ConnectionError, OSError, TimeoutError, AssertionError):
            try:  # the connection ends a moment before the process can be reaped
                node.proc.wait(10)
            except subprocess.TimeoutExpired:
                raise
            return False

    def wait_cut(self, node, what):
        try:
            rc = node.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.fail("%s: the node was not cut:\n%s" % (what, node.read_log()[-3000:]))
        self.assertEqual(rc, FSF_EXIT, "%s:\n%s" % (what, node.read_log()[-3000:]))
        self.assertIn("fs fault: ", node.read_log())

    def check_after(self, root, what):
        """The invariant, once a node booted again on root (no faults) has done what its boot
        does after a crash (a push journal is finished or undone there): the files, what the
        node says, nothing left over. Returns the state."""
        node = self.start(root)
        self.assertTrue(self.ready_or_cut(node))
        with node.client() as c:
            got = self.state(root)
            if got not in (self.OLD, self.NEW):
                self.fail("%s: the files hold neither the old nor the new content but %s"
                          % (what, short(got)))
            self.check_booted(c, got, what)
        self.check_left(root, what)
        node.stop()
        return got

    def count_calls(self):
        root = self.fresh_root()
        node = self.start(root, "count:" + self.PREFIX)
        self.assertTrue(self.ready_or_cut(node))
        self.assertTrue(self.operate(node))
        log = node.read_log()
        node.stop()
        self.assertEqual(self.state(root), self.NEW)
        calls = [x for x in log.splitlines() if "fs fault: call " in x]
        self.assertTrue(calls, "no file call counted: is this the test build (SW_TEST_HOOKS)?\n"
                        + log[-3000:])
        return calls

    def test_cut_at_every_call(self):
        calls = self.count_calls()
        seen = set()
        for mode in self.MODES:
            for k in range(1, len(calls) + 2):
                if k <= len(calls):
                    what = "%s at call %d of %d (%s)" % (mode, k, len(calls),
                                                         calls[k - 1].split("fs fault: call ")[1])
                else:  # after the last call: the operation has answered
                    what = "%s after the operation answered" % mode
                with self.subTest(what):
                    root = self.fresh_root()
                    node = self.start(root, "%s:%d:%s" % (mode, k if k <= len(calls) else 0, self.PREFIX))
                    if k <= len(calls):
                        if self.ready_or_cut(node):
                            self.assertFalse(self.operate(node), "%s: the operation completed" % what)
                        self.wait_cut(node, what)
                    else:
                        self.assertTrue(self.ready_or_cut(node))
                        self.assertTrue(self.operate(node), what)
                        if mode == "power":  # the power goes before any further file call
                            node.proc.send_signal(signal.SIGUSR2)
                            self.wait_cut(node, what)
                        else:  # the program crashes
                            node.kill(signal.SIGKILL)
                    seen.add(self.check_after(root, what) == self.NEW)
                    if k > len(calls) and self.state(root) != self.NEW:  # what was answered is kept
                        self.fail("%s: the old content came back" % what)
        # the cuts fell on both sides of the commit
        self.assertEqual(seen, {False, True})


class Config(PowerCut, unittest.TestCase):
    """sys.cfg writes the config file through sw_node_write_atomic (temp, fsync, rename)."""

    PREFIX = "swarm.cfg"
    OLD = {"color": "old", "pad": "o" * 1500}
    NEW = {"color": "new", "pad": "n" * 3000, "more": list(range(200))}

    def prepare(self, root):
        # the identity the harness passes on the command line is in the file already, so a
        # boot does not rewrite it: the calls counted are those of the operation
        cfg = loopback_config({"crashtest": self.OLD, "board": {"host_name": "crash"}}, services=False)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(cfg))

    def act(self, c):
        self.assertIsNone(c.call("sys.cfg", {"p": ["crashtest"], "d": self.NEW}))

    def state(self, root):
        data = read(os.path.join(root, "swarm.cfg"))
        try:
            return msgpack.unpackb(data, raw=False, strict_map_key=False).get("crashtest")
        except Exception as e:  # noqa: BLE001 (what the file holds is the finding)
            return "not a config (%s): %r" % (e, data[:60])

    def check_booted(self, c, got, what):
        self.assertEqual(c.call("sys.cfg", {"p": ["crashtest", "color"]}), got["color"], what)
        self.assertEqual(c.call("sys.cfg", {"p": ["crashtest", "pad"]}), got["pad"], what)


class ModeW(PowerCut, unittest.TestCase):
    """The "f" app's mode "W": a temp file next to the target, fsync and rename at close."""

    PREFIX = "data/"
    OLD = b"o" * 3000
    NEW = b"N" * 4096 + b"n" * 2000

    def prepare(self, root):
        os.makedirs(os.path.join(root, "data"))
        with open(os.path.join(root, "data", "file"), "wb") as f:
            f.write(self.OLD)

    def act(self, c):
        h = c.call(["f", "open"], {"p": "data/file", "m": "W"})
        c.call(["f", "wr"], {"fd": h, "data": self.NEW[:4096]})
        c.call(["f", "wr"], {"fd": h, "data": self.NEW[4096:], "off": 4096})
        self.assertIsNone(c.call(["f", "cl"], {"fd": h}))

    def state(self, root):
        try:
            return read(os.path.join(root, "data", "file"))
        except FileNotFoundError:
            return "no file"


class Push(PowerCut, unittest.TestCase):
    """A push from version A to B of app pc: uploads through mode W into the staging area,
    the commit's journal and its apply (renames into the target), the cleanup. Whatever is
    cut, the node booted again holds A or B whole (it finishes or undoes a journaled
    commit), runs it, and has nothing left over."""

    PREFIX = ".swarm/"
    OLD = {"main.lua": lua_app("A"), "lib/u.lua": b"return 'u A'\n", "data/d.txt": b"d" * 600}
    NEW = {"main.lua": lua_app("B"), "lib/u.lua": b"return 'u B, longer'\n", "new/n.txt": b"n" * 900}

    def prepare(self, root):
        write_tree(os.path.join(root, "apps", "pc"), self.OLD)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(loopback_config({"board": {"host_name": "crash", "app_name": "pc"}},
                                         services=False)))

    def start(self, root, fault=None):
        env = {"SW_TEST_FS_FAULT": fault or ""}
        node = Node(root=root, name="crash", app="pc", env=env)
        self.addCleanup(node.stop)
        node.start(wait=False)
        return node

    def act(self, c):
        r = push(c, "apps/pc", self.NEW, grace_ms=50)
        self.assertEqual(r["id"], id_of(self.NEW))

    def state(self, root):
        return read_tree(os.path.join(root, "apps", "pc"))

    def check_booted(self, c, got, what):
        self.assertEqual(c.call("pc.v"), "A" if got == self.OLD else "B", what)
        self.assertEqual(c.call("push.manifest", {"t": "apps/pc"})["id"], id_of(got), what)

    def check_left(self, root, what):
        for x in ("stage", "journal"):  # the boot finished or undid what was cut
            self.assertFalse(os.path.exists(os.path.join(root, ".swarm", x)), "%s: .swarm/%s left" % (what, x))


if __name__ == "__main__":
    unittest.main(verbosity=2)
