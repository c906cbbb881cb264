"""Reading the followed branch: fetch, its first-parent line, and facts about commits.

Only the first-parent line is followed: on a branch that merges pull requests it is the
sequence of states the branch actually had, so each step between two of its commits is
one change that landed, and bisection over it names the merge that brought a regression.
Fetching updates remote-tracking refs only, so the user's checkout is never touched.

The checkout may disappear under a running service (deleted, moved, cloned anew): every
git command is pinned to the checkout's own git directory, so that it fails there instead
of running in the driver's working directory (GitPython's fallback when the checkout's
directory is gone), where a fetch or a worktree would act on whatever repository that is.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import git

from aipep_core.errors import UserError


@dataclass(frozen=True)
class CommitInfo:
    hash: str
    commit_time: int
    subject: str

    @property
    def short(self) -> str:
        return self.hash[:10]


# Where the checkout is compared with the one opened (see `whereabouts`).
SAME = "same"
GONE = "gone"
REPLACED = "replaced"


class GitFollower:
    def __init__(self, repo_dir: Path, branch: str | None, remote: str | None) -> None:
        self.repo_dir = repo_dir
        self.repo = _open(repo_dir)
        self._opened = _identity(self.repo)
        self.branch = branch or self._current_branch()
        names = {r.name for r in self.repo.remotes}
        if remote is not None and remote not in names:
            raise UserError(f"--remote_repository: expected one of the remotes {sorted(names)}, got {remote}")
        self.remote = remote if remote is not None else ("origin" if "origin" in names else None)
        self.ref = f"{self.remote}/{self.branch}" if self.remote else self.branch

    def _current_branch(self) -> str:
        try:
            return self.repo.active_branch.name
        except TypeError:
            raise UserError("--branch: expected a branch name (the checkout is on a detached HEAD)") from None

    def whereabouts(self) -> str:
        """SAME while the git directory opened is there; GONE, or REPLACED by another (a new clone)."""
        now = _identity(self.repo)
        if now is None:
            return GONE
        return SAME if now == self._opened else REPLACED

    def reopen(self) -> None:
        """Open the checkout at `repo_dir` again (after it was gone or replaced); UserError if it is none."""
        self.repo.close()
        self.repo = _open(self.repo_dir)
        self._opened = _identity(self.repo)

    def fetch(self) -> None:
        """Fetch with forced ref updates, so a rewritten remote branch is seen as it now is."""
        if self.remote:
            self.repo.git.fetch("--prune", "--force", self.remote)

    def line(self) -> list[str]:
        """The branch's first-parent line, oldest first."""
        try:
            output = self.repo.git.rev_list("--first-parent", "--reverse", self.ref)
        except git.GitCommandError:
            raise UserError(f"--branch: expected a branch the repository has, got {self.ref}") from None
        return output.split()

    def resolve(self, revision: str, flag: str) -> str:
        try:
            return self.repo.commit(revision).hexsha
        except (git.BadName, ValueError):
            raise UserError(f"{flag}: expected a commit of {self.repo.working_dir}, got {revision}") from None

    def info(self, commit_hash: str) -> CommitInfo:
        commit = self.repo.commit(commit_hash)
        return CommitInfo(commit.hexsha, int(commit.committed_date), commit.summary)

    def first_of_week(self, line: list[str], commit_hash: str) -> str:
        """FAI-PEP's control: the first commit of the line made in the same ISO week as `commit_hash`."""
        week = _week(self.info(commit_hash).commit_time)
        end = line.index(commit_hash)
        first = commit_hash
        for candidate in reversed(line[:end]):
            if _week(self.info(candidate).commit_time) != week:
                break
            first = candidate
        return first


def _open(repo_dir: Path) -> git.Repo:
    try:
        repo = git.Repo(repo_dir)
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise UserError(f"--repo_dir: expected a git repository, got {repo_dir}") from None
    repo.git.update_environment(GIT_DIR=os.path.abspath(repo.git_dir))
    return repo


def _identity(repo: git.Repo) -> tuple[int, int] | None:
    try:
        stat = os.stat(repo.git_dir)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _week(timestamp: int) -> tuple[int, int]:
    year, week, _ = dt.datetime.fromtimestamp(timestamp, dt.UTC).isocalendar()
    return year, week
