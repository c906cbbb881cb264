"""Watching the checkout the driver follows: it can vanish under a service, or be replaced by a new clone.

That is not a reason to exit: a service manager would restart the driver into the same
missing directory, and someone would have to start it again once the checkout is back. The
database is left as it is, one line says the checkout is gone, and each pass looks for it
again; once it is there (the same or a new clone) the driver reopens it and goes on. A
single pass (no --interval) has no next pass, so there it is one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

from aipep_core.errors import UserError
from repo_driver.git_follower import GONE, REPLACED, SAME, GitFollower
from repo_driver.progress import say
from repo_driver.worktrees import Worktrees


class CheckoutWatch:
    def __init__(self, follower: GitFollower, worktrees: Worktrees, repo_dir: Path, interval: float | None) -> None:
        self.follower = follower
        self.worktrees = worktrees
        self.repo_dir = repo_dir
        self.interval = interval
        self.gone = False

    def present(self) -> bool:
        """True when the checkout is there to work on, reopening it if it came back or was replaced."""
        whereabouts = self.follower.whereabouts()
        if whereabouts == REPLACED or (whereabouts == SAME and self.gone):
            try:
                self.follower.reopen()
            except UserError:  # e.g. a new clone still being made
                whereabouts = GONE
            else:
                self.worktrees.repo = self.follower.repo
                self.worktrees.clean()
                self.gone = False
                say(f"{self.repo_dir} is there again; going on")
                return True
        if whereabouts == GONE:
            if self.interval is None:
                raise UserError(f"--repo_dir: {self.repo_dir} is gone (deleted or moved)")
            if not self.gone:
                self.gone = True
                say(
                    f"{self.repo_dir} is gone (deleted or moved); the database keeps the driver's state;"
                    f" looking for it again every {self.interval:g} s"
                )
            return False
        return True

    def explains_failed_pass(self) -> bool:
        """Whether a pass that ended with an error did so because the checkout went away or was replaced."""
        whereabouts = self.follower.whereabouts()
        if whereabouts == SAME:
            return False
        if self.interval is None:
            what = "deleted or moved" if whereabouts == GONE else "replaced"
            raise UserError(
                f"--repo_dir: {self.repo_dir} was {what} during the pass; the database keeps"
                " the driver's state, and a restart goes on from there"
            )
        self.present()
        return True
