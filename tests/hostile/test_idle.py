"""Silent and vanished clients must not lock others out (issue 10, item 10): RPC links and
telnet sessions that have not completed a request (a line) are closed after an idle timeout
(rpc.idle_ms, telnet.idle_ms) and make room for a newcomer when the table is full; the ones that
have keep their slots; accepted TCP connections carry keepalive probes."""
import socket
import subprocess
import time
import unittest

from hostile import cfg_node, swarmtest


def silent(port, n):
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]


class RpcIdle(unittest.TestCase):
    def setUp(self):
        self.node = cfg_node({"rpc": {"idle_ms": 600000}, "limits": {"clients": 4}})
        self.addCleanup(self.node.stop)
        self.node.start()

    def test_silent_connections_make_room(self):
        socks = silent(self.node.port, 4)
        for s in socks:
            self.addCleanup(s.close)
        self.node.wait_log("open (stream)")
        with self.node.client() as c:  # the 5th: the oldest silent one gave its slot
            self.assertEqual(c.call("ping", {"m": "in"}), "R:in")
        self.assertIn("closed to make room", self.node.read_log())

    def test_clients_with_requests_keep_their_slots(self):
        clients = [self.node.client() for _ in range(4)]
        for c in clients:
            self.addCleanup(c.close)
            self.assertEqual(c.call("ping", {"m": "x"}), "R:x")
        late = swarmtest.Client(self.node.port)
        self.addCleanup(late.close)
        self.assertEqual(late.read_note(), {"d": "too many clients (max 4)", "a": "error"})
        for c in clients:
            self.assertEqual(c.call("ping", {"m": "still"}), "R:still")

    def test_keepalive(self):
        with self.node.client() as c:
            c.call("ping")
            # ss shows the keepalive timer once nothing waits for an acknowledgement
            for _ in range(500):
                out = subprocess.run(["ss", "-tno", "state", "established", "( sport = :%d )" % self.node.port],
                                     capture_output=True, text=True, check=True).stdout
                if "keepalive" in out:
                    break
                time.sleep(0.01)
            self.assertIn("keepalive", out)


class RpcIdleTimeout(unittest.TestCase):
    def test_idle_timeout(self):
        node = cfg_node({"rpc": {"idle_ms": 300}})
        self.addCleanup(node.stop)
        node.start()
        with socket.create_connection(("127.0.0.1", node.port)) as s:
            node.wait_log("no request within 300 ms (rpc.idle_ms), closing", timeout=30)
            s.settimeout(30)
            data = b""
            while True:  # the link notice, then the end
                got = s.recv(4096)
                if not got:
                    break
                data += got
        with node.client() as c:
            c.call("ping")


class TelnetIdle(unittest.TestCase):
    def setUp(self):
        self.tport = swarmtest.free_port()
        self.node = cfg_node({"boot": {"TELNET_ENABLE": True, "TELNET_PORT": self.tport},
                              "telnet": {"clients": 2, "idle_ms": 600000}})
        self.addCleanup(self.node.stop)
        self.node.start()
        self.node.wait_log("ready\n")  # every service listens

    def test_silent_sessions_make_room(self):
        socks = silent(self.tport, 2)
        for s in socks:
            self.addCleanup(s.close)
        self.node.wait_log("session opened")
        with socket.create_connection(("127.0.0.1", self.tport)) as s:
            s.settimeout(30)
            banner = b""
            while b"REPL" not in banner:
                got = s.recv(4096)
                self.assertTrue(got, banner)
                banner += got
            self.assertNotIn(b"Too many", banner)
        self.assertIn("closed to make room", self.node.read_log())

    def test_idle_timeout(self):
        tport = swarmtest.free_port()
        node = cfg_node({"boot": {"TELNET_ENABLE": True, "TELNET_PORT": tport}, "telnet": {"idle_ms": 300}})
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready\n")
        with socket.create_connection(("127.0.0.1", tport)) as s:
            node.wait_log("no line entered within 300 ms (telnet.idle_ms): closing", timeout=30)
            s.settimeout(30)
            data = b""
            while True:
                got = s.recv(4096)
                if not got:
                    break
                data += got
            self.assertIn(b"Idle: closing", data)

if __name__ == "__main__":
    unittest.main()
