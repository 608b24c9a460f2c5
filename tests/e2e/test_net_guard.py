"""The network guard of the test build (src/port/posix/net_guard.c), which tests/e2e/run.py
relies on to fail any test whose node reaches beyond loopback outside a lab namespace: a node
started the way the old test helpers started it (no --listen, no config) has every socket
beyond loopback refused and reported, opens none of them, and still runs its loopback RPC; a
node in a network namespace of its own is not guarded. Each case gives the node a report file
of its own, so the runner's file stays empty."""
import os
import shutil
import subprocess
import tempfile
import unittest

from swarmtest import NODE_BIN, Node


def own_netns():
    """This process's network namespace as run.py names it for the guard ("DEV:INO")."""
    st = os.stat("/proc/self/ns/net")
    return "%d:%d" % (st.st_dev, st.st_ino)


class Guard(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-guard-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.report = os.path.join(self.tmp, "report.txt")

    def test_node_without_listen_is_refused_and_reported(self):
        # as the old SerialNode did: services on every address (here with free ports, so that
        # a guard that let them through would not take anyone's port), RPC over stdio only
        node = Node(name="guarded", lan_services=True, service_errors=True, port=0,
                    env={"SW_TEST_NET_GUARD": self.report})
        node.args = lambda: [NODE_BIN, "--root", node.root, "--name", "guarded", "--port", "0",
                             "--listen", "0.0.0.0"]
        self.addCleanup(node.stop)
        node.start(wait=False)
        node.wait_log("ready")
        held = subprocess.run(["ss", "-Htanup"], capture_output=True, text=True).stdout
        node.stop()
        with open(self.report) as f:
            lines = f.read().splitlines()
        for what in ("listen on 0.0.0.0:%d" % node.ftp_port, "listen on 0.0.0.0:%d" % node.telnet_port,
                     "listen on 0.0.0.0:%d" % node.eval_port, "UDP bind to 0.0.0.0:%d" % node.beacon_port,
                     "UDP bind to 0.0.0.0:5353"):
            self.assertTrue(any(what in x for x in lines), "%r not reported:\n%s" % (what, "\n".join(lines)))
        self.assertTrue(all("net guard: refused" in x for x in lines), lines)
        # refused means not opened
        for port in (node.ftp_port, node.telnet_port, node.eval_port, node.beacon_port):
            self.assertNotIn("0.0.0.0:%d " % port, held)

    def test_rpc_beyond_loopback_stops_the_node(self):
        node = Node(name="guarded2", env={"SW_TEST_NET_GUARD": self.report})
        node.args = lambda: [NODE_BIN, "--root", node.root, "--name", "guarded2", "--port", str(node.port),
                             "--listen", "0.0.0.0"]
        self.addCleanup(node.stop)
        node.start(wait=False)
        self.assertEqual(node.proc.wait(30), 1, node.read_log())
        with open(self.report) as f:
            self.assertIn("refused listen on 0.0.0.0:%d" % node.port, f.read())
        node.service_errors = True

    def test_loopback_node_is_not_reported(self):
        node = Node(name="quiet", lan_services=True, env={"SW_TEST_NET_GUARD": self.report})
        self.addCleanup(node.stop)
        node.start()
        with node.client() as c:
            self.assertEqual(c.call("ping", {"m": "x"}), "R:x")
        node.stop()  # (fails if a service did not start)
        self.assertFalse(os.path.exists(self.report) and os.path.getsize(self.report),
                         open(self.report).read() if os.path.exists(self.report) else "")

    def test_node_in_its_own_namespace_is_not_guarded(self):
        if os.geteuid() != 0:
            self.skipTest("a network namespace needs root")
        root = os.path.join(self.tmp, "root")
        os.makedirs(root)
        # a namespace with nothing but a loopback that is down: 0.0.0.0 there reaches nobody
        p = subprocess.Popen(["unshare", "--net", "timeout", "-s", "TERM", "3",
                              NODE_BIN, "--root", root, "--name", "nsnode", "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, SW_TEST_NET_GUARD=self.report,
                                      SW_TEST_NET_GUARD_NETNS=own_netns()))
        out, _ = p.communicate(timeout=60)
        self.assertIn("ftp: listening on 0.0.0.0:21", out)  # allowed there, and nothing reported
        self.assertNotIn("net guard", out)
        self.assertFalse(os.path.exists(self.report) and os.path.getsize(self.report))


if __name__ == "__main__":
    unittest.main(verbosity=2)
