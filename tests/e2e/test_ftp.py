#!/usr/bin/python3
"""FTP service of swarm-node against real clients: lftp with micro-swarm's exact push command
line (mirror --reverse into apps/{app}/ and back, the app's hot reload), curl, Python ftplib
(every command, two sessions at once), uploads cut mid-way (the old file stays), bad input.

Runs in the LAN of tests/lab/lanlab.py: as root one network namespace per node, FTP on its
default port 21, clients in the host namespace; without root nodes on loopback addresses with
every service on a free port.
"""
import calendar
import contextlib
import ftplib
import hashlib
import io
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
sys.path.insert(0, HERE)
import swarmtest  # noqa: E402

import lanlab  # noqa: E402

APP = "ftpapp"
TIMEOUT = 20


def in_ns(ns):
    return lanlab.netns(ns) if ns else contextlib.nullcontext()


def tree(root, skip=lambda rel: False):
    """{relative path: sha256} of the files under root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if not skip(rel):
                with open(p, "rb") as f:
                    out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def dotted(rel):
    return any(part.startswith(".") for part in rel.split(os.sep))


def in_pycache(rel):
    return "__pycache__" in rel.split(os.sep)


# The lftp script of micro-swarm's push_code, transcribed (not copied) from script/push_code
# of expendable-duck/micro-swarm @ e55dfbf98f9a49172e1327028d8fd0ad610e7532 (its only commit):
# escape_lftp_arg (L54-55) and the join in lftp_exec (L70), the commands of push_code
# (L104-124). It differs only in taking the local folder as an argument (upstream: the repo's
# apps/APP next to the script). PUSH_CODE_SCRIPT is the script that commit produces for app
# "example" at 169.254.185.17:21, as /work/shared/spec/micro-swarm-wire.md §3 records it byte
# for byte; test_transcription_matches_the_pin checks ours against it.
PUSH_CODE_SCRIPT = ("'set' 'cmd:fail-exit' 'yes';\n"
                    "'set' 'ftp:list-options' '-a';\n"
                    "'set' 'ftp:passive-mode' 'yes';\n"
                    "'open' 'ftp://169.254.185.17:21';\n"
                    "'lcd' '<repo>/apps/example';\n"
                    "'cd' '/apps/example/';\n"
                    "'mirror' '--reverse' '--scan-all-first' '--transfer-all' '--delete' '--use-cache' "
                    "'--verbose' '--no-perms' '--no-umask' '--parallel=1' '--exclude-glob' '__pycache__' "
                    "'--exclude-glob' '.*'")


def micro_swarm_script(ip, port, local, app):
    """push_code's lftp script, quoted and joined as push_code does it (see above)."""
    cmds = [["set", "cmd:fail-exit", "yes"],
            ["set", "ftp:list-options", "-a"],
            ["set", "ftp:passive-mode", "yes"],
            ["open", "ftp://%s:%d" % (ip, port)],
            ["lcd", local],
            ["cd", "/apps/%s/" % app],
            ["mirror", "--reverse", "--scan-all-first", "--transfer-all", "--delete", "--use-cache",
             "--verbose", "--no-perms", "--no-umask", "--parallel=1", "--exclude-glob", "__pycache__",
             "--exclude-glob", ".*"]]
    q = lambda w: "'" + w.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return ";\n".join(" ".join(q(w) for w in c) for c in cmds)


class PushCodeTranscription(unittest.TestCase):
    def test_transcription_matches_the_pin(self):
        self.assertEqual(micro_swarm_script("169.254.185.17", 21, "<repo>/apps/example", "example"),
                         PUSH_CODE_SCRIPT)
        # the quoting of escape_lftp_arg: backslash and single quote escaped
        self.assertIn("'lcd' 'it\\'s \\\\ x'", micro_swarm_script("h", 1, "it's \\ x", "a"))


