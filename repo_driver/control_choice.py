"""Which commit a new commit is compared with.

By default the previous commit that was benchmarked to the end: each A/B then measures
exactly the change the new commits made, and a regression is reported once, at the
commit range that brought it, not again at every later commit. `--base_commit` fixes the
control; `--weekly_base` is FAI-PEP's rule, the first commit of the treatment's week,
which keeps a week of estimates on one common base.
"""

from __future__ import annotations

from repo_driver.git_follower import GitFollower
from repo_driver.state.driver_state import DriverState


def choose_control(
    state: DriverState,
    follower: GitFollower,
    line: list[str],
    commit_hash: str,
    *,
    base_commit: str | None,
    weekly_base: bool,
) -> str | None:
    """The control's hash, or None when there is nothing to compare with (the first commit)."""
    if base_commit is not None and base_commit != commit_hash:
        return base_commit
    if weekly_base and commit_hash in line:
        first = follower.first_of_week(line, commit_hash)
        if first != commit_hash:
            return first
    position = state.queue.position(commit_hash)
    return state.runs.previous_benchmarked(position if position is not None else len(line))
