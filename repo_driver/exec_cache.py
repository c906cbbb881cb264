"""Where a commit's built program lives: `<exec_dir>/<framework>/<platform>/<commit_time>_<commit>/`.

A program found there is never rebuilt: builds are deterministic enough for
benchmarking, and a rebuild would cost minutes per commit on a real framework. The build
script writes its output atomically, so a present program is a complete one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from repo_driver.git_follower import CommitInfo

BUILD_LOG = "build.log"


@dataclass(frozen=True)
class ExecCache:
    exec_dir: Path
    framework: str

    def directory(self, platform: str, commit: CommitInfo) -> Path:
        return self.exec_dir / self.framework / platform / f"{commit.commit_time}_{commit.hash}"

    def program(self, platform: str, commit: CommitInfo) -> Path:
        return self.directory(platform, commit) / self.framework

    def log(self, platform: str, commit: CommitInfo) -> Path:
        return self.directory(platform, commit) / BUILD_LOG

    def has(self, platform: str, commit: CommitInfo) -> bool:
        return self.program(platform, commit).is_file()
