"""`aipep-lab worker`: one Celery worker serving one device, taking jobs from its kind's queue.

The worker runs in Celery's solo pool: the job runs in the worker process itself, one at a
time, so "one job per device" holds by construction and a SIGKILL of the worker kills the
job with it (the benchmark processes are ended by the harness's process tracking). The
worker holds the device's lock for its whole life, so a second worker started for the same
device is refused instead of benchmarking beside the first. A job is checked (the typed job,
strictly) and its files fetched and checked by md5 before anything runs; a job refused
answers with the reason and exit status 2, and nothing runs.

Before each job the device's health is asked (device_health.py). An unhealthy device puts
the job back on its queue for another worker and stops taking jobs; a watcher asks again
every --health_interval (never while a job runs, which holds the device) and resumes
taking jobs once the device is fit again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.exceptions import Reject

from aipep_core.errors import UserError
from aipep_core.job import Job
from harness.cli import exit_status
from harness.job_runner import run_job
from lab.celery_app import RUN_JOB_TASK, RUNNING, lab_app
from lab.device_health import HealthLimits, unhealthy_reason
from lab.lab_device import LabDevice
from lab.lab_job import WorkerSetup, job_for_this_worker
from lab.message_lease import MessageLease, lease_client
from lab.round_progress import RoundProgress
from lab.status_mailbox import WorkerStatus, answer_status
from platforms.bounded_output import bound_text
from platforms.device_lock import DeviceLock

# A worker that finds its device locked waits this long for the other holder to end.
LOCK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    broker_url: str
    device: LabDevice
    kind: str
    setup: WorkerSetup
    visibility_timeout_s: float
    health: HealthLimits
    health_interval_s: float


def serve(options: WorkerOptions) -> int:
    """Consume the kind's queue until stopped (SIGTERM, Ctrl-C); jobs are run one at a time."""
    where = {"host": socket.gethostname(), "device": options.device.label, "kind": options.kind}
    app = lab_app(options.broker_url, options.visibility_timeout_s)
    # Abandoned jobs (a worker that died) are looked for often enough to honour a short timeout.
    restore_every_s = max(1.0, min(10.0, options.visibility_timeout_s / 4))
    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "unacked_restore_interval": restore_every_s,
        "unacked_restore_throttle": 1,
    }

    hostname = f"aipep-lab-{os.getpid()}@{socket.gethostname()}"
    gate = _HealthGate(app, options, hostname)

    @app.task(name=RUN_JOB_TASK, bind=True)
    def run_lab_job(task: Any, job_json: Any) -> dict[str, Any]:
        with gate.busy:
            reason = gate.reason()
            if reason is not None:
                gate.pause_now(reason)
                raise Reject(reason, requeue=True)
            started = {**where, "started_at": time.time()}
            task.update_state(state=RUNNING, meta=started)
            gate.job = task.request.id

            def report_round(done: int, most: int) -> None:
                task.update_state(state=RUNNING, meta={**started, "round": done, "max_rounds": most})

            try:
                with gate.lease(task.request.properties):
                    return _run(job_json, options.setup, started, task.request.id, RoundProgress(report_round))
            finally:
                gate.job = None

    with DeviceLock(f"lab-{options.device.label}", LOCK_TIMEOUT_S):
        print(
            f"aipep-lab worker: serving {options.device.label} as kind {options.kind!r} (pid {os.getpid()})",
            file=sys.stderr,
            flush=True,
        )
        worker = app.Worker(
            queues=[options.kind],
            pool="solo",
            concurrency=1,
            hostname=hostname,
            without_gossip=True,
            without_mingle=True,
            loglevel="WARNING",
            quiet=True,
        )
        gate.worker = worker
        answer_status(app, hostname, gate.status)
        threading.Thread(target=gate.watch, name="aipep-lab-health", daemon=True).start()
        worker.start()
        return worker.exitcode or 0


class _HealthGate:
    """Whether this worker takes jobs now, by its device's health; shared by the job and the watcher."""

    def __init__(self, app: Celery, options: WorkerOptions, hostname: str) -> None:
        self.app = app
        self.options = options
        self.hostname = hostname
        self.worker: Any = None
        # Held while a job runs or the health is asked: the two never open the device at once.
        self.busy = threading.Lock()
        self.taking_jobs = True
        self.health = "ok"
        self.job: str | None = None
        self.lease_client = lease_client(options.broker_url)

    def status(self) -> WorkerStatus:
        """This worker's line in `aipep-lab status`."""
        options = self.options
        device = options.device.label
        return WorkerStatus(
            self.hostname, socket.gethostname(), device, options.kind, self.health, self.taking_jobs, self.job
        )

    def lease(self, properties: dict[str, Any] | None) -> contextlib.AbstractContextManager:
        """Keeps the running job's message from going to another worker while this one lives (Redis)."""
        tag = (properties or {}).get("delivery_tag")
        if self.lease_client is None or not tag:
            return contextlib.nullcontext()
        return MessageLease(self.lease_client, tag, self.options.visibility_timeout_s)

    def reason(self) -> str | None:
        return unhealthy_reason(self.options.device, self.options.setup.platform_options, self.options.health)

    def pause_now(self, reason: str) -> None:
        """Stop taking jobs at once; called in the worker's own loop (a job), so it may touch the consumer."""
        self.health = reason
        if self.taking_jobs:
            self.taking_jobs = False
            self._say(f"unhealthy ({reason}); taking no jobs until it recovers")
        self.worker.consumer.cancel_task_queue(self.options.kind)

    def watch(self) -> None:
        while True:
            time.sleep(self.options.health_interval_s)
            if not self.busy.acquire(blocking=False):
                continue
            try:
                reason = self.reason()
                self.health = reason or "ok"
            finally:
                self.busy.release()
            control = self.app.control
            if reason is not None and self.taking_jobs:
                self.taking_jobs = False
                self._say(f"unhealthy ({reason}); taking no jobs until it recovers")
                control.cancel_consumer(self.options.kind, destination=[self.hostname])
            elif reason is None and not self.taking_jobs:
                self.taking_jobs = True
                self._say("healthy again; taking jobs")
                control.add_consumer(self.options.kind, destination=[self.hostname])

    def _say(self, line: str) -> None:
        print(f"aipep-lab worker: device {self.options.device.label}: {line}", file=sys.stderr, flush=True)


def _run(
    job_json: Any, setup: WorkerSetup, where: dict[str, Any], task_id: str, progress: RoundProgress
) -> dict[str, Any]:
    """The job's exit status (as the harness's) and its result ids; a refused job's reason."""
    try:
        if not isinstance(job_json, str):
            raise UserError("job: expected the job's JSON text as the task's one argument")
        job = Job.from_json(job_json)
        outcome = run_job(job_for_this_worker(job, setup), progress=progress)
    except UserError as error:
        print(f"aipep-lab worker: job {task_id}: refused: {error}", file=sys.stderr, flush=True)
        return {**where, "exit_status": error.exit_status, "error": str(error), "results": []}
    status = exit_status(outcome, fail_on_regression=job.fail_on_regression)
    results = [result.id for result in outcome.results]
    # The results server keeps records without logs; a failed program's stderr reaches the submitter here.
    logs = {result.id: {name: bound_text(text) for name, text in result.logs.items()} for result in outcome.results}
    print(f"aipep-lab worker: job {task_id}: done, exit status {status}", file=sys.stderr, flush=True)
    return {**where, "exit_status": status, "results": results, "logs": logs}
