"""Power cuts during a push to an app that does not run (tests/e2e/test_crash.py has the
machinery and the push to the running app): no reload, no health check, so no boot-time
rollback can hide a loss; after a power cut the start must finish the journal from files whose
names are durable. A file of its own for ctest's time budget per test.
"""
import os
import signal
import unittest

from swarmtest import loopback_config, pack
import test_crash  # (not "from … import Push": unittest would run Push here too)
from test_push_node import id_of, lua_app, push, read_tree, write_tree


class PushIdle(test_crash.Push):
    """The same push to an app that does not run (no reload, no health check, so no boot-time
    rollback to fall back on): after a power cut the start must finish the journal from files
    whose names are durable. Power cuts only (a cut of the program loses nothing more than in
    Push). Checked 2026-12-08: without the flush before the journal (sw__push_journal_write),
    a power cut between the journal and the first flush of the apply loses the staged names,
    and the start, finding no staged file, takes every put for done: a mix of old and new."""

    MODES = ("power",)
    PREFIX = ""  # every call: the apply's flushes of the app's own directories are cut points too

    def prepare(self, root):
        write_tree(os.path.join(root, "apps", "idle"), self.OLD)
        write_tree(os.path.join(root, "apps", "pc"), {"main.lua": lua_app("runs")})
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(loopback_config({"board": {"host_name": "crash", "app_name": "pc"}},
                                         services=False)))

    def act(self, c):
        r = push(c, "apps/idle", self.NEW, grace_ms=50)
        self.assertEqual(r["id"], id_of(self.NEW))

    def state(self, root):
        return read_tree(os.path.join(root, "apps", "idle"))

    def check_booted(self, c, got, what):
        self.assertEqual(c.call("push.manifest", {"t": "apps/idle"})["id"], id_of(got), what)


class PushManyPowerAfterAnswer(PushIdle):
    """The last flush of a push makes every name it moved durable by syncing directories, one by
    one (fs_posix.c remembers which): a push of 100 files in 10 new directories to an app that
    does not run, after the app-side writes of 70 directories (opens of existing files, which
    change no name and so take no place in that set), then the power goes at once after the
    answer (power:0 and SIGUSR2: whatever no directory sync covered is undone). The node
    started again holds the new version whole. Checked 2026-12-08: with the flush skipping the
    directories under apps/ (a mutation of sw__posix_fs_flush) the new files are gone."""

    NEW = dict([("main.lua", lua_app("many"))] +
               [("d%d/f%d.txt" % (i, j), b"file %d %d\n" % (i, j)) for i in range(10) for j in range(10)])

    test_cut_at_every_call = None  # (PushIdle's; here only the cut after the answer)

    def test_power_after_answer(self):
        root = self.fresh_root()
        for i in range(70):
            os.makedirs(os.path.join(root, "logs", "l%02d" % i))
            with open(os.path.join(root, "logs", "l%02d" % i, "log"), "w") as f:
                f.write("old\n")
        node = self.start(root, "power:0")
        self.assertTrue(self.ready_or_cut(node))
        with node.client() as c:
            for i in range(70):
                h = c.call(["f", "open"], {"p": "logs/l%02d/log" % i, "m": "a"})
                c.call(["f", "wr"], {"fd": h, "data": b"more\n"})
                c.call(["f", "cl"], {"fd": h})
            r = push(c, "apps/idle", self.NEW, grace_ms=50)
            self.assertEqual(r["id"], id_of(self.NEW))
        node.proc.send_signal(signal.SIGUSR2)  # the power goes before any further file call
        self.wait_cut(node, "power after the answer")
        self.assertEqual(read_tree(os.path.join(root, "apps", "idle")), self.NEW)
        self.assertEqual(self.check_after(root, "power after the answer"), self.NEW)


if __name__ == "__main__":
    unittest.main(verbosity=2)
