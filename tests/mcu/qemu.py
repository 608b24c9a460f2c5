"""Runs the firmware (build/fw/swarm-node-mps2.elf) as a QEMU mps2-an385 guest for the MCU tests.

Its UART0 is a pty (QEMU -serial pty), which `swarm` reaches as serial:///dev/pts/N; semihosting
gives it the boot arguments (-append) and carries its log lines to QEMU's stdout, which this
module collects. Every guest is killed by its PID when the test ends, even when it fails.

Network tests put guests in a network namespace the test creates (NetLab): a bridge with the
host side's address, and one tap per guest that QEMU's LAN9118 (-nic tap) is attached to; QEMU
runs inside the namespace (ip netns exec). The namespace, and with it the bridge and taps, is
deleted when the test ends. The root namespace's interfaces are never touched.

Environment: SWARM_BUILD (the host build holding `swarm`), SWARM_SRC (the source tree), set by
ctest (tests/mcu/mcu.cmake). Under CI=true a missing firmware or qemu-system-arm is an error;
elsewhere the tests are skipped (exit 77).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("SWARM_SRC") or os.path.join(os.path.dirname(__file__), "..", "..")
BUILD = os.environ.get("SWARM_BUILD") or os.path.join(SRC, "build")
FIRMWARE = os.path.join(SRC, "build", "fw", "swarm-node-mps2.elf")
FIRMWARE_SERIAL = os.path.join(SRC, "build", "fw", "swarm-node-mps2-serial.elf")  # mcu-serial
SWARM_BIN = os.path.join(BUILD, "swarm")
SKIP = 77


def require():
    """Exits (skip, or failure under CI) when the firmware or QEMU is missing."""
    missing = []
    if not shutil.which("qemu-system-arm"):
        missing.append("qemu-system-arm (scripts/setup installs it)")
    if not os.path.exists(FIRMWARE):
        missing.append(FIRMWARE + " (make firmware)")
    if not os.path.exists(SWARM_BIN):
        missing.append(SWARM_BIN)
    if missing:
        msg = "missing: " + "; ".join(missing)
        if os.environ.get("CI") == "true":
            sys.exit("FAIL (CI=true): " + msg)
        print("SKIP: " + msg)
        sys.exit(SKIP)


def require_netns():
    """Exits (skip, or failure under CI) when network namespaces cannot be made (not root)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        msg = "network namespaces need root and iproute2"
        if os.environ.get("CI") == "true":
            sys.exit("FAIL (CI=true): " + msg)
        print("SKIP: " + msg)
        sys.exit(SKIP)


sys.path.insert(0, os.path.join(SRC, "tests", "lab"))
from lanlab import netns  # noqa: E402  (the calling thread inside a namespace, for sockets)


class NetLab:
    """A namespace with bridge br0 (host address `host_ip`/16, routes for multicast and the
    limited broadcast) to which guests are attached through taps. Use as a context manager;
    guest(mac, args) starts a Guest on a new tap."""

    def __init__(self, host_ip="169.254.254.1"):
        self.ns = "swmcu%d-%d" % (os.getpid(), id(self) % 10000)
        self.host_ip = host_ip
        self.guests = []
        self.taps = 0

    def ip(self, *args, check=True):
        r = subprocess.run(["ip", "-n", self.ns] + list(args), capture_output=True, text=True)
        if check and r.returncode:
            raise AssertionError("ip -n %s %s: %s" % (self.ns, " ".join(args), r.stderr.strip()))
        return r

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            self.ip("link", "set", "lo", "up")
            self.ip("link", "add", "br0", "type", "bridge")
            self.ip("addr", "add", self.host_ip + "/16", "dev", "br0")
            self.ip("link", "set", "br0", "up")
            self.ip("route", "add", "224.0.0.0/4", "dev", "br0")
            self.ip("route", "add", "255.255.255.255", "dev", "br0")
        except BaseException:
            self.close()
            raise
        return self

    def guest(self, mac, args=""):
        tap = "qtap%d" % self.taps
        self.taps += 1
        self.ip("tuntap", "add", "dev", tap, "mode", "tap")
        self.ip("link", "set", tap, "master", "br0")
        self.ip("link", "set", tap, "up")
        g = Guest(args, extra=["-nic", "tap,ifname=%s,script=no,downscript=no,mac=%s" % (tap, mac)],
                  netns=self.ns)
        self.guests.append(g)
        return g.start()

    def run(self, argv, timeout=60):
        """A command inside the namespace: (exit status, stdout, stderr)."""
        p = subprocess.run(["ip", "netns", "exec", self.ns] + list(argv), capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def swarm(self, *args, timeout=60):
        return self.run([SWARM_BIN] + list(args), timeout=timeout)

    def close(self):
        for g in self.guests:
            g.stop()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    def __exit__(self, *a):
        self.close()


def autoip_seed(mac):
    """The first address lwIP's AutoIP tries for this MAC: 169.254.1.0 + (mac[4] | mac[5] << 8)."""
    b = [int(x, 16) for x in mac.split(":")]
    v = 0xA9FE0100 + (b[4] | b[5] << 8)
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


class Guest:
    """One QEMU guest. args: the boot arguments (-append); netns: run it in that namespace;
    firmware: the image (default: mcu-full's)."""

    def __init__(self, args="", extra=(), netns=None, firmware=None):
        self.args = args
        self.firmware = firmware or FIRMWARE
        self.extra = list(extra)
        self.netns = netns
        self.proc = None
        self.pty = None
        self.out = []
        self._cv = threading.Condition()

    def start(self, timeout=30):
        cmd = ["qemu-system-arm", "-M", "mps2-an385", "-cpu", "cortex-m3", "-nographic",
               "-monitor", "none", "-serial", "pty",
               "-semihosting-config", "enable=on,target=native",
               "-kernel", self.firmware, "-append", self.args] + self.extra
        if self.netns:  # ip execs QEMU: the PID stays QEMU's
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        threading.Thread(target=self._reader, daemon=True).start()
        line = self.wait_line(r"char device redirected to (/dev/pts/\d+)", timeout)
        self.pty = re.search(r"(/dev/pts/\d+)", line).group(1)
        return self

    def _reader(self):
        for raw in self.proc.stdout:
            with self._cv:
                self.out.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def wait_line(self, pattern, timeout=30, start=0):
        """The first output line from index start on matching pattern (regex)."""
        return self.out[self.wait_line_index(pattern, timeout, start)]

    def wait_line_index(self, pattern, timeout=30, start=0):
        """The index of the first output line from index start on matching pattern (regex)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._cv:
            while True:
                while i < len(self.out):
                    if rx.search(self.out[i]):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("no line matching %r from the guest; output:\n%s"
                                         % (pattern, "\n".join(self.out[-30:])))
                self._cv.wait(min(left, 0.5))

    def address(self, timeout=60):
        """The IPv4 address the guest's AutoIP settled on (its log line)."""
        line = self.wait_line(r"^net: \w+ (169\.254\.\d+\.\d+) \(AutoIP\)", timeout)
        return re.search(r"(169\.254\.\d+\.\d+)", line).group(1)

    def cpu_ticks(self):
        """utime + stime of the QEMU process, in clock ticks."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def link(self, lossy):
        return "serial://%s%s" % (self.pty, "?mode=lossy" if lossy else "")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # by PID: only the guest this test started
        if self.proc:
            self.proc.wait(timeout=10)
            self.proc.stdout.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


def swarm(*args, timeout=60):
    """Runs the host tool; returns (exit status, stdout, stderr)."""
    p = subprocess.run([SWARM_BIN] + list(args), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
