"""The lab (tests/lab/lanlab.py) and `swarm sim`: a namespace LAN whose nodes answer from the
host namespace; limited and directed broadcast and multicast (224.0.0.251) reach every node
namespace; the root namespace's interfaces stay as they were; teardown leaves no namespace,
process or directory, also after an exception and a SIGTERM; `--down` cleans up after a
SIGKILLed owner and leaves a live lab alone; the loopback fallback, forced and as a non-root
user; and `swarm sim` passing a command's exit status through.

Needs root for namespaces (CI runs as root). As another user the namespace tests FAIL with a
message saying so; they are never skipped."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from swarmtest import NODE_BIN, SRC, SWARM_BIN, Client

LAB_DIR = os.path.join(SRC, "tests", "lab")
sys.path.insert(0, LAB_DIR)
import lanlab  # noqa: E402
from lanlab import Lan, netns  # noqa: E402

LANLAB = os.path.join(LAB_DIR, "lanlab.py")
PY = "/usr/bin/python3"
ROOT = os.geteuid() == 0
TAG = "swt%d" % os.getpid()  # every lab of this test starts with it (--down TAG at the end)


def need_root(test):
    if not ROOT:
        test.fail("this test builds network namespaces and needs root (CI runs as root); "
                  "run it as root, e.g. sudo make test")


def ping(ns, ip, port=27587, timeout=5.0):
    """A MoaT ping from inside namespace ns; returns the echoed value."""
    with netns(ns):
        c = Client(port, host=ip, timeout=timeout)
    try:
        return c.call("ping", {"m": "hi %s" % ip})
    finally:
        c.close()


def root_links():
    """The root namespace's interfaces (name, flags, addresses), to check nothing changed."""
    out = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
    return sorted(line.split()[0] + " " + " ".join(line.split()[2:]) for line in out.splitlines())


def leftovers(lab, pids, dirname):
    """What a closed lab left: namespaces, live processes of its directory, the directory (or
    its entry in the registry)."""
    ns = [x for x in lanlab.list_netns() if x.startswith(lab + "-")]
    alive = []
    for pid in pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if dirname.encode() in f.read():
                    alive.append(pid)
        except OSError:
            pass
    return ns, alive, os.path.exists(dirname) or os.path.exists(os.path.join(lanlab.REGISTRY, lab + ".json"))


