"""A packet capture of authenticated sessions (issue 14): in the namespace lab, tcpdump records
the LAN (tshark reads the capture) while the host CLI calls a locked node and an open one with a unique marker in the
request (and so in the echoed reply). The marker of the open session is in the capture — so the
capture does see the calls — and the marker of the locked session is not, in either direction,
although its packets are there.

Needs root for namespaces (CI runs as root); as another user the test FAILS saying so."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

from swarmtest import SRC

sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
from lanlab import Lan  # noqa: E402

TAG = "swcap%d" % os.getpid()


class Capture(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.fail("this test builds network namespaces and needs root (CI runs as root)")
        self.tmp = tempfile.mkdtemp(prefix="swarm-cap-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.tmp]))
        self.lan = Lan(nodes=2, name_prefix=TAG).start()
        self.addCleanup(self.lan.close)

    def test_locked_session_has_no_plaintext(self):
        lan = self.lan
        locked, open_ = lan.nodes[0], lan.nodes[1]
        key = os.path.join(self.tmp, "fleet.key")
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.tmp, "cfg"), SWARM_KEY_FILE=key)
        r = lan.swarm("key", "new", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = lan.swarm("key", "install", locked.uri, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        lan.wait_log(0, "auth: locked")
        lan.wait_log(0, "rpc: listening")

        # tcpdump -U writes every packet as it comes, so the file can be watched for markers;
        # tshark reads it afterwards
        pcap = os.path.join(self.tmp, "lan.pcap")
        cap = lan.popen(lan.host_ns, ["tcpdump", "-i", "eth0", "-U", "-n", "-w", pcap, "tcp"],
                        stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: cap.poll() is None and cap.kill())
        seen = cap.stderr.readline()
        self.assertIn("listening on", seen)

        def captured(mark):
            """Plain calls to the open node until mark is in the file: the capture runs, and
            everything sent before is in it."""
            for _ in range(200):
                r = lan.swarm("call", open_.uri, "ping", "m=" + mark, env=dict(env, SWARM_KEY_FILE=""))
                self.assertEqual(r.returncode, 0, r.stderr)
                if os.path.exists(pcap) and mark.encode() in open(pcap, "rb").read():
                    return
            self.fail("%s never reached the capture" % mark)

        captured("WARMUP")
        mark_open, mark_locked = "OPENMARK%08x" % os.getpid(), "LOCKMARK%08x" % os.getpid()
        r = lan.swarm("call", open_.uri, "ping", "m=" + mark_open,
                      env=dict(env, SWARM_KEY_FILE=""))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "R:" + mark_open), r.stderr)
        r = lan.swarm("call", locked.uri, "ping", "m=" + mark_locked, env=env)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "R:" + mark_locked), r.stderr)
        r = lan.swarm("call", locked.uri, "f.mkdir", "p=" + mark_locked, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isdir(os.path.join(locked.root, mark_locked)))
        captured("ENDMARK")
        cap.send_signal(signal.SIGTERM)
        cap.wait(30)

        raw = open(pcap, "rb").read()
        self.assertIn(mark_open.encode(), raw)  # the capture does see plaintext sessions
        self.assertIn(("R:" + mark_open).encode(), raw)  # (and their replies)
        # the locked node's session is in the capture (payload both ways), but not its marker
        r = subprocess.run(["tshark", "-r", pcap, "-Y", "ip.addr==%s && tcp.len > 0" % locked.ip,
                            "-T", "fields", "-e", "ip.src"], capture_output=True, text=True)
        srcs = r.stdout.split()
        self.assertIn(locked.ip, srcs)
        self.assertIn(lan.host_ip, srcs)
        self.assertNotIn(mark_locked.encode(), raw)
        self.assertNotIn(b"mkdir", raw)
        # and tshark's own reassembly finds no marker either
        r = subprocess.run(["tshark", "-r", pcap, "-Y", 'frame contains "%s"' % mark_locked],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout.strip(), "")


if __name__ == "__main__":
    unittest.main()
