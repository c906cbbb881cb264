"""A main-line commit's A/B on every platform, against the control chosen for it, and what it found.

A platform whose result is already stored is not run again: a restart after `kill -9`
between two platforms goes on with the next one. In the device lab the platforms' A/Bs run
at once, one per device kind, each stored as it finishes. A regression found opens a record in the
same transaction as the results, for verification to take up.
"""

from __future__ import annotations

from collections.abc import Iterator

from repo_driver import verdicts
from repo_driver.announcements import summary
from repo_driver.building import Building
from repo_driver.control_choice import choose_control
from repo_driver.git_follower import CommitInfo
from repo_driver.harness_runs import HarnessRuns, RunRequest
from repo_driver.intake import Intake
from repo_driver.options import DriverOptions
from repo_driver.progress import name, say
from repo_driver.state.driver_state import DriverState
from repo_driver.state.regressions import BISECTING, CONFIRMED
from repo_driver.state.runs import BASELINE, BENCHMARK, MAIN_LINE_ROLES
from repo_driver.stopping import StopControl


class Benchmarking:
    def __init__(
        self,
        options: DriverOptions,
        base_commit: str | None,
        state: DriverState,
        intake: Intake,
        building: Building,
        runs: HarnessRuns,
        stop: StopControl,
    ) -> None:
        self.options = options
        self.base_commit = base_commit
        self.state = state
        self.intake = intake
        self.building = building
        self.runs = runs
        self.stop = stop

    def benchmark(self, commit: CommitInfo) -> None:
        state = self.state
        for request, results in self.runs.run_each(self._requests(commit)):
            platform, control = request.platform, request.control
            control_hash = control.commit.hash if control else None
            found = verdicts.regressed(results) if control else {}
            keys = [list(key) for key in found]

            def open_regression(platform=platform, control_hash=control_hash, keys=keys, found=found):
                if keys and self.options.regression:
                    state.regressions.open(platform, control_hash, commit.hash, keys, verdicts.labelled(found))

            state.runs.save(
                results,
                platform=platform,
                commit_hash=commit.hash,
                control_hash=control_hash,
                role=request.role,
                then=open_regression,
            )
            say(f"{name(commit)}: {platform}: {summary(results)}")

    def _requests(self, commit: CommitInfo) -> Iterator[RunRequest]:
        """The A/B of each platform not run yet, made only when asked for (a local run asks after
        storing the one before, as it always did)."""
        state = self.state
        for platform in self.options.platforms:
            if state.runs.has_run(commit.hash, platform, MAIN_LINE_ROLES):
                continue
            self.stop.check()
            control_hash = self._control(commit) if self.options.ab_testing else None
            control = self.building.arm(control_hash, platform) if control_hash else None
            treatment = self.building.arm(commit.hash, platform)
            if state.queue.state(commit.hash) != "benchmarking":
                state.queue.set_state(commit.hash, "benchmarking")
            versus = f"A/B against {name(control.commit)}" if control else "alone"
            say(f"{name(commit)}: benchmarking on {platform} {versus}")
            yield RunRequest(platform, treatment, control, BENCHMARK if control else BASELINE)

    def regressed(self, commit: CommitInfo) -> bool:
        """Whether the commit ends `regressed`: its regression was confirmed (or is being bisected),
        or, without --regression, any of its A/Bs said so."""
        confirmed = any(
            r.bad_hash == commit.hash and r.state in (BISECTING, CONFIRMED) for r in self.state.regressions.find()
        )
        return confirmed or (not self.options.regression and self._flagged(commit))

    def _flagged(self, commit: CommitInfo) -> bool:
        return any(
            verdicts.regressed(self.state.runs.runs_of(commit.hash, platform, BENCHMARK))
            for platform in self.options.platforms
        )

    def _control(self, commit: CommitInfo) -> str | None:
        return choose_control(
            self.state,
            self.intake.follower,
            self.intake.line,
            commit.hash,
            base_commit=self.base_commit,
            weekly_base=self.options.weekly_base,
        )
