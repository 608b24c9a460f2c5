#!/usr/bin/python3
# Codec benchmark, python side: the same messages and the same work as bench_codec.c with
# Debian's python3-msgpack (its C extension): build the message from values and pack it with
# one reused Packer, unpackb() it, and read every field.
#
# Usage: /usr/bin/python3 bench_codec.py [-t SECONDS_PER_RUN] [-n RUNS]
# Output lines as bench_codec.c: "bytes <msg> <hex>" and "ops <msg> python <ops/s>".
import sys
import time

import msgpack

FILE_DATA = bytes((k * 7 + 1) & 0xFF for k in range(512))
packer = msgpack.Packer(use_bin_type=True)
pack = packer.pack
unpackb = msgpack.unpackb


def enc_ping(seq):
    return pack({"a": "ping", "d": {"m": "x"}, "i": seq})


def dec_ping(b):
    o = unpackb(b)
    return len(o["a"]) + len(o["d"]["m"]) + o["i"]


def enc_reply(seq):
    return pack({"d": "R:x", "i": seq})


def dec_reply(b):
    o = unpackb(b)
    return len(o["d"]) + o["i"]


def enc_cfg(seq):
    return pack({"d": {"net": {"name": "node-17", "addr": "169.254.10.2", "port": 27587,
                               "dhcp": True},
                       "link": {"rate": 115200, "lossy": False, "frame": 133, "timeout": 1000},
                       "apps": {"wdt": {"t": 10000, "s": True},
                                "blink": {"pin": 13, "on": [100, 900]}},
                       "name": "bench-node", "ver": [0, 1, 0]},
                 "i": seq})


def walk(o):
    # generic: every key and value visited (as the C side's walk)
    if isinstance(o, dict):
        return len(o) + sum(walk(k) + walk(v) for k, v in o.items())
    if isinstance(o, list):
        return len(o) + sum(walk(x) for x in o)
    if isinstance(o, (str, bytes)):
        return len(o)
    return int(o)


def dec_cfg(b):
    return walk(unpackb(b))


def enc_file(seq):
    return pack({"a": ["f", "wr"], "d": {"f": 3, "d": FILE_DATA, "o": 4096}, "i": seq})


def dec_file(b):
    o = unpackb(b)
    a, d = o["a"], o["d"]
    return len(a[0]) + len(a[1]) + d["f"] + len(d["d"]) + d["o"] + o["i"]


MESSAGES = [("ping_req", enc_ping, dec_ping), ("ping_reply", enc_reply, dec_reply),
            ("cfg_reply", enc_cfg, dec_cfg), ("file_write", enc_file, dec_file)]


def measure(enc, dec, seconds):
    ops, acc = 0, 0
    # thread CPU time, as the C side: less sensitive to other jobs on a shared machine
    t0 = time.thread_time()
    while True:
        for k in range(1000):
            acc += dec(enc(1 + (k & 63)))
        ops += 1000
        t = time.thread_time()
        if t - t0 >= seconds:
            return ops / (t - t0)


def main():
    seconds, runs = 0.2, 5
    args = sys.argv[1:]
    while args:
        if len(args) < 2 or args[0] not in ("-t", "-n"):
            sys.exit("usage: bench_codec.py [-t SECONDS_PER_RUN] [-n RUNS]")
        if args[0] == "-t":
            seconds = float(args[1])
        else:
            runs = int(args[1])
        args = args[2:]
    for name, enc, dec in MESSAGES:
        print("bytes %s %s" % (name, enc(1).hex()))
    sys.stdout.flush()
    best = {}
    for _ in range(runs):
        for name, enc, dec in MESSAGES:
            best[name] = max(best.get(name, 0), measure(enc, dec, seconds))
    for name, _, _ in MESSAGES:
        print("ops %s python %.0f" % (name, best[name]))


main()
