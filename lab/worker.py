"""`aipep-lab worker`: one Celery worker serving one device, taking jobs from its kind's queue.

The worker runs in Celery's solo pool: the job runs in the worker process itself, one at a
time, so "one job per device" holds by construction and a SIGKILL of the worker kills the
job with it (the benchmark processes are ended by the harness's process tracking). The
worker holds the device's lock for its whole life, so a second worker started for the same
device is refused instead of benchmarking beside the first. A job is checked (the typed job,
strictly) and its files fetched and checked by md5 before anything runs; a job refused
answers with the reason and exit status 2, and nothing runs.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from aipep_core.errors import UserError
from aipep_core.job import Job
from harness.cli import exit_status
from harness.job_runner import run_job
from lab.celery_app import RUN_JOB_TASK, lab_app
from lab.lab_device import LabDevice
from lab.lab_job import WorkerSetup, job_for_this_worker
from platforms.device_lock import DeviceLock

# Running as a job is announced as this Celery state, with where it runs as its meta.
RUNNING = "RUNNING"
# A worker that finds its device locked waits this long for the other holder to end.
LOCK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WorkerOptions:
    broker_url: str
    device: LabDevice
    kind: str
    setup: WorkerSetup
    visibility_timeout_s: float


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

    @app.task(name=RUN_JOB_TASK, bind=True)
    def run_lab_job(task: Any, job_json: Any) -> dict[str, Any]:
        task.update_state(state=RUNNING, meta=where)
        return _run(job_json, options.setup, where, task.request.id)

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
            hostname=f"aipep-lab-{os.getpid()}@{socket.gethostname()}",
            without_gossip=True,
            without_mingle=True,
            loglevel="WARNING",
            quiet=True,
        )
        worker.start()
        return worker.exitcode or 0


def _run(job_json: Any, setup: WorkerSetup, where: dict[str, str], task_id: str) -> dict[str, Any]:
    """The job's exit status (as the harness's) and its result ids; a refused job's reason."""
    try:
        if not isinstance(job_json, str):
            raise UserError("job: expected the job's JSON text as the task's one argument")
        job = Job.from_json(job_json)
        outcome = run_job(job_for_this_worker(job, setup))
    except UserError as error:
        print(f"aipep-lab worker: job {task_id}: refused: {error}", file=sys.stderr, flush=True)
        return {**where, "exit_status": error.exit_status, "error": str(error), "results": []}
    status = exit_status(outcome, fail_on_regression=job.fail_on_regression)
    results = [result.id for result in outcome.results]
    print(f"aipep-lab worker: job {task_id}: done, exit status {status}", file=sys.stderr, flush=True)
    return {**where, "exit_status": status, "results": results}
