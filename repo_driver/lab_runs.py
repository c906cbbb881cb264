"""The driver's runs as device-lab jobs (`--lab_broker`): the same jobs, run by lab workers.

Each run becomes a job on the queue of its platform's device kind (`--lab_devices`, the
platform's name by default); its programs travel as artifacts, and its results come back
from the results server by the ids the worker answers with, together with their logs from
the worker's answer (the server keeps records, not logs), so the driver stores them with
its state change exactly as it stores a run of its own. The job id is a digest of the job,
so a driver restarted after a crash resubmits the same job under the same id: the results
server keeps its results once, and a job that already finished answers at once.

Runs for different device kinds are in flight at once, one per kind: a phone model's queue
need not wait for a board's. Each finished run is handed back as it finishes, and stored by
the driver's own thread before it takes the next, so what is stored, and in which
transaction, is what a run of the driver's own stores; a kill leaves the runs in flight
unstored, and a restart submits them again under the same ids.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from aipep_core.errors import UserError
from aipep_core.job import Job
from aipep_core.result_record import RunResult
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from lab.celery_app import lab_app
from lab.lab_job import Uploader
from lab.submit import JobNotDone, follow, send
from repo_driver.harness_runs import HarnessRuns, RunRequest

REQUEST_TIMEOUT_S = 60.0


@dataclass
class LabRuns(HarnessRuns):
    broker_url: str = ""
    kinds: dict[str, str] = field(default_factory=dict)

    def kind_of(self, platform: str) -> str:
        return self.kinds.get(platform, platform)

    def run_each(self, requests: Iterable[RunRequest]) -> Iterator[tuple[RunRequest, list[RunResult]]]:
        """Every request at once, one in flight per device kind; each run as it finishes.

        Runs that finished are all handed back before the first failure is raised, so a
        refused job of one kind loses nothing another kind finished.
        """
        by_kind: dict[str, list[RunRequest]] = {}
        for request in requests:
            by_kind.setdefault(self.kind_of(request.platform), []).append(request)
        finished: queue.Queue[tuple[RunRequest, list[RunResult] | None, BaseException | None]] = queue.Queue()
        for kind, queued in by_kind.items():
            threading.Thread(target=self._run_kind, args=(queued, finished), name=f"lab-{kind}", daemon=True).start()
        failure: BaseException | None = None
        for _ in range(sum(len(queued) for queued in by_kind.values())):
            request, results, error = finished.get()
            if error is not None:
                failure = failure or error
                continue
            yield request, results
        if failure is not None:
            raise failure

    def _run_kind(self, requests: list[RunRequest], finished: queue.Queue) -> None:
        """One kind's runs, one after another; after a failure the rest are not submitted."""
        failed: BaseException | None = None
        for request in requests:
            if failed is None:
                try:
                    finished.put((request, self.run_request(request), None))
                    continue
                except BaseException as error:  # noqa: BLE001 - handed to the driver's thread, raised there
                    failed = error
            finished.put((request, None, failed))

    def execute(self, job: Job) -> list[RunResult]:
        remote = job.reporters.remote
        if remote is None:
            raise UserError("--lab_broker: expected --remote_reporter, where the lab's results arrive")
        token = remote.token or os.environ.get(remote.token_env or ACCESS_TOKEN_ENV)
        kind = self.kind_of(job.platform.name)
        job_id = hashlib.sha256(job.to_json().encode()).hexdigest()[:32]
        result = send(lab_app(self.broker_url), job, Uploader(remote.url, token), kind, job_id)
        try:
            answer = follow(result, kind, None, self.stop)
        except JobNotDone as reason:
            raise UserError(f"--lab_broker: {reason}") from None
        if answer.get("error"):
            raise UserError(f"--lab_broker: job {job_id} refused by {answer.get('device')}: {answer['error']}")
        logs = answer.get("logs") if isinstance(answer.get("logs"), dict) else {}
        return [_fetched(remote.url, result_id, logs.get(result_id)) for result_id in answer.get("results") or ()]


def _fetched(server_url: str, result_id: str, logs: Any) -> RunResult:
    """A result of a lab job as the results server keeps it, with the logs its worker answered."""
    url = f"{server_url.rstrip('/')}/api/v1/results/{result_id}"
    try:
        answer = requests.get(url, timeout=REQUEST_TIMEOUT_S)
    except requests.RequestException as error:
        raise UserError(
            f"--remote_reporter {server_url}: cannot read result {result_id}: {type(error).__name__}"
        ) from None
    if answer.status_code != 200:
        raise UserError(f"--remote_reporter {server_url}: result {result_id} is not there ({answer.status_code})")
    texts = {str(name): text for name, text in logs.items() if isinstance(text, str)} if isinstance(logs, dict) else {}
    return RunResult.from_json(answer.json(), logs=texts)
