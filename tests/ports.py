"""Ports for the servers the tests start, so that no test passes or fails by chance.

The best port is one nobody else can take: a socket bound to port 0 and kept (handed to a
server that accepts a socket), or a server started on port 0 that reports what it got.
sshd, PostgreSQL and the adb server can do neither: they must be told a number. They get
one the kernel has just handed out, and since another process may take it in the moment
before the server binds it, a server that says the port is taken is started again on a
new one, a bounded number of times.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

Server = TypeVar("Server")

# Each retry needs another process to grab a fresh random port within milliseconds;
# ten in a row do not happen on a working machine.
ATTEMPTS = 10


class PortTaken(Exception):
    """The server could not listen on the port it was given: another process holds it."""


def kernel_chosen_port(host: str = "127.0.0.1") -> int:
    """A port the kernel just found free; only for start_on_a_free_port, which copes when it is taken."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_on_a_free_port(
    start: Callable[[int], Server], choose_port: Callable[[], int] = kernel_chosen_port, attempts: int = ATTEMPTS
) -> Server:
    """`start(port)` a server, raising PortTaken when it cannot listen; a new port is chosen then."""
    taken = []
    for _ in range(attempts):
        port = choose_port()
        try:
            return start(port)
        except PortTaken:
            taken.append(port)
    raise RuntimeError(f"another process took every port chosen for the server: {taken}")
