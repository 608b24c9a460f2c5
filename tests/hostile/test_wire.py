"""Hostile bytes on the wire: noise on a lossless serial line must not make the node deaf
(item 3: an item larger than limits.msg, or an idle gap inside an item, resets the decoder),
and numbers no integer can hold must not reach a float-to-int conversion (item 11: UBSan
aborted the node on `sys.log p=1.5e308`)."""
import math
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import time
import tty
import unittest

from hostile import RemoteError, cfg_node, swarmtest

sys.path.insert(0, os.path.join(swarmtest.SRC, "tests", "lab"))
import moatserial as ms  # noqa: E402


class SerialNoise(unittest.TestCase):
    def setUp(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self.master = master
        root = tempfile.mkdtemp(prefix="swarm-hostile-ser-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:  # LAN services off, loopback only
            f.write(swarmtest.pack(swarmtest.loopback_config({}, services=False)))
        self.logfile = root + ".log"
        self.addCleanup(lambda: os.path.exists(self.logfile) and os.unlink(self.logfile))
        log = open(self.logfile, "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([swarmtest.NODE_BIN, "--root", root, "--name", "ser", "--port", "0",
                                 "--listen", "127.0.0.1", "--serial", os.ttyname(slave)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
        self.addCleanup(swarmtest.reap, proc)
        self.link = ms.StreamLink(master, timeout=30)
        self.assertEqual(self.link.read_note(15), {"a": "link", "d": True})

    def test_huge_length_noise(self):
        self.assertEqual(self.link.call("ping", {"m": "before"}), "R:before")
        # a str32 header claiming 4 GB, then requests straight after it
        for noise in (b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xf0", b"\xdd\xff\xff\xff\xff",
                      b"\xdf\x7f\xff\xff\xff"):
            self.link._write(noise)
            self.assertEqual(self.link.call("ping", {"m": noise.hex()}), "R:" + noise.hex())

    def test_idle_gap_inside_a_message(self):
        # the first bytes of a message, then silence far longer than serial.gap_ms (100 ms)
        self.link._write(b"\x83\xa1a\xa4pi")
        time.sleep(1.0)
        self.assertEqual(self.link.call("ping", {"m": "after"}), "R:after")


class FloatArguments(unittest.TestCase):
    def test_out_of_range_floats(self):
        with cfg_node({}) as node, node.client() as c:
            for v in (1.5e308, -1.5e308, math.nan, math.inf, -math.inf, 9.3e18, -9.3e18):
                with self.subTest(v=v):
                    with self.assertRaises(RemoteError) as e:
                        c.call("sys.log", {"p": v})
                    self.assertIn("integer", e.exception.args[0])
            self.assertEqual(c.call("ping", {"m": "alive"}), "R:alive")
            self.assertNotIn("runtime error", node.read_log())


if __name__ == "__main__":
    unittest.main()
