"""Running the harness in process for one commit: alone, or A/B against a control.

The driver holds one base Job, made once from its flags, and changes per run only what the
run is about (platform, arms, run type, its role); the harness runs the job and returns
typed results. The harness is told not to write the database itself (`db` None): the
driver stores each result together with the state change it causes, in one transaction,
which is what makes a restart after `kill -9` neither lose nor repeat a result. The role
travels in the job's labels, so it is in the result's meta before any reporter sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aipep_core.job import Arm, Arms, Job, RunStopped, RunType
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.result_record import RunResult
from harness.job_runner import run_job
from platforms.registry import platform_class
from repo_driver.git_follower import CommitInfo
from repo_driver.stopping import Stopped


@dataclass(frozen=True)
class BuiltCommit:
    """A commit and the program built from it for one platform: what an arm of a run is made of."""

    commit: CommitInfo
    program: Path

    def arm(self, name: str) -> Arm:
        return Arm(name, str(self.program), self.commit.hash, self.commit.commit_time)


@dataclass(frozen=True)
class RunRequest:
    """One run the driver wants: on which platform, which arms, in which role."""

    platform: str
    treatment: BuiltCommit
    control: BuiltCommit | None
    role: str
    run_type: RunType = RunType.BENCHMARK
    # What the caller asked this run for (a regression, a bisection step), handed back with its results.
    subject: Any = field(default=None, compare=False)


@dataclass
class HarnessRuns:
    job: Job
    stop: threading.Event

    def run(
        self,
        platform: str,
        treatment: BuiltCommit,
        control: BuiltCommit | None,
        *,
        role: str,
        run_type: RunType = RunType.BENCHMARK,
    ) -> list[RunResult]:
        return self.run_request(RunRequest(platform, treatment, control, role, run_type))

    def run_each(self, requests: Iterable[RunRequest]) -> Iterator[tuple[RunRequest, list[RunResult]]]:
        """Each request with its results, as each finishes, for the caller to store before the next.

        Here they run one after another, each request taken only when the one before was
        stored: this host is one device. The lab runs those of different device kinds at once.
        """
        for request in requests:
            yield request, self.run_request(request)

    def run_request(self, request: RunRequest) -> list[RunResult]:
        """The results of one run; a stop asked for during it raises Stopped (the run is dropped)."""
        job = self.job_for(
            request.platform, request.treatment, request.control, role=request.role, run_type=request.run_type
        )
        try:
            results = self.execute(job)
        except RunStopped:
            raise Stopped() from None
        if self.stop.is_set():
            raise Stopped()
        return results

    def job_for(
        self, platform: str, treatment: BuiltCommit, control: BuiltCommit | None, *, role: str, run_type: RunType
    ) -> Job:
        """The base job, changed only in what this run is about."""
        options = self.job.platform.options
        declared = {option.name for option in platform_class(platform).options}
        return replace(
            self.job,
            arms=Arms(treatment.arm(TREATMENT), control.arm(CONTROL) if control is not None else None),
            platform=replace(
                self.job.platform, name=platform, options={k: v for k, v in options.items() if k in declared}
            ),
            settings=replace(self.job.settings, run_type=run_type),
            reporters=replace(self.job.reporters, db=None),
            labels=replace(self.job.labels, driver_role=role),
        )

    def execute(self, job: Job) -> list[RunResult]:
        """Run the job here, in this process."""
        return run_job(job, stop=self.stop).results
