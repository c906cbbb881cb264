"""A real redis-server on a loopback port, with a password, for the lab's tests.

redis-server must be told a port number, so it gets one the kernel just handed out and is
started again on another when that one was taken in the meantime (tests/ports.py).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import PortTaken, start_on_a_free_port

START_TIMEOUT_S = 15.0


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    password: str
    log: Path

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_redis(directory: Path) -> RedisServer:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        raise FileNotFoundError("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    password = secrets.token_hex(12)
    return start_on_a_free_port(lambda port: _start_on(binary, directory, port, password))


def _start_on(binary: str, directory: Path, port: int, password: str) -> RedisServer:
    log = directory / f"redis-{port}.log"
    arguments = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    arguments += ["--dir", str(directory), "--requirepass", password, "--logfile", str(log)]
    process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    server = RedisServer(process, port, password, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "Ready to accept connections" in text:
            return server
        if process.poll() is not None:
            if "Address already in use" in text:
                raise PortTaken(port)
            raise RuntimeError(f"redis-server exited with {process.returncode}: {text}")
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server was not ready within {START_TIMEOUT_S:g} s")
