"""What the lab is doing: its workers (device, kind, health, job) and how many jobs wait per kind.

Each worker writes its own line into the Redis broker every health interval, with an expiry
of a few intervals, so a worker that died drops out of the list by itself and nothing has
to be asked of workers that may be busy for an hour. Waiting jobs are counted in the
broker's queues (every kind a job or a worker ever named). Needs a Redis broker.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import redis

from aipep_core.errors import UserError

WORKER_PREFIX = "aipep-lab:worker:"
# kombu's Redis transport: a set per declared queue, and one list per priority step.
_BINDING_PREFIX = "_kombu.binding."
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
SOCKET_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    host: str
    device: str
    kind: str
    health: str
    taking_jobs: bool
    job: str | None
    seen_at: float


def is_redis_url(broker_url: str) -> bool:
    return broker_url.startswith(("redis://", "rediss://", "unix://"))


def broker_client(broker_url: str) -> redis.Redis:
    if not is_redis_url(broker_url):
        raise UserError("--broker: aipep-lab status needs a Redis broker (redis://...)")
    return redis.Redis.from_url(broker_url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)


def publish(client: redis.Redis, status: WorkerStatus, expires_s: float) -> None:
    client.set(WORKER_PREFIX + status.name, json.dumps(asdict(status)), ex=max(1, int(expires_s)))


def lab_status(client: redis.Redis) -> tuple[list[WorkerStatus], dict[str, int]]:
    """The live workers, by name, and the jobs waiting in each queue, by kind."""
    workers = []
    for key in sorted(client.scan_iter(match=WORKER_PREFIX + "*")):
        text = client.get(key)
        if text is not None:
            workers.append(WorkerStatus(**json.loads(text)))
    kinds = {
        key.decode(errors="replace").removeprefix(_BINDING_PREFIX) for key in client.scan_iter(_BINDING_PREFIX + "*")
    }
    kinds |= {worker.kind for worker in workers}
    waiting = {kind: _waiting(client, kind) for kind in sorted(kinds) if not kind.endswith(".pidbox")}
    return workers, {kind: count for kind, count in waiting.items() if not kind.startswith("celery")}


def status_lines(workers: list[WorkerStatus], waiting: dict[str, int], now: float | None = None) -> list[str]:
    now = time.time() if now is None else now
    lines = []
    for worker in workers:
        doing = f"running job {worker.job}" if worker.job else ("idle" if worker.taking_jobs else "paused")
        lines.append(
            f"worker\t{worker.host}\t{worker.device}\tkind {worker.kind}\t{worker.health}\t{doing}"
            f"\t(seen {max(0.0, now - worker.seen_at):.0f} s ago)"
        )
    served = {worker.kind for worker in workers}
    for kind, count in waiting.items():
        note = "" if kind in served else "\tno worker serves it"
        lines.append(f"queue\t{kind}\t{count} waiting{note}")
    return lines


def _waiting(client: redis.Redis, kind: str) -> int:
    names = [kind, *(f"{kind}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]
    return sum(client.llen(name) for name in names)
