"""Real `aipep-lab` workers and submitters as processes of the test, each with a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT_S = 20.0
STATUS_TIMEOUT_S = 120.0


@dataclass
class Lab:
    """The broker, the results server and the folder every worker keeps its things in."""

    broker_url: str
    server_url: str
    token: str
    directory: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "AIPEP_REMOTE_ACCESS_TOKEN": self.token,
            "XDG_CACHE_HOME": str(self.directory / "xdg-cache"),
            "XDG_DATA_HOME": str(self.directory / "xdg-data"),
            "PYTHONUNBUFFERED": "1",
        }

    def start_worker(
        self, name: str, kind: str, visibility_timeout_s: float = 3600, device: str | None = None, *extra: str
    ) -> subprocess.Popen:
        """A worker for `device` (a host device `name` by default) serving `kind`, in its own session
        (so a SIGKILL can take all it ran); `extra` are more of its flags."""
        home = self.directory / f"worker-{name}"
        home.mkdir(parents=True, exist_ok=True)
        device = device or f"host:{name}"
        arguments = [sys.executable, "-m", "lab", "worker", "--broker", self.broker_url, "--device", device, *extra]
        arguments += ["--kind", kind, "--remote_reporter", self.server_url, "--remote_outbox", str(home / "outbox")]
        arguments += ["--cache_dir", str(home / "cache"), "--visibility_timeout", str(visibility_timeout_s)]
        log = (home / "stderr.log").open("ab")
        process = subprocess.Popen(
            arguments, stdout=log, stderr=log, env=self.environment(), start_new_session=True, stdin=subprocess.DEVNULL
        )
        log.close()
        self.workers.append(process)
        return process

    def worker_log(self, name: str) -> str:
        return (self.directory / f"worker-{name}" / "stderr.log").read_text(errors="replace")

    def submit_arguments(self, kind: str, spec: Path, info: dict, *extra: str, framework: str = "generic") -> list[str]:
        arguments = [sys.executable, "-m", "lab", "submit", "--broker", self.broker_url, "--devices", kind]
        arguments += ["-b", str(spec), "--framework", framework, "--info", json.dumps(info)]
        arguments += ["--remote_reporter", self.server_url, *extra]
        return arguments

    def submit(self, kind: str, spec: Path, info: dict, *extra: str, timeout_s: float = 180):
        return subprocess.run(
            self.submit_arguments(kind, spec, info, *extra),
            capture_output=True,
            text=True,
            env=self.environment(),
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )

    def start_submit(
        self, kind: str, spec: Path, info: dict, *extra: str, framework: str = "generic"
    ) -> subprocess.Popen:
        """`aipep-lab submit` running in the background, its output piped, for tests that act while it waits."""
        return subprocess.Popen(
            self.submit_arguments(kind, spec, info, *extra, framework=framework),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
        )

    def status(self, *extra: str) -> subprocess.CompletedProcess:
        """`aipep-lab status` with `extra` flags, which must succeed."""
        shown = subprocess.run(
            [sys.executable, "-m", "lab", "status", "--broker", self.broker_url, *extra],
            capture_output=True,
            text=True,
            env=self.environment(),
            timeout=STATUS_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        assert shown.returncode == 0, shown.stderr
        return shown

    def kill_worker(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and everything it started, as a power loss would."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def running_lab(broker_url: str, results_server, directory: Path) -> Iterator[Lab]:
    """A Lab on `broker_url` reporting to `results_server`; its workers are stopped afterwards."""
    lab = Lab(broker_url, results_server.url, results_server.token, directory)
    lab.directory.mkdir()
    try:
        yield lab
    finally:
        lab.stop_all()


def end_submitter(submitter: subprocess.Popen) -> None:
    """A submitter still running when its test ends (a failed assertion) is killed."""
    if submitter.poll() is None:
        submitter.kill()
        submitter.wait(timeout=STOP_TIMEOUT_S)


class CollectedLines:
    """Every line a child writes on a pipe, read by a thread, so a test waits for a line with a
    deadline without select() missing lines already buffered behind an earlier one."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self, timeout_s: float = STOP_TIMEOUT_S) -> str:
        """All of it, once the child closed the pipe."""
        self._thread.join(timeout=timeout_s)
        return "".join(self.lines)
