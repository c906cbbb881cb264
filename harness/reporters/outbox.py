"""Results waiting on disk for a results server: nothing the server has not confirmed is lost.

One directory per server holds these folders. `pending/` has one file per result,
named by its id and holding the exact request body, so a result queued twice is one
file and a file can be re-sent as it is. `rejected/` keeps what the server refused
for good, with its reason. `corrupt/` receives pending files that are not a result
record (or not a file at all), so one damaged file never blocks the rest of the queue.
`attempts/` counts, per result, the times the server failed on it (a 5xx) while taking
others, and `quarantine/` receives a result it kept failing on, with its last answer.

Result ids are hex, and the client writes them in lower case, so an upper-case copy of
a queued result is the same file and the same record on the server.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aipep_core.atomic_file import write_atomically
from aipep_core.user_dirs import data_dir
from harness.reporters.path_names import path_component
from harness.store.result_store import normal_run_id

PENDING = "pending"
REJECTED = "rejected"
CORRUPT = "corrupt"
ATTEMPTS = "attempts"
QUARANTINE = "quarantine"
SUFFIX = ".json"


class CorruptEntry(ValueError):
    """A pending file that cannot be a queued result; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One queued result: its id and the JSON body to POST."""

    id: str
    body: str
    path: Path | None


@dataclass(frozen=True)
class Failures:
    """The times the server failed on one result: how often, since when, and its last answer."""

    count: int
    first: float
    last: float
    status: int
    reason: str


def default_outbox_dir(url: str) -> Path:
    """A folder per server, so switching servers never sends one server's queue to another.

    The readable part names the host; the hash keeps two URLs that differ only in
    characters the name drops (or in the path) apart.
    """
    normalized = url.rstrip("/")
    parts = urlsplit(normalized)
    readable = path_component(f"{parts.hostname or 'server'}_{parts.port or parts.scheme}")
    digest = hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:12]
    return data_dir() / "outbox" / f"{readable}-{digest}"


class Outbox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.pending_dir = self.root / PENDING
        self.rejected_dir = self.root / REJECTED
        self.corrupt_dir = self.root / CORRUPT
        self.attempts_dir = self.root / ATTEMPTS
        self.quarantine_dir = self.root / QUARANTINE

    def put(self, result_id: str, body: str) -> None:
        """Queue a body whose `id` is already normal_run_id; OSError when the disk cannot take it."""
        write_atomically(self._pending_path(result_id), body)

    def remove(self, result_id: str) -> None:
        self._pending_path(result_id).unlink(missing_ok=True)

    def queued(self) -> list[Path]:
        """Pending files, oldest first (by the time the file was written, then by name).

        Hidden files are temporaries of a write that has not finished (or was killed):
        they are not results yet. A folder that cannot be listed holds nothing to send.
        Nothing is opened here: load() decides what a file is.
        """
        try:
            candidates = [path for path in self.pending_dir.iterdir() if _is_entry_name(path.name)]
        except OSError:
            return []
        stamped = []
        for path in candidates:
            try:
                stamped.append((path.lstat().st_mtime_ns, path.name, path))
            except OSError:
                continue
        return [path for _, _, path in sorted(stamped)]

    def load(self, path: Path) -> Entry | None:
        """The entry, None when another process delivered it meanwhile; CorruptEntry when it is damaged.

        Only a regular file is read: opening a FIFO would wait for a writer forever, and a
        link could point anywhere, so both are damage, found without blocking.
        """
        try:
            body = _read_regular_file(path).decode("utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CorruptEntry(_unreadable(path, error)) from None
        except UnicodeDecodeError as error:
            raise CorruptEntry(f"unreadable: {error}") from None
        result_id, body = _record_id(body, path.name[: -len(SUFFIX)])
        return Entry(id=result_id, body=body, path=path)

    def reject(self, entry: Entry, server: str, status: int, reason: str) -> Path:
        """Keep a result the server will never take, with its answer, and take it out of the queue."""
        target = self.rejected_dir / f"{path_component(entry.id)}{SUFFIX}"
        record = {"server": server, "status": status, "reason": reason, "result": json.loads(entry.body)}
        write_atomically(target, json.dumps(record, indent=2) + "\n")
        self._forget(entry)
        return target

    def delivered(self, entry: Entry) -> None:
        self._forget(entry)

    def has_failures(self, path: Path) -> bool:
        """Whether the server failed on this pending file's result before, without reading the file."""
        return self._attempts_path(normal_run_id(path.name[: -len(SUFFIX)])).exists()

    def failures(self, result_id: str) -> Failures | None:
        """What the server did to this result before; None when nothing (or the record is unreadable)."""
        try:
            document = json.loads(_read_regular_file(self._attempts_path(result_id)))
            return Failures(**document)
        except (OSError, ValueError, TypeError):
            return None

    def count_failure(self, result_id: str, status: int, reason: str, now: float) -> Failures:
        """One more failure of the server on this result, kept on disk when the disk lets us."""
        earlier = self.failures(result_id)
        failures = Failures(
            count=(earlier.count if earlier else 0) + 1,
            first=earlier.first if earlier else now,
            last=now,
            status=status,
            reason=reason,
        )
        with contextlib.suppress(OSError):
            write_atomically(self._attempts_path(result_id), json.dumps(asdict(failures)))
        return failures

    def quarantine(self, entry: Entry, server: str, failures: Failures) -> Path:
        """Take a result the server keeps failing on out of the queue, with the server's last answer."""
        target = self.quarantine_dir / f"{path_component(entry.id)}{SUFFIX}"
        record = {"server": server, **asdict(failures), "result": json.loads(entry.body)}
        write_atomically(target, json.dumps(record, indent=2) + "\n")
        self._forget(entry)
        return target

    def set_aside(self, source: Path) -> Path:
        """Move a damaged pending file out of the queue, under its own name, keeping earlier ones."""
        self.corrupt_dir.mkdir(parents=True, exist_ok=True)
        target = self.corrupt_dir / source.name
        counter = 1
        while target.exists():
            target = self.corrupt_dir / f"{source.name}.{counter}"
            counter += 1
        with contextlib.suppress(FileNotFoundError):
            os.replace(source, target)
        return target

    def _forget(self, entry: Entry) -> None:
        if entry.path is not None:
            entry.path.unlink(missing_ok=True)
        self._attempts_path(entry.id).unlink(missing_ok=True)

    def _attempts_path(self, result_id: str) -> Path:
        return self.attempts_dir / f"{path_component(result_id)}{SUFFIX}"

    def _pending_path(self, result_id: str) -> Path:
        return self.pending_dir / f"{path_component(result_id)}{SUFFIX}"


