"""micro-swarm's push flow against the namespace LAN, shared by bench/push/run and bench/push/lab100.

Its exact lftp mirror script (spec/micro-swarm-wire.md §3: --transfer-all, one file at a time)
and eval reset snippet (§4), for every node at once as push_code's TaskGroup does, with its
preflight connect to the FTP port (micro_swarm: the addresses are given). push_code's scan,
which its user always gets first (spec §1 "Host collection", §3 "Scans for 7 s"), is ms_scan:
UDP port 1139 bound in the lab's host namespace, every beacon taken for 7 s.

Also the measuring helpers both benches use: bytes through the host namespace's eth0 and the
CPU time of processes (from /proc, no subprocess, so the host side's children are only the
flows' own programs).
"""
import json
import os
import socket
import subprocess
import threading
import time

RESET_SNIPPET = (b'if True:\n                    print("\\nReset triggered after code deployment...\\n")\n'
                 b'                    import machine\n                    machine.reset()\n                ')
TICK = os.sysconf("SC_CLK_TCK")


def lftp_script(ip, local, app):
    """push_code's script, quoted and joined exactly as it does (spec §3)."""
    cmds = [["set", "cmd:fail-exit", "yes"], ["set", "ftp:list-options", "-a"],
            ["set", "ftp:passive-mode", "yes"], ["open", "ftp://%s:%d" % (ip, 21)],
            ["lcd", local], ["cd", "/apps/%s/" % app],
            ["mirror", "--reverse", "--scan-all-first", "--transfer-all", "--delete", "--use-cache",
             "--verbose", "--no-perms", "--no-umask", "--parallel=1", "--exclude-glob", "__pycache__",
             "--exclude-glob", ".*"]]
    q = lambda w: "'" + w.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return ";\n".join(" ".join(q(w) for w in c) for c in cmds)


def ms_scan(lan, duration=7.0, port=1139):
    """push_code's scan (script/push_code L19-51, a copy of scan_devices): UDP bound to
    0.0.0.0:1139 (no SO_REUSEADDR) in the lab's host namespace, recvfrom(4096) until the 7 s
    deadline, a beacon kept when one of its ifconfigs has the datagram's source address (the
    first one per address). Returns (seconds, {ip: beacon + ip + network})."""
    s = lan.socket(lan.host_ns, socket.AF_INET, socket.SOCK_DGRAM)
    devices = {}
    t0 = time.monotonic()
    try:
        s.bind(("0.0.0.0", port))
        deadline = t0 + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, (src, _) = s.recvfrom(4096)
            except (socket.timeout, TimeoutError):
                break
            try:
                beacon = json.loads(data)
                for nic in beacon["ifconfigs"]:
                    if nic[0] == src and src not in devices:
                        devices[src] = dict(beacon, ip=nic[0], network=nic[1])
            except Exception:  # noqa: BLE001 (push_code: `except: continue`)
                continue
    finally:
        s.close()
    return time.monotonic() - t0, devices


def beacons(lan, ms, env=None):
    """Every node's beacon period (boot.BEACON_REPEAT_MS through `swarm cfg`); a node takes up
    a new period at its next beacon."""
    for x in lan.nodes:
        for args in (("set", "boot.BEACON_REPEAT_MS", str(ms)), ("apply",)):
            r = lan.swarm("cfg", x.uri, *args, env=env)
            if r.returncode:
                raise RuntimeError("swarm cfg %s %s: %s" % (x.uri, " ".join(args), r.stderr[-500:]))


def ms_scan_once(lan, app, env=None):
    """push_code's scan once, on a lab whose nodes beacon every 2 s (as micro-swarm's devices
    always do: the lab is made so); it must find exactly the lab's nodes, running app. Then the
    beacons go hourly (2.5 s later every node has taken that up), so that the interface
    counters of what is measured next hold only that. Returns (seconds, devices found)."""
    secs, found = ms_scan(lan)
    beacons(lan, 3600000, env)
    time.sleep(2.5)
    want = {x.ip for x in lan.nodes}
    apps = {b.get("settings", {}).get("board", {}).get("app_name") for b in found.values()}
    if set(found) != want or apps != {app}:
        raise RuntimeError("micro-swarm's scan found %d of %d nodes (%s), apps %s"
                           % (len(set(found) & want), len(want), sorted(set(found) ^ want), apps))
    return secs, len(found)


def micro_swarm(lan, nodes, local, app):
    """push_code's per-device task for every node at once (lftp mirror, then the eval reset).
    Returns (seconds, whether the reset could be sent to every node); raises RuntimeError when
    a node's lftp failed."""
    results = [None] * len(nodes)

    def task(i):
        x = nodes[i]
        try:
            s = lan.socket(lan.host_ns, socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(6)
            s.connect((x.ip, 21))  # preflight, as push_code does
            s.close()
            p = lan.popen(lan.host_ns, ["lftp", "-c", lftp_script(x.ip, local, app)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = p.communicate(timeout=300)
            if p.returncode:
                results[i] = ("lftp %d: %s" % (p.returncode, err.decode(errors="replace")[-300:]), False)
                return
            s = lan.socket(lan.host_ns, socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(4)
            try:
                s.connect((x.ip, 1139))
                s.sendall(RESET_SNIPPET)
                s.shutdown(socket.SHUT_WR)
                s.recv(16)
                reset = True
            except OSError:
                reset = False  # no remote eval service on this node
            s.close()
            results[i] = (None, reset)
        except Exception as e:  # noqa: BLE001 (reported below)
            results[i] = (repr(e), False)

    t0 = time.monotonic()
    threads = [threading.Thread(target=task, args=(i,)) for i in range(len(nodes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t = time.monotonic() - t0
    bad = [r[0] for r in results if r[0]]
    if bad:
        raise RuntimeError("micro-swarm's flow failed on %d node(s): %s" % (len(bad), bad[0]))
    return t, all(r[1] for r in results)


def wire(lan):
    """Bytes through the host namespace's eth0 so far (tx + rx), read in that namespace."""
    from lanlab import netns
    with netns(lan.host_ns):
        with open("/proc/thread-self/net/dev") as f:
            out = f.read()
    for line in out.splitlines():
        if line.strip().startswith("eth0:"):
            f = line.split(":", 1)[1].split()
            return int(f[0]) + int(f[8])
    raise RuntimeError("no eth0 in the host namespace")


def cpu_of(pid):
    """User + system CPU seconds of a process so far (0.0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def children_cpu():
    """User + system CPU seconds of this process's waited-for children so far (the flows' own
    programs: swarm, lftp; `ip netns exec` execs them in place)."""
    r = os.times()
    return r.children_user + r.children_system
