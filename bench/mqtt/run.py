#!/usr/bin/python3
"""MQTT fleet bus bench (bench/RESULTS.md, "MQTT"): a fleet on one mosquitto on this machine.

  1. N simulated nodes (tests/e2e/mqttsim.py --mqtt-sim N: one process, one paho client per
     node) with retained states; `swarm scan --broker` (all N listed?) and a no-change
     `swarm push --broker` (quick: the states' app hash), each timed 5 times (median, max).
  2. One real swarm-node on the broker: sequential `ping` round trips through the broker
     (paho, MQTT 5 response topic) against the same node over direct TCP, side by side.

  3. --real N real swarm-node processes (one node per process, started in batches of
     --batch) on the same broker: `swarm scan --broker` of them (all listed?), a 1-file push to
     all (fresh nodes: the whole 1-file project), a no-change push, then a push of that file
     edited; total time and the time per node. --real-only skips 1 and 2; --locked locks
     them (one fleet key): every push then shakes hands and seals through the broker.

usage: bench/mqtt/run.py [--nodes N] [--real N] [--real-only] [--locked] [--batch N]
                        [--parallel N] [--build DIR]
       (defaults: 1000 simulated, 100 real, build/rel or build)
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))


def timed(args, env, runs=5):
    ts, out = [], None
    for _ in range(runs):
        t = time.monotonic()
        p = subprocess.run(args, capture_output=True, text=True, env=env)
        ts.append(time.monotonic() - t)
        if p.returncode:
            raise SystemExit("%s: exit %d\n%s" % (" ".join(args), p.returncode, p.stderr))
        out = p
    return statistics.median(ts), max(ts), out


def mqtt_pings(b, fleet, host, n):
    """Sequential pings through the broker from one paho client driven by hand (no loop
    thread: paho's threaded loop adds its own wake-up latency), MQTT 5 response topic."""
    import socket
    import msgpack
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    got = []
    c = mqtt.Client(client_id="bench-rtt", protocol=mqtt.MQTTv5)
    c.on_message = lambda cl, u, m: got.append(m)
    c.connect("127.0.0.1", b.port)
    c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.subscribe("bench/rtt", 1)
    for _ in range(20):
        c.loop(0.02)
    p = Properties(PacketTypes.PUBLISH)
    p.ResponseTopic = "bench/rtt"
    topic = "swarm/%s/%s/rpc" % (fleet, host)

    def one(i):
        k = len(got)
        p.CorrelationData = b"%d" % i
        c.publish(topic, msgpack.packb({"a": "ping", "d": "x", "i": i}), qos=1, properties=p)
        while len(got) == k:
            c.loop(1)
    for i in range(50):
        one(i + 1)
    t = time.monotonic()
    for i in range(n):
        one(i + 100)
    rate = n / (time.monotonic() - t)
    c.disconnect()
    return rate


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def push_timed(swarm, env, proj, url, what, n, extra=()):
    import json
    t = time.monotonic()
    p = subprocess.run([swarm, "--json", "push", proj, "--broker", url, *extra], capture_output=True, text=True,
                       env=env)
    el = time.monotonic() - t
    try:
        out = json.loads(p.stdout)
    except ValueError:
        raise SystemExit("swarm push: exit %d\n%s" % (p.returncode, p.stderr[-2000:]))
    tot = out["total"]
    ms = sorted(d.get("ms", 0) for d in out["devices"] if d.get("result") != "unchanged") or [0]
    print("%s to %d real nodes: %d ok, %d unchanged, %d failed, %d connections in %.2f s (%.1f ms per node); "
          "per node (its own push) median %d ms, max %d ms" %
          (what, n, tot.get("ok", 0), tot.get("unchanged", 0), tot.get("failed", 0), tot.get("connected", 0), el,
           el * 1000 / n, ms[len(ms) // 2], ms[-1]), flush=True)
    if p.returncode:
        print("  (exit %d: %s)" % (p.returncode, p.stderr.strip().splitlines()[-1:] or ""), flush=True)
    return out


def real_push(a, b, swarm, env, proj):
    """--real N real swarm-node processes on the broker: scan, 1-file push, no-change push,
    1-file edit push."""
    import json
    from swarmtest import Node, loopback_config, pack
    nodes = []
    if a.locked:  # the authenticated mode: every node locked with one fleet key, the host has it
        key = os.urandom(32)
        env = dict(env, SWARM_KEY_FILE=os.path.join(env["HOME"], "key"))
        with open(env["SWARM_KEY_FILE"], "wb") as f:
            f.write(key)
    try:
        t0 = time.monotonic()
        for i in range(a.real):
            root = tempfile.mkdtemp(prefix="swarm-bench-node-")
            cfg = loopback_config({"mqtt": {"url": b.url, "fleet": "real"}}, services=False)
            with open(os.path.join(root, "swarm.cfg"), "wb") as f:
                f.write(pack(cfg))
            if a.locked:
                with open(os.path.join(root, "swarm.key"), "wb") as f:
                    f.write(key)
            # service_errors: among 1,000 nodes two may draw the same free loopback port for
            # their UDP beacon or TCP RPC; the broker is what this measures
            n = Node(root=root, name="real-%04d" % i, service_errors=True)
            n.own_root = True
            nodes.append(n.start(wait=False))
            if len(nodes) % a.batch == 0 or len(nodes) == a.real:
                # a batch at a time: the broker and the machine take the connections in turn
                for m in nodes[-a.batch:]:
                    m.wait_log("mqtt: connected to", timeout=300)
        print("%d real swarm-node processes started and connected in %.1f s (batches of %d); RSS of one: %d kB, "
              "all: %.0f MB; broker RSS %d kB" %
              (a.real, time.monotonic() - t0, a.batch, rss_kb(nodes[0].proc.pid),
               sum(rss_kb(n.proc.pid) for n in nodes) / 1024, rss_kb(b.proc.pid)), flush=True)
        url = "%s/real" % b.url
        ts, listed = [], 0
        for _ in range(5):  # (states are published right after the subscriptions: all should be there)
            t = time.monotonic()
            p = subprocess.run([swarm, "--json", "scan", "--broker", url], capture_output=True, text=True, env=env)
            ts.append(time.monotonic() - t)
            listed = sum(1 for d in json.loads(p.stdout) if d.get("online", True))
        print("swarm scan --broker: %d of %d real nodes listed online; median %.3f s, max %.3f s (5 runs)" %
              (listed, a.real, statistics.median(ts), max(ts)), flush=True)
        push_timed(swarm, env, proj, url, "1-file push (fresh nodes: the whole 1-file project)", a.real,
                   ("--grace", "0", "--parallel", str(a.parallel)))
        for n in nodes:  # each announces its new hash once its app is ready
            n.wait_log("push: apps/example is at", timeout=120)
        time.sleep(1)
        for _ in range(3):
            push_timed(swarm, env, proj, url, "no-change push", a.real)
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('return {VERSION = "3"}\n')
        push_timed(swarm, env, proj, url, "1-file push (main.lua edited)", a.real,
                   ("--grace", "0", "--parallel", str(a.parallel)))
    finally:
        for n in nodes:  # every one, whatever one of them says
            try:
                n.stop()
            except Exception as e:  # noqa: BLE001
                print("stopping %s: %s" % (n.name, e), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--build", default=None)
    ap.add_argument("--pings", type=int, default=2000)
    ap.add_argument("--real", type=int, default=100, help="real swarm-node processes for the 1-file push")
    ap.add_argument("--real-only", action="store_true", help="only the real nodes' part (3)")
    ap.add_argument("--batch", type=int, default=50, help="real nodes started at a time")
    ap.add_argument("--locked", action="store_true",
                    help="real nodes locked with a fleet key: pushes are authenticated end to end")
    ap.add_argument("--parallel", type=int, default=32, help="swarm push --parallel")
    a = ap.parse_args()
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # (a killed bench still stops its nodes)
    build = a.build or (os.path.join(SRC, "build", "rel") if os.path.exists(os.path.join(SRC, "build", "rel", "swarm"))
                        else os.path.join(SRC, "build"))
    os.environ["SWARM_BUILD"] = build
    from mqttlab import Broker
    from swarmtest import Node, loopback_config, pack

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # inherited by the broker: a connection per node; and this script keeps a log per real node
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(a.nodes, a.real) * 2 + 4096), hard))
    swarm = os.path.join(build, "swarm")
    home = tempfile.mkdtemp(prefix="swarm-bench-mqtt-")
    env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home, HOME=home)
    proj = os.path.join(home, "proj")
    os.makedirs(os.path.join(proj, "apps", "example"))
    with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
        f.write('return {VERSION = "1"}\n')
    print("build: %s; machine: %s cores, shared with other jobs (load %s)" %
          (build, os.cpu_count(), open("/proc/loadavg").read().split()[0]))
    with Broker() as b:
        if a.real_only:
            real_push(a, b, swarm, env, proj)
            return
        sim = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "e2e", "mqttsim.py"), "--mqtt-sim",
                                str(a.nodes), "--broker", "127.0.0.1:%d" % b.port, "--fleet", "sim",
                                "--app-dir", os.path.join(proj, "apps", "example")],
                               stdout=subprocess.PIPE, text=True)
        try:
            t = time.monotonic()
            line = sim.stdout.readline().strip()
            if line != "ready %d" % a.nodes:
                raise SystemExit("the simulation did not start: %r" % line)
            print("%d simulated nodes connected and published their states in %.1f s" % (a.nodes, time.monotonic() - t))
            url = "%s/sim" % b.url
            med, mx, p = timed([swarm, "--json", "scan", "--broker", url], env)
            import json
            n = len(json.loads(p.stdout))
            print("swarm scan --broker: %d of %d listed; median %.3f s, max %.3f s (5 runs)" % (n, a.nodes, med, mx))
            med, mx, p = timed([swarm, "--json", "push", proj, "--broker", url], env)
            tot = json.loads(p.stdout)["total"]
            print("no-change swarm push --broker: %d unchanged of %d, %d connections; median %.3f s, max %.3f s" %
                  (tot["unchanged"], tot["devices"], tot["connected"], med, mx))
        finally:
            sim.terminate()
            sim.wait()
        # round trips through the broker vs direct TCP, one real node
        root = tempfile.mkdtemp(prefix="swarm-bench-node-")
        cfg = loopback_config({"mqtt": {"url": b.url, "fleet": "bench"}}, services=False)
        with open(os.path.join(root, "swarm.cfg"), "wb") as f:
            f.write(pack(cfg))
        with Node(root=root, name="n1") as node:
            node.wait_log("mqtt: connected to")
            time.sleep(1)  # (its subscriptions follow the CONNACK the log line reports)
            mq = mqtt_pings(b, "bench", "n1", a.pings)
            c = node.client()
            for _ in range(50):
                c.call("ping", "w")
            t = time.monotonic()
            for _ in range(a.pings):
                c.call("ping", "x")
            tcp = a.pings / (time.monotonic() - t)
            c.close()
        real_push(a, b, swarm, env, proj)
        print("sequential ping round trips (python clients, the broker with set_tcp_nodelay): through mosquitto %.0f/s, direct TCP %.0f/s "
              "(ratio %.2f)" % (mq, tcp, mq / tcp))


if __name__ == "__main__":
    main()
