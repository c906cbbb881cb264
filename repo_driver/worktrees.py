"""A throw-away `git worktree` per build, so the user's checkout is never touched.

Worktrees live under one directory the driver owns; after a `kill -9` whatever is left
there is removed and git's records of it pruned, before anything new is checked out.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

# `git worktree add/remove` edit the repository's worktree records; two threads doing so at once can collide.
_GIT_LOCK = threading.Lock()


class Worktrees:
    def __init__(self, repo: git.Repo, root: Path) -> None:
        self.repo = repo
        self.root = root

    def clean(self) -> None:
        with _GIT_LOCK:
            if self.root.exists():
                shutil.rmtree(self.root)
            self.repo.git.worktree("prune")

    @contextmanager
    def checkout(self, commit_hash: str) -> Iterator[Path]:
        path = self.root / commit_hash
        with _GIT_LOCK:
            if path.exists():
                shutil.rmtree(path)
            self.root.mkdir(parents=True, exist_ok=True)
            self.repo.git.worktree("add", "--detach", "--force", str(path), commit_hash)
        try:
            yield path
        finally:
            with _GIT_LOCK:
                self.repo.git.worktree("remove", "--force", str(path))
