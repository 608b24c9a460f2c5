#!/usr/bin/python3
"""lanlab: a simulated LAN of swarm nodes, for tests, benches, `swarm sim` and `make demo`.

With root (the normal case; CI runs as root) it builds, per lab:
  * a hub namespace LAB-hub holding the bridge br0;
  * one namespace LAB-nK per node, with a veth `eth0` on the bridge, a 169.254.x.y/16 address
    (node index i -> 169.254.(1 + i // 254).(1 + i % 254)), routes for 224.0.0.0/4 and
    255.255.255.255 on eth0 (no default route: the limited broadcast needs its own) and lo up;
  * a namespace LAB-host on the same bridge (169.254.254.1) for host tools;
  * one swarm-node per node namespace, each with its own root directory (apps copied from the
    repository's apps/) and its own log file, services on their default ports.
  * with mcu=M, M QEMU guests running the Cortex-M3 firmware (build/fw, `make firmware`), kind
    "cortex-m3" (the others "linux"): one namespace LAB-mK each, whose bridge joins the veth to
    the hub and the tap the guest's LAN9118 sits on (Lan's doc says more).
The root namespace's interfaces are never touched. Everything (processes by PID, namespaces,
the veths and bridge that go with them, temporary directories) is removed on exit, also on an
exception, SIGINT, SIGTERM or SIGHUP. `lanlab.py --down PREFIX` removes what a killed run left.

Without root it falls back to nodes on loopback addresses 127.0.B.(2 + i) in the caller's own
namespace (each node `--listen`s on its address; beacons sent to 127.0.0.1 so a scanner on the
loopback hears them; mDNS off). Its ports (ports="free", the default of the Python API): every
node's RPC, FTP, telnet and eval on ports of their own that were free when the lab started, the
lab's beacons on a free UDP port (lan.beacon_port): nothing collides with another lab, another
test or a program holding the default ports on 0.0.0.0. ports="fixed" (the command line's
`up --loopback` and `swarm sim` without root, for people): RPC on 27587, FTP on 2121, telnet on
2323 (ports below 1024 need root), eval and beacons on 1139. What works there: RPC, FTP, telnet,
remote eval, `swarm scan --to ADDR --port BEACON_PORT` (the query sent to each node's address)
and beacons heard by a scanner on the loopback (`swarm scan --no-query --port BEACON_PORT
--timeout 2.5s`). What does not: broadcast (a plain `swarm scan`), multicast, mDNS. QEMU guests
are on QEMU's user-mode network there, their RPC port forwarded from a loopback address.

Python API (stdlib only; runs under /usr/bin/python3):

    from lanlab import Lan
    with Lan(nodes=3, apps=["blink", "counter", "blink"], name_prefix="swt") as lan:
        lan.nodes[i].name / .ip / .ns / .root / .log_path / .port / .app / .pid / .uri / .kind
        lan.nodes[i].mac / .serial / .flash / .guest_ip   (QEMU nodes: Lan(mcu=M, mcu_apps=…))
        lan.nodes[i].ftp_port / .telnet_port / .eval_port   (the ports the lab gave them)
        lan.host_ns, lan.host_ip, lan.beacon_port
        lan.run(ns, argv, timeout=None, **kw)   # subprocess.run inside ns -> CompletedProcess
        lan.popen(ns, argv, **kw)               # Popen inside ns; killed by PID at exit if alive
        lan.swarm(*args, timeout=60)            # the built `swarm` CLI, run in host_ns
        lan.node_log(i); lan.wait_log(i, text, timeout=10)
        lan.stop_node(i); lan.start_node(i); lan.restart_node(i); lan.wait_ready()
        lan.socket(ns, family, type)            # a socket created inside ns (no subprocess)
        with netns(ns): ...                     # this thread inside ns for a while

Command line:
    lanlab.py up N [--apps a,b] [--mcu M [--mcu-apps a,b]] [--prefix P] [--loopback [--free-ports]]
                   [--keep] [--json] [-- CMD ...]
    lanlab.py --down [PREFIX] [--force]
`up` prints how to reach each node, then waits for Ctrl-C, or runs CMD in the host namespace
(environment: SWARM_SIM_NODES = the node addresses, SWARM_SIM_NAMES, SWARM_SIM_APPS,
SWARM_SIM_DIR, SWARM_SIM_HOST_NS) and exits with its status; everything is torn down on the
way out unless --keep.
"""
import argparse
import contextlib
import ctypes
import errno
import json
import os
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RPC_PORT = 27587
# The services' ports in a namespace lab (micro-swarm's defaults) and in a loopback lab with
# fixed ports (unprivileged ones for FTP and telnet).
NETNS_PORTS = {"ftp": 21, "telnet": 23, "eval": 1139, "beacon": 1139}
LOOPBACK_FIXED_PORTS = {"ftp": 2121, "telnet": 2323, "eval": 1139, "beacon": 1139}
HOST_IP = "169.254.254.1"
DEFAULT_PREFIX = "swlab"
MAX_NODES = 1000
# QEMU nodes (mcu=): the Cortex-M3 firmware of `make firmware` on QEMU's mps2-an385 board
MCU_MAX = 32
MCU_KIND = "cortex-m3"
FIRMWARE = os.path.join("build", "fw", "swarm-node-mps2.elf")  # under the source tree
LOOPBACK_MAX = 250
LAB_FILE = "lab.json"  # in the lab's temporary directory: owner and what it created
# A copy of it per namespace lab, where every root process finds it whatever its TMPDIR: so a
# `--down` never mistakes a live lab's namespaces for leftovers.
REGISTRY = "/run/lanlab"
NETNS_DIR = "/run/netns"


class LabError(Exception):
    """The lab could not be built or a node misbehaved; the message says why."""


# --------------------------------------------------------------------------------------------
# Small helpers

def _which_first(cands):
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


def find_program(name, given=None, build=None):
    """A built program: given path, build dir (default $SWARM_BUILD), the source tree's build/,
    the install's bin/ (this file lives in PREFIX/share/swarm/lab there), then $PATH."""
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise LabError("%s: not an executable file" % given)
        return os.path.abspath(given)
    build = build or os.environ.get("SWARM_BUILD")
    p = _which_first([
        build and os.path.join(build, name),
        os.path.join(HERE, "..", "..", "build", name),
        os.path.join(HERE, "..", "..", "..", "bin", name),
        shutil.which(name),
    ])
    if not p:
        raise LabError("cannot find %s: build it (make) or set SWARM_BUILD to the build directory" % name)
    return p


def find_apps_dir(given=None):
    """The example apps: given, $SWARM_SRC/apps, the source tree's apps/, the install's
    share/swarm/apps/."""
    src = os.environ.get("SWARM_SRC")
    for d in [given, src and os.path.join(src, "apps"), os.path.join(HERE, "..", "..", "apps"),
              os.path.join(HERE, "..", "apps")]:
        if d and os.path.isdir(d):
            return os.path.abspath(d)
    return None


