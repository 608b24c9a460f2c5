#!/usr/bin/python3
"""moatserial: the host side of a swarm/MoaT serial link, written from the wire spec
(docs/parts/serial.md, docs/parts/reliable.md, ../shared/spec/moat-wire.md §2) for tests.

It is an independent implementation used to check swarm-node's serial modes; it shares no code
with the project's C sources. On a tty file descriptor it speaks either

  - lossy mode (LossyLink): SerialPacker frames (start byte, length, payload, CRC-16/0xBAAD)
    carrying the Reliable ARQ layer (handshake, window, cumulative + selective acks,
    retransmit and fast retransmit, gap timer), with MoaT v0 RPC messages as payloads; or
  - lossless mode (StreamLink): back-to-back MsgPack, console bytes as top-level integers.

Both expose call(action, d) -> reply value (RemoteError for an error reply), a pipelined
submit()/result() pair, the console bytes received (.console) and notifications (.notes).
Needs /usr/bin/python3 with python3-msgpack. Everything is single-threaded: the link does I/O
only inside its methods (pump() and the calls that wait).
"""
import errno
import os
import select
import sys
import termios
import time
import tty

import msgpack

# ---------------------------------------------------------------------------------------------
# CRC-16/0xBAAD as SerialPacker computes it: reflected, init 0, no final XOR, a nibble at a time,
# high nibble first.

CRC_TABLE = (0x0000, 0x64A8, 0xC950, 0xADF8, 0xE7FB, 0x8353, 0x2EAB, 0x4A03,
             0xBAAD, 0xDE05, 0x73FD, 0x1755, 0x5D56, 0x39FE, 0x9406, 0xF0AE)


def crc16(data, crc=0):
    t = CRC_TABLE
    for b in data:
        crc = t[((b >> 4) ^ crc) & 0xF] ^ (crc >> 4)
        crc = t[(b ^ crc) & 0xF] ^ (crc >> 4)
    return crc


def sp_encode(payload, start=0xC1, long_len=True):
    """One SerialPacker frame. long_len: the receiver's max_frame is > 255, so lengths above
    127 take two bytes (swarm-node's lossy links: max_frame = serial.max_msg + 64)."""
    n = len(payload)
    if n == 0 or n > (32767 if long_len else 255):
        raise ValueError("payload length %d cannot be framed" % n)
    if long_len and n > 127:
        hdr = bytes(((n & 0x7F) | 0x80, n >> 7))
    else:
        hdr = bytes((n,))
    crc = crc16(payload)
    head = b"" if start is None else bytes((start,))
    return head + hdr + bytes(payload) + bytes((crc >> 8, crc & 0xFF))


class SPDecoder:
    """SerialPacker receiver. feed(data, now) returns a list of ("msg", payload) and
    ("console", bytes) in the order found. Frames with a bad length or CRC are dropped and
    counted; a frame interrupted for idle_s is dropped. Bytes outside frames are console
    (with a start byte), with the UTF-8 guard of docs/parts/serial.md."""

    IDLE, LEN, LEN2, DATA, CRC1, CRC2 = range(6)

    def __init__(self, start=0xC1, max_frame=4096, idle_s=0.1):
        self.start = start
        self.max_frame = max_frame
        self.idle_s = idle_s
        self.state = self.IDLE if start is not None else self.LEN
        self.last = None
        self.guard = 0
        self.buf = bytearray()
        self.need = 0
        self.crc_hi = 0
        self.stats = {"frames": 0, "err_crc": 0, "err_len": 0, "err_idle": 0}

    def _reset(self):
        self.state = self.IDLE if self.start is not None else self.LEN
        self.buf = bytearray()

    def tick(self, now):
        if self.last is not None and self.idle_s and now - self.last >= self.idle_s:
            if self.state not in (self.IDLE,) and not (self.start is None and self.state == self.LEN):
                self.stats["err_idle"] += 1
            self._reset()
            self.guard = 0
            self.last = None

    def feed(self, data, now):
        out = []
        console = bytearray()
        self.tick(now)
        for b in data:
            self.last = now
            st = self.state
            if st == self.IDLE:
                if self.guard:
                    if b & 0xC0 == 0x80:
                        self.guard -= 1
                        console.append(b)
                        continue
                    self.guard = 0
                if b == self.start:
                    self.state = self.LEN
                    continue
                console.append(b)
                if b & 0xE0 == 0xC0:
                    self.guard = 1
                elif b & 0xF0 == 0xE0:
                    self.guard = 2
                elif b & 0xF8 == 0xF0:
                    self.guard = 3
                continue
            if console:
                out.append(("console", bytes(console)))
                console = bytearray()
            if st == self.LEN:
                if b & 0x80 and self.max_frame > 255:
                    self.need = b & 0x7F
                    self.state = self.LEN2
                    continue
                if b == 0 or b > self.max_frame:
                    self.stats["err_len"] += 1
                    self._reset()
                    continue
                self.need = b
                self.buf = bytearray()
                self.state = self.DATA
            elif st == self.LEN2:
                n = self.need | (b << 7)
                if n < 128 or n > self.max_frame:
                    self.stats["err_len"] += 1
                    self._reset()
                    continue
                self.need = n
                self.buf = bytearray()
                self.state = self.DATA
            elif st == self.DATA:
                self.buf.append(b)
                if len(self.buf) == self.need:
                    self.state = self.CRC1
            elif st == self.CRC1:
                self.crc_hi = b
                self.state = self.CRC2
            elif st == self.CRC2:
                if (self.crc_hi << 8 | b) == crc16(self.buf):
                    self.stats["frames"] += 1
                    out.append(("msg", bytes(self.buf)))
                else:
                    self.stats["err_crc"] += 1
                self._reset()
        if console:
            out.append(("console", bytes(console)))
        return out


