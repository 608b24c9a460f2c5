"""A mixed fleet: QEMU Cortex-M3 nodes and Linux nodes on one namespace LAN (tests/lab/lanlab.py
with mcu=, what `swarm sim --mcu N` builds). Two Linux swarm-nodes and two QEMU guests, each in
a namespace of its own, all on the hub's bridge: `swarm scan` in the host namespace lists all
four with their addresses; micro-swarm's scanner (scan_devices, as transcribed in
tests/e2e/test_discovery.py) finds all four from their beacons; `dig @node -p 5353` gets a QEMU
node's address from its own mDNS responder. `swarm sim` itself: its table and JSON say which
node is which kind, every guest, tap and namespace is gone after it (also after Ctrl-C), and a
missing firmware is an error that says to run `make firmware`. `swarm push` of one project
updates both kinds (the QEMU nodes' app is named at boot with --mcu-apps, their flash empty), the
second time only the file that changed, the third time nothing. Without root (run as nobody)
`swarm sim --mcu` puts the guest on QEMU's user-mode network, its RPC port forwarded from a
loopback address.

Root (namespaces) and the firmware are needed; without them the test is skipped (exit 77), a
failure under CI=true.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import sys
import time
import unittest

import qemu
from qemu import SRC, SWARM_BIN, netns

sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
import lanlab  # noqa: E402
from lanlab import Lan, MCU_KIND  # noqa: E402

sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
from test_discovery import micro_swarm_scan  # noqa: E402  (MICRO_SWARM_PIN says what it is)

BUILD = os.path.dirname(SWARM_BIN)


def lab_leftovers(prefix):
    """Namespaces named prefix… and QEMU processes started for a lab of that prefix."""
    ns = [x for x in lanlab.list_netns() if x.startswith(prefix)]
    qemus = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            cwd = os.readlink("/proc/%s/cwd" % pid)  # the guest's root, in the lab's directory
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-arm") and "/" + prefix in cwd:
            qemus.append(int(pid))
    return ns, qemus


# The app node2 and the QEMU nodes run: one command, small enough for any Lua heap (what
# fits the firmware's is push's business, tests/mcu/test_qemu_push*.py)
TINY = """-- tiny: the fleet test's app
local M = {}
swarm.command("version", function() return "%s" end, "the version pushed")
return M
"""


class MixedLan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swfleet-")
        cls.apps = os.path.join(cls.tmp, "apps")
        shutil.copytree(os.path.join(SRC, "apps", "blink"), os.path.join(cls.apps, "blink"))
        os.makedirs(os.path.join(cls.apps, "tiny"))
        with open(os.path.join(cls.apps, "tiny", "main.lua"), "w") as f:
            f.write(TINY % "v0")
        cls.lan = Lan(nodes=2, mcu=2, apps=["blink", "tiny"], mcu_apps="tiny", apps_dir=cls.apps,
                      name_prefix="swfleet", build=BUILD)
        try:
            cls.lan.start()
        except BaseException:
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lan.close()
        shutil.rmtree(cls.tmp, True)

    def nodes(self, kind):
        return [x for x in self.lan.nodes if x.kind == kind]

    def test_kinds_and_addresses(self):
        self.assertEqual([x.kind for x in self.lan.nodes], ["linux", "linux", MCU_KIND, MCU_KIND])
        mcus = self.nodes(MCU_KIND)
        self.assertEqual([x.name for x in mcus], ["mcu1", "mcu2"])
        self.assertEqual(len({x.mac for x in mcus}), 2)
        self.assertEqual(len({x.ip for x in self.lan.nodes}), 4)
        for x in mcus:
            # the guest said which address AutoIP gave it; the lab's MACs make it clash-free
            self.assertEqual(x.ip, lanlab.autoip_seed(x.mac))
            r = self.lan.swarm("call", "--json", x.uri, "sys.info")
            self.assertEqual(r.returncode, 0, r.stderr)
            info = json.loads(r.stdout)
            self.assertEqual(info["host_name"], x.name)
            self.assertEqual(info["platform"], "mps2-an385 cortex-m3")

    def test_swarm_scan_lists_all_four(self):
        r = self.lan.swarm("scan", "--json", "--no-cache", "--wait-for", "4", "--timeout", "10s")
        self.assertEqual(r.returncode, 0, r.stderr)
        found = {d["host"]: (d["ip"], d["app"]) for d in json.loads(r.stdout)}
        self.assertEqual(found, {x.name: (x.ip, x.app) for x in self.lan.nodes})
        self.assertEqual([x.app for x in self.lan.nodes], ["blink", "tiny", "tiny", "tiny"])

    def test_micro_swarm_scanner_finds_all_four(self):
        # its socket on 0.0.0.0:1139 in the host namespace, where every node's beacon goes
        with netns(self.lan.host_ns):
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("0.0.0.0", self.lan.beacon_port))
            devices = {}
            for _ in range(5):  # beacons every 2 s; a loaded machine may take a few rounds
                devices.update(micro_swarm_scan(s, 2.5))
                if len(devices) == 4:
                    break
        finally:
            s.close()
        self.assertEqual(sorted(devices), sorted(x.ip for x in self.lan.nodes))
        for x in self.lan.nodes:
            self.assertEqual(devices[x.ip]["settings"]["board"]["host_name"], x.name)

    def test_dig_asks_a_qemu_node(self):
        for x in self.nodes(MCU_KIND):
            self.lan.wait_log(x.index, "mdns: %s.local is ours" % x.name, timeout=60)
            r = self.lan.run(self.lan.host_ns, ["dig", "+short", "+time=2", "+tries=3", "@" + x.ip,
                                                "-p", "5353", x.name + ".local", "A"], timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), [x.ip])


    def push(self, project):
        r = self.lan.swarm("push", "--json", project, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.guest_tails())
        return {d["device"]: d for d in json.loads(r.stdout)["devices"]}

    def guest_tails(self):
        return "".join("\n%s:\n%s" % (x.name, self.lan.node_log(x.index)[-1500:])
                       for x in self.nodes(MCU_KIND))

    def tiny_says(self, version):
        for x in self.lan.nodes:
            if x.app == "tiny":
                r = self.lan.swarm("call", "--json", x.uri, "tiny.version", timeout=60)
                self.assertEqual(r.returncode, 0, "%s: %s" % (x.name, r.stderr))
                self.assertEqual(json.loads(r.stdout), version, x.name)

    def test_push_updates_both_kinds(self):
        # one project, one push: the tiny app reaches the Linux node that runs it (one file
        # changed there, one new) and both QEMU nodes (new to them: everything); blink is
        # untouched; the second push sends only the file that changed, to all three
        tmp = tempfile.mkdtemp(prefix="swfleet-push-")
        self.addCleanup(shutil.rmtree, tmp, True)
        project = os.path.join(tmp, "project")
        shutil.copytree(self.apps, os.path.join(project, "apps"))
        main = os.path.join(project, "apps", "tiny", "main.lua")
        with open(os.path.join(project, "apps", "tiny", "notes.txt"), "w") as f:
            f.write("pushed by test_qemu_fleet\n" * 40)

        def version(v):
            with open(main, "w") as f:
                f.write(TINY % v)

        counters = [x.name for x in self.lan.nodes if x.app == "tiny"]
        self.assertEqual(counters, ["node2", "mcu1", "mcu2"])
        version("v1")
        got = self.push(project)
        self.assertEqual(got["node1"]["result"], "unchanged")
        for name in counters:
            self.assertEqual(got[name]["result"], "ok", got[name])
            put = got[name]["targets"][0]["put"]
            self.assertEqual(sorted(put), ["main.lua", "notes.txt"], name)
        self.tiny_says("v1")

        version("v2")
        got = self.push(project)
        self.assertEqual(got["node1"]["result"], "unchanged")
        for name in counters:
            self.assertEqual(got[name]["result"], "ok", got[name])
            self.assertEqual(got[name]["targets"][0]["put"], ["main.lua"], name)
        self.tiny_says("v2")

        got = self.push(project)  # nothing changed: the beacons say so
        self.assertEqual({k: d["result"] for k, d in got.items()},
                         {x.name: "unchanged" for x in self.lan.nodes})

        # a guest restarted by the lab boots from its flash file: the pushed app is there
        mcu1 = self.nodes(MCU_KIND)[0]
        first = self.lan.nodes[mcu1.index].pid
        self.lan.restart_node(mcu1.index)
        self.assertNotEqual(mcu1.pid, first)
        self.tiny_says("v2")
        got = self.push(project)
        self.assertEqual(got["mcu1"]["result"], "unchanged")


class SimCommand(unittest.TestCase):
    def sim(self, *args, env=None):
        return subprocess.run([SWARM_BIN, "sim", *args], capture_output=True, text=True,
                              timeout=300, env=env)

    def tearDown(self):
        lanlab.down(self.prefix, force=True, say=lambda *a: None)

    def test_json_says_which_is_which_and_nothing_is_left(self):
        self.prefix = "swfleetj%d" % os.getpid()
        r = self.sim("--nodes", "1", "--mcu", "1", "--prefix", self.prefix, "--json", "--",
                     "sh", "-c", 'echo "$SWARM_SIM_KINDS"; %s call tcp://169.254.200.1 ping m=hi'
                     % SWARM_BIN)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        lab = json.loads(lines[0])
        self.assertEqual([(x["name"], x["kind"]) for x in lab["nodes"]],
                         [("node1", "linux"), ("mcu1", MCU_KIND)])
        mcu = lab["nodes"][1]
        self.assertEqual(mcu["ip"], "169.254.200.1")
        self.assertTrue(mcu["serial"].startswith("/dev/pts/"), mcu)
        self.assertEqual(lines[1], "linux " + MCU_KIND)
        self.assertIn("R:hi", lines[2])
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_table_and_ctrl_c(self):
        self.prefix = "swfleett%d" % os.getpid()
        p = subprocess.Popen([SWARM_BIN, "sim", "--nodes", "1", "--mcu", "1", "--prefix", self.prefix],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out = []
            for line in p.stdout:
                out.append(line)
                if line.startswith("Ctrl-C tears"):
                    break
            text = "".join(out)
            self.assertIn("2 nodes (1 Linux, 1 QEMU Cortex-M3)", text)
            rows = {l.split()[0]: l.split() for l in out if l.startswith("  ") and "call" in l}
            self.assertEqual(rows["node1"][1], "linux")
            self.assertEqual(rows["mcu1"][1:3], [MCU_KIND, "169.254.200.1"])
            ns, qemus = lab_leftovers(self.prefix)
            self.assertEqual(len(ns), 4, ns)  # hub, host, n1, m1
            self.assertEqual(len(qemus), 1)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(60), 130)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_user_mode_network_without_root(self):
        # as nobody: no namespaces, so the guest is on QEMU's user-mode network with its RPC
        # port forwarded from a loopback address, next to a Linux node on another one
        self.prefix = "swfleetu%d" % os.getpid()
        if not shutil.which("runuser"):
            self.skipTest("runuser (util-linux) not found")
        fw = lanlab.find_firmware()
        lab = os.path.join(SRC, "tests", "lab", "lanlab.py")
        if subprocess.run(["runuser", "-u", "nobody", "--", "sh", "-c", 'test -x "$0" -a -r "$1" -a -r "$2"',
                           SWARM_BIN, fw, lab]).returncode:
            self.skipTest("user nobody cannot reach %s, %s or %s" % (SWARM_BIN, fw, lab))
        home = tempfile.mkdtemp(prefix="swfleet-nobody-")
        self.addCleanup(shutil.rmtree, home, True)
        os.chmod(home, 0o777)
        project = os.path.join(home, "project")
        os.makedirs(os.path.join(project, "apps", "tiny"))
        with open(os.path.join(project, "apps", "tiny", "main.lua"), "w") as f:
            f.write(TINY % "user-net")
        subprocess.run(["chmod", "-R", "a+rX", project], check=True)
        # the guest's RPC port is the last address's 27587 (fixed ports: swarm sim for people)
        script = ('for ip in $SWARM_SIM_NODES; do swarm call --json tcp://$ip sys.info || exit 1; done; '
                  'set -- $SWARM_SIM_NODES; swarm push --json "$HOME/project" --link tcp://$2 || exit 1; '
                  'swarm call --json tcp://$2 tiny.version')
        r = subprocess.run(["runuser", "-u", "nobody", "--", "env", "HOME=" + home,
                            "XDG_CACHE_HOME=" + home, SWARM_BIN, "sim", "--nodes", "1", "--mcu", "1",
                            "--mcu-apps", "tiny", "--prefix", self.prefix, "--json", "--", "sh",
                            "-c", script], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        lab = json.loads(lines[0])
        self.assertEqual(lab["mode"], "loopback")
        self.assertEqual([(x["name"], x["kind"]) for x in lab["nodes"]],
                         [("node1", "linux"), ("mcu1", MCU_KIND)])
        mcu = lab["nodes"][1]
        self.assertTrue(mcu["ip"].startswith("127."), mcu)
        self.assertEqual(mcu["guest_ip"], "169.254.200.1")
        infos = [json.loads(l) for l in lines[1:3]]
        self.assertEqual([(i["host_name"], i["platform"], i["app_name"]) for i in infos[1:]],
                         [("mcu1", "mps2-an385 cortex-m3", "tiny")])
        self.assertEqual(infos[0]["host_name"], "node1")
        pushed = json.loads(lines[3])["devices"]
        self.assertEqual([(d["device"], d["result"]) for d in pushed], [("mcu1", "ok")])
        self.assertEqual(json.loads(lines[4]), "user-net")
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_ctrl_c_while_the_guests_boot(self):
        # Ctrl-C before the lab is up (the guest still probing its address): all of it goes
        self.prefix = "swfleetc%d" % os.getpid()
        p = subprocess.Popen([SWARM_BIN, "sim", "--nodes", "1", "--mcu", "2", "--prefix", self.prefix],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while len(lab_leftovers(self.prefix)[1]) < 2 and p.poll() is None:
                self.assertLess(time.monotonic(), deadline, "no QEMU started")
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 130, err)
        self.assertNotIn("ready in", out)  # it was stopped while building
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_keep_then_down(self):
        self.prefix = "swfleetk%d" % os.getpid()
        r = self.sim("--nodes", "0", "--mcu", "1", "--prefix", self.prefix, "--keep", "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        ns, qemus = lab_leftovers(self.prefix)
        self.assertEqual((len(ns), len(qemus)), (3, 1))  # hub, host, m1; the guest goes on
        r = subprocess.run(["ip", "netns", "exec", self.prefix + "-host", SWARM_BIN, "call", "--json",
                            "tcp://169.254.200.1", "ping", "m=kept"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(json.loads(r.stdout), "R:kept", r.stderr)
        r = self.sim("--down", "--prefix", self.prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_lab_limits(self):
        self.prefix = "swfleetl%d" % os.getpid()
        for kw, text in (({"nodes": 0}, "nodes: 1"), ({"nodes": 1, "mcu": 33}, "mcu: 0 … 32"),
                         ({"nodes": 0, "mcu": 1, "mcu_apps": "a/b"}, "not an app name"),
                         ({"nodes": 1, "mcu": 1, "names": ["mcu1"]}, "name of a QEMU node"),
                         ({"nodes": 0, "mcu": 1, "mcu_args": "x" * 160}, "at most 159")):
            with self.assertRaises(lanlab.LabError) as e:
                Lan(name_prefix=self.prefix, build=BUILD, **kw).start()
            self.assertIn(text, str(e.exception))
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_missing_firmware_says_make_firmware(self):
        self.prefix = "swfleetf%d" % os.getpid()
        env = dict(os.environ, SWARM_FIRMWARE="/nonexistent/swarm-node-mps2.elf")
        r = self.sim("--nodes", "1", "--mcu", "1", "--prefix", self.prefix, "--", "true", env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("make firmware", r.stderr)
        self.assertEqual(lab_leftovers(self.prefix), ([], []))


class Demo(unittest.TestCase):
    """`make demo` (scripts/demo) as root with the firmware built: the fleet is mixed."""

    def demo(self, **env):
        r = subprocess.run([os.path.join(SRC, "scripts", "demo")], capture_output=True, text=True,
                           timeout=300, env=dict(os.environ, SWARM_BUILD=BUILD, **env))
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr)
        return r.stdout

    def test_mixed_fleet(self):
        out = self.demo()
        self.assertIn("5 Linux nodes and 2 Cortex-M3 nodes (QEMU)", out)
        scan = out.split("$ swarm scan\n", 1)[1].split("\n==", 1)[0]
        hosts = [l.split()[0] for l in scan.splitlines() if re.match(r"\S+ +169\.254\.", l)]
        self.assertEqual(sorted(hosts), ["mcu1", "mcu2", "node1", "node2", "node3", "node4", "node5"])
        self.assertIn("mcu1 is a QEMU Cortex-M3 guest", out)
        self.assertIn("R:hello mcu2", out)
        # one push: blink on the Linux nodes, the new app on both QEMU nodes; then nothing
        table = out.split("$ swarm push project\n")[1]
        rows = {l.split()[0]: l.split() for l in table.splitlines() if re.match(r"(node|mcu)\d +\w+ +\d", l)}
        self.assertEqual({k: (v[1], v[-1]) for k, v in rows.items()},
                         {"mcu1": ("hello", "ok"), "mcu2": ("hello", "ok"), "node1": ("blink", "ok"),
                          "node2": ("counter", "unchanged"), "node3": ("blink", "ok"),
                          "node4": ("counter", "unchanged"), "node5": ("blink", "ok")})
        self.assertIn("hello from the pushed app on a Cortex-M3", out)
        again = out.split("$ swarm push project\n")[2]
        rows = [l.split() for l in again.splitlines() if re.match(r"(node|mcu)\d +\w+ +\d", l)]
        self.assertEqual(len(rows), 7, again)
        self.assertEqual({r[-1] for r in rows}, {"unchanged"})

    def test_without_the_mcu_part_it_says_why(self):
        out = self.demo(SWARM_DEMO_MCU="0")
        self.assertIn("the Cortex-M3 nodes are skipped: SWARM_DEMO_MCU=0", out)
        self.assertNotIn("mcu1", out)


if __name__ == "__main__":
    qemu.require()
    qemu.require_netns()
    unittest.main()
