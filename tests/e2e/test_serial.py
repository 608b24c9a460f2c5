"""swarm-node's serial links against an independent host side (tests/lab/moatserial.py, written
from the wire spec), over real pseudo-terminals:

- the line simulator itself (tests/lab/linesim.py): integrity in both directions at once, no
  byte early, fault counters that match what arrives, a side that closes and reopens;
- lossless mode on a bare pty pair: calls work while the node's log lines arrive as console
  bytes (non-ASCII ones included); console text and messages both intact;
- lossy mode (SerialPacker + Reliable) through the simulator at 115200 baud, on a clean line
  and at bit-error rates 1e-4 and 1e-3 with dropped and duplicated bytes: every request
  completes, file contents written with f.wr come back identical through f.rd and f.hash
  (SHA-256), no message is delivered twice, corrupted or with console bytes inside; on the
  clean line the console text is byte for byte the node's log;
- a reset over serial (sys.boot): the link goes down, the node re-executes, the Reliable
  handshake runs again and calls work again;
- the project's own host side, `swarm call serial://…`, in both modes, on a clean line and at
  a bit-error rate of 1e-3;
- `swarm fs put` and `get` of 20 KB over a lossy link at 9600 baud with a few bit errors: a
  window of 1 KiB frames takes seconds to leave such a line, so only Reliable's line model
  (timers that run from when a frame has left, a timeout derived from the rate) keeps the
  resends to the ones the bit errors cause; both sides' resends are bounded.

Every process, pty and temporary directory is cleaned up even when a test fails."""
import hashlib
import json
import os
import pty
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tty
import unittest

import msgpack

from swarmtest import NODE_BIN, SERVICE_FAILURES, SRC, SWARM_BIN, loopback_config

sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
import moatserial as ms  # noqa: E402

LINESIM = os.path.join(SRC, "tests", "lab", "linesim.py")
PY = "/usr/bin/python3"

# An app that logs while calls flow: ten lines a second, with non-ASCII text (console bytes
# 0x80..0xFF travel as CC xx in lossless mode).
CHATTY = r'''
local n = 0
function routine_chat()
  while true do
    n = n + 1
    swarm.log(string.format("chatty %d héllo °C %s", n, string.rep("x", n % 40)))
    swarm.sleep(100)
  end
end
'''


def wait_for(cond, timeout, what, proc=None, log=None):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s: process exited with %s%s" % (what, proc.returncode,
                                                                  "\n" + log() if log else ""))
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s%s" % (what, "\n" + log() if log else ""))
        time.sleep(0.01)


