"""The loopback device's `sync:` service (file transfer), mapped onto its root directory.

Requests are [id 4 bytes][u32 length][payload]. Supported: STAT, STA2 and
LST2 (stat_v2), LIST, SEND (then DATA... DONE), RECV, QUIT. With
--max_bytes the device's storage is that small, so a SEND that would pass it
fails the way a full phone does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
from pathlib import Path

from platforms.android.loopback.device_tree import GENERATED_ROOTS
from platforms.android.loopback.path_rewrite import host_path
from platforms.android.loopback.streams import DeviceConfig, Stream

REQUEST = struct.Struct("<4sI")
STAT_V1 = struct.Struct("<4sIII")
STAT_V2 = struct.Struct("<4sIQQIIIIQqqq")
DENT = struct.Struct("<4sIIII")
SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024
NO_SPACE = "No space left on device"


class _Reader:
    """Bytes of a stream, whatever WRTE boundaries they came in."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self.stream.read()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


def serve_sync(stream: Stream, destination: str, config: DeviceConfig) -> None:
    reader = _Reader(stream)
    while True:
        command, length = REQUEST.unpack(reader.read(REQUEST.size))
        if command == b"QUIT":
            return
        if length > MAX_PATH:
            stream.write(_fail("path too long"))
            return
        path = reader.read(length).decode(errors="surrogateescape")
        if command == b"STAT":
            stream.write(_stat_v1(host_path(config.root, path)))
        elif command in (b"STA2", b"LST2"):
            stream.write(_stat_v2(command, host_path(config.root, path), follow=command == b"STA2"))
        elif command == b"LIST":
            stream.write(_list(host_path(config.root, path)))
        elif command == b"RECV":
            _send_file(stream, host_path(config.root, path))
        elif command == b"SEND":
            stream.write(_receive_file(reader, config, path))
        else:
            stream.write(_fail(f"unknown sync command {command!r}"))
            return


def _fail(message: str) -> bytes:
    encoded = message.encode()
    return REQUEST.pack(b"FAIL", len(encoded)) + encoded


def _stat_v1(path: Path) -> bytes:
    try:
        info = os.lstat(path)
    except OSError:
        return STAT_V1.pack(b"STAT", 0, 0, 0)
    return STAT_V1.pack(b"STAT", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime) & 0xFFFFFFFF)


def _stat_v2(command: bytes, path: Path, follow: bool) -> bytes:
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except OSError as exc:
        return STAT_V2.pack(command, exc.errno or errno.EIO, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return STAT_V2.pack(
        command,
        0,
        info.st_dev,
        info.st_ino,
        info.st_mode,
        info.st_nlink,
        info.st_uid,
        info.st_gid,
        info.st_size,
        int(info.st_atime),
        int(info.st_mtime),
        int(info.st_ctime),
    )


def _list(path: Path) -> bytes:
    entries = bytearray()
    with contextlib.suppress(OSError):
        for name in [".", "..", *sorted(os.listdir(path))]:
            with contextlib.suppress(OSError):
                info = os.lstat(path / name)
                encoded = name.encode(errors="surrogateescape")
                entries += DENT.pack(b"DENT", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime), len(encoded))
                entries += encoded
    return bytes(entries) + DENT.pack(b"DONE", 0, 0, 0, 0)


def _send_file(stream: Stream, path: Path) -> None:
    try:
        source = open(path, "rb")  # noqa: SIM115 - kept open across several writes
    except OSError as exc:
        stream.write(_fail(os.strerror(exc.errno or errno.EIO)))
        return
    with source:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
            stream.write(_fail("not a regular file"))
            return
        while chunk := source.read(SYNC_DATA_MAX):
            stream.write(REQUEST.pack(b"DATA", len(chunk)) + chunk)
    stream.write(REQUEST.pack(b"DONE", 0))


def _receive_file(reader: _Reader, config: DeviceConfig, spec: str) -> bytes:
    """Take a SEND through to its DONE, failing at the end if anything went wrong, as adbd does."""
    device_path, _, mode_text = spec.rpartition(",")
    target = host_path(config.root, device_path)
    mode = int(mode_text) if mode_text.isdigit() else 0o644
    error = None
    free = None if config.max_bytes is None else config.max_bytes - _used_bytes(config.root)
    written = 0
    output = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        output = open(target, "wb")  # noqa: SIM115 - written chunk by chunk below
    except OSError as exc:
        error = f"{device_path}: {os.strerror(exc.errno or errno.EIO)}"
    while True:
        command, size = REQUEST.unpack(reader.read(REQUEST.size))
        if command == b"DONE":
            mtime = size
            break
        if command != b"DATA":
            error = error or f"unexpected {command!r} during SEND"
            break
        chunk = reader.read(size)
        written += len(chunk)
        if free is not None and written > free:
            error = error or NO_SPACE
        if output is not None and error is None:
            output.write(chunk)
    if output is not None:
        output.close()
        if error is None:
            os.chmod(target, stat.S_IMODE(mode) or 0o644)
            os.utime(target, (mtime, mtime))
        else:
            target.unlink(missing_ok=True)
    return _fail(error) if error else REQUEST.pack(b"OKAY", 0)


def _used_bytes(root: Path) -> int:
    total = 0
    for directory, subdirectories, files in os.walk(root):
        if Path(directory) == root:
            subdirectories[:] = [name for name in subdirectories if name not in GENERATED_ROOTS]
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total
