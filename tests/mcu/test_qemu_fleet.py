"""A mixed fleet: QEMU Cortex-M3 nodes and Linux nodes on one namespace LAN (tests/lab/lanlab.py
with mcu=, what `swarm sim --mcu N` builds). Two Linux swarm-nodes and two QEMU guests, each in
a namespace of its own, all on the hub's bridge: `swarm scan` in the host namespace lists all
four with their addresses and apps; micro-swarm's scanner (scan_devices, as transcribed in
tests/e2e/test_discovery.py) finds all four from their beacons; `dig @node -p 5353` gets a QEMU
node's address from its own mDNS responder; `swarm push` of one project updates both kinds
(the QEMU nodes' app named at boot with --mcu-apps, their flash empty), only the changed file
the second time, nothing the third; a guest the lab restarts boots its app and config from its
flash file. A broken version rolls back on both kinds. `swarm sim` and `make demo` themselves:
test_qemu_fleet_sim.py.

Root (namespaces) and the firmware are needed; without them the test is skipped (exit 77), a
failure under CI=true.
"""
import json
import os
import shutil
import tempfile
import sys
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


    def push(self, project, status=0):
        r = self.lan.swarm("push", "--json", project, timeout=240)
        self.assertEqual(r.returncode, status, r.stdout + r.stderr + self.guest_tails())
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

        # a guest restarted by the lab boots from its flash file: the app and the config are
        # there
        mcu1 = self.nodes(MCU_KIND)[0]
        r = self.lan.swarm("cfg", mcu1.uri, "set", "fleet.kept", "42")
        self.assertEqual(r.returncode, 0, r.stderr)
        first = mcu1.pid
        self.lan.restart_node(mcu1.index)
        self.assertNotEqual(mcu1.pid, first)
        self.tiny_says("v2")
        r = self.lan.swarm("cfg", "--json", mcu1.uri, "get", "fleet.kept")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "42"), r.stderr)
        got = self.push(project)
        self.assertEqual(got["mcu1"]["result"], "unchanged")


class Rollback(unittest.TestCase):
    """A broken version (its init_ fails) pushed to a Linux node and a QEMU node on one LAN."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swfleet-rb-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.project = os.path.join(self.tmp, "project")
        os.makedirs(os.path.join(self.project, "apps", "tiny"))
        self.write(TINY % "v1")
        self.lan = Lan(nodes=1, mcu=1, apps="tiny", mcu_apps="tiny",
                       apps_dir=os.path.join(self.project, "apps"), name_prefix="swfleetrb", build=BUILD)
        self.lan.start()
        self.addCleanup(self.lan.close)

    def write(self, text):
        with open(os.path.join(self.project, "apps", "tiny", "main.lua"), "w") as f:
            f.write(text)

    def results(self, status):
        r = self.lan.swarm("push", "--json", self.project, timeout=240)
        self.assertEqual(r.returncode, status, r.stdout + r.stderr)
        return {d["device"]: (d["result"], d["reason"]) for d in json.loads(r.stdout)["devices"]}

    # Before h/mcu-push's separate node and Lua pools this failed now and then on the guest:
    # with its heap nearly full after a few pushes, the broken version failed with "not
    # enough memory" and the rollback with EFULL, leaving the node without its app.
    def test_a_broken_app_rolls_back_on_both_kinds(self):
        # two good versions first (as a fleet gets them), then the broken one
        with open(os.path.join(self.project, "apps", "tiny", "notes.txt"), "w") as f:
            f.write("pushed by test_qemu_fleet\n" * 40)
        self.assertEqual(self.results(0), {"mcu1": ("ok", None), "node1": ("ok", None)})
        self.write(TINY % "v1 ")
        self.assertEqual(self.results(0), {"mcu1": ("ok", None), "node1": ("ok", None)})
        self.write((TINY % "v2").replace(
            "return M", "function M.init_fail() error('broken on purpose') end\nreturn M"))
        got = self.results(5)
        self.assertEqual(got["node1"][0], "rolled-back", got)
        self.assertEqual(got["mcu1"][0], "rolled-back", got)
        for x in self.lan.nodes:
            r = self.lan.swarm("call", "--json", x.uri, "tiny.version", timeout=60)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, '"v1 "'), x.name)


if __name__ == "__main__":
    qemu.require()
    qemu.require_netns()
    unittest.main()