class NamespaceLan(unittest.TestCase):
    """One 3-node LAN for the tests that only look at it."""

    @classmethod
    def setUpClass(cls):
        cls.lan = None
        cls.before = root_links()
        if ROOT:
            cls.lan = Lan(nodes=3, apps=["blink", "counter"], name_prefix=TAG).start()

    @classmethod
    def tearDownClass(cls):
        if cls.lan:
            cls.lan.close()

    def setUp(self):
        need_root(self)

    def test_layout(self):
        lan = self.lan
        self.assertEqual(lan.mode, "netns")
        self.assertEqual([x.ip for x in lan.nodes], ["169.254.1.1", "169.254.1.2", "169.254.1.3"])
        self.assertEqual([x.app for x in lan.nodes], ["blink", "counter", "blink"])
        self.assertEqual(len({x.ns for x in lan.nodes} | {lan.host_ns, lan.hub_ns}), 5)
        for ns in [x.ns for x in lan.nodes] + [lan.host_ns]:
            self.assertIn(ns, lanlab.list_netns())
            r = lan.run(ns, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
            self.assertEqual(r.returncode, 0, r.stderr)
            routes = lan.run(ns, ["ip", "route", "show", "table", "all"]).stdout
            self.assertIn("224.0.0.0/4 dev eth0", routes)
            self.assertIn("255.255.255.255 dev eth0", routes)
            self.assertIn("LOOPBACK,UP", lan.run(ns, ["ip", "link", "show", "lo"]).stdout)
        # the nodes' roots hold their apps, their logs are separate files
        for x in lan.nodes:
            self.assertTrue(os.path.isfile(os.path.join(x.root, "apps", x.app, "main.lua")))
            self.assertTrue(x.log_path.startswith(lan.dir) and not x.log_path.startswith(x.root + "/"))
        self.assertEqual(lan.host_ip, "169.254.254.1")

    def test_nodes_answer_from_host_namespace(self):
        lan = self.lan
        for x in lan.nodes:
            self.assertEqual(ping(lan.host_ns, x.ip), "R:hi %s" % x.ip)
            r = lan.swarm("call", x.uri, "ping", "m=yes")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "R:yes"), r.stderr)
        # each node runs its app and knows its name
        r = lan.swarm("call", lan.nodes[1].uri, "counter.add", "n=5", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(json.loads(r.stdout), 5)
        r = lan.swarm("cfg", lan.nodes[2].uri, "get", "board.host_name")
        self.assertEqual(r.stdout.strip(), "node3", r.stderr)
        self.assertIn("blink", lan.node_log(0))

    def test_nodes_reach_each_other_but_not_the_root_namespace(self):
        lan = self.lan
        a, b = lan.nodes[0], lan.nodes[2]
        self.assertEqual(ping(a.ns, b.ip), "R:hi %s" % b.ip)
        # no default route: the machine's own network is out of reach
        r = lan.run(a.ns, ["ip", "route", "get", "192.0.2.1"])
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def _listeners(self, port, group=None):
        socks = []
        for x in self.lan.nodes:
            s = self.lan.socket(x.ns)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            if group:
                mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(x.ip))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            s.settimeout(3)
            socks.append(s)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def _send_and_collect(self, socks, dest, payload, broadcast=False):
        tx = self.lan.socket(self.lan.host_ns)
        self.addCleanup(tx.close)
        if broadcast:
            tx.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        else:
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        tx.sendto(payload, dest)
        got = []
        for s in socks:
            data, src = s.recvfrom(2048)
            got.append((data, src[0]))
        return got

    def test_limited_broadcast_reaches_every_node_namespace(self):
        socks = self._listeners(19999)
        got = self._send_and_collect(socks, ("255.255.255.255", 19999), b"bcast", broadcast=True)
        self.assertEqual(got, [(b"bcast", self.lan.host_ip)] * 3)

    def test_directed_broadcast_reaches_every_node_namespace(self):
        socks = self._listeners(19998)
        got = self._send_and_collect(socks, ("169.254.255.255", 19998), b"dbcast", broadcast=True)
        self.assertEqual(got, [(b"dbcast", self.lan.host_ip)] * 3)

    def test_multicast_reaches_every_node_namespace(self):
        # the mDNS group; another port, so a node's own mDNS service is not disturbed
        socks = self._listeners(15353, group="224.0.0.251")
        got = self._send_and_collect(socks, ("224.0.0.251", 15353), b"mcast")
        self.assertEqual(got, [(b"mcast", self.lan.host_ip)] * 3)

    def test_node_restart(self):
        lan = self.lan
        old = lan.nodes[0].pid
        lan.restart_node(0)
        self.assertNotEqual(lan.nodes[0].pid, old)
        self.assertEqual(ping(lan.host_ns, lan.nodes[0].ip), "R:hi %s" % lan.nodes[0].ip)
        self.assertEqual(lan.stop_node(0), 0)  # SIGTERM: an orderly stop
        self.assertFalse(lan.nodes[0].running())
        lan.start_node(0)
        self.assertEqual(ping(lan.host_ns, lan.nodes[0].ip), "R:hi %s" % lan.nodes[0].ip)

    def test_root_namespace_untouched(self):
        self.assertEqual(root_links(), self.before)


