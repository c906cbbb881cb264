"""Host key checking: a board's key is trusted only if known_hosts already has it.

A benchmark result is worth nothing if it came from a machine other than the
one named, so an unknown key is refused unless the user asked to trust it on
first use, and a changed key is always refused. Trusted keys are appended to
the known_hosts file as one OpenSSH-format line; the file is never rewritten,
so entries paramiko cannot parse (markers, certificates) survive.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import paramiko

from harness.errors import UserError

TRUST_FLAG = "--ssh_trust_on_first_use"


def default_known_hosts() -> Path:
    return Path.home() / ".ssh" / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint as `ssh-keygen -l` prints it, so users can compare the two."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key that known_hosts does not list (paramiko itself refuses a changed one)."""

    def __init__(self, known_hosts: Path, trust_on_first_use: bool) -> None:
        self.known_hosts = known_hosts
        self.trust_on_first_use = trust_on_first_use

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        if not self.trust_on_first_use:
            raise UserError(
                f"ssh device {hostname}: host key {fingerprint(key)} is not in {self.known_hosts}; "
                f"check it and add it there, or pass {TRUST_FLAG}"
            )
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.known_hosts.open("a+b") as handle:
            handle.seek(0, 2)
            if handle.tell():
                handle.seek(-1, 2)
                separator = b"" if handle.read(1) == b"\n" else b"\n"
            else:
                separator = b""
            handle.write(separator + f"{hostname} {key.get_name()} {key.get_base64()}\n".encode())
        client.get_host_keys().add(hostname, key.get_name(), key)


def changed_key_error(hostname: str, known_hosts: Path, offered: paramiko.PKey) -> UserError:
    return UserError(
        f"ssh device {hostname}: host key changed to {fingerprint(offered)}, which does not match {known_hosts}; "
        "refusing to connect (remove the old entry only if you know why the key changed)"
    )
