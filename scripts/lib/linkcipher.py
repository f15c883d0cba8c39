"""The bridge link's cipher, written here from the RFCs with Python's standard library only:
ChaCha20-Poly1305 (RFC 8439) and HKDF-SHA-256 (RFC 5869). It is a second implementation
beside swift-crypto's, so a frame this one seals and the bridge accepts shows the two agree
(and that the bridge reads the frame layout docs/ARCHITECTURE.md gives). Slow, and fine for
the few frames a test makes. `self_test` checks it against the RFCs' vectors first."""
import hashlib
import hmac
import struct

MASK = 0xFFFFFFFF


def _rotl(v, n):
    return ((v << n) & MASK) | (v >> (32 - n))


def _quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK; s[b] = _rotl(s[b] ^ s[c], 7)


def _block(key, counter, nonce):
    """RFC 8439 2.3: one 64-byte ChaCha20 block."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *struct.unpack("<8I", key), counter, *struct.unpack("<3I", nonce)]
    s = list(state)
    for _ in range(10):
        _quarter(s, 0, 4, 8, 12); _quarter(s, 1, 5, 9, 13); _quarter(s, 2, 6, 10, 14); _quarter(s, 3, 7, 11, 15)
        _quarter(s, 0, 5, 10, 15); _quarter(s, 1, 6, 11, 12); _quarter(s, 2, 7, 8, 13); _quarter(s, 3, 4, 9, 14)
    return struct.pack("<16I", *[(x + y) & MASK for x, y in zip(s, state)])


def _chacha20(key, counter, nonce, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        stream = _block(key, counter + i // 64, nonce)
        out += bytes(a ^ b for a, b in zip(data[i:i + 64], stream))
    return bytes(out)


def _poly1305(key, message):
    """RFC 8439 2.5."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        n = int.from_bytes(message[i:i + 16] + b"\x01", "little")
        acc = (acc + n) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _pad16(data):
    return b"\x00" * (-len(data) % 16)


def seal(key, nonce, plaintext, clear):
    """RFC 8439 2.8: the ciphertext, then the 16-byte tag over it and `clear`."""
    one_time = _block(key, 0, nonce)[:32]
    ciphertext = _chacha20(key, 1, nonce, plaintext)
    mac = clear + _pad16(clear) + ciphertext + _pad16(ciphertext) + struct.pack("<QQ", len(clear), len(ciphertext))
    return ciphertext + _poly1305(one_time, mac)


def hkdf(key, info, length=32):
    """RFC 5869 with SHA-256 and no salt (a string of zeros, as the RFC says)."""
    prk = hmac.new(b"\x00" * 32, key, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range((length + 31) // 32):
        block = hmac.new(prk, block + info + bytes([i + 1]), hashlib.sha256).digest()
        out += block
    return out[:length]


def frame_key(shared):
    return hkdf(shared, b"virtuallan bridge frames 2")


def self_test():
    """The RFCs' vectors: RFC 8439 2.8.2 (the AEAD) and RFC 5869 A.3 (HKDF)."""
    sealed = seal(bytes(range(0x80, 0xA0)), bytes.fromhex("070000004041424344454647"),
                  b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
                  bytes.fromhex("50515253c0c1c2c3c4c5c6c7"))
    okm = hkdf(b"\x0b" * 22, b"", 42)
    return (sealed[:16].hex() == "d31a8d34648e60db7b86afbc53ef7ec2" and sealed[-16:].hex() == "1ae10b594f09e26a7e902ecbd0600691"
            and okm.hex() == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
