"""JSON bodies for the refusals waitress makes itself, before the application runs.

Waitress refuses an oversized body from its Content-Length header (or, when chunked,
as soon as the count passes the limit), which is what keeps a huge upload from being
read at all; but it answers in text/plain. The API promises JSON for every answer, so
the channel that serves a connection is given an error task that writes the same
{"error": reason} the application writes.
"""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

from aipep_core.strict_json import strict_json
from server.http_json import body_limit_reason


class JsonErrorTask(ErrorTask):
    def execute(self) -> None:
        error = self.request.error
        if error.code == 413:
            # serve.py sets waitress one byte above the limit, since waitress refuses a body equal to its own.
            reason = body_limit_reason(self.channel.adj.max_request_body_size - 1)
        else:
            reason = f"{error.reason}: {error.body}"
        body = strict_json({"error": reason}).encode("utf-8")
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    """Serves one connection; make_server sets it as the server's channel class."""

    error_task_class = JsonErrorTask
