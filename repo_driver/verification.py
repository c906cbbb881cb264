"""Verifying a regression: the pair runs again in the opposite arm order, and only what regresses again counts.

A regression confirmed between neighbouring commits names its culprit at once; one over a
range (because of `--step`) goes on to bisection. The verify run and the regression's new
state are written in one transaction. Regressions on different device kinds of the lab
are verified at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from aipep_core.job import RunType
from aipep_core.result_record import RunResult
from repo_driver import verdicts
from repo_driver.announcements import announce_confirmed
from repo_driver.building import Building
from repo_driver.harness_runs import HarnessRuns, RunRequest
from repo_driver.intake import Intake
from repo_driver.progress import name, say
from repo_driver.state.driver_state import DriverState
from repo_driver.state.regressions import BISECTING, CONFIRMED, NOT_CONFIRMED, Regression
from repo_driver.state.runs import VERIFY
from repo_driver.stopping import StopControl


@dataclass
class Verification:
    state: DriverState
    intake: Intake
    building: Building
    runs: HarnessRuns
    stop: StopControl
    confirmed: list[int] = field(default_factory=list)  # regressions this process confirmed, for --fail_on_regression

    def verify_all(self, regressions: list[Regression]) -> None:
        """Verify each regression; in the device lab those of different device kinds at once."""
        for request, results in self.runs.run_each(self._requests(regressions)):
            self._conclude(request.subject, request, results)

    def _requests(self, regressions: list[Regression]) -> Iterator[RunRequest]:
        for regression in regressions:
            self.stop.check()
            platform = regression.platform
            bad = self.building.arm(regression.bad_hash, platform)
            good = self.building.arm(regression.good_hash, platform)
            say(f"{name(bad.commit)}: regression in {_names(regression.keys)}; verifying against {good.commit.short}")
            yield RunRequest(platform, bad, good, VERIFY, RunType.VERIFY, subject=regression)

    def _conclude(self, regression: Regression, request: RunRequest, results: list[RunResult]) -> None:
        """Store the verify run and the regression's next state in one transaction, and say it."""
        bad = request.treatment
        again = verdicts.regressed(results)
        confirmed = {name_: again[name_] for name_ in map(tuple, regression.keys) if name_ in again}
        distance = self.intake.distance(regression.good_hash, regression.bad_hash)

        def conclude():
            if not confirmed:
                next_state, culprit = NOT_CONFIRMED, None
            else:
                next_state, culprit = (CONFIRMED, regression.bad_hash) if distance == 1 else (BISECTING, None)
            # The size is the mean of both runs' estimates; a bisection step is judged against it.
            first = regression.estimates
            sizes = {name_: (pct + first.get(verdicts.label(name_), pct)) / 2 for name_, pct in confirmed.items()}
            self.state.regressions.update(
                regression.id,
                next_state,
                keys=[list(k) for k in confirmed] or None,
                culprit_hash=culprit,
                estimates=verdicts.labelled(sizes) if confirmed else None,
            )
            return next_state

        outcome = self.state.runs.save(
            results,
            platform=regression.platform,
            commit_hash=regression.bad_hash,
            control_hash=regression.good_hash,
            role=VERIFY,
            then=conclude,
        )
        if outcome == NOT_CONFIRMED:
            say(f"{name(bad.commit)}: not confirmed by the verify run; no regression reported")
            return
        self.confirmed.append(regression.id)
        if outcome == CONFIRMED:
            announce_confirmed(self.state, regression.id)
        else:
            say(f"{name(bad.commit)}: confirmed over {distance} commits; bisecting")


def _names(keys: list[list[str]]) -> str:
    return ", ".join(key for _, key in keys)
