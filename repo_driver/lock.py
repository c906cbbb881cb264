"""One driver per database: an exclusive lock on a file next to it.

`flock` locks belong to the open file, so the kernel drops the lock when the holder dies,
even by `kill -9`; a restart never has to guess whether a stale lock file is still owned.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from aipep_core.errors import UserError


class DatabaseLock:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".driver.lock")
        self._fd: int | None = None

    def __enter__(self) -> DatabaseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"--db: expected no other repo_driver on this database, but process {holder} holds {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