class Teardown(unittest.TestCase):
    def setUp(self):
        need_root(self)

    def test_close_removes_everything(self):
        before = root_links()
        lan = Lan(nodes=2, apps="counter", name_prefix=TAG)
        with lan:
            extra = lan.popen(lan.host_ns, ["sleep", "60"])
            pids = [x.pid for x in lan.nodes]
            lab, d = lan.lab, lan.dir
            self.assertEqual(len([x for x in lanlab.list_netns() if x.startswith(lab + "-")]), 4)
        self.assertEqual(leftovers(lab, pids, d), ([], [], False))
        self.assertIsNotNone(extra.poll())  # killed by PID
        self.assertEqual(root_links(), before)

    def test_exception_removes_everything(self):
        with self.assertRaises(ZeroDivisionError):
            with Lan(nodes=2, name_prefix=TAG) as lan:
                pids, lab, d = [x.pid for x in lan.nodes], lan.lab, lan.dir
                1 / 0
        self.assertEqual(leftovers(lab, pids, d), ([], [], False))

    def test_failed_start_removes_everything(self):
        # a node that cannot start (bad option): the error names it, nothing stays
        with self.assertRaises(lanlab.LabError) as cm:
            Lan(nodes=2, name_prefix=TAG, node_args=["--no-such-option"], lab_name=TAG + "bad").start()
        # every node fails; whichever is noticed first is the one the error names
        self.assertRegex(str(cm.exception), r"node[12]")
        self.assertEqual([x for x in lanlab.list_netns() if x.startswith(TAG + "bad-")], [])
        self.assertEqual([x for x in os.listdir(tempfile.gettempdir()) if x.startswith(TAG + "bad-")], [])

    def test_two_labs_at_once(self):
        with Lan(nodes=1, name_prefix=TAG) as a, Lan(nodes=1, name_prefix=TAG) as b:
            self.assertNotEqual(a.lab, b.lab)
            self.assertEqual(ping(a.host_ns, a.nodes[0].ip), "R:hi 169.254.1.1")
            self.assertEqual(ping(b.host_ns, b.nodes[0].ip), "R:hi 169.254.1.1")

    def _up(self, name, *extra):
        """lanlab.py up in a child process; returns it once the lab is ready, with its
        description."""
        p = subprocess.Popen([PY, LANLAB, "up", "2", "--prefix", name, "--json", *extra],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def stop():
            if p.poll() is None:
                p.kill()
            p.communicate()
        self.addCleanup(stop)
        line = p.stdout.readline()
        self.assertTrue(line, "lanlab.py up printed nothing: %s" % p.stderr.read() if p.poll() is not None else "")
        return p, json.loads(line)

    def test_sigterm_removes_everything(self):
        p, info = self._up(TAG + "term")
        pids = [x["pid"] for x in info["nodes"]]
        self.assertEqual(len(leftovers(info["lab"], pids, info["dir"])[0]), 4)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(20), 128 + signal.SIGTERM)
        self.assertEqual(leftovers(info["lab"], pids, info["dir"]), ([], [], False))

    def test_down_after_sigkill(self):
        name = TAG + "kill"
        p, info = self._up(name)
        pids = [x["pid"] for x in info["nodes"]]
        # a live lab is not someone's leftovers, also for a --down with another TMPDIR
        other = tempfile.mkdtemp(prefix=TAG + "-tmp")
        self.addCleanup(shutil.rmtree, other, True)
        for env in (None, dict(os.environ, TMPDIR=other)):
            r = subprocess.run([PY, LANLAB, "--down", name], capture_output=True, text=True,
                               timeout=30, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("left alone", r.stdout)
            self.assertEqual(len(leftovers(name, pids, info["dir"])[0]), 4)
        self.assertEqual(ping(info["host_ns"], info["nodes"][0]["ip"]), "R:hi 169.254.1.1")
        p.kill()
        p.wait()
        ns, alive, there = leftovers(name, pids, info["dir"])
        self.assertEqual((len(ns), len(alive), there), (4, 2, True))  # the mess --down is for
        r = subprocess.run([PY, LANLAB, "--down", name], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed 4 namespace(s)", r.stdout)
        deadline = time.monotonic() + 5
        while leftovers(name, pids, info["dir"])[1] and time.monotonic() < deadline:
            time.sleep(0.05)  # SIGTERMed nodes are reaped by init
        self.assertEqual(leftovers(name, pids, info["dir"]), ([], [], False))


class Loopback(unittest.TestCase):
    """The fallback without namespaces (works for any user)."""

    def check_lan(self, lan):
        self.assertEqual(lan.mode, "loopback")
        self.assertIsNone(lan.host_ns)
        for x in lan.nodes:
            self.assertTrue(x.ip.startswith("127.0."), x.ip)
            self.assertIsNone(x.ns)
            self.assertEqual(ping(None, x.ip, x.port), "R:hi %s" % x.ip)
        self.assertEqual(len({x.ip for x in lan.nodes}), len(lan.nodes))

    def test_forced_loopback(self):
        with Lan(nodes=3, apps=["counter"], mode="loopback", name_prefix=TAG) as lan:
            self.check_lan(lan)
            r = lan.swarm("cfg", lan.nodes[0].uri, "get", "boot", "--json")
            boot = json.loads(r.stdout)
            # every port free when the lab started (none of the defaults, which anyone may hold)
            x = lan.nodes[0]
            self.assertEqual((boot["BEACON_DESTINATION_IPS"], boot["FTPD_PORT"], boot["TELNET_PORT"],
                              boot["REMOTE_EVAL_PORT"], boot["BEACON_DESTINATION_PORT"], boot["MDNS_ENABLE"]),
                             (["127.0.0.1"], x.ftp_port, x.telnet_port, x.eval_port, lan.beacon_port, False),
                             r.stderr)
            ports = [p for y in lan.nodes for p in (y.port, y.ftp_port, y.telnet_port, y.eval_port)]
            self.assertEqual(len(set(ports)), len(ports))
            self.assertFalse(set(ports) & {21, 23, 1139, 2121, 2323, 27587}, ports)
            # a scan that queries each address finds them all
            r = lan.swarm("scan", "--json", "--no-cache", "--port", lan.beacon_port,
                          *sum((["--to", x.ip] for x in lan.nodes), []))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(d["ip"] for d in json.loads(r.stdout)), [x.ip for x in lan.nodes])
            pids, d = [x.pid for x in lan.nodes], lan.dir
        self.assertEqual(leftovers(TAG, pids, d)[1:], ([], False))

    def test_non_root_falls_back(self):
        """As an unprivileged user: no namespaces, nodes on loopback, unprivileged ports."""
        if not ROOT:
            # we are that user already
            with Lan(nodes=2, name_prefix=TAG) as lan:
                self.check_lan(lan)
            return
        setpriv = shutil.which("setpriv")
        self.assertTrue(setpriv, "setpriv (util-linux) is needed to run as nobody")
        # a copy the unprivileged user can read (the build tree may be private)
        tmp = tempfile.mkdtemp(prefix=TAG + "-nr")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        shutil.copy(LANLAB, tmp)
        shutil.copy(NODE_BIN, tmp)
        shutil.copy(SWARM_BIN, tmp)
        shutil.copytree(os.path.join(SRC, "apps"), os.path.join(tmp, "apps"))
        script = ("import sys; sys.path.insert(0, %r)\n"
                  "from lanlab import Lan\n"
                  "with Lan(nodes=2, apps=['counter'], name_prefix=%r, apps_dir=%r) as lan:\n"
                  "    r = lan.swarm('cfg', lan.nodes[1].uri, 'get', 'boot', '--json')\n"
                  "    print(lan.mode, lan.nodes[1].ip, r.stdout.strip())\n" % (tmp, TAG, os.path.join(tmp, "apps")))
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "SWARM_BUILD": tmp, "HOME": tmp, "TMPDIR": "/tmp"}
        r = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", PY, "-c", script],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        mode, ip, boot = r.stdout.split(" ", 2)
        self.assertEqual(mode, "loopback")
        self.assertTrue(ip.startswith("127.0."))
        boot = json.loads(boot)
        # unprivileged ports (free ones, in the API's default mode)
        self.assertGreaterEqual(min(boot["FTPD_PORT"], boot["TELNET_PORT"]), 1024)
        self.assertFalse(boot["MDNS_ENABLE"])


