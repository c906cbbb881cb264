"""Workers telling `aipep-lab status` what they do, through a mailbox on the broker (a kombu pidbox).

Celery's own inspect is answered by the loop that also runs jobs (a lab worker runs its job
in that loop, one device one job), so a worker busy with an hour-long job would look dead.
So each worker answers on a mailbox of the lab's own, from a thread with its own broker
connection beside the job: a busy worker answers with the job it runs, and a worker that
died does not answer and drops out of the list. kombu's mailbox speaks to Redis and to
RabbitMQ alike, so the status does not depend on the broker.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from celery import Celery
from kombu.pidbox import Mailbox

MAILBOX = "aipep-lab-status"
STATUS_COMMAND = "status"
REPLY_TIMEOUT_S = 3.0
RECONNECT_S = 2.0
_DRAIN_S = 1.0


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    host: str
    device: str
    kind: str
    health: str
    taking_jobs: bool
    job: str | None


def status_mailbox() -> Mailbox:
    return Mailbox(MAILBOX, type="fanout", accept=["json"], serializer="json")


def answer_status(app: Celery, name: str, current: Callable[[], WorkerStatus]) -> threading.Thread:
    """A daemon thread answering every status request with `current()` for as long as the worker lives."""
    thread = threading.Thread(target=_answer, args=(app, name, current), name="aipep-lab-status", daemon=True)
    thread.start()
    return thread


def ask_workers(app: Celery, timeout_s: float = REPLY_TIMEOUT_S) -> list[WorkerStatus]:
    """Every live worker's status, by name; a reply that is not a status is left out."""
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=2)
        replies = status_mailbox()(connection).multi_call(STATUS_COMMAND, timeout=timeout_s)
    workers = {}
    for reply in replies or ():
        for value in reply.values():
            status = _status(value)
            if status is not None:
                workers[status.name] = status
    return [workers[name] for name in sorted(workers)]


def _answer(app: Celery, name: str, current: Callable[[], WorkerStatus]) -> None:
    def status(_state: Any) -> dict[str, Any]:
        return asdict(current())

    while True:
        try:
            with app.connection_for_write() as connection:
                channel = connection.channel()
                node = status_mailbox()(connection).Node(name, channel=channel, handlers={STATUS_COMMAND: status})
                node.listen()
                while True:
                    try:
                        connection.drain_events(timeout=_DRAIN_S)
                    except TimeoutError:
                        continue
        except Exception as error:  # noqa: BLE001 - the broker went away: answer again once it is back
            print(f"aipep-lab worker: status mailbox: {type(error).__name__}; reconnecting", file=sys.stderr)
            time.sleep(RECONNECT_S)


def _status(value: Any) -> WorkerStatus | None:
    try:
        return WorkerStatus(**value)
    except TypeError:
        return None
