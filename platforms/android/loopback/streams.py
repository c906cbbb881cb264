"""One client connection to the loopback device: handshake, AUTH, and multiplexed streams.

Every OPEN becomes a Stream served by its own thread. Flow control follows
the legacy protocol both Debian's adb and adb-shell speak: after sending a
WRTE a side waits for the peer's OKAY before sending the next one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from platforms.android.loopback import wire
from platforms.android.loopback.adb_public_key import verify_token_signature
from platforms.android.loopback.device_tree import DeviceOptions
from platforms.android.loopback.wire import Message

# A peer that stops acknowledging for this long is taken to be gone.
WRITE_ACK_TIMEOUT_S = 60.0


@dataclass
class DeviceConfig:
    root: Path
    options: DeviceOptions
    max_bytes: int | None = None
    authorized_keys: tuple[bytes, ...] | None = None  # None: any signature is accepted


class StreamClosed(Exception):
    """The peer closed the stream (or the whole connection went away)."""


class Stream:
    def __init__(self, connection: Connection, local_id: int, remote_id: int) -> None:
        self.connection = connection
        self.local_id = local_id
        self.remote_id = remote_id
        self.incoming: queue.Queue[bytes | None] = queue.Queue()
        self._may_write = threading.Event()
        self._may_write.set()
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._close_lock = threading.Lock()
        self._on_close: list[Callable[[], None]] = []

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def write(self, data: bytes) -> None:
        with self._write_lock:
            for start in range(0, len(data), self.connection.max_payload):
                if not self._may_write.wait(WRITE_ACK_TIMEOUT_S) or self.closed:
                    raise StreamClosed()
                self._may_write.clear()
                chunk = data[start : start + self.connection.max_payload]
                self.connection.send(Message(b"WRTE", self.local_id, self.remote_id, chunk))

    def read(self) -> bytes:
        data = self.incoming.get()
        if data is None:
            raise StreamClosed()
        return data

    def close(self) -> None:
        """Close from either side; the peer gets one CLSE, as adb-shell waits for it."""
        with self._close_lock:
            if not self.closed:
                self.connection.send(Message(b"CLSE", self.local_id, self.remote_id))
            self.abandon()

    def abandon(self) -> None:
        """Forget the stream without telling the peer (the connection is gone)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._may_write.set()
        self.incoming.put(None)
        for callback in self._on_close:
            callback()
        self.connection.forget(self.local_id)

    def acknowledged(self) -> None:
        self._may_write.set()


Service = Callable[[Stream, str, DeviceConfig], None]


class Connection:
    def __init__(self, sock: socket.socket, config: DeviceConfig, services: Callable[[str], Service | None]) -> None:
        self.sock = sock
        self.config = config
        self.services = services
        self.max_payload = 4096
        self.version = wire.VERSION_MIN
        self._send_lock = threading.Lock()
        self._streams: dict[int, Stream] = {}
        self._streams_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._token = os.urandom(20)
        self._online = False

    def send(self, message: Message) -> None:
        with self._send_lock:
            self.sock.sendall(message.pack())

    def forget(self, local_id: int) -> None:
        with self._streams_lock:
            self._streams.pop(local_id, None)

    def serve(self) -> None:
        try:
            while True:
                check = self.version < wire.VERSION_SKIP_CHECKSUM
                message = wire.read_message(self.sock, check_data=check)
                self._dispatch(message)
        except (OSError, wire.ProtocolError):
            pass
        finally:
            self.drop()

    def drop(self) -> None:
        """End the connection: every stream is closed, which kills what it runs."""
        with self._streams_lock:
            streams = list(self._streams.values())
        for stream in streams:
            stream.abandon()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()

    def _dispatch(self, message: Message) -> None:
        if message.command == b"CNXN":
            self.version = min(message.arg0, wire.VERSION_SKIP_CHECKSUM)
            self.max_payload = max(4096, min(message.arg1, wire.MAX_PAYLOAD))
            if self._online:
                self._send_connect()
            else:
                self.send(Message(b"AUTH", wire.AUTH_TOKEN, 0, self._token))
        elif message.command == b"AUTH":
            self._authenticate(message)
        elif not self._online:
            raise wire.ProtocolError(f"{message.command!r} before authentication")
        elif message.command == b"OPEN":
            self._open(message)
        else:
            stream = self._streams.get(message.arg1)
            if stream is None:
                return
            if message.command == b"WRTE":
                stream.incoming.put(message.data)
                self.send(Message(b"OKAY", stream.local_id, stream.remote_id))
            elif message.command == b"OKAY":
                stream.acknowledged()
            elif message.command == b"CLSE":
                stream.close()

    def _authenticate(self, message: Message) -> None:
        keys = self.config.authorized_keys
        if message.arg0 == wire.AUTH_SIGNATURE:
            if keys is None or any(verify_token_signature(key, self._token, message.data) for key in keys):
                self._send_connect()
            else:
                self._token = os.urandom(20)
                self.send(Message(b"AUTH", wire.AUTH_TOKEN, 0, self._token))
        elif message.arg0 == wire.AUTH_RSAPUBLICKEY:
            if keys is not None:
                # A phone would ask its user; the loopback device refuses unknown keys outright.
                raise wire.ProtocolError("public key not in --adb_keys")
            self._send_connect()

    def _send_connect(self) -> None:
        self._online = True
        self.send(Message(b"CNXN", self.version, wire.MAX_PAYLOAD, self.config.options.banner()))

    def _open(self, message: Message) -> None:
        destination = message.data.rstrip(b"\0").decode(errors="replace")
        service = self.services(destination)
        if service is None:
            self.send(Message(b"CLSE", 0, message.arg0))
            return
        stream = Stream(self, next(self._ids), message.arg0)
        with self._streams_lock:
            self._streams[stream.local_id] = stream
        self.send(Message(b"OKAY", stream.local_id, stream.remote_id))
        threading.Thread(target=self._run_service, args=(service, stream, destination), daemon=True).start()

    def _run_service(self, service: Service, stream: Stream, destination: str) -> None:
        try:
            service(stream, destination, self.config)
        except (StreamClosed, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stream.close()
