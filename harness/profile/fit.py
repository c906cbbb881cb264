"""Latency as a function of the CPU quota, fitted per model, so an unmeasured quota can be predicted.

A compute-bound model's work is fixed, so its latency falls as 1/cpus until the parts
that do not scale with CPU time (memory, I/O, the quota's period rounding) dominate:
latency = a + b / cpus is the simplest curve with both parts, and least squares
finds it from as few as two quotas. A program cannot use more CPUs than it runs
threads, so where the test says its thread count the quota is capped there: a
single-threaded model is as fast at 2 CPUs as at 1, which the bare curve would miss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class QuotaFit:
    """latency = a + b / cpus, from `points` quotas; `r_squared` is 1.0 for a perfect fit, NaN when
    the latencies do not vary at all (there is nothing to explain)."""

    a: float
    b: float
    r_squared: float
    points: int
    max_cpus: float | None = None

    def usable(self, cpus: float) -> float:
        return cpus if self.max_cpus is None else min(cpus, self.max_cpus)

    def predict(self, cpus: float) -> float:
        return self.a + self.b / self.usable(cpus)


def fit_quota_curve(cpus: Sequence[float], latency: Sequence[float], max_cpus: float | None = None) -> QuotaFit | None:
    """The least-squares fit of latency = a + b / min(cpus, max_cpus), or None with fewer than two
    distinct usable quotas."""
    usable = [quota if max_cpus is None else min(quota, max_cpus) for quota in cpus]
    if len(set(usable)) < 2:
        return None
    x = np.column_stack([np.ones(len(usable)), 1.0 / np.asarray(usable, dtype=float)])
    y = np.asarray(latency, dtype=float)
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = float(np.sum((y - x @ np.array([a, b])) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - residual / total if total > 0 else math.nan
    return QuotaFit(float(a), float(b), r_squared, len(cpus), max_cpus)
