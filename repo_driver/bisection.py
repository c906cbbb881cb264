"""Running a bisection: A/B runs of middle commits until a confirmed regression has its culprit.

The interval arithmetic is repo_driver.bisect's, replayed from the stored steps each time,
so a restart goes on from the last step written. Each step's runs, its outcome and the
commit's state are written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from aipep_core.job import RunType
from aipep_core.result_record import RunResult
from repo_driver import bisect, verdicts
from repo_driver.announcements import announce_confirmed
from repo_driver.building import Building
from repo_driver.harness_runs import HarnessRuns
from repo_driver.intake import Intake
from repo_driver.progress import name, say
from repo_driver.state.bisect_steps import BisectStep
from repo_driver.state.driver_state import DriverState
from repo_driver.state.queue import BISECT
from repo_driver.state.regressions import CONFIRMED, Regression
from repo_driver.state.runs import BISECT_RUN
from repo_driver.stopping import StopControl
from repo_driver.verdicts import MetricName


@dataclass
class Bisection:
    state: DriverState
    intake: Intake
    building: Building
    runs: HarnessRuns
    stop: StopControl

    def bisect(self, regression: Regression) -> None:
        line = self.intake.line
        if regression.good_hash not in line or regression.bad_hash not in line:
            return
        names = verdicts.deciding_names([tuple(key) for key in regression.keys])
        sizes = {tuple(key.split("|", 1)): value for key, value in regression.estimates.items()}
        while True:
            self.stop.check()
            steps = self.state.bisect_steps.of(regression.id)
            interval = bisect.interval(
                line, regression.good_hash, regression.bad_hash, [(s.hash, s.outcome) for s in steps]
            )
            candidate = interval.next_commit()
            if candidate is None:
                self._finish(regression, interval, steps)
                return
            commit = self.intake.enqueue(candidate, BISECT)
            good = line[interval.good]
            say(f"bisect: {len(interval.suspects)} suspects left; testing {name(commit)} against {good[:10]}")
            if not self.building.ensure_built(self.state, commit):
                self.state.bisect_steps.add(regression.id, candidate, bisect.SKIP, None)
                say(f"bisect: {commit.short} does not build; skipped")
                continue
            if self.state.queue.state(candidate) == "built":
                self.state.queue.set_state(candidate, "benchmarking")
            outcome, results = self._step(regression.platform, candidate, good, names, sizes)

            def record(outcome=outcome, candidate=candidate, results=results):
                self.state.bisect_steps.add(regression.id, candidate, outcome, results[0].id if results else None)
                self.state.queue.set_state(candidate, "regressed" if outcome == bisect.BAD else "done")

            self.state.runs.save(
                results,
                platform=regression.platform,
                commit_hash=candidate,
                control_hash=good,
                role=BISECT_RUN,
                then=record,
            )
            say(f"bisect: {commit.short} is {outcome}")

    def _step(
        self,
        platform: str,
        candidate: str,
        good: str,
        names: list[MetricName],
        sizes: dict[MetricName, float],
    ) -> tuple[str, list[RunResult]]:
        """One step's outcome and its runs: a second run in reversed order when the first leaves it open."""
        treatment, control = self.building.arm(candidate, platform), self.building.arm(good, platform)
        first = self.runs.run(platform, treatment, control, role=BISECT_RUN)
        if not all(result.ok for result in first):
            return bisect.SKIP, first
        decided = verdicts.has_regression(first, names)
        if decided is not None:
            return (bisect.BAD if decided else bisect.GOOD), first
        say(f"bisect: {treatment.commit.short} inconclusive; running it again in reversed order")
        second = self.runs.run(platform, treatment, control, role=BISECT_RUN, run_type=RunType.VERIFY)
        if not all(result.ok for result in second):
            return bisect.SKIP, first + second
        decided = verdicts.has_regression(second, names)
        if decided is None:
            decided = verdicts.nearer_regression([first, second], names, sizes)
        return (bisect.BAD if decided else bisect.GOOD), first + second

    def _finish(self, regression: Regression, interval: bisect.Interval, steps: list[BisectStep]) -> None:
        culprit = interval.culprit
        estimates = regression.estimates
        tested = [s for s in steps if s.hash == culprit and s.outcome == bisect.BAD and s.run_id]
        if tested:
            found = verdicts.estimates([self.state.runs.load(tested[-1].run_id)])
            estimates = {k: v for k, v in verdicts.labelled(found).items() if k in estimates} or estimates
        self.state.regressions.update(regression.id, CONFIRMED, culprit_hash=culprit, estimates=estimates)
        if culprit is None:
            say(f"bisect: every commit between could not be built; suspects {', '.join(interval.suspects)}")
        announce_confirmed(self.state, regression.id)
