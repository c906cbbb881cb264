"""A per-device lock on the host, so two harnesses never benchmark on one device at once.

It is an flock on a file in the user's cache dir: the kernel drops it when
the holder exits, however it exits, so a crashed harness never leaves a
device locked. The holder's pid is written into the file for the message.

    with DeviceLock("192.168.1.20:5555"):
        ...
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

from aipep_core.errors import DeviceError
from aipep_core.user_dirs import cache_dir

DEFAULT_TIMEOUT_S = 5.0
_POLL_S = 0.05


def lock_path(device_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.@-]", "_", device_id)
    return cache_dir() / "device-locks" / f"{safe}.lock"


class DeviceLock:
    def __init__(self, device_id: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.device_id = device_id
        self.timeout_s = timeout_s
        self.path = lock_path(device_id)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DeviceLock:
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    raise DeviceError(
                        f"device {self.device_id} is in use by another harness (pid {holder or 'unknown'})"
                    ) from None
                time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DeviceLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
