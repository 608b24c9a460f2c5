"""A node whose broker is given by name while the DNS server never answers (src/mqtt/uvmq.c):
the node keeps answering, and stops at once when asked, while its look-up waits.

libmosquitto's own look-up is a blocking getaddrinfo() on the node's loop: with a DNS server
that does not answer, the node answered nothing for the resolver's whole timeout, at every
reconnect. Now the name is looked up on a thread of its own (not libuv's pool, whose request
would hold the loop's end until the look-up gave up).

The node runs in a network and mount namespace of its own (`unshare --net --mount`, so root):
a resolv.conf bind-mounted over /etc/resolv.conf sends look-ups to 127.0.0.1:53 in that
namespace, where this test reads the query and never answers (`options timeout:30`: the old
code held the loop 30 s). Then a name that does resolve (a hosts file bind-mounted over
/etc/hosts) leads a second node to a mosquitto in the namespace: its retained state says
online. The steps run inside the namespace (this file with --inner) and print what happened,
in order; nothing leaves the namespace.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BROKER = "broker.swarm-dns-test.invalid"
NAMED = "named.swarm-dns-test.invalid"  # in the namespace's hosts file: 127.0.0.1


def node_for(tmp, name, url):
    from swarmtest import Node, loopback_config, pack
    root = os.path.join(tmp, name)
    os.makedirs(root)
    cfg = loopback_config({"mqtt": {"url": url, "fleet": "lab", "keepalive": 5}}, services=False)
    with open(os.path.join(root, "swarm.cfg"), "wb") as f:
        f.write(pack(cfg))
    return Node(root=root, name=name)


def inner(tmp):
    """Inside the namespaces: prints QUERY, ANSWERED, STOPPED 0, ONLINE as each step happens."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    conf = os.path.join(tmp, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
    subprocess.run(["mount", "--bind", conf, "/etc/resolv.conf"], check=True)
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind(("127.0.0.1", 53))  # (a fresh namespace: nothing else holds it)
    node = node_for(tmp, "dns1", "mqtt://%s:1883" % BROKER)
    node.start()
    try:
        dns.settimeout(60)
        query, _ = dns.recvfrom(2048)  # the node is looking its broker up now
        if b"swarm-dns-test" not in query:
            print("UNEXPECTED QUERY %r" % query, flush=True)
            return 1
        print("QUERY", flush=True)
        with node.client(timeout=10) as c:
            info = c.call("sys.info")
        print("ANSWERED" if info else "NO INFO", flush=True)
        node.kill(signal.SIGTERM)  # waits at most 10 s, then SIGKILL
        print("STOPPED %s" % node.proc.returncode, flush=True)
    finally:
        node.stop()
    # a name that resolves: looked up, then connected to
    from mqttlab import Broker, Sub
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost %s\n" % NAMED)
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    broker = Broker().start()
    node = node_for(tmp, "dns2", "mqtt://%s:%d" % (NAMED, broker.port))
    sub = Sub(broker, "swarm/lab/dns2/state")
    try:
        node.start()
        while '"online":true' not in sub.next(timeout=30).replace(" ", ""):
            pass
        print("ONLINE", flush=True)
    finally:
        sub.close()
        node.stop()
        broker.stop()
    return 0


class BrokerNameLookUp(unittest.TestCase):
    def test_node_answers_and_stops_while_its_broker_name_is_looked_up(self):
        if os.geteuid() != 0:
            self.fail("this test runs the node in network and mount namespaces of its own and needs "
                      "root (CI runs as root)")
        tmp = tempfile.mkdtemp(prefix="swarm-mqttdns-")
        self.addCleanup(subprocess.run, ["rm", "-rf", tmp])
        r = subprocess.run(["unshare", "--net", "--mount", "--fork", "/usr/bin/python3", os.path.abspath(__file__),
                            "--inner", tmp], capture_output=True, text=True, timeout=200, cwd=HERE,
                           stdin=subprocess.DEVNULL)
        # before: the node's loop sat in getaddrinfo, so no sys.info answer within 10 s, and no
        # orderly stop (SIGKILL: -9)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.split(), ["QUERY", "ANSWERED", "STOPPED", "0", "ONLINE"], r.stdout + r.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inner":
        sys.path.insert(0, HERE)
        sys.exit(inner(sys.argv[2]))
    unittest.main(verbosity=2)
