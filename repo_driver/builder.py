"""Building one commit for one platform with the framework's build script.

The contract is the build script's: `sh build.sh <source_dir> <dst>` succeeded only if
`<dst>` exists afterwards, whatever its exit status said. The log (command, exit status,
output) is kept next to the program and in the database, also for failed builds.

A build script is foreign code the service runs for weeks, so nothing it does may stop
the service: its output is read as bytes and kept as a bounded head and tail; the driver
waits for the script, never for its output pipe (a daemon the build started may hold that
open for hours); and once the script exits, times out or a stop is asked for, every process
it started is ended, found as platforms/process_tracking.py finds a benchmark's processes
(its session, an environment marker, a cgroup where one can be made).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from aipep_core.errors import UserError
from platforms.bounded_output import BoundedCapture
from platforms.pipe_reader import PipeReader
from platforms.process_tracking import TrackedRun
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import CommitInfo
from repo_driver.stopping import Stopped
from repo_driver.worktrees import Worktrees

BUILT = "built"
CACHED = "cached"
FAILED = "failed"

# A person reading a failed build needs how it started and how it ended, not gigabytes between.
LOG_HEAD_BYTES = 64 * 1024
LOG_TAIL_BYTES = 64 * 1024
POLL_SECONDS = 0.2
TERM_GRACE_SECONDS = 3.0
# After the build's processes are ended its output pipe ends at once, unless a process
# outside our reach (one that cleared its environment and left the group) still holds it.
DRAIN_SECONDS = 5.0


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
    run = TrackedRun()
    output = BoundedCapture(head_bytes=LOG_HEAD_BYTES, tail_bytes=LOG_TAIL_BYTES)
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=write_end,
            start_new_session=True,
            env={**os.environ, **run.environment()},
            preexec_fn=run.join_before_exec,
        )
    except BaseException:
        os.close(read_end)
        run.close()
        raise
    finally:
        os.close(write_end)
    run.adopt(process.pid)
    reader = PipeReader([(os.fdopen(read_end, "rb", buffering=0), output)])
    deadline = time.monotonic() + timeout
    status_line = None
    stopped = False
    try:
        while process.poll() is None:
            if stop is not None and stop.is_set():
                stopped = True
                break
            if time.monotonic() >= deadline:
                status_line = f"timed out after {timeout:g} s"
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(POLL_SECONDS)
    finally:
        end_build_processes(process, run)
        read_to_the_end = reader.finish(DRAIN_SECONDS)
    if stopped:
        raise Stopped()
    text = output.text()
    if text and not text.endswith("\n"):
        text += "\n"
    if not read_to_the_end:
        text += "[output cut here: a process the build left running still holds it]\n"
    return status_line or _exit_line(process.returncode), text


def end_build_processes(process: subprocess.Popen, run: TrackedRun) -> None:
    """End the build script, if it still runs, and every process it started.

    SIGTERM first, so a script stopped mid-way can clean up after itself; what is left
    after a short grace is killed.
    """
    for member in run.members():
        with contextlib.suppress(psutil.Error):
            member.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(TERM_GRACE_SECONDS)
    run.close()
    process.wait()


def _exit_line(returncode: int) -> str:
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
