"""A node started on a corrupt, truncated or empty swarm.cfg (issue 10 item 7, issue 9 §3).
It must not fail open: the unusable file is kept as swarm.cfg.bad, the node boots on the last
known good copy (swarm.cfg.good, written by the last boot that could read its config), and
without one on the defaults with FTP, telnet and remote eval off. Which services listen is read
from the kernel (/proc: the node's own listening sockets), not from the node's word. The
services run on loopback with ephemeral ports of this test."""
import os
import shutil
import tempfile
import unittest

from swarmtest import Node, free_port, loopback_config, pack


def listening_ports(pid):
    """TCP ports the process pid listens on (its socket inodes matched in /proc/net/tcp)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            t = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


class CorruptConfig(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="swarm-cfg-")
        self.addCleanup(shutil.rmtree, self.root, True)
        self.cfg = os.path.join(self.root, "swarm.cfg")
        self.ftp, self.telnet, self.eval = free_port(), free_port(), free_port()
        self.rpc = free_port()
        # the operator's config: FTP on (on a port of ours), telnet and eval off
        self.config = loopback_config({"boot": {"FTPD_ENABLE": True, "FTPD_PORT": self.ftp,
                                                "TELNET_ENABLE": False, "TELNET_PORT": self.telnet,
                                                "REMOTE_EVAL_ENABLE": False,
                                                "REMOTE_EVAL_PORT": self.eval,
                                                "BEACON_ENABLE": False, "MDNS_ENABLE": False},
                                       "app": {"marker": "operator"}})
        self.good = pack(self.config)
        with open(self.cfg, "wb") as f:
            f.write(self.good)

    def node(self):
        # one RPC port for every boot of the test: --port is persisted, a new one is a change
        n = Node(root=self.root, port=self.rpc, config_as_is=self.config)
        self.addCleanup(n.stop)
        n.start()
        return n

    def boot_once_to_keep_a_good_copy(self):
        n = self.node()
        c = n.client()
        self.assertEqual(c.call("sys.info")["cfg"], "ok")
        c.close()
        n.stop()
        with open(os.path.join(self.root, "swarm.cfg.good"), "rb") as f:
            self.assertEqual(f.read(), self.good)

    def corrupt(self, how):
        if how == "corrupt":
            data = b"\xc1\xc1garbage" + self.good[9:]
        elif how == "truncated":
            data = self.good[:len(self.good) // 2]
        else:
            data = b""
        with open(self.cfg, "wb") as f:
            f.write(data)
        return data

    def check_bad_copy(self, data, n):
        with open(os.path.join(self.root, "swarm.cfg.bad"), "rb") as f:
            self.assertEqual(f.read(), data)
        n.wait_log("swarm.cfg is unusable")
        n.wait_log("is kept as swarm.cfg.bad")

    def with_last_good(self, how):
        self.boot_once_to_keep_a_good_copy()
        data = self.corrupt(how)
        n = self.node()
        c = n.client()
        self.check_bad_copy(data, n)
        n.wait_log("booting on the last good copy swarm.cfg.good")
        self.assertEqual(c.call("sys.info")["cfg"], "last-good")
        self.assertEqual(c.call("sys.cfg", {"p": ["app", "marker"]}), "operator")
        ports = listening_ports(n.proc.pid)
        self.assertIn(n.port, ports)
        self.assertIn(self.ftp, ports)          # the operator's FTP, as configured
        self.assertNotIn(self.telnet, ports)    # what the operator turned off stays off
        self.assertNotIn(self.eval, ports)
        self.assertEqual(ports, {n.port, self.ftp})
        c.close()
        # the good config is the file again
        n.stop()
        with open(self.cfg, "rb") as f:
            data = f.read()
        self.assertIn(b"operator", data)

    def without_last_good(self, how):
        data = self.corrupt(how)
        n = self.node()
        c = n.client()
        self.check_bad_copy(data, n)
        n.wait_log("FTP, telnet and remote eval OFF")
        self.assertEqual(c.call("sys.info")["cfg"], "safe-defaults")
        for key in ("FTPD_ENABLE", "TELNET_ENABLE", "REMOTE_EVAL_ENABLE"):
            self.assertIs(c.call("sys.cfg", {"p": ["boot", key]}), False, key)
        # only RPC listens (the defaults would open 21, 23 and 1139)
        self.assertEqual(listening_ports(n.proc.pid), {n.port})
        c.close()

    def test_corrupt_with_last_good(self):
        self.with_last_good("corrupt")

    def test_truncated_with_last_good(self):
        self.with_last_good("truncated")

    def test_empty_with_last_good(self):
        self.with_last_good("empty")

    def test_corrupt_without_last_good(self):
        self.without_last_good("corrupt")

    def test_truncated_without_last_good(self):
        self.without_last_good("truncated")

    def test_empty_without_last_good(self):
        self.without_last_good("empty")

    def test_corrupt_last_good_too(self):
        self.boot_once_to_keep_a_good_copy()
        with open(os.path.join(self.root, "swarm.cfg.good"), "wb") as f:
            f.write(b"\x81")
        self.without_last_good("truncated")

    def test_print_config_reads_only(self):
        # --print-config shows what a boot would run on and writes nothing: no .bad, no .good
        import json
        import subprocess
        from swarmtest import NODE_BIN
        self.boot_once_to_keep_a_good_copy()
        os.unlink(os.path.join(self.root, "swarm.cfg.good"))
        data = self.corrupt("truncated")
        before = sorted(os.listdir(self.root))
        r = subprocess.run([NODE_BIN, "--root", self.root, "--print-config"], capture_output=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertIs(cfg["boot"]["FTPD_ENABLE"], False)
        self.assertIs(cfg["boot"]["TELNET_ENABLE"], False)
        self.assertIs(cfg["boot"]["REMOTE_EVAL_ENABLE"], False)
        self.assertIn(b"unusable", r.stderr)
        self.assertEqual(sorted(os.listdir(self.root)), before)
        with open(self.cfg, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_a_good_boot_does_not_rewrite_the_copy(self):
        self.boot_once_to_keep_a_good_copy()
        good = os.path.join(self.root, "swarm.cfg.good")
        inos = []
        for _ in range(3):  # the first boot persisted its command-line overrides: then stable
            n = self.node()
            n.client().close()
            n.stop()
            inos.append(os.stat(good).st_ino)  # (an atomic rewrite makes a new inode)
        self.assertEqual(inos[1], inos[2])
        with open(good, "rb") as f, open(self.cfg, "rb") as g:
            self.assertEqual(f.read(), g.read())


if __name__ == "__main__":
    unittest.main(verbosity=2)
