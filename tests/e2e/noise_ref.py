"""An independent Noise_NNpsk0_25519_ChaChaPoly_SHA256 initiator/responder in Python, written from
the Noise specification on python3-cryptography (X25519, ChaCha20Poly1305, HMAC-SHA256), plus
swarm's framing (docs/PROTOCOL.md, "Authenticated links"). It checks the C implementation
(src/auth) byte for byte in tests/unit/test_noise.c's vector and talks to real nodes in
tests/e2e/test_auth.py.
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

NAME = b"Noise_NNpsk0_25519_ChaChaPoly_SHA256"
PREAMBLE = b"\xc1SN1"
PROLOGUE = b"swarm-noise/1" + PREAMBLE
FRAME_PAYLOAD = 2048
REJECT_AUTH, REJECT_PROTO = 1, 2


def _hmac(k, d):
    return hmac.new(k, d, hashlib.sha256).digest()


def _hkdf(ck, ikm, n):
    t = _hmac(ck, ikm)
    o1 = _hmac(t, b"\x01")
    o2 = _hmac(t, o1 + b"\x02")
    return (o1, o2) if n == 2 else (o1, o2, _hmac(t, o2 + b"\x03"))


def _pub(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Cipher:
    def __init__(self, k):
        self.k, self.n = k, 0

    def _iv(self):
        return b"\0\0\0\0" + struct.pack("<Q", self.n)

    def enc(self, ad, pt):
        c = ChaCha20Poly1305(self.k).encrypt(self._iv(), pt, ad)
        self.n += 1
        return c

    def dec(self, ad, ct):
        p = ChaCha20Poly1305(self.k).decrypt(self._iv(), ct, ad)  # raises InvalidTag
        self.n += 1
        return p


class Noise:
    """One side of NNpsk0. seed: 32 bytes, the ephemeral private key."""

    def __init__(self, initiator, psk, seed):
        self.initiator, self.psk = initiator, psk
        self.h = hashlib.sha256(NAME).digest()
        self.ck = self.h
        self.c = None
        self.mix_hash(PROLOGUE)
        self.e = X25519PrivateKey.from_private_bytes(seed)
        self.re = None
        self.tx = self.rx = None

    def mix_hash(self, d):
        self.h = hashlib.sha256(self.h + d).digest()

    def mix_key(self, ikm):
        self.ck, k = _hkdf(self.ck, ikm, 2)
        self.c = Cipher(k)

    def mix_key_and_hash(self, ikm):
        self.ck, th, k = _hkdf(self.ck, ikm, 3)
        self.mix_hash(th)
        self.c = Cipher(k)

    def _split(self):
        k1, k2 = _hkdf(self.ck, b"", 2)
        self.tx, self.rx = (Cipher(k1), Cipher(k2)) if self.initiator else (Cipher(k2), Cipher(k1))

    def write_hs(self):
        if self.initiator:
            self.mix_key_and_hash(self.psk)
        e = _pub(self.e)
        self.mix_hash(e)
        self.mix_key(e)
        if not self.initiator:
            self.mix_key(self.e.exchange(X25519PublicKey.from_public_bytes(self.re)))
        tag = self.c.enc(self.h, b"")
        self.mix_hash(tag)
        if not self.initiator:
            self._split()
        return e + tag

    def read_hs(self, m):
        if len(m) != 48:
            raise ValueError("handshake message of %d bytes" % len(m))
        if not self.initiator:
            self.mix_key_and_hash(self.psk)
        self.re = m[:32]
        self.mix_hash(self.re)
        self.mix_key(self.re)
        if self.initiator:
            self.mix_key(self.e.exchange(X25519PublicKey.from_public_bytes(self.re)))
        self.c.dec(self.h, m[32:])
        self.mix_hash(m[32:])
        if self.initiator:
            self._split()

    def frames(self, data):
        """Encrypts data into wire frames."""
        out = b""
        for i in range(0, len(data), FRAME_PAYLOAD):
            c = self.tx.enc(b"", data[i:i + FRAME_PAYLOAD])
            out += struct.pack(">H", len(c)) + c
        return out


def frame(body):
    return struct.pack(">H", len(body)) + body


class Deframer:
    def __init__(self):
        self.buf = b""

    def feed(self, b):
        self.buf += b
        out = []
        while len(self.buf) >= 2:
            n = struct.unpack(">H", self.buf[:2])[0]
            if len(self.buf) < 2 + n:
                break
            out.append(self.buf[2:2 + n])
            self.buf = self.buf[2 + n:]
        return out


if __name__ == "__main__":
    # the vector of tests/unit/test_noise.c
    psk = bytes(range(32))
    i = Noise(True, psk, bytes(range(0x20, 0x40)))
    r = Noise(False, psk, bytes(range(0x40, 0x60)))
    m1 = i.write_hs()
    r.read_hs(m1)
    m2 = r.write_hs()
    i.read_hs(m2)
    f1 = i.tx.enc(b"", b"hello")
    f2 = r.tx.enc(b"", b"world!")
    for name, v in (("msg1", m1), ("msg2", m2), ("hash", i.h), ("i2r_hello", f1), ("r2i_world", f2)):
        print(name, v.hex())
