"""Fetching one URL into a file atomically, with its md5 computed on the way.

The model cache must never hold a partial or corrupt file: a later run would
trust it. So bytes go to a temporary file next to the destination and reach
their final name only by `os.replace`, after the whole body arrived; on any
failure (including Ctrl-C, and SIGTERM where nothing else handles it) the
temporary file is removed.

A server decides how much it sends, so a body is capped: a Content-Length
above the cap is refused before anything is written, and a body that grows
past it while streaming is cut there and refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import requests

CHUNK_BYTES = 1 << 20
# Below this size a download is over before a progress line would help anyone
# reading a log; on a terminal progress is shown for every size.
LARGE_FILE_BYTES = 64 << 20
# Larger than any model a phone or a board runs, small enough that a lying or
# misconfigured server cannot fill a lab host's disk; --max_download_mb raises it.
DEFAULT_MAX_BYTES = 8 << 30


class DownloadError(Exception):
    """A download did not deliver the whole body; the message is the reason, in a few words."""


class DownloadTooLarge(DownloadError):
    """The body is (or announces itself as) larger than the cap the caller set."""


class _Terminated(BaseException):
    """SIGTERM arrived during a download; raised so the partial file is removed on the way out."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for the connection, and for each read once connected."""

    connect: float = 10.0
    read: float = 60.0


DEFAULT_TIMEOUTS = Timeouts()


def download(
    url: str,
    destination: Path,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    progress: TextIO | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """Write the body of `url` to `destination` and return its md5 (hex).

    `destination` either does not change or is replaced by the complete body
    of at most `max_bytes`. Progress goes to `progress` (stderr by default)
    when it is a terminal or the file is large.
    """
    progress = sys.stderr if progress is None else progress
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_removes_partial_files():
        handle, temporary_name = tempfile.mkstemp(
            dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
        )
        temporary = Path(temporary_name)
        try:
            with os.fdopen(handle, "wb") as sink:
                digest = _stream(url, sink, timeouts, progress, max_bytes)
            os.replace(temporary, destination)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    return digest


@contextlib.contextmanager
def _sigterm_removes_partial_files() -> Iterator[None]:
    """Let SIGTERM unwind like Ctrl-C does, then end the process by SIGTERM as it would have.

    By default SIGTERM kills at once and the `.part` file stays in the cache.
    Only the default disposition is replaced, and only on the main thread
    (where Python runs handlers): a process that handles or ignores SIGTERM
    itself, like the repo driver, keeps its own behaviour.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stream(url: str, sink, timeouts: Timeouts, progress: TextIO, max_bytes: int) -> str:
    digest = hashlib.md5()
    try:
        with requests.get(url, stream=True, timeout=(timeouts.connect, timeouts.read)) as response:
            if response.status_code >= 400:
                raise DownloadError(f"HTTP {response.status_code} {response.reason}".rstrip())
            expected = _content_length(response)
            if expected is not None and expected > max_bytes:
                raise DownloadTooLarge(f"the server announces {_size(expected)}, more than the {_size(max_bytes)} cap")
            meter = _ProgressMeter(progress, expected)
            received = 0
            for chunk in response.iter_content(CHUNK_BYTES):
                if received + len(chunk) > max_bytes:
                    raise DownloadTooLarge(f"the body grew past the {_size(max_bytes)} cap; cut there")
                sink.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                meter.update(received)
            meter.finish(received)
    except requests.exceptions.ConnectTimeout:
        raise DownloadError(f"no connection within {timeouts.connect:g} s") from None
    except requests.exceptions.ReadTimeout:
        raise DownloadError(f"no data for {timeouts.read:g} s") from None
    except requests.exceptions.RequestException as error:
        raise DownloadError(_reason(error, timeouts)) from None
    if expected is not None and received != expected:
        raise DownloadError(f"connection closed after {received} of {expected} bytes")
    return digest.hexdigest()


def _size(count: int) -> str:
    """Bytes as a person reads them, exact below a MiB."""
    if count < 1 << 20:
        return f"{count} bytes"
    if count < 1 << 30:
        return f"{count / (1 << 20):.1f} MiB"
    return f"{count / (1 << 30):.1f} GiB"


def _content_length(response: requests.Response) -> int | None:
    """The announced body size, unless the body is compressed (then the count of decoded bytes differs)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _reason(error: BaseException, timeouts: Timeouts) -> str:
    """The innermost cause in a few words: requests and urllib3 nest the useful part three levels deep."""
    chain = _causes(error)
    names = {type(cause).__name__ for cause in chain}
    if "ReadTimeoutError" in names:
        return f"no data for {timeouts.read:g} s"
    for cause in reversed(chain):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    if names & {"IncompleteRead", "ProtocolError"}:
        return "connection closed before the whole file arrived"
    return str(error)


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and every exception it carries (in args, `reason`, cause, context), outermost first."""
    found: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop(0)
        if any(current is known for known in found):
            continue
        found.append(current)
        linked = (*current.args, getattr(current, "reason", None), current.__cause__, current.__context__)
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return found


class _ProgressMeter:
    """ "received / total" on one rewritten terminal line, or a plain line per tenth in a log."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.on_terminal = stream.isatty()
        self.enabled = self.on_terminal or (total is not None and total >= LARGE_FILE_BYTES)
        self.last_shown = 0.0
        self.last_tenth = 0

    def update(self, received: int) -> None:
        if not self.enabled:
            return
        if self.on_terminal:
            now = time.monotonic()
            if now - self.last_shown >= 0.2:
                self.last_shown = now
                self.stream.write(f"\rdownloading: {self._amount(received)}")
                self.stream.flush()
        elif self.total:
            tenth = received * 10 // self.total
            if tenth > self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(f"downloading: {self._amount(received)}\n")
                self.stream.flush()

    def finish(self, received: int) -> None:
        if self.enabled and self.on_terminal:
            self.stream.write(f"\rdownloading: {self._amount(received)}\n")
            self.stream.flush()

    def _amount(self, received: int) -> str:
        mib = received / (1 << 20)
        if self.total:
            return f"{mib:.1f} / {self.total / (1 << 20):.1f} MiB"
        return f"{mib:.1f} MiB"
