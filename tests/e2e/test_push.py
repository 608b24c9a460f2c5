#!/usr/bin/python3
"""swarm push and swarm provision, end to end in the namespace LAN (tests/lab/lanlab.py):

- a project with three apps pushed to 10 nodes, each running its own app (checked through the
  command the app registers); a second push with no change connects to nobody and sends
  nothing (the CLI's --json says so, and the nodes' logs show no new link); edits, additions
  and deletions; --dry-run; --canary with a broken init_ (rolled back on the canary, the others
  untouched); --max-failures; offline hosts; exit codes; --json;
- through a mux, and over serial pty links (lossless and lossy); provisioning a fresh node;
- the node SIGKILLed, or the mux in between killed, at random points of a push: the app tree
  hashes to the old or the new id, never a mix, and the next push succeeds;
- micro-swarm's own flow: its exact lftp command line, then the exact eval reset snippet.

Needs root (network namespaces; CI runs as root); as another user it fails and says so.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)
from swarmtest import NODE_BIN, SWARM_BIN, Node, PtyPairTestCase, app_hash, reap  # noqa: E402
import lanlab  # noqa: E402
from lanlab import Lan, netns  # noqa: E402

ROOT = os.geteuid() == 0
APPS = ["alpha", "beta", "gamma"]
GRACE_MS = 400  # how long the nodes watch a new version in these tests (the default is 3000)
GRACE = "%dms" % GRACE_MS

# The exact bytes micro-swarm's push_code sends to the eval port: script/push_code L133-137 of
# expendable-duck/micro-swarm @ e55dfbf98f9a49172e1327028d8fd0ad610e7532 (a raw bytes literal
# there; /work/shared/spec/micro-swarm-wire.md §4 records the same bytes).
RESET_SNIPPET = (b'if True:\n                    print("\\nReset triggered after code deployment...\\n")\n'
                 b'                    import machine\n                    machine.reset()\n                ')


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def make_app(proj, app, version, broken=False, files=None):
    """apps/APP of a project: main.lua registers APP.ver (answers version); broken: an init_
    that fails. files: more {relative path: bytes}."""
    d = os.path.join(proj, "apps", app)
    shutil.rmtree(d, ignore_errors=True)
    init = 'error("broken on purpose: %s")' % version if broken else 'swarm.log("%s ready")' % version
    write(os.path.join(d, "main.lua"),
          'local VERSION = "%s"\nfunction init_ready()\n  %s\nend\n'
          'swarm.command("ver", function() return VERSION end, "the app version")\n' % (version, init))
    for rel, data in (files or {}).items():
        write(os.path.join(d, rel), data)
    return d


def need_root(test):
    if not ROOT:
        test.fail("this test builds network namespaces and needs root (CI runs as root)")


class PushLab(unittest.TestCase):
    """Ten nodes running alpha, beta, gamma, alpha, …; the tests run in name order and each
    starts from what the previous ones left."""

    N = 10

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swarm-push-")
        cls.proj = os.path.join(cls.tmp, "proj")
        for a in APPS:
            make_app(cls.proj, a, a + "-1", files={"lib/util.lua": "return {n = 1}\n",
                                                   "data/blob.bin": random.Random(a).randbytes(30000)})
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"))
        if not ROOT:
            cls.lan = None
            return
        # node 1 takes its time between the steps of a commit (a test knob of the node), so
        # that kills at random points also land inside the apply
        # log.level debug: the nodes log each TCP link they open (links_opened counts them)
        cfg = lambda i: dict({"log": {"level": "debug"}}, **({"push": {"test_apply_delay_ms": 40}} if i == 1 else {}))
        cls.lan = Lan(nodes=cls.N, apps=APPS, apps_dir=os.path.join(cls.proj, "apps"),
                      name_prefix="swpush", node_config=cfg)
        cls.lan.start()

    @classmethod
    def tearDownClass(cls):
        if cls.lan:
            cls.lan.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        need_root(self)

    # ---- helpers

    def push(self, *args, proj=None, rc=None):
        """swarm push PROJ --json ARGS in the host namespace: (exit status, JSON, stderr)."""
        r = self.lan.swarm("push", proj or self.proj, "--json", *args, timeout=120, env=self.env)
        try:
            out = json.loads(r.stdout) if r.stdout.strip() else None
        except ValueError:
            self.fail("not JSON: %r\n%s" % (r.stdout, r.stderr))
        if rc is not None:
            self.assertEqual(r.returncode, rc, "push %s: %s\n%s\n%s" % (args, r.stdout, r.stderr,
                                                                       self.lan.node_log(0)[-2000:]))
        return r.returncode, out, r.stderr

    def by_name(self, out):
        return {d["device"]: d for d in out["devices"]}

    def node_app(self, i):
        return APPS[i % len(APPS)]

    def tree(self, i, app=None):
        return app_hash(os.path.join(self.lan.nodes[i].root, "apps", app or self.node_app(i)))

    def ver(self, i, app=None, link=None):
        r = self.lan.swarm("call", link or "tcp://%s" % self.lan.nodes[i].ip,
                           "%s.ver" % (app or self.node_app(i)), timeout=30, env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr + self.lan.node_log(i)[-2000:])
        return r.stdout.strip()

    def links_opened(self, i):
        return self.lan.node_log(i).count(": open (")

    def local_id(self, app, proj=None):
        return app_hash(os.path.join(proj or self.proj, "apps", app))

    def start_mux(self, x, sock):
        """A swarm mux for node x on the Unix socket sock, in the host namespace, once it listens."""
        mux = self.lan.popen(self.lan.host_ns, [SWARM_BIN, "mux", "--link", "tcp://%s" % x.ip,
                                                "--socket", sock], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if time.monotonic() > deadline or mux.poll() is not None:
                reap(mux)
                self.fail("the mux did not start")
            time.sleep(0.01)
        return mux

    # ---- the tests

    def test_01_push_every_app(self):
        for a in APPS:
            make_app(self.proj, a, a + "-2", files={"lib/util.lua": "return {n = 2}\n",
                                                    "data/blob.bin": random.Random(a).randbytes(30000)})
        rc, out, err = self.push("--grace", GRACE, rc=0)
        devs = self.by_name(out)
        self.assertEqual(len(devs), self.N, err)
        for i, x in enumerate(self.lan.nodes):
            d = devs[x.name]
            app = self.node_app(i)
            self.assertEqual(d["result"], "ok", d)
            self.assertEqual(d["app"], app)
            self.assertTrue(d["connected"])
            # main.lua and lib/util.lua changed; the blob did not travel
            self.assertEqual(sorted(d["targets"][0]["put"]), ["lib/util.lua", "main.lua"])
            self.assertEqual(d["bytes"], os.path.getsize(os.path.join(self.proj, "apps", app, "main.lua")) +
                             len("return {n = 2}\n"))
            self.assertEqual(d["targets"][0]["id"], self.local_id(app))
            self.assertEqual(self.tree(i), self.local_id(app))
            self.assertEqual(self.ver(i), app + "-2")
        self.assertEqual(out["total"]["ok"], self.N)

    def test_02_no_change_connects_to_nobody(self):
        # right after the push: every beacon and every answer to a scan carries the hash of the
        # files as they are now
        before = [self.links_opened(i) for i in range(self.N)]
        rc, out, err = self.push(rc=0)  # (how long it takes: bench/push)
        for d in out["devices"]:
            self.assertEqual(d["result"], "unchanged", d)
            self.assertTrue(d["quick"], d)
            self.assertFalse(d["connected"], d)
            self.assertEqual(d["bytes"], 0)
        self.assertEqual(out["total"]["connected"], 0)
        self.assertEqual(out["total"]["bytes"], 0)
        # the nodes agree: no new link was opened on any of them
        self.assertEqual([self.links_opened(i) for i in range(self.N)], before)
        # --check connects, compares manifests, and still sends nothing
        rc, out, err = self.push("--check", rc=0)
        for d in out["devices"]:
            self.assertEqual(d["result"], "unchanged", d)
            self.assertTrue(d["connected"])
            self.assertFalse(d["quick"])
            self.assertEqual(d["bytes"], 0)
        self.assertEqual([self.links_opened(i) for i in range(self.N)], [b + 1 for b in before])

    def test_02b_back_and_forth(self):
        # push B, then A again at once: a scan right after the first push must not show B's
        # hash as the old one (the devices would be skipped while they hold B)
        main = os.path.join(self.proj, "apps", "alpha", "main.lua")
        with open(main) as f:
            a = f.read()
        write(main, a.replace("alpha-2", "alpha-b"))
        self.push("--grace", "0", rc=0)
        write(main, a)
        rc, out, err = self.push("--grace", "0", rc=0)
        for i, x in enumerate(self.lan.nodes):
            if self.node_app(i) == "alpha":
                self.assertEqual(self.by_name(out)[x.name]["result"], "ok")
                self.assertEqual(self.tree(i), self.local_id("alpha"))
                self.assertEqual(self.ver(i), "alpha-2")

    def test_03_edit_add_delete(self):
        a = os.path.join(self.proj, "apps")
        with open(os.path.join(a, "alpha", "main.lua")) as f:
            write(os.path.join(a, "alpha", "main.lua"), f.read().replace("alpha-2", "alpha-3"))
        write(os.path.join(a, "alpha", "lib", "deep", "new.lua"), "return 'new'\n")
        os.unlink(os.path.join(a, "beta", "data", "blob.bin"))
        rc, out, err = self.push("--grace", GRACE, rc=0)
        devs = self.by_name(out)
        for i, x in enumerate(self.lan.nodes):
            d, app = devs[x.name], self.node_app(i)
            t = d["targets"][0]
            if app == "alpha":
                self.assertEqual(d["result"], "ok")
                self.assertEqual(sorted(t["put"]), ["lib/deep/new.lua", "main.lua"])
                self.assertEqual(t["del"], [])
                self.assertEqual(self.ver(i), "alpha-3")
            elif app == "beta":
                self.assertEqual(d["result"], "ok")
                self.assertEqual((t["put"], t["del"]), ([], ["data/blob.bin"]))
                self.assertEqual(d["bytes"], 0)
                self.assertFalse(os.path.exists(os.path.join(x.root, "apps", "beta", "data", "blob.bin")))
            else:
                self.assertEqual(d["result"], "unchanged")
                self.assertTrue(d["quick"])
            self.assertEqual(self.tree(i), self.local_id(app))

    def test_04_dry_run(self):
        write(os.path.join(self.proj, "apps", "gamma", "extra.txt"), "x" * 100)
        os.unlink(os.path.join(self.proj, "apps", "gamma", "lib", "util.lua"))
        before = [self.tree(i) for i in range(self.N)]
        rc, out, err = self.push("--dry-run", rc=0)
        for i, x in enumerate(self.lan.nodes):
            d = self.by_name(out)[x.name]
            if self.node_app(i) == "gamma":
                self.assertEqual(d["result"], "dry-run")
                self.assertEqual(d["targets"][0]["put"], ["extra.txt"])
                self.assertEqual(d["targets"][0]["del"], ["lib/util.lua"])
                self.assertEqual(d["bytes"], 0)
                self.assertEqual(d["bytes_total"], 100)
            else:
                self.assertEqual(d["result"], "unchanged")
        self.assertEqual([self.tree(i) for i in range(self.N)], before)
        # without --json: the changes per device, then the table
        r = self.lan.swarm("push", self.proj, "--dry-run", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("apps/gamma: 1 to send (100 B), 1 to delete", r.stdout)
        self.assertIn("  + extra.txt (100 B)", r.stdout)
        self.assertIn("  - lib/util.lua", r.stdout)
        self.assertIn("DEVICE", r.stdout)
        # and the real push of it
        self.push("--grace", GRACE, rc=0)
        for i in range(self.N):
            self.assertEqual(self.tree(i), self.local_id(self.node_app(i)))

    def test_05_canary_stops_on_a_broken_version(self):
        gammas = [i for i in range(self.N) if self.node_app(i) == "gamma"]
        before = {i: self.tree(i) for i in gammas}
        opened = {i: self.links_opened(i) for i in gammas}
        make_app(self.proj, "gamma", "gamma-broken", broken=True)
        rc, out, err = self.push("--to", "app=gamma", "--canary", "1", "--grace", "1500ms", rc=5)
        devs = self.by_name(out)
        canary = self.lan.nodes[gammas[0]].name  # devices go in name order
        self.assertEqual(devs[canary]["result"], "rolled-back", devs[canary])
        self.assertTrue(devs[canary]["canary"])
        self.assertIn("broken on purpose", devs[canary]["reason"])
        for i in gammas[1:]:
            d = devs[self.lan.nodes[i].name]
            self.assertEqual(d["result"], "skipped", d)
            self.assertFalse(d["connected"])
            self.assertEqual(self.links_opened(i), opened[i])
        for i in gammas:  # the canary went back; the others were never touched
            self.assertEqual(self.tree(i), before[i])
            self.assertEqual(self.ver(i), "gamma-2")
        others = [d for d in out["devices"] if d["app"] != "gamma"]
        self.assertTrue(all(d["result"] == "ignored" for d in others), others)
        # the table says the same
        r = self.lan.swarm("push", self.proj, "--to", "app=gamma", "--canary", "1", "--grace", "1500ms",
                           env=self.env)
        self.assertEqual(r.returncode, 5)
        self.assertIn("rolled-back (canary)", r.stdout)
        self.assertIn("skipped: not started: canary %s failed" % canary, r.stdout)

    def test_06_max_failures(self):
        betas = [i for i in range(self.N) if self.node_app(i) == "beta"]
        make_app(self.proj, "beta", "beta-broken", broken=True)
        rc, out, err = self.push("--to", "app=beta", "--max-failures", "1", "--parallel", "1",
                                 "--grace", "1500ms", rc=5)
        res = [self.by_name(out)[self.lan.nodes[i].name]["result"] for i in betas]
        self.assertEqual(res, ["rolled-back"] + ["skipped"] * (len(betas) - 1))
        self.assertEqual(out["total"]["rolled-back"], 1)
        make_app(self.proj, "beta", "beta-4", files={"lib/util.lua": "return {n = 2}\n"})
        make_app(self.proj, "gamma", "gamma-4")
        rc, out, err = self.push("--grace", GRACE, rc=0)
        for i in range(self.N):
            self.assertEqual(self.tree(i), self.local_id(self.node_app(i)))

    def test_07_offline_and_exit_codes(self):
        k = 4
        name = self.lan.nodes[k].name
        self.lan.stop_node(k)
        try:
            rc, out, err = self.push("--host", name, "--host", self.lan.nodes[0].name, "--check", rc=5)
            devs = self.by_name(out)
            self.assertEqual(devs[name]["result"], "offline", devs[name])
            self.assertEqual(devs[self.lan.nodes[0].name]["result"], "unchanged")
            # nothing reachable at all: 3
            rc, out, err = self.push("--host", name, "--host", "no-such-node", rc=3)
            self.assertEqual(sorted(d["result"] for d in out["devices"]), ["offline", "offline"])
            r = self.lan.swarm("push", self.proj, "--host", name, env=self.env)
            self.assertEqual(r.returncode, 3)
            self.assertRegex(r.stdout, r"%s +\S+ +0 +0 B +\S+ +offline" % name)
        finally:
            self.lan.start_node(k)
        # usage and local problems
        r = self.lan.swarm("push", self.proj, "--parallel", "0", env=self.env)
        self.assertEqual(r.returncode, 2)
        r = self.lan.swarm("push", "--bogus", env=self.env)
        self.assertEqual(r.returncode, 2)
        r = self.lan.swarm("push", os.path.join(self.tmp, "nowhere"), env=self.env)
        self.assertEqual(r.returncode, 6)
        self.assertIn("no project directory", r.stderr)
        r = self.lan.swarm("push", "--help", env=self.env)
        self.assertEqual(r.returncode, 0)
        self.assertIn("examples:", r.stdout)

    def test_08_app_override_and_selectors(self):
        # --app alpha --to the first beta node: it gets alpha and runs it from then on
        i = next(i for i in range(self.N) if self.node_app(i) == "beta")
        x = self.lan.nodes[i]
        rc, out, err = self.push("--app", "alpha", "--to", x.name, "--grace", GRACE, rc=0)
        d = self.by_name(out)[x.name]
        self.assertEqual((d["result"], d["app"], d.get("switched")), ("ok", "alpha", True), d)
        self.assertEqual(self.tree(i, "alpha"), self.local_id("alpha"))
        self.assertEqual(self.ver(i, "alpha"), "alpha-3")
        self.assertEqual(sum(1 for d in out["devices"] if d["result"] != "ignored"), 1)
        # back to beta, by a glob on host names
        rc, out, err = self.push("--app", "beta", "--to", x.name[:-1] + "[%s]" % x.name[-1], "--to", "nomatch-*",
                                 "--grace", GRACE, rc=0)
        self.assertEqual(self.ver(i, "beta"), "beta-4")

    def test_08b_app_override_with_a_broken_app_rolls_back(self):
        # issue 15's blocker: --app X to a device running another app, where X's init_ raises.
        # The commit does not reload X (it is not running); the switch to it must be watched for
        # the grace period like a reload, and the device must go back to its own app.
        i = next(i for i in range(self.N) if self.node_app(i) == "gamma")
        x = self.lan.nodes[i]
        before = self.ver(i)
        proj = os.path.join(self.tmp, "proj-broken")
        make_app(proj, "alpha", "alpha-broken", broken=True)
        rc, out, err = self.push("--app", "alpha", "--to", x.name, "--grace", "1500ms", proj=proj, rc=5)
        d = self.by_name(out)[x.name]
        self.assertEqual(d["result"], "rolled-back", d)
        self.assertIn("broken on purpose", d["reason"])
        self.assertNotIn("switched", d)
        self.assertEqual(d["app"], "alpha", d)  # the app pushed
        # it runs its own app again, and says so in its config and log
        self.assertEqual(self.ver(i), before)
        r = self.lan.swarm("cfg", "tcp://%s" % x.ip, "get", "board.app_name", timeout=30, env=self.env)
        self.assertEqual(r.stdout.strip(), "gamma", r.stderr)
        self.assertIn("gamma runs again", self.lan.node_log(i))

    def test_08c_nothing_selected_exits_3(self):
        # a selector that matches nothing: none found (3), and the hint says which names exist
        rc, out, err = self.push("--to", "nodeZZ", rc=3)
        self.assertTrue(all(d["result"] == "ignored" for d in out["devices"]), out)
        # devices come in natural name order (node2 before node10)
        self.assertEqual([d["device"] for d in out["devices"]], [x.name for x in self.lan.nodes])
        self.assertIn("no device matches --to nodeZZ: found %s" % sorted(x.name for x in self.lan.nodes)[0], err)
        # a device whose app the project lacks: 3, and the hint names the device and its app
        proj = os.path.join(self.tmp, "proj-other")
        make_app(proj, "delta", "delta-1")
        x = self.lan.nodes[0]
        rc, out, err = self.push("--link", "tcp://%s" % x.ip, proj=proj, rc=3)
        self.assertIn("%s runs %s, and the project has no apps/%s" % (x.name, self.node_app(0), self.node_app(0)),
                      err)
        self.assertIn("--app", err)

    def test_08d_interrupted_in_the_grace_period(self):
        # Ctrl-C while the device watches its new version: the device goes on alone, so the
        # result says it switched and that its health is unknown (not a bare "interrupted")
        i = 0
        x = self.lan.nodes[i]
        proj = os.path.join(self.tmp, "proj-int")
        app = self.node_app(i)
        make_app(proj, app, app + "-int")
        log0 = len(self.lan.node_log(i))
        p = self.lan.popen(self.lan.host_ns, [SWARM_BIN, "push", proj, "--json", "--link", "tcp://%s" % x.ip,
                                              "--grace", "5s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        try:
            deadline = time.monotonic() + 60
            while "reloading %s" % app not in self.lan.node_log(i)[log0:]:
                self.assertIsNone(p.poll(), "push ended before the reload")
                self.assertLess(time.monotonic(), deadline, self.lan.node_log(i)[log0:])
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
        finally:
            reap(p)
        self.assertEqual(p.returncode, 130, err)
        d = json.loads(out)["devices"][0]
        self.assertEqual(d["result"], "failed", d)
        self.assertIn("interrupted: switched, health unknown", d["reason"])
        self.assertEqual(self.tree(i), self.local_id(app, proj=proj))  # it does run the new version
        # the node finishes its grace period alone (the next tests push to it again)
        deadline = time.monotonic() + 60
        while "healthy" not in self.lan.node_log(i)[log0:]:
            self.assertLess(time.monotonic(), deadline, self.lan.node_log(i)[log0:])
            time.sleep(0.05)

    def test_08e_progress_counts_only_the_devices_of_the_push(self):
        # on a terminal the progress block's total counts the devices this push is for (1 of
        # 10 here), not every device the scan found
        import pty
        x = self.lan.nodes[0]
        proj = os.path.join(self.tmp, "proj-progress")
        make_app(proj, self.node_app(0), "progress")
        master, slave = pty.openpty()
        try:
            p = self.lan.popen(self.lan.host_ns, [SWARM_BIN, "push", proj, "--to", x.name, "--grace", "1s"],
                               stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL, env=self.env)
            os.close(slave)
            slave = None
            got = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                got += chunk
            self.assertEqual(p.wait(60), 0, got.decode(errors="replace"))
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        text = got.decode(errors="replace")
        self.assertIn("total: 0/1 done", text)
        self.assertNotIn("/%d done" % self.N, text)

    def test_09_through_a_mux(self):
        x = self.lan.nodes[0]
        sock = os.path.join(self.tmp, "mux0.sock")
        mux = self.start_mux(x, sock)
        try:
            make_app(self.proj, "alpha", "alpha-mux", files={"lib/util.lua": "return {n = 2}\n",
                                                           "lib/deep/new.lua": "return 'new'\n"})
            rc, out, err = self.push("--link", "unix://" + sock, "--grace", GRACE, rc=0)
            self.assertEqual([d["result"] for d in out["devices"]], ["ok"])
            self.assertEqual(out["devices"][0]["device"], x.name)
            self.assertEqual(self.ver(0, link="unix://" + sock), "alpha-mux")
            self.assertEqual(self.tree(0), self.local_id("alpha"))
        finally:
            reap(mux)

    # ---- cut at random points

    def cut_versions(self, app, k):
        """Version k of app: a big file that changes (so a push takes a while), files added
        and removed by turns."""
        rng = random.Random(1000 + k)
        files = {"big.bin": rng.randbytes(600_000), "lib/util.lua": "return {n = %d}\n" % k}
        files["extra/%d.txt" % (k % 3)] = "extra %d\n" % k
        return make_app(self.proj, app, "%s-cut%d" % (app, k), files=files)

    def wait_quiet(self, i, app):
        """The node's tree once it has stopped changing (a commit may still be under way)."""
        last, since = None, time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            h = self.tree(i, app)
            if h != last:
                last, since = h, time.monotonic()
            elif time.monotonic() - since > 1.2:
                return h
            time.sleep(0.05)
        return last

    def test_10_node_killed_at_random_points(self):
        k = 1  # beta
        app, name = self.node_app(k), self.lan.nodes[k].name
        rng = random.Random(20261121)
        # how long an uncut push of one version takes here
        self.cut_versions(app, 0)
        t0 = time.monotonic()
        self.push("--host", name, "--grace", GRACE, rc=0)
        span = time.monotonic() - t0
        outcomes = []
        for it in range(1, 9):
            old = self.tree(k)
            self.cut_versions(app, it)
            new = self.local_id(app)
            self.assertNotEqual(old, new)
            p = self.lan.popen(self.lan.host_ns, [SWARM_BIN, "push", self.proj, "--host", name, "--json",
                                                  "--grace", GRACE], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=self.env)
            time.sleep(rng.uniform(0.0, span))
            self.lan.stop_node(k, sig=signal.SIGKILL)
            p.communicate(timeout=60)
            self.lan.start_node(k)
            got = self.tree(k)
            self.assertIn(got, (old, new), "a mix after a kill at iteration %d" % it)
            outcomes.append("new" if got == new else "old")
            rc, out, err = self.push("--host", name, "--grace", GRACE, rc=0)
            self.assertEqual(self.tree(k), new)
            self.assertEqual(self.ver(k), "%s-cut%d" % (app, it))
        sys.stderr.write("\nnode killed at random points: %s\n" % " ".join(outcomes))

    def test_11_mux_killed_at_random_points(self):
        k = 2  # gamma
        x = self.lan.nodes[k]
        app = self.node_app(k)
        sock = os.path.join(self.tmp, "mux2.sock")
        rng = random.Random(7)
        span = None
        outcomes = []
        for it in range(0, 7):
            old = self.tree(k)
            self.cut_versions(app, it)
            new = self.local_id(app)
            mux = self.start_mux(x, sock)
            try:
                t0 = time.monotonic()
                p = self.lan.popen(self.lan.host_ns, [SWARM_BIN, "push", self.proj, "--link", "unix://" + sock,
                                                      "--json", "--grace", GRACE],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
                if span is None:  # the first one goes through: how long one takes
                    out, err = p.communicate(timeout=60)
                    self.assertEqual(p.returncode, 0, out + err)
                    span = time.monotonic() - t0
                    continue
                # within the transfer and the apply: the grace period of a commit that is
                # out only ends in the new version
                time.sleep(rng.uniform(0.0, max(0.05, span - GRACE_MS / 1000.0)))
                mux.kill()
                mux.wait()
                out, err = p.communicate(timeout=60)
            finally:
                reap(mux)
                if os.path.exists(sock):
                    os.unlink(sock)
            got = self.wait_quiet(k, app)
            self.assertIn(got, (old, new), "a mix after the mux died at iteration %d" % it)
            outcomes.append("new" if got == new else "old")
            self.assertTrue(x.running())
            rc, out, err = self.push("--host", x.name, "--grace", GRACE, rc=0)
            self.assertEqual(self.tree(k), new)
        sys.stderr.write("\nmux killed at random points (one push: %.2f s): %s\n" % (span, " ".join(outcomes)))

    # ---- micro-swarm's flow

    def test_12_micro_swarm_lftp_and_eval_reset(self):
        k = 3  # alpha
        x = self.lan.nodes[k]
        src = os.path.join(self.tmp, "ms")
        d = make_app(src, "alpha", "alpha-ftp", files={"lib/util.lua": "return {n = 9}\n"})
        # push_code's script, quoted and joined exactly as it does (spec §3)
        cmds = [["set", "cmd:fail-exit", "yes"], ["set", "ftp:list-options", "-a"],
                ["set", "ftp:passive-mode", "yes"], ["open", "ftp://%s:%d" % (x.ip, 21)],
                ["lcd", d], ["cd", "/apps/alpha/"],
                ["mirror", "--reverse", "--scan-all-first", "--transfer-all", "--delete", "--use-cache",
                 "--verbose", "--no-perms", "--no-umask", "--parallel=1", "--exclude-glob", "__pycache__",
                 "--exclude-glob", ".*"]]
        q = lambda w: "'" + w.replace("\\", "\\\\").replace("'", "\\'") + "'"
        script = ";\n".join(" ".join(q(w) for w in c) for c in cmds)
        r = self.lan.run(self.lan.host_ns, ["lftp", "-c", script], timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        boots = self.lan.node_log(k).count(" starting: host ")
        with netns(self.lan.host_ns):
            s = socket.create_connection((x.ip, 1139), timeout=10)
        s.sendall(RESET_SNIPPET)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(s.recv(100), b"")
        s.close()
        deadline = time.monotonic() + 20
        while self.lan.node_log(k).count(" starting: host ") <= boots:
            self.assertLess(time.monotonic(), deadline, "no reset:\n" + self.lan.node_log(k)[-3000:])
            time.sleep(0.05)
        self.lan.wait_ready()
        self.assertEqual(self.ver(k), "alpha-ftp")
        self.assertEqual(self.tree(k), app_hash(d))
        # and swarm push takes it from there: back to the project's alpha
        rc, out, err = self.push("--host", x.name, "--grace", GRACE, rc=0)
        self.assertEqual(self.tree(k), self.local_id("alpha"))


class LuaCheck(unittest.TestCase):
    """A Lua syntax error fails on the host: the device is not even connected to."""

    def test_typo_fails_before_any_device_is_touched(self):
        tmp = tempfile.mkdtemp(prefix="swarm-luacheck-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proj = os.path.join(tmp, "proj")
        make_app(proj, "alpha", "alpha-1")
        write(os.path.join(proj, "apps", "alpha", "lib", "bad.lua"), "local x = = 1\n")
        node = Node(name="luacheck", app="alpha")
        self.addCleanup(node.stop)
        node.start()
        link = "tcp://127.0.0.1:%d" % node.port
        r = subprocess.run([SWARM_BIN, "push", proj, "--link", link], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 6, r.stdout + r.stderr)
        self.assertIn("apps/alpha/lib/bad.lua:1: unexpected symbol near '='", r.stderr)
        self.assertIn("nothing was pushed", r.stderr)
        self.assertNotIn("push:", node.read_log())  # no staging, no commit
        # --no-lua-check: pushed (the node would then judge it; this file is never loaded)
        r = subprocess.run([SWARM_BIN, "push", proj, "--link", link, "--no-lua-check", "--grace", GRACE],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(node.root, "apps", "alpha", "lib", "bad.lua")))

    def test_every_bad_file_of_a_large_project_is_reported(self):
        # 60 modules: the check compiles them on several threads (lua_check.c); each of the
        # three typos is reported once, whichever thread compiled it, and the good files are
        # remembered (fcache): with the typos fixed, the push goes through
        tmp = tempfile.mkdtemp(prefix="swarm-luacheck-")
        self.addCleanup(shutil.rmtree, tmp, True)
        proj = os.path.join(tmp, "proj")
        mods = {"lib/d%d/m%02d.lua" % (k % 4, k): "local M = {}\nfunction M.f(x) return x + %d end\nreturn M\n" % k
                for k in range(60)}
        bad = {"lib/d0/m08.lua", "lib/d1/m33.lua", "lib/d3/m59.lua"}
        for rel in bad:
            mods[rel] = "local M = {\nreturn M\n"
        make_app(proj, "alpha", "alpha-many", files=mods)
        node = Node(name="luacheck2", app="alpha")
        self.addCleanup(node.stop)
        node.start()
        link = "tcp://127.0.0.1:%d" % node.port
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        r = subprocess.run([SWARM_BIN, "push", proj, "--link", link], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual(r.returncode, 6, r.stdout + r.stderr)
        for rel in sorted(bad):
            self.assertEqual(r.stderr.count("apps/alpha/%s:2: unexpected symbol" % rel), 1, r.stderr)
        self.assertEqual(r.stderr.count(".lua:"), 3, r.stderr)
        self.assertIn("3 Lua files do not compile; nothing was pushed", r.stderr)
        self.assertNotIn("push:", node.read_log())
        for rel in bad:
            write(os.path.join(proj, "apps", "alpha", rel), "return {}\n")
        r = subprocess.run([SWARM_BIN, "push", proj, "--link", link, "--grace", GRACE], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(node.client().call("alpha.ver"), "alpha-many")


class FleetLab(unittest.TestCase):
    """swarm fleet's selection on a scanned LAN: push's selectors, --app, --all."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swarm-fleet-")
        proj = os.path.join(cls.tmp, "proj")
        for a in APPS:
            make_app(proj, a, a + "-f")
        cls.env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"))
        cls.lan = None
        if ROOT:
            cls.lan = Lan(nodes=5, apps=APPS, apps_dir=os.path.join(proj, "apps"), name_prefix="swfleet")
            cls.lan.start()

    @classmethod
    def tearDownClass(cls):
        if cls.lan:
            cls.lan.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        need_root(self)

    def fleet(self, *args):
        return self.lan.swarm("fleet", *args, timeout=120, env=self.env)

    def test_selectors(self):
        names = [x.name for x in self.lan.nodes]
        r = self.fleet("--all", "call", "ping", "m=all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x.split()[0] for x in r.stdout.splitlines()], names)  # natural order
        # --app: the devices running it, each answering through its own app's command
        betas = [x.name for i, x in enumerate(self.lan.nodes) if APPS[i % 3] == "beta"]
        r = self.fleet("--app", "beta", "call", "beta.ver")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x.split()[0] for x in r.stdout.splitlines()], betas)
        self.assertTrue(all(x.endswith('"beta-f"') for x in r.stdout.splitlines()), r.stdout)
        # --to with a glob, as push takes it; --json lines
        r = self.lan.swarm("--json", "fleet", "--to", names[1], "--to", names[3], "eval", "1 + 1",
                           timeout=120, env=self.env)
        objs = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual([o["device"] for o in objs[:-1]], [names[1], names[3]])
        self.assertEqual([o["result"]["repr"] for o in objs[:-1]], ["2", "2"])
        # a group of the user's config stands for its selectors
        cfg = os.path.join(self.tmp, "config")
        os.makedirs(os.path.join(cfg, "swarm"), exist_ok=True)
        with open(os.path.join(cfg, "swarm", "config"), "w") as f:
            f.write("[groups]\nodd = %s %s  # two of them\n" % (names[0], names[2]))
        r = self.lan.swarm("fleet", "--to", "odd", "call", "ping", timeout=120,
                           env=dict(self.env, XDG_CONFIG_HOME=cfg))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x.split()[0] for x in r.stdout.splitlines()], [names[0], names[2]])
        # nothing matches: 3, with the names found
        r = self.fleet("--to", "nodeZZ", "call", "ping")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("no device matches the selection", r.stderr)
        self.assertIn(names[0], r.stderr)


class SerialPush(PtyPairTestCase):
    """A node on one end of a pty pair (no network services), the CLI on the other."""

    def node(self, *extra, root=None, cfg=True):
        root = root or tempfile.mkdtemp(prefix="swarm-push-ser-")
        self.addCleanup(shutil.rmtree, root, True)
        if cfg:  # nothing on the network: this runs in the root namespace
            with open(os.path.join(root, "swarm.cfg"), "wb") as f:
                f.write(lanlab._mp({"boot": {"FTPD_ENABLE": False, "TELNET_ENABLE": False,
                                             "REMOTE_EVAL_ENABLE": False, "MDNS_ENABLE": False,
                                             "BEACON_ENABLE": False}}, bytearray()))
        log = open(os.path.join(root, "node.log"), "ab")
        self.addCleanup(log.close)
        p = subprocess.Popen([NODE_BIN, "--root", root, "--port", "0", "--listen", "127.0.0.1",
                              "--serial", self.a] + list(extra), stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(reap, p)
        self.root = root
        # a lossless line has no handshake: what is sent before the node opened its end is lost
        deadline = time.monotonic() + 20
        while ": open (" not in self.log():
            self.assertIsNone(p.poll(), self.log())
            self.assertLess(time.monotonic(), deadline, self.log())
            time.sleep(0.02)
        return p

    def log(self):
        with open(os.path.join(self.root, "node.log"), errors="replace") as f:
            return f.read()

    def swarm(self, *args, timeout=120):
        return subprocess.run([SWARM_BIN] + list(args), capture_output=True, text=True, timeout=timeout)

    def project(self, version):
        proj = os.path.join(self.tmp, "proj")
        make_app(proj, "alpha", version, files={"lib/util.lua": "return 1\n", "data/x.bin": b"\x01" * 3000})
        return proj

    def serial_push(self, uri):
        proj = self.project("alpha-ser1")
        r = self.swarm("push", proj, "--link", uri, "--json", "--grace", GRACE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.log()[-3000:])
        d = json.loads(r.stdout)["devices"][0]
        self.assertEqual(d["result"], "ok", d)
        self.assertEqual(d["device"], "ser1")
        self.assertEqual(app_hash(os.path.join(self.root, "apps", "alpha")), app_hash(os.path.join(proj, "apps", "alpha")))
        r = self.swarm("call", uri, "alpha.ver")
        self.assertEqual(r.stdout.strip(), "alpha-ser1", r.stderr)
        # a second push finds nothing to do (no beacon here: it compares manifests)
        r = self.swarm("push", proj, "--link", uri, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)["devices"][0]
        self.assertEqual((d["result"], d["bytes"]), ("unchanged", 0))

    def test_lossless(self):
        self.node("--name", "ser1", "--app", "alpha")
        self.serial_push("serial://" + self.b)

    def test_lossy(self):
        self.node("--name", "ser1", "--app", "alpha", "--lossy")
        self.serial_push("serial://%s?mode=lossy" % self.b)

    def test_provision_a_fresh_node(self):
        self.node()  # no identity on its command line: a node fresh from flashing
        uri = "serial://" + self.b
        r = self.swarm("provision", uri, "--host", "prov-1", "--app", "alpha", "--board", "posix-sim")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + self.log()[-3000:])
        self.assertIn("host prov-1, app alpha, board posix-sim", r.stdout)
        self.assertTrue(os.path.isdir(os.path.join(self.root, "apps", "alpha")))
        r = self.swarm("call", uri, "sys.info", "--json")
        info = json.loads(r.stdout)
        self.assertEqual((info["host_name"], info["app_name"]), ("prov-1", "alpha"))
        # then a push fills the app folder and the app runs
        proj = self.project("alpha-prov")
        r = self.swarm("push", proj, "--link", uri, "--json", "--grace", GRACE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.swarm("call", uri, "alpha.ver").stdout.strip(), "alpha-prov")
        # a board the node was not built with: refused with its boards, nothing written
        r = self.swarm("provision", uri, "--host", "prov-2", "--app", "alpha", "--board", "esp32")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("has no board 'esp32' (it has: posix-sim, none); nothing written", r.stderr)
        info = json.loads(self.swarm("call", uri, "sys.info", "--json").stdout)
        self.assertEqual((info["host_name"], info["hardware_name"]), ("prov-1", "posix-sim"))
        # bad usage
        self.assertEqual(self.swarm("provision", uri, "--host", "x").returncode, 2)
        self.assertEqual(self.swarm("provision", uri, "--host", "a/b", "--app", "x", "--board", "y").returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
