"""Building one commit for one platform with the framework's build script.

The contract is the build script's: `sh build.sh <source_dir> <dst>` succeeded only if
`<dst>` exists afterwards, whatever its exit status said. The log (command, exit status,
output) is kept next to the program and in the database, also for failed builds.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import CommitInfo
from repo_driver.worktrees import Worktrees

BUILT = "built"
CACHED = "cached"
FAILED = "failed"


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

    def script(self, platform: str) -> Path:
        script = self.frameworks_dir / self.cache.framework / platform / "build.sh"
        if not script.is_file():
            raise UserError(f"--frameworks_dir: expected a build script at {script}, found none")
        return script

    def build(self, platform: str, commit: CommitInfo) -> BuildOutcome:
        started = time.time()
        program = self.cache.program(platform, commit)
        if program.is_file():
            return BuildOutcome(platform, CACHED, program, f"cached: {program}\n", started, time.time())
        script = self.script(platform)
        program.parent.mkdir(parents=True, exist_ok=True)
        argv = ["sh", str(script.resolve())]
        with self.worktrees.checkout(commit.hash) as source:
            argv += [str(source), str(program)]
            try:
                process = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, cwd=source)
                status_line = f"exit status {process.returncode}"
                output = process.stdout + process.stderr
            except subprocess.TimeoutExpired as expired:
                status_line = f"timed out after {self.timeout:g} s"
                output = _text(expired.stdout) + _text(expired.stderr)
        ok = program.is_file()
        log = f"$ {' '.join(argv)}\n{output}{status_line}; {'built' if ok else 'no program: build failed'}\n"
        self.cache.log(platform, commit).write_text(log)
        return BuildOutcome(platform, BUILT if ok else FAILED, program if ok else None, log, started, time.time())


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