class SwarmSim(unittest.TestCase):
    def run_sim(self, *args, timeout=60):
        return subprocess.run([SWARM_BIN, "sim", *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def test_help_and_usage_errors(self):
        r = self.run_sim("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--nodes N", r.stdout)
        self.assertIn("--mcu N", r.stdout)
        self.assertIn("--down", r.stdout)
        for bad in (["--nodes", "0"], ["--nodes", "x"], ["--prefix", "a/b"], ["extra"],
                    ["--down", "--keep"], ["--force"], ["--"], ["--apps", "a b"],
                    ["--mcu", "33"], ["--mcu-apps", "a"], ["--down", "--mcu", "1"],
                    ["--mcu", "1", "--mcu-apps", "a/b"]):
            r = self.run_sim(*bad)
            self.assertEqual(r.returncode, 2, "%s: %s" % (bad, r.stderr))
            self.assertIn("swarm sim:", r.stderr)
        r = subprocess.run([SWARM_BIN, "--help"], capture_output=True, text=True)
        self.assertIn("  sim ", r.stdout)

    def test_command_in_host_namespace(self):
        need_root(self)
        name = TAG + "sim"
        script = ('set -e; [ "$(ip -4 -o addr show dev eth0 | grep -c 169.254.254.1)" = 1 ]; '
                  'for ip in $SWARM_SIM_NODES; do swarm call tcp://$ip ping m=ok; done; '
                  'echo "$SWARM_SIM_NAMES|$SWARM_SIM_APPS"; exit 7')
        r = self.run_sim("--nodes", "2", "--apps", "blink,counter", "--prefix", name, "--", "sh", "-c", script)
        self.assertEqual(r.returncode, 7, r.stdout + r.stderr)  # the command's status
        self.assertIn("R:ok\nR:ok\nnode1 node2|blink counter\n", r.stdout)
        # the try column's command runs from any shell: the host namespace and swarm's full path
        self.assertRegex(r.stdout, r"sudo ip netns exec %s-host /\S*swarm call tcp://169\.254\.1\.2 ping" % name)
        self.assertIn("ip netns exec %s-host bash" % name, r.stdout)
        self.assertEqual([x for x in lanlab.list_netns() if x.startswith(name)], [])

    def test_scan_from_host_namespace(self):
        # the example of the help: discovery by broadcast works across the simulated LAN
        need_root(self)
        r = self.run_sim("--nodes", "3", "--prefix", TAG + "scan", "-q", "--",
                         "swarm", "scan", "--json", "--no-cache")
        self.assertEqual(r.returncode, 0, r.stderr)
        found = json.loads(r.stdout)
        self.assertEqual(sorted((d["host"], d["ip"]) for d in found),
                         [("node1", "169.254.1.1"), ("node2", "169.254.1.2"), ("node3", "169.254.1.3")])

    def test_keep_then_down(self):
        need_root(self)
        name = TAG + "keep"
        r = self.run_sim("--nodes", "1", "--prefix", name, "--keep", "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(ping(name + "-host", "169.254.1.1"), "R:hi 169.254.1.1")
        r = self.run_sim("--down", "--prefix", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x for x in lanlab.list_netns() if x.startswith(name)], [])


def tearDownModule():
    # whatever a failed test left (never other runs' labs: the prefix holds our PID)
    if ROOT or any(x.startswith(TAG) for x in os.listdir(tempfile.gettempdir())):
        lanlab.down(TAG, force=True, say=lambda m: None)


if __name__ == "__main__":
    unittest.main(verbosity=2)
