"""Running a bisection: A/B runs of middle commits until a confirmed regression has its culprit.

The interval arithmetic is repo_driver.bisect's, replayed from the stored steps each time,
so a restart goes on from the last step written. Each step's runs, its outcome and the
commit's state are written in one transaction. Several bisections take their steps together,
so that in the device lab those on different device kinds run at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from aipep_core.job import RunType
from aipep_core.result_record import RunResult
from repo_driver import bisect, verdicts
from repo_driver.announcements import announce_confirmed
from repo_driver.building import Building
from repo_driver.harness_runs import HarnessRuns, RunRequest
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
class _Step:
    """One bisection step under way: the candidate tested against the interval's good end."""

    regression: Regression
    candidate: str
    good: str
    names: list[MetricName]
    sizes: dict[MetricName, float]
    first: list[RunResult] = field(default_factory=list)


@dataclass
class Bisection:
    state: DriverState
    intake: Intake
    building: Building
    runs: HarnessRuns
    stop: StopControl

    def bisect_all(self, regressions: list[Regression]) -> None:
        """Bisect each regression to its culprit, their steps taken together: in the device lab the
        steps of regressions on different device kinds run at once."""
        active = list(regressions)
        while active:
            self.stop.check()
            steps = [step for step in map(self._next_step, active) if step is not None]
            active = [step.regression for step in steps]
            undecided = []
            for request, results in self.runs.run_each(self._runs_of(steps, RunType.BENCHMARK)):
                step = request.subject
                step.first = results
                if not all(result.ok for result in results):
                    self._record(step, bisect.SKIP, results)
                    continue
                decided = verdicts.has_regression(results, step.names)
                if decided is not None:
                    self._record(step, bisect.BAD if decided else bisect.GOOD, results)
                    continue
                say(f"bisect: {step.candidate[:10]} inconclusive; running it again in reversed order")
                undecided.append(step)
            for request, results in self.runs.run_each(self._runs_of(undecided, RunType.VERIFY)):
                step = request.subject
                both = step.first + results
                if not all(result.ok for result in results):
                    self._record(step, bisect.SKIP, both)
                    continue
                decided = verdicts.has_regression(results, step.names)
                if decided is None:
                    decided = verdicts.nearer_regression([step.first, results], step.names, step.sizes)
                self._record(step, bisect.BAD if decided else bisect.GOOD, both)

    def _next_step(self, regression: Regression) -> _Step | None:
        """The regression's next candidate, built; None once the bisection is over (then it is concluded)."""
        line = self.intake.line
        if regression.good_hash not in line or regression.bad_hash not in line:
            return None
        while True:
            self.stop.check()
            steps = self.state.bisect_steps.of(regression.id)
            interval = bisect.interval(
                line, regression.good_hash, regression.bad_hash, [(s.hash, s.outcome) for s in steps]
            )
            candidate = interval.next_commit()
            if candidate is None:
                self._finish(regression, interval, steps)
                return None
            commit = self.intake.enqueue(candidate, BISECT)
            good = line[interval.good]
            say(f"bisect: {len(interval.suspects)} suspects left; testing {name(commit)} against {good[:10]}")
            if not self.building.ensure_built(self.state, commit):
                self.state.bisect_steps.add(regression.id, candidate, bisect.SKIP, None)
                say(f"bisect: {commit.short} does not build; skipped")
                continue
            if self.state.queue.state(candidate) == "built":
                self.state.queue.set_state(candidate, "benchmarking")
            names = verdicts.deciding_names([tuple(key) for key in regression.keys])
            sizes = {tuple(key.split("|", 1)): value for key, value in regression.estimates.items()}
            return _Step(regression, candidate, good, names, sizes)

    def _runs_of(self, steps: list[_Step], run_type: RunType) -> Iterator[RunRequest]:
        """A run of each step's candidate against its good end; a second (VERIFY) run reverses the order."""
        for step in steps:
            platform = step.regression.platform
            treatment, control = self.building.arm(step.candidate, platform), self.building.arm(step.good, platform)
            yield RunRequest(platform, treatment, control, BISECT_RUN, run_type, subject=step)

    def _record(self, step: _Step, outcome: str, results: list[RunResult]) -> None:
        """The step's runs, its outcome and the candidate's state, in one transaction."""

        def record():
            self.state.bisect_steps.add(step.regression.id, step.candidate, outcome, results[0].id if results else None)
            self.state.queue.set_state(step.candidate, "regressed" if outcome == bisect.BAD else "done")

        self.state.runs.save(
            results,
            platform=step.regression.platform,
            commit_hash=step.candidate,
            control_hash=step.good,
            role=BISECT_RUN,
            then=record,
        )
        say(f"bisect: {step.candidate[:10]} is {outcome}")

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
