"""Getting a commit's programs: from the exec cache, or by building it for every platform.

A commit's state moves queued -> building -> built | build_failed only the first time;
a commit already past `built` (a control, a bisection step, a restart) keeps its state
when its programs are rebuilt, because the cache was cleared for example.
"""

from __future__ import annotations

from aipep_core.errors import UserError
from harness.store.transaction import write_transaction
from repo_driver.builder import Builder
from repo_driver.exec_cache import ExecCache
from repo_driver.git_follower import CommitInfo
from repo_driver.harness_runs import BuiltCommit
from repo_driver.intake import Intake
from repo_driver.progress import name, say
from repo_driver.state.driver_state import DriverState

CONTROL_ROLE = "control"
_STARTED = ("built", "benchmarking", "done", "regressed")


class Building:
    def __init__(
        self, platforms: list[str], cache: ExecCache, builder: Builder, state: DriverState, intake: Intake
    ) -> None:
        self.platforms = platforms
        self.cache = cache
        self.builder = builder
        self.state = state
        self.intake = intake

    def ensure_built(self, state: DriverState, commit: CommitInfo) -> bool:
        """Build for every platform unless the cache has it. `state` is the caller's connection:
        builds ahead run in a thread of their own."""
        before = state.queue.state(commit.hash)
        if before == "build_failed":
            return False
        if before in _STARTED and all(self.cache.has(p, commit) for p in self.platforms):
            return True
        fresh = before in (None, "queued", "building")
        if fresh:
            state.queue.set_state(commit.hash, "building")
            say(f"{name(commit)}: building")
        outcomes = [self.builder.build(platform, commit) for platform in self.platforms]
        ok = all(outcome.ok for outcome in outcomes)
        with write_transaction(state.db):
            for outcome in outcomes:
                state.builds.record(commit.hash, outcome)
            if fresh:
                state.queue.set_state(commit.hash, "built" if ok else "build_failed")
        for outcome in outcomes:
            took = outcome.ended - outcome.started
            if outcome.ok:
                say(f"{name(commit)}: {outcome.platform} build {outcome.status} in {took:.1f} s")
            else:
                log = self.cache.log(outcome.platform, commit)
                say(f"{name(commit)}: {outcome.platform} build FAILED in {took:.1f} s; skipped (log: {log})")
        return ok

    def arm(self, commit_hash: str, platform: str, role: str = CONTROL_ROLE) -> BuiltCommit:
        """One side of an A/B: a commit the queue may not know yet (a fixed or weekly control), built if need be."""
        commit = self.state.queue.commit(commit_hash) or self.intake.enqueue(commit_hash, role)
        if not self.cache.has(platform, commit) and not self.ensure_built(self.state, commit):
            raise UserError(f"control commit {commit_hash[:10]}: expected it to build, but its build failed")
        return BuiltCommit(commit, self.cache.program(platform, commit))
