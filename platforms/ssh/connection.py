"""One authenticated SSH connection to a board, and the rule that no network wait is unbounded.

Failures split in two on purpose. Before the first successful connection
everything is the user's to fix (wrong address, key, host key): UserError.
Once connected, a vanished device is a failure of the run, recorded with its
logs: DeviceLostError, a RunFailure.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko

from aipep_core.errors import DeviceError, RunFailure, UserError
from platforms.bounded_output import BoundedCapture
from platforms.ssh.address import SshAddress
from platforms.ssh.host_keys import KnownHostsPolicy, changed_key_error, load_known_hosts

# The kernel gives up on a silent peer after idle + interval * count seconds, so a board that loses power
# mid-run is noticed even while we only wait for its output.
KEEPALIVE_IDLE_S = 5
KEEPALIVE_INTERVAL_S = 2
KEEPALIVE_COUNT = 3

_POLL_S = 0.1
# sshd may send the exit status before the last of the program's output; after the status,
# output is read until the channel's end-of-file, this long at most (a process the program
# left behind may hold its output open).
_EOF_GRACE_S = 2.0

# Where a channel's output goes: a bytearray, or a bounded capture for a benchmark's output.
Sink = bytearray | BoundedCapture


class DeviceLostError(RunFailure):
    """The SSH device stopped answering (sshd stopped, network or power gone) while we used it."""


@dataclass(frozen=True)
class CommandOutput:
    status: int | None
    stdout: bytes
    stderr: bytes


class SshConnection:
    """A connected client plus its SFTP session, opened on first use."""

    def __init__(self, address: SshAddress, client: paramiko.SSHClient, timeout: float) -> None:
        self.address = address
        self.timeout = timeout
        self._client = client
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def transport(self) -> paramiko.Transport:
        return self._client.get_transport()

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            with self.guard("opening SFTP"):
                self._sftp = self._client.open_sftp()
                self._sftp.get_channel().settimeout(self.timeout)
        return self._sftp

    def start(self, command: str) -> paramiko.Channel:
        """Start a remote command whose stdin is already closed."""
        with self.guard("starting a command"):
            channel = self.transport.open_session(timeout=self.timeout)
            channel.settimeout(self.timeout)
            channel.exec_command(command)
            channel.shutdown_write()
        return channel

    def execute(self, command: str, timeout: float | None = None) -> CommandOutput:
        """Run a short helper command (checksums, mkdir, kill) to completion."""
        limit = timeout or self.timeout
        channel = self.start(command)
        stdout, stderr = bytearray(), bytearray()
        try:
            if not self.read_until_exit(channel, stdout, stderr, time.monotonic() + limit):
                raise DeviceLostError(f"ssh device {self.address}: no answer within {limit:g} s")
        finally:
            channel.close()
        return CommandOutput(exit_status(channel), bytes(stdout), bytes(stderr))

    def read_until_exit(self, channel: paramiko.Channel, stdout: Sink, stderr: Sink, deadline: float) -> bool:
        """Append a channel's output until its exit status arrives; False if the deadline passes first."""
        while True:
            with self.guard("reading command output"):
                drained = _drain(channel, stdout, stderr)
                if not drained and channel.exit_status_ready():
                    break
                if not self.transport.is_active():
                    raise EOFError("transport closed")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if not drained:
                    select.select([channel], [], [], min(_POLL_S, remaining))
        with self.guard("reading command output"):
            _drain_to_eof(channel, stdout, stderr, time.monotonic() + _EOF_GRACE_S)
        if exit_status(channel) is None and not self.transport.is_active():
            raise DeviceLostError(f"ssh device {self.address}: connection lost while reading command output")
        return True

    @contextlib.contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn the many ways paramiko reports a dead peer into one DeviceLostError."""
        try:
            yield
        except (paramiko.SSHException, EOFError, ConnectionError, TimeoutError) as exc:
            if self.transport is not None and self.transport.is_active():
                reason = str(exc) or type(exc).__name__
                raise DeviceLostError(f"ssh device {self.address}: {doing} failed: {reason}") from None
            raise DeviceLostError(f"ssh device {self.address}: connection lost while {doing}") from None

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
        self._client.close()


def connect(
    address: SshAddress, identity: Path | None, known_hosts: Path, trust_on_first_use: bool, timeout: float
) -> SshConnection:
    """Connect with key authentication only; every refusal is one UserError line."""
    key = _load_identity(identity)
    client = paramiko.SSHClient()
    known = load_known_hosts(known_hosts, client.get_host_keys())
    client.set_missing_host_key_policy(KnownHostsPolicy(known, trust_on_first_use))
    sock = _open_socket(address, timeout)
    try:
        _authenticate(client, sock, address, key, identity, known_hosts, timeout)
    except BaseException:
        client.close()
        sock.close()
        raise
    return SshConnection(address, client, timeout)


def _authenticate(
    client: paramiko.SSHClient,
    sock: socket.socket,
    address: SshAddress,
    key: paramiko.PKey,
    identity: Path,
    known_hosts: Path,
    timeout: float,
) -> None:
    try:
        client.connect(
            address.host,
            port=address.port,
            username=address.user,
            pkey=key,
            sock=sock,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            channel_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException as exc:
        raise changed_key_error(address.known_hosts_name, known_hosts, exc.key) from None
    except paramiko.AuthenticationException:
        raise DeviceError(f"--ssh_identity: {identity}: ssh device {address} refused this key") from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise DeviceError(f"--devices: {address}: no working SSH server there ({exc or type(exc).__name__})") from None


def _load_identity(identity: Path | None) -> paramiko.PKey:
    if identity is None:
        raise UserError("--ssh_identity: expected the private key file for ssh devices, got nothing")
    try:
        return paramiko.PKey.from_path(Path(identity).expanduser())
    except FileNotFoundError:
        raise UserError(f"--ssh_identity: {identity}: no such file") from None
    except paramiko.PasswordRequiredException:
        raise UserError(f"--ssh_identity: {identity}: expected a key without a passphrase") from None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise UserError(f"--ssh_identity: {identity}: expected an OpenSSH private key ({exc})") from None


def _open_socket(address: SshAddress, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
    except TimeoutError:
        raise DeviceError(f"--devices: {address}: cannot reach it, no answer within {timeout:g} s") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DeviceError(f"--devices: {address}: cannot reach it ({reason})") from None
    # Small requests back to back (open a channel, exec, read a status) stall on Nagle's algorithm otherwise.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        # Keepalive only probes an idle link; this bounds the wait for data we sent and the peer never acked.
        ("TCP_USER_TIMEOUT", 1000 * (KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_COUNT)),
    ):
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    return sock


def exit_status(channel: paramiko.Channel) -> int | None:
    """The remote exit status, or None when the command ended without one (killed by a signal)."""
    if not channel.exit_status_ready():
        return None
    status = channel.recv_exit_status()
    return None if status == -1 else status


def _drain_to_eof(channel: paramiko.Channel, stdout: Sink, stderr: Sink, deadline: float) -> None:
    while True:
        drained = _drain(channel, stdout, stderr)
        if channel.eof_received or channel.closed or time.monotonic() >= deadline:
            break
        if not drained:
            select.select([channel], [], [], _POLL_S)
    _drain(channel, stdout, stderr)


def _drain(channel: paramiko.Channel, stdout: Sink, stderr: Sink) -> bool:
    drained = False
    while channel.recv_ready():
        stdout.extend(channel.recv(65536))
        drained = True
    while channel.recv_stderr_ready():
        stderr.extend(channel.recv_stderr(65536))
        drained = True
    return drained
