"""What the lab is doing: its workers (device, kind, health, job) and how many jobs wait per kind.

Asked of the broker through Celery's and kombu's own interfaces, so it is the same with Redis
and RabbitMQ: the live workers answer on the lab's status mailbox (status_mailbox.py), and
the jobs waiting for a kind are what a passive declare of its queue counts. The kinds
counted are the workers' kinds, those asked for, and, where the broker can list its queues
(Redis, through kombu's virtual transport), every queue a job was ever sent to; an AMQP
broker tells a queue's length only when asked for it by name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from celery import Celery
from kombu import Connection
from kombu.utils.encoding import bytes_to_str

from lab.status_mailbox import WorkerStatus, ask_workers


def lab_status(app: Celery, kinds: Iterable[str] = ()) -> tuple[list[WorkerStatus], dict[str, int]]:
    """The live workers, by name, and the jobs waiting in each queue, by kind."""
    workers = ask_workers(app)
    with app.connection_for_read() as connection:
        named = set(kinds) | {worker.kind for worker in workers} | _listed_queues(connection)
        waiting = {kind: _waiting(connection, kind) for kind in sorted(named) if _is_a_kind(kind)}
    return workers, waiting


def status_lines(workers: list[WorkerStatus], waiting: dict[str, int]) -> list[str]:
    lines = []
    for worker in workers:
        doing = f"running job {worker.job}" if worker.job else ("idle" if worker.taking_jobs else "paused")
        lines.append(f"worker\t{worker.host}\t{worker.device}\tkind {worker.kind}\t{worker.health}\t{doing}")
    served = {worker.kind for worker in workers}
    for kind, count in waiting.items():
        note = "" if kind in served else "\tno worker serves it"
        lines.append(f"queue\t{kind}\t{count} waiting{note}")
    return lines


def _waiting(connection: Connection, kind: str) -> int:
    """Messages ready in the kind's queue; a queue the broker does not have holds none."""
    channel = connection.channel()
    try:
        return channel.queue_declare(queue=kind, passive=True).message_count
    except connection.channel_errors:
        return 0
    finally:
        # An AMQP broker closes a channel whose passive declare failed; closing it again may fail too.
        with contextlib.suppress(*connection.channel_errors, *connection.connection_errors):
            channel.close()


def _listed_queues(connection: Connection) -> set[str]:
    """The queues a kombu virtual transport keeps a binding table of (Redis); none for AMQP."""
    channel = connection.default_channel
    client, prefix = getattr(channel, "client", None), getattr(channel, "keyprefix_queue", None)
    if client is None or not isinstance(prefix, str):
        return set()
    start = prefix % ""
    exchanges = [bytes_to_str(key).removeprefix(start) for key in client.scan_iter(prefix % "*")]
    return {queue for exchange in exchanges for _, _, queue in channel.get_table(exchange)}


def _is_a_kind(queue: str) -> bool:
    """Not one of Celery's or kombu's own queues (mailboxes, replies, events, the default queue)."""
    return not queue.endswith(".pidbox") and not queue.startswith(("celery", "celeryev"))