def find_firmware(given=None):
    """The Cortex-M3 firmware: given, else $SWARM_FIRMWARE (when set, only that), else the
    source tree's build/fw/ (from $SWARM_SRC or next to this file). None when there is none."""
    src = os.environ.get("SWARM_SRC")
    cands = [given] if given else [os.environ["SWARM_FIRMWARE"]] if os.environ.get("SWARM_FIRMWARE") \
        else [src and os.path.join(src, FIRMWARE), os.path.join(HERE, "..", "..", FIRMWARE)]
    for f in cands:
        if f and os.path.isfile(f):
            return os.path.abspath(f)
    return None


def mcu_mac(k):
    """The MAC of QEMU node k (0-based): lwIP's AutoIP tries 169.254.1.0 + (mac[4] | mac[5] << 8)
    first, so mac[5] = 199 and mac[4] = k + 1 make that 169.254.200.(k + 1): clear of the
    Linux nodes' 169.254.1.1 … 169.254.4.238 and of the host side's 169.254.254.1, so no node
    has to back off to another address (RFC 3927 probing would find a clash and move on)."""
    return "52:54:00:5a:%02x:c7" % (k + 1)


def autoip_seed(mac):
    """The first address lwIP's AutoIP tries for this MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    v = 0xA9FE0100 + (b[4] | b[5] << 8)
    return "%d.%d.%d.%d" % (v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)


def _mp(obj, out):
    """A minimal MsgPack encoder (the node's config file is MsgPack; stdlib only here)."""
    if obj is None:
        out += b"\xc0"
    elif obj is True:
        out += b"\xc3"
    elif obj is False:
        out += b"\xc2"
    elif isinstance(obj, int):
        if 0 <= obj < 128:
            out += bytes([obj])
        elif -32 <= obj < 0:
            out += struct.pack("b", obj)
        elif 0 <= obj < 1 << 32:
            out += b"\xce" + struct.pack(">I", obj)
        elif -(1 << 31) <= obj < 0:
            out += b"\xd2" + struct.pack(">i", obj)
        else:
            out += b"\xd3" + struct.pack(">q", obj)
    elif isinstance(obj, float):
        out += b"\xcb" + struct.pack(">d", obj)
    elif isinstance(obj, str):
        b = obj.encode()
        if len(b) < 32:
            out += bytes([0xA0 | len(b)])
        else:
            out += b"\xdb" + struct.pack(">I", len(b))
        out += b
    elif isinstance(obj, (bytes, bytearray)):
        out += b"\xc6" + struct.pack(">I", len(obj)) + bytes(obj)
    elif isinstance(obj, (list, tuple)):
        out += b"\xdd" + struct.pack(">I", len(obj))
        for x in obj:
            _mp(x, out)
    elif isinstance(obj, dict):
        out += b"\xdf" + struct.pack(">I", len(obj))
        for k, v in obj.items():
            _mp(k, out)
            _mp(v, out)
    else:
        raise TypeError("cannot encode %r as MsgPack" % (obj,))
    return out


def _merge(a, b):
    """Deep merge of dict b into a copy of a."""
    r = dict(a)
    for k, v in b.items():
        r[k] = _merge(r[k], v) if isinstance(v, dict) and isinstance(r.get(k), dict) else v
    return r


def _proc_start(pid):
    """The start time of pid (clock ticks since boot), or None if there is no such process.
    With the PID it names one process even across PID reuse."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return int(data[data.rindex(b")") + 2:].split()[19])


def _alive(pid, start):
    return pid > 0 and start is not None and _proc_start(pid) == start


def _free_port(kind, ip):
    """A port nobody holds on ip now (the kernel's choice of an ephemeral one)."""
    return _free_ports(kind, ip, 1)[0]


def _free_ports(kind, ip, n, taken=()):
    """n different ports nobody holds on ip now, none of them in taken: all n are held open
    until every one is chosen (one bind and close after another may get the same port back)."""
    held, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, kind)
            held.append(s)
            s.bind((ip, 0))
            p = s.getsockname()[1]
            if p not in taken:
                ports.append(p)
        return ports
    finally:
        for s in held:
            s.close()


def _write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Network namespaces

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


@contextlib.contextmanager
def netns(name):
    """Runs the body with the calling thread inside network namespace `name` (None: stay).
    Sockets created inside stay in that namespace after the body ends."""
    if name is None:
        yield
        return
    cur = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        tgt = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(tgt)
        finally:
            os.close(tgt)
        try:
            yield
        finally:
            _setns(cur)
    finally:
        os.close(cur)


def list_netns():
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _ip_batch(lines, netns_name=None):
    """Runs `ip [-n NS] -batch -` on lines; raises LabError with ip's message on failure."""
    argv = ["ip"] + (["-n", netns_name] if netns_name else []) + ["-batch", "-"]
    r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True)
    if r.returncode:
        raise LabError("%s failed: %s" % (" ".join(argv), r.stderr.strip() or r.stdout.strip()))


def _ip_batches_parallel(jobs, width=16):
    """Runs several `ip -n NS -batch -` at once (one process per namespace is unavoidable:
    ip's batch mode cannot switch namespaces per line)."""
    running = []
    errors = []

    def reap(entry):
        ns, p = entry
        _, err = p.communicate()
        if p.returncode:
            errors.append("%s: %s" % (ns, err.strip()))

    for ns, lines in jobs:
        p = subprocess.Popen(["ip", "-n", ns, "-batch", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        p.stdin.write("\n".join(lines) + "\n")
        p.stdin.close()
        p.stdin = None
        running.append((ns, p))
        if len(running) >= width:
            reap(running.pop(0))
    for e in running:
        reap(e)
    if errors:
        raise LabError("configuring namespaces failed: " + "; ".join(errors[:5]))


def _netns_pids(name):
    r = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(x) for x in r.stdout.split() if x.isdigit()]


def _kill_pids(pids, grace=3.0):
    """SIGTERM, then SIGKILL after grace seconds, to processes that are not our children (ours
    are stopped through their Popen)."""
    pids = [p for p in pids if p != os.getpid()]
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if os.path.exists("/proc/%d" % p) and not _is_zombie(p)]
        time.sleep(0.02)
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2:data.rindex(b")") + 3] == b"Z"
    except (OSError, ValueError):
        return True


def _netns_possible():
    return os.geteuid() == 0 and shutil.which("ip") is not None


# --------------------------------------------------------------------------------------------
# The lab

