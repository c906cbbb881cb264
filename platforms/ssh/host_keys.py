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
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from aipep_core.errors import DeviceError

TRUST_FLAG = "--ssh_trust_on_first_use"


def default_known_hosts() -> Path:
    return Path.home() / ".ssh" / "known_hosts"


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint as `ssh-keygen -l` prints it, so users can compare the two."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


@dataclass
class KnownHosts:
    """A known_hosts file, and the keys it marks `@revoked`."""

    path: Path
    revoked: set[str] = field(default_factory=set)


def load_known_hosts(path: Path, keys: paramiko.HostKeys) -> KnownHosts:
    """Add the file's plain entries to `keys`, line by line: paramiko refuses a whole file for one marker line.

    Certificate authorities are skipped (boards present plain keys here), and
    `@revoked` keys are remembered so that trusting on first use never adds one.
    """
    known = KnownHosts(path)
    if not path.is_file():
        return known
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "@revoked" and len(fields) >= 4:
            known.revoked.add(fields[3])
            continue
        if fields[0].startswith("@"):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line)
        except paramiko.hostkeys.InvalidHostKey:
            continue
        if entry is not None:
            for hostname in entry.hostnames:
                keys.add(hostname, entry.key.get_name(), entry.key)
    return known


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key that known_hosts does not list (paramiko itself refuses a changed one)."""

    def __init__(self, known_hosts: KnownHosts, trust_on_first_use: bool) -> None:
        self.known_hosts = known_hosts
        self.trust_on_first_use = trust_on_first_use

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        path = self.known_hosts.path
        if key.get_base64() in self.known_hosts.revoked:
            raise DeviceError(f"ssh device {hostname}: host key {fingerprint(key)} is marked @revoked in {path}")
        if not self.trust_on_first_use:
            raise DeviceError(
                f"ssh device {hostname}: host key {fingerprint(key)} is not in {path}; "
                f"check it and add it there, or pass {TRUST_FLAG}"
            )
        _append_line(path, f"{hostname} {key.get_name()} {key.get_base64()}")
        client.get_host_keys().add(hostname, key.get_name(), key)


def changed_key_error(hostname: str, known_hosts: Path, offered: paramiko.PKey) -> DeviceError:
    return DeviceError(
        f"ssh device {hostname}: host key changed to {fingerprint(offered)}, which does not match {known_hosts}; "
        "refusing to connect (remove the old entry only if you know why the key changed)"
    )


def _append_line(path: Path, line: str) -> None:
    """Append without rewriting, starting a new line if the file's last one lacks its newline."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = path.read_bytes() if path.is_file() else b""
    separator = "\n" if text and not text.endswith(b"\n") else ""
    with path.open("a") as handle:
        handle.write(f"{separator}{line}\n")
