"""The client side of the results server's API: one POST per result and what its answer means.

The reporter only needs to know which of five things happened, because each one has its
own fate for the result: stored (remove it from the outbox), the token was refused (stop
sending, keep nothing), the record was refused (never send it again), the server failed on
this record (try the others first, this one later), or the server is in trouble (keep
everything, in order, and try later). Connect and read timeouts are always set, so a server
that accepts a connection and then says nothing cannot stall a benchmark run, and at most
ANSWER_BYTES of any answer are read, so a server that answers with a huge page cannot fill
the harness's memory.
"""

from __future__ import annotations

import enum
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from aipep_core.errors import UserError

RESULTS_PATH = "/api/v1/results"
ACCESS_TOKEN_ENV = "AIPEP_REMOTE_ACCESS_TOKEN"
RETRIED_STATUSES = frozenset({408, 429})
REJECTED_STATUSES = frozenset({400, 413})
TOKEN_REFUSED_STATUS = 401
STORED_STATUSES = frozenset({200, 201})
# 5xx answers that speak for the whole server (down, overloaded, behind a proxy that cannot
# reach it); any other 5xx may be this one record's doing.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
REASON_LENGTH = 200
ANSWER_BYTES = 64 * 1024


class Answer(enum.Enum):
    STORED = "stored"
    TOKEN_REFUSED = "token refused"
    REJECTED = "rejected"
    FAILED_ON_RECORD = "failed on the record"
    TROUBLE = "trouble"


@dataclass(frozen=True)
class Outcome:
    """What became of one POST; `reason` is for people and never holds the token."""

    answer: Answer
    status: int | None
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a result is re-sent while the server is in trouble.

    The default waits 0.5 + 1 + 2 seconds in all: enough to ride out a server restart,
    short enough that a dead server costs a run only a few seconds before the outbox
    takes over.
    """

    attempts: int = 4
    first_delay: float = 0.5
    factor: float = 2.0

    def delays(self) -> list[float]:
        return [self.first_delay * self.factor**index for index in range(max(self.attempts - 1, 0))]


SINGLE_ATTEMPT = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


def check_server_url(url: str) -> str:
    """The URL without a trailing slash, or a UserError naming what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--remote_reporter: expected an http:// or https:// URL of a results server, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise UserError("--remote_reporter: expected a URL without user or password; give the token separately")
    if parts.query or parts.fragment:
        raise UserError(f"--remote_reporter: expected the server's base URL without ? or #, got {url!r}")
    return url.rstrip("/")


def check_token(token: str | None) -> str:
    """The token, or a UserError that never repeats it: a missing or malformed token could only earn 401s.

    Surrounding whitespace is dropped, since a token read from a file often ends in a newline.
    """
    token = (token or "").strip()
    if not token:
        raise UserError(
            "--remote_access_token: expected a token for --remote_reporter "
            f"(or {ACCESS_TOKEN_ENV} in the environment), got none"
        )
    if any(character.isspace() or not character.isprintable() for character in token):
        raise UserError("--remote_access_token: expected a token without spaces, line breaks or control characters")
    return token


class ResultsServer:
    def __init__(self, url: str, token: str, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.endpoint = url + RESULTS_PATH
        self.timeouts = timeouts or Timeouts()
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def post(self, body: str, retry: RetryPolicy) -> Outcome:
        """Send one result, again after each delay while the answer is retryable trouble."""
        delays = retry.delays()
        while True:
            outcome, retryable = self._post_once(body)
            if not retryable or not delays:
                return outcome
            time.sleep(delays.pop(0))

    def close(self) -> None:
        self.session.close()

    def _post_once(self, body: str) -> tuple[Outcome, bool]:
        try:
            response = self.session.post(
                self.endpoint,
                data=body.encode("utf-8"),
                timeout=(self.timeouts.connect, self.timeouts.read),
                allow_redirects=False,
                stream=True,
            )
        except requests.ConnectTimeout:
            return Outcome(Answer.TROUBLE, None, f"no connection within {self.timeouts.connect:g} s"), True
        except requests.ReadTimeout:
            return Outcome(Answer.TROUBLE, None, f"no answer within {self.timeouts.read:g} s"), True
        except requests.RequestException as error:
            return Outcome(Answer.TROUBLE, None, _connection_reason(error)), True
        with response:
            try:
                answer = _start_of_answer(response)
            except requests.RequestException as error:
                return Outcome(Answer.TROUBLE, response.status_code, _connection_reason(error)), True
            return _classify(response, answer)


def _start_of_answer(response: requests.Response) -> bytes:
    """At most ANSWER_BYTES of the body; closing the response drops the rest unread."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= ANSWER_BYTES:
            break
    return b"".join(chunks)[:ANSWER_BYTES]


def _classify(response: requests.Response, answer: bytes) -> tuple[Outcome, bool]:
    status = response.status_code
    if status in STORED_STATUSES:
        return Outcome(Answer.STORED, status, "created" if status == 201 else "already stored"), False
    reason = _server_reason(response, answer)
    if status == TOKEN_REFUSED_STATUS:
        return Outcome(Answer.TOKEN_REFUSED, status, reason), False
    if status in REJECTED_STATUSES:
        return Outcome(Answer.REJECTED, status, reason), False
    if status >= 500 and status not in UNAVAILABLE_STATUSES:
        return Outcome(Answer.FAILED_ON_RECORD, status, reason), True
    retryable = status >= 500 or status in RETRIED_STATUSES
    if not retryable:
        reason = f"{reason}; expected 201 or 200 from {RESULTS_PATH}: is this an aipep results server?"
    return Outcome(Answer.TROUBLE, status, reason), retryable


def _server_reason(response: requests.Response, answer: bytes) -> str:
    """The server's `error` field when it sent one, else the start of its text, on one line."""
    text = answer.decode(response.encoding or "utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        text = document["error"]
    return _one_line(text.strip() or response.reason or "no reason given")


def _connection_reason(error: requests.RequestException) -> str:
    """The operating system's words (`Connection refused`) instead of urllib3's nested repr."""
    text = str(error)
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if found:
        return found.group(1).strip()
    found = re.search(r"(Remote end closed connection without response|Connection reset by peer)", text)
    if found:
        return found.group(1)
    return _one_line(f"{type(error).__name__}: {text}")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 3] + "..."
