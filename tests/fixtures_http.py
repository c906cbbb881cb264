"""A real HTTP server on 127.0.0.1 whose answers a test scripts, one per request.

Download code has to cope with servers that lie (wrong bytes), fail (error
statuses) and hang up mid-body; scripting those on a real socket exercises
requests and urllib3 exactly as a remote server would.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    """One scripted response: `body` with `status`; `cut_after` bytes sent before hanging up, if set.

    A cut answer still announces the full Content-Length, as a server that dies
    mid-transfer would.
    """

    body: bytes
    status: int = 200
    cut_after: int | None = None


class ScriptedServer:
    """Serves, per path, its answers in order; the last one repeats. Counts requests per path."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def serve(self, path: str, *answers: Answer) -> str:
        """Script `path` and return its URL."""
        self.answers[path] = list(answers)
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def next_answer(self, path: str) -> Answer | None:
        with self.lock:
            self.requests[path] += 1
            script = self.answers.get(path)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer = server.next_answer(self.path)
            if answer is None:
                answer = Answer(b"not scripted\n", status=404)
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            if answer.cut_after is None:
                self.wfile.write(answer.body)
                return
            self.wfile.write(answer.body[: answer.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: pytest output should not carry one access-log line per request."""

    return Handler


def dead_port_url() -> str:
    """A loopback URL nothing listens on: the port was just free, so a connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.onnx"
