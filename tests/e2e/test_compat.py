"""MoaT v0 compatibility and small wire fixes of issue 10 (items 13, 15 and the "Smaller"
list), against real swarm-node processes (and a real `swarm mux`):

- sys.cfg apply (p and d nil) sends {"a":["mplex","cfg"],"d":{}} before its reply, as v0's
  satellite does; our mux counts it, re-arms its watchdog and passes it on to clients;
- sys.eval takes its code as `code`, `val` (v0) or `x`;
- a string action that is a whole root name ("sys") reaches it; "sysinfo" does not;
- error texts with NUL and bytes that are not UTF-8 are escaped, not cut;
- push.manifest t="apps/" is refused, not taken for the app "apps".
(f.stat's "d" tuple is checked in test_fs.py, test_stat.)"""
import time
import unittest

from swarmtest import Node, NodeTestCase, RemoteError
from test_mux import Mux

APPLY = {"p": None, "d": None}


class CfgApply(NodeTestCase):
    def test_notification_comes_before_the_reply(self):
        seq = self.c.request("sys.cfg", APPLY)
        deadline = time.monotonic() + 10
        first = self.c._read_one(deadline)
        second = self.c._read_one(deadline)
        self.assertEqual(first, {"a": ["mplex", "cfg"], "d": {}})
        self.assertEqual(second.get("i"), seq, second)
        self.assertIs(second.get("d"), True)

    def test_other_cfg_calls_send_no_notification(self):
        self.assertIsNone(self.c.call("sys.cfg", {"p": ["app", "x"], "d": 1}))
        self.assertEqual(self.c.call("sys.cfg", {"p": ["app", "x"]}), 1)
        self.assertEqual(self.c.call("ping", "z"), "R:z")  # (later replies are in order)
        self.assertEqual(self.c.notes, [])


class CfgApplyThroughMux(unittest.TestCase):
    def setUp(self):
        self.node = Node()
        self.addCleanup(self.node.stop)
        self.node.start()
        self.mux = Mux("tcp://127.0.0.1:%d" % self.node.port, "--wdt", "30")
        self.addCleanup(self.mux.stop)

    def test_mux_acts_on_it_and_passes_it_on(self):
        a = self.mux.client()
        b = self.mux.client()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertEqual(self.mux.info()["stats"]["cfg"], 0)
        seq = a.request("sys.cfg", APPLY)
        deadline = time.monotonic() + 10
        msgs = []
        while not any(isinstance(m, dict) and m.get("i") == seq for m in msgs):
            msgs.append(a._read_one(deadline))
        self.assertIn({"a": ["mplex", "cfg"], "d": {}}, msgs)
        self.assertLess(msgs.index({"a": ["mplex", "cfg"], "d": {}}), len(msgs) - 1)
        self.assertIs(msgs[-1]["d"], True)
        self.assertEqual(b.read_note(), {"a": ["mplex", "cfg"], "d": {}})  # every client hears it
        self.assertEqual(self.mux.info()["stats"]["cfg"], 1)
        deadline = time.monotonic() + 10
        while "device config applied (mplex.cfg): watchdog re-armed" not in self.mux.read_log():
            self.assertLess(time.monotonic(), deadline, self.mux.read_log())
            time.sleep(0.02)


class EvalArgument(NodeTestCase):
    def test_code_val_and_x(self):
        for key in ("code", "val", "x"):
            self.assertEqual(self.c.call("sys.eval", {key: "return 6*7"})[0], 42, key)
        self.assertEqual(self.c.call("sys.eval", "return 1+1")[0], 2)  # d as the value
        with self.assertRaises(RemoteError):
            self.c.call("sys.eval", {})


class StringActions(NodeTestCase):
    def test_whole_root_name_reaches_it(self):
        self.c.seq += 1
        self.c.send({"a": "sys", "d": None, "i": self.c.seq})
        listing = self.c.answer(self.c.seq)["d"]
        self.c.seq += 1
        self.c.send({"a": ["sys"], "d": None, "i": self.c.seq})
        self.assertEqual(self.c.answer(self.c.seq)["d"], listing)
        self.c.seq += 1
        self.c.send({"a": "sysinfo", "d": None, "i": self.c.seq})
        self.assertEqual(self.c.answer(self.c.seq)["e"], "NoPath: sysinfo")


class ErrorTexts(NodeTestCase):
    def test_nul_and_non_utf8_are_escaped(self):
        self.c.seq += 1
        # a str with a NUL and a byte that is not UTF-8 (raw: python would not send it)
        import msgpack
        action = b"\xa3\x00\xffz"  # fixstr of 3 bytes
        msg = b"\x83\xa1a" + action + b"\xa1d\xc0\xa1i" + msgpack.packb(self.c.seq)
        self.c.send_raw(msg)
        m = self.c.answer(self.c.seq)
        self.assertEqual(m["e"], "NoPath: \\x00\\xffz")


class PushTarget(NodeTestCase):
    def test_apps_slash_is_no_target(self):
        for t in ("apps/", "/apps", "boards/", "apps/./"):
            with self.assertRaises(RemoteError, msg=t) as cm:
                self.c.call("push.manifest", {"t": t})
            self.assertIn("bad target", str(cm.exception))
        # a bare name is still apps/NAME
        self.assertEqual(self.c.call("push.manifest", {"t": "example"})["t"], "apps/example")


if __name__ == "__main__":
    unittest.main(verbosity=2)
