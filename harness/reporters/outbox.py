"""Results waiting on disk for a results server: nothing the server has not confirmed is lost.

One directory per server holds three folders. `pending/` has one file per result,
named by its id and holding the exact request body, so a result queued twice is one
file and a file can be re-sent as it is. `rejected/` keeps what the server refused
for good, with its reason. `corrupt/` receives pending files that are not a result
record, so one damaged file never blocks the rest of the queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.reporters.atomic_file import write_atomically
from harness.reporters.path_names import path_component
from harness.user_dirs import data_dir

PENDING = "pending"
REJECTED = "rejected"
CORRUPT = "corrupt"
SUFFIX = ".json"


class CorruptEntry(ValueError):
    """A pending file that cannot be a queued result; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One queued result: its id and the JSON body to POST."""

    id: str
    body: str
    path: Path


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

    def put(self, result_id: str, body: str) -> None:
        write_atomically(self._pending_path(result_id), body)

    def remove(self, result_id: str) -> None:
        self._pending_path(result_id).unlink(missing_ok=True)

    def queued(self) -> list[Path]:
        """Pending files, oldest first (by the time the file was written, then by name).

        Hidden files are temporaries of a write that has not finished (or was killed):
        they are not results yet.
        """
        try:
            candidates = [path for path in self.pending_dir.iterdir() if _is_entry_name(path.name)]
        except FileNotFoundError:
            return []
        stamped = []
        for path in candidates:
            try:
                stamped.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue
        return [path for _, _, path in sorted(stamped)]

    def load(self, path: Path) -> Entry | None:
        """The entry, None when another process delivered it meanwhile; CorruptEntry when it is damaged."""
        try:
            body = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as error:
            raise CorruptEntry(f"unreadable: {error}") from None
        return Entry(id=_record_id(body, path.name[: -len(SUFFIX)]), body=body, path=path)

    def reject(self, entry: Entry, server: str, status: int, reason: str) -> Path:
        """Keep a result the server will never take, with its answer, and take it out of the queue."""
        target = self.rejected_dir / f"{path_component(entry.id)}{SUFFIX}"
        record = {"server": server, "status": status, "reason": reason, "result": json.loads(entry.body)}
        write_atomically(target, json.dumps(record, indent=2) + "\n")
        entry.path.unlink(missing_ok=True)
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

    def _pending_path(self, result_id: str) -> Path:
        return self.pending_dir / f"{path_component(result_id)}{SUFFIX}"


def _is_entry_name(name: str) -> bool:
    return name.endswith(SUFFIX) and not name.startswith(".") and len(name) > len(SUFFIX)


def _record_id(body: str, name: str) -> str:
    try:
        document: Any = json.loads(body)
    except ValueError as error:
        raise CorruptEntry(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise CorruptEntry("not a JSON object")
    missing = [key for key in ("id", "meta", "data") if key not in document]
    if missing:
        raise CorruptEntry(f"no {missing[0]!r} field")
    if not isinstance(document["id"], str) or path_component(document["id"]) != name:
        raise CorruptEntry(f"holds id {document['id']!r}, not the id in its name")
    return document["id"]
