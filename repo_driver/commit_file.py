"""`--commit_file`: the last commit finished, kept outside the database for scripts and a fresh start.

A driver with no history in its database starts after the commit the file names; the file
is replaced atomically, so a reader never sees half a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aipep_core.errors import UserError
from repo_driver.git_follower import GitFollower
from repo_driver.progress import say


@dataclass(frozen=True)
class CommitFile:
    path: Path | None
    follower: GitFollower

    def read(self) -> str | None:
        """The full hash the file names, or None when there is none the repository knows."""
        if self.path is None or not self.path.is_file():
            return None
        text = self.path.read_text().strip()
        if not text:
            return None
        try:
            return self.follower.resolve(text, "--commit_file")
        except UserError:
            say(
                f"{self.path} names {text[:40]!r}, which the repository does not have (history rewritten?); ignoring it"
            )
            return None

    def write(self, commit_hash: str) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(commit_hash + "\n")
            temporary.replace(self.path)
