"""The ADB transport framing: a 24-byte header, then the payload.

Header fields (little-endian u32): command, arg0, arg1, data_length,
data_check (sum of payload bytes), magic (command XOR 0xffffffff).
Protocol version 0x01000001 lets a peer skip the data check; we always
send a correct one, since adb-shell verifies it whatever the version.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<6I")
VERSION_MIN = 0x01000000
VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD = 256 * 1024

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3


def command_word(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


def command_name(word: int) -> bytes:
    return struct.pack("<I", word)


def data_check(payload: bytes) -> int:
    return sum(payload) & 0xFFFFFFFF


@dataclass(frozen=True)
class Message:
    command: bytes
    arg0: int
    arg1: int
    data: bytes = b""

    def pack(self) -> bytes:
        word = command_word(self.command)
        header = HEADER.pack(word, self.arg0, self.arg1, len(self.data), data_check(self.data), word ^ 0xFFFFFFFF)
        return header + self.data


class ProtocolError(Exception):
    """The peer sent something that is not an ADB message; the connection is dropped."""


def read_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ConnectionResetError("peer closed the connection")
        chunks += chunk
    return bytes(chunks)


def read_message(connection: socket.socket, check_data: bool, max_payload: int = 16 * 1024 * 1024) -> Message:
    word, arg0, arg1, length, check, magic = HEADER.unpack(read_exactly(connection, HEADER.size))
    if magic != word ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic in message {command_name(word)!r}")
    if length > max_payload:
        raise ProtocolError(f"payload of {length} bytes is larger than {max_payload}")
    data = read_exactly(connection, length) if length else b""
    if check_data and data_check(data) != check:
        raise ProtocolError(f"data check mismatch in message {command_name(word)!r}")
    return Message(command_name(word), arg0, arg1, data)