LIST_RE = re.compile(r"^([-d])(?:rw-r--r--|rwxr-xr-x) 1 owner group +(\d+) [A-Z][a-z]{2} [ \d]\d ( \d{4}|\d\d:\d\d) (.+)$")


class FtpTest(unittest.TestCase):
    # node 0: defaults; node 1: a passive port range, a short idle timeout, few sessions
    CONFIG = [{}, {"ftp": {"pasv_min": 40100, "pasv_max": 40104, "idle_s": 2, "max_sessions": 3}}]

    @classmethod
    def setUpClass(cls):
        cfg = lambda i: cls.CONFIG[i]
        args = lambda i: ["--app", APP]
        cls.lan = lanlab.Lan(nodes=2, node_config=cfg, node_args=args, name_prefix="swftp")
        cls.lan.__enter__()
        cls.tmp = tempfile.mkdtemp(prefix="swarm-ftp-client-")
        cls.ports = []
        for i in range(2):
            m = None
            deadline = time.monotonic() + TIMEOUT
            while not m and time.monotonic() < deadline:
                m = re.search(r"ftp: listening on [^ ]*:(\d+)", cls.lan.node_log(i))
                time.sleep(0.02)
            if not m:
                cls.tearDownClass()
                raise AssertionError("node %d has no FTP service:\n%s" % (i, cls.lan.node_log(i)))
            cls.ports.append(int(m.group(1)))

    @classmethod
    def tearDownClass(cls):
        cls.lan.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers

    def ip(self, i=0):
        return self.lan.nodes[i].ip

    def url(self, path, i=0):
        port = self.ports[i]
        return "ftp://%s%s%s" % (self.ip(i), "" if port == 21 else ":%d" % port, path)

    def appdir(self, i=0):
        return os.path.join(self.lan.nodes[i].root, "apps", APP)

    def run_host(self, argv, timeout=120, check=True):
        r = self.lan.run(self.lan.host_ns, argv, timeout=timeout)
        if check and r.returncode:
            self.fail("%s failed (%d):\n%s%s\nnode log:\n%s" % (argv[0], r.returncode, r.stdout, r.stderr,
                                                               self.lan.node_log(0)[-3000:]))
        return r

    @contextlib.contextmanager
    def ns(self):
        with in_ns(self.lan.host_ns):
            yield

    def connect(self, i=0, login=True):
        """An ftplib session; call inside self.ns() (its data sockets are made there too)."""
        f = ftplib.FTP()
        f.connect(self.ip(i), self.ports[i], timeout=TIMEOUT)
        if login:
            f.login()
        return f

    def wait_log(self, text, i=0, timeout=TIMEOUT, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.lan.node_log(i).count(text) >= count:
                return
            time.sleep(0.05)
        self.fail("%r (x%d) not in the log of node %d:\n%s" % (text, count, i, self.lan.node_log(i)[-4000:]))

    def alive(self, i=0):
        self.assertTrue(self.lan.nodes[i].running(), self.lan.node_log(i)[-3000:])
        with self.ns():
            f = self.connect(i)
            self.assertEqual(f.sendcmd("NOOP"), "200 OK")
            f.quit()

    def no_temp_files(self, i=0):
        left = [os.path.join(d, x) for d, _, xs in os.walk(self.lan.nodes[i].root) for x in xs if ".ftptmp" in x]
        self.assertEqual(left, [])

    def local_app(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "lib"))
        os.makedirs(os.path.join(d, "data", "deep"))
        os.makedirs(os.path.join(d, "__pycache__"))
        files = {
            "main.lua": b'swarm.log("ftpapp v1")\nreturn {}\n',
            "lib/util.lua": b"return { answer = 42 }\n",
            "data/blob.bin": random.Random(5).randbytes(700_000),
            "data/deep/empty.txt": b"",
            "name with space.txt": b"spaces are fine\n",
            ".hidden": b"never pushed\n",
            "__pycache__/x.pyc": b"\x00\x01",
        }
        for rel, data in files.items():
            with open(os.path.join(d, rel), "wb") as f:
                f.write(data)
        return d

    # ---- lftp: micro-swarm's push, and back

    def test_lftp_mirror(self):
        local = self.local_app("push")
        os.makedirs(self.appdir(), exist_ok=True)
        with open(os.path.join(self.appdir(), "stale.txt"), "wb") as f:
            f.write(b"removed by --delete\n")
        reloads = self.lan.node_log(0).count("reloading the app")
        script = micro_swarm_script(self.ip(), self.ports[0], local, APP)
        r = self.run_host(["lftp", "-c", script])
        self.assertIn("Transferring file `main.lua'", r.stdout)

        want = tree(local, skip=lambda rel: dotted(rel) or in_pycache(rel))
        got = tree(self.appdir(), skip=in_pycache)
        self.assertEqual(got, want)
        self.assertFalse(os.path.exists(os.path.join(self.appdir(), ".hidden")))
        self.no_temp_files()
        # the app was reloaded once the uploads went quiet, and runs the new code
        self.wait_log("ftp: apps/%s changed: reloading the app" % APP, count=reloads + 1)
        self.wait_log("ftpapp v1")

        # and back: a plain mirror into an empty directory gives the same bytes, whether lftp
        # reads MLSD (what it picks from our FEAT) or LIST -a (what micro-swarm's server had)
        for mlsd in ("yes", "no"):
            back = os.path.join(self.tmp, "back-" + mlsd)
            shutil.rmtree(back, ignore_errors=True)
            os.makedirs(back)
            self.run_host(["lftp", "-c", "set ftp:use-mlsd %s; set ftp:list-options -a; open %s; lcd %s; "
                           "cd /apps/%s/; mirror --verbose" % (mlsd, self.url("", 0), back, APP)])
            self.assertEqual(tree(back), tree(self.appdir()), "ftp:use-mlsd " + mlsd)

        # second push: one file changed, one deleted, one new
        with open(os.path.join(local, "main.lua"), "wb") as f:
            f.write(b'swarm.log("ftpapp v2")\nreturn {}\n')
        os.unlink(os.path.join(local, "lib", "util.lua"))
        with open(os.path.join(local, "lib", "new.lua"), "wb") as f:
            f.write(b"return 'new'\n")
        reloads = self.lan.node_log(0).count("reloading the app")
        self.run_host(["lftp", "-c", script])
        want = tree(local, skip=lambda rel: dotted(rel) or in_pycache(rel))
        self.assertEqual(tree(self.appdir(), skip=in_pycache), want)
        self.assertFalse(os.path.exists(os.path.join(self.appdir(), "lib", "util.lua")))
        self.wait_log("ftpapp v2")
        time.sleep(SW_RELOAD_S + 0.5)  # nothing more is pending
        n = self.lan.node_log(0).count("reloading the app") - reloads
        self.assertTrue(1 <= n <= 2, "%d reloads for one push" % n)  # once, unless the push paused >1 s
        self.no_temp_files()

    # ---- curl

    def test_curl(self):
        d = os.path.join(self.appdir(), "curl")
        os.makedirs(d, exist_ok=True)
        data = random.Random(7).randbytes(1_500_000)
        src = os.path.join(self.tmp, "up.bin")
        with open(src, "wb") as f:
            f.write(data)
        # put, then get
        self.run_host(["curl", "-sS", "-T", src, self.url("/apps/%s/curl/up.bin" % APP)])
        with open(os.path.join(d, "up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        out = os.path.join(self.tmp, "down.bin")
        self.run_host(["curl", "-sS", "-o", out, self.url("/apps/%s/curl/up.bin" % APP)])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        # resume (REST)
        os.unlink(out)  # (-C appends to the output file)
        self.run_host(["curl", "-sS", "-C", "1000", "-o", out, self.url("/apps/%s/curl/up.bin" % APP)])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data[1000:])
        # a put into a directory that does not exist yet
        self.run_host(["curl", "-sS", "--ftp-create-dirs", "-T", src, self.url("/apps/%s/curl/new/dir/x.bin" % APP)])
        self.assertTrue(os.path.isfile(os.path.join(d, "new", "dir", "x.bin")))
        # listings
        r = self.run_host(["curl", "-sS", "--list-only", self.url("/apps/%s/curl/" % APP)])
        self.assertEqual(sorted(r.stdout.splitlines()), sorted(os.listdir(d)))
        r = self.run_host(["curl", "-sS", self.url("/apps/%s/curl/" % APP)])
        seen = {}
        for line in r.stdout.splitlines():
            m = LIST_RE.match(line)
            self.assertTrue(m, line)
            seen[m.group(4)] = (m.group(1), int(m.group(2)))
        self.assertEqual(seen, {"up.bin": ("-", len(data)), "new": ("d", 0)})
        # quote commands
        self.run_host(["curl", "-sS", "-Q", "MKD /apps/%s/curl/q" % APP, "-Q", "RNFR /apps/%s/curl/q" % APP,
                       "-Q", "RNTO /apps/%s/curl/r" % APP, "-Q", "DELE /apps/%s/curl/up.bin" % APP,
                       "--list-only", self.url("/apps/%s/curl/" % APP)])
        self.assertEqual(sorted(os.listdir(d)), ["new", "r"])
        r = self.run_host(["curl", "-sS", "-Q", "SITE exec('1')", self.url("/")], check=False)
        self.assertEqual(r.returncode, 21)  # quote command failed: 550
        r = self.run_host(["curl", "-sS", self.url("/apps/%s/curl/missing" % APP)], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.alive()

    # ---- ftplib: every command

    def test_ftplib_commands(self):
        with self.ns():
            f = self.connect(login=False)
            self.assertEqual(f.getwelcome(), "220 Hello, this is the swarm-node node1.")
            self.assertEqual(f.sendcmd("USER anonymous"), "230 Logged in.")
            self.assertEqual(f.sendcmd("PASS x"), "230 Logged in.")
            self.assertEqual(f.sendcmd("SYST"), "215 UNIX Type: L8")
            feat = f.sendcmd("FEAT")
            for x in ("EPSV", "MDTM", "MLST type*;size*;modify*;perm*;", "PASV", "REST STREAM", "SIZE", "UTF8"):
                self.assertIn("\n " + x + "\n", feat)
            self.assertTrue(f.sendcmd("OPTS UTF8 ON").startswith("200"))
            for c in ("TYPE A", "TYPE I", "TYPE L 8", "MODE S", "STRU F", "NOOP"):
                self.assertEqual(f.sendcmd(c), "200 OK", c)
            for c in ("TYPE E", "MODE B", "STRU R"):
                self.assertRaises(ftplib.error_perm, f.sendcmd, c)
            self.assertTrue(f.sendcmd("HELP").startswith("214"))
            self.assertEqual(f.sendcmd("ALLO 100")[:3], "202")
            with self.assertRaises(ftplib.error_temp) as cm:
                f.sendcmd("RETR /swarm.cfg")  # no PASV before it
            self.assertEqual(str(cm.exception)[:3], "425")
            self.assertEqual(f.pwd(), "/")
            f.cwd("/apps")
            self.assertEqual(f.pwd(), "/apps")
            self.assertEqual(f.mkd("ftplib"), "/apps/ftplib")
            f.cwd("ftplib")
            self.assertEqual(f.pwd(), "/apps/ftplib")
            self.assertEqual(f.sendcmd("CDUP"), "250 OK")
            self.assertEqual(f.pwd(), "/apps")
            f.cwd("ftplib")
            # STOR, RETR, APPE, REST, SIZE, MDTM
            data = bytes(range(256)) * 400
            self.assertEqual(f.storbinary("STOR a.bin", io.BytesIO(data)), "226 Done.")
            self.assertEqual(f.size("a.bin"), len(data))
            mdtm = f.sendcmd("MDTM a.bin")
            self.assertRegex(mdtm, r"^213 \d{14}$")
            self.assertLess(abs(calendar.timegm(time.strptime(mdtm[4:], "%Y%m%d%H%M%S")) - time.time()), 120)
            got = io.BytesIO()
            f.retrbinary("RETR a.bin", got.write)
            self.assertEqual(got.getvalue(), data)
            got = io.BytesIO()
            f.retrbinary("RETR a.bin", got.write, rest=1000)
            self.assertEqual(got.getvalue(), data[1000:])
            self.assertRaises(ftplib.error_perm, f.retrbinary, "RETR a.bin", got.write, rest=len(data) + 1)
            f.storbinary("APPE a.bin", io.BytesIO(b"tail"))
            self.assertEqual(f.size("a.bin"), len(data) + 4)
            f.storbinary("STOR a.bin", io.BytesIO(b"XY"), rest=100)  # REST + STOR: keeps the head
            with open(os.path.join(self.lan.nodes[0].root, "apps", "ftplib", "a.bin"), "rb") as fh:
                self.assertEqual(fh.read(), data[:100] + b"XY")
            # listings: LIST (with options), NLST, MLSD, MLST, STAT path
            f.mkd("sub")
            f.storbinary("STOR sub/b.txt", io.BytesIO(b"b"))
            names = sorted(f.nlst())
            self.assertEqual(names, ["a.bin", "sub"])
            lines = []
            f.retrlines("LIST -la", lines.append)
            self.assertEqual(sorted(LIST_RE.match(x).group(4) for x in lines), ["a.bin", "sub"])
            lines = []
            f.retrlines("LIST sub/b.txt", lines.append)
            self.assertEqual([LIST_RE.match(x).group(4) for x in lines], ["b.txt"])
            lines = []
            f.retrlines("NLST *.bin", lines.append)
            self.assertEqual(lines, ["a.bin"])
            lines = []
            f.retrlines("LIST nothing-here", lines.append)  # micro-swarm's: an empty listing
            self.assertEqual(lines, [])
            facts = dict(f.mlsd())
            self.assertEqual(facts["a.bin"]["type"], "file")
            self.assertEqual(facts["a.bin"]["size"], "102")
            self.assertEqual(facts["sub"]["type"], "dir")
            self.assertRegex(facts["a.bin"]["modify"], r"^\d{14}$")
            self.assertEqual(f.sendcmd("OPTS MLST type;size;"), "200 MLST OPTS type;size;")
            self.assertEqual(dict(f.mlsd())["a.bin"], {"type": "file", "size": "102"})
            mlst = f.sendcmd("MLST a.bin")
            self.assertEqual(mlst.split("\n")[1], " type=file;size=102; /apps/ftplib/a.bin")
            stat = f.sendcmd("STAT sub")
            self.assertTrue(stat.startswith("213-"), stat)
            self.assertIn(" b.txt", stat)
            self.assertTrue(f.sendcmd("STAT").startswith("211-"))
            # EPSV by hand
            port = int(re.search(r"\(\|\|\|(\d+)\|\)", f.sendcmd("EPSV")).group(1))
            s = socket.create_connection((self.ip(), port), timeout=TIMEOUT)
            self.assertEqual(f.sendcmd("NLST sub"), "150 Directory listing:")
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            s.close()
            self.assertEqual(got, b"b.txt\r\n")
            self.assertEqual(f.voidresp(), "226 Done.")
            # PASV carries the node's real address
            host = re.search(r"\((\d+,\d+,\d+,\d+),", f.sendcmd("PASV")).group(1)
            self.assertEqual(host.replace(",", "."), self.ip())
            # rename, delete, rmdir
            self.assertEqual(f.sendcmd("RNFR a.bin"), "350 Rename from")
            self.assertEqual(f.sendcmd("RNTO sub/c.bin"), "250 OK")
            self.assertRaises(ftplib.error_perm, f.sendcmd, "RNTO x")  # no RNFR before
            self.assertRaises(ftplib.error_perm, f.rmd, "sub")  # not empty
            self.assertRaises(ftplib.error_perm, f.delete, "sub")  # a directory
            f.delete("sub/b.txt")
            f.delete("sub/c.bin")
            self.assertEqual(f.rmd("sub"), "250 OK")
            # errors: missing files, escapes, no data connection, unsupported commands
            for c in ("RETR nothere", "SIZE nothere", "MDTM nothere", "DELE nothere", "RNFR nothere",
                      "CWD nothere", "RMD nothere", "MLST nothere", "MKD /apps/ftplib/x/y/z",
                      "CWD ../../..", "RETR ../../../etc/passwd", "RETR /../etc/passwd", "STOR ../../../x",
                      "MKD /../x", "RNFR /../../etc", "CWD /apps/../..", "LIST ../../..", "SIZE ..\\..\\x",
                      "SITE UTIME 20200101000000 a.bin", "SITE exec('import os')", "MLSD nothere"):
                with self.assertRaises(ftplib.error_perm, msg=c) as cm:
                    f.sendcmd(c)
                self.assertTrue(str(cm.exception).startswith("550 Fail"), (c, str(cm.exception)))
            for c in ("PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|", "AUTH TLS", "MFMT 2020 x", "XYZZY"):
                with self.assertRaises(ftplib.error_perm, msg=c) as cm:
                    f.sendcmd(c)
                self.assertEqual(str(cm.exception)[:3], "502", c)
            self.assertEqual(f.sendcmd("ABOR"), "225 No transfer to abort.")
            self.assertEqual(f.sendcmd("REST 12"), "350 Restarting at 12. Send RETR or STOR.")
            self.assertRaises(ftplib.error_perm, f.sendcmd, "REST -1")
            self.assertEqual(f.quit(), "221 Bye.")

    def test_two_sessions(self):
        root = self.lan.nodes[0].root
        os.makedirs(os.path.join(root, "s1"), exist_ok=True)
        os.makedirs(os.path.join(root, "s2"), exist_ok=True)
        big = random.Random(11).randbytes(3_000_000)
        with open(os.path.join(root, "s1", "big.bin"), "wb") as fh:
            fh.write(big)
        with self.ns():
            a, b = self.connect(), self.connect()
            a.cwd("/s1")
            b.cwd("/s2")
            a.voidcmd("TYPE I")
            conn = a.transfercmd("RETR big.bin")  # A's download starts ...
            got = conn.recv(10000)
            # ... B works meanwhile, in its own directory, with its own transfers
            self.assertEqual(b.pwd(), "/s2")
            b.storbinary("STOR b.txt", io.BytesIO(b"from b"))
            self.assertEqual(b.nlst(), ["b.txt"])
            b.sendcmd("REST 2")
            out = io.BytesIO()
            b.retrbinary("RETR b.txt", out.write)
            self.assertEqual(out.getvalue(), b"om b")
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
            conn.close()
            self.assertEqual(a.voidresp(), "226 Done.")
            self.assertEqual(got, big)
            self.assertEqual(a.pwd(), "/s1")
            self.assertEqual(a.nlst(), ["big.bin"])
            # a command sent during a transfer waits for it (only ABOR and STAT do not)
            conn = a.transfercmd("RETR big.bin")
            a.putcmd("PWD")
            got = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
            conn.close()
            self.assertEqual(a.getresp(), "226 Done.")
            self.assertEqual(a.getresp(), '257 "/s1"')
            a.quit()
            b.quit()

    # ---- uploads cut mid-way leave the old file

    def put_victim(self, name):
        path = os.path.join(self.appdir(), name)
        os.makedirs(self.appdir(), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(b"the old content\n")
        return path

    def assert_victim(self, path):
        time.sleep(0.3)
        with open(path, "rb") as fh:
            self.assertEqual(fh.read(), b"the old content\n")
        self.no_temp_files()

    def test_cut_uploads(self):
        chunk = b"N" * 65536
        # data connection reset mid-way
        path = self.put_victim("v1.bin")
        with self.ns():
            f = self.connect()
            f.cwd("/apps/" + APP)
            f.voidcmd("TYPE I")
            conn = f.transfercmd("STOR v1.bin")
            for _ in range(5):
                conn.sendall(chunk)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            with self.assertRaises(ftplib.error_temp) as cm:
                f.voidresp()
            self.assertEqual(str(cm.exception)[:3], "426")
            self.assert_victim(path)
            # ABOR mid-way
            conn = f.transfercmd("STOR v1.bin")
            conn.sendall(chunk)
            time.sleep(0.1)
            f.sock.sendall(b"\xff\xf4\xff\xf2ABOR\r\n")  # Telnet IP + DM first, as RFC 959 asks
            with self.assertRaises(ftplib.error_temp) as cm:
                f.getresp()
            self.assertEqual(str(cm.exception), "426 Transfer aborted.")
            self.assertEqual(f.getresp(), "226 ABOR successful.")
            conn.close()
            self.assert_victim(path)
            # ftplib's own abort (ABOR as urgent data) during a download the client does not read
            with open(os.path.join(self.appdir(), "huge.bin"), "wb") as fh:
                fh.write(b"R" * 30_000_000)
            conn = f.transfercmd("RETR /apps/%s/huge.bin" % APP)
            time.sleep(0.2)
            self.assertEqual(f.abort(), "426 Transfer aborted.")
            self.assertEqual(f.getresp(), "226 ABOR successful.")
            conn.close()
            os.unlink(os.path.join(self.appdir(), "huge.bin"))
            self.assertEqual(f.sendcmd("NOOP"), "200 OK")
            # the control connection closed mid-way
            conn = f.transfercmd("STOR v1.bin")
            conn.sendall(chunk)
            f.close()
            time.sleep(0.3)
            conn.close()
            self.assert_victim(path)
        # the client killed mid-way
        src = os.path.join(self.tmp, "slow.bin")
        with open(src, "wb") as fh:
            fh.write(b"S" * 4_000_000)
        p = self.lan.popen(self.lan.host_ns, ["curl", "-sS", "--limit-rate", "400k", "-T", src,
                                              self.url("/apps/%s/v1.bin" % APP)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            tmps = [x for x in os.listdir(self.appdir()) if ".ftptmp" in x]
            if tmps and os.path.getsize(os.path.join(self.appdir(), tmps[0])) > 200_000:
                break
            time.sleep(0.05)
        else:
            self.fail("the upload did not start:\n" + self.lan.node_log(0)[-3000:])
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.assert_victim(path)
        self.wait_log("upload of /apps/%s/v1.bin aborted" % APP, count=4)
        self.alive()

    # ---- bad input

    def test_bad_input(self):
        with self.ns():
            s = socket.create_connection((self.ip(), self.ports[0]), timeout=TIMEOUT)
            rf = s.makefile("rb")
            self.assertTrue(rf.readline().startswith(b"220 "))

            def cmd(line):
                s.sendall(line)
                return rf.readline()

            rng = random.Random(3)
            for _ in range(300):  # garbage lines: 500 or 502, never silence or a crash
                # (no 0xff: an unterminated Telnet subnegotiation would swallow what follows)
                junk = bytes(rng.randrange(255) for _ in range(rng.randrange(1, 80))).replace(b"\n", b"")
                reply = cmd(junk + b"\r\n")
                self.assertRegex(reply, rb"^(500|502|5\d\d|2\d\d|3\d\d|4\d\d) ", junk)
                while reply[3:4] == b"-":  # a multi-line reply (HELP, FEAT, STAT by chance)
                    reply = rf.readline()
            self.assertEqual(cmd(b"NOOP\r\n"), b"200 OK\r\n")
            self.assertEqual(cmd(b"A" * 100_000 + b"\r\n"), b"500 Fail: line too long (max 1024 bytes).\r\n")
            self.assertEqual(cmd(b"\xff\xfb\x01NO\xff\xff\xff\xfdOP\r\n")[:3], b"500")  # NO<0xff>OP
            self.assertEqual(cmd(b"\xff\xfb\x01NOOP\n"), b"200 OK\r\n")
            self.assertEqual(cmd(b"RETR a\x00b\r\n"), b"500 Fail: syntax error.\r\n")
            self.assertEqual(cmd(b"\r\n"), b"500 Fail: empty command.\r\n")
            for c in (b"PORT 1,2,3,4,5,6", b"PORT 999,1,1,1,1,1", b"PORT", b"PORT 169,254,0,1,0,22",
                      b"EPRT |2|::1|21|", b"EPRT |1|255.255.255.255|9|"):
                self.assertEqual(cmd(c + b"\r\n")[:4], b"502 ", c)
            self.assertEqual(cmd(b"EPSV 2\r\n")[:4], b"522 ")
            # many PASVs: each replaces the last listener
            for _ in range(200):
                self.assertEqual(cmd(b"PASV\r\n")[:4], b"227 ")
            rf.close()
            s.close()

            # a symlink inside the root that points out of it is never followed
            root = self.lan.nodes[0].root
            link = os.path.join(root, "escape")
            if not os.path.lexists(link):
                os.symlink("/etc", link)
            f = self.connect()
            for c in ("CWD /escape", "SIZE /escape", "MDTM /escape", "DELE /escape/passwd", "MLST /escape"):
                with self.assertRaises(ftplib.error_perm, msg=c):
                    f.sendcmd(c)
            for c in ("RETR /escape/passwd", "MLSD /escape", "LIST /escape/passwd"):
                with self.assertRaises(ftplib.error_perm, msg=c):
                    f.retrlines(c, lambda x: None)
            self.assertNotIn("escape", f.nlst("/"))
            f.quit()

            # a flood of connections: max_sessions (8) served, the rest told 421, all freed after
            time.sleep(0.2)
            socks = []
            for _ in range(40):
                x = socket.create_connection((self.ip(), self.ports[0]), timeout=TIMEOUT)
                socks.append((x, x.makefile("rb")))
            greet = [r.readline()[:4] for _, r in socks]
            self.assertEqual(greet.count(b"220 "), 8)
            self.assertEqual(greet.count(b"421 "), 32)
            for x, r in socks:
                r.close()
                x.close()
        time.sleep(0.3)
        self.alive()

    # ---- the settings: passive range, idle timeout, max sessions

    def test_settings(self):
        with self.ns():
            f = self.connect(1)
            for _ in range(12):
                m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", f.sendcmd("PASV"))
                self.assertEqual(".".join(m.group(k) for k in range(1, 5)), self.ip(1))
                self.assertTrue(40100 <= int(m.group(5)) * 256 + int(m.group(6)) <= 40104)
            self.assertIn("apps", f.nlst("/"))  # a transfer through the range
            g, h = self.connect(1), self.connect(1)
            x = socket.create_connection((self.ip(1), self.ports[1]), timeout=TIMEOUT)
            self.assertTrue(x.makefile("rb").readline().startswith(b"421 Too many connections (max 3)"))
            x.close()
            # idle timeout (2 s): the session is told and closed
            t0 = time.monotonic()
            for c in (f, g, h):
                self.assertEqual(c.getline(), "421 Idle timeout (2 s), closing.")
            self.assertGreater(time.monotonic() - t0, 0.5)
            for c in (f, g, h):
                with contextlib.suppress(Exception):
                    c.close()
            # the node frees a slot once the socket is closed, which may be just after its 421 arrived
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    self.connect(1).quit()
                    break
                except ftplib.error_temp as e:
                    if not str(e).startswith("421 Too many") or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        self.alive(1)


SW_RELOAD_S = 1.0

if __name__ == "__main__":
    unittest.main(verbosity=2)
