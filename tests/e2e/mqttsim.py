#!/usr/bin/python3
"""A fleet of simulated nodes on one MQTT broker, in one process: `mqttsim.py --mqtt-sim N`.

Each simulated node is one paho MQTT client (its own TCP connection and session, client id =
its host name) that does what a swarm-node's MQTT part does on the wire (docs/PROTOCOL.md,
"MQTT"): a last will {"online": false}, a retained state (the beacon keys scanners and push
read, with the app hash of a project folder), and answers on the rpc topics — `ping` and
`sys.info`, any other command gets a NoPath error. All clients share one thread and one
selector (paho's external-loop API: socket(), loop_read/loop_write/loop_misc), so 1,000 of
them cost one process and about 1,000 sockets. It is the broker and the host that are under
test at this scale; the node's own MQTT code is tested with real swarm-node processes
(test_mqtt.py).

usage: mqttsim.py --mqtt-sim N --broker HOST:PORT --fleet F [--app-dir DIR] [--prefix sim-]
Prints "ready N" on stdout once every node has published its state; runs until killed.
"""
import argparse
import hashlib
import json
import os
import resource
import selectors
import sys
import time

import msgpack
import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swarmtest import app_hash  # noqa: E402


def state_json(host, i, ahash):
    return json.dumps({
        "type": "beacon",
        "ifconfigs": [["127.0.%d.%d" % (i // 250, i % 250 + 1), "255.0.0.0", "0.0.0.0", "0.0.0.0"]],
        "settings": {"board": {"host_name": host, "app_name": "example", "hardware_name": "mqtt-sim"}},
        "versions": {"app": None, "micropython": {"nodename": host}},
        "swarm": {"v": 1, "id": hashlib.sha256(host.encode()).hexdigest()[:16], "rpc_port": False,
                  "node": "mqtt-sim", "app_hash": ahash, "uptime_ms": 0,
                  "services": {"ftp": False, "telnet": False, "eval": False, "mdns": False, "rpc": False}},
        "online": True,
    }, separators=(",", ":"))


class SimNode:
    def __init__(self, sim, host, i):
        self.sim, self.host, self.i = sim, host, i
        self.base = "swarm/%s/%s/" % (sim.fleet, host)
        self.ready = False
        c = self.c = mqtt.Client(client_id=host, protocol=mqtt.MQTTv5)
        c.will_set(self.base + "state", json.dumps({"online": False, "host": host}), qos=1, retain=True)
        c.on_connect = self.on_connect
        c.on_message = self.on_message
        c.on_publish = self.on_publish
        c.on_socket_open = lambda cl, u, s: sim.sel.register(s, selectors.EVENT_READ, self)
        c.on_socket_close = lambda cl, u, s: sim.sel.unregister(s)
        c.on_socket_register_write = lambda cl, u, s: sim.sel.modify(s, selectors.EVENT_READ | selectors.EVENT_WRITE, self)
        c.on_socket_unregister_write = lambda cl, u, s: sim.sel.modify(s, selectors.EVENT_READ, self)
        self.state_mid = None

    def on_connect(self, c, u, flags, rc, props=None):
        c.subscribe([(self.base + "rpc", 1), (self.base + "rpc/+", 1)])
        self.state_mid = c.publish(self.base + "state", state_json(self.host, self.i, self.sim.hash), qos=1,
                                   retain=True).mid

    def on_publish(self, c, u, mid):
        if mid == self.state_mid and not self.ready:
            self.ready = True
            self.sim.ready += 1

    def on_message(self, c, u, m):
        props = getattr(m, "properties", None)
        rt = getattr(props, "ResponseTopic", None) if props is not None else None
        corr = getattr(props, "CorrelationData", None) if props is not None else None
        if not rt:
            if not m.topic.startswith(self.base + "rpc/"):
                return
            rt = self.base + "reply/" + m.topic[len(self.base) + 4:]
        try:
            req = msgpack.unpackb(m.payload, raw=False)
            seq, a = req["i"], req["a"]
        except Exception:
            return
        a = ".".join(a) if isinstance(a, list) else a
        if a == "ping":
            ans = {"d": "R:%s" % (req.get("d") if not isinstance(req.get("d"), dict) else ""), "i": seq}
        elif a == "sys.info":
            ans = {"d": {"host_name": self.host, "node": "mqtt-sim", "app_name": "example"}, "i": seq}
        else:
            ans = {"e": "NoPath: %s (a simulated node)" % a, "i": seq}
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        p = None
        if corr:
            p = Properties(PacketTypes.PUBLISH)
            p.CorrelationData = corr
        c.publish(rt, msgpack.packb(ans), qos=1, properties=p)


class Sim:
    def __init__(self, n, broker, fleet, ahash, prefix):
        self.fleet, self.hash = fleet, ahash
        self.sel = selectors.DefaultSelector()
        self.ready = 0
        host, port = broker.rsplit(":", 1)
        self.nodes = [SimNode(self, "%s%04d" % (prefix, i), i) for i in range(n)]
        for k, nd in enumerate(self.nodes):
            nd.c.connect(host, int(port), keepalive=60)
            if k % 50 == 49:  # let the broker keep up with the CONNECTs
                self.step(0)

    def step(self, timeout):
        for key, ev in self.sel.select(timeout):
            nd = key.data
            if ev & selectors.EVENT_READ:
                nd.c.loop_read()
            if ev & selectors.EVENT_WRITE:
                nd.c.loop_write()

    def run(self, announce=True):
        said = False
        last_misc = 0.0
        while True:
            self.step(0.2)
            now = time.monotonic()
            if now - last_misc > 1.0:
                last_misc = now
                for nd in self.nodes:
                    nd.c.loop_misc()
            if announce and not said and self.ready == len(self.nodes):
                print("ready %d" % self.ready, flush=True)
                said = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mqtt-sim", type=int, required=True, metavar="N", help="simulated nodes")
    ap.add_argument("--broker", required=True, help="HOST:PORT")
    ap.add_argument("--fleet", default="sim")
    ap.add_argument("--app-dir", help="the app folder whose hash the nodes announce (default: empty)")
    ap.add_argument("--prefix", default="sim-")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.mqtt_sim + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    ahash = app_hash(a.app_dir) if a.app_dir else hashlib.sha256().hexdigest()
    Sim(a.mqtt_sim, a.broker, a.fleet, ahash, a.prefix).run()


if __name__ == "__main__":
    main()
