"""A push whose new version hangs the node must not brick it (issue 10, item 2): the commit
records "pending health check" before the switch; the new init_ hangs the event loop (no
instruction budget to speak of here, so only the watchdog thread ends it); the watchdog
restarts the node, and at boot the version whose health check never completed is rolled back.
The node comes back with the old version and push.manifest reports what happened."""
import time
import unittest

import hostile  # noqa: F401  (puts tests/e2e on the path)
from test_push_node import V1, PushNode, lua_app, manifest, push  # noqa: E402

HANG = dict(V1, **{"main.lua": lua_app("v2", "function init_hang() while true do end end\n")})


class PushHang(unittest.TestCase):
    def test_hanging_version_is_rolled_back_at_boot(self):
        node = PushNode(files=V1, cfg={"limits": {"lua_instr": 10 ** 17}, "wdt": {"loop": 5},
                                       "boot": {"FTPD_ENABLE": False, "TELNET_ENABLE": False,
                                                "REMOTE_EVAL_ENABLE": False}})
        self.addCleanup(node.stop)
        node.start()
        t = "apps/pa"
        with node.client() as c:
            self.assertEqual(c.call("pa.v"), "v1")
            with self.assertRaises((ConnectionError, TimeoutError, OSError)):
                push(c, t, HANG, grace_ms=300, timeout=60)
        node.wait_log("watchdog: the event loop has not checked in", timeout=120)
        node.wait_log("never completed", timeout=60)
        for _ in range(3000):  # the re-executed node is serving again
            if node.read_log().count("ready\n") >= 2:
                break
            self.assertIsNone(node.proc.poll(), node.read_log()[-3000:])
            time.sleep(0.02)
        node.wait_port(timeout=60)
        with node.client() as c:
            self.assertEqual(c.call("pa.v"), "v1")
            m = manifest(c, t)
            self.assertEqual(m["state"], "rolled-back")
            self.assertIn("never completed", m["last"]["result"])
        self.assertEqual(node.files(t), V1)


if __name__ == "__main__":
    unittest.main()
