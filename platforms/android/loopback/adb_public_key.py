"""Android's ADB public-key format, so the loopback device can check a client's signature.

A key is base64 of: u32 word count, u32 n0inv, the modulus little-endian,
R^2 mod n little-endian, u32 exponent; then optionally " user@host".
The client signs the device's 20-byte token as if it were a SHA-1 digest.
"""

from __future__ import annotations

import base64
import binascii
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils


def parse_public_key(text: bytes) -> rsa.RSAPublicKey:
    blob = base64.b64decode(text.split()[0])
    (words,) = struct.unpack_from("<I", blob, 0)
    size = words * 4
    modulus = int.from_bytes(blob[8 : 8 + size], "little")
    (exponent,) = struct.unpack_from("<I", blob, 8 + 2 * size)
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def verify_token_signature(public_key: bytes, token: bytes, signature: bytes) -> bool:
    try:
        key = parse_public_key(public_key)
        key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
    except (InvalidSignature, ValueError, struct.error, binascii.Error, IndexError):
        return False
    return True


def read_authorized_keys(path: str) -> tuple[bytes, ...]:
    with open(path, "rb") as keys:
        return tuple(line.strip() for line in keys if line.strip())
