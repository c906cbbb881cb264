"""Per-client allowances that refill over time: requests per address, samples per token.

A token bucket per key: it holds up to `capacity` units, refills at `capacity` per
`period` seconds, and a request that finds too few units is refused with the wait until
enough have refilled, which becomes the answer's Retry-After. A full bucket is the same
as no bucket, so full ones are dropped once many keys are held: a flood of addresses
cannot grow the table without bound. The buckets live in the server process; several
server processes behind one address each keep their own.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

PRUNE_AT = 10_000


@dataclass
class _Bucket:
    units: float
    updated: float


class TokenBuckets:
    def __init__(self, capacity: float, period_seconds: float) -> None:
        self.capacity = capacity
        self.rate = capacity / period_seconds
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, units: float = 1.0) -> float:
        """Take `units` for `key`: 0.0 when granted, else the seconds until they would be (nothing is taken)."""
        now = time.monotonic()
        with self._lock:
            bucket = self._refilled(key, now)
            if bucket.units >= units:
                bucket.units -= units
                return 0.0
            return (units - bucket.units) / self.rate

    def give_back(self, key: str, units: float) -> None:
        """Return units taken for work that turned out to cost nothing (a record already stored)."""
        with self._lock:
            bucket = self._refilled(key, time.monotonic())
            bucket.units = min(self.capacity, bucket.units + units)

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= PRUNE_AT:
                self._drop_full(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.units = min(self.capacity, bucket.units + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def _drop_full(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            if bucket.units + (now - bucket.updated) * self.rate >= self.capacity:
                del self._buckets[key]
