"""`swarm sim --mcu` and `make demo` with QEMU Cortex-M3 nodes (the lab itself and what runs on
it: test_qemu_fleet.py). The table and JSON say which node is which kind; every guest, tap and
namespace is gone after the command, after Ctrl-C (also while the guests boot), after `--keep`
+ `--down`, and after a guest that dies while booting; a missing firmware is an error that says
to run `make firmware`; the lab's limits; without root (run as nobody) the guest is on QEMU's
user-mode network, its RPC port forwarded from a loopback address (a free port in the Python
API), and a push over it installs an app; `make demo` shows the mixed fleet (scan finds both
kinds, one push updates both) and says why when it leaves the Cortex-M part out.

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
import time
import unittest

import qemu
from qemu import SRC, SWARM_BIN
from test_qemu_fleet import BUILD, MCU_KIND, TINY, Lan, lab_leftovers, lanlab


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
        r = self.sim("--nodes", "0", "--mcu", "1", "--prefix", self.prefix, "--keep", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        lab = json.loads(r.stdout.splitlines()[0])
        self.assertEqual(lab["beacon_port"], 1139)  # no Linux node to say so: the default
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

    def test_user_mode_network_on_free_ports(self):
        # the Python API's loopback lab (what tests use): the forward on a port that was free,
        # not 27587, so labs and the machine's own servers never collide
        self.prefix = "swfleeto%d" % os.getpid()
        with Lan(nodes=1, mcu=1, mode="loopback", lab_name=self.prefix, build=BUILD) as lan:
            x = lan.nodes[1]
            self.assertEqual((x.kind, x.guest_ip), (MCU_KIND, "169.254.200.1"))
            self.assertNotEqual(x.port, 27587)
            self.assertEqual(x.uri, "tcp://%s:%d" % (x.ip, x.port))
            r = lan.swarm("call", "--json", x.uri, "ping", "m=free")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, '"R:free"'), r.stderr)
        self.assertEqual(lab_leftovers(self.prefix), ([], []))

    def test_a_guest_that_dies_while_booting(self):
        # QEMU refuses an image that is no firmware: the lab says so with its log, and goes
        self.prefix = "swfleetd%d" % os.getpid()
        tmp = tempfile.mkdtemp(prefix="swfleet-bad-")
        self.addCleanup(shutil.rmtree, tmp, True)
        bad = os.path.join(tmp, "bad.elf")
        with open(bad, "wb") as f:
            f.write(b"\x7fELF but not really" * 10)
        r = self.sim("--nodes", "1", "--mcu", "1", "--prefix", self.prefix, "--", "true",
                     env=dict(os.environ, SWARM_FIRMWARE=bad))
        self.assertEqual(r.returncode, 6, r.stdout + r.stderr)
        self.assertIn("mcu1 (QEMU) exited with status", r.stderr)
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
