"""Running the application under waitress.

Waitress, because it is a production WSGI server in pure Python: nothing to compile,
the same on every platform, a thread pool that suits a server doing short database
queries, and a request-body limit enforced before the body is read. A team that wants
a reverse proxy or another WSGI server in front can serve `create_app` with it instead.
guarded_server.py adds what waitress lacks against clients that connect and stall.

The listening socket is bound here rather than by waitress so that a port in use or a
host that does not resolve becomes one line for the user, and `--port 0` can report
the port the system chose.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from waitress.adjustments import Adjustments

from aipep_core.errors import UserError
from server.app import create_app
from server.guarded_server import ConnectionLimits, GuardedServer, connection_limit
from server.server_state import ServerState

DEFAULT_THREADS = 8


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    max_body_bytes: int
    threads: int = DEFAULT_THREADS
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)


def make_server(state: ServerState, options: ServeOptions) -> GuardedServer:
    """A waitress server already listening; call run() to serve and close() to stop."""
    listener = _listen(options.host, options.port)
    adjustments = Adjustments(
        sockets=[listener],
        threads=options.threads,
        # waitress refuses a body of exactly max_request_body_size; the limit itself is allowed.
        max_request_body_size=options.max_body_bytes + 1,
        ident="aipep-server",
        connection_limit=connection_limit(options.connections.max_connections),
        channel_timeout=options.connections.idle_seconds,
        cleanup_interval=1,
        asyncore_use_poll=True,
    )
    server = GuardedServer(
        create_app(state),
        map={},
        _sock=listener,
        adj=adjustments,
        bind_socket=False,
        sockinfo=(listener.family, listener.type, listener.proto, listener.getsockname()),
    )
    server.limits = options.connections
    return server


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise UserError(f"--host {host}: expected a host name or address of this machine ({error.strerror})") from None
    try:
        return socket.create_server(address[:2], family=family)
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise UserError(f"--host {host} --port {port}: cannot listen there ({reason})") from None
