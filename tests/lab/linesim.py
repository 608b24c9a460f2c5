#!/usr/bin/python3
"""linesim: a serial line simulator between two pseudo-terminals (stdlib only).

Two pty pairs are created. A device opens the "a" slave, a host opens the "b" slave; the
simulator relays bytes between the two masters, in both directions at once, and on the way

  - paces each direction to a baud rate: a byte takes BITS/BAUD seconds on the line (10 bits
    for 8N1) and is handed to the far end no earlier than the moment its last bit would have
    arrived; bytes queue behind each other as on a real line;
  - holds at most --txbuf bytes per direction (a UART driver's transmit buffer); beyond that it
    stops reading, so a fast writer is slowed down to the line rate as by a real tty;
  - injects faults with a seeded PRNG: each bit flips with probability --ber, each byte is
    lost with probability --drop or delivered twice with probability --dup. The faults depend
    only on the seed and the position in each direction's byte stream, not on timing. Line
    time is counted for the bytes delivered: a lost byte frees its slot, a duplicate takes one.

Either side may close its slave and open it again (a device that resets): the simulator keeps
the slaves open itself, so the line stays up. Bytes that the far end does not read are
dropped once --rxbuf of them are waiting (counted as overruns), as a UART would lose them.
Unlike a real UART, a pty also keeps what arrives while nobody has it open (up to about 20 KB
in the kernel): a program that opens a side should flush its input first (tcflush), as
swarm-node does. The kernel's pty buffers (about 20 KB each way) also sit in front of
--txbuf, so a writer can queue that much more before it is held back.

Per-direction counters (a2b = device to host, b2a = host to device) are printed to stderr at
exit, and written as JSON to --stats-file at exit and on SIGUSR1. SIGTERM or SIGINT stop it.
"""
import argparse
import errno
import json
import math
import os
import pty
import random
import select
import signal
import sys
import time
import tty

READ_MAX = 4096


def geometric(rng, p):
    """Number of trials before the next event of probability p (inf when p is 0)."""
    if p <= 0:
        return math.inf
    if p >= 1:
        return 0
    return int(math.log(1.0 - rng.random()) / math.log(1.0 - p))


class Direction:
    """One direction of the line: source master → (faults, pacing) → destination master."""

    def __init__(self, name, src, dst, args, seed):
        self.name = name
        self.src = src
        self.dst = dst
        self.byte_time = args.bits / args.baud
        self.ber, self.pdrop, self.pdup = args.ber, args.drop, args.dup
        self.txbuf, self.rxbuf = args.txbuf, args.rxbuf
        self.rng = random.Random(seed)
        self.pos = 0              # index of the next source byte
        self.next_flip = geometric(self.rng, self.ber)   # bit index
        self.next_drop = geometric(self.rng, self.pdrop)  # byte index
        self.next_dup = geometric(self.rng, self.pdup)    # byte index
        self.segs = []            # [start_time, bytearray]: bytes back to back on the line
        self.line_end = 0.0       # when the line is free again
        self.queued = 0           # bytes in segs
        self.out = bytearray()    # released, not yet accepted by the destination
        self.stats = {"bytes_in": 0, "bytes_out": 0, "flipped_bits": 0, "drops": 0,
                      "dups": 0, "overruns": 0}

    def wants_input(self):
        return self.queued + len(self.out) < self.txbuf

    def _faults(self, data):
        """Applies the faults to data (the next bytes of the stream); returns what goes on."""
        n = len(data)
        end = self.pos + n
        if self.next_flip >= 8 * end and self.next_drop >= end and self.next_dup >= end:
            self.pos = end
            return data
        out = bytearray()
        st = self.stats
        for i, b in enumerate(data):
            k = self.pos + i
            while self.next_flip < 8 * (k + 1):
                b ^= 1 << (self.next_flip - 8 * k)
                st["flipped_bits"] += 1
                self.next_flip += 1 + geometric(self.rng, self.ber)
            copies = 1
            if self.next_drop == k:
                copies = 0
                st["drops"] += 1
                self.next_drop += 1 + geometric(self.rng, self.pdrop)
            if self.next_dup == k:
                if copies:
                    copies = 2
                    st["dups"] += 1
                self.next_dup += 1 + geometric(self.rng, self.pdup)
            out += bytes((b,)) * copies
        self.pos = end
        return out

    def take(self, data, now):
        """Bytes read from the source at time now: fault them and put them on the line."""
        self.stats["bytes_in"] += len(data)
        data = self._faults(data)
        if not data:
            return
        if self.segs and self.line_end >= now:
            self.segs[-1][1] += data  # the line is still busy: these follow back to back
            start = self.line_end
        else:
            start = max(now, self.line_end)
            self.segs.append([start, bytearray(data)])
        self.line_end = start + len(data) * self.byte_time
        self.queued += len(data)

    def release(self, now):
        """Moves every byte whose last bit has arrived by now to the output buffer."""
        while self.segs:
            start, buf = self.segs[0]
            k = min(len(buf), int((now - start) / self.byte_time + 1e-9))
            if k <= 0:
                break
            self.out += buf[:k]
            del buf[:k]
            self.queued -= k
            if buf:
                self.segs[0][0] = start + k * self.byte_time
                break
            self.segs.pop(0)
        if len(self.out) > self.rxbuf:  # nobody reads the far end: the oldest bytes are lost
            lost = len(self.out) - self.rxbuf
            del self.out[:lost]
            self.stats["overruns"] += lost

    def next_due(self):
        """Time the next queued byte is complete, or None."""
        if not self.segs:
            return None
        return self.segs[0][0] + self.byte_time

    def flush(self):
        """Writes released bytes to the destination as far as it accepts them."""
        while self.out:
            try:
                n = os.write(self.dst, self.out)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno in (errno.EIO, errno.EAGAIN):
                    return
                raise
            del self.out[:n]
            self.stats["bytes_out"] += n


