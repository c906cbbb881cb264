"""Helpers for the repo driver's tests: real git repositories of the microkernel in tmp dirs, and driver runs."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.store.result_store import ResultStore
from repo_driver.demo.sample_repository import SampleRepository

REPO = Path(__file__).resolve().parent.parent
SLOW_CONV = {"CONV": 400}
# Deadlines for waiting on a driver process: far above what a loaded machine needs, so they
# only end a test whose driver hangs instead of letting it hang the suite.
LINE_TIMEOUT = 300
EXIT_TIMEOUT = 120
# How long a hung driver is given to print its threads' stacks once sent SIGABRT.
STACKS_TIMEOUT = 5

# Few, short rounds and a threshold far above the noise of a loaded 2-core machine (where
# estimates of unchanged commits stray by 20-30%): the tests' slowdown (Conv x4, SLOW_CONV)
# is certain at 8 rounds, the fewest at which one operator's test survives the correction
# over five operators, and no commit without a change reaches 50%. The time-like resource
# metrics get the same 50%: with their defaults (10% on CPU utilisation), an unchanged commit
# read +15.7% CPU utilisation under a clean-clone CI run's load and its false alarm became a
# second (not confirmed) regression record.
FAST_TEST = {
    "identifier": "microkernel_fast",
    "metric": "delay",
    "warmup": 1,
    "iter": 6,
    "commands": ["{program} --warmup {warmup} --iter {iter}"],
    "regression_threshold": 50,
    "resource_thresholds": {"cpu_time": 50, "cpu_util": 50, "ctx_switches": 50},
    "min_rounds": 8,
    "max_rounds": 8,
}


class DriverSetup:
    """A sample repository plus everything one driver instance needs: spec, database, exec cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sample = SampleRepository(root / "repos")
        self.db = root / "aipep.db"
        self.exec_dir = root / "exec"
        self.spec = root / "spec.json"
        spec = {"model": {"name": "microkernel", "format": "microkernel", "files": {}}, "tests": [FAST_TEST]}
        self.spec.write_text(json.dumps(spec))

    def argv(self, *extra: str, first: str | None = None) -> list[str]:
        return [
            "--repo_dir", str(self.sample.clone()),
            "--framework", "microkernel",
            "--exec_dir", str(self.exec_dir),
            "--db", str(self.db),
            "--ab_testing", "--regression",
            "-b", str(self.spec),
            "--simple_screen_reporter",
            "--model_cache", str(self.root / "models"),
            *(["--commit", first] if first else []),
            *extra,
        ]  # fmt: skip

    def spawn(self, *extra: str, first: str | None = None, with_stdout: bool = False) -> DriverProcess:
        """The driver as a separate process (for kill -9, signals and the status file)."""
        argv = [sys.executable, "-m", "repo_driver", *self.argv(*extra, first=first)]
        return DriverProcess(argv, with_stdout=with_stdout)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with ResultStore(self.db) as store:
            return store.db.execute(sql, params or []).fetchall()

    def states(self) -> dict[str, str]:
        return dict(self.query("SELECT hash, state FROM commits"))

    def regressions(self) -> list[dict]:
        with ResultStore(self.db) as store:
            return list(store.db.query("SELECT * FROM driver_regressions ORDER BY id"))

    def main_runs(self) -> list[tuple[str, str | None]]:
        """(commit, control) of every stored baseline or benchmark run of the main line."""
        return self.query(
            "SELECT hash, control_hash FROM driver_runs WHERE role IN ('baseline', 'benchmark') ORDER BY saved_at"
        )


class DriverProcess(subprocess.Popen):
    """A process whose stderr lines a thread collects, so that every wait on them has a deadline.

    It runs in its own session, as a service or a terminal's foreground job does: a signal to
    its process group reaches it and whatever it started, and nothing of the test runner's.
    """

    def __init__(self, argv: list[str], *, with_stdout: bool = False) -> None:
        """`with_stdout`: stdout's lines are collected too, among stderr's (else stdout is dropped)."""
        super().__init__(
            argv,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if with_stdout else subprocess.DEVNULL,
            stderr=subprocess.STDOUT if with_stdout else subprocess.PIPE,
            text=True,
            # faulthandler: a driver that hangs is sent SIGABRT and prints every thread's stack.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        stream = self.stdout if with_stdout else self.stderr
        threading.Thread(target=self._read, args=(stream,), name="driver-output", daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def stacks(self, timeout: float = STACKS_TIMEOUT) -> list[str]:
        """Where a hung driver is: SIGABRT makes faulthandler print every thread's stack as it dies;
        the lines it printed within `timeout` seconds."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGABRT)
        deadline = time.monotonic() + timeout
        printed: list[str] = []
        with contextlib.suppress(queue.Empty):
            while (line := self.lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
                printed.append(line)
        return printed

    def kill_all(self) -> None:
        """SIGKILL the process and everything in its session's process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


def wait_for_line(process: DriverProcess, needle: str, seen: list[str], timeout: float = LINE_TIMEOUT) -> str:
    """Collect the driver's stderr until a line containing `needle`; fails (and kills the driver)
    if it exits first or prints no such line within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        line = _next_line(process, deadline, seen, f"no line containing {needle!r} within {timeout:g} s")
        if line is None:
            raise AssertionError(f"driver exited before printing {needle!r}:\n{''.join(seen)}")
        seen.append(line)
        if needle in line:
            return line


def finish(process: DriverProcess, seen: list[str], timeout: float = EXIT_TIMEOUT) -> int:
    """Collect the rest of stderr and the exit status; fails (and kills the driver) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        line = _next_line(process, deadline, seen, f"driver still running after {timeout:g} s")
        if line is None:
            return process.wait(timeout=max(1.0, deadline - time.monotonic()))
        seen.append(line)


def _next_line(process: DriverProcess, deadline: float, seen: list[str], failure: str) -> str | None:
    """The driver's next stderr line (None once it has exited); kills it and fails at the deadline."""
    try:
        return process.lines.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        stacks = process.stacks()
        process.kill_all()
        raise AssertionError(f"{failure}:\n{''.join(seen)}\nits threads then:\n{''.join(stacks)}") from None
