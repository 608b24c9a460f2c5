"""The MQTT fleet bus (docs/PROTOCOL.md, "MQTT") against a real mosquitto started by the test:
the node's retained state and last will, RPC from mosquitto_pub/mosquitto_sub and from paho
(MQTT 5 and 3.1.1 forms), a stream and its cancel, malformed payloads, bounded floods, log
leases."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import msgpack

from mqttlab import Broker, Requester, Sub
from swarmtest import SWARM_BIN, Node, free_port, loopback_config, pack

FLEET = "lab"


def mqtt_node(broker, name="t1", mqtt_cfg=None, **kw):
    """A Node whose config points at the broker."""
    root = tempfile.mkdtemp(prefix="swarm-e2e-mqtt-")
    cfg = loopback_config({"mqtt": dict({"url": broker.url, "fleet": FLEET, "keepalive": 5}, **(mqtt_cfg or {}))},
                          services=False)
    with open(os.path.join(root, "swarm.cfg"), "wb") as f:
        f.write(pack(cfg))
    n = Node(root=root, name=name, **kw)
    n.own_root = True  # remove it at stop
    return n


def wait_online(broker, host="t1"):
    """Until the node's retained state says online: it publishes it after subscribing to its
    rpc topics, on the same connection, so from then on requests reach it (its "connected"
    log line comes at CONNACK, before the subscriptions)."""
    sub = Sub(broker, "swarm/%s/%s/state" % (FLEET, host))
    try:
        while not json.loads(sub.next().partition(" ")[2]).get("online"):
            pass
    finally:
        sub.close()


class MqttTest(unittest.TestCase):
    MQTT = {}

    def setUp(self):
        self.broker = Broker().start()
        self.addCleanup(self.broker.stop)
        self.node = mqtt_node(self.broker, mqtt_cfg=self.MQTT)
        self.addCleanup(self.node.stop)
        self.node.start()
        wait_online(self.broker)

    def requester(self, **kw):
        r = Requester(self.broker, FLEET, "t1", **kw)
        self.addCleanup(r.close)
        return r

    def status(self):
        with self.node.client() as c:
            return c.call("mqtt.status")


class StateTest(MqttTest):
    def state(self, line):
        topic, _, payload = line.partition(" ")
        self.assertEqual(topic, "swarm/%s/t1/state" % FLEET)
        return json.loads(payload)

    def test_retained_state_then_last_will_on_kill(self):
        sub = Sub(self.broker, "swarm/%s/+/state" % FLEET)
        self.addCleanup(sub.close)
        st = self.state(sub.next())
        self.assertIs(st["online"], True)
        self.assertEqual(st["type"], "beacon")  # the beacon's own keys
        self.assertEqual(st["versions"]["micropython"]["nodename"], "t1")
        self.assertEqual(st["settings"]["board"]["host_name"], "t1")
        self.assertIn("app_hash", st["swarm"])
        self.node.kill(signal.SIGKILL)  # no DISCONNECT: the broker publishes the last will
        st = self.state(sub.next())
        self.assertEqual(st, {"online": False, "host": "t1"})
        # and it is retained: a newcomer sees the node offline
        late = Sub(self.broker, "swarm/%s/t1/state" % FLEET, count=1)
        self.addCleanup(late.close)
        self.assertEqual(self.state(late.next()), {"online": False, "host": "t1"})

    def test_orderly_stop_says_offline(self):
        sub = Sub(self.broker, "swarm/%s/t1/state" % FLEET)
        self.addCleanup(sub.close)
        self.assertIs(self.state(sub.next())["online"], True)
        self.node.kill(signal.SIGTERM)
        self.assertEqual(self.state(sub.next()), {"online": False, "host": "t1"})


class LockedTest(unittest.TestCase):
    def test_locked_node_refuses_plaintext_rpc_over_mqtt(self):
        b = Broker().start()
        self.addCleanup(b.stop)
        node = mqtt_node(b)
        with open(os.path.join(node.root, "swarm.key"), "wb") as f:
            f.write(os.urandom(32))  # the authenticated mode (docs/SECURITY.md)
        self.addCleanup(node.stop)
        node.start()
        wait_online(b)
        r = Requester(b, FLEET, "t1", v5=True)
        self.addCleanup(r.close)
        with self.assertRaises(RuntimeError) as e:
            r.call("ping", "x")
        self.assertIn("auth.mqtt", str(e.exception))


class SealedTest(unittest.TestCase):
    """The authenticated mode through the broker (docs/PROTOCOL.md, MQTT, "Authenticated RPC"):
    a locked node serves a host that has its key, refuses one without, and the broker (a
    subscriber to swarm/#) sees no plaintext of the calls, while it does for an open node; a
    third client's forged, replayed and altered messages are dropped and the node carries on."""

    def setUp(self):
        self.broker = Broker().start()
        self.addCleanup(self.broker.stop)
        self.key = os.urandom(32)
        self.locked = mqtt_node(self.broker, name="t1")
        with open(os.path.join(self.locked.root, "swarm.key"), "wb") as f:
            f.write(self.key)
        self.open = mqtt_node(self.broker, name="t2")
        for n in (self.locked, self.open):
            self.addCleanup(n.stop)
            n.start()
        wait_online(self.broker, "t1")
        wait_online(self.broker, "t2")
        self.home = tempfile.mkdtemp(prefix="swarm-e2e-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.keyfile = os.path.join(self.home, "key")
        with open(self.keyfile, "wb") as f:
            f.write(self.key)
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.home, "config"),
                        XDG_CACHE_HOME=os.path.join(self.home, "cache"), HOME=self.home)
        # everything the broker carries, payloads in hex
        self.sniff = Sub(self.broker, "swarm/#", fmt="%t %x")
        self.addCleanup(self.sniff.close)

    def swarm(self, *args, key=None, check=True):
        env = dict(self.env, SWARM_KEY_FILE=key if key is not None else self.keyfile)
        if key is False:  # the keys of the config folder (the fleet key, keys/NAME, locked/NAME)
            del env["SWARM_KEY_FILE"]
        p = subprocess.run([SWARM_BIN, *args], capture_output=True, text=True, env=env, timeout=60)
        if check and p.returncode:
            self.fail("swarm %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def link(self, host):
        return "%s/%s/%s" % (self.broker.url, FLEET, host)

    def sniffed(self):
        """(topic, payload bytes) the broker carried up to now: a mark published after the
        calls comes after all of them (one broker, in order)."""
        mark = "swarm/_mark/%d" % os.getpid()
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", mark, "-m", "end"], check=True)
        out = []
        while True:
            t, _, x = self.sniff.next().partition(" ")
            if t == mark:
                return out
            out.append((t, bytes.fromhex(x)))

    def status(self):
        return json.loads(self.swarm("--json", "call", self.link("t1"), "mqtt.status").stdout)

    def test_locked_node_through_the_broker(self):
        marker = "MARK-%s" % os.urandom(6).hex()
        # (a) with the key: served, answers authenticated
        self.assertEqual(self.swarm("call", self.link("t1"), "ping", marker).stdout.strip(), "R:" + marker)
        # a file both ways: messages of more than one Noise frame (2,048 bytes)
        data = (marker.encode() + os.urandom(20)) * 3000
        src = os.path.join(self.home, "blob")
        with open(src, "wb") as f:
            f.write(data)
        self.swarm("fs", self.link("t1"), "put", src, "/blob")
        back = os.path.join(self.home, "back")
        self.swarm("fs", self.link("t1"), "get", "/blob", back)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(self.locked.root, "blob"), "rb") as f:
            self.assertEqual(f.read(), data)
        # the same calls to the open node, in plain (no key)
        self.assertEqual(self.swarm("call", self.link("t2"), "ping", marker, key="").stdout.strip(), "R:" + marker)
        # (c) the broker saw the marker for the open node only
        seen = self.sniffed()
        m = marker.encode()
        t1 = [p for t, p in seen if t.startswith("swarm/%s/t1/" % FLEET) and not t.endswith("/state")]
        t2 = [p for t, p in seen if t.startswith("swarm/%s/t2/" % FLEET) and not t.endswith("/state")]
        self.assertTrue(t1 and t2)
        self.assertTrue(any(m in p for p in t2), "the open node's call should cross the broker in plain")
        self.assertFalse(any(m in p for p in t1), "the locked node's call crossed the broker in plain")
        self.assertFalse(any(b"ping" in p for p in t1))
        # (b) without the key: refused; with another key: "wrong key"
        p = self.swarm("call", self.link("t1"), "ping", marker, key="", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("locked", p.stderr)
        other = os.path.join(self.home, "other")
        with open(other, "wb") as f:
            f.write(os.urandom(32))
        p = self.swarm("call", self.link("t1"), "ping", key=other, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("wrong key", p.stderr)
        # a host with a key does not fall back to plain for a node the broker says is open
        p = self.swarm("call", self.link("t2"), "ping", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not locked", p.stderr)

    def test_fleet_key_open_nodes_in_plain_locked_ones_sealed(self):
        os.makedirs(os.path.join(self.home, "config", "swarm"))
        shutil.copy(self.keyfile, os.path.join(self.home, "config", "swarm", "key"))
        marker = "MARK-%s" % os.urandom(6).hex()
        # the fleet key: the open node (its state says so) is talked to in plain, the locked one
        # through a sealed session
        self.assertEqual(self.swarm("call", self.link("t2"), "ping", "open", key=False).stdout.strip(), "R:open")
        self.assertEqual(self.swarm("call", self.link("t1"), "ping", marker, key=False).stdout.strip(), "R:" + marker)
        self.assertFalse(any(marker.encode() in p for t, p in self.sniffed() if not t.endswith("/state")))

    def test_push_to_the_fleet_with_the_key(self):
        proj = os.path.join(self.home, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('return {VERSION = "sealed-1"}\n')
        p = self.swarm("--json", "push", proj, "--broker", "%s/%s" % (self.broker.url, FLEET), "--grace", "0",
                       check=False)
        res = {d["device"]: d for d in json.loads(p.stdout)["devices"]}
        # the locked node is pushed through sealed sessions; the open one is refused, not
        # talked to in plain (a host with a key never downgrades)
        self.assertEqual(res["t1"]["result"], "ok", res)
        self.assertIn(res["t2"]["result"], ("offline", "failed"), res)  # (not reached)
        self.assertIn("not locked", res["t2"]["reason"])
        with open(os.path.join(self.locked.root, "apps", "example", "main.lua")) as f:
            self.assertIn("sealed-1", f.read())
        # (the state shows the app's VERSION once it runs: the beacon is public by design)
        self.assertEqual([t for t, p in self.sniffed() if b"sealed-1" in p and not t.endswith("/state")], [])

    def test_forged_replayed_altered_messages_are_dropped(self):
        self.swarm("call", self.link("t1"), "ping", "first")
        seen = self.sniffed()
        rpc = [(t, p) for t, p in seen if "/t1/rpc/" in t]
        self.assertEqual(len(rpc), 2, rpc)  # the handshake, then the sealed request
        (t, hello), (_, sealed) = rpc
        self.assertEqual(hello[:4], b"\xc1SN1")
        reply = t.replace("/rpc/", "/reply/")
        bad0 = self.status()["bad"]
        altered = bytearray(sealed)
        altered[len(altered) // 2] ^= 1
        plain = msgpack.packb({"a": "ping", "d": "forged", "i": 1})
        forged = b"\x00\x20" + os.urandom(32)
        attacks = [hello, sealed, bytes(altered), forged, plain]
        self.sniffed()
        for a in attacks:  # a third client, on the requester's own topic
            subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", t, "-q", "1", "-s"],
                           input=a, check=True)
        # the node is fine, and answered none of them (nothing on the requester's reply topic
        # before the next call's traffic)
        st = self.status()
        self.assertEqual(st["bad"] - bad0, len(attacks))
        after = self.sniffed()
        self.assertEqual([p for tt, p in after if tt == reply], [])
        self.assertEqual(self.swarm("call", self.link("t1"), "ping", "again").stdout.strip(), "R:again")
        # frames on a reply topic with no session (the node forgot it, or never had it): the
        # 1-byte "no session" answer, so a requester shakes hands again instead of waiting
        stranger = "swarm/%s/t1/rpc/stranger" % FLEET
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", stranger, "-q", "1", "-s"],
                       input=sealed, check=True)
        self.status()
        self.assertIn(b"\x03", [p for tt, p in self.sniffed() if tt == "swarm/%s/t1/reply/stranger" % FLEET])


class ReconnectTest(MqttTest):
    def test_broker_restart(self):
        port = self.broker.port
        self.broker.stop()
        self.node.wait_log("mqtt: 127.0.0.1:%d: " % port)  # lost; "again in N ms"
        self.broker = Broker(port=port).start()  # a new broker: nothing retained
        self.addCleanup(self.broker.stop)
        sub = Sub(self.broker, "swarm/%s/t1/state" % FLEET)
        self.addCleanup(sub.close)
        self.assertTrue(json.loads(sub.next().partition(" ")[2])["online"])  # published again
        st = self.status()
        self.assertEqual((st["connects"], st["losses"], st["connected"]), (2, 1, True))
        self.assertEqual(self.requester(v5=True).call("ping", "back"), "R:back")


class RpcTest(MqttTest):
    def test_mosquitto_clients_ping(self):
        # 3.1.1 form with the mosquitto command-line clients: rpc/<c> in, reply/<c> out
        sub = Sub(self.broker, "swarm/%s/t1/reply/cli" % FLEET, count=1, fmt="%x")
        self.addCleanup(sub.close)
        with tempfile.NamedTemporaryFile(suffix=".mp") as f:
            f.write(msgpack.packb({"a": "ping", "d": "hi", "i": 1}))
            f.flush()
            import time
            for _ in range(100):  # until mosquitto_sub has subscribed (each ping is answered)
                subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-q", "1",
                                "-t", "swarm/%s/t1/rpc/cli" % FLEET, "-f", f.name], check=True)
                try:
                    line = sub.next(timeout=0.3)
                    break
                except Exception:
                    continue
            else:
                self.fail("no reply from the node")
        self.assertEqual(msgpack.unpackb(bytes.fromhex(line)), {"d": "R:hi", "i": 1})

    def test_paho_mqtt5_response_topic_and_correlation(self):
        r = self.requester(v5=True)
        seq = r.request("ping", "five", corr=b"\x00corr-42")
        m, corr = r.answer(seq)
        self.assertEqual(m, {"d": "R:five", "i": seq})
        self.assertEqual(corr, b"\x00corr-42")
        self.assertEqual(r.call("sys.info")["host_name"], "t1")

    def test_paho_mqtt311_topic_form(self):
        r = self.requester(v5=False, name="old311")
        self.assertEqual(r.call("ping", "three"), "R:three")
        with self.assertRaises(RuntimeError) as e:
            r.call("no.such.command")
        self.assertIn("no.such", str(e.exception).replace("NoPath: ", ""))

    def test_stream_and_cancel(self):
        r = self.requester(v5=True)
        seq = r.request("sys.info", r=30, corr=b"stream")
        ns = []
        while len(ns) < 3:
            m, corr = r.answer(seq)
            self.assertEqual(corr, b"stream")
            ns.append(m["n"])
        self.assertEqual(ns, [1, 2, 3])
        r.cancel(seq)
        # the node handles the rpc topic in order: after the cancel, a ping's reply is the
        # last word about seq — no stream value may follow it
        p = r.request("ping", "after")
        while True:
            m, _ = r.read()
            if m.get("i") == p:
                break
            self.assertEqual(m.get("i"), seq)  # values sent before the cancel arrived
        p2 = r.request("ping", "again")
        m, _ = r.read()
        self.assertEqual(m, {"d": "R:again", "i": p2})
        self.assertEqual(self.status()["requesters"], 1)

    def test_malformed_payloads_do_not_hurt(self):
        r = self.requester(v5=True)
        bad = [b"", b"\xc1", b"\x93\x01\x02\x03", b"\xde\xff\xff", os.urandom(300),
               msgpack.packb({"a": 5, "i": "x"}), b"\x81" * 5000, b"\x00" * 20000]
        for p in bad:
            r.publish_raw(p)
        # a response topic longer than the node keeps (one with a wildcard would be a protocol
        # error the broker itself refuses: it disconnects the client)
        r.publish_raw(msgpack.packb({"a": "ping", "d": "x", "i": 9}), response_topic="r/" + "x" * 300)
        # 3.1.1 form with a client level too long for a reply topic
        r.c.publish(r.base + "rpc/" + "x" * 300, msgpack.packb({"a": "ping", "d": "x", "i": 1}),
                    qos=1).wait_for_publish(10)
        self.assertEqual(r.call("ping", "ok"), "R:ok")
        st = self.status()
        self.assertGreaterEqual(st["bad"], len(bad) + 2)
        self.assertTrue(st["connected"])


class BoundsTest(MqttTest):
    MQTT = {"inflight": 3, "requesters": 2}

    def sleeper(self, r, ms=1500):
        return r.request("sys.eval", {"code": "swarm.sleep(%d) return 7" % ms})

    def test_inflight_bounded_per_requester(self):
        r = self.requester(v5=True)
        seqs = [self.sleeper(r) for _ in range(8)]
        answers = {}
        while len(answers) < 8:
            m, _ = r.read()
            answers[m["i"]] = m
        busy = [s for s in seqs if "busy" in answers[s].get("e", "")]
        done = [s for s in seqs if answers[s].get("d", [None])[0] == 7]
        self.assertEqual(len(done), 3, answers)
        self.assertEqual(len(busy), 5, answers)
        self.assertEqual(done, seqs[:3])
        self.assertEqual(self.status()["busy"], 5)
        self.assertEqual(r.call("ping", "still"), "R:still")  # room again

    def test_requesters_bounded(self):
        rs = [self.requester(v5=True, name="r%d" % i) for i in range(3)]
        held = [self.sleeper(x, 6000) for x in rs[:2]]  # both sessions have work in flight
        while self.status()["requesters"] < 2:  # (three clients: no order between them)
            pass
        s3 = rs[2].request("ping", "three")
        m, _ = rs[2].answer(s3)
        self.assertIn("too many requesters", m.get("e", ""))
        for x, s in zip(rs[:2], held):
            self.assertEqual(x.answer(s)[0].get("d")[0], 7)
        # once they are idle, the third takes the slot of the one idle longest
        self.assertEqual(rs[2].call("ping", "now"), "R:now")


class LogTest(MqttTest):
    def log_line(self, r, text):
        r.call("sys.eval", {"code": "swarm.log(%r)" % text})

    def test_log_only_while_someone_listens(self):
        sub = Sub(self.broker, "swarm/%s/t1/log" % FLEET)
        self.addCleanup(sub.close)
        r = self.requester(v5=True)
        self.log_line(r, "before-lease")  # nobody announced a lease: not published
        self.node.wait_log("before-lease")
        self.assertEqual(self.status()["log_lines"], 0)
        self.assertFalse(self.status()["log_listening"])
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", "swarm/%s/t1/log/listen" % FLEET,
                        "-m", "60"], check=True)
        while not self.status()["log_listening"]:
            pass
        self.log_line(r, "during-lease")
        while True:
            line = sub.next()
            self.assertNotIn("before-lease", line)
            if "during-lease" in line:
                break
        self.assertTrue(line.startswith("swarm/%s/t1/log " % FLEET), line)
        # lease 0: stop
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-t", "swarm/%s/t1/log/listen" % FLEET,
                        "-m", "0"], check=True)
        while self.status()["log_listening"]:
            pass
        n = self.status()["log_lines"]
        self.log_line(r, "after-lease")
        self.node.wait_log("after-lease")
        self.assertEqual(self.status()["log_lines"], n)