# ---------------------------------------------------------------------------------------------
# MsgPack item boundaries (to take a Reliable payload out of its wire map byte for byte)

def mp_skip(buf, pos):
    """End offset of the MsgPack item starting at pos; ValueError if invalid or truncated."""
    n = len(buf)
    left = 1
    while left:
        if pos >= n:
            raise ValueError("truncated")
        b = buf[pos]
        left -= 1
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
            pos += 1
        elif b <= 0x8F:
            left += 2 * (b & 0x0F)
            pos += 1
        elif b <= 0x9F:
            left += b & 0x0F
            pos += 1
        elif b <= 0xBF:
            pos += 1 + (b & 0x1F)
        elif b == 0xC1:
            raise ValueError("0xC1")
        elif b in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB):
            w = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
            if pos + 1 + w > n:
                raise ValueError("truncated")
            pos += 1 + w + int.from_bytes(buf[pos + 1:pos + 1 + w], "big")
        elif b in (0xC7, 0xC8, 0xC9):
            w = {0xC7: 1, 0xC8: 2, 0xC9: 4}[b]
            if pos + 1 + w > n:
                raise ValueError("truncated")
            pos += 2 + w + int.from_bytes(buf[pos + 1:pos + 1 + w], "big")
        elif b in (0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3):
            pos += 1 + {0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
                        0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[b]
        elif 0xD4 <= b <= 0xD8:
            pos += 2 + (1 << (b - 0xD4))
        elif b in (0xDC, 0xDD, 0xDE, 0xDF):
            w = 2 if b in (0xDC, 0xDE) else 4
            if pos + 1 + w > n:
                raise ValueError("truncated")
            k = int.from_bytes(buf[pos + 1:pos + 1 + w], "big")
            left += 2 * k if b >= 0xDE else k
            pos += 1 + w
        else:  # pragma: no cover - every byte is covered above
            raise ValueError("byte %#x" % b)
    if pos > n:
        raise ValueError("truncated")
    return pos


def split_map(buf):
    """A wire map as {key: (decoded value, raw value bytes)}; ValueError if not one map."""
    b = buf[0] if buf else 0
    if 0x80 <= b <= 0x8F:
        count, pos = b & 0x0F, 1
    elif b == 0xDE:
        count, pos = int.from_bytes(buf[1:3], "big"), 3
    elif b == 0xDF:
        count, pos = int.from_bytes(buf[1:5], "big"), 5
    else:
        raise ValueError("not a map")
    out = {}
    for _ in range(count):
        k_end = mp_skip(buf, pos)
        key = msgpack.unpackb(buf[pos:k_end], raw=False)
        v_end = mp_skip(buf, k_end)
        raw = bytes(buf[k_end:v_end])
        if isinstance(key, str) and key not in out:
            out[key] = raw
        pos = v_end
    if pos != len(buf):
        raise ValueError("bytes after the map")
    return out


def _int(raw):
    v = msgpack.unpackb(raw)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError("not an integer")
    return v


def _pk(v):
    return msgpack.packb(v, use_bin_type=True)


# ---------------------------------------------------------------------------------------------
# Reliable (client side, and a passive open for a peer that starts the handshake)

CLOSED, RESET1, RESET2, UP = "CLOSED", "RESET1", "RESET2", "UP"


class Reliable:
    """Sans-I/O Reliable endpoint. tx(bytes) sends one wire message (it becomes one frame) and
    may return the time its last byte will have left (or None); rx(payload bytes) gets each
    payload once, in order; state(up) reports up/down. Times are float seconds.
    delay_ack: instead of acknowledging at the end of input(), leave the ack due until the
    owner calls flush_ack(); a data message sent meanwhile carries it (fewer ack frames when
    the owner answers or sends more soon after)."""

    def __init__(self, tx, rx, state, window=8, timeout=1.0, max_msg=1024, delay_ack=False,
                 announce_l=True):
        self.tx_fn, self.rx_fn, self.state_fn = tx, rx, state
        self.delay_ack = delay_ack
        self.ack_due = False
        self.own = {"t": int(timeout * 1000), "m": window, "l": max_msg}
        # MoaT's own hosts announce only t and m: the peer then assumes 127-byte frames
        self.announce_l = announce_l
        self.state = CLOSED
        self.hs_deadline = None
        self._sent_data = False
        self.closed_answer = -1e9
        self.stats = {"sent": 0, "delivered": 0, "retransmits": 0, "fast_retransmits": 0,
                      "duplicates": 0, "out_of_order": 0, "resets": 0, "bad": 0, "acks_sent": 0,
                      "handshakes_sent": 0}
        self._apply({})
        self._clear()

    # configuration and sequence state
    def _apply(self, peer):
        t = self.own["t"]
        if isinstance(peer.get("t"), int):
            t = max(t, min(peer["t"], 600000))
        m = self.own["m"]
        if isinstance(peer.get("m"), int):
            m = max(4, min(m, peer["m"]))
        self.timeout = t / 1000.0
        self.w = m
        self.peer_max = peer["l"] if isinstance(peer.get("l"), int) else 127

    def _clear(self):
        self.send_head = self.send_tail = 0
        self.recv_head = self.recv_tail = 0
        self.tx_slots = {}   # seq -> [payload, deadline, held, last_sent]
        self.rx_slots = {}   # seq -> payload
        self.gap_deadline = None

    def max_payload(self):
        return min(self.own["l"], self.peer_max)

    def is_up(self):
        return self.state == UP

    def can_send(self):
        return self.state == UP and (self.send_head - self.send_tail) % self.w < self.w // 2

    # handshake
    def _hs(self, n, now, err=None):
        m = {"a": "r", "n": n, "c": self._announce()}
        if err:
            m["e"] = err
        self.stats["handshakes_sent"] += 1
        self.tx_fn(_pk(m))
        self.hs_deadline = now + self.timeout

    def start(self, now, err=None):
        was_up = self.state == UP
        self.state = RESET1
        self._clear()
        self._apply({})
        self._hs(1, now, err)
        if was_up:
            self.state_fn(False)

    def close(self, why, now):
        was_up = self.state == UP
        self.tx_fn(_pk({"a": "r", "n": 0, "e": why[:40]}))
        self.state = CLOSED
        self.hs_deadline = None
        if was_up:
            self.state_fn(False)

    def _up(self, now):
        self.state = UP
        self._clear()
        self.hs_deadline = None
        self.stats["resets"] += 1
        self.state_fn(True)

    # sending
    def _data(self, seq, payload):
        self.ack_due = False
        x = self._held()
        parts = [bytes((0x84 if x else 0x83,)), b"\xa1s", _pk(seq), b"\xa1d", payload,
                 b"\xa1r", _pk(self.recv_tail)]
        if x:
            parts += [b"\xa1x", _pk(x)]
        return b"".join(parts)

    def _held(self):
        held = []
        k = self.recv_tail
        while k != self.recv_head:
            if k in self.rx_slots:
                held.append(k)
            k = (k + 1) % self.w
        return held

    def send(self, payload, now):
        """Sends one payload (exactly one MsgPack item). False if the window is full."""
        if not self.can_send():
            return False
        if len(payload) > self.max_payload():
            raise ValueError("payload of %d bytes > %d" % (len(payload), self.max_payload()))
        seq = self.send_head
        self.send_head = (seq + 1) % self.w
        slot = [bytes(payload), now + self.timeout, False, now]
        self.tx_slots[seq] = slot
        self.stats["sent"] += 1
        self._sent_data = True
        self._arm(slot, self.tx_fn(self._data(seq, payload)))
        return True

    def _arm(self, slot, departs):
        # tx may say when the frame's last byte will have left (a sender that knows its line
        # rate); the peer cannot answer earlier, so the timer runs from then
        if departs is not None and departs + self.timeout > slot[1]:
            slot[1] = departs + self.timeout

    def _ack(self):
        self.ack_due = False
        x = self._held()
        m = {"s": self.send_head, "r": self.recv_tail}
        if x:
            m["x"] = x
        self.stats["acks_sent"] += 1
        self.tx_fn(_pk(m))

    def _retransmit(self, seq, now):
        slot = self.tx_slots[seq]
        slot[1] = now + self.timeout
        slot[3] = now
        self.stats["retransmits"] += 1
        self._sent_data = True
        self._arm(slot, self.tx_fn(self._data(seq, slot[0])))

    # receiving
    def input(self, wire, now):
        try:
            m = split_map(wire)
            a = msgpack.unpackb(m["a"], raw=False) if "a" in m else None
            if "a" in m:
                if a != "r":
                    return  # another layer's message
                n = _int(m["n"])
                c = msgpack.unpackb(m["c"], raw=False, strict_map_key=False) if "c" in m else None
                if c is not None and not (isinstance(c, dict) and all(
                        isinstance(v, int) and v >= 0 for v in c.values())):
                    raise ValueError("bad c")
            else:
                s, r = _int(m["s"]), _int(m["r"])
                x = msgpack.unpackb(m["x"]) if "x" in m else []
                if not isinstance(x, list) or not all(isinstance(v, int) for v in x):
                    raise ValueError("bad x")
                d = m.get("d")
        except (ValueError, KeyError, TypeError, msgpack.UnpackException, msgpack.ExtraData):
            self.stats["bad"] += 1
            return
        if "a" in m:
            self._handshake(n, c, now)
            return
        if self.state == RESET2:
            if r == 0 and not x and 0 <= s < self.w:
                self._up(now)  # implicit completion: the originator is up and sending
            else:
                return
        if self.state == RESET1:
            self._hs(1, now)  # the peer is still in an old session
            return
        if self.state == CLOSED:
            if now - self.closed_answer >= self.timeout:
                self.closed_answer = now
                self.tx_fn(_pk({"a": "r", "n": 0}))
            return
        if not (0 <= s < self.w and 0 <= r < self.w):
            self.start(now, "R/S out of bounds")
            return
        self._sent_data = False
        self._acked(r, x, now)
        need_ack = False
        if d is not None:
            need_ack = True
            off = (s - self.recv_tail) % self.w
            if off < self.w // 2 and s not in self.rx_slots:
                self.rx_slots[s] = d
                if off >= (self.recv_head - self.recv_tail) % self.w:
                    self.recv_head = (s + 1) % self.w
                if s != self.recv_tail:
                    self.stats["out_of_order"] += 1
            else:
                self.stats["duplicates"] += 1
            self._deliver(now)
        else:
            # an ack whose s is ahead of our head: the end of the peer's burst is missing
            off = (s - self.recv_tail) % self.w
            if off < self.w // 2 and off > (self.recv_head - self.recv_tail) % self.w:
                self.recv_head = s
        if self.recv_tail != self.recv_head:
            if self.gap_deadline is None:
                self.gap_deadline = now + self.timeout
        else:
            self.gap_deadline = None
        if need_ack and not self._sent_data and self.state == UP:
            if self.delay_ack:
                self.ack_due = True
            else:
                self._ack()

    def flush_ack(self):
        """Sends the ack left due by input() (delay_ack), unless data has carried it since."""
        if self.ack_due and self.state == UP:
            self._ack()
        self.ack_due = False

    def _deliver(self, now):
        while self.recv_tail in self.rx_slots:
            p = self.rx_slots.pop(self.recv_tail)
            self.recv_tail = (self.recv_tail + 1) % self.w
            self.stats["delivered"] += 1
            self.rx_fn(p)
            if self.state != UP:
                return

    def _acked(self, r, x, now):
        span = (self.send_head - self.send_tail) % self.w
        if (r - self.send_tail) % self.w <= span:
            while self.send_tail != r:
                self.tx_slots.pop(self.send_tail, None)
                self.send_tail = (self.send_tail + 1) % self.w
        latest = None
        for k in x:
            slot = self.tx_slots.get(k)
            if slot:
                slot[2] = True
                latest = slot[3] if latest is None else max(latest, slot[3])
        if latest is not None:  # fast retransmit: on an ordered line, what was sent before is lost
            for k, slot in list(self.tx_slots.items()):
                if not slot[2] and slot[3] < latest:
                    self.stats["fast_retransmits"] += 1
                    self._retransmit(k, now)

    def _handshake(self, n, c, now):
        st = self.state
        if n == 0:
            if st != CLOSED:
                self.state = CLOSED
                self.hs_deadline = None
                if st == UP:
                    self.state_fn(False)
            return
        if n == 1:
            if c is not None:
                self._apply(c)
            if st == UP:
                self.state_fn(False)
                self._clear()
            self.state = RESET2
            self._hs(2, now)
            return
        if n == 2:
            if st in (RESET1, RESET2):
                if c is not None:
                    self._apply(c)
                self._send_n3(now)
                self._up(now)
            elif st == UP:
                self._send_n3(now)
            elif st == CLOSED and now - self.closed_answer >= self.timeout:
                self.closed_answer = now
                self.tx_fn(_pk({"a": "r", "n": 0}))
            return
        if n == 3:
            if st == RESET2:
                if c is not None:
                    self._apply(c)
                self._up(now)
            elif st == CLOSED and now - self.closed_answer >= self.timeout:
                self.closed_answer = now
                self.tx_fn(_pk({"a": "r", "n": 0}))

    def _send_n3(self, now):
        self.stats["handshakes_sent"] += 1
        self.tx_fn(_pk({"a": "r", "n": 3, "c": self._announce()}))

    def _announce(self):
        c = dict(self.own)
        if not self.announce_l:
            del c["l"]
        return c

    # timers
    def poll(self, now):
        """Runs due timers; returns seconds until the next one (None: none pending)."""
        nxt = []
        if self.state in (RESET1, RESET2) and self.hs_deadline is not None:
            if now >= self.hs_deadline:
                self._hs(1 if self.state == RESET1 else 2, now)
            nxt.append(self.hs_deadline)
        if self.state == UP:
            for k, slot in list(self.tx_slots.items()):
                if not slot[2] and now >= slot[1]:
                    self._retransmit(k, now)
                if not slot[2]:
                    nxt.append(slot[1])
            if self.gap_deadline is not None:
                if now >= self.gap_deadline:
                    self._ack()
                    self.gap_deadline = now + self.timeout
                nxt.append(self.gap_deadline)
        return max(0.0, min(nxt) - now) if nxt else None


# ---------------------------------------------------------------------------------------------
# Links on a tty

class RemoteError(Exception):
    pass


def open_tty(path):
    """Opens a tty raw 8N1, non-blocking, discarding whatever was waiting on it."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        attr = termios.tcgetattr(fd)
        attr[2] = (attr[2] & ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | termios.CRTSCTS)) \
            | termios.CS8 | termios.CLOCAL | termios.CREAD
        termios.tcsetattr(fd, termios.TCSANOW, attr)
        termios.tcflush(fd, termios.TCIOFLUSH)
    except Exception:
        os.close(fd)
        raise
    return fd


class _Base:
    """RPC on top of a message transport: requests {"a","d","i"}, replies by "i"."""

    def __init__(self, fd, timeout=30.0):
        self.fd = fd
        self.timeout = timeout
        self.outbuf = bytearray()
        self.console = bytearray()
        self.notes = []
        self.seq = 0
        self.replies = {}       # i -> reply message
        self.pending = set()
        self.messages = []      # every message delivered, raw (for checks)
        self.unexpected = []    # replies to no request in flight (a duplicate would land here)
        self.keep_raw = False

    def close(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _write(self, data):
        self.outbuf += data
        self._flush()

    def _flush(self):
        while self.outbuf:
            try:
                n = os.write(self.fd, self.outbuf)
            except (BlockingIOError, InterruptedError):
                return
            del self.outbuf[:n]

    def _message(self, raw):
        if self.keep_raw:
            self.messages.append(raw)
        m = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        self._route(m)

    def _route(self, m):
        if isinstance(m, dict) and "i" in m and "a" not in m:
            if m["i"] in self.pending:
                self.pending.discard(m["i"])
                self.replies[m["i"]] = m
            else:
                self.unexpected.append(m)
            return
        self.notes.append(m)

    def _read(self, timeout):
        """Waits up to timeout for input (or output room); processes what came."""
        w = [self.fd] if self.outbuf else []
        r, w, _ = select.select([self.fd], w, [], timeout)
        if w:
            self._flush()
        if r:
            try:
                data = os.read(self.fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno == errno.EIO:
                    return
                raise
            if data:
                self._input(data, time.monotonic())

    def _encode(self, action, d):
        self.seq += 1
        a = action.split(".") if isinstance(action, str) and "." in action else action
        return self.seq, _pk({"a": a, "d": {} if d is None else d, "i": self.seq})

    def result(self, seq, timeout=None):
        """The reply value of request seq; raises RemoteError for an error reply."""
        m = self.wait_reply(seq, timeout)
        if "e" in m:
            raise RemoteError(m["e"])
        return m.get("d")

    def wait_reply(self, seq, timeout=None):
        self.wait(lambda: seq in self.replies, timeout, "reply %d" % seq)
        return self.replies.pop(seq)

    def call(self, action, d=None, timeout=None):
        return self.result(self.submit(action, d), timeout)

    def wait(self, cond, timeout=None, what="condition"):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not cond():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out waiting for %s" % what)
            self.pump(left)

    def read_note(self, timeout=None):
        self.wait(lambda: self.notes, timeout, "a notification")
        return self.notes.pop(0)


class StreamLink(_Base):
    """Lossless mode: MsgPack items back to back; top-level integers 0..255 are console."""

    def __init__(self, fd, timeout=30.0):
        super().__init__(fd, timeout)
        self.unp = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=64 << 20)
        self.stray = []  # top-level integers that are not console bytes

    def _input(self, data, now):
        self.unp.feed(data)
        for m in self.unp:
            if isinstance(m, int) and not isinstance(m, bool):
                if 0 <= m < 256:
                    self.console.append(m)
                else:
                    self.stray.append(m)
                continue
            if self.keep_raw:
                self.messages.append(_pk(m))
            self._route(m)

    def submit(self, action, d=None):
        seq, p = self._encode(action, d)
        self.pending.add(seq)
        self._write(p)
        return seq

    def pump(self, timeout=0.0):
        self._read(timeout)


class LossyLink(_Base):
    """Lossy mode: SerialPacker frames + Reliable. The host starts the handshake (and answers
    the device's), and after a close keeps offering the link again every timeout.
    window, rel_timeout (s) and max_msg are what this side announces in the handshake; the
    link then uses the smaller window, the longer timeout, and payloads up to the peer's "l".
    idle_s: a frame interrupted this long is dropped (the bytes after it are console).
    baud: the line rate, if known. Retransmit timers then run from the moment a frame has left
    at that rate rather than from the moment it was queued: on a slow line a full window can
    take longer to send than the timeout, and timers started at queueing would resend frames
    that are still waiting in buffers (each resend adding to the queue: congestion collapse).
    Without it the timers run from queueing, as the spec's reference behaviour does.
    delay_ack: acks wait until the next pump() (a request sent before then carries them); the
    owner must keep calling pump() (every wait does) or the peer will resend."""

    def __init__(self, fd, start=0xC1, window=8, rel_timeout=1.0, max_msg=1024, long_len=True,
                 timeout=30.0, reconnect=True, idle_s=0.1, baud=None, delay_ack=False,
                 moat_v0=False):
        """moat_v0: behave as MoaT v0's host library does on a lossy line: SerialPacker frames
        of at most 127 bytes with a one-byte length (a longer frame is dropped as a bad length,
        whatever its content), and a handshake without "l"."""
        super().__init__(fd, timeout)
        self.byte_time = 10.0 / baud if baud else None
        self.line_free = 0.0
        self.start_byte = start
        self.long_len = long_len and not moat_v0
        max_frame = 127 if moat_v0 else max(4096, max_msg + 64)
        if moat_v0:
            max_msg = min(max_msg, 127 - 16)  # its own requests fit its frames too
        self.dec = SPDecoder(start=start, max_frame=max_frame, idle_s=idle_s)
        self.rel = Reliable(self._tx, self._rx, self._state, window=window,
                            timeout=rel_timeout, max_msg=max_msg, delay_ack=delay_ack,
                            announce_l=not moat_v0)
        self.reconnect = reconnect
        self.sendq = []          # (seq, payload) waiting for window room
        self.ups = 0
        self.downs = 0
        self.wire_bytes_out = 0
        self.closed_at = None
        self.rel.start(time.monotonic())

    def _tx(self, wire):
        f = sp_encode(wire, self.start_byte, self.long_len)
        self.wire_bytes_out += len(f)
        self._write(f)
        if self.byte_time is None:
            return None
        # frames leave one after the other at the line rate, whatever the buffers in between
        self.line_free = max(time.monotonic(), self.line_free) + len(f) * self.byte_time
        return self.line_free

    def _rx(self, payload):
        try:
            self._message(payload)
        except (ValueError, msgpack.UnpackException, msgpack.ExtraData):
            self.rel.stats["bad"] += 1

    def _state(self, up):
        if up:
            self.ups += 1
            self.closed_at = None
        else:
            self.downs += 1
            self.notes.append({"a": "link", "d": False, "reliable": True})
            lost = [s for s, _ in self.sendq] + sorted(self.pending)
            self.sendq = []
            for s in lost:  # requests that may never be answered now
                self.pending.discard(s)
                self.replies[s] = {"i": s, "e": "link down"}

    def _input(self, data, now):
        for kind, v in self.dec.feed(data, now):
            if kind == "console":
                self.console += v
            else:
                self.rel.input(v, now)
                self._drain(now)

    def _drain(self, now):
        while self.sendq and self.rel.can_send():
            seq, p = self.sendq.pop(0)
            self.rel.send(p, now)

    def submit(self, action, d=None):
        seq, p = self._encode(action, d)
        if len(p) > self.rel.max_payload() and self.rel.is_up():
            raise ValueError("request of %d bytes > link limit %d" % (len(p), self.rel.max_payload()))
        self.pending.add(seq)
        self.sendq.append((seq, p))
        self._drain(time.monotonic())
        return seq

    def pump(self, timeout=0.0):
        now = time.monotonic()
        self.dec.tick(now)
        if self.rel.state == "CLOSED" and self.reconnect:
            if self.closed_at is None:
                self.closed_at = now
            elif now - self.closed_at >= self.rel.timeout:
                self.closed_at = None
                self.rel.start(now)
        self._drain(now)
        nxt = self.rel.poll(now)
        self._drain(now)
        self.rel.flush_ack()  # nothing to carry it: send it before waiting
        wait = timeout if nxt is None else min(timeout, nxt)
        if self.rel.state == "CLOSED" and self.reconnect:
            wait = min(wait, 0.05)
        self._read(max(wait, 0.0))

    def wait_up(self, timeout=None):
        self.wait(self.rel.is_up, timeout, "the reliable link")

    def stats(self):
        s = dict(self.rel.stats)
        s.update({"sp_" + k: v for k, v in self.dec.stats.items()})
        s["ups"], s["downs"] = self.ups, self.downs
        return s


# ---------------------------------------------------------------------------------------------
# Command line: python3 moatserial.py DEV [--lossless] ACTION [JSON]

def main(argv=None):
    import argparse
    import json
    ap = argparse.ArgumentParser(description="Call one command on a swarm node over a serial tty.")
    ap.add_argument("dev")
    ap.add_argument("action", help="e.g. ping, sys.info, f.dir")
    ap.add_argument("data", nargs="?", default="{}", help="JSON argument (default {})")
    ap.add_argument("--lossless", action="store_true", help="lossless stream mode (default: lossy)")
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args(argv)
    fd = open_tty(a.dev)
    link = StreamLink(fd, a.timeout) if a.lossless else LossyLink(fd, timeout=a.timeout)
    with link:
        if not a.lossless:
            link.wait_up()
        try:
            v = link.call(a.action, json.loads(a.data))
        except RemoteError as e:
            print("error: %s" % e, file=sys.stderr)
            return 1
        print(json.dumps(v, default=lambda o: o.hex() if isinstance(o, bytes) else repr(o)))
        if link.console:
            sys.stderr.write(link.console.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
