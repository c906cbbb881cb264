"""Keeping a running job's message invisible for exactly as long as its worker lives.

With Redis, an unacknowledged message goes back to its queue once it has been out longer
than the visibility timeout, whoever holds it. A fixed timeout is wrong both ways: shorter
than a job and the job runs twice, longer and a dead worker's job waits that long. So while
a job runs, its worker renews the message's time in the broker's unacknowledged index
every third of the timeout: a live worker keeps its job, and a job whose worker died (its
renewals stop) goes to another worker one visibility timeout later, however long the job is.
"""

from __future__ import annotations

import threading
import time

import redis
from kombu.transport.redis import Channel

SOCKET_TIMEOUT_S = 10.0


def lease_client(broker_url: str) -> redis.Redis | None:
    """A client of the Redis broker for the leases; None for a broker that keeps a message out while its
    consumer's connection lives (AMQP), which needs no lease."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(broker_url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S)


class MessageLease:
    """Renews one message's delivery time until stopped; use as a context manager around the job."""

    def __init__(self, client: redis.Redis, delivery_tag: str, visibility_timeout_s: float) -> None:
        self.client = client
        self.delivery_tag = delivery_tag
        self.every_s = max(0.1, visibility_timeout_s / 3)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="aipep-lab-lease", daemon=True)

    def __enter__(self) -> MessageLease:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _renew(self) -> None:
        while not self._stopped.wait(self.every_s):
            try:
                # xx: only while the message is still unacknowledged; an acked one is never re-added.
                self.client.zadd(Channel.unacked_index_key, {self.delivery_tag: time.time()}, xx=True)
            except redis.RedisError:
                continue
