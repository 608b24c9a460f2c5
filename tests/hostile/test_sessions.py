"""Per-link resources die with their link (issue 10, items 8 and 9): evals started for a
request end with the request's cancel and with the link; proxies belong to the link that
received them. Before, 128 sleeping evals or 64 proxies and a disconnect locked every later
client out ("too many tasks", "too many proxies")."""
import unittest

from hostile import RemoteError, cfg_node


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