def _is_entry_name(name: str) -> bool:
    return name.endswith(SUFFIX) and not name.startswith(".") and len(name) > len(SUFFIX)


def _record_id(body: str, name: str) -> tuple[str, str]:
    """The record's id and the body to send, with the id in its normal spelling."""
    try:
        document: Any = json.loads(body)
    except ValueError as error:
        raise CorruptEntry(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise CorruptEntry("not a JSON object")
    missing = [key for key in ("id", "meta", "data") if key not in document]
    if missing:
        raise CorruptEntry(f"no {missing[0]!r} field")
    result_id = document["id"]
    if not isinstance(result_id, str) or normal_run_id(path_component(result_id)) != normal_run_id(name):
        raise CorruptEntry(f"holds id {result_id!r}, not the id in its name")
    if result_id != normal_run_id(result_id):
        document["id"] = normal_run_id(result_id)
        body = json.dumps(document)
    return document["id"], body


class NotRegularFile(OSError):
    """Something other than a regular file where one was expected; never opened for reading."""


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; opening never blocks and never follows a link.

    Opening a FIFO for reading waits for a writer forever, and a link could point anywhere.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as stream:
        mode = os.fstat(stream.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"not a regular file but {_file_kind(mode)}")
        return stream.read()


def _unreadable(path: Path, error: OSError) -> str:
    if isinstance(error, NotRegularFile):
        return error.strerror
    if error.errno == errno.ELOOP and path.is_symlink():
        return "not a regular file but a symbolic link"
    return f"unreadable: {error.strerror or error}"


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISDIR: "a directory", stat.S_ISSOCK: "a socket"}
    for test, kind in kinds.items():
        if test(mode):
            return kind
    return "a device or other special file"
