"""swarm-node on a lossy serial line driven as MoaT v0's host library drives it (issue 10 item
14): SerialPacker with a start byte, frames of at most 127 bytes with a one-byte length (its
deframer drops longer ones), Reliable window 8, a handshake without "l". The host side is
tests/lab/moatserial.py in its moat_v0 mode, on a socat pty pair.

- every frame the node sends fits 127 bytes, Reliable's wrapper included;
- a reply larger than that gets an ETOOBIG error reply, and the link goes on;
- unguarded mode (serial.start = -1: no start byte) carries no console output, which would be
  taken for frame lengths."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import msgpack

from swarmtest import NODE_BIN, SRC, PtyPairTestCase, reap

sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
import moatserial as ms  # noqa: E402

# logs while calls flow, as in test_serial.py
CHATTY = r'''
function routine_chat()
  local n = 0
  while true do
    n = n + 1
    swarm.log(string.format("chatty %d %s", n, string.rep("x", n % 40)))
    swarm.sleep(50)
  end
end
'''


class MoatV0Host(PtyPairTestCase):
    START = None  # serial.start of the node (None: the default 0xC1)

    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(prefix="swarm-moat-")
        self.addCleanup(shutil.rmtree, self.root, True)
        os.makedirs(os.path.join(self.root, "apps", "chatty"))
        with open(os.path.join(self.root, "apps", "chatty", "main.lua"), "w") as f:
            f.write(CHATTY)
        cfg = {"boot": {"FTPD_ENABLE": False, "TELNET_ENABLE": False, "REMOTE_EVAL_ENABLE": False,
                        "BEACON_ENABLE": False, "MDNS_ENABLE": False}}
        if self.START is not None:
            cfg["serial"] = {"start": self.START}
        with open(os.path.join(self.root, "swarm.cfg"), "wb") as f:
            f.write(msgpack.packb(cfg))
        self.logfile = os.path.join(self.tmp, "node.log")
        self.log = open(self.logfile, "wb")
        self.addCleanup(self.log.close)
        fd = ms.open_tty(self.b)
        start = 0xC1 if self.START is None else (None if self.START < 0 else self.START)
        self.link = ms.LossyLink(fd, start=start, window=8, timeout=30, moat_v0=True)
        self.addCleanup(self.link.close)
        self.link.keep_raw = True
        self.node = subprocess.Popen(
            [NODE_BIN, "--root", self.root, "--name", "moat", "--port", "0", "--listen",
             "127.0.0.1", "--serial", self.a, "--lossy", "--app", "chatty"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(reap, self.node)
        try:
            self.link.wait_up(20)
        except TimeoutError:
            raise AssertionError("no handshake:\n" + self.node_log())

    def node_log(self):
        with open(self.logfile, "rb") as f:
            return f.read()[-3000:].decode(errors="replace")

    def assert_frames_fit(self):
        st = self.link.stats()
        self.assertEqual(st["sp_err_len"], 0, "a frame over 127 bytes: %s" % st)
        self.assertEqual(st["sp_err_crc"], 0, st)


class Guarded(MoatV0Host):
    def test_replies_around_the_frame_limit(self):
        # f.rd answers n bytes: walk the reply size across the limit, wrapper included
        data = bytes(range(256)) * 2
        with open(os.path.join(self.root, "data.bin"), "wb") as f:
            f.write(data)
        fd = self.link.call("f.open", {"p": "data.bin"}, timeout=20)
        got = refused = 0
        for n in range(80, 130):
            try:
                self.assertEqual(self.link.call("f.rd", {"fd": fd, "off": n, "n": n}, timeout=20),
                                 data[n:2 * n])
                got += 1
            except ms.RemoteError as e:
                self.assertTrue(str(e).startswith("ETOOBIG"), e)
                refused += 1
        self.assertGreater(got, 0)
        self.assertGreater(refused, 0)  # the largest did not fit
        self.assertEqual(self.link.call("ping", {"m": "ok"}, timeout=20), "R:ok")
        self.assert_frames_fit()
        self.assertEqual(self.link.stats()["downs"], 0)

    def test_a_large_reply_is_an_error_not_silence(self):
        with self.assertRaises(ms.RemoteError) as cm:
            self.link.call("sys.info", timeout=20)  # ~250 bytes
        self.assertTrue(str(cm.exception).startswith("ETOOBIG"), cm.exception)
        with self.assertRaises(ms.RemoteError) as cm:
            self.link.call("sys.cfg", {"p": ["boot"]}, timeout=20)
        self.assertTrue(str(cm.exception).startswith("ETOOBIG"), cm.exception)
        self.assertEqual(self.link.call("ping", {"m": "after"}, timeout=20), "R:after")
        self.assert_frames_fit()
        # console lines (the chatty app) arrive between the frames
        self.link.wait(lambda: b"chatty" in self.link.console, 20, "console output")


class Unguarded(MoatV0Host):
    START = -1

    def test_no_console_bytes_between_frames(self):
        for k in range(60):
            self.assertEqual(self.link.call("ping", {"m": "u%d" % k}, timeout=20), "R:u%d" % k)
        # the chatty app logged all along (in the node's own log, not on the line)
        self.assertIn("chatty", self.node_log())
        self.assert_frames_fit()
        self.assertEqual(self.link.stats()["sp_err_idle"], 0)
        self.assertEqual(bytes(self.link.console), b"")
        self.assertEqual(self.link.stats()["downs"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
