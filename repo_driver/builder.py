"""Building one commit for one platform with the framework's build script.

The contract is the build script's: `sh build.sh <source_dir> <dst>` succeeded only if
`<dst>` exists afterwards, whatever its exit status said. The log (command, exit status,
output) is kept next to the program and in the database, also for failed builds.

A build script is foreign code the service runs for weeks, so nothing it does may stop
the service: its output is read as bytes and kept as a bounded head and tail; the driver
waits for the script, never for its output pipe (a daemon the build started may hold that
open for hours); and once the script exits, times out or a stop is asked for, every process
it started is ended: its process group, and whatever carries its build's mark in its
environment (which also finds processes that left the group with setsid).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from harness.errors import UserError
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import CommitInfo
from repo_driver.head_and_tail import HeadAndTail
from repo_driver.stopping import Stopped
from repo_driver.worktrees import Worktrees

BUILT = "built"
CACHED = "cached"
FAILED = "failed"

BUILD_MARK_VARIABLE = "AIPEP_BUILD_MARK"
POLL_SECONDS = 0.2
TERM_GRACE_SECONDS = 3.0
# After the build's processes are ended its output pipe ends at once, unless a process
# outside our reach (one that cleared its environment and left the group) still holds it.
DRAIN_SECONDS = 5.0
READ_BYTES = 64 * 1024


@dataclass(frozen=True)
class BuildOutcome:
    platform: str
    status: str
    program: Path | None
    log: str
    started: float
    ended: float

    @property
    def ok(self) -> bool:
        return self.status in (BUILT, CACHED)


@dataclass(frozen=True)
class Builder:
    worktrees: Worktrees
    cache: ExecCache
    frameworks_dir: Path
    timeout: float
    stop: threading.Event | None = None

    def script(self, platform: str) -> Path:
        script = self.frameworks_dir / self.cache.framework / platform / "build.sh"
        if not script.is_file():
            raise UserError(f"--frameworks_dir: expected a build script at {script}, found none")
        return script

    def build(self, platform: str, commit: CommitInfo) -> BuildOutcome:
        """The build's outcome; raises Stopped when a stop ended it (nothing is recorded then)."""
        started = time.time()
        program = self.cache.program(platform, commit)
        if program.is_file():
            return BuildOutcome(platform, CACHED, program, f"cached: {program}\n", started, time.time())
        script = self.script(platform)
        program.parent.mkdir(parents=True, exist_ok=True)
        argv = ["sh", str(script.resolve())]
        with self.worktrees.checkout(commit.hash) as source:
            argv += [str(source), str(program)]
            status_line, output = run_build(argv, source, self.timeout, self.stop)
        ok = program.is_file()
        log = f"$ {' '.join(argv)}\n{output}{status_line}; {'built' if ok else 'no program: build failed'}\n"
        self.cache.log(platform, commit).write_text(log, encoding="utf-8")
        return BuildOutcome(platform, BUILT if ok else FAILED, program if ok else None, log, started, time.time())


def run_build(argv: list[str], cwd: Path, timeout: float, stop: threading.Event | None) -> tuple[str, str]:
    """Run a build script; its status line and its (bounded) output. Raises Stopped on a stop."""
    if stop is not None and stop.is_set():
        raise Stopped()
    mark = uuid.uuid4().hex
    output = HeadAndTail()
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            start_new_session=True,
            env={**os.environ, BUILD_MARK_VARIABLE: mark},
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    deadline = time.monotonic() + timeout
    status_line = None
    stopped = False
    reading = True
    pipe = select.poll()  # not select.select: a long-lived driver's descriptors may pass FD_SETSIZE
    pipe.register(read_end, select.POLLIN)
    try:
        try:
            while process.poll() is None:
                if stop is not None and stop.is_set():
                    stopped = True
                    break
                if time.monotonic() >= deadline:
                    status_line = f"timed out after {timeout:g} s"
                    break
                if reading:
                    reading = _read_some(pipe, read_end, output)
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(POLL_SECONDS)
        finally:
            end_build_processes(process, mark)
        drain_until = time.monotonic() + DRAIN_SECONDS
        while reading and time.monotonic() < drain_until:
            reading = _read_some(pipe, read_end, output)
    finally:
        os.close(read_end)
    if stopped:
        raise Stopped()
    text = output.text()
    if text and not text.endswith("\n"):
        text += "\n"
    if reading:
        text += "[output cut here: a process the build left running still holds it]\n"
    return status_line or _exit_line(process.returncode), text


def end_build_processes(process: subprocess.Popen, mark: str) -> None:
    """End the build script, if it still runs, and every process it started.

    SIGTERM first, so a script stopped mid-way can clean up after itself; what is left
    after a short grace is killed.
    """
    _signal_group(process.pid, signal.SIGTERM)
    for survivor in _marked(mark):
        with contextlib.suppress(psutil.Error):
            survivor.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(TERM_GRACE_SECONDS)
    _signal_group(process.pid, signal.SIGKILL)
    for _ in range(3):  # a process may have forked between the listing and the kill
        survivors = _marked(mark)
        if not survivors:
            break
        for survivor in survivors:
            with contextlib.suppress(psutil.Error):
                survivor.kill()
        psutil.wait_procs(survivors, timeout=1)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(TERM_GRACE_SECONDS)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _marked(mark: str) -> list[psutil.Process]:
    """Live processes whose environment carries this build's mark (zombies have none to read)."""
    found = []
    for candidate in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if candidate.environ().get(BUILD_MARK_VARIABLE) == mark:
                found.append(candidate)
    return found


def _read_some(pipe: select.poll, fd: int, output: HeadAndTail) -> bool:
    """Read what the pipe holds (waiting up to POLL_SECONDS for something); False once it has ended."""
    if not pipe.poll(POLL_SECONDS * 1000):
        return True
    chunk = os.read(fd, READ_BYTES)
    if not chunk:
        return False
    output.add(chunk)
    return True


def _exit_line(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
