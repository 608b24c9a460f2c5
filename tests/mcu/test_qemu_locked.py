"""The locked (authenticated) mode on the Cortex-M3 firmware (issue 14): a QEMU guest in a
network namespace the test creates (its LAN9118 on a tap, AutoIP), UART0 on a pty, files on a
flash image (semihosting). The key is provisioned over the open UART with the real
`swarm key install`; the guest resets and comes back locked. Then, over TCP (lwIP):

- without a key (a plain MoaT client: `SWARM_KEY_FILE=` empty) and with a wrong key, nothing
  executes: checked on the node (the directory the call would make does not exist, asked with
  the key afterwards) and in the guest's log (why each link was refused);
- the beacon and `swarm scan` show the node locked (no key bytes in the beacon);
- a client that sends the preamble and nothing more is closed after auth.handshake_ms;
- with the key: call, eval, fs (put, get, ls) and push (an app, then its command) work, and
  so does the UART link;
- the key cannot be read back: f.stat/f.open of swarm.key (several spellings) fail, f.ls does
  not list it, sys.cfg holds no byte of it; the key survives a restart (the node comes back locked).
The lossy UART (SerialPacker + Reliable, the firmware's default) is locked too: a second test,
without a network, provisions and calls over it.
Also prints (not asserted: QEMU time is not hardware time) the guest's handshake time and its
RAM from sys.info, recorded in bench/RESULTS.md ("Authenticated mode"). Root is needed for
the namespace; without it that test is skipped (a failure under CI=true)."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import qemu

sys.path.insert(0, os.path.join(qemu.SRC, "tests", "e2e"))
import noise_ref  # noqa: E402  (an independent Noise client on python3-cryptography)

MAC = "52:54:00:5a:00:21"


class Locked(unittest.TestCase):
    def setUp(self):
        qemu.require()
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.dir, "cfg"),
                        XDG_CACHE_HOME=os.path.join(self.dir, "cache"))
        self.env.pop("SWARM_KEY_FILE", None)
        self.addCleanup(self.tmp.cleanup)
        self.lab = self.g = None

    def tearDown(self):
        if self.g:
            self.g.stop()

    def swarm(self, *args, key=None, timeout=120):
        """The host tool (inside the namespace when there is one). key: None (the fleet key of
        the test's config folder), "" (no key at all) or a key file for every device."""
        env = dict(self.env)
        if key is not None:
            env["SWARM_KEY_FILE"] = key
        pre = ["ip", "netns", "exec", self.lab.ns] if self.lab else []
        p = subprocess.run(pre + [qemu.SWARM_BIN] + list(args), capture_output=True, timeout=timeout,
                           env=env)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def ok(self, *args, **kw):
        rc, out, err = self.swarm(*args, **kw)
        self.assertEqual(rc, 0, "swarm %s: %s%s%s" % (" ".join(args), out, err, self.log()))
        return out

    def log(self):
        return "\nguest output:\n" + "\n".join(self.g.out[-30:])

    def test_lossy_uart_locked(self):
        """The default UART mode (SerialPacker + Reliable): each Noise frame in a Reliable
        message. No network needed."""
        img = os.path.join(self.dir, "flash.img")
        self.g = g = qemu.Guest("serial=lossy net=off flash=%s" % img).start()
        g.wait_line(r" I ready$")
        uart = g.link(True)
        self.ok("key", "new")
        start = len(g.out)
        self.ok("key", "install", uart)
        g.wait_line(r"auth: locked", 60, start)
        g.wait_line(r" I ready$", 30, start)
        self.assertEqual(json.loads(self.ok("call", "--json", uart, "ping", "m=lossy")), "R:lossy")
        start = len(g.out)
        rc, out, err = self.swarm("call", "--timeout", "5", uart, "f.mkdir", "p=plain", key="")
        self.assertNotEqual(rc, 0, out + err)
        g.wait_line(r"link uart0: not an authenticated client, closing the reliable link", 30, start)
        self.assertNotIn("plain", self.ok("fs", uart, "ls").split())

    def test_locked_firmware(self):
        qemu.require_netns()
        self.lab = qemu.NetLab().__enter__()
        self.addCleanup(self.lab.close)
        img = os.path.join(self.dir, "flash.img")
        self.g = g = self.lab.guest(MAC, "serial=lossless flash=%s" % img)
        addr = g.address()
        tcp = "tcp://" + addr
        uart = g.link(False)

        # open as before: a plain call runs
        self.ok("fs", tcp, "mkdir", "open1", key="")
        keyfile = self.ok("key", "new").strip()
        key = open(keyfile, "rb").read()
        self.assertEqual(len(key), 32)

        # provisioned over the open UART; the node resets and comes back locked
        start = len(g.out)
        out = self.ok("key", "install", uart)
        self.assertIn("restarts locked", out)
        g.wait_line(r"auth: locked: every RPC link needs the key", 60, start)
        addr = g.out[g.wait_line_index(r"^net: \w+ 169\.254\.\d+\.\d+ \(AutoIP\)", 60, start)].split()[2]
        tcp = "tcp://" + addr

        # no key: a plaintext client gets nothing run
        start = len(g.out)
        rc, out, err = self.swarm("fs", tcp, "mkdir", "nokey", key="")
        self.assertNotEqual(rc, 0, out + err)
        g.wait_line(r"link 169\.254\.254\.1:\d+: not an authenticated client, closing", 30, start)
        # a wrong key: the handshake fails, nothing run
        wrong = os.path.join(self.dir, "wrong.key")
        with open(wrong, "wb") as f:
            f.write(bytes(32))
        start = len(g.out)
        rc, out, err = self.swarm("fs", tcp, "mkdir", "wrongkey", key=wrong)
        self.assertEqual(rc, 3, out + err)
        self.assertIn("wrong key", err)
        g.wait_line(r"link 169\.254\.254\.1:\d+: wrong key \(handshake failed\), closing", 30, start)

        # with the key: everything works, and the refused calls left nothing behind
        start = len(g.out)
        t0 = time.monotonic()
        self.assertEqual(json.loads(self.ok("call", "--json", tcp, "ping", "m=locked")), "R:locked")
        first_call = time.monotonic() - t0
        g.wait_line(r"link 169\.254\.254\.1:\d+: authenticated", 30, start)
        names = self.ok("fs", tcp, "ls").split()
        self.assertIn("open1", names)
        self.assertNotIn("nokey", names)
        self.assertNotIn("wrongkey", names)
        self.assertEqual(self.ok("eval", tcp, "6 * 7").strip(), "42")
        data = os.urandom(3000)
        local = os.path.join(self.dir, "blob")
        with open(local, "wb") as f:
            f.write(data)
        self.ok("fs", tcp, "put", local, "blob")
        back = os.path.join(self.dir, "blob.back")
        self.ok("fs", tcp, "get", "blob", back)
        self.assertEqual(open(back, "rb").read(), data)

        # push an app over the authenticated link, then call its command
        app = os.path.join(self.dir, "proj", "apps", "lk")
        os.makedirs(app)
        with open(os.path.join(app, "main.lua"), "w") as f:
            f.write("swarm.command('v', function() return 'locked push' end, 'the version')\n")
        d = json.loads(self.ok("push", "--json", os.path.join(self.dir, "proj"), "--link", tcp,
                               "--app", "lk"))["devices"][0]
        self.assertEqual(d["result"], "ok", d)
        self.assertEqual(json.loads(self.ok("call", "--json", tcp, "lk.v")), "locked push")

        # the key is nobody's to read, even with the key
        for p in ("swarm.key", "/swarm.key", "apps/../swarm.key", "swarm.key.tmp"):
            rc, out, err = self.swarm("call", tcp, "f.stat", "p=" + p)
            self.assertNotEqual(rc, 0, p + out)
            rc, out, err = self.swarm("call", tcp, "f.open", "p=" + p, "m=r")
            self.assertNotEqual(rc, 0, p + out)
        cfg = self.ok("call", "--json", tcp, "sys.cfg")
        self.assertNotIn(key.hex(), cfg)
        # nor listed (so fs get -r of the root does not trip over it)
        names = json.loads(self.ok("call", "--json", tcp, "f.ls"))
        self.assertIn("blob", names)
        self.assertNotIn("swarm.key", names)

        # the beacon and scan say locked, and carry no key
        out = self.ok("scan", "--json", "--no-cache", "--wait-for", "1", "--timeout", "5s")
        devs = [d for d in json.loads(out) if d.get("ip") == addr]
        self.assertEqual(len(devs), 1, out)
        self.assertTrue(devs[0]["locked"], out)
        self.assertNotIn(key.hex(), out)

        # the UART is locked too: without the key no answer, with it the call runs
        rc, out, err = self.swarm("call", "--timeout", "3", uart, "ping", "m=plain", key="")
        self.assertNotEqual(rc, 0, out + err)
        self.assertEqual(json.loads(self.ok("call", "--json", uart, "ping", "m=uart")), "R:uart")

        # RAM after handshakes on both links, a push and an app (sys.info hw.ram)
        info = json.loads(self.ok("call", "--json", tcp, "sys.info"))
        ram = info["hw"]["ram"]
        self.assertLessEqual(ram["static"] + ram["heap_size"] + ram["stack_size"], 96 * 1024)
        print("\nlocked firmware: first call with the handshake %.2f s (host side); RAM static %d, heap peak %d of %d, stack peak %d of %d; pools %s" % (
                  first_call, ram["static"], ram["heap_peak"],
                  ram["heap_size"], ram["stack_peak"], ram["stack_size"], ram.get("pools")))

        # the handshake as a client sees it (message 1 sent -> message 2 in), printed only
        times = []
        for _ in range(5):
            with qemu.netns(self.lab.ns):
                sock = socket.create_connection((addr, 27587), timeout=30)
            with sock:
                nz = noise_ref.Noise(True, key, os.urandom(32))
                t0 = time.monotonic()
                sock.sendall(noise_ref.PREAMBLE + noise_ref.frame(nz.write_hs()))
                df, frames = noise_ref.Deframer(), []
                while not frames:
                    d = sock.recv(4096)
                    self.assertTrue(d, "the node closed the connection" + self.log())
                    frames = df.feed(d)
                times.append(time.monotonic() - t0)
                nz.read_hs(frames[0])  # (raises if message 2 does not authenticate)
        print("locked firmware: handshake (client: msg 1 -> msg 2) %s ms, median %.0f ms" % (
            " ".join("%.0f" % (t * 1000) for t in times), 1000 * sorted(times)[2]))

        # a client that never completes its handshake is closed after auth.handshake_ms
        self.ok("cfg", tcp, "set", "auth.handshake_ms", "500")
        start = len(g.out)
        with qemu.netns(self.lab.ns):
            sock = socket.create_connection((addr, 27587), timeout=30)
        with sock:
            sock.sendall(noise_ref.PREAMBLE)  # and then nothing
            self.assertEqual(sock.recv(100), b"", "the node did not close the silent client")
        g.wait_line(r"link 169\.254\.254\.1:\d+: handshake not completed in time, closing", 30, start)

        # the key is on the flash: after a restart the node is locked again
        g.stop()
        self.g = g = self.lab.guest("52:54:00:5a:00:22", "serial=lossless flash=%s" % img)
        g.wait_line(r"auth: locked", 60)


if __name__ == "__main__":
    unittest.main()
