"""Which way is worse, per metric: a time going up is a regression, a rate or a score going down is.

The statistics are written for times (a positive log-ratio is "slower"); a metric named here
keeps its real estimate (a drop reads as a negative percent) and has its verdict turned
round, so "regression" always means worse for the user.
"""

from __future__ import annotations

LOWER_IS_WORSE = frozenset({"throughput", "accuracy"})


def lower_is_worse(key: str) -> bool:
    """`key` is a result's data key, "<type> <metric>"."""
    return key.rsplit(" ", 1)[-1] in LOWER_IS_WORSE
