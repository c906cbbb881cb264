"""The driver's runs as device-lab jobs (`--lab_broker`): the same jobs, run by lab workers.

Each run becomes a job on the queue of its platform's device kind (`--lab_devices`, the
platform's name by default); its programs travel as artifacts, and its results come back
from the results server by the ids the worker answers with, so the driver stores them with
its state change exactly as it stores a run of its own. The job id is a digest of the job,
so a driver restarted after a crash resubmits the same job under the same id: the results
server keeps its results once, and a job that already finished answers at once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import requests

from aipep_core.errors import UserError
from aipep_core.job import Job
from aipep_core.result_record import RunResult
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from lab.celery_app import lab_app
from lab.lab_job import Uploader
from lab.submit import JobNotDone, follow, send
from repo_driver.harness_runs import HarnessRuns

REQUEST_TIMEOUT_S = 60.0


@dataclass
class LabRuns(HarnessRuns):
    broker_url: str = ""
    kinds: dict[str, str] = field(default_factory=dict)

    def execute(self, job: Job) -> list[RunResult]:
        remote = job.reporters.remote
        if remote is None:
            raise UserError("--lab_broker: expected --remote_reporter, where the lab's results arrive")
        token = remote.token or os.environ.get(remote.token_env or ACCESS_TOKEN_ENV)
        kind = self.kinds.get(job.platform.name, job.platform.name)
        job_id = hashlib.sha256(job.to_json().encode()).hexdigest()[:32]
        result = send(lab_app(self.broker_url), job, Uploader(remote.url, token), kind, job_id)
        try:
            answer = follow(result, kind, None, self.stop)
        except JobNotDone as reason:
            raise UserError(f"--lab_broker: {reason}") from None
        if answer.get("error"):
            raise UserError(f"--lab_broker: job {job_id} refused by {answer.get('device')}: {answer['error']}")
        return [_fetched(remote.url, result_id) for result_id in answer.get("results") or ()]


def _fetched(server_url: str, result_id: str) -> RunResult:
    """A result of a lab job, as the results server keeps it (its logs stay with the worker's outbox)."""
    url = f"{server_url.rstrip('/')}/api/v1/results/{result_id}"
    try:
        answer = requests.get(url, timeout=REQUEST_TIMEOUT_S)
    except requests.RequestException as error:
        raise UserError(
            f"--remote_reporter {server_url}: cannot read result {result_id}: {type(error).__name__}"
        ) from None
    if answer.status_code != 200:
        raise UserError(f"--remote_reporter {server_url}: result {result_id} is not there ({answer.status_code})")
    return RunResult.from_json(answer.json())