def make_pair():
    master, slave = pty.openpty()
    tty.setraw(slave)  # no echo, no line editing, no CR/LF mapping, 8 bit clean
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def write_atomic(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="linesim.py",
        description="Serial line simulator: relays bytes between two pseudo-terminals, paced "
                    "to a baud rate, with seeded bit errors, dropped and duplicated bytes.",
        epilog="Directions: a2b = what the device writes on slave a, delivered to slave b; "
               "b2a the reverse. Counters are printed at exit and written to --stats-file at "
               "exit and on SIGUSR1. Stop with SIGTERM or SIGINT.")
    ap.add_argument("--baud", type=int, default=115200, help="line rate in bit/s (default 115200)")
    ap.add_argument("--bits", type=int, default=10,
                    help="bits on the line per byte: 10 for 8N1 (default), 11 for 8E1/8N2")
    ap.add_argument("--no-pace", action="store_true", help="relay at once, without pacing")
    ap.add_argument("--ber", type=float, default=0.0, help="probability that a bit flips (default 0)")
    ap.add_argument("--drop", type=float, default=0.0, help="probability that a byte is lost (default 0)")
    ap.add_argument("--dup", type=float, default=0.0, help="probability that a byte arrives twice (default 0)")
    ap.add_argument("--seed", type=int, default=1, help="PRNG seed (default 1)")
    ap.add_argument("--txbuf", type=int, default=4096,
                    help="bytes queued per direction before the writer is held back (default 4096)")
    ap.add_argument("--rxbuf", type=int, default=65536,
                    help="bytes kept for a far end that does not read, before overruns (default 65536)")
    ap.add_argument("--tick", type=float, default=0.001,
                    help="shortest sleep between releases in s; bytes are never early, at most "
                         "this late (default 0.001)")
    ap.add_argument("--paths-file", help="write {\"a\": slave path, \"b\": slave path, \"pid\": …} "
                                         "as JSON here once ready")
    ap.add_argument("--link-a", help="create this symlink to the a (device) slave")
    ap.add_argument("--link-b", help="create this symlink to the b (host) slave")
    ap.add_argument("--stats-file", help="write the counters as JSON here (at exit, on SIGUSR1)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print no paths and no counters")
    args = ap.parse_args(argv)
    for name in ("ber", "drop", "dup"):
        if not 0 <= getattr(args, name) <= 1:
            ap.error("--%s must be a probability (0..1)" % name)
    if args.baud <= 0 or args.bits <= 0 or args.txbuf <= 0 or args.rxbuf <= 0:
        ap.error("--baud, --bits, --txbuf and --rxbuf must be positive")
    if args.no_pace:
        args.baud, args.bits = 1e12, 1

    ma, sa, pa = make_pair()
    mb, sb, pb = make_pair()
    dirs = [Direction("a2b", ma, mb, args, args.seed * 2 + 0),
            Direction("b2a", mb, ma, args, args.seed * 2 + 1)]
    created = []

    stop = []
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    dump = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    signal.signal(signal.SIGHUP, lambda *a: stop.append(1))
    signal.signal(signal.SIGUSR1, lambda *a: dump.append(1))

    def stats():
        return {d.name: dict(d.stats) for d in dirs}

    def write_stats():
        if args.stats_file:
            write_atomic(args.stats_file, json.dumps(stats(), indent=1, sort_keys=True) + "\n")

    try:
        for link, path in ((args.link_a, pa), (args.link_b, pb)):
            if link:
                try:
                    os.unlink(link)
                except FileNotFoundError:
                    pass
                os.symlink(path, link)
                created.append(link)
        if args.paths_file:
            write_atomic(args.paths_file, json.dumps({"a": pa, "b": pb, "pid": os.getpid()}) + "\n")
            created.append(args.paths_file)
        if not args.quiet:
            print("a %s\nb %s" % (pa, pb), flush=True)

        while not stop:
            now = time.monotonic()
            rd = [wake_r] + [d.src for d in dirs if d.wants_input()]
            wr = []
            timeout = None
            for d in dirs:
                d.release(now)
                d.flush()
                if d.out:
                    wr.append(d.dst)
                due = d.next_due()
                if due is not None:
                    t = max(due - now, args.tick)
                    timeout = t if timeout is None else min(timeout, t)
            try:
                r, w, _ = select.select(rd, wr, [], timeout)
            except InterruptedError:
                continue
            if wake_r in r:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
                if dump:
                    dump.clear()
                    write_stats()
            now = time.monotonic()
            for d in dirs:
                if d.src in r:
                    try:
                        data = os.read(d.src, READ_MAX)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as e:
                        if e.errno == errno.EIO:  # cannot happen while we hold the slave
                            continue
                        raise
                    if data:
                        d.take(data, now)
    finally:
        signal.set_wakeup_fd(-1)
        for p in created:
            try:
                os.unlink(p)
            except OSError:
                pass
        for fd in (ma, sa, mb, sb, wake_r, wake_w):
            os.close(fd)
        write_stats()
        if not args.quiet:
            for d in dirs:
                print("linesim: %s %s" % (d.name, " ".join("%s=%d" % kv for kv in d.stats.items())),
                      file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
