"""Benjamini-Hochberg adjustment for the many per-operator tests of one A/B test.

A network has tens of operators; testing each at alpha would flag a few every run by
chance. Controlling the false discovery rate instead of the family-wise error keeps power
for the operators that really moved while bounding the share of false alarms among those
reported.
"""

from collections.abc import Sequence

import numpy as np

from harness.stats.errors import StatisticsInputError


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH q-values in input order: reject at level q exactly the p's BH rejects at q.

    An empty family has nothing to adjust and yields an empty list.
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise StatisticsInputError(f"p_values must be a flat sequence, got shape {p.shape}")
    if p.size == 0:
        return []
    outside = ~((p >= 0.0) & (p <= 1.0))
    if outside.any():
        index = int(np.flatnonzero(outside)[0])
        raise StatisticsInputError(f"p_values[{index}] is {p[index]}, expected a number in [0, 1]")
    order = np.argsort(p)
    m = p.size
    scaled = p[order] * m / np.arange(1, m + 1)
    # q for the k-th smallest p is the smallest scaled value at rank k or above.
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(monotone, 1.0)
    return [float(value) for value in q]
