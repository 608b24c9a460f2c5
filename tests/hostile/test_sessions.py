"""Per-link resources die with their link (issue 10, items 8 and 9): evals started for a
request end with the request's cancel and with the link; proxies belong to the link that
received them. Before, 128 sleeping evals or 64 proxies and a disconnect locked every later
client out ("too many tasks", "too many proxies")."""
import socket
import unittest

from hostile import RemoteError, cfg_node, swarmtest


def closed(node, c):
    """Waits until the node has processed the close of client c."""
    host, port = c.sock.getsockname()
    c.close()
    node.wait_log("link %s:%d: closed" % (host, port), timeout=30)


class Sessions(unittest.TestCase):
    def setUp(self):
        self.node = cfg_node({})
        self.addCleanup(self.node.stop)
        self.node.start()

    def fill_tasks(self, c, n=128):
        seqs = [c.request("sys.eval", {"code": "swarm.sleep(1e9)"}) for _ in range(n)]
        self.assertEqual(c.call("ping", {"m": "x"}), "R:x")  # every eval has started by now
        return seqs

    def test_tasks_die_with_the_link(self):
        a = self.node.client()
        self.fill_tasks(a)
        with self.node.client() as b:
            with self.assertRaises(RemoteError) as e:
                b.call("sys.eval", {"code": "return 1"})
            self.assertIn("too many tasks", e.exception.args[0])
        closed(self.node, a)
        with self.node.client() as b:
            self.assertEqual(b.call("sys.eval", {"code": "return 1"})[0], 1)

    def test_tasks_die_with_the_cancel(self):
        with self.node.client() as c:
            for seq in self.fill_tasks(c):
                c.send({"i": seq})  # MoaT cancellation: a message holding only i
            self.assertEqual(c.call("sys.eval", {"code": "return 2"})[0], 2)

    def test_telnet_evals_die_with_the_session(self):
        tport = swarmtest.free_port()
        node = cfg_node({"boot": {"TELNET_ENABLE": True, "TELNET_PORT": tport}})
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready\n")
        for _ in range(130):  # more than the 128 tasks a node runs at once
            s = socket.create_connection(("127.0.0.1", tport))
            s.settimeout(30)
            got = b""
            while b"> " not in got:  # the prompt
                more = s.recv(4096)
                self.assertTrue(more, got)
                got += more
            s.sendall(b"swarm.sleep(1e9)\r\n")
            host, port = s.getsockname()
            s.close()
            node.wait_log("telnet %s:%d: closed" % (host, port), timeout=30)
        with node.client() as c:
            self.assertEqual(c.call("sys.eval", {"code": "return 3"})[0], 3)

    def test_proxies_die_with_the_link(self):
        a = self.node.client()
        for _ in range(64):
            a.call("sys.eval", {"code": "return function() end"})
        with self.assertRaises(RemoteError) as e:
            a.call("sys.eval", {"code": "return function() end"})
        self.assertIn("too many proxies", e.exception.args[0])
        closed(self.node, a)
        with self.node.client() as b:
            v = b.call("sys.eval", {"code": "return function() end"})
            self.assertEqual(type(v[0]).__name__, "Proxy")


if __name__ == "__main__":
    unittest.main()