class Node:
    """One simulated device: a swarm-node process in its own namespace (or on a loopback
    address), its root directory and log."""

    def __init__(self, lan, index, name, ip, ns, root, log_path, app, port=RPC_PORT, kind="linux"):
        self.lan = lan
        self.kind = kind      # "linux" (a swarm-node process) or MCU_KIND (a QEMU guest)
        self.mac = None       # QEMU nodes: the LAN9118's MAC (-nic …,mac=)
        self.serial = None    # QEMU nodes: UART0's pty (serial:///dev/pts/N)
        self.flash = None     # QEMU nodes: the host file holding its flash (persists restarts)
        self.guest_ip = None  # QEMU nodes: the guest's own address (AutoIP)
        self._log_start = 0   # QEMU nodes: where the current boot's output starts in the log
        self.index = index
        self.name = name
        self.ip = ip
        self.ns = ns
        self.root = root
        self.log_path = log_path
        self.app = app
        self.port = port
        self.ftp_port = self.telnet_port = self.eval_port = None
        self.proc = None
        self.argv = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def uri(self):
        return "tcp://%s" % self.ip if self.port == RPC_PORT else "tcp://%s:%d" % (self.ip, self.port)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self):
        return "Node(%s %s %s %s)" % (self.kind, self.name, self.ip, self.ns or "loopback")


