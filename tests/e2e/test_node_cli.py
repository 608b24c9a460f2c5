"""swarm-node's command line and its POSIX port as a user sees them: --help/--version, usage
errors (exit 2), --print-config (JSON with the identity given, nothing written), the root
created like mkdir -p, an orderly stop on SIGTERM or sys.stop (exit 0), a busy port (exit 1),
RPC over --stdio pipes and over a --serial pty, and a reset that re-executes the process in
place with its stdio link intact."""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tty
import unittest

from swarmtest import NODE_BIN, SRC, Client, Node, free_port, loopback_config, pack, unpacker

OPTIONS = ("--root", "--name", "--app", "--board", "--port", "--listen", "--stdio", "--serial",
           "--baud", "--lossy", "--heap-max", "--services", "--print-config", "--version", "--help")


def loopback_args(args):
    """args of a node that runs: with --listen 127.0.0.1 unless given, and, when its root exists
    and has no config yet, a config with the LAN services off and the beacon on a free
    loopback port (swarmtest.loopback_config): these nodes open no socket beyond loopback and
    no fixed port. (A root the node is to create itself gets no config: that node's FTP,
    telnet and eval try their default ports on 127.0.0.1, which the test does not use.)"""
    args = list(args)
    if "--print-config" in args:
        return args
    if "--root" in args and "--listen" not in args:
        args += ["--listen", "127.0.0.1"]
    if "--root" in args[:-1]:
        root = args[args.index("--root") + 1]
        cfg = os.path.join(root, "swarm.cfg")
        if os.path.isdir(root) and not os.path.exists(cfg):
            with open(cfg, "wb") as f:
                f.write(pack(loopback_config(services=False)))
    return args


