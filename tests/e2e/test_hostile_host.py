"""The host CLI against hostile devices (issue 10, items 4 and 5): whatever a device sends is
untrusted. A hostile device here is a real peer: a small TCP server in this file that speaks
our protocol (MoaT v0 messages over python3-msgpack, docs/PROTOCOL.md) on an ephemeral loopback
port and lies — its listings name "../../x", "a/b", "..", names with NUL or escape sequences.
`swarm fs get -r` must write nothing outside the target folder, never through a link planted
in it, and say which names it refused. Forged beacons sent to loopback must not reach the
terminal as escape sequences or forged table rows; neither may error texts or values."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

import msgpack

from swarmtest import SWARM_BIN, free_port, pack, unpacker

ESC = "\x1b"


def swarm(*args, env=None, timeout=60):
    return subprocess.run([SWARM_BIN, *args], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


class HostileDevice:
    """A TCP 'device' serving a file tree it makes up. tree: {path: bytes or dict (a directory)}
    where keys are the names it lists, verbatim (they may be anything). Any f.stat / f.open of
    a path it does not know is answered as a file with `default` content, so whatever path the
    host composes from a hostile name 'exists'. errors: {command: error text} to answer with."""

    def __init__(self, tree, default=b"pwned\n", errors=None, values=None):
        self.tree = tree
        self.default = default
        self.errors = errors or {}
        self.values = values or {}
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handles = {}
        self.changes = []  # (command, path) of every f.rm / f.rmdir / f.mkdir asked for
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)

    def lookup(self, path):
        node = self.tree
        for part in [p for p in path.split("/") if p]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return None
        return node

    def serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def answer(self, a, d):
        import hashlib
        if a in self.errors:
            return {"e": self.errors[a]}
        if a in self.values:
            return {"d": self.values[a]}
        if a == "sys.info":
            return {"d": {"max_msg": 16384, "name": "evil"}}
        p = d.get("p", "") if isinstance(d, dict) else d
        node = self.lookup(p) if isinstance(p, str) else None
        if a == "f.dir":
            if not isinstance(node, dict):
                return {"e": "fn"}
            if not d.get("x"):
                return {"d": list(node)}
            out = []
            for name, v in node.items():
                if v is None:  # neither file nor directory
                    out.append({"n": name, "m": "?", "t": 0})
                elif isinstance(v, dict):
                    out.append({"n": name, "m": "d", "t": 0})
                else:
                    out.append({"n": name, "m": "f", "s": len(v), "t": 0})
            return {"d": out}
        if a in ("f.rm", "f.rmdir", "f.mkdir"):
            self.changes.append((a, p))
            return {"d": None}
        content = node if isinstance(node, bytes) else self.default
        if a == "f.stat":
            if isinstance(node, dict):
                return {"d": {"m": "d", "t": 0}}
            return {"d": {"m": "f", "s": len(content), "t": 0}}
        if a == "f.open":
            h = len(self.handles) + 1
            self.handles[h] = content
            return {"d": h}
        if a == "f.rd":
            data = self.handles.get(d.get("fd"), b"")
            off, n = d.get("off", 0), d.get("n", 64)
            return {"d": data[off:off + n]}
        if a == "f.cl":
            return {"d": None}
        if a == "f.hash":
            return {"d": hashlib.sha256(content).digest()}
        return {"e": "NoCmd: " + a}

    def session(self, conn):
        unp = unpacker()
        with conn:
            try:
                conn.sendall(pack({"a": "link", "d": True}))
                while not self.stop:
                    data = conn.recv(65536)
                    if not data:
                        return
                    unp.feed(data)
                    for m in unp:
                        if not isinstance(m, dict) or "i" not in m:
                            continue
                        a = m.get("a")
                        a = ".".join(a) if isinstance(a, list) else a
                        r = self.answer(a, m.get("d"))
                        r["i"] = m["i"]
                        conn.sendall(msgpack.packb(r, use_bin_type=True))
            except OSError:
                return


def files_under(root):
    out = set()
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


class FsGetFromHostileDevice(unittest.TestCase):
    def setUp(self):
        # sandbox/work/target is where the files go; sandbox/ and sandbox/work/ must stay as
        # they are (the hostile names climb one and two levels up)
        self.sandbox = tempfile.mkdtemp(prefix="swarm-hostile-")
        self.addCleanup(shutil.rmtree, self.sandbox, True)
        self.work = os.path.join(self.sandbox, "work")
        self.outside = os.path.join(self.sandbox, "outside")
        os.makedirs(self.work)
        os.makedirs(self.outside)

    def device(self, tree, **kw):
        dev = HostileDevice(tree, **kw)
        self.addCleanup(dev.close)
        return "tcp://127.0.0.1:%d" % dev.port

    def test_traversal_names_are_refused_and_nothing_lands_outside(self):
        tree = {"d": {
            "ok.txt": b"fine\n",
            "../../x": b"climbed\n",
            "../escape": b"climbed\n",
            "..": {"y": b"climbed\n"},
            ".": {"z": b"dot\n"},
            "a/b": b"slash\n",
            "/abs": b"absolute\n",
            "nul\0name": b"nul\n",
            "esc" + ESC + "[2Jname": b"esc\n",
            "cr\rlf\n": b"crlf\n",
            "sub": {"../../../deep": b"climbed\n", "good": b"good\n"},
        }}
        link = self.device(tree)
        before = files_under(self.sandbox)
        r = subprocess.run([SWARM_BIN, "fs", link, "get", "-r", "d", "target"],
                           capture_output=True, timeout=60, cwd=self.work,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        # the good files arrive, the refusals are reported, the exit status says it failed
        self.assertEqual(r.returncode, 1, err)  # SW_EXIT_REMOTE: the device misbehaved
        target = os.path.join(self.work, "target")
        with open(os.path.join(target, "ok.txt"), "rb") as f:
            self.assertEqual(f.read(), b"fine\n")
        with open(os.path.join(target, "sub", "good"), "rb") as f:
            self.assertEqual(f.read(), b"good\n")
        after = files_under(self.sandbox)
        new = after - before
        self.assertEqual(sorted(new), sorted(["work/target", "work/target/ok.txt",
                                              "work/target/sub", "work/target/sub/good"]),
                         "written outside what the listing may name:\n" + err)
        self.assertFalse(os.path.exists(os.path.join(self.sandbox, "x")))
        self.assertFalse(os.path.exists("/abs"))
        for shown in ("'../../x'", "'../escape'", "'..'", "'.'", "'a/b'", "'/abs'", "'nul'",
                      "'esc\\x1b[2Jname'", "'cr\\rlf\\n'", "'../../../deep'"):
            self.assertIn(shown, err)
        self.assertNotIn(ESC, err, "an escape sequence reached the terminal")
        self.assertEqual(err.count("refused"), 10, err)

    HOSTILE = {"d": {
        "ok.txt": b"fine\n",
        "../../x": b"climbed\n",
        "..": {"y": b"climbed\n"},
        "a/b": b"slash\n",
        "esc" + ESC + "[2Jname": b"esc\n",
        "sub": {"../../../deep": b"climbed\n", "good": b"good\n"},
    }}

    def device_obj(self, tree):
        dev = HostileDevice(tree)
        self.addCleanup(dev.close)
        return dev, "tcp://127.0.0.1:%d" % dev.port

    def test_rm_r_deletes_only_the_entries_listed(self):
        # rm -r of a directory: every f.rm names an entry of the directory it listed; a name
        # that is no plain path element ("../../x", "a/b") is refused, and so its directory
        # is not removed either
        dev, link = self.device_obj(self.HOSTILE)
        r = swarm("fs", link, "rm", "-r", "d")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertEqual(sorted(dev.changes), [("f.rm", "d/ok.txt"), ("f.rm", "d/sub/good")], err)
        self.assertEqual(err.count("refused"), 5, err)  # (a control byte is refused too)
        self.assertNotIn(ESC, err)

    def test_sync_delete_deletes_only_the_entries_listed(self):
        dev, link = self.device_obj(self.HOSTILE)
        empty = os.path.join(self.work, "empty")
        os.makedirs(empty)
        r = swarm("fs", link, "sync", "--delete", empty, "d")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        self.assertEqual(sorted(dev.changes), [("f.mkdir", "d"), ("f.rm", "d/ok.txt"),
                                               ("f.rm", "d/sub/good")], err)
        self.assertEqual(err.count("not deleted"), 4, err)
        self.assertNotIn(ESC, err)
        # a dry run asks for nothing and shows the names escaped
        dev.changes.clear()
        r = swarm("fs", link, "sync", "--delete", "--dry-run", empty, "d")
        out = r.stdout.decode(errors="replace")
        self.assertEqual(dev.changes, [])
        self.assertEqual(sorted(out.splitlines()), ["delete d/ok.txt", "delete d/sub"])
        self.assertNotIn(ESC, r.stderr.decode(errors="replace"))

    def test_completion_offers_only_plain_names(self):
        # a device's names reach the shell's prompt through completion: the hostile ones
        # (escape sequences, newlines that would forge more candidates, "..") are not offered
        dev, link = self.device_obj({"d": {"ok.txt": b"x", "esc" + ESC + "[2J": b"x", "two\nlines": b"x",
                                           "..": {}, "sub": {}}})
        r = swarm("__complete", "words", "--", "swarm", "fs", link, "cat", "d/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.decode().splitlines()), ["d/ok.txt", "d/sub/"])

    def test_c1_controls_in_names_are_escaped(self):
        # U+009B is CSI for many terminals; in UTF-8 it passes the plain-name check (no byte
        # below 0x20), so every line that shows such a name must escape it
        csi = "\u009b"
        link = self.device({"d": {"file" + csi + "2J": b"x", "other" + csi + "2J": None}})
        r = subprocess.run([SWARM_BIN, "-v", "fs", link, "get", "-r", "d", "target"], capture_output=True,
                           timeout=60, cwd=self.work, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(csi.encode(), r.stderr)
        self.assertIn(b"not a file or directory on the device, skipped", r.stderr)
        self.assertIn(b"get d/file", r.stderr)

    def test_hash_of_a_tree_is_escaped(self):
        dev, link = self.device_obj({"d": {"esc" + ESC + "]0;title\x07": b"x", "row\nforged": b"y"}})
        r = swarm("fs", link, "hash", "d")
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(ESC, out)
        self.assertEqual(len(out.splitlines()), 2, out)
        self.assertIn("d/esc\\x1b]0;title\\x07", out)

    def test_a_link_in_the_target_folder_is_not_followed(self):
        target = os.path.join(self.work, "target")
        os.makedirs(target)
        os.symlink(self.outside, os.path.join(target, "sub"))
        os.symlink(os.path.join(self.outside, "victim"), os.path.join(target, "file"))
        link = self.device({"d": {"sub": {"planted": b"through the link\n"},
                                  "file": b"replaces the link\n"}})
        r = subprocess.run([SWARM_BIN, "fs", link, "get", "-r", "d", "target"],
                           capture_output=True, timeout=60, cwd=self.work,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertEqual(os.listdir(self.outside), [], "written through a link:\n" + err)
        self.assertIn("a link is in the way", err)

    def test_a_file_link_is_replaced_not_written_through(self):
        target = os.path.join(self.work, "target")
        os.makedirs(target)
        os.symlink(os.path.join(self.outside, "victim"), os.path.join(target, "file"))
        link = self.device({"d": {"file": b"new content\n"}})
        r = subprocess.run([SWARM_BIN, "fs", link, "get", "-r", "d", "target"],
                           capture_output=True, timeout=60, cwd=self.work,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.listdir(self.outside), [])
        self.assertFalse(os.path.islink(os.path.join(target, "file")))
        with open(os.path.join(target, "file"), "rb") as f:
            self.assertEqual(f.read(), b"new content\n")

    def test_ls_and_errors_are_escaped(self):
        link = self.device({"d": {"esc" + ESC + "]0;title\x07": b"x", "row\nforged": b"y"}},
                           errors={"f.stat": "fn" + ESC + "[31m\r\nforged line"})
        r = swarm("fs", link, "ls", "d")
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(ESC, out)
        self.assertIn("esc\\x1b]0;title\\x07", out)
        self.assertIn("row\\nforged", out)
        self.assertEqual(len(out.splitlines()), 2, out)
        r = swarm("fs", link, "stat", "d/whatever")
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn(ESC, err)
        self.assertNotIn("\r", err)
        self.assertIn("\\x1b[31m\\r\\nforged line", err)

    def test_call_results_and_errors_are_escaped(self):
        link = self.device({}, values={"x.val": "two\nlines " + ESC + "[2J\rover"},
                           errors={"x.bad": "Boom" + ESC + "[2J\nforged"})
        r = swarm("call", link, "x.val")
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(out, "two\nlines \\x1b[2J\\rover\n")  # lines kept, controls shown
        r = swarm("call", link, "x.bad")
        err = r.stderr.decode(errors="replace")
        self.assertNotIn(ESC, err)
        self.assertIn("Boom\\x1b[2J\\nforged", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_cfg_warning_escapes_device_keys(self):
        # cfg set of a key the device lacks warns with the keys it has, and suggests the
        # nearest: the device's names, shown not obeyed
        # (sys.cfg's part form: [{simple key: value}, [keys of containers]])
        link = self.device({}, values={"sys.cfg": [{"wdt" + ESC + "]0;owned\x07": 1, "colour\rforged": 2, "colr\x07": 3}, []]})
        r = swarm("cfg", link, "set", "color", "1")
        err = r.stderr.decode(errors="replace")
        self.assertIn("has no 'color'", err)
        self.assertIn("wdt\\x1b]0;owned\\x07", err)
        self.assertIn("colour\\rforged", err)
        self.assertIn("did you mean 'colr\\x07'", err)
        self.assertNotIn(ESC, err)
        self.assertNotIn("\r", err)

    def test_console_escapes_unless_raw(self):
        text = "boot ok\r\n" + ESC + "]2;owned" + "\x07" + ESC + "[2Jcleared \u20ac\n"
        link = self.device({}, values={"sys.log": {"d": text, "p": len(text.encode())}})
        r = swarm("console", "--no-follow", link)
        out = r.stdout.decode(errors="replace")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(ESC, out)
        self.assertEqual(out, "boot ok\r\n\\x1b]2;owned\\x07\\x1b[2Jcleared \u20ac\n")
        r = swarm("console", "--no-follow", "--raw", link)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode(), text)


class ForgedBeacon(unittest.TestCase):
    """A beacon sent to the scanner on loopback with escape sequences, CR and LF in its strings."""

    def test_scan_table_escapes_beacon_strings(self):
        tmp = tempfile.mkdtemp(prefix="swarm-hostile-")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"))
        port = free_port()
        beacon = {"ifconfigs": [["127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1"]],
                  "settings": {"board": {"host_name": "evil" + ESC + "[2J" + ESC + "[H",
                                         "app_name": "app\r\nfake  10.0.0.9  row",
                                         "hardware_name": "b\x9bx"},
                               "boot": {}}}
        data = json.dumps(beacon).encode()
        stop = threading.Event()

        def send():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                while not stop.wait(0.05):
                    s.sendto(data, ("127.0.0.1", port))

        t = threading.Thread(target=send, daemon=True)
        t.start()
        try:
            r = subprocess.run([SWARM_BIN, "scan", "--port", str(port), "--no-query",
                                "--wait-for", "1", "--timeout", "20s", "-v"],
                               capture_output=True, timeout=60, env=env,
                               stdin=subprocess.DEVNULL)
        finally:
            stop.set()
            t.join(5)
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, err)
        self.assertNotIn(ESC, out + err)
        self.assertNotIn("\r", out + err)
        self.assertNotIn("\x9b", out + err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)  # the header and one device: no forged row
        self.assertIn("evil\\x1b[2J\\x1b[H", lines[1])
        self.assertIn("app\\r\\nfake", lines[1])
        self.assertIn("b\\xc2\\x9bx", lines[1])
        # --json keeps the device's strings as they were (JSON escapes them for scripts)
        with open(os.path.join(tmp, "cache", "swarm", "scan.json")) as f:
            self.assertIn("evil\x1b[2J\x1b[H", json.load(f)["hosts"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
