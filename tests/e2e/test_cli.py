"""The swarm CLI (tools/swarm.c, src/host/cli*.c, hlink*.c) against real swarm-node processes:
help texts and exit codes; call in both output modes with key=value and JSON arguments; remote
errors (1), unreachable devices (3) and timeouts (4); streams with --every/--count and Ctrl-C
(the cancel reaches the device); cfg get/set/del/apply; eval; and serial links over socat pty
pairs in lossless and lossy mode, where the node's console output must never mix into replies."""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from swarmtest import (NODE_BIN, SRC, SWARM_BIN, Node, PtyPairTestCase, check_repl, free_port, pack,
                       reap, swarm_running, unpacker)

COMMANDS = ("call", "cfg", "eval")


def swarm(*args, timeout=30, input=None):
    return subprocess.run([SWARM_BIN, *args], capture_output=True, text=True, timeout=timeout,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


class FakeNode:
    """A TCP peer written from the spec that records every message it gets. mode "stream":
    answers stream requests with a value every r ms until it sees the cancel {"i": seq};
    mode "silent": accepts, says link true, and never answers anything."""

    def __init__(self, mode):
        self.mode = mode
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.got = []          # messages received, in order
        self.closed = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.srv.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            self.serve(conn)

    def serve(self, conn):
        conn.sendall(pack({"d": True, "a": "link"}))
        unp = unpacker()
        streams = {}  # seq → [interval s, next due, counter]
        conn.setblocking(False)
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                for seq, st in list(streams.items()):
                    if now >= st[1]:
                        st[2] += 1
                        st[1] = now + st[0]
                        conn.sendall(pack({"i": seq, "d": st[2] * 10, "n": st[2]}))
                r, _, _ = select.select([conn], [], [], 0.01)
                if not r:
                    continue
                data = conn.recv(65536)
                if not data:
                    break
                unp.feed(data)
                for m in unp:
                    self.got.append(m)
                    if not isinstance(m, dict) or self.mode != "stream":
                        continue
                    if "a" in m and "r" in m:
                        streams[m["i"]] = [m["r"] / 1000.0, 0, 0]
                    elif set(m) == {"i"}:
                        streams.pop(m["i"], None)
        finally:
            conn.close()
            self.closed.set()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.srv.close()


class HelpAndUsage(unittest.TestCase):
    def test_help_lists_every_command(self):
        r = swarm("--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        for cmd in COMMANDS + ("help",):
            self.assertRegex(r.stdout, r"\n  %s +\S" % cmd)  # name and its one-line summary
        for opt in ("--json", "--quiet", "--verbose", "--timeout", "--version", "exit status"):
            self.assertIn(opt, r.stdout)

    def test_version(self):
        for args in (["--version"], ["-V"], ["version"]):
            r = swarm(*args)
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"^swarm \d+\.\d+\.\d+\n$")

    def test_no_command_is_usage(self):
        r = swarm()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: swarm", r.stderr)

    def test_unknown_command(self):
        r = swarm("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        self.assertIn("swarm --help", r.stderr)
        r = swarm("cal")
        self.assertEqual(r.returncode, 2)
        self.assertIn("did you mean 'call'", r.stderr)
        r = swarm("help", "nosuch")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'nosuch'", r.stderr)

    def test_unknown_global_option(self):
        r = swarm("--frob", "call")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--frob'", r.stderr)

    def test_every_command_has_help(self):
        for cmd in COMMANDS:
            r = swarm(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
            self.assertTrue(r.stdout.startswith("usage: swarm %s" % cmd), r.stdout)
            self.assertIn("options:", r.stdout)
            self.assertIn("example", r.stdout)
            self.assertEqual(swarm("help", cmd).stdout, r.stdout)  # help CMD = CMD --help
            self.assertEqual(swarm(cmd, "-h").stdout, r.stdout)

    def test_usage_errors(self):
        cases = [
            (["call"], "missing LINK and PATH"),
            (["call", "localhost"], "missing PATH"),
            (["call", "--frob", "localhost", "ping"], "unknown option '--frob'"),
            (["call", "--count", "3", "localhost", "ping"], "--count needs --every"),
            (["call", "--every", "x", "localhost", "ping"], "bad --every 'x'"),
            (["call", "--every"], "option --every needs a value"),
            (["call", "ftp://x", "ping"], "unknown scheme 'ftp'"),
            (["call", "serial:///dev/null?baud=7", "ping"], "bad baud rate '7'"),
            (["call", "localhost", "sys..info"], "bad PATH"),
            (["call", "localhost", "ping", "a=1", "{}"], "'{}' is not key=value"),
            (["call", "localhost", "ping", "a=1", "a=2"], "key 'a' given twice"),
            (["call", "localhost", "ping", "1", "2"], "more than one bare value"),
            (["--timeout", "abc", "call", "localhost", "ping"], "bad --timeout 'abc'"),
            (["cfg", "localhost"], "missing get, set, del or apply"),
            (["cfg", "localhost", "frob"], "unknown operation 'frob'"),
            (["cfg", "localhost", "set", "a"], "missing arguments for set"),
            (["cfg", "localhost", "get", "a", "b"], "too many arguments for get"),
            (["cfg", "localhost", "del", "a..b"], "empty element"),
            (["eval", "localhost"], "missing CODE"),
            (["eval", "localhost", "x", "y"], "too many arguments"),
        ]
        for args, text in cases:
            r = swarm(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(text, r.stderr, args)
            self.assertIn("--help", r.stderr, args)
            self.assertEqual(r.stdout, "", args)

    def test_unreachable_is_exit_3_with_hint(self):
        port = free_port()  # nobody listens there
        r = swarm("call", "127.0.0.1:%d" % port, "ping")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("swarm call: cannot connect to tcp://127.0.0.1:%d: connection refused" % port,
                      r.stderr)
        self.assertIn("is swarm-node running", r.stderr)
        self.assertIn("27587", r.stderr)
        r = swarm("call", "unix:///nonexistent/mux.sock", "ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn("/nonexistent/mux.sock", r.stderr)
        r = swarm("call", "serial:///nonexistent/tty", "ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot open /nonexistent/tty", r.stderr)
        # a name the resolver has to ask about: asked in a network namespace with no network,
        # so the DNS query does not leave by the machine's interface (it fails at once there)
        netless = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
        r = subprocess.run(netless + [SWARM_BIN, "call", "no-such-host.invalid", "ping"], capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("no-such-host.invalid", r.stderr)

    def test_json_errors_are_json(self):
        # with --json, every line on stderr is a JSON object too: the error, the hints, did you mean
        port = free_port()
        cases = [(["--json", "call", "127.0.0.1:%d" % port, "ping"], 3, "cannot connect"),
                 (["call", "--json", "--evry", "1s", "localhost", "ping"], 2, "unknown option '--evry'"),
                 (["--json", "call", "nohost.invalid", "ping"], 3, "not found")]
        for args, rc, text in cases:
            r = swarm(*args)
            self.assertEqual(r.returncode, rc, r.stderr)
            self.assertEqual(r.stdout, "")
            lines = [json.loads(x) for x in r.stderr.splitlines()]  # each one parses
            self.assertIn(text, lines[0]["error"])
            self.assertEqual(lines[0]["command"], "call")
            self.assertTrue(all(len(x) >= 1 for x in lines[1:]))
        lines = [json.loads(x) for x in swarm(*cases[1][0]).stderr.splitlines()]
        self.assertIn({"did_you_mean": "--every"}, lines)
        self.assertIn({"hint": "see 'swarm call --help'"}, lines)

    def test_colour_on_a_terminal_only_without_NO_COLOR(self):
        import pty
        port = free_port()

        def stderr_on_pty(env):
            m, s = pty.openpty()
            p = subprocess.Popen([SWARM_BIN, "call", "127.0.0.1:%d" % port, "ping"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=s, env=env)
            os.close(s)
            out = b""
            while True:
                try:
                    chunk = os.read(m, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            p.wait(30)
            os.close(m)
            return out.decode()

        env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        env["TERM"] = "xterm"
        coloured = stderr_on_pty(env)
        self.assertIn("\x1b[1;31mswarm call:\x1b[0m cannot connect", coloured)
        self.assertIn("\x1b[36mhint:\x1b[0m", coloured)
        plain = stderr_on_pty(dict(env, NO_COLOR="1"))
        self.assertNotIn("\x1b[", plain)
        self.assertIn("swarm call: cannot connect", plain)
        self.assertNotIn("\x1b[", swarm("call", "127.0.0.1:%d" % port, "ping").stderr)  # not a terminal

    def test_timeout_is_exit_4(self):
        fake = FakeNode("silent")
        self.addCleanup(fake.close)
        t0 = time.monotonic()
        r = swarm("--timeout", "0.5", "call", "127.0.0.1:%d" % fake.port, "ping")
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("no answer to ping within 0.5 s", r.stderr)
        self.assertGreaterEqual(took, 0.45)  # not before its time (a slow machine only adds)
        # the request did go out
        deadline = time.monotonic() + 5
        while not fake.got and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(fake.got[0]["a"], "ping")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Readme(unittest.TestCase):
    def test_first_node_example_runs_an_app(self):
        # README's "A node" block, as a new user types it (in a root of our own, on a free port):
        # the node it starts runs an app
        with open(os.path.join(SRC, "README.md")) as f:
            text = f.read()
        block = text.split("### A node", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
        root = tempfile.mkdtemp(prefix="swarm-readme-")
        self.addCleanup(shutil.rmtree, root, True)
        node = None
        for line in block.splitlines():
            cmd = line.split("#", 1)[0].strip().replace("/tmp/dev1", root)
            if not cmd or cmd.startswith(("make", "export")):
                continue  # the build is ours already; PATH: the binaries are called by path
            if cmd.startswith("swarm-node "):
                log = open(os.path.join(root, "node.log"), "wb")
                self.addCleanup(log.close)
                node = subprocess.Popen([NODE_BIN] + cmd.split()[1:] + ["--port", str(free_port()), "--listen",
                                                                       "127.0.0.1", "--no-ftp", "--no-telnet",
                                                                       "--no-eval", "--no-mdns", "--no-beacon"],
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                self.addCleanup(reap, node)
            else:
                r = subprocess.run(cmd, shell=True, cwd=SRC, capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, "%s: %s" % (cmd, r.stderr))
        self.assertIsNotNone(node, block)
        deadline = time.monotonic() + 30
        while True:
            with open(os.path.join(root, "node.log"), errors="replace") as f:
                got = f.read()
            if "blink: main.lua loaded" in got:
                break
            self.assertIsNone(node.poll(), got)
            self.assertNotIn("no app runs", got)
            self.assertLess(time.monotonic(), deadline, got)
            time.sleep(0.05)


class OptionTable(unittest.TestCase):
    """The one option parser of every command (src/host/cli_opt.c): help of help, "did you
    mean" for options, and durations written the same way everywhere (a bare number is
    seconds; units in the value), with the old millisecond options refusing or noting a bare
    number instead of silently changing meaning."""

    def test_help_of_help(self):
        for args in (["help", "--help"], ["help", "-h"], ["help", "help"]):
            r = swarm(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertTrue(r.stdout.startswith("usage: swarm help"), r.stdout)
            self.assertIn("example", r.stdout)
        # help COMMAND SUBCOMMAND = COMMAND SUBCOMMAND --help
        self.assertEqual(swarm("help", "fs", "put").stdout, swarm("fs", "put", "--help").stdout)
        self.assertIn("usage: swarm fs [options] LINK put", swarm("help", "fs", "put").stdout)

    def test_did_you_mean_an_option(self):
        cases = [
            (["call", "--evry", "1s", "localhost", "ping"], "--evry", "--every"),
            (["call", "localhost", "ping", "--jsn"], "--jsn", "--json"),
            (["--tiemout", "2", "call", "localhost", "ping"], "--tiemout", "--timeout"),
            (["scan", "--setle", "1s"], "--setle", "--settle"),
            (["scan", "--no-querry"], "--no-querry", "--no-query"),
            (["push", "--dryrun"], "--dryrun", "--dry-run"),
            (["fs", "localhost", "get", "--recursve", "a"], "--recursve", "--recursive"),
            (["mux", "--sockt=/tmp/x"], "--sockt", "--socket"),
            (["console", "--folow", "localhost"], "--folow", "--follow"),
        ]
        for args, typo, meant in cases:
            r = swarm(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("unknown option '%s'" % typo, r.stderr, args)
            self.assertIn("did you mean '%s'?" % meant, r.stderr, args)
            self.assertEqual(r.stdout, "", args)
        r = swarm("call", "--zzzzzzzz", "localhost", "ping")  # nothing close: no guess
        self.assertEqual(r.returncode, 2)
        self.assertNotIn("did you mean", r.stderr)

    def understood(self, r, cmd, opt):
        """The value -vv says the parser took for opt ("option --x = 2000 ms")."""
        prefix = "swarm %s: option %s = " % (cmd, opt) if cmd else "swarm: option %s = " % opt
        lines = [l[len(prefix):] for l in r.stderr.splitlines() if l.startswith(prefix)]
        self.assertEqual(len(lines), 1, r.stderr)
        return lines[0]

    def test_durations_one_convention(self):
        dead = "127.0.0.1:%d" % free_port()
        for value, ms in (("2", 2000), ("2s", 2000), ("500ms", 500), ("1.5", 1500), ("1m", 60000)):
            # the global --timeout, before and after the command
            r = swarm("-vv", "--timeout", value, "call", dead, "ping")
            self.assertEqual(self.understood(r, None, "--timeout"), "%d ms" % ms)
            r = swarm("call", "-vv", "--timeout", value, dead, "ping")
            self.assertEqual(self.understood(r, "call", "--timeout"), "%d ms" % ms)
        # scan's own --timeout: the same units as everywhere (it meant 2 ms before)
        r = swarm("scan", "-vv", "--timeout", "2", "--no-cache", "--to", "127.0.0.1",
                  "--port", str(free_udp_port()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.understood(r, "scan", "--timeout"), "2000 ms")
        for args in (["scan", "--timeout", "2x"], ["scan", "--timeout", "-1"],
                     ["scan", "--timeout", "0"], ["--timeout", "1e3", "scan"],
                     ["call", "--every", "0x10", dead, "ping"]):
            r = swarm(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("a bare number is seconds", r.stderr, args)

    def test_old_millisecond_options_never_change_meaning_silently(self):
        dead = "127.0.0.1:%d" % free_port()
        # a bare number of 50 or more was surely milliseconds: refused, with what to write
        for args, opt in ((["scan", "--timeout", "2500"], "--timeout"),
                          (["scan", "--settle", "150"], "--settle"),
                          (["call", "--every", "500", dead, "ping"], "--every"),
                          (["push", "--grace", "400"], "--grace"),
                          (["push", "--scan-timeout", "3000"], "--scan-timeout"),
                          (["mux", "--link", dead, "--socket", "/nonexistent/s", "--backoff", "200"],
                           "--backoff")):
            r = swarm(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            v = args[args.index(opt) + 1]
            self.assertIn("%s %s is ambiguous" % (opt, v), r.stderr)
            self.assertIn("write %sms or %ss" % (v, v), r.stderr)
        # a small one is seconds, and says so (not with -q, not with a unit)
        r = swarm("call", "-vv", "--every", "20", "--count", "1", dead, "ping")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("swarm call: note: --every 20 means 20 s", r.stderr)
        self.assertEqual(self.understood(r, "call", "--every"), "20000 ms")
        for args in (["-q", "--every", "20"], ["--every", "20s"], ["--every", "20ms"]):
            r = swarm("call", *args, "--count", "1", dead, "ping")
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertNotIn("note:", r.stderr)

    def test_help_comes_from_the_table(self):
        # every option the parser takes is in --help, with the units of durations explained
        for cmd, opts in (("scan", ("--timeout TIME", "--settle TIME", "--wait-for N", "--to ADDR")),
                          ("call", ("--every TIME", "--count N")),
                          ("mux", ("--wdt TIME", "--backoff TIME", "--backoff-max TIME")),
                          ("push", ("--grace TIME", "--scan-timeout TIME", "--window N")),
                          ("provision", ("--wait TIME",)),
                          ("sim", ("--timeout TIME", "--nodes N"))):
            r = swarm(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            for o in opts:
                self.assertRegex(r.stdout, r"\n  (-\w, )?%s" % o, (cmd, o))
            self.assertIn("a bare number is seconds", r.stdout, cmd)
        self.assertIn("--timeout TIME", swarm("--help").stdout)


class StreamCancel(unittest.TestCase):
    """--every against a recording peer: --count and Ctrl-C both send {"i": seq}."""

    def setUp(self):
        self.fake = FakeNode("stream")
        self.addCleanup(self.fake.close)

    def cancels(self, seq):
        return [m for m in self.fake.got if m == {"i": seq}]

    def test_count_sends_cancel(self):
        r = swarm("--json", "call", "--every", "20ms", "--count", "4",
                  "127.0.0.1:%d" % self.fake.port, "sys.mem")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(lines, [{"n": k, "d": 10 * k} for k in range(1, 5)])
        self.assertTrue(self.fake.closed.wait(5))
        req = self.fake.got[0]
        self.assertEqual(req["a"], ["sys", "mem"])
        self.assertEqual(req["r"], 20)
        self.assertEqual(len(self.cancels(req["i"])), 1, self.fake.got)

    def test_ctrl_c_sends_cancel_and_exits_130(self):
        with swarm_running("call", "--every", "30ms", "127.0.0.1:%d" % self.fake.port, "ping") as p:
            first = [p.stdout.readline() for _ in range(3)]
            self.assertEqual(first, ["10\n", "20\n", "30\n"])  # readable: one value per line
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
        self.assertEqual(rc, 130)
        self.assertTrue(self.fake.closed.wait(5))
        req = self.fake.got[0]
        self.assertEqual(self.cancels(req["i"]), [{"i": req["i"]}], self.fake.got)
        self.assertEqual(self.fake.got[-1], {"i": req["i"]})  # the last thing before the close


class WithNode(unittest.TestCase):
    """One node for the whole class (each test uses its own config keys)."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node(name="clinode")
        cls.node.start()
        cls.link = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def ok(self, *args, input=None):
        r = swarm(*args, input=input)
        self.assertEqual(r.returncode, 0, "%s: %s\n%s" % (args, r.stderr, self.node.read_log()[-2000:]))
        return r.stdout

    # call ---------------------------------------------------------------------------------

    def test_ping_both_modes(self):
        self.assertEqual(self.ok("call", self.link, "ping", "m=hello"), "R:hello\n")
        self.assertEqual(self.ok("--json", "call", self.link, "ping", "m=hello"), '"R:hello"\n')
        self.assertEqual(self.ok("call", "--json", self.link, "ping", "m=hello"), '"R:hello"\n')
        self.assertEqual(self.ok("call", "tcp://" + self.link, "ping", '{"m": "json"}'), "R:json\n")
        # a bare ping: a liveness answer, not Python's R:None
        self.assertEqual(self.ok("call", self.link, "ping"), "R:pong\n")

    def test_names_from_the_scan_cache(self):
        # names the scan cache knows work bare and as tcp://NAME; an unknown one says "not found"
        # with the closest known name. (.invalid names: no mDNS query leaves this machine.)
        tmp = tempfile.mkdtemp(prefix="swarm-cli-cache-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.makedirs(os.path.join(tmp, "swarm"))
        with open(os.path.join(tmp, "swarm", "scan.json"), "w") as f:
            json.dump({"v": 1, "hosts": {"clinode.invalid": {"ip": "127.0.0.1", "rpc_port": self.node.port}}}, f)
        env = dict(os.environ, XDG_CACHE_HOME=tmp)
        run = lambda *a: subprocess.run([SWARM_BIN, *a], capture_output=True, text=True, timeout=30, env=env,
                                        stdin=subprocess.DEVNULL)
        for link in ("clinode.invalid", "tcp://clinode.invalid"):
            r = run("call", link, "ping", "m=x")
            self.assertEqual((r.returncode, r.stdout), (0, "R:x\n"), r.stderr)
        r = run("call", "tcp://clinod.invalid", "ping")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("'clinod.invalid' not found", r.stderr)
        self.assertIn("did you mean 'clinode.invalid'?", r.stderr)
        self.assertIn("run 'swarm scan'", r.stderr)
        self.assertNotIn("temporary failure", r.stderr.lower())

    def test_cli_connections_are_not_logged_at_info_level(self):
        # each swarm command is a TCP link: at info level they drowned the console's log
        self.ok("call", self.link, "ping", "m=quiet")
        self.ok("call", self.link, "sys.info")
        log = self.node.read_log()
        self.assertIsNone(re.search(r" I link 127\.0\.0\.1:\d+: (open|closed)", log), log[-2000:])

    def test_sys_info(self):
        out = self.ok("call", self.link, "sys.info")
        self.assertGreater(out.count("\n"), 3)  # readable: indented
        info = json.loads(out)
        self.assertEqual(info["host_name"], "clinode")
        line = self.ok("--json", "call", self.link, "sys.info")
        self.assertEqual(line.count("\n"), 1)  # one line
        self.assertEqual(json.loads(line)["host_name"], "clinode")

    def test_dir(self):
        d = json.loads(self.ok("--json", "call", self.link, "_dir"))
        self.assertIn("ping", d["c"])
        self.assertIn("sys", d["d"])
        d = json.loads(self.ok("--json", "call", self.link, "sys._dir"))
        self.assertIn("info", d["c"])
        # without --json: a readable tree of every level, each name with its help
        lines = self.ok("call", self.link, "_dir").splitlines()
        self.assertRegex(lines[0], r"^ping +echo m back")
        self.assertRegex(lines[lines.index(next(x for x in lines if x.startswith("sys/")))], r"^sys/ +the node itself")
        self.assertIn("  info", "\n".join(lines))  # a level down, indented
        self.assertTrue(any(x.startswith("  commit ") for x in lines), lines)
        self.assertFalse(any(x.startswith("{") for x in lines), lines)
        sub = self.ok("call", self.link, "sys._dir").splitlines()
        self.assertTrue(any(x.startswith("info ") for x in sub), sub)

    def test_argument_types(self):
        # key=value: JSON when it parses, else a string; a bare JSON value is the whole data
        self.ok("call", self.link, "sys.cfg", 'p=["argt"]', 'd={"a":[1,true,null,"s",-5,2.5]}')
        self.ok("call", self.link, "sys.cfg", 'p=["argt","b"]', "d=just text")
        self.ok("call", self.link, "sys.cfg", 'p=["argt","c"]', 'd="42"')
        self.ok("call", self.link, "sys.cfg", 'p=["argt","d"]', "d=18446744073709551615")
        self.ok("call", self.link, "sys.cfg", '{"p": ["argt", "e"], "d": {}}')
        got = json.loads(self.ok("--json", "cfg", self.link, "get", "argt"))
        self.assertEqual(got, {"a": [1, True, None, "s", -5, 2.5], "b": "just text", "c": "42",
                               "d": 18446744073709551615, "e": {}})

    def test_remote_error_is_exit_1(self):
        r = swarm("call", self.link, "sys.nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "swarm call: node says: NoPath: sys.nosuch\n")
        self.assertEqual(r.stdout, "")

    def test_every_with_count(self):
        r = swarm("call", "--every", "50ms", "--count", "3", self.link, "ping", "m=s")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "R:s\n" * 3)
        r = swarm("--json", "call", "--every", "50ms", "--count", "2", self.link, "ping", "m=s")
        self.assertEqual([json.loads(x) for x in r.stdout.splitlines()],
                         [{"n": 1, "d": "R:s"}, {"n": 2, "d": "R:s"}])

    def test_every_ctrl_c(self):
        with swarm_running("call", "--every", "50ms", self.link, "ping", "m=c") as p:
            self.assertEqual(p.stdout.readline(), "R:c\n")
            self.assertEqual(p.stdout.readline(), "R:c\n")
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)
        # the node saw the link close in order and keeps serving
        self.assertEqual(self.ok("call", self.link, "ping", "m=after"), "R:after\n")

    # cfg ----------------------------------------------------------------------------------

    def test_cfg_get_whole_tree(self):
        tree = json.loads(self.ok("cfg", self.link, "get"))
        # the same tree as the node's own view of its config (key order aside)
        r = subprocess.run([NODE_BIN, *self.node.args()[1:], "--print-config"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = json.loads(r.stdout)
        for k in [k for k in tree if k.startswith(("argt", "rt", "ap"))]:  # other tests' keys
            tree.pop(k)
            want.pop(k, None)
        self.assertEqual(tree, want)
        self.assertEqual(tree["board"]["host_name"], "clinode")
        self.assertIsInstance(tree["limits"], dict)
        self.assertEqual(json.loads(self.ok("--json", "cfg", self.link, "get", "wdt")), tree["wdt"])
        self.assertEqual(self.ok("cfg", self.link, "get", "wdt.t"), "%d\n" % tree["wdt"]["t"])

    def test_cfg_set_get_del(self):
        L = self.link
        self.ok("cfg", L, "set", "rt.deep", '{"a": [1, {"b": [2, {"c": 3}]}], "s": "x"}')
        self.ok("cfg", L, "set", "rt.name", "plain words")
        self.ok("cfg", L, "set", "rt.num", "7")
        got = json.loads(self.ok("--json", "cfg", L, "get", "rt"))
        self.assertEqual(got, {"deep": {"a": [1, {"b": [2, {"c": 3}]}], "s": "x"},
                               "name": "plain words", "num": 7})
        self.assertEqual(self.ok("cfg", L, "get", "rt.deep.a.1.b.1.c"), "3\n")
        self.assertEqual(self.ok("cfg", L, "get", "rt.name"), "plain words\n")
        self.ok("cfg", L, "del", "rt.deep")
        self.assertEqual(json.loads(self.ok("--json", "cfg", L, "get", "rt")),
                         {"name": "plain words", "num": 7})
        r = swarm("cfg", L, "get", "rt.deep")
        self.assertEqual(r.returncode, 1)
        self.assertIn("node says: ENOENT", r.stderr)
        r = swarm("cfg", L, "del", "rt.deep")
        self.assertEqual(r.returncode, 1)
        # persisted: the file on the node's root has it too
        r = subprocess.run([NODE_BIN, "--root", self.node.root, "--print-config"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(json.loads(r.stdout)["rt"], {"name": "plain words", "num": 7})

    def test_cfg_set_warns_about_unknown_keys(self):
        # a typo creates a key nothing reads: set still does it, but says so, with the level's
        # keys and the closest one
        r = swarm("cfg", self.link, "set", "wdt.tt", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: the device's config has no 'tt' under 'wdt' (it has: t", r.stderr)
        r = swarm("cfg", self.link, "set", "wdtt.t", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("has no 'wdtt' at the top", r.stderr)
        self.assertIn("did you mean 'wdt'?", r.stderr)
        r = swarm("cfg", self.link, "set", "wdt.t", "0")  # a key it has: no warning
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = swarm("-q", "cfg", self.link, "set", "wdt.tt", "6")  # -q: quiet
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.ok("cfg", self.link, "del", "wdt.tt")
        self.ok("cfg", self.link, "del", "wdtt")

    def test_cfg_apply(self):
        self.assertEqual(self.ok("cfg", self.link, "apply"), "")
        self.assertEqual(self.ok("--json", "cfg", self.link, "apply"), "true\n")
        self.node.wait_log("config: applied")

    # eval ---------------------------------------------------------------------------------

    def test_eval(self):
        self.assertEqual(self.ok("eval", self.link, "1 + 1"), "2\n")
        self.assertEqual(self.ok("eval", self.link, "'a' .. 'b'"), '"ab"\n')
        j = json.loads(self.ok("--json", "eval", self.link, "{10, 20}"))
        self.assertEqual(j["value"], [10, 20])
        self.assertIn("10", j["repr"])
        self.assertEqual(self.ok("eval", self.link, "-", input="local x = 6\nreturn x * 7\n"), "42\n")
        # print() output is shown, like mpremote exec: first what it printed, then the value
        self.assertEqual(self.ok("eval", self.link, "print('hello', 42) print('two') return 7"), "hello 42\ntwo\n7\n")
        j = json.loads(self.ok("--json", "eval", self.link, "print('in json')"))
        self.assertEqual((j["out"], j["repr"]), (["in json"], "nil"))
        self.assertEqual(self.ok("eval", self.link, "1 + 1"), "2\n")  # nothing printed: nothing extra
        r = swarm("eval", self.link, "print('before the error') error('boom')")
        self.assertEqual((r.returncode, r.stdout), (1, "before the error\n"), r.stderr)
        r = swarm("eval", self.link, "error('boom')")
        self.assertEqual(r.returncode, 1)
        self.assertIn("swarm eval: node says:", r.stderr)
        self.assertIn("boom", r.stderr)


class Fleet(unittest.TestCase):
    """swarm fleet / reboot / logs on two real nodes (and a link nobody answers)."""

    @classmethod
    def setUpClass(cls):
        cls.nodes = [Node(name="fleet%d" % i).start() for i in (1, 2)]
        cls.links = ["127.0.0.1:%d" % n.port for n in cls.nodes]

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()

    def sel(self):
        return [a for link in self.links for a in ("--link", link)]

    def test_call_eval_cfg_fs_on_every_device(self):
        r = swarm("fleet", *self.sel(), "call", "ping", "m=x")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)  # one line per device, in order
        for link, line in zip(sorted(self.links), lines):
            self.assertRegex(line, r"^%s +ok +\"R:x\"$" % re.escape(link))
        self.assertIn("2 devices in", r.stderr)
        self.assertIn("2 ok", r.stderr)
        r = swarm("fleet", *self.sel(), "eval", "print('hi') return 6 * 7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x.split(None, 2)[2] for x in r.stdout.splitlines()], ["hi | 42"] * 2)
        r = swarm("fleet", *self.sel(), "cfg", "set", "fleettest.k", "7")
        self.assertEqual(r.returncode, 0, r.stderr)
        for link in self.links:
            self.assertEqual(swarm("cfg", link, "get", "fleettest.k").stdout, "7\n")
        tmp = tempfile.mkdtemp(prefix="swarm-fleet-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with open(os.path.join(tmp, "f.txt"), "w") as f:
            f.write("to every device\n")
        r = swarm("fleet", *self.sel(), "fs", "put", os.path.join(tmp, "f.txt"), "fleet.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        for n in self.nodes:
            with open(os.path.join(n.root, "fleet.txt")) as f:
                self.assertEqual(f.read(), "to every device\n")
        # a folder kept in sync on every device (fs sync): only what changed moves
        site = os.path.join(tmp, "site")
        os.makedirs(os.path.join(site, "sub"))
        for rel, data in (("a.txt", "a"), ("sub/b.txt", "b")):
            with open(os.path.join(site, rel), "w") as f:
                f.write(data)
        r = swarm("fleet", *self.sel(), "fs", "sync", site, "www")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)  # one line per device: its sum
        self.assertIn('"op":"sync"', r.stdout)
        r = swarm("--json", "fleet", *self.sel(), "fs", "sync", "--delete", "--dry-run", site, "www")
        self.assertEqual(r.returncode, 0, r.stderr)
        sums = [json.loads(x)["result"] for x in r.stdout.splitlines()[:-1]]
        r = swarm("fleet", *self.sel(), "fs", "sync", "--watch", site, "www")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("run it for each device", r.stderr)
        self.assertEqual([(x["op"], x["sent"], x["unchanged"], x["dry_run"]) for x in sums],
                         [("sync", 0, 2, True)] * 2)
        for n in self.nodes:
            with open(os.path.join(n.root, "www", "sub", "b.txt")) as f:
                self.assertEqual(f.read(), "b")

    def test_json_failures_and_exit_status(self):
        dead = "127.0.0.1:%d" % free_port()
        r = swarm("--json", "fleet", *self.sel(), "--link", dead, "call", "sys.info")
        self.assertEqual(r.returncode, 5, r.stderr)  # some failed
        objs = [json.loads(x) for x in r.stdout.splitlines()]
        devs, summary = objs[:-1], objs[-1]
        self.assertEqual(summary["summary"]["devices"], 3)
        self.assertEqual((summary["summary"]["ok"], summary["summary"]["failed"]), (2, 1))
        by = {d["uri"]: d for d in devs}
        self.assertFalse(by[dead]["ok"])
        self.assertEqual(by[dead]["exit"], 3)
        self.assertIn("cannot connect", by[dead]["error"])
        self.assertEqual(sorted(by[l]["result"]["host_name"] for l in self.links), ["fleet1", "fleet2"])
        r = swarm("fleet", "--link", dead, "call", "ping")  # nothing reachable: 3
        self.assertEqual(r.returncode, 3, r.stderr)
        r = swarm("fleet", "call", "ping")  # no selection: refused, not every device
        self.assertEqual(r.returncode, 2)
        self.assertIn("say which devices", r.stderr)
        r = swarm("fleet", *self.sel(), "cal", "ping")
        self.assertEqual(r.returncode, 2)
        self.assertIn("did you mean 'call'?", r.stderr)
        r = swarm("fleet", "--to", "nomatch-*", *self.sel(), "call", "ping")  # --link: taken as given
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_reboot_several(self):
        before = [json.loads(swarm("--json", "call", l, "sys.info").stdout)["uptime_ms"] for l in self.links]
        r = swarm("reboot", *self.links)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2)
        for n in self.nodes:
            n.wait_log("sys.boot")
        for n, up in zip(self.nodes, before):
            n.wait_port()
            deadline = time.monotonic() + 30
            while True:  # back, with a new uptime
                r = swarm("--json", "call", "127.0.0.1:%d" % n.port, "sys.info")
                if r.returncode == 0 and json.loads(r.stdout)["uptime_ms"] < up + 300:
                    break
                self.assertLess(time.monotonic(), deadline, r.stderr)
                time.sleep(0.1)

    def test_logs_of_several_devices(self):
        for i, link in enumerate(self.links):
            swarm("eval", link, "print('mark %d')" % i)
        r = swarm("logs", "--no-follow", "-n", "5", *self.links)
        self.assertEqual(r.returncode, 0, r.stderr)
        for i, link in enumerate(self.links):
            self.assertRegex(r.stdout, r"(?m)^%s +\| .*I example: mark %d$" % (re.escape(link), i))
        with swarm_running("logs", "-n", "0", *self.links) as p:
            time.sleep(0.5)  # (both consoles are following)
            swarm("eval", self.links[1], "print('live two')")
            line = p.stdout.readline()
            while line and "live two" not in line:
                line = p.stdout.readline()
            self.assertTrue(line.startswith(self.links[1] + " | "), line)
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)


class UserConfig(unittest.TestCase):
    """$XDG_CONFIG_HOME/swarm/config: named devices, defaults (groups: test_push FleetLab)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarm-config-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.makedirs(os.path.join(self.tmp, "swarm"))
        self.env = dict(os.environ, XDG_CONFIG_HOME=self.tmp)

    def write(self, text):
        with open(os.path.join(self.tmp, "swarm", "config"), "w") as f:
            f.write(text)

    def run_swarm(self, *args):
        return subprocess.run([SWARM_BIN, *args], capture_output=True, text=True, timeout=30, env=self.env,
                              stdin=subprocess.DEVNULL)

    def test_named_device_and_default_timeout(self):
        node = Node(name="cfgnode")
        self.addCleanup(node.stop)
        node.start()
        fake = FakeNode("silent")
        self.addCleanup(fake.close)
        self.write("# my devices\n[devices]\nkitchen = tcp://127.0.0.1:%d   # the test node\n"
                   "silent = 127.0.0.1:%d\n\n[defaults]\ntimeout = 0.5s\n" % (node.port, fake.port))
        r = self.run_swarm("call", "kitchen", "ping", "m=named")
        self.assertEqual((r.returncode, r.stdout), (0, "R:named\n"), r.stderr)
        r = self.run_swarm("--json", "fleet", "--link", "kitchen", "call", "sys.info")
        self.assertEqual(json.loads(r.stdout.splitlines()[0])["result"]["host_name"], "cfgnode", r.stderr)
        # the default timeout applies to every command; --timeout still wins
        r = self.run_swarm("call", "silent", "ping")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("within 0.5 s", r.stderr)
        r = self.run_swarm("--timeout", "0.7s", "call", "silent", "ping")
        self.assertIn("within 0.7 s", r.stderr)
        # a name the config does not have is looked up as before
        r = self.run_swarm("call", "kitchenn.invalid", "ping")
        self.assertEqual(r.returncode, 3)


class Repl(unittest.TestCase):
    """swarm repl on a pty: chunks, multi-line input, print output, Ctrl-C, history file."""

    def test_piped_input_and_ctrl_c_stops_the_chunk(self):
        node = Node(name="replnode")
        self.addCleanup(node.stop)
        node.start()
        tmp = tempfile.mkdtemp(prefix="swarm-repl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        check_repl(self, "127.0.0.1:%d" % node.port, node, tmp)

    def test_prompt(self):
        import pty
        node = Node(name="replnode")
        self.addCleanup(node.stop)
        node.start()
        tmp = tempfile.mkdtemp(prefix="swarm-repl-")
        self.addCleanup(shutil.rmtree, tmp, True)
        import fcntl
        import termios
        m, s = pty.openpty()

        def own_terminal():  # the pty is its controlling terminal: Ctrl-C there is SIGINT
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        p = subprocess.Popen([SWARM_BIN, "--timeout", "0", "repl", "127.0.0.1:%d" % node.port], stdin=s, stdout=s,
                             stderr=s, env=dict(os.environ, XDG_STATE_HOME=tmp, TERM="dumb"), close_fds=True,
                             preexec_fn=own_terminal)
        os.close(s)
        self.addCleanup(reap, p)
        self.addCleanup(os.close, m)
        got = bytearray()

        def until(text):
            deadline = time.monotonic() + 30
            while text.encode() not in got:
                self.assertLess(time.monotonic(), deadline, got.decode(errors="replace"))
                r, _, _ = select.select([m], [], [], 0.2)
                if r:
                    try:
                        got.extend(os.read(m, 4096))
                    except OSError:
                        break

        until("lua> ")
        os.write(m, b"6 * 7\n")  # (no app runs: each chunk has a fresh environment)
        until("42")
        os.write(m, b"print('hi', 6 * 7) return 43\n")
        until("\n43\r")
        self.assertIn(b"hi 42", got)
        os.write(m, b"for i = 1, 2 do\n")
        until(">> ")
        os.write(m, b"print('line ' .. i) end\n")
        until("line 2")
        os.write(m, b"swarm.sleep(60000)\n")
        time.sleep(0.5)  # (the chunk is on its way)
        os.write(m, b"\x03")
        until("interrupted")
        os.write(m, b"print('after')\n")
        until("after")
        os.write(m, b":q\n")
        self.assertEqual(p.wait(30), 0, got.decode(errors="replace"))
        with open(os.path.join(tmp, "swarm", "repl_history")) as f:
            hist = f.read().replace("\\040", " ")  # (libedit's file escapes blanks)
        self.assertIn("\n6 * 7\n", hist)
        self.assertEqual(swarm("eval", "127.0.0.1:%d" % node.port, "1 + 1").stdout, "2\n")  # the node runs on


class Completion(unittest.TestCase):
    """tools/completion/ in a real bash, zsh and fish: the same command lines complete to the
    same words in all three (they all ask `swarm __complete words`), and the words are what
    the commands accept: commands, the options each command's --help lists, subcommands,
    device names from the config and the scan cache, groups after --to, a device's command
    paths after `call LINK`; nothing (so: file names) where a file belongs."""

    COMP = os.path.join(SRC, "tools", "completion")

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="swarm-complete-")
        os.makedirs(os.path.join(cls.tmp, "config", "swarm"))
        os.makedirs(os.path.join(cls.tmp, "cache", "swarm"))
        cls.node = Node(name="compnode")
        cls.node.start()
        with open(os.path.join(cls.tmp, "config", "swarm", "config"), "w") as f:
            f.write("[devices]\nkitchen = tcp://127.0.0.1:%d\n[groups]\nlab = lab-*\n" % cls.node.port)
        with open(os.path.join(cls.tmp, "cache", "swarm", "scan.json"), "w") as f:
            json.dump({"v": 1, "hosts": {"lab-1": {"ip": "10.0.0.1"}, "lab-2": {"ip": "10.0.0.2"}}}, f)
        os.makedirs(os.path.join(cls.tmp, "work", "site"))
        cls.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(cls.tmp, "config"),
                       XDG_CACHE_HOME=os.path.join(cls.tmp, "cache"), HOME=cls.tmp,
                       PATH=os.path.dirname(os.path.abspath(SWARM_BIN)) + os.pathsep + os.environ["PATH"])

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        shutil.rmtree(cls.tmp, True)

    def run_shell(self, argv):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=self.env,
                           cwd=os.path.join(self.tmp, "work"))
        self.assertEqual(r.returncode, 0, r.stderr)
        return sorted(set(x for x in r.stdout.splitlines() if x))

    def bash(self, *words):
        cmd = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _swarm; printf "%%s\\n" "${COMPREPLY[@]}"'
               % (os.path.join(self.COMP, "swarm.bash"), " ".join("'%s'" % w for w in words), len(words) - 1))
        return self.run_shell(["bash", "--norc", "--noprofile", "-c", cmd])

    def zsh(self, *words):
        # _swarm as compsys runs it, with compadd and _files standing in for the widget's
        # output (they are only usable inside a completion widget): what it would offer
        cmd = ('compadd() { [[ $1 == -S ]] && shift 2; [[ $1 == -a ]] && print -l -- ${(P)2} }; '
               '_files() { print -- "(files)" }; '
               'words=(%s); CURRENT=%d; source %s'
               % (" ".join("'%s'" % w for w in words), len(words), os.path.join(self.COMP, "_swarm")))
        return self.run_shell(["zsh", "-f", "-c", cmd])

    def fish(self, *words):
        line = " ".join(words)
        cmd = "source %s; complete -C '%s'" % (os.path.join(self.COMP, "swarm.fish"), line)
        return [x.split("\t")[0] for x in self.run_shell(["fish", "--no-config", "-c", cmd])]

    def same(self, words, want=None, contains=()):
        """The three shells offer the same for words (the last is being completed); want: exactly
        this; contains: at least these."""
        got = {sh: getattr(self, sh)(*words) for sh in ("bash", "zsh", "fish")}
        self.assertEqual(got["bash"], got["zsh"], (words, got))
        self.assertEqual(got["bash"], got["fish"], (words, got))
        if want is not None:
            self.assertEqual(got["bash"], sorted(want), words)
        for w in contains:
            self.assertIn(w, got["bash"], words)
        return got["bash"]

    def test_the_three_shells_agree(self):
        self.same(["swarm", "fl"], ["fleet"])
        self.same(["swarm", "--json", "sc"], ["scan"])
        self.same(["swarm", "call", "--ev"], ["--every"])
        self.same(["swarm", "call", "k"], ["kitchen"])
        self.same(["swarm", "reboot", "lab"], ["lab-1", "lab-2"])
        self.same(["swarm", "reboot", "lab-1", "lab"], ["lab-1", "lab-2"])  # several devices
        self.same(["swarm", "fleet", "--to", "la"], ["lab", "lab-1", "lab-2"])
        self.same(["swarm", "fleet", "--to", "lab", "c"], ["call", "cfg"])
        # an option's value by its name in the table: SELECTOR (groups too), URI, NAME
        self.same(["swarm", "push", "--link", "k"], ["kitchen"])
        self.same(["swarm", "fleet", "--host", "la"], ["lab-1", "lab-2"])
        self.files(["swarm", "fleet", "--to", "lab", "--scan-timeout", ""], ["site/"])
        # the device's command paths (its _dir tree) after call LINK
        self.same(["swarm", "call", "kitchen", "sys.i"], ["sys.info", "sys.is_up"])
        self.same(["swarm", "call", "kitchen", "push."], contains=["push.switch"])
        # subcommands and their options, from the commands' own tables
        self.same(["swarm", "fs", "kitchen", "c"], ["cat", "cp"])
        self.same(["swarm", "fs", "kitchen", "sync", "--d"], ["--delete", "--dry-run"])
        self.same(["swarm", "cfg", "kitchen", "s"], ["set"])
        # the device's files where fs's table says a device path goes (a listing of the
        # word's directory, directories with '/'); a local path: files of this machine
        for rel in ("apps/blink/main.lua", "apps/counter/main.lua", "data.txt"):
            os.makedirs(os.path.dirname(os.path.join(self.node.root, rel)), exist_ok=True)
            with open(os.path.join(self.node.root, rel), "w") as f:
                f.write("x")
        self.same(["swarm", "fs", "kitchen", "cat", "ap"], ["apps/"])
        self.same(["swarm", "fs", "kitchen", "get", "apps/"], ["apps/blink/", "apps/counter/", "apps/example/"])  # (the node made apps/example)
        self.same(["swarm", "fs", "kitchen", "rm", "data.txt", "apps/blink/m"], ["apps/blink/main.lua"])
        self.same(["swarm", "fs", "kitchen", "cp", ":d"], [":data.txt"])
        self.files(["swarm", "fs", "kitchen", "get", "data.txt", "si"], ["site/"])
        self.files(["swarm", "fs", "kitchen", "cp", "si"], ["site/"])
        self.same(["swarm", "key", "i"], ["install"])
        self.same(["swarm", "help", "f"], ["fleet", "fs"])
        self.same(["swarm", "--timeout", "5s", "rep"], ["repl"])
        # where a local file belongs (or nothing is known), every shell offers files
        self.files(["swarm", "fs", "kitchen", "sync", "si"], ["site/"])
        self.files(["swarm", "push", ""], ["site/"])
        self.files(["swarm", "nosuch", ""], ["site/"])

    def files(self, words, want):
        """swarm offers nothing for words: bash falls back to file names (complete -o default,
        after _swarm: COMPREPLY stays empty), zsh calls _files, fish completes paths."""
        self.assertEqual(self.bash(*words), [], words)
        self.assertEqual(self.zsh(*words), ["(files)"], words)
        self.assertEqual(self.fish(*words), want, words)

    def test_options_match_each_commands_help(self):
        # every option a command's --help lists is offered, and nothing it does not mention
        for cmd in swarm("__complete", "commands").stdout.split():
            helptext = swarm(cmd, "--help").stdout
            listed = set(re.findall(r"(?m)^\s+(?:-\w, )?(--[a-z][a-z-]*)", helptext))
            offered = set(self.bash("swarm", cmd, "--"))
            self.assertLessEqual(listed, offered, cmd)
            # (the global options are one line of --help: "--json, -q, -v, --timeout TIME")
            mentioned = set(re.findall(r"--[a-z][a-z-]*", helptext)) | {"--help", "--quiet", "--verbose"}
            self.assertLessEqual(offered, mentioned, cmd)

    def test_make_install_places_them(self):
        # `make install` (cmake --install) puts each script where its shell looks, and each
        # works with the installed swarm; fish finds its file by itself (autoloading)
        prefix = os.path.join(self.tmp, "prefix")
        build = os.path.dirname(os.path.abspath(SWARM_BIN))
        r = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        share = os.path.join(prefix, "share")
        env = dict(self.env, PATH=os.path.join(prefix, "bin") + os.pathsep + os.environ["PATH"])
        bash = ('source %s/bash-completion/completions/swarm; COMP_WORDS=(swarm fl); COMP_CWORD=1; _swarm; '
                'printf "%%s\\n" "${COMPREPLY[@]}"' % share)
        zsh = ('compadd() { [[ $1 == -S ]] && shift 2; [[ $1 == -a ]] && print -l -- ${(P)2} }; '
               'words=(swarm fl); CURRENT=2; '
               'source %s/zsh/site-functions/_swarm' % share)
        fish = "set fish_complete_path %s/fish/vendor_completions.d $fish_complete_path; complete -C 'swarm fl'" % share
        for argv in (["bash", "--norc", "--noprofile", "-c", bash], ["zsh", "-f", "-c", zsh],
                     ["fish", "--no-config", "-c", fish]):
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
            self.assertEqual((r.returncode, r.stdout.split()), (0, ["fleet"]), (argv[0], r.stderr))

    def test_zsh_interactive(self):
        # a real interactive zsh with compsys (compinit) and _swarm on its fpath: TAB inserts
        # the one match, and lists several
        import pty
        fdir = os.path.join(self.tmp, "zfunc")
        os.makedirs(fdir, exist_ok=True)
        shutil.copy(os.path.join(self.COMP, "_swarm"), fdir)
        master, slave = pty.openpty()
        p = subprocess.Popen(["zsh", "-f", "-i"], stdin=slave, stdout=slave, stderr=slave,
                             env=dict(self.env, TERM="dumb"), start_new_session=True,
                             cwd=os.path.join(self.tmp, "work"))
        os.close(slave)
        try:
            def until(token):
                buf = b""
                while token not in buf:
                    r, _, _ = select.select([master], [], [], 30)
                    self.assertTrue(r, "zsh said nothing more; so far: %r" % buf)
                    buf += os.read(master, 4096)
                return buf
            os.write(master, b"fpath=(%s $fpath); autoload -U compinit; compinit -u -D; echo SET''UP\n"
                     % fdir.encode())
            until(b"SETUP")
            os.write(master, b"swarm fl\t")
            until(b"swarm fleet ")
            os.write(master, b"\x15swarm fs kitchen c\t")
            self.assertRegex(until(b"cp").decode(errors="replace"), r"cat\s+cp")
            # a device directory: no space after its '/', so the next TAB goes on inside it
            os.makedirs(os.path.join(self.node.root, "apps", "zdir"), exist_ok=True)
            with open(os.path.join(self.node.root, "apps", "zdir", "zfile.lua"), "w") as f:
                f.write("x")
            os.write(master, b"\x15swarm fs kitchen cat apps/zd\t")
            until(b"ir/")  # (zsh writes what it adds)
            os.write(master, b"\t")
            until(b"zfile.lua ")
        finally:
            p.kill()
            p.wait()
            os.close(master)


class Serial(PtyPairTestCase):
    """Pty pairs made by socat; the node serves one end, the CLI opens the other."""

    PTY_PREFIX = "swarm-cli-pty-"

    def start_node(self, *extra):
        node = Node(name="ttynode", extra=["--serial", self.a, *extra])
        self.addCleanup(node.stop)
        node.start()
        node.wait_log("ready")
        return node

    def check_link(self, node, link):
        r = swarm("call", link, "ping", "m=tty")
        self.assertEqual((r.returncode, r.stdout), (0, "R:tty\n"), r.stderr + node.read_log())
        info = json.loads(swarm("--json", "call", link, "sys.info").stdout)
        self.assertEqual(info["host_name"], "ttynode")
        # the node logs a line while it answers; on a serial link its log is console output,
        # which must stay out of the reply (and shows on stderr with -v); eval shows what the
        # code printed, once, before the value
        r = swarm("eval", link, "print('console noise') return 'clean'")
        self.assertEqual((r.returncode, r.stdout), (0, 'console noise\n"clean"\n'), r.stderr)
        self.assertNotIn("noise", r.stderr)
        r = swarm("-v", "eval", link, "print('console noise 2') return 'clean'")
        self.assertEqual((r.returncode, r.stdout), (0, 'console noise 2\n"clean"\n'), r.stderr)
        self.assertIn("console noise 2", r.stderr)
        tree = json.loads(swarm("cfg", link, "get").stdout)
        self.assertEqual(tree["board"]["host_name"], "ttynode")
        r = swarm("call", link, "sys.nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NoPath: sys.nosuch", r.stderr)

    def test_lossless_link_to_a_lossy_node_says_mode_lossy(self):
        # the node frames everything (SerialPacker); a lossless link sees those frames and says
        # what to change instead of waiting for --timeout
        self.start_node("--lossy")
        r = swarm("--timeout", "60", "call", "serial://%s" % self.b, "ping")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("speaks the lossy framing", r.stderr)
        self.assertIn("use serial://%s?mode=lossy" % self.b, r.stderr)
        self.assertNotIn("--timeout", r.stderr)

    def test_serial_hints_only_where_they_apply(self):
        # a missing device or a line in use: no baud/lossy hint (it cannot help)
        r = swarm("call", "serial:///nonexistent/tty?mode=lossy", "ping")
        self.assertEqual(r.returncode, 3)
        self.assertNotIn("baud", r.stderr)
        self.assertNotIn("lossy mode", r.stderr)

    def serial_only_node(self, *extra, port=None):
        # (a taken port: the node says its RPC did not start, which is the point)
        node = Node(name="ttynode", port=port, extra=["--serial", self.a, *extra], service_errors=port is not None)
        self.addCleanup(node.stop)
        node.start(wait=False)
        node.wait_log("ready")
        return node

    def test_serial_node_with_no_net(self):
        node = self.serial_only_node("--no-net", "--lossy")
        log = node.read_log()
        for svc in ("ftp", "telnet", "eval", "beacon", "mdns"):
            self.assertIn("%s: off for this run" % svc, log)
        self.assertNotIn("listening on", log)
        with self.assertRaises(OSError):  # its --port is not listened on either
            socket.create_connection(("127.0.0.1", node.port), timeout=5).close()
        r = swarm("call", "serial://%s?mode=lossy" % self.b, "ping", "m=x")
        self.assertEqual((r.returncode, r.stdout), (0, "R:x\n"), r.stderr)
        # without a serial or stdio link, nothing could reach it: refused
        r = subprocess.run([NODE_BIN, "--root", node.root, "--no-net"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("add --serial DEV or --stdio", r.stderr)

    def test_serial_node_starts_when_its_rpc_port_is_taken(self):
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        node = self.serial_only_node(port=busy.getsockname()[1])
        self.assertIn("rpc: not started", node.read_log())
        r = swarm("call", "serial://%s" % self.b, "ping", "m=y")
        self.assertEqual((r.returncode, r.stdout), (0, "R:y\n"), r.stderr)

    def test_lossless(self):
        node = self.start_node()
        self.check_link(node, "serial://%s?baud=115200" % self.b)

    def test_repl_over_serial_both_modes(self):
        # issue 15: the REPL works over serial lines (lossless: its console text is interleaved
        # with the replies; lossy: frames and Reliable), Ctrl-C included
        tmp = tempfile.mkdtemp(prefix="swarm-repl-tty-")
        self.addCleanup(shutil.rmtree, tmp, True)
        node = self.start_node()
        check_repl(self, "serial://%s" % self.b, node, tmp)
        node.stop()
        node = self.start_node("--lossy")
        check_repl(self, "serial://%s?mode=lossy" % self.b, node, tmp)

    def test_lossless_stream_cancel_reaches_node(self):
        self.start_node()
        link = "serial://%s" % self.b
        with swarm_running("call", "--every", "50ms", link, "ping", "m=s") as p:
            self.assertEqual(p.stdout.readline(), "R:s\n")
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(10), 130)
        # a serial line has no connection whose end would stop the stream: only the cancel
        # does. Listen on the line: no more stream values may come.
        fd = os.open(self.b, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            time.sleep(0.3)
            import termios
            termios.tcflush(fd, termios.TCIOFLUSH)
            unp = unpacker()
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    unp.feed(os.read(fd, 4096))
            values = [m for m in unp if isinstance(m, dict) and "n" in m]
            self.assertEqual(values, [])
        finally:
            os.close(fd)
        # and the line still works
        self.assertEqual(swarm("call", link, "ping", "m=again").stdout, "R:again\n")

    def test_lossy(self):
        node = self.start_node("--lossy")
        link = "serial://%s?mode=lossy" % self.b
        self.check_link(node, link)
        r = swarm("call", "--every", "30ms", "--count", "3", link, "ping", "m=l")
        self.assertEqual((r.returncode, r.stdout), (0, "R:l\n" * 3), r.stderr)
        # a reply larger than one 127-byte MoaT frame: Reliable negotiated the size
        r = swarm("--json", "eval", link, "string.rep('x', 400)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["value"], "x" * 400)
        node.wait_log("reliable link up")

    def test_lossy_against_lossless_node_fails_cleanly(self):
        self.start_node()
        r = swarm("--timeout", "2", "call", "serial://%s?mode=lossy" % self.b, "ping")  # (ends: exit 3)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("hint:", r.stderr)

    def test_line_in_use(self):
        self.start_node()
        holder = subprocess.Popen([SWARM_BIN, "call", "--every", "100ms", "serial://%s" % self.b,
                                   "ping"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        try:
            self.assertEqual(holder.stdout.readline(), "R:pong\n")
            r = swarm("call", "serial://%s" % self.b, "ping")
            self.assertEqual(r.returncode, 3)
            self.assertIn("in use by another program", r.stderr)
        finally:
            holder.send_signal(signal.SIGINT)
            try:
                holder.wait(10)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()
            holder.stdout.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