class CliCase(unittest.TestCase):
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="swarm-cli-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def run_node(self, *args, timeout=30, raw=False):
        """args as given if raw (usage errors: the node never starts), else loopback_args."""
        return subprocess.run([NODE_BIN, *(args if raw else loopback_args(args))], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)

    def spawn(self, *args, **kw):
        """A node process that is killed (and reaped) at cleanup whatever happens."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        log = tempfile.TemporaryFile()
        self.addCleanup(log.close)
        p = subprocess.Popen([NODE_BIN, *loopback_args(args)], stderr=log, **kw)
        p.log = log

        def reap():
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdin, p.stdout):
                if f:
                    f.close()
        self.addCleanup(reap)
        return p

    def log_of(self, p):
        p.log.seek(0)
        return p.log.read().decode(errors="replace")

    def stop(self, p, timeout=20):
        """SIGTERM; the orderly stop must end the process with status 0."""
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("swarm-node did not stop on SIGTERM:\n" + self.log_of(p))
        self.assertEqual(rc, 0, self.log_of(p))

    def wait_log(self, p, text, timeout=20):
        deadline = time.monotonic() + timeout
        while text not in self.log_of(p):
            if p.poll() is not None or time.monotonic() > deadline:
                self.fail("%r not logged (status %s):\n%s" % (text, p.poll(), self.log_of(p)))
            time.sleep(0.02)

    def wait_listening(self, p, port, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                self.fail("swarm-node exited with %s:\n%s" % (p.returncode, self.log_of(p)))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.02)
        self.fail("swarm-node did not listen on %d:\n%s" % (port, self.log_of(p)))


class HelpVersion(CliCase):
    def test_help_lists_every_option_and_exit_codes(self):
        r = self.run_node("--help")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "")
        self.assertTrue(r.stdout.startswith("usage: swarm-node --root DIR"), r.stdout)
        for opt in OPTIONS:
            self.assertIn(opt, r.stdout)
        self.assertIn("default", r.stdout)
        self.assertIn("exit status", r.stdout)
        for code in ("0", "1", "2"):
            self.assertRegex(r.stdout, r"\n  %s  \S" % code)
        self.assertEqual(self.run_node("-h").stdout, r.stdout)

    def test_service_table_drives_options_and_docs(self):
        """One table of services (swarm-node --services): its copy in docs/swarm-node.md is its
        printout, --help and the parser have a --no-NAME for every row, and each of them turns
        its service off for the run."""
        r = self.run_node("--services")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [x for x in r.stdout.splitlines() if x.startswith("| `")]
        names = [re.match(r"\| `([a-z]+)`", x).group(1) for x in rows]
        self.assertEqual(names, ["rpc", "ftp", "telnet", "eval", "beacon", "mdns"])
        for row, name in zip(rows, names):
            self.assertIn("`--no-%s`" % name, row)
        with open(os.path.join(SRC, "docs", "swarm-node.md")) as f:
            doc = f.read()
        start = doc.index("<!-- service table: the output of swarm-node --services -->\n")
        end = doc.index("<!-- end of the service table -->")
        self.assertEqual(doc[doc.index("\n", start) + 1:end], r.stdout)
        helptext = self.run_node("--help").stdout
        for name in names:
            self.assertIn("--no-%s " % name, helptext)
        # every row but rpc off at once (rpc stays: the node must be reachable)
        node = Node(extra=["--no-%s" % x for x in names if x != "rpc"])
        self.addCleanup(node.stop)
        node.start()
        log = node.read_log()
        for name in names[1:]:
            self.assertIn("%s: off for this run" % name, log)
        self.assertEqual(Client(node.port).call("ping", {"m": "x"}), "R:x")

    def test_version_matches_the_header(self):
        with open(os.path.join(SRC, "include", "swarm", "sw.h")) as f:
            want = re.search(r'#define SW_VERSION_STRING "([^"]+)"', f.read()).group(1)
        for flag in ("--version", "-V"):
            r = self.run_node(flag)
            self.assertEqual(r.returncode, 0)
            self.assertEqual(r.stdout, "swarm-node %s\n" % want)


class UsageErrors(CliCase):
    def assert_usage(self, *args, mention=None):
        r = self.run_node(*args, raw=True)
        self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertIn("--help", r.stderr)  # the hint
        if mention:
            self.assertIn(mention, r.stderr)

    def test_bad_options_and_values(self):
        root = self.tmpdir()
        self.assert_usage(mention="--root")
        self.assert_usage("--bogus", mention="--bogus")
        self.assert_usage("-x", mention="-x")
        self.assert_usage("--root", mention="--root")
        self.assert_usage("--root", root, "stray", mention="stray")
        self.assert_usage("--root", root, "--port", "70000", mention="--port")
        self.assert_usage("--root", root, "--port", "-1", mention="--port")
        self.assert_usage("--root", root, "--port", "12ab", mention="--port")
        self.assert_usage("--root", root, "--serial", "/dev/null", "--baud", "12345",
                          mention="--baud")
        self.assert_usage("--root", root, "--baud", "9600", mention="--serial")
        self.assert_usage("--root", root, "--lossy", mention="--serial")
        self.assert_usage("--root", root, "--heap-max", "10", mention="--heap-max")
        self.assert_usage("--root", root, "--name", "", mention="--name")
        self.assert_usage("--root", root, "--app", "a/b", mention="--app")

    def test_unusable_root(self):
        d = self.tmpdir()
        f = os.path.join(d, "file")
        open(f, "w").close()
        self.assert_usage("--root", f, mention="not a directory")
        self.assert_usage("--root", os.path.join(f, "sub"), mention="--root")
        self.assertEqual(os.listdir(d), ["file"])


class PrintConfig(CliCase):
    def test_identity_and_nothing_written(self):
        root = self.tmpdir()
        r = self.run_node("--root", root, "--name", "cli-node", "--app", "cli-app",
                          "--board", "cli-board", "--port", "4567", "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertIsInstance(cfg, dict)
        self.assertEqual(cfg["board"]["host_name"], "cli-node")
        self.assertEqual(cfg["board"]["app_name"], "cli-app")
        self.assertEqual(cfg["board"]["hardware_name"], "cli-board")
        self.assertEqual(cfg["rpc"]["port"], 4567)
        self.assertEqual(os.listdir(root), [])  # no config file, no apps/

    def test_missing_root_is_not_created(self):
        root = os.path.join(self.tmpdir(), "a", "b")
        r = self.run_node("--root", root, "--name", "x1", "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["board"]["host_name"], "x1")
        self.assertFalse(os.path.exists(os.path.dirname(root)))

    def test_defaults_name_from_machine_id(self):
        root = self.tmpdir()
        r = self.run_node("--root", root, "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertRegex(cfg["board"]["host_name"], r"^swarm-[0-9a-f]{4}$")
        # stable for the same root, so a node keeps its name across runs
        self.assertEqual(json.loads(self.run_node("--root", root, "--print-config").stdout), cfg)


class Running(CliCase):
    def test_root_created_then_orderly_stop(self):
        root = os.path.join(self.tmpdir(), "deep", "er", "root")
        port = free_port()
        p = self.spawn("--root", root, "--name", "run1", "--port", str(port),
                       "--listen", "127.0.0.1")
        self.wait_listening(p, port)
        self.assertTrue(os.path.isdir(root))
        self.stop(p)
        self.assertIn("signal", self.log_of(p))

    def test_port_in_use_is_a_runtime_error(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_node("--root", self.tmpdir(), "--port", str(port), "--listen", "127.0.0.1")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(str(port), r.stderr)

    def test_bad_listen_address_is_a_runtime_error(self):
        r = self.run_node("--root", self.tmpdir(), "--port", str(free_port()),
                          "--listen", "not-an-address")
        self.assertEqual(r.returncode, 1, r.stderr)


def read_msg(fd, unp, timeout=15.0):
    """Next MsgPack message from fd that is not a console byte or a link notice."""
    deadline = time.monotonic() + timeout
    while True:
        for m in unp:
            if isinstance(m, dict) and m.get("a") == "link":
                continue
            if isinstance(m, int):
                continue
            return m
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no message")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                raise ConnectionError("end of stream")
            unp.feed(data)


class Links(CliCase):
    def test_stdio_ping_then_eof(self):
        p = self.spawn("--root", self.tmpdir(), "--port", "0", "--stdio",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        unp = unpacker()
        p.stdin.write(pack({"a": "ping", "d": {"m": "via stdio"}, "i": 1}))
        p.stdin.flush()
        self.assertEqual(read_msg(p.stdout.fileno(), unp), {"d": "R:via stdio", "i": 1})
        # a second request, several in one write
        p.stdin.write(pack({"a": "ping", "d": {"m": 2}, "i": 2}) +
                      pack({"a": "ping", "d": {"m": 3}, "i": 3}))
        p.stdin.flush()
        self.assertEqual(read_msg(p.stdout.fileno(), unp)["d"], "R:2")
        self.assertEqual(read_msg(p.stdout.fileno(), unp)["d"], "R:3")
        p.stdin.close()  # EOF: the link closes, the node keeps running
        time.sleep(0.3)
        self.assertIsNone(p.poll(), self.log_of(p))
        self.stop(p)

    def test_reset_restarts_in_place_and_stdio_survives(self):
        p = self.spawn("--root", self.tmpdir(), "--port", "0", "--stdio",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out = p.stdout.fileno()
        unp = unpacker()
        p.stdin.write(pack({"a": "ping", "d": {"m": "before"}, "i": 1}))
        p.stdin.flush()
        self.assertEqual(read_msg(out, unp), {"d": "R:before", "i": 1})
        p.stdin.write(pack({"a": ["sys", "reset"], "d": {"code": "SysRsT"}, "i": 2}))
        p.stdin.flush()
        self.assertEqual(read_msg(out, unp).get("i"), 2)
        self.wait_log(p, "restarting")
        deadline = time.monotonic() + 20
        while self.log_of(p).count("ready") < 2:  # the re-executed node is up
            self.assertLess(time.monotonic(), deadline, self.log_of(p))
            self.assertIsNone(p.poll(), self.log_of(p))
            time.sleep(0.02)
        # the same process (exec keeps the pid), the same pipes
        p.stdin.write(pack({"a": "ping", "d": {"m": "after"}, "i": 3}))
        p.stdin.flush()
        self.assertEqual(read_msg(out, unp), {"d": "R:after", "i": 3})
        self.assertIsNone(p.poll())
        self.stop(p)

    def test_sys_stop_exits_zero(self):
        port = free_port()
        p = self.spawn("--root", self.tmpdir(), "--port", str(port), "--listen", "127.0.0.1")
        self.wait_listening(p, port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(pack({"a": ["sys", "stop"], "d": {"code": "SysStoP"}, "i": 1}))
            try:
                while s.recv(65536):  # replies, link false, then the node closes
                    pass
            except ConnectionResetError:
                pass
        self.assertEqual(p.wait(20), 0, self.log_of(p))

    def test_serial_pty_ping(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        tty.setraw(master)
        self.addCleanup(os.close, slave)  # held open: reading the master would fail without it
        dev = os.ttyname(slave)
        p = self.spawn("--root", self.tmpdir(), "--port", "0", "--serial", dev, "--baud", "921600")
        self.wait_log(p, "ready")  # the node flushes what the line held before it opened it
        unp = unpacker()
        os.write(master, pack({"a": "ping", "d": {"m": "tty"}, "i": 7}))
        self.assertEqual(read_msg(master, unp), {"d": "R:tty", "i": 7})
        # a second node cannot take the same line
        r = self.run_node("--root", self.tmpdir(), "--port", "0", "--serial", dev)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.stop(p)


if __name__ == "__main__":
    unittest.main(verbosity=2)
