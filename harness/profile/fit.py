"""Latency as a function of the CPU quota, fitted per model, so an unmeasured quota can be predicted.

A compute-bound model's work is fixed, so its latency falls as 1/cpus until the parts
that do not scale with CPU time (memory, I/O, the quota's period rounding) dominate:
latency = a + b / cpus is the simplest curve with both parts, and least squares
finds it from as few as two quotas.
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

    def predict(self, cpus: float) -> float:
        return self.a + self.b / cpus


def fit_quota_curve(cpus: Sequence[float], latency: Sequence[float]) -> QuotaFit | None:
    """The least-squares fit, or None with fewer than two distinct quotas."""
    if len(set(cpus)) < 2:
        return None
    x = np.column_stack([np.ones(len(cpus)), 1.0 / np.asarray(cpus, dtype=float)])
    y = np.asarray(latency, dtype=float)
    (a, b), *_ = np.linalg.lstsq(x, y, rcond=None)
    residual = float(np.sum((y - x @ np.array([a, b])) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - residual / total if total > 0 else math.nan
    return QuotaFit(float(a), float(b), r_squared, len(cpus))
