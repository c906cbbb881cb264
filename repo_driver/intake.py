"""Choosing what to benchmark: which new commits of the followed branch enter the queue.

Every `--step`-th commit after the cursor is queued. A driver with no history starts
after `--commit_file`'s commit, or at `--commit` (default: the tip). History rewritten
under the driver (a force-push) drops the commits that left the branch and goes on from
the newest one still on it, or from the new tip when none is.
"""

from __future__ import annotations

from aipep_core.errors import UserError
from harness.store.transaction import write_transaction
from repo_driver.commit_file import CommitFile
from repo_driver.git_follower import CommitInfo, GitFollower
from repo_driver.progress import name, say
from repo_driver.state.driver_state import DriverState
from repo_driver.state.queue import MAIN


class Intake:
    def __init__(
        self, follower: GitFollower, state: DriverState, step: int, first_commit: str | None, commit_file: CommitFile
    ) -> None:
        self.follower = follower
        self.state = state
        self.step = step
        self.first_commit = first_commit
        self.commit_file = commit_file
        self.line: list[str] = []  # the branch's first-parent line as this pass read it, oldest first

    def follow(self) -> None:
        """Read the line again, absorb a rewritten history, and queue every step-th new commit."""
        queue, line = self.state.queue, self.follower.line()
        self.line = line
        on_line = set(line)
        gone = [commit for commit in queue.known_on_line() if commit not in on_line]
        if gone:
            say(f"history was rewritten (force-push?): {len(gone)} known commit(s) left the branch; dropping them")
            with write_transaction(self.state.db):
                queue.orphan(gone)
                self.state.regressions.abandon_touching(gone)
        cursor = queue.cursor()
        if cursor is not None and cursor not in on_line:
            survivors = queue.known_on_line()
            if survivors:
                cursor = survivors[-1]
                say(f"resuming after {cursor[:10]}, the newest known commit still on the branch")
                queue.set_cursor(cursor)
            else:
                cursor = self._restart_at_tip()
        if cursor is None:
            cursor = self._start()
        new = line[line.index(cursor) + 1 :]
        taken = new[self.step - 1 :: self.step]
        for commit_hash in taken:
            self.enqueue(commit_hash)
        if taken:
            queue.set_cursor(taken[-1])
            say(f"{len(new)} new commit(s) on {self.follower.ref}; queued {len(taken)} (step {self.step})")

    def enqueue(self, commit_hash: str, role: str = MAIN) -> CommitInfo:
        """Record a commit (a known one keeps its state); one off the line, e.g. a fixed control, gets position -1."""
        commit = self.follower.info(commit_hash)
        position = self.line.index(commit_hash) if commit_hash in self.line else -1
        if self.state.queue.add(commit, position, role) == "queued" and role == MAIN:
            say(f"{name(commit)}: queued")
        return commit

    def distance(self, good: str, bad: str) -> int:
        return self.line.index(bad) - self.line.index(good)

    def _restart_at_tip(self) -> str:
        """After a rewrite that left none of the processed commits on the branch (e.g. a force-push
        of an unrelated history), start again at its tip: --commit and --commit_file say where a
        driver with no history starts, and this one has history, now off the branch."""
        tip = self.line[-1]
        self.enqueue(tip)
        self.state.queue.set_cursor(tip)
        say(
            f"history was rewritten: no commit processed before is on {self.follower.ref} any more;"
            f" starting again at its tip {name(self.follower.info(tip))}"
        )
        return tip

    def _start(self) -> str:
        """Where a driver with no history starts: after --commit_file's commit, or at --commit (default: the tip)."""
        remembered = self.commit_file.read()
        if remembered is not None and remembered in self.line:
            self.state.queue.set_cursor(remembered)
            say(f"starting after {remembered[:10]}, the last commit {self.commit_file.path} remembers")
            return remembered
        first = self.follower.resolve(self.first_commit, "--commit") if self.first_commit else self.line[-1]
        if first not in self.line:
            raise UserError(f"--commit: expected a commit on the first-parent line of {self.follower.ref}, got {first}")
        self.enqueue(first)
        self.state.queue.set_cursor(first)
        say(f"starting at {name(self.follower.info(first))}")
        return first