def stop_proc(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Sim:
    """A linesim process; .a (device side) and .b (host side) are the slave paths."""

    def __init__(self, tc, *args):
        self.dir = tempfile.mkdtemp(prefix="swarm-sim-")
        tc.addCleanup(shutil.rmtree, self.dir, True)
        self.paths_file = os.path.join(self.dir, "paths")
        self.stats_file = os.path.join(self.dir, "stats")
        self.proc = subprocess.Popen([PY, LINESIM, "-q", "--paths-file", self.paths_file,
                                      "--stats-file", self.stats_file] + [str(a) for a in args],
                                     stdin=subprocess.DEVNULL)
        tc.addCleanup(stop_proc, self.proc)
        wait_for(lambda: os.path.exists(self.paths_file), 10, "linesim", self.proc)
        with open(self.paths_file) as f:
            p = json.load(f)
        self.a, self.b = p["a"], p["b"]

    def stats(self):
        """Stops the simulator and returns its counters."""
        stop_proc(self.proc)
        self.assert_exit = self.proc.returncode
        with open(self.stats_file) as f:
            return json.load(f)


class SerialNode:
    """swarm-node serving only a serial line (no TCP), on a temporary root."""

    def __init__(self, tc, dev, lossy, app=None, cfg=None, baud=None):
        self.root = tempfile.mkdtemp(prefix="swarm-ser-")
        tc.addCleanup(shutil.rmtree, self.root, True)
        if app:
            os.makedirs(os.path.join(self.root, "apps", app))
            with open(os.path.join(self.root, "apps", app, "main.lua"), "w") as f:
                f.write(CHATTY)
        # no TCP, and the LAN services off or on free loopback ports: nothing beyond loopback
        with open(os.path.join(self.root, "swarm.cfg"), "wb") as f:
            f.write(msgpack.packb(loopback_config(cfg, services=False)))
        self.logfile = os.path.join(self.root, "..", os.path.basename(self.root) + ".log")
        tc.addCleanup(lambda: os.path.exists(self.logfile) and os.unlink(self.logfile))
        # runs after the node stopped (cleanups run last-in first-out): a LAN service that was
        # configured but did not start fails the test, as swarmtest.Node.stop() does
        tc.addCleanup(lambda: tc.assertEqual(self.service_failures(), []))
        args = [NODE_BIN, "--root", self.root, "--name", "ser", "--port", "0", "--listen", "127.0.0.1",
                "--serial", dev]
        if baud:
            args += ["--baud", str(baud)]
        if lossy:
            args.append("--lossy")
        if app:
            args += ["--app", app]
        self.log = open(self.logfile, "wb")
        tc.addCleanup(self.log.close)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        tc.addCleanup(stop_proc, self.proc)

    def read_log(self):
        with open(self.logfile, "rb") as f:
            return f.read()

    def service_failures(self):
        text = self.read_log().decode(errors="replace")
        return [x for x in text.splitlines() if any(f in x for f in SERVICE_FAILURES)]

    def tail(self):
        return self.read_log()[-3000:].decode(errors="replace")

    def wait_log(self, text, timeout=10):
        wait_for(lambda: text in self.read_log(), timeout, "%r in the node log" % text, self.proc,
                 self.tail)


def between(text, start, end):
    """The lines of text from the one containing start to the one containing end."""
    i = text.index(start)
    i = text.rindex(b"\n", 0, i) + 1
    j = text.index(b"\n", text.index(end, i)) + 1
    return text[i:j]


class SpecVectorsTest(unittest.TestCase):
    """The independent host side reproduces the byte examples of the wire spec (so the tests
    below check the node against the spec, not against a copy of the node's own reading)."""

    PING = bytes.fromhex("83a161a470696e67a16481a16da178a16901")

    def test_crc_and_frame(self):
        self.assertEqual(ms.crc16(b""), 0)
        self.assertEqual(ms.crc16(b"\x00"), 0)
        self.assertEqual(ms.crc16(b"\x01"), 0x64A8)
        self.assertEqual(ms.crc16(b"123456789"), 0xDC07)
        self.assertEqual(ms.sp_encode(self.PING, 0x85), b"\x85\x12" + self.PING + b"\x10\x95")
        self.assertEqual(ms.sp_encode(self.PING), b"\xc1\x12" + self.PING + b"\x10\x95")
        big = bytes(300)
        self.assertEqual(ms.sp_encode(big)[1:3], bytes((300 & 0x7F | 0x80, 300 >> 7)))
        text = "Å😅 ok".encode()  # c3 85, f0 9f 98 85: the UTF-8 guard keeps 0x85 console
        for start in (0xC1, 0x85):
            dec = ms.SPDecoder(start=start)
            self.assertEqual(dec.feed(text + ms.sp_encode(self.PING, start) + b"!", 0.0),
                             [("console", text), ("msg", self.PING), ("console", b"!")])

    def test_reliable_messages(self):
        sent = []
        rel = ms.Reliable(sent.append, lambda p: None, lambda up: None)
        rel.start(0.0)
        self.assertEqual(sent[-1].hex(), "83a161a172a16e01a16383a174cd03e8a16d08a16ccd0400")
        rel.input(bytes.fromhex("83a161a172a16e02a16383a174cd03e8a16d08a16ccd0400"), 0.0)
        self.assertTrue(rel.is_up())
        rel.send(self.PING, 0.0)
        self.assertEqual(sent[-1], b"\x83\xa1s\x00\xa1d" + self.PING + b"\xa1r\x00")
        # the peer's data seq 1 while seq 0 is missing: held, acknowledged with x
        rel.input(b"\x83\xa1s\x01\xa1d\x01\xa1r\x01", 0.0)
        self.assertEqual(sent[-1].hex(), "83a17301a17200a1789101")  # {"s":1,"r":0,"x":[1]}


class LineSimTest(unittest.TestCase):
    """The simulator's own promises (the serial tests rely on them)."""

    def open_pair(self, sim):
        a = ms.open_tty(sim.a)
        self.addCleanup(os.close, a)
        b = ms.open_tty(sim.b)
        self.addCleanup(os.close, b)
        return a, b

    @staticmethod
    def pump(ends, want, timeout=20):
        """ends: {fd: bytes to write}; reads every fd until want[fd] bytes came. → {fd: got}."""
        todo = {fd: bytearray(d) for fd, d in ends.items()}
        got = {fd: bytearray() for fd in want}
        done_at = {}
        deadline = time.monotonic() + timeout
        while any(len(got[fd]) < n for fd, n in want.items()):
            w = [fd for fd, d in todo.items() if d]
            r, w, _ = select.select(list(want), w, [], max(0.0, deadline - time.monotonic()))
            if not r and not w:
                raise AssertionError("line stalled: got %s of %s" % (
                    {fd: len(g) for fd, g in got.items()}, want))
            for fd in w:
                try:
                    n = os.write(fd, todo[fd][:4096])
                except BlockingIOError:
                    continue
                del todo[fd][:n]
            for fd in r:
                got[fd] += os.read(fd, 65536)
                if len(got[fd]) >= want[fd]:
                    done_at.setdefault(fd, time.monotonic())
        return got, done_at

    def test_both_directions_paced_and_intact(self):
        sim = Sim(self, "--baud", 115200)
        a, b = self.open_pair(sim)
        rng = random.Random(1)
        da = bytes(rng.getrandbits(8) for _ in range(3000))
        db = bytes(rng.getrandbits(8) for _ in range(2000))
        t0 = time.monotonic()
        got, done_at = self.pump({a: da, b: db}, {b: len(da), a: len(db)})
        self.assertEqual(bytes(got[b]), da)
        self.assertEqual(bytes(got[a]), db)
        # a lower bound only: no byte may arrive before its last bit was on the line
        self.assertGreaterEqual(done_at[b] - t0, len(da) * 10 / 115200)
        self.assertGreaterEqual(done_at[a] - t0, len(db) * 10 / 115200)
        st = sim.stats()
        self.assertEqual(st["a2b"]["bytes_in"], len(da))
        self.assertEqual(st["a2b"]["bytes_out"], len(da))
        self.assertEqual(st["b2a"]["bytes_out"], len(db))

    def test_bit_errors_are_counted_exactly(self):
        sim = Sim(self, "--no-pace", "--ber", "1e-3", "--seed", 7)
        a, b = self.open_pair(sim)
        data = bytes(random.Random(2).getrandbits(8) for _ in range(20000))
        got, _ = self.pump({a: data}, {b: len(data)})
        flipped = sum(bin(x ^ y).count("1") for x, y in zip(data, got[b]))
        st = sim.stats()
        self.assertEqual(st["a2b"]["flipped_bits"], flipped)
        self.assertGreater(flipped, 50)  # expected 160
        self.assertLess(flipped, 400)

    def test_drops_and_dups_change_the_length(self):
        sim = Sim(self, "--no-pace", "--drop", "0.01", "--dup", "0.005", "--seed", 3)
        a, b = self.open_pair(sim)
        data = bytes(range(256)) * 40
        # how many bytes must come depends on the faults: read until the simulator's counters
        # (asked for with SIGUSR1) say that it has relayed everything and we have it all
        got, _ = self.pump({a: data}, {b: 1}, timeout=10)
        got = got[b]
        st = {}

        def relayed():
            os.kill(sim.proc.pid, signal.SIGUSR1)
            while select.select([b], [], [], 0.02)[0]:
                got.extend(os.read(b, 65536))
            try:
                with open(sim.stats_file) as f:
                    st.update(json.load(f)["a2b"])
            except FileNotFoundError:
                return False
            return st["bytes_in"] == len(data) and len(got) == st["bytes_out"]
        wait_for(relayed, 10, "the simulator relaying everything", sim.proc)
        self.assertGreater(st["drops"], 0)
        self.assertGreater(st["dups"], 0)
        self.assertEqual(len(got), len(data) - st["drops"] + st["dups"])

    def test_side_closes_and_reopens(self):
        sim = Sim(self, "--no-pace")
        b = ms.open_tty(sim.b)
        self.addCleanup(os.close, b)
        for round_ in range(3):
            a = ms.open_tty(sim.a)
            msg = b"round %d\n" % round_
            got, _ = self.pump({a: msg}, {b: len(msg)})
            self.assertEqual(bytes(got[b]), msg)
            got, _ = self.pump({b: msg[::-1]}, {a: len(msg)})
            self.assertEqual(bytes(got[a]), msg[::-1])
            os.close(a)


class LosslessTest(unittest.TestCase):
    def test_calls_and_console_over_a_pty(self):
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        self.addCleanup(os.close, slave)  # held so the master survives the node closing its end
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        node = SerialNode(self, os.ttyname(slave), lossy=False, app="chatty")
        link = ms.StreamLink(master, timeout=20)
        link.keep_raw = True
        self.assertEqual(link.read_note(15), {"a": "link", "d": True})
        node.wait_log(b"chatty 3 ")

        self.assertEqual(link.call("sys.eval", {"code": "swarm.log('MARK start') return 1"}), [1, "1"])
        rng = random.Random(11)
        fd = link.call("f.open", {"p": "/l.bin", "m": "w"})
        content = bytearray()
        for k in range(400):
            if k % 50 == 0:
                link.call("sys.eval", {"code": "swarm.log('MARK %d é') return 0" % k})
            # 8 requests in flight at a time, of three kinds
            seqs = []
            for j in range(8):
                kind = (k + j) % 3
                if kind == 0:
                    s = "".join(rng.choice("abcé°~\x01") for _ in range(rng.randrange(0, 60)))
                    seqs.append((link.submit("ping", {"m": s}), "R:" + s))
                elif kind == 1:
                    chunk = rng.randbytes(rng.randrange(1, 300))
                    seqs.append((link.submit("f.wr", {"f": fd, "d": chunk, "o": len(content)}),
                                 len(chunk)))
                    content += chunk
                else:
                    seqs.append((link.submit("sys.is_up"), None))
            for s, want in seqs:
                v = link.result(s)
                if want is not None:
                    self.assertEqual(v, want)
        self.assertIsNone(link.call("f.cl", {"f": fd}))
        self.assertEqual(link.call("f.hash", {"p": "/l.bin"}), hashlib.sha256(content).digest())
        fd = link.call("f.open", {"p": "/l.bin"})
        back = bytearray()
        while len(back) < len(content):
            back += link.call("f.rd", {"f": fd, "o": len(back), "n": 1000})
        self.assertEqual(back, content)
        link.call("sys.eval", {"code": "swarm.log('MARK end') return 0"})
        link.wait(lambda: b"MARK end\n" in link.console, 10, "the last console line")

        self.assertEqual(link.stray, [])
        # console: every byte the node logged in between, in order, nothing else
        log = node.read_log()
        want = between(log, b"MARK start", b"MARK end")
        got = between(bytes(link.console), b"MARK start", b"MARK end")
        self.assertIn("héllo °C".encode(), got)
        self.assertGreater(got.count(b"chatty"), 3)
        self.assertEqual(got, want)
        # messages: no console text inside any of them
        for raw in link.messages:
            self.assertNotIn(b"chatty", raw)
            self.assertNotIn(b" I ", raw)


class LossyBase(unittest.TestCase):
    """Lossy mode through the simulator at 115200 baud."""

    def start(self, sim_args, node_cfg=None, rel_timeout=1.0, app="chatty", idle_s=0.1):
        sim = Sim(self, "--baud", 115200, *sim_args)
        fd = ms.open_tty(sim.b)  # open first: the node's first handshake reaches us
        link = ms.LossyLink(fd, rel_timeout=rel_timeout, timeout=60, idle_s=idle_s)
        self.addCleanup(link.close)
        link.keep_raw = True
        node = SerialNode(self, sim.a, lossy=True, app=app, cfg=node_cfg)
        try:
            link.wait_up(20)
        except TimeoutError:
            raise AssertionError("no handshake:\n" + node.tail())
        return sim, node, link

    def exercise(self, link, node, total, chunk_max, inflight, seed):
        """f.wr random chunks (inflight requests at a time, pings in between), then checks the
        file through f.rd and f.hash and on disk. Returns the content."""
        rng = random.Random(seed)
        fd = link.call("f.open", {"p": "/d.bin", "m": "w"})
        content = bytearray()
        jobs = []
        while len(content) < total:
            if rng.random() < 0.2:
                s = "".join(rng.choice("pqrs\x7fé") for _ in range(rng.randrange(0, 40)))
                jobs.append(("ping", {"m": s}, "R:" + s))
            else:
                chunk = rng.randbytes(rng.randrange(1, chunk_max + 1))
                jobs.append(("f.wr", {"f": fd, "d": chunk, "o": len(content)}, len(chunk)))
                content += chunk
        self.run_jobs(link, jobs, inflight)
        self.assertIsNone(link.call("f.cl", {"f": fd}))
        digest = hashlib.sha256(content).digest()
        self.assertEqual(link.call("f.hash", {"p": "/d.bin"}), digest)
        with open(os.path.join(node.root, "d.bin"), "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(), digest)
        # read it back in pieces (several in flight), compare byte for byte
        fd = link.call("f.open", {"p": "/d.bin"})
        offs = list(range(0, len(content), chunk_max))
        jobs = [("f.rd", {"f": fd, "o": o, "n": chunk_max}, bytes(content[o:o + chunk_max]))
                for o in offs]
        self.run_jobs(link, jobs, inflight)
        self.assertIsNone(link.call("f.cl", {"f": fd}))
        return content

    def run_jobs(self, link, jobs, inflight):
        active = []
        for action, d, want in jobs:
            active.append((link.submit(action, d), action, want))
            if len(active) >= inflight:
                self.check(link, *active.pop(0))
        for a in active:
            self.check(link, *a)

    def check(self, link, seq, action, want):
        v = link.result(seq)
        self.assertEqual(v, want, "%s reply %d" % (action, seq))

    def check_messages(self, link):
        """Every delivered message is one we expect; none has console text inside."""
        self.assertEqual(link.unexpected, [])
        for raw in link.messages:
            self.assertNotIn(b"chatty", raw)
            self.assertNotIn(b"MARK", raw)


class LossyTest(LossyBase):
    def test_clean_line(self):
        # A frame is never cut short on a clean line; a long idle limit keeps a stall of this
        # busy machine from turning the rest of a frame into console bytes.
        sim, node, link = self.start([], idle_s=2.0)
        self.assertEqual(link.read_note(5), {"a": "link", "d": True})
        node.wait_log(b"chatty 2 ")
        self.assertEqual(link.call("sys.eval", {"code": "swarm.log('MARK start') return 1"}), [1, "1"])
        self.exercise(link, node, total=12000, chunk_max=600, inflight=4, seed=21)
        link.call("sys.eval", {"code": "swarm.log('MARK end') return 0"})
        link.wait(lambda: b"MARK end\n" in link.console, 10, "the last console line")
        self.check_messages(link)
        got = between(bytes(link.console), b"MARK start", b"MARK end")
        want = between(node.read_log(), b"MARK start", b"MARK end")
        self.assertGreater(got.count(b"chatty"), 3)
        self.assertEqual(got, want)
        st = link.stats()
        self.assertEqual(st["sp_err_crc"], 0)
        self.assertEqual(st["downs"], 0)
        sim_st = sim.stats()
        self.assertEqual(sim_st["a2b"]["flipped_bits"] + sim_st["b2a"]["flipped_bits"], 0)
        print("\nclean: host %s\n       line %s" % (st, sim_st), file=sys.stderr)

    def noisy(self, ber, drop, dup, total, chunk_max, seed):
        # short timers: every lost frame costs a timeout unless a later one reveals the gap
        sim, node, link = self.start(["--ber", ber, "--drop", drop, "--dup", dup, "--seed", seed],
                                     node_cfg={"serial": {"timeout_ms": 300}}, rel_timeout=0.3)
        self.exercise(link, node, total=total, chunk_max=chunk_max, inflight=4, seed=seed)
        for k in range(20):
            m = "".join(chr(32 + (k * 7 + j) % 90) for j in range(k))
            self.assertEqual(link.call("ping", {"m": m}), "R:" + m)
        self.check_messages(link)
        st = link.stats()
        sim_st = sim.stats()
        print("\nber %s: host %s\n       line %s" % (ber, st, sim_st), file=sys.stderr)
        self.assertEqual(st["downs"], 0, "the link must not reset on a noisy line")
        self.assertGreater(sim_st["a2b"]["flipped_bits"] + sim_st["b2a"]["flipped_bits"], 0)
        return st

    def test_ber_1e4(self):
        st = self.noisy("1e-4", "2e-5", "2e-5", total=8000, chunk_max=256, seed=5)
        self.assertGreaterEqual(st["sp_frames"], 1)

    def test_ber_1e3(self):
        st = self.noisy("1e-3", "1e-4", "1e-4", total=1500, chunk_max=48, seed=6)
        # at this rate frames are lost all the time: the ARQ must have worked for it
        self.assertGreater(st["retransmits"] + st["sp_err_crc"], 0)


class ResetTest(LossyBase):
    def test_sys_boot_over_serial(self):
        sim, node, link = self.start([], app=None)
        self.assertEqual(link.read_note(5), {"a": "link", "d": True})
        self.assertEqual(link.call("ping", {"m": "before"}), "R:before")
        pid = node.proc.pid
        self.assertIs(link.call("sys.boot", {"code": "SysBooT"}), True)
        # the node says goodbye (link false and/or the Reliable close), re-executes, and offers
        # the link again; the host answers the new handshake
        link.wait(lambda: link.downs >= 1, 15, "the link going down")
        link.wait(lambda: link.ups >= 2, 20, "the link coming back")
        link.wait(lambda: {"a": "link", "d": True} in link.notes, 10, "link true")
        # RPC's link false, then the Reliable close, then the new session's link true
        self.assertEqual(link.notes, [{"a": "link", "d": False},
                                      {"a": "link", "d": False, "reliable": True},
                                      {"a": "link", "d": True}])
        self.assertEqual(link.call("ping", {"m": "after"}), "R:after")
        self.assertEqual(node.proc.pid, pid)
        self.assertIsNone(node.proc.poll())
        self.assertIn(b"reset: sys.boot", node.read_log())
        self.assertEqual(node.read_log().count(b"reliable link up"), 2)
        self.check_messages(link)


class SwarmCallTest(unittest.TestCase):
    """`swarm call serial://…` (src/host) against the node, through the simulator."""

    def swarm_call(self, uri, *args):
        r = subprocess.run([SWARM_BIN, "call", "--json", "--timeout", "20", uri, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return json.loads(r.stdout)

    def lossy(self, *sim_args, calls):
        sim = Sim(self, "--baud", 115200, *sim_args)
        node = SerialNode(self, sim.a, lossy=True, app="chatty")
        node.wait_log(b"ready")
        uri = "serial://%s?baud=115200&mode=lossy" % sim.b
        for k in range(calls):  # each call is a new process: a new handshake every time
            m = "hé %d %s" % (k, "z" * k)
            self.assertEqual(self.swarm_call(uri, "ping", "m=" + m), "R:" + m)
        self.assertEqual(self.swarm_call(uri, "sys.info")["host_name"], "ser")
        return sim

    def test_lossy_clean(self):
        self.lossy(calls=3)

    def test_lossy_ber_1e3(self):
        sim = self.lossy("--ber", "1e-3", "--drop", "1e-4", "--dup", "1e-4", "--seed", 9, calls=6)
        st = sim.stats()
        self.assertGreater(st["a2b"]["flipped_bits"] + st["b2a"]["flipped_bits"], 0)

    def test_lossless_with_console(self):
        sim = Sim(self, "--no-pace")
        node = SerialNode(self, sim.a, lossy=False, app="chatty")
        node.wait_log(b"chatty 2 ")  # console bytes are flowing
        uri = "serial://%s?baud=115200" % sim.b
        for k in range(3):
            self.assertEqual(self.swarm_call(uri, "ping", "m=é%d" % k), "R:é%d" % k)


class SlowLineTest(unittest.TestCase):
    """A lossy link at 9600 baud (960 bytes/s): four 1 KiB frames in flight take over 4 s to
    leave. With timers that started when a frame was handed to the tty, every one fired while
    its frame still waited, each resend lengthened the queue, and goodput collapsed to 8 %
    (bench/RESULTS.md). Now a resend must have a reason: a damaged frame."""

    BAUD = 9600
    LINK = re.compile(r"swarm fs: link: (\d+) sent, (\d+) retransmitted, (\d+) delivered, "
                      r"(\d+) duplicates; (\d+) frames in, (\d+) damaged; timeout (\d+) ms, "
                      r"window (\d+)")

    def fs(self, uri, *args):
        # -v also shows the device's console, which a bit error may have made invalid UTF-8
        r = subprocess.run([SWARM_BIN, "fs", "-v", "--timeout", "60", uri, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=240)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = self.LINK.search(r.stderr)
        self.assertIsNotNone(m, r.stderr)
        st = dict(zip(("sent", "retransmits", "delivered", "duplicates", "frames", "damaged",
                       "timeout_ms", "window"), map(int, m.groups())))
        print("\n%s: %s" % (args[0], st), file=sys.stderr)
        return r.stderr, st

    def lossy_put_setup(self, ber, seed, data_seed, size):
        """A lossy node behind the line simulator at BAUD with bit-error rate ber, and a local
        file of size random bytes to put: (sim, node, uri, data, tmp, local)."""
        sim = Sim(self, "--baud", self.BAUD, "--ber", ber, "--seed", seed)
        node = SerialNode(self, sim.a, lossy=True, baud=self.BAUD)
        node.wait_log(b"ready")
        uri = "serial://%s?baud=%d&mode=lossy" % (sim.b, self.BAUD)
        data = random.Random(data_seed).randbytes(size)
        tmp = tempfile.mkdtemp(prefix="swarm-lossy-")
        self.addCleanup(shutil.rmtree, tmp, True)
        local = os.path.join(tmp, "up.bin")
        with open(local, "wb") as f:
            f.write(data)
        return sim, node, uri, data, tmp, local

    def test_put_and_get_at_9600(self):
        sim, node, uri, data, tmp, local = self.lossy_put_setup("1e-5", 12, 13, 20000)

        err, st = self.fs(uri, "put", local, "/up.bin")
        self.assertIn("sha256 ok", err)
        with open(os.path.join(node.root, "up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        # the timeout in force is derived from 9600 baud: an ack may wait behind the node's
        # frames, several seconds of them (not the 1 s of a line of unknown rate)
        self.assertGreater(st["timeout_ms"], 2000)
        self.assertGreaterEqual(st["sent"], 20)  # at least a frame per KB
        # our resends: the frames the bit errors damaged (about one in ten at this rate), not
        # one per frame; the node's: its duplicates that reached us
        self.assertLessEqual(st["retransmits"], 2 + st["sent"] // 4)
        self.assertLessEqual(st["duplicates"], 2 + st["delivered"] // 10)

        back = os.path.join(tmp, "down.bin")
        err, st = self.fs(uri, "get", "/up.bin", back)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        # the node sends the large frames now: its resends show as duplicates here, and as
        # damaged frames where the line really hit one
        self.assertGreaterEqual(st["delivered"], 20)
        self.assertLessEqual(st["duplicates"], 2 + st["delivered"] // 4)
        self.assertLessEqual(st["retransmits"], 2 + st["sent"] // 10)
        self.assertIsNone(node.proc.poll())
        line = sim.stats()
        self.assertGreater(line["a2b"]["flipped_bits"] + line["b2a"]["flipped_bits"], 0)


class NoisyUploadTest(unittest.TestCase):
    """An upload at 115200 over a line with a bit-error rate of 1e-3 (bench/RESULTS.md, issue
    16): a frame of the largest chunk (960 bytes) arrives intact once in 4,000 tries, so a put
    that starts with it never finishes (it failed with no answer within the timeout). The
    frames before the data (handshake, sys.info, f.open) show how damaged small frames are, and
    the first chunk follows from that; while the window is full and the line idle, frames go
    again at once instead of after their timer."""

    BAUD = 115200
    LINK = SlowLineTest.LINK
    fs = SlowLineTest.fs
    lossy_put_setup = SlowLineTest.lossy_put_setup

    def test_put_at_1e3(self):
        sim, node, uri, data, tmp, local = self.lossy_put_setup("1e-3", 16, 16, 4096)
        err, st = self.fs(uri, "put", local, "/up.bin")
        self.assertIn("sha256 ok", err)
        with open(os.path.join(node.root, "up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        chunk = int(re.search(r"chunk (\d+) bytes", err).group(1))
        self.assertLess(chunk, 256)  # adapted: the best for 1e-3 is about 55 bytes
        self.assertGreater(sim.stats()["b2a"]["flipped_bits"], 0)

    def test_put_cuts_each_request_as_it_goes(self):
        # At 1e-4 the chunk changes round after round. A request is cut when Reliable took the
        # one before it, so at most one waits for the window with an older chunk; the engine
        # used to cut its whole window (16) at once, and up to a second of line waited at the
        # chunk of an older round (bench/RESULTS.md, h/serial7).
        sim, node, uri, data, tmp, local = self.lossy_put_setup("1e-4", 17, 18, 16384)
        err, st = self.fs(uri, "put", local, "/up.bin")
        self.assertIn("sha256 ok", err)
        with open(os.path.join(node.root, "up.bin"), "rb") as f:
            self.assertEqual(f.read(), data)
        waited = int(re.search(r"at most (\d+) waited for the window", err).group(1))
        self.assertLessEqual(waited, 1, err)
        self.assertGreater(st["retransmits"], 0)  # the line did damage frames


if __name__ == "__main__":
    unittest.main(verbosity=2)
