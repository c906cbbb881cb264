"""Start and stop a loopback device as a child process, for tests and dry runs.

with LoopbackDevice(tmp_dir, "--abi", "arm64-v8a") as device:
    get_platform("android", device=device.address)
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import platforms

_PACKAGE_ROOT = Path(platforms.__file__).resolve().parent.parent


class LoopbackDevice:
    def __init__(self, root: Path, *options: str) -> None:
        self.root = Path(root)
        self.options = options
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> LoopbackDevice:
        path = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "platforms.android.loopback", "--port", "0", "--root", str(self.root)]
        self.process = subprocess.Popen(
            [*command, *self.options],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            self.stop()
            self._log.seek(0)
            raise RuntimeError(f"loopback device did not start: {line or self._log.read().decode()}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """Die as a phone pulled off the network does: no goodbye to anyone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log.close()

    def __enter__(self) -> LoopbackDevice:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
