"""Where an SSH device is: the `user@host:port` text of `-d/--devices`, parsed once."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass

from aipep_core.errors import UserError

DEFAULT_PORT = 22

# An IPv6 literal needs brackets so that its colons are not read as the port separator.
_ADDRESS = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?"
    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.%]+)\]|(?P<host>[^@:\s\[\]]+))"
    r"(?::(?P<port>\d+))?$"
)


@dataclass(frozen=True)
class SshAddress:
    user: str
    host: str
    port: int = DEFAULT_PORT

    @property
    def known_hosts_name(self) -> str:
        """The name OpenSSH files this host's key under in known_hosts."""
        return self.host if self.port == DEFAULT_PORT else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}"


def parse_address(text: str | None) -> SshAddress:
    match = _ADDRESS.match(text or "")
    port = int(match["port"]) if match and match["port"] else DEFAULT_PORT
    if not match or not 0 < port < 65536:
        raise UserError(f"--devices: expected user@host:port for an ssh device, got {text!r}")
    return SshAddress(user=match["user"] or getpass.getuser(), host=match["ipv6"] or match["host"], port=port)