class Lan:
    """A LAN of `nodes` swarm-nodes. Use as a context manager (or call start() and close()).

    apps: list of app names, cycled over the nodes (a str: every node; None: no app option);
      each is copied from apps_dir (default: the repository's apps/) into the node's root.
    node_args: extra swarm-node options for every node, or a function index -> list.
    node_config: a dict merged into each node's swarm.cfg before it starts, or index -> dict.
    names: node host names (default node1, node2, …).
    name_prefix: namespaces and temporary directories are named PREFIX<pid>[_k]-…, so that
      `lanlab.py --down PREFIX` finds them; lab_name: use exactly this name instead.
    mode: "auto" (namespaces if root, else loopback), "netns" or "loopback".
    ports: in loopback mode, "free" (each node's services on ports free when the lab starts;
      the default) or "fixed" (27587, 2121, 2323, 1139 for people at a terminal).
    mcu: how many QEMU nodes (the Cortex-M3 firmware, kind "cortex-m3") join the LAN after the
      `nodes` Linux ones (mcu1, mcu2, …; nodes may be 0 then). In namespace mode each guest
      runs in its own namespace LAB-mK whose bridge joins its tap (QEMU's LAN9118) to the veth
      to the hub, so it is on the same LAN as the Linux nodes. Its MAC is mcu_mac(k), its
      address the one its AutoIP settles on (169.254.200.K unless taken), its flash a file in
      its root directory that outlives restarts of the guest (not of the lab).
      In loopback mode (no root) each guest is on QEMU's user-mode network instead (slirp,
      restrict=on: it reaches nothing but the forwarded ports): 169.254.0.0/16 there too, and
      its RPC port forwarded from a loopback address like a Linux node's (node.ip, node.port;
      node.guest_ip is its own address). RPC works; beacons, scan and mDNS do not.
    firmware: the image (default: find_firmware()); mcu_args: extra boot arguments.
    mcu_apps: app names cycled over the QEMU nodes (default none). A guest starts with empty
      flash: the app is only named (boot argument app=, which the node keeps in its config's
      board.app_name), and the first `swarm push` of a project installs it. An app that calls
      board commands (blink) fails its health check there: the mps2 board has none.
    """

    _count = 0

    def __init__(self, nodes=3, apps=None, node_args=(), name_prefix=DEFAULT_PREFIX, lab_name=None,
                 mode="auto", names=None, node_config=None, build=None, node_bin=None,
                 swarm_bin=None, apps_dir=None, ready_timeout=None, keep=False, ports="free",
                 mcu=0, firmware=None, mcu_args="", mcu_apps=None):
        if not 0 <= mcu <= MCU_MAX:
            raise LabError("mcu: 0 … %d, not %d" % (MCU_MAX, mcu))
        if not (0 if mcu else 1) <= nodes <= MAX_NODES:
            raise LabError("nodes: %d … %d, not %d" % (0 if mcu else 1, MAX_NODES, nodes))
        if mode == "auto":
            mode = "netns" if _netns_possible() else "loopback"
        if mode == "netns" and os.geteuid() != 0:
            raise LabError("a namespace LAN needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); "
                           "run as root, or use the loopback mode")
        if mode not in ("netns", "loopback"):
            raise LabError("mode: auto, netns or loopback, not %r" % mode)
        self.n_mcu = mcu
        self.mcu_apps = [mcu_apps] if isinstance(mcu_apps, str) else list(mcu_apps or [])
        for app in self.mcu_apps:
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", app):
                raise LabError("mcu_apps: %r is not an app name" % app)
        self.firmware = None
        self.mcu_args = mcu_args
        if mcu:
            if not shutil.which("qemu-system-arm"):
                raise LabError("qemu-system-arm not found: install qemu-system-arm (scripts/setup "
                               "does)")
            self.firmware = find_firmware(firmware)
            if not self.firmware:
                raise LabError("no firmware %s: run `make firmware` first (it builds "
                               "build/fw/swarm-node-mps2.elf), or give its path"
                               % (firmware or os.environ.get("SWARM_FIRMWARE") or FIRMWARE))
        if ports not in ("free", "fixed"):
            raise LabError("ports: free or fixed, not %r" % (ports,))
        self.ports = ports
        self._ports_given = set()  # free-port labs: the TCP ports handed to nodes so far
        if mode == "loopback" and nodes + mcu > LOOPBACK_MAX:
            raise LabError("the loopback mode holds at most %d nodes" % LOOPBACK_MAX)
        self.mode = mode
        self.n = nodes
        if isinstance(apps, str):
            apps = [apps]
        self.apps = list(apps) if apps else []
        self.node_args = node_args
        self.node_config = node_config
        self.names = list(names) if names else ["node%d" % (i + 1) for i in range(nodes)]
        if len(self.names) != nodes or len(set(self.names)) != nodes:
            raise LabError("names: %d distinct names needed" % nodes)
        if lab_name is None:
            lab_name = "%s%d" % (name_prefix, os.getpid())
            if Lan._count:
                lab_name += "_%d" % Lan._count
            Lan._count += 1
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}", lab_name):
            raise LabError("lab name: 1 … 40 letters, digits, '_', '.' or '-' (not first), not %r"
                           % lab_name)
        self.lab = lab_name
        self.build = build
        self.node_bin = find_program("swarm-node", node_bin, build)
        self._swarm_bin = swarm_bin
        self.apps_dir = find_apps_dir(apps_dir) if self.apps else None
        if self.apps and not self.apps_dir:
            raise LabError("cannot find the apps directory (give apps_dir or set SWARM_SRC)")
        # a QEMU node boots, probes its address (AutoIP: some seconds) and claims its name
        self.ready_timeout = ready_timeout or (20.0 + 0.15 * nodes + (40.0 + 2.0 * mcu if mcu else 0))
        self.keep = keep
        self.dir = None
        self.nodes = []
        self.host_ns = None
        self.host_ip = None
        self.hub_ns = None
        self.beacon_port = None
        self._made_ns = []   # namespaces this lab created (only these are deleted)
        self._extra = []     # Popen objects of popen()
        self._closed = False
        self._started = False
        self._old_handlers = {}
        self.setup_seconds = None

    # ---- names and addresses

    def _ns_name(self, suffix):
        return "%s-%s" % (self.lab, suffix)

    @staticmethod
    def netns_ip(i):
        return "169.254.%d.%d" % (1 + i // 254, 1 + i % 254)

    @property
    def swarm_bin(self):
        if not isinstance(self._swarm_bin, str) or not os.path.isabs(self._swarm_bin):
            self._swarm_bin = find_program("swarm", self._swarm_bin, self.build)
        return self._swarm_bin

    # ---- context manager

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if self._started:
            return self
        self._started = True
        t0 = time.monotonic()
        self._install_signals()
        try:
            self._make_dir()
            if self.mode == "netns":
                self._make_netns()
            else:
                self._pick_loopback()
            for i in range(self.n):
                self._prepare_node(i)
            for k in range(self.n_mcu):
                self._prepare_mcu(k)
            for node in self.nodes:
                self._spawn(node)
            self._save_state()
            deadline = time.monotonic() + self.ready_timeout
            self._wait_mcu([x for x in self.nodes if x.kind == MCU_KIND], self.ready_timeout)
            self._wait_ready(self.nodes, max(5.0, deadline - time.monotonic()))
        except BaseException:
            self.close()
            raise
        self.setup_seconds = time.monotonic() - t0
        return self

    # ---- building

    def _make_dir(self):
        self.dir = tempfile.mkdtemp(prefix=self.lab + "-")
        # written before anything else exists, so `--down` can always tell whose leftovers
        # these are (and leaves a live lab alone)
        self._save_state()

    def _save_state(self):
        if not self.dir or not os.path.isdir(self.dir):
            return
        state = {
            "lab": self.lab,
            "dir": self.dir,
            "mode": self.mode,
            "owner": os.getpid(),
            "owner_start": _proc_start(os.getpid()),
            "keep": self.keep,
            "namespaces": self._made_ns,
            "nodes": [{"name": x.name, "kind": x.kind, "ip": x.ip, "ns": x.ns, "pid": x.pid,
                       "root": x.root, "log": x.log_path, "app": x.app} for x in self.nodes],
            "host_ns": self.host_ns,
            "host_ip": self.host_ip,
        }
        _write_json(os.path.join(self.dir, LAB_FILE), state)
        if self.mode == "netns":
            os.makedirs(REGISTRY, exist_ok=True)
            _write_json(os.path.join(REGISTRY, self.lab + ".json"), state)

    def _make_netns(self):
        self.hub_ns = self._ns_name("hub")
        self.host_ns = self._ns_name("host")
        self.host_ip = HOST_IP
        self.beacon_port = NETNS_PORTS["beacon"]  # (a Linux node's config may move it)
        names = [self.hub_ns, self.host_ns] + [self._ns_name("n%d" % (i + 1)) for i in range(self.n)]
        names += [self._ns_name("m%d" % (k + 1)) for k in range(self.n_mcu)]
        taken = set(list_netns()) & set(names)
        if taken:
            raise LabError("namespaces %s already exist (left by a killed run? "
                           "`lanlab.py --down %s` removes them)" % (", ".join(sorted(taken)[:3]), self.lab))
        os.makedirs(NETNS_DIR, exist_ok=True)
        # remember every name first: a failure half-way still removes what was made
        self._made_ns = list(names)
        self._save_state()
        _ip_batch(["netns add %s" % x for x in names])
        # the hub: bridge, one veth per namespace (its peer goes straight in as eth0).
        # Multicast snooping off: there is no querier on this LAN, so flood every group.
        hub = ["link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0",
               "link set lo up"]
        for k, x in enumerate(names[1:]):
            hub.append("link add v%d type veth peer name eth0 netns %s" % (k, x))
            hub.append("link set v%d master br0 up" % k)
        hub.append("link set br0 up")
        _ip_batch(hub, self.hub_ns)
        jobs = []
        for k, x in enumerate(names[1:2 + self.n]):
            ip = HOST_IP if k == 0 else self.netns_ip(k - 1)
            jobs.append((x, ["addr add %s/16 dev eth0" % ip, "link set lo up", "link set eth0 up",
                             "route add 224.0.0.0/4 dev eth0",
                             "route add 255.255.255.255/32 dev eth0"]))
        # a QEMU node's namespace: no address of its own (the guest has one), a bridge joining
        # the veth to the hub and the tap QEMU's NIC sits on; the tap exists before QEMU starts,
        # so QEMU (no script) only attaches to it
        for x in names[2 + self.n:]:
            jobs.append((x, ["link set lo up", "link add br0 type bridge mcast_snooping 0 "
                             "stp_state 0 forward_delay 0", "link set eth0 master br0",
                             "tuntap add dev tap0 mode tap", "link set tap0 master br0",
                             "link set eth0 up", "link set tap0 up", "link set br0 up"]))
        _ip_batches_parallel(jobs)

    def _pick_loopback(self):
        self.host_ip = "127.0.0.1"
        if self.ports == "free":
            # every node has ports of its own: any block will do; one per lab keeps the logs
            # of parallel labs apart
            self._lo_block = 1 + os.getpid() % 249
            self.beacon_port = _free_port(socket.SOCK_DGRAM, "0.0.0.0")
            return
        self.beacon_port = LOOPBACK_FIXED_PORTS["beacon"]
        # 127.0.B.2 … : the first block B whose addresses nobody listens on at the RPC port
        # (several loopback labs, or other tests, may run at once)
        for b in range(0, 250):
            ok = True
            for i in (0, self.n + self.n_mcu - 1):
                with socket.socket() as s:
                    try:
                        s.bind(("127.0.%d.%d" % (b, 2 + i), RPC_PORT))
                    except OSError:
                        ok = False
                        break
            if ok:
                self._lo_block = b
                return
        raise LabError("no free block of loopback addresses for the RPC port %d" % RPC_PORT)

    def _prepare_node(self, i):
        name = self.names[i]
        app = self.apps[i % len(self.apps)] if self.apps else None
        if self.mode == "netns":
            ip, ns = self.netns_ip(i), self._ns_name("n%d" % (i + 1))
        else:
            ip, ns = "127.0.%d.%d" % (self._lo_block, 2 + i), None
        root = os.path.join(self.dir, name)
        os.makedirs(root)
        node = Node(self, i, name, ip, ns, root, os.path.join(self.dir, name + ".log"), app)
        if self.mode == "netns":
            ports = dict(NETNS_PORTS)
        elif self.ports == "fixed":
            ports = dict(LOOPBACK_FIXED_PORTS)
        else:
            # distinct across the lab too, so a node's port names that node alone
            mine = _free_ports(socket.SOCK_STREAM, ip, 4, self._ports_given)
            self._ports_given.update(mine)
            node.port = mine[0]
            ports = dict(zip(("ftp", "telnet", "eval"), mine[1:]))
        if app:
            src = os.path.join(self.apps_dir, app)
            if not os.path.isfile(os.path.join(src, "main.lua")):
                have = sorted(x for x in os.listdir(self.apps_dir)
                              if os.path.isfile(os.path.join(self.apps_dir, x, "main.lua")))
                raise LabError("no app %r in %s (there: %s)" % (app, self.apps_dir, ", ".join(have)))
            shutil.copytree(src, os.path.join(root, "apps", app))
        cfg = {}
        if self.mode == "loopback":
            # ports below 1024 need root, and the machine's own servers may hold 21 and 23 on
            # every address: the same unprivileged ports for everyone
            cfg = {"boot": {"BEACON_DESTINATION_IPS": ["127.0.0.1"], "MDNS_ENABLE": False,
                            "FTPD_PORT": ports["ftp"], "TELNET_PORT": ports["telnet"],
                            "REMOTE_EVAL_PORT": ports["eval"],
                            "BEACON_DESTINATION_PORT": self.beacon_port}}
        extra = self.node_config(i) if callable(self.node_config) else self.node_config
        if extra:
            cfg = _merge(cfg, extra)
        boot = cfg.get("boot", {})
        node.ftp_port = boot.get("FTPD_PORT", ports["ftp"])
        node.telnet_port = boot.get("TELNET_PORT", ports["telnet"])
        node.eval_port = boot.get("REMOTE_EVAL_PORT", ports["eval"])
        if self.mode == "netns":
            self.beacon_port = boot.get("BEACON_DESTINATION_PORT", ports["beacon"])
        if cfg:
            with open(os.path.join(root, "swarm.cfg"), "wb") as f:
                f.write(_mp(cfg, bytearray()))
        args = self.node_args(i) if callable(self.node_args) else self.node_args
        argv = [self.node_bin, "--root", root, "--name", name]
        if app:
            argv += ["--app", app]
        if self.mode == "loopback":
            argv += ["--listen", ip]
            if node.port != RPC_PORT:
                argv += ["--port", str(node.port)]
        node.argv = argv + list(args or ())
        self.nodes.append(node)

    def _prepare_mcu(self, k):
        name = "mcu%d" % (k + 1)
        if name in self.names:
            raise LabError("names: %s is the name of a QEMU node" % name)
        mac = mcu_mac(k)
        root = os.path.join(self.dir, name)
        os.makedirs(root)
        app = self.mcu_apps[k % len(self.mcu_apps)] if self.mcu_apps else None
        if self.mode == "netns":
            ip, ns = autoip_seed(mac), self._ns_name("m%d" % (k + 1))
        else:
            ip, ns = "127.0.%d.%d" % (self._lo_block, 2 + self.n + k), None
        node = Node(self, self.n + k, name, ip, ns, root, os.path.join(self.dir, name + ".log"),
                    app, kind=MCU_KIND)
        node.mac = mac
        node.guest_ip = autoip_seed(mac)
        if self.mode == "netns":
            nic = "tap,ifname=tap0,script=no,downscript=no,mac=%s" % mac
        else:
            # QEMU's user-mode network on the link-local net the guest's AutoIP picks from (its
            # own address is on it, so it replies without a route); the RPC port forwarded from
            # this node's loopback address. slirp answers ARP only for its own addresses, so
            # the guest's probes find its first candidate free.
            if self.ports == "free":
                node.port = _free_port(socket.SOCK_STREAM, ip)
            nic = ("user,net=169.254.0.0/16,host=169.254.254.2,restrict=on,mac=%s,"
                   "hostfwd=tcp:%s:%d-%s:%d" % (mac, ip, node.port, node.guest_ip, RPC_PORT))
        # relative to the guest's working directory (its root): semihosting opens it there, and
        # the boot arguments stay short (the firmware reads 160 bytes of them)
        node.flash = os.path.join(root, "flash.img")
        boot = ("serial=lossy name=%s flash=flash.img %s%s" % (name, "app=%s " % app if app else "",
                                                               self.mcu_args)).strip()
        # semihosting hands the guest "KERNEL ARGS"; one that does not fit its buffer (160
        # bytes, src/port/mps2/main.c) is refused as a whole, and the guest would boot with
        # its defaults: no name, no flash
        if len(self.firmware) + 1 + len(boot) >= 160:
            raise LabError("the firmware's path and boot arguments take %d bytes, the guest reads "
                           "at most 159: give the firmware a shorter path (SWARM_FIRMWARE=...)"
                           % (len(self.firmware) + 1 + len(boot)))
        node.argv = ["qemu-system-arm", "-M", "mps2-an385", "-cpu", "cortex-m3", "-nographic",
                     "-monitor", "none", "-serial", "pty",
                     "-semihosting-config", "enable=on,target=native",
                     "-kernel", self.firmware, "-append", boot, "-nic", nic]
        self.nodes.append(node)

    def _spawn(self, node):
        log = open(node.log_path, "ab")
        try:
            node._log_start = log.tell()
            argv = (["ip", "netns", "exec", node.ns] if node.ns else []) + node.argv
            # its own session: a Ctrl-C at the terminal reaches us, and we stop nodes in order
            node.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         cwd=node.root if node.kind == MCU_KIND else None)
        finally:
            log.close()

    _MCU_ADDR = re.compile(r"^net: \w+ (169\.254\.\d+\.\d+) \(AutoIP\)", re.M)
    _MCU_PTY = re.compile(r"char device redirected to (/dev/pts/\d+)")

    def _wait_mcu(self, nodes, timeout):
        """Until every QEMU node of `nodes` has said (in its log, since its last start) which
        address its AutoIP settled on; records it, and its UART's pty."""
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        while pending:
            for x in list(pending):
                with open(x.log_path, "rb") as f:
                    f.seek(x._log_start)
                    out = f.read().decode(errors="replace")
                m = self._MCU_PTY.search(out)
                if m:
                    x.serial = m.group(1)
                m = self._MCU_ADDR.search(out)
                if m:
                    x.guest_ip = m.group(1)
                    if self.mode == "netns":
                        x.ip = x.guest_ip
                    elif x.guest_ip != autoip_seed(x.mac):  # the forwarded port goes there
                        raise LabError("%s took %s, not %s: its forwarded port misses it"
                                       % (x.name, x.guest_ip, autoip_seed(x.mac)))
                    pending.remove(x)
                elif x.proc.poll() is not None:
                    raise LabError("%s (QEMU) exited with status %s while booting; its log:\n%s"
                                   % (x.name, x.proc.returncode, out[-3000:]))
            if pending and time.monotonic() > deadline:
                x = pending[0]
                raise LabError("%d QEMU node(s) without an address after %.0f s, e.g. %s; its "
                               "log:\n%s" % (len(pending), timeout, x.name, self._tail(x)))
            if pending:
                time.sleep(0.05)
        self._save_state()

    def _wait_ready(self, nodes, timeout):
        """Until every node's RPC port accepts a connection from the host namespace and the
        node sends its first bytes (the link announcement)."""
        deadline = time.monotonic() + timeout
        pending = {x.index: x for x in nodes}
        due = {x.index: 0.0 for x in nodes}  # when to (re)try; absent = a socket is in flight
        sel = selectors.DefaultSelector()
        try:
            while pending:
                now = time.monotonic()
                if now > deadline:
                    x = next(iter(pending.values()))
                    raise LabError("%d node(s) not ready after %.0f s, e.g. %s at %s:%d; its log:\n%s"
                                   % (len(pending), timeout, x.name, x.ip, x.port, self._tail(x)))
                for idx, x in pending.items():
                    if x.proc.poll() is not None:
                        raise LabError("%s exited with status %s while starting; its log:\n%s"
                                       % (x.name, x.proc.returncode, self._tail(x)))
                    if idx not in due or now < due[idx]:
                        continue
                    if len(sel.get_map()) >= 256:  # stay far from the descriptor limit
                        break
                    del due[idx]
                    with netns(self.host_ns):
                        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
                    err = s.connect_ex((x.ip, x.port))
                    if err in (0, errno.EINPROGRESS):
                        sel.register(s, selectors.EVENT_WRITE, (idx, "connect"))
                    else:
                        s.close()
                        due[idx] = now + 0.05
                for key, _ in sel.select(timeout=0.05) if sel.get_map() else ():
                    idx, state = key.data
                    s = key.fileobj
                    sel.unregister(s)
                    if state == "connect" and not s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        sel.register(s, selectors.EVENT_READ, (idx, "read"))
                        continue
                    got = b""
                    if state == "read":
                        with contextlib.suppress(OSError):
                            got = s.recv(64)
                    s.close()
                    if got:
                        del pending[idx]
                    else:
                        due[idx] = time.monotonic() + 0.05
                if not sel.get_map():
                    time.sleep(0.02)
        finally:
            for key in list(sel.get_map().values()):
                key.fileobj.close()
            sel.close()

    def _tail(self, node, n=3000):
        return self.node_log(node.index)[-n:]

    # ---- using it

    def node_log(self, i):
        try:
            with open(self.nodes[i].log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, i, text, timeout=10.0):
        """Waits until node i's log contains text; returns the log, or raises LabError with
        its tail."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.node_log(i)
            if text in log:
                return log
            if time.monotonic() > deadline:
                raise LabError("%r not in %s's log after %.0f s:\n%s"
                               % (text, self.nodes[i].name, timeout, log[-3000:]))
            time.sleep(0.02)

    def _argv(self, ns, argv):
        return (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in argv]

    def run(self, ns, argv, timeout=None, **kw):
        """subprocess.run of argv inside namespace ns (None: here); output captured as text
        unless the caller says otherwise."""
        if "stdout" not in kw and "stderr" not in kw and "capture_output" not in kw:
            kw["capture_output"] = True
        kw.setdefault("text", True)
        return subprocess.run(self._argv(ns, argv), timeout=timeout, **kw)

    def popen(self, ns, argv, **kw):
        """Popen of argv inside ns. The caller stops it; whatever is still running when the lab
        closes is killed (by PID)."""
        p = subprocess.Popen(self._argv(ns, argv), **kw)
        self._extra.append(p)
        return p

    def swarm(self, *args, timeout=60, **kw):
        """The `swarm` CLI of this build, run in the host namespace."""
        return self.run(self.host_ns, [self.swarm_bin] + [str(a) for a in args], timeout=timeout, **kw)

    def socket(self, ns, family=socket.AF_INET, type=socket.SOCK_DGRAM, proto=0):
        """A socket that lives in namespace ns (None: here)."""
        with netns(ns):
            return socket.socket(family, type, proto)

    def stop_node(self, i, sig=signal.SIGTERM, timeout=10.0):
        """Stops node i (SIGTERM: its orderly stop; SIGKILL after timeout). Returns its status."""
        x = self.nodes[i]
        if x.proc is None:
            return None
        if x.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                x.proc.send_signal(sig)
            try:
                x.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                x.proc.kill()
                x.proc.wait()
        return x.proc.returncode

    def start_node(self, i, wait=True):
        x = self.nodes[i]
        if x.running():
            return
        self._spawn(x)
        self._save_state()
        if wait:
            if x.kind == MCU_KIND:
                self._wait_mcu([x], self.ready_timeout)
            self._wait_ready([x], self.ready_timeout)

    def restart_node(self, i, wait=True):
        self.stop_node(i)
        self.start_node(i, wait)

    def wait_ready(self, timeout=None):
        """Waits until every running node answers again (after config changes, resets, …)."""
        self._wait_ready([x for x in self.nodes if x.running()], timeout or self.ready_timeout)

    def describe(self):
        """What `lanlab.py up --json` prints: the lab as a dict."""
        return {"lab": self.lab, "mode": self.mode, "dir": self.dir, "host_ns": self.host_ns,
                "host_ip": self.host_ip, "hub_ns": self.hub_ns, "beacon_port": self.beacon_port,
                "nodes": [{"name": x.name, "kind": x.kind, "ip": x.ip, "port": x.port, "ns": x.ns,
                           "app": x.app, "mac": x.mac, "serial": x.serial, "flash": x.flash,
                           "guest_ip": x.guest_ip,
                           "ftp_port": x.ftp_port, "telnet_port": x.telnet_port, "eval_port": x.eval_port,
                           "root": x.root, "log": x.log_path, "pid": x.pid, "uri": x.uri}
                          for x in self.nodes]}

    def env(self):
        """Environment for a command run against the lab (see the module's doc)."""
        e = dict(os.environ)
        e.update({"SWARM_SIM_NODES": " ".join(x.ip for x in self.nodes),
                  "SWARM_SIM_NAMES": " ".join(x.name for x in self.nodes),
                  "SWARM_SIM_APPS": " ".join(x.app or "-" for x in self.nodes),
                  "SWARM_SIM_KINDS": " ".join(x.kind for x in self.nodes),
                  "SWARM_SIM_DIR": self.dir or "", "SWARM_SIM_HOST_NS": self.host_ns or "",
                  "SWARM_SIM_MODE": self.mode, "SWARM_SIM_LAB": self.lab,
                  "SWARM_SIM_BEACON_PORT": str(self.beacon_port or "")})
        return e

    # ---- teardown

    def detach(self):
        """Leaves the LAN running when this object goes away (`up --keep`); `--down` removes it."""
        self.keep = True
        self._save_state()

    def close(self):
        if self._closed:
            return
        self._closed = True
        # a second Ctrl-C (or a SIGTERM) must not cut the teardown short
        held = _hold_signals()
        try:
            if self.keep:
                for x in self.nodes:  # they go on without us
                    if x.proc:
                        x.proc.returncode = x.proc.returncode if x.proc.returncode is not None else -1
                return
            self._stop_all()
            if self._made_ns:
                have = set(list_netns())
                gone = [x for x in self._made_ns if x in have]
                # processes still inside (a shell someone opened) keep a namespace alive after
                # its name is gone; the veths die with the hub anyway
                if gone:
                    with contextlib.suppress(LabError):
                        _ip_batch(["netns del %s" % x for x in gone])
                self._made_ns = []
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            if self.mode == "netns":
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(REGISTRY, self.lab + ".json"))
        finally:
            self._restore_signals()
            _release_signals(held)

    def _stop_all(self):
        procs = [p for p in self._extra if p.poll() is None]
        procs += [x.proc for x in self.nodes if x.proc and x.proc.poll() is None]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5.0
        for p in procs:
            try:
                p.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                p.wait()

    # SIGTERM and SIGHUP end the lab like Ctrl-C does: by an exception in the main thread, so
    # every `with` and `finally` runs. Installed only where nobody else handles them.
    def _install_signals(self):
        import threading
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                self._old_handlers[sig] = signal.signal(sig, _raise_exit)

    def _restore_signals(self):
        for sig, h in self._old_handlers.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, h)
        self._old_handlers = {}


