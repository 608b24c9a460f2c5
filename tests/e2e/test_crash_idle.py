"""Power cuts during a push to an app that does not run (tests/e2e/test_crash.py has the
machinery and the push to the running app): no reload, no health check, so no boot-time
rollback can hide a loss; after a power cut the start must finish the journal from files whose
names are durable. A file of its own for ctest's time budget per test.
"""
import os
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
