"""MQTT helpers for the tests and benches of the fleet bus (docs/PROTOCOL.md, "MQTT").

Broker: a mosquitto the test starts itself, on a free loopback port, with its own config file
(never the system service), stopped by its PID. Requester: an independent MQTT client
(python3-paho-mqtt) that calls a node's commands in the MQTT 5 form (response topic +
correlation data) or the 3.1.1 form (rpc/<client>, reply/<client>).
"""
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import time

import msgpack

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError as e:  # scripts/setup installs python3-paho-mqtt; never skip silently
    raise SystemExit("python3-paho-mqtt is missing: run scripts/setup") from e

from swarmtest import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """mosquitto on 127.0.0.1:<free port>. extra: more lines for its config file (a bridge)."""

    def __init__(self, extra="", port=None):
        self.dir = tempfile.mkdtemp(prefix="swarm-mqtt-")
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        self.logfile = os.path.join(self.dir, "mosquitto.log")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\n"
                    "max_queued_messages 100000\nset_tcp_nodelay true\n%s\n" % (self.port, self.logfile, extra))
        self.proc = None
        self.url = "mqtt://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited: %s" % self.read_log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        raise TimeoutError("mosquitto did not listen on %d" % self.port)

    def read_log(self):
        try:
            with open(self.logfile) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class Sub:
    """mosquitto_sub on a topic filter, printing 'topic payload' lines; read with next()."""

    def __init__(self, broker, topic, count=None, fmt="%t %p"):
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic, "-F", fmt]
        if count:
            args += ["-C", str(count)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lines = queue.Queue()
        import threading
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout=20):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("mosquitto_sub ended")
        return line

    def close(self):
        if self.proc.poll() is None:
            # SIGKILL: on SIGTERM mosquitto_sub only disconnects, and one whose broker is gone
            # keeps reconnecting forever
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


class Requester:
    """A paho client that calls a node's commands over the broker. v5=True: the MQTT 5 form,
    else 3.1.1 with client id `name` in the topic. Answers are collected per seq."""

    def __init__(self, broker, fleet, host, v5=True, name=None, reply_topic=None):
        self.name = name or ("req%d" % os.getpid())
        self.base = "swarm/%s/%s/" % (fleet, host)
        self.v5 = v5
        self.c = mqtt.Client(client_id=self.name, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        self.q = queue.Queue()
        self.c.on_message = lambda c, u, m: self.q.put(m)
        connected = queue.Queue()
        self.c.on_connect = lambda *a: connected.put(True)
        self.c.on_subscribe = lambda *a: connected.put(True)
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        connected.get(timeout=10)
        self.reply = reply_topic or (("my/%s/replies" % self.name) if v5 else self.base + "reply/" + self.name)
        self.c.subscribe(self.reply, qos=1)
        connected.get(timeout=10)
        self.seq = 0
        self.backlog = []

    def publish_raw(self, payload, corr=b"", response_topic=None):
        if self.v5:
            p = Properties(PacketTypes.PUBLISH)
            p.ResponseTopic = response_topic or self.reply
            if corr:
                p.CorrelationData = corr
            info = self.c.publish(self.base + "rpc", payload, qos=1, properties=p)
        else:
            info = self.c.publish(self.base + "rpc/" + self.name, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("publish failed: %s" % mqtt.error_string(info.rc))

    def request(self, action, d=None, r=None, corr=None):
        self.seq += 1
        msg = {"a": action.split(".") if "." in action else action, "d": {} if d is None else d, "i": self.seq}
        if r is not None:
            msg["r"] = r
        self.publish_raw(msgpack.packb(msg, use_bin_type=True), corr=corr if corr is not None else b"c%d" % self.seq)
        return self.seq

    def cancel(self, seq):
        self.publish_raw(msgpack.packb({"i": seq}), corr=b"cancel")

    def read(self, timeout=20):
        """(message dict, correlation data or None), in arrival order."""
        if self.backlog:
            return self.backlog.pop(0)
        m = self.q.get(timeout=timeout)
        props = getattr(m, "properties", None)
        corr = getattr(props, "CorrelationData", None) if props is not None else None
        return msgpack.unpackb(m.payload, raw=False), corr

    def answer(self, seq, timeout=20):
        kept = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                m, corr = self.read(max(0.01, deadline - time.monotonic()))
                if m.get("i") == seq:
                    return m, corr
                kept.append((m, corr))
        finally:
            self.backlog[:0] = kept

    def call(self, action, d=None, timeout=20):
        m, _ = self.answer(self.request(action, d), timeout)
        if "e" in m:
            raise RuntimeError(m["e"])
        return m.get("d")

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()
