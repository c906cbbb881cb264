"""`aipep-lab submit`: a harness job sent to the queue of a device kind, and, with --wait, followed.

The job goes out with its files uploaded (lab_job.py) and a fresh job id, which is also the
Celery task id, so whatever runs it (again) reports under that id. Waiting shows each change
of the job's state (queued, running on which host and device, done) and ends with the
worker's exit status, which is the harness's (0, 1, 3, 4); a job that no worker took, or
that did not finish within --timeout, is one line and exit status 1, and stays queued.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from celery.result import AsyncResult
from kombu.exceptions import OperationalError

from aipep_core.errors import UserError
from aipep_core.job import Job, RunStopped
from lab.broker_url import shown_broker_url
from lab.celery_app import RUN_JOB_TASK, RUNNING, lab_app
from lab.lab_job import Uploader, job_for_lab

POLL_S = 0.2
EXIT_NOT_DONE = 1
BROKER_CONNECT_RETRIES = 2


@dataclass(frozen=True)
class Submission:
    broker_url: str
    kind: str
    uploader: Uploader
    wait: bool
    timeout_s: float | None


class JobNotDone(Exception):
    """The job did not finish while we waited (or its worker failed): one line says why."""


def submit(job: Job, submission: Submission) -> int:
    app = lab_app(submission.broker_url)
    broker = shown_broker_url(submission.broker_url)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=BROKER_CONNECT_RETRIES)
        result = send(app, job, submission.uploader, submission.kind, uuid.uuid4().hex)
        _say(f"job {result.id} queued for {submission.kind!r} on {broker}")
        if not submission.wait:
            return 0
        answer = follow(result, submission.kind, submission.timeout_s)
    except JobNotDone as reason:
        _say(str(reason))
        return EXIT_NOT_DONE
    except (OperationalError, redis.RedisError) as error:
        # The error's own text may quote the URL; its kind says enough.
        raise UserError(f"--broker {broker}: cannot reach the broker ({type(error).__name__})") from None
    return _finished(result.id, answer)


def send(app: Celery, job: Job, uploader: Uploader, kind: str, job_id: str) -> AsyncResult:
    """Upload the job's files and queue it for `kind`; the job id is also the task's."""
    lab_job = job_for_lab(job, uploader, job_id)
    return app.send_task(RUN_JOB_TASK, args=[lab_job.to_json()], queue=kind, task_id=job_id)


def follow(
    result: AsyncResult, kind: str, timeout_s: float | None, stop: threading.Event | None = None
) -> dict[str, Any]:
    """The worker's answer, showing where the job runs and its rounds; a stop raises RunStopped."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    where: tuple[Any, Any] | None = None
    rounds: tuple[Any, Any] | None = None
    while True:
        state, info = result.state, result.info
        if state == RUNNING and isinstance(info, dict):
            if (info.get("host"), info.get("device")) != where:
                where = (info.get("host"), info.get("device"))
                rounds = None
                _say(f"job {result.id}: running on {where[0]} device {where[1]}")
            if "round" in info and (info["round"], info.get("max_rounds")) != rounds:
                rounds = (info["round"], info.get("max_rounds"))
                _say(f"job {result.id}: round {rounds[0]} of {rounds[1]}")
        if state == "SUCCESS":
            if not isinstance(info, dict) or not isinstance(info.get("exit_status"), int):
                raise JobNotDone(f"job {result.id}: the worker answered {str(info)[:200]!r}, expected an exit status")
            return info
        if state == "FAILURE":
            raise JobNotDone(f"job {result.id}: the worker failed: {type(info).__name__}: {info}")
        if stop is not None and stop.is_set():
            raise RunStopped(f"job {result.id}: stopped waiting on request")
        if deadline is not None and time.monotonic() >= deadline:
            if where is not None:
                raise JobNotDone(f"job {result.id}: still running after --timeout {timeout_s:g} s")
            raise JobNotDone(
                f"job {result.id}: no worker serving {kind!r} took it within --timeout {timeout_s:g} s; it stays queued"
            )
        time.sleep(POLL_S)


def _finished(job_id: str, answer: dict[str, Any]) -> int:
    if answer.get("error"):
        _say(f"job {job_id}: refused by {answer.get('host')} device {answer.get('device')}: {answer['error']}")
    else:
        count = len(answer.get("results") or ())
        _say(
            f"job {job_id}: done on {answer.get('host')} device {answer.get('device')}: "
            f"{count} results, exit status {answer['exit_status']}"
        )
    return answer["exit_status"]


def _say(line: str) -> None:
    print(f"aipep-lab: {line}", file=sys.stderr, flush=True)