def _raise_exit(sig, frame):
    raise SystemExit(128 + sig)


def _hold_signals():
    import threading
    if threading.current_thread() is not threading.main_thread():
        return {}
    held = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):
            held[sig] = signal.signal(sig, signal.SIG_IGN)
    return held


def _release_signals(held):
    for sig, h in held.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(sig, h if h is not None else signal.SIG_DFL)


# --------------------------------------------------------------------------------------------
# Cleaning up after killed runs

def _lab_states(prefix):
    """lab name -> (state, [files it was read from]) for every lab whose name starts with
    prefix: the registry and the lab directories in the temporary directory."""
    found = {}
    cands = []
    with contextlib.suppress(OSError):
        cands += [os.path.join(REGISTRY, x) for x in os.listdir(REGISTRY)
                  if x.startswith(prefix) and x.endswith(".json")]
    tmp = tempfile.gettempdir()
    with contextlib.suppress(OSError):
        cands += [os.path.join(tmp, x, LAB_FILE) for x in os.listdir(tmp) if x.startswith(prefix)]
    for path in cands:
        try:
            with open(path) as f:
                info = json.load(f)
            lab = info["lab"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not one of ours
        if not isinstance(lab, str) or not lab.startswith(prefix):
            continue
        entry = found.setdefault(lab, (info, []))
        entry[1].append(path)
    return found


def down(prefix=DEFAULT_PREFIX, force=False, say=print):
    """Removes every lab whose name starts with prefix and whose owner is gone (all of them
    with force): processes in its namespaces, the namespaces, its temporary directory, and in
    loopback mode its node processes. Returns the number of namespaces removed."""
    if not prefix or "/" in prefix:
        raise LabError("--down: a name prefix is needed, without '/'")
    live, dead_dirs, files, node_pids = set(), [], [], []
    for lab, (info, paths) in sorted(_lab_states(prefix).items()):
        owner = info.get("owner", 0)
        if not force and owner != os.getpid() and _alive(owner, info.get("owner_start")):
            live.add(lab)
            say("lanlab: %s is in use by process %d; left alone (--force removes it)" % (lab, owner))
            continue
        files += paths
        d = info.get("dir")
        # only a directory that says it is this lab's
        if isinstance(d, str) and os.path.isfile(os.path.join(d, LAB_FILE)):
            with contextlib.suppress(OSError, ValueError):
                with open(os.path.join(d, LAB_FILE)) as f:
                    if json.load(f).get("lab") == lab:
                        dead_dirs.append(d)
        for x in info.get("nodes", []):
            if isinstance(x, dict) and isinstance(x.get("pid"), int) and not x.get("ns") and d:
                node_pids.append((x["pid"], d))
    victims = [x for x in list_netns() if x.startswith(prefix) and x.rsplit("-", 1)[0] not in live]
    pids = set()
    for ns in victims:
        pids.update(_netns_pids(ns))
    # loopback nodes: only processes that are still a swarm-node of that lab directory (its
    # root is in their command line) or a QEMU guest of it (working directory in it)
    for pid, d in node_pids:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if d.encode() in f.read():
                    pids.add(pid)
                    continue
            if os.readlink("/proc/%d/cwd" % pid).startswith(d + "/"):
                pids.add(pid)
        except OSError:
            pass
    if pids:
        _kill_pids(sorted(pids))
    if victims:
        _ip_batch(["netns del %s" % x for x in victims])
    for d in dead_dirs:
        shutil.rmtree(d, ignore_errors=True)
    for f in files:
        with contextlib.suppress(OSError):
            os.unlink(f)
    say("lanlab: removed %d namespace(s), %d process(es), %d lab director%s with prefix %r"
        % (len(victims), len(pids), len(dead_dirs), "y" if len(dead_dirs) == 1 else "ies", prefix))
    return len(victims)


# --------------------------------------------------------------------------------------------
# Command line

def _print_lan(lan, out):
    w = max(4, max(len(x.name) for x in lan.nodes))
    if lan.mode == "netns":
        what = "%d nodes" % len(lan.nodes)
        if lan.n_mcu:
            what += " (%d Linux, %d QEMU Cortex-M3)" % (lan.n, lan.n_mcu)
        out.write("%s on a namespace LAN (bridge br0 in %s), ready in %.2f s\n"
                  % (what, lan.hub_ns, lan.setup_seconds))
    else:
        what = "%d nodes" % len(lan.nodes)
        if lan.n_mcu:
            what += " (%d Linux, %d QEMU Cortex-M3 on QEMU's user-mode network)" % (lan.n, lan.n_mcu)
        out.write("%s on loopback addresses (no root: no namespaces, so no broadcast, "
                  "multicast or mDNS between them), ready in %.2f s\n" % (what, lan.setup_seconds))
    out.write("  %-*s  %-9s  %-15s  %-10s  %-16s  %s\n"
              % (w, "name", "kind", "ip", "app", "namespace", "try"))
    # the whole command, runnable from any shell: swarm may not be on PATH, and in netns mode
    # the nodes are reached only from the host namespace
    try:
        swarm = lan.swarm_bin
    except Exception:  # noqa: BLE001 (no swarm built: the try column still shows the command)
        swarm = "swarm"
    pre = "sudo ip netns exec %s " % lan.host_ns if lan.host_ns else ""
    for x in lan.nodes:
        out.write("  %-*s  %-9s  %-15s  %-10s  %-16s  %s%s call %s ping\n"
                  % (w, x.name, x.kind, x.ip, x.app or "-", x.ns or "-", pre, swarm, x.uri))
    for x in lan.nodes:
        if x.kind == MCU_KIND:
            out.write("%s: QEMU mps2-an385, MAC %s, UART0 at serial://%s, flash %s%s\n"
                      % (x.name, x.mac, x.serial or "?", x.flash,
                         "; app %s named, `swarm push` installs it" % x.app if x.app else ""))
            if lan.mode == "loopback":
                out.write("%s: user-mode network (no root): %s is QEMU's forward of its RPC port "
                          "to %s:%d; RPC only (no beacons, scan or mDNS)\n"
                          % (x.name, x.uri, x.guest_ip, RPC_PORT))
    if lan.host_ns:
        out.write("host tools: sudo ip netns exec %s bash     (address %s on the same LAN)\n"
                  % (lan.host_ns, lan.host_ip))
    else:
        out.write("host tools: run them here; nodes send beacons to 127.0.0.1:%d\n" % lan.beacon_port)
    out.write("roots and logs: %s\n" % lan.dir)
    out.flush()


def _run_command(lan, cmd):
    """Runs cmd in the host namespace in the foreground; returns its exit status. A Ctrl-C at
    the terminal reaches it directly (same process group): we wait for it to finish, and
    terminate it only if it is still there 5 s later or on a second Ctrl-C."""
    p = subprocess.Popen(lan._argv(lan.host_ns, cmd), env=lan.env())
    lan._extra.append(p)
    hits = []

    def on_int(sig, frame):
        hits.append(time.monotonic())
    old = signal.signal(signal.SIGINT, on_int)
    try:
        while True:
            try:
                rc = p.wait(0.2)
                break
            except subprocess.TimeoutExpired:
                if hits and (len(hits) > 1 or time.monotonic() - hits[0] > 5):
                    p.terminate()
    finally:
        signal.signal(signal.SIGINT, old)
    return 128 - rc if rc < 0 else rc


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = []
    if "--" in argv:
        k = argv.index("--")
        argv, cmd = argv[:k], argv[k + 1:]
    if argv[:1] in (["--down"], ["down"]):
        ap = argparse.ArgumentParser(prog="lanlab.py --down",
                                     description="remove the labs left by killed runs")
        ap.add_argument("prefix", nargs="?", default=DEFAULT_PREFIX,
                        help="name prefix (default %s)" % DEFAULT_PREFIX)
        ap.add_argument("--force", action="store_true", help="also labs whose owner still runs")
        a = ap.parse_args(argv[1:])
        try:
            down(a.prefix, a.force)
        except LabError as e:
            print("lanlab: %s" % e, file=sys.stderr)
            return 6
        return 0
    ap = argparse.ArgumentParser(prog="lanlab.py", description="a simulated LAN of swarm nodes")
    sub = ap.add_subparsers(dest="what", required=True)
    up = sub.add_parser("up", help="build a LAN, print how to reach it, wait for Ctrl-C or run CMD")
    up.add_argument("nodes", type=int, help="Linux nodes (0 with --mcu: QEMU nodes only)")
    up.add_argument("--mcu", type=int, default=0,
                    help="QEMU nodes (the Cortex-M3 firmware of `make firmware`), as root")
    up.add_argument("--mcu-apps", default="",
                    help="comma-separated apps, cycled over the QEMU nodes (named; a push installs them)")
    up.add_argument("--firmware", help="the firmware image (default build/fw/swarm-node-mps2.elf)")
    up.add_argument("--apps", default="", help="comma-separated apps, cycled over the nodes")
    up.add_argument("--prefix", default=None, help="lab name (default swlab<pid>)")
    up.add_argument("--loopback", action="store_true", help="loopback mode even as root")
    up.add_argument("--keep", action="store_true", help="leave the LAN running on exit")
    up.add_argument("--free-ports", action="store_true",
                    help="loopback mode: every node's services on free ports, not 27587/2121/2323/1139")
    up.add_argument("--json", action="store_true", help="describe the lab as one JSON line")
    up.add_argument("--quiet", "-q", action="store_true")
    up.add_argument("--node-bin")
    up.add_argument("--swarm-bin")
    up.add_argument("--apps-dir")
    up.add_argument("--node-arg", action="append", default=[], help="extra swarm-node option")
    up.add_argument("--timeout", type=float, default=None, help="seconds for the nodes to answer")
    a = ap.parse_args(argv)
    if not (0 if a.mcu else 1) <= a.nodes <= MAX_NODES:
        ap.error("N: %d … %d" % (0 if a.mcu else 1, MAX_NODES))
    if not 0 <= a.mcu <= MCU_MAX:
        ap.error("--mcu: 0 … %d" % MCU_MAX)
    apps = [x for x in a.apps.split(",") if x] if a.apps else None
    # Ctrl-C ends the lab even when we were started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    err = sys.stderr
    mode = "loopback" if a.loopback else "auto"
    if mode == "auto" and not _netns_possible() and a.json:  # (the table says it otherwise)
        err.write("lanlab: not root: nodes on loopback addresses instead of a namespace LAN "
                  "(no broadcast, multicast or mDNS)\n")
    lan = None
    try:
        lan = Lan(nodes=a.nodes, apps=apps, mode=mode, lab_name=a.prefix, node_bin=a.node_bin,
                  swarm_bin=a.swarm_bin, apps_dir=a.apps_dir, node_args=a.node_arg,
                  ready_timeout=a.timeout, keep=a.keep, ports="free" if a.free_ports else "fixed",
                  mcu=a.mcu, firmware=a.firmware,
                  mcu_apps=[x for x in a.mcu_apps.split(",") if x] or None)
        lan.start()
        if a.json:
            print(json.dumps(lan.describe()), flush=True)
        elif not a.quiet:
            _print_lan(lan, sys.stdout)
        if cmd:
            if not a.quiet and not a.json:
                print("running: %s" % " ".join(cmd), flush=True)
            return _run_command(lan, cmd)
        if a.keep:
            if not a.quiet:
                print("left running; remove it with: lanlab.py --down %s" % lan.lab, flush=True)
            return 0
        if not a.quiet:
            print("Ctrl-C tears the LAN down.", flush=True)
        reported = set()
        while True:
            time.sleep(0.5)
            for x in lan.nodes:
                if x.index not in reported and not x.running():
                    reported.add(x.index)
                    err.write("lanlab: %s exited with status %s (log: %s)\n"
                              % (x.name, x.proc.returncode, x.log_path))
    except KeyboardInterrupt:
        return 130
    except LabError as e:
        err.write("lanlab: %s\n" % e)
        return 6
    finally:
        if lan:
            if a.keep and lan._started:
                lan.detach()
            lan.close()


if __name__ == "__main__":
    sys.exit(main())
