"""The real server (waitress and the Flask app) on a free loopback port, in a thread of the test process.

Stopping runs in waitress's own loop thread (through its trigger), so connections a
client left open are closed by the thread that owns them and the loop ends at once.
The server takes the limits of the command line's flags (ClientLimits, ConnectionLimits),
so a test can make one small enough to reach.
"""

from __future__ import annotations

import contextlib
import threading

from waitress import wasyncore

from server.database import open_database
from server.guarded_server import ConnectionLimits
from server.limits import ClientLimits
from server.serve import ServeOptions, make_server
from server.server_state import ServerState
from server.tokens import create_token

DEFAULT_MAX_BODY = 16 * 1024 * 1024


class ServerThread:
    def __init__(
        self,
        database_url: str,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        limits: ClientLimits | None = None,
        connections: ConnectionLimits | None = None,
    ) -> None:
        self.engine = open_database(database_url)
        state = ServerState(self.engine, max_body_bytes, limits or ClientLimits())
        options = ServeOptions("127.0.0.1", 0, max_body_bytes, threads=4, connections=connections or ConnectionLimits())
        self.server = make_server(state, options)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.token = create_token(self.engine, "tests")
        self._thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # pull_trigger queues the thunk before writing its wake-up byte; when the loop wakes for
        # another reason in between, it runs the thunk, which closes the trigger under the write.
        with contextlib.suppress(OSError):
            self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self._thread.join(timeout=30)
        self.server.task_dispatcher.shutdown()
        self.engine.dispose()
        if self._thread.is_alive():
            raise RuntimeError("the server thread did not stop")