class HostSide:
    """The host of a test case: swarm run with a HOME and XDG folders of its own (user config,
    scan cache), removed after the test."""

    def host_home(self):
        self.home = tempfile.mkdtemp(prefix="swarm-e2e-home-")
        self.addCleanup(shutil.rmtree, self.home, True)
        self.env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.home, "config"),
                        XDG_CACHE_HOME=os.path.join(self.home, "cache"), HOME=self.home)

    def swarm(self, *args, check=True):
        p = subprocess.run([SWARM_BIN, *args], capture_output=True, text=True, env=self.env, timeout=60)
        if check and p.returncode:
            self.fail("swarm %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def push_example(self, fleet, version):
        """A project whose apps/example says VERSION, pushed through the broker and fleet named
        by fleet (BROKER-URL/FLEET): the one device ends ok with that main.lua. The project."""
        proj = os.path.join(self.home, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write('return {VERSION = "%s"}\n' % version)
        out = json.loads(self.swarm("--json", "push", proj, "--broker", fleet, "--grace", "0").stdout)
        self.assertEqual([d["result"] for d in out["devices"]], ["ok"], out)
        with open(os.path.join(self.node.root, "apps", "example", "main.lua")) as f:
            self.assertIn(version, f.read())
        return proj


class HostTest(HostSide, MqttTest):
    """The host side: a broker is a link (swarm call/fs/push mqtt://…), swarm scan --broker."""

    def setUp(self):
        super().setUp()
        self.host_home()
        self.link = "%s/%s/t1" % (self.broker.url, FLEET)

    def test_call_through_the_broker(self):
        self.assertEqual(self.swarm("call", self.link, "ping", "hello").stdout.strip(), "R:hello")
        info = json.loads(self.swarm("--json", "call", self.link, "sys.info").stdout)
        self.assertEqual(info["host_name"], "t1")

    def test_unknown_and_offline_nodes_say_so(self):
        p = self.swarm("call", "%s/%s/nobody" % (self.broker.url, FLEET), "ping", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("no state of node nobody", p.stderr)
        self.node.kill(signal.SIGKILL)
        p = self.swarm("call", self.link, "ping", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("offline", p.stderr)
        p = self.swarm("call", "mqtt://127.0.0.1:%d/%s/t1" % (free_port(), FLEET), "ping", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("is a broker listening there?", p.stderr)

    def test_console_and_mux_through_the_broker(self):
        out = self.swarm("console", "--lines", "50", self.link).stdout
        self.assertIn("mqtt: connected to", out)  # the node's log, read with sys.log
        sock = os.path.join(self.home, "mux.sock")
        mux = subprocess.Popen([SWARM_BIN, "mux", "--link", self.link, "--socket", sock], env=self.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def end_mux():
            mux.terminate()
            mux.wait(10)
            mux.stderr.close()
        self.addCleanup(end_mux)
        while True:
            line = mux.stderr.readline()
            self.assertNotEqual(line, "", "swarm mux ended before its device link came up")
            if "device link up" in line:
                break
        self.assertEqual(self.swarm("call", "unix://" + sock, "ping", "muxed").stdout.strip(), "R:muxed")

    def test_files_through_the_broker(self):
        data = os.urandom(200000)
        src = os.path.join(self.home, "blob")
        with open(src, "wb") as f:
            f.write(data)
        self.swarm("fs", self.link, "put", src, "/blob")
        back = os.path.join(self.home, "back")
        self.swarm("fs", self.link, "get", "/blob", back)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), data)
        with open(os.path.join(self.node.root, "blob"), "rb") as f:
            self.assertEqual(f.read(), data)

    def test_scan_lists_online_and_offline_nodes(self):
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-r", "-t", "swarm/%s/gone/state" % FLEET,
                        "-m", '{"online":false,"host":"gone"}'], check=True)
        subprocess.run(["mosquitto_pub", "-p", str(self.broker.port), "-r", "-t", "swarm/other/x/state",
                        "-m", '{"online":true,"host":"x"}'], check=True)
        recs = json.loads(self.swarm("--json", "scan", "--broker", "%s/%s" % (self.broker.url, FLEET)).stdout)
        by = {r["host"]: r for r in recs}
        self.assertEqual(sorted(by), ["gone", "t1"])  # fleet "other" is not ours
        self.assertTrue(by["t1"]["online"])
        self.assertEqual(by["t1"]["link"], self.link)
        self.assertEqual(by["t1"]["app"], "example")
        self.assertFalse(by["gone"]["online"])
        # no fleet: all of them; the table says offline
        out = self.swarm("scan", "--broker", self.broker.url).stdout
        self.assertRegex(out, r"(?m)^gone .* offline ")
        self.assertRegex(out, r"(?m)^x ")
        # a default broker in the user config joins a plain scan
        os.makedirs(os.path.join(self.home, "config", "swarm"))
        with open(os.path.join(self.home, "config", "swarm", "config"), "w") as f:
            f.write("[mqtt]\nbroker = %s/%s\n" % (self.broker.url, FLEET))
        recs = json.loads(self.swarm("--json", "scan", "--timeout", "300ms").stdout)
        self.assertIn(self.link, [r["link"] for r in recs])

    def test_push_through_the_broker(self):
        proj = self.push_example("%s/%s" % (self.broker.url, FLEET), "mqtt-1")
        # nothing changed: the state's app hash (republished once the app is ready) says so
        self.node.wait_log("example: all init_* finished")
        while True:
            out = json.loads(self.swarm("--json", "push", proj, "--broker", "%s/%s" % (self.broker.url, FLEET)).stdout)
            if out["total"]["connected"] == 0:
                break
        self.assertEqual([d["result"] for d in out["devices"]], ["unchanged"], out)


class BridgeTest(HostSide, unittest.TestCase):
    """Two sites: broker B (its node) bridged to broker A (the host): the host scans, calls and
    pushes the node on B through A, and sees it go offline."""

    def setUp(self):
        self.a = Broker().start()
        self.addCleanup(self.a.stop)
        self.b = Broker(extra="connection site_a\naddress 127.0.0.1:%d\ntopic swarm/# both 1\n"
                              "cleansession true\n" % self.a.port).start()
        self.addCleanup(self.b.stop)
        # the bridge is up once a message published on B arrives on A
        probe = Sub(self.a, "swarm/probe/#", count=1)
        self.addCleanup(probe.close)
        for _ in range(200):
            subprocess.run(["mosquitto_pub", "-p", str(self.b.port), "-t", "swarm/probe/x", "-m", "1"], check=True)
            try:
                probe.next(timeout=0.2)
                break
            except Exception:
                continue
        else:
            self.fail("the bridge did not come up:\n" + self.b.read_log())
        self.node = mqtt_node(self.b, name="t1")
        self.addCleanup(self.node.stop)
        self.node.start()
        self.node.wait_log("mqtt: connected to")
        self.host_home()

    def scan_a(self):
        return {r["host"]: r for r in json.loads(self.swarm("--json", "scan", "--broker", "%s/%s" % (self.a.url, FLEET)).stdout)}

    def test_host_on_a_reaches_node_on_b(self):
        sub = Sub(self.a, "swarm/%s/t1/state" % FLEET)
        self.addCleanup(sub.close)
        self.assertTrue(json.loads(sub.next().partition(" ")[2])["online"])  # bridged, retained on A
        recs = self.scan_a()
        self.assertEqual(list(recs), ["t1"])
        link = recs["t1"]["link"]
        self.assertEqual(link, "%s/%s/t1" % (self.a.url, FLEET))
        self.assertEqual(self.swarm("call", link, "ping", "across").stdout.strip(), "R:across")
        self.push_example("%s/%s" % (self.a.url, FLEET), "bridged")
        self.node.kill(signal.SIGKILL)  # its last will, on B, crosses the bridge
        while True:
            st = json.loads(sub.next().partition(" ")[2])
            if not st["online"]:
                break
        self.assertFalse(self.scan_a()["t1"]["online"])


class BrokerCutTest(unittest.TestCase):
    """The broker restarts in the middle of a push through it: the push says which nodes were
    updated, no node holds a mix, and the next push completes the rest."""

    def test_broker_restart_during_push(self):
        b = Broker().start()
        self.addCleanup(lambda: b.stop())
        nodes = []
        for name in ("n1", "n2"):
            nd = mqtt_node(b, name=name)
            self.addCleanup(nd.stop)
            nodes.append(nd.start())
            nd.wait_log("mqtt: connected to")
        home = tempfile.mkdtemp(prefix="swarm-e2e-home-")
        self.addCleanup(shutil.rmtree, home, True)
        env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home, HOME=home)
        proj = os.path.join(home, "proj")
        app = os.path.join(proj, "apps", "example")
        os.makedirs(app)
        with open(os.path.join(app, "main.lua"), "w") as f:
            f.write('return {VERSION = "cut"}\n')
        with open(os.path.join(app, "blob.bin"), "wb") as f:
            f.write(os.urandom(3 << 20))  # long enough to be cut in the middle
        url = "%s/%s" % (b.url, FLEET)
        push = subprocess.Popen([SWARM_BIN, "--json", "push", proj, "--broker", url, "--parallel", "1",
                                 "--grace", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.addCleanup(lambda: push.poll() is None and (push.kill(), push.wait()))
        nodes[0].wait_log("push: apps/example: staging for", timeout=60)  # n1's transfer began
        port = b.port
        b.stop()
        b = Broker(port=port).start()
        out, err = push.communicate(timeout=120)
        self.assertNotEqual(push.returncode, 0, "the push cannot have gone through a broker restart whole")
        res = {d["device"]: d["result"] for d in json.loads(out)["devices"]}
        self.assertEqual(sorted(res), ["n1", "n2"], out)

        def version(nd):
            p = os.path.join(nd.root, "apps", "example", "main.lua")
            if not os.path.exists(p):
                return None
            with open(p) as f:
                return f.read()
        for nd in nodes:  # what the push says is what the node has, nothing in between
            if res[nd.name] == "ok":
                self.assertIn("cut", version(nd))
                with open(os.path.join(app, "blob.bin"), "rb") as f, \
                        open(os.path.join(nd.root, "apps", "example", "blob.bin"), "rb") as g:
                    self.assertEqual(f.read(), g.read())
            else:
                self.assertIsNone(version(nd))  # the old (empty) app, not a part of the new one
                self.assertFalse(os.path.exists(os.path.join(nd.root, "apps", "example", "blob.bin")))
        for nd in nodes:  # both back on the new broker
            while "mqtt: connected to" not in nd.read_log().split("mqtt: 127.0.0.1", 1)[-1]:
                pass
        out = subprocess.run([SWARM_BIN, "--json", "push", proj, "--broker", url, "--grace", "0"],
                             capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        res2 = {d["device"]: d["result"] for d in json.loads(out.stdout)["devices"]}
        for nd in nodes:
            self.assertEqual(res2[nd.name], "unchanged" if res[nd.name] == "ok" else "ok", out.stdout)
            self.assertIn("cut", version(nd))


class FleetTest(unittest.TestCase):
    """Many nodes on one broker: 200 simulated nodes (mqttsim.py, one process) are all listed by
    one scan and a no-change push touches none of them (bench/mqtt/run.py times 1,000)."""
    N = 200

    def test_scan_and_quick_push_of_a_simulated_fleet(self):
        import sys
        b = Broker().start()
        self.addCleanup(b.stop)
        home = tempfile.mkdtemp(prefix="swarm-e2e-home-")
        self.addCleanup(shutil.rmtree, home, True)
        env = dict(os.environ, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home, HOME=home)
        proj = os.path.join(home, "proj")
        os.makedirs(os.path.join(proj, "apps", "example"))
        with open(os.path.join(proj, "apps", "example", "main.lua"), "w") as f:
            f.write("return {}\n")
        sim = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "mqttsim.py"),
                                "--mqtt-sim", str(self.N), "--broker", "127.0.0.1:%d" % b.port, "--fleet", "sim",
                                "--app-dir", os.path.join(proj, "apps", "example")], stdout=subprocess.PIPE, text=True)

        def end_sim():
            sim.kill()
            sim.wait()
            sim.stdout.close()
        self.addCleanup(end_sim)
        self.assertEqual(sim.stdout.readline().strip(), "ready %d" % self.N)
        url = "%s/sim" % b.url
        p = subprocess.run([SWARM_BIN, "--json", "scan", "--broker", url], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        hosts = sorted(r["host"] for r in json.loads(p.stdout))
        self.assertEqual(hosts, ["sim-%04d" % i for i in range(self.N)])
        p = subprocess.run([SWARM_BIN, "--json", "push", proj, "--broker", url], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        tot = json.loads(p.stdout)["total"]
        self.assertEqual((tot["devices"], tot["unchanged"], tot["connected"]), (self.N, self.N, 0), tot)
        p = subprocess.run([SWARM_BIN, "call", url + "/sim-0123", "ping", "sim"], capture_output=True, text=True, env=env)
        self.assertEqual(p.stdout.strip(), "R:sim", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
