"""Runs the firmware (build/fw/swarm-node-mps2.elf) as a QEMU mps2-an385 guest for the MCU tests.

Its UART0 is a pty (QEMU -serial pty), which `swarm` reaches as serial:///dev/pts/N; semihosting
gives it the boot arguments (-append) and carries its log lines to QEMU's stdout, which this
module collects. Every guest is killed by its PID when the test ends, even when it fails.

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


class Guest:
    """One QEMU guest. args: the boot arguments (-append)."""

    def __init__(self, args="", extra=()):
        self.args = args
        self.extra = list(extra)
        self.proc = None
        self.pty = None
        self.out = []
        self._cv = threading.Condition()

    def start(self, timeout=30):
        cmd = ["qemu-system-arm", "-M", "mps2-an385", "-cpu", "cortex-m3", "-nographic",
               "-monitor", "none", "-serial", "pty",
               "-semihosting-config", "enable=on,target=native",
               "-kernel", FIRMWARE, "-append", self.args] + self.extra
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
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._cv:
            while True:
                while i < len(self.out):
                    if rx.search(self.out[i]):
                        return self.out[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError("no line matching %r from the guest; output:\n%s"
                                         % (pattern, "\n".join(self.out[-30:])))
                self._cv.wait(min(left, 0.5))

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
