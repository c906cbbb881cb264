"""One adb-shell connection to one device, with every wait bounded and every error one line.

It is AdbDeviceTcp with our own transport (see CarefulTcpTransport): a
device that dies mid-run is reported as gone at once instead of after the
read timeout, and large pushes cannot be cut short by a partial send.
"""

from __future__ import annotations

import contextlib
import io
import select
import socket
import time
from pathlib import Path

from adb_shell import exceptions as adb_errors
from adb_shell.adb_device import AdbDevice
from adb_shell.transport.tcp_transport import TcpTransport

from aipep_core.errors import DeviceError, RunFailure, UserError
from platforms.android.adb_key import load_signer

DEFAULT_PORT = 5555
TRANSPORT_TIMEOUT_S = 10.0
ADB_ERRORS = (adb_errors.AdbTimeoutError, adb_errors.TcpTimeoutException, adb_errors.AdbConnectionError, OSError)


class DeviceLost(RunFailure):
    """The device stopped answering or closed the connection."""


class CarefulTcpTransport(TcpTransport):
    """adb-shell's TCP transport, made safe for long pushes and vanishing devices.

    Its socket is non-blocking, yet it sends each buffer with one send() and
    ignores a partial write, which corrupts the stream once a slow phone lets
    the send buffer fill; a closed socket reads as "no data yet"; and a
    message's header and payload go out in two writes that Nagle delays.
    """

    def connect(self, transport_timeout_s: float | None) -> None:
        super().connect(transport_timeout_s)
        self._connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def bulk_read(self, numbytes: int, transport_timeout_s: float | None) -> bytes:
        data = super().bulk_read(numbytes, transport_timeout_s)
        if not data:
            raise ConnectionResetError("the device closed the connection")
        return data

    def bulk_write(self, data: bytes, transport_timeout_s: float | None) -> int:
        pending = memoryview(data)
        deadline = None if transport_timeout_s is None else time.monotonic() + transport_timeout_s
        while pending:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            _, writable, _ = select.select([], [self._connection], [], remaining)
            if not writable:
                raise adb_errors.TcpTimeoutException(f"sending to the device timed out after {transport_timeout_s} s")
            pending = pending[self._connection.send(pending) :]
        return len(data)


def parse_tcp_address(device: str) -> tuple[str, int]:
    host, _, port = device.rpartition(":")
    if not host:
        return device, DEFAULT_PORT
    if not port.isdigit():
        raise UserError(f"--devices: {device}: expected host:port with a numeric port")
    return host, int(port)


def _usb_device(serial: str) -> AdbDevice:
    try:
        from adb_shell.adb_device import AdbDeviceUsb
        from adb_shell.transport.usb_transport import UsbTransport  # noqa: F401 - needs libusb1
    except ImportError:
        raise UserError(
            f"--devices: {serial}: USB devices need the 'libusb1' package (pip install 'adb-shell[usb]'); "
            "give host:port for a device on the network"
        ) from None
    return AdbDeviceUsb(serial=serial, default_transport_timeout_s=TRANSPORT_TIMEOUT_S)


class AdbConnection:
    def __init__(self, device: str, key_dir: str | None = None, connect_timeout_s: float = 10.0) -> None:
        self.device = device
        self._key_dir = key_dir
        self._connect_timeout_s = connect_timeout_s
        self._adb: AdbDevice | None = None
        # Unreachable at first is a wrong address (UserError); unreachable later is a lost device.
        self._was_connected = False

    def _open(self) -> AdbDevice:
        if self._adb is not None:
            return self._adb
        if ":" in self.device or "." in self.device:
            host, port = parse_tcp_address(self.device)
            adb = AdbDevice(CarefulTcpTransport(host, port), default_transport_timeout_s=TRANSPORT_TIMEOUT_S)
        else:
            adb = _usb_device(self.device)
        signer = load_signer(self._key_dir)
        try:
            adb.connect(
                rsa_keys=[signer],
                transport_timeout_s=self._connect_timeout_s,
                auth_timeout_s=self._connect_timeout_s,
                read_timeout_s=self._connect_timeout_s,
            )
        except adb_errors.DeviceAuthError:
            raise DeviceError(f"--devices: {self.device}: the device refused this host's ADB key") from None
        except (*ADB_ERRORS, adb_errors.InvalidResponseError) as exc:
            adb.close()
            if self._was_connected:
                raise DeviceLost(f"android device {self.device}: cannot reconnect over ADB ({_reason(exc)})") from None
            raise DeviceError(f"--devices: {self.device}: cannot connect over ADB ({_reason(exc)})") from None
        self._adb = adb
        self._was_connected = True
        return adb

    def close(self) -> None:
        if self._adb is not None:
            self._adb.close()
            self._adb = None

    def _lost(self, exc: BaseException, doing: str) -> DeviceLost:
        self.close()
        return DeviceLost(f"android device {self.device}: lost while {doing} ({_reason(exc)})")

    def shell(self, command: str, timeout_s: float = 30.0, doing: str = "running a shell command") -> str:
        adb = self._open()
        try:
            output = adb.shell(
                command,
                transport_timeout_s=timeout_s,
                read_timeout_s=timeout_s,
                timeout_s=timeout_s,
                decode=False,
            )
        except ADB_ERRORS as exc:
            raise self._lost(exc, doing) from None
        return output.decode(errors="replace")

    def stat_size(self, remote: str) -> int | None:
        """Size of a remote regular file, None when it is missing."""
        adb = self._open()
        try:
            mode, size, _ = adb.stat(remote, transport_timeout_s=TRANSPORT_TIMEOUT_S, read_timeout_s=30.0)
        except ADB_ERRORS as exc:
            raise self._lost(exc, f"checking {remote}") from None
        return size if mode else None

    def push(self, local: Path, remote: str, timeout_s: float = 600.0) -> None:
        adb = self._open()
        try:
            adb.push(
                str(local), remote, st_mode=0o100755, transport_timeout_s=TRANSPORT_TIMEOUT_S, read_timeout_s=timeout_s
            )
        except (adb_errors.PushFailedError, adb_errors.AdbCommandFailureException) as exc:
            self.close()
            raise DeviceError(
                f"android device {self.device}: cannot push {local.name} to {remote}: {_reason(exc)}"
            ) from None
        except ADB_ERRORS as exc:
            raise self._lost(exc, f"pushing {local.name}") from None

    def pull_bytes(self, remote: str, timeout_s: float = 600.0) -> bytes:
        adb = self._open()
        buffer = io.BytesIO()
        try:
            adb.pull(remote, buffer, transport_timeout_s=TRANSPORT_TIMEOUT_S, read_timeout_s=timeout_s)
        except adb_errors.AdbCommandFailureException as exc:
            self.close()
            raise FileNotFoundError(f"{remote}: {_reason(exc)}") from None
        except ADB_ERRORS as exc:
            raise self._lost(exc, f"pulling {remote}") from None
        return buffer.getvalue()

    def reboot(self) -> None:
        """Ask for a reboot; the device drops the connection, so errors here are expected."""
        adb = self._open()
        with contextlib.suppress(ADB_ERRORS):
            adb.reboot(transport_timeout_s=TRANSPORT_TIMEOUT_S, read_timeout_s=5.0, timeout_s=5.0)
        self.close()


def _reason(exc: BaseException) -> str:
    """The first line of an error, whether adb-shell gave it as text or as the device's bytes."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = exc.args[0] if exc.args else ""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode(errors="replace")
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
